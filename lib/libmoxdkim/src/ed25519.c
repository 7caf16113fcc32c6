/* Ed25519 (RFC 8032) for DKIM (RFC 8463), and random bytes, with libsodium,
 * in both crypto builds: mbedTLS has no Ed25519.
 *
 * RFC 8463 section 3 signs the SHA-256 data hash with PureEdDSA, so the
 * "message" given to Ed25519 is the 32-byte digest. libsodium's secret key
 * is the 32-byte seed (what PKCS#8 carries, RFC 8410 section 7) followed
 * by the public key. */
#include "dkim_int.h"

#include <sodium.h>

mox_err
mox__dkim_sodium_init(void)
{
	/* 0: initialised now, 1: already; -1: failure. Thread-safe. */
	return sodium_init() < 0 ? MOX_EIO : MOX_OK;
}

void
mox__dkim_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void
mox__dkim_ed25519_from_seed(const uint8_t seed[32], uint8_t sk[64], uint8_t pk[32])
{
	crypto_sign_ed25519_seed_keypair(pk, sk, seed);
}

void
mox__dkim_ed25519_sign(const uint8_t sk[64], const uint8_t *msg, size_t len, uint8_t sig[64])
{
	crypto_sign_ed25519_detached(sig, NULL, msg, len, sk);
}

bool
mox__dkim_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t len,
			 const uint8_t *sig, size_t sig_len)
{
	if (sig_len != crypto_sign_ed25519_BYTES)
		return false;
	return crypto_sign_ed25519_verify_detached(sig, msg, len, pk) == 0;
}
