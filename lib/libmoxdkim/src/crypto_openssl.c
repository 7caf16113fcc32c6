/* The crypto seam (crypto.h) on OpenSSL 3's libcrypto.
 *
 * The digest implementations are fetched once per mox__dkim_crypto (that
 * is, per signer or verifier handle): OpenSSL 3 looks them up by name on
 * every EVP_DigestInit with the legacy EVP_sha256() object, which costs
 * more than hashing a small message. Hash contexts are EVP_MD_CTX objects
 * kept in mox__dkim_hash's heap pointer. RSA keys are EVP_PKEY objects;
 * each signing or verification makes its own EVP_PKEY_CTX, so a key is
 * shared by threads without locks (OpenSSL 3 allows concurrent use of a
 * key that is not modified). OpenSSL allocates with its own allocator. */
#include "crypto.h"
#include "dkim_int.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <limits.h>
#include <string.h>

struct mox__dkim_crypto {
	const mox_allocator *alloc;
	EVP_MD *sha1;
	EVP_MD *sha256;
};

struct mox__dkim_rsa_pub {
	const mox_allocator *alloc;
	EVP_PKEY *pkey;
};

struct mox__dkim_rsa_priv {
	const mox_allocator *alloc;
	EVP_PKEY *pkey;
};

const char *
mox__dkim_crypto_backend(void)
{
	return "openssl";
}

mox_err
mox__dkim_crypto_new(const mox_allocator *alloc, mox__dkim_crypto **out)
{
	mox__dkim_crypto *c = mox_mem_calloc(alloc, 1, sizeof(*c));
	*out = NULL;
	if (c == NULL)
		return MOX_ENOMEM;
	c->alloc = alloc;
	c->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (c->sha1 == NULL || c->sha256 == NULL) {
		mox__dkim_crypto_free(c);
		return MOX_EIO;
	}
	*out = c;
	return MOX_OK;
}

void
mox__dkim_crypto_free(mox__dkim_crypto *c)
{
	if (c == NULL)
		return;
	EVP_MD_free(c->sha1);
	EVP_MD_free(c->sha256);
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
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	h->heap = x;
	if (x == NULL)
		return MOX_ENOMEM;
	const EVP_MD *md = alg == MOX__DKIM_SHA1 ? c->sha1 : c->sha256;
	if (EVP_DigestInit_ex2(x, md, NULL) != 1)
		return MOX_EIO;
	return MOX_OK;
}

void
mox__dkim_hash_update(mox__dkim_hash *h, const void *data, size_t len)
{
	if (len > 0)
		(void)EVP_DigestUpdate(h->heap, data, len);
}

mox_err
mox__dkim_hash_final(mox__dkim_hash *h, uint8_t *out, size_t *len_out)
{
	unsigned n = 0;
	EVP_MD_CTX *x = h->heap;
	const EVP_MD *md = h->alg == MOX__DKIM_SHA1 ? h->crypto->sha1 : h->crypto->sha256;
	if (EVP_DigestFinal_ex(x, out, &n) != 1 || EVP_DigestInit_ex2(x, md, NULL) != 1)
		return MOX_EIO;
	*len_out = n;
	return MOX_OK;
}

void
mox__dkim_hash_free(mox__dkim_hash *h)
{
	EVP_MD_CTX_free(h->heap);
	h->heap = NULL;
	h->alg = 0;
}

static const EVP_MD *
legacy_md(mox__dkim_hash_alg alg)
{
	return alg == MOX__DKIM_SHA1 ? EVP_sha1() : EVP_sha256();
}

mox_err
mox__dkim_rsa_pub_parse(const uint8_t *spki, size_t len, const mox_allocator *alloc,
			mox__dkim_rsa_pub **out, unsigned *bits_out)
{
	*out = NULL;
	if (len > LONG_MAX)
		return MOX_ESYNTAX;
	mox__dkim_rsa_pub *k = mox_mem_calloc(alloc, 1, sizeof(*k));
	if (k == NULL)
		return MOX_ENOMEM;
	k->alloc = alloc;
	const unsigned char *p = spki;
	k->pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (k->pkey == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA ||
	    p != spki + len) {
		mox__dkim_rsa_pub_free(k);
		return MOX_ESYNTAX;
	}
	*bits_out = (unsigned)EVP_PKEY_get_bits(k->pkey);
	*out = k;
	return MOX_OK;
}

void
mox__dkim_rsa_pub_free(mox__dkim_rsa_pub *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	mox_mem_free(k->alloc, k);
}

mox_err
mox__dkim_rsa_verify(const mox__dkim_rsa_pub *k, mox__dkim_hash_alg alg,
		     const uint8_t *digest, size_t digest_len, const uint8_t *sig,
		     size_t sig_len, bool *valid_out)
{
	*valid_out = false;
	if (sig_len != (size_t)EVP_PKEY_get_size(k->pkey))
		return MOX_OK;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
	if (ctx == NULL)
		return MOX_ENOMEM;
	mox_err err = MOX_EIO;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, legacy_md(alg)) != 1)
		goto out;
	/* 1: valid; 0 or negative: not a valid signature for this digest. */
	*valid_out = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
	err = MOX_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return err;
}

mox_err
mox__dkim_rsa_priv_parse(const uint8_t *der, size_t len, const mox_allocator *alloc,
			 mox__dkim_rsa_priv **out, unsigned *bits_out)
{
	*out = NULL;
	if (len > LONG_MAX)
		return MOX_ESYNTAX;
	mox__dkim_rsa_priv *k = mox_mem_calloc(alloc, 1, sizeof(*k));
	if (k == NULL)
		return MOX_ENOMEM;
	k->alloc = alloc;
	const unsigned char *p = der;
	k->pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	if (k->pkey == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
		mox__dkim_rsa_priv_free(k);
		return MOX_ESYNTAX;
	}
	*bits_out = (unsigned)EVP_PKEY_get_bits(k->pkey);
	*out = k;
	return MOX_OK;
}

mox_err
mox__dkim_rsa_priv_generate(unsigned bits, const mox_allocator *alloc,
			    mox__dkim_rsa_priv **out)
{
	*out = NULL;
	mox__dkim_rsa_priv *k = mox_mem_calloc(alloc, 1, sizeof(*k));
	if (k == NULL)
		return MOX_ENOMEM;
	k->alloc = alloc;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
	    EVP_PKEY_keygen(ctx, &k->pkey) != 1) {
		EVP_PKEY_CTX_free(ctx);
		mox__dkim_rsa_priv_free(k);
		return MOX_EIO;
	}
	EVP_PKEY_CTX_free(ctx);
	*out = k;
	return MOX_OK;
}

void
mox__dkim_rsa_priv_free(mox__dkim_rsa_priv *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	mox_mem_free(k->alloc, k);
}

mox_err
mox__dkim_rsa_sign(mox__dkim_rsa_priv *k, mox__dkim_hash_alg alg, const uint8_t *digest,
		   size_t digest_len, mox_buf *out)
{
	size_t n = (size_t)EVP_PKEY_get_size(k->pkey);
	mox_err err = mox_buf_reserve(out, n);
	if (err != MOX_OK)
		return err;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
	if (ctx == NULL)
		return MOX_ENOMEM;
	err = MOX_EIO;
	if (EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, legacy_md(alg)) != 1 ||
	    EVP_PKEY_sign(ctx, out->data + out->len, &n, digest, digest_len) != 1)
		goto out;
	out->len += n;
	out->data[out->len] = 0;
	err = MOX_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return err;
}

static mox_err
write_der(mox__dkim_rsa_priv *k, bool pub, mox_buf *out)
{
	unsigned char *der = NULL;
	int n = pub ? i2d_PUBKEY(k->pkey, &der) : i2d_PrivateKey(k->pkey, &der);
	if (n <= 0)
		return MOX_EIO;
	mox_err err = mox_buf_append(out, der, (size_t)n);
	if (!pub)
		OPENSSL_clear_free(der, (size_t)n);
	else
		OPENSSL_free(der);
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
