/* The cached part tree: a compact blob per message, and back.
 *
 * Format (version MOX_STORE_PART_FORMAT = 1), all integers LEB128
 * varints (signed ones zigzag), strings as length + bytes ("ostr": length
 * + 1, 0 for NULL):
 *
 *   blob     = %x01 part
 *   part     = header_offset (body_offset - header_offset)
 *              (end_offset - body_offset) body_lines warnings
 *              str:type str:subtype nparams *(str:name str:value)
 *              ostr:encoding ostr:disposition ndparams *(str str)
 *              ostr:content-id ostr:content-description ostr:content-md5
 *              ostr:content-language ostr:content-location
 *              (%x00 / %x01 envelope) nchildren *part
 *   envelope = ostr:date (%x00 / %x01 sint:time sint:tz) ostr:subject
 *              addrs:from addrs:sender addrs:reply-to addrs:to addrs:cc
 *              addrs:bcc ostr:in-reply-to ostr:message-id
 *   addrs    = n *(ostr:name ostr:local ostr:domain ostr:group)
 *
 * A 5 KB message's tree takes about 150-400 bytes. The decoder walks the
 * blob twice: once to check it and count what it holds (never reading
 * past the end, nesting at most MOX_STORE_PART_DEPTH_MAX, every count
 * bounded by the bytes left), then to fill one allocation holding every
 * struct and string, so the tree is freed with one call.
 */
#include "store_int.h"

#include <string.h>

/* ---- encoding ---- */

static mox_err
put_uv(mox_buf *out, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	return mox_buf_append(out, b, n);
}

static mox_err
put_sv(mox_buf *out, int64_t v)
{
	return put_uv(out, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static mox_err
put_str(mox_buf *out, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	mox_err err = put_uv(out, n);
	return err == MOX_OK ? mox_buf_append(out, s, n) : err;
}

static mox_err
put_ostr(mox_buf *out, const char *s)
{
	if (s == NULL)
		return put_uv(out, 0);
	size_t n = strlen(s);
	mox_err err = put_uv(out, (uint64_t)n + 1);
	return err == MOX_OK ? mox_buf_append(out, s, n) : err;
}

/* The first field's value, unfolded (NUL-free prefix), into tmp; NULL if
 * absent. */
static mox_err
field(const mox_msg_header *h, const char *name, mox_buf *tmp, const char **out)
{
	*out = NULL;
	if (h == NULL)
		return MOX_OK;
	const mox_msg_field *f = mox_msg_header_get(h, name, 0);
	if (f == NULL)
		return MOX_OK;
	mox_buf_reset(tmp);
	mox_err err = mox_msg_field_unfold(f, tmp);
	if (err == MOX_OK)
		err = mox_buf_append(tmp, "", 0);
	if (err == MOX_OK)
		*out = (const char *)tmp->data;
	return err;
}

static mox_err
put_field(mox_buf *out, const mox_msg_header *h, const char *name, mox_buf *tmp)
{
	const char *v;
	mox_err err = field(h, name, tmp, &v);
	return err == MOX_OK ? put_ostr(out, v) : err;
}

static mox_err
put_addrs(mox_buf *out, const mox_msg_header *h, const char *name,
          const mox_allocator *a)
{
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, name, 0) : NULL;
	if (f == NULL)
		return put_uv(out, 0);
	mox_msg_addr_list *l = NULL;
	mox_err err =
	    mox_msg_addr_list_parse(f->value, f->value_len, 0, a, &l, NULL, NULL);
	if (err == MOX_ENOMEM)
		return err;
	if (err != MOX_OK || l == NULL) {
		mox_msg_addr_list_free(l);
		return put_uv(out, 0);
	}
	err = put_uv(out, l->n);
	for (size_t i = 0; i < l->n && err == MOX_OK; i++) {
		err = put_ostr(out, l->a[i].name);
		if (err == MOX_OK)
			err = put_ostr(out, l->a[i].local);
		if (err == MOX_OK)
			err = put_ostr(out, l->a[i].domain);
		if (err == MOX_OK)
			err = put_ostr(out, l->a[i].group);
	}
	mox_msg_addr_list_free(l);
	return err;
}

static mox_err
put_envelope(mox_buf *out, const mox_msg_header *h, const mox_allocator *a,
             mox_buf *tmp)
{
	const char *date;
	mox_err err = field(h, "Date", tmp, &date);
	if (err == MOX_OK)
		err = put_ostr(out, date);
	mox_msg_date d;
	const mox_msg_field *df = h != NULL ? mox_msg_header_get(h, "Date", 0) : NULL;
	bool valid = df != NULL &&
	             mox_msg_date_parse(df->value, df->value_len, &d, NULL) == MOX_OK;
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, valid ? 1 : 0);
	if (err == MOX_OK && valid) {
		err = put_sv(out, (int64_t)d.t);
		if (err == MOX_OK)
			err = put_sv(out, d.tz_offset);
	}
	if (err == MOX_OK)
		err = put_field(out, h, "Subject", tmp);
	static const char *const addrs[] = {"From", "Sender", "Reply-To",
	                                    "To",   "Cc",     "Bcc"};
	for (size_t i = 0; i < 6 && err == MOX_OK; i++)
		err = put_addrs(out, h, addrs[i], a);
	if (err == MOX_OK)
		err = put_field(out, h, "In-Reply-To", tmp);
	if (err == MOX_OK)
		err = put_field(out, h, "Message-ID", tmp);
	return err;
}

static mox_err
put_params(mox_buf *out, const mox_msg_params *p)
{
	mox_err err = put_uv(out, p->n);
	for (size_t i = 0; i < p->n && err == MOX_OK; i++) {
		err = put_str(out, p->p[i].name);
		if (err == MOX_OK)
			err = put_str(out, p->p[i].value);
	}
	return err;
}

static mox_err
put_part(mox_buf *out, const mox_msg_part *p, const mox_allocator *a, mox_buf *tmp)
{
	const mox_msg_header *h = p->header;
	mox_err err = put_uv(out, p->header_offset);
	if (err == MOX_OK)
		err = put_uv(out, p->body_offset - p->header_offset);
	if (err == MOX_OK)
		err = put_uv(out, p->end_offset - p->body_offset);
	if (err == MOX_OK)
		err = put_uv(out, p->body_lines);
	if (err == MOX_OK)
		err = put_uv(out, p->warnings);
	if (err == MOX_OK)
		err = put_str(out, p->type);
	if (err == MOX_OK)
		err = put_str(out, p->subtype);
	if (err == MOX_OK)
		err = put_params(out, &p->params);
	if (err == MOX_OK)
		err = put_field(out, h, "Content-Transfer-Encoding", tmp);
	if (err == MOX_OK)
		err = put_ostr(out, p->disposition);
	if (err == MOX_OK)
		err = put_params(out, &p->disposition_params);
	static const char *const fields[] = {"Content-ID", "Content-Description",
	                                     "Content-MD5", "Content-Language",
	                                     "Content-Location"};
	for (size_t i = 0; i < 5 && err == MOX_OK; i++)
		err = put_field(out, h, fields[i], tmp);
	/* Envelopes for the message and each nested message (RFC 9051
	 * section 7.5.2, body-type-msg). */
	bool env = p->parent == NULL || mox_msg_part_is_message(p->parent);
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, env ? 1 : 0);
	if (err == MOX_OK && env)
		err = put_envelope(out, h, a, tmp);
	if (err == MOX_OK)
		err = put_uv(out, p->nchildren);
	for (size_t i = 0; i < p->nchildren && err == MOX_OK; i++)
		err = put_part(out, p->children[i], a, tmp);
	return err;
}

mox_err
mox_store_part_encode(const mox_msg *msg, mox_buf *out)
{
	if (msg == NULL || msg->root == NULL || out == NULL)
		return MOX_EINVAL;
	mox_buf tmp;
	mox_buf_init(&tmp, out->alloc);
	size_t len0 = out->len;
	mox_err err = mox_buf_append_byte(out, MOX_STORE_PART_FORMAT);
	if (err == MOX_OK)
		err = put_part(out, msg->root, msg->alloc, &tmp);
	mox_buf_free(&tmp);
	if (err != MOX_OK)
		out->len = len0;
	return err;
}

/* One text/plain part spanning the file, for messages the parser could
 * not read within its limits. */
mox_err
mox__store_part_encode_flat(uint64_t size, unsigned warnings, mox_buf *out)
{
	size_t len0 = out->len;
	mox_err err = mox_buf_append_byte(out, MOX_STORE_PART_FORMAT);
	uint64_t v[] = {0, 0, size, 0, warnings};
	for (size_t i = 0; i < 5 && err == MOX_OK; i++)
		err = put_uv(out, v[i]);
	if (err == MOX_OK)
		err = put_str(out, "text");
	if (err == MOX_OK)
		err = put_str(out, "plain");
	/* nparams, encoding, disposition, ndparams, 5 fields, envelope with
	 * nothing in it, nchildren. */
	static const uint8_t rest[] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0,          /* params .. content-location */
	    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* empty envelope */
	    0,                                  /* no children */
	};
	if (err == MOX_OK)
		err = mox_buf_append(out, rest, sizeof(rest));
	if (err != MOX_OK)
		out->len = len0;
	return err;
}

/* ---- decoding ---- */

struct dec {
	const uint8_t *p, *end;
	bool fill;
	unsigned depth;
	size_t nparts, nparams, naddrs, nenvs, nstr;
	mox_store_part *parts;
	mox_store_param *params;
	mox_store_address *addrs;
	mox_store_envelope *envs;
	char *strs;
};

static bool
get_uv(struct dec *d, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (d->p >= d->end)
			return false;
		uint8_t b = *d->p++;
		if (shift == 63 && (b & 0x7e) != 0)
			return false;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

static bool
get_sv(struct dec *d, int64_t *v)
{
	uint64_t u;
	if (!get_uv(d, &u))
		return false;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return true;
}

static bool
get_size(struct dec *d, size_t *n)
{
	uint64_t v;
	if (!get_uv(d, &v))
		return false;
	/* Every element takes at least one byte: a count larger than what is
	 * left is damage, and this bounds all allocations by the blob size. */
	if (v > (uint64_t)(d->end - d->p))
		return false;
	*n = (size_t)v;
	return true;
}

static bool
get_bytes_str(struct dec *d, size_t n, const char **out)
{
	if (n > (size_t)(d->end - d->p))
		return false;
	if (memchr(d->p, '\0', n) != NULL)
		return false;
	if (d->fill) {
		char *s = d->strs + d->nstr;
		memcpy(s, d->p, n);
		s[n] = '\0';
		*out = s;
	}
	d->nstr += n + 1;
	d->p += n;
	return true;
}

static bool
get_str(struct dec *d, const char **out)
{
	size_t n;
	return get_size(d, &n) && get_bytes_str(d, n, out);
}

static bool
get_ostr(struct dec *d, const char **out)
{
	uint64_t v;
	if (!get_uv(d, &v))
		return false;
	if (v == 0) {
		if (d->fill)
			*out = NULL;
		return true;
	}
	if (v - 1 > (uint64_t)(d->end - d->p))
		return false;
	return get_bytes_str(d, (size_t)(v - 1), out);
}

static bool
get_params(struct dec *d, const mox_store_param **out, size_t *nout)
{
	size_t n;
	if (!get_size(d, &n))
		return false;
	mox_store_param *p = d->fill ? d->params + d->nparams : NULL;
	d->nparams += n;
	if (d->fill) {
		*out = n > 0 ? p : NULL;
		*nout = n;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = NULL, *value = NULL;
		if (!get_str(d, &name) || !get_str(d, &value))
			return false;
		if (d->fill) {
			p[i].name = name;
			p[i].value = value;
		}
	}
	return true;
}

static bool
get_addrs(struct dec *d, mox_store_addresses *out)
{
	size_t n;
	if (!get_size(d, &n))
		return false;
	mox_store_address *a = d->fill ? d->addrs + d->naddrs : NULL;
	d->naddrs += n;
	if (d->fill) {
		out->n = n;
		out->a = n > 0 ? a : NULL;
	}
	for (size_t i = 0; i < n; i++) {
		mox_store_address x = {0};
		if (!get_ostr(d, &x.name) || !get_ostr(d, &x.local) ||
		    !get_ostr(d, &x.domain) || !get_ostr(d, &x.group))
			return false;
		if (d->fill)
			a[i] = x;
	}
	return true;
}

static bool
get_envelope(struct dec *d, const mox_store_envelope **out)
{
	mox_store_envelope e = {0}, *ep = d->fill ? d->envs + d->nenvs : NULL;
	d->nenvs++;
	if (!get_ostr(d, &e.date) || d->p >= d->end)
		return false;
	uint8_t valid = *d->p++;
	if (valid > 1)
		return false;
	e.date_valid = valid == 1;
	if (e.date_valid) {
		int64_t tz;
		if (!get_sv(d, &e.date_time) || !get_sv(d, &tz) || tz < -1439 ||
		    tz > 1439)
			return false;
		e.date_tz = (int)tz;
	}
	if (!get_ostr(d, &e.subject) || !get_addrs(d, &e.from) ||
	    !get_addrs(d, &e.sender) || !get_addrs(d, &e.reply_to) ||
	    !get_addrs(d, &e.to) || !get_addrs(d, &e.cc) || !get_addrs(d, &e.bcc) ||
	    !get_ostr(d, &e.in_reply_to) || !get_ostr(d, &e.message_id))
		return false;
	if (d->fill) {
		*ep = e;
		*out = ep;
	}
	return true;
}

static bool
get_part(struct dec *d, mox_store_part *out)
{
	mox_store_part p = {0};
	uint64_t hoff, hlen, blen, lines, warn;
	if (++d->depth > MOX_STORE_PART_DEPTH_MAX)
		return false;
	if (!get_uv(d, &hoff) || !get_uv(d, &hlen) || !get_uv(d, &blen) ||
	    !get_uv(d, &lines) || !get_uv(d, &warn))
		return false;
	if (hlen > UINT64_MAX - hoff || blen > UINT64_MAX - hoff - hlen ||
	    warn > UINT32_MAX)
		return false;
	p.header_offset = hoff;
	p.body_offset = hoff + hlen;
	p.end_offset = hoff + hlen + blen;
	p.body_lines = lines;
	p.warnings = (unsigned)warn;
	if (!get_str(d, &p.type) || !get_str(d, &p.subtype) ||
	    !get_params(d, &p.params, &p.nparams) || !get_ostr(d, &p.encoding) ||
	    !get_ostr(d, &p.disposition) ||
	    !get_params(d, &p.disposition_params, &p.ndisposition_params) ||
	    !get_ostr(d, &p.content_id) || !get_ostr(d, &p.content_description) ||
	    !get_ostr(d, &p.content_md5) || !get_ostr(d, &p.content_language) ||
	    !get_ostr(d, &p.content_location))
		return false;
	if (d->p >= d->end || *d->p > 1)
		return false;
	if (*d->p++ == 1 && !get_envelope(d, &p.envelope))
		return false;
	size_t n;
	if (!get_size(d, &n))
		return false;
	mox_store_part *kids = d->fill ? d->parts + d->nparts : NULL;
	d->nparts += n;
	p.nchildren = n;
	p.children = n > 0 ? kids : NULL;
	for (size_t i = 0; i < n; i++) {
		if (!get_part(d, d->fill ? &kids[i] : NULL))
			return false;
	}
	if (d->fill)
		*out = p;
	d->depth--;
	return true;
}

/* Room in front of the tree for the allocator, keeping 16-byte alignment. */
#define PART_HDR 16

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

mox_err
mox_store_part_decode(const uint8_t *blob, size_t len, const mox_allocator *alloc,
                      mox_store_part **part_out)
{
	if (part_out == NULL)
		return MOX_EINVAL;
	*part_out = NULL;
	if (blob == NULL || len == 0)
		return MOX_ESYNTAX;
	if (blob[0] != MOX_STORE_PART_FORMAT)
		return MOX_EUNSUPPORTED;
	struct dec d = {.p = blob + 1, .end = blob + len, .nparts = 1};
	if (!get_part(&d, NULL) || d.p != d.end)
		return MOX_ESYNTAX;
	/* Sizes are bounded by len (each element at least one byte), so
	 * these sums cannot overflow for any blob that fits in memory. */
	size_t o_params = align8(d.nparts * sizeof(mox_store_part));
	size_t o_addrs = o_params + align8(d.nparams * sizeof(mox_store_param));
	size_t o_envs = o_addrs + align8(d.naddrs * sizeof(mox_store_address));
	size_t o_strs = o_envs + align8(d.nenvs * sizeof(mox_store_envelope));
	size_t total = o_strs + d.nstr + 1;
	/* The allocator goes in front, for mox_store_part_free. */
	uint8_t *mem = mox_mem_alloc(alloc, PART_HDR + total);
	if (mem == NULL)
		return MOX_ENOMEM;
	memcpy(mem, &alloc, sizeof(alloc));
	mem += PART_HDR;
	struct dec f = {.p = blob + 1,
	                .end = blob + len,
	                .fill = true,
	                .nparts = 1,
	                .parts = (mox_store_part *)(void *)mem,
	                .params = (mox_store_param *)(void *)(mem + o_params),
	                .addrs = (mox_store_address *)(void *)(mem + o_addrs),
	                .envs = (mox_store_envelope *)(void *)(mem + o_envs),
	                .strs = (char *)mem + o_strs};
	if (!get_part(&f, f.parts)) {
		mox_mem_free(alloc, mem - PART_HDR);
		return MOX_ESYNTAX;
	}
	*part_out = f.parts;
	return MOX_OK;
}

void
mox_store_part_free(mox_store_part *part)
{
	if (part == NULL)
		return;
	uint8_t *mem = (uint8_t *)part - PART_HDR;
	const mox_allocator *alloc;
	memcpy(&alloc, mem, sizeof(alloc));
	mox_mem_free(alloc, mem);
}
