/* AUTH from the client side (RFC 4954), over the SASL client of
 * sasl_client.c.
 *
 * The mechanism is the strongest both sides have (mox's order):
 * SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS when we have channel binding
 * data, SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, then PLAIN and LOGIN, which
 * give the password itself away and so are used only over TLS unless the
 * caller allows otherwise. The initial response goes on the AUTH line
 * (RFC 4954 section 4, "=" when empty); each "334" challenge is base64
 * decoded, stepped, and answered with a base64 line. When we cannot go on
 * (a challenge that is not base64, a SCRAM server failing its checks) we
 * cancel with "*" (RFC 4954 section 4) and report the reason after the
 * server's reply. On 235 a SCRAM exchange must also have verified the
 * server's signature, else the "server" did not know the password. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

static const mox_sasl_mech order[] = {
    MOX_SASL_SCRAM_SHA_256_PLUS,
    MOX_SASL_SCRAM_SHA_1_PLUS,
    MOX_SASL_SCRAM_SHA_256,
    MOX_SASL_SCRAM_SHA_1,
    MOX_SASL_CRAM_MD5,
    MOX_SASL_PLAIN,
    MOX_SASL_LOGIN,
};

static mox_sasl_mech
pick(const mox_smtp_client *c)
{
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		mox_sasl_mech m = order[i];
		if (!(c->server_mechs & m) || !(c->auth_mechs & m))
			continue;
		if ((m & MOX_SASL_PLUS_MECHS) && c->cb_type == MOX_SASL_CB_NONE)
			continue;
		if ((m == MOX_SASL_PLAIN || m == MOX_SASL_LOGIN) && !c->tls &&
		    !c->auth_plaintext_ok)
			continue;
		return m;
	}
	return 0;
}

static void
fail_auth(mox_smtp_client *c, mox_smtp_client_status st, const char *text)
{
	mox__smtpc_qev q;
	mox__smtpc_result(&q, MOX_SMTP_CLIENT_STEP_AUTH, st, 0, "", text, strlen(text));
	mox__smtpc_fail(c, &q, true);
}

mox_err
mox__smtpc_auth_start(mox_smtp_client *c, bool *ok_out)
{
	*ok_out = false;
	mox_sasl_mech m = pick(c);
	if (m == 0) {
		fail_auth(c, MOX_SMTP_CLIENT_UNSUPPORTED,
		          (c->ext & MOX_SMTP_EXT_AUTH)
		              ? "no authentication mechanism in common with server"
		              : "server does not offer authentication (AUTH)");
		return MOX_OK;
	}
	mox_sasl_client_opts so;
	memset(&so, 0, sizeof(so));
	so.size = sizeof(so);
	so.alloc = c->alloc;
	so.mech = m;
	so.authc = c->username;
	so.password = c->password;
	so.password_len = c->password_len;
	so.random = c->random;
	so.random_arg = c->random_arg;
	if (m & MOX_SASL_PLUS_MECHS) {
		so.cb_type = c->cb_type;
		so.cb_data = c->cb_data;
		so.cb_len = c->cb_len;
	} else if (c->cb_type != MOX_SASL_CB_NONE &&
	           !(c->server_mechs & MOX_SASL_PLUS_MECHS)) {
		/* RFC 5802 section 6: we could bind but the server offers no
		 * -PLUS: say so ("y"), so a real server seeing this after a
		 * stripped offer detects the downgrade. */
		so.server_lacks_plus = true;
	}
	mox_sasl_client *sc = NULL;
	mox_err err = mox_sasl_client_new(&sc, &so);
	if (err == MOX_EINVAL) {
		fail_auth(c, MOX_SMTP_CLIENT_UNSUPPORTED,
		          "cannot use authentication mechanism");
		return MOX_OK;
	}
	if (err != MOX_OK)
		return err;
	mox_buf ir;
	mox_buf_init(&ir, c->alloc);
	bool has_initial = false;
	err = mox_sasl_client_start(sc, &ir, &has_initial);
	size_t olen = c->out.len;
	if (err == MOX_OK)
		err = mox_buf_appendf(&c->out, "AUTH %s", mox_sasl_mech_name(m));
	if (err == MOX_OK && has_initial) {
		/* RFC 4954 section 4: "=" for an empty initial response. */
		if (ir.len == 0)
			err = mox_buf_append_str(&c->out, " =");
		else {
			err = mox_buf_append_byte(&c->out, ' ');
			if (err == MOX_OK)
				err = mox_base64_encode(&c->out, ir.data, ir.len);
		}
	}
	if (err == MOX_OK)
		err = mox_buf_append_str(&c->out, "\r\n");
	if (err == MOX_OK)
		err = mox__smtpc_expect_push(c, MOX__SMTPC_K_AUTH, 0);
	if (ir.data != NULL)
		mox_mem_wipe(ir.data, ir.len);
	mox_buf_free(&ir);
	if (err != MOX_OK) {
		c->out.len = olen;
		if (c->out.data != NULL)
			c->out.data[olen] = 0;
		mox_sasl_client_free(sc);
		return err;
	}
	c->sasl = sc;
	c->auth_mech = m;
	c->auth_cancelled = false;
	c->auth_error[0] = 0;
	*ok_out = true;
	return MOX_OK;
}

/* Cancel the exchange with "*" (RFC 4954 section 4); the server answers
 * 501 and we fail with why. */
static mox_err
cancel(mox_smtp_client *c, const char *why)
{
	snprintf(c->auth_error, sizeof(c->auth_error), "%s", why);
	c->auth_cancelled = true;
	mox_err err = mox_buf_append_str(&c->out, "*\r\n");
	if (err == MOX_OK)
		err = mox__smtpc_expect_push(c, MOX__SMTPC_K_AUTH, 0);
	return err;
}

mox_err
mox__smtpc_auth_reply(mox_smtp_client *c, const mox_smtp_reply *r, bool *done)
{
	*done = false;
	mox__smtpc_qev q;
	const char *text = (const char *)c->rtext.data;
	size_t tlen = c->rtext.len;
	if (text == NULL)
		text = "";
	if (c->auth_cancelled) {
		fail_auth(c, MOX_SMTP_CLIENT_PROTOCOL, c->auth_error);
		return MOX_OK;
	}
	if (r->code == 334) {
		/* RFC 4954 section 4: a base64 challenge. */
		mox_buf chal, resp;
		mox_buf_init(&chal, c->alloc);
		mox_buf_init(&resp, c->alloc);
		mox_errinfo info;
		mox_err err = mox_base64_decode(&chal, text, tlen, 0, &info);
		if (err == MOX_ESYNTAX) {
			err = cancel(c, "server challenge is not base64");
			goto out334;
		}
		if (err != MOX_OK)
			goto out334;
		err = mox_sasl_client_step(
		    c->sasl, chal.data != NULL ? chal.data : (const uint8_t *)"",
		    chal.len, &resp);
		if (err == MOX_ENOMEM)
			goto out334;
		if (err == MOX_EINVAL) {
			/* The server said "e=..." (RFC 5802 section 7:
			 * server-error) or its signature is wrong. An empty
			 * answer lets it end the exchange with its reply
			 * (535 for bad credentials), which we report; a 235
			 * after this fails the done check. */
			err = mox_buf_append_str(&c->out, "\r\n");
			if (err == MOX_OK)
				err = mox__smtpc_expect_push(c, MOX__SMTPC_K_AUTH, 0);
			goto out334;
		}
		if (err != MOX_OK) {
			char why[MOX__SMTP_ERRMSG_MAX];
			snprintf(why, sizeof(why), "authentication: %s",
			         mox_sasl_client_errmsg(c->sasl)[0]
			             ? mox_sasl_client_errmsg(c->sasl)
			             : mox_strerror(err));
			err = cancel(c, why);
			goto out334;
		}
		err = mox_base64_encode(&c->out, resp.data, resp.len);
		if (err == MOX_OK)
			err = mox_buf_append_str(&c->out, "\r\n");
		if (err == MOX_OK)
			err = mox__smtpc_expect_push(c, MOX__SMTPC_K_AUTH, 0);
	out334:
		if (resp.data != NULL)
			mox_mem_wipe(resp.data, resp.len);
		mox_buf_free(&chal);
		mox_buf_free(&resp);
		return err;
	}
	if (r->code == 235) {
		/* RFC 4954 section 6: authenticated. For SCRAM the server
		 * must also have proven itself (RFC 5802 section 3). */
		bool ok = mox_sasl_client_done(c->sasl);
		mox_sasl_client_free(c->sasl);
		c->sasl = NULL;
		if (!ok) {
			fail_auth(
			    c, MOX_SMTP_CLIENT_PROTOCOL,
			    "server accepted authentication without proving it knows "
			    "the password");
			return MOX_OK;
		}
		*done = true;
		return MOX_OK;
	}
	mox__smtpc_result(&q, MOX_SMTP_CLIENT_STEP_AUTH,
	                  r->code / 100 == 4   ? MOX_SMTP_CLIENT_TEMPFAIL
	                  : r->code / 100 == 5 ? MOX_SMTP_CLIENT_PERMFAIL
	                                       : MOX_SMTP_CLIENT_PROTOCOL,
	                  r->code, r->ecode, text, tlen);
	mox__smtpc_fail(c, &q, true);
	c->auth_mech = 0;
	return MOX_OK;
}
