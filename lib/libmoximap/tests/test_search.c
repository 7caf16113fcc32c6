/* Search evaluation over a message given through mox_imap_search_msg. */
#include <mox/imap.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *flags[] = {"\\Seen", "$Junk"};

static bool
has_flag(void *arg, const char *f)
{
	(void)arg;
	for (size_t i = 0; i < 2; i++)
		if (strcmp(flags[i], f) == 0)
			return true;
	return false;
}

static bool
text_contains(void *arg, const char *t, size_t n, bool body_only)
{
	(void)arg;
	const char *body = "the quick brown fox";
	if (!body_only && n == 6 && memcmp(t, "Header", 6) == 0)
		return true;
	return n <= strlen(body) && strstr(body, t) != NULL;
}

static mox_msg *msg;
static mox_imap_search_msg sm;

static bool
match(const char *keys)
{
	mox_imap_parser *p = NULL;
	assert_int_equal(mox_imap_parser_new(&p, NULL), MOX_OK);
	char line[512];
	snprintf(line, sizeof(line), "t SEARCH %s\r\n", keys);
	assert_int_equal(mox_imap_parser_feed(p, line, strlen(line)), MOX_OK);
	mox_imap_event ev;
	assert_int_equal(mox_imap_parser_next(p, &ev), MOX_OK);
	if (ev.type != MOX_IMAP_EV_COMMAND)
		fail_msg("%s: %s", keys, ev.reject.text);
	bool r = mox_imap_search_match(ev.cmd->search, &sm);
	mox_imap_parser_free(p);
	return r;
}

static void
test_eval(void **state)
{
	(void)state;
	static const char m[] =
		"Date: Mon, 7 Feb 1994 23:52:25 -0800\r\n"
		"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n"
		"To: a@example.org, B <b@example.org>\r\n"
		"Subject: Afternoon Meeting\r\n"
		"X-Spam: yes\r\n\r\nthe quick brown fox\r\n";
	assert_int_equal(mox_msg_parse(m, sizeof(m) - 1, NULL, &msg, NULL), MOX_OK);
	memset(&sm, 0, sizeof(sm));
	sm.seq = 3;
	sm.uid = 30;
	sm.max_seq = 10;
	sm.max_uid = 100;
	sm.size = 2000;
	sm.internal_date = 760686745; /* 1994-02-08 05:52:25 UTC */
	sm.internal_tz = 0;
	sm.modseq = 50;
	sm.now = 760686745 + 7200;
	sm.has_flag = has_flag;
	sm.text_contains = text_contains;
	sm.header = msg->root->header;

	assert_true(match("ALL"));
	assert_true(match("SEEN"));
	assert_false(match("UNSEEN"));
	assert_true(match("KEYWORD $Junk"));
	assert_false(match("KEYWORD $Other"));
	assert_true(match("UNKEYWORD $Other"));
	assert_false(match("FLAGGED"));
	assert_true(match("UNFLAGGED UNDELETED UNANSWERED UNDRAFT"));
	assert_true(match("OLD"));
	assert_false(match("NEW"));
	assert_true(match("LARGER 1999"));
	assert_false(match("LARGER 2000"));
	assert_true(match("SMALLER 2001"));
	assert_true(match("1:5"));
	assert_false(match("4:*"));
	assert_true(match("*:2"));
	assert_true(match("UID 30"));
	assert_false(match("UID 50:*"));
	assert_true(match("UID 1:*"));
	assert_false(match("UID 31:*"));
	assert_true(match("ON 8-Feb-1994"));
	assert_true(match("SINCE 8-Feb-1994"));
	assert_false(match("BEFORE 8-Feb-1994"));
	assert_true(match("BEFORE 9-Feb-1994"));
	/* Sent dates use the Date field's own day: 7 February. */
	assert_true(match("SENTON 7-Feb-1994"));
	assert_true(match("SENTBEFORE 8-Feb-1994"));
	assert_false(match("SENTSINCE 8-Feb-1994"));
	assert_true(match("FROM \"j\xc3\xb6rg\""));
	assert_true(match("FROM JORG@EXAMPLE"));
	assert_true(match("TO b@example"));
	assert_false(match("CC a"));
	assert_true(match("SUBJECT \"afternoon meeting\""));
	assert_true(match("HEADER X-Spam yes"));
	assert_true(match("HEADER X-Spam \"\""));
	assert_false(match("HEADER X-Other \"\""));
	assert_true(match("BODY brown"));
	assert_false(match("BODY Header"));
	assert_true(match("TEXT Header"));
	assert_true(match("OR FLAGGED SEEN"));
	assert_false(match("NOT SEEN"));
	assert_true(match("NOT (FLAGGED SEEN)"));
	assert_false(match("(SEEN FLAGGED)"));
	assert_true(match("MODSEQ 50"));
	assert_false(match("MODSEQ 51"));
	assert_true(match("OLDER 3600 YOUNGER 7200"));
	assert_false(match("YOUNGER 60"));
	assert_false(match("$"));
	sm.saved = true; /* RFC 5182: "$" matches the saved result */
	assert_true(match("$"));
	assert_true(match("UID $"));
	assert_false(match("NOT $"));
	sm.saved = false;
	sm.recent = true;
	assert_true(match("RECENT"));
	assert_false(match("NEW")); /* seen */
	mox_msg_free(msg);
	msg = NULL;
}

/* The SEARCH string comparator: ASCII folding for ASCII strings, Unicode
 * full case folding and NFC otherwise. */
static void
test_text_contains(void **state)
{
	(void)state;
#define TC(h, n) mox_imap_text_contains((const uint8_t *)(h), strlen(h), (n), strlen(n))
	assert_true(TC("xABCx", "abc"));
	assert_true(TC("anything", ""));
	assert_false(TC("ab", "abc"));
	assert_true(TC("Grüße aus KÖLN", "köln"));
	assert_true(TC("GRÜSSE", "grüße"));          /* ß folds to ss */
	assert_false(TC("Stra\xc3\x9f" "e", "STRASSE")); /* ASCII needle: ASCII folding */
	assert_true(TC("\xce\xa3\xce\x99\xce\xa3", "\xcf\x83\xce\xb9\xcf\x82")); /* ΣΙΣ / σις */
	assert_true(TC("e\xcc\x81" "cole", "\xc3\x89" "COLE")); /* decomposed e + acute, NFC */
	assert_false(TC("ecole", "\xc3\xa9" "cole"));
	assert_false(TC("\xff\xfe invalid", "\xc3\xa9"));
	assert_true(TC("\xff \xc3\xa9", "\xc3\xa9")); /* invalid: bytes */
#undef TC
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_text_contains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
