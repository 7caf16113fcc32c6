/* Consumer of the installed libmoxmtasts (see run.sh). */
#include <mox/mtasts.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	const char *txt = "v=STSv1; id=20160831085700Z;";
	const char *pol =
	    "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n";
	mox_mtasts_record *r = NULL;
	mox_mtasts_policy *p = NULL;
	if (mox_mtasts_record_parse(txt, strlen(txt), NULL, &r, NULL) != MOX_OK ||
	    mox_mtasts_policy_parse(pol, strlen(pol), NULL, &p, NULL) != MOX_OK)
		return 1;
	mox_mtasts_decision d;
	mox_mtasts_decide(p, "mx1.example.com", &d);
	if (!d.allowed || !d.require_tls)
		return 1;
	mox_mtasts_fetcher *f = NULL;
	mox_mtasts_fetch_opts o = {.size = sizeof(o)};
	if (mox_mtasts_fetcher_new(&f, &o, NULL) != MOX_OK)
		return 1;
	printf("consumer: id=%s, mode %s, mx1.example.com allowed with TLS\n", r->id,
	       mox_mtasts_mode_name(p->mode));
	mox_mtasts_fetcher_free(f);
	mox_mtasts_policy_free(p);
	mox_mtasts_record_free(r);
	return 0;
}
