/* Cross-check: our DMARC evaluation against libopendmarc (Debian
 * libopendmarc2) on the same cases. Both get the same record (ours from the
 * in-memory zone, opendmarc through opendmarc_policy_store_dmarc, so it
 * does no DNS), the same public suffix list and the same SPF/DKIM
 * outcomes. pct is 100 everywhere (opendmarc samples with random()).
 * Differences found are listed with their reasons in `known`. */
#define _DEFAULT_SOURCE /* u_char in opendmarc/dmarc.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/param.h>
#include <cmocka.h>
#include <opendmarc/dmarc.h>

#include <mox/dmarc.h>

#define PSL_FILE MOX_TESTDATA_DIR "/dmarc/publicsuffix/public_suffix_list.dat"

static const struct {
	const char *from;       /* RFC5322.From domain */
	const char *at;         /* where the record is published */
	const char *record;
	bool spf_pass;
	const char *spf_domain;
	bool dkim_pass;
	const char *dkim_domain;
} cases[] = {
	{"example.com", "example.com", "v=DMARC1; p=reject", true, "example.com", false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=reject", false, "example.com", true, "example.com"},
	{"example.com", "example.com", "v=DMARC1; p=reject", true, "other.example", false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=quarantine", false, NULL, false, "example.com"},
	{"example.com", "example.com", "v=DMARC1; p=none", false, NULL, false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=reject", true, "mail.example.com", false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=reject; aspf=s", true, "mail.example.com", false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=reject", false, NULL, true, "mail.example.com"},
	{"example.com", "example.com", "v=DMARC1; p=reject; adkim=s", false, NULL, true, "mail.example.com"},
	{"mail.example.com", "example.com", "v=DMARC1; p=reject; sp=none", false, NULL, false, NULL},
	{"mail.example.com", "example.com", "v=DMARC1; p=none; sp=reject", false, NULL, false, NULL},
	{"mail.example.com", "example.com", "v=DMARC1; p=reject", true, "example.com", false, NULL},
	{"mail.example.com", "example.com", "v=DMARC1; p=reject; aspf=s", true, "example.com", false, NULL},
	{"www.example.co.uk", "example.co.uk", "v=DMARC1; p=reject", false, NULL, true, "example.co.uk"},
	{"www.example.co.uk", "example.co.uk", "v=DMARC1; p=reject", false, NULL, true, "other.co.uk"},
	{"example.com", "example.com", "v=DMARC1; p=reject; rua=mailto:r@example.com", false, NULL, true, "example.net"},
	{"example.com", "example.com", "v=DMARC1; rua=mailto:r@example.com", false, NULL, false, NULL},
	{"a.b.example.com", "example.com", "v=DMARC1; p=quarantine", false, NULL, true, "c.example.com"},
	{"Example.COM", "example.com", "v=DMARC1; p=reject", true, "example.com", false, NULL},
	{"example.com", "example.com", "v=DMARC1; p=reject; sp=quarantine", false, NULL, false, NULL},
};

/* Differences, with reasons; an entry names a case index. */
static const struct {
	int index;
	const char *reason;
} known[] = {
	{6, "aspf=s with MAIL FROM mail.example.com and From example.com: RFC 7489 "
	    "section 3.1.2 says strict alignment needs identical domains; "
	    "opendmarc 1.4.2 counts the subdomain as aligned"},
	{8, "adkim=s with d=mail.example.com: same as case 6, for DKIM (section "
	    "3.1.1)"},
	{16, "record with rua but no p: RFC 7489 section 6.6.3 says to act as "
	     "p=none (mox does); opendmarc ignores the record (no policy)"},
	{-1, NULL},
};


static const char *
ours_name(const mox_dmarc_result *r)
{
	switch (r->status) {
	case MOX_DMARC_PASS:
		return "pass";
	case MOX_DMARC_NONE:
		return "absent";
	case MOX_DMARC_FAIL:
		return r->disposition == MOX_DMARC_POLICY_REJECT       ? "reject"
		       : r->disposition == MOX_DMARC_POLICY_QUARANTINE ? "quarantine"
								       : "none";
	default:
		return mox_dmarc_status_name(r->status);
	}
}

static const char *
theirs_name(int p)
{
	switch (p) {
	case DMARC_POLICY_PASS:
		return "pass";
	case DMARC_POLICY_ABSENT:
		return "absent";
	case DMARC_POLICY_REJECT:
		return "reject";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_NONE:
		return "none";
	}
	return "error";
}

static void
test_crosscheck(void **state)
{
	(void)state;
	OPENDMARC_LIB_T lib;
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	snprintf((char *)lib.tld_source_file, sizeof(lib.tld_source_file), "%s", PSL_FILE);
	assert_int_equal(opendmarc_policy_library_init(&lib), DMARC_PARSE_OKAY);
	mox_dns_psl *psl = NULL;
	mox_dns_psl_opts po = {.size = sizeof(po), .path = PSL_FILE};
	assert_int_equal(mox_dns_psl_new(&psl, &po, NULL), MOX_OK);

	int n = (int)(sizeof(cases) / sizeof(cases[0])), agree = 0, documented = 0;
	for (int i = 0; i < n; i++) {
		/* Ours. */
		mox_resolver *z = NULL;
		assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
		char zt[512];
		snprintf(zt, sizeof(zt), "_dmarc.%s. TXT \"%s\"\n", cases[i].at, cases[i].record);
		assert_int_equal(mox_dns_zone_load(z, zt, strlen(zt), NULL), MOX_OK);
		mox_dmarc_dkim d = {.domain = cases[i].dkim_domain, .pass = cases[i].dkim_pass};
		mox_dmarc_input in = {.size = sizeof(in),
				      .resolver = z,
				      .psl = psl,
				      .from_domain = cases[i].from,
				      .spf_pass = cases[i].spf_pass,
				      .spf_domain = cases[i].spf_domain,
				      .ndkim = cases[i].dkim_domain ? 1 : 0,
				      .dkim = &d,
				      .pct_draw = 0};
		mox_dmarc_result r;
		assert_int_equal(mox_dmarc_verify(&in, &r), MOX_OK);

		/* Theirs. */
		DMARC_POLICY_T *p = opendmarc_policy_connect_init((u_char *)"192.0.2.1", 0);
		assert_non_null(p);
		assert_int_equal(opendmarc_policy_store_from_domain(p, (u_char *)cases[i].from),
				 DMARC_PARSE_OKAY);
		if (cases[i].spf_domain != NULL)
			opendmarc_policy_store_spf(p, (u_char *)cases[i].spf_domain,
						   cases[i].spf_pass ? DMARC_POLICY_SPF_OUTCOME_PASS
								     : DMARC_POLICY_SPF_OUTCOME_FAIL,
						   DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
		if (cases[i].dkim_domain != NULL)
			opendmarc_policy_store_dkim(p, (u_char *)cases[i].dkim_domain,
						    (u_char *)"sel",
						    cases[i].dkim_pass ? DMARC_POLICY_DKIM_OUTCOME_PASS
								       : DMARC_POLICY_DKIM_OUTCOME_FAIL,
						    NULL);
		/* The organizational domain argument only when the record
		 * was found there, as opendmarc-milter passes it. */
		bool at_org = strcasecmp(cases[i].from, cases[i].at) != 0;
		opendmarc_policy_store_dmarc(p, (u_char *)cases[i].record, (u_char *)cases[i].from,
					     at_org ? (u_char *)cases[i].at : NULL);

		int theirs = opendmarc_get_policy_to_enforce(p);
		int dal = 0, sal = 0;
		opendmarc_policy_fetch_alignment(p, &dal, &sal);
		if (getenv("MOX_DEBUG") != NULL)
			print_message("case %d: opendmarc alignment dkim %d spf %d\n", i, dal, sal);
		opendmarc_policy_connect_shutdown(p);

		const char *a = ours_name(&r), *b = theirs_name(theirs);
		const char *why = NULL;
		for (size_t k = 0; known[k].reason != NULL; k++)
			if (known[k].index == i)
				why = known[k].reason;
		if (strcmp(a, b) == 0) {
			agree++;
		} else if (why != NULL) {
			documented++;
		} else {
			print_error("case %d (%s, %s): ours %s, opendmarc %s\n", i, cases[i].from,
				    cases[i].record, a, b);
		}
		mox_dmarc_result_clear(&r);
		mox_resolver_free(z);
	}
	print_message("opendmarc cross-check: %d of %d agree, %d documented differences\n",
		      agree, n, documented);
	assert_int_equal(documented, (int)(sizeof(known) / sizeof(known[0])) - 1);
	mox_dns_psl_free(psl);
	opendmarc_policy_library_shutdown(&lib);
	assert_int_equal(agree + documented, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crosscheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
