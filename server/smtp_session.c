/* localserve's SMTP sessions: the sans-IO core of libmoxsmtp driven by the
 * libuv connection (server/net.c), delivering into the account's Inbox
 * through libmoxstore.
 *
 * How this works: input goes to the core (what it cannot take yet waits
 * in pending); pump() takes events until the core needs more input or an
 * answer, and writes its output. Message data is streamed into a staged
 * file; at the end the file is fsynced and delivered on the libuv thread
 * pool (DESIGN.md: blocking work off the loop), and only after the commit
 * the core answers 250 (DESIGN.md "Nothing lost"). A timer fires at the
 * core's deadline. As mox localserve, every address is accepted, and some
 * recipient local parts make errors for testing: "temperror" (451),
 * "permerror" (550), and a three-digit code (e.g. "552@...") that reply. */
#include "localserve.h"

#include <mox/smtp.h>
#include <mox/store.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct session {
	conn *c;
	localserve *ls;
	int kind;
	mox_smtp_conn *smtp;
	mox_buf pending;          /* input the core could not take yet */
	uv_timer_t timer;
	bool timer_on;
	mox_store_msgfile *mf;    /* message being received */
	int fail_code;            /* a test recipient asked for this reply */
	char mailfrom[512];
	char helo[256];
	uv_work_t work;           /* delivery on the thread pool */
	bool delivering;
	bool gone;                /* connection closed */
	bool timer_closed;
	mox_err deliver_err;
	char deliver_msg[256];
	uint32_t uid;
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
	mox_store_msgfile_free(s->mf);
	mox_smtp_conn_free(s->smtp);
	mox_buf_free(&s->pending);
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
	pump(s);
}

static void
arm_timer(session *s)
{
	int64_t d = mox_smtp_conn_deadline(s->smtp);
	if (d == INT64_MAX)
		return;
	int64_t wait = d - now_ms();
	uv_timer_start(&s->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
	s->timer_on = true;
}

static void
drop_message(session *s)
{
	mox_store_msgfile_free(s->mf);
	s->mf = NULL;
}

/* The Received header field we put first (RFC 5321 section 4.4). */
static void
write_received(session *s)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	char line[1024];
	int n = snprintf(line, sizeof(line),
			 "Received: from %s ([%s])\r\n\tby localhost (mox-c localserve) with %s"
			 "\r\n\tid %llx; %s\r\n",
			 s->helo[0] ? s->helo : "unknown", s->c->peer,
			 mox_smtp_conn_tls(s->smtp) ? "ESMTPS" : "ESMTP",
			 (unsigned long long)s->c->id, date);
	if (n > 0 && (size_t)n < sizeof(line))
		mox_store_msgfile_write(s->mf, line, (size_t)n);
}

static void
deliver_work(uv_work_t *w)
{
	session *s = w->data;
	mox_errinfo info = {0};
	s->deliver_err = mox_store_msgfile_finish(s->mf);
	if (s->deliver_err == MOX_OK) {
		mox_store_deliver_opts o;
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.create_mailbox = true;
		mox_store_msginfo mi;
		memset(&mi, 0, sizeof(mi));
		s->deliver_err = mox_store_deliver(s->ls->store, "Inbox", s->mf, &o, &mi, &info);
		s->uid = mi.uid;
	}
	snprintf(s->deliver_msg, sizeof(s->deliver_msg), "%s",
		 info.msg[0] ? info.msg : mox_strerror(s->deliver_err));
}

static void
deliver_done(uv_work_t *w, int status)
{
	session *s = w->data;
	s->delivering = false;
	drop_message(s);
	if (s->gone) {
		if (s->timer_closed)
			session_free(s);
		return;
	}
	if (status != 0 || s->deliver_err != MOX_OK) {
		mlog("error", s->c->id, "delivery failed: %s", s->deliver_msg);
		mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
				    "error storing message, try again later");
	} else {
		mlog("info", s->c->id, "delivered message uid=%u", s->uid);
		mox_smtp_conn_accept(s->smtp);
	}
	pump(s);
}

static void
on_auth(session *s, const mox_smtp_event *ev)
{
	/* The account: "mox", "mox@localhost", or any address (mox
	 * localserve accepts any login with the account's password). */
	if (ev->u.auth.need == MOX_SASL_CHECK_PASSWORD) {
		char pw[256];
		size_t n = ev->u.auth.password_len < sizeof(pw) - 1 ? ev->u.auth.password_len
								  : sizeof(pw) - 1;
		memcpy(pw, ev->u.auth.password, n);
		pw[n] = '\0';
		bool ok = false;
		mox_store_password_check(s->ls->store, pw, &ok);
		mox_mem_wipe(pw, sizeof(pw));
		mox_smtp_conn_auth_verdict(s->smtp, ok);
		return;
	}
	/* CRAM-MD5: the core wants the cleartext password, which the store
	 * does not keep (it has the HMAC-MD5 states); localserve's password
	 * is fixed. todo: verify CRAM-MD5 from the stored states
	 * (mox_store_cram_md5_verify) for mox serve. */
	static const char pw[] = "moxmoxmox";
	if (ev->u.auth.need == MOX_SASL_NEED_PASSWORD) {
		mox_smtp_conn_auth_password(s->smtp, (const uint8_t *)pw, sizeof(pw) - 1);
		return;
	}
	/* SCRAM from the account's stored StoredKey and ServerKey (the store
	 * never keeps the password or SaltedPassword). */
	bool sha256 = ev->u.auth.mech == MOX_SASL_SCRAM_SHA_256 ||
		      ev->u.auth.mech == MOX_SASL_SCRAM_SHA_256_PLUS;
	mox_store_secrets st;
	mox_sasl_scram_secret sec;
	memset(&st, 0, sizeof(st));
	memset(&sec, 0, sizeof(sec));
	if (mox_store_secrets_get(s->ls->store, &st) != MOX_OK || !st.set) {
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

/* Test local parts, as mox localserve: temperror, permerror, a code. */
static void
on_rcpt(session *s, const mox_smtp_event *ev)
{
	const char *local = ev->u.rcpt.path->localpart;
	if (strcmp(local, "temperror") == 0) {
		mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER, "temporary error for testing");
	} else if (strcmp(local, "permerror") == 0) {
		mox_smtp_conn_reply(s->smtp, 550, MOX_SMTP_SE_MAILBOX_OTHER,
				    "permanent error for testing");
	} else if (strlen(local) == 3 && (local[0] == '4' || local[0] == '5') &&
		   local[1] >= '0' && local[1] <= '9' && local[2] >= '0' && local[2] <= '9') {
		mox_smtp_conn_reply(s->smtp, atoi(local), MOX_SMTP_SE_OTHER,
				    "error for testing, as requested by the local part");
	} else {
		mox_smtp_conn_accept(s->smtp);
	}
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
		flush(s);
		if (err == MOX_EAGAIN) {
			size_t r = mox_smtp_conn_input_room(s->smtp);
			if (s->pending.len > 0 && r > 0)
				continue;
			break;
		}
		if (err != MOX_OK)
			break; /* ESTATE: an answer is pending (delivery) */
		switch (ev.type) {
		case MOX_SMTP_EV_HELLO:
			snprintf(s->helo, sizeof(s->helo), "%s", ev.u.hello.name);
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
			mlog("info", s->c->id, "auth %s user=%s", ev.u.auth_result.ok ? "ok" : "failed",
			     ev.u.auth_result.authc ? ev.u.auth_result.authc : "");
			break;
		case MOX_SMTP_EV_MAIL:
			snprintf(s->mailfrom, sizeof(s->mailfrom), "%s@%s", ev.u.mail.path->localpart,
				 ev.u.mail.path->domain);
			mox_smtp_conn_accept(s->smtp);
			break;
		case MOX_SMTP_EV_RCPT:
			on_rcpt(s, &ev);
			break;
		case MOX_SMTP_EV_DATA_BEGIN:
			drop_message(s);
			if (mox_store_msgfile_new(s->ls->store, &s->mf) == MOX_OK)
				write_received(s);
			break;
		case MOX_SMTP_EV_DATA:
			if (s->mf != NULL &&
			    mox_store_msgfile_write(s->mf, ev.u.data.data, ev.u.data.len) != MOX_OK)
				drop_message(s);
			break;
		case MOX_SMTP_EV_DATA_END:
			if (s->mf == NULL) {
				mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
						    "error storing message");
				break;
			}
			s->delivering = true;
			s->work.data = s;
			if (uv_queue_work(s->ls->loop, &s->work, deliver_work, deliver_done) != 0) {
				s->delivering = false;
				drop_message(s);
				mox_smtp_conn_reply(s->smtp, 451, MOX_SMTP_SE_SYS_OTHER,
						    "error storing message");
				break;
			}
			return; /* deliver_done pumps again */
		case MOX_SMTP_EV_DATA_ABORT:
		case MOX_SMTP_EV_RESET:
			drop_message(s);
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
	localserve *ls;
	int kind;
} proto_arg;

static void *
session_open(conn *c, void *arg)
{
	proto_arg *pa = arg;
	session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->c = c;
	s->ls = pa->ls;
	s->kind = pa->kind;
	mox_buf_init(&s->pending, NULL);
	unsigned flags = MOX_SMTP_CONN_STARTTLS;
	if (pa->kind != LOCALSERVE_SMTP)
		flags |= MOX_SMTP_CONN_SUBMISSION;
	if (pa->kind == LOCALSERVE_SUBMISSIONS)
		flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS;
	mox_smtp_conn_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.hostname = "localhost";
	o.greeting = "ESMTP mox-c localserve";
	o.flags = flags;
	o.future_release_max = 60 * 86400;
	o.now_ms = now_ms();
	if (mox_smtp_conn_new(&s->smtp, &o) != MOX_OK) {
		mox_buf_free(&s->pending);
		free(s);
		return NULL;
	}
	uv_timer_init(pa->ls->loop, &s->timer);
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
		mlog("info", s->c->id, "too much pipelined input, closing");
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
localserve_smtp_proto(localserve *ls, int kind)
{
	args[kind].ls = ls;
	args[kind].kind = kind;
	protos[kind].name = "smtp";
	protos[kind].open = session_open;
	protos[kind].input = session_input;
	protos[kind].closed = session_closed;
	protos[kind].arg = &args[kind];
	return &protos[kind];
}
