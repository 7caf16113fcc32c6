/* SASL server side.
 *
 * How this works: one handle per exchange and mechanism. The protocol core
 * feeds decoded client messages to mox_sasl_server_step and acts on the
 * status: CONTINUE (send the challenge), a request for the caller (check a
 * password, give a password or SCRAM secret), SUCCESS or FAILURE. The
 * mechanism's progress is `phase`; `st` says what the handle waits for, so
 * a call out of turn is MOX_ESTATE rather than a misstep.
 *
 *   PLAIN (RFC 4616 section 2): [initial] "authz NUL authc NUL passwd".
 *   LOGIN (draft-murchison-sasl-login-00): "Username:", "Password:".
 *   CRAM-MD5 (RFC 2195 section 2): challenge "<random.random@host>",
 *     response "user SP hex(HMAC-MD5(password, challenge))".
 *   SCRAM (RFC 5802 section 5): client-first, server-first (nonce, salt,
 *     iterations), client-final (channel binding, proof), server-final
 *     ("v=" signature or "e=" error), then an empty client message.
 *
 * A failed SCRAM proof is told to the client in the server-final message
 * ("e=invalid-proof") and becomes FAILURE at the client's next message, as
 * the exchange requires (RFC 5802 section 7, server-error). Passwords and
 * keys are wiped as soon as they are used, and at _free. */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

typedef enum sstate {
	ST_MSG = 0,  /* waiting for a client message */
	ST_VERDICT,  /* MOX_SASL_CHECK_PASSWORD given */
	ST_PASSWORD, /* MOX_SASL_NEED_PASSWORD given */
	ST_SCRAM,    /* MOX_SASL_NEED_SCRAM given */
	ST_DONE,
} sstate;

struct mox_sasl_server {
	const mox_allocator *alloc;
	mox_sasl_mech mech;
	sstate st;
	int phase;
	bool first; /* no message taken yet */
	mox_sasl_failure failure;
	mox_sasl_failure pending; /* SCRAM: told the client, fail at next message */
	mox_buf challenge;
	char *authc;
	char *authz;
	uint8_t *password;
	size_t password_len;
	char errmsg[160];

	char hostname[256];
	mox_sasl_random_fn random;
	void *random_arg;
	mox_sasl_cb_type cb_type;
	uint8_t cb_data[MOX_SASL_CB_DATA_MAX];
	size_t cb_len;
	bool plus_offered;
	char fixed_nonce[128];

	/* CRAM-MD5 */
	char cram_digest[33];

	/* SCRAM */
	mox__smtp_hash_alg alg;
	size_t hlen;
	mox_buf gs2header;
	mox_buf client_first_bare;
	mox_buf server_first;
	char nonce[256]; /* client nonce + server nonce */
	size_t cnonce_len;
	uint8_t stored_key[MOX__SMTP_HASH_MAX];
	uint8_t server_key[MOX__SMTP_HASH_MAX];
};

static bool
is_plus(mox_sasl_mech m)
{
	return (m & MOX_SASL_PLUS_MECHS) != 0;
}

mox_err
mox_sasl_server_new(mox_sasl_server **server_out, const mox_sasl_server_opts *opts)
{
	if (server_out == NULL)
		return MOX_EINVAL;
	*server_out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) ||
	    mox_sasl_mech_name(opts->mech) == NULL)
		return MOX_EINVAL;
	if (opts->cb_type != MOX_SASL_CB_NONE &&
	    (opts->cb_data == NULL || opts->cb_len == 0 ||
	     opts->cb_len > MOX_SASL_CB_DATA_MAX || mox__smtp_cb_name(opts->cb_type) == NULL))
		return MOX_EINVAL;
	if (is_plus(opts->mech) && opts->cb_type == MOX_SASL_CB_NONE)
		return MOX_EINVAL;
	if (opts->fixed_nonce != NULL &&
	    (strlen(opts->fixed_nonce) >= 128 ||
	     !mox__smtp_scram_nonce_valid(opts->fixed_nonce, strlen(opts->fixed_nonce))))
		return MOX_EINVAL;
	mox_sasl_server *s = mox_mem_calloc(opts->alloc, 1, sizeof(*s));
	if (s == NULL)
		return MOX_ENOMEM;
	s->alloc = opts->alloc;
	s->mech = opts->mech;
	s->first = true;
	mox_buf_init(&s->challenge, opts->alloc);
	mox_buf_init(&s->gs2header, opts->alloc);
	mox_buf_init(&s->client_first_bare, opts->alloc);
	mox_buf_init(&s->server_first, opts->alloc);
	snprintf(s->hostname, sizeof(s->hostname), "%s",
		 opts->hostname != NULL ? opts->hostname : "localhost");
	s->random = opts->random;
	s->random_arg = opts->random_arg;
	s->cb_type = opts->cb_type;
	if (opts->cb_type != MOX_SASL_CB_NONE) {
		memcpy(s->cb_data, opts->cb_data, opts->cb_len);
		s->cb_len = opts->cb_len;
	}
	s->plus_offered = opts->plus_offered && opts->cb_type != MOX_SASL_CB_NONE;
	if (opts->fixed_nonce != NULL)
		snprintf(s->fixed_nonce, sizeof(s->fixed_nonce), "%s", opts->fixed_nonce);
	if (s->mech == MOX_SASL_SCRAM_SHA_1 || s->mech == MOX_SASL_SCRAM_SHA_1_PLUS)
		s->alg = MOX__SMTP_SHA1;
	else
		s->alg = MOX__SMTP_SHA256;
	s->hlen = mox__smtp_hash_len(s->alg);
	*server_out = s;
	return MOX_OK;
}

static void
wipe_password(mox_sasl_server *s)
{
	if (s->password != NULL) {
		mox_mem_wipe(s->password, s->password_len);
		mox_mem_free(s->alloc, s->password);
		s->password = NULL;
	}
	s->password_len = 0;
}

static void
wipe_buf(mox_buf *b)
{
	if (b->data != NULL)
		mox_mem_wipe(b->data, b->cap);
	mox_buf_free(b);
}

void
mox_sasl_server_free(mox_sasl_server *s)
{
	if (s == NULL)
		return;
	wipe_password(s);
	wipe_buf(&s->challenge);
	wipe_buf(&s->gs2header);
	wipe_buf(&s->client_first_bare);
	wipe_buf(&s->server_first);
	mox_mem_free(s->alloc, s->authc);
	mox_mem_free(s->alloc, s->authz);
	const mox_allocator *a = s->alloc;
	mox_mem_wipe(s, sizeof(*s));
	mox_mem_free(a, s);
}

static mox_sasl_status
fail(mox_sasl_server *s, mox_sasl_failure f, const char *msg)
{
	s->failure = f;
	s->st = ST_DONE;
	snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
	wipe_password(s);
	mox_mem_wipe(s->stored_key, sizeof(s->stored_key));
	mox_mem_wipe(s->server_key, sizeof(s->server_key));
	return MOX_SASL_FAILURE;
}

static mox_sasl_status
success(mox_sasl_server *s)
{
	s->st = ST_DONE;
	wipe_password(s);
	mox_mem_wipe(s->stored_key, sizeof(s->stored_key));
	mox_mem_wipe(s->server_key, sizeof(s->server_key));
	return MOX_SASL_SUCCESS;
}

/* Set the challenge; MOX_ENOMEM leaves it empty. */
static mox_err
set_challenge(mox_sasl_server *s, const void *data, size_t len)
{
	mox_buf_reset(&s->challenge);
	return mox_buf_append(&s->challenge, data, len);
}

static mox_err
dup_name(mox_sasl_server *s, char **dst, const uint8_t *p, size_t n)
{
	char *d = mox_mem_strndup(s->alloc, (const char *)p, n);
	if (d == NULL)
		return MOX_ENOMEM;
	mox_mem_free(s->alloc, *dst);
	*dst = d;
	return MOX_OK;
}

static mox_err
set_password(mox_sasl_server *s, const uint8_t *p, size_t n)
{
	uint8_t *d = mox_mem_alloc(s->alloc, n + 1);
	if (d == NULL)
		return MOX_ENOMEM;
	memcpy(d, p, n);
	d[n] = 0;
	wipe_password(s);
	s->password = d;
	s->password_len = n;
	return MOX_OK;
}

/* ---- PLAIN ---- */

/* RFC 4616 section 2:
 *   message = [authzid] UTF8NUL authcid UTF8NUL passwd
 *   authcid, passwd = 1*SAFE ; MUST accept up to 255 octets */
static mox_err
plain_msg(mox_sasl_server *s, const uint8_t *d, size_t n, mox_sasl_status *st)
{
	const uint8_t *nul1 = memchr(d, 0, n);
	const uint8_t *nul2 = nul1 != NULL ? memchr(nul1 + 1, 0, n - (size_t)(nul1 + 1 - d)) : NULL;
	if (nul1 == NULL || nul2 == NULL ||
	    memchr(nul2 + 1, 0, n - (size_t)(nul2 + 1 - d)) != NULL) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED,
			   "PLAIN message needs 3 NUL-separated tokens");
		return MOX_OK;
	}
	size_t zlen = (size_t)(nul1 - d), clen = (size_t)(nul2 - nul1 - 1);
	size_t plen = n - (size_t)(nul2 + 1 - d);
	if (clen == 0 || plen == 0 || clen > MOX_SASL_NAME_MAX || zlen > MOX_SASL_NAME_MAX ||
	    plen > MOX_SASL_PASSWORD_MAX || !mox__smtp_utf8_valid(d, n)) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad PLAIN username or password");
		return MOX_OK;
	}
	if (dup_name(s, &s->authz, d, zlen) != MOX_OK ||
	    dup_name(s, &s->authc, nul1 + 1, clen) != MOX_OK ||
	    set_password(s, nul2 + 1, plen) != MOX_OK)
		return MOX_ENOMEM;
	if (zlen > 0 && (zlen != clen || memcmp(d, nul1 + 1, zlen) != 0)) {
		*st = fail(s, MOX_SASL_FAIL_AUTHZ, "cannot assume other role");
		return MOX_OK;
	}
	s->st = ST_VERDICT;
	*st = MOX_SASL_CHECK_PASSWORD;
	return MOX_OK;
}

/* ---- LOGIN ---- */

static mox_err
login_msg(mox_sasl_server *s, const uint8_t *d, size_t n, bool has, mox_sasl_status *st)
{
	if (s->phase == 0) {
		if (!has) {
			if (set_challenge(s, "Username:", 9) != MOX_OK)
				return MOX_ENOMEM;
			s->phase = 0;
			s->first = false;
			*st = MOX_SASL_CONTINUE;
			return MOX_OK;
		}
		if (n == 0 || n > MOX_SASL_NAME_MAX || memchr(d, 0, n) != NULL ||
		    !mox__smtp_utf8_valid(d, n)) {
			*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad LOGIN username");
			return MOX_OK;
		}
		if (set_challenge(s, "Password:", 9) != MOX_OK ||
		    dup_name(s, &s->authc, d, n) != MOX_OK ||
		    dup_name(s, &s->authz, d, 0) != MOX_OK)
			return MOX_ENOMEM;
		s->phase = 1;
		*st = MOX_SASL_CONTINUE;
		return MOX_OK;
	}
	if (n == 0 || n > MOX_SASL_PASSWORD_MAX || memchr(d, 0, n) != NULL) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad LOGIN password");
		return MOX_OK;
	}
	if (set_password(s, d, n) != MOX_OK)
		return MOX_ENOMEM;
	s->st = ST_VERDICT;
	*st = MOX_SASL_CHECK_PASSWORD;
	return MOX_OK;
}

/* ---- CRAM-MD5 ---- */

static mox_err
cram_msg(mox_sasl_server *s, const uint8_t *d, size_t n, bool has, mox_sasl_status *st)
{
	if (s->phase == 0) {
		if (has) {
			/* RFC 2195 has no initial response. */
			*st = fail(s, MOX_SASL_FAIL_MALFORMED,
				   "CRAM-MD5 takes no initial response");
			return MOX_OK;
		}
		/* RFC 2195 section 2: "<" random digits "." timestamp "@"
		 * hostname ">"; we use two random numbers. Memory first, so
		 * a retry after ENOMEM draws no more random bytes. */
		if (mox_buf_reserve(&s->challenge, 400) != MOX_OK)
			return MOX_ENOMEM;
		uint64_t r[2];
		mox_err err = mox__smtp_random(s->random, s->random_arg, (uint8_t *)r, sizeof(r));
		if (err != MOX_OK)
			return err;
		char chal[400];
		int cn = snprintf(chal, sizeof(chal), "<%llu.%llu@%s>", (unsigned long long)r[0],
				  (unsigned long long)r[1], s->hostname);
		if (set_challenge(s, chal, (size_t)cn) != MOX_OK)
			return MOX_ENOMEM;
		s->phase = 1;
		*st = MOX_SASL_CONTINUE;
		return MOX_OK;
	}
	/* response = user SP digest; digest = 32 lower-case hex digits. */
	const uint8_t *sp = NULL;
	for (size_t i = n; i > 0; i--) {
		if (d[i - 1] == ' ') {
			sp = d + i - 1;
			break;
		}
	}
	size_t ulen = sp != NULL ? (size_t)(sp - d) : 0;
	if (sp == NULL || ulen == 0 || ulen > MOX_SASL_NAME_MAX || n - ulen - 1 != 32 ||
	    memchr(d, 0, n) != NULL || !mox__smtp_utf8_valid(d, ulen)) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed CRAM-MD5 response");
		return MOX_OK;
	}
	for (size_t i = 0; i < 32; i++) {
		uint8_t c = sp[1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed CRAM-MD5 digest");
			return MOX_OK;
		}
		s->cram_digest[i] = (char)((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
	}
	s->cram_digest[32] = 0;
	if (dup_name(s, &s->authc, d, ulen) != MOX_OK || dup_name(s, &s->authz, d, 0) != MOX_OK)
		return MOX_ENOMEM;
	s->st = ST_PASSWORD;
	*st = MOX_SASL_NEED_PASSWORD;
	return MOX_OK;
}

/* ---- SCRAM ---- */

/* RFC 5802 section 7:
 *   client-first-message = gs2-header client-first-message-bare
 *   gs2-header = gs2-cbind-flag "," [ authzid ] ","
 *   gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
 *   client-first-message-bare = [reserved-mext ","] username "," nonce
 *                               ["," extensions] */
static mox_err
scram_client_first(mox_sasl_server *s, const uint8_t *d, size_t n, mox_sasl_status *st)
{
	const char *m = (const char *)d;
	if (memchr(d, 0, n) != NULL) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "NUL in client-first-message");
		return MOX_OK;
	}
	size_t p = 0;
	bool binding = false;
	if (n >= 1 && m[0] == 'n') {
		if (is_plus(s->mech)) {
			*st = fail(s, MOX_SASL_FAIL_CHANNEL_BINDING,
				   "-PLUS mechanism without channel binding");
			return MOX_OK;
		}
		p = 1;
	} else if (n >= 1 && m[0] == 'y') {
		/* The client supports channel binding but thinks we do not:
		 * if we offered -PLUS, someone removed it (RFC 5802 section 6). */
		if (s->plus_offered) {
			*st = fail(s, MOX_SASL_FAIL_CHANNEL_BINDING,
				   "client believes server lacks channel binding (downgrade?)");
			return MOX_OK;
		}
		if (is_plus(s->mech)) {
			*st = fail(s, MOX_SASL_FAIL_CHANNEL_BINDING,
				   "-PLUS mechanism without channel binding");
			return MOX_OK;
		}
		p = 1;
	} else if (n >= 2 && m[0] == 'p' && m[1] == '=') {
		size_t e = 2;
		while (e < n && m[e] != ',')
			e++;
		const char *want = mox__smtp_cb_name(s->cb_type);
		if (want == NULL) {
			*st = fail(s, MOX_SASL_FAIL_CHANNEL_BINDING,
				   "channel binding requested without TLS");
			return MOX_OK;
		}
		if (e - 2 != strlen(want) || memcmp(m + 2, want, e - 2) != 0) {
			*st = fail(s, MOX_SASL_FAIL_UNSUPPORTED,
				   "unsupported channel binding type");
			return MOX_OK;
		}
		/* Like mox, accept binding with the non-PLUS name too (cyrus
		 * clients do that). */
		binding = true;
		p = e;
	} else {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad gs2 channel binding flag");
		return MOX_OK;
	}
	(void)binding;
	if (p >= n || m[p] != ',') {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed gs2 header");
		return MOX_OK;
	}
	p++;
	char *authz = NULL;
	if (p < n && m[p] != ',') {
		if (n - p < 2 || m[p] != 'a' || m[p + 1] != '=') {
			*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed authzid");
			return MOX_OK;
		}
		size_t e = p + 2;
		while (e < n && m[e] != ',')
			e++;
		mox_err err = mox__smtp_saslname_decode(s->alloc, m + p + 2, e - p - 2, &authz);
		if (err == MOX_ENOMEM)
			return err;
		if (err != MOX_OK) {
			*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad authzid");
			return MOX_OK;
		}
		p = e;
	}
	if (p >= n || m[p] != ',') {
		mox_mem_free(s->alloc, authz);
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed gs2 header");
		return MOX_OK;
	}
	p++;
	mox_err err = MOX_OK;
	char *authc = NULL;
	mox_buf_reset(&s->gs2header);
	mox_buf_reset(&s->client_first_bare);
	if (mox_buf_append(&s->gs2header, m, p) != MOX_OK ||
	    mox_buf_append(&s->client_first_bare, m + p, n - p) != MOX_OK) {
		err = MOX_ENOMEM;
		goto out;
	}
	mox__smtp_scram_attr at;
	bool bad;
	size_t q = p;
	if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad)) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing username");
		goto out;
	}
	if (at.name == 'm') {
		/* RFC 5802 section 5.1: mandatory extensions we do not know
		 * fail the exchange. */
		*st = fail(s, MOX_SASL_FAIL_UNSUPPORTED, "mandatory extension not supported");
		goto out;
	}
	if (at.name != 'n') {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing username");
		goto out;
	}
	err = mox__smtp_saslname_decode(s->alloc, at.value, at.len, &authc);
	if (err == MOX_ENOMEM)
		goto out;
	err = MOX_OK;
	if (authc == NULL) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad username");
		goto out;
	}
	/* The username must be in NFC already (RFC 5802 section 5.1 asks for
	 * SASLprep; mox and we use NFC). */
	uint8_t *norm = NULL;
	size_t nlen = 0;
	err = mox__smtp_nfc(s->alloc, (const uint8_t *)authc, strlen(authc), &norm, &nlen);
	if (err == MOX_ENOMEM)
		goto out;
	bool isnfc = err == MOX_OK && nlen == strlen(authc) && memcmp(norm, authc, nlen) == 0;
	mox_mem_free(s->alloc, norm);
	err = MOX_OK;
	if (!isnfc || (authz != NULL && !mox__smtp_utf8_valid((const uint8_t *)authz, strlen(authz)))) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "username not in unicode NFC");
		goto out;
	}
	if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad) || at.name != 'r' ||
	    !mox__smtp_scram_nonce_valid(at.value, at.len)) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing or bad nonce");
		goto out;
	}
	if (at.len < 8 || at.len + 128 > sizeof(s->nonce)) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "client nonce too short or long");
		goto out;
	}
	memcpy(s->nonce, at.value, at.len);
	s->nonce[at.len] = 0;
	s->cnonce_len = at.len;
	/* Extensions we do not know are ignored (RFC 5802 section 5). */
	while (mox__smtp_scram_next_attr(m, n, &q, &at, &bad))
		;
	if (bad) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "malformed extension");
		goto out;
	}
	mox_mem_free(s->alloc, s->authc);
	mox_mem_free(s->alloc, s->authz);
	s->authc = authc;
	authc = NULL;
	if (authz != NULL) {
		s->authz = authz;
		authz = NULL;
	} else {
		s->authz = mox_mem_strdup(s->alloc, "");
		if (s->authz == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
	}
	if (s->authz[0] != 0 && strcmp(s->authz, s->authc) != 0) {
		*st = fail(s, MOX_SASL_FAIL_AUTHZ,
			   "authentication with authorization for different user not supported");
		goto out;
	}
	s->st = ST_SCRAM;
	*st = MOX_SASL_NEED_SCRAM;
out:
	mox_mem_free(s->alloc, authc);
	mox_mem_free(s->alloc, authz);
	return err;
}

/*   client-final-message = channel-binding "," nonce ["," extensions] "," proof */
static mox_err
scram_client_final(mox_sasl_server *s, const uint8_t *d, size_t n, mox_sasl_status *st)
{
	const char *m = (const char *)d;
	mox_err err = MOX_OK;
	mox_buf cb = MOX_BUF_INIT, expect = MOX_BUF_INIT, proof = MOX_BUF_INIT, out = MOX_BUF_INIT;
	mox_buf_init(&cb, s->alloc);
	mox_buf_init(&expect, s->alloc);
	mox_buf_init(&proof, s->alloc);
	mox_buf_init(&out, s->alloc);
	uint8_t sig[MOX__SMTP_HASH_MAX], key[MOX__SMTP_HASH_MAX], check[MOX__SMTP_HASH_MAX];
	if (memchr(d, 0, n) != NULL) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "NUL in client-final-message");
		goto out;
	}
	size_t q = 0, without_proof = 0;
	mox__smtp_scram_attr at;
	bool bad, have_proof = false;
	if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad) || at.name != 'c') {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing channel binding");
		goto out;
	}
	err = mox_base64_decode(&cb, at.value, at.len, 0, NULL);
	if (err == MOX_ENOMEM)
		goto out;
	if (err != MOX_OK) {
		err = MOX_OK;
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "bad channel binding base64");
		goto out;
	}
	if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad) || at.name != 'r') {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing nonce");
		goto out;
	}
	bool nonce_ok = at.len == strlen(s->nonce) && memcmp(at.value, s->nonce, at.len) == 0;
	for (;;) {
		size_t before = q;
		if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad))
			break;
		if (at.name == 'p') {
			without_proof = before - 1;
			have_proof = true;
			err = mox_base64_decode(&proof, at.value, at.len, 0, NULL);
			if (err == MOX_ENOMEM)
				goto out;
			err = MOX_OK;
			if (q != n) {
				bad = true;
				break;
			}
			break;
		}
	}
	if (bad || !have_proof || proof.len != s->hlen) {
		*st = fail(s, MOX_SASL_FAIL_MALFORMED, "missing or bad proof");
		goto out;
	}
	/* The channel binding is the gs2 header and the binding data
	 * (RFC 5802 section 7, cbind-input). */
	if (mox_buf_append(&expect, s->gs2header.data, s->gs2header.len) != MOX_OK) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (s->gs2header.len > 0 && s->gs2header.data[0] == 'p' &&
	    mox_buf_append(&expect, s->cb_data, s->cb_len) != MOX_OK) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (cb.len != expect.len || !mox__smtp_ct_equal(cb.data, expect.data, cb.len)) {
		if (set_challenge(s, "e=channel-bindings-dont-match", 29) != MOX_OK) {
			err = MOX_ENOMEM;
			goto out;
		}
		s->pending = MOX_SASL_FAIL_CHANNEL_BINDING;
		snprintf(s->errmsg, sizeof(s->errmsg), "channel bindings do not match");
		s->phase = 3;
		*st = MOX_SASL_CONTINUE;
		goto out;
	}
	/* AuthMessage = client-first-message-bare "," server-first-message ","
	 *               client-final-message-without-proof */
	mox_buf auth = MOX_BUF_INIT;
	mox_buf_init(&auth, s->alloc);
	if (mox_buf_append(&auth, s->client_first_bare.data, s->client_first_bare.len) != MOX_OK ||
	    mox_buf_append_byte(&auth, ',') != MOX_OK ||
	    mox_buf_append(&auth, s->server_first.data, s->server_first.len) != MOX_OK ||
	    mox_buf_append_byte(&auth, ',') != MOX_OK ||
	    mox_buf_append(&auth, m, without_proof) != MOX_OK) {
		mox_buf_free(&auth);
		err = MOX_ENOMEM;
		goto out;
	}
	/* ClientSignature = HMAC(StoredKey, AuthMessage); ClientKey =
	 * ClientProof XOR ClientSignature; valid if H(ClientKey) ==
	 * StoredKey. ServerSignature = HMAC(ServerKey, AuthMessage). */
	err = mox__smtp_hmac(s->alg, s->stored_key, s->hlen, auth.data, auth.len, sig);
	if (err == MOX_OK) {
		for (size_t i = 0; i < s->hlen; i++)
			key[i] = proof.data[i] ^ sig[i];
		err = mox__smtp_hash(s->alg, key, s->hlen, check);
	}
	if (err == MOX_OK)
		err = mox__smtp_hmac(s->alg, s->server_key, s->hlen, auth.data, auth.len, sig);
	mox_buf_free(&auth);
	if (err != MOX_OK)
		goto out;
	if (!nonce_ok || !mox__smtp_ct_equal(check, s->stored_key, s->hlen)) {
		if (set_challenge(s, "e=invalid-proof", 15) != MOX_OK) {
			err = MOX_ENOMEM;
			goto out;
		}
		s->pending = MOX_SASL_FAIL_BAD_CREDENTIALS;
		snprintf(s->errmsg, sizeof(s->errmsg), "invalid proof");
		s->phase = 3;
		*st = MOX_SASL_CONTINUE;
		goto out;
	}
	if (mox_buf_append_str(&out, "v=") != MOX_OK ||
	    mox_base64_encode(&out, sig, s->hlen) != MOX_OK ||
	    set_challenge(s, out.data, out.len) != MOX_OK) {
		err = MOX_ENOMEM;
		goto out;
	}
	s->phase = 3;
	*st = MOX_SASL_CONTINUE;
out:
	mox_mem_wipe(sig, sizeof(sig));
	mox_mem_wipe(key, sizeof(key));
	mox_mem_wipe(check, sizeof(check));
	mox_buf_free(&cb);
	mox_buf_free(&expect);
	wipe_buf(&proof);
	mox_buf_free(&out);
	return err;
}

static mox_err
scram_msg(mox_sasl_server *s, const uint8_t *d, size_t n, bool has, mox_sasl_status *st)
{
	switch (s->phase) {
	case 0:
		if (!has) {
			/* No initial response: an empty challenge asks for
			 * the client-first-message. */
			if (set_challenge(s, "", 0) != MOX_OK)
				return MOX_ENOMEM;
			*st = MOX_SASL_CONTINUE;
			return MOX_OK;
		}
		return scram_client_first(s, d, n, st);
	case 2:
		return scram_client_final(s, d, n, st);
	case 3:
		/* After the server-final-message the client sends nothing
		 * of interest; this is where a told failure becomes one. */
		if (s->pending != MOX_SASL_FAIL_NONE) {
			char msg[160];
			snprintf(msg, sizeof(msg), "%s", s->errmsg);
			*st = fail(s, s->pending, msg);
			return MOX_OK;
		}
		*st = success(s);
		return MOX_OK;
	default:
		return MOX_ESTATE;
	}
}

mox_err
mox_sasl_server_step(mox_sasl_server *s, const uint8_t *data, size_t len, bool has_data,
		     mox_sasl_status *status_out)
{
	if (s == NULL || status_out == NULL || (has_data && data == NULL && len > 0))
		return MOX_EINVAL;
	if (s->st != ST_MSG)
		return MOX_ESTATE;
	if (!s->first && !has_data)
		return MOX_EINVAL;
	if (data == NULL)
		data = (const uint8_t *)"";
	mox_err err;
	bool first = s->first;
	s->first = false;
	switch (s->mech) {
	case MOX_SASL_PLAIN:
		if (!has_data) {
			err = set_challenge(s, "", 0);
			if (err == MOX_OK)
				*status_out = MOX_SASL_CONTINUE;
		} else {
			err = plain_msg(s, data, len, status_out);
		}
		break;
	case MOX_SASL_LOGIN:
		err = login_msg(s, data, len, has_data, status_out);
		break;
	case MOX_SASL_CRAM_MD5:
		err = cram_msg(s, data, len, has_data, status_out);
		break;
	default:
		err = scram_msg(s, data, len, has_data, status_out);
		break;
	}
	if (err != MOX_OK)
		s->first = first;
	return err;
}

mox_err
mox_sasl_server_verdict(mox_sasl_server *s, bool ok, mox_sasl_status *status_out)
{
	if (s == NULL || status_out == NULL)
		return MOX_EINVAL;
	if (s->st == ST_PASSWORD) {
		/* An unknown user, or the caller's own check of the CRAM-MD5
		 * digest from stored HMAC states (RFC 2195 section 2). */
		*status_out = ok ? success(s)
				 : fail(s, MOX_SASL_FAIL_BAD_CREDENTIALS, "bad user/pass");
		return MOX_OK;
	}
	if (s->st != ST_VERDICT)
		return MOX_ESTATE;
	*status_out = ok ? success(s) : fail(s, MOX_SASL_FAIL_BAD_CREDENTIALS, "bad user/pass");
	return MOX_OK;
}

mox_err
mox_sasl_server_cram_md5(const mox_sasl_server *s, const uint8_t **challenge_out,
			 size_t *challenge_len_out, const char **digest_out)
{
	if (s == NULL || challenge_out == NULL || challenge_len_out == NULL || digest_out == NULL)
		return MOX_EINVAL;
	*challenge_out = NULL;
	*challenge_len_out = 0;
	*digest_out = NULL;
	if (s->st != ST_PASSWORD || s->mech != MOX_SASL_CRAM_MD5)
		return MOX_ESTATE;
	*challenge_out = s->challenge.data != NULL ? s->challenge.data : (const uint8_t *)"";
	*challenge_len_out = s->challenge.len;
	*digest_out = s->cram_digest;
	return MOX_OK;
}

mox_err
mox_sasl_server_set_password(mox_sasl_server *s, const uint8_t *password, size_t len,
			     mox_sasl_status *status_out)
{
	if (s == NULL || status_out == NULL || (password == NULL && len > 0))
		return MOX_EINVAL;
	if (s->st != ST_PASSWORD)
		return MOX_ESTATE;
	char digest[33];
	const uint8_t *chal = s->challenge.data != NULL ? s->challenge.data : (const uint8_t *)"";
	mox_err err = mox_sasl_cram_md5_digest(password != NULL ? password : (const uint8_t *)"",
					       len, chal, s->challenge.len, digest);
	if (err != MOX_OK)
		return err;
	bool ok = mox__smtp_ct_equal((const uint8_t *)digest, (const uint8_t *)s->cram_digest, 32);
	mox_mem_wipe(digest, sizeof(digest));
	*status_out = ok ? success(s) : fail(s, MOX_SASL_FAIL_BAD_CREDENTIALS, "bad user/pass");
	return MOX_OK;
}

mox_err
mox_sasl_server_set_scram(mox_sasl_server *s, const mox_sasl_scram_secret *secret,
			  mox_sasl_status *status_out)
{
	if (s == NULL || status_out == NULL)
		return MOX_EINVAL;
	if (s->st != ST_SCRAM)
		return MOX_ESTATE;
	mox_sasl_scram_secret fake;
	mox_err err = MOX_OK;
	mox_buf sf = MOX_BUF_INIT;
	mox_buf_init(&sf, s->alloc);
	/* Memory first, so a retry after ENOMEM draws no more random bytes. */
	if (mox_buf_reserve(&sf, 512) != MOX_OK || mox_buf_reserve(&s->challenge, 512) != MOX_OK) {
		mox_buf_free(&sf);
		return MOX_ENOMEM;
	}
	memset(&fake, 0, sizeof(fake));
	if (secret == NULL) {
		/* Unknown user: go on with made-up values that no proof
		 * matches. */
		fake.salt_len = 16;
		fake.iterations = 4096;
		fake.salted_password_len = s->hlen;
		err = mox__smtp_random(s->random, s->random_arg, fake.salt, fake.salt_len);
		if (err == MOX_OK)
			err = mox__smtp_random(s->random, s->random_arg, fake.salted_password,
					       s->hlen);
		if (err != MOX_OK)
			goto out;
		secret = &fake;
	}
	bool keys_only = secret->salted_password_len == 0 && secret->keys_len == s->hlen;
	if ((!keys_only && secret->salted_password_len != s->hlen) || secret->salt_len == 0 ||
	    secret->salt_len > MOX_SASL_SCRAM_SALT_MAX || secret->iterations == 0) {
		err = MOX_EINVAL;
		goto out;
	}
	char snonce[128];
	if (s->fixed_nonce[0] != 0) {
		snprintf(snonce, sizeof(snonce), "%s", s->fixed_nonce);
	} else {
		err = mox__smtp_scram_nonce(s->random, s->random_arg, snonce, sizeof(snonce));
		if (err != MOX_OK)
			goto out;
	}
	/* server-first-message = [reserved-mext ","] nonce "," salt ","
	 *                        iteration-count ["," extensions] */
	if (mox_buf_appendf(&sf, "r=%.*s%s,s=", (int)s->cnonce_len, s->nonce, snonce) != MOX_OK ||
	    mox_base64_encode(&sf, secret->salt, secret->salt_len) != MOX_OK ||
	    mox_buf_appendf(&sf, ",i=%u", (unsigned)secret->iterations) != MOX_OK ||
	    set_challenge(s, sf.data, sf.len) != MOX_OK) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (keys_only) {
		memcpy(s->stored_key, secret->stored_key, s->hlen);
		memcpy(s->server_key, secret->server_key, s->hlen);
	} else {
		err = mox__smtp_scram_keys(s->alg, secret->salted_password, s->hlen, NULL,
					   s->stored_key, s->server_key);
		if (err != MOX_OK)
			goto out;
	}
	mox_buf_free(&s->server_first);
	s->server_first = sf;
	snprintf(s->nonce + s->cnonce_len, sizeof(s->nonce) - s->cnonce_len, "%s", snonce);
	mox_buf_init(&sf, s->alloc);
	s->phase = 2;
	s->st = ST_MSG;
	*status_out = MOX_SASL_CONTINUE;
out:
	mox_buf_free(&sf);
	mox_mem_wipe(&fake, sizeof(fake));
	return err;
}

const uint8_t *
mox_sasl_server_challenge(const mox_sasl_server *s, size_t *len_out)
{
	if (len_out != NULL)
		*len_out = s != NULL ? s->challenge.len : 0;
	if (s == NULL || s->challenge.data == NULL)
		return (const uint8_t *)"";
	return s->challenge.data;
}

const char *
mox_sasl_server_authc(const mox_sasl_server *s)
{
	return s != NULL ? s->authc : NULL;
}

const char *
mox_sasl_server_authz(const mox_sasl_server *s)
{
	return s != NULL && s->authz != NULL ? s->authz : "";
}

const uint8_t *
mox_sasl_server_password(const mox_sasl_server *s, size_t *len_out)
{
	if (len_out != NULL)
		*len_out = s != NULL ? s->password_len : 0;
	return s != NULL ? s->password : NULL;
}

mox_sasl_failure
mox_sasl_server_failure(const mox_sasl_server *s)
{
	return s != NULL ? s->failure : MOX_SASL_FAIL_NONE;
}

const char *
mox_sasl_server_errmsg(const mox_sasl_server *s)
{
	return s != NULL ? s->errmsg : "";
}

bool
mox__smtp_sasl_told_failure(const mox_sasl_server *s)
{
	return s != NULL && s->st == ST_MSG && s->pending != MOX_SASL_FAIL_NONE;
}
