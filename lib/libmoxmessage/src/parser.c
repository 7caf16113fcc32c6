/* The MIME part tree, built incrementally (RFC 2045, RFC 2046 section 5).
 *
 * How this works: input is split into lines at LF (CR LF or a bare LF).
 * A stack of frames holds the parts being read, innermost on top; each is
 * in its header (collecting the header bytes) or in its body. Every line is
 * first matched against the boundaries of the open multiparts, innermost
 * first (RFC 2046 section 5.1.2: an outer boundary also ends inner parts
 * whose own end is missing). A delimiter closes all parts above its
 * multipart and opens a new child; a close delimiter moves the multipart to
 * its epilogue. Other lines go to the top frame's header until the empty
 * line, then to its body, where only line counts are kept. When a header is
 * complete the part's Content-Type decides: a multipart with a boundary
 * waits for delimiters; message/rfc822 and message/global (not base64 or
 * QP encoded) get one child, the nested message, read from the same bytes.
 *
 * Offsets: the line ending before a delimiter line belongs to the delimiter
 * (RFC 2046 section 5.1.1), so a part ends where that line ending starts.
 * Line counts come from the number of LFs before each offset, plus one for
 * a last line without a line ending.
 *
 * Memory: header sections (bounded by max_header_bytes each and
 * max_header_total together) and, for body lines, only the first
 * LINE_PREFIX_MAX bytes, enough to recognise a delimiter. Nesting and part
 * count are bounded; past a limit the parser stops with MOX_ELIMIT. */
#include "msg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bytes of a body line kept to match delimiters: "--", a boundary of at
 * most 70 characters (RFC 2046 section 5.1.1) and generous room for
 * longer ones and transport padding. */
#define LINE_PREFIX_MAX 1024
/* Longest boundary we accept (lenient past RFC 2046's 70). */
#define BOUNDARY_MAX 256

enum mp_state { MP_NONE, MP_PREAMBLE, MP_CHILD, MP_EPILOGUE };

typedef struct frame {
	mox_msg_part *part;
	bool in_header;
	mox_buf hdr;
	char *boundary;
	size_t blen;
	enum mp_state mp;
	size_t nl_at_body; /* LFs before body_offset */
} frame;

struct mox_msg_parser {
	const mox_allocator *alloc;
	unsigned flags;
	mox_msg_limits limits;
	mox_msg *msg;
	frame *stack;
	size_t depth, cap;
	size_t offset;       /* bytes consumed */
	size_t nl;           /* LFs before the current line */
	size_t header_total; /* bytes of all header sections */
	/* The current line. */
	size_t line_start;
	size_t line_len; /* bytes so far, LF not included */
	mox_buf line;    /* all bytes in a header, else a prefix */
	uint8_t line_last;
	/* The previous line. */
	size_t prev_eol;        /* 0, 1 (LF) or 2 (CRLF) */
	size_t prev_content;    /* its length without line ending */
	size_t nl_at_prev;      /* LFs before it */
	mox_err err;
	char errmsg[256];
};

static mox_err
fail(mox_msg_parser *p, mox_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static mox_err
fail(mox_msg_parser *p, mox_err err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
	va_end(ap);
	p->err = err;
	return err;
}

static void
part_free(const mox_allocator *alloc, mox_msg_part *part)
{
	if (part == NULL)
		return;
	for (size_t i = 0; i < part->nchildren; i++)
		part_free(alloc, part->children[i]);
	mox_mem_free(alloc, part->children);
	mox_msg_header_free(part->header);
	mox_mem_free(alloc, part->type);
	mox_mem_free(alloc, part->subtype);
	mox__msg_params_free(alloc, &part->params);
	mox_mem_free(alloc, part->disposition);
	mox__msg_params_free(alloc, &part->disposition_params);
	mox_mem_free(alloc, part);
}

void
mox_msg_free(mox_msg *msg)
{
	if (msg == NULL)
		return;
	part_free(msg->alloc, msg->root);
	mox_mem_free(msg->alloc, msg);
}

/* Push a new part starting at offset, child of parent (NULL: root). */
static mox_err
push(mox_msg_parser *p, mox_msg_part *parent, size_t offset)
{
	unsigned depth = parent != NULL ? parent->depth + 1 : 0;
	if (depth > p->limits.max_depth)
		return fail(p, MOX_ELIMIT, "nesting deeper than %zu at offset %zu",
			    p->limits.max_depth, offset);
	if (p->msg->nparts >= p->limits.max_parts)
		return fail(p, MOX_ELIMIT, "more than %zu parts at offset %zu",
			    p->limits.max_parts, offset);
	if (p->depth == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 8;
		frame *ns = mox_mem_reallocarray(p->alloc, p->stack, ncap, sizeof(*ns));
		if (ns == NULL)
			return fail(p, MOX_ENOMEM, "out of memory");
		p->stack = ns;
		p->cap = ncap;
	}
	mox_msg_part *part = mox_mem_calloc(p->alloc, 1, sizeof(*part));
	if (part == NULL)
		return fail(p, MOX_ENOMEM, "out of memory");
	if (parent != NULL) {
		mox_msg_part **nc = mox_mem_reallocarray(p->alloc, parent->children,
							 parent->nchildren + 1,
							 sizeof(*nc));
		if (nc == NULL) {
			mox_mem_free(p->alloc, part);
			return fail(p, MOX_ENOMEM, "out of memory");
		}
		parent->children = nc;
		nc[parent->nchildren++] = part;
	} else {
		p->msg->root = part;
	}
	part->parent = parent;
	part->depth = depth;
	part->header_offset = part->body_offset = part->end_offset = offset;
	p->msg->nparts++;
	frame *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->part = part;
	f->in_header = true;
	mox_buf_init(&f->hdr, p->alloc);
	return MOX_OK;
}

static mox_err
set_str(mox_msg_parser *p, char **dst, const char *src)
{
	mox_mem_free(p->alloc, *dst);
	*dst = mox_mem_strdup(p->alloc, src);
	return *dst == NULL ? fail(p, MOX_ENOMEM, "out of memory") : MOX_OK;
}

/* Make part a plain text leaf, RFC 2045 section 5.2's default. */
static mox_err
make_text_plain(mox_msg_parser *p, frame *f)
{
	mox_err err;
	if ((err = set_str(p, &f->part->type, "text")) != MOX_OK ||
	    (err = set_str(p, &f->part->subtype, "plain")) != MOX_OK)
		return err;
	mox_mem_free(p->alloc, f->boundary);
	f->boundary = NULL;
	f->mp = MP_NONE;
	return MOX_OK;
}

static mox_err
strict_check(mox_msg_parser *p, const mox_msg_part *part)
{
	unsigned w = part->warnings & ~(unsigned)MOX_MSG_WARN_NO_BODY;
	if (!(p->flags & MOX_MSG_STRICT) || w == 0)
		return MOX_OK;
	unsigned bit = w & (~w + 1);
	return fail(p, MOX_ESYNTAX, "%s in part at offset %zu", mox_msg_warning_name(bit),
		    part->header_offset);
}

/* Read Content-Type, -Transfer-Encoding and -Disposition of a part whose
 * header is parsed; set up multipart or message/rfc822 reading. */
static mox_err
setup_part(mox_msg_parser *p, frame *f)
{
	mox_msg_part *part = f->part;
	const mox_msg_header *h = part->header;
	mox_err err;
	bool digest = part->parent != NULL && part->parent->type != NULL &&
		      strcmp(part->parent->type, "multipart") == 0 &&
		      part->parent->subtype != NULL &&
		      strcmp(part->parent->subtype, "digest") == 0;

	size_t nct = mox_msg_header_count(h, "Content-Type");
	if (nct > 1)
		part->warnings |= MOX_MSG_WARN_DUP_CONTENT_TYPE;
	mox_msg_ctype *ct = NULL;
	for (size_t i = 0; i < nct && ct == NULL; i++) {
		const mox_msg_field *fl = mox_msg_header_get(h, "Content-Type", i);
		unsigned w = 0;
		err = mox_msg_ctype_parse(fl->value, fl->value_len, 0, p->alloc, &ct, &w,
					  NULL);
		if (err == MOX_ENOMEM)
			return fail(p, err, "out of memory");
		if (err != MOX_OK)
			part->warnings |= MOX_MSG_WARN_BAD_CONTENT_TYPE;
		part->warnings |= w;
	}
	if (ct != NULL) {
		part->type = ct->type;
		part->subtype = ct->subtype;
		part->params = ct->params;
		ct->type = ct->subtype = NULL;
		ct->params.p = NULL;
		ct->params.n = 0;
		mox_msg_ctype_free(ct);
	} else {
		/* RFC 2046 section 5.1.5: message/rfc822 in a digest. */
		if ((err = set_str(p, &part->type, digest ? "message" : "text")) != MOX_OK ||
		    (err = set_str(p, &part->subtype, digest ? "rfc822" : "plain")) != MOX_OK)
			return err;
	}
	part->charset = mox_msg_params_get(&part->params, "charset");

	const mox_msg_field *fl = mox_msg_header_get(h, "Content-Transfer-Encoding", 0);
	part->cte = fl != NULL ? mox_msg_cte_parse(fl->value, fl->value_len)
			       : MOX_MSG_CTE_7BIT;
	if (part->cte == MOX_MSG_CTE_UNKNOWN)
		part->warnings |= MOX_MSG_WARN_BAD_CTE;

	fl = mox_msg_header_get(h, "Content-Disposition", 0);
	if (fl != NULL) {
		mox_msg_ctype *cd = NULL;
		unsigned w = 0;
		err = mox_msg_ctype_parse(fl->value, fl->value_len,
					  MOX_MSG_CTYPE_DISPOSITION, p->alloc, &cd, &w, NULL);
		if (err == MOX_ENOMEM)
			return fail(p, err, "out of memory");
		if (err != MOX_OK || w != 0)
			part->warnings |= MOX_MSG_WARN_BAD_FIELD;
		if (cd != NULL) {
			part->disposition = cd->type;
			part->disposition_params = cd->params;
			cd->type = NULL;
			cd->params.p = NULL;
			cd->params.n = 0;
			mox_msg_ctype_free(cd);
		}
	}
	part->filename = mox_msg_params_get(&part->disposition_params, "filename");
	if (part->filename == NULL || part->filename[0] == '\0')
		part->filename = mox_msg_params_get(&part->params, "name");
	if (part->filename != NULL && part->filename[0] == '\0')
		part->filename = NULL;

	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mox_msg_params_get(&part->params, "boundary");
		if (b == NULL || b[0] == '\0' || strlen(b) > BOUNDARY_MAX) {
			part->warnings |= MOX_MSG_WARN_NO_BOUNDARY;
			if ((err = make_text_plain(p, f)) != MOX_OK)
				return err;
		} else {
			f->boundary = mox_mem_strdup(p->alloc, b);
			if (f->boundary == NULL)
				return fail(p, MOX_ENOMEM, "out of memory");
			f->blen = strlen(b);
			f->mp = MP_PREAMBLE;
		}
	}
	return strict_check(p, part);
}

/* The header of the top frame is complete (blank line, or cut off). */
static mox_err
finish_header(mox_msg_parser *p, frame *f, size_t body_offset, size_t nl_at_body)
{
	mox_msg_part *part = f->part;
	mox_errinfo info;
	info.msg[0] = '\0';
	mox_err err = mox__msg_header_parse_at(f->hdr.data ? f->hdr.data : (const uint8_t *)"",
					       f->hdr.len, part->header_offset,
					       p->flags, p->alloc, &part->header, NULL,
					       &info);
	if (err != MOX_OK)
		return fail(p, err, "%s", info.msg[0] ? info.msg : mox_strerror(err));
	/* The collected bytes hold no blank line by construction. */
	part->header->warnings &= ~(unsigned)MOX_MSG_WARN_NO_BODY;
	part->warnings |= part->header->warnings;
	mox_buf_free(&f->hdr);
	f->in_header = false;
	part->body_offset = body_offset;
	part->end_offset = body_offset;
	f->nl_at_body = nl_at_body;
	if ((err = setup_part(p, f)) != MOX_OK)
		return err;
	if (strcmp(part->type, "message") == 0 && part->subtype != NULL &&
	    (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0) &&
	    part->cte != MOX_MSG_CTE_BASE64 && part->cte != MOX_MSG_CTE_QP) {
		/* RFC 2046 section 5.2.1, RFC 6532 section 3.7: the body is a
		 * message, parsed as one. */
		if ((err = push(p, part, body_offset)) != MOX_OK)
			return err;
	}
	return MOX_OK;
}

/* Close the frame at index idx, its part ending at end; nl_end is the
 * number of LFs before end and partial tells whether a line without LF ends
 * there. A frame still in its header gets that header parsed first, which
 * may push a nested message above it: then *pushed_out is set and the frame
 * is not closed yet (the caller closes the new top first). Frames are
 * addressed by index: a push may move the stack. */
static mox_err
close_frame(mox_msg_parser *p, size_t idx, size_t end, size_t nl_end, bool partial,
	    bool *pushed_out)
{
	*pushed_out = false;
	mox_msg_part *part = p->stack[idx].part;
	mox_err err;
	if (p->stack[idx].in_header) {
		/* The header never ended: all of it is header, no body. A
		 * part that starts after end (a nested message whose
		 * parent's blank line was the delimiter's line ending) is
		 * empty: it starts where it ends. No header bytes were
		 * collected for it then. */
		if (end < part->header_offset)
			part->header_offset = end;
		size_t before = p->depth;
		if ((err = finish_header(p, &p->stack[idx], end, nl_end)) != MOX_OK)
			return err;
		part->warnings |= MOX_MSG_WARN_NO_BODY;
		if (p->depth > before) {
			*pushed_out = true;
			return MOX_OK;
		}
	}
	frame *f = &p->stack[idx];
	if (end < part->body_offset) {
		/* The blank line that ended the header was also the line
		 * ending of the next delimiter ("--a\r\n\r\n--b"): the part
		 * is empty and ends where the delimiter's line ending starts. */
		part->body_offset = end < part->header_offset ? part->header_offset : end;
		end = part->body_offset;
	}
	part->end_offset = end;
	if (end > part->body_offset && nl_end >= f->nl_at_body)
		part->body_lines = nl_end - f->nl_at_body + (partial ? 1 : 0);
	if (f->boundary != NULL) {
		if (part->nchildren == 0) {
			/* No delimiter at all: the body is text. */
			part->warnings |= MOX_MSG_WARN_NO_END_BOUNDARY;
			if ((err = make_text_plain(p, f)) != MOX_OK)
				return err;
		} else if (f->mp != MP_EPILOGUE) {
			part->warnings |= MOX_MSG_WARN_NO_END_BOUNDARY;
		}
	}
	mox_mem_free(p->alloc, f->boundary);
	f->boundary = NULL;
	mox_buf_free(&f->hdr);
	p->msg->warnings |= part->warnings;
	return strict_check(p, part);
}

/* Close frames from the top down to (not including) index keep. */
static mox_err
close_above(mox_msg_parser *p, size_t keep, size_t end, size_t nl_end, bool partial)
{
	while (p->depth > keep) {
		bool pushed;
		mox_err err = close_frame(p, p->depth - 1, end, nl_end, partial, &pushed);
		if (err != MOX_OK)
			return err;
		if (!pushed)
			p->depth--;
	}
	return MOX_OK;
}

/* Whether line (content without line ending) is a delimiter of boundary:
 * 1 delimiter, 2 close delimiter, 0 neither. */
static int
match_boundary(const uint8_t *line, size_t len, bool truncated, const char *b,
	       size_t blen)
{
	if (len < 2 + blen || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, b, blen) != 0)
		return 0;
	size_t i = 2 + blen;
	int kind = 1;
	if (i + 2 <= len && line[i] == '-' && line[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	/* Transport padding (RFC 2046 section 5.1.1): white space only. */
	for (; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	return truncated ? 0 : kind;
}

/* Handle a complete line: content is p->line (prefix), eol its ending. */
static mox_err
handle_line(mox_msg_parser *p, size_t eol, bool has_lf)
{
	size_t start = p->line_start;
	size_t total = p->line_len; /* bytes before the LF */
	size_t content = eol == 2 ? total - 1 : total;
	const uint8_t *data = p->line.data ? p->line.data : (const uint8_t *)"";
	size_t kept = p->line.len < content ? p->line.len : content;
	bool truncated = kept < content;
	mox_err err;

	/* Delimiters of open multiparts, innermost first. */
	for (size_t i = p->depth; i-- > 0;) {
		const frame *f = &p->stack[i];
		if (f->boundary == NULL || f->mp == MP_EPILOGUE)
			continue;
		int kind = match_boundary(data, kept, truncated, f->boundary, f->blen);
		if (kind == 0)
			continue;
		/* The line ending before the delimiter is the delimiter's. */
		size_t end = start >= p->prev_eol ? start - p->prev_eol : 0;
		bool partial = p->prev_content > 0;
		if ((err = close_above(p, i + 1, end, p->nl_at_prev, partial)) != MOX_OK)
			return err;
		if (kind == 1) {
			p->stack[i].mp = MP_CHILD;
			err = push(p, p->stack[i].part, start + total + (has_lf ? 1 : 0));
			if (err != MOX_OK)
				return err;
		} else {
			p->stack[i].mp = MP_EPILOGUE;
		}
		goto done;
	}

	frame *top = &p->stack[p->depth - 1];
	if (top->in_header && content > 0 && !mox__msg_is_wsp(data[0]) &&
	    memchr(data, ':', content) == NULL) {
		/* Neither a field nor a continuation: the header ends and
		 * this line is the body's first (see mox_msg_header_parse). */
		top->part->warnings |= MOX_MSG_WARN_NO_COLON;
		if ((err = finish_header(p, top, start, p->nl)) != MOX_OK)
			return err;
	} else if (top->in_header) {
		if (content == 0 && has_lf) {
			top->part->header_lines++;
			err = finish_header(p, top, start + total + 1, p->nl + 1);
			if (err != MOX_OK)
				return err;
		} else if (total > 0 || has_lf) {
			size_t n = total + (has_lf ? 1 : 0);
			if (top->hdr.len + n > p->limits.max_header_bytes)
				return fail(p, MOX_ELIMIT,
					    "header section longer than %zu bytes at offset %zu",
					    p->limits.max_header_bytes, start);
			if (p->header_total + n > p->limits.max_header_total)
				return fail(p, MOX_ELIMIT,
					    "header sections longer than %zu bytes in total",
					    p->limits.max_header_total);
			if (mox_buf_append(&top->hdr, data, total) != MOX_OK ||
			    (has_lf && mox_buf_append_byte(&top->hdr, '\n') != MOX_OK))
				return fail(p, MOX_ENOMEM, "out of memory");
			p->header_total += n;
			top->part->header_lines++;
		}
	}
done:
	p->prev_eol = has_lf ? eol : 0;
	p->prev_content = content;
	p->nl_at_prev = p->nl;
	if (has_lf)
		p->nl++;
	return MOX_OK;
}

mox_err
mox_msg_parser_new(mox_msg_parser **parser_out, const mox_msg_parse_opts *opts)
{
	if (parser_out == NULL)
		return MOX_EINVAL;
	*parser_out = NULL;
	mox_msg_parse_opts o;
	memset(&o, 0, sizeof(o));
	if (opts != NULL)
		memcpy(&o, opts, opts->size != 0 && opts->size < sizeof(o) ? opts->size
									  : sizeof(o));
	mox_msg_parser *p = mox_mem_calloc(o.alloc, 1, sizeof(*p));
	if (p == NULL)
		return MOX_ENOMEM;
	p->alloc = o.alloc;
	p->flags = o.flags;
	p->limits = o.limits;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = 50;
	if (p->limits.max_parts == 0)
		p->limits.max_parts = 10000;
	if (p->limits.max_header_bytes == 0)
		p->limits.max_header_bytes = 1 << 20;
	if (p->limits.max_header_total == 0)
		p->limits.max_header_total = 16 << 20;
	mox_buf_init(&p->line, o.alloc);
	p->msg = mox_mem_calloc(o.alloc, 1, sizeof(*p->msg));
	if (p->msg == NULL) {
		mox_mem_free(o.alloc, p);
		return MOX_ENOMEM;
	}
	p->msg->alloc = o.alloc;
	if (push(p, NULL, 0) != MOX_OK) {
		mox_msg_parser_free(p);
		return MOX_ENOMEM;
	}
	*parser_out = p;
	return MOX_OK;
}

mox_err
mox_msg_parser_feed(mox_msg_parser *p, const void *data, size_t len)
{
	if (p == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (p->err != MOX_OK)
		return p->err;
	if (p->msg == NULL)
		return fail(p, MOX_ESTATE, "parser already ended");
	const uint8_t *d = data;
	while (len > 0) {
		const uint8_t *nl = memchr(d, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - d) : len;
		/* Keep the whole line in a header, a prefix in a body. */
		bool in_header = p->stack[p->depth - 1].in_header;
		size_t room = in_header ? n : (p->line.len < LINE_PREFIX_MAX
						       ? LINE_PREFIX_MAX - p->line.len
						       : 0);
		size_t keep = n < room ? n : room;
		if (in_header && p->line.len + keep > p->limits.max_header_bytes + 1)
			return fail(p, MOX_ELIMIT,
				    "header section longer than %zu bytes at offset %zu",
				    p->limits.max_header_bytes, p->line_start);
		if (keep > 0 && mox_buf_append(&p->line, d, keep) != MOX_OK)
			return fail(p, MOX_ENOMEM, "out of memory");
		if (n > 0)
			p->line_last = d[n - 1];
		p->line_len += n;
		p->offset += n;
		d += n;
		len -= n;
		if (nl == NULL)
			break;
		/* A complete line. */
		size_t eol = p->line_len > 0 && p->line_last == '\r' ? 2 : 1;
		p->offset++;
		d++;
		len--;
		mox_err err = handle_line(p, eol, true);
		if (err != MOX_OK)
			return err;
		mox_buf_reset(&p->line);
		p->line_len = 0;
		p->line_last = 0;
		p->line_start = p->offset;
	}
	return MOX_OK;
}

mox_err
mox_msg_parser_end(mox_msg_parser *p, mox_msg **msg_out)
{
	if (msg_out == NULL)
		return MOX_EINVAL;
	*msg_out = NULL;
	if (p == NULL)
		return MOX_EINVAL;
	if (p->err != MOX_OK)
		return p->err;
	if (p->msg == NULL)
		return fail(p, MOX_ESTATE, "parser already ended");
	mox_err err;
	bool partial = p->line_len > 0;
	if (partial && (err = handle_line(p, 0, false)) != MOX_OK)
		return err;
	if ((err = close_above(p, 0, p->offset, p->nl, partial)) != MOX_OK)
		return err;
	p->msg->size = p->offset;
	*msg_out = p->msg;
	p->msg = NULL;
	return MOX_OK;
}

const char *
mox_msg_parser_errmsg(const mox_msg_parser *p)
{
	if (p == NULL || p->err == MOX_OK)
		return "";
	return p->errmsg[0] != '\0' ? p->errmsg : mox_strerror(p->err);
}

void
mox_msg_parser_free(mox_msg_parser *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->depth; i++) {
		mox_buf_free(&p->stack[i].hdr);
		mox_mem_free(p->alloc, p->stack[i].boundary);
	}
	mox_mem_free(p->alloc, p->stack);
	mox_buf_free(&p->line);
	mox_msg_free(p->msg);
	mox_mem_free(p->alloc, p);
}

mox_err
mox_msg_parse(const void *data, size_t len, const mox_msg_parse_opts *opts,
	      mox_msg **msg_out, mox_errinfo *info)
{
	if (msg_out == NULL)
		return MOX_EINVAL;
	*msg_out = NULL;
	mox_msg_parser *p = NULL;
	mox_err err = mox_msg_parser_new(&p, opts);
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "%s", mox_strerror(err));
	err = mox_msg_parser_feed(p, data, len);
	if (err == MOX_OK)
		err = mox_msg_parser_end(p, msg_out);
	if (err != MOX_OK)
		mox_errinfo_set(info, err, p->offset, "%s", mox_msg_parser_errmsg(p));
	mox_msg_parser_free(p);
	return err;
}

mox_err
mox_msg_parse_file(FILE *f, const mox_msg_parse_opts *opts, mox_msg **msg_out,
		   mox_errinfo *info)
{
	if (msg_out == NULL || f == NULL)
		return MOX_EINVAL;
	*msg_out = NULL;
	mox_msg_parser *p = NULL;
	mox_err err = mox_msg_parser_new(&p, opts);
	if (err != MOX_OK)
		return mox_errinfo_set(info, err, 0, "%s", mox_strerror(err));
	uint8_t buf[65536];
	size_t n;
	while (err == MOX_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		err = mox_msg_parser_feed(p, buf, n);
	if (err == MOX_OK && ferror(f))
		err = fail(p, MOX_EIO, "read error");
	if (err == MOX_OK)
		err = mox_msg_parser_end(p, msg_out);
	if (err != MOX_OK)
		mox_errinfo_set(info, err, p->offset, "%s", mox_msg_parser_errmsg(p));
	mox_msg_parser_free(p);
	return err;
}
