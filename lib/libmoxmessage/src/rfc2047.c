/* Unstructured header text and RFC 2047 encoded words.
 *
 * How this works: mox_msg_decode_text walks the raw field value once,
 * left to right, and sorts what it meets into three kinds of pieces:
 *
 *   - white space: a run of SP and HTAB within one line is kept as it is;
 *     a run that holds a line break (a fold, RFC 5322 section 2.2.3) reads
 *     as one SP, as Go's net/textproto (which mox uses) unfolds; leading and
 *     trailing white space is dropped;
 *   - encoded words, RFC 2047 section 2:
 *
 *       encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
 *       charset      = token    ; RFC 2231 section 5: may end in "*lang"
 *       encoding     = "Q" / "B"
 *
 *     Their bytes collect in a pending buffer while adjacent words share a
 *     charset, and are converted to UTF-8 together when the charset changes
 *     or other text follows: a broken encoder that splits a multibyte
 *     character over two words still decodes. White space between two
 *     encoded words is dropped (RFC 2047 section 6.2);
 *   - anything else: raw bytes, passed through as UTF-8 (RFC 6532), with
 *     invalid sequences replaced by U+FFFD.
 *
 * Leniency, as mail clients (and Go's mime.WordDecoder) read: an encoded
 * word may stand inside a word ("foo=?utf-8?q?bar?=", decoded without
 * adding spaces), its Q text may hold spaces, and a fold inside an encoded
 * word is dropped. What does not have the encoded-word form (no "?=" end,
 * an encoding other than Q or B, an empty charset, base64 that does not
 * decode) is kept as literal text. The text of an encoded word never holds
 * '?', so looking for its end stops at the first '?': scanning is linear.
 *
 * NUL never reaches the output: it becomes U+FFFD (MOX_MSG_WARN_NUL), so
 * the result is a clean C string. */
#include "msg_int.h"

#include <string.h>

/* Longest charset name (with a language suffix) we look up; RFC 2047
 * section 2 limits a whole encoded word to 75 characters. */
#define EW_CHARSET_MAX 64

static const uint8_t replacement[] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

static bool
is_crlf(uint8_t c)
{
	return c == '\r' || c == '\n';
}

static bool
is_space(uint8_t c)
{
	return mox__msg_is_wsp(c) || is_crlf(c);
}

/* RFC 2047 section 2: token = 1*<any CHAR except SPACE, CTLs, especials>,
 * especials = "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / DQUOTE /
 * "/" / "[" / "]" / "?" / "." / "=". We also accept '.', which some
 * senders put in charset names. */
static bool
is_ew_token(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("()<>@,;:\"/[]?=", c) == NULL;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One encoded word found in the input. */
typedef struct ew {
	char charset[EW_CHARSET_MAX + 1]; /* without the language suffix */
	uint8_t enc;                      /* 'Q' or 'B' */
	size_t text, text_end;            /* span of the encoded text */
	size_t end;                       /* just past "?=" */
} ew;

/* Recognise an encoded word at v[i] ("=?" already seen). Folds (a line
 * break and the white space after it) may appear inside the encoded text;
 * other line breaks may not. */
static bool
ew_scan(const uint8_t *v, size_t len, size_t i, ew *w)
{
	size_t p = i + 2, cs = p;
	while (p < len && is_ew_token(v[p]))
		p++;
	size_t cslen = p - cs;
	if (cslen == 0 || p >= len || v[p] != '?')
		return false;
	/* RFC 2231 section 5: charset "*" language. */
	for (size_t k = 0; k < cslen; k++) {
		if (v[cs + k] == '*') {
			cslen = k;
			break;
		}
	}
	if (cslen == 0 || cslen > EW_CHARSET_MAX)
		return false;
	p++;
	if (p + 1 >= len || v[p + 1] != '?')
		return false;
	uint8_t enc = v[p];
	if (enc == 'q')
		enc = 'Q';
	else if (enc == 'b')
		enc = 'B';
	if (enc != 'Q' && enc != 'B')
		return false;
	p += 2;
	size_t text = p;
	while (p < len && v[p] != '?') {
		if (is_crlf(v[p])) {
			/* Only a fold: CR? LF followed by white space. */
			size_t q = p;
			if (v[q] == '\r' && q + 1 < len && v[q + 1] == '\n')
				q++;
			if (q + 1 >= len || !mox__msg_is_wsp(v[q + 1]))
				return false;
			p = q + 1;
			continue;
		}
		p++;
	}
	if (p + 1 >= len || v[p + 1] != '=')
		return false;
	memcpy(w->charset, v + cs, cslen);
	w->charset[cslen] = '\0';
	w->enc = enc;
	w->text = text;
	w->text_end = p;
	w->end = p + 2;
	return true;
}

/* Decode the encoded text of w into out (octets in w's charset). B text
 * that is not base64 fails with MOX_ESYNTAX; bad Q escapes are kept as
 * they are and flagged. */
static mox_err
ew_decode(const uint8_t *v, const ew *w, mox_buf *out, unsigned *warn)
{
	size_t p = w->text, end = w->text_end;
	mox_err err = MOX_OK;
	if (w->enc == 'B') {
		/* White space (from folds) is skipped by the decoder. */
		mox_errinfo info;
		size_t before = out->len;
		err = mox_base64_decode(out, (const char *)v + p, end - p,
					MOX_BASE64_IGNORE_SPACE | MOX_BASE64_NOPAD,
					&info);
		if (err == MOX_ESYNTAX) {
			out->len = before;
			if (out->data != NULL)
				out->data[out->len] = '\0';
		}
		return err;
	}
	/* RFC 2047 section 4.2. */
	if ((err = mox_buf_reserve(out, end - p)) != MOX_OK)
		return err;
	while (p < end) {
		uint8_t c = v[p];
		if (is_crlf(c)) {
			/* A fold inside the word: drop it and the white space. */
			while (p < end && is_space(v[p]))
				p++;
			continue;
		}
		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			int hi = p + 1 < end ? hexval(v[p + 1]) : -1;
			int lo = p + 2 < end ? hexval(v[p + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				c = (uint8_t)(hi << 4 | lo);
				p += 2;
			} else {
				*warn |= MOX_MSG_WARN_BAD_ENCODING;
			}
		}
		out->data[out->len++] = c;
		p++;
	}
	out->data[out->len] = '\0';
	return MOX_OK;
}

/* Append text to out as UTF-8: invalid sequences and NUL become U+FFFD. */
static mox_err
append_clean(mox_buf *out, const uint8_t *p, size_t n, unsigned *warn)
{
	size_t run = 0;
	mox_err err;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != 0)
			continue;
		bool replaced = false;
		if ((err = mox__msg_utf8_sanitize(p + run, i - run, out, &replaced)) !=
		    MOX_OK)
			return err;
		if (replaced)
			*warn |= MOX_MSG_WARN_BAD_CHARSET;
		if (i < n) {
			if ((err = mox_buf_append(out, replacement, 3)) != MOX_OK)
				return err;
			*warn |= MOX_MSG_WARN_NUL;
		}
		run = i + 1;
	}
	return MOX_OK;
}

/* Decoder state: encoded-word octets waiting for conversion, and the
 * white space seen since the last piece. */
typedef struct dec {
	mox_buf *out;
	mox_buf pending;                     /* octets in charset */
	char charset[EW_CHARSET_MAX + 1];    /* of pending; "" when none */
	mox_buf conv;                        /* scratch for conversion */
	mox_buf word;                        /* one word's octets */
	size_t start;                        /* out->len at the start */
	const uint8_t *ws;                   /* white space to emit, or NULL */
	size_t wslen;
	bool after_ew;   /* the last piece was an encoded word */
	unsigned warn;
} dec;

/* Convert the pending encoded-word octets to UTF-8. */
static mox_err
flush_pending(dec *d)
{
	if (d->charset[0] == '\0')
		return MOX_OK;
	mox__msg_conv conv;
	mox_err err = mox__msg_conv_init(&conv, d->charset);
	if (err != MOX_OK)
		return err;
	if (conv.unknown)
		d->warn |= MOX_MSG_WARN_BAD_CHARSET;
	mox_buf_reset(&d->conv);
	err = mox__msg_conv_feed(&conv, d->pending.data, d->pending.len, true,
				 &d->conv);
	if (conv.replaced)
		d->warn |= MOX_MSG_WARN_BAD_CHARSET;
	mox__msg_conv_close(&conv);
	if (err == MOX_OK)
		err = append_clean(d->out, d->conv.data, d->conv.len, &d->warn);
	mox_buf_reset(&d->pending);
	d->charset[0] = '\0';
	return err;
}

static mox_err
flush_ws(dec *d)
{
	mox_err err = MOX_OK;
	/* Leading white space is dropped. Pending octets exist only after an
	 * encoded word, when white space is not written. */
	if (d->ws != NULL && d->out->len > d->start)
		err = mox_buf_append(d->out, d->ws, d->wslen);
	d->ws = NULL;
	return err;
}

mox_err
mox_msg_decode_text(const uint8_t *value, size_t len, mox_buf *out,
		    unsigned *warnings_out)
{
	if (warnings_out != NULL)
		*warnings_out = 0;
	if (out == NULL || (value == NULL && len > 0))
		return MOX_EINVAL;
	static const uint8_t sp = ' ';
	size_t start = out->len;
	dec d;
	memset(&d, 0, sizeof(d));
	d.out = out;
	d.start = start;
	mox_buf_init(&d.pending, out->alloc);
	mox_buf_init(&d.conv, out->alloc);
	mox_buf_init(&d.word, out->alloc);
	mox_err err = MOX_OK;
	size_t i = 0;
	while (i < len) {
		uint8_t c = value[i];
		if (is_space(c)) {
			size_t j = i;
			bool fold = false;
			while (j < len && is_space(value[j])) {
				if (is_crlf(value[j]))
					fold = true;
				j++;
			}
			d.ws = fold ? &sp : value + i;
			d.wslen = fold ? 1 : j - i;
			i = j;
			continue;
		}
		ew w;
		if (c == '=' && i + 1 < len && value[i + 1] == '?' &&
		    ew_scan(value, len, i, &w)) {
			mox_buf_reset(&d.word);
			err = ew_decode(value, &w, &d.word, &d.warn);
			if (err == MOX_ESYNTAX) {
				/* Not base64: the word stays as literal text. */
				d.warn |= MOX_MSG_WARN_BAD_ENCODING;
				if ((err = flush_pending(&d)) != MOX_OK ||
				    (err = flush_ws(&d)) != MOX_OK ||
				    (err = append_clean(out, value + i, w.end - i,
							&d.warn)) != MOX_OK)
					goto out;
				d.after_ew = false;
				i = w.end;
				continue;
			}
			if (err != MOX_OK)
				goto out;
			i = w.end;
			/* An empty word is no piece at all: "x =?q??=" is "x". */
			if (d.word.len == 0)
				continue;
			/* White space between encoded words goes; the pending
			 * octets are converted first when the charset changes. */
			bool same = d.charset[0] != '\0' &&
				    mox__msg_eq_nocase(w.charset, strlen(w.charset),
						       d.charset);
			if (!d.after_ew)
				err = flush_ws(&d);
			else if (!same)
				err = flush_pending(&d);
			if (err != MOX_OK ||
			    (err = mox_buf_append(&d.pending, d.word.data, d.word.len)) !=
				    MOX_OK)
				goto out;
			d.ws = NULL;
			if (d.charset[0] == '\0')
				memcpy(d.charset, w.charset, sizeof(d.charset));
			d.after_ew = true;
			continue;
		}
		/* Literal text up to white space or a possible encoded word. */
		size_t j = i + 1;
		while (j < len && !is_space(value[j]) &&
		       !(value[j] == '=' && j + 1 < len && value[j + 1] == '?'))
			j++;
		if ((err = flush_pending(&d)) != MOX_OK || (err = flush_ws(&d)) != MOX_OK)
			goto out;
		if ((err = append_clean(out, value + i, j - i, &d.warn)) != MOX_OK)
			goto out;
		d.after_ew = false;
		i = j;
	}
	err = flush_pending(&d);
out:
	mox_buf_free(&d.pending);
	mox_buf_free(&d.conv);
	mox_buf_free(&d.word);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		d.warn = 0;
	} else if (out->data == NULL) {
		/* Always leave a C string, even for empty input. */
		err = mox_buf_reserve(out, 0);
	}
	if (warnings_out != NULL)
		*warnings_out = d.warn;
	return err;
}
