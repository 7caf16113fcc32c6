/* Consumer of the installed libmoxtlsrpt (see run.sh). */
#include <mox/tlsrpt.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	const char *txt = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";
	const char *json =
	    "{\"organization-name\": \"x\", \"date-range\": {\"start-datetime\": "
	    "\"2016-04-01T00:00:00Z\"}, \"policies\": [{\"summary\": "
	    "{\"total-successful-session-count\": 2}}]}";
	mox_tlsrpt_record *r = NULL;
	mox_tlsrpt_report *rep = NULL;
	if (mox_tlsrpt_record_parse(txt, strlen(txt), NULL, &r, NULL) != MOX_OK ||
	    mox_tlsrpt_report_parse(json, strlen(json), NULL, NULL, &rep, NULL) !=
	        MOX_OK ||
	    rep->npolicies != 1)
		return 1;
	mox_buf b = MOX_BUF_INIT, gz = MOX_BUF_INIT;
	if (mox_tlsrpt_report_format(rep, 0, &b) != MOX_OK ||
	    mox_tlsrpt_gzip(b.data, b.len, &gz) != MOX_OK)
		return 1;
	printf("consumer: rua %s, report of %zu bytes, %zu gzipped\n",
	       r->rua[0].uris[0], b.len, gz.len);
	mox_buf_free(&b);
	mox_buf_free(&gz);
	mox_tlsrpt_report_free(rep);
	mox_tlsrpt_record_free(r);
	return 0;
}
