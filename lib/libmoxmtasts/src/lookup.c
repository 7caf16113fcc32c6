/* Record discovery, RFC 8461 section 3.1: the TXT records at
 * "_mta-sts.<domain>". The resolver follows CNAMEs (section 3.1 asks
 * senders to). Of the TXT records, those that start as an MTA-STS record
 * (mox_mtasts_is_record) count: none is NONE, more than one is MULTIPLE,
 * one that does not parse is SYNTAX. NXDOMAIN and NODATA are NONE; DNS
 * failures are TEMPERROR. */
#include "mtasts_int.h"

#include <stdio.h>
#include <string.h>

const char *
mox_mtasts_lookup_status_name(mox_mtasts_lookup_status s)
{
	switch (s) {
	case MOX_MTASTS_LOOKUP_FOUND:
		return "found";
	case MOX_MTASTS_LOOKUP_NONE:
		return "none";
	case MOX_MTASTS_LOOKUP_MULTIPLE:
		return "multiple";
	case MOX_MTASTS_LOOKUP_SYNTAX:
		return "syntax";
	case MOX_MTASTS_LOOKUP_TEMPERROR:
		return "temperror";
	}
	return "";
}

void
mox_mtasts_lookup_result_clear(mox_mtasts_lookup_result *r)
{
	if (r == NULL)
		return;
	mox_mtasts_record_free(r->record);
	mox_mem_free(r->alloc, r->txt);
	memset(r, 0, sizeof(*r));
}

mox_err
mox_mtasts_lookup(const mox_resolver *resolver, const char *domain,
                  const mox_allocator *alloc, mox_mtasts_lookup_result *res)
{
	if (res == NULL)
		return MOX_EINVAL;
	memset(res, 0, sizeof(*res));
	res->alloc = alloc;
	if (resolver == NULL || domain == NULL)
		return MOX_EINVAL;
	char d[MOX_DNS_NAME_MAX + 1];
	if (!mox__mtasts_domain(domain, d, res->why, sizeof(res->why))) {
		res->status = MOX_MTASTS_LOOKUP_NONE;
		return MOX_OK;
	}
	char name[MOX_DNS_NAME_MAX + 16];
	snprintf(name, sizeof(name), "_mta-sts.%s", d);
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(resolver, name, MOX_DNS_TXT, &a);
	if (err != MOX_OK)
		return err;
	res->authentic = a->authentic;
	switch (a->status) {
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA:
		res->status = MOX_MTASTS_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why),
		         "no mta-sts dns txt record at %s (%s)", name,
		         mox_dns_status_name(a->status));
		goto out;
	case MOX_DNS_TEMPFAIL:
	case MOX_DNS_PERMFAIL:
		res->status = MOX_MTASTS_LOOKUP_TEMPERROR;
		snprintf(res->why, sizeof(res->why), "dns lookup of %s: %s", name,
		         a->why != NULL ? a->why : mox_dns_status_name(a->status));
		goto out;
	case MOX_DNS_FOUND:
		break;
	}
	const mox_dns_rr *found = NULL;
	size_t count = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		const mox_dns_rr *rr = &a->rr[i];
		if (rr->type != MOX_DNS_TXT ||
		    !mox_mtasts_is_record((const char *)rr->u.txt.data, rr->u.txt.len))
			continue;
		if (found == NULL)
			found = rr;
		count++;
	}
	if (count == 0) {
		res->status = MOX_MTASTS_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why),
		         "no mta-sts record among the TXT records at %s", name);
		goto out;
	}
	if (count > 1) {
		/* RFC 8461 section 3.1: not exactly one record means no
		 * policy is available. */
		res->status = MOX_MTASTS_LOOKUP_MULTIPLE;
		snprintf(res->why, sizeof(res->why), "%zu mta-sts records at %s", count,
		         name);
		goto out;
	}
	mox_errinfo info = {0};
	const char *txt = (const char *)found->u.txt.data;
	size_t len = found->u.txt.len;
	err = memchr(txt, '\0', len) != NULL
	          ? mox_errinfo_set(&info, MOX_ESYNTAX, 0, "NUL byte in record")
	          : mox_mtasts_record_parse(txt, len, alloc, &res->record, &info);
	if (err == MOX_ENOMEM)
		goto out;
	if (err != MOX_OK) {
		err = MOX_OK;
		res->status = MOX_MTASTS_LOOKUP_SYNTAX;
		snprintf(res->why, sizeof(res->why), "invalid mta-sts record at %s: %s",
		         name, info.msg);
		goto out;
	}
	if ((res->txt = mox_mem_strndup(alloc, txt, len)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	res->status = MOX_MTASTS_LOOKUP_FOUND;
out:
	mox_dns_answer_free(a);
	if (err != MOX_OK) {
		mox_mtasts_lookup_result_clear(res);
		res->alloc = alloc;
	}
	return err;
}
