/* RCPT, RFC 5321 section 4.1.1.3:
 *
 *   rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *          Forward-path ) [SP Rcpt-parameters] CRLF
 *
 * No recipient parameters are supported (no DSN), so any is 555. The
 * recipient limit (LIMITS RCPTMAX, RFC 9422) answers 452 4.5.3 as RFC 5321
 * section 4.5.3.1.10 asks. Whether the recipient exists is the caller's
 * answer to the event. */
#include "smtp_int.h"

#include <stdio.h>

mox_err
mox__smtp_cmd_rcpt(mox_smtp_conn *c, mox__smtp_args *a)
{
	bool submission = (c->flags & MOX_SMTP_CONN_SUBMISSION) != 0;
	if (!mox__smtp_check_mail_allowed(c))
		return MOX_OK;
	if (!c->have_mail) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "missing MAIL FROM");
		return MOX_OK;
	}
	if (c->in_data) {
		/* RFC 3030 section 2: no RCPT between BDAT chunks. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "BDAT in progress");
		return MOX_OK;
	}
	if (!mox__smtp_args_take(a, " TO:")) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "expected TO:");
		return MOX_OK;
	}
	if (submission && !(c->flags & MOX_SMTP_CONN_PEDANTIC))
		(void)mox__smtp_args_space(a);
	mox_smtp_path path;
	char msg[200];
	unsigned flags = MOX_SMTP_PATH_POSTMASTER | (c->params.smtputf8 ? MOX_SMTP_PATH_UTF8 : 0);
	mox__smtp_path_err e = mox__smtp_path_scan(a->s, a->len, &a->pos, flags, true, &path, msg,
						   sizeof(msg));
	if (e == MOX__SMTP_PATH_UTF8) {
		/* RFC 6531 section 3.6.1: 553 5.6.7 for forward paths. */
		mox__smtp_error(c, 553, MOX_SMTP_SE_MEDIA_NON_ASCII_ADDR,
				"non-ascii address not permitted without smtputf8");
		return MOX_OK;
	}
	if (e != MOX__SMTP_PATH_OK) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_ADDR_BAD_MAILBOX_SYNTAX, "bad forward path: %s",
				msg);
		return MOX_OK;
	}
	while (mox__smtp_args_space(a)) {
		char key[32];
		size_t at = a->pos;
		if (mox__smtp_args_end(c, a))
			break; /* trailing white space */
		a->pos = at;
		if (!mox__smtp_args_keyword(a, key, sizeof(key))) {
			mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad parameter");
			return MOX_OK;
		}
		/* todo: DSN NOTIFY/ORCPT, RFC 3461 section 4. */
		mox__smtp_error(c, 555, MOX_SMTP_SE_SYS_NOT_CAPABLE, "unrecognized parameter %s",
				key);
		return MOX_OK;
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "unexpected text after path");
		return MOX_OK;
	}
	if (c->rcpts >= c->lim.rcpt_max) {
		/* Not counted as an error: clients pipeline past the limit
		 * and go on with those accepted (RFC 5321 section 4.5.3.1.10). */
		mox__smtp_reply(c, 452, MOX_SMTP_SE_PROTO_TOO_MANY_RCPTS,
				"max of %zu recipients reached", c->lim.rcpt_max);
		return MOX_OK;
	}
	if (!submission && c->rcpts > 0 && c->mail_from.null) {
		/* A null reverse path is for delivery notifications, to one
		 * recipient (mox). */
		mox__smtp_reply(c, 452, MOX_SMTP_SE_PROTO_TOO_MANY_RCPTS,
				"only one recipient allowed with null reverse address");
		return MOX_OK;
	}
	c->rcpt = path;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_RCPT};
	ev.u.rcpt.path = &c->rcpt;
	ev.u.rcpt.index = c->rcpts;
	mox__smtp_wait_for(c, MOX__SMTP_W_RCPT, &ev);
	return MOX_OK;
}
