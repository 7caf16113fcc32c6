/* mox-dmarc: DMARC commands, run as "mox dmarc ..." or alone.
 *
 *   mox dmarc lookup DOMAIN              the DMARC record that applies
 *   mox dmarc parsereportmsg FILE ...    aggregate reports in messages, as
 *                                        JSON (one object per message)
 *   mox dmarc verify REMOTEIP MAILFROM HELO < MESSAGE
 *                                        SPF, DKIM and DMARC for a message
 *                                        as a receiving server would
 *
 * Uses MOX_RESOLVER or /etc/resolv.conf and the system public suffix list.
 * verify also links libmoxspf and libmoxdkim. */
#include <mox/dkim.h>
#include <mox/dmarc.h>
#include <mox/spf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox dmarc lookup DOMAIN\n"
		   "       mox dmarc parsereportmsg FILE ...\n"
		   "       mox dmarc verify REMOTEIP MAILFROM HELO < MESSAGE\n");
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
		printf("(%s)\n", res.authentic ? "with dnssec" : "without dnssec");
		rc = 0;
	} else {
		fprintf(stderr, "mox dmarc: %s\n", res.why);
	}
	mox_dmarc_lookup_result_clear(&res);
	mox_dns_psl_free(psl);
	mox_resolver_free(r);
	return rc;
}

/* RFC 7489 section 4.1: SPF's domain is MAIL FROM's, or HELO's for the
 * null reverse path; both empty skips SPF, as mox does. */
static int
cmd_verify(const char *ip, const char *mailfrom, const char *helo)
{
	size_t len;
	char *msg = NULL;
	{
		size_t cap = 1 << 16, n = 0, r;
		msg = malloc(cap);
		while (msg != NULL && (r = fread(msg + n, 1, cap - n, stdin)) > 0) {
			n += r;
			if (n == cap) {
				char *nb = realloc(msg, cap *= 2);
				if (nb == NULL)
					free(msg);
				msg = nb;
			}
		}
		len = n;
	}
	if (msg == NULL) {
		fprintf(stderr, "mox dmarc: cannot read message\n");
		return 1;
	}
	int rc = 1;
	mox_errinfo info = {0};
	mox_resolver *ldns = NULL, *res = NULL;
	mox_dns_psl *psl = NULL;
	mox_spf *spf = NULL;
	mox_spf_outcome *so = NULL;
	mox_dkim_verifier *v = NULL;
	mox_dmarc_dkim *dk = NULL;
	mox_buf ar = MOX_BUF_INIT;
	mox_dmarc_result dr;
	memset(&dr, 0, sizeof(dr));
	mox_dns_ldns_opts lo = {.size = sizeof(lo)};
	mox_dns_cache_opts co = {.size = sizeof(co), .owns_backend = true};
	if (mox_dns_ldns_new(&ldns, &lo, &info) != MOX_OK ||
	    mox_dns_psl_new(&psl, NULL, &info) != MOX_OK) {
		fprintf(stderr, "mox dmarc: %s\n", info.msg);
		goto out;
	}
	if (mox_dns_cache_new(&res, ldns, &co) != MOX_OK)
		goto out;
	ldns = NULL;

	char from[MOX_DNS_NAME_MAX + 1] = "";
	mox_err ferr = mox_dmarc_from_domain(msg, len, from, sizeof(from), &info);
	if (ferr != MOX_OK)
		fprintf(stderr, "mox dmarc: From: %s\n", info.msg);

	bool spf_pass = false;
	const char *spf_domain = NULL;
	if (mailfrom[0] != '\0' || helo[0] != '\0') {
		mox_spf_opts so_opts = {.size = sizeof(so_opts), .resolver = res};
		mox_spf_request rq = {.size = sizeof(rq),
				      .ip = ip,
				      .mailfrom = mailfrom,
				      .helo = helo[0] ? helo : NULL};
		if (mox_spf_new(&spf, &so_opts) != MOX_OK || mox_spf_check(spf, &rq, &so) != MOX_OK) {
			fprintf(stderr, "mox dmarc: spf check failed\n");
			goto out;
		}
		spf_pass = so->result == MOX_SPF_PASS;
		spf_domain = so->domain;
		printf("spf: %s, domain %s%s%s\n", mox_spf_result_name(so->result), so->domain,
		       so->problem ? ": " : "", so->problem ? so->problem : "");
	} else {
		printf("spf: skipped, no mailfrom or helo\n");
	}

	mox_dkim_verify_opts vo = {.size = sizeof(vo), .resolver = res, .psl = psl};
	if (mox_dkim_verifier_new(&v, &vo) != MOX_OK || mox_dkim_verifier_feed(v, msg, len) != MOX_OK ||
	    mox_dkim_verifier_end(v) != MOX_OK) {
		fprintf(stderr, "mox dmarc: dkim: %s\n", v ? mox_dkim_verifier_errmsg(v) : "failed");
		goto out;
	}
	size_t nd = mox_dkim_verifier_count(v);
	dk = calloc(nd ? nd : 1, sizeof(*dk));
	if (dk == NULL)
		goto out;
	for (size_t i = 0; i < nd; i++) {
		const mox_dkim_result *r = mox_dkim_verifier_result(v, i);
		dk[i].domain = r->sig != NULL ? r->sig->domain : NULL;
		dk[i].selector = r->sig != NULL ? r->sig->selector : NULL;
		dk[i].pass = r->status == MOX_DKIM_PASS;
		printf("dkim: %s, domain %s%s%s\n", mox_dkim_status_name(r->status),
		       dk[i].domain ? dk[i].domain : "(none)", r->why && r->why[0] ? ": " : "",
		       r->why ? r->why : "");
	}
	if (nd == 0)
		printf("dkim: none, no signatures\n");

	mox_dmarc_input in = {.size = sizeof(in),
			      .resolver = res,
			      .psl = psl,
			      .from_domain = ferr == MOX_OK ? from : NULL,
			      .spf_pass = spf_pass,
			      .spf_domain = spf_domain,
			      .ndkim = nd,
			      .dkim = dk,
			      .pct_draw = -1};
	if (mox_dmarc_verify(&in, &dr) != MOX_OK)
		goto out;
	printf("dmarc: %s", mox_dmarc_status_name(dr.status));
	if (dr.lookup.record != NULL)
		printf(", policy %s at %s, disposition %s%s", mox_dmarc_policy_name(dr.policy),
		       dr.lookup.domain, mox_dmarc_policy_name(dr.disposition),
		       dr.reject ? ", reject" : "");
	if (dr.lookup.why[0] != '\0')
		printf(" (%s)", dr.lookup.why);
	printf("\n");
	if (mox_dmarc_authres(&dr, ferr == MOX_OK ? from : NULL, &ar) == MOX_OK)
		printf("Authentication-Results: %s\n", (char *)ar.data);
	rc = 0;
out:
	mox_buf_free(&ar);
	mox_dmarc_result_clear(&dr);
	free(dk);
	mox_dkim_verifier_free(v);
	mox_spf_outcome_free(so);
	mox_spf_free(spf);
	mox_dns_psl_free(psl);
	mox_resolver_free(res);
	mox_resolver_free(ldns);
	free(msg);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2], argv[3], argv[4]);
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
