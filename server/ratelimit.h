/* A small rate limiter keyed by IP address, as mox's ratelimit package:
 * one or more fixed windows (the last minute, the last day, or "all of
 * time"), each with a limit for three classes of the address: the address
 * itself (an IPv6 address by its /64), its /26 (IPv6 /48), and its /21
 * (IPv6 /32). A client is refused once any class of any window is full, so
 * one host cannot escape by hopping addresses within its network.
 *
 * A window of 0 ms never ends: it is a gauge, used to count open
 * connections (add 1 on connect, -1 on close). A timed window forgets all
 * its counts when the clock enters the next window.
 *
 * Uses: failed authentications (mox: 10/30/90 a minute, 50/150/450 a day),
 * connection rate (300/900/2700 a minute), open connections (30/90/270). */
#ifndef MOX_SERVER_RATELIMIT_H
#define MOX_SERVER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_WINDOWS_MAX 4

/* One window and its limits for the three classes. */
typedef struct ratelimit_window {
	int64_t window_ms; /* 0: all of time (a gauge) */
	int64_t limits[3]; /* address, /26 (/48), /21 (/32) */
} ratelimit_window;

typedef struct ratelimit ratelimit;

/* An IP address as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
typedef struct ratelimit_ip {
	uint8_t b[16];
} ratelimit_ip;

/* Parse a textual IPv4 or IPv6 address. Returns false if it is neither.
 * Thread-safety: any thread. */
bool ratelimit_ip_parse(const char *text, ratelimit_ip *ip_out);

/* A limiter with n windows (1 to RATELIMIT_WINDOWS_MAX). NULL on bad
 * arguments or out of memory. Thread-safety: any thread. */
ratelimit *ratelimit_new(const ratelimit_window *windows, size_t n);
/* NULL is a no-op. Thread-safety: no other call on rl may run. */
void ratelimit_free(ratelimit *rl);

/* Count n for ip at now_ms (milliseconds, any monotonic-enough clock) if
 * no class of any window would go over its limit; otherwise count nothing
 * and return false. n may be negative (release a gauge); a negative n is
 * always counted. Thread-safety: any thread (a mutex inside). */
bool ratelimit_add(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms, int64_t n);
/* Whether ratelimit_add would succeed; counts nothing.
 * Thread-safety: any thread. */
bool ratelimit_can_add(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms,
                       int64_t n);
/* Forget the count of the address itself in the current windows and take
 * it off its networks' counts (after a successful login, as mox).
 * Thread-safety: any thread. */
void ratelimit_reset(ratelimit *rl, const ratelimit_ip *ip, int64_t now_ms);
/* Number of keys held (all windows, all classes); for tests and bounds.
 * Thread-safety: any thread. */
size_t ratelimit_size(ratelimit *rl);

#endif
