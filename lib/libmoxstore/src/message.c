/* Messages: add, list, flags, copy, move, expunge, search, quota.
 *
 * How this works: operations that change several messages first collect
 * the rows in the ranges (struct row), then change them one by one, so no
 * statement is stepped while the table it reads changes. Ranges are
 * sorted and merged first, so "1:5,3:7" touches each message once. Flags
 * are a bit mask; keywords a sorted, lower-case, space separated list (the
 * well-known $-keywords are flags, RFC 9051 section 2.3.2). Each message's
 * modseq is set to the operation's modseq when it changes; removed UIDs
 * stay as tombstones (table expunged) for QRESYNC, and their files are
 * removed after the commit.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct {
	unsigned bit;
	const char *name;
} flag_names[] = {
    {MOX_STORE_SEEN, "\\Seen"},        {MOX_STORE_ANSWERED, "\\Answered"},
    {MOX_STORE_FLAGGED, "\\Flagged"},  {MOX_STORE_DELETED, "\\Deleted"},
    {MOX_STORE_DRAFT, "\\Draft"},      {MOX_STORE_FORWARDED, "$Forwarded"},
    {MOX_STORE_JUNK, "$Junk"},         {MOX_STORE_NOTJUNK, "$NotJunk"},
    {MOX_STORE_PHISHING, "$Phishing"}, {MOX_STORE_MDNSENT, "$MDNSent"},
};

const char *
mox_store_flag_name(unsigned flag)
{
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (flag_names[i].bit == flag)
			return flag_names[i].name;
	return NULL;
}

static bool
eq_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (mox__store_lower(*a) != mox__store_lower(*b))
			return false;
	return *a == *b;
}

unsigned
mox_store_flag_parse(const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (eq_nocase(flag_names[i].name, name))
			return flag_names[i].bit;
	return 0;
}

/* RFC 9051 section 9: flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom;
 * atom = 1*ATOM-CHAR; ATOM-CHAR = <any CHAR except atom-specials>;
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials (i.e. "%" "*" DQUOTE "\" "]"). */
bool
mox_store_keyword_valid(const char *kw)
{
	if (kw == NULL)
		return false;
	size_t n = strlen(kw);
	if (n == 0 || n > MOX_STORE_KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Normalise keywords into out: lower case, sorted, unique, space
 * separated; well-known ones become bits in *flags_io. */
mox_err
mox__store_keywords_norm(mox_store_tx *tx, const char *const *kws, size_t n,
                         unsigned *flags_io, char *out, size_t outsz)
{
	out[0] = '\0';
	if (n == 0)
		return MOX_OK;
	if (n > MOX_STORE_KEYWORDS_MAX)
		return mox__store_seterr(tx, MOX_ELIMIT, "more than %d keywords",
		                         MOX_STORE_KEYWORDS_MAX);
	const mox_allocator *a = tx != NULL ? tx->st->alloc : NULL;
	char *buf = mox_mem_calloc(a, n, MOX_STORE_KEYWORD_MAX + 1);
	const char **list = mox_mem_calloc(a, n, sizeof(*list));
	mox_err err = MOX_OK;
	size_t m = 0;
	if (buf == NULL || list == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned bit = mox_store_flag_parse(kws[i]);
		if (bit != 0 && kws[i][0] == '$') {
			*flags_io |= bit;
			continue;
		}
		if (!mox_store_keyword_valid(kws[i])) {
			err = mox__store_seterr(tx, MOX_EINVAL, "invalid keyword");
			goto out;
		}
		char *k = buf + m * (MOX_STORE_KEYWORD_MAX + 1);
		size_t j;
		for (j = 0; kws[i][j] != '\0'; j++)
			k[j] = mox__store_lower(kws[i][j]);
		k[j] = '\0';
		list[m++] = k;
	}
	qsort(list, m, sizeof(*list), cmp_str);
	size_t len = 0;
	for (size_t i = 0; i < m; i++) {
		if (i > 0 && strcmp(list[i], list[i - 1]) == 0)
			continue;
		size_t l = strlen(list[i]);
		if (len + l + 2 > outsz) {
			err = mox__store_seterr(tx, MOX_ELIMIT, "keywords too long");
			goto out;
		}
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, list[i], l + 1);
		len += l;
	}
out:
	mox_mem_free(a, buf);
	mox_mem_free(a, list);
	return err;
}

/* Set operations on sorted word lists: mode 0 union, 1 difference (a - b). */
static mox_err
words_op(const char *a, const char *b, int mode, mox_buf *out)
{
	mox_buf_reset(out);
	mox_err err = mox_buf_append(out, "", 0);
	while (err == MOX_OK) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		size_t al = strcspn(a, " "), bl = strcspn(b, " ");
		if (al == 0 && (bl == 0 || mode == 1))
			break;
		int cmp;
		if (al == 0)
			cmp = 1;
		else if (bl == 0)
			cmp = -1;
		else {
			cmp = strncmp(a, b, al < bl ? al : bl);
			if (cmp == 0)
				cmp = al < bl ? -1 : al > bl ? 1 : 0;
		}
		const char *w = NULL;
		size_t wl = 0;
		if (cmp < 0) {
			w = a;
			wl = al;
			a += al;
		} else if (cmp == 0) {
			if (mode == 0) {
				w = a;
				wl = al;
			}
			a += al;
			b += bl;
		} else {
			if (mode == 0) {
				w = b;
				wl = bl;
			}
			b += bl;
		}
		if (w != NULL) {
			if (out->len > 0)
				err = mox_buf_append_byte(out, ' ');
			if (err == MOX_OK)
				err = mox_buf_append(out, w, wl);
		}
	}
	return err;
}

void
mox__store_counts_of(unsigned flags, uint64_t size, mox_store_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (flags & MOX_STORE_DELETED)
		c->deleted = 1;
	else
		c->total = 1;
	if (!(flags & MOX_STORE_SEEN)) {
		c->unseen = 1;
		if (!(flags & MOX_STORE_DELETED))
			c->unread = 1;
	}
	c->size = size;
}

static void
counts_add(mox_store_counts *d, const mox_store_counts *s)
{
	d->total += s->total;
	d->deleted += s->deleted;
	d->unread += s->unread;
	d->unseen += s->unseen;
	d->size += s->size;
}

void
mox__store_msginfo_read(sqlite3_stmt *s, mox_store_msginfo *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(s, 0);
	m->mailbox_id = sqlite3_column_int64(s, 1);
	m->uid = (uint32_t)sqlite3_column_int64(s, 2);
	m->modseq = sqlite3_column_int64(s, 3);
	m->createseq = sqlite3_column_int64(s, 4);
	m->received = sqlite3_column_int64(s, 5);
	m->size = (uint64_t)sqlite3_column_int64(s, 6);
	m->flags = (unsigned)sqlite3_column_int64(s, 7);
	const char *kw = (const char *)sqlite3_column_text(s, 8);
	m->keywords = kw != NULL ? kw : "";
}

static mox_err
account_usage(mox_store_tx *tx, int64_t count, int64_t size)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_ACCOUNT_ADD_USAGE);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, count);
		sqlite3_bind_int64(s, 2, size);
	}
	return mox__store_step_done(tx, s, "updating quota usage");
}

static mox_err
account_get(mox_store_tx *tx, uint64_t *count, uint64_t *size)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_ACCOUNT_GET);
	if (s == NULL)
		return mox__store_prep_err(tx, "reading account");
	int rc = sqlite3_step(s);
	mox_err err = MOX_OK;
	if (rc == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(s, 2);
		*size = (uint64_t)sqlite3_column_int64(s, 3);
	} else {
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "reading account");
	}
	sqlite3_reset(s);
	return err;
}

static mox_err
quota_check(mox_store_tx *tx, uint64_t more)
{
	if (tx->st->quota == 0)
		return MOX_OK;
	uint64_t count = 0, size = 0;
	mox_err err = account_get(tx, &count, &size);
	if (err != MOX_OK)
		return err;
	if (size + more > tx->st->quota || size + more < size)
		return mox__store_seterr(
		    tx, MOX_ELIMIT,
		    "quota of %llu bytes exceeded (%llu used, %llu more)",
		    (unsigned long long)tx->st->quota, (unsigned long long)size,
		    (unsigned long long)more);
	return MOX_OK;
}

static mox_err
set_uidnext(mox_store_tx *tx, int64_t mailbox_id, uint32_t uidnext)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_UIDNEXT);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, uidnext);
	}
	return mox__store_step_done(tx, s, "updating uidnext");
}

static mox_err
take_uid(mox_store_tx *tx, mox_store_mailbox *mb, uint32_t *uid)
{
	/* RFC 9051 section 2.3.1.1: UIDs are 32-bit; when they run out a new
	 * UIDVALIDITY would be needed. 4 billion messages in one mailbox. */
	if (mb->uidnext == 0 || mb->uidnext == UINT32_MAX)
		return mox__store_seterr(tx, MOX_ELIMIT,
		                         "mailbox \"%s\" has no UIDs left", mb->name);
	*uid = mb->uidnext++;
	return MOX_OK;
}

/* known: the mailbox as the caller just read it, or NULL. */
mox_err
mox__store_add(mox_store_tx *tx, int64_t mailbox_id, const mox_store_mailbox *known,
               mox_store_msgfile *mf, const mox_store_add_opts *o,
               mox_store_msginfo *info_out)
{
	mox_store_add_opts opts = {0};
	mox_store_mailbox *mb = NULL;
	mox_err err = MOX_OK;
	if (o != NULL && o->size >= sizeof(size_t))
		memcpy(&opts, o, o->size < sizeof(opts) ? o->size : sizeof(opts));
	if (opts.flags & ~(unsigned)MOX_STORE_FLAGS_ALL)
		return mox__store_seterr(tx, MOX_EINVAL, "unknown flag bits");
	mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	if (known != NULL && known->id == mailbox_id)
		*mb = *known;
	else
		err = mox_store_tx_mailbox_get_id(tx, mailbox_id, mb);
	if (err != MOX_OK)
		goto out;
	err = quota_check(tx, mf->size);
	if (err != MOX_OK)
		goto out;
	unsigned flags = opts.flags;
	err = mox__store_keywords_norm(tx, opts.keywords, opts.nkeywords, &flags,
	                               tx->kwbuf, sizeof(tx->kwbuf));
	if (err != MOX_OK)
		goto out;
	int64_t received = opts.received != 0 ? opts.received : (int64_t)time(NULL);
	uint32_t uid = 0;
	err = take_uid(tx, mb, &uid);
	if (err != MOX_OK)
		goto out;
	if (mox__store_fault_hit(tx->st, MOX__STORE_FAULT_INSERT)) {
		err = mox__store_seterr(tx, MOX_EIO, "inserting message (injected)");
		goto out;
	}
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_INSERT);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, uid);
		sqlite3_bind_int64(s, 3, tx->modseq);
		sqlite3_bind_int64(s, 4, received);
		sqlite3_bind_int64(s, 5, (int64_t)mf->size);
		sqlite3_bind_int64(s, 6, flags);
		sqlite3_bind_text(s, 7, tx->kwbuf, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 8, mf->part.data, (int)mf->part.len,
		                  SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, mf->id);
	}
	err = mox__store_step_done(tx, s, "inserting message");
	if (err != MOX_OK)
		goto out;
	int64_t id = mf->id;
	/* UIDNEXT and counts in one statement: this runs for every delivery. */
	mox_store_counts c;
	mox__store_counts_of(flags, mf->size, &c);
	s = mox__store_stmt(tx->c, ST_MAILBOX_ADD_MSG);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, mb->uidnext);
		sqlite3_bind_int64(s, 3, (int64_t)c.total);
		sqlite3_bind_int64(s, 4, (int64_t)c.deleted);
		sqlite3_bind_int64(s, 5, (int64_t)c.unread);
		sqlite3_bind_int64(s, 6, (int64_t)c.unseen);
		sqlite3_bind_int64(s, 7, (int64_t)c.size);
		sqlite3_bind_int64(s, 8, tx->modseq);
	}
	err = mox__store_step_done(tx, s, "updating mailbox");
	if (err == MOX_OK)
		err = account_usage(tx, 1, (int64_t)mf->size);
	if (err == MOX_OK)
		err = mox__store_mailbox_keywords_merge(tx, mailbox_id, tx->kwbuf);
	if (err == MOX_OK) {
		mox_store_change ch = {.type = MOX_STORE_CHANGE_ADD,
		                       .mailbox_id = mailbox_id,
		                       .uid = uid,
		                       .modseq = tx->modseq,
		                       .flags = flags,
		                       .flags_mask = MOX_STORE_FLAGS_ALL,
		                       .keywords_changed = true};
		err = mox__store_change_add(tx, &ch, tx->kwbuf, NULL, NULL, NULL, 0);
	}
	if (err == MOX_OK) {
		/* The new counts, from what we read plus what we added. */
		mox_store_change cc = {.type = MOX_STORE_CHANGE_MAILBOX_COUNTS,
		                       .mailbox_id = mailbox_id,
		                       .modseq = tx->modseq,
		                       .counts = mb->counts};
		counts_add(&cc.counts, &c);
		err = mox__store_change_add(tx, &cc, NULL, mb->name, NULL, NULL, 0);
	}
	if (err != MOX_OK)
		goto out;
	/* Last: from here the transaction owns the file. */
	err = mox__store_pending_add(tx, id, false, true);
	if (err != MOX_OK)
		goto out;
	mf->consumed = true;
	if (info_out != NULL) {
		memset(info_out, 0, sizeof(*info_out));
		info_out->id = id;
		info_out->mailbox_id = mailbox_id;
		info_out->uid = uid;
		info_out->modseq = tx->modseq;
		info_out->createseq = tx->modseq;
		info_out->received = received;
		info_out->size = mf->size;
		info_out->flags = flags;
	}
out:
	mox_mem_free(tx->st->alloc, mb);
	return err;
}

mox_err
mox_store_tx_add(mox_store_tx *tx, int64_t mailbox_id, mox_store_msgfile *mf,
                 const mox_store_add_opts *opts, mox_store_msginfo *info_out)
{
	struct mox__store_opmark m;
	if (info_out != NULL)
		memset(info_out, 0, sizeof(*info_out));
	if (tx == NULL || mf == NULL)
		return MOX_EINVAL;
	if (mf->st != tx->st || !mf->finished || mf->consumed || mf->err != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL,
		                         "message file not finished or used");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = mox__store_add(tx, mailbox_id, NULL, mf, opts, info_out);
	err = mox__store_op_end(tx, &m, err);
	if (err != MOX_OK) {
		mf->consumed = false;
		if (info_out != NULL)
			memset(info_out, 0, sizeof(*info_out));
	}
	return err;
}

/* ---- ranges ---- */

static int
cmp_range(const void *a, const void *b)
{
	const mox_store_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* Sorted, merged copy of ranges (NULL/0: everything). */
static mox_err
ranges_norm(mox_store_tx *tx, const mox_store_range *in, size_t n, bool by_seq,
            mox_store_range **out, size_t *nout)
{
	static const mox_store_range all = {1, UINT32_MAX};
	*out = NULL;
	*nout = 0;
	if (in == NULL || n == 0) {
		in = &all;
		n = 1;
	}
	mox_store_range *r = mox_mem_reallocarray(tx->st->alloc, NULL, n, sizeof(*r));
	if (r == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		r[i] = in[i];
		if (r[i].first > r[i].last) {
			uint32_t t = r[i].first;
			r[i].first = r[i].last;
			r[i].last = t;
		}
		if (r[i].first == 0) {
			if (by_seq) {
				mox_mem_free(tx->st->alloc, r);
				return mox__store_seterr(tx, MOX_EINVAL,
				                         "sequence number 0");
			}
			r[i].first = 1;
			if (r[i].last == 0)
				r[i].last = 1; /* UID 0 matches nothing; harmless */
		}
	}
	qsort(r, n, sizeof(*r), cmp_range);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && (r[i].first <= r[m - 1].last ||
		              (r[m - 1].last != UINT32_MAX &&
		               r[i].first == r[m - 1].last + 1))) {
			if (r[i].last > r[m - 1].last)
				r[m - 1].last = r[i].last;
			continue;
		}
		r[m++] = r[i];
	}
	*out = r;
	*nout = m;
	return MOX_OK;
}

/* Stream the messages in the ranges to fn (statement rows; fn must not
 * use ST_MSG_RANGE, ST_MSG_SEQ or ST_MSG_COUNT_BELOW). */
static mox_err
walk(mox_store_tx *tx, int64_t mailbox_id, const mox_store_range *ranges,
     size_t nranges, unsigned flags, mox_store_msg_fn fn, void *arg)
{
	mox_store_range *r = NULL;
	size_t nr = 0;
	bool by_seq = (flags & MOX_STORE_BY_SEQ) != 0;
	mox_err err = ranges_norm(tx, ranges, nranges, by_seq, &r, &nr);
	if (err != MOX_OK)
		return err;
	for (size_t i = 0; i < nr && err == MOX_OK; i++) {
		uint32_t seq;
		sqlite3_stmt *s;
		if (by_seq) {
			s = mox__store_stmt(tx->c, ST_MSG_SEQ);
			if (s == NULL) {
				err = mox__store_prep_err(tx, "listing messages");
				break;
			}
			sqlite3_bind_int64(s, 1, mailbox_id);
			sqlite3_bind_int64(s, 2,
			                   r[i].last == UINT32_MAX
			                       ? -1
			                       : (int64_t)r[i].last - r[i].first + 1);
			sqlite3_bind_int64(s, 3, (int64_t)r[i].first - 1);
			seq = r[i].first;
		} else {
			s = mox__store_stmt(tx->c, ST_MSG_COUNT_BELOW);
			if (s == NULL) {
				err = mox__store_prep_err(tx, "counting messages");
				break;
			}
			sqlite3_bind_int64(s, 1, mailbox_id);
			sqlite3_bind_int64(s, 2, r[i].first);
			int rc = sqlite3_step(s);
			if (rc != SQLITE_ROW) {
				err = mox__store_err_sqlite(tx, tx->c->db, rc,
				                            "counting messages");
				sqlite3_reset(s);
				break;
			}
			seq = (uint32_t)sqlite3_column_int64(s, 0) + 1;
			sqlite3_reset(s);
			s = mox__store_stmt(tx->c, ST_MSG_RANGE);
			if (s == NULL) {
				err = mox__store_prep_err(tx, "listing messages");
				break;
			}
			sqlite3_bind_int64(s, 1, mailbox_id);
			sqlite3_bind_int64(s, 2, r[i].first);
			sqlite3_bind_int64(s, 3, r[i].last);
		}
		int rc;
		while (err == MOX_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			mox_store_msginfo m;
			mox__store_msginfo_read(s, &m);
			m.seq = seq++;
			err = fn(arg, &m);
		}
		if (err == MOX_OK && rc != SQLITE_DONE)
			err = mox__store_err_sqlite(tx, tx->c->db, rc,
			                            "listing messages");
		sqlite3_reset(s);
	}
	mox_mem_free(tx->st->alloc, r);
	return err;
}

mox_err
mox_store_tx_list(mox_store_tx *tx, int64_t mailbox_id, const mox_store_range *ranges,
                  size_t nranges, unsigned flags, mox_store_msg_fn fn, void *arg)
{
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	tx->errmsg[0] = '\0';
	return walk(tx, mailbox_id, ranges, nranges, flags, fn, arg);
}

mox_err
mox_store_tx_get(mox_store_tx *tx, int64_t mailbox_id, uint32_t uid,
                 mox_store_msginfo *info_out)
{
	if (tx == NULL || info_out == NULL)
		return MOX_EINVAL;
	memset(info_out, 0, sizeof(*info_out));
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_GET);
	if (s == NULL)
		return mox__store_prep_err(tx, "reading message");
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	int rc = sqlite3_step(s);
	mox_err err = MOX_OK;
	if (rc == SQLITE_ROW) {
		mox__store_msginfo_read(s, info_out);
		/* Keep keywords past the reset, in the transaction. */
		size_t n = strlen(info_out->keywords);
		if (n >= sizeof(tx->kwbuf))
			n = sizeof(tx->kwbuf) - 1;
		memcpy(tx->kwbuf, info_out->keywords, n);
		tx->kwbuf[n] = '\0';
		info_out->keywords = tx->kwbuf;
	} else if (rc == SQLITE_DONE) {
		err = mox__store_seterr(tx, MOX_ENOTFOUND, "no message with uid %u",
		                        (unsigned)uid);
	} else {
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "reading message");
	}
	sqlite3_reset(s);
	return err;
}

/* ---- collected rows, for operations that change them ---- */

struct row {
	int64_t id;
	uint32_t uid;
	uint32_t seq;
	int64_t modseq, createseq, received;
	uint64_t size;
	unsigned flags;
	size_t kw_off; /* into rows.kw */
};

struct rows {
	const mox_allocator *alloc;
	struct row *r;
	size_t n, cap;
	mox_buf kw;
	bool only_deleted;
};

static mox_err
rows_add(void *arg, const mox_store_msginfo *m)
{
	struct rows *rs = arg;
	if (rs->only_deleted && !(m->flags & MOX_STORE_DELETED))
		return MOX_OK;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		void *n = mox_mem_reallocarray(rs->alloc, rs->r, cap, sizeof(*rs->r));
		if (n == NULL)
			return MOX_ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	struct row *r = &rs->r[rs->n];
	r->id = m->id;
	r->uid = m->uid;
	r->seq = m->seq;
	r->modseq = m->modseq;
	r->createseq = m->createseq;
	r->received = m->received;
	r->size = m->size;
	r->flags = m->flags;
	r->kw_off = rs->kw.len;
	mox_err err = mox_buf_append(&rs->kw, m->keywords, strlen(m->keywords) + 1);
	if (err != MOX_OK)
		return err;
	rs->n++;
	return MOX_OK;
}

static void
rows_free(struct rows *rs)
{
	mox_mem_free(rs->alloc, rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
	mox_buf_free(&rs->kw);
}

static mox_err
collect(mox_store_tx *tx, int64_t mailbox_id, const mox_store_range *ranges,
        size_t nranges, unsigned flags, struct rows *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->alloc = tx->st->alloc;
	mox_buf_init(&rs->kw, tx->st->alloc);
	rs->only_deleted = (flags & MOX_STORE_ONLY_DELETED) != 0;
	mox_err err = walk(tx, mailbox_id, ranges, nranges, flags, rows_add, rs);
	if (err == MOX_ENOMEM)
		mox__store_seterr(tx, err, "out of memory");
	if (err != MOX_OK)
		rows_free(rs);
	return err;
}

static const char *
row_kw(const struct rows *rs, const struct row *r)
{
	return (const char *)rs->kw.data + r->kw_off;
}

static void
row_info(const struct rows *rs, const struct row *r, int64_t mailbox_id,
         mox_store_msginfo *m)
{
	memset(m, 0, sizeof(*m));
	m->id = r->id;
	m->mailbox_id = mailbox_id;
	m->uid = r->uid;
	m->seq = r->seq;
	m->modseq = r->modseq;
	m->createseq = r->createseq;
	m->received = r->received;
	m->size = r->size;
	m->flags = r->flags;
	m->keywords = row_kw(rs, r);
}

static mox_err
mailbox_must(mox_store_tx *tx, int64_t id, mox_store_mailbox **mb)
{
	*mb = mox_mem_alloc(tx->st->alloc, sizeof(**mb));
	if (*mb == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	return mox_store_tx_mailbox_get_id(tx, id, *mb);
}

/* ---- flags ---- */

mox_err
mox_store_tx_flags(mox_store_tx *tx, int64_t mailbox_id, const mox_store_range *ranges,
                   size_t nranges, unsigned flags, mox_store_flags_mode mode,
                   unsigned msgflags, const char *const *keywords, size_t nkeywords,
                   int64_t unchangedsince, mox_store_msg_fn fn, void *arg)
{
	struct mox__store_opmark m;
	struct rows rs = {0};
	mox_store_mailbox *mb = NULL;
	mox_buf nk;
	if (tx == NULL)
		return MOX_EINVAL;
	if (msgflags & ~(unsigned)MOX_STORE_FLAGS_ALL || mode > MOX_STORE_FLAGS_REMOVE)
		return mox__store_seterr(tx, MOX_EINVAL, "unknown flag bits or mode");
	mox_buf_init(&nk, tx->st->alloc);
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	char *given = mox_mem_alloc(tx->st->alloc, sizeof(tx->kwbuf));
	if (given == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		goto out;
	}
	err = mox__store_keywords_norm(tx, keywords, nkeywords, &msgflags, given,
	                               sizeof(tx->kwbuf));
	if (err == MOX_OK)
		err = mailbox_must(tx, mailbox_id, &mb);
	if (err == MOX_OK)
		err = collect(tx, mailbox_id, ranges, nranges, flags, &rs);
	if (err != MOX_OK)
		goto out;
	mox_store_counts add = {0}, sub = {0}, c;
	bool any = false;
	for (size_t i = 0; i < rs.n && err == MOX_OK; i++) {
		struct row *r = &rs.r[i];
		const char *oldkw = row_kw(&rs, r);
		unsigned nf;
		switch (mode) {
		case MOX_STORE_FLAGS_SET:
			nf = msgflags;
			mox_buf_reset(&nk);
			err = mox_buf_append_str(&nk, given);
			break;
		case MOX_STORE_FLAGS_ADD:
			nf = r->flags | msgflags;
			err = words_op(oldkw, given, 0, &nk);
			break;
		default:
			nf = r->flags & ~msgflags;
			err = words_op(oldkw, given, 1, &nk);
			break;
		}
		if (err != MOX_OK) {
			mox__store_seterr(tx, err, "out of memory");
			break;
		}
		const char *newkw = (const char *)nk.data;
		bool kwch = strcmp(oldkw, newkw) != 0;
		if (nf == r->flags && !kwch)
			continue;
		mox_store_msginfo info;
		if (unchangedsince > 0 && r->modseq > unchangedsince) {
			/* RFC 7162 section 3.1.3: not stored, reported. */
			if (fn != NULL) {
				row_info(&rs, r, mailbox_id, &info);
				info.conflict = true;
				err = fn(arg, &info);
			}
			continue;
		}
		sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_SET_FLAGS);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, r->id);
			sqlite3_bind_int64(s, 2, nf);
			sqlite3_bind_text(s, 3, newkw, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, tx->modseq);
		}
		err = mox__store_step_done(tx, s, "setting flags");
		if (err != MOX_OK)
			break;
		any = true;
		mox__store_counts_of(r->flags, r->size, &c);
		counts_add(&sub, &c);
		mox__store_counts_of(nf, r->size, &c);
		counts_add(&add, &c);
		mox_store_change ch = {.type = MOX_STORE_CHANGE_FLAGS,
		                       .mailbox_id = mailbox_id,
		                       .uid = r->uid,
		                       .modseq = tx->modseq,
		                       .flags = nf,
		                       .flags_mask = nf ^ r->flags,
		                       .keywords_changed = kwch};
		err = mox__store_change_add(tx, &ch, newkw, NULL, NULL, NULL, 0);
		if (err == MOX_OK && fn != NULL) {
			row_info(&rs, r, mailbox_id, &info);
			info.flags = nf;
			info.keywords = newkw;
			info.modseq = tx->modseq;
			err = fn(arg, &info);
		}
	}
	if (err == MOX_OK && any) {
		err = mox__store_counts_apply(tx, mailbox_id, &add, &sub, tx->modseq);
		if (err == MOX_OK && mode != MOX_STORE_FLAGS_REMOVE)
			err = mox__store_mailbox_keywords_merge(tx, mailbox_id, given);
		if (err == MOX_OK)
			err = mox__store_change_counts(tx, mailbox_id);
	}
out:
	mox_mem_free(tx->st->alloc, given);
	mox_mem_free(tx->st->alloc, mb);
	mox_buf_free(&nk);
	rows_free(&rs);
	return mox__store_op_end(tx, &m, err);
}

/* ---- copy, move, expunge ---- */

struct uidlist {
	uint32_t *u;
	size_t n;
};

/* After a copy or move of one message to dst_id as uid: announce it to
 * the listeners and add its keywords to the destination's set (kwall). */
static mox_err
announce_added(mox_store_tx *tx, const char *kw, unsigned flags, int64_t dst_id,
	       uint32_t uid, mox_buf *kwall)
{
	mox_store_change ch = {.type = MOX_STORE_CHANGE_ADD,
	                       .mailbox_id = dst_id,
	                       .uid = uid,
	                       .modseq = tx->modseq,
	                       .flags = flags,
	                       .flags_mask = MOX_STORE_FLAGS_ALL,
	                       .keywords_changed = true};
	mox_err err = mox__store_change_add(tx, &ch, kw, NULL, NULL, NULL, 0);
	if (err != MOX_OK || kw[0] == '\0')
		return err;
	mox_buf tmpb;
	mox_buf_init(&tmpb, tx->st->alloc);
	err = words_op(kwall->len > 0 ? (const char *)kwall->data : "", kw, 0, &tmpb);
	if (err == MOX_OK) {
		mox_buf_free(kwall);
		*kwall = tmpb;
	} else {
		mox_buf_free(&tmpb);
		mox__store_seterr(tx, err, "out of memory");
	}
	return err;
}

mox_err
mox_store_tx_copy(mox_store_tx *tx, int64_t src_id, const mox_store_range *ranges,
                  size_t nranges, unsigned flags, int64_t dst_id,
                  mox_store_uidmap_fn fn, void *arg)
{
	struct mox__store_opmark m;
	struct rows rs = {0};
	mox_store_mailbox *dst = NULL, *src = NULL;
	mox_buf kwall;
	if (tx == NULL)
		return MOX_EINVAL;
	mox_buf_init(&kwall, tx->st->alloc);
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = mailbox_must(tx, src_id, &src);
	if (err == MOX_OK)
		err = mailbox_must(tx, dst_id, &dst);
	if (err == MOX_OK)
		err =
		    collect(tx, src_id, ranges, nranges, flags & MOX_STORE_BY_SEQ, &rs);
	if (err != MOX_OK)
		goto out;
	uint64_t total = 0;
	for (size_t i = 0; i < rs.n; i++)
		total += rs.r[i].size;
	err = quota_check(tx, total);
	mox_store_counts add = {0}, c;
	for (size_t i = 0; i < rs.n && err == MOX_OK; i++) {
		struct row *r = &rs.r[i];
		uint32_t uid = 0;
		err = take_uid(tx, dst, &uid);
		if (err != MOX_OK)
			break;
		int64_t nid = mox__store_alloc_id(tx->st);
		sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_COPY);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, r->id);
			sqlite3_bind_int64(s, 2, dst_id);
			sqlite3_bind_int64(s, 3, uid);
			sqlite3_bind_int64(s, 4, tx->modseq);
			sqlite3_bind_int64(s, 5, nid);
		}
		err = mox__store_step_done(tx, s, "copying message");
		if (err != MOX_OK)
			break;
		err = mox__store_link(tx->st, r->id, nid);
		if (err != MOX_OK) {
			mox__store_seterr(tx, err, "linking message file %lld",
			                  (long long)r->id);
			break;
		}
		err = mox__store_pending_add(tx, nid, true, false);
		if (err != MOX_OK) {
			char rel[32], path[MOX__STORE_PATH_MAX];
			mox_store_message_path(nid, rel);
			if (mox__store_path(tx->st, path, sizeof(path), "msg/%s",
			                    rel) == 0)
				unlink(path);
			break;
		}
		mox__store_counts_of(r->flags, r->size, &c);
		counts_add(&add, &c);
		err = announce_added(tx, row_kw(&rs, r), r->flags, dst_id, uid, &kwall);
		if (err == MOX_OK && fn != NULL)
			err = fn(arg, r->uid, uid);
	}
	if (err == MOX_OK && rs.n > 0) {
		err = set_uidnext(tx, dst_id, dst->uidnext);
		if (err == MOX_OK)
			err =
			    mox__store_counts_apply(tx, dst_id, &add, NULL, tx->modseq);
		if (err == MOX_OK)
			err = account_usage(tx, (int64_t)rs.n, (int64_t)add.size);
		if (err == MOX_OK && kwall.len > 0)
			err = mox__store_mailbox_keywords_merge(
			    tx, dst_id, (const char *)kwall.data);
		if (err == MOX_OK)
			err = mox__store_change_counts(tx, dst_id);
	}
out:
	mox_mem_free(tx->st->alloc, src);
	mox_mem_free(tx->st->alloc, dst);
	mox_buf_free(&kwall);
	rows_free(&rs);
	return mox__store_op_end(tx, &m, err);
}

static mox_err
tombstone(mox_store_tx *tx, int64_t mailbox_id, uint32_t uid)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_EXPUNGED_INSERT);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, uid);
		sqlite3_bind_int64(s, 3, tx->modseq);
	}
	return mox__store_step_done(tx, s, "recording expunge");
}

static mox_err
expunge_change(mox_store_tx *tx, int64_t mailbox_id, const struct rows *rs)
{
	if (rs->n == 0)
		return MOX_OK;
	uint32_t *uids =
	    mox_mem_reallocarray(tx->st->alloc, NULL, rs->n, sizeof(*uids));
	if (uids == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	for (size_t i = 0; i < rs->n; i++)
		uids[i] = rs->r[i].uid;
	mox_store_change ch = {.type = MOX_STORE_CHANGE_EXPUNGE,
	                       .mailbox_id = mailbox_id,
	                       .modseq = tx->modseq};
	mox_err err = mox__store_change_add(tx, &ch, NULL, NULL, NULL, uids, rs->n);
	mox_mem_free(tx->st->alloc, uids);
	return err;
}

mox_err
mox__store_move(mox_store_tx *tx, int64_t src_id, const mox_store_range *ranges,
                size_t nranges, unsigned flags, int64_t dst_id, mox_store_uidmap_fn fn,
                void *arg)
{
	struct rows rs = {0};
	mox_store_mailbox *dst = NULL, *src = NULL;
	mox_buf kwall;
	mox_buf_init(&kwall, tx->st->alloc);
	if (src_id == dst_id)
		return mox__store_seterr(tx, MOX_EINVAL,
		                         "source and destination are the same");
	mox_err err = mailbox_must(tx, src_id, &src);
	if (err == MOX_OK)
		err = mailbox_must(tx, dst_id, &dst);
	if (err == MOX_OK)
		err =
		    collect(tx, src_id, ranges, nranges, flags & MOX_STORE_BY_SEQ, &rs);
	if (err != MOX_OK)
		goto out;
	mox_store_counts moved = {0}, c;
	for (size_t i = 0; i < rs.n && err == MOX_OK; i++) {
		struct row *r = &rs.r[i];
		uint32_t uid = 0;
		err = take_uid(tx, dst, &uid);
		if (err != MOX_OK)
			break;
		sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_MOVE);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, r->id);
			sqlite3_bind_int64(s, 2, dst_id);
			sqlite3_bind_int64(s, 3, uid);
			sqlite3_bind_int64(s, 4, tx->modseq);
		}
		err = mox__store_step_done(tx, s, "moving message");
		if (err == MOX_OK)
			err = tombstone(tx, src_id, r->uid);
		if (err != MOX_OK)
			break;
		mox__store_counts_of(r->flags, r->size, &c);
		counts_add(&moved, &c);
		err = announce_added(tx, row_kw(&rs, r), r->flags, dst_id, uid, &kwall);
		if (err == MOX_OK && fn != NULL)
			err = fn(arg, r->uid, uid);
	}
	if (err == MOX_OK && rs.n > 0) {
		/* RFC 6851 section 4.3: the expunges of the source come after
		 * the new messages in the destination. */
		err = expunge_change(tx, src_id, &rs);
		if (err == MOX_OK)
			err = set_uidnext(tx, dst_id, dst->uidnext);
		if (err == MOX_OK)
			err = mox__store_counts_apply(tx, dst_id, &moved, NULL,
			                              tx->modseq);
		if (err == MOX_OK)
			err = mox__store_counts_apply(tx, src_id, NULL, &moved,
			                              tx->modseq);
		if (err == MOX_OK && kwall.len > 0)
			err = mox__store_mailbox_keywords_merge(
			    tx, dst_id, (const char *)kwall.data);
		if (err == MOX_OK)
			err = mox__store_change_counts(tx, dst_id);
		if (err == MOX_OK)
			err = mox__store_change_counts(tx, src_id);
	}
out:
	mox_mem_free(tx->st->alloc, src);
	mox_mem_free(tx->st->alloc, dst);
	mox_buf_free(&kwall);
	rows_free(&rs);
	return err;
}

mox_err
mox_store_tx_move(mox_store_tx *tx, int64_t src_id, const mox_store_range *ranges,
                  size_t nranges, unsigned flags, int64_t dst_id,
                  mox_store_uidmap_fn fn, void *arg)
{
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = mox__store_move(tx, src_id, ranges, nranges, flags, dst_id, fn, arg);
	return mox__store_op_end(tx, &m, err);
}

/* Remove messages of a mailbox: rows deleted (with tombstones for
 * expunges; not when the mailbox itself goes), files removed after the
 * commit, counts and usage updated. */
mox_err
mox__store_remove_messages(mox_store_tx *tx, int64_t mailbox_id, bool tombstones,
                           mox_store_msg_fn fn, void *arg,
                           const mox_store_range *ranges, size_t nranges,
                           unsigned flags)
{
	struct rows rs = {0};
	mox_store_mailbox *mb = NULL;
	mox_err err = mailbox_must(tx, mailbox_id, &mb);
	if (err == MOX_OK)
		err = collect(tx, mailbox_id, ranges, nranges, flags, &rs);
	if (err != MOX_OK)
		goto out;
	mox_store_counts gone = {0}, c;
	for (size_t i = 0; i < rs.n && err == MOX_OK; i++) {
		struct row *r = &rs.r[i];
		sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_DELETE);
		if (s != NULL)
			sqlite3_bind_int64(s, 1, r->id);
		err = mox__store_step_done(tx, s, "removing message");
		if (err == MOX_OK && tombstones)
			err = tombstone(tx, mailbox_id, r->uid);
		if (err == MOX_OK)
			err = mox__store_remove_add(tx, r->id);
		if (err != MOX_OK)
			break;
		mox__store_counts_of(r->flags, r->size, &c);
		counts_add(&gone, &c);
		if (fn != NULL) {
			mox_store_msginfo info;
			row_info(&rs, r, mailbox_id, &info);
			err = fn(arg, &info);
		}
	}
	if (err == MOX_OK && rs.n > 0) {
		err = account_usage(tx, -(int64_t)rs.n, -(int64_t)gone.size);
		if (err == MOX_OK && tombstones) {
			err = expunge_change(tx, mailbox_id, &rs);
			if (err == MOX_OK)
				err = mox__store_counts_apply(tx, mailbox_id, NULL,
				                              &gone, tx->modseq);
			if (err == MOX_OK)
				err = mox__store_change_counts(tx, mailbox_id);
		}
	}
out:
	mox_mem_free(tx->st->alloc, mb);
	rows_free(&rs);
	return err;
}

mox_err
mox_store_tx_expunge(mox_store_tx *tx, int64_t mailbox_id,
                     const mox_store_range *ranges, size_t nranges, unsigned flags,
                     mox_store_msg_fn fn, void *arg)
{
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = mox__store_remove_messages(tx, mailbox_id, true, fn, arg, ranges, nranges,
	                                 flags);
	return mox__store_op_end(tx, &m, err);
}

mox_err
mox_store_tx_expunged(mox_store_tx *tx, int64_t mailbox_id, int64_t since,
                      mox_store_uid_fn fn, void *arg)
{
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_EXPUNGED_SINCE);
	if (s == NULL)
		return mox__store_prep_err(tx, "listing expunged");
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, since);
	mox_err err = MOX_OK;
	int rc;
	while (err == MOX_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		err = fn(arg, (uint32_t)sqlite3_column_int64(s, 0));
	if (err == MOX_OK && rc != SQLITE_DONE)
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "listing expunged");
	sqlite3_reset(s);
	return err;
}

/* ---- search ---- */

static bool
has_word(const char *list, const char *w)
{
	size_t wl = strlen(w);
	for (const char *p = list; *p != '\0';) {
		while (*p == ' ')
			p++;
		size_t l = strcspn(p, " ");
		if (l == wl && l > 0 && memcmp(p, w, l) == 0)
			return true;
		p += l;
	}
	return false;
}

struct search_ctx {
	const mox_store_search *q;
	const mox_store_range *uids; /* normalised */
	size_t nuids;
	const char *kset, *kclear; /* normalised keyword lists */
	unsigned fset, fclear;
	mox_store_msg_fn fn;
	void *arg;
};

static mox_err
search_one(void *arg, const mox_store_msginfo *m)
{
	struct search_ctx *c = arg;
	const mox_store_search *q = c->q;
	if ((m->flags & c->fset) != c->fset || (m->flags & c->fclear) != 0)
		return MOX_OK;
	if (q->larger != 0 && m->size <= q->larger)
		return MOX_OK;
	if (q->smaller != 0 && m->size >= q->smaller)
		return MOX_OK;
	if (q->received_since != 0 && m->received < q->received_since)
		return MOX_OK;
	if (q->received_before != 0 && m->received >= q->received_before)
		return MOX_OK;
	if (q->modseq_min != 0 && m->modseq < q->modseq_min)
		return MOX_OK;
	if (c->uids != NULL) {
		bool in = false;
		for (size_t i = 0; i < c->nuids && !in; i++)
			in = m->uid >= c->uids[i].first && m->uid <= c->uids[i].last;
		if (!in)
			return MOX_OK;
	}
	for (const char *p = c->kset; *p != '\0';) {
		size_t l = strcspn(p, " ");
		char w[MOX_STORE_KEYWORD_MAX + 1];
		memcpy(w, p, l);
		w[l] = '\0';
		if (!has_word(m->keywords, w))
			return MOX_OK;
		p += l;
		while (*p == ' ')
			p++;
	}
	for (const char *p = c->kclear; *p != '\0';) {
		size_t l = strcspn(p, " ");
		char w[MOX_STORE_KEYWORD_MAX + 1];
		memcpy(w, p, l);
		w[l] = '\0';
		if (has_word(m->keywords, w))
			return MOX_OK;
		p += l;
		while (*p == ' ')
			p++;
	}
	return c->fn(c->arg, m);
}

mox_err
mox_store_tx_search(mox_store_tx *tx, int64_t mailbox_id, const mox_store_search *q,
                    mox_store_msg_fn fn, void *arg)
{
	mox_store_search qq = {0};
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	if (q != NULL) {
		if (q->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&qq, q, q->size < sizeof(qq) ? q->size : sizeof(qq));
	}
	struct search_ctx c = {.q = &qq, .fn = fn, .arg = arg};
	mox_store_range *uids = NULL;
	char *kw = mox_mem_alloc(tx->st->alloc, 2 * sizeof(tx->kwbuf));
	mox_err err = MOX_OK;
	if (kw == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	c.fset = qq.flags_set;
	c.fclear = qq.flags_clear;
	err = mox__store_keywords_norm(tx, qq.keywords_set, qq.nkeywords_set, &c.fset,
	                               kw, sizeof(tx->kwbuf));
	if (err == MOX_OK)
		err = mox__store_keywords_norm(
		    tx, qq.keywords_clear, qq.nkeywords_clear, &c.fclear,
		    kw + sizeof(tx->kwbuf), sizeof(tx->kwbuf));
	c.kset = kw;
	c.kclear = kw + sizeof(tx->kwbuf);
	if (err == MOX_OK && qq.uids != NULL && qq.nuids > 0) {
		err = ranges_norm(tx, qq.uids, qq.nuids, false, &uids, &c.nuids);
		c.uids = uids;
	}
	/* The whole mailbox in UID order: sequence numbers come with it. The
	 * SQL filters would have to count anyway. */
	if (err == MOX_OK)
		err = walk(tx, mailbox_id, NULL, 0, 0, search_one, &c);
	mox_mem_free(tx->st->alloc, uids);
	mox_mem_free(tx->st->alloc, kw);
	return err;
}

mox_err
mox_store_tx_quota(mox_store_tx *tx, uint64_t *bytes_out, uint64_t *messages_out,
                   uint64_t *limit_out)
{
	uint64_t count = 0, size = 0;
	if (tx == NULL)
		return MOX_EINVAL;
	mox_err err = account_get(tx, &count, &size);
	if (bytes_out != NULL)
		*bytes_out = size;
	if (messages_out != NULL)
		*messages_out = count;
	if (limit_out != NULL)
		*limit_out = tx->st->quota;
	return err;
}

mox_err
mox_store_tx_part(mox_store_tx *tx, int64_t id, mox_store_part **part_out)
{
	if (part_out == NULL)
		return MOX_EINVAL;
	*part_out = NULL;
	if (tx == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MSG_PART);
	if (s == NULL)
		return mox__store_prep_err(tx, "reading part");
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	mox_err err;
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		err = mox_store_part_decode(blob, n, tx->st->alloc, part_out);
		if (err != MOX_OK)
			mox__store_seterr(tx, err, "decoding part of message %lld",
			                  (long long)id);
	} else if (rc == SQLITE_DONE) {
		err = mox__store_seterr(tx, MOX_ENOTFOUND, "no message %lld",
		                        (long long)id);
	} else {
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "reading part");
	}
	sqlite3_reset(s);
	return err;
}
