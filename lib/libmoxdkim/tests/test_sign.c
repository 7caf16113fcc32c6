/* Signing and verification together (sign.c, verify.c, authres.c):
 * round trips through an in-memory zone with RSA and Ed25519 in one pass,
 * oversigning, tampering, input split at every offset, key record lookup
 * outcomes, policy options, the Authentication-Results text, OOM loops
 * and a 50 MB body with bounded memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dkim_int.h"
#include "dkim_testutil.h"
#include "mox_testalloc.h"

#include <mox/message.h>

static const char msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost  the game.\t Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n"
	"\r\n";

#define NOW 1700000000

static mox_dkim_key *rsa, *ed;
static mox_resolver *zone;

static int
setup(void **state)
{
	(void)state;
	rsa = dkim_test_key("rfc8463-rsa1024.pkcs8.pem.b64");
	ed = dkim_test_key("rfc8463-ed25519.pkcs8.pem.b64");
	zone = dkim_test_zone_file("dns/rfc8463.txt",
				   "broken._domainkey.football.example.com. SERVFAIL\n"
				   "two._domainkey.football.example.com. TXT \"v=DKIM1; p=\"\n"
				   "two._domainkey.football.example.com. TXT \"v=DKIM1; k=ed25519; p=\"\n"
				   "spf._domainkey.football.example.com. TXT \"v=spf1 -all\"\n"
				   "bad._domainkey.football.example.com. TXT \"v=DKIM1; k=rsa; p=AAAA\"\n");
	/* A test-mode (t=y) copy of the ed25519 key, and a strict one. */
	mox_buf pk = MOX_BUF_INIT, z = MOX_BUF_INIT;
	mox_dkim_key_public_base64(ed, &pk);
	mox_buf_appendf(&z, "testing._domainkey.football.example.com. TXT \"v=DKIM1; k=ed25519; t=y; p=%s\"\n",
			(char *)pk.data);
	mox_buf_appendf(&z, "strict._domainkey.football.example.com. TXT \"v=DKIM1; k=ed25519; t=s; p=%s\"\n",
			(char *)pk.data);
	mox_errinfo info;
	assert_int_equal(mox_dns_zone_load(zone, (char *)z.data, z.len, &info), MOX_OK);
	mox_buf_free(&pk);
	mox_buf_free(&z);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_dkim_key_free(rsa);
	mox_dkim_key_free(ed);
	mox_resolver_free(zone);
	return 0;
}

/* Sign m with the given selectors, fed in chunks of chunk bytes; the
 * signed message (signatures + m) goes to out. */
static mox_err
sign(const mox_dkim_selector *sels, size_t n, const char *m, size_t mlen, size_t chunk,
     const mox_allocator *alloc, mox_buf *out)
{
	mox_dkim_sign_opts o = {.size = sizeof(o), .alloc = alloc, .selectors = sels,
				.nselectors = n, .now = NOW};
	mox_dkim_signer *s = NULL;
	mox_errinfo info;
	mox_err err = mox_dkim_signer_new(&s, &o, &info);
	if (err != MOX_OK)
		return err;
	if (chunk == 0)
		chunk = mlen;
	for (size_t i = 0; i < mlen && err == MOX_OK; i += chunk)
		err = mox_dkim_signer_feed(s, m + i, mlen - i < chunk ? mlen - i : chunk);
	if (err == MOX_OK)
		err = mox_dkim_signer_end(s, out);
	if (err == MOX_OK)
		err = mox_buf_append(out, m, mlen);
	mox_dkim_signer_free(s);
	return err;
}

static mox_dkim_selector
selector(const char *name, mox_dkim_key *k, mox_dkim_canon c)
{
	mox_dkim_selector s = {.size = sizeof(s), .domain = "football.example.com",
			       .selector = name, .key = k, .header_canon = c, .body_canon = c};
	return s;
}

static mox_dkim_verify_opts
vopts(void)
{
	mox_dkim_verify_opts o = {.size = sizeof(o), .resolver = zone, .now = NOW + 10};
	return o;
}

static void
expect(const char *m, size_t len, const char *want)
{
	mox_dkim_verify_opts o = vopts();
	char got[256];
	mox_dkim_verifier *v = dkim_test_verify(&o, m, len, 0, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		for (size_t i = 0; i < mox_dkim_verifier_count(v); i++)
			fprintf(stderr, "%zu: %s\n", i, mox_dkim_verifier_result(v, i)->why);
		fprintf(stderr, "got %s, want %s\n%s\n", got, want, m);
	}
	assert_string_equal(got, want);
	mox_dkim_verifier_free(v);
}

static void
test_roundtrip(void **state)
{
	(void)state;
	for (int c = 0; c < 2; c++) {
		mox_dkim_selector sels[2] = {selector("test", rsa, (mox_dkim_canon)c),
					     selector("brisbane", ed, (mox_dkim_canon)c)};
		sels[1].expiration = 3600;
		sels[1].identity = "joe@football.example.com";
		mox_buf out = MOX_BUF_INIT;
		assert_int_equal(sign(sels, 2, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
		assert_non_null(strstr((char *)out.data, "a=rsa-sha256;"));
		assert_non_null(strstr((char *)out.data, "a=ed25519-sha256;"));
		assert_non_null(strstr((char *)out.data, "x=1700003600;"));
		/* mox's folding: no line over 78 characters. */
		for (char *l = (char *)out.data, *e; (e = strstr(l, "\r\n")) != NULL; l = e + 2)
			assert_true(e - l <= 78);
		expect((char *)out.data, out.len, "pass,pass");
		/* Tampering: body, signed header, reordered same-name headers. */
		char *m = strdup((char *)out.data);
		char *p = strstr(m, "hungry");
		p[0] = 'H';
		expect(m, out.len, "fail,fail");
		free(m);
		m = strdup((char *)out.data);
		p = strstr(m, "Subject: Is");
		p[9] = 'i';
		expect(m, out.len, "fail,fail");
		free(m);
		mox_buf_free(&out);
	}
}

static void
test_reasons(void **state)
{
	(void)state;
	mox_dkim_selector sel = selector("test", rsa, MOX_DKIM_RELAXED);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(&sel, 1, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
	mox_dkim_verify_opts o = vopts();
	char got[64];
	/* Changed body: body hash. */
	char *m = strdup((char *)out.data);
	strstr(m, "Joe.")[0] = 'X';
	mox_dkim_verifier *v = dkim_test_verify(&o, m, out.len, 0, got, sizeof(got));
	assert_int_equal(mox_dkim_verifier_result(v, 0)->reason, MOX_DKIM_R_BODY_HASH);
	mox_dkim_verifier_free(v);
	free(m);
	/* Changed signed header: signature. */
	m = strdup((char *)out.data);
	strstr(m, "To: Suzie")[4] = 'X';
	v = dkim_test_verify(&o, m, out.len, 0, got, sizeof(got));
	assert_int_equal(mox_dkim_verifier_result(v, 0)->reason, MOX_DKIM_R_SIGNATURE);
	mox_buf ar = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_verifier_authres(v, &ar), MOX_OK);
	assert_non_null(strstr((char *)ar.data, "dkim=fail (1024 bit rsa) reason=\"rsa signature"));
	assert_non_null(strstr((char *)ar.data, " header.d=football.example.com header.s=test "
						"header.a=rsa-sha256 header.b="));
	mox_buf_free(&ar);
	mox_dkim_verifier_free(v);
	free(m);
	/* A relaxed signature survives refolding and header-name case. */
	mox_buf r = MOX_BUF_INIT;
	const char *body = strstr((char *)out.data, "From: Joe");
	mox_buf_append(&r, out.data, (size_t)(body - (char *)out.data));
	mox_buf_append_str(&r, "FROM:   Joe SixPack\r\n  <joe@football.example.com>\r\n");
	mox_buf_append_str(&r, strstr(body, "To: "));
	v = dkim_test_verify(&o, r.data, r.len, 0, got, sizeof(got));
	assert_string_equal(got, "pass");
	mox_buf_free(&ar);
	assert_int_equal(mox_dkim_verifier_authres(v, &ar), MOX_OK);
	static const char want[] = "dkim=pass (1024 bit rsa) header.d=football.example.com "
				   "header.s=test header.a=rsa-sha256 header.b=";
	assert_int_equal(strncmp((char *)ar.data, want, sizeof(want) - 1), 0);
	assert_int_equal(ar.len, sizeof(want) - 1 + 12);
	mox_buf_free(&ar);
	mox_dkim_verifier_free(v);
	mox_buf_free(&r);
	mox_buf_free(&out);
}

static void
test_oversign(void **state)
{
	(void)state;
	static const char two_to[] = "From: a@football.example.com\r\nTo: x@example.org\r\n"
				     "To: y@example.org\r\nSubject: s\r\n\r\nbody\r\n";
	mox_dkim_selector sel = selector("brisbane", ed, MOX_DKIM_RELAXED);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(&sel, 1, two_to, sizeof(two_to) - 1, 0, NULL, &out), MOX_OK);
	/* Default list once each, then From once more, To twice, Subject once. */
	assert_non_null(strstr((char *)out.data, "Content-Type:From:To:To:Subject;"));
	expect((char *)out.data, out.len, "pass");
	/* Adding a From, a To or a Subject breaks it. */
	static const char *const added[] = {"From: b@example.org\r\n", "To: z@example.org\r\n",
					    "Subject: other\r\n", "Cc: c@example.org\r\n"};
	for (size_t i = 0; i < 4; i++) {
		mox_buf m = MOX_BUF_INIT;
		mox_buf_append_str(&m, added[i]);
		mox_buf_append(&m, out.data, out.len);
		expect((char *)m.data, m.len, "fail");
		mox_buf_free(&m);
	}
	/* Reordering the two To fields breaks it too (bottom-up order). */
	mox_buf m = MOX_BUF_INIT;
	const char *to1 = strstr((char *)out.data, "To: x@");
	mox_buf_append(&m, out.data, (size_t)(to1 - (char *)out.data));
	mox_buf_append_str(&m, "To: y@example.org\r\nTo: x@example.org\r\n");
	mox_buf_append_str(&m, strstr(to1, "Subject:"));
	expect((char *)m.data, m.len, "fail");
	mox_buf_free(&m);
	/* Without oversigning an added To at the top goes unnoticed. */
	mox_buf_free(&out);
	sel.no_oversign = true;
	assert_int_equal(sign(&sel, 1, two_to, sizeof(two_to) - 1, 0, NULL, &out), MOX_OK);
	mox_buf_reset(&m);
	mox_buf_append(&m, out.data, out.len);
	char *p = strstr((char *)m.data, "From: a@");
	size_t off = (size_t)(p - (char *)m.data);
	mox_buf n2 = MOX_BUF_INIT;
	mox_buf_append(&n2, m.data, off);
	mox_buf_append_str(&n2, "To: z@example.org\r\n");
	mox_buf_append(&n2, m.data + off, m.len - off);
	expect((char *)n2.data, n2.len, "pass");
	mox_buf_free(&n2);
	mox_buf_free(&m);
	mox_buf_free(&out);
	/* No From, or two: refused. */
	static const char nofrom[] = "To: x@example.org\r\n\r\nb\r\n";
	assert_int_equal(sign(&sel, 1, nofrom, sizeof(nofrom) - 1, 0, NULL, &out), MOX_ESYNTAX);
	static const char twofrom[] = "From: a@x\r\nFrom: b@x\r\n\r\nb\r\n";
	assert_int_equal(sign(&sel, 1, twofrom, sizeof(twofrom) - 1, 0, NULL, &out), MOX_ESYNTAX);
	mox_buf_free(&out);
}

/* Every split point gives the same signatures and the same results. */
static void
test_split(void **state)
{
	(void)state;
	mox_dkim_selector sels[2] = {selector("test", rsa, MOX_DKIM_RELAXED),
				     selector("brisbane", ed, MOX_DKIM_SIMPLE)};
	mox_buf whole = MOX_BUF_INIT;
	size_t n = sizeof(msg) - 1;
	assert_int_equal(sign(sels, 2, msg, n, 0, NULL, &whole), MOX_OK);
	for (size_t cut = 0; cut <= n; cut++) {
		mox_dkim_sign_opts o = {.size = sizeof(o), .selectors = sels, .nselectors = 2, .now = NOW};
		mox_dkim_signer *s = NULL;
		assert_int_equal(mox_dkim_signer_new(&s, &o, NULL), MOX_OK);
		mox_buf out = MOX_BUF_INIT;
		assert_int_equal(mox_dkim_signer_feed(s, msg, cut), MOX_OK);
		assert_int_equal(mox_dkim_signer_feed(s, msg + cut, n - cut), MOX_OK);
		assert_int_equal(mox_dkim_signer_end(s, &out), MOX_OK);
		assert_int_equal(mox_buf_append(&out, msg, n), MOX_OK);
		assert_true(out.len == whole.len && memcmp(out.data, whole.data, out.len) == 0);
		/* Reuse after reset gives the same again. */
		mox_dkim_signer_reset(s);
		mox_buf_reset(&out);
		assert_int_equal(mox_dkim_signer_feed(s, msg, n), MOX_OK);
		assert_int_equal(mox_dkim_signer_end(s, &out), MOX_OK);
		assert_int_equal(mox_buf_append(&out, msg, n), MOX_OK);
		assert_true(out.len == whole.len && memcmp(out.data, whole.data, out.len) == 0);
		mox_buf_free(&out);
		mox_dkim_signer_free(s);
	}
	mox_dkim_verify_opts o = vopts();
	mox_dkim_verifier *v = NULL;
	assert_int_equal(mox_dkim_verifier_new(&v, &o), MOX_OK);
	for (size_t a = 0; a <= whole.len; a++) {
		for (size_t b = a; b <= whole.len; b += 37) {
			mox_dkim_verifier_reset(v);
			assert_int_equal(mox_dkim_verifier_feed(v, whole.data, a), MOX_OK);
			assert_int_equal(mox_dkim_verifier_feed(v, whole.data + a, b - a), MOX_OK);
			assert_int_equal(mox_dkim_verifier_feed(v, whole.data + b, whole.len - b), MOX_OK);
			assert_int_equal(mox_dkim_verifier_end(v), MOX_OK);
			assert_int_equal(mox_dkim_verifier_count(v), 2);
			assert_int_equal(mox_dkim_verifier_result(v, 0)->status, MOX_DKIM_PASS);
			assert_int_equal(mox_dkim_verifier_result(v, 1)->status, MOX_DKIM_PASS);
		}
	}
	mox_dkim_verifier_free(v);
	mox_buf_free(&whole);
}

static void
test_lookup_outcomes(void **state)
{
	(void)state;
	static const struct {
		const char *sel;
		mox_dkim_status st;
		mox_dkim_reason r;
	} cases[] = {
		{"broken", MOX_DKIM_TEMPERROR, MOX_DKIM_R_DNS},
		{"missing", MOX_DKIM_PERMERROR, MOX_DKIM_R_NO_RECORD},
		{"two", MOX_DKIM_TEMPERROR, MOX_DKIM_R_MULTIPLE_RECORDS},
		{"spf", MOX_DKIM_TEMPERROR, MOX_DKIM_R_NOT_DKIM_RECORD},
		{"bad", MOX_DKIM_PERMERROR, MOX_DKIM_R_RECORD_SYNTAX},
		{"test", MOX_DKIM_PERMERROR, MOX_DKIM_R_KEY_TYPE},
		{"strict", MOX_DKIM_PERMERROR, MOX_DKIM_R_IDENTITY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mox_dkim_selector sel = selector(cases[i].sel, ed, MOX_DKIM_RELAXED);
		sel.identity = "@sub.football.example.com";
		mox_buf out = MOX_BUF_INIT;
		assert_int_equal(sign(&sel, 1, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
		mox_dkim_verify_opts o = vopts();
		char got[64];
		mox_dkim_verifier *v = dkim_test_verify(&o, out.data, out.len, 0, got, sizeof(got));
		const mox_dkim_result *r = mox_dkim_verifier_result(v, 0);
		if (r->status != cases[i].st || r->reason != cases[i].r)
			fprintf(stderr, "%s: %s %s\n", cases[i].sel, got, r->why);
		assert_int_equal(r->status, cases[i].st);
		assert_int_equal(r->reason, cases[i].r);
		mox_dkim_verifier_free(v);
		mox_buf_free(&out);
	}
	/* t=y: a failure is "none" unless ignore_test_mode. */
	mox_dkim_selector sel = selector("testing", ed, MOX_DKIM_RELAXED);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(&sel, 1, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
	expect((char *)out.data, out.len, "pass");
	strstr((char *)out.data, "Joe.")[0] = 'X';
	expect((char *)out.data, out.len, "none");
	mox_dkim_verify_opts o = vopts();
	o.ignore_test_mode = true;
	char got[64];
	mox_dkim_verifier_free(dkim_test_verify(&o, out.data, out.len, 0, got, sizeof(got)));
	assert_string_equal(got, "fail");
	/* Expired, and unsigned message. */
	mox_buf_free(&out);
	sel = selector("brisbane", ed, MOX_DKIM_RELAXED);
	sel.expiration = 5;
	assert_int_equal(sign(&sel, 1, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
	expect((char *)out.data, out.len, "permerror");
	expect(msg, sizeof(msg) - 1, "none");
	mox_buf_free(&out);
}

static bool
no_example(void *arg, const mox_dkim_sig *sig, char *why, size_t size)
{
	(void)arg;
	snprintf(why, size, "domain %s not wanted", sig->domain);
	return false;
}

static void
test_policy(void **state)
{
	(void)state;
	static const char nosubj[] = "From: a@football.example.com\r\n\r\nhi\r\n";
	mox_dkim_selector sel = selector("brisbane", ed, MOX_DKIM_RELAXED);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(&sel, 1, nosubj, sizeof(nosubj) - 1, 0, NULL, &out), MOX_OK);
	/* Oversigning lists Subject, but it is absent: still signed (empty). */
	expect((char *)out.data, out.len, "pass");
	mox_buf_free(&out);
	static const char *const hdrs[] = {"From"};
	sel.headers = hdrs;
	sel.nheaders = 1;
	assert_int_equal(sign(&sel, 1, nosubj, sizeof(nosubj) - 1, 0, NULL, &out), MOX_OK);
	expect((char *)out.data, out.len, "policy");
	mox_dkim_verify_opts o = vopts();
	o.policy = MOX_DKIM_POLICY_ALLOW_NO_SUBJECT;
	char got[64];
	mox_dkim_verifier_free(dkim_test_verify(&o, out.data, out.len, 0, got, sizeof(got)));
	assert_string_equal(got, "pass");
	o.policy_fn = no_example;
	mox_dkim_verifier *v = dkim_test_verify(&o, out.data, out.len, 0, got, sizeof(got));
	assert_string_equal(got, "policy");
	assert_string_equal(mox_dkim_verifier_result(v, 0)->why,
			    "domain football.example.com not wanted");
	mox_dkim_verifier_free(v);
	mox_buf_free(&out);
	/* A selector without From is refused. */
	static const char *const nf[] = {"To"};
	sel.headers = nf;
	mox_errinfo info;
	mox_dkim_sign_opts so = {.size = sizeof(so), .selectors = &sel, .nselectors = 1};
	mox_dkim_signer *s = NULL;
	assert_int_equal(mox_dkim_signer_new(&s, &so, &info), MOX_EINVAL);
	assert_non_null(strstr(info.msg, "From"));
}

static void
test_length(void **state)
{
	(void)state;
	/* l= is honoured when the policy allows it: appended text is not
	 * covered; a shorter body fails. The signature is made by hand. */
	mox_dkim_selector sel = selector("brisbane", ed, MOX_DKIM_SIMPLE);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(&sel, 1, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
	mox_dkim_verify_opts o = vopts();
	o.policy = MOX_DKIM_POLICY_ALLOW_LENGTH;
	/* Verify a message whose signature has l= = the body size: parse,
	 * add l=, re-sign with the internal pieces. */
	mox_dkim_sig *sig = NULL;
	const char *end = strstr((char *)out.data, "\r\nFrom:");
	assert_int_equal(mox_dkim_sig_parse(out.data, (size_t)(end - (char *)out.data) + 2, NULL, &sig,
					    NULL),
			 MOX_OK);
	const char *body = strstr(msg, "\r\n\r\n") + 4;
	sig->length = (int64_t)strlen(body) - 2; /* the last empty line is not counted */
	mox_buf hdr = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_sig_format(sig, true, &hdr), MOX_OK);
	mox_buf m = MOX_BUF_INIT;
	mox_buf_append(&m, hdr.data, hdr.len);
	mox_buf_append_str(&m, msg);
	mox_msg_header *h = NULL;
	size_t boff;
	assert_int_equal(mox_msg_header_parse(m.data, m.len, 0, NULL, &h, &boff, NULL), MOX_OK);
	mox__dkim_crypto *c = NULL;
	assert_int_equal(mox__dkim_crypto_new(NULL, &c), MOX_OK);
	uint8_t dh[32];
	size_t dl;
	assert_int_equal(mox__dkim_data_hash(c, MOX__DKIM_SHA256, MOX_DKIM_SIMPLE, h, sig->headers,
					     sig->nheaders, h->fields[0].raw, h->fields[0].raw_len,
					     h->fields[0].raw_len - 2, h->fields[0].raw_len - 2, NULL,
					     dh, &dl),
			 MOX_OK);
	mox__dkim_ed25519_sign(ed->ed_sk, dh, dl, sig->signature);
	mox_buf signed_ = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_sig_format(sig, false, &signed_), MOX_OK);
	mox_buf_append_str(&signed_, msg);
	char got[64];
	mox_dkim_verifier_free(dkim_test_verify(&o, signed_.data, signed_.len, 0, got, sizeof(got)));
	assert_string_equal(got, "pass");
	mox_buf_append_str(&signed_, "Appended text.\r\n");
	mox_dkim_verifier_free(dkim_test_verify(&o, signed_.data, signed_.len, 0, got, sizeof(got)));
	assert_string_equal(got, "pass");
	/* Default policy: l= refused. */
	expect((char *)signed_.data, signed_.len, "policy");
	/* Body shorter than l=. */
	signed_.len -= strlen("Joe.\r\n\r\nAppended text.\r\n");
	mox_dkim_verifier *v = dkim_test_verify(&o, signed_.data, signed_.len, 0, got, sizeof(got));
	assert_string_equal(got, "fail");
	assert_int_equal(mox_dkim_verifier_result(v, 0)->reason, MOX_DKIM_R_BODY_LENGTH);
	mox_dkim_verifier_free(v);
	mox__dkim_crypto_free(c);
	mox_msg_header_free(h);
	mox_buf_free(&signed_);
	mox_buf_free(&m);
	mox_buf_free(&hdr);
	mox_dkim_sig_free(sig);
	mox_buf_free(&out);
}

static void
test_oom(void **state)
{
	(void)state;
	mox_dkim_selector sels[2] = {selector("test", rsa, MOX_DKIM_RELAXED),
				     selector("brisbane", ed, MOX_DKIM_SIMPLE)};
	mox_buf good = MOX_BUF_INIT;
	assert_int_equal(sign(sels, 2, msg, sizeof(msg) - 1, 0, NULL, &good), MOX_OK);
	long n;
	for (n = 0;; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_buf out = MOX_BUF_INIT;
		mox_err err = sign(sels, 2, msg, sizeof(msg) - 1, 0, &t.a, &out);
		mox_buf_free(&out);
		assert_int_equal(t.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
	printf("signer: succeeded after %ld allocations\n", n);
	for (n = 0;; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_dkim_verify_opts o = vopts();
		o.alloc = &t.a;
		mox_dkim_verifier *v = NULL;
		mox_err err = mox_dkim_verifier_new(&v, &o);
		if (err == MOX_OK)
			err = mox_dkim_verifier_feed(v, good.data, good.len);
		if (err == MOX_OK)
			err = mox_dkim_verifier_end(v);
		if (err == MOX_OK) {
			assert_int_equal(mox_dkim_verifier_result(v, 0)->status, MOX_DKIM_PASS);
			assert_int_equal(mox_dkim_verifier_result(v, 1)->status, MOX_DKIM_PASS);
		}
		mox_dkim_verifier_free(v);
		assert_int_equal(t.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
	printf("verifier: succeeded after %ld allocations\n", n);
	mox_buf_free(&good);
}

/* 50 MB of body in 64 KiB chunks: the allocations stay bounded. */
static void
test_large_body(void **state)
{
	(void)state;
	enum { CHUNK = 65536, TOTAL = 50 * 1024 * 1024 };
	char *chunk = malloc(CHUNK);
	for (size_t i = 0; i < CHUNK; i++)
		chunk[i] = (i % 77 == 76) ? '\n' : (i % 77 == 75) ? '\r' : (char)('a' + i % 26);
	mox_dkim_selector sels[2] = {selector("test", rsa, MOX_DKIM_RELAXED),
				     selector("brisbane", ed, MOX_DKIM_SIMPLE)};
	mox_testalloc t;
	mox_testalloc_init(&t, -1);
	mox_dkim_sign_opts so = {.size = sizeof(so), .alloc = &t.a, .selectors = sels,
				 .nselectors = 2, .now = NOW};
	mox_dkim_signer *s = NULL;
	assert_int_equal(mox_dkim_signer_new(&s, &so, NULL), MOX_OK);
	const char *hdr_end = strstr(msg, "\r\n\r\n") + 4;
	assert_int_equal(mox_dkim_signer_feed(s, msg, (size_t)(hdr_end - msg)), MOX_OK);
	long after_header = t.count;
	for (size_t i = 0; i < TOTAL / CHUNK; i++)
		assert_int_equal(mox_dkim_signer_feed(s, chunk, CHUNK), MOX_OK);
	assert_int_equal(t.count, after_header); /* no allocation per chunk */
	mox_buf sigs = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_signer_end(s, &sigs), MOX_OK);
	mox_dkim_signer_free(s);
	/* Verify the same stream. */
	mox_dkim_verify_opts o = vopts();
	o.alloc = &t.a;
	mox_dkim_verifier *v = NULL;
	assert_int_equal(mox_dkim_verifier_new(&v, &o), MOX_OK);
	assert_int_equal(mox_dkim_verifier_feed(v, sigs.data, sigs.len), MOX_OK);
	assert_int_equal(mox_dkim_verifier_feed(v, msg, (size_t)(hdr_end - msg)), MOX_OK);
	after_header = t.count;
	for (size_t i = 0; i < TOTAL / CHUNK; i++)
		assert_int_equal(mox_dkim_verifier_feed(v, chunk, CHUNK), MOX_OK);
	assert_int_equal(t.count, after_header);
	assert_int_equal(mox_dkim_verifier_end(v), MOX_OK);
	assert_int_equal(mox_dkim_verifier_result(v, 0)->status, MOX_DKIM_PASS);
	assert_int_equal(mox_dkim_verifier_result(v, 1)->status, MOX_DKIM_PASS);
	mox_dkim_verifier_free(v);
	mox_buf_free(&sigs);
	assert_int_equal(t.live, 0);
	free(chunk);
}

static void
test_limits(void **state)
{
	(void)state;
	/* A header section over max_header: MOX_ELIMIT, sticky. */
	mox_dkim_verify_opts o = vopts();
	o.max_header = 100;
	mox_dkim_verifier *v = NULL;
	assert_int_equal(mox_dkim_verifier_new(&v, &o), MOX_OK);
	assert_int_equal(mox_dkim_verifier_feed(v, msg, sizeof(msg) - 1), MOX_ELIMIT);
	assert_int_equal(mox_dkim_verifier_end(v), MOX_ELIMIT);
	mox_dkim_verifier_reset(v);
	assert_int_equal(mox_dkim_verifier_feed(v, "From: a\r\n\r\n", 11), MOX_OK);
	assert_int_equal(mox_dkim_verifier_end(v), MOX_OK);
	mox_dkim_verifier_free(v);
	/* More signatures than max_signatures: the rest permerror. */
	mox_dkim_selector sel = selector("brisbane", ed, MOX_DKIM_RELAXED);
	mox_dkim_selector sels[3] = {sel, sel, sel};
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(sign(sels, 3, msg, sizeof(msg) - 1, 0, NULL, &out), MOX_OK);
	o = vopts();
	o.max_signatures = 2;
	char got[64];
	v = dkim_test_verify(&o, out.data, out.len, 0, got, sizeof(got));
	assert_string_equal(got, "pass,pass,permerror");
	assert_int_equal(mox_dkim_verifier_result(v, 2)->reason, MOX_DKIM_R_TOO_MANY);
	mox_dkim_verifier_free(v);
	mox_buf_free(&out);
	/* A malformed signature field is a permerror with the reason. */
	static const char bad[] = "DKIM-Signature: v=1; a=rsa-sha256; b=!!!\r\nFrom: a\r\n\r\n";
	v = dkim_test_verify(&o, bad, sizeof(bad) - 1, 0, got, sizeof(got));
	assert_string_equal(got, "permerror");
	assert_int_equal(mox_dkim_verifier_result(v, 0)->reason, MOX_DKIM_R_SIG_SYNTAX);
	assert_null(mox_dkim_verifier_result(v, 0)->sig);
	mox_dkim_verifier_free(v);
}

int
main(void)
{
	printf("crypto backend: %s\n", mox_dkim_crypto_backend());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_oversign),    cmocka_unit_test(test_split),
		cmocka_unit_test(test_lookup_outcomes), cmocka_unit_test(test_policy),
		cmocka_unit_test(test_length),      cmocka_unit_test(test_oom),
		cmocka_unit_test(test_large_body),  cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
