/* Header sections: raw bytes kept exactly, folding, lookup, leniency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/message.h>
#include "mox_testalloc.h"

static mox_msg_header *
parse(const char *text, unsigned flags, size_t *body)
{
	mox_msg_header *h = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_msg_header_parse((const uint8_t *)text, strlen(text), flags, NULL,
					   &h, body, &info);
	if (err != MOX_OK)
		fail_msg("parse: %s", info.msg);
	return h;
}

static void
assert_field(const mox_msg_field *f, const char *raw, const char *name,
	     const char *value)
{
	assert_non_null(f);
	assert_int_equal(f->raw_len, strlen(raw));
	assert_memory_equal(f->raw, raw, f->raw_len);
	assert_int_equal(f->name_len, strlen(name));
	assert_memory_equal(f->name, name, f->name_len);
	assert_int_equal(f->value_len, strlen(value));
	assert_memory_equal(f->value, value, f->value_len);
}

static void
test_fields(void **state)
{
	(void)state;
	const char *msg = "From: a@example.org\r\n"
			  "Subject: a folded\r\n"
			  "\t subject line\r\n"
			  "DKIM-Signature:v=1;\r\n"
			  "  b=abc\r\n"
			  "subject: second\r\n"
			  "\r\n"
			  "body\r\n";
	size_t body;
	mox_msg_header *h = parse(msg, MOX_MSG_STRICT, &body);
	assert_int_equal(h->nfields, 4);
	assert_int_equal(body, strlen(msg) - 6);
	assert_int_equal(h->raw_len, body - 2);
	assert_int_equal(h->warnings, 0);
	assert_field(&h->fields[0], "From: a@example.org\r\n", "From", " a@example.org");
	assert_field(&h->fields[1], "Subject: a folded\r\n\t subject line\r\n", "Subject",
		     " a folded\r\n\t subject line");
	assert_int_equal(h->fields[1].offset, 21);
	assert_field(&h->fields[2], "DKIM-Signature:v=1;\r\n  b=abc\r\n", "DKIM-Signature",
		     "v=1;\r\n  b=abc");
	/* Raw bytes concatenated are exactly the header section. */
	size_t off = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		assert_int_equal(h->fields[i].offset, off);
		assert_memory_equal(h->fields[i].raw, msg + off, h->fields[i].raw_len);
		off += h->fields[i].raw_len;
	}
	assert_int_equal(off, h->raw_len);

	assert_ptr_equal(mox_msg_header_get(h, "SUBJECT", 0), &h->fields[1]);
	assert_ptr_equal(mox_msg_header_get(h, "subject", 1), &h->fields[3]);
	assert_null(mox_msg_header_get(h, "subject", 2));
	assert_null(mox_msg_header_get(h, "Subjec", 0));
	assert_int_equal(mox_msg_header_count(h, "Subject"), 2);
	assert_int_equal(mox_msg_header_count(h, "To"), 0);

	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_field_unfold(&h->fields[1], &b), MOX_OK);
	assert_string_equal((char *)b.data, "a folded\t subject line");
	mox_buf_free(&b);
	mox_msg_header_free(h);
}

static void
test_lenient(void **state)
{
	(void)state;
	size_t body;
	/* Bare LF, header line without colon, space before colon, 8-bit. */
	const char *msg = "From: a\nSubject : x\nX-Latin: caf\xe9\n"
			  "X-Utf8: caf\xc3\xa9\n\nbody";
	mox_msg_header *h = parse(msg, 0, &body);
	assert_int_equal(h->nfields, 4);
	assert_int_equal(body, strlen(msg) - 4);
	assert_true(h->warnings & MOX_MSG_WARN_BARE_LF);
	assert_true(h->warnings & MOX_MSG_WARN_HEADER_SPACE);
	assert_true(h->warnings & MOX_MSG_WARN_8BIT_HEADER);
	assert_false(h->warnings & MOX_MSG_WARN_NO_BODY);
	assert_field(&h->fields[1], "Subject : x\n", "Subject", " x");
	assert_non_null(mox_msg_header_get(h, "subject", 0));
	mox_msg_header_free(h);

	/* A line without colon ends the header and starts the body. */
	msg = "From: a\r\nno colon here\r\nTo: b\r\n\r\nx";
	h = parse(msg, 0, &body);
	assert_int_equal(h->nfields, 1);
	assert_int_equal(body, 9);
	assert_true(h->warnings & MOX_MSG_WARN_NO_COLON);
	mox_msg_header_free(h);
	/* Also as the first line: then there is no header at all. */
	h = parse("nocolon\r\nA: b\r\n\r\n", 0, &body);
	assert_int_equal(h->nfields, 0);
	assert_int_equal(body, 0);
	mox_msg_header_free(h);

	/* Only UTF-8: no 8-bit warning (RFC 6532). */
	h = parse("Subject: \xe2\x82\xac\r\n\r\n", 0, &body);
	assert_int_equal(h->warnings, 0);
	mox_msg_header_free(h);

	/* Header only, no blank line. */
	h = parse("From: a\r\nTo: b\r\n", 0, &body);
	assert_int_equal(h->nfields, 2);
	assert_int_equal(body, 16);
	assert_true(h->warnings & MOX_MSG_WARN_NO_BODY);
	mox_msg_header_free(h);

	/* Empty header: body starts right away. */
	h = parse("\r\nbody", 0, &body);
	assert_int_equal(h->nfields, 0);
	assert_int_equal(body, 2);
	mox_msg_header_free(h);

	/* Continuation line first: a field without name. */
	h = parse(" folded\r\nA: b\r\n\r\n", 0, &body);
	assert_int_equal(h->nfields, 2);
	assert_true(h->warnings & MOX_MSG_WARN_NO_COLON);
	mox_msg_header_free(h);

	/* Strict mode turns each into an error. */
	static const char *bad[] = {"A: b\nC: d\n\n", "A: b\r\nnocolon\r\n\r\n", "A : b\r\n\r\n",
				    "A: \xff\r\n\r\n", "A: b\0c\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_msg_header *x = NULL;
		mox_errinfo info = {0};
		size_t n = i == 4 ? 11 : strlen(bad[i]);
		assert_int_equal(mox_msg_header_parse((const uint8_t *)bad[i], n,
						      MOX_MSG_STRICT, NULL, &x, NULL, &info),
				 MOX_ESYNTAX);
		assert_null(x);
		assert_true(strlen(info.msg) > 8);
	}
	/* Long line. */
	char longline[1200];
	memcpy(longline, "X: ", 3);
	memset(longline + 3, 'a', 1100);
	memcpy(longline + 1103, "\r\n\r\n", 5);
	h = parse(longline, 0, &body);
	assert_true(h->warnings & MOX_MSG_WARN_LONG_LINE);
	mox_msg_header_free(h);
}

static void
test_oom(void **state)
{
	(void)state;
	const char *msg = "A: b\r\nC: d\r\n e\r\n\r\n";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_msg_header *h = NULL;
		mox_err err = mox_msg_header_parse((const uint8_t *)msg, strlen(msg), 0, &ta.a,
						   &h, NULL, NULL);
		mox_msg_header_free(h);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
	assert_string_equal(mox_msg_warning_name(MOX_MSG_WARN_BARE_LF), "bare LF line ending");
	assert_null(mox_msg_warning_name(1u << 30));
	assert_int_equal(mox_message_version(), MOX_MESSAGE_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
