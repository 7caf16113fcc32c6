/* TLS reports: the shared samples (../shared/testdata/tlsrpt) against
 * their expected JSON, every case counted; reports in messages as mox
 * reads them; broken and hostile input at and past the limits; OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include <mox/tlsrpt.h>
#include "mox_testalloc.h"
#include "mox_testfile.h"

#define TDIR MOX_TESTDATA_DIR "/tlsrpt"

static mox_tlsrpt_report *
parse_path(const char *path, bool message, mox_err want, mox_errinfo *info_out)
{
	size_t len = 0;
	char *data = mox_test_read_file(path, &len);
	if (data == NULL)
		fail_msg("cannot read %s", path);
	mox_tlsrpt_report *r = NULL;
	mox_errinfo info = {0};
	mox_err err =
	    message ? mox_tlsrpt_report_parse_message(data, len, NULL, NULL, &r, &info)
	            : mox_tlsrpt_report_parse(data, len, NULL, NULL, &r, &info);
	free(data);
	if (err != want)
		fail_msg("%s: got %s (%s), want %s", path, mox_err_name(err), info.msg,
		         mox_err_name(want));
	if (info_out != NULL)
		*info_out = info;
	return r;
}

/* ---- comparing a parsed report with the expected JSON ---- */

static char mismatch[512];

static bool
str_is(const char *got, const json_t *want, const char *what)
{
	const char *w =
	    want != NULL && json_is_string(want) ? json_string_value(want) : NULL;
	if ((got == NULL) != (w == NULL) || (got != NULL && strcmp(got, w) != 0)) {
		snprintf(mismatch, sizeof(mismatch), "%s: got '%s', want '%s'", what,
		         got ? got : "(null)", w ? w : "(null)");
		return false;
	}
	return true;
}

static bool
count_is(int64_t got, const json_t *want, const char *what)
{
	int64_t w = want != NULL ? (int64_t)json_integer_value(want) : 0;
	if (got != w) {
		snprintf(mismatch, sizeof(mismatch), "%s: got %lld, want %lld", what,
		         (long long)got, (long long)w);
		return false;
	}
	return true;
}

static bool
list_is(char *const *got, size_t n, const json_t *want, const char *what)
{
	if (want != NULL && json_is_string(want)) /* the RFC example's mx-host */
		return n == 1 && str_is(got[0], want, what);
	size_t wn = want != NULL ? json_array_size(want) : 0;
	if (n != wn) {
		snprintf(mismatch, sizeof(mismatch), "%s: %zu entries, want %zu", what,
		         n, wn);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!str_is(got[i], json_array_get(want, i), what))
			return false;
	return true;
}

static bool
time_is(const mox_tlsrpt_time *got, const json_t *want, const char *what)
{
	mox_tlsrpt_time w;
	if (want == NULL ||
	    mox_tlsrpt_time_parse(json_string_value(want), json_string_length(want),
	                          &w) != MOX_OK) {
		snprintf(mismatch, sizeof(mismatch), "%s: bad expected time", what);
		return false;
	}
	if (got->seconds != w.seconds || got->nanoseconds != w.nanoseconds) {
		snprintf(mismatch, sizeof(mismatch), "%s: got %lld, want %lld", what,
		         (long long)got->seconds, (long long)w.seconds);
		return false;
	}
	return true;
}

static bool
same_report(const mox_tlsrpt_report *r, const json_t *j)
{
	const json_t *dr = json_object_get(j, "date-range");
	if (!str_is(r->organization_name, json_object_get(j, "organization-name"),
	            "org") ||
	    !str_is(r->contact_info, json_object_get(j, "contact-info"),
	            "contact-info") ||
	    !str_is(r->report_id, json_object_get(j, "report-id"), "report-id") ||
	    !time_is(&r->start, json_object_get(dr, "start-datetime"), "start") ||
	    !time_is(&r->end, json_object_get(dr, "end-datetime"), "end"))
		return false;
	const json_t *pols = json_object_get(j, "policies");
	if (r->npolicies != json_array_size(pols)) {
		snprintf(mismatch, sizeof(mismatch), "%zu policies, want %zu",
		         r->npolicies, json_array_size(pols));
		return false;
	}
	for (size_t i = 0; i < r->npolicies; i++) {
		const mox_tlsrpt_result *p = &r->policies[i];
		const json_t *jp = json_array_get(pols, i);
		const json_t *pol = json_object_get(jp, "policy");
		const json_t *sum = json_object_get(jp, "summary");
		if (!str_is(p->policy_type, json_object_get(pol, "policy-type"),
		            "policy-type") ||
		    !list_is(p->policy_strings, p->npolicy_strings,
		             json_object_get(pol, "policy-string"), "policy-string") ||
		    !str_is(p->policy_domain, json_object_get(pol, "policy-domain"),
		            "policy-domain") ||
		    !list_is(p->mx_hosts, p->nmx_hosts, json_object_get(pol, "mx-host"),
		             "mx-host") ||
		    !count_is(p->total_successful_session_count,
		              json_object_get(sum, "total-successful-session-count"),
		              "successful") ||
		    !count_is(p->total_failure_session_count,
		              json_object_get(sum, "total-failure-session-count"),
		              "failure"))
			return false;
		const json_t *fds = json_object_get(jp, "failure-details");
		if (p->nfailures != json_array_size(fds)) {
			snprintf(mismatch, sizeof(mismatch),
			         "%zu failure details, want %zu", p->nfailures,
			         json_array_size(fds));
			return false;
		}
		for (size_t k = 0; k < p->nfailures; k++) {
			const mox_tlsrpt_failure *f = &p->failures[k];
			const json_t *jf = json_array_get(fds, k);
			if (!str_is(f->result_type, json_object_get(jf, "result-type"),
			            "result-type") ||
			    !str_is(f->sending_mta_ip,
			            json_object_get(jf, "sending-mta-ip"),
			            "sending-mta-ip") ||
			    !str_is(f->receiving_mx_hostname,
			            json_object_get(jf, "receiving-mx-hostname"),
			            "receiving-mx") ||
			    !str_is(f->receiving_mx_helo,
			            json_object_get(jf, "receiving-mx-helo"),
			            "receiving-mx-helo") ||
			    !str_is(f->receiving_ip,
			            json_object_get(jf, "receiving-ip"),
			            "receiving-ip") ||
			    !count_is(f->failed_session_count,
			              json_object_get(jf, "failed-session-count"),
			              "failed") ||
			    !str_is(f->additional_information,
			            json_object_get(jf, "additional-information"),
			            "additional") ||
			    !str_is(f->failure_reason_code,
			            json_object_get(jf, "failure-reason-code"),
			            "failure-reason-code"))
				return false;
		}
	}
	return true;
}

/* One sample: input (message or JSON) and the JSON it must yield. */
typedef struct sample {
	const char *input;
	bool message;
	const char *expect;
} sample;

static const sample samples[] = {
    {"stalwart/rpt01.eml", true, "stalwart/rpt01.json"},
    /* application/tlsrpt, not +json: read where mox does not. */
    {"stalwart/rpt02.eml", true, "stalwart/rpt02.json"},
    {"stalwart/rpt01.json", false, "stalwart/rpt01.json"},
    {"stalwart/rpt02.json", false, "stalwart/rpt02.json"},
    {"stalwart/rpt03.json", false, "stalwart/rpt03.json"},
    /* The RFC's example has "mx-host" as a string (erratum 6241):
     * read as a list of one, where mox fails. */
    {"parsedmarc/rfc8460.json", false, "parsedmarc/rfc8460.json"},
    {"parsedmarc/smtp_tls.json", false, "parsedmarc/smtp_tls.json"},
    {"parsedmarc/mail.ru.json", false, "parsedmarc/mail.ru.json"},
};

static void
test_samples(void **state)
{
	(void)state;
	size_t passed = 0, total = 0;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const sample *s = &samples[i];
		char in[512], ex[512];
		snprintf(in, sizeof(in), "%s/%s", TDIR, s->input);
		snprintf(ex, sizeof(ex), "%s/%s", TDIR, s->expect);
		json_error_t jerr;
		json_t *want = json_load_file(ex, 0, &jerr);
		if (want == NULL)
			fail_msg("%s: %s", ex, jerr.text);
		total++;
		mox_tlsrpt_report *r = parse_path(in, s->message, MOX_OK, NULL);
		if (same_report(r, want))
			passed++;
		else
			print_error("sample %s: %s\n", s->input, mismatch);
		mox_tlsrpt_report_free(r);
		json_decref(want);
	}
	/* The messages without an expected JSON file: the values that the
	 * decompressed report holds (and mox's tests check). */
	mox_tlsrpt_report *r;
	total++;
	r = parse_path(TDIR "/mox/example.eml", true, MOX_OK, NULL);
	if (strcmp(r->organization_name, "Google Inc.") == 0 &&
	    strcmp(r->report_id, "2022-09-15T00:00:00Z_test.xmox.nl") == 0 &&
	    r->start.seconds == 1663200000 && r->end.seconds == 1663286399 &&
	    r->npolicies == 1 && strcmp(r->policies[0].policy_type, "sts") == 0 &&
	    r->policies[0].npolicy_strings == 4 &&
	    strcmp(r->policies[0].policy_strings[3], "mx: komijn.test.xmox.nl") == 0 &&
	    r->policies[0].nmx_hosts == 1 &&
	    strcmp(r->policies[0].mx_hosts[0], "komijn.test.xmox.nl") == 0 &&
	    r->policies[0].total_successful_session_count == 3 &&
	    r->policies[0].nfailures == 0)
		passed++;
	else
		print_error("sample mox/example.eml: fields differ\n");
	mox_tlsrpt_report_free(r);

	/* Microsoft's times lack an offset: read as UTC, as mox does. */
	total++;
	r = parse_path(TDIR "/mox/microsoft.eml", true, MOX_OK, NULL);
	if (strcmp(r->organization_name, "Microsoft Corporation") == 0 &&
	    strcmp(r->report_id, "133198585438131172+test.xmox.nl") == 0 &&
	    r->start.seconds == 1673308800 && r->start.utc_offset == 0 &&
	    r->end.seconds == 1673395199 && r->npolicies == 1 &&
	    r->policies[0].total_successful_session_count == 2 &&
	    r->policies[0].nmx_hosts == 0)
		passed++;
	else
		print_error("sample mox/microsoft.eml: fields differ\n");
	mox_tlsrpt_report_free(r);

	total++;
	r = parse_path(TDIR "/parsedmarc/google.com_smtp_tls_report.eml", true, MOX_OK,
	               NULL);
	if (strcmp(r->organization_name, "Google Inc.") == 0 &&
	    strcmp(r->report_id, "2024-09-03T00:00:00Z_cardinalhealth.ca") == 0 &&
	    r->npolicies == 1 &&
	    strcmp(r->policies[0].policy_type, "no-policy-found") == 0 &&
	    strcmp(r->policies[0].policy_domain, "cardinalhealth.ca") == 0 &&
	    r->policies[0].total_successful_session_count == 48)
		passed++;
	else
		print_error("sample parsedmarc/google.com_smtp_tls_report.eml: fields "
		            "differ\n");
	mox_tlsrpt_report_free(r);

	print_message("tlsrpt samples: %zu passed, %zu failed\n", passed,
	              total - passed);
	assert_int_equal(passed, total);
	assert_int_equal(total, 11);
}

/* Go's output for mox/example.eml ("mox tlsrpt parsereportmsg"), with []
 * where mox prints null for an absent failure-details list. */
static const char example_json[] =
    "{\n"
    "\t\"organization-name\": \"Google Inc.\",\n"
    "\t\"date-range\": {\n"
    "\t\t\"start-datetime\": \"2022-09-15T00:00:00Z\",\n"
    "\t\t\"end-datetime\": \"2022-09-15T23:59:59Z\"\n"
    "\t},\n"
    "\t\"contact-info\": \"smtp-tls-reporting@google.com\",\n"
    "\t\"report-id\": \"2022-09-15T00:00:00Z_test.xmox.nl\",\n"
    "\t\"policies\": [\n"
    "\t\t{\n"
    "\t\t\t\"policy\": {\n"
    "\t\t\t\t\"policy-type\": \"sts\",\n"
    "\t\t\t\t\"policy-string\": [\n"
    "\t\t\t\t\t\"version: STSv1\",\n"
    "\t\t\t\t\t\"mode: enforce\",\n"
    "\t\t\t\t\t\"max_age: 86400\",\n"
    "\t\t\t\t\t\"mx: komijn.test.xmox.nl\"\n"
    "\t\t\t\t],\n"
    "\t\t\t\t\"policy-domain\": \"test.xmox.nl\",\n"
    "\t\t\t\t\"mx-host\": [\n"
    "\t\t\t\t\t\"komijn.test.xmox.nl\"\n"
    "\t\t\t\t]\n"
    "\t\t\t},\n"
    "\t\t\t\"summary\": {\n"
    "\t\t\t\t\"total-successful-session-count\": 3,\n"
    "\t\t\t\t\"total-failure-session-count\": 0\n"
    "\t\t\t},\n"
    "\t\t\t\"failure-details\": []\n"
    "\t\t}\n"
    "\t]\n"
    "}\n";

static void
test_print_as_mox(void **state)
{
	(void)state;
	mox_tlsrpt_report *r = parse_path(TDIR "/mox/example.eml", true, MOX_OK, NULL);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_report_format(r, MOX_TLSRPT_JSON_INDENT, &b),
	                 MOX_OK);
	assert_string_equal((char *)b.data, example_json);
	mox_buf_free(&b);
	mox_tlsrpt_report_free(r);
}

static void
bad_json(const char *json, mox_err want, const char *want_msg)
{
	mox_tlsrpt_report *r = NULL;
	mox_errinfo info = {0};
	mox_err err =
	    mox_tlsrpt_report_parse(json, strlen(json), NULL, NULL, &r, &info);
	if (err != want)
		fail_msg("'%s': got %s (%s), want %s", json, mox_err_name(err),
		         info.msg, mox_err_name(want));
	assert_null(r);
	if (strstr(info.msg, want_msg) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", json, info.msg, want_msg);
}

static void
test_bad_json(void **state)
{
	(void)state;
	bad_json("", MOX_ESYNTAX, "JSON: ");
	bad_json("{", MOX_ESYNTAX, "line 1");
	bad_json("[]", MOX_ESYNTAX, "not a JSON object");
	bad_json("{} x", MOX_ESYNTAX, "end of file expected");
	bad_json("{\"organization-name\": 1}", MOX_ESYNTAX,
	         "organization-name: expected a string");
	bad_json("{\"date-range\": \"x\"}", MOX_ESYNTAX,
	         "date-range: expected an object");
	bad_json("{\"date-range\": {\"start-datetime\": \"2016-02-30T00:00:00Z\"}}",
	         MOX_ESYNTAX, "date-range.start-datetime: invalid date-time");
	bad_json("{\"policies\": {}}", MOX_ESYNTAX, "policies: expected a list");
	bad_json("{\"policies\": [1]}", MOX_ESYNTAX, "policies[0]: expected an object");
	bad_json(
	    "{\"policies\": [{\"summary\": {\"total-failure-session-count\": 1.5}}]}",
	    MOX_ESYNTAX,
	    "policies[0].summary.total-failure-session-count: expected an integer");
	bad_json(
	    "{\"policies\": [{\"summary\": {\"total-failure-session-count\": -1}}]}",
	    MOX_ESYNTAX, "negative count");
	bad_json("{\"policies\": [{}, {\"failure-details\": "
	         "[{\"failed-session-count\": \"1\"}]}]}",
	         MOX_ESYNTAX, "policies[1].failure-details[0].failed-session-count");
	bad_json("{\"policies\": [{\"policy\": {\"policy-string\": \"one\"}}]}",
	         MOX_ESYNTAX, "policies[0].policy.policy-string: expected a list");
	bad_json("{\"policies\": [{\"policy\": {\"mx-host\": [1]}}]}", MOX_ESYNTAX,
	         "entry 0 is not a string");
	bad_json("{\"report-id\": \"a\\u0000b\"}", MOX_ESYNTAX, "JSON: ");
	bad_json("{\"report-id\": \"\xff\"}", MOX_ESYNTAX, "JSON: ");
	bad_json("{\"policies\": [{\"summary\": {\"total-failure-session-count\": "
	         "99999999999999999999}}]}",
	         MOX_ESYNTAX, "JSON: ");

	/* Deep nesting: refused by jansson's depth limit, not a crash. */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 32);
	size_t n = 0;
	n += (size_t)sprintf(deep, "{\"x\":");
	for (size_t i = 0; i < depth; i++)
		deep[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	bad_json(deep, MOX_ESYNTAX, "JSON: ");
	free(deep);

	/* Leniency as mox: all fields optional, nulls, unknown fields, the
	 * last duplicate counts, lower case 't' and 'z' in times. */
	const char *ok =
	    "{\"policies\": [{\"policy\": null, \"summary\": {}, \"x\": [1]}],"
	    " \"report-id\": null, \"other\": {\"deep\": [true]},"
	    " \"organization-name\": \"a\", \"organization-name\": \"b\","
	    " \"date-range\": {\"start-datetime\": \"2016-04-01t00:00:00.5z\"}}";
	mox_tlsrpt_report *r = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_tlsrpt_report_parse(ok, strlen(ok), NULL, NULL, &r, &info),
	                 MOX_OK);
	assert_string_equal(r->organization_name, "b");
	assert_null(r->report_id);
	assert_int_equal(r->npolicies, 1);
	assert_null(r->policies[0].policy_type);
	assert_int_equal(r->start.nanoseconds, 500000000);
	assert_int_equal(r->end.seconds, MOX_TLSRPT_TIME_ZERO);
	mox_tlsrpt_report_free(r);
}

static void
test_limits(void **state)
{
	(void)state;
	mox_tlsrpt_report_limits lim = {
	    .max_bytes = 100, .max_policies = 2, .max_failures = 1, .max_strings = 2};
	mox_tlsrpt_report *r = NULL;
	mox_errinfo info = {0};
	char json[200];
	/* max_bytes: at the limit and one past. */
	memset(json, ' ', sizeof(json));
	memcpy(json, "{}", 2);
	assert_int_equal(mox_tlsrpt_report_parse(json, 100, &lim, NULL, &r, &info),
	                 MOX_OK);
	mox_tlsrpt_report_free(r);
	assert_int_equal(mox_tlsrpt_report_parse(json, 101, &lim, NULL, &r, &info),
	                 MOX_ELIMIT);
	lim.max_bytes = 0;
	const char *two = "{\"policies\": [{}, {}]}";
	const char *three = "{\"policies\": [{}, {}, {}]}";
	assert_int_equal(
	    mox_tlsrpt_report_parse(two, strlen(two), &lim, NULL, &r, &info), MOX_OK);
	mox_tlsrpt_report_free(r);
	assert_int_equal(
	    mox_tlsrpt_report_parse(three, strlen(three), &lim, NULL, &r, &info),
	    MOX_ELIMIT);
	const char *f2 = "{\"policies\": [{\"failure-details\": [{}, {}]}]}";
	assert_int_equal(mox_tlsrpt_report_parse(f2, strlen(f2), &lim, NULL, &r, &info),
	                 MOX_ELIMIT);
	const char *s3 =
	    "{\"policies\": [{\"policy\": {\"mx-host\": [\"a\", \"b\", \"c\"]}}]}";
	assert_int_equal(mox_tlsrpt_report_parse(s3, strlen(s3), &lim, NULL, &r, &info),
	                 MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "policies[0].policy.mx-host: more than 2"));
}

/* A message with the report as a base64 gzip part. */
static char *
make_message(const char *ctype_outer, const char *ctype_part, const void *body,
             size_t len)
{
	mox_buf b64 = MOX_BUF_INIT, msg = MOX_BUF_INIT;
	assert_int_equal(mox_base64_encode(&b64, body, len), MOX_OK);
	assert_int_equal(
	    mox_buf_appendf(&msg,
	                    "From: r@example.org\r\nSubject: report\r\n"
	                    "MIME-Version: 1.0\r\nContent-Type: %s; boundary=\"b\"\r\n"
	                    "\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	                    "--b\r\nContent-Type: %s\r\n"
	                    "Content-Transfer-Encoding: base64\r\n\r\n",
	                    ctype_outer, ctype_part),
	    MOX_OK);
	for (size_t i = 0; i < b64.len; i += 76) {
		size_t n = b64.len - i < 76 ? b64.len - i : 76;
		assert_int_equal(mox_buf_append(&msg, b64.data + i, n), MOX_OK);
		assert_int_equal(mox_buf_append_str(&msg, "\r\n"), MOX_OK);
	}
	assert_int_equal(mox_buf_append_str(&msg, "--b--\r\n"), MOX_OK);
	mox_buf_free(&b64);
	return (char *)mox_buf_steal(&msg, NULL);
}

static mox_err
parse_msg(const char *msg, const mox_tlsrpt_report_limits *lim, mox_errinfo *info)
{
	mox_tlsrpt_report *r = NULL;
	mox_err err =
	    mox_tlsrpt_report_parse_message(msg, strlen(msg), lim, NULL, &r, info);
	mox_tlsrpt_report_free(r);
	return err;
}

static void
test_messages(void **state)
{
	(void)state;
	const char *json = "{\"organization-name\": \"x\", \"policies\": [{\"policy\": "
	                   "{\"policy-type\": \"no-policy-found\"}}]}";
	mox_buf gz = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_gzip(json, strlen(json), &gz), MOX_OK);
	mox_errinfo info = {0};
	const char *rep = "multipart/report; report-type=tlsrpt";

	char *m = make_message(rep, "application/tlsrpt+gzip", gz.data, gz.len);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_OK);
	free(m);
	m = make_message(rep, "application/tlsrpt+json", json, strlen(json));
	assert_int_equal(parse_msg(m, NULL, &info), MOX_OK);
	free(m);
	/* Two gzip members in a row are one stream (as Go's reader). */
	mox_buf two = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_gzip(json, 10, &two), MOX_OK);
	assert_int_equal(mox_tlsrpt_gzip(json + 10, strlen(json) - 10, &two), MOX_OK);
	m = make_message(rep, "application/tlsrpt+gzip", two.data, two.len);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_OK);
	free(m);
	mox_buf_free(&two);

	/* Not in a multipart/report: not a report (mox). */
	m = make_message("multipart/mixed", "application/tlsrpt+gzip", gz.data, gz.len);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ENOTFOUND);
	free(m);
	/* Another report type: an error (mox). */
	m = make_message("multipart/report; report-type=feedback-report",
	                 "application/tlsrpt+gzip", gz.data, gz.len);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "feedback-report"));
	free(m);
	/* No report part. */
	m = make_message(rep, "application/pdf", "x", 1);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ENOTFOUND);
	free(m);
	/* Truncated and corrupt gzip. */
	m = make_message(rep, "application/tlsrpt+gzip", gz.data, gz.len - 5);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "gzip"));
	free(m);
	m = make_message(rep, "application/tlsrpt+gzip", json, strlen(json));
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ESYNTAX);
	free(m);
	/* JSON errors come through. */
	m = make_message(rep, "application/tlsrpt+json", "{\"policies\": 1}", 15);
	assert_int_equal(parse_msg(m, NULL, &info), MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "policies: expected a list"));
	free(m);

	/* A whole message that is the report. */
	const char *whole =
	    "Content-Type: application/tlsrpt+json\r\n\r\n{\"report-id\": \"w\"}";
	assert_int_equal(parse_msg(whole, NULL, &info), MOX_OK);
	const char *plain = "Subject: x\r\n\r\n{\"report-id\": \"w\"}";
	assert_int_equal(parse_msg(plain, NULL, &info), MOX_ENOTFOUND);

	/* A gzip bomb stops at the limit: 2 MiB of spaces, 1 MiB allowed. */
	size_t big = 2u << 20;
	char *spaces = malloc(big);
	memset(spaces, ' ', big);
	spaces[0] = '{';
	spaces[big - 1] = '}';
	mox_buf bomb = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_gzip(spaces, big, &bomb), MOX_OK);
	assert_true(bomb.len < 20000);
	m = make_message(rep, "application/tlsrpt+gzip", bomb.data, bomb.len);
	mox_tlsrpt_report_limits lim = {.max_bytes = 1u << 20};
	assert_int_equal(parse_msg(m, &lim, &info), MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "larger than 1048576"));
	lim.max_bytes = big;
	assert_int_equal(parse_msg(m, &lim, &info), MOX_OK);
	/* The message size limit. */
	lim.max_message = strlen(m) - 1;
	assert_int_equal(parse_msg(m, &lim, &info), MOX_ELIMIT);
	free(m);
	free(spaces);
	mox_buf_free(&bomb);
	mox_buf_free(&gz);
}

static void
test_oom(void **state)
{
	(void)state;
	size_t len = 0;
	char *data = mox_test_read_file(TDIR "/stalwart/rpt01.eml", &len);
	assert_non_null(data);
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_tlsrpt_report *r = NULL;
		mox_err err =
		    mox_tlsrpt_report_parse_message(data, len, NULL, &ta.a, &r, NULL);
		if (err == MOX_OK)
			assert_int_equal(r->policies[0].nfailures, 3);
		mox_tlsrpt_report_free(r);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 10000);
	}
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_samples),  cmocka_unit_test(test_print_as_mox),
	    cmocka_unit_test(test_bad_json), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_messages), cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
