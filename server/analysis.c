/* Inbound message analysis; see analysis.h.
 *
 * How this works: analysis_run does, one after the other on the calling
 * (thread pool) thread: iprev, SPF for MAIL FROM (or HELO for the null
 * sender, RFC 7208 section 2.4), SPF for HELO when MAIL FROM was checked
 * (RFC 7208 section 2.3), DKIM over the whole message, then DMARC with the
 * SPF result of the identity mox records and every DKIM result. The DNS
 * answers come through the shared cache, so a sender's second message
 * costs no queries while the TTLs last.
 *
 * The Authentication-Results field is written as mox writes it: the
 * authserv-id, then one method per line ("\r\n\t" first), a method's
 * tokens folded at 78 columns, in mox's order iprev, dkim (one per
 * signature), spf, dmarc; a comment says whether the DNS answers were
 * DNSSEC-validated. We write our own folding here rather than use
 * mox_msg_write_field: mox starts each method on a line of its own.
 * Received-SPF comes from libmoxspf (mox_spf_received_header). */
#include "analysis.h"

#include <mox/dkim.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 7208 section 4.6.4 bounds PTR names looked at to 10; we use the
 * same bound for iprev (RFC 8601 section 3 leaves it to us). */
#define IPREV_NAMES_MAX 10

/* RFC 2308 section 7.1: a server failure for a query may be remembered
 * (for at most 5 minutes) instead of asking again. We remember queries
 * the nameserver did not answer at all (a timeout, no RCODE) for this
 * long, per name and type, so a dead or slow resolver costs one timeout
 * per name and period instead of one per query of every message. */
#define NOANSWER_MS 30000
#define NOANSWER_MAX 128

typedef struct noanswer {
	char name[MOX_DNS_NAME_MAX + 2];
	mox_dns_type type;
	int64_t until; /* monotonic ms; 0: free */
} noanswer;

/* A resolver in front of the network one. */
typedef struct deadwrap {
	mox_resolver *backend;
	pthread_mutex_t mu;
	noanswer na[NOANSWER_MAX];
} deadwrap;

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static mox_err
dead_lookup(void *ctx, const char *name, mox_dns_type type, mox_dns_answer **out)
{
	deadwrap *d = ctx;
	int64_t now = mono_ms();
	bool dead = false;
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < NOANSWER_MAX && !dead; i++)
		dead = d->na[i].until > now && d->na[i].type == type &&
		       strcmp(d->na[i].name, name) == 0;
	pthread_mutex_unlock(&d->mu);
	if (!dead) {
		mox_err err = d->backend->lookup(d->backend->ctx, name, type, out);
		if (err == MOX_OK && (*out)->status == MOX_DNS_TEMPFAIL && (*out)->rcode < 0 &&
		    strlen(name) < sizeof(d->na[0].name)) {
			/* Take a free or expired slot, else the one that
			 * expires first. */
			pthread_mutex_lock(&d->mu);
			size_t k = 0;
			for (size_t i = 0; i < NOANSWER_MAX; i++)
				if (d->na[i].until < d->na[k].until)
					k = i;
			snprintf(d->na[k].name, sizeof(d->na[k].name), "%s", name);
			d->na[k].type = type;
			d->na[k].until = mono_ms() + NOANSWER_MS;
			pthread_mutex_unlock(&d->mu);
		}
		return err;
	}
	mox_dns_answer *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return MOX_ENOMEM;
	a->status = MOX_DNS_TEMPFAIL;
	a->rcode = -1;
	a->qtype = type;
	a->qname = strdup(name);
	a->why = strdup("no answer recently, not asked again (RFC 2308 section 7.1)");
	if (a->qname == NULL || a->why == NULL) {
		mox_dns_answer_free(a);
		return MOX_ENOMEM;
	}
	*out = a;
	return MOX_OK;
}

static void
dead_free(mox_resolver *r)
{
	if (r == NULL)
		return;
	deadwrap *d = r->ctx;
	mox_resolver_free(d->backend);
	pthread_mutex_destroy(&d->mu);
	free(d);
	free(r);
}

static mox_resolver *
dead_new(mox_resolver *backend)
{
	mox_resolver *r = calloc(1, sizeof(*r));
	deadwrap *d = calloc(1, sizeof(*d));
	if (r == NULL || d == NULL) {
		free(r);
		free(d);
		return NULL;
	}
	d->backend = backend;
	pthread_mutex_init(&d->mu, NULL);
	r->ctx = d;
	r->lookup = dead_lookup;
	r->free = dead_free;
	return r;
}

struct analysis_env {
	char hostname[MOX_DNS_NAME_MAX + 1];
	mox_resolver *resolver; /* cache over ldns */
	mox_spf *spf;
	mox_dns_psl *psl;
};

analysis_env *
analysis_env_new(const char *hostname, char *errbuf, size_t errlen)
{
	analysis_env *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	snprintf(e->hostname, sizeof(e->hostname), "%s", hostname);
	mox_errinfo info = {0};
	mox_dns_ldns_opts lo;
	memset(&lo, 0, sizeof(lo));
	lo.size = sizeof(lo);
	/* nameservers NULL: MOX_RESOLVER, else /etc/resolv.conf. One try of
	 * 2 s: a sender's DNS that does not answer should not hold a
	 * delivery for long; an unanswered query is a temperror. */
	lo.timeout_ms = 2000;
	lo.tries = 1;
	mox_resolver *ldns = NULL;
	mox_err err = mox_dns_ldns_new(&ldns, &lo, &info);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "resolver: %s", info.msg[0] ? info.msg : mox_strerror(err));
		goto fail;
	}
	mox_resolver *dw = dead_new(ldns);
	if (dw == NULL) {
		mox_resolver_free(ldns);
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	ldns = dw;
	mox_dns_cache_opts co;
	memset(&co, 0, sizeof(co));
	co.size = sizeof(co);
	co.owns_backend = true;
	err = mox_dns_cache_new(&e->resolver, ldns, &co);
	if (err != MOX_OK) {
		mox_resolver_free(ldns);
		snprintf(errbuf, errlen, "dns cache: %s", mox_strerror(err));
		goto fail;
	}
	mox_spf_opts so;
	memset(&so, 0, sizeof(so));
	so.size = sizeof(so);
	so.resolver = e->resolver;
	so.receiver = e->hostname;
	err = mox_spf_new(&e->spf, &so);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "spf: %s", mox_strerror(err));
		goto fail;
	}
	mox_dns_psl_opts po;
	memset(&po, 0, sizeof(po));
	po.size = sizeof(po);
	memset(&info, 0, sizeof(info));
	err = mox_dns_psl_new(&e->psl, &po, &info);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "public suffix list: %s",
			 info.msg[0] ? info.msg : mox_strerror(err));
		goto fail;
	}
	return e;
fail:
	analysis_env_free(e);
	return NULL;
}

void
analysis_env_free(analysis_env *e)
{
	if (e == NULL)
		return;
	mox_spf_free(e->spf);
	mox_resolver_free(e->resolver);
	mox_dns_psl_free(e->psl);
	free(e);
}

/* ---- mox's header writer ---- */

void
analysis_hw_add(analysis_hw *w, const char *sep, const char *text)
{
	size_t n = strlen(text), sl = strlen(sep);
	if (w->err != MOX_OK)
		return;
	/* RFC 5322 section 2.1.1: lines of at most 78 characters where we
	 * can; a single long token stays whole. */
	if (w->nonfirst && w->linelen > 1 && w->linelen + sl + n > 78) {
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

void
analysis_hw_newline(analysis_hw *w)
{
	if (w->err == MOX_OK)
		w->err = mox_buf_append(w->b, "\r\n\t", 3);
	w->linelen = 1;
	w->nonfirst = true;
}

mox_err
analysis_hw_end(analysis_hw *w)
{
	if (w->err == MOX_OK)
		w->err = mox_buf_append(w->b, "\r\n", 2);
	return w->err;
}

/* ---- Authentication-Results, RFC 8601 ---- */

/* A value as RFC 8601 section 2.2 wants it: a token (RFC 2045 section
 * 5.1) as it is, else a quoted-string. Address-like values (a domain,
 * local@domain) may hold '@' and '.' unquoted (RFC 8601 section 2.2
 * "pvalue"). UTF-8 needs no quoting (RFC 6532 section 3.2). */
static void
put_value(mox_buf *t, const char *s, bool addrlike)
{
	bool quote = s[0] == '\0';
	for (const char *p = s; *p != '\0' && !quote; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\' || c <= ' ' || c == 0x7f)
			quote = true;
		else if (!addrlike && strchr("()<>@,;:/[]?=", c) != NULL)
			quote = true;
	}
	if (!quote) {
		mox_buf_append_str(t, s);
		return;
	}
	mox_buf_append_byte(t, '"');
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			mox_buf_append_byte(t, '\\');
		/* Controls cannot be in a header field (no header injection). */
		if (c >= ' ' && c != 0x7f)
			mox_buf_append_byte(t, c);
	}
	mox_buf_append_byte(t, '"');
}

typedef struct authprop {
	const char *type, *prop, *value;
	bool addrlike;
} authprop;

/* One method: "method=result [(comment)] [reason=...] [ptype.prop=value]...",
 * on a new line; a ";" after the last token unless it is the last method.
 * The comment is written only with a reason or properties, as mox does. */
static void
method(analysis_hw *w, bool last, const char *name, const char *result, const char *comment,
       const char *reason, const authprop *props, size_t nprops)
{
	analysis_hw_newline(w);
	const char *tokens[16];
	mox_buf tb[16];
	size_t n = 0;
	for (size_t i = 0; i < 16; i++)
		mox_buf_init(&tb[i], NULL);
	mox_buf_appendf(&tb[n++], "%s=%s", name, result);
	if (comment != NULL && comment[0] != '\0' &&
	    ((reason != NULL && reason[0] != '\0') || nprops > 0))
		mox_buf_appendf(&tb[n++], "(%s)", comment);
	if (reason != NULL && reason[0] != '\0') {
		mox_buf_append_str(&tb[n], "reason=");
		put_value(&tb[n++], reason, false);
	}
	for (size_t i = 0; i < nprops && n < 16; i++) {
		mox_buf_appendf(&tb[n], "%s.%s=", props[i].type, props[i].prop);
		put_value(&tb[n++], props[i].value, props[i].addrlike);
	}
	for (size_t i = 0; i < n; i++) {
		if (tb[i].data == NULL) {
			w->err = MOX_ENOMEM;
			break;
		}
		if (i == n - 1 && !last)
			mox_buf_append_byte(&tb[i], ';');
		tokens[i] = (const char *)tb[i].data;
		analysis_hw_add(w, i > 0 ? " " : "", tokens[i]);
	}
	for (size_t i = 0; i < 16; i++)
		mox_buf_free(&tb[i]);
}

static void
authres_begin(analysis_hw *w, mox_buf *b, const char *hostname)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	mox_buf tmp = MOX_BUF_INIT;
	mox_buf_append_str(&tmp, "Authentication-Results: ");
	put_value(&tmp, hostname, true);
	mox_buf_append_byte(&tmp, ';');
	if (tmp.data == NULL)
		w->err = MOX_ENOMEM;
	else
		analysis_hw_add(w, "", (const char *)tmp.data);
	mox_buf_free(&tmp);
}

mox_err
analysis_authres_auth(const char *hostname, const char *mailfrom, mox_buf *out)
{
	analysis_hw w;
	authres_begin(&w, out, hostname);
	/* RFC 8601 section 2.7.4: smtp.mailfrom, the address the client
	 * authenticated as sender. */
	authprop p = {"smtp", "mailfrom", mailfrom, true};
	method(&w, true, "auth", "pass", NULL, NULL, &p, 1);
	return analysis_hw_end(&w);
}

static const char *
dnssec(bool authentic)
{
	return authentic ? "with dnssec" : "without dnssec";
}

/* ---- iprev, RFC 8601 section 3 ---- */

static bool
same_ip(const mox_dns_rr *rr, const uint8_t *ip, int family)
{
	if (family == AF_INET)
		return rr->type == MOX_DNS_A && memcmp(rr->u.a, ip, 4) == 0;
	return rr->type == MOX_DNS_AAAA && memcmp(rr->u.aaaa, ip, 16) == 0;
}

/* The reverse name of ip must resolve back to it: pass; names that do
 * not: fail; no PTR: permerror (as mox); DNS trouble: temperror. */
static const char *
iprev(const analysis_env *e, const char *ip, char *name, size_t namesize, bool *authentic)
{
	uint8_t bin[16];
	int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	char rev[MOX_DNS_REVERSE_MAX];
	name[0] = '\0';
	*authentic = false;
	if (inet_pton(family, ip, bin) != 1 ||
	    mox_dns_reverse_name(ip, rev, sizeof(rev)) != MOX_OK)
		return "permerror";
	mox_dns_answer *a = NULL;
	if (mox_dns_lookup(e->resolver, rev, MOX_DNS_PTR, &a) != MOX_OK)
		return "temperror";
	const char *status;
	*authentic = a->authentic;
	switch (a->status) {
	case MOX_DNS_FOUND:
		break;
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA:
	case MOX_DNS_PERMFAIL:
		mox_dns_answer_free(a);
		return "permerror";
	default:
		mox_dns_answer_free(a);
		return "temperror";
	}
	status = "fail";
	bool dnserr = false;
	for (size_t i = 0; i < a->nrr && i < IPREV_NAMES_MAX; i++) {
		const char *h = a->rr[i].u.host;
		if (a->rr[i].type != MOX_DNS_PTR || h == NULL || h[0] == '\0')
			continue;
		if (name[0] == '\0')
			snprintf(name, namesize, "%s", h);
		mox_dns_answer *f = NULL;
		if (mox_dns_lookup(e->resolver, h, family == AF_INET ? MOX_DNS_A : MOX_DNS_AAAA,
				   &f) != MOX_OK) {
			dnserr = true;
			continue;
		}
		*authentic = *authentic && f->authentic;
		bool match = false;
		for (size_t j = 0; f->status == MOX_DNS_FOUND && j < f->nrr; j++)
			match = match || same_ip(&f->rr[j], bin, family);
		if (f->status == MOX_DNS_TEMPFAIL)
			dnserr = true;
		mox_dns_answer_free(f);
		if (match) {
			snprintf(name, namesize, "%s", h);
			status = "pass";
			break;
		}
	}
	if (strcmp(status, "pass") != 0 && dnserr)
		status = "temperror";
	mox_dns_answer_free(a);
	return status;
}

/* ---- the whole analysis ---- */

static mox_spf_outcome *
spf_check(const analysis_env *e, const analysis_in *in, bool helo)
{
	mox_spf_request r;
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.ip = in->ip;
	r.mailfrom = in->mailfrom;
	r.helo = in->helo[0] != '\0' ? in->helo : NULL;
	r.check_helo = helo;
	mox_spf_outcome *o = NULL;
	if (mox_spf_check(e->spf, &r, &o) != MOX_OK)
		return NULL;
	return o;
}

/* Length of the header section: up to and including the empty line. */
static size_t
header_len(const uint8_t *m, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (m[i] == '\n' && (m[i + 1] == '\n' || (m[i + 1] == '\r' && i + 2 < n &&
							   m[i + 2] == '\n')))
			return i + 1;
	}
	return n;
}

void
analysis_run(const analysis_env *e, const analysis_in *in, analysis_out *out)
{
	memset(out, 0, sizeof(*out));
	mox_buf_init(&out->authres, NULL);
	mox_buf_init(&out->received_spf, NULL);
	analysis_hw w;
	authres_begin(&w, &out->authres, e->hostname);

	/* iprev. RFC 8601 section 3: policy.iprev is the client address. */
	bool iprev_auth = false;
	out->iprev = iprev(e, in->ip, out->rdns, sizeof(out->rdns), &iprev_auth);
	authprop ip = {"policy", "iprev", in->ip, false};
	method(&w, false, "iprev", out->iprev, dnssec(iprev_auth), NULL, &ip, 1);

	/* SPF: the MAIL FROM identity, or HELO for the null sender (RFC 7208
	 * section 2.4); then HELO on its own (section 2.3) when it is a
	 * domain and MAIL FROM was checked. */
	bool nullsender = in->mailfrom[0] == '\0';
	mox_spf_outcome *spf = spf_check(e, in, false);
	mox_spf_outcome *spfh = NULL;
	if (!nullsender && in->helo_domain[0] != '\0')
		spfh = spf_check(e, in, true);
	out->spf = spf != NULL ? spf->result : MOX_SPF_TEMPERROR;
	out->spf_helo_checked = spfh != NULL;
	out->spf_helo = spfh != NULL ? spfh->result : MOX_SPF_NONE;
	/* The domain the recorded SPF result is for (RFC 7489 section 4.1:
	 * DMARC uses MAIL FROM, or HELO for the null sender); none for a
	 * HELO that is an address literal. */
	const char *spf_domain = nullsender ? in->helo_domain : in->mailfrom_domain;

	/* DKIM: every signature (RFC 6376 section 6). */
	mox_dkim_verifier *v = NULL;
	mox_dkim_verify_opts vo;
	memset(&vo, 0, sizeof(vo));
	vo.size = sizeof(vo);
	vo.resolver = e->resolver;
	vo.psl = e->psl;
	bool dkim_ok = mox_dkim_verifier_new(&v, &vo) == MOX_OK &&
		       mox_dkim_verifier_feed(v, in->msg, in->len) == MOX_OK &&
		       mox_dkim_verifier_end(v) == MOX_OK;
	size_t ndkim = dkim_ok ? mox_dkim_verifier_count(v) : 0;
	out->dkim_total = ndkim;
	mox_dmarc_dkim *dd = calloc(ndkim > 0 ? ndkim : 1, sizeof(*dd));
	size_t ndd = 0;
	if (!dkim_ok) {
		method(&w, false, "dkim", "none", NULL,
		       v != NULL ? mox_dkim_verifier_errmsg(v) : "out of memory", NULL, 0);
	} else if (ndkim == 0) {
		method(&w, false, "dkim", "none", NULL, "no dkim signatures", NULL, 0);
	}
	for (size_t i = 0; i < ndkim; i++) {
		const mox_dkim_result *r = mox_dkim_verifier_result(v, i);
		if (r == NULL)
			continue;
		char comment[64] = "";
		authprop props[5];
		size_t np = 0;
		mox_buf b64 = MOX_BUF_INIT;
		if (r->sig != NULL) {
			if (r->record != NULL && r->record->key_type == MOX_DKIM_KEY_RSA &&
			    r->record->rsa_bits > 0)
				snprintf(comment, sizeof(comment), "%u bit rsa, ",
					 r->record->rsa_bits);
			snprintf(comment + strlen(comment), sizeof(comment) - strlen(comment),
				 "%s", dnssec(r->record_authentic));
			/* header.b: the first 12 characters of b= (RFC 6008
			 * section 4: at least 8, unique among the signatures). */
			mox_base64_encode(&b64, r->sig->signature, r->sig->signature_len);
			if (b64.len > 12)
				b64.data[12] = '\0';
			props[np++] = (authprop){"header", "d", r->sig->domain, true};
			props[np++] = (authprop){"header", "s", r->sig->selector, true};
			props[np++] = (authprop){"header", "a", r->sig->algorithm, false};
			props[np++] = (authprop){"header", "b",
						 b64.data != NULL ? (const char *)b64.data : "",
						 false};
			if (r->sig->identity != NULL)
				props[np++] = (authprop){"header", "i", r->sig->identity, true};
			if (dd != NULL) {
				dd[ndd].domain = r->sig->domain;
				dd[ndd].selector = r->sig->selector;
				dd[ndd].pass = r->status == MOX_DKIM_PASS;
				ndd++;
			}
		}
		if (r->status == MOX_DKIM_PASS)
			out->dkim_pass++;
		method(&w, false, "dkim", mox_dkim_status_name(r->status), comment,
		       r->status == MOX_DKIM_PASS ? NULL : r->why, props, np);
		mox_buf_free(&b64);
	}

	/* SPF in Authentication-Results (RFC 8601 section 2.7.2), for the
	 * identity checked; the property only when it is a domain. */
	if (spf != NULL) {
		authprop p = {"smtp", nullsender ? "helo" : "mailfrom", spf_domain, true};
		method(&w, false, "spf", mox_spf_result_name(spf->result), dnssec(spf->authentic),
		       NULL, &p, spf_domain[0] != '\0' ? 1 : 0);
		mox_spf_received_header(spf, &out->received_spf);
	} else {
		method(&w, false, "spf", "temperror", NULL, "spf evaluation failed", NULL, 0);
	}
	if (spfh != NULL) {
		authprop p = {"smtp", "helo", in->helo_domain, true};
		method(&w, false, "spf", mox_spf_result_name(spfh->result),
		       dnssec(spfh->authentic), NULL, &p, 1);
	}

	/* DMARC (RFC 7489 section 6.6). A message without one usable From
	 * domain is not evaluated (dmarc=none, as mox). */
	size_t hl = header_len(in->msg, in->len);
	mox_errinfo info = {0};
	if (mox_dmarc_from_domain(in->msg, hl, out->from_domain, sizeof(out->from_domain),
				  &info) != MOX_OK) {
		out->from_domain[0] = '\0';
		out->dmarc = MOX_DMARC_NONE;
		method(&w, true, "dmarc", "none", NULL, NULL, NULL, 0);
	} else {
		mox_dmarc_input di;
		memset(&di, 0, sizeof(di));
		di.size = sizeof(di);
		di.resolver = e->resolver;
		di.psl = e->psl;
		di.from_domain = out->from_domain;
		di.spf_pass = spf != NULL && spf->result == MOX_SPF_PASS && spf_domain[0] != '\0';
		di.spf_domain = spf_domain;
		di.ndkim = ndd;
		di.dkim = dd;
		di.pct_draw = -1;
		mox_dmarc_result dr;
		memset(&dr, 0, sizeof(dr));
		if (mox_dmarc_verify(&di, &dr) != MOX_OK) {
			out->dmarc = MOX_DMARC_TEMPERROR;
			method(&w, true, "dmarc", "temperror", NULL, "dmarc evaluation failed", NULL,
			       0);
		} else {
			out->dmarc = dr.status;
			out->dmarc_reject = dr.reject;
			char comment[64];
			snprintf(comment, sizeof(comment), "%s%s", dnssec(dr.lookup.authentic),
				 dr.sampled_out ? ", override sampled_out" : "");
			authprop p = {"header", "from", out->from_domain, true};
			method(&w, true, "dmarc", mox_dmarc_status_name(dr.status), comment, NULL, &p,
			       1);
		}
		mox_dmarc_result_clear(&dr);
	}
	analysis_hw_end(&w);
	free(dd);
	mox_dkim_verifier_free(v);
	mox_spf_outcome_free(spf);
	mox_spf_outcome_free(spfh);
}

void
analysis_out_free(analysis_out *out)
{
	mox_buf_free(&out->authres);
	mox_buf_free(&out->received_spf);
}
