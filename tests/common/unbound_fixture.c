/* unbound on loopback for integration tests; see unbound_fixture.h.
 *
 * How this works: start() finds the unbound binary, makes a temporary
 * directory, optionally signs the zone there, picks two free loopback
 * ports (one for unbound, one left closed as the "dead" server that stub
 * zones point at), writes unbound.conf and runs `unbound -d -c conf` as a
 * child. It then polls with a TCP query for the zone's SOA until unbound
 * answers NOERROR, the child exits (a port taken between our pick and its
 * bind: we try again with new ports, 3 times) or 10 seconds pass.
 *
 * Traffic stays on loopback: unbound's only upstream is the stub for "."
 * at the dead port (no root hints are used when "." has a stub), its
 * outgoing-interface is 127.0.0.1 (a socket bound there cannot reach any
 * other network), and do-ip6 is off.
 */
#include "unbound_fixture.h"

#include <ldns/ldns.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define START_ATTEMPTS 3
#define READY_WAIT_MS 10000
#define STOP_WAIT_MS 5000

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if (errbuf == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Find an executable in PATH, then in the sbin directories that PATH of
 * an ordinary user lacks. */
static bool
find_exe(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin:/sbin:/usr/bin",
	         path != NULL ? path : "");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		if (d[0] == '\0')
			continue;
		int n = snprintf(out, outlen, "%s/%s", d, name);
		if (n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/* A port on 127.0.0.1 free for both UDP and TCP right now (bind to 0,
 * read the port, bind TCP to it, close both), different from avoid. */
static uint16_t
free_port(uint16_t avoid)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		uint16_t port = 0;
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa;
		socklen_t salen = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (u >= 0 && t >= 0 &&
		    bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(u, (struct sockaddr *)&sa, &salen) == 0 &&
		    bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			port = ntohs(sa.sin_port);
		if (u >= 0)
			close(u);
		if (t >= 0)
			close(t);
		if (port != 0 && port != avoid)
			return port;
	}
	return 0;
}

/* Run argv[0] (a full path) in cwd, stdout and stderr into out. Returns
 * the exit status, or -1 if it could not run or was killed. */
static int
run_capture(char *const argv[], const char *cwd, char *out, size_t outlen)
{
	int fds[2];
	if (outlen > 0)
		out[0] = '\0';
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		if (chdir(cwd) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	for (;;) {
		char buf[512];
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (len + 1 < outlen)
				out[len++] = buf[i];
	}
	if (outlen > 0)
		out[len] = '\0';
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last bytes of a file, one line, into out. */
static void
read_tail(const char *path, char *out, size_t outlen)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		long want = (long)outlen - 1;
		if (size > want)
			fseek(f, size - want, SEEK_SET);
		else
			fseek(f, 0, SEEK_SET);
	}
	size_t n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n' || out[i] == '\r')
			out[i] = ' ';
}

static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char p[PATH_MAX];
			if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) <
			    (int)sizeof(p))
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Whether unbound on 127.0.0.1:port answers the origin's SOA with
 * NOERROR and a record (over TCP: a signed SOA answer is over 512). */
static bool
answers(uint16_t port, const char *origin)
{
	bool ok = false;
	ldns_resolver *r = ldns_resolver_new();
	ldns_rdf *ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
	ldns_rdf *qd = ldns_dname_new_frm_str(origin);
	ldns_pkt *q = NULL, *resp = NULL;
	if (r == NULL || ns == NULL || qd == NULL ||
	    ldns_resolver_push_nameserver(r, ns) != LDNS_STATUS_OK)
		goto out;
	ldns_resolver_set_port(r, port);
	ldns_resolver_set_retry(r, 1);
	ldns_resolver_set_retrans(r, 0);
	ldns_resolver_set_random(r, false);
	ldns_resolver_set_usevc(r, true);
	ldns_resolver_set_timeout(r, (struct timeval){.tv_sec = 0, .tv_usec = 500000});
	q = ldns_pkt_query_new(qd, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_RD);
	if (q == NULL)
		goto out;
	qd = NULL;
	ldns_pkt_set_id(q, 4242);
	if (ldns_send(&resp, r, q) == LDNS_STATUS_OK && resp != NULL &&
	    ldns_pkt_get_rcode(resp) == LDNS_RCODE_NOERROR &&
	    ldns_pkt_ancount(resp) > 0)
		ok = true;
out:
	ldns_pkt_free(resp);
	ldns_pkt_free(q);
	ldns_rdf_deep_free(qd);
	ldns_rdf_deep_free(ns);
	if (r != NULL)
		ldns_resolver_deep_free(r);
	return ok;
}

/* Text that goes between quotes in unbound.conf. */
static bool
conf_safe(const char *s)
{
	return strpbrk(s, "\"\n\r") == NULL;
}

/* Sign zonefile into dir/zone.signed with a fresh KSK-flagged ECDSA key;
 * the key's public part (dir/K*.key) becomes the trust anchor. */
static int
sign_zone(mox_test_unbound *u, const char *zonefile, const char *origin,
          char *signed_out, size_t signed_len, char *anchor_out, size_t anchor_len,
          char *errbuf, size_t errlen)
{
	char keygen[PATH_MAX], signzone[PATH_MAX], out[1024];
	if (!find_exe("ldns-keygen", keygen, sizeof(keygen)) ||
	    !find_exe("ldns-signzone", signzone, sizeof(signzone))) {
		seterr(
		    errbuf, errlen,
		    "ldns-keygen/ldns-signzone not found (apt-get install ldnsutils)");
		return -1;
	}
	char *kargv[] = {keygen, "-a", "ECDSAP256SHA256", "-k", (char *)origin, NULL};
	if (run_capture(kargv, u->dir, out, sizeof(out)) != 0) {
		seterr(errbuf, errlen, "ldns-keygen failed: %s", out);
		return -1;
	}
	out[strcspn(out, "\r\n")] = '\0';
	if (out[0] == '\0' || strchr(out, '/') != NULL || !conf_safe(out)) {
		seterr(errbuf, errlen, "ldns-keygen: unexpected output '%s'", out);
		return -1;
	}
	char key[PATH_MAX];
	if (snprintf(key, sizeof(key), "%s/%s", u->dir, out) >= (int)sizeof(key) ||
	    snprintf(anchor_out, anchor_len, "%s.key", key) >= (int)anchor_len ||
	    snprintf(signed_out, signed_len, "%s/zone.signed", u->dir) >=
	        (int)signed_len) {
		seterr(errbuf, errlen, "path too long in %s", u->dir);
		return -1;
	}
	char *sargv[] = {signzone, "-o",       (char *)origin,
	                 "-f",     signed_out, (char *)zonefile,
	                 key,      NULL};
	if (run_capture(sargv, u->dir, out, sizeof(out)) != 0) {
		seterr(errbuf, errlen, "ldns-signzone failed: %s", out);
		return -1;
	}
	return 0;
}

static int
write_conf(const mox_test_unbound *u, const char *conf, const char *zonefile,
           const char *origin, const char *anchor)
{
	FILE *f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
	        "server:\n"
	        "  verbosity: 1\n"
	        "  num-threads: 1\n"
	        "  interface: 127.0.0.1@%u\n"
	        "  port: %u\n"
	        "  interface-automatic: no\n"
	        "  so-reuseport: no\n"
	        "  outgoing-interface: 127.0.0.1\n"
	        "  do-ip4: yes\n"
	        "  do-ip6: no\n"
	        "  do-udp: yes\n"
	        "  do-tcp: yes\n"
	        "  access-control: 127.0.0.0/8 allow\n"
	        "  do-not-query-localhost: no\n"
	        "  chroot: \"\"\n"
	        "  username: \"\"\n"
	        "  directory: \"%s\"\n"
	        "  pidfile: \"%s/unbound.pid\"\n"
	        "  logfile: \"%s/unbound.log\"\n"
	        "  use-syslog: no\n"
	        "  log-time-ascii: yes\n"
	        "  module-config: \"%s\"\n"
	        "  max-udp-size: 512\n"
	        "  rrset-roundrobin: no\n"
	        "  minimal-responses: yes\n"
	        "  qname-minimisation: no\n"
	        "  prefetch: no\n"
	        "  target-fetch-policy: \"0 0 0 0 0\"\n"
	        /* Give up on the dead server at once, so SERVFAIL is quick. */
	        "  outbound-msg-retry: 0\n"
	        "  unknown-server-time-limit: 100\n"
	        "  infra-cache-min-rtt: 20\n"
	        /* RFC 6761 reserves test.; unbound answers it locally unless
	         * told otherwise. */
	        "  local-zone: \"test.\" nodefault\n",
	        (unsigned)u->port, (unsigned)u->port, u->dir, u->dir, u->dir,
	        anchor != NULL ? "validator iterator" : "iterator");
	if (anchor != NULL)
		fprintf(f, "  trust-anchor-file: \"%s\"\n", anchor);
	fprintf(f,
	        "remote-control:\n"
	        "  control-enable: no\n"
	        "auth-zone:\n"
	        "  name: \"%s\"\n"
	        "  zonefile: \"%s\"\n"
	        "  for-downstream: no\n"
	        "  for-upstream: yes\n"
	        "  fallback-enabled: no\n"
	        "stub-zone:\n"
	        "  name: \"servfail.%s\"\n"
	        "  stub-addr: 127.0.0.1@%u\n"
	        "stub-zone:\n"
	        "  name: \".\"\n"
	        "  stub-addr: 127.0.0.1@%u\n",
	        origin, zonefile, origin, (unsigned)u->dead_port,
	        (unsigned)u->dead_port);
	if (u->extra_config != NULL)
		fprintf(f, "%s\n", u->extra_config);
	return fclose(f) == 0 ? 0 : -1;
}

/* One try at running unbound with the conf; 1 means "retry with new
 * ports", 0 success, -1 failure. */
static int
spawn_and_wait(mox_test_unbound *u, const char *exe, const char *conf,
               const char *origin, char *errbuf, size_t errlen)
{
	char errlog[PATH_MAX], tail[400], tail2[300];
	snprintf(errlog, sizeof(errlog), "%s/stderr.log", u->dir);
	char *argv[] = {(char *)exe, "-d", "-c", (char *)conf, NULL};
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		seterr(errbuf, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
#ifdef __linux__
		/* Die with the test: no unbound left behind by a crash. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
#else
		(void)parent;
#endif
		int devnull = open("/dev/null", O_RDONLY);
		int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(exe, argv);
		_exit(127);
	}
	u->pid = pid;
	long deadline = now_ms() + READY_WAIT_MS;
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			u->pid = 0;
			char log[PATH_MAX];
			snprintf(log, sizeof(log), "%s/unbound.log", u->dir);
			read_tail(log, tail, sizeof(tail));
			read_tail(errlog, tail2, sizeof(tail2));
			seterr(errbuf, errlen, "unbound exited (status %d): %s %s",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail,
			       tail2);
			/* Our port may have been taken after we picked it. */
			return strstr(tail, "bind") != NULL ||
			               strstr(tail2, "bind") != NULL ||
			               strstr(tail, "could not open ports") != NULL
			           ? 1
			           : -1;
		}
		if (answers(u->port, origin))
			return 0;
		if (now_ms() > deadline)
			break;
		sleep_ms(50);
	}
	char log[PATH_MAX];
	snprintf(log, sizeof(log), "%s/unbound.log", u->dir);
	read_tail(log, tail, sizeof(tail));
	seterr(errbuf, errlen,
	       "unbound on 127.0.0.1:%u did not answer for %s within %d ms: %s",
	       (unsigned)u->port, origin, READY_WAIT_MS, tail);
	return -1;
}

int
mox_test_unbound_start(mox_test_unbound *u, const char *zonefile,
                       const char *zone_origin, char *errbuf, size_t errlen)
{
	char exe[PATH_MAX], zone[PATH_MAX], signed_zone[PATH_MAX];
	char anchor[PATH_MAX], conf[PATH_MAX], origin[300];
	int rc = -1;

	seterr(errbuf, errlen, "unknown error");
	if (u == NULL || zonefile == NULL || zone_origin == NULL) {
		seterr(errbuf, errlen, "NULL argument");
		return -1;
	}
	u->addr[0] = u->dead_addr[0] = u->dir[0] = '\0';
	u->port = u->dead_port = 0;
	u->pid = 0;

	if (!find_exe("unbound", exe, sizeof(exe))) {
		seterr(errbuf, errlen,
		       "unbound not found in PATH or /usr/sbin "
		       "(apt-get install unbound)");
		return -1;
	}
	/* unbound reads paths relative to its directory: make it absolute. */
	char cwd[PATH_MAX];
	if (zonefile[0] == '/')
		snprintf(zone, sizeof(zone), "%s", zonefile);
	else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	         snprintf(zone, sizeof(zone), "%s/%s", cwd, zonefile) >=
	             (int)sizeof(zone))
		zone[0] = '\0';
	if (zone[0] == '\0' || access(zone, R_OK) != 0) {
		seterr(errbuf, errlen, "zone file %s: %s", zonefile, strerror(errno));
		return -1;
	}
	size_t olen = strlen(zone_origin);
	if (olen == 0 || olen > 253 ||
	    snprintf(origin, sizeof(origin), "%s%s", zone_origin,
	             zone_origin[olen - 1] == '.' ? "" : ".") >= (int)sizeof(origin) ||
	    !conf_safe(origin) || !conf_safe(zone)) {
		seterr(errbuf, errlen, "bad zone origin or path");
		return -1;
	}

	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(u->dir, sizeof(u->dir), "%s/mox-unbound-XXXXXX", tmp);
	if (mkdtemp(u->dir) == NULL || !conf_safe(u->dir)) {
		seterr(errbuf, errlen, "mkdtemp in %s: %s", tmp, strerror(errno));
		u->dir[0] = '\0';
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/unbound.conf", u->dir);

	const char *served = zone, *trust = NULL;
	if (u->dnssec) {
		if (sign_zone(u, zone, origin, signed_zone, sizeof(signed_zone), anchor,
		              sizeof(anchor), errbuf, errlen) != 0)
			goto out;
		served = signed_zone;
		trust = anchor;
	}

	for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		u->port = free_port(0);
		u->dead_port = free_port(u->port);
		if (u->port == 0 || u->dead_port == 0) {
			seterr(errbuf, errlen, "no free port on 127.0.0.1");
			goto out;
		}
		if (write_conf(u, conf, served, origin, trust) != 0) {
			seterr(errbuf, errlen, "cannot write %s: %s", conf,
			       strerror(errno));
			goto out;
		}
		rc = spawn_and_wait(u, exe, conf, origin, errbuf, errlen);
		if (rc != 1)
			break;
	}
	if (rc != 0) {
		rc = -1;
		goto out;
	}
	snprintf(u->addr, sizeof(u->addr), "127.0.0.1:%u", (unsigned)u->port);
	snprintf(u->dead_addr, sizeof(u->dead_addr), "127.0.0.1:%u",
	         (unsigned)u->dead_port);
	seterr(errbuf, errlen, "ok");
out:
	if (rc != 0) {
		/* Keep the message: stop() does not touch errbuf. */
		mox_test_unbound_stop(u);
	}
	return rc;
}

void
mox_test_unbound_stop(mox_test_unbound *u)
{
	if (u == NULL)
		return;
	if (u->pid > 0) {
		int status;
		kill(u->pid, SIGTERM);
		long deadline = now_ms() + STOP_WAIT_MS;
		bool reaped = false;
		while (!reaped && now_ms() < deadline) {
			pid_t r = waitpid(u->pid, &status, WNOHANG);
			if (r == u->pid || (r < 0 && errno == ECHILD))
				reaped = true;
			else
				sleep_ms(20);
		}
		if (!reaped) {
			kill(u->pid, SIGKILL);
			while (waitpid(u->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
		u->pid = 0;
	}
	if (u->dir[0] != '\0') {
		remove_dir(u->dir);
		u->dir[0] = '\0';
	}
	u->addr[0] = u->dead_addr[0] = '\0';
}
