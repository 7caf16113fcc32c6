/* DMARC records, RFC 7489 section 6.3 and 6.4.
 *
 *   dmarc-record = dmarc-version dmarc-sep [dmarc-request]
 *                  [dmarc-sep dmarc-srequest] [dmarc-sep dmarc-auri]
 *                  [dmarc-sep dmarc-furi] [dmarc-sep dmarc-adkim]
 *                  [dmarc-sep dmarc-aspf] [dmarc-sep dmarc-ainterval]
 *                  [dmarc-sep dmarc-fo] [dmarc-sep dmarc-rfmt]
 *                  [dmarc-sep dmarc-percent] [dmarc-sep]
 *   dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31
 *   dmarc-sep     = *WSP %x3b *WSP
 *   dmarc-uri     = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]
 *
 * As mox reads it: "v=DMARC1" first and exactly (case-sensitive), then a
 * separator; p, if present, directly after v; other tags in any order,
 * case-insensitive names, duplicates rejected, unknown tags ignored
 * (section 6.3); the trailing ";" optional (erratum 5365). A record whose
 * p is missing or invalid, or whose sp is invalid, but that has a valid
 * rua, is read as p=none (section 6.6.3 last paragraph). */
#include "dmarc_int.h"

#include <stdio.h>
#include <string.h>

unsigned
mox_dmarc_version(void)
{
	return MOX_DMARC_VERSION_HEX;
}

bool
mox__dmarc_eq(const char *p, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (mox__dmarc_lower(p[i]) != mox__dmarc_lower(word[i]))
			return false;
	return true;
}

const char *
mox_dmarc_policy_name(mox_dmarc_policy policy)
{
	switch (policy) {
	case MOX_DMARC_POLICY_NONE:
		return "none";
	case MOX_DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case MOX_DMARC_POLICY_REJECT:
		return "reject";
	case MOX_DMARC_POLICY_UNSET:
		break;
	}
	return "";
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
parse_policy(const char *v, size_t n, mox_dmarc_policy *out)
{
	if (mox__dmarc_eq(v, n, "none"))
		*out = MOX_DMARC_POLICY_NONE;
	else if (mox__dmarc_eq(v, n, "quarantine"))
		*out = MOX_DMARC_POLICY_QUARANTINE;
	else if (mox__dmarc_eq(v, n, "reject"))
		*out = MOX_DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static bool
parse_uint(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	if (n == 0 || n > 19)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

/* RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
 * then ":" and something. */
static bool
uri_ok(const char *u, size_t n)
{
	if (n < 3 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
		return false;
	size_t i = 1;
	while (i < n && u[i] != ':') {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
		i++;
	}
	if (i >= n - 1)
		return false;
	for (size_t j = 0; j < n; j++)
		if ((unsigned char)u[j] <= ' ' || (unsigned char)u[j] >= 0x7f)
			return false;
	return true;
}

/* Parse "uri[!size[unit]],uri..." into *uris_out. */
static mox_err
parse_uris(const mox_allocator *alloc, const char *v, size_t n, mox_dmarc_uri **uris_out,
	   size_t *n_out)
{
	*uris_out = NULL;
	*n_out = 0;
	if (n == 0)
		return MOX_ESYNTAX;
	size_t count = 1;
	for (size_t i = 0; i < n; i++)
		if (v[i] == ',')
			count++;
	mox_dmarc_uri *uris = mox_mem_calloc(alloc, count, sizeof(*uris));
	if (uris == NULL)
		return MOX_ENOMEM;
	size_t k = 0;
	mox_err err = MOX_OK;
	for (size_t start = 0; start <= n && err == MOX_OK;) {
		const char *comma = memchr(v + start, ',', n - start);
		size_t end = comma != NULL ? (size_t)(comma - v) : n;
		const char *u = v + start;
		size_t un = end - start;
		while (un > 0 && is_wsp(u[0])) {
			u++;
			un--;
		}
		while (un > 0 && is_wsp(u[un - 1]))
			un--;
		/* The size limit after the last '!' (a '!' in a URI must be
		 * encoded, section 6.2). */
		const char *bang = memchr(u, '!', un);
		size_t ulen = bang != NULL ? (size_t)(bang - u) : un;
		if (!uri_ok(u, ulen)) {
			err = MOX_ESYNTAX;
			break;
		}
		mox_dmarc_uri *x = &uris[k++];
		if (bang != NULL) {
			const char *s = bang + 1;
			size_t sn = (size_t)(u + un - s);
			char unit = 0;
			if (sn > 0 && !(s[sn - 1] >= '0' && s[sn - 1] <= '9')) {
				unit = mox__dmarc_lower(s[sn - 1]);
				sn--;
			}
			uint64_t size;
			if (!parse_uint(s, sn, UINT64_MAX / 10, &size) ||
			    (unit != 0 && strchr("kmgt", unit) == NULL)) {
				err = MOX_ESYNTAX;
				break;
			}
			x->max_size = size;
			x->unit = unit;
		}
		x->uri = mox_mem_strndup(alloc, u, ulen);
		if (x->uri == NULL)
			err = MOX_ENOMEM;
		start = end + 1;
		if (comma == NULL)
			break;
	}
	if (err != MOX_OK) {
		for (size_t i = 0; i < k; i++)
			mox_mem_free(alloc, uris[i].uri);
		mox_mem_free(alloc, uris);
		return err;
	}
	*uris_out = uris;
	*n_out = k;
	return MOX_OK;
}

static void
free_uris(const mox_allocator *alloc, mox_dmarc_uri *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mox_mem_free(alloc, u[i].uri);
	mox_mem_free(alloc, u);
}

void
mox_dmarc_record_free(mox_dmarc_record *r)
{
	if (r == NULL)
		return;
	free_uris(r->alloc, r->rua, r->nrua);
	free_uris(r->alloc, r->ruf, r->nruf);
	mox_mem_free(r->alloc, r->fo);
	mox_mem_free(r->alloc, r->rf);
	mox_mem_free(r->alloc, r);
}

bool
mox_dmarc_is_record(const char *txt, size_t len)
{
	/* "v" *WSP "=" *WSP "DMARC1", then a separator or the end. */
	size_t i = 0;
	if (txt == NULL || len == 0 || (txt[0] != 'v' && txt[0] != 'V'))
		return false;
	i = 1;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (i >= len || txt[i] != '=')
		return false;
	i++;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	return i == len || txt[i] == ';' || is_wsp(txt[i]);
}

enum {
	T_P = 1 << 0,
	T_SP = 1 << 1,
	T_NP = 1 << 2,
	T_RUA = 1 << 3,
	T_RUF = 1 << 4,
	T_ADKIM = 1 << 5,
	T_ASPF = 1 << 6,
	T_PCT = 1 << 7,
	T_FO = 1 << 8,
	T_RF = 1 << 9,
	T_RI = 1 << 10,
};

mox_err
mox_dmarc_record_parse(const char *txt, size_t len, const mox_allocator *alloc,
		       mox_dmarc_record **record_out, mox_errinfo *info)
{
	if (record_out == NULL || (txt == NULL && len > 0))
		return MOX_EINVAL;
	*record_out = NULL;
	if (len > MOX_DMARC_RECORD_MAX)
		return mox_errinfo_set(info, MOX_ESYNTAX, MOX_DMARC_RECORD_MAX,
				       "record longer than %d bytes", MOX_DMARC_RECORD_MAX);
	if (!mox_dmarc_is_record(txt, len))
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "record must start with v=DMARC1");
	mox_dmarc_record *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return MOX_ENOMEM;
	r->alloc = alloc;
	r->adkim = r->aspf = MOX_DMARC_ALIGN_RELAXED;
	r->pct = 100;
	r->ri = 86400;
	mox_err err = MOX_OK;
	size_t i = 0;
	/* Skip the version, checked above. */
	while (i < len && txt[i] != '=')
		i++;
	i++;
	while (i < len && is_wsp(txt[i]))
		i++;
	i += 6;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (i >= len || txt[i] != ';') {
		err = mox_errinfo_set(info, MOX_ESYNTAX, i,
				      "missing ';' after v=DMARC1 at %zu", i);
		goto fail;
	}
	unsigned seen = 0;
	bool first = true, bad_p = false, bad_sp = false;
	size_t bad_at = 0;
	while (i < len) {
		/* dmarc-sep */
		if (txt[i] != ';') {
			err = mox_errinfo_set(info, MOX_ESYNTAX, i, "expected ';' at %zu", i);
			goto fail;
		}
		i++;
		while (i < len && is_wsp(txt[i]))
			i++;
		if (i >= len)
			break; /* trailing ';' */
		if (txt[i] == ';')
			continue; /* empty tag-spec, tolerated */
		size_t ns = i;
		while (i < len && txt[i] != '=' && txt[i] != ';' && !is_wsp(txt[i]))
			i++;
		size_t nn = i - ns;
		while (i < len && is_wsp(txt[i]))
			i++;
		if (nn == 0 || i >= len || txt[i] != '=') {
			err = mox_errinfo_set(info, MOX_ESYNTAX, ns, "expected tag=value at %zu", ns);
			goto fail;
		}
		i++;
		while (i < len && is_wsp(txt[i]))
			i++;
		size_t vs = i;
		while (i < len && txt[i] != ';')
			i++;
		size_t vn = i - vs;
		while (vn > 0 && is_wsp(txt[vs + vn - 1]))
			vn--;
		const char *name = txt + ns, *v = txt + vs;
		unsigned bit = 0;
		if (mox__dmarc_eq(name, nn, "p"))
			bit = T_P;
		else if (mox__dmarc_eq(name, nn, "sp"))
			bit = T_SP;
		else if (mox__dmarc_eq(name, nn, "np"))
			bit = T_NP;
		else if (mox__dmarc_eq(name, nn, "rua"))
			bit = T_RUA;
		else if (mox__dmarc_eq(name, nn, "ruf"))
			bit = T_RUF;
		else if (mox__dmarc_eq(name, nn, "adkim"))
			bit = T_ADKIM;
		else if (mox__dmarc_eq(name, nn, "aspf"))
			bit = T_ASPF;
		else if (mox__dmarc_eq(name, nn, "pct"))
			bit = T_PCT;
		else if (mox__dmarc_eq(name, nn, "fo"))
			bit = T_FO;
		else if (mox__dmarc_eq(name, nn, "rf"))
			bit = T_RF;
		else if (mox__dmarc_eq(name, nn, "ri"))
			bit = T_RI;
		bool was_first = first;
		first = false;
		if (bit == 0)
			continue; /* unknown tags are ignored (section 6.3) */
		if (seen & bit) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, ns, "duplicate tag '%.*s' at %zu",
					      (int)nn, name, ns);
			goto fail;
		}
		seen |= bit;
		uint64_t u;
		switch (bit) {
		case T_P:
			if (!was_first) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, ns,
						      "p must come directly after v at %zu", ns);
				goto fail;
			}
			if (!parse_policy(v, vn, &r->policy)) {
				bad_p = true;
				bad_at = vs;
			}
			break;
		case T_SP:
			if (!parse_policy(v, vn, &r->subdomain_policy)) {
				bad_sp = true;
				bad_at = vs;
			}
			break;
		case T_NP:
			/* RFC 9091 section 4.1. */
			if (!parse_policy(v, vn, &r->nonexistent_policy)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs,
						      "invalid value '%.*s' for np at %zu",
						      (int)vn, v, vs);
				goto fail;
			}
			break;
		case T_RUA:
		case T_RUF:
			err = parse_uris(alloc, v, vn, bit == T_RUA ? &r->rua : &r->ruf,
					 bit == T_RUA ? &r->nrua : &r->nruf);
			if (err == MOX_ESYNTAX)
				mox_errinfo_set(info, err, vs, "invalid URI list '%.*s' for %s at %zu",
						(int)vn, v, bit == T_RUA ? "rua" : "ruf", vs);
			if (err != MOX_OK)
				goto fail;
			break;
		case T_ADKIM:
		case T_ASPF: {
			mox_dmarc_align a;
			if (mox__dmarc_eq(v, vn, "r"))
				a = MOX_DMARC_ALIGN_RELAXED;
			else if (mox__dmarc_eq(v, vn, "s"))
				a = MOX_DMARC_ALIGN_STRICT;
			else {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs,
						      "invalid value '%.*s' for %s at %zu", (int)vn, v,
						      bit == T_ADKIM ? "adkim" : "aspf", vs);
				goto fail;
			}
			if (bit == T_ADKIM)
				r->adkim = a;
			else
				r->aspf = a;
			break;
		}
		case T_PCT:
			if (!parse_uint(v, vn, 100, &u)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs,
						      "invalid value '%.*s' for pct at %zu (0-100)",
						      (int)vn, v, vs);
				goto fail;
			}
			r->pct = (unsigned)u;
			break;
		case T_RI:
			if (!parse_uint(v, vn, UINT32_MAX, &u)) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs,
						      "invalid value '%.*s' for ri at %zu", (int)vn, v,
						      vs);
				goto fail;
			}
			r->ri = (uint32_t)u;
			break;
		case T_FO:
			/* fo = 0 / 1 / d / s, separated by ":" (section 6.3). */
			for (size_t k = 0; k <= vn && vn > 0;) {
				size_t e = k;
				while (e < vn && v[e] != ':')
					e++;
				size_t a = k, b = e;
				while (a < b && is_wsp(v[a]))
					a++;
				while (b > a && is_wsp(v[b - 1]))
					b--;
				char c = b - a == 1 ? mox__dmarc_lower(v[a]) : 0;
				if (!(c == '0' || c == '1' || c == 'd' || c == 's')) {
					err = mox_errinfo_set(info, MOX_ESYNTAX, vs + k,
							      "invalid fo value '%.*s' at %zu", (int)vn,
							      v, vs + k);
					goto fail;
				}
				k = e + 1;
			}
			if (vn == 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs, "empty fo at %zu", vs);
				goto fail;
			}
			mox_mem_free(alloc, r->fo);
			if ((r->fo = mox_mem_strndup(alloc, v, vn)) == NULL)
				goto nomem;
			break;
		case T_RF:
			for (size_t k = 0; k < vn; k++) {
				char c = mox__dmarc_lower(v[k]);
				if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' ||
				      c == '-')) {
					err = mox_errinfo_set(info, MOX_ESYNTAX, vs + k,
							      "invalid rf value '%.*s' at %zu", (int)vn,
							      v, vs + k);
					goto fail;
				}
			}
			if (vn == 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, vs, "empty rf at %zu", vs);
				goto fail;
			}
			mox_mem_free(alloc, r->rf);
			if ((r->rf = mox_mem_strndup(alloc, v, vn)) == NULL)
				goto nomem;
			break;
		}
	}
	/* Section 6.6.3: without a valid p (or with a bad sp), a record with
	 * a valid rua still counts, as p=none. */
	if (!(seen & T_P) || bad_p || bad_sp) {
		if (r->nrua == 0) {
			if (bad_p || bad_sp)
				err = mox_errinfo_set(info, MOX_ESYNTAX, bad_at,
						      "invalid policy value at %zu", bad_at);
			else
				err = mox_errinfo_set(info, MOX_ESYNTAX, len,
						      "missing p (and no rua)");
			goto fail;
		}
		r->policy = MOX_DMARC_POLICY_NONE;
		r->subdomain_policy = MOX_DMARC_POLICY_UNSET;
		r->policy_defaulted = true;
	}
	if (r->fo == NULL && (r->fo = mox_mem_strdup(alloc, "0")) == NULL)
		goto nomem;
	if (r->rf == NULL && (r->rf = mox_mem_strdup(alloc, "afrf")) == NULL)
		goto nomem;
	*record_out = r;
	return MOX_OK;
nomem:
	err = MOX_ENOMEM;
fail:
	mox_dmarc_record_free(r);
	return err;
}

static mox_err
format_uris(mox_buf *out, const char *tag, const mox_dmarc_uri *u, size_t n)
{
	mox_err err = mox_buf_appendf(out, "; %s=", tag);
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		err = mox_buf_appendf(out, "%s%s", i ? "," : "", u[i].uri);
		if (err == MOX_OK && (u[i].max_size != 0 || u[i].unit != 0)) {
			err = mox_buf_appendf(out, "!%llu", (unsigned long long)u[i].max_size);
			if (err == MOX_OK && u[i].unit != 0)
				err = mox_buf_append_byte(out, (uint8_t)u[i].unit);
		}
	}
	return err;
}

mox_err
mox_dmarc_record_format(const mox_dmarc_record *r, mox_buf *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	mox_err err = mox_buf_appendf(out, "v=DMARC1; p=%s", mox_dmarc_policy_name(r->policy));
	if (err == MOX_OK && r->subdomain_policy != MOX_DMARC_POLICY_UNSET)
		err = mox_buf_appendf(out, "; sp=%s", mox_dmarc_policy_name(r->subdomain_policy));
	if (err == MOX_OK && r->nonexistent_policy != MOX_DMARC_POLICY_UNSET)
		err = mox_buf_appendf(out, "; np=%s",
				      mox_dmarc_policy_name(r->nonexistent_policy));
	if (err == MOX_OK && r->nrua > 0)
		err = format_uris(out, "rua", r->rua, r->nrua);
	if (err == MOX_OK && r->nruf > 0)
		err = format_uris(out, "ruf", r->ruf, r->nruf);
	if (err == MOX_OK && r->adkim == MOX_DMARC_ALIGN_STRICT)
		err = mox_buf_append_str(out, "; adkim=s");
	if (err == MOX_OK && r->aspf == MOX_DMARC_ALIGN_STRICT)
		err = mox_buf_append_str(out, "; aspf=s");
	if (err == MOX_OK && r->ri != 86400)
		err = mox_buf_appendf(out, "; ri=%u", r->ri);
	if (err == MOX_OK && r->fo != NULL && strcmp(r->fo, "0") != 0)
		err = mox_buf_appendf(out, "; fo=%s", r->fo);
	if (err == MOX_OK && r->rf != NULL && strcmp(r->rf, "afrf") != 0)
		err = mox_buf_appendf(out, "; rf=%s", r->rf);
	if (err == MOX_OK && r->pct != 100)
		err = mox_buf_appendf(out, "; pct=%u", r->pct);
	return err;
}
