/* mox localserve: a mail server for testing other software, no setup.
 *
 * First start makes the data directory (default $HOME/.config/
 * mox-localserve, or -dir) with the account "mox" (login mox@localhost,
 * password "moxmoxmox"), a self-signed certificate for localhost, and
 * listens on loopback at the usual ports + 1000 (DESIGN.md): SMTP 1025,
 * submission 1587 (STARTTLS), submissions 1465 (implicit TLS), IMAP 1143
 * (STARTTLS), IMAPS 1993 (implicit TLS). Mail for
 * any address is accepted into the account's Inbox. */
#include "localserve.h"
#include "net.h"

#include <mox/smtp.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	mlog("info", 0, "signal %d, stopping", signum);
	uv_stop(s->loop);
}

static void
usage(void)
{
	fprintf(stderr, "usage: mox localserve [-dir DIR] [-ip IP]\n");
}

int
localserve_main(int argc, char **argv)
{
	const char *dir = NULL, *ip = "127.0.0.1";
	mlog_init_env(); /* MOX_LOGLEVELS, log.h */
	char defdir[PATH_MAX];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "-ip") == 0 && i + 1 < argc) {
			ip = argv[++i];
		} else {
			usage();
			return 2;
		}
	}
	if (dir == NULL) {
		const char *home = getenv("HOME");
		snprintf(defdir, sizeof(defdir), "%s/.config/mox-localserve",
			 home != NULL ? home : ".");
		dir = defdir;
	}
	localserve ls;
	memset(&ls, 0, sizeof(ls));
	snprintf(ls.dir, sizeof(ls.dir), "%s", dir);
	char path[PATH_MAX + 64], cert[PATH_MAX + 64], key[PATH_MAX + 64], err[512];
	snprintf(path, sizeof(path), "%s/accounts/mox", dir);
	if (mkdirs(path) != 0) {
		fprintf(stderr, "mox localserve: making %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(cert, sizeof(cert), "%s/localhost.crt", dir);
	snprintf(key, sizeof(key), "%s/localhost.key", dir);
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
		static const char *const names[] = {"localhost", "mox.localhost"};
		if (tls_selfsigned_write(cert, key, names, 2, err, sizeof(err)) != 0) {
			fprintf(stderr, "mox localserve: certificate: %s\n", err);
			return 1;
		}
		mlog("info", 0, "made self-signed certificate %s", cert);
	}
	if (tls_config_init(&ls.tls, cert, key, err, sizeof(err)) != 0) {
		fprintf(stderr, "mox localserve: tls: %s\n", err);
		return 1;
	}
	if (localserve_account_open(&ls, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "mox localserve: account: %s\n", err);
		tls_config_free(&ls.tls);
		return 1;
	}

	uv_loop_t *loop = uv_default_loop();
	ls.loop = loop;
	/* Limits against abuse (net.h) with mox's values, except that
	 * localserve, a test server on loopback, lets one address open many
	 * connections quickly (load tests run from 127.0.0.1); tests set
	 * them with MOX_LOCALSERVE_LIMITS, e.g. "conns_ip=3,command=2s". */
	static net_limits limits;
	static mox_smtp_limits smtp_limits;
	net_limits_default(&limits);
	net_limits_parse(&limits, "conns_ip=1000,rate_ip=1000000", err, sizeof(err));
	const char *lim = getenv("MOX_LOCALSERVE_LIMITS");
	int lrc = lim != NULL ? net_limits_parse(&limits, lim, err, sizeof(err)) : 0;
	if (lrc == 0 && (lrc = net_limits_init(&limits)) != 0)
		snprintf(err, sizeof(err), "out of memory");
	if (lrc != 0) {
		fprintf(stderr, "mox localserve: MOX_LOCALSERVE_LIMITS: %s\n", err);
		localserve_account_close(&ls);
		tls_config_free(&ls.tls);
		return 1;
	}
	mox_smtp_limits_default(&smtp_limits);
	if (limits.command_timeout_ms > 0)
		smtp_limits.command_timeout_ms = limits.command_timeout_ms;
	if (limits.data_timeout_ms > 0)
		smtp_limits.data_timeout_ms = limits.data_timeout_ms;
	ls.limits = &limits;
	ls.smtp_limits = &smtp_limits;
	localserve_env_init(&ls);
	static const struct {
		const char *name;
		uint16_t port;
		int kind;
	} ports[] = {
		{"smtp", 1025, LOCALSERVE_SMTP},
		{"submission", 1587, LOCALSERVE_SUBMISSION},
		{"submissions", 1465, LOCALSERVE_SUBMISSIONS},
		{"imap", 1143, LOCALSERVE_IMAP},
		{"imaps", 1993, LOCALSERVE_IMAPS},
	};
	const size_t nports = sizeof(ports) / sizeof(ports[0]);
	listener *ls_l = calloc(nports, sizeof(*ls_l));
	int rc = 0;
	for (size_t i = 0; i < nports && rc == 0; i++) {
		listener *l = &ls_l[i];
		snprintf(l->name, sizeof(l->name), "%s", ports[i].name);
		l->proto = ports[i].kind >= LOCALSERVE_IMAP ? localserve_imap_proto(&ls)
							    : localserve_smtp_proto(&ls, ports[i].kind);
		l->starttls = ports[i].kind != LOCALSERVE_SUBMISSIONS ? &ls.tls : NULL;
		l->implicit_tls = ports[i].kind == LOCALSERVE_SUBMISSIONS ? &ls.tls : NULL;
		l->limits = &limits;
		l->refuse_fmt = "421 4.7.0 %s\r\n"; /* as mox */
		l->authfail_at_connect = ports[i].kind != LOCALSERVE_SMTP;
		l->log_pkg = MLOG_PKG_SMTPSERVER;
		l->trace_kind = NET_TRACE_SMTP;
		if (ports[i].kind == LOCALSERVE_IMAP || ports[i].kind == LOCALSERVE_IMAPS) {
			l->starttls = ports[i].kind == LOCALSERVE_IMAP ? &ls.tls : NULL;
			l->implicit_tls = ports[i].kind == LOCALSERVE_IMAPS ? &ls.tls : NULL;
			l->refuse_fmt = "* BYE %s\r\n";
			l->authfail_at_connect = true;
			l->log_pkg = MLOG_PKG_IMAPSERVER;
			l->trace_kind = NET_TRACE_OTHER;
		}
		uint16_t port = ports[i].port;
		const char *off = getenv("MOX_LOCALSERVE_PORT_OFFSET");
		if (off != NULL)
			port = (uint16_t)(port + atoi(off)); /* tests: free ports */
		if (listener_start(loop, l, ip, port, err, sizeof(err)) != 0) {
			fprintf(stderr, "mox localserve: %s\n", err);
			rc = 1;
		} else {
			mlog("info", 0, "listening for %s on %s port %u", l->name, ip, port);
		}
	}
	if (rc == 0) {
		printf("mox localserve: data in %s\n"
		       "account: mox@localhost (or any address), password: moxmoxmox\n"
		       "smtp 1025, submission 1587 (starttls), submissions 1465 (tls)\n"
		       "imap 1143 (starttls), imaps 1993 (tls)\n",
		       dir);
		fflush(stdout);
		uv_signal_t sigint, sigterm;
		uv_signal_init(loop, &sigint);
		uv_signal_init(loop, &sigterm);
		uv_signal_start(&sigint, on_signal, SIGINT);
		uv_signal_start(&sigterm, on_signal, SIGTERM);
		signal(SIGPIPE, SIG_IGN);
		uv_run(loop, UV_RUN_DEFAULT);
	}
	localserve_account_close(&ls);
	tls_config_free(&ls.tls);
	/* Handles are not closed one by one: the process ends here. */
	return rc;
}
