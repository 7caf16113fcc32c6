/* verifydata: a clean account verifies clean; each kind of damage is
 * found (missing file, wrong size, file without row, staged leftover,
 * wrong counts, UID at or past UIDNEXT, bad part tree, account in use);
 * fix moves unknown files to <data>/moved/ and removes staged leftovers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

static void
rep(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level > 0 && getenv("VERBOSE") != NULL)
		fprintf(stderr, "%s\n", msg);
}

static mox_store_verify_result
verify(const char *dir, bool fix)
{
	mox_store_verify_opts o = {.size = sizeof(o), .fix = fix, .report = rep};
	mox_store_verify_result r;
	assert_int_equal(mox_store_verify(dir, &o, &r), MOX_OK);
	return r;
}

static void
sql(const char *dir, const char *q)
{
	char p[4096];
	st_path(p, sizeof(p), "%s/accounts/v/index.db", dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
touch(const char *path, const char *data)
{
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static void
setup_account(char *dir, size_t n)
{
	assert_int_equal(st_tmpdir(dir, n), 0);
	mox_store *st = st_open(dir, "v");
	for (unsigned i = 1; i <= 5; i++)
		assert_int_equal(st_deliver(st, "Inbox", i), i);
	mox_store_close(st);
}

static void
test_clean(void **state)
{
	(void)state;
	char dir[4096];
	setup_account(dir, sizeof(dir));
	mox_store_verify_result r = verify(dir, false);
	assert_int_equal(r.accounts, 1);
	assert_int_equal(r.messages, 5);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.unknown_files, 0);
	assert_int_equal(r.tmp_files, 0);
	/* Not a data directory. */
	char p[4096];
	st_path(p, sizeof(p), "%s/nothing", dir);
	assert_int_equal(mox_store_verify(p, NULL, &r), MOX_ENOTFOUND);
	st_rmrf(dir);
}

static void
test_files(void **state)
{
	(void)state;
	char dir[4096], p[4096], rel[32];
	setup_account(dir, sizeof(dir));
	/* Missing file, wrong size. */
	mox_store_message_path(2, rel);
	st_path(p, sizeof(p), "%s/accounts/v/msg/%s", dir, rel);
	assert_int_equal(unlink(p), 0);
	mox_store_message_path(3, rel);
	st_path(p, sizeof(p), "%s/accounts/v/msg/%s", dir, rel);
	touch(p, "x");
	mox_store_verify_result r = verify(dir, false);
	assert_int_equal(r.errors, 2);
	st_rmrf(dir);

	/* Unknown files (as a crash between rename and commit leaves) and a
	 * staged leftover; fix moves and removes them. */
	setup_account(dir, sizeof(dir));
	mox_store_message_path(6, rel);
	st_path(p, sizeof(p), "%s/accounts/v/msg/%s", dir, rel);
	touch(p, "orphan");
	mox_store_message_path(9000, rel);
	st_path(p, sizeof(p), "%s/accounts/v/msg/%s", dir, rel);
	char d[4096];
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	mkdir(d, 0700);
	touch(p, "orphan2");
	st_path(p, sizeof(p), "%s/accounts/v/tmp/msg.99.1", dir);
	touch(p, "partial");
	r = verify(dir, false);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.unknown_files, 2);
	assert_int_equal(r.tmp_files, 1);
	r = verify(dir, true);
	assert_int_equal(r.fixed, 3);
	st_path(p, sizeof(p), "%s/moved/accounts/v/msg", dir);
	assert_int_equal(st_count_files(p), 2);
	r = verify(dir, false);
	assert_int_equal(r.errors + r.unknown_files + r.tmp_files, 0);
	st_rmrf(dir);
}

static void
test_db(void **state)
{
	(void)state;
	char dir[4096];
	setup_account(dir, sizeof(dir));
	sql(dir, "UPDATE mailbox SET n_total = n_total + 1 WHERE name = 'Inbox'");
	mox_store_verify_result r = verify(dir, false);
	assert_int_equal(r.errors, 1);
	st_rmrf(dir);

	setup_account(dir, sizeof(dir));
	sql(dir, "UPDATE mailbox SET uidnext = 5 WHERE name = 'Inbox'");
	r = verify(dir, false);
	assert_int_equal(r.errors, 1);
	st_rmrf(dir);

	setup_account(dir, sizeof(dir));
	sql(dir, "UPDATE message SET part = x'0199' WHERE id = 1;"
	         "UPDATE account SET message_size = 1;"
	         "UPDATE mailbox SET uidvalidity = 999999 WHERE name = 'Sent'");
	r = verify(dir, false);
	assert_int_equal(r.errors, 3);
	st_rmrf(dir);

	setup_account(dir, sizeof(dir));
	sql(dir,
	    "INSERT INTO expunged (mailbox_id, uid, modseq) SELECT mailbox_id, uid, 2"
	    " FROM message WHERE id = 1");
	r = verify(dir, false);
	assert_int_equal(r.errors, 1);
	st_rmrf(dir);

	/* In use: not checked behind the owner's back. */
	setup_account(dir, sizeof(dir));
	mox_store *st = st_open(dir, "v");
	r = verify(dir, false);
	assert_int_equal(r.errors, 1);
	assert_int_equal(r.messages, 0);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_db),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
