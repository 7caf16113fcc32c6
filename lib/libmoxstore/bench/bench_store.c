/* bench_store: libmoxstore against the disk's own durable-write rate.
 *
 *   - durable deliveries/s, 1 KB, 5 KB and 100 KB messages, from 1 and 8
 *     threads (group commit), next to the peer: the same number of threads
 *     doing what a maildir delivery does durably (write a file, fsync it,
 *     rename it into place, fsync the directory; Dovecot's maildir saving
 *     with fsync), which is the floor any durable store pays per message;
 *   - flag updates/s on a 10k-message mailbox: one durable transaction per
 *     STORE of one message, and one STORE over all 10k;
 *   - listing a 100k-message mailbox (rows created directly in SQLite);
 *   - metadata bytes per message (index.db after a checkpoint) against
 *     message bytes (mox's target: under 15%).
 * Every loop is bounded in count and in time. argv[1] is the source tree
 * (unused: all data is generated). Run from ./dev bench. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "store_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define THREADS 32
#define SECONDS 3.0

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rmrf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static size_t
make_msg(char *buf, size_t size, unsigned n)
{
	int h = snprintf(buf, size,
	                 "From: Bench <bench@example.org>\r\nTo: mjl@example.com\r\n"
	                 "Subject: bench %u\r\nDate: Mon, 2 Jan 2006 15:04:05 -0700\r\n"
	                 "Message-ID: <%u@bench.example>\r\n\r\n",
	                 n, n);
	size_t len = (size_t)h;
	while (len + 2 < size) {
		size_t line = 0;
		while (line < 70 && len + 2 < size) {
			buf[len] = (char)('a' + (len % 26));
			len++;
			line++;
		}
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	return len;
}

struct job {
	mox_store *st; /* NULL: the peer (files only) */
	const char *dir;
	size_t msgsize;
	unsigned id;
	size_t max;
	double deadline;
	size_t done;
};

static void *
deliver_thread(void *arg)
{
	struct job *j = arg;
	char *buf = malloc(j->msgsize + 1024);
	size_t len = make_msg(buf, j->msgsize, j->id);
	for (j->done = 0; j->done < j->max && now() < j->deadline; j->done++) {
		mox_store_deliver_opts o = {.size = sizeof(o)};
		if (mox_store_deliver_mem(j->st, "Inbox", buf, len, &o, NULL, NULL) !=
		    MOX_OK) {
			fprintf(stderr, "delivery failed\n");
			exit(1);
		}
	}
	free(buf);
	return NULL;
}

/* The peer: maildir-style durable write of one file. */
static void *
peer_thread(void *arg)
{
	struct job *j = arg;
	char *buf = malloc(j->msgsize + 1024);
	size_t len = make_msg(buf, j->msgsize, j->id);
	char tmp[4096], dst[4096], dir[4096];
	snprintf(dir, sizeof(dir), "%s/cur", j->dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	for (j->done = 0; j->done < j->max && now() < j->deadline; j->done++) {
		snprintf(tmp, sizeof(tmp), "%s/tmp/%u.%zu", j->dir, j->id, j->done);
		snprintf(dst, sizeof(dst), "%s/cur/%u.%zu:2,", j->dir, j->id, j->done);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
			fprintf(stderr, "peer write failed\n");
			exit(1);
		}
		close(fd);
		if (rename(tmp, dst) != 0 || fsync(dfd) != 0) {
			fprintf(stderr, "peer rename failed\n");
			exit(1);
		}
	}
	close(dfd);
	free(buf);
	return NULL;
}

static double
run(mox_store *st, const char *dir, size_t msgsize, int threads, size_t max_total)
{
	pthread_t th[THREADS];
	struct job j[THREADS];
	double start = now();
	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){.st = st,
		                    .dir = dir,
		                    .msgsize = msgsize,
		                    .id = (unsigned)i,
		                    .max = max_total / (size_t)threads,
		                    .deadline = start + SECONDS};
		pthread_create(&th[i], NULL, st != NULL ? deliver_thread : peer_thread,
		               &j[i]);
	}
	size_t total = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += j[i].done;
	}
	return (double)total / (now() - start);
}

static mox_store *
open_acct(const char *base, const char *name)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/accounts/%s", base, name);
	mox_store_opts o = {.size = sizeof(o), .create = true};
	mox_store *st = NULL;
	mox_errinfo info;
	if (mox_store_open(&st, p, &o, &info) != MOX_OK) {
		fprintf(stderr, "open: %s\n", info.msg);
		exit(1);
	}
	return st;
}

static double
peer(const char *base, size_t msgsize, int threads)
{
	char d[4096], sub[4096];
	snprintf(d, sizeof(d), "%s/peer-%zu-%d", base, msgsize, threads);
	mkdir(d, 0700);
	snprintf(sub, sizeof(sub), "%s/tmp", d);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/cur", d);
	mkdir(sub, 0700);
	double r = run(NULL, d, msgsize, threads, 20000);
	rmrf(d);
	return r;
}

static uint64_t
file_size(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Metadata per message: the database after a checkpoint. */
static void
overhead(const char *base, const char *name, mox_store *st)
{
	mox_store_tx *tx = NULL;
	uint64_t bytes = 0, msgs = 0;
	mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx);
	mox_store_tx_quota(tx, &bytes, &msgs, NULL);
	mox_store_tx_rollback(tx);
	mox_store_close(st);
	char p[4096];
	snprintf(p, sizeof(p), "%s/accounts/%s/index.db", base, name);
	sqlite3 *db = NULL;
	sqlite3_open(p, &db);
	sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;", NULL, NULL, NULL);
	sqlite3_close(db);
	uint64_t meta = file_size(p);
	if (msgs == 0)
		return;
	printf("  metadata: %llu messages, %llu bytes; index.db %llu bytes = %.0f "
	       "bytes/message"
	       " = %.1f%% of message bytes (mox's target: < 15%%)\n",
	       (unsigned long long)msgs, (unsigned long long)bytes,
	       (unsigned long long)meta, (double)meta / (double)msgs,
	       100.0 * (double)meta / (double)bytes);
}

static mox_err
count_fn(void *arg, const mox_store_msginfo *m)
{
	(void)m;
	(*(size_t *)arg)++;
	return MOX_OK;
}

/* n more rows in mailbox, copies of message 1 (files not needed for
 * listing and flags). */
static void
grow(const char *base, const char *name, const char *mailbox, long n)
{
	char p[4096], sql[2048];
	snprintf(p, sizeof(p), "%s/accounts/%s/index.db", base, name);
	sqlite3 *db = NULL;
	sqlite3_open(p, &db);
	snprintf(
	    sql, sizeof(sql),
	    "BEGIN;"
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < "
	    "%ld)"
	    " INSERT INTO message (mailbox_id, uid, modseq, createseq, received, size,"
	    " flags, keywords, part)"
	    " SELECT (SELECT id FROM mailbox WHERE name = '%s'), 1000 + i, 2, 2,"
	    " received, size, 0, '', part FROM c, (SELECT * FROM message WHERE id = 1);"
	    "UPDATE mailbox SET uidnext = 1001 + %ld, n_total = n_total + %ld,"
	    " n_unseen = n_unseen + %ld, n_unread = n_unread + %ld WHERE name = '%s';"
	    "COMMIT;",
	    n, mailbox, n, n, n, n, mailbox);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "grow: %s\n", err);
		exit(1);
	}
	sqlite3_close(db);
}

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char base[] = "/tmp/bench-store-XXXXXX";
	if (mkdtemp(base) == NULL)
		return 1;
	printf(
	    "durable deliveries/s (fsync of file and directory, SQLite WAL commit with"
	    " synchronous=FULL); peer: maildir write+fsync+rename+dir fsync, same "
	    "threads;"
	    " %.0f s or 20000 messages each\n",
	    SECONDS);
	static const size_t sizes[] = {1024, 5 * 1024, 100 * 1024};
	static const int threads[] = {1, 8, THREADS};
	for (size_t s = 0; s < 3; s++) {
		for (size_t t = 0; t < 3; t++) {
			if (threads[t] == THREADS && sizes[s] != 5 * 1024)
				continue;
			char name[64];
			snprintf(name, sizeof(name), "d%zu-%d", sizes[s], threads[t]);
			mox_store *st = open_acct(base, name);
			double ours = run(st, NULL, sizes[s], threads[t], 20000);
			double theirs = peer(base, sizes[s], threads[t]);
			printf("  %3zu KB, %2d thread%s: mox-c %7.0f/s   peer %7.0f/s  "
			       " ratio %.2f\n",
			       sizes[s] / 1024, threads[t], threads[t] > 1 ? "s" : " ",
			       ours, theirs, ours / theirs);
			if (t == 2 || (t == 1 && s == 0))
				overhead(base, name, st);
			else
				mox_store_close(st);
		}
	}

	/* Flags on a 10k mailbox. */
	mox_store *st = open_acct(base, "flags");
	char buf[8192];
	size_t len = make_msg(buf, 5 * 1024, 0);
	mox_store_deliver_opts o = {.size = sizeof(o)};
	mox_store_deliver_mem(st, "Inbox", buf, len, &o, NULL, NULL);
	mox_store_close(st);
	grow(base, "flags", "Inbox", 10000);
	st = open_acct(base, "flags");
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx);
	mox_store_tx_mailbox_get(tx, "Inbox", &mb);
	mox_store_tx_rollback(tx);
	double start = now();
	size_t n = 0;
	srand(1);
	for (; n < 5000 && now() - start < SECONDS; n++) {
		mox_store_range r;
		r.first = r.last = 1000 + 1 + (uint32_t)(rand() % 10000);
		mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx);
		mox_store_tx_flags(tx, mb.id, &r, 1, 0,
		                   n % 2 ? MOX_STORE_FLAGS_REMOVE : MOX_STORE_FLAGS_ADD,
		                   MOX_STORE_SEEN, NULL, 0, 0, NULL, NULL);
		mox_store_tx_commit(tx);
	}
	printf("flag updates on a 10k-message mailbox: %.0f durable STOREs of one "
	       "message/s",
	       (double)n / (now() - start));
	start = now();
	mox_store_range all = {1, UINT32_MAX};
	mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx);
	mox_store_tx_flags(tx, mb.id, &all, 1, 0, MOX_STORE_FLAGS_ADD,
	                   MOX_STORE_FLAGGED, NULL, 0, 0, NULL, NULL);
	mox_store_tx_commit(tx);
	printf("; one STORE over all 10001: %.0f messages/s\n",
	       10001.0 / (now() - start));
	mox_store_close(st);

	/* Listing 100k. */
	grow(base, "flags", "Archive", 100000);
	st = open_acct(base, "flags");
	mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx);
	mox_store_tx_mailbox_get(tx, "Archive", &mb);
	double best = 1e9;
	size_t cnt = 0;
	for (int i = 0; i < 5; i++) {
		cnt = 0;
		start = now();
		mox_store_tx_list(tx, mb.id, NULL, 0, 0, count_fn, &cnt);
		double t = now() - start;
		best = t < best ? t : best;
	}
	printf("listing a 100k-message mailbox: %zu messages in %.1f ms (%.0f "
	       "messages/s)\n",
	       cnt, best * 1000, (double)cnt / best);
	start = now();
	mox_store_search q = {.size = sizeof(q), .flags_set = MOX_STORE_SEEN};
	cnt = 0;
	mox_store_tx_search(tx, mb.id, &q, count_fn, &cnt);
	printf("search \\Seen over 100k: %.1f ms\n", (now() - start) * 1000);
	mox_store_tx_rollback(tx);
	mox_store_close(st);
	rmrf(base);
	return 0;
}
