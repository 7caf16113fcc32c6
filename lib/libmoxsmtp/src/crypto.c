/* Hashes, HMAC and PBKDF2 through mbedTLS (2.28 API, which 3.x keeps for
 * these functions), random bytes, UTF-8 checks and NFC through
 * libunistring. Everything else in the library calls these, so a second
 * crypto backend would only replace this file. */
#include "smtp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <uninorm.h>

static const mbedtls_md_info_t *
md_info(mox__smtp_hash_alg alg)
{
	switch (alg) {
	case MOX__SMTP_MD5:
		return mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
	case MOX__SMTP_SHA1:
		return mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	case MOX__SMTP_SHA256:
		return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	}
	return NULL;
}

size_t
mox__smtp_hash_len(mox__smtp_hash_alg alg)
{
	switch (alg) {
	case MOX__SMTP_MD5:
		return 16;
	case MOX__SMTP_SHA1:
		return 20;
	case MOX__SMTP_SHA256:
		return 32;
	}
	return 0;
}

mox_err
mox__smtp_hash(mox__smtp_hash_alg alg, const uint8_t *data, size_t len, uint8_t *out)
{
	const mbedtls_md_info_t *md = md_info(alg);
	if (md == NULL || mbedtls_md(md, data, len, out) != 0)
		return MOX_EUNSUPPORTED;
	return MOX_OK;
}

mox_err
mox__smtp_hmac(mox__smtp_hash_alg alg, const uint8_t *key, size_t key_len,
	       const uint8_t *msg, size_t msg_len, uint8_t *out)
{
	const mbedtls_md_info_t *md = md_info(alg);
	if (md == NULL)
		return MOX_EUNSUPPORTED;
	/* mbedtls_md_hmac allocates its context with the library's calloc. */
	int rc = mbedtls_md_hmac(md, key, key_len, msg, msg_len, out);
	if (rc == MBEDTLS_ERR_MD_ALLOC_FAILED)
		return MOX_ENOMEM;
	return rc == 0 ? MOX_OK : MOX_EUNSUPPORTED;
}

mox_err
mox__smtp_pbkdf2(mox__smtp_hash_alg alg, const uint8_t *pw, size_t pw_len,
		 const uint8_t *salt, size_t salt_len, uint32_t iterations, uint8_t *out,
		 size_t out_len)
{
	const mbedtls_md_info_t *md = md_info(alg);
	if (md == NULL)
		return MOX_EUNSUPPORTED;
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	mox_err err = MOX_OK;
	int rc = mbedtls_md_setup(&ctx, md, 1);
	if (rc != 0) {
		err = rc == MBEDTLS_ERR_MD_ALLOC_FAILED ? MOX_ENOMEM : MOX_EUNSUPPORTED;
		goto out;
	}
	rc = mbedtls_pkcs5_pbkdf2_hmac(&ctx, pw, pw_len, salt, salt_len, iterations,
				       (uint32_t)out_len, out);
	if (rc != 0)
		err = MOX_EUNSUPPORTED;
out:
	mbedtls_md_free(&ctx); /* wipes the HMAC pads */
	return err;
}

mox_err
mox__smtp_random(mox_sasl_random_fn fn, void *arg, uint8_t *buf, size_t n)
{
	if (fn != NULL)
		return fn(arg, buf, n) == 0 ? MOX_OK : MOX_EIO;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return MOX_EIO;
		}
		got += (size_t)r;
	}
	return MOX_OK;
}

bool
mox__smtp_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

bool
mox__smtp_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

mox_err
mox__smtp_nfc(const mox_allocator *alloc, const uint8_t *s, size_t len, uint8_t **out,
	      size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (!mox__smtp_utf8_valid(s, len))
		return MOX_ESYNTAX;
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 0x80)
			ascii = false;
	const uint8_t *src = s;
	size_t n = len;
	uint8_t stack[512];
	uint8_t *norm = NULL;
	if (!ascii) {
		/* libunistring allocates with malloc only when the result
		 * does not fit stack. */
		size_t nlen = sizeof(stack);
		norm = u8_normalize(UNINORM_NFC, s, len, stack, &nlen);
		if (norm == NULL)
			return errno == ENOMEM ? MOX_ENOMEM : MOX_ESYNTAX;
		src = norm;
		n = nlen;
	}
	mox_err err = MOX_OK;
	uint8_t *r = mox_mem_alloc(alloc, n + 1);
	if (r == NULL) {
		err = MOX_ENOMEM;
	} else {
		memcpy(r, src, n);
		r[n] = 0;
		*out = r;
		*out_len = n;
	}
	if (norm != NULL) {
		mox_mem_wipe(norm, n);
		if (norm != stack)
			free(norm);
	}
	mox_mem_wipe(stack, sizeof(stack));
	return err;
}
