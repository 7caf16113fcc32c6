/* bench_imap: IMAP speed and memory of mox localserve next to Debian's
 * Dovecot, in the same run, with the same messages (issue #10, "Speed").
 *
 * How this works:
 * - Generates N messages of about 5 KB (CRLF, seeded, every 10th one has
 *   the word the "SEARCH TEXT hit" looks for) into a Maildir.
 * - Dovecot (/usr/sbin/dovecot) gets its own config in a temporary
 *   directory: loopback only, a passwd-file user, that Maildir as the
 *   user's mail. Login processes in Dovecot's "high-performance mode"
 *   (service_count = 0) so one process holds thousands of connections, as
 *   Dovecot's documentation advises for many clients; imap processes as
 *   shipped (one per logged-in connection).
 * - mox: `mox localserve` in a temporary directory (first start creates
 *   the account), stopped, `mox import maildir` of the same Maildir, and
 *   started again. If its IMAP listener is not there, mox's column says
 *   "not available".
 * - A small C client (blocking sockets, one buffered reader that skips
 *   literals without copying) times each command from sending it to the
 *   tagged OK, 3 times after one untimed warm-up pass, and reports the
 *   median, the client's own CPU time (to show it is not the bottleneck)
 *   and the server's CPU time (/proc/PID/stat; for Dovecot summed over
 *   its processes).
 * - Memory: each round starts the server afresh, makes one connection
 *   (so what is loaded once is in the baseline), then reads the server's
 *   RSS before and after holding C connections (greeting only; or LOGIN,
 *   SELECT INBOX and IDLE pipelined in one write, at most 16 connections
 *   in flight), divided by C. For Dovecot the RSS of all its processes is
 *   summed (PSS sum also shown, as RSS counts shared pages in every
 *   process). mox localserve's connection limits (1000) are raised with
 *   MOX_LOCALSERVE_LIMITS for the run.
 * Plain TCP on loopback (the bench measures the IMAP server, not TLS),
 * unless a server announces LOGINDISABLED: then STARTTLS, for both.
 *
 * Bounded: a watchdog ends the run (and the servers) after
 * MOX_BENCH_IMAP_TIMEOUT seconds (default 1800); a memory round stops
 * adding connections after MOX_BENCH_IMAP_ROUND_TIMEOUT (240) seconds and
 * reports the figure over the connections it holds, saying so; every
 * socket read times out after 120 s.
 *
 * Environment: MOX_BENCH_IMAP_MESSAGES (10000), MOX_BENCH_IMAP_CONNS
 * ("1000,5000"), MOX_BENCH_IMAP_SERVERS ("mox,dovecot"),
 * MOX_BENCH_IMAP_KEEP=1 keeps the work directory, MOX_BENCH_IMAP_TLS=1
 * uses STARTTLS even where plaintext LOGIN is allowed,
 * MOX_BENCH_IMAP_SKIP_OPS=1 measures memory only.
 * Usage: bench_imap [TOPDIR]   (./dev bench passes the source tree) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MOX_BENCH_MOX_BIN
#define MOX_BENCH_MOX_BIN "mox"
#endif

#define USER "mox@localhost"
#define PASS "moxmoxmox"
#define HITWORD "zebraquux"
#define MISSWORD "nowhereword"
#define REPS 3
#define LOGIN_REPS 20
#define READ_TIMEOUT_S 120
#define MAXCONNS_LIST 8

/* ---------------------------------------------------------------- util */

static char workdir[512];
static pid_t mox_pid = -1, dovecot_pid = -1;

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
self_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void
stop_pid(pid_t *pp)
{
	pid_t p = *pp;
	if (p <= 0)
		return;
	kill(p, SIGTERM);
	for (int k = 0; k < 150; k++) {
		if (waitpid(p, NULL, WNOHANG) == p) {
			*pp = -1;
			return;
		}
		usleep(100000);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	*pp = -1;
}

static void
stop_servers(void)
{
	stop_pid(&mox_pid);
	stop_pid(&dovecot_pid);
}

static void
cleanup(void)
{
	stop_servers();
	const char *keep = getenv("MOX_BENCH_IMAP_KEEP");
	if (workdir[0] != '\0' && (keep == NULL || strcmp(keep, "1") != 0)) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_imap: could not remove %s\n", workdir);
	}
}

static void
on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "bench_imap: time limit reached, stopping\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	if (mox_pid > 0)
		kill(mox_pid, SIGKILL);
	if (dovecot_pid > 0)
		kill(dovecot_pid, SIGTERM);
	_exit(3);
}

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_imap: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	cleanup();
	exit(1);
}

static bool
port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int
tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {.tv_sec = READ_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool
wait_port(int port, double secs)
{
	double end = now_ms() + secs * 1e3;
	while (now_ms() < end) {
		int fd = tcp_connect(port);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		usleep(50000);
	}
	return false;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("write %s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------- messages */

static const char *const words[] = {
    "alpha",  "bravo",   "charlie", "delta",   "echo",    "foxtrot", "golf",   "hotel",
    "india",  "juliett", "kilo",    "lima",    "mike",    "november", "oscar", "papa",
    "quebec", "romeo",   "sierra",  "tango",   "uniform", "victor",  "whiskey", "xray",
    "yankee", "zulu",    "meeting", "invoice", "report",  "lunch",   "project", "server",
    "mail",   "budget",  "review",  "weekly",  "status",  "update",  "release", "draft",
};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void
mkdir_or_die(const char *p)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", p, strerror(errno));
}

/* Writes n messages of about 5 KB (CRLF) into md/cur; every 10th one
 * carries HITWORD near its end. Returns the total bytes. */
static uint64_t
gen_maildir(const char *md, unsigned n, unsigned *hits_out)
{
	char path[1024];
	static const char *const subs[] = {"", "/cur", "/new", "/tmp"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s%s", md, subs[i]);
		mkdir_or_die(path);
	}
	size_t cap = 16384;
	char *m = malloc(cap);
	if (m == NULL)
		die("out of memory");
	uint64_t total = 0;
	unsigned hits = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t len = (size_t)snprintf(
		    m, cap,
		    "From: Sender %u <sender%u@example.org>\r\n"
		    "To: Mox <mox@localhost>\r\n"
		    "Subject: %s %s about %s %u\r\n"
		    "Date: Mon, 2 Mar 2026 %02u:%02u:%02u +0100\r\n"
		    "Message-ID: <bench%u@example.org>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=us-ascii\r\n"
		    "\r\n",
		    i % 97, i % 97, words[rnd() % 40], words[rnd() % 40], words[rnd() % 40], i,
		    i / 3600 % 24, i / 60 % 60, i % 60, i);
		/* Body: lines of words up to about 5 KB. */
		while (len < 4900) {
			size_t ll = 0;
			while (ll < 66) {
				const char *w = words[rnd() % 40];
				size_t wl = strlen(w);
				memcpy(m + len, w, wl);
				len += wl;
				ll += wl;
				m[len++] = ' ';
				ll++;
			}
			m[len - 1] = '\r';
			m[len++] = '\n';
		}
		if (i % 10 == 0) {
			len += (size_t)snprintf(m + len, cap - len, "see the %s notes\r\n", HITWORD);
			hits++;
		}
		len += (size_t)snprintf(m + len, cap - len, "-- \r\nsender %u\r\n", i % 97);
		const char *fl = i % 7 == 0 ? "FS" : i % 3 == 0 ? "S" : "";
		/* Some unflagged ones in new/, as a delivery leaves them. */
		if (fl[0] == '\0' && i % 4 == 1)
			snprintf(path, sizeof(path), "%s/new/%u.M%uP1.bench,S=%zu", md,
				 1700000000u + i, i, len);
		else
			snprintf(path, sizeof(path), "%s/cur/%u.M%uP1.bench,S=%zu:2,%s", md,
				 1700000000u + i, i, len, fl);
		write_file(path, m, len);
		total += len;
	}
	free(m);
	*hits_out = hits;
	return total;
}

/* ------------------------------------------------------------ client */

static SSL_CTX *sslctx;

typedef struct conn {
	int fd;
	SSL *ssl;
	char *buf;
	size_t cap, start, end;
	char *line; /* the current response line, literals left out */
	size_t linelen, linecap;
	unsigned tag;
} conn;

typedef struct result {
	bool ok;
	char status[64]; /* start of the tagged reply, for errors */
	uint64_t fetches, litbytes, searchhits;
	bool cont; /* got a "+" continuation */
} result;

static void
conn_close(conn *c, bool rst)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		if (rst) {
			/* No TIME_WAIT: thousands of connections per round. */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c->fd);
		c->fd = -1;
	}
	free(c->buf);
	free(c->line);
	c->buf = c->line = NULL;
	c->cap = c->start = c->end = c->linelen = c->linecap = 0;
}

static bool
conn_fill(conn *c)
{
	if (c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap) {
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		} else {
			size_t ncap = c->cap == 0 ? 4096 : c->cap < 262144 ? c->cap * 4 : c->cap * 2;
			char *nb = realloc(c->buf, ncap);
			if (nb == NULL)
				return false;
			c->buf = nb;
			c->cap = ncap;
		}
	}
	ssize_t n;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->buf + c->end, (int)(c->cap - c->end));
		n = r > 0 ? r : -1;
	} else {
		do
			n = read(c->fd, c->buf + c->end, c->cap - c->end);
		while (n < 0 && errno == EINTR);
	}
	if (n <= 0)
		return false;
	c->end += (size_t)n;
	return true;
}

static bool
conn_write(conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = write(c->fd, p, n);
		}
		if (w < 0 && errno == EINTR && c->ssl == NULL)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool
line_append(conn *c, const char *p, size_t n)
{
	if (c->linelen + n + 1 > c->linecap) {
		size_t ncap = c->linecap == 0 ? 1024 : c->linecap;
		while (ncap < c->linelen + n + 1)
			ncap *= 2;
		char *nl = realloc(c->line, ncap);
		if (nl == NULL)
			return false;
		c->line = nl;
		c->linecap = ncap;
	}
	memcpy(c->line + c->linelen, p, n);
	c->linelen += n;
	c->line[c->linelen] = '\0';
	return true;
}

/* Reads one whole response (RFC 9051 section 2.2.2) into c->line: the
 * text without CRLF, literal data skipped and counted into *litbytes. */
static bool
conn_response(conn *c, uint64_t *litbytes)
{
	c->linelen = 0;
	if (!line_append(c, "", 0))
		return false;
	for (;;) {
		char *nl = c->start < c->end ? memchr(c->buf + c->start, '\n', c->end - c->start) : NULL;
		if (nl == NULL) {
			if (!line_append(c, c->buf + c->start, c->end - c->start))
				return false;
			c->start = c->end;
			if (!conn_fill(c))
				return false;
			continue;
		}
		size_t n = (size_t)(nl - (c->buf + c->start));
		if (!line_append(c, c->buf + c->start, n))
			return false;
		c->start += n + 1;
		if (c->linelen > 0 && c->line[c->linelen - 1] == '\r')
			c->line[--c->linelen] = '\0';
		/* A literal announcement "{N}" at the end: skip N bytes. */
		if (c->linelen < 3 || c->line[c->linelen - 1] != '}')
			return true;
		size_t i = c->linelen - 1;
		while (i > 0 && c->line[i - 1] >= '0' && c->line[i - 1] <= '9')
			i--;
		if (i == 0 || c->line[i - 1] != '{' || i == c->linelen - 1)
			return true;
		uint64_t lit = strtoull(c->line + i, NULL, 10);
		*litbytes += lit;
		while (lit > 0) {
			if (c->start == c->end && !conn_fill(c))
				return false;
			size_t take = c->end - c->start;
			if (take > lit)
				take = (size_t)lit;
			c->start += take;
			lit -= take;
		}
	}
}

static bool
conn_send(conn *c, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 2)
		return false;
	memcpy(cmd + n, "\r\n", 2);
	return conn_write(c, cmd, (size_t)n + 2);
}

/* Reads responses up to the tagged one for tag (or a continuation). */
static void
conn_finish(conn *c, unsigned tag, result *r)
{
	char tagstr[16];
	int tl = snprintf(tagstr, sizeof(tagstr), "T%u ", tag);
	for (;;) {
		if (!conn_response(c, &r->litbytes)) {
			snprintf(r->status, sizeof(r->status), "connection lost");
			return;
		}
		const char *l = c->line;
		if (strncmp(l, tagstr, (size_t)tl) == 0) {
			r->ok = strncmp(l + tl, "OK", 2) == 0;
			snprintf(r->status, sizeof(r->status), "%s", l + tl);
			return;
		}
		if (l[0] == '+') {
			r->cont = true;
			r->ok = true;
			return;
		}
		if (l[0] == '*') {
			const char *sp = strchr(l + 2, ' ');
			if (sp != NULL && strncmp(sp, " FETCH ", 7) == 0)
				r->fetches++;
			else if (strncmp(l, "* SEARCH", 8) == 0) {
				for (const char *p = l + 8; *p != '\0'; p++)
					if (*p == ' ' && p[1] >= '0' && p[1] <= '9')
						r->searchhits++;
			}
		}
	}
}

static result
conn_cmd(conn *c, const char *fmt, ...)
{
	result r = {0};
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return r;
	unsigned tag = ++c->tag;
	if (!conn_send(c, "T%u %s", tag, cmd)) {
		snprintf(r.status, sizeof(r.status), "write failed");
		return r;
	}
	conn_finish(c, tag, &r);
	return r;
}

static bool use_tls; /* STARTTLS before LOGIN, for both servers */

/* Connects and reads the greeting. */
static bool
conn_open(conn *c, int port)
{
	memset(c, 0, sizeof(*c));
	c->fd = tcp_connect(port);
	if (c->fd < 0)
		return false;
	uint64_t lb = 0;
	if (!conn_response(c, &lb) || strncmp(c->line, "* OK", 4) != 0) {
		conn_close(c, true);
		return false;
	}
	return true;
}

static bool
conn_starttls(conn *c)
{
	result r = conn_cmd(c, "STARTTLS");
	if (!r.ok || c->start != c->end)
		return false;
	c->ssl = SSL_new(sslctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1)
		return false;
	return true;
}

static bool
conn_login(conn *c, int port)
{
	if (!conn_open(c, port))
		return false;
	if (use_tls && !conn_starttls(c))
		return false;
	return conn_cmd(c, "LOGIN \"%s\" \"%s\"", USER, PASS).ok;
}

/* --------------------------------------------------- server processes */

typedef struct server {
	const char *name;
	bool available;
	char why[1024];
	pid_t pid;
	int port;
	bool multiproc; /* Dovecot: sum over the master's children */
	double peak_rss_kib;
	/* To start it again: before each memory round, so memory a previous
	 * round left in the allocator does not hide the next one's. */
	pid_t *pidvar;
	char *argv[8];
	char **envp;
	char logpath[700];
	char argstore[4][700];
} server;

static long
proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long v = 0;
	size_t fl = strlen(field);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0) {
			v = strtol(line + fl, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long
proc_pss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	long v = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			v = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static double
proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* Fields after the name: state(3) ... utime(14) stime(15). */
	unsigned long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static pid_t
proc_ppid(pid_t pid)
{
	return (pid_t)proc_status_kib(pid, "PPid:");
}

typedef struct usage {
	double rss_kib, pss_kib, cpu_ms;
	unsigned nproc;
} usage;

/* The server's memory and CPU: for Dovecot, the master and its children. */
static usage
server_usage(server *s)
{
	usage u = {0};
	if (!s->multiproc) {
		u.rss_kib = (double)proc_status_kib(s->pid, "VmRSS:");
		u.pss_kib = (double)proc_pss_kib(s->pid);
		u.cpu_ms = proc_cpu_ms(s->pid);
		u.nproc = 1;
	} else {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			pid_t p = (pid_t)atoi(e->d_name);
			if (p != s->pid && proc_ppid(p) != s->pid)
				continue;
			u.rss_kib += (double)proc_status_kib(p, "VmRSS:");
			u.pss_kib += (double)proc_pss_kib(p);
			u.cpu_ms += proc_cpu_ms(p);
			u.nproc++;
		}
		if (d != NULL)
			closedir(d);
	}
	if (u.rss_kib > s->peak_rss_kib)
		s->peak_rss_kib = u.rss_kib;
	return u;
}

static pid_t
spawn(char *const argv[], const char *logpath, char *const envp[])
{
	pid_t p = fork();
	if (p < 0)
		die("fork: %s", strerror(errno));
	if (p == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nfd = open("/dev/null", O_RDONLY);
		if (nfd >= 0) {
			dup2(nfd, 0);
			close(nfd);
		}
		if (envp != NULL)
			execve(argv[0], argv, envp);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

static int
run_wait(char *const argv[], const char *logpath, char *const envp[])
{
	pid_t p = spawn(argv, logpath, envp);
	int st = 0;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char **
env_with(const char *a, const char *b, const char *c)
{
	extern char **environ;
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **e = calloc(n + 4, sizeof(*e));
	if (e == NULL)
		die("out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MOX_LOCALSERVE_PORT_OFFSET=", 27) != 0 &&
		    strncmp(environ[i], "MOX_RESOLVER=", 13) != 0 &&
		    strncmp(environ[i], "MOX_LOCALSERVE_LIMITS=", 22) != 0)
			e[k++] = environ[i];
	e[k++] = (char *)a;
	e[k++] = (char *)b;
	e[k++] = (char *)c;
	e[k] = NULL;
	return e;
}

static void
start_mox(server *s, const char *maildir, unsigned maxconns)
{
	s->name = "mox";
	char data[600], logp[600];
	snprintf(data, sizeof(data), "%s/mox", workdir);
	snprintf(logp, sizeof(logp), "%s/mox.log", workdir);
	int off = -1;
	for (int o = 22000 + (int)(getpid() % 4000); o < 45000; o += 17) {
		static const int base[] = {1025, 1587, 1465, 1143, 1993, 1080};
		bool ok = true;
		for (size_t i = 0; i < 6 && ok; i++)
			ok = port_free(base[i] + o);
		if (ok) {
			off = o;
			break;
		}
	}
	if (off < 0) {
		snprintf(s->why, sizeof(s->why), "no free ports");
		return;
	}
	/* Kept in s: the environment is used again for restarts. */
	snprintf(s->argstore[1], sizeof(s->argstore[1]), "MOX_LOCALSERVE_PORT_OFFSET=%d", off);
	/* localserve allows 1000 connections; the bench holds more. */
	snprintf(s->argstore[2], sizeof(s->argstore[2]),
		 "MOX_LOCALSERVE_LIMITS=conns=%u,conns_ip=%u,rate_ip=1000000", maxconns + 100,
		 maxconns + 100);
	char **env = env_with(s->argstore[1], "MOX_RESOLVER=127.0.0.1:9", s->argstore[2]);
	char *argv[] = {(char *)MOX_BENCH_MOX_BIN, (char *)"localserve", (char *)"-dir", data, NULL};
	/* First start creates the data directory and the account. */
	mox_pid = spawn(argv, logp, env);
	bool up = wait_port(1025 + off, 30);
	stop_servers();
	if (!up) {
		snprintf(s->why, sizeof(s->why), "localserve did not start (see %s)", logp);
		free(env);
		return;
	}
	char *imp[] = {(char *)MOX_BENCH_MOX_BIN, (char *)"import", (char *)"maildir",
		       (char *)"-datadir", data, (char *)"mox", (char *)"Inbox", (char *)maildir, NULL};
	double t0 = now_ms();
	int rc = run_wait(imp, logp, env);
	printf("mox import maildir: exit %d, %.1f s\n", rc, (now_ms() - t0) / 1e3);
	if (rc != 0) {
		snprintf(s->why, sizeof(s->why), "mox import failed (exit %d, see %s)", rc, logp);
		free(env);
		return;
	}
	mox_pid = spawn(argv, logp, env);
	s->pid = mox_pid;
	s->pidvar = &mox_pid;
	s->envp = env;
	snprintf(s->logpath, sizeof(s->logpath), "%s", logp);
	snprintf(s->argstore[0], sizeof(s->argstore[0]), "%s", data);
	s->argv[0] = argv[0];
	s->argv[1] = argv[1];
	s->argv[2] = argv[2];
	s->argv[3] = s->argstore[0];
	s->argv[4] = NULL;
	s->port = 1143 + off;
	if (!wait_port(1025 + off, 30) || !wait_port(s->port, 5)) {
		snprintf(s->why, sizeof(s->why), "no IMAP listener on 127.0.0.1:%d", s->port);
		stop_servers();
		return;
	}
	s->available = true;
}

static void
start_dovecot(server *s, const char *home, unsigned maxconns)
{
	s->name = "dovecot";
	s->multiproc = true;
	if (access("/usr/sbin/dovecot", X_OK) != 0) {
		snprintf(s->why, sizeof(s->why), "/usr/sbin/dovecot not installed (dovecot-imapd)");
		return;
	}
	char d[600], path[700], conf[8192];
	snprintf(d, sizeof(d), "%s/dovecot", workdir);
	mkdir_or_die(d);
	snprintf(path, sizeof(path), "%s/run", d);
	mkdir_or_die(path);
	snprintf(path, sizeof(path), "%s/state", d);
	mkdir_or_die(path);
	uid_t uid = getuid();
	gid_t gid = getgid();
	const char *internal, *login;
	struct passwd *pw;
	if (uid == 0) {
		/* Dovecot runs no mail process as root: use its own users. */
		pw = getpwnam("dovecot");
		if (pw == NULL) {
			snprintf(s->why, sizeof(s->why), "no user dovecot");
			return;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		internal = "dovecot";
		login = "dovenull";
		char cmd[1400];
		snprintf(cmd, sizeof(cmd), "chown -R %u:%u '%s'", (unsigned)uid, (unsigned)gid, home);
		if (system(cmd) != 0)
			die("chown failed");
		chmod(workdir, 0755);
	} else {
		pw = getpwuid(uid);
		internal = login = pw != NULL ? pw->pw_name : "nobody";
	}
	/* A certificate, for STARTTLS when mox needs it (both get the same). */
	char cmd[2200];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=localhost -keyout '%s/key.pem' -out '%s/cert.pem' "
		 ">/dev/null 2>&1",
		 d, d);
	if (system(cmd) != 0) {
		snprintf(s->why, sizeof(s->why), "openssl req failed");
		return;
	}
	char passwd[700];
	snprintf(passwd, sizeof(passwd), "%s/passwd", d);
	char pwline[1024];
	int pl = snprintf(pwline, sizeof(pwline), "%s:{PLAIN}%s:%u:%u::%s::\n", USER, PASS,
			  (unsigned)uid, (unsigned)gid, home);
	write_file(passwd, pwline, (size_t)pl);
	chmod(passwd, 0644);
	int port = -1;
	for (int p = 33000 + (int)(getpid() % 4000); p < 50000; p += 13)
		if (port_free(p)) {
			port = p;
			break;
		}
	unsigned lim = maxconns + 100;
	int cl = snprintf(
	    conf, sizeof(conf),
	    "base_dir = %s/run\n"
	    "state_dir = %s/state\n"
	    "log_path = %s/dovecot.log\n"
	    "protocols = imap\n"
	    "listen = 127.0.0.1\n"
	    "ssl = yes\n"
	    "ssl_cert = <%s/cert.pem\n"
	    "ssl_key = <%s/key.pem\n"
	    "default_internal_user = %s\n"
	    "default_login_user = %s\n"
	    "first_valid_uid = %u\n"
	    "disable_plaintext_auth = no\n"
	    "auth_mechanisms = plain login\n"
	    "mail_location = maildir:~\n"
	    "mail_max_userip_connections = %u\n"
	    "default_process_limit = %u\n"
	    "default_client_limit = %u\n"
	    "login_log_format_elements = user=<%%u>\n"
	    "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s\n}\n"
	    "userdb {\n  driver = passwd-file\n  args = username_format=%%u %s\n}\n"
	    "service imap-login {\n  chroot =\n  service_count = 0\n  process_min_avail = 1\n"
	    "  process_limit = 2\n  client_limit = %u\n"
	    "  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }\n"
	    "  inet_listener imaps {\n    port = 0\n  }\n}\n"
	    "service imap {\n  process_limit = %u\n}\n",
	    d, d, d, d, d, internal, login, (unsigned)(uid < 100 ? uid : 100), lim, lim, lim * 2 + 100,
	    passwd, passwd, lim, port, lim);
	snprintf(path, sizeof(path), "%s/dovecot.conf", d);
	write_file(path, conf, (size_t)cl);
	char logp[700];
	snprintf(logp, sizeof(logp), "%s/stdout.log", d);
	char *argv[] = {(char *)"/usr/sbin/dovecot", (char *)"-F", (char *)"-c", path, NULL};
	dovecot_pid = spawn(argv, logp, NULL);
	s->pid = dovecot_pid;
	s->pidvar = &dovecot_pid;
	snprintf(s->logpath, sizeof(s->logpath), "%s", logp);
	snprintf(s->argstore[0], sizeof(s->argstore[0]), "%s", path);
	s->argv[0] = argv[0];
	s->argv[1] = argv[1];
	s->argv[2] = argv[2];
	s->argv[3] = s->argstore[0];
	s->argv[4] = NULL;
	s->port = port;
	if (!wait_port(port, 30)) {
		snprintf(s->why, sizeof(s->why), "dovecot did not start (see %s)", logp);
		return;
	}
	s->available = true;
}

static bool
server_restart(server *s)
{
	stop_pid(s->pidvar);
	*s->pidvar = spawn(s->argv, s->logpath, s->envp);
	s->pid = *s->pidvar;
	return wait_port(s->port, 30);
}

/* ---------------------------------------------------------- measuring */

enum {
	M_LOGIN1,
	M_LOGIN,
	M_SELECT,
	M_ENVELOPE,
	M_BODY,
	M_SEARCHHIT,
	M_SEARCHMISS,
	M_STOREADD,
	M_STOREDEL,
	M_NOPS
};

static const char *const op_names[M_NOPS] = {
    "LOGIN, first (ms)",
    "LOGIN, repeated, median (ms)",
    "SELECT INBOX (ms)",
    "UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE) (msg/s)",
    "FETCH 1:* BODY.PEEK[] (msg/s)",
    "SEARCH TEXT hit (msg/s)",
    "SEARCH TEXT miss (msg/s)",
    "STORE 1:* +FLAGS (msg/s)",
    "STORE 1:* -FLAGS (msg/s)",
};

typedef struct measure {
	bool done;
	double wall_ms, client_ms, server_ms; /* median run */
	double value;                          /* ms or msg/s as named */
	double mib_s;
	char err[128];
} measure;

#define MAXC MAXCONNS_LIST
typedef struct memres {
	bool done;
	unsigned held; /* connections that got as far as asked */
	double kib_per_conn, pss_kib_per_conn;
	double setup_s;
	char err[192];
} memres;

typedef struct results {
	measure m[M_NOPS];
	memres idle[MAXC], authidle[MAXC];
	double peak_rss_mib;
	char transport[32];
} results;

static unsigned nmsg, nhits, round_timeout_s;
static uint64_t total_bytes;
static unsigned conns_list[MAXC];
static size_t nconns;

/* One timed command on an open, selected connection. */
typedef struct sample {
	double wall, client, server;
	result r;
} sample;

static sample
timed(server *s, conn *c, const char *cmd)
{
	sample sm;
	double sc0 = server_usage(s).cpu_ms, cc0 = self_cpu_ms(), t0 = now_ms();
	sm.r = conn_cmd(c, "%s", cmd);
	sm.wall = now_ms() - t0;
	sm.client = self_cpu_ms() - cc0;
	sm.server = server_usage(s).cpu_ms - sc0;
	if (sm.server < 0) /* a Dovecot process ended in between */
		sm.server = 0;
	return sm;
}

static void
record(measure *m, sample *sm, size_t n, bool rate)
{
	/* Median by wall time. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (sm[j].wall < sm[i].wall) {
				sample t = sm[i];
				sm[i] = sm[j];
				sm[j] = t;
			}
	sample *md = &sm[n / 2];
	m->done = true;
	m->wall_ms = md->wall;
	m->client_ms = md->client;
	m->server_ms = md->server;
	m->value = rate ? (double)nmsg / (md->wall / 1e3) : md->wall;
	if (md->r.litbytes > 0)
		m->mib_s = (double)md->r.litbytes / 1048576.0 / (md->wall / 1e3);
}

static void
run_ops(server *s, results *res)
{
	conn c;
	/* LOGIN: the first one (a slow password hash on mox), then repeats. */
	if (!conn_open(&c, s->port)) {
		snprintf(res->m[M_LOGIN1].err, sizeof(res->m[0].err), "connect failed");
		return;
	}
	if (use_tls && !conn_starttls(&c)) {
		snprintf(res->m[M_LOGIN1].err, sizeof(res->m[0].err), "STARTTLS failed");
		conn_close(&c, true);
		return;
	}
	sample one = timed(s, &c, "LOGIN \"" USER "\" \"" PASS "\"");
	if (!one.r.ok) {
		snprintf(res->m[M_LOGIN1].err, sizeof(res->m[0].err), "LOGIN: %s", one.r.status);
		conn_close(&c, true);
		return;
	}
	record(&res->m[M_LOGIN1], &one, 1, false);
	conn_cmd(&c, "LOGOUT");
	conn_close(&c, false);
	sample ls[LOGIN_REPS];
	size_t nl = 0;
	for (size_t i = 0; i < LOGIN_REPS; i++) {
		if (!conn_open(&c, s->port) || (use_tls && !conn_starttls(&c)))
			break;
		ls[nl] = timed(s, &c, "LOGIN \"" USER "\" \"" PASS "\"");
		if (ls[nl].r.ok)
			nl++;
		conn_cmd(&c, "LOGOUT");
		conn_close(&c, false);
	}
	if (nl > 0)
		record(&res->m[M_LOGIN], ls, nl, false);

	if (!conn_login(&c, s->port)) {
		snprintf(res->m[M_SELECT].err, sizeof(res->m[0].err), "login failed");
		conn_close(&c, true);
		return;
	}
	static const struct {
		int op;
		const char *cmd;
		bool rate;
	} ops[] = {
	    {M_SELECT, "SELECT INBOX", false},
	    {M_ENVELOPE, "UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)", true},
	    {M_BODY, "FETCH 1:* BODY.PEEK[]", true},
	    {M_SEARCHHIT, "SEARCH TEXT " HITWORD, true},
	    {M_SEARCHMISS, "SEARCH TEXT " MISSWORD, true},
	    {M_STOREADD, "STORE 1:* +FLAGS (\\Flagged)", true},
	    {M_STOREDEL, "STORE 1:* -FLAGS (\\Flagged)", true},
	};
	size_t nops = sizeof(ops) / sizeof(ops[0]);
	sample sm[M_NOPS][REPS + 1];
	/* Round 0 is the untimed warm-up (Dovecot builds its index and cache,
	 * both get the files into the page cache); rounds 1..REPS count. */
	for (size_t round = 0; round <= REPS; round++) {
		for (size_t i = 0; i < nops; i++) {
			sample x = timed(s, &c, ops[i].cmd);
			measure *m = &res->m[ops[i].op];
			if (!x.r.ok && m->err[0] == '\0')
				snprintf(m->err, sizeof(m->err), "%s", x.r.status);
			/* Check what came back, so a fast wrong answer is no result. */
			const char *bad = NULL;
			if (ops[i].op == M_ENVELOPE && x.r.fetches != nmsg)
				bad = "wrong number of FETCH responses";
			if (ops[i].op == M_BODY && (x.r.fetches != nmsg || x.r.litbytes != total_bytes))
				bad = "wrong number of messages or bytes";
			if (ops[i].op == M_SEARCHHIT && x.r.searchhits != nhits)
				bad = "wrong number of hits";
			if (ops[i].op == M_SEARCHMISS && x.r.searchhits != 0)
				bad = "hits for a word in no message";
			if (bad != NULL && x.r.ok && m->err[0] == '\0')
				snprintf(m->err, sizeof(m->err), "%s (fetches %llu, bytes %llu, hits %llu)",
					 bad, (unsigned long long)x.r.fetches,
					 (unsigned long long)x.r.litbytes,
					 (unsigned long long)x.r.searchhits);
			sm[ops[i].op][round] = x;
			if (x.r.status[0] == 'c' || x.r.status[0] == 'w') /* connection lost */
				goto out;
		}
	}
	for (size_t i = 0; i < nops; i++) {
		measure *m = &res->m[ops[i].op];
		if (m->err[0] == '\0')
			record(m, &sm[ops[i].op][1], REPS, ops[i].rate);
	}
out:
	conn_cmd(&c, "LOGOUT");
	conn_close(&c, false);
}

static void
settle(void)
{
	usleep(1500000);
}

/* Memory per connection: greeting only (auth false) or logged in, INBOX
 * selected, in IDLE (auth true). */
static void
run_mem(server *s, unsigned n, bool auth, memres *mr)
{
	if (!server_restart(s)) {
		snprintf(mr->err, sizeof(mr->err), "restart failed");
		return;
	}
	/* One connection first, so what the server loads once (the account,
	 * the mailbox) is in the baseline, not in the per-connection cost. */
	conn w;
	if (auth ? conn_login(&w, s->port) : conn_open(&w, s->port)) {
		if (auth)
			conn_cmd(&w, "SELECT INBOX");
		conn_cmd(&w, "LOGOUT");
	}
	conn_close(&w, false);
	settle();
	usage u0 = server_usage(s);
	conn *cs = calloc(n, sizeof(*cs));
	if (cs == NULL)
		die("out of memory");
	unsigned opened = 0, held = 0;
	double t0 = now_ms(), deadline = t0 + round_timeout_s * 1e3;
	const char *err = NULL;
	char errbuf[160];
	for (; opened < n && err == NULL; opened++) {
		if (now_ms() > deadline) {
			err = "round time limit";
			break;
		}
		if (!conn_open(&cs[opened], s->port)) {
			err = "connect or greeting failed";
			break;
		}
		if (auth && use_tls && !conn_starttls(&cs[opened]))
			err = "STARTTLS failed";
	}
	if (!auth)
		held = err == NULL ? opened : opened - (opened > 0);
	if (auth) {
		/* Each connection gets LOGIN, SELECT and IDLE in one write
		 * (pipelined, RFC 9051 section 5.5), at most WINDOW connections in
		 * flight: a burst of thousands of logins at once makes Dovecot's
		 * login processes time out waiting for new imap processes. */
		enum { WINDOW = 16 };
		unsigned sent = 0, done = 0;
		while (done < opened) {
			while (sent < opened && sent - done < WINDOW && err == NULL) {
				if (now_ms() > deadline) {
					err = "round time limit";
					break;
				}
				conn *c = &cs[sent];
				if (!conn_send(c, "T1 LOGIN \"" USER "\" \"" PASS "\"\r\n"
						  "T2 SELECT INBOX\r\nT3 IDLE")) {
					err = "write failed";
					break;
				}
				c->tag = 3;
				sent++;
			}
			if (done == sent)
				break;
			conn *c = &cs[done];
			bool ok = true;
			for (unsigned t = 1; t <= 3 && ok; t++) {
				result r = {0};
				conn_finish(c, t, &r);
				ok = r.ok && (t < 3 || r.cont);
				if (!ok && err == NULL) {
					snprintf(errbuf, sizeof(errbuf), "%s on connection %u: %.60s",
						 t == 1 ? "LOGIN" : t == 2 ? "SELECT" : "IDLE", done + 1,
						 r.status);
					err = errbuf;
				}
			}
			held += ok;
			done++;
		}
	}
	mr->setup_s = (now_ms() - t0) / 1e3;
	mr->held = held;
	if (err != NULL)
		snprintf(mr->err, sizeof(mr->err), "%s", err);
	/* A figure over the connections held, if there are enough of them. */
	if (held > 0 && held >= n / 10) {
		settle();
		usage u1 = server_usage(s);
		mr->done = true;
		mr->kib_per_conn = (u1.rss_kib - u0.rss_kib) / held;
		mr->pss_kib_per_conn = (u1.pss_kib - u0.pss_kib) / held;
	}
	for (unsigned i = 0; i < opened; i++)
		conn_close(&cs[i], true);
	free(cs);
}

static void
bench_server(server *s, results *res)
{
	if (!s->available)
		return;
	snprintf(res->transport, sizeof(res->transport), "%s", use_tls ? "STARTTLS" : "plain TCP");
	const char *skip = getenv("MOX_BENCH_IMAP_SKIP_OPS"); /* for working on the memory part */
	if (skip == NULL || strcmp(skip, "1") != 0) {
		printf("-- %s: operations\n", s->name);
		run_ops(s, res);
	}
	for (size_t i = 0; i < nconns; i++) {
		printf("-- %s: %u connections\n", s->name, conns_list[i]);
		fflush(stdout);
		run_mem(s, conns_list[i], false, &res->idle[i]);
		run_mem(s, conns_list[i], true, &res->authidle[i]);
	}
	res->peak_rss_mib = s->peak_rss_kib / 1024.0;
}

/* -------------------------------------------------------------- output */

static void
cell(char *out, size_t n, bool avail, bool done, const char *err, double v, int prec)
{
	if (!avail)
		snprintf(out, n, "not available");
	else if (!done)
		snprintf(out, n, "error: %.60s", err[0] ? err : "not measured");
	else
		snprintf(out, n, "%.*f", prec, v);
}

/* Ratio as "mox advantage": above 1 means mox is better. */
static void
ratio(char *out, size_t n, bool ok, double mox, double dc, bool higher_better)
{
	if (!ok || mox <= 0 || dc <= 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.2fx", higher_better ? mox / dc : dc / mox);
}

static void
print_results(server *sv, results *rs)
{
	char a[96], b[96], r[32];
	printf("\nIMAP, %u messages, %.1f MiB in INBOX; transport: mox %s, dovecot %s\n", nmsg,
	       (double)total_bytes / 1048576.0, sv[0].available ? rs[0].transport : "-",
	       sv[1].available ? rs[1].transport : "-");
	printf("%-52s %16s %16s %10s\n", "operation", "mox", "dovecot", "mox adv.");
	for (int i = 0; i < M_NOPS; i++) {
		measure *x = &rs[0].m[i], *y = &rs[1].m[i];
		bool rate = i >= M_ENVELOPE;
		cell(a, sizeof(a), sv[0].available, x->done, x->err, x->value, rate ? 0 : 2);
		cell(b, sizeof(b), sv[1].available, y->done, y->err, y->value, rate ? 0 : 2);
		ratio(r, sizeof(r), x->done && y->done, x->value, y->value, rate);
		printf("%-52s %16s %16s %10s\n", op_names[i], a, b, r);
		if (i == M_BODY) {
			cell(a, sizeof(a), sv[0].available, x->done, x->err, x->mib_s, 1);
			cell(b, sizeof(b), sv[1].available, y->done, y->err, y->mib_s, 1);
			ratio(r, sizeof(r), x->done && y->done, x->mib_s, y->mib_s, true);
			printf("%-52s %16s %16s %10s\n", "  ... body bytes (MiB/s)", a, b, r);
		}
	}
	for (size_t k = 0; k < nconns; k++) {
		for (int auth = 0; auth < 2; auth++) {
			memres *x = auth ? &rs[0].authidle[k] : &rs[0].idle[k];
			memres *y = auth ? &rs[1].authidle[k] : &rs[1].idle[k];
			char name[96];
			snprintf(name, sizeof(name), "%s, %u conns (KiB/conn)",
				 auth ? "auth IDLE, INBOX selected" : "idle, greeting only", conns_list[k]);
			cell(a, sizeof(a), sv[0].available, x->done, x->err, x->kib_per_conn, 1);
			cell(b, sizeof(b), sv[1].available, y->done, y->err, y->kib_per_conn, 1);
			if (x->done && x->held < conns_list[k])
				strcat(a, "*");
			if (y->done && y->held < conns_list[k])
				strcat(b, "*");
			ratio(r, sizeof(r), x->done && y->done, x->kib_per_conn, y->kib_per_conn, false);
			printf("%-52s %16s %16s %10s\n", name, a, b, r);
			cell(a, sizeof(a), sv[0].available, x->done, x->err, x->pss_kib_per_conn, 1);
			cell(b, sizeof(b), sv[1].available, y->done, y->err, y->pss_kib_per_conn, 1);
			ratio(r, sizeof(r), x->done && y->done, x->pss_kib_per_conn, y->pss_kib_per_conn,
			      false);
			printf("%-52s %16s %16s %10s\n", "  ... PSS (KiB/conn)", a, b, r);
		}
	}
	cell(a, sizeof(a), sv[0].available, true, "", rs[0].peak_rss_mib, 1);
	cell(b, sizeof(b), sv[1].available, true, "", rs[1].peak_rss_mib, 1);
	printf("%-52s %16s %16s\n", "peak server RSS seen (MiB; dovecot: sum)", a, b);

	printf("\nCPU per operation (median run): wall / client CPU / server CPU, ms\n"
	       "(server CPU in clock ticks from /proc; Dovecot's misses processes that ended)\n");
	for (int i = 0; i < M_NOPS; i++) {
		printf("%-52s", op_names[i]);
		for (int k = 0; k < 2; k++) {
			measure *x = &rs[k].m[i];
			if (x->done)
				snprintf(a, sizeof(a), "%.1f/%.1f/%.1f", x->wall_ms, x->client_ms,
					 x->server_ms);
			else
				snprintf(a, sizeof(a), "-");
			printf(" %22s", a);
		}
		printf("\n");
	}
	for (size_t k = 0; k < nconns; k++)
		printf("setup of %u connections (s): mox idle %.1f auth %.1f, dovecot idle %.1f auth "
		       "%.1f\n",
		       conns_list[k], rs[0].idle[k].setup_s, rs[0].authidle[k].setup_s,
		       rs[1].idle[k].setup_s, rs[1].authidle[k].setup_s);
	for (size_t k = 0; k < nconns; k++)
		for (int sk = 0; sk < 2; sk++)
			for (int auth = 0; auth < 2; auth++) {
				memres *x = auth ? &rs[sk].authidle[k] : &rs[sk].idle[k];
				if (sv[sk].available && x->err[0] != '\0')
					printf("%s%s, %s, %u connections: %u held; %s\n",
					       x->done ? "*" : "", sv[sk].name,
					       auth ? "auth IDLE" : "greeting only", conns_list[k],
					       x->held, x->err);
			}
	for (int k = 0; k < 2; k++)
		if (!sv[k].available)
			printf("%s: not available: %s\n", k == 0 ? "mox" : "dovecot", sv[k].why);
}

/* ---------------------------------------------------------------- main */

static unsigned
env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return def;
	unsigned long x = strtoul(v, NULL, 10);
	return x > 0 && x < 1000000 ? (unsigned)x : def;
}

/* Checks capability for LOGINDISABLED on a plain connection. */
static bool
needs_tls(server *s)
{
	conn c;
	if (!conn_open(&c, s->port))
		return false;
	c.tag++;
	bool need = strstr(c.line, "LOGINDISABLED") != NULL; /* the greeting */
	if (conn_send(&c, "T%u CAPABILITY", c.tag)) {
		uint64_t lb = 0;
		while (conn_response(&c, &lb)) {
			if (strstr(c.line, "LOGINDISABLED") != NULL)
				need = true;
			if (c.line[0] == 'T')
				break;
		}
	}
	conn_cmd(&c, "LOGOUT");
	conn_close(&c, false);
	return need;
}

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	nmsg = env_uint("MOX_BENCH_IMAP_MESSAGES", 10000);
	unsigned limit_s = env_uint("MOX_BENCH_IMAP_TIMEOUT", 1800);
	round_timeout_s = env_uint("MOX_BENCH_IMAP_ROUND_TIMEOUT", 240);
	const char *cl = getenv("MOX_BENCH_IMAP_CONNS");
	if (cl == NULL || *cl == '\0')
		cl = "1000,5000";
	unsigned maxconns = 0;
	for (const char *p = cl; *p != '\0' && nconns < MAXC;) {
		unsigned long v = strtoul(p, (char **)&p, 10);
		if (v > 0 && v <= 100000) {
			conns_list[nconns++] = (unsigned)v;
			if (v > maxconns)
				maxconns = (unsigned)v;
		}
		while (*p == ',' || *p == ' ')
			p++;
		if (*p != '\0' && (*p < '0' || *p > '9'))
			break;
	}
	const char *servers = getenv("MOX_BENCH_IMAP_SERVERS");
	if (servers == NULL || *servers == '\0')
		servers = "mox,dovecot";

	/* Client and servers (inherited) need a descriptor per connection. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)maxconns + 100)
			fprintf(stderr, "bench_imap: RLIMIT_NOFILE %llu is low for %u connections\n",
				(unsigned long long)rl.rlim_cur, maxconns);
	}
	signal(SIGALRM, on_alarm);
	alarm(limit_s);

	snprintf(workdir, sizeof(workdir), "%s/mox-bench-imap-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	chmod(workdir, 0755);
	sslctx = SSL_CTX_new(TLS_client_method());
	if (sslctx == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_NONE, NULL);

	char home[600];
	snprintf(home, sizeof(home), "%s/home", workdir);
	double t0 = now_ms();
	total_bytes = gen_maildir(home, nmsg, &nhits);
	printf("generated %u messages, %.1f MiB, in %.1f s (%u contain the search word)\n", nmsg,
	       (double)total_bytes / 1048576.0, (now_ms() - t0) / 1e3, nhits);

	server sv[2];
	memset(sv, 0, sizeof(sv));
	sv[0].name = "mox";
	sv[1].name = "dovecot";
	snprintf(sv[0].why, sizeof(sv[0].why), "not selected");
	snprintf(sv[1].why, sizeof(sv[1].why), "not selected");
	if (strstr(servers, "mox") != NULL) {
		sv[0].why[0] = '\0';
		start_mox(&sv[0], home, maxconns);
	}
	if (strstr(servers, "dovecot") != NULL) {
		sv[1].why[0] = '\0';
		start_dovecot(&sv[1], home, maxconns);
	}
	const char *forcetls = getenv("MOX_BENCH_IMAP_TLS");
	use_tls = forcetls != NULL && strcmp(forcetls, "1") == 0;
	for (int k = 0; k < 2; k++)
		if (sv[k].available && needs_tls(&sv[k]))
			use_tls = true;

	results rs[2];
	memset(rs, 0, sizeof(rs));
	for (int k = 0; k < 2; k++)
		bench_server(&sv[k], &rs[k]);
	print_results(sv, rs);
	SSL_CTX_free(sslctx);
	cleanup();
	free(sv[0].envp);
	return 0;
}
