/* Fuzz the MTA-STS policy parser; what parses must format and parse again
 * to the same mode, max_age and MX list, and MX matching must agree with
 * the patterns. */
#include <mox/mtasts.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_mtasts_policy *p = NULL, *p2 = NULL;
	if (mox_mtasts_policy_parse((const char *)data, size, NULL, &p, NULL) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	if (mox_mtasts_policy_format(p, &b) != MOX_OK ||
	    mox_mtasts_policy_parse((const char *)b.data, b.len, NULL, &p2, NULL) !=
	        MOX_OK ||
	    p->mode != p2->mode || p->max_age != p2->max_age || p->nmx != p2->nmx)
		abort();
	for (size_t i = 0; i < p->nmx; i++) {
		if (p->mx[i].wildcard != p2->mx[i].wildcard ||
		    strcmp(p->mx[i].domain, p2->mx[i].domain) != 0)
			abort();
		/* A plain pattern matches itself; a wildcard matches one more
		 * label and not its own domain unless listed too. */
		char host[300];
		snprintf(host, sizeof(host), "%s%s", p->mx[i].wildcard ? "x." : "",
		         p->mx[i].domain);
		if (!mox_mtasts_policy_matches(p, host))
			abort();
	}
	mox_mtasts_decision d;
	mox_mtasts_decide(p, "mx.example.com", &d);
	if (!d.allowed && p->mode != MOX_MTASTS_MODE_ENFORCE)
		abort();
	mox_buf_free(&b);
	mox_mtasts_policy_free(p2);
	mox_mtasts_policy_free(p);
	return 0;
}
