/* server/ratelimit.c: address classes, windows, gauges, reset, bounds. */
#include "ratelimit.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static ratelimit_ip
ip(const char *s)
{
	ratelimit_ip a;
	assert_true(ratelimit_ip_parse(s, &a));
	return a;
}

static void
test_parse(void **state)
{
	(void)state;
	ratelimit_ip a;
	assert_true(ratelimit_ip_parse("192.0.2.1", &a));
	assert_int_equal(a.b[10], 0xff);
	assert_int_equal(a.b[15], 1);
	assert_true(ratelimit_ip_parse("2001:db8::1", &a));
	assert_int_equal(a.b[0], 0x20);
	assert_false(ratelimit_ip_parse("192.0.2", &a));
	assert_false(ratelimit_ip_parse("", &a));
	assert_false(ratelimit_ip_parse("example.org", &a));
	assert_null(ratelimit_new(NULL, 0));
	ratelimit_window w[5] = {{0}};
	assert_null(ratelimit_new(w, 5));
	ratelimit_free(NULL);
}

/* mox's failed-auth limits: 10 per minute for one address, 30 for its /26,
 * 90 for its /21. */
static void
test_classes_v4(void **state)
{
	(void)state;
	ratelimit_window w = {60000, {10, 30, 90}};
	ratelimit *rl = ratelimit_new(&w, 1);
	assert_non_null(rl);
	int64_t t = 600000;
	ratelimit_ip a = ip("198.51.100.1");
	for (int i = 0; i < 10; i++)
		assert_true(ratelimit_add(rl, &a, t, 1));
	assert_false(ratelimit_can_add(rl, &a, t, 1));
	assert_false(ratelimit_add(rl, &a, t, 1)); /* one past the limit */
	/* The same /26 (198.51.100.0-63): own budget, shared network. */
	ratelimit_ip b = ip("198.51.100.2");
	for (int i = 0; i < 10; i++)
		assert_true(ratelimit_add(rl, &b, t, 1));
	ratelimit_ip c = ip("198.51.100.63");
	for (int i = 0; i < 10; i++)
		assert_true(ratelimit_add(rl, &c, t, 1));
	ratelimit_ip d = ip("198.51.100.40");
	assert_false(ratelimit_add(rl, &d, t, 1)); /* /26 full at 30 */
	/* Another /26 in the same /21 still has room. */
	ratelimit_ip e = ip("198.51.100.64");
	assert_true(ratelimit_add(rl, &e, t, 1));
	/* Outside the /21. */
	ratelimit_ip f = ip("198.51.108.1");
	assert_true(ratelimit_add(rl, &f, t, 10));
	assert_false(ratelimit_add(rl, &f, t, 1));
	/* n larger than the limit at once. */
	ratelimit_ip g = ip("203.0.113.9");
	assert_false(ratelimit_add(rl, &g, t, 11));
	assert_true(ratelimit_add(rl, &g, t, 10));
	/* The next minute forgets everything. */
	assert_true(ratelimit_add(rl, &a, t + 60000, 1));
	assert_true(ratelimit_add(rl, &d, t + 60000, 1));
	ratelimit_free(rl);
}

/* IPv6: the address counts by its /64, then /48, then /32. */
static void
test_classes_v6(void **state)
{
	(void)state;
	ratelimit_window w = {60000, {2, 4, 6}};
	ratelimit *rl = ratelimit_new(&w, 1);
	ratelimit_ip a = ip("2001:db8:1:1::1"), a2 = ip("2001:db8:1:1::ffff");
	assert_true(ratelimit_add(rl, &a, 0, 1));
	assert_true(ratelimit_add(rl, &a2, 0, 1));
	assert_false(ratelimit_add(rl, &a, 0, 1)); /* same /64 */
	ratelimit_ip b = ip("2001:db8:1:2::1");
	assert_true(ratelimit_add(rl, &b, 0, 2));
	ratelimit_ip c = ip("2001:db8:1:3::1");
	assert_false(ratelimit_add(rl, &c, 0, 1)); /* /48 full */
	ratelimit_ip d = ip("2001:db8:2::1");
	assert_true(ratelimit_add(rl, &d, 0, 2));
	ratelimit_ip e = ip("2001:db8:3::1");
	assert_false(ratelimit_add(rl, &e, 0, 1)); /* /32 full at 6 */
	ratelimit_ip f = ip("2001:db9::1");
	assert_true(ratelimit_add(rl, &f, 0, 1));
	/* An IPv4 address is not in any IPv6 network. */
	ratelimit_ip g = ip("32.1.13.184");
	assert_true(ratelimit_add(rl, &g, 0, 2));
	ratelimit_free(rl);
}

/* A gauge (window 0): open connections, released with -1; no time
 * resets it, and released entries go away. */
static void
test_gauge(void **state)
{
	(void)state;
	ratelimit_window w = {0, {3, 9, 27}};
	ratelimit *rl = ratelimit_new(&w, 1);
	ratelimit_ip a = ip("192.0.2.7");
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_add(rl, &a, i * 1000000000LL, 1));
	assert_false(ratelimit_add(rl, &a, 5000000000LL, 1));
	assert_int_equal(ratelimit_size(rl), 3); /* address, /26, /21 */
	assert_true(ratelimit_add(rl, &a, 0, -1));
	assert_true(ratelimit_add(rl, &a, 0, 1));
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_add(rl, &a, 0, -1));
	assert_int_equal(ratelimit_size(rl), 0);
	/* Releasing what was never counted changes nothing. */
	assert_true(ratelimit_add(rl, &a, 0, -1));
	assert_int_equal(ratelimit_size(rl), 0);
	assert_true(ratelimit_add(rl, &a, 0, 3));
	ratelimit_free(rl);
}

/* Two windows (mox: a minute and a day): the day's limit holds across
 * minutes. Reset after a good login clears the address and takes its
 * count off its networks. */
static void
test_windows_reset(void **state)
{
	(void)state;
	ratelimit_window w[2] = {{60000, {2, 6, 18}}, {86400000, {5, 15, 45}}};
	ratelimit *rl = ratelimit_new(w, 2);
	ratelimit_ip a = ip("192.0.2.1"), b = ip("192.0.2.2");
	int64_t t = 0;
	int ok = 0;
	for (int m = 0; m < 5; m++)
		for (int i = 0; i < 3; i++)
			ok += ratelimit_add(rl, &a, t + m * 60000, 1);
	assert_int_equal(ok, 5); /* 2 + 2 + 1, then the day is full */
	assert_false(ratelimit_can_add(rl, &a, 10 * 60000, 1));
	assert_true(ratelimit_add(rl, &b, 10 * 60000, 2));
	ratelimit_reset(rl, &a, 10 * 60000);
	assert_true(ratelimit_can_add(rl, &a, 10 * 60000, 1));
	assert_true(ratelimit_add(rl, &a, 10 * 60000, 2));
	/* b's count stayed. */
	assert_false(ratelimit_add(rl, &b, 10 * 60000, 1));
	/* The next day forgets. */
	assert_true(ratelimit_add(rl, &b, 86400000LL + 1, 2));
	ratelimit_free(rl);
}

/* Many distinct addresses: the table grows and still answers right. */
static void
test_many(void **state)
{
	(void)state;
	ratelimit_window w = {0, {1, 1000000, 1000000}};
	ratelimit *rl = ratelimit_new(&w, 1);
	ratelimit_ip a;
	for (int i = 0; i < 20000; i++) {
		a = ip("2001:db8::");
		a.b[4] = (uint8_t)(i >> 8);
		a.b[5] = (uint8_t)i;
		a.b[7] = 1; /* distinct /64s */
		assert_true(ratelimit_add(rl, &a, 0, 1));
		assert_false(ratelimit_add(rl, &a, 0, 1));
	}
	for (int i = 0; i < 20000; i++) {
		a = ip("2001:db8::");
		a.b[4] = (uint8_t)(i >> 8);
		a.b[5] = (uint8_t)i;
		a.b[7] = 1;
		assert_true(ratelimit_add(rl, &a, 0, -1));
	}
	assert_int_equal(ratelimit_size(rl), 0);
	ratelimit_free(rl);
}

/* Several threads count on one limiter: no count is lost. */
typedef struct targ {
	ratelimit *rl;
	int ok;
} targ;

static void *
worker(void *p)
{
	targ *t = p;
	ratelimit_ip a = ip("192.0.2.99");
	for (int i = 0; i < 1000; i++)
		t->ok += ratelimit_add(t->rl, &a, 0, 1);
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	ratelimit_window w = {0, {2500, 100000, 100000}};
	ratelimit *rl = ratelimit_new(&w, 1);
	pthread_t th[4];
	targ ta[4] = {{rl, 0}, {rl, 0}, {rl, 0}, {rl, 0}};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, &ta[i]), 0);
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += ta[i].ok;
	}
	assert_int_equal(total, 2500);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),         cmocka_unit_test(test_classes_v4),
	    cmocka_unit_test(test_classes_v6),    cmocka_unit_test(test_gauge),
	    cmocka_unit_test(test_windows_reset), cmocka_unit_test(test_many),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
