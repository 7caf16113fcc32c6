/* Fuzz the TLSRPT TXT record parser; what parses must format and parse
 * again to the same record. */
#include <mox/tlsrpt.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_tlsrpt_record *r = NULL, *r2 = NULL;
	(void)mox_tlsrpt_is_record((const char *)data, size);
	if (mox_tlsrpt_record_parse((const char *)data, size, NULL, &r, NULL) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	if (mox_tlsrpt_record_format(r, &b) != MOX_OK ||
	    mox_tlsrpt_record_parse((const char *)b.data, b.len, NULL, &r2, NULL) !=
	        MOX_OK ||
	    r->nrua != r2->nrua || r->nextensions != r2->nextensions)
		abort();
	for (size_t i = 0; i < r->nrua; i++) {
		if (r->rua[i].n != r2->rua[i].n)
			abort();
		for (size_t j = 0; j < r->rua[i].n; j++) {
			if (strcmp(r->rua[i].uris[j], r2->rua[i].uris[j]) != 0)
				abort();
			(void)mox_tlsrpt_uri_scheme(r->rua[i].uris[j]);
		}
	}
	mox_buf_free(&b);
	mox_tlsrpt_record_free(r2);
	mox_tlsrpt_record_free(r);
	return 0;
}
