/* clientconfig.c -- "mox clientconfig domain": what a mail client needs to
 * know to use an address of the domain: for each listener that offers IMAP
 * or submission, the host, port and how TLS is used (implicit TLS, RFC
 * 8314 section 3, or STARTTLS, RFC 3207 / RFC 3501 section 6.2.1). */
#include "commands.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>

static void
entry(const char *proto, const char *host, int64_t port, const char *listener,
      const char *note)
{
	printf("%-12s %-30s %5lld  %-12s %s\n", proto, host, (long long)port, listener,
	       note);
}

int
mox_clientconfig_main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mox [-config mox.conf] clientconfig domain\n");
		return 2;
	}
	const char *path = mox_config_default_path();
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_config_dynamic *dyn = NULL;
	int status = 1;
	char *dpath = mox_config_domains_path(path);
	if (dpath == NULL || mox_config_static_load(path, &st, &errs) != MOX_OK ||
	    mox_config_dynamic_load(st, dpath, &dyn, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		fprintf(stderr, "mox clientconfig: config has errors\n");
		goto out;
	}
	const mox_cfg_domain *dom = mox_config_domain_find(dyn, argv[1]);
	if (dom == NULL) {
		fprintf(stderr, "mox clientconfig: domain %s not configured\n",
		        argv[1]);
		goto out;
	}
	printf("%-12s %-30s %5s  %-12s %s\n", "Protocol", "Host", "Port", "Listener",
	       "Note");
	size_t shown = 0;
	for (size_t i = 0; i < st->listeners.n; i++) {
		const mox_cfg_listener *l = &st->listeners.v[i];
		/* Clients use the domain's client settings name when set (a
		 * CNAME to the host, see "mox config dnsrecords"), else the
		 * listener's host name, else the server's. */
		const char *host = dom->client_settings_domain[0] != '\0'
		                       ? dom->client_settings_domain
		                   : l->hostname != NULL && l->hostname[0] != '\0'
		                       ? l->hostname
		                       : st->hostname_ascii;
		bool tls = l->tls != NULL;
		if (l->imaps.enabled && tls) {
			entry("IMAP", host, l->imaps.port ? l->imaps.port : 993,
			      l->name, "with TLS");
			shown++;
		}
		if (l->imap.enabled) {
			entry("IMAP", host, l->imap.port ? l->imap.port : 143, l->name,
			      !tls                          ? "without TLS"
			      : l->imap.no_require_starttls ? "with STARTTLS (optional)"
			                                    : "with STARTTLS");
			shown++;
		}
		if (l->submissions.enabled && tls) {
			entry("Submission", host,
			      l->submissions.port ? l->submissions.port : 465, l->name,
			      "with TLS");
			shown++;
		}
		if (l->submission.enabled) {
			entry("Submission", host,
			      l->submission.port ? l->submission.port : 587, l->name,
			      !tls ? "without TLS"
			      : l->submission.no_require_starttls
			          ? "with STARTTLS (optional)"
			          : "with STARTTLS");
			shown++;
		}
	}
	if (shown == 0) {
		fprintf(stderr,
		        "mox clientconfig: no listener offers IMAP or submission\n");
		goto out;
	}
	printf("\nUser name: the full email address. Password: the account's "
	       "password.\nAuthentication: SCRAM-SHA-256 (preferred), SCRAM-SHA-1, "
	       "CRAM-MD5 or PLAIN.\n");
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	mox_config_errors_clear(&errs);
	free(dpath);
	return status;
}
