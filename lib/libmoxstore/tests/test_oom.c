/* Out of memory: with an allocator that fails after N allocations, for
 * N = 0, 1, 2... until the whole sequence succeeds, every call returns
 * MOX_OK or MOX_ENOMEM, nothing leaks (live == 0 after cleanup), and the
 * account stays consistent (verify). SQLite allocates on its own and is
 * not part of this (SQLite has its own OOM tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"
#include "mox_testalloc.h"

#define OK_OR_NOMEM(e)                                                                 \
	do {                                                                           \
		mox_err e_ = (e);                                                      \
		if (e_ != MOX_OK && e_ != MOX_ENOMEM)                                  \
			fail_msg("%s: %s at N=%ld", #e, mox_err_name(e_), n);          \
		if (e_ != MOX_OK)                                                      \
			goto out;                                                      \
	} while (0)

static mox_err
nop(void *arg, const mox_store_msginfo *m)
{
	(void)arg;
	(void)m;
	return MOX_OK;
}

/* One run of the sequence; true if it all went through. */
static bool
run(const char *dir, long n, mox_testalloc *t)
{
	char p[4096], buf[4096];
	bool done = false;
	mox_store *st = NULL;
	mox_store_listener *l = NULL;
	mox_store_tx *tx = NULL;
	mox_store_batch *b = NULL;
	mox_store_part *part = NULL;
	mox_testalloc_init(t, n);
	st_path(p, sizeof(p), "%s/accounts/oom", dir);
	mox_store_opts o = {.size = sizeof(o),
	                    .alloc = &t->a,
	                    .create = true,
	                    .bcrypt_cost = 4,
	                    .scram_iterations = 16};
	OK_OR_NOMEM(mox_store_open(&st, p, &o, NULL));
	OK_OR_NOMEM(mox_store_listener_new(st, NULL, NULL, &l));
	size_t len = st_msg(buf, sizeof(buf), 1, 1500);
	mox_store_deliver_opts d = {.size = sizeof(d)};
	mox_store_msginfo mi;
	OK_OR_NOMEM(mox_store_deliver_mem(st, "Inbox", buf, len, &d, &mi, NULL));
	OK_OR_NOMEM(mox_store_tx_begin(st, MOX_STORE_TX_WRITE, l, &tx));
	mox_store_range r = {1, UINT32_MAX};
	const char *kw[] = {"oom"};
	OK_OR_NOMEM(mox_store_tx_flags(tx, mi.mailbox_id, &r, 1, 0, MOX_STORE_FLAGS_ADD,
	                               MOX_STORE_SEEN, kw, 1, 0, nop, NULL));
	OK_OR_NOMEM(mox_store_tx_mailbox_create(tx, "a/b", 0,
	                                        MOX_STORE_MAILBOX_SUBSCRIBE, NULL));
	mox_store_mailbox mb;
	OK_OR_NOMEM(mox_store_tx_mailbox_get(tx, "a/b", &mb));
	OK_OR_NOMEM(mox_store_tx_copy(tx, mi.mailbox_id, &r, 1, 0, mb.id, NULL, NULL));
	OK_OR_NOMEM(mox_store_tx_move(tx, mb.id, &r, 1, 0, mi.mailbox_id, NULL, NULL));
	OK_OR_NOMEM(mox_store_tx_expunge(tx, mi.mailbox_id, &r, 1,
	                                 MOX_STORE_ONLY_DELETED, nop, NULL));
	OK_OR_NOMEM(mox_store_tx_mailbox_rename(tx, "a", "c"));
	OK_OR_NOMEM(mox_store_tx_mailbox_delete(tx, "c", MOX_STORE_MAILBOX_CHILDREN));
	mox_err err = mox_store_tx_commit(tx);
	tx = NULL;
	OK_OR_NOMEM(err);
	OK_OR_NOMEM(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx));
	OK_OR_NOMEM(mox_store_tx_list(tx, mi.mailbox_id, NULL, 0, 0, nop, NULL));
	mox_store_search q = {
	    .size = sizeof(q), .keywords_set = kw, .nkeywords_set = 1};
	OK_OR_NOMEM(mox_store_tx_search(tx, mi.mailbox_id, &q, nop, NULL));
	OK_OR_NOMEM(mox_store_tx_part(tx, mi.id, &part));
	mox_store_tx_rollback(tx);
	tx = NULL;
	OK_OR_NOMEM(mox_store_password_set(st, "pw"));
	bool ok;
	OK_OR_NOMEM(mox_store_password_check(st, "pw", &ok));
	done = true;
out:
	mox_store_part_free(part);
	mox_store_tx_rollback(tx);
	while (l != NULL && mox_store_listener_next(l, 0, &b) == MOX_OK)
		mox_store_batch_free(b);
	mox_store_listener_free(l);
	mox_store_close(st);
	if (t->live != 0)
		fail_msg("N=%ld: %ld blocks leaked", n, t->live);
	return done;
}

/* A fresh account per run, verified after it. */
static bool
run_fresh(long n, mox_testalloc *t)
{
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	bool done = run(dir, n, t);
	mox_store_verify_result r;
	mox_err err = mox_store_verify(dir, NULL, &r);
	/* A failure before the account existed leaves nothing to verify. */
	if (err == MOX_OK && r.errors != 0)
		fail_msg("N=%ld: verify found %zu errors", n, r.errors);
	st_rmrf(dir);
	return done;
}

static void
test_store_oom(void **state)
{
	(void)state;
	mox_testalloc t;
	/* How many allocations the whole sequence makes. */
	assert_true(run_fresh(-1, &t));
	long total = t.count;
	/* Every N for the first 150 (open, first delivery), then about 250
	 * points spread over the rest and the last 20: with an fsync-bound
	 * run of tens of milliseconds, every N of thousands would take
	 * minutes. */
	long stride = total > 150 ? (total - 150) / 250 + 1 : 1;
	long runs = 0, n;
	for (n = 0; n <= total; n++) {
		if (n > 150 && n < total - 20 && (n - 150) % stride != 0)
			continue;
		runs++;
		if (getenv("VERBOSE") != NULL)
			fprintf(stderr, "N=%ld of %ld\n", n, total);
		if (run_fresh(n, &t))
			break;
	}
	assert_int_equal(n, total);
	printf("store OOM loop: %ld allocations in the sequence, %ld runs, success at "
	       "N=%ld\n",
	       total, runs, n);
}

static void
test_part_oom(void **state)
{
	(void)state;
	char buf[4096];
	size_t len = st_msg(buf, sizeof(buf), 1, 500);
	mox_msg *msg = NULL;
	mox_msg_parse_opts po = {.size = sizeof(po)};
	assert_int_equal(mox_msg_parse(buf, len, &po, &msg, NULL), MOX_OK);
	mox_testalloc t;
	long n;
	for (n = 0;; n++) {
		mox_testalloc_init(&t, n);
		mox_buf b;
		mox_buf_init(&b, &t.a);
		mox_err err = mox_store_part_encode(msg, &b);
		mox_store_part *p = NULL;
		if (err == MOX_OK)
			err = mox_store_part_decode(b.data, b.len, &t.a, &p);
		assert_true(err == MOX_OK || err == MOX_ENOMEM);
		mox_store_part_free(p);
		mox_buf_free(&b);
		assert_int_equal(t.live, 0);
		if (err == MOX_OK)
			break;
	}
	mox_msg_free(msg);
}

static void
test_mbox_oom(void **state)
{
	(void)state;
	const char *text = "From a Sun Jan 23 20:41:55 2022\nX-Keywords: a b c\n\nx\n\n"
	                   "From b Sun Jan 23 20:41:55 2022\nStatus: R\n\ny\n";
	mox_testalloc t;
	for (long n = 0;; n++) {
		mox_testalloc_init(&t, n);
		mox_store_mbox *mb = NULL;
		mox_err err = mox_store_mbox_new(&mb, 0, &t.a);
		size_t got = 0;
		if (err == MOX_OK)
			err = mox_store_mbox_feed(mb, text, strlen(text));
		if (err == MOX_OK) {
			mox_store_mbox_end(mb);
			mox_store_mbox_msg m;
			while ((err = mox_store_mbox_next(mb, &m)) == MOX_OK)
				got++;
		}
		assert_true(err == MOX_ENOTFOUND || err == MOX_ENOMEM);
		mox_store_mbox_free(mb);
		assert_int_equal(t.live, 0);
		if (err == MOX_ENOTFOUND) {
			assert_int_equal(got, 2);
			break;
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_part_oom),
	    cmocka_unit_test(test_mbox_oom),
	    cmocka_unit_test(test_store_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
