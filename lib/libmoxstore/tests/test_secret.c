/* Password secrets: the RFC examples for SCRAM-SHA-1 (RFC 5802 section 5),
 * SCRAM-SHA-256 (RFC 7677 section 3) and CRAM-MD5 (RFC 2195 section 2)
 * checked from derived secrets; set/check through the store; the password
 * never reaches the database file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

static size_t
b64(const char *s, uint8_t *out, size_t max)
{
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_base64_decode(&b, s, strlen(s), 0, NULL), MOX_OK);
	assert_true(b.len <= max);
	memcpy(out, b.data, b.len);
	size_t n = b.len;
	mox_buf_free(&b);
	return n;
}

static void
check_scram(mox_store_scram_alg alg, const char *salt64, const char *auth,
            const char *proof64, const char *sig64)
{
	uint8_t salt[16], proof[32], want[32], sig[32];
	size_t sl = b64(salt64, salt, sizeof(salt));
	size_t pl = b64(proof64, proof, sizeof(proof));
	size_t wl = b64(sig64, want, sizeof(want));
	mox_store_secrets s;
	assert_int_equal(
	    mox__store_secrets_derive("pencil", salt, sl, 4096, salt, sl, 4096, &s),
	    MOX_OK);
	bool ok = false;
	size_t siglen = 0;
	assert_int_equal(mox_store_scram_verify(&s, alg, auth, strlen(auth), proof, pl,
	                                        &ok, sig, &siglen),
	                 MOX_OK);
	assert_true(ok);
	assert_int_equal(siglen, wl);
	assert_memory_equal(sig, want, wl);
	/* A wrong proof fails. */
	proof[0] ^= 1;
	assert_int_equal(mox_store_scram_verify(&s, alg, auth, strlen(auth), proof, pl,
	                                        &ok, sig, &siglen),
	                 MOX_OK);
	assert_false(ok);
	/* So does a proof of the wrong length. */
	assert_int_equal(mox_store_scram_verify(&s, alg, auth, strlen(auth), proof,
	                                        pl - 1, &ok, sig, &siglen),
	                 MOX_OK);
	assert_false(ok);
}

static void
test_scram_rfc(void **state)
{
	(void)state;
	check_scram(
	    MOX_STORE_SCRAM_SHA1, "QSXCR+Q6sek8bf92",
	    "n=user,r=fyko+d2lbbFgONRv9qkxdawL,"
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,"
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
	    "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
	check_scram(MOX_STORE_SCRAM_SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==",
	            "n=user,r=rOprNGfwEbeRWgbNEkqO,"
	            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	            "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
	            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

static void
test_cram_md5_rfc(void **state)
{
	(void)state;
	const char *chal = "<1896.697170952@postoffice.reston.mci.net>";
	uint8_t salt[16] = {0};
	mox_store_secrets s;
	assert_int_equal(
	    mox__store_secrets_derive("tanstaaftanstaaf", salt, 16, 1, salt, 16, 1, &s),
	    MOX_OK);
	assert_true(mox_store_cram_md5_verify(&s, chal, strlen(chal),
	                                      "b913a602c7eda7a495b4e6e7334d3890"));
	assert_true(mox_store_cram_md5_verify(&s, chal, strlen(chal),
	                                      "B913A602C7EDA7A495B4E6E7334D3890"));
	assert_false(mox_store_cram_md5_verify(&s, chal, strlen(chal),
	                                       "b913a602c7eda7a495b4e6e7334d3891"));
	assert_false(mox_store_cram_md5_verify(&s, chal, strlen(chal), "b913"));
	assert_false(mox_store_cram_md5_verify(&s, chal, strlen(chal) - 1,
	                                       "b913a602c7eda7a495b4e6e7334d3890"));
	/* A password longer than the MD5 block is hashed first (RFC 2104). */
	char longpw[100];
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[99] = '\0';
	assert_int_equal(
	    mox__store_secrets_derive(longpw, salt, 16, 1, salt, 16, 1, &s), MOX_OK);
	uint8_t d[16];
	char hexd[33];
	mox__store_hmac(MOX__HASH_MD5, longpw, 99, chal, strlen(chal), d);
	for (int i = 0; i < 16; i++)
		sprintf(hexd + 2 * i, "%02x", d[i]);
	assert_true(mox_store_cram_md5_verify(&s, chal, strlen(chal), hexd));
}

static bool
file_contains(const char *path, const char *needle)
{
	size_t n = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	static char buf[1 << 20];
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= n; i++)
		if (memcmp(buf + i, needle, nl) == 0)
			return true;
	return false;
}

static void
test_store_password(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "pw");
	assert_non_null(st);
	bool ok = true;
	mox_store_secrets s;
	assert_int_equal(mox_store_secrets_get(st, &s), MOX_OK);
	assert_false(s.set);
	assert_int_equal(mox_store_password_check(st, "x", &ok), MOX_OK);
	assert_false(ok);

	const char *pw = "correct horse battery staple";
	assert_int_equal(mox_store_password_set(st, pw), MOX_OK);
	assert_int_equal(mox_store_password_check(st, pw, &ok), MOX_OK);
	assert_true(ok);
	assert_int_equal(
	    mox_store_password_check(st, "correct horse battery stapl", &ok), MOX_OK);
	assert_false(ok);
	assert_int_equal(mox_store_secrets_get(st, &s), MOX_OK);
	assert_true(s.set);
	assert_int_equal(strncmp(s.bcrypt, "$2b$04$", 7), 0);
	assert_int_equal(s.scram_sha1.iterations, 64);
	assert_int_equal(s.scram_sha1.salt_len, 16);
	assert_int_equal(s.scram_sha256.key_len, 32);
	/* The stored SCRAM keys are the ones derived from the password and
	 * the stored salts. */
	mox_store_secrets d;
	assert_int_equal(mox__store_secrets_derive(pw, s.scram_sha1.salt, 16, 64,
	                                           s.scram_sha256.salt, 16, 64, &d),
	                 MOX_OK);
	assert_memory_equal(d.scram_sha1.stored_key, s.scram_sha1.stored_key, 20);
	assert_memory_equal(d.scram_sha256.server_key, s.scram_sha256.server_key, 32);
	assert_memory_equal(d.cram_md5, s.cram_md5, 32);
	mox_mem_wipe(&s, sizeof(s));

	/* Replacing: the old password stops working. */
	assert_int_equal(mox_store_password_set(st, "second"), MOX_OK);
	assert_int_equal(mox_store_password_check(st, pw, &ok), MOX_OK);
	assert_false(ok);
	assert_int_equal(mox_store_password_check(st, "second", &ok), MOX_OK);
	assert_true(ok);
	mox_store_close(st);

	/* Never the password itself, in the database or its WAL. */
	st_path(p, sizeof(p), "%s/accounts/pw/index.db", dir);
	assert_false(file_contains(p, "correct horse"));
	assert_false(file_contains(p, "second"));
	st_path(p, sizeof(p), "%s/accounts/pw/index.db-wal", dir);
	assert_false(file_contains(p, "correct horse"));
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scram_rfc),
	    cmocka_unit_test(test_cram_md5_rfc),
	    cmocka_unit_test(test_store_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
