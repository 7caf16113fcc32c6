/* Dates, RFC 5322 section 3.3 and 4.3: stalwart's vectors, the RFC's
 * examples, ranges and limits, writing and the round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <mox/message.h>
#include "vectors.h"

/* The field value: up to the first line break that is not a fold. */
static mox_err
parse(const char *s, mox_msg_date *d)
{
	return mox_msg_date_parse((const uint8_t *)s, strlen(s), d, NULL);
}

/* Our date in stalwart's model. */
static cJSON *
to_model(const mox_msg_date *d)
{
	cJSON *o = cJSON_CreateObject();
	int tz = d->tz_offset < 0 ? -d->tz_offset : d->tz_offset;
	cJSON_AddNumberToObject(o, "year", d->year);
	cJSON_AddNumberToObject(o, "month", d->month);
	cJSON_AddNumberToObject(o, "day", d->day);
	cJSON_AddNumberToObject(o, "hour", d->hour);
	cJSON_AddNumberToObject(o, "minute", d->minute);
	cJSON_AddNumberToObject(o, "second", d->second);
	cJSON_AddBoolToObject(o, "tz_before_gmt", d->tz_offset < 0);
	cJSON_AddNumberToObject(o, "tz_hour", tz / 60);
	cJSON_AddNumberToObject(o, "tz_minute", tz % 60);
	return o;
}

/* Where we differ from stalwart, by vector index ("null": we give an
 * error). */
static const struct {
	int index;
	const char *why;
	const char *ours;
} differences[] = {
	{12, "numbers without month name, colons or zone are not a date; "
	     "stalwart makes one of them",
	 "null"},
	{28, "this is a whole Received value: the date is what follows the last "
	     "';' (RFC 5322 section 3.6.7), which the caller cuts off; that part "
	     "alone gives stalwart's values (checked below)",
	 "null"},
};

static void
test_vectors(void **state)
{
	(void)state;
	char *text = read_file(MOX_TESTDATA_DIR
			       "/messages/stalwart-mail-parser/header-vectors/date.json");
	assert_non_null(text);
	cJSON *root = cJSON_Parse(text);
	assert_non_null(root);
	int total = cJSON_GetArraySize(root), passed = 0, documented = 0, failed = 0;
	for (int i = 0; i < total; i++) {
		cJSON *c = cJSON_GetArrayItem(root, i);
		const char *hdr = cJSON_GetObjectItem(c, "header")->valuestring;
		cJSON *want = cJSON_GetObjectItem(c, "expected");
		const char *why = NULL;
		cJSON *ours = NULL;
		for (size_t k = 0; k < sizeof(differences) / sizeof(differences[0]); k++) {
			if (differences[k].index == i) {
				why = differences[k].why;
				ours = cJSON_Parse(differences[k].ours);
			}
		}
		mox_msg_date d;
		mox_errinfo info = {0};
		mox_err err = mox_msg_date_parse((const uint8_t *)hdr, field_len(hdr), &d, &info);
		cJSON *got = err == MOX_OK ? to_model(&d) : cJSON_CreateNull();
		if (err != MOX_OK)
			assert_true(err == MOX_ESYNTAX || err == MOX_ERANGE);
		if (!cJSON_Compare(got, ours != NULL ? ours : want, true)) {
			char *g = cJSON_PrintUnformatted(got);
			char *w = cJSON_PrintUnformatted(ours != NULL ? ours : want);
			printf("date vector %d: \"%s\" (%s)\n  got  %s\n  want %s\n", i, hdr,
			       info.msg, g, w);
			free(g);
			free(w);
			failed++;
		} else if (why != NULL) {
			printf("date vector %d: documented difference: %s\n", i, why);
			documented++;
			if (i == 28) {
				const char *semi = strrchr(hdr, ';');
				assert_int_equal(parse(semi + 1, &d), MOX_OK);
				cJSON *m = to_model(&d);
				assert_true(cJSON_Compare(m, want, true));
				cJSON_Delete(m);
			}
		} else {
			passed++;
		}
		cJSON_Delete(got);
		cJSON_Delete(ours);
	}
	printf("date.json: %d of %d passed (%d as expected, %d documented differences), %d "
	       "failed\n",
	       passed + documented, total, passed, documented, failed);
	cJSON_Delete(root);
	free(text);
	assert_int_equal(failed, 0);
	assert_int_equal(total, 40);
}

static void
test_examples(void **state)
{
	(void)state;
	mox_msg_date d;
	/* RFC 5322 appendix A.1.1. */
	assert_int_equal(parse("Fri, 21 Nov 1997 09:55:06 -0600", &d), MOX_OK);
	assert_int_equal(d.year, 1997);
	assert_int_equal(d.tz_offset, -360);
	assert_int_equal(d.t, 880127706);
	/* The epoch, in two zones. */
	assert_int_equal(parse("Thu, 1 Jan 1970 00:00:00 +0000", &d), MOX_OK);
	assert_int_equal(d.t, 0);
	assert_int_equal(parse("Wed, 31 Dec 1969 19:00:00 EST", &d), MOX_OK);
	assert_int_equal(d.t, 0);
	assert_int_equal(d.tz_offset, -300);
	/* Obsolete years (section 4.3). */
	assert_int_equal(parse("1 Jan 49 00:00 GMT", &d), MOX_OK);
	assert_int_equal(d.year, 2049);
	assert_int_equal(parse("1 Jan 50 00:00 UT", &d), MOX_OK);
	assert_int_equal(d.year, 1950);
	assert_int_equal(parse("1 Jan 103 00:00 +0000", &d), MOX_OK);
	assert_int_equal(d.year, 2003);
	/* Leap year, leap second, full names, zone name after the zone. */
	assert_int_equal(parse("Sunday, 29 February 2004 23:59:60 +0100 (CET)", &d), MOX_OK);
	assert_int_equal(d.second, 60);
	assert_int_equal(parse("Tue, 1 Jul 2003 10:52:37 +0200 CEST", &d), MOX_OK);
	/* Military and unknown zones: -0000; a missing zone too. */
	assert_int_equal(parse("Tue, 1 Jul 2003 10:52:37 Z", &d), MOX_OK);
	assert_int_equal(d.tz_offset, 0);
	assert_int_equal(parse("Tue, 1 Jul 2003 10:52:37", &d), MOX_OK);
	assert_int_equal(d.tz_offset, 0);
	assert_int_equal(parse("Tue, 1 Jul 2003 10:52:37 PDT", &d), MOX_OK);
	assert_int_equal(d.tz_offset, -420);
}

static void
test_errors(void **state)
{
	(void)state;
	mox_msg_date d;
	static const char *syntax[] = {
		"", "Tue,", "Xyz, 1 Jul 2003 10:52:37 +0200", "1 Jul 2003 10:52:37 +02",
		"123 Jul 2003 10:52:37 +0200", "1 Jul 2003 10 52 37 +0200",
		"1 Jul 2003 10:5:37 +0200", "1 Jul 2003 10:52:37 +0200 junk junk",
		"1 Jul 2003 10:52:37 +0200 (unterminated", "1 Jul 3 10:52:37 +0200",
		"1 Jul 2003 10:52:37 +0200 +0100",
	};
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		mox_errinfo info = {0};
		if (mox_msg_date_parse((const uint8_t *)syntax[i], strlen(syntax[i]), &d, &info) !=
		    MOX_ESYNTAX)
			fail_msg("\"%s\" parsed", syntax[i]);
		assert_true(info.msg[0] != '\0');
	}
	static const char *range[] = {
		"31 Feb 2003 10:52:37 +0200", "29 Feb 2003 10:52:37 +0200",
		"1 Jul 2003 24:00:00 +0200",  "1 Jul 2003 10:60:00 +0200",
		"1 Jul 2003 10:52:61 +0200",  "1 Jul 2003 10:52:37 +2400",
		"1 Jul 2003 10:52:37 +0060",  "1 13 2003 10:52:37 +0000",
		"0 Jul 2003 10:52:37 +0200",  "1 Jul 10000 10:52:37 +0200",
	};
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		if (parse(range[i], &d) != MOX_ERANGE)
			fail_msg("\"%s\" not ERANGE", range[i]);
	/* Comment nesting: the limit and one past it. */
	char buf[256];
	for (int depth = MOX_MSG_COMMENT_DEPTH_MAX; depth <= MOX_MSG_COMMENT_DEPTH_MAX + 1;
	     depth++) {
		size_t n = 0;
		n += (size_t)snprintf(buf, sizeof(buf), "1 Jul 2003 10:52:37 +0200 ");
		for (int i = 0; i < depth; i++)
			buf[n++] = '(';
		for (int i = 0; i < depth; i++)
			buf[n++] = ')';
		buf[n] = '\0';
		assert_int_equal(parse(buf, &d),
				 depth > MOX_MSG_COMMENT_DEPTH_MAX ? MOX_ESYNTAX : MOX_OK);
	}
	/* NUL, 8-bit, 1 MB. */
	assert_int_equal(mox_msg_date_parse((const uint8_t *)"1 Jul\0 2003 10:52 Z", 19, &d, NULL),
			 MOX_ESYNTAX);
	size_t big = 1 << 20;
	uint8_t *p = malloc(big);
	assert_non_null(p);
	memset(p, '(', big);
	assert_int_equal(mox_msg_date_parse(p, big, &d, NULL), MOX_ESYNTAX);
	memset(p, '9', big);
	assert_int_equal(mox_msg_date_parse(p, big, &d, NULL), MOX_ESYNTAX);
	free(p);
	assert_int_equal(mox_msg_date_parse(NULL, 0, NULL, NULL), MOX_EINVAL);
}

static void
test_write(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_write_date(&b, 1136239445, -420), MOX_OK);
	assert_string_equal((char *)b.data, "Mon, 2 Jan 2006 15:04:05 -0700");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_date(&b, 0, 0), MOX_OK);
	assert_string_equal((char *)b.data, "Thu, 1 Jan 1970 00:00:00 +0000");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_date(&b, -1, 330), MOX_OK);
	assert_string_equal((char *)b.data, "Thu, 1 Jan 1970 05:29:59 +0530");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_date(&b, 951782400, 0), MOX_OK);
	assert_string_equal((char *)b.data, "Tue, 29 Feb 2000 00:00:00 +0000");
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_write_date(&b, 0, 1440), MOX_EINVAL);
	assert_int_equal(mox_msg_write_date(&b, 0, -1440), MOX_EINVAL);
	assert_int_equal(mox_msg_write_date(&b, -2208988801LL, 0), MOX_ERANGE); /* 1899 */
	assert_int_equal(mox_msg_write_date(&b, 253402300800LL, 0), MOX_ERANGE); /* 10000 */
	assert_int_equal(b.len, 0);
	/* Round trip over a spread of instants and zones, to the second. */
	for (long long t = -2208988800LL; t < 253402300799LL; t += 86400LL * 97 + 3671) {
		for (int tz = -1439; tz <= 1439; tz += 479) {
			mox_buf_reset(&b);
			if (mox_msg_write_date(&b, (time_t)t, tz) != MOX_OK)
				continue; /* local date outside 1900..9999 */
			mox_msg_date d;
			assert_int_equal(mox_msg_date_parse(b.data, b.len, &d, NULL), MOX_OK);
			assert_int_equal(d.t, t);
			assert_int_equal(d.tz_offset, tz);
		}
	}
	mox_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
