/* Resolver benchmark: libmoxdns against its peers, on a local unbound.
 *
 * Starts the unbound fixture (tests/common/unbound_fixture.c) with the
 * test zone, then measures single-threaded lookups per second, each case
 * bounded by a count and a time (whichever comes first):
 *
 *   uncached: our ldns backend (mox_dns_ldns_new + mox_dns_lookup) against
 *             raw ldns_resolver_query with the same settings (RD, EDNS0
 *             DO). Both ask the fixture every time, so this measures the
 *             client side plus a loopback round trip to unbound's cache.
 *   cached:   our cache (mox_dns_cache_new over the ldns backend) against
 *             libunbound's own cache (ub_ctx forwarding to the fixture).
 *             Neither touches the network after the first lookup.
 *
 * Every lookup's result is checked (FOUND, two A records), so failures are
 * counted, not timed. All traffic goes to 127.0.0.1.
 *
 * Usage: bench_resolver [SOURCE_DIR] [--count N] [--seconds S] [--zone FILE]
 * SOURCE_DIR (as ./dev bench passes it) finds tests/dns/test.zone there
 * instead of in the source tree the program was built from.
 * Output: one table row per case with our figure, the peer's, and the
 * ratio ours/peer (above 1: we are faster). Exit status 1 if any lookup
 * failed or the fixture did not start.
 */
#include "unbound_fixture.h"

#include <mox/dns.h>

#include <ldns/ldns.h>
#include <unbound.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME "a.mox.test"
#define NAME_RECORDS 2

typedef bool (*op_fn)(void *arg);

typedef struct result {
	double per_sec;
	long done;
	long failed;
} result;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run op until max_count calls or max_seconds pass. */
static result
measure(op_fn op, void *arg, long max_count, double max_seconds)
{
	result r = {0};
	/* Warm up: connections, caches. */
	for (int i = 0; i < 10; i++)
		(void)op(arg);
	double t0 = now_s(), t = t0;
	while (r.done < max_count) {
		if (!op(arg))
			r.failed++;
		r.done++;
		/* Reading the clock every call would cost as much as a cached
		 * lookup; every 64 calls is plenty. */
		if ((r.done & 63) == 0) {
			t = now_s();
			if (t - t0 >= max_seconds)
				break;
		}
	}
	t = now_s();
	r.per_sec = t > t0 ? (double)r.done / (t - t0) : 0;
	return r;
}

static bool
op_mox(void *arg)
{
	mox_resolver *r = arg;
	mox_dns_answer *a = NULL;
	bool ok = mox_dns_lookup(r, NAME, MOX_DNS_A, &a) == MOX_OK &&
	          a->status == MOX_DNS_FOUND && a->nrr == NAME_RECORDS;
	mox_dns_answer_free(a);
	return ok;
}

typedef struct ldns_peer {
	ldns_resolver *r;
	ldns_rdf *name;
} ldns_peer;

static bool
op_ldns(void *arg)
{
	ldns_peer *p = arg;
	ldns_pkt *pkt = ldns_resolver_query(p->r, p->name, LDNS_RR_TYPE_A,
	                                    LDNS_RR_CLASS_IN, LDNS_RD);
	bool ok = pkt != NULL && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR &&
	          ldns_pkt_ancount(pkt) == NAME_RECORDS;
	ldns_pkt_free(pkt);
	return ok;
}

static bool
op_unbound(void *arg)
{
	struct ub_ctx *ctx = arg;
	struct ub_result *res = NULL;
	bool ok = ub_resolve(ctx, NAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &res) == 0 &&
	          res->havedata && res->rcode == 0;
	if (ok) {
		int n = 0;
		while (res->data[n] != NULL)
			n++;
		ok = n == NAME_RECORDS;
	}
	ub_resolve_free(res);
	return ok;
}

/* The asynchronous interface: a background thread keeps one worker (and
 * its event loop) alive; ub_resolve in the caller's thread builds a
 * worker per call. */
typedef struct ub_wait_state {
	bool done;
	bool ok;
} ub_wait_state;

static void
ub_done(void *arg, int err, struct ub_result *res)
{
	ub_wait_state *w = arg;
	w->done = true;
	w->ok = false;
	if (err == 0 && res != NULL && res->havedata && res->rcode == 0) {
		int n = 0;
		while (res->data[n] != NULL)
			n++;
		w->ok = n == NAME_RECORDS;
	}
	ub_resolve_free(res);
}

static bool
op_unbound_async(void *arg)
{
	struct ub_ctx *ctx = arg;
	ub_wait_state w = {false, false};
	if (ub_resolve_async(ctx, NAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, &w, ub_done,
	                     NULL) != 0)
		return false;
	while (!w.done)
		if (ub_wait(ctx) != 0)
			return false;
	return w.ok;
}

/* A libunbound context that forwards to the fixture; async: answer
 * from a background thread. */
static struct ub_ctx *
ub_setup(const char *conf, const char *fwd, bool async)
{
	struct ub_ctx *ctx = ub_ctx_create();
	int ue = 0;
	if (ctx == NULL || (ue = ub_ctx_config(ctx, conf)) != 0 ||
	    (ue = ub_ctx_set_fwd(ctx, fwd)) != 0 ||
	    (async && (ue = ub_ctx_async(ctx, 1)) != 0)) {
		fprintf(stderr, "libunbound setup: %s\n",
		        ctx == NULL ? "ub_ctx_create failed" : ub_strerror(ue));
		if (ctx != NULL)
			ub_ctx_delete(ctx);
		return NULL;
	}
	return ctx;
}

static void
row(const char *what, result ours, result peer, const char *peer_name)
{
	printf("%-22s %14.0f %14.0f %9.2f   %s\n", what, ours.per_sec, peer.per_sec,
	       peer.per_sec > 0 ? ours.per_sec / peer.per_sec : 0.0, peer_name);
	if (ours.failed != 0 || peer.failed != 0)
		printf("%-22s failures: ours %ld of %ld, peer %ld of %ld\n", "",
		       ours.failed, ours.done, peer.failed, peer.done);
}

int
main(int argc, char **argv)
{
	long count = 20000;
	double seconds = 5.0;
	const char *zone = MOX_BENCH_ZONE;
	char zone_buf[4096] = "";
	int status = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--zone") == 0 && i + 1 < argc)
			zone = argv[++i];
		else if (argv[i][0] != '-' && zone_buf[0] == '\0') {
			snprintf(zone_buf, sizeof(zone_buf), "%s/tests/dns/test.zone",
			         argv[i]);
			zone = zone_buf;
		} else {
			fprintf(stderr,
			        "usage: %s [SOURCE_DIR] [--count N] [--seconds S] "
			        "[--zone FILE]\n",
			        argv[0]);
			return 2;
		}
	}
	if (count <= 0 || seconds <= 0) {
		fprintf(stderr, "count and seconds must be positive\n");
		return 2;
	}

	mox_test_unbound ub = {0};
	char err[1024];
	if (mox_test_unbound_start(&ub, zone, "mox.test.", err, sizeof(err)) != 0) {
		fprintf(stderr, "unbound fixture: %s\n", err);
		return 1;
	}

	mox_resolver *ours = NULL, *cache = NULL;
	ldns_peer lp = {0};
	struct ub_ctx *ctx = NULL, *actx = NULL;
	mox_errinfo info = {0};
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr};
	if (mox_dns_ldns_new(&ours, &o, &info) != MOX_OK) {
		fprintf(stderr, "mox_dns_ldns_new: %s\n", info.msg);
		goto out;
	}
	mox_dns_cache_opts co = {.size = sizeof(co)};
	if (mox_dns_cache_new(&cache, ours, &co) != MOX_OK) {
		fprintf(stderr, "mox_dns_cache_new failed\n");
		goto out;
	}

	/* The ldns peer, configured as our backend configures itself. */
	lp.r = ldns_resolver_new();
	ldns_rdf *ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
	lp.name = ldns_dname_new_frm_str(NAME);
	if (lp.r == NULL || ns == NULL || lp.name == NULL ||
	    ldns_resolver_push_nameserver(lp.r, ns) != LDNS_STATUS_OK) {
		ldns_rdf_deep_free(ns);
		fprintf(stderr, "ldns setup failed\n");
		goto out;
	}
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(lp.r, ub.port);
	ldns_resolver_set_recursive(lp.r, true);
	ldns_resolver_set_dnssec(lp.r, true);
	ldns_resolver_set_edns_udp_size(lp.r, 1232);
	ldns_resolver_set_retry(lp.r, 2);
	ldns_resolver_set_retrans(lp.r, 0);
	ldns_resolver_set_random(lp.r, false);
	ldns_resolver_set_timeout(lp.r, (struct timeval){.tv_sec = 2});

	/* The libunbound peer: its own cache, forwarding to the fixture. It
	 * must be told that loopback and test. are fine to use. */
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/libunbound.conf", ub.dir);
	FILE *f = fopen(conf, "w");
	if (f == NULL) {
		fprintf(stderr, "cannot write %s\n", conf);
		goto out;
	}
	fprintf(f, "server:\n"
	           "  do-not-query-localhost: no\n"
	           "  outgoing-interface: 127.0.0.1\n"
	           "  do-ip6: no\n"
	           "  local-zone: \"test.\" nodefault\n"
	           "  verbosity: 0\n");
	fclose(f);
	char fwd[64];
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", (unsigned)ub.port);
	ctx = ub_setup(conf, fwd, false);
	actx = ub_setup(conf, fwd, true);
	if (ctx == NULL || actx == NULL)
		goto out;

	printf("mox-c resolver benchmark: unbound at %s, %s/A (%d records), "
	       "up to %ld lookups or %.1f s per figure, one thread\n\n",
	       ub.addr, NAME, NAME_RECORDS, count, seconds);
	printf("%-22s %14s %14s %9s   %s\n", "case", "ours/s", "peer/s", "ours/peer",
	       "peer");
	result a = measure(op_mox, ours, count, seconds);
	result b = measure(op_ldns, &lp, count, seconds);
	row("uncached (loopback)", a, b, "ldns_resolver_query");
	result c = measure(op_mox, cache, count, seconds);
	result d = measure(op_unbound, ctx, count, seconds);
	row("cached", c, d, "libunbound ub_resolve (its cache)");
	result e = measure(op_unbound_async, actx, count, seconds);
	row("cached", c, e, "libunbound ub_resolve_async + ub_wait");
	mox_dns_cache_stats st;
	if (mox_dns_cache_stats_get(cache, &st) == MOX_OK)
		printf("\nour cache: %llu hits, %llu misses\n",
		       (unsigned long long)st.hits, (unsigned long long)st.misses);
	status = a.failed || b.failed || c.failed || d.failed || e.failed ? 1 : 0;
out:
	if (actx != NULL)
		ub_ctx_delete(actx);
	if (ctx != NULL)
		ub_ctx_delete(ctx);
	ldns_rdf_deep_free(lp.name);
	if (lp.r != NULL)
		ldns_resolver_deep_free(lp.r);
	mox_resolver_free(cache);
	mox_resolver_free(ours);
	mox_test_unbound_stop(&ub);
	return status;
}
