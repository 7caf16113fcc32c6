/* The queue's scheduler on the libuv loop.
 *
 * How this works: one timer wakes the scheduler at the earliest next
 * attempt of a row whose domain has room; an async handle wakes it from
 * any thread (an add, a kick). The scheduler reads the due rows and starts
 * a delivery attempt for each, skipping rows already in flight and
 * domains at their limit (max_per_domain, mox: one connection per domain
 * at a time, RFC 5321 section 4.5.4.1 asks not to swamp a host), up to
 * max_concurrent in all. An attempt runs queue_deliver on the libuv
 * threadpool (DNS, SMTP and fsync all block); its completion frees its
 * slot and runs the scheduler again.
 *
 * Note: attempts hold a threadpool thread for the whole SMTP session, so
 * the server should raise UV_THREADPOOL_SIZE above max_concurrent plus what
 * the listeners need (libuv's default is 4).
 */
#include "queue.h"

#include <uv.h>

#include <stdlib.h>
#include <string.h>

/* Look at the table at least this often even when nothing is due: `mox
 * queue kick` run from the command line changes rows directly (no ctl
 * socket yet), and a running server sees that within this time. */
#define IDLE_WAKE_MS (30 * 1000)

typedef struct job job;

struct queue {
	uv_loop_t *loop;
	queue_settings s;
	queue_store *qs;
	uv_timer_t timer;
	uv_async_t async;
	bool stopping;
	int open_handles;
	job **jobs; /* in flight */
	size_t njobs;
	size_t max_concurrent, max_per_domain;
	void (*done)(void *arg);
	void *done_arg;
};

struct job {
	uv_work_t work;
	queue *q;
	queue_msg m;
	queue_outcome outcome;
};

static void schedule(queue *q);

static void
on_closed(uv_handle_t *h)
{
	queue *q = h->data;
	if (--q->open_handles > 0)
		return;
	void (*done)(void *) = q->done;
	void *arg = q->done_arg;
	queue_store_close(q->qs);
	free(q->jobs);
	free(q);
	if (done != NULL)
		done(arg);
}

static void
maybe_close(queue *q)
{
	if (!q->stopping || q->njobs > 0 || q->open_handles != 2)
		return;
	uv_close((uv_handle_t *)&q->timer, on_closed);
	uv_close((uv_handle_t *)&q->async, on_closed);
}

static void
work_run(uv_work_t *w)
{
	job *j = w->data;
	j->outcome = queue_deliver(&j->q->s, j->q->qs, &j->m);
}

static void
work_done(uv_work_t *w, int status)
{
	(void)status;
	job *j = w->data;
	queue *q = j->q;
	for (size_t i = 0; i < q->njobs; i++) {
		if (q->jobs[i] == j) {
			q->jobs[i] = q->jobs[--q->njobs];
			break;
		}
	}
	queue_msg_clear(&j->m);
	free(j);
	if (q->stopping)
		maybe_close(q);
	else
		schedule(q);
}

static size_t
domain_busy(const queue *q, const char *domain)
{
	size_t n = 0;
	for (size_t i = 0; i < q->njobs; i++)
		if (strcmp(q->jobs[i]->m.recipient_domain, domain) == 0)
			n++;
	return n;
}

static bool
in_flight(const queue *q, int64_t id)
{
	for (size_t i = 0; i < q->njobs; i++)
		if (q->jobs[i]->m.id == id)
			return true;
	return false;
}

static void
on_timer(uv_timer_t *t)
{
	schedule(t->data);
}

static void
on_async(uv_async_t *a)
{
	queue *q = a->data;
	if (!q->stopping)
		schedule(q);
}

/* Dispatch due rows to free slots, then arm the timer for the next row
 * that becomes due. Rows due now but not dispatched (in flight, or their
 * domain at its limit) need no timer: the completion of the job that
 * holds them back runs schedule again. So schedule never polls, and costs
 * two index walks, not a scan of the queue. */
static void
schedule(queue *q)
{
	if (q->stopping)
		return;
	char err[512];
	int64_t now = queue_now(&q->s);
	bool batch_full = false;
	if (q->njobs < q->max_concurrent) {
		/* Domains at their limit are left out in the query. */
		const char **busy = NULL;
		size_t nbusy = 0;
		if (q->njobs > 0) {
			busy = calloc(q->njobs, sizeof(*busy));
			for (size_t i = 0; busy != NULL && i < q->njobs; i++) {
				const char *d = q->jobs[i]->m.recipient_domain;
				bool seen = false;
				for (size_t k = 0; k < nbusy && !seen; k++)
					seen = strcmp(busy[k], d) == 0;
				if (!seen && domain_busy(q, d) >= q->max_per_domain)
					busy[nbusy++] = d;
			}
		}
		queue_msg *due = NULL;
		size_t n = 0;
		size_t want = (q->max_concurrent - q->njobs) * 4 + 16;
		if (queue_store_due_except(q->qs, now, busy, nbusy, want, &due, &n, err,
		                           sizeof(err)) != MOX_OK)
			queue_log(&q->s, "error", "finding due messages: %s", err);
		free(busy);
		batch_full = n == want;
		for (size_t i = 0; i < n; i++) {
			if (q->njobs >= q->max_concurrent)
				break;
			if (in_flight(q, due[i].id) ||
			    domain_busy(q, due[i].recipient_domain) >=
			        q->max_per_domain)
				continue;
			job *j = calloc(1, sizeof(*j));
			if (j == NULL)
				break;
			j->q = q;
			j->m = due[i];
			memset(&due[i], 0, sizeof(due[i])); /* moved into the job */
			j->work.data = j;
			q->jobs[q->njobs++] = j;
			if (uv_queue_work(q->loop, &j->work, work_run, work_done) !=
			    0) {
				q->njobs--;
				queue_msg_clear(&j->m);
				free(j);
				break;
			}
		}
		queue_msgs_free(due, n);
	}
	int64_t when = 0, wait = IDLE_WAKE_MS;
	mox_err e = queue_store_next_after(q->qs, now, &when, err, sizeof(err));
	if (e == MOX_OK)
		wait = when > now ? when - now : 1;
	else if (e != MOX_ENOTFOUND)
		wait = 1000;
	/* More rows were due than fetched and slots are free: look again
	 * soon (not at once: they may all be for busy domains). */
	if (batch_full && q->njobs < q->max_concurrent && wait > 50)
		wait = 50;
	if (wait > IDLE_WAKE_MS)
		wait = IDLE_WAKE_MS;
	uv_timer_start(&q->timer, on_timer, (uint64_t)wait, 0);
}

mox_err
queue_start(uv_loop_t *loop, const queue_settings *s, queue **q_out, char *errbuf,
            size_t errlen)
{
	*q_out = NULL;
	queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return MOX_ENOMEM;
	q->loop = loop;
	q->s = *s;
	q->max_concurrent = s->max_concurrent != 0 ? s->max_concurrent : 10;
	q->max_per_domain = s->max_per_domain != 0 ? s->max_per_domain : 1;
	q->jobs = calloc(q->max_concurrent, sizeof(*q->jobs));
	if (q->jobs == NULL) {
		free(q);
		return MOX_ENOMEM;
	}
	mox_err err = queue_store_open(s->data_dir, &q->qs, errbuf, errlen);
	if (err != MOX_OK) {
		free(q->jobs);
		free(q);
		return err;
	}
	uv_timer_init(loop, &q->timer);
	uv_async_init(loop, &q->async, on_async);
	q->timer.data = q;
	q->async.data = q;
	q->open_handles = 2;
	/* First look right away, from the loop. */
	uv_timer_start(&q->timer, on_timer, 0, 0);
	*q_out = q;
	return MOX_OK;
}

queue_store *
queue_get_store(queue *q)
{
	return q->qs;
}

void
queue_wake(queue *q)
{
	uv_async_send(&q->async);
}

void
queue_stop(queue *q, void (*done)(void *arg), void *arg)
{
	q->stopping = true;
	q->done = done;
	q->done_arg = arg;
	uv_timer_stop(&q->timer);
	maybe_close(q);
}

size_t
queue_busy(const queue *q)
{
	return q->njobs;
}
