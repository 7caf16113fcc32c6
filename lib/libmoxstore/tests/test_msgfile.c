/* Finishing staged files: the directory fsync that makes a file's entry
 * durable (mox__store_sync_entry) is shared by deliveries finishing at the
 * same time, runs again for callers that arrive while one is running (it
 * may have started before their entry), follows shard directories, and
 * reports a failed fsync to the callers that relied on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define WAITERS 8

struct waiter {
	mox_store *st;
	int64_t id;
	atomic_int *arrived;
	mox_err err;
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;
	atomic_fetch_add(w->arrived, 1);
	w->err = mox__store_sync_entry(w->st, w->id);
	return NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Callers arriving while a directory fsync runs wait for it, then share
 * one new fsync: it could have started before their entries were made. */
static void
test_coalesce(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "m");
	assert_non_null(st);
	mox_store_msgfile *mf = NULL;
	assert_int_equal(mox_store_msgfile_new(st, &mf), MOX_OK);
	assert_int_equal(mox_store_msgfile_write(mf, "a: b\r\n\r\nc\r\n", 11), MOX_OK);
	assert_int_equal(mox_store_msgfile_finish(mf), MOX_OK);
	int64_t id = mf->id;

	/* Pretend an fsync is running, started before the waiters came. */
	pthread_mutex_lock(&st->ds_mu);
	uint64_t g = ++st->ds_started;
	st->ds_shard = id >> 13;
	st->ds_busy = true;
	pthread_mutex_unlock(&st->ds_mu);

	atomic_int arrived = 0;
	pthread_t th[WAITERS];
	struct waiter w[WAITERS];
	for (int i = 0; i < WAITERS; i++) {
		w[i] = (struct waiter){.st = st, .id = id, .arrived = &arrived, .err = -999};
		assert_int_equal(pthread_create(&th[i], NULL, waiter_run, &w[i]), 0);
	}
	for (int i = 0; i < 1000 && atomic_load(&arrived) < WAITERS; i++)
		sleep_ms(5);
	sleep_ms(100);
	/* Nobody may return on the strength of the running fsync. */
	for (int i = 0; i < WAITERS; i++)
		assert_int_equal(w[i].err, -999);
	pthread_mutex_lock(&st->ds_mu);
	assert_int_equal(st->ds_started, g);
	st->ds_busy = false;
	st->ds_done = g;
	st->ds_done_shard = id >> 13;
	st->ds_done_ok = true;
	pthread_cond_broadcast(&st->ds_cv);
	pthread_mutex_unlock(&st->ds_mu);
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].err, MOX_OK);
	}
	/* One fsync for all of them (two if one was slow to get the lock). */
	assert_true(st->ds_started == g + 1 || st->ds_started == g + 2);
	assert_int_equal(st->ds_done, st->ds_started);

	/* Alone, each call runs its own. */
	uint64_t before = st->ds_started;
	for (int i = 0; i < 3; i++)
		assert_int_equal(mox__store_sync_entry(st, id), MOX_OK);
	assert_int_equal(st->ds_started, before + 3);
	mox_store_msgfile_free(mf);
	mox_store_close(st);
	st_rmrf(dir);
}

/* Another shard's fsync does not count; a failed fsync is an error for
 * its callers, and the next caller tries again. */
static void
test_shards_and_errors(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "m");
	assert_non_null(st);
	int64_t a = 1, b = (int64_t)1 << 13; /* shards 0 and 1 */
	assert_int_equal(mox__store_shard_dir(st, a), MOX_OK);
	assert_int_equal(mox__store_shard_dir(st, b), MOX_OK);
	uint64_t g = st->ds_started;
	assert_int_equal(mox__store_sync_entry(st, a), MOX_OK);
	assert_int_equal(mox__store_sync_entry(st, b), MOX_OK);
	assert_int_equal(st->ds_started, g + 2);
	assert_int_equal(st->ds_done_shard, 1);

	/* A shard directory that is gone: the fsync fails. */
	char rel[32];
	mox_store_message_path((int64_t)2 << 13, rel);
	*strchr(rel, '/') = '\0';
	st_path(p, sizeof(p), "%s/accounts/m/msg/%s", dir, rel);
	rmdir(p);
	assert_int_equal(mox__store_sync_entry(st, (int64_t)2 << 13), MOX_EIO);
	assert_false(st->ds_done_ok);
	assert_int_equal(mox__store_sync_entry(st, a), MOX_OK);
	assert_true(st->ds_done_ok);

	/* Through the API: deliveries still land and survive a reopen. */
	assert_int_equal(st_deliver(st, "Inbox", 1), 1);
	assert_int_equal(st_deliver(st, "Inbox", 2), 2);
	mox_store_close(st);
	st = st_open(dir, "m");
	assert_non_null(st);
	mox_store_close(st);
	mox_store_verify_result vr;
	assert_int_equal(mox_store_verify(dir, NULL, &vr), MOX_OK);
	assert_int_equal(vr.errors + vr.unknown_files, 0);
	st_rmrf(dir);
}

/* A group of files finished together: one directory fsync per shard
 * instead of one per file, every file durable and addable after, and a
 * failing fsync fails the group with no file added. */
static void
test_finish_group(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "m");
	assert_non_null(st);
	assert_int_equal(mox_store_msgfile_finish_group(NULL, 0), MOX_OK);
	/* Ids 8190..8193: two shards. */
	pthread_mutex_lock(&st->id_mu);
	st->next_id = 8190;
	pthread_mutex_unlock(&st->id_mu);
	enum { N = 4 };
	mox_store_msgfile *mf[N];
	char msg[512];
	for (int i = 0; i < N; i++) {
		size_t len = st_msg(msg, sizeof(msg), (unsigned)i, 100);
		assert_int_equal(mox_store_msgfile_new(st, &mf[i]), MOX_OK);
		assert_int_equal(mox_store_msgfile_write(mf[i], msg, len), MOX_OK);
	}
	assert_int_equal(mf[0]->id >> 13, 0);
	assert_int_equal(mf[N - 1]->id >> 13, 1);
	uint64_t g = st->ds_started;
	assert_int_equal(mox_store_msgfile_finish_group(mf, N), MOX_OK);
	assert_int_equal(st->ds_started, g + 2);
	/* Finished once only. */
	assert_int_equal(mox_store_msgfile_finish_group(mf, 1), MOX_ESTATE);
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
	for (int i = 0; i < N; i++) {
		mox_store_msginfo mi;
		assert_int_equal(mox_store_tx_add(tx, mb.id, mf[i], NULL, &mi), MOX_OK);
		assert_int_equal(mi.uid, (uint32_t)i + 1);
	}
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	for (int i = 0; i < N; i++)
		mox_store_msgfile_free(mf[i]);

	/* A failing file fsync: an error, and the files cannot be added. */
	for (int i = 0; i < 2; i++) {
		size_t len = st_msg(msg, sizeof(msg), (unsigned)i, 100);
		assert_int_equal(mox_store_msgfile_new(st, &mf[i]), MOX_OK);
		assert_int_equal(mox_store_msgfile_write(mf[i], msg, len), MOX_OK);
	}
	mox__store_fault_set(st, MOX__STORE_FAULT_FSYNC_FILE);
	assert_int_equal(mox_store_msgfile_finish_group(mf, 2), MOX_EIO);
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	assert_int_not_equal(mox_store_tx_add(tx, mb.id, mf[0], NULL, NULL), MOX_OK);
	mox_store_tx_rollback(tx);
	for (int i = 0; i < 2; i++)
		mox_store_msgfile_free(mf[i]);

	mox_store_close(st);
	mox_store_verify_result vr;
	assert_int_equal(mox_store_verify(dir, NULL, &vr), MOX_OK);
	assert_int_equal(vr.errors + vr.unknown_files, 0);
	assert_int_equal(vr.messages, N);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_coalesce),
	    cmocka_unit_test(test_shards_and_errors),
	    cmocka_unit_test(test_finish_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
