/* DMARC aggregate reports, RFC 7489 appendix C, parsed with expat, and the
 * gzip/zip unpacking of section 7.2.1.1 report attachments with zlib.
 *
 * How this works: expat reports elements; we keep the stack of element
 * local names (namespaces dropped, so urn:ietf:params:xml:ns:dmarc-2.0 and
 * no namespace read the same) and each element's text. On an element's
 * end, its path ("feedback/record/row/source_ip") decides the field. List
 * items (record, reason, dkim, spf, error) start a new entry when their
 * element starts. Unknown elements are ignored. Limits: input size,
 * nesting depth, record count, text per element; a document type
 * declaration or entity declaration stops parsing (no entity expansion at
 * all, so no billion-laughs). */
#include "dmarc_int.h"

#include <mox/message.h>

#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

typedef struct pstate {
	XML_Parser xp;
	const mox_allocator *alloc;
	mox_dmarc_report_limits lim;
	mox_dmarc_report *rep;
	char path[1024];
	size_t depth;
	size_t lens[64]; /* path length before each depth's name */
	mox_buf text;
	bool seen_root;
	mox_err err;
	char errmsg[200];
} pstate;

static void
stop(pstate *s, mox_err err, const char *msg)
{
	if (s->err != MOX_OK)
		return;
	s->err = err;
	snprintf(s->errmsg, sizeof(s->errmsg), "%s at line %lu", msg,
		 (unsigned long)XML_GetCurrentLineNumber(s->xp));
	XML_StopParser(s->xp, XML_FALSE);
}

static const char *
local_name(const char *name)
{
	const char *sep = strrchr(name, '\x01');
	return sep != NULL ? sep + 1 : name;
}

/* Grow *arr of *n elements of size sz by one zeroed element. */
static void *
grow(pstate *s, void **arr, size_t *n, size_t sz, size_t max)
{
	if (*n >= max) {
		stop(s, MOX_ELIMIT, "too many entries");
		return NULL;
	}
	size_t cap = 1;
	while (cap <= *n)
		cap *= 2;
	if (*n == 0 || (*n & (*n - 1)) == 0) {
		void *na = mox_mem_reallocarray(s->alloc, *arr, cap, sz);
		if (na == NULL) {
			stop(s, MOX_ENOMEM, "out of memory");
			return NULL;
		}
		*arr = na;
	}
	char *e = (char *)*arr + *n * sz;
	memset(e, 0, sz);
	(*n)++;
	return e;
}

static bool
path_is(const pstate *s, const char *p)
{
	return strcmp(s->path, p) == 0;
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	pstate *s = ud;
	const char *ln = local_name(name);
	if (s->depth == 0) {
		if (strcmp(ln, "feedback") != 0) {
			stop(s, MOX_ESYNTAX, "root element is not <feedback>");
			return;
		}
		s->seen_root = true;
	}
	if (s->depth + 1 >= s->lim.max_depth || s->depth + 1 >= 64) {
		stop(s, MOX_ELIMIT, "elements nested too deep");
		return;
	}
	size_t pl = strlen(s->path), nl = strlen(ln);
	if (pl + nl + 2 > sizeof(s->path)) {
		stop(s, MOX_ELIMIT, "element path too long");
		return;
	}
	s->lens[s->depth++] = pl;
	if (pl > 0)
		s->path[pl++] = '/';
	memcpy(s->path + pl, ln, nl + 1);
	mox_buf_reset(&s->text);

	mox_dmarc_report *r = s->rep;
	mox_dmarc_report_record *rec = r->nrecords ? &r->records[r->nrecords - 1] : NULL;
	if (path_is(s, "feedback/record")) {
		grow(s, (void **)&r->records, &r->nrecords, sizeof(*r->records), s->lim.max_records);
	} else if (rec != NULL && path_is(s, "feedback/record/row/policy_evaluated/reason")) {
		grow(s, (void **)&rec->reasons, &rec->nreasons, sizeof(*rec->reasons), 1000);
	} else if (rec != NULL && path_is(s, "feedback/record/auth_results/dkim")) {
		grow(s, (void **)&rec->dkim_results, &rec->ndkim, sizeof(*rec->dkim_results), 1000);
	} else if (rec != NULL && path_is(s, "feedback/record/auth_results/spf")) {
		grow(s, (void **)&rec->spf_results, &rec->nspf, sizeof(*rec->spf_results), 1000);
	}
}

static void XMLCALL
on_text(void *ud, const XML_Char *t, int len)
{
	pstate *s = ud;
	if (s->err != MOX_OK || len <= 0)
		return;
	if (s->text.len + (size_t)len > s->lim.max_text) {
		stop(s, MOX_ELIMIT, "element text too long");
		return;
	}
	if (mox_buf_append(&s->text, t, (size_t)len) != MOX_OK)
		stop(s, MOX_ENOMEM, "out of memory");
}

/* Set *field to the trimmed text (first occurrence wins). */
static void
set(pstate *s, char **field)
{
	if (*field != NULL)
		return;
	const char *t = s->text.data ? (const char *)s->text.data : "";
	size_t n = s->text.len;
	while (n > 0 && (t[0] == ' ' || t[0] == '\t' || t[0] == '\r' || t[0] == '\n')) {
		t++;
		n--;
	}
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' ||
			 t[n - 1] == '\n'))
		n--;
	*field = mox_mem_strndup(s->alloc, t, n);
	if (*field == NULL)
		stop(s, MOX_ENOMEM, "out of memory");
}

static void
set_u64(pstate *s, uint64_t *field)
{
	char *t = NULL;
	set(s, &t);
	if (t == NULL)
		return;
	uint64_t v = 0;
	bool ok = t[0] != '\0';
	for (const char *p = t; *p && ok; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			ok = false;
		else
			v = v * 10 + (uint64_t)(*p - '0');
	}
	mox_mem_free(s->alloc, t);
	if (!ok) {
		stop(s, MOX_ESYNTAX, "invalid number");
		return;
	}
	*field = v;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	(void)name;
	pstate *s = ud;
	if (s->err != MOX_OK)
		return;
	mox_dmarc_report *r = s->rep;
	mox_dmarc_report_record *rec = r->nrecords ? &r->records[r->nrecords - 1] : NULL;
	const char *p = s->path;
	static const struct {
		const char *path;
		size_t off;
	} top[] = {
		{"feedback/version", offsetof(mox_dmarc_report, version)},
		{"feedback/report_metadata/org_name", offsetof(mox_dmarc_report, org_name)},
		{"feedback/report_metadata/email", offsetof(mox_dmarc_report, email)},
		{"feedback/report_metadata/extra_contact_info",
		 offsetof(mox_dmarc_report, extra_contact_info)},
		{"feedback/report_metadata/report_id", offsetof(mox_dmarc_report, report_id)},
		{"feedback/policy_published/domain", offsetof(mox_dmarc_report, domain)},
		{"feedback/policy_published/adkim", offsetof(mox_dmarc_report, adkim)},
		{"feedback/policy_published/aspf", offsetof(mox_dmarc_report, aspf)},
		{"feedback/policy_published/p", offsetof(mox_dmarc_report, p)},
		{"feedback/policy_published/sp", offsetof(mox_dmarc_report, sp)},
		{"feedback/policy_published/pct", offsetof(mox_dmarc_report, pct)},
		{"feedback/policy_published/fo", offsetof(mox_dmarc_report, fo)},
		{"feedback/policy_published/np", offsetof(mox_dmarc_report, np)},
	};
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (strcmp(p, top[i].path) == 0)
			set(s, (char **)((char *)r + top[i].off));
	if (path_is(s, "feedback/report_metadata/date_range/begin"))
		set_u64(s, &r->date_begin);
	else if (path_is(s, "feedback/report_metadata/date_range/end"))
		set_u64(s, &r->date_end);
	else if (path_is(s, "feedback/report_metadata/error")) {
		char **e = grow(s, (void **)&r->errors, &r->nerrors, sizeof(*r->errors), 1000);
		if (e != NULL)
			set(s, e);
	}
	if (rec != NULL && strncmp(p, "feedback/record/", 16) == 0) {
		const char *q = p + 16;
		if (strcmp(q, "row/source_ip") == 0)
			set(s, &rec->source_ip);
		else if (strcmp(q, "row/count") == 0)
			set_u64(s, &rec->count);
		else if (strcmp(q, "row/policy_evaluated/disposition") == 0)
			set(s, &rec->disposition);
		else if (strcmp(q, "row/policy_evaluated/dkim") == 0)
			set(s, &rec->dkim);
		else if (strcmp(q, "row/policy_evaluated/spf") == 0)
			set(s, &rec->spf);
		else if (strcmp(q, "identifiers/envelope_to") == 0)
			set(s, &rec->envelope_to);
		else if (strcmp(q, "identifiers/envelope_from") == 0)
			set(s, &rec->envelope_from);
		else if (strcmp(q, "identifiers/header_from") == 0)
			set(s, &rec->header_from);
		else if (rec->nreasons > 0 &&
			 strncmp(q, "row/policy_evaluated/reason/", 28) == 0) {
			mox_dmarc_report_reason *x = &rec->reasons[rec->nreasons - 1];
			if (strcmp(q + 28, "type") == 0)
				set(s, &x->type);
			else if (strcmp(q + 28, "comment") == 0)
				set(s, &x->comment);
		} else if (rec->ndkim > 0 && strncmp(q, "auth_results/dkim/", 18) == 0) {
			mox_dmarc_report_dkim *x = &rec->dkim_results[rec->ndkim - 1];
			if (strcmp(q + 18, "domain") == 0)
				set(s, &x->domain);
			else if (strcmp(q + 18, "selector") == 0)
				set(s, &x->selector);
			else if (strcmp(q + 18, "result") == 0)
				set(s, &x->result);
			else if (strcmp(q + 18, "human_result") == 0)
				set(s, &x->human_result);
		} else if (rec->nspf > 0 && strncmp(q, "auth_results/spf/", 17) == 0) {
			mox_dmarc_report_spf *x = &rec->spf_results[rec->nspf - 1];
			if (strcmp(q + 17, "domain") == 0)
				set(s, &x->domain);
			else if (strcmp(q + 17, "scope") == 0)
				set(s, &x->scope);
			else if (strcmp(q + 17, "result") == 0)
				set(s, &x->result);
		}
	}
	mox_buf_reset(&s->text);
	if (s->depth > 0)
		s->path[s->lens[--s->depth]] = '\0';
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
	   int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	stop(ud, MOX_ESYNTAX, "document type declarations are not accepted");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int len,
	  const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
	  const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	stop(ud, MOX_ESYNTAX, "entity declarations are not accepted");
}

static void
free_str_array(const mox_allocator *a, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mox_mem_free(a, v[i]);
	mox_mem_free(a, v);
}

void
mox_dmarc_report_free(mox_dmarc_report *r)
{
	if (r == NULL)
		return;
	const mox_allocator *a = r->alloc;
	char **strs[] = {&r->version, &r->org_name, &r->email, &r->extra_contact_info,
			 &r->report_id, &r->domain, &r->adkim, &r->aspf, &r->p, &r->sp,
			 &r->pct, &r->fo, &r->np};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		mox_mem_free(a, *strs[i]);
	free_str_array(a, r->errors, r->nerrors);
	for (size_t i = 0; i < r->nrecords; i++) {
		mox_dmarc_report_record *x = &r->records[i];
		mox_mem_free(a, x->source_ip);
		mox_mem_free(a, x->disposition);
		mox_mem_free(a, x->dkim);
		mox_mem_free(a, x->spf);
		mox_mem_free(a, x->envelope_to);
		mox_mem_free(a, x->envelope_from);
		mox_mem_free(a, x->header_from);
		for (size_t j = 0; j < x->nreasons; j++) {
			mox_mem_free(a, x->reasons[j].type);
			mox_mem_free(a, x->reasons[j].comment);
		}
		mox_mem_free(a, x->reasons);
		for (size_t j = 0; j < x->ndkim; j++) {
			mox_mem_free(a, x->dkim_results[j].domain);
			mox_mem_free(a, x->dkim_results[j].selector);
			mox_mem_free(a, x->dkim_results[j].result);
			mox_mem_free(a, x->dkim_results[j].human_result);
		}
		mox_mem_free(a, x->dkim_results);
		for (size_t j = 0; j < x->nspf; j++) {
			mox_mem_free(a, x->spf_results[j].domain);
			mox_mem_free(a, x->spf_results[j].scope);
			mox_mem_free(a, x->spf_results[j].result);
		}
		mox_mem_free(a, x->spf_results);
	}
	mox_mem_free(a, r->records);
	mox_mem_free(a, r);
}

static void
limits_fill(mox_dmarc_report_limits *l, const mox_dmarc_report_limits *in)
{
	memset(l, 0, sizeof(*l));
	if (in != NULL)
		*l = *in;
	if (l->max_bytes == 0)
		l->max_bytes = 64u << 20;
	if (l->max_records == 0)
		l->max_records = 1000000;
	if (l->max_depth == 0)
		l->max_depth = 32;
	if (l->max_text == 0)
		l->max_text = 64u << 10;
}

mox_err
mox_dmarc_report_parse(const void *xml, size_t len, const mox_dmarc_report_limits *limits,
		       const mox_allocator *alloc, mox_dmarc_report **report_out,
		       mox_errinfo *info)
{
	if (report_out == NULL || (xml == NULL && len > 0))
		return MOX_EINVAL;
	*report_out = NULL;
	pstate s;
	memset(&s, 0, sizeof(s));
	limits_fill(&s.lim, limits);
	if (len > s.lim.max_bytes)
		return mox_errinfo_set(info, MOX_ELIMIT, 0, "report larger than %zu bytes",
				       s.lim.max_bytes);
	if (len > INT32_MAX)
		return MOX_ELIMIT;
	s.alloc = alloc;
	mox_buf_init(&s.text, alloc);
	s.rep = mox_mem_calloc(alloc, 1, sizeof(*s.rep));
	if (s.rep == NULL)
		return MOX_ENOMEM;
	s.rep->alloc = alloc;
	s.xp = XML_ParserCreateNS(NULL, '\x01');
	if (s.xp == NULL) {
		mox_mem_free(alloc, s.rep);
		return MOX_ENOMEM;
	}
	XML_SetUserData(s.xp, &s);
	XML_SetElementHandler(s.xp, on_start, on_end);
	XML_SetCharacterDataHandler(s.xp, on_text);
	XML_SetStartDoctypeDeclHandler(s.xp, on_doctype);
	XML_SetEntityDeclHandler(s.xp, on_entity);
	mox_err err = MOX_OK;
	if (XML_Parse(s.xp, xml, (int)len, XML_TRUE) == XML_STATUS_ERROR) {
		if (s.err != MOX_OK) {
			err = mox_errinfo_set(info, s.err, 0, "%s", s.errmsg);
		} else {
			err = mox_errinfo_set(info, MOX_ESYNTAX,
					      (size_t)XML_GetCurrentByteIndex(s.xp),
					      "invalid XML: %s at line %lu column %lu",
					      XML_ErrorString(XML_GetErrorCode(s.xp)),
					      (unsigned long)XML_GetCurrentLineNumber(s.xp),
					      (unsigned long)XML_GetCurrentColumnNumber(s.xp));
		}
	} else if (!s.seen_root) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "no <feedback> element");
	}
	XML_ParserFree(s.xp);
	mox_buf_free(&s.text);
	if (err != MOX_OK) {
		mox_dmarc_report_free(s.rep);
		return err;
	}
	*report_out = s.rep;
	return MOX_OK;
}

/* Inflate data (gzip/zlib when raw is false, raw deflate when true) into
 * out, at most max bytes. */
static mox_err
inflate_all(const uint8_t *data, size_t len, bool raw, size_t max, mox_buf *out,
	    mox_errinfo *info)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, raw ? -15 : 15 + 32) != Z_OK)
		return MOX_ENOMEM;
	z.next_in = (Bytef *)data;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	mox_err err = MOX_OK;
	for (;;) {
		if ((err = mox_buf_reserve(out, 65536)) != MOX_OK)
			break;
		z.next_out = out->data + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = z.avail_out;
		int rc = inflate(&z, Z_NO_FLUSH);
		out->len += before - z.avail_out;
		out->data[out->len] = '\0';
		if (out->len > max) {
			err = mox_errinfo_set(info, MOX_ELIMIT, 0,
					      "decompressed report larger than %zu bytes", max);
			break;
		}
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK || (z.avail_in == 0 && before == z.avail_out)) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "bad compressed data: %s",
					      z.msg != NULL ? z.msg : "truncated");
			break;
		}
	}
	inflateEnd(&z);
	return err;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The first file of a zip archive (APPNOTE.TXT sections 4.3.7, 4.3.12,
 * 4.3.16): sizes and offset from the central directory, data after the
 * local header. */
static mox_err
unzip_first(const uint8_t *d, size_t n, size_t max, mox_buf *out, mox_errinfo *info)
{
	if (n < 22)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "zip too short");
	/* End of central directory, possibly followed by a comment. */
	size_t eocd = SIZE_MAX;
	for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
		if (le32(d + i) == 0x06054b50) {
			eocd = i;
			break;
		}
	if (eocd == SIZE_MAX)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "zip: no end of central directory");
	size_t cd = le32(d + eocd + 16);
	if (le16(d + eocd + 10) == 0 || cd > n || n - cd < 46 || le32(d + cd) != 0x02014b50)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "zip: bad central directory");
	uint16_t method = le16(d + cd + 10);
	size_t csize = le32(d + cd + 20), usize = le32(d + cd + 24);
	size_t loff = le32(d + cd + 42);
	if (loff > n || n - loff < 30 || le32(d + loff) != 0x04034b50)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "zip: bad local header");
	size_t data = loff + 30 + le16(d + loff + 26) + le16(d + loff + 28);
	if (data > n || csize > n - data)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "zip: file data out of bounds");
	if (usize > max)
		return mox_errinfo_set(info, MOX_ELIMIT, 0, "zip: file larger than %zu bytes", max);
	if (method == 0)
		return mox_buf_append(out, d + data, csize);
	if (method == 8)
		return inflate_all(d + data, csize, true, max, out, info);
	return mox_errinfo_set(info, MOX_EUNSUPPORTED, 0, "zip: compression method %u", method);
}

static bool
ends_with(const char *s, const char *suffix)
{
	if (s == NULL)
		return false;
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && mox__dmarc_eq(s + n - m, m, suffix);
}

typedef enum { K_NONE, K_XML, K_GZIP, K_ZIP } kind;

static kind
part_kind(const mox_msg_part *p)
{
	char ct[128];
	snprintf(ct, sizeof(ct), "%s/%s", p->type, p->subtype);
	if (strcmp(ct, "application/gzip") == 0 || strcmp(ct, "application/x-gzip") == 0 ||
	    ends_with(p->filename, ".gz"))
		return K_GZIP;
	if (strcmp(ct, "application/zip") == 0 ||
	    strcmp(ct, "application/x-zip-compressed") == 0 || ends_with(p->filename, ".zip"))
		return K_ZIP;
	if (strcmp(ct, "text/xml") == 0 || strcmp(ct, "application/xml") == 0 ||
	    ends_with(p->filename, ".xml"))
		return K_XML;
	return K_NONE;
}

static const mox_msg_part *
find_part(const mox_msg_part *p, kind *k)
{
	if (p->nchildren == 0) {
		*k = part_kind(p);
		return *k != K_NONE ? p : NULL;
	}
	for (size_t i = 0; i < p->nchildren; i++) {
		const mox_msg_part *f = find_part(p->children[i], k);
		if (f != NULL)
			return f;
	}
	return NULL;
}

mox_err
mox_dmarc_report_parse_message(const void *msg, size_t len,
			       const mox_dmarc_report_limits *limits,
			       const mox_allocator *alloc, mox_dmarc_report **report_out,
			       mox_errinfo *info)
{
	if (report_out == NULL || msg == NULL)
		return MOX_EINVAL;
	*report_out = NULL;
	mox_dmarc_report_limits lim;
	limits_fill(&lim, limits);
	mox_msg_parse_opts po = {.size = sizeof(po), .alloc = alloc};
	mox_msg *m = NULL;
	mox_err err = mox_msg_parse(msg, len, &po, &m, info);
	if (err != MOX_OK)
		return err;
	kind k = K_NONE;
	const mox_msg_part *p = find_part(m->root, &k);
	mox_buf raw, xml;
	mox_buf_init(&raw, alloc);
	mox_buf_init(&xml, alloc);
	raw.max = lim.max_bytes;
	if (p == NULL) {
		err = mox_errinfo_set(info, MOX_ENOTFOUND, 0,
				      "no XML, gzip or zip part in the message");
		goto out;
	}
	unsigned w;
	if ((err = mox_msg_part_decode(p, msg, len, &raw, &w)) != MOX_OK) {
		mox_errinfo_set(info, err, p->body_offset, "decoding the report part: %s",
				mox_strerror(err));
		goto out;
	}
	const mox_buf *src = &raw;
	if (k == K_GZIP) {
		err = inflate_all(raw.data, raw.len, false, lim.max_bytes, &xml, info);
		src = &xml;
	} else if (k == K_ZIP) {
		err = unzip_first(raw.data, raw.len, lim.max_bytes, &xml, info);
		src = &xml;
	}
	if (err == MOX_OK)
		err = mox_dmarc_report_parse(src->data ? src->data : (const uint8_t *)"", src->len,
					     &lim, alloc, report_out, info);
out:
	mox_buf_free(&raw);
	mox_buf_free(&xml);
	mox_msg_free(m);
	return err;
}
