/* EHLO and HELO, RFC 5321 section 4.1.1.1:
 *
 *   ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
 *   helo = "HELO" SP Domain CRLF
 *
 * Text after the name is ignored, as mox does (RFC 5321 section 4.1.1.1
 * mentions clients that send more). A new hello resets the transaction
 * (RFC 5321 section 4.1.4) but keeps authentication. The caller answers the
 * HELLO event: accepting writes our reply with the extension keywords. */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

mox_err
mox__smtp_cmd_hello(mox_smtp_conn *c, mox__smtp_args *a, bool ehlo)
{
	if (!mox__smtp_args_space(a)) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "missing domain after %s",
				ehlo ? "EHLO" : "HELO");
		return MOX_OK;
	}
	mox_smtp_path h;
	char msg[200];
	size_t start = a->pos;
	mox__smtp_path_err e = mox__smtp_ipdomain_scan(a->s, a->len, &a->pos, ehlo, ehlo, &h, msg,
						       sizeof(msg));
	if (e == MOX__SMTP_PATH_OK && a->pos < a->len && a->s[a->pos] != ' ') {
		e = MOX__SMTP_PATH_SYNTAX;
		snprintf(msg, sizeof(msg), "unexpected character after name");
	}
	if (e != MOX__SMTP_PATH_OK) {
		mox__smtp_error(c, 501, MOX_SMTP_SE_PROTO_SYNTAX, "bad name: %s", msg);
		return MOX_OK;
	}
	mox__smtp_rset(c, true);
	c->hello = h;
	c->hello_ehlo = ehlo;
	size_t n = a->pos - start;
	memcpy(c->hello_name, a->s + start, n);
	c->hello_name[n] = 0;
	mox_smtp_event ev = {.type = MOX_SMTP_EV_HELLO};
	ev.u.hello.ehlo = ehlo;
	ev.u.hello.name = c->hello_name;
	ev.u.hello.domain = c->hello.domain;
	ev.u.hello.domain_unicode = c->hello.domain_unicode;
	ev.u.hello.ip = c->hello.ip;
	mox__smtp_wait_for(c, MOX__SMTP_W_HELLO, &ev);
	return MOX_OK;
}

static void
add_line(mox_smtp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_line(mox_smtp_conn *c, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)mox_buf_appendf(&c->out, "250-%s\r\n", line);
}

void
mox__smtp_hello_reply(mox_smtp_conn *c)
{
	c->hello_done = true;
	c->ehlo = c->hello_ehlo;
	if (!c->ehlo) {
		/* RFC 5321 section 4.1.1.1: "250" SP Domain [SP helo-greet] */
		(void)mox_buf_appendf(&c->out, "250 %s\r\n", c->hostname);
		return;
	}
	bool submission = (c->flags & MOX_SMTP_CONN_SUBMISSION) != 0;
	(void)mox_buf_appendf(&c->out, "250-%s\r\n", c->hostname);
	add_line(c, "PIPELINING");                                          /* RFC 2920 */
	add_line(c, "SIZE %llu", (unsigned long long)c->lim.message_max);  /* RFC 1870 */
	if (c->tls)
		add_line(c, "REQUIRETLS"); /* RFC 8689 section 4: only over TLS */
	if (!c->tls && (c->flags & MOX_SMTP_CONN_STARTTLS))
		add_line(c, "STARTTLS"); /* RFC 3207 section 4 */
	if (submission && (c->tls || !(c->flags & MOX_SMTP_CONN_REQUIRE_TLS_AUTH))) {
		/* RFC 4954 section 3; strongest first. */
		static const mox_sasl_mech order[] = {
			MOX_SASL_SCRAM_SHA_256_PLUS, MOX_SASL_SCRAM_SHA_256,
			MOX_SASL_SCRAM_SHA_1_PLUS,   MOX_SASL_SCRAM_SHA_1,
			MOX_SASL_CRAM_MD5,           MOX_SASL_PLAIN,
			MOX_SASL_LOGIN,
		};
		char list[200] = "AUTH";
		size_t n = strlen(list);
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			mox_sasl_mech m = order[i];
			if (!(c->auth_mechs & m))
				continue;
			if ((m & MOX_SASL_PLUS_MECHS) && c->cb_type == MOX_SASL_CB_NONE)
				continue;
			n += (size_t)snprintf(list + n, sizeof(list) - n, " %s",
					      mox_sasl_mech_name(m));
		}
		if (n > 4)
			add_line(c, "%s", list);
	}
	add_line(c, "ENHANCEDSTATUSCODES"); /* RFC 2034 */
	add_line(c, "8BITMIME");            /* RFC 6152 */
	/* RFC 9422 section 4 */
	if (c->lim.mail_max > 0)
		add_line(c, "LIMITS MAILMAX=%zu RCPTMAX=%zu", c->lim.mail_max, c->lim.rcpt_max);
	else
		add_line(c, "LIMITS RCPTMAX=%zu", c->lim.rcpt_max);
	if (!(c->flags & MOX_SMTP_CONN_NO_CHUNKING))
		add_line(c, "CHUNKING"); /* RFC 3030 */
	if (submission && c->future_release_max > 0) {
		/* RFC 4865 section 3: max-future-release-interval
		 * max-future-release-date-time */
		char when[32];
		mox__smtp_datetime_format(mox__smtp_add_time(c->now / 1000, c->future_release_max),
					  when);
		add_line(c, "FUTURERELEASE %lld %s", (long long)c->future_release_max, when);
	}
	(void)mox_buf_append_str(&c->out, "250 SMTPUTF8\r\n"); /* RFC 6531 */
}
