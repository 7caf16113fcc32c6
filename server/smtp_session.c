/* SMTP sessions of mox serve and mox localserve: the sans-IO core of
 * libmoxsmtp driven by the libuv connection (server/net.c), delivering
 * into accounts through libmoxstore after the inbound analysis of
 * server/analysis.c. What differs between the two servers comes through
 * the environment (env.h): logins, recipients' destinations, and the
 * submission path (serve queues submitted mail through server/submit.c,
 * localserve delivers it locally as mox localserve does).
 *
 * How this works: input goes to the core (what it cannot take yet waits
 * in pending); pump() takes events until the core needs more input or an
 * answer, and writes its output. Message data is kept in memory up to
 * SPOOL_MEM_MAX, larger messages go to an unlinked file in the data
 * directory (bounded by the core's message size limit), mapped for the job.
 * At the end of the data, one job on the libuv thread pool (DESIGN.md:
 * blocking work off the loop) runs the analysis (iprev, SPF, DKIM, DMARC:
 * plain SMTP only), decides, writes the header fields we add and the
 * message to a staged file, fsyncs and delivers it; only after the commit
 * the core answers 250 (DESIGN.md "Nothing lost"). A timer fires at the
 * core's deadline.
 *
 * The header fields, in mox's order and form: on plain SMTP
 * Delivered-To (RFC 9228), Return-Path (RFC 5321 section 4.4),
 * Authentication-Results (RFC 8601), Received-SPF (RFC 7208 section 9.1),
 * then Received (RFC 5321 section 4.4); on submission Received, then
 * Authentication-Results with auth=pass. One copy is stored per distinct
 * destination (account and mailbox) of the transaction's recipients (mox
 * stores one per recipient), with "for" and Delivered-To naming the first
 * recipient delivered to, and "for" left out when there are several.
 *
 * mox serve: a recipient without a destination in domains.conf (address,
 * or the domain's catchall) is refused at RCPT TO with 550 5.1.1.
 * mox localserve: every address is accepted, and recipient local parts
 * ending in "temperror" (451), "permerror" (550), a code 400-599, or
 * "timeout" (no answer for an hour) fail the delivery; with a local part
 * starting with "mailfrom" or "rcptto" the failure comes at MAIL FROM or
 * RCPT TO instead of after the data. Messages pass the same checks as in
 * mox serve: a DMARC fail with a reject policy is refused with 550 5.7.26
 * on the SMTP listener (as mox, localserve "accepts all messages if checks
 * pass"), and the message is kept in the Rejects mailbox as mox does. */
#include "analysis.h"
#include "env.h"
#include "fdio.h"

#include <mox/message.h>
#include <mox/smtp.h>
#include <mox/store.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* mox localserve's "timeout" local parts: no answer for an hour. */
#define HANG_MS (3600 * 1000)

/* Message data above this goes to a file instead of memory, so 50
 * sessions receiving 100 MB messages don't hold 5 GB. */
#define SPOOL_MEM_MAX (1024 * 1024)

/* The message being received: in memory, or in an unlinked file once it
 * grows past SPOOL_MEM_MAX. view/viewlen is the whole message for the job
 * (the memory, or a read-only mapping of the file). */
typedef struct spool {
	mox_buf mem;
	int fd;
	size_t len;
	void *map;
	const uint8_t *view;
	size_t viewlen;
} spool;

static void
spool_reset(spool *sp)
{
	if (sp->map != NULL)
		munmap(sp->map, sp->viewlen);
	if (sp->fd >= 0)
		close(sp->fd);
	mox_buf_reset(&sp->mem);
	sp->fd = -1;
	sp->len = 0;
	sp->map = NULL;
	sp->view = NULL;
	sp->viewlen = 0;
}

/* Append data; 0 or -1 (out of memory or disk: the message is lost, the
 * client gets a temporary error). */
static int
spool_append(spool *sp, const char *dir, const uint8_t *data, size_t len)
{
	if (sp->fd < 0 && sp->mem.len + len <= SPOOL_MEM_MAX) {
		if (mox_buf_append(&sp->mem, data, len) != MOX_OK)
			return -1;
		sp->len += len;
		return 0;
	}
	if (sp->fd < 0) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/.smtp-spool-XXXXXX", dir);
		sp->fd = mkstemp(path);
		if (sp->fd < 0)
			return -1;
		unlink(path);
		if (fdio_write_all(sp->fd, sp->mem.data, sp->mem.len) != 0)
			return -1;
		mox_buf_free(&sp->mem);
	}
	if (fdio_write_all(sp->fd, data, len) != 0)
		return -1;
	sp->len += len;
	return 0;
}

/* Make view/viewlen the whole message. 0 or -1. */
static int
spool_view(spool *sp)
{
	if (sp->fd < 0) {
		sp->view = sp->mem.data != NULL ? sp->mem.data : (const uint8_t *)"";
		sp->viewlen = sp->mem.len;
		return 0;
	}
	void *m = mmap(NULL, sp->len, PROT_READ, MAP_PRIVATE, sp->fd, 0);
	if (m == MAP_FAILED)
		return -1;
	sp->map = m;
	sp->view = m;
	sp->viewlen = sp->len;
	return 0;
}

/* The analysis context shared by all sessions (made with the listeners). */
static analysis_env *aenv;

typedef struct rcpt {
	char addr[MOX_SMTP_LOCALPART_MAX + MOX_SMTP_DOMAIN_MAX + 8];
	char local[MOX_SMTP_LOCALPART_MAX + 1];
	mox_store *store; /* destination (plain SMTP and localserve) */
	char mailbox[256];
} rcpt;

typedef struct session {
	conn *c;
	server_env *env;
	int kind;
	mox_smtp_conn *smtp;
	mox_buf pending;          /* input the core could not take yet */
	uv_timer_t timer;
	bool timer_on;
	bool hang;                /* a "timeout" local part: no answer yet */
	spool msg;                /* message being received */
	bool msg_bad;             /* out of memory while receiving */
	char peer[64], local[64]; /* copies: the conn may go first */
	bool ehlo;
	bool smtputf8;
	char helo[256];
	char helo_domain[256];
	bool nullsender;
	char mailfrom[MOX_SMTP_LOCALPART_MAX + MOX_SMTP_DOMAIN_MAX + 8];
	char mailfrom_domain[MOX_SMTP_DOMAIN_MAX + 1];
	rcpt *rcpts;
	size_t nrcpt, rcptcap;
	char tls_comment[128];    /* "(TLS1.2 TLS_ECDHE_...)" or "" */
	bool tls;                 /* at the end of the data: the job reads these
				     copies, not the conn or the core */
	uint64_t cid;             /* the connection id, for logs */
	bool authed;
	mox_store *auth_store;    /* the authenticated account */
	char account[128];
	uv_work_t work;           /* analysis and delivery on the thread pool */
	bool delivering;
	bool gone;                /* connection closed */
	bool timer_closed;
	/* Results of the job. */
	int reply_code;           /* 0: deliver succeeded, 250 */
	int reply_se;
	char reply_text[512];
	bool job_hang;
	uint32_t uid;
	const char *mailbox;
} session;

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pump(session *s);

static void
session_free(session *s)
{
	spool_reset(&s->msg);
	mox_buf_free(&s->msg.mem);
	mox_smtp_conn_free(s->smtp);
	mox_buf_free(&s->pending);
	free(s->rcpts);
	free(s);
}

static void
flush(session *s)
{
	size_t n;
	const uint8_t *out = mox_smtp_conn_output(s->smtp, &n);
	if (n > 0) {
		conn_write(s->c, out, n);
		mox_smtp_conn_output_consume(s->smtp, n);
	}
}

static void
on_timer(uv_timer_t *t)
{
	session *s = t->data;
	s->timer_on = false;
	if (s->hang && !s->gone) {
		/* mox: after the hour, a temporary error. */
		s->hang = false;
		spool_reset(&s->msg);
		mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
				    "timing out due to special localpart");
	}
	pump(s);
}

static void
arm_timer(session *s)
{
	if (s->hang) {
		uv_timer_start(&s->timer, on_timer, HANG_MS, 0);
		s->timer_on = true;
		return;
	}
	int64_t d = mox_smtp_conn_deadline(s->smtp);
	if (d == INT64_MAX)
		return;
	int64_t wait = d - now_ms();
	uv_timer_start(&s->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
	s->timer_on = true;
}

static void
reset_transaction(session *s)
{
	spool_reset(&s->msg);
	s->msg_bad = false;
	s->nrcpt = 0;
	s->mailfrom[0] = '\0';
	s->mailfrom_domain[0] = '\0';
	s->nullsender = false;
}

/* mox localserve: what a local part asks for, by its end: "temperror"
 * 451, "permerror" 550, "timeout" no answer, or a code 400-599 in its last
 * three characters. 0 for an ordinary local part. */
static int
special_code(const char *lp, bool *timeout)
{
	size_t n = strlen(lp);
	*timeout = false;
	if (n >= 9 && strcmp(lp + n - 9, "temperror") == 0)
		return 451;
	if (n >= 9 && strcmp(lp + n - 9, "permerror") == 0)
		return 550;
	if (n >= 7 && strcmp(lp + n - 7, "timeout") == 0) {
		*timeout = true;
		return 0;
	}
	if (n < 3)
		return 0;
	const char *d = lp + n - 3;
	for (int i = 0; i < 3; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	int v = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	return v >= 400 && v <= 599 ? v : 0;
}

/* Answer MAIL or RCPT for a "mailfrom..."/"rcptto..." local part; true
 * when it did (error reply or hang). */
static bool
special_now(session *s, const char *lp, const char *prefix)
{
	if (!s->env->localserve)
		return false;
	if (strncmp(lp, prefix, strlen(prefix)) != 0)
		return false;
	bool timeout;
	int code = special_code(lp, &timeout);
	if (timeout) {
		mlog("info", s->cid, "timing out command due to special localpart");
		s->hang = true;
		return true;
	}
	if (code == 0)
		return false;
	mlog("info", s->cid, "failure due to special localpart code=%d", code);
	char text[96];
	snprintf(text, sizeof(text), "failure with code %d due to special localpart", code);
	mox_smtp_conn_reply(s->smtp, code, MOX_SMTP_SE_OTHER, text);
	return true;
}

/* A path as text without angle brackets: "local@domain" (ASCII domain
 * unless utf8). */
static void
path_text(const mox_smtp_path *p, bool utf8, char *out, size_t n)
{
	mox_buf b = MOX_BUF_INIT;
	out[0] = '\0';
	if (mox_smtp_path_format(p, utf8, &b) == MOX_OK && b.data != NULL) {
		const char *t = (const char *)b.data;
		size_t l = b.len;
		if (l >= 2 && t[0] == '<' && t[l - 1] == '>') {
			t++;
			l -= 2;
		}
		snprintf(out, n, "%.*s", (int)l, t);
	}
	mox_buf_free(&b);
}

/* ---- the header fields we add ---- */

/* An address literal for the Received header: "[192.0.2.1]",
 * "[IPv6:2001:db8::1]" (RFC 5321 section 4.1.3). */
static void
addr_literal(char *out, size_t n, const char *ip)
{
	snprintf(out, n, strchr(ip, ':') != NULL ? "[IPv6:%s]" : "[%s]", ip);
}

/* The TLS comment mox adds to Received: "(TLS1.2 TLS_ECDHE_...)", with the
 * IANA cipher suite name (mbedTLS names them with '-'). */
static void
tls_comment(session *s)
{
	s->tls_comment[0] = '\0';
	s->tls = mox_smtp_conn_tls(s->smtp);
	if (!s->c->tls_on)
		return;
	const char *v = mbedtls_ssl_get_version(&s->c->tls.ssl);
	const char *cs = mbedtls_ssl_get_ciphersuite(&s->c->tls.ssl);
	if (v == NULL || cs == NULL)
		return;
	char ver[32];
	snprintf(ver, sizeof(ver), "%s", v);
	if (strncmp(ver, "TLSv", 4) == 0) /* "TLSv1.2" -> "TLS1.2", as mox */
		memmove(ver + 3, ver + 4, strlen(ver + 4) + 1);
	snprintf(s->tls_comment, sizeof(s->tls_comment), "(%s %s)", ver, cs);
	for (char *p = s->tls_comment; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* Received (RFC 5321 section 4.4, RFC 3848 "with" values, RFC 6531
 * section 3.7.3 UTF8SMTP), folded as mox's header writer does. */
static mox_err
write_received(session *s, mox_buf *out, const char *rdns, const char *for_addr)
{
	char from[600], by[128], lit[80];
	if (s->kind != ENV_SMTP) {
		/* Submission: mox hides the client's host and address. */
		snprintf(from, sizeof(from), "%s", s->env->hostname);
	} else {
		addr_literal(lit, sizeof(lit), s->peer);
		const char *h = s->helo_domain[0] != '\0' ? s->helo_domain : s->helo;
		if (rdns[0] != '\0' && strcmp(rdns, h) != 0)
			snprintf(from, sizeof(from), "%s (%s %s)", h[0] ? h : "unknown", rdns, lit);
		else
			snprintf(from, sizeof(from), "%s (%s)", h[0] ? h : "unknown", lit);
	}
	addr_literal(lit, sizeof(lit), s->local);
	snprintf(by, sizeof(by), "%s (%s)", s->env->hostname, lit);
	char with[16];
	snprintf(with, sizeof(with), "%s%s%s",
		 s->smtputf8 ? "UTF8SMTP" : s->ehlo ? "ESMTP" : "SMTP",
		 s->tls ? "S" : "", s->authed ? "A" : "");
	char id[32];
	snprintf(id, sizeof(id), "%llx", (unsigned long long)s->cid);
	analysis_hw w;
	memset(&w, 0, sizeof(w));
	w.b = out;
	const char *tokens[] = {"Received:", "from", from, "by", by, "via", "tcp", "with", with, "id"};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		analysis_hw_add(&w, " ", tokens[i]);
	/* The ";" before the date (RFC 5321 section 4.4 Stamp) goes after the
	 * last clause. */
	char last[600];
	bool have_for = for_addr != NULL && for_addr[0] != '\0';
	snprintf(last, sizeof(last), "%s%s", id, !have_for && !s->tls_comment[0] ? ";" : "");
	analysis_hw_add(&w, " ", last);
	if (s->tls_comment[0] != '\0') {
		char t[140];
		snprintf(t, sizeof(t), "%s%s", s->tls_comment, have_for ? "" : ";");
		analysis_hw_add(&w, " ", t);
	}
	if (have_for) {
		snprintf(last, sizeof(last), "<%s>;", for_addr);
		analysis_hw_add(&w, " ", "for");
		analysis_hw_add(&w, " ", last);
	}
	mox_buf date = MOX_BUF_INIT;
	time_t t = time(NULL);
	struct tm lt, gt;
	localtime_r(&t, &lt);
	gmtime_r(&t, &gt);
	/* Our UTC offset in minutes, without the non-standard tm_gmtoff. */
	int off = (lt.tm_hour - gt.tm_hour) * 60 + (lt.tm_min - gt.tm_min);
	if (lt.tm_year != gt.tm_year)
		off += lt.tm_year > gt.tm_year ? 1440 : -1440;
	else if (lt.tm_yday != gt.tm_yday)
		off += lt.tm_yday > gt.tm_yday ? 1440 : -1440;
	mox_err err = mox_msg_write_date(&date, t, off);
	if (err == MOX_OK)
		analysis_hw_add(&w, " ", (const char *)date.data);
	mox_buf_free(&date);
	if (err == MOX_OK)
		err = analysis_hw_end(&w);
	return err;
}

/* ---- the job on the thread pool ---- */

/* Store prefix + message in mailbox. */
static mox_err
store_message(session *s, mox_store *store, const mox_buf *prefix, const char *mailbox,
	      char *why, size_t whylen)
{
	return env_store_message(store, mailbox, prefix->data, prefix->len, s->msg.view,
				 s->msg.viewlen, &s->uid, why, whylen);
}

static void
set_reply(session *s, int code, int se, const char *text)
{
	s->reply_code = code;
	s->reply_se = se;
	snprintf(s->reply_text, sizeof(s->reply_text), "%s", text);
}

/* Submission (mox's submit): special local parts end the transaction at
 * the first one; else Received and Authentication-Results auth=pass. */
/* Store one copy per distinct destination (account store and mailbox) of
 * the recipients for which ok(i) holds; mox stores one per recipient, but
 * a transaction's recipients are often the same account. */
static mox_err
store_copies(session *s, const mox_buf *prefix, const bool *ok, char *why, size_t whylen)
{
	mox_err err = MOX_OK;
	for (size_t i = 0; i < s->nrcpt && err == MOX_OK; i++) {
		if (ok != NULL && !ok[i])
			continue;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = (ok == NULL || ok[j]) && s->rcpts[j].store == s->rcpts[i].store &&
			      strcmp(s->rcpts[j].mailbox, s->rcpts[i].mailbox) == 0;
		if (dup)
			continue;
		err = store_message(s, s->rcpts[i].store, prefix, s->rcpts[i].mailbox, why,
				    whylen);
		s->mailbox = s->rcpts[i].mailbox;
	}
	return err;
}

/* Submission under mox serve: hand the message to the queue. */
static void
job_submit_queue(session *s)
{
	mox_buf prefix = MOX_BUF_INIT;
	mox_err err = write_received(s, &prefix, "", s->nrcpt == 1 ? s->rcpts[0].addr : NULL);
	if (err == MOX_OK)
		err = analysis_authres_auth(s->env->hostname, s->nullsender ? "" : s->mailfrom,
					    &prefix);
	const char **to = calloc(s->nrcpt ? s->nrcpt : 1, sizeof(*to));
	char why[256] = "";
	int rc = -1, code = 451, se = MOX_SMTP_SE_SYS_OTHER;
	if (err == MOX_OK && to != NULL) {
		for (size_t i = 0; i < s->nrcpt; i++)
			to[i] = s->rcpts[i].addr;
		env_submission sub;
		memset(&sub, 0, sizeof(sub));
		sub.account = s->account;
		sub.mailfrom = s->nullsender ? "" : s->mailfrom;
		sub.rcpts = to;
		sub.nrcpt = s->nrcpt;
		sub.smtputf8 = s->smtputf8;
		sub.ehlo = s->ehlo;
		sub.tls = s->tls;
		sub.tls_comment = s->tls_comment;
		sub.local_ip = s->local;
		sub.prefix = prefix.data;
		sub.prefix_len = prefix.len;
		sub.data = s->msg.view;
		sub.len = s->msg.viewlen;
		sub.cid = s->cid;
		rc = s->env->submit(s->env, &sub, &code, &se, why, sizeof(why));
	}
	free(to);
	mox_buf_free(&prefix);
	s->mailbox = "(queue)";
	if (rc != 0) {
		mlog(code >= 500 ? "info" : "error", s->cid, "submission refused code=%d %s", code,
		     why[0] ? why : "out of memory");
		set_reply(s, code, se, why[0] ? why : "error queueing message, try again later");
	}
}

static void
job_submission(session *s)
{
	if (s->env->submit != NULL && !s->env->localserve) {
		job_submit_queue(s);
		return;
	}
	for (size_t i = 0; i < s->nrcpt; i++) {
		bool timeout;
		int code = special_code(s->rcpts[i].local, &timeout);
		if (timeout) {
			s->job_hang = true;
			return;
		}
		if (code != 0) {
			char t[96];
			snprintf(t, sizeof(t), "failure with code %d due to special localpart", code);
			set_reply(s, code, MOX_SMTP_SE_OTHER, t);
			return;
		}
	}
	mox_buf prefix = MOX_BUF_INIT;
	mox_err err = write_received(s, &prefix, "", s->nrcpt == 1 ? s->rcpts[0].addr : NULL);
	if (err == MOX_OK)
		err = analysis_authres_auth(s->env->hostname, s->nullsender ? "" : s->mailfrom,
					    &prefix);
	char why[256] = "";
	if (err == MOX_OK)
		err = store_copies(s, &prefix, NULL, why, sizeof(why));
	mox_buf_free(&prefix);
	if (err != MOX_OK) {
		mlog("error", s->cid, "delivery failed: %s", why[0] ? why : mox_strerror(err));
		set_reply(s, 451, MOX_SMTP_SE_SYS_OTHER, "error storing message, try again later");
	}
}

/* Plain SMTP (mox's deliver): analysis, then per recipient the DMARC
 * policy and the special local parts, then one stored copy. */
static void
job_delivery(session *s)
{
	analysis_out ao;
	analysis_in in;
	memset(&in, 0, sizeof(in));
	in.ip = s->peer;
	in.helo = s->helo;
	in.helo_domain = s->helo_domain;
	in.mailfrom = s->nullsender ? "" : s->mailfrom;
	in.mailfrom_domain = s->nullsender ? "" : s->mailfrom_domain;
	in.msg = s->msg.view;
	in.len = s->msg.viewlen;
	in.cid = s->cid;
	if (aenv != NULL) {
		analysis_run(aenv, &in, &ao);
	} else {
		/* No resolver: record that nothing could be checked. */
		memset(&ao, 0, sizeof(ao));
		ao.iprev = "temperror";
		analysis_hw w;
		memset(&w, 0, sizeof(w));
		w.b = &ao.authres;
		char ar[300];
		snprintf(ar, sizeof(ar), "Authentication-Results: %s;", s->env->hostname);
		analysis_hw_add(&w, "", ar);
		analysis_hw_newline(&w);
		analysis_hw_add(&w, "", "none");
		analysis_hw_end(&w);
	}
	mlog("info", s->cid,
	     "analysis iprev=%s spf=%s dkim=%zu/%zu dmarc=%s fromdomain=%s dmarcreject=%d",
	     ao.iprev, mox_spf_result_name(ao.spf), ao.dkim_pass, ao.dkim_total,
	     mox_dmarc_status_name(ao.dmarc), ao.from_domain, ao.dmarc_reject);

	/* Who gets it. RFC 7489 section 6.6.4 / mox: a DMARC reject applies
	 * to every recipient; else the special local parts (mox localserve). */
	size_t first_ok = s->nrcpt;
	int ecode = 0, ese = MOX_SMTP_SE_OTHER;
	bool same = true, hang = false;
	size_t nerr = 0;
	mox_buf errs = MOX_BUF_INIT;
	bool *okv = calloc(s->nrcpt ? s->nrcpt : 1, sizeof(*okv));
	for (size_t i = 0; i < s->nrcpt; i++) {
		int code = 0, se = MOX_SMTP_SE_OTHER;
		char text[96];
		bool timeout = false;
		if (ao.dmarc_reject) {
			code = 550;
			se = MOX_SMTP_SE_POL_MULTIPLE_AUTH; /* RFC 7372 section 3.2 */
			snprintf(text, sizeof(text), "rejecting per dmarc policy");
		} else if (!s->env->localserve) {
			code = 0;
			text[0] = '\0';
		} else {
			code = special_code(s->rcpts[i].local, &timeout);
			snprintf(text, sizeof(text), "failure with code %d due to special localpart",
				 code);
		}
		if (timeout) {
			hang = true;
			break;
		}
		if (code == 0) {
			if (first_ok == s->nrcpt)
				first_ok = i;
			if (okv != NULL)
				okv[i] = true;
			continue;
		}
		if (nerr > 0 && (code != ecode || se != ese))
			same = false;
		if (nerr == 0) {
			ecode = code;
			ese = se;
		}
		mox_buf_appendf(&errs, "%s%s", nerr > 0 ? "\n" : "", text);
		nerr++;
	}
	char why[256] = "";
	mox_err err = MOX_OK;
	if (hang) {
		s->job_hang = true;
	} else {
		/* The prefix, mox's order (mox smtpserver deliver): Delivered-To,
		 * Return-Path, Authentication-Results, Received-SPF, Received.
		 * A rejected message goes to Rejects (mox's RejectsMailbox). */
		bool deliver = first_ok < s->nrcpt || ao.dmarc_reject;
		const char *to = first_ok < s->nrcpt ? s->rcpts[first_ok].addr
			       : s->nrcpt > 0        ? s->rcpts[0].addr
						     : "";
		mox_buf prefix = MOX_BUF_INIT;
		if (deliver) {
			mox_buf_appendf(&prefix, "Delivered-To: %s\r\nReturn-Path: <%s>\r\n", to,
					s->nullsender ? "" : s->mailfrom);
			if (ao.authres.len > 0)
				mox_buf_append(&prefix, ao.authres.data, ao.authres.len);
			if (ao.received_spf.len > 0)
				mox_buf_append(&prefix, ao.received_spf.data, ao.received_spf.len);
			err = prefix.data == NULL ? MOX_ENOMEM : MOX_OK;
			if (err == MOX_OK)
				err = write_received(s, &prefix, ao.rdns,
						     s->nrcpt - nerr == 1 || ao.dmarc_reject ? to
											 : NULL);
			if (okv == NULL) {
				err = MOX_ENOMEM;
			} else if (ao.dmarc_reject) {
				/* One copy in the first recipient's Rejects. */
				s->mailbox = "Rejects";
				if (err == MOX_OK && s->nrcpt > 0)
					err = store_message(s, s->rcpts[0].store, &prefix,
							    "Rejects", why, sizeof(why));
			} else if (err == MOX_OK) {
				err = store_copies(s, &prefix, okv, why, sizeof(why));
			}
		}
		mox_buf_free(&prefix);
		if (err != MOX_OK && !ao.dmarc_reject) {
			mlog("error", s->cid, "delivery failed: %s",
			     why[0] ? why : mox_strerror(err));
			set_reply(s, 451, MOX_SMTP_SE_SYS_OTHER,
				  "error storing message, try again later");
		} else if (nerr > 0 && nerr == s->nrcpt) {
			/* All failed: one reply, as mox. */
			if (same) {
				set_reply(s, ecode, ese, errs.data != NULL ? (const char *)errs.data : "");
			} else {
				set_reply(s, ecode >= 500 ? 554 : 451, MOX_SMTP_SE_SYS_OTHER,
					  "multiple errors");
			}
		}
	}
	mox_buf_free(&errs);
	free(okv);
	analysis_out_free(&ao);
}

static void
deliver_work(uv_work_t *w)
{
	session *s = w->data;
	s->reply_code = 0;
	s->job_hang = false;
	s->uid = 0;
	s->mailbox = NULL;
	if (s->kind == ENV_SMTP)
		job_delivery(s);
	else
		job_submission(s);
}

static void
deliver_done(uv_work_t *w, int status)
{
	session *s = w->data;
	s->delivering = false;
	spool_reset(&s->msg);
	if (s->gone) {
		if (s->timer_closed)
			session_free(s);
		return;
	}
	if (status != 0) {
		mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
				    "error storing message, try again later");
	} else if (s->job_hang) {
		mlog("info", s->cid, "timing out delivery due to special localpart");
		s->hang = true;
	} else if (s->reply_code != 0) {
		mlog("info", s->cid, "delivery refused code=%d %s%s", s->reply_code,
		     s->reply_text, s->uid != 0 ? " (kept in Rejects)" : "");
		mox_smtp_conn_reply(s->smtp, s->reply_code, s->reply_se, s->reply_text);
	} else {
		if (s->uid != 0) /* 0: queued (env_submission) */
			mlog("info", s->cid, "delivered message mailbox=%s uid=%u",
			     s->mailbox != NULL ? s->mailbox : "", s->uid);
		mox_smtp_conn_accept(s->smtp);
	}
	s->nrcpt = 0;
	pump(s);
}

/* ---- events ---- */

static void
on_auth(session *s, const mox_smtp_event *ev)
{
	if (!conn_auth_allowed(s->c)) { /* failed-auth rate limit (net.h), as mox */
		mox_smtp_conn_reply(s->smtp, 421, MOX_SMTP_SE_POL_OTHER, "too many auth failures");
		return;
	}
	/* The account of the login name (env.h: under localserve any login
	 * is the one account, as mox localserve). An unknown login fails
	 * like a wrong password. */
	mox_store *store = NULL;
	char account[sizeof(s->account)] = "";
	if (ev->u.auth.authc == NULL ||
	    s->env->login(s->env, ev->u.auth.authc, &store, account, sizeof(account)) != 0)
		store = NULL;
	s->auth_store = store;
	snprintf(s->account, sizeof(s->account), "%s", account);
	if (ev->u.auth.need == MOX_SASL_CHECK_PASSWORD) {
		char pw[256];
		size_t n = ev->u.auth.password_len < sizeof(pw) - 1 ? ev->u.auth.password_len
								  : sizeof(pw) - 1;
		memcpy(pw, ev->u.auth.password, n);
		pw[n] = '\0';
		bool ok = false;
		if (store != NULL)
			mox_store_password_check(store, pw, &ok);
		mox_mem_wipe(pw, sizeof(pw));
		mox_smtp_conn_auth_verdict(s->smtp, ok);
		return;
	}
	mox_store_secrets st;
	memset(&st, 0, sizeof(st));
	bool have = store != NULL && mox_store_secrets_get(store, &st) == MOX_OK && st.set;
	if (ev->u.auth.need == MOX_SASL_NEED_PASSWORD) {
		/* CRAM-MD5 (RFC 2195) from the stored HMAC-MD5 inner and outer
		 * states (RFC 2104 section 4); the store never has the
		 * password. */
		const uint8_t *chal = NULL;
		size_t chal_len = 0;
		const char *digest = NULL;
		bool ok = have &&
			  mox_smtp_conn_auth_cram_md5(s->smtp, &chal, &chal_len, &digest) == MOX_OK &&
			  mox_store_cram_md5_verify(&st, chal, chal_len, digest);
		mox_mem_wipe(&st, sizeof(st));
		mox_smtp_conn_auth_verdict(s->smtp, ok);
		return;
	}
	/* SCRAM from the account's stored StoredKey and ServerKey (the store
	 * never keeps the password or SaltedPassword). */
	bool sha256 = ev->u.auth.mech == MOX_SASL_SCRAM_SHA_256 ||
		      ev->u.auth.mech == MOX_SASL_SCRAM_SHA_256_PLUS;
	mox_sasl_scram_secret sec;
	memset(&sec, 0, sizeof(sec));
	if (!have) {
		mox_mem_wipe(&st, sizeof(st));
		mox_smtp_conn_auth_scram(s->smtp, NULL); /* fails at the proof */
		return;
	}
	const mox_store_scram *k = sha256 ? &st.scram_sha256 : &st.scram_sha1;
	memcpy(sec.salt, k->salt, k->salt_len < sizeof(sec.salt) ? k->salt_len : sizeof(sec.salt));
	sec.salt_len = k->salt_len < sizeof(sec.salt) ? k->salt_len : sizeof(sec.salt);
	sec.iterations = k->iterations;
	memcpy(sec.stored_key, k->stored_key, sizeof(sec.stored_key));
	memcpy(sec.server_key, k->server_key, sizeof(sec.server_key));
	sec.keys_len = k->key_len;
	mox_mem_wipe(&st, sizeof(st));
	mox_smtp_conn_auth_scram(s->smtp, &sec);
	mox_mem_wipe(&sec, sizeof(sec));
}

static void
on_mail(session *s, const mox_smtp_event *ev)
{
	const mox_smtp_path *p = ev->u.mail.path;
	reset_transaction(s);
	s->smtputf8 = ev->u.mail.params->smtputf8;
	s->nullsender = p->null;
	if (!p->null) {
		path_text(p, false, s->mailfrom, sizeof(s->mailfrom));
		snprintf(s->mailfrom_domain, sizeof(s->mailfrom_domain), "%s", p->domain);
	}
	/* mox localserve: "mailfrom..." local parts fail here. */
	if (special_now(s, p->localpart, "mailfrom"))
		return;
	mox_smtp_conn_accept(s->smtp);
}

static void
on_rcpt(session *s, const mox_smtp_event *ev)
{
	const mox_smtp_path *p = ev->u.rcpt.path;
	/* mox localserve: "rcptto..." local parts fail here; others at the
	 * end of the data. */
	if (special_now(s, p->localpart, "rcptto"))
		return;
	if (s->nrcpt == s->rcptcap) {
		size_t ncap = s->rcptcap ? s->rcptcap * 2 : 4;
		rcpt *r = realloc(s->rcpts, ncap * sizeof(*r));
		if (r == NULL) {
			mox_smtp_conn_reply(s->smtp, 452, MOX_SMTP_SE_SYS_OTHER, "out of memory");
			return;
		}
		s->rcpts = r;
		s->rcptcap = ncap;
	}
	rcpt *r = &s->rcpts[s->nrcpt];
	path_text(p, s->smtputf8, r->addr, sizeof(r->addr));
	snprintf(r->local, sizeof(r->local), "%s", p->localpart);
	r->store = NULL;
	snprintf(r->mailbox, sizeof(r->mailbox), "Inbox");
	/* Plain SMTP (and everything under localserve) goes to a local
	 * account; submitted mail goes to the queue, which delivers local
	 * recipients itself. */
	if (s->kind == ENV_SMTP || s->env->submit == NULL || s->env->localserve) {
		char why[256] = "";
		env_dest d = s->env->destination(s->env, r->addr, &r->store, r->mailbox,
						 sizeof(r->mailbox), why, sizeof(why));
		if (d == ENV_DEST_UNKNOWN) {
			mlog("info", s->cid, "rcpt refused rcpt=%s why=\"%s\"", r->addr, why);
			/* RFC 3463 X.1.1 bad destination mailbox address. */
			mox_smtp_conn_reply(s->smtp, 550, MOX_SMTP_SE_ADDR_BAD_MAILBOX,
					    why[0] ? why : "no such user");
			return;
		}
		if (d != ENV_DEST_OK) {
			mlog("error", s->cid, "rcpt destination rcpt=%s error=\"%s\"", r->addr,
			     why);
			mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
					    "error looking up recipient, try again later");
			return;
		}
	}
	s->nrcpt++;
	mox_smtp_conn_accept(s->smtp);
}

static void
pump(session *s)
{
	if (s->gone)
		return;
	for (;;) {
		/* Give the core what it can take. */
		size_t room = mox_smtp_conn_input_room(s->smtp);
		if (s->pending.len > 0 && room > 0) {
			size_t n = s->pending.len < room ? s->pending.len : room;
			if (mox_smtp_conn_feed(s->smtp, s->pending.data, n) == MOX_OK)
				mox_buf_consume(&s->pending, n);
		}
		mox_smtp_event ev;
		mox_err err = mox_smtp_conn_next(s->smtp, now_ms(), &ev);
		size_t outn;
		mox_smtp_conn_output(s->smtp, &outn); /* EAGAIN may mean "drain output" */
		flush(s);
		if (err == MOX_EAGAIN) {
			size_t r = mox_smtp_conn_input_room(s->smtp);
			if ((s->pending.len > 0 && r > 0) || outn > 0)
				continue;
			break;
		}
		if (err != MOX_OK)
			break; /* ESTATE: an answer is pending (delivery, hang) */
		switch (ev.type) {
		case MOX_SMTP_EV_HELLO:
			snprintf(s->helo, sizeof(s->helo), "%s", ev.u.hello.name);
			snprintf(s->helo_domain, sizeof(s->helo_domain), "%s", ev.u.hello.domain);
			s->ehlo = ev.u.hello.ehlo;
			mox_smtp_conn_accept(s->smtp);
			break;
		case MOX_SMTP_EV_STARTTLS: {
			size_t n;
			const uint8_t *left = mox_smtp_conn_starttls_leftover(s->smtp, &n);
			if (conn_starttls_with(s->c, left, n) != 0) {
				conn_close(s->c);
				return;
			}
			mox_smtp_conn_starttls_done(s->smtp);
			break;
		}
		case MOX_SMTP_EV_AUTH:
			on_auth(s, &ev);
			break;
		case MOX_SMTP_EV_AUTH_RESULT:
			conn_auth_result(s->c, ev.u.auth_result.ok,
					 ev.u.auth_result.failure == MOX_SASL_FAIL_ABORTED);
			if (ev.u.auth_result.ok)
				s->authed = true;
			mlog("info", s->cid, "auth %s user=%s", ev.u.auth_result.ok ? "ok" : "failed",
			     ev.u.auth_result.authc ? ev.u.auth_result.authc : "");
			break;
		case MOX_SMTP_EV_MAIL:
			on_mail(s, &ev);
			break;
		case MOX_SMTP_EV_RCPT:
			on_rcpt(s, &ev);
			break;
		case MOX_SMTP_EV_DATA_BEGIN:
			spool_reset(&s->msg);
			s->msg_bad = false;
			break;
		case MOX_SMTP_EV_DATA:
			if (!s->msg_bad &&
			    spool_append(&s->msg, s->env->spool_dir, ev.u.data.data, ev.u.data.len) != 0) {
				s->msg_bad = true;
				spool_reset(&s->msg);
			}
			break;
		case MOX_SMTP_EV_DATA_END:
			if (s->msg_bad || spool_view(&s->msg) != 0) {
				s->msg_bad = false;
				spool_reset(&s->msg);
				mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
						    "error storing message");
				break;
			}
			tls_comment(s);
			s->delivering = true;
			s->work.data = s;
			if (uv_queue_work(s->env->loop, &s->work, deliver_work, deliver_done) != 0) {
				s->delivering = false;
				spool_reset(&s->msg);
				mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
						    "error storing message");
				break;
			}
			return; /* deliver_done pumps again */
		case MOX_SMTP_EV_DATA_ABORT:
		case MOX_SMTP_EV_RESET:
			reset_transaction(s);
			break;
		case MOX_SMTP_EV_CLOSE:
			flush(s);
			conn_close(s->c);
			return;
		}
	}
	if (s->timer_on)
		uv_timer_stop(&s->timer);
	s->timer_on = false;
	arm_timer(s);
}

typedef struct proto_arg {
	server_env *env;
	int kind;
} proto_arg;

static void *
session_open(conn *c, void *arg)
{
	proto_arg *pa = arg;
	if (atomic_load(&pa->env->stopping)) {
		/* Shutting down: come back later (RFC 5321 section 3.8). */
		static const char bye[] = "421 4.3.2 shutting down, try again later\r\n";
		conn_write(c, bye, sizeof(bye) - 1);
		return NULL;
	}
	session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->c = c;
	s->cid = c->id;
	s->env = pa->env;
	s->kind = pa->kind;
	snprintf(s->peer, sizeof(s->peer), "%s", c->peer);
	snprintf(s->local, sizeof(s->local), "%s", c->local);
	mox_buf_init(&s->pending, NULL);
	mox_buf_init(&s->msg.mem, NULL);
	s->msg.fd = -1;
	unsigned flags = MOX_SMTP_CONN_STARTTLS;
	if (pa->kind != ENV_SMTP)
		flags |= MOX_SMTP_CONN_SUBMISSION;
	if (pa->kind == ENV_SUBMISSIONS)
		flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS;
	mox_smtp_conn_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.hostname = pa->env->hostname;
	o.greeting = pa->env->localserve ? "ESMTP mox-c localserve" : "ESMTP mox-c";
	o.flags = flags;
	o.future_release_max = 60 * 86400;
	o.now_ms = now_ms();
	o.limits = pa->env->smtp_limits; /* MOX_LOCALSERVE_LIMITS timeouts */
	if (mox_smtp_conn_new(&s->smtp, &o) != MOX_OK) {
		mox_buf_free(&s->pending);
		free(s);
		return NULL;
	}
	uv_timer_init(pa->env->loop, &s->timer);
	s->timer.data = s;
	flush(s);
	arm_timer(s);
	return s;
}

static void
session_input(void *arg, const uint8_t *data, size_t len)
{
	session *s = arg;
	/* A client may pipeline; what the core cannot take now waits, but
	 * not without bound. */
	if (s->pending.len + len > (4u << 20)) {
		mlog("info", s->cid, "too much pipelined input, closing");
		conn_close(s->c);
		return;
	}
	if (mox_buf_append(&s->pending, data, len) != MOX_OK) {
		conn_close(s->c);
		return;
	}
	pump(s);
}

static void
timer_closed(uv_handle_t *h)
{
	session *s = h->data;
	s->timer_closed = true;
	if (!s->delivering)
		session_free(s);
}

static void
session_closed(void *arg)
{
	session *s = arg;
	s->gone = true;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, timer_closed);
}

static proto_arg args[3];
static proto protos[3];

const proto *
env_smtp_proto(server_env *e, int kind)
{
	if (aenv == NULL) {
		/* One analysis context for all listeners and workers. */
		static bool tried;
		char err[256];
		if (!tried && (aenv = analysis_env_new(e->hostname, err, sizeof(err))) == NULL)
			mlog("error", 0, "inbound analysis unavailable: %s", err);
		tried = true;
	}
	args[kind].env = e;
	args[kind].kind = kind;
	protos[kind].name = "smtp";
	protos[kind].open = session_open;
	protos[kind].input = session_input;
	protos[kind].closed = session_closed;
	protos[kind].arg = &args[kind];
	return &protos[kind];
}
