/* The retry schedule (RFC 5321 section 4.5.4.1), as mox: the first retry
 * 7.5 minutes after the first attempt, each next wait twice the previous,
 * a few seconds of jitter so that messages queued together spread out. */
#include "queue.h"

int64_t
queue_backoff_ms(unsigned attempt, int64_t first_ms, int64_t jitter_ms)
{
	int64_t b = first_ms;
	for (unsigned i = 1; i < attempt; i++) {
		if (b > INT64_MAX / 4)
			return INT64_MAX / 2; /* saturate: effectively never */
		b *= 2;
	}
	b += jitter_ms;
	return b > 0 ? b : 0;
}
