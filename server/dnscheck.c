/* dnscheck.c -- "mox config dnscheck domain": look up each record that
 * "mox config dnsrecords" says the domain needs (config_dns.c generates
 * the zone; this reads it back, so the two cannot disagree) and say
 * whether DNS has it. Records: A/AAAA (RFC 1035, RFC 3596), MX (RFC 5321
 * section 5.1), SPF TXT (RFC 7208 section 3), DKIM key TXT (RFC 6376
 * section 3.6.2.1), DMARC TXT (RFC 7489 section 6.1), MTA-STS TXT (RFC
 * 8461 section 3.1), TLSRPT TXT (RFC 8460 section 3), and CNAMEs. SRV
 * records (RFC 6186) are listed unchecked: libmoxdns reads no SRV. */
#include "commands.h"
#include "config.h"

#include <mox/dns.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The record's "tag" that identifies its kind at a name: "v=spf1" etc.
 * TXT records at one name of different kinds don't compete. */
static size_t
tag_len(const char *v)
{
	return strcspn(v, "; ");
}

/* TXT values equal apart from whitespace (RFC 7208 section 4.6.1 and RFC
 * 6376 section 3.6.1 allow it around terms/tags). */
static bool
txt_equal(const char *a, const char *b, size_t blen)
{
	size_t j = 0;
	for (;;) {
		while (*a != '\0' && isspace((unsigned char)*a))
			a++;
		while (j < blen && isspace((unsigned char)b[j]))
			j++;
		if (*a == '\0' || j == blen)
			return *a == '\0' && j == blen;
		if (*a != b[j])
			return false;
		a++;
		j++;
	}
}

static void
strip_dot(char *s)
{
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* The zone-file TXT value: the quoted character-strings, concatenated. */
static void
txt_value(const char *rest, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p = rest;
	while ((p = strchr(p, '"')) != NULL) {
		const char *e = strchr(p + 1, '"');
		if (e == NULL)
			break;
		for (const char *q = p + 1; q < e && o + 1 < outlen; q++)
			out[o++] = *q;
		p = e + 1;
	}
	out[o] = '\0';
}

enum verdict { OK, MISSING, WRONG, ERROR, UNCHECKED };

static const char *const verdict_names[] = {"OK", "MISSING", "WRONG", "ERROR",
                                            "UNCHECKED"};

/* Check one record; have gets what DNS has when it differs. */
static enum verdict
check(const mox_resolver *r, const char *name, const char *type, const char *rest,
      char *have, size_t havelen)
{
	have[0] = '\0';
	mox_dns_type t;
	if (strcmp(type, "SRV") == 0 || mox_dns_type_parse(type, &t) != MOX_OK)
		return UNCHECKED;
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(r, name, t, &a);
	if (err != MOX_OK) {
		snprintf(have, havelen, "%s", mox_strerror(err));
		return ERROR;
	}
	enum verdict v = MISSING;
	char want[4096];
	if (a->status == MOX_DNS_TEMPFAIL || a->status == MOX_DNS_PERMFAIL) {
		snprintf(have, havelen, "%s%s%s", mox_dns_status_name(a->status),
		         a->why ? ": " : "", a->why ? a->why : "");
		v = ERROR;
		goto out;
	}
	if (a->status != MOX_DNS_FOUND) {
		snprintf(have, havelen, "%s", mox_dns_status_name(a->status));
		goto out;
	}
	size_t hl = 0;
#define HAVE(...)                                                                      \
	do {                                                                           \
		if (hl < havelen) {                                                    \
			int w_ = snprintf(have + hl, havelen - hl, __VA_ARGS__);       \
			hl += w_ > 0 ? (size_t)w_ : 0;                                 \
		}                                                                      \
	} while (0)
	if (t == MOX_DNS_TXT) {
		txt_value(rest, want, sizeof(want));
		size_t tl = tag_len(want);
		for (size_t i = 0; i < a->nrr && v != OK; i++) {
			const char *d = (const char *)a->rr[i].u.txt.data;
			size_t dl = a->rr[i].u.txt.len;
			if (dl < tl || strncmp(d, want, tl) != 0)
				continue;
			if (txt_equal(want, d, dl))
				v = OK;
			else {
				v = WRONG;
				HAVE("%s\"%.*s\"", hl ? ", " : "", (int)dl, d);
			}
		}
		if (v == MISSING)
			HAVE("no %.*s record", (int)tl, want);
	} else if (t == MOX_DNS_MX || t == MOX_DNS_CNAME) {
		/* MX: "10 host.", CNAME: "host.". */
		const char *host = rest;
		if (t == MOX_DNS_MX)
			host = strchr(rest, ' ') ? strchr(rest, ' ') + 1 : rest;
		snprintf(want, sizeof(want), "%s", host);
		strip_dot(want);
		for (size_t i = 0; i < a->nrr && v != OK; i++) {
			const char *h =
			    t == MOX_DNS_MX ? a->rr[i].u.mx.host : a->rr[i].u.host;
			if (a->rr[i].type != t)
				continue;
			if (mox_dns_name_equal(h, want))
				v = OK;
			else {
				v = WRONG;
				HAVE("%s%s", hl ? ", " : "", h);
			}
		}
	} else if (t == MOX_DNS_A || t == MOX_DNS_AAAA) {
		unsigned char w[16];
		int af = t == MOX_DNS_A ? AF_INET : AF_INET6;
		if (inet_pton(af, rest, w) != 1) {
			snprintf(have, havelen, "bad address %s", rest);
			v = ERROR;
			goto out;
		}
		for (size_t i = 0; i < a->nrr && v != OK; i++) {
			const uint8_t *got =
			    t == MOX_DNS_A ? a->rr[i].u.a : a->rr[i].u.aaaa;
			char buf[INET6_ADDRSTRLEN];
			if (memcmp(got, w, t == MOX_DNS_A ? 4 : 16) == 0)
				v = OK;
			else if (inet_ntop(af, got, buf, sizeof(buf)) != NULL) {
				v = WRONG;
				HAVE("%s%s", hl ? ", " : "", buf);
			}
		}
	} else {
		v = UNCHECKED;
	}
#undef HAVE
out:
	mox_dns_answer_free(a);
	return v;
}

int
mox_dnscheck_main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr,
		        "usage: mox [-config mox.conf] config dnscheck domain\n");
		return 2;
	}
	const char *path = mox_config_default_path();
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_config_dynamic *dyn = NULL;
	mox_resolver *r = NULL;
	mox_buf zone = MOX_BUF_INIT;
	int status = 1;
	char *dpath = mox_config_domains_path(path);
	if (dpath == NULL || mox_config_static_load(path, &st, &errs) != MOX_OK ||
	    mox_config_dynamic_load(st, dpath, &dyn, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		fprintf(stderr, "mox config dnscheck: config has errors\n");
		goto out;
	}
	const mox_cfg_domain *dom = mox_config_domain_find(dyn, argv[1]);
	if (dom == NULL) {
		fprintf(stderr, "mox config dnscheck: domain %s not configured\n",
		        argv[1]);
		goto out;
	}
	/* The same addresses as "mox config dnsrecords": the first listener
	 * that receives SMTP. */
	mox_cfg_strings ips = {NULL, 0};
	for (size_t i = 0; i < st->listeners.n; i++) {
		const mox_cfg_listener *l = &st->listeners.v[i];
		if (l->smtp.enabled && ips.n == 0)
			ips = l->ips;
	}
	char err[300];
	mox_err rc = mox_config_dnsrecords(dom, st->hostname_ascii, &ips, &zone, err,
	                                   sizeof(err));
	if (rc == MOX_OK)
		rc = mox_buf_append_byte(&zone, '\0');
	if (rc != MOX_OK) {
		fprintf(stderr, "mox config dnscheck: %s\n",
		        err[0] != '\0' ? err : mox_strerror(rc));
		goto out;
	}
	mox_dns_ldns_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	if (mox_dns_ldns_new(&r, &o, &info) != MOX_OK) {
		fprintf(stderr, "mox config dnscheck: resolver: %s\n", info.msg);
		goto out;
	}
	size_t bad = 0, checked = 0;
	char *save = NULL;
	for (char *line = strtok_r((char *)zone.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == ';' || line[0] == '$' || line[0] == '\0')
			continue;
		char name[600], type[16];
		int off = 0;
		if (sscanf(line, "%599s %15s %n", name, type, &off) != 2)
			continue;
		const char *rest = line + off;
		char have[2048];
		enum verdict v = check(r, name, type, rest, have, sizeof(have));
		printf("%-9s %s %s %s\n", verdict_names[v], name, type, rest);
		if (v != OK && v != UNCHECKED) {
			printf("          DNS has: %s\n", have);
			bad++;
		}
		if (v != UNCHECKED)
			checked++;
	}
	if (bad > 0)
		printf("\n%zu of %zu checked records missing or different\n", bad,
		       checked);
	else
		printf("\nall %zu checked records OK\n", checked);
	status = bad > 0 ? 1 : 0;
	if (fflush(stdout) != 0)
		status = 1;
out:
	mox_resolver_free(r);
	mox_buf_free(&zone);
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	mox_config_errors_clear(&errs);
	free(dpath);
	return status;
}
