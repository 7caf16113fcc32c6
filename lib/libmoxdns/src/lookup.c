/* mox_dns_lookup: the one entry point callers use. It checks the name
 * before any backend sees it, so hostile text (from a DKIM selector, an SPF
 * macro expansion, a From header) becomes a PERMFAIL answer and never a
 * query. */
#include "dns_int.h"

#include <string.h>

mox_err
mox_dns_lookup(const mox_resolver *resolver, const char *name,
	       mox_dns_type type, mox_dns_answer **answer_out)
{
	if (answer_out == NULL)
		return MOX_EINVAL;
	*answer_out = NULL;
	if (resolver == NULL || resolver->lookup == NULL || name == NULL)
		return MOX_EINVAL;
	mox_errinfo info;
	if (mox_dns_name_check(name, strlen(name), MOX_DNS_NAME_TRAILING_DOT, &info) !=
	    MOX_OK) {
		/* The answer's qname is the (invalid) text as given, cut to a
		 * sane length so the answer stays small. */
		char shown[MOX_DNS_NAME_MAX + 2];
		size_t n = strnlen(name, sizeof(shown) - 1);
		memcpy(shown, name, n);
		shown[n] = '\0';
		mox_dns_answer *a = mox__dns_answer_new(NULL, shown, type);
		if (a == NULL)
			return MOX_ENOMEM;
		if (mox__dns_answer_fail(a, MOX_DNS_PERMFAIL, "invalid name: %s",
					 info.msg) != MOX_OK) {
			mox_dns_answer_free(a);
			return MOX_ENOMEM;
		}
		*answer_out = a;
		return MOX_OK;
	}
	return resolver->lookup(resolver->ctx, name, type, answer_out);
}

void
mox_resolver_free(mox_resolver *resolver)
{
	if (resolver != NULL && resolver->free != NULL)
		resolver->free(resolver);
}
