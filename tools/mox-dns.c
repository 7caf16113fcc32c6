/* mox-dns: DNS debugging commands, run as "mox dns ..." or on its own.
 *
 *   mox dns lookup TYPE NAME    query through the configured resolver
 *                               (MOX_RESOLVER=ip:port or /etc/resolv.conf)
 *   mox dns orgdomain NAME      organizational domain (public suffix list)
 *   mox dns idna NAME           A-label and U-label forms of a name
 *
 * Links only libmoxdns (and libmoxcore). */
#include <mox/dns.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox dns lookup TYPE NAME\n"
		   "       mox dns orgdomain NAME\n"
		   "       mox dns idna NAME\n");
}

static void
print_rr(const mox_dns_rr *rr)
{
	const char *t = mox_dns_type_name(rr->type);
	printf("%s.\t%u\t%s\t", rr->name, rr->ttl, t != NULL ? t : "?");
	switch (rr->type) {
	case MOX_DNS_A:
		printf("%u.%u.%u.%u", rr->u.a[0], rr->u.a[1], rr->u.a[2], rr->u.a[3]);
		break;
	case MOX_DNS_AAAA:
		for (int i = 0; i < 16; i += 2)
			printf("%s%x", i ? ":" : "", rr->u.aaaa[i] << 8 | rr->u.aaaa[i + 1]);
		break;
	case MOX_DNS_MX:
		printf("%u %s.", rr->u.mx.preference, rr->u.mx.host);
		break;
	case MOX_DNS_CNAME:
	case MOX_DNS_PTR:
	case MOX_DNS_NS:
		printf("%s.", rr->u.host);
		break;
	case MOX_DNS_TXT:
		for (size_t i = 0; i < rr->u.txt.nstrings; i++) {
			printf("%s\"", i ? " " : "");
			for (size_t j = 0; j < rr->u.txt.lens[i]; j++) {
				uint8_t c = rr->u.txt.strings[i][j];
				if (c == '"' || c == '\\')
					printf("\\%c", c);
				else if (c < 0x20 || c >= 0x7f)
					printf("\\%03u", c);
				else
					putchar(c);
			}
			putchar('"');
		}
		break;
	case MOX_DNS_TLSA:
		printf("%u %u %u ", rr->u.tlsa.usage, rr->u.tlsa.selector,
		       rr->u.tlsa.matching_type);
		for (size_t i = 0; i < rr->u.tlsa.len; i++)
			printf("%02x", rr->u.tlsa.data[i]);
		break;
	case MOX_DNS_SOA:
		printf("%s. %s. %u %u %u %u %u", rr->u.soa.mname, rr->u.soa.rname,
		       rr->u.soa.serial, rr->u.soa.refresh, rr->u.soa.retry,
		       rr->u.soa.expire, rr->u.soa.minimum);
		break;
	}
	putchar('\n');
}

static int
cmd_lookup(const char *type_name, const char *name)
{
	mox_dns_type type;
	if (mox_dns_type_parse(type_name, &type) != MOX_OK) {
		fprintf(stderr, "mox dns: unknown type %s\n", type_name);
		return 2;
	}
	char ascii[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info;
	if (mox_dns_name_to_ascii(name, ascii, sizeof(ascii), &info) != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", info.msg);
		return 1;
	}
	mox_resolver *r = NULL;
	mox_dns_ldns_opts opts = {.size = sizeof(opts)};
	if (mox_dns_ldns_new(&r, &opts, &info) != MOX_OK) {
		fprintf(stderr, "mox dns: resolver: %s\n", info.msg);
		return 1;
	}
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(r, ascii, type, &a);
	int rc = 0;
	if (err != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", mox_strerror(err));
		rc = 1;
	} else {
		printf("; %s %s: %s%s%s%s\n", a->qname, type_name,
		       mox_dns_status_name(a->status),
		       a->authentic ? " (authentic)" : "", a->why ? ": " : "",
		       a->why ? a->why : "");
		if (a->cname != NULL)
			printf("; canonical name %s\n", a->cname);
		for (size_t i = 0; i < a->nrr; i++)
			print_rr(&a->rr[i]);
		rc = a->status == MOX_DNS_FOUND ? 0 : 1;
	}
	mox_dns_answer_free(a);
	mox_resolver_free(r);
	return rc;
}

static int
cmd_orgdomain(const char *name)
{
	char ascii[MOX_DNS_NAME_MAX + 1], org[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info;
	if (mox_dns_name_to_ascii(name, ascii, sizeof(ascii), &info) != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", info.msg);
		return 1;
	}
	mox_dns_psl *psl = NULL;
	if (mox_dns_psl_new(&psl, NULL, &info) != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", info.msg);
		return 1;
	}
	mox_err err = mox_dns_psl_org_domain(psl, ascii, org, sizeof(org));
	mox_dns_psl_free(psl);
	if (err != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", mox_strerror(err));
		return 1;
	}
	printf("%s\n", org);
	return 0;
}

static int
cmd_idna(const char *name)
{
	char ascii[MOX_DNS_NAME_MAX + 1], uni[4 * MOX_DNS_NAME_MAX + 4];
	mox_errinfo info;
	if (mox_dns_name_to_ascii(name, ascii, sizeof(ascii), &info) != MOX_OK ||
	    mox_dns_name_to_unicode(ascii, uni, sizeof(uni), &info) != MOX_OK) {
		fprintf(stderr, "mox dns: %s\n", info.msg);
		return 1;
	}
	printf("%s\n%s\n", ascii, uni);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "orgdomain") == 0)
		return cmd_orgdomain(argv[2]);
	if (argc == 3 && strcmp(argv[1], "idna") == 0)
		return cmd_idna(argv[2]);
	usage(argc == 2 && strcmp(argv[1], "help") == 0 ? stdout : stderr);
	return argc == 2 && strcmp(argv[1], "help") == 0 ? 0 : 2;
}
