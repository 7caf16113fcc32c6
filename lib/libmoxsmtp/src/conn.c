/* The server side of one SMTP connection, sans-IO.
 *
 * How this works. Input is appended to `in` by feed and consumed from
 * `in_off` by next. next runs a loop: return a queued event if there is
 * one; otherwise, by state, take one command line (ST_CMD), one AUTH
 * response line (ST_AUTH), skip the rest of an overlong line (ST_DISCARD),
 * or take message bytes (ST_DATA, ST_BDAT). Command handlers (cmd_*.c)
 * validate sequence and syntax, replying 5xx themselves, then queue an event;
 * events that need an answer put the connection in ST_WAIT, and nothing
 * more is read until the answer (accept, reply, auth_*) comes. That is what
 * keeps pipelined replies in order (RFC 2920 section 3.1).
 *
 * Limits: a command line longer than line_max is dropped up to its LF and
 * answered 500; unprocessed input never exceeds input_max (feed refuses);
 * commands stop being taken while output holds output_max bytes; EV_DATA
 * events carry at most chunk_max bytes; errors_max error replies and
 * auth_failures_max failed AUTHs close the connection with 421.
 *
 * Time: the caller passes now_ms to next. A command must be complete within
 * command_timeout_ms of the previous reply (counted from when the core
 * started waiting, so a client trickling bytes does not extend it), and a
 * DATA body or BDAT chunk within data_timeout_ms (RFC 5321 section
 * 4.5.3.2).
 *
 * Memory: before a command is taken, output room for its replies is
 * reserved (and the chunk buffer for DATA/BDAT), so running out of memory
 * shows as MOX_ENOMEM from next with the line still unread. */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

void
mox_smtp_limits_default(mox_smtp_limits *l)
{
	if (l == NULL)
		return;
	memset(l, 0, sizeof(*l));
	l->size = sizeof(*l);
	l->line_max = 2048;
	l->auth_line_max = 12288;
	l->input_max = 64 * 1024;
	l->output_max = 64 * 1024;
	l->chunk_max = 32 * 1024;
	l->message_max = 100 * 1024 * 1024;
	l->rcpt_max = 1000;
	l->mail_max = 0;
	l->data_line_max = 0;
	l->errors_max = 20;
	l->auth_failures_max = 5;
	l->command_timeout_ms = 5 * 60 * 1000;
	l->data_timeout_ms = 30 * 60 * 1000;
}

mox_err
mox_smtp_conn_new(mox_smtp_conn **conn_out, const mox_smtp_conn_opts *opts)
{
	if (conn_out == NULL)
		return MOX_EINVAL;
	*conn_out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) || opts->hostname == NULL ||
	    opts->hostname[0] == 0 || strlen(opts->hostname) > MOX_SMTP_DOMAIN_MAX)
		return MOX_EINVAL;
	for (const char *p = opts->hostname; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return MOX_EINVAL;
	if (opts->greeting != NULL)
		for (const char *p = opts->greeting; *p; p++)
			if (*p == '\r' || *p == '\n')
				return MOX_EINVAL;
	mox_smtp_limits lim;
	mox_smtp_limits_default(&lim);
	if (opts->limits != NULL) {
		const mox_smtp_limits *l = opts->limits;
		if (l->size < sizeof(*l))
			return MOX_EINVAL;
#define TAKE(f)                                                                \
	if (l->f != 0)                                                         \
		lim.f = l->f;
		TAKE(line_max)
		TAKE(auth_line_max)
		TAKE(input_max)
		TAKE(output_max)
		TAKE(chunk_max)
		TAKE(message_max)
		TAKE(rcpt_max)
		TAKE(mail_max)
		TAKE(data_line_max)
		TAKE(errors_max)
		TAKE(auth_failures_max)
		TAKE(command_timeout_ms)
		TAKE(data_timeout_ms)
#undef TAKE
	}
	if (lim.line_max < 64 || lim.auth_line_max < 64 ||
	    lim.input_max < lim.line_max + 2 || lim.input_max < lim.auth_line_max + 2 ||
	    lim.chunk_max < 64 || lim.output_max < 1024 || lim.command_timeout_ms < 0 ||
	    lim.data_timeout_ms < 0 || lim.message_max > (uint64_t)INT64_MAX ||
	    opts->future_release_max < 0)
		return MOX_EINVAL;
	mox_smtp_conn *c = mox_mem_calloc(opts->alloc, 1, sizeof(*c));
	if (c == NULL)
		return MOX_ENOMEM;
	c->alloc = opts->alloc;
	c->lim = lim;
	c->flags = opts->flags;
	c->auth_mechs = opts->auth_mechs != 0 ? (opts->auth_mechs & MOX_SASL_ALL) : MOX_SASL_ALL;
	c->future_release_max = opts->future_release_max;
	snprintf(c->hostname, sizeof(c->hostname), "%s", opts->hostname);
	c->random = opts->random;
	c->random_arg = opts->random_arg;
	c->tls = (opts->flags & MOX_SMTP_CONN_TLS) != 0;
	c->now = opts->now_ms;
	c->wait_since = opts->now_ms;
	mox_buf_init(&c->in, c->alloc);
	mox_buf_init(&c->out, c->alloc);
	mox_buf_init(&c->chunk, c->alloc);
	if (!opts->no_greeting) {
		/* RFC 5321 section 4.2: "220 " domain [SP text]; no enhanced
		 * code in the greeting (RFC 2034 section 3). */
		if (mox_buf_appendf(&c->out, "220 %s %s\r\n", c->hostname,
				    opts->greeting != NULL ? opts->greeting : "ESMTP") != MOX_OK) {
			mox_smtp_conn_free(c);
			return MOX_ENOMEM;
		}
	}
	*conn_out = c;
	return MOX_OK;
}

void
mox_smtp_conn_free(mox_smtp_conn *c)
{
	if (c == NULL)
		return;
	mox_sasl_server_free(c->sasl);
	/* Input may hold AUTH lines with passwords. */
	if (c->in.data != NULL)
		mox_mem_wipe(c->in.data, c->in.cap);
	mox_buf_free(&c->in);
	mox_buf_free(&c->out);
	mox_buf_free(&c->chunk);
	const mox_allocator *a = c->alloc;
	mox_mem_wipe(c, sizeof(*c));
	mox_mem_free(a, c);
}

int64_t
mox__smtp_add_time(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* ---- replies and events ---- */

void
mox__smtp_reply(mox_smtp_conn *c, int code, int se, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Room was reserved; a failure here would only drop the reply. */
	(void)mox_smtp_reply_write(&c->out, code, se, text);
}

void
mox__smtp_error(mox_smtp_conn *c, int code, int se, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	(void)mox_smtp_reply_write(&c->out, code, se, text);
	snprintf(c->errmsg, sizeof(c->errmsg), "%d %s", code, text);
	c->errors++;
	if (c->errors >= c->lim.errors_max)
		mox__smtp_close(c, 421, MOX_SMTP_SE_POL_OTHER, "too many errors, closing");
}

void
mox__smtp_push(mox_smtp_conn *c, const mox_smtp_event *ev)
{
	if (MOX_NEVER(c->q_len >= MOX__SMTP_QUEUE_MAX))
		return;
	c->queue[(c->q_head + c->q_len) % MOX__SMTP_QUEUE_MAX] = *ev;
	c->q_len++;
}

void
mox__smtp_close(mox_smtp_conn *c, int code, int se, const char *text)
{
	if (c->state == MOX__SMTP_ST_CLOSED)
		return;
	if (code != 0)
		(void)mox_smtp_reply_write(&c->out, code, se, text);
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", text);
	mox__smtp_auth_end(c);
	c->state = MOX__SMTP_ST_CLOSED;
	c->wait = MOX__SMTP_W_NONE;
}

void
mox__smtp_rset(mox_smtp_conn *c, bool emit_reset)
{
	if (c->have_mail && emit_reset) {
		mox_smtp_event ev = {.type = MOX_SMTP_EV_RESET};
		mox__smtp_push(c, &ev);
	}
	c->have_mail = false;
	memset(&c->mail_from, 0, sizeof(c->mail_from));
	memset(&c->params, 0, sizeof(c->params));
	c->auth_param[0] = 0;
	c->rcpts = 0;
	c->in_data = false;
	c->bdat = false;
	c->msg_size = 0;
	c->has_8bit = false;
	c->bad_crlf = false;
	c->too_big = false;
	c->line_too_long = false;
}

void
mox__smtp_wait_for(mox_smtp_conn *c, mox__smtp_wait w, const mox_smtp_event *ev)
{
	mox__smtp_push(c, ev);
	c->wait = w;
	c->state = MOX__SMTP_ST_WAIT;
}

/* ---- the argument cursor ---- */

static char
upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

bool
mox__smtp_args_take(mox__smtp_args *a, const char *lit)
{
	size_t n = strlen(lit);
	if (a->len - a->pos < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper(a->s[a->pos + i]) != upper(lit[i]))
			return false;
	a->pos += n;
	return true;
}

bool
mox__smtp_args_space(mox__smtp_args *a)
{
	return mox__smtp_args_take(a, " ");
}

bool
mox__smtp_args_end(mox_smtp_conn *c, mox__smtp_args *a)
{
	if (c->flags & MOX_SMTP_CONN_SUBMISSION)
		return a->pos == a->len;
	/* RFC 5321 section 4.1.1 has no trailing white space, but mox
	 * accepts it from the wild. */
	for (size_t i = a->pos; i < a->len; i++)
		if (a->s[i] != ' ' && a->s[i] != '\t')
			return false;
	a->pos = a->len;
	return true;
}

static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool
mox__smtp_args_string(mox__smtp_args *a)
{
	size_t p = a->pos;
	if (p < a->len && a->s[p] == '"') {
		for (p++; p < a->len; p++) {
			unsigned char c = (unsigned char)a->s[p];
			if (c == '"') {
				a->pos = p + 1;
				return true;
			}
			if (c == '\\') {
				if (p + 1 >= a->len || (unsigned char)a->s[p + 1] < 32 ||
				    (unsigned char)a->s[p + 1] > 126)
					return false;
				p++;
			} else if (c < 32 || c == 127) {
				return false;
			}
		}
		return false;
	}
	while (p < a->len && is_atext((unsigned char)a->s[p]))
		p++;
	if (p == a->pos)
		return false;
	a->pos = p;
	return true;
}

bool
mox__smtp_args_keyword(mox__smtp_args *a, char *out, size_t out_size)
{
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	size_t p = a->pos, n = 0;
	while (p < a->len) {
		char c = a->s[p];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || (c == '-' && n > 0);
		if (!ok)
			break;
		if (n + 1 >= out_size)
			return false;
		out[n++] = upper(c);
		p++;
	}
	if (n == 0)
		return false;
	out[n] = 0;
	a->pos = p;
	return true;
}

bool
mox__smtp_args_value(mox__smtp_args *a, bool utf8, const char **v, size_t *n)
{
	/* esmtp-value = 1*(%d33-60 / %d62-126); RFC 6531: / UTF8-non-ascii */
	size_t p = a->pos;
	while (p < a->len) {
		unsigned char c = (unsigned char)a->s[p];
		if ((c >= 33 && c <= 126 && c != '=') || (utf8 && c >= 0x80))
			p++;
		else
			break;
	}
	if (p == a->pos)
		return false;
	*v = a->s + a->pos;
	*n = p - a->pos;
	a->pos = p;
	return true;
}

bool
mox__smtp_args_number(mox__smtp_args *a, size_t max_digits, uint64_t *out)
{
	size_t p = a->pos;
	uint64_t v = 0;
	while (p < a->len && a->s[p] >= '0' && a->s[p] <= '9' && p - a->pos < max_digits) {
		uint64_t d = (uint64_t)(a->s[p] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		p++;
	}
	if (p == a->pos || (p < a->len && a->s[p] >= '0' && a->s[p] <= '9'))
		return false;
	*out = v;
	a->pos = p;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
mox__smtp_xtext_decode(const char *s, size_t n, char *out, size_t out_size)
{
	/* xtext = *( xchar / hexchar ); xchar = any ASCII from "!" to "~"
	 * except "+" and "="; hexchar = "+" 2(%x30-39 / %x41-46) */
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			c = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			if (c == 0)
				return false;
			i += 2;
		} else if ((unsigned char)c < '!' || (unsigned char)c > '~' || c == '=') {
			return false;
		}
		if (o + 1 >= out_size)
			return false;
		out[o++] = c;
	}
	out[o] = 0;
	return true;
}

/* ---- input ---- */

size_t
mox_smtp_conn_input_room(const mox_smtp_conn *c)
{
	if (c == NULL || c->state == MOX__SMTP_ST_CLOSED || c->state == MOX__SMTP_ST_STARTTLS)
		return 0;
	size_t used = c->in.len - c->in_off;
	return used >= c->lim.input_max ? 0 : c->lim.input_max - used;
}

mox_err
mox_smtp_conn_feed(mox_smtp_conn *c, const void *data, size_t len)
{
	if (c == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (c->state == MOX__SMTP_ST_STARTTLS)
		return MOX_ESTATE;
	if (c->state == MOX__SMTP_ST_CLOSED)
		return MOX_OK; /* nobody will read it */
	if (len > mox_smtp_conn_input_room(c))
		return MOX_ELIMIT;
	if (len == 0)
		return MOX_OK;
	/* Compact: move what is left to the front. */
	if (c->in_off > 0) {
		size_t rest = c->in.len - c->in_off;
		memmove(c->in.data, c->in.data + c->in_off, rest);
		c->in.len = rest;
		c->in_off = 0;
	}
	return mox_buf_append(&c->in, data, len);
}

/* ---- output ---- */

const uint8_t *
mox_smtp_conn_output(const mox_smtp_conn *c, size_t *len_out)
{
	if (len_out != NULL)
		*len_out = c != NULL ? c->out.len : 0;
	if (c == NULL || c->out.data == NULL)
		return (const uint8_t *)"";
	return c->out.data;
}

void
mox_smtp_conn_output_consume(mox_smtp_conn *c, size_t n)
{
	if (c != NULL)
		mox_buf_consume(&c->out, n);
}

/* ---- commands ---- */

typedef enum verb {
	V_UNKNOWN,
	V_HELO,
	V_EHLO,
	V_STARTTLS,
	V_AUTH,
	V_MAIL,
	V_RCPT,
	V_DATA,
	V_BDAT,
	V_RSET,
	V_VRFY,
	V_EXPN,
	V_HELP,
	V_NOOP,
	V_QUIT,
} verb;

static const struct {
	const char *name;
	verb v;
} verbs[] = {
	{"HELO", V_HELO}, {"EHLO", V_EHLO}, {"STARTTLS", V_STARTTLS}, {"AUTH", V_AUTH},
	{"MAIL", V_MAIL}, {"RCPT", V_RCPT}, {"DATA", V_DATA},         {"BDAT", V_BDAT},
	{"RSET", V_RSET}, {"VRFY", V_VRFY}, {"EXPN", V_EXPN},         {"HELP", V_HELP},
	{"NOOP", V_NOOP}, {"QUIT", V_QUIT},
};

static verb
find_verb(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const char *v = verbs[i].name;
		if (strlen(v) != n)
			continue;
		size_t k = 0;
		while (k < n && upper(s[k]) == v[k])
			k++;
		if (k == n)
			return verbs[i].v;
	}
	return V_UNKNOWN;
}

static mox_err
dispatch(mox_smtp_conn *c, verb v, mox__smtp_args *a)
{
	switch (v) {
	case V_HELO:
		return mox__smtp_cmd_hello(c, a, false);
	case V_EHLO:
		return mox__smtp_cmd_hello(c, a, true);
	case V_STARTTLS:
		return mox__smtp_cmd_starttls(c, a);
	case V_AUTH:
		return mox__smtp_cmd_auth(c, a);
	case V_MAIL:
		return mox__smtp_cmd_mail(c, a);
	case V_RCPT:
		return mox__smtp_cmd_rcpt(c, a);
	case V_DATA:
		return mox__smtp_cmd_data(c, a);
	case V_BDAT:
		return mox__smtp_cmd_bdat(c, a);
	case V_RSET:
		return mox__smtp_cmd_rset(c, a);
	case V_VRFY:
		return mox__smtp_cmd_vrfy(c, a, false);
	case V_EXPN:
		return mox__smtp_cmd_vrfy(c, a, true);
	case V_HELP:
		return mox__smtp_cmd_help(c, a);
	case V_NOOP:
		return mox__smtp_cmd_noop(c, a);
	case V_QUIT:
		return mox__smtp_cmd_quit(c, a);
	case V_UNKNOWN:
		break;
	}
	return MOX_OK;
}

/* Take one line in ST_CMD or ST_AUTH. MOX_EAGAIN: no complete line. */
static mox_err
take_line(mox_smtp_conn *c)
{
	bool auth = c->state == MOX__SMTP_ST_AUTH;
	size_t max = auth ? c->lim.auth_line_max : c->lim.line_max;
	const uint8_t *start = c->in.data != NULL ? c->in.data + c->in_off : NULL;
	size_t avail = c->in.len - c->in_off;
	const uint8_t *lf = avail > 0 ? memchr(start, '\n', avail) : NULL;
	if (lf == NULL) {
		if (avail >= max) {
			/* Too long already: drop it up to its end. */
			c->in_off = c->in.len;
			c->state = MOX__SMTP_ST_DISCARD;
			c->resume_auth = auth;
			return MOX_OK;
		}
		return MOX_EAGAIN;
	}
	size_t n = (size_t)(lf - start) + 1; /* with LF */
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	if (n > max) {
		c->in_off += n;
		c->wait_since = -1;
		c->resume_auth = auth;
		goto toolong;
	}
	/* The line without LF and an optional CR before it: mox takes bare
	 * LF as a command line end too. */
	size_t len = n - 1;
	if (len > 0 && start[len - 1] == '\r')
		len--;
	const char *line = (const char *)start;
	if (auth) {
		mox_err err = mox__smtp_auth_line(c, line, len);
		if (err != MOX_OK)
			return err;
		c->in_off += n;
		c->wait_since = -1;
		return MOX_OK;
	}
	size_t vl = 0;
	while (vl < len && line[vl] != ' ')
		vl++;
	verb v = find_verb(line, vl);
	if (v == V_DATA || v == V_BDAT) {
		if (mox_buf_reserve(&c->chunk, c->lim.chunk_max + 8) != MOX_OK)
			return MOX_ENOMEM;
	}
	mox__smtp_args a = {.s = line + vl, .len = len - vl, .pos = 0};
	size_t out_len = c->out.len;
	c->in_off += n;
	c->wait_since = -1;
	if (v == V_UNKNOWN) {
		if (c->ncmds == 0) {
			/* The other side probably speaks something else; its
			 * next lines would only add errors (mox). */
			mox__smtp_close(c, 500, MOX_SMTP_SE_PROTO_SYNTAX,
					"please try again speaking smtp");
			return MOX_OK;
		}
		/* RFC 5321 section 4.2.4: 500 for unrecognized commands. */
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "unknown command");
		return MOX_OK;
	}
	c->ncmds++;
	mox_err err = dispatch(c, v, &a);
	if (err != MOX_OK) {
		/* Nothing changed: put the line back. */
		c->ncmds--;
		c->in_off -= n;
		c->out.len = out_len;
		if (c->out.data != NULL)
			c->out.data[out_len] = 0;
	}
	return err;
toolong:
	if (auth) {
		/* RFC 4954 section 4: 500 5.5.6 */
		mox__smtp_auth_end(c);
		c->state = MOX__SMTP_ST_CMD;
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_AUTH_TOO_LONG,
				"authentication exchange line too long");
		mox_smtp_event ev = {.type = MOX_SMTP_EV_AUTH_RESULT};
		ev.u.auth_result.mech = c->sasl_mech;
		ev.u.auth_result.failure = MOX_SASL_FAIL_MALFORMED;
		mox__smtp_push(c, &ev);
	} else {
		/* RFC 5321 section 4.5.3.1.4 */
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_SYNTAX, "line too long, max %zu octets",
				max);
	}
	return MOX_OK;
}

/* ST_DISCARD: drop input up to and including the next LF. MOX_EAGAIN: no
 * input. */
static mox_err
discard(mox_smtp_conn *c)
{
	size_t avail = c->in.len - c->in_off;
	if (avail == 0)
		return MOX_EAGAIN;
	const uint8_t *start = c->in.data + c->in_off;
	const uint8_t *lf = memchr(start, '\n', avail);
	if (lf == NULL) {
		c->in_off = c->in.len;
		return MOX_OK;
	}
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	c->in_off += (size_t)(lf - start) + 1;
	c->wait_since = -1;
	bool auth = c->resume_auth;
	c->state = MOX__SMTP_ST_CMD;
	if (auth) {
		mox__smtp_auth_end(c);
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_AUTH_TOO_LONG,
				"authentication exchange line too long");
		mox_smtp_event ev = {.type = MOX_SMTP_EV_AUTH_RESULT};
		ev.u.auth_result.mech = c->sasl_mech;
		ev.u.auth_result.failure = MOX_SASL_FAIL_MALFORMED;
		mox__smtp_push(c, &ev);
	} else {
		mox__smtp_error(c, 500, MOX_SMTP_SE_PROTO_SYNTAX, "line too long, max %zu octets",
				c->lim.line_max);
	}
	return MOX_OK;
}

static mox_err
timeout(mox_smtp_conn *c, bool data)
{
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	if (data && (c->state == MOX__SMTP_ST_DATA ||
		     (c->state == MOX__SMTP_ST_BDAT && c->in_data && !c->bdat_discard))) {
		mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_ABORT};
		ev.u.data_abort.code = 421;
		ev.u.data_abort.reason = "timeout";
		mox__smtp_push(c, &ev);
	}
	/* RFC 5321 section 4.5.3.2: the server may close after a timeout;
	 * 421 first (RFC 3463 X.4.2 bad connection). */
	mox__smtp_close(c, 421, MOX_SMTP_SE_NET_BAD_CONNECTION, "timeout, closing");
	return MOX_OK;
}

static void
pop(mox_smtp_conn *c, mox_smtp_event *ev)
{
	*ev = c->queue[c->q_head];
	c->q_head = (c->q_head + 1) % MOX__SMTP_QUEUE_MAX;
	c->q_len--;
}

mox_err
mox_smtp_conn_next(mox_smtp_conn *c, int64_t now, mox_smtp_event *ev)
{
	if (c == NULL || ev == NULL)
		return MOX_EINVAL;
	memset(ev, 0, sizeof(*ev));
	c->now = now;
	for (;;) {
		if (c->q_len > 0) {
			pop(c, ev);
			return MOX_OK;
		}
		switch (c->state) {
		case MOX__SMTP_ST_CLOSED:
			ev->type = MOX_SMTP_EV_CLOSE;
			ev->u.close.code = c->close_code;
			ev->u.close.reason = c->close_reason;
			return MOX_OK;
		case MOX__SMTP_ST_WAIT:
		case MOX__SMTP_ST_STARTTLS:
			return MOX_ESTATE;
		default:
			break;
		}
		if (c->out.len >= c->lim.output_max)
			return MOX_EAGAIN;
		switch (c->state) {
		case MOX__SMTP_ST_CMD:
		case MOX__SMTP_ST_AUTH: {
			mox_err err = take_line(c);
			if (err == MOX_EAGAIN) {
				if (c->wait_since < 0)
					c->wait_since = now;
				if (now >= mox__smtp_add_time(c->wait_since,
							      c->lim.command_timeout_ms)) {
					if (timeout(c, false) != MOX_OK)
						return MOX_ENOMEM;
					continue;
				}
			}
			if (err != MOX_OK)
				return err;
			break;
		}
		case MOX__SMTP_ST_DISCARD: {
			mox_err err = discard(c);
			if (err == MOX_ENOMEM)
				return err;
			if (err == MOX_EAGAIN) {
				if (c->wait_since < 0)
					c->wait_since = now;
				if (now >= mox__smtp_add_time(c->wait_since,
							      c->lim.command_timeout_ms)) {
					if (timeout(c, false) != MOX_OK)
						return MOX_ENOMEM;
					continue;
				}
				return MOX_EAGAIN;
			}
			break;
		}
		case MOX__SMTP_ST_DATA:
		case MOX__SMTP_ST_BDAT: {
			mox_err err = c->state == MOX__SMTP_ST_DATA ? mox__smtp_data_input(c)
								    : mox__smtp_bdat_input(c);
			if (err == MOX_ENOMEM)
				return err;
			if (err == MOX_EAGAIN) {
				if (now >= c->data_deadline) {
					if (timeout(c, true) != MOX_OK)
						return MOX_ENOMEM;
					continue;
				}
				return MOX_EAGAIN;
			}
			break;
		}
		default:
			return MOX_ESTATE;
		}
	}
}

int64_t
mox_smtp_conn_deadline(const mox_smtp_conn *c)
{
	if (c == NULL)
		return INT64_MAX;
	switch (c->state) {
	case MOX__SMTP_ST_CMD:
	case MOX__SMTP_ST_AUTH:
	case MOX__SMTP_ST_DISCARD:
		if (c->q_len > 0 || c->wait_since < 0)
			return INT64_MAX;
		return mox__smtp_add_time(c->wait_since, c->lim.command_timeout_ms);
	case MOX__SMTP_ST_DATA:
	case MOX__SMTP_ST_BDAT:
		return c->data_deadline;
	default:
		return INT64_MAX;
	}
}

/* ---- answers ---- */

static void
answered(mox_smtp_conn *c)
{
	c->wait = MOX__SMTP_W_NONE;
	if (c->state == MOX__SMTP_ST_WAIT)
		c->state = MOX__SMTP_ST_CMD;
	c->wait_since = -1;
}

static void
after_reply(mox_smtp_conn *c, mox__smtp_wait w, int code)
{
	bool ok = code >= 200 && code < 300;
	switch (w) {
	case MOX__SMTP_W_HELLO:
		break;
	case MOX__SMTP_W_MAIL:
		if (ok) {
			c->have_mail = true;
			c->transactions++;
		} else {
			mox__smtp_rset(c, false);
		}
		break;
	case MOX__SMTP_W_RCPT:
		if (ok)
			c->rcpts++;
		break;
	case MOX__SMTP_W_DATA_END:
		mox__smtp_rset(c, false);
		break;
	case MOX__SMTP_W_AUTH:
		mox__smtp_auth_end(c);
		break;
	case MOX__SMTP_W_NONE:
		break;
	}
	answered(c);
	if (code == 421) {
		mox__smtp_close(c, 0, MOX_SMTP_SE_NONE, "closed by caller");
		c->close_code = 421;
	}
}

mox_err
mox_smtp_conn_accept(mox_smtp_conn *c)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTP_ST_WAIT || c->wait == MOX__SMTP_W_NONE ||
	    c->wait == MOX__SMTP_W_AUTH)
		return MOX_ESTATE;
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	mox__smtp_wait w = c->wait;
	switch (w) {
	case MOX__SMTP_W_HELLO:
		mox__smtp_hello_reply(c);
		break;
	case MOX__SMTP_W_MAIL:
		mox__smtp_reply(c, 250, MOX_SMTP_SE_ADDR_OTHER, "looking good");
		break;
	case MOX__SMTP_W_RCPT:
		mox__smtp_reply(c, 250, MOX_SMTP_SE_ADDR_VALID, "now on the list");
		break;
	case MOX__SMTP_W_DATA_END:
		mox__smtp_reply(c, 250, MOX_SMTP_SE_OTHER, "it is done");
		break;
	default:
		return MOX_ESTATE;
	}
	after_reply(c, w, 250);
	return MOX_OK;
}

mox_err
mox_smtp_conn_reply(mox_smtp_conn *c, int code, int se, const char *text)
{
	if (c == NULL || code < 200 || code > 599 || se < MOX_SMTP_SE_NONE || se >= 1000000)
		return MOX_EINVAL;
	if (c->state != MOX__SMTP_ST_WAIT || c->wait == MOX__SMTP_W_NONE)
		return MOX_ESTATE;
	mox__smtp_wait w = c->wait;
	if ((w == MOX__SMTP_W_HELLO || w == MOX__SMTP_W_AUTH) && code < 400)
		return MOX_EINVAL;
	mox_err err = mox_smtp_reply_write(&c->out, code, se, text);
	if (err != MOX_OK)
		return err;
	if (code >= 400)
		snprintf(c->errmsg, sizeof(c->errmsg), "%d %s", code, text != NULL ? text : "");
	after_reply(c, w, code);
	return MOX_OK;
}

/* The SASL calls behind the auth answers. */
typedef enum auth_answer { A_VERDICT, A_PASSWORD, A_SCRAM } auth_answer;

static mox_err
auth_answer_do(mox_smtp_conn *c, auth_answer kind, bool ok, const uint8_t *pw, size_t len,
	       const mox_sasl_scram_secret *secret)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTP_ST_WAIT || c->wait != MOX__SMTP_W_AUTH || c->sasl == NULL)
		return MOX_ESTATE;
	if (mox_buf_reserve(&c->out, MOX__SMTP_OUT_RESERVE) != MOX_OK)
		return MOX_ENOMEM;
	mox_sasl_status st;
	mox_err err;
	switch (kind) {
	case A_VERDICT:
		err = mox_sasl_server_verdict(c->sasl, ok, &st);
		break;
	case A_PASSWORD:
		err = mox_sasl_server_set_password(c->sasl, pw, len, &st);
		break;
	default:
		err = mox_sasl_server_set_scram(c->sasl, secret, &st);
		break;
	}
	if (err != MOX_OK)
		return err;
	answered(c);
	mox__smtp_auth_continue(c, st);
	return MOX_OK;
}

mox_err
mox_smtp_conn_auth_verdict(mox_smtp_conn *c, bool ok)
{
	return auth_answer_do(c, A_VERDICT, ok, NULL, 0, NULL);
}

mox_err
mox_smtp_conn_auth_password(mox_smtp_conn *c, const uint8_t *password, size_t len)
{
	if (password == NULL && len > 0)
		return MOX_EINVAL;
	return auth_answer_do(c, A_PASSWORD, false, password, len, NULL);
}

mox_err
mox_smtp_conn_auth_cram_md5(const mox_smtp_conn *c, const uint8_t **challenge_out,
			    size_t *challenge_len_out, const char **digest_out)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTP_ST_WAIT || c->wait != MOX__SMTP_W_AUTH || c->sasl == NULL)
		return MOX_ESTATE;
	return mox_sasl_server_cram_md5(c->sasl, challenge_out, challenge_len_out, digest_out);
}

mox_err
mox_smtp_conn_auth_scram(mox_smtp_conn *c, const mox_sasl_scram_secret *secret)
{
	return auth_answer_do(c, A_SCRAM, false, NULL, 0, secret);
}

/* ---- STARTTLS, channel binding, close ---- */

const uint8_t *
mox_smtp_conn_starttls_leftover(const mox_smtp_conn *c, size_t *len_out)
{
	if (c == NULL || c->state != MOX__SMTP_ST_STARTTLS || c->in.data == NULL) {
		if (len_out != NULL)
			*len_out = 0;
		return (const uint8_t *)"";
	}
	if (len_out != NULL)
		*len_out = c->in.len - c->in_off;
	return c->in.data + c->in_off;
}

mox_err
mox_smtp_conn_starttls_done(mox_smtp_conn *c)
{
	if (c == NULL)
		return MOX_EINVAL;
	if (c->state != MOX__SMTP_ST_STARTTLS)
		return MOX_ESTATE;
	/* RFC 3207 section 4.2: discard all knowledge from the client
	 * obtained before TLS, and any plaintext it sent after STARTTLS. */
	if (c->in.data != NULL)
		mox_mem_wipe(c->in.data, c->in.len);
	mox_buf_reset(&c->in);
	c->in_off = 0;
	c->tls = true;
	c->hello_done = false;
	c->ehlo = false;
	memset(&c->hello, 0, sizeof(c->hello));
	c->hello_name[0] = 0;
	c->authenticated = false;
	c->username[0] = 0;
	c->cb_type = MOX_SASL_CB_NONE;
	c->cb_len = 0;
	mox__smtp_rset(c, true);
	c->state = MOX__SMTP_ST_CMD;
	c->wait_since = -1;
	return MOX_OK;
}

mox_err
mox_smtp_conn_set_channel_binding(mox_smtp_conn *c, mox_sasl_cb_type type,
				  const uint8_t *data, size_t len)
{
	if (c == NULL || mox__smtp_cb_name(type) == NULL || data == NULL || len == 0 ||
	    len > MOX_SASL_CB_DATA_MAX)
		return MOX_EINVAL;
	memcpy(c->cb_data, data, len);
	c->cb_len = len;
	c->cb_type = type;
	return MOX_OK;
}

mox_err
mox_smtp_conn_close(mox_smtp_conn *c, int code, int se, const char *text)
{
	if (c == NULL || (code != 0 && (code < 200 || code > 599)))
		return MOX_EINVAL;
	if (c->state == MOX__SMTP_ST_CLOSED)
		return MOX_OK;
	if (code != 0) {
		mox_err err = mox_smtp_reply_write(&c->out, code, se, text);
		if (err != MOX_OK)
			return err;
	}
	if ((c->state == MOX__SMTP_ST_DATA || c->state == MOX__SMTP_ST_BDAT) && c->in_data) {
		mox_smtp_event ev = {.type = MOX_SMTP_EV_DATA_ABORT};
		ev.u.data_abort.code = code;
		ev.u.data_abort.reason = "connection closed";
		mox__smtp_push(c, &ev);
	}
	mox__smtp_close(c, 0, MOX_SMTP_SE_NONE, text != NULL ? text : "closed");
	c->close_code = code;
	return MOX_OK;
}

bool
mox_smtp_conn_tls(const mox_smtp_conn *c)
{
	return c != NULL && c->tls;
}

const char *
mox_smtp_conn_username(const mox_smtp_conn *c)
{
	return c != NULL && c->authenticated ? c->username : NULL;
}

const char *
mox_smtp_conn_errmsg(const mox_smtp_conn *c)
{
	return c != NULL ? c->errmsg : "";
}

bool
mox__smtp_check_mail_allowed(mox_smtp_conn *c)
{
	if (!c->hello_done) {
		mox__smtp_error(c, 503, MOX_SMTP_SE_PROTO_INVALID_COMMAND, "no ehlo/helo yet");
		return false;
	}
	if ((c->flags & MOX_SMTP_CONN_SUBMISSION) && !c->authenticated) {
		/* RFC 4954 section 6: 530 5.7.0 */
		mox__smtp_error(c, 530, MOX_SMTP_SE_POL_OTHER, "authentication required");
		return false;
	}
	if ((c->flags & MOX_SMTP_CONN_REQUIRE_TLS_MAIL) && !c->tls) {
		/* RFC 3207 section 4 */
		mox__smtp_error(c, 530, MOX_SMTP_SE_POL_OTHER, "STARTTLS required for mail delivery");
		return false;
	}
	return true;
}
