/* AUTH, RFC 4954 section 4:
 *
 *   auth-command = "AUTH" SP sasl-mech [SP initial-response] CRLF
 *   initial-response = base64 / "="
 *
 * then "334" SP [base64] challenges and base64 (or "*" to cancel) response
 * lines of at most 12288 octets, until 235 (success) or an error. The
 * mechanisms are in sasl_server.c; this file frames them: base64, the
 * codes (RFC 4954 section 6), and the events that ask the caller for
 * credentials. Only on submission (as mox), once per session, and over TLS
 * when required (538). */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

void
mox__smtp_auth_end(mox_smtp_conn *c)
{
	mox_sasl_server_free(c->sasl);
	c->sasl = NULL;
	if (c->state == MOX__SMTP_ST_AUTH)
		c->state = MOX__SMTP_ST_CMD;
}

static void
result(mox_smtp_conn *c, bool ok, mox_sasl_failure f)
{
	mox_smtp_event ev = {.type = MOX_SMTP_EV_AUTH_RESULT};
	ev.u.auth_result.mech = c->sasl_mech;
	ev.u.auth_result.ok = ok;
	ev.u.auth_result.failure = f;
	if (ok) {
		ev.u.auth_result.authc = c->username;
	} else if (c->sasl != NULL && mox_sasl_server_authc(c->sasl) != NULL) {
		/* Kept for the event in a buffer that outlives the SASL
		 * handle. */
		snprintf(c->auth_failed_user, sizeof(c->auth_failed_user), "%s",
			 mox_sasl_server_authc(c->sasl));
		ev.u.auth_result.authc = c->auth_failed_user;
	}
	mox__smtp_push(c, &ev);
}

static void
failed(mox_smtp_conn *c, mox_sasl_failure f, int code, int se, const char *text)
{
	result(c, false, f);
	mox__smtp_auth_end(c);
	/* Not counted in errors_max: failed logins have their own limit. */
	mox__smtp_reply(c, code, se, "%s", text);
	c->auth_failures++;
	if (c->auth_failures >= c->lim.auth_failures_max)
		mox__smtp_close(c, 421, MOX_SMTP_SE_POL_OTHER,
				"too many authentication failures, closing");
}

void
mox__smtp_auth_continue(mox_smtp_conn *c, mox_sasl_status st)
{
	switch (st) {
	case MOX_SASL_CONTINUE: {
		size_t n;
		const uint8_t *chal = mox_sasl_server_challenge(c->sasl, &n);
		/* RFC 4954 section 4: "334" SP [base64]; the space stays
		 * for an empty challenge. */
		(void)mox_buf_append_str(&c->out, "334 ");
		(void)mox_base64_encode(&c->out, chal, n);
		(void)mox_buf_append_str(&c->out, "\r\n");
		c->state = MOX__SMTP_ST_AUTH;
		return;
	}
	case MOX_SASL_CHECK_PASSWORD:
	case MOX_SASL_NEED_PASSWORD:
	case MOX_SASL_NEED_SCRAM: {
		mox_smtp_event ev = {.type = MOX_SMTP_EV_AUTH};
		ev.u.auth.mech = c->sasl_mech;
		ev.u.auth.need = st;
		ev.u.auth.authc = mox_sasl_server_authc(c->sasl);
		ev.u.auth.authz = mox_sasl_server_authz(c->sasl);
		if (st == MOX_SASL_CHECK_PASSWORD)
			ev.u.auth.password =
				mox_sasl_server_password(c->sasl, &ev.u.auth.password_len);
		mox__smtp_wait_for(c, MOX__SMTP_W_AUTH, &ev);
		return;
	}
	case MOX_SASL_SUCCESS:
		snprintf(c->username, sizeof(c->username), "%s", mox_sasl_server_authc(c->sasl));
		c->authenticated = true;
		c->auth_failures = 0;
		result(c, true, MOX_SASL_FAIL_NONE);
		mox__smtp_auth_end(c);
		/* RFC 4954 section 6: 235 2.7.0 */
		mox__smtp_reply(c, 235, MOX_SMTP_SE_POL_OTHER, "nice");
		return;
	case MOX_SASL_FAILURE:
		break;
	}
	mox_sasl_failure f = mox_sasl_server_failure(c->sasl);
	char text[200];
	snprintf(text, sizeof(text), "%s", mox_sasl_server_errmsg(c->sasl));
	switch (f) {
	case MOX_SASL_FAIL_MALFORMED:
		failed(c, f, 501, MOX_SMTP_SE_PROTO_SYNTAX, text);
		break;
	case MOX_SASL_FAIL_UNSUPPORTED:
		failed(c, f, 504, MOX_SMTP_SE_PROTO_INVALID_ARGS, text);
		break;
	default:
		/* RFC 4954 section 6: 535 5.7.8. Do not say more about
		 * credentials than "bad". */
		failed(c, f, 535, MOX_SMTP_SE_POL_BAD_CREDENTIALS,
		       f == MOX_SASL_FAIL_BAD_CREDENTIALS ? "bad user/pass" : text);
		break;
	}
}

/* Decode a base64 response; MOX_ESYNTAX if it is not base64. */
static mox_err
decode(mox_smtp_conn *c, const char *s, size_t n, mox_buf *out)
{
	mox_buf_init(out, c->alloc);
	return mox_base64_decode(out, s, n, 0, NULL);
}

static void
wipe(mox_buf *b)
{
	if (b->data != NULL)
		mox_mem_wipe(b->data, b->cap);
	mox_buf_free(b);
}

mox_err
mox__smtp_cmd_auth(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (!c->hello_done) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "no ehlo/helo yet");
		return MOX_OK;
	}
	if (!(c->flags & MOX_SMTP_CONN_SUBMISSION)) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND,
				"authentication only allowed on submission ports");
		return MOX_OK;
	}
	if (c->authenticated) {
		/* RFC 4954 section 4: once per session. */
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "already authenticated");
		return MOX_OK;
	}
	/* RFC 4954 section 4 forbids AUTH in a transaction; on submission a
	 * transaction needs authentication first, so the check above covers
	 * it. */
	/* sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / HYPHEN
	 * / UNDERSCORE (RFC 4422 section 3.1; we take lower case too) */
	size_t ms = a->pos + 1, me = ms;
	if (!mox__smtp_args_space(a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "missing mechanism");
		return MOX_OK;
	}
	while (me < a->len && me - ms < MOX_SASL_MECH_NAME_MAX + 1) {
		char ch = a->s[me];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			break;
		me++;
	}
	if (me == ms || me - ms > MOX_SASL_MECH_NAME_MAX ||
	    (me < a->len && a->s[me] != ' ')) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad mechanism name");
		return MOX_OK;
	}
	a->pos = me;
	if ((c->flags & MOX_SMTP_CONN_REQUIRE_TLS_AUTH) && !c->tls) {
		/* RFC 4954 section 6: 538 5.7.11 */
		mox__smtp_error(c, 538, MOX_SMTP_SE_POL_ENCRYPTION_FOR_AUTH,
				"authentication requires tls");
		return MOX_OK;
	}
	mox_sasl_mech mech = mox_sasl_mech_from_name(a->s + ms, me - ms);
	if (mech == 0 || !(c->auth_mechs & mech) ||
	    ((mech & MOX_SASL_PLUS_MECHS) && c->cb_type == MOX_SASL_CB_NONE)) {
		/* RFC 4954 section 4: 504 5.5.4 */
		mox__smtp_error(c, 504, MOX_SMTP_SE_PROTO_INVALID_ARGS, "mechanism %.*s not supported",
				(int)(me - ms), a->s + ms);
		return MOX_OK;
	}
	bool has_initial = false;
	mox_buf initial = MOX_BUF_INIT;
	if (mox__smtp_args_space(a)) {
		const char *v = a->s + a->pos;
		size_t n = a->len - a->pos;
		has_initial = true;
		if (n == 0) {
			mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
					"missing initial response after space");
			return MOX_OK;
		}
		/* "=" is an empty initial response (RFC 4954 section 4). */
		if (!(n == 1 && v[0] == '=')) {
			mox_err err = decode(c, v, n, &initial);
			if (err == MOX_ENOMEM)
				return err;
			if (err != MOX_OK) {
				wipe(&initial);
				mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX,
						"invalid base64 in initial response");
				return MOX_OK;
			}
		}
	}
	mox_sasl_server_opts o = {
		.size = sizeof(o),
		.alloc = c->alloc,
		.mech = mech,
		.hostname = c->hostname,
		.random = c->random,
		.random_arg = c->random_arg,
		.cb_type = c->cb_type,
		.cb_data = c->cb_data,
		.cb_len = c->cb_len,
		.plus_offered = (c->auth_mechs & MOX_SASL_PLUS_MECHS) != 0,
	};
	mox_sasl_server *s = NULL;
	mox_err err = mox_sasl_server_new(&s, &o);
	mox_sasl_status st;
	if (err == MOX_OK)
		err = mox_sasl_server_step(s, initial.data, initial.len, has_initial, &st);
	wipe(&initial);
	if (err != MOX_OK) {
		mox_sasl_server_free(s);
		return err == MOX_ENOMEM ? err : MOX_EINVAL;
	}
	c->sasl = s;
	c->sasl_mech = mech;
	mox__smtp_auth_continue(c, st);
	return MOX_OK;
}

mox_err
mox__smtp_auth_line(mox_smtp_conn *c, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 4954 section 4: the client cancels; 501. After a SCRAM
		 * server-final error the cancel is how the exchange ends:
		 * then it is the failure we told (mox replies 535). */
		if (mox__smtp_sasl_told_failure(c->sasl)) {
			mox_sasl_status st;
			mox_err err = mox_sasl_server_step(c->sasl, NULL, 0, true, &st);
			if (err != MOX_OK)
				return err;
			mox__smtp_auth_continue(c, st);
			return MOX_OK;
		}
		result(c, false, MOX_SASL_FAIL_ABORTED);
		mox__smtp_auth_end(c);
		mox__smtp_error(c, 501, MOX_SMTP_SE_OTHER, "authentication aborted");
		return MOX_OK;
	}
	mox_buf data;
	mox_err err = decode(c, line, len, &data);
	if (err == MOX_ENOMEM) {
		wipe(&data);
		return err;
	}
	if (err != MOX_OK) {
		wipe(&data);
		result(c, false, MOX_SASL_FAIL_MALFORMED);
		mox__smtp_auth_end(c);
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "invalid base64");
		return MOX_OK;
	}
	mox_sasl_status st;
	err = mox_sasl_server_step(c->sasl, data.data, data.len, true, &st);
	wipe(&data);
	if (err != MOX_OK)
		return err;
	mox__smtp_auth_continue(c, st);
	return MOX_OK;
}
