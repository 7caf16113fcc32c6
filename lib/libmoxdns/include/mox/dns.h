/* mox/dns.h -- DNS for mail: one resolver interface, its backends, names.
 *
 * Every mox-c library that looks up DNS (SPF, DKIM, DMARC, DNSBL, MTA-STS,
 * TLSRPT, delivery) takes a mox_resolver: a function pointer plus context.
 * An answer (mox_dns_answer) carries a status that tells found, NXDOMAIN,
 * no data, temporary failure and permanent failure apart (RFC 7208 section
 * 5 and RFC 7489 section 6.6.3 need the difference), the records with their
 * TTLs, and whether the answer was DNSSEC-authenticated (the AD bit, which
 * RFC 7672 DANE needs).
 *
 * Backends:
 *   - ldns over the network (mox_dns_ldns_new): nameservers from
 *     /etc/resolv.conf, or MOX_RESOLVER=ip:port[,ip:port...] in the
 *     environment; timeouts and retries configurable; TCP on truncation.
 *   - an in-memory zone (mox_dns_zone_new), loaded from zone-file-like text,
 *     with SERVFAIL/timeout injection and AD-bit control, for tests.
 *   - a TTL-honouring, thread-safe cache wrapping any resolver
 *     (mox_dns_cache_new), counting hits and misses.
 *
 * Names: IDNA2008 conversion (libidn2, RFC 5891), host and domain name
 * validation (RFC 1035 section 2.3.1, RFC 1123 section 2.1), case-insensitive
 * comparison, and the organizational domain from the public suffix list
 * (libpsl; RFC 7489 section 3.2).
 *
 * Out of scope: DNSSEC validation of our own (we trust the AD bit of the
 * configured, local, resolver, as mox does), asynchronous lookups (callers
 * run lookups on a thread pool), zone transfers, updates.
 *
 * Names passed to lookups are ASCII (A-labels), with or without the trailing
 * dot; names in answers are lower case without the trailing dot.
 */
#ifndef MOX_DNS_H
#define MOX_DNS_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_DNS_VERSION_MAJOR 0
#define MOX_DNS_VERSION_MINOR 1
#define MOX_DNS_VERSION_PATCH 0
#define MOX_DNS_VERSION_HEX                                                    \
	((MOX_DNS_VERSION_MAJOR << 16) | (MOX_DNS_VERSION_MINOR << 8) |           \
	 MOX_DNS_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_DNS_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_dns_version(void);

/* RFC 1035 section 2.3.4: 255 octets on the wire, so at most 253 characters
 * of text without the trailing dot; labels at most 63 octets. */
#define MOX_DNS_NAME_MAX 253
#define MOX_DNS_LABEL_MAX 63
/* Longest CNAME chain followed before giving up (RFC 1034 section 3.6.2
 * asks resolvers to detect loops; this bounds them). */
#define MOX_DNS_CNAME_MAX 10

/* Record types we read (RFC 1035 section 3.2.2, RFC 3596, RFC 6698). */
typedef enum mox_dns_type {
	MOX_DNS_A = 1,
	MOX_DNS_NS = 2,
	MOX_DNS_CNAME = 5,
	MOX_DNS_SOA = 6,
	MOX_DNS_PTR = 12,
	MOX_DNS_MX = 15,
	MOX_DNS_TXT = 16,
	MOX_DNS_AAAA = 28,
	MOX_DNS_TLSA = 52,
} mox_dns_type;

/* "TXT" for MOX_DNS_TXT; NULL for a type we do not know.
 * Thread-safety: any thread. */
MOX_API const char *mox_dns_type_name(mox_dns_type type);
/* Parse a type name, case-insensitive ("mx" -> MOX_DNS_MX).
 * Thread-safety: any thread. */
MOX_API mox_err mox_dns_type_parse(const char *name, mox_dns_type *type_out);

/* The outcome of a lookup. Only MOX_DNS_FOUND has records. */
typedef enum mox_dns_status {
	MOX_DNS_FOUND = 0,    /* records of the asked type */
	MOX_DNS_NXDOMAIN = 1, /* the name does not exist (RCODE 3) */
	MOX_DNS_NODATA = 2,   /* the name exists, no records of this type */
	MOX_DNS_TEMPFAIL = 3, /* SERVFAIL, timeout, network error: try later */
	MOX_DNS_PERMFAIL = 4, /* FORMERR, NOTIMP, invalid name, CNAME loop */
} mox_dns_status;

/* "found", "nxdomain", "nodata", "tempfail", "permfail".
 * Thread-safety: any thread. */
MOX_API const char *mox_dns_status_name(mox_dns_status status);

/* One resource record. The union member is chosen by type. */
typedef struct mox_dns_rr {
	mox_dns_type type;
	uint32_t ttl;
	char *name; /* owner, lower case, no trailing dot */
	union {
		uint8_t a[4];     /* MOX_DNS_A, network order */
		uint8_t aaaa[16]; /* MOX_DNS_AAAA, network order */
		struct {
			uint16_t preference;
			char *host; /* "" for the null MX "." (RFC 7505) */
		} mx;
		char *host; /* MOX_DNS_CNAME, MOX_DNS_PTR, MOX_DNS_NS target */
		struct {
			/* The character-strings concatenated (RFC 7208
			 * section 3.3, RFC 6376 section 3.6.2.2), NUL-terminated
			 * for convenience; may contain NUL bytes, so use len. */
			uint8_t *data;
			size_t len;
			size_t nstrings; /* number of character-strings */
			uint8_t **strings; /* each NUL-terminated... */
			size_t *lens;      /* ...of this length */
		} txt;
		struct {
			uint8_t usage, selector, matching_type; /* RFC 6698 2.1 */
			uint8_t *data;
			size_t len;
		} tlsa;
		struct {
			char *mname, *rname;
			uint32_t serial, refresh, retry, expire, minimum;
		} soa;
	} u;
} mox_dns_rr;

/* A lookup's answer. Allocated by the resolver; release with
 * mox_dns_answer_free. Immutable once returned: may be read from several
 * threads. */
typedef struct mox_dns_answer {
	mox_dns_status status;
	bool authentic;   /* AD bit set: DNSSEC-validated by the resolver */
	int rcode;        /* DNS RCODE of the final response, -1 if none */
	char *qname;      /* the name asked for, normalized */
	mox_dns_type qtype;
	char *cname;      /* final name after CNAMEs; NULL when none followed */
	uint32_t neg_ttl; /* for NXDOMAIN/NODATA: how long it may be cached
			     (RFC 2308 section 5), 0 if unknown */
	size_t nrr;
	mox_dns_rr *rr;   /* records of type qtype owned by the final name */
	char *why;        /* for TEMPFAIL/PERMFAIL: a message such as
			     "timeout after 2 tries to 127.0.0.1:53"; else NULL */
	const mox_allocator *alloc; /* how it was allocated */
} mox_dns_answer;

/* Free an answer and everything it owns. NULL is a no-op.
 * Thread-safety: per answer. */
MOX_API void mox_dns_answer_free(mox_dns_answer *answer);
/* Deep copy (the cache hands out copies). Thread-safety: any thread. */
MOX_API mox_err mox_dns_answer_copy(const mox_dns_answer *answer,
				    const mox_allocator *alloc,
				    mox_dns_answer **copy_out);

/* The resolver interface. lookup must fill *answer_out with an answer for
 * every outcome the DNS gives, including NXDOMAIN and TEMPFAIL; it returns
 * an error (answer_out NULL) only when no answer could be made at all
 * (MOX_ENOMEM, MOX_EINVAL for a NULL argument). Implementations say whether
 * they are thread-safe; all backends here are. free releases ctx and the
 * struct; it may be NULL for a resolver the caller owns statically. */
typedef struct mox_resolver mox_resolver;
struct mox_resolver {
	void *ctx;
	mox_err (*lookup)(void *ctx, const char *name, mox_dns_type type,
			  mox_dns_answer **answer_out);
	void (*free)(mox_resolver *resolver);
};

/* Look up name/type through resolver. The name is checked first: text that
 * is not a valid DNS name (empty label, label > 63, name > 253, bytes
 * outside printable ASCII) gives a PERMFAIL answer without a query, so
 * hostile input never reaches the network. A trailing dot is allowed.
 * \return MOX_OK with *answer_out set (check its status), or an error.
 * Thread-safety: as the resolver (every backend here: any thread). */
MOX_API mox_err mox_dns_lookup(const mox_resolver *resolver, const char *name,
			       mox_dns_type type, mox_dns_answer **answer_out);

/* Free a resolver made by a constructor below. NULL is a no-op.
 * Thread-safety: not thread-safe: no lookup may be running. */
MOX_API void mox_resolver_free(mox_resolver *resolver);

/* ---- ldns backend ---- */

typedef struct mox_dns_ldns_opts {
	size_t size; /* sizeof(mox_dns_ldns_opts) */
	const mox_allocator *alloc; /* for answers; NULL: libc */
	/* "ip", "ip:port", "[ipv6]:port", comma-separated. NULL: use the
	 * MOX_RESOLVER environment variable if set, else /etc/resolv.conf
	 * (resolv_conf below). */
	const char *nameservers;
	const char *resolv_conf; /* NULL: /etc/resolv.conf */
	unsigned timeout_ms;     /* per try; 0: 2000 */
	unsigned tries;          /* per nameserver; 0: 2 */
	bool no_tcp_fallback;    /* true: do not retry over TCP on TC=1 */
	bool no_edns;            /* true: plain DNS, no EDNS0/DO bit */
} mox_dns_ldns_opts;

/* Resolver that sends queries with ldns to recursive nameservers, with RD
 * set and EDNS0 with the DO bit (so a validating resolver sets AD),
 * following CNAME chains in the answer section. A nameserver that does not
 * answer is a TEMPFAIL, as is SERVFAIL and REFUSED; FORMERR and NOTIMP are
 * PERMFAIL; a response that cannot be parsed is TEMPFAIL. Errors in opts
 * (bad nameserver text, no nameserver found) fail here with MOX_EINVAL and
 * a message in *info.
 * Thread-safety: any thread; the returned resolver may be used from any
 * number of threads at once. */
MOX_API mox_err mox_dns_ldns_new(mox_resolver **resolver_out,
				 const mox_dns_ldns_opts *opts,
				 mox_errinfo *info);

/* ---- in-memory zone backend ---- */

/* Zone text, one record per line, like an RFC 1035 master file without
 * multi-line parentheses:
 *
 *   ; comment
 *   $ORIGIN example.com.        relative names below get this suffix
 *   $TTL 300                    default TTL
 *   $AUTHENTIC yes              answers for names below have AD set
 *   @            MX 10 mail     owner @ = origin; IN class optional
 *   mail   3600  A 192.0.2.1
 *   ipv6         AAAA 2001:db8::1
 *   txt          TXT "v=spf1 -all" "second string" unquoted
 *   alias        CNAME mail
 *   1.2.0.192.in-addr.arpa. PTR mail.example.com.
 *   _25._tcp.mail TLSA 3 1 1 0123abcd...
 *   *.wild       TXT "wildcard"   RFC 4592 wildcards
 *   broken       SERVFAIL         every query for this name: TEMPFAIL
 *   slow         TIMEOUT          every query: TEMPFAIL "timeout"
 *   bad          PERMFAIL         every query: PERMFAIL
 *
 * Names are case-insensitive. Quoted strings take \" \\ and \DDD escapes.
 * Empty non-terminals exist (NODATA, not NXDOMAIN: RFC 8020).
 */
typedef struct mox_dns_zone_opts {
	size_t size; /* sizeof(mox_dns_zone_opts) */
	const mox_allocator *alloc;
} mox_dns_zone_opts;

/* An empty zone resolver; add records with mox_dns_zone_load.
 * Thread-safety: any thread. Lookups may run from many threads at once;
 * loading is serialised with lookups by an internal lock. */
MOX_API mox_err mox_dns_zone_new(mox_resolver **resolver_out,
				 const mox_dns_zone_opts *opts);
/* Parse zone text and add its records. On a syntax error nothing of this
 * text is added and *info has the line number in offset and a message
 * ("line 3: unknown record type 'MXX'").
 * Thread-safety: any thread (locks the zone). */
MOX_API mox_err mox_dns_zone_load(mox_resolver *zone, const char *text,
				  size_t len, mox_errinfo *info);
/* Number of lookups the zone has answered (for tests that check caching).
 * Thread-safety: any thread. */
MOX_API uint64_t mox_dns_zone_queries(const mox_resolver *zone);

/* ---- cache ---- */

typedef struct mox_dns_cache_opts {
	size_t size; /* sizeof(mox_dns_cache_opts) */
	const mox_allocator *alloc;
	size_t max_entries;   /* 0: 10000; least recently used evicted */
	uint32_t max_ttl;     /* cap on positive TTLs; 0: 86400 */
	uint32_t neg_ttl_max; /* cap on NXDOMAIN/NODATA caching (RFC 2308
				 section 5); 0: 3600 */
	uint32_t neg_ttl_default; /* when the answer has no SOA; 0: 60 */
	/* Seconds on a monotonic clock; NULL: CLOCK_MONOTONIC. Tests pass
	 * their own to make TTLs expire. */
	uint64_t (*now)(void *arg);
	void *now_arg;
	/* true: the cache owns backend and frees it with itself. */
	bool owns_backend;
} mox_dns_cache_opts;

/* A resolver that answers from memory while an answer's TTL lasts (the
 * smallest TTL of its records, capped by max_ttl) and asks backend
 * otherwise. NXDOMAIN and NODATA are cached for neg_ttl (capped);
 * TEMPFAIL and PERMFAIL are not cached. Answers handed out are copies with
 * TTLs reduced by their age in the cache.
 * Thread-safety: any thread; the cache locks internally. backend must be
 * thread-safe too. */
MOX_API mox_err mox_dns_cache_new(mox_resolver **resolver_out,
				  mox_resolver *backend,
				  const mox_dns_cache_opts *opts);

typedef struct mox_dns_cache_stats {
	uint64_t hits, misses, evictions, expired;
	size_t entries;
} mox_dns_cache_stats;

/* Counters of a cache made by mox_dns_cache_new. MOX_EINVAL if resolver is
 * not a cache. Thread-safety: any thread. */
MOX_API mox_err mox_dns_cache_stats_get(const mox_resolver *cache,
					mox_dns_cache_stats *stats_out);
/* Drop every entry. Thread-safety: any thread. */
MOX_API void mox_dns_cache_clear(mox_resolver *cache);

/* ---- names ---- */

enum {
	/* Host name: letters, digits, hyphen, no hyphen at either end of a
	 * label (RFC 1123 section 2.1, RFC 5321 section 4.1.2 Domain).
	 * Without it, any printable ASCII but '.' is allowed in labels
	 * (RFC 2181 section 11), as _dmarc or _domainkey names need. */
	MOX_DNS_NAME_HOST = 1 << 0,
	/* Allow a trailing dot. */
	MOX_DNS_NAME_TRAILING_DOT = 1 << 1,
};

/* Check that name (len bytes) is a valid DNS name of ASCII text: 1-63 octets
 * per label, at most 253 characters (254 with the trailing dot), no empty
 * label. An A-label ("xn--") must also be a valid IDNA2008 label.
 * \return MOX_OK or MOX_ENAME/MOX_EIDNA with *info saying what and where.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dns_name_check(const char *name, size_t len, unsigned flags,
				   mox_errinfo *info);

/* Convert a domain name in UTF-8 (U-labels, A-labels or both) to its ASCII
 * form (A-labels) per IDNA2008 (RFC 5891 section 5, with the UTS #46 non-transitional mapping as mox does,
 * NFC input), lower-cased, without trailing dot, into out (at least
 * MOX_DNS_NAME_MAX + 1 bytes). Invalid names (disallowed code points, bad
 * bidi, too long) give MOX_EIDNA or MOX_ENAME with a message.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dns_name_to_ascii(const char *name, char *out,
				      size_t out_size, mox_errinfo *info);
/* Convert an ASCII name with A-labels to UTF-8 U-labels, lower-cased,
 * without trailing dot. MOX_ERANGE if out_size is too small.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dns_name_to_unicode(const char *name, char *out,
					size_t out_size, mox_errinfo *info);
/* Case-insensitive (ASCII) comparison, ignoring one trailing dot on either.
 * Thread-safety: any thread. */
MOX_API bool mox_dns_name_equal(const char *a, const char *b);
/* Whether name is sub, or a subdomain of it ("a.b.example.com" under
 * "example.com"), case-insensitive. Thread-safety: any thread. */
MOX_API bool mox_dns_name_is_subdomain(const char *name, const char *parent);

/* Reverse lookup name for an IPv4 or IPv6 address in text form:
 * "4.3.2.1.in-addr.arpa" or the nibble form under ip6.arpa (RFC 3596
 * section 2.5). Prefix with a zone for DNSBL use (RFC 5782 section 2).
 * out needs 73 bytes (MOX_DNS_REVERSE_MAX). Thread-safety: any thread. */
#define MOX_DNS_REVERSE_MAX 73
MOX_API mox_err mox_dns_reverse_name(const char *ip, char *out, size_t out_size);

/* ---- public suffix list, organizational domain ---- */

typedef struct mox_dns_psl mox_dns_psl;

typedef struct mox_dns_psl_opts {
	size_t size; /* sizeof(mox_dns_psl_opts) */
	const mox_allocator *alloc;
	/* A public_suffix_list.dat or libpsl .dafsa file; NULL: the list
	 * the system ships (Debian's publicsuffix package). */
	const char *path;
} mox_dns_psl_opts;

/* Load the public suffix list. MOX_ENOTFOUND (with a message) if the file
 * is missing or unreadable. Thread-safety: any thread. */
MOX_API mox_err mox_dns_psl_new(mox_dns_psl **psl_out,
				const mox_dns_psl_opts *opts, mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_dns_psl_free(mox_dns_psl *psl);

/* The organizational domain of an ASCII (A-label) name (RFC 7489 section
 * 3.2): the public suffix plus one label, both the ICANN and the PRIVATE
 * sections counting, "*" as the default rule. A name that is itself a
 * public suffix is its own organizational domain, as mox does. Written
 * lower-case, without trailing dot, into out (MOX_DNS_NAME_MAX + 1 bytes).
 * Thread-safety: any thread (the list is immutable). */
MOX_API mox_err mox_dns_psl_org_domain(const mox_dns_psl *psl, const char *name,
				       char *out, size_t out_size);
/* The registrable domain of name per the public suffix list algorithm:
 * the public suffix plus one label. MOX_ENOTFOUND when there is none (name
 * is itself a public suffix, is empty or starts with a dot); this is the
 * answer the PSL's own test cases (tests.txt) call "null".
 * Thread-safety: any thread. */
MOX_API mox_err mox_dns_psl_registrable_domain(const mox_dns_psl *psl,
					       const char *name, char *out,
					       size_t out_size);
/* Whether name is a public suffix (ICANN or PRIVATE section, or the "*"
 * rule). Thread-safety: any thread. */
MOX_API bool mox_dns_psl_is_public_suffix(const mox_dns_psl *psl,
					  const char *name);

#ifdef __cplusplus
}
#endif
#endif
