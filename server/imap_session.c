/* localserve's IMAP sessions: the sans-IO parser and response writer of
 * libmoximap driven by a libuv connection (server/net.c), on the account's
 * libmoxstore store.
 *
 * How this works. Input is fed to the parser; pump() takes one event at a
 * time. Commands that need no store work are answered at once; the others
 * run on the libuv thread pool (DESIGN.md: SQLite and fsync off the loop):
 * run() there, then done() and the tagged reply on the loop. One command
 * runs at a time; the parser holds pipelined input meanwhile (bounded).
 * Output goes to an out queue (mox_imap_out) whose message literals are
 * read from the files as the socket takes them; pump() stops taking
 * commands while more than OUT_HIGH bytes wait, and a uv_check handle
 * resumes when libuv's write queue has drained. Large FETCHes run in
 * chunks of messages, so memory stays bounded.
 *
 * Changes: every session has a store listener; all changes, also our own
 * (the store is given no origin), come through it, in commit order. They
 * are applied to the session's view (the UIDs of the selected mailbox,
 * sequence number = index + 1) only where RFC 9051 section 7.5.1 allows:
 * before the tagged reply of commands other than FETCH, STORE and SEARCH
 * (UID variants are fine, RFC 9051 section 7.5.1), and at once during IDLE
 * (RFC 2177), woken by the listener through a uv_async. Own flag changes
 * are answered by STORE itself and skipped (by modseq) when they come
 * back.
 *
 * Authentication: LOGIN and AUTHENTICATE PLAIN/LOGIN check the bcrypt hash
 * on the thread pool; a verified user/password pair is kept for a while
 * (a hash of it, in a small table) so clients that reconnect often do not
 * cost a bcrypt each time, as mox does. CRAM-MD5 is verified from the
 * stored HMAC states, SCRAM from StoredKey/ServerKey. As mox localserve,
 * any user name is accepted with the account's password, and plaintext
 * authentication is allowed (loopback).
 *
 * COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are raw
 * deflate (zlib): input is inflated before the parser, output deflated in
 * flush_out with a sync flush per batch. SEARCHRES (RFC 5182): "$" is the
 * saved result, kept as UIDs (imap_set_ranges). */
#define _GNU_SOURCE /* memmem, getrandom */
#include "imap_int.h"

#include <mbedtls/sha256.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <zlib.h>

#define OUT_HIGH (256u * 1024)          /* stop taking commands above this */
#define INPUT_MAX ((64u << 20) + (2u << 20)) /* buffered input: a literal and more */
/* RFC 9051 section 5.4: at least 30 minutes of inactivity before an
 * autologout; MOX_LOCALSERVE_LIMITS "command=" changes it (tests). */
#define AUTOLOGOUT_MS (30 * 60 * 1000)
#define AUTHCACHE_N 64
#define AUTHCACHE_SECS 300

static const char caps_base[] =
	"IMAP4rev2 IMAP4rev1 ENABLE LITERAL+ IDLE NAMESPACE UNSELECT UIDPLUS ESEARCH "
	"SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS MOVE ID CONDSTORE QRESYNC "
	"UTF8=ACCEPT MULTIAPPEND CHILDREN STATUS=SIZE SASL-IR BINARY SEARCHRES COMPRESS=DEFLATE";

static void pump(imap_session *s);
static void finish(imap_session *s);

/* ---- small helpers ---- */

unsigned
imap_wflags(const imap_session *s)
{
	return (s->enabled & EN_UTF8) ? MOX_IMAP_W_UTF8 : 0;
}

void
imap_result(imap_session *s, mox_imap_status st, const char *code, const char *fmt, ...)
{
	mox_buf_reset(&s->rcode);
	if (code != NULL && code[0] != '\0' && mox_buf_append_str(&s->rcode, code) != MOX_OK) {
		/* A reply without its code would mislead: say so instead. */
		st = MOX_IMAP_NO;
		code = "SERVERBUG";
		mox_buf_append_str(&s->rcode, code);
		fmt = "out of memory";
	}
	s->res = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->rtext, sizeof(s->rtext), fmt, ap);
	va_end(ap);
}

void
imap_write_flags(mox_buf *b, unsigned flags, const char *keywords)
{
	mox_buf_append_byte(b, '(');
	bool first = true;
	for (unsigned bit = 1; bit & MOX_STORE_FLAGS_ALL; bit <<= 1) {
		if (!(flags & bit))
			continue;
		const char *n = mox_store_flag_name(bit);
		if (n == NULL)
			continue;
		if (!first)
			mox_buf_append_byte(b, ' ');
		mox_buf_append_str(b, n);
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (!first)
			mox_buf_append_byte(b, ' ');
		mox_buf_append_str(b, keywords);
	}
	mox_buf_append_byte(b, ')');
}

void
imap_own_modseq(imap_session *s, int64_t modseq)
{
	for (size_t i = 0; i < 32; i++)
		if (s->own_modseq[i] == modseq)
			return;
	s->own_modseq[s->own_next] = modseq;
	s->own_next = (s->own_next + 1) % 32;
}

static bool
is_own_modseq(const imap_session *s, int64_t modseq)
{
	for (size_t i = 0; i < 32; i++)
		if (s->own_modseq[i] == modseq && modseq != 0)
			return true;
	return false;
}

long
imap_view_find(const imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nuids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nuids && s->uids[lo] == uid ? (long)lo : -1;
}

void
imap_name_out(const char *name, char *out, size_t outlen)
{
	/* RFC 9051 section 5.1: INBOX is case-insensitive; we show it as
	 * INBOX. */
	if (strncmp(name, "Inbox", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		snprintf(out, outlen, "INBOX%s", name + 5);
	else
		snprintf(out, outlen, "%s", name);
}

static int
range_cmp(const void *a, const void *b)
{
	const mox_store_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* "$", RFC 5182 section 2.1: the saved UIDs still in the view, as UID
 * ranges that each cover only saved messages of the view. An empty result
 * is no error. */
static bool
saved_ranges(const imap_session *s, mox_store_range **ranges_out, size_t *n_out)
{
	if (s->nsaved == 0 || s->nuids == 0)
		return true;
	mox_store_range *r = calloc(s->nsaved, sizeof(*r));
	if (r == NULL)
		return false;
	size_t n = 0;
	long previdx = -2;
	for (size_t i = 0; i < s->nsaved; i++) {
		long idx = imap_view_find(s, s->saved[i]);
		if (idx < 0)
			continue;
		if (n > 0 && idx == previdx + 1) {
			r[n - 1].last = s->saved[i];
		} else {
			r[n].first = r[n].last = s->saved[i];
			n++;
		}
		previdx = idx;
	}
	*ranges_out = r;
	*n_out = n;
	return true;
}

bool
imap_set_ranges(const imap_session *s, const mox_imap_seqset *set, bool uid,
		mox_store_range **ranges_out, size_t *n_out)
{
	*ranges_out = NULL;
	*n_out = 0;
	if (set->saved)
		return saved_ranges(s, ranges_out, n_out);
	if (set->n == 0 || s->nuids == 0)
		return uid || set->n == 0 ? true : false;
	mox_store_range *r = calloc(set->n, sizeof(*r));
	if (r == NULL)
		return false;
	size_t n = 0;
	uint32_t maxuid = s->uids[s->nuids - 1];
	for (size_t i = 0; i < set->n; i++) {
		uint32_t a = set->r[i].first, b = set->r[i].last;
		if (uid) {
			if (a == 0)
				a = maxuid;
			if (b == 0)
				b = maxuid;
			if (a > b) {
				uint32_t t = a;
				a = b;
				b = t;
			}
			if (a > maxuid)
				continue;
			if (b > maxuid)
				b = maxuid;
		} else {
			uint32_t max = (uint32_t)s->nuids;
			if (a == 0)
				a = max;
			if (b == 0)
				b = max;
			if (a > b) {
				uint32_t t = a;
				a = b;
				b = t;
			}
			if (b > max) {
				free(r);
				return false; /* RFC 9051 section 9: seq-number */
			}
			a = s->uids[a - 1];
			b = s->uids[b - 1];
		}
		r[n].first = a;
		r[n].last = b;
		n++;
	}
	qsort(r, n, sizeof(*r), range_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && r[i].first <= r[m - 1].last + 1) {
			if (r[i].last > r[m - 1].last)
				r[m - 1].last = r[i].last;
		} else {
			r[m++] = r[i];
		}
	}
	if (m == 0) {
		free(r);
		r = NULL;
	}
	*ranges_out = r;
	*n_out = m;
	return true;
}

/* ---- the credentials cache ---- */

typedef struct authcache_entry {
	uint8_t key[32];
	time_t expires;
} authcache_entry;

static authcache_entry authcache[AUTHCACHE_N];

static void
authcache_key(const char *user, const char *pw, uint8_t key[32])
{
	/* A hash of user and password with a per-process salt: the table
	 * never holds a password. */
	static uint8_t salt[16];
	static bool salted;
	if (!salted) {
		if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
			memset(salt, 0x5a, sizeof(salt));
		salted = true;
	}
	mbedtls_sha256_context ctx;
	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	mbedtls_sha256_update_ret(&ctx, salt, sizeof(salt));
	mbedtls_sha256_update_ret(&ctx, (const uint8_t *)user, strlen(user) + 1);
	mbedtls_sha256_update_ret(&ctx, (const uint8_t *)pw, strlen(pw));
	mbedtls_sha256_finish_ret(&ctx, key);
	mbedtls_sha256_free(&ctx);
}

static bool
authcache_check(const char *user, const char *pw)
{
	uint8_t key[32];
	authcache_key(user, pw, key);
	time_t now = time(NULL);
	for (size_t i = 0; i < AUTHCACHE_N; i++)
		if (authcache[i].expires > now && memcmp(authcache[i].key, key, 32) == 0)
			return true;
	return false;
}

static void
authcache_add(const char *user, const char *pw)
{
	uint8_t key[32];
	authcache_key(user, pw, key);
	size_t oldest = 0;
	for (size_t i = 0; i < AUTHCACHE_N; i++) {
		if (memcmp(authcache[i].key, key, 32) == 0) {
			oldest = i;
			break;
		}
		if (authcache[i].expires < authcache[oldest].expires)
			oldest = i;
	}
	memcpy(authcache[oldest].key, key, 32);
	authcache[oldest].expires = time(NULL) + AUTHCACHE_SECS;
}

/* ---- output ---- */

static void
on_check(uv_check_t *h)
{
	imap_session *s = h->data;
	pump(s);
}

static void
check_set(imap_session *s, bool on)
{
	if (on == s->check_on || s->gone)
		return;
	if (on)
		uv_check_start(&s->check, on_check);
	else
		uv_check_stop(&s->check);
	s->check_on = on;
}

/* COMPRESS=DEFLATE, RFC 4978 section 3: deflate output (raw, window
 * 2^15) and flush at the end of each batch, so the client gets whole
 * responses. false: a zlib failure (the caller closes). */
static bool
z_write(imap_session *s, const uint8_t *data, size_t n, bool flush)
{
	static uint8_t zbuf[65536]; /* one loop thread */
	z_stream *z = s->zout;
	z->next_in = (Bytef *)(uintptr_t)data;
	z->avail_in = (uInt)n;
	do {
		z->next_out = zbuf;
		z->avail_out = sizeof(zbuf);
		int r = deflate(z, flush ? Z_SYNC_FLUSH : Z_NO_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return false;
		size_t out = sizeof(zbuf) - z->avail_out;
		if (out > 0)
			conn_write(s->c, zbuf, out);
	} while (z->avail_in > 0 || z->avail_out == 0);
	return true;
}

static bool
z_start(imap_session *s)
{
	s->zout = calloc(1, sizeof(z_stream));
	s->zin = calloc(1, sizeof(z_stream));
	bool ok = s->zout != NULL && s->zin != NULL;
	bool din = false;
	if (ok)
		ok = din = deflateInit2(s->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
					Z_DEFAULT_STRATEGY) == Z_OK;
	if (ok)
		ok = inflateInit2(s->zin, -15) == Z_OK;
	if (!ok) {
		if (din)
			deflateEnd(s->zout);
		free(s->zout);
		free(s->zin);
		s->zout = s->zin = NULL;
	}
	return ok;
}

static void
z_end(imap_session *s)
{
	if (s->zout != NULL)
		deflateEnd(s->zout);
	if (s->zin != NULL)
		inflateEnd(s->zin);
	free(s->zout);
	free(s->zin);
	s->zout = s->zin = NULL;
}

static void
flush_out(imap_session *s)
{
	static uint8_t buf[65536]; /* one loop thread */
	if (s->gone || s->c->closing)
		return;
	bool zwrote = false;
	while (mox_imap_out_pending(s->out) > 0 && s->c->tcp.write_queue_size < OUT_HIGH) {
		size_t n = 0, cap = sizeof(buf);
		if (s->zpending && s->zraw_left < cap)
			cap = (size_t)s->zraw_left; /* up to the OK of COMPRESS */
		mox_err err = mox_imap_out_pull(s->out, buf, cap, &n);
		if (n > 0 && s->zout != NULL && !s->zpending) {
			if (!z_write(s, buf, n, false)) {
				conn_close(s->c);
				return;
			}
			zwrote = true;
		} else if (n > 0) {
			conn_write(s->c, buf, n);
			if (s->zpending) {
				s->zraw_left -= n;
				if (s->zraw_left == 0)
					s->zpending = false; /* compressed from here */
			}
		}
		if (err != MOX_OK) {
			mlog("error", s->c->id, "imap: reading message for output: %s",
			     mox_strerror(err));
			conn_close(s->c);
			return;
		}
		if (n == 0)
			break;
	}
	if (zwrote && !z_write(s, NULL, 0, true)) {
		conn_close(s->c);
		return;
	}
	if (mox_imap_out_pending(s->out) == 0 && s->closing) {
		conn_close(s->c);
		return;
	}
	/* Give back a large output buffer once it is empty: idle sessions
	 * should stay small (many IDLE connections). */
	mox_buf *tail = sout(s);
	if (mox_imap_out_pending(s->out) == 0 && tail->cap > 16384)
		mox_buf_free(tail);
	check_set(s, mox_imap_out_pending(s->out) > 0 || s->more);
}

static void
write_caps(imap_session *s, mox_buf *b)
{
	mox_buf_append_str(b, caps_base);
	if (!s->c->tls_on && s->c->l->starttls != NULL)
		mox_buf_append_str(b, " STARTTLS");
	if (s->state == IS_NOTAUTH)
		mox_buf_append_str(b, " AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5 AUTH=SCRAM-SHA-1 "
				      "AUTH=SCRAM-SHA-256");
}

/* ---- changes from the store ---- */

static void
discard_changes(imap_session *s)
{
	if (s->listener == NULL)
		return;
	for (;;) {
		mox_store_batch *b = NULL;
		mox_err err = mox_store_listener_next(s->listener, 0, &b);
		if (err != MOX_OK && err != MOX_ELIMIT)
			break;
		mox_store_batch_free(b);
	}
}

static void
view_remove(imap_session *s, size_t i)
{
	memmove(s->uids + i, s->uids + i + 1, (s->nuids - i - 1) * sizeof(uint32_t));
	s->nuids--;
}

static bool
view_push(imap_session *s, uint32_t uid)
{
	if (s->nuids == s->capuids) {
		size_t nc = s->capuids ? s->capuids * 2 : 64;
		uint32_t *n = realloc(s->uids, nc * sizeof(uint32_t));
		if (n == NULL)
			return false;
		s->uids = n;
		s->capuids = nc;
	}
	s->uids[s->nuids++] = uid;
	return true;
}

/* Apply queued changes to the view, writing EXISTS, EXPUNGE (or VANISHED
 * with QRESYNC, RFC 7162 section 3.2.10) and FETCH responses. */
static void
apply_changes(imap_session *s)
{
	if (s->listener == NULL)
		return;
	mox_buf *o = sout(s);
	bool exists = false;
	for (;;) {
		mox_store_batch *b = NULL;
		mox_err err = mox_store_listener_next(s->listener, 0, &b);
		if (err == MOX_ELIMIT) {
			/* We missed changes: the view cannot be trusted. */
			mox_imap_write_status(o, NULL, MOX_IMAP_BYE, "UNAVAILABLE",
					      "too many changes, please reconnect");
			s->closing = true;
			return;
		}
		if (err != MOX_OK)
			break;
		size_t n = 0;
		const mox_store_change *ch = mox_store_batch_changes(b, &n);
		for (size_t i = 0; i < n; i++) {
			const mox_store_change *c = &ch[i];
			if (s->state != IS_SELECTED || c->mailbox_id != s->mbid)
				continue;
			switch (c->type) {
			case MOX_STORE_CHANGE_ADD:
				if (s->nuids == 0 || c->uid > s->uids[s->nuids - 1]) {
					if (view_push(s, c->uid))
						exists = true;
				}
				break;
			case MOX_STORE_CHANGE_EXPUNGE: {
				if (exists) {
					mox_buf_appendf(o, "* %zu EXISTS\r\n", s->nuids);
					exists = false;
				}
				bool vanished = (s->enabled & EN_QRESYNC) != 0;
				bool any = false;
				for (size_t j = 0; j < c->nuids; j++) {
					long idx = imap_view_find(s, c->uids[j]);
					if (idx < 0)
						continue;
					if (vanished) {
						mox_buf_appendf(o, "%s%u", any ? "," : "* VANISHED ",
								c->uids[j]);
						any = true;
					} else {
						mox_buf_appendf(o, "* %ld EXPUNGE\r\n", idx + 1);
					}
					view_remove(s, (size_t)idx);
				}
				if (any)
					mox_buf_append_str(o, "\r\n");
				break;
			}
			case MOX_STORE_CHANGE_FLAGS: {
				if (is_own_modseq(s, c->modseq))
					break;
				long idx = imap_view_find(s, c->uid);
				if (idx < 0)
					break;
				if (exists) {
					mox_buf_appendf(o, "* %zu EXISTS\r\n", s->nuids);
					exists = false;
				}
				mox_buf_appendf(o, "* %ld FETCH (UID %u FLAGS ", idx + 1, c->uid);
				imap_write_flags(o, c->flags, c->keywords);
				if (s->enabled & EN_CONDSTORE)
					mox_buf_appendf(o, " MODSEQ (%lld)", (long long)c->modseq);
				mox_buf_append_str(o, ")\r\n");
				break;
			}
			case MOX_STORE_CHANGE_MAILBOX_REMOVE: {
				/* The selected mailbox was deleted (by another
				 * session, or this one): its messages are gone,
				 * said as expunges; the session stays in the
				 * selected state on an empty mailbox. */
				if (exists) {
					mox_buf_appendf(o, "* %zu EXISTS\r\n", s->nuids);
					exists = false;
				}
				if (s->nuids > 0 && (s->enabled & EN_QRESYNC)) {
					mox_buf_appendf(o, "* VANISHED %u:%u\r\n", s->uids[0],
							s->uids[s->nuids - 1]);
				} else {
					for (size_t j = s->nuids; j > 0; j--)
						mox_buf_appendf(o, "* %zu EXPUNGE\r\n", j);
				}
				s->nuids = 0;
				break;
			}
			default:
				break;
			}
		}
		mox_store_batch_free(b);
	}
	if (exists)
		mox_buf_appendf(o, "* %zu EXISTS\r\n", s->nuids);
}

static void
on_async(uv_async_t *h)
{
	imap_session *s = h->data;
	if (s->gone || s->working)
		return;
	if (s->idling) {
		apply_changes(s);
		flush_out(s);
	} else if (s->state != IS_SELECTED) {
		discard_changes(s);
	}
}

static void
wakeup(void *arg)
{
	imap_session *s = arg;
	uv_async_send(&s->async);
}

/* ---- work on the thread pool ---- */

static void
maybe_free(imap_session *s)
{
	if (!s->gone || s->working || s->handles > 0)
		return;
	imap_lits_free(s);
	imap_append_files_free(s);
	free(s->apf);
	z_end(s);
	mox_store_listener_free(s->listener);
	mox_sasl_server_free(s->sasl);
	mox_imap_out_free(s->out);
	mox_imap_parser_free(s->p);
	mox_mem_wipe(s->pw, sizeof(s->pw));
	mox_mem_wipe(&s->scram, sizeof(s->scram));
	mox_buf_free(&s->rcode);
	free(s->uids);
	free(s->newuids);
	free(s->tuids);
	free(s->saved);
	free(s);
}

static void
work_cb(uv_work_t *w)
{
	imap_session *s = w->data;
	s->run(s);
}

static bool no_tagged; /* set by done() handlers that reply themselves */

static void
after_work(uv_work_t *w, int status)
{
	imap_session *s = w->data;
	s->working = false;
	if (s->gone) {
		maybe_free(s);
		return;
	}
	if (status != 0)
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "internal error");
	no_tagged = false;
	if (s->done != NULL)
		s->done(s);
	if (!s->more && !no_tagged)
		finish(s);
	pump(s);
}

static void
start_work(imap_session *s)
{
	s->working = true;
	s->more = false;
	s->work.data = s;
	if (uv_queue_work(s->env->loop, &s->work, work_cb, after_work) != 0) {
		s->working = false;
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "cannot queue work");
		finish(s);
	}
}

/* The tagged reply, after changes where allowed. */
static void
finish(imap_session *s)
{
	if (s->expunge_ok)
		apply_changes(s);
	mox_imap_write_status(sout(s), s->tag, s->res,
			      s->rcode.len > 0 ? (const char *)s->rcode.data : NULL, s->rtext);
	mox_buf_free(&s->rcode);
	if (s->compress_next) {
		/* RFC 4978 section 3: compressed from right after the CRLF of
		 * the tagged OK; the client compresses from then on too. */
		s->compress_next = false;
		s->zpending = true;
		s->zraw_left = mox_imap_out_pending(s->out);
	}
}

/* ---- authentication ---- */

static void auth_failed(imap_session *s, const char *why);

static void
auth_success(imap_session *s)
{
	/* The account of the login (env.h; opened when first used). */
	char account[128];
	if (s->store == NULL &&
	    s->env->login(s->env, s->authc, &s->store, account, sizeof(account)) != 0) {
		s->store = NULL;
		auth_failed(s, "no account for login");
		return;
	}
	s->state = IS_AUTH;
	if (s->listener == NULL &&
	    mox_store_listener_new(s->store, wakeup, s, &s->listener) != MOX_OK)
		mlog("error", s->c->id, "imap: no store listener");
	mox_buf caps = MOX_BUF_INIT;
	mox_buf_append_str(&caps, "CAPABILITY ");
	write_caps(s, &caps);
	imap_result(s, MOX_IMAP_OK, (const char *)caps.data, "authenticated");
	mox_buf_free(&caps);
	conn_auth_result(s->c, true, false);
	mlog("info", s->c->id, "imap: authenticated user=%s", s->authc);
}

static void
auth_failed(imap_session *s, const char *why)
{
	mlog("info", s->c->id, "imap: authentication failed user=%s: %s", s->authc, why);
	conn_auth_result(s->c, false, false);
	imap_result(s, MOX_IMAP_NO, "AUTHENTICATIONFAILED", "authentication failed");
}

static void
run_password(imap_session *s)
{
	bool ok = false;
	mox_store *store = NULL;
	char account[128];
	if (s->env->login(s->env, s->authc, &store, account, sizeof(account)) != 0 ||
	    mox_store_password_check(store, s->pw, &ok) != MOX_OK)
		ok = false;
	s->auth_ok = ok;
}

static void
run_secrets(imap_session *s)
{
	mox_store_secrets st;
	memset(&st, 0, sizeof(st));
	s->scram_found = false;
	s->auth_ok = false;
	mox_store *store = NULL;
	char account[128];
	if (s->env->login(s->env, s->authc, &store, account, sizeof(account)) == 0 &&
	    mox_store_secrets_get(store, &st) == MOX_OK && st.set) {
		if (s->cram) {
			/* s->pw holds the client's hex digest here. */
			s->auth_ok = mox_store_cram_md5_verify(&st, s->cram_chal,
							       strlen(s->cram_chal), s->pw);
		} else {
			bool sha256 = s->scram256;
			const mox_store_scram *k = sha256 ? &st.scram_sha256 : &st.scram_sha1;
			memset(&s->scram, 0, sizeof(s->scram));
			size_t sl = k->salt_len < sizeof(s->scram.salt) ? k->salt_len
									 : sizeof(s->scram.salt);
			memcpy(s->scram.salt, k->salt, sl);
			s->scram.salt_len = sl;
			s->scram.iterations = k->iterations;
			memcpy(s->scram.stored_key, k->stored_key, sizeof(s->scram.stored_key));
			memcpy(s->scram.server_key, k->server_key, sizeof(s->scram.server_key));
			s->scram.keys_len = k->key_len;
			s->scram_found = true;
		}
	}
	mox_mem_wipe(&st, sizeof(st));
}

static void sasl_continue(imap_session *s, mox_sasl_status st);

static void
done_login(imap_session *s)
{
	if (s->auth_ok) {
		authcache_add(s->authc, s->pw);
		auth_success(s);
	} else {
		auth_failed(s, "bad password");
	}
	mox_mem_wipe(s->pw, sizeof(s->pw));
}

static void
done_sasl_password(imap_session *s)
{
	if (s->auth_ok)
		authcache_add(s->authc, s->pw);
	mox_mem_wipe(s->pw, sizeof(s->pw));
	mox_sasl_status st = MOX_SASL_FAILURE;
	mox_sasl_server_verdict(s->sasl, s->auth_ok, &st);
	no_tagged = true;
	sasl_continue(s, st);
}

static void
done_scram(imap_session *s)
{
	mox_sasl_status st = MOX_SASL_FAILURE;
	mox_sasl_server_set_scram(s->sasl, s->scram_found ? &s->scram : NULL, &st);
	mox_mem_wipe(&s->scram, sizeof(s->scram));
	no_tagged = true;
	sasl_continue(s, st);
}

static void
done_cram(imap_session *s)
{
	mox_mem_wipe(s->pw, sizeof(s->pw));
	s->cram = false;
	if (s->auth_ok)
		auth_success(s);
	else
		auth_failed(s, "bad cram-md5 response");
}

/* Where the SASL exchange stands: answer, ask, or run a check. Writes the
 * tagged reply when it ends (the caller must not). */
static void
sasl_continue(imap_session *s, mox_sasl_status st)
{
	switch (st) {
	case MOX_SASL_CONTINUE: {
		size_t n = 0;
		const uint8_t *chal = mox_sasl_server_challenge(s->sasl, &n);
		mox_buf *o = sout(s);
		mox_buf_append_str(o, "+ ");
		mox_base64_encode(o, chal, n);
		mox_buf_append_str(o, "\r\n");
		s->auth_pending = true;
		mox_imap_parser_expect_line(s->p);
		return;
	}
	case MOX_SASL_CHECK_PASSWORD: {
		const char *authc = mox_sasl_server_authc(s->sasl);
		snprintf(s->authc, sizeof(s->authc), "%s", authc != NULL ? authc : "");
		size_t n = 0;
		const uint8_t *pw = mox_sasl_server_password(s->sasl, &n);
		if (n >= sizeof(s->pw) || memchr(pw, 0, n) != NULL) {
			mox_sasl_server_verdict(s->sasl, false, &st);
			sasl_continue(s, st);
			return;
		}
		memcpy(s->pw, pw, n);
		s->pw[n] = '\0';
		if (authcache_check(s->authc, s->pw)) {
			mox_mem_wipe(s->pw, sizeof(s->pw));
			mox_sasl_server_verdict(s->sasl, true, &st);
			sasl_continue(s, st);
			return;
		}
		s->run = run_password;
		s->done = done_sasl_password;
		start_work(s);
		return;
	}
	case MOX_SASL_NEED_SCRAM: {
		const char *authc = mox_sasl_server_authc(s->sasl);
		snprintf(s->authc, sizeof(s->authc), "%s", authc != NULL ? authc : "");
		s->run = run_secrets;
		s->done = done_scram;
		start_work(s);
		return;
	}
	case MOX_SASL_NEED_PASSWORD: /* not used: CRAM-MD5 is done here */
		mox_sasl_server_verdict(s->sasl, false, &st);
		sasl_continue(s, st);
		return;
	case MOX_SASL_SUCCESS: {
		const char *authc = mox_sasl_server_authc(s->sasl);
		snprintf(s->authc, sizeof(s->authc), "%s", authc != NULL ? authc : "");
		auth_success(s);
		break;
	}
	case MOX_SASL_FAILURE:
		auth_failed(s, mox_sasl_server_errmsg(s->sasl));
		break;
	}
	mox_sasl_server_free(s->sasl);
	s->sasl = NULL;
	s->auth_pending = false;
	mox_imap_write_status(sout(s), s->tag, s->res,
			      s->rcode.len > 0 ? (const char *)s->rcode.data : NULL, s->rtext);
	mox_buf_free(&s->rcode);
}

static void
cmd_authenticate(imap_session *s, const mox_imap_cmd *cmd)
{
	mox_sasl_mech mech = mox_sasl_mech_from_name(cmd->str1.s, cmd->str1.len);
	bool has_initial = cmd->str2.s != NULL;
	mox_buf init = MOX_BUF_INIT;
	if (has_initial && cmd->str2.len > 0 &&
	    mox_base64_decode(&init, cmd->str2.s, cmd->str2.len, 0, NULL) != MOX_OK) {
		imap_result(s, MOX_IMAP_BAD, NULL, "bad base64 in initial response");
		goto reply;
	}
	if (mech == MOX_SASL_CRAM_MD5) {
		if (has_initial) {
			imap_result(s, MOX_IMAP_BAD, NULL, "CRAM-MD5 has no initial response");
			goto reply;
		}
		uint64_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint64_t)time(NULL) ^ s->c->id;
		snprintf(s->cram_chal, sizeof(s->cram_chal), "<%llu.%lld@localhost>",
			 (unsigned long long)r, (long long)time(NULL));
		s->cram = true;
		mox_buf *o = sout(s);
		mox_buf_append_str(o, "+ ");
		mox_base64_encode(o, s->cram_chal, strlen(s->cram_chal));
		mox_buf_append_str(o, "\r\n");
		s->auth_pending = true;
		mox_buf_free(&init);
		mox_imap_parser_expect_line(s->p);
		return;
	}
	if (mech != MOX_SASL_PLAIN && mech != MOX_SASL_LOGIN && mech != MOX_SASL_SCRAM_SHA_1 &&
	    mech != MOX_SASL_SCRAM_SHA_256) {
		imap_result(s, MOX_IMAP_NO, NULL, "unsupported authentication mechanism");
		goto reply;
	}
	mox_sasl_server_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.mech = mech;
	o.hostname = "localhost";
	if (mox_sasl_server_new(&s->sasl, &o) != MOX_OK) {
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "cannot start authentication");
		goto reply;
	}
	s->scram256 = mech == MOX_SASL_SCRAM_SHA_256;
	mox_sasl_status st = MOX_SASL_FAILURE;
	mox_sasl_server_step(s->sasl, init.data, init.len, has_initial, &st);
	mox_buf_free(&init);
	sasl_continue(s, st);
	return;
reply:
	mox_buf_free(&init);
	finish(s);
}

/* A response line during AUTHENTICATE. */
static void
auth_line(imap_session *s, const uint8_t *line, size_t len)
{
	s->auth_pending = false;
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 section 6.2.2: the client cancelled. */
		mox_sasl_server_free(s->sasl);
		s->sasl = NULL;
		s->cram = false;
		mox_imap_write_status(sout(s), s->tag, MOX_IMAP_BAD, NULL, "authentication aborted");
		return;
	}
	mox_buf dec = MOX_BUF_INIT;
	if (mox_base64_decode(&dec, (const char *)line, len, 0, NULL) != MOX_OK) {
		mox_buf_free(&dec);
		mox_sasl_server_free(s->sasl);
		s->sasl = NULL;
		s->cram = false;
		mox_imap_write_status(sout(s), s->tag, MOX_IMAP_BAD, NULL,
				      "bad base64 in authentication response");
		return;
	}
	if (s->cram) {
		/* RFC 2195 section 2: "user SP digest". */
		const char *sp = dec.data != NULL ? memchr(dec.data, ' ', dec.len) : NULL;
		size_t hexlen = sp != NULL ? dec.len - (size_t)(sp - (const char *)dec.data) - 1 : 0;
		if (sp == NULL || hexlen != 32) {
			mox_buf_free(&dec);
			s->cram = false;
			imap_result(s, MOX_IMAP_BAD, NULL, "malformed CRAM-MD5 response");
			finish(s);
			return;
		}
		snprintf(s->authc, sizeof(s->authc), "%.*s",
			 (int)((const char *)sp - (const char *)dec.data), (const char *)dec.data);
		memcpy(s->pw, sp + 1, 32);
		s->pw[32] = '\0';
		mox_buf_free(&dec);
		s->run = run_secrets;
		s->done = done_cram;
		start_work(s);
		return;
	}
	mox_sasl_status st = MOX_SASL_FAILURE;
	mox_sasl_server_step(s->sasl, dec.data, dec.len, true, &st);
	mox_mem_wipe(dec.data, dec.len);
	mox_buf_free(&dec);
	sasl_continue(s, st);
}

/* ---- commands answered on the loop ---- */

static void
done_select(imap_session *s)
{
	if (s->res != MOX_IMAP_OK) {
		/* RFC 9051 section 6.3.2: a failed SELECT leaves no mailbox
		 * selected. */
		if (s->state == IS_SELECTED)
			s->state = IS_AUTH;
		s->nuids = 0;
		return;
	}
	uint32_t *t = s->uids;
	size_t tc = s->capuids;
	s->uids = s->newuids;
	s->nuids = s->nnewuids;
	s->capuids = s->capnewuids;
	s->newuids = t;
	s->capnewuids = tc;
	s->nnewuids = 0;
	s->mbid = s->newmbid;
	s->uidvalidity = s->newuidvalidity;
	s->readonly = s->newreadonly;
	s->state = IS_SELECTED;
}

static void
done_close(imap_session *s)
{
	s->state = IS_AUTH;
	s->nuids = 0;
	s->nsaved = 0; /* RFC 5182 section 2.1 */
	s->mbid = 0;
}

static void
done_fetch(imap_session *s)
{
	if (s->res == MOX_IMAP_OK && s->tpos < s->ntuids)
		s->more = true;
}

static void
cmd_enable(imap_session *s, const mox_imap_cmd *cmd)
{
	mox_buf *o = sout(s);
	mox_buf_append_str(o, "* ENABLED");
	for (size_t i = 0; i < cmd->nstrs; i++) {
		const char *c = cmd->strs[i].s;
		unsigned bit = 0;
		if (strcasecmp(c, "IMAP4rev2") == 0)
			bit = EN_REV2;
		else if (strcasecmp(c, "CONDSTORE") == 0)
			bit = EN_CONDSTORE;
		else if (strcasecmp(c, "QRESYNC") == 0)
			bit = EN_QRESYNC | EN_CONDSTORE; /* RFC 7162 section 3.2.3 */
		else if (strcasecmp(c, "UTF8=ACCEPT") == 0)
			bit = EN_UTF8;
		/* RFC 5161 section 3.1: list only what this command enabled. */
		if (bit == 0 || (s->enabled & bit) == bit)
			continue;
		s->enabled |= bit;
		mox_buf_append_byte(o, ' ');
		mox_buf_append_str(o, c);
	}
	mox_buf_append_str(o, "\r\n");
	if (s->enabled & EN_UTF8)
		mox_imap_parser_set_flags(s->p, MOX_IMAP_LITERALPLUS | MOX_IMAP_APPEND_STREAM |
						       MOX_IMAP_UTF8);
	imap_result(s, MOX_IMAP_OK, NULL, "enabled");
}

static void
cmd_id(imap_session *s)
{
	/* RFC 2971 section 3.3. */
	mox_buf_append_str(sout(s), "* ID (\"name\" \"mox-c\" \"version\" \"" MOX_VERSION "\")\r\n");
	imap_result(s, MOX_IMAP_OK, NULL, "ID completed");
}

/* Which states a command may be given in, RFC 9051 section 6. */
static bool
state_ok(const imap_session *s, mox_imap_cmd_type t)
{
	switch (t) {
	case MOX_IMAP_CMD_CAPABILITY:
	case MOX_IMAP_CMD_NOOP:
	case MOX_IMAP_CMD_LOGOUT:
	case MOX_IMAP_CMD_ID:
		return true;
	case MOX_IMAP_CMD_STARTTLS:
	case MOX_IMAP_CMD_AUTHENTICATE:
	case MOX_IMAP_CMD_LOGIN:
		return s->state == IS_NOTAUTH;
	case MOX_IMAP_CMD_CHECK:
	case MOX_IMAP_CMD_CLOSE:
	case MOX_IMAP_CMD_UNSELECT:
	case MOX_IMAP_CMD_EXPUNGE:
	case MOX_IMAP_CMD_SEARCH:
	case MOX_IMAP_CMD_FETCH:
	case MOX_IMAP_CMD_STORE:
	case MOX_IMAP_CMD_COPY:
	case MOX_IMAP_CMD_MOVE:
		return s->state == IS_SELECTED;
	default:
		return s->state == IS_AUTH || s->state == IS_SELECTED;
	}
}

void
imap_append_files_free(imap_session *s)
{
	for (size_t i = 0; i < s->napf; i++)
		mox_store_msgfile_free(s->apf[i].mf);
	s->napf = 0;
}

/* Bytes of a streamed APPEND message: into a staged file, written as they
 * come (DESIGN.md: messages are not held in memory); the command then
 * fsyncs and adds them on the thread pool. */
static void
append_data(imap_session *s, const mox_imap_event *ev)
{
	size_t i = ev->append_index;
	if (ev->append_offset == 0) {
		if (i == 0)
			imap_append_files_free(s);
		if (i != s->napf) {
			conn_close(s->c); /* cannot happen: the parser numbers them */
			return;
		}
		struct appendfile *n = realloc(s->apf, (i + 1) * sizeof(*n));
		if (n == NULL) {
			conn_close(s->c);
			return;
		}
		s->apf = n;
		memset(&s->apf[i], 0, sizeof(s->apf[i]));
		s->napf = i + 1;
		/* Only an authenticated client gets to write files. */
		if (s->state != IS_AUTH && s->state != IS_SELECTED)
			s->apf[i].failed = true;
		else if (mox_store_msgfile_new(s->store, &s->apf[i].mf) != MOX_OK)
			s->apf[i].failed = true;
	}
	if (i >= s->napf)
		return;
	struct appendfile *a = &s->apf[i];
	if (memchr(ev->line, 0, ev->line_len) != NULL)
		a->nul = true;
	if (a->failed || a->mf == NULL)
		return;
	if (mox_store_msgfile_write(a->mf, ev->line, ev->line_len) != MOX_OK) {
		a->failed = true;
		mox_store_msgfile_free(a->mf);
		a->mf = NULL;
	}
}

static void
done_append(imap_session *s)
{
	imap_append_files_free(s);
}

static void
command(imap_session *s, const mox_imap_cmd *cmd)
{
	snprintf(s->tag, sizeof(s->tag), "%s", cmd->tag);
	s->cmd = cmd;
	s->run = NULL;
	s->done = NULL;
	s->more = false;
	s->expunge_ok = true;
	imap_result(s, MOX_IMAP_OK, NULL, "%s completed", cmd->name);
	if (cmd->type != MOX_IMAP_CMD_APPEND)
		imap_append_files_free(s);
	if (!state_ok(s, cmd->type)) {
		imap_append_files_free(s);
		enum imap_state st = s->state;
		s->state = IS_SELECTED;
		bool needs_selected = state_ok(s, cmd->type);
		s->state = st;
		imap_result(s, MOX_IMAP_BAD, NULL, "%s not allowed %s", cmd->name,
			    st == IS_NOTAUTH  ? "before authentication"
			    : needs_selected ? "without a selected mailbox"
					     : "in this state");
		s->expunge_ok = false;
		finish(s);
		return;
	}
	if ((cmd->type == MOX_IMAP_CMD_LOGIN || cmd->type == MOX_IMAP_CMD_AUTHENTICATE) &&
	    !conn_auth_allowed(s->c)) {
		/* Failed-authentication rate limit (net.h), as mox. */
		mox_imap_write_status(sout(s), NULL, MOX_IMAP_BYE, "UNAVAILABLE",
				      "too many authentication failures");
		s->closing = true;
		return;
	}
	switch (cmd->type) {
	case MOX_IMAP_CMD_CAPABILITY:
		mox_buf_append_str(sout(s), "* CAPABILITY ");
		write_caps(s, sout(s));
		mox_buf_append_str(sout(s), "\r\n");
		break;
	case MOX_IMAP_CMD_NOOP:
	case MOX_IMAP_CMD_CHECK:
		break;
	case MOX_IMAP_CMD_LOGOUT:
		mox_imap_write_status(sout(s), NULL, MOX_IMAP_BYE, NULL, "mox-c logging out");
		s->expunge_ok = false;
		s->state = IS_LOGOUT;
		s->closing = true;
		break;
	case MOX_IMAP_CMD_ID:
		cmd_id(s);
		break;
	case MOX_IMAP_CMD_STARTTLS:
		if (s->c->tls_on || s->c->l->starttls == NULL) {
			imap_result(s, MOX_IMAP_BAD, NULL, "TLS not available or already active");
			break;
		}
		/* RFC 9051 section 6.2.1: OK, then the handshake; input
		 * after the command is dropped (no plaintext injection). */
		imap_result(s, MOX_IMAP_OK, NULL, "begin TLS now");
		finish(s);
		flush_out(s);
		mox_imap_parser_reset(s->p);
		if (conn_starttls(s->c) != 0)
			conn_close(s->c);
		return;
	case MOX_IMAP_CMD_LOGIN: {
		if (cmd->str2.len >= sizeof(s->pw) || memchr(cmd->str2.s, 0, cmd->str2.len)) {
			snprintf(s->authc, sizeof(s->authc), "%s", cmd->str1.s);
			auth_failed(s, "bad password");
			break;
		}
		snprintf(s->authc, sizeof(s->authc), "%s", cmd->str1.s);
		memcpy(s->pw, cmd->str2.s, cmd->str2.len);
		s->pw[cmd->str2.len] = '\0';
		if (authcache_check(s->authc, s->pw)) {
			mox_mem_wipe(s->pw, sizeof(s->pw));
			auth_success(s);
			break;
		}
		s->run = run_password;
		s->done = done_login;
		start_work(s);
		return;
	}
	case MOX_IMAP_CMD_AUTHENTICATE:
		cmd_authenticate(s, cmd);
		return;
	case MOX_IMAP_CMD_ENABLE:
		cmd_enable(s, cmd);
		break;
	case MOX_IMAP_CMD_NAMESPACE:
		/* RFC 2342: one personal namespace, "/" separated. */
		mox_buf_append_str(sout(s), "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
		break;
	case MOX_IMAP_CMD_IDLE:
		/* RFC 2177: report changes at once until DONE. */
		mox_buf_append_str(sout(s), "+ idling\r\n");
		s->idling = true;
		apply_changes(s);
		mox_imap_parser_expect_line(s->p);
		s->cmd = NULL;
		return;
	case MOX_IMAP_CMD_UNSELECT:
		s->state = IS_AUTH;
		s->nuids = 0;
		s->nsaved = 0; /* RFC 5182 section 2.1 */
		s->mbid = 0;
		break;
	case MOX_IMAP_CMD_COMPRESS:
		/* RFC 4978 section 3. */
		if (s->zout != NULL) {
			imap_result(s, MOX_IMAP_NO, "COMPRESSIONACTIVE", "compression already active");
		} else if (cmd->str1.s == NULL || strcasecmp(cmd->str1.s, "DEFLATE") != 0) {
			imap_result(s, MOX_IMAP_BAD, NULL, "unknown compression mechanism");
		} else if (!z_start(s)) {
			imap_result(s, MOX_IMAP_NO, "SERVERBUG", "cannot start compression");
		} else {
			s->compress_next = true;
			imap_result(s, MOX_IMAP_OK, NULL, "DEFLATE active");
		}
		break;
	case MOX_IMAP_CMD_SELECT:
	case MOX_IMAP_CMD_EXAMINE:
		if (s->state == IS_SELECTED && (s->enabled & (EN_REV2 | EN_QRESYNC))) {
			/* RFC 9051 section 6.3.2, RFC 7162 section 3.2.11 */
			mox_imap_write_status(sout(s), NULL, MOX_IMAP_OK, "CLOSED",
					      "previous mailbox closed");
		}
		if (cmd->condstore)
			s->enabled |= EN_CONDSTORE; /* RFC 7162 section 3.1.8 */
		if (cmd->qresync && !(s->enabled & EN_QRESYNC)) {
			imap_result(s, MOX_IMAP_BAD, NULL, "QRESYNC not enabled");
			break;
		}
		s->state = IS_AUTH;
		s->nuids = 0;
		s->nsaved = 0; /* RFC 5182 section 2.1 */
		discard_changes(s);
		s->expunge_ok = false;
		s->run = imap_run_select;
		s->done = done_select;
		start_work(s);
		return;
	case MOX_IMAP_CMD_CREATE:
		s->run = imap_run_create;
		start_work(s);
		return;
	case MOX_IMAP_CMD_DELETE:
		s->run = imap_run_delete;
		start_work(s);
		return;
	case MOX_IMAP_CMD_RENAME:
		s->run = imap_run_rename;
		start_work(s);
		return;
	case MOX_IMAP_CMD_SUBSCRIBE:
	case MOX_IMAP_CMD_UNSUBSCRIBE:
		s->run = imap_run_subscribe;
		start_work(s);
		return;
	case MOX_IMAP_CMD_LIST:
	case MOX_IMAP_CMD_LSUB:
		s->run = imap_run_list;
		start_work(s);
		return;
	case MOX_IMAP_CMD_STATUS:
		s->run = imap_run_status;
		start_work(s);
		return;
	case MOX_IMAP_CMD_APPEND: {
		bool bad = false, failed = false;
		for (size_t i = 0; i < cmd->nmsgs; i++) {
			if (!cmd->msgs[i].streamed)
				continue;
			if (i >= s->napf || s->apf[i].failed || s->apf[i].mf == NULL)
				failed = true;
			else if (s->apf[i].nul && !cmd->msgs[i].binary)
				bad = true;
		}
		if (bad) {
			/* RFC 3516 section 4.1 */
			imap_result(s, MOX_IMAP_BAD, NULL, "NUL in literal, use literal8");
			imap_append_files_free(s);
			break;
		}
		if (failed) {
			imap_result(s, MOX_IMAP_NO, "SERVERBUG", "storing message failed");
			imap_append_files_free(s);
			break;
		}
		s->run = imap_run_append;
		s->done = done_append;
		start_work(s);
		return;
	}
	case MOX_IMAP_CMD_EXPUNGE:
		if (s->readonly) {
			imap_result(s, MOX_IMAP_NO, "READ-ONLY", "mailbox is read-only");
			break;
		}
		s->run = imap_run_expunge;
		start_work(s);
		return;
	case MOX_IMAP_CMD_CLOSE:
		/* RFC 9051 section 6.4.1: expunge silently (not in EXAMINE). */
		s->expunge_ok = false;
		if (s->readonly) {
			done_close(s);
			break;
		}
		s->run = imap_run_close;
		s->done = done_close;
		start_work(s);
		return;
	case MOX_IMAP_CMD_COPY:
	case MOX_IMAP_CMD_MOVE:
		if (cmd->type == MOX_IMAP_CMD_MOVE && s->readonly) {
			imap_result(s, MOX_IMAP_NO, "READ-ONLY", "mailbox is read-only");
			break;
		}
		s->run = imap_run_copy;
		start_work(s);
		return;
	case MOX_IMAP_CMD_STORE:
		s->expunge_ok = cmd->uid;
		if (s->readonly) {
			imap_result(s, MOX_IMAP_NO, "READ-ONLY", "mailbox is read-only");
			break;
		}
		s->run = imap_run_store;
		start_work(s);
		return;
	case MOX_IMAP_CMD_SEARCH:
		s->expunge_ok = cmd->uid;
		s->run = imap_run_search;
		start_work(s);
		return;
	case MOX_IMAP_CMD_FETCH:
		s->expunge_ok = cmd->uid;
		if (!imap_fetch_prepare(s))
			break;
		s->run = imap_run_fetch;
		s->done = done_fetch;
		start_work(s);
		return;
	}
	finish(s);
}

static void
line_event(imap_session *s, const uint8_t *line, size_t len)
{
	if (s->idling) {
		s->idling = false;
		if (len == 4 && strncasecmp((const char *)line, "DONE", 4) == 0) {
			imap_result(s, MOX_IMAP_OK, NULL, "idle done");
			s->expunge_ok = true;
		} else {
			imap_result(s, MOX_IMAP_BAD, NULL, "expected DONE");
			s->expunge_ok = false;
		}
		finish(s);
		return;
	}
	if (s->auth_pending) {
		auth_line(s, line, len);
		return;
	}
	mox_imap_write_status(sout(s), NULL, MOX_IMAP_BAD, NULL, "unexpected line");
}

static void
pump(imap_session *s)
{
	while (!s->gone && !s->working) {
		flush_out(s);
		if (s->gone || s->c->closing || s->closing)
			return;
		if (mox_imap_out_pending(s->out) > OUT_HIGH) {
			check_set(s, true);
			return;
		}
		if (s->more) {
			start_work(s);
			return;
		}
		mox_imap_event ev;
		mox_err err = mox_imap_parser_next(s->p, &ev);
		if (err == MOX_EAGAIN)
			break;
		if (err != MOX_OK) {
			conn_close(s->c);
			return;
		}
		switch (ev.type) {
		case MOX_IMAP_EV_COMMAND:
			command(s, ev.cmd);
			break;
		case MOX_IMAP_EV_CONTINUE:
			mox_imap_write_continue(sout(s), "ready for literal data");
			break;
		case MOX_IMAP_EV_APPEND_DATA:
			append_data(s, &ev);
			break;
		case MOX_IMAP_EV_REJECT:
			imap_append_files_free(s);
			mox_imap_write_reject(sout(s), &ev.reject);
			if (ev.reject.fatal)
				s->closing = true;
			break;
		case MOX_IMAP_EV_LINE:
			line_event(s, ev.line, ev.line_len);
			break;
		}
	}
	/* A job on the thread pool writes into the output queue: only the
	 * job's completion may flush it then. */
	if (!s->working)
		flush_out(s);
}

/* ---- the connection ---- */

static void
on_timeout(uv_timer_t *t)
{
	imap_session *s = t->data;
	if (s->gone)
		return;
	if (s->working || mox_imap_out_pending(s->out) > 0) {
		/* Busy on our side, not an idle client. */
		uv_timer_start(&s->timer, on_timeout, 60 * 1000, 0);
		return;
	}
	mlog("info", s->c->id, "imap: autologout after inactivity");
	mox_imap_write_status(sout(s), NULL, MOX_IMAP_BYE, "UNAVAILABLE", "autologout");
	s->closing = true;
	flush_out(s);
}

static void
timer_arm(imap_session *s)
{
	int64_t ms = s->env->limits != NULL && s->env->limits->command_timeout_ms > 0
			     ? s->env->limits->command_timeout_ms
			     : AUTOLOGOUT_MS;
	uv_timer_start(&s->timer, on_timeout, (uint64_t)ms, 0);
}

static void *
session_open(conn *c, void *arg)
{
	server_env *env = arg;
	if (atomic_load(&env->stopping)) {
		static const char bye[] = "* BYE shutting down, try again later\r\n";
		conn_write(c, bye, sizeof(bye) - 1);
		return NULL;
	}
	imap_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->c = c;
	s->env = env;
	mox_imap_parser_opts po;
	memset(&po, 0, sizeof(po));
	po.size = sizeof(po);
	po.flags = MOX_IMAP_LITERALPLUS | MOX_IMAP_APPEND_STREAM;
	if (mox_imap_parser_new(&s->p, &po) != MOX_OK || mox_imap_out_new(&s->out, NULL) != MOX_OK) {
		mox_imap_parser_free(s->p);
		free(s);
		return NULL;
	}
	uv_check_init(env->loop, &s->check);
	s->check.data = s;
	uv_async_init(env->loop, &s->async, on_async);
	s->async.data = s;
	uv_timer_init(env->loop, &s->timer);
	s->timer.data = s;
	s->handles = 3;
	timer_arm(s);
	mox_buf *o = sout(s);
	mox_buf_append_str(o, "* OK [CAPABILITY ");
	write_caps(s, o);
	mox_buf_append_str(o, env->localserve ? "] mox-c IMAP4rev2 localserve ready\r\n"
					      : "] mox-c IMAP4rev2 ready\r\n");
	flush_out(s);
	return s;
}

static void
session_input(void *arg, const uint8_t *data, size_t len)
{
	imap_session *s = arg;
	if (s->zin != NULL) {
		/* RFC 4978: the client's bytes after COMPRESS are deflated. */
		static uint8_t zbuf[65536]; /* one loop thread */
		z_stream *z = s->zin;
		z->next_in = (Bytef *)(uintptr_t)data;
		z->avail_in = (uInt)len;
		do {
			z->next_out = zbuf;
			z->avail_out = sizeof(zbuf);
			int r = inflate(z, Z_SYNC_FLUSH);
			if (r != Z_OK && r != Z_BUF_ERROR) {
				mlog("info", s->c->id, "imap: bad compressed input, closing");
				conn_close(s->c);
				return;
			}
			size_t n = sizeof(zbuf) - z->avail_out;
			if (mox_imap_parser_pending(s->p) + n > INPUT_MAX) {
				mlog("info", s->c->id, "imap: too much pipelined input, closing");
				conn_close(s->c);
				return;
			}
			if (n > 0 && mox_imap_parser_feed(s->p, zbuf, n) != MOX_OK) {
				conn_close(s->c);
				return;
			}
		} while (z->avail_in > 0 || z->avail_out == 0);
		timer_arm(s);
		pump(s);
		return;
	}
	if (mox_imap_parser_pending(s->p) + len > INPUT_MAX) {
		mlog("info", s->c->id, "imap: too much pipelined input, closing");
		conn_close(s->c);
		return;
	}
	if (mox_imap_parser_feed(s->p, data, len) != MOX_OK) {
		conn_close(s->c);
		return;
	}
	timer_arm(s);
	pump(s);
}

static void
handle_closed(uv_handle_t *h)
{
	imap_session *s = h->data;
	s->handles--;
	maybe_free(s);
}

static void
session_closed(void *arg)
{
	imap_session *s = arg;
	s->gone = true;
	/* Unregister first: no wakeup after this. */
	mox_store_listener_free(s->listener);
	s->listener = NULL;
	uv_check_stop(&s->check);
	uv_close((uv_handle_t *)&s->check, handle_closed);
	uv_close((uv_handle_t *)&s->async, handle_closed);
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
}

static proto imap_proto;

const proto *
env_imap_proto(server_env *env)
{
	imap_proto.name = "imap";
	imap_proto.open = session_open;
	imap_proto.input = session_input;
	imap_proto.closed = session_closed;
	imap_proto.arg = env;
	return &imap_proto;
}
