/* mox-tlsrpt: TLS reporting commands, run as "mox tlsrpt ..." or alone.
 *
 *   mox tlsrpt lookup DOMAIN                the _smtp._tls record
 *   mox tlsrpt parsereportmsg MESSAGE ...   the report in each message, as
 *                                           indented JSON (as mox prints it,
 *                                           with [] where mox prints null)
 *
 * Uses MOX_RESOLVER or /etc/resolv.conf. Errors go to standard error with
 * exit status 1, as mox's. */
#include <mox/tlsrpt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox tlsrpt lookup DOMAIN\n"
	           "       mox tlsrpt parsereportmsg MESSAGE ...\n");
}

static int
cmd_lookup(const char *arg)
{
	char domain[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info = {0};
	if (mox_dns_name_to_ascii(arg, domain, sizeof(domain), &info) != MOX_OK) {
		fprintf(stderr, "mox tlsrpt: parsing domain %s: %s\n", arg, info.msg);
		return 1;
	}
	mox_resolver *res = NULL;
	mox_dns_ldns_opts lo = {.size = sizeof(lo)};
	if (mox_dns_ldns_new(&res, &lo, &info) != MOX_OK) {
		fprintf(stderr, "mox tlsrpt: %s\n", info.msg);
		return 1;
	}
	int rc = 1;
	mox_tlsrpt_lookup_result r;
	if (mox_tlsrpt_lookup(res, domain, NULL, &r) != MOX_OK)
		fprintf(stderr, "mox tlsrpt: tlsrpt lookup for %s: out of memory\n",
		        domain);
	else if (r.status != MOX_TLSRPT_LOOKUP_FOUND)
		fprintf(stderr, "mox tlsrpt: tlsrpt lookup for %s: %s\n", domain,
		        r.why);
	else {
		printf("%s\n", r.txt);
		rc = 0;
	}
	mox_tlsrpt_lookup_result_clear(&r);
	mox_resolver_free(res);
	return rc;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0, r;
	char *buf = malloc(cap);
	while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			/* Past the message limit the library refuses anyway. */
			if (cap > MOX_TLSRPT_MESSAGE_MAX)
				break;
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

static int
cmd_parsereportmsg(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		size_t len = 0;
		char *msg = read_file(argv[i], &len);
		if (msg == NULL) {
			fprintf(stderr, "mox tlsrpt: open \"%s\": cannot read\n",
			        argv[i]);
			return 1;
		}
		mox_tlsrpt_report *r = NULL;
		mox_errinfo info = {0};
		mox_err err =
		    mox_tlsrpt_report_parse_message(msg, len, NULL, NULL, &r, &info);
		free(msg);
		if (err != MOX_OK) {
			fprintf(stderr, "mox tlsrpt: parse report in \"%s\": %s\n",
			        argv[i],
			        info.msg[0] != '\0' ? info.msg : mox_strerror(err));
			return 1;
		}
		mox_buf b = MOX_BUF_INIT;
		err = mox_tlsrpt_report_format(r, MOX_TLSRPT_JSON_INDENT, &b);
		if (err == MOX_OK)
			fwrite(b.data, 1, b.len, stdout);
		mox_buf_free(&b);
		mox_tlsrpt_report_free(r);
		if (err != MOX_OK) {
			fprintf(stderr, "mox tlsrpt: write report: %s\n",
			        mox_strerror(err));
			return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "parsereportmsg") == 0)
		return cmd_parsereportmsg(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
