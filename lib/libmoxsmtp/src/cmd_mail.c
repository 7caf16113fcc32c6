/* MAIL, RFC 5321 section 4.1.1.2:
 *
 *   mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 *   Mail-parameters = esmtp-param *(SP esmtp-param)
 *   esmtp-param     = esmtp-keyword ["=" esmtp-value]
 *
 * Parameters: SIZE (RFC 1870 section 3), BODY (RFC 6152 section 2),
 * SMTPUTF8 (RFC 6531 section 3.4), AUTH (RFC 4954 section 5), REQUIRETLS
 * (RFC 8689 section 4.1), HOLDFOR/HOLDUNTIL (RFC 4865 section 3,
 * submission only). Whether the path may use UTF-8 depends on SMTPUTF8,
 * which comes after it, so the path is parsed last. */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

/* The raw path from '<' to its '>', skipping quoted strings. */
static bool
raw_path(mox__smtp_args *a, size_t *start, size_t *end)
{
	size_t p = a->pos;
	if (p >= a->len || a->s[p] != '<')
		return false;
	bool quoted = false;
	for (p++; p < a->len; p++) {
		char ch = a->s[p];
		if (quoted) {
			if (ch == '\\')
				p++;
			else if (ch == '"')
				quoted = false;
		} else if (ch == '"') {
			quoted = true;
		} else if (ch == '>') {
			*start = a->pos;
			*end = p + 1;
			a->pos = p + 1;
			return true;
		}
	}
	return false;
}

mox_err
mox__smtp_cmd_mail(mox_smtp_conn *c, mox__smtp_args *a)
{
	bool submission = (c->flags & MOX_SMTP_CONN_SUBMISSION) != 0;
	if (!mox__smtp_check_mail_allowed(c))
		return MOX_OK;
	if (c->have_mail) {
		/* RFC 5321 section 4.1.4: MAIL in a transaction is an error. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "already have MAIL");
		return MOX_OK;
	}
	if (c->lim.mail_max > 0 && c->transactions >= c->lim.mail_max) {
		/* RFC 9422 section 4.1 (MAILMAX) */
		mox__smtp_error(c, 452, MOX_SMTP_SE_PROTO_TOO_MANY_RCPTS,
				"max of %zu transactions per connection reached", c->lim.mail_max);
		return MOX_OK;
	}
	if (!mox__smtp_args_take(a, " FROM:")) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "expected FROM:");
		return MOX_OK;
	}
	/* RFC 5321 section 4.1.2 has no space after the colon; Outlook sends
	 * one, so submission tolerates it (mox). */
	if (submission && !(c->flags & MOX_SMTP_CONN_PEDANTIC))
		(void)mox__smtp_args_space(a);
	size_t ps, pe;
	if (!raw_path(a, &ps, &pe)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_ADDR_BAD_SENDER_SYNTAX, "bad reverse path");
		return MOX_OK;
	}
	mox_smtp_mail_params pr = {.size = -1, .hold_for = -1, .hold_until = -1};
	char authp[MOX_SMTP_PATH_MAX + 1] = "";
	bool have_auth = false;
	/* Parameters seen, by name, for duplicates (e.g. RFC 6152 section 2). */
	unsigned seen = 0;
	enum { P_SIZE = 1, P_BODY = 2, P_AUTH = 4, P_UTF8 = 8, P_REQTLS = 16, P_HOLD = 32 };
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
		unsigned bit = 0;
		if (strcmp(key, "SIZE") == 0)
			bit = P_SIZE;
		else if (strcmp(key, "BODY") == 0)
			bit = P_BODY;
		else if (strcmp(key, "AUTH") == 0)
			bit = P_AUTH;
		else if (strcmp(key, "SMTPUTF8") == 0)
			bit = P_UTF8;
		else if (strcmp(key, "REQUIRETLS") == 0)
			bit = P_REQTLS;
		else if ((strcmp(key, "HOLDFOR") == 0 || strcmp(key, "HOLDUNTIL") == 0) &&
			 submission && c->future_release_max > 0)
			bit = P_HOLD;
		if (bit == 0) {
			/* RFC 5321 section 4.1.1.11: 555 for unknown parameters. */
			mox__smtp_error(c, 555, MOX_SMTP_SE_SYS_NOT_CAPABLE,
					"unrecognized parameter %s", key);
			return MOX_OK;
		}
		if (seen & bit) {
			if (bit == P_HOLD)
				/* RFC 4865 section 3: only one hold parameter. */
				mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_INVALID_ARGS,
						"cannot use both HOLDFOR and HOLDUNTIL");
			else
				mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_INVALID_ARGS,
						"duplicate parameter %s", key);
			return MOX_OK;
		}
		seen |= bit;
		bool needs_value = bit != P_UTF8 && bit != P_REQTLS;
		if (needs_value != mox__smtp_args_take(a, "=")) {
			mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
					needs_value ? "parameter %s needs a value"
						    : "parameter %s takes no value",
					key);
			return MOX_OK;
		}
		const char *v;
		size_t n;
		uint64_t num;
		switch (bit) {
		case P_SIZE:
			/* size-value = 1*20DIGIT */
			if (!mox__smtp_args_number(a, 20, &num)) {
				mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad SIZE value");
				return MOX_OK;
			}
			if (num > c->lim.message_max) {
				/* RFC 1870 section 6.1: 552; RFC 3463 X.3.4 */
				mox__smtp_error(c, 552, MOX_SMTP_SE_SYS_TOO_BIG,
						"message too large, max %llu octets",
						(unsigned long long)c->lim.message_max);
				return MOX_OK;
			}
			pr.size = (int64_t)num;
			break;
		case P_BODY:
			if (mox__smtp_args_take(a, "8BITMIME")) {
				pr.body = MOX_SMTP_BODY_8BITMIME;
			} else if (mox__smtp_args_take(a, "7BIT")) {
				pr.body = MOX_SMTP_BODY_7BIT;
			} else {
				mox__smtp_error(c, 555, MOX_SMTP_SE_PROTO_INVALID_ARGS,
						"unrecognized BODY value");
				return MOX_OK;
			}
			break;
		case P_AUTH:
			/* RFC 4954 section 5: AUTH=xtext of "<>" or a mailbox. */
			if (!mox__smtp_args_value(a, false, &v, &n) ||
			    !mox__smtp_xtext_decode(v, n, authp, sizeof(authp))) {
				mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad AUTH value");
				return MOX_OK;
			}
			have_auth = true;
			break;
		case P_UTF8:
			pr.smtputf8 = true;
			break;
		case P_REQTLS:
			/* RFC 8689 section 4.1: REQUIRETLS over plain text
			 * makes no sense; 530 5.7.10 (RFC 8689 section 5). */
			if (!c->tls) {
				mox__smtp_error(c, 530, MOX_SMTP_SE_POL_ENCRYPTION_NEEDED,
						"REQUIRETLS only allowed on TLS connections");
				return MOX_OK;
			}
			pr.requiretls = true;
			break;
		case P_HOLD:
			if (key[4] == 'F') {
				/* holdfor-value = 1*9DIGIT */
				if (!mox__smtp_args_number(a, 9, &num)) {
					mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_INVALID_ARGS,
							"bad HOLDFOR value");
					return MOX_OK;
				}
				if ((int64_t)num > c->future_release_max) {
					/* RFC 4865 section 3: 554 5.5.4 */
					mox__smtp_error(c, 554, MOX_SMTP_SE_PROTO_INVALID_ARGS,
							"HOLDFOR too far in the future, max %lld",
							(long long)c->future_release_max);
					return MOX_OK;
				}
				pr.hold_for = (int64_t)num;
				pr.release_at = c->now / 1000 + (int64_t)num;
			} else {
				int64_t t;
				if (!mox__smtp_args_value(a, false, &v, &n) ||
				    !mox__smtp_datetime_parse(v, n, &t)) {
					mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_INVALID_ARGS,
							"bad HOLDUNTIL date-time");
					return MOX_OK;
				}
				int64_t now = c->now / 1000;
				if (t <= now) {
					mox__smtp_error(c, 554, MOX_SMTP_SE_PROTO_INVALID_ARGS,
							"HOLDUNTIL is in the past");
					return MOX_OK;
				}
				if (t - now > c->future_release_max) {
					mox__smtp_error(c, 554, MOX_SMTP_SE_PROTO_INVALID_ARGS,
							"HOLDUNTIL too far in the future");
					return MOX_OK;
				}
				pr.hold_until = t;
				pr.release_at = t;
			}
			break;
		}
	}
	if (!mox__smtp_args_end(c, a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "unexpected text after parameters");
		return MOX_OK;
	}
	mox_smtp_path path;
	char msg[200];
	size_t pos = ps;
	unsigned flags = MOX_SMTP_PATH_NULL | (pr.smtputf8 ? MOX_SMTP_PATH_UTF8 : 0);
	mox__smtp_path_err e = mox__smtp_path_scan(a->s, pe, &pos, flags, true, &path, msg,
						   sizeof(msg));
	if (e == MOX__SMTP_PATH_OK && pos != pe) {
		e = MOX__SMTP_PATH_SYNTAX;
		snprintf(msg, sizeof(msg), "trailing data in path");
	}
	if (e == MOX__SMTP_PATH_UTF8) {
		/* RFC 6531 section 3.6.1: 550 5.6.7 for the reverse path. */
		mox__smtp_error(c, 550, MOX_SMTP_SE_MEDIA_NON_ASCII_ADDR,
				"non-ascii address not permitted without smtputf8");
		return MOX_OK;
	}
	if (e != MOX__SMTP_PATH_OK) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_ADDR_BAD_SENDER_SYNTAX, "bad reverse path: %s",
				msg);
		return MOX_OK;
	}
	c->mail_from = path;
	if (have_auth) {
		memcpy(c->auth_param, authp, sizeof(authp));
		pr.auth = c->auth_param;
	}
	c->params = pr;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_MAIL};
	ev.u.mail.path = &c->mail_from;
	ev.u.mail.params = &c->params;
	mox__smtp_wait_for(c, MOX__SMTP_W_MAIL, &ev);
	return MOX_OK;
}
