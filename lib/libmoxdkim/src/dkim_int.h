/* Declarations shared between libmoxdkim's sources; never installed. */
#ifndef MOX_DKIM_INT_H
#define MOX_DKIM_INT_H

#include <mox/dkim.h>

#include "crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- locale-free character classes ---- */

static inline bool
mox__dkim_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool
mox__dkim_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}
static inline bool
mox__dkim_is_alnum(uint8_t c)
{
	return mox__dkim_is_alpha(c) || mox__dkim_is_digit(c);
}
/* WSP, RFC 5234 appendix B.1. */
static inline bool
mox__dkim_is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}
/* White space inside a tag list: WSP and the CR/LF of folding (FWS). */
static inline bool
mox__dkim_is_fws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static inline uint8_t
mox__dkim_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}
bool mox__dkim_eq_nocase(const void *a, size_t alen, const char *b);

/* ---- tag lists, RFC 6376 section 3.2 ---- */

typedef struct mox__dkim_tag {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value; /* without surrounding FWS */
	size_t value_len;
	size_t value_off;     /* offset of the byte after '=' in the text */
	size_t value_end;     /* offset of ';' or the end of the text */
	size_t name_off;
} mox__dkim_tag;

typedef struct mox__dkim_taglist {
	const uint8_t *s;
	size_t len;
	size_t pos;
} mox__dkim_taglist;

/* Next tag-spec of the list; MOX_OK with *tag, MOX_ENOTFOUND at the end,
 * MOX_ESYNTAX with info at a bad byte. */
mox_err mox__dkim_taglist_next(mox__dkim_taglist *tl, mox__dkim_tag *tag,
			       mox_errinfo *info, size_t base);

/* ---- DER, just enough for PKCS#8, SPKI and PKCS#1 ---- */

typedef struct mox__dkim_der {
	const uint8_t *p;
	size_t len;
} mox__dkim_der;

/* Read one element of tag; *inner gets its contents, d advances. */
bool mox__dkim_der_read(mox__dkim_der *d, uint8_t tag, mox__dkim_der *inner);
/* Append tag, length and contents. */
mox_err mox__dkim_der_write(mox_buf *out, uint8_t tag, const void *data, size_t len);

/* The DER of an RSA public key for the backends: a SubjectPublicKeyInfo
 * is copied; a bare RSAPublicKey (PKCS#1) is wrapped into one. */
mox_err mox__dkim_rsa_spki_normalize(const uint8_t *der, size_t len, mox_buf *out);

/* ---- libsodium: Ed25519 and random ---- */

#define MOX__DKIM_ED25519_PUB 32
#define MOX__DKIM_ED25519_SEED 32
#define MOX__DKIM_ED25519_SIG 64

/* sodium_init; MOX_EIO if libsodium cannot start. */
mox_err mox__dkim_sodium_init(void);
void mox__dkim_random(void *buf, size_t len);
/* The 64-byte libsodium secret key (seed || public) from a seed. */
void mox__dkim_ed25519_from_seed(const uint8_t seed[32], uint8_t sk[64], uint8_t pk[32]);
void mox__dkim_ed25519_sign(const uint8_t sk[64], const uint8_t *msg, size_t len,
			    uint8_t sig[64]);
bool mox__dkim_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t len,
			      const uint8_t *sig, size_t sig_len);

/* ---- keys ---- */

struct mox_dkim_key {
	const mox_allocator *alloc;
	mox_dkim_key_type type;
	unsigned bits;
	mox__dkim_rsa_priv *rsa;
	uint8_t ed_sk[64]; /* seed || public key */
	uint8_t ed_pk[32];
};

/* A public key of a record, ready to verify with. */
typedef struct mox__dkim_pubkey {
	mox_dkim_key_type type;
	mox__dkim_rsa_pub *rsa;
	uint8_t ed[32];
} mox__dkim_pubkey;

/* The public key parsed along with a record (records are allocated as
 * this struct; the public part first). */
const mox__dkim_pubkey *mox__dkim_record_pubkey(const mox_dkim_record *r);

/* ---- signatures ---- */

/* Parse as mox_dkim_sig_parse; *b_off and *b_end (if not NULL) get the span
 * of the b= value (after '=' to before ';' or the end) in field, which
 * is removed from the field for hashing (RFC 6376 section 3.7). */
mox_err mox__dkim_sig_parse(const uint8_t *field, size_t len,
			    const mox_allocator *alloc, bool smtputf8,
			    mox_dkim_sig **sig_out, size_t *b_off,
			    size_t *b_end, mox_errinfo *info);

/* ---- canonicalization, RFC 6376 section 3.4 ---- */

/* Append the relaxed form of one header field (raw bytes as in the
 * message, with or without the final line ending), without CRLF. */
mox_err mox__dkim_canon_header_relaxed(const uint8_t *raw, size_t len, mox_buf *out);
/* Feed one header field to hash h as canon c: simple adds raw as is
 * (with CRLF when add_crlf), relaxed its canonical form. tmp is scratch. */
mox_err mox__dkim_hash_header(mox__dkim_hash *h, mox_dkim_canon c,
			      const uint8_t *raw, size_t len, bool add_crlf,
			      mox_buf *tmp);

/* Streaming body canonicalization into a hash. */
#define MOX__DKIM_BODY_OUTBUF 4096
typedef struct mox__dkim_body {
	mox_dkim_canon canon;
	mox__dkim_hash hash;
	int64_t limit;      /* l=: hash at most this many bytes, -1: all */
	uint64_t hashed;    /* canonical bytes hashed */
	uint64_t total;     /* canonical bytes produced, hashed or not */
	uint64_t pend_crlf; /* held empty lines (CRLFs) */
	bool pend_cr;       /* the last byte fed was a CR */
	bool any;           /* a body byte was fed */
	bool line_content;  /* relaxed: the current line has non-WSP */
	bool wsp;           /* relaxed: WSP run pending in this line */
	bool line_open;     /* the current line has bytes (no CRLF yet) */
	size_t outlen;
	uint8_t out[MOX__DKIM_BODY_OUTBUF];
} mox__dkim_body;

mox_err mox__dkim_body_init(mox__dkim_body *b, const mox__dkim_crypto *c,
			    mox_dkim_canon canon, mox__dkim_hash_alg alg, int64_t limit);
void mox__dkim_body_feed(mox__dkim_body *b, const uint8_t *data, size_t len);
/* Finish: the digest goes to out (32 bytes room). */
mox_err mox__dkim_body_final(mox__dkim_body *b, uint8_t *out, size_t *len_out);
void mox__dkim_body_free(mox__dkim_body *b);

/* ---- the header section while streaming ---- */

typedef struct mox__dkim_hdrbuf {
	mox_buf buf;     /* header bytes so far */
	size_t scanned;  /* lines before this are complete and checked */
	size_t max;
	bool done;       /* header end found */
	size_t end;      /* bytes of buf that belong to the header + blank */
} mox__dkim_hdrbuf;

/* Take bytes; *used_out gets how many belonged to the header (the rest is
 * body). MOX_ELIMIT past max. */
mox_err mox__dkim_hdrbuf_feed(mox__dkim_hdrbuf *hb, const uint8_t *data, size_t len,
			      size_t *used_out);

/* The data hash input (RFC 6376 section 3.7): the signed header fields
 * chosen bottom-up per name, then the signature field itself with b=
 * emptied and without its final line ending. */
struct mox_msg_header;
mox_err mox__dkim_data_hash(const mox__dkim_crypto *c, mox__dkim_hash_alg alg,
			    mox_dkim_canon hcanon, const struct mox_msg_header *hdr,
			    char *const *names, size_t nnames, const uint8_t *sigfield,
			    size_t siglen, size_t b_off, size_t b_end,
			    const mox_allocator *alloc, uint8_t *digest,
			    size_t *digest_len);

/* Set the message of an errinfo-style buffer; used by handles. */
void mox__dkim_setmsg(char *msg, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
