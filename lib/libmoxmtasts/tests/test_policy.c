/* MTA-STS policies, RFC 8461 section 3.2: the RFC's example, mox's good
 * and bad cases, limits (one past each), MX matching (section 4.1), the
 * delivery decision (section 5), writing back, copying, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/mtasts.h>
#include "mox_testalloc.h"

static mox_mtasts_policy *
good(const char *s)
{
	mox_mtasts_policy *p = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_policy_parse(s, strlen(s), NULL, &p, &info);
	if (err != MOX_OK)
		fail_msg("'%s': %s: %s", s, mox_err_name(err), info.msg);
	return p;
}

static void
bad(const char *s, const char *want_msg)
{
	mox_mtasts_policy *p = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_policy_parse(s, strlen(s), NULL, &p, &info);
	if (err != MOX_ESYNTAX)
		fail_msg("'%s': got %s, want MOX_ESYNTAX", s, mox_err_name(err));
	assert_null(p);
	if (strstr(info.msg, want_msg) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, info.msg, want_msg);
}

static void
test_good(void **state)
{
	(void)state;
	/* RFC 8461 section 3.2 example. */
	mox_mtasts_policy *p = good("version: STSv1\n"
	                            "mode: testing\n"
	                            "mx: mx1.example.com\n"
	                            "mx: mx2.example.com\n"
	                            "mx: mx.backup-example.com\n"
	                            "max_age: 1296000\n");
	assert_int_equal(p->mode, MOX_MTASTS_MODE_TESTING);
	assert_int_equal(p->max_age, 1296000);
	assert_int_equal(p->nmx, 3);
	assert_string_equal(p->mx[0].domain, "mx1.example.com");
	assert_false(p->mx[0].wildcard);
	assert_string_equal(p->mx[2].domain, "mx.backup-example.com");
	mox_mtasts_policy_free(p);

	p = good("version: STSv1\nmode: enforce\t\nmx: *.example.com \nmax_age: 0 \n");
	assert_int_equal(p->mode, MOX_MTASTS_MODE_ENFORCE);
	assert_int_equal(p->nmx, 1);
	assert_true(p->mx[0].wildcard);
	assert_string_equal(p->mx[0].domain, "example.com");
	assert_int_equal(p->max_age, 0);
	mox_mtasts_policy_free(p);

	p = good(
	    "version:STSv1\r\nmode:\tenforce\r\nmx:  \t\t *.example.com\nmax_age: 1\n"
	    "more:ext e  ns ion");
	assert_int_equal(p->nextensions, 1);
	assert_string_equal(p->extensions[0].key, "more");
	assert_string_equal(p->extensions[0].value, "ext e  ns ion");
	mox_mtasts_policy_free(p);

	/* mode none needs no mx; first of repeated fields counts; upper
	 * case mx names are lowered; UTF-8 in extension values; 10 digits. */
	p = good("version: STSv1\nmode: none\nmode: enforce\nmax_age: 9999999999\n"
	         "max_age: 5\nmx: MX.Example.COM\nnote: caf\xc3\xa9 ok");
	assert_int_equal(p->mode, MOX_MTASTS_MODE_NONE);
	assert_int_equal(p->max_age, 9999999999ull);
	assert_string_equal(p->mx[0].domain, "mx.example.com");
	assert_string_equal(p->extensions[0].value, "caf\xc3\xa9 ok");
	mox_mtasts_policy_free(p);

	p = good("version:STSv1\nmode:none\nmax_age:1");
	assert_int_equal(p->nmx, 0);
	mox_mtasts_policy_free(p);
}

static void
test_bad(void **state)
{
	(void)state;
	bad("", "empty policy");
	bad("version:STSv0\nmode:none\nmax_age:0", "version must be STSv1");
	bad("version:STSv10\nmode:none\nmax_age:0", "version must be STSv1");
	bad("version:STSv2\nmode:none\nmax_age:0", "version must be STSv1");
	bad("version:STSv1\nmax_age:0\nmx:example.com", "missing field mode");
	bad("version:STSv1\nmode:none", "missing field max_age");
	bad("version:STSv1\nmax_age:0\nmode:enforce",
	    "missing field mx for mode enforce");
	bad("version:STSv1\nmax_age:0\nmode:testing",
	    "missing field mx for mode testing");
	bad("max_age:0\nmode:none", "missing field version");
	bad("version:STSv1\nmode:none\nmax_age:01234567890", "longer than 10 digits");
	bad("version:STSv1\nmode:bad\nmax_age:1", "invalid mode 'bad'");
	bad("version:STSv1\nmode:Enforce\nmax_age:1", "invalid mode");
	bad("version:STSv1\nmode:none\nmax_age:a", "expected max_age digits");
	bad("version:STSv1\nmode:none\nmax_age:-1", "expected max_age digits");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:", "expected mx host name");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:*.*.example",
	    "expected mx host name");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example",
	    "expected mx host name");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example-",
	    "expected mx host name");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:test.example-",
	    "invalid mx host");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:a..example", "invalid mx host");
	bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:a_b.example",
	    "expected end of line");
	bad("version:STSv1\nmode:none\nmax_age:0\next:", "expected value");
	bad("version:STSv1\nmode:none\nmax_age:0\na12345678901234567890123456789012:"
	    "123",
	    "longer than 32");
	bad("version:STSv1\nmode:none\nmax_age:0\n_bad:test", "expected field name");
	bad("version:STSv1\nmode:none\nmax_age:0\nmx: m\xc3\xb8x.example", "A-labels");
	bad("version:STSv1\nmode:none\nmax_age:0\nx: \xff", "invalid UTF-8");
	bad("version:STSv1\nmode:none\nmax_age:0\nx: a\xc3", "invalid UTF-8");
	bad("version:STSv1\n\nmode:none\nmax_age:0", "expected field name at 14");
	bad("version STSv1\nmode:none\nmax_age:0", "expected ':'");
	bad("version:STSv1\rmode:none\nmax_age:0", "expected end of line at 13");
	bad("version:STSv1\nmode:none\nmax_age:0\n\n", "expected field name");
	bad("version:STSv1\nmode:none\nmax_age:0\nx:a\tb", "expected end of line");
	bad("<html>", "expected field name at 0 (found '<')");

	/* The size limit: MOX_MTASTS_POLICY_SIZE_MAX bytes pass, one more
	 * is refused. */
	size_t n = MOX_MTASTS_POLICY_SIZE_MAX + 1;
	char *big = malloc(n + 1);
	const char *head = "version: STSv1\nmode: none\nmax_age: 1\nx: ";
	memcpy(big, head, strlen(head));
	memset(big + strlen(head), 'a', n - strlen(head));
	big[n] = '\0';
	mox_mtasts_policy *p = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_mtasts_policy_parse(big, n, NULL, &p, &info), MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "larger than 65536"));
	assert_int_equal(mox_mtasts_policy_parse(big, n - 1, NULL, &p, &info), MOX_OK);
	mox_mtasts_policy_free(p);
	free(big);
}

static void
test_matches(void **state)
{
	(void)state;
	mox_mtasts_policy *p = good("version: STSv1\nmode: enforce\nmax_age: 1\nmx: "
	                            "a.example\nmx: *.b.example\n");
	assert_true(mox_mtasts_policy_matches(p, "a.example"));
	assert_true(mox_mtasts_policy_matches(p, "A.Example."));
	assert_true(mox_mtasts_policy_matches(p, "sub.b.example"));
	assert_false(mox_mtasts_policy_matches(p, "b.example"));
	assert_false(mox_mtasts_policy_matches(p, "sub.sub.b.example"));
	assert_false(mox_mtasts_policy_matches(p, "other"));
	assert_false(mox_mtasts_policy_matches(p, ".b.example"));
	assert_false(mox_mtasts_policy_matches(p, "xa.example"));
	assert_false(mox_mtasts_policy_matches(p, ""));
	assert_false(mox_mtasts_policy_matches(NULL, "a.example"));

	mox_mtasts_decision d;
	mox_mtasts_decide(p, "sub.b.example", &d);
	assert_true(d.allowed && d.require_tls && d.report && d.mx_match);
	mox_mtasts_decide(p, "evil.example", &d);
	assert_false(d.allowed);
	assert_false(d.require_tls);
	assert_true(d.report);
	mox_mtasts_policy_free(p);

	p = good("version: STSv1\nmode: testing\nmax_age: 1\nmx: a.example\n");
	mox_mtasts_decide(p, "evil.example", &d);
	assert_true(d.allowed);
	assert_false(d.require_tls);
	assert_true(d.report);
	assert_false(d.mx_match);
	mox_mtasts_policy_free(p);

	p = good("version: STSv1\nmode: none\nmax_age: 1\nmx: a.example\n");
	mox_mtasts_decide(p, "evil.example", &d);
	assert_true(d.allowed);
	assert_false(d.require_tls || d.report);
	mox_mtasts_policy_free(p);

	mox_mtasts_decide(NULL, "any.example", &d);
	assert_true(d.allowed);
	assert_false(d.require_tls || d.report);
}

static void
test_format(void **state)
{
	(void)state;
	mox_mtasts_policy *p =
	    good("version: STSv1\nmode: testing\nmx: mx1.example.com\n"
	         "mx: *.example.com\nmx: mx.backup-example.com\n"
	         "max_age: 1296000\next: kept out\n");
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_mtasts_policy_format(p, &b), MOX_OK);
	assert_string_equal((char *)b.data,
	                    "version: STSv1\nmode: testing\nmax_age: 1296000\n"
	                    "mx: mx1.example.com\nmx: *.example.com\n"
	                    "mx: mx.backup-example.com\n");
	mox_mtasts_policy *q = good((char *)b.data);
	mox_mtasts_policy *c = NULL;
	assert_int_equal(mox_mtasts_policy_copy(p, NULL, &c), MOX_OK);
	assert_int_equal(q->nmx, p->nmx);
	assert_int_equal(c->nextensions, 1);
	assert_string_equal(c->extensions[0].value, "kept out");
	for (size_t i = 0; i < p->nmx; i++) {
		assert_string_equal(q->mx[i].domain, p->mx[i].domain);
		assert_string_equal(c->mx[i].domain, p->mx[i].domain);
		assert_int_equal(c->mx[i].wildcard, p->mx[i].wildcard);
	}
	mox_mtasts_policy_free(c);
	mox_mtasts_policy_free(q);
	mox_mtasts_policy_free(p);
	mox_buf_free(&b);
	assert_string_equal(mox_mtasts_mode_name(MOX_MTASTS_MODE_ENFORCE), "enforce");
	assert_string_equal(mox_mtasts_mode_name((mox_mtasts_mode)9), "");
}

static void
test_oom(void **state)
{
	(void)state;
	const char *s =
	    "version: STSv1\nmode: enforce\nmx: a.example\nmx: *.b.example\n"
	    "max_age: 86400\next: one\next2: two\n";
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_mtasts_policy *p = NULL, *c = NULL;
		mox_err err = mox_mtasts_policy_parse(s, strlen(s), &ta.a, &p, NULL);
		if (err == MOX_OK)
			err = mox_mtasts_policy_copy(p, &ta.a, &c);
		mox_mtasts_policy_free(c);
		mox_mtasts_policy_free(p);
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
	    cmocka_unit_test(test_good),    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_matches), cmocka_unit_test(test_format),
	    cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
