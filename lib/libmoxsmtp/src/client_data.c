/* Message data from the client: DATA (RFC 5321 section 4.1.1.4) with
 * dot-stuffing (section 4.5.2), or BDAT chunks (RFC 3030 section 2).
 *
 * The caller's bytes go straight into the output, never into a copy of
 * the whole message. Line endings are made CRLF (RFC 5321 section 2.3.8:
 * CR and LF only as a pair): a bare LF and a bare CR each become CRLF. A
 * CR at the end of a chunk waits (pending_cr) for the next byte to tell.
 * Each input byte gives at most two output bytes ("\n" -> "\r\n", "." at
 * a line start -> ".."), so taking room/2 input bytes never overflows.
 * BDAT chunks are one per call; the message ends with "BDAT 0 LAST"
 * (RFC 3030 section 2 allows an empty last chunk), so the size need not
 * be known in advance. Without PIPELINING each BDAT waits for the reply to
 * the one before (RFC 3030 section 4.2): data() then takes nothing and
 * EV_DATA comes again once the reply is in; data_end() is remembered and
 * the last chunk goes out after the reply. */
#include "client_int.h"

#include <string.h>

typedef struct norm {
	bool pending_cr;
	bool bol;
	bool dots;
} norm;

static void
emit(uint8_t *out, size_t *n, uint8_t b)
{
	out[(*n)++] = b;
}

/* Normalize in[0..len) into out (room for 2 * len + 2 bytes). */
static size_t
normalize(norm *st, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = in[i];
		if (st->pending_cr) {
			st->pending_cr = false;
			emit(out, &n, '\r');
			emit(out, &n, '\n');
			st->bol = true;
			if (b == '\n')
				continue;
		}
		if (b == '\r') {
			st->pending_cr = true;
			continue;
		}
		if (b == '\n') {
			emit(out, &n, '\r');
			emit(out, &n, '\n');
			st->bol = true;
			continue;
		}
		/* RFC 5321 section 4.5.2: a line starting with "." gets
		 * another one. */
		if (st->bol && b == '.' && st->dots)
			emit(out, &n, '.');
		emit(out, &n, b);
		st->bol = false;
	}
	return n;
}

static size_t
room(const mox_smtp_client *c)
{
	return c->out.len < c->lim.output_max ? c->lim.output_max - c->out.len : 0;
}

mox_err
mox_smtp_client_data(mox_smtp_client *c, const void *data, size_t len,
                     size_t *taken_out)
{
	if (taken_out != NULL)
		*taken_out = 0;
	if (c == NULL || taken_out == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (c->state != MOX__SMTPC_TX || c->phase != MOX__SMTPC_TX_STREAM ||
	    c->tx_failed)
		return MOX_ESTATE;
	if (len == 0)
		return MOX_OK;
	norm st = {c->pending_cr, c->bol, !c->bdat};
	if (!c->bdat) {
		size_t n = room(c) / 2;
		if (n > len)
			n = len;
		if (n == 0)
			return MOX_OK;
		mox_err err = mox_buf_reserve(&c->out, 2 * n + 2);
		if (err != MOX_OK)
			return err;
		c->out.len += normalize(&st, data, n, c->out.data + c->out.len);
		c->out.data[c->out.len] = 0;
		c->pending_cr = st.pending_cr;
		c->bol = st.bol;
		*taken_out = n;
		return MOX_OK;
	}
	if (c->end_pending)
		return MOX_ESTATE;
	if (!(c->ext & MOX_SMTP_EXT_PIPELINING) && c->nexpect > 0) {
		/* The reply to the last chunk first; EV_DATA says when. */
		c->data_blocked = true;
		return MOX_OK;
	}
	size_t r = room(c);
	if (r < 64)
		return MOX_OK;
	size_t n = (r - 64) / 2;
	if (n > len)
		n = len;
	if (n == 0)
		return MOX_OK;
	mox_buf_reset(&c->chunk);
	mox_err err = mox_buf_reserve(&c->chunk, 2 * n + 2);
	if (err == MOX_OK)
		err = mox_buf_reserve(&c->out, 2 * n + 2 + 32);
	if (err == MOX_OK)
		err = mox__smtpc_expect_push(c, MOX__SMTPC_K_BDAT, 0);
	if (err != MOX_OK)
		return err;
	size_t cn = normalize(&st, data, n, c->chunk.data);
	if (cn == 0) {
		/* Only a CR, still pending: nothing to send yet. */
		c->nexpect--;
	} else {
		/* RFC 3030 section 2: bdat-cmd = "BDAT" SP chunk-size
		 * [ SP end-marker ] CR LF, then exactly chunk-size octets. */
		(void)mox_buf_appendf(&c->out, "BDAT %zu\r\n", cn);
		(void)mox_buf_append(&c->out, c->chunk.data, cn);
		c->wait_since = -1;
	}
	c->pending_cr = st.pending_cr;
	c->bol = st.bol;
	*taken_out = n;
	return MOX_OK;
}

/* Write the end of the message; output and one expectation are reserved. */
void
mox__smtpc_write_end(mox_smtp_client *c)
{
	(void)mox__smtpc_expect_push(
	    c, c->bdat ? MOX__SMTPC_K_BDAT_LAST : MOX__SMTPC_K_DOT, 0);
	if (c->bdat) {
		/* A CR at the very end becomes CRLF like any bare CR. */
		if (c->pending_cr)
			(void)mox_buf_append_str(&c->out, "BDAT 2 LAST\r\n\r\n");
		else
			(void)mox_buf_append_str(&c->out, "BDAT 0 LAST\r\n");
	} else {
		/* RFC 5321 section 4.1.1.4: the data ends with CRLF "." CRLF;
		 * a message not ending in a line ending gets one. */
		if (c->pending_cr || !c->bol)
			(void)mox_buf_append_str(&c->out, "\r\n");
		(void)mox_buf_append_str(&c->out, ".\r\n");
	}
	c->pending_cr = false;
	c->bol = true;
	c->end_pending = false;
	c->phase = MOX__SMTPC_TX_END_SENT;
	c->wait_since = -1;
}

mox_err
mox_smtp_client_data_end(mox_smtp_client *c)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTPC_TX || c->phase != MOX__SMTPC_TX_STREAM ||
	    c->tx_failed || c->end_pending)
		return MOX_ESTATE;
	mox_err err = mox_buf_reserve(&c->out, 64);
	if (err == MOX_OK)
		err = mox__smtpc_expect_reserve(c, 1);
	if (err != MOX_OK)
		return err;
	if (c->bdat && !(c->ext & MOX_SMTP_EXT_PIPELINING) && c->nexpect > 0) {
		/* RFC 3030 section 4.2: the last chunk waits for the reply
		 * to the one before; it goes out when that comes. */
		c->end_pending = true;
		return MOX_OK;
	}
	mox__smtpc_write_end(c);
	return MOX_OK;
}
