/* Charset conversion to UTF-8 through iconv, never failing on bad input.
 *
 * Modes: UTF-8 and US-ASCII input is validated by hand (invalid sequences
 * become U+FFFD; 8-bit bytes labelled us-ascii are very often UTF-8, and
 * are kept when they are valid UTF-8); other charsets go through glibc's
 * iconv, where an invalid byte becomes U+FFFD and conversion goes on after
 * it; a charset iconv does not know is read as ISO-8859-1, which maps
 * every byte, so text is never lost. MIME names that iconv spells
 * differently are mapped first (a few common mail aliases). */
#include "msg_int.h"

#include <errno.h>
#include <string.h>

enum { MODE_UTF8 = 1, MODE_ICONV = 2, MODE_LATIN1 = 3 };

static const uint8_t replacement[] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

bool
mox__msg_eq_nocase(const void *a, size_t len, const char *b)
{
	const char *s = a;
	size_t n = strlen(b);
	if (n != len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (mox__msg_lower(s[i]) != mox__msg_lower(b[i]))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at p (1-4), 0 if invalid, or -1 if
 * it is a valid prefix cut off by the end of input. RFC 3629 section 4:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
static int
utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	int len;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		uint8_t b = p[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
			return 0;
	}
	return len;
}

/* Validate UTF-8 from data; returns bytes consumed. With final false an
 * incomplete sequence at the end is left unconsumed. */
static size_t
utf8_copy(const uint8_t *data, size_t len, bool final, mox_buf *out,
	  bool *replaced, mox_err *err)
{
	size_t i = 0, run = 0;
	*err = MOX_OK;
	while (i < len) {
		int n = utf8_seq(data + i, len - i);
		if (n > 0) {
			i += (size_t)n;
			continue;
		}
		if (n < 0 && !final)
			break;
		if ((*err = mox_buf_append(out, data + run, i - run)) != MOX_OK ||
		    (*err = mox_buf_append(out, replacement, 3)) != MOX_OK)
			return run;
		*replaced = true;
		if (n < 0) {
			/* A cut-off sequence at the very end: one U+FFFD. */
			i = len;
		} else {
			i++;
		}
		run = i;
	}
	if ((*err = mox_buf_append(out, data + run, i - run)) != MOX_OK)
		return run;
	return i;
}

bool
mox__msg_utf8_valid(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len;) {
		int n = utf8_seq(data + i, len - i);
		if (n <= 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

mox_err
mox__msg_utf8_sanitize(const uint8_t *data, size_t len, mox_buf *out,
		       bool *replaced)
{
	bool r = false;
	mox_err err;
	utf8_copy(data, len, true, out, &r, &err);
	if (replaced != NULL)
		*replaced = r;
	return err;
}

static const struct {
	const char *mime, *iconv;
} aliases[] = {
	{"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"},
	{"x-euc-jp", "EUC-JP"},      {"x-sjis", "SHIFT_JIS"},
	{"iso-8859-8-i", "ISO-8859-8"}, {"windows-874", "CP874"},
	{"gb2312", "GB18030"},       {"gbk", "GB18030"},
	{"x-gbk", "GB18030"},        {"unicode-1-1-utf-7", "UTF-7"},
	{"x-unknown", "ISO-8859-1"}, {"unknown-8bit", "ISO-8859-1"},
};

mox_err
mox__msg_conv_init(mox__msg_conv *conv, const char *charset)
{
	memset(conv, 0, sizeof(*conv));
	conv->cd = (iconv_t)-1;
	if (charset == NULL || mox__msg_eq_nocase(charset, strlen(charset), "utf-8") ||
	    mox__msg_eq_nocase(charset, strlen(charset), "utf8") ||
	    mox__msg_eq_nocase(charset, strlen(charset), "us-ascii") ||
	    mox__msg_eq_nocase(charset, strlen(charset), "ascii") ||
	    charset[0] == '\0') {
		conv->mode = MODE_UTF8;
		return MOX_OK;
	}
	const char *name = charset;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (mox__msg_eq_nocase(charset, strlen(charset), aliases[i].mime))
			name = aliases[i].iconv;
	if (strlen(name) > 64) {
		conv->mode = MODE_LATIN1;
		conv->unknown = true;
		return MOX_OK;
	}
	conv->cd = iconv_open("UTF-8", name);
	if (conv->cd == (iconv_t)-1) {
		if (errno == ENOMEM)
			return MOX_ENOMEM;
		conv->mode = MODE_LATIN1;
		conv->unknown = true;
		return MOX_OK;
	}
	conv->mode = MODE_ICONV;
	return MOX_OK;
}

static mox_err
latin1(const uint8_t *data, size_t len, mox_buf *out)
{
	mox_err err = mox_buf_reserve(out, len * 2);
	if (err != MOX_OK)
		return err;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (c < 0x80) {
			out->data[out->len++] = c;
		} else {
			out->data[out->len++] = (uint8_t)(0xc0 | c >> 6);
			out->data[out->len++] = (uint8_t)(0x80 | (c & 0x3f));
		}
	}
	out->data[out->len] = '\0';
	return MOX_OK;
}

static mox_err
iconv_run(mox__msg_conv *conv, const uint8_t *data, size_t len, bool final,
	  mox_buf *out)
{
	char *in = (char *)data;
	size_t inleft = len;
	while (inleft > 0) {
		mox_err err = mox_buf_reserve(out, inleft * 4 + 16);
		if (err != MOX_OK)
			return err;
		char *o = (char *)out->data + out->len;
		size_t oleft = out->cap - out->len - 1;
		size_t before = oleft;
		size_t rc = iconv(conv->cd, &in, &inleft, &o, &oleft);
		out->len += before - oleft;
		out->data[out->len] = '\0';
		if (rc != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !final) {
			/* Incomplete sequence: keep it for the next call. */
			if (inleft > sizeof(conv->pending)) {
				inleft = 0;
				break;
			}
			memcpy(conv->pending, in, inleft);
			conv->npending = inleft;
			return MOX_OK;
		}
		/* EILSEQ, or EINVAL at the end: replace one byte, go on. */
		if ((err = mox_buf_append(out, replacement, 3)) != MOX_OK)
			return err;
		conv->replaced = true;
		in++;
		inleft--;
		if (errno == EINVAL)
			break;
	}
	if (final) {
		/* Flush shift state (stateful encodings such as ISO-2022-JP). */
		mox_err err = mox_buf_reserve(out, 16);
		if (err != MOX_OK)
			return err;
		char *o = (char *)out->data + out->len;
		size_t oleft = out->cap - out->len - 1, before = oleft;
		iconv(conv->cd, NULL, NULL, &o, &oleft);
		out->len += before - oleft;
		out->data[out->len] = '\0';
	}
	return MOX_OK;
}

static mox_err
conv_direct(mox__msg_conv *conv, const uint8_t *data, size_t len, bool final,
	    mox_buf *out)
{
	mox_err err;
	switch (conv->mode) {
	case MODE_UTF8: {
		size_t used = utf8_copy(data, len, final, out, &conv->replaced, &err);
		if (err != MOX_OK)
			return err;
		/* What is left is a cut-off sequence of at most 3 bytes. */
		if (used < len) {
			memcpy(conv->pending, data + used, len - used);
			conv->npending = len - used;
		}
		return MOX_OK;
	}
	case MODE_ICONV:
		return iconv_run(conv, data, len, final, out);
	default:
		return latin1(data, len, out);
	}
}

mox_err
mox__msg_conv_feed(mox__msg_conv *conv, const uint8_t *data, size_t len,
		   bool final, mox_buf *out)
{
	if (conv->npending == 0)
		return conv_direct(conv, data, len, final, out);
	/* A sequence was cut at the previous chunk's end: convert it joined
	 * with this chunk. Rare (chunk boundaries inside a character). */
	mox_buf tmp;
	mox_buf_init(&tmp, out->alloc);
	mox_err err = mox_buf_append(&tmp, conv->pending, conv->npending);
	if (err == MOX_OK)
		err = mox_buf_append(&tmp, data, len);
	if (err == MOX_OK) {
		conv->npending = 0;
		err = conv_direct(conv, tmp.data, tmp.len, final, out);
	}
	mox_buf_free(&tmp);
	return err;
}

void
mox__msg_conv_close(mox__msg_conv *conv)
{
	if (conv->cd != (iconv_t)-1)
		iconv_close(conv->cd);
	conv->cd = (iconv_t)-1;
}

mox_err
mox_msg_charset_to_utf8(const char *charset, const void *data, size_t len,
			mox_buf *out, bool *replaced_out)
{
	if (replaced_out != NULL)
		*replaced_out = false;
	if (out == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	mox__msg_conv conv;
	mox_err err = mox__msg_conv_init(&conv, charset);
	if (err != MOX_OK)
		return err;
	if (conv.unknown) {
		mox__msg_conv_close(&conv);
		return MOX_EUNSUPPORTED;
	}
	size_t start = out->len;
	err = mox__msg_conv_feed(&conv, data, len, true, out);
	if (err != MOX_OK)
		out->len = start; /* all or nothing */
	if (out->data != NULL)
		out->data[out->len] = '\0';
	if (replaced_out != NULL)
		*replaced_out = conv.replaced;
	mox__msg_conv_close(&conv);
	return err;
}
