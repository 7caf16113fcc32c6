/* libmoxdmarc against a real unbound on loopback: discovery at the From
 * domain and the organizational domain (the PSL's "*" rule makes
 * dmarc.test the organizational domain of sub.dmarc.test), multi-string
 * TXT records, multiple records, and DNS failure as temperror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dmarc.h>
#include "unbound_fixture.h"

static mox_test_unbound ub;
static mox_resolver *res;
static mox_dns_psl *psl;

static int
setup(void **state)
{
	(void)state;
	char err[512];
	if (mox_test_unbound_start(&ub, MOX_DMARC_ZONE, "dmarc.test.", err, sizeof(err)) != 0) {
		fprintf(stderr, "unbound: %s\n", err);
		return -1;
	}
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr};
	mox_dns_psl_opts po = {.size = sizeof(po),
			       .path = MOX_TESTDATA_DIR "/dmarc/publicsuffix/public_suffix_list.dat"};
	if (mox_dns_ldns_new(&res, &o, NULL) != MOX_OK || mox_dns_psl_new(&psl, &po, NULL) != MOX_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(res);
	mox_dns_psl_free(psl);
	mox_test_unbound_stop(&ub);
	return 0;
}

static void
check(const char *from, bool spf_pass, const char *spf_domain, mox_dmarc_status want_status,
      mox_dmarc_policy want_disposition, const char *want_domain)
{
	mox_dmarc_input in = {.size = sizeof(in),
			      .resolver = res,
			      .psl = psl,
			      .from_domain = from,
			      .spf_pass = spf_pass,
			      .spf_domain = spf_domain,
			      .pct_draw = 0};
	mox_dmarc_result r;
	assert_int_equal(mox_dmarc_verify(&in, &r), MOX_OK);
	if (r.status != want_status || r.disposition != want_disposition ||
	    (want_domain != NULL && strcmp(r.lookup.domain, want_domain) != 0))
		fail_msg("%s: %s dis=%s at '%s' (%s)", from, mox_dmarc_status_name(r.status),
			 mox_dmarc_policy_name(r.disposition), r.lookup.domain, r.lookup.why);
	mox_dmarc_result_clear(&r);
}

static void
test_unbound(void **state)
{
	(void)state;
	check("dmarc.test", true, "dmarc.test", MOX_DMARC_PASS, MOX_DMARC_POLICY_NONE, "dmarc.test");
	check("dmarc.test", true, "elsewhere.example", MOX_DMARC_FAIL, MOX_DMARC_POLICY_REJECT,
	      "dmarc.test");
	/* Organizational domain fallback, sp applies. */
	check("sub.dmarc.test", false, NULL, MOX_DMARC_FAIL, MOX_DMARC_POLICY_QUARANTINE,
	      "dmarc.test");
	check("sub.dmarc.test", true, "dmarc.test", MOX_DMARC_PASS, MOX_DMARC_POLICY_NONE, NULL);
	/* A record in two strings. */
	check("own.dmarc.test", false, NULL, MOX_DMARC_FAIL, MOX_DMARC_POLICY_NONE,
	      "own.dmarc.test");
	check("two.dmarc.test", false, NULL, MOX_DMARC_PERMERROR, MOX_DMARC_POLICY_UNSET, NULL);
	/* Outside the served zone unbound has only a dead stub: SERVFAIL,
	 * which must be temperror, not "no policy". */
	check("example.org", false, NULL, MOX_DMARC_TEMPERROR, MOX_DMARC_POLICY_UNSET, NULL);

	mox_dmarc_lookup_result lr;
	assert_int_equal(mox_dmarc_lookup(res, psl, "sub.dmarc.test", &lr), MOX_OK);
	assert_int_equal(lr.status, MOX_DMARC_LOOKUP_FOUND);
	assert_true(lr.at_org_domain);
	assert_int_equal(lr.record->nrua, 1);
	mox_dmarc_lookup_result_clear(&lr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unbound),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
