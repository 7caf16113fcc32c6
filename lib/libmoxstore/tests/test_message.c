/* Message operations: add (APPEND), list by UID and sequence ranges, get,
 * flags and keywords (SET/ADD/REMOVE, UNCHANGEDSINCE), copy, move,
 * expunge (with tombstones for QRESYNC), search hooks, quota, counts,
 * mailbox create/rename/delete with children and messages, subscriptions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

struct fx {
	char dir[4096];
	mox_store *st;
	int64_t inbox, archive;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (st_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	f->st = st_open(f->dir, "m");
	if (f->st == NULL)
		return -1;
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	mox_store_tx_begin(f->st, MOX_STORE_TX_READ, NULL, &tx);
	mox_store_tx_mailbox_get(tx, "Inbox", &mb);
	f->inbox = mb.id;
	mox_store_tx_mailbox_get(tx, "Archive", &mb);
	f->archive = mb.id;
	mox_store_tx_rollback(tx);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	mox_store_close(f->st);
	st_rmrf(f->dir);
	free(f);
	return 0;
}

struct list {
	uint32_t uid[64], seq[64];
	unsigned flags[64];
	char kw[64][64];
	bool conflict[64];
	size_t n;
};

static mox_err
collect(void *arg, const mox_store_msginfo *m)
{
	struct list *l = arg;
	if (l->n < 64) {
		l->uid[l->n] = m->uid;
		l->seq[l->n] = m->seq;
		l->flags[l->n] = m->flags;
		l->conflict[l->n] = m->conflict;
		snprintf(l->kw[l->n], sizeof(l->kw[0]), "%s", m->keywords);
		l->n++;
	}
	return MOX_OK;
}

static mox_store_tx *
wtx(struct fx *f)
{
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(f->st, MOX_STORE_TX_WRITE, NULL, &tx),
	                 MOX_OK);
	return tx;
}

static mox_store_tx *
rtx(struct fx *f)
{
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(f->st, MOX_STORE_TX_READ, NULL, &tx),
	                 MOX_OK);
	return tx;
}

static mox_store_mailbox
mbget(struct fx *f, const char *name)
{
	mox_store_mailbox mb;
	mox_store_tx *tx = rtx(f);
	assert_int_equal(mox_store_tx_mailbox_get(tx, name, &mb), MOX_OK);
	mox_store_tx_rollback(tx);
	return mb;
}

static void
test_append_list(void **state)
{
	struct fx *f = *state;
	char buf[4096];
	mox_store_tx *tx = wtx(f);
	for (unsigned i = 1; i <= 10; i++) {
		mox_store_msgfile *mf = NULL;
		size_t len = st_msg(buf, sizeof(buf), i, 100 * i);
		assert_int_equal(mox_store_msgfile_new(f->st, &mf), MOX_OK);
		/* Written in pieces. */
		assert_int_equal(mox_store_msgfile_write(mf, buf, len / 2), MOX_OK);
		assert_int_equal(
		    mox_store_msgfile_write(mf, buf + len / 2, len - len / 2), MOX_OK);
		/* Not finished: refused. */
		assert_int_equal(mox_store_tx_add(tx, f->inbox, mf, NULL, NULL),
		                 MOX_EINVAL);
		assert_int_equal(mox_store_msgfile_finish(mf), MOX_OK);
		assert_int_equal(mox_store_msgfile_size(mf), len);
		const char *kws[] = {"$Junk", "Work", "todo"};
		mox_store_add_opts ao = {.size = sizeof(ao),
		                         .flags = i % 2 ? MOX_STORE_SEEN : 0,
		                         .keywords = kws,
		                         .nkeywords = i == 3 ? 3 : 0,
		                         .received = 1000000 + i};
		mox_store_msginfo mi;
		assert_int_equal(mox_store_tx_add(tx, f->inbox, mf, &ao, &mi), MOX_OK);
		assert_int_equal(mi.uid, i);
		assert_true(mi.id > 0);
		assert_int_equal(mi.size, len);
		/* Used: refused again. */
		assert_int_equal(mox_store_tx_add(tx, f->inbox, mf, NULL, NULL),
		                 MOX_EINVAL);
		mox_store_msgfile_free(mf);
	}
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);

	mox_store_mailbox mb = mbget(f, "Inbox");
	assert_int_equal(mb.uidnext, 11);
	assert_int_equal(mb.counts.total, 10);
	assert_int_equal(mb.counts.unseen, 5);
	assert_int_equal(mb.counts.unread, 5);
	assert_int_equal(mb.counts.deleted, 0);

	tx = rtx(f);
	struct list l = {0};
	mox_store_range r[] = {{3, 5}, {9, UINT32_MAX}, {4, 6}};
	assert_int_equal(mox_store_tx_list(tx, f->inbox, r, 3, 0, collect, &l), MOX_OK);
	assert_int_equal(l.n, 6);
	assert_int_equal(l.uid[0], 3);
	assert_int_equal(l.seq[0], 3);
	assert_int_equal(l.uid[4], 9);
	assert_int_equal(l.seq[5], 10);
	/* uid 3: $Junk became a flag, the rest keywords, lower case, sorted. */
	assert_int_equal(l.flags[0], MOX_STORE_SEEN | MOX_STORE_JUNK);
	assert_string_equal(l.kw[0], "todo work");
	memset(&l, 0, sizeof(l));
	mox_store_range s[] = {{2, 3}, {10, 10}};
	assert_int_equal(
	    mox_store_tx_list(tx, f->inbox, s, 2, MOX_STORE_BY_SEQ, collect, &l),
	    MOX_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.uid[2], 10);
	mox_store_range zero = {0, 3};
	assert_int_equal(
	    mox_store_tx_list(tx, f->inbox, &zero, 1, MOX_STORE_BY_SEQ, collect, &l),
	    MOX_EINVAL);
	mox_store_msginfo mi;
	assert_int_equal(mox_store_tx_get(tx, f->inbox, 3, &mi), MOX_OK);
	assert_string_equal(mi.keywords, "todo work");
	assert_int_equal(mi.received, 1000003);
	assert_int_equal(mox_store_tx_get(tx, f->inbox, 99, &mi), MOX_ENOTFOUND);
	/* Keywords of the mailbox (FLAGS). */
	mox_store_part *part = NULL;
	assert_int_equal(mox_store_tx_part(tx, l.uid[0] > 0 ? 1 : 1, &part), MOX_OK);
	assert_string_equal(part->type, "text");
	assert_non_null(part->envelope);
	assert_string_equal(part->envelope->subject, "test 1");
	assert_int_equal(part->envelope->from.n, 1);
	assert_string_equal(part->envelope->from.a[0].name, "Alice");
	assert_string_equal(part->envelope->from.a[0].domain, "example.org");
	assert_true(part->envelope->date_valid);
	assert_int_equal(part->envelope->date_tz, -420);
	mox_store_part_free(part);
	uint64_t bytes, msgs, limit;
	assert_int_equal(mox_store_tx_quota(tx, &bytes, &msgs, &limit), MOX_OK);
	assert_int_equal(msgs, 10);
	assert_int_equal(bytes, mb.counts.size);
	assert_int_equal(limit, 0);
	mox_store_tx_rollback(tx);

	/* The file is readable through the store. */
	int fd = -1;
	assert_int_equal(mox_store_message_open(f->st, 1, &fd), MOX_OK);
	char got[32];
	assert_int_equal(read(fd, got, 6), 6);
	assert_memory_equal(got, "From: ", 6);
	close(fd);
	assert_int_equal(mox_store_message_open(f->st, 999, &fd), MOX_ENOTFOUND);
}

static mox_err
kwcollect(void *arg, const char *s)
{
	mox_buf *b = arg;
	if (b->len > 0)
		mox_buf_append_byte(b, ',');
	return mox_buf_append_str(b, s);
}

static void
test_flags(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 1; i <= 5; i++)
		assert_int_equal(st_deliver(f->st, "Inbox", i), i);
	mox_store_tx *tx = wtx(f);
	struct list l = {0};
	const char *kw[] = {"Important", "$Forwarded"};
	mox_store_range r = {2, 4};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                                    MOX_STORE_SEEN | MOX_STORE_DELETED, kw, 2,
	                                    0, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.flags[0],
	                 MOX_STORE_SEEN | MOX_STORE_DELETED | MOX_STORE_FORWARDED);
	assert_string_equal(l.kw[0], "important");
	/* Invalid keyword: nothing changes. */
	const char *bad[] = {"a b"};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                                    0, bad, 1, 0, NULL, NULL),
	                 MOX_EINVAL);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);

	mox_store_mailbox mb = mbget(f, "Inbox");
	assert_int_equal(mb.counts.total, 2);
	assert_int_equal(mb.counts.deleted, 3);
	assert_int_equal(mb.counts.unseen, 2);
	assert_int_equal(mb.counts.unread, 2);
	int64_t modseq = mb.highest_modseq;

	/* Adding what is there changes nothing and reports nothing. */
	tx = wtx(f);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                                    MOX_STORE_SEEN, NULL, 0, 0, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 0);
	/* REMOVE \Deleted and the keyword on 3..4; SET on 5. */
	mox_store_range r2 = {3, 4};
	const char *imp[] = {"IMPORTANT"};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r2, 1, 0,
	                                    MOX_STORE_FLAGS_REMOVE, MOX_STORE_DELETED,
	                                    imp, 1, 0, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.kw[0], "");
	mox_store_range r3 = {5, 5};
	const char *kx[] = {"x"};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r3, 1, 0,
	                                    MOX_STORE_FLAGS_SET, MOX_STORE_FLAGGED, kx,
	                                    1, 0, NULL, NULL),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);

	/* UNCHANGEDSINCE: 2 was changed at modseq, 3 later. */
	tx = wtx(f);
	memset(&l, 0, sizeof(l));
	mox_store_range r4 = {2, 3};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r4, 1, 0,
	                                    MOX_STORE_FLAGS_ADD, MOX_STORE_ANSWERED,
	                                    NULL, 0, modseq, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 2);
	assert_false(l.conflict[0]);
	assert_int_equal(l.uid[1], 3);
	assert_true(l.conflict[1]);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);

	tx = rtx(f);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mox_store_tx_list(tx, f->inbox, NULL, 0, 0, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.flags[1], MOX_STORE_SEEN | MOX_STORE_DELETED |
	                                 MOX_STORE_FORWARDED | MOX_STORE_ANSWERED);
	assert_int_equal(l.flags[2], MOX_STORE_SEEN | MOX_STORE_FORWARDED);
	assert_int_equal(l.flags[4], MOX_STORE_FLAGGED);
	assert_string_equal(l.kw[4], "x");
	mox_buf kws = MOX_BUF_INIT;
	assert_int_equal(mox_store_tx_mailbox_keywords(tx, f->inbox, kwcollect, &kws),
	                 MOX_OK);
	assert_string_equal((char *)kws.data, "important,x");
	mox_buf_free(&kws);
	mox_store_tx_rollback(tx);
	mb = mbget(f, "Inbox");
	assert_int_equal(mb.counts.deleted, 1);
	assert_int_equal(mb.counts.total, 4);
	assert_int_equal(mb.counts.unseen, 2);
}

struct map {
	uint32_t src[16], dst[16];
	size_t n;
};

static mox_err
mapfn(void *arg, uint32_t s, uint32_t d)
{
	struct map *m = arg;
	m->src[m->n] = s;
	m->dst[m->n] = d;
	m->n++;
	return MOX_OK;
}

static mox_err
uidfn(void *arg, uint32_t uid)
{
	struct map *m = arg;
	m->src[m->n++] = uid;
	return MOX_OK;
}

static void
test_copy_move_expunge(void **state)
{
	struct fx *f = *state;
	char p[4096];
	for (unsigned i = 1; i <= 6; i++)
		assert_int_equal(st_deliver(f->st, "Inbox", i), i);
	st_path(p, sizeof(p), "%s/accounts/m/msg", f->dir);
	assert_int_equal(st_count_files(p), 6);

	mox_store_tx *tx = wtx(f);
	struct map m = {0};
	mox_store_range r = {2, 3};
	assert_int_equal(
	    mox_store_tx_copy(tx, f->inbox, &r, 1, 0, f->archive, mapfn, &m), MOX_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.src[0], 2);
	assert_int_equal(m.dst[0], 1);
	assert_int_equal(m.dst[1], 2);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(st_count_files(p), 8);

	tx = wtx(f);
	memset(&m, 0, sizeof(m));
	mox_store_range r2 = {4, 5};
	assert_int_equal(
	    mox_store_tx_move(tx, f->inbox, &r2, 1, 0, f->archive, mapfn, &m), MOX_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.dst[0], 3);
	assert_int_equal(
	    mox_store_tx_move(tx, f->inbox, &r2, 1, 0, f->inbox, mapfn, &m),
	    MOX_EINVAL);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(st_count_files(p), 8);
	mox_store_mailbox in = mbget(f, "Inbox"), ar = mbget(f, "Archive");
	assert_int_equal(in.counts.total, 4);
	assert_int_equal(ar.counts.total, 4);
	assert_int_equal(ar.uidnext, 5);

	/* Expunge: only \Deleted ones with ONLY_DELETED. */
	tx = wtx(f);
	mox_store_range r3 = {1, 1};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r3, 1, 0,
	                                    MOX_STORE_FLAGS_ADD, MOX_STORE_DELETED,
	                                    NULL, 0, 0, NULL, NULL),
	                 MOX_OK);
	struct list l = {0};
	assert_int_equal(mox_store_tx_expunge(tx, f->inbox, NULL, 0,
	                                      MOX_STORE_ONLY_DELETED, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.uid[0], 1);
	/* Without: everything in the range. */
	mox_store_range r4 = {2, 3};
	assert_int_equal(mox_store_tx_expunge(tx, f->inbox, &r4, 1, 0, collect, &l),
	                 MOX_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(st_count_files(p), 5);

	in = mbget(f, "Inbox");
	assert_int_equal(in.counts.total, 1);
	/* Tombstones: the moved 4, 5 and expunged 1, 2, 3. */
	tx = rtx(f);
	memset(&m, 0, sizeof(m));
	assert_int_equal(mox_store_tx_expunged(tx, f->inbox, 0, uidfn, &m), MOX_OK);
	assert_int_equal(m.n, 5);
	assert_int_equal(m.src[0], 1);
	assert_int_equal(m.src[4], 5);
	memset(&m, 0, sizeof(m));
	/* Each operation has its own modseq: the last expunge took 2 and 3. */
	assert_int_equal(
	    mox_store_tx_expunged(tx, f->inbox, in.highest_modseq - 1, uidfn, &m),
	    MOX_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.src[0], 2);
	uint64_t bytes, msgs;
	assert_int_equal(mox_store_tx_quota(tx, &bytes, &msgs, NULL), MOX_OK);
	assert_int_equal(msgs, 5);
	assert_int_equal(bytes, in.counts.size + mbget(f, "Archive").counts.size);
	mox_store_tx_rollback(tx);
}

static void
test_search(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 1; i <= 6; i++)
		assert_int_equal(st_deliver(f->st, "Inbox", i), i);
	mox_store_tx *tx = wtx(f);
	mox_store_range r = {2, 4};
	const char *kw[] = {"red"};
	assert_int_equal(mox_store_tx_flags(tx, f->inbox, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                                    MOX_STORE_SEEN, kw, 1, 0, NULL, NULL),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	tx = rtx(f);
	struct list l = {0};
	mox_store_search q = {.size = sizeof(q), .flags_set = MOX_STORE_SEEN};
	assert_int_equal(mox_store_tx_search(tx, f->inbox, &q, collect, &l), MOX_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.seq[0], 2);
	memset(&l, 0, sizeof(l));
	const char *nored[] = {"RED"};
	mox_store_range u = {1, 3};
	mox_store_search q2 = {.size = sizeof(q2),
	                       .keywords_clear = nored,
	                       .nkeywords_clear = 1,
	                       .uids = &u,
	                       .nuids = 1};
	assert_int_equal(mox_store_tx_search(tx, f->inbox, &q2, collect, &l), MOX_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.uid[0], 1);
	memset(&l, 0, sizeof(l));
	mox_store_search q3 = {.size = sizeof(q3),
	                       .keywords_set = nored,
	                       .nkeywords_set = 1,
	                       .flags_clear = MOX_STORE_DELETED,
	                       .larger = 10};
	assert_int_equal(mox_store_tx_search(tx, f->inbox, &q3, collect, &l), MOX_OK);
	assert_int_equal(l.n, 3);
	memset(&l, 0, sizeof(l));
	mox_store_search q4 = {.size = sizeof(q4), .smaller = 10};
	assert_int_equal(mox_store_tx_search(tx, f->inbox, &q4, collect, &l), MOX_OK);
	assert_int_equal(l.n, 0);
	mox_store_mailbox mb = mbget(f, "Inbox");
	mox_store_search q5 = {.size = sizeof(q5), .modseq_min = mb.highest_modseq};
	assert_int_equal(mox_store_tx_search(tx, f->inbox, &q5, collect, &l), MOX_OK);
	assert_int_equal(l.n, 3);
	mox_store_tx_rollback(tx);
}

static mox_err
namecollect(void *arg, const mox_store_mailbox *mb)
{
	mox_buf *b = arg;
	if (b->len > 0)
		mox_buf_append_byte(b, ',');
	return mox_buf_append_str(b, mb->name);
}

static char *
names(struct fx *f)
{
	static char out[1024];
	mox_buf b = MOX_BUF_INIT;
	mox_store_tx *tx = rtx(f);
	assert_int_equal(mox_store_tx_mailbox_list(tx, namecollect, &b), MOX_OK);
	mox_store_tx_rollback(tx);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? (char *)b.data : "");
	mox_buf_free(&b);
	return out;
}

static void
test_mailboxes(void **state)
{
	struct fx *f = *state;
	char p[4096];
	mox_store_tx *tx = wtx(f);
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_mailbox_create(tx, "a/b/c", MOX_STORE_USE_ARCHIVE,
	                                             MOX_STORE_MAILBOX_SUBSCRIBE, &mb),
	                 MOX_OK);
	assert_int_equal(mb.special_use, MOX_STORE_USE_ARCHIVE);
	assert_true(mb.subscribed);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "a/b", 0, 0, NULL),
	                 MOX_EEXIST);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "a//b", 0, 0, NULL),
	                 MOX_EINVAL);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "a/*", 0, 0, NULL),
	                 MOX_EINVAL);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "a/../b", 0, 0, NULL),
	                 MOX_EINVAL);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "\xff", 0, 0, NULL),
	                 MOX_EINVAL);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "inbox/Sub", 0, 0, &mb),
	                 MOX_OK);
	assert_string_equal(mb.name, "Inbox/Sub");
	assert_int_equal(mox_store_tx_mailbox_create(tx, "Über/Ärger", 0, 0, NULL),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_string_equal(names(f),
	                    "Archive,Drafts,Inbox,Inbox/Sub,Junk,Sent,Trash,a,a/b,"
	                    "a/b/c,Über,Über/Ärger");

	/* Messages in a/b/c survive renames with their UIDs. */
	assert_int_equal(st_deliver(f->st, "a/b/c", 1), 1);
	mox_store_mailbox abc = mbget(f, "a/b/c");
	tx = wtx(f);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "a", "x/y"), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "x", "x/z"), MOX_EINVAL);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "nope", "q"), MOX_ENOTFOUND);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "Junk", "Trash"), MOX_EEXIST);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_string_equal(names(f),
	                    "Archive,Drafts,Inbox,Inbox/Sub,Junk,Sent,Trash,x,x/y,"
	                    "x/y/b,x/y/b/c,Über,Über/Ärger");
	mox_store_mailbox moved = mbget(f, "x/y/b/c");
	assert_int_equal(moved.id, abc.id);
	assert_int_equal(moved.uidvalidity, abc.uidvalidity);
	assert_int_equal(moved.counts.total, 1);
	assert_true(moved.subscribed);           /* the subscription moved along */
	assert_true(mbget(f, "x/y").subscribed); /* parents created subscribed */

	/* Renaming Inbox moves its messages (RFC 9051 section 6.3.6). */
	assert_int_equal(st_deliver(f->st, "Inbox", 1), 1);
	assert_int_equal(st_deliver(f->st, "Inbox", 2), 2);
	tx = wtx(f);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "INBOX", "Old"), MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(mbget(f, "Inbox").counts.total, 0);
	assert_int_equal(mbget(f, "Inbox").uidnext, 3);
	assert_int_equal(mbget(f, "Old").counts.total, 2);
	assert_non_null(strstr(names(f), "Inbox/Sub"));

	/* Delete: children need the flag; files go after the commit. */
	st_path(p, sizeof(p), "%s/accounts/m/msg", f->dir);
	size_t files = st_count_files(p);
	tx = wtx(f);
	assert_int_equal(mox_store_tx_mailbox_delete(tx, "x", 0), MOX_ESTATE);
	assert_int_equal(mox_store_tx_mailbox_delete(tx, "Inbox", 0), MOX_EINVAL);
	assert_int_equal(
	    mox_store_tx_mailbox_delete(tx, "x", MOX_STORE_MAILBOX_CHILDREN), MOX_OK);
	assert_int_equal(st_count_files(p), files);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(st_count_files(p), files - 1);
	assert_string_equal(names(f),
	                    "Archive,Drafts,Inbox,Inbox/Sub,Junk,Old,Sent,Trash,Über,"
	                    "Über/Ärger");
	tx = rtx(f);
	uint64_t msgs;
	assert_int_equal(mox_store_tx_quota(tx, NULL, &msgs, NULL), MOX_OK);
	assert_int_equal(msgs, 2);
	mox_store_tx_rollback(tx);

	/* Re-created: a new UIDVALIDITY. */
	tx = wtx(f);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "x/y/b/c", 0, 0, &mb), MOX_OK);
	assert_true(mb.uidvalidity > abc.uidvalidity);
	assert_int_equal(mb.uidnext, 1);
	assert_int_equal(mox_store_tx_mailbox_set_use(tx, mb.id, MOX_STORE_USE_TRASH),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_set_use(tx, mb.id, 1u << 20), MOX_EINVAL);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(mbget(f, "x/y/b/c").special_use, MOX_STORE_USE_TRASH);
}

static mox_err
strcollect(void *arg, const char *s)
{
	mox_buf *b = arg;
	if (b->len > 0)
		mox_buf_append_byte(b, ',');
	return mox_buf_append_str(b, s);
}

static void
test_subscriptions(void **state)
{
	struct fx *f = *state;
	mox_store_tx *tx = wtx(f);
	assert_int_equal(mox_store_tx_subscribe(tx, "Nonexistent/Box"), MOX_OK);
	assert_int_equal(mox_store_tx_subscribe(tx, "Nonexistent/Box"), MOX_OK);
	assert_int_equal(mox_store_tx_unsubscribe(tx, "Junk"), MOX_OK);
	assert_int_equal(mox_store_tx_unsubscribe(tx, "Junk"), MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	tx = rtx(f);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_store_tx_subscriptions(tx, strcollect, &b), MOX_OK);
	assert_string_equal((char *)b.data,
	                    "Archive,Drafts,Inbox,Nonexistent/Box,Sent,Trash");
	mox_buf_free(&b);
	mox_store_tx_rollback(tx);
	assert_false(mbget(f, "Junk").subscribed);
}

static void
test_quota(void **state)
{
	struct fx *f = *state;
	char p[4096], buf[4096];
	st_path(p, sizeof(p), "%s/accounts/q", f->dir);
	mox_store_opts o = {.size = sizeof(o), .create = true, .quota_bytes = 3000};
	mox_store *st = NULL;
	assert_int_equal(mox_store_open(&st, p, &o, NULL), MOX_OK);
	size_t len = st_msg(buf, sizeof(buf), 1, 1000);
	mox_store_deliver_opts d = {.size = sizeof(d)};
	assert_int_equal(mox_store_deliver_mem(st, "Inbox", buf, len, &d, NULL, NULL),
	                 MOX_OK);
	assert_int_equal(mox_store_deliver_mem(st, "Inbox", buf, len, &d, NULL, NULL),
	                 MOX_OK);
	mox_errinfo info;
	assert_int_equal(mox_store_deliver_mem(st, "Inbox", buf, len, &d, NULL, &info),
	                 MOX_ELIMIT);
	assert_non_null(strstr(info.msg, "quota"));
	/* Copy past the quota is refused too. */
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	mox_store_mailbox in, ar;
	mox_store_tx_mailbox_get(tx, "Inbox", &in);
	mox_store_tx_mailbox_get(tx, "Archive", &ar);
	assert_int_equal(mox_store_tx_copy(tx, in.id, NULL, 0, 0, ar.id, NULL, NULL),
	                 MOX_ELIMIT);
	assert_non_null(strstr(mox_store_tx_errmsg(tx), "quota"));
	uint64_t limit;
	assert_int_equal(mox_store_tx_quota(tx, NULL, NULL, &limit), MOX_OK);
	assert_int_equal(limit, 3000);
	mox_store_tx_rollback(tx);
	/* Delivery to a missing mailbox: not found, unless asked to create. */
	assert_int_equal(mox_store_deliver_mem(st, "New", buf, 10, &d, NULL, NULL),
	                 MOX_ENOTFOUND);
	d.create_mailbox = true;
	assert_int_equal(mox_store_deliver_mem(st, "New/Sub", buf, 10, &d, NULL, NULL),
	                 MOX_OK);
	mox_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_append_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_move_expunge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_search, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mailboxes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_subscriptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
