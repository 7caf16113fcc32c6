/* Tag lists, RFC 6376 section 3.2, shared by DKIM-Signature fields and key
 * records:
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC          ; ALNUMPUNC = ALPHA / DIGIT / "_"
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR
 *   VALCHAR   =  %x21-3A / %x3C-7E         ; printable but ";"
 *
 * Each call yields one tag-spec: its name, its value without the FWS
 * around it, and the span from after '=' to the ';' (which for b= is what
 * gets emptied before hashing, section 3.7). FWS is read leniently as any
 * run of SP, HTAB, CR and LF: inside a header field a line break is always
 * followed by WSP, and DNS text has none. A value may hold UTF-8 (i= in
 * RFC 6532 messages), so bytes >= 0x80 count as VALCHAR here; the tag's
 * own parser decides. */
#include "dkim_int.h"

mox_err
mox__dkim_taglist_next(mox__dkim_taglist *tl, mox__dkim_tag *tag, mox_errinfo *info,
		       size_t base)
{
	const uint8_t *s = tl->s;
	size_t n = tl->len, i = tl->pos;
	while (i < n && mox__dkim_is_fws(s[i]))
		i++;
	if (i >= n) {
		tl->pos = n;
		return MOX_ENOTFOUND;
	}
	if (!mox__dkim_is_alpha(s[i]))
		return mox_errinfo_set(info, MOX_ESYNTAX, base + i,
				       "expected tag name at %zu", base + i);
	size_t ns = i;
	while (i < n && (mox__dkim_is_alnum(s[i]) || s[i] == '_'))
		i++;
	tag->name = s + ns;
	tag->name_len = i - ns;
	tag->name_off = ns;
	while (i < n && mox__dkim_is_fws(s[i]))
		i++;
	if (i >= n || s[i] != '=')
		return mox_errinfo_set(info, MOX_ESYNTAX, base + i,
				       "expected '=' after tag \"%.*s\" at %zu",
				       (int)tag->name_len, (const char *)tag->name, base + i);
	i++;
	tag->value_off = i;
	while (i < n && mox__dkim_is_fws(s[i]))
		i++;
	size_t vs = i, ve = i;
	while (i < n && s[i] != ';') {
		uint8_t c = s[i];
		if (!mox__dkim_is_fws(c)) {
			if (c < 0x21 || c == 0x7f)
				return mox_errinfo_set(info, MOX_ESYNTAX, base + i,
						       "invalid byte 0x%02x in value of tag \"%.*s\" at %zu",
						       c, (int)tag->name_len,
						       (const char *)tag->name, base + i);
			ve = i + 1;
		}
		i++;
	}
	tag->value = s + vs;
	tag->value_len = ve - vs;
	tag->value_end = i;
	if (i < n)
		i++; /* the ';' */
	tl->pos = i;
	return MOX_OK;
}
