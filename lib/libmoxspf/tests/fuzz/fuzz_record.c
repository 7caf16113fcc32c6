/* Fuzz the SPF record parser: any input must parse or fail cleanly, and a
 * record that parses must format to text that parses to the same record
 * (parse, format, parse, format gives the same text twice). */
#include <mox/spf.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_spf_record *r = NULL, *r2 = NULL;
	mox_errinfo info;
	(void)mox_spf_record_is_spf((const char *)data, size);
	if (mox_spf_record_parse((const char *)data, size, NULL, &r, &info) != MOX_OK)
		return 0;
	mox_buf a = MOX_BUF_INIT, b = MOX_BUF_INIT;
	if (mox_spf_record_format(r, &a) != MOX_OK)
		abort();
	if (mox_spf_record_parse((const char *)a.data, a.len, NULL, &r2, &info) != MOX_OK)
		abort(); /* our own output must parse */
	if (mox_spf_record_format(r2, &b) != MOX_OK || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (mox_spf_record_directives(r) != mox_spf_record_directives(r2))
		abort();
	for (size_t i = 0; i < mox_spf_record_directives(r); i++) {
		mox_spf_directive d;
		if (mox_spf_record_directive(r, i, &d) != MOX_OK)
			abort();
	}
	mox_buf_free(&a);
	mox_buf_free(&b);
	mox_spf_record_free(r);
	mox_spf_record_free(r2);
	return 0;
}
