/* Matching a parsed search program against one message, RFC 9051 section
 * 6.4.4. The message comes as mox_imap_search_msg: numbers, dates and
 * callbacks, so the server supplies the data and this stays pure.
 *
 * Strings match as case-insensitive substrings (the RFC leaves the
 * comparator to the server) of the header values decoded from RFC 2047:
 * ASCII case folding for ASCII search strings, else Unicode full case
 * folding and NFC of both sides (libunistring), close to RFC 5051's
 * i;unicode-casemap. Dates compare the day only: internal dates in the
 * server's zone, sent dates in the zone of the Date field (RFC 9051:
 * "disregarding time and timezone"). Recursion follows the key tree, whose
 * depth the parser bounded. */
#define _GNU_SOURCE /* memmem */
#include "imap_int.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

static int64_t
day_number(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int64_t
local_day(time_t t, int tz)
{
	int64_t lt = (int64_t)t + (int64_t)tz * 60;
	return lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400);
}

static unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool
contains(const uint8_t *h, size_t hl, const char *n, size_t nl)
{
	if (nl == 0)
		return true;
	if (nl > hl)
		return false;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t k = 0;
		while (k < nl && fold(h[i + k]) == fold((unsigned char)n[k]))
			k++;
		if (k == nl)
			return true;
	}
	return false;
}

static bool
is_ascii(const char *n, size_t nl)
{
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)n[i] >= 0x80)
			return false;
	return true;
}

bool
mox_imap_text_contains(const uint8_t *hay, size_t hl, const char *text, size_t tl)
{
	if (tl == 0)
		return true;
	if (hay == NULL)
		return false;
	if (is_ascii(text, tl))
		return contains(hay, hl, text, tl);
	size_t fl = 0, hfl = 0;
	uint8_t *ft = u8_casefold((const uint8_t *)text, tl, NULL, UNINORM_NFC, NULL, &fl);
	uint8_t *fh = ft != NULL ? u8_casefold(hay, hl, NULL, UNINORM_NFC, NULL, &hfl) : NULL;
	bool r;
	if (ft != NULL && fh != NULL)
		r = fl == 0 || (hfl >= fl && memmem(fh, hfl, ft, fl) != NULL);
	else
		r = contains(hay, hl, text, tl); /* invalid UTF-8: bytes as they are */
	free(ft);
	free(fh);
	return r;
}

static bool
header_match(const mox_msg_header *h, const char *name, const mox_imap_str *s)
{
	if (h == NULL)
		return false;
	for (size_t i = 0;; i++) {
		const mox_msg_field *f = mox_msg_header_get(h, name, i);
		if (f == NULL)
			return false;
		if (s->len == 0)
			return true;
		mox_buf b = MOX_BUF_INIT;
		b.alloc = h->alloc;
		bool ok = mox_msg_decode_text(f->value, f->value_len, &b, NULL) == MOX_OK &&
			  mox_imap_text_contains(b.data, b.len, s->s, s->len);
		mox_buf_free(&b);
		if (ok)
			return true;
	}
}

static bool
flag(const mox_imap_search_msg *m, const char *f)
{
	return m->has_flag != NULL && m->has_flag(m->arg, f);
}

static bool
sent_day(const mox_imap_search_msg *m, int64_t *day)
{
	const mox_msg_field *f = m->header != NULL ? mox_msg_header_get(m->header, "Date", 0) : NULL;
	mox_msg_date d;
	if (f == NULL || mox_msg_date_parse(f->value, f->value_len, &d, NULL) != MOX_OK)
		return false;
	*day = day_number(d.year, d.month, d.day);
	return true;
}

bool
mox_imap_search_match(const mox_imap_skey *k, const mox_imap_search_msg *m)
{
	if (k == NULL || m == NULL)
		return false;
	int64_t day, kday = day_number(k->date.year, k->date.month, k->date.day);
	switch (k->type) {
	case MOX_IMAP_SK_AND:
		for (size_t i = 0; i < k->nsub; i++)
			if (!mox_imap_search_match(k->sub[i], m))
				return false;
		return true;
	case MOX_IMAP_SK_OR:
		return k->nsub == 2 && (mox_imap_search_match(k->sub[0], m) ||
					mox_imap_search_match(k->sub[1], m));
	case MOX_IMAP_SK_NOT:
		return k->nsub == 1 && !mox_imap_search_match(k->sub[0], m);
	case MOX_IMAP_SK_ALL:
		return true;
	case MOX_IMAP_SK_ANSWERED: return flag(m, "\\Answered");
	case MOX_IMAP_SK_DELETED: return flag(m, "\\Deleted");
	case MOX_IMAP_SK_DRAFT: return flag(m, "\\Draft");
	case MOX_IMAP_SK_FLAGGED: return flag(m, "\\Flagged");
	case MOX_IMAP_SK_SEEN: return flag(m, "\\Seen");
	case MOX_IMAP_SK_UNANSWERED: return !flag(m, "\\Answered");
	case MOX_IMAP_SK_UNDELETED: return !flag(m, "\\Deleted");
	case MOX_IMAP_SK_UNDRAFT: return !flag(m, "\\Draft");
	case MOX_IMAP_SK_UNFLAGGED: return !flag(m, "\\Flagged");
	case MOX_IMAP_SK_UNSEEN: return !flag(m, "\\Seen");
	case MOX_IMAP_SK_KEYWORD: return flag(m, k->str.s);
	case MOX_IMAP_SK_UNKEYWORD: return !flag(m, k->str.s);
	case MOX_IMAP_SK_RECENT: return m->recent;
	case MOX_IMAP_SK_OLD: return !m->recent;
	case MOX_IMAP_SK_NEW: return m->recent && !flag(m, "\\Seen");
	case MOX_IMAP_SK_LARGER: return m->size > k->number;
	case MOX_IMAP_SK_SMALLER: return m->size < k->number;
	case MOX_IMAP_SK_MODSEQ: return m->modseq >= k->number;
	case MOX_IMAP_SK_UID:
		if (k->set.saved)
			return m->saved; /* RFC 5182 section 2.1 */
		return mox_imap_seqset_contains(&k->set, m->uid, m->max_uid);
	case MOX_IMAP_SK_SEQSET:
		if (k->set.saved)
			return m->saved;
		return mox_imap_seqset_contains(&k->set, m->seq, m->max_seq);
	case MOX_IMAP_SK_BEFORE:
		return local_day(m->internal_date, m->internal_tz) < kday;
	case MOX_IMAP_SK_ON:
		return local_day(m->internal_date, m->internal_tz) == kday;
	case MOX_IMAP_SK_SINCE:
		return local_day(m->internal_date, m->internal_tz) >= kday;
	case MOX_IMAP_SK_SENTBEFORE:
		return sent_day(m, &day) && day < kday;
	case MOX_IMAP_SK_SENTON:
		return sent_day(m, &day) && day == kday;
	case MOX_IMAP_SK_SENTSINCE:
		return sent_day(m, &day) && day >= kday;
	case MOX_IMAP_SK_OLDER:
		return m->now - m->internal_date >= (time_t)k->number;
	case MOX_IMAP_SK_YOUNGER:
		return m->now - m->internal_date <= (time_t)k->number;
	case MOX_IMAP_SK_FROM: return header_match(m->header, "From", &k->str);
	case MOX_IMAP_SK_TO: return header_match(m->header, "To", &k->str);
	case MOX_IMAP_SK_CC: return header_match(m->header, "Cc", &k->str);
	case MOX_IMAP_SK_BCC: return header_match(m->header, "Bcc", &k->str);
	case MOX_IMAP_SK_SUBJECT: return header_match(m->header, "Subject", &k->str);
	case MOX_IMAP_SK_HEADER: return header_match(m->header, k->field, &k->str);
	case MOX_IMAP_SK_BODY:
		return m->text_contains != NULL &&
		       m->text_contains(m->arg, k->str.s, k->str.len, true);
	case MOX_IMAP_SK_TEXT:
		return m->text_contains != NULL &&
		       m->text_contains(m->arg, k->str.s, k->str.len, false);
	}
	return false;
}
