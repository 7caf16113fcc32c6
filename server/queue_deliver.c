/* One delivery attempt of one queued recipient, and what follows from its
 * result (RFC 5321 section 4.5.4 "Retry Strategies", section 6.1
 * "Reliable Delivery and Replies by Email").
 *
 * How this works, as mox's queue.deliver:
 *   1. The attempt is registered first (attempts + 1, next attempt after
 *      the backoff), so a crash or hang during it cannot make us hammer
 *      the remote server.
 *   2. Delivery: a local recipient goes to the store through the server's
 *      callback; a row with a transport goes to that smarthost; otherwise
 *      the MX hosts of the domain, in order, each address of a host until
 *      one connects (queue_hosts.c), with TLS decided per host:
 *        DANE (RFC 7672) when MX, address and TLSA answers are
 *          DNSSEC-authenticated and a usable TLSA record exists;
 *        else PKIX-verified STARTTLS when the domain's MTA-STS policy is
 *          in enforce mode (RFC 8461 section 5), which also skips MX hosts
 *          the policy does not list;
 *        else opportunistic STARTTLS, and when its handshake fails, once
 *          more without TLS (RFC 7435 section 6.2, as mox).
 *      REQUIRETLS messages (RFC 8689 section 4.2.1) need DANE or PKIX.
 *   3. 2xx: the row is removed. 5xx (or a message the server cannot take):
 *      a failure DSN, row removed. Otherwise the error is kept for the
 *      next attempt; after QUEUE_DELAY_DSN_ATTEMPT attempts a delay DSN is
 *      sent once; after max_attempts a failure DSN and the row is removed.
 */
#define _GNU_SOURCE
#include "queue.h"
#include "queue_smtp.h"

#include <mox/mtasts.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct result {
	bool ok;
	bool permanent;
	char status[16]; /* RFC 3463 code for a DSN */
	char remote_mta[MOX_DNS_NAME_MAX + 1];
	char text[600];
} result;

static uint64_t
random64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&v;
	return v;
}

static void
res_set(result *r, bool permanent, const char *status, const char *fmt, ...)
{
	r->ok = false;
	r->permanent = permanent;
	snprintf(r->status, sizeof(r->status), "%s",
	         status != NULL ? status : (permanent ? "5.0.0" : "4.0.0"));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* dialed_ips is "host ip" pairs separated by ';': the last ip for host. */
static void
prev_ip(const char *dialed, const char *host, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t hl = strlen(host);
	for (const char *p = dialed; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ';');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > hl + 1 && strncmp(p, host, hl) == 0 && p[hl] == ' ') {
			size_t il = len - hl - 1;
			if (il < outlen) {
				memcpy(out, p + hl + 1, il);
				out[il] = '\0';
			}
		}
		p = end != NULL ? end + 1 : NULL;
	}
}

static void
add_dialed(queue_msg *m, const char *host, const char *ip)
{
	size_t old = strlen(m->dialed_ips);
	/* Bounded: keep the newest part when it grows past 2 KB. */
	const char *keep = m->dialed_ips;
	if (old > 2048) {
		const char *semi = strchr(m->dialed_ips + old - 1024, ';');
		keep = semi != NULL ? semi + 1 : "";
	}
	size_t n = strlen(keep) + strlen(host) + strlen(ip) + 4;
	char *s = malloc(n);
	if (s == NULL)
		return;
	snprintf(s, n, "%s%s%s %s", keep, keep[0] != '\0' ? ";" : "", host, ip);
	free(m->dialed_ips);
	m->dialed_ips = s;
}

static void
smtp_to_result(const queue_smtp_res *sr, result *r)
{
	r->ok = sr->ok;
	r->permanent = sr->permanent;
	if (sr->ecode[0] != '\0')
		snprintf(r->status, sizeof(r->status), "%s", sr->ecode);
	else if (sr->code >= 500 || sr->permanent)
		snprintf(r->status, sizeof(r->status), "5.0.0");
	else
		snprintf(r->status, sizeof(r->status), "4.0.0");
	snprintf(r->text, sizeof(r->text), "%s", sr->text);
}

static void
req_common(const queue_settings *s, const queue_msg *m, const uint8_t *data, size_t len,
           queue_smtp_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->ehlo_name = s->hostname;
	rq->from = m->sender;
	rq->rcpt = m->recipient;
	rq->notify = m->dsn_notify;
	rq->orcpt = m->dsn_orcpt;
	rq->envid = m->dsn_envid;
	rq->ret_full = m->dsn_ret_full;
	rq->has8bit = m->has8bit;
	rq->smtputf8 = m->smtputf8;
	rq->requiretls = m->requiretls == QUEUE_REQUIRETLS_YES;
	rq->msg = data;
	rq->msg_len = len;
	rq->connect_timeout_ms = s->connect_timeout_ms;
	rq->io_timeout_ms = s->io_timeout_ms;
	rq->ca_file = s->ca_file;
}

/* TLSA records for host (RFC 7672 section 2.2): 1 with usable records in
 * *out (caller frees with mox_dns_answer_free), 0 no DANE, -1 lookup
 * failed while it had to succeed (temporary). */
static int
dane_records(const queue_settings *s, const char *host, uint16_t port,
             mox_dns_answer **out, char *why, size_t whylen)
{
	*out = NULL;
	char name[MOX_DNS_NAME_MAX + 16];
	snprintf(name, sizeof(name), "_%u._tcp.%s", port, host);
	mox_dns_answer *a = NULL;
	if (mox_dns_lookup(s->resolver, name, MOX_DNS_TLSA, &a) != MOX_OK) {
		snprintf(why, whylen, "TLSA lookup %s: out of memory", name);
		return -1;
	}
	if (a->status == MOX_DNS_TEMPFAIL) {
		/* RFC 7672 section 2.2: a failed TLSA lookup of a secure
		 * host must not fall back to unauthenticated delivery. */
		snprintf(why, whylen, "TLSA lookup %s: %s", name,
		         a->why != NULL ? a->why : "temporary failure");
		mox_dns_answer_free(a);
		return -1;
	}
	if (a->status != MOX_DNS_FOUND || !a->authentic) {
		mox_dns_answer_free(a);
		return 0;
	}
	for (size_t i = 0; i < a->nrr; i++) {
		uint8_t u = a->rr[i].u.tlsa.usage;
		if (a->rr[i].type == MOX_DNS_TLSA && (u == 2 || u == 3)) {
			*out = a;
			return 1;
		}
	}
	/* RFC 7672 section 2.2: only unusable records: authenticated TLS
	 * without checks... we treat it as "no DANE" but mandatory TLS is
	 * still required; keep it simple: opportunistic. */
	mox_dns_answer_free(a);
	return 0;
}

static void
deliver_direct(const queue_settings *s, queue_msg *m, const uint8_t *data, size_t len,
               result *r)
{
	queue_hosts hosts;
	char why[400];
	queue_result hr = queue_hosts_gather(s->resolver, m->recipient_domain,
	                                     random64(), &hosts, why, sizeof(why));
	if (hr != QUEUE_OK) {
		res_set(r, hr == QUEUE_PERMANENT,
		        hr == QUEUE_PERMANENT ? "5.1.2" : "4.4.3", "%s", why);
		return;
	}
	struct mox_mtasts_policy *policy = NULL;
	bool fresh = false;
	if (s->mtasts_policy != NULL && hosts.host[0].is_ip == false &&
	    s->mtasts_policy(s->mtasts_arg, hosts.effective_domain, &policy, &fresh) !=
	        0) {
		queue_log(s, "info", "msgid %lld: no MTA-STS policy for %s, continuing",
		          (long long)m->id, hosts.effective_domain);
		policy = NULL;
	}
	uint16_t port = s->smtp_port != 0 ? s->smtp_port : 25;
	res_set(r, false, "4.4.1", "no host of %s could be reached",
	        m->recipient_domain);
	for (size_t hi = 0; hi < hosts.n; hi++) {
		const queue_host *h = &hosts.host[hi];
		mox_mtasts_decision dec = {.allowed = true};
		if (policy != NULL)
			mox_mtasts_decide(policy, h->name, &dec);
		if (!dec.allowed) {
			/* RFC 8461 section 5 */
			res_set(r, false, "4.7.5",
			        "MX host %s does not match the enforced MTA-STS policy "
			        "of %s",
			        h->name, hosts.effective_domain);
			continue;
		}
		char prev[64];
		prev_ip(m->dialed_ips, h->name, prev, sizeof(prev));
		queue_ips ips;
		if (queue_hosts_ips(s->resolver, h, prev, &ips, why, sizeof(why)) !=
		    QUEUE_OK) {
			res_set(r, false, "4.4.3", "%s", why);
			continue;
		}
		queue_tls_mode mode =
		    dec.require_tls ? QUEUE_TLS_PKIX : QUEUE_TLS_OPPORTUNISTIC;
		mox_dns_answer *tlsa = NULL;
		queue_smtp_tlsa trec[16];
		size_t ntrec = 0;
		if (!s->no_dane && !h->is_ip && hosts.authentic && ips.authentic) {
			int d = dane_records(s, h->name, port, &tlsa, why, sizeof(why));
			if (d < 0) {
				res_set(r, false, "4.7.5", "%s", why);
				continue;
			}
			for (size_t i = 0; d > 0 && i < tlsa->nrr && ntrec < 16; i++) {
				const mox_dns_rr *rr = &tlsa->rr[i];
				if (rr->type != MOX_DNS_TLSA)
					continue;
				trec[ntrec++] = (queue_smtp_tlsa){
				    rr->u.tlsa.usage, rr->u.tlsa.selector,
				    rr->u.tlsa.matching_type, rr->u.tlsa.data,
				    rr->u.tlsa.len};
			}
			if (ntrec > 0)
				mode =
				    QUEUE_TLS_DANE; /* RFC 8461 section 2: DANE first */
		}
		if (m->requiretls == QUEUE_REQUIRETLS_YES &&
		    mode == QUEUE_TLS_OPPORTUNISTIC)
			mode = QUEUE_TLS_PKIX; /* RFC 8689 section 4.2.1 */
		bool done = false;
		for (size_t ii = 0; ii < ips.n && !done; ii++) {
			queue_smtp_req rq;
			req_common(s, m, data, len, &rq);
			rq.host = h->name;
			rq.ip = ips.ip[ii].text;
			rq.port = port;
			rq.tls = mode;
			rq.tlsa = trec;
			rq.ntlsa = ntrec;
			queue_smtp_res sr;
			queue_log(s, "debug",
			          "msgid %lld: delivering to %s [%s]:%u tls %d",
			          (long long)m->id, h->name, rq.ip, port, (int)mode);
			queue_smtp_deliver(&rq, &sr);
			if (sr.connected)
				add_dialed(m, h->name, rq.ip);
			if (!sr.ok && sr.bad_tls && mode == QUEUE_TLS_OPPORTUNISTIC) {
				/* RFC 7435 section 6.2, as mox: once more in
				 * plain text. */
				rq.tls = QUEUE_TLS_SKIP;
				queue_smtp_deliver(&rq, &sr);
			}
			smtp_to_result(&sr, r);
			snprintf(r->remote_mta, sizeof(r->remote_mta), "%s", h->name);
			/* A connection that failed: next address. */
			done = sr.connected;
		}
		mox_dns_answer_free(tlsa);
		if (r->ok || r->permanent)
			break;
	}
	mox_mtasts_policy_free(policy);
}

static void
deliver_smarthost(const queue_settings *s, queue_msg *m, const queue_smarthost *t,
                  const uint8_t *data, size_t len, result *r)
{
	queue_host h = {0};
	snprintf(h.name, sizeof(h.name), "%s", t->host);
	h.is_ip = strspn(t->host, "0123456789.") == strlen(t->host) ||
	          strchr(t->host, ':') != NULL;
	queue_ips ips;
	char why[400];
	if (queue_hosts_ips(s->resolver, &h, NULL, &ips, why, sizeof(why)) !=
	    QUEUE_OK) {
		res_set(r, false, "4.4.3", "smarthost %s: %s", t->host, why);
		return;
	}
	res_set(r, false, "4.4.1", "smarthost %s could not be reached", t->host);
	for (size_t i = 0; i < ips.n; i++) {
		queue_smtp_req rq;
		req_common(s, m, data, len, &rq);
		rq.host = t->host;
		rq.ip = ips.ip[i].text;
		rq.port = t->port != 0 ? t->port : (t->implicit_tls ? 465 : 587);
		rq.tls = t->implicit_tls        ? QUEUE_TLS_IMPLICIT
		         : t->starttls_optional ? QUEUE_TLS_OPPORTUNISTIC
		                                : QUEUE_TLS_PKIX;
		rq.tls_insecure = t->tls_insecure;
		rq.username = t->username;
		rq.password = t->password;
		queue_smtp_res sr;
		queue_smtp_deliver(&rq, &sr);
		smtp_to_result(&sr, r);
		snprintf(r->remote_mta, sizeof(r->remote_mta), "%s", t->host);
		if (sr.connected)
			break;
	}
}

static int64_t
jitter(const queue_settings *s)
{
	if (s->no_jitter)
		return 0;
	return (int64_t)(random64() % (2 * QUEUE_BACKOFF_JITTER_MS + 1)) -
	       QUEUE_BACKOFF_JITTER_MS;
}

queue_outcome
queue_deliver(const queue_settings *s, queue_store *qs, queue_msg *m)
{
	char err[512];
	int64_t first =
	    s->backoff_first_ms > 0 ? s->backoff_first_ms : QUEUE_BACKOFF_FIRST_MS;
	int64_t now = queue_now(s);
	mox_err e = queue_store_attempt_begin(
	    qs, m, now, queue_backoff_ms(m->attempts + 1, first, jitter(s)), err,
	    sizeof(err));
	if (e == MOX_ENOTFOUND)
		return QUEUE_GONE;
	if (e != MOX_OK) {
		queue_log(s, "error", "msgid %lld: registering attempt: %s",
		          (long long)m->id, err);
		return QUEUE_RETRY;
	}

	result r;
	memset(&r, 0, sizeof(r));
	uint8_t *data = NULL;
	size_t len = 0;
	if (queue_store_read_message(qs, m, &data, &len, err, sizeof(err)) != MOX_OK) {
		res_set(&r, false, "4.3.0", "reading queued message: %s", err);
	} else if (s->is_local != NULL && s->deliver_local != NULL &&
	           s->is_local(s->local_arg, m->recipient_domain)) {
		char why[400] = "";
		int lr = s->deliver_local(s->local_arg, m, data, len, why, sizeof(why));
		if (lr == QUEUE_LOCAL_OK)
			r.ok = true;
		else
			res_set(&r, lr == QUEUE_LOCAL_PERMANENT, NULL,
			        "local delivery: %s", why);
	} else if (m->transport[0] != '\0') {
		const queue_smarthost *t = NULL;
		for (size_t i = 0; i < s->ntransports && t == NULL; i++)
			if (strcmp(s->transports[i].name, m->transport) == 0)
				t = &s->transports[i];
		if (t == NULL)
			res_set(&r, false, "4.3.5", "unknown transport %s",
			        m->transport);
		else
			deliver_smarthost(s, m, t, data, len, &r);
	} else {
		deliver_direct(s, m, data, len, &r);
	}
	free(data);

	if (r.ok) {
		queue_log(s, "info", "msgid %lld: delivered to %s", (long long)m->id,
		          m->recipient);
		if (queue_store_remove(qs, m->id, err, sizeof(err)) != MOX_OK)
			queue_log(s, "error", "msgid %lld: removing after delivery: %s",
			          (long long)m->id, err);
		return QUEUE_DELIVERED;
	}
	unsigned max = m->max_attempts != 0   ? m->max_attempts
	               : s->max_attempts != 0 ? s->max_attempts
	                                      : QUEUE_MAX_ATTEMPTS_DEFAULT;
	if (r.permanent || m->attempts >= max) {
		queue_log(s, "error", "msgid %lld: permanent failure for %s: %s",
		          (long long)m->id, m->recipient, r.text);
		if (!r.permanent && r.status[0] == '4')
			r.status[0] = '5';
		if (queue_dsn_queue(s, qs, m, QUEUE_DSN_FAILED, r.status, r.remote_mta,
		                    r.text, 0, err, sizeof(err)) != MOX_OK)
			queue_log(s, "error", "msgid %lld: queueing DSN: %s",
			          (long long)m->id, err);
		if (queue_store_remove(qs, m->id, err, sizeof(err)) != MOX_OK)
			queue_log(s, "error", "msgid %lld: removing after failure: %s",
			          (long long)m->id, err);
		return QUEUE_FAILED;
	}
	free(m->last_error);
	m->last_error = strdup(r.text);
	if (m->last_error == NULL)
		abort();
	unsigned delay_at =
	    s->delay_dsn_attempt != 0 ? s->delay_dsn_attempt : QUEUE_DELAY_DSN_ATTEMPT;
	if (m->attempts >= delay_at && !m->delay_dsn_sent) {
		int64_t until = m->last_attempt;
		for (unsigned a = m->attempts; a < max; a++)
			until += queue_backoff_ms(a, first, 0);
		if (queue_dsn_queue(s, qs, m, QUEUE_DSN_DELAYED, r.status, r.remote_mta,
		                    r.text, until, err, sizeof(err)) != MOX_OK)
			queue_log(s, "error", "msgid %lld: queueing delay DSN: %s",
			          (long long)m->id, err);
		m->delay_dsn_sent = true;
	}
	queue_log(s, "info", "msgid %lld: temporary failure for %s (attempt %u): %s",
	          (long long)m->id, m->recipient, m->attempts, r.text);
	if (queue_store_attempt_fail(qs, m, err, sizeof(err)) != MOX_OK)
		queue_log(s, "error", "msgid %lld: storing error: %s", (long long)m->id,
		          err);
	return QUEUE_RETRY;
}
