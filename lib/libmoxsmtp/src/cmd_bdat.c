/* BDAT, RFC 3030 section 2:
 *
 *   bdat-cmd   = "BDAT" SP chunk-size [ SP end-marker ] CRLF
 *   chunk-size = 1*DIGIT
 *   end-marker = "LAST"
 *
 * The chunk's bytes follow the command line and are message data as they
 * are: no dot-stuffing, no line handling. The server must read and drop a
 * chunk it refuses (RFC 3030 section 2: the bytes are not commands), so a
 * refused BDAT is read to its end first and answered after. A BDAT whose
 * size cannot be read leaves us no way to find the next command: we reply
 * and close. Each chunk but the last is answered by the core (250); LAST
 * gives EV_DATA_END. A refused chunk of a started message ends the
 * transaction (RFC 3030 section 2: the client then RSETs anyway). */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

/* Read and drop the chunk, then reply code/se/text; abort the message if
 * one had started. */
static void
refuse(mox_smtp_conn *c, uint64_t size, int code, int se, const char *text)
{
	c->bdat_discard = true;
	c->bdat_abort = c->in_data;
	c->bdat_code = code;
	c->bdat_se = se;
	snprintf(c->bdat_text, sizeof(c->bdat_text), "%s", text);
	c->bdat_remaining = size;
	c->data_deadline = mox__smtp_add_time(c->now, c->lim.data_timeout_ms);
	c->state = MOX__SMTP_ST_BDAT;
}

mox_err
mox__smtp_cmd_bdat(mox_smtp_conn *c, mox__smtp_args *a)
{
	uint64_t size = 0;
	bool last = false;
	if (!mox__smtp_args_space(a) || !mox__smtp_args_number(a, 20, &size)) {
		mox__smtp_close(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
				"bad BDAT chunk size, cannot continue");
		return MOX_OK;
	}
	if (mox__smtp_args_space(a)) {
		if (!mox__smtp_args_take(a, "LAST")) {
			mox__smtp_close(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
					"bad BDAT end marker, cannot continue");
			return MOX_OK;
		}
		last = true;
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_close(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
				"bad BDAT parameters, cannot continue");
		return MOX_OK;
	}
	c->bdat_last = last;
	c->bdat_discard = false;
	c->bdat_abort = false;
	if (c->flags & MOX_SMTP_CONN_NO_CHUNKING) {
		c->errors++;
		refuse(c, size, 502, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "BDAT not supported");
		return MOX_OK;
	}
	/* The checks of DATA, answered after the chunk. */
	const char *why = NULL;
	int code = 503, se = MOX_SMTP_SE_PROTO_INVALID_COMMAND;
	if (!c->hello_done) {
		why = "no ehlo/helo yet";
	} else if ((c->flags & MOX_SMTP_CONN_SUBMISSION) && !c->authenticated) {
		code = 530, se = MOX_SMTP_SE_POL_OTHER, why = "authentication required";
	} else if ((c->flags & MOX_SMTP_CONN_REQUIRE_TLS_MAIL) && !c->tls) {
		code = 530, se = MOX_SMTP_SE_POL_OTHER, why = "STARTTLS required for mail delivery";
	} else if (!c->have_mail) {
		why = "missing MAIL FROM";
	} else if (c->rcpts == 0) {
		why = "missing RCPT TO";
	}
	if (why != NULL) {
		c->errors++;
		refuse(c, size, code, se, why);
		return MOX_OK;
	}
	if (size > c->lim.message_max || c->msg_size + size > c->lim.message_max) {
		/* RFC 3030 section 2 / RFC 1870: 552 5.3.4 */
		char t[128];
		snprintf(t, sizeof(t), "message too large, max %llu octets",
			 (unsigned long long)c->lim.message_max);
		refuse(c, size, 552, MOX_SMTP_SE_SYS_TOO_BIG, t);
		return MOX_OK;
	}
	if (!c->in_data) {
		c->in_data = true;
		c->bdat = true;
		c->msg_size = 0;
		c->has_8bit = false;
		mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_BEGIN};
		ev.u.data_begin.bdat = true;
		mox__smtp_push(c, &ev);
	}
	c->bdat_remaining = size;
	c->data_deadline = mox__smtp_add_time(c->now, c->lim.data_timeout_ms);
	c->state = MOX__SMTP_ST_BDAT;
	mox_buf_reset(&c->chunk);
	if (size == 0)
		(void)mox__smtp_bdat_input(c); /* output room reserved with the command */
	return MOX_OK;
}

/* The chunk has been read. */
static void
chunk_done(mox_smtp_conn *c)
{
	c->state = MOX__SMTP_ST_CMD;
	c->wait_since = -1;
	if (c->bdat_discard) {
		c->bdat_discard = false;
		if (c->bdat_abort) {
			mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_ABORT};
			ev.u.data_abort.code = c->bdat_code;
			ev.u.data_abort.reason = c->bdat_code == 552 ? "message too large"
								     : "chunk refused";
			mox__smtp_push(c, &ev);
		}
		/* A refused chunk of a transaction ends it; without message
		 * data yet, the caller learns through EV_RESET. */
		if (c->bdat_abort)
			mox__smtp_rset(c, false);
		else if (c->bdat_code == 552)
			mox__smtp_rset(c, true);
		mox__smtp_reply(c, c->bdat_code, c->bdat_se, "%s", c->bdat_text);
		snprintf(c->errmsg, sizeof(c->errmsg), "%d %s", c->bdat_code, c->bdat_text);
		if (c->errors >= c->lim.errors_max)
			mox__smtp_close(c, 421, MOX_SMTP_SE_POL_OTHER, "too many errors, closing");
		return;
	}
	if (c->bdat_last) {
		mox__smtp_message_end(c);
		return;
	}
	mox__smtp_reply(c, 250, MOX_SMTP_SE_OTHER, "chunk received, %llu octets so far",
			(unsigned long long)c->msg_size);
}

mox_err
mox__smtp_bdat_input(mox_smtp_conn *c)
{
	size_t avail = c->in.len - c->in_off;
	if (c->bdat_remaining > 0 && avail == 0)
		return MOX_EAGAIN;
	/* Room for the reply after the chunk. */
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	mox_buf_reset(&c->chunk);
	size_t n = avail;
	if ((uint64_t)n > c->bdat_remaining)
		n = (size_t)c->bdat_remaining;
	if (!c->bdat_discard) {
		if (n > c->lim.chunk_max)
			n = c->lim.chunk_max;
		const uint8_t *p = c->in.data + c->in_off;
		for (size_t i = 0; i < n; i++)
			if (p[i] >= 0x80)
				c->has_8bit = true;
		if (n > 0) {
			memcpy(c->chunk.data, p, n);
			c->chunk.len = n;
			c->chunk.data[n] = 0;
		}
		c->msg_size += n;
	}
	c->in_off += n;
	c->bdat_remaining -= n;
	mox__smtp_flush_chunk(c);
	if (c->bdat_remaining == 0)
		chunk_done(c);
	return MOX_OK;
}
