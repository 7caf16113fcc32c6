/* DNSBL lookups, RFC 5782. The query name is the reversed address
 * (mox_dns_reverse_name without its in-addr.arpa/ip6.arpa suffix) followed
 * by the zone; see mox/dnsbl.h. */
#include <mox/dnsbl.h>

#include <stdio.h>
#include <string.h>

unsigned
mox_dnsbl_version(void)
{
	return MOX_DNSBL_VERSION_HEX;
}

const char *
mox_dnsbl_status_name(mox_dnsbl_status status)
{
	switch (status) {
	case MOX_DNSBL_PASS:
		return "pass";
	case MOX_DNSBL_FAIL:
		return "fail";
	case MOX_DNSBL_TEMPERROR:
		return "temperror";
	}
	return "unknown";
}

/* The query name for ip under zone; RFC 5782 sections 2.1 (IPv4) and 2.4
 * (IPv6, nibbles). */
static mox_err
query_name(const char *zone, const char *ip, char *out, size_t out_size)
{
	char rev[MOX_DNS_REVERSE_MAX];
	if (mox_dns_reverse_name(ip, rev, sizeof(rev)) != MOX_OK)
		return MOX_EINVAL;
	size_t n = strlen(rev);
	const char *suffix = strstr(rev, ".in-addr.arpa") ? ".in-addr.arpa" : ".ip6.arpa";
	n -= strlen(suffix);
	size_t zl = strlen(zone);
	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (zl == 0 || mox_dns_name_check(zone, zl, 0, NULL) != MOX_OK)
		return MOX_EINVAL;
	int w = snprintf(out, out_size, "%.*s.%.*s", (int)n, rev, (int)zl, zone);
	if (w < 0 || (size_t)w >= out_size || (size_t)w > MOX_DNS_NAME_MAX)
		return MOX_EINVAL;
	return MOX_OK;
}

mox_err
mox_dnsbl_lookup(const mox_resolver *resolver, const char *zone, const char *ip,
		 mox_dnsbl_result *result_out)
{
	if (result_out == NULL)
		return MOX_EINVAL;
	memset(result_out, 0, sizeof(*result_out));
	if (resolver == NULL || zone == NULL || ip == NULL)
		return MOX_EINVAL;
	char name[MOX_DNS_NAME_MAX + 64];
	mox_err err = query_name(zone, ip, name, sizeof(name));
	if (err != MOX_OK)
		return err;

	mox_dns_answer *a = NULL;
	if ((err = mox_dns_lookup(resolver, name, MOX_DNS_A, &a)) != MOX_OK)
		return err;
	mox_dnsbl_status status = MOX_DNSBL_PASS;
	switch (a->status) {
	case MOX_DNS_FOUND:
		/* Listed only with an answer in 127.0.0.0/8 (section 2.1). */
		for (size_t i = 0; i < a->nrr; i++)
			if (a->rr[i].u.a[0] == 127) {
				status = MOX_DNSBL_FAIL;
				memcpy(result_out->code, a->rr[i].u.a, 4);
				break;
			}
		break;
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA:
		break;
	case MOX_DNS_TEMPFAIL:
	case MOX_DNS_PERMFAIL:
		status = MOX_DNSBL_TEMPERROR;
		snprintf(result_out->explanation, sizeof(result_out->explanation),
			 "looking up %s: %s", name, a->why != NULL ? a->why : "failed");
		break;
	}
	mox_dns_answer_free(a);
	result_out->status = status;
	if (status != MOX_DNSBL_FAIL)
		return MOX_OK;

	/* The explanation; a failure to get it does not change the result. */
	a = NULL;
	if ((err = mox_dns_lookup(resolver, name, MOX_DNS_TXT, &a)) != MOX_OK)
		return err == MOX_ENOMEM ? err : MOX_OK;
	if (a->status == MOX_DNS_FOUND) {
		size_t o = 0;
		for (size_t i = 0; i < a->nrr; i++) {
			int w = snprintf(result_out->explanation + o,
					 sizeof(result_out->explanation) - o, "%s%s",
					 i > 0 ? "; " : "", (const char *)a->rr[i].u.txt.data);
			if (w < 0 || (size_t)w >= sizeof(result_out->explanation) - o)
				break;
			o += (size_t)w;
		}
	}
	mox_dns_answer_free(a);
	return MOX_OK;
}

mox_err
mox_dnsbl_check_health(const mox_resolver *resolver, const char *zone,
		       mox_errinfo *info)
{
	mox_dnsbl_result r;
	mox_err err = mox_dnsbl_lookup(resolver, zone, "127.0.0.2", &r);
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "checking 127.0.0.2: %s",
				       mox_strerror(err));
	if (r.status == MOX_DNSBL_TEMPERROR)
		return mox_errinfo_set(info, MOX_EDNS, 0, "%s", r.explanation);
	if (r.status != MOX_DNSBL_FAIL)
		return mox_errinfo_set(info, MOX_ENOTFOUND, 0,
				       "127.0.0.2 is not listed in %s, but it must be "
				       "(RFC 5782 section 5)",
				       zone);
	err = mox_dnsbl_lookup(resolver, zone, "127.0.0.1", &r);
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "checking 127.0.0.1: %s",
				       mox_strerror(err));
	if (r.status == MOX_DNSBL_TEMPERROR)
		return mox_errinfo_set(info, MOX_EDNS, 0, "%s", r.explanation);
	if (r.status != MOX_DNSBL_PASS)
		return mox_errinfo_set(info, MOX_ENOTFOUND, 0,
				       "127.0.0.1 is listed in %s, but it must not be "
				       "(RFC 5782 section 5)",
				       zone);
	return MOX_OK;
}
