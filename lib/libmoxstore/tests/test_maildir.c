/* Maildir file-name flags and Dovecot's dovecot-keywords file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

static void
test_flags(void **state)
{
	(void)state;
	const char *kws[26] = {"$junk", "Work", NULL, "$forwarded", "bad keyword"};
	mox_buf kw = MOX_BUF_INIT;
	unsigned f;
	assert_int_equal(mox_store_maildir_flags("1642966915.1.mox", kws, 26, &f, &kw),
	                 MOX_OK);
	assert_int_equal(f, 0);
	assert_int_equal(
	    mox_store_maildir_flags("cur/1.2.host:2,DFPRST", kws, 26, &f, &kw), MOX_OK);
	assert_int_equal(f, MOX_STORE_DRAFT | MOX_STORE_FLAGGED | MOX_STORE_ANSWERED |
	                        MOX_STORE_SEEN | MOX_STORE_DELETED);
	assert_int_equal(kw.len, 0);
	/* Letters: a=$junk (a flag), b=work, c=unset, d=$forwarded, e=invalid,
	 * z=beyond the list; duplicates once. */
	assert_int_equal(
	    mox_store_maildir_flags("1.2.host:2,Sbacdezb", kws, 26, &f, &kw), MOX_OK);
	assert_int_equal(f, MOX_STORE_SEEN | MOX_STORE_JUNK | MOX_STORE_FORWARDED);
	assert_string_equal((char *)kw.data, "work");
	mox_buf_free(&kw);
	assert_int_equal(mox_store_maildir_flags("x:2,ab", NULL, 0, &f, NULL), MOX_OK);
	assert_int_equal(f, 0);
	assert_int_equal(mox_store_maildir_flags(NULL, NULL, 0, &f, NULL), MOX_EINVAL);
}

static void
test_dovecot_keywords(void **state)
{
	(void)state;
	const char *text = "0 $Junk\n"
	                   "1 $Forwarded\r\n"
	                   "2 $NotJunk\n"
	                   "\n"
	                   "25 Last\n"
	                   "26 beyond\n"
	                   "1 duplicate\n"
	                   "x nonumber\n"
	                   "3\n"
	                   "4 has space\n"
	                   "5 (paren\n";
	char *kw[26];
	size_t bad;
	assert_int_equal(mox_store_dovecot_keywords_parse((const uint8_t *)text,
	                                                  strlen(text), NULL, kw, &bad),
	                 MOX_OK);
	assert_string_equal(kw[0], "$junk");
	assert_string_equal(kw[1], "$forwarded");
	assert_string_equal(kw[2], "$notjunk");
	assert_string_equal(kw[25], "last");
	assert_null(kw[3]);
	assert_null(kw[4]);
	assert_null(kw[5]);
	assert_int_equal(bad, 6);
	mox_store_keywords_free(NULL, kw);
	assert_null(kw[0]);

	/* The mox fixture. */
	char p[4096];
	st_path(p, sizeof(p), "%s/messages/mox/import/maildir/dovecot-keywords",
	        MOX_TESTDATA_DIR);
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	uint8_t buf[256];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(mox_store_dovecot_keywords_parse(buf, n, NULL, kw, &bad),
	                 MOX_OK);
	assert_int_equal(bad, 0);
	assert_string_equal(kw[2], "$notjunk");
	mox_store_keywords_free(NULL, kw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_dovecot_keywords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
