/* localserve's IMAP FETCH and SEARCH (RFC 9051 sections 6.4.5 and 6.4.4,
 * RFC 7162 CHANGEDSINCE/VANISHED and MODSEQ, RFC 4731 ESEARCH).
 *
 * FETCH runs in chunks of FETCH_CHUNK messages on the thread pool: each
 * chunk is one read transaction listing the chunk's UID span. Message
 * bytes are not read here: a literal is queued in the out queue with a
 * litsrc, and its bytes are read from the message file (opened at the
 * first read, closed after the last) as the socket takes them, on the
 * loop. ENVELOPE, BODY and BODYSTRUCTURE come from the part tree the
 * store keeps per message (mox_store_tx_part), without reading the file;
 * the message is parsed (libmoxmessage) only for sections other than the
 * whole message (and then gives those items too), or when the store has
 * only a flat tree (a message it could not parse). A message of the view
 * that another session expunged gets no data and the command completes
 * with OK [EXPUNGEISSUED]. Non-peek body items set \Seen
 * first, in a write transaction of their own (RFC 9051 section 6.4.5).
 *
 * SEARCH evaluates libmoximap's search program for each message of the
 * view, reading the header or the whole file only when a key needs it.
 * TEXT and BODY match the text parts decoded to UTF-8 and the header
 * values decoded (RFC 2047), case-insensitively (ASCII folding for ASCII
 * strings, Unicode case folding otherwise: mox_imap_text_contains).
 * todo: parts that are not text are not searched. */
#define _GNU_SOURCE /* memmem, getrandom */
#include "imap_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FETCH_CHUNK 500
#define READ_MAX (256u << 20) /* a message read whole for SEARCH TEXT */

/* ---- literal sources ---- */

static void
lit_free(litsrc *l)
{
	imap_session *s = l->s;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		s->lits = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	if (l->fd >= 0)
		close(l->fd);
	mox_imap_section_data_free(&l->d);
	free(l);
}

void
imap_lits_free(imap_session *s)
{
	while (s->lits != NULL)
		lit_free(s->lits);
}

static long
pread_full(int fd, uint8_t *dst, size_t len, uint64_t off)
{
	size_t n = 0;
	while (n < len) {
		ssize_t r = pread(fd, dst + n, len - n, (off_t)(off + n));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return MOX_EIO; /* the file is shorter than its size */
		n += (size_t)r;
	}
	return (long)n;
}

static long
lit_read(void *arg, uint64_t off, uint8_t *dst, size_t len)
{
	litsrc *l = arg;
	if (l->fd < 0 && mox_store_message_open(l->s->store, l->id, &l->fd) != MOX_OK) {
		l->fd = -1;
		return MOX_EIO;
	}
	long n = 0;
	if (l->whole) {
		n = pread_full(l->fd, dst, len, off);
	} else {
		uint64_t start = 0;
		for (size_t i = 0; i < l->d.n; i++) {
			const mox_imap_seg *g = &l->d.seg[i];
			if (off >= start + g->len) {
				start += g->len;
				continue;
			}
			uint64_t in = off - start;
			size_t take = g->len - in < len ? (size_t)(g->len - in) : len;
			if (g->gen != NULL) {
				memcpy(dst, g->gen + in, take);
				n = (long)take;
			} else {
				n = pread_full(l->fd, dst, take, g->offset + in);
			}
			break;
		}
		if (n == 0)
			n = MOX_EIO;
	}
	if (n < 0)
		return n;
	if (off + (uint64_t)n >= l->size)
		lit_free(l);
	return n;
}

static mox_err
queue_lit(imap_session *s, int64_t id, uint64_t size, mox_imap_section_data *d, bool binary)
{
	if (size == 0) {
		if (d != NULL)
			mox_imap_section_data_free(d);
		return mox_imap_out_literal(s->out, 0, binary, NULL, NULL);
	}
	litsrc *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		if (d != NULL)
			mox_imap_section_data_free(d);
		return MOX_ENOMEM;
	}
	l->s = s;
	l->id = id;
	l->fd = -1;
	l->size = size;
	if (d != NULL) {
		l->d = *d;
		memset(d, 0, sizeof(*d));
	} else {
		l->whole = true;
	}
	mox_err err = mox_imap_out_literal(s->out, size, binary, lit_read, l);
	if (err != MOX_OK) {
		mox_imap_section_data_free(&l->d);
		free(l);
		return err;
	}
	l->next = s->lits;
	if (s->lits != NULL)
		s->lits->prev = l;
	s->lits = l;
	return MOX_OK;
}

/* ---- reading messages ---- */

static mox_err
read_header(imap_session *s, int64_t id, mox_msg_header **h_out)
{
	*h_out = NULL;
	int fd = -1;
	mox_err err = mox_store_message_open(s->store, id, &fd);
	if (err != MOX_OK)
		return err;
	mox_buf b = MOX_BUF_INIT;
	uint8_t chunk[16384];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t from = b.len > 3 ? b.len - 3 : 0;
		if ((err = mox_buf_append(&b, chunk, (size_t)r)) != MOX_OK)
			break;
		if (memmem(b.data + from, b.len - from, "\r\n\r\n", 4) != NULL ||
		    memmem(b.data + from, b.len - from, "\n\n", 2) != NULL || b.len > (1u << 20))
			break;
	}
	close(fd);
	if (err == MOX_OK)
		err = mox_msg_header_parse(b.data != NULL ? b.data : (const uint8_t *)"", b.len, 0,
					   NULL, h_out, NULL, NULL);
	mox_buf_free(&b);
	return err;
}

static mox_err
read_all(imap_session *s, int64_t id, mox_buf *out)
{
	int fd = -1;
	mox_err err = mox_store_message_open(s->store, id, &fd);
	if (err != MOX_OK)
		return err;
	uint8_t chunk[65536];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len + (size_t)r > READ_MAX)
			break;
		if ((err = mox_buf_append(out, chunk, (size_t)r)) != MOX_OK)
			break;
	}
	close(fd);
	return err;
}

static mox_err
parse_msg(imap_session *s, int64_t id, mox_msg **msg_out)
{
	*msg_out = NULL;
	int fd = -1;
	mox_err err = mox_store_message_open(s->store, id, &fd);
	if (err != MOX_OK)
		return err;
	mox_msg_parser *p = NULL;
	err = mox_msg_parser_new(&p, NULL);
	uint8_t chunk[65536];
	while (err == MOX_OK) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = MOX_EIO;
		if (r <= 0)
			break;
		err = mox_msg_parser_feed(p, chunk, (size_t)r);
	}
	close(fd);
	if (err == MOX_OK)
		err = mox_msg_parser_end(p, msg_out);
	mox_msg_parser_free(p);
	return err;
}

/* ---- FETCH ---- */

static bool
att_needs_body_parse(const mox_imap_fetch_att *a)
{
	switch (a->type) {
	case MOX_IMAP_FA_BODY:
	case MOX_IMAP_FA_BODYSTRUCTURE:
	case MOX_IMAP_FA_RFC822_HEADER:
	case MOX_IMAP_FA_RFC822_TEXT:
		return true;
	case MOX_IMAP_FA_BODY_SECTION:
		return a->section.npart > 0 || a->section.text != MOX_IMAP_SECTION_NONE ||
		       a->partial;
	case MOX_IMAP_FA_BINARY:
	case MOX_IMAP_FA_BINARY_SIZE:
		return a->section.npart > 0 || a->partial;
	default:
		return false;
	}
}

static bool
att_sets_seen(const mox_imap_fetch_att *a)
{
	return ((a->type == MOX_IMAP_FA_BODY_SECTION || a->type == MOX_IMAP_FA_BINARY) &&
		!a->peek) ||
	       a->type == MOX_IMAP_FA_RFC822 || a->type == MOX_IMAP_FA_RFC822_TEXT;
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool
tuids_push(imap_session *s, uint32_t uid)
{
	if (s->ntuids == s->captuids) {
		size_t nc = s->captuids ? s->captuids * 2 : 256;
		uint32_t *n = realloc(s->tuids, nc * sizeof(uint32_t));
		if (n == NULL)
			return false;
		s->tuids = n;
		s->captuids = nc;
	}
	s->tuids[s->ntuids++] = uid;
	return true;
}

bool
imap_fetch_prepare(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	for (size_t i = 0; i < cmd->natts; i++) {
		switch (cmd->atts[i].type) {
		case MOX_IMAP_FA_SAVEDATE:
		case MOX_IMAP_FA_EMAILID:
		case MOX_IMAP_FA_THREADID:
		case MOX_IMAP_FA_PREVIEW:
			/* Not advertised. */
			imap_result(s, MOX_IMAP_BAD, NULL, "fetch attribute not supported");
			return false;
		default:
			break;
		}
	}
	if (cmd->vanished && !(s->enabled & EN_QRESYNC)) {
		imap_result(s, MOX_IMAP_BAD, NULL, "VANISHED needs QRESYNC enabled");
		return false;
	}
	if (cmd->has_changedsince)
		s->enabled |= EN_CONDSTORE; /* RFC 7162 section 3.1 */
	s->ntuids = 0;
	s->tpos = 0;
	mox_store_range *r = NULL;
	size_t nr = 0;
	if (!imap_set_ranges(s, &cmd->set, cmd->uid, &r, &nr)) {
		imap_result(s, MOX_IMAP_BAD, NULL, "message sequence number out of range");
		return false;
	}
	for (size_t i = 0; i < nr; i++) {
		long lo = 0;
		size_t a = 0, b = s->nuids;
		while (a < b) {
			size_t m = a + (b - a) / 2;
			if (s->uids[m] < r[i].first)
				a = m + 1;
			else
				b = m;
		}
		for (lo = (long)a; (size_t)lo < s->nuids && s->uids[lo] <= r[i].last; lo++) {
			if (!tuids_push(s, s->uids[lo])) {
				free(r);
				imap_result(s, MOX_IMAP_NO, "SERVERBUG", "out of memory");
				return false;
			}
		}
	}
	free(r);
	return true;
}

typedef struct fetch_ctx {
	imap_session *s;
	size_t from, to; /* tuids[from..to) */
	uint32_t *seen;  /* UIDs we just set \Seen on, sorted */
	size_t nseen, capseen;
	size_t found; /* messages of the chunk the store still has */
	mox_store_tx *tx; /* the listing's read transaction */
	bool use_tree;    /* ENVELOPE/BODYSTRUCTURE from the stored tree */
	mox_err err;
} fetch_ctx;

/* ENVELOPE, BODY and BODYSTRUCTURE from the part tree the store keeps
 * (mox_store_tx_part), so the message file is not read: the store's tree
 * copied into libmoximap's shape (mox_imap_part), in one allocation. */
typedef struct ipart {
	void *mem;
	mox_imap_part *root;
} ipart;

typedef struct iconv {
	mox_imap_part *parts;
	mox_imap_param *params;
	mox_imap_env *envs;
	mox_imap_env_address *addrs;
	size_t np, nq, ne, na;
} iconv;

static void
ip_count(const mox_store_part *p, iconv *c)
{
	c->nq += p->nparams + p->ndisposition_params;
	if (p->envelope != NULL) {
		const mox_store_envelope *e = p->envelope;
		c->ne++;
		c->na += e->from.n + e->sender.n + e->reply_to.n + e->to.n + e->cc.n + e->bcc.n;
	}
	c->np += p->nchildren;
	for (size_t i = 0; i < p->nchildren; i++)
		ip_count(&p->children[i], c);
}

static const mox_imap_param *
ip_params(iconv *c, const mox_store_param *sp, size_t n)
{
	mox_imap_param *q = c->params + c->nq;
	for (size_t i = 0; i < n; i++) {
		q[i].name = sp[i].name;
		q[i].value = sp[i].value;
	}
	c->nq += n;
	return q;
}

static void
ip_addrs(iconv *c, const mox_store_addresses *src, mox_imap_env_addresses *dst)
{
	mox_imap_env_address *v = c->addrs + c->na;
	for (size_t i = 0; i < src->n; i++) {
		v[i].name = src->a[i].name;
		v[i].local = src->a[i].local;
		v[i].domain = src->a[i].domain;
		v[i].group = src->a[i].group;
	}
	dst->n = src->n;
	dst->a = v;
	c->na += src->n;
}

static void
ip_fill(iconv *c, const mox_store_part *sp, mox_imap_part *dp)
{
	dp->type = sp->type;
	dp->subtype = sp->subtype;
	dp->params = ip_params(c, sp->params, sp->nparams);
	dp->nparams = sp->nparams;
	dp->encoding = sp->encoding;
	dp->disposition = sp->disposition;
	dp->disposition_params = ip_params(c, sp->disposition_params, sp->ndisposition_params);
	dp->ndisposition_params = sp->ndisposition_params;
	dp->content_id = sp->content_id;
	dp->content_description = sp->content_description;
	dp->content_md5 = sp->content_md5;
	dp->content_language = sp->content_language;
	dp->content_location = sp->content_location;
	dp->size = sp->end_offset - sp->body_offset;
	dp->lines = sp->body_lines;
	if (sp->envelope != NULL) {
		const mox_store_envelope *e = sp->envelope;
		mox_imap_env *env = c->envs + c->ne++;
		env->date = e->date;
		env->subject = e->subject;
		ip_addrs(c, &e->from, &env->from);
		ip_addrs(c, &e->sender, &env->sender);
		ip_addrs(c, &e->reply_to, &env->reply_to);
		ip_addrs(c, &e->to, &env->to);
		ip_addrs(c, &e->cc, &env->cc);
		ip_addrs(c, &e->bcc, &env->bcc);
		env->in_reply_to = e->in_reply_to;
		env->message_id = e->message_id;
		dp->envelope = env;
	}
	mox_imap_part *kids = c->parts + c->np;
	c->np += sp->nchildren;
	dp->children = kids;
	dp->nchildren = sp->nchildren;
	for (size_t i = 0; i < sp->nchildren; i++)
		ip_fill(c, &sp->children[i], &kids[i]);
}

/* The stored tree of message id in libmoximap's shape, borrowing strings
 * from *sp_out (free both with ipart_free). false: not usable (no tree,
 * or the flat tree of a message the store could not parse, which has no
 * header data; the caller parses the file then). */
static bool
ipart_load(mox_store_tx *tx, int64_t id, mox_store_part **sp_out, ipart *ip)
{
	memset(ip, 0, sizeof(*ip));
	*sp_out = NULL;
	mox_store_part *sp = NULL;
	if (tx == NULL || mox_store_tx_part(tx, id, &sp) != MOX_OK)
		return false;
	if (sp->envelope == NULL || sp->body_offset == 0) {
		mox_store_part_free(sp);
		return false;
	}
	iconv c;
	memset(&c, 0, sizeof(c));
	c.np = 1;
	ip_count(sp, &c);
	size_t o_q = c.np * sizeof(mox_imap_part);
	size_t o_e = o_q + c.nq * sizeof(mox_imap_param);
	size_t o_a = o_e + c.ne * sizeof(mox_imap_env);
	size_t total = o_a + c.na * sizeof(mox_imap_env_address);
	/* All members are pointers and sizes: one alignment for all. */
	char *mem = calloc(1, total);
	if (mem == NULL) {
		mox_store_part_free(sp);
		return false;
	}
	c.parts = (mox_imap_part *)(void *)mem;
	c.params = (mox_imap_param *)(void *)(mem + o_q);
	c.envs = (mox_imap_env *)(void *)(mem + o_e);
	c.addrs = (mox_imap_env_address *)(void *)(mem + o_a);
	c.np = 1;
	c.nq = c.ne = c.na = 0;
	ip_fill(&c, sp, &c.parts[0]);
	ip->mem = mem;
	ip->root = &c.parts[0];
	*sp_out = sp;
	return true;
}

static void
ipart_free(mox_store_part *sp, ipart *ip)
{
	free(ip->mem);
	ip->mem = NULL;
	ip->root = NULL;
	mox_store_part_free(sp);
}

static bool
in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
	return n > 0 && bsearch(&x, v, n, sizeof(uint32_t), u32cmp) != NULL;
}

static mox_err
seen_msg(void *arg, const mox_store_msginfo *m)
{
	fetch_ctx *x = arg;
	if (m->conflict)
		return MOX_OK;
	imap_own_modseq(x->s, m->modseq);
	if (x->nseen == x->capseen) {
		size_t nc = x->capseen ? x->capseen * 2 : 64;
		uint32_t *n = realloc(x->seen, nc * sizeof(uint32_t));
		if (n == NULL)
			return MOX_ENOMEM;
		x->seen = n;
		x->capseen = nc;
	}
	x->seen[x->nseen++] = m->uid;
	return MOX_OK;
}

/* Ranges of UIDs in tuids[from..to) that are consecutive in the view. */
static mox_store_range *
chunk_ranges(imap_session *s, size_t from, size_t to, size_t *n_out)
{
	*n_out = 0;
	mox_store_range *r = calloc(to - from + 1, sizeof(*r));
	if (r == NULL)
		return NULL;
	size_t n = 0;
	long previdx = -2;
	for (size_t i = from; i < to; i++) {
		long idx = imap_view_find(s, s->tuids[i]);
		if (n > 0 && idx == previdx + 1)
			r[n - 1].last = s->tuids[i];
		else {
			r[n].first = r[n].last = s->tuids[i];
			n++;
		}
		previdx = idx;
	}
	*n_out = n;
	return r;
}

/* BINARY[section]<partial> and BINARY.SIZE[section], RFC 3516: the part's
 * body with its Content-Transfer-Encoding undone (no charset conversion),
 * as a literal8. The whole message (no part number) is sent as it is. */
static mox_err
fetch_binary(imap_session *s, const mox_store_msginfo *m, const mox_msg *msg,
	     const mox_imap_fetch_att *a)
{
	mox_buf *o = sout(s);
	mox_imap_fetch_att_name(a, o);
	mox_buf_append_byte(o, ' ');
	if (a->section.npart == 0 && !a->partial) {
		if (a->type == MOX_IMAP_FA_BINARY_SIZE)
			return mox_buf_appendf(o, "%llu", (unsigned long long)m->size);
		return queue_lit(s, m->id, m->size, NULL, true);
	}
	/* The raw bytes: the message, or the part's body. */
	const mox_msg_part *part = msg->root;
	if (a->section.npart > 0) {
		char path[256];
		size_t pl = 0;
		for (size_t i = 0; i < a->section.npart && pl < sizeof(path); i++) {
			int k = snprintf(path + pl, sizeof(path) - pl, "%s%u", i > 0 ? "." : "",
					 (unsigned)a->section.part[i]);
			if (k < 0)
				break;
			pl += (size_t)k;
		}
		part = pl < sizeof(path) ? mox_msg_part_find(msg, path) : NULL;
		if (part == NULL || part->nchildren > 0)
			return mox_buf_append_str(o, "NIL"); /* no such leaf part */
	}
	uint64_t from = a->section.npart > 0 ? part->body_offset : 0;
	uint64_t to = a->section.npart > 0 ? part->end_offset : m->size;
	mox_msg_cte cte = a->section.npart > 0 ? part->cte : MOX_MSG_CTE_BINARY;
	if (cte == MOX_MSG_CTE_UNKNOWN) {
		/* RFC 3516 section 4.2 */
		imap_result(s, MOX_IMAP_NO, "UNKNOWN-CTE", "unknown content-transfer-encoding");
		return mox_buf_append_str(o, "NIL");
	}
	mox_buf raw = MOX_BUF_INIT, dec = MOX_BUF_INIT;
	int fd = -1;
	mox_err err = to - from > (256u << 20) ? MOX_ELIMIT : mox_buf_reserve(&raw, (size_t)(to - from));
	if (err == MOX_OK)
		err = mox_store_message_open(s->store, m->id, &fd);
	if (err == MOX_OK && to > from && pread_full(fd, raw.data, (size_t)(to - from), from) < 0)
		err = MOX_EIO;
	if (fd >= 0)
		close(fd);
	raw.len = err == MOX_OK ? (size_t)(to - from) : 0;
	mox_msg_decoder *d = NULL;
	if (err == MOX_OK)
		err = mox_msg_decoder_new(&d, cte, NULL, NULL);
	if (err == MOX_OK)
		err = mox_msg_decoder_feed(d, raw.data != NULL ? raw.data : (const uint8_t *)"", raw.len,
					   &dec);
	if (err == MOX_OK)
		err = mox_msg_decoder_end(d, &dec);
	mox_msg_decoder_free(d);
	mox_buf_free(&raw);
	if (err != MOX_OK) {
		mox_buf_free(&dec);
		return err;
	}
	if (a->type == MOX_IMAP_FA_BINARY_SIZE) {
		err = mox_buf_appendf(o, "%zu", dec.len);
		mox_buf_free(&dec);
		return err;
	}
	size_t off = a->partial ? (a->partial_offset < dec.len ? a->partial_offset : dec.len) : 0;
	size_t n = dec.len - off;
	if (a->partial && n > a->partial_count)
		n = a->partial_count;
	size_t total = 0;
	uint8_t *bytes = mox_buf_steal(&dec, &total);
	if (bytes == NULL)
		return MOX_ENOMEM;
	mox_imap_section_data sd;
	memset(&sd, 0, sizeof(sd));
	sd.n = 1;
	sd.seg[0].gen = bytes + off;
	sd.seg[0].len = n;
	sd.size = n;
	sd.genbuf = bytes;
	return queue_lit(s, m->id, n, &sd, true);
}

/* One message's FETCH response. */
static mox_err
fetch_msg(void *arg, const mox_store_msginfo *m)
{
	fetch_ctx *x = arg;
	imap_session *s = x->s;
	const mox_imap_cmd *cmd = s->cmd;
	if (!in_sorted(s->tuids + x->from, x->to - x->from, m->uid))
		return MOX_OK;
	long idx = imap_view_find(s, m->uid);
	if (idx < 0)
		return MOX_OK;
	x->found++;
	if (cmd->has_changedsince && m->modseq <= (int64_t)cmd->changedsince)
		return MOX_OK;
	mox_buf *o = sout(s);
	mox_msg_header *hdr = NULL;
	mox_msg *msg = NULL;
	mox_err err = MOX_OK;
	unsigned bsflags = (s->enabled & EN_UTF8) ? MOX_IMAP_BS_UTF8 : 0;
	bool seen_now = in_sorted(x->seen, x->nseen, m->uid);
	bool has_flags = false, has_uid = false, has_modseq = false;
	/* ENVELOPE, BODY and BODYSTRUCTURE from the stored tree, unless
	 * another item needs the parsed message anyway. */
	bool want_tree = false, need_parse = false;
	for (size_t i = 0; i < cmd->natts; i++) {
		int t = (int)cmd->atts[i].type;
		if (t == MOX_IMAP_FA_ENVELOPE || t == MOX_IMAP_FA_BODY ||
		    t == MOX_IMAP_FA_BODYSTRUCTURE)
			want_tree = true;
		else if (att_needs_body_parse(&cmd->atts[i]))
			need_parse = true;
	}
	mox_store_part *sp = NULL;
	ipart ip;
	memset(&ip, 0, sizeof(ip));
	if (want_tree && !need_parse && x->use_tree)
		ipart_load(x->tx, m->id, &sp, &ip);
	for (size_t i = 0; i < cmd->natts; i++) {
		has_flags |= cmd->atts[i].type == MOX_IMAP_FA_FLAGS;
		has_uid |= cmd->atts[i].type == MOX_IMAP_FA_UID;
		has_modseq |= cmd->atts[i].type == MOX_IMAP_FA_MODSEQ;
		if (ip.root != NULL && (cmd->atts[i].type == MOX_IMAP_FA_BODY ||
					cmd->atts[i].type == MOX_IMAP_FA_BODYSTRUCTURE))
			continue;
		if (att_needs_body_parse(&cmd->atts[i]) && msg == NULL) {
			err = parse_msg(s, m->id, &msg);
			if (err != MOX_OK) {
				mlog("error", s->c->id, "imap: parsing message %lld: %s",
				     (long long)m->id, mox_strerror(err));
				ipart_free(sp, &ip);
				return MOX_OK; /* skip the message, go on */
			}
		}
	}
	mox_buf_appendf(o, "* %ld FETCH (", idx + 1);
	/* o is the out queue's tail buffer: after a literal it is another
	 * one (the bytes after the literal go there). */
	bool first = true;
#define SP()                                                                           \
	do {                                                                           \
		o = sout(s);                                                           \
		if (!first)                                                            \
			mox_buf_append_byte(o, ' ');                                   \
		first = false;                                                         \
	} while (0)
	if (cmd->uid && !has_uid) {
		/* RFC 9051 section 6.4.9: UID FETCH always returns UID. */
		mox_buf_appendf(o, "UID %u", m->uid);
		first = false;
	}
	for (size_t i = 0; i < cmd->natts && err == MOX_OK; i++) {
		const mox_imap_fetch_att *a = &cmd->atts[i];
		SP();
		switch (a->type) {
		case MOX_IMAP_FA_UID:
			mox_buf_appendf(o, "UID %u", m->uid);
			break;
		case MOX_IMAP_FA_FLAGS:
			mox_buf_append_str(o, "FLAGS ");
			imap_write_flags(o, m->flags, m->keywords);
			break;
		case MOX_IMAP_FA_INTERNALDATE:
			mox_buf_append_str(o, "INTERNALDATE ");
			mox_imap_write_datetime(o, (time_t)m->received, 0);
			break;
		case MOX_IMAP_FA_RFC822_SIZE:
			mox_buf_appendf(o, "RFC822.SIZE %llu", (unsigned long long)m->size);
			break;
		case MOX_IMAP_FA_MODSEQ:
			mox_buf_appendf(o, "MODSEQ (%lld)", (long long)m->modseq);
			break;
		case MOX_IMAP_FA_ENVELOPE:
			if (ip.root != NULL) {
				mox_buf_append_str(o, "ENVELOPE ");
				err = mox_imap_envelope_env(ip.root->envelope, bsflags, o);
				break;
			}
			if (hdr == NULL && msg == NULL)
				err = read_header(s, m->id, &hdr);
			if (err != MOX_OK)
				break;
			mox_buf_append_str(o, "ENVELOPE ");
			err = mox_imap_envelope(msg != NULL ? msg->root->header : hdr, bsflags, o);
			break;
		case MOX_IMAP_FA_BODY:
		case MOX_IMAP_FA_BODYSTRUCTURE:
			mox_buf_append_str(o, a->type == MOX_IMAP_FA_BODY ? "BODY " : "BODYSTRUCTURE ");
			if (ip.root != NULL) {
				err = mox_imap_bodystructure_part(
					ip.root,
					bsflags | (a->type == MOX_IMAP_FA_BODYSTRUCTURE
							   ? MOX_IMAP_BS_EXTENDED
							   : 0),
					o);
				break;
			}
			err = mox_imap_bodystructure(
				msg->root,
				bsflags | (a->type == MOX_IMAP_FA_BODYSTRUCTURE ? MOX_IMAP_BS_EXTENDED
										  : 0),
				o);
			break;
		case MOX_IMAP_FA_RFC822:
			mox_buf_append_str(o, "RFC822 ");
			err = queue_lit(s, m->id, m->size, NULL, false);
			break;
		case MOX_IMAP_FA_BINARY:
		case MOX_IMAP_FA_BINARY_SIZE:
			err = fetch_binary(s, m, msg, a);
			break;
		case MOX_IMAP_FA_RFC822_HEADER:
		case MOX_IMAP_FA_RFC822_TEXT:
		case MOX_IMAP_FA_BODY_SECTION: {
			if (a->type == MOX_IMAP_FA_BODY_SECTION && msg == NULL) {
				/* The whole message: straight from the file. */
				mox_imap_fetch_att_name(a, o);
				mox_buf_append_byte(o, ' ');
				err = queue_lit(s, m->id, m->size, NULL, false);
				break;
			}
			mox_imap_fetch_att fa = *a;
			if (a->type != MOX_IMAP_FA_BODY_SECTION) {
				memset(&fa, 0, sizeof(fa));
				fa.type = MOX_IMAP_FA_BODY_SECTION;
				fa.section.text = a->type == MOX_IMAP_FA_RFC822_HEADER
							  ? MOX_IMAP_SECTION_HEADER
							  : MOX_IMAP_SECTION_TEXT;
				mox_buf_append_str(o, a->type == MOX_IMAP_FA_RFC822_HEADER
							      ? "RFC822.HEADER "
							      : "RFC822.TEXT ");
			} else {
				mox_imap_fetch_att_name(a, o);
				mox_buf_append_byte(o, ' ');
			}
			mox_imap_section_data d;
			memset(&d, 0, sizeof(d));
			mox_err e = mox_imap_section_resolve(msg, &fa, &d);
			if (e == MOX_ENOTFOUND || e == MOX_EINVAL) {
				mox_buf_append_str(o, "NIL");
				break;
			}
			if (e != MOX_OK) {
				err = e;
				break;
			}
			err = queue_lit(s, m->id, d.size, &d, false);
			break;
		}
		default:
			break;
		}
	}
	if (seen_now && !has_flags) {
		/* RFC 9051 section 6.4.5: the \Seen change is reported. */
		SP();
		mox_buf_append_str(o, "FLAGS ");
		imap_write_flags(o, m->flags, m->keywords);
	}
	if (cmd->has_changedsince && !has_modseq) {
		/* RFC 7162 section 3.1.4.1: CHANGEDSINCE implies MODSEQ. */
		SP();
		mox_buf_appendf(o, "MODSEQ (%lld)", (long long)m->modseq);
	}
#undef SP
	o = sout(s);
	mox_buf_append_str(o, ")\r\n");
	mox_msg_header_free(hdr);
	mox_msg_free(msg);
	ipart_free(sp, &ip);
	return err;
}

typedef struct van_ctx {
	const mox_imap_cmd *cmd;
	uint32_t maxuid;
	uint32_t *v;
	size_t n, cap;
} van_ctx;

static mox_err
van_uid(void *arg, uint32_t uid)
{
	van_ctx *x = arg;
	if (!mox_imap_seqset_contains(&x->cmd->set, uid, x->maxuid))
		return MOX_OK;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		uint32_t *n = realloc(x->v, nc * sizeof(uint32_t));
		if (n == NULL)
			return MOX_ENOMEM;
		x->v = n;
		x->cap = nc;
	}
	x->v[x->n++] = uid;
	return MOX_OK;
}

void
imap_run_fetch(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	fetch_ctx x;
	memset(&x, 0, sizeof(x));
	x.s = s;
	x.from = s->tpos;
	x.to = s->tpos + FETCH_CHUNK < s->ntuids ? s->tpos + FETCH_CHUNK : s->ntuids;
	s->tpos = x.to;
	mox_store_range *r = NULL;
	size_t nr = 0;
	mox_err err = MOX_OK;
	if (x.from == 0 && cmd->vanished && cmd->has_changedsince) {
		/* RFC 7162 section 3.2.6: VANISHED (EARLIER) first. */
		mox_store_tx *tx = NULL;
		/* "*" taken as the highest UID there could be: an expunged
		 * message may be above the highest one left. */
		van_ctx v = {cmd, UINT32_MAX, NULL, 0, 0};
		err = mox_store_tx_begin(s->store, MOX_STORE_TX_READ, NULL, &tx);
		if (err == MOX_OK)
			err = mox_store_tx_expunged(tx, s->mbid, (int64_t)cmd->changedsince, van_uid, &v);
		mox_store_tx_rollback(tx);
		if (err == MOX_OK && v.n > 0) {
			qsort(v.v, v.n, sizeof(uint32_t), u32cmp);
			mox_buf *o = sout(s);
			mox_buf_append_str(o, "* VANISHED (EARLIER) ");
			for (size_t i = 0; i < v.n; i++)
				mox_buf_appendf(o, "%s%u", i ? "," : "", v.v[i]);
			mox_buf_append_str(o, "\r\n");
		}
		free(v.v);
		if (err != MOX_OK)
			goto out;
	}
	if (x.from >= x.to)
		goto out;
	r = chunk_ranges(s, x.from, x.to, &nr);
	if (r == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	bool seen = false;
	for (size_t i = 0; i < cmd->natts; i++)
		seen |= att_sets_seen(&cmd->atts[i]);
	if (seen && !s->readonly) {
		mox_store_tx *tx = NULL;
		err = mox_store_tx_begin(s->store, MOX_STORE_TX_WRITE, NULL, &tx);
		if (err == MOX_OK)
			err = mox_store_tx_flags(tx, s->mbid, r, nr, 0, MOX_STORE_FLAGS_ADD,
						 MOX_STORE_SEEN, NULL, 0, 0, seen_msg, &x);
		if (err == MOX_OK) {
			err = mox_store_tx_commit(tx);
			tx = NULL;
		}
		mox_store_tx_rollback(tx);
		if (err != MOX_OK)
			goto out;
		if (x.nseen > 0)
			qsort(x.seen, x.nseen, sizeof(uint32_t), u32cmp);
	}
	mox_store_tx *tx = NULL;
	err = mox_store_tx_begin(s->store, MOX_STORE_TX_READ, NULL, &tx);
	x.tx = tx;
	x.use_tree = true;
	if (err == MOX_OK)
		err = mox_store_tx_list(tx, s->mbid, r, nr, 0, fetch_msg, &x);
	x.tx = NULL;
	mox_store_tx_rollback(tx);
	if (err == MOX_OK && x.found < x.to - x.from && s->res == MOX_IMAP_OK) {
		/* Messages of our view that another session expunged (we have
		 * not sent their EXPUNGE yet; RFC 9051 section 7.5.1 forbids
		 * it during FETCH): their data is gone, so none is sent, and
		 * the command completes with EXPUNGEISSUED (RFC 5530 section
		 * 3, RFC 2180 section 4.1.2), as mox does. */
		imap_result(s, MOX_IMAP_OK, "EXPUNGEISSUED", "at least one message was expunged");
	}
out:
	if (err != MOX_OK) {
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "fetch: %s", mox_strerror(err));
		s->tpos = s->ntuids;
	}
	free(r);
	free(x.seen);
}

/* ---- SEARCH ---- */

typedef struct needs {
	bool header, text, modseq;
} needs;

static void
key_needs(const mox_imap_skey *k, needs *n, size_t depth)
{
	if (depth > 100)
		return;
	switch (k->type) {
	case MOX_IMAP_SK_BCC:
	case MOX_IMAP_SK_CC:
	case MOX_IMAP_SK_FROM:
	case MOX_IMAP_SK_TO:
	case MOX_IMAP_SK_SUBJECT:
	case MOX_IMAP_SK_HEADER:
	case MOX_IMAP_SK_SENTBEFORE:
	case MOX_IMAP_SK_SENTON:
	case MOX_IMAP_SK_SENTSINCE:
		n->header = true;
		break;
	case MOX_IMAP_SK_BODY:
	case MOX_IMAP_SK_TEXT:
		n->text = true;
		break;
	case MOX_IMAP_SK_MODSEQ:
		n->modseq = true;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < k->nsub; i++)
		key_needs(k->sub[i], n, depth + 1);
}

typedef struct search_ctx {
	imap_session *s;
	needs nd;
	const mox_store_msginfo *m;
	mox_buf raw;  /* the whole message, read when first needed */
	mox_buf hdr;  /* header text: raw, then each value decoded (RFC 2047) */
	mox_buf body; /* text parts, decoded (CTE and charset) to UTF-8 */
	bool text_read;
	uint32_t *res;
	size_t nres, capres;
	int64_t maxmodseq;
	time_t now;
} search_ctx;

static bool
s_has_flag(void *arg, const char *flag)
{
	search_ctx *x = arg;
	unsigned b = mox_store_flag_parse(flag);
	if (b != 0)
		return (x->m->flags & b) != 0;
	const char *kw = x->m->keywords;
	size_t fl = strlen(flag);
	while (kw != NULL && *kw) {
		const char *e = strchr(kw, ' ');
		size_t l = e != NULL ? (size_t)(e - kw) : strlen(kw);
		if (l == fl && strncasecmp(kw, flag, l) == 0)
			return true;
		kw = e != NULL ? e + 1 : NULL;
	}
	return false;
}

static bool
ci_contains(const uint8_t *h, size_t hl, const char *n, size_t nl)
{
	if (nl == 0)
		return true;
	if (nl > hl)
		return false;
	/* Candidates from memchr on both cases of the first byte. */
	uint8_t f = (uint8_t)n[0];
	uint8_t lo = f >= 'A' && f <= 'Z' ? (uint8_t)(f + 32) : f;
	uint8_t up = lo >= 'a' && lo <= 'z' ? (uint8_t)(lo - 32) : lo;
	const uint8_t *end = h + hl - nl + 1;
	const uint8_t *pl = memchr(h, lo, (size_t)(end - h));
	const uint8_t *pu = up != lo ? memchr(h, up, (size_t)(end - h)) : NULL;
	while (pl != NULL || pu != NULL) {
		const uint8_t *c = pl == NULL ? pu : pu == NULL ? pl : pl < pu ? pl : pu;
		size_t j = 1;
		for (; j < nl; j++) {
			uint8_t a = c[j], b = (uint8_t)n[j];
			if (a >= 'A' && a <= 'Z')
				a += 32;
			if (b >= 'A' && b <= 'Z')
				b += 32;
			if (a != b)
				break;
		}
		if (j == nl)
			return true;
		if (c == pl)
			pl = c + 1 < end ? memchr(c + 1, lo, (size_t)(end - c - 1)) : NULL;
		else
			pu = c + 1 < end ? memchr(c + 1, up, (size_t)(end - c - 1)) : NULL;
	}
	return false;
}

/* Text parts of the tree, decoded to UTF-8, into body. */
static void
body_text(const mox_msg_part *p, const mox_buf *raw, mox_buf *body, unsigned depth)
{
	if (depth > 64)
		return;
	if (p->nchildren > 0) {
		for (size_t i = 0; i < p->nchildren; i++)
			body_text(p->children[i], raw, body, depth + 1);
		return;
	}
	if (p->type == NULL || strcmp(p->type, "text") != 0)
		return;
	mox_msg_part_decode(p, raw->data, raw->len, body, NULL);
	mox_buf_append_byte(body, '\n');
}

/* Read and decode the message once for TEXT and BODY keys (RFC 9051
 * section 6.4.4: the text is matched after decoding). */
static void
load_text(search_ctx *x)
{
	x->text_read = true;
	mox_buf_reset(&x->raw);
	mox_buf_reset(&x->hdr);
	mox_buf_reset(&x->body);
	if (read_all(x->s, x->m->id, &x->raw) != MOX_OK || x->raw.data == NULL)
		return;
	mox_msg *msg = NULL;
	if (mox_msg_parse(x->raw.data, x->raw.len, NULL, &msg, NULL) != MOX_OK) {
		/* Unparseable: the raw bytes, split at the blank line. */
		const uint8_t *e = memmem(x->raw.data, x->raw.len, "\r\n\r\n", 4);
		size_t hl = e != NULL ? (size_t)(e - x->raw.data) : x->raw.len;
		mox_buf_append(&x->hdr, x->raw.data, hl);
		mox_buf_append(&x->body, x->raw.data + hl, x->raw.len - hl);
		return;
	}
	const mox_msg_header *h = msg->root->header;
	if (h != NULL) {
		mox_buf_append(&x->hdr, h->raw, h->raw_len);
		mox_buf_append_byte(&x->hdr, '\n');
		for (size_t i = 0; i < h->nfields; i++) {
			mox_msg_decode_text(h->fields[i].value, h->fields[i].value_len, &x->hdr, NULL);
			mox_buf_append_byte(&x->hdr, '\n');
		}
	}
	body_text(msg->root, &x->raw, &x->body, 0);
	mox_msg_free(msg);
}

static bool
s_text_contains(void *arg, const char *text, size_t len, bool body_only)
{
	search_ctx *x = arg;
	if (!x->text_read)
		load_text(x);
	/* ASCII search strings the fast way; others with Unicode case
	 * folding (libmoximap). */
	bool ascii = true;
	for (size_t i = 0; i < len && ascii; i++)
		ascii = (unsigned char)text[i] < 0x80;
	bool (*contains)(const uint8_t *, size_t, const char *, size_t) =
	    ascii ? ci_contains : mox_imap_text_contains;
	if (contains(x->body.data != NULL ? x->body.data : (const uint8_t *)"", x->body.len,
		     text, len))
		return true;
	return !body_only &&
	       contains(x->hdr.data != NULL ? x->hdr.data : (const uint8_t *)"", x->hdr.len,
			text, len);
}

static mox_err
search_msg(void *arg, const mox_store_msginfo *m)
{
	search_ctx *x = arg;
	imap_session *s = x->s;
	long idx = imap_view_find(s, m->uid);
	if (idx < 0)
		return MOX_OK;
	x->m = m;
	x->text_read = false;
	mox_msg_header *hdr = NULL;
	if (x->nd.header && read_header(s, m->id, &hdr) != MOX_OK)
		hdr = NULL;
	mox_imap_search_msg sm;
	memset(&sm, 0, sizeof(sm));
	sm.seq = (uint32_t)idx + 1;
	sm.uid = m->uid;
	sm.max_seq = (uint32_t)s->nuids;
	sm.max_uid = s->nuids > 0 ? s->uids[s->nuids - 1] : 0;
	sm.size = m->size;
	sm.internal_date = (time_t)m->received;
	sm.internal_tz = 0;
	sm.modseq = (uint64_t)m->modseq;
	sm.now = x->now;
	sm.has_flag = s_has_flag;
	sm.header = hdr;
	sm.text_contains = s_text_contains;
	sm.arg = x;
	sm.saved = in_sorted(s->saved, s->nsaved, m->uid);
	bool match = mox_imap_search_match(s->cmd->search, &sm);
	mox_msg_header_free(hdr);
	if (!match)
		return MOX_OK;
	if (x->nres == x->capres) {
		size_t nc = x->capres ? x->capres * 2 : 256;
		uint32_t *n = realloc(x->res, nc * sizeof(uint32_t));
		if (n == NULL)
			return MOX_ENOMEM;
		x->res = n;
		x->capres = nc;
	}
	x->res[x->nres++] = s->cmd->uid ? m->uid : (uint32_t)idx + 1;
	if (m->modseq > x->maxmodseq)
		x->maxmodseq = m->modseq;
	return MOX_OK;
}

/* SEARCH RETURN (SAVE ...), RFC 5182 section 2.1: keep the result as
 * UIDs; with MIN and/or MAX but neither ALL nor COUNT, only those. */
static bool
save_result(imap_session *s, const search_ctx *x)
{
	const mox_imap_cmd *cmd = s->cmd;
	unsigned ret = cmd->search_ret;
	bool only_minmax = (ret & (MOX_IMAP_SEARCH_RET_MIN | MOX_IMAP_SEARCH_RET_MAX)) &&
			   !(ret & (MOX_IMAP_SEARCH_RET_ALL | MOX_IMAP_SEARCH_RET_COUNT));
	s->nsaved = 0;
	if (x->nres == 0)
		return true;
	uint32_t *v = realloc(s->saved, x->nres * sizeof(uint32_t));
	if (v == NULL)
		return false;
	s->saved = v;
	for (size_t i = 0; i < x->nres; i++) {
		bool keep = !only_minmax || ((ret & MOX_IMAP_SEARCH_RET_MIN) && i == 0) ||
			    ((ret & MOX_IMAP_SEARCH_RET_MAX) && i == x->nres - 1);
		if (!keep)
			continue;
		uint32_t r = x->res[i];
		/* Results are sequence numbers unless UID SEARCH. */
		uint32_t uid = cmd->uid ? r : (r >= 1 && r <= s->nuids ? s->uids[r - 1] : 0);
		if (uid != 0 && (s->nsaved == 0 || s->saved[s->nsaved - 1] != uid))
			s->saved[s->nsaved++] = uid;
	}
	return true;
}

void
imap_run_search(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	if (cmd->charset != NULL && strcasecmp(cmd->charset, "UTF-8") != 0 &&
	    strcasecmp(cmd->charset, "US-ASCII") != 0) {
		/* RFC 9051 section 6.4.4 */
		imap_result(s, MOX_IMAP_NO, "BADCHARSET (UTF-8 US-ASCII)", "unsupported charset");
		return;
	}
	search_ctx x;
	memset(&x, 0, sizeof(x));
	x.s = s;
	x.now = time(NULL);
	key_needs(cmd->search, &x.nd, 0);
	mox_buf_init(&x.raw, NULL);
	mox_buf_init(&x.hdr, NULL);
	mox_buf_init(&x.body, NULL);
	mox_err err = MOX_OK;
	if (s->nuids > 0) {
		mox_store_range all = {1, s->uids[s->nuids - 1]};
		mox_store_tx *tx = NULL;
		err = mox_store_tx_begin(s->store, MOX_STORE_TX_READ, NULL, &tx);
		if (err == MOX_OK)
			err = mox_store_tx_list(tx, s->mbid, &all, 1, 0, search_msg, &x);
		mox_store_tx_rollback(tx);
	}
	if (err != MOX_OK) {
		if (cmd->search_ret & MOX_IMAP_SEARCH_RET_SAVE)
			s->nsaved = 0; /* RFC 5182 section 2.1: failed, empty */
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "search: %s", mox_strerror(err));
		goto out;
	}
	if ((cmd->search_ret & MOX_IMAP_SEARCH_RET_SAVE) && !save_result(s, &x)) {
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "out of memory");
		goto out;
	}
	mox_buf *o = sout(s);
	if (cmd->search_ret == MOX_IMAP_SEARCH_RET_SAVE) {
		/* RFC 5182 section 2.1: SAVE alone, no ESEARCH response. */
	} else if (cmd->search_return) {
		/* RFC 4731 section 3.1: ESEARCH; RETURN () means ALL. */
		unsigned ret = cmd->search_ret & ~MOX_IMAP_SEARCH_RET_SAVE;
		if (cmd->search_ret == 0)
			ret = MOX_IMAP_SEARCH_RET_ALL;
		mox_buf_append_str(o, "* ESEARCH (TAG ");
		mox_imap_write_string(o, s->tag, strlen(s->tag), 0);
		mox_buf_append_str(o, ")");
		if (cmd->uid)
			mox_buf_append_str(o, " UID");
		if ((ret & MOX_IMAP_SEARCH_RET_MIN) && x.nres > 0)
			mox_buf_appendf(o, " MIN %u", x.res[0]);
		if ((ret & MOX_IMAP_SEARCH_RET_MAX) && x.nres > 0)
			mox_buf_appendf(o, " MAX %u", x.res[x.nres - 1]);
		if (ret & MOX_IMAP_SEARCH_RET_COUNT)
			mox_buf_appendf(o, " COUNT %zu", x.nres);
		if ((ret & MOX_IMAP_SEARCH_RET_ALL) && x.nres > 0) {
			mox_buf_append_str(o, " ALL ");
			for (size_t i = 0; i < x.nres;) {
				size_t j = i;
				while (j + 1 < x.nres && x.res[j + 1] == x.res[j] + 1)
					j++;
				if (i > 0)
					mox_buf_append_byte(o, ',');
				if (j > i)
					mox_buf_appendf(o, "%u:%u", x.res[i], x.res[j]);
				else
					mox_buf_appendf(o, "%u", x.res[i]);
				i = j + 1;
			}
		}
		if (x.nd.modseq && x.nres > 0)
			mox_buf_appendf(o, " MODSEQ %lld", (long long)x.maxmodseq);
		mox_buf_append_str(o, "\r\n");
	} else {
		mox_buf_append_str(o, "* SEARCH");
		for (size_t i = 0; i < x.nres; i++)
			mox_buf_appendf(o, " %u", x.res[i]);
		/* RFC 7162 section 3.1.5 */
		if (x.nd.modseq && x.nres > 0)
			mox_buf_appendf(o, " (MODSEQ %lld)", (long long)x.maxmodseq);
		mox_buf_append_str(o, "\r\n");
	}
	imap_result(s, MOX_IMAP_OK, NULL, "SEARCH completed");
out:
	mox_buf_free(&x.raw);
	mox_buf_free(&x.hdr);
	mox_buf_free(&x.body);
	free(x.res);
}
