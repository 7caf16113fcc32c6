/* libmoxmtasts and libmoxtlsrpt against real peers on loopback: unbound
 * serving the _mta-sts and _smtp._tls records (sts.zone), and an HTTPS
 * server (https_server.c, OpenSSL, a test CA from certs/) serving
 * policies, well and badly: slow, trickling, huge, wrong content type,
 * redirects, bad status, bad certificates. Each refusal must come with
 * its own problem code and a clear message, and every fetch must end
 * within the fetcher's time limit. Also the policy cache with the real
 * fetcher, and the "mox mtasts lookup" and "mox tlsrpt lookup" tools. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <mox/mtasts.h>
#include <mox/tlsrpt.h>
#include "https_server.h"
#include "unbound_fixture.h"

#define TIMEOUT_MS 1500

static mox_test_unbound ub;
static https_server srv;
static mox_resolver *res;
static mox_mtasts_fetcher *fetcher;

static const char *names[] = {"good",      "testing",  "slow",   "trickle", "huge",
                              "hugecl",    "exact",    "over",   "ctype",   "noctype",
                              "redirect",  "notfound", "status", "syntax",  "none",
                              "untrusted", "wronghost"};
#define NNAMES (sizeof(names) / sizeof(names[0]))
static char hosts[NNAMES + 1][64];
static mox_mtasts_connect_to ct[NNAMES + 1];

static int
setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	char err[512];
	if (mox_test_unbound_start(&ub, MOX_STS_ZONE, "sts.test.", err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "unbound: %s\n", err);
		return -1;
	}
	/* Nothing here may use the system's resolver. */
	setenv("MOX_RESOLVER", ub.addr, 1);
	if (https_server_start(&srv, MOX_STS_CERTS, err, sizeof(err)) != 0) {
		fprintf(stderr, "https server: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < NNAMES; i++) {
		snprintf(hosts[i], sizeof(hosts[i]), "mta-sts.%s.sts.test", names[i]);
		ct[i] = (mox_mtasts_connect_to){hosts[i], "127.0.0.1", srv.port};
	}
	/* A port where nothing listens. */
	snprintf(hosts[NNAMES], sizeof(hosts[NNAMES]), "mta-sts.closed.sts.test");
	ct[NNAMES] = (mox_mtasts_connect_to){hosts[NNAMES], "127.0.0.1", ub.dead_port};

	mox_dns_ldns_opts lo = {.size = sizeof(lo), .nameservers = ub.addr};
	mox_errinfo info = {0};
	if (mox_dns_ldns_new(&res, &lo, &info) != MOX_OK) {
		fprintf(stderr, "ldns: %s\n", info.msg);
		return -1;
	}
	mox_mtasts_fetch_opts fo = {.size = sizeof(fo),
	                            .timeout_ms = TIMEOUT_MS,
	                            .resolver = res,
	                            .ca_file = MOX_STS_CERTS "/ca.pem",
	                            .connect_to = ct,
	                            .nconnect_to = NNAMES + 1,
	                            .proxy = ""};
	if (mox_mtasts_fetcher_new(&fetcher, &fo, &info) != MOX_OK) {
		fprintf(stderr, "fetcher: %s\n", info.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_mtasts_fetcher_free(fetcher);
	mox_resolver_free(res);
	https_server_stop(&srv);
	mox_test_unbound_stop(&ub);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_good(void **state)
{
	(void)state;
	mox_mtasts_get_result r;
	assert_int_equal(mox_mtasts_get(res, fetcher, "good.sts.test", &r), MOX_OK);
	assert_int_equal(r.lookup.status, MOX_MTASTS_LOOKUP_FOUND);
	assert_string_equal(r.lookup.record->id, "20240101T000000");
	if (r.fetch.status != MOX_MTASTS_FETCH_OK)
		fail_msg("fetch: %s", r.fetch.why);
	assert_int_equal(r.fetch.http_status, 200);
	const mox_mtasts_policy *p = r.fetch.policy;
	assert_int_equal(p->mode, MOX_MTASTS_MODE_ENFORCE);
	assert_int_equal(p->max_age, 86400);
	assert_int_equal(p->nmx, 2);
	mox_mtasts_decision d;
	mox_mtasts_decide(p, "mx.good.sts.test", &d);
	assert_true(d.allowed && d.require_tls);
	mox_mtasts_decide(p, "a.backup.sts.test", &d);
	assert_true(d.allowed && d.require_tls);
	mox_mtasts_decide(p, "mx.evil.test", &d);
	assert_false(d.allowed);
	mox_mtasts_get_result_clear(&r);

	/* A charset parameter and CRLF lines. */
	mox_mtasts_fetch_result f;
	assert_int_equal(mox_mtasts_fetch(fetcher, "testing.sts.test", &f), MOX_OK);
	if (f.status != MOX_MTASTS_FETCH_OK)
		fail_msg("testing: %s", f.why);
	assert_int_equal(f.policy->mode, MOX_MTASTS_MODE_TESTING);
	mox_mtasts_fetch_result_clear(&f);
}

typedef struct hcase {
	const char *domain;
	mox_mtasts_fetch_status status;
	mox_mtasts_fetch_problem problem;
	const char *why;     /* substring of the message */
	bool reaches_server; /* the server must have seen the request */
} hcase;

static const hcase hostile[] = {
    {"slow.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TIMEOUT,
     "timed out after 1500 ms", true},
    {"trickle.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TIMEOUT,
     "timed out after 1500 ms", true},
    {"huge.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TOO_LARGE,
     "larger than 65536 bytes, refused", true},
    {"hugecl.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TOO_LARGE,
     "larger than 65536 bytes, refused", true},
    {"exact.sts.test", MOX_MTASTS_FETCH_OK, MOX_MTASTS_PROBLEM_NONE, "", true},
    {"over.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TOO_LARGE,
     "larger than 65536 bytes, refused", true},
    {"ctype.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CONTENT_TYPE,
     "served as 'text/html', not text/plain", true},
    {"noctype.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CONTENT_TYPE,
     "served as '(no content-type)', not text/plain", true},
    {"redirect.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_REDIRECT,
     "redirects (HTTP status 301) to "
     "https://mta-sts.good.sts.test/.well-known/mta-sts.txt: "
     "redirects are refused",
     true},
    {"notfound.sts.test", MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
     "(HTTP status 404)", true},
    {"status.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_HTTP_STATUS,
     "HTTP status 500 while 200 is required", true},
    {"syntax.sts.test", MOX_MTASTS_FETCH_SYNTAX, MOX_MTASTS_PROBLEM_SYNTAX,
     "is invalid: expected field name at 0 (found '<')", true},
    {"untrusted.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CERTIFICATE,
     "certificate", false},
    {"wronghost.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CERTIFICATE,
     "mta-sts.wronghost.sts.test", false},
    {"closed.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CONNECT, "onnect",
     false},
    /* Resolved through the resolver: no such host is no policy. */
    {"nx.sts.test", MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
     "policy host mta-sts.nx.sts.test does not exist", false},
    {"x.servfail.sts.test", MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_DNS,
     "resolving policy host mta-sts.x.servfail.sts.test", false},
};

static void
test_hostile(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const hcase *c = &hostile[i];
		unsigned long before = atomic_load(&srv.requests);
		int64_t t0 = now_ms();
		mox_mtasts_fetch_result f;
		assert_int_equal(mox_mtasts_fetch(fetcher, c->domain, &f), MOX_OK);
		int64_t took = now_ms() - t0;
		unsigned long seen = atomic_load(&srv.requests) - before;
		print_message("%-22s %-9s %-13s %5lld ms  %s\n", c->domain,
		              f.status == MOX_MTASTS_FETCH_OK ? "ok" : "refused",
		              mox_mtasts_problem_name(f.problem), (long long)took,
		              f.why);
		if (f.status != c->status || f.problem != c->problem ||
		    strstr(f.why, c->why) == NULL)
			fail_msg("%s: status %d problem %s why '%s'; want %d %s '%s'",
			         c->domain, f.status,
			         mox_mtasts_problem_name(f.problem), f.why, c->status,
			         mox_mtasts_problem_name(c->problem), c->why);
		/* Bounded by the time limit (plus slack for a loaded machine). */
		assert_true(took < TIMEOUT_MS + 2500);
		/* The request reached the server exactly once: redirects are
		 * not followed, nothing is retried. */
		assert_int_equal(seen, c->reaches_server ? 1 : 0);
		if (c->status == MOX_MTASTS_FETCH_OK)
			assert_int_equal(f.text_len, 65536);
		mox_mtasts_fetch_result_clear(&f);
	}
	/* A name the zone gives 127.0.0.1: the resolver's address is used
	 * (the system resolver knows nothing of sts.test); port 443 there is
	 * not the test server, so the fetch fails after DNS. */
	mox_mtasts_fetch_result f;
	assert_int_equal(mox_mtasts_fetch(fetcher, "resolved.sts.test", &f), MOX_OK);
	print_message("resolved.sts.test      %s: %s\n",
	              mox_mtasts_problem_name(f.problem), f.why);
	assert_int_equal(f.status, MOX_MTASTS_FETCH_ERROR);
	assert_true(f.problem != MOX_MTASTS_PROBLEM_DNS &&
	            f.problem != MOX_MTASTS_PROBLEM_NOT_FOUND);
	mox_mtasts_fetch_result_clear(&f);
	assert_string_equal(
	    mox_mtasts_problem_result_type(MOX_MTASTS_PROBLEM_CERTIFICATE),
	    "sts-webpki-invalid");
}

static void
lookup_is(const char *domain, mox_mtasts_lookup_status want, const char *id)
{
	mox_mtasts_lookup_result r;
	assert_int_equal(mox_mtasts_lookup(res, domain, NULL, &r), MOX_OK);
	if (r.status != want)
		fail_msg("%s: %s (%s)", domain, mox_mtasts_lookup_status_name(r.status),
		         r.why);
	if (id != NULL)
		assert_string_equal(r.record->id, id);
	mox_mtasts_lookup_result_clear(&r);
}

static void
tlsrpt_is(const char *domain, mox_tlsrpt_lookup_status want, const char *txt)
{
	mox_tlsrpt_lookup_result r;
	assert_int_equal(mox_tlsrpt_lookup(res, domain, NULL, &r), MOX_OK);
	if (r.status != want)
		fail_msg("%s: %s (%s)", domain, mox_tlsrpt_lookup_status_name(r.status),
		         r.why);
	if (txt != NULL)
		assert_string_equal(r.txt, txt);
	mox_tlsrpt_lookup_result_clear(&r);
}

static void
test_records(void **state)
{
	(void)state;
	lookup_is("good.sts.test", MOX_MTASTS_LOOKUP_FOUND, "20240101T000000");
	lookup_is("split.sts.test", MOX_MTASTS_LOOKUP_FOUND, "split1");
	lookup_is("alias.sts.test", MOX_MTASTS_LOOKUP_FOUND, "20240101T000000");
	lookup_is("multiple.sts.test", MOX_MTASTS_LOOKUP_MULTIPLE, NULL);
	lookup_is("badrecord.sts.test", MOX_MTASTS_LOOKUP_SYNTAX, NULL);
	lookup_is("absent.sts.test", MOX_MTASTS_LOOKUP_NONE, NULL);
	lookup_is("x.servfail.sts.test", MOX_MTASTS_LOOKUP_TEMPERROR, NULL);

	tlsrpt_is("good.sts.test", MOX_TLSRPT_LOOKUP_FOUND,
	          "v=TLSRPTv1; rua=mailto:tlsrpt@good.sts.test");
	tlsrpt_is("split.sts.test", MOX_TLSRPT_LOOKUP_FOUND,
	          "v=TLSRPTv1; rua=https://reports.sts.test/tlsrpt,mailto:r@sts.test");
	tlsrpt_is("multiple.sts.test", MOX_TLSRPT_LOOKUP_MULTIPLE, NULL);
	tlsrpt_is("badrecord.sts.test", MOX_TLSRPT_LOOKUP_SYNTAX, NULL);
	tlsrpt_is("absent.sts.test", MOX_TLSRPT_LOOKUP_NONE, NULL);
	tlsrpt_is("x.servfail.sts.test", MOX_TLSRPT_LOOKUP_TEMPERROR, NULL);
}

static void
test_cache(void **state)
{
	(void)state;
	char dir[] = "/tmp/mox-mtasts-int-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/mtasts.db", dir);
	mox_mtasts_cache_opts o = {
	    .size = sizeof(o), .path = path, .resolver = res, .fetcher = fetcher};
	mox_mtasts_cache *c = NULL;
	mox_errinfo info = {0};
	assert_int_equal(mox_mtasts_cache_new(&c, &o, &info), MOX_OK);
	mox_mtasts_cache_result r;
	unsigned long before = atomic_load(&srv.requests);
	assert_int_equal(mox_mtasts_cache_get(c, "good.sts.test", &r), MOX_OK);
	assert_int_equal(r.status, MOX_MTASTS_CACHE_POLICY);
	assert_int_equal(r.source, MOX_MTASTS_SOURCE_FETCHED);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(mox_mtasts_cache_get(c, "good.sts.test", &r), MOX_OK);
	assert_int_equal(r.source, MOX_MTASTS_SOURCE_CACHED);
	assert_int_equal(r.policy->mode, MOX_MTASTS_MODE_ENFORCE);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(atomic_load(&srv.requests) - before, 1);

	/* A hostile server: no policy, then a back-off without a request. */
	assert_int_equal(mox_mtasts_cache_get(c, "slow.sts.test", &r), MOX_OK);
	assert_int_equal(r.status, MOX_MTASTS_CACHE_NONE);
	assert_string_equal(r.report.result_type, "sts-policy-fetch-error");
	mox_mtasts_cache_result_clear(&r);
	before = atomic_load(&srv.requests);
	assert_int_equal(mox_mtasts_cache_get(c, "slow.sts.test", &r), MOX_OK);
	assert_int_equal(r.source, MOX_MTASTS_SOURCE_BACKOFF);
	mox_mtasts_cache_result_clear(&r);
	assert_int_equal(atomic_load(&srv.requests), before);
	/* A bad certificate is reported as sts-webpki-invalid. */
	assert_int_equal(mox_mtasts_cache_get(c, "untrusted.sts.test", &r), MOX_OK);
	assert_string_equal(r.report.result_type, "sts-webpki-invalid");
	mox_mtasts_cache_result_clear(&r);
	mox_mtasts_cache_free(c);
	static const char *suffix[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[80];
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* Run a tool with the test's environment; its output in out. */
static int
run_tool(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_tools(void **state)
{
	(void)state;
	char env[1024], out[4096], cmd[2048];
	int n = snprintf(env, sizeof(env),
	                 "mta-sts.good.sts.test=127.0.0.1:%u,"
	                 "mta-sts.redirect.sts.test=127.0.0.1:%u",
	                 srv.port, srv.port);
	assert_true(n > 0 && (size_t)n < sizeof(env));
	setenv("MOX_MTASTS_CONNECT_TO", env, 1);
	setenv("MOX_MTASTS_CA_FILE", MOX_STS_CERTS "/ca.pem", 1);
	setenv("no_proxy", "*", 1);

	snprintf(cmd, sizeof(cmd), "%s lookup good.sts.test", MOX_TOOL_MTASTS);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 0);
	assert_string_equal(
	    out, "DNS TXT record _mta-sts.good.sts.test: v=STSv1; "
	         "id=20240101T000000\n"
	         "\n"
	         "policy at https://mta-sts.good.sts.test/.well-known/mta-sts.txt:\n"
	         "version: STSv1\n"
	         "mode: enforce\n"
	         "max_age: 86400\n"
	         "mx: mx.good.sts.test\n"
	         "mx: *.backup.sts.test\n");

	snprintf(cmd, sizeof(cmd), "%s lookup redirect.sts.test", MOX_TOOL_MTASTS);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out,
	                       "error: https://mta-sts.redirect.sts.test/.well-known/"
	                       "mta-sts.txt redirects (HTTP status 301)"));
	assert_non_null(
	    strstr(out, "DNS TXT record _mta-sts.redirect.sts.test: v=STSv1; "));
	assert_null(strstr(out, "policy at"));

	snprintf(cmd, sizeof(cmd), "%s lookup absent.sts.test", MOX_TOOL_MTASTS);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(
	    out, "error: no mta-sts dns txt record at _mta-sts.absent.sts.test"));

	snprintf(cmd, sizeof(cmd), "%s lookup good.sts.test", MOX_TOOL_TLSRPT);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 0);
	assert_string_equal(out, "v=TLSRPTv1; rua=mailto:tlsrpt@good.sts.test\n");
	snprintf(cmd, sizeof(cmd), "%s lookup absent.sts.test 2>&1", MOX_TOOL_TLSRPT);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no tlsrpt dns txt record"));
	snprintf(cmd, sizeof(cmd), "%s parsereportmsg %s/tlsrpt/mox/example.eml",
	         MOX_TOOL_TLSRPT, MOX_TESTDATA_DIR);
	assert_int_equal(run_tool(cmd, out, sizeof(out)), 0);
	assert_non_null(
	    strstr(out, "\t\"report-id\": \"2022-09-15T00:00:00Z_test.xmox.nl\",\n"));
	unsetenv("MOX_MTASTS_CONNECT_TO");
	unsetenv("MOX_MTASTS_CA_FILE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_records), cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_tools),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
