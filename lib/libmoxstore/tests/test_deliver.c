/* Delivery durability: a failure injected at each step of the protocol
 * (write, fsync of the file, row insert, rename into msg/, fsync of the
 * directory, database commit) leaves no row, no message file and no
 * staged file, and does not use up the UID; concurrent deliveries from
 * many threads all land, with unique UIDs, committed in groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <pthread.h>

static void
expect_empty(mox_store *st, const char *dir, const char *acct)
{
	char p[4096];
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	uint64_t msgs = 9, bytes = 9;
	assert_int_equal(mox_store_tx_quota(tx, &bytes, &msgs, NULL), MOX_OK);
	assert_int_equal(msgs, 0);
	assert_int_equal(bytes, 0);
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
	assert_int_equal(mb.uidnext, 1);
	assert_int_equal(mb.counts.total, 0);
	mox_store_tx_rollback(tx);
	st_path(p, sizeof(p), "%s/accounts/%s/msg", dir, acct);
	assert_int_equal(st_count_files(p), 0);
	st_path(p, sizeof(p), "%s/accounts/%s/tmp", dir, acct);
	assert_int_equal(st_count_files(p), 0);
}

static const char *const fault_names[] = {
    "none", "write", "fsync file", "fsync dir", "insert", "link", "commit",
};

/* Through mox_store_deliver (group commit). */
static void
test_faults_deliver(void **state)
{
	(void)state;
	char dir[4096], buf[2048];
	size_t len = st_msg(buf, sizeof(buf), 1, 300);
	for (int f = 1; f < MOX__STORE_FAULT__COUNT; f++) {
		if (f == MOX__STORE_FAULT_LINK)
			continue; /* copies only: test_faults_copy */
		assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
		mox_store *st = st_open(dir, "f");
		assert_non_null(st);
		mox__store_fault_set(st, (enum mox__store_fault)f);
		mox_store_deliver_opts o = {.size = sizeof(o)};
		mox_store_msginfo mi;
		mox_errinfo info;
		mox_err err =
		    mox_store_deliver_mem(st, "Inbox", buf, len, &o, &mi, &info);
		if (err != MOX_EIO)
			fail_msg("fault %s: got %s", fault_names[f], mox_err_name(err));
		assert_int_equal(mi.uid, 0);
		expect_empty(st, dir, "f");
		/* The next one goes through, with UID 1. */
		assert_int_equal(
		    mox_store_deliver_mem(st, "Inbox", buf, len, &o, &mi, &info),
		    MOX_OK);
		assert_int_equal(mi.uid, 1);
		mox_store_close(st);
		/* And it is there after a reopen. */
		st = st_open(dir, "f");
		mox_store_tx *tx = NULL;
		assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx),
		                 MOX_OK);
		assert_int_equal(mox_store_tx_get(tx, mi.mailbox_id, 1, &mi), MOX_OK);
		assert_int_equal(mi.size, len);
		mox_store_tx_rollback(tx);
		mox_store_close(st);
		st_rmrf(dir);
	}
}

/* Through a transaction of the caller (IMAP APPEND), several messages. */
static void
test_faults_tx(void **state)
{
	(void)state;
	char dir[4096], buf[2048];
	size_t len = st_msg(buf, sizeof(buf), 1, 300);
	static const int faults[] = {MOX__STORE_FAULT_INSERT, MOX__STORE_FAULT_COMMIT};
	for (size_t k = 0; k < 2; k++) {
		int f = faults[k];
		assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
		mox_store *st = st_open(dir, "f");
		mox_store_tx *tx = NULL;
		mox_store_mailbox mb;
		mox_store_msgfile *mf[3] = {NULL, NULL, NULL};
		for (int i = 0; i < 3; i++) {
			assert_int_equal(mox_store_msgfile_new(st, &mf[i]), MOX_OK);
			assert_int_equal(mox_store_msgfile_write(mf[i], buf, len),
			                 MOX_OK);
			assert_int_equal(mox_store_msgfile_finish(mf[i]), MOX_OK);
		}
		assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx),
		                 MOX_OK);
		assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
		assert_int_equal(mox_store_tx_add(tx, mb.id, mf[0], NULL, NULL),
		                 MOX_OK);
		mox__store_fault_set(st, (enum mox__store_fault)f);
		mox_err err = mox_store_tx_add(tx, mb.id, mf[1], NULL, NULL);
		if (f == MOX__STORE_FAULT_INSERT) {
			/* The failed add is undone alone; its file stays with
			 * the msgfile, which can be added again. */
			assert_int_equal(err, MOX_EIO);
			assert_int_equal(mox_store_tx_add(tx, mb.id, mf[1], NULL, NULL),
			                 MOX_OK);
		} else {
			assert_int_equal(err, MOX_OK);
		}
		assert_int_equal(mox_store_tx_add(tx, mb.id, mf[2], NULL, NULL),
		                 MOX_OK);
		err = mox_store_tx_commit(tx);
		if (f == MOX__STORE_FAULT_INSERT)
			assert_int_equal(err, MOX_OK);
		else if (err != MOX_EIO)
			fail_msg("fault %s: commit gave %s", fault_names[f],
			         mox_err_name(err));
		for (int i = 0; i < 3; i++)
			mox_store_msgfile_free(mf[i]);
		if (f != MOX__STORE_FAULT_INSERT)
			expect_empty(st, dir, "f");
		mox_store_close(st);
		st_rmrf(dir);
	}
}

/* Copies: a failed link, directory sync or commit leaves no copy. */
static void
test_faults_copy(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	static const int faults[] = {MOX__STORE_FAULT_LINK, MOX__STORE_FAULT_FSYNC_DIR,
	                             MOX__STORE_FAULT_COMMIT};
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
		mox_store *st = st_open(dir, "c");
		assert_int_equal(st_deliver(st, "Inbox", 1), 1);
		assert_int_equal(st_deliver(st, "Inbox", 2), 2);
		mox_store_tx *tx = NULL;
		mox_store_mailbox in, ar;
		assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx),
		                 MOX_OK);
		assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &in), MOX_OK);
		assert_int_equal(mox_store_tx_mailbox_get(tx, "Archive", &ar), MOX_OK);
		mox__store_fault_set(st, (enum mox__store_fault)faults[k]);
		mox_err err =
		    mox_store_tx_copy(tx, in.id, NULL, 0, 0, ar.id, NULL, NULL);
		if (faults[k] == MOX__STORE_FAULT_LINK) {
			assert_int_equal(err, MOX_EIO);
			assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
		} else {
			assert_int_equal(err, MOX_OK);
			assert_int_equal(mox_store_tx_commit(tx), MOX_EIO);
		}
		assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx),
		                 MOX_OK);
		assert_int_equal(mox_store_tx_mailbox_get(tx, "Archive", &ar), MOX_OK);
		assert_int_equal(ar.counts.total, 0);
		assert_int_equal(ar.uidnext, 1);
		mox_store_tx_rollback(tx);
		st_path(p, sizeof(p), "%s/accounts/c/msg", dir);
		assert_int_equal(st_count_files(p), 2);
		mox_store_close(st);
		mox_store_verify_result vr;
		assert_int_equal(mox_store_verify(dir, NULL, &vr), MOX_OK);
		assert_int_equal(vr.errors + vr.unknown_files, 0);
		st_rmrf(dir);
	}
}

struct thr {
	mox_store *st;
	unsigned id, n;
	uint32_t uids[100];
	mox_err err;
};

static void *
deliver_thread(void *arg)
{
	struct thr *t = arg;
	char buf[8192];
	for (unsigned i = 0; i < t->n; i++) {
		size_t len = st_msg(buf, sizeof(buf), t->id * 1000 + i, 5000);
		mox_store_deliver_opts o = {.size = sizeof(o)};
		mox_store_msginfo mi;
		t->err = mox_store_deliver_mem(t->st, "Inbox", buf, len, &o, &mi, NULL);
		if (t->err != MOX_OK)
			break;
		t->uids[i] = mi.uid;
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	enum { NT = 8, PER = 40 };
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "c");
	mox_store_listener *l = NULL;
	assert_int_equal(mox_store_listener_new(st, NULL, NULL, &l), MOX_OK);
	pthread_t th[NT];
	static struct thr t[NT];
	for (unsigned i = 0; i < NT; i++) {
		t[i] = (struct thr){.st = st, .id = i + 1, .n = PER};
		assert_int_equal(pthread_create(&th[i], NULL, deliver_thread, &t[i]),
		                 0);
	}
	for (unsigned i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	static bool seen[NT * PER + 1];
	for (unsigned i = 0; i < NT; i++) {
		assert_int_equal(t[i].err, MOX_OK);
		for (unsigned j = 0; j < PER; j++) {
			assert_true(t[i].uids[j] >= 1 && t[i].uids[j] <= NT * PER);
			assert_false(seen[t[i].uids[j]]);
			seen[t[i].uids[j]] = true;
			/* Each thread's own deliveries get increasing UIDs. */
			if (j > 0)
				assert_true(t[i].uids[j] > t[i].uids[j - 1]);
		}
	}
	/* Every delivery announced once, in UID order. */
	size_t adds = 0, batches = 0;
	uint32_t last = 0;
	mox_store_batch *b;
	while (mox_store_listener_next(l, 0, &b) == MOX_OK) {
		size_t n;
		const mox_store_change *c = mox_store_batch_changes(b, &n);
		for (size_t i = 0; i < n; i++) {
			if (c[i].type != MOX_STORE_CHANGE_ADD)
				continue;
			assert_int_equal(c[i].uid, last + 1);
			last = c[i].uid;
			adds++;
		}
		batches++;
		mox_store_batch_free(b);
	}
	assert_int_equal(adds, NT * PER);
	assert_true(batches <= NT * PER);
	mox_store_listener_free(l);
	st_path(p, sizeof(p), "%s/accounts/c/msg", dir);
	assert_int_equal(st_count_files(p), NT * PER);
	mox_store_close(st);
	st_rmrf(dir);
}

struct one {
	mox_store *st;
	unsigned n;
	mox_err err;
};

static void *
deliver_one(void *arg)
{
	struct one *o = arg;
	o->err = st_deliver(o->st, "Inbox", o->n) != 0 ? MOX_OK : MOX_EIO;
	return NULL;
}

/* Deliveries queued while the account is busy are committed together. */
static void
test_group_commit(void **state)
{
	(void)state;
	char dir[4096];
	enum { NT = 8 };
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "g");
	mox_store_listener *l = NULL;
	assert_int_equal(mox_store_listener_new(st, NULL, NULL, &l), MOX_OK);
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	pthread_t th[NT];
	struct one o[NT];
	for (unsigned i = 0; i < NT; i++) {
		o[i] = (struct one){.st = st, .n = i};
		assert_int_equal(pthread_create(&th[i], NULL, deliver_one, &o[i]), 0);
	}
	/* All queue up behind our write transaction. */
	usleep(300 * 1000);
	mox_store_tx_rollback(tx);
	for (unsigned i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(o[i].err, MOX_OK);
	}
	size_t batches = 0, adds = 0;
	mox_store_batch *b;
	while (mox_store_listener_next(l, 0, &b) == MOX_OK) {
		size_t n;
		const mox_store_change *c = mox_store_batch_changes(b, &n);
		for (size_t i = 0; i < n; i++)
			adds += c[i].type == MOX_STORE_CHANGE_ADD;
		batches++;
		mox_store_batch_free(b);
	}
	assert_int_equal(adds, NT);
	/* The first leader took only its own request before blocking; the
	 * other seven went in one commit. */
	assert_true(batches <= 3);
	mox_store_listener_free(l);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_faults_deliver), cmocka_unit_test(test_faults_tx),
	    cmocka_unit_test(test_faults_copy),    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_group_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
