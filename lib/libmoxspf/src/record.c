/* SPF record parsing and formatting, RFC 7208 sections 4.5, 4.6, 5, 6, 12.
 *
 * How this works: the record is split into terms at runs of SP (RFC 7208
 * section 4.6.1: only SP separates terms; any other byte below 0x21 or
 * above 0x7e is a syntax error wherever it is). Each term is a directive
 * (optional qualifier, mechanism name, arguments) or a modifier (name "="
 * value). For "a" and "mx" the dual CIDR length is taken off the end of
 * the term first, so a domain-spec may itself contain "/" and ":" as the
 * ABNF allows ("a:foo:bar/baz.example.com"). Domain-specs get their macro
 * syntax and their top label checked here, so a record that parses can
 * only fail at evaluation through DNS or the processing limits.
 *
 * The ABNF this parser implements (RFC 7208 section 12):
 *
 *   record           = version terms *SP
 *   version          = "v=spf1"
 *   terms            = *( 1*SP ( directive / modifier ) )
 *   directive        = [ qualifier ] mechanism
 *   qualifier        = "+" / "-" / "?" / "~"
 *   mechanism        = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
 *   all              = "all"
 *   include          = "include"  ":" domain-spec
 *   a                = "a"      [ ":" domain-spec ] [ dual-cidr-length ]
 *   mx               = "mx"     [ ":" domain-spec ] [ dual-cidr-length ]
 *   ptr              = "ptr"    [ ":" domain-spec ]
 *   ip4              = "ip4"      ":" ip4-network   [ ip4-cidr-length ]
 *   ip6              = "ip6"      ":" ip6-network   [ ip6-cidr-length ]
 *   exists           = "exists"   ":" domain-spec
 *   modifier         = redirect / explanation / unknown-modifier
 *   redirect         = "redirect" "=" domain-spec
 *   explanation      = "exp" "=" domain-spec
 *   unknown-modifier = name "=" macro-string
 *   ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT)
 *   ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT)
 *   dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
 *   ip4-network      = qnum "." qnum "." qnum "." qnum
 *   qnum             = DIGIT / %x31-39 DIGIT / "1" 2DIGIT
 *                      / "2" %x30-34 DIGIT / "25" %x30-35
 *   domain-spec      = macro-string domain-end
 *   domain-end       = ( "." toplabel [ "." ] ) / macro-expand
 *   toplabel         = ( *alphanum ALPHA *alphanum ) /
 *                      ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 *   name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
 *
 * Names are case-insensitive (RFC 7208 section 4.6.1). */
#include "spf_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const mech_names[] = {"all", "include", "a",  "mx",
					 "ptr", "ip4",     "ip6", "exists"};

typedef struct parser {
	const char *s; /* the whole record */
	size_t len;
	mox_spf_record *r;
	mox_errinfo *info;
} parser;

static mox_err
perr(parser *p, size_t off, const char *fmt, const char *what, size_t wlen)
{
	char shown[64];
	size_t n = wlen < sizeof(shown) - 4 ? wlen : sizeof(shown) - 4;
	memcpy(shown, what, n);
	if (n < wlen)
		memcpy(shown + n, "...", 4);
	else
		shown[n] = '\0';
	/* fmt has one %s for the shown text; the offset is appended. */
	char msg[200];
	snprintf(msg, sizeof(msg), fmt, shown);
	return mox_errinfo_set(p->info, MOX_ESYNTAX, off, "%s at %zu", msg, off);
}

static bool
eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t n = strlen(b);
	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (mox__spf_lower(a[i]) != b[i])
			return false;
	return true;
}

bool
mox_spf_record_is_spf(const char *txt, size_t len)
{
	/* RFC 7208 section 4.5: "v=spf1" then SP or the end. */
	return txt != NULL && len >= 6 && eq_nocase(txt, 6, "v=spf1") &&
	       (len == 6 || txt[6] == ' ');
}

/* Digits of a CIDR length per the ABNF: no leading zero, at most maxdigits;
 * value at most max. */
static bool
cidr_value(const char *s, size_t n, size_t maxdigits, int max, int *out)
{
	if (n == 0 || n > maxdigits || (n > 1 && s[0] == '0'))
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mox__spf_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* ip4-network with qnum: no leading zeros, each at most 255. */
static bool
ip4_parse(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		int v = 0;
		while (i < n && mox__spf_digit(s[i]) && i - start < 3)
			v = v * 10 + (s[i++] - '0');
		size_t digits = i - start;
		if (digits == 0 || (digits > 1 && s[start] == '0') || v > 255)
			return false;
		out[part] = (uint8_t)v;
	}
	return i == n;
}

static bool
ip6_parse(const char *s, size_t n, uint8_t out[16])
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(mox__spf_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.'))
			return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1;
}

static bool
is_alnum(char c)
{
	return mox__spf_alpha(c) || mox__spf_digit(c);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	bool alpha = false, dash = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dash = true;
		else if (mox__spf_alpha(s[i]))
			alpha = true;
		else if (!mox__spf_digit(s[i]))
			return false;
	}
	if (!dash)
		return alpha;
	return n >= 3 && is_alnum(s[0]) && is_alnum(s[n - 1]);
}

/* domain-spec = macro-string domain-end, at record offset off. */
static mox_err
domain_spec_check(parser *p, const char *s, size_t n, size_t off)
{
	if (n == 0)
		return perr(p, off, "empty domain-spec%s", "", 0);
	bool ends_macro = false;
	mox_err err = mox__spf_macro_check(s, n, 0, off, &ends_macro, p->info);
	if (err != MOX_OK)
		return err;
	if (ends_macro)
		return MOX_OK;
	/* "." toplabel [ "." ] */
	size_t end = n;
	if (s[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > 0 && s[dot - 1] != '.')
		dot--;
	if (dot == 0)
		return perr(p, off, "domain-spec '%s' needs a dot and a top label", s, n);
	if (!toplabel_ok(s + dot, end - dot))
		return perr(p, off + dot, "invalid top label in domain-spec '%s'", s, n);
	return MOX_OK;
}

static mox_err
dup_text(parser *p, const char *s, size_t n, char **out)
{
	*out = mox_mem_strndup(p->r->alloc, s, n);
	return *out == NULL ? MOX_ENOMEM : MOX_OK;
}

static mox_err
add_dir(parser *p, const mox__spf_dir *d)
{
	mox__spf_dir *dirs = mox_mem_reallocarray(p->r->alloc, p->r->dirs,
						  p->r->ndirs + 1, sizeof(*dirs));
	if (dirs == NULL)
		return MOX_ENOMEM;
	p->r->dirs = dirs;
	dirs[p->r->ndirs++] = *d;
	return MOX_OK;
}

/* A directive: term t[0..n) at record offset off. */
static mox_err
parse_directive(parser *p, const char *t, size_t n, size_t off)
{
	mox__spf_dir d;
	memset(&d, 0, sizeof(d));
	d.qualifier = MOX_SPF_PASS;
	d.cidr4 = d.cidr6 = -1;
	size_t i = 0;
	switch (t[0]) {
	case '+': d.qualifier = MOX_SPF_PASS; d.explicit_qualifier = true; i++; break;
	case '-': d.qualifier = MOX_SPF_FAIL; i++; break;
	case '~': d.qualifier = MOX_SPF_SOFTFAIL; i++; break;
	case '?': d.qualifier = MOX_SPF_NEUTRAL; i++; break;
	default: break;
	}
	size_t ns = i;
	while (i < n && is_alnum(t[i]))
		i++;
	const char *name = t + ns;
	size_t nlen = i - ns;
	if (nlen == 0)
		return perr(p, off + ns, "expected mechanism in '%s'", t, n);
	bool known = false;
	for (size_t m = 0; m < sizeof(mech_names) / sizeof(mech_names[0]); m++)
		if (eq_nocase(name, nlen, mech_names[m])) {
			d.mech = (mox_spf_mechanism)m;
			known = true;
		}
	if (!known || (i < n && t[i] != ':' && t[i] != '/'))
		return perr(p, off + ns, "unknown mechanism '%s'", t + ns, n - ns);

	const char *rest = t + i;
	size_t rlen = n - i, roff = off + i;
	mox_err err;
	switch (d.mech) {
	case MOX_SPF_MECH_ALL:
		if (rlen != 0)
			return perr(p, roff, "no argument allowed for all: '%s'", rest, rlen);
		break;
	case MOX_SPF_MECH_INCLUDE:
	case MOX_SPF_MECH_EXISTS:
		if (rlen == 0 || rest[0] != ':')
			return perr(p, off, "mechanism '%s' needs ':' and a domain", t, n);
		if ((err = domain_spec_check(p, rest + 1, rlen - 1, roff + 1)) != MOX_OK)
			return err;
		if ((err = dup_text(p, rest + 1, rlen - 1, &d.domain_spec)) != MOX_OK)
			return err;
		break;
	case MOX_SPF_MECH_A:
	case MOX_SPF_MECH_MX: {
		/* Take dual-cidr-length off the end: "//" ip6 digits, then
		 * "/" ip4 digits. */
		size_t e = rlen, k = e;
		while (k > 0 && mox__spf_digit(rest[k - 1]))
			k--;
		if (k < e && k >= 2 && rest[k - 1] == '/' && rest[k - 2] == '/') {
			if (!cidr_value(rest + k, e - k, 3, 128, &d.cidr6))
				return perr(p, roff + k, "invalid ip6 cidr length '%s'",
					    rest + k, e - k);
			e = k - 2;
			k = e;
			while (k > 0 && mox__spf_digit(rest[k - 1]))
				k--;
		}
		if (k < e && k >= 1 && rest[k - 1] == '/' && (k < 2 || rest[k - 2] != '/')) {
			if (!cidr_value(rest + k, e - k, 2, 32, &d.cidr4))
				return perr(p, roff + k, "invalid ip4 cidr length '%s'",
					    rest + k, e - k);
			e = k - 1;
		}
		if (e > 0) {
			if (rest[0] != ':')
				return perr(p, roff, "unexpected '%s' after mechanism",
					    rest, rlen);
			if ((err = domain_spec_check(p, rest + 1, e - 1, roff + 1)) !=
			    MOX_OK)
				return err;
			if ((err = dup_text(p, rest + 1, e - 1, &d.domain_spec)) != MOX_OK)
				return err;
		}
		break;
	}
	case MOX_SPF_MECH_PTR:
		if (rlen > 0) {
			if (rest[0] != ':')
				return perr(p, roff, "unexpected '%s' after ptr", rest, rlen);
			if ((err = domain_spec_check(p, rest + 1, rlen - 1, roff + 1)) !=
			    MOX_OK)
				return err;
			if ((err = dup_text(p, rest + 1, rlen - 1, &d.domain_spec)) !=
			    MOX_OK)
				return err;
		}
		break;
	case MOX_SPF_MECH_IP4:
	case MOX_SPF_MECH_IP6: {
		bool v4 = d.mech == MOX_SPF_MECH_IP4;
		if (rlen == 0 || rest[0] != ':')
			return perr(p, off, "mechanism '%s' needs ':' and an address", t, n);
		const char *a = rest + 1;
		size_t alen = rlen - 1;
		const char *slash = memchr(a, '/', alen);
		size_t addrlen = slash != NULL ? (size_t)(slash - a) : alen;
		if (!(v4 ? ip4_parse(a, addrlen, d.ip) : ip6_parse(a, addrlen, d.ip)))
			return perr(p, roff + 1,
				    v4 ? "invalid ip4 address '%s'" : "invalid ip6 address '%s'",
				    a, addrlen);
		if (slash != NULL) {
			size_t cl = alen - addrlen - 1;
			int *field = v4 ? &d.cidr4 : &d.cidr6;
			if (!cidr_value(slash + 1, cl, v4 ? 2 : 3, v4 ? 32 : 128, field))
				return perr(p, roff + 1 + addrlen,
					    v4 ? "invalid ip4 cidr length '%s'"
					       : "invalid ip6 cidr length '%s'",
					    slash, cl + 1);
		}
		break;
	}
	}
	err = add_dir(p, &d);
	if (err != MOX_OK)
		mox_mem_free(p->r->alloc, d.domain_spec);
	return err;
}

/* A modifier: name t[0..nlen) "=" value. */
static mox_err
parse_modifier(parser *p, const char *t, size_t n, size_t nlen, size_t off)
{
	const char *v = t + nlen + 1;
	size_t vlen = n - nlen - 1, voff = off + nlen + 1;
	mox_err err;
	bool redirect = eq_nocase(t, nlen, "redirect");
	if (redirect || eq_nocase(t, nlen, "exp")) {
		char **field = redirect ? &p->r->redirect : &p->r->exp;
		/* RFC 7208 section 6: each at most once. */
		if (*field != NULL)
			return perr(p, off, "duplicate %s modifier", redirect ? "redirect" : "exp",
				    redirect ? 8 : 3);
		if ((err = domain_spec_check(p, v, vlen, voff)) != MOX_OK)
			return err;
		return dup_text(p, v, vlen, field);
	}
	/* RFC 7208 section 6: unknown modifiers are ignored, but must be
	 * syntactically valid. */
	err = mox__spf_macro_check(v, vlen, MOX__SPF_MACRO_ANYLETTER, voff, NULL, p->info);
	if (err != MOX_OK)
		return err;
	mox__spf_mod *mods = mox_mem_reallocarray(p->r->alloc, p->r->mods,
						  p->r->nmods + 1, sizeof(*mods));
	if (mods == NULL)
		return MOX_ENOMEM;
	p->r->mods = mods;
	mox__spf_mod *m = &mods[p->r->nmods];
	m->name = NULL;
	m->value = NULL;
	if ((err = dup_text(p, t, nlen, &m->name)) != MOX_OK)
		return err;
	if ((err = dup_text(p, v, vlen, &m->value)) != MOX_OK) {
		mox_mem_free(p->r->alloc, m->name);
		return err;
	}
	p->r->nmods++;
	return MOX_OK;
}

static mox_err
parse_term(parser *p, const char *t, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x21 || c > 0x7e)
			return mox_errinfo_set(p->info, MOX_ESYNTAX, off + i,
					       "invalid character 0x%02x at %zu", c,
					       off + i);
	}
	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) followed by "="
	 * makes a modifier. */
	if (mox__spf_alpha(t[0])) {
		size_t i = 1;
		while (i < n && (is_alnum(t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.'))
			i++;
		if (i < n && t[i] == '=')
			return parse_modifier(p, t, n, i, off);
	}
	return parse_directive(p, t, n, off);
}

mox_err
mox_spf_record_parse(const char *txt, size_t len, const mox_allocator *alloc,
		     mox_spf_record **record_out, mox_errinfo *info)
{
	if (record_out == NULL)
		return MOX_EINVAL;
	*record_out = NULL;
	if (txt == NULL)
		return MOX_EINVAL;
	if (len > MOX_SPF_RECORD_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, MOX_SPF_RECORD_MAX,
				       "record longer than %d bytes", MOX_SPF_RECORD_MAX);
	if (!mox_spf_record_is_spf(txt, len))
		return mox_errinfo_set(info, MOX_ESYNTAX, 0,
				       "not an spf record: does not start with \"v=spf1\"");
	mox_spf_record *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return MOX_ENOMEM;
	r->alloc = alloc;
	parser p = {.s = txt, .len = len, .r = r, .info = info};
	mox_err err = MOX_OK;
	size_t i = 6;
	while (i < len) {
		while (i < len && txt[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && txt[i] != ' ')
			i++;
		if (i > start && (err = parse_term(&p, txt + start, i - start, start)) != MOX_OK)
			break;
	}
	if (err != MOX_OK) {
		if (err == MOX_ENOMEM)
			mox_errinfo_set(info, err, 0, "out of memory");
		mox_spf_record_free(r);
		return err;
	}
	*record_out = r;
	return MOX_OK;
}

void
mox_spf_record_free(mox_spf_record *r)
{
	if (r == NULL)
		return;
	const mox_allocator *a = r->alloc;
	for (size_t i = 0; i < r->ndirs; i++)
		mox_mem_free(a, r->dirs[i].domain_spec);
	mox_mem_free(a, r->dirs);
	for (size_t i = 0; i < r->nmods; i++) {
		mox_mem_free(a, r->mods[i].name);
		mox_mem_free(a, r->mods[i].value);
	}
	mox_mem_free(a, r->mods);
	mox_mem_free(a, r->redirect);
	mox_mem_free(a, r->exp);
	mox_mem_free(a, r);
}

size_t
mox_spf_record_directives(const mox_spf_record *r)
{
	return r != NULL ? r->ndirs : 0;
}

mox_err
mox_spf_record_directive(const mox_spf_record *r, size_t i, mox_spf_directive *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	if (i >= r->ndirs)
		return MOX_ERANGE;
	const mox__spf_dir *d = &r->dirs[i];
	out->qualifier = d->qualifier;
	out->mechanism = d->mech;
	out->domain_spec = d->domain_spec;
	out->ip4_cidr = d->cidr4;
	out->ip6_cidr = d->cidr6;
	memcpy(out->ip, d->ip, sizeof(out->ip));
	return MOX_OK;
}

const char *
mox_spf_record_redirect(const mox_spf_record *r)
{
	return r != NULL ? r->redirect : NULL;
}

const char *
mox_spf_record_exp(const mox_spf_record *r)
{
	return r != NULL ? r->exp : NULL;
}

/* Decimal text of v (0..128) appended after sep; no printf on this path,
 * which runs for every evaluation that matches (outcome mechanism). */
static mox_err
append_num(mox_buf *out, const char *sep, int v)
{
	char tmp[8];
	size_t n = strlen(sep);
	memcpy(tmp, sep, n);
	if (v >= 100)
		tmp[n++] = (char)('0' + v / 100);
	if (v >= 10)
		tmp[n++] = (char)('0' + (v / 10) % 10);
	tmp[n++] = (char)('0' + v % 10);
	return mox_buf_append(out, tmp, n);
}

mox_err
mox__spf_dir_format(const mox__spf_dir *d, mox_buf *out)
{
	static const char quals[] = {[MOX_SPF_PASS] = '+', [MOX_SPF_FAIL] = '-',
				     [MOX_SPF_SOFTFAIL] = '~', [MOX_SPF_NEUTRAL] = '?'};
	mox_err err = MOX_OK;
	if (d->qualifier != MOX_SPF_PASS || d->explicit_qualifier)
		err = mox_buf_append_byte(out, (uint8_t)quals[d->qualifier]);
	if (err == MOX_OK)
		err = mox_buf_append_str(out, mech_names[d->mech]);
	if (err == MOX_OK && d->domain_spec != NULL) {
		err = mox_buf_append_byte(out, ':');
		if (err == MOX_OK)
			err = mox_buf_append_str(out, d->domain_spec);
	}
	if (err == MOX_OK && (d->mech == MOX_SPF_MECH_IP4 || d->mech == MOX_SPF_MECH_IP6)) {
		char ip[INET6_ADDRSTRLEN + 1];
		ip[0] = ':';
		inet_ntop(d->mech == MOX_SPF_MECH_IP4 ? AF_INET : AF_INET6, d->ip, ip + 1,
			  sizeof(ip) - 1);
		err = mox_buf_append_str(out, ip);
	}
	if (err == MOX_OK && d->cidr4 >= 0)
		err = append_num(out, "/", d->cidr4);
	if (err == MOX_OK && d->cidr6 >= 0)
		err = append_num(out, d->mech == MOX_SPF_MECH_IP6 ? "/" : "//", d->cidr6);
	return err;
}

mox_err
mox_spf_record_format(const mox_spf_record *r, mox_buf *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	size_t oldlen = out->len;
	mox_err err = mox_buf_append_str(out, "v=spf1");
	for (size_t i = 0; err == MOX_OK && i < r->ndirs; i++) {
		err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__spf_dir_format(&r->dirs[i], out);
	}
	if (err == MOX_OK && r->redirect != NULL)
		err = mox_buf_appendf(out, " redirect=%s", r->redirect);
	if (err == MOX_OK && r->exp != NULL)
		err = mox_buf_appendf(out, " exp=%s", r->exp);
	for (size_t i = 0; err == MOX_OK && i < r->nmods; i++)
		err = mox_buf_appendf(out, " %s=%s", r->mods[i].name, r->mods[i].value);
	if (err != MOX_OK && out->len > oldlen) {
		out->len = oldlen;
		out->data[oldlen] = '\0';
	}
	return err;
}
