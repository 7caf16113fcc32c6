/* Organizational domains against the public suffix list's own test cases
 * (../shared/testdata/dmarc/publicsuffix/tests.txt, run with the list
 * snapshot they were made for), and the system list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dns.h>

#define PSL_DIR MOX_TESTDATA_DIR "/dmarc/publicsuffix"

static void
test_conformance(void **state)
{
	(void)state;
	mox_dns_psl *psl = NULL;
	mox_dns_psl_opts opts = {.size = sizeof(opts),
				 .path = PSL_DIR "/public_suffix_list.dat"};
	mox_errinfo info = {0};
	assert_int_equal(mox_dns_psl_new(&psl, &opts, &info), MOX_OK);

	FILE *f = fopen(PSL_DIR "/tests.txt", "r");
	assert_non_null(f);
	char line[1024];
	int total = 0, passed = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char in[512], want[512];
		if (strncmp(line, "//", 2) == 0 || sscanf(line, "%511s %511s", in, want) != 2)
			continue;
		total++;
		/* Inputs are names as a user writes them (U-labels, upper
		 * case): convert to A-labels first, as callers of the
		 * library do. "null" means no registrable domain. */
		char ain[MOX_DNS_NAME_MAX + 1], awant[MOX_DNS_NAME_MAX + 1],
			got[MOX_DNS_NAME_MAX + 1];
		mox_err err;
		if (strcmp(in, "null") == 0) {
			/* The upstream null input: nothing to look up. */
			err = MOX_ENOTFOUND;
		} else if (in[0] == '.' ||
			   mox_dns_name_to_ascii(in, ain, sizeof(ain), NULL) != MOX_OK) {
			/* Leading dot or not a name: no registrable domain. */
			err = MOX_ENOTFOUND;
		} else {
			err = mox_dns_psl_registrable_domain(psl, ain, got, sizeof(got));
		}
		bool ok;
		if (strcmp(want, "null") == 0) {
			ok = err == MOX_ENOTFOUND;
		} else {
			ok = err == MOX_OK &&
			     mox_dns_name_to_ascii(want, awant, sizeof(awant), NULL) == MOX_OK &&
			     strcmp(got, awant) == 0;
		}
		if (ok)
			passed++;
		else
			print_error("psl case %s -> %s: got %s (%s)\n", in, want,
				    err == MOX_OK ? got : "-", mox_err_name(err));
	}
	fclose(f);
	print_message("public suffix conformance: %d of %d cases passed\n", passed,
		      total);
	assert_true(total >= 70);
	assert_int_equal(passed, total);
	mox_dns_psl_free(psl);
}

static void
test_org_domain(void **state)
{
	(void)state;
	mox_dns_psl *psl = NULL;
	mox_errinfo info = {0};
	/* The list the system ships (Debian publicsuffix). */
	if (mox_dns_psl_new(&psl, NULL, &info) != MOX_OK)
		fail_msg("system public suffix list: %s", info.msg);
	char out[MOX_DNS_NAME_MAX + 1];
	static const char *cases[][2] = {
		{"mail.example.com", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"Example.COM.", "example.com"},
		{"example.com", "example.com"},
		{"co.uk", "co.uk"}, /* a public suffix is its own org domain */
		{"com", "com"},
		{"foo.bar.unknowntld", "bar.unknowntld"}, /* the "*" rule */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(mox_dns_psl_org_domain(psl, cases[i][0], out, sizeof(out)),
				 MOX_OK);
		assert_string_equal(out, cases[i][1]);
	}
	assert_true(mox_dns_psl_is_public_suffix(psl, "co.uk"));
	assert_false(mox_dns_psl_is_public_suffix(psl, "example.co.uk"));
	assert_int_equal(mox_dns_psl_registrable_domain(psl, "co.uk", out, sizeof(out)),
			 MOX_ENOTFOUND);
	assert_int_equal(mox_dns_psl_org_domain(psl, "a.example.com", out, 5), MOX_ERANGE);
	mox_dns_psl_free(psl);

	mox_dns_psl_opts opts = {.size = sizeof(opts), .path = "/nonexistent/psl.dat"};
	assert_int_equal(mox_dns_psl_new(&psl, &opts, &info), MOX_ENOTFOUND);
	assert_null(psl);
	assert_non_null(strstr(info.msg, "/nonexistent/psl.dat"));
	mox_dns_psl_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_org_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
