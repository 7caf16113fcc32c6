/* The in-memory zone backend: parsing, every record type, negative answers,
 * CNAMEs, wildcards, injected failures, AD bit, and an OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dns.h>
#include "mox_testalloc.h"

static const char zone_text[] =
	"; test zone\n"
	"$ORIGIN example.com.\n"
	"$TTL 600\n"
	"@          3600 IN SOA ns1 hostmaster 1 7200 900 1209600 120\n"
	"@               MX 20 mx2\n"
	"                MX 10 mx1.example.com.\n"
	"@               TXT \"v=spf1 \" \"ip4:192.0.2.0/24 -all\"\n"
	"mx1        300  A 192.0.2.10\n"
	"mx1             AAAA 2001:db8::10\n"
	"mx2             A 192.0.2.20\n"
	"quoted          TXT \"a \\\"quote\\\" and \\\\ and \\065\" bare\n"
	"alias           CNAME alias2\n"
	"alias2          CNAME mx1\n"
	"loop1           CNAME loop2\n"
	"loop2           CNAME loop1\n"
	"a.b.ent         A 192.0.2.30\n"
	"*.wild          TXT \"wildcard\"\n"
	"x.wild          A 192.0.2.40\n"
	"broken          SERVFAIL\n"
	"slow            TIMEOUT\n"
	"bad             PERMFAIL\n"
	"nullmx.example.net. MX 0 .\n"
	"10.2.0.192.in-addr.arpa. PTR mx1\n"
	"_25._tcp.mx1    TLSA 3 1 1 0123456789ABCDEF 00ff\n"
	"$AUTHENTIC yes\n"
	"signed          A 192.0.2.50\n"
	"$ORIGIN signed.example.org.\n"
	"@    SOA ns hm 1 2 3 4 30\n"
	"@    A 192.0.2.60\n";

static mox_resolver *
load(void)
{
	mox_resolver *z = NULL;
	assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
	mox_errinfo info = {0};
	mox_err err = mox_dns_zone_load(z, zone_text, strlen(zone_text), &info);
	if (err != MOX_OK)
		fail_msg("load: %s", info.msg);
	return z;
}

static mox_dns_answer *
q(mox_resolver *z, const char *name, mox_dns_type type, mox_dns_status want)
{
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(z, name, type, &a), MOX_OK);
	assert_non_null(a);
	if (a->status != want)
		fail_msg("%s %s: got %s, want %s (%s)", name, mox_dns_type_name(type),
			 mox_dns_status_name(a->status), mox_dns_status_name(want),
			 a->why ? a->why : "");
	assert_int_equal(a->qtype, type);
	return a;
}

static void
test_records(void **state)
{
	(void)state;
	mox_resolver *z = load();
	mox_dns_answer *a;

	a = q(z, "EXAMPLE.com.", MOX_DNS_MX, MOX_DNS_FOUND);
	assert_string_equal(a->qname, "example.com");
	assert_int_equal(a->nrr, 2);
	assert_int_equal(a->rr[0].u.mx.preference, 20);
	assert_string_equal(a->rr[0].u.mx.host, "mx2.example.com");
	assert_string_equal(a->rr[1].u.mx.host, "mx1.example.com");
	assert_int_equal(a->rr[0].ttl, 600);
	assert_false(a->authentic);
	assert_int_equal(a->rcode, 0);
	mox_dns_answer_free(a);

	a = q(z, "example.com", MOX_DNS_TXT, MOX_DNS_FOUND);
	assert_int_equal(a->rr[0].u.txt.nstrings, 2);
	assert_string_equal((char *)a->rr[0].u.txt.data, "v=spf1 ip4:192.0.2.0/24 -all");
	assert_int_equal(a->rr[0].u.txt.lens[0], 7);
	assert_string_equal((char *)a->rr[0].u.txt.strings[1], "ip4:192.0.2.0/24 -all");
	mox_dns_answer_free(a);

	a = q(z, "quoted.example.com", MOX_DNS_TXT, MOX_DNS_FOUND);
	assert_string_equal((char *)a->rr[0].u.txt.strings[0], "a \"quote\" and \\ and A");
	assert_string_equal((char *)a->rr[0].u.txt.strings[1], "bare");
	mox_dns_answer_free(a);

	a = q(z, "mx1.example.com", MOX_DNS_A, MOX_DNS_FOUND);
	assert_int_equal(a->rr[0].ttl, 300);
	assert_memory_equal(a->rr[0].u.a, ((uint8_t[]){192, 0, 2, 10}), 4);
	mox_dns_answer_free(a);

	a = q(z, "mx1.example.com", MOX_DNS_AAAA, MOX_DNS_FOUND);
	assert_int_equal(a->rr[0].u.aaaa[0], 0x20);
	assert_int_equal(a->rr[0].u.aaaa[15], 0x10);
	mox_dns_answer_free(a);

	a = q(z, "10.2.0.192.in-addr.arpa", MOX_DNS_PTR, MOX_DNS_FOUND);
	assert_string_equal(a->rr[0].u.host, "mx1.example.com");
	mox_dns_answer_free(a);

	a = q(z, "_25._tcp.mx1.example.com", MOX_DNS_TLSA, MOX_DNS_FOUND);
	assert_int_equal(a->rr[0].u.tlsa.usage, 3);
	assert_int_equal(a->rr[0].u.tlsa.len, 10);
	assert_int_equal(a->rr[0].u.tlsa.data[0], 0x01);
	assert_int_equal(a->rr[0].u.tlsa.data[9], 0xff);
	mox_dns_answer_free(a);

	/* RFC 7505 null MX. */
	a = q(z, "nullmx.example.net", MOX_DNS_MX, MOX_DNS_FOUND);
	assert_string_equal(a->rr[0].u.mx.host, "");
	assert_int_equal(a->rr[0].u.mx.preference, 0);
	mox_dns_answer_free(a);
	mox_resolver_free(z);
}

static void
test_negative(void **state)
{
	(void)state;
	mox_resolver *z = load();
	mox_dns_answer *a;

	a = q(z, "nonexistent.example.com", MOX_DNS_A, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->rcode, 3);
	/* RFC 2308 section 5: min(SOA TTL, MINIMUM). */
	assert_int_equal(a->neg_ttl, 120);
	assert_int_equal(a->nrr, 0);
	mox_dns_answer_free(a);

	a = q(z, "mx2.example.com", MOX_DNS_AAAA, MOX_DNS_NODATA);
	assert_int_equal(a->rcode, 0);
	mox_dns_answer_free(a);

	/* Empty non-terminals exist (RFC 8020). */
	a = q(z, "b.ent.example.com", MOX_DNS_A, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	a = q(z, "ent.example.com", MOX_DNS_TXT, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	a = q(z, "c.b.ent.example.com", MOX_DNS_A, MOX_DNS_NXDOMAIN);
	mox_dns_answer_free(a);

	/* Unknown names outside any zone: NXDOMAIN with no SOA TTL. */
	a = q(z, "example.invalid", MOX_DNS_A, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->neg_ttl, 0);
	mox_dns_answer_free(a);
	mox_resolver_free(z);
}

static void
test_cname_wildcard(void **state)
{
	(void)state;
	mox_resolver *z = load();
	mox_dns_answer *a;

	a = q(z, "alias.example.com", MOX_DNS_A, MOX_DNS_FOUND);
	assert_string_equal(a->cname, "mx1.example.com");
	assert_string_equal(a->rr[0].name, "mx1.example.com");
	mox_dns_answer_free(a);

	a = q(z, "alias.example.com", MOX_DNS_CNAME, MOX_DNS_FOUND);
	assert_null(a->cname);
	assert_string_equal(a->rr[0].u.host, "alias2.example.com");
	mox_dns_answer_free(a);

	a = q(z, "alias.example.com", MOX_DNS_TXT, MOX_DNS_NODATA);
	assert_string_equal(a->cname, "mx1.example.com");
	mox_dns_answer_free(a);

	a = q(z, "loop1.example.com", MOX_DNS_A, MOX_DNS_PERMFAIL);
	assert_non_null(strstr(a->why, "CNAME"));
	mox_dns_answer_free(a);

	/* RFC 4592: the wildcard answers for names that do not exist, with the
	 * asked name as owner; not for names that exist. */
	a = q(z, "anything.wild.example.com", MOX_DNS_TXT, MOX_DNS_FOUND);
	assert_string_equal(a->rr[0].name, "anything.wild.example.com");
	assert_string_equal((char *)a->rr[0].u.txt.data, "wildcard");
	mox_dns_answer_free(a);
	a = q(z, "x.wild.example.com", MOX_DNS_TXT, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	a = q(z, "a.anything.wild.example.com", MOX_DNS_TXT, MOX_DNS_FOUND);
	mox_dns_answer_free(a);
	mox_resolver_free(z);
}

static void
test_failures_and_ad(void **state)
{
	(void)state;
	mox_resolver *z = load();
	mox_dns_answer *a;

	a = q(z, "broken.example.com", MOX_DNS_TXT, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->rcode, 2);
	assert_non_null(strstr(a->why, "SERVFAIL"));
	mox_dns_answer_free(a);
	a = q(z, "slow.example.com", MOX_DNS_A, MOX_DNS_TEMPFAIL);
	assert_non_null(strstr(a->why, "timeout"));
	mox_dns_answer_free(a);
	a = q(z, "bad.example.com", MOX_DNS_A, MOX_DNS_PERMFAIL);
	mox_dns_answer_free(a);

	/* Invalid names never reach the backend. */
	uint64_t before = mox_dns_zone_queries(z);
	a = q(z, "a..example.com", MOX_DNS_A, MOX_DNS_PERMFAIL);
	assert_non_null(strstr(a->why, "empty label"));
	mox_dns_answer_free(a);
	a = q(z, "b\xff.example.com", MOX_DNS_A, MOX_DNS_PERMFAIL);
	mox_dns_answer_free(a);
	assert_int_equal(mox_dns_zone_queries(z), before);

	a = q(z, "signed.example.com", MOX_DNS_A, MOX_DNS_FOUND);
	assert_true(a->authentic);
	mox_dns_answer_free(a);
	a = q(z, "mx1.example.com", MOX_DNS_A, MOX_DNS_FOUND);
	assert_false(a->authentic);
	mox_dns_answer_free(a);
	/* Authenticated denial from a signed zone. */
	a = q(z, "nope.signed.example.org", MOX_DNS_A, MOX_DNS_NXDOMAIN);
	assert_true(a->authentic);
	assert_int_equal(a->neg_ttl, 30);
	mox_dns_answer_free(a);
	a = q(z, "signed.example.org", MOX_DNS_MX, MOX_DNS_NODATA);
	assert_true(a->authentic);
	mox_dns_answer_free(a);

	assert_int_equal(mox_dns_lookup(z, "x", MOX_DNS_A, NULL), MOX_EINVAL);
	mox_dns_answer *n = (mox_dns_answer *)1;
	assert_int_equal(mox_dns_lookup(NULL, "x", MOX_DNS_A, &n), MOX_EINVAL);
	assert_null(n);
	mox_resolver_free(z);
}

static void
test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t line;
		const char *msg;
	} bad[] = {
		{"a.example. A 1.2.3.4\nb.example. MXX 10 a\n", 2, "unknown record type"},
		{"a.example. A 1.2.3\n", 1, "bad address"},
		{"a.example. AAAA 1.2.3.4\n", 1, "bad address"},
		{"a.example. MX 70000 b.example.\n", 1, "bad MX preference"},
		{"a.example. TXT \"unterminated\n", 1, "unterminated"},
		{"a.example. TXT\n", 1, "without strings"},
		{"a.example. A 1.2.3.4 extra\n", 1, "trailing text"},
		{"@ A 1.2.3.4\n", 1, "without $ORIGIN"},
		{"  A 1.2.3.4\n", 1, "without owner"},
		{"a..example. A 1.2.3.4\n", 1, "bad name"},
		{"$TTL abc\n", 1, "bad $TTL"},
		{"$FOO bar\n", 1, "unknown directive"},
		{"$AUTHENTIC maybe\n", 1, "$AUTHENTIC"},
		{"a.example. TLSA 3 1 1 abc\n", 1, "whole hex"},
		{"a.example. TLSA 3 1 1 zz\n", 1, "bad hex"},
		{"a.example. SOA ns. hm. 1 2 3\n", 1, "bad SOA"},
		{"a.example. 99999999999 A 1.2.3.4\n", 1, "bad TTL"},
		{"a.example. TXT \"\\999\"\n", 1, "escape"},
		{"a.example. A 1.2.3.4\n\nb\0c A 1.2.3.4\n", 3, "NUL"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_resolver *z = NULL;
		assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
		size_t len = strlen(bad[i].text);
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			len = 36; /* past the NUL byte, to the end */
		mox_errinfo info = {0};
		mox_err err = mox_dns_zone_load(z, bad[i].text, len, &info);
		if (err != MOX_ESYNTAX || info.offset != bad[i].line ||
		    strstr(info.msg, bad[i].msg) == NULL)
			fail_msg("case %zu: got %s line %zu '%s'", i, mox_err_name(err),
				 info.offset, info.msg);
		/* Nothing of a failed load is added. */
		mox_dns_answer *a = q(z, "a.example", MOX_DNS_A, MOX_DNS_NXDOMAIN);
		mox_dns_answer_free(a);
		mox_resolver_free(z);
	}
	/* A 256-octet string is too long (RFC 1035 section 3.3). */
	char text[400];
	memcpy(text, "a.example. TXT ", 15);
	memset(text + 15, 'x', 256);
	memcpy(text + 15 + 256, "\n", 2);
	mox_resolver *z = NULL;
	assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
	mox_errinfo info = {0};
	assert_int_equal(mox_dns_zone_load(z, text, strlen(text), &info), MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "255"));
	text[15 + 255] = '\n';
	text[15 + 256] = '\0';
	assert_int_equal(mox_dns_zone_load(z, text, strlen(text), &info), MOX_OK);
	mox_resolver_free(z);
}

/* Fail the n-th allocation, for n = 0, 1, ... until a full load and a set of
 * lookups succeed: every failure is MOX_ENOMEM and leaks nothing. */
static void
test_oom(void **state)
{
	(void)state;
	static const char *names[] = {"example.com", "alias.example.com",
				      "quoted.example.com", "nonexistent.example.com",
				      "_25._tcp.mx1.example.com", "a.x.wild.example.com"};
	static const mox_dns_type types[] = {MOX_DNS_MX, MOX_DNS_A, MOX_DNS_TXT,
					     MOX_DNS_A, MOX_DNS_TLSA, MOX_DNS_TXT};
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_dns_zone_opts opts = {.size = sizeof(opts), .alloc = &ta.a};
		mox_resolver *z = NULL;
		mox_err err = mox_dns_zone_new(&z, &opts);
		if (err == MOX_OK)
			err = mox_dns_zone_load(z, zone_text, strlen(zone_text), NULL);
		for (size_t i = 0; err == MOX_OK && i < 6; i++) {
			mox_dns_answer *a = NULL;
			err = mox_dns_lookup(z, names[i], types[i], &a);
			if (err == MOX_OK) {
				mox_dns_answer *c = NULL;
				err = mox_dns_answer_copy(a, &ta.a, &c);
				mox_dns_answer_free(c);
			}
			mox_dns_answer_free(a);
		}
		mox_resolver_free(z);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 100000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),       cmocka_unit_test(test_negative),
		cmocka_unit_test(test_cname_wildcard), cmocka_unit_test(test_failures_and_ad),
		cmocka_unit_test(test_parse_errors),  cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
