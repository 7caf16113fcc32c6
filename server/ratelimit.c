/* Rate limiter keyed by IP address classes; see ratelimit.h.
 *
 * How this works: each window keeps a chained hash table from (class,
 * masked address) to a count. An entry whose count drops to 0 is removed,
 * so a gauge holds only the addresses with open connections, and a timed
 * window is emptied whenever the clock has moved into a later window
 * (counts are per fixed window, as mox, not sliding). The table grows by
 * doubling and holds at most KEYS_MAX keys per window: a new key beyond
 * that is refused (fail closed) rather than letting a flood of distinct
 * addresses use unbounded memory. One mutex guards everything; the
 * operations are short. */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { KEYS_MAX = 1 << 20, BUCKETS_MIN = 64 };

typedef struct entry {
	struct entry *next;
	uint8_t key[17]; /* class, masked address */
	int64_t count;
} entry;

typedef struct window {
	ratelimit_window w;
	int64_t period; /* now / window_ms of the counts held; 0 for a gauge */
	entry **buckets;
	size_t nbuckets;
	size_t nkeys;
} window;

struct ratelimit {
	pthread_mutex_t mu;
	window win[RATELIMIT_WINDOWS_MAX];
	size_t nwin;
};

bool
ratelimit_ip_parse(const char *text, ratelimit_ip *ip_out)
{
	memset(ip_out, 0, sizeof(*ip_out));
	struct in_addr a4;
	if (inet_pton(AF_INET, text, &a4) == 1) {
		ip_out->b[10] = 0xff;
		ip_out->b[11] = 0xff;
		memcpy(ip_out->b + 12, &a4, 4);
		return true;
	}
	return inet_pton(AF_INET6, text, ip_out->b) == 1;
}

static bool
is_v4(const ratelimit_ip *ip)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(ip->b, prefix, sizeof(prefix)) == 0;
}

/* The key of ip for class cls: the address (IPv6: /64), then the /26 and
 * /21 networks (IPv6: /48, /32), as mox's limiter. */
static void
make_key(const ratelimit_ip *ip, int cls, uint8_t key[17])
{
	static const int v4bits[3] = {32, 26, 21};
	static const int v6bits[3] = {64, 48, 32};
	bool v4 = is_v4(ip);
	int bits = v4 ? 96 + v4bits[cls] : v6bits[cls];
	key[0] = (uint8_t)cls;
	for (int i = 0; i < 16; i++) {
		int keep = bits - i * 8;
		uint8_t mask = keep >= 8   ? 0xff
		               : keep <= 0 ? 0
		                           : (uint8_t)(0xff << (8 - keep));
		key[1 + i] = ip->b[i] & mask;
	}
}

static uint32_t
hash(const uint8_t key[17])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 17; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

static void
window_clear(window *w)
{
	for (size_t i = 0; i < w->nbuckets; i++) {
		entry *e = w->buckets[i];
		while (e != NULL) {
			entry *next = e->next;
			free(e);
			e = next;
		}
		w->buckets[i] = NULL;
	}
	w->nkeys = 0;
}

static entry **
find(window *w, const uint8_t key[17])
{
	entry **pp = &w->buckets[hash(key) & (w->nbuckets - 1)];
	while (*pp != NULL && memcmp((*pp)->key, key, 17) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int64_t
count_of(window *w, const uint8_t key[17])
{
	entry *e = *find(w, key);
	return e != NULL ? e->count : 0;
}

static void
grow(window *w)
{
	size_t n = w->nbuckets * 2;
	entry **nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* keep the longer chains */
	for (size_t i = 0; i < w->nbuckets; i++) {
		entry *e = w->buckets[i];
		while (e != NULL) {
			entry *next = e->next;
			size_t j = hash(e->key) & (n - 1);
			e->next = nb[j];
			nb[j] = e;
			e = next;
		}
	}
	free(w->buckets);
	w->buckets = nb;
	w->nbuckets = n;
}

/* Add n to key's count, removing the entry at 0. False if a new entry was
 * needed and could not be made. */
static bool
bump(window *w, const uint8_t key[17], int64_t n)
{
	entry **pp = find(w, key);
	entry *e = *pp;
	if (e == NULL) {
		if (n <= 0)
			return true; /* nothing to release */
		if (w->nkeys >= KEYS_MAX || (e = calloc(1, sizeof(*e))) == NULL)
			return false;
		memcpy(e->key, key, 17);
		e->next = w->buckets[hash(key) & (w->nbuckets - 1)];
		w->buckets[hash(key) & (w->nbuckets - 1)] = e;
		w->nkeys++;
		if (w->nkeys > w->nbuckets * 2)
			grow(w);
		pp = find(w, key);
	}
	e->count += n;
	if (e->count <= 0) {
		*pp = e->next;
		free(e);
		w->nkeys--;
	}
	return true;
}

/* Move a timed window to the period of now, forgetting older counts. */
static void
advance(window *w, int64_t now_ms)
{
	if (w->w.window_ms <= 0)
		return;
	int64_t p = now_ms / w->w.window_ms;
	if (p != w->period) {
		window_clear(w);
		w->period = p;
	}
}

ratelimit *
ratelimit_new(const ratelimit_window *windows, size_t n)
{
	if (n == 0 || n > RATELIMIT_WINDOWS_MAX)
		return NULL;
	ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	pthread_mutex_init(&rl->mu, NULL);
	rl->nwin = n;
	for (size_t i = 0; i < n; i++) {
		window *w = &rl->win[i];
		w->w = windows[i];
		w->nbuckets = BUCKETS_MIN;
		w->buckets = calloc(w->nbuckets, sizeof(*w->buckets));
		if (w->w.window_ms < 0 || w->buckets == NULL) {
			ratelimit_free(rl);
			return NULL;
		}
	}
	return rl;
}

void
ratelimit_free(ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < rl->nwin; i++) {
		if (rl->win[i].buckets != NULL)
			window_clear(&rl->win[i]);
		free(rl->win[i].buckets);
	}
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

static bool
check_add(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms, int64_t n, bool add)
{
	uint8_t keys[3][17];
	for (int c = 0; c < 3; c++)
		make_key(ip, c, keys[c]);
	pthread_mutex_lock(&rl->mu);
	bool ok = true;
	for (size_t i = 0; i < rl->nwin && ok; i++) {
		window *w = &rl->win[i];
		advance(w, now_ms);
		for (int c = 0; c < 3 && ok && n > 0; c++) {
			int64_t v = count_of(w, keys[c]);
			if (v > w->w.limits[c] - n)
				ok = false;
			else if (w->nkeys + 3 > KEYS_MAX && v == 0)
				ok = false; /* fail closed when full */
		}
	}
	if (ok && add)
		for (size_t i = 0; i < rl->nwin; i++)
			for (int c = 0; c < 3; c++)
				if (!bump(&rl->win[i], keys[c], n))
					ok = false; /* out of memory: counted partly */
	pthread_mutex_unlock(&rl->mu);
	return ok;
}

bool
ratelimit_add(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms, int64_t n)
{
	return check_add(rl, ip, now_ms, n, true);
}

bool
ratelimit_can_add(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms, int64_t n)
{
	return check_add(rl, ip, now_ms, n, false);
}

void
ratelimit_reset(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms)
{
	uint8_t keys[3][17];
	for (int c = 0; c < 3; c++)
		make_key(ip, c, keys[c]);
	pthread_mutex_lock(&rl->mu);
	for (size_t i = 0; i < rl->nwin; i++) {
		window *w = &rl->win[i];
		advance(w, now_ms);
		int64_t own = count_of(w, keys[0]);
		for (int c = 0; c < 3 && own > 0; c++)
			bump(w, keys[c], -own);
	}
	pthread_mutex_unlock(&rl->mu);
}

size_t
ratelimit_size(ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	size_t n = 0;
	for (size_t i = 0; i < rl->nwin; i++)
		n += rl->win[i].nkeys;
	pthread_mutex_unlock(&rl->mu);
	return n;
}
