/* SPF macros, RFC 7208 section 7.
 *
 * How this works: one walker reads a macro-string (or, for explanations,
 * an explain-string) left to right. Literals are copied; "%%", "%_" and
 * "%-" give "%", " " and "%20"; "%{" letter transformers delimiters "}"
 * takes the letter's value, splits it at the delimiters (default "."),
 * reverses the parts for "r", keeps the rightmost N for a digit
 * transformer, joins them with "." and, for an upper-case letter,
 * URL-escapes the result (RFC 7208 section 7.3). Without a context the
 * walker only checks syntax, which is what the record parser uses.
 *
 * Limits: a digit transformer saturates (any count above the number of
 * parts means all of them); the output of one expansion is at most
 * MOX_SPF_EXPAND_MAX bytes, so hostile records cannot make us build
 * megabytes; for a domain the result is cut from the left to at most 253
 * characters of whole labels (RFC 7208 section 7.3). %{p} is computed by
 * the evaluator (it needs DNS), which caches it per evaluation.
 *
 *   macro-string     = *( macro-expand / macro-literal )
 *   macro-expand     = ( "%{" macro-letter transformers *delimiter "}" )
 *                      / "%%" / "%_" / "%-"
 *   macro-literal    = %x21-24 / %x26-7E
 *   macro-letter     = "s" / "l" / "o" / "d" / "i" / "p" / "h" /
 *                      "c" / "r" / "t" / "v"
 *   transformers     = *DIGIT [ "r" ]
 *   delimiter        = "." / "-" / "+" / "," / "/" / "_" / "="
 *   explain-string   = *( macro-string / SP )
 */
#include "spf_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* More parts than a value can have (a value is at most
 * MOX_SPF_EXPAND_MAX bytes); digit transformers saturate here. */
#define DIGITS_CAP 100000

static bool
is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' ||
	       c == '=';
}

static mox_err
serr(mox_errinfo *info, size_t off, const char *what)
{
	return mox_errinfo_set(info, MOX_ESYNTAX, off, "%s at %zu", what, off);
}

bool
mox__spf_ip_parse(const char *text, int *family, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, text, ip) == 1) {
		*family = 4;
		return true;
	}
	uint8_t v6[16];
	if (inet_pton(AF_INET6, text, v6) != 1)
		return false;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(v6, mapped, 12) == 0) {
		memcpy(ip, v6 + 12, 4);
		*family = 4;
		return true;
	}
	memcpy(ip, v6, 16);
	*family = 6;
	return true;
}

/* The raw value of a macro letter. */
static mox_err
letter_value(char letter, const mox__spf_macro_ctx *ctx, mox_buf *v)
{
	char tmp[INET6_ADDRSTRLEN];
	switch (letter) {
	case 's':
		return mox_buf_appendf(v, "%s@%s", ctx->local, ctx->sender_domain);
	case 'l':
		return mox_buf_append_str(v, ctx->local);
	case 'o':
		return mox_buf_append_str(v, ctx->sender_domain);
	case 'd':
		return mox_buf_append_str(v, ctx->domain);
	case 'h':
		return mox_buf_append_str(v, ctx->helo);
	case 'r':
		return mox_buf_append_str(v, ctx->receiver);
	case 't':
		return mox_buf_appendf(v, "%" PRId64, ctx->now);
	case 'v':
		return mox_buf_append_str(v, ctx->family == 4 ? "in-addr" : "ip6");
	case 'c':
		/* RFC 7208 section 7.3: the client IP in its readable form. */
		inet_ntop(ctx->family == 4 ? AF_INET : AF_INET6, ctx->ip, tmp, sizeof(tmp));
		return mox_buf_append_str(v, tmp);
	case 'i':
		if (ctx->family == 4)
			return mox_buf_appendf(v, "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1],
					       ctx->ip[2], ctx->ip[3]);
		/* RFC 7208 section 7.3: IPv6 as 32 dot-separated nibbles. */
		for (int k = 0; k < 16; k++) {
			mox_err err = mox_buf_appendf(v, "%s%x.%x", k ? "." : "",
						      ctx->ip[k] >> 4, ctx->ip[k] & 0xf);
			if (err != MOX_OK)
				return err;
		}
		return MOX_OK;
	case 'p': {
		const char *name = NULL;
		mox_err err = ctx->ptr_name(ctx->ptr_arg, ctx->domain, &name);
		if (err != MOX_OK)
			return err;
		return mox_buf_append_str(v, name);
	}
	}
	return MOX_EINVAL;
}

/* Split v at delimiters, reverse if asked, keep the rightmost n parts
 * (0: all), join with "." and append to out (URL-escaped if upper). */
static mox_err
transform(const mox_buf *v, const char *delims, size_t ndelims, bool reverse,
	  size_t n, bool upper, mox_buf *out)
{
	const char *s = v->len > 0 ? (const char *)v->data : "";
	size_t len = v->len;
	bool split = reverse || n > 0 || ndelims > 0;
	size_t nparts = 1;
	if (split)
		for (size_t i = 0; i < len; i++)
			if (ndelims == 0 ? s[i] == '.' : memchr(delims, s[i], ndelims) != NULL)
				nparts++;
	/* Part boundaries: part k is s[starts[k]..ends[k]). */
	size_t *bounds = NULL;
	mox_err err = MOX_OK;
	if (split) {
		bounds = mox_mem_reallocarray(out->alloc, NULL, nparts, 2 * sizeof(size_t));
		if (bounds == NULL)
			return MOX_ENOMEM;
		size_t k = 0, start = 0;
		for (size_t i = 0; i <= len; i++) {
			bool d = i == len || (ndelims == 0 ? s[i] == '.'
							   : memchr(delims, s[i], ndelims) != NULL);
			if (!d)
				continue;
			bounds[2 * k] = start;
			bounds[2 * k + 1] = i;
			k++;
			start = i + 1;
		}
		if (reverse)
			for (size_t a = 0, b = nparts - 1; a < b; a++, b--) {
				size_t s0 = bounds[2 * a], e0 = bounds[2 * a + 1];
				bounds[2 * a] = bounds[2 * b];
				bounds[2 * a + 1] = bounds[2 * b + 1];
				bounds[2 * b] = s0;
				bounds[2 * b + 1] = e0;
			}
	}
	size_t first = split && n > 0 && n < nparts ? nparts - n : 0;
	for (size_t k = first; err == MOX_OK && k < nparts; k++) {
		size_t ps = split ? bounds[2 * k] : 0, pe = split ? bounds[2 * k + 1] : len;
		if (k > first)
			err = mox_buf_append_byte(out, '.');
		for (size_t i = ps; err == MOX_OK && i < pe; i++) {
			char c = s[i];
			/* RFC 7208 section 7.3: upper-case macros are URL-escaped,
			 * all but the unreserved characters of RFC 3986 section
			 * 2.3. */
			if (upper && !(mox__spf_alpha(c) || mox__spf_digit(c) || c == '-' ||
				       c == '.' || c == '_' || c == '~'))
				err = mox_buf_appendf(out, "%%%02X", (unsigned char)c);
			else
				err = mox_buf_append_byte(out, (uint8_t)c);
		}
	}
	mox_mem_free(out->alloc, bounds);
	return err;
}

/* The walker. ctx NULL: check only. */
static mox_err
walk(const char *s, size_t len, unsigned flags, size_t base,
     const mox__spf_macro_ctx *ctx, mox_buf *out, size_t out_start,
     bool *ends_with_macro, mox_errinfo *info)
{
	bool exp = (flags & MOX__SPF_MACRO_EXP) != 0;
	bool anyletter = exp || (flags & MOX__SPF_MACRO_ANYLETTER) != 0;
	bool last_macro = false;
	mox_buf v = MOX_BUF_INIT;
	if (out != NULL)
		mox_buf_init(&v, out->alloc);
	mox_err err = MOX_OK;
	size_t i = 0;
	while (i < len && err == MOX_OK) {
		unsigned char c = (unsigned char)s[i];
		if (c != '%') {
			if (!(c >= 0x21 && c <= 0x7e) && !(exp && c == ' ')) {
				err = mox_errinfo_set(info, MOX_ESYNTAX, base + i,
						      "invalid character 0x%02x at %zu", c,
						      base + i);
				break;
			}
			last_macro = false;
			if (out != NULL)
				err = mox_buf_append_byte(out, c);
			i++;
			goto next;
		}
		if (i + 1 >= len) {
			err = serr(info, base + i, "'%' at end of macro-string");
			break;
		}
		last_macro = true;
		char m = s[i + 1];
		if (m == '%' || m == '_' || m == '-') {
			if (out != NULL)
				err = mox_buf_append_str(out, m == '%' ? "%" : m == '_' ? " " : "%20");
			i += 2;
			goto next;
		}
		if (m != '{') {
			err = serr(info, base + i, "invalid macro, '%' must be followed by '{', '%', '_' or '-'");
			break;
		}
		size_t mstart = i;
		i += 2;
		if (i >= len) {
			err = serr(info, base + mstart, "unterminated macro");
			break;
		}
		char letter = mox__spf_lower(s[i]);
		bool upper = s[i] >= 'A' && s[i] <= 'Z';
		if (strchr("slodiphcrtv", letter) == NULL || letter == '\0') {
			err = serr(info, base + i, "unknown macro letter");
			break;
		}
		if (!anyletter && (letter == 'c' || letter == 'r' || letter == 't')) {
			/* RFC 7208 section 7.3: c, r and t only in exp text. */
			err = mox_errinfo_set(info, MOX_ESYNTAX, base + i,
					      "macro letter '%c' only allowed in exp text at %zu",
					      letter, base + i);
			break;
		}
		i++;
		size_t n = 0, ndigits = 0;
		while (i < len && mox__spf_digit(s[i])) {
			if (n < DIGITS_CAP)
				n = n * 10 + (size_t)(s[i] - '0');
			ndigits++;
			i++;
		}
		if (ndigits > 0 && n == 0) {
			/* RFC 7208 section 7.3: the digit count must be nonzero. */
			err = serr(info, base + i - 1, "zero label count in macro");
			break;
		}
		bool reverse = false;
		if (i < len && (s[i] == 'r' || s[i] == 'R')) {
			reverse = true;
			i++;
		}
		size_t dstart = i;
		while (i < len && is_delim(s[i]))
			i++;
		if (i >= len || s[i] != '}') {
			err = serr(info, base + (i < len ? i : mstart), "macro without closing '}'");
			break;
		}
		i++;
		if (ctx == NULL || out == NULL)
			goto next;
		mox_buf_reset(&v);
		err = letter_value(letter, ctx, &v);
		if (err == MOX_OK)
			err = transform(&v, s + dstart, i - 1 - dstart, reverse, n, upper, out);
	next:
		if (err == MOX_OK && out != NULL && out->len - out_start > MOX_SPF_EXPAND_MAX)
			err = mox_errinfo_set(info, MOX_ELIMIT, base + i,
					      "macro expansion longer than %d bytes",
					      MOX_SPF_EXPAND_MAX);
	}
	mox_buf_free(&v);
	if (err == MOX_OK && ends_with_macro != NULL)
		*ends_with_macro = last_macro;
	if (err == MOX_ENOMEM)
		mox_errinfo_set(info, err, 0, "out of memory");
	return err;
}

mox_err
mox__spf_macro_check(const char *s, size_t len, unsigned flags, size_t base,
		     bool *ends_with_macro, mox_errinfo *info)
{
	return walk(s, len, flags, base, NULL, NULL, 0, ends_with_macro, info);
}

mox_err
mox__spf_macro_expand(const char *s, size_t len, unsigned flags,
		      const mox__spf_macro_ctx *ctx, mox_buf *out, mox_errinfo *info)
{
	if (s == NULL || ctx == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = walk(s, len, flags, 0, ctx, out, start, NULL, info);
	if (err == MOX_OK && !(flags & MOX__SPF_MACRO_EXP) && out->len > start) {
		char *r = (char *)out->data + start;
		size_t rlen = out->len - start;
		if (rlen > 0 && r[rlen - 1] == '.')
			rlen--;
		/* RFC 7208 section 7.3: a name longer than 253 characters
		 * loses labels on the left until it fits. */
		size_t cut = 0;
		while (rlen - cut > MOX_DNS_NAME_MAX) {
			const char *dot = memchr(r + cut, '.', rlen - cut);
			if (dot == NULL) {
				err = mox_errinfo_set(info, MOX_ELIMIT, 0,
						      "expanded name too long");
				break;
			}
			cut = (size_t)(dot - r) + 1;
		}
		if (err == MOX_OK) {
			memmove(r, r + cut, rlen - cut);
			out->len = start + rlen - cut;
			if (out->data != NULL)
				out->data[out->len] = '\0';
		}
	}
	if (err != MOX_OK && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	return err;
}
