/* The queue's storage (server/queue_store.c), retry schedule, DSN
 * composing and the mox queue commands, without network. The crash test
 * kills a child that adds messages with SIGKILL at random moments and
 * checks that every acknowledged message is there, whole, and that no
 * file is left without its rows. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"

#include <mox/dsn.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS_MAX 25
#define CRASH_TIME_MAX 15.0

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mox-queue-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static queue_store *
open_store(void)
{
	queue_store *qs = NULL;
	char err[512] = "";
	mox_err e = queue_store_open(tmpdir, &qs, err, sizeof(err));
	if (e != MOX_OK)
		fail_msg("open: %s", err);
	return qs;
}

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			n++;
		else if (strncmp(e->d_name, "tmp-", 4) == 0)
			n++;
	closedir(d);
	return n;
}

static const char msg1[] =
    "From: a@example.org\r\nTo: b@Example.COM\r\nSubject: hi\r\n\r\nbody\r\n";

static int64_t
add1(queue_store *qs, const char *const *rcpts, size_t n, int64_t now, int64_t *ids)
{
	queue_add_req r = {
	    .sender_account = "acc",
	    .sender = "a@example.org",
	    .recipients = rcpts,
	    .nrecipients = n,
	    .prefix = (const uint8_t *)"X-Prefix: 1\r\n",
	    .prefix_len = 13,
	    .data = (const uint8_t *)msg1,
	    .data_len = sizeof(msg1) - 1,
	};
	char err[512] = "";
	mox_err e = queue_store_add(qs, &r, now, ids, err, sizeof(err));
	if (e != MOX_OK)
		fail_msg("add: %s", err);
	return ids[0];
}

static void
test_add_list_read(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	const char *rcpts[] = {"b@Example.COM", "c@example.com", "d@other.example"};
	int64_t ids[3];
	add1(qs, rcpts, 3, 1000, ids);
	assert_int_equal(queue_store_count(qs), 3);
	queue_msg *v = NULL;
	size_t n = 0;
	char err[512];
	assert_int_equal(queue_store_list(qs, NULL, &v, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].base_id, ids[0]);
		assert_int_equal(v[i].size, 13 + sizeof(msg1) - 1);
		assert_int_equal(v[i].next_attempt, 1000);
		assert_int_equal(v[i].attempts, 0);
		assert_string_equal(v[i].sender, "a@example.org");
		assert_string_equal(v[i].sender_account, "acc");
	}
	assert_string_equal(v[0].recipient_domain, "example.com");
	assert_string_equal(v[2].recipient_domain, "other.example");
	uint8_t *data = NULL;
	size_t len = 0;
	assert_int_equal(
	    queue_store_read_message(qs, &v[1], &data, &len, err, sizeof(err)), MOX_OK);
	assert_int_equal(len, 13 + sizeof(msg1) - 1);
	assert_memory_equal(data, "X-Prefix: 1\r\nFrom:", 18);
	free(data);
	queue_msgs_free(v, n);

	/* Filters. */
	queue_filter f = {.to_domain = "EXAMPLE.com"};
	assert_int_equal(queue_store_list(qs, &f, &v, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 2);
	queue_msgs_free(v, n);
	queue_filter fr = {.recipient = "D@other.example"};
	assert_int_equal(queue_store_list(qs, &fr, &v, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, ids[2]);
	queue_msgs_free(v, n);

	/* Bad input. */
	const char *bad[] = {"nodomain"};
	queue_add_req r = {.sender = "",
	                   .recipients = bad,
	                   .nrecipients = 1,
	                   .data = (const uint8_t *)"x",
	                   .data_len = 1};
	assert_int_equal(queue_store_add(qs, &r, 0, NULL, err, sizeof(err)),
	                 MOX_EINVAL);
	r.nrecipients = 0;
	assert_int_equal(queue_store_add(qs, &r, 0, NULL, err, sizeof(err)),
	                 MOX_EINVAL);
	queue_msg m;
	assert_int_equal(queue_store_get(qs, 99999, &m, err, sizeof(err)),
	                 MOX_ENOTFOUND);
	queue_store_close(qs);
}

static void
test_drop_removes_file_last(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	const char *rcpts[] = {"b@example.com", "c@example.com", "d@other.example"};
	int64_t ids[3];
	add1(qs, rcpts, 3, 1000, ids);
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/queue", tmpdir);
	assert_int_equal(count_files(dir), 1);
	char err[512];
	size_t n = 0;
	queue_filter f = {.to_domain = "example.com"};
	assert_int_equal(queue_store_drop(qs, &f, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(count_files(dir), 1); /* still used by d@ */
	assert_int_equal(queue_store_remove(qs, ids[2], err, sizeof(err)), MOX_OK);
	assert_int_equal(count_files(dir), 0);
	assert_int_equal(queue_store_count(qs), 0);
	queue_store_close(qs);
}

static void
test_kick_hold_due(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	const char *r1[] = {"b@example.com"};
	const char *r2[] = {"c@other.example"};
	int64_t id1, id2;
	add1(qs, r1, 1, 1000, &id1);
	add1(qs, r2, 1, 2000, &id2);
	char err[512];
	queue_msg *v;
	size_t n;
	assert_int_equal(queue_store_due(qs, 1500, 10, &v, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id1);

	/* An attempt moves the next attempt by the backoff. */
	assert_int_equal(
	    queue_store_attempt_begin(qs, &v[0], 1500, 450000, err, sizeof(err)),
	    MOX_OK);
	assert_int_equal(v[0].attempts, 1);
	free(v[0].last_error);
	v[0].last_error = strdup("451 try later");
	assert_int_equal(queue_store_attempt_fail(qs, &v[0], err, sizeof(err)), MOX_OK);
	queue_msgs_free(v, n);
	queue_msg m;
	assert_int_equal(queue_store_get(qs, id1, &m, err, sizeof(err)), MOX_OK);
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.next_attempt, 1500 + 450000);
	assert_int_equal(m.last_attempt, 1500);
	assert_string_equal(m.last_error, "451 try later");
	queue_msg_clear(&m);

	int64_t when = 0;
	assert_int_equal(queue_store_next_due(qs, NULL, 0, &when, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(when, 2000);
	const char *busy[] = {"other.example"};
	assert_int_equal(queue_store_next_due(qs, busy, 1, &when, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(when, 1500 + 450000);
	/* The scheduler's queries: the next wake-up after now, and due rows
	 * without the domains at their limit. */
	assert_int_equal(queue_store_next_after(qs, 1999, &when, err, sizeof(err)), MOX_OK);
	assert_int_equal(when, 2000);
	assert_int_equal(queue_store_next_after(qs, 2000, &when, err, sizeof(err)), MOX_OK);
	assert_int_equal(when, 1500 + 450000);
	assert_int_equal(queue_store_next_after(qs, 1500 + 450000, &when, err, sizeof(err)),
	                 MOX_ENOTFOUND);
	assert_int_equal(queue_store_due_except(qs, 1000000, busy, 1, 10, &v, &n, err,
	                                        sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id1);
	queue_msgs_free(v, n);
	const char *both[] = {"other.example", "example.com"};
	assert_int_equal(queue_store_due_except(qs, 1000000, both, 2, 10, &v, &n, err,
	                                        sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 0);
	free(v);

	/* Kick by recipient, with a transport. */
	queue_filter f = {.recipient = "B@example.com"};
	assert_int_equal(
	    queue_store_kick(qs, &f, "smarthost", 5000, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(queue_store_get(qs, id1, &m, err, sizeof(err)), MOX_OK);
	assert_int_equal(m.next_attempt, 5000);
	assert_string_equal(m.transport, "smarthost");
	queue_msg_clear(&m);

	/* Hold: not due, not counted for the next wake-up. */
	queue_filter all = {0};
	assert_int_equal(queue_store_hold(qs, &all, true, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(queue_store_due(qs, 1000000, 10, &v, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(queue_store_next_due(qs, NULL, 0, &when, err, sizeof(err)),
	                 MOX_ENOTFOUND);
	/* Kick releases. */
	queue_filter fid = {.id = id2};
	assert_int_equal(queue_store_kick(qs, &fid, NULL, 7000, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(queue_store_due(qs, 7000, 10, &v, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id2);
	queue_msgs_free(v, n);

	/* Attempt on a dropped row. */
	assert_int_equal(queue_store_get(qs, id2, &m, err, sizeof(err)), MOX_OK);
	assert_int_equal(queue_store_drop(qs, &fid, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(queue_store_attempt_begin(qs, &m, 1, 1, err, sizeof(err)),
	                 MOX_ENOTFOUND);
	queue_msg_clear(&m);
	queue_store_close(qs);
}

static void
test_backoff(void **state)
{
	(void)state;
	/* mox: 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h */
	const int64_t min = 60 * 1000;
	assert_int_equal(queue_backoff_ms(1, QUEUE_BACKOFF_FIRST_MS, 0),
	                 7 * min + 30000);
	assert_int_equal(queue_backoff_ms(2, QUEUE_BACKOFF_FIRST_MS, 0), 15 * min);
	assert_int_equal(queue_backoff_ms(3, QUEUE_BACKOFF_FIRST_MS, 0), 30 * min);
	assert_int_equal(queue_backoff_ms(4, QUEUE_BACKOFF_FIRST_MS, 0), 60 * min);
	assert_int_equal(queue_backoff_ms(5, QUEUE_BACKOFF_FIRST_MS, 0), 120 * min);
	assert_int_equal(queue_backoff_ms(8, QUEUE_BACKOFF_FIRST_MS, 0), 960 * min);
	assert_int_equal(queue_backoff_ms(1, QUEUE_BACKOFF_FIRST_MS, -5000),
	                 7 * min + 25000);
	assert_int_equal(queue_backoff_ms(1, 100, -5000), 0);
	/* Total time before giving up after the 8th attempt: ~31.9 hours. */
	int64_t total = 0;
	for (unsigned a = 1; a < QUEUE_MAX_ATTEMPTS_DEFAULT; a++)
		total += queue_backoff_ms(a, QUEUE_BACKOFF_FIRST_MS, 0);
	assert_int_equal(total, 127 * (7 * min + 30000));
	/* Saturates, never overflows. */
	int64_t big = queue_backoff_ms(200, QUEUE_BACKOFF_FIRST_MS, 0);
	assert_true(big > 0);
	assert_true(queue_backoff_ms(4000000000u, INT64_MAX / 2, 0) > 0);
}

static void
test_orphans_removed_at_open(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	const char *r1[] = {"b@example.com"};
	int64_t id;
	add1(qs, r1, 1, 1000, &id);
	queue_store_close(qs);
	char p[400];
	snprintf(p, sizeof(p), "%s/queue/%lld", tmpdir, (long long)(id + 100));
	int fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/queue/tmp-1-1", tmpdir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/queue", tmpdir);
	assert_int_equal(count_files(dir), 3);
	qs = open_store();
	assert_int_equal(count_files(dir), 1);
	assert_int_equal(queue_store_count(qs), 1);
	queue_store_close(qs);
}

static double
mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Child: add messages forever, each with a unique token in its body,
 * writing "id token\n" to the pipe after each acknowledged add. */
static void
crash_child(int wfd)
{
	queue_store *qs = NULL;
	char err[512];
	if (queue_store_open(tmpdir, &qs, err, sizeof(err)) != MOX_OK)
		_exit(3);
	srand((unsigned)getpid());
	for (unsigned long i = 0;; i++) {
		char body[256], rc1[64], rc2[64];
		unsigned long tok = ((unsigned long)getpid() << 20) | i;
		int bl = snprintf(body, sizeof(body), "Subject: t\r\n\r\ntoken %lu\r\n",
		                  tok);
		snprintf(rc1, sizeof(rc1), "r%lu@a%lu.example", tok, i % 5);
		snprintf(rc2, sizeof(rc2), "s%lu@b.example", tok);
		const char *rc[] = {rc1, rc2};
		queue_add_req r = {.sender = "x@example.org",
		                   .recipients = rc,
		                   .nrecipients = 1 + (i % 2),
		                   .data = (const uint8_t *)body,
		                   .data_len = (size_t)bl};
		int64_t ids[2];
		if (queue_store_add(qs, &r, 1, ids, err, sizeof(err)) != MOX_OK)
			_exit(4);
		/* Now and then remove one, as deliveries do. */
		if (i % 3 == 2)
			queue_store_remove(qs, ids[0], err, sizeof(err));
		else {
			char line[64];
			int ll = snprintf(line, sizeof(line), "%lld %lu\n",
			                  (long long)ids[0], tok);
			if (write(wfd, line, (size_t)ll) != ll)
				_exit(5);
		}
	}
}

static void
test_crash(void **state)
{
	(void)state;
	double start = mono();
	typedef struct acked {
		int64_t id;
		unsigned long tok;
	} acked;
	acked *ack = NULL;
	size_t nack = 0, cap = 0;
	unsigned kills = 0;
	srand((unsigned)time(NULL));
	while (kills < KILLS_MAX && mono() - start < CRASH_TIME_MAX) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			crash_child(pfd[1]);
			_exit(0);
		}
		close(pfd[1]);
		usleep(20000 + (unsigned)(rand() % 150000));
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		assert_true(WIFSIGNALED(st));
		kills++;
		/* Acked lines (a line cut by the kill is not acked). */
		char buf[65536];
		size_t have = 0;
		ssize_t r;
		while ((r = read(pfd[0], buf + have, sizeof(buf) - 1 - have)) > 0) {
			have += (size_t)r;
			buf[have] = '\0';
			char *nl;
			char *p = buf;
			while ((nl = strchr(p, '\n')) != NULL) {
				*nl = '\0';
				if (nack == cap) {
					cap = cap == 0 ? 1024 : cap * 2;
					ack = realloc(ack, cap * sizeof(*ack));
					assert_non_null(ack);
				}
				long long id;
				unsigned long tok;
				assert_int_equal(sscanf(p, "%lld %lu", &id, &tok), 2);
				ack[nack++] = (acked){id, tok};
				p = nl + 1;
			}
			have = strlen(p);
			memmove(buf, p, have);
		}
		close(pfd[0]);
	}
	/* Reopen: orphans removed; every acked message there and whole. */
	queue_store *qs = open_store();
	char err[512];
	for (size_t i = 0; i < nack; i++) {
		queue_msg m;
		if (queue_store_get(qs, ack[i].id, &m, err, sizeof(err)) != MOX_OK)
			fail_msg("acked message %lld lost: %s", (long long)ack[i].id,
			         err);
		uint8_t *data;
		size_t len;
		if (queue_store_read_message(qs, &m, &data, &len, err, sizeof(err)) !=
		    MOX_OK)
			fail_msg("acked message %lld has no file: %s",
			         (long long)ack[i].id, err);
		char want[64];
		snprintf(want, sizeof(want), "token %lu\r\n", ack[i].tok);
		assert_non_null(strstr((const char *)data, want));
		free(data);
		queue_msg_clear(&m);
	}
	/* Every row has its file, every file has a row. */
	queue_msg *v;
	size_t n;
	assert_int_equal(queue_store_list(qs, NULL, &v, &n, err, sizeof(err)), MOX_OK);
	size_t bases = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;
		if (queue_store_read_message(qs, &v[i], &data, &len, err,
		                             sizeof(err)) != MOX_OK)
			fail_msg("row %lld without file: %s", (long long)v[i].id, err);
		assert_int_equal((int64_t)len, v[i].size);
		free(data);
		if (v[i].id == v[i].base_id)
			bases++;
	}
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/queue", tmpdir);
	size_t files = count_files(dir);
	/* Rows whose first row was removed still use the file: count
	 * distinct base ids. */
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = v[j].base_id == v[i].base_id;
		if (!seen)
			distinct++;
	}
	(void)bases;
	assert_int_equal(files, distinct);
	print_message("crash test: %u kills, %zu acked adds verified, %zu rows\n",
	              kills, nack, n);
	assert_true(kills >= 5);
	assert_true(nack > 0);
	queue_msgs_free(v, n);
	free(ack);
	queue_store_close(qs);
}

static int64_t
fixed_now(void *arg)
{
	(void)arg;
	return 1700000000000LL;
}

static void
test_dsn(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	queue_settings s = {
	    .data_dir = tmpdir, .hostname = "mail.mox.example", .now = fixed_now};
	const char *r1[] = {"b@example.com"};
	int64_t id;
	add1(qs, r1, 1, 1000, &id);
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_OK);
	char *dsn;
	size_t len;
	uint8_t *orig;
	size_t olen;
	assert_int_equal(
	    queue_store_read_message(qs, &m, &orig, &olen, err, sizeof(err)), MOX_OK);
	assert_int_equal(queue_dsn_compose(&s, &m, orig, olen, QUEUE_DSN_FAILED,
	                                   "5.1.1", "mx.example.com",
	                                   "rcpt: 550 5.1.1 no such user\r\nX", 0, &dsn,
	                                   &len),
	                 MOX_OK);
	free(orig);
	assert_non_null(
	    strstr(dsn, "Content-Type: multipart/report; report-type=delivery-status"));
	assert_non_null(strstr(dsn, "From: <postmaster@mail.mox.example>\r\n"));
	assert_non_null(strstr(dsn, "To: <a@example.org>\r\n"));
	assert_non_null(strstr(dsn, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(dsn, "Reporting-MTA: dns; mail.mox.example\r\n"));
	assert_non_null(strstr(dsn, "Final-Recipient: rfc822; b@example.com\r\n"));
	assert_non_null(strstr(dsn, "Action: failed\r\n"));
	assert_non_null(strstr(dsn, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(dsn, "Remote-MTA: dns; mx.example.com\r\n"));
	/* The remote's CR LF does not make a new field. */
	assert_non_null(
	    strstr(dsn, "Diagnostic-Code: smtp; rcpt: 550 5.1.1 no such user  X\r\n"));
	assert_non_null(strstr(dsn, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(dsn, "\r\n\r\nX-Prefix: 1\r\nFrom: a@example.org\r\n"));
	/* It parses back as a DSN (mox/dsn.h). */
	mox_dsn_parsed *pd = NULL;
	mox_errinfo info;
	assert_int_equal(mox_dsn_parse((const uint8_t *)dsn, len, NULL, &pd, &info),
	                 MOX_OK);
	assert_int_equal(pd->nrcpts, 1);
	assert_string_equal(pd->rcpts[0].final_recipient, "b@example.com");
	assert_int_equal(pd->rcpts[0].action, MOX_DSN_FAILED);
	assert_string_equal(pd->rcpts[0].status, "5.1.1");
	assert_string_equal(pd->reporting_mta, "mail.mox.example");
	mox_dsn_parsed_free(pd);
	assert_null(strstr(dsn, "body\r\n")); /* headers only without RET=FULL */
	assert_non_null(strstr(dsn, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	free(dsn);

	/* Queued to the sender with the null reverse path. */
	assert_int_equal(queue_dsn_queue(&s, qs, &m, QUEUE_DSN_DELAYED, "4.0.0", "",
	                                 "x", 1700000000000LL + 3600000, err,
	                                 sizeof(err)),
	                 MOX_OK);
	queue_filter f = {.recipient = "a@example.org"};
	queue_msg *v;
	size_t n;
	assert_int_equal(queue_store_list(qs, &f, &v, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].sender, "");
	assert_true(v[0].is_dsn);
	uint8_t *d;
	size_t dl;
	assert_int_equal(queue_store_read_message(qs, &v[0], &d, &dl, err, sizeof(err)),
	                 MOX_OK);
	assert_non_null(strstr((char *)d, "Action: delayed\r\n"));
	assert_non_null(
	    strstr((char *)d, "Will-Retry-Until: Tue, 14 Nov 2023 23:13:20 +0000\r\n"));
	free(d);
	/* No DSN for a DSN. */
	assert_int_equal(queue_dsn_queue(&s, qs, &v[0], QUEUE_DSN_FAILED, "5.0.0", "",
	                                 "x", 0, err, sizeof(err)),
	                 MOX_OK);
	queue_msgs_free(v, n);
	assert_int_equal(queue_store_count(qs), 2);
	/* NOTIFY=NEVER, and NOTIFY=FAILURE for a delay: nothing. */
	free(m.dsn_notify);
	m.dsn_notify = strdup("NEVER");
	assert_int_equal(queue_dsn_queue(&s, qs, &m, QUEUE_DSN_FAILED, "5.0.0", "", "x",
	                                 0, err, sizeof(err)),
	                 MOX_OK);
	free(m.dsn_notify);
	m.dsn_notify = strdup("FAILURE");
	assert_int_equal(queue_dsn_queue(&s, qs, &m, QUEUE_DSN_DELAYED, "4.0.0", "",
	                                 "x", 0, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(queue_store_count(qs), 2);
	assert_int_equal(queue_dsn_queue(&s, qs, &m, QUEUE_DSN_FAILED, "5.0.0", "", "x",
	                                 0, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(queue_store_count(qs), 3);
	/* Null sender: nothing. */
	free(m.sender);
	m.sender = strdup("");
	assert_int_equal(queue_dsn_queue(&s, qs, &m, QUEUE_DSN_FAILED, "5.0.0", "", "x",
	                                 0, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(queue_store_count(qs), 3);
	queue_msg_clear(&m);
	queue_store_close(qs);
}

static int
cli(const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[8];
	int argc = 0;
	argv[argc++] = (char *)"queue";
	argv[argc++] = (char *)a1;
	argv[argc++] = (char *)"-datadir";
	argv[argc++] = tmpdir;
	if (a2 != NULL)
		argv[argc++] = (char *)a2;
	if (a3 != NULL)
		argv[argc++] = (char *)a3;
	if (a4 != NULL)
		argv[argc++] = (char *)a4;
	argv[argc] = NULL;
	fflush(stdout);
	return queue_cli_main(argc, argv);
}

static void
test_cli(void **state)
{
	(void)state;
	queue_store *qs = open_store();
	const char *r[] = {"b@example.com", "c@other.example"};
	int64_t ids[2];
	add1(qs, r, 2, 4000000000000LL, ids);
	queue_store_close(qs);
	assert_int_equal(cli("list", NULL, NULL, NULL), 0);
	char idtext[32];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)ids[0]);
	/* dump writes the message to stdout: send it to a file. */
	char out[300];
	snprintf(out, sizeof(out), "%s/dump.eml", tmpdir);
	fflush(stdout);
	int saved = dup(1);
	int fd = open(out, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 1);
	close(fd);
	int rc = cli("dump", idtext, NULL, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(rc, 0);
	struct stat sb;
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(sb.st_size, 13 + sizeof(msg1) - 1);
	assert_int_equal(cli("dump", "999999", NULL, NULL), 1);
	assert_int_equal(cli("kick", "-todomain", "other.example", NULL), 0);
	qs = open_store();
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, ids[1], &m, err, sizeof(err)), MOX_OK);
	assert_true(m.next_attempt < 4000000000000LL);
	queue_msg_clear(&m);
	assert_int_equal(queue_store_get(qs, ids[0], &m, err, sizeof(err)), MOX_OK);
	assert_int_equal(m.next_attempt, 4000000000000LL);
	queue_msg_clear(&m);
	queue_store_close(qs);
	assert_int_equal(cli("drop", "-recipient", "b@example.com", NULL), 0);
	assert_int_equal(cli("bogus", NULL, NULL, NULL), 2);
	assert_int_equal(cli("drop", "-id", "x", NULL), 2);
	/* No queue there: an error, nothing created. */
	char *argv[] = {(char *)"queue", (char *)"list", (char *)"-datadir",
	                (char *)"/nonexistent/mox-data", NULL};
	assert_int_equal(queue_cli_main(4, argv), 1);
	struct stat nsb;
	assert_int_not_equal(stat("/nonexistent/mox-data", &nsb), 0);
	qs = open_store();
	assert_int_equal(queue_store_count(qs), 1);
	queue_store_close(qs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_list_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_removes_file_last, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_kick_hold_due, setup, teardown),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test_setup_teardown(test_orphans_removed_at_open, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_dsn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
