/* mox: the one front door. Commands of a standard ("mox dns ...") run the
 * standalone tool mox-<standard>, found next to this binary (build tree) or
 * in the libexec directory (installed), as git runs its subcommands. The
 * server commands (serve, localserve, queue, ...) come with their issues. */
#include <mox/core.h>
#include <mox/dns.h>

#ifdef MOX_HAVE_LOCALSERVE
#include "localserve.h"
#endif
#include "commands.h"
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
#ifdef MOX_HAVE_SENDMAIL
#include "sendmail.h"
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


/* The list comes from the command table (commands.c), as "mox help". */
static void
usage(FILE *f)
{
	mox_commands_usage(f);
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
#ifdef MOX_HAVE_SENDMAIL
	/* Installed as /usr/sbin/sendmail (a link to mox): be sendmail. */
	const char *base = strrchr(argv[0], '/');
	if (strcmp(base != NULL ? base + 1 : argv[0], "sendmail") == 0)
		return sendmail_main(argc, argv);
#endif
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
	/* Commands of commands.c and its neighbours (help.c, clientconfig.c,
	 * dnscheck.c); "config" flags as mox_config_cmd_main would take them
	 * are not accepted here: use the global -config. */
	if (strcmp(cmd, "config") == 0 && argc >= 3 && strcmp(argv[2], "printservice") == 0)
		return mox_printservice_main(argc - 2, argv + 2);
#ifdef MOX_HAVE_DNSCHECK
	if (strcmp(cmd, "config") == 0 && argc >= 3 && strcmp(argv[2], "dnscheck") == 0)
		return mox_dnscheck_main(argc - 2, argv + 2);
#endif
	if (strcmp(cmd, "clientconfig") == 0)
		return mox_clientconfig_main(argc - 1, argv + 1);
	if (strcmp(cmd, "example") == 0)
		return mox_example_main(argc - 1, argv + 1);
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
#ifdef MOX_HAVE_SENDMAIL
	if (strcmp(cmd, "sendmail") == 0)
		return sendmail_main(argc - 1, argv + 1);
#endif
	if (strcmp(cmd, "version") == 0)
		return mox_version_main(argc - 1, argv + 1);
#ifdef MOX_HAVE_LOCALSERVE
	if (strcmp(cmd, "localserve") == 0)
		return localserve_main(argc - 1, argv + 1);
#endif
	if (strcmp(cmd, "help") == 0)
		return mox_help_main(argc - 1, argv + 1);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
		return mox_help_main(1, argv + 1);
	/* The table says which commands are a tool's: "mox dns lookup" runs
	 * mox-dns, "mox import ..." mox-store. The tool checks the rest, and
	 * prints its usage for "mox dns" alone or an unknown subcommand. */
	if (strcmp(cmd, "setaccountpassword") == 0)
		return run_tool("store", argc, argv); /* on the files, not through ctl */
	size_t ncmds;
	const mox_command *all = mox_commands(&ncmds);
	for (size_t i = 0; i < ncmds; i++)
		if (all[i].kind == MOX_CMD_TOOL &&
		    strncmp(all[i].name, cmd, strlen(cmd)) == 0 &&
		    (all[i].name[strlen(cmd)] == ' ' || all[i].name[strlen(cmd)] == '\0'))
			return strcmp(all[i].tool, cmd) == 0
			           ? run_tool(cmd, argc - 1, argv + 1)
			           : run_tool(all[i].tool, argc, argv);
	fprintf(stderr, "mox: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
