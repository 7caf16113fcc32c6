/* help.c -- "mox help [command]", "mox version", "mox config
 * printservice" and "mox example [name]": the commands about mox itself,
 * reading the table in commands.c. */
#define _DEFAULT_SOURCE /* realpath */
#include "commands.h"
#include "config.h"

#include <mox/core.h>
#include <mox/dns.h>
#ifdef MOX_HAVE_LIB_smtp
#include <mox/smtp.h>
#endif
#ifdef MOX_HAVE_LIB_store
#include <mox/store.h>
#endif
#ifdef MOX_HAVE_LIB_spf
#include <mox/spf.h>
#endif
#ifdef MOX_HAVE_LIB_dkim
#include <mox/dkim.h>
#endif
#ifdef MOX_HAVE_LIB_dmarc
#include <mox/dmarc.h>
#endif
#ifdef MOX_HAVE_LIB_message
#include <mox/message.h>
#endif
#ifdef MOX_HAVE_LIB_imap
#include <mox/imap.h>
#endif
#ifdef MOX_HAVE_LIB_mtasts
#include <mox/mtasts.h>
#endif
#ifdef MOX_HAVE_LIB_dnsbl
#include <mox/dnsbl.h>
#endif
#ifdef MOX_HAVE_LIB_tlsrpt
#include <mox/tlsrpt.h>
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MOX_VERSION
#define MOX_VERSION "dev"
#endif

static void
print_command(FILE *f, const mox_command *c)
{
	fprintf(f, "usage: mox %s%s%s\n\n%s", c->name, c->args[0] ? " " : "", c->args,
	        c->help);
}

int
mox_help_main(int argc, char **argv)
{
	if (argc < 2) {
		mox_commands_usage(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	char want[256] = "";
	size_t len = 0;
	for (int i = 1; i < argc; i++) {
		int w = snprintf(want + len, sizeof(want) - len, "%s%s",
		                 i > 1 ? " " : "", argv[i]);
		if (w < 0 || (size_t)w >= sizeof(want) - len) {
			fprintf(stderr, "mox help: command name too long\n");
			return 2;
		}
		len += (size_t)w;
	}
	size_t n;
	const mox_command *all = mox_commands(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].name, want) == 0) {
			print_command(stdout, &all[i]);
			return fflush(stdout) == 0 ? 0 : 1;
		}
	}
	/* A group such as "config" or "queue": its commands, each in full. */
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(all[i].name, want, len) == 0 && all[i].name[len] == ' ') {
			if (any)
				printf("\n");
			print_command(stdout, &all[i]);
			any = true;
		}
	}
	if (any)
		return fflush(stdout) == 0 ? 0 : 1;
	fprintf(stderr, "mox help: unknown command '%s'\n", want);
	mox_commands_usage(stderr);
	return 2;
}

#define VERSION(name, fn)                                                              \
	do {                                                                           \
		unsigned v = fn();                                                     \
		printf("libmox%-9s %u.%u.%u\n", name, v >> 16, (v >> 8) & 0xff,        \
		       v & 0xff);                                                      \
	} while (0)

int
mox_version_main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: mox version\n");
		return 2;
	}
	printf("mox-c %s\n", MOX_VERSION);
	VERSION("core", mox_core_version);
	VERSION("dns", mox_dns_version);
#ifdef MOX_HAVE_LIB_smtp
	VERSION("smtp", mox_smtp_version);
#endif
#ifdef MOX_HAVE_LIB_store
	VERSION("store", mox_store_version);
#endif
#ifdef MOX_HAVE_LIB_spf
	VERSION("spf", mox_spf_version);
#endif
#ifdef MOX_HAVE_LIB_dkim
	VERSION("dkim", mox_dkim_version);
#endif
#ifdef MOX_HAVE_LIB_dmarc
	VERSION("dmarc", mox_dmarc_version);
#endif
#ifdef MOX_HAVE_LIB_message
	VERSION("message", mox_message_version);
#endif
#ifdef MOX_HAVE_LIB_imap
	VERSION("imap", mox_imap_version);
#endif
#ifdef MOX_HAVE_LIB_mtasts
	VERSION("mtasts", mox_mtasts_version);
#endif
#ifdef MOX_HAVE_LIB_dnsbl
	VERSION("dnsbl", mox_dnsbl_version);
#endif
#ifdef MOX_HAVE_LIB_tlsrpt
	VERSION("tlsrpt", mox_tlsrpt_version);
#endif
	return fflush(stdout) == 0 ? 0 : 1;
}

mox_err
mox_service_unit(mox_buf *out, const char *workdir, const char *exe, const char *conf)
{
	return mox_buf_appendf(
	    out,
	    "[Unit]\nDescription=mox mail server\nAfter=network-online.target\n"
	    "Wants=network-online.target\n\n"
	    "[Service]\nWorkingDirectory=%s\nExecStart=%s -config %s serve\n"
	    "RestartSec=5s\nRestart=always\nLimitNOFILE=15000\n\n"
	    "[Install]\nWantedBy=multi-user.target\n",
	    workdir, exe, conf);
}

/* As mox: the working directory is the current one, the binary this one;
 * the config file is the one given (-config/$MOXCONF) made absolute. */
int
mox_printservice_main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: mox config printservice\n");
		return 2;
	}
	char cwd[PATH_MAX], exe[PATH_MAX], conf[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		perror("mox config printservice: getcwd");
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		snprintf(exe, sizeof(exe), "%s/mox", cwd);
	else
		exe[n] = '\0';
	const char *path = mox_config_default_path();
	if (realpath(path, conf) == NULL) {
		if (path[0] == '/')
			snprintf(conf, sizeof(conf), "%s", path);
		else if (snprintf(conf, sizeof(conf), "%s/%s", cwd, path) >=
		         (int)sizeof(conf)) {
			fprintf(stderr, "mox config printservice: path too long\n");
			return 1;
		}
	}
	mox_buf b = MOX_BUF_INIT;
	mox_err rc = mox_service_unit(&b, cwd, exe, conf);
	if (rc == MOX_OK)
		fwrite(b.data, 1, b.len, stdout);
	mox_buf_free(&b);
	if (rc != MOX_OK) {
		fprintf(stderr, "mox config printservice: %s\n", mox_strerror(rc));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Small examples, as mox's "mox example": fragments to copy into the
 * config files, each saying which file it belongs in. */
static const struct example {
	const char *name;
	const char *text;
	mox_err (*gen)(mox_buf *);
} examples[] = {
    {"mox.conf", NULL, mox_config_describe_static},
    {"domains.conf", NULL, mox_config_describe_domains},
    {"transport",
     "# In mox.conf: deliver outgoing mail through a smarthost (the\n"
     "# submission port of your provider) instead of directly to the\n"
     "# recipients' MX hosts. Routes in domains.conf select a transport.\n"
     "Transports:\n"
     "\tprovider:\n"
     "\t\tSubmissions:\n"
     "\t\t\tHost: smtp.example.net\n"
     "\t\t\tPort: 465\n"
     "\t\t\tAuth:\n"
     "\t\t\t\tUsername: user@example.net\n"
     "\t\t\t\tPassword: secret\n"
     "\t\t\t\tMechanisms:\n"
     "\t\t\t\t\t- SCRAM-SHA-256\n",
     NULL},
    {"ruleset",
     "# In domains.conf, under an account's destination: deliver mailing list\n"
     "# messages to their own mailbox, matched on a header, and messages from\n"
     "# a verified domain to another. Rulesets are tried in order; the first\n"
     "# that matches picks the mailbox, else the destination's Mailbox.\n"
     "Accounts:\n"
     "\tmjl:\n"
     "\t\tDomain: example.com\n"
     "\t\tDestinations:\n"
     "\t\t\tmjl@example.com:\n"
     "\t\t\t\tRulesets:\n"
     "\t\t\t\t\t-\n"
     "\t\t\t\t\t\tHeadersRegexp:\n"
     "\t\t\t\t\t\t\tlist-id: <dev\\.lists\\.example\\.org>\n"
     "\t\t\t\t\t\tListAllowDomain: lists.example.org\n"
     "\t\t\t\t\t\tMailbox: Lists/dev\n"
     "\t\t\t\t\t-\n"
     "\t\t\t\t\t\tVerifiedDomain: bank.example\n"
     "\t\t\t\t\t\tMailbox: Bank\n",
     NULL},
};

int
mox_example_main(int argc, char **argv)
{
	size_t n = sizeof(examples) / sizeof(examples[0]);
	if (argc == 1) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", examples[i].name);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: mox example [name]\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(examples[i].name, argv[1]) != 0)
			continue;
		if (examples[i].text != NULL) {
			fputs(examples[i].text, stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		}
		mox_buf b = MOX_BUF_INIT;
		mox_err rc = examples[i].gen(&b);
		if (rc == MOX_OK)
			fwrite(b.data, 1, b.len, stdout);
		mox_buf_free(&b);
		if (rc != MOX_OK) {
			fprintf(stderr, "mox example: %s\n", mox_strerror(rc));
			return 1;
		}
		return fflush(stdout) == 0 ? 0 : 1;
	}
	fprintf(stderr,
	        "mox example: unknown example '%s'; \"mox example\" lists them\n",
	        argv[1]);
	return 2;
}
