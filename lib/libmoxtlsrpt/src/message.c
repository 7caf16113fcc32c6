/* TLS reports out of messages, RFC 8460 section 5.3.
 *
 * How this works: libmoxmessage parses the message into its part tree
 * (bodies are not copied); the walk follows mox: a message that is not
 * multipart is itself the report; in a multipart the children are tried in
 * order, and leaf parts are only taken as the report inside a
 * multipart/report, whose report-type must be "tlsrpt". The report part is
 * decoded from its transfer encoding (base64, quoted-printable) and, for
 * application/tlsrpt+gzip, gunzipped with zlib (RFC 1952; concatenated
 * gzip members are read as one stream, as Go's reader does), with the
 * output bounded by limits.max_bytes, so a gzip bomb stops at the limit.
 *
 * The gunzip here and the one in libmoxdmarc's report.c do the same job
 * (bounded inflate into a mox_buf); a shared helper would be a candidate
 * for a small common place, but libmoxcore has no zlib. */
#include "tlsrpt_int.h"

#include <mox/message.h>

#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* Gunzip data into out, at most max bytes. */
static mox_err
gunzip(const uint8_t *data, size_t len, size_t max, mox_buf *out, mox_errinfo *info)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: gzip wrapper only. */
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return MOX_ENOMEM;
	mox_err err = MOX_OK;
	const uint8_t *in = data;
	size_t left = len;
	for (;;) {
		if (z.avail_in == 0 && left > 0) {
			uInt chunk = left > 1u << 30 ? 1u << 30 : (uInt)left;
			z.next_in = (Bytef *)(uintptr_t)in;
			z.avail_in = chunk;
			in += chunk;
			left -= chunk;
		}
		if ((err = mox_buf_reserve(out, 65536)) != MOX_OK)
			break;
		z.next_out = out->data + out->len;
		size_t room = out->cap - out->len - 1;
		z.avail_out = room > 1u << 30 ? 1u << 30 : (uInt)room;
		uInt before = z.avail_out, in_before = z.avail_in;
		int rc = inflate(&z, Z_NO_FLUSH);
		out->len += before - z.avail_out;
		out->data[out->len] = '\0';
		if (out->len > max) {
			err = mox_errinfo_set(info, MOX_ELIMIT, 0,
			                      "gunzipped report larger than %zu bytes",
			                      max);
			break;
		}
		if (rc == Z_STREAM_END) {
			if (z.avail_in == 0 && left == 0)
				break;
			/* Another gzip member follows. */
			if (inflateReset(&z) != Z_OK) {
				err = MOX_ENOMEM;
				break;
			}
			continue;
		}
		if (rc == Z_MEM_ERROR) {
			err = MOX_ENOMEM;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "bad gzip data: %s",
			                      z.msg != NULL ? z.msg : "corrupt");
			break;
		}
		if (z.avail_in == 0 && left == 0 && before == z.avail_out &&
		    in_before == z.avail_in) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
			                      "bad gzip data: truncated");
			break;
		}
	}
	inflateEnd(&z);
	return err;
}

typedef enum { K_NONE, K_JSON, K_GZIP, K_SNIFF } kind;

static kind
part_kind(const mox_msg_part *p)
{
	if (p->type == NULL || p->subtype == NULL ||
	    strcmp(p->type, "application") != 0)
		return K_NONE;
	if (strcmp(p->subtype, "tlsrpt+json") == 0)
		return K_JSON;
	if (strcmp(p->subtype, "tlsrpt+gzip") == 0)
		return K_GZIP;
	/* Not in RFC 8460, but sent by some (stalwart's samples). */
	if (strcmp(p->subtype, "tlsrpt") == 0)
		return K_SNIFF;
	return K_NONE;
}

typedef struct mctx {
	const uint8_t *msg;
	size_t len;
	mox_tlsrpt_report_limits lim;
	const mox_allocator *alloc;
	mox_tlsrpt_report **out;
	mox_errinfo *info;
} mctx;

static mox_err
parse_part(mctx *m, const mox_msg_part *p)
{
	kind k = part_kind(p);
	if (k == K_NONE)
		return MOX_ENOTFOUND;
	mox_buf raw, json;
	mox_buf_init(&raw, m->alloc);
	mox_buf_init(&json, m->alloc);
	raw.max = m->lim.max_message;
	unsigned warnings = 0;
	mox_err err = mox_msg_part_decode(p, m->msg, m->len, &raw, &warnings);
	if (err != MOX_OK) {
		if (err != MOX_ENOMEM)
			mox_errinfo_set(m->info, err, p->body_offset,
			                "decoding the report part: %s",
			                mox_strerror(err));
		goto out;
	}
	const mox_buf *src = &raw;
	if (k == K_SNIFF && raw.len >= 2 && raw.data[0] == 0x1f && raw.data[1] == 0x8b)
		k = K_GZIP;
	if (k == K_GZIP) {
		if ((err = gunzip(raw.data != NULL ? raw.data : (const uint8_t *)"",
		                  raw.len, m->lim.max_bytes, &json, m->info)) != MOX_OK)
			goto out;
		src = &json;
	}
	err =
	    mox_tlsrpt_report_parse(src->data != NULL ? src->data : (const uint8_t *)"",
	                            src->len, &m->lim, m->alloc, m->out, m->info);
out:
	mox_buf_free(&raw);
	mox_buf_free(&json);
	return err;
}

static bool
is_multipart(const mox_msg_part *p)
{
	return p->type != NULL && strcmp(p->type, "multipart") == 0;
}

/* mox's parseMessageReport: allow says whether a leaf may be the report. */
static mox_err
walk(mctx *m, const mox_msg_part *p, bool allow)
{
	if (!is_multipart(p))
		return allow ? parse_part(m, p) : MOX_ENOTFOUND;
	bool report = p->subtype != NULL && strcmp(p->subtype, "report") == 0;
	if (report && p->nchildren > 0) {
		const char *rt = mox_msg_params_get(&p->params, "report-type");
		if (rt == NULL || !mox__tlsrpt_eq_ci(rt, "tlsrpt"))
			return mox_errinfo_set(
			    m->info, MOX_ESYNTAX, p->header_offset,
			    "multipart/report with report-type '%.60s', not "
			    "tlsrpt",
			    rt != NULL ? rt : "");
	}
	for (size_t i = 0; i < p->nchildren; i++) {
		mox_err err = walk(m, p->children[i], report);
		if (err != MOX_ENOTFOUND)
			return err;
	}
	return MOX_ENOTFOUND;
}

mox_err
mox_tlsrpt_report_parse_message(const void *msg, size_t len,
                                const mox_tlsrpt_report_limits *limits,
                                const mox_allocator *alloc,
                                mox_tlsrpt_report **report_out, mox_errinfo *info)
{
	if (report_out == NULL)
		return MOX_EINVAL;
	*report_out = NULL;
	if (msg == NULL)
		return MOX_EINVAL;
	mctx m = {
	    .msg = msg, .len = len, .alloc = alloc, .out = report_out, .info = info};
	mox__tlsrpt_limits(&m.lim, limits);
	if (len > m.lim.max_message)
		return mox_errinfo_set(info, MOX_ELIMIT, m.lim.max_message,
		                       "message larger than %zu bytes",
		                       m.lim.max_message);
	mox_msg_parse_opts po = {.size = sizeof(po), .alloc = alloc};
	mox_msg *pm = NULL;
	mox_err err = mox_msg_parse(msg, len, &po, &pm, info);
	if (err != MOX_OK)
		return err;
	err = walk(&m, pm->root, true);
	if (err == MOX_ENOTFOUND)
		mox_errinfo_set(info, MOX_ENOTFOUND, 0,
		                "no tlsrpt report found in the message");
	mox_msg_free(pm);
	return err;
}
