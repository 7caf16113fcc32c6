/* config_cmd.c -- "mox config test", "mox config describe-static",
 * "mox config describe-domains". The config file is the one named with
 * "mox -config path ..." (main.c puts it in MOXCONF) or config/mox.conf,
 * as mox; domains.conf is next to it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox [-config mox.conf] config test\n"
	           "       mox config describe-static\n"
	           "       mox config describe-domains\n"
	           "       mox [-config mox.conf] config dnsrecords domain\n"
	           "       mox [-config mox.conf] config dnscheck domain\n"
	           "       mox [-config mox.conf] config printservice\n"
	           "(\"mox help config\" explains each)\n");
}

static int
describe(mox_err (*fn)(mox_buf *))
{
	mox_buf b = MOX_BUF_INIT;
	mox_err rc = fn(&b);
	if (rc == MOX_OK && b.len > 0)
		fwrite(b.data, 1, b.len, stdout);
	mox_buf_free(&b);
	if (rc != MOX_OK) {
		fprintf(stderr, "mox config: %s\n", mox_strerror(rc));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Load both files, print every problem; exit status 1 on any error. */
static int
config_test(const char *path)
{
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_config_dynamic *dyn = NULL;
	char *dpath = mox_config_domains_path(path);
	if (dpath == NULL) {
		fprintf(stderr, "mox config: out of memory\n");
		return 1;
	}
	mox_err src = mox_config_static_load(path, &st, &errs);
	/* domains.conf is checked even when mox.conf has errors, so all
	 * problems show at once (checks that need mox.conf are skipped). */
	mox_err drc = mox_config_dynamic_load(st, dpath, &dyn, &errs);
	mox_config_errors_print(&errs, stderr);
	int status = 0;
	if (src != MOX_OK || drc != MOX_OK || errs.nerrors > 0) {
		fprintf(stderr, "config has errors\n");
		status = 1;
	} else {
		printf("config OK\n");
	}
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	mox_config_errors_clear(&errs);
	free(dpath);
	return status;
}

#ifdef MOX_HAVE_DKIM
/* The zone file for a configured domain, with the IPs of the listeners
 * that receive SMTP. */
static int
dnsrecords(const char *path, const char *domain)
{
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_config_dynamic *dyn = NULL;
	int status = 1;
	char *dpath = mox_config_domains_path(path);
	if (dpath == NULL || mox_config_static_load(path, &st, &errs) != MOX_OK ||
	    mox_config_dynamic_load(st, dpath, &dyn, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		fprintf(stderr, "mox config dnsrecords: config has errors\n");
		goto out;
	}
	const mox_cfg_domain *dom = mox_config_domain_find(dyn, domain);
	if (dom == NULL) {
		fprintf(stderr, "mox config dnsrecords: domain %s not configured\n",
		        domain);
		goto out;
	}
	mox_cfg_strings ips = {NULL, 0};
	for (size_t i = 0; i < st->listeners.n; i++) {
		const mox_cfg_listener *l = &st->listeners.v[i];
		if (l->smtp.enabled && ips.n == 0)
			ips = l->ips;
	}
	mox_buf b = MOX_BUF_INIT;
	char err[300];
	mox_err rc =
	    mox_config_dnsrecords(dom, st->hostname_ascii, &ips, &b, err, sizeof(err));
	if (rc == MOX_OK) {
		fwrite(b.data, 1, b.len, stdout);
		status = fflush(stdout) == 0 ? 0 : 1;
	} else {
		fprintf(stderr, "mox config dnsrecords: %s\n",
		        err[0] != '\0' ? err : mox_strerror(rc));
	}
	mox_buf_free(&b);
out:
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	mox_config_errors_clear(&errs);
	free(dpath);
	return status;
}
#endif

int
mox_config_cmd_main(int argc, char **argv)
{
	const char *path = mox_config_default_path();
	int i = 1;
	/* Also accept the flag after "config", for convenience. */
	while (i < argc &&
	       (strcmp(argv[i], "-config") == 0 || strcmp(argv[i], "--config") == 0)) {
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		path = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
#ifdef MOX_HAVE_DKIM
	if (strcmp(cmd, "dnsrecords") == 0 && argc - i == 2)
		return dnsrecords(path, argv[i + 1]);
#endif
	if (argc - i != 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "test") == 0)
		return config_test(path);
	if (strcmp(cmd, "describe-static") == 0)
		return describe(mox_config_describe_static);
	if (strcmp(cmd, "describe-domains") == 0)
		return describe(mox_config_describe_domains);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mox config: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
