/* mox-dnsbl: DNS blocklist checks, run as "mox dnsbl ..." or alone.
 *
 *   mox dnsbl check ZONE IP      is IP listed in ZONE?
 *   mox dnsbl checkhealth ZONE   RFC 5782 section 5 health check
 *
 * Output as mox's: "status: pass|fail|temperror", for a listing
 * "explanation: "..."". Uses MOX_RESOLVER or /etc/resolv.conf. */
#include <mox/dnsbl.h>

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	bool check = argc == 4 && strcmp(argv[1], "check") == 0;
	bool health = argc == 3 && strcmp(argv[1], "checkhealth") == 0;
	if (!check && !health) {
		bool help = argc == 2 && strcmp(argv[1], "help") == 0;
		fprintf(help ? stdout : stderr,
			"usage: mox dnsbl check ZONE IP\n       mox dnsbl checkhealth ZONE\n");
		return help ? 0 : 2;
	}
	mox_resolver *r = NULL;
	mox_dns_ldns_opts o = {.size = sizeof(o)};
	mox_errinfo info;
	if (mox_dns_ldns_new(&r, &o, &info) != MOX_OK) {
		fprintf(stderr, "mox dnsbl: resolver: %s\n", info.msg);
		return 1;
	}
	int rc = 0;
	if (check) {
		mox_dnsbl_result res;
		mox_err err = mox_dnsbl_lookup(r, argv[2], argv[3], &res);
		if (err != MOX_OK) {
			fprintf(stderr, "mox dnsbl: %s\n", mox_strerror(err));
			rc = 1;
		} else {
			printf("status: %s\n", mox_dnsbl_status_name(res.status));
			if (res.status == MOX_DNSBL_FAIL)
				printf("explanation: \"%s\"\n", res.explanation);
			if (res.status == MOX_DNSBL_TEMPERROR)
				printf("error: %s\n", res.explanation);
		}
	} else {
		mox_err err = mox_dnsbl_check_health(r, argv[2], &info);
		if (err != MOX_OK) {
			printf("unhealthy: %s\n", info.msg);
			rc = 1;
		} else {
			printf("healthy\n");
		}
	}
	mox_resolver_free(r);
	return rc;
}
