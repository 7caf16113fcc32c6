/* The response writer: string forms, mailbox names, status lines, dates,
 * and the output queue streaming literals through a read callback. Also
 * modified UTF-7 vectors (RFC 3501 section 5.1.3). */
#include <mox/imap.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
w_astring(const char *in, size_t n, unsigned fl, const char *want, size_t wantlen)
{
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_write_astring(&b, in, n, fl), MOX_OK);
	assert_int_equal(b.len, wantlen);
	assert_memory_equal(b.data, want, wantlen);
	mox_buf_free(&b);
}
#define WA(in, fl, want) w_astring(in, sizeof(in) - 1, fl, want, sizeof(want) - 1)

static void
test_strings(void **state)
{
	(void)state;
	WA("INBOX", 0, "INBOX");
	WA("nil", 0, "\"nil\"");
	WA("", 0, "\"\"");
	WA("a b", 0, "\"a b\"");
	WA("a\"b\\c", 0, "\"a\\\"b\\\\c\"");
	WA("x]", 0, "\"x]\"");
	WA("a\r\nb", 0, "{4}\r\na\r\nb");
	WA("\xc3\xa4", 0, "{2}\r\n\xc3\xa4");
	WA("\xc3\xa4", MOX_IMAP_W_UTF8, "\"\xc3\xa4\"");
	WA("\xff", MOX_IMAP_W_UTF8, "{1}\r\n\xff");
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_write_nstring(&b, NULL, 0, 0), MOX_OK);
	assert_int_equal(mox_imap_write_string(&b, "ATOM", 4, 0), MOX_OK);
	assert_string_equal((const char *)b.data, "NIL\"ATOM\"");
	mox_buf_reset(&b);
	char big[2000];
	memset(big, 'a', sizeof(big));
	assert_int_equal(mox_imap_write_string(&b, big, sizeof(big), 0), MOX_OK);
	assert_memory_equal(b.data, "{2000}\r\naaa", 11);
	mox_buf_free(&b);
}

static void
test_status(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_write_status(&b, "a1", MOX_IMAP_OK, "READ-WRITE", "SELECT completed"), MOX_OK);
	assert_int_equal(mox_imap_write_status(&b, "a2", MOX_IMAP_NO, NULL, "bad\r\nthing"), MOX_OK);
	assert_int_equal(mox_imap_write_status(&b, "a3", MOX_IMAP_BYE, NULL, NULL), MOX_OK);
	assert_int_equal(mox_imap_write_continue(&b, "ready"), MOX_OK);
	mox_imap_reject r = {"a4", MOX_IMAP_BAD, "TOOBIG", "too big", true};
	assert_int_equal(mox_imap_write_reject(&b, &r), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "a1 OK [READ-WRITE] SELECT completed\r\n"
			    "a2 NO bad  thing\r\n"
			    "* BYE BYE\r\n"
			    "+ ready\r\n"
			    "a4 BAD [TOOBIG] too big\r\n"
			    "* BYE closing connection\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_write_datetime(&b, 760686745, -480), MOX_OK);
	assert_int_equal(mox_imap_write_datetime(&b, 0, 90), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "\"07-Feb-1994 21:52:25 -0800\"\"01-Jan-1970 01:30:00 +0130\"");
	assert_int_equal(mox_imap_write_datetime(&b, 0, 1440), MOX_EINVAL);
	mox_buf_free(&b);
}

static void
utf7(const char *utf8, const char *enc)
{
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_utf7_encode(utf8, strlen(utf8), &b), MOX_OK);
	assert_string_equal(b.len ? (const char *)b.data : "", enc);
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_utf7_decode(enc, strlen(enc), &b), MOX_OK);
	assert_string_equal(b.len ? (const char *)b.data : "", utf8);
	mox_buf_free(&b);
}

static void
test_utf7(void **state)
{
	(void)state;
	utf7("", "");
	utf7("INBOX", "INBOX");
	utf7("Tom & Jerry", "Tom &- Jerry");
	utf7("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"); /* RFC 3501 section 5.1.3 */
	utf7("Entw\xc3\xbcrfe", "Entw&APw-rfe");
	utf7("\xf0\x9f\x98\x80", "&2D3eAA-");
	utf7("\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-");
	static const char *const bad[] = {
		"&", "&-x&", "&AGE-", "&Jjo", "&Jjo!-", "&2D0-", "&3gA-", "\xc3\xa4",
		"&AOQ=-", "&AOR-", "a\x01", "&-&",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		mox_buf b = MOX_BUF_INIT;
		mox_err err = mox_imap_utf7_decode(bad[i], strlen(bad[i]), &b);
		if (err != MOX_ESYNTAX)
			fail_msg("%s decoded", bad[i]);
		assert_int_equal(b.len, 0);
		mox_buf_free(&b);
	}
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_utf7_encode("\xff", 1, &b), MOX_ESYNTAX);
	assert_int_equal(mox_imap_write_mailbox(&b, "Entw\xc3\xbcrfe", 0), MOX_OK);
	assert_int_equal(mox_buf_append_byte(&b, ' '), MOX_OK);
	assert_int_equal(mox_imap_write_mailbox(&b, "Entw\xc3\xbcrfe", MOX_IMAP_W_UTF8), MOX_OK);
	assert_int_equal(mox_buf_append_byte(&b, ' '), MOX_OK);
	assert_int_equal(mox_imap_write_mailbox(&b, "a b", 0), MOX_OK);
	assert_string_equal((const char *)b.data, "Entw&APw-rfe \"Entw\xc3\xbcrfe\" \"a b\"");
	mox_buf_free(&b);
}

/* A "file" of n bytes whose byte i is i % 251, read in small pieces. */
typedef struct src {
	uint64_t size;
	size_t calls;
	size_t maxread;
	bool fail;
} src;

static long
src_read(void *arg, uint64_t off, uint8_t *dst, size_t len)
{
	src *s = arg;
	s->calls++;
	if (s->fail)
		return MOX_EIO;
	assert_true(off < s->size);
	if (len > s->maxread)
		len = s->maxread;
	for (size_t i = 0; i < len; i++)
		dst[i] = (uint8_t)((off + i) % 251);
	return (long)len;
}

static void
test_out_queue(void **state)
{
	(void)state;
	mox_imap_out *o = NULL;
	assert_int_equal(mox_imap_out_new(&o, NULL), MOX_OK);
	src s = {.size = 1000000, .maxread = 3000};
	assert_int_equal(mox_buf_append_str(mox_imap_out_buf(o), "* 1 FETCH (BODY[] "), MOX_OK);
	assert_int_equal(mox_imap_out_literal(o, s.size, false, src_read, &s), MOX_OK);
	assert_int_equal(mox_buf_append_str(mox_imap_out_buf(o), ")\r\n"), MOX_OK);
	src s2 = {.size = 5, .maxread = 5};
	assert_int_equal(mox_buf_append_str(mox_imap_out_buf(o), "* 2 FETCH (BINARY[1] "), MOX_OK);
	assert_int_equal(mox_imap_out_literal(o, s2.size, true, src_read, &s2), MOX_OK);
	assert_int_equal(mox_buf_append_str(mox_imap_out_buf(o), ")\r\nt OK done\r\n"), MOX_OK);
	uint64_t total = mox_imap_out_pending(o);
	static const char head[] = "* 1 FETCH (BODY[] {1000000}\r\n";
	static const char tail[] = ")\r\n* 2 FETCH (BINARY[1] ~{5}\r\n\0\1\2\3\4)\r\nt OK done\r\n";
	assert_int_equal(total, strlen(head) + 1000000 + sizeof(tail) - 1);
	uint8_t *all = malloc(total);
	assert_non_null(all);
	size_t got = 0;
	uint8_t chunk[4096];
	for (;;) {
		size_t n = 0;
		assert_int_equal(mox_imap_out_pull(o, chunk, 1 + got % sizeof(chunk), &n), MOX_OK);
		if (n == 0)
			break;
		assert_true(got + n <= total);
		memcpy(all + got, chunk, n);
		got += n;
	}
	assert_int_equal(got, total);
	assert_memory_equal(all, head, strlen(head));
	for (size_t i = 0; i < 1000000; i++)
		if (all[strlen(head) + i] != (uint8_t)(i % 251))
			fail_msg("byte %zu", i);
	assert_memory_equal(all + strlen(head) + 1000000, tail, sizeof(tail) - 1);
	assert_int_equal(mox_imap_out_pending(o), 0);
	free(all);
	/* The queue is reusable; a failing read is reported. */
	src bad = {.size = 10, .maxread = 10, .fail = true};
	assert_int_equal(mox_imap_out_literal(o, 10, false, src_read, &bad), MOX_OK);
	size_t n = 0;
	assert_int_equal(mox_imap_out_pull(o, chunk, sizeof(chunk), &n), MOX_EIO);
	assert_int_equal(n, 6); /* "{10}\r\n" went out */
	mox_imap_out_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_utf7),
		cmocka_unit_test(test_out_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
