/* The SMTP client connection (RFC 5321), sans-IO.
 *
 * How this works. Every command we write adds what its reply answers to
 * the "expect" ring, in order; each complete reply in the input is matched
 * to the oldest entry (RFC 5321 section 4.2: one reply per command, in
 * order; RFC 2920 section 3.1 keeps that with pipelining). The connection
 * goes GREETING -> HELLO (EHLO, or HELO after a 5xx to EHLO, RFC 5321
 * section 3.2) -> [STARTTLS -> HANDSHAKE -> HELLO again] -> [AUTH] ->
 * READY, then TX for each transaction, RSET after a failed one, and
 * QUIT. A failure that ends the connection queues EV_ERROR and goes to
 * CLOSED, where every next gives EV_CLOSED.
 *
 * A transaction's commands are built at once into cmdtext; with
 * PIPELINING they are all written at once (MAIL, RCPTs and, without
 * CHUNKING, DATA: RFC 2920 section 3.1 lets DATA end the group), without
 * it one at a time as replies come. Message data is written straight to
 * the output as the caller gives it (client_data.c), so memory stays
 * bounded by output_max whatever the message size.
 *
 * Events come from a small queue (RCPT, DONE, ERROR, STARTTLS: at most a
 * few per reply, and next returns queued ones before reading more
 * input) and from the state (READY and DATA are announced once each).
 * Time-outs run from the first next() after a command was written. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_LINE_MAX 16384
#define DEFAULT_LINES_MAX 256
#define DEFAULT_OUTPUT_MAX (64 * 1024)
/* RFC 5321 section 4.5.3.2.1, 4.5.3.2.2, 4.5.3.2.3: 5 minutes. */
#define DEFAULT_COMMAND_TIMEOUT (5 * 60 * 1000)
/* RFC 5321 section 4.5.3.2.4: 2 minutes for the 354. */
#define DEFAULT_DATA_TIMEOUT (2 * 60 * 1000)
/* RFC 5321 section 4.5.3.2.6: 10 minutes after the ".". */
#define DEFAULT_DATA_END_TIMEOUT (10 * 60 * 1000)
/* Output room kept free for the replies to one server reply. */
#define OUT_RESERVE 4096

void
mox_smtp_client_limits_default(mox_smtp_client_limits *l)
{
	if (l == NULL)
		return;
	memset(l, 0, sizeof(*l));
	l->size = sizeof(*l);
	l->line_max = DEFAULT_LINE_MAX;
	l->reply_lines_max = DEFAULT_LINES_MAX;
	l->output_max = DEFAULT_OUTPUT_MAX;
	l->command_timeout_ms = DEFAULT_COMMAND_TIMEOUT;
	l->data_timeout_ms = DEFAULT_DATA_TIMEOUT;
	l->data_end_timeout_ms = DEFAULT_DATA_END_TIMEOUT;
}

const char *
mox_smtp_client_status_name(mox_smtp_client_status s)
{
	switch (s) {
	case MOX_SMTP_CLIENT_OK:
		return "ok";
	case MOX_SMTP_CLIENT_TEMPFAIL:
		return "tempfail";
	case MOX_SMTP_CLIENT_PERMFAIL:
		return "permfail";
	case MOX_SMTP_CLIENT_PROTOCOL:
		return "protocol";
	case MOX_SMTP_CLIENT_TIMEOUT:
		return "timeout";
	case MOX_SMTP_CLIENT_CONNECTION:
		return "connection";
	case MOX_SMTP_CLIENT_TLS_FAILED:
		return "tls";
	case MOX_SMTP_CLIENT_UNSUPPORTED:
		return "unsupported";
	}
	return "unknown";
}

const char *
mox_smtp_client_step_name(mox_smtp_client_step s)
{
	static const char *const names[] = {
	    "none", "connect", "greeting", "ehlo", "helo",     "starttls", "auth",
	    "mail", "rcpt",    "data",     "bdat", "data-end", "rset",     "quit",
	};
	if ((size_t)s < sizeof(names) / sizeof(names[0]))
		return names[s];
	return "unknown";
}

static mox_smtp_client_step
kind_step(mox__smtpc_kind k)
{
	switch (k) {
	case MOX__SMTPC_K_GREETING:
		return MOX_SMTP_CLIENT_STEP_GREETING;
	case MOX__SMTPC_K_EHLO:
		return MOX_SMTP_CLIENT_STEP_EHLO;
	case MOX__SMTPC_K_HELO:
		return MOX_SMTP_CLIENT_STEP_HELO;
	case MOX__SMTPC_K_STARTTLS:
		return MOX_SMTP_CLIENT_STEP_STARTTLS;
	case MOX__SMTPC_K_AUTH:
		return MOX_SMTP_CLIENT_STEP_AUTH;
	case MOX__SMTPC_K_RSET:
		return MOX_SMTP_CLIENT_STEP_RSET;
	case MOX__SMTPC_K_MAIL:
		return MOX_SMTP_CLIENT_STEP_MAIL;
	case MOX__SMTPC_K_RCPT:
		return MOX_SMTP_CLIENT_STEP_RCPT;
	case MOX__SMTPC_K_DATA:
		return MOX_SMTP_CLIENT_STEP_DATA;
	case MOX__SMTPC_K_BDAT:
		return MOX_SMTP_CLIENT_STEP_BDAT;
	case MOX__SMTPC_K_DOT:
	case MOX__SMTPC_K_DOT_IGNORE:
	case MOX__SMTPC_K_BDAT_LAST:
		return MOX_SMTP_CLIENT_STEP_DATA_END;
	case MOX__SMTPC_K_QUIT:
		return MOX_SMTP_CLIENT_STEP_QUIT;
	}
	return MOX_SMTP_CLIENT_STEP_NONE;
}

void
mox__smtpc_result(mox__smtpc_qev *q, mox_smtp_client_step step,
                  mox_smtp_client_status status, int code, const char *ecode,
                  const char *text, size_t text_len)
{
	/* Results being built live in the error member; push_event moves
	 * them to the member of the event's type. */
	mox_smtp_client_result *r = &q->ev.u.error.result;
	memset(r, 0, sizeof(*r));
	r->step = step;
	r->status = status;
	r->permanent =
	    status == MOX_SMTP_CLIENT_PERMFAIL || status == MOX_SMTP_CLIENT_UNSUPPORTED;
	r->code = code;
	if (ecode != NULL)
		snprintf(r->ecode, sizeof(r->ecode), "%s", ecode);
	if (text == NULL)
		text_len = 0;
	if (text_len > MOX_SMTP_CLIENT_TEXT_MAX)
		text_len = MOX_SMTP_CLIENT_TEXT_MAX;
	if (text_len > 0)
		memcpy(q->text, text, text_len);
	q->text[text_len] = 0;
	r->text = q->text;
}

/* Status of a reply code for a command expecting class `want` (2 or 3). */
static mox_smtp_client_status
code_status(int code, int want)
{
	if (code / 100 == want)
		return MOX_SMTP_CLIENT_OK;
	if (code / 100 == 4)
		return MOX_SMTP_CLIENT_TEMPFAIL;
	if (code / 100 == 5)
		return MOX_SMTP_CLIENT_PERMFAIL;
	return MOX_SMTP_CLIENT_PROTOCOL;
}

static void
reply_result(mox_smtp_client *c, mox__smtpc_qev *q, mox_smtp_client_step step,
             const mox_smtp_reply *r, int want)
{
	mox__smtpc_result(q, step, code_status(r->code, want), r->code, r->ecode,
	                  (const char *)c->rtext.data, c->rtext.len);
}

void
mox__smtpc_push(mox_smtp_client *c, const mox__smtpc_qev *q)
{
	if (MOX_NEVER(c->q_len >= MOX__SMTPC_QUEUE_MAX))
		return;
	mox__smtpc_qev *d = &c->queue[(c->q_head + c->q_len) % MOX__SMTPC_QUEUE_MAX];
	*d = *q;
	c->q_len++;
}

/* Queue an event of type t with the result in q (moved to the right union
 * member). */
static void
push_event(mox_smtp_client *c, mox_smtp_client_event_type t, mox__smtpc_qev *q,
           size_t index, bool ok)
{
	mox__smtpc_qev e;
	memcpy(e.text, q->text, sizeof(e.text));
	mox_smtp_client_result r = q->ev.u.error.result;
	memset(&e.ev, 0, sizeof(e.ev));
	e.ev.type = t;
	switch (t) {
	case MOX_SMTP_CLIENT_EV_RCPT:
		e.ev.u.rcpt.index = index;
		e.ev.u.rcpt.ok = ok;
		e.ev.u.rcpt.result = r;
		break;
	case MOX_SMTP_CLIENT_EV_DONE:
		e.ev.u.done.ok = ok;
		e.ev.u.done.result = r;
		e.ev.u.done.rcpts_accepted = index;
		e.ev.u.done.rcpts_tried = c->ntried;
		break;
	default:
		e.ev.u.error.result = r;
		break;
	}
	mox__smtpc_push(c, &e);
}

static void
clear_expect(mox_smtp_client *c)
{
	c->nexpect = 0;
	c->expect_head = 0;
}

void
mox__smtpc_fail(mox_smtp_client *c, mox__smtpc_qev *q, bool quit)
{
	if (c->state == MOX__SMTPC_CLOSED)
		return;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s: %s%s%s",
	         mox_smtp_client_step_name(q->ev.u.error.result.step),
	         mox_smtp_client_status_name(q->ev.u.error.result.status),
	         q->text[0] ? ": " : "", q->text);
	push_event(c, MOX_SMTP_CLIENT_EV_ERROR, q, 0, false);
	/* RFC 5321 section 3.1 and 4.1.1.10: end politely where the server
	 * still listens. Best effort: the output may be full. */
	if (quit)
		(void)mox_buf_append_str(&c->out, "QUIT\r\n");
	clear_expect(c);
	if (c->sasl != NULL) {
		mox_sasl_client_free(c->sasl);
		c->sasl = NULL;
	}
	c->state = MOX__SMTPC_CLOSED;
}

static void
fail_local(mox_smtp_client *c, mox_smtp_client_step step, mox_smtp_client_status st,
           const char *ecode, const char *text, bool quit)
{
	mox__smtpc_qev q;
	mox__smtpc_result(&q, step, st, 0, ecode, text, strlen(text));
	mox__smtpc_fail(c, &q, quit);
}

mox_err
mox__smtpc_expect_push(mox_smtp_client *c, mox__smtpc_kind kind, size_t index)
{
	if (c->nexpect == c->expect_cap) {
		size_t ncap = c->expect_cap == 0 ? 8 : c->expect_cap * 2;
		mox__smtpc_expect *n =
		    mox_mem_reallocarray(c->alloc, NULL, ncap, sizeof(*n));
		if (n == NULL)
			return MOX_ENOMEM;
		for (size_t i = 0; i < c->nexpect; i++)
			n[i] = c->expect[(c->expect_head + i) % c->expect_cap];
		mox_mem_free(c->alloc, c->expect);
		c->expect = n;
		c->expect_cap = ncap;
		c->expect_head = 0;
	}
	mox__smtpc_expect *e =
	    &c->expect[(c->expect_head + c->nexpect) % c->expect_cap];
	e->kind = kind;
	e->index = index;
	c->nexpect++;
	return MOX_OK;
}

/* Make sure n more expectations fit without allocating. */
mox_err
mox__smtpc_expect_reserve(mox_smtp_client *c, size_t n)
{
	if (c->expect_cap - c->nexpect >= n)
		return MOX_OK;
	size_t ncap = c->expect_cap == 0 ? 8 : c->expect_cap;
	while (ncap - c->nexpect < n)
		ncap *= 2;
	mox__smtpc_expect *e = mox_mem_reallocarray(c->alloc, NULL, ncap, sizeof(*e));
	if (e == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < c->nexpect; i++)
		e[i] = c->expect[(c->expect_head + i) % c->expect_cap];
	mox_mem_free(c->alloc, c->expect);
	c->expect = e;
	c->expect_cap = ncap;
	c->expect_head = 0;
	return MOX_OK;
}

static mox__smtpc_expect
expect_pop(mox_smtp_client *c)
{
	mox__smtpc_expect e = c->expect[c->expect_head];
	c->expect_head = (c->expect_head + 1) % c->expect_cap;
	c->nexpect--;
	return e;
}

/* Write a command line and expect its reply; room was reserved. */
static void
command(mox_smtp_client *c, mox__smtpc_kind kind, const char *line)
{
	/* Cannot fail: OUT_RESERVE bytes and one expectation are reserved
	 * before a reply is handled, and the lines here are short. */
	(void)mox_buf_append_str(&c->out, line);
	(void)mox_buf_append_str(&c->out, "\r\n");
	(void)mox__smtpc_expect_push(c, kind, 0);
}

static void
say_ehlo(mox_smtp_client *c, bool ehlo)
{
	char line[MOX_SMTP_DOMAIN_MAX + 8];
	/* RFC 5321 section 4.1.1.1. */
	snprintf(line, sizeof(line), "%s %s", ehlo ? "EHLO" : "HELO", c->hostname);
	command(c, ehlo ? MOX__SMTPC_K_EHLO : MOX__SMTPC_K_HELO, line);
	c->state = MOX__SMTPC_HELLO;
}

void
mox__smtpc_set_ready(mox_smtp_client *c)
{
	c->state = MOX__SMTPC_READY;
	c->ready_announced = false;
	c->ncmds = c->cmds_pos = 0;
	mox_buf_reset(&c->cmdtext);
}

/* TLS is settled (or not wanted): AUTH if asked, then ready. */
static void
after_tls(mox_smtp_client *c)
{
	if (c->username == NULL) {
		mox__smtpc_set_ready(c);
		return;
	}
	bool ok = false;
	if (mox__smtpc_auth_start(c, &ok) != MOX_OK)
		fail_local(c, MOX_SMTP_CLIENT_STEP_AUTH, MOX_SMTP_CLIENT_PROTOCOL, "",
		           "out of memory starting authentication", true);
	else if (ok)
		c->state = MOX__SMTPC_AUTH;
}

static void
after_hello(mox_smtp_client *c)
{
	if (!c->tls && c->tls_policy != MOX_SMTP_CLIENT_TLS_NONE) {
		if (c->ext & MOX_SMTP_EXT_STARTTLS) {
			/* RFC 3207 section 4. */
			command(c, MOX__SMTPC_K_STARTTLS, "STARTTLS");
			c->state = MOX__SMTPC_STARTTLS;
			return;
		}
		if (c->tls_policy == MOX_SMTP_CLIENT_TLS_REQUIRED) {
			fail_local(c, MOX_SMTP_CLIENT_STEP_STARTTLS,
			           MOX_SMTP_CLIENT_TLS_FAILED, "",
			           "TLS required but server does not offer STARTTLS",
			           true);
			return;
		}
	}
	after_tls(c);
}

static bool
word_eq(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	if (n != wl)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s[i], b = w[i];
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 'a' + 'A');
		if (a != b)
			return false;
	}
	return true;
}

static uint64_t
parse_u64(const char *s, size_t n, bool *ok)
{
	uint64_t v = 0;
	*ok = n > 0 && n <= 19;
	for (size_t i = 0; *ok && i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			*ok = false;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return *ok ? v : 0;
}

/* One EHLO keyword line (RFC 5321 section 4.1.1.1: ehlo-line = ehlo-keyword
 * *( SP ehlo-param )). Unknown keywords are ignored. */
static void
ehlo_line(mox_smtp_client *c, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != ' ' && s[i] != '=')
		i++;
	const char *kw = s;
	size_t kwn = i;
	/* Parameters; "AUTH=PLAIN LOGIN" is an old form some servers send. */
	const char *p = i < n ? s + i + 1 : s + n;
	size_t pn = i < n ? n - i - 1 : 0;
	if (word_eq(kw, kwn, "PIPELINING"))
		c->ext |= MOX_SMTP_EXT_PIPELINING;
	else if (word_eq(kw, kwn, "8BITMIME"))
		c->ext |= MOX_SMTP_EXT_8BITMIME;
	else if (word_eq(kw, kwn, "SMTPUTF8"))
		c->ext |= MOX_SMTP_EXT_SMTPUTF8;
	else if (word_eq(kw, kwn, "STARTTLS"))
		c->ext |= MOX_SMTP_EXT_STARTTLS;
	else if (word_eq(kw, kwn, "CHUNKING"))
		c->ext |= MOX_SMTP_EXT_CHUNKING;
	else if (word_eq(kw, kwn, "ENHANCEDSTATUSCODES"))
		c->ext |= MOX_SMTP_EXT_ENHANCEDSTATUSCODES;
	else if (word_eq(kw, kwn, "REQUIRETLS"))
		c->ext |= MOX_SMTP_EXT_REQUIRETLS;
	else if (word_eq(kw, kwn, "DSN"))
		c->ext |= MOX_SMTP_EXT_DSN;
	else if (word_eq(kw, kwn, "SIZE")) {
		/* RFC 1870 section 4: "SIZE" [SP number]; 0 or none: no
		 * fixed limit. */
		c->ext |= MOX_SMTP_EXT_SIZE;
		bool ok;
		uint64_t v = parse_u64(p, pn, &ok);
		c->size_max = ok ? v : 0;
	} else if (word_eq(kw, kwn, "AUTH")) {
		c->ext |= MOX_SMTP_EXT_AUTH;
		size_t j = 0;
		while (j < pn) {
			size_t k = j;
			while (k < pn && p[k] != ' ')
				k++;
			c->server_mechs |=
			    (unsigned)mox_sasl_mech_from_name(p + j, k - j);
			j = k + 1;
		}
	} else if (word_eq(kw, kwn, "LIMITS")) {
		/* RFC 9422 section 4: limit-name "=" limit-value, space
		 * separated; unknown names ignored. */
		c->ext |= MOX_SMTP_EXT_LIMITS;
		size_t j = 0;
		while (j < pn) {
			size_t k = j;
			while (k < pn && p[k] != ' ')
				k++;
			const char *eq = memchr(p + j, '=', k - j);
			if (eq != NULL) {
				bool ok;
				uint64_t v =
				    parse_u64(eq + 1, (size_t)(p + k - eq - 1), &ok);
				size_t nn = (size_t)(eq - (p + j));
				/* A value of 0 makes no sense: ignored. */
				if (ok && v > 0 && v <= SIZE_MAX) {
					if (word_eq(p + j, nn, "RCPTMAX"))
						c->rcpt_max = (size_t)v;
					else if (word_eq(p + j, nn, "MAILMAX"))
						c->mail_max = (size_t)v;
				}
			}
			j = k + 1;
		}
	}
}

static void
parse_ehlo(mox_smtp_client *c)
{
	c->ext = 0;
	c->size_max = 0;
	c->server_mechs = 0;
	c->rcpt_max = c->mail_max = 0;
	const char *s = (const char *)c->rtext.data;
	size_t n = c->rtext.len;
	/* The first line is the server's name and greeting. */
	const char *nl = s != NULL ? memchr(s, '\n', n) : NULL;
	while (nl != NULL) {
		const char *l = nl + 1;
		size_t rest = n - (size_t)(l - s);
		nl = memchr(l, '\n', rest);
		size_t ln = nl != NULL ? (size_t)(nl - l) : rest;
		while (ln > 0 && (l[ln - 1] == ' ' || l[ln - 1] == '\t'))
			ln--;
		ehlo_line(c, l, ln);
	}
}

static void
greeting_name(mox_smtp_client *c)
{
	const char *s = (const char *)c->rtext.data;
	size_t n = 0;
	while (s != NULL && n < c->rtext.len && s[n] != ' ' && s[n] != '\n' &&
	       n < sizeof(c->greeting_name) - 1)
		n++;
	if (n > 0)
		memcpy(c->greeting_name, s, n);
	c->greeting_name[n] = 0;
}

/* ---- transactions ---- */

static void
tx_fail_with(mox_smtp_client *c, const mox__smtpc_qev *q)
{
	if (c->tx_failed)
		return;
	c->tx_failed = true;
	c->fail = *q;
	c->fail.ev.u.error.result.text = c->fail.text;
}

/* Write the transaction's commands that may go now: all with PIPELINING,
 * else one when no reply is awaited. Room is reserved by mail() and
 * before each reply. */
static void
flush_cmds(mox_smtp_client *c)
{
	while (c->cmds_pos < c->ncmds) {
		if (!(c->ext & MOX_SMTP_EXT_PIPELINING) && c->nexpect > 0)
			break;
		if (c->tx_failed) {
			/* MAIL was refused: the RCPTs would only get 503. */
			c->cmds_pos = c->ncmds;
			break;
		}
		mox__smtpc_cmd *cmd = &c->cmds[c->cmds_pos++];
		(void)mox_buf_append(&c->out, c->cmdtext.data + cmd->off, cmd->len);
		(void)mox__smtpc_expect_push(c, cmd->kind, cmd->index);
		if (cmd->kind == MOX__SMTPC_K_DATA)
			c->phase = MOX__SMTPC_TX_DATA_SENT;
	}
}

static void
tx_finish(mox_smtp_client *c)
{
	if (!c->tx_failed) {
		push_event(c, MOX_SMTP_CLIENT_EV_DONE, &c->fail, c->accepted, true);
		mox__smtpc_set_ready(c);
		return;
	}
	push_event(c, MOX_SMTP_CLIENT_EV_DONE, &c->fail, c->accepted, false);
	if (c->mail_ok) {
		/* The server still holds the transaction: RFC 5321 section
		 * 4.1.1.5. */
		c->ncmds = c->cmds_pos = 0;
		command(c, MOX__SMTPC_K_RSET, "RSET");
		c->state = MOX__SMTPC_RSET;
		return;
	}
	mox__smtpc_set_ready(c);
}

/* After each reply of a transaction: write what may go, and decide what
 * comes next once every awaited reply is in. */
static void
tx_progress(mox_smtp_client *c)
{
	flush_cmds(c);
	if (c->nexpect > 0 || c->cmds_pos < c->ncmds)
		return;
	if (c->tx_failed || c->phase == MOX__SMTPC_TX_END_SENT) {
		tx_finish(c);
		return;
	}
	if (c->phase != MOX__SMTPC_TX_CMDS)
		return; /* streaming: the caller's turn */
	/* Every RCPT is answered. */
	if (c->accepted == 0) {
		tx_fail_with(c, &c->last_rcpt_fail);
		tx_finish(c);
		return;
	}
	if (c->bdat) {
		/* RFC 3030 section 2: no DATA; chunks follow. */
		c->phase = MOX__SMTPC_TX_STREAM;
		return;
	}
	command(c, MOX__SMTPC_K_DATA, "DATA");
	c->phase = MOX__SMTPC_TX_DATA_SENT;
}

static void
tx_reply(mox_smtp_client *c, mox__smtpc_expect e, const mox_smtp_reply *r)
{
	mox__smtpc_qev q;
	switch (e.kind) {
	case MOX__SMTPC_K_MAIL:
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_MAIL, r, 2);
		if (q.ev.u.error.result.status == MOX_SMTP_CLIENT_OK)
			c->mail_ok = true;
		else
			tx_fail_with(c, &q);
		break;
	case MOX__SMTPC_K_RCPT: {
		c->rcpt_replies++;
		if (!c->mail_ok)
			break; /* MAIL failed: 503s, nothing to tell */
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_RCPT, r, 2);
		bool ok = q.ev.u.error.result.status == MOX_SMTP_CLIENT_OK;
		if (ok)
			c->accepted++;
		else
			c->last_rcpt_fail = q;
		push_event(c, MOX_SMTP_CLIENT_EV_RCPT, &q, e.index, ok);
		break;
	}
	case MOX__SMTPC_K_DATA:
		if (r->code == 354 && !c->tx_failed && c->accepted > 0) {
			c->phase = MOX__SMTPC_TX_STREAM;
			c->bol = true;
			c->pending_cr = false;
			break;
		}
		if (r->code == 354) {
			/* Pipelined DATA after all recipients failed, and the
			 * server still wants the message: RFC 2920 section
			 * 3.1 has us send just the end. */
			(void)mox_buf_append_str(&c->out, ".\r\n");
			(void)mox__smtpc_expect_push(c, MOX__SMTPC_K_DOT_IGNORE, 0);
			c->phase = MOX__SMTPC_TX_END_SENT;
		}
		if (c->accepted == 0 && c->mail_ok)
			tx_fail_with(c, &c->last_rcpt_fail);
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_DATA, r, 3);
		if (q.ev.u.error.result.status == MOX_SMTP_CLIENT_OK)
			q.ev.u.error.result.status = MOX_SMTP_CLIENT_PROTOCOL;
		tx_fail_with(c, &q);
		break;
	case MOX__SMTPC_K_BDAT:
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_BDAT, r, 2);
		if (q.ev.u.error.result.status != MOX_SMTP_CLIENT_OK) {
			tx_fail_with(c, &q);
		} else if (c->nexpect == 0 && !c->tx_failed) {
			if (c->end_pending) {
				mox__smtpc_write_end(c);
			} else if (c->data_blocked) {
				/* The caller waits to give more. */
				c->data_blocked = false;
				c->ready_announced = false;
			}
		}
		break;
	case MOX__SMTPC_K_DOT:
	case MOX__SMTPC_K_BDAT_LAST:
		/* RFC 5321 section 4.1.1.4: the transaction is over at the
		 * server whatever the reply. */
		c->mail_ok = false;
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_DATA_END, r, 2);
		if (q.ev.u.error.result.status != MOX_SMTP_CLIENT_OK)
			tx_fail_with(c, &q);
		else if (!c->tx_failed)
			c->fail = q, c->fail.ev.u.error.result.text = c->fail.text;
		break;
	case MOX__SMTPC_K_DOT_IGNORE:
		c->mail_ok = false;
		break;
	default:
		break;
	}
	tx_progress(c);
}

/* ---- replies ---- */

static void
handle_reply(mox_smtp_client *c, const mox_smtp_reply *r, size_t leftover)
{
	mox__smtpc_qev q;
	if (c->nexpect == 0) {
		/* RFC 5321 section 3.8: a server may send 421 and close at
		 * any time (idle time-out, shutdown). Anything else unasked
		 * for is a protocol error. */
		reply_result(c, &q, MOX_SMTP_CLIENT_STEP_CONNECT, r, 2);
		if (r->code != 421) {
			q.ev.u.error.result.status = MOX_SMTP_CLIENT_PROTOCOL;
			q.ev.u.error.result.permanent = false;
		}
		if (c->state == MOX__SMTPC_TX && c->phase == MOX__SMTPC_TX_STREAM)
			q.ev.u.error.result.step = MOX_SMTP_CLIENT_STEP_DATA;
		mox__smtpc_fail(c, &q, false);
		return;
	}
	mox__smtpc_expect e = expect_pop(c);
	mox_smtp_client_step step = kind_step(e.kind);
	if (r->code == 421 && e.kind != MOX__SMTPC_K_QUIT) {
		/* RFC 5321 section 3.8: closing; no QUIT. */
		reply_result(c, &q, step, r, 2);
		mox__smtpc_fail(c, &q, false);
		return;
	}
	switch (e.kind) {
	case MOX__SMTPC_K_GREETING:
		if (r->code == 220) {
			/* RFC 5321 section 4.2: 220 <domain> ... */
			greeting_name(c);
			say_ehlo(c, true);
			break;
		}
		/* RFC 5321 section 3.1: 554 (or a 4xx) instead of the
		 * greeting: the client should QUIT and wait for 221; we
		 * send QUIT and close. */
		reply_result(c, &q, step, r, 2);
		if (q.ev.u.error.result.status == MOX_SMTP_CLIENT_OK)
			q.ev.u.error.result.status = MOX_SMTP_CLIENT_PROTOCOL;
		mox__smtpc_fail(c, &q,
		                q.ev.u.error.result.status != MOX_SMTP_CLIENT_PROTOCOL);
		break;
	case MOX__SMTPC_K_EHLO:
		if (r->code / 100 == 2) {
			c->ehlo = true;
			parse_ehlo(c);
			after_hello(c);
			break;
		}
		if (r->code / 100 == 5) {
			/* RFC 5321 section 3.2: a server that does not know
			 * EHLO; try HELO. */
			say_ehlo(c, false);
			break;
		}
		reply_result(c, &q, step, r, 2);
		mox__smtpc_fail(c, &q,
		                q.ev.u.error.result.status == MOX_SMTP_CLIENT_TEMPFAIL);
		break;
	case MOX__SMTPC_K_HELO:
		if (r->code / 100 == 2) {
			c->ehlo = false;
			c->ext = 0;
			after_hello(c);
			break;
		}
		reply_result(c, &q, step, r, 2);
		mox__smtpc_fail(c, &q,
		                q.ev.u.error.result.status != MOX_SMTP_CLIENT_PROTOCOL);
		break;
	case MOX__SMTPC_K_STARTTLS:
		if (r->code == 220) {
			if (leftover > 0) {
				/* Bytes after the 220 were sent before TLS:
				 * taking them as replies over TLS would let an
				 * attacker inject them (RFC 3207 section 6). */
				fail_local(c, step, MOX_SMTP_CLIENT_PROTOCOL, "",
				           "data after STARTTLS reply, before TLS",
				           false);
				break;
			}
			mox__smtpc_result(&q, step, MOX_SMTP_CLIENT_OK, r->code,
			                  r->ecode, (const char *)c->rtext.data,
			                  c->rtext.len);
			push_event(c, MOX_SMTP_CLIENT_EV_STARTTLS, &q, 0, true);
			c->state = MOX__SMTPC_HANDSHAKE;
			break;
		}
		reply_result(c, &q, step, r, 2);
		if (c->tls_policy == MOX_SMTP_CLIENT_TLS_REQUIRED) {
			q.ev.u.error.result.status = MOX_SMTP_CLIENT_TLS_FAILED;
			q.ev.u.error.result.permanent = false;
			mox__smtpc_fail(c, &q, true);
			break;
		}
		/* Opportunistic: go on without TLS (RFC 3207 section 4). */
		after_tls(c);
		break;
	case MOX__SMTPC_K_AUTH: {
		bool done = false;
		if (mox__smtpc_auth_reply(c, r, &done) != MOX_OK)
			fail_local(c, step, MOX_SMTP_CLIENT_PROTOCOL, "",
			           "out of memory during authentication", true);
		else if (done)
			mox__smtpc_set_ready(c);
		break;
	}
	case MOX__SMTPC_K_RSET:
		if (r->code / 100 == 2) {
			mox__smtpc_set_ready(c);
			break;
		}
		reply_result(c, &q, step, r, 2);
		mox__smtpc_fail(c, &q, true);
		break;
	case MOX__SMTPC_K_QUIT:
		/* RFC 5321 section 4.1.1.10: 221, but whatever comes we
		 * are done. */
		clear_expect(c);
		c->state = MOX__SMTPC_CLOSED;
		break;
	default:
		tx_reply(c, e, r);
		break;
	}
}

/* ---- public ---- */

mox_err
mox_smtp_client_new(mox_smtp_client **client_out, const mox_smtp_client_opts *opts)
{
	if (client_out == NULL)
		return MOX_EINVAL;
	*client_out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) || opts->hostname == NULL ||
	    opts->hostname[0] == 0 || strlen(opts->hostname) > MOX_SMTP_DOMAIN_MAX ||
	    (opts->password == NULL && opts->password_len > 0) ||
	    opts->password_len > MOX_SASL_PASSWORD_MAX ||
	    (opts->username != NULL &&
	     (opts->username[0] == 0 || strlen(opts->username) > MOX_SASL_NAME_MAX)) ||
	    (unsigned)opts->tls > MOX_SMTP_CLIENT_TLS_REQUIRED)
		return MOX_EINVAL;
	for (const char *p = opts->hostname; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return MOX_EINVAL;
	mox_smtp_client_limits lim;
	mox_smtp_client_limits_default(&lim);
	if (opts->limits != NULL) {
		const mox_smtp_client_limits *l = opts->limits;
		if (l->size < sizeof(*l))
			return MOX_EINVAL;
		if (l->line_max)
			lim.line_max = l->line_max;
		if (l->reply_lines_max)
			lim.reply_lines_max = l->reply_lines_max;
		if (l->output_max)
			lim.output_max = l->output_max;
		if (l->command_timeout_ms)
			lim.command_timeout_ms = l->command_timeout_ms;
		if (l->data_timeout_ms)
			lim.data_timeout_ms = l->data_timeout_ms;
		if (l->data_end_timeout_ms)
			lim.data_end_timeout_ms = l->data_end_timeout_ms;
	}
	if (lim.line_max < 16 || lim.output_max < 1024 || lim.command_timeout_ms < 0 ||
	    lim.data_timeout_ms < 0 || lim.data_end_timeout_ms < 0)
		return MOX_EINVAL;
	mox_err err = MOX_ENOMEM;
	mox_smtp_client *c = mox_mem_calloc(opts->alloc, 1, sizeof(*c));
	if (c == NULL)
		return MOX_ENOMEM;
	c->alloc = opts->alloc;
	c->lim = lim;
	snprintf(c->hostname, sizeof(c->hostname), "%s", opts->hostname);
	c->tls_policy = opts->tls;
	c->tls = opts->tls_active;
	c->auth_mechs = opts->auth_mechs != 0 ? opts->auth_mechs : MOX_SASL_ALL;
	c->auth_plaintext_ok = opts->auth_plaintext_ok;
	c->random = opts->random;
	c->random_arg = opts->random_arg;
	c->wait_since = -1;
	mox_buf_init(&c->in, c->alloc);
	mox_buf_init(&c->out, c->alloc);
	mox_buf_init(&c->rtext, c->alloc);
	mox_buf_init(&c->cmdtext, c->alloc);
	mox_buf_init(&c->chunk, c->alloc);
	/* A reply of reply_lines_max full lines would not fit; the bound on
	 * buffered input is what a sane reply needs. */
	c->in_max = lim.line_max * 4 + 64 * 1024;
	if (opts->username != NULL) {
		c->username = mox_mem_strdup(c->alloc, opts->username);
		if (c->username == NULL)
			goto out;
		c->password = mox_mem_alloc(c->alloc, opts->password_len + 1);
		if (c->password == NULL)
			goto out;
		if (opts->password_len > 0)
			memcpy(c->password, opts->password, opts->password_len);
		c->password_len = opts->password_len;
	}
	if (mox__smtpc_expect_push(c, MOX__SMTPC_K_GREETING, 0) != MOX_OK)
		goto out;
	c->state = MOX__SMTPC_GREETING;
	*client_out = c;
	c = NULL;
	err = MOX_OK;
out:
	mox_smtp_client_free(c);
	return err;
}

void
mox_smtp_client_free(mox_smtp_client *c)
{
	if (c == NULL)
		return;
	if (c->password != NULL) {
		mox_mem_wipe(c->password, c->password_len);
		mox_mem_free(c->alloc, c->password);
	}
	mox_mem_free(c->alloc, c->username);
	mox_sasl_client_free(c->sasl);
	mox_mem_free(c->alloc, c->expect);
	mox_mem_free(c->alloc, c->cmds);
	mox_buf_free(&c->in);
	mox_buf_free(&c->out);
	mox_buf_free(&c->rtext);
	mox_buf_free(&c->cmdtext);
	mox_buf_free(&c->chunk);
	mox_mem_wipe(c->cb_data, sizeof(c->cb_data));
	mox_mem_free(c->alloc, c);
}

mox_err
mox_smtp_client_feed(mox_smtp_client *c, const void *data, size_t len)
{
	if (c == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (len == 0)
		return MOX_OK;
	size_t have = c->in.len - c->in_off;
	if (have + len > c->in_max || len > c->in_max)
		return MOX_ELIMIT;
	if (c->in_off > 0) {
		memmove(c->in.data, c->in.data + c->in_off, have);
		c->in.len = have;
		c->in.data[have] = 0;
		c->in_off = 0;
	}
	return mox_buf_append(&c->in, data, len);
}

void
mox_smtp_client_eof(mox_smtp_client *c)
{
	if (c != NULL)
		c->eof = true;
}

static int64_t
timeout_of(const mox_smtp_client *c, mox__smtpc_kind k)
{
	switch (k) {
	case MOX__SMTPC_K_DATA:
		return c->lim.data_timeout_ms;
	case MOX__SMTPC_K_DOT:
	case MOX__SMTPC_K_DOT_IGNORE:
	case MOX__SMTPC_K_BDAT:
	case MOX__SMTPC_K_BDAT_LAST:
		return c->lim.data_end_timeout_ms;
	default:
		return c->lim.command_timeout_ms;
	}
}

int64_t
mox_smtp_client_deadline(const mox_smtp_client *c)
{
	if (c == NULL || c->nexpect == 0 || c->wait_since < 0 ||
	    c->state == MOX__SMTPC_CLOSED)
		return INT64_MAX;
	return mox__smtp_add_time(c->wait_since,
	                          timeout_of(c, c->expect[c->expect_head].kind));
}

/* The connection failed while a reply was awaited (or while idle). */
static void
fail_lost(mox_smtp_client *c, mox_smtp_client_status st, const char *what)
{
	mox_smtp_client_step step = MOX_SMTP_CLIENT_STEP_CONNECT;
	if (c->nexpect > 0) {
		mox__smtpc_kind k = c->expect[c->expect_head].kind;
		if (k == MOX__SMTPC_K_QUIT) {
			/* We were leaving anyway. */
			clear_expect(c);
			c->state = MOX__SMTPC_CLOSED;
			return;
		}
		step = kind_step(k);
	} else if (c->state == MOX__SMTPC_TX && c->phase == MOX__SMTPC_TX_STREAM) {
		step = MOX_SMTP_CLIENT_STEP_DATA;
	}
	fail_local(c, step, st, "", what, false);
}

mox_err
mox_smtp_client_next(mox_smtp_client *c, int64_t now_ms, mox_smtp_client_event *ev)
{
	if (c == NULL || ev == NULL)
		return MOX_EINVAL;
	memset(ev, 0, sizeof(*ev));
	c->now = now_ms;
	for (;;) {
		if (c->q_len > 0) {
			c->cur = c->queue[c->q_head];
			c->q_head = (c->q_head + 1) % MOX__SMTPC_QUEUE_MAX;
			c->q_len--;
			switch (c->cur.ev.type) {
			case MOX_SMTP_CLIENT_EV_RCPT:
				c->cur.ev.u.rcpt.result.text = c->cur.text;
				break;
			case MOX_SMTP_CLIENT_EV_DONE:
				c->cur.ev.u.done.result.text = c->cur.text;
				break;
			default:
				c->cur.ev.u.error.result.text = c->cur.text;
				break;
			}
			*ev = c->cur.ev;
			return MOX_OK;
		}
		if (c->state == MOX__SMTPC_CLOSED) {
			ev->type = MOX_SMTP_CLIENT_EV_CLOSED;
			return MOX_OK;
		}
		if (c->state == MOX__SMTPC_READY && !c->ready_announced) {
			c->ready_announced = true;
			ev->type = MOX_SMTP_CLIENT_EV_READY;
			return MOX_OK;
		}
		if (c->state == MOX__SMTPC_TX && c->phase == MOX__SMTPC_TX_STREAM &&
		    !c->tx_failed && c->nexpect == 0 && !c->ready_announced) {
			/* ready_announced doubles as "data announced"
			 * during a transaction. */
			c->ready_announced = true;
			ev->type = MOX_SMTP_CLIENT_EV_DATA;
			return MOX_OK;
		}
		size_t have = c->in.len - c->in_off;
		if (have > 0) {
			if (mox_buf_reserve(&c->out, OUT_RESERVE) != MOX_OK ||
			    mox__smtpc_expect_reserve(c, 2) != MOX_OK)
				return MOX_ENOMEM;
			mox_buf_reset(&c->rtext);
			mox_smtp_reply r;
			mox_errinfo info;
			info.msg[0] = 0;
			mox_err err = mox_smtp_reply_parse(
			    c->in.data + c->in_off, have, c->lim.line_max,
			    c->lim.reply_lines_max, &r, &c->rtext, &info);
			if (err == MOX_ENOMEM)
				return MOX_ENOMEM;
			if (err == MOX_OK) {
				c->in_off += r.len;
				if (c->in_off == c->in.len)
					c->in_off = c->in.len = 0;
				handle_reply(c, &r, c->in.len - c->in_off);
				c->wait_since = c->nexpect > 0 ? now_ms : -1;
				continue;
			}
			if (err != MOX_EAGAIN) {
				char msg[300];
				snprintf(msg, sizeof(msg), "bad reply from server: %s",
				         info.msg);
				fail_lost(c, MOX_SMTP_CLIENT_PROTOCOL, msg);
				continue;
			}
			if (have >= c->in_max) {
				fail_lost(c, MOX_SMTP_CLIENT_PROTOCOL,
				          "reply from server too long");
				continue;
			}
		}
		if (c->nexpect > 0 && c->wait_since < 0)
			c->wait_since = now_ms;
		if (c->eof) {
			fail_lost(c, MOX_SMTP_CLIENT_CONNECTION,
			          c->nexpect > 0 ? "connection closed before reply"
			                         : "connection closed");
			continue;
		}
		if (c->nexpect > 0 && now_ms >= mox_smtp_client_deadline(c)) {
			fail_lost(c, MOX_SMTP_CLIENT_TIMEOUT,
			          "no reply from server in time");
			continue;
		}
		return MOX_EAGAIN;
	}
}

const uint8_t *
mox_smtp_client_output(const mox_smtp_client *c, size_t *len_out)
{
	if (c == NULL) {
		if (len_out != NULL)
			*len_out = 0;
		return NULL;
	}
	if (len_out != NULL)
		*len_out = c->out.len;
	return c->out.data;
}

void
mox_smtp_client_output_consume(mox_smtp_client *c, size_t n)
{
	if (c != NULL)
		mox_buf_consume(&c->out, n);
}

mox_err
mox_smtp_client_starttls_done(mox_smtp_client *c)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTPC_HANDSHAKE)
		return MOX_ESTATE;
	if (mox_buf_reserve(&c->out, OUT_RESERVE) != MOX_OK ||
	    mox__smtpc_expect_reserve(c, 1) != MOX_OK)
		return MOX_ENOMEM;
	/* RFC 3207 section 4.2: forget what the server said before TLS, and
	 * anything it sent that we did not read. */
	c->tls = true;
	c->ext = 0;
	c->server_mechs = 0;
	c->in_off = c->in.len = 0;
	say_ehlo(c, true);
	return MOX_OK;
}

mox_err
mox_smtp_client_set_channel_binding(mox_smtp_client *c, mox_sasl_cb_type type,
                                    const uint8_t *data, size_t len)
{
	if (c == NULL || type == MOX_SASL_CB_NONE || data == NULL || len == 0 ||
	    len > MOX_SASL_CB_DATA_MAX)
		return MOX_EINVAL;
	c->cb_type = type;
	memcpy(c->cb_data, data, len);
	c->cb_len = len;
	return MOX_OK;
}

void
mox_smtp_client_server_info(const mox_smtp_client *c, mox_smtp_client_server *info)
{
	if (info == NULL)
		return;
	memset(info, 0, sizeof(*info));
	info->greeting_name = "";
	if (c == NULL)
		return;
	info->ext = c->ext;
	info->ehlo = c->ehlo;
	info->size_max = c->size_max;
	info->auth_mechs = c->server_mechs;
	info->rcpt_max = c->rcpt_max;
	info->mail_max = c->mail_max;
	info->tls = c->tls;
	info->auth_mech = c->auth_mech;
	info->greeting_name = c->greeting_name;
}

mox_err
mox_smtp_client_quit(mox_smtp_client *c)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTPC_READY)
		return MOX_ESTATE;
	if (mox_buf_reserve(&c->out, 16) != MOX_OK ||
	    mox__smtpc_expect_reserve(c, 1) != MOX_OK)
		return MOX_ENOMEM;
	/* RFC 5321 section 4.1.1.10. */
	command(c, MOX__SMTPC_K_QUIT, "QUIT");
	c->state = MOX__SMTPC_QUIT;
	c->wait_since = -1;
	return MOX_OK;
}

const char *
mox_smtp_client_errmsg(const mox_smtp_client *c)
{
	return c != NULL ? c->errmsg : "";
}

/* ---- starting a transaction ---- */

/* RFC 3461 section 4: xtext = *( xchar / hexchar ), xchar is "!".."~"
 * except "+" and "=". */
static mox_err
xtext(mox_buf *b, const char *s)
{
	mox_err err = MOX_OK;
	for (; err == MOX_OK && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= '!' && ch <= '~' && ch != '+' && ch != '=')
			err = mox_buf_append_byte(b, ch);
		else
			err = mox_buf_appendf(b, "+%02X", ch);
	}
	return err;
}

static bool
ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static mox_err
parse_addr(mox_smtp_client *c, const char *what, const char *s, bool null_ok,
           mox_smtp_path *p)
{
	memset(p, 0, sizeof(*p));
	if (null_ok && s[0] == 0) {
		p->null = true;
		return MOX_OK;
	}
	mox_errinfo info;
	info.msg[0] = 0;
	mox_err err =
	    mox_smtp_address_parse(s, strlen(s), MOX_SMTP_PATH_UTF8, p, &info);
	if (err == MOX_ENOMEM)
		return err;
	if (err != MOX_OK) {
		snprintf(c->errmsg, sizeof(c->errmsg), "bad %s address: %s", what,
		         info.msg);
		return MOX_EINVAL;
	}
	return MOX_OK;
}

static mox_err
add_cmd(mox_smtp_client *c, mox__smtpc_kind kind, size_t index, size_t off)
{
	if (c->ncmds == c->cmds_cap) {
		size_t ncap = c->cmds_cap == 0 ? 8 : c->cmds_cap * 2;
		mox__smtpc_cmd *n =
		    mox_mem_reallocarray(c->alloc, c->cmds, ncap, sizeof(*n));
		if (n == NULL)
			return MOX_ENOMEM;
		c->cmds = n;
		c->cmds_cap = ncap;
	}
	mox_err err = mox_buf_append_str(&c->cmdtext, "\r\n");
	if (err != MOX_OK)
		return err;
	c->cmds[c->ncmds++] = (mox__smtpc_cmd){kind, index, off, c->cmdtext.len - off};
	return MOX_OK;
}

static void
refuse(mox_smtp_client *c, size_t nrcpts, const char *ecode, const char *text)
{
	mox__smtpc_qev q;
	c->ntried = nrcpts; /* the refusal is for every recipient */
	mox__smtpc_result(&q, MOX_SMTP_CLIENT_STEP_MAIL, MOX_SMTP_CLIENT_UNSUPPORTED, 0,
	                  ecode, text, strlen(text));
	push_event(c, MOX_SMTP_CLIENT_EV_DONE, &q, 0, false);
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", text);
	c->ready_announced = false;
}

mox_err
mox_smtp_client_mail(mox_smtp_client *c, const mox_smtp_client_tx *tx)
{
	if (c == NULL || tx == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTPC_READY || c->q_len >= MOX__SMTPC_QUEUE_MAX)
		return MOX_ESTATE;
	c->errmsg[0] = 0;
	if (tx->size < sizeof(*tx) || tx->from == NULL || tx->rcpts == NULL ||
	    tx->nrcpts == 0) {
		snprintf(c->errmsg, sizeof(c->errmsg), "no sender or no recipients");
		return MOX_EINVAL;
	}
	if (c->mail_max > 0 && c->transactions >= c->mail_max)
		return MOX_ELIMIT;
	if (tx->envid != NULL && (strlen(tx->envid) > 100 || !ascii(tx->envid))) {
		/* RFC 3461 section 4.4: at most 100 characters. */
		snprintf(c->errmsg, sizeof(c->errmsg), "bad ENVID");
		return MOX_EINVAL;
	}
	mox_smtp_path from;
	mox_err err = parse_addr(c, "sender", tx->from, true, &from);
	if (err != MOX_OK)
		return err;
	bool need_utf8 = tx->smtputf8 || !ascii(from.localpart);
	size_t ntry = tx->nrcpts;
	if (c->rcpt_max > 0 && ntry > c->rcpt_max)
		ntry = c->rcpt_max; /* RFC 9422 section 4.2 */
	mox_smtp_path *paths = mox_mem_calloc(c->alloc, ntry, sizeof(*paths));
	if (paths == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < tx->nrcpts; i++) {
		mox_smtp_path p, *pp = i < ntry ? &paths[i] : &p;
		if (tx->rcpts[i].addr == NULL) {
			snprintf(c->errmsg, sizeof(c->errmsg),
			         "recipient %zu has no address", i);
			err = MOX_EINVAL;
			goto out;
		}
		err = parse_addr(c, "recipient", tx->rcpts[i].addr, false, pp);
		if (err != MOX_OK)
			goto out;
		if (!ascii(pp->localpart))
			need_utf8 = true;
	}

	/* What the server must have for this message, as mox checks before
	 * sending anything. */
	if (tx->requiretls && (!c->tls || !(c->ext & MOX_SMTP_EXT_REQUIRETLS))) {
		/* RFC 8689 section 4.2.1: no delivery without it. */
		refuse(c, tx->nrcpts, "5.7.30",
		       "message requires TLS (REQUIRETLS) but server does not "
		       "support it or connection is not TLS");
		goto out;
	}
	if (tx->has_8bit && !(c->ext & MOX_SMTP_EXT_8BITMIME)) {
		/* RFC 6152 section 3: 8-bit data only with BODY=8BITMIME. */
		refuse(c, tx->nrcpts, "5.6.3",
		       "message has 8-bit data but server does not support "
		       "8BITMIME");
		goto out;
	}
	if (need_utf8 && !(c->ext & MOX_SMTP_EXT_SMTPUTF8)) {
		/* RFC 6531 section 3.2: no downgrade here. */
		refuse(c, tx->nrcpts, "5.6.7",
		       "message needs SMTPUTF8 but server does not support it");
		goto out;
	}
	if (c->size_max > 0 && tx->msg_size > c->size_max) {
		/* RFC 1870 section 6.1: a client SHOULD NOT send a message
		 * larger than the server's fixed limit. */
		char msg[160];
		snprintf(
		    msg, sizeof(msg),
		    "message of %llu bytes larger than server's limit of %llu bytes",
		    (unsigned long long)tx->msg_size, (unsigned long long)c->size_max);
		refuse(c, tx->nrcpts, "5.3.4", msg);
		goto out;
	}

	bool utf8 = need_utf8; /* the server has SMTPUTF8, checked above */
	bool dsn = (c->ext & MOX_SMTP_EXT_DSN) != 0;
	mox_buf_reset(&c->cmdtext);
	c->ncmds = c->cmds_pos = 0;
	/* MAIL FROM, RFC 5321 section 4.1.1.2, with parameters. */
	size_t off = c->cmdtext.len;
	err = mox_buf_append_str(&c->cmdtext, "MAIL FROM:");
	if (err == MOX_OK)
		err = mox_smtp_path_format(&from, utf8, &c->cmdtext);
	if (err == MOX_OK && tx->msg_size > 0 && (c->ext & MOX_SMTP_EXT_SIZE))
		err = mox_buf_appendf(
		    &c->cmdtext, " SIZE=%llu",
		    (unsigned long long)tx->msg_size); /* RFC 1870 section 3 */
	if (err == MOX_OK && tx->has_8bit)
		err = mox_buf_append_str(&c->cmdtext,
		                         " BODY=8BITMIME"); /* RFC 6152 section 2 */
	if (err == MOX_OK && need_utf8)
		err = mox_buf_append_str(&c->cmdtext,
		                         " SMTPUTF8"); /* RFC 6531 section 3.4 */
	if (err == MOX_OK && tx->requiretls)
		err = mox_buf_append_str(&c->cmdtext,
		                         " REQUIRETLS"); /* RFC 8689 section 4.1 */
	if (err == MOX_OK && dsn &&
	    tx->ret != MOX_SMTP_RET_NONE) /* RFC 3461 section 4.3 */
		err = mox_buf_append_str(&c->cmdtext, tx->ret == MOX_SMTP_RET_FULL
		                                          ? " RET=FULL"
		                                          : " RET=HDRS");
	if (err == MOX_OK && dsn && tx->envid != NULL) { /* RFC 3461 section 4.4 */
		err = mox_buf_append_str(&c->cmdtext, " ENVID=");
		if (err == MOX_OK)
			err = xtext(&c->cmdtext, tx->envid);
	}
	if (err == MOX_OK)
		err = add_cmd(c, MOX__SMTPC_K_MAIL, 0, off);
	for (size_t i = 0; err == MOX_OK && i < ntry; i++) {
		/* RCPT TO, RFC 5321 section 4.1.1.3. */
		const mox_smtp_client_rcpt *rc = &tx->rcpts[i];
		off = c->cmdtext.len;
		err = mox_buf_append_str(&c->cmdtext, "RCPT TO:");
		if (err == MOX_OK)
			err = mox_smtp_path_format(&paths[i], utf8, &c->cmdtext);
		if (err == MOX_OK && dsn && rc->notify != 0) {
			/* RFC 3461 section 4.1: NEVER, or a list. */
			if (rc->notify & MOX_SMTP_NOTIFY_NEVER) {
				err = mox_buf_append_str(&c->cmdtext, " NOTIFY=NEVER");
			} else {
				const char *sep = " NOTIFY=";
				static const struct {
					unsigned bit;
					const char *name;
				} nt[] = {{MOX_SMTP_NOTIFY_SUCCESS, "SUCCESS"},
				          {MOX_SMTP_NOTIFY_FAILURE, "FAILURE"},
				          {MOX_SMTP_NOTIFY_DELAY, "DELAY"}};
				for (size_t k = 0; err == MOX_OK && k < 3; k++) {
					if (!(rc->notify & nt[k].bit))
						continue;
					err = mox_buf_appendf(&c->cmdtext, "%s%s", sep,
					                      nt[k].name);
					sep = ",";
				}
			}
		}
		if (err == MOX_OK && dsn && rc->orcpt != NULL && rc->orcpt[0] != 0 &&
		    ascii(rc->orcpt)) {
			/* RFC 3461 section 4.2: addr-type ";" xtext. */
			err = mox_buf_append_str(&c->cmdtext, " ORCPT=rfc822;");
			if (err == MOX_OK)
				err = xtext(&c->cmdtext, rc->orcpt);
		}
		if (err == MOX_OK)
			err = add_cmd(c, MOX__SMTPC_K_RCPT, i, off);
	}
	bool bdat = (c->ext & MOX_SMTP_EXT_CHUNKING) && !tx->no_chunking;
	if (err == MOX_OK && !bdat && (c->ext & MOX_SMTP_EXT_PIPELINING)) {
		/* RFC 2920 section 3.1: DATA may end the group. */
		off = c->cmdtext.len;
		err = mox_buf_append_str(&c->cmdtext, "DATA");
		if (err == MOX_OK)
			err = add_cmd(c, MOX__SMTPC_K_DATA, 0, off);
	}
	if (err == MOX_OK)
		err = mox_buf_reserve(&c->out, c->cmdtext.len + OUT_RESERVE);
	if (err == MOX_OK)
		err = mox__smtpc_expect_reserve(c, c->ncmds + 2);
	if (err != MOX_OK) {
		c->ncmds = 0;
		mox_buf_reset(&c->cmdtext);
		goto out;
	}
	c->state = MOX__SMTPC_TX;
	c->ready_announced = false;
	c->phase = MOX__SMTPC_TX_CMDS;
	c->nrcpts = tx->nrcpts;
	c->ntried = ntry;
	c->rcpt_replies = 0;
	c->accepted = 0;
	c->mail_ok = false;
	c->tx_failed = false;
	c->bdat = bdat;
	c->pending_cr = false;
	c->bol = true;
	c->data_blocked = false;
	c->end_pending = false;
	mox__smtpc_result(&c->last_rcpt_fail, MOX_SMTP_CLIENT_STEP_RCPT,
	                  MOX_SMTP_CLIENT_PERMFAIL, 0, "", "no recipients accepted",
	                  22);
	mox__smtpc_result(&c->fail, MOX_SMTP_CLIENT_STEP_NONE, MOX_SMTP_CLIENT_OK, 0,
	                  "", "", 0);
	c->transactions++;
	c->wait_since = -1;
	flush_cmds(c);
out:
	mox_mem_free(c->alloc, paths);
	return err;
}
