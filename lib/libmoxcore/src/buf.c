/* Growable byte buffer. Invariant: data == NULL or data[len] == '\0', and
 * len < cap. Growth doubles, so appends are amortised O(1). */
#include <mox/core.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
mox_buf_init(mox_buf *b, const mox_allocator *alloc)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = 0;
	b->alloc = alloc;
}

mox_err
mox_buf_reserve(mox_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return MOX_ENOMEM;
	size_t need = b->len + extra + 1;
	if (b->max != 0 && b->len + extra > b->max)
		return MOX_ELIMIT;
	if (need <= b->cap)
		return MOX_OK;
	size_t cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = mox_mem_realloc(b->alloc, b->data, cap);
	if (p == NULL)
		return MOX_ENOMEM;
	if (b->data == NULL)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return MOX_OK;
}

mox_err
mox_buf_append(mox_buf *b, const void *data, size_t len)
{
	mox_err err = mox_buf_reserve(b, len);
	if (err != MOX_OK)
		return err;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return MOX_OK;
}

mox_err
mox_buf_append_str(mox_buf *b, const char *s)
{
	return mox_buf_append(b, s, strlen(s));
}

mox_err
mox_buf_append_byte(mox_buf *b, uint8_t c)
{
	return mox_buf_append(b, &c, 1);
}

mox_err
mox_buf_appendf(mox_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MOX_EINVAL;
	mox_err err = mox_buf_reserve(b, (size_t)n);
	if (err != MOX_OK)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MOX_OK;
}

void
mox_buf_consume(mox_buf *b, size_t n)
{
	if (n >= b->len) {
		mox_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
mox_buf_reset(mox_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

uint8_t *
mox_buf_steal(mox_buf *b, size_t *len_out)
{
	if (len_out != NULL)
		*len_out = 0;
	if (b->data == NULL && mox_buf_reserve(b, 0) != MOX_OK)
		return NULL;
	uint8_t *p = b->data;
	if (len_out != NULL)
		*len_out = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void
mox_buf_free(mox_buf *b)
{
	mox_mem_free(b->alloc, b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
