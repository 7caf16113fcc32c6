/* Declarations shared between libmoxtlsrpt sources; never installed. */
#ifndef MOX_TLSRPT_INT_H
#define MOX_TLSRPT_INT_H

#include <mox/tlsrpt.h>

static inline bool
mox__tlsrpt_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
mox__tlsrpt_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline char
mox__tlsrpt_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of NUL-terminated strings. */
bool mox__tlsrpt_eq_ci(const char *a, const char *b);

/* Fill lim from limits (NULL or zero fields: defaults). */
void mox__tlsrpt_limits(mox_tlsrpt_report_limits *lim,
                        const mox_tlsrpt_report_limits *limits);

#endif
