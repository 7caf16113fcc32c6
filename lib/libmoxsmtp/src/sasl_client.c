/* SASL client side: the same mechanisms as the server (sasl_server.c), for
 * the SMTP client (queue delivery to smarthosts) and tests.
 *
 * start gives the initial response if the mechanism has one; each step
 * takes a decoded challenge and gives the response. SCRAM checks the
 * server's nonce, salt and iteration count before spending CPU on them,
 * and the server signature at the end: done() is true only after that, so
 * a server that replies success without proving it knows the password is
 * caught. */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

struct mox_sasl_client {
	const mox_allocator *alloc;
	mox_sasl_mech mech;
	int phase;
	bool done;
	bool failed;
	char *authc;
	char *authz;
	uint8_t *password;
	size_t password_len;
	mox_sasl_cb_type cb_type;
	uint8_t cb_data[MOX_SASL_CB_DATA_MAX];
	size_t cb_len;
	bool server_lacks_plus;
	mox_sasl_random_fn random;
	void *random_arg;
	char fixed_nonce[128];
	char errmsg[160];

	/* SCRAM */
	mox__smtp_hash_alg alg;
	size_t hlen;
	mox_buf gs2header;
	mox_buf client_first_bare;
	char cnonce[128];
	uint8_t server_sig[MOX__SMTP_HASH_MAX];
};

static bool
is_plus(mox_sasl_mech m)
{
	return (m & MOX_SASL_PLUS_MECHS) != 0;
}

static void
wipe_pw(mox_sasl_client *c)
{
	if (c->password != NULL) {
		mox_mem_wipe(c->password, c->password_len);
		mox_mem_free(c->alloc, c->password);
		c->password = NULL;
	}
	c->password_len = 0;
}

mox_err
mox_sasl_client_new(mox_sasl_client **client_out, const mox_sasl_client_opts *opts)
{
	if (client_out == NULL)
		return MOX_EINVAL;
	*client_out = NULL;
	if (opts == NULL || opts->size < sizeof(*opts) ||
	    mox_sasl_mech_name(opts->mech) == NULL || opts->authc == NULL ||
	    opts->authc[0] == 0 || strlen(opts->authc) > MOX_SASL_NAME_MAX ||
	    (opts->authz != NULL && strlen(opts->authz) > MOX_SASL_NAME_MAX) ||
	    (opts->password == NULL && opts->password_len > 0) ||
	    opts->password_len > MOX_SASL_PASSWORD_MAX)
		return MOX_EINVAL;
	if (is_plus(opts->mech) &&
	    (mox__smtp_cb_name(opts->cb_type) == NULL || opts->cb_data == NULL ||
	     opts->cb_len == 0 || opts->cb_len > MOX_SASL_CB_DATA_MAX))
		return MOX_EINVAL;
	if (opts->fixed_nonce != NULL &&
	    (strlen(opts->fixed_nonce) >= 128 ||
	     !mox__smtp_scram_nonce_valid(opts->fixed_nonce, strlen(opts->fixed_nonce))))
		return MOX_EINVAL;
	mox_sasl_client *c = mox_mem_calloc(opts->alloc, 1, sizeof(*c));
	if (c == NULL)
		return MOX_ENOMEM;
	c->alloc = opts->alloc;
	c->mech = opts->mech;
	mox_buf_init(&c->gs2header, opts->alloc);
	mox_buf_init(&c->client_first_bare, opts->alloc);
	c->authc = mox_mem_strdup(opts->alloc, opts->authc);
	c->authz = mox_mem_strdup(opts->alloc, opts->authz != NULL ? opts->authz : "");
	c->password = mox_mem_alloc(opts->alloc, opts->password_len + 1);
	if (c->authc == NULL || c->authz == NULL || c->password == NULL) {
		mox_sasl_client_free(c);
		return MOX_ENOMEM;
	}
	if (opts->password_len > 0)
		memcpy(c->password, opts->password, opts->password_len);
	c->password[opts->password_len] = 0;
	c->password_len = opts->password_len;
	if (is_plus(c->mech)) {
		c->cb_type = opts->cb_type;
		memcpy(c->cb_data, opts->cb_data, opts->cb_len);
		c->cb_len = opts->cb_len;
	}
	c->server_lacks_plus = opts->server_lacks_plus;
	c->random = opts->random;
	c->random_arg = opts->random_arg;
	if (opts->fixed_nonce != NULL)
		snprintf(c->fixed_nonce, sizeof(c->fixed_nonce), "%s", opts->fixed_nonce);
	if (c->mech == MOX_SASL_SCRAM_SHA_1 || c->mech == MOX_SASL_SCRAM_SHA_1_PLUS)
		c->alg = MOX__SMTP_SHA1;
	else
		c->alg = MOX__SMTP_SHA256;
	c->hlen = mox__smtp_hash_len(c->alg);
	*client_out = c;
	return MOX_OK;
}

void
mox_sasl_client_free(mox_sasl_client *c)
{
	if (c == NULL)
		return;
	wipe_pw(c);
	mox_buf_free(&c->gs2header);
	mox_buf_free(&c->client_first_bare);
	mox_mem_free(c->alloc, c->authc);
	mox_mem_free(c->alloc, c->authz);
	const mox_allocator *a = c->alloc;
	mox_mem_wipe(c, sizeof(*c));
	mox_mem_free(a, c);
}

static mox_err
cfail(mox_sasl_client *c, mox_err err, const char *msg)
{
	c->failed = true;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg);
	wipe_pw(c);
	return err;
}

static bool
is_scram(mox_sasl_mech m)
{
	return m >= MOX_SASL_SCRAM_SHA_1;
}

/* RFC 5802 section 7: gs2-header client-first-message-bare. */
static mox_err
scram_first(mox_sasl_client *c, mox_buf *out)
{
	mox_err err;
	if (c->fixed_nonce[0] != 0)
		snprintf(c->cnonce, sizeof(c->cnonce), "%s", c->fixed_nonce);
	else if ((err = mox__smtp_scram_nonce(c->random, c->random_arg, c->cnonce,
					      sizeof(c->cnonce))) != MOX_OK)
		return err;
	mox_buf_reset(&c->gs2header);
	mox_buf_reset(&c->client_first_bare);
	if (is_plus(c->mech))
		err = mox_buf_appendf(&c->gs2header, "p=%s,", mox__smtp_cb_name(c->cb_type));
	else
		err = mox_buf_append_str(&c->gs2header, c->server_lacks_plus ? "y," : "n,");
	if (err == MOX_OK && c->authz[0] != 0) {
		err = mox_buf_append_str(&c->gs2header, "a=");
		if (err == MOX_OK)
			err = mox__smtp_saslname_encode(&c->gs2header, c->authz, strlen(c->authz));
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(&c->gs2header, ',');
	if (err == MOX_OK)
		err = mox_buf_append_str(&c->client_first_bare, "n=");
	if (err == MOX_OK)
		err = mox__smtp_saslname_encode(&c->client_first_bare, c->authc, strlen(c->authc));
	if (err == MOX_OK)
		err = mox_buf_appendf(&c->client_first_bare, ",r=%s", c->cnonce);
	if (err == MOX_OK)
		err = mox_buf_append(out, c->gs2header.data, c->gs2header.len);
	if (err == MOX_OK)
		err = mox_buf_append(out, c->client_first_bare.data, c->client_first_bare.len);
	return err;
}

mox_err
mox_sasl_client_start(mox_sasl_client *c, mox_buf *out, bool *has_initial_out)
{
	if (c == NULL || out == NULL || has_initial_out == NULL)
		return MOX_EINVAL;
	*has_initial_out = false;
	if (c->phase != 0 || c->failed)
		return MOX_ESTATE;
	size_t olen = out->len;
	mox_err err = MOX_OK;
	switch (c->mech) {
	case MOX_SASL_PLAIN:
		/* RFC 4616 section 2: authzid NUL authcid NUL passwd */
		err = mox_buf_append_str(out, c->authz);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, 0);
		if (err == MOX_OK)
			err = mox_buf_append_str(out, c->authc);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, 0);
		if (err == MOX_OK)
			err = mox_buf_append(out, c->password, c->password_len);
		if (err == MOX_OK) {
			*has_initial_out = true;
			c->done = true;
			c->phase = 9;
		}
		break;
	case MOX_SASL_LOGIN:
	case MOX_SASL_CRAM_MD5:
		c->phase = 1;
		break;
	default:
		err = scram_first(c, out);
		if (err == MOX_OK) {
			*has_initial_out = true;
			c->phase = 1;
		}
		break;
	}
	if (err != MOX_OK) {
		if (out->len > olen)
			mox_mem_wipe(out->data + olen, out->len - olen);
		out->len = olen;
	}
	return err;
}

/* server-first-message: r=nonce,s=salt,i=count[,ext]. Then
 *   client-final-message = c=base64(gs2-header [cbind-data]),r=nonce,p=proof */
static mox_err
scram_server_first(mox_sasl_client *c, const char *m, size_t n, mox_buf *out)
{
	mox_err err = MOX_OK;
	mox_buf salt = MOX_BUF_INIT, cbind = MOX_BUF_INIT, auth = MOX_BUF_INIT,
		final = MOX_BUF_INIT;
	mox_buf_init(&salt, c->alloc);
	mox_buf_init(&cbind, c->alloc);
	mox_buf_init(&auth, c->alloc);
	mox_buf_init(&final, c->alloc);
	uint8_t *norm = NULL;
	size_t nlen = 0;
	uint8_t salted[MOX__SMTP_HASH_MAX], ckey[MOX__SMTP_HASH_MAX], skey[MOX__SMTP_HASH_MAX],
		stored[MOX__SMTP_HASH_MAX], sig[MOX__SMTP_HASH_MAX];
	size_t q = 0;
	mox__smtp_scram_attr at, nonce, sa;
	bool bad;
	if (memchr(m, 0, n) != NULL) {
		err = cfail(c, MOX_ESYNTAX, "NUL in server-first-message");
		goto out;
	}
	if (!mox__smtp_scram_next_attr(m, n, &q, &at, &bad) || at.name == 'm') {
		err = cfail(c, at.name == 'm' ? MOX_EUNSUPPORTED : MOX_ESYNTAX,
			    "bad server-first-message");
		goto out;
	}
	nonce = at;
	if (nonce.name != 'r' || !mox__smtp_scram_nonce_valid(nonce.value, nonce.len) ||
	    !mox__smtp_scram_next_attr(m, n, &q, &sa, &bad) || sa.name != 's' ||
	    !mox__smtp_scram_next_attr(m, n, &q, &at, &bad) || at.name != 'i') {
		err = cfail(c, MOX_ESYNTAX, "bad server-first-message");
		goto out;
	}
	uint64_t iter = 0;
	if (at.len == 0 || at.len > 10 || at.value[0] == '0') {
		err = cfail(c, MOX_ESYNTAX, "bad iteration count");
		goto out;
	}
	for (size_t i = 0; i < at.len; i++) {
		if (at.value[i] < '0' || at.value[i] > '9') {
			err = cfail(c, MOX_ESYNTAX, "bad iteration count");
			goto out;
		}
		iter = iter * 10 + (uint64_t)(at.value[i] - '0');
	}
	while (mox__smtp_scram_next_attr(m, n, &q, &at, &bad))
		;
	if (bad) {
		err = cfail(c, MOX_ESYNTAX, "bad server-first-message extension");
		goto out;
	}
	size_t cl = strlen(c->cnonce);
	if (nonce.len < cl || memcmp(nonce.value, c->cnonce, cl) != 0) {
		err = cfail(c, MOX_EINVAL, "server dropped our nonce");
		goto out;
	}
	if (nonce.len - cl < 8) {
		err = cfail(c, MOX_ERANGE, "server nonce too short");
		goto out;
	}
	err = mox_base64_decode(&salt, sa.value, sa.len, 0, NULL);
	if (err == MOX_ENOMEM)
		goto out;
	if (err != MOX_OK) {
		err = cfail(c, MOX_ESYNTAX, "bad salt base64");
		goto out;
	}
	if (salt.len < 8) {
		err = cfail(c, MOX_ERANGE, "salt too short");
		goto out;
	}
	if (iter < MOX_SASL_SCRAM_ITERATIONS_MIN || iter > MOX_SASL_SCRAM_ITERATIONS_MAX) {
		err = cfail(c, MOX_ERANGE, "iteration count out of range");
		goto out;
	}
	err = mox__smtp_nfc(c->alloc, c->password, c->password_len, &norm, &nlen);
	if (err == MOX_ESYNTAX) {
		err = cfail(c, MOX_EINVAL, "password is not UTF-8");
		goto out;
	}
	if (err != MOX_OK)
		goto out;
	err = mox__smtp_pbkdf2(c->alg, norm, nlen, salt.data, salt.len, (uint32_t)iter, salted,
			       c->hlen);
	if (err == MOX_OK)
		err = mox__smtp_scram_keys(c->alg, salted, c->hlen, ckey, stored, skey);
	if (err != MOX_OK)
		goto out;
	/* channel-binding = "c=" base64(gs2-header [cbind-data]) */
	if ((err = mox_buf_append(&cbind, c->gs2header.data, c->gs2header.len)) != MOX_OK ||
	    (is_plus(c->mech) && (err = mox_buf_append(&cbind, c->cb_data, c->cb_len)) != MOX_OK) ||
	    (err = mox_buf_append_str(&final, "c=")) != MOX_OK ||
	    (err = mox_base64_encode(&final, cbind.data, cbind.len)) != MOX_OK ||
	    (err = mox_buf_appendf(&final, ",r=%.*s", (int)nonce.len, nonce.value)) != MOX_OK)
		goto out;
	if ((err = mox_buf_append(&auth, c->client_first_bare.data, c->client_first_bare.len)) != MOX_OK ||
	    (err = mox_buf_append_byte(&auth, ',')) != MOX_OK ||
	    (err = mox_buf_append(&auth, m, n)) != MOX_OK ||
	    (err = mox_buf_append_byte(&auth, ',')) != MOX_OK ||
	    (err = mox_buf_append(&auth, final.data, final.len)) != MOX_OK)
		goto out;
	/* ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage) */
	if ((err = mox__smtp_hmac(c->alg, stored, c->hlen, auth.data, auth.len, sig)) != MOX_OK)
		goto out;
	for (size_t i = 0; i < c->hlen; i++)
		sig[i] ^= ckey[i];
	if ((err = mox_buf_append_str(&final, ",p=")) != MOX_OK ||
	    (err = mox_base64_encode(&final, sig, c->hlen)) != MOX_OK)
		goto out;
	if ((err = mox__smtp_hmac(c->alg, skey, c->hlen, auth.data, auth.len, c->server_sig)) !=
	    MOX_OK)
		goto out;
	err = mox_buf_append(out, final.data, final.len);
	if (err == MOX_OK)
		wipe_pw(c);
out:
	mox_mem_wipe(salted, sizeof(salted));
	mox_mem_wipe(ckey, sizeof(ckey));
	mox_mem_wipe(skey, sizeof(skey));
	mox_mem_wipe(stored, sizeof(stored));
	mox_mem_wipe(sig, sizeof(sig));
	if (norm != NULL) {
		mox_mem_wipe(norm, nlen);
		mox_mem_free(c->alloc, norm);
	}
	mox_buf_free(&salt);
	mox_buf_free(&cbind);
	mox_buf_free(&auth);
	mox_buf_free(&final);
	return err;
}

/* server-final-message = (server-error / verifier) ["," extensions] */
static mox_err
scram_server_final(mox_sasl_client *c, const char *m, size_t n)
{
	size_t q = 0;
	mox__smtp_scram_attr at;
	bool bad;
	if (memchr(m, 0, n) != NULL || !mox__smtp_scram_next_attr(m, n, &q, &at, &bad))
		return cfail(c, MOX_ESYNTAX, "bad server-final-message");
	if (at.name == 'e') {
		char msg[160];
		snprintf(msg, sizeof(msg), "server error: %.*s", (int)(at.len > 100 ? 100 : at.len),
			 at.value);
		return cfail(c, MOX_EINVAL, msg);
	}
	if (at.name != 'v')
		return cfail(c, MOX_ESYNTAX, "bad server-final-message");
	mox_buf v = MOX_BUF_INIT;
	mox_buf_init(&v, c->alloc);
	mox_err err = mox_base64_decode(&v, at.value, at.len, 0, NULL);
	if (err == MOX_ENOMEM)
		return err;
	bool ok = err == MOX_OK && v.len == c->hlen &&
		  mox__smtp_ct_equal(v.data, c->server_sig, c->hlen);
	mox_buf_free(&v);
	if (!ok)
		return cfail(c, MOX_EINVAL, "server signature does not match (not the real server?)");
	c->done = true;
	return MOX_OK;
}

mox_err
mox_sasl_client_step(mox_sasl_client *c, const uint8_t *challenge, size_t len, mox_buf *out)
{
	if (c == NULL || out == NULL || (challenge == NULL && len > 0))
		return MOX_EINVAL;
	if (challenge == NULL)
		challenge = (const uint8_t *)"";
	if (c->failed || c->phase == 0 || c->phase == 9)
		return MOX_ESTATE;
	const char *m = (const char *)challenge;
	size_t olen = out->len;
	mox_err err = MOX_OK;
	switch (c->mech) {
	case MOX_SASL_LOGIN:
		/* The challenges are "Username:" and "Password:"; servers
		 * vary in the text, so go by the step. */
		if (c->phase == 1) {
			err = mox_buf_append_str(out, c->authc);
			if (err == MOX_OK)
				c->phase = 2;
		} else if (c->phase == 2) {
			err = mox_buf_append(out, c->password, c->password_len);
			if (err == MOX_OK) {
				c->phase = 9;
				c->done = true;
				wipe_pw(c);
			}
		} else {
			err = MOX_ESTATE;
		}
		break;
	case MOX_SASL_CRAM_MD5: {
		/* RFC 2195 section 2: the challenge is a msg-id "<...@...>". */
		if (len < 3 || m[0] != '<' || m[len - 1] != '>' || memchr(m, '@', len) == NULL) {
			err = cfail(c, MOX_ESYNTAX, "bad CRAM-MD5 challenge");
			break;
		}
		char digest[33];
		err = mox_sasl_cram_md5_digest(c->password, c->password_len, challenge, len,
					       digest);
		if (err == MOX_OK)
			err = mox_buf_appendf(out, "%s %s", c->authc, digest);
		mox_mem_wipe(digest, sizeof(digest));
		if (err == MOX_OK) {
			c->phase = 9;
			c->done = true;
			wipe_pw(c);
		}
		break;
	}
	default:
		if (!is_scram(c->mech) || c->phase > 2) {
			err = MOX_ESTATE;
		} else if (c->phase == 1) {
			err = scram_server_first(c, m, len, out);
			if (err == MOX_OK)
				c->phase = 2;
		} else {
			/* Verified: the final (empty) client message. */
			err = scram_server_final(c, m, len);
			if (err == MOX_OK)
				c->phase = 9;
		}
		break;
	}
	if (err != MOX_OK && out->len > olen) {
		mox_mem_wipe(out->data + olen, out->len - olen);
		out->len = olen;
	}
	return err;
}

bool
mox_sasl_client_done(const mox_sasl_client *c)
{
	return c != NULL && c->done && !c->failed;
}

const char *
mox_sasl_client_errmsg(const mox_sasl_client *c)
{
	return c != NULL ? c->errmsg : "";
}
