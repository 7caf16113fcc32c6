/* The SQLite policy cache: first fetch, reuse while the id is unchanged,
 * a new id fetches a new policy, stale use when DNS or the fetch fails,
 * expiry after max_age, back-off after a failed fetch (RFC 8461 section
 * 3.3), mode none, refresh and removal of unused entries, persistence
 * across handles, concurrent use, OOM. DNS is an in-memory zone behind a
 * switchable resolver, fetches are a function of the test's, time is the
 * test's clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <mox/mtasts.h>
#include "mox_testalloc.h"

/* A resolver that asks whichever zone is current. */
static mox_resolver *zone_cur;

static mox_err
switch_lookup(void *ctx, const char *name, mox_dns_type type, mox_dns_answer **out)
{
	(void)ctx;
	return zone_cur->lookup(zone_cur->ctx, name, type, out);
}

static mox_resolver switcher = {NULL, switch_lookup, NULL};

static void
use_zone(const char *text)
{
	mox_resolver_free(zone_cur);
	zone_cur = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_dns_zone_new(&zone_cur, NULL), MOX_OK);
	if (mox_dns_zone_load(zone_cur, text, strlen(text), &info) != MOX_OK)
		fail_msg("zone: %s", info.msg);
}

/* The fetch: serves policy_text (or fails as told) and counts calls. */
static const char *policy_text;
static mox_mtasts_fetch_status fetch_status;
static int fetches;
static pthread_mutex_t fetch_mu = PTHREAD_MUTEX_INITIALIZER;

static mox_err
fake_fetch(void *arg, const char *domain, mox_mtasts_fetch_result *r)
{
	(void)arg;
	(void)domain;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&fetch_mu);
	fetches++;
	pthread_mutex_unlock(&fetch_mu);
	r->status = fetch_status;
	if (fetch_status == MOX_MTASTS_FETCH_ERROR) {
		r->problem = MOX_MTASTS_PROBLEM_TIMEOUT;
		snprintf(r->why, sizeof(r->why), "timed out");
		return MOX_OK;
	}
	if (fetch_status == MOX_MTASTS_FETCH_NOPOLICY) {
		r->problem = MOX_MTASTS_PROBLEM_NOT_FOUND;
		snprintf(r->why, sizeof(r->why), "404");
		return MOX_OK;
	}
	r->text = mox_mem_strdup(NULL, policy_text);
	r->text_len = strlen(policy_text);
	mox_errinfo info = {0};
	if (mox_mtasts_policy_parse(policy_text, strlen(policy_text), NULL, &r->policy,
	                            &info) != MOX_OK) {
		r->status = MOX_MTASTS_FETCH_SYNTAX;
		r->problem = MOX_MTASTS_PROBLEM_SYNTAX;
		snprintf(r->why, sizeof(r->why), "%s", info.msg);
	}
	return MOX_OK;
}

static int64_t clock_now = 1700000000;

static int64_t
test_now(void *arg)
{
	(void)arg;
	return clock_now;
}

static char dir[64], dbpath[128];

static mox_mtasts_cache *
open_cache(const mox_allocator *alloc)
{
	mox_mtasts_cache_opts o = {.size = sizeof(o),
	                           .alloc = alloc,
	                           .path = dbpath,
	                           .resolver = &switcher,
	                           .fetch_fn = fake_fetch,
	                           .now = test_now};
	mox_mtasts_cache *c = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_cache_new(&c, &o, &info);
	if (err != MOX_OK)
		fail_msg("cache: %s: %s", mox_err_name(err), info.msg);
	return c;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mox-mtasts-cache-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/mtasts.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	static const char *suffix[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
	mox_resolver_free(zone_cur);
	zone_cur = NULL;
	return 0;
}

static const char enforce1[] =
    "version: STSv1\nmode: enforce\nmx: mx.a.example\nmax_age: 86400\n";
static const char enforce2[] =
    "version: STSv1\nmode: enforce\nmx: *.a.example\nmax_age: 3600\n";

static void
get(mox_mtasts_cache *c, const char *domain, mox_mtasts_cache_status want_status,
    mox_mtasts_cache_source want_source, mox_mtasts_cache_result *r)
{
	mox_err err = mox_mtasts_cache_get(c, domain, r);
	if (err != MOX_OK)
		fail_msg("%s: %s (%s)", domain, mox_err_name(err), r->why);
	if (r->status != want_status || r->source != want_source)
		fail_msg("%s: status %d source %d (%s), want %d %d", domain, r->status,
		         r->source, r->why, want_status, want_source);
}

static void
test_flow(void **state)
{
	(void)state;
	mox_mtasts_cache *c = open_cache(NULL);
	mox_mtasts_cache_result r;
	size_t count;

	/* No record: no policy, nothing stored, nothing fetched. */
	use_zone("a.example. TXT \"nothing here\"\n");
	fetches = 0;
	get(c, "a.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_NONE, &r);
	assert_string_equal(r.report.policy_type, "no-policy-found");
	assert_null(r.report.result_type);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, 0);
	assert_int_equal(mox_mtasts_cache_count(c, &count, NULL), MOX_OK);
	assert_int_equal(count, 0);

	/* DNS failure and nothing cached: try later. */
	use_zone("_mta-sts.a.example. SERVFAIL\n");
	get(c, "a.example", MOX_MTASTS_CACHE_TEMPERROR, MOX_MTASTS_SOURCE_NONE, &r);
	assert_string_equal(r.report.reason, "dns-lookup");
	mox_mtasts_cache_result_clear(&r);

	/* First fetch. */
	use_zone("_mta-sts.a.example. TXT \"v=STSv1; id=1\"\n");
	policy_text = enforce1;
	fetch_status = MOX_MTASTS_FETCH_OK;
	get(c, "A.example.", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_true(r.fresh);
	assert_int_equal(r.policy->mode, MOX_MTASTS_MODE_ENFORCE);
	assert_string_equal(r.policy_text, enforce1);
	assert_string_equal(r.record_id, "1");
	assert_string_equal(r.report.policy_type, "sts");
	mox_mtasts_decision d;
	mox_mtasts_decide(r.policy, "mx.a.example", &d);
	assert_true(d.allowed && d.require_tls);
	mox_mtasts_decide(r.policy, "mx.evil.example", &d);
	assert_false(d.allowed);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, 1);

	/* Same id: from the cache. */
	clock_now += 3600;
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_CACHED, &r);
	assert_true(r.fresh);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, 1);

	/* A new id: a new policy. */
	use_zone("_mta-sts.a.example. TXT \"v=STSv1; id=2\"\n");
	policy_text = enforce2;
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_true(r.policy->mx[0].wildcard);
	assert_string_equal(r.record_id, "2");
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, 2);

	/* A newer id whose fetch fails: the cached policy stays. */
	use_zone("_mta-sts.a.example. TXT \"v=STSv1; id=3\"\n");
	fetch_status = MOX_MTASTS_FETCH_ERROR;
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_STALE, &r);
	assert_false(r.fresh);
	assert_string_equal(r.record_id, "2");
	assert_string_equal(r.report.result_type, "sts-policy-fetch-error");
	assert_string_equal(r.report.reason,
	                    "cannot-fetch-policy+fallback-to-cached-policy");
	mox_mtasts_cache_result_clear(&r);

	/* Record gone, or DNS failing: the cached policy stays until its
	 * max_age (RFC 8461 section 5.1). */
	use_zone("x.example. A 192.0.2.1\n");
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_STALE, &r);
	assert_string_equal(r.report.reason,
	                    "no-mta-sts-dns-txt-record+fallback-to-cached-policy");
	mox_mtasts_cache_result_clear(&r);
	use_zone("_mta-sts.a.example. SERVFAIL\n");
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_STALE, &r);
	assert_string_equal(r.report.reason, "dns-lookup+fallback-to-cached-policy");
	mox_mtasts_cache_result_clear(&r);

	/* Expired (max_age 3600 of enforce2): fetched again. */
	clock_now += 3601;
	use_zone("_mta-sts.a.example. TXT \"v=STSv1; id=3\"\n");
	fetch_status = MOX_MTASTS_FETCH_OK;
	policy_text = enforce1;
	int before = fetches;
	get(c, "a.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, before + 1);

	/* A failed first fetch: none, then back-off for 5 minutes, then a
	 * new attempt. */
	use_zone("_mta-sts.b.example. TXT \"v=STSv1; id=b\"\n");
	fetch_status = MOX_MTASTS_FETCH_NOPOLICY;
	get(c, "b.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_string_equal(r.report.reason, "no-policy-served");
	mox_mtasts_cache_result_clear(&r);
	before = fetches;
	clock_now += MOX_MTASTS_BACKOFF_SECONDS - 1;
	get(c, "b.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_BACKOFF, &r);
	assert_string_equal(r.report.reason, "back-off-after-recent-fetch-error");
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, before);
	clock_now += 2;
	fetch_status = MOX_MTASTS_FETCH_OK;
	policy_text = "version: STSv1\nmode: testing\nmx: mx.b.example\nmax_age: 600\n";
	get(c, "b.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_int_equal(r.policy->mode, MOX_MTASTS_MODE_TESTING);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, before + 1);

	/* A policy that does not parse is a back-off too, reported as
	 * sts-policy-invalid. */
	use_zone("_mta-sts.c.example. TXT \"v=STSv1; id=c\"\n");
	policy_text = "<html>not a policy</html>";
	get(c, "c.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_string_equal(r.report.result_type, "sts-policy-invalid");
	mox_mtasts_cache_result_clear(&r);
	get(c, "c.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_BACKOFF, &r);
	mox_mtasts_cache_result_clear(&r);

	/* Mode none: no requirements, stored, reported as no policy. */
	use_zone("_mta-sts.d.example. TXT \"v=STSv1; id=d\"\n");
	policy_text = "version: STSv1\nmode: none\nmax_age: 86400\n";
	get(c, "d.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_FETCHED, &r);
	assert_string_equal(r.report.policy_type, "no-policy-found");
	mox_mtasts_decide(r.policy, "anything.example", &d);
	assert_true(d.allowed);
	assert_false(d.require_tls);
	mox_mtasts_cache_result_clear(&r);
	get(c, "d.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_CACHED, &r);
	mox_mtasts_cache_result_clear(&r);

	/* Invalid domain. */
	get(c, "not a domain", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_NONE, &r);
	mox_mtasts_cache_result_clear(&r);

	assert_int_equal(mox_mtasts_cache_count(c, &count, NULL), MOX_OK);
	assert_int_equal(count, 4);
	mox_mtasts_cache_free(c);

	/* Persistence: a new handle on the same file has the policies. */
	c = open_cache(NULL);
	use_zone("_mta-sts.d.example. TXT \"v=STSv1; id=d\"\n");
	before = fetches;
	get(c, "d.example", MOX_MTASTS_CACHE_NONE, MOX_MTASTS_SOURCE_CACHED, &r);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, before);
	mox_mtasts_cache_free(c);
}

static void
test_refresh(void **state)
{
	(void)state;
	mox_mtasts_cache *c = open_cache(NULL);
	mox_mtasts_cache_result r;
	use_zone("_mta-sts.r.example. TXT \"v=STSv1; id=r1\"\n"
	         "_mta-sts.s.example. TXT \"v=STSv1; id=s1\"\n");
	fetch_status = MOX_MTASTS_FETCH_OK;
	policy_text =
	    "version: STSv1\nmode: enforce\nmx: mx.r.example\nmax_age: 86400\n";
	get(c, "r.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	mox_mtasts_cache_result_clear(&r);
	get(c, "s.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_FETCHED, &r);
	mox_mtasts_cache_result_clear(&r);

	/* Nothing due yet. */
	size_t refreshed, removed;
	assert_int_equal(mox_mtasts_cache_refresh(c, 10, &refreshed, &removed, NULL),
	                 MOX_OK);
	assert_int_equal(refreshed, 0);
	assert_int_equal(removed, 0);

	/* After 13 hours: same id for r extends its life without a fetch;
	 * a new id for s fetches. The limit of 1 leaves one for later. */
	clock_now += 13 * 3600;
	use_zone("_mta-sts.r.example. TXT \"v=STSv1; id=r1\"\n"
	         "_mta-sts.s.example. TXT \"v=STSv1; id=s2\"\n");
	int before = fetches;
	assert_int_equal(mox_mtasts_cache_refresh(c, 1, &refreshed, &removed, NULL),
	                 MOX_OK);
	assert_int_equal(refreshed, 1);
	assert_int_equal(mox_mtasts_cache_refresh(c, 10, &refreshed, &removed, NULL),
	                 MOX_OK);
	assert_int_equal(refreshed, 1);
	assert_int_equal(fetches, before + 1);

	/* 20 hours later (33 after the first fetch, past the original
	 * max_age of 24h): both still valid from the refresh. */
	clock_now += 20 * 3600;
	before = fetches;
	get(c, "r.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_CACHED, &r);
	mox_mtasts_cache_result_clear(&r);
	get(c, "s.example", MOX_MTASTS_CACHE_POLICY, MOX_MTASTS_SOURCE_CACHED, &r);
	assert_string_equal(r.record_id, "s2");
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(fetches, before);

	/* Unused for 180 days: removed. */
	clock_now += MOX_MTASTS_CACHE_UNUSED_SECONDS + 1;
	fetch_status = MOX_MTASTS_FETCH_ERROR; /* refresh of what remains fails */
	assert_int_equal(mox_mtasts_cache_refresh(c, 10, &refreshed, &removed, NULL),
	                 MOX_OK);
	assert_int_equal(removed, 2);
	size_t count;
	assert_int_equal(mox_mtasts_cache_count(c, &count, NULL), MOX_OK);
	assert_int_equal(count, 0);
	mox_mtasts_cache_free(c);
}

static mox_mtasts_cache *shared_cache;

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++) {
		mox_mtasts_cache_result r;
		if (mox_mtasts_cache_get(shared_cache,
		                         i % 2 ? "t.example" : "u.example",
		                         &r) != MOX_OK ||
		    r.status != MOX_MTASTS_CACHE_POLICY) {
			mox_mtasts_cache_result_clear(&r);
			return (void *)1;
		}
		mox_mtasts_cache_result_clear(&r);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	shared_cache = open_cache(NULL);
	use_zone("_mta-sts.t.example. TXT \"v=STSv1; id=t\"\n"
	         "_mta-sts.u.example. TXT \"v=STSv1; id=u\"\n");
	fetch_status = MOX_MTASTS_FETCH_OK;
	policy_text = enforce1;
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	mox_mtasts_cache_free(shared_cache);
}

static void
test_oom(void **state)
{
	(void)state;
	use_zone("_mta-sts.o.example. TXT \"v=STSv1; id=o1\"\n");
	fetch_status = MOX_MTASTS_FETCH_OK;
	policy_text = enforce1;
	/* Each round: open, first get (fetch and store), second get (from
	 * the cache), all with a failing allocator. */
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_mtasts_cache_opts o = {.size = sizeof(o),
		                           .alloc = &ta.a,
		                           .path = dbpath,
		                           .resolver = &switcher,
		                           .fetch_fn = fake_fetch,
		                           .now = test_now};
		mox_mtasts_cache *c = NULL;
		mox_err err = mox_mtasts_cache_new(&c, &o, NULL);
		mox_mtasts_cache_result r;
		memset(&r, 0, sizeof(r));
		if (err == MOX_OK) {
			clock_now += 100000; /* past max_age: fetch again */
			err = mox_mtasts_cache_get(c, "o.example", &r);
			if (err == MOX_OK)
				assert_int_equal(r.source, MOX_MTASTS_SOURCE_FETCHED);
			mox_mtasts_cache_result_clear(&r);
		}
		if (err == MOX_OK) {
			err = mox_mtasts_cache_get(c, "o.example", &r);
			if (err == MOX_OK)
				assert_int_equal(r.source, MOX_MTASTS_SOURCE_CACHED);
			mox_mtasts_cache_result_clear(&r);
		}
		mox_mtasts_cache_free(c);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
		assert_true(n < 1000);
	}
}

static void
test_bad_open(void **state)
{
	(void)state;
	mox_mtasts_cache *c = NULL;
	mox_errinfo info = {0};
	mox_mtasts_cache_opts o = {.size = sizeof(o),
	                           .path = "/nonexistent-dir/x/mtasts.db",
	                           .resolver = &switcher,
	                           .fetch_fn = fake_fetch};
	assert_int_equal(mox_mtasts_cache_new(&c, &o, &info), MOX_EIO);
	assert_non_null(strstr(info.msg, "cannot open"));
	assert_null(c);
	o.resolver = NULL;
	assert_int_equal(mox_mtasts_cache_new(&c, &o, &info), MOX_EINVAL);
	assert_int_equal(mox_mtasts_cache_new(&c, NULL, &info), MOX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
	    cmocka_unit_test(test_bad_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
