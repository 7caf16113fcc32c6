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

mox_err
mox_store_msgfile_finish(mox_store_msgfile *mf)
{
	if (mf == NULL)
		return MOX_EINVAL;
	if (mf->err != MOX_OK)
		return mf->err;
	if (mf->finished)
		return MOX_ESTATE;
	mox_msg *msg = NULL;
	mox_err err = MOX_OK;
	if (mf->parser != NULL) {
		err = mox_msg_parser_end(mf->parser, &msg);
		mox_msg_parser_free(mf->parser);
		mf->parser = NULL;
	}
	if (err == MOX_ENOMEM)
		goto out;
	mox_buf_reset(&mf->part);
	if (msg != NULL)
		err = mox_store_part_encode(msg, &mf->part);
	else
		err = mox__store_part_encode_flat(mf->size, 0, &mf->part);
	mox_msg_free(msg);
	if (err != MOX_OK)
		goto out;
	if (mox__store_fault_hit(mf->st, MOX__STORE_FAULT_FSYNC_FILE) ||
	    fsync(mf->fd) != 0) {
		err = MOX_EIO;
		goto out;
	}
	close(mf->fd);
	mf->fd = -1;
	/* The file's entry in its directory, durable before any row. */
	if (mox__store_fault_hit(mf->st, MOX__STORE_FAULT_FSYNC_DIR) ||
	    mox__store_sync_entry(mf->st, mf->id) != MOX_OK) {
		err = MOX_EIO;
		goto out;
	}
	mf->finished = true;
out:
	if (err != MOX_OK && err != MOX_ENOMEM)
		mf->err = err;
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
