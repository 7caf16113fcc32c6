/* The ctl socket: admin commands to a running mox serve over the unix
 * socket <DataDir>/ctl (mode 0600, owned by the mox user; connections
 * from other users than root and the server's own are refused after a
 * SO_PEERCRED check).
 *
 * Protocol (ours; mox's is also line based but different):
 *   request:  one argument per line (no CR or LF inside, not empty), the
 *             first being the command; an empty line ends the request.
 *   response: any number of output lines "> text", then one final line:
 *             "ok", or "err message".
 * One connection may carry several requests. After "ok" to "stop" the
 * server closes the connection when it exits, so "mox stop" returns once
 * the server is gone. Requests are bounded (CTL_REQ_MAX bytes,
 * CTL_ARGS_MAX arguments); a bad request gets an "err" line.
 *
 * Commands:
 *   stop
 *   loglevels                       "> level;pkg=level;..."
 *   loglevels LEVEL [PKG]           set the default level or a package's
 *   setaccountpassword ACCOUNT|ADDRESS PASSWORD
 *   config account add ACCOUNT ADDRESS | config account rm ACCOUNT
 *   config address add ADDRESS ACCOUNT | config address rm ADDRESS
 *   config domain add DOMAIN ACCOUNT [LOCALPART] | config domain rm DOMAIN
 *   queue kick [-id ID] [-todomain D] [-recipient R] [-transport T]
 * The config commands change domains.conf through the edit functions of
 * config.h (written atomically, comments kept) and swap the result in at
 * once: no restart. */
#define _GNU_SOURCE /* struct ucred */
#include "ctl.h"
#include "fdio.h"
#include "log.h"
#ifdef MOX_HAVE_QUEUE
#include "queue.h"
#endif

#include <mox/store.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_REQ_MAX (64 * 1024)
#define CTL_ARGS_MAX 32

struct ctl_server {
	uv_pipe_t pipe;
	serve *sv;
	char path[PATH_MAX];
};

typedef struct ctl_conn {
	uv_pipe_t pipe;
	ctl_server *cs;
	mox_buf in;
	bool closing;
} ctl_conn;

/* ---- server side ---- */

static void
conn_closed(uv_handle_t *h)
{
	ctl_conn *c = h->data;
	mox_buf_free(&c->in);
	free(c);
}

static void
conn_end(ctl_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

typedef struct wreq {
	uv_write_t w;
	char data[];
} wreq;

static void
write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
send_text(ctl_conn *c, const char *text, size_t len)
{
	if (c->closing || len == 0)
		return;
	wreq *r = malloc(sizeof(*r) + len);
	if (r == NULL)
		return;
	memcpy(r->data, text, len);
	uv_buf_t b = uv_buf_init(r->data, (unsigned)len);
	if (uv_write(&r->w, (uv_stream_t *)&c->pipe, &b, 1, write_done) != 0)
		free(r);
}

/* The response being built: output lines, then the verdict. */
typedef struct resp {
	mox_buf out;
	char err[512];
} resp;

static void out_line(resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
out_line(resp *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	mox_buf_appendf(&r->out, "> %s\n", line);
}

static void
config_errs(resp *r, const char *what, mox_err rc, const mox_config_errors *errs)
{
	size_t n = snprintf(r->err, sizeof(r->err), "%s", what);
	for (size_t i = 0; i < errs->n && n < sizeof(r->err); i++) {
		if (errs->v[i].warning)
			continue;
		n += snprintf(r->err + n, sizeof(r->err) - n, ": %s", errs->v[i].msg);
	}
	if (errs->nerrors == 0 && n < sizeof(r->err))
		snprintf(r->err + n, sizeof(r->err) - n, ": %s", mox_strerror(rc));
}

static void
cmd_loglevels(resp *r, char **a, size_t n)
{
	if (n == 1) {
		char buf[1024];
		mlog_levels_format(buf, sizeof(buf));
		out_line(r, "%s", buf);
		return;
	}
	mlog_level level;
	if (n > 3 || !mlog_level_parse(a[1], &level)) {
		snprintf(r->err, sizeof(r->err), "unknown log level \"%s\"", a[1]);
		return;
	}
	if (n == 2) {
		mlog_set_level(-1, level);
		mlog("info", 0, "default log level set level=%s", a[1]);
		return;
	}
	mlog_pkg pkg;
	if (!mlog_pkg_parse(a[2], &pkg)) {
		snprintf(r->err, sizeof(r->err), "unknown package \"%s\"", a[2]);
		return;
	}
	mlog_set_level((int)pkg, level);
	mlog("info", 0, "log level set package=%s level=%s", a[2], a[1]);
}

static void
cmd_setaccountpassword(serve *sv, resp *r, char **a, size_t n)
{
	if (n != 3) {
		snprintf(r->err, sizeof(r->err),
		         "usage: setaccountpassword account password");
		return;
	}
	mox_config_dynamic *dyn = mox_config_live_get(serve_live(sv));
	const mox_cfg_account *acc = strchr(a[1], '@') != NULL
	                                 ? mox_config_address_find(dyn, a[1], NULL)
	                                 : mox_config_account_find(dyn, a[1]);
	char name[256] = "";
	if (acc != NULL)
		snprintf(name, sizeof(name), "%s", acc->name);
	mox_config_dynamic_unref(dyn);
	if (name[0] == '\0') {
		snprintf(r->err, sizeof(r->err), "no account for \"%s\"", a[1]);
		return;
	}
	mox_store *store = NULL;
	if (serve_account_store(sv, name, &store, r->err, sizeof(r->err)) != 0)
		return;
	mox_err err = mox_store_password_set(store, a[2]);
	if (err != MOX_OK) {
		snprintf(r->err, sizeof(r->err), "setting password: %s",
		         mox_strerror(err));
		return;
	}
	mlog("info", 0, "account password changed account=%s", name);
}

static void
cmd_config(serve *sv, resp *r, char **a, size_t n)
{
	/* a[0] "config", a[1] account|address|domain, a[2] add|rm */
	if (n < 4) {
		snprintf(r->err, sizeof(r->err),
		         "usage: config account|address|domain add|rm ...");
		return;
	}
	const char *what = a[1];
	bool add = strcmp(a[2], "add") == 0;
	if (!add && strcmp(a[2], "rm") != 0) {
		snprintf(r->err, sizeof(r->err), "unknown config operation \"%s\"",
		         a[2]);
		return;
	}
	const mox_config_static *st = serve_static(sv);
	mox_config_live *live = serve_live(sv);
	mox_config_dynamic *cur = mox_config_live_get(live);
	mox_config_dynamic *nd = NULL;
	mox_config_errors errs = {0};
	mox_err rc = MOX_EINVAL;
	bool usage = false;
	if (strcmp(what, "account") == 0) {
		if (add && n == 5)
			rc = mox_config_account_add(st, cur, a[3], a[4], &nd, &errs);
		else if (!add && n == 4)
			rc = mox_config_account_remove(st, cur, a[3], &nd, &errs);
		else
			usage = true;
	} else if (strcmp(what, "address") == 0) {
		if (add && n == 5)
			rc = mox_config_address_add(st, cur, a[3], a[4], &nd, &errs);
		else if (!add && n == 4)
			rc = mox_config_address_remove(st, cur, a[3], &nd, &errs);
		else
			usage = true;
	} else if (strcmp(what, "domain") == 0) {
		if (add && (n == 5 || n == 6))
			rc = mox_config_domain_add(st, cur, a[3], a[4],
			                           n == 6 ? a[5] : NULL, &nd, &errs);
		else if (!add && n == 4)
			rc = mox_config_domain_remove(st, cur, a[3], &nd, &errs);
		else
			usage = true;
	} else {
		snprintf(r->err, sizeof(r->err), "unknown config command \"%s\"", what);
		mox_config_dynamic_unref(cur);
		return;
	}
	mox_config_dynamic_unref(cur);
	if (usage) {
		snprintf(
		    r->err, sizeof(r->err),
		    "usage: config account add account address | account rm account | "
		    "address add address account | address rm address | domain add "
		    "domain "
		    "account [localpart] | domain rm domain");
	} else if (rc != MOX_OK || nd == NULL) {
		char w[64];
		snprintf(w, sizeof(w), "%s %s", what, add ? "add" : "rm");
		config_errs(r, w, rc, &errs);
		mox_config_dynamic_unref(nd);
	} else {
		mox_config_live_swap(live, nd);
		mlog("info", 0,
		     "domains.conf changed by ctl command=\"config %s %s %s\"", what,
		     a[2], a[3]);
		if (!add && strcmp(what, "account") == 0)
			serve_account_forget(sv, a[3]);
	}
	mox_config_errors_clear(&errs);
}

static void
cmd_queue(serve *sv, resp *r, char **a, size_t n)
{
#ifdef MOX_HAVE_QUEUE
	struct queue *q = serve_queue(sv);
	if (n < 2 || strcmp(a[1], "kick") != 0) {
		snprintf(r->err, sizeof(r->err),
		         "usage: queue kick [-id id] [-todomain domain] "
		         "[-recipient address] [-transport name]");
		return;
	}
	if (q == NULL) {
		snprintf(r->err, sizeof(r->err), "queue not running");
		return;
	}
	queue_filter f;
	memset(&f, 0, sizeof(f));
	f.transport = NULL;
	const char *transport = NULL;
	for (size_t i = 2; i < n; i += 2) {
		if (i + 1 >= n) {
			snprintf(r->err, sizeof(r->err), "missing value for %s", a[i]);
			return;
		}
		if (strcmp(a[i], "-id") == 0) {
			char *end;
			errno = 0;
			long long v = strtoll(a[i + 1], &end, 10);
			if (errno != 0 || *end != '\0' || v <= 0) {
				snprintf(r->err, sizeof(r->err), "bad id \"%s\"",
				         a[i + 1]);
				return;
			}
			f.id = v;
		} else if (strcmp(a[i], "-todomain") == 0) {
			f.to_domain = a[i + 1];
		} else if (strcmp(a[i], "-recipient") == 0) {
			f.recipient = a[i + 1];
		} else if (strcmp(a[i], "-transport") == 0) {
			transport = a[i + 1];
		} else {
			snprintf(r->err, sizeof(r->err), "unknown flag \"%s\"", a[i]);
			return;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	size_t count = 0;
	if (queue_store_kick(queue_get_store(q), &f, transport, now, &count, r->err,
	                     sizeof(r->err)) != MOX_OK)
		return;
	queue_wake(q);
	out_line(r, "%zu message(s) marked for immediate delivery", count);
#else
	(void)sv;
	(void)a;
	(void)n;
	snprintf(r->err, sizeof(r->err), "built without the queue");
#endif
}

/* Run one request; true when the connection should wait for the end of
 * the server (stop). */
static bool
run(ctl_conn *c, char **a, size_t n)
{
	serve *sv = c->cs->sv;
	resp r;
	memset(&r, 0, sizeof(r));
	mox_buf_init(&r.out, NULL);
	bool stop = false;
	const char *cmd = a[0];
	if (strcmp(cmd, "stop") == 0 && n == 1) {
		stop = true;
	} else if (strcmp(cmd, "loglevels") == 0) {
		cmd_loglevels(&r, a, n);
	} else if (strcmp(cmd, "setaccountpassword") == 0) {
		cmd_setaccountpassword(sv, &r, a, n);
	} else if (strcmp(cmd, "config") == 0) {
		cmd_config(sv, &r, a, n);
	} else if (strcmp(cmd, "queue") == 0) {
		cmd_queue(sv, &r, a, n);
	} else {
		snprintf(r.err, sizeof(r.err), "unknown command \"%s\"", cmd);
	}
	mlogf(MLOG_PKG_CTL, MLOG_INFO, 0, "ctl command cmd=%s result=\"%s\"", cmd,
	      r.err[0] ? r.err : "ok");
	if (r.err[0] != '\0') {
		for (char *p = r.err; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		mox_buf_appendf(&r.out, "err %s\n", r.err);
	} else {
		mox_buf_appendf(&r.out, "ok\n");
	}
	if (r.out.data != NULL)
		send_text(c, (const char *)r.out.data, r.out.len);
	mox_buf_free(&r.out);
	if (stop)
		serve_stop(sv);
	return stop;
}

/* Take complete requests from the input. */
static void
process(ctl_conn *c)
{
	for (;;) {
		/* A request ends at "\n\n" (or at a first empty line). */
		const char *d = (const char *)c->in.data;
		size_t len = c->in.len, end = 0;
		bool found = false;
		for (size_t i = 0; i < len; i++) {
			if (d[i] == '\n' && (i == 0 || d[i - 1] == '\n')) {
				end = i + 1;
				found = true;
				break;
			}
		}
		if (!found)
			return;
		char *req = malloc(end + 1);
		if (req == NULL) {
			conn_end(c);
			return;
		}
		memcpy(req, d, end);
		req[end] = '\0';
		mox_buf_consume(&c->in, end);
		char *args[CTL_ARGS_MAX];
		size_t n = 0;
		bool bad = false;
		for (char *line = req, *nl;
		     (nl = strchr(line, '\n')) != NULL && nl != line; line = nl + 1) {
			*nl = '\0';
			if (n == CTL_ARGS_MAX || strchr(line, '\r') != NULL) {
				bad = true;
				break;
			}
			args[n++] = line;
		}
		if (bad || n == 0) {
			static const char e[] = "err bad request\n";
			send_text(c, e, sizeof(e) - 1);
		} else if (run(c, args, n)) {
			free(req);
			uv_read_stop((uv_stream_t *)&c->pipe);
			return; /* closed when the server exits */
		}
		free(req);
	}
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	static char slab[4096];
	(void)suggested;
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	ctl_conn *c = s->data;
	if (nread < 0) {
		conn_end(c);
		return;
	}
	if (nread == 0)
		return;
	if (c->in.len + (size_t)nread > CTL_REQ_MAX ||
	    mox_buf_append(&c->in, buf->base, (size_t)nread) != MOX_OK) {
		static const char e[] = "err request too long\n";
		send_text(c, e, sizeof(e) - 1);
		conn_end(c);
		return;
	}
	process(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
	ctl_server *cs = server->data;
	if (status != 0)
		return;
	ctl_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->cs = cs;
	mox_buf_init(&c->in, NULL);
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		conn_end(c);
		return;
	}
	/* Only root and the server's own user (the socket's mode already
	 * keeps others out; this holds also if the mode is changed). */
	uv_os_fd_t fd;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		mlogf(MLOG_PKG_CTL, MLOG_INFO, 0, "ctl connection refused uid=%d",
		      cl == sizeof(cred) ? (int)cred.uid : -1);
		static const char e[] = "err permission denied\n";
		send_text(c, e, sizeof(e) - 1);
		conn_end(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_read);
}

ctl_server *
ctl_listen(uv_loop_t *loop, serve *sv, const char *path, char *errbuf, size_t errlen)
{
	ctl_server *cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	struct sockaddr_un sun;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(errbuf, errlen, "%s: path too long for a unix socket", path);
		free(cs);
		return NULL;
	}
	cs->sv = sv;
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	unlink(path); /* left by an earlier run */
	uv_pipe_init(loop, &cs->pipe, 0);
	cs->pipe.data = cs;
	/* Made with mode 0600 from the start, then checked by chmod. */
	mode_t old = umask(077);
	int rc = uv_pipe_bind(&cs->pipe, path);
	umask(old);
	if (rc == 0 && chmod(path, 0600) != 0)
		rc = uv_translate_sys_error(errno);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&cs->pipe, 16, on_connection);
	if (rc != 0) {
		snprintf(errbuf, errlen, "%s: %s", path, uv_strerror(rc));
		uv_close((uv_handle_t *)&cs->pipe, NULL);
		return NULL; /* cs is freed with the process (handle closing) */
	}
	return cs;
}

void
ctl_close(ctl_server *cs)
{
	unlink(cs->path);
	/* The handle goes with the loop at exit. */
}

/* ---- client side ---- */

static int
ctl_connect(char *why, size_t whylen)
{
	const char *path = mox_config_default_path();
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	if (mox_config_static_load(path, &st, &errs) != MOX_OK) {
		snprintf(why, whylen, "loading %s: %s", path,
		         errs.n > 0 ? errs.v[0].msg : "failed");
		mox_config_errors_clear(&errs);
		return -1;
	}
	mox_config_errors_clear(&errs);
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctl", st->data_dir);
	mox_config_static_free(st);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "ctl socket path too long");
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(why, whylen, "connecting to %s: %s (is mox serve running?)",
		         sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
ctl_request(const char *const *args, size_t nargs, bool wait_close, char *why,
            size_t whylen)
{
	for (size_t i = 0; i < nargs; i++) {
		if (args[i][0] == '\0' || strpbrk(args[i], "\r\n") != NULL) {
			fprintf(stderr, "mox: arguments must not be empty or contain "
			                "line breaks\n");
			return 2;
		}
	}
	int fd = ctl_connect(why, whylen);
	if (fd < 0)
		return -1;
	mox_buf req = MOX_BUF_INIT;
	for (size_t i = 0; i < nargs; i++)
		mox_buf_appendf(&req, "%s\n", args[i]);
	mox_buf_appendf(&req, "\n");
	if (req.data == NULL || fdio_write_all(fd, (const char *)req.data, req.len) != 0) {
		if (req.data != NULL)
			mox_mem_wipe(req.data, req.len);
		mox_buf_free(&req);
		close(fd);
		snprintf(why, whylen, "writing to the ctl socket: %s", strerror(errno));
		return -1;
	}
	mox_mem_wipe(req.data, req.len); /* may hold a password */
	mox_buf_free(&req);
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return 1;
	}
	int rc = 1;
	bool done = false;
	char line[4096];
	while (!done && fgets(line, sizeof(line), f) != NULL) {
		size_t l = strlen(line);
		if (l > 0 && line[l - 1] == '\n')
			line[--l] = '\0';
		if (strncmp(line, "> ", 2) == 0) {
			printf("%s\n", line + 2);
		} else if (strcmp(line, "ok") == 0) {
			rc = 0;
			done = true;
		} else if (strncmp(line, "err ", 4) == 0) {
			fprintf(stderr, "mox %s: %s\n", args[0], line + 4);
			done = true;
		} else {
			fprintf(stderr, "mox %s: unexpected response from server: %s\n",
			        args[0], line);
			done = true;
		}
	}
	if (!done)
		fprintf(stderr, "mox %s: connection closed without a response\n",
		        args[0]);
	if (rc == 0 && wait_close) {
		/* The server closes the connection when it has exited. */
		while (fgets(line, sizeof(line), f) != NULL)
			;
	}
	fclose(f);
	fflush(stdout);
	return rc;
}

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: mox stop\n"
	    "       mox loglevels [level [pkg]]\n"
	    "       mox setaccountpassword account|address   (password on stdin)\n"
	    "       mox config account add account address\n"
	    "       mox config account rm account\n"
	    "       mox config address add address account\n"
	    "       mox config address rm address\n"
	    "       mox config domain add domain account [localpart]\n"
	    "       mox config domain rm domain\n"
	    "       mox queue kick [-id id] [-todomain domain] [-recipient address] "
	    "[-transport name]\n");
}

int
ctl_cmd_main(int argc, char **argv, bool fallback)
{
	const char *cmd = argv[0];
	const char *args[CTL_ARGS_MAX];
	size_t n = 0;
	bool wait_close = false;
	char pw[1024];
	pw[0] = '\0';
	if (argc > CTL_ARGS_MAX - 1) {
		usage();
		return 2;
	}
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	if (strcmp(cmd, "stop") == 0) {
		if (argc != 1) {
			usage();
			return 2;
		}
		wait_close = true;
	} else if (strcmp(cmd, "loglevels") == 0) {
		if (argc > 3) {
			usage();
			return 2;
		}
	} else if (strcmp(cmd, "setaccountpassword") == 0) {
		if (argc != 2) {
			usage();
			return 2;
		}
		/* Before reading the password: the caller's fallback reads it. */
		char why0[512];
		int fd = ctl_connect(why0, sizeof(why0));
		if (fd < 0) {
			if (fallback)
				return -1;
			fprintf(stderr, "mox %s: %s\n", cmd, why0);
			return 1;
		}
		close(fd);
		if (isatty(0))
			fprintf(stderr, "password: ");
		if (fgets(pw, sizeof(pw), stdin) == NULL) {
			fprintf(stderr,
			        "mox setaccountpassword: no password on stdin\n");
			return 1;
		}
		pw[strcspn(pw, "\r\n")] = '\0';
		if (pw[0] == '\0') {
			fprintf(stderr, "mox setaccountpassword: empty password\n");
			return 1;
		}
		args[n++] = pw;
	} else if (strcmp(cmd, "config") == 0 || strcmp(cmd, "queue") == 0) {
		if (argc < (strcmp(cmd, "queue") == 0 ? 2 : 3)) {
			usage();
			return 2;
		}
	} else {
		usage();
		return 2;
	}
	char why[512] = "";
	int rc = ctl_request(args, n, wait_close, why, sizeof(why));
	mox_mem_wipe(pw, sizeof(pw));
	if (rc == -1) {
		if (fallback)
			return -1;
		fprintf(stderr, "mox %s: %s\n", cmd, why);
		return 1;
	}
	return rc;
}
