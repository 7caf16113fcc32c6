/* Listeners and connections over libuv; see net.h.
 *
 * Each read goes into the TLS layer when TLS is on (ciphertext in,
 * plaintext out) and then to the protocol. Writes are copied into a
 * uv_write request; libuv keeps them in order. Closing waits for pending
 * writes (uv_shutdown), then closes the handle and frees the connection in
 * the close callback. */
#include "net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t next_cid = 1;

void
mlog(const char *level, uint64_t cid, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[32];
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	if (cid != 0)
		fprintf(stderr, "%s.%03ldZ l=%s cid=%llx %s\n", t, ts.tv_nsec / 1000000, level,
			(unsigned long long)cid, msg);
	else
		fprintf(stderr, "%s.%03ldZ l=%s %s\n", t, ts.tv_nsec / 1000000, level, msg);
}

typedef struct wreq {
	uv_write_t req;
	uv_buf_t buf;
} wreq;

static void
on_written(uv_write_t *req, int status)
{
	(void)status;
	wreq *w = (wreq *)req;
	free(w->buf.base);
	free(w);
}

static void
raw_write(conn *c, const void *data, size_t len)
{
	if (c->closing || len == 0)
		return;
	wreq *w = malloc(sizeof(*w));
	char *copy = malloc(len);
	if (w == NULL || copy == NULL) {
		free(w);
		free(copy);
		conn_close(c);
		return;
	}
	memcpy(copy, data, len);
	w->buf = uv_buf_init(copy, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_written) != 0) {
		free(copy);
		free(w);
		conn_close(c);
	}
}

static void
flush_tls(conn *c)
{
	if (c->tls.out.len > 0) {
		raw_write(c, c->tls.out.data, c->tls.out.len);
		mox_buf_reset(&c->tls.out);
	}
}

void
conn_write(conn *c, const void *data, size_t len)
{
	if (!c->tls_on) {
		raw_write(c, data, len);
		return;
	}
	if (tls_conn_write(&c->tls, data, len) != 0) {
		conn_close(c);
		return;
	}
	flush_tls(c);
}

int
conn_starttls(conn *c)
{
	tls_config *cfg = c->l->starttls != NULL ? c->l->starttls : c->l->implicit_tls;
	if (cfg == NULL || c->tls_on || tls_conn_init(&c->tls, cfg) != 0)
		return -1;
	c->tls_on = true;
	return 0;
}

int
conn_starttls_with(conn *c, const uint8_t *early, size_t len)
{
	if (conn_starttls(c) != 0)
		return -1;
	if (len == 0)
		return 0;
	mox_buf plain = MOX_BUF_INIT;
	char err[256];
	int rc = tls_conn_feed(&c->tls, early, len);
	if (rc == 0)
		rc = tls_conn_read(&c->tls, &plain, err, sizeof(err));
	flush_tls(c);
	/* No plaintext can be there yet: the handshake is not done. */
	mox_buf_free(&plain);
	return rc;
}

static void
on_closed(uv_handle_t *h)
{
	conn *c = h->data;
	if (c->session != NULL)
		c->l->proto->closed(c->session);
	if (c->tls_on)
		tls_conn_free(&c->tls);
	free(c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	conn *c = req->data;
	free(req);
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void
conn_close(conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_shutdown_t *req = malloc(sizeof(*req));
	if (req != NULL) {
		req->data = c;
		if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	static char rbuf[65536]; /* one loop thread: one read at a time */
	*buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	conn *c = s->data;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0 || c->closing)
		return;
	if (!c->tls_on) {
		c->l->proto->input(c->session, (const uint8_t *)buf->base, (size_t)n);
		return;
	}
	mox_buf plain = MOX_BUF_INIT;
	char err[256];
	int rc = tls_conn_feed(&c->tls, buf->base, (size_t)n);
	if (rc == 0)
		rc = tls_conn_read(&c->tls, &plain, err, sizeof(err));
	flush_tls(c);
	if (rc != 0) {
		mlog("info", c->id, "tls error: %s", rc == -1 ? err : "input too large");
		mox_buf_free(&plain);
		conn_close(c);
		return;
	}
	if (plain.len > 0)
		c->l->proto->input(c->session, plain.data, plain.len);
	mox_buf_free(&plain);
	if (c->tls.closed && !c->closing)
		conn_close(c);
}

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen, uint16_t *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		uv_ip6_name(a, out, outlen);
		*port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		uv_ip4_name(a, out, outlen);
		*port = ntohs(a->sin_port);
	}
}

static void
on_connection(uv_stream_t *server, int status)
{
	listener *l = server->data;
	if (status != 0)
		return;
	conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->l = l;
	c->id = next_cid++;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	uint16_t lport;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, c->peer, sizeof(c->peer), &c->peer_port);
	len = sizeof(ss);
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, c->local, sizeof(c->local), &lport);
	mlog("info", c->id, "new connection listener=%s remote=%s:%u", l->name, c->peer,
	     c->peer_port);
	if (l->implicit_tls != NULL && conn_starttls(c) != 0) {
		conn_close(c);
		return;
	}
	c->session = l->proto->open(c, l->proto->arg);
	if (c->session == NULL) {
		conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

int
listener_start(uv_loop_t *loop, listener *l, const char *ip, uint16_t port, char *errbuf,
	       size_t errlen)
{
	struct sockaddr_storage ss;
	int rc = strchr(ip, ':') != NULL ? uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss)
					 : uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss);
	if (rc == 0)
		rc = uv_tcp_init(loop, &l->tcp);
	if (rc == 0) {
		l->tcp.data = l;
		l->port = port;
		rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
	}
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
	if (rc != 0) {
		snprintf(errbuf, errlen, "listen on %s port %u: %s", ip, port, uv_strerror(rc));
		return -1;
	}
	return 0;
}
