/* FETCH, RFC 9051 section 6.4.5, with RFC 3501's RFC822 items, BINARY (RFC
 * 3516), CONDSTORE/QRESYNC modifiers (RFC 7162), SAVEDATE (RFC 8514),
 * EMAILID/THREADID (RFC 8474) and PREVIEW (RFC 8970).
 *
 *   fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *                     fetch-att / "(" fetch-att *(SP fetch-att) ")")
 *                     [fetch-modifiers]
 *   section         = "[" [section-spec] "]"
 *   section-spec    = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                     "TEXT"
 *   section-part    = nz-number *("." nz-number)
 *   section-text    = section-msgtext / "MIME"
 *   section-binary  = "[" [section-part] "]"
 *   partial         = "<" number64 "." nz-number64 ">"
 *
 * The macros ALL, FAST and FULL are expanded (RFC 9051 section 6.4.5).
 */
#include "imap_int.h"

#include <string.h>

static bool
push_att(mox__imap_lx *lx, mox_imap_cmd *cmd, size_t *cap, mox_imap_fetch_type t)
{
	if (!mox__imap_count(lx))
		return false;
	cmd->atts = mox__imap_grow(lx, cmd->atts, cap, cmd->natts, sizeof(*cmd->atts));
	if (cmd->atts == NULL)
		return false;
	memset(&cmd->atts[cmd->natts], 0, sizeof(*cmd->atts));
	cmd->atts[cmd->natts++].type = t;
	return true;
}

static bool
header_list(mox__imap_lx *lx, mox_imap_section *s)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx) || !mox__imap_open(lx))
		return false;
	do {
		mox_imap_str f;
		if (!mox__imap_count(lx) || !mox__imap_astring(lx, &f))
			return false;
		if (f.len == 0 || memchr(f.s, ':', f.len) != NULL ||
		    memchr(f.s, ' ', f.len) != NULL)
			return mox__imap_fail(lx, "invalid header field name");
		s->fields = mox__imap_grow(lx, s->fields, &cap, s->nfields,
					   sizeof(*s->fields));
		if (s->fields == NULL)
			return false;
		s->fields[s->nfields++] = f.s;
	} while (mox__imap_eat(lx, ' '));
	if (!mox__imap_expect(lx, ')', "')' after header field names"))
		return false;
	mox__imap_close(lx);
	return true;
}

static bool
msgtext(mox__imap_lx *lx, mox_imap_section *s, bool allow_mime)
{
	if (mox__imap_keyword(lx, "HEADER.FIELDS.NOT")) {
		s->text = MOX_IMAP_SECTION_HEADER_FIELDS_NOT;
		return header_list(lx, s);
	}
	if (mox__imap_keyword(lx, "HEADER.FIELDS")) {
		s->text = MOX_IMAP_SECTION_HEADER_FIELDS;
		return header_list(lx, s);
	}
	if (mox__imap_keyword(lx, "HEADER")) {
		s->text = MOX_IMAP_SECTION_HEADER;
		return true;
	}
	if (mox__imap_keyword(lx, "TEXT")) {
		s->text = MOX_IMAP_SECTION_TEXT;
		return true;
	}
	if (allow_mime && mox__imap_keyword(lx, "MIME")) {
		s->text = MOX_IMAP_SECTION_MIME;
		return true;
	}
	return mox__imap_fail(lx, "unknown section text");
}

static bool
section(mox__imap_lx *lx, mox_imap_section *s, bool binary)
{
	size_t cap = 0;
	if (!mox__imap_expect(lx, '[', "'['"))
		return false;
	if (mox__imap_eat(lx, ']'))
		return true;
	if (lx->pos < lx->len && lx->b[lx->pos] >= '1' && lx->b[lx->pos] <= '9') {
		for (;;) {
			uint32_t n;
			if (!mox__imap_count(lx) || !mox__imap_number(lx, &n, true))
				return false;
			s->part = mox__imap_grow(lx, s->part, &cap, s->npart,
						 sizeof(*s->part));
			if (s->part == NULL)
				return false;
			s->part[s->npart++] = n;
			if (!mox__imap_eat(lx, '.'))
				break;
			if (lx->pos < lx->len && lx->b[lx->pos] >= '0' && lx->b[lx->pos] <= '9')
				continue;
			if (binary)
				return mox__imap_fail(lx, "expected part number");
			if (!msgtext(lx, s, true))
				return false;
			break;
		}
	} else if (binary) {
		return mox__imap_fail(lx, "expected part number or ']'");
	} else if (!msgtext(lx, s, false)) {
		return false;
	}
	return mox__imap_expect(lx, ']', "']' ending section");
}

static bool
partial(mox__imap_lx *lx, mox_imap_fetch_att *a)
{
	if (!mox__imap_eat(lx, '<'))
		return true;
	a->partial = true;
	return mox__imap_number(lx, &a->partial_offset, false) &&
	       mox__imap_expect(lx, '.', "'.' in partial") &&
	       mox__imap_number(lx, &a->partial_count, true) &&
	       mox__imap_expect(lx, '>', "'>' ending partial");
}

static const struct {
	const char *name;
	mox_imap_fetch_type type;
} simple[] = {
	{"ENVELOPE", MOX_IMAP_FA_ENVELOPE},
	{"FLAGS", MOX_IMAP_FA_FLAGS},
	{"INTERNALDATE", MOX_IMAP_FA_INTERNALDATE},
	{"RFC822.SIZE", MOX_IMAP_FA_RFC822_SIZE},
	{"RFC822.HEADER", MOX_IMAP_FA_RFC822_HEADER},
	{"RFC822.TEXT", MOX_IMAP_FA_RFC822_TEXT},
	{"RFC822", MOX_IMAP_FA_RFC822},
	{"BODYSTRUCTURE", MOX_IMAP_FA_BODYSTRUCTURE},
	{"UID", MOX_IMAP_FA_UID},
	{"MODSEQ", MOX_IMAP_FA_MODSEQ},
	{"SAVEDATE", MOX_IMAP_FA_SAVEDATE},
	{"EMAILID", MOX_IMAP_FA_EMAILID},
	{"THREADID", MOX_IMAP_FA_THREADID},
	{"PREVIEW", MOX_IMAP_FA_PREVIEW},
};

static bool
fetch_att(mox__imap_lx *lx, mox_imap_cmd *cmd, size_t *cap)
{
	size_t s = lx->pos;
	while (lx->pos < lx->len && mox__imap_is_atom_char(lx->b[lx->pos]) &&
	       lx->b[lx->pos] != '[' && lx->b[lx->pos] != '<')
		lx->pos++;
	const char *n = (const char *)lx->b + s;
	size_t len = lx->pos - s;
	if (len == 0)
		return mox__imap_fail(lx, "expected fetch attribute");
	bool bracket = mox__imap_peek(lx, '[');
	struct {
		const char *name;
		mox_imap_fetch_type type;
		bool peek;
	} sect[] = {
		{"BODY", MOX_IMAP_FA_BODY_SECTION, false},
		{"BODY.PEEK", MOX_IMAP_FA_BODY_SECTION, true},
		{"BINARY", MOX_IMAP_FA_BINARY, false},
		{"BINARY.PEEK", MOX_IMAP_FA_BINARY, true},
		{"BINARY.SIZE", MOX_IMAP_FA_BINARY_SIZE, false},
	};
	if (bracket) {
		for (size_t i = 0; i < sizeof(sect) / sizeof(*sect); i++) {
			if (!mox__imap_eq_nocase(n, len, sect[i].name))
				continue;
			if (!push_att(lx, cmd, cap, sect[i].type))
				return false;
			mox_imap_fetch_att *a = &cmd->atts[cmd->natts - 1];
			a->peek = sect[i].peek;
			if (!section(lx, &a->section, sect[i].type != MOX_IMAP_FA_BODY_SECTION))
				return false;
			if (sect[i].type == MOX_IMAP_FA_BINARY_SIZE)
				return true;
			return partial(lx, a);
		}
		return mox__imap_fail(lx, "unknown fetch attribute with section");
	}
	if (mox__imap_eq_nocase(n, len, "BODY"))
		return push_att(lx, cmd, cap, MOX_IMAP_FA_BODY);
	if (mox__imap_eq_nocase(n, len, "PREVIEW") && mox__imap_peek(lx, ' ') &&
	    lx->pos + 1 < lx->len && lx->b[lx->pos + 1] == '(') {
		/* RFC 8970: PREVIEW (LAZY) */
		if (!push_att(lx, cmd, cap, MOX_IMAP_FA_PREVIEW))
			return false;
		lx->pos++;
		mox_imap_str m;
		if (!mox__imap_open(lx) || !mox__imap_atom(lx, &m) ||
		    !mox__imap_eq_nocase(m.s, m.len, "LAZY"))
			return mox__imap_fail(lx, "unknown PREVIEW modifier");
		if (!mox__imap_expect(lx, ')', "')'"))
			return false;
		mox__imap_close(lx);
		return true;
	}
	for (size_t i = 0; i < sizeof(simple) / sizeof(*simple); i++)
		if (mox__imap_eq_nocase(n, len, simple[i].name))
			return push_att(lx, cmd, cap, simple[i].type);
	lx->pos = s;
	return mox__imap_fail(lx, "unknown fetch attribute %.*s", (int)(len > 40 ? 40 : len), n);
}

bool
mox__imap_cmd_fetch(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx) || !mox__imap_seqset(lx, &cmd->set, true) ||
	    !mox__imap_sp(lx))
		return false;
	static const mox_imap_fetch_type fast[] = {
		MOX_IMAP_FA_FLAGS, MOX_IMAP_FA_INTERNALDATE, MOX_IMAP_FA_RFC822_SIZE,
		MOX_IMAP_FA_ENVELOPE, MOX_IMAP_FA_BODY};
	size_t macro = 0;
	if (mox__imap_keyword(lx, "ALL"))
		macro = 4;
	else if (mox__imap_keyword(lx, "FAST"))
		macro = 3;
	else if (mox__imap_keyword(lx, "FULL"))
		macro = 5;
	if (macro > 0) {
		cmd->fetch_macro = true;
		for (size_t i = 0; i < macro; i++)
			if (!push_att(lx, cmd, &cap, fast[i]))
				return false;
	} else if (mox__imap_peek(lx, '(')) {
		if (!mox__imap_open(lx))
			return false;
		do {
			if (!fetch_att(lx, cmd, &cap))
				return false;
		} while (mox__imap_eat(lx, ' '));
		if (!mox__imap_expect(lx, ')', "')' or space after fetch attribute"))
			return false;
		mox__imap_close(lx);
	} else if (!fetch_att(lx, cmd, &cap)) {
		return false;
	}
	if (mox__imap_eat(lx, ' ')) {
		/* fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")" */
		if (!mox__imap_open(lx))
			return false;
		do {
			if (mox__imap_keyword(lx, "CHANGEDSINCE")) {
				cmd->has_changedsince = true;
				if (!mox__imap_sp(lx) ||
				    !mox__imap_number64(lx, &cmd->changedsince, false))
					return false;
			} else if (mox__imap_keyword(lx, "VANISHED")) {
				/* RFC 7162 section 3.2.6: UID FETCH only. */
				if (!cmd->uid)
					return mox__imap_fail(lx, "VANISHED needs UID FETCH");
				cmd->vanished = true;
			} else {
				return mox__imap_fail(lx, "unknown fetch modifier");
			}
		} while (mox__imap_eat(lx, ' '));
		if (!mox__imap_expect(lx, ')', "')'"))
			return false;
		mox__imap_close(lx);
		if (cmd->vanished && !cmd->has_changedsince)
			return mox__imap_fail(lx, "VANISHED without CHANGEDSINCE");
	}
	return mox__imap_end(lx);
}
