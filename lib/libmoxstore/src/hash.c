/* The hashes the password secrets need: MD5 (RFC 1321) for CRAM-MD5,
 * SHA-1 and SHA-256 (FIPS 180-4) for SCRAM, HMAC (RFC 2104) and PBKDF2
 * (RFC 8018 section 5.2) over them.
 *
 * How this works: one context type for the three (they share the 64-byte
 * block and the length padding; MD5 writes the length little-endian, the
 * SHAs big-endian). Everything is constant-time with respect to the data
 * (no data-dependent branches or table lookups), which is what matters for
 * password derivation. Tested against the RFCs' vectors (test_hash.c).
 */
#include "store_int.h"

#include <string.h>

static inline uint32_t
rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

static inline uint32_t
ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       (uint32_t)p[3];
}

/* RFC 1321 section 3.4. */
static void
md5_block(uint32_t h[4], const uint8_t *p)
{
	static const uint32_t K[64] = {
	    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
	static const unsigned S[64] = {
	    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
	    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
	    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
	    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
	uint32_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = le32(p + 4 * i);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		uint32_t t = d;
		d = c;
		c = b;
		b = b + rol(a + f + K[i] + m[g], S[i]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

/* FIPS 180-4 section 6.1.2. */
static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = be32(p + 4 * i);
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* FIPS 180-4 section 6.2.2. */
static void
sha256_block(uint32_t h[8], const uint8_t *p)
{
	static const uint32_t K[64] = {
	    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = be32(p + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
	         hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + S1 + ch + K[i] + w[i];
		uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

static void
block(mox__store_hash *h, const uint8_t *p)
{
	switch (h->alg) {
	case MOX__HASH_MD5:
		md5_block(h->h, p);
		break;
	case MOX__HASH_SHA1:
		sha1_block(h->h, p);
		break;
	default:
		sha256_block(h->h, p);
		break;
	}
}

size_t
mox__store_hash_len(int alg)
{
	return alg == MOX__HASH_MD5 ? 16 : alg == MOX__HASH_SHA1 ? 20 : 32;
}

void
mox__store_hash_init(mox__store_hash *h, int alg)
{
	static const uint32_t md5_iv[4] = {0x67452301, 0xefcdab89, 0x98badcfe,
	                                   0x10325476};
	static const uint32_t sha1_iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
	                                    0x10325476, 0xc3d2e1f0};
	static const uint32_t sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
	                                      0xa54ff53a, 0x510e527f, 0x9b05688c,
	                                      0x1f83d9ab, 0x5be0cd19};
	memset(h, 0, sizeof(*h));
	h->alg = alg;
	if (alg == MOX__HASH_MD5)
		memcpy(h->h, md5_iv, sizeof(md5_iv));
	else if (alg == MOX__HASH_SHA1)
		memcpy(h->h, sha1_iv, sizeof(sha1_iv));
	else
		memcpy(h->h, sha256_iv, sizeof(sha256_iv));
}

void
mox__store_hash_update(mox__store_hash *h, const void *data, size_t len)
{
	const uint8_t *p = data;
	h->total += len;
	if (h->buflen > 0) {
		size_t n = 64 - h->buflen;
		if (n > len)
			n = len;
		memcpy(h->buf + h->buflen, p, n);
		h->buflen += n;
		p += n;
		len -= n;
		if (h->buflen < 64)
			return;
		block(h, h->buf);
		h->buflen = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		block(h, p);
	if (len > 0) {
		memcpy(h->buf, p, len);
		h->buflen = len;
	}
}

void
mox__store_hash_final(mox__store_hash *h, uint8_t *out)
{
	uint64_t bits = h->total * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (h->buflen < 56 ? 56 : 120) - h->buflen;
	uint8_t len8[8];
	for (int i = 0; i < 8; i++) {
		if (h->alg == MOX__HASH_MD5)
			len8[i] = (uint8_t)(bits >> (8 * i));
		else
			len8[i] = (uint8_t)(bits >> (56 - 8 * i));
	}
	uint64_t total = h->total;
	mox__store_hash_update(h, pad, padlen);
	mox__store_hash_update(h, len8, 8);
	h->total = total;
	size_t words = mox__store_hash_len(h->alg) / 4;
	for (size_t i = 0; i < words; i++) {
		uint32_t w = h->h[i];
		if (h->alg == MOX__HASH_MD5) {
			out[4 * i] = (uint8_t)w;
			out[4 * i + 1] = (uint8_t)(w >> 8);
			out[4 * i + 2] = (uint8_t)(w >> 16);
			out[4 * i + 3] = (uint8_t)(w >> 24);
		} else {
			out[4 * i] = (uint8_t)(w >> 24);
			out[4 * i + 1] = (uint8_t)(w >> 16);
			out[4 * i + 2] = (uint8_t)(w >> 8);
			out[4 * i + 3] = (uint8_t)w;
		}
	}
	mox_mem_wipe(h, sizeof(*h));
}

/* RFC 2104 section 2: H(K XOR opad, H(K XOR ipad, text)). */
void
mox__store_hmac(int alg, const void *key, size_t keylen, const void *data, size_t len,
                uint8_t *out)
{
	uint8_t k[64] = {0}, pad[64], inner[32];
	size_t hl = mox__store_hash_len(alg);
	mox__store_hash h;
	if (keylen > 64) {
		mox__store_hash_init(&h, alg);
		mox__store_hash_update(&h, key, keylen);
		mox__store_hash_final(&h, k);
	} else if (keylen > 0) {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	mox__store_hash_init(&h, alg);
	mox__store_hash_update(&h, pad, 64);
	mox__store_hash_update(&h, data, len);
	mox__store_hash_final(&h, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	mox__store_hash_init(&h, alg);
	mox__store_hash_update(&h, pad, 64);
	mox__store_hash_update(&h, inner, hl);
	mox__store_hash_final(&h, out);
	mox_mem_wipe(k, sizeof(k));
	mox_mem_wipe(pad, sizeof(pad));
	mox_mem_wipe(inner, sizeof(inner));
}

/* RFC 8018 section 5.2 with HMAC as PRF; SCRAM's Hi() (RFC 5802 section 2.2)
 * is PBKDF2 with dkLen the hash length. */
void
mox__store_pbkdf2(int alg, const void *pw, size_t pwlen, const uint8_t *salt,
                  size_t saltlen, uint32_t iterations, uint8_t *out, size_t outlen)
{
	size_t hl = mox__store_hash_len(alg);
	uint8_t u[32], t[32], sb[64 + 4];
	for (uint32_t blk = 1; outlen > 0; blk++) {
		/* Salts are at most 64 bytes here (SCRAM uses 16). */
		size_t sl = saltlen > 64 ? 64 : saltlen;
		memcpy(sb, salt, sl);
		sb[sl] = (uint8_t)(blk >> 24);
		sb[sl + 1] = (uint8_t)(blk >> 16);
		sb[sl + 2] = (uint8_t)(blk >> 8);
		sb[sl + 3] = (uint8_t)blk;
		mox__store_hmac(alg, pw, pwlen, sb, sl + 4, u);
		memcpy(t, u, hl);
		for (uint32_t i = 1; i < iterations; i++) {
			mox__store_hmac(alg, pw, pwlen, u, hl, u);
			for (size_t j = 0; j < hl; j++)
				t[j] ^= u[j];
		}
		size_t n = outlen < hl ? outlen : hl;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
	mox_mem_wipe(u, sizeof(u));
	mox_mem_wipe(t, sizeof(t));
}
