/* The MTA-STS TXT record, RFC 8461 section 3.1, and helpers shared by the
 * record and policy parsers.
 *
 * The grammar is in mox/mtasts.h above mox_mtasts_record_parse. The parser
 * walks the text once: "v=STSv1", a separator, then fields separated by
 * sts-sep; a trailing separator is allowed, trailing white space without
 * one is not (the ABNF has no room for it). Every error names the offset
 * of the first byte that does not fit. */
#include "mtasts_int.h"

#include <stdio.h>
#include <string.h>

unsigned
mox_mtasts_version(void)
{
	return MOX_MTASTS_VERSION_HEX;
}

size_t
mox__mtasts_ext_name_len(const char *p, size_t n)
{
	if (n == 0 || !(mox__mtasts_is_alpha((unsigned char)p[0]) ||
	                mox__mtasts_is_digit((unsigned char)p[0])))
		return 0;
	size_t i = 1;
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		if (!(mox__mtasts_is_alpha(c) || mox__mtasts_is_digit(c) || c == '_' ||
		      c == '-' || c == '.'))
			break;
		i++;
	}
	return i;
}

void
mox__mtasts_pairs_free(const mox_allocator *a, mox_mtasts_pair *pairs, size_t n)
{
	for (size_t i = 0; pairs != NULL && i < n; i++) {
		mox_mem_free(a, pairs[i].key);
		mox_mem_free(a, pairs[i].value);
	}
	mox_mem_free(a, pairs);
}

mox_err
mox__mtasts_pairs_add(const mox_allocator *a, mox_mtasts_pair **pairs, size_t *n,
                      const char *key, size_t klen, const char *value, size_t vlen)
{
	char *k = mox_mem_strndup(a, key, klen);
	char *v = mox_mem_strndup(a, value, vlen);
	mox_mtasts_pair *np = NULL;
	if (k != NULL && v != NULL)
		np = mox_mem_reallocarray(a, *pairs, *n + 1, sizeof(**pairs));
	if (np == NULL) {
		mox_mem_free(a, k);
		mox_mem_free(a, v);
		return MOX_ENOMEM;
	}
	np[*n].key = k;
	np[*n].value = v;
	*pairs = np;
	(*n)++;
	return MOX_OK;
}

bool
mox__mtasts_domain(const char *domain, char *out, char *why, size_t whylen)
{
	size_t n = domain != NULL ? strlen(domain) : 0;
	if (n > 1 && domain[n - 1] == '.')
		n--;
	mox_errinfo info = {0};
	if (n == 0 || n > MOX_DNS_NAME_MAX ||
	    mox_dns_name_check(domain, n, MOX_DNS_NAME_HOST, &info) != MOX_OK) {
		snprintf(why, whylen, "invalid domain: %s",
		         info.msg[0] != '\0' ? info.msg : "empty or too long");
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = mox__mtasts_lower(domain[i]);
	out[n] = '\0';
	return true;
}

/* sts-sep = *WSP %x3B *WSP. Returns the offset after it, or 0 if there is
 * none at i (a separator never starts at offset 0). */
static size_t
sep(const char *s, size_t n, size_t i)
{
	while (i < n && mox__mtasts_is_wsp((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != ';')
		return 0;
	i++;
	while (i < n && mox__mtasts_is_wsp((unsigned char)s[i]))
		i++;
	return i;
}

bool
mox_mtasts_is_record(const char *txt, size_t len)
{
	static const char v[] = "v=STSv1";
	if (txt == NULL || len < sizeof(v) - 1 || memcmp(txt, v, sizeof(v) - 1) != 0)
		return false;
	return sep(txt, len, sizeof(v) - 1) != 0;
}

void
mox_mtasts_record_free(mox_mtasts_record *r)
{
	if (r == NULL)
		return;
	const mox_allocator *a = r->alloc;
	mox_mem_free(a, r->id);
	mox__mtasts_pairs_free(a, r->extensions, r->nextensions);
	mox_mem_free(a, r);
}

/* A byte for an error message: printable ASCII as is, others as hex. */
static const char *
show(unsigned char c, char buf[8])
{
	if (c > ' ' && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

mox_err
mox_mtasts_record_parse(const char *txt, size_t len, const mox_allocator *alloc,
                        mox_mtasts_record **record_out, mox_errinfo *info)
{
	if (record_out == NULL)
		return MOX_EINVAL;
	*record_out = NULL;
	if (txt == NULL)
		return MOX_EINVAL;
	if (len > MOX_MTASTS_RECORD_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, MOX_MTASTS_RECORD_MAX,
		                       "record longer than %u bytes",
		                       MOX_MTASTS_RECORD_MAX);
	static const char v[] = "v=STSv1";
	if (len < sizeof(v) - 1 || memcmp(txt, v, sizeof(v) - 1) != 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0,
		                       "record must start with v=STSv1");
	size_t i = sep(txt, len, sizeof(v) - 1);
	if (i == 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, sizeof(v) - 1,
		                       "expected ';' after v=STSv1 at %zu",
		                       sizeof(v) - 1);

	mox_err err = MOX_OK;
	char cb[8];
	mox_mtasts_record *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return MOX_ENOMEM;
	r->alloc = alloc;
	for (;;) {
		size_t kn = mox__mtasts_ext_name_len(txt + i, len - i);
		if (kn == 0) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, i,
			                      "expected field name at %zu", i);
			goto out;
		}
		if (kn > MOX_MTASTS_EXT_NAME_MAX) {
			err = mox_errinfo_set(
			    info, MOX_ESYNTAX, i,
			    "field name longer than %d characters at %zu",
			    MOX_MTASTS_EXT_NAME_MAX, i);
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
		size_t vs = i;
		if (kn == 2 && memcmp(key, "id", 2) == 0) {
			while (i < len &&
			       (mox__mtasts_is_alpha((unsigned char)txt[i]) ||
			        mox__mtasts_is_digit((unsigned char)txt[i])))
				i++;
			if (i == vs) {
				err = mox_errinfo_set(
				    info, MOX_ESYNTAX, vs,
				    "id must be 1-32 letters or digits at %zu", vs);
				goto out;
			}
			if (i - vs > MOX_MTASTS_ID_MAX) {
				err = mox_errinfo_set(
				    info, MOX_ESYNTAX, vs,
				    "id longer than %d characters at %zu",
				    MOX_MTASTS_ID_MAX, vs);
				goto out;
			}
			/* The first id counts (RFC 8461 section 3.2, last
			 * paragraph, applied to the record as mox does). */
			if (r->id == NULL && (r->id = mox_mem_strndup(
			                          alloc, txt + vs, i - vs)) == NULL) {
				err = MOX_ENOMEM;
				goto out;
			}
		} else {
			/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
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
			if ((err = mox__mtasts_pairs_add(alloc, &r->extensions,
			                                 &r->nextensions, key, kn,
			                                 txt + vs, i - vs)) != MOX_OK)
				goto out;
		}
		if (i == len)
			break;
		size_t ni = sep(txt, len, i);
		if (ni == 0) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, i,
			                      "unexpected %s at %zu",
			                      show((unsigned char)txt[i], cb), i);
			goto out;
		}
		i = ni;
		if (i == len)
			break;
	}
	if (r->id == NULL) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, len, "missing id");
		goto out;
	}
out:
	if (err != MOX_OK) {
		mox_mtasts_record_free(r);
		return err;
	}
	*record_out = r;
	return MOX_OK;
}

mox_err
mox_mtasts_record_format(const mox_mtasts_record *r, mox_buf *out)
{
	if (r == NULL || out == NULL || r->id == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = mox_buf_appendf(out, "v=STSv1; id=%s", r->id);
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
