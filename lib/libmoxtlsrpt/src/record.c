/* The TLSRPT TXT record, RFC 8460 section 3, and its discovery.
 *
 * The grammar is in mox/tlsrpt.h above mox_tlsrpt_record_parse. One pass
 * over the text: "v=TLSRPTv1", a separator, fields separated by
 * field-delim, a trailing one allowed. A URI runs up to ",", "!", ";" or
 * white space (the characters section 3 says must be percent-encoded in
 * URIs); it must start with a scheme (RFC 3986 section 3.1) and hold only
 * URI characters (RFC 3986 section 2) with valid percent escapes. */
#include "tlsrpt_int.h"

#include <stdio.h>
#include <string.h>

unsigned
mox_tlsrpt_version(void)
{
	return MOX_TLSRPT_VERSION_HEX;
}

bool
mox__tlsrpt_eq_ci(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (mox__tlsrpt_lower(*a) != mox__tlsrpt_lower(*b))
			return false;
	return *a == *b;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* field-delim = *WSP ";" *WSP; returns the offset after it, 0 if none. */
static size_t
delim(const char *s, size_t n, size_t i)
{
	while (i < n && is_wsp(s[i]))
		i++;
	if (i >= n || s[i] != ';')
		return 0;
	i++;
	while (i < n && is_wsp(s[i]))
		i++;
	return i;
}

bool
mox_tlsrpt_is_record(const char *txt, size_t len)
{
	static const char v[] = "v=TLSRPTv1";
	if (txt == NULL || len < sizeof(v) - 1 || memcmp(txt, v, sizeof(v) - 1) != 0)
		return false;
	return delim(txt, len, sizeof(v) - 1) != 0;
}

mox_tlsrpt_scheme
mox_tlsrpt_uri_scheme(const char *uri)
{
	if (uri == NULL)
		return MOX_TLSRPT_SCHEME_OTHER;
	const char *colon = strchr(uri, ':');
	if (colon == NULL)
		return MOX_TLSRPT_SCHEME_OTHER;
	size_t n = (size_t)(colon - uri);
	char s[8];
	if (n >= sizeof(s))
		return MOX_TLSRPT_SCHEME_OTHER;
	for (size_t i = 0; i < n; i++)
		s[i] = mox__tlsrpt_lower(uri[i]);
	s[n] = '\0';
	if (strcmp(s, "mailto") == 0)
		return MOX_TLSRPT_SCHEME_MAILTO;
	if (strcmp(s, "https") == 0)
		return MOX_TLSRPT_SCHEME_HTTPS;
	return MOX_TLSRPT_SCHEME_OTHER;
}

void
mox_tlsrpt_record_free(mox_tlsrpt_record *r)
{
	if (r == NULL)
		return;
	const mox_allocator *a = r->alloc;
	for (size_t i = 0; r->rua != NULL && i < r->nrua; i++) {
		for (size_t j = 0; j < r->rua[i].n; j++)
			mox_mem_free(a, r->rua[i].uris[j]);
		mox_mem_free(a, r->rua[i].uris);
	}
	mox_mem_free(a, r->rua);
	for (size_t i = 0; r->extensions != NULL && i < r->nextensions; i++) {
		mox_mem_free(a, r->extensions[i].key);
		mox_mem_free(a, r->extensions[i].value);
	}
	mox_mem_free(a, r->extensions);
	mox_mem_free(a, r);
}

static bool
is_hex(unsigned char c)
{
	return mox__tlsrpt_is_digit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* RFC 3986 section 2: unreserved, reserved (gen-delims, sub-delims) and
 * "%" of pct-encoded. */
static bool
is_uri_char(unsigned char c)
{
	if (mox__tlsrpt_is_alpha(c) || mox__tlsrpt_is_digit(c))
		return true;
	return c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL;
}

/* Read one tlsrpt-uri at *i; checks it and appends a copy to rua. */
static mox_err
parse_uri(const mox_allocator *a, const char *s, size_t n, size_t *i,
          mox_tlsrpt_rua *rua, mox_errinfo *info)
{
	size_t st = *i, e = st;
	while (e < n && s[e] != ',' && s[e] != '!' && s[e] != ';' && !is_wsp(s[e]))
		e++;
	if (e == st)
		return mox_errinfo_set(info, MOX_ESYNTAX, st, "expected URI at %zu",
		                       st);
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	size_t k = st;
	if (!mox__tlsrpt_is_alpha((unsigned char)s[k]))
		return mox_errinfo_set(info, MOX_ESYNTAX, st,
		                       "URI without scheme at %zu", st);
	while (k < e && (mox__tlsrpt_is_alpha((unsigned char)s[k]) ||
	                 mox__tlsrpt_is_digit((unsigned char)s[k]) || s[k] == '+' ||
	                 s[k] == '-' || s[k] == '.'))
		k++;
	if (k >= e || s[k] != ':')
		return mox_errinfo_set(info, MOX_ESYNTAX, st,
		                       "URI without scheme at %zu", st);
	for (k++; k < e; k++) {
		unsigned char c = (unsigned char)s[k];
		if (!is_uri_char(c))
			return mox_errinfo_set(
			    info, MOX_ESYNTAX, k,
			    "character 0x%02x not allowed in URI at %zu", c, k);
		if (c == '%' && (e - k < 3 || !is_hex((unsigned char)s[k + 1]) ||
		                 !is_hex((unsigned char)s[k + 2])))
			return mox_errinfo_set(info, MOX_ESYNTAX, k,
			                       "invalid percent escape in URI at %zu",
			                       k);
	}
	char *u = mox_mem_strndup(a, s + st, e - st);
	char **nu = u != NULL
	                ? mox_mem_reallocarray(a, rua->uris, rua->n + 1, sizeof(char *))
	                : NULL;
	if (nu == NULL) {
		mox_mem_free(a, u);
		return MOX_ENOMEM;
	}
	nu[rua->n++] = u;
	rua->uris = nu;
	*i = e;
	return MOX_OK;
}

static size_t
ext_name_len(const char *p, size_t n)
{
	if (n == 0 || !(mox__tlsrpt_is_alpha((unsigned char)p[0]) ||
	                mox__tlsrpt_is_digit((unsigned char)p[0])))
		return 0;
	size_t i = 1;
	while (i < n && (mox__tlsrpt_is_alpha((unsigned char)p[i]) ||
	                 mox__tlsrpt_is_digit((unsigned char)p[i]) || p[i] == '_' ||
	                 p[i] == '-' || p[i] == '.'))
		i++;
	return i;
}

mox_err
mox_tlsrpt_record_parse(const char *txt, size_t len, const mox_allocator *alloc,
                        mox_tlsrpt_record **record_out, mox_errinfo *info)
{
	if (record_out == NULL)
		return MOX_EINVAL;
	*record_out = NULL;
	if (txt == NULL)
		return MOX_EINVAL;
	if (len > MOX_TLSRPT_RECORD_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, MOX_TLSRPT_RECORD_MAX,
		                       "record longer than %u bytes",
		                       MOX_TLSRPT_RECORD_MAX);
	static const char v[] = "v=TLSRPTv1";
	if (len < sizeof(v) - 1 || memcmp(txt, v, sizeof(v) - 1) != 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0,
		                       "record must start with v=TLSRPTv1");
	size_t i = delim(txt, len, sizeof(v) - 1);
	if (i == 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, sizeof(v) - 1,
		                       "expected ';' after v=TLSRPTv1 at %zu",
		                       sizeof(v) - 1);
	mox_tlsrpt_record *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return MOX_ENOMEM;
	r->alloc = alloc;
	mox_err err = MOX_OK;
	for (;;) {
		size_t kn = ext_name_len(txt + i, len - i);
		if (kn == 0) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, i,
			                      "expected field name at %zu", i);
			goto out;
		}
		if (kn > MOX_TLSRPT_EXT_NAME_MAX) {
			err = mox_errinfo_set(
			    info, MOX_ESYNTAX, i,
			    "field name longer than %d characters at %zu",
			    MOX_TLSRPT_EXT_NAME_MAX, i);
			goto out;
		}
		const char *key = txt + i;
		i += kn;
		if (i >= len || txt[i] != '=') {
			err =
			    mox_errinfo_set(info, MOX_ESYNTAX, i,
			                    "expected '=' after field name at %zu", i);
			goto out;
		}
		i++;
		if (kn == 3 && memcmp(key, "rua", 3) == 0) {
			mox_tlsrpt_rua *nr = mox_mem_reallocarray(
			    alloc, r->rua, r->nrua + 1, sizeof(*nr));
			if (nr == NULL) {
				err = MOX_ENOMEM;
				goto out;
			}
			r->rua = nr;
			mox_tlsrpt_rua *rua = &r->rua[r->nrua++];
			memset(rua, 0, sizeof(*rua));
			for (;;) {
				if ((err = parse_uri(alloc, txt, len, &i, rua, info)) !=
				    MOX_OK)
					goto out;
				size_t j = i;
				while (j < len && is_wsp(txt[j]))
					j++;
				if (j >= len || txt[j] != ',')
					break;
				j++;
				while (j < len && is_wsp(txt[j]))
					j++;
				i = j;
			}
		} else {
			size_t vs = i;
			while (i < len) {
				unsigned char c = (unsigned char)txt[i];
				if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
					break;
				i++;
			}
			if (i == vs) {
				err = mox_errinfo_set(
				    info, MOX_ESYNTAX, vs,
				    "empty value for field '%.*s' at %zu", (int)kn, key,
				    vs);
				goto out;
			}
			char *k = mox_mem_strndup(alloc, key, kn);
			char *val = mox_mem_strndup(alloc, txt + vs, i - vs);
			mox_tlsrpt_ext *ne =
			    k != NULL && val != NULL
			        ? mox_mem_reallocarray(alloc, r->extensions,
			                               r->nextensions + 1, sizeof(*ne))
			        : NULL;
			if (ne == NULL) {
				mox_mem_free(alloc, k);
				mox_mem_free(alloc, val);
				err = MOX_ENOMEM;
				goto out;
			}
			ne[r->nextensions].key = k;
			ne[r->nextensions].value = val;
			r->extensions = ne;
			r->nextensions++;
		}
		/* A URI list may end in white space before the end. */
		size_t j = i;
		while (j < len && is_wsp(txt[j]))
			j++;
		if (j == len)
			break;
		size_t ni = delim(txt, len, i);
		if (ni == 0) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, j,
			                      "unexpected character 0x%02x at %zu",
			                      (unsigned char)txt[j], j);
			goto out;
		}
		i = ni;
		if (i == len)
			break;
	}
	if (r->nrua == 0)
		err = mox_errinfo_set(info, MOX_ESYNTAX, len, "missing rua");
out:
	if (err != MOX_OK) {
		mox_tlsrpt_record_free(r);
		return err;
	}
	*record_out = r;
	return MOX_OK;
}

mox_err
mox_tlsrpt_record_format(const mox_tlsrpt_record *r, mox_buf *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = mox_buf_append_str(out, "v=TLSRPTv1");
	for (size_t i = 0; err == MOX_OK && i < r->nrua; i++) {
		err = mox_buf_append_str(out, "; rua=");
		for (size_t j = 0; err == MOX_OK && j < r->rua[i].n; j++)
			err = mox_buf_appendf(out, "%s%s", j > 0 ? "," : "",
			                      r->rua[i].uris[j]);
	}
	for (size_t i = 0; err == MOX_OK && i < r->nextensions; i++)
		err = mox_buf_appendf(out, "; %s=%s", r->extensions[i].key,
		                      r->extensions[i].value);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}

const char *
mox_tlsrpt_lookup_status_name(mox_tlsrpt_lookup_status s)
{
	switch (s) {
	case MOX_TLSRPT_LOOKUP_FOUND:
		return "found";
	case MOX_TLSRPT_LOOKUP_NONE:
		return "none";
	case MOX_TLSRPT_LOOKUP_MULTIPLE:
		return "multiple";
	case MOX_TLSRPT_LOOKUP_SYNTAX:
		return "syntax";
	case MOX_TLSRPT_LOOKUP_TEMPERROR:
		return "temperror";
	}
	return "";
}

void
mox_tlsrpt_lookup_result_clear(mox_tlsrpt_lookup_result *r)
{
	if (r == NULL)
		return;
	mox_tlsrpt_record_free(r->record);
	mox_mem_free(r->alloc, r->txt);
	memset(r, 0, sizeof(*r));
}

/* RFC 8460 section 3: the TXT records at "_smtp._tls.<domain>"; records
 * not starting as TLSRPT records are ignored, more than one TLSRPT
 * record is as none. */
mox_err
mox_tlsrpt_lookup(const mox_resolver *resolver, const char *domain,
                  const mox_allocator *alloc, mox_tlsrpt_lookup_result *res)
{
	if (res == NULL)
		return MOX_EINVAL;
	memset(res, 0, sizeof(*res));
	res->alloc = alloc;
	if (resolver == NULL || domain == NULL)
		return MOX_EINVAL;
	size_t dn = strlen(domain);
	if (dn > 1 && domain[dn - 1] == '.')
		dn--;
	mox_errinfo ni = {0};
	if (dn == 0 || dn > MOX_DNS_NAME_MAX ||
	    mox_dns_name_check(domain, dn, MOX_DNS_NAME_HOST, &ni) != MOX_OK) {
		res->status = MOX_TLSRPT_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why), "invalid domain: %s",
		         ni.msg[0] != '\0' ? ni.msg : "empty or too long");
		return MOX_OK;
	}
	char name[MOX_DNS_NAME_MAX + 16];
	snprintf(name, sizeof(name), "_smtp._tls.%.*s", (int)dn, domain);
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(resolver, name, MOX_DNS_TXT, &a);
	if (err != MOX_OK)
		return err;
	res->authentic = a->authentic;
	if (a->status == MOX_DNS_NXDOMAIN || a->status == MOX_DNS_NODATA) {
		res->status = MOX_TLSRPT_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why),
		         "no tlsrpt dns txt record at %s (%s)", name,
		         mox_dns_status_name(a->status));
		goto out;
	}
	if (a->status != MOX_DNS_FOUND) {
		res->status = MOX_TLSRPT_LOOKUP_TEMPERROR;
		snprintf(res->why, sizeof(res->why), "dns lookup of %s: %s", name,
		         a->why != NULL ? a->why : mox_dns_status_name(a->status));
		goto out;
	}
	const mox_dns_rr *found = NULL;
	size_t count = 0;
	for (size_t i = 0; i < a->nrr; i++) {
		const mox_dns_rr *rr = &a->rr[i];
		if (rr->type != MOX_DNS_TXT ||
		    !mox_tlsrpt_is_record((const char *)rr->u.txt.data, rr->u.txt.len))
			continue;
		if (found == NULL)
			found = rr;
		count++;
	}
	if (count == 0) {
		res->status = MOX_TLSRPT_LOOKUP_NONE;
		snprintf(res->why, sizeof(res->why),
		         "no tlsrpt record among the TXT records at %s", name);
		goto out;
	}
	if (count > 1) {
		res->status = MOX_TLSRPT_LOOKUP_MULTIPLE;
		snprintf(res->why, sizeof(res->why), "%zu tlsrpt records at %s", count,
		         name);
		goto out;
	}
	const char *txt = (const char *)found->u.txt.data;
	size_t len = found->u.txt.len;
	mox_errinfo info = {0};
	err = memchr(txt, '\0', len) != NULL
	          ? mox_errinfo_set(&info, MOX_ESYNTAX, 0, "NUL byte in record")
	          : mox_tlsrpt_record_parse(txt, len, alloc, &res->record, &info);
	if (err == MOX_ENOMEM)
		goto out;
	if (err != MOX_OK) {
		err = MOX_OK;
		res->status = MOX_TLSRPT_LOOKUP_SYNTAX;
		snprintf(res->why, sizeof(res->why), "invalid tlsrpt record at %s: %s",
		         name, info.msg);
		goto out;
	}
	if ((res->txt = mox_mem_strndup(alloc, txt, len)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	res->status = MOX_TLSRPT_LOOKUP_FOUND;
out:
	mox_dns_answer_free(a);
	if (err != MOX_OK) {
		mox_tlsrpt_lookup_result_clear(res);
		res->alloc = alloc;
	}
	return err;
}
