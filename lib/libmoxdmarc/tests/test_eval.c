/* Alignment (../shared/testdata/dmarc/alignment.tsv) and evaluation through
 * the in-memory zone: org-domain fallback, sp and np, pct sampling,
 * temperror vs none, multiple and invalid records, Authentication-Results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dmarc.h>
#include "mox_testfile.h"

static mox_dns_psl *psl;
static mox_resolver *zone;

static const char zone_text[] =
	"$ORIGIN example.com.\n"
	"@ 300 SOA ns hm 1 2 3 4 60\n"
	"@ A 192.0.2.1\n"
	"_dmarc TXT \"v=DMARC1; p=reject; sp=quarantine; np=none\"\n"
	"_dmarc TXT \"some other text\"\n"
	"sub A 192.0.2.2\n"
	"own A 192.0.2.3\n"
	"_dmarc.own TXT \"v=DMARC1; p=none\"\n"
	"$ORIGIN example.net.\n"
	"@ 300 SOA ns hm 1 2 3 4 60\n"
	"_dmarc TXT \"v=DMARC1; p=quarantine; pct=50; adkim=s; aspf=s\"\n"
	"$ORIGIN example.org.\n"
	"_dmarc TXT \"v=DMARC1; p=reject\"\n"
	"_dmarc TXT \"v=DMARC1; p=none\"\n"
	"$ORIGIN example.info.\n"
	"_dmarc TXT \"v=DMARC1; p=bogus\"\n"
	"$ORIGIN broken.example.\n"
	"_dmarc SERVFAIL\n"
	"$ORIGIN sub.broken2.example.\n"
	"_dmarc A 127.0.0.1\n"
	"$ORIGIN broken2.example.\n"
	"_dmarc SERVFAIL\n";

static int
setup(void **state)
{
	(void)state;
	mox_dns_psl_opts o = {.size = sizeof(o),
			      .path = MOX_TESTDATA_DIR "/dmarc/publicsuffix/public_suffix_list.dat"};
	if (mox_dns_psl_new(&psl, &o, NULL) != MOX_OK)
		return -1;
	if (mox_dns_zone_new(&zone, NULL) != MOX_OK)
		return -1;
	mox_errinfo info;
	if (mox_dns_zone_load(zone, zone_text, strlen(zone_text), &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_dns_psl_free(psl);
	mox_resolver_free(zone);
	return 0;
}

static void
test_alignment(void **state)
{
	(void)state;
	size_t len;
	char *text = mox_test_read_file(MOX_TESTDATA_DIR "/dmarc/alignment.tsv", &len);
	assert_non_null(text);
	int total = 0, passed = 0;
	char *save = NULL;
	bool header = true;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (header) {
			header = false;
			continue;
		}
		char from[256], auth[256], method[16], mode[4], aligned[8];
		if (sscanf(line, "%255s\t%255s\t%15s\t%3s\t%7s", from, auth, method, mode, aligned) !=
		    5)
			continue;
		total++;
		bool got = mox_dmarc_aligned(psl, from, auth,
					     mode[0] == 's' ? MOX_DMARC_ALIGN_STRICT
							    : MOX_DMARC_ALIGN_RELAXED);
		if (got == (strcmp(aligned, "yes") == 0))
			passed++;
		else
			print_error("alignment %s\n", line);
	}
	free(text);
	print_message("dmarc alignment: %d of %d passed\n", passed, total);
	assert_true(total >= 16);
	assert_int_equal(passed, total);
}

static void
verify(const char *from, bool spf_pass, const char *spf_domain, const char *dkim_domain,
       bool dkim_pass, int draw, mox_dmarc_result *r)
{
	mox_dmarc_dkim d = {.domain = dkim_domain, .selector = "s", .pass = dkim_pass};
	mox_dmarc_input in = {.size = sizeof(in),
			      .resolver = zone,
			      .psl = psl,
			      .from_domain = from,
			      .spf_pass = spf_pass,
			      .spf_domain = spf_domain,
			      .ndkim = dkim_domain ? 1 : 0,
			      .dkim = &d,
			      .pct_draw = draw};
	assert_int_equal(mox_dmarc_verify(&in, r), MOX_OK);
}

static void
test_verify(void **state)
{
	(void)state;
	mox_dmarc_result r;
	mox_buf b = MOX_BUF_INIT;

	/* Aligned DKIM pass. */
	verify("example.com", false, "other.example", "example.com", true, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_PASS);
	assert_true(r.dkim_aligned_pass);
	assert_false(r.spf_aligned_pass);
	assert_string_equal(r.lookup.domain, "example.com");
	assert_int_equal(mox_dmarc_authres(&r, "example.com", &b), MOX_OK);
	assert_string_equal((char *)b.data, "dmarc=pass (p=reject dis=none) header.from=example.com");
	mox_dmarc_result_clear(&r);

	/* Nothing aligned: fail, reject. */
	verify("example.com", true, "other.example", "other.example", true, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_FAIL);
	assert_int_equal(r.policy, MOX_DMARC_POLICY_REJECT);
	assert_true(r.reject);
	mox_buf_reset(&b);
	assert_int_equal(mox_dmarc_authres(&r, "example.com", &b), MOX_OK);
	assert_string_equal((char *)b.data, "dmarc=fail (p=reject dis=reject) header.from=example.com");
	mox_dmarc_result_clear(&r);

	/* Subdomain: policy at the organizational domain, sp applies;
	 * relaxed SPF alignment with the org domain passes. */
	verify("sub.example.com", false, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_FAIL);
	assert_true(r.lookup.at_org_domain);
	assert_string_equal(r.lookup.domain, "example.com");
	assert_int_equal(r.policy, MOX_DMARC_POLICY_QUARANTINE);
	assert_false(r.reject);
	mox_dmarc_result_clear(&r);
	verify("sub.example.com", true, "mail.example.com", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_PASS);
	mox_dmarc_result_clear(&r);

	/* A subdomain with its own record uses it. */
	verify("own.example.com", false, NULL, NULL, false, 0, &r);
	assert_int_equal(r.policy, MOX_DMARC_POLICY_NONE);
	assert_false(r.lookup.at_org_domain);
	mox_dmarc_result_clear(&r);

	/* RFC 9091: a non-existent subdomain gets np. */
	verify("nosuch.example.com", false, NULL, NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_FAIL);
	assert_int_equal(r.policy, MOX_DMARC_POLICY_NONE);
	mox_dmarc_result_clear(&r);

	/* pct=50: drawn below 50 applies quarantine; at or above is
	 * sampled out to none (section 6.6.4). Strict alignment. */
	verify("example.net", true, "sub.example.net", NULL, false, 49, &r);
	assert_int_equal(r.status, MOX_DMARC_FAIL);
	assert_int_equal(r.disposition, MOX_DMARC_POLICY_QUARANTINE);
	assert_false(r.sampled_out);
	mox_dmarc_result_clear(&r);
	verify("example.net", true, "sub.example.net", NULL, false, 50, &r);
	assert_int_equal(r.disposition, MOX_DMARC_POLICY_NONE);
	assert_true(r.sampled_out);
	mox_dmarc_result_clear(&r);

	/* No policy; temporary and permanent errors. */
	verify("example.invalid", true, "example.invalid", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_NONE);
	mox_dmarc_result_clear(&r);
	verify("broken.example", true, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_TEMPERROR);
	assert_non_null(strstr(r.lookup.why, "SERVFAIL"));
	mox_dmarc_result_clear(&r);
	/* The org-domain step fails temporarily after no record at the
	 * From domain. */
	verify("sub.broken2.example", true, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_TEMPERROR);
	mox_dmarc_result_clear(&r);
	verify("example.org", true, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_PERMERROR);
	assert_non_null(strstr(r.lookup.why, "2 DMARC records"));
	mox_dmarc_result_clear(&r);
	verify("example.info", true, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_PERMERROR);
	mox_dmarc_result_clear(&r);
	/* Section 6.6.1: no single From domain. */
	verify(NULL, true, "x", NULL, false, 0, &r);
	assert_int_equal(r.status, MOX_DMARC_PERMERROR);
	mox_buf_reset(&b);
	assert_int_equal(mox_dmarc_authres(&r, NULL, &b), MOX_OK);
	assert_string_equal((char *)b.data, "dmarc=permerror");
	mox_dmarc_result_clear(&r);
	mox_buf_free(&b);
	assert_string_equal(mox_dmarc_status_name(MOX_DMARC_TEMPERROR), "temperror");
}

static void
test_from_domain(void **state)
{
	(void)state;
	char d[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info = {0};
	const char *h = "To: x@y\r\nFrom: \"A\" <a@Example.COM>, b@example.com\r\n\r\nbody";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_OK);
	assert_string_equal(d, "example.com");
	h = "From: =?utf-8?q?J=C3=B6rg?= <j@b\xc3\xbc" "cher.example>\r\n\r\n";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_OK);
	assert_string_equal(d, "xn--bcher-kva.example");
	h = "From: a@example.com, b@example.net\r\n\r\n";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "different domains"));
	h = "From: a@example.com\r\nFrom: a@example.com\r\n\r\n";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_ESYNTAX);
	h = "Subject: none\r\n\r\n";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_ENOTFOUND);
	h = "From: undisclosed-recipients:;\r\n\r\n";
	assert_int_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_ENOTFOUND);
	h = "From: a@bad..domain\r\n\r\n";
	assert_int_not_equal(mox_dmarc_from_domain(h, strlen(h), d, sizeof(d), &info), MOX_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_verify),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
