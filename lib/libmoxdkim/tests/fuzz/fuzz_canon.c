/* libFuzzer target: canonicalization. The input is a message; it is
 * verified (header parsing, every DKIM-Signature, relaxed and simple
 * header and body canonicalization, an in-memory zone with a key for
 * selector "s" of example.com) once whole and once split at a point taken
 * from the first byte, and the statuses must agree. Body hashes of both
 * canonicalizations are also checked for split invariance directly. */
#include "dkim_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mox_resolver *zone;

static void
body_hash(const mox__dkim_crypto *c, mox_dkim_canon canon, const uint8_t *d, size_t n,
	  size_t cut, uint8_t *out)
{
	mox__dkim_body b;
	size_t len;
	if (mox__dkim_body_init(&b, c, canon, MOX__DKIM_SHA256, n % 3 == 0 ? (int64_t)(n / 2) : -1) !=
	    MOX_OK)
		abort();
	mox__dkim_body_feed(&b, d, cut);
	mox__dkim_body_feed(&b, d + cut, n - cut);
	if (mox__dkim_body_final(&b, out, &len) != MOX_OK)
		abort();
	mox__dkim_body_free(&b);
}

static void
verify(const uint8_t *d, size_t n, size_t cut, char *st, size_t stsize)
{
	mox_dkim_verify_opts o = {.size = sizeof(o), .resolver = zone, .now = 1700000000,
				  .policy = MOX_DKIM_POLICY_ALLOW_LENGTH | MOX_DKIM_POLICY_ALLOW_SHA1,
				  .max_header = 65536};
	mox_dkim_verifier *v = NULL;
	if (mox_dkim_verifier_new(&v, &o) != MOX_OK)
		abort();
	mox_err err = mox_dkim_verifier_feed(v, d, cut);
	if (err == MOX_OK)
		err = mox_dkim_verifier_feed(v, d + cut, n - cut);
	if (err == MOX_OK)
		err = mox_dkim_verifier_end(v);
	size_t k = 0;
	st[k++] = (char)('0' - err);
	for (size_t i = 0; err == MOX_OK && i < mox_dkim_verifier_count(v) && k + 1 < stsize; i++)
		st[k++] = (char)('a' + mox_dkim_verifier_result(v, i)->status);
	st[k] = 0;
	mox_buf ar = MOX_BUF_INIT;
	if (err == MOX_OK)
		(void)mox_dkim_verifier_authres(v, &ar);
	mox_buf_free(&ar);
	mox_dkim_verifier_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (zone == NULL) {
		static const char z[] =
			"s._domainkey.example.com. TXT \"v=DKIM1; k=ed25519; "
			"p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n"
			"r._domainkey.example.com. TXT \"v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\"\n";
		if (mox_dns_zone_new(&zone, NULL) != MOX_OK ||
		    mox_dns_zone_load(zone, z, sizeof(z) - 1, NULL) != MOX_OK)
			abort();
	}
	if (size == 0)
		return 0;
	size_t cut = (size_t)data[0] * size / 256;
	char a[64], b[64];
	verify(data, size, size, a, sizeof(a));
	verify(data, size, cut, b, sizeof(b));
	if (strcmp(a, b) != 0)
		abort();
	mox__dkim_crypto *c = NULL;
	if (mox__dkim_crypto_new(NULL, &c) != MOX_OK)
		abort();
	for (int canon = 0; canon < 2; canon++) {
		uint8_t h1[32], h2[32];
		body_hash(c, (mox_dkim_canon)canon, data, size, size, h1);
		body_hash(c, (mox_dkim_canon)canon, data, size, cut, h2);
		if (memcmp(h1, h2, 32) != 0)
			abort();
	}
	mox__dkim_crypto_free(c);
	return 0;
}
