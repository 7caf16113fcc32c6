/* The lexical layer of the command grammar, RFC 9051 section 9 (and RFC
 * 3501 section 9): atoms, strings, literals, numbers, sequence sets,
 * mailbox names, flags and dates, over the bytes of one complete command.
 *
 *   astring         = 1*ASTRING-CHAR / string
 *   string          = quoted / literal
 *   quoted          = DQUOTE *QUOTED-CHAR DQUOTE
 *   literal         = "{" number64 ["+"] "}" CRLF *CHAR8
 *   literal8        = "~{" number64 "}" CRLF *OCTET        (RFC 3516)
 *   atom-specials   = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                     quoted-specials / resp-specials
 *   sequence-set    = (seq-number / seq-range) ["," sequence-set]
 *   seq-number      = nz-number / "*"
 *   date            = date-text / DQUOTE date-text DQUOTE
 *   date-text       = date-day "-" date-month "-" date-year
 *
 * Every function returns false on failure, with the message in lx->err
 * (the first failure wins) or lx->oom set. Values live in the command's
 * arena. Counting (mox__imap_count) bounds the number of items a command
 * may create, whatever its length.
 */
#include "imap_int.h"

#include <stdio.h>
#include <string.h>

/* ---- arena ---- */

void *
mox__imap_arena_alloc(mox__imap_arena *a, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
	       sizeof(max_align_t);
	if (size == 0)
		size = sizeof(max_align_t);
	mox__imap_block *b = a->head;
	if (b == NULL || b->cap - b->used < size) {
		size_t cap = size > 4096 ? size : 4096;
		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = mox_mem_alloc(a->alloc, sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = (uint8_t *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

void
mox__imap_arena_reset(mox__imap_arena *a)
{
	while (a->head != NULL) {
		mox__imap_block *n = a->head->next;
		mox_mem_free(a->alloc, a->head);
		a->head = n;
	}
}

/* ---- basics ---- */

bool
mox__imap_fail(mox__imap_lx *lx, const char *fmt, ...)
{
	if (lx->failed)
		return false;
	lx->failed = true;
	va_list ap;
	va_start(ap, fmt);
	char m[160];
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	snprintf(lx->err, sizeof(lx->err), "%s (at offset %zu)", m, lx->pos);
	return false;
}

void *
mox__imap_alloc(mox__imap_lx *lx, size_t size)
{
	void *p = mox__imap_arena_alloc(lx->arena, size);
	if (p == NULL) {
		lx->oom = true;
		lx->failed = true;
	}
	return p;
}

/* Grow arr (in the arena) so that it holds n+1 elements. */
void *
mox__imap_grow(mox__imap_lx *lx, void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap == 0 ? 8 : *cap * 2;
	if (ncap > SIZE_MAX / elem) {
		lx->oom = true;
		return NULL;
	}
	void *na = mox__imap_alloc(lx, ncap * elem);
	if (na == NULL)
		return NULL;
	if (n > 0)
		memcpy(na, arr, n * elem);
	*cap = ncap;
	return na;
}

bool
mox__imap_count(mox__imap_lx *lx)
{
	if (++lx->nargs > lx->limits->max_args) {
		lx->code = "TOOBIG";
		return mox__imap_fail(lx, "too many arguments, limit %zu",
				      lx->limits->max_args);
	}
	return true;
}

char *
mox__imap_strdup(mox__imap_lx *lx, const char *s, size_t len)
{
	if (len == SIZE_MAX) {
		lx->oom = true;
		return NULL;
	}
	char *d = mox__imap_alloc(lx, len + 1);
	if (d == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *
mox__imap_upper(mox__imap_lx *lx, const mox_imap_str *s)
{
	char *d = mox__imap_strdup(lx, s->s, s->len);
	if (d != NULL)
		for (size_t i = 0; i < s->len; i++)
			if (d[i] >= 'a' && d[i] <= 'z')
				d[i] = (char)(d[i] - 'a' + 'A');
	return d;
}

bool
mox__imap_eq_nocase(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'a' && x <= 'z')
			x = (char)(x - 'a' + 'A');
		if (y >= 'a' && y <= 'z')
			y = (char)(y - 'a' + 'A');
		if (x != y)
			return false;
	}
	return true;
}

bool
mox__imap_is_atom_char(uint8_t c)
{
	if (c <= 0x1f || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case ' ': case '%': case '*':
	case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

bool
mox__imap_is_astring_char(uint8_t c)
{
	return c == ']' || mox__imap_is_atom_char(c);
}

bool
mox__imap_valid_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
mox__imap_at_end(const mox__imap_lx *lx)
{
	return lx->pos >= lx->len;
}

bool
mox__imap_peek(const mox__imap_lx *lx, char c)
{
	return lx->pos < lx->len && lx->b[lx->pos] == (uint8_t)c;
}

bool
mox__imap_eat(mox__imap_lx *lx, char c)
{
	if (mox__imap_peek(lx, c)) {
		lx->pos++;
		return true;
	}
	return false;
}

bool
mox__imap_expect(mox__imap_lx *lx, char c, const char *what)
{
	if (mox__imap_eat(lx, c))
		return true;
	if (mox__imap_at_end(lx))
		return mox__imap_fail(lx, "expected %s, got end of line", what);
	return mox__imap_fail(lx, "expected %s", what);
}

bool
mox__imap_sp(mox__imap_lx *lx)
{
	return mox__imap_expect(lx, ' ', "space");
}

bool
mox__imap_end(mox__imap_lx *lx)
{
	if (mox__imap_at_end(lx))
		return true;
	return mox__imap_fail(lx, "unexpected data at end of command");
}

bool
mox__imap_open(mox__imap_lx *lx)
{
	if (!mox__imap_expect(lx, '(', "'('"))
		return false;
	if (++lx->depth > lx->limits->max_depth) {
		lx->code = "TOOBIG";
		return mox__imap_fail(lx, "nesting deeper than %zu",
				      lx->limits->max_depth);
	}
	return true;
}

void
mox__imap_close(mox__imap_lx *lx)
{
	lx->depth--;
}

bool
mox__imap_keyword(mox__imap_lx *lx, const char *kw)
{
	size_t n = strlen(kw);
	if (lx->len - lx->pos < n)
		return false;
	if (!mox__imap_eq_nocase((const char *)lx->b + lx->pos, n, kw))
		return false;
	if (lx->pos + n < lx->len && mox__imap_is_atom_char(lx->b[lx->pos + n]))
		return false;
	lx->pos += n;
	return true;
}

bool
mox__imap_atom(mox__imap_lx *lx, mox_imap_str *out)
{
	size_t s = lx->pos;
	while (lx->pos < lx->len && mox__imap_is_atom_char(lx->b[lx->pos]))
		lx->pos++;
	if (lx->pos == s)
		return mox__imap_fail(lx, "expected atom");
	out->s = mox__imap_strdup(lx, (const char *)lx->b + s, lx->pos - s);
	out->len = lx->pos - s;
	return out->s != NULL;
}

static bool
quoted(mox__imap_lx *lx, mox_imap_str *out)
{
	lx->pos++; /* the opening quote */
	size_t start = lx->pos, n = 0;
	bool esc = false;
	/* First pass: find the end and the length. */
	size_t i = lx->pos;
	for (;; i++) {
		if (i >= lx->len)
			return mox__imap_fail(lx, "unterminated quoted string");
		uint8_t c = lx->b[i];
		if (c == '\r' || c == '\n' || c == 0)
			return mox__imap_fail(lx, "CR, LF or NUL in quoted string");
		if (esc) {
			if (c != '"' && c != '\\')
				return mox__imap_fail(
					lx, "backslash before other than '\"' or '\\' in quoted string");
			esc = false;
			n++;
			continue;
		}
		if (c == '\\') {
			esc = true;
			continue;
		}
		if (c == '"')
			break;
		n++;
	}
	char *d = mox__imap_alloc(lx, n + 1);
	if (d == NULL)
		return false;
	size_t k = 0;
	for (size_t j = start; j < i; j++) {
		if (lx->b[j] == '\\')
			j++;
		d[k++] = (char)lx->b[j];
	}
	d[k] = '\0';
	if (!mox__imap_valid_utf8((const uint8_t *)d, k)) {
		lx->pos = start;
		return mox__imap_fail(lx, "invalid UTF-8 in quoted string");
	}
	lx->pos = i + 1;
	out->s = d;
	out->len = k;
	return true;
}

bool
mox__imap_literal(mox__imap_lx *lx, mox_imap_str *out, bool *binary)
{
	bool bin = mox__imap_eat(lx, '~');
	if (!mox__imap_expect(lx, '{', "'{'"))
		return false;
	uint64_t v = 0;
	size_t s = lx->pos;
	while (lx->pos < lx->len && lx->b[lx->pos] >= '0' && lx->b[lx->pos] <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return mox__imap_fail(lx, "literal size too large");
		v = v * 10 + (uint64_t)(lx->b[lx->pos] - '0');
		lx->pos++;
	}
	if (lx->pos == s)
		return mox__imap_fail(lx, "expected literal size");
	mox__imap_eat(lx, '+');
	if (!mox__imap_expect(lx, '}', "'}'"))
		return false;
	mox__imap_eat(lx, '\r');
	if (!mox__imap_eat(lx, '\n'))
		return mox__imap_fail(lx, "literal announcement not at end of line");
	if (v > lx->len - lx->pos)
		return mox__imap_fail(lx, "literal shorter than announced");
	const uint8_t *data = lx->b + lx->pos;
	size_t n = (size_t)v;
	if (!bin && memchr(data, 0, n) != NULL)
		return mox__imap_fail(lx, "NUL in literal, use literal8");
	lx->pos += n;
	out->len = n;
	if (binary != NULL) {
		/* APPEND: the message stays in the command buffer, which lives
		 * as long as the command; no copy (and no NUL after it). */
		*binary = bin;
		out->s = (const char *)data;
		return true;
	}
	if (bin)
		return mox__imap_fail(lx, "literal8 not allowed here");
	out->s = mox__imap_strdup(lx, (const char *)data, n);
	return out->s != NULL;
}

bool
mox__imap_string(mox__imap_lx *lx, mox_imap_str *out)
{
	if (mox__imap_peek(lx, '"'))
		return quoted(lx, out);
	if (mox__imap_peek(lx, '{'))
		return mox__imap_literal(lx, out, NULL);
	return mox__imap_fail(lx, "expected string");
}

bool
mox__imap_astring(mox__imap_lx *lx, mox_imap_str *out)
{
	if (mox__imap_peek(lx, '"') || mox__imap_peek(lx, '{'))
		return mox__imap_string(lx, out);
	size_t s = lx->pos;
	while (lx->pos < lx->len && mox__imap_is_astring_char(lx->b[lx->pos]))
		lx->pos++;
	if (lx->pos == s) {
		if (mox__imap_at_end(lx))
			return mox__imap_fail(lx, "expected string, got end of line");
		return mox__imap_fail(lx, "expected string");
	}
	out->s = mox__imap_strdup(lx, (const char *)lx->b + s, lx->pos - s);
	out->len = lx->pos - s;
	return out->s != NULL;
}

bool
mox__imap_nstring(mox__imap_lx *lx, mox_imap_str *out)
{
	if (mox__imap_keyword(lx, "NIL")) {
		out->s = NULL;
		out->len = 0;
		return true;
	}
	return mox__imap_string(lx, out);
}

bool
mox__imap_number64(mox__imap_lx *lx, uint64_t *out, bool nz)
{
	uint64_t v = 0;
	size_t s = lx->pos;
	while (lx->pos < lx->len && lx->b[lx->pos] >= '0' && lx->b[lx->pos] <= '9') {
		unsigned d = (unsigned)(lx->b[lx->pos] - '0');
		/* number64 is at most 2^63-1, RFC 9051 section 9. */
		if (v > (((uint64_t)1 << 63) - 1 - d) / 10)
			return mox__imap_fail(lx, "number too large");
		v = v * 10 + d;
		lx->pos++;
	}
	if (lx->pos == s)
		return mox__imap_fail(lx, "expected number");
	if (nz && v == 0)
		return mox__imap_fail(lx, "expected non-zero number");
	*out = v;
	return true;
}

bool
mox__imap_number(mox__imap_lx *lx, uint32_t *out, bool nz)
{
	uint64_t v = 0;
	size_t s = lx->pos;
	if (!mox__imap_number64(lx, &v, nz))
		return false;
	if (v > UINT32_MAX) {
		lx->pos = s;
		return mox__imap_fail(lx, "number larger than 4294967295");
	}
	*out = (uint32_t)v;
	return true;
}

static bool
seq_number(mox__imap_lx *lx, uint32_t *out)
{
	if (mox__imap_eat(lx, '*')) {
		*out = 0;
		return true;
	}
	return mox__imap_number(lx, out, true);
}

bool
mox__imap_seqset(mox__imap_lx *lx, mox_imap_seqset *out, bool allow_saved)
{
	memset(out, 0, sizeof(*out));
	if (mox__imap_eat(lx, '$')) {
		if (!allow_saved)
			return mox__imap_fail(lx, "'$' not allowed here");
		out->saved = true;
		return true;
	}
	size_t cap = 0;
	do {
		mox_imap_range r;
		if (!mox__imap_count(lx) || !seq_number(lx, &r.first))
			return false;
		r.last = r.first;
		if (mox__imap_eat(lx, ':') && !seq_number(lx, &r.last))
			return false;
		out->r = mox__imap_grow(lx, out->r, &cap, out->n, sizeof(*out->r));
		if (out->r == NULL)
			return false;
		out->r[out->n++] = r;
	} while (mox__imap_eat(lx, ','));
	return true;
}

bool
mox_imap_seqset_contains(const mox_imap_seqset *set, uint32_t num, uint32_t max)
{
	if (set == NULL)
		return false;
	for (size_t i = 0; i < set->n; i++) {
		uint32_t a = set->r[i].first == 0 ? max : set->r[i].first;
		uint32_t b = set->r[i].last == 0 ? max : set->r[i].last;
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		if (num >= a && num <= b)
			return true;
	}
	return false;
}

/* Decode a mailbox name: modified UTF-7 (or UTF-8 with MOX_IMAP_UTF8),
 * "INBOX" case-insensitively. */
static bool
mailbox_name(mox__imap_lx *lx, const mox_imap_str *s, const char **out)
{
	if (mox__imap_eq_nocase(s->s, s->len, "INBOX")) {
		*out = "INBOX";
		return true;
	}
	if (memchr(s->s, 0, s->len) != NULL)
		return mox__imap_fail(lx, "NUL in mailbox name");
	if (lx->flags & MOX_IMAP_UTF8) {
		*out = s->s; /* quoted strings are checked UTF-8 */
		if (!mox__imap_valid_utf8((const uint8_t *)s->s, s->len))
			return mox__imap_fail(lx, "invalid UTF-8 in mailbox name");
		return true;
	}
	mox_buf b;
	/* Decode into a stack-bounded arena copy: the result is never longer
	 * than 3/2 of the input... but use a temporary heap buffer. */
	mox_buf_init(&b, lx->arena->alloc);
	mox_err err = mox_imap_utf7_decode(s->s, s->len, &b);
	if (err == MOX_ENOMEM) {
		mox_buf_free(&b);
		lx->oom = true;
		lx->failed = true;
		return false;
	}
	if (err != MOX_OK) {
		mox_buf_free(&b);
		return mox__imap_fail(lx, "invalid modified UTF-7 in mailbox name");
	}
	*out = mox__imap_strdup(lx, b.len ? (const char *)b.data : "", b.len);
	mox_buf_free(&b);
	return *out != NULL;
}

bool
mox__imap_mailbox(mox__imap_lx *lx, const char **out)
{
	mox_imap_str s;
	if (!mox__imap_astring(lx, &s))
		return false;
	return mailbox_name(lx, &s, out);
}

/* list-mailbox = 1*list-char / string; list-char = ATOM-CHAR /
 * list-wildcards / resp-specials. */
bool
mox__imap_list_mailbox(mox__imap_lx *lx, const char **out)
{
	mox_imap_str s;
	if (mox__imap_peek(lx, '"') || mox__imap_peek(lx, '{')) {
		if (!mox__imap_string(lx, &s))
			return false;
	} else {
		size_t st = lx->pos;
		while (lx->pos < lx->len &&
		       (mox__imap_is_astring_char(lx->b[lx->pos]) ||
			lx->b[lx->pos] == '%' || lx->b[lx->pos] == '*'))
			lx->pos++;
		if (lx->pos == st)
			return mox__imap_fail(lx, "expected mailbox pattern");
		s.s = mox__imap_strdup(lx, (const char *)lx->b + st, lx->pos - st);
		s.len = lx->pos - st;
		if (s.s == NULL)
			return false;
	}
	if (s.len == 0) {
		*out = s.s;
		return true;
	}
	return mailbox_name(lx, &s, out);
}

static const char *const system_flags[] = {
	"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent",
};

/* flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
 *        flag-keyword / flag-extension */
bool
mox__imap_flag(mox__imap_lx *lx, const char **out, bool allow_recent)
{
	bool sys = mox__imap_eat(lx, '\\');
	mox_imap_str a;
	if (!mox__imap_atom(lx, &a))
		return false;
	if (!sys) {
		*out = a.s;
		return true;
	}
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(*system_flags); i++) {
		if (mox__imap_eq_nocase(a.s, a.len, system_flags[i] + 1)) {
			if (i == 5 && !allow_recent)
				return mox__imap_fail(lx, "\\Recent cannot be set");
			*out = system_flags[i];
			return true;
		}
	}
	/* flag-extension = "\" atom: reserved for future system flags. */
	return mox__imap_fail(lx, "unknown system flag \\%s", a.s);
}

/* flag-list = "(" [flag *(SP flag)] ")" */
bool
mox__imap_flag_list(mox__imap_lx *lx, const char ***out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (!mox__imap_open(lx))
		return false;
	if (!mox__imap_peek(lx, ')')) {
		do {
			const char *f;
			if (!mox__imap_count(lx) || !mox__imap_flag(lx, &f, false))
				return false;
			*out = mox__imap_grow(lx, *out, &cap, *n, sizeof(**out));
			if (*out == NULL)
				return false;
			(*out)[(*n)++] = f;
		} while (mox__imap_eat(lx, ' '));
	}
	if (!mox__imap_expect(lx, ')', "')' or space after flag"))
		return false;
	mox__imap_close(lx);
	return true;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int
days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

static bool
digits(mox__imap_lx *lx, size_t min, size_t max, int *out)
{
	size_t s = lx->pos;
	int v = 0;
	while (lx->pos < lx->len && lx->pos - s < max && lx->b[lx->pos] >= '0' &&
	       lx->b[lx->pos] <= '9')
		v = v * 10 + (lx->b[lx->pos++] - '0');
	if (lx->pos - s < min)
		return mox__imap_fail(lx, "expected %zu digits", min);
	*out = v;
	return true;
}

static bool
date_text(mox__imap_lx *lx, mox_imap_date *d, bool fixed_day)
{
	if (fixed_day && mox__imap_eat(lx, ' ')) {
		if (!digits(lx, 1, 1, &d->day))
			return false;
	} else if (!digits(lx, 1, 2, &d->day)) {
		return false;
	}
	if (!mox__imap_expect(lx, '-', "'-' in date"))
		return false;
	d->month = 0;
	if (lx->len - lx->pos >= 3)
		for (int i = 0; i < 12; i++)
			if (mox__imap_eq_nocase((const char *)lx->b + lx->pos, 3,
						months[i]))
				d->month = i + 1;
	if (d->month == 0)
		return mox__imap_fail(lx, "expected month name in date");
	lx->pos += 3;
	if (!mox__imap_expect(lx, '-', "'-' in date") ||
	    !digits(lx, 4, 4, &d->year))
		return false;
	if (d->day < 1 || d->day > days_in_month(d->year, d->month))
		return mox__imap_fail(lx, "invalid day in date");
	return true;
}

bool
mox__imap_date(mox__imap_lx *lx, mox_imap_date *out)
{
	bool q = mox__imap_eat(lx, '"');
	if (!date_text(lx, out, false))
		return false;
	if (q && !mox__imap_expect(lx, '"', "'\"' after date"))
		return false;
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 *             zone DQUOTE */
bool
mox__imap_datetime(mox__imap_lx *lx, mox_imap_datetime *out)
{
	mox_imap_date d = {0, 0, 0};
	int hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
	if (!mox__imap_expect(lx, '"', "'\"' starting date-time") ||
	    !date_text(lx, &d, true) || !mox__imap_sp(lx) ||
	    !digits(lx, 2, 2, &hh) || !mox__imap_expect(lx, ':', "':'") ||
	    !digits(lx, 2, 2, &mm) || !mox__imap_expect(lx, ':', "':'") ||
	    !digits(lx, 2, 2, &ss) || !mox__imap_sp(lx))
		return false;
	int sign;
	if (mox__imap_eat(lx, '+'))
		sign = 1;
	else if (mox__imap_eat(lx, '-'))
		sign = -1;
	else
		return mox__imap_fail(lx, "expected zone in date-time");
	if (!digits(lx, 2, 2, &zh) || !digits(lx, 2, 2, &zm) ||
	    !mox__imap_expect(lx, '"', "'\"' ending date-time"))
		return false;
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return mox__imap_fail(lx, "invalid time in date-time");
	out->tz_offset = sign * (zh * 60 + zm);
	int64_t t = days_from_civil(d.year, d.month, d.day) * 86400 +
		    hh * 3600 + mm * 60 + ss - (int64_t)out->tz_offset * 60;
	out->t = (time_t)t;
	return true;
}
