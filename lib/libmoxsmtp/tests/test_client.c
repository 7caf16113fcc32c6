/* The SMTP client core (mox/smtp_client.h) against the library's own
 * server core (mox/smtp.h), in memory: bytes are piped both ways, the
 * server's events are answered by a small policy keyed on local parts,
 * and the client's events are written to a log that each test compares
 * with what it expects. Paths the server core cannot produce (no
 * 8BITMIME, odd replies, 421, time-outs, lost connections, STARTTLS
 * injection) are driven with canned server bytes.
 *
 * Server policy, by local part:
 *   MAIL FROM mailtemp@ -> 451 4.3.0, mailperm@ -> 550 5.7.1
 *   RCPT TO rcpttemp* -> 450 4.2.1, rcptperm* -> 550 5.1.1
 *   message with "X-Reject: temp" -> 451 4.3.0, "X-Reject: perm" -> 554 5.6.0
 * AUTH: user "mjl", password "secret". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/smtp.h>
#include <mox/smtp_client.h>
#include "mox_testalloc.h"

#define T0 1700000000000LL

typedef struct pair {
	mox_smtp_conn *srv;
	mox_smtp_client *cli;
	int64_t now;
	bool srv_tls_pending;
	unsigned srv_flags;
	/* Client actions. */
	const mox_smtp_client_tx *txs;
	const char *const *bodies;
	size_t ntx, txi;
	const char *body;
	size_t body_off;
	size_t chunk; /* bytes per data() call */
	bool streaming;
	bool ended;
	/* Results. */
	mox_buf log;
	mox_buf msg;      /* current message at the server */
	mox_buf received; /* all messages accepted, separated by "|" */
	bool closed;
	int ehlo_reply; /* reply to EHLO (not HELO) instead of accepting */
	int starttls_count;
	bool data_end_bdat;
	bool trickle; /* move one byte at a time each way */
} pair;

static void
logf_(pair *p, const char *fmt, ...)
{
	va_list ap;
	char line[1200];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->log.len > 0)
		mox_buf_append_str(&p->log, ";");
	mox_buf_append_str(&p->log, line);
}

static void
log_result(pair *p, const char *what, const mox_smtp_client_result *r)
{
	logf_(p, "%s %s %s %d%s%s", what, mox_smtp_client_step_name(r->step),
	      mox_smtp_client_status_name(r->status), r->code, r->ecode[0] ? " " : "",
	      r->ecode);
	if (getenv("TEST_CLIENT_DEBUG") != NULL)
		fprintf(stderr, "result text: %s\n", r->text);
}

static int
test_random(void *arg, uint8_t *buf, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	return 0;
}

static bool
has_prefix(const char *s, const char *pfx)
{
	return strncmp(s, pfx, strlen(pfx)) == 0;
}

static void
server_events(pair *p)
{
	for (int guard = 0; guard < 1000; guard++) {
		mox_smtp_event ev;
		mox_err err = mox_smtp_conn_next(p->srv, p->now, &ev);
		if (err == MOX_EAGAIN || err == MOX_ESTATE)
			return;
		assert_int_equal(err, MOX_OK);
		switch (ev.type) {
		case MOX_SMTP_EV_HELLO:
			if (ev.u.hello.ehlo && p->ehlo_reply)
				assert_int_equal(mox_smtp_conn_reply(p->srv,
				                                     p->ehlo_reply, -1,
				                                     "no EHLO here"),
				                 MOX_OK);
			else
				assert_int_equal(mox_smtp_conn_accept(p->srv), MOX_OK);
			break;
		case MOX_SMTP_EV_STARTTLS:
			p->srv_tls_pending = true;
			break;
		case MOX_SMTP_EV_AUTH: {
			bool user = strcmp(ev.u.auth.authc, "mjl") == 0;
			if (ev.u.auth.need == MOX_SASL_CHECK_PASSWORD) {
				bool ok = user && ev.u.auth.password_len == 6 &&
				          memcmp(ev.u.auth.password, "secret", 6) == 0;
				assert_int_equal(mox_smtp_conn_auth_verdict(p->srv, ok),
				                 MOX_OK);
			} else if (ev.u.auth.need == MOX_SASL_NEED_PASSWORD) {
				if (user)
					assert_int_equal(
					    mox_smtp_conn_auth_password(
					        p->srv, (const uint8_t *)"secret", 6),
					    MOX_OK);
				else
					assert_int_equal(
					    mox_smtp_conn_auth_verdict(p->srv, false),
					    MOX_OK);
			} else {
				bool sha256 = (ev.u.auth.mech &
				               (MOX_SASL_SCRAM_SHA_256 |
				                MOX_SASL_SCRAM_SHA_256_PLUS)) != 0;
				mox_sasl_scram_secret sec;
				assert_int_equal(mox_sasl_scram_secret_make(
				                     sha256, "secret", 6,
				                     (const uint8_t *)"saltsaltsalt",
				                     12, 4096, &sec),
				                 MOX_OK);
				assert_int_equal(mox_smtp_conn_auth_scram(
				                     p->srv, user ? &sec : NULL),
				                 MOX_OK);
			}
			break;
		}
		case MOX_SMTP_EV_MAIL: {
			const char *lp = ev.u.mail.path->localpart;
			if (strcmp(lp, "mailtemp") == 0)
				mox_smtp_conn_reply(p->srv, 451, MOX_SMTP_SE_SYS_OTHER,
				                    "try later");
			else if (strcmp(lp, "mailperm") == 0)
				mox_smtp_conn_reply(p->srv, 550,
				                    MOX_SMTP_SE_POL_NOT_AUTHORIZED,
				                    "go away");
			else
				assert_int_equal(mox_smtp_conn_accept(p->srv), MOX_OK);
			break;
		}
		case MOX_SMTP_EV_RCPT: {
			const char *lp = ev.u.rcpt.path->localpart;
			if (has_prefix(lp, "rcpttemp"))
				mox_smtp_conn_reply(p->srv, 450,
				                    MOX_SMTP_SE_MAILBOX_OTHER, "busy");
			else if (has_prefix(lp, "rcptperm"))
				mox_smtp_conn_reply(p->srv, 550,
				                    MOX_SMTP_SE_ADDR_BAD_MAILBOX,
				                    "no such user");
			else
				assert_int_equal(mox_smtp_conn_accept(p->srv), MOX_OK);
			break;
		}
		case MOX_SMTP_EV_DATA_BEGIN:
			mox_buf_reset(&p->msg);
			p->data_end_bdat = ev.u.data_begin.bdat;
			break;
		case MOX_SMTP_EV_DATA:
			mox_buf_append(&p->msg, ev.u.data.data, ev.u.data.len);
			break;
		case MOX_SMTP_EV_DATA_END: {
			const char *m =
			    p->msg.data != NULL ? (const char *)p->msg.data : "";
			if (strstr(m, "X-Reject: temp") != NULL) {
				mox_smtp_conn_reply(p->srv, 451, MOX_SMTP_SE_SYS_OTHER,
				                    "not now");
			} else if (strstr(m, "X-Reject: perm") != NULL) {
				mox_smtp_conn_reply(p->srv, 554,
				                    MOX_SMTP_SE_MEDIA_OTHER,
				                    "bad message");
			} else {
				mox_buf_append(&p->received, p->msg.data, p->msg.len);
				mox_buf_append_str(&p->received, "|");
				assert_int_equal(mox_smtp_conn_accept(p->srv), MOX_OK);
			}
			break;
		}
		case MOX_SMTP_EV_CLOSE:
			return;
		default:
			break;
		}
	}
	fail_msg("server event loop did not end");
}

static void
client_stream(pair *p)
{
	if (!p->streaming)
		return;
	size_t total = strlen(p->body);
	while (p->body_off < total) {
		size_t n = total - p->body_off;
		if (n > p->chunk)
			n = p->chunk;
		size_t taken = 0;
		mox_err err =
		    mox_smtp_client_data(p->cli, p->body + p->body_off, n, &taken);
		if (err == MOX_ESTATE) {
			p->streaming = false;
			return;
		}
		assert_int_equal(err, MOX_OK);
		if (taken == 0)
			return; /* output full or waiting for a BDAT reply */
		p->body_off += taken;
	}
	mox_err err = mox_smtp_client_data_end(p->cli);
	if (err == MOX_EAGAIN)
		return;
	if (err == MOX_ESTATE) {
		p->streaming = false;
		return;
	}
	assert_int_equal(err, MOX_OK);
	p->streaming = false;
}

static void
client_events(pair *p)
{
	for (int guard = 0; guard < 1000; guard++) {
		client_stream(p);
		mox_smtp_client_event ev;
		mox_err err = mox_smtp_client_next(p->cli, p->now, &ev);
		if (err == MOX_EAGAIN)
			return;
		assert_int_equal(err, MOX_OK);
		switch (ev.type) {
		case MOX_SMTP_CLIENT_EV_READY:
			logf_(p, "READY");
			if (p->txi < p->ntx) {
				p->body = p->bodies[p->txi];
				err = mox_smtp_client_mail(p->cli, &p->txs[p->txi]);
				p->txi++;
				if (err != MOX_OK)
					logf_(p, "MAIL-ERR %s", mox_err_name(err));
			} else {
				assert_int_equal(mox_smtp_client_quit(p->cli), MOX_OK);
			}
			break;
		case MOX_SMTP_CLIENT_EV_STARTTLS:
			logf_(p, "STARTTLS");
			p->starttls_count++;
			assert_int_equal(mox_smtp_client_starttls_done(p->cli), MOX_OK);
			break;
		case MOX_SMTP_CLIENT_EV_RCPT: {
			char what[64];
			snprintf(what, sizeof(what), "RCPT %zu", ev.u.rcpt.index);
			log_result(p, what, &ev.u.rcpt.result);
			break;
		}
		case MOX_SMTP_CLIENT_EV_DATA:
			logf_(p, "DATA");
			if (!p->streaming) {
				p->streaming = true;
				p->body_off = 0;
			}
			break;
		case MOX_SMTP_CLIENT_EV_DONE: {
			char what[64];
			snprintf(what, sizeof(what), "DONE %zu/%zu",
			         ev.u.done.rcpts_accepted, ev.u.done.rcpts_tried);
			log_result(p, what, &ev.u.done.result);
			break;
		}
		case MOX_SMTP_CLIENT_EV_ERROR:
			log_result(p, "ERROR", &ev.u.error.result);
			break;
		case MOX_SMTP_CLIENT_EV_CLOSED:
			if (!p->closed)
				logf_(p, "CLOSED");
			p->closed = true;
			return;
		}
	}
	fail_msg("client event loop did not end");
}

/* Move bytes both ways until nothing changes. */
static void
pump(pair *p)
{
	for (int round = 0; round < 100000 && !p->closed; round++) {
		bool moved = false;
		size_t n;
		const uint8_t *o = mox_smtp_client_output(p->cli, &n);
		size_t room = mox_smtp_conn_input_room(p->srv);
		if (n > room)
			n = room;
		if (p->trickle && n > 1)
			n = 1;
		if (n > 0) {
			assert_int_equal(mox_smtp_conn_feed(p->srv, o, n), MOX_OK);
			mox_smtp_client_output_consume(p->cli, n);
			moved = true;
		}
		server_events(p);
		o = mox_smtp_conn_output(p->srv, &n);
		if (p->trickle && n > 1)
			n = 1;
		if (n > 0) {
			assert_int_equal(mox_smtp_client_feed(p->cli, o, n), MOX_OK);
			mox_smtp_conn_output_consume(p->srv, n);
			moved = true;
		}
		if (p->srv_tls_pending) {
			p->srv_tls_pending = false;
			assert_int_equal(mox_smtp_conn_starttls_done(p->srv), MOX_OK);
		}
		client_events(p);
		mox_smtp_client_output(p->cli, &n);
		if (!moved && n == 0 && !p->streaming)
			break;
	}
}

typedef struct setup {
	bool trickle;
	unsigned srv_flags;
	unsigned srv_mechs;
	size_t rcpt_max;
	mox_smtp_client_tls tls;
	bool tls_active;
	const char *user;
	const char *password;
	bool cb;
	size_t chunk;
	int ehlo_reply;
	size_t output_max;
} setup;

static void
pair_init(pair *p, const setup *s)
{
	memset(p, 0, sizeof(*p));
	p->now = T0;
	mox_buf_init(&p->log, NULL);
	mox_buf_init(&p->msg, NULL);
	mox_buf_init(&p->received, NULL);
	p->chunk = s->chunk ? s->chunk : 1000;
	p->trickle = s->trickle;
	p->ehlo_reply = s->ehlo_reply;
	mox_smtp_limits lim;
	mox_smtp_limits_default(&lim);
	if (s->rcpt_max)
		lim.rcpt_max = s->rcpt_max;
	mox_smtp_conn_opts so = {.size = sizeof(so),
	                         .hostname = "mx.example.org",
	                         .flags = s->srv_flags,
	                         .auth_mechs = s->srv_mechs,
	                         .limits = &lim,
	                         .now_ms = T0,
	                         .random = test_random};
	assert_int_equal(mox_smtp_conn_new(&p->srv, &so), MOX_OK);
	mox_smtp_client_limits cl;
	mox_smtp_client_limits_default(&cl);
	if (s->output_max)
		cl.output_max = s->output_max;
	mox_smtp_client_opts co = {.size = sizeof(co),
	                           .hostname = "client.example",
	                           .tls = s->tls,
	                           .tls_active = s->tls_active,
	                           .username = s->user,
	                           .password = (const uint8_t *)s->password,
	                           .password_len =
	                               s->password ? strlen(s->password) : 0,
	                           .limits = &cl,
	                           .random = test_random};
	assert_int_equal(mox_smtp_client_new(&p->cli, &co), MOX_OK);
	if (s->cb) {
		static const uint8_t cb[32] = {1, 2, 3, 4, 5};
		assert_int_equal(mox_smtp_conn_set_channel_binding(
		                     p->srv, MOX_SASL_CB_TLS_EXPORTER, cb, sizeof(cb)),
		                 MOX_OK);
		assert_int_equal(mox_smtp_client_set_channel_binding(
		                     p->cli, MOX_SASL_CB_TLS_EXPORTER, cb, sizeof(cb)),
		                 MOX_OK);
	}
}

static void
pair_free(pair *p)
{
	mox_smtp_client_free(p->cli);
	mox_smtp_conn_free(p->srv);
	mox_buf_free(&p->log);
	mox_buf_free(&p->msg);
	mox_buf_free(&p->received);
}

static void
expect_log(pair *p, const char *want)
{
	const char *got = p->log.data != NULL ? (const char *)p->log.data : "";
	if (strcmp(got, want) != 0)
		fail_msg("log\n got: %s\nwant: %s", got, want);
}

static const mox_smtp_client_rcpt one_rcpt[] = {{.addr = "rcpt@example.org"}};
static const char body1[] = "Subject: hi\r\n\r\nhello\r\n.dot line\r\n";

/* Run one session with the given transactions. */
static void
run(pair *p, const setup *s, const mox_smtp_client_tx *txs, const char *const *bodies,
    size_t ntx)
{
	pair_init(p, s);
	p->txs = txs;
	p->bodies = bodies;
	p->ntx = ntx;
	pump(p);
}

static void
test_success(void **state)
{
	(void)state;
	/* Both with CHUNKING (BDAT) and without (pipelined DATA), message
	 * in small chunks with bare LF, dots and a missing final newline
	 * (the bytes are checked in test_message_bytes). */
	static const char body[] = "Subject: x\n\n.leading dot\n..two\nbare\rcr\r\nend";
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "sender@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	const char *bodies[] = {body};
	for (int chunking = 0; chunking < 2; chunking++) {
		for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
			pair p;
			setup s = {.chunk = chunk,
			           .srv_flags =
			               chunking ? 0 : MOX_SMTP_CONN_NO_CHUNKING};
			run(&p, &s, &tx, bodies, 1);
			expect_log(&p, "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 "
			               "data-end ok 250 "
			               "2.0.0;READY;CLOSED");
			pair_free(&p);
		}
	}
}

static void
test_message_bytes(void **state)
{
	(void)state;
	static const char body[] = "Subject: x\n\n.leading dot\n..two\nbare\rcr\r\nend";
	static const char want_dot[] =
	    "Subject: x\r\n\r\n.leading dot\r\n..two\r\nbare\r\ncr\r\nend\r\n";
	static const char want_bdat[] =
	    "Subject: x\r\n\r\n.leading dot\r\n..two\r\nbare\r\ncr\r\nend";
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "sender@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	const char *bodies[] = {body};
	for (int chunking = 0; chunking < 2; chunking++) {
		for (size_t chunk = 1; chunk <= 64; chunk *= 2) {
			pair p;
			setup s = {.chunk = chunk,
			           .srv_flags =
			               chunking ? 0 : MOX_SMTP_CONN_NO_CHUNKING};
			run(&p, &s, &tx, bodies, 1);
			char want[256];
			snprintf(want, sizeof(want), "%s|",
			         chunking ? want_bdat : want_dot);
			assert_string_equal((const char *)p.received.data, want);
			assert_int_equal(p.data_end_bdat, chunking);
			pair_free(&p);
		}
	}
}

/* Every byte on its own both ways (split input at every offset), with
 * pipelining, partial failure and AUTH: the same events. */
static void
test_trickle(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt rcpts[] = {{.addr = "a@example.org"},
	                                             {.addr = "rcptperm@example.org"}};
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx), .from = "mjl@example.com", .rcpts = rcpts, .nrcpts = 2};
	const char *bodies[] = {body1};
	for (int chunking = 0; chunking < 2; chunking++) {
		pair p;
		setup s = {.trickle = true,
		           .srv_flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS |
		                        (chunking ? 0 : MOX_SMTP_CONN_NO_CHUNKING),
		           .tls_active = true,
		           .user = "mjl",
		           .password = "secret",
		           .chunk = 5};
		run(&p, &s, &tx, bodies, 1);
		expect_log(&p, "READY;RCPT 0 rcpt ok 250 2.1.5;RCPT 1 rcpt permfail "
		               "550 5.1.1;DATA;"
		               "DONE 1/2 data-end ok 250 2.0.0;READY;CLOSED");
		assert_string_equal((const char *)p.received.data,
		                    "Subject: hi\r\n\r\nhello\r\n.dot line\r\n|");
		pair_free(&p);
	}
}

static void
test_partial_rcpts(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt rcpts[] = {
	    {.addr = "a@example.org"},
	    {.addr = "rcptperm1@example.org"},
	    {.addr = "rcpttemp1@example.org"},
	    {.addr = "b@example.org"},
	};
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "sender@example.com",
	                         .rcpts = rcpts,
	                         .nrcpts = 4};
	const char *bodies[] = {body1};
	for (int chunking = 0; chunking < 2; chunking++) {
		pair p;
		setup s = {.srv_flags = chunking ? 0 : MOX_SMTP_CONN_NO_CHUNKING};
		run(&p, &s, &tx, bodies, 1);
		expect_log(
		    &p, "READY;RCPT 0 rcpt ok 250 2.1.5;RCPT 1 rcpt permfail 550 5.1.1;"
		        "RCPT 2 rcpt tempfail 450 4.2.0;RCPT 3 rcpt ok 250 2.1.5;DATA;"
		        "DONE 2/4 data-end ok 250 2.0.0;READY;CLOSED");
		pair_free(&p);
	}
}

static void
test_failures(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt perm[] = {{.addr = "rcptperm@example.org"},
	                                            {.addr = "rcpttemp@example.org"}};
	const char *bodies[] = {body1, body1, body1, body1, body1, body1};
	mox_smtp_client_tx txs[] = {
	    {.size = sizeof(txs[0]),
	     .from = "mailtemp@example.com",
	     .rcpts = one_rcpt,
	     .nrcpts = 1},
	    {.size = sizeof(txs[0]),
	     .from = "mailperm@example.com",
	     .rcpts = one_rcpt,
	     .nrcpts = 1},
	    {.size = sizeof(txs[0]),
	     .from = "s@example.com",
	     .rcpts = perm,
	     .nrcpts = 2},
	    {.size = sizeof(txs[0]),
	     .from = "s@example.com",
	     .rcpts = one_rcpt,
	     .nrcpts = 1},
	    {.size = sizeof(txs[0]),
	     .from = "s@example.com",
	     .rcpts = one_rcpt,
	     .nrcpts = 1},
	    {.size = sizeof(txs[0]), .from = "", .rcpts = one_rcpt, .nrcpts = 1},
	};
	const char *bodies2[] = {body1,
	                         body1,
	                         body1,
	                         "X-Reject: temp\r\n\r\nx\r\n",
	                         "X-Reject: perm\r\n\r\nx\r\n",
	                         body1};
	(void)bodies;
	for (int mode = 0; mode < 2; mode++) {
		pair p;
		setup s = {.srv_flags = mode ? 0 : MOX_SMTP_CONN_NO_CHUNKING};
		run(&p, &s, txs, bodies2, 6);
		expect_log(
		    &p, "READY;DONE 0/1 mail tempfail 451 4.3.0;READY;"
		        "DONE 0/1 mail permfail 550 5.7.1;READY;"
		        "RCPT 0 rcpt permfail 550 5.1.1;RCPT 1 rcpt tempfail 450 4.2.0;"
		        "DONE 0/2 rcpt tempfail 450 4.2.0;READY;"
		        "RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end tempfail 451 "
		        "4.3.0;READY;"
		        "RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end permfail 554 "
		        "5.6.0;READY;"
		        "RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok 250 "
		        "2.0.0;READY;CLOSED");
		pair_free(&p);
	}
}

static void
test_limits_rcptmax(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt rcpts[] = {{.addr = "a@example.org"},
	                                             {.addr = "b@example.org"},
	                                             {.addr = "c@example.org"}};
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx), .from = "s@example.com", .rcpts = rcpts, .nrcpts = 3};
	const char *bodies[] = {body1};
	pair p;
	setup s = {.rcpt_max = 2};
	run(&p, &s, &tx, bodies, 1);
	expect_log(&p, "READY;RCPT 0 rcpt ok 250 2.1.5;RCPT 1 rcpt ok 250 2.1.5;DATA;"
	               "DONE 2/2 data-end ok 250 2.0.0;READY;CLOSED");
	mox_smtp_client_server info;
	mox_smtp_client_server_info(p.cli, &info);
	assert_int_equal(info.rcpt_max, 2);
	assert_true(info.ext & MOX_SMTP_EXT_LIMITS);
	assert_true(info.ext & MOX_SMTP_EXT_PIPELINING);
	assert_true(info.ext & MOX_SMTP_EXT_CHUNKING);
	assert_true(info.ext & MOX_SMTP_EXT_8BITMIME);
	assert_true(info.ext & MOX_SMTP_EXT_SMTPUTF8);
	assert_true(info.ext & MOX_SMTP_EXT_SIZE);
	assert_true(info.ext & MOX_SMTP_EXT_ENHANCEDSTATUSCODES);
	assert_string_equal(info.greeting_name, "mx.example.org");
	pair_free(&p);
}

static void
test_starttls(void **state)
{
	(void)state;
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1,
	                         .requiretls = true};
	const char *bodies[] = {body1};
	pair p;
	setup s = {.srv_flags = MOX_SMTP_CONN_STARTTLS,
	           .tls = MOX_SMTP_CLIENT_TLS_REQUIRED};
	run(&p, &s, &tx, bodies, 1);
	expect_log(&p, "STARTTLS;READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 "
	               "data-end ok 250 2.0.0;READY;CLOSED");
	mox_smtp_client_server info;
	mox_smtp_client_server_info(p.cli, &info);
	assert_true(info.tls);
	assert_true(info.ext & MOX_SMTP_EXT_REQUIRETLS);
	assert_false(info.ext & MOX_SMTP_EXT_STARTTLS);
	pair_free(&p);

	/* Required but not offered: error, QUIT. */
	setup s2 = {.tls = MOX_SMTP_CLIENT_TLS_REQUIRED};
	run(&p, &s2, &tx, bodies, 1);
	expect_log(&p, "ERROR starttls tls 0;CLOSED");
	pair_free(&p);

	/* Opportunistic and not offered: plain; REQUIRETLS then refused. */
	setup s3 = {.tls = MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC};
	run(&p, &s3, &tx, bodies, 1);
	expect_log(&p, "READY;DONE 0/1 mail unsupported 0 5.7.30;READY;CLOSED");
	pair_free(&p);
}

static void
test_auth(void **state)
{
	(void)state;
	static const mox_sasl_mech mechs[] = {
	    MOX_SASL_PLAIN,
	    MOX_SASL_LOGIN,
	    MOX_SASL_CRAM_MD5,
	    MOX_SASL_SCRAM_SHA_1,
	    MOX_SASL_SCRAM_SHA_256,
	    MOX_SASL_SCRAM_SHA_1_PLUS,
	    MOX_SASL_SCRAM_SHA_256_PLUS,
	};
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "mjl@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	const char *bodies[] = {body1};
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		for (int good = 0; good < 2; good++) {
			pair p;
			bool plus = (mechs[i] & MOX_SASL_PLUS_MECHS) != 0;
			setup s = {.srv_flags =
			               MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS,
			           .srv_mechs = mechs[i],
			           .tls_active = true,
			           .user = "mjl",
			           .password = good ? "secret" : "wrong",
			           .cb = plus};
			run(&p, &s, &tx, bodies, 1);
			if (good) {
				expect_log(
				    &p, "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 "
				        "data-end ok 250 2.0.0;READY;CLOSED");
				mox_smtp_client_server info;
				mox_smtp_client_server_info(p.cli, &info);
				assert_int_equal(info.auth_mech, mechs[i]);
				assert_string_equal(mox_smtp_conn_username(p.srv),
				                    "mjl");
			} else {
				expect_log(&p, "ERROR auth permfail 535 5.7.8;CLOSED");
			}
			pair_free(&p);
		}
	}

	/* The strongest mechanism both have is picked. */
	pair p;
	setup s = {.srv_flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS,
	           .tls_active = true,
	           .user = "mjl",
	           .password = "secret"};
	run(&p, &s, &tx, bodies, 1);
	mox_smtp_client_server info;
	mox_smtp_client_server_info(p.cli, &info);
	assert_int_equal(info.auth_mech, MOX_SASL_SCRAM_SHA_256);
	pair_free(&p);

	/* PLAIN is not used without TLS. */
	setup s2 = {.srv_flags = MOX_SMTP_CONN_SUBMISSION,
	            .srv_mechs = MOX_SASL_PLAIN,
	            .user = "mjl",
	            .password = "secret"};
	run(&p, &s2, &tx, bodies, 1);
	expect_log(&p, "ERROR auth unsupported 0;CLOSED");
	pair_free(&p);

	/* Submission without AUTH configured at the client: MAIL refused. */
	setup s3 = {.srv_flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS,
	            .tls_active = true};
	run(&p, &s3, &tx, bodies, 1);
	expect_log(&p, "READY;DONE 0/1 mail permfail 530 5.7.0;READY;CLOSED");
	pair_free(&p);
}

static void
test_helo_fallback(void **state)
{
	(void)state;
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	const char *bodies[] = {body1};
	pair p;
	setup s = {.ehlo_reply = 502};
	run(&p, &s, &tx, bodies, 1);
	expect_log(&p, "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok 250 "
	               "2.0.0;READY;CLOSED");
	mox_smtp_client_server info;
	mox_smtp_client_server_info(p.cli, &info);
	assert_false(info.ehlo);
	assert_int_equal(info.ext, 0);
	pair_free(&p);

	/* HELO only, and the message is 8-bit: refused before sending. */
	mox_smtp_client_tx tx8 = tx;
	tx8.has_8bit = true;
	run(&p, &s, &tx8, bodies, 1);
	expect_log(&p, "READY;DONE 0/1 mail unsupported 0 5.6.3;READY;CLOSED");
	pair_free(&p);
}

static void
test_8bit_utf8(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt urcpt[] = {{.addr = "jösé@münchen.example"}};
	mox_smtp_client_tx txs[] = {
	    {.size = sizeof(txs[0]),
	     .from = "s@example.com",
	     .rcpts = one_rcpt,
	     .nrcpts = 1,
	     .has_8bit = true},
	    {.size = sizeof(txs[0]),
	     .from = "s@example.com",
	     .rcpts = urcpt,
	     .nrcpts = 1,
	     .has_8bit = true},
	};
	const char *bodies[] = {"Subject: caf\xc3\xa9\r\n\r\nx\r\n", "x\r\n"};
	pair p;
	setup s = {0};
	run(&p, &s, txs, bodies, 2);
	expect_log(&p, "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok 250 "
	               "2.0.0;READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok "
	               "250 2.0.0;READY;CLOSED");
	pair_free(&p);
}

static void
test_output_bounded(void **state)
{
	(void)state;
	/* A message much larger than the output limit streams through. */
	size_t n = 300 * 1024;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 61 == 60 ? '\n' : (i % 61 == 0 ? '.' : 'a');
	big[n] = 0;
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	const char *bodies[] = {big};
	for (int chunking = 0; chunking < 2; chunking++) {
		pair p;
		setup s = {.chunk = 100000,
		           .output_max = 4096,
		           .srv_flags = chunking ? 0 : MOX_SMTP_CONN_NO_CHUNKING};
		run(&p, &s, &tx, bodies, 1);
		assert_true(p.received.len > n);
		pair_free(&p);
	}
	free(big);
}

/* ---- canned server bytes ---- */

typedef struct canned {
	mox_smtp_client *cli;
	mox_buf log;
	int64_t now;
} canned;

static void
canned_init(canned *c, mox_smtp_client_tls tls)
{
	memset(c, 0, sizeof(*c));
	c->now = T0;
	mox_buf_init(&c->log, NULL);
	mox_smtp_client_opts co = {
	    .size = sizeof(co), .hostname = "client.example", .tls = tls};
	assert_int_equal(mox_smtp_client_new(&c->cli, &co), MOX_OK);
}

static void
canned_free(canned *c)
{
	mox_smtp_client_free(c->cli);
	mox_buf_free(&c->log);
}

static void
cfeed(canned *c, const char *s)
{
	assert_int_equal(mox_smtp_client_feed(c->cli, s, strlen(s)), MOX_OK);
}

/* Events until EAGAIN, as a log string. */
static const char *
cevents(canned *c)
{
	mox_buf_reset(&c->log);
	for (int i = 0; i < 100; i++) {
		mox_smtp_client_event ev;
		mox_err err = mox_smtp_client_next(c->cli, c->now, &ev);
		if (err == MOX_EAGAIN)
			break;
		assert_int_equal(err, MOX_OK);
		char line[1400] = "";
		const mox_smtp_client_result *r = NULL;
		switch (ev.type) {
		case MOX_SMTP_CLIENT_EV_READY:
			snprintf(line, sizeof(line), "READY");
			break;
		case MOX_SMTP_CLIENT_EV_STARTTLS:
			snprintf(line, sizeof(line), "STARTTLS");
			break;
		case MOX_SMTP_CLIENT_EV_DATA:
			snprintf(line, sizeof(line), "DATA");
			break;
		case MOX_SMTP_CLIENT_EV_RCPT:
			r = &ev.u.rcpt.result;
			snprintf(line, sizeof(line), "RCPT %zu", ev.u.rcpt.index);
			break;
		case MOX_SMTP_CLIENT_EV_DONE:
			r = &ev.u.done.result;
			snprintf(line, sizeof(line), "DONE %s",
			         ev.u.done.ok ? "ok" : "fail");
			break;
		case MOX_SMTP_CLIENT_EV_ERROR:
			r = &ev.u.error.result;
			snprintf(line, sizeof(line), "ERROR");
			break;
		case MOX_SMTP_CLIENT_EV_CLOSED:
			snprintf(line, sizeof(line), "CLOSED");
			break;
		}
		if (r != NULL) {
			size_t l = strlen(line);
			snprintf(line + l, sizeof(line) - l, " %s %s %d %s %s%s[%s]",
			         mox_smtp_client_step_name(r->step),
			         mox_smtp_client_status_name(r->status), r->code,
			         r->ecode, r->permanent ? "perm" : "temp", "", r->text);
		}
		if (c->log.len)
			mox_buf_append_str(&c->log, ";");
		mox_buf_append_str(&c->log, line);
		if (ev.type == MOX_SMTP_CLIENT_EV_CLOSED)
			break;
	}
	return c->log.data != NULL ? (const char *)c->log.data : "";
}

/* Output so far, consumed. */
static char *
cout(canned *c)
{
	static char buf[8192];
	size_t n;
	const uint8_t *o = mox_smtp_client_output(c->cli, &n);
	assert_true(n < sizeof(buf));
	if (n)
		memcpy(buf, o, n);
	buf[n] = 0;
	mox_smtp_client_output_consume(c->cli, n);
	return buf;
}

static void
test_canned_greeting(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	/* Split at every byte: multi-line greeting and EHLO. */
	const char *g = "220-mx.example ESMTP\r\n220 more text\r\n";
	for (size_t i = 0; g[i]; i++) {
		assert_int_equal(mox_smtp_client_feed(c.cli, g + i, 1), MOX_OK);
		if (g[i + 1])
			assert_string_equal(cevents(&c), "");
	}
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "EHLO client.example\r\n");
	cfeed(&c, "250-mx.example\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250-LIMITS "
	          "RCPTMAX=5 "
	          "MAILMAX=1\r\n250 DSN\r\n");
	assert_string_equal(cevents(&c), "READY");
	mox_smtp_client_server info;
	mox_smtp_client_server_info(c.cli, &info);
	assert_int_equal(info.size_max, 1000);
	assert_int_equal(info.mail_max, 1);
	assert_int_equal(info.rcpt_max, 5);
	assert_int_equal(info.auth_mechs, MOX_SASL_PLAIN | MOX_SASL_LOGIN);
	assert_int_equal(info.ext, MOX_SMTP_EXT_SIZE | MOX_SMTP_EXT_AUTH |
	                               MOX_SMTP_EXT_LIMITS | MOX_SMTP_EXT_DSN);
	/* Too large for SIZE: refused locally. */
	static const mox_smtp_client_rcpt r[] = {
	    {.addr = "a@example.org",
	     .notify = MOX_SMTP_NOTIFY_FAILURE | MOX_SMTP_NOTIFY_DELAY,
	     .orcpt = "A+b=c@example.org"}};
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = r,
	                         .nrcpts = 1,
	                         .msg_size = 1001};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	assert_string_equal(
	    cevents(&c),
	    "DONE fail mail unsupported 0 5.3.4 perm[message of 1001 bytes larger "
	    "than server's limit of 1000 bytes];READY");
	/* No PIPELINING: one command at a time; DSN parameters. */
	tx.msg_size = 1000;
	tx.ret = MOX_SMTP_RET_HDRS;
	tx.envid = "id 1";
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	assert_string_equal(
	    cout(&c), "MAIL FROM:<s@example.com> SIZE=1000 RET=HDRS ENVID=id+201\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "RCPT TO:<a@example.org> NOTIFY=FAILURE,DELAY "
	                              "ORCPT=rfc822;A+2Bb+3Dc@example.org\r\n");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "RCPT 0 rcpt ok 250  temp[ok]");
	assert_string_equal(cout(&c), "DATA\r\n");
	cfeed(&c, "354 go\r\n");
	assert_string_equal(cevents(&c), "DATA");
	size_t taken;
	assert_int_equal(mox_smtp_client_data(c.cli, ".\n", 2, &taken), MOX_OK);
	assert_int_equal(taken, 2);
	assert_int_equal(mox_smtp_client_data_end(c.cli), MOX_OK);
	assert_string_equal(cout(&c), "..\r\n.\r\n");
	cfeed(&c, "250 2.0.0 queued as 1\r\n");
	assert_string_equal(cevents(&c),
	                    "DONE ok data-end ok 250 2.0.0 temp[queued as 1];READY");
	/* MAILMAX=1 reached. */
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_ELIMIT);
	assert_int_equal(mox_smtp_client_quit(c.cli), MOX_OK);
	assert_string_equal(cout(&c), "QUIT\r\n");
	cfeed(&c, "221 bye\r\n");
	assert_string_equal(cevents(&c), "CLOSED");
	canned_free(&c);
}

static void
test_canned_refusals(void **state)
{
	(void)state;
	canned c;
	/* 554 greeting: QUIT, error, permanent. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "554 5.7.1 no service for you\r\n");
	assert_string_equal(
	    cevents(&c),
	    "ERROR greeting permfail 554 5.7.1 perm[no service for you];CLOSED");
	assert_string_equal(cout(&c), "QUIT\r\n");
	canned_free(&c);
	/* 421 greeting: temporary. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "421 busy\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR greeting tempfail 421  temp[busy];CLOSED");
	canned_free(&c);
	/* Garbage instead of a reply. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "hello there\r\n");
	assert_string_equal(
	    cevents(&c),
	    "ERROR greeting protocol 0  temp[bad reply from server: reply line does "
	    "not start with a reply code];CLOSED");
	canned_free(&c);
	/* Mixed codes in a multi-line reply. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "220-a\r\n250 b\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR greeting protocol 0  temp[bad reply from server: "
	                    "reply code 250 in a reply with code 220];CLOSED");
	canned_free(&c);
	/* EHLO 4xx. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "220 x\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "451 4.3.2 later\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR ehlo tempfail 451 4.3.2 temp[later];CLOSED");
	canned_free(&c);
	/* EHLO 5xx, HELO 5xx too. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	cfeed(&c, "220 x\r\n500 what\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "EHLO client.example\r\nHELO client.example\r\n");
	cfeed(&c, "550 no\r\n");
	assert_string_equal(cevents(&c), "ERROR helo permfail 550  perm[no];CLOSED");
	canned_free(&c);
}

static void
ready(canned *c, const char *ehlo)
{
	cfeed(c, "220 x\r\n");
	assert_string_equal(cevents(c), "");
	cfeed(c, ehlo);
	assert_string_equal(cevents(c), "READY");
	cout(c);
}

static void
test_canned_pipelining(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c,
	      "250-x\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
	static const mox_smtp_client_rcpt r[] = {{.addr = "a@example.org"},
	                                         {.addr = "b@example.org"}};
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = r,
	                         .nrcpts = 2,
	                         .has_8bit = true};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	/* RFC 2920: all in one go, DATA last. */
	assert_string_equal(
	    cout(&c), "MAIL FROM:<s@example.com> BODY=8BITMIME\r\nRCPT "
	              "TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	/* All recipients fail, and the server still says 354: we send
	 * only ".". */
	cfeed(&c, "250 ok\r\n550 5.1.1 no a\r\n550 5.1.1 no b\r\n354 go\r\n");
	assert_string_equal(
	    cevents(&c),
	    "RCPT 0 rcpt permfail 550 5.1.1 perm[no a];RCPT 1 rcpt permfail 550 "
	    "5.1.1 perm[no b]");
	assert_string_equal(cout(&c), ".\r\n");
	cfeed(&c, "554 no valid recipients\r\n");
	assert_string_equal(cevents(&c),
	                    "DONE fail rcpt permfail 550 5.1.1 perm[no b];READY");
	/* Nothing left at the server: no RSET needed. */
	assert_string_equal(cout(&c), "");

	/* Again; this time DATA gets 503 (usual): RSET follows. */
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cout(&c);
	cfeed(&c, "250 ok\r\n550 5.1.1 no a\r\n550 5.1.1 no b\r\n503 5.5.1 no "
	          "recipients\r\n");
	assert_string_equal(cevents(&c),
	                    "RCPT 0 rcpt permfail 550 5.1.1 perm[no a];RCPT 1 rcpt "
	                    "permfail 550 5.1.1 perm[no b];DONE fail rcpt permfail "
	                    "550 5.1.1 perm[no b]");
	assert_string_equal(cout(&c), "RSET\r\n");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "READY");

	/* MAIL fails, pipelined RCPTs and DATA get 503s: one DONE. */
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cout(&c);
	cfeed(&c, "452 4.3.1 full\r\n503 a\r\n503 b\r\n503 c\r\n");
	assert_string_equal(cevents(&c),
	                    "DONE fail mail tempfail 452 4.3.1 temp[full];READY");
	assert_string_equal(cout(&c), "");

	/* 421 in the middle: connection over. */
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cout(&c);
	cfeed(&c, "250 ok\r\n250 ok\r\n421 4.4.2 bye\r\n");
	assert_string_equal(cevents(&c), "RCPT 0 rcpt ok 250  temp[ok];ERROR rcpt "
	                                 "tempfail 421 4.4.2 temp[bye];CLOSED");
	canned_free(&c);
}

static void
test_canned_utf8(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250-x\r\n250 8BITMIME\r\n");
	static const mox_smtp_client_rcpt ru[] = {{.addr = "jösé@example.org"}};
	static const mox_smtp_client_rcpt ri[] = {{.addr = "a@münchen.example"}};
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx), .from = "s@example.com", .rcpts = ru, .nrcpts = 1};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	assert_string_equal(cevents(&c),
	                    "DONE fail mail unsupported 0 5.6.7 perm[message needs "
	                    "SMTPUTF8 but server does not support it];READY");
	/* An IDNA domain with an ASCII local part goes as A-labels. */
	tx.rcpts = ri;
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	assert_string_equal(cout(&c), "MAIL FROM:<s@example.com>\r\n");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "RCPT TO:<a@xn--mnchen-3ya.example>\r\n");
	canned_free(&c);

	/* With SMTPUTF8 at the server. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250-x\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
	tx.rcpts = ru;
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	assert_string_equal(cout(&c), "MAIL FROM:<s@example.com> SMTPUTF8\r\nRCPT "
	                              "TO:<jösé@example.org>\r\nDATA\r\n");
	/* Bad addresses. */
	mox_smtp_client_tx bad = tx;
	bad.from = "no at sign";
	assert_int_equal(mox_smtp_client_mail(c.cli, &bad), MOX_ESTATE);
	canned_free(&c);
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250 x\r\n");
	assert_int_equal(mox_smtp_client_mail(c.cli, &bad), MOX_EINVAL);
	assert_true(strstr(mox_smtp_client_errmsg(c.cli), "sender") != NULL);
	bad.from = "";
	bad.nrcpts = 0;
	assert_int_equal(mox_smtp_client_mail(c.cli, &bad), MOX_EINVAL);
	canned_free(&c);
}

static void
test_canned_starttls_injection(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC);
	cfeed(&c, "220 x\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "250-x\r\n250 STARTTLS\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "EHLO client.example\r\nSTARTTLS\r\n");
	/* RFC 3207 section 6 / CVE-2011-0411 style: a reply smuggled after
	 * the 220 must not be taken. */
	cfeed(&c, "220 go\r\n250 injected\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR starttls protocol 0  temp[data after STARTTLS "
	                    "reply, before TLS];CLOSED");
	canned_free(&c);

	/* Opportunistic, STARTTLS refused: go on in plain text. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC);
	cfeed(&c, "220 x\r\n250-x\r\n250 STARTTLS\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "454 4.7.0 TLS not available\r\n");
	assert_string_equal(cevents(&c), "READY");
	canned_free(&c);

	/* Required, refused: error. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_REQUIRED);
	cfeed(&c, "220 x\r\n250-x\r\n250 STARTTLS\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "454 4.7.0 TLS not available\r\n");
	assert_string_equal(
	    cevents(&c), "ERROR starttls tls 454 4.7.0 temp[TLS not available];CLOSED");
	canned_free(&c);
}

static void
test_canned_timeout_eof(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	assert_string_equal(cevents(&c), "");
	int64_t dl = mox_smtp_client_deadline(c.cli);
	assert_int_equal(dl, T0 + 5 * 60 * 1000);
	c.now = dl - 1;
	assert_string_equal(cevents(&c), "");
	c.now = dl;
	assert_string_equal(
	    cevents(&c),
	    "ERROR greeting timeout 0  temp[no reply from server in time];CLOSED");
	assert_int_equal(mox_smtp_client_deadline(c.cli), INT64_MAX);
	canned_free(&c);

	/* Connection lost during DATA's reply wait. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250-x\r\n250 PIPELINING\r\n");
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cfeed(&c, "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_string_equal(cevents(&c), "RCPT 0 rcpt ok 250  temp[ok];DATA");
	assert_int_equal(mox_smtp_client_deadline(c.cli), INT64_MAX);
	assert_int_equal(mox_smtp_client_data_end(c.cli), MOX_OK);
	assert_string_equal(cevents(&c), "");
	assert_int_equal(mox_smtp_client_deadline(c.cli), T0 + 10 * 60 * 1000);
	mox_smtp_client_eof(c.cli);
	assert_string_equal(cevents(&c),
	                    "ERROR data-end connection 0  temp[connection closed "
	                    "before reply];CLOSED");
	canned_free(&c);

	/* Unsolicited 421 while idle. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250 x\r\n");
	cfeed(&c, "421 4.4.2 idle timeout\r\n");
	assert_string_equal(
	    cevents(&c), "ERROR connect tempfail 421 4.4.2 temp[idle timeout];CLOSED");
	canned_free(&c);

	/* Over-long reply line. */
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	char *big = malloc(20000);
	assert_non_null(big);
	memset(big, 'a', 19999);
	big[19999] = 0;
	memcpy(big, "220 ", 4);
	cfeed(&c, big);
	free(big);
	assert_string_equal(cevents(&c),
	                    "ERROR greeting protocol 0  temp[bad reply from server: "
	                    "reply line longer than 16384 bytes];CLOSED");
	canned_free(&c);
}

static void
test_canned_bdat_fail(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250-x\r\n250 CHUNKING\r\n");
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "RCPT 0 rcpt ok 250  temp[ok];DATA");
	cout(&c);
	size_t taken;
	assert_int_equal(mox_smtp_client_data(c.cli, "abc\n", 4, &taken), MOX_OK);
	assert_int_equal(taken, 4);
	assert_string_equal(cout(&c), "BDAT 5\r\nabc\r\n");
	/* No PIPELINING: the next chunk waits for the reply. */
	assert_int_equal(mox_smtp_client_data(c.cli, "x", 1, &taken), MOX_OK);
	assert_int_equal(taken, 0);
	cfeed(&c, "250 2.0.0 chunk ok\r\n");
	/* EV_DATA again: more can be given now. */
	assert_string_equal(cevents(&c), "DATA");
	assert_int_equal(mox_smtp_client_data(c.cli, "x", 1, &taken), MOX_OK);
	assert_int_equal(taken, 1);
	assert_string_equal(cout(&c), "BDAT 1\r\nx");
	/* The end waits for the chunk's reply too. */
	assert_int_equal(mox_smtp_client_data_end(c.cli), MOX_OK);
	assert_int_equal(mox_smtp_client_data_end(c.cli), MOX_ESTATE);
	assert_string_equal(cout(&c), "");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "BDAT 0 LAST\r\n");
	cfeed(&c, "250 2.0.0 message ok\r\n");
	assert_string_equal(cevents(&c),
	                    "DONE ok data-end ok 250 2.0.0 temp[message ok];READY");

	/* A chunk refused: the transaction fails, the rest is not sent. */
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "RCPT 0 rcpt ok 250  temp[ok];DATA");
	cout(&c);
	assert_int_equal(mox_smtp_client_data(c.cli, "abc", 3, &taken), MOX_OK);
	assert_int_equal(mox_smtp_client_data_end(c.cli), MOX_OK);
	assert_string_equal(cout(&c), "BDAT 3\r\nabc");
	cfeed(&c, "552 5.3.4 too big\r\n");
	assert_string_equal(cevents(&c),
	                    "DONE fail bdat permfail 552 5.3.4 perm[too big]");
	assert_int_equal(mox_smtp_client_data(c.cli, "x", 1, &taken), MOX_ESTATE);
	assert_string_equal(cout(&c), "RSET\r\n");
	cfeed(&c, "250 ok\r\n");
	assert_string_equal(cevents(&c), "READY");
	canned_free(&c);
}

static void
canned_auth_init(canned *c, bool tls)
{
	memset(c, 0, sizeof(*c));
	c->now = T0;
	mox_buf_init(&c->log, NULL);
	mox_smtp_client_opts co = {.size = sizeof(co),
	                           .hostname = "client.example",
	                           .tls_active = tls,
	                           .username = "mjl",
	                           .password = (const uint8_t *)"secret",
	                           .password_len = 6};
	assert_int_equal(mox_smtp_client_new(&c->cli, &co), MOX_OK);
}

static void
test_canned_auth(void **state)
{
	(void)state;
	canned c;
	/* LOGIN, exact lines (RFC 4954 section 4). */
	canned_auth_init(&c, true);
	cfeed(&c, "220 x\r\n");
	assert_string_equal(cevents(&c), "");
	cfeed(&c, "250-x\r\n250 AUTH=LOGIN\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "EHLO client.example\r\nAUTH LOGIN\r\n");
	cfeed(&c, "334 VXNlcm5hbWU6\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "bWps\r\n");
	cfeed(&c, "334 UGFzc3dvcmQ6\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "c2VjcmV0\r\n");
	cfeed(&c, "235 2.7.0 ok\r\n");
	assert_string_equal(cevents(&c), "READY");
	canned_free(&c);

	/* PLAIN with initial response; 454 is temporary. */
	canned_auth_init(&c, true);
	cfeed(&c, "220 x\r\n250-x\r\n250 AUTH PLAIN\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c),
	                    "EHLO client.example\r\nAUTH PLAIN AG1qbABzZWNyZXQ=\r\n");
	cfeed(&c, "454 4.7.0 try later\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR auth tempfail 454 4.7.0 temp[try later];CLOSED");
	assert_string_equal(cout(&c), "QUIT\r\n");
	canned_free(&c);

	/* A challenge that is not base64: cancelled with "*". */
	canned_auth_init(&c, false);
	cfeed(&c, "220 x\r\n250-x\r\n250 AUTH CRAM-MD5\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "EHLO client.example\r\nAUTH CRAM-MD5\r\n");
	cfeed(&c, "334 !!!\r\n");
	assert_string_equal(cevents(&c), "");
	assert_string_equal(cout(&c), "*\r\n");
	cfeed(&c, "501 5.0.0 cancelled\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR auth protocol 0  temp[server challenge is not "
	                    "base64];CLOSED");
	canned_free(&c);

	/* Success claimed by a SCRAM "server" that never proved itself. */
	canned_auth_init(&c, false);
	cfeed(&c, "220 x\r\n250-x\r\n250 AUTH SCRAM-SHA-256\r\n");
	assert_string_equal(cevents(&c), "");
	cout(&c);
	cfeed(&c, "235 2.7.0 sure\r\n");
	assert_string_equal(cevents(&c),
	                    "ERROR auth protocol 0  temp[server accepted "
	                    "authentication without proving it knows the password];"
	                    "CLOSED");
	canned_free(&c);
}

static void
test_canned_rset_fail(void **state)
{
	(void)state;
	canned c;
	canned_init(&c, MOX_SMTP_CLIENT_TLS_NONE);
	ready(&c, "250-x\r\n250 PIPELINING\r\n");
	mox_smtp_client_tx tx = {.size = sizeof(tx),
	                         .from = "s@example.com",
	                         .rcpts = one_rcpt,
	                         .nrcpts = 1};
	assert_int_equal(mox_smtp_client_mail(c.cli, &tx), MOX_OK);
	cout(&c);
	cfeed(&c, "250 ok\r\n250 ok\r\n554 5.3.0 no data today\r\n");
	assert_string_equal(cevents(&c),
	                    "RCPT 0 rcpt ok 250  temp[ok];DONE fail data permfail "
	                    "554 5.3.0 perm[no data today]");
	assert_string_equal(cout(&c), "RSET\r\n");
	cfeed(&c, "500 what\r\n");
	assert_string_equal(cevents(&c), "ERROR rset permfail 500  perm[what];CLOSED");
	assert_string_equal(cout(&c), "QUIT\r\n");
	canned_free(&c);
}

static void
test_reply_parse(void **state)
{
	(void)state;
	mox_smtp_reply r;
	mox_buf t = MOX_BUF_INIT;
	mox_errinfo info;
	const char *s = "250-mx 2.0.0 ignored\r\n250-2.1.0 second\r\n250 2.1.0\r\nrest";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 512, 10, &r, &t, &info),
	    MOX_OK);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 3);
	assert_string_equal(r.ecode, "");
	assert_int_equal(r.len, strlen(s) - 4);
	assert_string_equal((const char *)t.data, "mx 2.0.0 ignored\nsecond\n");
	mox_buf_reset(&t);
	s = "550 5.1.1 no\r\n";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 512, 10, &r, &t, &info),
	    MOX_OK);
	assert_string_equal(r.ecode, "5.1.1");
	assert_string_equal((const char *)t.data, "no");
	/* Class mismatch: not an enhanced code. */
	mox_buf_reset(&t);
	s = "550 4.1.1 no\r\n";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 512, 10, &r, &t, &info),
	    MOX_OK);
	assert_string_equal(r.ecode, "");
	/* Every prefix of a complete reply needs more. */
	s = "250-a\r\n250-b\r\n250 c\r\n";
	for (size_t i = 0; i < strlen(s); i++)
		assert_int_equal(mox_smtp_reply_parse((const uint8_t *)s, i, 512, 10,
		                                      &r, NULL, NULL),
		                 MOX_EAGAIN);
	static const char *const bad[] = {
	    "25\r\n",   "600 x\r\n",          "190 x\r\n", "2a0 x\r\n",
	    "250x\r\n", "250-a\r\n251 b\r\n", "260 x\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mox_smtp_reply_parse((const uint8_t *)bad[i],
		                                      strlen(bad[i]), 512, 10, &r, &t,
		                                      &info),
		                 MOX_ESYNTAX);
	s = "250-a\r\n250-b\r\n250 c\r\n";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 512, 2, &r, &t, &info),
	    MOX_ELIMIT);
	s = "250 just three\r\n";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 8, 2, &r, &t, &info),
	    MOX_ELIMIT);
	s = "250\r\n";
	assert_int_equal(
	    mox_smtp_reply_parse((const uint8_t *)s, strlen(s), 512, 2, &r, NULL, NULL),
	    MOX_OK);
	assert_int_equal(r.code, 250);
	mox_buf_free(&t);
}

/* OOM: every allocation of a whole session fails once in turn; the call
 * that fails is retried and the session must end as without failures. */
static void
test_oom(void **state)
{
	(void)state;
	static const mox_smtp_client_rcpt r[] = {{.addr = "a@example.org"},
	                                         {.addr = "b@example.org"}};
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx), .from = "s@example.com", .rcpts = r, .nrcpts = 2};
	for (long fail = 0; fail < 200; fail++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, fail);
		mox_smtp_client *cli = NULL;
		mox_smtp_client_opts co = {
		    .size = sizeof(co), .hostname = "c.example", .alloc = &ta.a};
		mox_err err = mox_smtp_client_new(&cli, &co);
		if (err == MOX_ENOMEM) {
			assert_int_equal(ta.live, 0);
			continue;
		}
		assert_int_equal(err, MOX_OK);
		static const char *const script[] = {
		    "220 x\r\n",
		    "250-x\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
		    NULL,
		    "250 ok\r\n250 ok\r\n250 ok\r\n",
		    NULL,
		    "250 ok\r\n250 ok\r\n",
		    "221 bye\r\n"};
		bool ok = true;
		int events = 0;
		for (size_t step = 0; step < sizeof(script) / sizeof(script[0]);
		     step++) {
			if (script[step] != NULL) {
				while ((err = mox_smtp_client_feed(
				            cli, script[step], strlen(script[step]))) ==
				       MOX_ENOMEM)
					ta.fail_after = -1;
				assert_int_equal(err, MOX_OK);
			}
			for (int i = 0; i < 20; i++) {
				mox_smtp_client_event ev;
				err = mox_smtp_client_next(cli, T0, &ev);
				if (err == MOX_ENOMEM) {
					ta.fail_after = -1;
					continue;
				}
				if (err == MOX_EAGAIN)
					break;
				assert_int_equal(err, MOX_OK);
				events++;
				if (ev.type == MOX_SMTP_CLIENT_EV_CLOSED)
					break;
				if (ev.type == MOX_SMTP_CLIENT_EV_READY && step == 1) {
					while ((err = mox_smtp_client_mail(cli, &tx)) ==
					       MOX_ENOMEM)
						ta.fail_after = -1;
					assert_int_equal(err, MOX_OK);
				} else if (ev.type == MOX_SMTP_CLIENT_EV_DATA) {
					size_t taken = 0;
					while ((err = mox_smtp_client_data(
					            cli, "hi\n", 3, &taken)) ==
					       MOX_ENOMEM)
						ta.fail_after = -1;
					assert_int_equal(taken, 3);
					while ((err = mox_smtp_client_data_end(cli)) ==
					       MOX_ENOMEM)
						ta.fail_after = -1;
					assert_int_equal(err, MOX_OK);
				} else if (ev.type == MOX_SMTP_CLIENT_EV_READY) {
					while ((err = mox_smtp_client_quit(cli)) ==
					       MOX_ENOMEM)
						ta.fail_after = -1;
					assert_int_equal(err, MOX_OK);
				} else if (ev.type == MOX_SMTP_CLIENT_EV_ERROR) {
					ok = false;
				}
			}
		}
		size_t n;
		mox_smtp_client_output(cli, &n);
		assert_true(ok);
		assert_int_equal(events,
		                 7); /* READY, RCPT x2, DATA, DONE, READY, CLOSED */
		mox_smtp_client_free(cli);
		assert_int_equal(ta.live, 0);
		if (ta.fail_after >= 0 && ta.count < fail)
			break; /* no allocation failed any more: done */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_parse),
	    cmocka_unit_test(test_success),
	    cmocka_unit_test(test_message_bytes),
	    cmocka_unit_test(test_partial_rcpts),
	    cmocka_unit_test(test_trickle),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_limits_rcptmax),
	    cmocka_unit_test(test_starttls),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_helo_fallback),
	    cmocka_unit_test(test_8bit_utf8),
	    cmocka_unit_test(test_output_bounded),
	    cmocka_unit_test(test_canned_greeting),
	    cmocka_unit_test(test_canned_refusals),
	    cmocka_unit_test(test_canned_pipelining),
	    cmocka_unit_test(test_canned_utf8),
	    cmocka_unit_test(test_canned_starttls_injection),
	    cmocka_unit_test(test_canned_timeout_eof),
	    cmocka_unit_test(test_canned_bdat_fail),
	    cmocka_unit_test(test_canned_auth),
	    cmocka_unit_test(test_canned_rset_fail),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
