/* Host selection for delivery (server/queue_hosts.c) against a real
 * unbound on loopback serving tests/queue/queue.zone: MX order with
 * random order among equal preferences, null MX (RFC 7505), implicit MX
 * (RFC 5321 section 5.1), CNAME, NXDOMAIN, SERVFAIL, address literals,
 * and the address family order after a previous attempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"
#include "unbound_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mox_test_unbound ub;
static mox_resolver *res;

static int
setup(void **state)
{
	(void)state;
	char err[512];
	if (mox_test_unbound_start(&ub, MOX_QUEUE_TEST_DIR "/queue.zone", "mox.test.",
	                           err, sizeof(err)) != 0) {
		print_error("unbound: %s\n", err);
		return -1;
	}
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr};
	mox_errinfo info;
	if (mox_dns_ldns_new(&res, &o, &info) != MOX_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(res);
	mox_test_unbound_stop(&ub);
	return 0;
}

static void
test_mx_order(void **state)
{
	(void)state;
	char why[400];
	bool first1 = false, first2 = false;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		queue_hosts h;
		assert_int_equal(queue_hosts_gather(res, "multi.mox.test", seed * 7919,
		                                    &h, why, sizeof(why)),
		                 QUEUE_OK);
		assert_int_equal(h.n, 3);
		assert_false(h.implicit);
		assert_int_equal(h.host[0].preference, 10);
		assert_int_equal(h.host[1].preference, 10);
		assert_string_equal(h.host[2].name, "mx3.multi.mox.test");
		assert_string_equal(h.effective_domain, "multi.mox.test");
		if (strcmp(h.host[0].name, "mx1.multi.mox.test") == 0) {
			first1 = true;
			assert_string_equal(h.host[1].name, "mx2.multi.mox.test");
		} else {
			first2 = true;
			assert_string_equal(h.host[0].name, "mx2.multi.mox.test");
			assert_string_equal(h.host[1].name, "mx1.multi.mox.test");
		}
	}
	/* Equal preferences are shuffled: both orders show up. */
	assert_true(first1);
	assert_true(first2);
}

static void
test_null_implicit_missing(void **state)
{
	(void)state;
	char why[400];
	queue_hosts h;
	assert_int_equal(
	    queue_hosts_gather(res, "nullmx.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_PERMANENT);
	assert_non_null(strstr(why, "null MX"));

	assert_int_equal(
	    queue_hosts_gather(res, "implicit.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_OK);
	assert_int_equal(h.n, 1);
	assert_true(h.implicit);
	assert_string_equal(h.host[0].name, "implicit.mox.test");

	assert_int_equal(
	    queue_hosts_gather(res, "nomail.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_PERMANENT);
	assert_non_null(strstr(why, "no MX and no address"));

	assert_int_equal(
	    queue_hosts_gather(res, "nonexistent.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_PERMANENT);
	assert_non_null(strstr(why, "does not exist"));

	assert_int_equal(
	    queue_hosts_gather(res, "x.servfail.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_TEMPORARY);
}

static void
test_cname(void **state)
{
	(void)state;
	char why[400];
	queue_hosts h;
	assert_int_equal(
	    queue_hosts_gather(res, "alias.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.effective_domain, "multi.mox.test");
}

static void
test_literal_and_ips(void **state)
{
	(void)state;
	char why[400];
	queue_hosts h;
	assert_int_equal(
	    queue_hosts_gather(res, "[127.0.0.9]", 1, &h, why, sizeof(why)), QUEUE_OK);
	assert_int_equal(h.n, 1);
	assert_true(h.host[0].is_ip);
	assert_string_equal(h.host[0].name, "127.0.0.9");
	assert_int_equal(queue_hosts_gather(res, "[IPv6:::1]", 1, &h, why, sizeof(why)),
	                 QUEUE_OK);
	assert_string_equal(h.host[0].name, "::1");
	assert_int_equal(queue_hosts_gather(res, "[bogus]", 1, &h, why, sizeof(why)),
	                 QUEUE_PERMANENT);

	queue_ips ips;
	queue_host mx3 = {.name = "mx3.multi.mox.test"};
	assert_int_equal(queue_hosts_ips(res, &mx3, NULL, &ips, why, sizeof(why)),
	                 QUEUE_OK);
	assert_int_equal(ips.n, 2);
	assert_true(ips.dualstack);
	assert_true(ips.ip[0].v6);
	assert_string_equal(ips.ip[0].text, "::1");
	assert_string_equal(ips.ip[1].text, "127.0.0.13");
	/* After an attempt over IPv6, IPv4 first (mox). */
	assert_int_equal(queue_hosts_ips(res, &mx3, "::1", &ips, why, sizeof(why)),
	                 QUEUE_OK);
	assert_string_equal(ips.ip[0].text, "127.0.0.13");
	assert_string_equal(ips.ip[1].text, "::1");

	queue_host nowhere = {.name = "nowhere.mox.test"};
	assert_int_equal(queue_hosts_ips(res, &nowhere, NULL, &ips, why, sizeof(why)),
	                 QUEUE_TEMPORARY);
	assert_int_equal(ips.n, 0);
	assert_int_equal(
	    queue_hosts_gather(res, "dangling.mox.test", 1, &h, why, sizeof(why)),
	    QUEUE_OK);
	assert_string_equal(h.host[0].name, "nowhere.mox.test");
	/* Unsigned zone: nothing is authentic. */
	assert_false(h.authentic);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx_order),
	    cmocka_unit_test(test_null_implicit_missing),
	    cmocka_unit_test(test_cname),
	    cmocka_unit_test(test_literal_and_ips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
