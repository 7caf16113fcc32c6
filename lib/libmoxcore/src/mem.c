/* Allocation through an optional mox_allocator, with overflow checks. */
#include <mox/core.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *
mox_mem_alloc(const mox_allocator *a, size_t size)
{
	if (size == 0)
		size = 1;
	if (a != NULL)
		return a->malloc(a->ud, size);
	return malloc(size);
}

void *
mox_mem_calloc(const mox_allocator *a, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	void *p = mox_mem_alloc(a, n * size);
	if (p != NULL)
		memset(p, 0, n * size == 0 ? 1 : n * size);
	return p;
}

void *
mox_mem_realloc(const mox_allocator *a, void *ptr, size_t size)
{
	if (size == 0)
		size = 1;
	if (a != NULL)
		return a->realloc(a->ud, ptr, size);
	return realloc(ptr, size);
}

void *
mox_mem_reallocarray(const mox_allocator *a, void *ptr, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return mox_mem_realloc(a, ptr, n * size);
}

void
mox_mem_free(const mox_allocator *a, void *ptr)
{
	if (ptr == NULL)
		return;
	if (a != NULL)
		a->free(a->ud, ptr);
	else
		free(ptr);
}

char *
mox_mem_strndup(const mox_allocator *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = mox_mem_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
mox_mem_strdup(const mox_allocator *a, const char *s)
{
	return mox_mem_strndup(a, s, strlen(s));
}

void
mox_mem_wipe(void *ptr, size_t len)
{
	/* A volatile function pointer keeps the compiler from dropping the
	 * memset as a dead store. */
	static void *(*const volatile wipe)(void *, int, size_t) = memset;
	if (ptr != NULL && len > 0)
		wipe(ptr, 0, len);
}
