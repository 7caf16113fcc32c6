/* Small helpers of the queue: the clock and logging through the settings. */
#include "queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int64_t
queue_now(const queue_settings *s)
{
	if (s != NULL && s->now != NULL)
		return s->now(s->now_arg);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void
queue_log(const queue_settings *s, const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s != NULL && s->log != NULL)
		s->log(s->log_arg, level, line);
	else
		fprintf(stderr, "%s queue: %s\n", level, line);
}
