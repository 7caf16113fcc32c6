/* mox: the one front door. Commands of a standard ("mox dns ...") run the
 * standalone tool mox-<standard>, found next to this binary (build tree) or
 * in the libexec directory (installed), as git runs its subcommands. The
 * server commands (serve, localserve, queue, ...) come with their issues. */
#include <mox/core.h>
#include <mox/dns.h>

#ifdef MOX_HAVE_LOCALSERVE
#include "localserve.h"
#endif
#include "config.h"
#ifdef MOX_HAVE_QUICKSTART
#include "quickstart.h"
#endif
#ifdef MOX_HAVE_SERVE
#include "ctl.h"
#endif
#ifdef MOX_HAVE_QUEUE
#include "queue.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MOX_LIBEXECDIR
#define MOX_LIBEXECDIR "/usr/local/libexec/mox"
#endif


static void
usage(FILE *f)
{
	fprintf(f, "usage: mox <command> [args]\n\n"
		   "commands:\n"
		   "  version                        print the version of mox and its libraries\n"
#ifdef MOX_HAVE_LOCALSERVE
		   "  localserve [-dir DIR]          a local mail server for testing: SMTP 1025,\n"
		   "                                 submission 1587, submissions 1465\n"
#endif
		   "  help                           this text\n"
#ifdef MOX_HAVE_SERVE
		   "  serve                          the mail server of mox.conf (-config FILE)\n"
		   "  stop                           stop the running server (ctl socket)\n"
		   "  loglevels [level [pkg]]        print or set the running server's log levels\n"
		   "  setaccountpassword ACCOUNT     set a password (stdin), through the server\n"
		   "  config account add|rm ...      change accounts, addresses and domains of the\n"
		   "  config address add|rm ...      running server (domains.conf)\n"
		   "  config domain add|rm ...\n"
#endif
#ifdef MOX_HAVE_QUEUE
		   "  queue list|dump|drop|kick|hold|release ...  the outgoing queue (-datadir DIR)\n"
#endif
		   "  config test                    check mox.conf and domains.conf (-config FILE or\n"
		   "                                 MOXCONF; default config/mox.conf)\n"
		   "  config describe-static         annotated example mox.conf\n"
		   "  config describe-domains        annotated example domains.conf\n"
		   "  config dnsrecords DOMAIN       the DNS records DOMAIN needs, as a zone file\n"
#ifdef MOX_HAVE_QUICKSTART
		   "  quickstart [-dir DIR] [-hostname HOST] [-ip IP]... user@domain [user|uid]\n"
		   "                                 write a config, DKIM keys and an account\n"
#endif
		   "  dns lookup TYPE NAME           DNS lookup through MOX_RESOLVER or /etc/resolv.conf\n"
		   "  dns orgdomain NAME             organizational domain (public suffix list)\n"
		   "  dns idna NAME                  A-label and U-label forms of a name\n"
		   "  spf check DOMAIN IP            evaluate the SPF policy of DOMAIN for IP\n"
		   "  spf lookup DOMAIN              print the SPF record of DOMAIN\n"
		   "  spf parse TXTRECORD            parse an SPF record; prints nothing if valid\n"
		   "  dmarc lookup DOMAIN            the DMARC record that applies to DOMAIN\n"
		   "  dmarc parsereportmsg FILE ...  aggregate reports in messages, as JSON\n"
		   "  dnsbl check ZONE IP            is IP listed in the DNS blocklist ZONE?\n"
		   "  dnsbl checkhealth ZONE         RFC 5782 health check of ZONE\n"
		   "  message parse [-json] FILE     the MIME part tree of a message\n"
		   "  message part FILE SECTION      a part's decoded content (IMAP section)\n"
		   "  import maildir|mbox ...        import messages into an account\n"
		   "  export maildir|mbox ...        export an account's messages\n"
		   "  backup DESTDIR                 consistent backup of the accounts\n"
		   "  verifydata [-fix] DATADIR      check accounts: rows, files, UIDs\n"
		   "\n"
		   "Each standard's commands are a small program, mox-<standard>, that\n"
		   "\"mox <standard> help\" describes.\n");
}

static int
run_tool(const char *name, int argc, char **argv)
{
	char path[PATH_MAX], self[PATH_MAX], builddir[PATH_MAX] = "";
	/* In a build tree mox is build/server/mox and the tools are in
	 * build/tools; installed, they are in the libexec directory. */
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(builddir, sizeof(builddir), "%s/../tools", self);
		}
	}
	const char *dirs[] = {builddir, MOX_LIBEXECDIR};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (dirs[i][0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/mox-%s", dirs[i], name);
		if (access(path, X_OK) != 0)
			continue;
		argv[0] = path;
		(void)argc;
		execv(path, argv);
		fprintf(stderr, "mox: exec %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(stderr, "mox: tool mox-%s not found in %s\n", name, MOX_LIBEXECDIR);
	return 1;
}

int
main(int argc, char **argv)
{
	/* libuv's threadpool (default 4 threads) runs each delivery's fsyncs
	 * and each queue attempt: with 4, at most 4 deliveries are in flight
	 * and group commits stay small (measured: concurrency 50 went from
	 * 324 to 632 msg/s with 64). Set before the first uv_queue_work. */
	setenv("UV_THREADPOOL_SIZE", "64", 0);
	/* mox's global flag: -config path/to/mox.conf (as MOXCONF). */
	while (argc >= 3 && (strcmp(argv[1], "-config") == 0 || strcmp(argv[1], "--config") == 0)) {
		setenv("MOXCONF", argv[2], 1);
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
#ifdef MOX_HAVE_SERVE
	/* mox serve and the commands for a running server (ctl socket). */
	if (strcmp(cmd, "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "loglevels") == 0 ||
	    (strcmp(cmd, "config") == 0 && argc >= 3 &&
	     (strcmp(argv[2], "account") == 0 || strcmp(argv[2], "address") == 0 ||
	      strcmp(argv[2], "domain") == 0)))
		return ctl_cmd_main(argc - 1, argv + 1, false);
	/* Without flags through the server when one runs, else on the files. */
	if ((strcmp(cmd, "setaccountpassword") == 0 && argc == 3 && argv[2][0] != '-') ||
	    (strcmp(cmd, "queue") == 0 && argc >= 3 && strcmp(argv[2], "kick") == 0 &&
	     getenv("MOX_DATADIR") == NULL)) {
		bool datadir = false;
		for (int i = 2; i < argc; i++)
			datadir = datadir || strcmp(argv[i], "-datadir") == 0;
		int rc = datadir ? -1 : ctl_cmd_main(argc - 1, argv + 1, true);
		if (rc != -1)
			return rc;
	}
#endif
	if (strcmp(cmd, "config") == 0)
		return mox_config_cmd_main(argc - 1, argv + 1);
#ifdef MOX_HAVE_QUICKSTART
	if (strcmp(cmd, "quickstart") == 0)
		return mox_quickstart_main(argc - 1, argv + 1);
#endif
#ifdef MOX_HAVE_QUEUE
	if (strcmp(cmd, "queue") == 0)
		return queue_cli_main(argc - 1, argv + 1);
#endif
	if (strcmp(cmd, "version") == 0) {
		unsigned c = mox_core_version(), d = mox_dns_version();
		printf("mox-c %s\nlibmoxcore %u.%u.%u\nlibmoxdns %u.%u.%u\n", MOX_VERSION,
		       c >> 16, (c >> 8) & 0xff, c & 0xff, d >> 16, (d >> 8) & 0xff,
		       d & 0xff);
		return 0;
	}
#ifdef MOX_HAVE_LOCALSERVE
	if (strcmp(cmd, "localserve") == 0)
		return localserve_main(argc - 1, argv + 1);
#endif
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	/* mox's maintenance commands are in the store's tool. */
	static const char *const store_cmds[] = {"import", "export", "backup", "verifydata",
						 "setaccountpassword"};
	for (size_t i = 0; i < sizeof(store_cmds) / sizeof(store_cmds[0]); i++)
		if (strcmp(cmd, store_cmds[i]) == 0)
			return run_tool("store", argc, argv);
	/* Any other command names a standalone tool, mox-<command>. */
	bool name_ok = cmd[0] != '\0' && strlen(cmd) < 32;
	for (const char *c = cmd; *c != '\0' && name_ok; c++)
		name_ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
	if (name_ok)
		return run_tool(cmd, argc - 1, argv + 1);
	fprintf(stderr, "mox: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
