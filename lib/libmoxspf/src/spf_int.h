/* Declarations shared between libmoxspf sources; never installed. */
#ifndef MOX_SPF_INT_H
#define MOX_SPF_INT_H

#include <mox/spf.h>

/* One directive: qualifier, mechanism and its arguments. */
typedef struct mox__spf_dir {
	mox_spf_result qualifier;
	mox_spf_mechanism mech;
	bool explicit_qualifier; /* "+" was written */
	char *domain_spec;       /* NULL when absent */
	int cidr4, cidr6;        /* -1 when absent */
	uint8_t ip[16];
} mox__spf_dir;

/* An unknown modifier (RFC 7208 section 6: ignored, but its macro-string
 * must be valid). */
typedef struct mox__spf_mod {
	char *name;
	char *value;
} mox__spf_mod;

struct mox_spf_record {
	const mox_allocator *alloc;
	size_t ndirs;
	mox__spf_dir *dirs;
	char *redirect; /* domain-spec or NULL */
	char *exp;      /* domain-spec or NULL */
	size_t nmods;
	mox__spf_mod *mods;
};

struct mox_spf {
	const mox_allocator *alloc;
	const mox_resolver *resolver;
	char *receiver;
	char *default_explanation; /* NULL: none */
};

/* Append the text form of directive d ("-ip4:192.0.2.0/24") to out. */
mox_err mox__spf_dir_format(const mox__spf_dir *d, mox_buf *out);

/* ---- macros (macro.c) ---- */

enum {
	/* Explanation text (RFC 7208 section 6.2): SP allowed, and the
	 * letters c, r and t (RFC 7208 section 7.3). */
	MOX__SPF_MACRO_EXP = 1 << 0,
	/* Unknown modifier value: any macro letter, no SP. */
	MOX__SPF_MACRO_ANYLETTER = 1 << 1,
};

/* Check macro-string syntax (RFC 7208 section 7.1) of s[0..len). On error
 * returns MOX_ESYNTAX and fills info (offset relative to s plus base).
 * *ends_with_macro (optional) tells whether the last item was a
 * macro-expand, as domain-end needs. */
mox_err mox__spf_macro_check(const char *s, size_t len, unsigned flags,
			     size_t base, bool *ends_with_macro,
			     mox_errinfo *info);

/* What macros expand to. Strings must not be NULL. */
typedef struct mox__spf_macro_ctx {
	const char *local;  /* %{l} */
	const char *sender_domain; /* %{o} */
	const char *domain; /* %{d} */
	const char *helo;   /* %{h} */
	const char *receiver; /* %{r} */
	int family;         /* 4 or 6 */
	uint8_t ip[16];     /* network order; IPv4 in the first 4 bytes */
	int64_t now;        /* %{t} */
	/* %{p}: the validated name of the client; may do DNS. Sets *name to
	 * a string valid until the next call, "unknown" when none. */
	mox_err (*ptr_name)(void *arg, const char *domain, const char **name);
	void *ptr_arg;
} mox__spf_macro_ctx;

/* Expand s[0..len) into out (appending, at most MOX_SPF_EXPAND_MAX bytes
 * in all). With MOX__SPF_MACRO_EXP the text is an explain-string;
 * otherwise a domain-spec, whose result is cut from the left to whole
 * labels of at most 253 characters (RFC 7208 section 7.3) and loses one
 * trailing dot. MOX_ESYNTAX, MOX_ELIMIT, MOX_ENOMEM or the ptr_name
 * callback's error. */
mox_err mox__spf_macro_expand(const char *s, size_t len, unsigned flags,
			      const mox__spf_macro_ctx *ctx, mox_buf *out,
			      mox_errinfo *info);

/* Parse an IP address text into family (4/6) and 16 bytes; IPv4-mapped
 * IPv6 becomes IPv4. false when not an address. */
bool mox__spf_ip_parse(const char *text, int *family, uint8_t ip[16]);

/* Locale-free character classes. */
static inline bool
mox__spf_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool
mox__spf_digit(char c)
{
	return c >= '0' && c <= '9';
}
static inline char
mox__spf_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

#endif
