/* A program that knows nothing of the mox-c source tree: compiled against
 * the INSTALLED libmoxsmtp with nothing but `pkg-config --cflags --libs
 * libmoxsmtp` (or find_package(mox COMPONENTS smtp)). It drives one SMTP
 * server connection through a transaction the way a server would (feed,
 * next, answer, output), parses a path, and checks a SCRAM-SHA-256 client
 * against the server, and exits non-zero on any surprise. */
#include <mox/dsn.h>
#include <mox/smtp.h>
#include <mox/smtp_client.h>

#include <stdio.h>
#include <string.h>

static int
fail(const char *what)
{
	fprintf(stderr, "consumer: %s\n", what);
	return 1;
}

int
main(void)
{
	if (mox_smtp_version() != MOX_SMTP_VERSION_HEX)
		return fail("header/library version skew");

	mox_smtp_path p;
	if (mox_smtp_path_parse("<jösé@münchen.example>", strlen("<jösé@münchen.example>"),
				MOX_SMTP_PATH_UTF8, &p, NULL) != MOX_OK ||
	    strcmp(p.domain, "xn--mnchen-3ya.example") != 0)
		return fail("path");

	mox_smtp_conn *c = NULL;
	mox_smtp_conn_opts o = {.size = sizeof(o), .hostname = "mox.example",
				.now_ms = 1700000000000LL};
	if (mox_smtp_conn_new(&c, &o) != MOX_OK)
		return fail("new");
	static const char in[] = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n"
				 "RCPT TO:<b@example.org>\r\nDATA\r\nSubject: hi\r\n\r\n..x\r\n.\r\n"
				 "QUIT\r\n";
	if (mox_smtp_conn_feed(c, in, sizeof(in) - 1) != MOX_OK)
		return fail("feed");
	char msg[256] = "";
	int closed = 0;
	for (int i = 0; i < 20 && !closed; i++) {
		mox_smtp_event ev;
		mox_err err = mox_smtp_conn_next(c, 1700000000001LL, &ev);
		if (err != MOX_OK)
			return fail(mox_strerror(err));
		switch (ev.type) {
		case MOX_SMTP_EV_HELLO:
		case MOX_SMTP_EV_MAIL:
		case MOX_SMTP_EV_RCPT:
		case MOX_SMTP_EV_DATA_END:
			if (mox_smtp_conn_accept(c) != MOX_OK)
				return fail("accept");
			break;
		case MOX_SMTP_EV_DATA:
			strncat(msg, (const char *)ev.u.data.data, ev.u.data.len);
			break;
		case MOX_SMTP_EV_CLOSE:
			closed = 1;
			break;
		default:
			break;
		}
	}
	if (!closed || strcmp(msg, "Subject: hi\r\n\r\n.x\r\n") != 0)
		return fail("transaction");
	size_t n;
	const uint8_t *out = mox_smtp_conn_output(c, &n);
	if (n < 10 || memcmp(out + n - 27, "221 2.0.0 okay thanks bye\r\n", 27) != 0)
		return fail("output");
	printf("consumer: %.*s", (int)n, (const char *)out);
	mox_smtp_conn_free(c);

	/* SCRAM-SHA-256 client against server (mbedTLS and NFC inside). */
	mox_sasl_scram_secret sec;
	if (mox_sasl_scram_secret_make(true, "pencil", 6, (const uint8_t *)"saltsalt", 8, 4096,
				       &sec) != MOX_OK)
		return fail("secret");
	mox_sasl_client *cl = NULL;
	mox_sasl_server *sv = NULL;
	mox_sasl_client_opts co = {.size = sizeof(co), .mech = MOX_SASL_SCRAM_SHA_256,
				   .authc = "user", .password = (const uint8_t *)"pencil",
				   .password_len = 6};
	mox_sasl_server_opts so = {.size = sizeof(so), .mech = MOX_SASL_SCRAM_SHA_256};
	if (mox_sasl_client_new(&cl, &co) != MOX_OK || mox_sasl_server_new(&sv, &so) != MOX_OK)
		return fail("sasl new");
	mox_buf b = MOX_BUF_INIT;
	bool init;
	mox_sasl_status st;
	if (mox_sasl_client_start(cl, &b, &init) != MOX_OK ||
	    mox_sasl_server_step(sv, b.data, b.len, init, &st) != MOX_OK ||
	    st != MOX_SASL_NEED_SCRAM || mox_sasl_server_set_scram(sv, &sec, &st) != MOX_OK)
		return fail("scram first");
	while (st == MOX_SASL_CONTINUE) {
		const uint8_t *ch = mox_sasl_server_challenge(sv, &n);
		mox_buf_reset(&b);
		if (mox_sasl_client_step(cl, ch, n, &b) != MOX_OK ||
		    mox_sasl_server_step(sv, b.data, b.len, true, &st) != MOX_OK)
			return fail("scram step");
	}
	if (st != MOX_SASL_SUCCESS || !mox_sasl_client_done(cl))
		return fail("scram result");
	printf("consumer: SCRAM-SHA-256 ok\n");
	mox_buf_free(&b);
	mox_sasl_client_free(cl);
	mox_sasl_server_free(sv);

	/* The client core (mox/smtp_client.h): greeting in, EHLO out. */
	mox_smtp_client *sc = NULL;
	mox_smtp_client_opts sco = {.size = sizeof(sco), .hostname = "client.example"};
	mox_smtp_client_event cev;
	if (mox_smtp_client_new(&sc, &sco) != MOX_OK ||
	    mox_smtp_client_feed(sc, "220 mx ESMTP\r\n", 14) != MOX_OK ||
	    mox_smtp_client_next(sc, 0, &cev) != MOX_EAGAIN)
		return fail("smtp client");
	const uint8_t *co_out = mox_smtp_client_output(sc, &n);
	if (n != 21 || memcmp(co_out, "EHLO client.example\r\n", 21) != 0)
		return fail("smtp client output");
	mox_smtp_client_free(sc);

	/* DSNs (mox/dsn.h, through libmoxmessage): compose, recognise. */
	mox_dsn_rcpt dr = {.final_recipient = "b@example.org", .action = MOX_DSN_FAILED};
	mox_dsn dsn = {.size = sizeof(dsn), .from = "postmaster@mox.example",
		       .to = "a@example.org", .message_id = "x@mox.example", .date = 1700000000,
		       .text = "failed\n", .reporting_mta = "mox.example", .rcpts = &dr, .nrcpts = 1};
	mox_buf db = MOX_BUF_INIT;
	if (mox_dsn_compose(&dsn, NULL, &db, NULL) != MOX_OK || !mox_dsn_is_dsn(db.data, db.len))
		return fail("dsn");
	mox_buf_free(&db);
	printf("consumer: SMTP client and DSN ok\n");
	return 0;
}
