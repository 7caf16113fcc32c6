/* Private keys (key.c, der.c) and key records (record.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dkim_int.h"
#include "dkim_testutil.h"

static void
test_parse(void **state)
{
	(void)state;
	static const char *const names[] = {"rfc8463-rsa1024.pem.b64", "rfc8463-rsa1024.pkcs8.pem.b64",
					    "rfc8463-ed25519.pkcs8.pem.b64", "dkimpy-ed25519.pkcs8.pem.b64",
					    "rfc6376-appC-rsa1024.pkcs8.pem.b64"};
	for (size_t i = 0; i < 5; i++) {
		mox_dkim_key *k = dkim_test_key(names[i]);
		mox_buf pem = MOX_BUF_INIT, pub = MOX_BUF_INIT, pub2 = MOX_BUF_INIT;
		/* Write (with mox's Note header) and read back: same public key. */
		assert_int_equal(mox_dkim_key_write_pem(k, "test key", &pem), MOX_OK);
		mox_dkim_key *k2 = NULL;
		mox_errinfo info;
		assert_int_equal(mox_dkim_key_parse_pem(pem.data, pem.len, NULL, &k2, &info), MOX_OK);
		assert_int_equal(mox_dkim_key_public_base64(k, &pub), MOX_OK);
		assert_int_equal(mox_dkim_key_public_base64(k2, &pub2), MOX_OK);
		assert_string_equal((char *)pub.data, (char *)pub2.data);
		mox_dkim_key_free(k2);
		mox_buf_free(&pem);
		mox_buf_free(&pub);
		mox_buf_free(&pub2);
		mox_dkim_key_free(k);
	}
	/* RFC 8463 A.2: the public key of the ed25519 seed. */
	mox_dkim_key *k = dkim_test_key("rfc8463-ed25519.pkcs8.pem.b64");
	mox_buf txt = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_key_txt_record(k, &txt), MOX_OK);
	assert_string_equal((char *)txt.data,
			    "v=DKIM1;h=sha256;k=ed25519;t=s;p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	mox_buf_free(&txt);
	mox_dkim_key_free(k);
}

static void
test_bad_keys(void **state)
{
	(void)state;
	static const char ec[] = "-----BEGIN PRIVATE KEY-----\n"
				 "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\n"
				 "OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n"
				 "1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n"
				 "-----END PRIVATE KEY-----\n";
	static const char *const bad[] = {
		"", "no pem here", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
		"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIL76KfodRi0w8jgCokNsET0311/1aJ7R95NB5w7\n",
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ec};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_dkim_key *k = NULL;
		mox_errinfo info;
		assert_int_equal(mox_dkim_key_parse_pem(bad[i], strlen(bad[i]), NULL, &k, &info), MOX_ESYNTAX);
		assert_null(k);
	}
	/* Truncated copies of a real key, at every length. */
	size_t len;
	char *b64 = dkim_test_file("keys/rfc8463-rsa1024.pkcs8.pem.b64", &len);
	mox_buf pem = MOX_BUF_INIT;
	mox_base64_decode(&pem, b64, len, MOX_BASE64_IGNORE_SPACE, NULL);
	for (size_t n = 0; n + 1 < pem.len; n += 7) {
		mox_dkim_key *k = NULL;
		mox_err err = mox_dkim_key_parse_pem(pem.data, n, NULL, &k, NULL);
		assert_true(err == MOX_ESYNTAX);
	}
	mox_buf_free(&pem);
	free(b64);
	/* Generate: refuse sizes out of range. */
	mox_dkim_key *k = NULL;
	assert_int_equal(mox_dkim_key_generate(MOX_DKIM_KEY_RSA, 512, NULL, &k), MOX_ERANGE);
}

static void
test_records(void **state)
{
	(void)state;
	static const struct {
		const char *t;
		mox_err err;
		bool is_dkim;
	} c[] = {
		{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", MOX_OK, true},
		{"v=DKIM1; p=", MOX_OK, true},                 /* revoked */
		{"k=ed25519; t=y:s; s=email:*; h=sha256; p=", MOX_OK, true},
		{"v=spf1 -all", MOX_ESYNTAX, false},
		{"hello world", MOX_ESYNTAX, false},
		{"v=DKIM1; k=rsa", MOX_ESYNTAX, true},          /* no p= */
		{"v=DKIM1; k=foo; p=", MOX_ESYNTAX, true},
		{"v=DKIM1; k=ed25519; p=AAAA", MOX_ESYNTAX, true},
		{"v=DKIM1; p=AAAA", MOX_ESYNTAX, true},         /* not an RSA key */
		{"k=rsa; v=DKIM1; p=", MOX_ESYNTAX, true},       /* v= not first */
		{"v=DKIM1; p=; p=", MOX_ESYNTAX, true},
		{"v=DKIM1; p=!!", MOX_ESYNTAX, true},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		mox_dkim_record *r = NULL;
		bool is_dkim;
		mox_errinfo info;
		assert_int_equal(mox_dkim_record_parse(c[i].t, strlen(c[i].t), NULL, &r, &is_dkim, &info),
				 c[i].err);
		assert_int_equal(is_dkim, c[i].is_dkim);
		if (r != NULL) {
			mox_buf out = MOX_BUF_INIT;
			assert_int_equal(mox_dkim_record_format(r, &out), MOX_OK);
			mox_dkim_record *r2 = NULL;
			assert_int_equal(mox_dkim_record_parse(out.data, out.len, NULL, &r2, NULL, NULL), MOX_OK);
			assert_int_equal(r2->testing, r->testing);
			assert_int_equal(r2->strict, r->strict);
			mox_dkim_record_free(r2);
			mox_buf_free(&out);
		}
		mox_dkim_record_free(r);
	}
}

int
main(void)
{
	printf("crypto backend: %s\n", mox_dkim_crypto_backend());
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_bad_keys),
					   cmocka_unit_test(test_records)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
