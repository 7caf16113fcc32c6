/* Modified UTF-7 for mailbox names, RFC 3501 section 5.1.3: printable
 * ASCII stands for itself except "&", written "&-"; other characters are
 * UTF-16, base64 with "," for "/", between "&" and "-", without padding.
 * Decoding is strict, as the RFC asks: a shift must hold characters, must
 * not encode printable ASCII, and leftover bits must be zero, so each name
 * has one encoding (RFC 3501: "the encoded form ... MUST be used"). */
#include "imap_int.h"

#include <string.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;
	return p != NULL ? (int)(p - b64) : -1;
}

static mox_err
put_utf8(mox_buf *out, uint32_t cp)
{
	uint8_t b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return mox_buf_append(out, b, n);
}

mox_err
mox_imap_utf7_decode(const char *s, size_t len, mox_buf *out)
{
	if (out == NULL || (s == NULL && len > 0))
		return MOX_EINVAL;
	size_t orig = out->len;
	mox_err err = MOX_OK;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e) {
			err = MOX_ESYNTAX;
			goto out;
		}
		if (c != '&') {
			if ((err = mox_buf_append_byte(out, c)) != MOX_OK)
				goto out;
			i++;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if ((err = mox_buf_append_byte(out, '&')) != MOX_OK)
				goto out;
			i++;
			continue;
		}
		uint32_t bits = 0;
		int nbits = 0;
		uint32_t high = 0; /* pending high surrogate */
		size_t nchars = 0;
		while (i < len && s[i] != '-') {
			int v = b64val(s[i]);
			if (v < 0) {
				err = MOX_ESYNTAX;
				goto out;
			}
			bits = (bits << 6 | (uint32_t)v) & 0xffffff;
			nbits += 6;
			i++;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t u = (bits >> nbits) & 0xffff;
				nchars++;
				if (high != 0) {
					if (u < 0xdc00 || u > 0xdfff) {
						err = MOX_ESYNTAX;
						goto out;
					}
					u = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
					high = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					high = u;
					continue;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					err = MOX_ESYNTAX;
					goto out;
				} else if (u >= 0x20 && u <= 0x7e) {
					err = MOX_ESYNTAX; /* must be plain */
					goto out;
				}
				if ((err = put_utf8(out, u)) != MOX_OK)
					goto out;
			}
		}
		if (i >= len || high != 0 || nchars == 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0) {
			err = MOX_ESYNTAX;
			goto out;
		}
		i++; /* '-' */
		/* "&...-&...-" should have been one shift; accepted, as most
		 * servers do. */
	}
out:
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}

mox_err
mox_imap_utf7_encode(const char *s, size_t len, mox_buf *out)
{
	if (out == NULL || (s == NULL && len > 0))
		return MOX_EINVAL;
	if (!mox__imap_valid_utf8((const uint8_t *)s, len))
		return MOX_ESYNTAX;
	size_t orig = out->len;
	mox_err err = MOX_OK;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c <= 0x7e) {
			err = c == '&' ? mox_buf_append(out, "&-", 2)
				       : mox_buf_append_byte(out, c);
			if (err != MOX_OK)
				goto out;
			i++;
			continue;
		}
		if ((err = mox_buf_append_byte(out, '&')) != MOX_OK)
			goto out;
		uint32_t bits = 0;
		int nbits = 0;
		while (i < len && !((unsigned char)s[i] >= 0x20 &&
				    (unsigned char)s[i] <= 0x7e)) {
			unsigned char b = (unsigned char)s[i];
			uint32_t cp;
			size_t n;
			if (b < 0x80) {
				cp = b;
				n = 1;
			} else if (b < 0xe0) {
				cp = b & 0x1f;
				n = 2;
			} else if (b < 0xf0) {
				cp = b & 0x0f;
				n = 3;
			} else {
				cp = b & 0x07;
				n = 4;
			}
			for (size_t k = 1; k < n; k++)
				cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
			i += n;
			uint32_t units[2];
			size_t nu = 1;
			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
			}
			for (size_t k = 0; k < nu; k++) {
				bits = bits << 16 | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if ((err = mox_buf_append_byte(
						     out, (uint8_t)b64[(bits >> nbits) & 0x3f])) !=
					    MOX_OK)
						goto out;
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0 &&
		    (err = mox_buf_append_byte(out, (uint8_t)b64[(bits << (6 - nbits)) & 0x3f])) !=
			    MOX_OK)
			goto out;
		if ((err = mox_buf_append_byte(out, '-')) != MOX_OK)
			goto out;
	}
out:
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}
