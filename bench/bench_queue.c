/* bench_queue: outgoing queue throughput, mox's queue next to Postfix
 * relaying the same load, both delivering to one Postfix smtp-sink on
 * loopback (issue #12, Speed).
 *
 * mox: the queue itself (server/queue*.c compiled in, as tests/queue
 * does), not the submission listener in front of it: N messages of 5000
 * body bytes are added with queue_store_add (durable: message file and
 * SQLite row, fsynced) in batches on the queue's libuv loop while the
 * scheduler (queue_start, the settings `mox serve` uses: 10 deliveries at
 * once, 1 per recipient domain, as mox) delivers them. Recipients are
 * spread over D domains (default 10, MOX_BENCH_QUEUE_DOMAINS) whose MX
 * records, served by the unbound fixture on loopback, point at 127.0.0.1,
 * where smtp-sink listens on the port the queue is told to use instead of
 * 25. Timed from the first add until the queue is empty.
 *
 * Postfix: a throwaway instance (own config directory with main.cf and
 * master.cf, queue directory in a temp dir, smtpd on a loopback port,
 * relayhost = [127.0.0.1]:sinkport, no chroot, no TLS), started with
 * `postfix -c DIR start` and stopped with `postfix -c DIR stop`.
 * smtp-source injects the same N messages (5000 bytes, 20 sessions) into
 * its smtpd; timed from the start of smtp-source until the queue
 * directories are empty. Its maillog counts status=sent. Postfix thus
 * does more work than mox here (SMTP ingest): the ratio favours mox by
 * that much; the mox figure is the queue alone, as the issue asks.
 *
 * Bounds: N (default 10000, MOX_BENCH_QUEUE_N, at most 100000), each side
 * capped at 120 s (partial rates reported), every child ended by pid.
 * Postfix needs root (its daemons run as the postfix user); without it
 * only mox's figure is printed.
 *
 * Usage: bench_queue [TOP] */
#define _GNU_SOURCE
#include "queue.h"
#include "unbound_fixture.h"

#include <mox/dns.h>

#include <uv.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CAP_SECONDS 120
#define PAYLOAD 5000
#define ADDERS 4 /* concurrent submissions adding to the queue */

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t
spawn(char *const argv[], const char *logpath)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_APPEND,
	                                 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "bench_queue: starting %s: %s\n", argv[0],
		        strerror(rc));
		return -1;
	}
	return pid;
}

/* Run to completion (capped); exit status or -1. */
static int
run(char *const argv[], const char *logpath, double cap)
{
	pid_t pid = spawn(argv, logpath);
	if (pid < 0)
		return -1;
	double end = now_s() + cap;
	int st = 0;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
}

static bool
can_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static uint16_t
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	socklen_t sl = sizeof(sa);
	uint16_t p = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

/* ---- mox ---- */

typedef struct moxrun {
	queue *q;
	queue_store *count; /* our own handle, for counting */
	queue_settings s;
	uv_timer_t timer;
	size_t n, next, added, ndomains;
	bool stop_adding;
	pthread_t th[ADDERS];
	size_t nth;
	long dsns;
	double t0, t_added, t_end;
	bool capped, failed;
	uint8_t *msg;
	size_t msglen;
} moxrun;

static bool
is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "local.bench.test") == 0;
}

static int
deliver_local(void *arg, const queue_msg *m, const uint8_t *data, size_t len, char *why,
              size_t whylen)
{
	(void)m, (void)data, (void)len, (void)why, (void)whylen;
	moxrun *r = arg;
	__atomic_add_fetch(&r->dsns, 1, __ATOMIC_SEQ_CST); /* a DSN: a failure */
	return QUEUE_LOCAL_OK;
}

static void
quiet_log(void *arg, const char *level, const char *line)
{
	(void)arg;
	if (getenv("MOX_BENCH_VERBOSE") != NULL || strcmp(level, "error") == 0)
		fprintf(stderr, "queue %s: %s\n", level, line);
}

/* An adder thread: what a submission session does after DATA, without
 * the SMTP: queue_store_add, then wake the scheduler. */
static void *
adder(void *arg)
{
	moxrun *r = arg;
	queue_store *qs = queue_get_store(r->q);
	char err[256];
	for (;;) {
		size_t i = __atomic_fetch_add(&r->next, 1, __ATOMIC_SEQ_CST);
		if (i >= r->n || __atomic_load_n(&r->stop_adding, __ATOMIC_SEQ_CST))
			break;
		char rcpt[64];
		snprintf(rcpt, sizeof(rcpt), "user%zu@d%zu.bench.test", i,
		         i % r->ndomains);
		const char *rcpts[] = {rcpt};
		queue_add_req rq = {
		    .sender_account = "bench",
		    .sender = "bench@local.bench.test",
		    .recipients = rcpts,
		    .nrecipients = 1,
		    .data = r->msg,
		    .data_len = r->msglen,
		};
		int64_t id;
		if (queue_store_add(qs, &rq, queue_now(&r->s), &id, err, sizeof(err)) !=
		    MOX_OK) {
			fprintf(stderr, "bench_queue: add: %s\n", err);
			__atomic_store_n(&r->failed, true, __ATOMIC_SEQ_CST);
			break;
		}
		if (__atomic_add_fetch(&r->added, 1, __ATOMIC_SEQ_CST) == r->n)
			r->t_added = now_s();
		queue_wake(r->q);
	}
	return NULL;
}

/* Before queue_stop: no queue_wake may come after it. */
static void
join_adders(moxrun *r)
{
	for (size_t i = 0; i < r->nth; i++)
		pthread_join(r->th[i], NULL);
	r->nth = 0;
}

static void
on_tick(uv_timer_t *t)
{
	moxrun *r = t->data;
	double now = now_s();
	bool failed = __atomic_load_n(&r->failed, __ATOMIC_SEQ_CST);
	if (now - r->t0 > CAP_SECONDS || failed) {
		r->capped = !failed;
		r->t_end = now;
		__atomic_store_n(&r->stop_adding, true, __ATOMIC_SEQ_CST);
		uv_timer_stop(t);
		join_adders(r);
		queue_stop(r->q, NULL, NULL);
		return;
	}
	if (__atomic_load_n(&r->added, __ATOMIC_SEQ_CST) == r->n &&
	    queue_store_count(r->count) == 0) {
		r->t_end = now_s();
		uv_timer_stop(t);
		join_adders(r); /* they may still be in queue_wake */
		queue_stop(r->q, NULL, NULL);
	}
}

static int
bench_mox(const char *dir, const mox_resolver *res, uint16_t sinkport, size_t n,
          size_t ndomains, double *rate_out)
{
	moxrun r;
	memset(&r, 0, sizeof(r));
	r.n = n;
	r.ndomains = ndomains;
	/* The message: 5000 body bytes in 76-byte lines. */
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(
	    &b, "From: <bench@local.bench.test>\r\nTo: <user@bench.test>\r\n"
	        "Subject: bench\r\nMessage-ID: <bench@local.bench.test>\r\n\r\n");
	for (size_t body = 0; body < PAYLOAD; body += 78)
		mox_buf_append_str(
		    &b, "0123456789012345678901234567890123456789012345678901234"
		        "567890123456789012345\r\n");
	r.msg = b.data;
	r.msglen = b.len;
	r.s = (queue_settings){
	    .data_dir = dir,
	    .hostname = "mail.local.bench.test",
	    .resolver = res,
	    .smtp_port = sinkport,
	    .no_dane = true,
	    .connect_timeout_ms = 5000,
	    .io_timeout_ms = 30000,
	    .is_local = is_local,
	    .deliver_local = deliver_local,
	    .local_arg = &r,
	    .log = quiet_log,
	};
	char err[512];
	uv_loop_t loop;
	uv_loop_init(&loop);
	int rc = -1;
	if (queue_store_open(dir, &r.count, err, sizeof(err)) != MOX_OK ||
	    queue_start(&loop, &r.s, &r.q, err, sizeof(err)) != MOX_OK) {
		fprintf(stderr, "bench_queue: mox queue: %s\n", err);
		goto out;
	}
	uv_timer_init(&loop, &r.timer);
	r.timer.data = &r;
	r.t0 = now_s();
	for (; r.nth < ADDERS; r.nth++)
		if (pthread_create(&r.th[r.nth], NULL, adder, &r) != 0)
			break;
	uv_timer_start(&r.timer, on_tick, 5, 5);
	uv_run(&loop, UV_RUN_DEFAULT);
	join_adders(&r);
	uv_close((uv_handle_t *)&r.timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	size_t left = queue_store_count(r.count);
	size_t done = r.added - left;
	double secs = r.t_end - r.t0;
	*rate_out = (double)done / secs;
	printf("mox queue:   %zu added in %.2f s (%.0f/s), %zu delivered in %.2f s%s, "
	       "%ld DSNs (failures): %.0f messages/s end to end\n",
	       r.added, (r.t_added > 0 ? r.t_added : r.t_end) - r.t0,
	       (double)r.added / ((r.t_added > 0 ? r.t_added : r.t_end) - r.t0), done,
	       secs, r.capped ? " (capped: partial)" : "", r.dsns, *rate_out);
	rc = r.failed ? -1 : 0;
out:
	queue_store_close(r.count);
	uv_loop_close(&loop);
	mox_buf_free(&b);
	return rc;
}

/* ---- Postfix ---- */

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	char p[1024];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_files(p);
		else if (S_ISREG(st.st_mode))
			n++;
	}
	closedir(d);
	return n;
}

static size_t
postfix_queued(const char *qdir)
{
	static const char *const sub[] = {"maildrop", "incoming", "active", "deferred",
	                                  "hold"};
	size_t n = 0;
	char p[600];
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", qdir, sub[i]);
		n += count_files(p);
	}
	return n;
}

static size_t
count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = 0;
	char line[4096];
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static int
bench_postfix(const char *dir, uint16_t sinkport, size_t n, double *rate_out)
{
	if (geteuid() != 0) {
		printf("postfix:     skipped: a Postfix instance needs root (its "
		       "daemons run as "
		       "user postfix)\n");
		return 1;
	}
	char conf[400], qdir[400], ddir[400], maillog[400], path[500], logp[500];
	snprintf(conf, sizeof(conf), "%s/postfix-conf", dir);
	snprintf(qdir, sizeof(qdir), "%s/postfix-queue", dir);
	snprintf(ddir, sizeof(ddir), "%s/postfix-data", dir);
	snprintf(maillog, sizeof(maillog), "%s/postfix-maillog", dir);
	snprintf(logp, sizeof(logp), "%s/postfix-cmd.log", dir);
	mkdir(conf, 0755);
	mkdir(qdir, 0755);
	/* data_directory is made by postfix start (owned by mail_owner). */
	uint16_t port = free_port();
	snprintf(path, sizeof(path), "%s/main.cf", conf);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
	        "compatibility_level = 3.6\n"
	        "queue_directory = %s\n"
	        "data_directory = %s\n"
	        "mail_owner = postfix\n"
	        "setgid_group = postdrop\n"
	        "inet_interfaces = 127.0.0.1\n"
	        "inet_protocols = ipv4\n"
	        "myhostname = postfix.bench.test\n"
	        "mydomain = bench.test\n"
	        "myorigin = $myhostname\n"
	        "mydestination =\n"
	        "mynetworks = 127.0.0.0/8\n"
	        "relayhost = [127.0.0.1]:%u\n"
	        "smtpd_relay_restrictions = permit_mynetworks, reject\n"
	        "alias_maps =\n"
	        "alias_database =\n"
	        "local_recipient_maps =\n"
	        "smtp_tls_security_level = none\n"
	        "smtpd_tls_security_level = none\n"
	        "smtp_dns_support_level = disabled\n"
	        "maillog_file = %s\n"
	        "maillog_file_prefixes = %s\n"
	        "biff = no\n",
	        qdir, ddir, sinkport, maillog, dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/master.cf", conf);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	/* No chroot: the queue directory is a temp dir without /etc files. */
	fprintf(f,
	        "127.0.0.1:%u inet n - n - - smtpd\n"
	        "pickup unix n - n 60 1 pickup\n"
	        "cleanup unix n - n - 0 cleanup\n"
	        "qmgr unix n - n 300 1 qmgr\n"
	        "rewrite unix - - n - - trivial-rewrite\n"
	        "bounce unix - - n - 0 bounce\n"
	        "defer unix - - n - 0 bounce\n"
	        "trace unix - - n - 0 bounce\n"
	        "verify unix - - n - 1 verify\n"
	        "flush unix n - n 1000? 0 flush\n"
	        "proxymap unix - - n - - proxymap\n"
	        "proxywrite unix - - n - 1 proxymap\n"
	        "smtp unix - - n - - smtp\n"
	        "relay unix - - n - - smtp\n"
	        "showq unix n - n - - showq\n"
	        "error unix - - n - - error\n"
	        "retry unix - - n - - error\n"
	        "discard unix - - n - - discard\n"
	        "local unix - n n - - local\n"
	        "anvil unix - - n - 1 anvil\n"
	        "scache unix - - n - 1 scache\n"
	        "postlog unix-dgram n - n - 1 postlogd\n",
	        port);
	fclose(f);
	char *start[] = {(char *)"/usr/sbin/postfix", (char *)"-c", conf,
	                 (char *)"start", NULL};
	if (run(start, logp, 60) != 0) {
		printf("postfix:     could not start a Postfix instance (see %s)\n",
		       logp);
		return -1;
	}
	int rc = -1;
	for (int i = 0; i < 200 && !can_connect(port); i++)
		usleep(50000);
	if (!can_connect(port)) {
		printf("postfix:     smtpd did not come up on port %u (see %s)\n", port,
		       maillog);
		goto stop;
	}
	char nbuf[32], target[64], srclog[500];
	snprintf(nbuf, sizeof(nbuf), "%zu", n);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	snprintf(srclog, sizeof(srclog), "%s/smtp-source.log", dir);
	char *src[] = {(char *)"/usr/sbin/smtp-source",
	               (char *)"-s",
	               (char *)"20",
	               (char *)"-m",
	               nbuf,
	               (char *)"-l",
	               (char *)"5000",
	               (char *)"-f",
	               (char *)"bench@local.bench.test",
	               (char *)"-t",
	               (char *)"user@d0.bench.test",
	               target,
	               NULL};
	double t0 = now_s();
	pid_t sp = spawn(src, srclog);
	if (sp < 0)
		goto stop;
	bool src_done = false, capped = false;
	double t_src = 0;
	int st = 0;
	for (;;) {
		if (!src_done && waitpid(sp, &st, WNOHANG) == sp) {
			src_done = true;
			t_src = now_s();
		}
		if (src_done && postfix_queued(qdir) == 0)
			break;
		if (now_s() - t0 > CAP_SECONDS) {
			capped = true;
			if (!src_done) {
				kill(sp, SIGKILL);
				waitpid(sp, &st, 0);
				t_src = now_s();
			}
			break;
		}
		usleep(20000);
	}
	double secs = now_s() - t0;
	/* Let postlogd write the last lines. */
	usleep(300000);
	size_t sent = count_in_file(maillog, "status=sent");
	size_t bounced = count_in_file(maillog, "status=bounced");
	*rate_out = (double)sent / secs;
	printf("postfix:     %zu injected by smtp-source in %.2f s, %zu sent "
	       "(status=sent) "
	       "in %.2f s%s, %zu bounced: %.0f messages/s end to end\n",
	       n, t_src - t0, sent, secs, capped ? " (capped: partial)" : "", bounced,
	       *rate_out);
	rc = 0;
stop:;
	char *stop[] = {(char *)"/usr/sbin/postfix", (char *)"-c", conf, (char *)"stop",
	                NULL};
	run(stop, logp, 30);
	return rc;
}

int
main(int argc, char **argv)
{
	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	size_t n = 10000, ndomains = 10;
	const char *e = getenv("MOX_BENCH_QUEUE_N");
	if (e != NULL && atol(e) > 0 && atol(e) <= 100000)
		n = (size_t)atol(e);
	e = getenv("MOX_BENCH_QUEUE_DOMAINS");
	if (e != NULL && atol(e) > 0 && atol(e) <= 100)
		ndomains = (size_t)atol(e);
	if (access("/usr/sbin/smtp-sink", X_OK) != 0) {
		printf("bench_queue: skipped: needs Postfix's smtp-sink (postfix "
		       "package)\n");
		return 0;
	}
	/* Next to this executable: the normal disk, not tmpfs. */
	char dir[512] = "/tmp/bench-queue-XXXXXX";
	char self[400];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl > 0) {
		self[sl] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(dir, sizeof(dir), "%s/bench-queue-XXXXXX", self);
		}
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench_queue: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	chmod(dir, 0755);
	char zone[600], moxdir[600], sinklog[600];
	snprintf(zone, sizeof(zone), "%s/bench.zone", dir);
	snprintf(moxdir, sizeof(moxdir), "%s/mox", dir);
	snprintf(sinklog, sizeof(sinklog), "%s/smtp-sink.log", dir);
	mkdir(moxdir, 0700);
	FILE *f = fopen(zone, "w");
	if (f == NULL)
		return 1;
	fprintf(
	    f,
	    "$ORIGIN bench.test.\n$TTL 300\n"
	    "@ 3600 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 120\n"
	    "@ 300 IN NS ns.bench.test.\nns 300 IN A 127.0.0.1\n"
	    "mx 300 IN A 127.0.0.1\n");
	for (size_t i = 0; i < ndomains; i++)
		fprintf(f, "d%zu 300 IN MX 10 mx.bench.test.\n", i);
	fclose(f);

	int rc = 1;
	mox_test_unbound ub;
	memset(&ub, 0, sizeof(ub));
	char err[512];
	mox_resolver *res = NULL;
	pid_t sink = -1;
	if (mox_test_unbound_start(&ub, zone, "bench.test.", err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_queue: unbound: %s\n", err);
		goto out;
	}
	setenv("MOX_RESOLVER", ub.addr, 1);
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr};
	mox_errinfo info;
	if (mox_dns_ldns_new(&res, &o, &info) != MOX_OK) {
		fprintf(stderr, "bench_queue: resolver\n");
		goto out;
	}
	uint16_t sinkport = free_port();
	char sinkaddr[64];
	snprintf(sinkaddr, sizeof(sinkaddr), "127.0.0.1:%u", sinkport);
	char *sinkargv[] = {(char *)"/usr/sbin/smtp-sink",
	                    (char *)"-u",
	                    (char *)"nobody",
	                    sinkaddr,
	                    (char *)"256",
	                    NULL};
	if (geteuid() != 0) {
		sinkargv[1] = sinkaddr;
		sinkargv[2] = (char *)"256";
		sinkargv[3] = NULL;
	}
	sink = spawn(sinkargv, sinklog);
	for (int i = 0; i < 100 && sink > 0 && !can_connect(sinkport); i++)
		usleep(50000);
	if (sink < 0 || !can_connect(sinkport)) {
		fprintf(stderr, "bench_queue: smtp-sink did not start\n");
		goto out;
	}
	printf("queue: %zu messages of %d body bytes, recipients in %zu domains (MX at "
	       "127.0.0.1 via unbound), delivered to smtp-sink; cap %d s per side\n",
	       n, PAYLOAD, ndomains, CAP_SECONDS);
	fflush(stdout);
	double mox_rate = 0, pf_rate = 0;
	if (bench_mox(moxdir, res, sinkport, n, ndomains, &mox_rate) != 0)
		goto out;
	fflush(stdout);
	int prc = bench_postfix(dir, sinkport, n, &pf_rate);
	if (prc == 0 && pf_rate > 0)
		printf("ratio mox/postfix: %.2f\n", mox_rate / pf_rate);
	rc = 0;
out:
	if (sink > 0) {
		kill(sink, SIGTERM);
		waitpid(sink, NULL, 0);
	}
	mox_resolver_free(res);
	mox_test_unbound_stop(&ub);
	if (getenv("MOX_BENCH_KEEP") == NULL) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_queue: could not remove %s\n", dir);
	} else {
		printf("kept %s\n", dir);
	}
	return rc;
}
