/* The queue's storage: rows in <data>/queue/index.db, message files in
 * <data>/queue/<base_id>.
 *
 * How this works:
 *   - One SQLite connection per handle, WAL, synchronous=FULL, behind a
 *     mutex, so the scheduler and delivery threads share it; another
 *     process (mox queue ... while a server runs) opens its own and SQLite
 *     locking (busy timeout) serialises them.
 *   - Add: the message is written to <queue>/tmp-<pid>-<n> and fsynced
 *     outside any lock; then, in one write transaction, the rows are
 *     inserted (base_id = id of the first row), the file renamed to
 *     <queue>/<base_id>, the directory fsynced, and the transaction
 *     committed. Only then is the message accepted (DESIGN.md "Nothing
 *     lost"). A crash before the commit leaves a file without rows (or a
 *     tmp- file); queue_store_open removes those.
 *   - Remove: rows are deleted and committed first; a file whose base_id no
 *     row uses any more is unlinked after the commit (a crash in between
 *     leaves an orphan file, removed at the next open, never a row without
 *     its file).
 */
#define _GNU_SOURCE
#include "fdio.h"
#include "queue.h"

#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_MS 10000

struct queue_store {
	pthread_mutex_t mu;
	sqlite3 *db;
	char dir[PATH_MAX];
	unsigned tmpseq;
};

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if (errbuf == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS msg ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " base_id INTEGER NOT NULL,"
    " queued INTEGER NOT NULL,"
    " sender_account TEXT NOT NULL DEFAULT '',"
    " sender TEXT NOT NULL,"
    " recipient TEXT NOT NULL,"
    " recipient_domain TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL,"
    " last_attempt INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT NOT NULL DEFAULT '',"
    " dialed_ips TEXT NOT NULL DEFAULT '',"
    " has8bit INTEGER NOT NULL DEFAULT 0,"
    " smtputf8 INTEGER NOT NULL DEFAULT 0,"
    " is_dsn INTEGER NOT NULL DEFAULT 0,"
    " hold INTEGER NOT NULL DEFAULT 0,"
    " delay_dsn_sent INTEGER NOT NULL DEFAULT 0,"
    " requiretls INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL,"
    " prefix BLOB,"
    " transport TEXT NOT NULL DEFAULT '',"
    " dsn_notify TEXT NOT NULL DEFAULT '',"
    " dsn_envid TEXT NOT NULL DEFAULT '',"
    " dsn_orcpt TEXT NOT NULL DEFAULT '',"
    " dsn_ret_full INTEGER NOT NULL DEFAULT 0,"
    " release_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS msg_next ON msg(hold, next_attempt);"
    "CREATE INDEX IF NOT EXISTS msg_domain ON msg(recipient_domain);"
    "CREATE INDEX IF NOT EXISTS msg_base ON msg(base_id);";

#define COLS                                                                           \
	"id, base_id, queued, sender_account, sender, recipient,"                      \
	" recipient_domain, attempts, max_attempts, next_attempt,"                     \
	" last_attempt, last_error, dialed_ips, has8bit, smtputf8, is_dsn,"            \
	" hold, delay_dsn_sent, requiretls, size, prefix, transport,"                  \
	" dsn_notify, dsn_envid, dsn_orcpt, dsn_ret_full, release_at"

static char *
xstrdup0(const unsigned char *s)
{
	char *d = strdup(s != NULL ? (const char *)s : "");
	if (d == NULL)
		abort(); /* server code: out of memory is fatal (STYLE.md 5) */
	return d;
}

static void
row_read(sqlite3_stmt *st, queue_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	m->base_id = sqlite3_column_int64(st, 1);
	m->queued = sqlite3_column_int64(st, 2);
	m->sender_account = xstrdup0(sqlite3_column_text(st, 3));
	m->sender = xstrdup0(sqlite3_column_text(st, 4));
	m->recipient = xstrdup0(sqlite3_column_text(st, 5));
	m->recipient_domain = xstrdup0(sqlite3_column_text(st, 6));
	m->attempts = (unsigned)sqlite3_column_int(st, 7);
	m->max_attempts = (unsigned)sqlite3_column_int(st, 8);
	m->next_attempt = sqlite3_column_int64(st, 9);
	m->last_attempt = sqlite3_column_int64(st, 10);
	m->last_error = xstrdup0(sqlite3_column_text(st, 11));
	m->dialed_ips = xstrdup0(sqlite3_column_text(st, 12));
	m->has8bit = sqlite3_column_int(st, 13) != 0;
	m->smtputf8 = sqlite3_column_int(st, 14) != 0;
	m->is_dsn = sqlite3_column_int(st, 15) != 0;
	m->hold = sqlite3_column_int(st, 16) != 0;
	m->delay_dsn_sent = sqlite3_column_int(st, 17) != 0;
	m->requiretls = (queue_requiretls)sqlite3_column_int(st, 18);
	m->size = sqlite3_column_int64(st, 19);
	int plen = sqlite3_column_bytes(st, 20);
	if (plen > 0) {
		m->prefix = malloc((size_t)plen);
		if (m->prefix == NULL)
			abort();
		memcpy(m->prefix, sqlite3_column_blob(st, 20), (size_t)plen);
		m->prefix_len = (size_t)plen;
	}
	m->transport = xstrdup0(sqlite3_column_text(st, 21));
	m->dsn_notify = xstrdup0(sqlite3_column_text(st, 22));
	m->dsn_envid = xstrdup0(sqlite3_column_text(st, 23));
	m->dsn_orcpt = xstrdup0(sqlite3_column_text(st, 24));
	m->dsn_ret_full = sqlite3_column_int(st, 25) != 0;
	m->release_at = sqlite3_column_int64(st, 26);
}

void
queue_msg_clear(queue_msg *m)
{
	if (m == NULL)
		return;
	free(m->sender_account);
	free(m->sender);
	free(m->recipient);
	free(m->recipient_domain);
	free(m->last_error);
	free(m->dialed_ips);
	free(m->prefix);
	free(m->transport);
	free(m->dsn_notify);
	free(m->dsn_envid);
	free(m->dsn_orcpt);
	memset(m, 0, sizeof(*m));
}

void
queue_msgs_free(queue_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n && msgs != NULL; i++)
		queue_msg_clear(&msgs[i]);
	free(msgs);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int
exec_sql(queue_store *qs, const char *sql, char *errbuf, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(qs->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s: %s", sql,
		       msg != NULL ? msg : sqlite3_errmsg(qs->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Remove tmp- files and files of base ids no row uses (crash leftovers). */
static void
cleanup_orphans(queue_store *qs)
{
	DIR *d = opendir(qs->dir);
	if (d == NULL)
		return;
	sqlite3_stmt *st = NULL;
	sqlite3_prepare_v2(qs->db, "SELECT 1 FROM msg WHERE base_id = ? LIMIT 1", -1,
	                   &st, NULL);
	struct dirent *e;
	bool removed = false;
	while ((e = readdir(d)) != NULL) {
		bool drop = false;
		if (strncmp(e->d_name, "tmp-", 4) == 0) {
			drop = true;
		} else if (all_digits(e->d_name) && st != NULL) {
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, strtoll(e->d_name, NULL, 10));
			drop = sqlite3_step(st) == SQLITE_DONE;
		}
		if (drop && unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed = true;
	}
	sqlite3_finalize(st);
	closedir(d);
	if (removed)
		fsync_dir(qs->dir);
}

mox_err
queue_store_open(const char *data_dir, queue_store **qs_out, char *errbuf,
                 size_t errlen)
{
	*qs_out = NULL;
	queue_store *qs = calloc(1, sizeof(*qs));
	if (qs == NULL)
		return MOX_ENOMEM;
	pthread_mutex_init(&qs->mu, NULL);
	mox_err err = MOX_EIO;
	if ((size_t)snprintf(qs->dir, sizeof(qs->dir), "%s/queue", data_dir) >=
	    sizeof(qs->dir)) {
		seterr(errbuf, errlen, "data directory path too long");
		err = MOX_EINVAL;
		goto out;
	}
	if (mkdir(data_dir, 0770) != 0 && errno != EEXIST) {
		seterr(errbuf, errlen, "mkdir %s: %s", data_dir, strerror(errno));
		goto out;
	}
	if (mkdir(qs->dir, 0770) != 0 && errno != EEXIST) {
		seterr(errbuf, errlen, "mkdir %s: %s", qs->dir, strerror(errno));
		goto out;
	}
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/index.db", qs->dir);
	if (sqlite3_open_v2(path, &qs->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                        SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "open %s: %s", path,
		       qs->db != NULL ? sqlite3_errmsg(qs->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(qs->db, BUSY_MS);
	if (exec_sql(qs, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
	             errbuf, errlen) != 0 ||
	    exec_sql(qs, schema, errbuf, errlen) != 0)
		goto out;
	cleanup_orphans(qs);
	err = MOX_OK;
out:
	if (err != MOX_OK) {
		queue_store_close(qs);
		return err;
	}
	*qs_out = qs;
	return MOX_OK;
}

void
queue_store_close(queue_store *qs)
{
	if (qs == NULL)
		return;
	if (qs->db != NULL)
		sqlite3_close_v2(qs->db);
	pthread_mutex_destroy(&qs->mu);
	free(qs);
}

const char *
queue_store_dir(const queue_store *qs)
{
	return qs->dir;
}

/* Domain of an address for grouping: lower-cased after the last '@'. */
static int
recipient_domain(const char *addr, char *out, size_t outlen)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at == addr || at[1] == '\0')
		return -1;
	size_t n = strlen(at + 1);
	if (n >= outlen)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = at[1 + i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return 0;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_TRANSIENT);
}

mox_err
queue_store_add(queue_store *qs, const queue_add_req *req, int64_t now_ms,
                int64_t *ids_out, char *errbuf, size_t errlen)
{
	if (req->nrecipients == 0 || req->recipients == NULL) {
		seterr(errbuf, errlen, "no recipients");
		return MOX_EINVAL;
	}
	char(*domains)[MOX_DNS_NAME_MAX + 3] =
	    calloc(req->nrecipients, sizeof(*domains));
	if (domains == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < req->nrecipients; i++) {
		if (recipient_domain(req->recipients[i], domains[i],
		                     sizeof(domains[i])) != 0) {
			seterr(errbuf, errlen, "bad recipient address '%s'",
			       req->recipients[i]);
			free(domains);
			return MOX_EINVAL;
		}
	}

	/* 1. The file, written and fsynced before taking any lock. */
	char tmp[PATH_MAX + 64], dst[PATH_MAX + 32];
	pthread_mutex_lock(&qs->mu);
	unsigned seq = qs->tmpseq++;
	pthread_mutex_unlock(&qs->mu);
	snprintf(tmp, sizeof(tmp), "%s/tmp-%ld-%u", qs->dir, (long)getpid(), seq);
	mox_err err = MOX_EIO;
	bool tx = false, locked = false, renamed = false;
	sqlite3_stmt *st = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0) {
		seterr(errbuf, errlen, "create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fdio_write_all(fd, req->data, req->data_len) != 0 || fsync(fd) != 0) {
		seterr(errbuf, errlen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);

	/* 2. Rows, rename, directory sync, commit. */
	pthread_mutex_lock(&qs->mu);
	locked = true;
	if (exec_sql(qs, "BEGIN IMMEDIATE", errbuf, errlen) != 0)
		goto out;
	tx = true;
	if (sqlite3_prepare_v2(
	        qs->db,
	        "INSERT INTO msg (base_id, queued, sender_account, sender,"
	        " recipient, recipient_domain, max_attempts, next_attempt,"
	        " has8bit, smtputf8, is_dsn, hold, requiretls, size, prefix,"
	        " transport, dsn_notify, dsn_envid, dsn_orcpt, dsn_ret_full,"
	        " release_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	        -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	int64_t base_id = 0;
	int64_t next = req->release_at > now_ms ? req->release_at : now_ms;
	for (size_t i = 0; i < req->nrecipients; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, base_id);
		sqlite3_bind_int64(st, 2, now_ms);
		bind_text(st, 3, req->sender_account);
		bind_text(st, 4, req->sender);
		bind_text(st, 5, req->recipients[i]);
		bind_text(st, 6, domains[i]);
		sqlite3_bind_int(st, 7, (int)req->max_attempts);
		sqlite3_bind_int64(st, 8, next);
		sqlite3_bind_int(st, 9, req->has8bit);
		sqlite3_bind_int(st, 10, req->smtputf8);
		sqlite3_bind_int(st, 11, req->is_dsn);
		sqlite3_bind_int(st, 12, req->hold);
		sqlite3_bind_int(st, 13, (int)req->requiretls);
		sqlite3_bind_int64(st, 14, (int64_t)(req->prefix_len + req->data_len));
		if (req->prefix_len > 0)
			sqlite3_bind_blob(st, 15, req->prefix, (int)req->prefix_len,
			                  SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 15);
		bind_text(st, 16, req->transport);
		bind_text(st, 17, req->dsn_notify);
		bind_text(st, 18, req->dsn_envid);
		bind_text(st, 19, req->dsn_orcpt);
		sqlite3_bind_int(st, 20, req->dsn_ret_full);
		sqlite3_bind_int64(st, 21, req->release_at);
		if (sqlite3_step(st) != SQLITE_DONE) {
			seterr(errbuf, errlen, "queue db insert: %s",
			       sqlite3_errmsg(qs->db));
			goto out;
		}
		int64_t id = sqlite3_last_insert_rowid(qs->db);
		if (i == 0) {
			base_id = id;
			char sql[96];
			snprintf(sql, sizeof(sql),
			         "UPDATE msg SET base_id = %lld WHERE id = %lld",
			         (long long)id, (long long)id);
			if (exec_sql(qs, sql, errbuf, errlen) != 0)
				goto out;
		}
		if (ids_out != NULL)
			ids_out[i] = id;
	}
	snprintf(dst, sizeof(dst), "%s/%lld", qs->dir, (long long)base_id);
	if (rename(tmp, dst) != 0) {
		seterr(errbuf, errlen, "rename to %s: %s", dst, strerror(errno));
		goto out;
	}
	renamed = true;
	if (fsync_dir(qs->dir) != 0) {
		seterr(errbuf, errlen, "fsync %s: %s", qs->dir, strerror(errno));
		goto out;
	}
	if (exec_sql(qs, "COMMIT", errbuf, errlen) != 0)
		goto out;
	tx = false;
	err = MOX_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		exec_sql(qs, "ROLLBACK", NULL, 0);
	if (err != MOX_OK)
		unlink(renamed ? dst : tmp);
	if (locked)
		pthread_mutex_unlock(&qs->mu);
	free(domains);
	return err;
}

/* WHERE clause for a filter, with ?1..?4 bound by bind_filter. */
static const char filter_sql[] = " (?1 = 0 OR id = ?1)"
                                 " AND (?2 IS NULL OR recipient_domain = lower(?2))"
                                 " AND (?3 IS NULL OR lower(recipient) = lower(?3))"
                                 " AND (?4 IS NULL OR transport = ?4)";

static void
bind_filter(sqlite3_stmt *st, const queue_filter *f)
{
	queue_filter none = {0};
	if (f == NULL)
		f = &none;
	sqlite3_bind_int64(st, 1, f->id);
	if (f->to_domain != NULL && f->to_domain[0] != '\0')
		sqlite3_bind_text(st, 2, f->to_domain, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	if (f->recipient != NULL && f->recipient[0] != '\0')
		sqlite3_bind_text(st, 3, f->recipient, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	if (f->transport != NULL)
		sqlite3_bind_text(st, 4, f->transport, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
}

/* Run a prepared SELECT of COLS and collect the rows. Called locked. */
static mox_err
collect(queue_store *qs, sqlite3_stmt *st, queue_msg **msgs_out, size_t *n_out,
        char *errbuf, size_t errlen)
{
	queue_msg *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			queue_msg *nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				queue_msgs_free(v, n);
				return MOX_ENOMEM;
			}
			v = nv;
		}
		row_read(st, &v[n++]);
	}
	if (rc != SQLITE_DONE) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		queue_msgs_free(v, n);
		return MOX_EIO;
	}
	*msgs_out = v;
	*n_out = n;
	return MOX_OK;
}

mox_err
queue_store_list(queue_store *qs, const queue_filter *f, queue_msg **msgs_out,
                 size_t *n_out, char *errbuf, size_t errlen)
{
	*msgs_out = NULL;
	*n_out = 0;
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "SELECT " COLS " FROM msg WHERE%s ORDER BY next_attempt, id",
	         filter_sql);
	if (sqlite3_prepare_v2(qs->db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	bind_filter(st, f);
	err = collect(qs, st, msgs_out, n_out, errbuf, errlen);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

mox_err
queue_store_due(queue_store *qs, int64_t now_ms, size_t limit, queue_msg **msgs_out,
                size_t *n_out, char *errbuf, size_t errlen)
{
	return queue_store_due_except(qs, now_ms, NULL, 0, limit, msgs_out, n_out, errbuf,
	                              errlen);
}

mox_err
queue_store_due_except(queue_store *qs, int64_t now_ms, const char *const *busy,
                       size_t nbusy, size_t limit, queue_msg **msgs_out, size_t *n_out,
                       char *errbuf, size_t errlen)
{
	*msgs_out = NULL;
	*n_out = 0;
	/* Busy domains as a NOT IN list of parameters: SQLite walks the
	 * msg_next index in order and skips their rows, so one domain with
	 * many rows does not starve the others. */
	if (nbusy > 200)
		nbusy = 200; /* the rest are skipped by the caller */
	mox_buf q;
	mox_buf_init(&q, NULL);
	mox_buf_append_str(&q, "SELECT " COLS " FROM msg WHERE hold = 0 AND next_attempt <= ?");
	if (nbusy > 0) {
		mox_buf_append_str(&q, " AND recipient_domain NOT IN (");
		for (size_t i = 0; i < nbusy; i++)
			mox_buf_append_str(&q, i == 0 ? "?" : ",?");
		mox_buf_append_str(&q, ")");
	}
	mox_buf_append_str(&q, " ORDER BY next_attempt, id LIMIT ?");
	if (mox_buf_append(&q, "", 1) != MOX_OK) {
		mox_buf_free(&q);
		return MOX_ENOMEM;
	}
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(qs->db, (const char *)q.data, -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	int pi = 1;
	sqlite3_bind_int64(st, pi++, now_ms);
	for (size_t i = 0; i < nbusy; i++)
		sqlite3_bind_text(st, pi++, busy[i], -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, pi, (int64_t)limit);
	err = collect(qs, st, msgs_out, n_out, errbuf, errlen);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	mox_buf_free(&q);
	return err;
}

mox_err
queue_store_next_after(queue_store *qs, int64_t now_ms, int64_t *when_out, char *errbuf,
                       size_t errlen)
{
	*when_out = 0;
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(qs->db,
	                       "SELECT MIN(next_attempt) FROM msg"
	                       " WHERE hold = 0 AND next_attempt > ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		err = MOX_ENOTFOUND;
		goto out;
	}
	*when_out = sqlite3_column_int64(st, 0);
	err = MOX_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

mox_err
queue_store_next_due(queue_store *qs, const char *const *busy, size_t nbusy,
                     int64_t *when_out, char *errbuf, size_t errlen)
{
	*when_out = 0;
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(qs->db,
	                       "SELECT recipient_domain, MIN(next_attempt) FROM msg"
	                       " WHERE hold = 0 GROUP BY recipient_domain",
	                       -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	bool found = false;
	int64_t best = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		bool isbusy = false;
		for (size_t i = 0; i < nbusy && d != NULL && !isbusy; i++)
			isbusy = strcmp(busy[i], d) == 0;
		if (isbusy)
			continue;
		int64_t t = sqlite3_column_int64(st, 1);
		if (!found || t < best)
			best = t;
		found = true;
	}
	if (rc != SQLITE_DONE) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	err = found ? MOX_OK : MOX_ENOTFOUND;
	*when_out = best;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

mox_err
queue_store_get(queue_store *qs, int64_t id, queue_msg *m_out, char *errbuf,
                size_t errlen)
{
	memset(m_out, 0, sizeof(*m_out));
	queue_filter f = {.id = id};
	queue_msg *v;
	size_t n;
	if (id <= 0) {
		seterr(errbuf, errlen, "bad id %lld", (long long)id);
		return MOX_EINVAL;
	}
	mox_err err = queue_store_list(qs, &f, &v, &n, errbuf, errlen);
	if (err != MOX_OK)
		return err;
	if (n == 0) {
		seterr(errbuf, errlen, "no message with id %lld in queue",
		       (long long)id);
		free(v);
		return MOX_ENOTFOUND;
	}
	*m_out = v[0];
	free(v);
	return MOX_OK;
}

size_t
queue_store_count(queue_store *qs)
{
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	if (sqlite3_prepare_v2(qs->db, "SELECT COUNT(*) FROM msg", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return n;
}

/* An UPDATE or DELETE over the filter; *n_out the number of rows changed. */
static mox_err
filtered_change(queue_store *qs, const char *head, const queue_filter *f,
                void (*bind_extra)(sqlite3_stmt *, const void *), const void *extra,
                size_t *n_out, char *errbuf, size_t errlen)
{
	char sql[1024];
	snprintf(sql, sizeof(sql), "%s WHERE%s", head, filter_sql);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(qs->db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	bind_filter(st, f);
	if (bind_extra != NULL)
		bind_extra(st, extra);
	if (sqlite3_step(st) != SQLITE_DONE) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	if (n_out != NULL)
		*n_out = (size_t)sqlite3_changes(qs->db);
	err = MOX_OK;
out:
	sqlite3_finalize(st);
	return err;
}

typedef struct kick_args {
	int64_t now;
	const char *transport;
} kick_args;

static void
bind_kick(sqlite3_stmt *st, const void *arg)
{
	const kick_args *k = arg;
	sqlite3_bind_int64(st, 5, k->now);
	if (k->transport != NULL)
		sqlite3_bind_text(st, 6, k->transport, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
}

mox_err
queue_store_kick(queue_store *qs, const queue_filter *f, const char *transport,
                 int64_t now_ms, size_t *n_out, char *errbuf, size_t errlen)
{
	kick_args k = {now_ms, transport};
	pthread_mutex_lock(&qs->mu);
	mox_err err = filtered_change(qs,
	                              "UPDATE msg SET next_attempt = ?5, hold = 0,"
	                              " transport = coalesce(?6, transport)",
	                              f, bind_kick, &k, n_out, errbuf, errlen);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

static void
bind_hold(sqlite3_stmt *st, const void *arg)
{
	sqlite3_bind_int(st, 5, *(const bool *)arg);
}

mox_err
queue_store_hold(queue_store *qs, const queue_filter *f, bool hold, size_t *n_out,
                 char *errbuf, size_t errlen)
{
	pthread_mutex_lock(&qs->mu);
	mox_err err = filtered_change(qs, "UPDATE msg SET hold = ?5", f, bind_hold,
	                              &hold, n_out, errbuf, errlen);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

/* After rows are removed and committed: unlink the files of base ids in
 * bases[0..n) that no row uses any more. Called locked. */
static void
unlink_unused(queue_store *qs, const int64_t *bases, size_t n)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(qs->db, "SELECT 1 FROM msg WHERE base_id = ? LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		return;
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, bases[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			continue;
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/%lld", qs->dir, (long long)bases[i]);
		if (unlink(path) == 0)
			any = true;
	}
	sqlite3_finalize(st);
	/* Not strictly needed for safety (an orphan is removed at open), but
	 * keeps a later crash from resurrecting many files. */
	if (any)
		fsync_dir(qs->dir);
}

mox_err
queue_store_drop(queue_store *qs, const queue_filter *f, size_t *n_out, char *errbuf,
                 size_t errlen)
{
	if (n_out != NULL)
		*n_out = 0;
	pthread_mutex_lock(&qs->mu);
	int64_t *bases = NULL;
	size_t nb = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	bool tx = false;
	if (exec_sql(qs, "BEGIN IMMEDIATE", errbuf, errlen) != 0)
		goto out;
	tx = true;
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT DISTINCT base_id FROM msg WHERE%s",
	         filter_sql);
	if (sqlite3_prepare_v2(qs->db, sql, -1, &st, NULL) != SQLITE_OK) {
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
		goto out;
	}
	bind_filter(st, f);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (nb == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			int64_t *nbases = realloc(bases, cap * sizeof(*bases));
			if (nbases == NULL) {
				err = MOX_ENOMEM;
				goto out;
			}
			bases = nbases;
		}
		bases[nb++] = sqlite3_column_int64(st, 0);
	}
	if (filtered_change(qs, "DELETE FROM msg", f, NULL, NULL, n_out, errbuf,
	                    errlen) != MOX_OK)
		goto out;
	if (exec_sql(qs, "COMMIT", errbuf, errlen) != 0)
		goto out;
	tx = false;
	unlink_unused(qs, bases, nb);
	err = MOX_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		exec_sql(qs, "ROLLBACK", NULL, 0);
	pthread_mutex_unlock(&qs->mu);
	free(bases);
	return err;
}

mox_err
queue_store_remove(queue_store *qs, int64_t id, char *errbuf, size_t errlen)
{
	queue_msg m;
	mox_err err = queue_store_get(qs, id, &m, errbuf, errlen);
	if (err != MOX_OK)
		return err;
	queue_filter f = {.id = id};
	err = queue_store_drop(qs, &f, NULL, errbuf, errlen);
	queue_msg_clear(&m);
	return err;
}

mox_err
queue_store_attempt_begin(queue_store *qs, queue_msg *m, int64_t now_ms,
                          int64_t backoff_ms, char *errbuf, size_t errlen)
{
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(
	        qs->db,
	        "UPDATE msg SET attempts = attempts + 1, last_attempt = ?,"
	        " next_attempt = ? WHERE id = ?",
	        -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, now_ms + backoff_ms);
	sqlite3_bind_int64(st, 3, m->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	if (sqlite3_changes(qs->db) != 1) {
		seterr(errbuf, errlen, "message %lld no longer in queue",
		       (long long)m->id);
		err = MOX_ENOTFOUND;
		goto out;
	}
	m->attempts++;
	m->last_attempt = now_ms;
	m->next_attempt = now_ms + backoff_ms;
	err = MOX_OK;
out:
	if (err == MOX_EIO)
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

mox_err
queue_store_attempt_fail(queue_store *qs, const queue_msg *m, char *errbuf,
                         size_t errlen)
{
	pthread_mutex_lock(&qs->mu);
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_EIO;
	if (sqlite3_prepare_v2(qs->db,
	                       "UPDATE msg SET last_error = ?, dialed_ips = ?,"
	                       " delay_dsn_sent = ? WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	bind_text(st, 1, m->last_error);
	bind_text(st, 2, m->dialed_ips);
	sqlite3_bind_int(st, 3, m->delay_dsn_sent);
	sqlite3_bind_int64(st, 4, m->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	err = MOX_OK;
out:
	if (err != MOX_OK)
		seterr(errbuf, errlen, "queue db: %s", sqlite3_errmsg(qs->db));
	sqlite3_finalize(st);
	pthread_mutex_unlock(&qs->mu);
	return err;
}

mox_err
queue_store_read_message(queue_store *qs, const queue_msg *m, uint8_t **data_out,
                         size_t *len_out, char *errbuf, size_t errlen)
{
	*data_out = NULL;
	*len_out = 0;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%lld", qs->dir, (long long)m->base_id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(errbuf, errlen, "open %s: %s", path, strerror(errno));
		return MOX_EIO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		seterr(errbuf, errlen, "stat %s: %s", path, strerror(errno));
		close(fd);
		return MOX_EIO;
	}
	size_t flen = (size_t)sb.st_size, total = m->prefix_len + flen;
	uint8_t *buf = malloc(total + 1);
	if (buf == NULL) {
		close(fd);
		return MOX_ENOMEM;
	}
	if (m->prefix_len > 0)
		memcpy(buf, m->prefix, m->prefix_len);
	size_t got = 0;
	while (got < flen) {
		ssize_t r = read(fd, buf + m->prefix_len + got, flen - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(errbuf, errlen, "read %s: %s", path,
			       r == 0 ? "short file" : strerror(errno));
			free(buf);
			close(fd);
			return MOX_EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[total] = '\0';
	*data_out = buf;
	*len_out = total;
	return MOX_OK;
}
