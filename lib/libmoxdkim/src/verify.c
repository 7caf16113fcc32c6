/* Verification, RFC 6376 section 6, with mox's statuses and checks.
 *
 * How this works:
 *   feed: bytes go to the header buffer until the header section ends
 *     (mox__dkim_hdrbuf, bounded by max_header). Then the header is parsed
 *     (mox_msg_header_parse keeps every field's raw bytes), each
 *     DKIM-Signature field is parsed and checked as far as it can be
 *     without DNS (section 6.1.1: required tags, From signed, x= expiry,
 *     known algorithm and canonicalization, dns/txt; then the local
 *     policy). Signatures still open get a body hasher; signatures with
 *     the same (body canonicalization, hash, l=) share one. The rest of the
 *     message is hashed as it comes; nothing else is kept.
 *   end: for each open signature, the key record is looked up and checked
 *     against the signature (section 6.1.2 and 3.6.1: h=, k=, revoked,
 *     size, s=, t=s), the data hash is computed and the signature checked
 *     (section 6.1.3), then the body hash compared. mox's order is kept:
 *     signature before body hash, so a bad signature says so even when
 *     the body changed too.
 *
 * Statuses follow mox (dkim.go): bad tags and unusable keys are permerror,
 * DNS trouble temperror, a missing record permerror, signature or body
 * hash mismatch fail, policy refusals policy; with a t=y key and
 * ignore_test_mode unset, anything but pass becomes none. Limits: at most
 * max_signatures fields are evaluated, the rest get permerror. */
#include "dkim_int.h"

#include <mox/message.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WHY_MAX 384

typedef struct vsig {
	mox_dkim_result res; /* public part; res.why points to why */
	mox_dkim_sig *sig;
	size_t b_off, b_end;
	const mox_msg_field *field;
	size_t body;       /* index into bodies when open */
	bool open;         /* still to be checked at end */
	mox_dkim_lookup_result lk;
	char why[WHY_MAX];
} vsig;

typedef struct vbody {
	mox__dkim_body b;
	uint8_t digest[MOX__DKIM_DIGEST_MAX];
	size_t digest_len;
} vbody;

struct mox_dkim_verifier {
	const mox_allocator *alloc;
	mox_dkim_verify_opts o;
	mox__dkim_crypto *crypto;
	mox__dkim_hdrbuf hb;
	mox_msg_header *hdr;
	bool header_done, ended;
	vsig *sigs;
	size_t nsigs;
	vbody *bodies;
	size_t nbodies;
	mox_err err;
	char errmsg[256];
};

static void
clear_message(mox_dkim_verifier *v)
{
	const mox_allocator *a = v->alloc;
	for (size_t i = 0; i < v->nsigs; i++) {
		mox_dkim_sig_free(v->sigs[i].sig);
		mox_dkim_lookup_result_clear(&v->sigs[i].lk, a);
	}
	mox_mem_free(a, v->sigs);
	v->sigs = NULL;
	v->nsigs = 0;
	for (size_t i = 0; i < v->nbodies; i++)
		mox__dkim_body_free(&v->bodies[i].b);
	mox_mem_free(a, v->bodies);
	v->bodies = NULL;
	v->nbodies = 0;
	mox_msg_header_free(v->hdr);
	v->hdr = NULL;
	mox_buf_reset(&v->hb.buf);
	v->hb.scanned = v->hb.end = 0;
	v->hb.done = false;
	v->header_done = v->ended = false;
	v->err = MOX_OK;
	v->errmsg[0] = '\0';
}

void
mox_dkim_verifier_free(mox_dkim_verifier *v)
{
	if (v == NULL)
		return;
	clear_message(v);
	mox_buf_free(&v->hb.buf);
	mox__dkim_crypto_free(v->crypto);
	mox_mem_free(v->alloc, v);
}

void
mox_dkim_verifier_reset(mox_dkim_verifier *v)
{
	if (v != NULL)
		clear_message(v);
}

mox_err
mox_dkim_verifier_new(mox_dkim_verifier **out, const mox_dkim_verify_opts *opts)
{
	if (out == NULL)
		return MOX_EINVAL;
	*out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) || opts->resolver == NULL)
		return MOX_EINVAL;
	mox_err err = mox__dkim_sodium_init();
	if (err != MOX_OK)
		return err;
	mox_dkim_verifier *v = mox_mem_calloc(opts->alloc, 1, sizeof(*v));
	if (v == NULL)
		return MOX_ENOMEM;
	v->alloc = opts->alloc;
	v->o = *opts;
	if (v->o.max_signatures == 0)
		v->o.max_signatures = MOX_DKIM_SIGNATURES_MAX;
	mox_buf_init(&v->hb.buf, v->alloc);
	v->hb.max = opts->max_header ? opts->max_header : MOX_DKIM_HEADER_MAX;
	err = mox__dkim_crypto_new(v->alloc, &v->crypto);
	if (err != MOX_OK) {
		mox_dkim_verifier_free(v);
		return err;
	}
	*out = v;
	return MOX_OK;
}

static void
set(vsig *s, mox_dkim_status st, mox_dkim_reason r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
set(vsig *s, mox_dkim_status st, mox_dkim_reason r, const char *fmt, ...)
{
	s->res.status = st;
	s->res.reason = r;
	s->open = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static bool
signs(const mox_dkim_sig *sig, const char *name)
{
	for (size_t i = 0; i < sig->nheaders; i++)
		if (mox__dkim_eq_nocase(sig->headers[i], strlen(sig->headers[i]), name))
			return true;
	return false;
}

static int64_t
now(const mox_dkim_verifier *v)
{
	return v->o.now != 0 ? v->o.now : (int64_t)time(NULL);
}

/* Checks that need no DNS (RFC 6376 section 6.1.1), then the policy. */
static void
check_params(mox_dkim_verifier *v, vsig *s)
{
	const mox_dkim_sig *sig = s->sig;
	/* RFC 6376 section 5.4 and 6.1.1: From must be signed. */
	if (!signs(sig, "From")) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_FROM_NOT_SIGNED, "required From field not signed");
		return;
	}
	/* RFC 6376 section 3.5 "x=" and 6.1.1. */
	if (sig->expire_time >= 0 && sig->expire_time < now(v)) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_EXPIRED,
		    "signature expired at %" PRId64, sig->expire_time);
		return;
	}
	/* RFC 6376 section 6.1.1: verifiers MAY ignore signatures of a
	 * domain above the organizational level; mox refuses public
	 * suffixes. */
	if (v->o.psl != NULL && mox_dns_psl_is_public_suffix(v->o.psl, sig->domain)) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_TLD, "signing domain %s is a public suffix",
		    sig->domain);
		return;
	}
	if (sig->hash == MOX_DKIM_HASH_UNKNOWN || sig->key_type == MOX_DKIM_KEY_UNKNOWN) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_ALGORITHM, "unknown algorithm %s",
		    sig->algorithm);
		return;
	}
	if (sig->header_canon == MOX_DKIM_CANON_UNKNOWN || sig->body_canon == MOX_DKIM_CANON_UNKNOWN) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_CANONICALIZATION,
		    "unknown canonicalization %s", sig->canonicalization);
		return;
	}
	/* RFC 6376 section 3.5 "q=": dns/txt is the only method. */
	if (sig->nquery_methods > 0) {
		bool txt = false;
		for (size_t i = 0; i < sig->nquery_methods; i++)
			txt |= mox__dkim_eq_nocase(sig->query_methods[i],
						   strlen(sig->query_methods[i]), "dns/txt");
		if (!txt) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_QUERY_METHOD, "no dns/txt in q=");
			return;
		}
	}
	/* The policy (RFC 6376 section 6.1.1 lets verifiers refuse
	 * signatures that do not meet local requirements). */
	unsigned pol = v->o.policy;
	if (sig->length >= 0 && !(pol & MOX_DKIM_POLICY_ALLOW_LENGTH)) {
		set(s, MOX_DKIM_POLICY, MOX_DKIM_R_POLICY,
		    "l= for length not acceptable (RFC 6376 section 8.2)");
		return;
	}
	if (!signs(sig, "Subject") && !(pol & MOX_DKIM_POLICY_ALLOW_NO_SUBJECT)) {
		set(s, MOX_DKIM_POLICY, MOX_DKIM_R_POLICY,
		    "required header fields missing from signature: subject");
		return;
	}
	if (sig->hash == MOX_DKIM_HASH_SHA1 && !(pol & MOX_DKIM_POLICY_ALLOW_SHA1)) {
		/* RFC 8301 section 3.1: rsa-sha1 MUST NOT be considered
		 * valid by verifiers. */
		set(s, MOX_DKIM_POLICY, MOX_DKIM_R_POLICY, "rsa-sha1 not acceptable (RFC 8301)");
		return;
	}
	if (v->o.policy_fn != NULL) {
		char why[256] = "";
		if (!v->o.policy_fn(v->o.policy_arg, sig, why, sizeof(why))) {
			set(s, MOX_DKIM_POLICY, MOX_DKIM_R_POLICY, "%s",
			    why[0] != '\0' ? why : "refused by policy");
			return;
		}
	}
}

static mox__dkim_hash_alg
hash_alg(mox_dkim_hash h)
{
	return h == MOX_DKIM_HASH_SHA1 ? MOX__DKIM_SHA1 : MOX__DKIM_SHA256;
}

/* Header section complete: parse signatures, set up body hashers. */
static mox_err
header_done(mox_dkim_verifier *v, size_t hlen, size_t *consumed)
{
	const mox_allocator *a = v->alloc;
	mox_err err = mox_msg_header_parse(v->hb.buf.data, hlen, 0, a, &v->hdr, consumed, NULL);
	if (err != MOX_OK)
		return err;
	v->header_done = true;
	size_t n = mox_msg_header_count(v->hdr, "DKIM-Signature");
	if (n == 0)
		return MOX_OK;
	v->sigs = mox_mem_calloc(a, n, sizeof(*v->sigs));
	v->bodies = mox_mem_calloc(a, n, sizeof(*v->bodies));
	if (v->sigs == NULL || v->bodies == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < v->hdr->nfields; i++) {
		const mox_msg_field *f = &v->hdr->fields[i];
		if (!mox__dkim_eq_nocase(f->name, f->name_len, "DKIM-Signature"))
			continue;
		vsig *s = &v->sigs[v->nsigs++];
		s->field = f;
		s->res.field_index = i;
		s->res.why = s->why;
		s->open = true;
		if (v->nsigs > v->o.max_signatures) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_TOO_MANY,
			    "more than %zu signatures, not evaluated", v->o.max_signatures);
			continue;
		}
		mox_errinfo info = {0};
		err = mox__dkim_sig_parse(f->raw, f->raw_len, a, v->o.smtputf8, &s->sig, &s->b_off,
					  &s->b_end, &info);
		if (err == MOX_ENOMEM)
			return err;
		if (err != MOX_OK) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_SIG_SYNTAX, "parsing DKIM-Signature: %s",
			    info.msg);
			continue;
		}
		s->res.sig = s->sig;
		check_params(v, s);
		if (!s->open)
			continue;
		/* A body hasher per (canonicalization, hash, l=). */
		mox__dkim_hash_alg alg = hash_alg(s->sig->hash);
		size_t b = 0;
		for (; b < v->nbodies; b++) {
			mox__dkim_body *x = &v->bodies[b].b;
			if (x->canon == s->sig->body_canon && x->hash.alg == alg &&
			    x->limit == s->sig->length)
				break;
		}
		if (b == v->nbodies) {
			err = mox__dkim_body_init(&v->bodies[b].b, v->crypto, s->sig->body_canon, alg,
						  s->sig->length);
			v->nbodies++; /* freed by clear_message even on error */
			if (err != MOX_OK)
				return err;
		}
		s->body = b;
	}
	return MOX_OK;
}

static mox_err
fail(mox_dkim_verifier *v, mox_err err, const char *what)
{
	v->err = err;
	mox__dkim_setmsg(v->errmsg, sizeof(v->errmsg), "%s: %s", what, mox_strerror(err));
	return err;
}

static void
body_feed(mox_dkim_verifier *v, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < v->nbodies; i++)
		mox__dkim_body_feed(&v->bodies[i].b, p, n);
}

mox_err
mox_dkim_verifier_feed(mox_dkim_verifier *v, const void *data, size_t len)
{
	if (v == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (v->err != MOX_OK)
		return v->err;
	if (v->ended)
		return fail(v, MOX_ESTATE, "feed after end");
	const uint8_t *d = data;
	if (!v->header_done) {
		size_t used, consumed;
		mox_err err = mox__dkim_hdrbuf_feed(&v->hb, d, len, &used);
		if (err != MOX_OK)
			return fail(v, err, err == MOX_ELIMIT ? "header section too large" : "header");
		d += used;
		len -= used;
		if (!v->hb.done)
			return MOX_OK;
		err = header_done(v, v->hb.end, &consumed);
		if (err != MOX_OK)
			return fail(v, err, "header");
		body_feed(v, v->hb.buf.data + consumed, v->hb.buf.len - consumed);
	}
	body_feed(v, d, len);
	return MOX_OK;
}

/* The record checks of RFC 6376 section 6.1.2 step 6 and 3.6.1, in mox's
 * order. */
static bool
check_record(vsig *s)
{
	const mox_dkim_sig *sig = s->sig;
	const mox_dkim_record *r = s->lk.record;
	if (r->nhashes > 0) {
		bool ok = false;
		const char *want = sig->hash == MOX_DKIM_HASH_SHA1 ? "sha1" : "sha256";
		for (size_t i = 0; i < r->nhashes; i++)
			ok |= strcmp(r->hashes[i], want) == 0;
		if (!ok) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_HASH_NOT_ALLOWED,
			    "key record does not allow hash %s", want);
			return false;
		}
	}
	if (r->key_type != sig->key_type) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_KEY_TYPE,
		    "key record has k=%s, signature a=%s", r->key, sig->algorithm);
		return false;
	}
	if (r->pubkey_len == 0) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_KEY_REVOKED, "key revoked (empty p=)");
		return false;
	}
	if (r->key_type == MOX_DKIM_KEY_RSA && r->rsa_bits < MOX_DKIM_RSA_BITS_MIN) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_WEAK_KEY,
		    "RSA key of %u bits, need at least %d (RFC 8301 section 3.2)", r->rsa_bits,
		    MOX_DKIM_RSA_BITS_MIN);
		return false;
	}
	if (r->nservices > 0) {
		bool ok = false;
		for (size_t i = 0; i < r->nservices; i++)
			ok |= strcmp(r->services[i], "*") == 0 || strcmp(r->services[i], "email") == 0;
		if (!ok) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_NOT_FOR_EMAIL,
			    "key record s= does not include email");
			return false;
		}
	}
	/* t=s: the i= domain must be d= itself, not a subdomain. */
	if (r->strict && sig->identity_domain != NULL &&
	    strcmp(sig->identity_domain, sig->domain) != 0) {
		set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_IDENTITY,
		    "key record t=s: i= domain %s must equal d= %s", sig->identity_domain, sig->domain);
		return false;
	}
	return true;
}

static void
to_base64(const uint8_t *p, size_t n, char *out, size_t size)
{
	mox_buf b = MOX_BUF_INIT;
	if (mox_base64_encode(&b, p, n) == MOX_OK)
		snprintf(out, size, "%s", (const char *)b.data);
	else
		snprintf(out, size, "?");
	mox_buf_free(&b);
}

static mox_err
evaluate(mox_dkim_verifier *v, vsig *s)
{
	const mox_dkim_sig *sig = s->sig;
	mox_err err = mox_dkim_lookup(v->o.resolver, sig->selector, sig->domain, v->alloc, &s->lk);
	if (err != MOX_OK)
		return err;
	s->res.record = s->lk.record;
	s->res.record_authentic = s->lk.authentic;
	if (s->lk.status != MOX_DKIM_NEUTRAL) {
		set(s, s->lk.status, s->lk.reason, "%s", s->lk.why);
		return MOX_OK;
	}
	bool testing = s->lk.record->testing && !v->o.ignore_test_mode;
	if (check_record(s)) {
		uint8_t dh[MOX__DKIM_DIGEST_MAX];
		size_t dlen;
		mox__dkim_hash_alg alg = hash_alg(sig->hash);
		err = mox__dkim_data_hash(v->crypto, alg, sig->header_canon, v->hdr, sig->headers,
					  sig->nheaders, s->field->raw, s->field->raw_len, s->b_off,
					  s->b_end, v->alloc, dh, &dlen);
		if (err == MOX_ENOMEM)
			return err;
		if (err != MOX_OK) {
			set(s, MOX_DKIM_PERMERROR, MOX_DKIM_R_HEADER, "computing data hash: %s",
			    mox_strerror(err));
			goto test;
		}
		const mox__dkim_pubkey *pk = mox__dkim_record_pubkey(s->lk.record);
		bool valid = false;
		if (pk->type == MOX_DKIM_KEY_ED25519) {
			valid = mox__dkim_ed25519_verify(pk->ed, dh, dlen, sig->signature,
							 sig->signature_len);
		} else {
			err = mox__dkim_rsa_verify(pk->rsa, alg, dh, dlen, sig->signature,
						   sig->signature_len, &valid);
			if (err != MOX_OK)
				return err;
		}
		if (!valid) {
			set(s, MOX_DKIM_FAIL, MOX_DKIM_R_SIGNATURE, "%s signature verification failed",
			    sig->key_type == MOX_DKIM_KEY_RSA ? "rsa" : "ed25519");
			goto test;
		}
		const vbody *b = &v->bodies[s->body];
		if (sig->length >= 0 && b->b.total < (uint64_t)sig->length) {
			set(s, MOX_DKIM_FAIL, MOX_DKIM_R_BODY_LENGTH,
			    "l=%" PRId64 " but canonical body has %" PRIu64 " bytes", sig->length,
			    b->b.total);
			goto test;
		}
		if (b->digest_len != sig->body_hash_len ||
		    memcmp(b->digest, sig->body_hash, b->digest_len) != 0) {
			char want[64], got[64];
			to_base64(sig->body_hash, sig->body_hash_len, want, sizeof(want));
			to_base64(b->digest, b->digest_len, got, sizeof(got));
			set(s, MOX_DKIM_FAIL, MOX_DKIM_R_BODY_HASH,
			    "body hash does not match: signature bh=%s, computed %s", want, got);
			goto test;
		}
		set(s, MOX_DKIM_PASS, MOX_DKIM_R_OK, "%s", "");
	}
test:
	/* RFC 6376 section 3.6.1 "t=y": failures of a testing key do not
	 * count; mox reports them as none. */
	if (testing && s->res.status != MOX_DKIM_PASS) {
		size_t l = strlen(s->why);
		snprintf(s->why + l, sizeof(s->why) - l, " (key in test mode)");
		s->res.status = MOX_DKIM_NONE;
	}
	return MOX_OK;
}

mox_err
mox_dkim_verifier_end(mox_dkim_verifier *v)
{
	if (v == NULL)
		return MOX_EINVAL;
	if (v->err != MOX_OK)
		return v->err;
	if (v->ended)
		return fail(v, MOX_ESTATE, "end twice");
	mox_err err;
	if (!v->header_done) {
		size_t consumed;
		size_t hlen = v->hb.done ? v->hb.end : v->hb.buf.len;
		if ((err = header_done(v, hlen, &consumed)) != MOX_OK)
			return fail(v, err, "header");
		body_feed(v, v->hb.buf.data + consumed, v->hb.buf.len - consumed);
	}
	for (size_t i = 0; i < v->nbodies; i++) {
		err = mox__dkim_body_final(&v->bodies[i].b, v->bodies[i].digest, &v->bodies[i].digest_len);
		if (err != MOX_OK)
			return fail(v, err, "body hash");
	}
	for (size_t i = 0; i < v->nsigs; i++) {
		if (!v->sigs[i].open)
			continue;
		if ((err = evaluate(v, &v->sigs[i])) != MOX_OK)
			return fail(v, err, "verifying");
	}
	v->ended = true;
	return MOX_OK;
}

size_t
mox_dkim_verifier_count(const mox_dkim_verifier *v)
{
	return v != NULL && v->ended ? v->nsigs : 0;
}

const mox_dkim_result *
mox_dkim_verifier_result(const mox_dkim_verifier *v, size_t index)
{
	if (v == NULL || !v->ended || index >= v->nsigs)
		return NULL;
	return &v->sigs[index].res;
}

const char *
mox_dkim_verifier_errmsg(const mox_dkim_verifier *v)
{
	return v != NULL ? v->errmsg : "";
}
