/* VRFY and EXPN, RFC 5321 sections 4.1.1.6 and 4.1.1.7, RFC 6531 section
 * 3.7.4 for the SMTPUTF8 argument:
 *
 *   vrfy = "VRFY" SP String [ SP "SMTPUTF8" ] CRLF
 *   expn = "EXPN" SP String [ SP "SMTPUTF8" ] CRLF
 *
 * Both are refused politely with 252 (RFC 5321 section 7.3: a server may
 * disable them; 252 says we will try delivery anyway). No EHLO needed
 * (RFC 5321 section 4.1.4). */
#include "smtp_int.h"

mox_err
mox__smtp_cmd_vrfy(mox_smtp_conn *c, mox__smtp_args *a, bool expn)
{
	if (!mox__smtp_args_space(a) || !mox__smtp_args_string(a) ||
	    (mox__smtp_args_space(a) && !mox__smtp_args_take(a, "SMTPUTF8")) ||
	    !mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad %s argument",
				expn ? "EXPN" : "VRFY");
		return MOX_OK;
	}
	mox__smtp_reply(c, 252, MOX_SMTP_SE_POL_OTHER, expn ? "no expand but will try delivery"
							    : "no verify but will try delivery");
	return MOX_OK;
}
