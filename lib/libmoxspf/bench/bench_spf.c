/* bench_spf: evaluations per second of libmoxspf beside libspf2 (Debian
 * libspf2-dev), both against the same local unbound (started here from
 * tests/common/unbound_fixture.c with bench.zone), single-threaded:
 *
 *   policy "ip4":  v=spf1 ip4:192.0.2.0/24 -all            (1 TXT lookup)
 *   policy "inc3": 3 includes, the 3rd matches             (4 TXT lookups)
 *
 * cold: no client-side cache (ours: the ldns resolver; libspf2: its resolv
 * layer), so every evaluation sends its queries to unbound; warm: our
 * TTL cache over ldns, libspf2's SPF_DNS_CACHE layer, both filled by a
 * first run. Each loop runs at most BENCH_SECONDS and BENCH_MAX_ITERS.
 * Then the two cases where libspf2 is not correct are shown.
 *
 * Usage: bench_spf [repo top dir]  (./dev bench passes it). */
#include <mox/spf.h>

#include "libspf2_glue.h"
#include "unbound_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MOX_SPF_BENCH_DIR
#error "MOX_SPF_BENCH_DIR must name lib/libmoxspf/bench"
#endif

#define BENCH_SECONDS 1.0
#define BENCH_MAX_ITERS 20000000L

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct policy {
	const char *name, *mailfrom, *ip;
} policy;

static const policy policies[] = {
	{"ip4", "user@ip4.bench.test", "192.0.2.1"},
	{"inc3", "user@inc3.bench.test", "192.0.2.1"},
};

/* Evaluations per second of ours; -1 if a result was not pass. */
static double
run_ours(mox_spf *spf, const policy *p)
{
	mox_spf_request req = {
		.size = sizeof(req), .ip = p->ip, .mailfrom = p->mailfrom, .helo = "client.test"};
	long n = 0;
	double t0 = now(), t = t0;
	while (n < BENCH_MAX_ITERS) {
		mox_spf_outcome *o = NULL;
		if (mox_spf_check(spf, &req, &o) != MOX_OK || o->result != MOX_SPF_PASS) {
			fprintf(stderr, "bench_spf: ours on %s: %s (%s)\n", p->name,
				o ? mox_spf_result_name(o->result) : "error",
				o && o->problem ? o->problem : "");
			mox_spf_outcome_free(o);
			return -1;
		}
		mox_spf_outcome_free(o);
		n++;
		if ((n & 63) == 0 && (t = now()) - t0 >= BENCH_SECONDS)
			break;
	}
	t = now();
	return (double)n / (t - t0);
}

static double
run_libspf2(void *srv, const policy *p)
{
	long n = 0;
	double t0 = now(), t = t0;
	while (n < BENCH_MAX_ITERS) {
		const char *r = mox_test_libspf2_check(srv, p->ip, p->mailfrom, "client.test");
		if (strcmp(r, "pass") != 0) {
			fprintf(stderr, "bench_spf: libspf2 on %s: %s\n", p->name, r);
			return -1;
		}
		n++;
		if ((n & 63) == 0 && (t = now()) - t0 >= BENCH_SECONDS)
			break;
	}
	t = now();
	return (double)n / (t - t0);
}

static void
row(const char *pname, const char *mode, double ours, double theirs)
{
	printf("%-6s %-5s %12.0f/s %12.0f/s %8.2fx\n", pname, mode, ours, theirs,
	       theirs > 0 ? ours / theirs : 0.0);
}

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mox_test_unbound ub;
	memset(&ub, 0, sizeof(ub));
	char err[1024];
	if (mox_test_unbound_start(&ub, MOX_SPF_BENCH_DIR "/bench.zone", "bench.test.", err,
				   sizeof(err)) != 0) {
		fprintf(stderr, "bench_spf: unbound: %s\n", err);
		return 1;
	}
	mox_test_libspf2_set_port(ub.port);
	int rc = 1;
	mox_resolver *ldns = NULL, *cache = NULL;
	mox_spf *cold = NULL, *warm = NULL;
	void *l_cold = NULL, *l_warm = NULL;
	mox_dns_ldns_opts lo = {.size = sizeof(lo), .nameservers = ub.addr};
	mox_errinfo info;
	if (mox_dns_ldns_new(&ldns, &lo, &info) != MOX_OK) {
		fprintf(stderr, "bench_spf: ldns: %s\n", info.msg);
		goto out;
	}
	mox_dns_cache_opts co = {.size = sizeof(co)};
	if (mox_dns_cache_new(&cache, ldns, &co) != MOX_OK)
		goto out;
	mox_spf_opts so = {.size = sizeof(so), .resolver = ldns, .receiver = "bench.local"};
	if (mox_spf_new(&cold, &so) != MOX_OK)
		goto out;
	so.resolver = cache;
	if (mox_spf_new(&warm, &so) != MOX_OK)
		goto out;
	l_cold = mox_test_libspf2_new(false);
	l_warm = mox_test_libspf2_new(true);
	if (l_cold == NULL || l_warm == NULL)
		goto out;

	printf("SPF evaluations per second, single thread, against unbound at %s\n", ub.addr);
	printf("%-6s %-5s %14s %14s %9s\n", "policy", "cache", "libmoxspf", "libspf2", "ratio");
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		const policy *p = &policies[i];
		double o = run_ours(cold, p), t = run_libspf2(l_cold, p);
		if (o < 0 || t < 0)
			goto out;
		row(p->name, "cold", o, t);
		/* Fill both caches, then measure. */
		if (run_ours(warm, p) < 0 || run_libspf2(l_warm, p) < 0)
			goto out;
		o = run_ours(warm, p);
		t = run_libspf2(l_warm, p);
		if (o < 0 || t < 0)
			goto out;
		row(p->name, "warm", o, t);
	}

	/* Correctness where libspf2 is not correct. */
	static const struct {
		const char *from, *what;
	} wrong[] = {
		{"user@void.bench.test", "3 void lookups (RFC 7208 section 4.6.4: permerror)"},
		{"user@badip.bench.test", "ip4:192.0.2.300 (RFC 7208 section 4.6: permerror)"},
	};
	for (size_t i = 0; i < 2; i++) {
		mox_spf_request req = {.size = sizeof(req),
				       .ip = "192.0.2.1",
				       .mailfrom = wrong[i].from,
				       .helo = "client.test"};
		mox_spf_outcome *o = NULL;
		if (mox_spf_check(cold, &req, &o) != MOX_OK)
			goto out;
		printf("%s: libmoxspf %s, libspf2 %s\n", wrong[i].what,
		       mox_spf_result_name(o->result),
		       mox_test_libspf2_check(l_cold, "192.0.2.1", wrong[i].from, "client.test"));
		mox_spf_outcome_free(o);
	}
	rc = 0;
out:
	mox_test_libspf2_free(l_cold);
	mox_test_libspf2_free(l_warm);
	mox_spf_free(cold);
	mox_spf_free(warm);
	mox_resolver_free(cache);
	mox_resolver_free(ldns);
	mox_test_unbound_stop(&ub);
	return rc;
}
