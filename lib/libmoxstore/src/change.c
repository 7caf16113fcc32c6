/* Change notifications: what a transaction changed, broadcast at commit.
 *
 * How this works: operations record changes in the transaction (struct
 * mox__store_crec, strings as offsets into an arena that may still move).
 * Before the commit, mox__store_batch_build turns them into one immutable,
 * reference-counted batch in a single allocation, so that nothing can fail
 * after the database commit. The batch is then queued, shared, on every
 * listener but the originating one, under the store's listener mutex
 * while the committer still holds the write lock: every listener sees
 * batches in commit order, so UIDs arrive in increasing order (as IMAP
 * requires for EXISTS/FETCH). Repeated count changes of one mailbox in a
 * batch are reduced to the last. A listener whose queue is full
 * (MOX_STORE_LISTENER_QUEUE_MAX) loses its queue and is told once with
 * MOX_ELIMIT, so a stuck session cannot make the server run out of memory.
 */
#include "store_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

struct mox_store_listener {
	mox_store *st;
	mox_store_wakeup_fn wakeup;
	void *arg;
	mox_store_batch **q; /* ring */
	size_t head, n, cap;
	bool overflow;
	pthread_cond_t cv;
	mox_store_listener *prev, *next;
};

#define NOSTR SIZE_MAX

static mox_err
arena_str(mox_store_tx *tx, const char *s, size_t *off)
{
	if (s == NULL) {
		*off = NOSTR;
		return MOX_OK;
	}
	*off = tx->arena.len;
	return mox_buf_append(&tx->arena, s, strlen(s) + 1);
}

mox_err
mox__store_change_add(mox_store_tx *tx, const mox_store_change *c, const char *keywords,
                      const char *name, const char *old_name, const uint32_t *uids,
                      size_t nuids)
{
	if (tx->ncrecs == tx->capcrecs) {
		size_t cap = tx->capcrecs ? tx->capcrecs * 2 : 16;
		void *n = mox_mem_reallocarray(tx->st->alloc, tx->crecs, cap,
		                               sizeof(*tx->crecs));
		if (n == NULL)
			return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		tx->crecs = n;
		tx->capcrecs = cap;
	}
	struct mox__store_crec r = {.c = *c};
	size_t len0 = tx->arena.len;
	mox_err err = arena_str(tx, keywords, &r.keywords_off);
	if (err == MOX_OK)
		err = arena_str(tx, name, &r.name_off);
	if (err == MOX_OK)
		err = arena_str(tx, old_name, &r.old_name_off);
	r.uids_off = NOSTR;
	if (err == MOX_OK && nuids > 0) {
		static const uint8_t zero[4];
		size_t pad = (4 - tx->arena.len % 4) % 4;
		err = mox_buf_append(&tx->arena, zero, pad);
		r.uids_off = tx->arena.len;
		if (err == MOX_OK && nuids > SIZE_MAX / 4)
			err = MOX_ENOMEM;
		if (err == MOX_OK)
			err =
			    mox_buf_append(&tx->arena, uids, nuids * sizeof(uint32_t));
	}
	if (err != MOX_OK) {
		tx->arena.len = len0;
		return mox__store_seterr(tx, err, "out of memory");
	}
	r.c.nuids = nuids;
	tx->crecs[tx->ncrecs++] = r;
	return MOX_OK;
}

/* Record the current counts of a mailbox. */
mox_err
mox__store_change_counts(mox_store_tx *tx, int64_t mailbox_id)
{
	mox_store_mailbox mb;
	mox_err err = mox_store_tx_mailbox_get_id(tx, mailbox_id, &mb);
	if (err != MOX_OK)
		return err;
	mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_COUNTS,
	                      .mailbox_id = mailbox_id,
	                      .modseq = mb.highest_modseq,
	                      .counts = mb.counts};
	return mox__store_change_add(tx, &c, NULL, mb.name, NULL, NULL, 0);
}

mox_err
mox__store_batch_build(mox_store_tx *tx, mox_store_batch **out)
{
	*out = NULL;
	if (tx->ncrecs == 0)
		return MOX_OK;
	const mox_allocator *a = tx->st->alloc;
	size_t n = tx->ncrecs;
	bool *skip = mox_mem_calloc(a, n, sizeof(bool));
	int64_t *seen = mox_mem_calloc(a, n, sizeof(int64_t));
	mox_store_batch *b = NULL;
	mox_err err = MOX_ENOMEM;
	if (skip == NULL || seen == NULL)
		goto out;
	/* Keep only the last counts change per mailbox. */
	size_t nseen = 0, keep = 0;
	for (size_t i = n; i-- > 0;) {
		const mox_store_change *c = &tx->crecs[i].c;
		if (c->type == MOX_STORE_CHANGE_MAILBOX_COUNTS) {
			bool dup = false;
			for (size_t j = 0; j < nseen && !dup; j++)
				dup = seen[j] == c->mailbox_id;
			if (dup) {
				skip[i] = true;
				continue;
			}
			seen[nseen++] = c->mailbox_id;
		}
		keep++;
	}
	size_t hdr = (sizeof(*b) + 15) / 16 * 16;
	size_t chs = keep * sizeof(mox_store_change);
	if (chs / sizeof(mox_store_change) != keep ||
	    hdr + chs + tx->arena.len < hdr + chs)
		goto out;
	b = mox_mem_alloc(a, hdr + chs + tx->arena.len + 1);
	if (b == NULL)
		goto out;
	atomic_init(&b->refs, 1);
	b->alloc = a;
	b->changes = (mox_store_change *)((uint8_t *)b + hdr);
	b->arena = (uint8_t *)b + hdr + chs;
	b->n = keep;
	if (tx->arena.len > 0)
		memcpy(b->arena, tx->arena.data, tx->arena.len);
	b->arena[tx->arena.len] = '\0';
	/* The empty string for absent strings: the NUL after the arena. */
	const char *empty = (const char *)b->arena + tx->arena.len;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip[i])
			continue;
		const struct mox__store_crec *r = &tx->crecs[i];
		mox_store_change *c = &b->changes[k++];
		*c = r->c;
		c->keywords = r->keywords_off == NOSTR
		                  ? empty
		                  : (const char *)b->arena + r->keywords_off;
		c->name =
		    r->name_off == NOSTR ? empty : (const char *)b->arena + r->name_off;
		c->old_name = r->old_name_off == NOSTR
		                  ? empty
		                  : (const char *)b->arena + r->old_name_off;
		c->uids = r->uids_off == NOSTR
		              ? NULL
		              : (const uint32_t *)(void *)(b->arena + r->uids_off);
	}
	*out = b;
	err = MOX_OK;
out:
	mox_mem_free(a, skip);
	mox_mem_free(a, seen);
	if (err != MOX_OK)
		mox__store_seterr(tx, err, "out of memory");
	return err;
}

void
mox__store_batch_unref(mox_store_batch *b)
{
	if (b == NULL)
		return;
	if (atomic_fetch_sub(&b->refs, 1) == 1)
		mox_mem_free(b->alloc, b);
}

void
mox_store_batch_free(mox_store_batch *b)
{
	mox__store_batch_unref(b);
}

const mox_store_change *
mox_store_batch_changes(const mox_store_batch *b, size_t *n_out)
{
	if (n_out != NULL)
		*n_out = b != NULL ? b->n : 0;
	return b != NULL ? b->changes : NULL;
}

static void
queue_clear(mox_store_listener *l)
{
	for (size_t i = 0; i < l->n; i++)
		mox__store_batch_unref(l->q[(l->head + i) % l->cap]);
	l->head = 0;
	l->n = 0;
}

static bool
queue_push(mox_store_listener *l, mox_store_batch *b)
{
	if (l->n >= l->st->queue_max)
		return false;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		mox_store_batch **q =
		    mox_mem_reallocarray(l->st->alloc, NULL, cap, sizeof(*q));
		if (q == NULL)
			return false;
		for (size_t i = 0; i < l->n; i++)
			q[i] = l->q[(l->head + i) % l->cap];
		mox_mem_free(l->st->alloc, l->q);
		l->q = q;
		l->cap = cap;
		l->head = 0;
	}
	atomic_fetch_add(&b->refs, 1);
	l->q[(l->head + l->n) % l->cap] = b;
	l->n++;
	return true;
}

void
mox__store_broadcast(mox_store *st, mox_store_batch *b,
                     const mox_store_listener *origin)
{
	pthread_mutex_lock(&st->lmu);
	for (mox_store_listener *l = st->listeners; l != NULL; l = l->next) {
		if (l == origin)
			continue;
		if (!l->overflow && !queue_push(l, b)) {
			queue_clear(l);
			l->overflow = true;
		}
		pthread_cond_signal(&l->cv);
		if (l->wakeup != NULL)
			l->wakeup(l->arg);
	}
	pthread_mutex_unlock(&st->lmu);
}

mox_err
mox_store_listener_new(mox_store *st, mox_store_wakeup_fn wakeup, void *arg,
                       mox_store_listener **l_out)
{
	if (l_out == NULL)
		return MOX_EINVAL;
	*l_out = NULL;
	if (st == NULL)
		return MOX_EINVAL;
	mox_store_listener *l = mox_mem_calloc(st->alloc, 1, sizeof(*l));
	if (l == NULL)
		return MOX_ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		mox_mem_free(st->alloc, l);
		return MOX_ENOMEM;
	}
	l->st = st;
	l->wakeup = wakeup;
	l->arg = arg;
	pthread_mutex_lock(&st->lmu);
	l->next = st->listeners;
	if (st->listeners != NULL)
		st->listeners->prev = l;
	st->listeners = l;
	pthread_mutex_unlock(&st->lmu);
	*l_out = l;
	return MOX_OK;
}

mox_err
mox_store_listener_next(mox_store_listener *l, int timeout_ms,
                        mox_store_batch **batch_out)
{
	if (batch_out == NULL)
		return MOX_EINVAL;
	*batch_out = NULL;
	if (l == NULL)
		return MOX_EINVAL;
	mox_store *st = l->st;
	struct timespec deadline;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	mox_err err = MOX_OK;
	pthread_mutex_lock(&st->lmu);
	while (l->n == 0 && !l->overflow) {
		if (timeout_ms == 0) {
			err = MOX_ETIMEDOUT;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&l->cv, &st->lmu);
		} else if (pthread_cond_timedwait(&l->cv, &st->lmu, &deadline) ==
		           ETIMEDOUT) {
			if (l->n == 0 && !l->overflow)
				err = MOX_ETIMEDOUT;
			break;
		}
	}
	if (err == MOX_OK) {
		if (l->overflow) {
			l->overflow = false;
			err = MOX_ELIMIT;
		} else {
			*batch_out = l->q[l->head];
			l->head = (l->head + 1) % l->cap;
			l->n--;
		}
	}
	pthread_mutex_unlock(&st->lmu);
	return err;
}

void
mox_store_listener_free(mox_store_listener *l)
{
	if (l == NULL)
		return;
	mox_store *st = l->st;
	pthread_mutex_lock(&st->lmu);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		st->listeners = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	queue_clear(l);
	pthread_mutex_unlock(&st->lmu);
	pthread_cond_destroy(&l->cv);
	mox_mem_free(st->alloc, l->q);
	mox_mem_free(st->alloc, l);
}
