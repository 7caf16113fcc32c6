#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/dns.h>

static void
check_ok(const char *name, unsigned flags)
{
	mox_errinfo info = {0};
	mox_err err = mox_dns_name_check(name, strlen(name), flags, &info);
	if (err != MOX_OK)
		fail_msg("%s: %s (%s)", name, mox_err_name(err), info.msg);
}

static void
check_bad(const char *name, unsigned flags, mox_err want, size_t offset)
{
	mox_errinfo info = {0};
	mox_err err = mox_dns_name_check(name, strlen(name), flags, &info);
	if (err != want || info.offset != offset)
		fail_msg("%s: got %s at %zu (%s), want %s at %zu", name, mox_err_name(err),
			 info.offset, info.msg, mox_err_name(want), offset);
}

static void
test_check(void **state)
{
	(void)state;
	char label63[64], label64[65], long254[300];
	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';

	check_ok("example.com", MOX_DNS_NAME_HOST);
	check_ok("example.com.", MOX_DNS_NAME_HOST | MOX_DNS_NAME_TRAILING_DOT);
	check_ok("_dmarc.example.com", 0);
	check_ok("sel._domainkey.example.com", 0);
	check_ok("xn--bcher-kva.example", MOX_DNS_NAME_HOST);
	check_ok(label63, MOX_DNS_NAME_HOST);
	check_ok("a", 0);

	check_bad("", 0, MOX_ENAME, 0);
	check_bad("example.com.", 0, MOX_ENAME, 11); /* dot not allowed */
	check_bad("a..b", 0, MOX_ENAME, 2);
	check_bad(".a", 0, MOX_ENAME, 0);
	check_bad(label64, 0, MOX_ENAME, 0);
	check_bad("_dmarc.example.com", MOX_DNS_NAME_HOST, MOX_ENAME, 0);
	check_bad("-a.example", MOX_DNS_NAME_HOST, MOX_ENAME, 0);
	check_bad("a-.example", MOX_DNS_NAME_HOST, MOX_ENAME, 0);
	check_bad("ex ample.com", 0, MOX_ENAME, 2);
	check_bad("b\xc3\xbc" "cher.example", 0, MOX_ENAME, 1);
	check_bad("xn--a.example", 0, MOX_EIDNA, 0); /* not valid punycode */
	check_bad("a.xn--zzzzzzzz-.example", 0, MOX_EIDNA, 2);

	/* 253 characters is the limit of a name's text. */
	size_t o = 0;
	while (o < 240) {
		memcpy(long254 + o, "abcdefghi.", 10);
		o += 10;
	}
	memcpy(long254 + o, "abcdefghijkl", 12); /* 252 */
	long254[252] = 'm';
	long254[253] = '\0';
	check_ok(long254, 0);
	long254[253] = 'n';
	long254[254] = '\0';
	check_bad(long254, 0, MOX_ENAME, MOX_DNS_NAME_MAX);
	assert_int_equal(mox_dns_name_check(NULL, 0, 0, NULL), MOX_EINVAL);
}

static void
test_idna(void **state)
{
	(void)state;
	static const char *cases[][2] = {
		{"Bücher.example", "xn--bcher-kva.example"},
		{"EXAMPLE.com.", "example.com"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"münchen.de", "xn--mnchen-3ya.de"},
		{"例え.テスト", "xn--r8jz45g.xn--zckzah"},
		{"_dmarc.ñ.example", "_dmarc.xn--ida.example"},
		/* IDNA2008 non-transitional: ß stays, not mapped to ss. */
		{"faß.de", "xn--fa-hia.de"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[MOX_DNS_NAME_MAX + 1];
		mox_errinfo info = {0};
		mox_err err = mox_dns_name_to_ascii(cases[i][0], out, sizeof(out), &info);
		if (err != MOX_OK)
			fail_msg("%s: %s", cases[i][0], info.msg);
		assert_string_equal(out, cases[i][1]);
	}
	char uni[512];
	assert_int_equal(mox_dns_name_to_unicode("xn--bcher-kva.Example.", uni,
						 sizeof(uni), NULL),
			 MOX_OK);
	assert_string_equal(uni, "bücher.example");
	assert_int_equal(mox_dns_name_to_unicode("xn--bcher-kva.example", uni, 5, NULL),
			 MOX_ERANGE);

	static const char *bad[] = {
		"",
		"a..b",
		"xn--a.example",
		"\xff\xfe.example",     /* not UTF-8 */
		"a\xe2\x92\x88.com",    /* U+2488 disallowed */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[MOX_DNS_NAME_MAX + 1];
		mox_errinfo info = {0};
		mox_err err = mox_dns_name_to_ascii(bad[i], out, sizeof(out), &info);
		if (err != MOX_EIDNA && err != MOX_ENAME)
			fail_msg("'%s': got %s, want an error", bad[i], mox_err_name(err));
		assert_true(info.msg[0] != '\0');
	}
	/* A name too long after conversion. */
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char out[MOX_DNS_NAME_MAX + 1];
	assert_int_equal(mox_dns_name_to_ascii(big, out, sizeof(out), NULL), MOX_ENAME);
}

static void
test_compare(void **state)
{
	(void)state;
	assert_true(mox_dns_name_equal("Example.COM.", "example.com"));
	assert_false(mox_dns_name_equal("example.com", "example.co"));
	assert_false(mox_dns_name_equal("example.com", NULL));
	assert_true(mox_dns_name_is_subdomain("a.b.Example.com", "example.com."));
	assert_true(mox_dns_name_is_subdomain("example.com", "example.com"));
	assert_false(mox_dns_name_is_subdomain("badexample.com", "example.com"));
	assert_false(mox_dns_name_is_subdomain("com", "example.com"));
}

static void
test_reverse(void **state)
{
	(void)state;
	char out[MOX_DNS_REVERSE_MAX];
	assert_int_equal(mox_dns_reverse_name("192.0.2.1", out, sizeof(out)), MOX_OK);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	/* RFC 3596 section 2.5 example. */
	assert_int_equal(mox_dns_reverse_name("4321:0:1:2:3:4:567:89ab", out, sizeof(out)),
			 MOX_OK);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0."
				 "1.2.3.4.ip6.arpa");
	assert_int_equal(strlen(out) + 1, MOX_DNS_REVERSE_MAX);
	assert_int_equal(mox_dns_reverse_name("300.1.1.1", out, sizeof(out)), MOX_EINVAL);
	assert_int_equal(mox_dns_reverse_name("::1", out, 10), MOX_ERANGE);
}

static void
test_types(void **state)
{
	(void)state;
	mox_dns_type t;
	assert_int_equal(mox_dns_type_parse("mx", &t), MOX_OK);
	assert_int_equal(t, MOX_DNS_MX);
	assert_int_equal(mox_dns_type_parse("TLSA", &t), MOX_OK);
	assert_int_equal(t, MOX_DNS_TLSA);
	assert_int_equal(mox_dns_type_parse("MXX", &t), MOX_EUNSUPPORTED);
	assert_int_equal(mox_dns_type_parse("M", &t), MOX_EUNSUPPORTED);
	assert_string_equal(mox_dns_type_name(MOX_DNS_AAAA), "AAAA");
	assert_null(mox_dns_type_name((mox_dns_type)99));
	assert_string_equal(mox_dns_status_name(MOX_DNS_NXDOMAIN), "nxdomain");
	assert_int_equal(mox_dns_version(), MOX_DNS_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),   cmocka_unit_test(test_idna),
		cmocka_unit_test(test_compare), cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
