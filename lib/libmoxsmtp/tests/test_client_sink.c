/* The SMTP client core over a real socket against Postfix's smtp-sink
 * (/usr/sbin/smtp-sink), on 127.0.0.1 at a free port, one smtp-sink per
 * scenario, started and ended by this test by PID. smtp-sink is told to
 * refuse certain commands (-f: 5xx, -r: 4xx, -Q: 421 and hang up, -q:
 * hang up) or to hide 8BITMIME (-8), and dumps each accepted message (-d)
 * with the MAIL and RCPT arguments it saw, which we check: what the
 * client put on the wire (dot-stuffing, CRLF, BODY=8BITMIME, DSN
 * parameters) reached a real server intact.
 *
 * The event loop here is the kind a caller writes: poll on the socket
 * with the client's deadline, feed what is read, write what the client
 * has. Each session is bounded to 20 seconds. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mox/smtp_client.h>

#define SINK "/usr/sbin/smtp-sink"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int
connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < 100; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(s >= 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
			/* Small pipelined writes: no Nagle delay. */
			int one = 1;
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return s;
		}
		close(s);
		usleep(50 * 1000);
	}
	return -1;
}

/* smtp-sinks running and their directories, so a failed test (cmocka
 * jumps out of it) leaves nothing behind: the group teardown ends them by
 * PID and removes the directories. */
static pid_t live[8];
static char live_dir[8][64];

static void
live_add(pid_t pid, const char *dir)
{
	for (size_t i = 0; i < 8; i++)
		if (live[i] == 0) {
			live[i] = pid;
			snprintf(live_dir[i], sizeof(live_dir[i]), "%s", dir);
			return;
		}
}

static void
live_del(pid_t pid)
{
	for (size_t i = 0; i < 8; i++)
		if (live[i] == pid)
			live[i] = 0;
}

static void
rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

typedef struct sink {
	pid_t pid;
	int port;
	char dir[64];
} sink;

/* Start smtp-sink with extra options (NULL-terminated). */
static void
sink_start(sink *k, const char *const *opts)
{
	snprintf(k->dir, sizeof(k->dir), "/tmp/mox-sink-XXXXXX");
	assert_non_null(mkdtemp(k->dir));
	chmod(k->dir, 0777); /* smtp-sink runs as nobody */
	k->port = free_port();
	char addr[64], dump[128];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", k->port);
	snprintf(dump, sizeof(dump), "%s/msg-", k->dir);
	const char *argv[32];
	size_t n = 0;
	argv[n++] = SINK;
	argv[n++] = "-u";
	argv[n++] = "nobody";
	if (opts == NULL || opts[0] == NULL || strcmp(opts[0], "nodump") != 0) {
		argv[n++] = "-d";
		argv[n++] = dump;
	} else {
		opts++;
	}
	for (size_t i = 0; opts != NULL && opts[i] != NULL && n < 28; i++)
		argv[n++] = opts[i];
	argv[n++] = addr;
	argv[n++] = "10";
	argv[n] = NULL;
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(SINK, (char *const *)argv);
		_exit(127);
	}
	live_add(k->pid, k->dir);
}

static void
sink_stop(sink *k)
{
	kill(k->pid, SIGTERM);
	int st;
	waitpid(k->pid, &st, 0);
	live_del(k->pid);
	rm_dir(k->dir);
}

/* All dumped messages, concatenated (in name order is not arrival order;
 * the tests look for substrings). */
static char *
sink_dumps(sink *k, int *count)
{
	*count = 0;
	size_t cap = 1 << 20, len = 0;
	char *all = calloc(1, cap);
	assert_non_null(all);
	DIR *d = opendir(k->dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", k->dir, e->d_name);
		FILE *f = fopen(p, "rb");
		assert_non_null(f);
		len += fread(all + len, 1, cap - len - 1, f);
		fclose(f);
		(*count)++;
	}
	closedir(d);
	all[len] = 0;
	return all;
}

typedef struct session {
	const mox_smtp_client_tx *txs;
	const char *const *bodies;
	size_t ntx;
	/* Send txs[0] with bodies[0] this many times instead (0: no),
	 * counting outcomes instead of logging them. */
	size_t repeat;
	size_t done_ok, done_fail;
	char log[4096];
} session;

static void
addlog(session *s, const char *fmt, ...)
{
	size_t l = strlen(s->log);
	if (l > 0 && l < sizeof(s->log) - 1)
		s->log[l++] = ';';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->log + l, sizeof(s->log) - l, fmt, ap);
	va_end(ap);
}

static void
addresult(session *s, const char *what, const mox_smtp_client_result *r)
{
	addlog(s, "%s %s %s %d%s%s", what, mox_smtp_client_step_name(r->step),
	       mox_smtp_client_status_name(r->status), r->code, r->ecode[0] ? " " : "",
	       r->ecode);
}

static void
send_all(int fd, mox_smtp_client *c)
{
	size_t n;
	const uint8_t *o = mox_smtp_client_output(c, &n);
	while (n > 0) {
		ssize_t w = send(fd, o, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the peer hung up; the read side sees it */
		mox_smtp_client_output_consume(c, (size_t)w);
		o = mox_smtp_client_output(c, &n);
	}
}

/* One SMTP session: returns when the client says CLOSED. */
static void
run_session(int port, session *s)
{
	int fd = connect_to(port);
	assert_true(fd >= 0);
	mox_smtp_client_opts o = {.size = sizeof(o), .hostname = "client.example"};
	mox_smtp_client *c = NULL;
	assert_int_equal(mox_smtp_client_new(&c, &o), MOX_OK);
	size_t txi = 0;
	const char *body = NULL;
	size_t off = 0;
	bool streaming = false, closed = false;
	int64_t start = now_ms();
	while (!closed) {
		assert_true(now_ms() - start < 20000);
		mox_smtp_client_event ev;
		mox_err err;
		while (!closed &&
		       (err = mox_smtp_client_next(c, now_ms(), &ev)) == MOX_OK) {
			switch (ev.type) {
			case MOX_SMTP_CLIENT_EV_READY:
				if (s->repeat == 0)
					addlog(s, "READY");
				if (s->repeat > 0 && txi < s->repeat) {
					body = s->bodies[0];
					assert_int_equal(
					    mox_smtp_client_mail(c, &s->txs[0]),
					    MOX_OK);
					txi++;
				} else if (s->repeat == 0 && txi < s->ntx) {
					body = s->bodies[txi];
					assert_int_equal(
					    mox_smtp_client_mail(c, &s->txs[txi]),
					    MOX_OK);
					txi++;
				} else {
					assert_int_equal(mox_smtp_client_quit(c),
					                 MOX_OK);
				}
				break;
			case MOX_SMTP_CLIENT_EV_DATA:
				if (s->repeat == 0)
					addlog(s, "DATA");
				streaming = true;
				off = 0;
				break;
			case MOX_SMTP_CLIENT_EV_RCPT: {
				char w[32];
				snprintf(w, sizeof(w), "RCPT %zu", ev.u.rcpt.index);
				if (s->repeat == 0)
					addresult(s, w, &ev.u.rcpt.result);
				break;
			}
			case MOX_SMTP_CLIENT_EV_DONE: {
				if (ev.u.done.ok)
					s->done_ok++;
				else
					s->done_fail++;
				char w[32];
				snprintf(w, sizeof(w), "DONE %zu/%zu",
				         ev.u.done.rcpts_accepted,
				         ev.u.done.rcpts_tried);
				addresult(s, w, &ev.u.done.result);
				streaming = false;
				break;
			}
			case MOX_SMTP_CLIENT_EV_ERROR:
				addresult(s, "ERROR", &ev.u.error.result);
				streaming = false;
				break;
			case MOX_SMTP_CLIENT_EV_STARTTLS:
				fail_msg("smtp-sink offers no STARTTLS");
				break;
			case MOX_SMTP_CLIENT_EV_CLOSED:
				addlog(s, "CLOSED");
				closed = true;
				break;
			}
		}
		if (!closed)
			assert_int_equal(err, MOX_EAGAIN);
		/* Stream the message in 1000-byte pieces as output room
		 * allows. */
		while (streaming && body != NULL) {
			size_t left = strlen(body) - off;
			if (left == 0) {
				assert_int_equal(mox_smtp_client_data_end(c), MOX_OK);
				streaming = false;
				break;
			}
			size_t taken = 0;
			assert_int_equal(mox_smtp_client_data(c, body + off,
			                                      left > 1000 ? 1000 : left,
			                                      &taken),
			                 MOX_OK);
			off += taken;
			if (taken == 0)
				break;
			send_all(fd, c);
		}
		send_all(fd, c);
		if (closed)
			break;
		int64_t dl = mox_smtp_client_deadline(c);
		int64_t wait = 200;
		if (dl != INT64_MAX && dl - now_ms() < wait)
			wait = dl - now_ms() < 0 ? 0 : dl - now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)wait);
		if (pr > 0) {
			uint8_t buf[4096];
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r > 0)
				assert_int_equal(
				    mox_smtp_client_feed(c, buf, (size_t)r), MOX_OK);
			else
				mox_smtp_client_eof(c);
		}
	}
	mox_smtp_client_free(c);
	close(fd);
}

static const char body1[] = "From: <sender@example.com>\r\n"
                            "To: <a@example.org>\r\n"
                            "Subject: test one\r\n"
                            "\r\n"
                            "first line\n"
                            ".dot at start\n"
                            "..two dots\n"
                            "last line without newline";

static void
test_sink_success(void **state)
{
	(void)state;
	sink k;
	sink_start(&k, NULL);
	static const mox_smtp_client_rcpt rcpts[] = {
	    {.addr = "a@example.org",
	     .notify = MOX_SMTP_NOTIFY_FAILURE | MOX_SMTP_NOTIFY_DELAY,
	     .orcpt = "a@example.org"},
	    {.addr = "b@example.org"},
	};
	/* A message bigger than the output buffer and 8-bit. */
	size_t bign = 200 * 1024;
	char *big = malloc(bign + 100);
	assert_non_null(big);
	size_t l = (size_t)sprintf(big, "Subject: big caf\xc3\xa9\r\n\r\n");
	for (size_t i = 0; l < bign; i++)
		big[l++] = i % 70 == 69 ? '\n' : (char)('a' + i % 26);
	big[l] = 0;
	mox_smtp_client_tx txs[] = {
	    {.size = sizeof(txs[0]),
	     .from = "sender@example.com",
	     .rcpts = rcpts,
	     .nrcpts = 2,
	     .ret = MOX_SMTP_RET_HDRS,
	     .envid = "env+1"},
	    {.size = sizeof(txs[0]),
	     .from = "",
	     .rcpts = rcpts + 1,
	     .nrcpts = 1,
	     .has_8bit = true},
	};
	const char *bodies[] = {body1, big};
	session s = {.txs = txs, .bodies = bodies, .ntx = 2};
	run_session(k.port, &s);
	assert_string_equal(
	    s.log, "READY;RCPT 0 rcpt ok 250 2.1.5;RCPT 1 rcpt ok 250 2.1.5;DATA;"
	           "DONE 2/2 data-end ok 250 2.0.0;READY;"
	           "RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok 250 2.0.0;"
	           "READY;CLOSED");
	int count = 0;
	char *dumps = NULL;
	/* smtp-sink writes the dump after replying: give it a moment. */
	for (int i = 0; i < 100; i++) {
		free(dumps);
		dumps = sink_dumps(&k, &count);
		if (count == 2 && strstr(dumps, "last line without newline") != NULL &&
		    strstr(dumps, "Subject: big") != NULL)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(count, 2);
	/* The parameters as smtp-sink saw them. */
	assert_non_null(
	    strstr(dumps, "X-Mail-Args: <sender@example.com> RET=HDRS ENVID=env+2B1"));
	assert_non_null(strstr(dumps,
	                       "X-Rcpt-Args: <a@example.org> NOTIFY=FAILURE,DELAY "
	                       "ORCPT=rfc822;a@example.org"));
	assert_non_null(strstr(dumps, "X-Rcpt-Args: <b@example.org>\n"));
	assert_non_null(strstr(dumps, "X-Mail-Args: <> BODY=8BITMIME"));
	/* Dot-unstuffed by the sink: the message as given, lines intact. */
	assert_non_null(
	    strstr(dumps, "first line\n.dot at start\n..two dots\nlast line without "
	                  "newline\n"));
	assert_non_null(strstr(dumps, "Subject: big caf\xc3\xa9\n"));
	/* The big body arrived whole: count its lines. */
	size_t lines = 0;
	for (const char *p = strstr(dumps, "Subject: big"); p != NULL && *p; p++)
		if (*p == '\n')
			lines++;
	assert_true(lines >= bign / 70);
	free(dumps);
	free(big);
	sink_stop(&k);
}

typedef struct scenario {
	const char *name;
	const char *opts[6];
	bool has_8bit;
	const char *want;
} scenario;

static void
test_sink_refusals(void **state)
{
	(void)state;
	static const scenario sc[] = {
	    {"greeting refused",
	     {"-f", "CONNECT", NULL},
	     false,
	     "ERROR greeting permfail 500 5.3.0;CLOSED"},
	    {"EHLO refused: HELO",
	     {"-f", "EHLO", NULL},
	     false,
	     "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end ok 250 "
	     "2.0.0;READY;CLOSED"},
	    {"MAIL 5xx",
	     {"-f", "MAIL", NULL},
	     false,
	     "READY;DONE 0/1 mail permfail 500 5.3.0;READY;CLOSED"},
	    {"MAIL 4xx",
	     {"-r", "MAIL", NULL},
	     false,
	     "READY;DONE 0/1 mail tempfail 450 4.3.0;READY;CLOSED"},
	    {"RCPT 4xx",
	     {"-r", "RCPT", NULL},
	     false,
	     "READY;RCPT 0 rcpt tempfail 450 4.3.0;DONE 0/1 rcpt tempfail 450 "
	     "4.3.0;READY;CLOSED"},
	    {"RCPT 5xx, pipelined",
	     {"-B", "550 5.1.1 no such user", "-f", "RCPT", NULL},
	     false,
	     NULL},
	    {"DATA 5xx",
	     {"-f", "DATA", NULL},
	     false,
	     "READY;RCPT 0 rcpt ok 250 2.1.5;DONE 1/1 data permfail 500 "
	     "5.3.0;READY;CLOSED"},
	    {"end of data 4xx",
	     {"-r", ".", NULL},
	     false,
	     "READY;RCPT 0 rcpt ok 250 2.1.5;DATA;DONE 1/1 data-end tempfail 450 "
	     "4.3.0;READY;"
	     "CLOSED"},
	    {"RCPT 421",
	     {"-Q", "RCPT", NULL},
	     false,
	     "READY;ERROR rcpt tempfail 421 4.0.0;CLOSED"},
	    {"MAIL hang-up",
	     {"-q", "MAIL", NULL},
	     false,
	     "READY;ERROR mail connection 0;CLOSED"},
	    {"no 8BITMIME",
	     {"-8", NULL},
	     true,
	     "READY;DONE 0/1 mail unsupported 0 5.6.3;READY;CLOSED"},
	};
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		sink k;
		sink_start(&k, sc[i].opts);
		static const mox_smtp_client_rcpt r[] = {{.addr = "a@example.org"}};
		mox_smtp_client_tx tx = {.size = sizeof(tx),
		                         .from = "s@example.com",
		                         .rcpts = r,
		                         .nrcpts = 1,
		                         .has_8bit = sc[i].has_8bit};
		const char *bodies[] = {body1};
		session s = {.txs = &tx, .bodies = bodies, .ntx = 1};
		run_session(k.port, &s);
		const char *want = sc[i].want;
		if (want == NULL) /* -B changes the hard reply text and code */
			want = "READY;RCPT 0 rcpt permfail 550 5.1.1;DONE 0/1 rcpt "
			       "permfail 550 "
			       "5.1.1;READY;CLOSED";
		if (strcmp(s.log, want) != 0)
			fail_msg("%s:\n got: %s\nwant: %s", sc[i].name, s.log, want);
		sink_stop(&k);
	}
}

/* Many transactions on one connection: the state machine goes round
 * and round without leaking or losing a reply. Prints messages per
 * second (5 KB messages, pipelined MAIL/RCPT/DATA) as a rough figure;
 * bounded to 2000 messages and the 20-second session limit. */
static void
test_sink_many(void **state)
{
	(void)state;
	static const char *const opts[] = {"nodump", NULL};
	sink k;
	sink_start(&k, opts);
	char *msg = malloc(5200);
	assert_non_null(msg);
	size_t l = (size_t)sprintf(msg, "Subject: load\r\n\r\n");
	while (l < 5120)
		l += (size_t)sprintf(msg + l, "%s",
		                     "0123456789abcdefghijklmnopqrstuvwxyz0123456789abc"
		                     "defghijklmnopqrstuvw\r\n");
	static const mox_smtp_client_rcpt r[] = {{.addr = "a@example.org"}};
	mox_smtp_client_tx tx = {
	    .size = sizeof(tx), .from = "s@example.com", .rcpts = r, .nrcpts = 1};
	const char *bodies[] = {msg};
	session s = {.txs = &tx, .bodies = bodies, .ntx = 1, .repeat = 2000};
	int64_t t0 = now_ms();
	run_session(k.port, &s);
	int64_t t1 = now_ms();
	if (s.done_ok != 2000)
		fail_msg("%zu ok, %zu failed: %s", s.done_ok, s.done_fail, s.log);
	assert_int_equal(s.done_fail, 0);
	printf("test_client_sink: 2000 messages of %zu bytes in %lld ms: %.0f msg/s\n",
	       l, (long long)(t1 - t0),
	       2000.0 * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
	free(msg);
	sink_stop(&k);
}

static int
setup(void **state)
{
	(void)state;
	if (access(SINK, X_OK) != 0) {
		fprintf(stderr, "test_client_sink: %s missing (Debian postfix)\n",
		        SINK);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < 8; i++) {
		if (live[i] != 0) {
			int st;
			kill(live[i], SIGTERM);
			waitpid(live[i], &st, 0);
			live[i] = 0;
			rm_dir(live_dir[i]);
		}
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_success),
	    cmocka_unit_test(test_sink_refusals),
	    cmocka_unit_test(test_sink_many),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
