/* Fuzz the server state machine: the input is a script of client bytes and
 * caller decisions. Each step takes a byte: its low bits say what to do
 * (feed some of the following bytes in one piece, pass time, answer the
 * waiting event this way or that, drain output), so the core sees
 * arbitrary input split anywhere with events answered in every way. Any
 * misuse of the API must be refused cleanly, never crash; memory is
 * bounded and freed (ASan). Options (submission, TLS...) come from the
 * first byte. */
#include <mox/smtp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
rnd(void *arg, uint8_t *buf, size_t n)
{
	uint8_t *ctr = arg;
	for (size_t i = 0; i < n; i++)
		buf[i] = (*ctr)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctr = 0;
	mox_smtp_limits lim;
	mox_smtp_limits_default(&lim);
	lim.line_max = 256;
	lim.auth_line_max = 512;
	lim.input_max = 2048;
	lim.output_max = 2048;
	lim.chunk_max = 128;
	lim.message_max = 4096;
	lim.rcpt_max = 5;
	lim.data_line_max = (data[0] & 0x80) ? 100 : 0;
	lim.command_timeout_ms = 10000;
	lim.data_timeout_ms = 20000;
	mox_smtp_conn_opts o = {.size = sizeof(o), .hostname = "mox.example", .limits = &lim,
				.flags = data[0] & 0x7f, .future_release_max = 86400,
				.now_ms = 1700000000000LL, .random = rnd, .random_arg = &ctr};
	mox_smtp_conn *c = NULL;
	if (mox_smtp_conn_new(&c, &o) != MOX_OK)
		return 0;
	int64_t now = o.now_ms;
	size_t i = 1;
	unsigned steps = 0;
	while (i < size && steps++ < 10000) {
		uint8_t op = data[i++];
		switch (op & 7) {
		case 0:
		case 1:
		case 2: {
			/* Feed the next 1..32 bytes. */
			size_t n = (size_t)(op >> 3) + 1;
			if (n > size - i)
				n = size - i;
			(void)mox_smtp_conn_feed(c, data + i, n);
			i += n;
			break;
		}
		case 3:
			now += (int64_t)(op >> 3) * 1000;
			break;
		case 4: {
			static const int codes[] = {250, 421, 450, 550, 554, 235};
			(void)mox_smtp_conn_reply(c, codes[(op >> 3) % 6], (op >> 3) % 3 ? 1001 : -1,
						  "caller says\nno");
			break;
		}
		case 5:
			switch ((op >> 3) & 7) {
			case 0:
				(void)mox_smtp_conn_accept(c);
				break;
			case 1:
				(void)mox_smtp_conn_auth_verdict(c, op & 0x40);
				break;
			case 2:
				(void)mox_smtp_conn_auth_password(c, (const uint8_t *)"pencil", 6);
				break;
			case 3: {
				mox_sasl_scram_secret s;
				if (mox_sasl_scram_secret_make(op & 0x40, "pencil", 6,
							       (const uint8_t *)"saltsalt", 8, 1,
							       &s) == MOX_OK)
					(void)mox_smtp_conn_auth_scram(c, &s);
				break;
			}
			case 4:
				(void)mox_smtp_conn_auth_scram(c, NULL);
				break;
			case 5:
				(void)mox_smtp_conn_starttls_done(c);
				break;
			case 6:
				(void)mox_smtp_conn_set_channel_binding(
					c, MOX_SASL_CB_TLS_EXPORTER, (const uint8_t *)"0123456789", 10);
				break;
			default:
				(void)mox_smtp_conn_close(c, 421, MOX_SMTP_SE_SYS_NOT_ACCEPTING,
							  "shutting down");
				break;
			}
			break;
		default: {
			/* Drain events and output. */
			for (int k = 0; k < 64; k++) {
				mox_smtp_event ev;
				mox_err err = mox_smtp_conn_next(c, now, &ev);
				if (err != MOX_OK)
					break;
				if (ev.type == MOX_SMTP_EV_DATA && ev.u.data.len > lim.chunk_max)
					abort();
				if (ev.type == MOX_SMTP_EV_CLOSE)
					break;
			}
			size_t n;
			(void)mox_smtp_conn_output(c, &n);
			mox_smtp_conn_output_consume(c, (op & 0x80) ? n : n / 2);
			if (mox_smtp_conn_deadline(c) < now - 100000000)
				abort();
			break;
		}
		}
	}
	mox_smtp_conn_free(c);
	return 0;
}
