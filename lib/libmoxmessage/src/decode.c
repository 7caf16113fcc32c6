/* Content-Transfer-Encoding (RFC 2045 section 6) and streaming decoders.
 *
 * base64 (section 6.8) is decoded leniently, as mail clients do: characters
 * outside the alphabet are skipped (white space silently, anything else with
 * MOX_MSG_WARN_BAD_ENCODING), and decoding stops at padding. quoted-printable (section 6.7) is
 * a byte state machine: "=XX" (hex, either case) is an octet, "=" at the end
 * of a line (after optional transport padding) is a soft line break,
 * trailing white space before a line ending is dropped (rule 3), and a
 * malformed "=" sequence is passed through literally with a warning. Both
 * hold at most a few bytes of state between chunks, so any chunking gives
 * the same output. The decoded octets then go through the charset
 * converter (charset.c) when a charset is given. */
#include "msg_int.h"

#include <string.h>

mox_msg_cte
mox_msg_cte_parse(const uint8_t *v, size_t n)
{
	/* Trim white space and a trailing comment. */
	while (n > 0 && (mox__msg_is_wsp(v[0]) || v[0] == '\r' || v[0] == '\n')) {
		v++;
		n--;
	}
	size_t t = 0;
	while (t < n && v[t] != ' ' && v[t] != '\t' && v[t] != '(' && v[t] != ';' &&
	       v[t] != '\r' && v[t] != '\n')
		t++;
	if (t == 0 || mox__msg_eq_nocase(v, t, "7bit"))
		return MOX_MSG_CTE_7BIT;
	if (mox__msg_eq_nocase(v, t, "8bit"))
		return MOX_MSG_CTE_8BIT;
	if (mox__msg_eq_nocase(v, t, "binary"))
		return MOX_MSG_CTE_BINARY;
	if (mox__msg_eq_nocase(v, t, "quoted-printable"))
		return MOX_MSG_CTE_QP;
	if (mox__msg_eq_nocase(v, t, "base64"))
		return MOX_MSG_CTE_BASE64;
	return MOX_MSG_CTE_UNKNOWN;
}

const char *
mox_msg_cte_name(mox_msg_cte cte)
{
	switch (cte) {
	case MOX_MSG_CTE_7BIT:
		return "7bit";
	case MOX_MSG_CTE_8BIT:
		return "8bit";
	case MOX_MSG_CTE_BINARY:
		return "binary";
	case MOX_MSG_CTE_QP:
		return "quoted-printable";
	case MOX_MSG_CTE_BASE64:
		return "base64";
	case MOX_MSG_CTE_UNKNOWN:
		break;
	}
	return "unknown";
}

enum qp_state { QP_NORMAL, QP_CR, QP_WS, QP_EQ, QP_EQ_HEX, QP_EQ_WS, QP_EQ_CR };

/* Longest run of white space held back to see if a line ending follows. */
#define QP_WS_MAX 1024

struct mox_msg_decoder {
	const mox_allocator *alloc;
	mox_msg_cte cte;
	bool convert;
	mox__msg_conv conv;
	unsigned warnings;
	/* base64 */
	uint32_t acc;
	int nbits;
	bool b64_done; /* padding seen */
	/* quoted-printable */
	enum qp_state qp;
	uint8_t hex1;
	uint8_t ws[QP_WS_MAX];
	size_t nws;
	mox_buf tmp; /* decoded octets before charset conversion */
};

mox_err
mox_msg_decoder_new(mox_msg_decoder **dec_out, mox_msg_cte cte,
		    const char *charset, const mox_allocator *alloc)
{
	if (dec_out == NULL)
		return MOX_EINVAL;
	*dec_out = NULL;
	mox_msg_decoder *d = mox_mem_calloc(alloc, 1, sizeof(*d));
	if (d == NULL)
		return MOX_ENOMEM;
	d->alloc = alloc;
	d->cte = cte;
	d->conv.cd = (iconv_t)-1;
	mox_buf_init(&d->tmp, alloc);
	if (charset != NULL) {
		mox_err err = mox__msg_conv_init(&d->conv, charset);
		if (err != MOX_OK) {
			mox_mem_free(alloc, d);
			return err;
		}
		d->convert = true;
		if (d->conv.unknown)
			d->warnings |= MOX_MSG_WARN_BAD_CHARSET;
	}
	*dec_out = d;
	return MOX_OK;
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

static int
b64val(uint8_t c)
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

static mox_err
base64_feed(mox_msg_decoder *d, const uint8_t *p, size_t n, mox_buf *out)
{
	mox_err err = mox_buf_reserve(out, n / 4 * 3 + 3);
	if (err != MOX_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		int v = b64val(c);
		if (d->b64_done) {
			if (v >= 0)
				d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
			continue;
		}
		if (v < 0) {
			if (c == '=') {
				/* Padding ends the data: what follows (often an
				 * epilogue that lost its boundary) is ignored
				 * with a warning, as Go's and Python's decoders
				 * stop there too. */
				if (d->nbits == 6)
					d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
				d->acc = 0;
				d->nbits = 0;
				d->b64_done = true;
			} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
				d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
			}
			continue;
		}
		d->acc = (d->acc << 6 | (uint32_t)v) & 0xffffff;
		d->nbits += 6;
		if (d->nbits >= 8) {
			d->nbits -= 8;
			out->data[out->len++] = (uint8_t)(d->acc >> d->nbits);
		}
	}
	out->data[out->len] = '\0';
	return MOX_OK;
}

static mox_err
put(mox_buf *out, uint8_t c)
{
	return mox_buf_append_byte(out, c);
}

static mox_err
flush_ws(mox_msg_decoder *d, mox_buf *out)
{
	mox_err err = mox_buf_append(out, d->ws, d->nws);
	d->nws = 0;
	return err;
}

static mox_err
qp_byte(mox_msg_decoder *d, uint8_t c, mox_buf *out)
{
	mox_err err = MOX_OK;
	for (;;) {
		switch (d->qp) {
		case QP_NORMAL:
			if (c == '=')
				d->qp = QP_EQ;
			else if (c == ' ' || c == '\t') {
				d->ws[d->nws++] = c;
				d->qp = QP_WS;
			} else if (c == '\r')
				d->qp = QP_CR;
			else
				err = put(out, c);
			return err;
		case QP_CR:
			d->qp = QP_NORMAL;
			if (c == '\n')
				return mox_buf_append(out, "\r\n", 2);
			if ((err = put(out, '\r')) != MOX_OK)
				return err;
			continue; /* reprocess c */
		case QP_WS:
			if (c == ' ' || c == '\t') {
				if (d->nws == QP_WS_MAX && (err = flush_ws(d, out)) != MOX_OK)
					return err;
				d->ws[d->nws++] = c;
				return MOX_OK;
			}
			if (c == '\r' || c == '\n') {
				/* Rule 3: trailing white space is not content. */
				d->nws = 0;
			} else if ((err = flush_ws(d, out)) != MOX_OK) {
				return err;
			}
			d->qp = QP_NORMAL;
			continue;
		case QP_EQ:
			if (hexval(c) >= 0) {
				d->hex1 = c;
				d->qp = QP_EQ_HEX;
				return MOX_OK;
			}
			if (c == ' ' || c == '\t') {
				d->qp = QP_EQ_WS;
				return MOX_OK;
			}
			if (c == '\r') {
				d->qp = QP_EQ_CR;
				return MOX_OK;
			}
			if (c == '\n') {
				d->qp = QP_NORMAL; /* soft line break, bare LF */
				return MOX_OK;
			}
			d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
			d->qp = QP_NORMAL;
			if ((err = put(out, '=')) != MOX_OK)
				return err;
			continue;
		case QP_EQ_HEX:
			d->qp = QP_NORMAL;
			if (hexval(c) >= 0)
				return put(out, (uint8_t)(hexval(d->hex1) << 4 | hexval(c)));
			d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
			if ((err = put(out, '=')) != MOX_OK || (err = put(out, d->hex1)) != MOX_OK)
				return err;
			continue;
		case QP_EQ_WS:
			if (c == ' ' || c == '\t')
				return MOX_OK;
			if (c == '\r') {
				d->qp = QP_EQ_CR;
				return MOX_OK;
			}
			if (c == '\n') {
				d->qp = QP_NORMAL;
				return MOX_OK;
			}
			/* "= x": not a soft break; keep the '='. */
			d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
			d->qp = QP_NORMAL;
			if ((err = put(out, '=')) != MOX_OK)
				return err;
			continue;
		case QP_EQ_CR:
			d->qp = QP_NORMAL;
			if (c == '\n')
				return MOX_OK; /* soft line break */
			continue;          /* "=\r" then text: soft break anyway */
		}
	}
}

static mox_err
qp_end(mox_msg_decoder *d, mox_buf *out)
{
	mox_err err = MOX_OK;
	switch (d->qp) {
	case QP_CR:
		err = put(out, '\r');
		break;
	case QP_EQ:
		/* "=" at the very end: a soft line break whose line ending
		 * went to the boundary delimiter (RFC 2046 section 5.1.1). */
		break;
	case QP_EQ_HEX:
		/* "=X" at the very end. */
		d->warnings |= MOX_MSG_WARN_BAD_ENCODING;
		err = put(out, '=');
		if (err == MOX_OK)
			err = put(out, d->hex1);
		break;
	case QP_WS:
		/* Trailing white space at the end of the body is dropped
		 * too. */
	case QP_NORMAL:
	case QP_EQ_WS:
	case QP_EQ_CR:
		break;
	}
	d->qp = QP_NORMAL;
	d->nws = 0;
	return err;
}

static mox_err
decode_into(mox_msg_decoder *d, const uint8_t *p, size_t n, mox_buf *out)
{
	switch (d->cte) {
	case MOX_MSG_CTE_BASE64:
		return base64_feed(d, p, n, out);
	case MOX_MSG_CTE_QP:
		for (size_t i = 0; i < n; i++) {
			mox_err err = qp_byte(d, p[i], out);
			if (err != MOX_OK)
				return err;
		}
		return MOX_OK;
	default:
		return mox_buf_append(out, p, n);
	}
}

static mox_err
convert(mox_msg_decoder *d, bool final, mox_buf *out)
{
	mox_err err = mox__msg_conv_feed(&d->conv, d->tmp.data ? d->tmp.data : (const uint8_t *)"",
					 d->tmp.len, final, out);
	mox_buf_reset(&d->tmp);
	if (d->conv.replaced)
		d->warnings |= MOX_MSG_WARN_BAD_CHARSET;
	return err;
}

mox_err
mox_msg_decoder_feed(mox_msg_decoder *d, const void *data, size_t len,
		     mox_buf *out)
{
	if (d == NULL || out == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (!d->convert)
		return decode_into(d, data, len, out);
	mox_err err = decode_into(d, data, len, &d->tmp);
	if (err != MOX_OK)
		return err;
	return convert(d, false, out);
}

mox_err
mox_msg_decoder_end(mox_msg_decoder *d, mox_buf *out)
{
	if (d == NULL || out == NULL)
		return MOX_EINVAL;
	mox_buf *dst = d->convert ? &d->tmp : out;
	mox_err err = MOX_OK;
	if (d->cte == MOX_MSG_CTE_QP)
		err = qp_end(d, dst);
	else if (d->cte == MOX_MSG_CTE_BASE64 && d->nbits >= 6)
		d->warnings |= MOX_MSG_WARN_BAD_ENCODING; /* a lone sextet */
	d->acc = 0;
	d->nbits = 0;
	if (err == MOX_OK && d->convert)
		err = convert(d, true, out);
	return err;
}

unsigned
mox_msg_decoder_warnings(const mox_msg_decoder *d)
{
	return d != NULL ? d->warnings : 0;
}

void
mox_msg_decoder_free(mox_msg_decoder *d)
{
	if (d == NULL)
		return;
	mox__msg_conv_close(&d->conv);
	mox_buf_free(&d->tmp);
	mox_mem_free(d->alloc, d);
}

mox_err
mox_msg_part_decode(const mox_msg_part *part, const uint8_t *msg_data,
		    size_t msg_len, mox_buf *out, unsigned *warnings_out)
{
	if (warnings_out != NULL)
		*warnings_out = 0;
	if (part == NULL || out == NULL || msg_data == NULL ||
	    part->end_offset > msg_len || part->body_offset > part->end_offset)
		return MOX_EINVAL;
	/* Text is converted to UTF-8; default charset us-ascii (RFC 2045
	 * section 5.2), read as UTF-8 with replacement. */
	const char *charset = NULL;
	if (part->type != NULL && strcmp(part->type, "text") == 0)
		charset = part->charset != NULL ? part->charset : "us-ascii";
	mox_msg_decoder *d = NULL;
	mox_err err = mox_msg_decoder_new(&d, part->cte, charset, out->alloc);
	if (err != MOX_OK)
		return err;
	size_t start = out->len;
	err = mox_msg_decoder_feed(d, msg_data + part->body_offset,
				   part->end_offset - part->body_offset, out);
	if (err == MOX_OK)
		err = mox_msg_decoder_end(d, out);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	if (warnings_out != NULL)
		*warnings_out = mox_msg_decoder_warnings(d);
	mox_msg_decoder_free(d);
	return err;
}
