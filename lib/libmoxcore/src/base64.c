/* Base64, RFC 4648 section 4. The decoder is strict about the alphabet,
 * padding and trailing bits (RFC 4648 section 3.5), and optionally skips
 * white space as DKIM tag values need (RFC 6376 section 3.5). */
#include <mox/core.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
mox_base64_encoded_len(size_t n)
{
	size_t groups = n / 3 + (n % 3 != 0);
	if (groups > SIZE_MAX / 4)
		return SIZE_MAX;
	return groups * 4;
}

mox_err
mox_base64_encode(mox_buf *out, const void *data, size_t len)
{
	size_t elen = mox_base64_encoded_len(len);
	if (elen == SIZE_MAX)
		return MOX_ENOMEM;
	mox_err err = mox_buf_reserve(out, elen);
	if (err != MOX_OK)
		return err;
	const uint8_t *p = data;
	char *o = (char *)out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = '=';
	}
	out->len += elen;
	out->data[out->len] = '\0';
	return MOX_OK;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

mox_err
mox_base64_decode(mox_buf *out, const char *text, size_t len, unsigned flags,
		  mox_errinfo *info)
{
	size_t start = out->len;
	mox_err err = mox_buf_reserve(out, len / 4 * 3 + 3);
	if (err != MOX_OK)
		return err;
	uint32_t acc = 0;
	int n = 0;    /* sextets in acc */
	int pad = 0;  /* '=' seen */
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((flags & MOX_BASE64_IGNORE_SPACE) && is_space(c))
			continue;
		if (c == '=') {
			/* Padding only completes a group of 2 or 3 sextets. */
			if (n + pad < 2 || n + pad >= 4) {
				err = MOX_ESYNTAX;
				mox_errinfo_set(info, err, i, "misplaced '=' at %zu", i);
				goto fail;
			}
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0) {
			err = MOX_ESYNTAX;
			mox_errinfo_set(info, err, i,
					"invalid base64 character 0x%02x at %zu", c, i);
			goto fail;
		}
		if (pad > 0) {
			err = MOX_ESYNTAX;
			mox_errinfo_set(info, err, i, "data after padding at %zu", i);
			goto fail;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			out->data[out->len++] = (uint8_t)(acc >> 16);
			out->data[out->len++] = (uint8_t)(acc >> 8);
			out->data[out->len++] = (uint8_t)acc;
			acc = 0;
			n = 0;
		}
	}
	if (n == 1) {
		err = MOX_ESYNTAX;
		mox_errinfo_set(info, err, len, "truncated base64 group at end");
		goto fail;
	}
	if (n > 0) {
		if (n + pad != 4 && !((flags & MOX_BASE64_NOPAD) && pad == 0)) {
			err = MOX_ESYNTAX;
			mox_errinfo_set(info, err, len, "missing base64 padding");
			goto fail;
		}
		/* RFC 4648 section 3.5: the unused bits must be zero. */
		uint32_t mask = n == 2 ? 0xf : 0x3;
		if (acc & mask) {
			err = MOX_ESYNTAX;
			mox_errinfo_set(info, err, len, "non-zero trailing bits");
			goto fail;
		}
		if (n == 2) {
			out->data[out->len++] = (uint8_t)(acc >> 4);
		} else {
			out->data[out->len++] = (uint8_t)(acc >> 10);
			out->data[out->len++] = (uint8_t)(acc >> 2);
		}
	} else if (pad > 0) {
		err = MOX_ESYNTAX;
		mox_errinfo_set(info, err, len, "misplaced '='");
		goto fail;
	}
	out->data[out->len] = '\0';
	return MOX_OK;
fail:
	out->len = start;
	out->data[out->len] = '\0';
	return err;
}
