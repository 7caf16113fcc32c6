/* A counting allocator that fails after a set number of allocations, for the
 * OOM loops every library's tests run (STYLE.md section 10): N = 0, 1, 2...
 * until the operation succeeds, expecting MOX_ENOMEM before that and no leak
 * (live == 0 after cleanup) at every step. Header-only, test code only. */
#ifndef MOX_TESTALLOC_H
#define MOX_TESTALLOC_H

#include <mox/core.h>
#include <stdlib.h>

typedef struct mox_testalloc {
	mox_allocator a;
	long fail_after; /* allocations allowed; < 0: never fail */
	long count;      /* allocations attempted */
	long live;       /* blocks not yet freed */
} mox_testalloc;

static void *
mox_testalloc_malloc(void *ud, size_t n)
{
	mox_testalloc *t = ud;
	if (t->fail_after >= 0 && t->count >= t->fail_after)
		return NULL;
	t->count++;
	void *p = malloc(n);
	if (p != NULL)
		t->live++;
	return p;
}

static void *
mox_testalloc_realloc(void *ud, void *ptr, size_t n)
{
	mox_testalloc *t = ud;
	if (t->fail_after >= 0 && t->count >= t->fail_after)
		return NULL;
	t->count++;
	void *p = realloc(ptr, n);
	if (p != NULL && ptr == NULL)
		t->live++;
	return p;
}

static void
mox_testalloc_free(void *ud, void *ptr)
{
	mox_testalloc *t = ud;
	if (ptr != NULL)
		t->live--;
	free(ptr);
}

static inline void
mox_testalloc_init(mox_testalloc *t, long fail_after)
{
	t->a.malloc = mox_testalloc_malloc;
	t->a.realloc = mox_testalloc_realloc;
	t->a.free = mox_testalloc_free;
	t->a.ud = t;
	t->fail_after = fail_after;
	t->count = 0;
	t->live = 0;
}

#endif
