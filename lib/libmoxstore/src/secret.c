/* Password secrets: what the authentication mechanisms need, never the
 * password.
 *
 *   - bcrypt (libcrypt's "$2b$", mox's cost 10) for IMAP LOGIN, SASL PLAIN
 *     and LOGIN, HTTP basic authentication;
 *   - SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677): salt, iteration
 *     count, StoredKey and ServerKey (RFC 5802 section 3), from which a
 *     server checks proofs and signs, but which cannot log in elsewhere
 *     (mox keeps the salted password; the keys are the RFC's advice);
 *   - CRAM-MD5 (RFC 2195): the MD5 states after the key's ipad and opad
 *     blocks (RFC 2104 section 4, "precomputed"), as mox keeps them.
 *
 * todo: RFC 5802 section 2.2 Normalize() (SASLprep, RFC 4013) is not
 * applied: non-ASCII passwords must be typed in the form they were set.
 */
#include "store_int.h"

#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#define SCRAM_SALT_LEN 16

static mox_err
random_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return MOX_EIO;
		p += r;
		n -= (size_t)r;
	}
	return MOX_OK;
}

/* RFC 5802 section 3: SaltedPassword = Hi(password, salt, i);
 * ClientKey = HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey);
 * ServerKey = HMAC(SaltedPassword, "Server Key"). */
static void
scram_derive(int alg, const char *password, const uint8_t *salt, size_t salt_len,
             uint32_t iterations, mox_store_scram *out)
{
	size_t hl = mox__store_hash_len(alg);
	uint8_t salted[32], client_key[32];
	memset(out, 0, sizeof(*out));
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	out->key_len = hl;
	mox__store_pbkdf2(alg, password, strlen(password), salt, salt_len, iterations,
	                  salted, hl);
	mox__store_hmac(alg, salted, hl, "Client Key", 10, client_key);
	mox__store_hash h;
	mox__store_hash_init(&h, alg);
	mox__store_hash_update(&h, client_key, hl);
	mox__store_hash_final(&h, out->stored_key);
	mox__store_hmac(alg, salted, hl, "Server Key", 10, out->server_key);
	mox_mem_wipe(salted, sizeof(salted));
	mox_mem_wipe(client_key, sizeof(client_key));
}

/* RFC 2104 section 4: the inner and outer MD5 states after one block of
 * K XOR ipad and K XOR opad; a key longer than the block is hashed first. */
static void
cram_md5_derive(const char *password, uint8_t out[32])
{
	uint8_t k[64] = {0}, pad[64];
	size_t n = strlen(password);
	mox__store_hash h;
	if (n > 64) {
		mox__store_hash_init(&h, MOX__HASH_MD5);
		mox__store_hash_update(&h, password, n);
		mox__store_hash_final(&h, k);
	} else {
		memcpy(k, password, n);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++)
			pad[i] = k[i] ^ (round == 0 ? 0x36 : 0x5c);
		mox__store_hash_init(&h, MOX__HASH_MD5);
		mox__store_hash_update(&h, pad, 64);
		for (int i = 0; i < 4; i++) {
			uint32_t w = h.h[i];
			uint8_t *o = out + 16 * round + 4 * i;
			o[0] = (uint8_t)w;
			o[1] = (uint8_t)(w >> 8);
			o[2] = (uint8_t)(w >> 16);
			o[3] = (uint8_t)(w >> 24);
		}
		mox_mem_wipe(&h, sizeof(h));
	}
	mox_mem_wipe(k, sizeof(k));
	mox_mem_wipe(pad, sizeof(pad));
}

mox_err
mox__store_secrets_derive(const char *password, const uint8_t *salt1, size_t salt1_len,
                          uint32_t iter1, const uint8_t *salt256, size_t salt256_len,
                          uint32_t iter256, mox_store_secrets *out)
{
	if (salt1_len > sizeof(out->scram_sha1.salt) ||
	    salt256_len > sizeof(out->scram_sha256.salt) || iter1 == 0 || iter256 == 0)
		return MOX_EINVAL;
	memset(out, 0, sizeof(*out));
	out->set = true;
	cram_md5_derive(password, out->cram_md5);
	scram_derive(MOX__HASH_SHA1, password, salt1, salt1_len, iter1,
	             &out->scram_sha1);
	scram_derive(MOX__HASH_SHA256, password, salt256, salt256_len, iter256,
	             &out->scram_sha256);
	return MOX_OK;
}

static mox_err
bcrypt_hash(const mox_allocator *a, const char *password, const char *setting,
            char out[64])
{
	struct crypt_data *cd = mox_mem_calloc(a, 1, sizeof(*cd));
	if (cd == NULL)
		return MOX_ENOMEM;
	mox_err err = MOX_EIO;
	const char *h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] != '*' && strlen(h) < 64) {
		strcpy(out, h);
		err = MOX_OK;
	}
	mox_mem_wipe(cd, sizeof(*cd));
	mox_mem_free(a, cd);
	return err;
}

mox_err
mox_store_password_set(mox_store *st, const char *password)
{
	if (st == NULL || password == NULL)
		return MOX_EINVAL;
	mox_store_secrets *s = mox_mem_calloc(st->alloc, 1, sizeof(*s));
	if (s == NULL)
		return MOX_ENOMEM;
	uint8_t salt1[SCRAM_SALT_LEN], salt256[SCRAM_SALT_LEN], rb[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	mox_store_tx *tx = NULL;
	mox_err err = random_bytes(salt1, sizeof(salt1));
	if (err == MOX_OK)
		err = random_bytes(salt256, sizeof(salt256));
	if (err == MOX_OK)
		err = random_bytes(rb, sizeof(rb));
	if (err != MOX_OK)
		goto out;
	/* mox: SCRAM-SHA-1 with 2*4096 iterations, SCRAM-SHA-256 with 4096. */
	uint32_t i1 = st->scram_iterations != 0 ? st->scram_iterations : 8192;
	uint32_t i256 = st->scram_iterations != 0 ? st->scram_iterations : 4096;
	err = mox__store_secrets_derive(password, salt1, sizeof(salt1), i1, salt256,
	                                sizeof(salt256), i256, s);
	if (err != MOX_OK)
		goto out;
	if (crypt_gensalt_rn("$2b$", st->bcrypt_cost, (const char *)rb, (int)sizeof(rb),
	                     setting, (int)sizeof(setting)) == NULL) {
		err = MOX_EIO;
		goto out;
	}
	err = bcrypt_hash(st->alloc, password, setting, s->bcrypt);
	if (err != MOX_OK)
		goto out;
	err = mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx);
	if (err != MOX_OK)
		goto out;
	struct mox__store_opmark m;
	err = mox__store_op_begin(tx, &m);
	if (err == MOX_OK) {
		err =
		    mox__store_step_done(tx, mox__store_stmt(tx->c, ST_PASSWORD_DELETE),
		                         "deleting password");
		sqlite3_stmt *q =
		    err == MOX_OK ? mox__store_stmt(tx->c, ST_PASSWORD_INSERT) : NULL;
		if (q != NULL) {
			const mox_store_scram *a = &s->scram_sha1,
			                      *b = &s->scram_sha256;
			sqlite3_bind_text(q, 1, s->bcrypt, -1, SQLITE_STATIC);
			sqlite3_bind_blob(q, 2, s->cram_md5, 32, SQLITE_STATIC);
			sqlite3_bind_blob(q, 3, a->salt, (int)a->salt_len,
			                  SQLITE_STATIC);
			sqlite3_bind_int64(q, 4, a->iterations);
			sqlite3_bind_blob(q, 5, a->stored_key, (int)a->key_len,
			                  SQLITE_STATIC);
			sqlite3_bind_blob(q, 6, a->server_key, (int)a->key_len,
			                  SQLITE_STATIC);
			sqlite3_bind_blob(q, 7, b->salt, (int)b->salt_len,
			                  SQLITE_STATIC);
			sqlite3_bind_int64(q, 8, b->iterations);
			sqlite3_bind_blob(q, 9, b->stored_key, (int)b->key_len,
			                  SQLITE_STATIC);
			sqlite3_bind_blob(q, 10, b->server_key, (int)b->key_len,
			                  SQLITE_STATIC);
		}
		if (err == MOX_OK)
			err = mox__store_step_done(tx, q, "storing password");
		if (q != NULL)
			sqlite3_clear_bindings(q);
		err = mox__store_op_end(tx, &m, err);
	}
	if (err == MOX_OK)
		err = mox_store_tx_commit(tx);
	else
		mox_store_tx_rollback(tx);
out:
	mox_mem_wipe(s, sizeof(*s));
	mox_mem_free(st->alloc, s);
	mox_mem_wipe(setting, sizeof(setting));
	return err;
}

static bool
blob_into(sqlite3_stmt *q, int col, uint8_t *out, size_t max, size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(q, col);
	const void *p = sqlite3_column_blob(q, col);
	if (n > max || (n > 0 && p == NULL))
		return false;
	if (n > 0)
		memcpy(out, p, n);
	if (len != NULL)
		*len = n;
	return true;
}

mox_err
mox_store_secrets_get(mox_store *st, mox_store_secrets *out)
{
	if (st == NULL || out == NULL)
		return MOX_EINVAL;
	memset(out, 0, sizeof(*out));
	mox_store_tx *tx = NULL;
	mox_err err = mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx);
	if (err != MOX_OK)
		return err;
	sqlite3_stmt *q = mox__store_stmt(tx->c, ST_PASSWORD_GET);
	if (q == NULL) {
		err = mox__store_prep_err(tx, "reading password");
		goto out;
	}
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		goto out; /* no password: set stays false */
	if (rc != SQLITE_ROW) {
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "reading password");
		goto out;
	}
	const char *bc = (const char *)sqlite3_column_text(q, 0);
	size_t cl = 0, kl1 = 0, kl2 = 0, kl3 = 0, kl4 = 0;
	mox_store_scram *a = &out->scram_sha1, *b = &out->scram_sha256;
	bool ok = bc != NULL && strlen(bc) < sizeof(out->bcrypt) &&
	          blob_into(q, 1, out->cram_md5, 32, &cl) && cl == 32 &&
	          blob_into(q, 2, a->salt, sizeof(a->salt), &a->salt_len) &&
	          blob_into(q, 4, a->stored_key, 20, &kl1) &&
	          blob_into(q, 5, a->server_key, 20, &kl2) &&
	          blob_into(q, 6, b->salt, sizeof(b->salt), &b->salt_len) &&
	          blob_into(q, 8, b->stored_key, 32, &kl3) &&
	          blob_into(q, 9, b->server_key, 32, &kl4) && kl1 == 20 && kl2 == 20 &&
	          kl3 == 32 && kl4 == 32;
	if (!ok) {
		err = mox__store_seterr(tx, MOX_EIO, "damaged password record");
		memset(out, 0, sizeof(*out));
		goto out;
	}
	strcpy(out->bcrypt, bc);
	a->iterations = (uint32_t)sqlite3_column_int64(q, 3);
	a->key_len = 20;
	b->iterations = (uint32_t)sqlite3_column_int64(q, 7);
	b->key_len = 32;
	out->set = true;
out:
	if (q != NULL)
		sqlite3_reset(q);
	mox_store_tx_rollback(tx);
	return err;
}

static bool
ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

mox_err
mox_store_password_check(mox_store *st, const char *password, bool *ok_out)
{
	if (ok_out == NULL)
		return MOX_EINVAL;
	*ok_out = false;
	if (st == NULL || password == NULL)
		return MOX_EINVAL;
	mox_store_secrets *s = mox_mem_calloc(st->alloc, 1, sizeof(*s));
	if (s == NULL)
		return MOX_ENOMEM;
	char h[64] = "";
	mox_err err = mox_store_secrets_get(st, s);
	if (err == MOX_OK && s->set) {
		err = bcrypt_hash(st->alloc, password, s->bcrypt, h);
		if (err == MOX_EIO)
			err = MOX_OK; /* not a bcrypt we can check: no match */
		size_t n = strlen(s->bcrypt);
		*ok_out = err == MOX_OK && strlen(h) == n && ct_equal(h, s->bcrypt, n);
	}
	mox_mem_wipe(h, sizeof(h));
	mox_mem_wipe(s, sizeof(*s));
	mox_mem_free(st->alloc, s);
	return err;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = mox__store_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
mox_store_cram_md5_verify(const mox_store_secrets *s, const void *challenge, size_t len,
                          const char *response_hex)
{
	if (s == NULL || !s->set || response_hex == NULL ||
	    (challenge == NULL && len > 0))
		return false;
	uint8_t want[16], inner[16], digest[16];
	if (strlen(response_hex) != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(response_hex[2 * i]),
		    lo = hexval(response_hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		want[i] = (uint8_t)(hi << 4 | lo);
	}
	/* Resume MD5 from the stored states (one 64-byte block done). */
	mox__store_hash h;
	for (int round = 0; round < 2; round++) {
		mox__store_hash_init(&h, MOX__HASH_MD5);
		for (int i = 0; i < 4; i++) {
			const uint8_t *p = s->cram_md5 + 16 * round + 4 * i;
			h.h[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			         (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		}
		h.total = 64;
		if (round == 0) {
			mox__store_hash_update(&h, challenge, len);
			mox__store_hash_final(&h, inner);
		} else {
			mox__store_hash_update(&h, inner, 16);
			mox__store_hash_final(&h, digest);
		}
	}
	bool ok = ct_equal(want, digest, 16);
	mox_mem_wipe(inner, sizeof(inner));
	mox_mem_wipe(digest, sizeof(digest));
	return ok;
}

/* RFC 5802 section 3: ClientSignature = HMAC(StoredKey, AuthMessage);
 * ClientKey = ClientProof XOR ClientSignature; valid if H(ClientKey) ==
 * StoredKey; ServerSignature = HMAC(ServerKey, AuthMessage). */
mox_err
mox_store_scram_verify(const mox_store_secrets *s, mox_store_scram_alg alg,
                       const void *auth_message, size_t len, const uint8_t *proof,
                       size_t proof_len, bool *ok_out, uint8_t sig_out[32],
                       size_t *sig_len_out)
{
	if (ok_out != NULL)
		*ok_out = false;
	if (sig_len_out != NULL)
		*sig_len_out = 0;
	if (s == NULL || ok_out == NULL || sig_out == NULL || sig_len_out == NULL ||
	    (auth_message == NULL && len > 0) || proof == NULL)
		return MOX_EINVAL;
	if (!s->set)
		return MOX_OK;
	int h = alg == MOX_STORE_SCRAM_SHA1 ? MOX__HASH_SHA1 : MOX__HASH_SHA256;
	const mox_store_scram *sc =
	    alg == MOX_STORE_SCRAM_SHA1 ? &s->scram_sha1 : &s->scram_sha256;
	size_t hl = mox__store_hash_len(h);
	if (alg != MOX_STORE_SCRAM_SHA1 && alg != MOX_STORE_SCRAM_SHA256)
		return MOX_EINVAL;
	if (sc->key_len != hl)
		return MOX_EINVAL;
	if (proof_len != hl)
		return MOX_OK;
	uint8_t csig[32], ckey[32], stored[32];
	mox__store_hmac(h, sc->stored_key, hl, auth_message, len, csig);
	for (size_t i = 0; i < hl; i++)
		ckey[i] = proof[i] ^ csig[i];
	mox__store_hash hh;
	mox__store_hash_init(&hh, h);
	mox__store_hash_update(&hh, ckey, hl);
	mox__store_hash_final(&hh, stored);
	*ok_out = ct_equal(stored, sc->stored_key, hl);
	mox__store_hmac(h, sc->server_key, hl, auth_message, len, sig_out);
	*sig_len_out = hl;
	mox_mem_wipe(csig, sizeof(csig));
	mox_mem_wipe(ckey, sizeof(ckey));
	return MOX_OK;
}
