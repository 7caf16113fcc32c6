/* Message identifiers, RFC 5322 section 3.6.4 and 4.5.4.
 *
 *   message-id  = "Message-ID:" msg-id CRLF
 *   in-reply-to = "In-Reply-To:" 1*msg-id CRLF
 *   references  = "References:" 1*msg-id CRLF
 *   msg-id      = [CFWS] "<" id-left "@" id-right ">" [CFWS]
 *   obs-in-reply-to = "In-Reply-To:" *(phrase / msg-id) CRLF
 *   obs-references  = "References:" *(phrase / msg-id) CRLF
 *
 * How this works: one pass over the value. Comments and white space are
 * skipped, quoted strings and other words (the obsolete phrases, such as
 * "Your message of ...") are passed over, and each "<" ... ">" gives one
 * identifier: the bytes between the brackets with line breaks removed, as
 * written (section 3.6.4: the brackets are not part of the msg-id). Like
 * mox, we do not insist on id-left "@" id-right: "<1234>" is kept, and so
 * is the obsolete CFWS inside ("<a @ b>" stays as it is, mox compares
 * such ids as text too).
 *
 * Lenient, flagged MOX_MSG_WARN_BAD_FIELD: a value without any "<" that is
 * a single word is taken as one identifier ("id@example" without
 * brackets); "<>" and an unterminated "<" give nothing. Invalid UTF-8 and
 * NUL become U+FFFD. */
#include "msg_int.h"

#include <string.h>

static const uint8_t replacement[] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Append an identifier's bytes: line breaks dropped (unfolding), invalid
 * UTF-8 and NUL replaced. */
static mox_err
append_id(mox_buf *out, const uint8_t *s, size_t n, unsigned *warn)
{
	size_t run = 0;
	mox_err err;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != 0 && s[i] != '\r' && s[i] != '\n')
			continue;
		bool replaced = false;
		if ((err = mox__msg_utf8_sanitize(s + run, i - run, out, &replaced)) !=
		    MOX_OK)
			return err;
		if (replaced)
			*warn |= MOX_MSG_WARN_BAD_CHARSET;
		if (i < n && s[i] == 0) {
			if ((err = mox_buf_append(out, replacement, 3)) != MOX_OK)
				return err;
			*warn |= MOX_MSG_WARN_NUL;
		}
		run = i + 1;
	}
	return MOX_OK;
}

static mox_err
push_id(mox_msg_id_list *l, size_t *cap, const mox_buf *b)
{
	if (l->n == *cap) {
		size_t ncap = *cap == 0 ? 4 : *cap * 2;
		char **ids = mox_mem_reallocarray(l->alloc, l->ids, ncap, sizeof(*ids));
		if (ids == NULL)
			return MOX_ENOMEM;
		l->ids = ids;
		*cap = ncap;
	}
	char *s = mox_mem_strndup(l->alloc, (const char *)b->data, b->len);
	if (s == NULL)
		return MOX_ENOMEM;
	l->ids[l->n++] = s;
	return MOX_OK;
}

/* Skip a comment at v[i] == '('; returns the offset after it, or len when
 * unterminated. Nesting is counted, not recursed; past
 * MOX_MSG_COMMENT_DEPTH_MAX, or unterminated, it is flagged. */
static size_t
skip_comment(const uint8_t *v, size_t len, size_t i, unsigned *warn)
{
	size_t depth = 0;
	while (i < len) {
		uint8_t c = v[i++];
		if (c == '\\' && i < len) {
			i++;
		} else if (c == '(') {
			if (++depth > MOX_MSG_COMMENT_DEPTH_MAX)
				*warn |= MOX_MSG_WARN_BAD_FIELD;
		} else if (c == ')' && --depth == 0) {
			return i;
		}
	}
	*warn |= MOX_MSG_WARN_BAD_FIELD;
	return i;
}

void
mox_msg_id_list_free(mox_msg_id_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		mox_mem_free(list->alloc, list->ids[i]);
	mox_mem_free(list->alloc, list->ids);
	mox_mem_free(list->alloc, list);
}

mox_err
mox_msg_id_list_parse(const uint8_t *value, size_t len,
		      const mox_allocator *alloc, mox_msg_id_list **list_out,
		      unsigned *warnings_out)
{
	if (list_out != NULL)
		*list_out = NULL;
	if (warnings_out != NULL)
		*warnings_out = 0;
	if (list_out == NULL || (value == NULL && len > 0))
		return MOX_EINVAL;
	unsigned warn = 0;
	size_t cap = 0;
	mox_buf b;
	mox_buf_init(&b, alloc);
	mox_err err = MOX_OK;
	mox_msg_id_list *l = mox_mem_calloc(alloc, 1, sizeof(*l));
	if (l == NULL)
		return MOX_ENOMEM;
	l->alloc = alloc;
	bool angle = false;
	size_t words = 0, w0 = 0, w1 = 0;
	size_t i = 0;
	while (i < len) {
		uint8_t c = value[i];
		if (is_space(c)) {
			i++;
		} else if (c == '(') {
			i = skip_comment(value, len, i, &warn);
		} else if (c == '"') {
			/* A quoted string of an obsolete phrase. */
			for (i++; i < len && value[i] != '"'; i++)
				if (value[i] == '\\')
					i++;
			i++;
			words++;
		} else if (c == '<') {
			angle = true;
			size_t s = ++i;
			while (i < len && value[i] != '>')
				i++;
			if (i >= len) {
				warn |= MOX_MSG_WARN_BAD_FIELD;
				break;
			}
			mox_buf_reset(&b);
			if ((err = append_id(&b, value + s, i - s, &warn)) != MOX_OK)
				goto out;
			i++;
			if (b.len == 0) {
				warn |= MOX_MSG_WARN_BAD_FIELD;
				continue;
			}
			if ((err = push_id(l, &cap, &b)) != MOX_OK)
				goto out;
		} else {
			/* A word of an obsolete phrase, or a bare identifier. */
			w0 = i;
			while (i < len && !is_space(value[i]) && value[i] != '(' &&
			       value[i] != '<' && value[i] != '"')
				i++;
			w1 = i;
			words++;
		}
	}
	if (!angle && words == 1 && w1 > w0) {
		/* Lenient: "id@example" without brackets. */
		warn |= MOX_MSG_WARN_BAD_FIELD;
		mox_buf_reset(&b);
		if ((err = append_id(&b, value + w0, w1 - w0, &warn)) != MOX_OK ||
		    (err = push_id(l, &cap, &b)) != MOX_OK)
			goto out;
	} else if (l->n == 0 && words > 0) {
		warn |= MOX_MSG_WARN_BAD_FIELD;
	}
out:
	mox_buf_free(&b);
	if (err != MOX_OK) {
		mox_msg_id_list_free(l);
		return err;
	}
	if (warnings_out != NULL)
		*warnings_out = warn;
	*list_out = l;
	return MOX_OK;
}
