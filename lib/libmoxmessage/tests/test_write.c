/* Writing: header fields (folding, RFC 2047), addresses, messages. Every
 * output is checked for line lengths and read back with our parsers. */
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

/* Every line ends in CRLF, no CR or LF elsewhere; returns the longest
 * line (without CRLF). */
static size_t
check_lines(const uint8_t *p, size_t n)
{
	size_t longest = 0, line = 0;
	assert_true(n >= 2);
	assert_memory_equal(p + n - 2, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < n && p[i + 1] == '\n');
			if (line > longest)
				longest = line;
			line = 0;
			i++;
			continue;
		}
		assert_true(p[i] != '\n');
		line++;
	}
	assert_true(longest <= MOX_MSG_LINE_MAX);
	return longest;
}

/* No line of a folded field is only white space. */
static void
check_no_blank_fold(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++) {
		if (p[i] != '\n')
			continue;
		size_t k = i + 1;
		while (k < n && (p[k] == ' ' || p[k] == '\t'))
			k++;
		assert_true(k < n && p[k] != '\r');
	}
}

/* White space runs collapsed to one space, trimmed. */
static char *
normalize(const char *s)
{
	char *o = malloc(strlen(s) + 1);
	size_t n = 0;
	bool sp = false;
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			sp = n > 0;
			continue;
		}
		if (sp)
			o[n++] = ' ';
		sp = false;
		o[n++] = *s;
	}
	o[n] = '\0';
	return o;
}

/* Write a field, check it, read it back with the header parser and
 * mox_msg_decode_text. Returns the longest line. */
static size_t
roundtrip_field(const char *name, const char *value, bool smtputf8, bool exact)
{
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_field(&b, name, value, smtputf8), MOX_OK);
	size_t longest = check_lines(b.data, b.len);
	check_no_blank_fold(b.data, b.len);
	if (!smtputf8)
		for (size_t i = 0; i < b.len; i++)
			assert_true(b.data[i] < 0x80);
	mox_msg_header *h = NULL;
	assert_int_equal(mox_msg_header_parse(b.data, b.len, MOX_MSG_STRICT, NULL, &h, NULL,
					      NULL),
			 MOX_OK);
	assert_int_equal(h->nfields, 1);
	const mox_msg_field *f = &h->fields[0];
	assert_int_equal(f->name_len, strlen(name));
	mox_buf d = MOX_BUF_INIT;
	unsigned w;
	assert_int_equal(mox_msg_decode_text(f->value, f->value_len, &d, &w), MOX_OK);
	assert_int_equal(w, 0);
	char *want = normalize(value), *got = normalize((char *)d.data);
	if (strcmp(want, got) != 0)
		fail_msg("field %s: wrote\n%s\nread back \"%s\"", name, (char *)b.data, got);
	if (exact)
		assert_string_equal((char *)d.data, value);
	free(want);
	free(got);
	mox_buf_free(&d);
	mox_msg_header_free(h);
	mox_buf_free(&b);
	return longest;
}

/* Check the encoded words in p: at most 75 characters each (RFC 2047
 * section 2). */
static void
check_ew_len(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '=' || p[i + 1] != '?')
			continue;
		size_t k = i + 2, q = 0;
		while (k + 1 < n && !(q >= 2 && p[k] == '?' && p[k + 1] == '=')) {
			if (p[k] == '?')
				q++;
			k++;
		}
		assert_true(k + 2 - i <= 75);
		i = k + 1;
	}
}

static void
test_field_basic(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_field(&b, "Subject", "  hello  world ", false), MOX_OK);
	assert_string_equal((char *)b.data, "Subject: hello  world\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_field(&b, "Subject", "", false), MOX_OK);
	assert_string_equal((char *)b.data, "Subject:\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_field(&b, "Subject", "caf\xc3\xa9 ok", false), MOX_OK);
	assert_string_equal((char *)b.data, "Subject: =?utf-8?q?caf=C3=A9?= ok\r\n");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_field(&b, "Subject", "caf\xc3\xa9 ok", true), MOX_OK);
	assert_string_equal((char *)b.data, "Subject: caf\xc3\xa9 ok\r\n");
	mox_buf_reset(&b);
	/* Adjacent words to encode share words; the space is encoded. */
	assert_int_equal(mox_msg_write_field(&b, "Subject", "\xc3\xa9 \xc3\xa9 x", false), MOX_OK);
	assert_string_equal((char *)b.data, "Subject: =?utf-8?b?w6kgw6k=?= x\r\n");
	mox_buf_reset(&b);
	/* Mostly non-ASCII: base64 is shorter. */
	assert_int_equal(mox_msg_write_field(&b, "Subject", "\xe6\x97\xa5\xe6\x9c\xac", false),
			 MOX_OK);
	assert_string_equal((char *)b.data, "Subject: =?utf-8?b?5pel5pys?=\r\n");
	mox_buf_reset(&b);
	/* Control characters are encoded, also with SMTPUTF8. */
	assert_int_equal(mox_msg_write_field(&b, "X", "a\x01" "b", true), MOX_OK);
	assert_string_equal((char *)b.data, "X: =?utf-8?q?a=01b?=\r\n");
	mox_buf_reset(&b);
	/* Errors. */
	assert_int_equal(mox_msg_write_field(&b, "Subject", "a\r\nBcc: x", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "Subject", "a\nb", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "Subject", "a\xff", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "Sub ject", "a", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "Sub:ject", "a", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "", "a", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(&b, "S\xc3\xa9", "a", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_field(NULL, "S", "a", false), MOX_EINVAL);
	assert_int_equal(b.len, 0);
	mox_buf_free(&b);
}

static void
test_field_fold(void **state)
{
	(void)state;
	/* Ordinary text folds at 78 and reads back exactly. */
	char text[4096] = "";
	for (int i = 0; i < 200; i++)
		strcat(text, i % 7 == 0 ? "lengthier-word " : "word ");
	text[strlen(text) - 1] = '\0';
	assert_true(roundtrip_field("Subject", text, false, true) <= MOX_MSG_LINE_SOFT);
	/* All non-ASCII: encoded words within 75, lines within 78. */
	char u[8192] = "";
	for (int i = 0; i < 300; i++)
		strcat(u, i % 5 == 4 ? "\xc3\xa9t\xc3\xa9 " : "\xe6\x97\xa5\xf0\x9f\x93\xa7");
	u[strlen(u) - 1] = '\0'; /* no trailing space: that is trimmed */
	assert_true(roundtrip_field("Subject", u, false, true) <= MOX_MSG_LINE_SOFT);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_field(&b, "Subject", u, false), MOX_OK);
	check_ew_len(b.data, b.len);
	mox_buf_free(&b);
	/* Mixed, with tabs and runs of spaces. */
	assert_true(roundtrip_field("Subject", "a\tb  c \xc3\xa9\t\xc3\xa9  d", false, true) <=
		    MOX_MSG_LINE_SOFT);
	/* SMTPUTF8: raw, folded by octets. */
	assert_true(roundtrip_field("Subject", u, true, true) <= MOX_MSG_LINE_SOFT);
}

static void
test_field_hostile(void **state)
{
	(void)state;
	size_t n = 10000;
	char *s = malloc(4 * n + 16);
	assert_non_null(s);
	/* A 10k-character word: encoded (it fits no line), within 78. */
	memset(s, 'x', n);
	s[n] = '\0';
	assert_true(roundtrip_field("Subject", s, false, true) <= MOX_MSG_LINE_SOFT);
	/* A 997-octet word stays as it is on its own line; 998 is encoded. */
	s[997] = '\0';
	assert_true(roundtrip_field("Subject", s, false, true) <= MOX_MSG_LINE_MAX);
	s[997] = 'x';
	s[998] = '\0';
	assert_true(roundtrip_field("Subject", s, false, true) <= MOX_MSG_LINE_SOFT);
	/* 900-octet words, several: each on its line, none over 998. */
	for (size_t i = 0; i < 3000; i++)
		s[i] = i % 901 == 900 ? ' ' : 'y';
	s[3000] = '\0';
	roundtrip_field("Subject", s, false, true);
	/* 10k non-ASCII characters without white space, with SMTPUTF8
	 * (too long for a line, so encoded anyway) and without. */
	for (size_t i = 0; i < n; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	s[2 * n] = '\0';
	assert_true(roundtrip_field("Subject", s, false, true) <= MOX_MSG_LINE_SOFT);
	assert_true(roundtrip_field("Subject", s, true, true) <= MOX_MSG_LINE_SOFT);
	/* Four-byte characters only: never split. */
	for (size_t i = 0; i < n / 2; i++)
		memcpy(s + 4 * i, "\xf0\x9f\x93\xa7", 4);
	s[2 * n] = '\0';
	assert_true(roundtrip_field("Subject", s, false, true) <= MOX_MSG_LINE_SOFT);
	/* 5000 spaces between words, and a value of spaces only. */
	memset(s, ' ', 5002);
	s[0] = 'a';
	s[5001] = 'b';
	s[5002] = '\0';
	assert_true(roundtrip_field("Subject", s, false, false) <= MOX_MSG_LINE_SOFT);
	s[0] = ' ';
	s[5001] = ' ';
	roundtrip_field("Subject", s, false, false);
	/* The longest field name (996) and one past it. */
	char name[1000];
	memset(name, 'N', 996);
	name[996] = '\0';
	roundtrip_field(name, "a b c", false, true);
	name[996] = 'N';
	name[997] = '\0';
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_field(&b, name, "a", false), MOX_EINVAL);
	mox_buf_free(&b);
	/* Every byte value as a one-character value. */
	for (int c = 1; c < 128; c++) {
		char v[2] = {(char)c, 0};
		if (c == '\r' || c == '\n')
			continue;
		roundtrip_field("X", v, false, c != ' ' && c != '\t');
	}
	/* 1 MB of mixed words. */
	size_t big = 1 << 20;
	char *m = malloc(big + 1);
	assert_non_null(m);
	for (size_t i = 0; i < big; i++)
		m[i] = i % 13 == 12 ? ' ' : (i % 29 == 3 ? '\x7f' : (char)('a' + i % 26));
	m[big] = '\0';
	assert_true(roundtrip_field("Subject", m, false, true) <= MOX_MSG_LINE_SOFT);
	free(m);
	free(s);
}

/* Write an address, parse it back, compare. */
static void
roundtrip_addr(const char *name, const char *local, const char *domain, bool smtputf8,
	       const char *want)
{
	mox_buf b = MOX_BUF_INIT;
	if (mox_msg_write_addr(&b, name, local, domain, smtputf8) != MOX_OK)
		fail_msg("write_addr \"%s\" \"%s\" \"%s\"", name, local, domain);
	if (want != NULL)
		assert_string_equal((char *)b.data, want);
	mox_msg_addr_list *l = NULL;
	unsigned w = 0;
	assert_int_equal(mox_msg_addr_list_parse(b.data, b.len, MOX_MSG_STRICT, NULL, &l, &w,
						 NULL),
			 MOX_OK);
	assert_int_equal(l->n, 1);
	if (name == NULL || name[0] == '\0')
		assert_null(l->a[0].name);
	else if (l->a[0].name == NULL || strcmp(l->a[0].name, name) != 0)
		fail_msg("name \"%s\" written as %s read as \"%s\"", name, (char *)b.data,
			 l->a[0].name);
	assert_string_equal(l->a[0].local, local);
	assert_string_equal(l->a[0].domain, domain);
	mox_msg_addr_list_free(l);
	/* In a header field, folded: the same again. */
	mox_buf f = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_field(&f, "To", (char *)b.data, smtputf8), MOX_OK);
	check_lines(f.data, f.len);
	assert_int_equal(mox_msg_addr_list_parse(f.data + 3, f.len - 5, MOX_MSG_STRICT, NULL,
						 &l, &w, NULL),
			 MOX_OK);
	assert_int_equal(l->n, 1);
	assert_string_equal(l->a[0].local, local);
	if (name != NULL && name[0] != '\0')
		assert_string_equal(l->a[0].name, name);
	mox_msg_addr_list_free(l);
	mox_buf_free(&f);
	mox_buf_free(&b);
}

static void
test_addr(void **state)
{
	(void)state;
	roundtrip_addr(NULL, "a", "example.org", false, "<a@example.org>");
	roundtrip_addr("", "a", "example.org", false, "<a@example.org>");
	roundtrip_addr("Mary Smith", "mary", "x.test", false, "Mary Smith <mary@x.test>");
	roundtrip_addr("Joe Q. Public", "john.q.public", "example.com", false,
		       "\"Joe Q. Public\" <john.q.public@example.com>");
	roundtrip_addr("Giant; \"Big\" Box", "s", "e.net", false,
		       "\"Giant; \\\"Big\\\" Box\" <s@e.net>");
	roundtrip_addr("  James  ", "j", "e.com", false, "\"  James  \" <j@e.com>");
	roundtrip_addr("Keld J\xc3\xb8rn Simonsen", "keld", "dkuug.dk", false,
		       "=?utf-8?q?Keld_J=C3=B8rn_Simonsen?= <keld@dkuug.dk>");
	roundtrip_addr("Keld J\xc3\xb8rn", "keld", "dkuug.dk", true, "Keld J\xc3\xb8rn <keld@dkuug.dk>");
	roundtrip_addr("a=?b?q?c?=", "x", "y", false, NULL);
	roundtrip_addr("tab\there", "x", "y", false, NULL);
	roundtrip_addr("ctl\x01", "x", "y", true, NULL);
	roundtrip_addr("\"", "x", "y", false, NULL);
	roundtrip_addr("\\", "x", "y", false, NULL);
	roundtrip_addr("a", "john doe", "example.com", false, "a <\"john doe\"@example.com>");
	roundtrip_addr("a", "x..y", "example.com", false, "a <\"x..y\"@example.com>");
	roundtrip_addr("a", "q\"\\", "example.com", false, "a <\"q\\\"\\\\\"@example.com>");
	roundtrip_addr("a", "", "example.com", false, "a <\"\"@example.com>");
	roundtrip_addr(NULL, "x", "[192.0.2.1]", false, "<x@[192.0.2.1]>");
	roundtrip_addr(NULL, "d\xc3\xb6rte", "b\xc3\xbc" "cher.example", true, NULL);
	/* A long non-ASCII name: several encoded words, each at most 75. */
	char name[2048] = "";
	for (int i = 0; i < 100; i++)
		strcat(name, i % 3 ? "\xc3\xa9l\xc3\xa8ve " : "\xe5\xb1\xb1\xe7\x94\xb0");
	roundtrip_addr(name, "x", "y", false, NULL);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_addr(&b, name, "x", "y", false), MOX_OK);
	check_ew_len(b.data, b.len);
	mox_buf_reset(&b);
	/* A long ASCII word in the name: encoded, so folding stays possible. */
	memset(name, 'n', 500);
	name[500] = '\0';
	roundtrip_addr(name, "x", "y", false, NULL);
	/* What cannot be written. */
	assert_int_equal(mox_msg_write_addr(&b, NULL, "d\xc3\xb6rte", "x", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", "b\xc3\xbc" "cher", false), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a\tb", "x", true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", NULL, true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", "", true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", "x..y", true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", "[x", true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, NULL, "a", "[a]b]", true), MOX_EINVAL);
	assert_int_equal(mox_msg_write_addr(&b, "\xff", "a", "b", true), MOX_EINVAL);
	char *longlocal = malloc(1000);
	memset(longlocal, 'l', 999);
	longlocal[999] = '\0';
	assert_int_equal(mox_msg_write_addr(&b, NULL, longlocal, "b", true), MOX_EINVAL);
	free(longlocal);
	assert_int_equal(b.len, 0);
	mox_buf_free(&b);
}

/* Parse a written message back with the part parser. */
static mox_msg *
parse_msg(const mox_buf *b)
{
	mox_msg *m = NULL;
	mox_errinfo info = {0};
	mox_msg_parse_opts opts = {.size = sizeof(opts), .flags = MOX_MSG_STRICT};
	if (mox_msg_parse(b->data, b->len, &opts, &m, &info) != MOX_OK)
		fail_msg("parse: %s\n%s", info.msg, (char *)b->data);
	assert_int_equal(m->warnings, 0);
	return m;
}

static void
assert_part(const mox_msg_part *p, const uint8_t *msg, size_t len, const char *type,
	    const char *subtype, mox_msg_cte cte, const void *content, size_t n)
{
	assert_non_null(p);
	assert_string_equal(p->type, type);
	assert_string_equal(p->subtype, subtype);
	assert_int_equal(p->cte, cte);
	mox_buf d = MOX_BUF_INIT;
	unsigned w = 0;
	assert_int_equal(mox_msg_part_decode(p, msg, len, &d, &w), MOX_OK);
	assert_int_equal(d.len, n);
	if (n > 0)
		assert_memory_equal(d.data, content, n);
	mox_buf_free(&d);
}

static void
test_writer_simple(void **state)
{
	(void)state;
	mox_msg_writer *w = NULL;
	assert_int_equal(mox_msg_writer_new(&w, NULL), MOX_OK);
	assert_int_equal(mox_msg_writer_header(w, "From", "Mary <mary@x.test>"), MOX_OK);
	assert_int_equal(mox_msg_writer_header(w, "Subject", "Gr\xc3\xbc\xc3\x9f" "e"), MOX_OK);
	assert_int_equal(mox_msg_writer_header_raw(w, "X-Raw: a\r\n\tb\r\n"), MOX_OK);
	assert_int_equal(mox_msg_writer_header_raw(w, "X-Lf: a\n b"), MOX_OK);
	assert_int_equal(mox_msg_writer_header(w, "Content-Type", "text/plain"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, "MIME-Version: 1.0"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, "X: a\r\nBcc: b"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, "X: a\r\n \r\n b"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, "X: a\rb"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, "no colon"), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_header_raw(w, ": empty name"), MOX_EINVAL);
	const char *text = "Hello,\nworld.\n";
	assert_int_equal(mox_msg_writer_part(w, "text/plain; charset=us-ascii", text,
					     strlen(text)),
			 MOX_OK);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_writer_finish(w, NULL, &b), MOX_OK);
	assert_string_equal((char *)b.data,
			    "From: Mary <mary@x.test>\r\n"
			    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
			    "X-Raw: a\r\n\tb\r\n"
			    "X-Lf: a\r\n b\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: text/plain; charset=us-ascii\r\n"
			    "Content-Transfer-Encoding: 7bit\r\n"
			    "\r\n"
			    "Hello,\r\nworld.\r\n");
	check_lines(b.data, b.len);
	mox_msg *m = parse_msg(&b);
	assert_part(m->root, b.data, b.len, "text", "plain", MOX_MSG_CTE_7BIT,
		    "Hello,\r\nworld.\r\n", 16);
	mox_msg_free(m);
	mox_buf_free(&b);
	mox_msg_writer_free(w);

	/* No parts: the header and an empty body. */
	assert_int_equal(mox_msg_writer_new(&w, NULL), MOX_OK);
	assert_int_equal(mox_msg_writer_header(w, "Subject", "x"), MOX_OK);
	assert_int_equal(mox_msg_writer_finish(w, "mixed", &b), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_finish(w, NULL, &b), MOX_OK);
	assert_string_equal((char *)b.data, "Subject: x\r\n\r\n");
	mox_buf_free(&b);
	mox_msg_writer_free(w);
	mox_msg_writer_free(NULL);
}

static void
test_writer_multipart(void **state)
{
	(void)state;
	/* Text with 8-bit, a long line, a bare CR and "From ": QP. */
	char text[2048];
	int tn = snprintf(text, sizeof(text),
			  "Gr\xc3\xbc\xc3\x9f" "e =\nFrom here\ntrailing space \n%s\nbare\rcr\n",
			  "0123456789012345678901234567890123456789012345678901234567890123456789"
			  "0123456789012345678901234567890123456789012345678901234567890123456789");
	char want[2048];
	size_t wn = 0;
	for (int i = 0; i < tn; i++) {
		if (text[i] == '\n')
			want[wn++] = '\r';
		want[wn++] = text[i];
	}
	/* Binary: base64. */
	uint8_t bin[1000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7);
	/* A message/rfc822 part, as it is; and a part whose content holds
	 * what looks like our boundary. */
	const char *inner = "Subject: inner\r\n\r\nbody\r\n";
	const char *tricky = "--=_mox_\r\n--=_mox_0000000000000000_0\r\n";
	/* A nested multipart/alternative entity from another writer. */
	mox_msg_writer *iw = NULL;
	assert_int_equal(mox_msg_writer_new(&iw, NULL), MOX_OK);
	assert_int_equal(mox_msg_writer_part(iw, "text/plain", "plain\r\n", 7), MOX_OK);
	assert_int_equal(mox_msg_writer_part(iw, "text/html", "<p>html</p>\r\n", 13), MOX_OK);
	mox_buf alt = MOX_BUF_INIT;
	assert_int_equal(mox_msg_writer_finish(iw, "alternative", &alt), MOX_OK);
	mox_msg_writer_free(iw);

	mox_msg_writer *w = NULL;
	assert_int_equal(mox_msg_writer_new(&w, NULL), MOX_OK);
	assert_int_equal(mox_msg_writer_header(w, "Subject", "parts"), MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, NULL, alt.data, alt.len), MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, "text/plain; charset=utf-8", text, (size_t)tn),
			 MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, "application/octet-stream", bin, sizeof(bin)),
			 MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, "message/rfc822", inner, strlen(inner)), MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, "text/plain", tricky, strlen(tricky)), MOX_OK);
	assert_int_equal(mox_msg_writer_part(w, "bad", "x", 1), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_part(w, "text/", "x", 1), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_part(w, "text/plain\r\nBcc: x", "x", 1), MOX_EINVAL);
	assert_int_equal(mox_msg_writer_part(w, "message/rfc822", "a\0b", 3), MOX_EINVAL);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_writer_finish(w, "mixed", &b), MOX_OK);
	assert_true(check_lines(b.data, b.len) <= MOX_MSG_LINE_SOFT);
	mox_msg *m = parse_msg(&b);
	const mox_msg_part *r = m->root;
	assert_string_equal(r->type, "multipart");
	assert_string_equal(r->subtype, "mixed");
	assert_int_equal(r->nchildren, 5);
	assert_string_equal(r->children[0]->subtype, "alternative");
	assert_int_equal(r->children[0]->nchildren, 2);
	assert_part(r->children[0]->children[1], b.data, b.len, "text", "html",
		    MOX_MSG_CTE_7BIT, "<p>html</p>\r\n", 13);
	assert_part(r->children[1], b.data, b.len, "text", "plain", MOX_MSG_CTE_QP, want, wn);
	assert_part(r->children[2], b.data, b.len, "application", "octet-stream",
		    MOX_MSG_CTE_BASE64, bin, sizeof(bin));
	assert_true(mox_msg_part_is_message(r->children[3]));
	assert_part(r->children[4], b.data, b.len, "text", "plain", MOX_MSG_CTE_7BIT, tricky,
		    strlen(tricky));
	mox_msg_free(m);
	/* The same writer again gives the same bytes (the boundary comes
	 * from the content), and a report with parameters. */
	mox_buf b2 = MOX_BUF_INIT;
	assert_int_equal(mox_msg_writer_finish(w, NULL, &b2), MOX_OK);
	assert_int_equal(b2.len, b.len);
	assert_memory_equal(b2.data, b.data, b.len);
	mox_buf_reset(&b2);
	assert_int_equal(mox_msg_writer_finish(w, "report; report-type=delivery-status", &b2),
			 MOX_OK);
	m = parse_msg(&b2);
	assert_string_equal(mox_msg_params_get(&m->root->params, "report-type"),
			    "delivery-status");
	mox_msg_free(m);
	mox_buf_free(&b2);
	mox_buf_free(&b);
	mox_buf_free(&alt);
	mox_msg_writer_free(w);
}

/* Text that is hostile to line limits: every line of the output stays
 * within 78 (QP and base64 bodies) and the content comes back. */
static void
test_writer_hostile(void **state)
{
	(void)state;
	size_t n = 100000;
	uint8_t *d = malloc(n);
	assert_non_null(d);
	for (int kind = 0; kind < 4; kind++) {
		for (size_t i = 0; i < n; i++) {
			switch (kind) {
			case 0: d[i] = 'x'; break;                      /* one long line */
			case 1: d[i] = (uint8_t)(0x80 + i % 64); break; /* all 8-bit */
			case 2: d[i] = i % 2 ? ' ' : '\t'; break;       /* white space */
			default: d[i] = (uint8_t)(i * 31 + 7); break;   /* anything */
			}
		}
		mox_msg_writer *w = NULL;
		assert_int_equal(mox_msg_writer_new(&w, NULL), MOX_OK);
		assert_int_equal(mox_msg_writer_part(w, "text/plain", d, n), MOX_OK);
		mox_buf b = MOX_BUF_INIT;
		assert_int_equal(mox_msg_writer_finish(w, NULL, &b), MOX_OK);
		assert_true(check_lines(b.data, b.len) <= MOX_MSG_LINE_SOFT);
		mox_msg *m = parse_msg(&b);
		mox_buf dec = MOX_BUF_INIT;
		unsigned warn;
		/* Compare the octets: decode without charset conversion. */
		mox_msg_decoder *dc = NULL;
		assert_int_equal(mox_msg_decoder_new(&dc, m->root->cte, NULL, NULL), MOX_OK);
		assert_int_equal(mox_msg_decoder_feed(dc, b.data + m->root->body_offset,
						      m->root->end_offset - m->root->body_offset,
						      &dec),
				 MOX_OK);
		assert_int_equal(mox_msg_decoder_end(dc, &dec), MOX_OK);
		(void)warn;
		mox_msg_decoder_free(dc);
		/* LF became CRLF in text; the generated data has no LF unless
		 * kind 3. */
		if (kind < 3) {
			assert_int_equal(dec.len, n);
			assert_memory_equal(dec.data, d, n);
		}
		mox_buf_free(&dec);
		mox_msg_free(m);
		mox_buf_free(&b);
		mox_msg_writer_free(w);
	}
	free(d);
}

static mox_err
build(const mox_allocator *a, mox_buf *out)
{
	mox_msg_writer *w = NULL;
	mox_err err = mox_msg_writer_new(&w, a);
	if (err != MOX_OK)
		return err;
	if ((err = mox_msg_writer_header(w, "Subject", "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5 plain")) !=
		    MOX_OK ||
	    (err = mox_msg_writer_header_raw(w, "X-Raw: a\n b")) != MOX_OK ||
	    (err = mox_msg_writer_part(w, "text/plain", "caf\xc3\xa9\n", 6)) != MOX_OK ||
	    (err = mox_msg_writer_part(w, "image/png", "\x89PNG", 4)) != MOX_OK ||
	    (err = mox_msg_writer_part(w, "message/rfc822", "A: b\n\nc\n", 8)) != MOX_OK ||
	    (err = mox_msg_writer_part(w, NULL, "Content-Type: text/plain\n\nx\n", 28)) !=
		    MOX_OK ||
	    (err = mox_msg_writer_finish(w, "mixed", out)) != MOX_OK)
		goto out;
	err = mox_msg_write_addr(out, "J\xc3\xb6rg \"x\"", "a b", "example.org", false);
out:
	mox_msg_writer_free(w);
	return err;
}

static void
test_oom(void **state)
{
	(void)state;
	for (long fail = 0;; fail++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, fail);
		mox_buf out;
		mox_buf_init(&out, &ta.a);
		mox_err err = build(&ta.a, &out);
		if (err == MOX_OK) {
			mox_buf_free(&out);
			assert_int_equal(ta.live, 0);
			assert_true(fail > 10);
			break;
		}
		assert_int_equal(err, MOX_ENOMEM);
		mox_buf_free(&out);
		assert_int_equal(ta.live, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_basic),      cmocka_unit_test(test_field_fold),
		cmocka_unit_test(test_field_hostile),    cmocka_unit_test(test_addr),
		cmocka_unit_test(test_writer_simple),    cmocka_unit_test(test_writer_multipart),
		cmocka_unit_test(test_writer_hostile),   cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
