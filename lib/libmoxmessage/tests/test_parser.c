/* The part tree: exact offsets and line counts, nesting, leniency, limits,
 * chunking at every offset, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/message.h>
#include "mox_testalloc.h"
#include "mox_testfile.h"

static mox_msg *
parse(const char *text, size_t len, unsigned flags)
{
	mox_msg *m = NULL;
	mox_errinfo info = {0};
	mox_msg_parse_opts o = {.size = sizeof(o), .flags = flags};
	mox_err err = mox_msg_parse(text, len, &o, &m, &info);
	if (err != MOX_OK)
		fail_msg("parse: %s: %s", mox_err_name(err), info.msg);
	return m;
}

/* The bytes of a part's body. */
static void
assert_body(const char *msg, const mox_msg_part *p, const char *want)
{
	size_t n = p->end_offset - p->body_offset;
	if (n != strlen(want) || memcmp(msg + p->body_offset, want, n) != 0)
		fail_msg("body [%zu,%zu) is '%.*s', want '%s'", p->body_offset, p->end_offset,
			 (int)n, msg + p->body_offset, want);
}

static void
assert_type(const mox_msg_part *p, const char *type, const char *subtype)
{
	assert_non_null(p);
	assert_string_equal(p->type, type);
	assert_string_equal(p->subtype, subtype);
}

static void
test_single(void **state)
{
	(void)state;
	const char *msg = "From: a@example.org\r\nSubject: hi\r\n\r\nline 1\r\nline 2\r\n";
	mox_msg *m = parse(msg, strlen(msg), MOX_MSG_STRICT);
	const mox_msg_part *r = m->root;
	assert_type(r, "text", "plain");
	assert_null(r->charset);
	assert_int_equal(r->cte, MOX_MSG_CTE_7BIT);
	assert_int_equal(r->header_offset, 0);
	assert_int_equal(r->body_offset, 36);
	assert_int_equal(r->end_offset, strlen(msg));
	assert_int_equal(r->header_lines, 3);
	assert_int_equal(r->body_lines, 2);
	assert_int_equal(r->nchildren, 0);
	assert_int_equal(m->nparts, 1);
	assert_int_equal(m->size, strlen(msg));
	assert_int_equal(m->warnings, 0);
	assert_int_equal(r->header->nfields, 2);
	assert_body(msg, r, "line 1\r\nline 2\r\n");
	mox_msg_free(m);

	/* Last line without line ending counts as a line. */
	msg = "A: b\n\nx\ny";
	m = parse(msg, strlen(msg), 0);
	assert_int_equal(m->root->body_lines, 2);
	assert_true(m->warnings & MOX_MSG_WARN_BARE_LF);
	mox_msg_free(m);

	/* Empty input: an empty text/plain message. */
	m = parse("", 0, 0);
	assert_type(m->root, "text", "plain");
	assert_int_equal(m->root->end_offset, 0);
	assert_true(m->warnings & MOX_MSG_WARN_NO_BODY);
	mox_msg_free(m);
}

static const char multi[] =
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"one\r\n"
	"\r\n"
	"--b1   \r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=b2\r\n"
	"\r\n"
	"--b2\r\n"
	"\r\n"
	"plain\r\n"
	"--b2\r\n"
	"Content-Type: text/html\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PGI+aGk8L2I+\r\n"
	"--b2--\r\n"
	"--b1--\r\n"
	"epilogue\r\n";

static void
check_multi(const mox_msg *m)
{
	const char *msg = multi;
	const mox_msg_part *r = m->root;
	assert_type(r, "multipart", "mixed");
	assert_int_equal(r->body_offset, 48);
	assert_int_equal(r->end_offset, 346);
	assert_int_equal(r->nchildren, 2);
	assert_int_equal(m->nparts, 6);

	const mox_msg_part *p1 = r->children[0];
	assert_type(p1, "text", "plain");
	assert_string_equal(p1->charset, "utf-8");
	assert_int_equal(p1->header_offset, 64);
	assert_int_equal(p1->body_offset, 107);
	/* The CRLF before the delimiter belongs to the delimiter. */
	assert_body(msg, p1, "one\r\n");
	assert_int_equal(p1->body_lines, 1);
	assert_int_equal(p1->header_lines, 2);

	const mox_msg_part *p2 = r->children[1];
	assert_type(p2, "message", "rfc822");
	assert_int_equal(p2->header_offset, 123);
	assert_int_equal(p2->body_offset, 155);
	assert_int_equal(p2->end_offset, 326);
	assert_int_equal(p2->nchildren, 1);
	assert_int_equal(p2->body_lines, 12);
	assert_true(mox_msg_part_is_message(p2));

	const mox_msg_part *inner = p2->children[0];
	assert_type(inner, "multipart", "alternative");
	assert_int_equal(inner->header_offset, 155);
	assert_int_equal(inner->body_offset, 223);
	assert_int_equal(inner->end_offset, 326);
	assert_int_equal(inner->depth, 2);
	assert_int_equal(inner->nchildren, 2);
	assert_non_null(mox_msg_header_get(inner->header, "subject", 0));

	const mox_msg_part *a1 = inner->children[0];
	assert_type(a1, "text", "plain");
	assert_int_equal(a1->header_offset, 229);
	assert_int_equal(a1->body_offset, 231);
	assert_body(msg, a1, "plain");
	assert_int_equal(a1->body_lines, 1);
	assert_int_equal(a1->header->nfields, 0);

	const mox_msg_part *a2 = inner->children[1];
	assert_type(a2, "text", "html");
	assert_int_equal(a2->cte, MOX_MSG_CTE_BASE64);
	assert_body(msg, a2, "PGI+aGk8L2I+");

	/* IMAP section numbers, RFC 9051 section 6.4.5. */
	assert_ptr_equal(mox_msg_part_find(m, ""), r);
	assert_ptr_equal(mox_msg_part_find(m, "1"), p1);
	assert_ptr_equal(mox_msg_part_find(m, "2"), p2);
	assert_ptr_equal(mox_msg_part_find(m, "2.1"), a1);
	assert_ptr_equal(mox_msg_part_find(m, "2.2"), a2);
	assert_null(mox_msg_part_find(m, "3"));
	assert_null(mox_msg_part_find(m, "2.3"));
	assert_null(mox_msg_part_find(m, "0"));
	assert_null(mox_msg_part_find(m, "1.1.1"));
	assert_null(mox_msg_part_find(m, "1."));
	assert_null(mox_msg_part_find(m, "1.1")); /* a leaf in a multipart has no 1 */

	mox_buf b = MOX_BUF_INIT;
	unsigned w;
	assert_int_equal(mox_msg_part_decode(a2, (const uint8_t *)msg, strlen(msg), &b, &w),
			 MOX_OK);
	assert_string_equal((char *)b.data, "<b>hi</b>");
	assert_int_equal(w, 0);
	mox_buf_free(&b);
}

static void
test_multipart(void **state)
{
	(void)state;
	mox_msg *m = parse(multi, strlen(multi), MOX_MSG_STRICT);
	check_multi(m);
	assert_int_equal(m->warnings, 0);
	mox_msg_free(m);
}

/* Every way of cutting the input in two, and byte-by-byte feeding, give
 * the same tree (STYLE.md section 10). */
static void
test_split(void **state)
{
	(void)state;
	size_t len = strlen(multi);
	for (size_t cut = 0; cut <= len; cut++) {
		mox_msg_parser *p = NULL;
		assert_int_equal(mox_msg_parser_new(&p, NULL), MOX_OK);
		assert_int_equal(mox_msg_parser_feed(p, multi, cut), MOX_OK);
		assert_int_equal(mox_msg_parser_feed(p, multi + cut, len - cut), MOX_OK);
		mox_msg *m = NULL;
		assert_int_equal(mox_msg_parser_end(p, &m), MOX_OK);
		check_multi(m);
		mox_msg_free(m);
		mox_msg_parser_free(p);
	}
	mox_msg_parser *p = NULL;
	assert_int_equal(mox_msg_parser_new(&p, NULL), MOX_OK);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(mox_msg_parser_feed(p, multi + i, 1), MOX_OK);
	mox_msg *m = NULL;
	assert_int_equal(mox_msg_parser_end(p, &m), MOX_OK);
	check_multi(m);
	mox_msg_free(m);
	/* After end, the parser refuses more. */
	assert_int_equal(mox_msg_parser_feed(p, "x", 1), MOX_ESTATE);
	mox_msg_parser_free(p);
}

static void
test_broken(void **state)
{
	(void)state;
	/* Missing close delimiter; boundary as prefix of a longer line is
	 * not a delimiter; transport padding is. */
	const char *msg = "Content-Type: multipart/mixed; boundary=xx\n\n"
			  "--xx\n\na\n--xxy\nb\n--xx \t\n\nc\n";
	mox_msg *m = parse(msg, strlen(msg), 0);
	assert_int_equal(m->root->nchildren, 2);
	assert_body(msg, m->root->children[0], "a\n--xxy\nb");
	assert_body(msg, m->root->children[1], "c\n");
	assert_true(m->root->warnings & MOX_MSG_WARN_NO_END_BOUNDARY);
	mox_msg_free(m);

	/* An outer delimiter ends an inner multipart whose end is missing. */
	msg = "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	      "Content-Type: multipart/mixed; boundary=i\n\n--i\n\nx\n"
	      "--o\n\ny\n--o--\n";
	m = parse(msg, strlen(msg), 0);
	assert_int_equal(m->root->nchildren, 2);
	const mox_msg_part *in = m->root->children[0];
	assert_int_equal(in->nchildren, 1);
	assert_body(msg, in->children[0], "x");
	assert_true(in->warnings & MOX_MSG_WARN_NO_END_BOUNDARY);
	assert_false(m->root->warnings & MOX_MSG_WARN_NO_END_BOUNDARY);
	assert_body(msg, m->root->children[1], "y");
	mox_msg_free(m);

	/* Multipart without boundary, or without any delimiter: text. */
	msg = "Content-Type: multipart/mixed\n\nhello\n";
	m = parse(msg, strlen(msg), 0);
	assert_type(m->root, "text", "plain");
	assert_true(m->warnings & MOX_MSG_WARN_NO_BOUNDARY);
	mox_msg_free(m);
	msg = "Content-Type: multipart/mixed; boundary=q\n\nhello\n";
	m = parse(msg, strlen(msg), 0);
	assert_type(m->root, "text", "plain");
	assert_int_equal(m->root->nchildren, 0);
	mox_msg_free(m);

	/* Bad Content-Type: text/plain default; unknown encoding. */
	msg = "Content-Type: /\nContent-Transfer-Encoding: x-uuencode\n\nbody";
	m = parse(msg, strlen(msg), 0);
	assert_type(m->root, "text", "plain");
	assert_int_equal(m->root->cte, MOX_MSG_CTE_UNKNOWN);
	assert_true(m->warnings & MOX_MSG_WARN_BAD_CONTENT_TYPE);
	assert_true(m->warnings & MOX_MSG_WARN_BAD_CTE);
	mox_msg_free(m);

	/* A part whose header is cut off by the delimiter. */
	msg = "Content-Type: multipart/mixed; boundary=z\n\n--z\nX-A: b\n--z--\n";
	m = parse(msg, strlen(msg), 0);
	assert_int_equal(m->root->nchildren, 1);
	const mox_msg_part *c = m->root->children[0];
	assert_true(c->warnings & MOX_MSG_WARN_NO_BODY);
	assert_non_null(mox_msg_header_get(c->header, "x-a", 0));
	assert_int_equal(c->body_offset, c->end_offset);
	mox_msg_free(m);

	/* message/rfc822 in base64 is a leaf; in a digest, the default
	 * type is message/rfc822. */
	msg = "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nb\n--d--\n";
	m = parse(msg, strlen(msg), 0);
	assert_type(m->root->children[0], "message", "rfc822");
	assert_int_equal(m->root->children[0]->nchildren, 1);
	assert_ptr_equal(mox_msg_part_find(m, "1.1"), m->root->children[0]->children[0]);
	mox_msg_free(m);

	/* Strict mode stops at the first problem. */
	mox_msg *x = NULL;
	mox_errinfo info = {0};
	mox_msg_parse_opts o = {.size = sizeof(o), .flags = MOX_MSG_STRICT};
	msg = "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nx\r\n";
	assert_int_equal(mox_msg_parse(msg, strlen(msg), &o, &x, &info), MOX_ESYNTAX);
	assert_null(x);
	assert_non_null(strstr(info.msg, "closing boundary"));
}

static void
test_limits(void **state)
{
	(void)state;
	/* Nesting: 60 multiparts inside each other. */
	mox_buf b = MOX_BUF_INIT;
	for (int i = 0; i < 60; i++)
		assert_int_equal(mox_buf_appendf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n"
						     "\r\n--b%d\r\n",
						 i, i),
				 MOX_OK);
	mox_msg *m = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_msg_parse(b.data, b.len, NULL, &m, &info), MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "nesting"));
	mox_msg_parse_opts o = {.size = sizeof(o), .limits = {.max_depth = 100}};
	assert_int_equal(mox_msg_parse(b.data, b.len, &o, &m, &info), MOX_OK);
	assert_int_equal(m->nparts, 61);
	mox_msg_free(m);
	mox_buf_free(&b);

	/* Part count. */
	assert_int_equal(mox_buf_append_str(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n"),
			 MOX_OK);
	for (int i = 0; i < 20; i++)
		assert_int_equal(mox_buf_append_str(&b, "--p\r\n\r\nx\r\n"), MOX_OK);
	o.limits.max_parts = 10;
	assert_int_equal(mox_msg_parse(b.data, b.len, &o, &m, &info), MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "parts"));
	mox_buf_free(&b);

	/* Header size: one limit exactly fits, one past it fails. */
	o.limits.max_parts = 0;
	o.limits.max_header_bytes = 100;
	assert_int_equal(mox_buf_append_str(&b, "X: "), MOX_OK);
	for (int i = 0; i < 95; i++)
		assert_int_equal(mox_buf_append_byte(&b, 'a'), MOX_OK);
	assert_int_equal(mox_buf_append_str(&b, "\r\n\r\nbody"), MOX_OK); /* 100 + blank */
	assert_int_equal(mox_msg_parse(b.data, b.len, &o, &m, &info), MOX_OK);
	mox_msg_free(m);
	mox_buf_reset(&b);
	assert_int_equal(mox_buf_append_str(&b, "X: "), MOX_OK);
	for (int i = 0; i < 96; i++)
		assert_int_equal(mox_buf_append_byte(&b, 'a'), MOX_OK);
	assert_int_equal(mox_buf_append_str(&b, "\r\n\r\nbody"), MOX_OK);
	assert_int_equal(mox_msg_parse(b.data, b.len, &o, &m, &info), MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "header"));
	/* A huge header line without line ending is refused while read. */
	mox_buf_reset(&b);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(mox_buf_append_byte(&b, 'a'), MOX_OK);
	assert_int_equal(mox_msg_parse(b.data, b.len, &o, &m, &info), MOX_ELIMIT);
	mox_buf_free(&b);
}

/* A large body costs no memory: feed 64 MB of base64-like lines through an
 * allocator that counts live bytes... simply check the parser succeeds and
 * the body's line count, with a part boundary at the end. */
static void
test_large(void **state)
{
	(void)state;
	mox_testalloc ta;
	mox_testalloc_init(&ta, -1);
	mox_msg_parse_opts o = {.size = sizeof(o), .alloc = &ta.a};
	mox_msg_parser *p = NULL;
	assert_int_equal(mox_msg_parser_new(&p, &o), MOX_OK);
	const char *head = "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n";
	assert_int_equal(mox_msg_parser_feed(p, head, strlen(head)), MOX_OK);
	char line[78];
	memset(line, 'Q', 76);
	line[76] = '\r';
	line[77] = '\n';
	long before = ta.count;
	for (int i = 0; i < 200000; i++) /* 15.6 MB */
		assert_int_equal(mox_msg_parser_feed(p, line, sizeof(line)), MOX_OK);
	/* No allocation per line: the body is not kept. */
	assert_true(ta.count - before < 10);
	/* A 100 KB line in a body is fine too (only a prefix is kept). */
	char *big = malloc(100000);
	memset(big, 'x', 100000);
	assert_int_equal(mox_msg_parser_feed(p, big, 100000), MOX_OK);
	free(big);
	assert_int_equal(mox_msg_parser_feed(p, "\r\n--B--\r\n", 9), MOX_OK);
	mox_msg *m = NULL;
	assert_int_equal(mox_msg_parser_end(p, &m), MOX_OK);
	assert_int_equal(m->root->children[0]->body_lines, 200001);
	mox_msg_free(m);
	mox_msg_parser_free(p);
	assert_int_equal(ta.live, 0);
}

static void
test_oom(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_msg_parse_opts o = {.size = sizeof(o), .alloc = &ta.a};
		mox_msg *m = NULL;
		mox_err err = mox_msg_parse(multi, strlen(multi), &o, &m, NULL);
		if (err == MOX_OK)
			check_multi(m);
		mox_msg_free(m);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 100000);
	}
}

/* RFC 3501 section 6.4.5's example structure (mimekit's rfc2060.txt). */
static void
test_rfc2060(void **state)
{
	(void)state;
	size_t len;
	char *msg = mox_test_read_file(MOX_TESTDATA_DIR "/messages/mimekit/messages/rfc2060.txt",
				       &len);
	assert_non_null(msg);
	mox_msg *m = parse(msg, len, 0);
	static const struct {
		const char *path, *type;
	} want[] = {
		{"1", "text/plain"},
		{"2", "application/octet-stream"},
		{"3", "message/rfc822"},
		{"3.1", "text/plain"},
		{"3.2", "application/octet-stream"},
		{"4", "multipart/mixed"},
		{"4.1", "image/gif"},
		{"4.2", "message/rfc822"},
		{"4.2.1", "text/plain"},
		{"4.2.2", "multipart/alternative"},
		{"4.2.2.1", "text/plain"},
		{"4.2.2.2", "text/richtext"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const mox_msg_part *p = mox_msg_part_find(m, want[i].path);
		if (p == NULL)
			fail_msg("no part %s", want[i].path);
		char t[128];
		snprintf(t, sizeof(t), "%s/%s", p->type, p->subtype);
		if (strcmp(t, want[i].type) != 0)
			fail_msg("part %s is %s, want %s", want[i].path, t, want[i].type);
	}
	/* The text of part 4.2.2.1 says which part it is. */
	const mox_msg_part *p = mox_msg_part_find(m, "4.2.2.1");
	assert_non_null(strstr(msg + p->body_offset, "4.2.2.1"));
	mox_msg_free(m);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single), cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_split),  cmocka_unit_test(test_broken),
		cmocka_unit_test(test_limits), cmocka_unit_test(test_large),
		cmocka_unit_test(test_oom),    cmocka_unit_test(test_rfc2060),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
