/* DMARC record parsing: ../shared/testdata/dmarc/records.tsv (RFC 7489
 * appendix B examples, sections 6.3/6.4/6.6.3 rules, mox's behaviour), and
 * formatting round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dmarc.h>
#include "mox_testalloc.h"
#include "mox_testfile.h"

static void
test_vectors(void **state)
{
	(void)state;
	size_t len;
	char *text = mox_test_read_file(MOX_TESTDATA_DIR "/dmarc/records.tsv", &len);
	assert_non_null(text);
	int total = 0, passed = 0;
	char *save = NULL;
	bool header = true;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (header) {
			header = false;
			continue;
		}
		/* record \t expect \t effective_p \t note */
		char *f[4] = {line, NULL, NULL, NULL};
		for (int i = 1; i < 4; i++) {
			char *tab = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
			if (tab != NULL) {
				*tab = '\0';
				f[i] = tab + 1;
			}
		}
		if (f[1] == NULL)
			continue;
		total++;
		mox_dmarc_record *r = NULL;
		mox_errinfo info = {0};
		mox_err err = mox_dmarc_record_parse(f[0], strlen(f[0]), NULL, &r, &info);
		bool ok;
		if (strcmp(f[1], "valid") == 0) {
			ok = err == MOX_OK && strcmp(mox_dmarc_policy_name(r->policy), f[2]) == 0;
			if (ok) {
				/* Format and parse again: the same record. */
				mox_buf b = MOX_BUF_INIT;
				mox_dmarc_record *r2 = NULL;
				assert_int_equal(mox_dmarc_record_format(r, &b), MOX_OK);
				assert_int_equal(mox_dmarc_record_parse((char *)b.data, b.len, NULL, &r2,
									NULL),
						 MOX_OK);
				assert_int_equal(r2->policy, r->policy);
				assert_int_equal(r2->subdomain_policy, r->subdomain_policy);
				assert_int_equal(r2->pct, r->pct);
				assert_int_equal(r2->nrua, r->nrua);
				assert_int_equal(r2->adkim, r->adkim);
				mox_dmarc_record_free(r2);
				mox_buf_free(&b);
			}
		} else {
			ok = err == MOX_ESYNTAX && info.msg[0] != '\0';
		}
		if (ok)
			passed++;
		else
			print_error("record '%s' (%s): got %s %s p=%s\n", f[0], f[3] ? f[3] : "",
				    mox_err_name(err), info.msg,
				    r ? mox_dmarc_policy_name(r->policy) : "-");
		mox_dmarc_record_free(r);
	}
	free(text);
	print_message("dmarc records: %d of %d passed\n", passed, total);
	assert_true(total >= 30);
	assert_int_equal(passed, total);
}

static void
test_fields(void **state)
{
	(void)state;
	const char *txt = "v=DMARC1; p=quarantine; sp=reject; np=reject; "
			  "rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; "
			  "adkim=s; aspf=s; pct=25; fo=1:d; rf=afrf; ri=3600";
	mox_dmarc_record *r = NULL;
	assert_int_equal(mox_dmarc_record_parse(txt, strlen(txt), NULL, &r, NULL), MOX_OK);
	assert_int_equal(r->policy, MOX_DMARC_POLICY_QUARANTINE);
	assert_int_equal(r->subdomain_policy, MOX_DMARC_POLICY_REJECT);
	assert_int_equal(r->nonexistent_policy, MOX_DMARC_POLICY_REJECT);
	assert_int_equal(r->nrua, 2);
	assert_string_equal(r->rua[1].uri, "mailto:b@example.net");
	assert_int_equal(r->rua[1].max_size, 10);
	assert_int_equal(r->rua[1].unit, 'm');
	assert_int_equal(r->nruf, 1);
	assert_int_equal(r->adkim, MOX_DMARC_ALIGN_STRICT);
	assert_int_equal(r->pct, 25);
	assert_string_equal(r->fo, "1:d");
	assert_int_equal(r->ri, 3600);
	assert_false(r->policy_defaulted);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_dmarc_record_format(r, &b), MOX_OK);
	assert_string_equal((char *)b.data,
			    "v=DMARC1; p=quarantine; sp=reject; np=reject; "
			    "rua=mailto:a@example.com,mailto:b@example.net!10m; "
			    "ruf=mailto:f@example.com; adkim=s; aspf=s; ri=3600; fo=1:d; pct=25");
	mox_buf_free(&b);
	mox_dmarc_record_free(r);

	/* Errors say where. */
	mox_errinfo info = {0};
	txt = "v=DMARC1; p=none; pct=200";
	assert_int_equal(mox_dmarc_record_parse(txt, strlen(txt), NULL, &r, &info), MOX_ESYNTAX);
	assert_null(r);
	assert_int_equal(info.offset, 22);
	assert_non_null(strstr(info.msg, "pct"));
	assert_true(mox_dmarc_is_record("v=DMARC1; p=x", 13));
	assert_false(mox_dmarc_is_record("v=DMARC12", 9));
	assert_false(mox_dmarc_is_record("v=spf1 -all", 11));
	/* Hostile sizes. */
	char *big = malloc(MOX_DMARC_RECORD_MAX + 100);
	memcpy(big, "v=DMARC1; p=none; x=", 20);
	memset(big + 20, 'a', MOX_DMARC_RECORD_MAX + 79);
	assert_int_equal(mox_dmarc_record_parse(big, MOX_DMARC_RECORD_MAX + 99, NULL, &r, &info),
			 MOX_ESYNTAX);
	assert_int_equal(mox_dmarc_record_parse(big, MOX_DMARC_RECORD_MAX, NULL, &r, &info),
			 MOX_OK);
	mox_dmarc_record_free(r);
	free(big);
	txt = "v=DMARC1; p=none; rua=mailto:a@b!99999999999999999999999";
	assert_int_equal(mox_dmarc_record_parse(txt, strlen(txt), NULL, &r, &info), MOX_ESYNTAX);
	assert_int_equal(mox_dmarc_version(), MOX_DMARC_VERSION_HEX);
}

static void
test_oom(void **state)
{
	(void)state;
	const char *txt = "v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@example.com; "
			  "ruf=mailto:c@example.com; fo=1; rf=afrf";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_dmarc_record *r = NULL;
		mox_err err = mox_dmarc_record_parse(txt, strlen(txt), &ta.a, &r, NULL);
		mox_dmarc_record_free(r);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
