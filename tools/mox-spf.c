/* mox-spf: SPF commands, run as "mox spf ..." or on its own.
 *
 *   mox spf check DOMAIN IP     evaluate the policy of DOMAIN for IP (as
 *                               MAIL FROM user@DOMAIN, EHLO DOMAIN) and
 *                               print status, explanation, mechanism
 *   mox spf lookup DOMAIN       print the SPF record of DOMAIN
 *   mox spf parse TXTRECORD     parse a record; prints nothing if valid
 *
 * As mox: check exits 0 whatever the result (errors of the evaluation are
 * printed as "error: ..."); lookup and parse exit 1 with a message on
 * stderr when there is no valid record; bad arguments exit 2. DNS goes
 * through MOX_RESOLVER=ip:port when set, else /etc/resolv.conf.
 *
 * Links only libmoxspf (and libmoxdns, libmoxcore). */
#include <mox/spf.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox spf check domain ip\n"
		   "       mox spf lookup domain\n"
		   "       mox spf parse txtrecord\n");
}

static const char *
dnssec(bool authentic)
{
	return authentic ? "with dnssec" : "without dnssec";
}

static int
parse_domain(const char *arg, char *out)
{
	mox_errinfo info;
	if (mox_dns_name_to_ascii(arg, out, MOX_DNS_NAME_MAX + 1, &info) != MOX_OK) {
		fprintf(stderr, "parsing domain \"%s\": %s\n", arg, info.msg);
		return 1;
	}
	return 0;
}

/* A resolver and an SPF handle on it. */
static int
setup(mox_resolver **r, mox_spf **spf)
{
	mox_dns_ldns_opts lo = {.size = sizeof(lo)};
	mox_errinfo info;
	if (mox_dns_ldns_new(r, &lo, &info) != MOX_OK) {
		fprintf(stderr, "resolver: %s\n", info.msg);
		return 1;
	}
	mox_spf_opts so = {.size = sizeof(so), .resolver = *r, .receiver = "localhost"};
	mox_err err = mox_spf_new(spf, &so);
	if (err != MOX_OK) {
		fprintf(stderr, "spf: %s\n", mox_strerror(err));
		mox_resolver_free(*r);
		return 1;
	}
	return 0;
}

static int
cmd_check(const char *domain_arg, const char *ip)
{
	char domain[MOX_DNS_NAME_MAX + 1];
	if (parse_domain(domain_arg, domain) != 0)
		return 1;
	uint8_t bytes[16];
	if (inet_pton(AF_INET, ip, bytes) != 1 && inet_pton(AF_INET6, ip, bytes) != 1) {
		fprintf(stderr, "invalid ip: \"%s\"\n", ip);
		return 1;
	}
	mox_resolver *r = NULL;
	mox_spf *spf = NULL;
	if (setup(&r, &spf) != 0)
		return 1;
	char mailfrom[MOX_DNS_NAME_MAX + 8];
	snprintf(mailfrom, sizeof(mailfrom), "user@%s", domain);
	mox_spf_request req = {
		.size = sizeof(req), .ip = ip, .mailfrom = mailfrom, .helo = domain};
	mox_spf_outcome *o = NULL;
	mox_err err = mox_spf_check(spf, &req, &o);
	int rc = 0;
	if (err != MOX_OK) {
		fprintf(stderr, "spf check: %s\n", mox_strerror(err));
		rc = 1;
	} else {
		if (o->problem != NULL)
			printf("error: %s\n", o->problem);
		if (o->explanation != NULL)
			printf("explanation: %s\n", o->explanation);
		printf("status: %s (%s)\n", mox_spf_result_name(o->result),
		       dnssec(o->authentic));
		if (o->mechanism != NULL)
			printf("mechanism: %s\n", o->mechanism);
	}
	mox_spf_outcome_free(o);
	mox_spf_free(spf);
	mox_resolver_free(r);
	return rc;
}

static int
cmd_lookup(const char *domain_arg)
{
	char domain[MOX_DNS_NAME_MAX + 1];
	if (parse_domain(domain_arg, domain) != 0)
		return 1;
	mox_resolver *r = NULL;
	mox_spf *spf = NULL;
	if (setup(&r, &spf) != 0)
		return 1;
	mox_buf txt = MOX_BUF_INIT;
	mox_spf_record *rec = NULL;
	mox_spf_result res;
	bool authentic = false;
	mox_errinfo info = {0};
	mox_err err = mox_spf_lookup(spf, domain, &res, &txt, &rec, &authentic, &info);
	int rc = 0;
	if (err != MOX_OK) {
		fprintf(stderr, "spf lookup for %s: %s\n", domain, mox_strerror(err));
		rc = 1;
	} else if (rec == NULL) {
		fprintf(stderr, "spf lookup for %s: %s: %s\n", domain,
			mox_spf_result_name(res), info.msg);
		rc = 1;
	} else {
		printf("%s\n(%s)\n", (const char *)txt.data, dnssec(authentic));
	}
	mox_spf_record_free(rec);
	mox_buf_free(&txt);
	mox_spf_free(spf);
	mox_resolver_free(r);
	return rc;
}

static int
cmd_parse(const char *txt)
{
	mox_spf_record *rec = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_spf_record_parse(txt, strlen(txt), NULL, &rec, &info);
	mox_spf_record_free(rec);
	if (err != MOX_OK) {
		fprintf(stderr, "parsing record: %s\n",
			info.msg[0] != '\0' ? info.msg : mox_strerror(err));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2]);
	if (argc == 3 && strcmp(argv[1], "parse") == 0)
		return cmd_parse(argv[2]);
	bool help = argc == 2 && strcmp(argv[1], "help") == 0;
	usage(help ? stdout : stderr);
	return help ? 0 : 2;
}
