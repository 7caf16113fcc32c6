/* Domain names: syntax checks, IDNA2008, comparison, reverse names.
 *
 * Text limits follow RFC 1035 section 2.3.4 (labels of 1-63 octets, 255
 * octets on the wire, so 253 characters of text without the trailing dot).
 * IDNA conversion is libidn2's: RFC 5891 section 5 lookup with NFC input and
 * the UTS #46 non-transitional mapping (case folding), as mox's Go code does
 * through x/net/idna's Lookup profile. ASCII labels pass through unchanged
 * (underscores are fine: _dmarc, _domainkey); "xn--" labels must decode to
 * valid U-labels. */
#include "dns_int.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static bool
is_alabel(const char *label, size_t n)
{
	return n >= 4 && mox__dns_lower(label[0]) == 'x' &&
	       mox__dns_lower(label[1]) == 'n' && label[2] == '-' && label[3] == '-';
}

/* An A-label is valid when it decodes to a U-label that converts back to
 * the same A-label (RFC 5891 section 5.4). */
static bool
alabel_valid(const char *label, size_t n)
{
	char in[MOX_DNS_LABEL_MAX + 1];
	memcpy(in, label, n);
	in[n] = '\0';
	for (size_t i = 0; i < n; i++)
		in[i] = mox__dns_lower(in[i]);
	char *u = NULL, *back = NULL;
	bool ok = false;
	if (idn2_to_unicode_8z8z(in, &u, 0) != IDN2_OK)
		goto out;
	if (idn2_lookup_u8((const uint8_t *)u, (uint8_t **)&back,
			   IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
		goto out;
	ok = strcmp(back, in) == 0;
out:
	idn2_free(u);
	idn2_free(back);
	return ok;
}

mox_err
mox_dns_name_check(const char *name, size_t len, unsigned flags,
		   mox_errinfo *info)
{
	if (name == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no name");
	if (len > 0 && name[len - 1] == '.' && (flags & MOX_DNS_NAME_TRAILING_DOT) &&
	    len > 1)
		len--;
	if (len == 0)
		return mox_errinfo_set(info, MOX_ENAME, 0, "empty name");
	if (name[len - 1] == '.' && len > 1 && name[len - 2] != '.')
		return mox_errinfo_set(info, MOX_ENAME, len - 1,
				       "trailing dot not allowed at %zu", len - 1);
	if (len > MOX_DNS_NAME_MAX)
		return mox_errinfo_set(info, MOX_ENAME, MOX_DNS_NAME_MAX,
				       "name longer than %d characters",
				       MOX_DNS_NAME_MAX);
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? name[i] : '.';
		if (c != '.') {
			unsigned char u = (unsigned char)c;
			if (u <= 0x20 || u >= 0x7f)
				return mox_errinfo_set(
					info, MOX_ENAME, i,
					"invalid character 0x%02x at %zu", u, i);
			if ((flags & MOX_DNS_NAME_HOST) && !is_ldh(c))
				return mox_errinfo_set(
					info, MOX_ENAME, i,
					"invalid character '%c' in host name at %zu", c, i);
			continue;
		}
		size_t n = i - start;
		if (n == 0)
			return mox_errinfo_set(info, MOX_ENAME, i, "empty label at %zu", i);
		if (n > MOX_DNS_LABEL_MAX)
			return mox_errinfo_set(info, MOX_ENAME, start,
					       "label longer than %d octets at %zu",
					       MOX_DNS_LABEL_MAX, start);
		/* RFC 1123 section 2.1, RFC 5891 section 4.2.3.1: no hyphen
		 * at either end of a host name label. */
		if ((flags & MOX_DNS_NAME_HOST) &&
		    (name[start] == '-' || name[i - 1] == '-'))
			return mox_errinfo_set(info, MOX_ENAME, start,
					       "label starts or ends with '-' at %zu",
					       start);
		if (is_alabel(name + start, n) && !alabel_valid(name + start, n))
			return mox_errinfo_set(info, MOX_EIDNA, start,
					       "invalid A-label '%.*s' at %zu", (int)n,
					       name + start, start);
		start = i + 1;
	}
	return MOX_OK;
}

static mox_err
idn2_error(mox_errinfo *info, int rc, const char *name)
{
	return mox_errinfo_set(info, rc == IDN2_TOO_BIG_DOMAIN ||
					     rc == IDN2_TOO_BIG_LABEL
				     ? MOX_ENAME
				     : MOX_EIDNA,
			       0, "%s: %s", idn2_strerror(rc), name);
}

mox_err
mox_dns_name_to_ascii(const char *name, char *out, size_t out_size,
		      mox_errinfo *info)
{
	if (name == NULL || out == NULL)
		return MOX_EINVAL;
	size_t len = strlen(name);
	if (len > 4 * (MOX_DNS_NAME_MAX + 1))
		return mox_errinfo_set(info, MOX_ENAME, 0, "name too long");
	/* A trailing dot means the same name; libidn2 would keep it. */
	char in[4 * (MOX_DNS_NAME_MAX + 1) + 1];
	memcpy(in, name, len + 1);
	if (len > 1 && in[len - 1] == '.')
		in[--len] = '\0';
	if (len == 0)
		return mox_errinfo_set(info, MOX_ENAME, 0, "empty name");
	char *a = NULL;
	int rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&a,
				IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return idn2_error(info, rc, "");
	mox_err err = mox_dns_name_check(a, strlen(a), 0, info);
	if (err == MOX_OK) {
		err = mox__dns_name_normalize(a, out, out_size);
		if (err != MOX_OK)
			mox_errinfo_set(info, err, 0, "output buffer too small");
	}
	idn2_free(a);
	return err;
}

mox_err
mox_dns_name_to_unicode(const char *name, char *out, size_t out_size,
			mox_errinfo *info)
{
	if (name == NULL || out == NULL)
		return MOX_EINVAL;
	mox_err err = mox_dns_name_check(name, strlen(name),
					 MOX_DNS_NAME_TRAILING_DOT, info);
	if (err != MOX_OK)
		return err;
	char norm[MOX_DNS_NAME_MAX + 1];
	if (mox__dns_name_normalize(name, norm, sizeof(norm)) != MOX_OK)
		return mox_errinfo_set(info, MOX_ENAME, 0, "name too long");
	char *u = NULL;
	int rc = idn2_to_unicode_8z8z(norm, &u, 0);
	if (rc != IDN2_OK)
		return idn2_error(info, rc, norm);
	size_t n = strlen(u);
	if (n + 1 > out_size)
		err = mox_errinfo_set(info, MOX_ERANGE, 0, "output buffer too small");
	else
		memcpy(out, u, n + 1);
	idn2_free(u);
	return err;
}

/* Length without one trailing dot. */
static size_t
name_len(const char *s)
{
	size_t n = strlen(s);
	return n > 1 && s[n - 1] == '.' ? n - 1 : n;
}

static bool
equal_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mox__dns_lower(a[i]) != mox__dns_lower(b[i]))
			return false;
	return true;
}

bool
mox_dns_name_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	size_t na = name_len(a), nb = name_len(b);
	return na == nb && equal_n(a, b, na);
}

bool
mox_dns_name_is_subdomain(const char *name, const char *parent)
{
	if (name == NULL || parent == NULL)
		return false;
	size_t n = name_len(name), p = name_len(parent);
	if (n == p)
		return equal_n(name, parent, n);
	return n > p && name[n - p - 1] == '.' && equal_n(name + n - p, parent, p);
}

mox_err
mox_dns_reverse_name(const char *ip, char *out, size_t out_size)
{
	if (ip == NULL || out == NULL)
		return MOX_EINVAL;
	uint8_t b[16];
	int n;
	if (inet_pton(AF_INET, ip, b) == 1) {
		n = snprintf(out, out_size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2],
			     b[1], b[0]);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		/* RFC 3596 section 2.5: nibbles, least significant first. */
		static const char hex[] = "0123456789abcdef";
		char tmp[MOX_DNS_REVERSE_MAX];
		size_t o = 0;
		for (int i = 15; i >= 0; i--) {
			tmp[o++] = hex[b[i] & 0xf];
			tmp[o++] = '.';
			tmp[o++] = hex[b[i] >> 4];
			tmp[o++] = '.';
		}
		memcpy(tmp + o, "ip6.arpa", sizeof("ip6.arpa"));
		n = snprintf(out, out_size, "%s", tmp);
	} else {
		return MOX_EINVAL;
	}
	if (n < 0 || (size_t)n >= out_size)
		return MOX_ERANGE;
	return MOX_OK;
}
