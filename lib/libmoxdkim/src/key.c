/* DKIM private keys: PEM (RFC 7468) holding PKCS#8 PrivateKeyInfo (RFC
 * 5208, RFC 5958) for RSA (rsaEncryption, RFC 8017) or Ed25519 (RFC 8410),
 * as mox writes them, or a PKCS#1 RSAPrivateKey ("RSA PRIVATE KEY").
 *
 *   PrivateKeyInfo ::= SEQUENCE {
 *     version                   INTEGER (0 or 1),
 *     privateKeyAlgorithm       AlgorithmIdentifier,
 *     privateKey                OCTET STRING,     -- RSAPrivateKey or
 *                                                 -- CurvePrivateKey
 *     attributes           [0]  Attributes OPTIONAL,
 *     publicKey            [1]  BIT STRING OPTIONAL }
 *
 * We read the outer layers ourselves (mbedTLS 2.28 does not know the
 * Ed25519 OID) and give the RSAPrivateKey to the crypto backend. Keys are
 * parsed once; a mox_dkim_key is immutable afterwards. PEM headers such as
 * mox's "Note: ..." line (RFC 1421 style, before a blank line) are
 * skipped. Secrets in temporary buffers are wiped. */
#include "dkim_int.h"

#include <string.h>

/* OIDs, DER contents only. */
static const uint8_t oid_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70}; /* 1.3.101.112 */

static void
wipe_buf(mox_buf *b)
{
	if (b->data != NULL)
		mox_mem_wipe(b->data, b->cap);
	mox_buf_free(b);
}

void
mox_dkim_key_free(mox_dkim_key *key)
{
	if (key == NULL)
		return;
	const mox_allocator *a = key->alloc;
	mox__dkim_rsa_priv_free(key->rsa);
	mox_mem_wipe(key, sizeof(*key));
	mox_mem_free(a, key);
}

mox_dkim_key_type
mox_dkim_key_get_type(const mox_dkim_key *key)
{
	return key != NULL ? key->type : MOX_DKIM_KEY_UNKNOWN;
}

unsigned
mox_dkim_key_bits(const mox_dkim_key *key)
{
	return key != NULL ? key->bits : 0;
}

/* Find "-----BEGIN <label>-----" ... "-----END <label>-----" and decode
 * the base64 between, skipping RFC 1421 headers. */
static mox_err
pem_decode(const char *s, size_t n, mox_buf *der, char *label, size_t label_size,
	   mox_errinfo *info)
{
	static const char begin[] = "-----BEGIN ";
	const char *p = NULL;
	for (size_t i = 0; i + sizeof(begin) - 1 <= n; i++)
		if (memcmp(s + i, begin, sizeof(begin) - 1) == 0 && (i == 0 || s[i - 1] == '\n')) {
			p = s + i + sizeof(begin) - 1;
			break;
		}
	if (p == NULL)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "no PEM block");
	const char *end = s + n;
	const char *dash = NULL;
	for (const char *q = p; q + 5 <= end; q++) {
		if (*q == '\n')
			break;
		if (memcmp(q, "-----", 5) == 0) {
			dash = q;
			break;
		}
	}
	if (dash == NULL || (size_t)(dash - p) >= label_size)
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(p - s), "bad PEM BEGIN line");
	memcpy(label, p, (size_t)(dash - p));
	label[dash - p] = '\0';
	const char *q = memchr(dash, '\n', (size_t)(end - dash));
	if (q == NULL)
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(dash - s), "PEM block not closed");
	q++;
	/* Headers: lines with ':' up to an empty line. */
	const char *hl = q;
	const char *eol = memchr(hl, '\n', (size_t)(end - hl));
	if (eol != NULL && memchr(hl, ':', (size_t)(eol - hl)) != NULL) {
		while (hl < end) {
			eol = memchr(hl, '\n', (size_t)(end - hl));
			if (eol == NULL)
				return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(hl - s),
						       "PEM block not closed");
			size_t ll = (size_t)(eol - hl);
			if (ll > 0 && hl[ll - 1] == '\r')
				ll--;
			hl = eol + 1;
			if (ll == 0)
				break;
		}
		q = hl;
	}
	static const char endmark[] = "-----END ";
	const char *e = NULL;
	for (const char *x = q; x + sizeof(endmark) - 1 <= end; x++)
		if (memcmp(x, endmark, sizeof(endmark) - 1) == 0) {
			e = x;
			break;
		}
	if (e == NULL)
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(q - s), "no PEM END line");
	size_t ll = strlen(label);
	if ((size_t)(end - e) < sizeof(endmark) - 1 + ll + 5 ||
	    memcmp(e + sizeof(endmark) - 1, label, ll) != 0 ||
	    memcmp(e + sizeof(endmark) - 1 + ll, "-----", 5) != 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(e - s),
				       "PEM END line does not match BEGIN");
	mox_errinfo bi;
	mox_err err = mox_base64_decode(der, q, (size_t)(e - q), MOX_BASE64_IGNORE_SPACE, &bi);
	if (err == MOX_ENOMEM)
		return mox_errinfo_set(info, err, 0, "out of memory");
	if (err != MOX_OK)
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(q - s) + bi.offset,
				       "bad base64 in PEM: %s", bi.msg);
	return MOX_OK;
}

static mox_err
key_alloc(const mox_allocator *alloc, mox_dkim_key **out)
{
	*out = mox_mem_calloc(alloc, 1, sizeof(**out));
	if (*out == NULL)
		return MOX_ENOMEM;
	(*out)->alloc = alloc;
	return MOX_OK;
}

static mox_err
rsa_from_pkcs1(const uint8_t *der, size_t len, const mox_allocator *alloc, mox_dkim_key **out,
	       mox_errinfo *info)
{
	mox_dkim_key *k;
	mox_err err = key_alloc(alloc, &k);
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "out of memory");
	err = mox__dkim_rsa_priv_parse(der, len, alloc, &k->rsa, &k->bits);
	if (err != MOX_OK) {
		mox_dkim_key_free(k);
		return mox_errinfo_set(info, err, 0, err == MOX_ENOMEM ? "out of memory"
								   : "bad RSA private key");
	}
	k->type = MOX_DKIM_KEY_RSA;
	if (k->bits < MOX_DKIM_RSA_BITS_MIN || k->bits > MOX_DKIM_RSA_BITS_MAX) {
		unsigned bits = k->bits;
		mox_dkim_key_free(k);
		return mox_errinfo_set(info, MOX_ERANGE, 0, "RSA key of %u bits, need %d to %d",
				       bits, MOX_DKIM_RSA_BITS_MIN, MOX_DKIM_RSA_BITS_MAX);
	}
	*out = k;
	return MOX_OK;
}

static mox_err
ed25519_from_seed(const uint8_t *seed, const mox_allocator *alloc, mox_dkim_key **out)
{
	mox_dkim_key *k;
	mox_err err = mox__dkim_sodium_init();
	if (err == MOX_OK)
		err = key_alloc(alloc, &k);
	if (err != MOX_OK)
		return err;
	k->type = MOX_DKIM_KEY_ED25519;
	k->bits = 256;
	mox__dkim_ed25519_from_seed(seed, k->ed_sk, k->ed_pk);
	*out = k;
	return MOX_OK;
}

/* PKCS#8 PrivateKeyInfo. */
static mox_err
from_pkcs8(const uint8_t *der, size_t len, const mox_allocator *alloc, mox_dkim_key **out,
	   mox_errinfo *info)
{
	mox__dkim_der d = {der, len}, seq, ver, alg, oid, pk, seed;
	if (!mox__dkim_der_read(&d, 0x30, &seq) || d.len != 0 ||
	    !mox__dkim_der_read(&seq, 0x02, &ver) || ver.len != 1 || ver.p[0] > 1 ||
	    !mox__dkim_der_read(&seq, 0x30, &alg) || !mox__dkim_der_read(&alg, 0x06, &oid) ||
	    !mox__dkim_der_read(&seq, 0x04, &pk))
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "bad PKCS#8 private key");
	if (oid.len == sizeof(oid_rsa) && memcmp(oid.p, oid_rsa, oid.len) == 0)
		return rsa_from_pkcs1(pk.p, pk.len, alloc, out, info);
	if (oid.len == sizeof(oid_ed25519) && memcmp(oid.p, oid_ed25519, oid.len) == 0) {
		/* RFC 8410 section 7: CurvePrivateKey ::= OCTET STRING (the
		 * 32-byte seed); no parameters in the AlgorithmIdentifier. */
		if (alg.len != 0 || !mox__dkim_der_read(&pk, 0x04, &seed) || pk.len != 0 ||
		    seed.len != MOX__DKIM_ED25519_SEED)
			return mox_errinfo_set(info, MOX_ESYNTAX, 0, "bad Ed25519 private key");
		mox_err err = ed25519_from_seed(seed.p, alloc, out);
		return err == MOX_OK ? MOX_OK : mox_errinfo_set(info, err, 0, "%s", mox_strerror(err));
	}
	return mox_errinfo_set(info, MOX_ESYNTAX, 0,
			       "private key is neither RSA nor Ed25519");
}

mox_err
mox_dkim_key_parse_pem(const void *pem, size_t len, const mox_allocator *alloc,
		       mox_dkim_key **key_out, mox_errinfo *info)
{
	if (key_out == NULL || (pem == NULL && len > 0))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "invalid argument");
	*key_out = NULL;
	char label[64];
	mox_buf der = MOX_BUF_INIT;
	der.alloc = alloc;
	mox_err err = pem_decode(pem, len, &der, label, sizeof(label), info);
	if (err == MOX_OK) {
		if (strcmp(label, "PRIVATE KEY") == 0)
			err = from_pkcs8(der.data, der.len, alloc, key_out, info);
		else if (strcmp(label, "RSA PRIVATE KEY") == 0)
			err = rsa_from_pkcs1(der.data, der.len, alloc, key_out, info);
		else
			err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
					      "PEM block \"%s\" is not a private key", label);
	}
	wipe_buf(&der);
	return err;
}

mox_err
mox_dkim_key_generate(mox_dkim_key_type type, unsigned bits, const mox_allocator *alloc,
		      mox_dkim_key **key_out)
{
	if (key_out == NULL)
		return MOX_EINVAL;
	*key_out = NULL;
	if (type == MOX_DKIM_KEY_ED25519) {
		uint8_t seed[MOX__DKIM_ED25519_SEED];
		mox_err err = mox__dkim_sodium_init();
		if (err != MOX_OK)
			return err;
		mox__dkim_random(seed, sizeof(seed));
		err = ed25519_from_seed(seed, alloc, key_out);
		mox_mem_wipe(seed, sizeof(seed));
		return err;
	}
	if (type != MOX_DKIM_KEY_RSA)
		return MOX_EINVAL;
	if (bits == 0)
		bits = MOX_DKIM_RSA_BITS_DEFAULT;
	if (bits < MOX_DKIM_RSA_BITS_MIN || bits > MOX_DKIM_RSA_BITS_MAX)
		return MOX_ERANGE;
	mox_err err = mox__dkim_sodium_init();
	if (err != MOX_OK)
		return err;
	mox_dkim_key *k;
	if ((err = key_alloc(alloc, &k)) != MOX_OK)
		return err;
	err = mox__dkim_rsa_priv_generate(bits, alloc, &k->rsa);
	if (err != MOX_OK) {
		mox_dkim_key_free(k);
		return err;
	}
	k->type = MOX_DKIM_KEY_RSA;
	k->bits = bits;
	*key_out = k;
	return MOX_OK;
}

/* The PKCS#8 DER of a key. */
static mox_err
pkcs8_der(const mox_dkim_key *k, mox_buf *out)
{
	mox_buf inner = MOX_BUF_INIT, pk = MOX_BUF_INIT;
	inner.alloc = pk.alloc = out->alloc;
	static const uint8_t version0[] = {0x02, 0x01, 0x00};
	mox_err err = mox_buf_append(&inner, version0, sizeof(version0));
	if (k->type == MOX_DKIM_KEY_RSA) {
		static const uint8_t algid[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
						0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
		if (err == MOX_OK)
			err = mox_buf_append(&inner, algid, sizeof(algid));
		if (err == MOX_OK)
			err = mox__dkim_rsa_priv_der(k->rsa, &pk);
	} else {
		static const uint8_t algid[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
		if (err == MOX_OK)
			err = mox_buf_append(&inner, algid, sizeof(algid));
		if (err == MOX_OK)
			err = mox__dkim_der_write(&pk, 0x04, k->ed_sk, MOX__DKIM_ED25519_SEED);
	}
	if (err == MOX_OK)
		err = mox__dkim_der_write(&inner, 0x04, pk.data, pk.len);
	if (err == MOX_OK)
		err = mox__dkim_der_write(out, 0x30, inner.data, inner.len);
	wipe_buf(&inner);
	wipe_buf(&pk);
	return err;
}

mox_err
mox_dkim_key_write_pem(const mox_dkim_key *key, const char *note, mox_buf *out)
{
	if (key == NULL || out == NULL)
		return MOX_EINVAL;
	if (note != NULL && (strchr(note, '\n') != NULL || strchr(note, '\r') != NULL))
		return MOX_EINVAL;
	size_t start = out->len;
	mox_buf der = MOX_BUF_INIT, b64 = MOX_BUF_INIT;
	der.alloc = b64.alloc = out->alloc;
	mox_err err = pkcs8_der(key, &der);
	if (err == MOX_OK)
		err = mox_base64_encode(&b64, der.data, der.len);
	if (err == MOX_OK)
		err = mox_buf_append_str(out, "-----BEGIN PRIVATE KEY-----\n");
	if (err == MOX_OK && note != NULL)
		err = mox_buf_appendf(out, "Note: %s\n\n", note);
	/* RFC 7468 section 2: 64 characters per line. */
	for (size_t i = 0; err == MOX_OK && i < b64.len; i += 64) {
		size_t n = b64.len - i < 64 ? b64.len - i : 64;
		err = mox_buf_append(out, b64.data + i, n);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, '\n');
	}
	if (err == MOX_OK)
		err = mox_buf_append_str(out, "-----END PRIVATE KEY-----\n");
	wipe_buf(&der);
	wipe_buf(&b64);
	if (err != MOX_OK && out->data != NULL) {
		mox_mem_wipe(out->data + start, out->len - start);
		out->len = start;
		out->data[start] = 0;
	}
	return err;
}

mox_err
mox_dkim_key_public_base64(const mox_dkim_key *key, mox_buf *out)
{
	if (key == NULL || out == NULL)
		return MOX_EINVAL;
	if (key->type == MOX_DKIM_KEY_ED25519)
		return mox_base64_encode(out, key->ed_pk, sizeof(key->ed_pk));
	mox_buf der = MOX_BUF_INIT;
	der.alloc = out->alloc;
	mox_err err = mox__dkim_rsa_spki_der(key->rsa, &der);
	if (err == MOX_OK)
		err = mox_base64_encode(out, der.data, der.len);
	mox_buf_free(&der);
	return err;
}

mox_err
mox_dkim_key_txt_record(const mox_dkim_key *key, mox_buf *out)
{
	if (key == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	/* As mox's "dkim txt": h=sha256 and t=s, k= only for ed25519. */
	mox_err err = mox_buf_append_str(out, key->type == MOX_DKIM_KEY_ED25519
						      ? "v=DKIM1;h=sha256;k=ed25519;t=s;p="
						      : "v=DKIM1;h=sha256;t=s;p=");
	if (err == MOX_OK)
		err = mox_dkim_key_public_base64(key, out);
	if (err != MOX_OK && out->data != NULL) {
		out->len = start;
		out->data[start] = 0;
	}
	return err;
}
