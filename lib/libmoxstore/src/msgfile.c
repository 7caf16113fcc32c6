/* Staged message files: written at their final name, parsed while
 * written, fsynced with their directory.
 *
 * A staged file is the first part of the durability protocol (see
 * store.c): it gets its message id up front and is written as
 * msg/<shard>/<id>; when finished, the file and then its directory are
 * fsynced, by the delivering thread, so that concurrent deliveries sync in
 * parallel and the group commit is left with the database commit alone.
 * Deliveries finishing at the same time share directory fsyncs
 * (mox__store_sync_entry): one fsync covers all entries made before it.
 * Until a transaction with its row commits, the file belongs to the
 * msgfile and is removed if the msgfile is freed. The MIME structure is
 * parsed as the bytes pass
 * (libmoxmessage's incremental parser keeps only header sections), and
 * the encoded part tree waits in the msgfile for the row insert. A message
 * the parser gives up on (limits) still gets stored, with a flat tree.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

mox_err
mox_store_msgfile_new(mox_store *st, mox_store_msgfile **mf_out)
{
	if (mf_out == NULL)
		return MOX_EINVAL;
	*mf_out = NULL;
	if (st == NULL)
		return MOX_EINVAL;
	mox_store_msgfile *mf = mox_mem_calloc(st->alloc, 1, sizeof(*mf));
	if (mf == NULL)
		return MOX_ENOMEM;
	mf->st = st;
	mf->fd = -1;
	mox_buf_init(&mf->part, st->alloc);
	mox_msg_parse_opts po = {.size = sizeof(po), .alloc = st->alloc};
	mox_err err = mox_msg_parser_new(&mf->parser, &po);
	char rel[32], path[MOX__STORE_PATH_MAX];
	if (err == MOX_OK) {
		mf->id = mox__store_alloc_id(st);
		mox_store_message_path(mf->id, rel);
		if (mox__store_path(st, path, sizeof(path), "msg/%s", rel) != 0)
			err = MOX_ELIMIT;
	}
	if (err == MOX_OK)
		err = mox__store_shard_dir(st, mf->id);
	if (err == MOX_OK) {
		mf->path = mox_mem_strdup(st->alloc, path);
		if (mf->path == NULL)
			err = MOX_ENOMEM;
	}
	if (err == MOX_OK) {
		mf->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
		if (mf->fd < 0 && errno == EEXIST) {
			/* Left by a crash: no committed row has this id. */
			unlink(path);
			mf->fd =
			    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
		}
		if (mf->fd < 0) {
			err = MOX_EIO;
			mox_mem_free(st->alloc, mf->path);
			mf->path = NULL;
		}
	}
	if (err != MOX_OK) {
		mox_store_msgfile_free(mf);
		return err;
	}
	*mf_out = mf;
	return MOX_OK;
}

mox_err
mox_store_msgfile_write(mox_store_msgfile *mf, const void *data, size_t len)
{
	if (mf == NULL || (data == NULL && len > 0))
		return MOX_EINVAL;
	if (mf->err != MOX_OK)
		return mf->err;
	if (mf->finished)
		return MOX_ESTATE;
	if (mox__store_fault_hit(mf->st, MOX__STORE_FAULT_WRITE)) {
		mf->err = MOX_EIO;
		return mf->err;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(mf->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			mf->err = MOX_EIO;
			return mf->err;
		}
		p += n;
		left -= (size_t)n;
	}
	mf->size += len;
	/* The parser failing (limits) is not the file failing: keep writing,
	 * store a flat tree at the end. */
	if (mf->parser != NULL &&
	    mox_msg_parser_feed(mf->parser, data, len) != MOX_OK) {
		mox_msg_parser_free(mf->parser);
		mf->parser = NULL;
	}
	return MOX_OK;
}

/* End the parse and encode the part tree: the first step of finishing. */
static mox_err
finish_parse(mox_store_msgfile *mf)
{
	mox_msg *msg = NULL;
	mox_err err = MOX_OK;
	if (mf->parser != NULL) {
		err = mox_msg_parser_end(mf->parser, &msg);
		mox_msg_parser_free(mf->parser);
		mf->parser = NULL;
	}
	if (err == MOX_ENOMEM)
		return err;
	mox_buf_reset(&mf->part);
	if (msg != NULL)
		err = mox_store_part_encode(msg, &mf->part);
	else
		err = mox__store_part_encode_flat(mf->size, 0, &mf->part);
	mox_msg_free(msg);
	return err;
}

/* fsync the file's data and close it. */
static mox_err
finish_sync_file(mox_store_msgfile *mf)
{
	if (mox__store_fault_hit(mf->st, MOX__STORE_FAULT_FSYNC_FILE) ||
	    fsync(mf->fd) != 0)
		return MOX_EIO;
	close(mf->fd);
	mf->fd = -1;
	return MOX_OK;
}

/* The file's entry in its directory, durable before any row. */
static mox_err
finish_sync_entry(mox_store_msgfile *mf)
{
	if (mox__store_fault_hit(mf->st, MOX__STORE_FAULT_FSYNC_DIR) ||
	    mox__store_sync_entry(mf->st, mf->id) != MOX_OK)
		return MOX_EIO;
	return MOX_OK;
}

static mox_err
finish_check(const mox_store_msgfile *mf)
{
	if (mf == NULL)
		return MOX_EINVAL;
	if (mf->err != MOX_OK)
		return mf->err;
	if (mf->finished)
		return MOX_ESTATE;
	return MOX_OK;
}

static void
finish_fail(mox_store_msgfile *mf, mox_err err)
{
	if (err != MOX_OK && err != MOX_ENOMEM)
		mf->err = err;
}

mox_err
mox_store_msgfile_finish(mox_store_msgfile *mf)
{
	mox_err err = finish_check(mf);
	if (err != MOX_OK)
		return err;
	err = finish_parse(mf);
	if (err == MOX_OK)
		err = finish_sync_file(mf);
	if (err == MOX_OK)
		err = finish_sync_entry(mf);
	if (err == MOX_OK)
		mf->finished = true;
	finish_fail(mf, err);
	return err;
}

/* As mox_store_msgfile_finish for each file, in phases: all parses, then
 * writeback started for all files at once (sync_file_range, so the disk
 * sees the data together and each fsync after the first finds little to
 * do), then an fsync per file, then one directory fsync per shard
 * directory instead of one per file. Durability is the same: every file's
 * data and entry is on disk before this returns MOX_OK. */
mox_err
mox_store_msgfile_finish_group(mox_store_msgfile *const *mfs, size_t n)
{
	if (mfs == NULL && n > 0)
		return MOX_EINVAL;
	for (size_t i = 0; i < n; i++) {
		mox_err err = finish_check(mfs[i]);
		if (err != MOX_OK)
			return err;
	}
	mox_err err = MOX_OK;
	size_t i = 0;
	for (i = 0; i < n && err == MOX_OK; i++) {
		err = finish_parse(mfs[i]);
		if (err != MOX_OK)
			finish_fail(mfs[i], err);
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* Only a hint: errors show in the fsync below. */
	for (i = 0; i < n && err == MOX_OK; i++)
		(void)sync_file_range(mfs[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	for (i = 0; i < n && err == MOX_OK; i++) {
		err = finish_sync_file(mfs[i]);
		if (err != MOX_OK)
			finish_fail(mfs[i], err);
	}
	/* One directory fsync covers every entry made before it started:
	 * sync once per shard, for the last file in it of this group. */
	for (i = 0; i < n && err == MOX_OK; i++) {
		bool later = false;
		for (size_t j = i + 1; j < n && !later; j++)
			later = (mfs[j]->id >> 13) == (mfs[i]->id >> 13);
		if (later)
			continue;
		err = finish_sync_entry(mfs[i]);
		if (err != MOX_OK)
			for (size_t j = 0; j < n; j++)
				if ((mfs[j]->id >> 13) == (mfs[i]->id >> 13))
					finish_fail(mfs[j], err);
	}
	if (err == MOX_OK)
		for (i = 0; i < n; i++)
			mfs[i]->finished = true;
	return err;
}

uint64_t
mox_store_msgfile_size(const mox_store_msgfile *mf)
{
	return mf != NULL ? mf->size : 0;
}

void
mox_store_msgfile_free(mox_store_msgfile *mf)
{
	if (mf == NULL)
		return;
	if (mf->fd >= 0)
		close(mf->fd);
	if (mf->path != NULL && !mf->consumed)
		unlink(mf->path);
	mox_msg_parser_free(mf->parser);
	mox_buf_free(&mf->part);
	mox_mem_free(mf->st->alloc, mf->path);
	mox_mem_free(mf->st->alloc, mf);
}
