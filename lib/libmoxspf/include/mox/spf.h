/* mox/spf.h -- Sender Policy Framework, RFC 7208.
 *
 * SPF lets a domain publish, in a DNS TXT record, which IP addresses may
 * send mail with that domain in the SMTP MAIL FROM (or HELO) identity. A
 * receiving server evaluates the record for the connecting client's IP
 * with check_host() (RFC 7208 sections 4 and 5) and gets one of the
 * results none, neutral, pass, fail, softfail, temperror or permerror
 * (RFC 7208 section 2.6), plus, on fail, an explanation the domain may
 * publish (RFC 7208 section 6.2).
 *
 * What is here:
 *   - parsing records with precise errors: every mechanism (all, include,
 *     a, mx, ptr, ip4, ip6, exists) with qualifiers and dual CIDR lengths,
 *     the redirect and exp modifiers and unknown modifiers, macro strings
 *     (RFC 7208 sections 4.6, 5, 6 and 7);
 *   - check_host() through the mox_resolver interface of libmoxdns, with
 *     the processing limits of RFC 7208 section 4.6.4 (10 DNS terms, 2
 *     void lookups, 10 names per MX and PTR), macro expansion with every
 *     macro letter and transformer (RFC 7208 section 7), ptr validation
 *     (RFC 7208 section 5.5) and the explanation on fail;
 *   - the helpers a server needs: checking the MAIL FROM or the HELO
 *     identity (RFC 7208 section 2.3, 2.4), the Received-SPF header (RFC
 *     7208 section 9.1) and the spf= part of Authentication-Results (RFC
 *     8601 section 2.7.2);
 *   - looking up and parsing the record of a domain on its own, as the
 *     `mox spf lookup` tool does.
 *
 * Out of scope: the SPF RR type 99 (RFC 7208 section 3.1 retired it; only
 * TXT is queried), the "Sender ID" PRA identity (RFC 4406), deciding what to
 * do with a result (reject, mark, DMARC: the caller's policy), DNS caching
 * (wrap the resolver in mox_dns_cache_new).
 *
 * Threads: a mox_spf handle is immutable once made; any number of
 * evaluations may run on it at once from different threads, each with its
 * own state, as long as the resolver is thread-safe (every libmoxdns
 * backend is). Parsed records are immutable and may be shared.
 */
#ifndef MOX_SPF_H
#define MOX_SPF_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_SPF_VERSION_MAJOR 0
#define MOX_SPF_VERSION_MINOR 1
#define MOX_SPF_VERSION_PATCH 0
#define MOX_SPF_VERSION_HEX                                                    \
	((MOX_SPF_VERSION_MAJOR << 16) | (MOX_SPF_VERSION_MINOR << 8) |           \
	 MOX_SPF_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_SPF_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_spf_version(void);

/* Processing limits. */
/* Terms that cause DNS queries (include, a, mx, ptr, exists, redirect) per
 * check_host() evaluation, includes and redirects counted together: RFC
 * 7208 section 4.6.4. One more gives permerror. */
#define MOX_SPF_DNS_TERMS_MAX 10
/* Terms whose DNS query gives NXDOMAIN or no records ("void lookups"):
 * RFC 7208 section 4.6.4 recommends 2. One more gives permerror. */
#define MOX_SPF_VOID_LOOKUPS_MAX 2
/* Address lookups for the names of one "mx" mechanism: RFC 7208 section
 * 4.6.4; an mx that would need more gives permerror. */
#define MOX_SPF_MX_NAMES_MAX 10
/* Names of a PTR answer that are validated (ptr mechanism, %{p} macro):
 * RFC 7208 section 4.6.4; the rest are ignored. */
#define MOX_SPF_PTR_NAMES_MAX 10
/* Longest result of one macro expansion we build, in bytes. RFC 7208 sets
 * none; a record (at most 64 KiB of TXT) of %{s} macros could otherwise
 * expand to megabytes. Longer gives permerror (or, for an explanation,
 * no explanation). */
#define MOX_SPF_EXPAND_MAX 8192
/* Longest record text we parse. A TXT RRset can hold at most 65535 octets
 * on the wire (RFC 1035 section 4.2.1 over TCP); longer text is not an
 * SPF record we could have been given by DNS. */
#define MOX_SPF_RECORD_MAX 65535

/* The results of check_host(), RFC 7208 section 2.6. */
typedef enum mox_spf_result {
	MOX_SPF_NONE = 0,      /* no record, or no domain to check */
	MOX_SPF_NEUTRAL = 1,   /* "?": the domain says nothing about the IP */
	MOX_SPF_PASS = 2,      /* "+": the IP is authorized */
	MOX_SPF_FAIL = 3,      /* "-": the IP is not authorized */
	MOX_SPF_SOFTFAIL = 4,  /* "~": probably not authorized */
	MOX_SPF_TEMPERROR = 5, /* transient (DNS) error; try later */
	MOX_SPF_PERMERROR = 6, /* the record(s) cannot be interpreted */
} mox_spf_result;

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (the words of RFC 7208 section 2.6 and RFC 8601); "?" for a
 * value outside the enum. Thread-safety: any thread. */
MOX_API const char *mox_spf_result_name(mox_spf_result result);

/* ---- records ---- */

/* A parsed record. Immutable; free with mox_spf_record_free. */
typedef struct mox_spf_record mox_spf_record;

/* The mechanisms of RFC 7208 section 5. */
typedef enum mox_spf_mechanism {
	MOX_SPF_MECH_ALL = 0,
	MOX_SPF_MECH_INCLUDE = 1,
	MOX_SPF_MECH_A = 2,
	MOX_SPF_MECH_MX = 3,
	MOX_SPF_MECH_PTR = 4,
	MOX_SPF_MECH_IP4 = 5,
	MOX_SPF_MECH_IP6 = 6,
	MOX_SPF_MECH_EXISTS = 7,
} mox_spf_mechanism;

/* One directive of a record, as read by mox_spf_record_directive. */
typedef struct mox_spf_directive {
	/* The result a match gives: MOX_SPF_PASS ("+" or none), MOX_SPF_FAIL
	 * ("-"), MOX_SPF_SOFTFAIL ("~"), MOX_SPF_NEUTRAL ("?"). */
	mox_spf_result qualifier;
	mox_spf_mechanism mechanism;
	/* The domain-spec as written (macros not expanded); NULL when the
	 * mechanism has none (all, ip4, ip6, and a/mx/ptr without ":"). */
	const char *domain_spec;
	int ip4_cidr; /* a, mx, ip4: prefix length, -1 when not given */
	int ip6_cidr; /* a, mx, ip6: prefix length, -1 when not given */
	uint8_t ip[16]; /* ip4 (first 4 bytes) and ip6, network order */
} mox_spf_directive;

/* Whether TXT text is an SPF version 1 record: it starts with "v=spf1"
 * (case-insensitive) followed by a space or the end (RFC 7208 section 4.5).
 * Other TXT records of a domain are ignored by SPF.
 * Thread-safety: any thread. */
MOX_API bool mox_spf_record_is_spf(const char *txt, size_t len);

/* Parse SPF record text (the TXT strings concatenated, RFC 7208 section
 * 3.3) per the ABNF of RFC 7208 section 12. Checks everything that can be
 * checked without DNS: mechanism and modifier names and arguments, CIDR
 * lengths, IP literals, domain-spec syntax including the top label, macro
 * syntax (the letters c, r and t only in exp text), duplicate redirect or
 * exp (RFC 7208 section 6).
 * \param[in] alloc allocator for the record; NULL: libc.
 * \param[out] record_out the record, or NULL on error.
 * \param[out] info (optional) on MOX_ESYNTAX: offset and a message such as
 *             "unknown mechanism 'ipv4' at 17".
 * \return MOX_OK; MOX_ESYNTAX (also for text that is no SPF record),
 *         MOX_ELIMIT (longer than MOX_SPF_RECORD_MAX), MOX_ENOMEM,
 *         MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_spf_record_parse(const char *txt, size_t len,
				     const mox_allocator *alloc,
				     mox_spf_record **record_out,
				     mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per record. */
MOX_API void mox_spf_record_free(mox_spf_record *record);

/* Number of directives (mechanisms with qualifiers), in record order.
 * Thread-safety: any thread. */
MOX_API size_t mox_spf_record_directives(const mox_spf_record *record);
/* Directive i (0-based). Strings in *out are borrowed from the record.
 * \return MOX_OK, or MOX_ERANGE when i is out of range.
 * Thread-safety: any thread. */
MOX_API mox_err mox_spf_record_directive(const mox_spf_record *record, size_t i,
					 mox_spf_directive *out);
/* The redirect and exp domain-specs; NULL when absent. Borrowed.
 * Thread-safety: any thread. */
MOX_API const char *mox_spf_record_redirect(const mox_spf_record *record);
MOX_API const char *mox_spf_record_exp(const mox_spf_record *record);
/* Append the record in canonical text form ("v=spf1 ip4:192.0.2.0/24
 * -all"): lower-case names, "+" left out, redirect and exp after the
 * directives, unknown modifiers last. Parsing the result gives the same
 * record. Thread-safety: per buffer. */
MOX_API mox_err mox_spf_record_format(const mox_spf_record *record,
				      mox_buf *out);

/* ---- evaluation ---- */

typedef struct mox_spf mox_spf;

typedef struct mox_spf_opts {
	size_t size;                  /* sizeof(mox_spf_opts) */
	const mox_allocator *alloc;   /* NULL: libc */
	const mox_resolver *resolver; /* required; not owned */
	/* Our host name: %{r} in explanations (RFC 7208 section 7.3) and
	 * receiver= of Received-SPF. NULL: "unknown". Copied. */
	const char *receiver;
	/* The explanation for a fail when the domain publishes none or it
	 * cannot be had (RFC 7208 section 6.2). Macros are expanded as in an
	 * exp TXT record. NULL: no explanation then. Copied. */
	const char *default_explanation;
} mox_spf_opts;

/* Make an evaluation handle.
 * \return MOX_OK; MOX_EINVAL (no resolver, bad size, default explanation
 *         with bad macro syntax), MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_spf_new(mox_spf **spf_out, const mox_spf_opts *opts);
/* NULL is a no-op. No evaluation may be running.
 * Thread-safety: per handle. */
MOX_API void mox_spf_free(mox_spf *spf);

/* The identity an evaluation checked (RFC 7208 section 2.3, 2.4). */
typedef enum mox_spf_identity {
	MOX_SPF_IDENTITY_MAILFROM = 0,
	MOX_SPF_IDENTITY_HELO = 1,
} mox_spf_identity;

/* What to check. */
typedef struct mox_spf_request {
	size_t size; /* sizeof(mox_spf_request) */
	/* The SMTP client's address (<ip> of check_host()): IPv4 dotted
	 * quad or IPv6 text. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
	 * is treated as the IPv4 address (RFC 7208 section 5). Required. */
	const char *ip;
	/* The MAIL FROM address without angle brackets ("user@example.com").
	 * NULL or "" for the null reverse-path: then "postmaster@<helo>" is
	 * checked (RFC 7208 section 2.4). An address without "@" or with an
	 * empty local part gets local part "postmaster" (RFC 7208 section
	 * 4.3). */
	const char *mailfrom;
	/* The HELO/EHLO argument as the client sent it; for %{h} and the
	 * HELO identity. NULL: none. */
	const char *helo;
	/* true: check the HELO identity, "postmaster@<helo>" (RFC 7208
	 * section 2.3), whatever mailfrom says. */
	bool check_helo;
	/* Seconds since the epoch for %{t}; 0: the current time. */
	int64_t now;
} mox_spf_request;

/* The outcome of an evaluation. Strings are NUL-terminated and owned by
 * the outcome; free it with mox_spf_outcome_free. */
typedef struct mox_spf_outcome {
	mox_spf_result result;
	mox_spf_identity identity;
	/* Every DNS answer the result depends on was DNSSEC-authenticated
	 * (AD bit). */
	bool authentic;
	char *domain;      /* the domain checked; "" when there was none */
	char *sender;      /* "local@domain" that was checked; "" when none */
	char *client_ip;   /* the client's address, normalized */
	char *helo;        /* the HELO argument; "" when none */
	char *receiver;    /* opts.receiver or "unknown" */
	/* The directive that decided, as text ("-ip4:192.0.2.0/24",
	 * "include:_spf.example.com"), or "default" when none matched;
	 * NULL when no record was evaluated. */
	char *mechanism;
	/* On fail: the explanation (RFC 7208 section 6.2), else NULL. It is
	 * text from DNS after macro expansion: the caller must make it fit
	 * its use (SMTP reply: ASCII, line length). */
	char *explanation;
	/* For temperror and permerror, and for none: what happened, e.g.
	 * "more than 10 DNS terms (RFC 7208 section 4.6.4)"; else NULL. */
	char *problem;
	size_t dns_terms;    /* DNS terms used (at most MOX_SPF_DNS_TERMS_MAX) */
	size_t void_lookups; /* void lookups seen */
	const mox_allocator *alloc;
} mox_spf_outcome;

/* Evaluate the MAIL FROM identity of req (or, when it is the null
 * reverse-path or check_helo is set, the HELO identity) with check_host()
 * of RFC 7208 section 4. Initial processing (RFC 7208 section 4.3): a
 * domain that is no valid, fully qualified DNS name (a domain literal, one
 * label, empty or long labels) gives none without any query.
 * \param[out] outcome_out the outcome (also for temperror and permerror),
 *             or NULL on error.
 * \return MOX_OK; MOX_EINVAL (no ip, unparseable ip, bad size),
 *         MOX_ENOMEM. DNS failures are results (temperror), not errors.
 * Thread-safety: any thread; many evaluations may share one handle. */
MOX_API mox_err mox_spf_check(const mox_spf *spf, const mox_spf_request *req,
			      mox_spf_outcome **outcome_out);
/* NULL is a no-op. Thread-safety: per outcome. */
MOX_API void mox_spf_outcome_free(mox_spf_outcome *outcome);

/* Append a Received-SPF header field for outcome (RFC 7208 section 9.1),
 * with a comment in the RFC's words, client-ip, envelope-from, helo,
 * problem, mechanism, receiver and identity, folded at 78 columns and
 * ending in CRLF:
 *
 *   Received-SPF: pass (mybox.example.org: domain of myname@example.com
 *    designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;
 *    envelope-from="myname@example.com"; helo=foo.example.com; ...
 *
 * Thread-safety: per buffer. */
MOX_API mox_err mox_spf_received_header(const mox_spf_outcome *outcome,
					mox_buf *out);
/* Append the SPF resinfo of an Authentication-Results header field (RFC
 * 8601 section 2.7.2), without the header name and without a trailing
 * ";": "spf=pass smtp.mailfrom=example.com" or "spf=none smtp.helo=...".
 * Thread-safety: per buffer. */
MOX_API mox_err mox_spf_authres(const mox_spf_outcome *outcome, mox_buf *out);

/* Look up and parse the SPF record of domain (RFC 7208 section 4.4, 4.5),
 * without evaluating it.
 * \param[out] result_out MOX_SPF_NONE with *record_out set when one record
 *             was found; MOX_SPF_NONE without record when the domain has
 *             none (or is no valid name); MOX_SPF_TEMPERROR on a DNS
 *             failure; MOX_SPF_PERMERROR for several SPF records or a
 *             syntax error. info (optional) says which.
 * \param[out] txt_out (optional) gets the record text appended.
 * \param[out] record_out (optional) the parsed record; free it.
 * \param[out] authentic_out (optional) whether the TXT answer had AD set.
 * \return MOX_OK whatever the result; MOX_EINVAL, MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_spf_lookup(const mox_spf *spf, const char *domain,
			       mox_spf_result *result_out, mox_buf *txt_out,
			       mox_spf_record **record_out, bool *authentic_out,
			       mox_errinfo *info);

#ifdef __cplusplus
}
#endif
#endif
