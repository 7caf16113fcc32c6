/* MD5, SHA-1, SHA-256, HMAC and PBKDF2 against their RFCs' vectors:
 * RFC 1321 appendix A.5, FIPS 180 examples (RFC 3174, RFC 6234), RFC 2202
 * and RFC 4231 (HMAC), RFC 6070 (PBKDF2-HMAC-SHA1), RFC 7914 section 11
 * (PBKDF2-HMAC-SHA256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"

#include <stdio.h>
#include <string.h>

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
check_hash(int alg, const void *data, size_t len, const char *want)
{
	uint8_t d[32];
	char h[65];
	mox__store_hash ctx;
	mox__store_hash_init(&ctx, alg);
	mox__store_hash_update(&ctx, data, len);
	mox__store_hash_final(&ctx, d);
	hex(d, mox__store_hash_len(alg), h);
	assert_string_equal(h, want);
	/* The same fed one byte at a time. */
	mox__store_hash_init(&ctx, alg);
	for (size_t i = 0; i < len; i++)
		mox__store_hash_update(&ctx, (const uint8_t *)data + i, 1);
	mox__store_hash_final(&ctx, d);
	hex(d, mox__store_hash_len(alg), h);
	assert_string_equal(h, want);
}

static void
test_md5(void **state)
{
	(void)state;
	check_hash(MOX__HASH_MD5, "", 0, "d41d8cd98f00b204e9800998ecf8427e");
	check_hash(MOX__HASH_MD5, "abc", 3, "900150983cd24fb0d6963f7d28e17f72");
	check_hash(MOX__HASH_MD5, "message digest", 14,
	           "f96b697d7cb7938d525a2f31aaf161d0");
	const char *d80 = "1234567890123456789012345678901234567890"
	                  "1234567890123456789012345678901234567890";
	check_hash(MOX__HASH_MD5, d80, 80, "57edf4a22be3c955ac49da2e2107b67a");
}

static void
test_sha(void **state)
{
	(void)state;
	const char *l448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_hash(MOX__HASH_SHA1, "abc", 3,
	           "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_hash(MOX__HASH_SHA1, l448, 56,
	           "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	check_hash(MOX__HASH_SHA256, "", 0,
	           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hash(MOX__HASH_SHA256, "abc", 3,
	           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hash(MOX__HASH_SHA256, l448, 56,
	           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	static uint8_t million[1000000];
	memset(million, 'a', sizeof(million));
	uint8_t d[32];
	char h[65];
	mox__store_hash ctx;
	mox__store_hash_init(&ctx, MOX__HASH_SHA1);
	mox__store_hash_update(&ctx, million, sizeof(million));
	mox__store_hash_final(&ctx, d);
	hex(d, 20, h);
	assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void
check_hmac(int alg, const void *key, size_t kl, const char *data, const char *want)
{
	uint8_t d[32];
	char h[65];
	mox__store_hmac(alg, key, kl, data, strlen(data), d);
	hex(d, mox__store_hash_len(alg), h);
	assert_string_equal(h, want);
}

static void
test_hmac(void **state)
{
	(void)state;
	uint8_t k0b[20], kaa[131];
	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa, 0xaa, sizeof(kaa));
	/* RFC 2202 sections 2 and 3, test cases 1, 2. */
	check_hmac(MOX__HASH_MD5, k0b, 16, "Hi There",
	           "9294727a3638bb1c13f48ef8158bfc9d");
	check_hmac(MOX__HASH_MD5, "Jefe", 4, "what do ya want for nothing?",
	           "750c783e6ab0b503eaa86e310a5db738");
	check_hmac(MOX__HASH_SHA1, k0b, 20, "Hi There",
	           "b617318655057264e28bc0b6fb378c8ef146be00");
	check_hmac(MOX__HASH_SHA1, "Jefe", 4, "what do ya want for nothing?",
	           "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	/* RFC 4231 section 4: test cases 1, 2 and 6 (key longer than a block). */
	check_hmac(MOX__HASH_SHA256, k0b, 20, "Hi There",
	           "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	check_hmac(MOX__HASH_SHA256, "Jefe", 4, "what do ya want for nothing?",
	           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	check_hmac(MOX__HASH_SHA256, kaa, 131,
	           "Test Using Larger Than Block-Size Key - Hash Key First",
	           "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void
check_pbkdf2(int alg, const char *pw, const char *salt, uint32_t c, size_t dk,
             const char *want)
{
	uint8_t out[64];
	char h[129];
	mox__store_pbkdf2(alg, pw, strlen(pw), (const uint8_t *)salt, strlen(salt), c,
	                  out, dk);
	hex(out, dk, h);
	assert_string_equal(h, want);
}

static void
test_pbkdf2(void **state)
{
	(void)state;
	/* RFC 6070 section 2. */
	check_pbkdf2(MOX__HASH_SHA1, "password", "salt", 1, 20,
	             "0c60c80f961f0e71f3a9b524af6012062fe037a6");
	check_pbkdf2(MOX__HASH_SHA1, "password", "salt", 2, 20,
	             "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
	check_pbkdf2(MOX__HASH_SHA1, "password", "salt", 4096, 20,
	             "4b007901b765489abead49d926f721d065a429c1");
	check_pbkdf2(MOX__HASH_SHA1, "passwordPASSWORDpassword",
	             "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25,
	             "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
	/* RFC 7914 section 11. */
	check_pbkdf2(
	    MOX__HASH_SHA256, "passwd", "salt", 1, 64,
	    "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	    "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_md5),
	    cmocka_unit_test(test_sha),
	    cmocka_unit_test(test_hmac),
	    cmocka_unit_test(test_pbkdf2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
