/* Conformance: the vectors of ../shared/testdata/dkim.
 *
 *   - vectors.tsv: every vector verified against its fake DNS, whole and
 *     fed in chunks of 1, 7 and 4096 bytes, statuses compared with the
 *     "expect" column (mox's behaviour). One deliberate difference, from
 *     the issue and RFC 8301 section 3.1: our default policy refuses
 *     rsa-sha1 ("policy"); with MOX_DKIM_POLICY_ALLOW_SHA1 the vector gets
 *     mox's "pass", and both are checked. The expired stalwart-005 also
 *     passes with the clock inside [t=, x=].
 *   - signing: every signature of the sign-* vectors and of RFC 8463
 *     appendix A.3 is made again from its own tag list and key; b= and
 *     bh= must come out byte for byte (RSA PKCS#1 v1.5 and Ed25519 are
 *     deterministic).
 *   - canon/: the RFC 6376 section 3.4.5 example and the body hashes of
 *     canon-vectors.json.
 * Every vector is counted; none is skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dkim_int.h"
#include "dkim_testutil.h"

#include <cjson/cJSON.h>
#include <mox/message.h>

static int
mem_eq(const void *a, size_t al, const void *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static void
test_vectors(void **state)
{
	(void)state;
	size_t len;
	char *tsv = dkim_test_file("vectors.tsv", &len);
	size_t count = 0, passed = 0;
	char *save = NULL;
	char *line = strtok_r(tsv, "\n", &save);
	line = strtok_r(NULL, "\n", &save); /* header row */
	for (; line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = {0};
		char *s2 = NULL;
		size_t nf = 0;
		for (char *c = strtok_r(line, "\t", &s2); c != NULL && nf < 6; c = strtok_r(NULL, "\t", &s2))
			f[nf++] = c;
		assert_true(nf >= 4);
		count++;
		const char *id = f[0];
		size_t mlen;
		char *msg = dkim_test_file(f[1], &mlen);
		mox_resolver *zone = dkim_test_zone_file(f[2], NULL);
		const char *expect = f[3];
		mox_dkim_verify_opts o = {.size = sizeof(o), .resolver = zone};
		bool sha1 = strcmp(id, "sign-rsa-sha1-relaxed-relaxed") == 0;
		if (sha1) {
			/* Default: RFC 8301 refuses rsa-sha1. */
			char got[256];
			mox_dkim_verifier *v = dkim_test_verify(&o, msg, mlen, 0, got, sizeof(got));
			assert_string_equal(got, "policy");
			assert_int_equal(mox_dkim_verifier_result(v, 0)->reason, MOX_DKIM_R_POLICY);
			mox_dkim_verifier_free(v);
			o.policy = MOX_DKIM_POLICY_ALLOW_SHA1;
		}
		bool ok = true;
		const size_t chunks[] = {0, 1, 7, 4096};
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			char got[256];
			mox_dkim_verifier *v = dkim_test_verify(&o, msg, mlen, chunks[c], got, sizeof(got));
			if (strcmp(got, expect) != 0) {
				ok = false;
				fprintf(stderr, "vector %s (chunk %zu): got %s, expect %s\n", id, chunks[c],
					got, expect);
				for (size_t i = 0; i < mox_dkim_verifier_count(v); i++)
					fprintf(stderr, "  %zu: %s\n", i, mox_dkim_verifier_result(v, i)->why);
			}
			mox_dkim_verifier_free(v);
		}
		if (strcmp(id, "stalwart-dkim-005") == 0) {
			/* Expired now; inside [t=1667843664, x=1667930064] it passes. */
			o.now = 1667843664 + 3600;
			char got[64];
			mox_dkim_verifier *v = dkim_test_verify(&o, msg, mlen, 0, got, sizeof(got));
			if (strcmp(got, "pass") != 0) {
				ok = false;
				fprintf(stderr, "stalwart-dkim-005 with clock at t+1h: %s (%s)\n", got,
					mox_dkim_verifier_result(v, 0)->why);
			}
			mox_dkim_verifier_free(v);
		}
		printf("vector %-36s expect %-20s %s%s\n", id, expect, ok ? "ok" : "FAILED",
		       sha1 ? " (default policy: policy; ALLOW_SHA1: pass)" : "");
		passed += ok;
		mox_resolver_free(zone);
		free(msg);
	}
	printf("vectors: %zu passed, %zu failed\n", passed, count - passed);
	assert_int_equal(count, 32);
	assert_int_equal(passed, count);
	free(tsv);
}

/* Sign again from the vector's own DKIM-Signature field: same header
 * text, same key, so the same b=. */
static void
resign(const char *msgrel, const char *const *keys, size_t nkeys, size_t *checked)
{
	size_t mlen;
	char *msg = dkim_test_file(msgrel, &mlen);
	mox_msg_header *hdr = NULL;
	size_t body_off;
	assert_int_equal(mox_msg_header_parse((uint8_t *)msg, mlen, 0, NULL, &hdr, &body_off, NULL),
			 MOX_OK);
	mox__dkim_crypto *crypto = NULL;
	assert_int_equal(mox__dkim_crypto_new(NULL, &crypto), MOX_OK);
	size_t k = 0;
	for (size_t i = 0; i < hdr->nfields; i++) {
		const mox_msg_field *f = &hdr->fields[i];
		if (!mox__dkim_eq_nocase(f->name, f->name_len, "DKIM-Signature"))
			continue;
		assert_true(k < nkeys);
		mox_dkim_key *key = dkim_test_key(keys[k++]);
		mox_dkim_sig *sig = NULL;
		size_t boff, bend;
		mox_errinfo info;
		assert_int_equal(mox__dkim_sig_parse(f->raw, f->raw_len, NULL, false, &sig, &boff,
						     &bend, &info),
				 MOX_OK);
		mox__dkim_hash_alg alg = sig->hash == MOX_DKIM_HASH_SHA1 ? MOX__DKIM_SHA1 : MOX__DKIM_SHA256;
		/* bh= */
		mox__dkim_body b;
		uint8_t bh[32], dh[32];
		size_t bhl, dhl;
		assert_int_equal(mox__dkim_body_init(&b, crypto, sig->body_canon, alg, sig->length),
				 MOX_OK);
		mox__dkim_body_feed(&b, (uint8_t *)msg + body_off, mlen - body_off);
		assert_int_equal(mox__dkim_body_final(&b, bh, &bhl), MOX_OK);
		mox__dkim_body_free(&b);
		assert_true(mem_eq(bh, bhl, sig->body_hash, sig->body_hash_len));
		/* b= */
		assert_int_equal(mox__dkim_data_hash(crypto, alg, sig->header_canon, hdr, sig->headers,
						     sig->nheaders, f->raw, f->raw_len, boff, bend,
						     NULL, dh, &dhl),
				 MOX_OK);
		mox_buf out = MOX_BUF_INIT;
		if (key->type == MOX_DKIM_KEY_ED25519) {
			mox_buf_reserve(&out, 64);
			mox__dkim_ed25519_sign(key->ed_sk, dh, dhl, out.data);
			out.len = 64;
		} else {
			assert_int_equal(mox__dkim_rsa_sign(key->rsa, alg, dh, dhl, &out), MOX_OK);
		}
		if (!mem_eq(out.data, out.len, sig->signature, sig->signature_len)) {
			fprintf(stderr, "%s: signature %zu differs\n", msgrel, k);
			fail();
		}
		(*checked)++;
		mox_buf_free(&out);
		mox_dkim_sig_free(sig);
		mox_dkim_key_free(key);
	}
	assert_int_equal(k, nkeys);
	mox__dkim_crypto_free(crypto);
	mox_msg_header_free(hdr);
	free(msg);
}

static void
test_resign(void **state)
{
	(void)state;
	static const char *const rsa[] = {"rfc8463-rsa1024.pkcs8.pem.b64"};
	static const char *const ed[] = {"dkimpy-ed25519.pkcs8.pem.b64"};
	static const char *const a3[] = {"rfc8463-ed25519.pkcs8.pem.b64",
					 "rfc8463-rsa1024.pkcs8.pem.b64"};
	static const char *const rsa_msgs[] = {
		"messages/sign-rsa-relaxed-simple.eml", "messages/sign-rsa-simple-simple.eml",
		"messages/sign-rsa-relaxed-relaxed.eml", "messages/sign-rsa-sha1-relaxed-relaxed.eml",
		"messages/sign-rsa-relaxed-relaxed-l.eml", "messages/sign-rsa-no-subject.eml",
		"messages/sign-rsa-oversigned-from.eml"};
	size_t checked = 0;
	for (size_t i = 0; i < sizeof(rsa_msgs) / sizeof(rsa_msgs[0]); i++)
		resign(rsa_msgs[i], rsa, 1, &checked);
	resign("messages/sign-ed25519-relaxed-relaxed.eml", ed, 1, &checked);
	/* RFC 8463 appendix A.3: both b= values as printed in the RFC. */
	resign("messages/rfc8463-a3.eml", a3, 2, &checked);
	printf("re-signed byte for byte: %zu signatures\n", checked);
	assert_int_equal(checked, 10);
}

static void
body_hash(const char *body, size_t len, mox_dkim_canon c, mox__dkim_hash_alg alg, char *b64,
	  size_t step)
{
	mox__dkim_crypto *crypto = NULL;
	assert_int_equal(mox__dkim_crypto_new(NULL, &crypto), MOX_OK);
	mox__dkim_body b;
	uint8_t d[32];
	size_t dl;
	assert_int_equal(mox__dkim_body_init(&b, crypto, c, alg, -1), MOX_OK);
	if (step == 0)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		mox__dkim_body_feed(&b, (const uint8_t *)body + i, len - i < step ? len - i : step);
	assert_int_equal(mox__dkim_body_final(&b, d, &dl), MOX_OK);
	mox__dkim_body_free(&b);
	mox__dkim_crypto_free(crypto);
	mox_buf o = MOX_BUF_INIT;
	mox_base64_encode(&o, d, dl);
	strcpy(b64, (char *)o.data);
	mox_buf_free(&o);
}

static void
check_hashes(const char *name, const char *body, size_t len, cJSON *v)
{
	static const struct {
		const char *key;
		mox_dkim_canon c;
		mox__dkim_hash_alg alg;
	} k[] = {{"bh_sha256_simple", MOX_DKIM_SIMPLE, MOX__DKIM_SHA256},
		 {"bh_sha256_relaxed", MOX_DKIM_RELAXED, MOX__DKIM_SHA256},
		 {"bh_sha1_simple", MOX_DKIM_SIMPLE, MOX__DKIM_SHA1},
		 {"bh_sha1_relaxed", MOX_DKIM_RELAXED, MOX__DKIM_SHA1}};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		cJSON *want = cJSON_GetObjectItem(v, k[i].key);
		if (want == NULL)
			continue;
		for (size_t step = 0; step < 4; step++) {
			char got[64];
			body_hash(body, len, k[i].c, k[i].alg, got, step);
			if (strcmp(got, want->valuestring) != 0) {
				fprintf(stderr, "%s %s step %zu: %s != %s\n", name, k[i].key, step, got,
					want->valuestring);
				fail();
			}
		}
		printf("canon %s %s ok\n", name, k[i].key);
	}
}

static void
test_canon(void **state)
{
	(void)state;
	size_t len;
	char *json = dkim_test_file("canon/canon-vectors.json", &len);
	cJSON *root = cJSON_Parse(json);
	assert_non_null(root);
	/* RFC 6376 section 3.4.5, byte-exact. */
	cJSON *ex = cJSON_GetObjectItem(root, "rfc6376-3.4.5");
	size_t ilen, rhl, shl, rbl, sbl;
	char *in = dkim_test_file(cJSON_GetObjectItem(ex, "input")->valuestring, &ilen);
	char *rh = dkim_test_file(cJSON_GetObjectItem(ex, "relaxed_header")->valuestring, &rhl);
	char *sh = dkim_test_file(cJSON_GetObjectItem(ex, "simple_header")->valuestring, &shl);
	char *rb = dkim_test_file(cJSON_GetObjectItem(ex, "relaxed_body")->valuestring, &rbl);
	char *sb = dkim_test_file(cJSON_GetObjectItem(ex, "simple_body")->valuestring, &sbl);
	mox_msg_header *hdr = NULL;
	size_t body_off;
	assert_int_equal(mox_msg_header_parse((uint8_t *)in, ilen, 0, NULL, &hdr, &body_off, NULL),
			 MOX_OK);
	mox_buf relaxed = MOX_BUF_INIT, simple = MOX_BUF_INIT;
	for (size_t i = 0; i < hdr->nfields; i++) {
		const mox_msg_field *f = &hdr->fields[i];
		assert_int_equal(mox__dkim_canon_header_relaxed(f->raw, f->raw_len, &relaxed), MOX_OK);
		mox_buf_append(&relaxed, "\r\n", 2);
		mox_buf_append(&simple, f->raw, f->raw_len);
	}
	assert_true(mem_eq(relaxed.data, relaxed.len, rh, rhl));
	assert_true(mem_eq(simple.data, simple.len, sh, shl));
	check_hashes("rfc6376-3.4.5", in + body_off, ilen - body_off, ex);
	/* The expected canonical bodies hash (as simple input that is
	 * already canonical) to the same values. */
	char got[64], want[64];
	body_hash(in + body_off, ilen - body_off, MOX_DKIM_RELAXED, MOX__DKIM_SHA256, got, 0);
	body_hash(rb, rbl, MOX_DKIM_SIMPLE, MOX__DKIM_SHA256, want, 0);
	assert_string_equal(got, want);
	body_hash(in + body_off, ilen - body_off, MOX_DKIM_SIMPLE, MOX__DKIM_SHA256, got, 0);
	body_hash(sb, sbl, MOX_DKIM_SIMPLE, MOX__DKIM_SHA256, want, 0);
	assert_string_equal(got, want);
	for (const char *name = "empty-body"; name != NULL;
	     name = strcmp(name, "empty-body") == 0 ? "joe-body" : NULL) {
		cJSON *v = cJSON_GetObjectItem(root, name);
		const char *body = cJSON_GetObjectItem(v, "input_body")->valuestring;
		check_hashes(name, body, strlen(body), v);
	}
	mox_buf_free(&relaxed);
	mox_buf_free(&simple);
	mox_msg_header_free(hdr);
	cJSON_Delete(root);
	free(in);
	free(rh);
	free(sh);
	free(rb);
	free(sb);
	free(json);
}

int
main(void)
{
	printf("crypto backend: %s\n", mox_dkim_crypto_backend());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_resign),
		cmocka_unit_test(test_canon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
