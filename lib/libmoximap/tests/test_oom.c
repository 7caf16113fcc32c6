/* OOM loops (STYLE.md section 10): the parser over commands of every kind
 * and the BODYSTRUCTURE/ENVELOPE/section code over a nested message, with
 * an allocator failing after N allocations for N = 0, 1, 2... until
 * success; every failure is MOX_ENOMEM, nothing leaks, and the parser
 * gives the same result when retried after an ENOMEM. */
#include <mox/imap.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mox_testalloc.h"
#include "mox_testfile.h"

static const char input[] =
	"a1 LOGIN {3}\r\nabc \"def\"\r\n"
	"a2 UID FETCH 1:*,$ (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.10> BINARY[3])\r\n"
	"a3 SEARCH CHARSET UTF-8 OR (FROM x NOT SEEN) HEADER Subject y UID 1:5,7\r\n"
	"a4 APPEND Entw&APw-rfe (\\Seen) {5}\r\nhello\r\n"
	"a5 LIST (SUBSCRIBED) \"\" (INBOX %) RETURN (STATUS (MESSAGES))\r\n"
	"a6 STORE 1 +FLAGS (\\Deleted $x)\r\n"
	"a7 SELECT INBOX (QRESYNC (1 2 1:5 (1 2)))\r\n"
	"a8 ID (\"name\" NIL)\r\n"
	"a9 BOGUS\r\n"
	"a10 AUTHENTICATE PLAIN\r\nAGFiYwBkZWY=\r\n";

static mox_err
run_parser(const mox_allocator *a, unsigned flags, mox_buf *log)
{
	mox_imap_parser_opts o = {.size = sizeof(o), .alloc = a, .flags = flags};
	mox_imap_parser *p = NULL;
	mox_err err = mox_imap_parser_new(&p, &o);
	if (err != MOX_OK)
		return err;
	size_t retries = 0;
	for (size_t off = 0; off < sizeof(input) - 1; off += 7) {
		size_t n = sizeof(input) - 1 - off < 7 ? sizeof(input) - 1 - off : 7;
		if ((err = mox_imap_parser_feed(p, input + off, n)) != MOX_OK)
			goto out;
		for (;;) {
			mox_imap_event ev;
			err = mox_imap_parser_next(p, &ev);
			if (err == MOX_EAGAIN)
				break;
			if (err == MOX_ENOMEM && retries++ < 3)
				continue; /* nothing lost: try again */
			if (err != MOX_OK)
				goto out;
			if (ev.type == MOX_IMAP_EV_COMMAND) {
				if ((err = mox_imap_cmd_format(ev.cmd, log)) != MOX_OK)
					goto out;
				if (ev.cmd->type == MOX_IMAP_CMD_AUTHENTICATE)
					mox_imap_parser_expect_line(p);
			} else if (ev.type == MOX_IMAP_EV_REJECT) {
				if ((err = mox_buf_append_str(log, ev.reject.text)) != MOX_OK)
					goto out;
			} else if (ev.type == MOX_IMAP_EV_APPEND_DATA) {
				if ((err = mox_buf_appendf(log, "DATA %zu ", ev.append_index)) != MOX_OK ||
				    (err = mox_buf_append(log, ev.line, ev.line_len)) != MOX_OK)
					goto out;
			} else if (ev.type == MOX_IMAP_EV_LINE) {
				if ((err = mox_buf_append(log, ev.line, ev.line_len)) != MOX_OK)
					goto out;
			} else if ((err = mox_buf_append_byte(log, '+')) != MOX_OK) {
				goto out;
			}
			if ((err = mox_buf_append_byte(log, '\n')) != MOX_OK)
				goto out;
		}
	}
	err = MOX_OK;
out:
	mox_imap_parser_free(p);
	return err;
}

static void
parser_oom(unsigned flags)
{
	mox_buf want = MOX_BUF_INIT;
	assert_int_equal(run_parser(NULL, flags, &want), MOX_OK);
	assert_non_null(strstr((const char *)want.data, "a10 AUTHENTICATE"));
	bool ok = false;
	for (long n = 0; !ok && n < 100000; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_buf got = MOX_BUF_INIT;
		mox_err err = run_parser(&t.a, flags, &got);
		assert_int_equal(t.live, 0);
		if (err == MOX_OK) {
			/* ENOMEM on a command is retried, so the events are
			 * the same as without failures. */
			assert_string_equal((const char *)got.data, (const char *)want.data);
			ok = true;
		} else {
			assert_int_equal(err, MOX_ENOMEM);
		}
		mox_buf_free(&got);
	}
	assert_true(ok);
	mox_buf_free(&want);
}

static void
test_parser_oom(void **state)
{
	(void)state;
	parser_oom(0);
	/* APPEND literals streamed as DATA events (MOX_IMAP_APPEND_STREAM). */
	parser_oom(MOX_IMAP_APPEND_STREAM);
}

static mox_err
run_structure(const mox_allocator *a, const char *data, size_t len, mox_buf *out)
{
	mox_msg_parse_opts po = {.size = sizeof(po), .alloc = a};
	mox_msg *m = NULL;
	mox_err err = mox_msg_parse(data, len, &po, &m, NULL);
	if (err != MOX_OK)
		return err;
	mox_buf b;
	mox_buf_init(&b, a);
	if ((err = mox_imap_bodystructure(m->root, MOX_IMAP_BS_EXTENDED, &b)) != MOX_OK ||
	    (err = mox_imap_envelope(m->root->header, 0, &b)) != MOX_OK)
		goto out;
	const char *fields[] = {"subject"};
	uint32_t part[] = {4, 2};
	mox_imap_fetch_att att = {.type = MOX_IMAP_FA_BODY_SECTION};
	att.section.part = part;
	att.section.npart = 2;
	att.section.text = MOX_IMAP_SECTION_HEADER_FIELDS;
	att.section.fields = fields;
	att.section.nfields = 1;
	mox_imap_section_data d;
	if ((err = mox_imap_section_resolve(m, &att, &d)) != MOX_OK)
		goto out;
	err = mox_buf_append(&b, d.seg[0].gen, (size_t)d.seg[0].len);
	mox_imap_section_data_free(&d);
out:
	if (err == MOX_OK)
		err = mox_buf_append(out, b.data, b.len);
	mox_buf_free(&b);
	mox_msg_free(m);
	return err;
}

static void
test_structure_oom(void **state)
{
	(void)state;
	size_t len = 0;
	char *data = mox_test_read_file(MOX_TESTDATA_DIR "/messages/mimekit/messages/rfc2060.txt", &len);
	assert_non_null(data);
	mox_buf want = MOX_BUF_INIT;
	assert_int_equal(run_structure(NULL, data, len, &want), MOX_OK);
	bool ok = false;
	for (long n = 0; !ok && n < 100000; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_buf got = MOX_BUF_INIT;
		mox_err err = run_structure(&t.a, data, len, &got);
		assert_int_equal(t.live, 0);
		if (err == MOX_OK) {
			assert_string_equal((const char *)got.data, (const char *)want.data);
			ok = true;
		} else {
			assert_int_equal(err, MOX_ENOMEM);
		}
		mox_buf_free(&got);
	}
	assert_true(ok);
	mox_buf_free(&want);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_oom),
		cmocka_unit_test(test_structure_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
