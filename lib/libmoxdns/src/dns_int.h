/* Declarations shared between libmoxdns sources; never installed. */
#ifndef MOX_DNS_INT_H
#define MOX_DNS_INT_H

#include <mox/dns.h>

#include <stdarg.h>

/* A new answer for qname/qtype with status NODATA and no records. qname is
 * normalized (lower case, no trailing dot). NULL on ENOMEM. */
mox_dns_answer *mox__dns_answer_new(const mox_allocator *alloc,
				    const char *qname, mox_dns_type qtype);
/* Append a zeroed record of type with owner name and ttl; returns it or
 * NULL on ENOMEM (the answer is unchanged). */
mox_dns_rr *mox__dns_answer_add(mox_dns_answer *a, mox_dns_type type,
				const char *owner, uint32_t ttl);
/* Set answer status and a printf-style "why" message (for TEMPFAIL and
 * PERMFAIL). Returns MOX_OK or MOX_ENOMEM. */
mox_err mox__dns_answer_fail(mox_dns_answer *a, mox_dns_status status,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set the TXT strings of rr from nstrings (data, len) pairs. */
mox_err mox__dns_rr_set_txt(const mox_allocator *alloc, mox_dns_rr *rr,
			    size_t nstrings, const uint8_t *const *strings,
			    const size_t *lens);
/* Set the string field *field to a normalized copy of name. */
mox_err mox__dns_rr_set_name(const mox_allocator *alloc, char **field,
			     const char *name);
mox_err mox__dns_rr_set_tlsa_data(const mox_allocator *alloc, mox_dns_rr *rr,
				  const uint8_t *data, size_t len);

/* Deep-copy the record src into dst (zeroed by the caller); on ENOMEM dst
 * holds what was copied, which mox__dns_rr_free_fields releases. */
mox_err mox__dns_rr_copy(const mox_allocator *alloc, mox_dns_rr *dst,
			 const mox_dns_rr *src);
/* Free what a record owns (not the record itself). */
void mox__dns_rr_free_fields(const mox_allocator *alloc, mox_dns_rr *rr);

/* Copy name lower-cased without one trailing dot into out (out_size bytes).
 * MOX_ERANGE if it does not fit. */
mox_err mox__dns_name_normalize(const char *name, char *out, size_t out_size);

/* Character helpers, locale-free. */
static inline char
mox__dns_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

#endif
