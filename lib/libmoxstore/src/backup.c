/* Backups (mox backup): a consistent copy of an account.
 *
 * How this works: while the account's write lock is held (deliveries and
 * other writes wait; reads go on), SQLite's online backup API copies the
 * database in one step, so the copy is one committed state. The copy then
 * says which message files belong to it; each is hard linked into the
 * backup (files are written once and never changed, so a link is a
 * copy), or copied where a link is not possible (another file system).
 * Files of messages removed after our snapshot cannot disappear before we
 * link them, because removals happen under the same write lock. Then
 * everything is fsynced and the lock released.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const mox_store_backup_opts *o, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(const mox_store_backup_opts *o, int level, const char *fmt, ...)
{
	if (o->report == NULL)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->report(o->arg, level, msg);
}

static mox_err
copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	mox_err err = in >= 0 && out >= 0 ? MOX_OK : MOX_EIO;
	char buf[65536];
	while (err == MOX_OK) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? MOX_EIO : MOX_OK;
			break;
		}
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
	return err;
}

static mox_err
sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return MOX_EIO;
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MOX_OK : MOX_EIO;
}

mox_err
mox_store_backup_account(mox_store *st, const char *dest,
                         const mox_store_backup_opts *opts, size_t *files_out)
{
	mox_store_backup_opts o = {0};
	if (files_out != NULL)
		*files_out = 0;
	if (st == NULL || dest == NULL)
		return MOX_EINVAL;
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	char path[MOX__STORE_PATH_MAX], src[MOX__STORE_PATH_MAX];
	if (strlen(dest) > MOX__STORE_PATH_MAX - 64)
		return MOX_ELIMIT;
	if (mkdir(dest, 0770) != 0) {
		report(&o, 2, "creating %s: %s", dest, strerror(errno));
		return errno == EEXIST ? MOX_EEXIST : MOX_EIO;
	}
	snprintf(path, sizeof(path), "%s/msg", dest);
	if (mkdir(path, 0770) != 0) {
		report(&o, 2, "creating %s: %s", path, strerror(errno));
		return MOX_EIO;
	}

	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t files = 0;
	mox_err err = MOX_OK;
	char(*dirs)[32] = NULL;
	size_t ndirs = 0, capdirs = 0;
	pthread_mutex_lock(&st->wlock);

	snprintf(path, sizeof(path), "%s/index.db", dest);
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                         NULL);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b =
		    sqlite3_backup_init(db, "main", st->writer->db, "main");
		if (b == NULL) {
			rc = sqlite3_errcode(db);
		} else {
			rc = sqlite3_backup_step(b, -1);
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
			int rc2 = sqlite3_backup_finish(b);
			if (rc == SQLITE_OK)
				rc = rc2;
		}
	}
	if (rc != SQLITE_OK) {
		report(&o, 2, "copying database: %s",
		       db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		err = rc == SQLITE_NOMEM ? MOX_ENOMEM : MOX_EIO;
		goto out;
	}
	/* The copy, not the live database, says which files to take. */
	rc = sqlite3_prepare_v2(db, "SELECT id FROM message ORDER BY id", -1, &s, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			break;
		int64_t id = sqlite3_column_int64(s, 0);
		char rel[32];
		mox_store_message_path(id, rel);
		char *sl = strchr(rel, '/');
		*sl = '\0';
		if (ndirs == 0 || strcmp(dirs[ndirs - 1], rel) != 0) {
			if (ndirs == capdirs) {
				capdirs = capdirs ? capdirs * 2 : 16;
				void *n = mox_mem_reallocarray(st->alloc, dirs, capdirs,
				                               sizeof(*dirs));
				if (n == NULL) {
					err = MOX_ENOMEM;
					break;
				}
				dirs = n;
			}
			bool known = false;
			for (size_t i = 0; i < ndirs && !known; i++)
				known = strcmp(dirs[i], rel) == 0;
			if (!known) {
				memcpy(dirs[ndirs++], rel, sizeof(rel));
				snprintf(path, sizeof(path), "%s/msg/%s", dest, rel);
				if (mkdir(path, 0770) != 0 && errno != EEXIST) {
					report(&o, 2, "creating %s: %s", path,
					       strerror(errno));
					err = MOX_EIO;
					break;
				}
			}
		}
		*sl = '/';
		snprintf(path, sizeof(path), "%s/msg/%s", dest, rel);
		mox__store_path(st, src, sizeof(src), "msg/%s", rel);
		if (link(src, path) != 0) {
			if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
				report(&o, 2, "linking %s to %s: %s", src, path,
				       strerror(errno));
				err = MOX_EIO;
				break;
			}
			if (copy_file(src, path) != MOX_OK) {
				report(&o, 2, "copying %s to %s: %s", src, path,
				       strerror(errno));
				err = MOX_EIO;
				break;
			}
		}
		files++;
		if (files % 10000 == 0)
			report(&o, 0, "%s: %zu message files", st->name, files);
	}
	if (err == MOX_OK && rc != SQLITE_DONE) {
		report(&o, 2, "reading message list: %s", sqlite3_errmsg(db));
		err = MOX_EIO;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_close(db) != SQLITE_OK)
		err = err == MOX_OK ? MOX_EIO : err;
	db = NULL;
	/* Make it all durable: the links' directories, then up. */
	for (size_t i = 0; i < ndirs && err == MOX_OK; i++) {
		snprintf(path, sizeof(path), "%s/msg/%s", dest, dirs[i]);
		err = mox__store_sync_dir(path);
	}
	snprintf(path, sizeof(path), "%s/index.db", dest);
	if (err == MOX_OK)
		err = sync_file(path);
	snprintf(path, sizeof(path), "%s/msg", dest);
	if (err == MOX_OK)
		err = mox__store_sync_dir(path);
	if (err == MOX_OK)
		err = mox__store_sync_dir(dest);
	if (err == MOX_OK)
		report(&o, 0, "backed up account %s: %zu message files", st->name,
		       files);
out:
	pthread_mutex_unlock(&st->wlock);
	sqlite3_finalize(s);
	sqlite3_close(db);
	mox_mem_free(st->alloc, dirs);
	if (files_out != NULL)
		*files_out = files;
	return err;
}

mox_err
mox_store_backup(const char *data_dir, const char *dest_dir,
                 const mox_store_backup_opts *opts)
{
	mox_store_backup_opts o = {0};
	if (data_dir == NULL || dest_dir == NULL)
		return MOX_EINVAL;
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	o.size = sizeof(o);
	char accounts[MOX__STORE_PATH_MAX], dst[MOX__STORE_PATH_MAX];
	if (strlen(data_dir) > MOX__STORE_PATH_MAX - 300 ||
	    strlen(dest_dir) > MOX__STORE_PATH_MAX - 300)
		return MOX_ELIMIT;
	snprintf(accounts, sizeof(accounts), "%s/accounts", data_dir);
	DIR *d = opendir(accounts);
	if (d == NULL) {
		report(&o, 2, "%s: %s", accounts, strerror(errno));
		return errno == ENOENT ? MOX_ENOTFOUND : MOX_EIO;
	}
	if (mkdir(dest_dir, 0770) != 0 && errno != EEXIST) {
		closedir(d);
		report(&o, 2, "creating %s: %s", dest_dir, strerror(errno));
		return MOX_EIO;
	}
	snprintf(dst, sizeof(dst), "%s/accounts", dest_dir);
	if (mkdir(dst, 0770) != 0) {
		closedir(d);
		report(&o, 2, "creating %s: %s", dst, strerror(errno));
		return errno == EEXIST ? MOX_EEXIST : MOX_EIO;
	}
	mox_err result = MOX_OK;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char src[MOX__STORE_PATH_MAX];
		snprintf(src, sizeof(src), "%s/%s", accounts, e->d_name);
		struct stat sb;
		if (stat(src, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		mox_store *st = NULL;
		mox_errinfo info;
		mox_err err = mox_store_open(&st, src, NULL, &info);
		if (err != MOX_OK) {
			report(&o, 2, "account %s: %s", e->d_name, info.msg);
			result = err;
			continue;
		}
		snprintf(dst, sizeof(dst), "%s/accounts/%s", dest_dir, e->d_name);
		err = mox_store_backup_account(st, dst, &o, NULL);
		mox_store_close(st);
		if (err != MOX_OK)
			result = err;
	}
	closedir(d);
	snprintf(dst, sizeof(dst), "%s/accounts", dest_dir);
	if (result == MOX_OK)
		result = mox__store_sync_dir(dst);
	if (result == MOX_OK)
		result = mox__store_sync_dir(dest_dir);
	return result;
}
