/* check_host(), RFC 7208 sections 4 and 5, and the evaluation handle.
 *
 * How this works: mox_spf_check prepares the identity (RFC 7208 sections
 * 2.3, 2.4, 4.3), then check_host() looks up the TXT records of the
 * domain, picks the one SPF record (RFC 7208 section 4.5), parses it and
 * evaluates its directives left to right (RFC 7208 section 4.6.2); when
 * none matches, a redirect modifier hands over to the target domain's
 * record (RFC 7208 section 6.1), else the result is neutral (RFC 7208
 * section 4.7). include recurses into check_host() for the target and
 * maps its result (RFC 7208 section 5.2).
 *
 * State: everything an evaluation changes lives in a `struct eval` on the
 * stack of mox_spf_check: the counters of DNS terms and void lookups
 * (shared by every nested include and redirect, RFC 7208 section 4.6.4),
 * the include depth, the AND of the AD bits, the problem text and the
 * validated names for %{p}. The mox_spf handle is only read, so any number
 * of evaluations can use it at once.
 *
 * Limits: every include, a, mx, ptr, exists and redirect counts one DNS
 * term; the 11th gives permerror. Recursion depth is bounded by the same
 * count (each level costs a term). A term whose lookup gives NXDOMAIN or
 * no records counts as void; the 3rd gives permerror. An mx looks up at
 * most MOX_SPF_MX_NAMES_MAX hosts (permerror if it needed more); ptr and
 * %{p} validate at most MOX_SPF_PTR_NAMES_MAX names. The explanation's
 * lookups count for nothing (RFC 7208 section 6.2) but are at most two
 * per evaluation. Macro expansion is bounded by MOX_SPF_EXPAND_MAX.
 *
 * Errors: a DNS failure (SERVFAIL, timeout, FORMERR) in a mechanism gives
 * temperror (RFC 7208 section 5), except in ptr, where it is no match (RFC
 * 7208 section 5.5). A target name that is not a valid DNS name after
 * macro expansion is no match for a, mx, ptr and exists (RFC 7208 section
 * 4.8 leaves it to us; we never send it) and none, so permerror, for
 * include and redirect. Out of memory aborts the evaluation with
 * MOX_ENOMEM. */
#include "spf_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

unsigned
mox_spf_version(void)
{
	return MOX_SPF_VERSION_HEX;
}

const char *
mox_spf_result_name(mox_spf_result r)
{
	static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
					    "softfail", "temperror", "permerror"};
	if ((unsigned)r >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[r];
}

mox_err
mox_spf_new(mox_spf **spf_out, const mox_spf_opts *opts)
{
	if (spf_out == NULL)
		return MOX_EINVAL;
	*spf_out = NULL;
	if (opts == NULL || opts->size < sizeof(mox_spf_opts) || opts->resolver == NULL)
		return MOX_EINVAL;
	if (opts->default_explanation != NULL &&
	    mox__spf_macro_check(opts->default_explanation,
				 strlen(opts->default_explanation), MOX__SPF_MACRO_EXP, 0,
				 NULL, NULL) != MOX_OK)
		return MOX_EINVAL;
	const mox_allocator *a = opts->alloc;
	mox_spf *s = mox_mem_calloc(a, 1, sizeof(*s));
	if (s == NULL)
		return MOX_ENOMEM;
	s->alloc = a;
	s->resolver = opts->resolver;
	s->receiver = mox_mem_strdup(a, opts->receiver != NULL ? opts->receiver : "unknown");
	if (opts->default_explanation != NULL)
		s->default_explanation = mox_mem_strdup(a, opts->default_explanation);
	if (s->receiver == NULL ||
	    (opts->default_explanation != NULL && s->default_explanation == NULL)) {
		mox_spf_free(s);
		return MOX_ENOMEM;
	}
	*spf_out = s;
	return MOX_OK;
}

void
mox_spf_free(mox_spf *s)
{
	if (s == NULL)
		return;
	mox_mem_free(s->alloc, s->receiver);
	mox_mem_free(s->alloc, s->default_explanation);
	mox_mem_free(s->alloc, s);
}

/* ---- evaluation state ---- */

typedef struct eval {
	const mox_spf *spf;
	const mox_allocator *alloc;
	int family;
	uint8_t ip[16];
	char iptext[INET6_ADDRSTRLEN];
	const char *local, *sender_domain, *helo;
	int64_t now;
	size_t terms, voids;
	int include_depth;
	bool authentic;
	mox_buf problem;
	mox_buf mechanism;
	char *explanation;
	/* %{p}: validated names, looked up once per evaluation. */
	bool ptr_done;
	char **pnames;
	size_t npnames;
} eval;

static void
problem(eval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(eval *ev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mox_buf_reset(&ev->problem);
	/* Losing the message on ENOMEM only loses detail. */
	(void)mox_buf_append_str(&ev->problem, msg);
}

/* A lookup through mox_dns_lookup. track: whether the answer counts for
 * the result's authenticity. */
static mox_err
lookup(eval *ev, const char *name, mox_dns_type type, bool track, mox_dns_answer **a)
{
	mox_err err = mox_dns_lookup(ev->spf->resolver, name, type, a);
	if (err != MOX_OK)
		return err;
	if (track && !(*a)->authentic)
		ev->authentic = false;
	return MOX_OK;
}

static bool
name_valid(const char *name, size_t len)
{
	return len > 0 && mox_dns_name_check(name, len, 0, NULL) == MOX_OK;
}

static mox_err ptr_name_cb(void *arg, const char *domain, const char **name);

static void
macro_ctx(eval *ev, const char *domain, mox__spf_macro_ctx *ctx)
{
	ctx->local = ev->local;
	ctx->sender_domain = ev->sender_domain;
	ctx->domain = domain;
	ctx->helo = ev->helo;
	ctx->receiver = ev->spf->receiver;
	ctx->family = ev->family;
	memcpy(ctx->ip, ev->ip, 16);
	ctx->now = ev->now;
	ctx->ptr_name = ptr_name_cb;
	ctx->ptr_arg = ev;
}

/* Expand a domain-spec into out (reset first). *valid tells whether the
 * result is a DNS name we may look up. */
static mox_err
expand_domain(eval *ev, const char *spec, const char *domain, mox_buf *out,
	      bool *valid)
{
	mox__spf_macro_ctx ctx;
	macro_ctx(ev, domain, &ctx);
	mox_buf_reset(out);
	*valid = false;
	mox_errinfo info;
	mox_err err = mox__spf_macro_expand(spec, strlen(spec), 0, &ctx, out, &info);
	if (err == MOX_ENOMEM)
		return err;
	if (err != MOX_OK) {
		problem(ev, "expanding '%s': %s", spec, info.msg);
		return MOX_OK;
	}
	*valid = out->len > 0 && name_valid((const char *)out->data, out->len);
	if (!*valid)
		problem(ev, "'%s' expands to an invalid name '%s'", spec,
			out->len > 0 ? (const char *)out->data : "");
	return MOX_OK;
}

static bool
ip_match(const eval *ev, const uint8_t *addr, int cidr)
{
	int bits = ev->family == 4 ? 32 : 128;
	if (cidr >= 0 && cidr < bits)
		bits = cidr;
	int full = bits / 8, rest = bits % 8;
	if (memcmp(ev->ip, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (ev->ip[full] & mask) == (addr[full] & mask);
}

static bool
answer_void(const mox_dns_answer *a)
{
	return a->status == MOX_DNS_NXDOMAIN || a->status == MOX_DNS_NODATA ||
	       (a->status == MOX_DNS_FOUND && a->nrr == 0);
}

static bool
answer_error(const mox_dns_answer *a)
{
	return a->status == MOX_DNS_TEMPFAIL || a->status == MOX_DNS_PERMFAIL;
}

/* RFC 7208 section 4.6.4: count a void lookup; false when over the limit. */
static bool
count_void(eval *ev)
{
	if (++ev->voids > MOX_SPF_VOID_LOOKUPS_MAX) {
		problem(ev, "more than %d void lookups (RFC 7208 section 4.6.4)",
			MOX_SPF_VOID_LOOKUPS_MAX);
		return false;
	}
	return true;
}

/* Outcome of evaluating one mechanism. */
typedef enum {
	M_NOMATCH,
	M_MATCH,
	M_TEMPERROR,
	M_PERMERROR,
} mres;

/* Whether an address record of name matches the client (a, mx). */
static mox_err
addr_match(eval *ev, const char *name, int cidr4, int cidr6, bool count_voids,
	   mres *res)
{
	mox_dns_answer *a = NULL;
	mox_dns_type t = ev->family == 4 ? MOX_DNS_A : MOX_DNS_AAAA;
	mox_err err = lookup(ev, name, t, true, &a);
	if (err != MOX_OK)
		return err;
	*res = M_NOMATCH;
	if (answer_error(a)) {
		problem(ev, "DNS %s lookup for %s: %s", mox_dns_type_name(t), name,
			a->why != NULL ? a->why : mox_dns_status_name(a->status));
		*res = M_TEMPERROR;
	} else if (answer_void(a)) {
		if (count_voids && !count_void(ev))
			*res = M_PERMERROR;
	} else {
		for (size_t i = 0; i < a->nrr; i++) {
			const uint8_t *addr = t == MOX_DNS_A ? a->rr[i].u.a : a->rr[i].u.aaaa;
			if (a->rr[i].type == t &&
			    ip_match(ev, addr, ev->family == 4 ? cidr4 : cidr6)) {
				*res = M_MATCH;
				break;
			}
		}
	}
	mox_dns_answer_free(a);
	return MOX_OK;
}

/* Whether name has an address equal to the client's (ptr validation, RFC
 * 7208 section 5.5). Errors are no match. */
static mox_err
validate_name(eval *ev, const char *name, bool *ok)
{
	*ok = false;
	if (!name_valid(name, strlen(name)))
		return MOX_OK;
	mox_dns_answer *a = NULL;
	mox_dns_type t = ev->family == 4 ? MOX_DNS_A : MOX_DNS_AAAA;
	mox_err err = lookup(ev, name, t, true, &a);
	if (err != MOX_OK)
		return err;
	if (a->status == MOX_DNS_FOUND)
		for (size_t i = 0; i < a->nrr && !*ok; i++)
			*ok = a->rr[i].type == t &&
			      memcmp(t == MOX_DNS_A ? a->rr[i].u.a : a->rr[i].u.aaaa, ev->ip,
				     t == MOX_DNS_A ? 4 : 16) == 0;
	mox_dns_answer_free(a);
	return MOX_OK;
}

static mox_err
ptr_lookup(eval *ev, mox_dns_answer **a)
{
	char rev[MOX_DNS_REVERSE_MAX];
	if (mox_dns_reverse_name(ev->iptext, rev, sizeof(rev)) != MOX_OK)
		return MOX_EINVAL;
	return lookup(ev, rev, MOX_DNS_PTR, true, a);
}

/* RFC 7208 section 7.3 "p": the validated names are looked up once per
 * evaluation; the pick depends on the domain. */
static mox_err
ptr_name_cb(void *arg, const char *domain, const char **name)
{
	eval *ev = arg;
	*name = "unknown";
	if (!ev->ptr_done) {
		mox_dns_answer *a = NULL;
		mox_err err = ptr_lookup(ev, &a);
		if (err != MOX_OK)
			return err;
		ev->ptr_done = true;
		size_t n = a->status == MOX_DNS_FOUND ? a->nrr : 0;
		if (n > MOX_SPF_PTR_NAMES_MAX)
			n = MOX_SPF_PTR_NAMES_MAX;
		if (n > 0) {
			ev->pnames = mox_mem_calloc(ev->alloc, n, sizeof(char *));
			if (ev->pnames == NULL) {
				mox_dns_answer_free(a);
				return MOX_ENOMEM;
			}
		}
		for (size_t i = 0; i < n; i++) {
			bool ok = false;
			if (a->rr[i].type != MOX_DNS_PTR)
				continue;
			err = validate_name(ev, a->rr[i].u.host, &ok);
			if (err == MOX_OK && ok) {
				ev->pnames[ev->npnames] = mox_mem_strdup(ev->alloc, a->rr[i].u.host);
				if (ev->pnames[ev->npnames] == NULL)
					err = MOX_ENOMEM;
				else
					ev->npnames++;
			}
			if (err != MOX_OK) {
				mox_dns_answer_free(a);
				return err;
			}
		}
		mox_dns_answer_free(a);
	}
	/* Prefer the domain itself, then a subdomain, then any. */
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < ev->npnames; i++) {
			const char *p = ev->pnames[i];
			bool eq = mox_dns_name_equal(p, domain);
			bool sub = !eq && mox_dns_name_is_subdomain(p, domain);
			if ((pass == 0 && eq) || (pass == 1 && sub) || pass == 2) {
				*name = p;
				return MOX_OK;
			}
		}
	return MOX_OK;
}

static mox_err check_host(eval *ev, const char *domain, mox_spf_result *result);

/* RFC 7208 section 6.2: the explanation of a fail, or the default. */
static mox_err
explain(eval *ev, const mox_spf_record *rec, const char *domain)
{
	mox__spf_macro_ctx ctx;
	macro_ctx(ev, domain, &ctx);
	mox_buf name = MOX_BUF_INIT, text = MOX_BUF_INIT, out = MOX_BUF_INIT;
	mox_buf_init(&name, ev->alloc);
	mox_buf_init(&text, ev->alloc);
	mox_buf_init(&out, ev->alloc);
	mox_dns_answer *a = NULL;
	mox_err err = MOX_OK;
	bool got = false;
	if (rec->exp != NULL) {
		bool valid = false;
		err = expand_domain(ev, rec->exp, domain, &name, &valid);
		if (err != MOX_OK || !valid)
			goto deflt;
		err = lookup(ev, (const char *)name.data, MOX_DNS_TXT, false, &a);
		if (err != MOX_OK)
			goto out;
		/* Anything but exactly one TXT record: no explanation. */
		if (a->status != MOX_DNS_FOUND || a->nrr != 1 || a->rr[0].type != MOX_DNS_TXT)
			goto deflt;
		err = mox_buf_append(&text, a->rr[0].u.txt.data, a->rr[0].u.txt.len);
		if (err != MOX_OK)
			goto out;
		err = mox__spf_macro_expand(text.len > 0 ? (const char *)text.data : "",
					    text.len, MOX__SPF_MACRO_EXP, &ctx, &out, NULL);
		if (err == MOX_ENOMEM)
			goto out;
		got = err == MOX_OK;
		err = MOX_OK;
	}
deflt:
	if (err != MOX_OK)
		goto out;
	if (!got && ev->spf->default_explanation != NULL) {
		mox_buf_reset(&out);
		const char *d = ev->spf->default_explanation;
		err = mox__spf_macro_expand(d, strlen(d), MOX__SPF_MACRO_EXP, &ctx, &out, NULL);
		if (err == MOX_ENOMEM)
			goto out;
		got = err == MOX_OK;
		err = MOX_OK;
	}
	if (got) {
		mox_mem_free(ev->alloc, ev->explanation);
		ev->explanation = (char *)mox_buf_steal(&out, NULL);
		if (ev->explanation == NULL)
			err = MOX_ENOMEM;
	}
out:
	mox_dns_answer_free(a);
	mox_buf_free(&name);
	mox_buf_free(&text);
	mox_buf_free(&out);
	return err;
}

/* Count a DNS term; false when over the limit (RFC 7208 section 4.6.4). */
static bool
count_term(eval *ev)
{
	if (++ev->terms > MOX_SPF_DNS_TERMS_MAX) {
		ev->terms = MOX_SPF_DNS_TERMS_MAX;
		problem(ev, "more than %d DNS terms (RFC 7208 section 4.6.4)",
			MOX_SPF_DNS_TERMS_MAX);
		return false;
	}
	return true;
}

/* One mechanism. target is scratch space for the expanded name. */
static mox_err
eval_mech(eval *ev, const mox__spf_dir *d, const char *domain, mox_buf *target,
	  mres *res)
{
	*res = M_NOMATCH;
	mox_err err = MOX_OK;
	bool valid = true;
	const char *tname = domain;
	switch (d->mech) {
	case MOX_SPF_MECH_INCLUDE:
	case MOX_SPF_MECH_A:
	case MOX_SPF_MECH_MX:
	case MOX_SPF_MECH_PTR:
	case MOX_SPF_MECH_EXISTS:
		if (!count_term(ev)) {
			*res = M_PERMERROR;
			return MOX_OK;
		}
		if (d->domain_spec != NULL) {
			err = expand_domain(ev, d->domain_spec, domain, target, &valid);
			if (err != MOX_OK)
				return err;
			tname = valid ? (const char *)target->data : NULL;
		}
		break;
	default:
		break;
	}

	switch (d->mech) {
	case MOX_SPF_MECH_ALL:
		*res = M_MATCH;
		return MOX_OK;
	case MOX_SPF_MECH_IP4:
		*res = ev->family == 4 && ip_match(ev, d->ip, d->cidr4) ? M_MATCH : M_NOMATCH;
		return MOX_OK;
	case MOX_SPF_MECH_IP6:
		*res = ev->family == 6 && ip_match(ev, d->ip, d->cidr6) ? M_MATCH : M_NOMATCH;
		return MOX_OK;
	case MOX_SPF_MECH_INCLUDE: {
		/* RFC 7208 section 5.2. */
		if (!valid) {
			*res = M_PERMERROR;
			return MOX_OK;
		}
		/* tname is a valid name: at most MOX_DNS_NAME_MAX + 1. */
		char tcopy[MOX_DNS_NAME_MAX + 2];
		size_t tl = strnlen(tname, sizeof(tcopy) - 1);
		memcpy(tcopy, tname, tl);
		tcopy[tl] = '\0';
		mox_spf_result r;
		ev->include_depth++;
		err = check_host(ev, tcopy, &r);
		ev->include_depth--;
		if (err != MOX_OK)
			return err;
		switch (r) {
		case MOX_SPF_PASS:
			*res = M_MATCH;
			break;
		case MOX_SPF_FAIL:
		case MOX_SPF_SOFTFAIL:
		case MOX_SPF_NEUTRAL:
			*res = M_NOMATCH;
			break;
		case MOX_SPF_TEMPERROR:
			*res = M_TEMPERROR;
			break;
		case MOX_SPF_NONE:
			problem(ev, "include:%s: no SPF record (RFC 7208 section 5.2)", tcopy);
			*res = M_PERMERROR;
			break;
		case MOX_SPF_PERMERROR:
			*res = M_PERMERROR;
			break;
		}
		return MOX_OK;
	}
	case MOX_SPF_MECH_A:
		/* RFC 7208 section 5.3. */
		if (!valid)
			return MOX_OK;
		return addr_match(ev, tname, d->cidr4, d->cidr6, true, res);
	case MOX_SPF_MECH_MX: {
		/* RFC 7208 section 5.4. */
		if (!valid)
			return MOX_OK;
		mox_dns_answer *a = NULL;
		err = lookup(ev, tname, MOX_DNS_MX, true, &a);
		if (err != MOX_OK)
			return err;
		if (answer_error(a)) {
			problem(ev, "DNS MX lookup for %s: %s", tname,
				a->why != NULL ? a->why : mox_dns_status_name(a->status));
			*res = M_TEMPERROR;
		} else if (answer_void(a)) {
			if (!count_void(ev))
				*res = M_PERMERROR;
		} else if (a->nrr == 1 && a->rr[0].u.mx.host[0] == '\0') {
			/* Null MX (RFC 7505): no hosts. */
		} else {
			size_t looked = 0;
			for (size_t i = 0; i < a->nrr && *res == M_NOMATCH; i++) {
				const char *h = a->rr[i].u.mx.host;
				if (a->rr[i].type != MOX_DNS_MX || h[0] == '\0')
					continue;
				/* RFC 7208 section 4.6.4: at most 10 address
				 * lookups per mx. */
				if (looked == MOX_SPF_MX_NAMES_MAX) {
					problem(ev, "mx for %s has more than %d names (RFC 7208 section 4.6.4)",
						tname, MOX_SPF_MX_NAMES_MAX);
					*res = M_PERMERROR;
					break;
				}
				looked++;
				if (!name_valid(h, strlen(h)))
					continue;
				err = addr_match(ev, h, d->cidr4, d->cidr6, false, res);
				if (err != MOX_OK)
					break;
			}
		}
		mox_dns_answer_free(a);
		return err;
	}
	case MOX_SPF_MECH_PTR: {
		/* RFC 7208 section 5.5: lookup errors are no match. */
		if (!valid)
			return MOX_OK;
		mox_dns_answer *a = NULL;
		err = ptr_lookup(ev, &a);
		if (err != MOX_OK)
			return err;
		if (answer_void(a)) {
			if (!count_void(ev))
				*res = M_PERMERROR;
		} else if (a->status == MOX_DNS_FOUND) {
			size_t looked = 0;
			for (size_t i = 0; i < a->nrr && looked < MOX_SPF_PTR_NAMES_MAX; i++) {
				const char *h = a->rr[i].u.host;
				if (a->rr[i].type != MOX_DNS_PTR ||
				    !mox_dns_name_is_subdomain(h, tname))
					continue;
				looked++;
				bool ok = false;
				err = validate_name(ev, h, &ok);
				if (err != MOX_OK)
					break;
				if (ok) {
					*res = M_MATCH;
					break;
				}
			}
		}
		mox_dns_answer_free(a);
		return err;
	}
	case MOX_SPF_MECH_EXISTS: {
		/* RFC 7208 section 5.7: always an A query. */
		if (!valid)
			return MOX_OK;
		mox_dns_answer *a = NULL;
		err = lookup(ev, tname, MOX_DNS_A, true, &a);
		if (err != MOX_OK)
			return err;
		if (answer_error(a)) {
			problem(ev, "DNS A lookup for %s: %s", tname,
				a->why != NULL ? a->why : mox_dns_status_name(a->status));
			*res = M_TEMPERROR;
		} else if (answer_void(a)) {
			if (!count_void(ev))
				*res = M_PERMERROR;
		} else {
			*res = M_MATCH;
		}
		mox_dns_answer_free(a);
		return MOX_OK;
	}
	}
	return MOX_OK;
}

static mox_err
set_mechanism(eval *ev, const mox__spf_dir *d, const char *text)
{
	if (ev->include_depth > 0)
		return MOX_OK;
	mox_buf_reset(&ev->mechanism);
	return d != NULL ? mox__spf_dir_format(d, &ev->mechanism)
			 : mox_buf_append_str(&ev->mechanism, text);
}

/* RFC 7208 section 4.6.2: directives left to right, then redirect. */
static mox_err
eval_record(eval *ev, const mox_spf_record *rec, const char *domain,
	    mox_spf_result *result)
{
	mox_buf target = MOX_BUF_INIT;
	mox_buf_init(&target, ev->alloc);
	mox_err err = MOX_OK;
	for (size_t i = 0; i < rec->ndirs; i++) {
		const mox__spf_dir *d = &rec->dirs[i];
		mres m;
		err = eval_mech(ev, d, domain, &target, &m);
		if (err != MOX_OK)
			goto out;
		if (m == M_NOMATCH)
			continue;
		if ((err = set_mechanism(ev, d, NULL)) != MOX_OK)
			goto out;
		if (m == M_TEMPERROR) {
			*result = MOX_SPF_TEMPERROR;
		} else if (m == M_PERMERROR) {
			*result = MOX_SPF_PERMERROR;
		} else {
			*result = d->qualifier;
			/* Only the outermost evaluation (or one reached by
			 * redirect) explains: a fail inside include is just no
			 * match (RFC 7208 section 6.2). */
			if (d->qualifier == MOX_SPF_FAIL && ev->include_depth == 0)
				err = explain(ev, rec, domain);
		}
		goto out;
	}
	if (rec->redirect != NULL) {
		/* RFC 7208 section 6.1. */
		if (!count_term(ev)) {
			*result = MOX_SPF_PERMERROR;
			goto out;
		}
		bool valid = false;
		err = expand_domain(ev, rec->redirect, domain, &target, &valid);
		if (err != MOX_OK)
			goto out;
		if (!valid) {
			*result = MOX_SPF_PERMERROR;
			goto out;
		}
		char tcopy[MOX_DNS_NAME_MAX + 2];
		size_t tl = target.len < sizeof(tcopy) - 1 ? target.len : sizeof(tcopy) - 1;
		memcpy(tcopy, target.data, tl);
		tcopy[tl] = '\0';
		mox_buf_free(&target);
		err = check_host(ev, tcopy, result);
		if (err == MOX_OK && *result == MOX_SPF_NONE) {
			problem(ev, "redirect=%s: no SPF record (RFC 7208 section 6.1)", tcopy);
			*result = MOX_SPF_PERMERROR;
		}
		goto out;
	}
	/* RFC 7208 section 4.7. */
	*result = MOX_SPF_NEUTRAL;
	err = set_mechanism(ev, NULL, "default");
out:
	mox_buf_free(&target);
	return err;
}

/* The SPF record of domain (RFC 7208 section 4.4, 4.5). *result is
 * MOX_SPF_NONE with *rec set, or NONE/TEMPERROR/PERMERROR without. */
static mox_err
find_record(const mox_spf *spf, const char *domain, bool *authentic,
	    mox_spf_result *result, mox_spf_record **rec, mox_buf *txt,
	    mox_errinfo *info)
{
	*rec = NULL;
	*result = MOX_SPF_NONE;
	mox_dns_answer *a = NULL;
	mox_err err = mox_dns_lookup(spf->resolver, domain, MOX_DNS_TXT, &a);
	if (err != MOX_OK)
		return err;
	if (!a->authentic)
		*authentic = false;
	if (answer_error(a)) {
		/* RFC 7208 section 4.4: any error but NXDOMAIN: temperror. */
		mox_errinfo_set(info, MOX_EDNS, 0, "DNS TXT lookup for %s: %s", domain,
				a->why != NULL ? a->why : mox_dns_status_name(a->status));
		*result = MOX_SPF_TEMPERROR;
		goto out;
	}
	const mox_dns_rr *found = NULL;
	size_t n = 0;
	for (size_t i = 0; a->status == MOX_DNS_FOUND && i < a->nrr; i++) {
		const mox_dns_rr *rr = &a->rr[i];
		if (rr->type == MOX_DNS_TXT &&
		    mox_spf_record_is_spf((const char *)rr->u.txt.data, rr->u.txt.len)) {
			found = rr;
			n++;
		}
	}
	if (n == 0) {
		mox_errinfo_set(info, MOX_ENOTFOUND, 0, "no SPF record for %s", domain);
		goto out;
	}
	if (n > 1) {
		/* RFC 7208 section 4.5. */
		mox_errinfo_set(info, MOX_ESYNTAX, 0,
				"%zu SPF records for %s (RFC 7208 section 4.5)", n, domain);
		*result = MOX_SPF_PERMERROR;
		goto out;
	}
	if (txt != NULL &&
	    (err = mox_buf_append(txt, found->u.txt.data, found->u.txt.len)) != MOX_OK)
		goto out;
	err = mox_spf_record_parse((const char *)found->u.txt.data, found->u.txt.len,
				   spf->alloc, rec, info);
	if (err == MOX_ESYNTAX || err == MOX_ELIMIT) {
		*result = MOX_SPF_PERMERROR;
		err = MOX_OK;
	}
out:
	mox_dns_answer_free(a);
	return err;
}

static mox_err
check_host(eval *ev, const char *domain, mox_spf_result *result)
{
	mox_spf_record *rec = NULL;
	mox_errinfo info = {0};
	mox_err err = find_record(ev->spf, domain, &ev->authentic, result, &rec, NULL, &info);
	if (err != MOX_OK)
		return err;
	if (rec == NULL) {
		if (*result == MOX_SPF_PERMERROR && info.code == MOX_ESYNTAX &&
		    info.msg[0] != '\0' && strstr(info.msg, "SPF records") == NULL)
			problem(ev, "%s: invalid record: %s", domain, info.msg);
		else
			problem(ev, "%s", info.msg);
		return MOX_OK;
	}
	err = eval_record(ev, rec, domain, result);
	mox_spf_record_free(rec);
	return err;
}

/* ---- the public entry points ---- */

void
mox_spf_outcome_free(mox_spf_outcome *o)
{
	if (o == NULL)
		return;
	const mox_allocator *a = o->alloc;
	/* domain, sender, client_ip, helo and receiver live in the same
	 * block as the outcome (one allocation per evaluation, not six). */
	mox_mem_free(a, o->mechanism);
	mox_mem_free(a, o->explanation);
	mox_mem_free(a, o->problem);
	mox_mem_free(a, o);
}

/* RFC 7208 section 4.3: the domain must be a fully qualified DNS name
 * (two labels or more, valid label lengths); IDNs are made A-labels.
 * Writes the lower-case name without trailing dot into out. */
static bool
initial_domain(const char *d, char out[MOX_DNS_NAME_MAX + 1], const char **why)
{
	size_t len = strlen(d);
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)d[i] >= 0x80)
			ascii = false;
	if (len == 0) {
		*why = "empty domain";
		return false;
	}
	if (d[0] == '[') {
		*why = "domain is an address literal";
		return false;
	}
	if (!ascii) {
		mox_errinfo info;
		if (mox_dns_name_to_ascii(d, out, MOX_DNS_NAME_MAX + 1, &info) != MOX_OK) {
			*why = "invalid internationalized domain name";
			return false;
		}
	} else {
		if (len > 1 && d[len - 1] == '.')
			len--;
		if (len > MOX_DNS_NAME_MAX) {
			*why = "domain name too long";
			return false;
		}
		for (size_t i = 0; i < len; i++)
			out[i] = mox__spf_lower(d[i]);
		out[len] = '\0';
	}
	if (mox_dns_name_check(out, strlen(out), 0, NULL) != MOX_OK) {
		*why = "invalid domain name";
		return false;
	}
	if (strchr(out, '.') == NULL) {
		*why = "domain is not fully qualified";
		return false;
	}
	return true;
}

mox_err
mox_spf_check(const mox_spf *spf, const mox_spf_request *req,
	      mox_spf_outcome **outcome_out)
{
	if (outcome_out == NULL)
		return MOX_EINVAL;
	*outcome_out = NULL;
	if (spf == NULL || req == NULL || req->size < sizeof(mox_spf_request) ||
	    req->ip == NULL)
		return MOX_EINVAL;
	eval ev;
	memset(&ev, 0, sizeof(ev));
	ev.spf = spf;
	ev.alloc = spf->alloc;
	ev.authentic = true;
	if (!mox__spf_ip_parse(req->ip, &ev.family, ev.ip))
		return MOX_EINVAL;
	inet_ntop(ev.family == 4 ? AF_INET : AF_INET6, ev.ip, ev.iptext, sizeof(ev.iptext));
	ev.now = req->now != 0 ? req->now : (int64_t)time(NULL);
	ev.helo = req->helo != NULL ? req->helo : "";
	mox_buf_init(&ev.problem, ev.alloc);
	mox_buf_init(&ev.mechanism, ev.alloc);

	const mox_allocator *a = spf->alloc;
	mox_spf_outcome *o = NULL;
	char *local = NULL;
	mox_err err = MOX_OK;

	/* RFC 7208 section 2.4: the null reverse-path checks
	 * postmaster@<helo>; section 4.3: no local part gives "postmaster". */
	const char *mf = req->mailfrom;
	const char *dom;
	bool helo_id = req->check_helo || mf == NULL || mf[0] == '\0';
	size_t local_len = 10;
	ev.local = "postmaster";
	if (helo_id) {
		dom = ev.helo;
	} else {
		const char *at = strrchr(mf, '@');
		dom = at != NULL ? at + 1 : mf;
		if (at != NULL && at != mf) {
			local_len = (size_t)(at - mf);
			local = mox_mem_strndup(a, mf, local_len);
			if (local == NULL) {
				err = MOX_ENOMEM;
				goto out;
			}
			ev.local = local;
		}
	}
	char domain[MOX_DNS_NAME_MAX + 1];
	const char *why = NULL;
	bool ok = initial_domain(dom, domain, &why);
	ev.sender_domain = ok ? domain : dom;

	/* The outcome and its fixed strings in one block. */
	const char *fixed[5] = {ok ? domain : "", NULL, ev.iptext, ev.helo, spf->receiver};
	size_t lens[5], total = sizeof(*o);
	size_t sdlen = strlen(ev.sender_domain);
	for (int i = 0; i < 5; i++) {
		lens[i] = i == 1 ? local_len + 1 + sdlen : strlen(fixed[i]);
		total += lens[i] + 1;
	}
	o = mox_mem_alloc(a, total);
	if (o == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	memset(o, 0, sizeof(*o));
	o->alloc = a;
	o->identity = helo_id ? MOX_SPF_IDENTITY_HELO : MOX_SPF_IDENTITY_MAILFROM;
	char *p = (char *)(o + 1);
	char **fields[5] = {&o->domain, &o->sender, &o->client_ip, &o->helo, &o->receiver};
	for (int i = 0; i < 5; i++) {
		*fields[i] = p;
		if (i == 1) {
			memcpy(p, ev.local, local_len);
			p[local_len] = '@';
			memcpy(p + local_len + 1, ev.sender_domain, sdlen);
		} else {
			memcpy(p, fixed[i], lens[i]);
		}
		p[lens[i]] = '\0';
		p += lens[i] + 1;
	}

	mox_spf_result result = MOX_SPF_NONE;
	if (!ok) {
		/* RFC 7208 section 4.3: none, without any query. */
		problem(&ev, "%s: %s (RFC 7208 section 4.3)", why,
			dom[0] != '\0' ? dom : "(empty)");
		ev.authentic = false;
	} else {
		err = check_host(&ev, domain, &result);
		if (err != MOX_OK)
			goto out;
	}
	o->result = result;
	o->authentic = ev.authentic;
	o->dns_terms = ev.terms;
	o->void_lookups = ev.voids;
	if (ev.mechanism.len > 0 &&
	    (o->mechanism = (char *)mox_buf_steal(&ev.mechanism, NULL)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (result == MOX_SPF_FAIL && ev.explanation != NULL) {
		o->explanation = ev.explanation;
		ev.explanation = NULL;
	}
	if ((result == MOX_SPF_NONE || result == MOX_SPF_TEMPERROR ||
	     result == MOX_SPF_PERMERROR) &&
	    ev.problem.len > 0 &&
	    (o->problem = (char *)mox_buf_steal(&ev.problem, NULL)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
out:
	if (err != MOX_OK) {
		mox_spf_outcome_free(o);
		o = NULL;
	}
	for (size_t i = 0; i < ev.npnames; i++)
		mox_mem_free(a, ev.pnames[i]);
	mox_mem_free(a, ev.pnames);
	mox_mem_free(a, ev.explanation);
	mox_mem_free(a, local);
	mox_buf_free(&ev.problem);
	mox_buf_free(&ev.mechanism);
	*outcome_out = o;
	return err;
}

mox_err
mox_spf_lookup(const mox_spf *spf, const char *domain, mox_spf_result *result_out,
	       mox_buf *txt_out, mox_spf_record **record_out, bool *authentic_out,
	       mox_errinfo *info)
{
	if (record_out != NULL)
		*record_out = NULL;
	if (spf == NULL || domain == NULL || result_out == NULL)
		return MOX_EINVAL;
	*result_out = MOX_SPF_NONE;
	bool authentic = true;
	char name[MOX_DNS_NAME_MAX + 1];
	const char *why = NULL;
	if (!initial_domain(domain, name, &why)) {
		mox_errinfo_set(info, MOX_ENAME, 0, "%s: %s", why, domain);
		if (authentic_out != NULL)
			*authentic_out = false;
		return MOX_OK;
	}
	mox_spf_record *rec = NULL;
	size_t oldlen = txt_out != NULL ? txt_out->len : 0;
	mox_err err = find_record(spf, name, &authentic, result_out, &rec, txt_out, info);
	if (err != MOX_OK) {
		if (txt_out != NULL && txt_out->len > oldlen) {
			txt_out->len = oldlen;
			txt_out->data[oldlen] = '\0';
		}
		return err;
	}
	if (authentic_out != NULL)
		*authentic_out = authentic;
	if (record_out != NULL)
		*record_out = rec;
	else
		mox_spf_record_free(rec);
	return MOX_OK;
}
