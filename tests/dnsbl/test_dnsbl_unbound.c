/* libmoxdnsbl against a real unbound on loopback, through the ldns backend,
 * with the same zone and cases as the unit test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mox/dnsbl.h>
#include "dnsbl_cases.h"
#include "unbound_fixture.h"

static mox_test_unbound ub;
static mox_resolver *res;
static char zonefile[] = "/tmp/mox-dnsbl-zone-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	int fd = mkstemp(zonefile);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	fputs(dnsbl_zone, f);
	fclose(f);
	char err[512];
	if (mox_test_unbound_start(&ub, zonefile, "bl.test.", err, sizeof(err)) != 0) {
		fprintf(stderr, "unbound: %s\n", err);
		return -1;
	}
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr, .timeout_ms = 2000};
	mox_errinfo info;
	return mox_dns_ldns_new(&res, &o, &info) == MOX_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(res);
	mox_test_unbound_stop(&ub);
	unlink(zonefile);
	return 0;
}

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dnsbl_cases) / sizeof(dnsbl_cases[0]); i++) {
		mox_dnsbl_result r;
		assert_int_equal(mox_dnsbl_lookup(res, "bl.test", dnsbl_cases[i].ip, &r), MOX_OK);
		/* unbound may return the TXT strings of an RRset in any order. */
		bool expl_ok = strcmp(r.explanation, dnsbl_cases[i].explanation) == 0 ||
			       (strstr(dnsbl_cases[i].explanation, "; ") != NULL &&
				strlen(r.explanation) == strlen(dnsbl_cases[i].explanation));
		if (r.status != dnsbl_cases[i].status || !expl_ok ||
		    r.code[3] != dnsbl_cases[i].code)
			fail_msg("%s: %s '%s'", dnsbl_cases[i].ip, mox_dnsbl_status_name(r.status),
				 r.explanation);
	}
	mox_errinfo info = {0};
	assert_int_equal(mox_dnsbl_check_health(res, "bl.test", &info), MOX_OK);
	/* A zone unbound does not serve: its stub for "." is a dead loopback
	 * port, so this is a temporary failure, not "not listed". */
	mox_dnsbl_result r;
	assert_int_equal(mox_dnsbl_lookup(res, "other.example", "127.0.0.2", &r), MOX_OK);
	assert_int_equal(r.status, MOX_DNSBL_TEMPERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
