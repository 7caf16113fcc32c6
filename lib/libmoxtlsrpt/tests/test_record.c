/* TLSRPT TXT records, RFC 8460 section 3: the RFC's examples, mox's good
 * and bad cases, writing back, URI schemes, discovery against the
 * in-memory zone (mox's lookup cases), OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/tlsrpt.h>
#include "mox_testalloc.h"

static mox_tlsrpt_record *
good(const char *txt)
{
	mox_tlsrpt_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_tlsrpt_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_OK)
		fail_msg("'%s': %s: %s", txt, mox_err_name(err), info.msg);
	return r;
}

static void
bad(const char *txt, const char *want)
{
	mox_tlsrpt_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_tlsrpt_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_ESYNTAX)
		fail_msg("'%s': got %s, want MOX_ESYNTAX", txt, mox_err_name(err));
	assert_null(r);
	if (strstr(info.msg, want) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", txt, info.msg, want);
}

static void
test_good(void **state)
{
	(void)state;
	/* RFC 8460 section 3.1 examples. */
	mox_tlsrpt_record *r = good("v=TLSRPTv1;rua=mailto:reports@example.com");
	assert_int_equal(r->nrua, 1);
	assert_int_equal(r->rua[0].n, 1);
	assert_string_equal(r->rua[0].uris[0], "mailto:reports@example.com");
	assert_int_equal(mox_tlsrpt_uri_scheme(r->rua[0].uris[0]),
	                 MOX_TLSRPT_SCHEME_MAILTO);
	mox_tlsrpt_record_free(r);
	r = good("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt");
	assert_int_equal(mox_tlsrpt_uri_scheme(r->rua[0].uris[0]),
	                 MOX_TLSRPT_SCHEME_HTTPS);
	mox_tlsrpt_record_free(r);

	r = good("v=TLSRPTv1; rua=mailto:tlsrpt@mox.example;");
	assert_string_equal(r->rua[0].uris[0], "mailto:tlsrpt@mox.example");
	mox_tlsrpt_record_free(r);

	r = good("v=TLSRPTv1; rua=mailto:tlsrpt@mox.example , \t\t "
	         "https://mox.example/tlsrpt  ");
	assert_int_equal(r->nrua, 1);
	assert_int_equal(r->rua[0].n, 2);
	assert_string_equal(r->rua[0].uris[1], "https://mox.example/tlsrpt");
	mox_tlsrpt_record_free(r);

	r = good("v=TLSRPTv1; rua=mailto:tlsrpt@mox.example; ext=yes");
	assert_int_equal(r->nextensions, 1);
	assert_string_equal(r->extensions[0].key, "ext");
	assert_string_equal(r->extensions[0].value, "yes");
	mox_tlsrpt_record_free(r);

	r = good("v=TLSRPTv1 ; rua=mailto:x@x.example; rua=mailto:y@x.example");
	assert_int_equal(r->nrua, 2);
	assert_string_equal(r->rua[1].uris[0], "mailto:y@x.example");
	mox_tlsrpt_record_free(r);

	/* Percent escapes and any scheme are kept as written. */
	r = good("v=TLSRPTv1; rua=mailto:a%2Cb@x.example,gopher://x.example/%21");
	assert_string_equal(r->rua[0].uris[0], "mailto:a%2Cb@x.example");
	assert_int_equal(mox_tlsrpt_uri_scheme(r->rua[0].uris[1]),
	                 MOX_TLSRPT_SCHEME_OTHER);
	mox_tlsrpt_record_free(r);
}

static void
test_bad(void **state)
{
	(void)state;
	bad("v=TLSRPTv0", "must start with v=TLSRPTv1");
	bad("v=TLSRPTv10", "expected ';'");
	bad("v=TLSRPTv2", "must start with v=TLSRPTv1");
	bad("v=TLSRPTv1", "expected ';'");
	bad("v=TLSRPTv1;", "expected field name");
	bad("v=TLSRPTv1; ext=1", "missing rua");
	bad("v=TLSRPTv1; rua=", "expected URI");
	bad("v=TLSRPTv1; rua=noscheme", "without scheme");
	bad("v=TLSRPTv1; rua=,, ,", "expected URI");
	bad("v=TLSRPTv1; rua=mailto:x@x.example; more=", "empty value");
	bad("v=TLSRPTv1; rua=mailto:x@x.example; a12345678901234567890123456789012=1",
	    "longer than 32");
	bad("v=TLSRPTv1; rua=mailto:x@x.example; 1%=a", "expected '='");
	bad("v=TLSRPTv1; rua=mailto:x@x.example; test==", "empty value");
	bad("v=TLSRPTv1; rua=mailto:x@x.example;;", "expected field name");
	bad("v=TLSRPTv1; rua=mailto:x@x.example other",
	    "unexpected character 0x6f at 35");
	bad("v=TLSRPTv1; rua=http://bad/%", "invalid percent escape");
	bad("v=TLSRPTv1; rua=http://bad/%zz", "invalid percent escape");
	bad("v=TLSRPTv1; rua=mailto:x@x.example!10m", "unexpected character 0x21");
	bad("v=TLSRPTv1; rua=mailto:a\"b@x.example", "not allowed in URI");
	bad("v=TLSRPTv1; rua=1http://x", "without scheme");
	bad("", "must start with v=TLSRPTv1");
}

static void
test_format(void **state)
{
	(void)state;
	mox_tlsrpt_record *r =
	    good("v=TLSRPTv1;rua=mailto:x@mox.example ,https://mox.example/r;"
	         "more=a;ext=2;rua=mailto:y@mox.example");
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_tlsrpt_record_format(r, &b), MOX_OK);
	assert_string_equal((char *)b.data,
	                    "v=TLSRPTv1; rua=mailto:x@mox.example,"
	                    "https://mox.example/r; rua=mailto:y@mox.example; "
	                    "more=a; ext=2");
	mox_tlsrpt_record *r2 = good((char *)b.data);
	assert_int_equal(r2->nrua, 2);
	assert_int_equal(r2->nextensions, 2);
	mox_tlsrpt_record_free(r2);
	mox_tlsrpt_record_free(r);
	mox_buf_free(&b);

	assert_true(mox_tlsrpt_is_record("v=TLSRPTv1;", 11));
	assert_true(mox_tlsrpt_is_record("v=TLSRPTv1 \t; x", 15));
	assert_false(mox_tlsrpt_is_record("v=TLSRPTv1", 10));
	assert_false(mox_tlsrpt_is_record("other", 5));
	assert_int_equal(mox_tlsrpt_uri_scheme("HTTPS://x"), MOX_TLSRPT_SCHEME_HTTPS);
	assert_int_equal(mox_tlsrpt_uri_scheme("nocolon"), MOX_TLSRPT_SCHEME_OTHER);
}

static const char zone[] =
    "$ORIGIN example.\n"
    "_smtp._tls.basic TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@basic.example\"\n"
    "_smtp._tls.one TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@basic.example\"\n"
    "_smtp._tls.one TXT \"other\"\n"
    "_smtp._tls.multiple TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@basic.example\"\n"
    "_smtp._tls.multiple TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@basic.example\"\n"
    "_smtp._tls.malformed TXT \"v=TLSRPTv1; bad\"\n"
    "_smtp._tls.other TXT \"other\"\n"
    "_smtp._tls.temperror SERVFAIL\n"
    "_smtp._tls.split TXT \"v=TLSRPTv1; \" \"rua=mailto:a@split.example\"\n";

static void
check(const mox_resolver *res, const char *domain, mox_tlsrpt_lookup_status want)
{
	mox_tlsrpt_lookup_result r;
	assert_int_equal(mox_tlsrpt_lookup(res, domain, NULL, &r), MOX_OK);
	if (r.status != want)
		fail_msg("%s: got %s (%s), want %s", domain,
		         mox_tlsrpt_lookup_status_name(r.status), r.why,
		         mox_tlsrpt_lookup_status_name(want));
	if (want == MOX_TLSRPT_LOOKUP_FOUND) {
		assert_non_null(r.record);
		assert_non_null(r.txt);
	} else {
		assert_null(r.record);
		assert_true(r.why[0] != '\0');
	}
	mox_tlsrpt_lookup_result_clear(&r);
}

static void
test_lookup(void **state)
{
	(void)state;
	mox_resolver *res = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_dns_zone_new(&res, NULL), MOX_OK);
	assert_int_equal(mox_dns_zone_load(res, zone, strlen(zone), &info), MOX_OK);
	check(res, "basic.example", MOX_TLSRPT_LOOKUP_FOUND);
	check(res, "one.example", MOX_TLSRPT_LOOKUP_FOUND);
	check(res, "multiple.example", MOX_TLSRPT_LOOKUP_MULTIPLE);
	check(res, "absent.example", MOX_TLSRPT_LOOKUP_NONE);
	check(res, "other.example", MOX_TLSRPT_LOOKUP_NONE);
	check(res, "malformed.example", MOX_TLSRPT_LOOKUP_SYNTAX);
	check(res, "temperror.example", MOX_TLSRPT_LOOKUP_TEMPERROR);
	check(res, "split.example.", MOX_TLSRPT_LOOKUP_FOUND);
	check(res, "bad name", MOX_TLSRPT_LOOKUP_NONE);

	mox_tlsrpt_lookup_result r;
	assert_int_equal(mox_tlsrpt_lookup(res, "split.example", NULL, &r), MOX_OK);
	assert_string_equal(r.txt, "v=TLSRPTv1; rua=mailto:a@split.example");
	mox_tlsrpt_lookup_result_clear(&r);

	/* OOM: each allocation of the lookup may fail. */
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_err err = mox_tlsrpt_lookup(res, "one.example", &ta.a, &r);
		mox_tlsrpt_lookup_result_clear(&r);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 1000);
	}
	mox_resolver_free(res);
}

static void
test_oom(void **state)
{
	(void)state;
	const char *txt =
	    "v=TLSRPTv1; rua=mailto:a@x.example,https://x.example/r; e=1; "
	    "rua=mailto:b@x.example";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_tlsrpt_record *r = NULL;
		mox_err err =
		    mox_tlsrpt_record_parse(txt, strlen(txt), &ta.a, &r, NULL);
		mox_tlsrpt_record_free(r);
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
	    cmocka_unit_test(test_good),   cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_format), cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
