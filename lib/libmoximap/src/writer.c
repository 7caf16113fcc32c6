/* The response side: strings in their wire forms (RFC 9051 section 4.3),
 * status responses, and the output queue that streams literals.
 *
 * The queue is a list of items: byte buffers the server appends responses
 * to, and literals read through a callback. Pulling copies bytes from the
 * head item; a literal's data is read straight into the caller's buffer,
 * so a message file goes from the file to the socket (or TLS) buffer with
 * no copy of the whole in memory. */
#include "imap_int.h"

#include <string.h>

/* Quoted strings longer than this become literals: clients have line
 * limits too. */
#define QUOTED_MAX 1024

static bool
is_atom(const char *s, size_t len)
{
	if (len == 0 || mox__imap_eq_nocase(s, len, "NIL"))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!mox__imap_is_atom_char((uint8_t)s[i]))
			return false;
	return true;
}

static bool
can_quote(const char *s, size_t len, unsigned wflags)
{
	if (len > QUOTED_MAX)
		return false;
	bool ascii = true;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == '\r' || c == '\n' || c == 0)
			return false;
		if (c >= 0x80)
			ascii = false;
	}
	if (ascii)
		return true;
	return (wflags & MOX_IMAP_W_UTF8) &&
	       mox__imap_valid_utf8((const uint8_t *)s, len);
}

static mox_err
write_string(mox_buf *out, const char *s, size_t len, unsigned wflags)
{
	size_t orig = out->len;
	mox_err err;
	if (can_quote(s, len, wflags)) {
		err = mox_buf_append_byte(out, '"');
		for (size_t i = 0; err == MOX_OK && i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				err = mox_buf_append_byte(out, '\\');
			if (err == MOX_OK)
				err = mox_buf_append_byte(out, (uint8_t)s[i]);
		}
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, '"');
	} else {
		/* A literal with NUL would need literal8; NUL cannot be sent in
		 * a plain literal (RFC 9051 section 4.3). Callers with binary
		 * data use BINARY fetches; here it is replaced. */
		err = mox_buf_appendf(out, "{%zu}\r\n", len);
		for (size_t i = 0; err == MOX_OK && i < len;) {
			const char *z = memchr(s + i, 0, len - i);
			size_t n = z != NULL ? (size_t)(z - (s + i)) : len - i;
			err = mox_buf_append(out, s + i, n);
			i += n;
			if (err == MOX_OK && z != NULL) {
				err = mox_buf_append_byte(out, ' ');
				i++;
			}
		}
	}
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}

mox_err
mox_imap_write_string(mox_buf *out, const char *s, size_t len, unsigned wflags)
{
	if (out == NULL || (s == NULL && len > 0))
		return MOX_EINVAL;
	return write_string(out, s != NULL ? s : "", len, wflags);
}

mox_err
mox_imap_write_astring(mox_buf *out, const char *s, size_t len, unsigned wflags)
{
	if (out == NULL || (s == NULL && len > 0))
		return MOX_EINVAL;
	if (s != NULL && is_atom(s, len))
		return mox_buf_append(out, s, len);
	return write_string(out, s != NULL ? s : "", len, wflags);
}

mox_err
mox_imap_write_nstring(mox_buf *out, const char *s, size_t len, unsigned wflags)
{
	if (out == NULL)
		return MOX_EINVAL;
	if (s == NULL)
		return mox_buf_append_str(out, "NIL");
	return write_string(out, s, len, wflags);
}

mox_err
mox_imap_write_mailbox(mox_buf *out, const char *name, unsigned wflags)
{
	if (out == NULL || name == NULL)
		return MOX_EINVAL;
	size_t len = strlen(name);
	if (!mox__imap_valid_utf8((const uint8_t *)name, len))
		return MOX_ESYNTAX;
	if (wflags & MOX_IMAP_W_UTF8)
		return mox_imap_write_astring(out, name, len, wflags);
	mox_buf tmp;
	mox_buf_init(&tmp, out->alloc);
	mox_err err = mox_imap_utf7_encode(name, len, &tmp);
	if (err == MOX_OK)
		err = mox_imap_write_astring(out, tmp.len ? (const char *)tmp.data : "",
					     tmp.len, wflags);
	mox_buf_free(&tmp);
	return err;
}

static mox_err
append_text(mox_buf *out, const char *text)
{
	mox_err err = MOX_OK;
	for (const char *p = text; err == MOX_OK && *p != '\0'; p++)
		err = mox_buf_append_byte(out, *p == '\r' || *p == '\n' ? ' ' : (uint8_t)*p);
	return err;
}

mox_err
mox_imap_write_status(mox_buf *out, const char *tag, mox_imap_status status,
		      const char *code, const char *text)
{
	static const char *const names[] = {"OK", "NO", "BAD", "BYE"};
	if (out == NULL || (unsigned)status > MOX_IMAP_BYE)
		return MOX_EINVAL;
	size_t orig = out->len;
	if (tag == NULL || status == MOX_IMAP_BYE)
		tag = "*";
	mox_err err = mox_buf_appendf(out, "%s %s", tag, names[status]);
	if (err == MOX_OK && code != NULL) {
		err = mox_buf_append_str(out, " [");
		if (err == MOX_OK)
			err = append_text(out, code);
		if (err == MOX_OK)
			err = mox_buf_append_byte(out, ']');
	}
	if (err == MOX_OK)
		err = mox_buf_append_byte(out, ' ');
	if (err == MOX_OK)
		err = append_text(out, text != NULL && *text != '\0' ? text : names[status]);
	if (err == MOX_OK)
		err = mox_buf_append(out, "\r\n", 2);
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}

mox_err
mox_imap_write_reject(mox_buf *out, const mox_imap_reject *r)
{
	if (out == NULL || r == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	mox_err err = mox_imap_write_status(out, r->tag, r->status, r->code, r->text);
	if (err == MOX_OK && r->fatal && r->status != MOX_IMAP_BYE)
		err = mox_imap_write_status(out, NULL, MOX_IMAP_BYE, NULL, "closing connection");
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}

mox_err
mox_imap_write_continue(mox_buf *out, const char *text)
{
	if (out == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	mox_err err = mox_buf_append_str(out, "+ ");
	if (err == MOX_OK)
		err = append_text(out, text != NULL ? text : "");
	if (err == MOX_OK)
		err = mox_buf_append(out, "\r\n", 2);
	if (err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return err;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

mox_err
mox_imap_write_datetime(mox_buf *out, time_t t, int tz_offset)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (out == NULL || tz_offset < -1439 || tz_offset > 1439)
		return MOX_EINVAL;
	int64_t lt = (int64_t)t + (int64_t)tz_offset * 60;
	int64_t days = lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400);
	int64_t secs = lt - days * 86400;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return MOX_ERANGE;
	int off = tz_offset < 0 ? -tz_offset : tz_offset;
	return mox_buf_appendf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", d,
			       mon[m - 1], y, (int)(secs / 3600),
			       (int)(secs / 60 % 60), (int)(secs % 60),
			       tz_offset < 0 ? '-' : '+', off / 60, off % 60);
}

/* ---- the output queue ---- */

typedef struct item item;
struct item {
	item *next;
	bool literal;
	mox_buf buf;     /* bytes; pos is how much was pulled */
	size_t pos;
	uint64_t size;   /* literal */
	uint64_t done;
	mox_imap_read_fn read;
	void *arg;
};

struct mox_imap_out {
	const mox_allocator *alloc;
	item *head, *tail;
	mox_err err;
};

mox_err
mox_imap_out_new(mox_imap_out **out_out, const mox_allocator *alloc)
{
	if (out_out == NULL)
		return MOX_EINVAL;
	*out_out = NULL;
	mox_imap_out *o = mox_mem_calloc(alloc, 1, sizeof(*o));
	if (o == NULL)
		return MOX_ENOMEM;
	o->alloc = alloc;
	/* One bytes item always sits at the tail. */
	o->head = o->tail = mox_mem_calloc(alloc, 1, sizeof(item));
	if (o->head == NULL) {
		mox_mem_free(alloc, o);
		return MOX_ENOMEM;
	}
	mox_buf_init(&o->head->buf, alloc);
	*out_out = o;
	return MOX_OK;
}

void
mox_imap_out_free(mox_imap_out *o)
{
	if (o == NULL)
		return;
	while (o->head != NULL) {
		item *n = o->head->next;
		mox_buf_free(&o->head->buf);
		mox_mem_free(o->alloc, o->head);
		o->head = n;
	}
	mox_mem_free(o->alloc, o);
}

mox_buf *
mox_imap_out_buf(mox_imap_out *o)
{
	return &o->tail->buf;
}

mox_err
mox_imap_out_literal(mox_imap_out *o, uint64_t size, bool binary,
		     mox_imap_read_fn read, void *arg)
{
	if (o == NULL || (read == NULL && size > 0))
		return MOX_EINVAL;
	item *lit = mox_mem_calloc(o->alloc, 1, sizeof(item));
	item *bytes = mox_mem_calloc(o->alloc, 1, sizeof(item));
	if (lit == NULL || bytes == NULL) {
		mox_mem_free(o->alloc, lit);
		mox_mem_free(o->alloc, bytes);
		return MOX_ENOMEM;
	}
	mox_buf *b = &o->tail->buf;
	size_t orig = b->len;
	if (mox_buf_appendf(b, "%s{%llu}\r\n", binary ? "~" : "",
			    (unsigned long long)size) != MOX_OK) {
		b->len = orig;
		mox_mem_free(o->alloc, lit);
		mox_mem_free(o->alloc, bytes);
		return MOX_ENOMEM;
	}
	lit->literal = true;
	lit->size = size;
	lit->read = read;
	lit->arg = arg;
	mox_buf_init(&lit->buf, o->alloc);
	mox_buf_init(&bytes->buf, o->alloc);
	o->tail->next = lit;
	lit->next = bytes;
	o->tail = bytes;
	return MOX_OK;
}

mox_err
mox_imap_out_pull(mox_imap_out *o, uint8_t *dst, size_t cap, size_t *n_out)
{
	if (n_out != NULL)
		*n_out = 0;
	if (o == NULL || n_out == NULL || (dst == NULL && cap > 0))
		return MOX_EINVAL;
	if (o->err != MOX_OK)
		return o->err;
	size_t n = 0;
	while (n < cap) {
		item *h = o->head;
		if (h->literal) {
			uint64_t left = h->size - h->done;
			if (left > 0) {
				size_t want = cap - n;
				if ((uint64_t)want > left)
					want = (size_t)left;
				long got = h->read(h->arg, h->done, dst + n, want);
				if (got <= 0 || (size_t)got > want) {
					o->err = got < 0 ? (mox_err)got : MOX_EIO;
					*n_out = n;
					return o->err;
				}
				h->done += (uint64_t)got;
				n += (size_t)got;
				continue;
			}
		} else {
			size_t left = h->buf.len - h->pos;
			if (left > 0) {
				size_t take = left < cap - n ? left : cap - n;
				memcpy(dst + n, h->buf.data + h->pos, take);
				h->pos += take;
				n += take;
				continue;
			}
			if (h == o->tail) {
				mox_buf_reset(&h->buf);
				h->pos = 0;
				break;
			}
		}
		/* The head is done and not the tail: drop it. */
		o->head = h->next;
		mox_buf_free(&h->buf);
		mox_mem_free(o->alloc, h);
	}
	*n_out = n;
	return MOX_OK;
}

uint64_t
mox_imap_out_pending(const mox_imap_out *o)
{
	uint64_t n = 0;
	for (const item *i = o->head; i != NULL; i = i->next)
		n += i->literal ? i->size - i->done : i->buf.len - i->pos;
	return n;
}
