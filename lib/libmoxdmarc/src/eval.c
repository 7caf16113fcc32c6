/* Policy discovery (RFC 7489 section 6.6.3), identifier alignment (section
 * 3.1), evaluation (section 6.6.2) and the Authentication-Results method. */
#include "dmarc_int.h"

#include <mox/message.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *
mox_dmarc_status_name(mox_dmarc_status status)
{
	switch (status) {
	case MOX_DMARC_NONE:
		return "none";
	case MOX_DMARC_PASS:
		return "pass";
	case MOX_DMARC_FAIL:
		return "fail";
	case MOX_DMARC_TEMPERROR:
		return "temperror";
	case MOX_DMARC_PERMERROR:
		return "permerror";
	}
	return "unknown";
}

void
mox_dmarc_lookup_result_clear(mox_dmarc_lookup_result *r)
{
	if (r == NULL)
		return;
	mox_dmarc_record_free(r->record);
	mox_mem_free(NULL, r->txt);
	memset(r, 0, sizeof(*r));
}

/* Look up _dmarc.<domain>. Returns the status; FOUND fills the result. */
static mox_err
lookup_at(const mox_resolver *resolver, const char *domain,
	  mox_dmarc_lookup_result *res)
{
	char name[MOX_DNS_NAME_MAX + 16];
	int n = snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (n < 0 || (size_t)n > MOX_DNS_NAME_MAX) {
		res->status = MOX_DMARC_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why), "name _dmarc.%s too long", domain);
		return MOX_OK;
	}
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(resolver, name, MOX_DNS_TXT, &a);
	if (err != MOX_OK)
		return err;
	switch (a->status) {
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA:
		res->status = MOX_DMARC_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why), "no DMARC record at %s", name);
		goto out;
	case MOX_DNS_TEMPFAIL:
		res->status = MOX_DMARC_LOOKUP_TEMPERROR;
		snprintf(res->why, sizeof(res->why), "looking up %s: %s", name,
			 a->why ? a->why : "temporary failure");
		goto out;
	case MOX_DNS_PERMFAIL:
		/* An invalid name or a broken server: no policy to apply. */
		res->status = MOX_DMARC_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why), "looking up %s: %s", name,
			 a->why ? a->why : "failure");
		goto out;
	case MOX_DNS_FOUND:
		break;
	}
	/* Section 6.6.3 step 3: records that do not start with v=DMARC1 are
	 * discarded; step 4: more than one left is an error (no policy),
	 * and so is one that does not parse. */
	const mox_dns_rr *found = NULL;
	size_t count = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		const mox_dns_rr *rr = &a->rr[i];
		if (mox_dmarc_is_record((const char *)rr->u.txt.data, rr->u.txt.len)) {
			found = rr;
			count++;
		}
	}
	if (count == 0) {
		res->status = MOX_DMARC_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why), "no DMARC record among TXT at %s", name);
		goto out;
	}
	if (count > 1) {
		res->status = MOX_DMARC_LOOKUP_PERMERROR;
		snprintf(res->why, sizeof(res->why), "%zu DMARC records at %s", count, name);
		goto out;
	}
	mox_errinfo info;
	err = mox_dmarc_record_parse((const char *)found->u.txt.data, found->u.txt.len, NULL,
				     &res->record, &info);
	if (err == MOX_ENOMEM)
		goto out;
	if (err != MOX_OK) {
		err = MOX_OK;
		res->status = MOX_DMARC_LOOKUP_PERMERROR;
		snprintf(res->why, sizeof(res->why), "invalid DMARC record at %s: %s", name,
			 info.msg);
		goto out;
	}
	res->txt = mox_mem_strndup(NULL, (const char *)found->u.txt.data, found->u.txt.len);
	if (res->txt == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	res->status = MOX_DMARC_LOOKUP_FOUND;
	res->authentic = a->authentic;
	snprintf(res->domain, sizeof(res->domain), "%s", domain);
out:
	mox_dns_answer_free(a);
	return err;
}

mox_err
mox_dmarc_lookup(const mox_resolver *resolver, const mox_dns_psl *psl,
		 const char *from_domain, mox_dmarc_lookup_result *result_out)
{
	if (result_out == NULL)
		return MOX_EINVAL;
	memset(result_out, 0, sizeof(*result_out));
	if (resolver == NULL || psl == NULL || from_domain == NULL)
		return MOX_EINVAL;
	char from[MOX_DNS_NAME_MAX + 1];
	size_t n = strlen(from_domain);
	if (n > 1 && from_domain[n - 1] == '.')
		n--;
	if (n == 0 || n > MOX_DNS_NAME_MAX) {
		result_out->status = MOX_DMARC_LOOKUP_NONE;
		snprintf(result_out->why, sizeof(result_out->why), "invalid From domain");
		return MOX_OK;
	}
	for (size_t i = 0; i < n; i++)
		from[i] = mox__dmarc_lower(from_domain[i]);
	from[n] = '\0';
	mox_err err = lookup_at(resolver, from, result_out);
	if (err != MOX_OK || result_out->status != MOX_DMARC_LOOKUP_NONE)
		return err;
	char org[MOX_DNS_NAME_MAX + 1];
	if (mox_dns_psl_org_domain(psl, from, org, sizeof(org)) != MOX_OK ||
	    strcmp(org, from) == 0)
		return MOX_OK;
	char why[sizeof(result_out->why)];
	memcpy(why, result_out->why, sizeof(why));
	memset(result_out, 0, sizeof(*result_out));
	err = lookup_at(resolver, org, result_out);
	if (err == MOX_OK && result_out->status == MOX_DMARC_LOOKUP_FOUND)
		result_out->at_org_domain = true;
	else if (err == MOX_OK && result_out->status == MOX_DMARC_LOOKUP_NONE)
		snprintf(result_out->why, sizeof(result_out->why), "%.120s; no record at %.100s",
			 why, org);
	return err;
}

bool
mox_dmarc_aligned(const mox_dns_psl *psl, const char *from, const char *auth,
		  mox_dmarc_align mode)
{
	if (from == NULL || auth == NULL || from[0] == '\0' || auth[0] == '\0')
		return false;
	if (mox_dns_name_equal(from, auth))
		return true;
	if (mode == MOX_DMARC_ALIGN_STRICT || psl == NULL)
		return false;
	char a[MOX_DNS_NAME_MAX + 1], b[MOX_DNS_NAME_MAX + 1];
	return mox_dns_psl_org_domain(psl, from, a, sizeof(a)) == MOX_OK &&
	       mox_dns_psl_org_domain(psl, auth, b, sizeof(b)) == MOX_OK && strcmp(a, b) == 0;
}

void
mox_dmarc_result_clear(mox_dmarc_result *r)
{
	if (r == NULL)
		return;
	mox_dmarc_lookup_result_clear(&r->lookup);
	memset(r, 0, sizeof(*r));
}

/* Does the From domain exist (for np=, RFC 9091 section 2.1)? It does
 * not when the DNS says NXDOMAIN: then no type has records there. A
 * lookup failure counts as existing, so np= never applies by accident. */
static bool
domain_exists(const mox_resolver *resolver, const char *domain)
{
	mox_dns_answer *a = NULL;
	if (mox_dns_lookup(resolver, domain, MOX_DNS_A, &a) != MOX_OK)
		return true;
	bool exists = a->status != MOX_DNS_NXDOMAIN;
	mox_dns_answer_free(a);
	return exists;
}

mox_err
mox_dmarc_verify(const mox_dmarc_input *in, mox_dmarc_result *res)
{
	if (res == NULL)
		return MOX_EINVAL;
	memset(res, 0, sizeof(*res));
	if (in == NULL || in->resolver == NULL || in->psl == NULL ||
	    (in->ndkim > 0 && in->dkim == NULL))
		return MOX_EINVAL;
	if (in->from_domain == NULL || in->from_domain[0] == '\0') {
		/* Section 6.6.1: no single From domain to evaluate. */
		res->status = MOX_DMARC_PERMERROR;
		snprintf(res->lookup.why, sizeof(res->lookup.why),
			 "message has no single From domain");
		return MOX_OK;
	}
	mox_err err = mox_dmarc_lookup(in->resolver, in->psl, in->from_domain, &res->lookup);
	if (err != MOX_OK)
		return err;
	switch (res->lookup.status) {
	case MOX_DMARC_LOOKUP_NONE:
		res->status = MOX_DMARC_NONE;
		return MOX_OK;
	case MOX_DMARC_LOOKUP_TEMPERROR:
		res->status = MOX_DMARC_TEMPERROR;
		return MOX_OK;
	case MOX_DMARC_LOOKUP_PERMERROR:
		res->status = MOX_DMARC_PERMERROR;
		return MOX_OK;
	case MOX_DMARC_LOOKUP_FOUND:
		break;
	}
	const mox_dmarc_record *rec = res->lookup.record;

	/* The policy that applies: p at the From domain itself; sp (or p)
	 * for a subdomain found via its organizational domain; np (RFC 9091)
	 * for a subdomain that does not exist. */
	res->policy = rec->policy;
	if (res->lookup.at_org_domain) {
		if (rec->subdomain_policy != MOX_DMARC_POLICY_UNSET)
			res->policy = rec->subdomain_policy;
		if (rec->nonexistent_policy != MOX_DMARC_POLICY_UNSET &&
		    !domain_exists(in->resolver, in->from_domain))
			res->policy = rec->nonexistent_policy;
	}

	/* Section 4.2: pass when SPF or DKIM passed for an aligned domain. */
	res->spf_aligned_pass = in->spf_pass && mox_dmarc_aligned(in->psl, in->from_domain,
								    in->spf_domain, rec->aspf);
	for (size_t i = 0; i < in->ndkim && !res->dkim_aligned_pass; i++)
		res->dkim_aligned_pass =
			in->dkim[i].pass &&
			mox_dmarc_aligned(in->psl, in->from_domain, in->dkim[i].domain, rec->adkim);
	if (res->spf_aligned_pass || res->dkim_aligned_pass) {
		res->status = MOX_DMARC_PASS;
		res->disposition = MOX_DMARC_POLICY_NONE;
		return MOX_OK;
	}
	res->status = MOX_DMARC_FAIL;

	/* Section 6.6.4: pct. A message not sampled gets the next policy
	 * down: reject becomes quarantine, quarantine becomes none. */
	int draw = in->pct_draw;
	if (draw < 0 || draw > 99) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec * 6364136223846793005ULL + 1442695040888963407ULL;
		draw = (int)((x >> 33) % 100);
	}
	res->disposition = res->policy;
	if ((unsigned)draw >= rec->pct && res->policy != MOX_DMARC_POLICY_NONE) {
		res->sampled_out = true;
		res->disposition = res->policy == MOX_DMARC_POLICY_REJECT
					   ? MOX_DMARC_POLICY_QUARANTINE
					   : MOX_DMARC_POLICY_NONE;
	}
	res->reject = res->disposition == MOX_DMARC_POLICY_REJECT;
	return MOX_OK;
}

mox_err
mox_dmarc_authres(const mox_dmarc_result *r, const char *from_domain, mox_buf *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	mox_err err = mox_buf_appendf(out, "dmarc=%s", mox_dmarc_status_name(r->status));
	if (err == MOX_OK && r->lookup.record != NULL)
		err = mox_buf_appendf(out, " (p=%s dis=%s)", mox_dmarc_policy_name(r->policy),
				      mox_dmarc_policy_name(r->disposition));
	if (err == MOX_OK && from_domain != NULL && from_domain[0] != '\0')
		err = mox_buf_appendf(out, " header.from=%s", from_domain);
	return err;
}

mox_err
mox_dmarc_from_domain(const void *header, size_t len, char *out, size_t out_size,
		      mox_errinfo *info)
{
	if (header == NULL || out == NULL || out_size == 0)
		return MOX_EINVAL;
	out[0] = '\0';
	mox_msg_header *h = NULL;
	mox_err err = mox_msg_header_parse(header, len, 0, NULL, &h, NULL, info);
	if (err != MOX_OK)
		return err;
	mox_msg_addr_list *l = NULL;
	size_t nfrom = mox_msg_header_count(h, "From");
	if (nfrom == 0) {
		err = mox_errinfo_set(info, MOX_ENOTFOUND, 0, "no From header");
		goto out;
	}
	if (nfrom > 1) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "%zu From headers", nfrom);
		goto out;
	}
	const mox_msg_field *f = mox_msg_header_get(h, "From", 0);
	err = mox_msg_addr_list_parse(f->value, f->value_len, 0, NULL, &l, NULL, info);
	if (err != MOX_OK)
		goto out;
	const char *domain = NULL;
	for (size_t i = 0; i < l->n; i++) {
		const char *d = l->a[i].domain;
		if (d == NULL || d[0] == '\0')
			continue;
		if (domain == NULL) {
			domain = d;
		} else if (!mox_dns_name_equal(domain, d)) {
			/* Section 6.6.1: several authors from different
			 * domains. (Equal names in different scripts, U-label
			 * and A-label, count as different here.) */
			err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
					      "From has addresses in different domains (%s, %s)",
					      domain, d);
			goto out;
		}
	}
	if (domain == NULL) {
		err = mox_errinfo_set(info, MOX_ENOTFOUND, 0, "no address with a domain in From");
		goto out;
	}
	err = mox_dns_name_to_ascii(domain, out, out_size, info);
out:
	mox_msg_addr_list_free(l);
	mox_msg_header_free(h);
	return err;
}
