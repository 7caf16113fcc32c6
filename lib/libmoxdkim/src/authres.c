/* The dkim= part of an Authentication-Results header field, RFC 8601
 * section 2.7.1:
 *
 *   resinfo    = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *   methodspec = [CFWS] method [CFWS] "=" [CFWS] result
 *   reasonspec = "reason" [CFWS] "=" [CFWS] value
 *   propspec   = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
 *
 * with header.d, header.i, header.s, header.a (RFC 8601 section 2.7.1)
 * and header.b, the first 12 characters of the signature (RFC 6008
 * section 4: at least 8, unique among the signatures), as mox writes it.
 * A comment gives the RSA key size. Values that are not tokens (RFC 2045
 * section 5.1) are quoted. */
#include "dkim_int.h"

#include <string.h>

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		uint8_t c = (uint8_t)*s;
		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
			return false;
	}
	return true;
}

/* value = token / quoted-string; a domain or "@domain" may stand bare
 * (pvalue). */
static mox_err
value(mox_buf *out, const char *s, bool bare_ok)
{
	if (bare_ok || is_token(s))
		return mox_buf_append_str(out, s);
	mox_err err = mox_buf_append_byte(out, '"');
	for (; err == MOX_OK && *s != '\0'; s++) {
		uint8_t c = (uint8_t)*s;
		if (c == '"' || c == '\\')
			err = mox_buf_append_byte(out, '\\');
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, c < ' ' || c == 0x7f ? '?' : c);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '"');
	return err;
}

mox_err
mox_dkim_result_authres(const mox_dkim_result *r, mox_buf *out)
{
	if (r == NULL || out == NULL)
		return MOX_EINVAL;
	size_t start = out->len;
	mox_err err = mox_buf_appendf(out, "dkim=%s", mox_dkim_status_name(r->status));
	if (err == MOX_OK && r->record != NULL && r->record->rsa_bits > 0)
		err = mox_buf_appendf(out, " (%u bit rsa)", r->record->rsa_bits);
	if (err == MOX_OK && r->status != MOX_DKIM_PASS && r->why != NULL && r->why[0] != '\0') {
		err = mox_buf_append_str(out, " reason=");
		if (err == MOX_OK)
			err = value(out, r->why, false);
	}
	const mox_dkim_sig *s = r->sig;
	if (err == MOX_OK && s != NULL) {
		err = mox_buf_append_str(out, " header.d=");
		if (err == MOX_OK)
			err = value(out, s->domain, true);
		if (err == MOX_OK && s->identity != NULL) {
			err = mox_buf_append_str(out, " header.i=");
			if (err == MOX_OK)
				err = value(out, s->identity, is_token(s->identity) ||
								 s->identity[0] == '@');
		}
		if (err == MOX_OK)
			err = mox_buf_append_str(out, " header.s=");
		if (err == MOX_OK)
			err = value(out, s->selector, true);
		if (err == MOX_OK)
			err = mox_buf_append_str(out, " header.a=");
		if (err == MOX_OK)
			err = value(out, s->algorithm, false);
		if (err == MOX_OK && s->signature_len > 0) {
			mox_buf b = MOX_BUF_INIT;
			b.alloc = out->alloc;
			err = mox_base64_encode(&b, s->signature, s->signature_len);
			if (err == MOX_OK) {
				if (b.len > 12) {
					b.len = 12;
					b.data[12] = 0;
				}
				err = mox_buf_append_str(out, " header.b=");
				if (err == MOX_OK)
					err = value(out, (const char *)b.data, false);
			}
			mox_buf_free(&b);
		}
	}
	if (err != MOX_OK && out->data != NULL) {
		out->len = start;
		out->data[start] = 0;
	}
	return err;
}

mox_err
mox_dkim_verifier_authres(const mox_dkim_verifier *v, mox_buf *out)
{
	if (v == NULL || out == NULL)
		return MOX_EINVAL;
	size_t n = mox_dkim_verifier_count(v);
	if (n == 0)
		return mox_buf_append_str(out, "dkim=none");
	size_t start = out->len;
	mox_err err = MOX_OK;
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		if (i > 0)
			err = mox_buf_append_str(out, ";\r\n\t");
		if (err == MOX_OK)
			err = mox_dkim_result_authres(mox_dkim_verifier_result(v, i), out);
	}
	if (err != MOX_OK && out->data != NULL) {
		out->len = start;
		out->data[start] = 0;
	}
	return err;
}
