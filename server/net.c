/* Listeners and connections over libuv; see net.h.
 *
 * Each read goes into the TLS layer when TLS is on (ciphertext in,
 * plaintext out) and then to the protocol. Writes are copied into a
 * uv_write request; libuv keeps them in order. A connection has two
 * handles, the TCP stream and a timer (TLS handshake deadline, then the
 * closing deadline); it is freed when both are closed. Closing waits for
 * pending writes (uv_shutdown), but at most close_timeout_ms, so a client
 * that never reads cannot hold the connection.
 *
 * Limits: on accept the client's address is counted in the connection-rate
 * and open-connection limiters (net.h); over a limit the connection is
 * refused with one line and closed, and never reaches the protocol. The
 * single place a connection is freed (on_handle_closed) gives its place
 * back, so every close path does. */
#include "net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t next_cid = 1;

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- limits ---- */

void
net_limits_default(net_limits *nl)
{
	memset(nl, 0, sizeof(*nl));
	nl->conns_max = 1000;
	nl->conns_ip[0] = 30, nl->conns_ip[1] = 90, nl->conns_ip[2] = 270;
	nl->rate_ip[0] = 300, nl->rate_ip[1] = 900, nl->rate_ip[2] = 2700;
	nl->authfail_minute[0] = 10, nl->authfail_minute[1] = 30,
	nl->authfail_minute[2] = 90;
	nl->authfail_day[0] = 50, nl->authfail_day[1] = 150, nl->authfail_day[2] = 450;
	nl->tls_timeout_ms = 30 * 1000;
	nl->close_timeout_ms = 10 * 1000;
	nl->write_queue_max = 4u << 20;
}

static bool
parse_num(const char *s, size_t n, bool ms, int64_t *out)
{
	int64_t v = 0, mul = 1;
	if (ms && n > 2 && s[n - 2] == 'm' && s[n - 1] == 's')
		n -= 2;
	else if (ms && n > 1 && s[n - 1] == 's')
		n--, mul = 1000;
	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v * mul;
	return true;
}

int
net_limits_parse(net_limits *nl, const char *spec, char *errbuf, size_t errlen)
{
	net_limits t = *nl;
	const char *p = spec;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL) {
			snprintf(errbuf, errlen, "limit \"%.*s\": missing \"=\"",
			         (int)(end - p), p);
			return -1;
		}
		size_t kn = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vn = (size_t)(end - v);
#define KEY(k) (kn == strlen(k) && strncmp(p, k, kn) == 0)
		bool ms = KEY("command") || KEY("data") || KEY("tls") || KEY("close");
		int64_t x;
		if (!parse_num(v, vn, ms, &x)) {
			snprintf(errbuf, errlen, "limit \"%.*s\": bad number",
			         (int)(end - p), p);
			return -1;
		}
		if (KEY("conns")) {
			t.conns_max = (size_t)x;
		} else if (KEY("conns_ip")) {
			t.conns_ip[0] = x, t.conns_ip[1] = 3 * x, t.conns_ip[2] = 9 * x;
		} else if (KEY("rate_ip")) {
			t.rate_ip[0] = x, t.rate_ip[1] = 3 * x, t.rate_ip[2] = 9 * x;
		} else if (KEY("authfail_ip")) {
			t.authfail_minute[0] = x, t.authfail_minute[1] = 3 * x;
			t.authfail_minute[2] = 9 * x;
			t.authfail_day[0] = 5 * x, t.authfail_day[1] = 15 * x;
			t.authfail_day[2] = 45 * x;
		} else if (KEY("command")) {
			t.command_timeout_ms = x;
		} else if (KEY("data")) {
			t.data_timeout_ms = x;
		} else if (KEY("tls")) {
			t.tls_timeout_ms = x;
		} else if (KEY("close")) {
			t.close_timeout_ms = x;
		} else {
			snprintf(errbuf, errlen, "unknown limit \"%.*s\"", (int)kn, p);
			return -1;
		}
#undef KEY
		p = *end == ',' ? end + 1 : end;
	}
	*nl = t;
	return 0;
}

int
net_limits_init(net_limits *nl)
{
	ratelimit_window open = {0,
	                         {nl->conns_ip[0], nl->conns_ip[1], nl->conns_ip[2]}};
	ratelimit_window rate = {60 * 1000,
	                         {nl->rate_ip[0], nl->rate_ip[1], nl->rate_ip[2]}};
	ratelimit_window auth[2] = {
	    {60 * 1000,
	     {nl->authfail_minute[0], nl->authfail_minute[1], nl->authfail_minute[2]}},
	    {24 * 3600 * 1000,
	     {nl->authfail_day[0], nl->authfail_day[1], nl->authfail_day[2]}},
	};
	nl->open = ratelimit_new(&open, 1);
	nl->rate = ratelimit_new(&rate, 1);
	nl->failed_auth = ratelimit_new(auth, 2);
	if (nl->open == NULL || nl->rate == NULL || nl->failed_auth == NULL) {
		net_limits_free(nl);
		return -1;
	}
	return 0;
}

void
net_limits_free(net_limits *nl)
{
	ratelimit_free(nl->open);
	ratelimit_free(nl->rate);
	ratelimit_free(nl->failed_auth);
	nl->open = nl->rate = nl->failed_auth = NULL;
}

bool
conn_auth_allowed(conn *c)
{
	net_limits *nl = c->l->limits;
	if (nl == NULL || nl->failed_auth == NULL)
		return true;
	if (ratelimit_can_add(nl->failed_auth, &c->ip, now_ms(), 1))
		return true;
	mlogf(c->l->log_pkg, MLOG_INFO, c->id,
	      "refusing authentication, too many failures remote=%s", c->peer);
	return false;
}

void
conn_auth_result(conn *c, bool ok, bool aborted)
{
	net_limits *nl = c->l->limits;
	if (nl == NULL || nl->failed_auth == NULL || aborted)
		return;
	if (ok)
		ratelimit_reset(nl->failed_auth, &c->ip, now_ms());
	else
		ratelimit_add(nl->failed_auth, &c->ip, now_ms(), 1);
}

/* ---- protocol traces ---- */

static bool
prefix_ci(const char *s, size_t n, const char *p)
{
	size_t pn = strlen(p);
	if (n < pn)
		return false;
	for (size_t i = 0; i < pn; i++) {
		char a = s[i];
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 'a' + 'A');
		if (a != p[i])
			return false;
	}
	return true;
}

/* Classify one complete client line of SMTP (RFC 5321 section 4.1.1) for
 * the trace, and follow AUTH (RFC 4954 section 4), DATA (RFC 5321
 * section 4.1.1.4) and BDAT (RFC 3030 section 2). The state only decides
 * what the trace shows; the protocol core is what enforces anything. */
static mlog_level
smtp_client_line(conn *c, const char *line, size_t n, size_t *show)
{
	*show = n;
	if (c->tr.data) {
		if ((n == 3 && memcmp(line, ".\r\n", 3) == 0) ||
		    (n == 2 && memcmp(line, ".\n", 2) == 0)) {
			c->tr.data = false;
			return MLOG_TRACE;
		}
		return MLOG_TRACEDATA;
	}
	if (c->tr.auth)
		return MLOG_TRACEAUTH;
	if (prefix_ci(line, n, "AUTH ")) {
		c->tr.auth = true;
		/* Show "AUTH mech", hide an initial response. */
		size_t i = 5;
		while (i < n && line[i] == ' ')
			i++;
		while (i < n && line[i] != ' ' && line[i] != '\r' && line[i] != '\n')
			i++;
		if (i < n && line[i] == ' ') {
			*show = i;
			return MLOG_TRACEAUTH;
		}
		return MLOG_TRACE;
	}
	if (prefix_ci(line, n, "DATA") &&
	    (n == 4 || line[4] == '\r' || line[4] == '\n')) {
		c->tr.data = true;
		c->tr.data_ok = false;
		return MLOG_TRACE;
	}
	if (prefix_ci(line, n, "BDAT ")) {
		uint64_t v = 0;
		for (size_t i = 5;
		     i < n && line[i] >= '0' && line[i] <= '9' && v < (1ull << 50); i++)
			v = v * 10 + (uint64_t)(line[i] - '0');
		c->tr.bdat = v;
	}
	return MLOG_TRACE;
}

static void
trace_in(conn *c, const uint8_t *data, size_t len)
{
	mlog_pkg pkg = c->l->log_pkg;
	bool on = mlog_enabled(pkg, MLOG_TRACE);
	if (c->l->trace_kind != NET_TRACE_SMTP) {
		if (on)
			mlog_trace(pkg, MLOG_TRACEAUTH, c->id, "C: ", data, len);
		return;
	}
	/* The state is followed even when tracing is off, so that turning
	 * it on mid-message does not show message data as commands. */
	while (len > 0) {
		if (c->tr.bdat > 0) {
			size_t n = len < c->tr.bdat ? len : (size_t)c->tr.bdat;
			if (on)
				mlog_trace(pkg, MLOG_TRACEDATA, c->id, "C: ", data, n);
			c->tr.bdat -= n;
			data += n;
			len -= n;
			continue;
		}
		const uint8_t *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) + 1 : len;
		/* A line may come in pieces: classify by its start. */
		mlog_level lv;
		size_t show = n;
		if (c->tr.bol_in)
			lv = smtp_client_line(c, (const char *)data, n, &show);
		else
			lv = c->tr.data   ? MLOG_TRACEDATA
			     : c->tr.auth ? MLOG_TRACEAUTH
			                  : MLOG_TRACE;
		c->tr.bol_in = nl != NULL;
		/* A long line comes in many reads: show its start only. */
		size_t before = c->tr.linelen;
		c->tr.linelen = nl != NULL ? 0 : before + n;
		if (before > 0) {
			if (on && before < 1024)
				mlog_trace(pkg, lv, c->id, "C: (line goes on) ", data,
				           n);
		} else if (on) {
			if (show < n && lv == MLOG_TRACEAUTH) {
				mlog_trace(pkg, MLOG_TRACE, c->id, "C: ", data, show);
				mlog_trace(pkg, MLOG_TRACEAUTH, c->id,
				           "C: (initial response) ", data + show,
				           n - show);
			} else {
				mlog_trace(pkg, lv, c->id, "C: ", data, n);
			}
		}
		data += n;
		len -= n;
	}
}

static void
trace_out(conn *c, const uint8_t *data, size_t len)
{
	mlog_pkg pkg = c->l->log_pkg;
	bool on = mlog_enabled(pkg, MLOG_TRACE);
	while (len > 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (c->l->trace_kind == NET_TRACE_SMTP && n >= 4) {
			/* RFC 4954 section 4: 334 asks for the next SASL line
			 * (the reply to an earlier pipelined command must not
			 * end the exchange for the trace), a final reply other
			 * than 334 ends it. RFC 5321 section 4.1.1.4: after
			 * 354 the client sends message data. */
			if (memcmp(data, "334 ", 4) == 0)
				c->tr.auth = true;
			else if (c->tr.auth && data[3] == ' ')
				c->tr.auth = false;
			if (memcmp(data, "354 ", 4) == 0)
				c->tr.data = c->tr.data_ok = true;
			else if (c->tr.data && !c->tr.data_ok &&
			         (data[0] == '4' || data[0] == '5') && data[3] == ' ')
				c->tr.data =
				    false; /* DATA (or the transaction) refused */
		}
		if (on)
			mlog_trace(pkg, MLOG_TRACE, c->id, "S: ", data, n);
		data += n;
		len -= n;
	}
}

/* ---- connections ---- */

typedef struct wreq {
	uv_write_t req;
	uv_buf_t buf;
} wreq;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Backpressure: above WRITE_HIGH bytes queued to a client we stop reading
 * from it (it gets no further until it reads our replies, and the
 * protocol's command timeout ends a client that never does); below
 * WRITE_LOW we read again. */
enum { WRITE_HIGH = 256 << 10, WRITE_LOW = 64 << 10 };

static void
on_written(uv_write_t *req, int status)
{
	(void)status;
	wreq *w = (wreq *)req;
	conn *c = req->handle->data;
	free(w->buf.base);
	free(w);
	if (c->paused && !c->closing &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_LOW) {
		c->paused = false;
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	}
}

static void
raw_write(conn *c, const void *data, size_t len)
{
	if (c->closing || len == 0)
		return;
	net_limits *nl = c->l->limits;
	size_t qmax =
	    nl != NULL && nl->write_queue_max > 0 ? nl->write_queue_max : (16u << 20);
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > qmax) {
		/* The client does not read what we send. */
		mlogf(c->l->log_pkg, MLOG_INFO, c->id,
		      "peer does not read, closing queued=%zu",
		      uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp));
		conn_close(c);
		return;
	}
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
		return;
	}
	if (!c->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_HIGH) {
		c->paused = true;
		uv_read_stop((uv_stream_t *)&c->tcp);
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
	if (c->closing)
		return;
	trace_out(c, data, len);
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

static void on_timer(uv_timer_t *t);

static void
timer_set(conn *c, int64_t ms)
{
	uv_timer_stop(&c->timer);
	c->timer_on = ms > 0;
	if (ms > 0)
		uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

int
conn_starttls(conn *c)
{
	tls_config *cfg = c->l->starttls != NULL ? c->l->starttls : c->l->implicit_tls;
	if (cfg == NULL || c->tls_on || tls_conn_init(&c->tls, cfg) != 0)
		return -1;
	c->tls_on = true;
	/* A handshake that never completes must not hold the connection. */
	net_limits *nl = c->l->limits;
	timer_set(c, nl != NULL && nl->tls_timeout_ms > 0 ? nl->tls_timeout_ms
	                                                  : 30 * 1000);
	return 0;
}

static int
tls_advance(conn *c, mox_buf *plain)
{
	char err[256];
	int rc = tls_conn_read(&c->tls, plain, err, sizeof(err));
	flush_tls(c);
	if (rc != 0) {
		mlogf(MLOG_PKG_TLS, MLOG_INFO, c->id, "tls error err=\"%s\" remote=%s",
		      err, c->peer);
		return -1;
	}
	if (c->tls.handshake_done && c->timer_on && !c->closing)
		timer_set(c, 0);
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
	int rc = tls_conn_feed(&c->tls, early, len);
	if (rc == 0)
		rc = tls_advance(c, &plain);
	/* No plaintext can be there yet: the handshake is not done. */
	mox_buf_free(&plain);
	return rc;
}

static void
on_handle_closed(uv_handle_t *h)
{
	conn *c = h->data;
	if (--c->handles > 0)
		return;
	if (c->session != NULL)
		c->l->proto->closed(c->session);
	if (c->tls_on)
		tls_conn_free(&c->tls);
	net_limits *nl = c->l->limits;
	if (c->counted && nl != NULL) {
		ratelimit_add(nl->open, &c->ip, now_ms(), -1);
		nl->nconns--;
	}
	if (c->refusing && nl != NULL)
		nl->nrefusing--;
	mlogf(c->l->log_pkg, MLOG_DEBUG, c->id, "connection closed");
	free(c);
}

static void
close_handles(conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	conn *c = req->data;
	free(req);
	close_handles(c);
}

static void
on_timer(uv_timer_t *t)
{
	conn *c = t->data;
	c->timer_on = false;
	if (c->closing) {
		/* The client did not take our last writes in time. */
		close_handles(c);
		return;
	}
	mlogf(MLOG_PKG_TLS, MLOG_INFO, c->id,
	      "tls handshake timeout, closing remote=%s", c->peer);
	conn_close(c);
}

void
conn_close(conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	net_limits *nl = c->l->limits;
	timer_set(c, nl != NULL && nl->close_timeout_ms > 0 ? nl->close_timeout_ms
	                                                    : 10 * 1000);
	uv_shutdown_t *req = malloc(sizeof(*req));
	if (req != NULL) {
		req->data = c;
		if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
			return;
		free(req);
	}
	close_handles(c);
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
deliver(conn *c, const uint8_t *data, size_t len)
{
	if (c->refusing || c->session == NULL || len == 0)
		return; /* a refused client's words are not read */
	trace_in(c, data, len);
	c->l->proto->input(c->session, data, len);
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
		deliver(c, (const uint8_t *)buf->base, (size_t)n);
		return;
	}
	mox_buf plain = MOX_BUF_INIT;
	int rc = tls_conn_feed(&c->tls, buf->base, (size_t)n);
	if (rc != 0)
		mlogf(MLOG_PKG_TLS, MLOG_INFO, c->id, "tls input too large, closing");
	else
		rc = tls_advance(c, &plain);
	if (rc != 0) {
		mox_buf_free(&plain);
		conn_close(c);
		return;
	}
	deliver(c, plain.data, plain.len);
	mox_buf_free(&plain);
	/* A refused client has had its line once the handshake is done. */
	if (!c->closing && (c->tls.closed || (c->refusing && c->tls.handshake_done)))
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

/* Why a new connection is refused, NULL if it is not; on NULL the
 * connection holds its place in the limits (c->counted). */
static const char *
check_limits(conn *c)
{
	net_limits *nl = c->l->limits;
	if (nl == NULL || nl->open == NULL)
		return NULL;
	int64_t now = now_ms();
	if (nl->conns_max > 0 && nl->nconns >= nl->conns_max)
		return "too many connections, try again later";
	if (!ratelimit_add(nl->rate, &c->ip, now, 1))
		return "connection rate from your ip or network too high, slow down "
		       "please";
	if (c->l->authfail_at_connect &&
	    !ratelimit_can_add(nl->failed_auth, &c->ip, now, 1))
		return "too many auth failures";
	if (!ratelimit_add(nl->open, &c->ip, now, 1))
		return "too many open connections from your ip or network";
	c->counted = true;
	nl->nconns++;
	return NULL;
}

static void
refuse(conn *c, const char *why)
{
	net_limits *nl = c->l->limits;
	mlogf(c->l->log_pkg, MLOG_INFO, c->id,
	      "refusing connection reason=\"%s\" remote=%s", why, c->peer);
	c->refusing = true;
	nl->nrefusing++;
	/* Refusals cost little, but not without bound: beyond that many
	 * at once, close without a word. */
	size_t max = nl->conns_max > 0 ? nl->conns_max : 1000;
	if (c->l->refuse_fmt == NULL || nl->nrefusing > max) {
		conn_close(c);
		return;
	}
	char line[256];
	snprintf(line, sizeof(line), c->l->refuse_fmt, why);
	if (c->l->implicit_tls != NULL) {
		/* The line goes out after the handshake (tls.c keeps it). */
		if (conn_starttls(c) != 0) {
			conn_close(c);
			return;
		}
		conn_write(c, line, strlen(line));
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
		return;
	}
	conn_write(c, line, strlen(line));
	conn_close(c);
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
	uv_timer_init(server->loop, &c->timer);
	c->handles = 2;
	c->tcp.data = c;
	c->timer.data = c;
	c->tr.bol_in = true;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		close_handles(c);
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
	ratelimit_ip_parse(c->peer, &c->ip);
	mlogf(l->log_pkg, MLOG_INFO, c->id, "new connection listener=%s remote=%s:%u",
	      l->name, c->peer, c->peer_port);
	const char *why = check_limits(c);
	if (why != NULL) {
		refuse(c, why);
		return;
	}
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
listener_start(uv_loop_t *loop, listener *l, const char *ip, uint16_t port,
               char *errbuf, size_t errlen)
{
	struct sockaddr_storage ss;
	int rc = strchr(ip, ':') != NULL
	             ? uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss)
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
		snprintf(errbuf, errlen, "listen on %s port %u: %s", ip, port,
		         uv_strerror(rc));
		return -1;
	}
	return 0;
}
