/* Record parsing and formatting (src/record.c): the RFC 7208 examples,
 * every mechanism and modifier, precise errors, canonical formatting,
 * hostile input at and past the limits, and an OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/spf.h>
#include "mox_testalloc.h"

static mox_spf_record *
parse_ok(const char *txt)
{
	mox_spf_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_spf_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_OK)
		fail_msg("parse '%s': %s", txt, info.msg);
	return r;
}

/* Parse must fail with a message containing want (and offset off when
 * off >= 0). */
static void
parse_bad(const char *txt, const char *want, long off)
{
	mox_spf_record *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_spf_record_parse(txt, strlen(txt), NULL, &r, &info);
	if (err != MOX_ESYNTAX)
		fail_msg("parse '%s': got %s, want MOX_ESYNTAX", txt, mox_err_name(err));
	assert_null(r);
	if (strstr(info.msg, want) == NULL)
		fail_msg("parse '%s': message '%s' lacks '%s'", txt, info.msg, want);
	if (off >= 0 && (long)info.offset != off)
		fail_msg("parse '%s': offset %zu, want %ld (%s)", txt, info.offset, off,
			 info.msg);
}

static void
roundtrip(const char *txt, const char *canon)
{
	mox_spf_record *r = parse_ok(txt);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_spf_record_format(r, &b), MOX_OK);
	assert_string_equal((const char *)b.data, canon);
	mox_spf_record *r2 = parse_ok((const char *)b.data);
	mox_buf b2 = MOX_BUF_INIT;
	assert_int_equal(mox_spf_record_format(r2, &b2), MOX_OK);
	assert_string_equal((const char *)b2.data, canon);
	mox_buf_free(&b);
	mox_buf_free(&b2);
	mox_spf_record_free(r);
	mox_spf_record_free(r2);
}

static void
test_is_spf(void **state)
{
	(void)state;
	/* RFC 7208 section 4.5. */
	assert_true(mox_spf_record_is_spf("v=spf1", 6));
	assert_true(mox_spf_record_is_spf("v=spf1 -all", 11));
	assert_true(mox_spf_record_is_spf("V=SpF1 -all", 11));
	assert_false(mox_spf_record_is_spf("v=spf10", 7));
	assert_false(mox_spf_record_is_spf("v=spf1-all", 10));
	assert_false(mox_spf_record_is_spf(" v=spf1", 7));
	assert_false(mox_spf_record_is_spf("v=spf", 5));
	assert_false(mox_spf_record_is_spf(NULL, 0));
}

static void
test_rfc_examples(void **state)
{
	(void)state;
	/* RFC 7208 appendix A.1 and section 5 examples. */
	roundtrip("v=spf1 +all", "v=spf1 +all");
	roundtrip("v=spf1 a -all", "v=spf1 a -all");
	roundtrip("v=spf1 a:example.org -all", "v=spf1 a:example.org -all");
	roundtrip("v=spf1 mx -all", "v=spf1 mx -all");
	roundtrip("v=spf1 mx/30 mx:example.org/30 -all", "v=spf1 mx/30 mx:example.org/30 -all");
	roundtrip("v=spf1 ptr -all", "v=spf1 ptr -all");
	roundtrip("v=spf1 ip4:192.0.2.128/28 -all", "v=spf1 ip4:192.0.2.128/28 -all");
	roundtrip("v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all",
		  "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all");
	roundtrip("v=spf1 exists:%{ir}.%{l1r+}.%{d}", "v=spf1 exists:%{ir}.%{l1r+}.%{d}");
	roundtrip("v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all",
		  "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all");
	roundtrip("v=spf1 redirect=_spf.example.com", "v=spf1 redirect=_spf.example.com");
	roundtrip("v=spf1", "v=spf1");
	/* Case, spacing, canonical order of modifiers. */
	roundtrip("V=SPF1   IP6:2001:DB8::/32  ~ALL   exp=x.%{d} foo=bar redirect=r.example ",
		  "v=spf1 ip6:2001:db8::/32 ~all redirect=r.example exp=x.%{d} foo=bar");
	roundtrip("v=spf1 a/24//64 mx//0 a:a.example//128 ?mx:m.example/0",
		  "v=spf1 a/24//64 mx//0 a:a.example//128 ?mx:m.example/0");
	/* A domain-spec may hold ":" and "/" (ABNF macro-literal). */
	roundtrip("v=spf1 a:foo:bar/baz.example.com", "v=spf1 a:foo:bar/baz.example.com");
	roundtrip("v=spf1 a:foo:bar/baz.example.com/24", "v=spf1 a:foo:bar/baz.example.com/24");
	roundtrip("v=spf1 a:foo.example.xn--zckzah -all", "v=spf1 a:foo.example.xn--zckzah -all");
	roundtrip("v=spf1 ip6:::ffff:1.2.3.4 ip6:::1.1.1.1/0", "v=spf1 ip6:::ffff:1.2.3.4 ip6:::1.1.1.1/0");
	roundtrip("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
		  "v=spf1 ip4:1.2.3.4 -all moo.cow-far_out=man:dog/cat");
	roundtrip("v=spf1 default=pass empty=", "v=spf1 default=pass empty=");
	roundtrip("v=spf1 a:example.com.", "v=spf1 a:example.com.");
	roundtrip("v=spf1 a:%{d}", "v=spf1 a:%{d}");
	roundtrip("v=spf1 a:x%%", "v=spf1 a:x%%");
}

static void
test_directives(void **state)
{
	(void)state;
	mox_spf_record *r =
		parse_ok("v=spf1 -a:mail.%{d}/24//64 ~ip4:192.0.2.1 ?ip6:2001:db8::1/48 "
			 "exists:x.example redirect=r.example exp=e.example");
	assert_int_equal(mox_spf_record_directives(r), 4);
	mox_spf_directive d;
	assert_int_equal(mox_spf_record_directive(r, 0, &d), MOX_OK);
	assert_int_equal(d.qualifier, MOX_SPF_FAIL);
	assert_int_equal(d.mechanism, MOX_SPF_MECH_A);
	assert_string_equal(d.domain_spec, "mail.%{d}");
	assert_int_equal(d.ip4_cidr, 24);
	assert_int_equal(d.ip6_cidr, 64);
	assert_int_equal(mox_spf_record_directive(r, 1, &d), MOX_OK);
	assert_int_equal(d.qualifier, MOX_SPF_SOFTFAIL);
	assert_int_equal(d.mechanism, MOX_SPF_MECH_IP4);
	assert_null(d.domain_spec);
	assert_int_equal(d.ip4_cidr, -1);
	assert_memory_equal(d.ip, "\xc0\x00\x02\x01", 4);
	assert_int_equal(mox_spf_record_directive(r, 2, &d), MOX_OK);
	assert_int_equal(d.qualifier, MOX_SPF_NEUTRAL);
	assert_int_equal(d.ip6_cidr, 48);
	assert_int_equal(d.ip[15], 1);
	assert_int_equal(mox_spf_record_directive(r, 3, &d), MOX_OK);
	assert_int_equal(d.qualifier, MOX_SPF_PASS);
	assert_int_equal(d.mechanism, MOX_SPF_MECH_EXISTS);
	assert_int_equal(mox_spf_record_directive(r, 4, &d), MOX_ERANGE);
	assert_string_equal(mox_spf_record_redirect(r), "r.example");
	assert_string_equal(mox_spf_record_exp(r), "e.example");
	mox_spf_record_free(r);
	mox_spf_record_free(NULL);
	assert_int_equal(mox_spf_record_directives(NULL), 0);
	assert_null(mox_spf_record_redirect(NULL));
}

static void
test_errors(void **state)
{
	(void)state;
	parse_bad("x", "not an spf record", 0);
	parse_bad("v=spf1 ipv4:192.0.2.1 -all", "unknown mechanism 'ipv4:192.0.2.1'", 7);
	parse_bad("v=spf1 ip4:1.2.3.4 -all moo", "unknown mechanism 'moo'", 24);
	parse_bad("v=spf1 moo.cow/far_out=man:dog/cat", "unknown mechanism", 7);
	parse_bad("v=spf1 moo.cow:far_out=man:dog/cat", "unknown mechanism", 7);
	parse_bad("v=spf1 1up=foo", "unknown mechanism", 7);
	parse_bad("v=spf1 =all", "expected mechanism", 7);
	parse_bad("v=spf1 redirect:t2.example.com", "unknown mechanism", 7);
	parse_bad("v=spf1 -all.", "unknown mechanism 'all.'", 8);
	parse_bad("v=spf1 -all:foobar", "no argument allowed for all", 11);
	parse_bad("v=spf1 -all/8", "no argument allowed for all", 11);
	parse_bad("v=spf1 + all", "expected mechanism", 8);
	/* CIDR lengths: range, leading zeros, dual only for a/mx. */
	parse_bad("v=spf1 ip4:1.2.3.4/33", "invalid ip4 cidr length '/33'", 18);
	parse_bad("v=spf1 ip4:1.2.3.4/032", "invalid ip4 cidr length", 18);
	parse_bad("v=spf1 ip4:1.2.3.4//32", "invalid ip4 cidr length", 18);
	parse_bad("v=spf1 ip4:1.2.3.4/", "invalid ip4 cidr length", 18);
	parse_bad("v=spf1 ip6:::1/129", "invalid ip6 cidr length", 14);
	parse_bad("v=spf1 ip6:::1.1.1.1//33", "invalid ip6 cidr length", 20);
	parse_bad("v=spf1 a/33", "invalid ip4 cidr length '33'", 9);
	parse_bad("v=spf1 a//129", "invalid ip6 cidr length '129'", 10);
	parse_bad("v=spf1 a/24/64", "invalid ip4 cidr length '64'", 12);
	parse_bad("v=spf1 mx/-1", "unexpected '/-1'", 9);
	parse_bad("v=spf1 ptr/0", "unexpected '/0' after ptr", 10);
	/* Addresses. */
	parse_bad("v=spf1 ip4:1.2.3", "invalid ip4 address '1.2.3'", 11);
	parse_bad("v=spf1 ip4:1.2.3.4:8080", "invalid ip4 address", 11);
	parse_bad("v=spf1 ip4:01.2.3.4", "invalid ip4 address", 11);
	parse_bad("v=spf1 ip4:256.2.3.4", "invalid ip4 address", 11);
	parse_bad("v=spf1 ip4", "needs ':' and an address", 7);
	parse_bad("v=spf1 -all ip6", "needs ':' and an address", 12);
	parse_bad("v=spf1 ip6::CAFE::BABE", "invalid ip6 address", 11);
	parse_bad("v=spf1 ip6:1.2.3.4", "invalid ip6 address", 11);
	/* Domain-specs. */
	parse_bad("v=spf1 a:museum", "needs a dot and a top label", 9);
	parse_bad("v=spf1 a:museum.", "needs a dot and a top label", 9);
	parse_bad("v=spf1 a:abc.123", "invalid top label", 13);
	parse_bad("v=spf1 a:111.222.33.44", "invalid top label", 20);
	parse_bad("v=spf1 a:example.-com", "invalid top label", 17);
	parse_bad("v=spf1 a:example.com-", "invalid top label", 17);
	parse_bad("v=spf1 a:foo-bar", "needs a dot", 9);
	parse_bad("v=spf1 a:", "empty domain-spec", 9);
	parse_bad("v=spf1 include:", "empty domain-spec", 15);
	parse_bad("v=spf1 include", "needs ':' and a domain", 7);
	parse_bad("v=spf1 exists", "needs ':' and a domain", 7);
	parse_bad("v=spf1 include:ip5.example.com/24", "invalid top label", 27);
	parse_bad("v=spf1 exists:mail.example.com/24", "invalid top label", 27);
	parse_bad("v=spf1 ptr:", "empty domain-spec", 11);
	/* Macros. */
	parse_bad("v=spf1 a:%{c}.example.com", "macro letter 'c' only allowed in exp", 11);
	parse_bad("v=spf1 exp=%{r}.example.com", "macro letter 'r' only allowed in exp", 13);
	parse_bad("v=spf1 -exists:%(ir).sbl.example.com", "invalid macro", 15);
	parse_bad("v=spf1 exists:foo%.sbl.example.com", "invalid macro", 17);
	parse_bad("v=spf1 a:%{a}.example.com", "unknown macro letter", 11);
	parse_bad("v=spf1 a:%{d0}.example.com", "zero label count", 12);
	parse_bad("v=spf1 a:%{d.example.com", "without closing", 13);
	parse_bad("v=spf1 -all foo=%abc", "invalid macro", 16);
	parse_bad("v=spf1 -all foo=bar%", "'%' at end", 19);
	/* Modifiers. */
	parse_bad("v=spf1 exp=", "empty domain-spec", 11);
	parse_bad("v=spf1 redirect=", "empty domain-spec", 16);
	parse_bad("v=spf1 exp=-all", "needs a dot", 11);
	parse_bad("v=spf1 exp=a.example exp=b.example", "duplicate exp modifier", 21);
	parse_bad("v=spf1 redirect=a.example -all redirect=a.example", "duplicate redirect", 31);
	/* Bytes outside printable ASCII anywhere, only SP separates. */
	parse_bad("v=spf1 a:ctrl.example.com\rptr -all", "invalid character 0x0d", 25);
	parse_bad("v=spf1 ip4:192.0.2.5\n include:x.example ~all", "invalid character 0x0a", 20);
	parse_bad("v=spf1 \x80" "a:example.net -all", "invalid character 0x80", 7);
	parse_bad("v=spf1 a:example.net \x96" "all", "invalid character 0x96", 21);
	parse_bad("v=spf1 a:\xef\xbb\xbfgarbage.example.net -all", "invalid character 0xef", 9);
	parse_bad("v=spf1 -all\t", "invalid character 0x09", 11);
	mox_spf_record *r = NULL;
	/* A NUL inside the text is an error too (the length counts). */
	assert_int_equal(mox_spf_record_parse("v=spf1 a:foo.example.com\0", 25, NULL, &r, NULL),
			 MOX_ESYNTAX);
	assert_int_equal(mox_spf_record_parse(NULL, 0, NULL, &r, NULL), MOX_EINVAL);
	assert_int_equal(mox_spf_record_parse("v=spf1", 6, NULL, NULL, NULL), MOX_EINVAL);
}

static void
test_hostile(void **state)
{
	(void)state;
	/* 10k characters of valid terms parse (evaluation limits them). */
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(&b, "v=spf1");
	while (b.len < 10000)
		mox_buf_append_str(&b, " ip4:192.0.2.1/32 a:x%{l1r-}.%{d}");
	mox_spf_record *r = NULL;
	assert_int_equal(mox_spf_record_parse((char *)b.data, b.len, NULL, &r, NULL), MOX_OK);
	assert_true(mox_spf_record_directives(r) > 500);
	mox_spf_record_free(r);
	/* A 10k label of garbage fails cleanly. */
	mox_buf_reset(&b);
	mox_buf_append_str(&b, "v=spf1 a:");
	while (b.len < 10000)
		mox_buf_append_str(&b, "%{");
	assert_int_equal(mox_spf_record_parse((char *)b.data, b.len, NULL, &r, NULL),
			 MOX_ESYNTAX);
	/* At the length limit and one past it. */
	mox_buf_reset(&b);
	mox_buf_append_str(&b, "v=spf1");
	while (b.len < MOX_SPF_RECORD_MAX)
		mox_buf_append_byte(&b, ' ');
	assert_int_equal(b.len, MOX_SPF_RECORD_MAX);
	assert_int_equal(mox_spf_record_parse((char *)b.data, b.len, NULL, &r, NULL), MOX_OK);
	mox_spf_record_free(r);
	mox_buf_append_byte(&b, ' ');
	mox_errinfo info;
	assert_int_equal(mox_spf_record_parse((char *)b.data, b.len, NULL, &r, &info),
			 MOX_ELIMIT);
	assert_null(r);
	mox_buf_free(&b);
	/* Malformed CIDR in many shapes. */
	const char *bad[] = {"v=spf1 a/", "v=spf1 a//", "v=spf1 a///1", "v=spf1 a/1/",
			     "v=spf1 a/99999999999999999999", "v=spf1 ip6:::1/0128",
			     "v=spf1 mx//1//1", "v=spf1 a:x.com/1/1//1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mox_spf_record_parse(bad[i], strlen(bad[i]), NULL, &r, NULL),
				 MOX_ESYNTAX);
}

static void
test_oom(void **state)
{
	(void)state;
	static const char txt[] =
		"v=spf1 a:a.%{d}/24 mx ip4:192.0.2.0/24 ip6:2001:db8::/32 include:x.example "
		"exp=e.example redirect=r.example foo=bar baz=%{l}";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_spf_record *r = NULL;
		mox_err err = mox_spf_record_parse(txt, strlen(txt), &ta.a, &r, NULL);
		if (err == MOX_OK) {
			mox_buf b = MOX_BUF_INIT;
			mox_buf_init(&b, &ta.a);
			mox_err ferr = mox_spf_record_format(r, &b);
			mox_buf_free(&b);
			mox_spf_record_free(r);
			assert_int_equal(ta.live, 0);
			if (ferr == MOX_OK)
				break;
			assert_int_equal(ferr, MOX_ENOMEM);
			continue;
		}
		assert_int_equal(err, MOX_ENOMEM);
		assert_null(r);
		assert_int_equal(ta.live, 0);
		assert_true(n < 1000);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_spf),  cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_directives), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hostile), cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
