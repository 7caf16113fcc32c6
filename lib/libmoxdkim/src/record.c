/* DKIM key records in DNS, RFC 6376 section 3.6.1, and their lookup at
 * <selector>._domainkey.<domain> (section 3.6.2).
 *
 *   key-v-tag = %x76 [FWS] "=" [FWS] %x44.4B.49.4D.31     ; "DKIM1", first
 *   key-h-tag = %x68 [FWS] "=" [FWS] key-h-tag-alg *( [FWS] ":" [FWS] key-h-tag-alg )
 *   key-k-tag = %x6b [FWS] "=" [FWS] key-k-tag-type       ; "rsa" / x-...
 *   key-n-tag = %x6e [FWS] "=" [FWS] qp-section
 *   key-p-tag = %x70 [FWS] "=" [ [FWS] base64string ]     ; empty: revoked
 *   key-s-tag = %x73 [FWS] "=" [FWS] key-s-tag-type *( [FWS] ":" [FWS] key-s-tag-type )
 *   key-t-tag = %x74 [FWS] "=" [FWS] key-t-tag-flag *( [FWS] ":" [FWS] key-t-tag-flag )
 *
 * "Is this a DKIM record at all" follows mox: a text whose first tag does
 * not parse (e.g. "v=spf1 ...", or prose) is not DKIM and is skipped by the
 * lookup; once a tag parsed, later errors make it a broken DKIM record,
 * which is a permerror (section 6.1.2 step 5 "If the query for the public
 * key ... fails to respond" vs "returns unparseable data"). The public key
 * is parsed right away (RSA through the crypto seam, Ed25519 is 32 raw
 * bytes), so verification does not parse it again. */
#include "dkim_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RECORD_TAGS_MAX 32
#define RECORD_LIST_MAX 16

typedef struct rec {
	mox_dkim_record pub; /* first: the public struct is the handle */
	const mox_allocator *alloc;
	mox__dkim_pubkey key;
} rec;

const mox__dkim_pubkey *
mox__dkim_record_pubkey(const mox_dkim_record *r)
{
	return &((const rec *)r)->key;
}

static void
free_list(const mox_allocator *a, char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mox_mem_free(a, l[i]);
	mox_mem_free(a, l);
}

void
mox_dkim_record_free(mox_dkim_record *record)
{
	if (record == NULL)
		return;
	rec *r = (rec *)record;
	const mox_allocator *a = r->alloc;
	mox_mem_free(a, record->version);
	free_list(a, record->hashes, record->nhashes);
	mox_mem_free(a, record->key);
	mox_mem_free(a, record->notes);
	mox_mem_free(a, record->pubkey);
	free_list(a, record->services, record->nservices);
	free_list(a, record->flags, record->nflags);
	mox__dkim_rsa_pub_free(r->key.rsa);
	mox_mem_free(a, r);
}

/* hyphenated-word = ALPHA [ *(ALPHA / DIGIT / "-") (ALPHA / DIGIT) ],
 * or "*" where star is allowed (key-s-tag-type). */
static bool
is_word(const uint8_t *s, size_t n, bool star)
{
	if (star && n == 1 && s[0] == '*')
		return true;
	if (n == 0 || !mox__dkim_is_alpha(s[0]) || s[n - 1] == '-')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(mox__dkim_is_alnum(s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* A ':'-separated list of words, lower-cased. */
static mox_err
word_list(const mox_allocator *a, const uint8_t *v, size_t n, bool star, char ***out,
	  size_t *nout)
{
	size_t cnt = 1;
	for (size_t i = 0; i < n; i++)
		cnt += v[i] == ':';
	if (cnt > RECORD_LIST_MAX)
		return MOX_ESYNTAX;
	char **l = mox_mem_calloc(a, cnt, sizeof(*l));
	if (l == NULL)
		return MOX_ENOMEM;
	*out = l;
	*nout = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ':')
			continue;
		size_t s = start, e = i;
		while (s < e && mox__dkim_is_fws(v[s]))
			s++;
		while (e > s && mox__dkim_is_fws(v[e - 1]))
			e--;
		if (!is_word(v + s, e - s, star))
			return MOX_ESYNTAX;
		char *w = mox_mem_strndup(a, (const char *)v + s, e - s);
		if (w == NULL)
			return MOX_ENOMEM;
		for (char *p = w; *p != '\0'; p++)
			*p = (char)mox__dkim_lower((uint8_t)*p);
		l[(*nout)++] = w;
		start = i + 1;
	}
	return MOX_OK;
}

/* qp-section (RFC 2045 section 6.7 as used by RFC 6376 section 2.11). */
static mox_err
qp_section(const mox_allocator *a, const uint8_t *v, size_t n, char **out)
{
	mox_buf b = MOX_BUF_INIT;
	b.alloc = a;
	mox_err err = MOX_OK;
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		if (v[i] == '=') {
			if (i + 2 >= n) {
				err = MOX_ESYNTAX;
				break;
			}
			uint8_t h = mox__dkim_lower(v[i + 1]), l = mox__dkim_lower(v[i + 2]);
			int hv = mox__dkim_is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
			int lv = mox__dkim_is_digit(l) ? l - '0' : (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;
			if (hv < 0 || lv < 0) {
				err = MOX_ESYNTAX;
				break;
			}
			err = mox_buf_append_byte(&b, (uint8_t)(hv << 4 | lv));
			i += 2;
		} else {
			err = mox_buf_append_byte(&b, v[i]);
		}
	}
	if (err == MOX_OK) {
		*out = (char *)mox_buf_steal(&b, NULL);
		if (*out == NULL)
			err = MOX_ENOMEM;
	}
	mox_buf_free(&b);
	return err;
}

static mox_err
parse_pubkey(rec *r, mox_errinfo *info)
{
	mox_dkim_record *p = &r->pub;
	if (p->pubkey_len == 0)
		return MOX_OK; /* revoked: RFC 6376 section 3.6.1 "p=" */
	if (p->key_type == MOX_DKIM_KEY_ED25519) {
		/* RFC 8463 section 4.2: the 32-byte public key, base64. */
		if (p->pubkey_len != MOX__DKIM_ED25519_PUB)
			return mox_errinfo_set(info, MOX_ESYNTAX, 0,
					       "ed25519 public key is %zu bytes, need 32",
					       p->pubkey_len);
		memcpy(r->key.ed, p->pubkey, MOX__DKIM_ED25519_PUB);
		return MOX_OK;
	}
	mox_buf spki = MOX_BUF_INIT;
	spki.alloc = r->alloc;
	mox_err err = mox__dkim_rsa_spki_normalize(p->pubkey, p->pubkey_len, &spki);
	if (err == MOX_OK)
		err = mox__dkim_rsa_pub_parse(spki.data, spki.len, r->alloc, &r->key.rsa, &p->rsa_bits);
	mox_buf_free(&spki);
	if (err == MOX_ENOMEM)
		return mox_errinfo_set(info, err, 0, "out of memory");
	if (err != MOX_OK)
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "bad RSA public key in p=");
	if (p->rsa_bits > MOX_DKIM_RSA_BITS_MAX) {
		mox__dkim_rsa_pub_free(r->key.rsa);
		r->key.rsa = NULL;
		return mox_errinfo_set(info, MOX_ESYNTAX, 0, "RSA key of %u bits, more than %d",
				       p->rsa_bits, MOX_DKIM_RSA_BITS_MAX);
	}
	return MOX_OK;
}

mox_err
mox_dkim_record_parse(const void *text, size_t len, const mox_allocator *alloc,
		      mox_dkim_record **record_out, bool *is_dkim_out, mox_errinfo *info)
{
	bool is_dkim = false;
	if (is_dkim_out != NULL)
		*is_dkim_out = false;
	if (record_out == NULL || (text == NULL && len > 0))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "invalid argument");
	*record_out = NULL;
	if (len > MOX_DKIM_RECORD_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, 0, "record longer than %d bytes",
				       MOX_DKIM_RECORD_MAX);
	const uint8_t *s = text;
	mox_err err = MOX_OK;
	rec *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	r->alloc = alloc;
	mox_dkim_record *p = &r->pub;
	const uint8_t *names[RECORD_TAGS_MAX];
	size_t namelens[RECORD_TAGS_MAX], ntags = 0;
	bool have_p = false;
	mox__dkim_taglist tl = {s, len, 0};
	mox__dkim_tag t;
	while ((err = mox__dkim_taglist_next(&tl, &t, info, 0)) == MOX_OK) {
		size_t off = (size_t)(t.value - s);
		const uint8_t *v = t.value;
		size_t vn = t.value_len;
		for (size_t i = 0; i < ntags; i++)
			if (namelens[i] == t.name_len && memcmp(names[i], t.name, t.name_len) == 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, t.name_off,
						      "duplicate tag \"%.*s\"", (int)t.name_len,
						      (const char *)t.name);
				goto out;
			}
		if (ntags == RECORD_TAGS_MAX) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, t.name_off, "too many tags");
			goto out;
		}
		names[ntags] = t.name;
		namelens[ntags++] = t.name_len;
		char c = t.name_len == 1 ? (char)t.name[0] : 0;
		switch (c) {
		case 'v':
			/* RFC 6376 section 3.6.1 "v=": "DKIM1", and if present
			 * the first tag. */
			if (vn != 5 || memcmp(v, "DKIM1", 5) != 0) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, off, "unknown version \"%.*s\"",
						      (int)vn, (const char *)v);
				goto out;
			}
			if (ntags != 1) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, t.name_off,
						      "v= must be the first tag");
				goto out;
			}
			p->version = mox_mem_strdup(alloc, "DKIM1");
			if (p->version == NULL)
				goto nomem;
			break;
		case 'h':
			err = word_list(alloc, v, vn, false, &p->hashes, &p->nhashes);
			break;
		case 'k':
			if (!is_word(v, vn, false)) {
				err = MOX_ESYNTAX;
				break;
			}
			p->key = mox_mem_strndup(alloc, (const char *)v, vn);
			if (p->key == NULL)
				goto nomem;
			for (char *q = p->key; *q != '\0'; q++)
				*q = (char)mox__dkim_lower((uint8_t)*q);
			break;
		case 'n':
			err = qp_section(alloc, v, vn, &p->notes);
			break;
		case 'p': {
			mox_buf b = MOX_BUF_INIT;
			b.alloc = alloc;
			mox_errinfo bi;
			err = mox_base64_decode(&b, (const char *)v, vn, MOX_BASE64_IGNORE_SPACE, &bi);
			if (err == MOX_OK) {
				p->pubkey = mox_buf_steal(&b, &p->pubkey_len);
				if (p->pubkey == NULL)
					err = MOX_ENOMEM;
			} else if (err != MOX_ENOMEM) {
				off += bi.offset;
			}
			mox_buf_free(&b);
			have_p = true;
			break;
		}
		case 's':
			err = word_list(alloc, v, vn, true, &p->services, &p->nservices);
			break;
		case 't':
			err = word_list(alloc, v, vn, false, &p->flags, &p->nflags);
			for (size_t i = 0; err == MOX_OK && i < p->nflags; i++) {
				p->testing |= strcmp(p->flags[i], "y") == 0;
				p->strict |= strcmp(p->flags[i], "s") == 0;
			}
			break;
		default:
			/* Unknown tags are ignored (RFC 6376 section 3.6.1). */
			break;
		}
		if (err == MOX_ENOMEM)
			goto nomem;
		if (err != MOX_OK) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, off, "bad value for tag \"%.*s\" at %zu",
					      (int)t.name_len, (const char *)t.name, off);
			goto out;
		}
		is_dkim = true;
	}
	if (err != MOX_ENOTFOUND)
		goto out;
	err = MOX_OK;
	if (!have_p) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, len, "missing required tag p=");
		goto out;
	}
	if (p->key == NULL) {
		p->key = mox_mem_strdup(alloc, "rsa"); /* the default */
		if (p->key == NULL)
			goto nomem;
	}
	if (strcmp(p->key, "rsa") == 0)
		p->key_type = MOX_DKIM_KEY_RSA;
	else if (strcmp(p->key, "ed25519") == 0)
		p->key_type = MOX_DKIM_KEY_ED25519;
	else {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "unknown key type k=%s", p->key);
		goto out;
	}
	r->key.type = p->key_type;
	err = parse_pubkey(r, info);
	if (err != MOX_OK)
		goto out;
	*record_out = p;
	r = NULL;
	goto out;
nomem:
	err = mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
out:
	if (is_dkim_out != NULL)
		*is_dkim_out = is_dkim;
	mox_dkim_record_free(r != NULL ? &r->pub : NULL);
	return err;
}

static mox_err
append_list(mox_buf *out, const char *tag, char **l, size_t n)
{
	mox_err err = mox_buf_appendf(out, ";%s=", tag);
	for (size_t i = 0; i < n && err == MOX_OK; i++)
		err = mox_buf_appendf(out, "%s%s", i ? ":" : "", l[i]);
	return err;
}

mox_err
mox_dkim_record_format(const mox_dkim_record *p, mox_buf *out)
{
	if (p == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = mox_buf_append_str(out, "v=DKIM1");
	if (err == MOX_OK && p->nhashes > 0)
		err = append_list(out, "h", p->hashes, p->nhashes);
	if (err == MOX_OK && p->key != NULL && strcmp(p->key, "rsa") != 0)
		err = mox_buf_appendf(out, ";k=%s", p->key);
	if (err == MOX_OK && p->notes != NULL && p->notes[0] != '\0') {
		static const char hex[] = "0123456789ABCDEF";
		err = mox_buf_append_str(out, ";n=");
		for (const uint8_t *q = (const uint8_t *)p->notes; err == MOX_OK && *q; q++) {
			bool plain = (q != (const uint8_t *)p->notes && mox__dkim_is_wsp(*q)) ||
				     (*q > ' ' && *q < 0x7f && *q != '=' && *q != ';');
			if (plain)
				err = mox_buf_append_byte(out, *q);
			else
				err = mox_buf_appendf(out, "=%c%c", hex[*q >> 4], hex[*q & 15]);
		}
	}
	if (err == MOX_OK && p->nservices > 0 &&
	    !(p->nservices == 1 && strcmp(p->services[0], "*") == 0))
		err = append_list(out, "s", p->services, p->nservices);
	if (err == MOX_OK && p->nflags > 0)
		err = append_list(out, "t", p->flags, p->nflags);
	if (err == MOX_OK)
		err = mox_buf_append_str(out, ";p=");
	if (err == MOX_OK)
		err = mox_base64_encode(out, p->pubkey, p->pubkey_len);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = 0;
	}
	return err;
}

void
mox_dkim_lookup_result_clear(mox_dkim_lookup_result *res, const mox_allocator *alloc)
{
	if (res == NULL)
		return;
	mox_dkim_record_free(res->record);
	mox_mem_free(alloc, res->txt);
	res->record = NULL;
	res->txt = NULL;
}

static void set_result(mox_dkim_lookup_result *res, mox_dkim_status st,
		       mox_dkim_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
set_result(mox_dkim_lookup_result *res, mox_dkim_status st, mox_dkim_reason reason,
	   const char *fmt, ...)
{
	res->status = st;
	res->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

mox_err
mox_dkim_lookup(const mox_resolver *resolver, const char *selector, const char *domain,
		const mox_allocator *alloc, mox_dkim_lookup_result *res)
{
	if (res == NULL)
		return MOX_EINVAL;
	memset(res, 0, sizeof(*res));
	if (resolver == NULL || selector == NULL || domain == NULL)
		return MOX_EINVAL;
	char name[2 * MOX_DNS_NAME_MAX + 16];
	int nn = snprintf(name, sizeof(name), "%s._domainkey.%s", selector, domain);
	if (nn < 0 || (size_t)nn >= sizeof(name) || nn > MOX_DNS_NAME_MAX) {
		set_result(res, MOX_DKIM_PERMERROR, MOX_DKIM_R_NO_RECORD, "name too long: %s._domainkey.%s",
			   selector, domain);
		return MOX_OK;
	}
	mox_dns_answer *ans = NULL;
	mox_err err = mox_dns_lookup(resolver, name, MOX_DNS_TXT, &ans);
	if (err != MOX_OK)
		return err;
	res->authentic = ans->authentic;
	switch (ans->status) {
	case MOX_DNS_FOUND:
		break;
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA:
		/* RFC 6376 section 6.1.2 step 3: PERMFAIL (no key for
		 * signature), as mox, although a key that has not yet
		 * propagated would be temporary. */
		set_result(res, MOX_DKIM_PERMERROR, MOX_DKIM_R_NO_RECORD,
			   "no dkim dns record at %s (%s)", name, mox_dns_status_name(ans->status));
		goto out;
	case MOX_DNS_PERMFAIL:
		set_result(res, MOX_DKIM_PERMERROR, MOX_DKIM_R_DNS, "lookup of %s: %s", name,
			   ans->why != NULL ? ans->why : "permanent failure");
		goto out;
	default:
		/* RFC 6376 section 6.1.2 step 2: TEMPFAIL. */
		set_result(res, MOX_DKIM_TEMPERROR, MOX_DKIM_R_DNS, "lookup of %s: %s", name,
			   ans->why != NULL ? ans->why : "temporary failure");
		goto out;
	}
	/* RFC 6376 section 3.6.2.2: the strings of one TXT record are
	 * joined; exactly one DKIM record is expected. */
	set_result(res, MOX_DKIM_TEMPERROR, MOX_DKIM_R_NOT_DKIM_RECORD,
		   "no dkim record among TXT records at %s", name);
	for (size_t i = 0; i < ans->nrr; i++) {
		const mox_dns_rr *rr = &ans->rr[i];
		if (rr->type != MOX_DNS_TXT)
			continue;
		mox_dkim_record *r = NULL;
		bool is_dkim = false;
		mox_errinfo info = {0};
		err = mox_dkim_record_parse(rr->u.txt.data, rr->u.txt.len, alloc, &r, &is_dkim, &info);
		if (err == MOX_ENOMEM)
			goto out;
		if (err != MOX_OK) {
			err = MOX_OK;
			if (is_dkim) {
				mox_dkim_record_free(res->record);
				res->record = NULL;
				mox_mem_free(alloc, res->txt);
				res->txt = NULL;
				set_result(res, MOX_DKIM_PERMERROR, MOX_DKIM_R_RECORD_SYNTAX,
					   "dkim record at %s: %s", name, info.msg);
				goto out;
			}
			continue;
		}
		if (res->record != NULL) {
			mox_dkim_record_free(r);
			mox_dkim_record_free(res->record);
			res->record = NULL;
			mox_mem_free(alloc, res->txt);
			res->txt = NULL;
			set_result(res, MOX_DKIM_TEMPERROR, MOX_DKIM_R_MULTIPLE_RECORDS,
				   "multiple dkim records at %s", name);
			goto out;
		}
		res->record = r;
		res->txt = mox_mem_strndup(alloc, (const char *)rr->u.txt.data, rr->u.txt.len);
		if (res->txt == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
	}
	if (res->record != NULL)
		set_result(res, MOX_DKIM_NEUTRAL, MOX_DKIM_R_OK, "%s", "");
out:
	if (err != MOX_OK)
		mox_dkim_lookup_result_clear(res, alloc);
	mox_dns_answer_free(ans);
	return err;
}
