/* The crypto seam of libmoxdkim: the few operations DKIM needs from a
 * cryptography library, so the backend can be chosen at build time.
 *
 *   crypto_mbedtls.c   mbedTLS 2.28 libmbedcrypto (the default)
 *   crypto_openssl.c   OpenSSL 3 libcrypto (-DMOX_CRYPTO=openssl)
 *
 * Both provide SHA-1/SHA-256 (incremental), RSA public keys from DER
 * SubjectPublicKeyInfo, RSA private keys from DER PKCS#1, PKCS#1 v1.5
 * signing and verification (RFC 8017 section 8.2), RSA key generation and
 * DER output of keys. Ed25519 and random bytes are not here: both builds
 * use libsodium for them (ed25519.c), since mbedTLS has no Ed25519.
 *
 * Contexts: a mox__dkim_crypto is made per signer/verifier handle (the
 * OpenSSL backend fetches its digest implementations once there, not per
 * message). Keys are immutable once made and may be used from several
 * threads at once; the backends serialise what they must internally
 * (mbedTLS locks an RSA context during a private-key operation).
 *
 * Every function returns MOX_OK or an error: MOX_ENOMEM for memory,
 * MOX_ESYNTAX for DER that cannot be read, MOX_EIO for a failure inside the
 * backend. A signature that does not verify is an outcome (a bool out
 * parameter), not an error. */
#ifndef MOX_DKIM_CRYPTO_H
#define MOX_DKIM_CRYPTO_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hash algorithms of DKIM's a= tag (RFC 6376 section 3.3). */
typedef enum mox__dkim_hash_alg {
	MOX__DKIM_SHA1 = 1,
	MOX__DKIM_SHA256 = 2,
} mox__dkim_hash_alg;

#define MOX__DKIM_DIGEST_MAX 32 /* SHA-256 */

/* Name of the backend: "mbedtls" or "openssl". */
const char *mox__dkim_crypto_backend(void);

typedef struct mox__dkim_crypto mox__dkim_crypto;
mox_err mox__dkim_crypto_new(const mox_allocator *alloc, mox__dkim_crypto **out);
void mox__dkim_crypto_free(mox__dkim_crypto *c);

/* An incremental hash. The storage is opaque to callers; backends keep
 * their context in it (or a pointer to one). */
typedef struct mox__dkim_hash {
	mox__dkim_hash_alg alg;
	const mox__dkim_crypto *crypto;
	void *heap; /* backend context when it does not fit below */
	_Alignas(16) unsigned char st[240];
} mox__dkim_hash;

/* Start h for alg; h must be released with mox__dkim_hash_free (also on
 * error, which leaves it releasable). */
mox_err mox__dkim_hash_init(mox__dkim_hash *h, const mox__dkim_crypto *c,
			    mox__dkim_hash_alg alg);
void mox__dkim_hash_update(mox__dkim_hash *h, const void *data, size_t len);
/* Write the digest to out (20 or 32 bytes); h is started again. */
mox_err mox__dkim_hash_final(mox__dkim_hash *h, uint8_t *out, size_t *len_out);
void mox__dkim_hash_free(mox__dkim_hash *h);
/* Digest length of alg. */
size_t mox__dkim_hash_len(mox__dkim_hash_alg alg);

/* RSA public key. */
typedef struct mox__dkim_rsa_pub mox__dkim_rsa_pub;
/* Parse a DER SubjectPublicKeyInfo holding an RSA key; *bits_out gets the
 * modulus size. */
mox_err mox__dkim_rsa_pub_parse(const uint8_t *spki, size_t len,
				const mox_allocator *alloc,
				mox__dkim_rsa_pub **out, unsigned *bits_out);
void mox__dkim_rsa_pub_free(mox__dkim_rsa_pub *k);
/* Check an RSASSA-PKCS1-v1_5 signature over digest (already hashed with
 * alg). *valid_out is false for a signature that does not verify, of the
 * wrong length, or not made with this key. */
mox_err mox__dkim_rsa_verify(const mox__dkim_rsa_pub *k, mox__dkim_hash_alg alg,
			     const uint8_t *digest, size_t digest_len,
			     const uint8_t *sig, size_t sig_len, bool *valid_out);

/* RSA private key. */
typedef struct mox__dkim_rsa_priv mox__dkim_rsa_priv;
/* Parse a DER RSAPrivateKey (PKCS#1, RFC 8017 appendix A.1.2). */
mox_err mox__dkim_rsa_priv_parse(const uint8_t *der, size_t len,
				 const mox_allocator *alloc,
				 mox__dkim_rsa_priv **out, unsigned *bits_out);
/* Generate a key of bits bits, public exponent 65537. */
mox_err mox__dkim_rsa_priv_generate(unsigned bits, const mox_allocator *alloc,
				    mox__dkim_rsa_priv **out);
void mox__dkim_rsa_priv_free(mox__dkim_rsa_priv *k);
/* Sign digest with RSASSA-PKCS1-v1_5; the signature (modulus size) is
 * appended to out. */
mox_err mox__dkim_rsa_sign(mox__dkim_rsa_priv *k, mox__dkim_hash_alg alg,
			   const uint8_t *digest, size_t digest_len, mox_buf *out);
/* DER RSAPrivateKey (PKCS#1) and SubjectPublicKeyInfo, appended to out. */
mox_err mox__dkim_rsa_priv_der(mox__dkim_rsa_priv *k, mox_buf *out);
mox_err mox__dkim_rsa_spki_der(mox__dkim_rsa_priv *k, mox_buf *out);

#endif
