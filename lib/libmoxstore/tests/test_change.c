/* Change notifications: what each operation broadcasts, the originating
 * listener left out, wakeups, blocking waits across threads, readers
 * running while writers commit, and the queue limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <pthread.h>
#include <stdatomic.h>

static const mox_store_change *
next(mox_store_listener *l, mox_store_batch **b, size_t *n)
{
	assert_int_equal(mox_store_listener_next(l, 1000, b), MOX_OK);
	return mox_store_batch_changes(*b, n);
}

static atomic_int wakeups;

static void
wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakeups, 1);
}

static void
test_kinds(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "n");
	mox_store_listener *a = NULL, *self = NULL;
	assert_int_equal(mox_store_listener_new(st, wake, NULL, &a), MOX_OK);
	assert_int_equal(mox_store_listener_new(st, NULL, NULL, &self), MOX_OK);
	mox_store_batch *b = NULL;
	assert_int_equal(mox_store_listener_next(a, 0, &b), MOX_ETIMEDOUT);
	assert_int_equal(mox_store_listener_next(a, 20, &b), MOX_ETIMEDOUT);
	assert_null(b);

	atomic_store(&wakeups, 0);
	assert_int_equal(st_deliver(st, "Inbox", 1), 1);
	assert_int_equal(atomic_load(&wakeups), 1);
	size_t n;
	const mox_store_change *c = next(a, &b, &n);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].type, MOX_STORE_CHANGE_ADD);
	assert_int_equal(c[0].uid, 1);
	assert_string_equal(c[0].keywords, "");
	assert_int_equal(c[1].type, MOX_STORE_CHANGE_MAILBOX_COUNTS);
	assert_string_equal(c[1].name, "Inbox");
	assert_int_equal(c[1].counts.total, 1);
	assert_int_equal(c[1].counts.unseen, 1);
	int64_t inbox = c[0].mailbox_id;
	mox_store_batch_free(b);
	assert_int_equal(mox_store_listener_next(self, 0, &b), MOX_OK);
	mox_store_batch_free(b);

	/* Changes made by self are not sent to self. */
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, self, &tx), MOX_OK);
	const char *kw[] = {"newkw"};
	mox_store_range r = {1, 1};
	assert_int_equal(mox_store_tx_flags(tx, inbox, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                                    MOX_STORE_SEEN, kw, 1, 0, NULL, NULL),
	                 MOX_OK);
	mox_store_mailbox mb;
	assert_int_equal(
	    mox_store_tx_mailbox_create(tx, "New", 0, MOX_STORE_MAILBOX_SUBSCRIBE, &mb),
	    MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_rename(tx, "New", "Newer"), MOX_OK);
	assert_int_equal(mox_store_tx_move(tx, inbox, &r, 1, 0, mb.id, NULL, NULL),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_set_use(tx, mb.id, MOX_STORE_USE_JUNK),
	                 MOX_OK);
	assert_int_equal(mox_store_tx_unsubscribe(tx, "Newer"), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_delete(tx, "Newer", 0), MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(mox_store_listener_next(self, 0, &b), MOX_ETIMEDOUT);

	c = next(a, &b, &n);
	mox_store_change_type want[] = {
	    MOX_STORE_CHANGE_FLAGS,          MOX_STORE_CHANGE_MAILBOX_KEYWORDS,
	    MOX_STORE_CHANGE_MAILBOX_ADD,    MOX_STORE_CHANGE_SUBSCRIBE,
	    MOX_STORE_CHANGE_MAILBOX_RENAME, MOX_STORE_CHANGE_ADD,
	    MOX_STORE_CHANGE_EXPUNGE,        MOX_STORE_CHANGE_MAILBOX_KEYWORDS,
	    MOX_STORE_CHANGE_MAILBOX_COUNTS, MOX_STORE_CHANGE_MAILBOX_USE,
	    MOX_STORE_CHANGE_UNSUBSCRIBE,    MOX_STORE_CHANGE_MAILBOX_REMOVE,
	};
	/* In order, counts changes reduced to the last one per mailbox. */
	size_t w = 0;
	for (size_t i = 0; i < n && w < sizeof(want) / sizeof(want[0]); i++) {
		if (c[i].type == want[w])
			w++;
	}
	assert_int_equal(w, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		switch (c[i].type) {
		case MOX_STORE_CHANGE_FLAGS:
			assert_int_equal(c[i].flags, MOX_STORE_SEEN);
			assert_int_equal(c[i].flags_mask, MOX_STORE_SEEN);
			assert_true(c[i].keywords_changed);
			assert_string_equal(c[i].keywords, "newkw");
			break;
		case MOX_STORE_CHANGE_MAILBOX_RENAME:
			assert_string_equal(c[i].old_name, "New");
			assert_string_equal(c[i].name, "Newer");
			break;
		case MOX_STORE_CHANGE_EXPUNGE:
			assert_int_equal(c[i].mailbox_id, inbox);
			assert_int_equal(c[i].nuids, 1);
			assert_int_equal(c[i].uids[0], 1);
			break;
		case MOX_STORE_CHANGE_MAILBOX_USE:
			assert_int_equal(c[i].special_use, MOX_STORE_USE_JUNK);
			break;
		case MOX_STORE_CHANGE_MAILBOX_REMOVE:
			assert_string_equal(c[i].name, "Newer");
			break;
		default:
			break;
		}
	}
	mox_store_batch_free(b);

	/* A failed operation leaves no change behind. */
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "Inbox", 0, 0, NULL),
	                 MOX_EEXIST);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(mox_store_listener_next(a, 0, &b), MOX_ETIMEDOUT);

	mox_store_listener_free(self);
	mox_store_listener_free(a);
	mox_store_close(st);
	st_rmrf(dir);
}

struct reader {
	mox_store *st;
	mox_store_listener *l;
	unsigned want;
	unsigned got;
	uint32_t last;
	bool ordered;
	unsigned snapshots;
};

/* Waits for changes, and reads the mailbox meanwhile. */
static void *
reader_thread(void *arg)
{
	struct reader *r = arg;
	r->ordered = true;
	while (r->got < r->want) {
		mox_store_batch *b = NULL;
		mox_err err = mox_store_listener_next(r->l, 5000, &b);
		if (err != MOX_OK)
			break;
		size_t n;
		const mox_store_change *c = mox_store_batch_changes(b, &n);
		for (size_t i = 0; i < n; i++) {
			if (c[i].type != MOX_STORE_CHANGE_ADD)
				continue;
			if (c[i].uid != r->last + 1)
				r->ordered = false;
			r->last = c[i].uid;
			r->got++;
		}
		mox_store_batch_free(b);
		/* A concurrent read transaction sees at least what was announced. */
		mox_store_tx *tx = NULL;
		if (mox_store_tx_begin(r->st, MOX_STORE_TX_READ, NULL, &tx) == MOX_OK) {
			mox_store_mailbox mb;
			if (mox_store_tx_mailbox_get(tx, "Inbox", &mb) == MOX_OK &&
			    mb.uidnext > r->last)
				r->snapshots++;
			mox_store_tx_rollback(tx);
		}
	}
	return NULL;
}

struct writer {
	mox_store *st;
	unsigned n;
};

static void *
writer_thread(void *arg)
{
	struct writer *w = arg;
	for (unsigned i = 0; i < w->n; i++)
		st_deliver(w->st, "Inbox", i);
	return NULL;
}

static void
test_threads(void **state)
{
	(void)state;
	char dir[4096];
	enum { NR = 4, NW = 3, PER = 30 };
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "t");
	struct reader r[NR];
	struct writer w[NW];
	pthread_t rt[NR], wt[NW];
	for (int i = 0; i < NR; i++) {
		r[i] = (struct reader){.st = st, .want = NW * PER};
		assert_int_equal(mox_store_listener_new(st, NULL, NULL, &r[i].l),
		                 MOX_OK);
		pthread_create(&rt[i], NULL, reader_thread, &r[i]);
	}
	for (int i = 0; i < NW; i++) {
		w[i] = (struct writer){.st = st, .n = PER};
		pthread_create(&wt[i], NULL, writer_thread, &w[i]);
	}
	for (int i = 0; i < NW; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < NR; i++) {
		pthread_join(rt[i], NULL);
		assert_int_equal(r[i].got, NW * PER);
		assert_true(r[i].ordered);
		assert_int_equal(r[i].last, NW * PER);
		assert_true(r[i].snapshots > 0);
		mox_store_listener_free(r[i].l);
	}
	mox_store_close(st);
	st_rmrf(dir);
}

static void
test_overflow(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "o");
	mox_store_listener *l = NULL;
	assert_int_equal(mox_store_listener_new(st, NULL, NULL, &l), MOX_OK);
	/* Cheap changes: subscriptions, one batch each, past a lowered limit
	 * (the real one takes MOX_STORE_LISTENER_QUEUE_MAX commits). */
	st->queue_max = 50;
	for (int i = 0; i < 55; i++) {
		mox_store_tx *tx = NULL;
		char name[32];
		snprintf(name, sizeof(name), "s%d", i % 2);
		assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx),
		                 MOX_OK);
		if (i % 2 == 0)
			assert_int_equal(mox_store_tx_subscribe(tx, "s"), MOX_OK);
		else
			assert_int_equal(mox_store_tx_unsubscribe(tx, "s"), MOX_OK);
		assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	}
	mox_store_batch *b = NULL;
	/* Dropped: told once (the session resynchronises from the current
	 * state), then queuing starts again. */
	assert_int_equal(mox_store_listener_next(l, 0, &b), MOX_ELIMIT);
	assert_int_equal(mox_store_listener_next(l, 0, &b), MOX_ETIMEDOUT);
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_subscribe(tx, "again"), MOX_OK);
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	assert_int_equal(mox_store_listener_next(l, 0, &b), MOX_OK);
	size_t n;
	const mox_store_change *c = mox_store_batch_changes(b, &n);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].name, "again");
	mox_store_batch_free(b);
	mox_store_listener_free(l);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
