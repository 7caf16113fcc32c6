/* Header sections, RFC 5322 section 2.2.
 *
 *   fields      = *(field-name ":" unstructured CRLF)
 *   field-name  = 1*ftext                   ; printable US-ASCII but ":"
 *   obs-optional = field-name *WSP ":" ...  ; RFC 5322 section 4.5
 *
 * A field is its first line plus every following line that starts with
 * white space (folding, section 2.2.3). The section ends at the first empty
 * line. We keep each field's raw bytes exactly (DKIM signs them), and point
 * name and value into one copy of the section. Lenient reading: LF alone
 * ends a line too; a line without colon stays a field with the whole line
 * as its name; problems are warning bits, or errors in strict mode. */
#include "msg_int.h"

#include <string.h>

/* Scan the warnings of one header line's bytes (without line ending). */
static unsigned
line_warnings(const uint8_t *p, size_t n)
{
	unsigned w = 0;
	if (n > MOX_MSG_LINE_MAX)
		w |= MOX_MSG_WARN_LONG_LINE;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == 0)
			w |= MOX_MSG_WARN_NUL;
		else if (c == '\r')
			w |= MOX_MSG_WARN_BARE_CR;
		else if (c >= 0x80) {
			/* RFC 6532 allows UTF-8; anything else is 8-bit junk. */
			if (!mox__msg_utf8_valid(p + i, n - i))
				w |= MOX_MSG_WARN_8BIT_HEADER;
			break;
		}
	}
	return w;
}

mox_err
mox__msg_header_parse_at(const uint8_t *data, size_t len, size_t base,
			 unsigned flags, const mox_allocator *alloc,
			 mox_msg_header **header_out, size_t *consumed_out,
			 mox_errinfo *info)
{
	*header_out = NULL;
	if (consumed_out != NULL)
		*consumed_out = len;
	mox_err err = MOX_OK;
	mox_msg_header *h = mox_mem_calloc(alloc, 1, sizeof(*h));
	if (h == NULL)
		return MOX_ENOMEM;
	h->alloc = alloc;
	h->offset = base;

	/* Find the end of the section: the first empty line. */
	size_t end = len, body = len;
	bool blank = false;
	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(data + i, '\n', len - i);
		size_t eol = nl != NULL ? (size_t)(nl - data) : len;
		size_t content = eol;
		if (content > i && data[content - 1] == '\r')
			content--;
		if (content == i && nl != NULL) {
			end = i;
			body = eol + 1;
			blank = true;
			break;
		}
		if (content == i && nl == NULL) {
			/* A lone CR at the very end. */
			end = i;
			break;
		}
		/* A line that is neither a field nor a continuation ends the
		 * header without a blank line: it is the first body line, as
		 * mail clients read it (Python's email package likewise). */
		if (!mox__msg_is_wsp(data[i]) && memchr(data + i, ':', content - i) == NULL) {
			end = i;
			body = i;
			blank = true;
			h->warnings |= MOX_MSG_WARN_NO_COLON;
			break;
		}
		i = nl != NULL ? eol + 1 : len;
	}
	if (!blank)
		h->warnings |= MOX_MSG_WARN_NO_BODY;

	h->raw = mox_mem_alloc(alloc, end + 1);
	if (h->raw == NULL)
		goto nomem;
	if (end > 0)
		memcpy(h->raw, data, end);
	h->raw[end] = '\0';
	h->raw_len = end;

	/* Count fields to size the array once. */
	size_t nfields = 0;
	for (size_t i = 0; i < end; i++)
		if ((i == 0 || h->raw[i - 1] == '\n') && (i == 0 || !mox__msg_is_wsp(h->raw[i])))
			nfields++; /* the first line starts a field even if indented */
	h->fields = mox_mem_calloc(alloc, nfields ? nfields : 1, sizeof(*h->fields));
	if (h->fields == NULL)
		goto nomem;

	const uint8_t *r = h->raw;
	for (size_t i = 0; i < end;) {
		size_t start = i;
		/* The field runs until a line that does not start with WSP. */
		size_t j = i;
		for (;;) {
			const uint8_t *nl = memchr(r + j, '\n', end - j);
			size_t eol = nl != NULL ? (size_t)(nl - r) : end;
			size_t content = eol > j && r[eol - 1] == '\r' ? eol - 1 : eol;
			h->warnings |= line_warnings(r + j, content - j);
			if (nl != NULL && (eol == 0 || r[eol - 1] != '\r'))
				h->warnings |= MOX_MSG_WARN_BARE_LF;
			j = nl != NULL ? eol + 1 : end;
			if (j >= end || !mox__msg_is_wsp(r[j]))
				break;
		}
		mox_msg_field *f = &h->fields[h->nfields++];
		f->raw = r + start;
		f->raw_len = j - start;
		f->offset = base + start;
		/* Value ends before the final line ending. */
		size_t vend = j;
		if (vend > start && r[vend - 1] == '\n')
			vend--;
		if (vend > start && r[vend - 1] == '\r')
			vend--;
		const uint8_t *colon = memchr(r + start, ':', vend - start);
		/* A colon on a continuation line does not make a name. */
		const uint8_t *firstnl = memchr(r + start, '\n', vend - start);
		if (colon != NULL && firstnl != NULL && colon > firstnl)
			colon = NULL;
		if (colon == NULL || colon == r + start) {
			h->warnings |= MOX_MSG_WARN_NO_COLON;
			f->name = r + start;
			f->name_len = vend - start;
			f->value = r + vend;
			f->value_len = 0;
		} else {
			size_t nlen = (size_t)(colon - (r + start));
			/* RFC 5322 section 4.5: obsolete WSP before the colon. */
			while (nlen > 0 && mox__msg_is_wsp(r[start + nlen - 1])) {
				nlen--;
				h->warnings |= MOX_MSG_WARN_HEADER_SPACE;
			}
			f->name = r + start;
			f->name_len = nlen;
			f->value = colon + 1;
			f->value_len = (size_t)(r + vend - (colon + 1));
		}
		i = j;
	}

	if ((flags & MOX_MSG_STRICT) &&
	    (h->warnings & ~(unsigned)MOX_MSG_WARN_NO_BODY) != 0) {
		unsigned w = h->warnings & ~(unsigned)MOX_MSG_WARN_NO_BODY;
		unsigned bit = w & (~w + 1);
		err = mox_errinfo_set(info, MOX_ESYNTAX, base, "header: %s",
				      mox_msg_warning_name(bit));
		goto fail;
	}
	if (consumed_out != NULL)
		*consumed_out = body;
	*header_out = h;
	return MOX_OK;
nomem:
	err = MOX_ENOMEM;
	mox_errinfo_set(info, err, base, "out of memory");
fail:
	mox_msg_header_free(h);
	return err;
}

mox_err
mox_msg_header_parse(const uint8_t *data, size_t len, unsigned flags,
		     const mox_allocator *alloc, mox_msg_header **header_out,
		     size_t *consumed_out, mox_errinfo *info)
{
	if (header_out == NULL)
		return MOX_EINVAL;
	*header_out = NULL;
	if (data == NULL && len > 0)
		return MOX_EINVAL;
	return mox__msg_header_parse_at(data != NULL ? data : (const uint8_t *)"", len, 0,
					flags, alloc, header_out, consumed_out, info);
}

void
mox_msg_header_free(mox_msg_header *h)
{
	if (h == NULL)
		return;
	mox_mem_free(h->alloc, h->raw);
	mox_mem_free(h->alloc, h->fields);
	mox_mem_free(h->alloc, h);
}

const mox_msg_field *
mox_msg_header_get(const mox_msg_header *h, const char *name, size_t index)
{
	if (h == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < h->nfields; i++) {
		const mox_msg_field *f = &h->fields[i];
		if (mox__msg_eq_nocase(f->name, f->name_len, name) && index-- == 0)
			return f;
	}
	return NULL;
}

size_t
mox_msg_header_count(const mox_msg_header *h, const char *name)
{
	size_t n = 0;
	if (h == NULL || name == NULL)
		return 0;
	for (size_t i = 0; i < h->nfields; i++)
		if (mox__msg_eq_nocase(h->fields[i].name, h->fields[i].name_len, name))
			n++;
	return n;
}

mox_err
mox__msg_unfold(const uint8_t *v, size_t n, mox_buf *out)
{
	/* Trim leading and trailing white space (and line endings). */
	while (n > 0 && (mox__msg_is_wsp(v[0]) || v[0] == '\r' || v[0] == '\n')) {
		v++;
		n--;
	}
	while (n > 0 && (mox__msg_is_wsp(v[n - 1]) || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	mox_err err = mox_buf_reserve(out, n);
	if (err != MOX_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		/* RFC 5322 section 2.2.3: unfolding removes CRLF (or a bare LF)
		 * that is followed by WSP. */
		if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n')
			continue;
		if (v[i] == '\n')
			continue;
		out->data[out->len++] = v[i];
	}
	out->data[out->len] = '\0';
	return MOX_OK;
}

mox_err
mox_msg_field_unfold(const mox_msg_field *f, mox_buf *out)
{
	if (f == NULL || out == NULL)
		return MOX_EINVAL;
	return mox__msg_unfold(f->value, f->value_len, out);
}

static const char *const warning_names[] = {
	"bare LF line ending",
	"bare CR",
	"line longer than 998 octets",
	"8-bit bytes in header that are not UTF-8",
	"header line without colon",
	"NUL byte",
	"multipart without closing boundary",
	"multipart without boundary parameter",
	"unparsable Content-Type",
	"more than one Content-Type",
	"unknown Content-Transfer-Encoding",
	"no blank line after header",
	"broken base64 or quoted-printable data",
	"unknown charset or bytes invalid in it",
	"unparsable structured header field",
	"white space before colon in field name",
};

const char *
mox_msg_warning_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(warning_names) / sizeof(warning_names[0]); i++)
		if (bit == 1u << i)
			return warning_names[i];
	return NULL;
}

unsigned
mox_message_version(void)
{
	return MOX_MESSAGE_VERSION_HEX;
}
