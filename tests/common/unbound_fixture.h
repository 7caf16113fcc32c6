/* A real unbound on loopback serving a test zone, for integration tests
 * (DNS backends, SPF, DKIM, DMARC suites) and the resolver benchmark.
 *
 * mox_test_unbound_start writes an unbound.conf into a fresh temporary
 * directory and runs `unbound -d -c conf` as a child process on a free
 * port of 127.0.0.1. unbound serves zonefile for zone_origin as an
 * auth-zone (for-upstream, so clients get ordinary recursive answers with
 * RA set), answers SERVFAIL for everything under servfail.<origin> (a stub
 * zone pointing at a closed port) and never sends a packet outside
 * 127.0.0.0/8: the root is a stub pointing at a closed loopback port, and
 * outgoing-interface is 127.0.0.1. UDP answers are capped at 512 bytes
 * (max-udp-size), so larger ones come back truncated and need TCP.
 *
 * With dnssec set, the zone is signed at start (ldns-keygen, ldns-signzone
 * from ldnsutils) and unbound validates with a trust anchor for it: answers
 * from the zone carry AD, answers from other (unsigned) zones do not.
 *
 * Usage:
 *
 *   mox_test_unbound u = {0};
 *   u.dnssec = true;                       // optional
 *   char err[512];
 *   if (mox_test_unbound_start(&u, "tests/dns/test.zone", "mox.test.",
 *                              err, sizeof(err)) != 0)
 *           fail with err;
 *   setenv("MOX_RESOLVER", u.addr, 1);     // or opts.nameservers = u.addr
 *   ...
 *   mox_test_unbound_stop(&u);
 *
 * The child gets SIGTERM if the thread that started it exits (Linux
 * PR_SET_PDEATHSIG), so a crashed test leaves no unbound behind; start it
 * from the main thread or one that outlives its use. Test code only: not
 * thread-safe, prints nothing, never exits the process.
 */
#ifndef MOX_TEST_UNBOUND_FIXTURE_H
#define MOX_TEST_UNBOUND_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct mox_test_unbound {
	/* Inputs: zero the struct, then set these before start. */
	bool dnssec; /* sign the zone, validate with a trust anchor for it */
	/* Appended verbatim to unbound.conf after everything else; start it
	 * with a clause ("server:", "auth-zone:", ...). Use it to serve more
	 * zones, e.g.
	 *   "auth-zone:\n name: \"2.0.192.in-addr.arpa.\"\n"
	 *   " zonefile: \"/path/reverse.zone\"\n for-downstream: no\n"
	 *   " for-upstream: yes\n"
	 *   "server:\n local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n"
	 * (unbound blocks RFC 6761/6303 names such as test. and the
	 * documentation address ranges unless told "nodefault"; the fixture
	 * does that for "test." itself). */
	const char *extra_config;

	/* Outputs, valid after a successful start until stop. */
	char addr[32];      /* "127.0.0.1:PORT": for MOX_RESOLVER or opts */
	uint16_t port;      /* PORT */
	char dead_addr[32]; /* "127.0.0.1:DEAD": nothing listens there */
	uint16_t dead_port;
	char dir[256]; /* temporary directory: conf, logs, signed zone */
	pid_t pid;     /* unbound's process id; 0 when not running */
} mox_test_unbound;

/* Start unbound serving zonefile (path to an RFC 1035 master file) for
 * zone_origin ("mox.test." or "mox.test"). Waits until unbound answers a
 * query for the zone's SOA (at most about 10 seconds).
 * \return 0 on success; -1 with a reason in errbuf (errlen bytes, always
 *         NUL-terminated when errlen > 0) on failure, e.g. unbound is not
 *         installed, the zone does not load, signing failed. Nothing is
 *         left running or on disk after a failure. */
int mox_test_unbound_start(mox_test_unbound *u, const char *zonefile,
                           const char *zone_origin, char *errbuf, size_t errlen);

/* Stop unbound (SIGTERM, then SIGKILL after 5 seconds) by its process id,
 * reap it, and remove the temporary directory. Safe on a fixture that
 * never started or was already stopped. */
void mox_test_unbound_stop(mox_test_unbound *u);

#endif
