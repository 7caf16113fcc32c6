/* Fuzz the aggregate report XML parser, and the message path. */
#include <mox/dmarc.h>

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_dmarc_report_limits lim = {.max_bytes = 1 << 20, .max_records = 1000};
	mox_dmarc_report *r = NULL;
	if (mox_dmarc_report_parse(data, size, &lim, NULL, &r, NULL) == MOX_OK)
		mox_dmarc_report_free(r);
	r = NULL;
	if (mox_dmarc_report_parse_message(data, size, &lim, NULL, &r, NULL) == MOX_OK)
		mox_dmarc_report_free(r);
	return 0;
}
