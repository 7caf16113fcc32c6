/* Writing TLS reports: the JSON of RFC 8460 section 4.4, gzip for the
 * report attachment (section 5.3) and the file name of section 5.1.
 *
 * The JSON is written by hand, field order and formatting as mox's (Go's
 * encoding/json): the writer is small, and exact output lets "mox tlsrpt
 * parsereportmsg" print what mox prints. Strings are escaped as Go does
 * without HTML escaping: \" \\ \n \r \t, other control characters as
 * \u00xx, U+2028 and U+2029 as \u2028 and \u2029, invalid UTF-8 as
 * \ufffd. */
#include "tlsrpt_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

typedef struct w {
	mox_buf *out;
	bool indent;
	mox_err err;
} w;

static void
put(w *x, const char *s)
{
	if (x->err == MOX_OK)
		x->err = mox_buf_append_str(x->out, s);
}

static void
putn(w *x, const char *s, size_t n)
{
	if (x->err == MOX_OK)
		x->err = mox_buf_append(x->out, s, n);
}

static void
newline(w *x, int depth)
{
	if (!x->indent)
		return;
	put(x, "\n");
	for (int i = 0; i < depth; i++)
		put(x, "\t");
}

/* Length of the valid UTF-8 sequence at p, 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static void
str(w *x, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (s == NULL)
		s = "";
	put(x, "\"");
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;
	while (i < n) {
		uint32_t cp;
		size_t l = utf8_len(p + i, n - i, &cp);
		const char *esc = NULL;
		char u[8];
		if (l == 0) {
			esc = "\\ufffd";
			l = 1;
		} else if (cp == '"')
			esc = "\\\"";
		else if (cp == '\\')
			esc = "\\\\";
		else if (cp == '\n')
			esc = "\\n";
		else if (cp == '\r')
			esc = "\\r";
		else if (cp == '\t')
			esc = "\\t";
		else if (cp < 0x20) {
			snprintf(u, sizeof(u), "\\u00%c%c", hex[cp >> 4], hex[cp & 15]);
			esc = u;
		} else if (cp == 0x2028)
			esc = "\\u2028";
		else if (cp == 0x2029)
			esc = "\\u2029";
		if (esc != NULL) {
			putn(x, s + run, i - run);
			put(x, esc);
			run = i + l;
		}
		i += l;
	}
	putn(x, s + run, n - run);
	put(x, "\"");
}

/* "name": with the separator per style. */
static void
key(w *x, int depth, bool first, const char *k)
{
	if (!first)
		put(x, ",");
	newline(x, depth);
	str(x, k);
	put(x, x->indent ? ": " : ":");
}

static void
num(w *x, int64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRId64, v);
	put(x, b);
}

static void
strings(w *x, int depth, char *const *l, size_t n)
{
	if (n == 0) {
		put(x, "[]");
		return;
	}
	put(x, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put(x, ",");
		newline(x, depth + 1);
		str(x, l[i]);
	}
	newline(x, depth);
	put(x, "]");
}

static void
timev(w *x, const mox_tlsrpt_time *t)
{
	mox_buf b;
	mox_buf_init(&b, x->out->alloc);
	mox_err err = mox_tlsrpt_time_format(t, &b);
	if (err == MOX_OK)
		str(x, (const char *)b.data);
	else if (x->err == MOX_OK)
		x->err = err;
	mox_buf_free(&b);
}

static void
failure(w *x, int d, const mox_tlsrpt_failure *f)
{
	put(x, "{");
	key(x, d + 1, true, "result-type");
	str(x, f->result_type);
	key(x, d + 1, false, "sending-mta-ip");
	str(x, f->sending_mta_ip);
	key(x, d + 1, false, "receiving-mx-hostname");
	str(x, f->receiving_mx_hostname);
	if (f->receiving_mx_helo != NULL && f->receiving_mx_helo[0] != '\0') {
		key(x, d + 1, false, "receiving-mx-helo");
		str(x, f->receiving_mx_helo);
	}
	key(x, d + 1, false, "receiving-ip");
	str(x, f->receiving_ip);
	key(x, d + 1, false, "failed-session-count");
	num(x, f->failed_session_count);
	key(x, d + 1, false, "additional-information");
	str(x, f->additional_information);
	key(x, d + 1, false, "failure-reason-code");
	str(x, f->failure_reason_code);
	newline(x, d);
	put(x, "}");
}

static void
result(w *x, int d, const mox_tlsrpt_result *r)
{
	put(x, "{");
	key(x, d + 1, true, "policy");
	put(x, "{");
	key(x, d + 2, true, "policy-type");
	str(x, r->policy_type);
	key(x, d + 2, false, "policy-string");
	strings(x, d + 2, r->policy_strings, r->npolicy_strings);
	key(x, d + 2, false, "policy-domain");
	str(x, r->policy_domain);
	key(x, d + 2, false, "mx-host");
	strings(x, d + 2, r->mx_hosts, r->nmx_hosts);
	newline(x, d + 1);
	put(x, "}");
	key(x, d + 1, false, "summary");
	put(x, "{");
	key(x, d + 2, true, "total-successful-session-count");
	num(x, r->total_successful_session_count);
	key(x, d + 2, false, "total-failure-session-count");
	num(x, r->total_failure_session_count);
	newline(x, d + 1);
	put(x, "}");
	key(x, d + 1, false, "failure-details");
	if (r->nfailures == 0)
		put(x, "[]");
	else {
		put(x, "[");
		for (size_t i = 0; i < r->nfailures; i++) {
			if (i > 0)
				put(x, ",");
			newline(x, d + 2);
			failure(x, d + 2, &r->failures[i]);
		}
		newline(x, d + 1);
		put(x, "]");
	}
	newline(x, d);
	put(x, "}");
}

mox_err
mox_tlsrpt_report_format(const mox_tlsrpt_report *r, unsigned flags, mox_buf *out)
{
	if (r == NULL || out == NULL || (r->npolicies > 0 && r->policies == NULL))
		return MOX_EINVAL;
	size_t start = out->len;
	w x = {out, (flags & MOX_TLSRPT_JSON_INDENT) != 0, MOX_OK};
	put(&x, "{");
	key(&x, 1, true, "organization-name");
	str(&x, r->organization_name);
	key(&x, 1, false, "date-range");
	put(&x, "{");
	key(&x, 2, true, "start-datetime");
	timev(&x, &r->start);
	key(&x, 2, false, "end-datetime");
	timev(&x, &r->end);
	newline(&x, 1);
	put(&x, "}");
	key(&x, 1, false, "contact-info");
	str(&x, r->contact_info);
	key(&x, 1, false, "report-id");
	str(&x, r->report_id);
	key(&x, 1, false, "policies");
	if (r->npolicies == 0)
		put(&x, "[]");
	else {
		put(&x, "[");
		for (size_t i = 0; i < r->npolicies; i++) {
			if (i > 0)
				put(&x, ",");
			newline(&x, 2);
			result(&x, 2, &r->policies[i]);
		}
		newline(&x, 1);
		put(&x, "]");
	}
	newline(&x, 0);
	put(&x, "}");
	if (x.indent)
		put(&x, "\n");
	if (x.err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return x.err;
}

mox_err
mox_tlsrpt_gzip(const void *data, size_t len, mox_buf *out)
{
	if (out == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952). */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return MOX_ENOMEM;
	size_t start = out->len;
	const uint8_t *in = data;
	size_t left = len;
	mox_err err = MOX_OK;
	int flush;
	do {
		uInt chunk = left > 1u << 30 ? 1u << 30 : (uInt)left;
		z.next_in = (Bytef *)(uintptr_t)in;
		z.avail_in = chunk;
		in += chunk;
		left -= chunk;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			if ((err = mox_buf_reserve(out, 65536)) != MOX_OK)
				goto out;
			z.next_out = out->data + out->len;
			z.avail_out = (uInt)(out->cap - out->len - 1 > 1u << 30
			                         ? 1u << 30
			                         : out->cap - out->len - 1);
			uInt before = z.avail_out;
			if (deflate(&z, flush) == Z_STREAM_ERROR) {
				err = MOX_EIO;
				goto out;
			}
			out->len += before - z.avail_out;
			out->data[out->len] = '\0';
		} while (z.avail_out == 0);
	} while (flush != Z_FINISH);
out:
	deflateEnd(&z);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}

/* RFC 8460 section 5.1: the file name's parts may not contain "!" (the
 * separator) nor "/" or other characters unsafe in file names. */
static bool
name_part_ok(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '!' || *p == '/' || *p == '\\')
			return false;
	return true;
}

mox_err
mox_tlsrpt_report_filename(const char *receiver, const char *policy_domain,
                           const mox_tlsrpt_time *start, const mox_tlsrpt_time *end,
                           const char *unique_id, bool gzip, mox_buf *out)
{
	if (out == NULL || start == NULL || end == NULL || !name_part_ok(receiver) ||
	    !name_part_ok(policy_domain) ||
	    (unique_id != NULL && !name_part_ok(unique_id)))
		return MOX_EINVAL;
	/* filename = sender "!" policy-domain "!" begin-timestamp "!"
	 *            end-timestamp [ "!" unique-id ] "." extension */
	return mox_buf_appendf(out, "%s!%s!%" PRId64 "!%" PRId64 "%s%s.json%s",
	                       receiver, policy_domain, start->seconds, end->seconds,
	                       unique_id != NULL ? "!" : "",
	                       unique_id != NULL ? unique_id : "", gzip ? ".gz" : "");
}
