/* DKIM-Signature header fields: parsing and writing, RFC 6376 section 3.5.
 *
 *   sig-v-tag = %x76 [FWS] "=" [FWS] 1*DIGIT            ; must be 1
 *   sig-a-tag = %x61 [FWS] "=" [FWS] sig-a-tag-k "-" sig-a-tag-h
 *   sig-a-tag-k = "rsa" / x-sig-a-tag-k   ; ALPHA *(LOWER / DIGIT)
 *   sig-b-tag = %x62 [FWS] "=" [FWS] sig-b-tag-data     ; base64string
 *   sig-bh-tag = %x62 %x68 [FWS] "=" [FWS] sig-bh-tag-data
 *   sig-c-tag = %x63 [FWS] "=" [FWS] sig-c-tag-alg ["/" sig-c-tag-alg]
 *   sig-d-tag = %x64 [FWS] "=" [FWS] domain-name
 *   sig-h-tag = %x68 [FWS] "=" [FWS] hdr-name *( [FWS] ":" [FWS] hdr-name )
 *   sig-i-tag = %x69 [FWS] "=" [FWS] [ Local-part ] "@" domain-name
 *   sig-l-tag = %x6c [FWS] "=" [FWS] 1*76DIGIT
 *   sig-q-tag = %x71 [FWS] "=" [FWS] sig-q-tag-method *([FWS] ":" [FWS] ...)
 *   sig-s-tag = %x73 [FWS] "=" [FWS] selector
 *   sig-t-tag = %x74 [FWS] "=" [FWS] 1*12DIGIT
 *   sig-x-tag = %x78 [FWS] "=" [FWS] 1*12DIGIT
 *   sig-z-tag = %x7A [FWS] "=" [FWS] sig-z-tag-copy *( "|" [FWS] sig-z-tag-copy )
 *
 * Tags are case-sensitive and may not repeat (section 3.2); unknown tags
 * are ignored. Selectors with "_" occur in the wild and are accepted, as
 * mox does. The b= span (everything after "b=" up to the ";") is reported
 * so the verifier can hash the field with b= emptied (section 3.7).
 *
 * Writing follows mox's tag order and folding: "DKIM-Signature: v=1;"
 * then d, s, i, a, c, l, q, t, x, h, z, bh, b; a tag moves to a new line
 * ("\r\n\t") when the line would pass 78 characters; b= is wrapped
 * anywhere. */
#include "dkim_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Tags per field: a bound for the duplicate check. Not from an RFC; the
 * RFC defines 14 tags. */
#define SIG_TAGS_MAX 64
/* mox's folding width (message.HeaderWriter). */
#define FOLD_WIDTH 78

enum {
	T_V = 1 << 0, T_A = 1 << 1, T_B = 1 << 2, T_BH = 1 << 3, T_C = 1 << 4,
	T_D = 1 << 5, T_H = 1 << 6, T_I = 1 << 7, T_L = 1 << 8, T_Q = 1 << 9,
	T_S = 1 << 10, T_T = 1 << 11, T_X = 1 << 12, T_Z = 1 << 13,
};

static char *
dup_lower(const mox_allocator *a, const uint8_t *s, size_t n)
{
	char *r = mox_mem_strndup(a, (const char *)s, n);
	if (r != NULL)
		for (size_t i = 0; i < n; i++)
			r[i] = (char)mox__dkim_lower((uint8_t)r[i]);
	return r;
}

void
mox_dkim_sig_free(mox_dkim_sig *sig)
{
	if (sig == NULL)
		return;
	/* The allocator is stored just after the struct (see sig_alloc). */
	const mox_allocator *a = *(const mox_allocator *const *)(sig + 1);
	mox_mem_free(a, sig->algorithm);
	mox_mem_free(a, sig->signature);
	mox_mem_free(a, sig->body_hash);
	mox_mem_free(a, sig->canonicalization);
	mox_mem_free(a, sig->domain);
	for (size_t i = 0; i < sig->nheaders; i++)
		mox_mem_free(a, sig->headers[i]);
	mox_mem_free(a, sig->headers);
	mox_mem_free(a, sig->identity);
	mox_mem_free(a, sig->identity_domain);
	for (size_t i = 0; i < sig->nquery_methods; i++)
		mox_mem_free(a, sig->query_methods[i]);
	mox_mem_free(a, sig->query_methods);
	mox_mem_free(a, sig->selector);
	for (size_t i = 0; i < sig->ncopied_headers; i++)
		mox_mem_free(a, sig->copied_headers[i]);
	mox_mem_free(a, sig->copied_headers);
	mox_mem_free(a, sig);
}

/* The struct is followed by the allocator pointer, so _free needs no
 * argument but the signature. */
static mox_dkim_sig *
sig_alloc(const mox_allocator *a)
{
	mox_dkim_sig *s = mox_mem_calloc(a, 1, sizeof(*s) + sizeof(a));
	if (s == NULL)
		return NULL;
	memcpy(s + 1, &a, sizeof(a));
	s->length = -1;
	s->sign_time = -1;
	s->expire_time = -1;
	return s;
}

/* Decimal digits, at most maxdigits, into *v; fails on overflow of int64. */
static bool
parse_number(const uint8_t *s, size_t n, size_t maxdigits, int64_t *v)
{
	if (n == 0 || n > maxdigits)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mox__dkim_is_digit(s[i]))
			return false;
		if (x > (uint64_t)INT64_MAX / 10)
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > (uint64_t)INT64_MAX)
			return false;
	}
	*v = (int64_t)x;
	return true;
}

/* A domain name of LDH labels as d= needs (A-labels, RFC 6376 section
 * 3.5 "d="), or a selector (section 3.1, with "_" accepted). */
static bool
valid_name(const uint8_t *s, size_t n, bool selector)
{
	if (n == 0 || n > MOX_DNS_NAME_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(mox__dkim_is_alnum(c) || c == '-' || (selector && c == '_')))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > MOX_DNS_LABEL_MAX)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* Split value on sep into trimmed, non-empty items. */
static mox_err
split_list(const mox_allocator *a, const uint8_t *v, size_t n, uint8_t sep, size_t max,
	   char ***out, size_t *nout)
{
	size_t cnt = 1;
	for (size_t i = 0; i < n; i++)
		if (v[i] == sep)
			cnt++;
	if (cnt > max)
		return MOX_ELIMIT;
	char **l = mox_mem_calloc(a, cnt, sizeof(*l));
	if (l == NULL)
		return MOX_ENOMEM;
	*out = l;
	*nout = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != sep)
			continue;
		size_t s = start, e = i;
		while (s < e && mox__dkim_is_fws(v[s]))
			s++;
		while (e > s && mox__dkim_is_fws(v[e - 1]))
			e--;
		if (s == e)
			return MOX_ESYNTAX;
		for (size_t j = s; j < e; j++)
			if (mox__dkim_is_fws(v[j]))
				return MOX_ESYNTAX;
		l[*nout] = mox_mem_strndup(a, (const char *)v + s, e - s);
		if (l[*nout] == NULL)
			return MOX_ENOMEM;
		(*nout)++;
		start = i + 1;
	}
	return MOX_OK;
}

static int
hexval(uint8_t c)
{
	if (mox__dkim_is_digit(c))
		return c - '0';
	c = mox__dkim_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dkim-quoted-printable (RFC 6376 section 2.11): "=XX" escapes, FWS
 * ignored. Appends the decoded bytes to out. */
static mox_err
qp_decode(const uint8_t *v, size_t n, mox_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v[i];
		if (mox__dkim_is_fws(c))
			continue;
		if (c == '=') {
			if (i + 2 >= n)
				return MOX_ESYNTAX;
			int h = hexval(v[i + 1]), l = hexval(v[i + 2]);
			if (h < 0 || l < 0)
				return MOX_ESYNTAX;
			mox_err err = mox_buf_append_byte(out, (uint8_t)(h << 4 | l));
			if (err != MOX_OK)
				return err;
			i += 2;
			continue;
		}
		mox_err err = mox_buf_append_byte(out, c);
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

static bool
is_atext(uint8_t c, bool utf8)
{
	if (mox__dkim_is_alnum(c) || (utf8 && c >= 0x80))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* i= : [ Local-part ] "@" domain-name (RFC 6376 section 3.5, RFC 5321
 * section 4.1.2 Local-part). */
static bool
parse_identity(const uint8_t *v, size_t n, bool utf8, size_t *at_out)
{
	size_t at = n;
	for (size_t i = n; i > 0; i--)
		if (v[i - 1] == '@') {
			at = i - 1;
			break;
		}
	if (at == n)
		return false;
	if (at > 0) {
		if (v[0] == '"') {
			if (at < 2 || v[at - 1] != '"')
				return false;
			for (size_t i = 1; i + 1 < at; i++) {
				uint8_t c = v[i];
				if (c == '\\') {
					i++;
					if (i + 1 >= at)
						return false;
					continue;
				}
				if (c == '"' || (c < 0x20 && c != '\t') || (c >= 0x80 && !utf8))
					return false;
			}
		} else {
			bool dot = true; /* at start: no leading dot */
			for (size_t i = 0; i < at; i++) {
				if (v[i] == '.') {
					if (dot)
						return false;
					dot = true;
				} else if (is_atext(v[i], utf8)) {
					dot = false;
				} else {
					return false;
				}
			}
			if (dot)
				return false;
		}
	}
	*at_out = at;
	return valid_name(v + at + 1, n - at - 1, false);
}

static bool
name_is(const mox__dkim_tag *t, const char *s)
{
	size_t n = strlen(s);
	return t->name_len == n && memcmp(t->name, s, n) == 0;
}

mox_err
mox__dkim_sig_parse(const uint8_t *field, size_t len, const mox_allocator *alloc,
		    bool smtputf8, mox_dkim_sig **sig_out, size_t *b_off, size_t *b_end,
		    mox_errinfo *info)
{
	*sig_out = NULL;
	if (field == NULL && len > 0)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no field");
	if (len > MOX_DKIM_SIG_FIELD_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, 0,
				       "DKIM-Signature longer than %d bytes", MOX_DKIM_SIG_FIELD_MAX);
	size_t n = len;
	if (n > 0 && field[n - 1] == '\n')
		n--;
	if (n > 0 && field[n - 1] == '\r')
		n--;
	const uint8_t *colon = n > 0 ? memchr(field, ':', n) : NULL;
	if (colon == NULL)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "not a header field: no colon");
	size_t nl = (size_t)(colon - field);
	while (nl > 0 && mox__dkim_is_wsp(field[nl - 1]))
		nl--;
	if (!mox__dkim_eq_nocase(field, nl, "DKIM-Signature"))
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "not a DKIM-Signature field");
	size_t base = (size_t)(colon - field) + 1;

	mox_err err = MOX_OK;
	mox_buf tmp = MOX_BUF_INIT;
	tmp.alloc = alloc;
	mox_dkim_sig *sig = sig_alloc(alloc);
	if (sig == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	unsigned seen = 0;
	const uint8_t *names[SIG_TAGS_MAX];
	size_t namelens[SIG_TAGS_MAX], ntags = 0;
	mox__dkim_taglist tl = {field + base, n - base, 0};
	mox__dkim_tag t;
	while ((err = mox__dkim_taglist_next(&tl, &t, info, base)) == MOX_OK) {
		size_t off = base + (size_t)(t.value - (field + base));
		const uint8_t *v = t.value;
		size_t vn = t.value_len;
		/* RFC 6376 section 3.2: duplicate tags make the list invalid. */
		for (size_t i = 0; i < ntags; i++)
			if (namelens[i] == t.name_len && memcmp(names[i], t.name, t.name_len) == 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, base + t.name_off,
						      "duplicate tag \"%.*s\"", (int)t.name_len,
						      (const char *)t.name);
				goto out;
			}
		if (ntags == SIG_TAGS_MAX) {
			err = mox_errinfo_set(info, MOX_ELIMIT, base + t.name_off,
					      "more than %d tags", SIG_TAGS_MAX);
			goto out;
		}
		names[ntags] = t.name;
		namelens[ntags++] = t.name_len;

		if (name_is(&t, "v")) {
			int64_t x;
			seen |= T_V;
			if (!parse_number(v, vn, 10, &x) || x != 1) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off,
						      "unknown version \"%.*s\", need 1", (int)vn,
						      (const char *)v);
				goto out;
			}
			sig->version = 1;
		} else if (name_is(&t, "a")) {
			/* sig-a-tag-k "-" sig-a-tag-h, each ALPHA *(ALPHA / DIGIT). */
			seen |= T_A;
			size_t dash = 0, i = 0;
			bool ok = vn > 0 && mox__dkim_is_alpha(v[0]);
			for (i = 1; ok && i < vn; i++) {
				if (v[i] == '-' && dash == 0 && i + 1 < vn && mox__dkim_is_alpha(v[i + 1]))
					dash = i;
				else if (!mox__dkim_is_alnum(v[i]))
					ok = false;
			}
			if (!ok || dash == 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off,
						      "bad algorithm \"%.*s\"", (int)vn, (const char *)v);
				goto out;
			}
			sig->algorithm = dup_lower(alloc, v, vn);
			if (sig->algorithm == NULL)
				goto nomem;
			const char *h = sig->algorithm + dash + 1;
			if (mox__dkim_eq_nocase(sig->algorithm, dash, "rsa"))
				sig->key_type = MOX_DKIM_KEY_RSA;
			else if (mox__dkim_eq_nocase(sig->algorithm, dash, "ed25519"))
				sig->key_type = MOX_DKIM_KEY_ED25519;
			if (strcmp(h, "sha256") == 0)
				sig->hash = MOX_DKIM_HASH_SHA256;
			else if (strcmp(h, "sha1") == 0)
				sig->hash = MOX_DKIM_HASH_SHA1;
		} else if (name_is(&t, "b") || name_is(&t, "bh")) {
			bool bh = t.name_len == 2;
			seen |= bh ? T_BH : T_B;
			mox_errinfo bi;
			mox_buf_reset(&tmp);
			err = mox_base64_decode(&tmp, (const char *)v, vn, MOX_BASE64_IGNORE_SPACE, &bi);
			if (err == MOX_ENOMEM)
				goto nomem;
			if (err != MOX_OK) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off + bi.offset,
						      "bad base64 in %s= at %zu: %s", bh ? "bh" : "b",
						      off + bi.offset, bi.msg);
				goto out;
			}
			size_t dlen = 0;
			uint8_t *d = mox_buf_steal(&tmp, &dlen);
			if (d == NULL)
				goto nomem;
			if (bh) {
				sig->body_hash = d;
				sig->body_hash_len = dlen;
			} else {
				sig->signature = d;
				sig->signature_len = dlen;
				if (b_off != NULL)
					*b_off = base + t.value_off;
				if (b_end != NULL)
					*b_end = base + t.value_end;
			}
		} else if (name_is(&t, "c")) {
			/* sig-c-tag-alg ["/" sig-c-tag-alg]; default body simple
			 * (section 3.5 "c="). */
			seen |= T_C;
			const uint8_t *slash = memchr(v, '/', vn);
			size_t hl = slash != NULL ? (size_t)(slash - v) : vn;
			size_t bl = slash != NULL ? vn - hl - 1 : 0;
			bool ok = hl > 0 && (slash == NULL || bl > 0);
			for (size_t i = 0; ok && i < vn; i++)
				if (!(mox__dkim_is_alnum(v[i]) || v[i] == '-' || v + i == slash))
					ok = false;
			if (!ok) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off,
						      "bad canonicalization \"%.*s\"", (int)vn,
						      (const char *)v);
				goto out;
			}
			sig->header_canon = mox__dkim_eq_nocase(v, hl, "simple")    ? MOX_DKIM_SIMPLE
					    : mox__dkim_eq_nocase(v, hl, "relaxed") ? MOX_DKIM_RELAXED
										    : MOX_DKIM_CANON_UNKNOWN;
			if (slash == NULL)
				sig->body_canon = MOX_DKIM_SIMPLE;
			else
				sig->body_canon = mox__dkim_eq_nocase(slash + 1, bl, "simple") ? MOX_DKIM_SIMPLE
						  : mox__dkim_eq_nocase(slash + 1, bl, "relaxed")
						      ? MOX_DKIM_RELAXED
						      : MOX_DKIM_CANON_UNKNOWN;
			sig->canonicalization = mox_mem_strndup(alloc, (const char *)v, vn);
			if (sig->canonicalization == NULL)
				goto nomem;
		} else if (name_is(&t, "d")) {
			seen |= T_D;
			if (!valid_name(v, vn, false)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad domain \"%.*s\"",
						      (int)vn, (const char *)v);
				goto out;
			}
			sig->domain = dup_lower(alloc, v, vn);
			if (sig->domain == NULL)
				goto nomem;
		} else if (name_is(&t, "h")) {
			seen |= T_H;
			err = split_list(alloc, v, vn, ':', MOX_DKIM_SIGNED_HEADERS_MAX, &sig->headers,
					 &sig->nheaders);
			if (err == MOX_ENOMEM)
				goto nomem;
			for (size_t i = 0; err == MOX_OK && i < sig->nheaders; i++)
				for (const char *p = sig->headers[i]; *p != '\0'; p++)
					if ((uint8_t)*p < 0x21 || (uint8_t)*p > 0x7e)
						err = MOX_ESYNTAX;
			if (err != MOX_OK) {
				err = mox_errinfo_set(info, err, off,
						      err == MOX_ELIMIT ? "more than %d names in h="
									: "bad header name list in h= (%d)",
						      MOX_DKIM_SIGNED_HEADERS_MAX);
				goto out;
			}
		} else if (name_is(&t, "i")) {
			seen |= T_I;
			size_t at;
			if (!parse_identity(v, vn, smtputf8, &at)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad identity \"%.*s\"",
						      (int)vn, (const char *)v);
				goto out;
			}
			sig->identity = mox_mem_strndup(alloc, (const char *)v, vn);
			sig->identity_domain = dup_lower(alloc, v + at + 1, vn - at - 1);
			if (sig->identity == NULL || sig->identity_domain == NULL)
				goto nomem;
		} else if (name_is(&t, "l")) {
			seen |= T_L;
			if (!parse_number(v, vn, MOX_DKIM_LENGTH_DIGITS_MAX, &sig->length)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off,
						      "bad body length \"%.*s\"", (int)vn, (const char *)v);
				goto out;
			}
		} else if (name_is(&t, "q")) {
			seen |= T_Q;
			err = split_list(alloc, v, vn, ':', 16, &sig->query_methods,
					 &sig->nquery_methods);
			if (err == MOX_ENOMEM)
				goto nomem;
			if (err != MOX_OK) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad query methods");
				goto out;
			}
		} else if (name_is(&t, "s")) {
			seen |= T_S;
			if (!valid_name(v, vn, true)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad selector \"%.*s\"",
						      (int)vn, (const char *)v);
				goto out;
			}
			sig->selector = dup_lower(alloc, v, vn);
			if (sig->selector == NULL)
				goto nomem;
		} else if (name_is(&t, "t") || name_is(&t, "x")) {
			bool x = t.name[0] == 'x';
			seen |= x ? T_X : T_T;
			if (!parse_number(v, vn, MOX_DKIM_TIMESTAMP_DIGITS_MAX,
					  x ? &sig->expire_time : &sig->sign_time)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad timestamp in %c=",
						      x ? 'x' : 't');
				goto out;
			}
		} else if (name_is(&t, "z")) {
			seen |= T_Z;
			char **items = NULL;
			size_t nitems = 0;
			err = split_list(alloc, v, vn, '|', MOX_DKIM_SIGNED_HEADERS_MAX, &items, &nitems);
			sig->copied_headers = items;
			sig->ncopied_headers = nitems;
			if (err == MOX_ENOMEM)
				goto nomem;
			/* Decode each "name:qp-hdr-value" in place. */
			for (size_t i = 0; err == MOX_OK && i < nitems; i++) {
				char *c = strchr(items[i], ':');
				mox_buf_reset(&tmp);
				if (c == NULL || c == items[i])
					err = MOX_ESYNTAX;
				else
					err = mox_buf_append(&tmp, items[i], (size_t)(c - items[i]) + 1);
				if (err == MOX_OK)
					err = qp_decode((const uint8_t *)c + 1, strlen(c + 1), &tmp);
				if (err == MOX_OK && tmp.len <= strlen(items[i]))
					memcpy(items[i], tmp.data, tmp.len + 1);
			}
			if (err == MOX_ENOMEM)
				goto nomem;
			if (err != MOX_OK) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad copied header fields in z=");
				goto out;
			}
		}
		/* Other tags: ignored (RFC 6376 section 3.2). */
	}
	if (err != MOX_ENOTFOUND)
		goto out;
	err = MOX_OK;

	/* RFC 6376 section 6.1.1: required tags. */
	static const struct {
		unsigned bit;
		const char *name;
	} req[] = {{T_V, "v"}, {T_A, "a"}, {T_B, "b"}, {T_BH, "bh"},
		   {T_D, "d"}, {T_H, "h"}, {T_S, "s"}};
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (!(seen & req[i].bit)) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, n, "missing required tag %s=",
					      req[i].name);
			goto out;
		}
	size_t want = sig->hash == MOX_DKIM_HASH_SHA1 ? 20 : sig->hash == MOX_DKIM_HASH_SHA256 ? 32 : 0;
	if (want != 0 && sig->body_hash_len != want) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "body hash is %zu bytes, %s needs %zu",
				      sig->body_hash_len, sig->algorithm, want);
		goto out;
	}
	/* RFC 6376 section 3.5 "x=": MUST be greater than t=. */
	if (sig->sign_time >= 0 && sig->expire_time >= 0 && sig->sign_time >= sig->expire_time) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
				      "expiration x=%" PRId64 " not after signing time t=%" PRId64,
				      sig->expire_time, sig->sign_time);
		goto out;
	}
	/* RFC 6376 section 3.5 "i=": the domain must be d= or a subdomain. */
	if (sig->identity_domain != NULL &&
	    !mox_dns_name_is_subdomain(sig->identity_domain, sig->domain)) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
				      "identity domain %s not under signing domain %s",
				      sig->identity_domain, sig->domain);
		goto out;
	}
	*sig_out = sig;
	sig = NULL;
	goto out;
nomem:
	err = mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
out:
	mox_buf_free(&tmp);
	mox_dkim_sig_free(sig);
	return err;
}

mox_err
mox_dkim_sig_parse(const void *field, size_t len, const mox_allocator *alloc,
		   mox_dkim_sig **sig_out, mox_errinfo *info)
{
	if (sig_out == NULL)
		return MOX_EINVAL;
	return mox__dkim_sig_parse(field, len, alloc, true, sig_out, NULL, NULL, info);
}

/* ---- writing ---- */

typedef struct hw {
	mox_buf *b;
	size_t linelen;
	bool nonfirst;
	mox_err err;
} hw;

static void
hw_add(hw *w, const char *sep, const char *text, size_t n)
{
	if (w->err != MOX_OK)
		return;
	size_t sl = strlen(sep);
	if (w->nonfirst && w->linelen > 1 && w->linelen + sl + n > FOLD_WIDTH) {
		w->err = mox_buf_append(w->b, "\r\n\t", 3);
		w->linelen = 1;
	} else if (w->nonfirst && sl > 0) {
		w->err = mox_buf_append(w->b, sep, sl);
		w->linelen += sl;
	}
	if (w->err == MOX_OK)
		w->err = mox_buf_append(w->b, text, n);
	w->linelen += n;
	w->nonfirst = true;
}

static void
hw_addf(hw *w, const char *sep, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
hw_addf(hw *w, const char *sep, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		if (w->err == MOX_OK)
			w->err = MOX_ERANGE;
		return;
	}
	hw_add(w, sep, tmp, (size_t)n);
}

/* Wrap data anywhere at the line width (base64). */
static void
hw_wrap(hw *w, const char *data, size_t n)
{
	while (n > 0 && w->err == MOX_OK) {
		size_t room = w->linelen < FOLD_WIDTH ? FOLD_WIDTH - w->linelen : 0;
		size_t k = n < room ? n : room;
		w->err = mox_buf_append(w->b, data, k);
		w->linelen += k;
		data += k;
		n -= k;
		if (n > 0 && w->err == MOX_OK) {
			w->err = mox_buf_append(w->b, "\r\n\t", 3);
			w->linelen = 1;
		}
	}
}

static const char *
canon_name(mox_dkim_canon c)
{
	return c == MOX_DKIM_RELAXED ? "relaxed" : "simple";
}

/* z= values: dkim-quoted-printable, also encoding ":" and "|" as mox. */
static mox_err
qp_encode(mox_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const uint8_t *p = (const uint8_t *)s; *p != '\0'; p++) {
		uint8_t c = *p;
		mox_err err;
		if (c > ' ' && c < 0x7f && c != ';' && c != '=' && c != '|' && c != ':') {
			err = mox_buf_append_byte(out, c);
		} else {
			char e[3] = {'=', hex[c >> 4], hex[c & 15]};
			err = mox_buf_append(out, e, 3);
		}
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

mox_err
mox_dkim_sig_format(const mox_dkim_sig *s, bool b_empty, mox_buf *out)
{
	if (s == NULL || out == NULL || s->domain == NULL || s->selector == NULL ||
	    s->algorithm == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_buf tmp = MOX_BUF_INIT;
	tmp.alloc = out->alloc;
	hw w = {out, 0, false, MOX_OK};
	hw_addf(&w, "", "DKIM-Signature: v=%d;", s->version ? s->version : 1);
	hw_addf(&w, " ", "d=%s;", s->domain);
	hw_addf(&w, " ", "s=%s;", s->selector);
	if (s->identity != NULL)
		hw_addf(&w, " ", "i=%s;", s->identity);
	hw_addf(&w, " ", "a=%s;", s->algorithm);
	if (s->header_canon == MOX_DKIM_CANON_UNKNOWN || s->body_canon == MOX_DKIM_CANON_UNKNOWN) {
		if (s->canonicalization != NULL)
			hw_addf(&w, " ", "c=%s;", s->canonicalization);
	} else if (s->header_canon != MOX_DKIM_SIMPLE || s->body_canon != MOX_DKIM_SIMPLE) {
		hw_addf(&w, " ", "c=%s/%s;", canon_name(s->header_canon), canon_name(s->body_canon));
	}
	if (s->length >= 0)
		hw_addf(&w, " ", "l=%" PRId64 ";", s->length);
	if (s->nquery_methods > 0 &&
	    !(s->nquery_methods == 1 && mox__dkim_eq_nocase(s->query_methods[0],
							    strlen(s->query_methods[0]), "dns/txt"))) {
		mox_buf_reset(&tmp);
		for (size_t i = 0; i < s->nquery_methods && w.err == MOX_OK; i++)
			w.err = mox_buf_appendf(&tmp, "%s%s", i ? ":" : "q=", s->query_methods[i]);
		if (w.err == MOX_OK)
			w.err = mox_buf_append_byte(&tmp, ';');
		if (w.err == MOX_OK)
			hw_add(&w, " ", (const char *)tmp.data, tmp.len);
	}
	if (s->sign_time >= 0)
		hw_addf(&w, " ", "t=%" PRId64 ";", s->sign_time);
	if (s->expire_time >= 0)
		hw_addf(&w, " ", "x=%" PRId64 ";", s->expire_time);
	for (size_t i = 0; i < s->nheaders && w.err == MOX_OK; i++) {
		mox_buf_reset(&tmp);
		w.err = mox_buf_appendf(&tmp, "%s%s%s", i == 0 ? "h=" : "", s->headers[i],
					i + 1 < s->nheaders ? ":" : ";");
		if (w.err == MOX_OK)
			hw_add(&w, i == 0 ? " " : "", (const char *)tmp.data, tmp.len);
	}
	for (size_t i = 0; i < s->ncopied_headers && w.err == MOX_OK; i++) {
		const char *c = strchr(s->copied_headers[i], ':');
		if (c == NULL) {
			w.err = MOX_EINVAL;
			break;
		}
		mox_buf_reset(&tmp);
		w.err = mox_buf_appendf(&tmp, "%s%.*s:", i == 0 ? "z=" : "",
					(int)(c - s->copied_headers[i]), s->copied_headers[i]);
		if (w.err == MOX_OK)
			w.err = qp_encode(&tmp, c + 1);
		if (w.err == MOX_OK)
			w.err = mox_buf_append_byte(&tmp, i + 1 < s->ncopied_headers ? '|' : ';');
		if (w.err == MOX_OK)
			hw_add(&w, i == 0 ? " " : "", (const char *)tmp.data, tmp.len);
	}
	mox_buf_reset(&tmp);
	if (w.err == MOX_OK)
		w.err = mox_buf_append_str(&tmp, "bh=");
	if (w.err == MOX_OK)
		w.err = mox_base64_encode(&tmp, s->body_hash, s->body_hash_len);
	if (w.err == MOX_OK)
		w.err = mox_buf_append_byte(&tmp, ';');
	if (w.err == MOX_OK)
		hw_add(&w, " ", (const char *)tmp.data, tmp.len);
	hw_add(&w, " ", "b=", 2);
	if (!b_empty && s->signature_len > 0 && w.err == MOX_OK) {
		mox_buf_reset(&tmp);
		w.err = mox_base64_encode(&tmp, s->signature, s->signature_len);
		if (w.err == MOX_OK)
			hw_wrap(&w, (const char *)tmp.data, tmp.len);
	}
	if (w.err == MOX_OK)
		w.err = mox_buf_append(out, "\r\n", 2);
	mox_buf_free(&tmp);
	if (w.err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = 0;
	}
	return w.err;
}
