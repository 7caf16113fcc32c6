/* Writing header fields, addresses and simple MIME messages.
 *
 * Folding (RFC 5322 section 2.2.3 and 2.1.1): a value is cut into words
 * at white space. Each word goes on the current line when the line stays
 * within MOX_MSG_LINE_SOFT (78) octets; otherwise a CRLF goes before the
 * white space in front of it, which starts the next line. A word too long
 * for 78 even on a line of its own stays on the current line unless that
 * would pass MOX_MSG_LINE_MAX (998). A fold keeps the white space run,
 * unless the run is too long for any line: then it becomes one WSP
 * (mox_msg_decode_text reads a fold as one space anyway), so no line is
 * only white space.
 *
 * RFC 2047 (section 5(1) for unstructured text, 5(3) for display names):
 * a run of words that need encoding (non-ASCII without SMTPUTF8, control
 * characters, or a word longer than 997 octets that could not fit on any
 * line) is written as encoded words, white space inside the run encoded
 * with it, since readers drop white space between adjacent encoded words
 * (section 6.2). Each encoded word holds whole UTF-8 characters (section
 * 5) and is at most 75 characters (section 2), sized to fit the line it
 * starts on; Q or B, whichever is shorter for the run. Q uses only the
 * characters section 5(3) allows in phrases, so the same words serve in
 * display names.
 *
 * Messages: parts are encoded when added (text: 7bit, or quoted-printable
 * for 8-bit data, NUL, bare CR or lines over 78; message/ and multipart/
 * as they are; the rest base64, RFC 2045 section 6), and the boundary is
 * derived from a hash of the content and checked against every encoded
 * part, so it cannot appear in them (RFC 2046 section 5.1.1). The "=_"
 * it starts with cannot occur in base64 or quoted-printable output. */
#include "msg_int.h"

#include <string.h>

/* RFC 2047 section 2: an encoded word is at most 75 characters. */
#define EW_MAX 75
/* "=?utf-8?q?" and "?=" */
#define EW_OVERHEAD 12
/* RFC 2045 section 6.7 (5): encoded lines at most 76 characters. */
#define QP_LINE_MAX 76
/* RFC 2045 section 6.8: base64 lines at most 76 characters. */
#define B64_LINE 76
/* RFC 5321 section 4.5.3.1: an addr-spec fits a line with room to spare. */
#define ADDR_SPEC_MAX 900

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool
is_ctl(uint8_t c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* RFC 5322 section 3.2.3 atext; with utf8, RFC 6532 UTF8-non-ascii. */
static bool
is_atext(uint8_t c, bool utf8)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c >= 0x80)
		return utf8;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the UTF-8 sequence starting with c (input is validated). */
static size_t
utf8_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

/* RFC 2047 section 5(3): characters a Q word may hold as they are. */
static bool
q_plain(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
	       c == '-' || c == '/' || c == ' ';
}

static size_t
q_cost(uint8_t c)
{
	return q_plain(c) ? 1 : 3;
}

static const char hexdig[] = "0123456789ABCDEF";

/* Append one encoded word for s[0, n). */
static mox_err
put_ew(mox_buf *out, const uint8_t *s, size_t n, bool b64)
{
	mox_err err = mox_buf_append_str(out, b64 ? "=?utf-8?b?" : "=?utf-8?q?");
	if (err != MOX_OK)
		return err;
	if (b64) {
		err = mox_base64_encode(out, s, n);
	} else {
		for (size_t i = 0; i < n && err == MOX_OK; i++) {
			uint8_t c = s[i];
			if (c == ' ')
				err = mox_buf_append_byte(out, '_');
			else if (q_plain(c))
				err = mox_buf_append_byte(out, c);
			else
				err = mox_buf_appendf(out, "=%c%c", hexdig[c >> 4],
						      hexdig[c & 15]);
		}
	}
	if (err == MOX_OK)
		err = mox_buf_append_str(out, "?=");
	return err;
}

/* Whether B is clearly shorter than Q for s[0, n); near a tie Q wins,
 * as it stays readable. */
static bool
prefer_b64(const uint8_t *s, size_t n)
{
	size_t q = 0, b = (n + 2) / 3 * 4;
	for (size_t i = 0; i < n; i++)
		q += q_cost(s[i]);
	return b + b / 4 < q;
}

/* How many bytes of s[0, n), whole characters, fit in an encoded word
 * whose encoded text may be room characters long. 0 if not even one. */
static size_t
ew_take(const uint8_t *s, size_t n, bool b64, size_t room)
{
	size_t i = 0, cost = 0;
	while (i < n) {
		size_t k = utf8_len(s[i]);
		if (k > n - i)
			k = n - i;
		size_t next;
		if (b64) {
			next = (i + k + 2) / 3 * 4;
		} else {
			next = cost;
			for (size_t j = 0; j < k; j++)
				next += q_cost(s[i + j]);
		}
		if (next > room)
			break;
		cost = next;
		i += k;
	}
	return i;
}

/* The current line of a header field being written. */
typedef struct fold {
	mox_buf *out;
	size_t line; /* octets on the current line */
} fold;

/* Write white space ws (wslen >= 1) and then a word of wordlen octets,
 * folding before the white space when the line would grow too long.
 * Returns whether it folded; the word itself is appended by the caller. */
static mox_err
put_space(fold *f, const uint8_t *ws, size_t wslen, size_t wordlen)
{
	size_t total = f->line + wslen + wordlen;
	bool soft = total > MOX_MSG_LINE_SOFT && 1 + wordlen <= MOX_MSG_LINE_SOFT;
	mox_err err;
	if (!soft && total <= MOX_MSG_LINE_MAX) {
		f->line += wslen;
		return mox_buf_append(f->out, ws, wslen);
	}
	if ((err = mox_buf_append_str(f->out, "\r\n")) != MOX_OK)
		return err;
	/* Folding inserts a CRLF and removes nothing (a quoted string keeps
	 * its spaces); only a run too long for any line becomes one WSP. */
	if (wslen + wordlen > MOX_MSG_LINE_MAX)
		wslen = 1;
	f->line = wslen;
	return mox_buf_append(f->out, ws, wslen);
}

/* Write text[0, n) as encoded words, after white space ws. */
static mox_err
put_encoded(fold *f, const uint8_t *ws, size_t wslen, const uint8_t *text,
	    size_t n)
{
	static const uint8_t sp = ' ';
	bool b64 = prefer_b64(text, n);
	mox_err err;
	size_t i = 0;
	while (i < n) {
		/* Room for this word on the current line after the space. */
		size_t used = f->line + wslen;
		size_t room = used < MOX_MSG_LINE_SOFT ? MOX_MSG_LINE_SOFT - used : 0;
		if (room > EW_MAX)
			room = EW_MAX;
		size_t take = room > EW_OVERHEAD
				      ? ew_take(text + i, n - i, b64, room - EW_OVERHEAD)
				      : 0;
		if (take == 0) {
			/* Fold before the white space, which stays unless it
			 * leaves too little room on the new line. */
			if ((err = mox_buf_append_str(f->out, "\r\n")) != MOX_OK)
				return err;
			f->line = 0;
			if (wslen > MOX_MSG_LINE_SOFT - 2 * EW_OVERHEAD) {
				ws = &sp;
				wslen = 1;
			}
			room = MOX_MSG_LINE_SOFT - wslen;
			if (room > EW_MAX)
				room = EW_MAX;
			take = ew_take(text + i, n - i, b64, room - EW_OVERHEAD);
		}
		if ((err = mox_buf_append(f->out, ws, wslen)) != MOX_OK)
			return err;
		size_t before = f->out->len;
		if ((err = put_ew(f->out, text + i, take, b64)) != MOX_OK)
			return err;
		f->line += wslen + (f->out->len - before);
		i += take;
		ws = &sp;
		wslen = 1;
	}
	return MOX_OK;
}

/* Whether a word must be encoded. */
static bool
word_needs_ew(const uint8_t *w, size_t n, bool smtputf8)
{
	if (n > MOX_MSG_LINE_MAX - 1)
		return true;
	for (size_t i = 0; i < n; i++)
		if (is_ctl(w[i]) || (w[i] >= 0x80 && !smtputf8))
			return true;
	return false;
}

static bool
valid_field_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MOX_MSG_LINE_MAX - 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)name[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/* The value part of write_field, after "Name:". */
static mox_err
put_value(fold *f, const uint8_t *v, size_t n, bool smtputf8)
{
	static const uint8_t sp = ' ';
	const uint8_t *ws = &sp;
	size_t wslen = 1, i = 0;
	mox_err err;
	while (i < n && is_wsp(v[i]))
		i++;
	while (i < n) {
		size_t j = i;
		while (j < n && !is_wsp(v[j]))
			j++;
		if (word_needs_ew(v + i, j - i, smtputf8)) {
			/* Take following words that need encoding too, with the
			 * white space between them. */
			size_t end = j, k = j;
			for (;;) {
				while (k < n && is_wsp(v[k]))
					k++;
				if (k == n)
					break;
				size_t e = k;
				while (e < n && !is_wsp(v[e]))
					e++;
				if (!word_needs_ew(v + k, e - k, smtputf8))
					break;
				end = k = e;
			}
			if ((err = put_encoded(f, ws, wslen, v + i, end - i)) != MOX_OK)
				return err;
			j = end;
		} else {
			if ((err = put_space(f, ws, wslen, j - i)) != MOX_OK ||
			    (err = mox_buf_append(f->out, v + i, j - i)) != MOX_OK)
				return err;
			f->line += j - i;
		}
		i = j;
		while (j < n && is_wsp(v[j]))
			j++;
		ws = v + i;
		wslen = j - i;
		i = j;
	}
	return MOX_OK;
}

mox_err
mox_msg_write_field(mox_buf *out, const char *name, const char *value,
		    bool smtputf8)
{
	if (out == NULL || name == NULL || value == NULL || !valid_field_name(name))
		return MOX_EINVAL;
	const uint8_t *v = (const uint8_t *)value;
	size_t n = strlen(value);
	if (!mox__msg_utf8_valid(v, n))
		return MOX_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n')
			return MOX_EINVAL;
	size_t start = out->len;
	fold f = {out, strlen(name) + 1};
	mox_err err = mox_buf_append_str(out, name);
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ':');
	if (err == MOX_OK)
		err = put_value(&f, v, n, smtputf8);
	if (err == MOX_OK)
		err = mox_buf_append_str(out, "\r\n");
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}

/* ---- addresses ---- */

/* RFC 5322 section 3.2.3: dot-atom-text = 1*atext *("." 1*atext). */
static bool
is_dot_atom(const char *s, bool utf8)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == '.' ? s[i + 1] == '.' : !is_atext(c, utf8))
			return false;
	}
	return true;
}

/* A display name that can be written as atoms: atext words separated by
 * single spaces. */
static bool
is_atom_phrase(const char *s, bool utf8)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == ' ' ? s[i + 1] == ' ' : !is_atext(c, utf8))
			return false;
	}
	return true;
}

/* quoted-string = DQUOTE *([FWS] qcontent) [FWS] DQUOTE, quoted-pair for
 * '"' and '\'. */
static mox_err
put_quoted(mox_buf *out, const char *s)
{
	mox_err err = mox_buf_append_byte(out, '"');
	for (; *s != '\0' && err == MOX_OK; s++) {
		if (*s == '"' || *s == '\\')
			err = mox_buf_append_byte(out, '\\');
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, (uint8_t)*s);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '"');
	return err;
}

/* Encoded words for a display name, RFC 2047 section 5(3), separated by
 * single spaces; the caller's folding may break the line there. */
static mox_err
put_ew_phrase(mox_buf *out, const char *name)
{
	const uint8_t *s = (const uint8_t *)name;
	size_t n = strlen(name), i = 0;
	bool b64 = prefer_b64(s, n);
	mox_err err = MOX_OK;
	while (i < n && err == MOX_OK) {
		size_t take = ew_take(s + i, n - i, b64, EW_MAX - EW_OVERHEAD);
		if (i > 0)
			err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = put_ew(out, s + i, take, b64);
		i += take;
	}
	return err;
}

static mox_err
put_name(mox_buf *out, const char *name, bool smtputf8)
{
	const uint8_t *s = (const uint8_t *)name;
	bool encode = strstr(name, "=?") != NULL;
	size_t wordlen = 0, wslen = 0;
	for (size_t i = 0; s[i] != '\0' && !encode; i++) {
		/* A control character, 8-bit text without SMTPUTF8, or a word
		 * or white space run too long to fold without loss. */
		if (is_ctl(s[i]) || (s[i] >= 0x80 && !smtputf8))
			encode = true;
		if (is_wsp(s[i])) {
			wslen = wordlen > 0 ? 1 : wslen + 1;
			wordlen = 0;
		} else {
			wordlen++;
		}
		if (wordlen > EW_MAX || wslen > EW_MAX)
			encode = true;
	}
	if (encode)
		return put_ew_phrase(out, name);
	if (is_atom_phrase(name, smtputf8))
		return mox_buf_append_str(out, name);
	return put_quoted(out, name);
}

mox_err
mox_msg_write_addr(mox_buf *out, const char *name, const char *local,
		   const char *domain, bool smtputf8)
{
	if (out == NULL || local == NULL || domain == NULL || domain[0] == '\0')
		return MOX_EINVAL;
	size_t llen = strlen(local), dlen = strlen(domain);
	if (llen + dlen > ADDR_SPEC_MAX ||
	    !mox__msg_utf8_valid((const uint8_t *)local, llen) ||
	    !mox__msg_utf8_valid((const uint8_t *)domain, dlen) ||
	    (name != NULL &&
	     !mox__msg_utf8_valid((const uint8_t *)name, strlen(name))))
		return MOX_EINVAL;
	/* The local part: a dot-atom, or a quoted string of printable
	 * characters (RFC 5322 section 3.4.1); UTF-8 only with SMTPUTF8. */
	bool quote = !is_dot_atom(local, smtputf8);
	for (size_t i = 0; i < llen; i++) {
		uint8_t c = (uint8_t)local[i];
		if ((c < 0x20 || c == 0x7f) || (c >= 0x80 && !smtputf8))
			return MOX_EINVAL;
	}
	/* The domain: a dot-atom or a domain literal of dtext. */
	if (domain[0] == '[') {
		if (dlen < 2 || domain[dlen - 1] != ']')
			return MOX_EINVAL;
		for (size_t i = 1; i + 1 < dlen; i++) {
			uint8_t c = (uint8_t)domain[i];
			if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
				return MOX_EINVAL;
		}
	} else if (!is_dot_atom(domain, smtputf8)) {
		return MOX_EINVAL;
	}
	size_t start = out->len;
	mox_err err = MOX_OK;
	if (name != NULL && name[0] != '\0') {
		err = put_name(out, name, smtputf8);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, ' ');
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '<');
	if (err == MOX_OK)
		err = quote ? put_quoted(out, local) : mox_buf_append_str(out, local);
	if (err == MOX_OK)
		err = mox_buf_appendf(out, "@%s>", domain);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}

/* ---- messages ---- */

typedef struct wpart {
	char *ctype;      /* NULL: body is a whole entity, header included */
	const char *cte;  /* static */
	uint8_t *body;    /* encoded, CRLF line endings */
	size_t len;
} wpart;

struct mox_msg_writer {
	const mox_allocator *alloc;
	mox_buf header;
	wpart *parts;
	size_t nparts, cap;
};

mox_err
mox_msg_writer_new(mox_msg_writer **w_out, const mox_allocator *alloc)
{
	if (w_out == NULL)
		return MOX_EINVAL;
	*w_out = NULL;
	mox_msg_writer *w = mox_mem_calloc(alloc, 1, sizeof(*w));
	if (w == NULL)
		return MOX_ENOMEM;
	w->alloc = alloc;
	mox_buf_init(&w->header, alloc);
	*w_out = w;
	return MOX_OK;
}

void
mox_msg_writer_free(mox_msg_writer *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nparts; i++) {
		mox_mem_free(w->alloc, w->parts[i].ctype);
		mox_mem_free(w->alloc, w->parts[i].body);
	}
	mox_mem_free(w->alloc, w->parts);
	mox_buf_free(&w->header);
	mox_mem_free(w->alloc, w);
}

/* The fields the writer sets itself. */
static bool
reserved_name(const uint8_t *name, size_t n)
{
	return mox__msg_eq_nocase(name, n, "mime-version") ||
	       mox__msg_eq_nocase(name, n, "content-type") ||
	       mox__msg_eq_nocase(name, n, "content-transfer-encoding");
}

mox_err
mox_msg_writer_header(mox_msg_writer *w, const char *name, const char *value)
{
	if (w == NULL || name == NULL ||
	    reserved_name((const uint8_t *)name, strlen(name)))
		return MOX_EINVAL;
	return mox_msg_write_field(&w->header, name, value, false);
}

mox_err
mox_msg_writer_header_raw(mox_msg_writer *w, const char *line)
{
	if (w == NULL || line == NULL)
		return MOX_EINVAL;
	const uint8_t *s = (const uint8_t *)line;
	size_t n = strlen(line);
	/* One trailing line ending is allowed. */
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	size_t colon = 0;
	while (colon < n && s[colon] != ':')
		colon++;
	if (colon == 0 || colon == n)
		return MOX_EINVAL;
	for (size_t i = 0; i < colon; i++)
		if (s[i] < 33 || s[i] > 126)
			return MOX_EINVAL;
	if (reserved_name(s, colon))
		return MOX_EINVAL;
	/* Folds only: every line break is followed by white space and a
	 * line with more than white space; lines within 998 octets. */
	size_t linestart = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '\r' && s[i] != '\n')
			continue;
		if (i - linestart > MOX_MSG_LINE_MAX)
			return MOX_EINVAL;
		if (i == n)
			break;
		if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
			return MOX_EINVAL;
		if (s[i] == '\r')
			i++;
		size_t k = i + 1;
		if (k >= n || !is_wsp(s[k]))
			return MOX_EINVAL;
		while (k < n && is_wsp(s[k]))
			k++;
		if (k >= n || s[k] == '\r' || s[k] == '\n')
			return MOX_EINVAL;
		linestart = i + 1;
	}
	size_t start = w->header.len;
	mox_err err = MOX_OK;
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			err = mox_buf_append_str(&w->header, "\r\n");
		else
			err = mox_buf_append_byte(&w->header, s[i]);
	}
	if (err == MOX_OK)
		err = mox_buf_append_str(&w->header, "\r\n");
	if (err != MOX_OK) {
		w->header.len = start;
		if (w->header.data != NULL)
			w->header.data[start] = '\0';
	}
	return err;
}

/* Copy data with LF (without CR before it) turned into CRLF. */
static mox_err
to_crlf(const uint8_t *d, size_t n, mox_buf *out)
{
	mox_err err = mox_buf_reserve(out, n + n / 8 + 2);
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			err = mox_buf_append_byte(out, '\r');
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, d[i]);
	}
	if (err == MOX_OK && out->data == NULL)
		err = mox_buf_reserve(out, 0);
	return err;
}

/* What CRLF text holds: 8-bit bytes, NUL, a CR not before LF, the longest
 * line. */
typedef struct scan {
	bool eight, nul, bare_cr;
	size_t longest;
} scan;

static void
scan_text(const uint8_t *d, size_t n, scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	size_t line = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];
		if (c == '\r' && i + 1 < n && d[i + 1] == '\n') {
			if (line > sc->longest)
				sc->longest = line;
			line = 0;
			i++;
			continue;
		}
		if (c == '\r')
			sc->bare_cr = true;
		else if (c == 0)
			sc->nul = true;
		else if (c >= 0x80)
			sc->eight = true;
		line++;
	}
	if (line > sc->longest)
		sc->longest = line;
}

/* Quoted-printable, RFC 2045 section 6.7, of CRLF text: CRLF stays a hard
 * line break, lines are at most 76 characters with soft breaks, white
 * space at a line's end is encoded, and so is the "F" of a line starting
 * with "From " (mbox files would change it). Text without a final line
 * break ends with a soft one, so the part still ends in CRLF. */
static mox_err
qp_encode(const uint8_t *d, size_t n, mox_buf *out)
{
	mox_err err = MOX_OK;
	size_t line = 0;
	for (size_t i = 0; i < n && err == MOX_OK; i++) {
		uint8_t c = d[i];
		if (c == '\r' && i + 1 < n && d[i + 1] == '\n') {
			err = mox_buf_append_str(out, "\r\n");
			line = 0;
			i++;
			continue;
		}
		bool at_end = i + 1 == n || (d[i + 1] == '\r' && i + 2 < n &&
					     d[i + 2] == '\n');
		bool enc = c == '=' || (c < 0x20 && c != '\t') || c >= 0x7f ||
			   (is_wsp(c) && at_end) ||
			   (c == 'F' && line == 0 && n - i >= 5 &&
			    memcmp(d + i, "From ", 5) == 0);
		size_t k = enc ? 3 : 1;
		if (line + k > QP_LINE_MAX - 1) {
			if ((err = mox_buf_append_str(out, "=\r\n")) != MOX_OK)
				break;
			line = 0;
		}
		if (enc)
			err = mox_buf_appendf(out, "=%c%c", hexdig[c >> 4], hexdig[c & 15]);
		else
			err = mox_buf_append_byte(out, c);
		line += k;
	}
	/* End on a line break without changing the content: a soft one. */
	if (err == MOX_OK && line > 0)
		err = mox_buf_append_str(out, "=\r\n");
	if (err == MOX_OK && out->data == NULL)
		err = mox_buf_reserve(out, 0);
	return err;
}

/* Base64 in lines of 76 characters, RFC 2045 section 6.8. */
static mox_err
b64_encode(const uint8_t *d, size_t n, const mox_allocator *alloc, mox_buf *out)
{
	mox_buf tmp;
	mox_buf_init(&tmp, alloc);
	mox_err err = mox_base64_encode(&tmp, d, n);
	for (size_t i = 0; i < tmp.len && err == MOX_OK; i += B64_LINE) {
		size_t k = tmp.len - i < B64_LINE ? tmp.len - i : B64_LINE;
		err = mox_buf_append(out, tmp.data + i, k);
		if (err == MOX_OK)
			err = mox_buf_append_str(out, "\r\n");
	}
	if (err == MOX_OK && out->data == NULL)
		err = mox_buf_reserve(out, 0);
	mox_buf_free(&tmp);
	return err;
}

/* The type of a Content-Type value: "text", "message", "multipart" or
 * other; false if it has no type "/" subtype of printable ASCII. */
static bool
ctype_kind(const char *ct, int *kind)
{
	size_t n = strlen(ct), slash = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)ct[i];
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return false;
	}
	while (slash < n && ct[slash] != '/' && ct[slash] != ';' && !is_wsp((uint8_t)ct[slash]))
		slash++;
	if (slash == 0 || slash >= n || ct[slash] != '/' || slash + 1 >= n ||
	    ct[slash + 1] == ';' || is_wsp((uint8_t)ct[slash + 1]))
		return false;
	if (mox__msg_eq_nocase(ct, slash, "text"))
		*kind = 1;
	else if (mox__msg_eq_nocase(ct, slash, "message") ||
		 mox__msg_eq_nocase(ct, slash, "multipart"))
		*kind = 2;
	else
		*kind = 0;
	return true;
}

mox_err
mox_msg_writer_part(mox_msg_writer *w, const char *content_type,
		    const void *data, size_t len)
{
	if (w == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	int kind = 2;
	if (content_type != NULL && !ctype_kind(content_type, &kind))
		return MOX_EINVAL;
	mox_buf crlf, body;
	mox_buf_init(&crlf, w->alloc);
	mox_buf_init(&body, w->alloc);
	char *ct = NULL;
	const char *cte = NULL;
	scan sc;
	mox_err err = MOX_OK;
	if (kind == 0) {
		cte = "base64";
		err = b64_encode(data, len, w->alloc, &body);
	} else if ((err = to_crlf(data, len, &crlf)) == MOX_OK) {
		scan_text(crlf.data, crlf.len, &sc);
		if (kind == 1 && (sc.eight || sc.nul || sc.bare_cr ||
				  sc.longest > MOX_MSG_LINE_SOFT)) {
			cte = "quoted-printable";
			err = qp_encode(crlf.data, crlf.len, &body);
		} else if (kind == 2 && (sc.nul || sc.bare_cr ||
					 sc.longest > MOX_MSG_LINE_MAX)) {
			/* RFC 2046 section 5.2.1 and 5.1: these stay unencoded,
			 * so they must fit 8bit (RFC 2045 section 2.8). */
			err = MOX_EINVAL;
		} else {
			cte = sc.eight ? "8bit" : "7bit";
			body = crlf;
			mox_buf_init(&crlf, w->alloc);
		}
	}
	if (err != MOX_OK)
		goto out;
	if (content_type != NULL &&
	    (ct = mox_mem_strdup(w->alloc, content_type)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (w->nparts == w->cap) {
		size_t cap = w->cap == 0 ? 4 : w->cap * 2;
		wpart *p = mox_mem_reallocarray(w->alloc, w->parts, cap, sizeof(*p));
		if (p == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
		w->parts = p;
		w->cap = cap;
	}
	wpart *p = &w->parts[w->nparts++];
	p->ctype = ct;
	p->cte = cte;
	p->len = body.len;
	p->body = mox_buf_steal(&body, NULL);
	ct = NULL;
out:
	mox_mem_free(w->alloc, ct);
	mox_buf_free(&crlf);
	mox_buf_free(&body);
	return err;
}

static bool
contains(const uint8_t *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (h[i] == (uint8_t)needle[0] && memcmp(h + i, needle, k) == 0)
			return true;
	return false;
}

/* A part's header and body. */
static mox_err
put_part(mox_buf *out, const wpart *p)
{
	mox_err err = MOX_OK;
	if (p->ctype != NULL) {
		err = mox_msg_write_field(out, "Content-Type", p->ctype, false);
		if (err == MOX_OK)
			err = mox_buf_appendf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
					      p->cte);
	}
	if (err == MOX_OK)
		err = mox_buf_append(out, p->body, p->len);
	return err;
}

mox_err
mox_msg_writer_finish(mox_msg_writer *w, const char *multipart_type,
		      mox_buf *out)
{
	if (w == NULL || out == NULL)
		return MOX_EINVAL;
	bool multi = multipart_type != NULL || w->nparts > 1;
	if (multipart_type == NULL)
		multipart_type = "mixed";
	if (multi && w->nparts == 0)
		return MOX_EINVAL; /* RFC 2046 section 5.1.1: one part at least */
	for (const char *s = multipart_type; *s != '\0'; s++)
		if ((uint8_t)*s < 0x20 || (uint8_t)*s >= 0x7f)
			return MOX_EINVAL;
	size_t start = out->len;
	mox_buf ct;
	mox_buf_init(&ct, w->alloc);
	mox_err err = mox_buf_append(out, w->header.data, w->header.len);
	if (err != MOX_OK)
		goto out;
	if (w->nparts == 0) {
		err = mox_buf_append_str(out, "\r\n");
		goto out;
	}
	if ((err = mox_buf_append_str(out, "MIME-Version: 1.0\r\n")) != MOX_OK)
		goto out;
	if (!multi) {
		err = put_part(out, &w->parts[0]);
		goto out;
	}
	/* A boundary from a hash of the parts (FNV-1a), changed until no part
	 * holds it. */
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < w->nparts; i++)
		for (size_t k = 0; k < w->parts[i].len; k++)
			h = (h ^ w->parts[i].body[k]) * 1099511628211ULL;
	char boundary[64];
	for (unsigned tries = 0;; tries++) {
		snprintf(boundary, sizeof(boundary), "=_mox_%016llx_%u",
			 (unsigned long long)h, tries);
		bool seen = false;
		for (size_t i = 0; i < w->nparts && !seen; i++)
			seen = contains(w->parts[i].body, w->parts[i].len, boundary);
		if (!seen)
			break;
	}
	if ((err = mox_buf_appendf(&ct, "multipart/%s; boundary=\"%s\"",
				   multipart_type, boundary)) != MOX_OK ||
	    (err = mox_msg_write_field(out, "Content-Type", (char *)ct.data,
				       false)) != MOX_OK ||
	    (err = mox_buf_append_str(out, "\r\n")) != MOX_OK)
		goto out;
	for (size_t i = 0; i < w->nparts; i++) {
		/* RFC 2046 section 5.1.1: the CRLF before "--" belongs to the
		 * delimiter. */
		if ((err = mox_buf_appendf(out, "%s--%s\r\n", i == 0 ? "" : "\r\n",
					   boundary)) != MOX_OK ||
		    (err = put_part(out, &w->parts[i])) != MOX_OK)
			goto out;
	}
	err = mox_buf_appendf(out, "\r\n--%s--\r\n", boundary);
out:
	mox_buf_free(&ct);
	if (err != MOX_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return err;
}
