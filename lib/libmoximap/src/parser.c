/* The command framer: bytes in, complete commands (or refusals) out.
 *
 * How this works. Input is appended to `in` by feed and consumed only by
 * next. A command is one or more lines: a line that ends in a literal
 * announcement "{n}", "{n+}" (RFC 7888) or "~{n}" (RFC 3516) is followed by
 * n octets of literal data and then more of the command line (RFC 9051
 * section 4.3). The framer copies the command's exact bytes into `cmd`
 * (line endings kept, except the final one), checks every announcement
 * against the limits before any literal byte arrives, and hands complete
 * commands to the grammar (command.c).
 *
 * States:
 *   LINE     copying a line into cmd until LF (max_line per line);
 *   LITERAL  copying `remain` literal octets into cmd;
 *   DISCARD  the command was refused (line too long, literal too large)
 *            but the client goes on sending it: skip to the end of the
 *            line, keeping the last bytes to see a literal announcement;
 *   SKIPLIT  skipping the octets of a non-synchronizing literal of a
 *            refused command (never stored, so a "{4294967296+}" costs
 *            time, not memory), then DISCARD again;
 *   RAWLINE  line mode for AUTHENTICATE responses and IDLE's DONE;
 *   STREAM   handing the octets of an APPEND message literal to the caller
 *            (MOX_IMAP_APPEND_STREAM) instead of copying them: cmd gets
 *            "{0}" in place of the announcement, and the real sizes are
 *            put in the parsed command's messages afterwards.
 * A refused synchronizing literal ends the command at once: the client
 * waits for our continuation request, which we do not send, so the next
 * bytes are a new command (RFC 9051 section 7.5, "+" is only sent when
 * ready). The stream stays usable in every case but a raw line over the
 * limit, where there is no tag to answer: that refusal is fatal.
 */
#include "imap_int.h"

#include <string.h>

enum st { ST_LINE, ST_LITERAL, ST_DISCARD, ST_SKIPLIT, ST_RAWLINE, ST_STREAM };

struct mox_imap_parser {
	const mox_allocator *alloc;
	mox_imap_limits lim;
	unsigned flags;
	mox_buf in;     /* fed, not consumed: in.data[inpos..] */
	size_t inpos;
	mox_buf cmd;    /* the current command's bytes */
	size_t line_start; /* offset in cmd of the current line */
	enum st st;
	uint64_t remain; /* LITERAL, SKIPLIT */
	bool raw_pending; /* expect_line called */
	/* Refusal of the command being discarded. */
	char rtag[64];
	const char *rcode;
	mox_imap_status rstatus;
	char rtext[200];
	uint8_t tail[32]; /* last bytes of a discarded line */
	size_t tail_len;
	mox__imap_arena arena;
	mox_imap_cmd parsed;
	bool complete; /* cmd holds a complete command to parse */
	/* APPEND streaming: per message literal of the command, its size
	 * and whether it was streamed (uint64_t size, then a byte). */
	mox_buf streamed;
	uint64_t stream_size, stream_off;
	size_t stream_index;
};

static const mox_imap_limits default_limits = {
	.max_line = 65536,
	.max_literal = 64u << 20,
	.max_command = (64u << 20) + (1u << 20),
	.max_depth = 32,
	.max_args = 10000,
};

unsigned
mox_imap_version(void)
{
	return MOX_IMAP_VERSION_HEX;
}

mox_err
mox_imap_parser_new(mox_imap_parser **p_out, const mox_imap_parser_opts *opts)
{
	if (p_out == NULL)
		return MOX_EINVAL;
	*p_out = NULL;
	if (opts != NULL && opts->size < sizeof(size_t))
		return MOX_EINVAL;
	const mox_allocator *alloc = opts != NULL ? opts->alloc : NULL;
	mox_imap_parser *p = mox_mem_calloc(alloc, 1, sizeof(*p));
	if (p == NULL)
		return MOX_ENOMEM;
	p->alloc = alloc;
	p->lim = default_limits;
	if (opts != NULL && opts->size >= sizeof(*opts)) {
		const mox_imap_limits *l = &opts->limits;
		if (l->max_line != 0)
			p->lim.max_line = l->max_line;
		if (l->max_literal != 0) {
			p->lim.max_literal = l->max_literal;
			p->lim.max_command = l->max_literal + (1u << 20);
		}
		if (l->max_command != 0)
			p->lim.max_command = l->max_command;
		if (l->max_depth != 0)
			p->lim.max_depth = l->max_depth;
		if (l->max_args != 0)
			p->lim.max_args = l->max_args;
		p->flags = opts->flags;
	}
	if (p->lim.max_line < 64)
		p->lim.max_line = 64; /* room for a tag and a refusal */
	mox_buf_init(&p->in, alloc);
	mox_buf_init(&p->cmd, alloc);
	mox_buf_init(&p->streamed, alloc);
	p->arena.alloc = alloc;
	*p_out = p;
	return MOX_OK;
}

void
mox_imap_parser_free(mox_imap_parser *p)
{
	if (p == NULL)
		return;
	mox_buf_free(&p->in);
	mox_buf_free(&p->cmd);
	mox_buf_free(&p->streamed);
	mox__imap_arena_reset(&p->arena);
	mox_mem_free(p->alloc, p);
}

void
mox_imap_parser_set_flags(mox_imap_parser *p, unsigned flags)
{
	p->flags = flags;
}

mox_err
mox_imap_parser_feed(mox_imap_parser *p, const void *data, size_t len)
{
	if (p == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (p->inpos > 0 && (p->inpos == p->in.len || p->inpos > 65536)) {
		mox_buf_consume(&p->in, p->inpos);
		p->inpos = 0;
	}
	return mox_buf_append(&p->in, data, len);
}

size_t
mox_imap_parser_pending(const mox_imap_parser *p)
{
	return p->in.len - p->inpos;
}

void
mox_imap_parser_expect_line(mox_imap_parser *p)
{
	mox__imap_arena_reset(&p->arena);
	mox_buf_reset(&p->cmd);
	p->complete = false;
	p->line_start = 0;
	p->st = ST_RAWLINE;
}

void
mox_imap_parser_reset(mox_imap_parser *p)
{
	mox_buf_reset(&p->in);
	mox_buf_reset(&p->streamed);
	p->inpos = 0;
	mox_buf_reset(&p->cmd);
	mox__imap_arena_reset(&p->arena);
	p->line_start = 0;
	p->st = ST_LINE;
	p->complete = false;
	p->remain = 0;
}

/* The tag at the start of cmd, for a refusal; "*" if there is none. */
static void
take_tag(mox_imap_parser *p)
{
	size_t n = 0;
	while (n < p->cmd.len && n < sizeof(p->rtag) - 1 &&
	       mox__imap_is_astring_char(p->cmd.data[n]) && p->cmd.data[n] != '+')
		n++;
	if (n == 0 || n >= p->cmd.len || p->cmd.data[n] != ' ') {
		strcpy(p->rtag, "*");
		return;
	}
	memcpy(p->rtag, p->cmd.data, n);
	p->rtag[n] = '\0';
}

static void
refuse(mox_imap_parser *p, mox_imap_status st, const char *code,
       const char *text)
{
	take_tag(p);
	p->rstatus = st;
	p->rcode = code;
	snprintf(p->rtext, sizeof(p->rtext), "%s", text);
}

static void
emit_refusal(mox_imap_parser *p, mox_imap_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = MOX_IMAP_EV_REJECT;
	ev->reject.tag = p->rtag;
	ev->reject.status = p->rstatus;
	ev->reject.code = p->rcode;
	ev->reject.text = p->rtext;
	mox_buf_reset(&p->cmd);
	mox_buf_reset(&p->streamed);
	p->line_start = 0;
	p->st = ST_LINE;
}

/* A literal announcement at the end of line [s, e) (line ending removed):
 * "{digits}", "{digits+}", with an optional '~' before. Returns false if
 * there is none. A number too large to hold is reported as UINT64_MAX. */
static bool
literal_at_end(const uint8_t *s, size_t n, uint64_t *size, bool *sync)
{
	if (n < 3 || s[n - 1] != '}')
		return false;
	size_t i = n - 1;
	*sync = true;
	if (s[i - 1] == '+') {
		*sync = false;
		i--;
	}
	size_t dend = i;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == dend || i == 0 || s[i - 1] != '{')
		return false;
	uint64_t v = 0;
	for (size_t k = i; k < dend; k++) {
		unsigned d = (unsigned)(s[k] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			v = UINT64_MAX;
			break;
		}
		v = v * 10 + d;
	}
	*size = v;
	return true;
}

/* Check a literal announcement; returns true if it may be read. Otherwise
 * the refusal is prepared. */
static bool
literal_ok(mox_imap_parser *p, uint64_t size, bool sync, bool streamed)
{
	if (!sync && (p->flags & MOX_IMAP_LITERALPLUS) == 0) {
		if ((p->flags & MOX_IMAP_LITERALMINUS) == 0) {
			refuse(p, MOX_IMAP_BAD, NULL,
			       "non-synchronizing literal not allowed, LITERAL+ "
			       "not advertised");
			return false;
		}
		if (size > MOX_IMAP_LITERALMINUS_MAX) {
			/* RFC 7888 section 4. */
			refuse(p, MOX_IMAP_BAD, "TOOBIG",
			       "non-synchronizing literal over 4096 octets, "
			       "LITERAL- only");
			return false;
		}
	}
	if (size > p->lim.max_literal) {
		char t[120];
		snprintf(t, sizeof(t), "literal of %llu octets larger than %zu",
			 (unsigned long long)size, p->lim.max_literal);
		refuse(p, MOX_IMAP_NO, "TOOBIG", t);
		return false;
	}
	if (!streamed &&
	    (size > p->lim.max_command || p->cmd.len > p->lim.max_command - size)) {
		refuse(p, MOX_IMAP_NO, "TOOBIG", "command too large");
		return false;
	}
	return true;
}

/* Whether the literal announced at the end of the current line is the
 * message of an APPEND (RFC 9051 section 6.3.12, RFC 3502): the command is
 * APPEND and the literal is not its mailbox name, the first argument. */
static bool
append_msg_literal(const mox_imap_parser *p, const uint8_t *line, size_t n)
{
	const uint8_t *c = p->cmd.data;
	size_t len = p->line_start > 0 ? p->cmd.len : n, i = 0;
	while (i < len && c[i] != ' ')
		i++;
	static const char kw[] = " APPEND ";
	if (i == 0 || len - i < 8)
		return false;
	for (size_t k = 0; k < 8; k++) {
		uint8_t ch = c[i + k];
		if (ch >= 'a' && ch <= 'z')
			ch = (uint8_t)(ch - 32);
		if (ch != (uint8_t)kw[k])
			return false;
	}
	if (p->line_start > 0)
		return true;
	/* First line: something before the announcement after "APPEND ". */
	size_t brace = n;
	while (brace > 0 && line[brace - 1] != '{')
		brace--;
	if (brace > 0 && brace - 1 > 0 && line[brace - 2] == '~')
		brace--;
	return brace > 0 && brace - 1 > i + 8;
}

/* Record a message literal of the command (size, streamed). */
static mox_err
stream_note(mox_imap_parser *p, uint64_t size, bool streamed)
{
	uint8_t rec[9];
	memcpy(rec, &size, 8);
	rec[8] = streamed;
	return mox_buf_append(&p->streamed, rec, sizeof(rec));
}

/* Put the sizes of streamed literals into the parsed APPEND. */
static bool
stream_apply(mox_imap_parser *p)
{
	size_t n = p->streamed.len / 9;
	if (p->parsed.type != MOX_IMAP_CMD_APPEND)
		return n == 0;
	if (n == 0)
		return true;
	if (n != p->parsed.nmsgs)
		return false;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *rec = p->streamed.data + 9 * i;
		if (!rec[8])
			continue;
		uint64_t size;
		memcpy(&size, rec, 8);
		p->parsed.msgs[i].streamed = true;
		p->parsed.msgs[i].data = NULL;
		p->parsed.msgs[i].len = (size_t)size;
	}
	return true;
}

static mox_err
parse_complete(mox_imap_parser *p, mox_imap_event *ev)
{
	mox__imap_arena_reset(&p->arena);
	mox__imap_lx lx;
	memset(&lx, 0, sizeof(lx));
	lx.b = p->cmd.data;
	lx.len = p->cmd.len;
	lx.arena = &p->arena;
	lx.limits = &p->lim;
	lx.flags = p->flags;
	lx.status = MOX_IMAP_BAD;
	memset(&p->parsed, 0, sizeof(p->parsed));
	bool ok = mox__imap_cmd_parse(&lx, &p->parsed);
	if (lx.oom) {
		mox__imap_arena_reset(&p->arena);
		return MOX_ENOMEM; /* complete stays set: retried */
	}
	p->complete = false;
	memset(ev, 0, sizeof(*ev));
	if (ok && !stream_apply(p)) {
		ok = false;
		lx.status = MOX_IMAP_BAD;
		lx.code = NULL;
		snprintf(lx.err, sizeof(lx.err), "%s", "unexpected literals in APPEND");
	}
	mox_buf_reset(&p->streamed);
	if (ok) {
		ev->type = MOX_IMAP_EV_COMMAND;
		ev->cmd = &p->parsed;
		return MOX_OK;
	}
	take_tag(p);
	if (p->parsed.tag != NULL && strcmp(p->rtag, "*") == 0)
		snprintf(p->rtag, sizeof(p->rtag), "%s", p->parsed.tag);
	p->rstatus = lx.status;
	p->rcode = lx.code;
	snprintf(p->rtext, sizeof(p->rtext), "%s", lx.err);
	ev->type = MOX_IMAP_EV_REJECT;
	ev->reject.tag = p->rtag;
	ev->reject.status = p->rstatus;
	ev->reject.code = p->rcode;
	ev->reject.text = p->rtext;
	return MOX_OK;
}

static void
tail_push(mox_imap_parser *p, const uint8_t *d, size_t n)
{
	if (n >= sizeof(p->tail)) {
		memcpy(p->tail, d + n - sizeof(p->tail), sizeof(p->tail));
		p->tail_len = sizeof(p->tail);
		return;
	}
	if (p->tail_len + n > sizeof(p->tail)) {
		size_t drop = p->tail_len + n - sizeof(p->tail);
		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, d, n);
	p->tail_len += n;
}

static size_t
strip_eol(const uint8_t *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	return n;
}

mox_err
mox_imap_parser_next(mox_imap_parser *p, mox_imap_event *ev_out)
{
	if (p == NULL || ev_out == NULL)
		return MOX_EINVAL;
	memset(ev_out, 0, sizeof(*ev_out));
	if (p->complete)
		return parse_complete(p, ev_out);
	if (p->st == ST_LINE && p->cmd.len == 0) {
		mox__imap_arena_reset(&p->arena);
		mox_buf_reset(&p->streamed);
	}
	for (;;) {
		const uint8_t *d = p->in.data + p->inpos;
		size_t avail = p->in.len - p->inpos;
		if (avail == 0)
			return MOX_EAGAIN;
		switch (p->st) {
		case ST_RAWLINE:
		case ST_LINE: {
			/* Room for what streaming an APPEND literal adds, taken
			 * before any input is consumed (ENOMEM loses nothing). */
			if ((p->flags & MOX_IMAP_APPEND_STREAM) &&
			    mox_buf_reserve(&p->streamed, 9) != MOX_OK)
				return MOX_ENOMEM;
			const uint8_t *lf = memchr(d, '\n', avail);
			size_t take = lf != NULL ? (size_t)(lf - d) + 1 : avail;
			size_t linelen = p->cmd.len - p->line_start;
			if (linelen + take > p->lim.max_line + 2) {
				if (p->st == ST_RAWLINE) {
					strcpy(p->rtag, "*");
					p->rstatus = MOX_IMAP_BYE;
					p->rcode = "TOOBIG";
					snprintf(p->rtext, sizeof(p->rtext),
						 "line too long");
					emit_refusal(p, ev_out);
					ev_out->reject.fatal = true;
					p->inpos = p->in.len;
					p->st = ST_LINE;
					return MOX_OK;
				}
				/* Keep what fits, for the tag. */
				size_t fit = p->lim.max_line + 2 - linelen;
				if (mox_buf_append(&p->cmd, d, fit) != MOX_OK)
					return MOX_ENOMEM;
				p->inpos += fit;
				refuse(p, MOX_IMAP_BAD, "TOOBIG", "line too long");
				p->tail_len = 0;
				p->st = ST_DISCARD;
				continue;
			}
			if (mox_buf_append(&p->cmd, d, take) != MOX_OK)
				return MOX_ENOMEM;
			p->inpos += take;
			if (lf == NULL)
				return MOX_EAGAIN;
			const uint8_t *line = p->cmd.data + p->line_start;
			size_t n = strip_eol(line, p->cmd.len - p->line_start);
			if (p->st == ST_RAWLINE) {
				p->st = ST_LINE;
				ev_out->type = MOX_IMAP_EV_LINE;
				ev_out->line = line;
				ev_out->line_len = n;
				p->cmd.len = p->line_start + n;
				p->cmd.data[p->cmd.len] = '\0';
				p->line_start = 0;
				/* cmd is reset when the next command starts */
				p->complete = false;
				p->st = ST_LINE;
				/* Make the next call start a fresh command. */
				p->cmd.len = 0;
				return MOX_OK;
			}
			uint64_t size;
			bool sync;
			if (literal_at_end(line, n, &size, &sync)) {
				bool msg = (p->flags & MOX_IMAP_APPEND_STREAM) &&
					   append_msg_literal(p, line, n);
				bool stream = msg && size > 0;
				if (!literal_ok(p, size, sync, stream)) {
					if (sync) {
						emit_refusal(p, ev_out);
						return MOX_OK;
					}
					p->remain = size;
					p->st = ST_SKIPLIT;
					continue;
				}
				if (msg && stream_note(p, size, stream) != MOX_OK)
					return MOX_ENOMEM;
				p->remain = size;
				p->st = ST_LITERAL;
				if (stream) {
					/* cmd gets "{0}" and the line end for the
					 * grammar: never longer than what it
					 * replaces, so no allocation. */
					size_t brace = n;
					while (line[brace - 1] != '{')
						brace--;
					size_t eol = p->cmd.len - p->line_start - n;
					uint8_t *w = p->cmd.data + p->line_start + brace;
					w[0] = '0';
					w[1] = '}';
					memmove(w + 2, p->cmd.data + p->line_start + n, eol);
					p->cmd.len = p->line_start + brace + 2 + eol;
					p->cmd.data[p->cmd.len] = '\0';
					p->st = ST_STREAM;
					p->stream_size = size;
					p->stream_off = 0;
					p->stream_index = p->streamed.len / 9 - 1;
				}
				if (sync) {
					ev_out->type = MOX_IMAP_EV_CONTINUE;
					return MOX_OK;
				}
				continue;
			}
			/* The command is complete; drop the final line end. */
			p->cmd.len = p->line_start + n;
			p->cmd.data[p->cmd.len] = '\0';
			p->line_start = 0;
			if (p->cmd.len == 0)
				continue; /* empty line: ignored */
			p->complete = true;
			mox_err err = parse_complete(p, ev_out);
			if (err == MOX_OK)
				mox_buf_reset(&p->cmd);
			return err;
		}
		case ST_LITERAL: {
			size_t take = avail;
			if ((uint64_t)take > p->remain)
				take = (size_t)p->remain;
			if (mox_buf_append(&p->cmd, d, take) != MOX_OK)
				return MOX_ENOMEM;
			p->inpos += take;
			p->remain -= take;
			if (p->remain == 0) {
				p->st = ST_LINE;
				p->line_start = p->cmd.len;
			}
			continue;
		}
		case ST_STREAM: {
			size_t take = avail;
			if ((uint64_t)take > p->remain)
				take = (size_t)p->remain;
			ev_out->type = MOX_IMAP_EV_APPEND_DATA;
			ev_out->line = d;
			ev_out->line_len = take;
			ev_out->append_size = p->stream_size;
			ev_out->append_offset = p->stream_off;
			ev_out->append_index = p->stream_index;
			p->inpos += take;
			p->remain -= take;
			p->stream_off += take;
			if (p->remain == 0) {
				p->st = ST_LINE;
				p->line_start = p->cmd.len;
			}
			return MOX_OK;
		}
		case ST_SKIPLIT: {
			size_t take = avail;
			if ((uint64_t)take > p->remain)
				take = (size_t)p->remain;
			p->inpos += take;
			p->remain -= take;
			if (p->remain == 0) {
				p->tail_len = 0;
				p->st = ST_DISCARD;
			}
			continue;
		}
		case ST_DISCARD: {
			const uint8_t *lf = memchr(d, '\n', avail);
			size_t take = lf != NULL ? (size_t)(lf - d) + 1 : avail;
			tail_push(p, d, take);
			p->inpos += take;
			if (lf == NULL)
				return MOX_EAGAIN;
			size_t n = strip_eol(p->tail, p->tail_len);
			uint64_t size;
			bool sync;
			if (literal_at_end(p->tail, n, &size, &sync) && !sync) {
				p->remain = size;
				p->st = ST_SKIPLIT;
				continue;
			}
			emit_refusal(p, ev_out);
			return MOX_OK;
		}
		}
	}
}
