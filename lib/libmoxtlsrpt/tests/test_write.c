/* Writing reports: date-times (RFC 3339 section 5.6) both ways, merging
 * results as mox does, JSON out and back in (compact and indented),
 * string escaping as Go's encoder, gzip, the file name of RFC 8460
 * section 5.1, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/tlsrpt.h>
#include "mox_testalloc.h"

static void
time_rt(const char *in, int64_t secs, uint32_t ns, int32_t off, const char *out)
{
	mox_tlsrpt_time t;
	if (mox_tlsrpt_time_parse(in, strlen(in), &t) != MOX_OK)
		fail_msg("'%s' does not parse", in);
	if (t.seconds != secs || t.nanoseconds != ns || t.utc_offset != off)
		fail_msg("'%s': %lld.%09u %+d, want %lld.%09u %+d", in,
		         (long long)t.seconds, t.nanoseconds, t.utc_offset,
		         (long long)secs, ns, off);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_time_format(&t, &b), MOX_OK);
	assert_string_equal((char *)b.data, out);
	mox_buf_free(&b);
}

static void
test_time(void **state)
{
	(void)state;
	time_rt("2016-04-01T00:00:00Z", 1459468800, 0, 0, "2016-04-01T00:00:00Z");
	time_rt("2016-04-01T23:59:59Z", 1459555199, 0, 0, "2016-04-01T23:59:59Z");
	time_rt("1970-01-01T00:00:00Z", 0, 0, 0, "1970-01-01T00:00:00Z");
	time_rt("2016-04-01T02:00:00+02:00", 1459468800, 0, 7200,
	        "2016-04-01T02:00:00+02:00");
	time_rt("2016-03-31T19:30:00-04:30", 1459468800, 0, -16200,
	        "2016-03-31T19:30:00-04:30");
	time_rt("2016-04-01T00:00:00.120Z", 1459468800, 120000000, 0,
	        "2016-04-01T00:00:00.12Z");
	time_rt("2016-04-01T00:00:00.000000001Z", 1459468800, 1, 0,
	        "2016-04-01T00:00:00.000000001Z");
	/* Microsoft's reports: no offset, read as UTC. */
	time_rt("2023-01-10T00:00:00", 1673308800, 0, 0, "2023-01-10T00:00:00Z");
	time_rt("2024-02-29T12:00:00z", 1709208000, 0, 0, "2024-02-29T12:00:00Z");
	time_rt("0001-01-01T00:00:00Z", MOX_TLSRPT_TIME_ZERO, 0, 0,
	        "0001-01-01T00:00:00Z");
	time_rt("1969-12-31T23:59:59Z", -1, 0, 0, "1969-12-31T23:59:59Z");

	const char *badt[] = {
	    "2016-04-01",
	    "2016-04-01 00:00:00Z",
	    "2016-13-01T00:00:00Z",
	    "2016-02-30T00:00:00Z",
	    "2023-02-29T00:00:00Z",
	    "2016-04-01T24:00:00Z",
	    "2016-04-01T00:60:00Z",
	    "2016-04-01T00:00:61Z",
	    "2016-04-01T00:00:00.Z",
	    "2016-04-01T00:00:00.1234567890Z",
	    "2016-04-01T00:00:00+2:00",
	    "2016-04-01T00:00:00+02:60",
	    "2016-04-01T00:00:00ZZ",
	    "x016-04-01T00:00:00Z",
	    "",
	};
	for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++) {
		mox_tlsrpt_time t;
		if (mox_tlsrpt_time_parse(badt[i], strlen(badt[i]), &t) != MOX_ESYNTAX)
			fail_msg("'%s' parsed", badt[i]);
	}
}

static mox_tlsrpt_time
tm(const char *s)
{
	mox_tlsrpt_time t;
	assert_int_equal(mox_tlsrpt_time_parse(s, strlen(s), &t), MOX_OK);
	return t;
}

static void
test_merge(void **state)
{
	(void)state;
	mox_tlsrpt_report *r = NULL;
	assert_int_equal(
	    mox_tlsrpt_report_new(&r, NULL, "mox.example", "postmaster@mox.example",
	                          "20240101.mox.example", tm("2024-01-01T00:00:00Z"),
	                          tm("2024-01-01T23:59:59Z")),
	    MOX_OK);
	char *strs[] = {"version: STSv1", "mode: enforce", "mx: mx.a.example",
	                "max_age: 86400"};
	char *mx[] = {"mx.a.example"};
	mox_tlsrpt_failure f1 = {.result_type = MOX_TLSRPT_CERTIFICATE_EXPIRED,
	                         .sending_mta_ip = "192.0.2.1",
	                         .receiving_mx_hostname = "mx.a.example",
	                         .failed_session_count = 1};
	mox_tlsrpt_failure f2 = f1;
	f2.result_type = MOX_TLSRPT_STARTTLS_NOT_SUPPORTED;
	mox_tlsrpt_result sts = {.policy_type = MOX_TLSRPT_POLICY_STS,
	                         .npolicy_strings = 4,
	                         .policy_strings = strs,
	                         .policy_domain = "a.example",
	                         .nmx_hosts = 1,
	                         .mx_hosts = mx,
	                         .total_successful_session_count = 5,
	                         .total_failure_session_count = 1,
	                         .nfailures = 1,
	                         .failures = &f1};
	assert_int_equal(mox_tlsrpt_report_add(r, &sts), MOX_OK);
	/* Same policy: counts add up, same failure key adds, new key
	 * appends. */
	mox_tlsrpt_failure both[2] = {f1, f2};
	sts.nfailures = 2;
	sts.failures = both;
	assert_int_equal(mox_tlsrpt_report_add(r, &sts), MOX_OK);
	/* Another policy. */
	mox_tlsrpt_result none = {.policy_type = MOX_TLSRPT_POLICY_NONE_FOUND,
	                          .policy_domain = "b.example",
	                          .total_successful_session_count = 2};
	assert_int_equal(mox_tlsrpt_report_add(r, &none), MOX_OK);
	/* Negative compensation never goes below zero (mox). */
	none.total_successful_session_count = -5;
	assert_int_equal(mox_tlsrpt_report_add(r, &none), MOX_OK);

	assert_int_equal(r->npolicies, 2);
	assert_int_equal(r->policies[0].total_successful_session_count, 10);
	assert_int_equal(r->policies[0].total_failure_session_count, 2);
	assert_int_equal(r->policies[0].nfailures, 2);
	assert_int_equal(r->policies[0].failures[0].failed_session_count, 2);
	assert_int_equal(r->policies[0].failures[1].failed_session_count, 1);
	assert_int_equal(r->policies[1].total_successful_session_count, 0);

	/* JSON out and back in: the same report. */
	for (unsigned flags = 0; flags <= MOX_TLSRPT_JSON_INDENT; flags++) {
		mox_buf b = MOX_BUF_INIT, b2 = MOX_BUF_INIT;
		assert_int_equal(mox_tlsrpt_report_format(r, flags, &b), MOX_OK);
		mox_tlsrpt_report *p = NULL;
		mox_errinfo info = {0};
		if (mox_tlsrpt_report_parse(b.data, b.len, NULL, NULL, &p, &info) !=
		    MOX_OK)
			fail_msg("%s: %s", (char *)b.data, info.msg);
		assert_int_equal(mox_tlsrpt_report_format(p, flags, &b2), MOX_OK);
		assert_string_equal((char *)b.data, (char *)b2.data);
		assert_int_equal(p->start.seconds, r->start.seconds);
		assert_int_equal(p->policies[0].failures[0].failed_session_count, 2);
		if (flags == 0)
			assert_non_null(strstr((char *)b.data,
			                       "{\"organization-name\":\"mox.example\","
			                       "\"date-range\":{\"start-datetime\":"
			                       "\"2024-01-01T00:00:00Z\""));
		mox_tlsrpt_report_free(p);
		mox_buf_free(&b);
		mox_buf_free(&b2);
	}
	mox_tlsrpt_report_free(r);
	assert_int_equal(mox_tlsrpt_report_add(NULL, &none), MOX_EINVAL);
}

static void
test_escape(void **state)
{
	(void)state;
	mox_tlsrpt_report *r = NULL;
	mox_tlsrpt_time z = {MOX_TLSRPT_TIME_ZERO, 0, 0};
	assert_int_equal(mox_tlsrpt_report_new(&r, NULL,
	                                       "q\"b\\s/<>&\n\r\t\x01\x1f caf\xc3\xa9 "
	                                       "\xe2\x80\xa8\xe2\x80\xa9 bad\xff end",
	                                       NULL, NULL, z, z),
	                 MOX_OK);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_report_format(r, 0, &b), MOX_OK);
	assert_string_equal(
	    (char *)b.data,
	    "{\"organization-name\":\"q\\\"b\\\\s/<>&\\n\\r\\t\\u0001\\u001f "
	    "caf\xc3\xa9 \\u2028\\u2029 bad\\ufffd end\","
	    "\"date-range\":{\"start-datetime\":\"0001-01-01T00:00:00Z\","
	    "\"end-datetime\":\"0001-01-01T00:00:00Z\"},\"contact-info\":\"\","
	    "\"report-id\":\"\",\"policies\":[]}");
	mox_buf_free(&b);
	mox_tlsrpt_report_free(r);
}

static void
test_gzip_filename(void **state)
{
	(void)state;
	mox_buf gz = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_gzip("", 0, &gz), MOX_OK);
	assert_true(gz.len >= 18);
	assert_int_equal(gz.data[0], 0x1f);
	assert_int_equal(gz.data[1], 0x8b);
	mox_buf_free(&gz);

	mox_tlsrpt_time s = tm("2016-04-01T00:00:00Z"), e = tm("2016-04-01T23:59:59Z");
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_report_filename("mail.sender.example",
	                                            "example.com", &s, &e, NULL, true,
	                                            &b),
	                 MOX_OK);
	assert_string_equal(
	    (char *)b.data,
	    "mail.sender.example!example.com!1459468800!1459555199.json.gz");
	mox_buf_reset(&b);
	assert_int_equal(mox_tlsrpt_report_filename("mail.sender.example",
	                                            "example.com", &s, &e, "001", false,
	                                            &b),
	                 MOX_OK);
	assert_string_equal(
	    (char *)b.data,
	    "mail.sender.example!example.com!1459468800!1459555199!001.json");
	assert_int_equal(
	    mox_tlsrpt_report_filename("a!b", "example.com", &s, &e, NULL, false, &b),
	    MOX_EINVAL);
	assert_int_equal(
	    mox_tlsrpt_report_filename("a", "../x", &s, &e, NULL, false, &b),
	    MOX_EINVAL);
	mox_buf_free(&b);
	assert_true(mox_tlsrpt_result_type_known("sts-webpki-invalid"));
	assert_false(mox_tlsrpt_result_type_known("other"));
}

static void
test_oom(void **state)
{
	(void)state;
	char *strs[] = {"version: STSv1", "mode: testing"};
	mox_tlsrpt_failure f = {.result_type = "validation-failure",
	                        .sending_mta_ip = "192.0.2.1",
	                        .receiving_mx_hostname = "mx.example",
	                        .receiving_mx_helo = "helo.example",
	                        .receiving_ip = "192.0.2.2",
	                        .failed_session_count = 3,
	                        .additional_information = "https://x.example/",
	                        .failure_reason_code = "X509"};
	mox_tlsrpt_result res = {.policy_type = "sts",
	                         .npolicy_strings = 2,
	                         .policy_strings = strs,
	                         .policy_domain = "example",
	                         .nfailures = 1,
	                         .failures = &f};
	mox_tlsrpt_time z = {0, 0, 0};
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_tlsrpt_report *r = NULL;
		mox_buf b;
		mox_buf_init(&b, &ta.a);
		mox_err err = mox_tlsrpt_report_new(&r, &ta.a, "org", "c", "id", z, z);
		if (err == MOX_OK)
			err = mox_tlsrpt_report_add(r, &res);
		if (err == MOX_OK)
			err = mox_tlsrpt_report_add(r, &res);
		if (err == MOX_OK)
			err = mox_tlsrpt_report_format(r, MOX_TLSRPT_JSON_INDENT, &b);
		mox_buf g;
		mox_buf_init(&g, &ta.a);
		if (err == MOX_OK)
			err = mox_tlsrpt_gzip(b.data, b.len, &g);
		mox_buf_free(&g);
		mox_buf_free(&b);
		mox_tlsrpt_report_free(r);
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
	    cmocka_unit_test(test_time),   cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_escape), cmocka_unit_test(test_gzip_filename),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
