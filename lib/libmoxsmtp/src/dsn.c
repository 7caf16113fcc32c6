/* Composing DSNs (RFC 3464), in mox's style (mox dsn.Message.Compose).
 *
 * The message is built with libmoxmessage's writer: a multipart/report
 * (RFC 6522) of three parts: the text for people, the
 * message/delivery-status fields (RFC 3464 section 2), and the original's
 * header section as text/rfc822-headers (RFC 6522 section 4), or the whole
 * original as message/rfc822 when asked and it fits the rules for a
 * message/ part. With smtputf8 the RFC 6533 types take their place
 * (message/global-delivery-status, message/global-headers,
 * message/global) and addresses are of type "utf-8" (RFC 6533 section 3).
 * Header fields are folded by mox_msg_write_field; status fields too, so
 * a long Diagnostic-Code stays within the line limit. */
#include "smtp_int.h"

#include <mox/dsn.h>
#include <mox/message.h>

#include <stdio.h>
#include <string.h>

const char *
mox_dsn_action_name(mox_dsn_action a)
{
	/* RFC 3464 section 2.3.3. */
	switch (a) {
	case MOX_DSN_FAILED:
		return "failed";
	case MOX_DSN_DELAYED:
		return "delayed";
	case MOX_DSN_DELIVERED:
		return "delivered";
	case MOX_DSN_RELAYED:
		return "relayed";
	case MOX_DSN_EXPANDED:
		return "expanded";
	}
	return NULL;
}

static bool
has_8bit(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static bool
has_8bit_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return true;
	return false;
}

static bool
has_ctl(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* An address for a header: "<local@domain>" via mox_msg_write_addr. */
static mox_err
header_addr(mox_buf *b, const char *addr, bool utf8, const char *what,
            mox_errinfo *info)
{
	mox_smtp_path p;
	mox_errinfo pi;
	mox_err err =
	    mox_smtp_address_parse(addr, strlen(addr), MOX_SMTP_PATH_UTF8, &p, &pi);
	if (err != MOX_OK)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "bad %s address: %s", what,
		                       pi.msg);
	const char *dom = utf8 && p.domain_unicode[0] ? p.domain_unicode : p.domain;
	if (p.ip[0]) {
		/* Address literal: keep it as it was given. */
		const char *at = strrchr(addr, '@');
		dom = at != NULL ? at + 1 : p.ip;
	}
	err = mox_msg_write_addr(b, NULL, p.localpart, dom, utf8);
	if (err == MOX_EINVAL)
		return mox_errinfo_set(info, MOX_EINVAL, 0,
		                       "%s address needs SMTPUTF8: %s", what, addr);
	return err;
}

/* One header field, raw UTF-8 allowed when utf8 (RFC 6532). */
static mox_err
header(mox_msg_writer *w, mox_buf *tmp, const char *name, const char *value, bool utf8)
{
	mox_buf_reset(tmp);
	mox_err err = mox_msg_write_field(tmp, name, value, utf8);
	if (err == MOX_OK)
		err = mox_msg_writer_header_raw(w, (const char *)tmp->data);
	return err;
}

/* A delivery-status field, folded like a header field. */
static mox_err
field(mox_buf *st, const char *name, const char *value, bool utf8)
{
	return mox_msg_write_field(st, name, value, utf8);
}

static mox_err
datefield(mox_buf *st, mox_buf *tmp, const char *name, int64_t t)
{
	mox_buf_reset(tmp);
	mox_err err = mox_msg_write_date(tmp, (time_t)t, 0);
	if (err == MOX_OK)
		err = field(st, name, (const char *)tmp->data, false);
	return err;
}

/* "type;addr" with the address type of RFC 3464 section 2.3.2 / RFC 6533
 * section 3. */
static mox_err
addrfield(mox_buf *st, mox_buf *tmp, const char *name, const char *addr, bool utf8,
          mox_errinfo *info)
{
	mox_smtp_path p;
	mox_errinfo pi;
	if (mox_smtp_address_parse(addr, strlen(addr), MOX_SMTP_PATH_UTF8, &p, &pi) !=
	    MOX_OK)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "bad %s address: %s", name,
		                       pi.msg);
	mox_buf_reset(tmp);
	bool u = utf8 && has_8bit(addr);
	mox_err err = mox_buf_append_str(tmp, u ? "utf-8; " : "rfc822; ");
	if (err == MOX_OK && !u && has_8bit(p.localpart))
		return mox_errinfo_set(info, MOX_EINVAL, 0,
		                       "%s address needs SMTPUTF8: %s", name, addr);
	if (err == MOX_OK)
		err = mox_buf_appendf(tmp, "%s@%s", p.localpart,
		                      p.ip[0] ? strrchr(addr, '@') + 1
		                      : u && p.domain_unicode[0] ? p.domain_unicode
		                                                 : p.domain);
	if (err == MOX_OK)
		err = field(st, name, (const char *)tmp->data, u);
	return err;
}

static bool
status_valid(const char *s)
{
	/* RFC 3464 section 2.3.4: status-code = DIGIT "." 1*3DIGIT "."
	 * 1*3DIGIT, class 2, 4 or 5. */
	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	if (s[1] != '.')
		return false;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (s[i] >= '0' && s[i] <= '9' && d < 3) {
			i++;
			d++;
		}
		if (d == 0)
			return false;
		if (part == 0 && s[i++] != '.')
			return false;
	}
	return s[i] == 0;
}

static mox_err
status_part(const mox_dsn *d, mox_buf *st, mox_buf *tmp, mox_errinfo *info)
{
	bool u = d->smtputf8;
	mox_err err = MOX_OK;
	/* Per-message fields, RFC 3464 section 2.2. */
	if (d->original_envelope_id != NULL && d->original_envelope_id[0])
		err = field(st, "Original-Envelope-Id", d->original_envelope_id, u);
	mox_buf_reset(tmp);
	if (err == MOX_OK)
		err = mox_buf_appendf(tmp, "dns; %s", d->reporting_mta);
	if (err == MOX_OK)
		err = field(st, "Reporting-MTA", (const char *)tmp->data, false);
	if (err == MOX_OK && d->received_from_mta != NULL && d->received_from_mta[0]) {
		mox_buf_reset(tmp);
		err = mox_buf_appendf(tmp, "dns; %s", d->received_from_mta);
		if (err == MOX_OK)
			err = field(st, "Received-From-MTA", (const char *)tmp->data,
			            false);
	}
	if (err == MOX_OK && d->arrival_date != 0)
		err = datefield(st, tmp, "Arrival-Date", d->arrival_date);
	if (err == MOX_OK && d->future_release_request != NULL &&
	    d->future_release_request[0])
		/* RFC 4865 section 6: "for;" seconds or "until;" date-time. */
		err = field(st, "Future-Release-Request", d->future_release_request,
		            false);
	/* Per-recipient fields, RFC 3464 section 2.3, each group after a
	 * blank line. */
	for (size_t i = 0; err == MOX_OK && i < d->nrcpts; i++) {
		const mox_dsn_rcpt *r = &d->rcpts[i];
		const char *action = mox_dsn_action_name(r->action);
		if (r->final_recipient == NULL || action == NULL)
			return mox_errinfo_set(
			    info, MOX_EINVAL, 0,
			    "recipient %zu: no final recipient or action", i);
		err = mox_buf_append_str(st, "\r\n");
		if (err == MOX_OK && r->original_recipient != NULL &&
		    r->original_recipient[0])
			err = addrfield(st, tmp, "Original-Recipient",
			                r->original_recipient, u, info);
		if (err == MOX_OK)
			err = addrfield(st, tmp, "Final-Recipient", r->final_recipient,
			                u, info);
		if (err == MOX_OK)
			err = field(st, "Action", action, false);
		const char *status = r->status;
		if (status == NULL || status[0] == 0)
			status = r->action == MOX_DSN_FAILED    ? "5.0.0"
			         : r->action == MOX_DSN_DELAYED ? "4.0.0"
			                                        : "2.0.0";
		if (err == MOX_OK && !status_valid(status))
			return mox_errinfo_set(info, MOX_EINVAL, 0,
			                       "recipient %zu: bad status %s", i,
			                       status);
		if (err == MOX_OK) {
			mox_buf_reset(tmp);
			err = mox_buf_append_str(tmp, status);
			if (err == MOX_OK && r->status_comment != NULL &&
			    r->status_comment[0])
				err = mox_buf_appendf(tmp, " (%s)", r->status_comment);
			if (err == MOX_OK)
				err = field(st, "Status", (const char *)tmp->data, u);
		}
		if (err == MOX_OK && r->remote_mta != NULL && r->remote_mta[0]) {
			mox_buf_reset(tmp);
			err = mox_buf_appendf(tmp, "dns; %s", r->remote_mta);
			if (err == MOX_OK && r->remote_mta_ip != NULL &&
			    r->remote_mta_ip[0])
				err = mox_buf_appendf(tmp, " (%s)", r->remote_mta_ip);
			if (err == MOX_OK)
				err = field(st, "Remote-MTA", (const char *)tmp->data,
				            false);
		}
		if (err == MOX_OK && r->diagnostic_code != NULL &&
		    r->diagnostic_code[0]) {
			/* RFC 3464 section 2.3.6, RFC 3461 section 9.2. */
			mox_buf_reset(tmp);
			err = mox_buf_appendf(tmp, "smtp; %s", r->diagnostic_code);
			if (err == MOX_OK)
				err = field(st, "Diagnostic-Code",
				            (const char *)tmp->data, u);
		}
		if (err == MOX_OK && r->last_attempt != 0)
			err = datefield(st, tmp, "Last-Attempt-Date", r->last_attempt);
		if (err == MOX_OK && r->final_log_id != NULL && r->final_log_id[0])
			err = field(st, "Final-Log-ID", r->final_log_id, u);
		if (err == MOX_OK && r->will_retry_until != 0)
			err =
			    datefield(st, tmp, "Will-Retry-Until", r->will_retry_until);
	}
	if (err == MOX_EINVAL && info != NULL && info->msg[0] == 0)
		mox_errinfo_set(info, MOX_EINVAL, 0,
		                "a status field does not fit in a line");
	return err;
}

mox_err
mox_dsn_compose(const mox_dsn *d, const mox_allocator *alloc, mox_buf *out,
                mox_errinfo *info)
{
	if (info != NULL)
		info->msg[0] = 0;
	if (d == NULL || out == NULL || d->size < sizeof(*d))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no DSN or no output");
	if (d->from == NULL || d->to == NULL || d->message_id == NULL ||
	    d->message_id[0] == 0 || d->reporting_mta == NULL ||
	    d->reporting_mta[0] == 0 || d->rcpts == NULL || d->nrcpts == 0)
		return mox_errinfo_set(
		    info, MOX_EINVAL, 0,
		    "from, to, message_id, reporting_mta and recipients are "
		    "required");
	if (has_ctl(d->message_id) || has_8bit(d->message_id) ||
	    has_ctl(d->reporting_mta) || has_ctl(d->received_from_mta) ||
	    has_ctl(d->original_envelope_id))
		return mox_errinfo_set(info, MOX_EINVAL, 0,
		                       "control characters in a field");
	bool u = d->smtputf8;
	mox_msg_writer *w = NULL;
	mox_buf tmp, val, st;
	mox_buf_init(&tmp, alloc);
	mox_buf_init(&val, alloc);
	mox_buf_init(&st, alloc);
	mox_msg_header *oh = NULL;
	mox_err err = mox_msg_writer_new(&w, alloc);
	if (err != MOX_OK)
		goto out;

	/* Header: RFC 3464 section 2 and mox's fields. */
	err = header_addr(&val, d->from, u, "from", info);
	if (err == MOX_OK)
		err = header(w, &tmp, "From", (const char *)val.data, u);
	mox_buf_reset(&val);
	if (err == MOX_OK)
		err = header_addr(&val, d->to, u, "to", info);
	if (err == MOX_OK)
		err = header(w, &tmp, "To", (const char *)val.data, u);
	const char *subject = d->subject;
	if (subject == NULL) {
		switch (d->rcpts[0].action) {
		case MOX_DSN_DELAYED:
			subject = "mail delivery delayed";
			break;
		case MOX_DSN_FAILED:
			subject = "mail delivery failed";
			break;
		default:
			subject = "mail delivered";
			break;
		}
	}
	if (err == MOX_OK)
		err = mox_msg_writer_header(w, "Subject", subject);
	mox_buf_reset(&val);
	if (err == MOX_OK)
		err = mox_buf_appendf(&val, "<%s>", d->message_id);
	if (err == MOX_OK)
		err = mox_msg_writer_header(w, "Message-ID", (const char *)val.data);
	if (err == MOX_OK && d->references != NULL && d->references[0])
		err = mox_msg_writer_header(w, "References", d->references);
	mox_buf_reset(&val);
	if (err == MOX_OK)
		err = mox_msg_write_date(&val, (time_t)d->date, 0);
	if (err == MOX_OK)
		err = mox_msg_writer_header(w, "Date", (const char *)val.data);
	/* RFC 3834 section 5: generated automatically, no auto-replies. */
	if (err == MOX_OK)
		err = mox_msg_writer_header(w, "Auto-Submitted", "auto-replied");
	if (err != MOX_OK)
		goto out;

	/* 1: for people. */
	const char *text = d->text != NULL ? d->text : "";
	err = mox_msg_writer_part(
	    w, has_8bit(text) ? "text/plain; charset=utf-8" : "text/plain", text,
	    strlen(text));
	if (err != MOX_OK)
		goto out;

	/* 2: for programs. */
	err = status_part(d, &st, &tmp, info);
	if (err == MOX_OK)
		err = mox_msg_writer_part(
		    w, u ? "message/global-delivery-status" : "message/delivery-status",
		    st.data, st.len);
	if (err != MOX_OK)
		goto out;

	/* 3: the original. */
	if (d->original != NULL && d->original_len > 0) {
		bool done = false;
		if (d->full) {
			/* RFC 6522 section 4 allows the whole message. */
			err = mox_msg_writer_part(
			    w, u ? "message/global" : "message/rfc822", d->original,
			    d->original_len);
			if (err == MOX_OK)
				done = true;
			else if (err != MOX_EINVAL)
				goto out;
		}
		if (!done) {
			size_t consumed = 0;
			err = mox_msg_header_parse(d->original, d->original_len, 0,
			                           alloc, &oh, &consumed, NULL);
			if (err == MOX_ENOMEM)
				goto out;
			const uint8_t *h = d->original;
			size_t hl = d->original_len;
			if (err == MOX_OK)
				hl = oh->raw_len;
			if (u)
				err = mox_msg_writer_part(w, "message/global-headers",
				                          h, hl);
			else
				err = mox_msg_writer_part(
				    w,
				    has_8bit_bytes(h, hl)
				        ? "text/rfc822-headers; charset=utf-8"
				        : "text/rfc822-headers",
				    h, hl);
			if (err == MOX_EINVAL && u)
				err = mox_msg_writer_part(
				    w, "text/rfc822-headers; charset=utf-8", h, hl);
			if (err != MOX_OK)
				goto out;
		}
	}
	err = mox_msg_writer_finish(w,
	                            u ? "report; report-type=global-delivery-status"
	                              : "report; report-type=delivery-status",
	                            out);
out:
	if (err == MOX_EINVAL && info != NULL && info->msg[0] == 0)
		mox_errinfo_set(info, MOX_EINVAL, 0,
		                "a field or part cannot be written");
	mox_msg_header_free(oh);
	mox_msg_writer_free(w);
	mox_buf_free(&tmp);
	mox_buf_free(&val);
	mox_buf_free(&st);
	return err;
}
