/* SMTP paths and addresses (src/path.c): the forms of RFC 5321 section
 * 4.1.2, UTF-8 with and without SMTPUTF8 (RFC 6531), IDNA, the limits of
 * RFC 5321 section 4.5.3.1 at and past them, formatting round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/smtp.h>

static void
ok(const char *in, unsigned flags, const char *lp, const char *dom, const char *uni,
   const char *ip, const char *formatted)
{
	mox_smtp_path p;
	mox_errinfo info = {0};
	mox_err err = mox_smtp_path_parse(in, strlen(in), flags, &p, &info);
	if (err != MOX_OK)
		fail_msg("parse '%s': %s %s", in, mox_err_name(err), info.msg);
	assert_string_equal(p.localpart, lp);
	assert_string_equal(p.domain, dom);
	assert_string_equal(p.domain_unicode, uni);
	assert_string_equal(p.ip, ip);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_smtp_path_format(&p, (flags & MOX_SMTP_PATH_UTF8) != 0, &b), MOX_OK);
	if (strcmp((const char *)b.data, formatted) != 0)
		fail_msg("format '%s': have '%s', want '%s'", in, (const char *)b.data, formatted);
	/* What we write parses back to the same path. */
	mox_smtp_path q;
	err = mox_smtp_path_parse((const char *)b.data, b.len, flags, &q, &info);
	mox_buf_free(&b);
	if (err != MOX_OK)
		fail_msg("reparse of '%s': %s", in, info.msg);
	assert_true(mox_smtp_path_equal(&p, &q));
	assert_string_equal(p.localpart, q.localpart);
}

static void
bad(const char *in, unsigned flags, mox_err want, const char *msg)
{
	mox_smtp_path p;
	mox_errinfo info = {0};
	mox_err err = mox_smtp_path_parse(in, strlen(in), flags, &p, &info);
	if (err != want)
		fail_msg("parse '%s': %s, want %s (%s)", in, mox_err_name(err), mox_err_name(want),
			 info.msg);
	if (strstr(info.msg, msg) == NULL)
		fail_msg("parse '%s': message '%s' lacks '%s'", in, info.msg, msg);
}

static void
test_forms(void **state)
{
	(void)state;
	ok("<a@example.org>", 0, "a", "example.org", "", "", "<a@example.org>");
	ok("<A.B+c@EXAMPLE.org>", 0, "A.B+c", "example.org", "", "", "<A.B+c@example.org>");
	ok("<\"a b\"@example.org>", 0, "a b", "example.org", "", "", "<\"a b\"@example.org>");
	ok("<\"a\\\"b\"@example.org>", 0, "a\"b", "example.org", "", "", "<\"a\\\"b\"@example.org>");
	ok("<\"abc\"@example.org>", 0, "abc", "example.org", "", "", "<abc@example.org>");
	ok("<\"a..b\"@example.org>", 0, "a..b", "example.org", "", "", "<\"a..b\"@example.org>");
	ok("<\"\"@example.org>", 0, "", "example.org", "", "", "<\"\"@example.org>");
	ok("<@a.example,@b.example:u@example.org>", 0, "u", "example.org", "", "",
	   "<u@example.org>");
	ok("<u@[192.0.2.1]>", 0, "u", "", "", "192.0.2.1", "<u@[192.0.2.1]>");
	ok("<u@[IPv6:2001:DB8::0:1]>", 0, "u", "", "", "2001:db8::1", "<u@[IPv6:2001:db8::1]>");
	ok("<u@xn--mnchen-3ya.example>", 0, "u", "xn--mnchen-3ya.example", "münchen.example", "",
	   "<u@xn--mnchen-3ya.example>");
	ok("<jösé@München.example>", MOX_SMTP_PATH_UTF8, "jösé", "xn--mnchen-3ya.example",
	   "münchen.example", "", "<jösé@münchen.example>");
	ok("<>", MOX_SMTP_PATH_NULL, "", "", "", "", "<>");
	ok("<POSTMASTER>", MOX_SMTP_PATH_POSTMASTER, "postmaster", "", "", "", "<postmaster>");
	ok("<postmaster@example.org>", MOX_SMTP_PATH_POSTMASTER, "postmaster", "example.org", "",
	   "", "<postmaster@example.org>");
}

static void
test_errors(void **state)
{
	(void)state;
	bad("", 0, MOX_ESYNTAX, "expected '<'");
	bad("<>", 0, MOX_ESYNTAX, "expected atom");
	bad("<postmaster>", 0, MOX_ESYNTAX, "expected '@'");
	bad("<a@example.org", 0, MOX_ESYNTAX, "expected '>'");
	bad("<a@example.org>x", 0, MOX_ESYNTAX, "trailing data at 15");
	bad("<a.@example.org>", 0, MOX_ESYNTAX, "expected atom in local part at 3");
	bad("<.a@example.org>", 0, MOX_ESYNTAX, "expected atom");
	bad("<a b@example.org>", 0, MOX_ESYNTAX, "expected '@'");
	bad("<\"a\x01\"@example.org>", 0, MOX_ESYNTAX, "invalid character in quoted string");
	bad("<\"a\\\x7f\"@example.org>", 0, MOX_ESYNTAX, "bad quoted-pair");
	bad("<\"abc@example.org>", 0, MOX_ESYNTAX, "unterminated");
	bad("<a@example..org>", 0, MOX_ESYNTAX, "invalid domain");
	bad("<a@-example.org>", 0, MOX_ESYNTAX, "invalid domain");
	bad("<a@example-.org>", 0, MOX_ESYNTAX, "invalid domain");
	bad("<a@exa_mple.org>", 0, MOX_ESYNTAX, "expected '>'");
	bad("<a@[1.2.3]>", 0, MOX_ESYNTAX, "invalid IPv4");
	bad("<a@[IPv6:1.2.3.4]>", 0, MOX_ESYNTAX, "invalid IPv6");
	bad("<a@[x:y]>", 0, MOX_ESYNTAX, "unrecognized address literal");
	bad("<a@[1.2.3.4>", 0, MOX_ESYNTAX, "missing ']'");
	bad("<@a.example:>", 0, MOX_ESYNTAX, "expected atom");
	bad("<@a.example,b.example:u@example.org>", 0, MOX_ESYNTAX, "expected ':'");
	bad("<jösé@example.org>", 0, MOX_EUNSUPPORTED, "without SMTPUTF8");
	bad("<\"jösé\"@example.org>", 0, MOX_EUNSUPPORTED, "without SMTPUTF8");
	bad("<a@münchen.example>", 0, MOX_ESYNTAX, "non-ASCII domain without SMTPUTF8");
	bad("<a\xff@example.org>", MOX_SMTP_PATH_UTF8, MOX_ESYNTAX, "invalid UTF-8");
	bad("<a\xc0\x80@example.org>", MOX_SMTP_PATH_UTF8, MOX_ESYNTAX, "invalid UTF-8");
	bad("<a@xn--zz.example>", 0, MOX_ESYNTAX, "invalid domain");
	bad("<a@a\xe2\x98\x83.example>", MOX_SMTP_PATH_UTF8, MOX_EIDNA, "internationalized");
}

/* RFC 5321 section 4.5.3.1: local part (we allow 128), domain 255, path
 * 256; at each limit and one past it. */
static void
test_limits(void **state)
{
	(void)state;
	char lp[200], in[700];
	memset(lp, 'a', 128);
	lp[128] = 0;
	snprintf(in, sizeof(in), "<%s@example.org>", lp);
	ok(in, 0, lp, "example.org", "", "", in);
	lp[128] = 'a';
	lp[129] = 0;
	snprintf(in, sizeof(in), "<%s@example.org>", lp);
	bad(in, 0, MOX_ERANGE, "local part longer than 128");

	/* A path of exactly 256 octets, then 257. Labels of 60. */
	char dom[300];
	snprintf(dom, sizeof(dom), "%s.%s.%s.", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
		 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	size_t dl = strlen(dom); /* 183 */
	/* "<" lp "@" dom "example" ">" = 256 */
	size_t want_lp = 256 - 3 - dl - 7;
	memset(lp, 'a', want_lp);
	lp[want_lp] = 0;
	snprintf(in, sizeof(in), "<%s@%sexample>", lp, dom);
	assert_int_equal(strlen(in), 256);
	mox_smtp_path p;
	assert_int_equal(mox_smtp_path_parse(in, strlen(in), 0, &p, NULL), MOX_OK);
	lp[want_lp] = 'a';
	lp[want_lp + 1] = 0;
	snprintf(in, sizeof(in), "<%s@%sexample>", lp, dom);
	bad(in, 0, MOX_ERANGE, "path longer than 256");

	/* A domain over 255 octets. */
	char big[400] = "<a@";
	for (int i = 0; i < 5; i++)
		strcat(big, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.");
	strcat(big, "example>");
	bad(big, 0, MOX_ERANGE, "domain longer than 255");
	/* A label over 63. */
	bad("<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org>", 0,
	    MOX_ESYNTAX, "invalid domain");
}

static void
test_address(void **state)
{
	(void)state;
	mox_smtp_path p;
	mox_errinfo info;
	assert_int_equal(mox_smtp_address_parse("mjl@Mox.Example", 15, 0, &p, &info), MOX_OK);
	assert_string_equal(p.localpart, "mjl");
	assert_string_equal(p.domain, "mox.example");
	assert_int_equal(mox_smtp_address_parse("<mjl@mox.example>", 17, 0, &p, &info), MOX_ESYNTAX);
	assert_int_equal(mox_smtp_address_parse("mjl", 3, 0, &p, &info), MOX_ESYNTAX);
	assert_int_equal(mox_smtp_path_parse(NULL, 0, 0, &p, &info), MOX_EINVAL);
	assert_int_equal(mox_smtp_path_parse("<a@b>", 5, 0, NULL, &info), MOX_EINVAL);

	/* Equality: local part exact, domain ignoring case. */
	mox_smtp_path a, b;
	assert_int_equal(mox_smtp_address_parse("A@example.ORG", 13, 0, &a, NULL), MOX_OK);
	assert_int_equal(mox_smtp_address_parse("A@EXAMPLE.org", 13, 0, &b, NULL), MOX_OK);
	assert_true(mox_smtp_path_equal(&a, &b));
	assert_int_equal(mox_smtp_address_parse("a@example.org", 13, 0, &b, NULL), MOX_OK);
	assert_false(mox_smtp_path_equal(&a, &b));
	assert_false(mox_smtp_path_equal(&a, NULL));

	/* ASCII formatting of an IDNA domain. */
	assert_int_equal(mox_smtp_address_parse("u@münchen.example", 18, MOX_SMTP_PATH_UTF8, &a,
						NULL),
			 MOX_OK);
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(mox_smtp_path_format(&a, false, &out), MOX_OK);
	assert_string_equal((const char *)out.data, "<u@xn--mnchen-3ya.example>");
	mox_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
