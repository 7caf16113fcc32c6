/* A program that knows nothing of the mox-c source tree: compiled against
 * the INSTALLED libmoxdkim with nothing but `pkg-config --cflags --libs
 * libmoxdkim` (or find_package(mox COMPONENTS dkim)). It makes an Ed25519
 * key, publishes it in an in-memory zone, signs a message, verifies it,
 * writes the Authentication-Results part, and exits non-zero on any
 * surprise. */
#include <mox/dkim.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	if (mox_dkim_version() != MOX_DKIM_VERSION_HEX || mox_dns_version() != MOX_DNS_VERSION_HEX) {
		fprintf(stderr, "header/library version skew\n");
		return 1;
	}
	mox_dkim_sig *sig = NULL;
	mox_errinfo info;
	static const char bad[] = "DKIM-Signature: v=2; a=rsa-sha256";
	if (mox_dkim_sig_parse(bad, strlen(bad), NULL, &sig, &info) != MOX_ESYNTAX) {
		fprintf(stderr, "bad signature accepted\n");
		return 1;
	}
	printf("consumer: parse error as expected: %s\n", info.msg);

	mox_dkim_key *key = NULL;
	if (mox_dkim_key_generate(MOX_DKIM_KEY_ED25519, 0, NULL, &key) != MOX_OK)
		return 1;
	mox_buf txt = MOX_BUF_INIT, zone = MOX_BUF_INIT;
	if (mox_dkim_key_txt_record(key, &txt) != MOX_OK ||
	    mox_buf_appendf(&zone, "sel._domainkey.example.org. TXT \"%s\"\n", (char *)txt.data) != MOX_OK)
		return 1;
	mox_resolver *r = NULL;
	if (mox_dns_zone_new(&r, NULL) != MOX_OK ||
	    mox_dns_zone_load(r, (char *)zone.data, zone.len, &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		return 1;
	}
	static const char msg[] = "From: a@example.org\r\nSubject: hi\r\n\r\nHello.\r\n";
	mox_dkim_selector sel = {.size = sizeof(sel), .domain = "example.org", .selector = "sel",
				 .key = key, .header_canon = MOX_DKIM_RELAXED,
				 .body_canon = MOX_DKIM_RELAXED};
	mox_dkim_sign_opts so = {.size = sizeof(so), .selectors = &sel, .nselectors = 1};
	mox_dkim_signer *s = NULL;
	mox_buf out = MOX_BUF_INIT;
	if (mox_dkim_signer_new(&s, &so, &info) != MOX_OK || mox_dkim_signer_feed(s, msg, strlen(msg)) != MOX_OK ||
	    mox_dkim_signer_end(s, &out) != MOX_OK || mox_buf_append_str(&out, msg) != MOX_OK) {
		fprintf(stderr, "signing failed\n");
		return 1;
	}
	mox_dkim_verify_opts vo = {.size = sizeof(vo), .resolver = r};
	mox_dkim_verifier *v = NULL;
	mox_buf ar = MOX_BUF_INIT;
	if (mox_dkim_verifier_new(&v, &vo) != MOX_OK || mox_dkim_verifier_feed(v, out.data, out.len) != MOX_OK ||
	    mox_dkim_verifier_end(v) != MOX_OK || mox_dkim_verifier_count(v) != 1 ||
	    mox_dkim_verifier_result(v, 0)->status != MOX_DKIM_PASS ||
	    mox_dkim_verifier_authres(v, &ar) != MOX_OK) {
		fprintf(stderr, "verification did not pass\n");
		return 1;
	}
	printf("consumer: %s (crypto %s)\n", (char *)ar.data, mox_dkim_crypto_backend());
	mox_buf_free(&ar);
	mox_buf_free(&out);
	mox_buf_free(&txt);
	mox_buf_free(&zone);
	mox_dkim_verifier_free(v);
	mox_dkim_signer_free(s);
	mox_dkim_key_free(key);
	mox_resolver_free(r);
	return 0;
}
