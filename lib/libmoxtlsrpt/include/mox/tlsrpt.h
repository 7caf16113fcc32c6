/* mox/tlsrpt.h -- SMTP TLS Reporting (TLSRPT), RFC 8460.
 *
 * A domain publishes "_smtp._tls.<domain>" TXT "v=TLSRPTv1; rua=..." with
 * where to send reports (mailto: or https: URIs). Sending mail servers
 * count, per policy (MTA-STS, DANE TLSA, or none found), successful and
 * failed TLS sessions and send a daily JSON report.
 *
 * In scope:
 *   - the TXT record (RFC 8460 section 3): parsing with precise errors,
 *     writing it back, and discovery through a mox_resolver;
 *   - the JSON report (section 4.4), every field of its schema, parsed with
 *     jansson into plain structures; date-times (RFC 3339 section 5.6) kept
 *     with their UTC offset, and read leniently without one, as reports
 *     from Microsoft have them and mox reads them;
 *   - a report taken out of a message (section 5.3): multipart/report with
 *     an application/tlsrpt+gzip or application/tlsrpt+json part,
 *     decoded from its transfer encoding and gunzipped (zlib), sizes
 *     bounded;
 *   - what a server needs to write its own reports: the same structures,
 *     results merged by policy and failure details (as mox's Merge), the
 *     JSON written back (compact, or indented as mox's "tlsrpt
 *     parsereportmsg" prints it), gzip, and the report file name of
 *     section 5.1.
 *
 * Out of scope: composing and sending report messages and HTTPS uploads
 * (the server does that), the report database, DANE itself.
 */
#ifndef MOX_TLSRPT_H
#define MOX_TLSRPT_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_TLSRPT_VERSION_MAJOR 0
#define MOX_TLSRPT_VERSION_MINOR 1
#define MOX_TLSRPT_VERSION_PATCH 0
#define MOX_TLSRPT_VERSION_HEX                                                         \
	((MOX_TLSRPT_VERSION_MAJOR << 16) | (MOX_TLSRPT_VERSION_MINOR << 8) |          \
	 MOX_TLSRPT_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_TLSRPT_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_tlsrpt_version(void);

/* RFC 8460 section 3: tlsrpt-ext-name is 1 to 32 characters. */
#define MOX_TLSRPT_EXT_NAME_MAX 32
/* A TXT record longer than this is not a record (a sane bound). */
#define MOX_TLSRPT_RECORD_MAX 4096u
/* Limits as mox's: a report message of at most 15 MB, a JSON report of at
 * most 20 MB (also after decompression). */
#define MOX_TLSRPT_MESSAGE_MAX (15u * 1024 * 1024)
#define MOX_TLSRPT_REPORT_MAX (20u * 1024 * 1024)

/* ---- the TXT record, RFC 8460 section 3 ---- */

typedef struct mox_tlsrpt_ext {
	char *key;
	char *value;
} mox_tlsrpt_ext;

/* The URIs of one rua= field (a comma-separated list). */
typedef struct mox_tlsrpt_rua {
	size_t n;
	char **uris; /* as written: "mailto:tlsrpt@example.com" */
} mox_tlsrpt_rua;

typedef struct mox_tlsrpt_record {
	size_t nrua; /* rua= fields; may repeat */
	mox_tlsrpt_rua *rua;
	size_t nextensions;
	mox_tlsrpt_ext *extensions;
	const mox_allocator *alloc;
} mox_tlsrpt_record;

/* Whether TXT text is meant as a TLSRPT record: "v=TLSRPTv1", optional
 * white space, ";". Only such records count among several TXT records
 * (section 3). Thread-safety: any thread. */
MOX_API bool mox_tlsrpt_is_record(const char *txt, size_t len);

/* Parse a TLSRPT record (section 3):
 *
 *   tlsrpt-record     = tlsrpt-version 1*(field-delim tlsrpt-field)
 *                       [field-delim]
 *   field-delim       = *WSP ";" *WSP
 *   tlsrpt-field      = tlsrpt-rua / tlsrpt-extension
 *   tlsrpt-version    = %s"v=TLSRPTv1"
 *   tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri        = URI            ; RFC 3986, with "," "!" ";" encoded
 *   tlsrpt-extension  = tlsrpt-ext-name "=" tlsrpt-ext-value
 *   tlsrpt-ext-name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   tlsrpt-ext-value  = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * At least one rua is required; rua may repeat. A URI must have a scheme
 * and consist of URI characters with valid percent escapes; any scheme is
 * kept (mox_tlsrpt_uri_scheme tells mailto and https apart).
 * \return MOX_OK; MOX_ESYNTAX with *info ("missing rua", "invalid percent
 *         escape in URI at 19"); MOX_ELIMIT; MOX_ENOMEM; MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_tlsrpt_record_parse(const char *txt, size_t len,
                                        const mox_allocator *alloc,
                                        mox_tlsrpt_record **record_out,
                                        mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per record. */
MOX_API void mox_tlsrpt_record_free(mox_tlsrpt_record *record);
/* Append "v=TLSRPTv1; rua=uri,uri; key=value". Thread-safety: per out. */
MOX_API mox_err mox_tlsrpt_record_format(const mox_tlsrpt_record *record, mox_buf *out);

typedef enum mox_tlsrpt_scheme {
	MOX_TLSRPT_SCHEME_OTHER = 0,
	MOX_TLSRPT_SCHEME_MAILTO = 1, /* section 3: report by email */
	MOX_TLSRPT_SCHEME_HTTPS = 2,  /* section 3: report by HTTPS POST */
} mox_tlsrpt_scheme;

/* The scheme of a rua URI, case-insensitive. Thread-safety: any thread. */
MOX_API mox_tlsrpt_scheme mox_tlsrpt_uri_scheme(const char *uri);

typedef enum mox_tlsrpt_lookup_status {
	MOX_TLSRPT_LOOKUP_FOUND = 0,
	MOX_TLSRPT_LOOKUP_NONE = 1,      /* no name, no TXT, no TLSRPT record */
	MOX_TLSRPT_LOOKUP_MULTIPLE = 2,  /* several: as none (section 3) */
	MOX_TLSRPT_LOOKUP_SYNTAX = 3,    /* a TLSRPT record that is invalid */
	MOX_TLSRPT_LOOKUP_TEMPERROR = 4, /* DNS failed */
} mox_tlsrpt_lookup_status;

/* "found", "none", "multiple", "syntax", "temperror".
 * Thread-safety: any thread. */
MOX_API const char *mox_tlsrpt_lookup_status_name(mox_tlsrpt_lookup_status s);

typedef struct mox_tlsrpt_lookup_result {
	mox_tlsrpt_lookup_status status;
	bool authentic;
	mox_tlsrpt_record *record; /* FOUND: owned by the result */
	char *txt;                 /* FOUND: the record's text */
	char why[256];
	const mox_allocator *alloc;
} mox_tlsrpt_lookup_result;

/* Look up the TXT records at "_smtp._tls.<domain>" (ASCII, A-labels) and
 * pick the TLSRPT record (section 3). For DANE, pass the MX host name
 * (section 3: the policy domain of a TLSA policy is the MX host).
 * \return MOX_OK with *result_out filled (check status; free with
 *         mox_tlsrpt_lookup_result_clear), or MOX_ENOMEM/MOX_EINVAL.
 * Thread-safety: any thread (as the resolver). */
MOX_API mox_err mox_tlsrpt_lookup(const mox_resolver *resolver, const char *domain,
                                  const mox_allocator *alloc,
                                  mox_tlsrpt_lookup_result *result_out);
/* Thread-safety: per result. */
MOX_API void mox_tlsrpt_lookup_result_clear(mox_tlsrpt_lookup_result *result);

/* ---- reports, RFC 8460 section 4 ---- */

/* A date-time (section 4.4 "date-time", RFC 3339 section 5.6). */
typedef struct mox_tlsrpt_time {
	int64_t seconds;      /* since 1970-01-01T00:00:00Z */
	uint32_t nanoseconds; /* fraction of the second */
	int32_t utc_offset;   /* seconds east of UTC as written; 0 for "Z"
	                         and for times written without an offset */
} mox_tlsrpt_time;

/* The value of a time that was absent: 0001-01-01T00:00:00Z, as Go's
 * zero time, which mox prints for it. */
#define MOX_TLSRPT_TIME_ZERO (-62135596800LL)

/* Policy types (section 4.3.1) and result types (section 4.3.2.1,
 * 4.3.2.2, 4.3.2.3; IANA "STARTTLS Validation Result Types"). The report
 * keeps the strings as sent; these are the known ones. */
#define MOX_TLSRPT_POLICY_STS "sts"
#define MOX_TLSRPT_POLICY_TLSA "tlsa"
#define MOX_TLSRPT_POLICY_NONE_FOUND "no-policy-found"

#define MOX_TLSRPT_STARTTLS_NOT_SUPPORTED "starttls-not-supported"
#define MOX_TLSRPT_CERTIFICATE_HOST_MISMATCH "certificate-host-mismatch"
#define MOX_TLSRPT_CERTIFICATE_EXPIRED "certificate-expired"
#define MOX_TLSRPT_CERTIFICATE_NOT_TRUSTED "certificate-not-trusted"
#define MOX_TLSRPT_VALIDATION_FAILURE "validation-failure"
#define MOX_TLSRPT_TLSA_INVALID "tlsa-invalid"
#define MOX_TLSRPT_DNSSEC_INVALID "dnssec-invalid"
#define MOX_TLSRPT_DANE_REQUIRED "dane-required"
#define MOX_TLSRPT_STS_POLICY_FETCH_ERROR "sts-policy-fetch-error"
#define MOX_TLSRPT_STS_POLICY_INVALID "sts-policy-invalid"
#define MOX_TLSRPT_STS_WEBPKI_INVALID "sts-webpki-invalid"

/* Whether a result type is one of the eleven above.
 * Thread-safety: any thread. */
MOX_API bool mox_tlsrpt_result_type_known(const char *result_type);

/* One failure-details entry (section 4.4). Absent strings are NULL. */
typedef struct mox_tlsrpt_failure {
	char *result_type;
	char *sending_mta_ip;
	char *receiving_mx_hostname;
	char *receiving_mx_helo;
	char *receiving_ip;
	int64_t failed_session_count;
	char *additional_information;
	char *failure_reason_code;
} mox_tlsrpt_failure;

/* One "policies" entry: the policy, its summary and failure details. */
typedef struct mox_tlsrpt_result {
	char *policy_type; /* "sts", "tlsa", "no-policy-found" */
	size_t npolicy_strings;
	char **policy_strings; /* policy-string: the policy's lines */
	char *policy_domain;
	size_t nmx_hosts;
	char **mx_hosts; /* mx-host (MTA-STS patterns) */
	int64_t total_successful_session_count;
	int64_t total_failure_session_count;
	size_t nfailures;
	mox_tlsrpt_failure *failures; /* failure-details */
} mox_tlsrpt_result;

typedef struct mox_tlsrpt_report {
	char *organization_name;
	mox_tlsrpt_time start; /* date-range */
	mox_tlsrpt_time end;
	char *contact_info;
	char *report_id;
	size_t npolicies;
	mox_tlsrpt_result *policies;
	const mox_allocator *alloc;
} mox_tlsrpt_report;

typedef struct mox_tlsrpt_report_limits {
	size_t max_bytes;    /* JSON (after gunzip); 0: MOX_TLSRPT_REPORT_MAX */
	size_t max_message;  /* message; 0: MOX_TLSRPT_MESSAGE_MAX */
	size_t max_policies; /* 0: 100000 */
	size_t max_failures; /* per policy; 0: 100000 */
	size_t max_strings;  /* policy-string, mx-host entries; 0: 10000 */
} mox_tlsrpt_report_limits;

/* Parse a JSON report (section 4.4). Read as mox reads it: every field
 * optional (absent strings NULL, counts 0, times MOX_TLSRPT_TIME_ZERO),
 * null as absent, unknown fields ignored, the last of duplicate fields
 * counting; a wrong type for a known field is an error (the field's path
 * is in the message), as are negative or fractional counts and invalid
 * date-times. As the RFC's own example (erratum 6241) has it, "mx-host"
 * may be a single string instead of a list. jansson parses the JSON
 * (strict RFC 8259: valid UTF-8, no NUL in strings, nothing but white
 * space after the value).
 * \return MOX_OK; MOX_ESYNTAX with *info (line, column and what, e.g.
 *         "policies[0].summary.total-failure-session-count: expected an
 *         integer"); MOX_ELIMIT past the limits; MOX_ENOMEM; MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_tlsrpt_report_parse(const void *json, size_t len,
                                        const mox_tlsrpt_report_limits *limits,
                                        const mox_allocator *alloc,
                                        mox_tlsrpt_report **report_out,
                                        mox_errinfo *info);

/* Find and parse the report in a message (section 5.3), as mox does: a
 * message that is not multipart is taken as the report itself; in a
 * multipart, parts are searched in order, and in a multipart/report
 * (whose report-type must be "tlsrpt") a part of type
 * application/tlsrpt+gzip (gunzipped) or application/tlsrpt+json is the
 * report. Also read, where mox does not: application/tlsrpt (seen in the
 * wild), as gzip when its body starts with the gzip magic, else as JSON.
 * \return MOX_OK; MOX_ENOTFOUND when there is no report part;
 *         MOX_ESYNTAX for a broken message, gzip data or JSON (*info);
 *         MOX_ELIMIT past the limits; MOX_ENOMEM; MOX_EINVAL.
 * Thread-safety: any thread. */
MOX_API mox_err mox_tlsrpt_report_parse_message(const void *msg, size_t len,
                                                const mox_tlsrpt_report_limits *limits,
                                                const mox_allocator *alloc,
                                                mox_tlsrpt_report **report_out,
                                                mox_errinfo *info);

/* NULL is a no-op. Thread-safety: per report. */
MOX_API void mox_tlsrpt_report_free(mox_tlsrpt_report *report);

/* ---- writing reports ---- */

/* An empty report to fill (organization, contact, id copied; NULL is
 * allowed and written as ""). Free with mox_tlsrpt_report_free.
 * Thread-safety: any thread. */
MOX_API mox_err mox_tlsrpt_report_new(mox_tlsrpt_report **report_out,
                                      const mox_allocator *alloc,
                                      const char *organization_name,
                                      const char *contact_info, const char *report_id,
                                      mox_tlsrpt_time start, mox_tlsrpt_time end);

/* Add a result to the report, merging as mox does: a result whose policy
 * (type, strings, domain, mx hosts) equals one in the report adds its
 * counts to it, and each failure detail that equals one there (all fields
 * but the count) adds its count; others are appended. Everything is
 * copied. Counts never go below zero.
 * Thread-safety: per report. */
MOX_API mox_err mox_tlsrpt_report_add(mox_tlsrpt_report *report,
                                      const mox_tlsrpt_result *result);

enum {
	/* Indent with tabs and put ": " after names, as mox's "tlsrpt
	 * parsereportmsg" prints (Go's json.Encoder, SetIndent("", "\t")). */
	MOX_TLSRPT_JSON_INDENT = 1u << 0,
};

/* Append the report as JSON (section 4.4). Every field is written, as
 * mox writes reports: absent strings as "", absent lists as [];
 * "receiving-mx-helo" only when set. Times in RFC 3339 form with their
 * offset ("2016-04-01T00:00:00Z"), fractions of a second without trailing
 * zeros. Strings are escaped as Go's encoder does without HTML escaping.
 * Thread-safety: per out. */
MOX_API mox_err mox_tlsrpt_report_format(const mox_tlsrpt_report *report,
                                         unsigned flags, mox_buf *out);

/* Append data gzip-compressed (RFC 1952), for the
 * application/tlsrpt+gzip part (section 5.3). Thread-safety: per out. */
MOX_API mox_err mox_tlsrpt_gzip(const void *data, size_t len, mox_buf *out);

/* The report file name of section 5.1:
 * "<receiver>!<policy-domain>!<begin>!<end>[!<unique-id>].json[.gz]",
 * begin and end as Unix seconds. unique_id may be NULL.
 * Thread-safety: per out. */
MOX_API mox_err mox_tlsrpt_report_filename(
    const char *receiver, const char *policy_domain, const mox_tlsrpt_time *start,
    const mox_tlsrpt_time *end, const char *unique_id, bool gzip, mox_buf *out);

/* Parse an RFC 3339 date-time ("2016-04-01T23:59:59Z", "...+02:00",
 * fractions up to 9 digits); without an offset it is read as UTC, as
 * mox does for Microsoft's reports.
 * \return MOX_OK or MOX_ESYNTAX. Thread-safety: any thread. */
MOX_API mox_err mox_tlsrpt_time_parse(const char *text, size_t len,
                                      mox_tlsrpt_time *time_out);
/* Append a time in RFC 3339 form. Thread-safety: per out. */
MOX_API mox_err mox_tlsrpt_time_format(const mox_tlsrpt_time *t, mox_buf *out);

#ifdef __cplusplus
}
#endif
#endif
