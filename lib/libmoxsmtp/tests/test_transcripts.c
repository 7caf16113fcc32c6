/* Protocol transcripts (STYLE.md section 10): C:/S: scripts in
 * tests/transcripts/NAME.txt replayed against the server core, one file per
 * command or extension. Each file is run four ways:
 *
 *   whole:  consecutive client lines fed in one buffer (pipelining);
 *   bytes:  every client byte fed on its own, next called in between;
 *   splits: each group of client lines split at every offset in two;
 *   oom:    an allocator failing after N allocations, N = 0, 1, 2...: the
 *           call that gets MOX_ENOMEM is retried with allocation allowed
 *           again and the session must then end exactly as without
 *           failures (the handle stays usable), and nothing leaks.
 *
 * All must give the same events and replies, which the script states.
 *
 * Script lines ("#" comments, blank lines ignored):
 *   == name            a new session; "opt" lines follow
 *   opt WORD...        submission tls starttls require-tls-auth
 *                      require-tls-mail no-chunking pedantic no-greeting
 *                      mechs=PLAIN,LOGIN,... future=SECONDS now=MS
 *                      KEY=N for a limit (line_max, auth_line_max,
 *                      input_max, output_max, chunk_max, message_max,
 *                      rcpt_max, mail_max, data_line_max, errors_max,
 *                      auth_failures_max, command_timeout_ms,
 *                      data_timeout_ms)
 *   C: text            client line, CRLF added
 *   C< text            client bytes, escapes \r \n \t \\ \xHH, no CRLF added
 *   C* N TEXT          client bytes: TEXT (escapes as C<) N times
 *   S: text            next reply line the server wrote
 *   E: text            next event (see fmt_event)
 *   M: text            the last message's bytes (escapes as C<)
 *   A: action          accept | reply CODE ESC|- TEXT | verdict ok|bad |
 *                      password PW | scram sha1|sha256 SALTB64 ITER PW |
 *                      scram-unknown | starttls | cb TYPE HEX |
 *                      close CODE ESC|- TEXT
 *   T: +MS             advance the clock
 *   X: idle            no event pending and no output left
 * At the end of a session every event and reply must have been stated. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/smtp.h>
#include "mox_testalloc.h"

#define TDIR MOX_SOURCE_DIR "/lib/libmoxsmtp/tests/transcripts"

typedef enum mode { M_WHOLE, M_BYTES, M_SPLIT, M_OOM } mode;

typedef struct line {
	char kind[3]; /* "==", "op", "C:", "C<", "S:", "E:", "M:", "A:", "T:", "X:" */
	char *text;
	int lineno;
} line;

typedef struct script {
	char name[256];
	line *lines;
	size_t n;
} script;

/* One run of a session. */
typedef struct run {
	const char *file;
	mode mode;
	size_t split;
	mox_testalloc ta;
	bool oom_hit;
	mox_smtp_conn *conn;
	int64_t now;
	uint8_t rnd;
	char *events[64];
	size_t nev;
	bool closed;
	bool handshake; /* between EV_STARTTLS and starttls_done */
	mox_buf msg;
	mox_buf lastmsg;
	char err[1024];
} run;

static int
test_random(void *arg, uint8_t *buf, size_t n)
{
	run *r = arg;
	for (size_t i = 0; i < n; i++)
		buf[i] = r->rnd++;
	return 0;
}

static const uint8_t *
find_crlf(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return p + i;
	return NULL;
}

static size_t
unescape(const char *s, uint8_t *out)
{
	size_t n = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] != '\\' || s[i + 1] == 0) {
			out[n++] = (uint8_t)s[i];
			continue;
		}
		i++;
		switch (s[i]) {
		case 'r':
			out[n++] = '\r';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case '0':
			out[n++] = 0;
			break;
		case 'x': {
			unsigned v = 0;
			sscanf(s + i + 1, "%2x", &v);
			out[n++] = (uint8_t)v;
			i += 2;
			break;
		}
		default:
			out[n++] = (uint8_t)s[i];
			break;
		}
	}
	return n;
}

static void
escape(const uint8_t *p, size_t n, mox_buf *b)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\r')
			mox_buf_append_str(b, "\\r");
		else if (c == '\n')
			mox_buf_append_str(b, "\\n");
		else if (c == '\\')
			mox_buf_append_str(b, "\\\\");
		else if (c < 32 || c >= 127)
			mox_buf_appendf(b, "\\x%02x", c);
		else
			mox_buf_append_byte(b, c);
	}
}

static const char *
mechname(mox_sasl_mech m)
{
	const char *s = mox_sasl_mech_name(m);
	return s != NULL ? s : "?";
}

static const char *
failname(mox_sasl_failure f)
{
	switch (f) {
	case MOX_SASL_FAIL_NONE:
		return "none";
	case MOX_SASL_FAIL_MALFORMED:
		return "malformed";
	case MOX_SASL_FAIL_BAD_CREDENTIALS:
		return "bad-credentials";
	case MOX_SASL_FAIL_AUTHZ:
		return "authz";
	case MOX_SASL_FAIL_CHANNEL_BINDING:
		return "channel-binding";
	case MOX_SASL_FAIL_UNSUPPORTED:
		return "unsupported";
	case MOX_SASL_FAIL_ABORTED:
		return "aborted";
	}
	return "?";
}

static void
fmt_path(const mox_smtp_path *p, mox_buf *b)
{
	mox_smtp_path_format(p, true, b);
	if (p->domain_unicode[0] != 0)
		mox_buf_appendf(b, " ascii=%s", p->domain);
}

/* The event as the scripts state it. */
static char *
fmt_event(run *r, const mox_smtp_event *ev)
{
	mox_buf b = MOX_BUF_INIT;
	switch (ev->type) {
	case MOX_SMTP_EV_HELLO:
		mox_buf_appendf(&b, "hello %s %s", ev->u.hello.ehlo ? "EHLO" : "HELO",
				ev->u.hello.name);
		if (ev->u.hello.domain_unicode[0])
			mox_buf_appendf(&b, " ascii=%s", ev->u.hello.domain);
		if (ev->u.hello.ip[0])
			mox_buf_appendf(&b, " ip=%s", ev->u.hello.ip);
		break;
	case MOX_SMTP_EV_STARTTLS:
		/* What was pipelined after STARTTLS depends on how the input
		 * was split; the runner passes it all to "TLS" (drops it). */
		mox_buf_append_str(&b, "starttls");
		r->handshake = true;
		break;
	case MOX_SMTP_EV_AUTH:
		mox_buf_appendf(&b, "auth %s ", mechname(ev->u.auth.mech));
		if (ev->u.auth.need == MOX_SASL_CHECK_PASSWORD) {
			mox_buf_appendf(&b, "check authc=%s authz=%s password=", ev->u.auth.authc,
					ev->u.auth.authz);
			escape(ev->u.auth.password, ev->u.auth.password_len, &b);
		} else if (ev->u.auth.need == MOX_SASL_NEED_PASSWORD) {
			mox_buf_appendf(&b, "password authc=%s", ev->u.auth.authc);
		} else {
			mox_buf_appendf(&b, "scram authc=%s authz=%s", ev->u.auth.authc,
					ev->u.auth.authz);
		}
		break;
	case MOX_SMTP_EV_AUTH_RESULT:
		mox_buf_appendf(&b, "auth-result %s %s", ev->u.auth_result.ok ? "ok" : "fail",
				mechname(ev->u.auth_result.mech));
		if (!ev->u.auth_result.ok)
			mox_buf_appendf(&b, " %s", failname(ev->u.auth_result.failure));
		if (ev->u.auth_result.authc != NULL)
			mox_buf_appendf(&b, " %s", ev->u.auth_result.authc);
		break;
	case MOX_SMTP_EV_MAIL: {
		const mox_smtp_mail_params *p = ev->u.mail.params;
		mox_buf_append_str(&b, "mail ");
		fmt_path(ev->u.mail.path, &b);
		if (p->size >= 0)
			mox_buf_appendf(&b, " size=%lld", (long long)p->size);
		if (p->body == MOX_SMTP_BODY_7BIT)
			mox_buf_append_str(&b, " body=7bit");
		if (p->body == MOX_SMTP_BODY_8BITMIME)
			mox_buf_append_str(&b, " body=8bitmime");
		if (p->smtputf8)
			mox_buf_append_str(&b, " smtputf8");
		if (p->requiretls)
			mox_buf_append_str(&b, " requiretls");
		if (p->auth != NULL)
			mox_buf_appendf(&b, " auth=%s", p->auth);
		if (p->hold_for >= 0)
			mox_buf_appendf(&b, " holdfor=%lld", (long long)p->hold_for);
		if (p->hold_until >= 0)
			mox_buf_appendf(&b, " holduntil=%lld", (long long)p->hold_until);
		if (p->release_at != 0)
			mox_buf_appendf(&b, " release=%lld", (long long)p->release_at);
		break;
	}
	case MOX_SMTP_EV_RCPT:
		mox_buf_append_str(&b, "rcpt ");
		fmt_path(ev->u.rcpt.path, &b);
		mox_buf_appendf(&b, " #%zu", ev->u.rcpt.index);
		break;
	case MOX_SMTP_EV_DATA_BEGIN:
		mox_buf_append_str(&b, ev->u.data_begin.bdat ? "data-begin bdat" : "data-begin");
		break;
	case MOX_SMTP_EV_DATA:
		mox_buf_append_str(&b, "data"); /* not stated: gathered into M: */
		break;
	case MOX_SMTP_EV_DATA_END:
		mox_buf_appendf(&b, "data-end size=%llu%s%s rcpts=%zu",
				(unsigned long long)ev->u.data_end.size,
				ev->u.data_end.bdat ? " bdat" : "",
				ev->u.data_end.has_8bit ? " 8bit" : "", ev->u.data_end.rcpts);
		break;
	case MOX_SMTP_EV_DATA_ABORT:
		mox_buf_appendf(&b, "data-abort %d", ev->u.data_abort.code);
		break;
	case MOX_SMTP_EV_RESET:
		mox_buf_append_str(&b, "reset");
		break;
	case MOX_SMTP_EV_CLOSE:
		mox_buf_appendf(&b, "close %d", ev->u.close.code);
		break;
	}
	return (char *)mox_buf_steal(&b, NULL);
}

static bool
failf(run *r, int lineno, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool
failf(run *r, int lineno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(r->err, sizeof(r->err), "%s:%d: ", r->file, lineno);
	vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* In OOM mode: a call failed with ENOMEM; allow allocations from now on so
 * the retry succeeds. Returns whether to retry. */
static bool
oom_retry(run *r, mox_err err)
{
	if (err != MOX_ENOMEM || r->mode != M_OOM || r->oom_hit)
		return false;
	r->oom_hit = true;
	r->ta.fail_after = -1;
	return true;
}

/* Call next until it has nothing; events go to the list. */
static bool
drain(run *r, int lineno)
{
	for (;;) {
		if (r->closed)
			return true;
		mox_smtp_event ev;
		mox_err err = mox_smtp_conn_next(r->conn, r->now, &ev);
		if (oom_retry(r, err))
			continue;
		if (err == MOX_EAGAIN || err == MOX_ESTATE)
			return true;
		if (err != MOX_OK)
			return failf(r, lineno, "next: %s", mox_err_name(err));
		if (ev.type == MOX_SMTP_EV_DATA) {
			mox_buf_append(&r->msg, ev.u.data.data, ev.u.data.len);
			continue;
		}
		if (ev.type == MOX_SMTP_EV_DATA_BEGIN)
			mox_buf_reset(&r->msg);
		if (ev.type == MOX_SMTP_EV_DATA_END || ev.type == MOX_SMTP_EV_DATA_ABORT) {
			mox_buf_reset(&r->lastmsg);
			mox_buf_append(&r->lastmsg, r->msg.data, r->msg.len);
			mox_buf_reset(&r->msg);
		}
		if (ev.type == MOX_SMTP_EV_CLOSE)
			r->closed = true;
		if (r->nev >= sizeof(r->events) / sizeof(r->events[0]))
			return failf(r, lineno, "too many unchecked events");
		r->events[r->nev++] = fmt_event(r, &ev);
	}
}

static bool
feed(run *r, const uint8_t *p, size_t n, int lineno)
{
	size_t off = 0;
	size_t stuck = 0;
	while (off < n) {
		if (r->closed || r->handshake)
			return true;
		size_t want = n - off;
		if (r->mode == M_BYTES)
			want = 1;
		size_t room = mox_smtp_conn_input_room(r->conn);
		if (want > room)
			want = room;
		if (want == 0) {
			if (!drain(r, lineno))
				return false;
			size_t out;
			mox_smtp_conn_output(r->conn, &out);
			if (++stuck > 3)
				return failf(r, lineno, "input not taken (room 0, output %zu)", out);
			continue;
		}
		stuck = 0;
		mox_err err = mox_smtp_conn_feed(r->conn, p + off, want);
		if (oom_retry(r, err))
			err = mox_smtp_conn_feed(r->conn, p + off, want);
		if (err != MOX_OK)
			return failf(r, lineno, "feed: %s", mox_err_name(err));
		off += want;
		if (r->mode != M_WHOLE && !drain(r, lineno))
			return false;
	}
	return drain(r, lineno);
}

static bool
feed_group(run *r, const mox_buf *g, int lineno)
{
	if (r->mode == M_SPLIT && r->split < g->len) {
		return feed(r, g->data, r->split, lineno) &&
		       feed(r, g->data + r->split, g->len - r->split, lineno);
	}
	return feed(r, g->data, g->len, lineno);
}

static bool
set_limit(mox_smtp_limits *l, const char *k, long long v)
{
#define L(f)                                                                   \
	if (strcmp(k, #f) == 0) {                                              \
		l->f = (__typeof__(l->f))v;                                    \
		return true;                                                   \
	}
	L(line_max)
	L(auth_line_max)
	L(input_max)
	L(output_max)
	L(chunk_max)
	L(message_max)
	L(rcpt_max)
	L(mail_max)
	L(data_line_max)
	L(errors_max)
	L(auth_failures_max)
	L(command_timeout_ms)
	L(data_timeout_ms)
#undef L
	return false;
}

static int
hexv(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool
action(run *r, const char *a, int lineno)
{
	mox_err err;
	char word[64] = "";
	sscanf(a, "%63s", word);
	const char *rest = a + strlen(word);
	while (*rest == ' ')
		rest++;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (strcmp(word, "accept") == 0) {
			err = mox_smtp_conn_accept(r->conn);
		} else if (strcmp(word, "reply") == 0 || strcmp(word, "close") == 0) {
			int code = 0, n = 0;
			char esc[32];
			if (sscanf(rest, "%d %31s %n", &code, esc, &n) < 2)
				return failf(r, lineno, "bad reply action");
			int se = MOX_SMTP_SE_NONE;
			unsigned cls, sub, det;
			if (strcmp(esc, "-") != 0) {
				if (sscanf(esc, "%u.%u.%u", &cls, &sub, &det) != 3)
					return failf(r, lineno, "bad enhanced code");
				se = (int)(sub * 1000 + det);
			}
			if (word[0] == 'r')
				err = mox_smtp_conn_reply(r->conn, code, se, rest + n);
			else
				err = mox_smtp_conn_close(r->conn, code, se, rest + n);
		} else if (strcmp(word, "verdict") == 0) {
			err = mox_smtp_conn_auth_verdict(r->conn, strcmp(rest, "ok") == 0);
		} else if (strcmp(word, "password") == 0) {
			err = mox_smtp_conn_auth_password(r->conn, (const uint8_t *)rest, strlen(rest));
		} else if (strcmp(word, "scram") == 0) {
			char hash[16], salt64[128], pw[128];
			unsigned iter;
			if (sscanf(rest, "%15s %127s %u %127s", hash, salt64, &iter, pw) != 4)
				return failf(r, lineno, "bad scram action");
			mox_buf salt = MOX_BUF_INIT;
			mox_base64_decode(&salt, salt64, strlen(salt64), 0, NULL);
			mox_sasl_scram_secret sec;
			err = mox_sasl_scram_secret_make(strcmp(hash, "sha256") == 0, pw, strlen(pw),
							 salt.data, salt.len, iter, &sec);
			mox_buf_free(&salt);
			if (err != MOX_OK)
				return failf(r, lineno, "secret: %s", mox_err_name(err));
			err = mox_smtp_conn_auth_scram(r->conn, &sec);
		} else if (strcmp(word, "scram-unknown") == 0) {
			err = mox_smtp_conn_auth_scram(r->conn, NULL);
		} else if (strcmp(word, "starttls") == 0) {
			err = mox_smtp_conn_starttls_done(r->conn);
			r->handshake = false;
		} else if (strcmp(word, "cb") == 0) {
			char type[32], hex[200];
			if (sscanf(rest, "%31s %199s", type, hex) != 2)
				return failf(r, lineno, "bad cb action");
			uint8_t d[100];
			size_t n = strlen(hex) / 2;
			for (size_t i = 0; i < n; i++)
				d[i] = (uint8_t)(hexv(hex[2 * i]) << 4 | hexv(hex[2 * i + 1]));
			err = mox_smtp_conn_set_channel_binding(
				r->conn,
				strcmp(type, "tls-unique") == 0 ? MOX_SASL_CB_TLS_UNIQUE
								: MOX_SASL_CB_TLS_EXPORTER,
				d, n);
		} else {
			return failf(r, lineno, "unknown action %s", word);
		}
		if (!oom_retry(r, err))
			break;
	}
	if (err != MOX_OK)
		return failf(r, lineno, "action %s: %s", a, mox_err_name(err));
	return true;
}

/* Run one session: lines [from, to) of the script, from the "==" line. */
static bool
session(run *r, const script *sc, size_t from, size_t to)
{
	mox_smtp_limits lim;
	mox_smtp_limits_default(&lim);
	mox_smtp_conn_opts o = {.size = sizeof(o), .hostname = "mox.example", .limits = &lim};
	o.random = test_random;
	o.random_arg = r;
	r->now = 1700000000000LL;
	size_t i = from + 1;
	for (; i < to && strcmp(sc->lines[i].kind, "op") == 0; i++) {
		char *save = NULL;
		char *copy = strdup(sc->lines[i].text);
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(w, '=');
			if (strcmp(w, "submission") == 0)
				o.flags |= MOX_SMTP_CONN_SUBMISSION;
			else if (strcmp(w, "tls") == 0)
				o.flags |= MOX_SMTP_CONN_TLS;
			else if (strcmp(w, "starttls") == 0)
				o.flags |= MOX_SMTP_CONN_STARTTLS;
			else if (strcmp(w, "require-tls-auth") == 0)
				o.flags |= MOX_SMTP_CONN_REQUIRE_TLS_AUTH;
			else if (strcmp(w, "require-tls-mail") == 0)
				o.flags |= MOX_SMTP_CONN_REQUIRE_TLS_MAIL;
			else if (strcmp(w, "no-chunking") == 0)
				o.flags |= MOX_SMTP_CONN_NO_CHUNKING;
			else if (strcmp(w, "pedantic") == 0)
				o.flags |= MOX_SMTP_CONN_PEDANTIC;
			else if (strcmp(w, "no-greeting") == 0)
				o.no_greeting = true;
			else if (eq && strncmp(w, "mechs=", 6) == 0) {
				char *s2 = NULL;
				for (char *m = strtok_r(eq + 1, ",", &s2); m; m = strtok_r(NULL, ",", &s2))
					o.auth_mechs |= mox_sasl_mech_from_name(m, strlen(m));
			} else if (eq && strncmp(w, "future=", 7) == 0)
				o.future_release_max = atoll(eq + 1);
			else if (eq && strncmp(w, "now=", 4) == 0)
				r->now = atoll(eq + 1);
			else if (eq) {
				*eq = 0;
				if (!set_limit(&lim, w, atoll(eq + 1))) {
					free(copy);
					return failf(r, sc->lines[i].lineno, "unknown option %s", w);
				}
			} else {
				free(copy);
				return failf(r, sc->lines[i].lineno, "unknown option %s", w);
			}
		}
		free(copy);
	}
	o.now_ms = r->now;
	if (r->mode == M_OOM)
		o.alloc = &r->ta.a;
	mox_err err = mox_smtp_conn_new(&r->conn, &o);
	if (oom_retry(r, err))
		err = mox_smtp_conn_new(&r->conn, &o);
	if (err != MOX_OK)
		return failf(r, sc->lines[from].lineno, "new: %s", mox_err_name(err));
	mox_buf group = MOX_BUF_INIT;
	int glineno = 0;
	bool ok = true;
	for (; ok && i < to; i++) {
		const line *l = &sc->lines[i];
		bool client = l->kind[0] == 'C';
		if (!client && group.len > 0) {
			ok = feed_group(r, &group, glineno);
			mox_buf_reset(&group);
			if (!ok)
				break;
		}
		if (client) {
			if (group.len == 0)
				glineno = l->lineno;
			uint8_t buf[8192];
			size_t n = unescape(l->text, buf);
			if (strcmp(l->kind, "C*") == 0) {
				long count = atol(l->text);
				const char *t = strchr(l->text, ' ');
				n = unescape(t != NULL ? t + 1 : "", buf);
				for (long k = 0; k < count; k++)
					mox_buf_append(&group, buf, n);
				continue;
			}
			if (strcmp(l->kind, "C:") == 0) {
				/* "C:" lines are sent as written, with CRLF. */
				n = strlen(l->text);
				memcpy(buf, l->text, n);
				buf[n++] = '\r';
				buf[n++] = '\n';
			}
			mox_buf_append(&group, buf, n);
		} else if (strcmp(l->kind, "S:") == 0) {
			size_t olen;
			const uint8_t *out = mox_smtp_conn_output(r->conn, &olen);
			const uint8_t *crlf = find_crlf(out, olen);
			if (crlf == NULL) {
				if (!(ok = drain(r, l->lineno)))
					break;
				out = mox_smtp_conn_output(r->conn, &olen);
				crlf = find_crlf(out, olen);
			}
			if (crlf == NULL) {
				mox_buf e = MOX_BUF_INIT;
				escape(out, olen, &e);
				ok = failf(r, l->lineno, "want reply '%s', have '%s'", l->text,
					   e.data ? (char *)e.data : "");
				mox_buf_free(&e);
				break;
			}
			size_t n = (size_t)(crlf - out);
			if (n != strlen(l->text) || memcmp(out, l->text, n) != 0) {
				ok = failf(r, l->lineno, "want reply '%s', have '%.*s'", l->text, (int)n,
					   (const char *)out);
				break;
			}
			mox_smtp_conn_output_consume(r->conn, n + 2);
		} else if (strcmp(l->kind, "E:") == 0) {
			if (r->nev == 0 && !(ok = drain(r, l->lineno)))
				break;
			if (r->nev == 0) {
				size_t ol;
				const uint8_t *op = mox_smtp_conn_output(r->conn, &ol);
				mox_buf e = MOX_BUF_INIT;
				escape(op, ol, &e);
				ok = failf(r, l->lineno, "want event '%s', have none (output '%s')",
					   l->text, e.data ? (char *)e.data : "");
				mox_buf_free(&e);
				break;
			}
			if (strcmp(r->events[0], l->text) != 0) {
				ok = failf(r, l->lineno, "want event '%s', have '%s'", l->text,
					   r->events[0]);
				break;
			}
			free(r->events[0]);
			memmove(r->events, r->events + 1, (r->nev - 1) * sizeof(r->events[0]));
			r->nev--;
		} else if (strcmp(l->kind, "M:") == 0) {
			uint8_t buf[16384];
			size_t n = unescape(l->text, buf);
			if (n != r->lastmsg.len || memcmp(buf, r->lastmsg.data, n) != 0) {
				mox_buf e = MOX_BUF_INIT;
				escape(r->lastmsg.data, r->lastmsg.len, &e);
				ok = failf(r, l->lineno, "want message '%s', have '%s'", l->text,
					   e.data ? (char *)e.data : "");
				mox_buf_free(&e);
				break;
			}
		} else if (strcmp(l->kind, "A:") == 0) {
			ok = action(r, l->text, l->lineno);
		} else if (strcmp(l->kind, "T:") == 0) {
			r->now += atoll(l->text);
		} else if (strcmp(l->kind, "X:") == 0) {
			ok = drain(r, l->lineno);
			size_t olen;
			mox_smtp_conn_output(r->conn, &olen);
			if (ok && (r->nev > 0 || olen > 0))
				ok = failf(r, l->lineno, "not idle: %zu events (%s), %zu output", r->nev,
					   r->nev ? r->events[0] : "", olen);
		} else {
			ok = failf(r, l->lineno, "unknown line kind");
		}
	}
	if (ok && group.len > 0)
		ok = feed_group(r, &group, glineno);
	mox_buf_free(&group);
	if (ok)
		ok = drain(r, sc->lines[to - 1].lineno);
	if (ok && r->nev > 0)
		ok = failf(r, sc->lines[to - 1].lineno, "unchecked event at end: '%s'",
			   r->events[0]);
	size_t olen;
	const uint8_t *out = mox_smtp_conn_output(r->conn, &olen);
	if (ok && olen > 0) {
		mox_buf e = MOX_BUF_INIT;
		escape(out, olen, &e);
		ok = failf(r, sc->lines[to - 1].lineno, "unchecked output at end: '%s'",
			   (char *)e.data);
		mox_buf_free(&e);
	}
	for (size_t k = 0; k < r->nev; k++)
		free(r->events[k]);
	r->nev = 0;
	mox_smtp_conn_free(r->conn);
	r->conn = NULL;
	return ok;
}

static bool
load(const char *path, script *sc)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	char buf[16384];
	int lineno = 0;
	size_t cap = 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		lineno++;
		size_t n = strlen(buf);
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		if (n == 0 || buf[0] == '#')
			continue;
		line l = {.lineno = lineno};
		if (strncmp(buf, "==", 2) == 0) {
			strcpy(l.kind, "==");
			l.text = strdup(buf + 2);
		} else if (strncmp(buf, "opt ", 4) == 0) {
			strcpy(l.kind, "op");
			l.text = strdup(buf + 4);
		} else if (n >= 2 && buf[2] == ' ' && strchr("CSEMATX", buf[0]) &&
			   (buf[1] == ':' || buf[1] == '<' || buf[1] == '*')) {
			memcpy(l.kind, buf, 2);
			l.text = strdup(buf + 3);
		} else if (n == 2 && strchr("CSEMATX", buf[0]) && (buf[1] == ':' || buf[1] == '<')) {
			memcpy(l.kind, buf, 2);
			l.text = strdup("");
		} else {
			fprintf(stderr, "%s:%d: bad line\n", path, lineno);
			fclose(f);
			return false;
		}
		if (sc->n == cap) {
			cap = cap ? cap * 2 : 64;
			sc->lines = realloc(sc->lines, cap * sizeof(line));
		}
		sc->lines[sc->n++] = l;
	}
	fclose(f);
	return sc->n > 0 && strcmp(sc->lines[0].kind, "==") == 0;
}

static void
unload(script *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->lines[i].text);
	free(sc->lines);
}

/* Largest client group in bytes, for the split runs. */
static size_t
max_group(const script *sc)
{
	size_t best = 0, cur = 0;
	for (size_t i = 0; i < sc->n; i++) {
		if (sc->lines[i].kind[0] == 'C') {
			uint8_t buf[16384];
			if (sc->lines[i].kind[1] == '*')
				cur += 1; /* long repeats are not split at every offset */
			else
				cur += sc->lines[i].kind[1] == ':' ? strlen(sc->lines[i].text) + 2
								     : unescape(sc->lines[i].text, buf);
		} else {
			cur = 0;
		}
		if (cur > best)
			best = cur;
	}
	return best;
}

static size_t sessions_run;

/* Run every session of the script in one mode. */
static bool
run_script(const script *sc, const char *file, mode m, size_t split, long fail_after,
	   char *err, size_t err_size, bool *oom_hit)
{
	*oom_hit = false;
	for (size_t i = 0; i < sc->n;) {
		size_t j = i + 1;
		while (j < sc->n && strcmp(sc->lines[j].kind, "==") != 0)
			j++;
		run r;
		memset(&r, 0, sizeof(r));
		r.file = file;
		r.mode = m;
		r.split = split;
		mox_testalloc_init(&r.ta, m == M_OOM ? fail_after : -1);
		mox_buf_init(&r.msg, NULL);
		mox_buf_init(&r.lastmsg, NULL);
		bool ok = session(&r, sc, i, j);
		mox_buf_free(&r.msg);
		mox_buf_free(&r.lastmsg);
		if (ok && r.ta.live != 0) {
			snprintf(r.err, sizeof(r.err), "%s: session at line %d leaks %ld blocks", file,
				 sc->lines[i].lineno, r.ta.live);
			ok = false;
		}
		if (r.oom_hit)
			*oom_hit = true;
		if (!ok) {
			snprintf(err, err_size, "[%s%s] %s",
				 m == M_WHOLE ? "whole" : m == M_BYTES ? "bytes" : m == M_SPLIT ? "split" : "oom",
				 "", r.err);
			return false;
		}
		sessions_run++;
		i = j;
	}
	return true;
}

typedef struct tcase {
	char path[512];
	char name[256];
} tcase;

static void
test_file(void **state)
{
	const tcase *tc = *state;
	script sc;
	memset(&sc, 0, sizeof(sc));
	if (!load(tc->path, &sc))
		fail_msg("cannot load %s", tc->path);
	static char err[2048];
	bool hit, ok = run_script(&sc, tc->name, M_WHOLE, 0, -1, err, sizeof(err), &hit) &&
		       run_script(&sc, tc->name, M_BYTES, 0, -1, err, sizeof(err), &hit);
	size_t mg = max_group(&sc);
	for (size_t s = 1; ok && s < mg; s++) {
		ok = run_script(&sc, tc->name, M_SPLIT, s, -1, err, sizeof(err), &hit);
		if (!ok) {
			char e2[2048];
			snprintf(e2, sizeof(e2), "split at %zu: %s", s, err);
			memcpy(err, e2, sizeof(err));
		}
	}
	/* OOM: fail at allocation N for N = 0, 1, ... until no call hits it. */
	for (long n = 0; ok; n++) {
		ok = run_script(&sc, tc->name, M_OOM, 0, n, err, sizeof(err), &hit);
		if (!ok || !hit)
			break;
		if (n > 100000) {
			snprintf(err, sizeof(err), "OOM loop does not end");
			ok = false;
		}
	}
	unload(&sc);
	if (!ok)
		fail_msg("%s", err);
}

static int
cmp_case(const void *a, const void *b)
{
	return strcmp(((const tcase *)a)->name, ((const tcase *)b)->name);
}

int
main(void)
{
	DIR *d = opendir(TDIR);
	if (d == NULL) {
		fprintf(stderr, "no %s\n", TDIR);
		return 1;
	}
	tcase *cases = calloc(256, sizeof(tcase));
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0)
			continue;
		snprintf(cases[n].path, sizeof(cases[n].path), "%s/%s", TDIR, e->d_name);
		snprintf(cases[n].name, sizeof(cases[n].name), "%s", e->d_name);
		n++;
	}
	closedir(d);
	qsort(cases, n, sizeof(tcase), cmp_case);
	struct CMUnitTest *tests = calloc(n, sizeof(struct CMUnitTest));
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = test_file;
		tests[i].initial_state = &cases[i];
	}
	int rc = _cmocka_run_group_tests("smtp_transcripts", tests, n, NULL, NULL);
	printf("transcripts: %zu files, %zu session runs\n", n, sessions_run);
	free(tests);
	free(cases);
	return rc;
}
