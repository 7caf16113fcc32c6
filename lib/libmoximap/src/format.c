/* mox_imap_cmd_format: a parsed command as one canonical line, for logs
 * and the transcript tests. Fields that are set are written as key=value
 * in a fixed order; strings are quoted with C-like escapes, so the form
 * shows exactly what was parsed (literal or quoted makes no difference). */
#include "imap_int.h"

#include <inttypes.h>
#include <string.h>

mox_err
mox__imap_format_str(const mox_imap_str *s, mox_buf *out)
{
	if (s->s == NULL)
		return mox_buf_append_str(out, "NIL");
	mox_err err = mox_buf_append_byte(out, '"');
	for (size_t i = 0; err == MOX_OK && i < s->len; i++) {
		uint8_t c = (uint8_t)s->s[i];
		if (c == '"' || c == '\\')
			err = mox_buf_appendf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			err = mox_buf_appendf(out, "\\x%02x", c);
		else
			err = mox_buf_append_byte(out, c);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, '"');
	return err;
}

static mox_err
cstr(const char *s, mox_buf *out)
{
	mox_imap_str x = {s, s != NULL ? strlen(s) : 0};
	return mox__imap_format_str(&x, out);
}

static mox_err
seqnum(uint32_t n, mox_buf *out)
{
	if (n == 0)
		return mox_buf_append_byte(out, '*');
	return mox_buf_appendf(out, "%" PRIu32, n);
}

mox_err
mox__imap_format_seqset(const mox_imap_seqset *set, mox_buf *out)
{
	if (set->saved)
		return mox_buf_append_byte(out, '$');
	mox_err err = MOX_OK;
	for (size_t i = 0; err == MOX_OK && i < set->n; i++) {
		if (i > 0)
			err = mox_buf_append_byte(out, ',');
		if (err == MOX_OK)
			err = seqnum(set->r[i].first, out);
		if (err == MOX_OK && set->r[i].last != set->r[i].first) {
			err = mox_buf_append_byte(out, ':');
			if (err == MOX_OK)
				err = seqnum(set->r[i].last, out);
		}
	}
	return err;
}

static const char *const skey_names[] = {
	[MOX_IMAP_SK_AND] = "AND", [MOX_IMAP_SK_ALL] = "ALL",
	[MOX_IMAP_SK_ANSWERED] = "ANSWERED", [MOX_IMAP_SK_BCC] = "BCC",
	[MOX_IMAP_SK_BEFORE] = "BEFORE", [MOX_IMAP_SK_BODY] = "BODY",
	[MOX_IMAP_SK_CC] = "CC", [MOX_IMAP_SK_DELETED] = "DELETED",
	[MOX_IMAP_SK_DRAFT] = "DRAFT", [MOX_IMAP_SK_FLAGGED] = "FLAGGED",
	[MOX_IMAP_SK_FROM] = "FROM", [MOX_IMAP_SK_HEADER] = "HEADER",
	[MOX_IMAP_SK_KEYWORD] = "KEYWORD", [MOX_IMAP_SK_LARGER] = "LARGER",
	[MOX_IMAP_SK_NEW] = "NEW", [MOX_IMAP_SK_NOT] = "NOT",
	[MOX_IMAP_SK_OLD] = "OLD", [MOX_IMAP_SK_ON] = "ON",
	[MOX_IMAP_SK_OR] = "OR", [MOX_IMAP_SK_RECENT] = "RECENT",
	[MOX_IMAP_SK_SEEN] = "SEEN", [MOX_IMAP_SK_SENTBEFORE] = "SENTBEFORE",
	[MOX_IMAP_SK_SENTON] = "SENTON", [MOX_IMAP_SK_SENTSINCE] = "SENTSINCE",
	[MOX_IMAP_SK_SINCE] = "SINCE", [MOX_IMAP_SK_SMALLER] = "SMALLER",
	[MOX_IMAP_SK_SUBJECT] = "SUBJECT", [MOX_IMAP_SK_TEXT] = "TEXT",
	[MOX_IMAP_SK_TO] = "TO", [MOX_IMAP_SK_UID] = "UID",
	[MOX_IMAP_SK_UNANSWERED] = "UNANSWERED",
	[MOX_IMAP_SK_UNDELETED] = "UNDELETED", [MOX_IMAP_SK_UNDRAFT] = "UNDRAFT",
	[MOX_IMAP_SK_UNFLAGGED] = "UNFLAGGED",
	[MOX_IMAP_SK_UNKEYWORD] = "UNKEYWORD", [MOX_IMAP_SK_UNSEEN] = "UNSEEN",
	[MOX_IMAP_SK_SEQSET] = "SEQ", [MOX_IMAP_SK_MODSEQ] = "MODSEQ",
	[MOX_IMAP_SK_OLDER] = "OLDER", [MOX_IMAP_SK_YOUNGER] = "YOUNGER",
};

mox_err
mox__imap_format_skey(const mox_imap_skey *k, mox_buf *out)
{
	mox_err err = mox_buf_appendf(out, "(%s", skey_names[k->type]);
	if (err != MOX_OK)
		return err;
	switch (k->type) {
	case MOX_IMAP_SK_HEADER:
		err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = cstr(k->field, out);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__imap_format_str(&k->str, out);
		break;
	case MOX_IMAP_SK_BCC: case MOX_IMAP_SK_BODY: case MOX_IMAP_SK_CC:
	case MOX_IMAP_SK_FROM: case MOX_IMAP_SK_KEYWORD: case MOX_IMAP_SK_SUBJECT:
	case MOX_IMAP_SK_TEXT: case MOX_IMAP_SK_TO: case MOX_IMAP_SK_UNKEYWORD:
		err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__imap_format_str(&k->str, out);
		break;
	case MOX_IMAP_SK_BEFORE: case MOX_IMAP_SK_ON: case MOX_IMAP_SK_SINCE:
	case MOX_IMAP_SK_SENTBEFORE: case MOX_IMAP_SK_SENTON:
	case MOX_IMAP_SK_SENTSINCE:
		err = mox_buf_appendf(out, " %04d-%02d-%02d", k->date.year,
				      k->date.month, k->date.day);
		break;
	case MOX_IMAP_SK_LARGER: case MOX_IMAP_SK_SMALLER: case MOX_IMAP_SK_MODSEQ:
	case MOX_IMAP_SK_OLDER: case MOX_IMAP_SK_YOUNGER:
		err = mox_buf_appendf(out, " %" PRIu64, k->number);
		break;
	case MOX_IMAP_SK_UID: case MOX_IMAP_SK_SEQSET:
		err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__imap_format_seqset(&k->set, out);
		break;
	default:
		break;
	}
	for (size_t i = 0; err == MOX_OK && i < k->nsub; i++) {
		err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__imap_format_skey(k->sub[i], out);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ')');
	return err;
}

static const char *const fa_names[] = {
	[MOX_IMAP_FA_ENVELOPE] = "ENVELOPE", [MOX_IMAP_FA_FLAGS] = "FLAGS",
	[MOX_IMAP_FA_INTERNALDATE] = "INTERNALDATE",
	[MOX_IMAP_FA_RFC822_SIZE] = "RFC822.SIZE", [MOX_IMAP_FA_RFC822] = "RFC822",
	[MOX_IMAP_FA_RFC822_HEADER] = "RFC822.HEADER",
	[MOX_IMAP_FA_RFC822_TEXT] = "RFC822.TEXT", [MOX_IMAP_FA_BODY] = "BODY",
	[MOX_IMAP_FA_BODYSTRUCTURE] = "BODYSTRUCTURE", [MOX_IMAP_FA_UID] = "UID",
	[MOX_IMAP_FA_BODY_SECTION] = "BODY", [MOX_IMAP_FA_BINARY] = "BINARY",
	[MOX_IMAP_FA_BINARY_SIZE] = "BINARY.SIZE", [MOX_IMAP_FA_MODSEQ] = "MODSEQ",
	[MOX_IMAP_FA_SAVEDATE] = "SAVEDATE", [MOX_IMAP_FA_EMAILID] = "EMAILID",
	[MOX_IMAP_FA_THREADID] = "THREADID", [MOX_IMAP_FA_PREVIEW] = "PREVIEW",
};

static mox_err
section_fmt(const mox_imap_section *s, mox_buf *out)
{
	static const char *const t[] = {
		[MOX_IMAP_SECTION_NONE] = "", [MOX_IMAP_SECTION_HEADER] = "HEADER",
		[MOX_IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[MOX_IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[MOX_IMAP_SECTION_TEXT] = "TEXT", [MOX_IMAP_SECTION_MIME] = "MIME",
	};
	mox_err err = mox_buf_append_byte(out, '[');
	for (size_t i = 0; err == MOX_OK && i < s->npart; i++)
		err = mox_buf_appendf(out, "%s%" PRIu32, i > 0 ? "." : "", s->part[i]);
	if (err == MOX_OK && s->text != MOX_IMAP_SECTION_NONE)
		err = mox_buf_appendf(out, "%s%s", s->npart > 0 ? "." : "", t[s->text]);
	if (err == MOX_OK && s->nfields > 0) {
		err = mox_buf_append_str(out, " (");
		for (size_t i = 0; err == MOX_OK && i < s->nfields; i++)
			err = mox_buf_appendf(out, "%s%s", i > 0 ? " " : "", s->fields[i]);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, ')');
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ']');
	return err;
}

mox_err
mox_imap_fetch_att_name(const mox_imap_fetch_att *att, mox_buf *out)
{
	mox_err err = mox_buf_append_str(out, fa_names[att->type]);
	if (err == MOX_OK && (att->type == MOX_IMAP_FA_BODY_SECTION ||
			      att->type == MOX_IMAP_FA_BINARY ||
			      att->type == MOX_IMAP_FA_BINARY_SIZE))
		err = section_fmt(&att->section, out);
	if (err == MOX_OK && att->partial)
		err = mox_buf_appendf(out, "<%" PRIu32 ">", att->partial_offset);
	return err;
}

static mox_err
att_fmt(const mox_imap_fetch_att *a, mox_buf *out)
{
	mox_err err = mox_buf_append_str(out, fa_names[a->type]);
	if (err == MOX_OK && a->peek)
		err = mox_buf_append_str(out, ".PEEK");
	if (err == MOX_OK && (a->type == MOX_IMAP_FA_BODY_SECTION ||
			      a->type == MOX_IMAP_FA_BINARY ||
			      a->type == MOX_IMAP_FA_BINARY_SIZE))
		err = section_fmt(&a->section, out);
	if (err == MOX_OK && a->partial)
		err = mox_buf_appendf(out, "<%" PRIu32 ".%" PRIu32 ">",
				      a->partial_offset, a->partial_count);
	return err;
}

static mox_err
strs_fmt(const char *key, const mox_imap_str *s, size_t from, size_t to,
	 mox_buf *out)
{
	mox_err err = mox_buf_appendf(out, " %s=(", key);
	for (size_t i = from; err == MOX_OK && i < to; i++) {
		if (i > from)
			err = mox_buf_append_byte(out, ' ');
		if (err == MOX_OK)
			err = mox__imap_format_str(&s[i], out);
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ')');
	return err;
}

static mox_err
flags_fmt(const char *const *f, size_t n, mox_buf *out)
{
	mox_err err = mox_buf_append_str(out, " flags=(");
	for (size_t i = 0; err == MOX_OK && i < n; i++)
		err = mox_buf_appendf(out, "%s%s", i > 0 ? " " : "", f[i]);
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ')');
	return err;
}

mox_err
mox_imap_cmd_format(const mox_imap_cmd *c, mox_buf *out)
{
	if (c == NULL || out == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	mox_err err = mox_buf_appendf(out, "%s %s%s", c->tag, c->uid ? "UID " : "",
				      c->name);
#define OK (err == MOX_OK)
	if (OK && c->mailbox != NULL) {
		err = mox_buf_append_str(out, " mailbox=");
		if (OK)
			err = cstr(c->mailbox, out);
	}
	if (OK && c->mailbox2 != NULL) {
		err = mox_buf_append_str(out, " to=");
		if (OK)
			err = cstr(c->mailbox2, out);
	}
	if (OK && (c->set.n > 0 || c->set.saved)) {
		err = mox_buf_append_str(out, " set=");
		if (OK)
			err = mox__imap_format_seqset(&c->set, out);
	}
	if (OK && c->str1.s != NULL) {
		err = mox_buf_append_str(out, " str1=");
		if (OK)
			err = mox__imap_format_str(&c->str1, out);
	}
	if (OK && (c->str2.s != NULL || c->has_initial)) {
		err = mox_buf_append_str(out, " str2=");
		if (OK)
			err = mox__imap_format_str(&c->str2, out);
	}
	if (OK && c->type == MOX_IMAP_CMD_LIST) {
		err = strs_fmt("patterns", c->strs, 0, c->list_status_first, out);
		if (OK && c->list_opts != 0)
			err = mox_buf_appendf(out, " listopts=0x%x", c->list_opts);
		if (OK && c->list_extended)
			err = mox_buf_append_str(out, " extended");
		if (OK && (c->list_opts & MOX_IMAP_LIST_RET_STATUS))
			err = strs_fmt("status", c->strs, c->list_status_first, c->nstrs, out);
	} else if (OK && c->id_nil) {
		err = mox_buf_append_str(out, " nil");
	} else if (OK && c->nstrs > 0) {
		err = strs_fmt("strs", c->strs, 0, c->nstrs, out);
	}
	if (OK && c->condstore)
		err = mox_buf_append_str(out, " condstore");
	if (OK && c->qresync) {
		err = mox_buf_appendf(out, " qresync=%" PRIu32 ",%" PRIu64,
				      c->qresync_uidvalidity, c->qresync_modseq);
		if (OK && c->qresync_seqmatch_seqs.n > 0) {
			err = mox_buf_append_str(out, " seqmatch=");
			if (OK)
				err = mox__imap_format_seqset(&c->qresync_seqmatch_seqs, out);
			if (OK)
				err = mox_buf_append_byte(out, '/');
			if (OK)
				err = mox__imap_format_seqset(&c->qresync_seqmatch_uids, out);
		}
	}
	for (size_t i = 0; OK && i < c->nmsgs; i++) {
		const mox_imap_append_msg *m = &c->msgs[i];
		err = mox_buf_appendf(out, " msg%zu=", i);
		if (OK && m->nflags > 0)
			err = flags_fmt(m->flags, m->nflags, out);
		if (OK && m->has_date)
			err = mox_buf_appendf(out, " date=%lld%+d", (long long)m->date.t,
					      m->date.tz_offset);
		if (OK && m->binary)
			err = mox_buf_append_str(out, " binary");
		if (OK && m->streamed) {
			err = mox_buf_appendf(out, " len=%zu streamed", m->len);
		} else if (OK) {
			mox_imap_str d = {(const char *)m->data, m->len};
			err = mox_buf_appendf(out, " len=%zu data=", m->len);
			if (OK)
				err = mox__imap_format_str(&d, out);
		}
	}
	if (OK && c->search_return)
		err = mox_buf_appendf(out, " return=0x%x", c->search_ret);
	if (OK && c->charset != NULL)
		err = mox_buf_appendf(out, " charset=%s", c->charset);
	if (OK && c->search != NULL) {
		err = mox_buf_append_str(out, " search=");
		if (OK)
			err = mox__imap_format_skey(c->search, out);
	}
	if (OK && c->natts > 0) {
		err = mox_buf_append_str(out, c->fetch_macro ? " macro atts=(" : " atts=(");
		for (size_t i = 0; OK && i < c->natts; i++) {
			if (i > 0)
				err = mox_buf_append_byte(out, ' ');
			if (OK)
				err = att_fmt(&c->atts[i], out);
		}
		if (OK)
			err = mox_buf_append_byte(out, ')');
	}
	if (OK && c->has_changedsince)
		err = mox_buf_appendf(out, " changedsince=%" PRIu64, c->changedsince);
	if (OK && c->vanished)
		err = mox_buf_append_str(out, " vanished");
	if (OK && c->type == MOX_IMAP_CMD_STORE) {
		static const char *const modes[] = {"replace", "add", "remove"};
		err = mox_buf_appendf(out, " mode=%s%s", modes[c->store_mode],
				      c->silent ? " silent" : "");
		if (OK && c->has_unchangedsince)
			err = mox_buf_appendf(out, " unchangedsince=%" PRIu64,
					      c->unchangedsince);
		if (OK)
			err = flags_fmt(c->flags, c->nflags, out);
	}
#undef OK
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}
