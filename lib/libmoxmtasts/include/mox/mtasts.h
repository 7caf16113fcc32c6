/* mox/mtasts.h -- SMTP MTA Strict Transport Security (MTA-STS), RFC 8461.
 *
 * A domain publishes "_mta-sts.<domain>" TXT "v=STSv1; id=..." and serves a
 * policy at https://mta-sts.<domain>/.well-known/mta-sts.txt saying whether
 * senders must use verified TLS (mode enforce, testing or none), to which MX
 * hosts (patterns, with "*." wildcards), and how long the policy may be
 * cached (max_age).
 *
 * In scope:
 *   - the TXT record (RFC 8461 section 3.1) and the policy (section 3.2):
 *     parsing with precise errors, and writing both back;
 *   - record discovery through a mox_resolver (section 3.1, CNAMEs followed
 *     by the resolver), telling "no record" from "DNS failed";
 *   - policy fetching over HTTPS with libcurl (section 3.3): certificate
 *     verified against the system CA store, redirects refused, only status
 *     200, media type text/plain (section 3.2), a time limit and a size
 *     limit; each refusal says why;
 *   - MX host matching (section 4.1) and the delivery decision (section 5):
 *     "may I deliver to this MX host, and must TLS be verified?";
 *   - a policy cache in SQLite (section 5.1 and 3.3): refreshed when the
 *     record's id changes, expired after max_age, a back-off of 5 minutes
 *     after a failed fetch, periodic refresh and removal of unused entries,
 *     as mox's mtastsdb does; it hands out what TLS reporting (RFC 8460)
 *     needs: the policy type and failure result types.
 *
 * Out of scope: serving policies (the server's HTTP part), DANE (RFC 7672),
 * the smart-host rules of section 3.4 (the caller picks the policy domain),
 * sending TLS reports (libmoxtlsrpt has their structures).
 *
 * I/O: record lookups go through the caller's resolver; the fetcher and the
 * cache are the only parts that use the network (libcurl) or files
 * (SQLite). Parsers and the decision are pure.
 */
#ifndef MOX_MTASTS_H
#define MOX_MTASTS_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_MTASTS_VERSION_MAJOR 0
#define MOX_MTASTS_VERSION_MINOR 1
#define MOX_MTASTS_VERSION_PATCH 0
#define MOX_MTASTS_VERSION_HEX                                                         \
	((MOX_MTASTS_VERSION_MAJOR << 16) | (MOX_MTASTS_VERSION_MINOR << 8) |          \
	 MOX_MTASTS_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_MTASTS_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_mtasts_version(void);

/* RFC 8461 section 3.1: sts-id = 1*32(ALPHA / DIGIT). */
#define MOX_MTASTS_ID_MAX 32
/* RFC 8461 sections 3.1 and 3.2: extension names are 1 to 32 characters. */
#define MOX_MTASTS_EXT_NAME_MAX 32
/* RFC 8461 section 3.2: max_age is 1*10DIGIT with a maximum of 31557600
 * seconds (about a year). Larger values are read, but a cache never keeps a
 * policy longer than this. */
#define MOX_MTASTS_MAX_AGE_MAX 31557600u
/* RFC 8461 section 3.3 suggests a one minute timeout and a 64 kilobyte
 * policy size limit for the HTTPS fetch. */
#define MOX_MTASTS_FETCH_TIMEOUT_MS 60000u
#define MOX_MTASTS_POLICY_SIZE_MAX 65536u
/* RFC 8461 section 3.3: after a failed fetch, wait five minutes or more
 * before the next attempt. */
#define MOX_MTASTS_BACKOFF_SECONDS 300u
/* A TXT record longer than this is not a record (a sane bound, not from
 * the RFC). */
#define MOX_MTASTS_RECORD_MAX 4096u

/* An extension key/value pair of a record or policy. */
typedef struct mox_mtasts_pair {
	char *key;
	char *value;
} mox_mtasts_pair;

/* ---- the TXT record, RFC 8461 section 3.1 ---- */

typedef struct mox_mtasts_record {
	char *id;           /* id=, 1-32 letters and digits */
	size_t nextensions; /* other fields, in order */
	mox_mtasts_pair *extensions;
	const mox_allocator *alloc;
} mox_mtasts_record;

/* Whether TXT text is meant as an MTA-STS record: "v=STSv1", optional
 * white space, ";". Only such records count when several TXT records are
 * present (section 3.1); one that starts so but is invalid makes the
 * lookup fail rather than being skipped, as mox does.
 * Thread-safety: any thread. */
MOX_API bool mox_mtasts_is_record(const char *txt, size_t len);

/* Parse an MTA-STS TXT record (section 3.1):
 *
 *   sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
 *   sts-field       = sts-id / sts-extension
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-sep         = *WSP %x3B *WSP
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Case-sensitive. The id is required; of repeated id fields the first
 * counts (section 3.2's rule for policies, applied as mox does).
 * \param[in] txt, len  the TXT record's text (its strings concatenated).
 * \param[out] record_out  set to the record (free with
 *             mox_mtasts_record_free), NULL on error.
 * \param[out] info  optional: for MOX_ESYNTAX, the offset and a message
 *             ("id longer than 32 characters at 7").
 * \return MOX_OK, MOX_ESYNTAX, MOX_ELIMIT (longer than
 *         MOX_MTASTS_RECORD_MAX), MOX_ENOMEM, MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_record_parse(const char *txt, size_t len,
                                        const mox_allocator *alloc,
                                        mox_mtasts_record **record_out,
                                        mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per record. */
MOX_API void mox_mtasts_record_free(mox_mtasts_record *record);
/* Append "v=STSv1; id=ID; key=value..." to out.
 * Thread-safety: per out. */
MOX_API mox_err mox_mtasts_record_format(const mox_mtasts_record *record, mox_buf *out);

/* ---- the policy, RFC 8461 section 3.2 ---- */

typedef enum mox_mtasts_mode {
	MOX_MTASTS_MODE_NONE = 0,    /* the domain no longer does MTA-STS */
	MOX_MTASTS_MODE_TESTING = 1, /* deliver anyway, report failures */
	MOX_MTASTS_MODE_ENFORCE = 2, /* verified TLS to a listed MX, or nothing */
} mox_mtasts_mode;

/* "none", "testing", "enforce"; "" for other values.
 * Thread-safety: any thread. */
MOX_API const char *mox_mtasts_mode_name(mox_mtasts_mode mode);

/* An allowed MX host: "mx1.example.com", or with wildcard "*.example.com"
 * (domain "example.com"), which matches exactly one more label. */
typedef struct mox_mtasts_mx {
	bool wildcard;
	char *domain; /* lower case A-labels, without "*." */
} mox_mtasts_mx;

typedef struct mox_mtasts_policy {
	mox_mtasts_mode mode;
	uint64_t max_age; /* seconds, as written (at most 9999999999) */
	size_t nmx;
	mox_mtasts_mx *mx; /* in order; may be empty only in mode none */
	size_t nextensions;
	mox_mtasts_pair *extensions;
	const mox_allocator *alloc;
} mox_mtasts_policy;

/* Parse a policy (section 3.2):
 *
 *   sts-policy-record   = sts-policy-field *WSP
 *                         *(sts-policy-term sts-policy-field *WSP)
 *                         [sts-policy-term]
 *   sts-policy-field    = sts-policy-version / sts-policy-mode /
 *                         sts-policy-max-age / sts-policy-mx /
 *                         sts-policy-extension
 *   sts-policy-field-delim = ":" *WSP
 *   sts-policy-version  = %s"version" sts-policy-field-delim %s"STSv1"
 *   sts-policy-mode     = %s"mode" sts-policy-field-delim
 *                         (%s"testing" / %s"enforce" / %s"none")
 *   sts-policy-mx       = %s"mx" sts-policy-field-delim ["*."] Domain
 *   sts-policy-max-age  = %s"max_age" sts-policy-field-delim 1*10DIGIT
 *   sts-policy-extension = sts-policy-ext-name sts-policy-field-delim
 *                         sts-policy-ext-value
 *   sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-policy-ext-value = sts-policy-vchar
 *                         [*(%x20 / sts-policy-vchar) sts-policy-vchar]
 *   sts-policy-vchar    = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
 *   sts-policy-term     = LF / CRLF
 *
 * version, mode and max_age are required; mx at least once unless the mode
 * is none. Of repeated version, mode and max_age fields the first counts.
 * MX names must be A-labels (a U-label is an error, as in mox) and valid
 * host names (RFC 5321 section 4.1.2 Domain).
 * \return MOX_OK; MOX_ESYNTAX with *info saying what and where ("missing
 * field max_age", "invalid mode 'strict' at 21"); MOX_ELIMIT for text
 * longer than MOX_MTASTS_POLICY_SIZE_MAX; MOX_ENOMEM; MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_policy_parse(const char *text, size_t len,
                                        const mox_allocator *alloc,
                                        mox_mtasts_policy **policy_out,
                                        mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per policy. */
MOX_API void mox_mtasts_policy_free(mox_mtasts_policy *policy);
/* Deep copy with alloc. Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_policy_copy(const mox_mtasts_policy *policy,
                                       const mox_allocator *alloc,
                                       mox_mtasts_policy **copy_out);
/* Append the policy as served at the well-known URL: "version: STSv1",
 * "mode: ...", "max_age: ...", then "mx: ..." lines, each ending in LF
 * (extensions are left out, as mox writes policies).
 * Thread-safety: per out. */
MOX_API mox_err mox_mtasts_policy_format(const mox_mtasts_policy *policy, mox_buf *out);

/* Whether host (ASCII, A-labels, trailing dot allowed) matches one of the
 * policy's MX patterns (section 4.1): equal, case-insensitive; a wildcard
 * "*.example.com" matches "mail.example.com" but neither "example.com" nor
 * "a.b.example.com". Thread-safety: any thread. */
MOX_API bool mox_mtasts_policy_matches(const mox_mtasts_policy *policy,
                                       const char *host);

/* What a sender does for one MX host under a policy (section 5). */
typedef struct mox_mtasts_decision {
	/* Delivery to this host may be attempted. False only in mode
	 * enforce for a host that matches no mx pattern (section 5). */
	bool allowed;
	/* STARTTLS with a certificate valid for the host name (section 4.2)
	 * is required: without it the message must not be delivered there.
	 * Mode enforce and a matching host. */
	bool require_tls;
	/* Failures to validate (no match, no STARTTLS, bad certificate) are
	 * to be reported with TLSRPT (RFC 8460): modes enforce and testing. */
	bool report;
	bool mx_match; /* the host matched a pattern */
} mox_mtasts_decision;

/* Decide for mx_host under policy; policy NULL (no MTA-STS, or a cached
 * policy of mode none) allows delivery without requirements.
 * Thread-safety: any thread. */
MOX_API void mox_mtasts_decide(const mox_mtasts_policy *policy, const char *mx_host,
                               mox_mtasts_decision *decision_out);

/* ---- record discovery ---- */

typedef enum mox_mtasts_lookup_status {
	MOX_MTASTS_LOOKUP_FOUND = 0,     /* exactly one valid record */
	MOX_MTASTS_LOOKUP_NONE = 1,      /* no name, no TXT, no STS record */
	MOX_MTASTS_LOOKUP_MULTIPLE = 2,  /* more than one STS record */
	MOX_MTASTS_LOOKUP_SYNTAX = 3,    /* an STS record that is invalid */
	MOX_MTASTS_LOOKUP_TEMPERROR = 4, /* DNS failed: try again later */
} mox_mtasts_lookup_status;

/* "found", "none", "multiple", "syntax", "temperror".
 * Thread-safety: any thread. */
MOX_API const char *mox_mtasts_lookup_status_name(mox_mtasts_lookup_status s);

typedef struct mox_mtasts_lookup_result {
	mox_mtasts_lookup_status status;
	bool authentic;            /* DNSSEC-validated answer */
	mox_mtasts_record *record; /* FOUND: owned by the result */
	char *txt;                 /* FOUND: the record's text */
	char why[256];             /* for the other statuses */
	const mox_allocator *alloc;
} mox_mtasts_lookup_result;

/* Look up the TXT records at "_mta-sts.<domain>" (domain in ASCII,
 * A-labels) and pick the MTA-STS record (section 3.1).
 * \return MOX_OK with *result_out filled (check status; free its parts
 *         with mox_mtasts_lookup_result_clear), or MOX_ENOMEM/MOX_EINVAL.
 * Thread-safety: any thread (as the resolver). */
MOX_API mox_err mox_mtasts_lookup(const mox_resolver *resolver, const char *domain,
                                  const mox_allocator *alloc,
                                  mox_mtasts_lookup_result *result_out);
/* Free what the result owns; the struct may be reused.
 * Thread-safety: per result. */
MOX_API void mox_mtasts_lookup_result_clear(mox_mtasts_lookup_result *result);

/* ---- fetching the policy over HTTPS, section 3.3 ---- */

typedef struct mox_mtasts_fetcher mox_mtasts_fetcher;

/* Send connections for a host name elsewhere, as curl's CONNECT_TO: the
 * TLS name check still uses host. For tests that serve policies on
 * loopback; production leaves these out. */
typedef struct mox_mtasts_connect_to {
	const char *host; /* "mta-sts.example.com" */
	const char *addr; /* "127.0.0.1" or "::1" */
	uint16_t port;
} mox_mtasts_connect_to;

typedef struct mox_mtasts_fetch_opts {
	size_t size; /* sizeof(mox_mtasts_fetch_opts) */
	const mox_allocator *alloc;
	unsigned timeout_ms; /* whole fetch; 0: MOX_MTASTS_FETCH_TIMEOUT_MS */
	size_t max_size;     /* body; 0: MOX_MTASTS_POLICY_SIZE_MAX */
	/* Resolver for the policy host's addresses (A and AAAA). A name
	 * that does not exist means "no policy", as in mox. NULL: libcurl
	 * resolves with the system resolver. */
	const mox_resolver *resolver;
	/* A PEM file of CA certificates to trust instead of the system's
	 * store. For tests; NULL in production. */
	const char *ca_file;
	/* Connection overrides, for tests; NULL/0 in production. */
	const mox_mtasts_connect_to *connect_to;
	size_t nconnect_to;
	/* Proxy: NULL: libcurl's environment variables (https_proxy...);
	 * "": never a proxy; otherwise a proxy URL. */
	const char *proxy;
	const char *user_agent; /* NULL: "mox-c/<version>" */
} mox_mtasts_fetch_opts;

/* A fetcher: the configuration for policy fetches. Calls
 * curl_global_init, which libcurl reference-counts.
 * \return MOX_OK; MOX_EINVAL (bad opts, *info says which); MOX_ENOMEM;
 *         MOX_EUNSUPPORTED when libcurl lacks HTTPS.
 * Thread-safety: any thread when libcurl reports CURL_VERSION_THREADSAFE
 * (Debian 12's 7.88 does); otherwise not thread-safe (curl_global_init). */
MOX_API mox_err mox_mtasts_fetcher_new(mox_mtasts_fetcher **fetcher_out,
                                       const mox_mtasts_fetch_opts *opts,
                                       mox_errinfo *info);
/* NULL is a no-op. Thread-safety: as mox_mtasts_fetcher_new; no fetch
 * may be running. */
MOX_API void mox_mtasts_fetcher_free(mox_mtasts_fetcher *fetcher);

typedef enum mox_mtasts_fetch_status {
	MOX_MTASTS_FETCH_OK = 0,       /* a valid policy */
	MOX_MTASTS_FETCH_NOPOLICY = 1, /* the policy host does not exist, or
	                                  HTTP 404 */
	MOX_MTASTS_FETCH_ERROR = 2,    /* could not fetch: see problem */
	MOX_MTASTS_FETCH_SYNTAX = 3,   /* fetched, but not a valid policy */
} mox_mtasts_fetch_status;

/* Why a fetch failed, precisely. */
typedef enum mox_mtasts_fetch_problem {
	MOX_MTASTS_PROBLEM_NONE = 0,
	MOX_MTASTS_PROBLEM_DNS,          /* resolving the policy host failed */
	MOX_MTASTS_PROBLEM_CONNECT,      /* TCP connection, network error */
	MOX_MTASTS_PROBLEM_TLS,          /* TLS handshake failed */
	MOX_MTASTS_PROBLEM_CERTIFICATE,  /* certificate not valid for host */
	MOX_MTASTS_PROBLEM_TIMEOUT,      /* not done within timeout_ms */
	MOX_MTASTS_PROBLEM_REDIRECT,     /* 3xx: refused, section 3.3 */
	MOX_MTASTS_PROBLEM_HTTP_STATUS,  /* other than 200 (and 404) */
	MOX_MTASTS_PROBLEM_CONTENT_TYPE, /* not text/plain, section 3.2 */
	MOX_MTASTS_PROBLEM_TOO_LARGE,    /* body over max_size */
	MOX_MTASTS_PROBLEM_SYNTAX,       /* body is not a valid policy */
	MOX_MTASTS_PROBLEM_NOT_FOUND,    /* no such host, or 404 */
} mox_mtasts_fetch_problem;

/* "none", "dns", "connect", "tls", "certificate", "timeout", "redirect",
 * "http-status", "content-type", "too-large", "syntax", "not-found".
 * Thread-safety: any thread. */
MOX_API const char *mox_mtasts_problem_name(mox_mtasts_fetch_problem p);
/* The RFC 8460 section 4.3.2.2 result type for TLS reports:
 * "sts-webpki-invalid" for certificate problems, "sts-policy-invalid" for
 * syntax, "sts-policy-fetch-error" for the others; NULL for NONE.
 * Thread-safety: any thread. */
MOX_API const char *mox_mtasts_problem_result_type(mox_mtasts_fetch_problem p);

typedef struct mox_mtasts_fetch_result {
	mox_mtasts_fetch_status status;
	mox_mtasts_fetch_problem problem;
	long http_status;          /* 0 when no response */
	mox_mtasts_policy *policy; /* OK: owned by the result */
	char *text;                /* OK, SYNTAX: the body as fetched */
	size_t text_len;
	char why[256]; /* what went wrong, for humans */
	const mox_allocator *alloc;
} mox_mtasts_fetch_result;

/* Fetch https://mta-sts.<domain>/.well-known/mta-sts.txt (domain ASCII,
 * A-labels) and parse it. Nothing is kept between fetches (no connection
 * reuse: policies are cached, fetches are rare).
 * \return MOX_OK with *result_out filled (check status), MOX_ENOMEM or
 *         MOX_EINVAL. Free the result's parts with
 *         mox_mtasts_fetch_result_clear.
 * Thread-safety: any thread; one fetcher serves any number at once. */
MOX_API mox_err mox_mtasts_fetch(const mox_mtasts_fetcher *fetcher, const char *domain,
                                 mox_mtasts_fetch_result *result_out);
/* Thread-safety: per result. */
MOX_API void mox_mtasts_fetch_result_clear(mox_mtasts_fetch_result *result);

typedef struct mox_mtasts_get_result {
	mox_mtasts_lookup_result lookup;
	mox_mtasts_fetch_result fetch;
} mox_mtasts_get_result;

/* The record lookup, and when a record is found, the policy fetch: what
 * "mox mtasts lookup" shows. fetch.status is meaningful only when
 * lookup.status is FOUND. The fetcher's allocator is used.
 * \return MOX_OK with *result_out filled (free with
 *         mox_mtasts_get_result_clear), MOX_ENOMEM or MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_get(const mox_resolver *resolver,
                               const mox_mtasts_fetcher *fetcher, const char *domain,
                               mox_mtasts_get_result *result_out);
/* Thread-safety: per result. */
MOX_API void mox_mtasts_get_result_clear(mox_mtasts_get_result *result);

/* ---- the policy cache ---- */

typedef struct mox_mtasts_cache mox_mtasts_cache;

/* The fetch the cache uses: a fetcher's (default), or a function of the
 * caller's (tests, a server with its own HTTP client). It must fill
 * result_out as mox_mtasts_fetch does. */
typedef mox_err (*mox_mtasts_fetch_fn)(void *arg, const char *domain,
                                       mox_mtasts_fetch_result *result_out);

typedef struct mox_mtasts_cache_opts {
	size_t size; /* sizeof(mox_mtasts_cache_opts) */
	const mox_allocator *alloc;
	const char *path;                  /* SQLite file, created if missing */
	const mox_resolver *resolver;      /* required: record lookups */
	const mox_mtasts_fetcher *fetcher; /* this or fetch_fn is required */
	mox_mtasts_fetch_fn fetch_fn;
	void *fetch_arg;
	/* Wall-clock time in seconds since 1970; NULL: time(). Tests pass
	 * their own to make policies expire. */
	int64_t (*now)(void *arg);
	void *now_arg;
} mox_mtasts_cache_opts;

/* Open (or create) the cache database: WAL mode, schema version checked.
 * \return MOX_OK; MOX_EIO with *info ("cannot open ...: reason");
 *         MOX_EINVAL; MOX_ENOMEM.
 * Thread-safety: any thread. The handle may be used from many threads:
 * database access is serialised by an internal lock, lookups and fetches
 * run outside it. */
MOX_API mox_err mox_mtasts_cache_new(mox_mtasts_cache **cache_out,
                                     const mox_mtasts_cache_opts *opts,
                                     mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per handle, no call may be running. */
MOX_API void mox_mtasts_cache_free(mox_mtasts_cache *cache);

typedef enum mox_mtasts_cache_status {
	/* A policy applies (mode testing or enforce): see policy. */
	MOX_MTASTS_CACHE_POLICY = 0,
	/* The domain does not do MTA-STS (no record, mode none, or its
	 * policy could not be had: section 3.3 says to deliver as without
	 * MTA-STS then). */
	MOX_MTASTS_CACHE_NONE = 1,
	/* DNS failed and nothing is cached: try the delivery later. */
	MOX_MTASTS_CACHE_TEMPERROR = 2,
} mox_mtasts_cache_status;

/* Where a cache answer came from. */
typedef enum mox_mtasts_cache_source {
	MOX_MTASTS_SOURCE_FETCHED = 0, /* fetched now (first time, new id) */
	MOX_MTASTS_SOURCE_CACHED = 1,  /* cached, id unchanged in DNS */
	MOX_MTASTS_SOURCE_STALE = 2,   /* cached, but DNS or the new policy's
	                                  fetch failed: still used (section
	                                  5.1: a cached policy stays valid) */
	MOX_MTASTS_SOURCE_BACKOFF = 3, /* a fetch failed recently: none */
	MOX_MTASTS_SOURCE_NONE = 4,    /* nothing cached, nothing stored */
} mox_mtasts_cache_source;

/* What a TLS report (RFC 8460) needs to know about this policy lookup:
 * the policy type of section 4.3.1 and, on trouble, one failure detail
 * (section 4.3.2.2 result type and a failure-reason-code as mox writes
 * them). */
typedef struct mox_mtasts_report_info {
	const char *policy_type; /* "sts" or "no-policy-found" */
	const char *result_type; /* NULL, or e.g. "sts-policy-fetch-error" */
	char reason[128];        /* failure-reason-code, or "" */
} mox_mtasts_report_info;

typedef struct mox_mtasts_cache_result {
	mox_mtasts_cache_status status;
	mox_mtasts_cache_source source;
	bool fresh;                /* the policy is known current */
	mox_mtasts_policy *policy; /* POLICY: owned by the result */
	char *policy_text;         /* the policy as fetched, or NULL */
	char *record_id;           /* the id it was fetched for, or NULL */
	mox_mtasts_report_info report;
	char why[256];
	const mox_allocator *alloc;
} mox_mtasts_cache_result;

/* The policy for domain (ASCII, A-labels) as a sender needs it at
 * delivery: from the cache if present and not expired, after checking in
 * DNS that the record's id is unchanged (a new id means a new policy is
 * fetched; section 3.1, 5.1); otherwise looked up and fetched now, and
 * stored. A failed fetch is stored as a back-off for
 * MOX_MTASTS_BACKOFF_SECONDS (section 3.3). Give the policy to
 * mox_mtasts_decide for each MX host.
 * \return MOX_OK with *result_out filled (free with
 *         mox_mtasts_cache_result_clear); MOX_EIO for database errors
 *         (the message in result_out->why); MOX_ENOMEM; MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_cache_get(mox_mtasts_cache *cache, const char *domain,
                                     mox_mtasts_cache_result *result_out);
/* Thread-safety: per result. */
MOX_API void mox_mtasts_cache_result_clear(mox_mtasts_cache_result *result);

/* Periodic upkeep (RFC 8461 section 5.1 suggests refreshing policies
 * before they expire), as mox does once a day: remove entries unused for
 * MOX_MTASTS_CACHE_UNUSED_SECONDS, then refresh at most max entries not
 * updated for MOX_MTASTS_CACHE_REFRESH_SECONDS: same id in DNS extends the
 * policy's life; a new id, or DNS trouble for a policy that is not mode
 * none, fetches it again. Spreading the work over time is the caller's
 * job (call with a small max, often).
 * \param[out] refreshed_out (optional) entries looked at.
 * \param[out] removed_out (optional) entries removed.
 * \return MOX_OK; MOX_EIO with *info for database errors; MOX_ENOMEM.
 * Thread-safety: any thread. */
#define MOX_MTASTS_CACHE_REFRESH_SECONDS (12 * 3600)
#define MOX_MTASTS_CACHE_UNUSED_SECONDS (180 * 86400)
MOX_API mox_err mox_mtasts_cache_refresh(mox_mtasts_cache *cache, size_t max,
                                         size_t *refreshed_out, size_t *removed_out,
                                         mox_errinfo *info);

/* Number of entries (policies and back-offs) in the cache.
 * Thread-safety: any thread. */
MOX_API mox_err mox_mtasts_cache_count(mox_mtasts_cache *cache, size_t *count_out,
                                       mox_errinfo *info);

#ifdef __cplusplus
}
#endif
#endif
