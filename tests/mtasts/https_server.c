/* The test HTTPS server; see https_server.h. Behaviours by host name
 * "mta-sts.<name>.sts.test":
 *
 *   good      200 text/plain, an enforce policy
 *   testing   200 "text/plain; charset=utf-8", a testing policy, CRLF lines
 *   none      200 text/plain, a mode none policy
 *   slow      reads the request, then sends nothing until the client leaves
 *   trickle   headers (Content-Length 1000), then one body byte per 200 ms
 *   huge      200 text/plain without Content-Length, 1 MiB of policy lines
 *   hugecl    200 with Content-Length 10000000 (the body never comes)
 *   exact     a valid policy of exactly 65536 bytes
 *   over      the same plus one byte: 65537
 *   ctype     200 text/html with a valid policy
 *   noctype   200 without Content-Type, a valid policy
 *   redirect  301 to mta-sts.good.sts.test
 *   notfound  404
 *   status    500
 *   syntax    200 text/plain, "<html>..." */
#include "https_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define POLICY_LIMIT 65536

static const char good_policy[] =
    "version: STSv1\nmode: enforce\nmx: mx.good.sts.test\n"
    "mx: *.backup.sts.test\nmax_age: 86400\n";

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
send_all(SSL *ssl, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		int w = SSL_write(ssl, p, n > 16384 ? 16384 : (int)n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
respond(SSL *ssl, const char *status, const char *ctype, const char *extra,
        const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %s\r\n%s%s%s%sContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, ctype != NULL ? "Content-Type: " : "",
	                 ctype != NULL ? ctype : "", ctype != NULL ? "\r\n" : "",
	                 extra != NULL ? extra : "", len);
	if (send_all(ssl, head, (size_t)n) != 0)
		return -1;
	return send_all(ssl, body, len);
}

/* Wait until the client closes (or 10 seconds, or stop). */
static void
wait_client_gone(https_server *s, SSL *ssl, int fd)
{
	int64_t end = now_ms() + 10000;
	while (!atomic_load(&s->stop) && now_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 100) > 0) {
			char b[256];
			if (SSL_read(ssl, b, sizeof(b)) <= 0)
				return;
		}
	}
}

/* A valid policy padded with an extension line to exactly size bytes. */
static char *
padded_policy(size_t size)
{
	char *p = malloc(size + 1);
	size_t n = strlen(good_policy);
	memcpy(p, good_policy, n);
	memcpy(p + n, "pad: ", 5);
	memset(p + n + 5, 'x', size - n - 6);
	p[size - 1] = '\n';
	p[size] = '\0';
	return p;
}

static void
serve(https_server *s, SSL *ssl, int fd, const char *name)
{
	if (strcmp(name, "good") == 0) {
		respond(ssl, "200 OK", "text/plain", NULL, good_policy,
		        strlen(good_policy));
	} else if (strcmp(name, "testing") == 0) {
		const char *p =
		    "version: STSv1\r\nmode: testing\r\nmx: mx.testing.sts.test\r\n"
		    "max_age: 604800\r\n";
		respond(ssl, "200 OK", "text/plain; charset=utf-8", NULL, p, strlen(p));
	} else if (strcmp(name, "none") == 0) {
		const char *p = "version: STSv1\nmode: none\nmax_age: 86400\n";
		respond(ssl, "200 OK", "text/plain", NULL, p, strlen(p));
	} else if (strcmp(name, "slow") == 0) {
		wait_client_gone(s, ssl, fd);
	} else if (strcmp(name, "trickle") == 0) {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		                "Content-Length: 1000\r\n\r\n";
		if (send_all(ssl, h, strlen(h)) != 0)
			return;
		int64_t end = now_ms() + 10000;
		while (!atomic_load(&s->stop) && now_ms() < end) {
			if (send_all(ssl, "v", 1) != 0)
				return;
			struct timespec ts = {0, 200 * 1000000L};
			nanosleep(&ts, NULL);
		}
	} else if (strcmp(name, "huge") == 0) {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		                "Connection: close\r\n\r\n";
		if (send_all(ssl, h, strlen(h)) != 0 ||
		    send_all(ssl, good_policy, strlen(good_policy)) != 0)
			return;
		char line[1024];
		memset(line, 'x', sizeof(line));
		memcpy(line, "pad: ", 5);
		line[sizeof(line) - 1] = '\n';
		for (int i = 0; i < 1024 && !atomic_load(&s->stop); i++)
			if (send_all(ssl, line, sizeof(line)) != 0)
				return;
	} else if (strcmp(name, "hugecl") == 0) {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		                "Content-Length: 10000000\r\n\r\n";
		if (send_all(ssl, h, strlen(h)) == 0)
			wait_client_gone(s, ssl, fd);
	} else if (strcmp(name, "exact") == 0 || strcmp(name, "over") == 0) {
		size_t n = POLICY_LIMIT + (strcmp(name, "over") == 0);
		char *p = padded_policy(n);
		respond(ssl, "200 OK", "text/plain", NULL, p, n);
		free(p);
	} else if (strcmp(name, "ctype") == 0) {
		respond(ssl, "200 OK", "text/html", NULL, good_policy,
		        strlen(good_policy));
	} else if (strcmp(name, "noctype") == 0) {
		respond(ssl, "200 OK", NULL, NULL, good_policy, strlen(good_policy));
	} else if (strcmp(name, "redirect") == 0) {
		respond(ssl, "301 Moved Permanently", "text/plain",
		        "Location: "
		        "https://mta-sts.good.sts.test/.well-known/mta-sts.txt\r\n",
		        good_policy, strlen(good_policy));
	} else if (strcmp(name, "notfound") == 0) {
		respond(ssl, "404 Not Found", "text/plain", NULL, "not found\n", 10);
	} else if (strcmp(name, "syntax") == 0) {
		const char *p = "<html><body>MTA-STS</body></html>\n";
		respond(ssl, "200 OK", "text/plain", NULL, p, strlen(p));
	} else {
		respond(ssl, "500 Internal Server Error", "text/plain", NULL, "error\n",
		        6);
	}
}

/* Read the request head (bounded) and return the name from its Host. */
static int
read_request(SSL *ssl, char *name, size_t namelen)
{
	char req[8192];
	size_t n = 0;
	while (n < sizeof(req) - 1) {
		int r = SSL_read(ssl, req + n, (int)(sizeof(req) - 1 - n));
		if (r <= 0)
			return -1;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (strncmp(req, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n", 39) != 0)
		return -1;
	const char *h = strstr(req, "\r\nHost: mta-sts.");
	if (h == NULL)
		return -1;
	h += strlen("\r\nHost: mta-sts.");
	const char *e = strstr(h, ".sts.test");
	if (e == NULL || (size_t)(e - h) >= namelen)
		return -1;
	memcpy(name, h, (size_t)(e - h));
	name[e - h] = '\0';
	return 0;
}

static int
on_sni(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	https_server *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name != NULL && strcmp(name, "mta-sts.untrusted.sts.test") == 0)
		SSL_set_SSL_CTX(ssl, s->ctx_untrusted);
	return SSL_TLSEXT_ERR_OK;
}

static void *
run(void *arg)
{
	https_server *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {s->lfd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct timeval tv = {5, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		SSL *ssl = SSL_new(s->ctx);
		if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			char name[64];
			if (read_request(ssl, name, sizeof(name)) == 0) {
				atomic_fetch_add(&s->requests, 1);
				serve(s, ssl, fd, name);
			}
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		ERR_clear_error();
		close(fd);
	}
	return NULL;
}

static SSL_CTX *
make_ctx(const char *certdir, const char *base, char *err, size_t errlen)
{
	char cert[512], key[512];
	snprintf(cert, sizeof(cert), "%s/%s.pem", certdir, base);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, base);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL ||
	    SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "loading %s/%s: %s", cert, key,
		         ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
https_server_start(https_server *s, const char *certdir, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	atomic_init(&s->stop, false);
	atomic_init(&s->requests, 0);
	if ((s->ctx = make_ctx(certdir, "server", err, errlen)) == NULL ||
	    (s->ctx_untrusted = make_ctx(certdir, "untrusted", err, errlen)) == NULL)
		goto fail;
	SSL_CTX_set_tlsext_servername_callback((SSL_CTX *)s->ctx, on_sni);
	SSL_CTX_set_tlsext_servername_arg((SSL_CTX *)s->ctx, s);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
		snprintf(err, errlen, "listening on 127.0.0.1: %s", strerror(errno));
		goto fail;
	}
	s->port = ntohs(a.sin_port);
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		goto fail;
	}
	s->running = 1;
	return 0;
fail:
	https_server_stop(s);
	return -1;
}

void
https_server_stop(https_server *s)
{
	if (s->running) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
		s->running = 0;
	}
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
	SSL_CTX_free(s->ctx);
	SSL_CTX_free(s->ctx_untrusted);
	s->ctx = s->ctx_untrusted = NULL;
}
