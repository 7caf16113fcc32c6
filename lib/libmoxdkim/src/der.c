/* A minimal DER (ITU-T X.690) reader and writer: enough to tell PKCS#8
 * PrivateKeyInfo (RFC 5208, RFC 5958) for RSA and Ed25519 (RFC 8410)
 * apart, to unwrap and wrap it, and to turn a bare PKCS#1 RSAPublicKey
 * into a SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7). Definite
 * lengths only, at most 4 length octets; everything is bounds-checked,
 * since the input comes from DNS. */
#include "dkim_int.h"

#include <string.h>

/* AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
static const uint8_t rsa_algid[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				    0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

bool
mox__dkim_der_read(mox__dkim_der *d, uint8_t tag, mox__dkim_der *inner)
{
	if (d->len < 2 || d->p[0] != tag)
		return false;
	size_t n = d->p[1], hdr = 2;
	if (n & 0x80) {
		size_t k = n & 0x7f;
		if (k == 0 || k > 4 || d->len < 2 + k)
			return false;
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | d->p[2 + i];
		hdr += k;
	}
	if (n > d->len - hdr)
		return false;
	inner->p = d->p + hdr;
	inner->len = n;
	d->p += hdr + n;
	d->len -= hdr + n;
	return true;
}

mox_err
mox__dkim_der_write(mox_buf *out, uint8_t tag, const void *data, size_t len)
{
	uint8_t hdr[6];
	size_t h = 0;
	hdr[h++] = tag;
	if (len < 0x80) {
		hdr[h++] = (uint8_t)len;
	} else if (len < 0x100) {
		hdr[h++] = 0x81;
		hdr[h++] = (uint8_t)len;
	} else if (len < 0x10000) {
		hdr[h++] = 0x82;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else if (len < 0x1000000) {
		hdr[h++] = 0x83;
		hdr[h++] = (uint8_t)(len >> 16);
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		return MOX_ERANGE;
	}
	mox_err err = mox_buf_reserve(out, h + len);
	if (err != MOX_OK)
		return err;
	(void)mox_buf_append(out, hdr, h);
	return mox_buf_append(out, data, len);
}

mox_err
mox__dkim_rsa_spki_normalize(const uint8_t *der, size_t len, mox_buf *out)
{
	mox__dkim_der d = {der, len}, seq, peek;
	if (!mox__dkim_der_read(&d, 0x30, &seq) || d.len != 0)
		return MOX_ESYNTAX;
	peek = seq;
	mox__dkim_der first;
	if (mox__dkim_der_read(&peek, 0x30, &first))
		return mox_buf_append(out, der, len); /* already an SPKI */
	/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent
	 * INTEGER } (RFC 8017 appendix A.1.1). */
	peek = seq;
	mox__dkim_der n, e;
	if (!mox__dkim_der_read(&peek, 0x02, &n) || !mox__dkim_der_read(&peek, 0x02, &e) ||
	    peek.len != 0)
		return MOX_ESYNTAX;
	mox_buf bits = MOX_BUF_INIT, inner = MOX_BUF_INIT;
	bits.alloc = inner.alloc = out->alloc;
	mox_err err = mox_buf_append_byte(&bits, 0); /* no unused bits */
	if (err == MOX_OK)
		err = mox_buf_append(&bits, der, len);
	if (err == MOX_OK)
		err = mox_buf_append(&inner, rsa_algid, sizeof(rsa_algid));
	if (err == MOX_OK)
		err = mox__dkim_der_write(&inner, 0x03, bits.data, bits.len);
	if (err == MOX_OK)
		err = mox__dkim_der_write(out, 0x30, inner.data, inner.len);
	mox_buf_free(&bits);
	mox_buf_free(&inner);
	return err;
}
