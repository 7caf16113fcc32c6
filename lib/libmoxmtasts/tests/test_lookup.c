/* Record discovery (RFC 8461 section 3.1) against the in-memory zone:
 * mox's lookup cases (CNAMEs, multiple records, other TXT records, bad
 * records, DNS failures), the AD bit, and OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/mtasts.h>
#include "mox_testalloc.h"

static const char zone[] = "$ORIGIN example.\n"
                           "_mta-sts.a TXT \"v=STSv1; id=1\"\n"
                           "_mta-sts.one TXT \"v=STSv1; id=1\"\n"
                           "_mta-sts.one TXT \"bogus\"\n"
                           "_mta-sts.bad TXT \"v=STSv1; bogus\"\n"
                           "_mta-sts.multiple TXT \"v=STSv1; id=1\"\n"
                           "_mta-sts.multiple TXT \"v=STSv1; id=2\"\n"
                           "_mta-sts.c.cnames CNAME _mta-sts.c2.cnames\n"
                           "_mta-sts.c2.cnames TXT \"v=STSv1; id=1\"\n"
                           "_mta-sts.a.cnames CNAME _mta-sts.b.cnames\n"
                           "_mta-sts.b.cnames CNAME _mta-sts.c2.cnames\n"
                           "_mta-sts.temperror SERVFAIL\n"
                           "_mta-sts.followtemperror CNAME _mta-sts.temperror\n"
                           "_mta-sts.other TXT \"bogus\" \n"
                           "_mta-sts.other TXT \"more\"\n"
                           "_mta-sts.split TXT \"v=STSv1; \" \"id=20160831085700Z\"\n"
                           "_mta-sts.nul TXT \"v=STSv1; id=1\\000\"\n"
                           "nodata TXT \"x\"\n"
                           "_mta-sts.nodata A 192.0.2.1\n"
                           "$AUTHENTIC yes\n"
                           "_mta-sts.signed TXT \"v=STSv1; id=sig\"\n";

static mox_resolver *res;

static int
setup(void **state)
{
	(void)state;
	mox_errinfo info = {0};
	if (mox_dns_zone_new(&res, NULL) != MOX_OK ||
	    mox_dns_zone_load(res, zone, strlen(zone), &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(res);
	return 0;
}

static void
check(const char *domain, mox_mtasts_lookup_status want, const char *want_id)
{
	mox_mtasts_lookup_result r;
	assert_int_equal(mox_mtasts_lookup(res, domain, NULL, &r), MOX_OK);
	if (r.status != want)
		fail_msg("%s: got %s (%s), want %s", domain,
		         mox_mtasts_lookup_status_name(r.status), r.why,
		         mox_mtasts_lookup_status_name(want));
	if (want == MOX_MTASTS_LOOKUP_FOUND) {
		assert_non_null(r.record);
		assert_string_equal(r.record->id, want_id);
		assert_non_null(r.txt);
	} else {
		assert_null(r.record);
		assert_true(r.why[0] != '\0');
	}
	mox_mtasts_lookup_result_clear(&r);
}

static void
test_lookup(void **state)
{
	(void)state;
	check("absent.example", MOX_MTASTS_LOOKUP_NONE, NULL);
	check("other.example", MOX_MTASTS_LOOKUP_NONE, NULL);
	check("nodata.example", MOX_MTASTS_LOOKUP_NONE, NULL);
	check("a.example", MOX_MTASTS_LOOKUP_FOUND, "1");
	check("A.Example.", MOX_MTASTS_LOOKUP_FOUND, "1");
	check("one.example", MOX_MTASTS_LOOKUP_FOUND, "1");
	check("bad.example", MOX_MTASTS_LOOKUP_SYNTAX, NULL);
	check("nul.example", MOX_MTASTS_LOOKUP_SYNTAX, NULL);
	check("multiple.example", MOX_MTASTS_LOOKUP_MULTIPLE, NULL);
	check("a.cnames.example", MOX_MTASTS_LOOKUP_FOUND, "1");
	check("c.cnames.example", MOX_MTASTS_LOOKUP_FOUND, "1");
	check("temperror.example", MOX_MTASTS_LOOKUP_TEMPERROR, NULL);
	check("followtemperror.example", MOX_MTASTS_LOOKUP_TEMPERROR, NULL);
	check("split.example", MOX_MTASTS_LOOKUP_FOUND, "20160831085700Z");
	check("bad domain!", MOX_MTASTS_LOOKUP_NONE, NULL);
	check("", MOX_MTASTS_LOOKUP_NONE, NULL);

	mox_mtasts_lookup_result r;
	assert_int_equal(mox_mtasts_lookup(res, "signed.example", NULL, &r), MOX_OK);
	assert_int_equal(r.status, MOX_MTASTS_LOOKUP_FOUND);
	assert_true(r.authentic);
	mox_mtasts_lookup_result_clear(&r);
	assert_int_equal(mox_mtasts_lookup(res, "a.example", NULL, &r), MOX_OK);
	assert_false(r.authentic);
	assert_string_equal(r.txt, "v=STSv1; id=1");
	mox_mtasts_lookup_result_clear(&r);

	assert_int_equal(mox_mtasts_lookup(NULL, "a.example", NULL, &r), MOX_EINVAL);
	assert_int_equal(mox_mtasts_lookup(res, "a.example", NULL, NULL), MOX_EINVAL);
	assert_string_equal(mox_mtasts_lookup_status_name(MOX_MTASTS_LOOKUP_MULTIPLE),
	                    "multiple");
}

static void
test_oom(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_mtasts_lookup_result r;
		mox_err err = mox_mtasts_lookup(res, "one.example", &ta.a, &r);
		if (err == MOX_OK)
			assert_int_equal(r.status, MOX_MTASTS_LOOKUP_FOUND);
		mox_mtasts_lookup_result_clear(&r);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 1000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
