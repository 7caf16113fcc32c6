/* check_host() (src/eval.c) on the in-memory zone: the examples of RFC
 * 7208 appendix A, every limit of RFC 7208 section 4.6.4 at and one past
 * it, loops and hostile records (bounded queries, permerror, no crash),
 * DNS errors, explanations, the HELO identity, lookups, many threads on
 * one shared cache, and an OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <mox/spf.h>
#include "mox_testalloc.h"

/* RFC 7208 appendix A, plus records for the tests below. */
static const char zone_text[] =
	"$ORIGIN example.com.\n"
	"@ A 192.0.2.10\n"
	"@ A 192.0.2.11\n"
	"amy A 192.0.2.65\n"
	"bob A 192.0.2.66\n"
	"mail-a A 192.0.2.129\n"
	"mail-b A 192.0.2.130\n"
	"www CNAME example.com.\n"
	"@ MX 10 mail-a\n"
	"@ MX 20 mail-b\n"
	"10.2.0.192.in-addr.arpa. PTR example.com.\n"
	"11.2.0.192.in-addr.arpa. PTR example.com.\n"
	"65.2.0.192.in-addr.arpa. PTR amy.example.com.\n"
	"66.2.0.192.in-addr.arpa. PTR bob.example.com.\n"
	"129.2.0.192.in-addr.arpa. PTR mail-a.example.com.\n"
	"130.2.0.192.in-addr.arpa. PTR mail-b.example.com.\n"
	"140.2.0.192.in-addr.arpa. PTR mail-c.example.org.\n"
	"4.0.0.10.in-addr.arpa. PTR bob.example.com.\n"
	"$ORIGIN example.org.\n"
	"@ MX 10 mail-c\n"
	"mail-c A 192.0.2.140\n"
	/* RFC 7208 appendix A.4: DNSBL style. */
	"$ORIGIN _spf.example.com.\n"
	"mobile-users TXT \"v=spf1 exists:%{l1r+}.%{d}\"\n"
	"remote-users TXT \"v=spf1 exists:%{ir}.%{l1r+}.%{d}\"\n"
	"mary.mobile-users A 127.0.0.2\n"
	"fred.mobile-users A 127.0.0.2\n"
	"15.15.168.192.joel.remote-users A 127.0.0.2\n"
	"16.15.168.192.joel.remote-users A 127.0.0.2\n"
	/* Tests. */
	"$ORIGIN test.\n"
	"a1 TXT \"v=spf1 +all\"\n"
	"a2 TXT \"v=spf1 a:example.com -all\"\n"
	"a3 TXT \"v=spf1 mx:example.com -all\"\n"
	"a4 TXT \"v=spf1 mx:example.com mx:example.org -all\"\n"
	"a5 TXT \"v=spf1 mx:example.com/30 mx:example.org/30 -all\"\n"
	"a6 TXT \"v=spf1 ptr:example.com -all\"\n"
	"a7 TXT \"v=spf1 ip4:192.0.2.128/28 -all\"\n"
	"a8 TXT \"v=spf1 mx:example.com include:mobile-users._spf.example.com "
	"include:remote-users._spf.example.com -all\"\n"
	/* At the limit: 10 DNS terms (a and include and redirect). */
	"terms10 TXT \"v=spf1 a:n1.test a:n2.test include:i1.test a:x.test a:x.test "
	"a:x.test a:x.test a:x.test redirect=r.test\"\n"
	"i1 TXT \"v=spf1 a:x.test\"\n"
	"r TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
	"x A 198.51.100.1\n"
	"terms11 TXT \"v=spf1 a:n1.test a:n2.test include:i1.test a:x.test a:x.test "
	"a:x.test a:x.test a:x.test a:x.test redirect=r.test\"\n"
	/* Void lookups: 2 fine, the 3rd permerror; exp does not count. */
	"void2 TXT \"v=spf1 a:n1.test mx:n2.test ip4:192.0.2.1 exp=n3.test -all\"\n"
	"void3 TXT \"v=spf1 a:n1.test exists:n2.test ptr:n3.test ip4:192.0.2.1 -all\"\n"
	/* MX: 10 names fine, 11 permerror when no match came first. */
	"mx10 TXT \"v=spf1 mx -all\"\n"
	"mx11 TXT \"v=spf1 mx -all\"\n"
	"mxnull TXT \"v=spf1 mx -all\"\n"
	"mxnull MX 0 .\n"
	/* Loops. */
	"loop TXT \"v=spf1 include:loop.test -all\"\n"
	"rloop TXT \"v=spf1 redirect=rloop.test\"\n"
	"ping TXT \"v=spf1 include:pong.test\"\n"
	"pong TXT \"v=spf1 redirect=ping.test\"\n"
	"expand TXT \"v=spf1 include:%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d}.%{d} -all\"\n"
	/* DNS failures. */
	"broken SERVFAIL\n"
	"inc-broken TXT \"v=spf1 include:broken.test -all\"\n"
	"a-broken TXT \"v=spf1 a:broken.test -all\"\n"
	"mx-broken TXT \"v=spf1 mx:broken.test -all\"\n"
	"exists-broken TXT \"v=spf1 exists:broken.test -all\"\n"
	"ptr-broken TXT \"v=spf1 ptr:broken.test ?all\"\n"
	"inc-none TXT \"v=spf1 include:nothing.test -all\"\n"
	"inc-perm TXT \"v=spf1 include:syntax.test -all\"\n"
	"syntax TXT \"v=spf1 ipv4:1.2.3.4\"\n"
	"redir-none TXT \"v=spf1 redirect=nothing.test\"\n"
	"two TXT \"v=spf1 -all\"\n"
	"two TXT \"v=spf1 +all\"\n"
	"other TXT \"not spf\"\n"
	"other TXT \"v=spf10 +all\"\n"
	/* Explanations. */
	"exp TXT \"v=spf1 -ip4:192.0.2.0/24 ?all exp=why.test\"\n"
	"why TXT \"%{i} may not send for %{d} (%{s}, %{h}, %{c}, %{r}, %{t}, %{v})\"\n"
	"exp-bad TXT \"v=spf1 -all exp=bad-why.test\"\n"
	"bad-why TXT \"bad %{x} macro\"\n"
	"exp-big TXT \"v=spf1 -all exp=big-why.test\"\n"
	"exp-p TXT \"v=spf1 -all exp=p-why.test\"\n"
	"p-why TXT \"%{p} %{p} %{p} %{p} %{p} %{p} %{p} %{p} %{p} %{p} %{p} %{p}\"\n"
	"p-dom TXT \"v=spf1 exists:%{p}.%{p}.%{p}.%{p}.%{p}.%{p}.%{p}.%{p}.ok.test -all\"\n"
	"helo TXT \"v=spf1 a -all\"\n"
	"helo A 192.0.2.25\n"
	"v6 TXT \"v=spf1 ip6:2001:db8::/32 a:v6host.test//64 -all\"\n"
	"v6host AAAA 2001:db9::1\n"
	"mapped TXT \"v=spf1 -ip6:::ffff:0:0/96 ip4:192.0.2.1 -all\"\n"
	"$AUTHENTIC yes\n"
	"secure TXT \"v=spf1 a:secure-host.test -all\"\n"
	"secure-host A 192.0.2.1\n"
	"insecure-inc TXT \"v=spf1 include:a2.test -all\"\n"
	"$AUTHENTIC no\n";

static mox_resolver *zone;

static void
add_zone(mox_resolver *z, const char *text)
{
	mox_errinfo info;
	if (mox_dns_zone_load(z, text, strlen(text), &info) != MOX_OK)
		fail_msg("zone: %s", info.msg);
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(mox_dns_zone_new(&zone, NULL), MOX_OK);
	add_zone(zone, zone_text);
	mox_buf b = MOX_BUF_INIT;
	/* mx10/mx11: 10 and 11 MX names, none matching. */
	for (int i = 0; i < 11; i++) {
		if (i < 10)
			mox_buf_appendf(&b, "mx10.test. MX %d h%d.test.\n", i, i);
		mox_buf_appendf(&b, "mx11.test. MX %d h%d.test.\n", i, i);
		mox_buf_appendf(&b, "h%d.test. A 198.51.100.%d\n", i, i + 1);
	}
	/* big-why: a TXT of 960 %{s}: expansion blows past the limit. */
	mox_buf_append_str(&b, "big-why.test. TXT");
	for (int i = 0; i < 16; i++) {
		mox_buf_append_str(&b, " \"");
		for (int j = 0; j < 60; j++)
			mox_buf_append_str(&b, "%{s}");
		mox_buf_append_str(&b, "\"");
	}
	mox_buf_append_byte(&b, '\n');
	add_zone(zone, (char *)b.data);
	mox_buf_free(&b);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(zone);
	return 0;
}

static mox_spf *
make_spf(const mox_resolver *r, const char *dflt)
{
	mox_spf_opts o = {.size = sizeof(o),
			  .resolver = r,
			  .receiver = "mx.receiver.example",
			  .default_explanation = dflt};
	mox_spf *s = NULL;
	assert_int_equal(mox_spf_new(&s, &o), MOX_OK);
	return s;
}

static mox_spf_outcome *
check(mox_spf *s, const char *ip, const char *mailfrom, const char *helo)
{
	mox_spf_request req = {.size = sizeof(req),
			       .ip = ip,
			       .mailfrom = mailfrom,
			       .helo = helo != NULL ? helo : "mail.client.example",
			       .now = 1700000000};
	mox_spf_outcome *o = NULL;
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_non_null(o);
	return o;
}

static void
expect(mox_spf *s, const char *ip, const char *mailfrom, mox_spf_result want)
{
	mox_spf_outcome *o = check(s, ip, mailfrom, NULL);
	if (o->result != want)
		fail_msg("%s from %s: %s, want %s (%s)", mailfrom, ip,
			 mox_spf_result_name(o->result), mox_spf_result_name(want),
			 o->problem ? o->problem : "");
	mox_spf_outcome_free(o);
}

/* Like expect, also checking the problem text and the mechanism. */
static void
expect_detail(mox_spf *s, const char *ip, const char *mailfrom, mox_spf_result want,
	      const char *problem, const char *mechanism)
{
	mox_spf_outcome *o = check(s, ip, mailfrom, NULL);
	if (o->result != want)
		fail_msg("%s from %s: %s, want %s (%s)", mailfrom, ip,
			 mox_spf_result_name(o->result), mox_spf_result_name(want),
			 o->problem ? o->problem : "");
	if (problem != NULL && (o->problem == NULL || strstr(o->problem, problem) == NULL))
		fail_msg("%s: problem '%s' lacks '%s'", mailfrom, o->problem ? o->problem : "",
			 problem);
	if (mechanism != NULL)
		assert_string_equal(o->mechanism ? o->mechanism : "(null)", mechanism);
	mox_spf_outcome_free(o);
}

static void
test_appendix_a(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	expect(s, "192.0.2.129", "x@a1.test", MOX_SPF_PASS);
	expect(s, "192.0.2.10", "x@a2.test", MOX_SPF_PASS);
	expect(s, "192.0.2.11", "x@a2.test", MOX_SPF_PASS);
	expect(s, "192.0.2.12", "x@a2.test", MOX_SPF_FAIL);
	expect(s, "192.0.2.129", "x@a3.test", MOX_SPF_PASS);
	expect(s, "192.0.2.130", "x@a3.test", MOX_SPF_PASS);
	expect(s, "192.0.2.140", "x@a3.test", MOX_SPF_FAIL);
	expect(s, "192.0.2.140", "x@a4.test", MOX_SPF_PASS);
	expect(s, "192.0.2.131", "x@a5.test", MOX_SPF_PASS);
	expect(s, "192.0.2.141", "x@a5.test", MOX_SPF_PASS);
	expect(s, "192.0.2.135", "x@a5.test", MOX_SPF_FAIL);
	expect(s, "192.0.2.65", "x@a6.test", MOX_SPF_PASS);
	expect(s, "192.0.2.140", "x@a6.test", MOX_SPF_FAIL);
	expect(s, "10.0.0.4", "x@a6.test", MOX_SPF_FAIL); /* PTR not validated */
	expect(s, "192.0.2.129", "x@a7.test", MOX_SPF_PASS);
	expect(s, "192.0.2.144", "x@a7.test", MOX_SPF_FAIL);
	expect(s, "1.2.3.4", "mary@a8.test", MOX_SPF_PASS);
	expect(s, "1.2.3.4", "fred+wildcard@a8.test", MOX_SPF_PASS);
	expect(s, "1.2.3.4", "joel@a8.test", MOX_SPF_FAIL);
	expect(s, "192.168.15.15", "joel@a8.test", MOX_SPF_PASS);
	expect(s, "192.168.15.17", "joel@a8.test", MOX_SPF_FAIL);
	mox_spf_free(s);
}

static void
test_limits(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	/* RFC 7208 section 4.6.4: 10 DNS terms, including nested. */
	mox_spf_outcome *o = check(s, "192.0.2.1", "x@terms10.test", NULL);
	assert_int_equal(o->result, MOX_SPF_PASS);
	assert_int_equal(o->dns_terms, 10);
	assert_int_equal(o->void_lookups, 2);
	assert_string_equal(o->mechanism, "ip4:192.0.2.1");
	mox_spf_outcome_free(o);
	expect_detail(s, "192.0.2.1", "x@terms11.test", MOX_SPF_PERMERROR,
		      "more than 10 DNS terms", NULL);
	/* Void lookups: 2 allowed, exp lookups not counted, the 3rd
	 * permerror. */
	o = check(s, "192.0.2.2", "x@void2.test", NULL);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_int_equal(o->void_lookups, 2);
	mox_spf_outcome_free(o);
	expect_detail(s, "192.0.2.1", "x@void3.test", MOX_SPF_PERMERROR, "more than 2 void lookups",
		      "ptr:n3.test");
	/* MX names: 10 fine, 11 permerror. */
	expect(s, "192.0.2.1", "x@mx10.test", MOX_SPF_FAIL);
	expect(s, "198.51.100.10", "x@mx10.test", MOX_SPF_PASS);
	expect_detail(s, "192.0.2.1", "x@mx11.test", MOX_SPF_PERMERROR, "more than 10 names", "mx");
	expect(s, "198.51.100.3", "x@mx11.test", MOX_SPF_PASS); /* matched before */
	expect(s, "192.0.2.1", "x@mxnull.test", MOX_SPF_FAIL);
	mox_spf_free(s);
}

static void
test_loops_and_hostile(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	uint64_t q0 = mox_dns_zone_queries(zone);
	expect_detail(s, "192.0.2.1", "x@loop.test", MOX_SPF_PERMERROR, "more than 10 DNS terms",
		      "include:loop.test");
	expect(s, "192.0.2.1", "x@rloop.test", MOX_SPF_PERMERROR);
	expect(s, "192.0.2.1", "x@ping.test", MOX_SPF_PERMERROR);
	/* 3 loops: at most 11 TXT queries each. */
	assert_true(mox_dns_zone_queries(zone) - q0 <= 3 * 12);
	/* A long expanded include target that does not exist: permerror. */
	expect(s, "192.0.2.1", "x@expand.test", MOX_SPF_PERMERROR);

	/* A 10k-character record of DNS terms: permerror after 10, with a
	 * bounded number of queries. */
	mox_resolver *z = NULL;
	assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(&b, "big.test. TXT \"v=spf1");
	size_t strlen_now = 0;
	while (b.len < 10000) {
		const char *term = " a:%{l}.%{d} mx ptr exists:%{i}.x.test ip4:10.0.0.1";
		strlen_now += strlen(term);
		if (strlen_now > 200) {
			mox_buf_append_str(&b, "\" \"");
			strlen_now = strlen(term);
		}
		mox_buf_append_str(&b, term);
	}
	mox_buf_append_str(&b, "\"\nbig.test. A 192.0.2.99\n");
	add_zone(z, (char *)b.data);
	mox_spf *s2 = make_spf(z, NULL);
	mox_spf_outcome *o = check(s2, "192.0.2.1", "x@big.test", NULL);
	assert_int_equal(o->result, MOX_SPF_PERMERROR);
	assert_true(mox_dns_zone_queries(z) < 60);
	mox_spf_outcome_free(o);
	mox_spf_free(s2);
	mox_resolver_free(z);
	mox_buf_free(&b);

	/* Twelve %{p} in an explanation and eight in a domain: one PTR
	 * lookup per evaluation (plus validation). */
	s2 = make_spf(zone, "DEFAULT");
	q0 = mox_dns_zone_queries(zone);
	o = check(s2, "192.0.2.65", "x@exp-p.test", NULL);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_string_equal(o->explanation,
			    "amy.example.com amy.example.com amy.example.com amy.example.com "
			    "amy.example.com amy.example.com amy.example.com amy.example.com "
			    "amy.example.com amy.example.com amy.example.com amy.example.com");
	mox_spf_outcome_free(o);
	assert_true(mox_dns_zone_queries(zone) - q0 <= 5);
	q0 = mox_dns_zone_queries(zone);
	expect(s2, "192.0.2.66", "x@p-dom.test", MOX_SPF_FAIL);
	assert_true(mox_dns_zone_queries(zone) - q0 <= 5);
	/* An explanation that would expand past MOX_SPF_EXPAND_MAX falls
	 * back to the default. */
	o = check(s2, "192.0.2.1", "x@exp-big.test", NULL);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_string_equal(o->explanation, "DEFAULT");
	mox_spf_outcome_free(o);
	mox_spf_free(s2);
	mox_spf_free(s);
}

static void
test_errors(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	expect_detail(s, "192.0.2.1", "x@broken.test", MOX_SPF_TEMPERROR, "DNS TXT lookup", NULL);
	expect_detail(s, "192.0.2.1", "x@inc-broken.test", MOX_SPF_TEMPERROR, NULL,
		      "include:broken.test");
	expect_detail(s, "192.0.2.1", "x@a-broken.test", MOX_SPF_TEMPERROR, "DNS A lookup",
		      "a:broken.test");
	expect(s, "2001:db8::1", "x@a-broken.test", MOX_SPF_TEMPERROR);
	expect(s, "192.0.2.1", "x@mx-broken.test", MOX_SPF_TEMPERROR);
	expect(s, "192.0.2.1", "x@exists-broken.test", MOX_SPF_TEMPERROR);
	/* RFC 7208 section 5.5: ptr lookup errors are no match. */
	expect(s, "192.0.2.1", "x@ptr-broken.test", MOX_SPF_NEUTRAL);
	expect_detail(s, "192.0.2.1", "x@inc-none.test", MOX_SPF_PERMERROR, "no SPF record",
		      "include:nothing.test");
	expect_detail(s, "192.0.2.1", "x@inc-perm.test", MOX_SPF_PERMERROR,
		      "unknown mechanism 'ipv4:1.2.3.4'", NULL);
	expect_detail(s, "192.0.2.1", "x@redir-none.test", MOX_SPF_PERMERROR, "no SPF record",
		      NULL);
	expect_detail(s, "192.0.2.1", "x@two.test", MOX_SPF_PERMERROR, "2 SPF records", NULL);
	expect_detail(s, "192.0.2.1", "x@other.test", MOX_SPF_NONE, "no SPF record", NULL);
	expect_detail(s, "192.0.2.1", "x@nothing.test", MOX_SPF_NONE, "no SPF record", NULL);
	expect_detail(s, "192.0.2.1", "x@syntax.test", MOX_SPF_PERMERROR, "invalid record", NULL);
	/* RFC 7208 section 4.3: no query for malformed domains. */
	uint64_t q0 = mox_dns_zone_queries(zone);
	expect_detail(s, "192.0.2.1", "x@[192.0.2.1]", MOX_SPF_NONE, "address literal", NULL);
	expect_detail(s, "192.0.2.1", "x@single", MOX_SPF_NONE, "not fully qualified", NULL);
	expect(s, "192.0.2.1", "x@a..test", MOX_SPF_NONE);
	expect(s, "192.0.2.1", "x@", MOX_SPF_NONE);
	expect(s, "192.0.2.1",
	       "x@a1234567890123456789012345678901234567890123456789012345678901234.test",
	       MOX_SPF_NONE);
	assert_int_equal(mox_dns_zone_queries(zone), q0);
	/* Bad arguments. */
	mox_spf_outcome *o = NULL;
	mox_spf_request req = {.size = sizeof(req), .ip = "not-an-ip", .mailfrom = "x@a1.test"};
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_EINVAL);
	assert_null(o);
	req.ip = NULL;
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_EINVAL);
	req.ip = "192.0.2.1";
	req.size = 4;
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_EINVAL);
	assert_int_equal(mox_spf_check(s, NULL, &o), MOX_EINVAL);
	mox_spf_opts bad = {.size = sizeof(bad)};
	mox_spf *s2 = NULL;
	assert_int_equal(mox_spf_new(&s2, &bad), MOX_EINVAL);
	bad.resolver = zone;
	bad.default_explanation = "%{x}";
	assert_int_equal(mox_spf_new(&s2, &bad), MOX_EINVAL);
	assert_null(s2);
	mox_spf_free(NULL);
	mox_spf_outcome_free(NULL);
	mox_spf_free(s);
}

static void
test_explanation(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, "see https://example.net/why?%{s}");
	mox_spf_outcome *o = check(s, "192.0.2.7", "Some.One@exp.test", "client.example");
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_string_equal(o->explanation,
			    "192.0.2.7 may not send for exp.test (Some.One@exp.test, "
			    "client.example, 192.0.2.7, mx.receiver.example, 1700000000, "
			    "in-addr)");
	assert_string_equal(o->mechanism, "-ip4:192.0.2.0/24");
	assert_null(o->problem);
	mox_spf_outcome_free(o);
	/* Not a fail: no explanation. */
	o = check(s, "198.51.100.1", "x@exp.test", NULL);
	assert_int_equal(o->result, MOX_SPF_NEUTRAL);
	assert_null(o->explanation);
	mox_spf_outcome_free(o);
	/* Bad macro in the TXT: the default, expanded. */
	o = check(s, "192.0.2.7", "x@exp-bad.test", NULL);
	assert_string_equal(o->explanation, "see https://example.net/why?x@exp-bad.test");
	mox_spf_outcome_free(o);
	/* No default: no explanation. */
	mox_spf *s2 = make_spf(zone, NULL);
	o = check(s2, "192.0.2.7", "x@exp-bad.test", NULL);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_null(o->explanation);
	mox_spf_outcome_free(o);
	mox_spf_free(s2);
	mox_spf_free(s);
}

static void
test_identities(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	/* Null reverse-path: postmaster@helo (RFC 7208 section 2.4). */
	mox_spf_outcome *o = check(s, "192.0.2.25", "", "helo.test");
	assert_int_equal(o->result, MOX_SPF_PASS);
	assert_int_equal(o->identity, MOX_SPF_IDENTITY_HELO);
	assert_string_equal(o->sender, "postmaster@helo.test");
	assert_string_equal(o->domain, "helo.test");
	mox_spf_outcome_free(o);
	/* Explicit HELO check (RFC 7208 section 2.3). */
	mox_spf_request req = {.size = sizeof(req),
			       .ip = "192.0.2.26",
			       .mailfrom = "user@a1.test",
			       .helo = "HELO.test.",
			       .check_helo = true};
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	assert_int_equal(o->identity, MOX_SPF_IDENTITY_HELO);
	assert_string_equal(o->domain, "helo.test");
	mox_spf_outcome_free(o);
	/* HELO that is an address literal or no FQDN: none. */
	o = check(s, "192.0.2.25", NULL, "[192.0.2.25]");
	assert_int_equal(o->result, MOX_SPF_NONE);
	mox_spf_outcome_free(o);
	o = check(s, "192.0.2.25", NULL, "OEMCOMPUTER");
	assert_int_equal(o->result, MOX_SPF_NONE);
	mox_spf_outcome_free(o);
	/* No local part: postmaster (RFC 7208 section 4.3). */
	o = check(s, "192.0.2.1", "@a1.test", NULL);
	assert_string_equal(o->sender, "postmaster@a1.test");
	mox_spf_outcome_free(o);
	/* IDN domain becomes A-labels. */
	o = check(s, "192.0.2.1", "x@bücher.test", NULL);
	assert_string_equal(o->domain, "xn--bcher-kva.test");
	assert_int_equal(o->result, MOX_SPF_NONE);
	mox_spf_outcome_free(o);
	/* IPv6, and IPv4-mapped IPv6 treated as IPv4. */
	expect(s, "2001:db8:1::1", "x@v6.test", MOX_SPF_PASS);
	expect(s, "2001:db9::ffff", "x@v6.test", MOX_SPF_PASS);
	expect(s, "2001:dba::1", "x@v6.test", MOX_SPF_FAIL);
	expect(s, "::ffff:192.0.2.1", "x@mapped.test", MOX_SPF_PASS);
	mox_spf_free(s);
}

static void
test_authentic(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	mox_spf_outcome *o = check(s, "192.0.2.1", "x@secure.test", NULL);
	assert_int_equal(o->result, MOX_SPF_PASS);
	assert_true(o->authentic);
	mox_spf_outcome_free(o);
	/* The include goes to an unsigned zone. */
	o = check(s, "192.0.2.10", "x@insecure-inc.test", NULL);
	assert_int_equal(o->result, MOX_SPF_PASS);
	assert_false(o->authentic);
	mox_spf_outcome_free(o);
	mox_spf_free(s);
}

static void
test_lookup(void **state)
{
	(void)state;
	mox_spf *s = make_spf(zone, NULL);
	mox_spf_result res;
	mox_buf txt = MOX_BUF_INIT;
	mox_spf_record *rec = NULL;
	bool auth = true;
	mox_errinfo info = {0};
	assert_int_equal(mox_spf_lookup(s, "a7.test", &res, &txt, &rec, &auth, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_NONE);
	assert_non_null(rec);
	assert_false(auth);
	assert_string_equal((char *)txt.data, "v=spf1 ip4:192.0.2.128/28 -all");
	mox_spf_record_free(rec);
	mox_buf_reset(&txt);
	assert_int_equal(mox_spf_lookup(s, "secure.test.", &res, &txt, &rec, &auth, &info),
			 MOX_OK);
	assert_true(auth);
	mox_spf_record_free(rec);
	mox_buf_reset(&txt);
	assert_int_equal(mox_spf_lookup(s, "nothing.test", &res, &txt, &rec, NULL, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_NONE);
	assert_null(rec);
	assert_int_equal(mox_spf_lookup(s, "broken.test", &res, NULL, &rec, NULL, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_TEMPERROR);
	assert_int_equal(mox_spf_lookup(s, "two.test", &res, NULL, &rec, NULL, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_PERMERROR);
	assert_int_equal(mox_spf_lookup(s, "syntax.test", &res, &txt, &rec, NULL, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_PERMERROR);
	assert_non_null(strstr(info.msg, "unknown mechanism"));
	assert_int_equal(mox_spf_lookup(s, "[1.2.3.4]", &res, NULL, &rec, NULL, &info), MOX_OK);
	assert_int_equal(res, MOX_SPF_NONE);
	assert_int_equal(mox_spf_lookup(s, NULL, &res, NULL, &rec, NULL, &info), MOX_EINVAL);
	mox_buf_free(&txt);
	mox_spf_free(s);
	assert_int_equal(mox_spf_version(), MOX_SPF_VERSION_HEX);
	assert_string_equal(mox_spf_result_name(MOX_SPF_SOFTFAIL), "softfail");
	assert_string_equal(mox_spf_result_name((mox_spf_result)99), "?");
}

/* Many evaluations at once on one handle over one shared cache. */
typedef struct job {
	mox_spf *spf;
	int failures;
} job;

static void *
worker(void *arg)
{
	job *j = arg;
	static const struct {
		const char *ip, *from;
		mox_spf_result want;
	} cases[] = {
		{"192.0.2.10", "x@a2.test", MOX_SPF_PASS},
		{"192.0.2.12", "x@a2.test", MOX_SPF_FAIL},
		{"192.168.15.15", "joel@a8.test", MOX_SPF_PASS},
		{"192.0.2.1", "x@loop.test", MOX_SPF_PERMERROR},
		{"192.0.2.1", "x@broken.test", MOX_SPF_TEMPERROR},
		{"192.0.2.65", "x@a6.test", MOX_SPF_PASS},
		{"192.0.2.7", "x@exp.test", MOX_SPF_FAIL},
	};
	for (int i = 0; i < 300; i++) {
		size_t k = (size_t)i % (sizeof(cases) / sizeof(cases[0]));
		mox_spf_request req = {.size = sizeof(req),
				       .ip = cases[k].ip,
				       .mailfrom = cases[k].from,
				       .helo = "h.example"};
		mox_spf_outcome *o = NULL;
		if (mox_spf_check(j->spf, &req, &o) != MOX_OK || o->result != cases[k].want ||
		    (o->result == MOX_SPF_FAIL && k == 6 && o->explanation == NULL))
			j->failures++;
		mox_spf_outcome_free(o);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	mox_resolver *cache = NULL;
	mox_dns_cache_opts co = {.size = sizeof(co)};
	assert_int_equal(mox_dns_cache_new(&cache, zone, &co), MOX_OK);
	mox_spf *s = make_spf(cache, "DEFAULT");
	enum { NT = 8 };
	pthread_t th[NT];
	job jobs[NT];
	for (int i = 0; i < NT; i++) {
		jobs[i].spf = s;
		jobs[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	int failures = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		failures += jobs[i].failures;
	}
	assert_int_equal(failures, 0);
	mox_dns_cache_stats st;
	assert_int_equal(mox_dns_cache_stats_get(cache, &st), MOX_OK);
	assert_true(st.hits > st.misses);
	mox_spf_free(s);
	mox_resolver_free(cache);
}

static void
test_oom(void **state)
{
	(void)state;
	static const struct {
		const char *ip, *from;
	} cases[] = {
		{"192.168.15.15", "joel@a8.test"}, /* include, exists, macros */
		{"192.0.2.7", "x@exp.test"},       /* explanation */
		{"192.0.2.65", "x@exp-p.test"},    /* %{p} */
		{"192.0.2.65", "x@a6.test"},       /* ptr */
		{"192.0.2.1", "x@inc-perm.test"},  /* problem text */
		{"192.0.2.1", "x@loop.test"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		mox_spf_result want = MOX_SPF_NONE;
		for (long n = 0;; n++) {
			mox_testalloc ta;
			mox_testalloc_init(&ta, n);
			mox_spf_opts o = {.size = sizeof(o),
					  .alloc = &ta.a,
					  .resolver = zone,
					  .receiver = "r.example",
					  .default_explanation = "no %{i}"};
			mox_spf *s = NULL;
			mox_err err = mox_spf_new(&s, &o);
			mox_spf_outcome *out = NULL;
			if (err == MOX_OK) {
				mox_spf_request req = {.size = sizeof(req),
						       .ip = cases[k].ip,
						       .mailfrom = cases[k].from,
						       .helo = "h.example"};
				err = mox_spf_check(s, &req, &out);
				if (err == MOX_OK) {
					mox_buf b = MOX_BUF_INIT;
					mox_buf_init(&b, &ta.a);
					err = mox_spf_received_header(out, &b);
					if (err == MOX_OK)
						err = mox_spf_authres(out, &b);
					mox_buf_free(&b);
					want = out->result;
				}
			}
			mox_spf_outcome_free(out);
			mox_spf_free(s);
			assert_int_equal(ta.live, 0);
			if (err == MOX_OK)
				break;
			assert_int_equal(err, MOX_ENOMEM);
			assert_true(n < 5000);
		}
		assert_true(want != MOX_SPF_NONE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appendix_a), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_loops_and_hostile), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_explanation), cmocka_unit_test(test_identities),
		cmocka_unit_test(test_authentic), cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_threads), cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
