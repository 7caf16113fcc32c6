/* Public suffix list and organizational domains (RFC 7489 section 3.2),
 * through libpsl. The list is loaded into a handle (no global state): the
 * file the caller names, or the one the system ships. libpsl treats the
 * ICANN and PRIVATE sections alike and applies the "*" default rule, which
 * is what RFC 7489 section 3.2 and mox (x/net/publicsuffix) do. */
#include "dns_int.h"

#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

struct mox_dns_psl {
	const mox_allocator *alloc;
	psl_ctx_t *ctx;
};

mox_err
mox_dns_psl_new(mox_dns_psl **psl_out, const mox_dns_psl_opts *opts,
		mox_errinfo *info)
{
	if (psl_out == NULL)
		return MOX_EINVAL;
	*psl_out = NULL;
	const mox_allocator *alloc = opts != NULL ? opts->alloc : NULL;
	const char *path = opts != NULL ? opts->path : NULL;
	mox_dns_psl *p = mox_mem_calloc(alloc, 1, sizeof(*p));
	if (p == NULL)
		return MOX_ENOMEM;
	p->alloc = alloc;
	if (path != NULL) {
		p->ctx = psl_load_file(path);
	} else {
		/* psl_latest picks the newest of the distribution's file and
		 * the built-in list; on Debian that is the publicsuffix
		 * package's file. */
		p->ctx = psl_latest(NULL);
	}
	if (p->ctx == NULL) {
		mox_mem_free(alloc, p);
		return mox_errinfo_set(info, MOX_ENOTFOUND, 0,
				       "cannot load public suffix list %s",
				       path != NULL ? path
						    : (psl_dist_filename() ? psl_dist_filename()
									   : "(system)"));
	}
	*psl_out = p;
	return MOX_OK;
}

void
mox_dns_psl_free(mox_dns_psl *psl)
{
	if (psl == NULL)
		return;
	psl_free(psl->ctx);
	mox_mem_free(psl->alloc, psl);
}

bool
mox_dns_psl_is_public_suffix(const mox_dns_psl *psl, const char *name)
{
	char norm[MOX_DNS_NAME_MAX + 1];
	if (psl == NULL || name == NULL ||
	    mox__dns_name_normalize(name, norm, sizeof(norm)) != MOX_OK)
		return false;
	return psl_is_public_suffix2(psl->ctx, norm, PSL_TYPE_ANY) != 0;
}

mox_err
mox_dns_psl_registrable_domain(const mox_dns_psl *psl, const char *name,
			       char *out, size_t out_size)
{
	if (psl == NULL || name == NULL || out == NULL)
		return MOX_EINVAL;
	char norm[MOX_DNS_NAME_MAX + 1];
	if (name[0] == '\0' || name[0] == '.' ||
	    mox__dns_name_normalize(name, norm, sizeof(norm)) != MOX_OK)
		return MOX_ENOTFOUND;
	const char *r = psl_registrable_domain(psl->ctx, norm);
	if (r == NULL)
		return MOX_ENOTFOUND;
	if (strlen(r) + 1 > out_size)
		return MOX_ERANGE;
	memcpy(out, r, strlen(r) + 1);
	return MOX_OK;
}

mox_err
mox_dns_psl_org_domain(const mox_dns_psl *psl, const char *name, char *out,
		       size_t out_size)
{
	mox_err err = mox_dns_psl_registrable_domain(psl, name, out, out_size);
	if (err != MOX_ENOTFOUND)
		return err;
	/* A public suffix is its own organizational domain (mox
	 * publicsuffix.Lookup does the same), so "_dmarc.co.uk" is not asked
	 * at a made-up parent. */
	if (name[0] == '\0' || name[0] == '.')
		return MOX_EINVAL;
	return mox__dns_name_normalize(name, out, out_size);
}
