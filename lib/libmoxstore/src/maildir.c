/* Maildir flags and Dovecot's keyword file.
 *
 * Maildir (https://cr.yp.to/proto/maildir.html): a message file name ends
 * in ":2," and flag letters in ASCII order: "D" draft, "F" flagged, "P"
 * passed (no IMAP equivalent), "R" replied (\Answered), "S" seen, "T"
 * trashed (\Deleted). Dovecot adds lower-case letters for keywords: "a"
 * is the keyword on line 0 of the dovecot-keywords file in the maildir,
 * "b" line 1, up to "z" (Dovecot's maildir documentation), lines being
 * "<index> <keyword>".
 */
#include "store_int.h"

#include <string.h>

static unsigned
well_known(const char *kw)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"$forwarded", MOX_STORE_FORWARDED}, {"forwarded", MOX_STORE_FORWARDED},
	    {"$junk", MOX_STORE_JUNK},           {"junk", MOX_STORE_JUNK},
	    {"$notjunk", MOX_STORE_NOTJUNK},     {"notjunk", MOX_STORE_NOTJUNK},
	    {"nonjunk", MOX_STORE_NOTJUNK},      {"$mdnsent", MOX_STORE_MDNSENT},
	    {"mdnsent", MOX_STORE_MDNSENT},      {"$phishing", MOX_STORE_PHISHING},
	    {"phishing", MOX_STORE_PHISHING},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const char *a = kw, *b = known[i].name;
		while (*a != '\0' && mox__store_lower(*a) == *b) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return known[i].bit;
	}
	return 0;
}

mox_err
mox_store_maildir_flags(const char *filename, const char *const *keywords,
                        size_t nkeywords, unsigned *flags_out, mox_buf *kw_out)
{
	if (flags_out == NULL)
		return MOX_EINVAL;
	*flags_out = 0;
	if (filename == NULL)
		return MOX_EINVAL;
	const char *slash = strrchr(filename, '/');
	if (slash != NULL)
		filename = slash + 1;
	const char *info = strstr(filename, ":2,");
	if (info == NULL)
		return MOX_OK;
	unsigned flags = 0;
	bool used[26] = {false};
	for (const char *c = info + 3; *c != '\0'; c++) {
		switch (*c) {
		case 'D':
			flags |= MOX_STORE_DRAFT;
			break;
		case 'F':
			flags |= MOX_STORE_FLAGGED;
			break;
		case 'R':
			flags |= MOX_STORE_ANSWERED;
			break;
		case 'S':
			flags |= MOX_STORE_SEEN;
			break;
		case 'T':
			flags |= MOX_STORE_DELETED;
			break;
		default:
			if (*c >= 'a' && *c <= 'z')
				used[*c - 'a'] = true;
			break;
		}
	}
	/* Keywords in letter order, once each. */
	for (size_t i = 0; i < 26; i++) {
		if (!used[i] || keywords == NULL || i >= nkeywords ||
		    keywords[i] == NULL)
			continue;
		unsigned bit = well_known(keywords[i]);
		if (bit != 0) {
			flags |= bit;
			continue;
		}
		if (kw_out == NULL || !mox_store_keyword_valid(keywords[i]))
			continue;
		mox_err err = MOX_OK;
		if (kw_out->len > 0)
			err = mox_buf_append_byte(kw_out, ' ');
		for (const char *k = keywords[i]; err == MOX_OK && *k != '\0'; k++)
			err =
			    mox_buf_append_byte(kw_out, (uint8_t)mox__store_lower(*k));
		if (err != MOX_OK)
			return err;
	}
	*flags_out = flags;
	return MOX_OK;
}

void
mox_store_keywords_free(const mox_allocator *alloc, char *kw[26])
{
	if (kw == NULL)
		return;
	for (size_t i = 0; i < 26; i++) {
		mox_mem_free(alloc, kw[i]);
		kw[i] = NULL;
	}
}

mox_err
mox_store_dovecot_keywords_parse(const uint8_t *data, size_t len,
                                 const mox_allocator *alloc, char *out[26],
                                 size_t *bad_out)
{
	if (out == NULL)
		return MOX_EINVAL;
	for (size_t i = 0; i < 26; i++)
		out[i] = NULL;
	if (bad_out != NULL)
		*bad_out = 0;
	if (data == NULL && len > 0)
		return MOX_EINVAL;
	size_t bad = 0;
	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;
		size_t n = end - i;
		const uint8_t *l = data + i;
		i = end + 1;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		/* "<index> <keyword>" */
		size_t j = 0;
		unsigned idx = 0;
		while (j < n && l[j] >= '0' && l[j] <= '9' && idx < 100)
			idx = idx * 10 + (unsigned)(l[j++] - '0');
		if (j == 0 || j >= n || l[j] != ' ' || idx >= 26) {
			bad++;
			continue;
		}
		j++;
		char kw[MOX_STORE_KEYWORD_MAX + 1];
		size_t kl = n - j;
		if (kl == 0 || kl > MOX_STORE_KEYWORD_MAX) {
			bad++;
			continue;
		}
		for (size_t k = 0; k < kl; k++)
			kw[k] = mox__store_lower((char)l[j + k]);
		kw[kl] = '\0';
		if (!mox_store_keyword_valid(kw) || out[idx] != NULL) {
			bad++;
			continue;
		}
		out[idx] = mox_mem_strdup(alloc, kw);
		if (out[idx] == NULL) {
			mox_store_keywords_free(alloc, out);
			return MOX_ENOMEM;
		}
	}
	if (bad_out != NULL)
		*bad_out = bad;
	return MOX_OK;
}
