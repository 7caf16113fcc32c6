/* The ldns backend against a real unbound on loopback (label
 * "integration"), plus the response conversion on hand-made packets.
 *
 * Group "packet" needs no network: mox__dns_ldns_answer_from_pkt on
 * packets built with ldns (CNAME loops, hostile rdata, TC, mismatched
 * questions, RCODE mapping, OOM loop) and mox__dns_ldns_wire2pkt's checks
 * on wire bytes.
 *
 * Group "unbound" starts tests/common/unbound_fixture.c with test.zone
 * signed (validator on, trust anchor for mox.test) and reverse.zone
 * unsigned, then runs every check twice: through mox_dns_ldns_new, and
 * through mox_dns_cache_new wrapping it, where each lookup is made twice
 * and the second must be a cache hit (FOUND, NXDOMAIN, NODATA) or not
 * cached at all (TEMPFAIL, PERMFAIL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <cmocka.h>

#include <mox/dns.h>
#include "mox_testalloc.h"
#include "resolver_ldns_int.h"
#include "unbound_fixture.h"

#ifndef MOX_DNS_TEST_DIR
#error "MOX_DNS_TEST_DIR must name tests/dns"
#endif

static mox_test_unbound ub;
static mox_resolver *plain;  /* ldns backend on the fixture */
static mox_resolver *cached; /* cache over plain */

/* ---- helpers ---- */

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static mox_resolver *
make_ldns(const char *ns, unsigned timeout_ms, unsigned tries, bool no_tcp,
          bool no_edns)
{
	mox_dns_ldns_opts o = {.size = sizeof(o),
	                       .nameservers = ns,
	                       .timeout_ms = timeout_ms,
	                       .tries = tries,
	                       .no_tcp_fallback = no_tcp,
	                       .no_edns = no_edns};
	mox_resolver *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_dns_ldns_new(&r, &o, &info);
	if (err != MOX_OK)
		print_error("mox_dns_ldns_new(%s): %s\n", ns, info.msg);
	assert_int_equal(err, MOX_OK);
	assert_non_null(r);
	return r;
}

static bool
cacheable(const mox_dns_answer *a)
{
	return a->status == MOX_DNS_FOUND || a->status == MOX_DNS_NXDOMAIN ||
	       a->status == MOX_DNS_NODATA;
}

static void
assert_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Look up name/type through r. Through the cache, look up twice from an
 * empty cache and check the second was a hit exactly when the answer may
 * be cached, and that both answers agree; return the second. */
static mox_dns_answer *
q(mox_resolver *r, const char *name, mox_dns_type type)
{
	mox_dns_answer *a = NULL, *b = NULL;
	if (r != cached) {
		assert_int_equal(mox_dns_lookup(r, name, type, &a), MOX_OK);
		assert_non_null(a);
		return a;
	}
	mox_dns_cache_stats s0, s1, s2;
	mox_dns_cache_clear(cached);
	assert_int_equal(mox_dns_cache_stats_get(cached, &s0), MOX_OK);
	assert_int_equal(mox_dns_lookup(cached, name, type, &a), MOX_OK);
	assert_int_equal(mox_dns_cache_stats_get(cached, &s1), MOX_OK);
	assert_int_equal(mox_dns_lookup(cached, name, type, &b), MOX_OK);
	assert_int_equal(mox_dns_cache_stats_get(cached, &s2), MOX_OK);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(s1.hits, s0.hits);
	if (cacheable(a)) {
		assert_int_equal(s1.misses, s0.misses + 1);
		assert_int_equal(s2.hits, s1.hits + 1);
		assert_int_equal(s2.misses, s1.misses);
	} else {
		assert_int_equal(s2.hits, s1.hits);
	}
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->rcode, b->rcode);
	assert_int_equal(a->authentic, b->authentic);
	assert_int_equal(a->nrr, b->nrr);
	assert_same_str(a->cname, b->cname);
	assert_same_str(a->qname, b->qname);
	mox_dns_answer_free(a);
	return b;
}

/* A resolver that counts lookups and passes them on, to prove a lookup
 * never reached the backend. */
typedef struct counting {
	mox_resolver *inner;
	int calls;
} counting;

static mox_err
counting_lookup(void *ctx, const char *name, mox_dns_type type,
                mox_dns_answer **answer_out)
{
	counting *c = ctx;
	c->calls++;
	return c->inner->lookup(c->inner->ctx, name, type, answer_out);
}

static int
cmp_mx(const void *a, const void *b)
{
	const mox_dns_rr *x = a, *y = b;
	return (int)x->u.mx.preference - (int)y->u.mx.preference;
}

static int
cmp_a(const void *a, const void *b)
{
	return memcmp(((const mox_dns_rr *)a)->u.a, ((const mox_dns_rr *)b)->u.a, 4);
}

static int
cmp_aaaa(const void *a, const void *b)
{
	return memcmp(((const mox_dns_rr *)a)->u.aaaa, ((const mox_dns_rr *)b)->u.aaaa,
	              16);
}

/* ---- checks, run on plain and on cached ---- */

static void
check_txt(mox_resolver *r)
{
	static const char *const want[] = {"v=spf1 ip4:192.0.2.0/24", " -all", "",
	                                   "a \"quoted\" string"};
	static const char concat[] = "v=spf1 ip4:192.0.2.0/24 -alla \"quoted\" string";
	/* Upper case and a trailing dot: the answer is normalized. */
	mox_dns_answer *a = q(r, "TXT.Mox.Test.", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->rcode, 0);
	assert_true(a->authentic);
	assert_string_equal(a->qname, "txt.mox.test");
	assert_null(a->cname);
	assert_null(a->why);
	assert_int_equal(a->nrr, 1);
	const mox_dns_rr *rr = &a->rr[0];
	assert_int_equal(rr->type, MOX_DNS_TXT);
	assert_string_equal(rr->name, "txt.mox.test");
	assert_true(rr->ttl > 0 && rr->ttl <= 300);
	assert_int_equal(rr->u.txt.nstrings, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(rr->u.txt.lens[i], strlen(want[i]));
		assert_memory_equal(rr->u.txt.strings[i], want[i], strlen(want[i]) + 1);
	}
	assert_int_equal(rr->u.txt.len, strlen(concat));
	assert_string_equal((const char *)rr->u.txt.data, concat);
	mox_dns_answer_free(a);
}

static void
check_mx(mox_resolver *r)
{
	static const char *const hosts[] = {"mx1.mox.test", "mx2.mox.test",
	                                    "mx3.mox.test"};
	mox_dns_answer *a = q(r, "mx.mox.test", MOX_DNS_MX);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 3);
	qsort(a->rr, a->nrr, sizeof(a->rr[0]), cmp_mx);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(a->rr[i].type, MOX_DNS_MX);
		assert_int_equal(a->rr[i].u.mx.preference, 10 * (i + 1));
		assert_string_equal(a->rr[i].u.mx.host, hosts[i]);
		assert_string_equal(a->rr[i].name, "mx.mox.test");
	}
	mox_dns_answer_free(a);

	/* RFC 7505 null MX: preference 0, host "." given as "". */
	a = q(r, "nullmx.mox.test", MOX_DNS_MX);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.mx.preference, 0);
	assert_string_equal(a->rr[0].u.mx.host, "");
	mox_dns_answer_free(a);
}

static void
check_a_aaaa(mox_resolver *r)
{
	mox_dns_answer *a = q(r, "a.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 2);
	qsort(a->rr, a->nrr, sizeof(a->rr[0]), cmp_a);
	assert_memory_equal(a->rr[0].u.a, ((const uint8_t[]){192, 0, 2, 1}), 4);
	assert_memory_equal(a->rr[1].u.a, ((const uint8_t[]){192, 0, 2, 2}), 4);
	mox_dns_answer_free(a);

	a = q(r, "aaaa.mox.test", MOX_DNS_AAAA);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 2);
	qsort(a->rr, a->nrr, sizeof(a->rr[0]), cmp_aaaa);
	uint8_t want[16];
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", want), 1);
	assert_memory_equal(a->rr[0].u.aaaa, want, 16);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1:0:0:ff01", want), 1);
	assert_memory_equal(a->rr[1].u.aaaa, want, 16);
	assert_int_equal(a->rr[1].type, MOX_DNS_AAAA);
	mox_dns_answer_free(a);
}

static void
check_ptr(mox_resolver *r)
{
	char name[MOX_DNS_REVERSE_MAX];
	assert_int_equal(mox_dns_reverse_name("192.0.2.25", name, sizeof(name)),
	                 MOX_OK);
	assert_string_equal(name, "25.2.0.192.in-addr.arpa");
	mox_dns_answer *a = q(r, name, MOX_DNS_PTR);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.host, "host.mox.test");
	/* reverse.zone is not signed. */
	assert_false(a->authentic);
	mox_dns_answer_free(a);
}

static void
check_tlsa_soa_ns(mox_resolver *r)
{
	mox_dns_answer *a = q(r, "_25._tcp.host.mox.test", MOX_DNS_TLSA);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.tlsa.usage, 3);
	assert_int_equal(a->rr[0].u.tlsa.selector, 1);
	assert_int_equal(a->rr[0].u.tlsa.matching_type, 1);
	assert_int_equal(a->rr[0].u.tlsa.len, 32);
	assert_memory_equal(a->rr[0].u.tlsa.data,
	                    ((const uint8_t[]){0x01, 0x23, 0x45, 0x67, 0x89, 0xab}), 6);
	mox_dns_answer_free(a);

	a = q(r, "mox.test", MOX_DNS_SOA);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.soa.mname, "ns.mox.test");
	assert_string_equal(a->rr[0].u.soa.rname, "hostmaster.mox.test");
	assert_int_equal(a->rr[0].u.soa.serial, 2024010101);
	assert_int_equal(a->rr[0].u.soa.refresh, 3600);
	assert_int_equal(a->rr[0].u.soa.retry, 600);
	assert_int_equal(a->rr[0].u.soa.expire, 86400);
	assert_int_equal(a->rr[0].u.soa.minimum, 120);
	mox_dns_answer_free(a);

	a = q(r, "mox.test", MOX_DNS_NS);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.host, "ns.mox.test");
	mox_dns_answer_free(a);
}

static void
check_negative(mox_resolver *r)
{
	mox_dns_answer *a = q(r, "nonexistent.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->rcode, 3);
	assert_int_equal(a->nrr, 0);
	/* min(SOA TTL 3600, MINIMUM 120), RFC 2308 section 5. */
	assert_true(a->neg_ttl > 0 && a->neg_ttl <= 120);
	assert_true(a->authentic); /* NSEC-proven denial */
	mox_dns_answer_free(a);

	a = q(r, "txt.mox.test", MOX_DNS_AAAA);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	assert_int_equal(a->rcode, 0);
	assert_int_equal(a->nrr, 0);
	assert_true(a->neg_ttl > 0 && a->neg_ttl <= 120);
	mox_dns_answer_free(a);

	/* Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 8020). */
	a = q(r, "b.ent.mox.test", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	assert_int_equal(a->rcode, 0);
	mox_dns_answer_free(a);
	a = q(r, "ent.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	a = q(r, "a.b.ent.mox.test", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	mox_dns_answer_free(a);
	a = q(r, "x.a.b.ent.mox.test", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_NXDOMAIN);
	mox_dns_answer_free(a);
}

static void
check_servfail(mox_resolver *r)
{
	mox_dns_answer *a = q(r, "x.servfail.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->rcode, 2);
	assert_int_equal(a->nrr, 0);
	assert_false(a->authentic);
	assert_non_null(a->why);
	assert_non_null(strstr(a->why, "SERVFAIL"));
	assert_non_null(strstr(a->why, ub.addr));
	mox_dns_answer_free(a);
}

static void
check_cname(mox_resolver *r)
{
	mox_dns_answer *a = q(r, "c1.mox.test", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_string_equal(a->qname, "c1.mox.test");
	assert_non_null(a->cname);
	assert_string_equal(a->cname, "final.mox.test");
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].name, "final.mox.test");
	assert_string_equal((const char *)a->rr[0].u.txt.data, "end of chain");
	assert_true(a->authentic);
	mox_dns_answer_free(a);

	a = q(r, "C2.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_string_equal(a->cname, "final.mox.test");
	assert_int_equal(a->nrr, 1);
	assert_memory_equal(a->rr[0].u.a, ((const uint8_t[]){192, 0, 2, 10}), 4);
	mox_dns_answer_free(a);

	/* Asking for the CNAME itself: no chasing. */
	a = q(r, "c2.mox.test", MOX_DNS_CNAME);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_null(a->cname);
	assert_int_equal(a->nrr, 1);
	assert_string_equal(a->rr[0].u.host, "c3.mox.test"); /* was C3.MOX.Test */
	mox_dns_answer_free(a);

	/* A chain to a type the final name lacks: NODATA, cname still set. */
	a = q(r, "c1.mox.test", MOX_DNS_MX);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	assert_string_equal(a->cname, "final.mox.test");
	mox_dns_answer_free(a);
}

static void
check_cname_loop(mox_resolver *r)
{
	/* unbound detects the loop itself and answers SERVFAIL, which we
	 * map to TEMPFAIL like any SERVFAIL; a loop we see in an answer
	 * section is PERMFAIL (group "packet"). */
	mox_dns_answer *a = q(r, "loop1.mox.test", MOX_DNS_A);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->rcode, 2);
	assert_int_equal(a->nrr, 0);
	mox_dns_answer_free(a);
}

static void
check_big_txt(mox_resolver *r)
{
	/* 2000 bytes: truncated over UDP (max-udp-size 512), full over TCP. */
	mox_dns_answer *a = q(r, "big.mox.test", MOX_DNS_TXT);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 1);
	assert_int_equal(a->rr[0].u.txt.nstrings, 10);
	assert_int_equal(a->rr[0].u.txt.len, 2000);
	for (size_t i = 0; i < 10; i++) {
		char prefix[16];
		snprintf(prefix, sizeof(prefix), "big-%02zu-", i);
		assert_int_equal(a->rr[0].u.txt.lens[i], 200);
		assert_memory_equal(a->rr[0].u.txt.strings[i], prefix, 7);
		assert_memory_equal(a->rr[0].u.txt.data + 200 * i, prefix, 7);
	}
	mox_dns_answer_free(a);
}

static void
check_invalid_name(mox_resolver *r)
{
	counting cnt = {.inner = r, .calls = 0};
	mox_resolver wrap = {.ctx = &cnt, .lookup = counting_lookup, .free = NULL};
	static const char *const bad[] = {
	    "a..mox.test",
	    "",
	    ".",
	    "a b.mox.test",
	    "x\x01.mox.test",
	    /* A label of 64 octets. */
	    ("0123456789012345678901234567890123456789012345678901234567890123"
	     ".mox.test"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_dns_answer *a = NULL;
		assert_int_equal(mox_dns_lookup(&wrap, bad[i], MOX_DNS_TXT, &a),
		                 MOX_OK);
		assert_non_null(a);
		assert_int_equal(a->status, MOX_DNS_PERMFAIL);
		assert_non_null(a->why);
		assert_int_equal(a->nrr, 0);
		mox_dns_answer_free(a);
	}
	assert_int_equal(cnt.calls, 0);
	/* And a valid name does reach it. */
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(&wrap, "a.mox.test", MOX_DNS_A, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(cnt.calls, 1);
	mox_dns_answer_free(a);
}

#define BOTH(name)                                                                     \
	static void test_##name##_plain(void **state)                                  \
	{                                                                              \
		(void)state;                                                           \
		check_##name(plain);                                                   \
	}                                                                              \
	static void test_##name##_cached(void **state)                                 \
	{                                                                              \
		(void)state;                                                           \
		check_##name(cached);                                                  \
	}

BOTH(txt)
BOTH(mx)
BOTH(a_aaaa)
BOTH(ptr)
BOTH(tlsa_soa_ns)
BOTH(negative)
BOTH(servfail)
BOTH(cname)
BOTH(cname_loop)
BOTH(big_txt)
BOTH(invalid_name)

/* ---- backend options and failures ---- */

static void
test_no_tcp_fallback(void **state)
{
	(void)state;
	mox_resolver *r = make_ldns(ub.addr, 0, 0, true, false);
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(r, "big.mox.test", MOX_DNS_TXT, &a), MOX_OK);
	/* Never a silently short answer: TC=1 without TCP is TEMPFAIL. */
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->nrr, 0);
	assert_int_equal(a->rcode, 0);
	assert_non_null(strstr(a->why, "truncated"));
	mox_dns_answer_free(a);
	/* Small answers still work over UDP. */
	assert_int_equal(mox_dns_lookup(r, "a.mox.test", MOX_DNS_A, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	mox_dns_answer_free(a);
	mox_resolver_free(r);
}

static void
test_no_edns(void **state)
{
	(void)state;
	mox_resolver *r = make_ldns(ub.addr, 0, 0, false, true);
	mox_dns_answer *a = NULL;
	/* Without the DO bit the resolver does not claim validation. */
	assert_int_equal(mox_dns_lookup(r, "txt.mox.test", MOX_DNS_TXT, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_false(a->authentic);
	mox_dns_answer_free(a);
	/* Plain DNS over TCP for the big one. */
	assert_int_equal(mox_dns_lookup(r, "big.mox.test", MOX_DNS_TXT, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->rr[0].u.txt.len, 2000);
	mox_dns_answer_free(a);
	mox_resolver_free(r);
}

/* A loopback UDP port that takes queries and never answers: bound, not
 * read. Returns the socket; *addr gets "127.0.0.1:port". */
static int
silent_udp(char *addr, size_t len)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	socklen_t sl = sizeof(sin);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(addr, len, "127.0.0.1:%u", ntohs(sin.sin_port));
	return fd;
}

/* Nothing listens at the dead port: the ICMP port unreachable ends each
 * try at once, without waiting for the timeout. */
static void
test_refused(void **state)
{
	(void)state;
	mox_resolver *r = make_ldns(ub.dead_addr, 5000, 2, false, false);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(r, "a.mox.test", MOX_DNS_A, &a), MOX_OK);
	long ms = elapsed_ms(&t0);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_non_null(strstr(a->why, "connection refused"));
	assert_true(ms < 2500);
	mox_dns_answer_free(a);
	mox_resolver_free(r);
}

static void
test_timeout(void **state)
{
	(void)state;
	char silent[64];
	int sfd = silent_udp(silent, sizeof(silent));
	mox_resolver *r = make_ldns(silent, 100, 2, false, false);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(r, "a.mox.test", MOX_DNS_A, &a), MOX_OK);
	long ms = elapsed_ms(&t0);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->rcode, -1);
	assert_int_equal(a->nrr, 0);
	assert_non_null(strstr(a->why, silent));
	assert_non_null(strstr(a->why, "2 tries"));
	assert_non_null(strstr(a->why, "timeout"));
	/* 2 tries of 100 ms, with slack for a loaded machine. */
	assert_true(ms >= 150 && ms < 2000);
	mox_dns_answer_free(a);

	/* Through a cache: TEMPFAIL is not cached. */
	mox_resolver *c = NULL;
	mox_dns_cache_opts co = {.size = sizeof(co), .owns_backend = true};
	assert_int_equal(mox_dns_cache_new(&c, r, &co), MOX_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mox_dns_lookup(c, "a.mox.test", MOX_DNS_A, &a),
		                 MOX_OK);
		assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
		mox_dns_answer_free(a);
	}
	mox_dns_cache_stats st;
	assert_int_equal(mox_dns_cache_stats_get(c, &st), MOX_OK);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 2);
	mox_resolver_free(c);
	close(sfd);
}

static void
test_second_nameserver(void **state)
{
	(void)state;
	/* The dead server first: its tries are refused, the next one answers. */
	char list[80];
	snprintf(list, sizeof(list), "%s, %s", ub.dead_addr, ub.addr);
	mox_resolver *r = make_ldns(list, 100, 1, false, false);
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(r, "a.mox.test", MOX_DNS_A, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	assert_int_equal(a->nrr, 2);
	mox_dns_answer_free(a);
	mox_resolver_free(r);

	/* SERVFAIL from the first: the second is asked too; when it fails
	 * as well, its SERVFAIL is the answer. */
	snprintf(list, sizeof(list), "%s,%s", ub.addr, ub.addr);
	r = make_ldns(list, 0, 0, false, false);
	assert_int_equal(mox_dns_lookup(r, "x.servfail.mox.test", MOX_DNS_A, &a),
	                 MOX_OK);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_int_equal(a->rcode, 2);
	assert_non_null(strstr(a->why, "SERVFAIL"));
	mox_dns_answer_free(a);
	mox_resolver_free(r);
}

static void
test_env(void **state)
{
	(void)state;
	mox_resolver *r = NULL;
	mox_errinfo info = {0};
	mox_dns_ldns_opts o = {.size = sizeof(o), .timeout_ms = 1000};

	/* MOX_RESOLVER is used when opts has no nameservers. */
	assert_int_equal(setenv("MOX_RESOLVER", ub.addr, 1), 0);
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_OK);
	mox_dns_answer *a = NULL;
	assert_int_equal(mox_dns_lookup(r, "txt.mox.test", MOX_DNS_TXT, &a), MOX_OK);
	assert_int_equal(a->status, MOX_DNS_FOUND);
	mox_dns_answer_free(a);
	mox_resolver_free(r);

	/* NULL opts: defaults, still from the environment. */
	assert_int_equal(mox_dns_ldns_new(&r, NULL, &info), MOX_OK);
	mox_resolver_free(r);

	/* Lists, IPv6, spaces. */
	assert_int_equal(setenv("MOX_RESOLVER", " [::1]:5353 ,127.0.0.1, ::1 ", 1), 0);
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_OK);
	mox_resolver_free(r);

	/* Bad text in the environment fails, naming the variable. */
	assert_int_equal(setenv("MOX_RESOLVER", "resolver.example", 1), 0);
	r = (mox_resolver *)&o; /* must be reset to NULL */
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_EINVAL);
	assert_null(r);
	assert_non_null(strstr(info.msg, "MOX_RESOLVER"));

	/* opts.nameservers wins over the environment. */
	o.nameservers = ub.addr;
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_OK);
	mox_resolver_free(r);
	assert_int_equal(unsetenv("MOX_RESOLVER"), 0);
}

static void
test_resolv_conf(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof(path), "%s/resolv.conf", ub.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# comment\nsearch example.com\noptions ndots:2\n"
	      "nameserver fe80::1%eth0\n"
	      "nameserver 127.0.0.1 # trailing comment\n"
	      "  nameserver\t::1\n",
	      f);
	fclose(f);
	assert_int_equal(unsetenv("MOX_RESOLVER"), 0);
	mox_dns_ldns_opts o = {.size = sizeof(o), .resolv_conf = path};
	mox_resolver *r = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_OK);
	mox_resolver_free(r);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("domain example.com\n", f);
	fclose(f);
	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_EINVAL);
	assert_null(r);
	assert_non_null(strstr(info.msg, "no nameserver"));
	unlink(path);

	assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_EINVAL);
	assert_non_null(strstr(info.msg, "cannot read"));
}

static void
test_bad_nameservers(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    ",",
	    "127.0.0.1,",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "127.0.0.1:53x",
	    "127.0.0.1:",
	    "[127.0.0.1]:53",
	    "[::1",
	    "[::1]x",
	    "[::1]:",
	    "resolver.example",
	    "::1%eth0",
	    "1.2.3",
	    "127.0.0.1 127.0.0.2",
	    "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
	    "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
	    "1.1.1.1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = bad[i]};
		mox_resolver *r = NULL;
		mox_errinfo info = {0};
		mox_err err = mox_dns_ldns_new(&r, &o, &info);
		if (err != MOX_EINVAL)
			print_error("accepted '%s'\n", bad[i]);
		assert_int_equal(err, MOX_EINVAL);
		assert_null(r);
		assert_int_equal(info.code, MOX_EINVAL);
		assert_true(info.msg[0] != '\0');
	}
	static const char *const good[] = {
	    "127.0.0.1",
	    "127.0.0.1:53",
	    "[::1]:5353",
	    "::1",
	    "[::1]",
	    "2001:db8::53",
	    "192.0.2.1:65535, 192.0.2.2",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = good[i]};
		mox_resolver *r = NULL;
		mox_errinfo info = {0};
		assert_int_equal(mox_dns_ldns_new(&r, &o, &info), MOX_OK);
		mox_resolver_free(r);
	}
	/* Other bad options. */
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr, .tries = 256};
	mox_resolver *r = NULL;
	assert_int_equal(mox_dns_ldns_new(&r, &o, NULL), MOX_EINVAL);
	assert_int_equal(mox_dns_ldns_new(NULL, &o, NULL), MOX_EINVAL);
	o.tries = 0;
	o.timeout_ms = 600001;
	assert_int_equal(mox_dns_ldns_new(&r, &o, NULL), MOX_EINVAL);
	o.timeout_ms = 0;
	o.size = 0;
	assert_int_equal(mox_dns_ldns_new(&r, &o, NULL), MOX_EINVAL);
	/* An older, shorter opts: the fields it lacks take defaults. */
	o.size = offsetof(mox_dns_ldns_opts, resolv_conf);
	assert_int_equal(mox_dns_ldns_new(&r, &o, NULL), MOX_OK);
	mox_resolver_free(r);
}

static void
test_oom(void **state)
{
	(void)state;
	/* Creating the resolver. */
	for (long n = 0;; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_dns_ldns_opts o = {
		    .size = sizeof(o), .alloc = &t.a, .nameservers = ub.addr};
		mox_resolver *r = NULL;
		mox_err err = mox_dns_ldns_new(&r, &o, NULL);
		if (err == MOX_OK) {
			mox_resolver_free(r);
			assert_int_equal(t.live, 0);
			break;
		}
		assert_int_equal(err, MOX_ENOMEM);
		assert_null(r);
		assert_int_equal(t.live, 0);
		assert_true(n < 100);
	}
	/* Lookups: each allocation of the answer fails in turn. */
	static const struct {
		const char *name;
		mox_dns_type type;
	} cases[] = {
	    {"txt.mox.test", MOX_DNS_TXT},
	    {"c1.mox.test", MOX_DNS_TXT},
	    {"mx.mox.test", MOX_DNS_MX},
	    {"mox.test", MOX_DNS_SOA},
	    {"nonexistent.mox.test", MOX_DNS_A},
	    {"x.servfail.mox.test", MOX_DNS_A},
	    {"_25._tcp.host.mox.test", MOX_DNS_TLSA},
	};
	mox_testalloc t;
	mox_testalloc_init(&t, -1);
	mox_dns_ldns_opts o = {
	    .size = sizeof(o), .alloc = &t.a, .nameservers = ub.addr};
	mox_resolver *r = NULL;
	assert_int_equal(mox_dns_ldns_new(&r, &o, NULL), MOX_OK);
	long base = t.live;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (long n = 0;; n++) {
			t.fail_after = t.count + n;
			mox_dns_answer *a = NULL;
			mox_err err =
			    mox_dns_lookup(r, cases[i].name, cases[i].type, &a);
			t.fail_after = -1;
			if (err == MOX_OK) {
				assert_non_null(a);
				assert_true(a->status != MOX_DNS_TEMPFAIL ||
				            strstr(cases[i].name, "servfail") != NULL);
				mox_dns_answer_free(a);
				assert_int_equal(t.live, base);
				break;
			}
			assert_int_equal(err, MOX_ENOMEM);
			assert_null(a);
			assert_int_equal(t.live, base);
			assert_true(n < 200);
		}
	}
	mox_resolver_free(r);
	assert_int_equal(t.live, 0);
}

/* ---- threads ---- */

typedef struct worker {
	mox_resolver *r;
	int n;
	int bad;
} worker;

static const struct {
	const char *name;
	mox_dns_type type;
	mox_dns_status status;
	size_t nrr;
} mix[] = {
    {"txt.mox.test", MOX_DNS_TXT, MOX_DNS_FOUND, 1},
    {"mx.mox.test", MOX_DNS_MX, MOX_DNS_FOUND, 3},
    {"a.mox.test", MOX_DNS_A, MOX_DNS_FOUND, 2},
    {"aaaa.mox.test", MOX_DNS_AAAA, MOX_DNS_FOUND, 2},
    {"c1.mox.test", MOX_DNS_A, MOX_DNS_FOUND, 1},
    {"nope.mox.test", MOX_DNS_A, MOX_DNS_NXDOMAIN, 0},
    {"b.ent.mox.test", MOX_DNS_TXT, MOX_DNS_NODATA, 0},
    {"big.mox.test", MOX_DNS_TXT, MOX_DNS_FOUND, 1},
};

static void *
worker_run(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		size_t k = (size_t)i % (sizeof(mix) / sizeof(mix[0]));
		mox_dns_answer *a = NULL;
		if (mox_dns_lookup(w->r, mix[k].name, mix[k].type, &a) != MOX_OK ||
		    a->status != mix[k].status || a->nrr != mix[k].nrr)
			w->bad++;
		mox_dns_answer_free(a);
	}
	return NULL;
}

static void
run_threads(mox_resolver *r, int per_thread)
{
	pthread_t th[4];
	worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){.r = r, .n = per_thread, .bad = 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
}

static void
test_threads_cached(void **state)
{
	(void)state;
	mox_dns_cache_stats s0, s1;
	mox_dns_cache_clear(cached);
	assert_int_equal(mox_dns_cache_stats_get(cached, &s0), MOX_OK);
	run_threads(cached, 200);
	assert_int_equal(mox_dns_cache_stats_get(cached, &s1), MOX_OK);
	assert_int_equal((s1.hits - s0.hits) + (s1.misses - s0.misses), 800);
	/* Each name misses at most once per thread that raced for it. */
	assert_true(s1.misses - s0.misses <= 4 * (sizeof(mix) / sizeof(mix[0])));
}

static void
test_threads_plain(void **state)
{
	(void)state;
	/* Uncached: every lookup is a query of its own, 4 at a time. */
	run_threads(plain, 50);
}

/* ---- packets made by hand ---- */

/* Build a response for qname/qtype with the given answer records (zone
 * file lines), rcode and flags. */
static ldns_pkt *
make_pkt(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode,
         const char *const *answers, const char *const *authority)
{
	ldns_rdf *qd = ldns_dname_new_frm_str(qname);
	assert_non_null(qd);
	ldns_pkt *p = ldns_pkt_query_new(qd, qtype, LDNS_RR_CLASS_IN, LDNS_RD);
	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (size_t i = 0; answers != NULL && answers[i] != NULL; i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, answers[i], 300, NULL, NULL),
		                 LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr));
	}
	for (size_t i = 0; authority != NULL && authority[i] != NULL; i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(
		    ldns_rr_new_frm_str(&rr, authority[i], 300, NULL, NULL),
		    LDNS_STATUS_OK);
		assert_true(ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr));
	}
	return p;
}

static mox_dns_answer *
convert(const char *qname, mox_dns_type qtype, const ldns_pkt *p)
{
	mox_dns_answer *a = NULL;
	assert_int_equal(mox__dns_ldns_answer_from_pkt(NULL, qname, qtype, p, &a),
	                 MOX_OK);
	assert_non_null(a);
	return a;
}

static void
test_pkt_cname_loop(void **state)
{
	(void)state;
	static const char *const loop[] = {"a.example. CNAME b.example.",
	                                   "b.example. CNAME c.example.",
	                                   "c.example. CNAME B.example.", NULL};
	ldns_pkt *p =
	    make_pkt("a.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, loop, NULL);
	mox_dns_answer *a = convert("a.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_PERMFAIL);
	assert_non_null(strstr(a->why, "CNAME loop"));
	assert_int_equal(a->nrr, 0);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);

	/* A loop back to the query name. */
	static const char *const self[] = {"a.example. CNAME A.EXAMPLE.", NULL};
	p = make_pkt("a.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, self, NULL);
	a = convert("a.example.", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_PERMFAIL);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);
}

static void
test_pkt_cname_max(void **state)
{
	(void)state;
	/* MOX_DNS_CNAME_MAX hops are followed; one more is PERMFAIL. */
	for (int hops = MOX_DNS_CNAME_MAX; hops <= MOX_DNS_CNAME_MAX + 1; hops++) {
		char lines[MOX_DNS_CNAME_MAX + 2][64];
		const char *ptrs[MOX_DNS_CNAME_MAX + 3];
		int n = 0;
		for (int i = 0; i < hops; i++, n++) {
			snprintf(lines[n], sizeof(lines[n]),
			         "h%d.example. CNAME h%d.example.", i, i + 1);
			ptrs[n] = lines[n];
		}
		snprintf(lines[n], sizeof(lines[n]), "h%d.example. A 192.0.2.7", hops);
		ptrs[n] = lines[n];
		ptrs[n + 1] = NULL;
		ldns_pkt *p = make_pkt("h0.example.", LDNS_RR_TYPE_A,
		                       LDNS_RCODE_NOERROR, ptrs, NULL);
		mox_dns_answer *a = convert("h0.example", MOX_DNS_A, p);
		if (hops == MOX_DNS_CNAME_MAX) {
			char want[32];
			snprintf(want, sizeof(want), "h%d.example", hops);
			assert_int_equal(a->status, MOX_DNS_FOUND);
			assert_string_equal(a->cname, want);
			assert_int_equal(a->nrr, 1);
		} else {
			assert_int_equal(a->status, MOX_DNS_PERMFAIL);
			assert_non_null(strstr(a->why, "CNAME chain"));
		}
		mox_dns_answer_free(a);
		ldns_pkt_free(p);
	}
}

static void
test_pkt_rcodes(void **state)
{
	(void)state;
	static const struct {
		ldns_pkt_rcode rcode;
		mox_dns_status status;
		const char *word;
	} cases[] = {
	    {LDNS_RCODE_FORMERR, MOX_DNS_PERMFAIL, "FORMERR"},
	    {LDNS_RCODE_SERVFAIL, MOX_DNS_TEMPFAIL, "SERVFAIL"},
	    {LDNS_RCODE_NOTIMPL, MOX_DNS_PERMFAIL, "NOTIMP"},
	    {LDNS_RCODE_REFUSED, MOX_DNS_TEMPFAIL, "REFUSED"},
	    {LDNS_RCODE_YXDOMAIN, MOX_DNS_PERMFAIL, "YXDOMAIN"},
	    {15, MOX_DNS_PERMFAIL, "RCODE 15"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *p = make_pkt("x.example.", LDNS_RR_TYPE_TXT, cases[i].rcode,
		                       NULL, NULL);
		ldns_pkt_set_ad(p, true);
		mox_dns_answer *a = convert("x.example", MOX_DNS_TXT, p);
		assert_int_equal(a->status, cases[i].status);
		assert_int_equal(a->rcode, (int)cases[i].rcode);
		assert_false(a->authentic);
		assert_non_null(strstr(a->why, cases[i].word));
		mox_dns_answer_free(a);
		ldns_pkt_free(p);
	}
	/* NXDOMAIN with a SOA: negative TTL is min(TTL, MINIMUM). */
	static const char *const soa[] = {
	    "example. 600 SOA ns.example. hm.example. 1 2 3 4 900", NULL};
	ldns_pkt *p =
	    make_pkt("x.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NXDOMAIN, NULL, soa);
	mox_dns_answer *a = convert("x.example", MOX_DNS_TXT, p);
	assert_int_equal(a->status, MOX_DNS_NXDOMAIN);
	assert_int_equal(a->neg_ttl, 600);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);
	/* NODATA without SOA: unknown negative TTL. */
	p = make_pkt("x.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, NULL, NULL);
	a = convert("x.example", MOX_DNS_TXT, p);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	assert_int_equal(a->neg_ttl, 0);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);
}

static void
test_pkt_mismatch(void **state)
{
	(void)state;
	static const char *const rr[] = {"x.example. A 192.0.2.1", NULL};
	/* Another name, another type, TC set, not a response. */
	ldns_pkt *p =
	    make_pkt("y.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rr, NULL);
	mox_dns_answer *a = convert("x.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_non_null(strstr(a->why, "does not match"));
	mox_dns_answer_free(a);
	a = convert("y.example", MOX_DNS_AAAA, p);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	mox_dns_answer_free(a);
	/* Records for other names are ignored. */
	a = convert("y.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_NODATA);
	mox_dns_answer_free(a);
	ldns_pkt_set_tc(p, true);
	a = convert("y.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_non_null(strstr(a->why, "truncated"));
	mox_dns_answer_free(a);
	ldns_pkt_set_tc(p, false);
	ldns_pkt_set_qr(p, false);
	a = convert("y.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);

	/* A referral from a server that does not recurse. */
	static const char *const ns[] = {"example. NS ns.example.", NULL};
	p = make_pkt("x.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL, ns);
	ldns_pkt_set_ra(p, false);
	a = convert("x.example", MOX_DNS_A, p);
	assert_int_equal(a->status, MOX_DNS_TEMPFAIL);
	assert_non_null(strstr(a->why, "referral"));
	mox_dns_answer_free(a);
	ldns_pkt_free(p);

	/* Bad arguments and types. */
	assert_int_equal(mox__dns_ldns_answer_from_pkt(NULL, "x", MOX_DNS_A, NULL, &a),
	                 MOX_EINVAL);
	assert_null(a);
	assert_int_equal(
	    mox__dns_ldns_answer_from_pkt(NULL, "x", MOX_DNS_A, NULL, NULL),
	    MOX_EINVAL);
	p = make_pkt("x.example.", 99, LDNS_RCODE_NOERROR, NULL, NULL);
	a = convert("x.example", (mox_dns_type)99, p);
	assert_int_equal(a->status, MOX_DNS_PERMFAIL);
	mox_dns_answer_free(a);
	ldns_pkt_free(p);
}

/* Wire bytes of a response to x.example/qtype with one answer record of
 * rtype whose rdata is given raw. */
static size_t
wire_answer(uint8_t *buf, uint16_t qtype, uint16_t rtype, const uint8_t *rdata,
            uint16_t rdlen)
{
	static const uint8_t head[] = {
	    0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1,   0,   0,   0, 0,
	    1,    'x',  7,    'e',  'x', 'a', 'm', 'p', 'l', 'e', 0,
	};
	size_t n = 0;
	memcpy(buf, head, sizeof(head));
	n += sizeof(head);
	buf[n++] = (uint8_t)(qtype >> 8);
	buf[n++] = (uint8_t)qtype;
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = 0xc0; /* pointer to the question name */
	buf[n++] = 12;
	buf[n++] = (uint8_t)(rtype >> 8);
	buf[n++] = (uint8_t)rtype;
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 1;
	buf[n++] = 0x2c; /* TTL 300 */
	buf[n++] = (uint8_t)(rdlen >> 8);
	buf[n++] = (uint8_t)rdlen;
	memcpy(buf + n, rdata, rdlen);
	return n + rdlen;
}

static void
test_pkt_hostile_rdata(void **state)
{
	(void)state;
	static const struct {
		mox_dns_type type;
		uint8_t rdata[8];
		uint16_t len;
		mox_dns_status want;
	} cases[] = {
	    /* Empty rdata, which ldns accepts (dynamic update form). */
	    {MOX_DNS_A, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_AAAA, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_MX, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_CNAME, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_PTR, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_NS, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_TLSA, {0}, 0, MOX_DNS_TEMPFAIL},
	    {MOX_DNS_SOA, {0}, 0, MOX_DNS_TEMPFAIL},
	    /* A TXT record without strings is empty text. */
	    {MOX_DNS_TXT, {0}, 0, MOX_DNS_FOUND},
	    /* Well-formed ones. */
	    {MOX_DNS_A, {192, 0, 2, 1}, 4, MOX_DNS_FOUND},
	    {MOX_DNS_TXT, {2, 'h', 'i', 0}, 4, MOX_DNS_FOUND},
	    {MOX_DNS_TLSA, {3, 1, 1}, 3, MOX_DNS_FOUND},
	    {MOX_DNS_MX, {0, 0, 0}, 3, MOX_DNS_FOUND},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[128];
		size_t n =
		    wire_answer(buf, (uint16_t)cases[i].type, (uint16_t)cases[i].type,
		                cases[i].rdata, cases[i].len);
		ldns_pkt *p = NULL;
		if (mox__dns_ldns_wire2pkt(&p, buf, n) != LDNS_STATUS_OK) {
			/* ldns refused it, so nothing reaches us (ldns 1.8.3
			 * takes them all); well-formed ones must parse. */
			assert_int_not_equal(cases[i].want, MOX_DNS_FOUND);
			continue;
		}
		mox_dns_answer *a = convert("x.example", cases[i].type, p);
		if (a->status != cases[i].want)
			print_error("case %zu: %s (%s)\n", i,
			            mox_dns_status_name(a->status),
			            a->why != NULL ? a->why : "");
		assert_int_equal(a->status, cases[i].want);
		if (a->status == MOX_DNS_TEMPFAIL) {
			/* Failures carry no records, not even the good ones
			 * before the bad one. */
			assert_non_null(strstr(a->why, "malformed"));
			assert_int_equal(a->nrr, 0);
			assert_null(a->rr);
		}
		mox_dns_answer_free(a);
		ldns_pkt_free(p);
	}
}

static void
test_pkt_wire(void **state)
{
	(void)state;
	uint8_t buf[128];
	ldns_pkt *p = NULL;
	static const uint8_t a[4] = {192, 0, 2, 1};
	size_t n = wire_answer(buf, MOX_DNS_A, MOX_DNS_A, a, 4);
	assert_int_equal(mox__dns_ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);
	assert_non_null(p);
	mox_dns_answer *ans = convert("x.example", MOX_DNS_A, p);
	assert_int_equal(ans->status, MOX_DNS_FOUND);
	assert_false(ans->authentic);
	mox_dns_answer_free(ans);
	ldns_pkt_free(p);

	/* Every shorter prefix is refused, without a leak. */
	for (size_t len = 0; len < n; len++) {
		assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, buf, len),
		                     LDNS_STATUS_OK);
		assert_null(p);
	}
	assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, NULL, 0), LDNS_STATUS_OK);

	/* A TSIG record (type 250): we never sign, and ldns 1.8.3 leaks
	 * all but one of several. */
	n = wire_answer(buf, MOX_DNS_A, 250, a, 4);
	assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);
	assert_null(p);

	/* More records announced than present. */
	n = wire_answer(buf, MOX_DNS_A, MOX_DNS_A, a, 4);
	buf[7] = 2;
	assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);

	/* rdlength past the end. */
	n = wire_answer(buf, MOX_DNS_A, MOX_DNS_A, a, 4);
	buf[n - 5] = 5;
	assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);

	/* An extended label type (RFC 6891 section 5) in the question. */
	n = wire_answer(buf, MOX_DNS_A, MOX_DNS_A, a, 4);
	buf[12] = 0x41;
	assert_int_not_equal(mox__dns_ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);
	assert_null(p);
}

static void
test_pkt_oom(void **state)
{
	(void)state;
	static const char *const rrs[] = {
	    "a.example. CNAME b.example.",
	    "b.example. TXT \"one\" \"two\" \"three\"",
	    "b.example. TXT \"four\"",
	    NULL,
	};
	ldns_pkt *p =
	    make_pkt("a.example.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, rrs, NULL);
	for (long n = 0;; n++) {
		mox_testalloc t;
		mox_testalloc_init(&t, n);
		mox_dns_answer *a = NULL;
		mox_err err = mox__dns_ldns_answer_from_pkt(&t.a, "a.example",
		                                            MOX_DNS_TXT, p, &a);
		if (err == MOX_OK) {
			assert_int_equal(a->status, MOX_DNS_FOUND);
			assert_int_equal(a->nrr, 2);
			assert_string_equal(a->cname, "b.example");
			mox_dns_answer_free(a);
			assert_int_equal(t.live, 0);
			break;
		}
		assert_int_equal(err, MOX_ENOMEM);
		assert_null(a);
		assert_int_equal(t.live, 0);
		assert_true(n < 100);
	}
	ldns_pkt_free(p);
}

/* ---- setup ---- */

static int
setup_unbound(void **state)
{
	(void)state;
	char err[1024];
	char extra[2048];
	snprintf(extra, sizeof(extra),
	         "auth-zone:\n"
	         "  name: \"2.0.192.in-addr.arpa.\"\n"
	         "  zonefile: \"%s/reverse.zone\"\n"
	         "  for-downstream: no\n"
	         "  for-upstream: yes\n"
	         "  fallback-enabled: no\n"
	         "server:\n"
	         "  local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n",
	         MOX_DNS_TEST_DIR);
	memset(&ub, 0, sizeof(ub));
	ub.dnssec = true;
	ub.extra_config = extra;
	if (mox_test_unbound_start(&ub, MOX_DNS_TEST_DIR "/test.zone", "mox.test.", err,
	                           sizeof(err)) != 0) {
		print_error("unbound fixture: %s\n", err);
		return -1;
	}
	ub.extra_config = NULL;
	plain = make_ldns(ub.addr, 0, 0, false, false);
	mox_dns_cache_opts co = {.size = sizeof(co)};
	if (mox_dns_cache_new(&cached, plain, &co) != MOX_OK) {
		mox_resolver_free(plain);
		mox_test_unbound_stop(&ub);
		return -1;
	}
	return 0;
}

static int
teardown_unbound(void **state)
{
	(void)state;
	mox_resolver_free(cached);
	mox_resolver_free(plain);
	cached = plain = NULL;
	mox_test_unbound_stop(&ub);
	return 0;
}

#define PAIR(name)                                                                     \
	cmocka_unit_test(test_##name##_plain), cmocka_unit_test(test_##name##_cached)

int
main(void)
{
	const struct CMUnitTest packet[] = {
	    cmocka_unit_test(test_pkt_cname_loop),
	    cmocka_unit_test(test_pkt_cname_max),
	    cmocka_unit_test(test_pkt_rcodes),
	    cmocka_unit_test(test_pkt_mismatch),
	    cmocka_unit_test(test_pkt_hostile_rdata),
	    cmocka_unit_test(test_pkt_wire),
	    cmocka_unit_test(test_pkt_oom),
	};
	const struct CMUnitTest unbound[] = {
	    PAIR(txt),
	    PAIR(mx),
	    PAIR(a_aaaa),
	    PAIR(ptr),
	    PAIR(tlsa_soa_ns),
	    PAIR(negative),
	    PAIR(servfail),
	    PAIR(cname),
	    PAIR(cname_loop),
	    PAIR(big_txt),
	    PAIR(invalid_name),
	    cmocka_unit_test(test_no_tcp_fallback),
	    cmocka_unit_test(test_no_edns),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_second_nameserver),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_resolv_conf),
	    cmocka_unit_test(test_bad_nameservers),
	    cmocka_unit_test(test_oom),
	    cmocka_unit_test(test_threads_cached),
	    cmocka_unit_test(test_threads_plain),
	};
	int failed = cmocka_run_group_tests_name("packet", packet, NULL, NULL);
	failed += cmocka_run_group_tests_name("unbound", unbound, setup_unbound,
	                                      teardown_unbound);
	return failed != 0;
}
