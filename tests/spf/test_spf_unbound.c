/* libmoxspf over the real network path (label "integration"): unbound
 * from tests/common/unbound_fixture.c serves spf.zone (signed, so answers
 * carry AD) and reverse.zone; every policy is checked
 *   - through mox_dns_ldns_new (UDP, TCP for the big record),
 *   - through mox_dns_cache_new over it, from 4 threads at once,
 *   - through libspf2 (Debian libspf2-dev) on the same unbound, where the
 *     result must be ours or the documented libspf2 result below,
 *   - through the mox-spf tool with MOX_RESOLVER (output, exit codes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <mox/spf.h>
#include "libspf2_glue.h"
#include "unbound_fixture.h"

#ifndef MOX_SPF_TEST_DIR
#error "MOX_SPF_TEST_DIR must name tests/spf"
#endif
#ifndef MOX_SPF_TOOL
#error "MOX_SPF_TOOL must name the mox-spf binary"
#endif

static const struct tcase {
	const char *from, *ip;
	mox_spf_result want;
	const char *mechanism; /* NULL: not checked */
	/* libspf2's result when it differs from ours, and why; NULL: same. */
	const char *libspf2, *why;
} cases[] = {
	{"u@simple.spf.test", "192.0.2.1", MOX_SPF_PASS, "ip4:192.0.2.0/24", NULL, NULL},
	{"u@simple.spf.test", "198.51.100.1", MOX_SPF_FAIL, "-all", NULL, NULL},
	{"u@split.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@split.spf.test", "198.51.100.1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@alias.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@soft.spf.test", "192.0.2.1", MOX_SPF_SOFTFAIL, NULL, NULL, NULL},
	{"u@neutral.spf.test", "192.0.2.1", MOX_SPF_NEUTRAL, NULL, NULL, NULL},
	{"u@v6.spf.test", "2001:db8::1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@v6.spf.test", "2001:db9::1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@inc3.spf.test", "203.0.113.5", MOX_SPF_PASS, "include:i3.spf.test", NULL, NULL},
	{"u@inc3.spf.test", "198.51.100.7", MOX_SPF_PASS, "include:i1.spf.test", NULL, NULL},
	{"u@inc3.spf.test", "2001:db8:2::1", MOX_SPF_PASS, "include:i2.spf.test", NULL, NULL},
	{"u@inc3.spf.test", "192.0.2.7", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@amx.spf.test", "192.0.2.10", MOX_SPF_PASS, "a", NULL, NULL},
	{"u@amx.spf.test", "192.0.2.20", MOX_SPF_PASS, "mx", NULL, NULL},
	{"u@amx.spf.test", "2001:db8::10", MOX_SPF_PASS, "a", NULL, NULL},
	{"u@amx.spf.test", "192.0.2.11", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@ptr.spf.test", "192.0.2.30", MOX_SPF_PASS, "ptr", NULL, NULL},
	{"u@ptr.spf.test", "192.0.2.31", MOX_SPF_FAIL, NULL, "temperror",
	 "the PTR name other.example has no server (SERVFAIL); RFC 7208 section 5.5 "
	 "skips names whose address lookup fails, libspf2 gives temperror"},
	{"u@exists.spf.test", "192.0.2.40", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@exists.spf.test", "192.0.2.41", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"alice@macro.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, "fail",
	 "%{l1r-} of \"alice\" is \"alice\" (RFC 7208 section 7.3: split on '-', "
	 "reverse, keep 1); libspf2 expands it to another name (plain %{l}, in "
	 "macro2, agrees)"},
	{"bob@macro.spf.test", "192.0.2.1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"alice@macro2.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"bob@macro2.spf.test", "192.0.2.1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@redir.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@redir.spf.test", "198.51.100.1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@exp.spf.test", "192.0.2.1", MOX_SPF_FAIL, NULL, NULL, NULL},
	{"u@void2.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@void.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, "a:n3.spf.test", "pass",
	 "libspf2 has no void lookup limit (RFC 7208 section 4.6.4: more than 2 is "
	 "permerror)"},
	{"u@badip.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, "(invalid)",
	 "libspf2 returns its internal SPF_RESULT_INVALID for a bad ip4 literal; RFC "
	 "7208 section 4.6 makes a syntax error permerror"},
	{"u@badcidr.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, "(invalid)",
	 "as badip: libspf2's SPF_RESULT_INVALID for a CIDR length of 33"},
	{"u@loop.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, NULL, NULL},
	{"u@terms.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, NULL, NULL},
	{"u@tmp.spf.test", "192.0.2.1", MOX_SPF_TEMPERROR, NULL, NULL, NULL},
	{"u@multi.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, NULL, NULL},
	{"u@noinc.spf.test", "192.0.2.1", MOX_SPF_PERMERROR, NULL, NULL, NULL},
	{"u@nothing.spf.test", "192.0.2.1", MOX_SPF_NONE, NULL, NULL, NULL},
	{"u@big.spf.test", "192.0.2.1", MOX_SPF_PASS, NULL, "neutral",
	 "the 998-byte record (5 strings, TCP answer) ends in ip4:192.0.2.0/24 -all; "
	 "libspf2 drops its tail and evaluates no -all"},
	{"u@big.spf.test", "10.0.0.5", MOX_SPF_PASS, NULL, NULL, NULL},
	{"u@big.spf.test", "172.16.0.1", MOX_SPF_FAIL, NULL, "neutral", "as above"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static mox_test_unbound ub;
static mox_resolver *plain, *cached;

static int
setup(void **state)
{
	(void)state;
	char err[1024], extra[2048];
	snprintf(extra, sizeof(extra),
		 "auth-zone:\n"
		 "  name: \"2.0.192.in-addr.arpa.\"\n"
		 "  zonefile: \"%s/reverse.zone\"\n"
		 "  for-downstream: no\n"
		 "  for-upstream: yes\n"
		 "  fallback-enabled: no\n"
		 "server:\n"
		 "  local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n",
		 MOX_SPF_TEST_DIR);
	memset(&ub, 0, sizeof(ub));
	ub.dnssec = true;
	ub.extra_config = extra;
	if (mox_test_unbound_start(&ub, MOX_SPF_TEST_DIR "/spf.zone", "spf.test.", err,
				   sizeof(err)) != 0) {
		print_error("unbound fixture: %s\n", err);
		return -1;
	}
	ub.extra_config = NULL;
	mox_dns_ldns_opts lo = {.size = sizeof(lo), .nameservers = ub.addr};
	mox_errinfo info;
	if (mox_dns_ldns_new(&plain, &lo, &info) != MOX_OK) {
		print_error("ldns: %s\n", info.msg);
		mox_test_unbound_stop(&ub);
		return -1;
	}
	mox_dns_cache_opts co = {.size = sizeof(co)};
	if (mox_dns_cache_new(&cached, plain, &co) != MOX_OK) {
		mox_resolver_free(plain);
		mox_test_unbound_stop(&ub);
		return -1;
	}
	mox_test_libspf2_set_port(ub.port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_resolver_free(cached);
	mox_resolver_free(plain);
	mox_test_unbound_stop(&ub);
	return 0;
}

static mox_spf *
make_spf(const mox_resolver *r)
{
	mox_spf_opts o = {.size = sizeof(o), .resolver = r, .receiver = "mx.receiver.test"};
	mox_spf *s = NULL;
	assert_int_equal(mox_spf_new(&s, &o), MOX_OK);
	return s;
}

static int
run_case(mox_spf *s, const struct tcase *c, bool verbose)
{
	mox_spf_request req = {
		.size = sizeof(req), .ip = c->ip, .mailfrom = c->from, .helo = "client.test"};
	mox_spf_outcome *o = NULL;
	if (mox_spf_check(s, &req, &o) != MOX_OK)
		return 1;
	int bad = 0;
	if (o->result != c->want ||
	    (c->mechanism != NULL &&
	     (o->mechanism == NULL || strcmp(o->mechanism, c->mechanism) != 0))) {
		if (verbose)
			print_error("%s from %s: %s (mechanism %s, problem %s), want %s %s\n",
				    c->from, c->ip, mox_spf_result_name(o->result),
				    o->mechanism ? o->mechanism : "-",
				    o->problem ? o->problem : "-", mox_spf_result_name(c->want),
				    c->mechanism ? c->mechanism : "");
		bad = 1;
	}
	mox_spf_outcome_free(o);
	return bad;
}

static void
test_plain(void **state)
{
	(void)state;
	mox_spf *s = make_spf(plain);
	int bad = 0;
	for (size_t i = 0; i < NCASES; i++)
		bad += run_case(s, &cases[i], true);
	assert_int_equal(bad, 0);

	/* The zone is signed: authentic. The reverse zone is not. */
	mox_spf_request req = {.size = sizeof(req),
			       .ip = "192.0.2.1",
			       .mailfrom = "u@simple.spf.test",
			       .helo = "client.test"};
	mox_spf_outcome *o = NULL;
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_true(o->authentic);
	mox_spf_outcome_free(o);
	req.ip = "192.0.2.30";
	req.mailfrom = "u@ptr.spf.test";
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_int_equal(o->result, MOX_SPF_PASS);
	assert_false(o->authentic);
	mox_spf_outcome_free(o);
	/* The explanation comes through DNS. */
	req.ip = "192.0.2.1";
	req.mailfrom = "u@exp.spf.test";
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_string_equal(o->explanation, "192.0.2.1 is not one of exp.spf.test's");
	mox_spf_outcome_free(o);
	mox_spf_free(s);
}

typedef struct job {
	mox_spf *spf;
	int bad;
} job;

static void *
worker(void *arg)
{
	job *j = arg;
	for (int round = 0; round < 5; round++)
		for (size_t i = 0; i < NCASES; i++)
			j->bad += run_case(j->spf, &cases[i], false);
	return NULL;
}

static void
test_cached_threads(void **state)
{
	(void)state;
	mox_spf *s = make_spf(cached);
	enum { NT = 4 };
	pthread_t th[NT];
	job jobs[NT];
	for (int i = 0; i < NT; i++) {
		jobs[i] = (job){.spf = s};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	int bad = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	assert_int_equal(bad, 0);
	mox_dns_cache_stats st;
	assert_int_equal(mox_dns_cache_stats_get(cached, &st), MOX_OK);
	assert_true(st.hits > 0);
	mox_spf_free(s);
}

static void
test_libspf2(void **state)
{
	(void)state;
	void *srv = mox_test_libspf2_new(false);
	assert_non_null(srv);
	int same = 0, documented = 0, bad = 0;
	for (size_t i = 0; i < NCASES; i++) {
		const struct tcase *c = &cases[i];
		const char *theirs = mox_test_libspf2_check(srv, c->ip, c->from, "client.test");
		const char *ours = mox_spf_result_name(c->want);
		if (strcmp(theirs, ours) == 0) {
			same++;
		} else if (c->libspf2 != NULL && strcmp(theirs, c->libspf2) == 0) {
			documented++;
			printf("libspf2 differs on %s from %s: %s, ours %s: %s\n", c->from, c->ip,
			       theirs, ours, c->why);
		} else {
			bad++;
			print_error("libspf2 on %s from %s: %s, ours %s (undocumented)\n", c->from,
				    c->ip, theirs, ours);
		}
	}
	printf("libspf2 cross-check: %d same, %d documented differences, %d unexplained, of "
	       "%zu\n",
	       same, documented, bad, NCASES);
	mox_test_libspf2_free(srv);
	assert_int_equal(bad, 0);
	assert_true(same > (int)NCASES / 2);
}

/* Run the tool with MOX_RESOLVER; returns the exit code, output in out. */
static int
tool(char *out, size_t outlen, const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "MOX_RESOLVER=%s %s %s 2>&1", ub.addr, MOX_SPF_TOOL, args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_tool(void **state)
{
	(void)state;
	char out[4096];
	assert_int_equal(tool(out, sizeof(out), "check simple.spf.test 192.0.2.1"), 0);
	assert_string_equal(out, "status: pass (with dnssec)\nmechanism: ip4:192.0.2.0/24\n");
	assert_int_equal(tool(out, sizeof(out), "check exp.spf.test 192.0.2.9"), 0);
	assert_string_equal(out, "explanation: 192.0.2.9 is not one of exp.spf.test's\n"
				 "status: fail (with dnssec)\nmechanism: -all\n");
	assert_int_equal(tool(out, sizeof(out), "check tmp.spf.test 192.0.2.9"), 0);
	assert_non_null(strstr(out, "status: temperror"));
	assert_non_null(strstr(out, "error: "));
	assert_int_equal(tool(out, sizeof(out), "check simple.spf.test 1.2.3"), 1);
	assert_non_null(strstr(out, "invalid ip"));
	assert_int_equal(tool(out, sizeof(out), "lookup split.spf.test"), 0);
	assert_string_equal(out, "v=spf1 ip4:192.0.2.0/24 -all\n(with dnssec)\n");
	assert_int_equal(tool(out, sizeof(out), "lookup nothing.spf.test"), 1);
	assert_non_null(strstr(out, "spf lookup for nothing.spf.test"));
	assert_int_equal(tool(out, sizeof(out), "parse 'v=spf1 -all'"), 0);
	assert_string_equal(out, "");
	assert_int_equal(tool(out, sizeof(out), "parse 'v=spf1 ip4:1.2.3.4/33'"), 1);
	assert_non_null(strstr(out, "parsing record: invalid ip4 cidr length"));
	assert_int_equal(tool(out, sizeof(out), "check"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_cached_threads),
		cmocka_unit_test(test_libspf2),
		cmocka_unit_test(test_tool),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
