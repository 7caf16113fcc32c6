/* Fuzz the MTA-STS TXT record parser; what parses must format and parse
 * again to the same record. */
#include <mox/mtasts.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_mtasts_record *r = NULL, *r2 = NULL;
	(void)mox_mtasts_is_record((const char *)data, size);
	if (mox_mtasts_record_parse((const char *)data, size, NULL, &r, NULL) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	if (mox_mtasts_record_format(r, &b) != MOX_OK ||
	    mox_mtasts_record_parse((const char *)b.data, b.len, NULL, &r2, NULL) !=
	        MOX_OK ||
	    strcmp(r->id, r2->id) != 0 || r->nextensions != r2->nextensions)
		abort();
	for (size_t i = 0; i < r->nextensions; i++)
		if (strcmp(r->extensions[i].key, r2->extensions[i].key) != 0 ||
		    strcmp(r->extensions[i].value, r2->extensions[i].value) != 0)
			abort();
	mox_buf_free(&b);
	mox_mtasts_record_free(r2);
	mox_mtasts_record_free(r);
	return 0;
}
