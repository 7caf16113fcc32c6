/* Signing, RFC 6376 section 5, as mox does it.
 *
 * How this works: the signer keeps the header section (bounded by
 * max_header) and hashes the body as it is fed, once per distinct body
 * canonicalization among the selectors (the hash is always SHA-256: RFC
 * 8301 section 3.1 leaves rsa-sha256 and RFC 8463 ed25519-sha256). At the
 * end, for each selector: the body hash goes into a DKIM-Signature field
 * written with b= empty (mox's tag order and folding), the data hash is
 * taken over the signed header fields and that field (section 3.7), the
 * digest is signed (RSASSA-PKCS1-v1_5, or PureEdDSA over the digest per RFC
 * 8463 section 3), and the field is written again with b=.
 *
 * Oversigning (section 8.15, mox's "seal headers"): the configured names
 * are listed once each, then each again as many times as the message has
 * that field, so every instance is signed and one more instance (which
 * does not exist) is signed as empty: an added field breaks the signature.
 *
 * The message must have exactly one From field (section 5.4 requires it
 * signed; mox refuses messages without or with several). */
#include "dkim_int.h"

#include <mox/message.h>

#include <string.h>
#include <time.h>

static const char *const default_headers[] = {
	"From", "To", "Cc", "Bcc", "Reply-To", "References", "In-Reply-To",
	"Subject", "Date", "Message-Id", "Content-Type", NULL,
};

const char *const *
mox_dkim_default_headers(void)
{
	return default_headers;
}

typedef struct sel {
	char *domain, *selector, *identity;
	char **headers;
	size_t nheaders;
	const mox_dkim_key *key;
	mox_dkim_canon hcanon, bcanon;
	bool oversign, timestamp;
	uint64_t expiration;
	size_t body; /* index into bodies */
} sel;

struct mox_dkim_signer {
	const mox_allocator *alloc;
	mox__dkim_crypto *crypto;
	sel *sels;
	size_t nsels;
	mox__dkim_body *bodies; /* one per distinct body canonicalization */
	size_t nbodies;
	bool bodies_ready;
	mox__dkim_hdrbuf hb;
	int64_t now;
	mox_err err;
	char errmsg[256];
};

static void
sel_clear(const mox_allocator *a, sel *s)
{
	mox_mem_free(a, s->domain);
	mox_mem_free(a, s->selector);
	mox_mem_free(a, s->identity);
	for (size_t i = 0; i < s->nheaders; i++)
		mox_mem_free(a, s->headers[i]);
	mox_mem_free(a, s->headers);
}

static void
bodies_free(mox_dkim_signer *s)
{
	if (s->bodies_ready)
		for (size_t i = 0; i < s->nbodies; i++)
			mox__dkim_body_free(&s->bodies[i]);
	s->bodies_ready = false;
}

void
mox_dkim_signer_free(mox_dkim_signer *s)
{
	if (s == NULL)
		return;
	const mox_allocator *a = s->alloc;
	bodies_free(s);
	mox_mem_free(a, s->bodies);
	for (size_t i = 0; i < s->nsels; i++)
		sel_clear(a, &s->sels[i]);
	mox_mem_free(a, s->sels);
	mox_buf_free(&s->hb.buf);
	mox__dkim_crypto_free(s->crypto);
	mox_mem_free(a, s);
}

static bool
ascii_name(const char *s, bool selector)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > MOX_DNS_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (!(mox__dkim_is_alnum(c) || c == '-' || c == '.' || (selector && c == '_')))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

static mox_err
bodies_start(mox_dkim_signer *s)
{
	for (size_t i = 0; i < s->nbodies; i++) {
		mox_err err = mox__dkim_body_init(&s->bodies[i], s->crypto, s->bodies[i].canon,
						  MOX__DKIM_SHA256, -1);
		if (err != MOX_OK) {
			for (size_t j = 0; j <= i; j++)
				mox__dkim_body_free(&s->bodies[j]);
			return err;
		}
	}
	s->bodies_ready = true;
	return MOX_OK;
}

mox_err
mox_dkim_signer_new(mox_dkim_signer **out, const mox_dkim_sign_opts *opts, mox_errinfo *info)
{
	if (out == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no output pointer");
	*out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) || opts->nselectors == 0 ||
	    opts->selectors == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "options need at least one selector");
	const mox_allocator *a = opts->alloc;
	mox_err err = mox__dkim_sodium_init();
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "libsodium did not initialise");
	mox_dkim_signer *s = mox_mem_calloc(a, 1, sizeof(*s));
	if (s == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	s->alloc = a;
	s->now = opts->now;
	mox_buf_init(&s->hb.buf, a);
	s->hb.max = opts->max_header ? opts->max_header : MOX_DKIM_HEADER_MAX;
	if ((err = mox__dkim_crypto_new(a, &s->crypto)) != MOX_OK)
		goto fail;
	s->sels = mox_mem_calloc(a, opts->nselectors, sizeof(*s->sels));
	s->bodies = mox_mem_calloc(a, 2, sizeof(*s->bodies));
	if (s->sels == NULL || s->bodies == NULL) {
		err = MOX_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < opts->nselectors; i++) {
		const mox_dkim_selector *in = &opts->selectors[i];
		sel *o = &s->sels[s->nsels++];
		if (in->size < sizeof(*in) || in->key == NULL ||
		    (in->key->type != MOX_DKIM_KEY_RSA && in->key->type != MOX_DKIM_KEY_ED25519)) {
			err = mox_errinfo_set(info, MOX_EINVAL, i, "selector %zu: no usable key", i);
			goto fail;
		}
		if (!ascii_name(in->domain, false) || !ascii_name(in->selector, true)) {
			err = mox_errinfo_set(info, MOX_EINVAL, i,
					      "selector %zu: domain and selector must be ASCII names", i);
			goto fail;
		}
		if ((in->header_canon != MOX_DKIM_SIMPLE && in->header_canon != MOX_DKIM_RELAXED) ||
		    (in->body_canon != MOX_DKIM_SIMPLE && in->body_canon != MOX_DKIM_RELAXED)) {
			err = mox_errinfo_set(info, MOX_EINVAL, i, "selector %zu: bad canonicalization", i);
			goto fail;
		}
		o->key = in->key;
		o->hcanon = in->header_canon;
		o->bcanon = in->body_canon;
		o->oversign = !in->no_oversign;
		o->timestamp = !in->no_timestamp;
		o->expiration = in->expiration;
		o->domain = mox_mem_strdup(a, in->domain);
		o->selector = mox_mem_strdup(a, in->selector);
		if (o->domain == NULL || o->selector == NULL)
			goto nomem;
		for (char *p = o->domain; *p; p++)
			*p = (char)mox__dkim_lower((uint8_t)*p);
		for (char *p = o->selector; *p; p++)
			*p = (char)mox__dkim_lower((uint8_t)*p);
		if (in->identity != NULL) {
			const char *at = strrchr(in->identity, '@');
			if (at == NULL || !mox_dns_name_is_subdomain(at + 1, o->domain)) {
				err = mox_errinfo_set(info, MOX_EINVAL, i,
						      "selector %zu: identity must be in the signing domain",
						      i);
				goto fail;
			}
			for (const char *p = in->identity; *p; p++)
				if ((uint8_t)*p <= ' ' || *p == ';' || (uint8_t)*p == 0x7f) {
					err = mox_errinfo_set(info, MOX_EINVAL, i,
							      "selector %zu: bad identity", i);
					goto fail;
				}
			if ((o->identity = mox_mem_strdup(a, in->identity)) == NULL)
				goto nomem;
		}
		const char *const *names = in->headers != NULL ? in->headers : default_headers;
		size_t n = 0;
		if (in->headers != NULL)
			n = in->nheaders;
		else
			while (names[n] != NULL)
				n++;
		if (n == 0 || n > MOX_DKIM_SIGNED_HEADERS_MAX / 2) {
			err = mox_errinfo_set(info, MOX_EINVAL, i, "selector %zu: 1 to %d header names",
					      i, MOX_DKIM_SIGNED_HEADERS_MAX / 2);
			goto fail;
		}
		o->headers = mox_mem_calloc(a, n, sizeof(*o->headers));
		if (o->headers == NULL)
			goto nomem;
		bool from = false;
		for (size_t j = 0; j < n; j++) {
			const char *h = names[j];
			bool ok = h != NULL && h[0] != '\0';
			for (const char *p = h; ok && *p; p++)
				ok = (uint8_t)*p > 0x20 && (uint8_t)*p < 0x7f && *p != ':' && *p != ';';
			if (!ok) {
				err = mox_errinfo_set(info, MOX_EINVAL, i, "selector %zu: bad header name", i);
				goto fail;
			}
			from |= mox__dkim_eq_nocase(h, strlen(h), "From");
			if ((o->headers[o->nheaders++] = mox_mem_strdup(a, h)) == NULL)
				goto nomem;
		}
		if (!from) {
			/* RFC 6376 section 5.4: From MUST be signed. */
			err = mox_errinfo_set(info, MOX_EINVAL, i, "selector %zu: From must be signed", i);
			goto fail;
		}
		size_t b = 0;
		while (b < s->nbodies && s->bodies[b].canon != o->bcanon)
			b++;
		if (b == s->nbodies)
			s->bodies[s->nbodies++].canon = o->bcanon;
		o->body = b;
	}
	if ((err = bodies_start(s)) != MOX_OK)
		goto fail;
	*out = s;
	return MOX_OK;
nomem:
	err = MOX_ENOMEM;
fail:
	if (err == MOX_ENOMEM || info == NULL || info->code != err)
		mox_errinfo_set(info, err, 0, "%s", mox_strerror(err));
	mox_dkim_signer_free(s);
	return err;
}

static mox_err
fail(mox_dkim_signer *s, mox_err err, const char *msg)
{
	s->err = err;
	mox__dkim_setmsg(s->errmsg, sizeof(s->errmsg), "%s", msg);
	return err;
}

static void
body_feed(mox_dkim_signer *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < s->nbodies; i++)
		mox__dkim_body_feed(&s->bodies[i], p, n);
}

mox_err
mox_dkim_signer_feed(mox_dkim_signer *s, const void *data, size_t len)
{
	if (s == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (s->err != MOX_OK)
		return s->err;
	const uint8_t *d = data;
	if (!s->hb.done) {
		size_t used;
		mox_err err = mox__dkim_hdrbuf_feed(&s->hb, d, len, &used);
		if (err != MOX_OK)
			return fail(s, err, err == MOX_ELIMIT ? "header section too large"
							      : "out of memory");
		if (s->hb.done)
			body_feed(s, s->hb.buf.data + s->hb.end, s->hb.buf.len - s->hb.end);
		d += used;
		len -= used;
	}
	body_feed(s, d, len);
	return MOX_OK;
}

static mox_err
sign_one(mox_dkim_signer *s, const sel *o, const mox_msg_header *hdr, const uint8_t *bh,
	 int64_t now, mox_buf *out)
{
	const mox_allocator *a = s->alloc;
	mox_dkim_sig sig = {0};
	mox_buf field = MOX_BUF_INIT;
	field.alloc = a;
	char **names = NULL;
	mox_err err = MOX_ENOMEM;
	size_t total = o->nheaders;
	if (o->oversign)
		for (size_t i = 0; i < o->nheaders; i++)
			total += mox_msg_header_count(hdr, o->headers[i]);
	names = mox_mem_calloc(a, total, sizeof(*names));
	if (names == NULL)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < o->nheaders; i++)
		names[k++] = o->headers[i];
	if (o->oversign)
		for (size_t i = 0; i < o->nheaders; i++)
			for (size_t j = mox_msg_header_count(hdr, o->headers[i]); j > 0; j--)
				names[k++] = o->headers[i];
	bool ed = o->key->type == MOX_DKIM_KEY_ED25519;
	sig.version = 1;
	sig.algorithm = ed ? "ed25519-sha256" : "rsa-sha256";
	sig.key_type = o->key->type;
	sig.hash = MOX_DKIM_HASH_SHA256;
	sig.body_hash = (uint8_t *)bh;
	sig.body_hash_len = 32;
	sig.header_canon = o->hcanon;
	sig.body_canon = o->bcanon;
	sig.domain = o->domain;
	sig.selector = o->selector;
	sig.identity = o->identity;
	sig.headers = names;
	sig.nheaders = k;
	sig.length = -1;
	sig.sign_time = o->timestamp ? now : -1;
	sig.expire_time = o->expiration > 0 ? now + (int64_t)o->expiration : -1;
	if ((err = mox_dkim_sig_format(&sig, true, &field)) != MOX_OK)
		goto out;
	/* The field ends in "b=\r\n": b= is empty at the end. */
	size_t bpos = field.len - 2;
	uint8_t digest[MOX__DKIM_DIGEST_MAX];
	size_t dlen;
	err = mox__dkim_data_hash(s->crypto, MOX__DKIM_SHA256, o->hcanon, hdr, names, k,
				  field.data, field.len, bpos, bpos, a, digest, &dlen);
	if (err != MOX_OK)
		goto out;
	mox_buf sigbuf = MOX_BUF_INIT;
	sigbuf.alloc = a;
	if (ed) {
		err = mox_buf_reserve(&sigbuf, MOX__DKIM_ED25519_SIG);
		if (err == MOX_OK) {
			mox__dkim_ed25519_sign(o->key->ed_sk, digest, dlen, sigbuf.data);
			sigbuf.len = MOX__DKIM_ED25519_SIG;
		}
	} else {
		err = mox__dkim_rsa_sign(o->key->rsa, MOX__DKIM_SHA256, digest, dlen, &sigbuf);
	}
	if (err == MOX_OK) {
		sig.signature = sigbuf.data;
		sig.signature_len = sigbuf.len;
		err = mox_dkim_sig_format(&sig, false, out);
	}
	mox_buf_free(&sigbuf);
out:
	mox_mem_free(a, names);
	mox_buf_free(&field);
	return err;
}

mox_err
mox_dkim_signer_end(mox_dkim_signer *s, mox_buf *out)
{
	if (s == NULL || out == NULL)
		return MOX_EINVAL;
	if (s->err != MOX_OK)
		return s->err;
	if (!s->bodies_ready)
		return fail(s, MOX_ESTATE, "signer not reset after the previous message");
	mox_msg_header *hdr = NULL;
	size_t hlen = s->hb.done ? s->hb.end : s->hb.buf.len, consumed = 0;
	mox_err err = mox_msg_header_parse(s->hb.buf.data, hlen, 0, s->alloc, &hdr, &consumed, NULL);
	if (err != MOX_OK)
		return fail(s, err, "parsing header section");
	if (!s->hb.done)
		body_feed(s, s->hb.buf.data + consumed, s->hb.buf.len - consumed);
	size_t start = out->len;
	uint8_t bh[2][MOX__DKIM_DIGEST_MAX];
	size_t nfrom = mox_msg_header_count(hdr, "From");
	if (nfrom != 1) {
		mox__dkim_setmsg(s->errmsg, sizeof(s->errmsg),
				 "message has %zu From fields, need exactly 1", nfrom);
		s->err = err = MOX_ESYNTAX;
		goto out;
	}
	for (size_t i = 0; i < s->nbodies; i++) {
		size_t n;
		if ((err = mox__dkim_body_final(&s->bodies[i], bh[i], &n)) != MOX_OK)
			goto fail;
	}
	int64_t now = s->now != 0 ? s->now : (int64_t)time(NULL);
	for (size_t i = 0; i < s->nsels; i++)
		if ((err = sign_one(s, &s->sels[i], hdr, bh[s->sels[i].body], now, out)) != MOX_OK)
			goto fail;
	goto out;
fail:
	s->err = err;
	mox__dkim_setmsg(s->errmsg, sizeof(s->errmsg), "signing: %s", mox_strerror(err));
out:
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = 0;
	}
	/* The body hashes are used up: reset before the next message. */
	bodies_free(s);
	mox_msg_header_free(hdr);
	return err;
}

void
mox_dkim_signer_reset(mox_dkim_signer *s)
{
	if (s == NULL)
		return;
	bodies_free(s);
	mox_buf_reset(&s->hb.buf);
	s->hb.scanned = s->hb.end = 0;
	s->hb.done = false;
	s->errmsg[0] = '\0';
	s->err = bodies_start(s);
	if (s->err != MOX_OK)
		mox__dkim_setmsg(s->errmsg, sizeof(s->errmsg), "out of memory");
}

const char *
mox_dkim_signer_errmsg(const mox_dkim_signer *s)
{
	return s != NULL ? s->errmsg : "";
}
