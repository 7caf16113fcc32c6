/* SEARCH, RFC 9051 section 6.4.4 (and RFC 3501's keys NEW, OLD, RECENT),
 * with ESEARCH return options (RFC 4731), SAVE (RFC 5182), MODSEQ (RFC
 * 7162) and OLDER/YOUNGER (RFC 5032).
 *
 *   search          = "SEARCH" [search-return-opts] SP search-program
 *   search-program  = ["CHARSET" SP charset SP] search-key *(SP search-key)
 *   search-key      = "ALL" / "ANSWERED" / "BCC" SP astring / ... /
 *                     "NOT" SP search-key / "OR" SP search-key SP search-key /
 *                     sequence-set / "(" search-key *(SP search-key) ")"
 *
 * NOT, OR and parentheses nest; depth is bounded by max_depth, so the
 * recursion is too. Only US-ASCII and UTF-8 are accepted as charsets (RFC
 * 9051 section 6.4.4: others get NO [BADCHARSET]).
 */
#include "imap_int.h"

#include <string.h>

typedef enum argkind { A_NONE, A_STR, A_FLAG, A_DATE, A_NUM, A_NZNUM } argkind;

static const struct {
	const char *name;
	mox_imap_skey_type type;
	argkind arg;
} keys[] = {
	{"ALL", MOX_IMAP_SK_ALL, A_NONE},
	{"ANSWERED", MOX_IMAP_SK_ANSWERED, A_NONE},
	{"BCC", MOX_IMAP_SK_BCC, A_STR},
	{"BEFORE", MOX_IMAP_SK_BEFORE, A_DATE},
	{"BODY", MOX_IMAP_SK_BODY, A_STR},
	{"CC", MOX_IMAP_SK_CC, A_STR},
	{"DELETED", MOX_IMAP_SK_DELETED, A_NONE},
	{"DRAFT", MOX_IMAP_SK_DRAFT, A_NONE},
	{"FLAGGED", MOX_IMAP_SK_FLAGGED, A_NONE},
	{"FROM", MOX_IMAP_SK_FROM, A_STR},
	{"KEYWORD", MOX_IMAP_SK_KEYWORD, A_FLAG},
	{"LARGER", MOX_IMAP_SK_LARGER, A_NUM},
	{"NEW", MOX_IMAP_SK_NEW, A_NONE},
	{"OLD", MOX_IMAP_SK_OLD, A_NONE},
	{"ON", MOX_IMAP_SK_ON, A_DATE},
	{"RECENT", MOX_IMAP_SK_RECENT, A_NONE},
	{"SEEN", MOX_IMAP_SK_SEEN, A_NONE},
	{"SENTBEFORE", MOX_IMAP_SK_SENTBEFORE, A_DATE},
	{"SENTON", MOX_IMAP_SK_SENTON, A_DATE},
	{"SENTSINCE", MOX_IMAP_SK_SENTSINCE, A_DATE},
	{"SINCE", MOX_IMAP_SK_SINCE, A_DATE},
	{"SMALLER", MOX_IMAP_SK_SMALLER, A_NUM},
	{"SUBJECT", MOX_IMAP_SK_SUBJECT, A_STR},
	{"TEXT", MOX_IMAP_SK_TEXT, A_STR},
	{"TO", MOX_IMAP_SK_TO, A_STR},
	{"UNANSWERED", MOX_IMAP_SK_UNANSWERED, A_NONE},
	{"UNDELETED", MOX_IMAP_SK_UNDELETED, A_NONE},
	{"UNDRAFT", MOX_IMAP_SK_UNDRAFT, A_NONE},
	{"UNFLAGGED", MOX_IMAP_SK_UNFLAGGED, A_NONE},
	{"UNKEYWORD", MOX_IMAP_SK_UNKEYWORD, A_FLAG},
	{"UNSEEN", MOX_IMAP_SK_UNSEEN, A_NONE},
	{"OLDER", MOX_IMAP_SK_OLDER, A_NZNUM},
	{"YOUNGER", MOX_IMAP_SK_YOUNGER, A_NZNUM},
};

static bool search_key(mox__imap_lx *lx, mox_imap_skey *k);

static bool
push(mox__imap_lx *lx, mox_imap_skey *parent, size_t *cap, mox_imap_skey **out)
{
	*out = mox__imap_alloc(lx, sizeof(**out));
	if (*out == NULL)
		return false;
	parent->sub = mox__imap_grow(lx, parent->sub, cap, parent->nsub,
				     sizeof(*parent->sub));
	if (parent->sub == NULL)
		return false;
	parent->sub[parent->nsub++] = *out;
	return true;
}

/* search-key *(SP search-key) into and->sub, ending at end or ')'. */
bool
mox__imap_search_keys(mox__imap_lx *lx, mox_imap_skey *and)
{
	size_t cap = 0;
	and->type = MOX_IMAP_SK_AND;
	do {
		mox_imap_skey *k;
		if (!push(lx, and, &cap, &k) || !search_key(lx, k))
			return false;
	} while (mox__imap_eat(lx, ' '));
	return true;
}

static bool
nested(mox__imap_lx *lx, mox_imap_skey *k, size_t n)
{
	if (++lx->depth > lx->limits->max_depth) {
		lx->code = "TOOBIG";
		return mox__imap_fail(lx, "search keys nested deeper than %zu",
				      lx->limits->max_depth);
	}
	size_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		mox_imap_skey *s;
		if (!mox__imap_sp(lx) || !push(lx, k, &cap, &s) || !search_key(lx, s))
			return false;
	}
	lx->depth--;
	return true;
}

static bool
search_key(mox__imap_lx *lx, mox_imap_skey *k)
{
	if (!mox__imap_count(lx))
		return false;
	if (mox__imap_at_end(lx))
		return mox__imap_fail(lx, "expected search key, got end of line");
	uint8_t c = lx->b[lx->pos];
	if (c == '(') {
		if (!mox__imap_open(lx) || !mox__imap_search_keys(lx, k) ||
		    !mox__imap_expect(lx, ')', "')' or space after search key"))
			return false;
		mox__imap_close(lx);
		return true;
	}
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		k->type = MOX_IMAP_SK_SEQSET;
		return mox__imap_seqset(lx, &k->set, true);
	}
	if (mox__imap_keyword(lx, "NOT")) {
		k->type = MOX_IMAP_SK_NOT;
		return nested(lx, k, 1);
	}
	if (mox__imap_keyword(lx, "OR")) {
		k->type = MOX_IMAP_SK_OR;
		return nested(lx, k, 2);
	}
	if (mox__imap_keyword(lx, "UID")) {
		k->type = MOX_IMAP_SK_UID;
		return mox__imap_sp(lx) && mox__imap_seqset(lx, &k->set, true);
	}
	if (mox__imap_keyword(lx, "HEADER")) {
		mox_imap_str f;
		k->type = MOX_IMAP_SK_HEADER;
		if (!mox__imap_sp(lx) || !mox__imap_astring(lx, &f) ||
		    !mox__imap_sp(lx) || !mox__imap_astring(lx, &k->str))
			return false;
		k->field = f.s;
		return true;
	}
	if (mox__imap_keyword(lx, "MODSEQ")) {
		/* RFC 7162 section 3.1.5: "MODSEQ" [search-modsequence-ext]
		 * SP mod-sequence-valzer; the entry name and type are read
		 * and ignored (mox has no per-flag modseqs). */
		k->type = MOX_IMAP_SK_MODSEQ;
		if (!mox__imap_sp(lx))
			return false;
		if (mox__imap_peek(lx, '"')) {
			mox_imap_str name, type;
			if (!mox__imap_string(lx, &name) || !mox__imap_sp(lx) ||
			    !mox__imap_atom(lx, &type) || !mox__imap_sp(lx))
				return false;
			if (!mox__imap_eq_nocase(type.s, type.len, "priv") &&
			    !mox__imap_eq_nocase(type.s, type.len, "shared") &&
			    !mox__imap_eq_nocase(type.s, type.len, "all"))
				return mox__imap_fail(lx, "bad MODSEQ entry type");
		}
		return mox__imap_number64(lx, &k->number, false);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		if (!mox__imap_keyword(lx, keys[i].name))
			continue;
		k->type = keys[i].type;
		if (keys[i].arg == A_NONE)
			return true;
		if (!mox__imap_sp(lx))
			return false;
		switch (keys[i].arg) {
		case A_STR:
			return mox__imap_astring(lx, &k->str);
		case A_FLAG:
			/* flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom */
			return mox__imap_atom(lx, &k->str);
		case A_DATE:
			return mox__imap_date(lx, &k->date);
		case A_NUM:
			return mox__imap_number64(lx, &k->number, false);
		case A_NZNUM:
			return mox__imap_number64(lx, &k->number, true);
		case A_NONE:
			break;
		}
		return true;
	}
	return mox__imap_fail(lx, "unknown search key");
}

bool
mox__imap_cmd_search(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	if (!mox__imap_sp(lx))
		return false;
	if (mox__imap_keyword(lx, "RETURN")) {
		cmd->search_return = true;
		if (!mox__imap_sp(lx) || !mox__imap_open(lx))
			return false;
		if (!mox__imap_peek(lx, ')')) {
			do {
				if (mox__imap_keyword(lx, "MIN"))
					cmd->search_ret |= MOX_IMAP_SEARCH_RET_MIN;
				else if (mox__imap_keyword(lx, "MAX"))
					cmd->search_ret |= MOX_IMAP_SEARCH_RET_MAX;
				else if (mox__imap_keyword(lx, "ALL"))
					cmd->search_ret |= MOX_IMAP_SEARCH_RET_ALL;
				else if (mox__imap_keyword(lx, "COUNT"))
					cmd->search_ret |= MOX_IMAP_SEARCH_RET_COUNT;
				else if (mox__imap_keyword(lx, "SAVE"))
					cmd->search_ret |= MOX_IMAP_SEARCH_RET_SAVE;
				else
					return mox__imap_fail(lx, "unknown search return option");
			} while (mox__imap_eat(lx, ' '));
		}
		if (!mox__imap_expect(lx, ')', "')'") || !mox__imap_sp(lx))
			return false;
		mox__imap_close(lx);
		/* RFC 4731 section 3.1: RETURN () means RETURN (ALL). */
		if (cmd->search_ret == 0)
			cmd->search_ret = MOX_IMAP_SEARCH_RET_ALL;
	}
	if (mox__imap_keyword(lx, "CHARSET")) {
		mox_imap_str cs;
		if (!mox__imap_sp(lx) || !mox__imap_astring(lx, &cs))
			return false;
		if (!mox__imap_eq_nocase(cs.s, cs.len, "UTF-8") &&
		    !mox__imap_eq_nocase(cs.s, cs.len, "US-ASCII")) {
			lx->status = MOX_IMAP_NO;
			lx->code = "BADCHARSET (US-ASCII UTF-8)";
			return mox__imap_fail(lx, "charset not supported");
		}
		cmd->charset = mox__imap_upper(lx, &cs);
		if (cmd->charset == NULL || !mox__imap_sp(lx))
			return false;
	}
	cmd->search = mox__imap_alloc(lx, sizeof(*cmd->search));
	if (cmd->search == NULL || !mox__imap_search_keys(lx, cmd->search))
		return false;
	return mox__imap_end(lx);
}
