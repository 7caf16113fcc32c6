/* Address lists, RFC 5322 section 3.4, with the obsolete syntax of section
 * 4.4 and RFC 6532 UTF-8.
 *
 *   address-list = (address *("," address)) / obs-addr-list
 *   address      = mailbox / group
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] angle-addr
 *   angle-addr   = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
 *   group        = display-name ":" [group-list] ";" [CFWS]
 *   display-name = phrase
 *   addr-spec    = local-part "@" domain
 *   local-part   = dot-atom / quoted-string / obs-local-part
 *   domain       = dot-atom / domain-literal / obs-domain
 *   obs-angle-addr  = [CFWS] "<" obs-route addr-spec ">" [CFWS]
 *   obs-route       = obs-domain-list ":"
 *   obs-local-part  = word *("." word)
 *   obs-domain      = atom *("." atom)
 *   obs-phrase      = word *(word / "." / CFWS)
 *   obs-addr-list   = *([CFWS] ",") address *("," [address / CFWS])
 *
 * How this works: a lexer cuts the value into entries at the commas (and
 * semicolons) that are outside angle brackets, quoted strings, comments
 * and domain literals, and into tokens within an entry: atoms, quoted
 * strings (unescaped, unfolded), domain literals, comments and the special
 * characters. A ':' outside angle brackets opens a group; ';' closes it.
 * Each entry is then read from its tokens: with a '<' it is a name-addr
 * (tokens before are the display name, an obsolete route after '<' is
 * skipped as section 4.4 says), otherwise an addr-spec. Comments are white
 * space, except that a mailbox without display name takes its first
 * comment as the name ("jdoe@example.org (John Doe)", the RFC 822 habit
 * Go's net/mail also reads).
 *
 * Display names: atoms are decoded with mox_msg_decode_text (RFC 2047
 * encoded words; white space between adjacent ones dropped); quoted
 * strings are taken literally, RFC 2047 section 5 does not let encoded
 * words stand in them. Words are joined by one space where the input had
 * white space or a comment between them.
 *
 * Lenient, each flagged MOX_MSG_WARN_BAD_FIELD (MOX_ESYNTAX in strict
 * mode): an unparsable entry is skipped and reading goes on at the next
 * comma; a local part without '@' and domain is kept with domain NULL;
 * dots at the ends of a local part or doubled; '@' in a display name;
 * ';' as list separator; a group without its ';'; a missing '>';
 * display-name words after the angle-addr.
 *
 * Limits: comments nest at most MOX_MSG_COMMENT_DEPTH_MAX deep; nothing is
 * recursive. Memory is the token array of the longest entry plus the
 * result. */
#include "msg_int.h"

#include <string.h>

static const uint8_t replacement[] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

enum { T_ATOM, T_QSTR, T_DLIT, T_COMMENT, T_SPECIAL, T_BAD };

typedef struct tok {
	int type;
	uint8_t ch;        /* T_SPECIAL: the character */
	bool ws;           /* white space or a comment before it */
	size_t start;      /* offset in the value */
	size_t off, n;     /* T_ATOM: span in the value; T_QSTR, T_DLIT,
			      T_COMMENT: content in scratch */
} tok;

typedef struct parser {
	const uint8_t *v;
	size_t len, pos;
	const mox_allocator *alloc;
	bool strict;
	bool in_group;
	tok *toks;
	size_t ntoks, captoks;
	mox_buf scratch; /* unescaped token contents of the entry */
	mox_buf name, run, local, domain;
	unsigned warn;
	mox_err synerr; /* MOX_ESYNTAX once a strict-mode problem was seen */
	mox_errinfo *info;
	mox_msg_addr_list *list;
	size_t cap;
	char *group;     /* name of the open group */
	bool group_used; /* an entry points to group */
} parser;

/* RFC 5322 section 3.2.3 atext, plus RFC 6532 section 3.2 UTF8-non-ascii
 * (any byte >= 0x80 here; invalid UTF-8 is replaced later). */
static bool
is_atext(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Note a problem: a warning, and in strict mode the error to return. */
static void
bad(parser *p, size_t offset, const char *what)
{
	p->warn |= MOX_MSG_WARN_BAD_FIELD;
	if (p->strict && p->synerr == MOX_OK) {
		p->synerr = MOX_ESYNTAX;
		mox_errinfo_set(p->info, MOX_ESYNTAX, offset, "%s at %zu", what,
				offset);
	}
}

/* Append text as UTF-8: invalid sequences and NUL become U+FFFD. */
static mox_err
append_clean(parser *p, mox_buf *out, const uint8_t *s, size_t n)
{
	size_t run = 0;
	mox_err err;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != 0)
			continue;
		bool replaced = false;
		if ((err = mox__msg_utf8_sanitize(s + run, i - run, out, &replaced)) !=
		    MOX_OK)
			return err;
		if (replaced)
			p->warn |= MOX_MSG_WARN_BAD_CHARSET;
		if (i < n) {
			if ((err = mox_buf_append(out, replacement, 3)) != MOX_OK)
				return err;
			p->warn |= MOX_MSG_WARN_NUL;
		}
		run = i + 1;
	}
	return MOX_OK;
}

static mox_err
push_tok(parser *p, int type, size_t start, size_t off, size_t n, bool ws)
{
	if (p->ntoks == p->captoks) {
		size_t cap = p->captoks == 0 ? 16 : p->captoks * 2;
		tok *t = mox_mem_reallocarray(p->alloc, p->toks, cap, sizeof(*t));
		if (t == NULL)
			return MOX_ENOMEM;
		p->toks = t;
		p->captoks = cap;
	}
	tok *t = &p->toks[p->ntoks++];
	t->type = type;
	t->ch = type == T_SPECIAL ? p->v[start] : 0;
	t->ws = ws;
	t->start = start;
	t->off = off;
	t->n = n;
	return MOX_OK;
}

/* comment = "(" *([FWS] ccontent) [FWS] ")"; ccontent = ctext /
 * quoted-pair / comment (RFC 5322 section 3.2.2). The content, with inner
 * parentheses and line breaks but without quoting, goes to scratch; the
 * caller reads it with mox_msg_decode_text. Returns T_COMMENT, or T_BAD
 * when unterminated or nested too deep. */
static mox_err
lex_comment(parser *p, int *type)
{
	size_t depth = 0;
	bool deep = false;
	mox_err err;
	*type = T_BAD;
	while (p->pos < p->len) {
		uint8_t c = p->v[p->pos++];
		if (c == '\\' && p->pos < p->len) {
			c = p->v[p->pos++];
		} else if (c == '(') {
			if (++depth > MOX_MSG_COMMENT_DEPTH_MAX)
				deep = true;
			if (depth == 1)
				continue;
		} else if (c == ')') {
			if (--depth == 0) {
				*type = deep ? T_BAD : T_COMMENT;
				return MOX_OK;
			}
		}
		if ((err = mox_buf_append_byte(&p->scratch, c)) != MOX_OK)
			return err;
	}
	return MOX_OK;
}

/* quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS];
 * qcontent = qtext / quoted-pair. Unfolding drops the line breaks and keeps
 * the white space (section 3.2.4). T_BAD when unterminated. */
static mox_err
lex_qstr(parser *p, int *type)
{
	mox_err err;
	*type = T_BAD;
	p->pos++;
	while (p->pos < p->len) {
		uint8_t c = p->v[p->pos++];
		if (c == '"') {
			*type = T_QSTR;
			return MOX_OK;
		}
		if (c == '\\' && p->pos < p->len)
			c = p->v[p->pos++];
		if (c == '\r' || c == '\n')
			continue;
		if ((err = mox_buf_append_byte(&p->scratch, c)) != MOX_OK)
			return err;
	}
	return MOX_OK;
}

/* domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS], dtext is
 * printable ASCII but "[", "]" and "\"; obs-dtext adds quoted-pair. The
 * white space is dropped. */
static mox_err
lex_dlit(parser *p, int *type)
{
	mox_err err;
	*type = T_BAD;
	p->pos++;
	while (p->pos < p->len) {
		uint8_t c = p->v[p->pos++];
		if (c == ']') {
			*type = T_DLIT;
			return MOX_OK;
		}
		if (c == '[')
			return MOX_OK;
		if (c == '\\' && p->pos < p->len)
			c = p->v[p->pos++];
		if (is_space(c))
			continue;
		if ((err = mox_buf_append_byte(&p->scratch, c)) != MOX_OK)
			return err;
	}
	return MOX_OK;
}

/* Read the tokens of one entry, up to a delimiter outside angle brackets:
 * ',' or ';' (*delim gets it), ':' opening a group, or the end (0). Inside
 * an obsolete route ("<@a,@b:x@y>") commas belong to the route. */
static mox_err
lex_entry(parser *p, uint8_t *delim)
{
	bool ws = false, route = false;
	int angle = 0; /* 0: not seen, 1: open, 2: closed */
	size_t in_angle = 0;
	mox_err err;
	p->ntoks = 0;
	mox_buf_reset(&p->scratch);
	*delim = 0;
	while (p->pos < p->len) {
		size_t start = p->pos;
		uint8_t c = p->v[p->pos];
		int type;
		if (is_space(c)) {
			ws = true;
			p->pos++;
			continue;
		}
		if (c == '(' || c == '"' || c == '[') {
			size_t off = p->scratch.len;
			if (c == '(')
				err = lex_comment(p, &type);
			else if (c == '"')
				err = lex_qstr(p, &type);
			else
				err = lex_dlit(p, &type);
			if (err != MOX_OK)
				return err;
			if ((err = push_tok(p, type, start, off, p->scratch.len - off,
					    ws)) != MOX_OK)
				return err;
			ws = c == '(';
			if (angle == 1 && c != '(')
				in_angle++;
			continue;
		}
		if ((c == ',' && !route) || c == ';' ||
		    (c == ':' && angle == 0 && !p->in_group)) {
			*delim = c;
			p->pos++;
			return MOX_OK;
		}
		if (c == '<' || c == '>' || c == '@' || c == '.' || c == ':' ||
		    c == ',') {
			if (c == '<' && angle == 0) {
				angle = 1;
				in_angle = 0;
			} else if (c == '>' && angle == 1) {
				angle = 2;
				route = false;
			} else if (angle == 1) {
				if (c == '@' && in_angle == 0)
					route = true;
				else if (c == ':')
					route = false;
				in_angle++;
			}
			p->pos++;
			if ((err = push_tok(p, T_SPECIAL, start, 0, 0, ws)) != MOX_OK)
				return err;
			ws = false;
			continue;
		}
		if (is_atext(c)) {
			while (p->pos < p->len && is_atext(p->v[p->pos]))
				p->pos++;
			type = T_ATOM;
		} else {
			/* Control characters and stray ")", "]", "\". */
			if (c == 0)
				p->warn |= MOX_MSG_WARN_NUL;
			p->pos++;
			type = T_BAD;
		}
		if ((err = push_tok(p, type, start, start, p->pos - start, ws)) !=
		    MOX_OK)
			return err;
		ws = false;
		if (angle == 1)
			in_angle++;
	}
	return MOX_OK;
}

static bool
is_special(const tok *t, uint8_t c)
{
	return t->type == T_SPECIAL && t->ch == c;
}

/* A token's text: atoms in the value, the others unescaped in scratch. */
static const uint8_t *
content(const parser *p, const tok *t)
{
	if (t->type == T_ATOM)
		return p->v + t->off;
	return p->scratch.data != NULL ? p->scratch.data + t->off
				       : (const uint8_t *)"";
}

/* Decode the atoms collected in p->run into p->name. */
static mox_err
flush_run(parser *p, bool space)
{
	if (p->run.len == 0)
		return MOX_OK;
	mox_err err;
	if (space && p->name.len > 0 &&
	    (err = mox_buf_append_byte(&p->name, ' ')) != MOX_OK)
		return err;
	unsigned w = 0;
	err = mox_msg_decode_text(p->run.data, p->run.len, &p->name, &w);
	p->warn |= w;
	mox_buf_reset(&p->run);
	return err;
}

/* Render the phrase in toks[from, to) into p->name. *ok is false when it
 * holds something a phrase cannot (a stray special or bad token). '@' is
 * taken (lenient, flagged by the caller through *at). */
static mox_err
render_phrase(parser *p, size_t from, size_t to, bool *ok, bool *at)
{
	mox_err err;
	bool run_space = false;
	*ok = true;
	*at = false;
	mox_buf_reset(&p->name);
	mox_buf_reset(&p->run);
	for (size_t i = from; i < to; i++) {
		const tok *t = &p->toks[i];
		if (t->type == T_COMMENT)
			continue;
		if (t->type == T_ATOM || is_special(t, '.') || is_special(t, '@')) {
			if (is_special(t, '@'))
				*at = true;
			if (p->run.len == 0)
				run_space = t->ws;
			else if (t->ws && (err = mox_buf_append_byte(&p->run, ' ')) !=
						  MOX_OK)
				return err;
			const uint8_t *s = t->type == T_ATOM ? p->v + t->off : &t->ch;
			size_t n = t->type == T_ATOM ? t->n : 1;
			if ((err = mox_buf_append(&p->run, s, n)) != MOX_OK)
				return err;
			continue;
		}
		if (t->type != T_QSTR) {
			*ok = false;
			continue;
		}
		bool space = t->ws;
		if ((err = flush_run(p, run_space)) != MOX_OK)
			return err;
		if (space && p->name.len > 0 &&
		    (err = mox_buf_append_byte(&p->name, ' ')) != MOX_OK)
			return err;
		if ((err = append_clean(p, &p->name, content(p, t),
					t->n)) != MOX_OK)
			return err;
	}
	return flush_run(p, run_space);
}

/* Whether toks[from, to) hold a display-name word (not only comments). */
static bool
has_words(const parser *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p->toks[i].type != T_COMMENT)
			return true;
	return false;
}

/* local-part from toks[from, to) (comments skipped) into p->local,
 * unquoted. *ok false if it is not word *("." word); dots at the ends or
 * doubled are accepted and flagged through *odd. */
static mox_err
render_local(parser *p, size_t from, size_t to, bool *ok, bool *odd)
{
	mox_err err;
	bool want_word = true;
	size_t words = 0;
	*ok = false;
	*odd = false;
	mox_buf_reset(&p->local);
	for (size_t i = from; i < to; i++) {
		const tok *t = &p->toks[i];
		if (t->type == T_COMMENT)
			continue;
		if (t->type == T_ATOM || t->type == T_QSTR) {
			if (!want_word)
				return MOX_OK;
			if ((err = append_clean(p, &p->local, content(p, t), t->n)) !=
			    MOX_OK)
				return err;
			want_word = false;
			words++;
		} else if (is_special(t, '.')) {
			if (want_word)
				*odd = true;
			if ((err = mox_buf_append_byte(&p->local, '.')) != MOX_OK)
				return err;
			want_word = true;
		} else {
			return MOX_OK;
		}
	}
	if (words == 0)
		return MOX_OK;
	if (want_word)
		*odd = true;
	if (p->local.data == NULL && (err = mox_buf_reserve(&p->local, 0)) != MOX_OK)
		return err;
	*ok = true;
	return MOX_OK;
}

/* domain from toks[from, to) into p->domain: a domain literal, or atom
 * *("." atom) with comments and white space around the dots dropped. */
static mox_err
render_domain(parser *p, size_t from, size_t to, bool *ok)
{
	mox_err err;
	bool want_atom = true;
	size_t n = 0;
	*ok = false;
	mox_buf_reset(&p->domain);
	for (size_t i = from; i < to; i++) {
		const tok *t = &p->toks[i];
		if (t->type == T_COMMENT)
			continue;
		n++;
		if (t->type == T_DLIT) {
			if (n != 1)
				return MOX_OK;
			if ((err = mox_buf_append_byte(&p->domain, '[')) != MOX_OK ||
			    (err = append_clean(p, &p->domain, content(p, t),
						t->n)) != MOX_OK ||
			    (err = mox_buf_append_byte(&p->domain, ']')) != MOX_OK)
				return err;
			want_atom = false;
			continue;
		}
		if (p->domain.len > 0 && p->domain.data[0] == '[')
			return MOX_OK;
		if (t->type == T_ATOM && want_atom) {
			if ((err = append_clean(p, &p->domain, p->v + t->off, t->n)) !=
			    MOX_OK)
				return err;
			want_atom = false;
		} else if (is_special(t, '.') && !want_atom) {
			if ((err = mox_buf_append_byte(&p->domain, '.')) != MOX_OK)
				return err;
			want_atom = true;
		} else {
			return MOX_OK;
		}
	}
	*ok = n > 0 && !want_atom;
	return MOX_OK;
}

static char *
dup_buf(parser *p, const mox_buf *b)
{
	return mox_mem_strndup(p->alloc, b->len > 0 ? (const char *)b->data : "",
			       b->len);
}

/* Append an entry; takes the strings (freed on failure). */
static mox_err
push_addr(parser *p, char *name, char *local, char *domain, char *group)
{
	mox_msg_addr_list *l = p->list;
	if (l->n == p->cap) {
		size_t cap = p->cap == 0 ? 4 : p->cap * 2;
		mox_msg_addr *a = mox_mem_reallocarray(p->alloc, l->a, cap, sizeof(*a));
		if (a == NULL) {
			mox_mem_free(p->alloc, name);
			mox_mem_free(p->alloc, local);
			mox_mem_free(p->alloc, domain);
			return MOX_ENOMEM;
		}
		l->a = a;
		p->cap = cap;
	}
	mox_msg_addr *a = &l->a[l->n++];
	a->name = name;
	a->local = local;
	a->domain = domain;
	a->group = group;
	return MOX_OK;
}

/* Read one entry from its tokens and append the mailbox. */
static mox_err
read_entry(parser *p)
{
	size_t n = p->ntoks, lt = n, at = n, first_comment = n;
	size_t entry_off = n > 0 ? p->toks[0].start : p->pos;
	mox_err err;
	bool ok, odd, phrase_at, named = false;
	if (!has_words(p, 0, n))
		return MOX_OK; /* empty, or only comments */
	for (size_t i = 0; i < n; i++) {
		if (p->toks[i].type == T_COMMENT && first_comment == n)
			first_comment = i;
		if (is_special(&p->toks[i], '<') && lt == n)
			lt = i;
	}
	if (lt < n) {
		/* name-addr: phrase "<" [route] addr-spec ">" [trailing]. */
		size_t gt = n, a0 = lt + 1;
		for (size_t i = lt + 1; i < n; i++) {
			if (is_special(&p->toks[i], '>')) {
				gt = i;
				break;
			}
		}
		if (gt == n)
			bad(p, entry_off, "missing '>'");
		while (a0 < gt && p->toks[a0].type == T_COMMENT)
			a0++;
		if (a0 < gt && is_special(&p->toks[a0], '@')) {
			/* obs-route: ignored, RFC 5322 section 4.4. */
			while (a0 < gt && !is_special(&p->toks[a0], ':'))
				a0++;
			if (a0 == gt)
				goto unparsable;
			a0++;
		}
		for (size_t i = a0; i < gt; i++) {
			if (is_special(&p->toks[i], '@')) {
				if (at != n)
					goto unparsable;
				at = i;
			}
		}
		if ((err = render_local(p, a0, at < n ? at : gt, &ok, &odd)) != MOX_OK)
			return err;
		if (!ok)
			goto unparsable;
		if (at < n) {
			if ((err = render_domain(p, at + 1, gt, &ok)) != MOX_OK)
				return err;
			if (!ok)
				goto unparsable;
		}
		if ((err = render_phrase(p, 0, lt, &ok, &phrase_at)) != MOX_OK)
			return err;
		if (!ok)
			bad(p, entry_off, "bad display name");
		/* A bad phrase is read as far as it goes. */
		named = p->name.len > 0;
		if (phrase_at)
			bad(p, entry_off, "'@' in display name");
		if (gt < n && has_words(p, gt + 1, n)) {
			/* Words after the address: a misplaced name. */
			bad(p, entry_off, "text after address");
			if (!named) {
				if ((err = render_phrase(p, gt + 1, n, &ok, &phrase_at)) !=
				    MOX_OK)
					return err;
				named = p->name.len > 0;
			}
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (is_special(&p->toks[i], '@')) {
				if (at != n)
					goto unparsable;
				at = i;
			}
		}
		if ((err = render_local(p, 0, at, &ok, &odd)) != MOX_OK)
			return err;
		if (!ok)
			goto unparsable;
		if (at < n) {
			if ((err = render_domain(p, at + 1, n, &ok)) != MOX_OK)
				return err;
			if (!ok)
				goto unparsable;
		}
	}
	if (odd)
		bad(p, entry_off, "dots in local part");
	if (at == n)
		bad(p, entry_off, "address without domain");
	if (!named && first_comment < n) {
		/* The RFC 822 habit: "addr (Name)". */
		const tok *t = &p->toks[first_comment];
		unsigned w = 0;
		mox_buf_reset(&p->name);
		if ((err = mox_msg_decode_text(content(p, t), t->n, &p->name,
					       &w)) != MOX_OK)
			return err;
		p->warn |= w;
		named = p->name.len > 0;
	}
	char *name = named ? dup_buf(p, &p->name) : NULL;
	char *local = dup_buf(p, &p->local);
	char *domain = at < n ? dup_buf(p, &p->domain) : NULL;
	if ((named && name == NULL) || local == NULL || (at < n && domain == NULL)) {
		mox_mem_free(p->alloc, name);
		mox_mem_free(p->alloc, local);
		mox_mem_free(p->alloc, domain);
		return MOX_ENOMEM;
	}
	if ((err = push_addr(p, name, local, domain, p->group)) != MOX_OK)
		return err;
	if (p->group != NULL)
		p->group_used = true;
	return MOX_OK;

unparsable:
	bad(p, entry_off, "unparsable address");
	return MOX_OK;
}

/* Start a group named by the entry's tokens. */
static mox_err
open_group(parser *p)
{
	bool ok, at;
	mox_err err = render_phrase(p, 0, p->ntoks, &ok, &at);
	if (err != MOX_OK)
		return err;
	if (!ok || at || p->name.len == 0)
		bad(p, p->ntoks > 0 ? p->toks[0].start : p->pos, "bad group name");
	p->group = dup_buf(p, &p->name);
	if (p->group == NULL)
		return MOX_ENOMEM;
	p->group_used = false;
	p->in_group = true;
	return MOX_OK;
}

/* End the open group; a group without members still gets an entry. */
static mox_err
close_group(parser *p)
{
	mox_err err = MOX_OK;
	if (!p->group_used) {
		err = push_addr(p, NULL, NULL, NULL, p->group);
		if (err != MOX_OK)
			mox_mem_free(p->alloc, p->group);
	}
	p->group = NULL;
	p->group_used = false;
	p->in_group = false;
	return err;
}

void
mox_msg_addr_list_free(mox_msg_addr_list *list)
{
	if (list == NULL)
		return;
	const mox_allocator *alloc = list->alloc;
	for (size_t i = 0; i < list->n; i++) {
		mox_msg_addr *a = &list->a[i];
		mox_mem_free(alloc, a->name);
		mox_mem_free(alloc, a->local);
		mox_mem_free(alloc, a->domain);
		/* Members of one group share one string. */
		if (a->group != NULL && (i == 0 || list->a[i - 1].group != a->group))
			mox_mem_free(alloc, a->group);
	}
	mox_mem_free(alloc, list->a);
	mox_mem_free(alloc, list);
}

mox_err
mox_msg_addr_list_parse(const uint8_t *value, size_t len, unsigned flags,
			const mox_allocator *alloc, mox_msg_addr_list **list_out,
			unsigned *warnings_out, mox_errinfo *info)
{
	if (list_out != NULL)
		*list_out = NULL;
	if (warnings_out != NULL)
		*warnings_out = 0;
	if (list_out == NULL || (value == NULL && len > 0))
		return MOX_EINVAL;
	parser p;
	memset(&p, 0, sizeof(p));
	p.v = value;
	p.len = len;
	p.alloc = alloc;
	p.strict = (flags & MOX_MSG_STRICT) != 0;
	p.info = info;
	mox_buf_init(&p.scratch, alloc);
	mox_buf_init(&p.name, alloc);
	mox_buf_init(&p.run, alloc);
	mox_buf_init(&p.local, alloc);
	mox_buf_init(&p.domain, alloc);
	mox_err err = MOX_OK;
	p.list = mox_mem_calloc(alloc, 1, sizeof(*p.list));
	if (p.list == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	p.list->alloc = alloc;
	for (;;) {
		uint8_t delim;
		if ((err = lex_entry(&p, &delim)) != MOX_OK)
			goto out;
		if (delim == ':') {
			if ((err = open_group(&p)) != MOX_OK)
				goto out;
			continue;
		}
		if ((err = read_entry(&p)) != MOX_OK)
			goto out;
		if (delim == ';') {
			if (!p.in_group) {
				bad(&p, p.pos - 1, "';' outside group");
				continue;
			}
			if ((err = close_group(&p)) != MOX_OK)
				goto out;
			/* group = display-name ":" [group-list] ";" [CFWS], then
			 * a comma or the end. */
			size_t q = p.pos;
			while (q < len && is_space(value[q]))
				q++;
			if (q < len && value[q] != ',' && value[q] != '(')
				bad(&p, q, "missing ',' after group");
		}
		if (delim == 0)
			break;
	}
	if (p.in_group) {
		bad(&p, len, "group without ';'");
		if ((err = close_group(&p)) != MOX_OK)
			goto out;
	}
	if (p.synerr != MOX_OK)
		err = p.synerr;
out:
	if (p.group != NULL && !p.group_used)
		mox_mem_free(alloc, p.group);
	mox_mem_free(alloc, p.toks);
	mox_buf_free(&p.scratch);
	mox_buf_free(&p.name);
	mox_buf_free(&p.run);
	mox_buf_free(&p.local);
	mox_buf_free(&p.domain);
	if (err != MOX_OK) {
		mox_msg_addr_list_free(p.list);
		if (err == MOX_ENOMEM)
			mox_errinfo_set(info, err, 0, "out of memory");
		return err;
	}
	if (warnings_out != NULL)
		*warnings_out = p.warn;
	*list_out = p.list;
	return MOX_OK;
}
