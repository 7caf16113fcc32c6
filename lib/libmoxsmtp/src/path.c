/* SMTP paths and addresses, RFC 5321 section 4.1.2, with RFC 6531 section
 * 3.3 for UTF-8:
 *
 *   Reverse-path   = Path / "<>"
 *   Forward-path   = Path
 *   Path           = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l          = At-domain *( "," At-domain )
 *   At-domain      = "@" Domain
 *   Mailbox        = Local-part "@" ( Domain / address-literal )
 *   Local-part     = Dot-string / Quoted-string
 *   Dot-string     = Atom *("."  Atom)
 *   Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
 *   QcontentSMTP   = qtextSMTP / quoted-pairSMTP
 *   quoted-pairSMTP = %d92 %d32-126
 *   qtextSMTP      = %d32-33 / %d35-91 / %d93-126
 *   Domain         = sub-domain *("." sub-domain)
 *   sub-domain     = Let-dig [Ldh-str]           ; RFC 6531: / U-label
 *   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                     General-address-literal ) "]"
 *   atext, qtextSMTP =/ UTF8-non-ascii           ; RFC 6531
 *
 * Source routes are parsed and dropped (RFC 5321 section 4.1.1.3, appendix
 * C). General address literals are refused: nothing defines one. Domains
 * are checked and converted with libmoxdns (IDNA2008): the ASCII form is
 * kept lower case, the Unicode form too when it differs. */
#include "smtp_int.h"

#include <mox/dns.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext, RFC 5322 section 3.2.3. */
static bool
is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static mox__smtp_path_err
perr(mox__smtp_path_err e, char *msg, size_t msg_size, const char *fmt, size_t at)
{
	if (msg != NULL && msg_size > 0)
		snprintf(msg, msg_size, fmt, at);
	return e;
}

/* Domain (not an address literal) from s[*pos..), ending at a character
 * that cannot be in a domain. */
static mox__smtp_path_err
scan_domain(const char *s, size_t len, size_t *pos, bool utf8, mox_smtp_path *out,
	    char *msg, size_t msg_size)
{
	size_t p = *pos, start = p;
	bool ascii = true;
	while (p < len) {
		unsigned char c = (unsigned char)s[p];
		if (is_alpha(c) || is_digit(c) || c == '-' || c == '.') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			if (!utf8)
				return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
					    "non-ASCII domain without SMTPUTF8 at %zu", p);
			ascii = false;
			p++;
			continue;
		}
		break;
	}
	size_t n = p - start;
	if (n == 0)
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "missing domain at %zu", start);
	if (n > MOX_SMTP_DOMAIN_MAX)
		return perr(MOX__SMTP_PATH_TOOLONG, msg, msg_size,
			    "domain longer than 255 octets at %zu", start);
	char in[MOX_SMTP_DOMAIN_MAX + 1];
	memcpy(in, s + start, n);
	in[n] = 0;
	/* sub-domain starts with a letter or digit. */
	mox_errinfo info;
	if (ascii) {
		if (mox_dns_name_check(in, n, MOX_DNS_NAME_HOST, &info) != MOX_OK)
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
				    "invalid domain at %zu", start);
		bool idna = false;
		for (size_t i = 0; i < n; i++) {
			char c = in[i];
			out->domain[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			if ((i == 0 || in[i - 1] == '.') && n - i >= 4 &&
			    (in[i] == 'x' || in[i] == 'X') && (in[i + 1] == 'n' || in[i + 1] == 'N') &&
			    in[i + 2] == '-' && in[i + 3] == '-')
				idna = true;
		}
		out->domain[n] = 0;
		out->domain_unicode[0] = 0;
		if (idna && mox_dns_name_to_unicode(out->domain, out->domain_unicode,
						    sizeof(out->domain_unicode), &info) != MOX_OK)
			return perr(MOX__SMTP_PATH_IDNA, msg, msg_size,
				    "invalid IDNA domain at %zu", start);
		/* Keep a Unicode form only if it converts back: other labels
		 * may be fine in DNS but not in IDNA (RFC 5891 section
		 * 4.2.3.1, "??--"), and then the name has no Unicode form. */
		char back[MOX_SMTP_DOMAIN_MAX + 1];
		if (idna && (mox_dns_name_to_ascii(out->domain_unicode, back, sizeof(back), &info) !=
				     MOX_OK ||
			     strcmp(back, out->domain) != 0))
			out->domain_unicode[0] = 0;
	} else {
		if (!mox__smtp_utf8_valid((const uint8_t *)in, n))
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
				    "invalid UTF-8 in domain at %zu", start);
		if (mox_dns_name_to_ascii(in, out->domain, sizeof(out->domain), &info) != MOX_OK)
			return perr(MOX__SMTP_PATH_IDNA, msg, msg_size,
				    "invalid internationalized domain at %zu", start);
		/* Check the result as a host name: IDNA lets through some
		 * things SMTP's sub-domain does not. */
		if (mox_dns_name_check(out->domain, strlen(out->domain), MOX_DNS_NAME_HOST,
				       &info) != MOX_OK)
			return perr(MOX__SMTP_PATH_IDNA, msg, msg_size,
				    "invalid internationalized domain at %zu", start);
		if (mox_dns_name_to_unicode(out->domain, out->domain_unicode,
					    sizeof(out->domain_unicode), &info) != MOX_OK)
			return perr(MOX__SMTP_PATH_IDNA, msg, msg_size,
				    "invalid internationalized domain at %zu", start);
		if (strcmp(out->domain_unicode, out->domain) == 0)
			out->domain_unicode[0] = 0;
	}
	*pos = p;
	return MOX__SMTP_PATH_OK;
}

/* address-literal, RFC 5321 section 4.1.3; at '['. */
static mox__smtp_path_err
scan_literal(const char *s, size_t len, size_t *pos, mox_smtp_path *out, char *msg,
	     size_t msg_size)
{
	size_t p = *pos + 1;
	bool v6 = false;
	if (p < len && !is_digit((unsigned char)s[p])) {
		if (len - p >= 5 && (s[p] == 'I' || s[p] == 'i') && (s[p + 1] == 'P' || s[p + 1] == 'p') &&
		    (s[p + 2] == 'V' || s[p + 2] == 'v') && s[p + 3] == '6' && s[p + 4] == ':') {
			v6 = true;
			p += 5;
		} else {
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
				    "unrecognized address literal at %zu", *pos);
		}
	}
	size_t start = p;
	while (p < len && s[p] != ']')
		p++;
	if (p >= len)
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
			    "missing ']' after address literal at %zu", *pos);
	size_t n = p - start;
	char ip[64];
	if (n == 0 || n >= sizeof(ip))
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "bad address literal at %zu",
			    start);
	memcpy(ip, s + start, n);
	ip[n] = 0;
	unsigned char bin[16];
	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, bin) != 1)
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
			    v6 ? "invalid IPv6 address at %zu" : "invalid IPv4 address at %zu",
			    start);
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, bin, out->ip, sizeof(out->ip)) == NULL)
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "bad address literal at %zu",
			    start);
	out->ipv6 = v6;
	out->domain[0] = 0;
	out->domain_unicode[0] = 0;
	*pos = p + 1;
	return MOX__SMTP_PATH_OK;
}

mox__smtp_path_err
mox__smtp_ipdomain_scan(const char *s, size_t len, size_t *pos, bool utf8,
			bool allow_literal, mox_smtp_path *out, char *msg, size_t msg_size)
{
	memset(out, 0, sizeof(*out));
	if (*pos < len && s[*pos] == '[') {
		if (!allow_literal)
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
				    "address literal not allowed at %zu", *pos);
		return scan_literal(s, len, pos, out, msg, msg_size);
	}
	return scan_domain(s, len, pos, utf8, out, msg, msg_size);
}

/* Local-part into out->localpart, decoded. */
static mox__smtp_path_err
scan_localpart(const char *s, size_t len, size_t *pos, bool utf8, mox_smtp_path *out,
	       char *msg, size_t msg_size)
{
	size_t p = *pos, n = 0;
	char *lp = out->localpart;
	bool nonascii = false;
	if (p < len && s[p] == '"') {
		p++;
		for (;;) {
			if (p >= len)
				return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
					    "unterminated quoted string at %zu", *pos);
			unsigned char c = (unsigned char)s[p];
			if (c == '"') {
				p++;
				break;
			}
			if (c == '\\') {
				if (p + 1 >= len || (unsigned char)s[p + 1] < 32 ||
				    (unsigned char)s[p + 1] > 126)
					return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
						    "bad quoted-pair at %zu", p);
				c = (unsigned char)s[p + 1];
				p += 2;
			} else if (c >= 0x80) {
				if (!utf8)
					return perr(MOX__SMTP_PATH_UTF8, msg, msg_size,
						    "non-ASCII local part without SMTPUTF8 at %zu",
						    p);
				nonascii = true;
				p++;
			} else if (c >= 32 && c <= 126) {
				p++;
			} else {
				return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
					    "invalid character in quoted string at %zu", p);
			}
			if (n >= MOX_SMTP_LOCALPART_MAX)
				return perr(MOX__SMTP_PATH_TOOLONG, msg, msg_size,
					    "local part longer than 128 octets at %zu", *pos);
			lp[n++] = (char)c;
		}
	} else {
		bool atom_start = true;
		for (;;) {
			unsigned char c = p < len ? (unsigned char)s[p] : 0;
			if (p < len && c >= 0x80) {
				if (!utf8)
					return perr(MOX__SMTP_PATH_UTF8, msg, msg_size,
						    "non-ASCII local part without SMTPUTF8 at %zu",
						    p);
				nonascii = true;
			} else if (p < len && c == '.' && !atom_start) {
				atom_start = true;
				goto add;
			} else if (p >= len || !is_atext(c)) {
				if (atom_start)
					return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
						    "expected atom in local part at %zu", p);
				break;
			}
			atom_start = false;
add:
			if (n >= MOX_SMTP_LOCALPART_MAX)
				return perr(MOX__SMTP_PATH_TOOLONG, msg, msg_size,
					    "local part longer than 128 octets at %zu", *pos);
			lp[n++] = (char)c;
			p++;
		}
	}
	lp[n] = 0;
	if (nonascii && !mox__smtp_utf8_valid((const uint8_t *)lp, n))
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
			    "invalid UTF-8 in local part at %zu", *pos);
	*pos = p;
	return MOX__SMTP_PATH_OK;
}

static bool
take_ci(const char *s, size_t len, size_t p, const char *lit)
{
	size_t n = strlen(lit);
	if (len - p < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[p + i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

mox__smtp_path_err
mox__smtp_path_scan(const char *s, size_t len, size_t *pos, unsigned flags, bool brackets,
		    mox_smtp_path *out, char *msg, size_t msg_size)
{
	memset(out, 0, sizeof(*out));
	bool utf8 = (flags & MOX_SMTP_PATH_UTF8) != 0;
	size_t p = *pos, start = p;
	mox__smtp_path_err e;
	if (brackets) {
		if (p >= len || s[p] != '<')
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "expected '<' at %zu", p);
		p++;
		if ((flags & MOX_SMTP_PATH_NULL) && p < len && s[p] == '>') {
			out->null = true;
			*pos = p + 1;
			return MOX__SMTP_PATH_OK;
		}
		/* RFC 5321 section 4.1.1.3: "<Postmaster>", case-insensitive. */
		if ((flags & MOX_SMTP_PATH_POSTMASTER) && take_ci(s, len, p, "postmaster>")) {
			out->postmaster = true;
			memcpy(out->localpart, "postmaster", 11);
			*pos = p + 11;
			return MOX__SMTP_PATH_OK;
		}
		/* A-d-l ":" is a source route, ignored. */
		if (p < len && s[p] == '@') {
			for (;;) {
				p++;
				mox_smtp_path tmp;
				if ((e = scan_domain(s, len, &p, utf8, &tmp, msg, msg_size)) !=
				    MOX__SMTP_PATH_OK)
					return e;
				if (p < len && s[p] == ',' && p + 1 < len && s[p + 1] == '@') {
					p++;
					continue;
				}
				break;
			}
			if (p >= len || s[p] != ':')
				return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size,
					    "expected ':' after source route at %zu", p);
			p++;
		}
	}
	if ((e = scan_localpart(s, len, &p, utf8, out, msg, msg_size)) != MOX__SMTP_PATH_OK)
		return e;
	if (p >= len || s[p] != '@')
		return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "expected '@' at %zu", p);
	p++;
	char lp[MOX_SMTP_LOCALPART_MAX + 1];
	memcpy(lp, out->localpart, sizeof(lp));
	if (p < len && s[p] == '[')
		e = scan_literal(s, len, &p, out, msg, msg_size);
	else
		e = scan_domain(s, len, &p, utf8, out, msg, msg_size);
	if (e != MOX__SMTP_PATH_OK)
		return e;
	memcpy(out->localpart, lp, sizeof(lp));
	if (brackets) {
		if (p >= len || s[p] != '>')
			return perr(MOX__SMTP_PATH_SYNTAX, msg, msg_size, "expected '>' at %zu", p);
		p++;
		/* RFC 5321 section 4.5.3.1.3 */
		if (p - start > MOX_SMTP_PATH_MAX)
			return perr(MOX__SMTP_PATH_TOOLONG, msg, msg_size,
				    "path longer than 256 octets at %zu", start);
	}
	*pos = p;
	return MOX__SMTP_PATH_OK;
}

static mox_err
public_parse(const char *s, size_t len, unsigned flags, bool brackets, mox_smtp_path *out,
	     mox_errinfo *info)
{
	if (out == NULL)
		return MOX_EINVAL;
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no input");
	char msg[200] = "";
	size_t pos = 0;
	mox_smtp_path p;
	mox__smtp_path_err e = mox__smtp_path_scan(s, len, &pos, flags, brackets, &p, msg,
						   sizeof(msg));
	if (e == MOX__SMTP_PATH_OK && pos != len) {
		e = MOX__SMTP_PATH_SYNTAX;
		snprintf(msg, sizeof(msg), "trailing data at %zu", pos);
	}
	mox_err err;
	switch (e) {
	case MOX__SMTP_PATH_OK:
		*out = p;
		return MOX_OK;
	case MOX__SMTP_PATH_UTF8:
		err = MOX_EUNSUPPORTED;
		break;
	case MOX__SMTP_PATH_TOOLONG:
		err = MOX_ERANGE;
		break;
	case MOX__SMTP_PATH_IDNA:
		err = MOX_EIDNA;
		break;
	default:
		err = MOX_ESYNTAX;
		break;
	}
	size_t at = 0;
	const char *a = strstr(msg, " at ");
	if (a != NULL)
		for (a += 4; *a >= '0' && *a <= '9'; a++)
			at = at * 10 + (size_t)(*a - '0');
	return mox_errinfo_set(info, err, at, "%s", msg);
}

mox_err
mox_smtp_path_parse(const char *s, size_t len, unsigned flags, mox_smtp_path *path_out,
		    mox_errinfo *info)
{
	return public_parse(s, len, flags, true, path_out, info);
}

mox_err
mox_smtp_address_parse(const char *s, size_t len, unsigned flags, mox_smtp_path *path_out,
		       mox_errinfo *info)
{
	return public_parse(s, len, flags & MOX_SMTP_PATH_UTF8, false, path_out, info);
}

mox_err
mox_smtp_path_format(const mox_smtp_path *path, bool utf8, mox_buf *out)
{
	if (path == NULL || out == NULL)
		return MOX_EINVAL;
	size_t olen = out->len;
	mox_err err;
	if (path->null) {
		err = mox_buf_append_str(out, "<>");
		goto out;
	}
	if (path->postmaster) {
		err = mox_buf_append_str(out, "<postmaster>");
		goto out;
	}
	err = mox_buf_append_byte(out, '<');
	/* RFC 5321 section 4.1.2: Dot-string when it is one, else
	 * Quoted-string (mox smtp.Localpart.String). */
	const char *lp = path->localpart;
	size_t n = strlen(lp);
	bool dot = n > 0 && lp[0] != '.' && lp[n - 1] != '.';
	for (size_t i = 0; dot && i < n; i++) {
		unsigned char c = (unsigned char)lp[i];
		if (c == '.' ? lp[i + 1] == '.' : !(is_atext(c) || c >= 0x80))
			dot = false;
	}
	if (err == MOX_OK && dot) {
		err = mox_buf_append(out, lp, n);
	} else if (err == MOX_OK) {
		err = mox_buf_append_byte(out, '"');
		for (size_t i = 0; err == MOX_OK && i < n; i++) {
			if (lp[i] == '"' || lp[i] == '\\')
				err = mox_buf_append_byte(out, '\\');
			if (err == MOX_OK)
				err = mox_buf_append_byte(out, (uint8_t)lp[i]);
		}
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, '"');
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '@');
	if (err == MOX_OK) {
		if (path->ip[0] != 0)
			err = mox_buf_appendf(out, "[%s%s]", path->ipv6 ? "IPv6:" : "", path->ip);
		else if (utf8 && path->domain_unicode[0] != 0)
			err = mox_buf_append_str(out, path->domain_unicode);
		else
			err = mox_buf_append_str(out, path->domain);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '>');
out:
	if (err != MOX_OK && out->data != NULL) {
		out->len = olen;
		out->data[olen] = 0;
	}
	return err;
}

static bool
eq_ci(const char *a, const char *b)
{
	for (; *a != 0 && *b != 0; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

bool
mox_smtp_path_equal(const mox_smtp_path *a, const mox_smtp_path *b)
{
	if (a == NULL || b == NULL)
		return false;
	if (a->null || b->null)
		return a->null == b->null;
	if (strcmp(a->localpart, b->localpart) != 0)
		return false;
	if (a->ip[0] != 0 || b->ip[0] != 0)
		return strcmp(a->ip, b->ip) == 0;
	return eq_ci(a->domain, b->domain);
}
