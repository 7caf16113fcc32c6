/* Fuzz the JSON report parser and the message path. A report that parses
 * must write JSON that parses to a report writing the same JSON (parse,
 * format, parse gives the same), compact and indented. */
#include <mox/tlsrpt.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(const mox_tlsrpt_report *r, unsigned flags)
{
	mox_buf a = MOX_BUF_INIT, b = MOX_BUF_INIT;
	mox_tlsrpt_report *r2 = NULL;
	mox_err err = mox_tlsrpt_report_format(r, flags, &a);
	if (err == MOX_ERANGE) /* a time outside years 0-9999 after its offset */
		goto out;
	if (err != MOX_OK ||
	    mox_tlsrpt_report_parse(a.data, a.len, NULL, NULL, &r2, NULL) != MOX_OK ||
	    mox_tlsrpt_report_format(r2, flags, &b) != MOX_OK || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
out:
	mox_tlsrpt_report_free(r2);
	mox_buf_free(&a);
	mox_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_tlsrpt_report_limits lim = {.max_bytes = 1 << 20, .max_message = 1 << 20};
	mox_tlsrpt_report *r = NULL;
	if (mox_tlsrpt_report_parse(data, size, &lim, NULL, &r, NULL) == MOX_OK) {
		roundtrip(r, 0);
		roundtrip(r, MOX_TLSRPT_JSON_INDENT);
		mox_tlsrpt_report_free(r);
	}
	r = NULL;
	if (mox_tlsrpt_report_parse_message(data, size, &lim, NULL, &r, NULL) == MOX_OK)
		mox_tlsrpt_report_free(r);
	return 0;
}
