/* submit.c -- submission (RFC 6409) of a message by an authenticated user:
 * From checks, header prefix (Received, Message-Id, Date, DKIM-Signature,
 * Authentication-Results) and queueing.
 *
 * How this works: the session has the whole message (as received, CRLF)
 * after DATA. submit_check_from parses only the header section. The
 * prefix is built in a mox_buf: Received first (it is the newest trace
 * field, RFC 5321 section 4.4), then the fields that become part of the
 * message (Message-Id, Date), then the signatures, which a signer computes
 * over exactly those fields followed by the message, so the signed message
 * is the delivered one. Authentication-Results goes last (RFC 8601 section
 * 5: added by the border MTA; mox adds auth=pass for submission).
 *
 * DKIM keys are parsed once per file and kept in submit_keys (a mutex
 * around a small list); signers borrow them. A signer is made per message:
 * its cost is a copy of the selector list, the key work is in the sign.
 */
#define _GNU_SOURCE
#include "submit.h"

#include <mox/dkim.h>
#include <mox/dns.h>
#include <mox/message.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- replies ---- */

static void set_reply(submit_reply *r, int code, const char *ecode, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void
set_reply(submit_reply *r, int code, const char *ecode, const char *fmt, ...)
{
	if (r == NULL)
		return;
	r->code = code;
	snprintf(r->ecode, sizeof(r->ecode), "%s", ecode);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static void
clear_reply(submit_reply *r)
{
	if (r != NULL)
		memset(r, 0, sizeof(*r));
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ---- From checks ---- */

/* The account owning address (mox's LookupAddress without aliases:
 * exact address, catchall separator stripped, then the catchall
 * "@domain"). */
static bool
address_of_account(const mox_config_dynamic *cfg, const char *account,
                   const char *address)
{
	if (address == NULL || address[0] == '\0' || strchr(address, '@') == NULL)
		return false;
	const mox_cfg_account *acc = mox_config_address_find(cfg, address, NULL);
	return acc != NULL && strcmp(acc->name, account) == 0;
}

bool
submit_check_mail_from(const mox_config_dynamic *cfg, const char *account,
                       const char *mail_from, submit_reply *reply)
{
	clear_reply(reply);
	/* RFC 6409 section 6.1: the MSA may check that the sender is
	 * authorized for the addresses it uses; mox requires the account's
	 * own addresses. */
	if (!address_of_account(cfg, account, mail_from)) {
		set_reply(reply, 550, "5.7.1",
		          "mail from address must belong to authenticated user");
		return false;
	}
	return true;
}

bool
submit_check_from(const mox_config_dynamic *cfg, const char *account,
                  const char *mail_from, const uint8_t *msg, size_t len,
                  submit_from *from_out, submit_reply *reply)
{
	clear_reply(reply);
	if (from_out != NULL)
		memset(from_out, 0, sizeof(*from_out));
	bool ok = false;
	mox_msg_header *hdr = NULL;
	mox_msg_addr_list *list = NULL;
	mox_buf val = MOX_BUF_INIT;
	submit_from f;
	memset(&f, 0, sizeof(f));

	if (mox_msg_header_parse(msg, len, 0, NULL, &hdr, NULL, NULL) != MOX_OK) {
		set_reply(reply, 550, "5.6.0",
		          "cannot parse header or From address: %s", "bad header");
		goto out;
	}
	/* RFC 5322 section 3.6: exactly one From field; section 3.6.2: a
	 * mailbox-list, of which mox accepts exactly one address. */
	size_t nfrom = mox_msg_header_count(hdr, "From");
	if (nfrom != 1) {
		set_reply(reply, 550, "5.6.0",
		          "cannot parse header or From address: %s",
		          nfrom == 0 ? "missing From header" : "multiple From headers");
		goto out;
	}
	const mox_msg_field *fld = mox_msg_header_get(hdr, "From", 0);
	if (mox_msg_field_unfold(fld, &val) != MOX_OK) {
		set_reply(reply, 451, "4.3.0", "out of memory");
		goto out;
	}
	unsigned warn = 0;
	if (mox_msg_addr_list_parse(val.data != NULL ? val.data : (const uint8_t *)"",
	                            val.len, 0, NULL, &list, &warn, NULL) != MOX_OK ||
	    list->n != 1 || list->a[0].local == NULL || list->a[0].domain == NULL ||
	    list->a[0].domain[0] == '[') {
		set_reply(reply, 550, "5.6.0",
		          "cannot parse header or From address: %s",
		          list != NULL && list->n > 1 ? "need exactly one From address"
		                                      : "bad From address");
		goto out;
	}
	const mox_msg_addr *a = &list->a[0];
	if (strlen(a->local) >= sizeof(f.localpart) ||
	    mox_dns_name_to_ascii(a->domain, f.domain, sizeof(f.domain), NULL) !=
	        MOX_OK) {
		set_reply(reply, 550, "5.6.0",
		          "cannot parse header or From address: %s",
		          "bad From address");
		goto out;
	}
	snprintf(f.localpart, sizeof(f.localpart), "%s", a->local);
	for (char *p = f.domain; *p != '\0'; p++)
		*p = lower(*p);
	f.dom = mox_config_domain_find(cfg, f.domain);

	char addr[600];
	snprintf(addr, sizeof(addr), "%s@%s", f.localpart, f.domain);
	/* RFC 6409 section 6.1; mox's AllowMsgFrom. */
	if (f.dom == NULL || !address_of_account(cfg, account, addr)) {
		set_reply(reply, 550, "5.7.1",
		          "message from address must belong to authenticated user");
		goto out;
	}
	if (!submit_check_mail_from(cfg, account, mail_from, reply))
		goto out;
	if (from_out != NULL)
		*from_out = f;
	ok = true;
out:
	mox_buf_free(&val);
	mox_msg_addr_list_free(list);
	mox_msg_header_free(hdr);
	return ok;
}

/* ---- key cache ---- */

typedef struct key_entry {
	char *path;
	mox_dkim_key *key;
} key_entry;

struct submit_keys {
	pthread_mutex_t mu;
	key_entry *v;
	size_t n, cap;
	/* Flushed keys: kept until free, a running signer may borrow them. */
	key_entry *old;
	size_t nold, capold;
};

mox_err
submit_keys_new(submit_keys **keys_out)
{
	*keys_out = NULL;
	submit_keys *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return MOX_ENOMEM;
	pthread_mutex_init(&k->mu, NULL);
	*keys_out = k;
	return MOX_OK;
}

static void
free_entries(key_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		mox_dkim_key_free(v[i].key);
	}
	free(v);
}

void
submit_keys_free(submit_keys *keys)
{
	if (keys == NULL)
		return;
	free_entries(keys->v, keys->n);
	free_entries(keys->old, keys->nold);
	pthread_mutex_destroy(&keys->mu);
	free(keys);
}

static bool
grow(key_entry **v, size_t n, size_t *cap)
{
	if (n < *cap)
		return true;
	size_t nc = *cap == 0 ? 8 : *cap * 2;
	key_entry *nv = realloc(*v, nc * sizeof(*nv));
	if (nv == NULL)
		return false;
	*v = nv;
	*cap = nc;
	return true;
}

void
submit_keys_flush(submit_keys *keys)
{
	pthread_mutex_lock(&keys->mu);
	for (size_t i = 0; i < keys->n; i++) {
		if (!grow(&keys->old, keys->nold, &keys->capold)) {
			/* Cannot keep it aside: keep it in the cache instead of
			 * freeing a key a signer may use. */
			continue;
		}
		keys->old[keys->nold++] = keys->v[i];
		keys->v[i].path = NULL;
		keys->v[i].key = NULL;
	}
	size_t w = 0;
	for (size_t i = 0; i < keys->n; i++)
		if (keys->v[i].key != NULL)
			keys->v[w++] = keys->v[i];
	keys->n = w;
	pthread_mutex_unlock(&keys->mu);
}

static mox_err
read_file(const char *path, uint8_t **data_out, size_t *len_out)
{
	*data_out = NULL;
	*len_out = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return MOX_EIO;
	mox_buf b = MOX_BUF_INIT;
	b.max = 1024 * 1024; /* a PEM key is a few KB */
	uint8_t tmp[4096];
	size_t n;
	mox_err err = MOX_OK;
	while (err == MOX_OK && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		err = mox_buf_append(&b, tmp, n);
	if (err == MOX_OK && ferror(f))
		err = MOX_EIO;
	fclose(f);
	if (err != MOX_OK) {
		mox_buf_free(&b);
		return err;
	}
	*data_out = mox_buf_steal(&b, len_out);
	return MOX_OK;
}

mox_err
submit_keys_get(submit_keys *keys, const char *path, const mox_dkim_key **key_out,
                char *errbuf, size_t errlen)
{
	*key_out = NULL;
	pthread_mutex_lock(&keys->mu);
	for (size_t i = 0; i < keys->n; i++)
		if (strcmp(keys->v[i].path, path) == 0) {
			*key_out = keys->v[i].key;
			pthread_mutex_unlock(&keys->mu);
			return MOX_OK;
		}
	pthread_mutex_unlock(&keys->mu);

	/* Parse without the lock held (RSA parsing takes a while); a second
	 * thread parsing the same file meanwhile loses the race below. */
	uint8_t *pem = NULL;
	size_t pemlen = 0;
	mox_err err = read_file(path, &pem, &pemlen);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "reading dkim key %s: %s", path,
		         err == MOX_EIO ? strerror(errno) : mox_strerror(err));
		return err;
	}
	mox_dkim_key *key = NULL;
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	err = mox_dkim_key_parse_pem(pem, pemlen, NULL, &key, &info);
	mox_mem_wipe(pem, pemlen);
	free(pem);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "parsing dkim key %s: %s", path,
		         mox_strerror(err));
		return err;
	}
	char *p = strdup(path);
	pthread_mutex_lock(&keys->mu);
	for (size_t i = 0; i < keys->n; i++)
		if (strcmp(keys->v[i].path, path) == 0) {
			*key_out = keys->v[i].key;
			pthread_mutex_unlock(&keys->mu);
			free(p);
			mox_dkim_key_free(key);
			return MOX_OK;
		}
	if (p == NULL || !grow(&keys->v, keys->n, &keys->cap)) {
		pthread_mutex_unlock(&keys->mu);
		free(p);
		mox_dkim_key_free(key);
		snprintf(errbuf, errlen, "out of memory");
		return MOX_ENOMEM;
	}
	keys->v[keys->n].path = p;
	keys->v[keys->n].key = key;
	keys->n++;
	*key_out = key;
	pthread_mutex_unlock(&keys->mu);
	return MOX_OK;
}

/* ---- prefix ---- */

static mox_err
random_id(char *out, size_t outlen)
{
	/* mox: 16 random bytes, base64 URL-safe without padding. */
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MOX_EIO;
		}
		got += (size_t)n;
	}
	/* 128 bits in 6-bit groups: 22 characters. */
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < sizeof(r) && o + 1 < outlen; i++) {
		acc = (acc << 8) | r[i];
		bits += 8;
		while (bits >= 6 && o + 1 < outlen) {
			out[o++] = alpha[(acc >> (bits - 6)) & 63];
			bits -= 6;
		}
	}
	if (bits > 0 && o + 1 < outlen)
		out[o++] = alpha[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return MOX_OK;
}

/* mox's message.RFC5322Z: "2 Jan 2006 15:04:05 -0700", local time
 * (RFC 5322 section 3.3; the day of week is optional). */
static mox_err
append_date(mox_buf *b, int64_t now)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now;
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL)
		return MOX_EINVAL;
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	return mox_buf_appendf(b, "%d %s %04d %02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
	                       mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                       tm.tm_sec, sign, off / 60, off % 60);
}

/* A header field built from words, folded before a word that would take
 * the line past 78 octets (RFC 5322 section 2.2.3), as mox's
 * HeaderWriter. */
typedef struct hdrw {
	mox_buf *b;
	size_t linelen;
	mox_err err;
} hdrw;

static void
hw_word(hdrw *w, const char *word)
{
	if (w->err != MOX_OK || word == NULL || word[0] == '\0')
		return;
	size_t n = strlen(word);
	if (w->linelen == 0) {
		w->err = mox_buf_append(w->b, word, n);
		w->linelen = n;
		return;
	}
	if (w->linelen + 1 + n > 78) {
		w->err = mox_buf_append(w->b, "\r\n\t", 3);
		w->linelen = 1;
	} else {
		w->err = mox_buf_append(w->b, " ", 1);
		w->linelen++;
	}
	if (w->err == MOX_OK)
		w->err = mox_buf_append(w->b, word, n);
	w->linelen += n;
}

/* RFC 5321 section 4.4 Time-stamp-line, as mox writes it for submission:
 * the client's identity is hidden, "from" is our own host name. */
static mox_err
append_received(mox_buf *b, const submit_env *env, int64_t now)
{
	char id[64];
	if (env->received_id != NULL)
		snprintf(id, sizeof(id), "%s", env->received_id);
	else if (random_id(id, sizeof(id)) != MOX_OK)
		return MOX_EIO;
	/* RFC 3848 section 1 and RFC 6531 section 3.7.3: protocol types. */
	char with[16];
	snprintf(with, sizeof(with), "%s%s%s",
	         env->smtputf8 ? "UTF8SMTP" : (env->ehlo ? "ESMTP" : "SMTP"),
	         env->tls ? "S" : "", "A");
	char by[400];
	if (env->local_ip != NULL && env->local_ip[0] != '\0')
		snprintf(by, sizeof(by), "%s (%s%s%s)", env->hostname,
		         strchr(env->local_ip, ':') != NULL ? "[IPv6:" : "[",
		         env->local_ip, "]");
	else
		snprintf(by, sizeof(by), "%s", env->hostname);

	hdrw w = {b, 0, MOX_OK};
	hw_word(&w, "Received:");
	hw_word(&w, "from");
	hw_word(&w, env->hostname);
	hw_word(&w, "by");
	hw_word(&w, by);
	hw_word(&w, "via");
	hw_word(&w, "tcp");
	hw_word(&w, "with");
	hw_word(&w, with);
	hw_word(&w, "id");
	hw_word(&w, id);
	if (env->tls_comment != NULL)
		hw_word(&w, env->tls_comment);
	mox_buf date = MOX_BUF_INIT;
	mox_err err = append_date(&date, now);
	if (err == MOX_OK && env->nrecipients == 1) {
		/* mox leaves "for" out with several recipients, so all share
		 * one prefix and can go in one transaction. */
		char forw[600];
		snprintf(forw, sizeof(forw), "<%s>;", env->recipients[0]);
		hw_word(&w, "for");
		hw_word(&w, forw);
	} else if (err == MOX_OK) {
		/* The ";" ends the clauses (RFC 5321 section 4.4). */
		if (w.err == MOX_OK)
			w.err = mox_buf_append(b, ";", 1);
		w.linelen++;
	}
	if (err == MOX_OK)
		hw_word(&w, (const char *)date.data);
	mox_buf_free(&date);
	if (err == MOX_OK)
		err = w.err;
	if (err == MOX_OK)
		err = mox_buf_append(b, "\r\n", 2);
	return err;
}

/* The canonical local part for i= (mox's CanonicalLocalpart): catchall
 * separator and what follows removed, lower-cased unless the domain is
 * case-sensitive. */
static void
canonical_localpart(const mox_cfg_domain *dom, const char *lp, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", lp);
	if (dom->localpart_catchall_separator[0] != '\0') {
		char *s = strstr(out, dom->localpart_catchall_separator);
		if (s != NULL)
			*s = '\0';
	}
	if (!dom->localpart_case_sensitive)
		for (char *p = out; *p != '\0'; p++)
			*p = lower(*p);
}

static bool
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool
is_dot_atom(const char *s)
{
	/* RFC 5322 section 3.2.3 atext, for an i= local part. */
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') ||
		          strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
		if (!ok || (c == '.' && (p[1] == '.' || p[1] == '\0')))
			return false;
	}
	return true;
}

/* RFC 6376 section 5: sign prefix-so-far + msg with the domain's Sign
 * selectors. Selectors whose key cannot be had are skipped. */
static mox_err
append_dkim(mox_buf *b, size_t signed_from, const submit_env *env,
            const submit_from *from, submit_keys *keys, const uint8_t *msg, size_t len,
            int64_t now, size_t *nerr, char *errbuf, size_t errlen)
{
	const mox_cfg_domain *dom = from->dom;
	if (dom == NULL || dom->dkim.sign.n == 0)
		return MOX_OK;
	mox_dkim_selector *sels = calloc(dom->dkim.sign.n, sizeof(*sels));
	if (sels == NULL)
		return MOX_ENOMEM;
	char lp[256];
	canonical_localpart(dom, from->localpart, lp, sizeof(lp));
	char identity[600];
	bool have_identity = is_dot_atom(lp) || (env->smtputf8 && !is_ascii(lp));
	snprintf(identity, sizeof(identity), "%s@%s", lp, dom->ascii);

	size_t nsel = 0;
	for (size_t i = 0; i < dom->dkim.sign.n; i++) {
		const mox_cfg_selector *cs = NULL;
		for (size_t j = 0; j < dom->dkim.selectors.n; j++)
			if (strcmp(dom->dkim.selectors.v[j].name,
			           dom->dkim.sign.v[i]) == 0)
				cs = &dom->dkim.selectors.v[j];
		if (cs == NULL) {
			if (*nerr == 0)
				snprintf(errbuf, errlen,
				         "dkim selector %s not configured",
				         dom->dkim.sign.v[i]);
			(*nerr)++;
			continue;
		}
		const mox_dkim_key *key = NULL;
		char kerr[300];
		if (submit_keys_get(keys, cs->private_key_file, &key, kerr,
		                    sizeof(kerr)) != MOX_OK) {
			if (*nerr == 0)
				snprintf(errbuf, errlen, "%s", kerr);
			(*nerr)++;
			continue;
		}
		mox_dkim_selector *s = &sels[nsel++];
		s->size = sizeof(*s);
		s->domain = dom->ascii;
		s->selector = cs->name;
		s->key = key;
		s->headers =
		    cs->headers.n > 0 ? (const char *const *)cs->headers.v : NULL;
		s->nheaders = cs->headers.n;
		s->no_oversign = cs->dont_seal_headers;
		s->header_canon = cs->canonicalization.header_relaxed ? MOX_DKIM_RELAXED
		                                                      : MOX_DKIM_SIMPLE;
		s->body_canon = cs->canonicalization.body_relaxed ? MOX_DKIM_RELAXED
		                                                  : MOX_DKIM_SIMPLE;
		s->expiration =
		    cs->expiration_seconds > 0 ? (uint64_t)cs->expiration_seconds : 0;
		s->identity = have_identity ? identity : NULL;
	}
	mox_err err = MOX_OK;
	if (nsel > 0) {
		mox_dkim_sign_opts o;
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.selectors = sels;
		o.nselectors = nsel;
		o.now = now;
		mox_dkim_signer *sg = NULL;
		mox_errinfo info;
		memset(&info, 0, sizeof(info));
		mox_buf sigs = MOX_BUF_INIT;
		mox_err e = mox_dkim_signer_new(&sg, &o, &info);
		if (e == MOX_OK && b->len > signed_from)
			e = mox_dkim_signer_feed(sg, b->data + signed_from,
			                         b->len - signed_from);
		if (e == MOX_OK)
			e = mox_dkim_signer_feed(sg, msg, len);
		if (e == MOX_OK)
			e = mox_dkim_signer_end(sg, &sigs);
		if (e == MOX_OK) {
			err = mox_buf_append(b, sigs.data, sigs.len);
		} else if (e == MOX_ENOMEM) {
			err = e;
		} else {
			/* mox: a failed signature is logged, the message goes out
			 * unsigned. */
			if (*nerr == 0)
				snprintf(errbuf, errlen, "dkim sign: %s%s%s",
				         mox_strerror(e), sg != NULL ? ": " : "",
				         sg != NULL ? mox_dkim_signer_errmsg(sg) : "");
			*nerr += nsel;
		}
		mox_buf_free(&sigs);
		mox_dkim_signer_free(sg);
	}
	free(sels);
	return err;
}

static bool
header_has(const uint8_t *msg, size_t len, const char *name)
{
	mox_msg_header *hdr = NULL;
	if (mox_msg_header_parse(msg, len, 0, NULL, &hdr, NULL, NULL) != MOX_OK)
		return false;
	const mox_msg_field *f = mox_msg_header_get(hdr, name, 0);
	bool have = false;
	if (f != NULL)
		for (size_t i = 0; i < f->value_len && !have; i++)
			have = f->value[i] != ' ' && f->value[i] != '\t' &&
			       f->value[i] != '\r' && f->value[i] != '\n';
	mox_msg_header_free(hdr);
	return have;
}

mox_err
submit_prepare(const submit_env *env, const submit_from *from, submit_keys *keys,
               const uint8_t *msg, size_t len, uint8_t **prefix_out,
               size_t *prefix_len_out, size_t *dkim_errors_out, char *errbuf,
               size_t errlen)
{
	*prefix_out = NULL;
	*prefix_len_out = 0;
	if (dkim_errors_out != NULL)
		*dkim_errors_out = 0;
	if (errlen > 0)
		errbuf[0] = '\0';
	if (env == NULL || env->hostname == NULL || env->hostname[0] == '\0' ||
	    env->mail_from == NULL || from == NULL || keys == NULL ||
	    (env->nrecipients > 0 && env->recipients == NULL))
		return MOX_EINVAL;
	int64_t now = env->now != 0 ? env->now : (int64_t)time(NULL);
	size_t nerr = 0;
	mox_buf b = MOX_BUF_INIT;
	mox_err err = append_received(&b, env, now);
	size_t signed_from = b.len;

	/* RFC 6409 section 8.3 and RFC 5321 section 6.4: an MSA may add a
	 * missing Message-ID; mox does, as <random@hostname>. */
	if (err == MOX_OK && !header_has(msg, len, "Message-Id")) {
		char id[64];
		err = random_id(id, sizeof(id));
		if (err == MOX_OK)
			err = mox_buf_appendf(&b, "Message-Id: <%s@%s>\r\n", id,
			                      env->hostname);
	}
	/* RFC 6409 section 8.2: add a missing Date. */
	if (err == MOX_OK && !header_has(msg, len, "Date")) {
		err = mox_buf_append_str(&b, "Date: ");
		if (err == MOX_OK)
			err = append_date(&b, now);
		if (err == MOX_OK)
			err = mox_buf_append(&b, "\r\n", 2);
	}
	if (err == MOX_OK)
		err = append_dkim(&b, signed_from, env, from, keys, msg, len, now,
		                  &nerr, errbuf, errlen);
	/* RFC 8601 section 2.7.4: "auth" method, smtp.mailfrom property. */
	if (err == MOX_OK)
		err = mox_buf_appendf(
		    &b,
		    "Authentication-Results: %s;\r\n\tauth=pass smtp.mailfrom=%s\r\n",
		    env->hostname, env->mail_from);
	if (err != MOX_OK) {
		mox_buf_free(&b);
		return err;
	}
	if (dkim_errors_out != NULL)
		*dkim_errors_out = nerr;
	*prefix_out = mox_buf_steal(&b, prefix_len_out);
	return MOX_OK;
}

/* ---- queueing ---- */

bool
submit_has8bit(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] >= 0x80)
			return true;
	return false;
}

/* RFC 8689 section 5: "TLS-Required: No" asks senders to ignore TLS
 * policies, unless REQUIRETLS was given at MAIL. */
static bool
tls_required_no(const uint8_t *msg, size_t len)
{
	mox_msg_header *hdr = NULL;
	if (mox_msg_header_parse(msg, len, 0, NULL, &hdr, NULL, NULL) != MOX_OK)
		return false;
	bool no = false;
	const mox_msg_field *f = mox_msg_header_get(hdr, "TLS-Required", 0);
	if (f != NULL) {
		mox_buf v = MOX_BUF_INIT;
		if (mox_msg_field_unfold(f, &v) == MOX_OK && v.len == 2)
			no = lower((char)v.data[0]) == 'n' &&
			     lower((char)v.data[1]) == 'o';
		mox_buf_free(&v);
	}
	mox_msg_header_free(hdr);
	return no;
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mox_err
submit_enqueue(const submit_enqueue_req *req, submit_enqueue_result *res_out,
               submit_reply *reply)
{
	clear_reply(reply);
	submit_enqueue_result res;
	memset(&res, 0, sizeof(res));
	if (res_out != NULL)
		*res_out = res;
	if (req == NULL || req->cfg == NULL || req->qs == NULL ||
	    req->account == NULL || req->mail_from == NULL || req->nrecipients == 0 ||
	    req->recipients == NULL || (req->msg == NULL && req->len > 0)) {
		set_reply(reply, 451, "4.3.0", "error delivering message: %s",
		          "bad request");
		return MOX_EINVAL;
	}
	mox_err err = MOX_OK;
	const char **remote = calloc(req->nrecipients, sizeof(*remote));
	size_t *local = calloc(req->nrecipients, sizeof(*local));
	const mox_cfg_account **lacc = calloc(req->nrecipients, sizeof(*lacc));
	const mox_cfg_destination **ldest = calloc(req->nrecipients, sizeof(*ldest));
	if (remote == NULL || local == NULL || lacc == NULL || ldest == NULL) {
		set_reply(reply, 451, "4.3.0", "error delivering message: %s",
		          "out of memory");
		err = MOX_ENOMEM;
		goto out;
	}
	size_t nremote = 0, nlocal = 0;
	for (size_t i = 0; i < req->nrecipients; i++) {
		const mox_cfg_destination *dest = NULL;
		const mox_cfg_account *acc =
		    req->deliver != NULL
		        ? mox_config_address_find(req->cfg, req->recipients[i], &dest)
		        : NULL;
		if (acc != NULL) {
			lacc[nlocal] = acc;
			ldest[nlocal] = dest;
			local[nlocal++] = i;
		} else {
			remote[nremote++] = req->recipients[i];
		}
	}
	res.has8bit = submit_has8bit(req->prefix, req->prefix_len) ||
	              submit_has8bit(req->msg, req->len);
	int64_t now = req->now_ms != 0 ? req->now_ms : now_ms();

	if (nremote > 0) {
		queue_add_req q;
		memset(&q, 0, sizeof(q));
		q.sender_account = req->account;
		q.sender = req->mail_from;
		q.recipients = remote;
		q.nrecipients = nremote;
		q.has8bit = res.has8bit;
		q.smtputf8 = req->smtputf8;
		q.requiretls = req->requiretls ? QUEUE_REQUIRETLS_YES
		               : tls_required_no(req->msg, req->len)
		                   ? QUEUE_REQUIRETLS_NO
		                   : QUEUE_REQUIRETLS_DEFAULT;
		q.prefix = req->prefix;
		q.prefix_len = req->prefix_len;
		q.data = req->msg;
		q.data_len = req->len;
		q.transport = req->transport;
		q.dsn_notify = req->dsn_notify;
		q.dsn_envid = req->dsn_envid;
		q.dsn_orcpt = req->dsn_orcpt;
		q.dsn_ret_full = req->dsn_ret_full;
		/* RFC 4865 section 4: held until the release time. */
		q.release_at = req->release_at > 0 ? req->release_at * 1000 : 0;
		char qerr[256] = "";
		err = queue_store_add(req->qs, &q, now, NULL, qerr, sizeof(qerr));
		if (err != MOX_OK) {
			set_reply(reply, 451, "4.3.0", "error delivering message: %s",
			          qerr[0] != '\0' ? qerr : mox_strerror(err));
			goto out;
		}
		res.nqueued = nremote;
	}
	for (size_t k = 0; k < nlocal; k++) {
		char why[256] = "";
		if (req->deliver(req->deliver_arg, lacc[k], ldest[k],
		                 req->recipients[local[k]], req->prefix,
		                 req->prefix_len, req->msg, req->len, why,
		                 sizeof(why)) != 0) {
			set_reply(reply, 451, "4.3.0", "error delivering message: %s",
			          why[0] != '\0' ? why : "local delivery failed");
			err = MOX_EIO;
			goto out;
		}
		res.nlocal++;
	}
	if (req->save_sent != NULL) {
		char why[256] = "";
		if (req->save_sent(req->sent_arg, req->account, req->prefix,
		                   req->prefix_len, req->msg, req->len, why,
		                   sizeof(why)) != 0) {
			set_reply(reply, 451, "4.3.0", "error delivering message: %s",
			          why[0] != '\0' ? why : "saving to Sent failed");
			err = MOX_EIO;
			goto out;
		}
		res.sent_saved = true;
	}
out:
	free(remote);
	free(local);
	free(lacc);
	free(ldest);
	if (res_out != NULL)
		*res_out = res;
	return err;
}
