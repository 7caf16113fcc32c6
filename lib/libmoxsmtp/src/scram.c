/* Pieces of SCRAM (RFC 5802 section 7) shared by the server and client:
 * saslname coding, attribute splitting, nonces and key derivation, plus the
 * mechanism name table and the public helpers of mox/sasl.h that need no
 * handle. */
#include "smtp_int.h"

#include <string.h>

static const struct {
	mox_sasl_mech mech;
	const char *name;
} mechs[] = {
	{MOX_SASL_PLAIN, "PLAIN"},
	{MOX_SASL_LOGIN, "LOGIN"},
	{MOX_SASL_CRAM_MD5, "CRAM-MD5"},
	{MOX_SASL_SCRAM_SHA_1, "SCRAM-SHA-1"},
	{MOX_SASL_SCRAM_SHA_1_PLUS, "SCRAM-SHA-1-PLUS"},
	{MOX_SASL_SCRAM_SHA_256, "SCRAM-SHA-256"},
	{MOX_SASL_SCRAM_SHA_256_PLUS, "SCRAM-SHA-256-PLUS"},
};

const char *
mox_sasl_mech_name(mox_sasl_mech mech)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == mech)
			return mechs[i].name;
	return NULL;
}

mox_sasl_mech
mox_sasl_mech_from_name(const char *name, size_t len)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		const char *m = mechs[i].name;
		if (strlen(m) != len)
			continue;
		size_t k = 0;
		for (; k < len; k++) {
			char c = name[k];
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			if (c != m[k])
				break;
		}
		if (k == len)
			return mechs[i].mech;
	}
	return 0;
}

const char *
mox__smtp_cb_name(mox_sasl_cb_type type)
{
	switch (type) {
	case MOX_SASL_CB_TLS_UNIQUE:
		return "tls-unique";
	case MOX_SASL_CB_TLS_EXPORTER:
		return "tls-exporter";
	case MOX_SASL_CB_NONE:
		break;
	}
	return NULL;
}

/* RFC 5802 section 7:
 *   saslname = 1*(value-safe-char / "=2C" / "=3D")
 *   value-safe-char = %x01-2B / %x2D-3C / %x3E-7F / UTF8-2 / UTF8-3 / UTF8-4 */
mox_err
mox__smtp_saslname_encode(mox_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		mox_err err;
		if (s[i] == ',')
			err = mox_buf_append_str(out, "=2C");
		else if (s[i] == '=')
			err = mox_buf_append_str(out, "=3D");
		else
			err = mox_buf_append_byte(out, (uint8_t)s[i]);
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

mox_err
mox__smtp_saslname_decode(const mox_allocator *alloc, const char *s, size_t len,
			  char **out)
{
	*out = NULL;
	if (len == 0 || len > MOX_SASL_NAME_MAX)
		return MOX_ESYNTAX;
	char *r = mox_mem_alloc(alloc, len + 1);
	if (r == NULL)
		return MOX_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\0' || c == ',')
			goto bad;
		if (c == '=') {
			if (len - i < 3)
				goto bad;
			if (s[i + 1] == '2' && (s[i + 2] == 'C' || s[i + 2] == 'c'))
				c = ',';
			else if (s[i + 1] == '3' && (s[i + 2] == 'D' || s[i + 2] == 'd'))
				c = '=';
			else
				goto bad;
			i += 2;
		}
		r[n++] = c;
	}
	r[n] = '\0';
	if (!mox__smtp_utf8_valid((const uint8_t *)r, n))
		goto bad;
	*out = r;
	return MOX_OK;
bad:
	mox_mem_free(alloc, r);
	return MOX_ESYNTAX;
}

bool
mox__smtp_scram_next_attr(const char *s, size_t len, size_t *pos,
			  mox__smtp_scram_attr *attr, bool *bad)
{
	*bad = false;
	size_t p = *pos;
	if (p >= len)
		return false;
	/* attr-val = ALPHA "=" value */
	char c = s[p];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || len - p < 2 ||
	    s[p + 1] != '=') {
		*bad = true;
		return false;
	}
	size_t v = p + 2, e = v;
	while (e < len && s[e] != ',')
		e++;
	attr->name = c;
	attr->value = s + v;
	attr->len = e - v;
	*pos = e < len ? e + 1 : e;
	if (e < len && e + 1 == len) {
		/* A trailing comma: an empty attribute follows. */
		*bad = true;
		return false;
	}
	return true;
}

bool
mox__smtp_scram_nonce_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

mox_err
mox__smtp_scram_keys(mox__smtp_hash_alg alg, const uint8_t *salted, size_t hlen,
		     uint8_t *client_key, uint8_t *stored_key, uint8_t *server_key)
{
	uint8_t ck[MOX__SMTP_HASH_MAX];
	mox_err err = mox__smtp_hmac(alg, salted, hlen, (const uint8_t *)"Client Key", 10, ck);
	if (err == MOX_OK && stored_key != NULL)
		err = mox__smtp_hash(alg, ck, hlen, stored_key);
	if (err == MOX_OK && client_key != NULL)
		memcpy(client_key, ck, hlen);
	if (err == MOX_OK && server_key != NULL)
		err = mox__smtp_hmac(alg, salted, hlen, (const uint8_t *)"Server Key", 10,
				     server_key);
	mox_mem_wipe(ck, sizeof(ck));
	return err;
}

mox_err
mox__smtp_scram_nonce(mox_sasl_random_fn fn, void *arg, char *out, size_t out_size)
{
	uint8_t raw[18];
	mox_err err = mox__smtp_random(fn, arg, raw, sizeof(raw));
	if (err != MOX_OK)
		return err;
	mox_buf b = MOX_BUF_INIT;
	err = mox_base64_encode(&b, raw, sizeof(raw));
	if (err == MOX_OK) {
		if (b.len + 1 > out_size)
			err = MOX_ERANGE;
		else
			memcpy(out, b.data, b.len + 1);
	}
	mox_buf_free(&b);
	return err;
}

mox_err
mox_sasl_scram_secret_make(bool sha256, const char *password, size_t password_len,
			   const uint8_t *salt, size_t salt_len, uint32_t iterations,
			   mox_sasl_scram_secret *secret_out)
{
	if (secret_out == NULL)
		return MOX_EINVAL;
	memset(secret_out, 0, sizeof(*secret_out));
	if (password == NULL || salt == NULL || salt_len == 0 ||
	    salt_len > MOX_SASL_SCRAM_SALT_MAX || iterations == 0 ||
	    password_len > MOX_SASL_PASSWORD_MAX)
		return MOX_EINVAL;
	uint8_t *norm = NULL;
	size_t nlen = 0;
	mox_err err = mox__smtp_nfc(NULL, (const uint8_t *)password, password_len, &norm,
				    &nlen);
	if (err == MOX_ESYNTAX)
		return MOX_EINVAL;
	if (err != MOX_OK)
		return err;
	mox__smtp_hash_alg alg = sha256 ? MOX__SMTP_SHA256 : MOX__SMTP_SHA1;
	size_t hlen = mox__smtp_hash_len(alg);
	err = mox__smtp_pbkdf2(alg, norm, nlen, salt, salt_len, iterations,
			       secret_out->salted_password, hlen);
	mox_mem_wipe(norm, nlen);
	mox_mem_free(NULL, norm);
	if (err != MOX_OK) {
		mox_mem_wipe(secret_out, sizeof(*secret_out));
		return err;
	}
	memcpy(secret_out->salt, salt, salt_len);
	secret_out->salt_len = salt_len;
	secret_out->iterations = iterations;
	secret_out->salted_password_len = hlen;
	return MOX_OK;
}

mox_err
mox_sasl_cram_md5_digest(const uint8_t *password, size_t password_len,
			 const uint8_t *challenge, size_t challenge_len, char out[33])
{
	if (password == NULL || challenge == NULL || out == NULL)
		return MOX_EINVAL;
	/* RFC 2195 section 2: digest = MD5((K XOR opad), MD5((K XOR ipad),
	 * challenge)), i.e. HMAC-MD5 (RFC 2104), in lower-case hex. */
	uint8_t mac[16];
	mox_err err = mox__smtp_hmac(MOX__SMTP_MD5, password, password_len, challenge,
				     challenge_len, mac);
	if (err != MOX_OK)
		return err;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[32] = '\0';
	mox_mem_wipe(mac, sizeof(mac));
	return MOX_OK;
}
