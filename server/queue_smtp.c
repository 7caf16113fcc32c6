/* One delivery attempt over SMTP, blocking, on a worker thread.
 *
 * How this works: a TCP connection with a connect time-out, then a loop
 * that writes what the client state machine (mox/smtp_client.h) has to
 * send, asks it for the next event, and reads when it waits for the
 * server. Reads and writes have socket time-outs (SO_RCVTIMEO/SNDTIMEO) as
 * a backstop; the state machine has its own per-reply deadlines (RFC 5321
 * section 4.5.3.2). TLS after STARTTLS (RFC 3207) or from the start
 * (RFC 8314) is mbedTLS over the same socket.
 *
 * Certificate checks by mode:
 *   opportunistic: none (RFC 7435: encryption without authentication).
 *   PKIX (MTA-STS enforce, RFC 8461 section 4.2): chain to the system CAs
 *     and the MX host name in the certificate.
 *   DANE (RFC 7672 section 3): usable TLSA records are DANE-EE (3), matched
 *     against the leaf only, no name or expiry checks (section 3.1.1), and
 *     DANE-TA (2), matched against a certificate of the presented chain
 *     that the leaf must chain to, with the name checked (section 3.2).
 *     PKIX-TA/PKIX-EE (0/1) are not usable for SMTP (section 3.1.3).
 */
#define _GNU_SOURCE
#include "queue_smtp.h"

#include <mox/smtp_client.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 30000
#define IO_TIMEOUT_MS (5 * 60 * 1000)
#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

static int64_t
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
fail(queue_smtp_res *res, bool permanent, const char *fmt, ...)
{
	res->ok = false;
	res->permanent = permanent;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
}

static int
dial(const char *ip, uint16_t port, int timeout_ms, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		snprintf(why, whylen, "bad address %s", ip);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "connect %s port %u: %s", ip, port,
		         strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int rc;
	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	int soerr = 0;
	socklen_t el = sizeof(soerr);
	if (rc == 0) {
		snprintf(why, whylen, "connect %s port %u: timeout", ip, port);
		close(fd);
		return -1;
	}
	if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 ||
	    soerr != 0) {
		snprintf(why, whylen, "connect %s port %u: %s", ip, port,
		         strerror(soerr != 0 ? soerr : errno));
		close(fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---- TLS over the blocking socket ---- */

typedef struct tls {
	bool on;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int fd;
} tls;

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n;
	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n;
	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	return (int)n; /* 0: connection closed */
}

bool
queue_tlsa_match(const queue_smtp_tlsa *t, const uint8_t *cert_der, size_t cert_len,
                 const uint8_t *spki_der, size_t spki_len)
{
	const uint8_t *d = t->selector == 0 ? cert_der : spki_der;
	size_t n = t->selector == 0 ? cert_len : spki_len;
	if (t->selector > 1 || d == NULL)
		return false;
	uint8_t h[64];
	switch (t->matching_type) {
	case 0:
		return t->len == n && memcmp(t->data, d, n) == 0;
	case 1:
		if (mbedtls_sha256_ret(d, n, h, 0) != 0)
			return false;
		return t->len == 32 && memcmp(t->data, h, 32) == 0;
	case 2:
		if (mbedtls_sha512_ret(d, n, h, 0) != 0)
			return false;
		return t->len == 64 && memcmp(t->data, h, 64) == 0;
	default:
		return false;
	}
}

/* RFC 7672 section 3.1: does the presented chain match a usable record? */
static bool
dane_verify(const queue_smtp_req *req, const mbedtls_x509_crt *leaf, char *why,
            size_t whylen)
{
	for (size_t i = 0; i < req->ntlsa; i++) {
		const queue_smtp_tlsa *t = &req->tlsa[i];
		if (t->usage == 3) {
			if (queue_tlsa_match(t, leaf->raw.p, leaf->raw.len,
			                     leaf->pk_raw.p, leaf->pk_raw.len))
				return true;
		} else if (t->usage == 2) {
			for (const mbedtls_x509_crt *c = leaf->next; c != NULL;
			     c = c->next) {
				if (!queue_tlsa_match(t, c->raw.p, c->raw.len,
				                      c->pk_raw.p, c->pk_raw.len))
					continue;
				/* The matched certificate is the trust anchor;
				 * the leaf must chain to it and name the host
				 * (RFC 7672 section 3.2.2). */
				mbedtls_x509_crt ta;
				mbedtls_x509_crt_init(&ta);
				uint32_t flags = 0;
				int ok = mbedtls_x509_crt_parse_der(&ta, c->raw.p,
				                                    c->raw.len) == 0 &&
				         mbedtls_x509_crt_verify(
				             (mbedtls_x509_crt *)leaf, &ta, NULL,
				             req->host, &flags, NULL, NULL) == 0;
				mbedtls_x509_crt_free(&ta);
				if (ok)
					return true;
			}
		}
	}
	snprintf(why, whylen, "no TLSA record of %s matches the certificate (RFC 7672)",
	         req->host);
	return false;
}

static int
tls_start(tls *t, int fd, const queue_smtp_req *req, char *why, size_t whylen)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	t->on = true;
	int rc;
	bool pkix = (req->tls == QUEUE_TLS_PKIX || req->tls == QUEUE_TLS_IMPLICIT) &&
	            !req->tls_insecure;
	if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
	                                (const unsigned char *)"mox-queue", 9)) != 0 ||
	    (rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
	                                      MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto err;
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	if (pkix) {
		const char *ca = req->ca_file != NULL ? req->ca_file : DEFAULT_CA_FILE;
		if (mbedtls_x509_crt_parse_file(&t->ca, ca) < 0) {
			snprintf(why, whylen, "loading CA certificates from %s", ca);
			return -1;
		}
		mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		/* DANE checks the chain itself after the handshake. */
		mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	if ((rc = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0)
		goto err;
	/* SNI: the MX host name (RFC 7672 section 8.1 and RFC 8461 both
	 * want it); not for an address literal. */
	if (req->host != NULL && strchr(req->host, ':') == NULL &&
	    (rc = mbedtls_ssl_set_hostname(&t->ssl, req->host)) != 0)
		goto err;
	mbedtls_ssl_set_bio(&t->ssl, &t->fd, bio_send, bio_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&t->ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto err;
	}
	if (req->tls == QUEUE_TLS_DANE) {
		const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&t->ssl);
		if (peer == NULL) {
			snprintf(why, whylen, "no server certificate");
			return -1;
		}
		if (!dane_verify(req, peer, why, whylen))
			return -1;
	}
	return 0;
err : {
	char e[128];
	mbedtls_strerror(rc, e, sizeof(e));
	snprintf(why, whylen, "TLS with %s: %s", req->host, e);
	if (pkix && rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
		char vi[256];
		mbedtls_x509_crt_verify_info(vi, sizeof(vi), "", flags);
		for (char *p = vi; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
		size_t l = strlen(why);
		snprintf(why + l, whylen - l, ": %s", vi);
	}
	return -1;
}
}

static void
tls_free(tls *t)
{
	if (!t->on)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	t->on = false;
}

static int
conn_write(int fd, tls *t, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (t->on) {
			int rc = mbedtls_ssl_write(&t->ssl, p, n);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
			    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			w = rc;
		} else {
			w = send(fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* >0 bytes, 0 end of stream, -1 error or time-out. */
static ssize_t
conn_read(int fd, tls *t, uint8_t *buf, size_t n)
{
	if (t->on) {
		for (;;) {
			int rc = mbedtls_ssl_read(&t->ssl, buf, n);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
			    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				return 0;
			return rc < 0 ? -1 : rc;
		}
	}
	ssize_t r;
	do
		r = recv(fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static int
flush(mox_smtp_client *c, int fd, tls *t)
{
	size_t n;
	const uint8_t *p = mox_smtp_client_output(c, &n);
	if (n == 0)
		return 0;
	if (conn_write(fd, t, p, n) != 0)
		return -1;
	mox_smtp_client_output_consume(c, n);
	return 0;
}

static unsigned
parse_notify(const char *s)
{
	unsigned v = 0;
	if (s == NULL)
		return 0;
	if (strcasestr(s, "NEVER") != NULL)
		v |= MOX_SMTP_NOTIFY_NEVER;
	if (strcasestr(s, "SUCCESS") != NULL)
		v |= MOX_SMTP_NOTIFY_SUCCESS;
	if (strcasestr(s, "FAILURE") != NULL)
		v |= MOX_SMTP_NOTIFY_FAILURE;
	if (strcasestr(s, "DELAY") != NULL)
		v |= MOX_SMTP_NOTIFY_DELAY;
	return v;
}

static void
take_result(queue_smtp_res *res, const mox_smtp_client_result *r)
{
	res->ok = false;
	res->permanent = r->permanent;
	res->code = r->code;
	snprintf(res->ecode, sizeof(res->ecode), "%s", r->ecode);
	if (r->code != 0)
		snprintf(res->text, sizeof(res->text), "%s: %d %s%s%s",
		         mox_smtp_client_step_name(r->step), r->code, r->ecode,
		         r->ecode[0] != '\0' ? " " : "", r->text);
	else
		snprintf(res->text, sizeof(res->text), "%s: %s: %s",
		         mox_smtp_client_step_name(r->step),
		         mox_smtp_client_status_name(r->status), r->text);
	for (char *p = res->text; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (r->status == MOX_SMTP_CLIENT_TLS_FAILED)
		res->bad_tls = true;
}

void
queue_smtp_deliver(const queue_smtp_req *req, queue_smtp_res *res)
{
	memset(res, 0, sizeof(*res));
	char why[400];
	int fd = dial(req->ip, req->port,
	              req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                          : CONNECT_TIMEOUT_MS,
	              why, sizeof(why));
	if (fd < 0) {
		fail(res, false, "%s", why);
		return;
	}
	res->connected = true;
	int io_ms = req->io_timeout_ms > 0 ? req->io_timeout_ms : IO_TIMEOUT_MS;
	struct timeval tv = {.tv_sec = io_ms / 1000, .tv_usec = (io_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	tls t;
	memset(&t, 0, sizeof(t));
	mox_smtp_client *c = NULL;
	mox_smtp_client_rcpt rc1 = {
	    .addr = req->rcpt,
	    .notify = parse_notify(req->notify),
	    .orcpt = req->orcpt != NULL && req->orcpt[0] != '\0' ? req->orcpt : NULL,
	};
	mox_smtp_client_rcpt *rcs = &rc1;
	size_t nrcs = 1;
	if (req->tls == QUEUE_TLS_IMPLICIT &&
	    tls_start(&t, fd, req, why, sizeof(why)) != 0) {
		res->bad_tls = true;
		fail(res, false, "%s", why);
		goto out;
	}
	mox_smtp_client_limits lim;
	mox_smtp_client_limits_default(&lim);
	lim.command_timeout_ms = io_ms;
	mox_smtp_client_opts o = {
	    .size = sizeof(o),
	    .hostname = req->ehlo_name,
	    .limits = &lim,
	};
	switch (req->tls) {
	case QUEUE_TLS_SKIP:
		o.tls = MOX_SMTP_CLIENT_TLS_NONE;
		break;
	case QUEUE_TLS_OPPORTUNISTIC:
		o.tls = MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC;
		break;
	case QUEUE_TLS_PKIX:
	case QUEUE_TLS_DANE:
		o.tls = MOX_SMTP_CLIENT_TLS_REQUIRED;
		break;
	case QUEUE_TLS_IMPLICIT:
		o.tls = MOX_SMTP_CLIENT_TLS_NONE;
		o.tls_active = true;
		break;
	}
	/* RFC 8689 section 4.2.1: REQUIRETLS needs TLS. */
	if (req->requiretls && o.tls == MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC)
		o.tls = MOX_SMTP_CLIENT_TLS_REQUIRED;
	if (req->username != NULL) {
		o.username = req->username;
		o.password = (const uint8_t *)req->password;
		o.password_len = req->password != NULL ? strlen(req->password) : 0;
	}
	if (mox_smtp_client_new(&c, &o) != MOX_OK) {
		fail(res, false, "smtp client: out of memory or bad options");
		goto out;
	}
	if (req->nrcpts > 0) {
		rcs = calloc(req->nrcpts, sizeof(*rcs));
		if (rcs == NULL) {
			fail(res, false, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < req->nrcpts; i++)
			rcs[i].addr = req->rcpts[i];
		nrcs = req->nrcpts;
	}
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx),
	    .from = req->from,
	    .rcpts = rcs,
	    .nrcpts = nrcs,
	    .msg_size = req->msg_len,
	    .has_8bit = req->has8bit,
	    .smtputf8 = req->smtputf8,
	    .requiretls = req->requiretls,
	    .ret = req->ret_full ? MOX_SMTP_RET_FULL : MOX_SMTP_RET_NONE,
	    .envid = req->envid != NULL && req->envid[0] != '\0' ? req->envid : NULL,
	    .no_chunking = true,
	};
	bool sent = false, have_result = false, rcpt_ok = false;
	size_t nrcpt_seen = 0;
	uint8_t buf[16384];
	for (;;) {
		if (flush(c, fd, &t) != 0) {
			if (!have_result)
				fail(res, false, "writing to %s: %s", req->ip,
				     strerror(errno));
			have_result = true;
			break;
		}
		mox_smtp_client_event ev;
		mox_err err = mox_smtp_client_next(c, now_ms(), &ev);
		if (err == MOX_EAGAIN) {
			size_t pending = 0;
			mox_smtp_client_output(c, &pending);
			if (pending > 0)
				continue; /* write it out first, then ask again */
			ssize_t n = conn_read(fd, &t, buf, sizeof(buf));
			if (n <= 0)
				mox_smtp_client_eof(c);
			else if (mox_smtp_client_feed(c, buf, (size_t)n) != MOX_OK)
				mox_smtp_client_eof(c);
			continue;
		}
		if (err != MOX_OK) {
			if (!have_result)
				fail(res, false, "smtp client: %s", mox_strerror(err));
			have_result = true;
			break;
		}
		if (ev.type == MOX_SMTP_CLIENT_EV_CLOSED)
			break;
		switch (ev.type) {
		case MOX_SMTP_CLIENT_EV_READY:
			if (!sent) {
				sent = true;
				if (mox_smtp_client_mail(c, &tx) != MOX_OK) {
					fail(res, true, "bad address: %s",
					     mox_smtp_client_errmsg(c));
					have_result = true;
					mox_smtp_client_quit(c);
				}
			} else {
				mox_smtp_client_quit(c);
			}
			break;
		case MOX_SMTP_CLIENT_EV_STARTTLS:
			if (flush(c, fd, &t) != 0 ||
			    tls_start(&t, fd, req, why, sizeof(why)) != 0 ||
			    mox_smtp_client_starttls_done(c) != MOX_OK) {
				res->bad_tls = true;
				fail(res, false, "%s", why);
				have_result = true;
				goto out;
			}
			break;
		case MOX_SMTP_CLIENT_EV_RCPT:
			/* Every recipient must be accepted (one for the queue). */
			rcpt_ok = ev.u.rcpt.ok && (nrcpt_seen == 0 || rcpt_ok);
			nrcpt_seen++;
			if (!ev.u.rcpt.ok && !have_result) {
				take_result(res, &ev.u.rcpt.result);
				have_result = true;
			}
			break;
		case MOX_SMTP_CLIENT_EV_DATA: {
			size_t off = 0;
			while (off < req->msg_len) {
				size_t taken = 0;
				if (mox_smtp_client_data(c, req->msg + off,
				                         req->msg_len - off,
				                         &taken) != MOX_OK)
					break;
				off += taken;
				if (taken == 0 && flush(c, fd, &t) != 0)
					break;
			}
			mox_smtp_client_data_end(c);
			break;
		}
		case MOX_SMTP_CLIENT_EV_DONE:
			if (ev.u.done.ok && rcpt_ok) {
				res->ok = true;
				res->permanent = false;
				res->code = ev.u.done.result.code;
				snprintf(res->ecode, sizeof(res->ecode), "%s",
				         ev.u.done.result.ecode);
				have_result = true;
			} else if (!have_result) {
				take_result(res, &ev.u.done.result);
				have_result = true;
			}
			break;
		case MOX_SMTP_CLIENT_EV_ERROR:
			if (!have_result) {
				take_result(res, &ev.u.error.result);
				have_result = true;
			}
			break;
		default:
			break;
		}
	}
	if (!have_result)
		fail(res, false, "connection to %s ended without a result", req->ip);
out:
	if (rcs != &rc1)
		free(rcs);
	mox_smtp_client_free(c);
	tls_free(&t);
	close(fd);
}
