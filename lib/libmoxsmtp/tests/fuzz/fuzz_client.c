/* Fuzz the SMTP client core with arbitrary server bytes: the reply parser
 * and the state machine must never crash, leak or loop, whatever the
 * server says. The first byte picks the options (TLS policy, AUTH, how the
 * input is split); the client starts a transaction whenever it is ready,
 * streams a short message when asked, and does STARTTLS when told. Each
 * stretch of input up to a "\n" is fed on its own, so replies arrive in
 * pieces and in bursts. The reply parser also gets the whole input. */
#include <mox/smtp_client.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
rnd(void *arg, uint8_t *buf, size_t n)
{
	(void)arg;
	memset(buf, 'r', n);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	data++;
	size--;

	mox_smtp_reply r;
	mox_buf text = MOX_BUF_INIT;
	(void)mox_smtp_reply_parse(data, size, 512, 16, &r, &text, NULL);
	mox_buf_free(&text);

	mox_smtp_client_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.hostname = "client.example";
	o.tls = (mox_smtp_client_tls)(opt % 3);
	o.tls_active = (opt & 4) != 0;
	if (opt & 8) {
		o.username = "mjl";
		o.password = (const uint8_t *)"secret";
		o.password_len = 6;
		o.auth_plaintext_ok = (opt & 16) != 0;
	}
	o.random = rnd;
	mox_smtp_client *c = NULL;
	if (mox_smtp_client_new(&c, &o) != MOX_OK)
		abort();
	if (opt & 32) {
		static const uint8_t cb[32] = {1};
		(void)mox_smtp_client_set_channel_binding(c, MOX_SASL_CB_TLS_EXPORTER,
		                                          cb, 32);
	}
	static const mox_smtp_client_rcpt rcpts[] = {
	    {.addr = "a@example.org",
	     .notify = MOX_SMTP_NOTIFY_FAILURE,
	     .orcpt = "a@example.org"},
	    {.addr = "jösé@example.org"},
	    {.addr = "c@example.org"},
	};
	mox_smtp_client_tx tx;
	memset(&tx, 0, sizeof(tx));
	tx.size = sizeof(tx);
	tx.from = (opt & 64) ? "" : "s@example.com";
	tx.rcpts = rcpts;
	tx.nrcpts = (opt & 128) ? 3 : 1;
	tx.has_8bit = (opt & 128) != 0;
	tx.msg_size = 20;
	tx.envid = "e1";

	int64_t now = 1000;
	size_t pos = 0;
	int txs = 0;
	size_t given = 0;
	int idle = 0;
	bool closed = false;
	for (int round = 0; round < 10000 && !closed; round++) {
		if (pos < size) {
			const uint8_t *nl = memchr(data + pos, '\n', size - pos);
			size_t n =
			    nl != NULL ? (size_t)(nl - (data + pos)) + 1 : size - pos;
			if (mox_smtp_client_feed(c, data + pos, n) == MOX_OK)
				pos += n;
			else
				pos = size; /* too much: drop the rest */
		} else {
			/* Input exhausted: end with a time-out or a lost
			 * connection. */
			if (opt & 1)
				now += 24LL * 3600 * 1000;
			else
				mox_smtp_client_eof(c);
		}
		for (int i = 0; i < 100; i++) {
			mox_smtp_client_event ev;
			mox_err err = mox_smtp_client_next(c, now, &ev);
			if (err == MOX_EAGAIN)
				break;
			if (err != MOX_OK)
				abort();
			if (ev.type == MOX_SMTP_CLIENT_EV_CLOSED) {
				closed = true;
				break;
			}
			if (ev.type == MOX_SMTP_CLIENT_EV_READY) {
				given = 0;
				if (txs++ < 3) {
					mox_err e = mox_smtp_client_mail(c, &tx);
					if (e != MOX_OK && e != MOX_ELIMIT)
						abort();
					if (e == MOX_ELIMIT &&
					    mox_smtp_client_quit(c) != MOX_OK)
						abort();
				} else if (mox_smtp_client_quit(c) != MOX_OK) {
					abort();
				}
			} else if (ev.type == MOX_SMTP_CLIENT_EV_STARTTLS) {
				if (mox_smtp_client_starttls_done(c) != MOX_OK)
					abort();
			} else if (ev.type == MOX_SMTP_CLIENT_EV_DATA) {
				/* Give the message in two chunks, then end; a
				 * BDAT chunk without PIPELINING can take nothing
				 * until EV_DATA comes again. */
				static const char msg[] = "Subject: x\n\n.a\r\nb";
				while (given < 17) {
					size_t taken = 0;
					size_t n = given == 0 ? 9 : 17 - given;
					mox_err e = mox_smtp_client_data(c, msg + given,
					                                 n, &taken);
					if (e != MOX_OK)
						abort();
					if (taken == 0)
						break;
					given += taken;
				}
				if (given == 17 &&
				    mox_smtp_client_data_end(c) != MOX_OK)
					abort();
			} else if (ev.type == MOX_SMTP_CLIENT_EV_ERROR ||
			           ev.type == MOX_SMTP_CLIENT_EV_DONE ||
			           ev.type == MOX_SMTP_CLIENT_EV_RCPT) {
				const mox_smtp_client_result *res =
				    ev.type == MOX_SMTP_CLIENT_EV_ERROR
				        ? &ev.u.error.result
				    : ev.type == MOX_SMTP_CLIENT_EV_DONE
				        ? &ev.u.done.result
				        : &ev.u.rcpt.result;
				if (res->text == NULL ||
				    strlen(res->text) > MOX_SMTP_CLIENT_TEXT_MAX)
					abort();
			}
		}
		size_t n;
		(void)mox_smtp_client_output(c, &n);
		mox_smtp_client_output_consume(c, n);
		/* Once the input is used up the client must end within a
		 * few rounds: a time-out or the lost connection. */
		if (pos >= size && !closed && ++idle > 5)
			abort();
	}
	mox_smtp_client_free(c);
	return 0;
}
