/* mbox reading (mboxrd), RFC 4155, as mox imports it.
 *
 * RFC 4155 section 2: each message starts with a "From " line (after the
 * start of the file or an empty line) and ends with an empty line that
 * separates it from the next. In mboxrd, lines of the message that match
 * ">*From " got one more ">" when written; we take one off. Line endings
 * become CRLF (the store keeps messages with CRLF, RFC 5322 section 2.1).
 * The separating empty line is not part of the message (mox keeps it,
 * which grows a message by a line per export/import round trip).
 *
 * Flags come from the header fields mail programs keep in mboxes (see
 * Dovecot's mbox documentation): Status "R" is \Seen; X-Status "A"
 * \Answered, "F" \Flagged, "T" \Draft, "D" \Deleted; X-Keywords a comma
 * or space separated list of keywords ($Forwarded, $Junk, ... become
 * flags). The fields stay in the message, as mox does; export rewrites
 * them. The "From " line's asctime date (read as UTC) is the received
 * time.
 *
 * Sans-IO: feed bytes, take messages. Memory: the unprocessed input plus
 * one message, at most max_message bytes (MOX_ELIMIT past it).
 */
#include "store_int.h"

#include <string.h>
#include <time.h>

#define MBOX_DEFAULT_MAX ((size_t)1 << 30)

struct mox_store_mbox {
	const mox_allocator *alloc;
	size_t max;
	mox_buf in;  /* input not yet taken apart */
	size_t pos;  /* first unprocessed byte of in */
	mox_buf cur; /* message being read */
	mox_buf out; /* message handed out */
	mox_buf kw;  /* keywords of cur */
	mox_buf okw; /* keywords of out */
	unsigned flags;
	int64_t received;
	size_t line, from_line;
	bool started, in_header, prev_empty, ended, done;
	mox_err err; /* sticky */
};

mox_err
mox_store_mbox_new(mox_store_mbox **mb_out, size_t max_message,
                   const mox_allocator *alloc)
{
	if (mb_out == NULL)
		return MOX_EINVAL;
	*mb_out = NULL;
	mox_store_mbox *mb = mox_mem_calloc(alloc, 1, sizeof(*mb));
	if (mb == NULL)
		return MOX_ENOMEM;
	mb->alloc = alloc;
	mb->max = max_message != 0 ? max_message : MBOX_DEFAULT_MAX;
	mox_buf_init(&mb->in, alloc);
	mox_buf_init(&mb->cur, alloc);
	mox_buf_init(&mb->out, alloc);
	mox_buf_init(&mb->kw, alloc);
	mox_buf_init(&mb->okw, alloc);
	*mb_out = mb;
	return MOX_OK;
}

void
mox_store_mbox_free(mox_store_mbox *mb)
{
	if (mb == NULL)
		return;
	mox_buf_free(&mb->in);
	mox_buf_free(&mb->cur);
	mox_buf_free(&mb->out);
	mox_buf_free(&mb->kw);
	mox_buf_free(&mb->okw);
	mox_mem_free(mb->alloc, mb);
}

mox_err
mox_store_mbox_feed(mox_store_mbox *mb, const void *data, size_t len)
{
	if (mb == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (mb->err != MOX_OK)
		return mb->err;
	if (mb->ended)
		return MOX_ESTATE;
	/* Drop what was processed before growing. */
	if (mb->pos > 0) {
		mox_buf_consume(&mb->in, mb->pos);
		mb->pos = 0;
	}
	return mox_buf_append(&mb->in, data, len);
}

void
mox_store_mbox_end(mox_store_mbox *mb)
{
	if (mb != NULL)
		mb->ended = true;
}

static bool
has_prefix_nocase(const uint8_t *p, size_t n, const char *pre)
{
	size_t l = strlen(pre);
	if (n < l)
		return false;
	for (size_t i = 0; i < l; i++)
		if (mox__store_lower((char)p[i]) != mox__store_lower(pre[i]))
			return false;
	return true;
}

/* asctime: "Www Mmm dd hh:mm:ss yyyy", day possibly space padded. */
static int64_t
parse_asctime(const uint8_t *p, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char s[64];
	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, p, n);
	s[n] = '\0';
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	if (n < 24)
		return 0;
	int mon = -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 4, months + 3 * i, 3) == 0)
			mon = i;
	if (mon < 0 || s[3] != ' ' || s[7] != ' ')
		return 0;
	const char *q = s + 8;
	int v[5] = {0};
	/* day, hour, minute, second, year */
	for (int f = 0; f < 5; f++) {
		while (*q == ' ')
			q++;
		if (*q < '0' || *q > '9')
			return 0;
		while (*q >= '0' && *q <= '9') {
			v[f] = v[f] * 10 + (*q - '0');
			if (v[f] > 100000)
				return 0;
			q++;
		}
		if (f >= 1 && f <= 2 && *q++ != ':')
			return 0;
	}
	if (*q != '\0' || v[0] < 1 || v[0] > 31 || v[1] > 23 || v[2] > 59 ||
	    v[3] > 60 || v[4] < 1970 || v[4] > 9999)
		return 0;
	/* Days from civil date (proleptic Gregorian), no timezone. */
	int y = v[4], m = mon + 1, d = v[0];
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * 86400 + v[1] * 3600 + v[2] * 60 + v[3];
}

static mox_err
add_keyword(mox_store_mbox *mb, const uint8_t *w, size_t n)
{
	char kw[MOX_STORE_KEYWORD_MAX + 1];
	if (n == 0 || n > MOX_STORE_KEYWORD_MAX)
		return MOX_OK;
	for (size_t i = 0; i < n; i++)
		kw[i] = mox__store_lower((char)w[i]);
	kw[n] = '\0';
	/* Without the $ too, as mox reads them. */
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
	    {"forwarded", MOX_STORE_FORWARDED}, {"$forwarded", MOX_STORE_FORWARDED},
	    {"junk", MOX_STORE_JUNK},           {"$junk", MOX_STORE_JUNK},
	    {"notjunk", MOX_STORE_NOTJUNK},     {"$notjunk", MOX_STORE_NOTJUNK},
	    {"nonjunk", MOX_STORE_NOTJUNK},     {"$nonjunk", MOX_STORE_NOTJUNK},
	    {"phishing", MOX_STORE_PHISHING},   {"$phishing", MOX_STORE_PHISHING},
	    {"mdnsent", MOX_STORE_MDNSENT},     {"$mdnsent", MOX_STORE_MDNSENT},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(kw, known[i].name) == 0) {
			mb->flags |= known[i].bit;
			return MOX_OK;
		}
	}
	if (!mox_store_keyword_valid(kw))
		return MOX_OK;
	mox_err err = MOX_OK;
	if (mb->kw.len > 0)
		err = mox_buf_append_byte(&mb->kw, ' ');
	return err == MOX_OK ? mox_buf_append(&mb->kw, kw, n) : err;
}

/* Flags from the header fields mboxes carry. line without line ending. */
static mox_err
header_flags(mox_store_mbox *mb, const uint8_t *p, size_t n)
{
	size_t skip;
	int kind;
	if (has_prefix_nocase(p, n, "status:")) {
		kind = 0;
		skip = 7;
	} else if (has_prefix_nocase(p, n, "x-status:")) {
		kind = 1;
		skip = 9;
	} else if (has_prefix_nocase(p, n, "x-keywords:")) {
		kind = 2;
		skip = 11;
	} else {
		return MOX_OK;
	}
	p += skip;
	n -= skip;
	if (kind < 2) {
		for (size_t i = 0; i < n; i++) {
			switch (p[i]) {
			case 'R':
				if (kind == 0)
					mb->flags |= MOX_STORE_SEEN;
				break;
			case 'A':
				if (kind == 1)
					mb->flags |= MOX_STORE_ANSWERED;
				break;
			case 'F':
				if (kind == 1)
					mb->flags |= MOX_STORE_FLAGGED;
				break;
			case 'T':
				if (kind == 1)
					mb->flags |= MOX_STORE_DRAFT;
				break;
			case 'D':
				if (kind == 1)
					mb->flags |= MOX_STORE_DELETED;
				break;
			default:
				break;
			}
		}
		return MOX_OK;
	}
	size_t i = 0;
	while (i < n) {
		while (i < n && (p[i] == ',' || p[i] == ' ' || p[i] == '\t'))
			i++;
		size_t s = i;
		while (i < n && p[i] != ',' && p[i] != ' ' && p[i] != '\t')
			i++;
		mox_err err = add_keyword(mb, p + s, i - s);
		if (err != MOX_OK)
			return err;
	}
	return MOX_OK;
}

static void
start_message(mox_store_mbox *mb, const uint8_t *line, size_t n)
{
	mox_buf_reset(&mb->cur);
	mox_buf_reset(&mb->kw);
	mb->flags = 0;
	mb->in_header = true;
	mb->prev_empty = false;
	mb->from_line = mb->line;
	/* "From " sender SP date: the date follows the second space. */
	const uint8_t *sp = n > 5 ? memchr(line + 5, ' ', n - 5) : NULL;
	mb->received =
	    sp != NULL ? parse_asctime(sp + 1, n - (size_t)(sp + 1 - line)) : 0;
	mb->started = true;
}

/* Hand the current message out: the separating empty line dropped. */
static void
emit(mox_store_mbox *mb, mox_store_mbox_msg *out)
{
	mox_buf t = mb->out;
	mb->out = mb->cur;
	mb->cur = t;
	mox_buf_reset(&mb->cur);
	t = mb->okw;
	mb->okw = mb->kw;
	mb->kw = t;
	mox_buf_reset(&mb->kw);
	if (mb->prev_empty && mb->out.len >= 2)
		mb->out.len -= 2;
	memset(out, 0, sizeof(*out));
	out->data = mb->out.data != NULL ? mb->out.data : (const uint8_t *)"";
	out->len = mb->out.len;
	out->flags = mb->flags;
	out->keywords = mb->okw.data != NULL ? (const char *)mb->okw.data : "";
	out->received = mb->received;
	out->line = mb->from_line;
}

/* One line (with its LF, if any): MOX_OK if a message is complete. */
static mox_err
do_line(mox_store_mbox *mb, const uint8_t *p, size_t n, mox_store_mbox_msg *out,
        bool *emitted)
{
	mb->line++;
	/* A UTF-8 byte order mark some programs put at the start. */
	if (mb->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	bool from = n >= 5 && memcmp(p, "From ", 5) == 0;
	if (!mb->started) {
		if (!from)
			return MOX_ESYNTAX;
		start_message(mb, p, n);
		return MOX_OK;
	}
	/* RFC 4155 section 2: a new message at "From " after an empty line. */
	if (from && mb->prev_empty) {
		emit(mb, out);
		*emitted = true;
		start_message(mb, p, n);
		return MOX_OK;
	}
	size_t body = n;
	bool lf = n > 0 && p[n - 1] == '\n';
	if (lf)
		body--;
	if (body > 0 && p[body - 1] == '\r')
		body--;
	if (mb->in_header) {
		if (body == 0)
			mb->in_header = false;
		else {
			mox_err err = header_flags(mb, p, body);
			if (err != MOX_OK)
				return err;
		}
	}
	/* mboxrd: ">From ", ">>From "... lose one ">". */
	size_t off = 0;
	if (body > 0 && p[0] == '>') {
		size_t k = 0;
		while (k < body && p[k] == '>')
			k++;
		if (body - k >= 5 && memcmp(p + k, "From ", 5) == 0)
			off = 1;
	}
	if (mb->cur.len + (body - off) + 2 > mb->max)
		return MOX_ELIMIT;
	mox_err err = mox_buf_append(&mb->cur, p + off, body - off);
	if (err == MOX_OK && lf)
		err = mox_buf_append(&mb->cur, "\r\n", 2);
	mb->prev_empty = lf && body == 0;
	return err;
}

mox_err
mox_store_mbox_next(mox_store_mbox *mb, mox_store_mbox_msg *msg_out)
{
	if (mb == NULL || msg_out == NULL)
		return MOX_EINVAL;
	memset(msg_out, 0, sizeof(*msg_out));
	if (mb->err != MOX_OK)
		return mb->err;
	if (mb->done)
		return MOX_ENOTFOUND;
	mox_err err = MOX_OK;
	bool emitted = false;
	while (!emitted) {
		size_t left = mb->in.len - mb->pos;
		const uint8_t *p = left > 0 ? mb->in.data + mb->pos : NULL;
		const uint8_t *nl = left > 0 ? memchr(p, '\n', left) : NULL;
		size_t n;
		if (nl != NULL) {
			n = (size_t)(nl - p) + 1;
		} else if (mb->ended && left > 0) {
			n = left; /* last line without line ending */
		} else if (mb->ended) {
			mb->done = true;
			if (!mb->started)
				return MOX_ENOTFOUND;
			emit(mb, msg_out);
			return MOX_OK;
		} else {
			if (mb->in.len - mb->pos > mb->max + 4096) {
				mb->err = MOX_ELIMIT;
				return mb->err;
			}
			return MOX_EAGAIN;
		}
		err = do_line(mb, p, n, msg_out, &emitted);
		mb->pos += n;
		if (err != MOX_OK) {
			mb->err = err;
			return err;
		}
	}
	return MOX_OK;
}
