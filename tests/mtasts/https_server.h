/* A small HTTPS server on 127.0.0.1 for the MTA-STS integration tests,
 * with OpenSSL, in a thread of the test process. Test code only.
 *
 * It serves GET /.well-known/mta-sts.txt and picks its behaviour by the
 * Host header: "mta-sts.<name>.sts.test" behaves as <name> says (see
 * https_server.c: good, testing, slow, trickle, huge, hugecl, exact, over,
 * ctype, noctype, redirect, notfound, status, syntax, none). SNI
 * "mta-sts.untrusted.sts.test" gets a self-signed certificate, every other
 * name the CA-signed one (whose names do not include, e.g.,
 * "mta-sts.wronghost.sts.test").
 *
 * Connections are served one at a time; every wait is bounded (a slow
 * response ends when the client goes away, at most after 10 seconds), and
 * https_server_stop ends the thread within about 100 ms plus any response
 * in progress. The caller must ignore SIGPIPE (a client that gives up
 * makes writes fail). */
#ifndef MOX_TEST_HTTPS_SERVER_H
#define MOX_TEST_HTTPS_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct https_server {
	uint16_t port;         /* after start */
	atomic_ulong requests; /* requests read */
	atomic_bool stop;
	int lfd;
	void *ctx;           /* SSL_CTX for the CA-signed certificate */
	void *ctx_untrusted; /* SSL_CTX for the self-signed one */
	pthread_t thread;
	int running;
} https_server;

/* Start serving on a free port of 127.0.0.1 with the certificates in
 * certdir (server.pem/.key, untrusted.pem/.key). 0 on success, -1 with a
 * reason in err. */
int https_server_start(https_server *s, const char *certdir, char *err, size_t errlen);
/* Stop and release everything. Safe if never started. */
void https_server_stop(https_server *s);

#endif
