/* bench_smtp: durable SMTP delivery into `mox localserve`, against
 * Postfix's smtp-sink (no storage: the protocol ceiling) as the peer.
 *
 * How this works: for each concurrency level (1, 10, 50) a fresh
 * localserve starts with its data directory next to this executable (on
 * the normal disk, never tmpfs: the file system type is printed) and
 * MOX_RESOLVER at a loopback unbound (tests/common/unbound_fixture). A
 * few warm-up messages create the Inbox; then Postfix's smtp-source sends
 * N messages of 5000 payload bytes (about 5.2 KB with its headers) over
 * `level` reused sessions (-d), timed, with the server's CPU time
 * (utime+stime from /proc/<pid>/stat) read before and after. Then our own
 * client measures transaction latency: `level` threads each doing
 * sequential MAIL, RCPT, DATA, message, "." (no pipelining), timed from
 * MAIL to the final 250, for L transactions in all; p50 and p99 are
 * printed. Peak RSS is the server's VmHWM; disk per message is what the
 * account directory takes after a clean stop (apparent bytes and
 * allocated blocks), divided by the message files in it. The same load
 * then goes to smtp-sink, and each figure is printed side by side with
 * the ratio mox/sink.
 *
 * Bounds: N (default 5000, MOX_BENCH_SMTP_N) and L (default 1000,
 * MOX_BENCH_SMTP_L) per level; every smtp-source run and latency run is
 * capped at 60 s (killed by pid), every socket read at 10 s.
 *
 * Usage: bench_smtp [TOP]   (./dev bench passes the source tree) */
#define _GNU_SOURCE
#include "unbound_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CAP_SECONDS 60
#define PAYLOAD 5000
#define WARMUP 20

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t
spawn(char *const argv[], const char *logpath, char *const envp[])
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid = -1;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "bench_smtp: starting %s: %s\n", argv[0], strerror(rc));
		return -1;
	}
	return pid;
}

/* Wait for pid at most secs; kill it (by pid) when over. Returns the exit
 * status, or -1 when it had to be killed. */
static int
wait_for(pid_t pid, double secs)
{
	double end = now_s() + secs;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(5000);
	}
}

static void
stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	if (wait_for(pid, 10) < 0)
		fprintf(stderr, "bench_smtp: pid %d did not stop in 10 s, killed\n", (int)pid);
}

/* utime + stime of pid, in seconds (/proc/<pid>/stat fields 14 and 15). */
static double
cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long long ut = 0, stt = 0;
	/* After ")": state(3) ppid ... utime(14) stime(15). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static long
hwm_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static bool
port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int
dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool
wait_port(int port, double secs)
{
	double end = now_s() + secs;
	while (now_s() < end) {
		int fd = dial(port);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		usleep(20000);
	}
	return false;
}

/* ---- the latency client ---- */

typedef struct reader {
	int fd;
	char buf[4096];
	size_t len, off;
} reader;

/* Read one whole reply (all its lines); return its code or -1. */
static int
reply(reader *r)
{
	for (;;) {
		/* A complete line in the buffer? */
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl != NULL) {
			char *line = r->buf + r->off;
			size_t ll = (size_t)(nl - line) + 1;
			r->off += ll;
			if (ll >= 4 && line[3] == '-')
				continue;
			return ll >= 3 ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : -1;
		}
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->len == sizeof(r->buf))
			return -1;
		ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
	}
}

static bool
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

typedef struct latrun {
	int port;
	const char *msg;
	size_t msglen;
	atomic_int next;  /* transactions handed out */
	int total;
	double *lat;      /* seconds, one per finished transaction */
	atomic_int nlat;
	atomic_int errors;
	double deadline;
} latrun;

static void *
lat_thread(void *arg)
{
	latrun *lr = arg;
	reader r = {.fd = dial(lr->port)};
	if (r.fd < 0 || reply(&r) != 220 || !send_all(r.fd, "EHLO lat.example\r\n", 18) ||
	    reply(&r) != 250) {
		atomic_fetch_add(&lr->errors, 1);
		goto out;
	}
	static const char mail[] = "MAIL FROM:<lat@example.org>\r\n";
	static const char rcpt[] = "RCPT TO:<mox@localhost>\r\n";
	static const char data[] = "DATA\r\n";
	while (atomic_fetch_add(&lr->next, 1) < lr->total && now_s() < lr->deadline) {
		double t0 = now_s();
		if (!send_all(r.fd, mail, sizeof(mail) - 1) || reply(&r) != 250 ||
		    !send_all(r.fd, rcpt, sizeof(rcpt) - 1) || reply(&r) != 250 ||
		    !send_all(r.fd, data, sizeof(data) - 1) || reply(&r) != 354 ||
		    !send_all(r.fd, lr->msg, lr->msglen) || reply(&r) != 250) {
			atomic_fetch_add(&lr->errors, 1);
			goto out;
		}
		lr->lat[atomic_fetch_add(&lr->nlat, 1)] = now_s() - t0;
	}
	send_all(r.fd, "QUIT\r\n", 6);
	reply(&r);
out:
	if (r.fd >= 0)
		close(r.fd);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct result {
	bool ok;
	double rate;          /* smtp-source msg/s */
	double cpu_ms;        /* server CPU per message in the smtp-source run */
	double p50_ms, p99_ms, lat_rate;
	long hwm_kb;
	double disk_apparent, disk_alloc; /* bytes per message file */
	double stored;                    /* mean message file size */
	long files;
} result;

/* Run latency transactions; fills p50/p99. */
static bool
latency(int port, int level, int total, const char *msg, result *res)
{
	latrun lr = {.port = port, .msg = msg, .msglen = strlen(msg), .total = total,
	             .deadline = now_s() + CAP_SECONDS};
	lr.lat = calloc((size_t)total, sizeof(double));
	pthread_t th[64];
	int n = level < 64 ? level : 64;
	double t0 = now_s();
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, lat_thread, &lr);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	double el = now_s() - t0;
	int k = atomic_load(&lr.nlat);
	bool ok = k > 0 && atomic_load(&lr.errors) == 0;
	if (k > 0) {
		qsort(lr.lat, (size_t)k, sizeof(double), cmp_double);
		res->p50_ms = lr.lat[k / 2] * 1000;
		res->p99_ms = lr.lat[(size_t)((k - 1) * 0.99)] * 1000;
		res->lat_rate = k / el;
	}
	if (!ok)
		fprintf(stderr, "bench_smtp: latency client: %d done, %d errors\n", k,
		        atomic_load(&lr.errors));
	free(lr.lat);
	return ok;
}

/* ---- disk use ---- */

static long long du_apparent, du_alloc, du_msgbytes;
static long du_files;

static int
du_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F) {
		du_apparent += sb->st_size;
		du_alloc += (long long)sb->st_blocks * 512;
		if (strstr(path, "/msg/") != NULL) {
			du_files++;
			du_msgbytes += sb->st_size;
		}
	} else if (type == FTW_D) {
		du_alloc += (long long)sb->st_blocks * 512;
	}
	return 0;
}

static const char *
fs_name(const char *dir)
{
	struct statfs sf;
	if (statfs(dir, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext4/ext3";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (NOT a durable disk)";
	case 0x794c7630: return "overlayfs";
	default: return "other";
	}
}

/* ---- one level against one peer ---- */

static const char *source_bin = "/usr/sbin/smtp-source";
static const char *sink_bin = "/usr/sbin/smtp-sink";

static void
du(const char *dir)
{
	du_apparent = du_alloc = du_msgbytes = 0;
	du_files = 0;
	nftw(dir, du_one, 32, FTW_PHYS);
}

/* Returns smtp-source's exit status, -1 when it was over the time cap. */
static int
run_source(int port, int level, int n, const char *logpath, double *elapsed)
{
	char s[16], m[16], l[16], addr[32];
	snprintf(s, sizeof(s), "%d", level);
	snprintf(m, sizeof(m), "%d", n);
	snprintf(l, sizeof(l), "%d", PAYLOAD);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	char *argv[] = {(char *)source_bin, "-d", "-s", s, "-m", m, "-l", l,
	                "-f", "bench@example.org", "-t", "mox@localhost", "-M",
	                "client.example", addr, NULL};
	double t0 = now_s();
	pid_t pid = spawn(argv, logpath, NULL);
	if (pid < 0)
		return 1;
	int rc = wait_for(pid, CAP_SECONDS);
	*elapsed = now_s() - t0;
	if (rc != 0)
		fprintf(stderr, "bench_smtp: smtp-source exit %d%s (see %s)\n", rc,
		        rc < 0 ? " (over the time cap)" : "", logpath);
	return rc;
}

static char msgbuf[PAYLOAD + 1024];

static void
make_message(void)
{
	int o = snprintf(msgbuf, sizeof(msgbuf),
	                 "From: <lat@example.org>\r\nTo: <mox@localhost>\r\n"
	                 "Subject: latency\r\nMessage-Id: <lat@client.example>\r\n\r\n");
	for (int i = 0; o < (int)sizeof(msgbuf) - 100 && o < PAYLOAD + 100; i++)
		o += snprintf(msgbuf + o, sizeof(msgbuf) - (size_t)o,
		              "%d XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n",
		              i % 10);
	snprintf(msgbuf + o, sizeof(msgbuf) - (size_t)o, ".\r\n");
}

static bool
level_mox(const char *mox, const char *workdir, const char *resolver, int level, int n,
          int nlat, result *res)
{
	memset(res, 0, sizeof(*res));
	char data[4096], logpath[4200], cmd[8500];
	snprintf(data, sizeof(data), "%s/mox-c%d", workdir, level);
	snprintf(logpath, sizeof(logpath), "%s/mox-c%d.log", workdir, level);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", data, logpath);
	if (system(cmd) != 0)
		return false;
	int off = 0;
	for (int o = 20000 + (getpid() * 7) % 9000; o < 40000; o += 13) {
		if (port_free(1025 + o) && port_free(1587 + o) && port_free(1465 + o) &&
		    port_free(1143 + o) && port_free(1993 + o) && port_free(1080 + o)) {
			off = o;
			break;
		}
	}
	char offenv[64], resenv[80];
	snprintf(offenv, sizeof(offenv), "MOX_LOCALSERVE_PORT_OFFSET=%d", off);
	snprintf(resenv, sizeof(resenv), "MOX_RESOLVER=%s", resolver);
	/* UV_THREADPOOL_SIZE passes through, to measure its effect. */
	char tpenv[64] = "";
	const char *tp = getenv("UV_THREADPOOL_SIZE");
	if (tp != NULL && strlen(tp) < 16)
		snprintf(tpenv, sizeof(tpenv), "UV_THREADPOOL_SIZE=%s", tp);
	char *envp[] = {offenv, resenv, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	                tpenv[0] ? tpenv : NULL, NULL};
	char *argv[] = {(char *)mox, "localserve", "-dir", data, NULL};
	pid_t pid = spawn(argv, logpath, envp);
	if (pid < 0)
		return false;
	int port = 1025 + off;
	bool ok = wait_port(port, 30);
	if (!ok)
		fprintf(stderr, "bench_smtp: localserve did not listen (see %s)\n", logpath);
	result warm;
	if (ok)
		ok = latency(port, 1, WARMUP, msgbuf, &warm);
	char acct[4200];
	snprintf(acct, sizeof(acct), "%s/accounts/mox", data);
	double c0 = cpu_s(pid), el = 0;
	int src = ok ? run_source(port, level, n, logpath, &el) : 1;
	double c1 = cpu_s(pid);
	int done = n;
	if (src < 0) {
		/* Over the time cap: the rate of what got delivered. */
		du(acct);
		done = (int)du_files - WARMUP;
		fprintf(stderr, "bench_smtp: mox c%d: %d of %d delivered in %.0f s\n", level,
		        done, n, el);
	}
	ok = ok && src == 0;
	if (done > 0 && el > 0) {
		res->rate = done / el;
		res->cpu_ms = (c1 - c0) * 1000 / done;
	}
	if (ok)
		ok = latency(port, level, nlat, msgbuf, res);
	res->hwm_kb = hwm_kb(pid);
	stop(pid);
	du(acct);
	res->files = du_files;
	if (du_files > 0) {
		res->disk_apparent = (double)du_apparent / (double)du_files;
		res->disk_alloc = (double)du_alloc / (double)du_files;
		res->stored = (double)du_msgbytes / (double)du_files;
	}
	if (ok && du_files != WARMUP + n + nlat) {
		fprintf(stderr, "bench_smtp: %ld message files, expected %d\n", du_files,
		        WARMUP + n + nlat);
		ok = false;
	}
	res->ok = ok;
	return ok;
}

static bool
level_sink(const char *workdir, int level, int n, int nlat, result *res)
{
	memset(res, 0, sizeof(*res));
	char logpath[4200], addr[32];
	snprintf(logpath, sizeof(logpath), "%s/sink-c%d.log", workdir, level);
	unlink(logpath);
	int port = 0;
	for (int p = 41000 + (getpid() * 3) % 9000; p < 60000; p += 17)
		if (port_free(p)) {
			port = p;
			break;
		}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	/* smtp-sink refuses to run as root without -u. */
	char *argv[] = {(char *)sink_bin, addr, "1024", NULL, NULL, NULL};
	if (geteuid() == 0) {
		argv[1] = "-u";
		argv[2] = "nobody";
		argv[3] = addr;
		argv[4] = "1024";
	}
	pid_t pid = spawn(argv, logpath, NULL);
	if (pid < 0)
		return false;
	bool ok = wait_port(port, 10);
	double c0 = cpu_s(pid), el = 0;
	if (ok)
		ok = run_source(port, level, n, logpath, &el) == 0;
	double c1 = cpu_s(pid);
	if (ok) {
		res->rate = n / el;
		res->cpu_ms = (c1 - c0) * 1000 / n;
		ok = latency(port, level, nlat, msgbuf, res);
	}
	res->hwm_kb = hwm_kb(pid);
	stop(pid);
	res->ok = ok;
	return ok;
}

static int
env_int(const char *name, int def, int max)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return def;
	long x = strtol(v, NULL, 10);
	return x > 0 && x <= max ? (int)x : def;
}

int
main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : MOX_BENCH_TOP;
	int n = env_int("MOX_BENCH_SMTP_N", 5000, 100000);
	int nlat = env_int("MOX_BENCH_SMTP_L", 1000, 100000);
	signal(SIGPIPE, SIG_IGN);
	if (access(source_bin, X_OK) != 0 || access(sink_bin, X_OK) != 0) {
		fprintf(stderr, "bench_smtp: needs Postfix's smtp-source and smtp-sink (postfix)\n");
		return 1;
	}
	/* Work directory beside this executable: the build tree, on disk. */
	char self[4096], workdir[4200];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		return 1;
	self[sl] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(workdir, sizeof(workdir), "%s/bench_smtp-work", self);
	mkdir(workdir, 0755);
	make_message();

	char zone[4200], err[512];
	snprintf(zone, sizeof(zone), "%s/tests/dns/test.zone", top);
	mox_test_unbound u;
	memset(&u, 0, sizeof(u));
	const char *resolver = "127.0.0.1:9";
	bool have_unbound = mox_test_unbound_start(&u, zone, "mox.test.", err, sizeof(err)) == 0;
	if (have_unbound)
		resolver = u.addr;
	else
		fprintf(stderr, "bench_smtp: no unbound fixture (%s); MOX_RESOLVER=127.0.0.1:9\n", err);

	printf("SMTP delivery: smtp-source -d, %d messages of %d payload bytes per level"
	       " (about %zu bytes with headers), then %d latency transactions;\n"
	       "mox localserve with full durability (file fsync, dir fsync, SQLite commit),"
	       " data in %s (%s); MOX_RESOLVER=%s (%s).\n"
	       "peer: Postfix smtp-sink (accepts and discards: the protocol ceiling).\n",
	       n, PAYLOAD, strlen(msgbuf) - 3, nlat, workdir, fs_name(workdir), resolver,
	       have_unbound ? "unbound on loopback" : "closed port");
	printf("%-5s %9s %9s %6s | %13s %13s | %9s %9s | %7s %7s | %s\n", "conc", "mox/s",
	       "sink/s", "ratio", "mox p50/p99", "sink p50/p99", "mox cpu", "sink cpu",
	       "mox RSS", "sinkRSS",
	       "mox disk/msg: apparent, allocated (x sent; x stored file)");
	int rc = 0;
	int levels[] = {1, 10, 50};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		int lv = levels[i];
		result m, s;
		bool okm = level_mox(MOX_BENCH_MOX, workdir, resolver, lv, n, nlat, &m);
		bool oks = level_sink(workdir, lv, n, nlat, &s);
		if (!okm || !oks)
			rc = 1;
		printf("%-5d %9.0f %9.0f %6.2f | %5.2f/%5.2fms %5.2f/%5.2fms | %7.3fms %7.3fms |"
		       " %5.1fMB %5.1fMB | %.0f B, %.0f B (%.2fx, %.2fx; %.2fx, %.2fx)%s\n",
		       lv, m.rate, s.rate, s.rate > 0 ? m.rate / s.rate : 0, m.p50_ms, m.p99_ms,
		       s.p50_ms, s.p99_ms, m.cpu_ms, s.cpu_ms, m.hwm_kb / 1024.0, s.hwm_kb / 1024.0,
		       m.disk_apparent, m.disk_alloc, m.disk_apparent / (double)(strlen(msgbuf) - 3),
		       m.disk_alloc / (double)(strlen(msgbuf) - 3),
		       m.stored > 0 ? m.disk_apparent / m.stored : 0,
		       m.stored > 0 ? m.disk_alloc / m.stored : 0,
		       okm && oks ? "" : "  (FAILED: see stderr)");
		fflush(stdout);
	}
	printf("ratio = mox/sink msg/s; cpu = server CPU per message (utime+stime); RSS = VmHWM;"
	       " disk: account directory after a clean stop per message file, relative to the"
	       " message as sent and to the stored file (with the header fields the server"
	       " adds).\n");
	if (have_unbound)
		mox_test_unbound_stop(&u);
	if (rc == 0) {
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
