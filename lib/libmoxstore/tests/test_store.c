/* Opening accounts: creation with the default mailboxes, reopening, the
 * one-handle lock, schema versions (upgrade from 1, refusal of newer),
 * cleanup of staged leftovers, transactions (read snapshots, write
 * exclusivity, rollback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <pthread.h>

static mox_err
count_mb(void *arg, const mox_store_mailbox *mb)
{
	(void)mb;
	(*(int *)arg)++;
	return MOX_OK;
}

static void
test_create_reopen(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	st_path(p, sizeof(p), "%s/accounts/a", dir);
	mox_store *st = NULL;
	mox_errinfo info;
	/* Not there, not create. */
	assert_int_equal(mox_store_open(&st, p, NULL, &info), MOX_ENOTFOUND);
	assert_null(st);
	st = st_open(dir, "a");
	assert_non_null(st);
	assert_string_equal(mox_store_name(st), "a");
	assert_int_equal(mox_store_version(), MOX_STORE_VERSION_HEX);

	/* A second handle on the same account fails: one owner. */
	mox_store *st2 = NULL;
	mox_store_opts o = {.size = sizeof(o), .create = true};
	assert_int_equal(mox_store_open(&st2, p, &o, &info), MOX_ESTATE);
	assert_null(st2);

	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	int n = 0;
	assert_int_equal(mox_store_tx_mailbox_list(tx, count_mb, &n), MOX_OK);
	assert_int_equal(n, 6);
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_mailbox_get(tx, "INBOX", &mb), MOX_OK);
	assert_string_equal(mb.name, "Inbox");
	assert_int_equal(mb.uidvalidity, 1000);
	assert_int_equal(mb.uidnext, 1);
	assert_true(mb.subscribed);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Sent", &mb), MOX_OK);
	assert_int_equal(mb.special_use, MOX_STORE_USE_SENT);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Nope", &mb), MOX_ENOTFOUND);
	/* Writes on a read transaction are refused. */
	assert_int_equal(mox_store_tx_mailbox_create(tx, "x", 0, 0, NULL), MOX_ESTATE);
	mox_store_tx_rollback(tx);

	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_create(tx, "Lists/mox", 0, 0, &mb),
	                 MOX_OK);
	assert_int_equal(mb.uidvalidity, 1002); /* Lists got 1001 */
	assert_int_equal(mox_store_tx_commit(tx), MOX_OK);
	mox_store_close(st);

	/* Reopen without create: everything is there. */
	assert_int_equal(mox_store_open(&st, p, NULL, &info), MOX_OK);
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	n = 0;
	assert_int_equal(mox_store_tx_mailbox_list(tx, count_mb, &n), MOX_OK);
	assert_int_equal(n, 8);
	mox_store_tx_rollback(tx);
	mox_store_close(st);

	/* Bad names and arguments. */
	st_path(p, sizeof(p), "%s/accounts/..", dir);
	assert_int_equal(mox_store_open(&st, p, &o, &info), MOX_EINVAL);
	assert_int_equal(mox_store_open(&st, "", &o, &info), MOX_EINVAL);
	mox_store_opts bad = {.size = 0};
	assert_int_equal(mox_store_open(&st, p, &bad, &info), MOX_EINVAL);
	st_rmrf(dir);
}

static void
test_schema_upgrade(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	st_path(p, sizeof(p), "%s/accounts/old", dir);
	assert_int_equal(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
	st_path(p, sizeof(p), "%s/accounts", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/accounts/old", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/accounts/old/index.db", dir);
	/* A version 1 database, as an older library left it, with a row. */
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(mox__store_schema_upgrade(db, 1, 77, NULL), MOX_OK);
	assert_int_equal(
	    sqlite3_exec(db, "UPDATE mailbox SET uidnext = 5 WHERE name = 'Inbox'",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	int v;
	bool empty;
	assert_int_equal(mox__store_schema_version(db, &v, &empty), MOX_OK);
	assert_int_equal(v, 1);
	sqlite3_close(db);

	st_path(p, sizeof(p), "%s/accounts/old", dir);
	mox_store *st = NULL;
	mox_errinfo info;
	assert_int_equal(mox_store_open(&st, p, NULL, &info), MOX_OK);
	/* Upgraded: the password table of version 2 works, data kept. */
	assert_int_equal(mox_store_password_set(st, "pw"), MOX_OK);
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
	assert_int_equal(mb.uidnext, 5);
	assert_int_equal(mb.uidvalidity, 77);
	mox_store_tx_rollback(tx);
	mox_store_close(st);

	st_path(p, sizeof(p), "%s/accounts/old/index.db", dir);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(mox__store_schema_version(db, &v, &empty), MOX_OK);
	assert_int_equal(v, MOX_STORE_SCHEMA_VERSION);
	/* From the future: refused, untouched. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	st_path(p, sizeof(p), "%s/accounts/old", dir);
	assert_int_equal(mox_store_open(&st, p, NULL, &info), MOX_EUNSUPPORTED);
	assert_non_null(strstr(info.msg, "newer"));
	st_rmrf(dir);
}

static void
test_tmp_cleanup(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "t");
	mox_store_msgfile *mf = NULL;
	assert_int_equal(mox_store_msgfile_new(st, &mf), MOX_OK);
	assert_int_equal(mox_store_msgfile_write(mf, "a: b\r\n\r\nx\r\n", 11), MOX_OK);
	st_path(p, sizeof(p), "%s/accounts/t/msg", dir);
	assert_int_equal(st_count_files(p), 1);
	/* Freed without being delivered: the staged file goes. */
	mox_store_msgfile_free(mf);
	assert_int_equal(st_count_files(p), 0);
	/* A staged file a crash left (the process died before the commit):
	 * removed at the next open, its id handed out again. */
	assert_int_equal(mox_store_msgfile_new(st, &mf), MOX_OK);
	assert_int_equal(mox_store_msgfile_write(mf, "a: b\r\n\r\n", 8), MOX_OK);
	char kept[4096];
	snprintf(kept, sizeof(kept), "%s.kept", mf->path);
	assert_int_equal(link(mf->path, kept), 0);
	int64_t id = mf->id;
	mox_store_msgfile_free(mf);
	char rel[32], orphan[4096];
	mox_store_message_path(id, rel);
	st_path(orphan, sizeof(orphan), "%s/accounts/t/msg/%s", dir, rel);
	assert_int_equal(rename(kept, orphan), 0);
	assert_int_equal(st_count_files(p), 1);
	mox_store_close(st);
	st = st_open(dir, "t");
	assert_int_equal(st_count_files(p), 0);
	assert_int_equal(st_deliver(st, "Inbox", 1), 1);
	assert_int_equal(st_count_files(p), 1);
	mox_store_close(st);
	/* A leftover from a crash is removed at open. */
	st_path(p, sizeof(p), "%s/accounts/t/tmp/msg.1.1", dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("partial", f);
	fclose(f);
	st = st_open(dir, "t");
	st_path(p, sizeof(p), "%s/accounts/t/tmp", dir);
	assert_int_equal(st_count_files(p), 0);
	mox_store_close(st);
	st_rmrf(dir);
}

/* A reader's snapshot does not see a commit made after it began. */
static void
test_snapshot(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "s");
	assert_int_not_equal(st_deliver(st, "Inbox", 1), 0);
	mox_store_tx *r = NULL, *w = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &r), MOX_OK);
	assert_int_equal(st_deliver(st, "Inbox", 2), 2);
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_mailbox_get(r, "Inbox", &mb), MOX_OK);
	assert_int_equal(mb.uidnext, 2);
	assert_int_equal(mb.counts.total, 1);
	mox_store_tx_rollback(r);
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &r), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(r, "Inbox", &mb), MOX_OK);
	assert_int_equal(mb.uidnext, 3);
	assert_int_equal(mb.counts.total, 2);
	mox_store_tx_rollback(r);

	/* A rolled back write changes nothing. */
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &w), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_create(w, "gone", 0, 0, NULL), MOX_OK);
	mox_store_tx_rollback(w);
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &r), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(r, "gone", &mb), MOX_ENOTFOUND);
	mox_store_tx_rollback(r);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_reopen),
	    cmocka_unit_test(test_schema_upgrade),
	    cmocka_unit_test(test_tmp_cleanup),
	    cmocka_unit_test(test_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
