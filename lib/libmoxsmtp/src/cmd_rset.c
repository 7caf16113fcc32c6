/* RSET, RFC 5321 section 4.1.1.5:
 *
 *   rset = "RSET" CRLF
 *
 * Drops the transaction (EV_RESET if one had started); allowed any time. */
#include "smtp_int.h"

mox_err
mox__smtp_cmd_rset(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "no parameters allowed");
		return MOX_OK;
	}
	mox__smtp_rset(c, true);
	mox__smtp_reply(c, 250, MOX_SMTP_SE_OTHER, "all clear");
	return MOX_OK;
}
