/* Reply codes, enhanced status codes and reply writing (src/codes.c), RFC
 * 3339 date-times (src/datetime.c), and the connection API outside the
 * transcripts: argument checks, deadlines, the STARTTLS leftover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/smtp.h>
#include "smtp_int.h"

static void
test_tables(void **state)
{
	(void)state;
	assert_string_equal(mox_smtp_code_text(250), "Requested mail action okay, completed");
	assert_string_equal(mox_smtp_code_text(535), "Authentication credentials invalid");
	assert_null(mox_smtp_code_text(299));
	assert_string_equal(mox_smtp_se_text(MOX_SMTP_SE_POL_BAD_CREDENTIALS),
			    "Authentication credentials invalid");
	assert_int_equal(MOX_SMTP_SE_POL_REQUIRETLS, 7030);
	assert_int_equal(MOX_SMTP_SE_ADDR_NULL_MX, 1010);
	assert_null(mox_smtp_se_text(9999));
	char s[16];
	assert_int_equal(mox_smtp_se_format(550, MOX_SMTP_SE_ADDR_BAD_MAILBOX, s), MOX_OK);
	assert_string_equal(s, "5.1.1");
	assert_int_equal(mox_smtp_se_format(421, MOX_SMTP_SE_POL_SPF_FAIL, s), MOX_OK);
	assert_string_equal(s, "4.7.23");
	assert_int_equal(mox_smtp_se_format(354, 0, s), MOX_EINVAL);
	assert_int_equal(mox_smtp_se_format(250, -1, s), MOX_EINVAL);
	/* Every table entry has distinct values and a text. */
	static const int all[] = {
#define X(name, sub, det, text) (sub) * 1000 + (det),
		MOX_SMTP_SE_MAP(X)
#undef X
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_non_null(mox_smtp_se_text(all[i]));
		for (size_t j = i + 1; j < sizeof(all) / sizeof(all[0]); j++)
			assert_int_not_equal(all[i], all[j]);
	}
	assert_int_equal(mox_smtp_version(), MOX_SMTP_VERSION_HEX);
}

static void
test_reply_write(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_smtp_reply_write(&b, 250, MOX_SMTP_SE_OTHER, "ok"), MOX_OK);
	assert_string_equal((char *)b.data, "250 2.0.0 ok\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_smtp_reply_write(&b, 554, MOX_SMTP_SE_NONE, "a\nb\nc"), MOX_OK);
	assert_string_equal((char *)b.data, "554-a\r\n554-b\r\n554 c\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_smtp_reply_write(&b, 334, MOX_SMTP_SE_NONE, ""), MOX_OK);
	assert_string_equal((char *)b.data, "334 \r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_smtp_reply_write(&b, 250, MOX_SMTP_SE_NONE, "a\rb"), MOX_EINVAL);
	assert_int_equal(b.len, 0);
	assert_int_equal(mox_smtp_reply_write(&b, 199, MOX_SMTP_SE_NONE, "x"), MOX_EINVAL);
	/* Long text wraps at a space, every line within 512 with CRLF. */
	char text[2000];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "w%d ", i);
	text[n - 1] = 0;
	assert_int_equal(mox_smtp_reply_write(&b, 550, MOX_SMTP_SE_POL_OTHER, text), MOX_OK);
	size_t lines = 0, total = 0;
	const char *p = (const char *)b.data;
	while (*p) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		size_t len = (size_t)(e - p) + 2;
		assert_true(len <= MOX_SMTP_REPLY_LINE_MAX);
		assert_memory_equal(p, "550", 3);
		assert_memory_equal(p + 4, "5.7.0 ", 6);
		total += len - 12;
		p = e + 2;
		lines++;
		/* "550-" on all lines but the last, "550 " on it. */
		assert_int_equal(e[2 + 3 - (ptrdiff_t)len], *p ? '-' : ' ');
	}
	assert_true(lines >= 3);
	assert_true(total >= strlen(text) - lines); /* nothing dropped but the wrap spaces */
	mox_buf_free(&b);
}

static void
test_datetime(void **state)
{
	(void)state;
	int64_t t;
	assert_true(mox__smtp_datetime_parse("1970-01-01T00:00:00Z", 20, &t));
	assert_int_equal(t, 0);
	assert_true(mox__smtp_datetime_parse("2023-11-14T22:13:20Z", 20, &t));
	assert_int_equal(t, 1700000000);
	assert_true(mox__smtp_datetime_parse("2023-11-15t00:13:20.123+02:00", 29, &t));
	assert_int_equal(t, 1700000000);
	assert_true(mox__smtp_datetime_parse("2024-02-29T00:00:00-00:30", 25, &t));
	assert_int_equal(t, 1709166600);
	assert_false(mox__smtp_datetime_parse("2023-02-29T00:00:00Z", 20, &t));
	assert_false(mox__smtp_datetime_parse("2023-11-14T24:00:00Z", 20, &t));
	assert_false(mox__smtp_datetime_parse("2023-11-14T22:13:20", 19, &t));
	assert_false(mox__smtp_datetime_parse("2023-11-14T22:13:20.Z", 21, &t));
	assert_false(mox__smtp_datetime_parse("2023-11-14T22:13:20+2:00", 24, &t));
	assert_false(mox__smtp_datetime_parse("2023-11-14T22:13:20Zx", 21, &t));
	char out[32];
	mox__smtp_datetime_format(1700000000, out);
	assert_string_equal(out, "2023-11-14T22:13:20Z");
	mox__smtp_datetime_format(951782400, out);
	assert_string_equal(out, "2000-02-29T00:00:00Z");
	/* Round trip over many days, leap years included. */
	for (int64_t d = -800; d < 80000; d += 7) {
		int64_t v = d * 86400 + 3661;
		mox__smtp_datetime_format(v, out);
		assert_true(mox__smtp_datetime_parse(out, strlen(out), &t));
		assert_int_equal(t, v);
	}
}

static mox_smtp_conn *
new_conn(unsigned flags)
{
	mox_smtp_conn *c = NULL;
	mox_smtp_conn_opts o = {.size = sizeof(o), .hostname = "mox.example", .flags = flags,
				.now_ms = 1000};
	assert_int_equal(mox_smtp_conn_new(&c, &o), MOX_OK);
	size_t n;
	mox_smtp_conn_output(c, &n);
	mox_smtp_conn_output_consume(c, n);
	return c;
}

static void
test_conn_api(void **state)
{
	(void)state;
	mox_smtp_conn *c = (void *)1;
	mox_smtp_conn_opts o = {.size = sizeof(o)};
	assert_int_equal(mox_smtp_conn_new(&c, &o), MOX_EINVAL); /* no hostname */
	assert_null(c);
	o.hostname = "bad host";
	assert_int_equal(mox_smtp_conn_new(&c, &o), MOX_EINVAL);
	o.hostname = "mox.example";
	mox_smtp_limits lim;
	mox_smtp_limits_default(&lim);
	lim.input_max = 100; /* smaller than an AUTH line */
	o.limits = &lim;
	assert_int_equal(mox_smtp_conn_new(&c, &o), MOX_EINVAL);
	mox_smtp_conn_free(NULL);

	c = new_conn(MOX_SMTP_CONN_STARTTLS);
	mox_smtp_event ev;
	/* Nothing waits: answers are out of turn. */
	assert_int_equal(mox_smtp_conn_accept(c), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_reply(c, 550, MOX_SMTP_SE_NONE, "x"), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_auth_verdict(c, true), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_starttls_done(c), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_next(c, 1000, NULL), MOX_EINVAL);
	/* Deadline: 5 minutes after the start. */
	assert_int_equal(mox_smtp_conn_next(c, 1000, &ev), MOX_EAGAIN);
	assert_int_equal(mox_smtp_conn_deadline(c), 1000 + 5 * 60 * 1000);
	/* Feed more than the room: refused whole. */
	size_t room = mox_smtp_conn_input_room(c);
	assert_int_equal(room, 64 * 1024);
	char *big = calloc(1, room + 1);
	assert_int_equal(mox_smtp_conn_feed(c, big, room + 1), MOX_ELIMIT);
	free(big);
	/* A HELLO event waits: next says so, a 2xx reply is refused. */
	static const char in[] = "EHLO x.example\r\nSTARTTLS\r\n\x16\x03\x01";
	assert_int_equal(mox_smtp_conn_feed(c, in, sizeof(in) - 1), MOX_OK);
	assert_int_equal(mox_smtp_conn_next(c, 2000, &ev), MOX_OK);
	assert_int_equal(ev.type, MOX_SMTP_EV_HELLO);
	assert_string_equal(ev.u.hello.domain, "x.example");
	assert_int_equal(mox_smtp_conn_next(c, 2000, &ev), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_deadline(c), INT64_MAX);
	assert_int_equal(mox_smtp_conn_reply(c, 250, MOX_SMTP_SE_NONE, "hi"), MOX_EINVAL);
	assert_int_equal(mox_smtp_conn_accept(c), MOX_OK);
	assert_int_equal(mox_smtp_conn_next(c, 2000, &ev), MOX_OK);
	assert_int_equal(ev.type, MOX_SMTP_EV_STARTTLS);
	/* The bytes after STARTTLS are the client's TLS hello. */
	size_t n;
	const uint8_t *left = mox_smtp_conn_starttls_leftover(c, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(left, "\x16\x03\x01", 3);
	assert_int_equal(mox_smtp_conn_input_room(c), 0);
	assert_int_equal(mox_smtp_conn_feed(c, "x", 1), MOX_ESTATE);
	assert_int_equal(mox_smtp_conn_next(c, 2000, &ev), MOX_ESTATE);
	assert_false(mox_smtp_conn_tls(c));
	assert_int_equal(mox_smtp_conn_starttls_done(c), MOX_OK);
	assert_true(mox_smtp_conn_tls(c));
	mox_smtp_conn_starttls_leftover(c, &n);
	assert_int_equal(n, 0);
	assert_null(mox_smtp_conn_username(c));
	assert_int_equal(mox_smtp_conn_set_channel_binding(c, MOX_SASL_CB_NONE,
							   (const uint8_t *)"x", 1),
			 MOX_EINVAL);
	uint8_t cb[65] = {0};
	assert_int_equal(mox_smtp_conn_set_channel_binding(c, MOX_SASL_CB_TLS_EXPORTER, cb, 65),
			 MOX_EINVAL);
	assert_int_equal(mox_smtp_conn_set_channel_binding(c, MOX_SASL_CB_TLS_EXPORTER, cb, 32),
			 MOX_OK);
	assert_int_equal(mox_smtp_conn_close(c, 100, MOX_SMTP_SE_NONE, "x"), MOX_EINVAL);
	assert_int_equal(mox_smtp_conn_close(c, 421, MOX_SMTP_SE_SYS_NOT_ACCEPTING, "bye"), MOX_OK);
	assert_int_equal(mox_smtp_conn_next(c, 3000, &ev), MOX_OK);
	assert_int_equal(ev.type, MOX_SMTP_EV_CLOSE);
	assert_int_equal(ev.u.close.code, 421);
	assert_int_equal(mox_smtp_conn_next(c, 3000, &ev), MOX_OK);
	assert_int_equal(ev.type, MOX_SMTP_EV_CLOSE);
	assert_int_equal(mox_smtp_conn_input_room(c), 0);
	const uint8_t *out = mox_smtp_conn_output(c, &n);
	const char *want = "250-mox.example";
	assert_memory_equal(out, want, strlen(want));
	assert_non_null(strstr((const char *)out, "421 4.3.2 bye\r\n"));
	mox_smtp_conn_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_reply_write),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_conn_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
