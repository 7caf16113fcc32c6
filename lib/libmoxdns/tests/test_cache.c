/* The cache over the zone backend, with a test clock: hits, TTL expiry and
 * countdown, negative caching, failures not cached, LRU eviction, threads,
 * OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <mox/dns.h>
#include "mox_testalloc.h"

static const char zone_text[] = "$ORIGIN example.com.\n"
				"@ 3600 SOA ns hm 1 2 3 4 50\n"
				"a 100 A 192.0.2.1\n"
				"a 40 A 192.0.2.2\n"
				"t 0 TXT \"no caching\"\n"
				"long 999999 TXT \"capped\"\n"
				"broken SERVFAIL\n";

static uint64_t fake_now;

static uint64_t
clock_fn(void *arg)
{
	(void)arg;
	return fake_now;
}

static mox_resolver *zone;

static mox_resolver *
make_cache(size_t max_entries, const mox_allocator *alloc)
{
	zone = NULL;
	mox_dns_zone_opts zo = {.size = sizeof(zo), .alloc = alloc};
	if (mox_dns_zone_new(&zone, &zo) != MOX_OK)
		return NULL;
	if (mox_dns_zone_load(zone, zone_text, strlen(zone_text), NULL) != MOX_OK) {
		mox_resolver_free(zone);
		return NULL;
	}
	mox_dns_cache_opts o = {.size = sizeof(o),
				.alloc = alloc,
				.max_entries = max_entries,
				.max_ttl = 1000,
				.now = clock_fn,
				.owns_backend = true};
	mox_resolver *c = NULL;
	if (mox_dns_cache_new(&c, zone, &o) != MOX_OK) {
		mox_resolver_free(zone);
		return NULL;
	}
	return c;
}

static mox_dns_answer *
q(mox_resolver *c, const char *name, mox_dns_type type)
{
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(c, name, type, &a), MOX_OK);
	return a;
}

static void
test_ttl(void **state)
{
	(void)state;
	fake_now = 1000;
	mox_resolver *c = make_cache(0, NULL);
	assert_non_null(c);
	mox_dns_answer *a = q(c, "a.example.com", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 2);
	mox_dns_answer_free(a);
	assert_int_equal(mox_dns_zone_queries(zone), 1);

	/* Within the smallest TTL (40): from the cache, TTLs counted down. */
	fake_now += 30;
	a = q(c, "A.Example.COM.", MOX_DNS_A);
	assert_int_equal(mox_dns_zone_queries(zone), 1);
	assert_int_equal(a->rr[0].ttl, 70);
	assert_int_equal(a->rr[1].ttl, 10);
	mox_dns_answer_free(a);
	/* Another type is another entry. */
	a = q(c, "a.example.com", MOX_DNS_AAAA);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	assert_int_equal(mox_dns_zone_queries(zone), 2);

	/* At 40 seconds the RRset expires. */
	fake_now += 10;
	a = q(c, "a.example.com", MOX_DNS_A);
	assert_int_equal(a->rr[0].ttl, 100);
	mox_dns_answer_free(a);
	assert_int_equal(mox_dns_zone_queries(zone), 3);

	mox_dns_cache_stats st;
	assert_int_equal(mox_dns_cache_stats_get(c, &st), MOX_OK);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 2);

	/* TTL 0 is never cached; huge TTLs are capped at max_ttl. */
	mox_dns_answer_free(q(c, "t.example.com", MOX_DNS_TXT));
	mox_dns_answer_free(q(c, "t.example.com", MOX_DNS_TXT));
	assert_int_equal(mox_dns_zone_queries(zone), 5);
	mox_dns_answer_free(q(c, "long.example.com", MOX_DNS_TXT));
	fake_now += 999;
	mox_dns_answer_free(q(c, "long.example.com", MOX_DNS_TXT));
	assert_int_equal(mox_dns_zone_queries(zone), 6);
	fake_now += 1;
	mox_dns_answer_free(q(c, "long.example.com", MOX_DNS_TXT));
	assert_int_equal(mox_dns_zone_queries(zone), 7);

	mox_dns_cache_clear(c);
	assert_int_equal(mox_dns_cache_stats_get(c, &st), MOX_OK);
	assert_int_equal(st.entries, 0);
	assert_int_equal(mox_dns_cache_stats_get(zone, &st), MOX_EINVAL);
	mox_resolver_free(c);
}

static void
test_negative_and_failures(void **state)
{
	(void)state;
	fake_now = 0;
	mox_resolver *c = make_cache(0, NULL);
	/* NXDOMAIN cached for min(SOA TTL, MINIMUM) = 50 s (RFC 2308). */
	mox_dns_answer *a = q(c, "nope.example.com", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->neg_ttl, 50);
	mox_dns_answer_free(a);
	fake_now = 49;
	a = q(c, "nope.example.com", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->neg_ttl, 1);
	mox_dns_answer_free(a);
	assert_int_equal(mox_dns_zone_queries(zone), 1);
	fake_now = 50;
	mox_dns_answer_free(q(c, "nope.example.com", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 2);

	/* No SOA: the default negative TTL (60). */
	mox_dns_answer_free(q(c, "other.invalid", MOX_DNS_A));
	fake_now = 109;
	mox_dns_answer_free(q(c, "other.invalid", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 3);
	fake_now = 110;
	mox_dns_answer_free(q(c, "other.invalid", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 4);

	/* SERVFAIL is not cached: the next lookup asks again. */
	a = q(c, "broken.example.com", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	mox_dns_answer_free(a);
	mox_dns_answer_free(q(c, "broken.example.com", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 6);
	mox_resolver_free(c);
}

static void
test_lru(void **state)
{
	(void)state;
	fake_now = 0;
	mox_resolver *c = make_cache(2, NULL);
	mox_dns_answer_free(q(c, "x1.example.com", MOX_DNS_A));
	mox_dns_answer_free(q(c, "x2.example.com", MOX_DNS_A));
	mox_dns_answer_free(q(c, "x1.example.com", MOX_DNS_A)); /* x1 now recent */
	mox_dns_answer_free(q(c, "x3.example.com", MOX_DNS_A)); /* evicts x2 */
	assert_int_equal(mox_dns_zone_queries(zone), 3);
	mox_dns_answer_free(q(c, "x1.example.com", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 3);
	mox_dns_answer_free(q(c, "x2.example.com", MOX_DNS_A));
	assert_int_equal(mox_dns_zone_queries(zone), 4);
	mox_dns_cache_stats st;
	mox_dns_cache_stats_get(c, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 2);
	mox_resolver_free(c);
}

static void *
worker(void *arg)
{
	mox_resolver *c = arg;
	static const char *names[] = {"a.example.com", "nope.example.com",
				      "long.example.com", "broken.example.com"};
	static const mox_dns_type types[] = {MOX_DNS_A, MOX_DNS_A, MOX_DNS_TXT,
					     MOX_DNS_A};
	for (int i = 0; i < 2000; i++) {
		mox_dns_answer *a = NULL;
		if (mox_dns_lookup(c, names[i % 4], types[i % 4], &a) != MOX_OK)
			return (void *)1;
		bool ok = i % 4 == 3 ? a->status == MOX_DNS_TEMPFAIL
			  : i % 4 == 1 ? a->status == MOX_DNS_NXDOMAIN
				       : a->status == MOX_DNS_FOUND;
		mox_dns_answer_free(a);
		if (!ok)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	fake_now = 0;
	mox_resolver *c = make_cache(3, NULL);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, c), 0);
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		assert_null(rv);
	}
	mox_dns_cache_stats st;
	mox_dns_cache_stats_get(c, &st);
	assert_int_equal(st.hits + st.misses, 8000);
	assert_true(st.entries <= 3);
	mox_resolver_free(c);
}

static void
test_oom(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		fake_now = 0;
		mox_resolver *c = make_cache(0, &ta.a);
		mox_err err = c != NULL ? MOX_OK : MOX_ENOMEM;
		for (int i = 0; err == MOX_OK && i < 2; i++) {
			mox_dns_answer *a = NULL;
			err = mox_dns_lookup(c, "a.example.com", MOX_DNS_A, &a);
			if (err == MOX_OK && a->nrr != 2)
				fail_msg("incomplete answer at n=%ld", n);
			mox_dns_answer_free(a);
		}
		mox_resolver_free(c);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK && c != NULL)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 100000);
	}
	mox_resolver *c = NULL;
	assert_int_equal(mox_dns_cache_new(&c, NULL, NULL), MOX_EINVAL);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl),     cmocka_unit_test(test_negative_and_failures),
		cmocka_unit_test(test_lru),     cmocka_unit_test(test_threads),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
