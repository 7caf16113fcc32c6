/* NOOP and HELP, RFC 5321 sections 4.1.1.9 and 4.1.1.8:
 *
 *   noop = "NOOP" [ SP String ] CRLF
 *   help = "HELP" [ SP String ] CRLF
 *
 * HELP's argument is not parsed strictly: we say the same thing whatever
 * is asked (as mox). */
#include "smtp_int.h"

mox_err
mox__smtp_cmd_noop(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (mox__smtp_args_space(a) && !mox__smtp_args_string(a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad NOOP argument");
		return MOX_OK;
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad NOOP argument");
		return MOX_OK;
	}
	mox__smtp_reply(c, 250, MOX_SMTP_SE_OTHER, "alrighty");
	return MOX_OK;
}

mox_err
mox__smtp_cmd_help(mox_smtp_conn *c, mox__smtp_args *a)
{
	(void)a;
	mox__smtp_reply(c, 214, MOX_SMTP_SE_OTHER, "see RFC 5321 (SMTP)");
	return MOX_OK;
}
