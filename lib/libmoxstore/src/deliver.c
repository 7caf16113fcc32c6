/* Delivery with group commit.
 *
 * How this works: each delivering thread has already written and fsynced
 * its staged file (in parallel with the others). It queues a request and
 * waits. If no thread is committing, it becomes the leader: it takes up to
 * MOX_STORE_GROUP_COMMIT_MAX queued requests and runs them as one write
 * transaction, each request in its own operation (savepoint), so one
 * failing request (unknown mailbox, quota) does not fail the others. The
 * commit then renames all files, fsyncs each directory once and commits
 * the database once, which is where the time goes; requests arriving
 * meanwhile queue up for the next round, led by one of their threads.
 * Nobody is told MOX_OK before the commit that made their message durable.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

struct mox__store_delivery {
	const char *mailbox;
	mox_store_msgfile *mf;
	const mox_store_deliver_opts *opts;
	mox_store_msginfo info;
	mox_err err;
	char errmsg[256];
	bool done;
	struct mox__store_delivery *next;
};

static void
run_one(mox_store_tx *tx, struct mox__store_delivery *d)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	mox_store_mailbox *mb = NULL;
	mox_err err;
	if (mox_store_mailbox_name_check(d->mailbox, norm) != MOX_OK) {
		d->err = mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
		goto out;
	}
	if (!d->mf->finished || d->mf->consumed || d->mf->err != MOX_OK ||
	    d->mf->st != tx->st) {
		d->err = mox__store_seterr(tx, MOX_EINVAL,
		                           "message file not finished or used");
		goto out;
	}
	err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK) {
		d->err = err;
		goto out;
	}
	mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	} else if (d->opts != NULL && d->opts->create_mailbox) {
		err = mox__store_mailbox_ensure(tx, norm, 0, true, false, mb);
	} else {
		err = mox__store_mailbox_get(tx, norm, mb);
	}
	if (err == MOX_OK) {
		mox_store_add_opts ao = {0};
		if (d->opts != NULL) {
			ao = d->opts->add;
			ao.size = sizeof(ao);
		}
		err = mox__store_add(tx, mb->id, mb, d->mf, &ao, &d->info);
	}
	d->err = mox__store_op_end(tx, &m, err);
	if (d->err != MOX_OK)
		d->mf->consumed = false;
out:
	mox_mem_free(tx->st->alloc, mb);
	if (d->err != MOX_OK)
		snprintf(d->errmsg, sizeof(d->errmsg), "%s", tx->errmsg);
}

/* Commit the requests in the list as one transaction. */
static void
run_batch(mox_store *st, struct mox__store_delivery *list)
{
	mox_store_tx *tx = NULL;
	mox_err err = mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx);
	bool any = false;
	for (struct mox__store_delivery *d = list; d != NULL; d = d->next) {
		if (err != MOX_OK) {
			d->err = err;
			snprintf(d->errmsg, sizeof(d->errmsg), "beginning transaction");
			continue;
		}
		run_one(tx, d);
		any = any || d->err == MOX_OK;
	}
	if (err != MOX_OK)
		return;
	char errmsg[256] = "";
	if (any) {
		err = mox__store_tx_commit_msg(tx, errmsg, sizeof(errmsg));
	} else {
		mox_store_tx_rollback(tx);
		err = MOX_OK;
	}
	for (struct mox__store_delivery *d = list; d != NULL; d = d->next) {
		if (d->err == MOX_OK && err != MOX_OK) {
			d->err = err;
			memset(&d->info, 0, sizeof(d->info));
			snprintf(d->errmsg, sizeof(d->errmsg), "%s", errmsg);
		}
	}
}

mox_err
mox_store_deliver(mox_store *st, const char *mailbox, mox_store_msgfile *mf,
                  const mox_store_deliver_opts *opts, mox_store_msginfo *info_out,
                  mox_errinfo *info)
{
	if (info_out != NULL)
		memset(info_out, 0, sizeof(*info_out));
	if (st == NULL || mailbox == NULL || mf == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "missing argument");
	if (opts != NULL && opts->size < sizeof(size_t))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "opts.size not set");
	mox_store_deliver_opts o = {0};
	if (opts != NULL)
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	struct mox__store_delivery d = {.mailbox = mailbox, .mf = mf, .opts = &o};

	pthread_mutex_lock(&st->gc_mu);
	if (st->gc_tail != NULL)
		st->gc_tail->next = &d;
	else
		st->gc_head = &d;
	st->gc_tail = &d;
	while (!d.done) {
		if (st->gc_leader) {
			pthread_cond_wait(&st->gc_cv, &st->gc_mu);
			continue;
		}
		/* Lead one round: take what is queued (ours among it, unless
		 * an earlier leader already did ours). */
		st->gc_leader = true;
		struct mox__store_delivery *list = st->gc_head, *last = list;
		size_t n = 1;
		while (last->next != NULL && n < MOX_STORE_GROUP_COMMIT_MAX) {
			last = last->next;
			n++;
		}
		st->gc_head = last->next;
		if (st->gc_head == NULL)
			st->gc_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&st->gc_mu);
		run_batch(st, list);
		pthread_mutex_lock(&st->gc_mu);
		for (struct mox__store_delivery *x = list, *nx; x != NULL; x = nx) {
			nx = x->next;
			x->done = true;
		}
		st->gc_leader = false;
		pthread_cond_broadcast(&st->gc_cv);
	}
	pthread_mutex_unlock(&st->gc_mu);
	if (d.err != MOX_OK)
		return mox_errinfo_set(info, d.err, 0, "%s", d.errmsg);
	if (info_out != NULL)
		*info_out = d.info;
	return MOX_OK;
}

mox_err
mox_store_deliver_mem(mox_store *st, const char *mailbox, const void *data, size_t len,
                      const mox_store_deliver_opts *opts, mox_store_msginfo *info_out,
                      mox_errinfo *info)
{
	mox_store_msgfile *mf = NULL;
	if (info_out != NULL)
		memset(info_out, 0, sizeof(*info_out));
	mox_err err = mox_store_msgfile_new(st, &mf);
	if (err == MOX_OK)
		err = mox_store_msgfile_write(mf, data, len);
	if (err == MOX_OK)
		err = mox_store_msgfile_finish(mf);
	if (err != MOX_OK) {
		mox_store_msgfile_free(mf);
		return mox_errinfo_set(info, err, 0, "staging message: %s",
		                       mox_strerror(err));
	}
	err = mox_store_deliver(st, mailbox, mf, opts, info_out, info);
	mox_store_msgfile_free(mf);
	return err;
}
