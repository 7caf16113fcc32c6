/* Opening an account, connections, transactions, and the commit protocol.
 *
 * How this works:
 *   - One process opens an account: flock() on index.db, held while the
 *     handle lives (the kernel drops it when the process dies).
 *   - One SQLite connection writes (WAL, synchronous=FULL: a commit is
 *     durable when it returns), guarded by wlock, which a write transaction
 *     holds from begin to commit/rollback. Readers take connections from a
 *     pool (at most max_readers) and read a snapshot (WAL readers never
 *     block the writer nor wait for it).
 *   - Each write operation runs inside a SAVEPOINT, so a failing operation
 *     is undone alone, together with the staged files, pending removals
 *     and changes it recorded (struct mox__store_opmark).
 *   - The durability protocol, in the order a message's bytes become
 *     durable: the store hands out the message id (above every id ever
 *     committed), the staged file is written at its final name
 *     msg/<shard>/<id>, fsynced, and its directory fsynced, all in the
 *     delivering thread, so many deliveries do this in parallel (and
 *     share directory fsyncs: mox__store_sync_entry); only then is its
 *     row inserted, and the transaction committed (WAL,
 *     synchronous=FULL). Any failure before the commit removes the file,
 *     so no row ever exists without its file. A crash before the commit
 *     leaves a file whose id no committed row has: open removes such files
 *     in the shards where new ids go, ids are never handed out twice in
 *     one run (O_EXCL), and verify reports any it finds. Copies (hard
 *     links) are made during the transaction and their directories
 *     fsynced before the commit. After the commit, files of removed
 *     messages are unlinked (a crash there leaves files without rows,
 *     which verify reports) and the changes are broadcast, still under
 *     wlock so listeners see UIDs in order.
 */
#define _DEFAULT_SOURCE /* flock */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

unsigned
mox_store_version(void)
{
	return MOX_STORE_VERSION_HEX;
}

/* 64 characters, as mox's msgDirChars: 8192 ids per directory, the
 * directory named by the rest of the id in base 64, low digit first. */
void
mox_store_message_path(int64_t id, char out[32])
{
	static const char chars[] =
	    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
	uint64_t v = (uint64_t)id >> 13;
	size_t n = 0;
	do {
		out[n++] = chars[v & 63];
		v >>= 6;
	} while (v != 0);
	snprintf(out + n, 32 - n, "/%lld", (long long)id);
}

int
mox__store_path(const mox_store *st, char *out, size_t outsz, const char *fmt, ...)
{
	int n = snprintf(out, outsz, "%s/", st->dir);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(out + n, outsz - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= outsz - (size_t)n)
		return -1;
	return 0;
}

mox_err
mox__store_seterr(mox_store_tx *tx, mox_err err, const char *fmt, ...)
{
	if (tx != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(tx->errmsg, sizeof(tx->errmsg), fmt, ap);
		va_end(ap);
	}
	return err;
}

mox_err
mox__store_err_sqlite(mox_store_tx *tx, sqlite3 *db, int rc, const char *what)
{
	mox_err err = MOX_EIO;
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		err = MOX_ENOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = MOX_ETIMEDOUT;
		break;
	case SQLITE_CONSTRAINT:
		err = MOX_EEXIST;
		break;
	default:
		break;
	}
	return mox__store_seterr(tx, err, "%s: %s", what,
	                         db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static const char *const stmt_sql[ST__COUNT] = {
#define MAILBOX_COLS                                                                   \
	"m.id, m.name, m.uidvalidity, m.uidnext, m.special_use, m.modseq,"             \
	" m.n_total, m.n_deleted, m.n_unread, m.n_unseen, m.n_size,"                   \
	" EXISTS (SELECT 1 FROM subscription s WHERE s.name = m.name)"
#define MSG_COLS                                                                       \
	"id, mailbox_id, uid, modseq, createseq, received, size, flags, keywords"
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT op",
    [ST_RELEASE] = "RELEASE op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO op",
    [ST_NEXT_MODSEQ] = "UPDATE account SET last_modseq = last_modseq + 1"
                       " WHERE id = 1 RETURNING last_modseq",
    [ST_NEXT_UIDVALIDITY] = "UPDATE account SET next_uidvalidity = next_uidvalidity + 1"
                            " WHERE id = 1 RETURNING next_uidvalidity - 1",
    [ST_ACCOUNT_GET] = "SELECT next_uidvalidity, last_modseq, message_count,"
                       " message_size FROM account WHERE id = 1",
    [ST_ACCOUNT_ADD_USAGE] = "UPDATE account SET message_count = message_count + ?1,"
                             " message_size = message_size + ?2 WHERE id = 1",
    [ST_MAILBOX_BY_NAME] = "SELECT " MAILBOX_COLS " FROM mailbox m WHERE m.name = ?",
    [ST_MAILBOX_BY_ID] = "SELECT " MAILBOX_COLS " FROM mailbox m WHERE m.id = ?",
    [ST_MAILBOX_LIST] = "SELECT " MAILBOX_COLS " FROM mailbox m ORDER BY m.name",
    [ST_MAILBOX_INSERT] = "INSERT INTO mailbox (name, uidvalidity, uidnext,"
                          " special_use, modseq) VALUES (?1, ?2, 1, ?3, ?4)",
    [ST_MAILBOX_DELETE] = "DELETE FROM mailbox WHERE id = ?",
    [ST_MAILBOX_RENAME] = "UPDATE mailbox SET name = ?2, modseq = max(modseq, ?3)"
                          " WHERE id = ?1",
    [ST_MAILBOX_SET_USE] = "UPDATE mailbox SET special_use = ?2,"
                           " modseq = max(modseq, ?3) WHERE id = ?1",
    [ST_MAILBOX_CHILDREN] = "SELECT id, name FROM mailbox"
                            " WHERE substr(name, 1, length(?1) + 1) = ?1 || '/'"
                            " ORDER BY name",
    [ST_MAILBOX_UIDNEXT] = "UPDATE mailbox SET uidnext = ?2 WHERE id = ?1",
    [ST_MAILBOX_COUNTS] = "UPDATE mailbox SET n_total = n_total + ?2,"
                          " n_deleted = n_deleted + ?3, n_unread = n_unread + ?4,"
                          " n_unseen = n_unseen + ?5, n_size = n_size + ?6,"
                          " modseq = max(modseq, ?7) WHERE id = ?1",
    [ST_MAILBOX_ADD_MSG] = "UPDATE mailbox SET uidnext = ?2, n_total = n_total + ?3,"
                           " n_deleted = n_deleted + ?4, n_unread = n_unread + ?5,"
                           " n_unseen = n_unseen + ?6, n_size = n_size + ?7,"
                           " modseq = max(modseq, ?8) WHERE id = ?1",
    [ST_MAILBOX_KEYWORDS_GET] = "SELECT keywords FROM mailbox WHERE id = ?",
    [ST_MAILBOX_KEYWORDS_SET] = "UPDATE mailbox SET keywords = ?2 WHERE id = ?1",
    [ST_SUB_INSERT] = "INSERT OR IGNORE INTO subscription (name) VALUES (?)",
    [ST_SUB_DELETE] = "DELETE FROM subscription WHERE name = ?",
    [ST_SUB_GET] = "SELECT 1 FROM subscription WHERE name = ?",
    [ST_SUB_LIST] = "SELECT name FROM subscription ORDER BY name",
    [ST_SUB_RENAME] = "UPDATE OR REPLACE subscription SET name = ?2 WHERE name = ?1",
    [ST_MSG_INSERT] = "INSERT INTO message (mailbox_id, uid, modseq, createseq,"
                      " received, size, flags, keywords, part, id)"
                      " VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_MSG_RANGE] = "SELECT " MSG_COLS " FROM message WHERE mailbox_id = ?1"
                     " AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
    [ST_MSG_SEQ] = "SELECT " MSG_COLS " FROM message WHERE mailbox_id = ?1"
                   " ORDER BY uid LIMIT ?2 OFFSET ?3",
    [ST_MSG_COUNT_BELOW] = "SELECT count(*) FROM message WHERE mailbox_id = ?1"
                           " AND uid < ?2",
    [ST_MSG_GET] =
        "SELECT " MSG_COLS " FROM message WHERE mailbox_id = ?1 AND uid = ?2",
    [ST_MSG_PART] = "SELECT part FROM message WHERE id = ?",
    [ST_MSG_SET_FLAGS] = "UPDATE message SET flags = ?2, keywords = ?3, modseq = ?4"
                         " WHERE id = ?1",
    [ST_MSG_DELETE] = "DELETE FROM message WHERE id = ?",
    [ST_MSG_MOVE] = "UPDATE message SET mailbox_id = ?2, uid = ?3, modseq = ?4"
                    " WHERE id = ?1",
    [ST_MSG_COPY] = "INSERT INTO message (id, mailbox_id, uid, modseq, createseq,"
                    " received, size, flags, keywords, part)"
                    " SELECT ?5, ?2, ?3, ?4, ?4, received, size, flags, keywords, part"
                    " FROM message WHERE id = ?1",
    [ST_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
                           " VALUES (?1, ?2, ?3)",
    [ST_EXPUNGED_SINCE] = "SELECT uid FROM expunged WHERE mailbox_id = ?1"
                          " AND modseq > ?2 ORDER BY uid",
    [ST_PASSWORD_DELETE] = "DELETE FROM password",
    [ST_PASSWORD_INSERT] =
        "INSERT INTO password (id, bcrypt, cram_md5, scram_sha1_salt,"
        " scram_sha1_iterations, scram_sha1_stored, scram_sha1_server,"
        " scram_sha256_salt, scram_sha256_iterations, scram_sha256_stored,"
        " scram_sha256_server) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_PASSWORD_GET] =
        "SELECT bcrypt, cram_md5, scram_sha1_salt, scram_sha1_iterations,"
        " scram_sha1_stored, scram_sha1_server, scram_sha256_salt,"
        " scram_sha256_iterations, scram_sha256_stored, scram_sha256_server"
        " FROM password WHERE id = 1",
#undef MAILBOX_COLS
#undef MSG_COLS
};

/* The statement, prepared on first use, reset with bindings cleared. NULL
 * if it cannot be prepared (out of memory). */
sqlite3_stmt *
mox__store_stmt(struct mox__store_conn *c, enum mox__store_stmt_id id)
{
	sqlite3_stmt *s = c->st[id];
	if (s == NULL) {
		if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
		                       SQLITE_PREPARE_PERSISTENT, &s,
		                       NULL) != SQLITE_OK)
			return NULL;
		c->st[id] = s;
	} else {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	return s;
}

/* The error for a statement that could not be prepared. */
mox_err
mox__store_prep_err(mox_store_tx *tx, const char *what)
{
	if (tx == NULL || tx->c == NULL)
		return MOX_EIO;
	return mox__store_err_sqlite(tx, tx->c->db, sqlite3_errcode(tx->c->db), what);
}

/* Step a statement that returns no rows (or whose rows are not needed). */
mox_err
mox__store_step_done(mox_store_tx *tx, sqlite3_stmt *s, const char *what)
{
	if (s == NULL)
		return mox__store_prep_err(tx, what);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(s);
		return MOX_OK;
	}
	mox_err err = mox__store_err_sqlite(tx, sqlite3_db_handle(s), rc, what);
	sqlite3_reset(s);
	return err;
}

static void
conn_close(struct mox__store_conn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

static mox_err
conn_open(mox_store *st, bool reader, struct mox__store_conn **out, mox_errinfo *info)
{
	char path[MOX__STORE_PATH_MAX];
	struct mox__store_conn *c = NULL;
	mox_err err = MOX_EIO;
	*out = NULL;
	if (mox__store_path(st, path, sizeof(path), "index.db") != 0)
		return mox_errinfo_set(info, MOX_ELIMIT, 0, "path too long");
	/* Connection structs come from libc: SQLite allocates on its own too,
	 * and these live as long as the store. */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	int rc = sqlite3_open_v2(path, &c->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		mox_errinfo_set(info, rc == SQLITE_NOMEM ? MOX_ENOMEM : MOX_EIO, 0,
		                "opening %s: %s", path,
		                c->db != NULL ? sqlite3_errmsg(c->db)
		                              : sqlite3_errstr(rc));
		err = rc == SQLITE_NOMEM ? MOX_ENOMEM : MOX_EIO;
		goto out;
	}
	sqlite3_busy_timeout(c->db, MOX__STORE_BUSY_MS);
	const char *pragmas =
	    reader ? "PRAGMA foreign_keys = ON; PRAGMA query_only = 1;"
	           : "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	             " PRAGMA foreign_keys = ON;";
	char *msg = NULL;
	rc = sqlite3_exec(c->db, pragmas, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		mox_errinfo_set(info, MOX_EIO, 0, "configuring database: %s",
		                msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		goto out;
	}
	*out = c;
	c = NULL;
	err = MOX_OK;
out:
	conn_close(c);
	return err;
}

/* Remove what a crash left in tmp/: staged files never handed over. We
 * hold the account lock, so no one else is writing there. */
static void
clean_tmp(mox_store *st)
{
	char path[MOX__STORE_PATH_MAX];
	if (mox__store_path(st, path, sizeof(path), "tmp") != 0)
		return;
	DIR *d = opendir(path);
	if (d == NULL)
		return;
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
}

/* The first id to hand out: above every id SQLite ever gave a committed
 * row (sqlite_sequence keeps the highest, also after deletes). Files with
 * ids from there on are what a crash left before a commit: removed from
 * the shards new ids go to (verify finds any elsewhere). */
static mox_err
init_ids(mox_store *st, mox_errinfo *info)
{
	sqlite3_stmt *s = NULL;
	int64_t max = 0;
	int rc =
	    sqlite3_prepare_v2(st->writer->db,
	                       "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
	                       " WHERE name = 'message'), 0),"
	                       " coalesce((SELECT max(id) FROM message), 0))",
	                       -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		max = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return mox_errinfo_set(info, MOX_EIO, 0, "reading message ids: %s",
		                       sqlite3_errmsg(st->writer->db));
	st->next_id = max + 1;
	st->shard_ok = -1;
	for (int64_t shard = st->next_id >> 13; shard <= (st->next_id >> 13) + 1;
	     shard++) {
		char rel[32], dir[MOX__STORE_PATH_MAX];
		mox_store_message_path(shard << 13, rel);
		*strchr(rel, '/') = '\0';
		if (mox__store_path(st, dir, sizeof(dir), "msg/%s", rel) != 0)
			continue;
		DIR *d = opendir(dir);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char *end;
			long long id = strtoll(e->d_name, &end, 10);
			if (*end == '\0' && id >= st->next_id)
				unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	return MOX_OK;
}

int64_t
mox__store_alloc_id(mox_store *st)
{
	pthread_mutex_lock(&st->id_mu);
	int64_t id = st->next_id++;
	pthread_mutex_unlock(&st->id_mu);
	return id;
}

/* msg/<shard> for id exists, its entry in msg/ durable. Under id_mu, so
 * that a thread that finds the directory made by another cannot go on
 * before that one has synced msg/. */
mox_err
mox__store_shard_dir(mox_store *st, int64_t id)
{
	char rel[32], dir[MOX__STORE_PATH_MAX];
	int64_t shard = id >> 13;
	mox_err err = MOX_OK;
	pthread_mutex_lock(&st->id_mu);
	if (shard == st->shard_ok)
		goto out;
	mox_store_message_path(id, rel);
	*strchr(rel, '/') = '\0';
	if (mox__store_path(st, dir, sizeof(dir), "msg/%s", rel) != 0) {
		err = MOX_ELIMIT;
		goto out;
	}
	if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
		err = MOX_EIO;
		goto out;
	}
	/* Also when it existed: it may be from a crash before its sync. */
	if (mox__store_path(st, dir, sizeof(dir), "msg") != 0) {
		err = MOX_ELIMIT;
		goto out;
	}
	err = mox__store_sync_dir(dir);
	if (err == MOX_OK)
		st->shard_ok = shard;
out:
	pthread_mutex_unlock(&st->id_mu);
	return err;
}

static bool
account_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MOX_STORE_ACCOUNT_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static mox_err
mkdir_p(const char *path)
{
	char buf[MOX__STORE_PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return MOX_ELIMIT;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0770) != 0 && errno != EEXIST)
			return MOX_EIO;
		buf[i] = c;
	}
	return MOX_OK;
}

mox_err
mox__store_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return MOX_EIO;
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MOX_OK : MOX_EIO;
}

/* Make the directory entry of message file id durable: wait for an fsync
 * of its shard directory that started after this call, running one if
 * none is running. A directory fsync covers every entry made before it
 * started, so deliveries finishing at the same time share one fsync (the
 * first runs it, those arriving meanwhile run the next one together)
 * instead of each running their own; it stays in the delivering threads,
 * in parallel with the group commit of earlier messages. */
mox_err
mox__store_sync_entry(mox_store *st, int64_t id)
{
	int64_t shard = id >> 13;
	char rel[32], dir[MOX__STORE_PATH_MAX];
	mox_store_message_path(id, rel);
	*strchr(rel, '/') = '\0';
	if (mox__store_path(st, dir, sizeof(dir), "msg/%s", rel) != 0)
		return MOX_ELIMIT;
	mox_err err = MOX_OK;
	pthread_mutex_lock(&st->ds_mu);
	uint64_t need = st->ds_started + 1; /* starts after now */
	for (;;) {
		if (st->ds_done >= need && st->ds_done_shard == shard) {
			err = st->ds_done_ok ? MOX_OK : MOX_EIO;
			break;
		}
		if (st->ds_busy) {
			pthread_cond_wait(&st->ds_cv, &st->ds_mu);
			continue;
		}
		uint64_t gen = ++st->ds_started;
		st->ds_shard = shard;
		st->ds_busy = true;
		pthread_mutex_unlock(&st->ds_mu);
		mox_err e = mox__store_sync_dir(dir);
		pthread_mutex_lock(&st->ds_mu);
		st->ds_busy = false;
		st->ds_done = gen;
		st->ds_done_shard = shard;
		st->ds_done_ok = e == MOX_OK;
		pthread_cond_broadcast(&st->ds_cv);
		/* gen >= need and of our shard: the check above ends it. */
	}
	pthread_mutex_unlock(&st->ds_mu);
	return err;
}

mox_err
mox_store_open(mox_store **store_out, const char *account_dir,
               const mox_store_opts *opts, mox_errinfo *info)
{
	mox_store_opts o = {0};
	mox_store *st = NULL;
	mox_err err = MOX_EINVAL;
	char path[MOX__STORE_PATH_MAX];
	bool locks = false;

	if (store_out == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no output pointer");
	*store_out = NULL;
	if (account_dir == NULL || account_dir[0] == '\0')
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no account directory");
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return mox_errinfo_set(info, MOX_EINVAL, 0,
			                       "opts.size not set");
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	if (strlen(account_dir) > MOX__STORE_PATH_MAX - 64)
		return mox_errinfo_set(info, MOX_ELIMIT, 0,
		                       "account directory path too long");
	if (o.bcrypt_cost != 0 && (o.bcrypt_cost < 4 || o.bcrypt_cost > 31))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "bcrypt cost not in 4..31");

	st = mox_mem_calloc(o.alloc, 1, sizeof(*st));
	if (st == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	st->alloc = o.alloc;
	st->lockfd = -1;
	st->quota = o.quota_bytes;
	st->bcrypt_cost = o.bcrypt_cost != 0 ? o.bcrypt_cost : 10;
	st->scram_iterations = o.scram_iterations;
	st->max_readers = o.max_readers != 0 ? o.max_readers : 8;
	st->queue_max = MOX_STORE_LISTENER_QUEUE_MAX;
	st->dir = mox_mem_strdup(st->alloc, account_dir);
	if (st->dir == NULL) {
		err = mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
		goto out;
	}
	size_t dl = strlen(st->dir);
	while (dl > 1 && st->dir[dl - 1] == '/')
		st->dir[--dl] = '\0';
	const char *slash = strrchr(st->dir, '/');
	st->name = mox_mem_strdup(st->alloc, slash != NULL ? slash + 1 : st->dir);
	if (st->name == NULL) {
		err = mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
		goto out;
	}
	if (!account_name_ok(st->name)) {
		err = mox_errinfo_set(info, MOX_EINVAL, 0, "bad account name \"%s\"",
		                      st->name);
		goto out;
	}
	if (pthread_mutex_init(&st->wlock, NULL) != 0) {
		err = mox_errinfo_set(info, MOX_ENOMEM, 0, "mutex");
		goto out;
	}
	pthread_mutex_init(&st->pool_mu, NULL);
	pthread_cond_init(&st->pool_cv, NULL);
	pthread_mutex_init(&st->gc_mu, NULL);
	pthread_cond_init(&st->gc_cv, NULL);
	pthread_mutex_init(&st->lmu, NULL);
	pthread_mutex_init(&st->id_mu, NULL);
	pthread_mutex_init(&st->ds_mu, NULL);
	pthread_cond_init(&st->ds_cv, NULL);
	locks = true;

	struct stat sb;
	if (mox__store_path(st, path, sizeof(path), "index.db") != 0) {
		err = mox_errinfo_set(info, MOX_ELIMIT, 0, "path too long");
		goto out;
	}
	if (stat(path, &sb) != 0) {
		if (!o.create) {
			err = mox_errinfo_set(info, MOX_ENOTFOUND, 0,
			                      "no account at %s", st->dir);
			goto out;
		}
		if (mkdir_p(st->dir) != MOX_OK) {
			err = mox_errinfo_set(info, MOX_EIO, 0, "creating %s: %s",
			                      st->dir, strerror(errno));
			goto out;
		}
	}
	st->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (st->lockfd < 0) {
		err = mox_errinfo_set(info, MOX_EIO, 0, "opening %s: %s", path,
		                      strerror(errno));
		goto out;
	}
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) != 0) {
		err = mox_errinfo_set(info, errno == EWOULDBLOCK ? MOX_ESTATE : MOX_EIO,
		                      0, "account %s is in use: %s", st->name,
		                      strerror(errno));
		goto out;
	}
	const char *subdirs[] = {"tmp", "msg"};
	for (size_t i = 0; i < 2; i++) {
		if (mox__store_path(st, path, sizeof(path), "%s", subdirs[i]) != 0 ||
		    (mkdir(path, 0770) != 0 && errno != EEXIST)) {
			err = mox_errinfo_set(info, MOX_EIO, 0, "creating %s: %s", path,
			                      strerror(errno));
			goto out;
		}
	}
	/* The directory entries of tmp/ and msg/ must be durable before any
	 * message is acknowledged; one fsync of the account dir at open. */
	if (mox__store_sync_dir(st->dir) != MOX_OK) {
		err = mox_errinfo_set(info, MOX_EIO, 0, "syncing %s: %s", st->dir,
		                      strerror(errno));
		goto out;
	}
	st->msgdir_synced = true;

	err = conn_open(st, false, &st->writer, info);
	if (err != MOX_OK)
		goto out;
	int version;
	bool empty;
	if (mox__store_schema_version(st->writer->db, &version, &empty) != MOX_OK) {
		err = mox_errinfo_set(info, MOX_EIO, 0, "reading schema version: %s",
		                      sqlite3_errmsg(st->writer->db));
		goto out;
	}
	if (empty && !o.create) {
		err = mox_errinfo_set(info, MOX_ENOTFOUND, 0,
		                      "no account database in %s", st->dir);
		goto out;
	}
	uint32_t uidvalidity = o.initial_uidvalidity;
	if (uidvalidity == 0)
		uidvalidity = (uint32_t)((uint64_t)time(NULL) >> 1); /* as mox */
	err = mox__store_schema_upgrade(st->writer->db, MOX_STORE_SCHEMA_VERSION,
	                                uidvalidity, info);
	if (err != MOX_OK)
		goto out;
	err = init_ids(st, info);
	if (err != MOX_OK)
		goto out;
	clean_tmp(st);
	*store_out = st;
	st = NULL;
	err = MOX_OK;
out:
	if (st != NULL) {
		conn_close(st->writer);
		if (st->lockfd >= 0)
			close(st->lockfd);
		if (locks) {
			pthread_mutex_destroy(&st->wlock);
			pthread_mutex_destroy(&st->pool_mu);
			pthread_cond_destroy(&st->pool_cv);
			pthread_mutex_destroy(&st->gc_mu);
			pthread_cond_destroy(&st->gc_cv);
			pthread_mutex_destroy(&st->lmu);
			pthread_mutex_destroy(&st->id_mu);
			pthread_mutex_destroy(&st->ds_mu);
			pthread_cond_destroy(&st->ds_cv);
		}
		mox_mem_free(st->alloc, st->name);
		mox_mem_free(st->alloc, st->dir);
		mox_mem_free(st->alloc, st);
	}
	return err;
}

void
mox_store_close(mox_store *st)
{
	if (st == NULL)
		return;
	while (st->idle != NULL) {
		struct mox__store_conn *c = st->idle;
		st->idle = c->next;
		conn_close(c);
	}
	conn_close(st->writer);
	close(st->lockfd);
	pthread_mutex_destroy(&st->wlock);
	pthread_mutex_destroy(&st->pool_mu);
	pthread_cond_destroy(&st->pool_cv);
	pthread_mutex_destroy(&st->gc_mu);
	pthread_cond_destroy(&st->gc_cv);
	pthread_mutex_destroy(&st->lmu);
	pthread_mutex_destroy(&st->id_mu);
	pthread_mutex_destroy(&st->ds_mu);
	pthread_cond_destroy(&st->ds_cv);
	mox_mem_free(st->alloc, st->name);
	mox_mem_free(st->alloc, st->dir);
	mox_mem_free(st->alloc, st);
}

const char *
mox_store_name(const mox_store *st)
{
	return st->name;
}

bool
mox__store_fault_hit(mox_store *st, enum mox__store_fault f)
{
	int want = f;
	return atomic_compare_exchange_strong(&st->fault, &want, MOX__STORE_FAULT_NONE);
}

void
mox__store_fault_set(mox_store *st, enum mox__store_fault f)
{
	atomic_store(&st->fault, (int)f);
}

/* ---- reader pool ---- */

static mox_err
reader_get(mox_store *st, struct mox__store_conn **out, mox_store_tx *tx)
{
	mox_err err = MOX_OK;
	*out = NULL;
	pthread_mutex_lock(&st->pool_mu);
	for (;;) {
		if (st->idle != NULL) {
			*out = st->idle;
			st->idle = st->idle->next;
			break;
		}
		if (st->nreaders < st->max_readers) {
			st->nreaders++;
			pthread_mutex_unlock(&st->pool_mu);
			mox_errinfo info;
			err = conn_open(st, true, out, &info);
			pthread_mutex_lock(&st->pool_mu);
			if (err != MOX_OK) {
				st->nreaders--;
				mox__store_seterr(tx, err, "%s", info.msg);
			}
			break;
		}
		pthread_cond_wait(&st->pool_cv, &st->pool_mu);
	}
	pthread_mutex_unlock(&st->pool_mu);
	return err;
}

static void
reader_put(mox_store *st, struct mox__store_conn *c)
{
	pthread_mutex_lock(&st->pool_mu);
	c->next = st->idle;
	st->idle = c;
	pthread_cond_signal(&st->pool_cv);
	pthread_mutex_unlock(&st->pool_mu);
}

/* ---- transactions ---- */

static void
tx_free(mox_store_tx *tx)
{
	const mox_allocator *a = tx->st->alloc;
	mox_mem_free(a, tx->adds);
	mox_mem_free(a, tx->removes);
	mox_mem_free(a, tx->crecs);
	mox_buf_free(&tx->arena);
	mox_mem_free(a, tx);
}

mox_err
mox_store_tx_begin(mox_store *st, unsigned mode, mox_store_listener *origin,
                   mox_store_tx **tx_out)
{
	if (tx_out == NULL)
		return MOX_EINVAL;
	*tx_out = NULL;
	if (st == NULL || mode > MOX_STORE_TX_WRITE)
		return MOX_EINVAL;
	mox_store_tx *tx = mox_mem_calloc(st->alloc, 1, sizeof(*tx));
	if (tx == NULL)
		return MOX_ENOMEM;
	tx->st = st;
	tx->write = mode == MOX_STORE_TX_WRITE;
	tx->origin = origin;
	mox_buf_init(&tx->arena, st->alloc);
	mox_err err;
	if (tx->write) {
		pthread_mutex_lock(&st->wlock);
		tx->c = st->writer;
		err = mox__store_step_done(
		    tx, mox__store_stmt(tx->c, ST_BEGIN_IMMEDIATE), "begin");
		if (err != MOX_OK) {
			pthread_mutex_unlock(&st->wlock);
			tx_free(tx);
			return err;
		}
	} else {
		err = reader_get(st, &tx->c, tx);
		if (err != MOX_OK) {
			tx_free(tx);
			return err;
		}
		/* Take the snapshot now, not at the first query. */
		err =
		    mox__store_step_done(tx, mox__store_stmt(tx->c, ST_BEGIN), "begin");
		if (err == MOX_OK)
			err = mox__store_step_done(
			    tx, mox__store_stmt(tx->c, ST_ACCOUNT_GET), "begin");
		if (err != MOX_OK) {
			mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_ROLLBACK),
			                     "");
			reader_put(st, tx->c);
			tx_free(tx);
			return err;
		}
	}
	*tx_out = tx;
	return MOX_OK;
}

const char *
mox_store_tx_errmsg(const mox_store_tx *tx)
{
	return tx->errmsg;
}

static void
remove_file(mox_store *st, int64_t id)
{
	char rel[32], path[MOX__STORE_PATH_MAX];
	mox_store_message_path(id, rel);
	if (mox__store_path(st, path, sizeof(path), "msg/%s", rel) == 0)
		unlink(path);
}

/* Undo the file side of adds [from, nadds): the files are removed,
 * except that a failed operation (op_level) leaves a msgfile's file to
 * the msgfile. */
static void
undo_adds(mox_store_tx *tx, size_t from, bool op_level)
{
	for (size_t i = from; i < tx->nadds; i++) {
		struct mox__store_pending *p = &tx->adds[i];
		if (!(op_level && p->msgfile))
			remove_file(tx->st, p->id);
	}
}

void
mox_store_tx_rollback(mox_store_tx *tx)
{
	if (tx == NULL)
		return;
	mox_store *st = tx->st;
	mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_ROLLBACK), "rollback");
	if (tx->write) {
		undo_adds(tx, 0, false);
		tx->nadds = 0;
		pthread_mutex_unlock(&st->wlock);
	} else {
		reader_put(st, tx->c);
	}
	tx_free(tx);
}

/* Fsync the directories of links made in the transaction, then commit.
 * Staged files and their directories were synced when finished. */
static mox_err
commit_files(mox_store_tx *tx)
{
	mox_store *st = tx->st;
	char rel[32], dir[MOX__STORE_PATH_MAX];
	/* Shard directories touched; a commit rarely spans more than two. */
	char(*dirs)[32] = NULL;
	size_t ndirs = 0;
	mox_err err = MOX_OK;

	for (size_t i = 0; i < tx->nadds; i++) {
		struct mox__store_pending *p = &tx->adds[i];
		if (!p->sync_dir)
			continue;
		if (dirs == NULL) {
			dirs = mox_mem_calloc(st->alloc, tx->nadds, sizeof(*dirs));
			if (dirs == NULL)
				return mox__store_seterr(tx, MOX_ENOMEM,
				                         "out of memory");
		}
		mox_store_message_path(p->id, rel);
		*strchr(rel, '/') = '\0';
		bool known = false;
		for (size_t j = 0; j < ndirs && !known; j++)
			known = strcmp(dirs[j], rel) == 0;
		if (!known)
			memcpy(dirs[ndirs++], rel, sizeof(rel));
	}
	if (ndirs > 0 && mox__store_fault_hit(st, MOX__STORE_FAULT_FSYNC_DIR)) {
		err = mox__store_seterr(tx, MOX_EIO,
		                        "syncing message directory (injected)");
		goto out;
	}
	for (size_t j = 0; j < ndirs; j++) {
		if (mox__store_path(st, dir, sizeof(dir), "msg/%s", dirs[j]) != 0 ||
		    mox__store_sync_dir(dir) != MOX_OK) {
			err = mox__store_seterr(tx, MOX_EIO, "syncing %s: %s", dir,
			                        strerror(errno));
			goto out;
		}
	}
	if (mox__store_fault_hit(st, MOX__STORE_FAULT_COMMIT)) {
		err = mox__store_seterr(tx, MOX_EIO, "commit (injected)");
		goto out;
	}
	err = mox__store_step_done(tx, mox__store_stmt(tx->c, ST_COMMIT), "commit");
out:
	mox_mem_free(st->alloc, dirs);
	return err;
}

mox_err
mox_store_tx_commit(mox_store_tx *tx)
{
	return mox__store_tx_commit_msg(tx, NULL, 0);
}

mox_err
mox__store_tx_commit_msg(mox_store_tx *tx, char *errmsg, size_t errsz)
{
	if (tx == NULL)
		return MOX_EINVAL;
	mox_store *st = tx->st;
	mox_err err;
	if (!tx->write) {
		err = mox__store_step_done(tx, mox__store_stmt(tx->c, ST_COMMIT),
		                           "commit");
		if (err != MOX_OK && errmsg != NULL)
			snprintf(errmsg, errsz, "%s", tx->errmsg);
		reader_put(st, tx->c);
		tx_free(tx);
		return err;
	}
	/* Built before the commit: afterwards nothing may fail. */
	mox_store_batch *batch = NULL;
	err = mox__store_batch_build(tx, &batch);
	if (err == MOX_OK)
		err = commit_files(tx);
	if (err != MOX_OK) {
		if (errmsg != NULL)
			snprintf(errmsg, errsz, "%s", tx->errmsg);
		mox__store_batch_unref(batch);
		mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_ROLLBACK),
		                     "rollback");
		undo_adds(tx, 0, false);
		tx->nadds = 0;
		pthread_mutex_unlock(&st->wlock);
		tx_free(tx);
		return err;
	}
	for (size_t i = 0; i < tx->nremoves; i++)
		remove_file(st, tx->removes[i]);
	if (batch != NULL) {
		mox__store_broadcast(st, batch, tx->origin);
		mox__store_batch_unref(batch);
	}
	pthread_mutex_unlock(&st->wlock);
	tx_free(tx);
	return MOX_OK;
}

/* ---- operations ---- */

mox_err
mox__store_op_begin(mox_store_tx *tx, struct mox__store_opmark *m)
{
	if (!tx->write)
		return mox__store_seterr(tx, MOX_ESTATE, "read-only transaction");
	if (tx->in_op)
		return mox__store_seterr(tx, MOX_ESTATE, "operation already running");
	tx->errmsg[0] = '\0';
	m->nadds = tx->nadds;
	m->nremoves = tx->nremoves;
	m->ncrecs = tx->ncrecs;
	m->arena_len = tx->arena.len;
	mox_err err =
	    mox__store_step_done(tx, mox__store_stmt(tx->c, ST_SAVEPOINT), "savepoint");
	if (err != MOX_OK)
		return err;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_NEXT_MODSEQ);
	if (s == NULL) {
		err = mox__store_prep_err(tx, "next modseq");
	} else {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			tx->modseq = sqlite3_column_int64(s, 0);
		else
			err = mox__store_err_sqlite(tx, tx->c->db, rc, "next modseq");
		sqlite3_reset(s);
	}
	if (err != MOX_OK) {
		mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_ROLLBACK_TO), "");
		mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_RELEASE), "");
		return err;
	}
	tx->in_op = true;
	return MOX_OK;
}

mox_err
mox__store_op_end(mox_store_tx *tx, const struct mox__store_opmark *m, mox_err err)
{
	tx->in_op = false;
	if (err == MOX_OK) {
		err = mox__store_step_done(tx, mox__store_stmt(tx->c, ST_RELEASE),
		                           "release");
		if (err == MOX_OK)
			return MOX_OK;
	}
	/* Undo the database side, then our own records of the operation. If
	 * even the rollback fails the transaction cannot be trusted; commit
	 * would then fail too, as SQLite keeps the error. */
	mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_ROLLBACK_TO),
	                     "rollback to");
	mox__store_step_done(NULL, mox__store_stmt(tx->c, ST_RELEASE), "release");
	undo_adds(tx, m->nadds, true);
	tx->nadds = m->nadds;
	tx->nremoves = m->nremoves;
	tx->ncrecs = m->ncrecs;
	tx->arena.len = m->arena_len;
	return err;
}

mox_err
mox__store_pending_add(mox_store_tx *tx, int64_t id, bool sync_dir, bool msgfile)
{
	if (tx->nadds == tx->capadds) {
		size_t cap = tx->capadds ? tx->capadds * 2 : 8;
		void *n = mox_mem_reallocarray(tx->st->alloc, tx->adds, cap,
		                               sizeof(*tx->adds));
		if (n == NULL)
			return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		tx->adds = n;
		tx->capadds = cap;
	}
	tx->adds[tx->nadds++] = (struct mox__store_pending){
	    .id = id, .sync_dir = sync_dir, .msgfile = msgfile};
	return MOX_OK;
}

mox_err
mox__store_remove_add(mox_store_tx *tx, int64_t id)
{
	if (tx->nremoves == tx->capremoves) {
		size_t cap = tx->capremoves ? tx->capremoves * 2 : 16;
		void *n = mox_mem_reallocarray(tx->st->alloc, tx->removes, cap,
		                               sizeof(*tx->removes));
		if (n == NULL)
			return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		tx->removes = n;
		tx->capremoves = cap;
	}
	tx->removes[tx->nremoves++] = id;
	return MOX_OK;
}

mox_err
mox__store_next_uidvalidity(mox_store_tx *tx, uint32_t *out)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_NEXT_UIDVALIDITY);
	if (s == NULL)
		return mox__store_prep_err(tx, "next uidvalidity");
	int rc = sqlite3_step(s);
	mox_err err = MOX_OK;
	if (rc == SQLITE_ROW)
		*out = (uint32_t)sqlite3_column_int64(s, 0);
	else
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "next uidvalidity");
	sqlite3_reset(s);
	return err;
}

/* A hard link of message src_id's file as message dst_id's (a copy where
 * linking is not possible, fsynced). The directory is synced by the
 * commit. */
mox_err
mox__store_link(mox_store *st, int64_t src_id, int64_t dst_id)
{
	char rel[32], src[MOX__STORE_PATH_MAX], dst[MOX__STORE_PATH_MAX];
	mox_store_message_path(src_id, rel);
	if (mox__store_path(st, src, sizeof(src), "msg/%s", rel) != 0)
		return MOX_ELIMIT;
	mox_store_message_path(dst_id, rel);
	if (mox__store_path(st, dst, sizeof(dst), "msg/%s", rel) != 0)
		return MOX_ELIMIT;
	mox_err err = mox__store_shard_dir(st, dst_id);
	if (err != MOX_OK)
		return err;
	if (mox__store_fault_hit(st, MOX__STORE_FAULT_LINK))
		return MOX_EIO;
	if (link(src, dst) == 0)
		return MOX_OK;
	if (errno == EEXIST) {
		/* Left by a crash: no committed row has this id. */
		unlink(dst);
		if (link(src, dst) == 0)
			return MOX_OK;
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return MOX_EIO;
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	err = in >= 0 && out >= 0 ? MOX_OK : MOX_EIO;
	char buf[65536];
	while (err == MOX_OK) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = MOX_EIO;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n && err == MOX_OK;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				err = MOX_EIO;
			else
				off += w;
		}
	}
	if (err == MOX_OK && fsync(out) != 0)
		err = MOX_EIO;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err != MOX_OK)
		unlink(dst);
	return err;
}

mox_err
mox_store_message_open(mox_store *st, int64_t id, int *fd_out)
{
	char rel[32], path[MOX__STORE_PATH_MAX];
	if (fd_out == NULL)
		return MOX_EINVAL;
	*fd_out = -1;
	if (st == NULL || id <= 0)
		return MOX_EINVAL;
	mox_store_message_path(id, rel);
	if (mox__store_path(st, path, sizeof(path), "msg/%s", rel) != 0)
		return MOX_ELIMIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MOX_ENOTFOUND : MOX_EIO;
	*fd_out = fd;
	return MOX_OK;
}
