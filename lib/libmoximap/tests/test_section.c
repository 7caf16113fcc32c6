/* BODY[section]<partial> byte ranges, byte-exact, on the RFC 3501 section
 * 6.4.5 sample message and a CRLF message. */
#include <mox/imap.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mox_testfile.h"

static char *data;
static size_t len;
static mox_msg *msg;

/* Parse "FETCH 1 <att>" with the library's own parser to get the att. */
static mox_err
fetch(const char *att, char **out, size_t *out_len, uint64_t *origin)
{
	mox_imap_parser *p = NULL;
	assert_int_equal(mox_imap_parser_new(&p, NULL), MOX_OK);
	char line[512];
	snprintf(line, sizeof(line), "t FETCH 1 %s\r\n", att);
	assert_int_equal(mox_imap_parser_feed(p, line, strlen(line)), MOX_OK);
	mox_imap_event ev;
	assert_int_equal(mox_imap_parser_next(p, &ev), MOX_OK);
	if (ev.type != MOX_IMAP_EV_COMMAND)
		fail_msg("%s: %s", att, ev.reject.text);
	assert_int_equal(ev.cmd->natts, 1);
	mox_imap_section_data d;
	mox_err err = mox_imap_section_resolve(msg, &ev.cmd->atts[0], &d);
	if (err == MOX_OK) {
		*out = malloc(d.size + 1);
		assert_non_null(*out);
		mox_imap_section_copy(&d, (const uint8_t *)data, 0, (uint8_t *)*out, (size_t)d.size);
		(*out)[d.size] = '\0';
		*out_len = (size_t)d.size;
		*origin = d.origin;
		/* Copying in pieces gives the same bytes. */
		for (uint64_t o = 0; o < d.size; o++) {
			uint8_t c;
			mox_imap_section_copy(&d, (const uint8_t *)data, o, &c, 1);
			assert_int_equal(c, (uint8_t)(*out)[o]);
		}
		mox_imap_section_data_free(&d);
	}
	mox_imap_parser_free(p);
	return err;
}

static void
expect(const char *att, const char *want)
{
	char *got = NULL;
	size_t n = 0;
	uint64_t origin;
	mox_err err = fetch(att, &got, &n, &origin);
	if (err != MOX_OK)
		fail_msg("%s: %s", att, mox_strerror(err));
	if (n != strlen(want) || memcmp(got, want, n) != 0)
		fail_msg("%s: got [%s] want [%s]", att, got, want);
	free(got);
}

static void
expect_err(const char *att, mox_err want)
{
	char *got = NULL;
	size_t n = 0;
	uint64_t origin;
	assert_int_equal(fetch(att, &got, &n, &origin), want);
	free(got);
}

static void
load(const char *text)
{
	mox_msg_free(msg);
	free(data);
	if (text == NULL) {
		data = mox_test_read_file(MOX_TESTDATA_DIR "/messages/mimekit/messages/rfc2060.txt", &len);
		assert_non_null(data);
	} else {
		data = strdup(text);
		len = strlen(text);
	}
	msg = NULL;
	assert_int_equal(mox_msg_parse(data, len, NULL, &msg, NULL), MOX_OK);
}

static void
test_rfc2060(void **state)
{
	(void)state;
	load(NULL);
	expect("BODY[1]", "This part specifier should be: 1\n");
	expect("BODY[2]", "This part specifier should be: 2\n");
	expect("BODY[3.1]", "This part specifier should be: 3.1\n");
	expect("BODY[3.2]", "This part specifier should be: 3.2\n");
	expect("BODY[4.1]", "This part specifier should be: 4.1\n");
	expect("BODY[4.2.1]", "This part specifier should be: 4.2.1\n");
	expect("BODY[4.2.2.1]", "This part specifier should be: 4.2.2.1\n");
	expect("BODY[4.2.2.2]", "This part specifier should be: 4.2.2.2\n");
	expect("BODY[3.HEADER]",
	       "From: me@myself.com\nTo: me@myself.com\n"
	       "Subject: This part specifier should be: 3\nMIME-Version: 1.0\n"
	       "Content-Type: MULTIPART/MIXED; boundary=\"3.x\"\n\n");
	expect("BODY[4.2.HEADER.FIELDS (subject)]",
	       "Subject: This part specifier should be: 4.2\n\r\n");
	expect("BODY[3.MIME]", "Content-Type: MESSAGE/RFC822\n\n");
	expect("BODY[4.2.2.1.MIME]", "Content-Type: TEXT/PLAIN\n\n");
	expect("BODY[HEADER.FIELDS (To FROM X-None)]",
	       "From: me@myself.com\nTo: me@myself.com\n\r\n");
	expect("BODY[HEADER.FIELDS.NOT (To FROM Subject MIME-Version)]",
	       "Content-Type: MULTIPART/MIXED; boundary=\"x\"\n\r\n");
	expect("BODY[HEADER]<6.13>", "me@myself.com");
	expect("BODY[1]<0.4>", "This");
	expect("BODY[1]<31.100>", "1\n");
	expect("BODY[1]<33.1>", "");
	expect("BODY[1]<1000.1>", "");
	expect("BODY[4.2.TEXT]<0.8>", "--4.2.x\n");
	char *all = NULL;
	size_t n = 0;
	uint64_t origin;
	assert_int_equal(fetch("BODY[]", &all, &n, &origin), MOX_OK);
	assert_int_equal(n, len);
	assert_memory_equal(all, data, len);
	free(all);
	assert_int_equal(fetch("BODY[]<7.3>", &all, &n, &origin), MOX_OK);
	assert_int_equal(origin, 7);
	free(all);
	expect_err("BODY[5]", MOX_ENOTFOUND);
	expect_err("BODY[1.1]", MOX_ENOTFOUND);
	expect_err("BODY[4.3]", MOX_ENOTFOUND);
	expect_err("BODY[1.HEADER]", MOX_EINVAL);
	expect_err("BINARY[1]", MOX_EUNSUPPORTED);
}

static void
test_crlf(void **state)
{
	(void)state;
	load("From: a@example.org\r\nSubject: one\r\n two\r\nsubject: again\r\n\r\nbody\r\nline\r\n");
	expect("BODY[HEADER.FIELDS (SUBJECT)]", "Subject: one\r\n two\r\nsubject: again\r\n\r\n");
	expect("BODY[HEADER.FIELDS (none)]", "\r\n");
	expect("RFC822.HEADER", "From: a@example.org\r\nSubject: one\r\n two\r\nsubject: again\r\n\r\n");
	expect("RFC822.TEXT", "body\r\nline\r\n");
	expect("BODY[TEXT]", "body\r\nline\r\n");
	expect("BODY[1]", "body\r\nline\r\n");
	expect("BODY[1.MIME]", "From: a@example.org\r\nSubject: one\r\n two\r\nsubject: again\r\n\r\n");
	expect_err("BODY[2]", MOX_ENOTFOUND);
	/* A message that is all header: the blank line is still there. */
	load("Subject: x");
	expect("BODY[HEADER.FIELDS (subject)]", "Subject: x\r\n\r\n");
	mox_msg_free(msg);
	msg = NULL;
	free(data);
	data = NULL;
}

static void
test_att_name(void **state)
{
	(void)state;
	mox_imap_parser *p = NULL;
	assert_int_equal(mox_imap_parser_new(&p, NULL), MOX_OK);
	const char *line = "t FETCH 1 (BODY.PEEK[1.2.MIME]<5.10> BINARY.PEEK[3] BODY[HEADER.FIELDS (a b)])\r\n";
	assert_int_equal(mox_imap_parser_feed(p, line, strlen(line)), MOX_OK);
	mox_imap_event ev;
	assert_int_equal(mox_imap_parser_next(p, &ev), MOX_OK);
	assert_int_equal(ev.type, MOX_IMAP_EV_COMMAND);
	mox_buf b = MOX_BUF_INIT;
	for (size_t i = 0; i < ev.cmd->natts; i++) {
		assert_int_equal(mox_imap_fetch_att_name(&ev.cmd->atts[i], &b), MOX_OK);
		assert_int_equal(mox_buf_append_byte(&b, '|'), MOX_OK);
	}
	assert_string_equal((const char *)b.data, "BODY[1.2.MIME]<5>|BINARY[3]|BODY[HEADER.FIELDS (a b)]|");
	mox_buf_free(&b);
	mox_imap_parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2060),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_att_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
