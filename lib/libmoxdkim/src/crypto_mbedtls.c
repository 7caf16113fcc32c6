/* The crypto seam (crypto.h) on mbedTLS 2.28's libmbedcrypto.
 *
 * Hashes live inside mox__dkim_hash's storage (an mbedtls_sha1_context or
 * mbedtls_sha256_context fits). RSA keys are mbedtls_pk_context objects in
 * memory from our allocator; mbedTLS allocates the bignums with its own
 * calloc. Private-key operations need random numbers for blinding (RFC 8017
 * does not require it, timing attacks do): we give mbedTLS libsodium's
 * generator, which is thread-safe, so no DRBG state is shared. With
 * MBEDTLS_THREADING_C (Debian builds it) mbedTLS locks the RSA context
 * during a private operation, so one key may sign from several threads. */
#include "crypto.h"
#include "dkim_int.h"

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>

#include <string.h>

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((mox__dkim_hash *)0)->st),
	       "sha256 context fits");
_Static_assert(sizeof(mbedtls_sha1_context) <= sizeof(((mox__dkim_hash *)0)->st),
	       "sha1 context fits");

/* Large enough for the DER of an 8192-bit private key (PKCS#1 needs about
 * 9 * 512 bytes plus headers). */
#define DER_BUF_MAX 8192

struct mox__dkim_crypto {
	const mox_allocator *alloc;
};

struct mox__dkim_rsa_pub {
	const mox_allocator *alloc;
	mbedtls_pk_context pk;
};

struct mox__dkim_rsa_priv {
	const mox_allocator *alloc;
	mbedtls_pk_context pk;
};

const char *
mox__dkim_crypto_backend(void)
{
	return "mbedtls";
}

mox_err
mox__dkim_crypto_new(const mox_allocator *alloc, mox__dkim_crypto **out)
{
	*out = mox_mem_calloc(alloc, 1, sizeof(**out));
	if (*out == NULL)
		return MOX_ENOMEM;
	(*out)->alloc = alloc;
	return MOX_OK;
}

void
mox__dkim_crypto_free(mox__dkim_crypto *c)
{
	if (c != NULL)
		mox_mem_free(c->alloc, c);
}

size_t
mox__dkim_hash_len(mox__dkim_hash_alg alg)
{
	return alg == MOX__DKIM_SHA1 ? 20 : 32;
}

mox_err
mox__dkim_hash_init(mox__dkim_hash *h, const mox__dkim_crypto *c, mox__dkim_hash_alg alg)
{
	h->alg = alg;
	h->crypto = c;
	h->heap = NULL;
	if (alg == MOX__DKIM_SHA1) {
		mbedtls_sha1_context *x = (mbedtls_sha1_context *)h->st;
		mbedtls_sha1_init(x);
		if (mbedtls_sha1_starts_ret(x) != 0)
			return MOX_EIO;
	} else {
		mbedtls_sha256_context *x = (mbedtls_sha256_context *)h->st;
		mbedtls_sha256_init(x);
		if (mbedtls_sha256_starts_ret(x, 0) != 0)
			return MOX_EIO;
	}
	return MOX_OK;
}

void
mox__dkim_hash_update(mox__dkim_hash *h, const void *data, size_t len)
{
	if (len == 0)
		return;
	/* The _ret functions fail only for hardware accelerators we do not
	 * configure. */
	if (h->alg == MOX__DKIM_SHA1)
		(void)mbedtls_sha1_update_ret((mbedtls_sha1_context *)h->st, data, len);
	else
		(void)mbedtls_sha256_update_ret((mbedtls_sha256_context *)h->st, data, len);
}

mox_err
mox__dkim_hash_final(mox__dkim_hash *h, uint8_t *out, size_t *len_out)
{
	int r;
	if (h->alg == MOX__DKIM_SHA1) {
		mbedtls_sha1_context *x = (mbedtls_sha1_context *)h->st;
		r = mbedtls_sha1_finish_ret(x, out);
		if (r == 0)
			r = mbedtls_sha1_starts_ret(x);
	} else {
		mbedtls_sha256_context *x = (mbedtls_sha256_context *)h->st;
		r = mbedtls_sha256_finish_ret(x, out);
		if (r == 0)
			r = mbedtls_sha256_starts_ret(x, 0);
	}
	*len_out = mox__dkim_hash_len(h->alg);
	return r == 0 ? MOX_OK : MOX_EIO;
}

void
mox__dkim_hash_free(mox__dkim_hash *h)
{
	if (h->alg == MOX__DKIM_SHA1)
		mbedtls_sha1_free((mbedtls_sha1_context *)h->st);
	else if (h->alg == MOX__DKIM_SHA256)
		mbedtls_sha256_free((mbedtls_sha256_context *)h->st);
	h->alg = 0;
}

static mbedtls_md_type_t
md_type(mox__dkim_hash_alg alg)
{
	return alg == MOX__DKIM_SHA1 ? MBEDTLS_MD_SHA1 : MBEDTLS_MD_SHA256;
}

/* mbedTLS's f_rng: libsodium's generator (thread-safe, never fails). */
static int
rng(void *arg, unsigned char *out, size_t len)
{
	(void)arg;
	mox__dkim_random(out, len);
	return 0;
}

mox_err
mox__dkim_rsa_pub_parse(const uint8_t *spki, size_t len, const mox_allocator *alloc,
			mox__dkim_rsa_pub **out, unsigned *bits_out)
{
	*out = NULL;
	mox__dkim_rsa_pub *k = mox_mem_calloc(alloc, 1, sizeof(*k));
	if (k == NULL)
		return MOX_ENOMEM;
	k->alloc = alloc;
	mbedtls_pk_init(&k->pk);
	int r = mbedtls_pk_parse_public_key(&k->pk, spki, len);
	if (r != 0 || mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_RSA) {
		mox__dkim_rsa_pub_free(k);
		return r == MBEDTLS_ERR_PK_ALLOC_FAILED ? MOX_ENOMEM : MOX_ESYNTAX;
	}
	*bits_out = (unsigned)mbedtls_pk_get_bitlen(&k->pk);
	*out = k;
	return MOX_OK;
}

void
mox__dkim_rsa_pub_free(mox__dkim_rsa_pub *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	mox_mem_free(k->alloc, k);
}

mox_err
mox__dkim_rsa_verify(const mox__dkim_rsa_pub *k, mox__dkim_hash_alg alg,
		     const uint8_t *digest, size_t digest_len, const uint8_t *sig,
		     size_t sig_len, bool *valid_out)
{
	*valid_out = false;
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
	if (sig_len != mbedtls_rsa_get_len(rsa))
		return MOX_OK;
	int r = mbedtls_rsa_pkcs1_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md_type(alg),
					 (unsigned)digest_len, digest, sig);
	*valid_out = r == 0;
	return MOX_OK;
}

static mox_err
priv_alloc(const mox_allocator *alloc, mox__dkim_rsa_priv **out)
{
	*out = mox_mem_calloc(alloc, 1, sizeof(**out));
	if (*out == NULL)
		return MOX_ENOMEM;
	(*out)->alloc = alloc;
	mbedtls_pk_init(&(*out)->pk);
	return MOX_OK;
}

mox_err
mox__dkim_rsa_priv_parse(const uint8_t *der, size_t len, const mox_allocator *alloc,
			 mox__dkim_rsa_priv **out, unsigned *bits_out)
{
	mox__dkim_rsa_priv *k;
	mox_err err = priv_alloc(alloc, &k);
	*out = NULL;
	if (err != MOX_OK)
		return err;
	int r = mbedtls_pk_parse_key(&k->pk, der, len, NULL, 0);
	if (r != 0 || mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_RSA) {
		mox__dkim_rsa_priv_free(k);
		return r == MBEDTLS_ERR_PK_ALLOC_FAILED ? MOX_ENOMEM : MOX_ESYNTAX;
	}
	*bits_out = (unsigned)mbedtls_pk_get_bitlen(&k->pk);
	*out = k;
	return MOX_OK;
}

mox_err
mox__dkim_rsa_priv_generate(unsigned bits, const mox_allocator *alloc,
			    mox__dkim_rsa_priv **out)
{
	mox__dkim_rsa_priv *k;
	mox_err err = priv_alloc(alloc, &k);
	*out = NULL;
	if (err != MOX_OK)
		return err;
	if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
	    mbedtls_rsa_gen_key(mbedtls_pk_rsa(k->pk), rng, NULL, bits, 65537) != 0) {
		mox__dkim_rsa_priv_free(k);
		return MOX_EIO;
	}
	*out = k;
	return MOX_OK;
}

void
mox__dkim_rsa_priv_free(mox__dkim_rsa_priv *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	mox_mem_free(k->alloc, k);
}

mox_err
mox__dkim_rsa_sign(mox__dkim_rsa_priv *k, mox__dkim_hash_alg alg, const uint8_t *digest,
		   size_t digest_len, mox_buf *out)
{
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
	size_t n = mbedtls_rsa_get_len(rsa);
	mox_err err = mox_buf_reserve(out, n);
	if (err != MOX_OK)
		return err;
	if (mbedtls_rsa_pkcs1_sign(rsa, rng, NULL, MBEDTLS_RSA_PRIVATE, md_type(alg),
				   (unsigned)digest_len, digest, out->data + out->len) != 0)
		return MOX_EIO;
	out->len += n;
	out->data[out->len] = 0;
	return MOX_OK;
}

/* mbedTLS writes DER at the end of the buffer it is given. */
static mox_err
write_der(mox__dkim_rsa_priv *k, bool pub, mox_buf *out)
{
	const mox_allocator *a = k->alloc;
	unsigned char *tmp = mox_mem_alloc(a, DER_BUF_MAX);
	if (tmp == NULL)
		return MOX_ENOMEM;
	int n = pub ? mbedtls_pk_write_pubkey_der(&k->pk, tmp, DER_BUF_MAX)
		    : mbedtls_pk_write_key_der(&k->pk, tmp, DER_BUF_MAX);
	mox_err err = n > 0 ? mox_buf_append(out, tmp + DER_BUF_MAX - n, (size_t)n) : MOX_EIO;
	mox_mem_wipe(tmp, DER_BUF_MAX);
	mox_mem_free(a, tmp);
	return err;
}

mox_err
mox__dkim_rsa_priv_der(mox__dkim_rsa_priv *k, mox_buf *out)
{
	return write_der(k, false, out);
}

mox_err
mox__dkim_rsa_spki_der(mox__dkim_rsa_priv *k, mox_buf *out)
{
	return write_der(k, true, out);
}
