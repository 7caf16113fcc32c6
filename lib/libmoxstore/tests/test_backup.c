/* Backups: a backup of a live account (with a delivery racing it) and of
 * a whole data directory verifies clean, opens, and holds exactly the
 * messages of one committed state, their files hard linked; a backup
 * never overwrites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <pthread.h>

static void
rep(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level > 0 || getenv("VERBOSE") != NULL)
		fprintf(stderr, "backup: %s\n", msg);
}

static void *
deliverer(void *arg)
{
	mox_store *st = arg;
	for (unsigned i = 0; i < 30; i++)
		st_deliver(st, "Inbox", 100 + i);
	return NULL;
}

static void
test_backup_account(void **state)
{
	(void)state;
	char dir[4096], p[4096], q[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "b");
	for (unsigned i = 1; i <= 20; i++)
		assert_int_equal(st_deliver(st, "Inbox", i), i);
	assert_int_equal(mox_store_password_set(st, "secret"), MOX_OK);
	pthread_t th;
	pthread_create(&th, NULL, deliverer, st);
	st_path(p, sizeof(p), "%s/backup", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/backup/accounts", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/backup/accounts/b", dir);
	size_t files = 0;
	mox_store_backup_opts bo = {.size = sizeof(bo), .report = rep};
	assert_int_equal(mox_store_backup_account(st, p, &bo, &files), MOX_OK);
	pthread_join(th, NULL);
	assert_true(files >= 20 && files <= 50);
	size_t again = 0;
	assert_int_equal(mox_store_backup_account(st, p, &bo, &again), MOX_EEXIST);

	/* Hard links: the same inode. */
	char rel[32];
	struct stat a, b;
	mox_store_message_path(1, rel);
	st_path(q, sizeof(q), "%s/accounts/b/msg/%s", dir, rel);
	assert_int_equal(stat(q, &a), 0);
	st_path(q, sizeof(q), "%s/backup/accounts/b/msg/%s", dir, rel);
	assert_int_equal(stat(q, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	mox_store_close(st);

	st_path(p, sizeof(p), "%s/backup", dir);
	mox_store_verify_result vr;
	mox_store_verify_opts vo = {.size = sizeof(vo), .report = rep};
	assert_int_equal(mox_store_verify(p, &vo, &vr), MOX_OK);
	assert_int_equal(vr.errors + vr.unknown_files + vr.tmp_files, 0);
	assert_int_equal(vr.messages, files);
	st = st_open(p, "b");
	assert_non_null(st);
	bool ok = false;
	assert_int_equal(mox_store_password_check(st, "secret", &ok), MOX_OK);
	assert_true(ok);
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
	assert_int_equal(mb.counts.total, files);
	assert_int_equal(mb.uidnext, files + 1);
	mox_store_tx_rollback(tx);
	mox_store_close(st);
	st_rmrf(dir);
}

static void
test_backup_datadir(void **state)
{
	(void)state;
	char dir[4096], data[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	st_path(data, sizeof(data), "%s/data", dir);
	assert_int_equal(mkdir(data, 0700), 0);
	const char *names[] = {"one", "two"};
	for (int i = 0; i < 2; i++) {
		mox_store *st = st_open(data, names[i]);
		for (unsigned j = 1; j <= 3 + (unsigned)i; j++)
			assert_int_equal(st_deliver(st, "Inbox", j), j);
		mox_store_close(st);
	}
	st_path(p, sizeof(p), "%s/bak", dir);
	assert_int_equal(mox_store_backup(data, p, NULL), MOX_OK);
	mox_store_verify_result vr;
	assert_int_equal(mox_store_verify(p, NULL, &vr), MOX_OK);
	assert_int_equal(vr.accounts, 2);
	assert_int_equal(vr.messages, 7);
	assert_int_equal(vr.errors, 0);
	/* Again into the same place: refused. */
	assert_int_equal(mox_store_backup(data, p, NULL), MOX_EEXIST);
	/* An account in use elsewhere: reported, the others done. */
	mox_store *st = st_open(data, "one");
	st_path(p, sizeof(p), "%s/bak2", dir);
	assert_int_equal(mox_store_backup(data, p, NULL), MOX_ESTATE);
	assert_int_equal(mox_store_verify(p, NULL, &vr), MOX_OK);
	assert_int_equal(vr.accounts, 1);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backup_account),
	    cmocka_unit_test(test_backup_datadir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
