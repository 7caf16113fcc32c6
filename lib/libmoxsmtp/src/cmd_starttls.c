/* STARTTLS, RFC 3207 section 4:
 *
 *   STARTTLS CRLF
 *
 * After "220" the caller switches the socket to TLS. Bytes the client sent
 * after the command line belong to the TLS handshake (or are an injection
 * attempt, CVE-2011-0411): they are never taken as commands, only handed to
 * the caller (mox_smtp_conn_starttls_leftover) and dropped at
 * mox_smtp_conn_starttls_done, which also resets the session (RFC 3207
 * section 4.2). */
#include "smtp_int.h"

mox_err
mox__smtp_cmd_starttls(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (!c->hello_done) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "no ehlo/helo yet");
		return MOX_OK;
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "no parameters allowed");
		return MOX_OK;
	}
	if (c->tls) {
		/* RFC 3207 section 4.2: not offered after TLS. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "already speaking tls");
		return MOX_OK;
	}
	if (!(c->flags & MOX_SMTP_CONN_STARTTLS)) {
		mox__smtp_error(c, 502, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "STARTTLS not available");
		return MOX_OK;
	}
	if (c->authenticated) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND,
				"cannot starttls after authentication");
		return MOX_OK;
	}
	mox__smtp_reply(c, 220, MOX_SMTP_SE_OTHER, "go!");
	mox_smtp_event ev = {.type = MOX_SMTP_EV_STARTTLS};
	mox__smtp_push(c, &ev);
	c->state = MOX__SMTP_ST_STARTTLS;
	return MOX_OK;
}
