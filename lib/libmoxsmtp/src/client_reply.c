/* Parsing server replies (RFC 5321 section 4.2), for the client core.
 *
 *   Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
 *                    Reply-code [ SP textstring ] CRLF
 *   Reply-code     = %x32-35 %x30-35 %x30-39
 *   textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
 *
 * (RFC 5321 section 4.2.) We are lenient where mox is: a bare LF ends a
 * line too, and text may hold any byte but NUL (UTF-8 with SMTPUTF8). Each
 * line may start with an enhanced status code (RFC 2034 section 4,
 * RFC 3463 section 2: class "." subject "." detail), which we take from the
 * first line and strip from all. */
#include "client_int.h"

#include <string.h>

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Length of an enhanced status code "c.sss.ddd" at the start of s (followed
 * by a space or the end) whose class is cls; 0 if there is none. */
static size_t
ecode_len(const uint8_t *s, size_t n, int cls)
{
	/* RFC 3463 section 2: class = "2"/"4"/"5"; subject = 1*3digit;
	 * detail = 1*3digit. */
	if (n < 5 || s[0] != (uint8_t)('0' + cls) || s[1] != '.')
		return 0;
	size_t i = 2, d = 0;
	while (i < n && is_digit(s[i]) && d < 3) {
		i++;
		d++;
	}
	if (d == 0 || i >= n || s[i] != '.')
		return 0;
	i++;
	d = 0;
	while (i < n && is_digit(s[i]) && d < 3) {
		i++;
		d++;
	}
	if (d == 0 || (i < n && s[i] != ' '))
		return 0;
	return i;
}

mox_err
mox_smtp_reply_parse(const uint8_t *data, size_t len, size_t line_max, size_t lines_max,
                     mox_smtp_reply *reply_out, mox_buf *text, mox_errinfo *info)
{
	if (reply_out == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	memset(reply_out, 0, sizeof(*reply_out));
	if (line_max < 5)
		line_max = 5;
	size_t tlen0 = text != NULL ? text->len : 0;
	mox_err err = MOX_OK;
	size_t pos = 0;
	int code = 0;
	size_t nlines = 0;
	for (;;) {
		/* Find the end of this line within line_max bytes. */
		size_t avail = len - pos;
		size_t lim = avail < line_max ? avail : line_max;
		const uint8_t *nl = memchr(data + pos, '\n', lim);
		if (nl == NULL) {
			if (avail >= line_max)
				err = mox_errinfo_set(
				    info, MOX_ELIMIT, pos,
				    "reply line longer than %zu bytes", line_max);
			else
				err = MOX_EAGAIN;
			goto out;
		}
		size_t end = (size_t)(nl - data); /* at LF */
		size_t next = end + 1;
		if (end > pos && data[end - 1] == '\r')
			end--;
		const uint8_t *l = data + pos;
		size_t n = end - pos;
		/* RFC 5321 section 4.2: first digit 2-5, second 0-5. */
		if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
		    !is_digit(l[2])) {
			err = mox_errinfo_set(
			    info, MOX_ESYNTAX, pos,
			    "reply line does not start with a reply code");
			goto out;
		}
		int lc = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (nlines > 0 && lc != code) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, pos,
			                      "reply code %d in a reply with code %d",
			                      lc, code);
			goto out;
		}
		code = lc;
		bool last;
		if (n == 3)
			last = true;
		else if (l[3] == ' ')
			last = true;
		else if (l[3] == '-')
			last = false;
		else {
			err = mox_errinfo_set(info, MOX_ESYNTAX, pos + 3,
			                      "no space or dash after reply code");
			goto out;
		}
		if (memchr(l, 0, n) != NULL) {
			err = mox_errinfo_set(info, MOX_ESYNTAX, pos,
			                      "NUL byte in reply");
			goto out;
		}
		if (++nlines > lines_max && lines_max > 0) {
			err =
			    mox_errinfo_set(info, MOX_ELIMIT, pos,
			                    "reply has more than %zu lines", lines_max);
			goto out;
		}
		const uint8_t *t = n > 4 ? l + 4 : l + n;
		size_t tn = n > 4 ? n - 4 : 0;
		size_t el = ecode_len(t, tn, code / 100);
		if (el > 0) {
			if (nlines == 1 && el < sizeof(reply_out->ecode)) {
				memcpy(reply_out->ecode, t, el);
				reply_out->ecode[el] = 0;
			}
			t += el;
			tn -= el;
			if (tn > 0 && t[0] == ' ') {
				t++;
				tn--;
			}
		}
		if (text != NULL) {
			if (nlines > 1)
				err = mox_buf_append_byte(text, '\n');
			if (err == MOX_OK)
				err = mox_buf_append(text, t, tn);
			if (err != MOX_OK)
				goto out;
		}
		pos = next;
		if (last)
			break;
	}
	reply_out->code = code;
	reply_out->nlines = nlines;
	reply_out->len = pos;
out:
	if (err != MOX_OK) {
		if (text != NULL && text->data != NULL) {
			text->len = tlen0;
			text->data[tlen0] = 0;
		}
		memset(reply_out, 0, sizeof(*reply_out));
	}
	return err;
}
