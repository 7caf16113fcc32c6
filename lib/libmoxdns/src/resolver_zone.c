/* In-memory zone resolver for tests and tools.
 *
 * How this works: the zone is a flat array of records (owner, type, TTL,
 * data, authentic flag), plus failure markers (SERVFAIL, TIMEOUT, PERMFAIL)
 * that are stored as records of pseudo types. A lookup normalizes the name
 * and then, at most MOX_DNS_CNAME_MAX + 1 times: checks for a failure
 * marker, finds the records owned by the current name (or, if the name does
 * not exist, by a wildcard at its closest encloser, RFC 4592 section 3.3.1),
 * follows a CNAME if there is one (RFC 1034 section 3.6.2), and otherwise
 * answers with the records of the asked type: FOUND, NODATA when the name
 * exists (also as an empty non-terminal, RFC 8020), NXDOMAIN when not.
 * Lookups are linear in the zone size; test zones are small. A mutex guards
 * the array: loads and lookups may run from any thread.
 *
 * Zone text: see mox_dns_zone_load in mox/dns.h. */
#include "dns_int.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum {
	/* Pseudo types for injected failures; outside the 16-bit range. */
	PSEUDO_SERVFAIL = 0x10001,
	PSEUDO_TIMEOUT = 0x10002,
	PSEUDO_PERMFAIL = 0x10003,
};

typedef struct zrec {
	int type; /* mox_dns_type or PSEUDO_* */
	bool authentic;
	mox_dns_rr rr; /* rr.name is the owner; data as in answers */
} zrec;

typedef struct zone {
	const mox_allocator *alloc;
	pthread_mutex_t lock;
	zrec *recs;
	size_t nrecs;
	atomic_uint_fast64_t queries;
} zone;

/* ---- parsing ---- */

typedef struct parser {
	const mox_allocator *alloc;
	const char *p, *end; /* current line */
	size_t lineno;
	char origin[MOX_DNS_NAME_MAX + 1];
	char owner[MOX_DNS_NAME_MAX + 1];
	bool have_owner;
	uint32_t ttl;
	bool authentic;
	zrec *recs; /* parsed, not yet added */
	size_t nrecs;
	mox_errinfo *info;
} parser;

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void
skip_blank(parser *ps)
{
	while (ps->p < ps->end && is_blank(*ps->p))
		ps->p++;
	if (ps->p < ps->end && *ps->p == ';')
		ps->p = ps->end;
}

/* Next white-space separated token; false at end of line. */
static bool
token(parser *ps, const char **tok, size_t *len)
{
	skip_blank(ps);
	*tok = ps->p;
	*len = 0;
	if (ps->p >= ps->end)
		return false;
	while (ps->p < ps->end && !is_blank(*ps->p))
		ps->p++;
	*len = (size_t)(ps->p - *tok);
	return true;
}

static mox_err
perr(parser *ps, const char *what, const char *tok, size_t len)
{
	return mox_errinfo_set(ps->info, MOX_ESYNTAX, ps->lineno,
			       "line %zu: %s '%.*s'", ps->lineno, what,
			       (int)(len > 80 ? 80 : len), tok);
}

static bool
tok_eq(const char *tok, size_t len, const char *word)
{
	size_t n = strlen(word);
	if (n != len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (mox__dns_lower(tok[i]) != mox__dns_lower(word[i]))
			return false;
	return true;
}

static bool
parse_u32(const char *tok, size_t len, uint32_t max, uint32_t *out)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(tok[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Make an absolute, normalized name from a zone token: "@" is the origin, a
 * name without trailing dot is relative to the origin. */
static mox_err
zone_name(parser *ps, const char *tok, size_t len, char *out)
{
	char tmp[2 * MOX_DNS_NAME_MAX + 4];
	if (len == 1 && tok[0] == '@') {
		if (ps->origin[0] == '\0')
			return perr(ps, "'@' without $ORIGIN", tok, len);
		strcpy(out, ps->origin);
		return MOX_OK;
	}
	if (len == 1 && tok[0] == '.') {
		out[0] = '\0'; /* the root, e.g. the null MX */
		return MOX_OK;
	}
	if (len > MOX_DNS_NAME_MAX + 1)
		return perr(ps, "name too long", tok, len);
	if (tok[len - 1] == '.' || ps->origin[0] == '\0') {
		memcpy(tmp, tok, len);
		tmp[len] = '\0';
	} else {
		memcpy(tmp, tok, len);
		tmp[len] = '.';
		strcpy(tmp + len + 1, ps->origin);
	}
	mox_errinfo ni;
	if (mox_dns_name_check(tmp, strlen(tmp), MOX_DNS_NAME_TRAILING_DOT, &ni) !=
	    MOX_OK)
		return mox_errinfo_set(ps->info, MOX_ESYNTAX, ps->lineno,
				       "line %zu: bad name '%.*s': %s", ps->lineno,
				       (int)(len > 80 ? 80 : len), tok, ni.msg);
	return mox__dns_name_normalize(tmp, out, MOX_DNS_NAME_MAX + 1);
}

/* One TXT character-string: quoted with \" \\ \DDD escapes, or a bare
 * token. At most 255 octets (RFC 1035 section 3.3). */
static mox_err
txt_string(parser *ps, uint8_t *out, size_t *outlen)
{
	size_t n = 0;
	const char *start = ps->p;
	if (*ps->p != '"') {
		while (ps->p < ps->end && !is_blank(*ps->p)) {
			if (n == 255)
				return perr(ps, "TXT string longer than 255 octets", start,
					    (size_t)(ps->p - start));
			out[n++] = (uint8_t)*ps->p++;
		}
		*outlen = n;
		return MOX_OK;
	}
	ps->p++;
	for (;;) {
		if (ps->p >= ps->end)
			return perr(ps, "unterminated string", start,
				    (size_t)(ps->p - start));
		char c = *ps->p++;
		if (c == '"')
			break;
		uint8_t b = (uint8_t)c;
		if (c == '\\') {
			if (ps->p >= ps->end)
				return perr(ps, "backslash at end of line", start,
					    (size_t)(ps->p - start));
			if (ps->end - ps->p >= 3 && ps->p[0] >= '0' && ps->p[0] <= '9' &&
			    ps->p[1] >= '0' && ps->p[1] <= '9' && ps->p[2] >= '0' &&
			    ps->p[2] <= '9') {
				int v = (ps->p[0] - '0') * 100 + (ps->p[1] - '0') * 10 +
					(ps->p[2] - '0');
				if (v > 255)
					return perr(ps, "bad \\DDD escape", ps->p - 1, 4);
				b = (uint8_t)v;
				ps->p += 3;
			} else {
				b = (uint8_t)*ps->p++;
			}
		}
		if (n == 255)
			return perr(ps, "TXT string longer than 255 octets", start,
				    (size_t)(ps->p - start));
		out[n++] = b;
	}
	*outlen = n;
	return MOX_OK;
}

static mox_err
set_host(parser *ps, char **field, const char *tok, size_t len)
{
	char name[MOX_DNS_NAME_MAX + 1];
	mox_err err = zone_name(ps, tok, len, name);
	if (err != MOX_OK)
		return err;
	*field = mox_mem_strdup(ps->alloc, name);
	return *field == NULL ? MOX_ENOMEM : MOX_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = mox__dns_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void zrec_free_fields(const mox_allocator *alloc, zrec *r);

/* Parse the rest of the line as the data of a record of type into r. */
static mox_err
parse_rdata(parser *ps, zrec *r)
{
	const char *tok;
	size_t len;
	mox_err err;
	switch (r->type) {
	case PSEUDO_SERVFAIL:
	case PSEUDO_TIMEOUT:
	case PSEUDO_PERMFAIL:
		return MOX_OK;
	case MOX_DNS_A:
	case MOX_DNS_AAAA: {
		char ip[64];
		if (!token(ps, &tok, &len) || len >= sizeof(ip))
			return perr(ps, "missing or bad address", "", 0);
		memcpy(ip, tok, len);
		ip[len] = '\0';
		if (inet_pton(r->type == MOX_DNS_A ? AF_INET : AF_INET6, ip,
			      r->type == MOX_DNS_A ? (void *)r->rr.u.a
						   : (void *)r->rr.u.aaaa) != 1)
			return perr(ps, "bad address", tok, len);
		return MOX_OK;
	}
	case MOX_DNS_MX: {
		uint32_t pref;
		if (!token(ps, &tok, &len) || !parse_u32(tok, len, 65535, &pref))
			return perr(ps, "bad MX preference", tok, len);
		r->rr.u.mx.preference = (uint16_t)pref;
		if (!token(ps, &tok, &len))
			return perr(ps, "missing MX host", "", 0);
		return set_host(ps, &r->rr.u.mx.host, tok, len);
	}
	case MOX_DNS_CNAME:
	case MOX_DNS_PTR:
	case MOX_DNS_NS:
		if (!token(ps, &tok, &len))
			return perr(ps, "missing target name", "", 0);
		return set_host(ps, &r->rr.u.host, tok, len);
	case MOX_DNS_TXT: {
		uint8_t *bufs = NULL;
		uint8_t **strs = NULL;
		size_t *lens = NULL, n = 0, cap = 0;
		err = MOX_OK;
		for (;;) {
			skip_blank(ps);
			if (ps->p >= ps->end)
				break;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				uint8_t *nb = mox_mem_reallocarray(ps->alloc, bufs, ncap, 256);
				if (nb == NULL) {
					err = MOX_ENOMEM;
					break;
				}
				bufs = nb;
				size_t *nl = mox_mem_reallocarray(ps->alloc, lens, ncap,
								  sizeof(size_t));
				if (nl == NULL) {
					err = MOX_ENOMEM;
					break;
				}
				lens = nl;
				cap = ncap;
			}
			err = txt_string(ps, bufs + n * 256, &lens[n]);
			if (err != MOX_OK)
				break;
			n++;
		}
		if (err == MOX_OK && n == 0)
			err = perr(ps, "TXT record without strings", "", 0);
		if (err == MOX_OK) {
			strs = mox_mem_calloc(ps->alloc, n, sizeof(*strs));
			if (strs == NULL)
				err = MOX_ENOMEM;
		}
		if (err == MOX_OK) {
			for (size_t i = 0; i < n; i++)
				strs[i] = bufs + i * 256;
			err = mox__dns_rr_set_txt(ps->alloc, &r->rr, n,
						  (const uint8_t *const *)strs, lens);
		}
		mox_mem_free(ps->alloc, strs);
		mox_mem_free(ps->alloc, lens);
		mox_mem_free(ps->alloc, bufs);
		return err;
	}
	case MOX_DNS_TLSA: {
		uint32_t v[3];
		for (int i = 0; i < 3; i++)
			if (!token(ps, &tok, &len) || !parse_u32(tok, len, 255, &v[i]))
				return perr(ps, "bad TLSA field", tok, len);
		r->rr.u.tlsa.usage = (uint8_t)v[0];
		r->rr.u.tlsa.selector = (uint8_t)v[1];
		r->rr.u.tlsa.matching_type = (uint8_t)v[2];
		uint8_t data[1024];
		size_t n = 0;
		int half = -1;
		while (token(ps, &tok, &len)) {
			for (size_t i = 0; i < len; i++) {
				int h = hexval(tok[i]);
				if (h < 0)
					return perr(ps, "bad hex in TLSA data", tok, len);
				if (half < 0) {
					half = h;
					continue;
				}
				if (n == sizeof(data))
					return perr(ps, "TLSA data too long", tok, len);
				data[n++] = (uint8_t)(half << 4 | h);
				half = -1;
			}
		}
		if (half >= 0 || n == 0)
			return perr(ps, "TLSA data must be whole hex octets", "", 0);
		return mox__dns_rr_set_tlsa_data(ps->alloc, &r->rr, data, n);
	}
	case MOX_DNS_SOA: {
		if (!token(ps, &tok, &len))
			return perr(ps, "missing SOA mname", "", 0);
		if ((err = set_host(ps, &r->rr.u.soa.mname, tok, len)) != MOX_OK)
			return err;
		if (!token(ps, &tok, &len))
			return perr(ps, "missing SOA rname", "", 0);
		if ((err = set_host(ps, &r->rr.u.soa.rname, tok, len)) != MOX_OK)
			return err;
		uint32_t *f[] = {&r->rr.u.soa.serial, &r->rr.u.soa.refresh,
				 &r->rr.u.soa.retry, &r->rr.u.soa.expire,
				 &r->rr.u.soa.minimum};
		for (size_t i = 0; i < 5; i++)
			if (!token(ps, &tok, &len) || !parse_u32(tok, len, UINT32_MAX, f[i]))
				return perr(ps, "bad SOA number", tok, len);
		return MOX_OK;
	}
	}
	return perr(ps, "unsupported type", "", 0);
}

static mox_err
parse_directive(parser *ps, const char *tok, size_t len)
{
	const char *arg;
	size_t alen;
	if (!token(ps, &arg, &alen))
		return perr(ps, "directive without argument", tok, len);
	if (tok_eq(tok, len, "$ORIGIN")) {
		char saved[MOX_DNS_NAME_MAX + 1];
		strcpy(saved, ps->origin);
		ps->origin[0] = '\0';
		mox_err err = zone_name(ps, arg, alen, ps->origin);
		if (err != MOX_OK)
			strcpy(ps->origin, saved);
		return err;
	}
	if (tok_eq(tok, len, "$TTL")) {
		if (!parse_u32(arg, alen, INT32_MAX, &ps->ttl))
			return perr(ps, "bad $TTL", arg, alen);
		return MOX_OK;
	}
	if (tok_eq(tok, len, "$AUTHENTIC")) {
		if (tok_eq(arg, alen, "yes"))
			ps->authentic = true;
		else if (tok_eq(arg, alen, "no"))
			ps->authentic = false;
		else
			return perr(ps, "$AUTHENTIC needs yes or no, not", arg, alen);
		return MOX_OK;
	}
	return perr(ps, "unknown directive", tok, len);
}

static mox_err
parse_line(parser *ps)
{
	const char *tok;
	size_t len;
	bool indented = ps->p < ps->end && is_blank(*ps->p);
	if (!token(ps, &tok, &len))
		return MOX_OK; /* blank or comment */
	if (tok[0] == '$')
		return parse_directive(ps, tok, len);

	/* RFC 1035 section 5.1: a line starting with blank space has the
	 * previous line's owner. */
	if (!indented) {
		mox_err err = zone_name(ps, tok, len, ps->owner);
		if (err != MOX_OK)
			return err;
		ps->have_owner = true;
		if (!token(ps, &tok, &len))
			return perr(ps, "missing type after", ps->owner, strlen(ps->owner));
	} else if (!ps->have_owner) {
		return perr(ps, "record without owner", tok, len);
	}
	uint32_t ttl = ps->ttl;
	if (tok[0] >= '0' && tok[0] <= '9') {
		if (!parse_u32(tok, len, INT32_MAX, &ttl))
			return perr(ps, "bad TTL", tok, len);
		if (!token(ps, &tok, &len))
			return perr(ps, "missing type", "", 0);
	}
	if (tok_eq(tok, len, "IN") && !token(ps, &tok, &len))
		return perr(ps, "missing type", "", 0);

	int type;
	mox_dns_type t;
	char tname[16];
	if (tok_eq(tok, len, "SERVFAIL"))
		type = PSEUDO_SERVFAIL;
	else if (tok_eq(tok, len, "TIMEOUT"))
		type = PSEUDO_TIMEOUT;
	else if (tok_eq(tok, len, "PERMFAIL"))
		type = PSEUDO_PERMFAIL;
	else if (len < sizeof(tname) && (memcpy(tname, tok, len), tname[len] = '\0',
					 mox_dns_type_parse(tname, &t) == MOX_OK))
		type = (int)t;
	else
		return perr(ps, "unknown record type", tok, len);

	zrec *recs = mox_mem_reallocarray(ps->alloc, ps->recs, ps->nrecs + 1,
					  sizeof(*recs));
	if (recs == NULL)
		return MOX_ENOMEM;
	ps->recs = recs;
	zrec *r = &recs[ps->nrecs];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->authentic = ps->authentic;
	r->rr.type = type <= 0xffff ? (mox_dns_type)type : MOX_DNS_A;
	r->rr.ttl = ttl;
	r->rr.name = mox_mem_strdup(ps->alloc, ps->owner);
	ps->nrecs++; /* counted now so a failure below frees its fields */
	if (r->rr.name == NULL)
		return MOX_ENOMEM;
	mox_err err = parse_rdata(ps, r);
	if (err != MOX_OK)
		return err;
	skip_blank(ps);
	if (ps->p < ps->end)
		return perr(ps, "trailing text", ps->p, (size_t)(ps->end - ps->p));
	return MOX_OK;
}

static void
zrec_free_fields(const mox_allocator *alloc, zrec *r)
{
	/* Pseudo records carry type A in rr: only the owner is freed. */
	mox__dns_rr_free_fields(alloc, &r->rr);
}

mox_err
mox_dns_zone_load(mox_resolver *resolver, const char *text, size_t len,
		  mox_errinfo *info)
{
	if (resolver == NULL || text == NULL)
		return MOX_EINVAL;
	zone *z = resolver->ctx;
	parser ps;
	memset(&ps, 0, sizeof(ps));
	ps.alloc = z->alloc;
	ps.ttl = 300;
	ps.info = info;
	const char *p = text, *end = text + len;
	mox_err err = MOX_OK;
	while (p < end && err == MOX_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		ps.lineno++;
		ps.p = p;
		ps.end = eol;
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
			err = mox_errinfo_set(info, MOX_ESYNTAX, ps.lineno,
					      "line %zu: NUL byte", ps.lineno);
		else
			err = parse_line(&ps);
		p = nl != NULL ? nl + 1 : end;
	}
	if (err == MOX_ENOMEM)
		mox_errinfo_set(info, err, ps.lineno, "out of memory");
	if (err == MOX_OK) {
		pthread_mutex_lock(&z->lock);
		zrec *recs = mox_mem_reallocarray(z->alloc, z->recs,
						  z->nrecs + ps.nrecs, sizeof(*recs));
		if (recs == NULL) {
			err = MOX_ENOMEM;
		} else {
			z->recs = recs;
			if (ps.nrecs > 0)
				memcpy(recs + z->nrecs, ps.recs, ps.nrecs * sizeof(*recs));
			z->nrecs += ps.nrecs;
		}
		pthread_mutex_unlock(&z->lock);
	}
	if (err != MOX_OK)
		for (size_t i = 0; i < ps.nrecs; i++)
			zrec_free_fields(z->alloc, &ps.recs[i]);
	mox_mem_free(z->alloc, ps.recs);
	return err;
}

/* ---- lookups ---- */

/* Whether any record is owned by name or by a name below it (an empty
 * non-terminal exists too, RFC 8020). */
static bool
name_exists(const zone *z, const char *name)
{
	for (size_t i = 0; i < z->nrecs; i++)
		if (mox_dns_name_is_subdomain(z->recs[i].rr.name, name))
			return true;
	return false;
}

static bool
owns(const zone *z, const char *name)
{
	for (size_t i = 0; i < z->nrecs; i++)
		if (strcmp(z->recs[i].rr.name, name) == 0)
			return true;
	return false;
}

/* The owner whose records answer for name: name itself if it exists, the
 * wildcard at its closest encloser (RFC 4592 section 3.3.1) if there is
 * one, else NULL (NXDOMAIN). out holds the wildcard name. */
static const char *
match_owner(const zone *z, const char *name, char *out)
{
	if (name_exists(z, name))
		return name;
	for (const char *p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.')) {
		const char *parent = p + 1;
		if (strlen(parent) + 2 > MOX_DNS_NAME_MAX)
			continue;
		out[0] = '*';
		out[1] = '.';
		strcpy(out + 2, parent);
		if (owns(z, out))
			return out;
		if (name_exists(z, parent))
			return NULL;
	}
	return NULL;
}

/* Negative TTL from the SOA of the closest enclosing zone, RFC 2308
 * section 5; and authenticity of a negative answer, taken from the records
 * of that enclosing name. */
static void
negative_info(const zone *z, const char *name, mox_dns_answer *a)
{
	for (const char *n = name; n != NULL;) {
		bool found = false, auth = true;
		for (size_t i = 0; i < z->nrecs; i++) {
			const zrec *r = &z->recs[i];
			if (strcmp(r->rr.name, n) != 0)
				continue;
			found = true;
			auth = auth && r->authentic;
			if (r->type == MOX_DNS_SOA)
				a->neg_ttl = r->rr.ttl < r->rr.u.soa.minimum
						     ? r->rr.ttl
						     : r->rr.u.soa.minimum;
		}
		if (found) {
			a->authentic = auth;
			return;
		}
		const char *dot = strchr(n, '.');
		n = dot != NULL ? dot + 1 : NULL;
	}
}

static mox_err
zone_lookup_locked(zone *z, const char *qname, mox_dns_type qtype,
		   mox_dns_answer *a)
{
	char cur[MOX_DNS_NAME_MAX + 1], wild[MOX_DNS_NAME_MAX + 1];
	if (mox__dns_name_normalize(qname, cur, sizeof(cur)) != MOX_OK)
		return mox__dns_answer_fail(a, MOX_DNS_PERMFAIL, "name too long");
	bool authentic = true;
	for (int hop = 0; hop <= MOX_DNS_CNAME_MAX; hop++) {
		for (size_t i = 0; i < z->nrecs; i++) {
			const zrec *r = &z->recs[i];
			if (r->type <= 0xffff || strcmp(r->rr.name, cur) != 0)
				continue;
			a->rcode = r->type == PSEUDO_PERMFAIL ? 4 : 2;
			if (r->type == PSEUDO_SERVFAIL)
				return mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
							    "SERVFAIL for %s", cur);
			if (r->type == PSEUDO_TIMEOUT) {
				a->rcode = -1;
				return mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
							    "timeout for %s", cur);
			}
			return mox__dns_answer_fail(a, MOX_DNS_PERMFAIL,
						    "permanent failure for %s", cur);
		}
		const char *owner = match_owner(z, cur, wild);
		if (owner == NULL) {
			a->status = MOX_DNS_NXDOMAIN;
			a->rcode = 3;
			negative_info(z, cur, a);
			a->authentic = a->authentic && authentic;
			return MOX_OK;
		}
		const zrec *cname = NULL;
		for (size_t i = 0; i < z->nrecs; i++)
			if (z->recs[i].type == MOX_DNS_CNAME &&
			    strcmp(z->recs[i].rr.name, owner) == 0)
				cname = &z->recs[i];
		if (cname != NULL && qtype != MOX_DNS_CNAME) {
			authentic = authentic && cname->authentic;
			if (mox__dns_rr_set_name(a->alloc, &a->cname, cname->rr.u.host) !=
			    MOX_OK)
				return MOX_ENOMEM;
			strcpy(cur, cname->rr.u.host);
			continue;
		}
		a->rcode = 0;
		for (size_t i = 0; i < z->nrecs; i++) {
			const zrec *r = &z->recs[i];
			if (r->type != (int)qtype || strcmp(r->rr.name, owner) != 0)
				continue;
			authentic = authentic && r->authentic;
			/* Owner in the answer is the asked name, also for a
			 * wildcard match (RFC 4592 section 3.3.1). */
			mox_dns_rr *rr = mox__dns_answer_add(a, qtype, cur, r->rr.ttl);
			if (rr == NULL)
				return MOX_ENOMEM;
			char *asked = rr->name;
			mox_dns_rr src = r->rr;
			src.name = asked;
			rr->name = NULL;
			mox_err err = mox__dns_rr_copy(a->alloc, rr, &src);
			mox_mem_free(a->alloc, asked);
			if (err != MOX_OK)
				return err;
		}
		if (a->nrr > 0) {
			a->status = MOX_DNS_FOUND;
			a->authentic = authentic;
		} else {
			a->status = MOX_DNS_NODATA;
			negative_info(z, owner, a);
			a->authentic = a->authentic && authentic;
		}
		return MOX_OK;
	}
	a->rcode = 2;
	return mox__dns_answer_fail(a, MOX_DNS_PERMFAIL,
				    "CNAME chain longer than %d or loop at %s",
				    MOX_DNS_CNAME_MAX, cur);
}

static mox_err
zone_lookup(void *ctx, const char *name, mox_dns_type type,
	    mox_dns_answer **answer_out)
{
	zone *z = ctx;
	*answer_out = NULL;
	atomic_fetch_add(&z->queries, 1);
	mox_dns_answer *a = mox__dns_answer_new(z->alloc, name, type);
	if (a == NULL)
		return MOX_ENOMEM;
	pthread_mutex_lock(&z->lock);
	mox_err err = zone_lookup_locked(z, name, type, a);
	pthread_mutex_unlock(&z->lock);
	if (err != MOX_OK) {
		mox_dns_answer_free(a);
		return err;
	}
	*answer_out = a;
	return MOX_OK;
}

static void
zone_free(mox_resolver *r)
{
	zone *z = r->ctx;
	const mox_allocator *alloc = z->alloc;
	for (size_t i = 0; i < z->nrecs; i++)
		zrec_free_fields(alloc, &z->recs[i]);
	mox_mem_free(alloc, z->recs);
	pthread_mutex_destroy(&z->lock);
	mox_mem_free(alloc, z);
	mox_mem_free(alloc, r);
}

mox_err
mox_dns_zone_new(mox_resolver **resolver_out, const mox_dns_zone_opts *opts)
{
	if (resolver_out == NULL)
		return MOX_EINVAL;
	*resolver_out = NULL;
	const mox_allocator *alloc = opts != NULL ? opts->alloc : NULL;
	mox_resolver *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	zone *z = mox_mem_calloc(alloc, 1, sizeof(*z));
	if (r == NULL || z == NULL) {
		mox_mem_free(alloc, r);
		mox_mem_free(alloc, z);
		return MOX_ENOMEM;
	}
	z->alloc = alloc;
	atomic_init(&z->queries, 0);
	if (pthread_mutex_init(&z->lock, NULL) != 0) {
		mox_mem_free(alloc, r);
		mox_mem_free(alloc, z);
		return MOX_ENOMEM;
	}
	r->ctx = z;
	r->lookup = zone_lookup;
	r->free = zone_free;
	*resolver_out = r;
	return MOX_OK;
}

uint64_t
mox_dns_zone_queries(const mox_resolver *resolver)
{
	if (resolver == NULL || resolver->lookup != zone_lookup)
		return 0;
	zone *z = resolver->ctx;
	return atomic_load(&z->queries);
}
