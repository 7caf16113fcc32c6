/* The crash test: a child process delivers in a loop from several
 * threads (and churns another mailbox with flag changes, moves and
 * expunges) and is killed with SIGKILL at random moments, again and
 * again. The child reports each acknowledged delivery (a token in the
 * message) over a pipe before going on. Afterwards:
 *   - verifydata finds no database problem: no row without its file, no
 *     wrong size, counts and UIDs consistent;
 *   - every acknowledged token is in the store exactly once (no loss), no
 *     token is there twice (no duplicate);
 *   - files a kill left behind (written and synced but not committed;
 *     expunged but not yet removed) are reported as unknown files, and
 *     verify with fix clears them (the next open would remove the first
 *     kind too).
 * Bounded: at most KILLS_MAX kills and TIME_MAX seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define KILLS_MAX 50
#define TIME_MAX 20.0
#define THREADS 3
#define TOKENS_MAX 200000

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct child {
	mox_store *st;
	int fd;
	unsigned round, thread;
};

static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
child_deliver(void *arg)
{
	struct child *c = arg;
	char buf[8192];
	for (unsigned n = 0;; n++) {
		uint64_t token =
		    (uint64_t)c->round << 32 | (uint64_t)c->thread << 24 | n;
		int h = snprintf(buf, sizeof(buf),
		                 "From: crash@example.org\r\nSubject: %u\r\n"
		                 "X-Token: %016llx\r\n\r\n",
		                 n, (unsigned long long)token);
		size_t len = (size_t)h;
		size_t body = 500 + (n % 7) * 700;
		for (size_t i = 0; i < body; i++)
			buf[len++] = (i % 64 == 63) ? '\n' : 'x';
		mox_store_deliver_opts o = {.size = sizeof(o)};
		if (mox_store_deliver_mem(c->st, "Inbox", buf, len, &o, NULL, NULL) !=
		    MOX_OK)
			_exit(3);
		/* Acknowledged: only now may the parent count on it. */
		pthread_mutex_lock(&pipe_mu);
		ssize_t w = write(c->fd, &token, sizeof(token));
		pthread_mutex_unlock(&pipe_mu);
		if (w != (ssize_t)sizeof(token))
			_exit(4);
	}
	return NULL;
}

/* Churn in another mailbox: deliver, flag, move, expunge. */
static void *
child_churn(void *arg)
{
	struct child *c = arg;
	mox_store_deliver_opts o = {.size = sizeof(o), .create_mailbox = true};
	char buf[512];
	for (unsigned n = 0;; n++) {
		int h =
		    snprintf(buf, sizeof(buf), "Subject: churn %u\r\n\r\nchurn\r\n", n);
		if (mox_store_deliver_mem(c->st, "Churn", buf, (size_t)h, &o, NULL,
		                          NULL) != MOX_OK)
			_exit(5);
		mox_store_tx *tx = NULL;
		if (mox_store_tx_begin(c->st, MOX_STORE_TX_WRITE, NULL, &tx) != MOX_OK)
			_exit(6);
		mox_store_mailbox churn, trash;
		if (mox_store_tx_mailbox_get(tx, "Churn", &churn) != MOX_OK ||
		    mox_store_tx_mailbox_get(tx, "Trash", &trash) != MOX_OK)
			_exit(7);
		mox_store_range r = {churn.uidnext > 3 ? churn.uidnext - 3 : 1,
		                     UINT32_MAX};
		const char *kw[] = {"churned"};
		mox_store_tx_flags(tx, churn.id, &r, 1, 0, MOX_STORE_FLAGS_ADD,
		                   n % 2 ? MOX_STORE_DELETED : MOX_STORE_SEEN, kw, 1, 0,
		                   NULL, NULL);
		if (n % 3 == 0)
			mox_store_tx_move(tx, churn.id, &r, 1, 0, trash.id, NULL, NULL);
		mox_store_tx_expunge(tx, churn.id, NULL, 0, MOX_STORE_ONLY_DELETED,
		                     NULL, NULL);
		if (n % 5 == 0)
			mox_store_tx_expunge(tx, trash.id, NULL, 0, 0, NULL, NULL);
		if (mox_store_tx_commit(tx) != MOX_OK)
			_exit(8);
	}
	return NULL;
}

static void
child_main(const char *dir, unsigned round, int fd)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/accounts/crash", dir);
	mox_store_opts o = {.size = sizeof(o), .create = true};
	mox_store *st = NULL;
	if (mox_store_open(&st, p, &o, NULL) != MOX_OK)
		_exit(2);
	static struct child c[THREADS + 1];
	pthread_t th[THREADS + 1];
	for (unsigned i = 0; i <= THREADS; i++) {
		c[i] = (struct child){.st = st, .fd = fd, .round = round, .thread = i};
		pthread_create(&th[i], NULL, i < THREADS ? child_deliver : child_churn,
		               &c[i]);
	}
	for (;;)
		pause();
}

static uint8_t *seen;   /* per token index: times found in the store */
static uint64_t *acked; /* tokens acknowledged */
static size_t nacked;

static size_t
token_index(uint64_t t)
{
	/* round (<= 64) x thread (< 4) x n (< 2^16 here) */
	uint64_t round = t >> 32, thread = (t >> 24) & 0xff, n = t & 0xffffff;
	if (round >= 64 || thread >= THREADS || n >= 1000)
		return SIZE_MAX;
	return (size_t)(round * THREADS * 1000 + thread * 1000 + n);
}

static void
rep(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level == 2 || getenv("VERBOSE") != NULL)
		fprintf(stderr, "verify: %s\n", msg);
}

static void
test_crash(void **state)
{
	(void)state;
	char dir[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	seen = calloc(64 * THREADS * 1000, 1);
	acked = calloc(TOKENS_MAX, sizeof(*acked));
	assert_non_null(seen);
	assert_non_null(acked);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	double start = now();
	unsigned kills = 0, early = 0;
	for (unsigned round = 0; kills < KILLS_MAX && now() - start < TIME_MAX;
	     round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child_main(dir, round, pfd[1]);
			_exit(1);
		}
		close(pfd[1]);
		/* Kill somewhere in the first 0-400 ms: during open, schema
		 * creation, staging, rename, commit, churn. */
		int ms = rand() % 400;
		struct timespec ts = {0, (long)ms * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			fail_msg("child exited by itself with status %d", status);
		kills++;
		uint64_t t;
		ssize_t n;
		size_t before = nacked;
		while ((n = read(pfd[0], &t, sizeof(t))) == (ssize_t)sizeof(t)) {
			assert_true(nacked < TOKENS_MAX);
			acked[nacked++] = t;
		}
		close(pfd[0]);
		if (nacked == before)
			early++;
	}
	double took = now() - start;

	/* Before any fix: the database is consistent; leftovers are files. */
	mox_store_verify_opts vo = {.size = sizeof(vo), .report = rep};
	mox_store_verify_result r;
	assert_int_equal(mox_store_verify(dir, &vo, &r), MOX_OK);
	assert_int_equal(r.accounts, 1);
	assert_int_equal(r.errors, 0);
	size_t leftovers = r.unknown_files + r.tmp_files;
	vo.fix = true;
	assert_int_equal(mox_store_verify(dir, &vo, &r), MOX_OK);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.fixed, leftovers);
	vo.fix = false;
	assert_int_equal(mox_store_verify(dir, &vo, &r), MOX_OK);
	assert_int_equal(r.errors + r.unknown_files + r.tmp_files, 0);

	/* Every token in the store, from the files. */
	mox_store *st = st_open(dir, "crash");
	assert_non_null(st);
	mox_store_tx *tx = NULL;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	mox_store_mailbox inbox;
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &inbox), MOX_OK);
	size_t rows = 0, dups = 0;
	for (int64_t id = 1; rows < inbox.counts.total && id < 10000000; id++) {
		int fd;
		if (mox_store_message_open(st, id, &fd) != MOX_OK)
			continue;
		char head[256];
		ssize_t n = read(fd, head, sizeof(head) - 1);
		close(fd);
		assert_true(n > 0);
		head[n] = '\0';
		char *p = strstr(head, "X-Token: ");
		if (p == NULL)
			continue; /* churn */
		uint64_t t = strtoull(p + 9, NULL, 16);
		size_t idx = token_index(t);
		assert_true(idx != SIZE_MAX);
		if (seen[idx]++ > 0)
			dups++;
		rows++;
	}
	mox_store_tx_rollback(tx);
	assert_int_equal(rows, inbox.counts.total);
	size_t lost = 0;
	for (size_t i = 0; i < nacked; i++) {
		size_t idx = token_index(acked[i]);
		assert_true(idx != SIZE_MAX);
		if (seen[idx] != 1)
			lost++;
	}
	mox_store_close(st);
	printf("crash test: %u kills in %.1f s (%u before any acknowledgement); %zu"
	       " deliveries acknowledged, %zu messages stored (%zu committed but not"
	       " acknowledged); %zu leftover files reported and fixed; lost %zu,"
	       " duplicates %zu\n",
	       kills, took, early, nacked, rows, rows - (nacked - lost), leftovers,
	       lost, dups);
	assert_int_equal(lost, 0);
	assert_int_equal(dups, 0);
	assert_true(rows >= nacked);
	assert_true(kills >= 10);
	free(seen);
	free(acked);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
