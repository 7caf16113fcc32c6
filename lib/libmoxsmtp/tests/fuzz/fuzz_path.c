/* Fuzz SMTP path and address parsing: any input parses or fails cleanly; a
 * path that parses formats to text that parses to the same path, in ASCII
 * and, with SMTPUTF8, in UTF-8 (unless the other form is over a length
 * limit). The first byte picks the flags. */
#include <mox/smtp.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(const mox_smtp_path *p, unsigned flags, bool utf8)
{
	mox_buf b = MOX_BUF_INIT;
	if (mox_smtp_path_format(p, utf8, &b) != MOX_OK)
		abort();
	mox_smtp_path q;
	mox_errinfo info;
	/* A non-ASCII local part needs SMTPUTF8 whatever the domain form. */
	mox_err err = mox_smtp_path_parse((const char *)b.data, b.len, flags, &q, &info);
	if (err == MOX_EUNSUPPORTED && !(flags & MOX_SMTP_PATH_UTF8)) {
		mox_buf_free(&b);
		return;
	}
	/* The other form of a domain (A-labels for U-labels or back) can be
	 * longer than the limits in octets. */
	if (err == MOX_ERANGE) {
		mox_buf_free(&b);
		return;
	}
	if (err != MOX_OK || !mox_smtp_path_equal(p, &q) || strcmp(p->localpart, q.localpart) != 0 ||
	    p->null != q.null || p->postmaster != q.postmaster)
		abort();
	mox_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned flags = data[0] & 7;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	mox_smtp_path p;
	mox_errinfo info;
	if (mox_smtp_path_parse(s, n, flags, &p, &info) == MOX_OK) {
		roundtrip(&p, flags, false);
		roundtrip(&p, flags, (flags & MOX_SMTP_PATH_UTF8) != 0);
	}
	if (mox_smtp_address_parse(s, n, flags, &p, &info) == MOX_OK)
		roundtrip(&p, flags, (flags & MOX_SMTP_PATH_UTF8) != 0);
	return 0;
}
