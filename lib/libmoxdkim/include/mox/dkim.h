/* mox/dkim.h -- DomainKeys Identified Mail: RFC 6376, RFC 8301, RFC 8463.
 *
 * A domain signs a message by adding a DKIM-Signature header field: a hash
 * of the canonicalized body and of chosen header fields, signed with a
 * private key whose public half is published in DNS at
 * <selector>._domainkey.<domain>. A receiver verifies each signature
 * against that key; DMARC then checks whether a passing signature's domain
 * aligns with the From domain (that is libmoxdmarc's job, not ours).
 *
 * In scope:
 *   - verification (RFC 6376 section 6): every DKIM-Signature field of a
 *     message gets its own result (mox_dkim_result): pass, fail, neutral,
 *     policy, temperror, permerror or none, with a reason code and text;
 *     all tags parsed with precise errors; simple and relaxed
 *     canonicalization of header and body (section 3.4); l= honoured when
 *     the policy allows it; the key record looked up through a
 *     mox_resolver and parsed (v, h, k, n, p, s, t=y, t=s; empty p= is a
 *     revoked key, section 3.6.1); x= expiry; t=/x= ordering;
 *   - RFC 8301: rsa-sha256 is the only RSA algorithm we sign with; RSA keys
 *     under 1024 bits are refused (permerror); rsa-sha1 signatures are
 *     verified but rejected by the default policy (status "policy");
 *   - RFC 8463: ed25519-sha256 signing and verification (libsodium);
 *   - signing (section 5): one pass over the message makes any number of
 *     signatures (e.g. RSA and Ed25519), with "oversigning" of header
 *     fields as mox does: each listed field is signed once more than it
 *     occurs, so no instance can be added later (section 8.15);
 *   - private keys as PKCS#8 PEM ("PRIVATE KEY", as mox writes them), RSA
 *     also as PKCS#1 ("RSA PRIVATE KEY"); key generation; the DNS TXT
 *     record for a key;
 *   - the dkim= part of an Authentication-Results field (RFC 8601 section
 *     2.7.1, header.b from RFC 6008).
 *
 * Streaming: signers and verifiers take the message in chunks of any size
 * (mox_dkim_signer_feed, mox_dkim_verifier_feed). They keep the header
 * section (bounded by a limit) and hash the body as it comes, so memory
 * does not grow with the body.
 *
 * DNS and time: verification looks up keys in mox_dkim_verifier_end, never
 * while feeding, through the resolver in the options (libmoxdns). "Now"
 * is an option, so tests control expiry.
 *
 * Out of scope: the z= tag is parsed but not used for diagnostics; query
 * methods other than dns/txt (there are none); ARC (RFC 8617); DMARC;
 * ADSP (historic); signing with l= (we never produce it, RFC 6376 section
 * 8.2). Crypto: mbedTLS (default) or OpenSSL libcrypto for RSA and hashes,
 * chosen at build time; libsodium for Ed25519 and random numbers. libsodium
 * is initialised (sodium_init, idempotent and thread-safe) by the
 * functions that need it.
 */
#ifndef MOX_DKIM_H
#define MOX_DKIM_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_DKIM_VERSION_MAJOR 0
#define MOX_DKIM_VERSION_MINOR 1
#define MOX_DKIM_VERSION_PATCH 0
#define MOX_DKIM_VERSION_HEX                                                   \
	((MOX_DKIM_VERSION_MAJOR << 16) | (MOX_DKIM_VERSION_MINOR << 8) |         \
	 MOX_DKIM_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_DKIM_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_dkim_version(void);

/* The crypto backend this library was built with: "mbedtls" or "openssl".
 * Thread-safety: any thread. */
MOX_API const char *mox_dkim_crypto_backend(void);

/* ---- limits ---- */

/* RFC 8301 section 3.2: verifiers MUST NOT consider signatures using RSA
 * keys of less than 1024 bits as valid. */
#define MOX_DKIM_RSA_BITS_MIN 1024
/* Key size of mox_dkim_key_generate for RSA when 0 is asked (RFC 8301
 * section 3.2: signers SHOULD use at least 2048 bits). */
#define MOX_DKIM_RSA_BITS_DEFAULT 2048
/* Largest RSA key we verify with or generate. RFC 8301 asks verifiers to
 * handle 1024 to 4096 bits; larger ones only cost CPU. Not from an RFC. */
#define MOX_DKIM_RSA_BITS_MAX 8192
/* DKIM-Signature fields checked per message; more get permerror without a
 * DNS lookup. RFC 6376 section 6.1 allows verifiers to limit the number of
 * signatures they evaluate. */
#define MOX_DKIM_SIGNATURES_MAX 32
/* Default bound on the header section kept while streaming (the body is
 * never kept). Not from an RFC. */
#define MOX_DKIM_HEADER_MAX (1024 * 1024)
/* Longest DKIM-Signature field we parse; longer ones are permerror. Not
 * from an RFC; real ones are under 2 KB. */
#define MOX_DKIM_SIG_FIELD_MAX (64 * 1024)
/* Longest names in h= we accept, and most entries. Not from an RFC. */
#define MOX_DKIM_SIGNED_HEADERS_MAX 256
/* RFC 6376 section 3.5: t= and x= are at most 12 digits, l= at most 76. */
#define MOX_DKIM_TIMESTAMP_DIGITS_MAX 12
#define MOX_DKIM_LENGTH_DIGITS_MAX 76
/* Longest key record text we parse (several 255-octet strings joined).
 * Not from an RFC: an 8192-bit key's p= is about 1400 characters. */
#define MOX_DKIM_RECORD_MAX 8192

/* ---- results ---- */

/* The outcome of verifying one signature, as the dkim= result values of
 * RFC 8601 section 2.7.1 (RFC 6376 section 6.1 describes when). */
typedef enum mox_dkim_status {
	MOX_DKIM_NONE = 0,  /* no signature; also a failing t=y test key */
	MOX_DKIM_PASS,      /* the signature verified */
	MOX_DKIM_FAIL,      /* signature or body hash did not verify */
	MOX_DKIM_POLICY,    /* valid form, but refused by the local policy */
	MOX_DKIM_NEUTRAL,   /* could not be processed, other reasons */
	MOX_DKIM_TEMPERROR, /* DNS trouble: a later try may work */
	MOX_DKIM_PERMERROR, /* bad signature tags, missing or unusable key */
} mox_dkim_status;

/* "none", "pass", "fail", "policy", "neutral", "temperror", "permerror".
 * Thread-safety: any thread. */
MOX_API const char *mox_dkim_status_name(mox_dkim_status status);

/* Why a signature did not pass. */
typedef enum mox_dkim_reason {
	MOX_DKIM_R_OK = 0,           /* passed */
	MOX_DKIM_R_SIG_SYNTAX,       /* DKIM-Signature field unparsable */
	MOX_DKIM_R_FROM_NOT_SIGNED,  /* h= lacks From (RFC 6376 5.4) */
	MOX_DKIM_R_EXPIRED,          /* x= in the past (RFC 6376 3.5) */
	MOX_DKIM_R_TLD,              /* d= is a public suffix */
	MOX_DKIM_R_ALGORITHM,        /* unknown a= */
	MOX_DKIM_R_CANONICALIZATION, /* unknown c= */
	MOX_DKIM_R_QUERY_METHOD,     /* q= without dns/txt */
	MOX_DKIM_R_POLICY,           /* refused by the local policy */
	MOX_DKIM_R_NO_RECORD,        /* no key record (NXDOMAIN/NODATA) */
	MOX_DKIM_R_DNS,              /* temporary DNS failure */
	MOX_DKIM_R_RECORD_SYNTAX,    /* key record unparsable or bad key */
	MOX_DKIM_R_NOT_DKIM_RECORD,  /* TXT records, none a DKIM record */
	MOX_DKIM_R_MULTIPLE_RECORDS, /* more than one valid key record */
	MOX_DKIM_R_HASH_NOT_ALLOWED, /* key h= excludes the a= hash */
	MOX_DKIM_R_KEY_TYPE,         /* key k= differs from a= */
	MOX_DKIM_R_KEY_REVOKED,      /* empty p= (RFC 6376 3.6.1) */
	MOX_DKIM_R_WEAK_KEY,         /* RSA key < 1024 bits (RFC 8301) */
	MOX_DKIM_R_NOT_FOR_EMAIL,    /* key s= excludes email */
	MOX_DKIM_R_IDENTITY,         /* key t=s and i= domain != d= */
	MOX_DKIM_R_BODY_LENGTH,      /* l= larger than the body */
	MOX_DKIM_R_SIGNATURE,        /* the signature did not verify */
	MOX_DKIM_R_BODY_HASH,        /* the body hash did not match */
	MOX_DKIM_R_TOO_MANY,         /* beyond MOX_DKIM_SIGNATURES_MAX */
	MOX_DKIM_R_HEADER,           /* message header unusable */
} mox_dkim_reason;

/* Short text for a reason ("body hash does not match").
 * Thread-safety: any thread. */
MOX_API const char *mox_dkim_reason_text(mox_dkim_reason reason);

/* ---- DKIM-Signature, RFC 6376 section 3.5 ---- */

typedef enum mox_dkim_canon {
	MOX_DKIM_SIMPLE = 0,  /* RFC 6376 section 3.4.1 and 3.4.3 */
	MOX_DKIM_RELAXED = 1, /* RFC 6376 section 3.4.2 and 3.4.4 */
	MOX_DKIM_CANON_UNKNOWN = 2,
} mox_dkim_canon;

typedef enum mox_dkim_key_type {
	MOX_DKIM_KEY_UNKNOWN = 0,
	MOX_DKIM_KEY_RSA = 1,     /* RFC 6376 section 3.3 */
	MOX_DKIM_KEY_ED25519 = 2, /* RFC 8463 */
} mox_dkim_key_type;

typedef enum mox_dkim_hash {
	MOX_DKIM_HASH_UNKNOWN = 0,
	MOX_DKIM_HASH_SHA1 = 1, /* historic, RFC 8301 section 3.1 */
	MOX_DKIM_HASH_SHA256 = 2,
} mox_dkim_hash;

/* A parsed DKIM-Signature. Strings are NUL-terminated copies; domain and
 * selector lower-cased. Immutable once parsed: may be read from several
 * threads. */
typedef struct mox_dkim_sig {
	int version;                /* v=, always 1 */
	char *algorithm;            /* a= as written, lower-cased */
	mox_dkim_key_type key_type; /* from a=; UNKNOWN if not known */
	mox_dkim_hash hash;         /* from a=; UNKNOWN if not known */
	uint8_t *signature;         /* b=, decoded */
	size_t signature_len;
	uint8_t *body_hash;         /* bh=, decoded */
	size_t body_hash_len;
	mox_dkim_canon header_canon; /* c=, default simple/simple */
	mox_dkim_canon body_canon;
	char *canonicalization;     /* c= as written, NULL if absent */
	char *domain;               /* d= */
	char **headers;             /* h=, names as written; duplicates count */
	size_t nheaders;
	char *identity;             /* i= as written, NULL if absent */
	char *identity_domain;      /* the domain of i=, lower case, or NULL */
	int64_t length;             /* l=, -1 if absent */
	char **query_methods;       /* q=, NULL/0 if absent (dns/txt) */
	size_t nquery_methods;
	char *selector;             /* s= */
	int64_t sign_time;          /* t=, -1 if absent */
	int64_t expire_time;        /* x=, -1 if absent */
	char **copied_headers;      /* z=, decoded "Name:value", or NULL/0 */
	size_t ncopied_headers;
} mox_dkim_sig;

/* Parse a DKIM-Signature header field: the whole field as in the message
 * ("DKIM-Signature: v=1; ..." with folding, the final CRLF optional).
 * Checks the syntax of every tag (RFC 6376 section 3.5, errata 4810 and
 * 5070), duplicate tags, the required tags (v, a, b, bh, d, h, s), v=1,
 * the bh= length for a known hash, t= before x=, and that the i= domain is
 * d= or under it (section 3.5 "i="). Unknown tags are ignored (section
 * 3.2). Semantic checks that give a status (expiry, From signed, known
 * algorithm) are the verifier's.
 * \param[out] sig_out the signature, free with mox_dkim_sig_free.
 * \param[out] info (may be NULL) code, byte offset and message on error.
 * \return MOX_OK, MOX_ESYNTAX, MOX_ELIMIT (longer than
 *         MOX_DKIM_SIG_FIELD_MAX) or MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_sig_parse(const void *field, size_t len,
				   const mox_allocator *alloc,
				   mox_dkim_sig **sig_out, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per signature. */
MOX_API void mox_dkim_sig_free(mox_dkim_sig *sig);

/* Append the signature as a header field, "DKIM-Signature: v=1; d=...;
 * s=...; ... bh=...; b=...\r\n", in mox's tag order and folding (lines
 * kept under 78 characters, "\r\n\t" between tags, b= wrapped anywhere).
 * With b_empty the b= value is left empty (the form that is hashed while
 * signing, RFC 6376 section 3.7). Parsing the output gives the same
 * signature. Thread-safety: per out. */
MOX_API mox_err mox_dkim_sig_format(const mox_dkim_sig *sig, bool b_empty,
				    mox_buf *out);

/* ---- key records, RFC 6376 section 3.6.1 ---- */

/* A parsed DNS key record. Immutable once parsed. */
typedef struct mox_dkim_record {
	char *version;       /* v=, "DKIM1" or NULL if absent */
	char **hashes;       /* h=, NULL/0 if absent (all allowed) */
	size_t nhashes;
	char *key;           /* k= lower-cased, "rsa" if absent */
	mox_dkim_key_type key_type;
	char *notes;         /* n=, decoded qp-section, or NULL */
	uint8_t *pubkey;     /* p=, decoded; length 0: revoked */
	size_t pubkey_len;
	char **services;     /* s=, NULL/0 if absent ("*") */
	size_t nservices;
	char **flags;        /* t=, NULL/0 if absent */
	size_t nflags;
	bool testing;        /* t=y: the domain is testing DKIM */
	bool strict;         /* t=s: i= domain must equal d= */
	unsigned rsa_bits;   /* modulus size of an RSA key, else 0 */
} mox_dkim_record;

/* Parse a key record (the TXT strings joined). *is_dkim_out (if not NULL)
 * tells whether the text looks like a DKIM record at all: a text that is
 * not (e.g. "v=spf1 ...") is ignored by lookups, while a DKIM record with
 * an error makes the lookup a permerror (RFC 6376 section 6.1.2, as mox).
 * The public key is checked: an RSA SubjectPublicKeyInfo (or, leniently, a
 * bare RSAPublicKey, as some records have) or a 32-byte Ed25519 key.
 * \return MOX_OK, MOX_ESYNTAX (bad tag, unknown k=, p= missing or not a
 *         key), MOX_ELIMIT (longer than MOX_DKIM_RECORD_MAX), MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_record_parse(const void *text, size_t len,
				      const mox_allocator *alloc,
				      mox_dkim_record **record_out,
				      bool *is_dkim_out, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per record. */
MOX_API void mox_dkim_record_free(mox_dkim_record *record);
/* Append the record as TXT text with the tags that differ from the
 * defaults, "v=DKIM1;h=sha256;k=ed25519;t=s;p=...", as mox writes it.
 * Thread-safety: per out. */
MOX_API mox_err mox_dkim_record_format(const mox_dkim_record *record,
				       mox_buf *out);

/* The result of a record lookup at <selector>._domainkey.<domain>. */
typedef struct mox_dkim_lookup_result {
	mox_dkim_status status; /* NEUTRAL when a record was found, else
				   PERMERROR or TEMPERROR as for a signature */
	mox_dkim_reason reason;
	char why[256];          /* detail, "" when found */
	mox_dkim_record *record; /* the record, or NULL; caller frees */
	char *txt;              /* its text, or NULL; free with the allocator */
	bool authentic;         /* DNSSEC-validated answer (AD bit) */
} mox_dkim_lookup_result;

/* Look up and parse the key record for selector and domain (ASCII names).
 * Exactly one DKIM record must be there (RFC 6376 section 3.6.2.2): none
 * is permerror (NXDOMAIN, as mox) or temperror (only non-DKIM TXT),
 * several temperror, one with an error permerror, a DNS failure temperror.
 * \return MOX_OK with *result filled (free with
 *         mox_dkim_lookup_result_clear) or MOX_ENOMEM/MOX_EINVAL.
 * Thread-safety: as the resolver. */
MOX_API mox_err mox_dkim_lookup(const mox_resolver *resolver,
				const char *selector, const char *domain,
				const mox_allocator *alloc,
				mox_dkim_lookup_result *result);
/* Free what a lookup result owns. Thread-safety: per result. */
MOX_API void mox_dkim_lookup_result_clear(mox_dkim_lookup_result *result,
					  const mox_allocator *alloc);

/* ---- private keys ---- */

typedef struct mox_dkim_key mox_dkim_key; /* opaque, immutable */

/* Parse a PEM private key: "PRIVATE KEY" (PKCS#8, RFC 5208/5958) holding
 * an RSA (rsaEncryption) or Ed25519 (RFC 8410) key, as mox writes, or
 * "RSA PRIVATE KEY" (PKCS#1). Text outside the PEM block and PEM headers
 * ("Note: ...") are ignored. The key is parsed once here; keep it and use
 * it for every message. RSA keys under MOX_DKIM_RSA_BITS_MIN bits or over
 * MOX_DKIM_RSA_BITS_MAX are refused (MOX_ERANGE).
 * \return MOX_OK, MOX_ESYNTAX (no PEM block, bad base64, bad DER, another
 *         key type), MOX_ERANGE, MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_key_parse_pem(const void *pem, size_t len,
				       const mox_allocator *alloc,
				       mox_dkim_key **key_out,
				       mox_errinfo *info);
/* Make a new key: RSA with bits bits (0: MOX_DKIM_RSA_BITS_DEFAULT; must
 * be between MOX_DKIM_RSA_BITS_MIN and MOX_DKIM_RSA_BITS_MAX), or Ed25519
 * (bits ignored). Thread-safety: any thread. */
MOX_API mox_err mox_dkim_key_generate(mox_dkim_key_type type, unsigned bits,
				      const mox_allocator *alloc,
				      mox_dkim_key **key_out);
/* NULL is a no-op; the key material is wiped. Thread-safety: per key (no
 * signer may still use it). */
MOX_API void mox_dkim_key_free(mox_dkim_key *key);
/* Thread-safety: any thread. */
MOX_API mox_dkim_key_type mox_dkim_key_get_type(const mox_dkim_key *key);
/* RSA modulus size, 256 for Ed25519. Thread-safety: any thread. */
MOX_API unsigned mox_dkim_key_bits(const mox_dkim_key *key);
/* Append the key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), with a
 * "Note: <note>" PEM header when note is not NULL, as mox writes its keys.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_key_write_pem(const mox_dkim_key *key,
				       const char *note, mox_buf *out);
/* Append the public key as it goes in p=: base64 of the DER
 * SubjectPublicKeyInfo for RSA, of the 32 raw bytes for Ed25519.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_key_public_base64(const mox_dkim_key *key,
					   mox_buf *out);
/* Append the TXT record mox's "dkim txt" prints for a key:
 * "v=DKIM1;h=sha256;[k=ed25519;]t=s;p=...". Thread-safety: any thread. */
MOX_API mox_err mox_dkim_key_txt_record(const mox_dkim_key *key,
					mox_buf *out);

/* ---- signing, RFC 6376 section 5 ---- */

/* One signature to add. */
typedef struct mox_dkim_selector {
	size_t size;            /* sizeof(mox_dkim_selector) */
	const char *domain;     /* d=, ASCII */
	const char *selector;   /* s=, ASCII */
	const mox_dkim_key *key;  /* borrowed; must outlive the signer */
	/* Header field names to sign (From required). NULL: mox's default
	 * list: From, To, Cc, Bcc, Reply-To, References, In-Reply-To,
	 * Subject, Date, Message-Id, Content-Type. */
	const char *const *headers;
	size_t nheaders;
	/* false (default): oversign, as mox: each name is listed once more
	 * than the message has that field, so none can be added (RFC 6376
	 * section 8.15). true: list each name once. */
	bool no_oversign;
	mox_dkim_canon header_canon; /* default simple, as mox */
	mox_dkim_canon body_canon;
	uint64_t expiration;    /* x= = t= + this many seconds; 0: no x= */
	const char *identity;   /* i=, e.g. "user@example.com"; NULL: none */
	bool no_timestamp;      /* true: leave out t= */
} mox_dkim_selector;

/* Header field names of the default list, NULL-terminated.
 * Thread-safety: any thread. */
MOX_API const char *const *mox_dkim_default_headers(void);

typedef struct mox_dkim_sign_opts {
	size_t size;                 /* sizeof(mox_dkim_sign_opts) */
	const mox_allocator *alloc;
	const mox_dkim_selector *selectors; /* copied at _new */
	size_t nselectors;
	/* Seconds since the epoch for t=/x=; 0: the clock. */
	int64_t now;
	size_t max_header;           /* 0: MOX_DKIM_HEADER_MAX */
} mox_dkim_sign_opts;

typedef struct mox_dkim_signer mox_dkim_signer;

/* Make a signer for the selectors. Checks each selector (names, key, From
 * in the header list). A signer can sign many messages one after the
 * other (mox_dkim_signer_reset between them); keys are not parsed again.
 * \return MOX_OK, MOX_EINVAL with a message in *info, MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dkim_signer_new(mox_dkim_signer **signer_out,
				    const mox_dkim_sign_opts *opts,
				    mox_errinfo *info);
/* Take len more bytes of the message (CRLF line endings). Not kept past
 * the call except the header section. MOX_ELIMIT when the header section
 * exceeds max_header. Errors stick until reset. Thread-safety: per handle. */
MOX_API mox_err mox_dkim_signer_feed(mox_dkim_signer *signer,
				     const void *data, size_t len);
/* End of message: append the DKIM-Signature fields (each ending in CRLF)
 * to out, to be put before the message. The message must have exactly one
 * From field (RFC 6376 section 5.4, as mox); else MOX_ESYNTAX.
 * Thread-safety: per handle. */
MOX_API mox_err mox_dkim_signer_end(mox_dkim_signer *signer, mox_buf *out);
/* Forget the message, keep selectors and keys. Thread-safety: per handle. */
MOX_API void mox_dkim_signer_reset(mox_dkim_signer *signer);
/* Detail for the last error. Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_dkim_signer_errmsg(const mox_dkim_signer *signer);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_dkim_signer_free(mox_dkim_signer *signer);

/* ---- verification, RFC 6376 section 6 ---- */

/* Policy flags: the default policy (0) is mox's plus RFC 8301's sha1 rule:
 * signatures with l= are refused (a partly signed body, RFC 6376 section
 * 8.2), Subject must be signed, rsa-sha1 is refused. */
enum {
	MOX_DKIM_POLICY_ALLOW_LENGTH = 1u << 0,     /* accept and honour l= */
	MOX_DKIM_POLICY_ALLOW_NO_SUBJECT = 1u << 1, /* Subject may be unsigned */
	MOX_DKIM_POLICY_ALLOW_SHA1 = 1u << 2,       /* accept rsa-sha1 */
};

typedef struct mox_dkim_result mox_dkim_result;

typedef struct mox_dkim_verify_opts {
	size_t size;                 /* sizeof(mox_dkim_verify_opts) */
	const mox_allocator *alloc;
	const mox_resolver *resolver; /* required */
	unsigned policy;             /* MOX_DKIM_POLICY_* */
	/* Extra policy: return false (and a reason in why) to give the
	 * signature status "policy". Called after the built-in checks. */
	bool (*policy_fn)(void *arg, const mox_dkim_sig *sig, char *why,
			  size_t why_size);
	void *policy_arg;
	/* With a public suffix list, signatures whose d= is a public suffix
	 * ("com", "co.uk") are permerror, as mox (RFC 6376 section 6.1.1
	 * lets verifiers refuse them). NULL: not checked. */
	const mox_dns_psl *psl;
	/* false (default): a failing signature with a t=y key gets status
	 * "none" (RFC 6376 section 3.6.1: the domain is testing). */
	bool ignore_test_mode;
	/* Accept UTF-8 in i= local parts (RFC 6532 messages). */
	bool smtputf8;
	int64_t now;                 /* seconds since the epoch; 0: clock */
	size_t max_header;           /* 0: MOX_DKIM_HEADER_MAX */
	size_t max_signatures;       /* 0: MOX_DKIM_SIGNATURES_MAX */
} mox_dkim_verify_opts;

/* The result for one DKIM-Signature field, in message order. */
struct mox_dkim_result {
	mox_dkim_status status;
	mox_dkim_reason reason;
	const char *why;               /* detail, e.g. "body hash does not
					  match: bh=... computed ..." */
	const mox_dkim_sig *sig;       /* NULL when unparsable */
	const mox_dkim_record *record; /* NULL when not looked up/found */
	bool record_authentic;         /* key record DNSSEC-validated */
	size_t field_index;            /* index of the field in the header */
};

typedef struct mox_dkim_verifier mox_dkim_verifier;

/* Make a verifier. MOX_EINVAL without a resolver.
 * Thread-safety: any thread. Many verifiers may share one resolver. */
MOX_API mox_err mox_dkim_verifier_new(mox_dkim_verifier **verifier_out,
				      const mox_dkim_verify_opts *opts);
/* Take len more bytes of the message. When the header section is
 * complete its DKIM-Signature fields are parsed and the body is hashed
 * from then on, once per distinct (canonicalization, hash, l=) of the
 * signatures. MOX_ELIMIT when the header section exceeds max_header.
 * Errors stick until reset. Thread-safety: per handle. */
MOX_API mox_err mox_dkim_verifier_feed(mox_dkim_verifier *verifier,
				       const void *data, size_t len);
/* End of message: look up keys and check every signature. Afterwards the
 * results are available. \return MOX_OK (whatever the statuses) or an
 * error (MOX_ENOMEM). Thread-safety: per handle; blocks on DNS. */
MOX_API mox_err mox_dkim_verifier_end(mox_dkim_verifier *verifier);
/* Number of results (DKIM-Signature fields) after end.
 * Thread-safety: per handle. */
MOX_API size_t mox_dkim_verifier_count(const mox_dkim_verifier *verifier);
/* The index-th result, borrowed until reset or free; NULL past the end.
 * Thread-safety: per handle. */
MOX_API const mox_dkim_result *
mox_dkim_verifier_result(const mox_dkim_verifier *verifier, size_t index);
/* Forget the message and results, keep the options.
 * Thread-safety: per handle. */
MOX_API void mox_dkim_verifier_reset(mox_dkim_verifier *verifier);
/* Detail for the last error. Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_dkim_verifier_errmsg(const mox_dkim_verifier *verifier);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_dkim_verifier_free(mox_dkim_verifier *verifier);

/* ---- Authentication-Results, RFC 8601 ---- */

/* Append the resinfo of one result: "dkim=pass (2048 bit rsa)
 * header.d=example.com header.i=@example.com header.s=sel
 * header.a=rsa-sha256 header.b=AbCdEfGh1234", with reason="..." for a
 * result that did not pass (RFC 8601 section 2.7.1; header.b is the first
 * 12 characters of b=, RFC 6008 section 4). Thread-safety: per out. */
MOX_API mox_err mox_dkim_result_authres(const mox_dkim_result *result,
					mox_buf *out);
/* Append the dkim= parts of all results of a verifier, separated by
 * ";\r\n\t", or "dkim=none" when the message had no signature.
 * Thread-safety: per handle. */
MOX_API mox_err mox_dkim_verifier_authres(const mox_dkim_verifier *verifier,
					  mox_buf *out);

#ifdef __cplusplus
}
#endif
#endif
