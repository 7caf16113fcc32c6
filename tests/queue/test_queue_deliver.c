/* End-to-end delivery from the queue (server/queue_deliver.c, queue_smtp.c,
 * queue_run.c with libmoxsmtp's client) to real SMTP peers on loopback:
 * unbound serves tests/queue/queue.zone, whose MX records point at
 * 127.0.0.x, where the test runs Postfix's smtp-sink (accepts everything)
 * and tests/queue/smtp_peer.py (4xx then 2xx; 5xx; drops the connection
 * mid-DATA), all on one free port the queue is told to use instead of 25.
 * Every peer is started here and ended by its PID. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"
#include "unbound_fixture.h"

#include <mox/mtasts.h>

#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <uv.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static mox_test_unbound ub;
static mox_resolver *res;
static uint16_t port;
static char tmpdir[256];
static pid_t peers[8];
static size_t npeers;

/* Local deliveries (DSNs to senders at local.mox.test). */
typedef struct local_msg {
	char rcpt[256];
	char *data;
} local_msg;
static local_msg locals[64];
static size_t nlocals;

static bool
is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "local.mox.test") == 0;
}

static int
deliver_local(void *arg, const queue_msg *m, const uint8_t *data, size_t len, char *why,
              size_t whylen)
{
	(void)arg;
	if (nlocals == sizeof(locals) / sizeof(locals[0])) {
		snprintf(why, whylen, "test mailbox full");
		return QUEUE_LOCAL_TEMPORARY;
	}
	local_msg *l = &locals[nlocals++];
	snprintf(l->rcpt, sizeof(l->rcpt), "%s", m->recipient);
	l->data = strndup((const char *)data, len);
	return QUEUE_LOCAL_OK;
}

static void
quiet_log(void *arg, const char *level, const char *line)
{
	(void)arg;
	if (getenv("QUEUE_TEST_VERBOSE") != NULL)
		fprintf(stderr, "%s: %s\n", level, line);
}

static queue_settings
settings(void)
{
	queue_settings s = {
	    .data_dir = tmpdir,
	    .hostname = "mail.local.mox.test",
	    .resolver = res,
	    .smtp_port = port,
	    .no_jitter = true,
	    .connect_timeout_ms = 3000,
	    .io_timeout_ms = 10000,
	    .is_local = is_local,
	    .deliver_local = deliver_local,
	    .log = quiet_log,
	};
	return s;
}

static bool
port_free(uint16_t p)
{
	for (int i = 2; i <= 9; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p)};
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.0.%d", i);
		inet_pton(AF_INET, ip, &sa.sin_addr);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc != 0)
			return false;
	}
	return true;
}

static bool
can_connect(const char *ip, uint16_t p)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p)};
	inet_pton(AF_INET, ip, &sa.sin_addr);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static pid_t
spawn(char *const argv[], int out_fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The Python peer on ip:port in mode, saving into dir. */
static void
start_peer(const char *ip, const char *mode, const char *dir)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%u", port);
	char *argv[] = {(char *)"/usr/bin/python3",
	                (char *)MOX_QUEUE_TEST_DIR "/smtp_peer.py",
	                (char *)ip,
	                portstr,
	                (char *)mode,
	                (char *)dir,
	                (char *)MOX_QUEUE_TEST_DIR "/certs/mx.pem",
	                (char *)MOX_QUEUE_TEST_DIR "/certs/mx.key",
	                NULL};
	pid_t pid = spawn(argv, p[1]);
	close(p[1]);
	assert_true(pid > 0);
	peers[npeers++] = pid;
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 10000), 1);
	char buf[16] = "";
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "ready"));
	close(p[0]);
}

static void
start_sink(const char *ip, const char *dumpdir)
{
	char addr[64], tmpl[400];
	snprintf(addr, sizeof(addr), "inet:%s:%u", ip, port);
	snprintf(tmpl, sizeof(tmpl), "%s/sink.", dumpdir);
	char *argv[] = {(char *)"/usr/sbin/smtp-sink",
	                (char *)"-u",
	                (char *)"nobody",
	                (char *)"-d",
	                tmpl,
	                addr,
	                (char *)"10",
	                NULL};
	if (geteuid() != 0) {
		argv[1] = (char *)"-d";
		argv[2] = tmpl;
		argv[3] = addr;
		argv[4] = (char *)"10";
		argv[5] = NULL;
	}
	pid_t pid = spawn(argv, -1);
	assert_true(pid > 0);
	peers[npeers++] = pid;
	for (int i = 0; i < 100 && !can_connect(ip, port); i++)
		usleep(50000);
	assert_true(can_connect(ip, port));
}

static size_t
count_prefix(const char *dir, const char *prefix, const char *needle)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    strstr(e->d_name, ".tmp") != NULL)
			continue;
		if (needle == NULL) {
			n++;
			continue;
		}
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		char buf[65536];
		size_t l = fread(buf, 1, sizeof(buf) - 1, f);
		buf[l] = '\0';
		fclose(f);
		if (memmem(buf, l, needle, strlen(needle)) != NULL)
			n++;
	}
	closedir(d);
	return n;
}

static double mono(void);
static char sinkdir[300], flakydir[300], rejectdir[300], dropdir[300], tlsdir[300],
    countdir[300], plaindir[300];

/* The zone: queue.zone plus TLS domains whose TLSA names carry the port
 * chosen at run time (RFC 7672 section 2.2: _port._tcp.host). */
static int
write_zone(const char *path)
{
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, MOX_QUEUE_TEST_DIR "/certs/mx.pem") != 0)
		return -1;
	uint8_t h[32];
	mbedtls_sha256_ret(crt.pk_raw.p, crt.pk_raw.len, h, 0);
	mbedtls_x509_crt_free(&crt);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	FILE *in = fopen(MOX_QUEUE_TEST_DIR "/queue.zone", "r");
	FILE *out = fopen(path, "w");
	if (in == NULL || out == NULL)
		return -1;
	char line[512];
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(line, out);
	fclose(in);
	fprintf(out,
	        "; DANE (RFC 7672): DANE-EE SPKI SHA-256 of certs/mx.pem.\n"
	        "tls 300 IN MX 10 mx.tls.mox.test.\n"
	        "mx.tls 300 IN A 127.0.0.7\n"
	        "_%u._tcp.mx.tls 300 IN TLSA 3 1 1 %s\n"
	        "; A TLSA record the certificate does not match.\n"
	        "danebad 300 IN MX 10 mx.danebad.mox.test.\n"
	        "mx.danebad 300 IN A 127.0.0.7\n"
	        "_%u._tcp.mx.danebad 300 IN TLSA 3 1 1 %064d\n"
	        "; No TLSA: opportunistic, or PKIX under an MTA-STS policy.\n"
	        "sts 300 IN MX 10 mx.stsbad.mox.test.\n"
	        "mx.stsbad 300 IN A 127.0.0.7\n"
	        "; The crash test's peer.\n"
	        "count 300 IN MX 10 mx.count.mox.test.\n"
	        "mx.count 300 IN A 127.0.0.8\n"
	        "; A peer without 8BITMIME and SMTPUTF8.\n"
	        "plain 300 IN MX 10 mx.plain.mox.test.\n"
	        "mx.plain 300 IN A 127.0.0.9\n",
	        port, hex, port, 0);
	return fclose(out) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	(void)state;
	char err[512];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mox-queue-deliver-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	chmod(tmpdir, 0777); /* smtp-sink runs as nobody */
	srand((unsigned)getpid());
	for (int i = 0; i < 50 && port == 0; i++) {
		uint16_t p = (uint16_t)(20000 + rand() % 30000);
		if (port_free(p))
			port = p;
	}
	if (port == 0)
		return -1;
	char zone[400];
	snprintf(zone, sizeof(zone), "%s/queue.zone", tmpdir);
	if (write_zone(zone) != 0)
		return -1;
	/* Signed: every answer is DNSSEC-authenticated, so DANE applies
	 * where a TLSA record exists. */
	ub.dnssec = true;
	if (mox_test_unbound_start(&ub, zone, "mox.test.", err, sizeof(err)) != 0) {
		print_error("unbound: %s\n", err);
		return -1;
	}
	setenv("MOX_RESOLVER", ub.addr, 1);
	mox_dns_ldns_opts o = {.size = sizeof(o), .nameservers = ub.addr};
	mox_errinfo info;
	if (mox_dns_ldns_new(&res, &o, &info) != MOX_OK)
		return -1;
	snprintf(sinkdir, sizeof(sinkdir), "%s/sink", tmpdir);
	snprintf(flakydir, sizeof(flakydir), "%s/flaky", tmpdir);
	snprintf(rejectdir, sizeof(rejectdir), "%s/reject", tmpdir);
	snprintf(dropdir, sizeof(dropdir), "%s/drop", tmpdir);
	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", tmpdir);
	snprintf(countdir, sizeof(countdir), "%s/count", tmpdir);
	snprintf(plaindir, sizeof(plaindir), "%s/plain", tmpdir);
	const char *dirs[] = {sinkdir, flakydir, rejectdir, dropdir,
	                      tlsdir,  countdir, plaindir};
	for (size_t i = 0; i < 7; i++) {
		mkdir(dirs[i], 0777);
		chmod(dirs[i], 0777);
	}
	start_sink("127.0.0.2", sinkdir);
	start_peer("127.0.0.3", "flaky", flakydir);
	start_peer("127.0.0.4", "reject", rejectdir);
	start_peer("127.0.0.5", "drop", dropdir);
	start_peer("127.0.0.7", "tls", tlsdir);
	start_peer("127.0.0.8", "accept", countdir);
	start_peer("127.0.0.9", "plain", plaindir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < npeers; i++) {
		kill(peers[i], SIGTERM);
		waitpid(peers[i], NULL, 0);
	}
	mox_resolver_free(res);
	mox_test_unbound_stop(&ub);
	for (size_t i = 0; i < nlocals; i++)
		free(locals[i].data);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static queue_store *
store(void)
{
	queue_store *qs = NULL;
	char err[512];
	if (queue_store_open(tmpdir, &qs, err, sizeof(err)) != MOX_OK)
		fail_msg("open: %s", err);
	return qs;
}

static int64_t
enqueue(queue_store *qs, const char *sender, const char *rcpt, const char *token)
{
	char body[512];
	int n = snprintf(
	    body, sizeof(body),
	    "From: <%s>\r\nTo: <%s>\r\nSubject: test\r\nMessage-Id: <%s@local>\r\n"
	    "\r\nhello %s\r\n.leading dot\r\n",
	    sender, rcpt, token, token);
	queue_add_req r = {
	    .sender_account = "mox",
	    .sender = sender,
	    .recipients = &rcpt,
	    .nrecipients = 1,
	    .data = (const uint8_t *)body,
	    .data_len = (size_t)n,
	};
	int64_t id;
	char err[512];
	queue_settings s = settings();
	if (queue_store_add(qs, &r, queue_now(&s), &id, err, sizeof(err)) != MOX_OK)
		fail_msg("add: %s", err);
	return id;
}

static queue_outcome
attempt(queue_store *qs, const queue_settings *s, int64_t id)
{
	queue_msg m;
	char err[512];
	if (queue_store_get(qs, id, &m, err, sizeof(err)) != MOX_OK)
		fail_msg("get %lld: %s", (long long)id, err);
	queue_outcome o = queue_deliver(s, qs, &m);
	queue_msg_clear(&m);
	return o;
}

static void
kick_id(queue_store *qs, int64_t id)
{
	queue_filter f = {.id = id};
	size_t n;
	char err[512];
	queue_settings s = settings();
	assert_int_equal(
	    queue_store_kick(qs, &f, NULL, queue_now(&s), &n, err, sizeof(err)),
	    MOX_OK);
	assert_int_equal(n, 1);
}

/* The DSNs queued to sender: deliver each (locally) and return how many. */
static size_t
deliver_dsns(queue_store *qs, const queue_settings *s, const char *sender)
{
	queue_filter f = {.recipient = sender};
	queue_msg *v;
	size_t n;
	char err[512];
	assert_int_equal(queue_store_list(qs, &f, &v, &n, err, sizeof(err)), MOX_OK);
	for (size_t i = 0; i < n; i++) {
		assert_true(v[i].is_dsn);
		assert_string_equal(v[i].sender, "");
		assert_int_equal(queue_deliver(s, qs, &v[i]), QUEUE_DELIVERED);
	}
	queue_msgs_free(v, n);
	return n;
}

static void
test_sink(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	int64_t id =
	    enqueue(qs, "a@local.mox.test", "user@sink.mox.test", "tok-sink-1");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(queue_store_count(qs), 0);
	/* smtp-sink dumped it, dot-unstuffed. */
	for (int i = 0;
	     i < 50 && count_prefix(sinkdir, "sink.", "hello tok-sink-1") == 0; i++)
		usleep(20000);
	assert_int_equal(count_prefix(sinkdir, "sink.", "hello tok-sink-1"), 1);
	assert_int_equal(count_prefix(sinkdir, "sink.", "\n.leading dot\n"), 1);
	char qdir[300];
	snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
	assert_int_equal(count_prefix(qdir, "1", NULL) + count_prefix(qdir, "2", NULL),
	                 0);

	/* First MX refuses connections: the next one takes it. */
	id = enqueue(qs, "a@local.mox.test", "user@backup.mox.test", "tok-backup");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	for (int i = 0;
	     i < 50 && count_prefix(sinkdir, "sink.", "hello tok-backup") == 0; i++)
		usleep(20000);
	assert_int_equal(count_prefix(sinkdir, "sink.", "hello tok-backup"), 1);
	queue_store_close(qs);
}

static void
test_retry_4xx_then_2xx(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	int64_t id =
	    enqueue(qs, "a@local.mox.test", "user@flaky.mox.test", "tok-flaky");
	int64_t before = queue_now(&s);
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_OK);
	assert_int_equal(m.attempts, 1);
	assert_non_null(strstr(m.last_error, "451"));
	/* Next attempt 7.5 minutes later (RFC 5321 section 4.5.4.1, mox). */
	assert_true(m.next_attempt >= before + QUEUE_BACKOFF_FIRST_MS);
	assert_true(m.next_attempt <= queue_now(&s) + QUEUE_BACKOFF_FIRST_MS);
	assert_non_null(strstr(m.dialed_ips, "mx.flaky.mox.test 127.0.0.3"));
	queue_msg_clear(&m);
	assert_int_equal(count_prefix(flakydir, "msg-", NULL), 0);
	/* Not due yet. */
	queue_msg *v;
	size_t n;
	assert_int_equal(
	    queue_store_due(qs, queue_now(&s), 10, &v, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 0);
	free(v);
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(flakydir, "msg-", "hello tok-flaky"), 1);
	assert_int_equal(queue_store_count(qs), 0);
	assert_int_equal(nlocals, 0); /* no DSN for a delivered message */
	queue_store_close(qs);
}

static void
test_5xx_dsn(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	size_t locals0 = nlocals;
	int64_t id =
	    enqueue(qs, "a@local.mox.test", "nobody@reject.mox.test", "tok-reject");
	assert_int_equal(attempt(qs, &s, id), QUEUE_FAILED);
	/* The row is gone, a DSN is queued to the sender. */
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_ENOTFOUND);
	assert_int_equal(deliver_dsns(qs, &s, "a@local.mox.test"), 1);
	assert_int_equal(nlocals, locals0 + 1);
	const char *d = locals[locals0].data;
	assert_string_equal(locals[locals0].rcpt, "a@local.mox.test");
	assert_non_null(
	    strstr(d, "Content-Type: multipart/report; report-type=delivery-status"));
	assert_non_null(
	    strstr(d, "Final-Recipient: rfc822; nobody@reject.mox.test\r\n"));
	assert_non_null(strstr(d, "Action: failed\r\n"));
	assert_non_null(strstr(d, "Status: 5.1.1\r\n"));
	assert_non_null(strstr(d, "Remote-MTA: dns; mx.reject.mox.test\r\n"));
	assert_non_null(strstr(d, "550"));
	assert_non_null(strstr(d, "Message-Id: <tok-reject@local>"));
	assert_int_equal(queue_store_count(qs), 0);

	/* A bounce whose own delivery fails: no DSN for the DSN (RFC 3464). */
	id = enqueue(qs, "", "nobody@reject.mox.test", "tok-null");
	assert_int_equal(attempt(qs, &s, id), QUEUE_FAILED);
	assert_int_equal(queue_store_count(qs), 0);

	/* Null MX: failed without connecting, DSN. */
	id = enqueue(qs, "b@local.mox.test", "x@nullmx.mox.test", "tok-nullmx");
	assert_int_equal(attempt(qs, &s, id), QUEUE_FAILED);
	assert_int_equal(deliver_dsns(qs, &s, "b@local.mox.test"), 1);
	assert_non_null(strstr(locals[nlocals - 1].data, "null MX"));
	assert_int_equal(queue_store_count(qs), 0);
	queue_store_close(qs);
}

static void
test_drop_mid_data(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	int64_t id = enqueue(qs, "a@local.mox.test", "user@drop.mox.test", "tok-drop");
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	assert_int_equal(count_prefix(dropdir, "msg-", NULL), 0);
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	/* Delivered exactly once. */
	assert_int_equal(count_prefix(dropdir, "msg-", NULL), 1);
	assert_int_equal(count_prefix(dropdir, "msg-", "hello tok-drop"), 1);
	queue_store_close(qs);
}

static void
test_give_up_with_delay_dsn(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	s.max_attempts = 3;
	s.delay_dsn_attempt = 1;
	size_t locals0 = nlocals;
	int64_t id = enqueue(qs, "c@local.mox.test", "user@dead.mox.test", "tok-dead");
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	assert_int_equal(deliver_dsns(qs, &s, "c@local.mox.test"), 1);
	assert_non_null(strstr(locals[locals0].data, "Action: delayed\r\n"));
	assert_non_null(strstr(locals[locals0].data, "Will-Retry-Until: "));
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	assert_int_equal(deliver_dsns(qs, &s, "c@local.mox.test"), 0); /* only once */
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_FAILED);
	assert_int_equal(deliver_dsns(qs, &s, "c@local.mox.test"), 1);
	assert_non_null(strstr(locals[nlocals - 1].data, "Action: failed\r\n"));
	assert_non_null(strstr(locals[nlocals - 1].data, "Status: 5."));
	assert_int_equal(queue_store_count(qs), 0);
	queue_store_close(qs);
}

static void
test_opportunistic_tls(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	int64_t id = enqueue(qs, "a@local.mox.test", "user@sts.mox.test", "tok-opp");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(
	    count_prefix(
	        tlsdir, "msg-",
	        "TLS=1\r\nFrom: <a@local.mox.test>\r\nTo: <user@sts.mox.test>"),
	    1);
	queue_store_close(qs);
}

static void
test_dane(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	/* TLSA matches the certificate: delivered over TLS. */
	int64_t id = enqueue(qs, "a@local.mox.test", "user@tls.mox.test", "tok-dane");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(tlsdir, "msg-", "hello tok-dane"), 1);
	assert_int_equal(
	    count_prefix(
	        tlsdir, "msg-",
	        "TLS=1\r\nFrom: <a@local.mox.test>\r\nTo: <user@tls.mox.test>"),
	    1);
	/* TLSA does not match: not delivered, and no plain-text fallback
	 * (RFC 7672 section 2.2). */
	id = enqueue(qs, "a@local.mox.test", "user@danebad.mox.test", "tok-danebad");
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_OK);
	assert_non_null(strstr(m.last_error, "TLSA"));
	queue_msg_clear(&m);
	assert_int_equal(count_prefix(tlsdir, "msg-", "tok-danebad"), 0);
	/* With DANE off, the same host takes it opportunistically. */
	s.no_dane = true;
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(tlsdir, "msg-", "hello tok-danebad"), 1);
	queue_store_close(qs);
}

static const char *sts_policy_text;

static int
sts_policy(void *arg, const char *domain, struct mox_mtasts_policy **policy_out,
           bool *fresh_out)
{
	(void)arg;
	*policy_out = NULL;
	*fresh_out = true;
	if (strcmp(domain, "sts.mox.test") != 0 || sts_policy_text == NULL)
		return 0;
	mox_errinfo info;
	if (mox_mtasts_policy_parse(sts_policy_text, strlen(sts_policy_text), NULL,
	                            policy_out, &info) != MOX_OK)
		return -1;
	return 0;
}

static void
test_mtasts_enforce(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	s.mtasts_policy = sts_policy;
	s.ca_file = MOX_QUEUE_TEST_DIR "/certs/ca.pem";
	sts_policy_text =
	    "version: STSv1\r\nmode: enforce\r\nmx: mx.stsbad.mox.test\r\n"
	    "max_age: 86400\r\n";
	/* Listed MX, certificate valid for its name under our CA. */
	int64_t id = enqueue(qs, "a@local.mox.test", "user@sts.mox.test", "tok-sts-ok");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(tlsdir, "msg-", "hello tok-sts-ok"), 1);
	/* The certificate does not verify (system CAs): not delivered, no
	 * fallback to plain text. */
	s.ca_file = NULL;
	id = enqueue(qs, "a@local.mox.test", "user@sts.mox.test", "tok-sts-badca");
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	assert_int_equal(count_prefix(tlsdir, "msg-", "tok-sts-badca"), 0);
	/* The MX is not in the policy: skipped. */
	s.ca_file = MOX_QUEUE_TEST_DIR "/certs/ca.pem";
	sts_policy_text = "version: STSv1\r\nmode: enforce\r\nmx: mx.other.example\r\n"
	                  "max_age: 86400\r\n";
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	queue_msg m;
	char err[512];
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_OK);
	assert_non_null(strstr(m.last_error, "MTA-STS"));
	queue_msg_clear(&m);
	/* Mode testing: delivered anyway. */
	sts_policy_text = "version: STSv1\r\nmode: testing\r\nmx: mx.other.example\r\n"
	                  "max_age: 86400\r\n";
	kick_id(qs, id);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(tlsdir, "msg-", "hello tok-sts-badca"), 1);
	sts_policy_text = NULL;
	queue_store_close(qs);
}

/* RFC 6152 section 3 / RFC 6531 section 3.2: 8-bit or UTF-8 mail is not
 * sent to a server without 8BITMIME / SMTPUTF8 (no downgrade, as mox):
 * a permanent failure with a DSN. 7-bit mail goes through. */
static void
test_8bit_rules(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	int64_t id = enqueue(qs, "d@local.mox.test", "user@plain.mox.test", "tok-7bit");
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(plaindir, "msg-", "hello tok-7bit"), 1);

	const char body[] = "Subject: caf\xc3\xa9\r\n\r\n8bit tok-8bit\r\n";
	const char *rcpt = "user@plain.mox.test";
	queue_add_req r = {.sender = "d@local.mox.test",
	                   .recipients = &rcpt,
	                   .nrecipients = 1,
	                   .has8bit = true,
	                   .data = (const uint8_t *)body,
	                   .data_len = sizeof(body) - 1};
	char err[512];
	assert_int_equal(queue_store_add(qs, &r, queue_now(&s), &id, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(attempt(qs, &s, id), QUEUE_FAILED);
	assert_int_equal(count_prefix(plaindir, "msg-", "tok-8bit"), 0);
	assert_int_equal(deliver_dsns(qs, &s, "d@local.mox.test"), 1);
	assert_non_null(strstr(locals[nlocals - 1].data, "Action: failed\r\n"));
	assert_non_null(strstr(locals[nlocals - 1].data, "8BITMIME"));

	/* To a server that has 8BITMIME it goes. */
	rcpt = "user@flaky.mox.test";
	assert_int_equal(queue_store_add(qs, &r, queue_now(&s), &id, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	assert_int_equal(count_prefix(flakydir, "msg-", "8bit tok-8bit"), 1);
	queue_store_close(qs);
}

/* A row with a transport goes to that smarthost, whatever the recipient
 * domain's MX says (mox queue kick -transport). */
static void
test_smarthost(void **state)
{
	(void)state;
	queue_store *qs = store();
	queue_settings s = settings();
	queue_smarthost relay = {.name = "relay",
	                         .host = "127.0.0.2",
	                         .port = port,
	                         .starttls_optional = true};
	s.transports = &relay;
	s.ntransports = 1;
	int64_t id = enqueue(qs, "a@local.mox.test", "x@nullmx.mox.test", "tok-relay");
	queue_filter f = {.id = id};
	size_t n;
	char err[512];
	assert_int_equal(
	    queue_store_kick(qs, &f, "relay", queue_now(&s), &n, err, sizeof(err)),
	    MOX_OK);
	assert_int_equal(attempt(qs, &s, id), QUEUE_DELIVERED);
	for (int i = 0;
	     i < 50 && count_prefix(sinkdir, "sink.", "hello tok-relay") == 0; i++)
		usleep(20000);
	assert_int_equal(count_prefix(sinkdir, "sink.", "hello tok-relay"), 1);
	/* An unknown transport: kept for later. */
	id = enqueue(qs, "a@local.mox.test", "x@nullmx.mox.test", "tok-relay2");
	f.id = id;
	assert_int_equal(
	    queue_store_kick(qs, &f, "nosuch", queue_now(&s), &n, err, sizeof(err)),
	    MOX_OK);
	assert_int_equal(attempt(qs, &s, id), QUEUE_RETRY);
	queue_msg m;
	assert_int_equal(queue_store_get(qs, id, &m, err, sizeof(err)), MOX_OK);
	assert_non_null(strstr(m.last_error, "unknown transport"));
	queue_msg_clear(&m);
	assert_int_equal(queue_store_drop(qs, &f, &n, err, sizeof(err)), MOX_OK);
	queue_store_close(qs);
}

/* Crash test (issue #12): a child process runs the queue on a libuv loop
 * and is killed with SIGKILL while delivering, then restarted, until the
 * queue is empty. Every message arrives; a message can arrive twice only
 * when the kill came between the peer's 250 and the removal of its row
 * (RFC 5321 section 6.1 accepts that duplicate), so duplicates are at
 * most kills * max_concurrent. */
#define CRASH_MSGS 40
#define CRASH_KILLS 4

static void
on_child_check(uv_timer_t *t)
{
	queue *q = t->data;
	if (queue_store_count(queue_get_store(q)) == 0) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
		queue_stop(q, NULL, NULL);
	}
}

static void
crash_child(void)
{
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0)
		_exit(3);
	queue_settings s = settings();
	s.max_concurrent = 4;
	s.max_per_domain = 4;
	s.log = NULL;
	queue *q;
	char err[512];
	if (queue_start(&loop, &s, &q, err, sizeof(err)) != MOX_OK)
		_exit(4);
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	t.data = q;
	uv_timer_start(&t, on_child_check, 10, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(0);
}

static void
test_crash_restart(void **state)
{
	(void)state;
	queue_store *qs = store();
	for (int i = 0; i < CRASH_MSGS; i++) {
		char tok[32], rcpt[64];
		snprintf(tok, sizeof(tok), "tok-crash-%d", i);
		snprintf(rcpt, sizeof(rcpt), "u%d@count.mox.test", i);
		enqueue(qs, "a@local.mox.test", rcpt, tok);
	}
	int kills = 0;
	double deadline = mono() + 60;
	for (int run = 0; queue_store_count(qs) > 0 && mono() < deadline; run++) {
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
			crash_child();
		}
		if (run < CRASH_KILLS) {
			usleep(100000 + (unsigned)(rand() % 400000));
			kill(pid, SIGKILL);
			kills++;
		}
		int st;
		waitpid(pid, &st, 0);
		if (run < CRASH_KILLS)
			print_message("crash/restart: kill %d with %zu of %d left\n",
			              kills, queue_store_count(qs), CRASH_MSGS);
		/* A killed attempt was registered: its retry is 7.5 minutes
		 * away. Kick as an admin would to finish in the test. */
		queue_filter all = {0};
		size_t n;
		char err[512];
		queue_settings s = settings();
		assert_int_equal(queue_store_kick(qs, &all, NULL, queue_now(&s), &n,
		                                  err, sizeof(err)),
		                 MOX_OK);
	}
	assert_int_equal(queue_store_count(qs), 0);
	queue_store_close(qs);
	size_t dups = 0;
	for (int i = 0; i < CRASH_MSGS; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "hello tok-crash-%d\r", i);
		size_t c = count_prefix(countdir, "msg-", needle);
		if (c == 0)
			fail_msg("message %d lost", i);
		dups += c - 1;
	}
	print_message("crash/restart: %d kills, %zu duplicate deliveries of %d\n",
	              kills, dups, CRASH_MSGS);
	assert_true(dups <= (size_t)kills * 4);
	char qdir[300];
	snprintf(qdir, sizeof(qdir), "%s/queue", tmpdir);
	DIR *d = opendir(qdir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			fail_msg("message file %s left in the queue", e->d_name);
	closedir(d);
}

/* The scheduler on a libuv loop: many messages, one domain at a time per
 * destination, all delivered, bounded in time. */
typedef struct loop_state {
	queue *q;
	size_t want;
	double deadline;
	bool stopped;
	uv_timer_t check;
	size_t max_busy;
} loop_state;

static double
mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
stopped(void *arg)
{
	((loop_state *)arg)->stopped = true;
}

static void
on_check(uv_timer_t *t)
{
	loop_state *ls = t->data;
	size_t b = queue_busy(ls->q);
	if (b > ls->max_busy)
		ls->max_busy = b;
	if (queue_store_count(queue_get_store(ls->q)) == 0 || mono() > ls->deadline) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
		queue_stop(ls->q, stopped, ls);
	}
}

static void
test_scheduler(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	queue_settings s = settings();
	s.max_concurrent = 3;
	loop_state ls = {.deadline = mono() + 60};
	char err[512];
	assert_int_equal(queue_start(&loop, &s, &ls.q, err, sizeof(err)), MOX_OK);
	queue_store *qs = queue_get_store(ls.q);
	size_t before = count_prefix(sinkdir, "sink.", NULL);
	const size_t N = 12;
	for (size_t i = 0; i < N; i++) {
		char tok[32], rcpt[64];
		snprintf(tok, sizeof(tok), "tok-sched-%zu", i);
		snprintf(rcpt, sizeof(rcpt), "u%zu@%s", i,
		         i % 2 == 0 ? "sink.mox.test" : "flaky.mox.test");
		enqueue(qs, "a@local.mox.test", rcpt, tok);
	}
	double t0 = mono();
	queue_wake(ls.q);
	uv_timer_init(&loop, &ls.check);
	ls.check.data = &ls;
	uv_timer_start(&ls.check, on_check, 20, 20);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(ls.stopped);
	print_message("scheduler: %zu messages delivered in %.2f s\n", N, mono() - t0);
	assert_int_equal(uv_loop_close(&loop), 0);
	/* flaky.mox.test accepts after its first connection (taken earlier),
	 * so all arrive; at most one connection per domain at a time. */
	assert_true(ls.max_busy <= 2);
	qs = store();
	assert_int_equal(queue_store_count(qs), 0);
	queue_store_close(qs);
	for (int i = 0;
	     i < 100 && count_prefix(sinkdir, "sink.", NULL) < before + N / 2; i++)
		usleep(20000);
	assert_int_equal(count_prefix(sinkdir, "sink.", NULL), before + N / 2);
	for (size_t i = 1; i < N; i += 2) {
		char tok[32];
		snprintf(tok, sizeof(tok), "hello tok-sched-%zu\r", i);
		assert_int_equal(count_prefix(flakydir, "msg-", tok), 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink),
	    cmocka_unit_test(test_retry_4xx_then_2xx),
	    cmocka_unit_test(test_5xx_dsn),
	    cmocka_unit_test(test_drop_mid_data),
	    cmocka_unit_test(test_give_up_with_delay_dsn),
	    cmocka_unit_test(test_opportunistic_tls),
	    cmocka_unit_test(test_dane),
	    cmocka_unit_test(test_mtasts_enforce),
	    cmocka_unit_test(test_8bit_rules),
	    cmocka_unit_test(test_smarthost),
	    cmocka_unit_test(test_crash_restart),
	    cmocka_unit_test(test_scheduler),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
