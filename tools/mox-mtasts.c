/* mox-mtasts: MTA-STS commands, run as "mox mtasts ..." or alone.
 *
 *   mox mtasts lookup DOMAIN   the _mta-sts record and the policy served at
 *                              https://mta-sts.DOMAIN/.well-known/mta-sts.txt
 *
 * Output as mox's: "error: ..." first when something failed, then the DNS
 * record and the policy that could be had. The exit status is 1 when the
 * record or the policy could not be had (mox exits 0 and only prints the
 * error).
 *
 * DNS: MOX_RESOLVER or /etc/resolv.conf, also for the policy host's
 * address. For tests only: MOX_MTASTS_CA_FILE (a PEM file of CAs to trust
 * instead of the system's) and MOX_MTASTS_CONNECT_TO
 * ("host=ip:port[,host=ip:port...]", connections for host go there). */
#include <mox/mtasts.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_MAX 8

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox mtasts lookup DOMAIN\n");
}

/* Parse MOX_MTASTS_CONNECT_TO into ct (strings point into buf). */
static int
parse_connect_to(char *buf, mox_mtasts_connect_to *ct, size_t *n)
{
	*n = 0;
	char *save = NULL;
	for (char *e = strtok_r(buf, ",", &save); e != NULL;
	     e = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(e, '='), *colon = strrchr(e, ':');
		if (*n == CONNECT_MAX || eq == NULL || colon == NULL || colon < eq)
			return -1;
		*eq = '\0';
		*colon = '\0';
		char *end = NULL;
		long port = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535)
			return -1;
		char *addr = eq + 1;
		size_t al = strlen(addr);
		if (al >= 2 && addr[0] == '[' && addr[al - 1] == ']') {
			addr[al - 1] = '\0';
			addr++;
		}
		ct[*n] = (mox_mtasts_connect_to){e, addr, (uint16_t)port};
		(*n)++;
	}
	return 0;
}

static int
cmd_lookup(const char *arg)
{
	char domain[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info = {0};
	if (mox_dns_name_to_ascii(arg, domain, sizeof(domain), &info) != MOX_OK) {
		fprintf(stderr, "mox mtasts: parsing domain %s: %s\n", arg, info.msg);
		return 1;
	}
	int rc = 1;
	mox_resolver *res = NULL;
	mox_mtasts_fetcher *f = NULL;
	char *ctbuf = NULL;
	mox_mtasts_get_result r;
	memset(&r, 0, sizeof(r));
	mox_dns_ldns_opts lo = {.size = sizeof(lo)};
	if (mox_dns_ldns_new(&res, &lo, &info) != MOX_OK) {
		fprintf(stderr, "mox mtasts: %s\n", info.msg);
		goto out;
	}
	mox_mtasts_connect_to ct[CONNECT_MAX];
	size_t nct = 0;
	const char *cte = getenv("MOX_MTASTS_CONNECT_TO");
	if (cte != NULL && cte[0] != '\0') {
		ctbuf = strdup(cte);
		if (ctbuf == NULL || parse_connect_to(ctbuf, ct, &nct) != 0) {
			fprintf(stderr, "mox mtasts: bad MOX_MTASTS_CONNECT_TO\n");
			goto out;
		}
	}
	mox_mtasts_fetch_opts fo = {.size = sizeof(fo),
	                            .resolver = res,
	                            .ca_file = getenv("MOX_MTASTS_CA_FILE"),
	                            .connect_to = ct,
	                            .nconnect_to = nct};
	if (mox_mtasts_fetcher_new(&f, &fo, &info) != MOX_OK) {
		fprintf(stderr, "mox mtasts: %s\n", info.msg);
		goto out;
	}
	if (mox_mtasts_get(res, f, domain, &r) != MOX_OK) {
		fprintf(stderr, "mox mtasts: out of memory\n");
		goto out;
	}
	bool found = r.lookup.status == MOX_MTASTS_LOOKUP_FOUND;
	if (!found)
		printf("error: %s\n", r.lookup.why);
	else if (r.fetch.status != MOX_MTASTS_FETCH_OK)
		printf("error: %s\n", r.fetch.why);
	if (found) {
		mox_buf b = MOX_BUF_INIT;
		if (mox_mtasts_record_format(r.lookup.record, &b) == MOX_OK)
			printf("DNS TXT record _mta-sts.%s: %s\n", domain,
			       (char *)b.data);
		mox_buf_free(&b);
	}
	if (found && r.fetch.status == MOX_MTASTS_FETCH_OK) {
		mox_buf b = MOX_BUF_INIT;
		if (mox_mtasts_policy_format(r.fetch.policy, &b) == MOX_OK)
			printf("\npolicy at "
			       "https://mta-sts.%s/.well-known/mta-sts.txt:\n%s",
			       domain, (char *)b.data);
		mox_buf_free(&b);
		rc = 0;
	}
out:
	mox_mtasts_get_result_clear(&r);
	mox_mtasts_fetcher_free(f);
	mox_resolver_free(res);
	free(ctbuf);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2]);
	if (argc == 2 && strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
