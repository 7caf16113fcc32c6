/* QUIT, RFC 5321 section 4.1.1.10:
 *
 *   quit = "QUIT" CRLF
 *
 * 221, then EV_CLOSE: the caller writes the output and closes. */
#include "smtp_int.h"

mox_err
mox__smtp_cmd_quit(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "no parameters allowed");
		return MOX_OK;
	}
	if (c->have_mail) {
		mox_smtp_event ev = {.type = MOX_SMTP_EV_RESET};
		mox__smtp_push(c, &ev);
		mox__smtp_rset(c, false);
	}
	mox__smtp_close(c, 221, MOX_SMTP_SE_OTHER, "okay thanks bye");
	return MOX_OK;
}
