/* DATA, RFC 5321 sections 4.1.1.4 and 4.5.2:
 *
 *   data = "DATA" CRLF
 *
 * then the message, dot-stuffed, ended by CRLF "." CRLF.
 *
 * How the content is read: a byte state machine (mox__smtp_dstate), so
 * input split anywhere gives the same result. At a line start after CRLF
 * (D_BOL) a "." is held (D_DOT); ".\r\n" ends the message, "." followed by
 * anything else is a stuffed dot and is dropped (RFC 5321 section 4.5.2).
 *
 * Bare CR and LF, as mox does since the SMTP smuggling reports
 * (CVE-2023-51766 and kin): only CRLF "." CRLF ends the message. A bare LF
 * is accepted as a line end in the content and given to the caller as CRLF
 * (real mail has them), but it is not a line start for the end marker, and
 * "\n.\n", "\r\n.\n" and "[^\r]\n.\r\n" mark the message bad. A bare CR
 * anywhere marks it bad. A bad message is read to its end and refused with
 * 500 5.5.2, so both sides stay in step.
 *
 * Size (SIZE, RFC 1870 section 6.3) and line length (RFC 5321 section
 * 4.5.3.1.6, if limited) are checked while reading; a message over a limit
 * is read to its end, dropped, and refused. */
#include "smtp_int.h"

#include <string.h>

mox_err
mox__smtp_cmd_data(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (!mox__smtp_check_mail_allowed(c))
		return MOX_OK;
	if (!c->have_mail) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "missing MAIL FROM");
		return MOX_OK;
	}
	if (c->in_data) {
		/* RFC 3030 section 3: no DATA after BDAT in a transaction. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND,
				"cannot mix BDAT and DATA");
		return MOX_OK;
	}
	if (c->rcpts == 0) {
		/* RFC 5321 section 3.3: 503 or 554 without recipients; mox 503. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "missing RCPT TO");
		return MOX_OK;
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "no parameters allowed");
		return MOX_OK;
	}
	/* RFC 5321 section 4.2.2: 354, no enhanced code (RFC 2034 section 3). */
	(void)mox_buf_append_str(&c->out, "354 see you at the bare dot\r\n");
	c->in_data = true;
	c->bdat = false;
	c->dstate = MOX__SMTP_D_BOL;
	c->msg_size = 0;
	c->line_len = 0;
	c->has_8bit = false;
	c->bad_crlf = false;
	c->too_big = false;
	c->line_too_long = false;
	c->data_deadline = mox__smtp_add_time(c->now, c->lim.data_timeout_ms);
	mox_buf_reset(&c->chunk);
	c->state = MOX__SMTP_ST_DATA;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_BEGIN};
	ev.u.data_begin.bdat = false;
	mox__smtp_push(c, &ev);
	return MOX_OK;
}

/* Message bytes out: counted, and kept unless over the size limit. */
static void
emit(mox_smtp_conn *c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			c->has_8bit = true;
	if (c->msg_size + n > c->lim.message_max)
		c->too_big = true;
	c->msg_size += n;
	if (c->too_big)
		return;
	memcpy(c->chunk.data + c->chunk.len, p, n);
	c->chunk.len += n;
	c->chunk.data[c->chunk.len] = 0;
}

static void
line_end(mox_smtp_conn *c)
{
	static const uint8_t crlf[2] = {'\r', '\n'};
	emit(c, crlf, 2);
	if (c->lim.data_line_max > 0 && c->line_len + 2 > c->lim.data_line_max)
		c->line_too_long = true;
	c->line_len = 0;
}

static void
text(mox_smtp_conn *c, const uint8_t *p, size_t n)
{
	c->line_len += n;
	emit(c, p, n);
}

void
mox__smtp_flush_chunk(mox_smtp_conn *c)
{
	if (c->chunk.len == 0)
		return;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA};
	ev.u.data.data = c->chunk.data;
	ev.u.data.len = c->chunk.len;
	mox__smtp_push(c, &ev);
}

mox_err
mox__smtp_data_input(mox_smtp_conn *c)
{
	size_t avail = c->in.len - c->in_off;
	if (avail == 0)
		return MOX_EAGAIN;
	/* Room for the reply at the end of the message. */
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	mox_buf_reset(&c->chunk);
	const uint8_t *in = c->in.data + c->in_off;
	size_t i = 0;
	bool end = false;
	/* Each byte emits at most 3 (a held ".\r" then CRLF). */
	while (i < avail && c->chunk.len + 4 < c->lim.chunk_max) {
		uint8_t b = in[i];
		switch (c->dstate) {
		case MOX__SMTP_D_BOL:
			if (b == '.') {
				c->dstate = MOX__SMTP_D_DOT;
			} else if (b == '\r') {
				c->dstate = MOX__SMTP_D_CR;
			} else if (b == '\n') {
				line_end(c);
				c->dstate = MOX__SMTP_D_LF_BOL;
			} else {
				c->dstate = MOX__SMTP_D_TEXT;
				continue; /* take it as text */
			}
			i++;
			break;
		case MOX__SMTP_D_DOT:
			if (b == '\r') {
				c->dstate = MOX__SMTP_D_DOTCR;
				i++;
			} else if (b == '\n') {
				/* "\r\n.\n": not the end, and not clean. */
				c->bad_crlf = true;
				line_end(c);
				c->dstate = MOX__SMTP_D_LF_BOL;
				i++;
			} else {
				/* A stuffed dot: drop it, the rest is text. */
				c->dstate = MOX__SMTP_D_TEXT;
			}
			break;
		case MOX__SMTP_D_DOTCR:
			if (b == '\n') {
				i++;
				end = true;
				goto out;
			}
			/* ".\r" and more: a bare CR. */
			c->bad_crlf = true;
			text(c, (const uint8_t *)"\r", 1);
			c->dstate = MOX__SMTP_D_TEXT;
			break;
		case MOX__SMTP_D_TEXT: {
			/* Copy the run up to the next CR or LF at once. */
			size_t room = c->lim.chunk_max - 4 - c->chunk.len;
			size_t j = i;
			while (j < avail && j - i < room && in[j] != '\r' && in[j] != '\n')
				j++;
			if (j > i) {
				text(c, in + i, j - i);
				i = j;
				break;
			}
			if (b == '\r') {
				c->dstate = MOX__SMTP_D_CR;
			} else if (b == '\n') {
				line_end(c); /* bare LF, given as CRLF */
				c->dstate = MOX__SMTP_D_LF_BOL;
			}
			i++;
			break;
		}
		case MOX__SMTP_D_CR:
			if (b == '\n') {
				line_end(c);
				c->dstate = MOX__SMTP_D_BOL;
				i++;
			} else {
				c->bad_crlf = true;
				text(c, (const uint8_t *)"\r", 1);
				c->dstate = MOX__SMTP_D_TEXT;
			}
			break;
		case MOX__SMTP_D_LF_BOL:
			if (b == '.') {
				c->dstate = MOX__SMTP_D_LF_DOT;
			} else if (b == '\r') {
				c->dstate = MOX__SMTP_D_CR;
			} else if (b == '\n') {
				line_end(c);
			} else {
				c->dstate = MOX__SMTP_D_TEXT;
				continue;
			}
			i++;
			break;
		case MOX__SMTP_D_LF_DOT:
			/* "\n." then CR or LF: an end marker after a bare LF. */
			if (b == '\r' || b == '\n')
				c->bad_crlf = true;
			text(c, (const uint8_t *)".", 1);
			c->dstate = MOX__SMTP_D_TEXT;
			break;
		}
	}
out:
	c->in_off += i;
	mox__smtp_flush_chunk(c);
	if (end)
		mox__smtp_message_end(c);
	return MOX_OK;
}

void
mox__smtp_message_end(mox_smtp_conn *c)
{
	c->state = MOX__SMTP_ST_CMD;
	c->wait_since = -1;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_ABORT};
	if (c->too_big) {
		/* RFC 1870 section 6.3: 552 after the data; RFC 3463 X.3.4 */
		mox__smtp_reply(c, 552, MOX_SMTP_SE_SYS_TOO_BIG, "message too large, max %llu octets",
				(unsigned long long)c->lim.message_max);
		ev.u.data_abort.code = 552;
		ev.u.data_abort.reason = "message too large";
	} else if (c->bad_crlf) {
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_SYNTAX,
				"invalid bare carriage return or newline in message, may be smtp "
				"smuggling");
		ev.u.data_abort.code = 500;
		ev.u.data_abort.reason = "bare carriage return or newline";
	} else if (c->line_too_long) {
		/* RFC 5321 section 4.5.3.1.6; RFC 3463 X.6.0 */
		mox__smtp_reply(c, 554, MOX_SMTP_SE_MEDIA_OTHER,
				"message line longer than %zu octets", c->lim.data_line_max);
		ev.u.data_abort.code = 554;
		ev.u.data_abort.reason = "line too long";
	} else {
		mox_smtp_event end = {.type = MOX_SMTP_EV_DATA_END};
		end.u.data_end.size = c->msg_size;
		end.u.data_end.bdat = c->bdat;
		end.u.data_end.has_8bit = c->has_8bit;
		end.u.data_end.rcpts = c->rcpts;
		mox__smtp_wait_for(c, MOX__SMTP_W_DATA_END, &end);
		return;
	}
	/* The transaction ends with the message (RFC 5321 section 4.1.1.4);
	 * a close from errors_max comes after the abort event. */
	mox__smtp_rset(c, false);
	mox__smtp_push(c, &ev);
}
