/* MTA-STS TXT records, RFC 8461 section 3.1: the RFC's example, mox's
 * good and bad cases, error offsets, writing back, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/mtasts.h>
#include "mox_testalloc.h"

static mox_mtasts_record *
good(const char *txt)
{
	mox_mtasts_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_OK)
		fail_msg("'%s': %s: %s", txt, mox_err_name(err), info.msg);
	return r;
}

static void
bad(const char *txt, const char *want_msg, size_t want_off)
{
	mox_mtasts_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_ESYNTAX)
		fail_msg("'%s': got %s, want MOX_ESYNTAX", txt, mox_err_name(err));
	assert_null(r);
	if (want_msg != NULL && strstr(info.msg, want_msg) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", txt, info.msg, want_msg);
	if (want_off != SIZE_MAX && info.offset != want_off)
		fail_msg("'%s': offset %zu, want %zu (%s)", txt, info.offset, want_off,
		         info.msg);
}

static void
test_good(void **state)
{
	(void)state;
	/* RFC 8461 section 3.1 example. */
	mox_mtasts_record *r = good("v=STSv1; id=20160831085700Z;");
	assert_string_equal(r->id, "20160831085700Z");
	assert_int_equal(r->nextensions, 0);
	mox_mtasts_record_free(r);

	r = good("v=STSv1; \t id=20160831085700Z  \t;");
	assert_string_equal(r->id, "20160831085700Z");
	mox_mtasts_record_free(r);

	r = good("v=STSv1; id=a");
	assert_string_equal(r->id, "a");
	mox_mtasts_record_free(r);

	r = good("v=STSv1; id=a; more=a; ext=2");
	assert_int_equal(r->nextensions, 2);
	assert_string_equal(r->extensions[0].key, "more");
	assert_string_equal(r->extensions[0].value, "a");
	assert_string_equal(r->extensions[1].key, "ext");
	assert_string_equal(r->extensions[1].value, "2");
	mox_mtasts_record_free(r);

	/* 32 characters is the longest id. */
	r = good("v=STSv1; id=01234567890123456789012345678901");
	assert_int_equal(strlen(r->id), 32);
	mox_mtasts_record_free(r);

	/* The first id counts. */
	r = good("v=STSv1; id=first; id=second");
	assert_string_equal(r->id, "first");
	mox_mtasts_record_free(r);

	/* Extension names: 32 characters at most, '_', '-', '.' after the
	 * first. */
	r = good("v=STSv1; id=1; a1234567890123456789012345678901=x; a_b-c.d=!\"#:<>~");
	assert_string_equal(r->extensions[1].value, "!\"#:<>~");
	mox_mtasts_record_free(r);
}

static void
test_bad(void **state)
{
	(void)state;
	bad("v=STSv0", "start with v=STSv1", 0);
	bad("v=STSv10", "expected ';'", 7);
	bad("v=STSv2", "start with v=STSv1", 0);
	bad("V=STSv1; id=1", "start with v=STSv1", 0);
	bad("v=STSv1", "expected ';'", 7);
	bad("v=STSv1;", "expected field name", 8);
	bad("v=STSv1; ext=1", "missing id", 14);
	bad("v=STSv1; id=", "id must be 1-32", 12);
	bad("v=STSv1; id=012345678901234567890123456789012", "longer than 32", 12);
	bad("v=STSv1; id=test-123", "unexpected '-'", 16);
	bad("v=STSv1; id=a; more=", "empty value", 20);
	bad("v=STSv1; id=a; a12345678901234567890123456789012=1", "longer than 32", 15);
	bad("v=STSv1; id=a; 1%=a", "expected '='", 16);
	bad("v=STSv1; id=a; test==", "empty value", 20);
	bad("v=STSv1; id=a;;", "expected field name", 14);
	bad("v=STSv1; id=a ", "unexpected 0x20", 13);
	bad("v=STSv1; id=a; _x=1", "expected field name", 15);
	bad("v=STSv1; id=a; x", "expected '='", 16);
	bad("", "start with v=STSv1", 0);

	/* Longer than MOX_MTASTS_RECORD_MAX. */
	char big[MOX_MTASTS_RECORD_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "v=STSv1; id=1; x=", 17);
	big[sizeof(big) - 1] = '\0';
	mox_mtasts_record *r = NULL;
	assert_int_equal(mox_mtasts_record_parse(big, strlen(big), NULL, &r, NULL),
	                 MOX_ELIMIT);
	big[MOX_MTASTS_RECORD_MAX] = '\0';
	assert_int_equal(mox_mtasts_record_parse(big, strlen(big), NULL, &r, NULL),
	                 MOX_OK);
	mox_mtasts_record_free(r);

	assert_int_equal(mox_mtasts_record_parse(NULL, 0, NULL, &r, NULL), MOX_EINVAL);
	assert_int_equal(mox_mtasts_record_parse("v", 1, NULL, NULL, NULL), MOX_EINVAL);
}

static void
test_is_record(void **state)
{
	(void)state;
	assert_true(mox_mtasts_is_record("v=STSv1;", 8));
	assert_true(mox_mtasts_is_record("v=STSv1 ;id=1", 13));
	assert_true(mox_mtasts_is_record("v=STSv1; bogus", 14));
	assert_false(mox_mtasts_is_record("v=STSv1", 7));
	assert_false(mox_mtasts_is_record("v=STSv10;", 9));
	assert_false(mox_mtasts_is_record("bogus", 5));
	assert_false(mox_mtasts_is_record("v=spf1 -all", 11));
	assert_false(mox_mtasts_is_record(NULL, 0));
}

static void
test_format(void **state)
{
	(void)state;
	mox_mtasts_record *r = good("v=STSv1;id=a ; more=a;ext=2;");
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_mtasts_record_format(r, &b), MOX_OK);
	assert_string_equal((char *)b.data, "v=STSv1; id=a; more=a; ext=2");
	/* Parse, format, parse: the same. */
	mox_mtasts_record *r2 = good((char *)b.data);
	assert_string_equal(r2->id, r->id);
	assert_int_equal(r2->nextensions, r->nextensions);
	mox_mtasts_record_free(r2);
	mox_mtasts_record_free(r);
	mox_buf_free(&b);
}

static void
test_oom(void **state)
{
	(void)state;
	const char *txt = "v=STSv1; id=abc; one=1; two=2; three=3";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_mtasts_record *r = NULL;
		mox_err err =
		    mox_mtasts_record_parse(txt, strlen(txt), &ta.a, &r, NULL);
		if (err == MOX_OK) {
			mox_buf b;
			mox_buf_init(&b, &ta.a);
			mox_err ferr = mox_mtasts_record_format(r, &b);
			mox_buf_free(&b);
			mox_mtasts_record_free(r);
			assert_int_equal(ta.live, 0);
			if (ferr == MOX_OK)
				break;
			assert_int_equal(ferr, MOX_ENOMEM);
			continue;
		}
		assert_int_equal(err, MOX_ENOMEM);
		assert_null(r);
		assert_int_equal(ta.live, 0);
		assert_true(n < 1000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),      cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_is_record), cmocka_unit_test(test_format),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
