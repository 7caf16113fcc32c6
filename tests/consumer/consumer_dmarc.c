/* Consumer of the installed libmoxdmarc (see run.sh). */
#include <mox/dmarc.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	const char *txt = "v=DMARC1; p=reject; rua=mailto:r@example.com";
	mox_dmarc_record *r = NULL;
	if (mox_dmarc_record_parse(txt, strlen(txt), NULL, &r, NULL) != MOX_OK ||
	    r->policy != MOX_DMARC_POLICY_REJECT)
		return 1;
	const char *xml = "<feedback><record><row><source_ip>192.0.2.1</source_ip>"
			  "<count>2</count></row></record></feedback>";
	mox_dmarc_report *rep = NULL;
	if (mox_dmarc_report_parse(xml, strlen(xml), NULL, NULL, &rep, NULL) != MOX_OK ||
	    rep->nrecords != 1)
		return 1;
	printf("consumer: p=%s, report with %zu record\n", mox_dmarc_policy_name(r->policy),
	       rep->nrecords);
	mox_dmarc_report_free(rep);
	mox_dmarc_record_free(r);
	return 0;
}
