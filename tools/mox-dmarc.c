/* mox-dmarc: DMARC commands, run as "mox dmarc ..." or alone.
 *
 *   mox dmarc lookup DOMAIN              the DMARC record that applies
 *   mox dmarc parsereportmsg FILE ...    aggregate reports in messages, as
 *                                        JSON (one object per message)
 *
 * Uses MOX_RESOLVER or /etc/resolv.conf and the system public suffix list. */
#include <mox/dmarc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox dmarc lookup DOMAIN\n"
		   "       mox dmarc parsereportmsg FILE ...\n");
}

static void
js(const char *key, const char *v, bool comma)
{
	printf("%s\"%s\":", comma ? "," : "", key);
	if (v == NULL) {
		printf("null");
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
print_report(const mox_dmarc_report *r)
{
	printf("{\"report_metadata\":{");
	js("org_name", r->org_name, false);
	js("email", r->email, true);
	js("extra_contact_info", r->extra_contact_info, true);
	js("report_id", r->report_id, true);
	printf(",\"date_range\":{\"begin\":%llu,\"end\":%llu}},\"policy_published\":{",
	       (unsigned long long)r->date_begin, (unsigned long long)r->date_end);
	js("domain", r->domain, false);
	js("adkim", r->adkim, true);
	js("aspf", r->aspf, true);
	js("p", r->p, true);
	js("sp", r->sp, true);
	js("pct", r->pct, true);
	printf("},\"records\":[");
	for (size_t i = 0; i < r->nrecords; i++) {
		const mox_dmarc_report_record *x = &r->records[i];
		printf("%s{\"row\":{", i ? "," : "");
		js("source_ip", x->source_ip, false);
		printf(",\"count\":%llu,\"policy_evaluated\":{", (unsigned long long)x->count);
		js("disposition", x->disposition, false);
		js("dkim", x->dkim, true);
		js("spf", x->spf, true);
		printf("}},\"identifiers\":{");
		js("envelope_to", x->envelope_to, false);
		js("envelope_from", x->envelope_from, true);
		js("header_from", x->header_from, true);
		printf("},\"auth_results\":{\"dkim\":[");
		for (size_t d = 0; d < x->ndkim; d++) {
			printf("%s{", d ? "," : "");
			js("domain", x->dkim_results[d].domain, false);
			js("selector", x->dkim_results[d].selector, true);
			js("result", x->dkim_results[d].result, true);
			printf("}");
		}
		printf("],\"spf\":[");
		for (size_t d = 0; d < x->nspf; d++) {
			printf("%s{", d ? "," : "");
			js("domain", x->spf_results[d].domain, false);
			js("scope", x->spf_results[d].scope, true);
			js("result", x->spf_results[d].result, true);
			printf("}");
		}
		printf("]}}");
	}
	printf("]}\n");
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
cmd_lookup(const char *domain)
{
	char ascii[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info;
	if (mox_dns_name_to_ascii(domain, ascii, sizeof(ascii), &info) != MOX_OK) {
		fprintf(stderr, "mox dmarc: %s\n", info.msg);
		return 1;
	}
	mox_resolver *r = NULL;
	mox_dns_ldns_opts o = {.size = sizeof(o)};
	mox_dns_psl *psl = NULL;
	if (mox_dns_ldns_new(&r, &o, &info) != MOX_OK ||
	    mox_dns_psl_new(&psl, NULL, &info) != MOX_OK) {
		fprintf(stderr, "mox dmarc: %s\n", info.msg);
		mox_resolver_free(r);
		return 1;
	}
	mox_dmarc_lookup_result res;
	int rc = 1;
	if (mox_dmarc_lookup(r, psl, ascii, &res) != MOX_OK) {
		fprintf(stderr, "mox dmarc: lookup failed\n");
	} else if (res.status == MOX_DMARC_LOOKUP_FOUND) {
		printf("dmarc record at domain %s: %s\n", res.domain, res.txt);
		rc = 0;
	} else {
		fprintf(stderr, "mox dmarc: %s\n", res.why);
	}
	mox_dmarc_lookup_result_clear(&res);
	mox_dns_psl_free(psl);
	mox_resolver_free(r);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "lookup") == 0)
		return cmd_lookup(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "parsereportmsg") == 0) {
		int rc = 0;
		for (int i = 2; i < argc; i++) {
			size_t len;
			char *data = read_file(argv[i], &len);
			mox_dmarc_report *rep = NULL;
			mox_errinfo info = {0};
			if (data == NULL) {
				fprintf(stderr, "mox dmarc: cannot read %s\n", argv[i]);
				rc = 1;
			} else if (mox_dmarc_report_parse_message(data, len, NULL, NULL, &rep,
								  &info) != MOX_OK) {
				fprintf(stderr, "mox dmarc: %s: %s\n", argv[i], info.msg);
				rc = 1;
			} else {
				print_report(rep);
			}
			mox_dmarc_report_free(rep);
			free(data);
		}
		return rc;
	}
	bool help = argc == 2 && strcmp(argv[1], "help") == 0;
	usage(help ? stdout : stderr);
	return help ? 0 : 2;
}
