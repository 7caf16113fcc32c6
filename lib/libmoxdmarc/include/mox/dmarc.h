/* mox/dmarc.h -- Domain-based Message Authentication, Reporting and
 * Conformance, RFC 7489 (with RFC 9091's np= tag).
 *
 * In scope:
 *   - DMARC records: parsing with precise errors (section 6.3, 6.4), and
 *     writing them back;
 *   - policy discovery (section 6.6.3): _dmarc at the RFC5322.From domain,
 *     then at its organizational domain (public suffix list), telling
 *     "no policy" from "could not look up" (temperror);
 *   - evaluation (section 6.6.2): identifier alignment of the SPF and DKIM
 *     results with the From domain, relaxed or strict (section 3.1), the
 *     policy that applies (p, sp, np), pct sampling (deterministic with a
 *     seed), the disposition; local policy overrides are the caller's
 *     decision, made after evaluation (section 6.7);
 *   - the Authentication-Results dmarc= method (RFC 8601 section 2.7.1);
 *   - aggregate reports (appendix C XML) parsed into a structure, also out
 *     of a message with a gzip or zip attachment.
 *
 * Out of scope: sending reports, failure (ruf) reports, the external
 * reporting authorization lookup of section 7.1 (todo), ARC.
 *
 * SPF and DKIM results come in as plain values, so this library does not
 * depend on libmoxspf or libmoxdkim; the server passes their outcomes.
 */
#ifndef MOX_DMARC_H
#define MOX_DMARC_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_DMARC_VERSION_MAJOR 0
#define MOX_DMARC_VERSION_MINOR 1
#define MOX_DMARC_VERSION_PATCH 0
#define MOX_DMARC_VERSION_HEX                                                  \
	((MOX_DMARC_VERSION_MAJOR << 16) | (MOX_DMARC_VERSION_MINOR << 8) |       \
	 MOX_DMARC_VERSION_PATCH)

/* Thread-safety: any thread. */
MOX_API unsigned mox_dmarc_version(void);

/* A record's TXT value is at most this long (a sane bound, not from the
 * RFC); longer text is a syntax error, not a policy. */
#define MOX_DMARC_RECORD_MAX 4096

typedef enum mox_dmarc_policy {
	MOX_DMARC_POLICY_UNSET = 0, /* tag absent (sp, np) */
	MOX_DMARC_POLICY_NONE,
	MOX_DMARC_POLICY_QUARANTINE,
	MOX_DMARC_POLICY_REJECT,
} mox_dmarc_policy;

/* "none", "quarantine", "reject", "" for unset. Thread-safety: any. */
MOX_API const char *mox_dmarc_policy_name(mox_dmarc_policy policy);

typedef enum mox_dmarc_align {
	MOX_DMARC_ALIGN_RELAXED = 0,
	MOX_DMARC_ALIGN_STRICT = 1,
} mox_dmarc_align;

/* A reporting URI (section 6.4 "dmarc-uri"): URI plus optional size
 * limit ("!10m" is 10 * 2^20 bytes; 0: none). */
typedef struct mox_dmarc_uri {
	char *uri;
	uint64_t max_size;
	char unit; /* 'k', 'm', 'g', 't' or 0 */
} mox_dmarc_uri;

/* A parsed record. Defaults of section 6.3 are filled in for absent tags
 * (adkim=r, aspf=r, pct=100, fo="0", rf="afrf", ri=86400). */
typedef struct mox_dmarc_record {
	mox_dmarc_policy policy;            /* p= (never UNSET) */
	mox_dmarc_policy subdomain_policy;  /* sp=, UNSET: as p */
	mox_dmarc_policy nonexistent_policy; /* np= (RFC 9091), UNSET: as sp */
	mox_dmarc_align adkim, aspf;
	unsigned pct; /* 0-100 */
	size_t nrua, nruf;
	mox_dmarc_uri *rua, *ruf;
	char *fo; /* failure options as written, "0" default */
	char *rf; /* report format, "afrf" default */
	uint32_t ri;
	/* p= was missing or invalid, but rua= was valid: section 6.6.3 says
	 * to act as p=none ("monitoring"). */
	bool policy_defaulted;
	const mox_allocator *alloc;
} mox_dmarc_record;

/* Parse a DMARC record: "v=DMARC1" (case-sensitive) first, then p
 * (section 6.3 says it should come next; a record without a valid p but
 * with a valid rua is treated as p=none, section 6.6.3), tags separated by
 * ";" with optional white space, a trailing ";" optional (RFC 7489 erratum
 * 5365), unknown tags ignored, duplicate tags rejected.
 * \return MOX_OK; MOX_ESYNTAX with *info ("invalid value 'x' for p at 12")
 * for a record that is not valid; MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dmarc_record_parse(const char *txt, size_t len,
				       const mox_allocator *alloc,
				       mox_dmarc_record **record_out,
				       mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per record. */
MOX_API void mox_dmarc_record_free(mox_dmarc_record *record);
/* Whether the TXT text starts like a DMARC record ("v=DMARC1" then ";" or
 * white space or end): such records count for discovery even if invalid
 * (section 6.6.3 step 3). Thread-safety: any thread. */
MOX_API bool mox_dmarc_is_record(const char *txt, size_t len);
/* Append the record in canonical form ("v=DMARC1; p=reject; ..."), tags
 * with default values left out. Thread-safety: per out. */
MOX_API mox_err mox_dmarc_record_format(const mox_dmarc_record *record,
				        mox_buf *out);

/* ---- discovery ---- */

typedef enum mox_dmarc_lookup_status {
	MOX_DMARC_LOOKUP_FOUND = 0,     /* a valid record */
	MOX_DMARC_LOOKUP_NONE = 1,      /* no record (or none valid) */
	MOX_DMARC_LOOKUP_TEMPERROR = 2, /* DNS failed: try again later */
	MOX_DMARC_LOOKUP_PERMERROR = 3, /* records found, but invalid or more
					   than one (section 6.6.3) */
} mox_dmarc_lookup_status;

typedef struct mox_dmarc_lookup_result {
	mox_dmarc_lookup_status status;
	char domain[MOX_DNS_NAME_MAX + 1]; /* where the record was found (the
					      "policy domain"), or "" */
	bool at_org_domain; /* found at the organizational domain */
	bool authentic;     /* DNSSEC-validated answer */
	mox_dmarc_record *record; /* FOUND: owned by the result */
	char *txt;                /* FOUND: the record's text */
	char why[256];            /* for NONE/TEMPERROR/PERMERROR */
} mox_dmarc_lookup_result;

/* Discover the policy for from_domain (ASCII, A-labels): the TXT records
 * at _dmarc.<from_domain>; if there is no DMARC record there, at
 * _dmarc.<organizational domain> (section 6.6.3). A DNS failure at the
 * first step is TEMPERROR without going on. psl gives the organizational
 * domain. Free the result's parts with mox_dmarc_lookup_result_clear.
 * Thread-safety: any thread (as resolver). */
MOX_API mox_err mox_dmarc_lookup(const mox_resolver *resolver,
				 const mox_dns_psl *psl, const char *from_domain,
				 mox_dmarc_lookup_result *result_out);
/* Free what the result owns; the struct is reusable. Thread-safety: per
 * result. */
MOX_API void mox_dmarc_lookup_result_clear(mox_dmarc_lookup_result *result);

/* ---- the From domain ---- */

/* The RFC5322.From domain DMARC evaluates (section 3.1 and 6.6.1), in
 * ASCII (A-labels) into out (MOX_DNS_NAME_MAX + 1 bytes), from a message's
 * header section (the raw bytes before the blank line, or the whole
 * message). MOX_ENOTFOUND when there is no From field or no address with a
 * domain in it; MOX_ESYNTAX when there is more than one From field, or
 * addresses with different domains (section 6.6.1: such messages cannot
 * be evaluated; the caller may reject them); MOX_ENAME for a domain that
 * is not a valid name. *info says which.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dmarc_from_domain(const void *header, size_t len, char *out,
				      size_t out_size, mox_errinfo *info);

/* ---- alignment and evaluation ---- */

/* Whether an authenticated domain aligns with the From domain (section
 * 3.1): strict means equal (case-insensitive), relaxed means the same
 * organizational domain. Thread-safety: any thread. */
MOX_API bool mox_dmarc_aligned(const mox_dns_psl *psl, const char *from_domain,
			       const char *auth_domain, mox_dmarc_align mode);

/* The result of an evaluation (RFC 8601 section 2.7.1 values). */
typedef enum mox_dmarc_status {
	MOX_DMARC_NONE = 0,  /* no policy published */
	MOX_DMARC_PASS,
	MOX_DMARC_FAIL,
	MOX_DMARC_TEMPERROR,
	MOX_DMARC_PERMERROR,
} mox_dmarc_status;

/* "none", "pass", "fail", "temperror", "permerror". Thread-safety: any. */
MOX_API const char *mox_dmarc_status_name(mox_dmarc_status status);

/* The SPF and DKIM outcomes DMARC builds on. Only "pass" results count
 * (section 4.2), but the others are kept for reports. */
typedef struct mox_dmarc_dkim {
	const char *domain;   /* the signature's d= (ASCII) */
	const char *selector; /* s=, for reports; may be NULL */
	bool pass;
} mox_dmarc_dkim;

typedef struct mox_dmarc_input {
	size_t size; /* sizeof(mox_dmarc_input) */
	const mox_resolver *resolver;
	const mox_dns_psl *psl;
	/* The RFC5322.From domain (ASCII); NULL or "" means the message had
	 * no usable From (zero or several domains, section 6.6.1): the
	 * result is then PERMERROR without lookups. */
	const char *from_domain;
	/* SPF: whether it passed and for which domain (the MAIL FROM domain,
	 * or the HELO domain for a null sender, section 4.1). */
	bool spf_pass;
	const char *spf_domain;
	size_t ndkim;
	const mox_dmarc_dkim *dkim;
	/* Sampling (pct): a value in 0-99 drawn by the caller; < 0: draw one
	 * with a per-call PRNG seeded from the clock. Tests pass a fixed
	 * value to be deterministic. */
	int pct_draw;
} mox_dmarc_input;

typedef struct mox_dmarc_result {
	mox_dmarc_status status;
	/* The published policy that applies (p, sp or np) and whether the
	 * message falls under it after pct sampling; the disposition to
	 * apply: the policy, or one level less when sampled out (section
	 * 6.6.4: reject becomes quarantine, quarantine becomes none). */
	mox_dmarc_policy policy;
	mox_dmarc_policy disposition;
	bool sampled_out;
	bool reject; /* status FAIL and disposition REJECT */
	bool spf_aligned_pass, dkim_aligned_pass;
	mox_dmarc_lookup_result lookup; /* the discovery; cleared by
					   mox_dmarc_result_clear */
} mox_dmarc_result;

/* Evaluate DMARC for a message (section 6.6.2). Local policy (a mailing
 * list or forwarder exception, section 6.7) is applied by the caller on
 * the result: it may ignore reject.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dmarc_verify(const mox_dmarc_input *input,
				 mox_dmarc_result *result_out);
/* Thread-safety: per result. */
MOX_API void mox_dmarc_result_clear(mox_dmarc_result *result);

/* Append the Authentication-Results method, RFC 8601 section 2.7.1 and
 * RFC 7489 section 11.2: "dmarc=fail (p=reject dis=reject)
 * header.from=example.com". Thread-safety: per out. */
MOX_API mox_err mox_dmarc_authres(const mox_dmarc_result *result,
				  const char *from_domain, mox_buf *out);

/* ---- aggregate reports, RFC 7489 appendix C ---- */

typedef struct mox_dmarc_report_dkim {
	char *domain, *selector, *result, *human_result;
} mox_dmarc_report_dkim;

typedef struct mox_dmarc_report_spf {
	char *domain, *scope, *result;
} mox_dmarc_report_spf;

typedef struct mox_dmarc_report_reason {
	char *type, *comment;
} mox_dmarc_report_reason;

typedef struct mox_dmarc_report_record {
	char *source_ip;
	uint64_t count;
	char *disposition, *dkim, *spf; /* policy_evaluated */
	size_t nreasons;
	mox_dmarc_report_reason *reasons;
	char *envelope_to, *envelope_from, *header_from;
	size_t ndkim, nspf;
	mox_dmarc_report_dkim *dkim_results;
	mox_dmarc_report_spf *spf_results;
} mox_dmarc_report_record;

typedef struct mox_dmarc_report {
	char *version;
	/* report_metadata */
	char *org_name, *email, *extra_contact_info, *report_id;
	uint64_t date_begin, date_end;
	size_t nerrors;
	char **errors;
	/* policy_published */
	char *domain, *adkim, *aspf, *p, *sp, *pct, *fo, *np;
	size_t nrecords;
	mox_dmarc_report_record *records;
	const mox_allocator *alloc;
} mox_dmarc_report;

typedef struct mox_dmarc_report_limits {
	size_t max_bytes;   /* XML input; 0: 64 MiB */
	size_t max_records; /* 0: 1000000 */
	size_t max_depth;   /* element nesting; 0: 32 */
	size_t max_text;    /* one element's text; 0: 64 KiB */
} mox_dmarc_report_limits;

/* Parse aggregate report XML. Documents with a DTD or entity declarations
 * are refused (no entity expansion: billion-laughs), as are documents past
 * the limits; MOX_ESYNTAX with *info (line and column) for XML that is not
 * well-formed or lacks <feedback>. Element names are matched without their
 * namespace, so the DMARCbis namespace is read too.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dmarc_report_parse(const void *xml, size_t len,
				       const mox_dmarc_report_limits *limits,
				       const mox_allocator *alloc,
				       mox_dmarc_report **report_out,
				       mox_errinfo *info);
/* Find the report in a message: the first part that is XML
 * (text/xml, application/xml), gzip (application/gzip, application/x-gzip,
 * or a .gz file name) or zip (application/zip, .zip), decoded from its
 * transfer encoding and decompressed (bounded by limits->max_bytes), then
 * parsed. MOX_ENOTFOUND when the message has no such part.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dmarc_report_parse_message(const void *msg, size_t len,
					       const mox_dmarc_report_limits *limits,
					       const mox_allocator *alloc,
					       mox_dmarc_report **report_out,
					       mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per report. */
MOX_API void mox_dmarc_report_free(mox_dmarc_report *report);

#ifdef __cplusplus
}
#endif
#endif
