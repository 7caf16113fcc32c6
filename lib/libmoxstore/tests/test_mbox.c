/* The mbox reader: message boundaries (RFC 4155 section 2), mboxrd
 * unquoting, CRLF, flags from Status/X-Status/X-Keywords, the received
 * time from the "From " line; the same messages whatever the split of
 * the input (every byte offset); limits and a missing "From " start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"
#include "mox_testfile.h"

struct got {
	char data[8][4096];
	size_t len[8];
	unsigned flags[8];
	char kw[8][128];
	int64_t received[8];
	size_t n;
};

static mox_err
drain(mox_store_mbox *mb, struct got *g)
{
	for (;;) {
		mox_store_mbox_msg m;
		mox_err err = mox_store_mbox_next(mb, &m);
		if (err != MOX_OK)
			return err;
		assert_true(g->n < 8);
		assert_true(m.len < sizeof(g->data[0]));
		memcpy(g->data[g->n], m.data, m.len);
		g->len[g->n] = m.len;
		g->flags[g->n] = m.flags;
		snprintf(g->kw[g->n], sizeof(g->kw[0]), "%s", m.keywords);
		g->received[g->n] = m.received;
		g->n++;
	}
}

/* Parse text fed in two pieces split at off. */
static void
parse_split(const char *text, size_t len, size_t off, struct got *g)
{
	mox_store_mbox *mb = NULL;
	memset(g, 0, sizeof(*g));
	assert_int_equal(mox_store_mbox_new(&mb, 0, NULL), MOX_OK);
	assert_int_equal(mox_store_mbox_feed(mb, text, off), MOX_OK);
	assert_int_equal(drain(mb, g), MOX_EAGAIN);
	assert_int_equal(mox_store_mbox_feed(mb, text + off, len - off), MOX_OK);
	assert_int_equal(drain(mb, g), MOX_EAGAIN);
	mox_store_mbox_end(mb);
	assert_int_equal(drain(mb, g), MOX_ENOTFOUND);
	assert_int_equal(mox_store_mbox_next(mb, &(mox_store_mbox_msg){0}),
	                 MOX_ENOTFOUND);
	mox_store_mbox_free(mb);
}

static const char sample[] = "From alice@example.org Sun Jan 23 20:41:55 2022\n"
                             "Subject: one\n"
                             "Status: RO\n"
                             "X-Status: AF\n"
                             "X-Keywords: $NotJunk, Work,$Forwarded custom\n"
                             "\n"
                             "body\n"
                             ">From the start\n"
                             ">>From quoted twice\n"
                             "From here, not a new message (no empty line before)\n"
                             "\n"
                             "From bob Mon Feb  7 01:02:03 2022\n"
                             "Subject: two\r\n"
                             "X-Status: TD\n"
                             "\r\n"
                             "crlf kept\r\n"
                             "\n"
                             "\n"
                             "From nodate\n"
                             "Subject: three\n"
                             "\n"
                             "last line without newline";

static void
test_sample(void **state)
{
	(void)state;
	struct got g;
	parse_split(sample, strlen(sample), 0, &g);
	assert_int_equal(g.n, 3);
	const char *one = "Subject: one\r\nStatus: RO\r\nX-Status: AF\r\n"
	                  "X-Keywords: $NotJunk, Work,$Forwarded custom\r\n\r\nbody\r\n"
	                  "From the start\r\n>From quoted twice\r\n"
	                  "From here, not a new message (no empty line before)\r\n";
	assert_int_equal(g.len[0], strlen(one));
	assert_memory_equal(g.data[0], one, strlen(one));
	assert_int_equal(g.flags[0], MOX_STORE_SEEN | MOX_STORE_ANSWERED |
	                                 MOX_STORE_FLAGGED | MOX_STORE_NOTJUNK |
	                                 MOX_STORE_FORWARDED);
	assert_string_equal(g.kw[0], "work custom");
	assert_int_equal(g.received[0], 1642970515);
	/* The second keeps one of its two trailing empty lines. */
	const char *two = "Subject: two\r\nX-Status: TD\r\n\r\ncrlf kept\r\n\r\n";
	assert_int_equal(g.len[1], strlen(two));
	assert_memory_equal(g.data[1], two, strlen(two));
	assert_int_equal(g.flags[1], MOX_STORE_DRAFT | MOX_STORE_DELETED);
	assert_int_equal(g.received[1], 1644195723);
	const char *three = "Subject: three\r\n\r\nlast line without newline";
	assert_int_equal(g.len[2], strlen(three));
	assert_memory_equal(g.data[2], three, strlen(three));
	assert_int_equal(g.received[2], 0);
}

static void
test_split_every_offset(void **state)
{
	(void)state;
	struct got whole, part;
	size_t len = strlen(sample);
	parse_split(sample, len, 0, &whole);
	for (size_t off = 1; off <= len; off++) {
		parse_split(sample, len, off, &part);
		assert_int_equal(part.n, whole.n);
		for (size_t i = 0; i < whole.n; i++) {
			assert_int_equal(part.len[i], whole.len[i]);
			assert_memory_equal(part.data[i], whole.data[i], whole.len[i]);
			assert_int_equal(part.flags[i], whole.flags[i]);
			assert_string_equal(part.kw[i], whole.kw[i]);
		}
	}
}

static void
test_errors(void **state)
{
	(void)state;
	mox_store_mbox *mb = NULL;
	mox_store_mbox_msg m;
	/* Not an mbox. */
	assert_int_equal(mox_store_mbox_new(&mb, 0, NULL), MOX_OK);
	assert_int_equal(mox_store_mbox_feed(mb, "Subject: x\n\nbody\n", 17), MOX_OK);
	assert_int_equal(mox_store_mbox_next(mb, &m), MOX_ESYNTAX);
	assert_int_equal(mox_store_mbox_next(mb, &m), MOX_ESYNTAX);
	assert_int_equal(mox_store_mbox_feed(mb, "x", 1), MOX_ESYNTAX);
	mox_store_mbox_free(mb);
	/* Empty: no messages. */
	assert_int_equal(mox_store_mbox_new(&mb, 0, NULL), MOX_OK);
	mox_store_mbox_end(mb);
	assert_int_equal(mox_store_mbox_next(mb, &m), MOX_ENOTFOUND);
	assert_int_equal(mox_store_mbox_feed(mb, "x", 1), MOX_ESTATE);
	mox_store_mbox_free(mb);
	/* Limit: 20 bytes per message. */
	assert_int_equal(mox_store_mbox_new(&mb, 20, NULL), MOX_OK);
	const char *t = "From x\nSubject: 0123456789012345\n\n";
	assert_int_equal(mox_store_mbox_feed(mb, t, strlen(t)), MOX_OK);
	assert_int_equal(mox_store_mbox_next(mb, &m), MOX_ELIMIT);
	mox_store_mbox_free(mb);
	/* A line longer than the limit never ending. */
	assert_int_equal(mox_store_mbox_new(&mb, 20, NULL), MOX_OK);
	char big[8192];
	memset(big, 'a', sizeof(big));
	memcpy(big, "From x\n", 7);
	assert_int_equal(mox_store_mbox_feed(mb, big, sizeof(big)), MOX_OK);
	assert_int_equal(mox_store_mbox_next(mb, &m), MOX_ELIMIT);
	mox_store_mbox_free(mb);
}

static void
test_testdata(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		size_t messages;
	} files[] = {
	    {"mox/imaptest.mbox", 48},
	    {"mox/import/importtest.mbox", 2},
	    /* Its "From " lines follow no empty line: one message to RFC
	     * 4155 section 2 and mox (MimeKit reads three). */
	    {"mimekit/mbox/simple.mbox.txt", 1},
	    /* Starts with a byte order mark; "From Russia" after an empty
	     * line starts a message, as RFC 4155 has it: 4. */
	    {"mimekit/mbox/unmunged.mbox.txt", 4},
	    {"mimekit/mbox/issue1189.mbox.txt", 4},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[4096];
		st_path(p, sizeof(p), "%s/messages/%s", MOX_TESTDATA_DIR,
		        files[i].file);
		size_t len;
		char *data = mox_test_read_file(p, &len);
		assert_non_null(data);
		mox_store_mbox *mb = NULL;
		assert_int_equal(mox_store_mbox_new(&mb, 0, NULL), MOX_OK);
		/* Fed in 7-byte pieces. */
		size_t n = 0;
		for (size_t off = 0; off <= len; off += 7) {
			size_t k = len - off < 7 ? len - off : 7;
			assert_int_equal(mox_store_mbox_feed(mb, data + off, k),
			                 MOX_OK);
			if (off + 7 > len)
				mox_store_mbox_end(mb);
			mox_store_mbox_msg m;
			mox_err err;
			while ((err = mox_store_mbox_next(mb, &m)) == MOX_OK) {
				n++;
				/* Each message: CRLF only. */
				for (size_t j = 0; j < m.len; j++)
					if (m.data[j] == '\n')
						assert_true(j > 0 &&
						            m.data[j - 1] == '\r');
			}
			assert_true(err == MOX_EAGAIN || err == MOX_ENOTFOUND);
		}
		mox_store_mbox_free(mb);
		free(data);
		if (n != files[i].messages)
			fail_msg("%s: %zu messages, want %zu", files[i].file, n,
			         files[i].messages);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_split_every_offset),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_testdata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
