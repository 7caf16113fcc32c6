/* Content-Type and Content-Disposition, RFC 2045 section 5.1, RFC 2183,
 * with RFC 2231 parameter value continuations, charsets and languages.
 *
 *   content   := type "/" subtype *(";" parameter)
 *   parameter := attribute "=" value
 *   value     := token / quoted-string
 *   tspecials := "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" /
 *                <"> / "/" / "[" / "]" / "?" / "="
 *   RFC 2231:  attribute "*" [section "*"] "=" value, where a first section
 *              marked "*" is  [charset] "'" [language] "'" %-encoded-octets
 *
 * Comments (RFC 5322 section 3.2.2) may appear between tokens. Lenient
 * reading, as mail clients do: an unquoted value runs to the next ';' even
 * through tspecials and spaces ("name=my file.pdf", "boundary=--=_x"), a
 * duplicate parameter keeps the first, a malformed parameter is dropped;
 * each such repair sets a warning, and strict mode makes it an error. An
 * extended (RFC 2231) value wins over a plain one of the same name. */
#include "msg_int.h"

#include <stdlib.h>
#include <string.h>

/* Limits against hostile headers. */
#define CTYPE_PARAMS_MAX 256     /* parameters in one field */
#define CTYPE_SECTIONS_MAX 1000  /* RFC 2231 continuations of one value */

typedef struct scan {
	const uint8_t *p, *end;
	unsigned warnings;
} scan;

static bool
is_tspecial(uint8_t c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

static bool
is_token(uint8_t c)
{
	return c > 0x20 && c < 0x7f && !is_tspecial(c);
}

/* Skip white space, line breaks (folding) and nested comments. */
static void
skip_cfws(scan *s)
{
	int depth = 0;
	while (s->p < s->end) {
		uint8_t c = *s->p;
		if (depth > 0 && c == '\\' && s->p + 1 < s->end) {
			s->p += 2;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')' && depth > 0) {
			depth--;
		} else if (depth == 0 && !(c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			return;
		}
		s->p++;
	}
}

static size_t
read_token(scan *s)
{
	const uint8_t *start = s->p;
	while (s->p < s->end && is_token(*s->p))
		s->p++;
	return (size_t)(s->p - start);
}

typedef struct rawparam {
	char *name;      /* lower case, without the RFC 2231 suffix */
	int section;     /* -1: none */
	bool extended;   /* '*' suffix: %-encoded, charset'lang' in first */
	mox_buf value;   /* raw bytes */
} rawparam;

static void
rawparams_free(const mox_allocator *alloc, rawparam *rp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mox_mem_free(alloc, rp[i].name);
		mox_buf_free(&rp[i].value);
	}
	mox_mem_free(alloc, rp);
}

/* Read a parameter value: quoted string or lenient token. */
static mox_err
read_value(scan *s, mox_buf *out)
{
	if (s->p < s->end && *s->p == '"') {
		s->p++;
		while (s->p < s->end && *s->p != '"') {
			uint8_t c = *s->p++;
			if (c == '\\' && s->p < s->end)
				c = *s->p++;
			else if (c == '\r' || c == '\n')
				continue; /* folding inside a quoted string */
			mox_err err = mox_buf_append_byte(out, c);
			if (err != MOX_OK)
				return err;
		}
		if (s->p < s->end)
			s->p++;
		else
			s->warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
		return MOX_OK;
	}
	const uint8_t *start = s->p;
	while (s->p < s->end && *s->p != ';') {
		uint8_t c = *s->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(') {
			/* Look past white space and comments: the value ends
			 * at ';', at the end, or where a next parameter
			 * ("name=") starts without its ';'. */
			scan t = *s;
			skip_cfws(&t);
			if (t.p >= t.end || *t.p == ';' || c == '(')
				break;
			scan u = t;
			if (read_token(&u) > 0) {
				skip_cfws(&u);
				if (u.p < u.end && *u.p == '=')
					break;
			}
		}
		if (!is_token(c))
			s->warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
		s->p++;
	}
	if (s->p == start)
		s->warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE; /* empty value */
	size_t n = (size_t)(s->p - start);
	/* Drop folding inside a lenient value. */
	for (size_t i = 0; i < n; i++) {
		if (start[i] == '\r' || start[i] == '\n')
			continue;
		mox_err err = mox_buf_append_byte(out, start[i]);
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append %-decoded bytes (RFC 2231 section 4). */
static mox_err
pct_decode(const uint8_t *p, size_t n, mox_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 &&
		    hexval(p[i + 2]) >= 0) {
			c = (uint8_t)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
			i += 2;
		}
		mox_err err = mox_buf_append_byte(out, c);
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

static int
cmp_section(const void *a, const void *b)
{
	const rawparam *x = *(rawparam *const *)a, *y = *(rawparam *const *)b;
	return (x->section > y->section) - (x->section < y->section);
}

static char *
strdup_lower(const mox_allocator *alloc, const uint8_t *p, size_t n)
{
	char *s = mox_mem_strndup(alloc, (const char *)p, n);
	if (s != NULL)
		for (size_t i = 0; i < n; i++)
			s[i] = mox__msg_lower(s[i]);
	return s;
}

/* Whether bytes a then b occur next to each other in p. */
static bool
has_pair(const uint8_t *p, size_t n, uint8_t a, uint8_t b)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == a && p[i + 1] == b)
			return true;
	return false;
}

/* Turn a value's bytes into UTF-8 (from charset if given) and store it. */
static mox_err
set_value(const mox_allocator *alloc, mox_msg_param *pm, const uint8_t *p,
	  size_t n, const char *charset, unsigned *warnings)
{
	mox_buf b;
	mox_buf_init(&b, alloc);
	mox_err err;
	bool replaced = false;
	if ((charset == NULL || charset[0] == '\0') && n >= 8 && has_pair(p, n, '=', '?') &&
	    has_pair(p, n, '?', '=')) {
		/* RFC 2047 encoded words in a parameter value: not allowed
		 * (RFC 2047 section 5), but common in file names, and mail
		 * clients decode them. White space between adjacent encoded
		 * words is dropped (section 6.2). */
		unsigned w = 0;
		err = mox_msg_decode_text(p, n, &b, &w);
		*warnings |= w & MOX_MSG_WARN_BAD_CHARSET;
	} else if (charset != NULL && charset[0] != '\0') {
		err = mox_msg_charset_to_utf8(charset, p, n, &b, &replaced);
		if (err == MOX_EUNSUPPORTED) {
			*warnings |= MOX_MSG_WARN_BAD_CHARSET;
			err = mox__msg_utf8_sanitize(p, n, &b, &replaced);
		}
	} else {
		err = mox__msg_utf8_sanitize(p, n, &b, &replaced);
	}
	if (replaced)
		*warnings |= MOX_MSG_WARN_BAD_CHARSET;
	if (err == MOX_OK) {
		pm->value = (char *)mox_buf_steal(&b, NULL);
		if (pm->value == NULL)
			err = MOX_ENOMEM;
	}
	mox_buf_free(&b);
	return err;
}

/* Join the raw parameters into decoded ones (RFC 2231 sections 3-4). */
static mox_err
assemble(const mox_allocator *alloc, rawparam *rp, size_t nrp,
	 mox_msg_params *out, unsigned *warnings)
{
	mox_err err = MOX_OK;
	rawparam **group = NULL;
	out->p = mox_mem_calloc(alloc, nrp ? nrp : 1, sizeof(*out->p));
	group = mox_mem_calloc(alloc, nrp ? nrp : 1, sizeof(*group));
	if (out->p == NULL || group == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nrp; i++) {
		if (rp[i].name == NULL)
			continue; /* consumed by an earlier group */
		/* Collect all raw parameters with this name. */
		size_t ng = 0;
		bool has_ext = false;
		for (size_t j = i; j < nrp; j++) {
			if (rp[j].name == NULL || strcmp(rp[j].name, rp[i].name) != 0)
				continue;
			if (rp[j].section >= 0 || rp[j].extended)
				has_ext = true;
		}
		for (size_t j = i; j < nrp; j++) {
			if (rp[j].name == NULL || strcmp(rp[j].name, rp[i].name) != 0)
				continue;
			bool ext = rp[j].section >= 0 || rp[j].extended;
			/* RFC 2231 form wins over a plain value; of plain
			 * duplicates the first counts. */
			if ((has_ext && ext) || (!has_ext && ng == 0))
				group[ng++] = &rp[j];
			else if (!has_ext)
				*warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE; /* duplicate */
		}
		mox_msg_param *pm = &out->p[out->n];
		pm->name = rp[i].name;
		char *name = rp[i].name;
		if (ng > 1)
			qsort(group, ng, sizeof(*group), cmp_section);
		mox_buf joined;
		mox_buf_init(&joined, alloc);
		char *charset = NULL, *language = NULL;
		for (size_t k = 0; k < ng && err == MOX_OK; k++) {
			rawparam *g = group[k];
			/* Sections must be 0, 1, 2, ... (section 3); stop at a
			 * gap or duplicate. */
			if (ng > 1 && g->section != (int)k) {
				*warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
				break;
			}
			const uint8_t *v = g->value.data ? g->value.data : (const uint8_t *)"";
			size_t vn = g->value.len;
			if (g->extended && k == 0) {
				/* charset'language'value (section 4). */
				const uint8_t *q1 = memchr(v, '\'', vn);
				const uint8_t *q2 =
					q1 ? memchr(q1 + 1, '\'', vn - (size_t)(q1 + 1 - v)) : NULL;
				if (q1 != NULL && q2 != NULL) {
					charset = strdup_lower(alloc, v, (size_t)(q1 - v));
					language = mox_mem_strndup(alloc, (const char *)q1 + 1,
								   (size_t)(q2 - q1 - 1));
					if (charset == NULL || language == NULL) {
						err = MOX_ENOMEM;
						break;
					}
					vn -= (size_t)(q2 + 1 - v);
					v = q2 + 1;
				} else {
					*warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
				}
			}
			err = g->extended ? pct_decode(v, vn, &joined)
					  : mox_buf_append(&joined, v, vn);
		}
		if (err == MOX_OK)
			err = set_value(alloc, pm, joined.data ? joined.data : (const uint8_t *)"",
					joined.len, charset, warnings);
		mox_buf_free(&joined);
		if (charset != NULL && charset[0] == '\0') {
			mox_mem_free(alloc, charset);
			charset = NULL;
		}
		if (language != NULL && language[0] == '\0') {
			mox_mem_free(alloc, language);
			language = NULL;
		}
		pm->charset = charset;
		pm->language = language;
		out->n++;
		/* Mark the group's raw parameters consumed; the name now
		 * belongs to pm. */
		for (size_t j = i; j < nrp; j++) {
			if (j == i)
				continue;
			if (rp[j].name != NULL && strcmp(rp[j].name, name) == 0) {
				mox_mem_free(alloc, rp[j].name);
				rp[j].name = NULL;
			}
		}
		rp[i].name = NULL;
		if (err != MOX_OK)
			goto out;
	}
out:
	mox_mem_free(alloc, group);
	return err;
}

void
mox__msg_params_free(const mox_allocator *alloc, mox_msg_params *params)
{
	if (params->p == NULL)
		return;
	for (size_t i = 0; i < params->n; i++) {
		mox_mem_free(alloc, params->p[i].name);
		mox_mem_free(alloc, params->p[i].value);
		mox_mem_free(alloc, params->p[i].charset);
		mox_mem_free(alloc, params->p[i].language);
	}
	mox_mem_free(alloc, params->p);
	params->p = NULL;
	params->n = 0;
}

const char *
mox_msg_params_get(const mox_msg_params *params, const char *name)
{
	if (params == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < params->n; i++)
		if (mox__msg_eq_nocase(params->p[i].name, strlen(params->p[i].name), name))
			return params->p[i].value;
	return NULL;
}

void
mox_msg_ctype_free(mox_msg_ctype *ct)
{
	if (ct == NULL)
		return;
	mox_mem_free(ct->alloc, ct->type);
	mox_mem_free(ct->alloc, ct->subtype);
	mox__msg_params_free(ct->alloc, &ct->params);
	mox_mem_free(ct->alloc, ct);
}

mox_err
mox_msg_ctype_parse(const uint8_t *value, size_t len, unsigned flags,
		    const mox_allocator *alloc, mox_msg_ctype **ctype_out,
		    unsigned *warnings_out, mox_errinfo *info)
{
	if (ctype_out == NULL || (value == NULL && len > 0))
		return MOX_EINVAL;
	*ctype_out = NULL;
	if (warnings_out != NULL)
		*warnings_out = 0;
	bool disp = (flags & MOX_MSG_CTYPE_DISPOSITION) != 0;
	scan s = {value, value + len, 0};
	rawparam *rp = NULL;
	size_t nrp = 0;
	mox_err err = MOX_OK;
	mox_msg_ctype *ct = mox_mem_calloc(alloc, 1, sizeof(*ct));
	if (ct == NULL)
		return MOX_ENOMEM;
	ct->alloc = alloc;

	skip_cfws(&s);
	const uint8_t *t = s.p;
	size_t tn = read_token(&s);
	if (tn == 0) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(s.p - value),
				      "missing %s at %zu", disp ? "disposition" : "type",
				      (size_t)(s.p - value));
		goto fail;
	}
	if ((ct->type = strdup_lower(alloc, t, tn)) == NULL)
		goto nomem;
	skip_cfws(&s);
	if (!disp) {
		if (s.p >= s.end || *s.p != '/') {
			err = mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(s.p - value),
					      "missing '/' after type at %zu",
					      (size_t)(s.p - value));
			goto fail;
		}
		s.p++;
		skip_cfws(&s);
		t = s.p;
		tn = read_token(&s);
		if (tn == 0) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, (size_t)(s.p - value),
					      "missing subtype at %zu", (size_t)(s.p - value));
			goto fail;
		}
		if ((ct->subtype = strdup_lower(alloc, t, tn)) == NULL)
			goto nomem;
		skip_cfws(&s);
	}
	/* Parameters. */
	while (s.p < s.end) {
		if (*s.p == ';') {
			s.p++;
			skip_cfws(&s);
			if (s.p >= s.end)
				break;
			if (*s.p == ';')
				continue;
		} else {
			/* A parameter without the ';' before it: read it
			 * anyway, as mail clients do. */
			s.warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
		}
		const uint8_t *a = s.p;
		size_t an = read_token(&s);
		skip_cfws(&s);
		if (an == 0 || s.p >= s.end || *s.p != '=') {
			s.warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
			while (s.p < s.end && *s.p != ';')
				s.p++;
			continue;
		}
		s.p++;
		skip_cfws(&s);
		if (nrp == CTYPE_PARAMS_MAX) {
			s.warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
			while (s.p < s.end && *s.p != ';')
				s.p++;
			continue;
		}
		rawparam *nr = mox_mem_reallocarray(alloc, rp, nrp + 1, sizeof(*rp));
		if (nr == NULL)
			goto nomem;
		rp = nr;
		rawparam *r = &rp[nrp++];
		memset(r, 0, sizeof(*r));
		mox_buf_init(&r->value, alloc);
		r->section = -1;
		/* RFC 2231: name*, name*N, name*N*. */
		size_t base = an;
		if (base > 0 && a[base - 1] == '*') {
			r->extended = true;
			base--;
		}
		const uint8_t *star = memchr(a, '*', base);
		if (star != NULL) {
			size_t sec = 0;
			bool ok = star + 1 < a + base;
			for (const uint8_t *q = star + 1; q < a + base && ok; q++) {
				if (*q < '0' || *q > '9' || sec > CTYPE_SECTIONS_MAX)
					ok = false;
				else
					sec = sec * 10 + (size_t)(*q - '0');
			}
			/* Leading zeros are not allowed (section 3). */
			if (ok && star[1] == '0' && star + 2 < a + base)
				ok = false;
			if (!ok || sec > CTYPE_SECTIONS_MAX) {
				s.warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
				nrp--;
				while (s.p < s.end && *s.p != ';')
					s.p++;
				continue;
			}
			r->section = (int)sec;
			base = (size_t)(star - a);
		}
		if ((r->name = strdup_lower(alloc, a, base)) == NULL)
			goto nomem;
		bool quoted = s.p < s.end && *s.p == '"';
		if ((err = read_value(&s, &r->value)) != MOX_OK)
			goto fail;
		if (!quoted && r->value.len == 0) {
			/* "name=" with nothing: dropped, as mail clients do. */
			mox_mem_free(alloc, r->name);
			mox_buf_free(&r->value);
			nrp--;
		}
		skip_cfws(&s);
	}
	if ((err = assemble(alloc, rp, nrp, &ct->params, &s.warnings)) != MOX_OK)
		goto fail;
	if ((flags & MOX_MSG_STRICT) && s.warnings != 0) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "malformed parameters");
		goto fail;
	}
	rawparams_free(alloc, rp, nrp);
	if (warnings_out != NULL)
		*warnings_out = s.warnings;
	*ctype_out = ct;
	return MOX_OK;
nomem:
	err = MOX_ENOMEM;
fail:
	rawparams_free(alloc, rp, nrp);
	mox_msg_ctype_free(ct);
	return err;
}
