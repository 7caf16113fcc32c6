/* Declarations shared between libmoxdmarc sources; never installed. */
#ifndef MOX_DMARC_INT_H
#define MOX_DMARC_INT_H

#include <mox/dmarc.h>

static inline char
mox__dmarc_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of p (n bytes) with NUL-terminated word. */
bool mox__dmarc_eq(const char *p, size_t n, const char *word);

#endif
