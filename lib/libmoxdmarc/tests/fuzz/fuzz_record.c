/* Fuzz the DMARC record parser: parse, format, parse again gives the same
 * record. */
#include <mox/dmarc.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_dmarc_record *r = NULL;
	if (mox_dmarc_record_parse((const char *)data, size, NULL, &r, NULL) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	if (mox_dmarc_record_format(r, &b) != MOX_OK)
		abort();
	mox_dmarc_record *r2 = NULL;
	if (mox_dmarc_record_parse((const char *)b.data, b.len, NULL, &r2, NULL) != MOX_OK ||
	    r2->policy != r->policy || r2->pct != r->pct || r2->nrua != r->nrua ||
	    r2->adkim != r->adkim || r2->aspf != r->aspf || r2->ri != r->ri)
		abort();
	mox_dmarc_record_free(r2);
	mox_dmarc_record_free(r);
	mox_buf_free(&b);
	return 0;
}
