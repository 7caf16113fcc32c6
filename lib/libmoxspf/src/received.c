/* Recording results: the Received-SPF header field (RFC 7208 section 9.1)
 * and the spf resinfo of Authentication-Results (RFC 8601 section 2.7.2).
 *
 *   header-field     = "Received-SPF:" [CFWS] result FWS [comment FWS]
 *                      [ key-value-list ] CRLF
 *   key-value-list   = key-value-pair *( ";" [CFWS] key-value-pair ) [";"]
 *   key-value-pair   = key [CFWS] "=" ( dot-atom / quoted-string )
 *
 * The header is built unfolded, then folded at spaces so no line is
 * longer than 78 characters where that is possible (RFC 5322 section
 * 2.1.1); folding only inserts CRLF before a space, so unfolding gives the
 * text back exactly. */
#include "spf_int.h"

#include <string.h>

/* atext of RFC 5322 section 3.2.3. */
static bool
is_atext(unsigned char c)
{
	return mox__spf_alpha((char)c) || mox__spf_digit((char)c) || c >= 0x80 ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A value as dot-atom when it is one, else as quoted-string. */
static mox_err
value(mox_buf *b, const char *s)
{
	size_t n = strlen(s);
	bool atom = n > 0 && s[0] != '.' && s[n - 1] != '.';
	for (size_t i = 0; atom && i < n; i++)
		if (!is_atext((unsigned char)s[i]) && !(s[i] == '.' && s[i + 1] != '.'))
			atom = false;
	if (atom)
		return mox_buf_append(b, s, n);
	mox_err err = mox_buf_append_byte(b, '"');
	for (size_t i = 0; err == MOX_OK && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			err = mox_buf_append_byte(b, '\\');
		/* Control characters cannot be in a header; drop them. */
		if (err == MOX_OK && (c >= 0x20 || c == '\t') && c != 0x7f)
			err = mox_buf_append_byte(b, c);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(b, '"');
	return err;
}

/* Comment text: ( ) \ become quoted-pairs, controls are dropped. */
static mox_err
ctext(mox_buf *b, const char *s)
{
	mox_err err = MOX_OK;
	for (; err == MOX_OK && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '(' || c == ')' || c == '\\')
			err = mox_buf_append_byte(b, '\\');
		if (err == MOX_OK && c >= 0x20 && c != 0x7f)
			err = mox_buf_append_byte(b, c);
	}
	return err;
}

/* The comment of RFC 7208 section 9.1's examples for each result. */
static mox_err
comment(mox_buf *b, const mox_spf_outcome *o)
{
	const char *r = o->receiver != NULL ? o->receiver : "unknown";
	const char *s = o->sender != NULL && o->sender[0] != '\0' ? o->sender : "(none)";
	const char *ip = o->client_ip != NULL ? o->client_ip : "";
	mox_buf t = MOX_BUF_INIT;
	mox_buf_init(&t, b->alloc);
	mox_err err;
	switch (o->result) {
	case MOX_SPF_PASS:
		err = mox_buf_appendf(&t, "%s: domain of %s designates %s as permitted sender",
				      r, s, ip);
		break;
	case MOX_SPF_FAIL:
		err = mox_buf_appendf(&t, "%s: domain of %s does not designate %s as permitted sender",
				      r, s, ip);
		break;
	case MOX_SPF_SOFTFAIL:
		err = mox_buf_appendf(&t, "%s: domain of transitioning %s does not designate %s as permitted sender",
				      r, s, ip);
		break;
	case MOX_SPF_NEUTRAL:
		err = mox_buf_appendf(&t, "%s: %s is neither permitted nor denied by domain of %s",
				      r, ip, s);
		break;
	case MOX_SPF_TEMPERROR:
		err = mox_buf_appendf(&t, "%s: error in processing during lookup of %s", r, s);
		break;
	case MOX_SPF_PERMERROR:
		err = mox_buf_appendf(&t, "%s: permanent error in processing domain of %s", r, s);
		break;
	default:
		err = mox_buf_appendf(&t, "%s: domain of %s does not designate permitted sender hosts",
				      r, s);
		break;
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(b, '(');
	if (err == MOX_OK)
		err = ctext(b, (const char *)t.data);
	if (err == MOX_OK)
		err = mox_buf_append_byte(b, ')');
	mox_buf_free(&t);
	return err;
}

static mox_err
kv(mox_buf *b, const char *key, const char *val, bool last)
{
	mox_err err = mox_buf_appendf(b, " %s=", key);
	if (err == MOX_OK)
		err = value(b, val);
	if (err == MOX_OK && !last)
		err = mox_buf_append_byte(b, ';');
	return err;
}

/* Fold line at spaces to lines of at most 78 characters where possible. */
static mox_err
fold(mox_buf *out, const char *s, size_t n)
{
	enum { LINE_MAX_CHARS = 78 };
	size_t col = 0, i = 0;
	mox_err err = MOX_OK;
	while (i < n && err == MOX_OK) {
		/* The next word, with the space before it. */
		size_t j = i + 1;
		while (j < n && s[j] != ' ')
			j++;
		size_t wl = j - i;
		if (col > 0 && s[i] == ' ' && col + wl > LINE_MAX_CHARS) {
			err = mox_buf_append(out, "\r\n", 2);
			col = 0;
		}
		if (err == MOX_OK)
			err = mox_buf_append(out, s + i, wl);
		col += wl;
		i = j;
	}
	if (err == MOX_OK)
		err = mox_buf_append(out, "\r\n", 2);
	return err;
}

mox_err
mox_spf_received_header(const mox_spf_outcome *o, mox_buf *out)
{
	if (o == NULL || out == NULL)
		return MOX_EINVAL;
	mox_buf b = MOX_BUF_INIT;
	mox_buf_init(&b, out->alloc);
	mox_err err = mox_buf_appendf(&b, "Received-SPF: %s ", mox_spf_result_name(o->result));
	if (err == MOX_OK)
		err = comment(&b, o);
	if (err == MOX_OK)
		err = kv(&b, "client-ip", o->client_ip != NULL ? o->client_ip : "", false);
	/* RFC 7208 section 9.1: envelope-from is the sender identity that
	 * was checked (postmaster@helo for the HELO identity). */
	if (err == MOX_OK)
		err = kv(&b, "envelope-from", o->sender != NULL ? o->sender : "", false);
	if (err == MOX_OK)
		err = kv(&b, "helo", o->helo != NULL ? o->helo : "", false);
	if (err == MOX_OK && o->problem != NULL) {
		/* Keep the header readable: at most one line of problem. */
		char p[68];
		size_t n = strlen(o->problem);
		if (n >= sizeof(p))
			n = sizeof(p) - 1;
		memcpy(p, o->problem, n);
		p[n] = '\0';
		err = kv(&b, "problem", p, false);
	}
	if (err == MOX_OK && o->mechanism != NULL)
		err = kv(&b, "mechanism", o->mechanism, false);
	if (err == MOX_OK)
		err = kv(&b, "receiver", o->receiver != NULL ? o->receiver : "unknown", false);
	if (err == MOX_OK)
		err = kv(&b, "identity",
			 o->identity == MOX_SPF_IDENTITY_HELO ? "helo" : "mailfrom", true);
	if (err == MOX_OK)
		err = fold(out, (const char *)b.data, b.len);
	mox_buf_free(&b);
	return err;
}

mox_err
mox_spf_authres(const mox_spf_outcome *o, mox_buf *out)
{
	if (o == NULL || out == NULL)
		return MOX_EINVAL;
	bool helo = o->identity == MOX_SPF_IDENTITY_HELO;
	/* RFC 8601 section 2.7.2: smtp.mailfrom is the domain (or address)
	 * checked, smtp.helo the HELO argument. */
	const char *v = helo ? o->helo : (o->domain != NULL && o->domain[0] != '\0'
						  ? o->domain
						  : o->sender);
	size_t oldlen = out->len;
	mox_err err = mox_buf_appendf(out, "spf=%s smtp.%s=", mox_spf_result_name(o->result),
				      helo ? "helo" : "mailfrom");
	if (err == MOX_OK)
		err = value(out, v != NULL ? v : "");
	if (err != MOX_OK && out->len > oldlen) {
		out->len = oldlen;
		out->data[oldlen] = '\0';
	}
	return err;
}
