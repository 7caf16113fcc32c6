/* Macro expansion (src/macro.c): the examples of RFC 7208 section 7.4,
 * every letter and transformer, URL escaping, truncation of long names,
 * syntax errors, expansion blow-up limits and an OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mox_testalloc.h"
#include "spf_int.h"

static int ptr_calls;

static mox_err
ptr_name(void *arg, const char *domain, const char **name)
{
	(void)arg;
	ptr_calls++;
	*name = strcmp(domain, "email.example.com") == 0 ? "mx.email.example.com" : "unknown";
	return MOX_OK;
}

/* RFC 7208 section 7.4: sender strong-bad@email.example.com, IPv4
 * 192.0.2.3, IPv6 2001:db8::cb01. */
static mox__spf_macro_ctx
ctx4(void)
{
	mox__spf_macro_ctx c = {
		.local = "strong-bad",
		.sender_domain = "email.example.com",
		.domain = "email.example.com",
		.helo = "mx.example.org",
		.receiver = "receiver.example",
		.family = 4,
		.ip = {192, 0, 2, 3},
		.now = 1234567890,
		.ptr_name = ptr_name,
	};
	return c;
}

static mox__spf_macro_ctx
ctx6(void)
{
	mox__spf_macro_ctx c = ctx4();
	static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					0,    0,    0,    0,    0, 0, 0xcb, 0x01};
	c.family = 6;
	memcpy(c.ip, ip6, 16);
	return c;
}

static void
expand(const mox__spf_macro_ctx *c, unsigned flags, const char *in, const char *want)
{
	mox_buf b = MOX_BUF_INIT;
	mox_errinfo info = {0};
	mox_err err = mox__spf_macro_expand(in, strlen(in), flags, c, &b, &info);
	if (err != MOX_OK)
		fail_msg("expand '%s': %s (%s)", in, mox_err_name(err), info.msg);
	assert_string_equal(b.len ? (char *)b.data : "", want);
	/* The checker agrees. */
	assert_int_equal(mox__spf_macro_check(in, strlen(in), flags, 0, NULL, NULL), MOX_OK);
	mox_buf_free(&b);
}

static void
expand_bad(const mox__spf_macro_ctx *c, unsigned flags, const char *in, mox_err want)
{
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(&b, "keep");
	mox_err err = mox__spf_macro_expand(in, strlen(in), flags, c, &b, NULL);
	if (err != want)
		fail_msg("expand '%s': %s, want %s", in, mox_err_name(err), mox_err_name(want));
	/* Nothing is left behind on error. */
	assert_string_equal((char *)b.data, "keep");
	mox_buf_free(&b);
}

static void
test_rfc_examples(void **state)
{
	(void)state;
	mox__spf_macro_ctx c = ctx4();
	/* RFC 7208 section 7.4. */
	expand(&c, 0, "%{s}", "strong-bad@email.example.com");
	expand(&c, 0, "%{o}", "email.example.com");
	expand(&c, 0, "%{d}", "email.example.com");
	expand(&c, 0, "%{d4}", "email.example.com");
	expand(&c, 0, "%{d3}", "email.example.com");
	expand(&c, 0, "%{d2}", "example.com");
	expand(&c, 0, "%{d1}", "com");
	expand(&c, 0, "%{dr}", "com.example.email");
	expand(&c, 0, "%{d2r}", "example.email");
	expand(&c, 0, "%{l}", "strong-bad");
	expand(&c, 0, "%{l-}", "strong.bad");
	expand(&c, 0, "%{lr}", "strong-bad");
	expand(&c, 0, "%{lr-}", "bad.strong");
	expand(&c, 0, "%{l1r-}", "strong");
	expand(&c, 0, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
	expand(&c, 0, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
	expand(&c, 0, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	       "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand(&c, 0, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	       "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand(&c, 0, "%{d2}.trusted-domains.example.net",
	       "example.com.trusted-domains.example.net");
	mox__spf_macro_ctx c6 = ctx6();
	expand(&c6, 0, "%{ir}.%{v}._spf.%{d2}",
	       "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

static void
test_letters(void **state)
{
	(void)state;
	mox__spf_macro_ctx c = ctx4();
	expand(&c, 0, "%%%_%-", "% %20");
	expand(&c, 0, "%{h}.%{i}.%{v}", "mx.example.org.192.0.2.3.in-addr");
	ptr_calls = 0;
	expand(&c, 0, "%{p}", "mx.email.example.com");
	assert_int_equal(ptr_calls, 1);
	expand(&c, MOX__SPF_MACRO_EXP, "%{c} %{r} %{t}", "192.0.2.3 receiver.example 1234567890");
	mox__spf_macro_ctx c6 = ctx6();
	expand(&c6, MOX__SPF_MACRO_EXP, "%{c} is %{v}", "2001:db8::cb01 is ip6");
	expand(&c6, 0, "%{i}", "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1");
	/* Upper case: URL-escaped (RFC 7208 section 7.3); the
	 * upper-macro case of the suite. */
	c.local = "~jack&jill=up-a_b3.c";
	expand(&c, MOX__SPF_MACRO_EXP, "l=%{L}", "l=~jack%26jill%3Dup-a_b3.c");
	expand(&c, 0, "%{S}", "~jack%26jill%3Dup-a_b3.c%40email.example.com");
	/* Several delimiters (suite macro-multiple-delimiters) and
	 * reversal on dash (macro-reverse-split-on-dash). */
	c.local = "foo-bar+zip+quux";
	expand(&c, 0, "%{l2r+-}.user.%{d2}", "bar.foo.user.example.com");
	c.local = "philip-gladstone-test";
	expand(&c, 0, "%{i}.%{l2r-}.user.%{d2}", "192.0.2.3.gladstone.philip.user.example.com");
	/* Huge digit counts saturate: all parts. */
	expand(&c, 0, "%{d99999999999999999999999}", "email.example.com");
	/* Macro letters are case-insensitive in the ABNF; "R" reverses too. */
	expand(&c, 0, "%{dR}", "com.example.email");
	/* The suite's macro-mania-in-domain expansion, which the resolver
	 * then refuses (spaces; see test_suite.c). */
	expand(&c, 0, "macro%%percent%_%_space%-url-space.example.com",
	       "macro%percent  space%20url-space.example.com");
	/* Explain-strings may hold spaces; domain-specs lose one trailing
	 * dot. */
	expand(&c, MOX__SPF_MACRO_EXP, "a b  c", "a b  c");
	expand(&c, 0, "o.spf.example.com.", "o.spf.example.com");
	expand(&c, 0, "", "");
}

static void
test_errors(void **state)
{
	(void)state;
	mox__spf_macro_ctx c = ctx4();
	expand_bad(&c, 0, "%", MOX_ESYNTAX);
	expand_bad(&c, 0, "%b", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{s", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{s1", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{s0}", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{s1r", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{x}", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{s!}", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{c}", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{r}", MOX_ESYNTAX);
	expand_bad(&c, 0, "%{t}", MOX_ESYNTAX);
	expand_bad(&c, 0, "a b", MOX_ESYNTAX);
	expand_bad(&c, MOX__SPF_MACRO_EXP, "The %{x}-files.", MOX_ESYNTAX);
	expand_bad(&c, MOX__SPF_MACRO_EXP, "\xef\xbb\xbf" "Explanation", MOX_ESYNTAX);
	expand_bad(&c, MOX__SPF_MACRO_EXP, "tab\there", MOX_ESYNTAX);
	mox_errinfo info = {0};
	assert_int_equal(mox__spf_macro_check("ab%{x}", 6, 0, 100, NULL, &info), MOX_ESYNTAX);
	assert_int_equal(info.offset, 104);
	assert_non_null(strstr(info.msg, "unknown macro letter"));
	bool ends = false;
	assert_int_equal(mox__spf_macro_check("a.%{d}", 6, 0, 0, &ends, NULL), MOX_OK);
	assert_true(ends);
	assert_int_equal(mox__spf_macro_check("%{d}.com", 8, 0, 0, &ends, NULL), MOX_OK);
	assert_false(ends);
	assert_int_equal(mox__spf_macro_check("x%-", 3, 0, 0, &ends, NULL), MOX_OK);
	assert_true(ends);
}

static void
test_limits(void **state)
{
	(void)state;
	mox__spf_macro_ctx c = ctx4();
	/* RFC 7208 section 7.3: a domain longer than 253 characters loses
	 * labels on the left. 4 labels of 62 and 3 dots: 251. */
	char label[63];
	memset(label, 'a', 62);
	label[62] = '\0';
	char name[300], in[300];
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label, label, label, label);
	snprintf(in, sizeof(in), "x.%s", name);
	expand(&c, 0, in, in); /* 253: still fits */
	snprintf(in, sizeof(in), "xx.%s", name);
	expand(&c, 0, in, name); /* 254: "xx." goes */
	/* The suite's domain-name-truncation: 8 x %{o}. */
	c.sender_domain = "somewhat.long.exp.example.com";
	expand(&c, 0, "foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com",
	       "somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long."
	       "exp.example.com.somewhat.long.exp.example.com.somewhat.long.exp.example.com."
	       "somewhat.long.exp.example.com.somewhat.long.exp.example.com.somewhat.long."
	       "exp.example.com.example.com");
	/* One label longer than 253 cannot be cut to fit. */
	char big[400];
	memset(big, 'b', 300);
	big[300] = '\0';
	expand_bad(&c, 0, big, MOX_ELIMIT);
	/* Expansion blow-up: 3000 x %{s} (~30 bytes each) passes the
	 * 8192-byte limit and stops there; at the limit it is fine. */
	mox_buf in2 = MOX_BUF_INIT;
	for (int i = 0; i < 3000; i++)
		mox_buf_append_str(&in2, "%{s}");
	expand_bad(&c, MOX__SPF_MACRO_EXP, (char *)in2.data, MOX_ELIMIT);
	mox_buf_reset(&in2);
	while (in2.len < MOX_SPF_EXPAND_MAX)
		mox_buf_append_byte(&in2, 'x');
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(mox__spf_macro_expand((char *)in2.data, in2.len, MOX__SPF_MACRO_EXP,
					       &c, &out, NULL),
			 MOX_OK);
	assert_int_equal(out.len, MOX_SPF_EXPAND_MAX);
	mox_buf_append_byte(&in2, 'x');
	mox_buf_reset(&out);
	assert_int_equal(mox__spf_macro_expand((char *)in2.data, in2.len, MOX__SPF_MACRO_EXP,
					       &c, &out, NULL),
			 MOX_ELIMIT);
	mox_buf_free(&out);
	mox_buf_free(&in2);
}

static void
test_ip_parse(void **state)
{
	(void)state;
	int fam;
	uint8_t ip[16];
	assert_true(mox__spf_ip_parse("192.0.2.1", &fam, ip));
	assert_int_equal(fam, 4);
	assert_true(mox__spf_ip_parse("::FFFF:1.2.3.4", &fam, ip));
	assert_int_equal(fam, 4);
	assert_memory_equal(ip, "\x01\x02\x03\x04", 4);
	assert_true(mox__spf_ip_parse("CAFE:BABE::1", &fam, ip));
	assert_int_equal(fam, 6);
	assert_false(mox__spf_ip_parse("1.2.3", &fam, ip));
	assert_false(mox__spf_ip_parse("example.com", &fam, ip));
}

static void
test_oom(void **state)
{
	(void)state;
	mox__spf_macro_ctx c = ctx4();
	static const char in[] = "%{ir}.%{v}.%{l1r-}.%{S}.%{d2}.%{p}";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_buf b = MOX_BUF_INIT;
		mox_buf_init(&b, &ta.a);
		mox_err err = mox__spf_macro_expand(in, strlen(in), MOX__SPF_MACRO_EXP, &c, &b, NULL);
		mox_buf_free(&b);
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
		cmocka_unit_test(test_rfc_examples), cmocka_unit_test(test_letters),
		cmocka_unit_test(test_errors),       cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ip_parse),     cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
