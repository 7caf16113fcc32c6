/* Canonicalization, RFC 6376 section 3.4, and the hashes built on it
 * (section 3.7), for streaming input.
 *
 * Body, simple (section 3.4.3): the body as is, but all empty lines at the
 * end reduced to one CRLF; an empty body or one without final CRLF gets a
 * CRLF. Streaming keeps a count of CRLFs seen at the end so far (pend_crlf)
 * and whether the last byte was a CR (pend_cr); content after them
 * releases them. Only CRLF ends a line: a bare CR or LF is content, as in
 * mox and dkimpy.
 *
 * Body, relaxed (section 3.4.4): runs of WSP become one SP, WSP at the end
 * of a line is dropped, empty lines at the end are dropped, and a non-empty
 * body without final CRLF gets one. The state is: a WSP run pending in
 * this line (emitted as SP only when content follows), whether the line
 * has content, the CRLFs of empty lines held back, and pend_cr. mox's
 * reading of two corner cases is kept (dkimpy differs): trailing WSP of a
 * last line without CRLF stays (as one SP) when the line has content, and
 * a last line of only WSP is dropped and replaced by a CRLF.
 *
 * l= (section 3.5): only the first l canonical bytes are hashed; the
 * canonical length is counted in full so a body shorter than l= shows.
 *
 * Memory: a fixed output buffer per hasher (MOX__DKIM_BODY_OUTBUF) that
 * collects small pieces before they go to the hash; nothing grows with the
 * body.
 *
 * Header fields, relaxed (section 3.4.2): name lower-cased and WSP before
 * the colon dropped; CRLFs of folding removed; WSP runs to one SP; WSP at
 * the start and end of the value dropped; "name:value" CRLF. Simple
 * (section 3.4.1): the field's bytes as in the message. */
#include "dkim_int.h"

#include <mox/message.h>

#include <string.h>

/* ---- body ---- */

static void
body_flush(mox__dkim_body *b)
{
	if (b->outlen > 0) {
		mox__dkim_hash_update(&b->hash, b->out, b->outlen);
		b->outlen = 0;
	}
}

static void
body_emit(mox__dkim_body *b, const uint8_t *p, size_t n)
{
	b->total += n;
	if (b->limit >= 0) {
		uint64_t room = (uint64_t)b->limit > b->hashed ? (uint64_t)b->limit - b->hashed : 0;
		if (n > room)
			n = (size_t)room;
	}
	if (n == 0)
		return;
	b->hashed += n;
	if (n >= sizeof(b->out) / 2) {
		body_flush(b);
		mox__dkim_hash_update(&b->hash, p, n);
		return;
	}
	if (b->outlen + n > sizeof(b->out))
		body_flush(b);
	memcpy(b->out + b->outlen, p, n);
	b->outlen += n;
}

static void
body_emit_crlfs(mox__dkim_body *b)
{
	for (; b->pend_crlf > 0; b->pend_crlf--)
		body_emit(b, (const uint8_t *)"\r\n", 2);
}

mox_err
mox__dkim_body_init(mox__dkim_body *b, const mox__dkim_crypto *c, mox_dkim_canon canon,
		    mox__dkim_hash_alg alg, int64_t limit)
{
	memset(b, 0, offsetof(mox__dkim_body, out));
	b->canon = canon;
	b->limit = limit;
	return mox__dkim_hash_init(&b->hash, c, alg);
}

void
mox__dkim_body_free(mox__dkim_body *b)
{
	mox__dkim_hash_free(&b->hash);
}

static void
simple_feed(mox__dkim_body *b, const uint8_t *d, size_t n)
{
	size_t i = 0;
	if (b->pend_cr) {
		b->pend_cr = false;
		if (d[0] == '\n') {
			b->pend_crlf++;
			i = 1;
		} else {
			body_emit_crlfs(b);
			body_emit(b, (const uint8_t *)"\r", 1);
		}
	}
	size_t e = n;
	bool tail_cr = false;
	if (e > i && d[e - 1] == '\r') {
		tail_cr = true;
		e--;
	}
	/* The CRLFs at the end of this chunk are held back. */
	size_t k = e;
	while (k - i >= 2 && d[k - 2] == '\r' && d[k - 1] == '\n')
		k -= 2;
	if (k > i) {
		body_emit_crlfs(b);
		body_emit(b, d + i, k - i);
	}
	b->pend_crlf += (e - k) / 2;
	b->pend_cr = tail_cr;
}

/* Relaxed: non-WSP content of the current line. */
static void
relaxed_content(mox__dkim_body *b, const uint8_t *p, size_t n)
{
	body_emit_crlfs(b);
	if (b->wsp) {
		body_emit(b, (const uint8_t *)" ", 1);
		b->wsp = false;
	}
	body_emit(b, p, n);
	b->line_content = true;
	b->line_open = true;
}

static void
relaxed_eol(mox__dkim_body *b)
{
	b->wsp = false; /* trailing WSP is dropped */
	if (b->line_content)
		body_emit(b, (const uint8_t *)"\r\n", 2);
	else
		b->pend_crlf++;
	b->line_content = false;
	b->line_open = false;
}

static void
relaxed_feed(mox__dkim_body *b, const uint8_t *d, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = d[i];
		if (b->pend_cr) {
			b->pend_cr = false;
			if (c == '\n') {
				relaxed_eol(b);
				i++;
				continue;
			}
			relaxed_content(b, (const uint8_t *)"\r", 1);
		}
		if (c == '\r') {
			b->pend_cr = true;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			b->wsp = true;
			b->line_open = true;
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && d[j] != '\r' && d[j] != ' ' && d[j] != '\t')
			j++;
		relaxed_content(b, d + i, j - i);
		i = j;
	}
}

void
mox__dkim_body_feed(mox__dkim_body *b, const uint8_t *data, size_t len)
{
	if (len == 0)
		return;
	b->any = true;
	if (b->canon == MOX_DKIM_RELAXED)
		relaxed_feed(b, data, len);
	else
		simple_feed(b, data, len);
}

mox_err
mox__dkim_body_final(mox__dkim_body *b, uint8_t *out, size_t *len_out)
{
	if (b->canon == MOX_DKIM_RELAXED) {
		if (b->pend_cr) {
			b->pend_cr = false;
			relaxed_content(b, (const uint8_t *)"\r", 1);
		}
		if (b->line_open) {
			if (b->line_content && b->wsp)
				body_emit(b, (const uint8_t *)" ", 1);
			body_emit(b, (const uint8_t *)"\r\n", 2);
		}
	} else {
		if (b->pend_cr) {
			b->pend_cr = false;
			body_emit_crlfs(b);
			body_emit(b, (const uint8_t *)"\r", 1);
		}
		body_emit(b, (const uint8_t *)"\r\n", 2);
	}
	body_flush(b);
	return mox__dkim_hash_final(&b->hash, out, len_out);
}

/* ---- header fields ---- */

mox_err
mox__dkim_canon_header_relaxed(const uint8_t *raw, size_t len, mox_buf *out)
{
	const uint8_t *colon = memchr(raw, ':', len);
	if (colon == NULL)
		return MOX_ESYNTAX;
	size_t nl = (size_t)(colon - raw);
	while (nl > 0 && mox__dkim_is_wsp(raw[nl - 1]))
		nl--;
	mox_err err = mox_buf_reserve(out, len + 1);
	if (err != MOX_OK)
		return err;
	uint8_t *o = out->data + out->len;
	size_t k = 0;
	for (size_t i = 0; i < nl; i++)
		o[k++] = mox__dkim_lower(raw[i]);
	o[k++] = ':';
	size_t vs = (size_t)(colon - raw) + 1;
	bool wsp = false, started = false;
	for (size_t i = vs; i < len; i++) {
		uint8_t c = raw[i];
		if (c == '\r' && i + 1 < len && raw[i + 1] == '\n')
			continue; /* unfold */
		if (c == '\n')
			continue;
		if (mox__dkim_is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && started)
			o[k++] = ' ';
		wsp = false;
		started = true;
		o[k++] = c;
	}
	out->len += k;
	out->data[out->len] = 0;
	return MOX_OK;
}

mox_err
mox__dkim_hash_header(mox__dkim_hash *h, mox_dkim_canon c, const uint8_t *raw, size_t len,
		      bool add_crlf, mox_buf *tmp)
{
	if (c == MOX_DKIM_SIMPLE) {
		mox__dkim_hash_update(h, raw, len);
		if (add_crlf)
			mox__dkim_hash_update(h, "\r\n", 2);
		return MOX_OK;
	}
	mox_buf_reset(tmp);
	mox_err err = mox__dkim_canon_header_relaxed(raw, len, tmp);
	if (err != MOX_OK)
		return err;
	if (add_crlf) {
		err = mox_buf_append(tmp, "\r\n", 2);
		if (err != MOX_OK)
			return err;
	}
	mox__dkim_hash_update(h, tmp->data, tmp->len);
	return MOX_OK;
}

/* Length of a field without its final line ending. */
static size_t
without_eol(const uint8_t *raw, size_t len)
{
	if (len > 0 && raw[len - 1] == '\n')
		len--;
	if (len > 0 && raw[len - 1] == '\r')
		len--;
	return len;
}

mox_err
mox__dkim_data_hash(const mox__dkim_crypto *c, mox__dkim_hash_alg alg, mox_dkim_canon hcanon,
		    const mox_msg_header *hdr, char *const *names, size_t nnames,
		    const uint8_t *sigfield, size_t siglen, size_t b_off, size_t b_end,
		    const mox_allocator *alloc, uint8_t *digest, size_t *digest_len)
{
	mox__dkim_hash h;
	mox_buf tmp = MOX_BUF_INIT, sig = MOX_BUF_INIT;
	tmp.alloc = sig.alloc = alloc;
	mox_err err = mox__dkim_hash_init(&h, c, alg);
	if (err != MOX_OK)
		goto out;
	/* RFC 6376 section 5.4.2: for a name listed n times, the last n
	 * instances are signed, bottom-up; names without (more) instances
	 * count as empty. */
	for (size_t i = 0; i < nnames; i++) {
		size_t nl = strlen(names[i]), earlier = 0;
		for (size_t j = 0; j < i; j++)
			if (mox__dkim_eq_nocase(names[j], strlen(names[j]), names[i]))
				earlier++;
		const mox_msg_field *f = NULL;
		for (size_t k = hdr->nfields; k > 0; k--) {
			const mox_msg_field *x = &hdr->fields[k - 1];
			if (x->name_len == nl && mox__dkim_eq_nocase(x->name, x->name_len, names[i]) &&
			    earlier-- == 0) {
				f = x;
				break;
			}
		}
		if (f == NULL)
			continue;
		/* A field's raw bytes end in its line ending; simple signs them
		 * as they are, relaxed adds CRLF. A last field without line
		 * ending (header with no body) gets one in both. */
		size_t body = without_eol(f->raw, f->raw_len);
		if (hcanon == MOX_DKIM_SIMPLE && body != f->raw_len)
			err = mox__dkim_hash_header(&h, hcanon, f->raw, f->raw_len, false, &tmp);
		else
			err = mox__dkim_hash_header(&h, hcanon, f->raw, body, true, &tmp);
		if (err != MOX_OK)
			goto out;
	}
	/* RFC 6376 section 3.7: then the DKIM-Signature field itself, with
	 * the b= value empty, canonicalized, without the final CRLF. */
	size_t sl = without_eol(sigfield, siglen);
	if (b_off > b_end || b_end > sl) {
		err = MOX_EINVAL;
		goto out;
	}
	if ((err = mox_buf_append(&sig, sigfield, b_off)) != MOX_OK ||
	    (err = mox_buf_append(&sig, sigfield + b_end, sl - b_end)) != MOX_OK)
		goto out;
	err = mox__dkim_hash_header(&h, hcanon, sig.data, sig.len, false, &tmp);
	if (err == MOX_OK)
		err = mox__dkim_hash_final(&h, digest, digest_len);
out:
	mox__dkim_hash_free(&h);
	mox_buf_free(&tmp);
	mox_buf_free(&sig);
	return err;
}

/* ---- the header section while streaming ---- */

mox_err
mox__dkim_hdrbuf_feed(mox__dkim_hdrbuf *hb, const uint8_t *data, size_t len, size_t *used_out)
{
	size_t used = 0;
	*used_out = 0;
	while (used < len && !hb->done) {
		const uint8_t *nl = memchr(data + used, '\n', len - used);
		size_t take = nl != NULL ? (size_t)(nl - (data + used)) + 1 : len - used;
		if (hb->buf.len + take > hb->max)
			return MOX_ELIMIT;
		mox_err err = mox_buf_append(&hb->buf, data + used, take);
		if (err != MOX_OK)
			return err;
		used += take;
		if (nl == NULL)
			break;
		/* A complete line at hb->scanned: as mox_msg_header_parse,
		 * an empty line ends the header, and so does a line that is
		 * neither a field nor a continuation (it is the body's). */
		const uint8_t *l = hb->buf.data + hb->scanned;
		size_t ll = hb->buf.len - hb->scanned, content = ll - 1;
		if (content > 0 && l[content - 1] == '\r')
			content--;
		if (content == 0) {
			hb->done = true;
			hb->end = hb->buf.len;
		} else if (!mox__dkim_is_wsp(l[0]) && memchr(l, ':', content) == NULL) {
			hb->done = true;
			hb->end = hb->scanned;
		}
		hb->scanned = hb->buf.len;
	}
	*used_out = used;
	return MOX_OK;
}
