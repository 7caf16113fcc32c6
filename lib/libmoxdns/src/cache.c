/* TTL-honouring cache in front of any resolver.
 *
 * How this works: a fixed-size hash table (chained, sized to the next power
 * of two above max_entries) maps (type, normalized name) to an entry holding
 * a private deep copy of the answer and the time it expires. A doubly linked
 * list orders entries by last use; when the table is full the least recently
 * used entry goes. Hits return a copy whose TTLs are reduced by the time the
 * entry has spent in the cache, so callers that pass TTLs on (or cache them
 * again) never extend a record's life. Positive answers live for their
 * smallest TTL (RFC 2181 section 5.2: an RRset has one TTL), NXDOMAIN and
 * NODATA for the SOA-derived negative TTL (RFC 2308 section 5), capped. TEMPFAIL
 * and PERMFAIL are never cached: a retry should reach the network.
 *
 * One mutex guards the table; the backend is called without it, so a slow
 * lookup never blocks hits. Two threads missing the same name at once both
 * ask the backend; the later insert replaces the earlier. */
#include "dns_int.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct entry {
	struct entry *hnext;            /* hash chain */
	struct entry *prev, *next;      /* LRU list, most recent first */
	uint64_t hash;
	mox_dns_type type;
	uint64_t stored, expires;
	mox_dns_answer *answer;
	char name[]; /* normalized */
} entry;

typedef struct cache {
	const mox_allocator *alloc;
	mox_resolver *backend;
	bool owns_backend;
	size_t max_entries;
	uint32_t max_ttl, neg_ttl_max, neg_ttl_default;
	uint64_t (*now)(void *arg);
	void *now_arg;

	pthread_mutex_t lock;
	entry **table;
	size_t nbuckets; /* power of two */
	entry *head, *tail;
	mox_dns_cache_stats stats;
} cache;

static uint64_t
monotonic_now(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint64_t
hash_key(const char *name, mox_dns_type type)
{
	/* FNV-1a over the type and the name. */
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)type;
	h *= 1099511628211ULL;
	for (const char *p = name; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
lru_unlink(cache *c, entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(cache *c, entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* Remove e from table and list and free it. */
static void
entry_remove(cache *c, entry *e)
{
	entry **pp = &c->table[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	mox_dns_answer_free(e->answer);
	mox_mem_free(c->alloc, e);
	c->stats.entries--;
}

static entry *
entry_find(cache *c, const char *name, mox_dns_type type, uint64_t h)
{
	for (entry *e = c->table[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->type == type && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Seconds an answer may be cached; 0 means do not cache. */
static uint32_t
cache_ttl(const cache *c, const mox_dns_answer *a)
{
	switch (a->status) {
	case MOX_DNS_FOUND: {
		uint32_t ttl = c->max_ttl;
		for (size_t i = 0; i < a->nrr; i++)
			if (a->rr[i].ttl < ttl)
				ttl = a->rr[i].ttl;
		return ttl;
	}
	case MOX_DNS_NXDOMAIN:
	case MOX_DNS_NODATA: {
		uint32_t ttl = a->neg_ttl != 0 ? a->neg_ttl : c->neg_ttl_default;
		return ttl < c->neg_ttl_max ? ttl : c->neg_ttl_max;
	}
	case MOX_DNS_TEMPFAIL:
	case MOX_DNS_PERMFAIL:
		break;
	}
	return 0;
}

static void
insert(cache *c, const char *name, mox_dns_type type, uint64_t h,
       const mox_dns_answer *a, uint64_t now, uint32_t ttl)
{
	size_t nlen = strlen(name);
	entry *e = mox_mem_alloc(c->alloc, sizeof(*e) + nlen + 1);
	if (e == NULL)
		return; /* not caching is always correct */
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, nlen + 1);
	e->hash = h;
	e->type = type;
	e->stored = now;
	e->expires = now + ttl;
	if (mox_dns_answer_copy(a, c->alloc, &e->answer) != MOX_OK) {
		mox_mem_free(c->alloc, e);
		return;
	}
	pthread_mutex_lock(&c->lock);
	entry *old = entry_find(c, name, type, h);
	if (old != NULL)
		entry_remove(c, old);
	while (c->stats.entries >= c->max_entries && c->tail != NULL) {
		entry_remove(c, c->tail);
		c->stats.evictions++;
	}
	size_t b = h & (c->nbuckets - 1);
	e->hnext = c->table[b];
	c->table[b] = e;
	lru_push_front(c, e);
	c->stats.entries++;
	pthread_mutex_unlock(&c->lock);
}

static mox_err
cache_lookup(void *ctx, const char *qname, mox_dns_type type,
	     mox_dns_answer **answer_out)
{
	cache *c = ctx;
	*answer_out = NULL;
	char name[MOX_DNS_NAME_MAX + 1];
	if (mox__dns_name_normalize(qname, name, sizeof(name)) != MOX_OK)
		return mox_dns_lookup(c->backend, qname, type, answer_out);
	uint64_t h = hash_key(name, type);
	uint64_t now = c->now(c->now_arg);

	pthread_mutex_lock(&c->lock);
	entry *e = entry_find(c, name, type, h);
	if (e != NULL && now >= e->expires) {
		entry_remove(c, e);
		c->stats.expired++;
		e = NULL;
	}
	if (e != NULL) {
		mox_dns_answer *copy = NULL;
		mox_err err = mox_dns_answer_copy(e->answer, c->alloc, &copy);
		if (err != MOX_OK) {
			pthread_mutex_unlock(&c->lock);
			return err;
		}
		c->stats.hits++;
		lru_unlink(c, e);
		lru_push_front(c, e);
		uint64_t age = now - e->stored;
		pthread_mutex_unlock(&c->lock);
		for (size_t i = 0; i < copy->nrr; i++)
			copy->rr[i].ttl = copy->rr[i].ttl > age
						  ? copy->rr[i].ttl - (uint32_t)age
						  : 0;
		copy->neg_ttl = copy->neg_ttl > age ? copy->neg_ttl - (uint32_t)age : 0;
		*answer_out = copy;
		return MOX_OK;
	}
	c->stats.misses++;
	pthread_mutex_unlock(&c->lock);

	mox_err err = mox_dns_lookup(c->backend, qname, type, answer_out);
	if (err != MOX_OK)
		return err;
	uint32_t ttl = cache_ttl(c, *answer_out);
	if (ttl > 0)
		insert(c, name, type, h, *answer_out, now, ttl);
	return MOX_OK;
}

void
mox_dns_cache_clear(mox_resolver *resolver)
{
	if (resolver == NULL || resolver->lookup != cache_lookup)
		return;
	cache *c = resolver->ctx;
	pthread_mutex_lock(&c->lock);
	while (c->head != NULL)
		entry_remove(c, c->head);
	pthread_mutex_unlock(&c->lock);
}

static void
cache_free(mox_resolver *r)
{
	cache *c = r->ctx;
	const mox_allocator *alloc = c->alloc;
	mox_dns_cache_clear(r);
	if (c->owns_backend)
		mox_resolver_free(c->backend);
	pthread_mutex_destroy(&c->lock);
	mox_mem_free(alloc, c->table);
	mox_mem_free(alloc, c);
	mox_mem_free(alloc, r);
}

mox_err
mox_dns_cache_new(mox_resolver **resolver_out, mox_resolver *backend,
		  const mox_dns_cache_opts *opts)
{
	if (resolver_out == NULL)
		return MOX_EINVAL;
	*resolver_out = NULL;
	if (backend == NULL)
		return MOX_EINVAL;
	mox_dns_cache_opts o;
	memset(&o, 0, sizeof(o));
	if (opts != NULL)
		memcpy(&o, opts, opts->size != 0 && opts->size < sizeof(o) ? opts->size
									  : sizeof(o));
	cache *c = mox_mem_calloc(o.alloc, 1, sizeof(*c));
	mox_resolver *r = mox_mem_calloc(o.alloc, 1, sizeof(*r));
	if (c == NULL || r == NULL)
		goto nomem;
	c->alloc = o.alloc;
	c->backend = backend;
	c->owns_backend = o.owns_backend;
	c->max_entries = o.max_entries != 0 ? o.max_entries : 10000;
	c->max_ttl = o.max_ttl != 0 ? o.max_ttl : 86400;
	c->neg_ttl_max = o.neg_ttl_max != 0 ? o.neg_ttl_max : 3600;
	c->neg_ttl_default = o.neg_ttl_default != 0 ? o.neg_ttl_default : 60;
	c->now = o.now != NULL ? o.now : monotonic_now;
	c->now_arg = o.now_arg;
	c->nbuckets = 16;
	while (c->nbuckets < c->max_entries && c->nbuckets < ((size_t)1 << 24))
		c->nbuckets *= 2;
	c->table = mox_mem_calloc(o.alloc, c->nbuckets, sizeof(*c->table));
	if (c->table == NULL)
		goto nomem;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto nomem;
	r->ctx = c;
	r->lookup = cache_lookup;
	r->free = cache_free;
	*resolver_out = r;
	return MOX_OK;
nomem:
	if (c != NULL)
		mox_mem_free(o.alloc, c->table);
	mox_mem_free(o.alloc, c);
	mox_mem_free(o.alloc, r);
	return MOX_ENOMEM;
}

mox_err
mox_dns_cache_stats_get(const mox_resolver *resolver,
			mox_dns_cache_stats *stats_out)
{
	if (resolver == NULL || stats_out == NULL || resolver->lookup != cache_lookup)
		return MOX_EINVAL;
	cache *c = resolver->ctx;
	pthread_mutex_lock(&c->lock);
	*stats_out = c->stats;
	pthread_mutex_unlock(&c->lock);
	return MOX_OK;
}
