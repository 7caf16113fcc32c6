/* Declarations shared between libmoxmtasts sources; never installed. */
#ifndef MOX_MTASTS_INT_H
#define MOX_MTASTS_INT_H

#include <mox/mtasts.h>

static inline bool
mox__mtasts_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
mox__mtasts_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
mox__mtasts_is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline char
mox__mtasts_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of an extension name at p (at most n bytes): (ALPHA / DIGIT)
 * *31(ALPHA / DIGIT / "_" / "-" / "."), RFC 8461 sections 3.1 and 3.2.
 * Returns the number of name characters (possibly more than 32, for the
 * caller's "too long" error); 0 if p does not start a name. */
size_t mox__mtasts_ext_name_len(const char *p, size_t n);

/* Free an array of pairs and their strings. */
void mox__mtasts_pairs_free(const mox_allocator *a, mox_mtasts_pair *pairs, size_t n);
/* Append a pair (copies of key and value). */
mox_err mox__mtasts_pairs_add(const mox_allocator *a, mox_mtasts_pair **pairs,
                              size_t *n, const char *key, size_t klen,
                              const char *value, size_t vlen);

/* Normalise a domain argument: strip one trailing dot, lower-case, check
 * it is a host name; false (and *why) when it is not. out has
 * MOX_DNS_NAME_MAX + 1 bytes. */
bool mox__mtasts_domain(const char *domain, char *out, char *why, size_t whylen);

#endif
