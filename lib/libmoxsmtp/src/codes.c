/* Reply codes and enhanced status codes, from the tables in mox/smtp.h
 * (RFC 5321 section 4.2, RFC 3463 section 3 and the IANA registry built by
 * RFC 5248), and writing replies (RFC 5321 section 4.2.1, RFC 2034
 * section 4). */
#include "smtp_int.h"

#include <stdio.h>
#include <string.h>

unsigned
mox_smtp_version(void)
{
	return MOX_SMTP_VERSION_HEX;
}

const char *
mox_smtp_code_text(int code)
{
	switch (code) {
#define MOX__CODE_CASE(c, text)                                                \
	case c:                                                                \
		return text;
		MOX_SMTP_CODE_MAP(MOX__CODE_CASE)
#undef MOX__CODE_CASE
	}
	return NULL;
}

const char *
mox_smtp_se_text(int se)
{
	switch (se) {
#define MOX__SE_CASE(name, subject, detail, text)                              \
	case (subject) * 1000 + (detail):                                      \
		return text;
		MOX_SMTP_SE_MAP(MOX__SE_CASE)
#undef MOX__SE_CASE
	}
	return NULL;
}

void
mox__smtp_se_string(int code, int se, char out[16])
{
	out[0] = 0;
	if (se < 0 || code < 200 || code > 599)
		return;
	snprintf(out, 16, "%d.%d.%d", code / 100, se / 1000, se % 1000);
}

mox_err
mox_smtp_se_format(int code, int se, char out[16])
{
	if (out == NULL)
		return MOX_EINVAL;
	out[0] = 0;
	int cls = code / 100;
	/* RFC 3463 section 3.1: class is 2, 4 or 5; subject and detail up
	 * to three digits. */
	if ((cls != 2 && cls != 4 && cls != 5) || se < 0 || se >= 1000 * 1000)
		return MOX_EINVAL;
	mox__smtp_se_string(code, se, out);
	return MOX_OK;
}

/* Write one physical line "code[-| ]esc text". */
static mox_err
line(mox_buf *out, int code, bool more, const char *esc, const char *t, size_t n)
{
	mox_err err = mox_buf_appendf(out, "%03d%c%s%s", code, more ? '-' : ' ', esc,
				      esc[0] != 0 && n > 0 ? " " : "");
	if (err == MOX_OK)
		err = mox_buf_append(out, t, n);
	if (err == MOX_OK)
		err = mox_buf_append(out, "\r\n", 2);
	return err;
}

mox_err
mox_smtp_reply_write(mox_buf *out, int code, int se, const char *text)
{
	if (out == NULL || code < 200 || code > 599)
		return MOX_EINVAL;
	if (text == NULL)
		text = "";
	char esc[16];
	mox__smtp_se_string(code, se, esc);
	size_t olen = out->len;
	/* Prefix "250-2.0.0 " and CRLF; text lines wrapped to fit
	 * MOX_SMTP_REPLY_LINE_MAX (RFC 5321 section 4.5.3.1.5). */
	size_t room = MOX_SMTP_REPLY_LINE_MAX - 2 - 4 - (esc[0] ? strlen(esc) + 1 : 0);
	for (const char *q = text; *q != 0; q++)
		if (*q == '\r')
			return MOX_EINVAL;
	mox_err err = MOX_OK;
	const char *p = text;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		while (err == MOX_OK && n > room) {
			size_t e = room;
			while (e > room - 100 && p[e] != ' ')
				e--;
			if (p[e] != ' ')
				e = room;
			err = line(out, code, true, esc, p, e);
			p += e;
			n -= e;
		}
		if (err != MOX_OK)
			break;
		err = line(out, code, nl != NULL, esc, p, n);
		if (err != MOX_OK || nl == NULL)
			break;
		p = nl + 1;
	}
	if (err != MOX_OK && out->data != NULL) {
		out->len = olen;
		out->data[olen] = 0;
	}
	return err;
}
