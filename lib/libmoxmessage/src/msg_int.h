/* Declarations shared between libmoxmessage sources; never installed. */
#ifndef MOX_MSG_INT_H
#define MOX_MSG_INT_H

#include <mox/message.h>

#include <iconv.h>

/* Locale-free character helpers. */
static inline char
mox__msg_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static inline bool
mox__msg_is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Case-insensitive ASCII comparison of a (len bytes) with NUL-terminated b. */
bool mox__msg_eq_nocase(const void *a, size_t len, const char *b);

/* Streaming charset conversion to UTF-8 (charset.c). */
typedef struct mox__msg_conv {
	iconv_t cd;      /* (iconv_t)-1 when not using iconv */
	int mode;        /* see charset.c */
	uint8_t pending[16]; /* bytes of an incomplete sequence */
	size_t npending;
	bool replaced;   /* a U+FFFD was written */
	bool unknown;    /* charset unknown: read as ISO-8859-1 */
} mox__msg_conv;

/* Set up conv for charset; never fails for an unknown charset (falls back
 * to ISO-8859-1 and sets conv->unknown); MOX_ENOMEM possible. */
mox_err mox__msg_conv_init(mox__msg_conv *conv, const char *charset);
/* Convert len bytes; an incomplete sequence at the end is held back unless
 * final, in which case it becomes U+FFFD. */
mox_err mox__msg_conv_feed(mox__msg_conv *conv, const uint8_t *data, size_t len,
			   bool final, mox_buf *out);
void mox__msg_conv_close(mox__msg_conv *conv);

/* Whether data is valid UTF-8 (RFC 3629). */
bool mox__msg_utf8_valid(const uint8_t *data, size_t len);

/* Append data to out, replacing invalid UTF-8 sequences with U+FFFD;
 * returns whether a replacement was made through *replaced. */
mox_err mox__msg_utf8_sanitize(const uint8_t *data, size_t len, mox_buf *out,
			       bool *replaced);

/* Header section parser with the offset of data in the message (header.c). */
mox_err mox__msg_header_parse_at(const uint8_t *data, size_t len, size_t base,
				 unsigned flags, const mox_allocator *alloc,
				 mox_msg_header **header_out, size_t *consumed_out,
				 mox_errinfo *info);
/* Append v unfolded and trimmed to out. */
mox_err mox__msg_unfold(const uint8_t *v, size_t n, mox_buf *out);

/* Parameters (ctype.c), for the part parser. */
void mox__msg_params_free(const mox_allocator *alloc, mox_msg_params *params);

#endif
