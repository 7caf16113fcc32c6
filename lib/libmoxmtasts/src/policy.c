/* The MTA-STS policy, RFC 8461 section 3.2; MX matching, section 4.1; the
 * delivery decision, section 5.
 *
 * The grammar is in mox/mtasts.h above mox_mtasts_policy_parse. The parser
 * reads one "name: value" field per line (LF or CRLF; the last line may
 * lack one), white space after the colon and before the line end skipped.
 * Values are checked per field: version must be STSv1, mode one of three
 * words, max_age 1 to 10 digits, mx an optional "*." and a host name in
 * A-labels; other fields are extensions whose value is printable text
 * (UTF-8 allowed). Input is bounded by MOX_MTASTS_POLICY_SIZE_MAX, so
 * memory is too. */
#include "mtasts_int.h"

#include <stdio.h>
#include <string.h>

const char *
mox_mtasts_mode_name(mox_mtasts_mode mode)
{
	switch (mode) {
	case MOX_MTASTS_MODE_NONE:
		return "none";
	case MOX_MTASTS_MODE_TESTING:
		return "testing";
	case MOX_MTASTS_MODE_ENFORCE:
		return "enforce";
	}
	return "";
}

void
mox_mtasts_policy_free(mox_mtasts_policy *p)
{
	if (p == NULL)
		return;
	const mox_allocator *a = p->alloc;
	for (size_t i = 0; p->mx != NULL && i < p->nmx; i++)
		mox_mem_free(a, p->mx[i].domain);
	mox_mem_free(a, p->mx);
	mox__mtasts_pairs_free(a, p->extensions, p->nextensions);
	mox_mem_free(a, p);
}

static mox_err
add_mx(mox_mtasts_policy *p, bool wildcard, const char *d, size_t n)
{
	char *s = mox_mem_strndup(p->alloc, d, n);
	if (s == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < n; i++)
		s[i] = mox__mtasts_lower(s[i]);
	mox_mtasts_mx *nm =
	    mox_mem_reallocarray(p->alloc, p->mx, p->nmx + 1, sizeof(*nm));
	if (nm == NULL) {
		mox_mem_free(p->alloc, s);
		return MOX_ENOMEM;
	}
	nm[p->nmx].wildcard = wildcard;
	nm[p->nmx].domain = s;
	p->mx = nm;
	p->nmx++;
	return MOX_OK;
}

/* Length of a valid UTF-8 sequence of 2 to 4 bytes at p (RFC 3629 section
 * 4: no overlong forms, no surrogates, at most U+10FFFF), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

static bool
token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

typedef struct pstate {
	const char *s;
	size_t n;
	mox_errinfo *info;
} pstate;

static mox_err
perr(pstate *ps, size_t at, const char *what)
{
	char cb[8];
	if (at < ps->n) {
		unsigned char c = (unsigned char)ps->s[at];
		if (c > ' ' && c < 0x7f)
			snprintf(cb, sizeof(cb), "'%c'", c);
		else
			snprintf(cb, sizeof(cb), "0x%02x", c);
		return mox_errinfo_set(ps->info, MOX_ESYNTAX, at,
		                       "%s at %zu (found %s)", what, at, cb);
	}
	return mox_errinfo_set(ps->info, MOX_ESYNTAX, at, "%s at %zu (end of policy)",
	                       what, at);
}

/* Read an mx value at *i: ["*."] Domain (RFC 5321 section 4.1.2). */
static mox_err
parse_mx(pstate *ps, mox_mtasts_policy *p, size_t *i)
{
	const char *s = ps->s;
	size_t n = ps->n, at = *i;
	bool wildcard = false;
	if (n - at >= 2 && s[at] == '*' && s[at + 1] == '.') {
		wildcard = true;
		at += 2;
	}
	size_t ds = at;
	bool nonascii = false;
	while (at < n) {
		unsigned char c = (unsigned char)s[at];
		if (c >= 0x80)
			nonascii = true;
		else if (!(mox__mtasts_is_alpha(c) || mox__mtasts_is_digit(c) ||
		           c == '-' || c == '.'))
			break;
		at++;
	}
	if (at == ds)
		return perr(ps, ds, "expected mx host name");
	if (nonascii)
		/* RFC 8461 section 3.2: names in the policy are A-labels. */
		return mox_errinfo_set(
		    ps->info, MOX_ESYNTAX, ds,
		    "mx host name at %zu must be in A-labels, not UTF-8", ds);
	mox_errinfo ni = {0};
	if (mox_dns_name_check(s + ds, at - ds, MOX_DNS_NAME_HOST, &ni) != MOX_OK)
		return mox_errinfo_set(
		    ps->info, MOX_ESYNTAX, ds, "invalid mx host '%.*s' at %zu: %s",
		    (int)(at - ds > 100 ? 100 : at - ds), s + ds, ds, ni.msg);
	*i = at;
	return add_mx(p, wildcard, s + ds, at - ds);
}

/* An extension value: sts-policy-vchar [*(%x20 / sts-policy-vchar)
 * sts-policy-vchar]; trailing spaces are left for the caller's *WSP. */
static mox_err
parse_ext_value(pstate *ps, size_t *i, size_t *end_out)
{
	const unsigned char *s = (const unsigned char *)ps->s;
	size_t n = ps->n, at = *i, end = at;
	while (at < n) {
		unsigned char c = s[at];
		if (c > 0x20 && c < 0x7f) {
			at++;
			end = at;
		} else if (c == ' ' && at > *i) {
			at++;
		} else if (c >= 0x80) {
			size_t ul = utf8_len(s + at, n - at);
			if (ul == 0)
				return mox_errinfo_set(ps->info, MOX_ESYNTAX, at,
				                       "invalid UTF-8 in value at %zu",
				                       at);
			at += ul;
			end = at;
		} else
			break;
	}
	if (end == *i)
		return perr(ps, *i, "expected value");
	*i = end;
	*end_out = end;
	return MOX_OK;
}

mox_err
mox_mtasts_policy_parse(const char *text, size_t len, const mox_allocator *alloc,
                        mox_mtasts_policy **policy_out, mox_errinfo *info)
{
	if (policy_out == NULL)
		return MOX_EINVAL;
	*policy_out = NULL;
	if (text == NULL)
		return MOX_EINVAL;
	if (len > MOX_MTASTS_POLICY_SIZE_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, MOX_MTASTS_POLICY_SIZE_MAX,
		                       "policy larger than %u bytes",
		                       MOX_MTASTS_POLICY_SIZE_MAX);
	if (len == 0)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "empty policy");
	pstate ps = {text, len, info};
	mox_mtasts_policy *p = mox_mem_calloc(alloc, 1, sizeof(*p));
	if (p == NULL)
		return MOX_ENOMEM;
	p->alloc = alloc;
	bool seen_version = false, seen_mode = false, seen_max_age = false;
	mox_err err = MOX_OK;
	size_t i = 0;
	for (;;) {
		size_t ks = i, kn = mox__mtasts_ext_name_len(text + i, len - i);
		if (kn == 0) {
			err = perr(&ps, i, "expected field name");
			goto out;
		}
		if (kn > MOX_MTASTS_EXT_NAME_MAX) {
			err = mox_errinfo_set(
			    info, MOX_ESYNTAX, i,
			    "field name longer than %d characters at %zu",
			    MOX_MTASTS_EXT_NAME_MAX, i);
			goto out;
		}
		const char *key = text + ks;
		i += kn;
		if (i >= len || text[i] != ':') {
			err = perr(&ps, i, "expected ':' after field name");
			goto out;
		}
		i++;
		while (i < len && mox__mtasts_is_wsp((unsigned char)text[i]))
			i++;
		size_t vs = i;
		/* A token: up to white space or line end. */
		size_t ve = vs;
		while (ve < len && !mox__mtasts_is_wsp((unsigned char)text[ve]) &&
		       text[ve] != '\r' && text[ve] != '\n')
			ve++;
		if (token_is(key, kn, "version")) {
			if (!token_is(text + vs, ve - vs, "STSv1")) {
				err =
				    mox_errinfo_set(info, MOX_ESYNTAX, vs,
				                    "version must be STSv1 at %zu", vs);
				goto out;
			}
			seen_version = true;
			i = ve;
		} else if (token_is(key, kn, "mode")) {
			mox_mtasts_mode m;
			if (token_is(text + vs, ve - vs, "enforce"))
				m = MOX_MTASTS_MODE_ENFORCE;
			else if (token_is(text + vs, ve - vs, "testing"))
				m = MOX_MTASTS_MODE_TESTING;
			else if (token_is(text + vs, ve - vs, "none"))
				m = MOX_MTASTS_MODE_NONE;
			else {
				err = mox_errinfo_set(
				    info, MOX_ESYNTAX, vs,
				    "invalid mode '%.*s' at %zu, expected enforce, "
				    "testing or none",
				    (int)(ve - vs > 40 ? 40 : ve - vs), text + vs, vs);
				goto out;
			}
			/* Of repeated fields (but mx) the first counts. */
			if (!seen_mode)
				p->mode = m;
			seen_mode = true;
			i = ve;
		} else if (token_is(key, kn, "max_age")) {
			uint64_t v = 0;
			size_t d = vs;
			while (d < len &&
			       mox__mtasts_is_digit((unsigned char)text[d])) {
				if (d - vs == 10) {
					err = mox_errinfo_set(
					    info, MOX_ESYNTAX, vs,
					    "max_age longer than 10 digits at %zu", vs);
					goto out;
				}
				v = v * 10 + (uint64_t)(text[d] - '0');
				d++;
			}
			if (d == vs) {
				err = perr(&ps, vs, "expected max_age digits");
				goto out;
			}
			if (!seen_max_age)
				p->max_age = v;
			seen_max_age = true;
			i = d;
		} else if (token_is(key, kn, "mx")) {
			if ((err = parse_mx(&ps, p, &i)) != MOX_OK)
				goto out;
		} else {
			size_t end = vs;
			if ((err = parse_ext_value(&ps, &i, &end)) != MOX_OK)
				goto out;
			if ((err = mox__mtasts_pairs_add(
			         alloc, &p->extensions, &p->nextensions, key, kn,
			         text + vs, end - vs)) != MOX_OK)
				goto out;
		}
		while (i < len && mox__mtasts_is_wsp((unsigned char)text[i]))
			i++;
		if (i == len)
			break;
		if (text[i] == '\n')
			i++;
		else if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i += 2;
		else {
			err = perr(&ps, i, "expected end of line");
			goto out;
		}
		if (i == len)
			break;
	}
	const char *missing = !seen_version   ? "version"
	                      : !seen_mode    ? "mode"
	                      : !seen_max_age ? "max_age"
	                                      : NULL;
	if (missing != NULL) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, len, "missing field %s",
		                      missing);
		goto out;
	}
	/* RFC 8461 section 3.2: mx is required unless the mode is none. */
	if (p->nmx == 0 && p->mode != MOX_MTASTS_MODE_NONE) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, len,
		                      "missing field mx for mode %s",
		                      mox_mtasts_mode_name(p->mode));
		goto out;
	}
out:
	if (err != MOX_OK) {
		mox_mtasts_policy_free(p);
		return err;
	}
	*policy_out = p;
	return MOX_OK;
}

mox_err
mox_mtasts_policy_copy(const mox_mtasts_policy *src, const mox_allocator *alloc,
                       mox_mtasts_policy **copy_out)
{
	if (copy_out == NULL)
		return MOX_EINVAL;
	*copy_out = NULL;
	if (src == NULL)
		return MOX_EINVAL;
	mox_mtasts_policy *p = mox_mem_calloc(alloc, 1, sizeof(*p));
	if (p == NULL)
		return MOX_ENOMEM;
	p->alloc = alloc;
	p->mode = src->mode;
	p->max_age = src->max_age;
	mox_err err = MOX_OK;
	for (size_t i = 0; err == MOX_OK && i < src->nmx; i++)
		err = add_mx(p, src->mx[i].wildcard, src->mx[i].domain,
		             strlen(src->mx[i].domain));
	for (size_t i = 0; err == MOX_OK && i < src->nextensions; i++)
		err = mox__mtasts_pairs_add(
		    alloc, &p->extensions, &p->nextensions, src->extensions[i].key,
		    strlen(src->extensions[i].key), src->extensions[i].value,
		    strlen(src->extensions[i].value));
	if (err != MOX_OK) {
		mox_mtasts_policy_free(p);
		return err;
	}
	*copy_out = p;
	return MOX_OK;
}

mox_err
mox_mtasts_policy_format(const mox_mtasts_policy *p, mox_buf *out)
{
	if (p == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = mox_buf_appendf(out, "version: STSv1\nmode: %s\nmax_age: %llu\n",
	                              mox_mtasts_mode_name(p->mode),
	                              (unsigned long long)p->max_age);
	for (size_t i = 0; err == MOX_OK && i < p->nmx; i++)
		err = mox_buf_appendf(out, "mx: %s%s\n", p->mx[i].wildcard ? "*." : "",
		                      p->mx[i].domain);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}

/* Case-insensitive comparison of a (n bytes) with NUL-terminated b. */
static bool
eq_ci(const char *a, size_t n, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] == '\0' || mox__mtasts_lower(a[i]) != mox__mtasts_lower(b[i]))
			return false;
	return b[n] == '\0';
}

bool
mox_mtasts_policy_matches(const mox_mtasts_policy *p, const char *host)
{
	if (p == NULL || host == NULL)
		return false;
	size_t n = strlen(host);
	if (n > 1 && host[n - 1] == '.')
		n--;
	if (n == 0)
		return false;
	/* RFC 8461 section 4.1: a wildcard covers exactly the left-most
	 * label: "*.example.com" matches "mx.example.com" only. */
	const char *dot = memchr(host, '.', n);
	for (size_t i = 0; i < p->nmx; i++) {
		const mox_mtasts_mx *mx = &p->mx[i];
		if (!mx->wildcard) {
			if (eq_ci(host, n, mx->domain))
				return true;
		} else if (dot != NULL && dot > host) {
			size_t rest = n - (size_t)(dot + 1 - host);
			if (eq_ci(dot + 1, rest, mx->domain))
				return true;
		}
	}
	return false;
}

void
mox_mtasts_decide(const mox_mtasts_policy *p, const char *mx_host,
                  mox_mtasts_decision *d)
{
	if (d == NULL)
		return;
	memset(d, 0, sizeof(*d));
	d->allowed = true;
	if (p == NULL || p->mode == MOX_MTASTS_MODE_NONE)
		return;
	d->mx_match = mox_mtasts_policy_matches(p, mx_host);
	d->report = true;
	/* RFC 8461 section 5: in enforce mode, a host that does not match
	 * or offers no valid TLS gets no message; in testing mode delivery
	 * goes on and failures are only reported. */
	if (p->mode == MOX_MTASTS_MODE_ENFORCE) {
		d->allowed = d->mx_match;
		d->require_tls = d->mx_match;
	}
}
