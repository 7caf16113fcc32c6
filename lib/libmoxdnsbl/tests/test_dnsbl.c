/* DNSBL checks through the in-memory zone: listings, TXT explanations,
 * IPv6 nibbles, answers outside 127/8, failures, health, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dnsbl.h>
#include "dnsbl_cases.h"

static mox_resolver *
zone(void)
{
	mox_resolver *z = NULL;
	assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
	mox_errinfo info = {0};
	if (mox_dns_zone_load(z, dnsbl_zone, strlen(dnsbl_zone), &info) != MOX_OK ||
	    mox_dns_zone_load(z, dnsbl_zone_all, strlen(dnsbl_zone_all), &info) != MOX_OK)
		fail_msg("zone: %s", info.msg);
	const char *broken = "x.broken.test. SERVFAIL\n2.0.0.127.broken.test. SERVFAIL\n";
	assert_int_equal(mox_dns_zone_load(z, broken, strlen(broken), NULL), MOX_OK);
	return z;
}

static void
test_lookup(void **state)
{
	(void)state;
	mox_resolver *z = zone();
	for (size_t i = 0; i < sizeof(dnsbl_cases) / sizeof(dnsbl_cases[0]); i++) {
		mox_dnsbl_result r;
		assert_int_equal(mox_dnsbl_lookup(z, "bl.test", dnsbl_cases[i].ip, &r), MOX_OK);
		if (r.status != dnsbl_cases[i].status ||
		    strcmp(r.explanation, dnsbl_cases[i].explanation) != 0 ||
		    r.code[3] != dnsbl_cases[i].code)
			fail_msg("%s: %s '%s' %u", dnsbl_cases[i].ip, mox_dnsbl_status_name(r.status),
				 r.explanation, r.code[3]);
	}
	/* A trailing dot on the zone is fine. */
	mox_dnsbl_result r;
	assert_int_equal(mox_dnsbl_lookup(z, "bl.test.", "192.0.2.2", &r), MOX_OK);
	assert_int_equal(r.status, MOX_DNSBL_FAIL);
	/* SERVFAIL is a temporary error, with what happened. */
	assert_int_equal(mox_dnsbl_lookup(z, "broken.test", "127.0.0.2", &r), MOX_OK);
	assert_int_equal(r.status, MOX_DNSBL_TEMPERROR);
	assert_non_null(strstr(r.explanation, "2.0.0.127.broken.test"));
	/* Bad input. */
	assert_int_equal(mox_dnsbl_lookup(z, "bl.test", "300.1.1.1", &r), MOX_EINVAL);
	assert_int_equal(mox_dnsbl_lookup(z, "bl..test", "1.2.3.4", &r), MOX_EINVAL);
	assert_int_equal(mox_dnsbl_lookup(z, "", "1.2.3.4", &r), MOX_EINVAL);
	assert_int_equal(mox_dnsbl_lookup(NULL, "bl.test", "1.2.3.4", &r), MOX_EINVAL);
	char longzone[300];
	memset(longzone, 'a', sizeof(longzone) - 1);
	longzone[sizeof(longzone) - 1] = '\0';
	for (size_t i = 60; i < sizeof(longzone) - 1; i += 61)
		longzone[i] = '.';
	assert_int_equal(mox_dnsbl_lookup(z, longzone, "1.2.3.4", &r), MOX_EINVAL);
	mox_resolver_free(z);
}

static void
test_health(void **state)
{
	(void)state;
	mox_resolver *z = zone();
	mox_errinfo info = {0};
	assert_int_equal(mox_dnsbl_check_health(z, "bl.test", &info), MOX_OK);
	assert_int_equal(mox_dnsbl_check_health(z, "all.test", &info), MOX_ENOTFOUND);
	assert_non_null(strstr(info.msg, "127.0.0.1 is listed"));
	assert_int_equal(mox_dnsbl_check_health(z, "empty.test", &info), MOX_ENOTFOUND);
	assert_non_null(strstr(info.msg, "127.0.0.2 is not listed"));
	assert_int_equal(mox_dnsbl_check_health(z, "broken.test", &info), MOX_EDNS);
	assert_string_equal(mox_dnsbl_status_name(MOX_DNSBL_TEMPERROR), "temperror");
	assert_int_equal(mox_dnsbl_version(), MOX_DNSBL_VERSION_HEX);
	mox_resolver_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
