/* verifydata: check a data directory, typically a backup (as mox's
 * "mox verifydata").
 *
 * Per account under <data>/accounts/: the database passes SQLite's
 * integrity and foreign key checks and has a schema version we know; each
 * mailbox's UIDVALIDITY is below the account's next one; each message row
 * has a UID below its mailbox's UIDNEXT, a modseq not below its createseq,
 * known flag bits, a part tree that decodes, and its file in msg/ with the
 * size of the row; tombstones do not collide with live UIDs; the counts
 * kept in mailbox rows and the account's quota totals match the messages.
 * Then every file in msg/ must belong to a row: others ("unknown files")
 * are what a crash leaves between writing a message and committing its
 * row, or between an expunge's commit and its unlink; with fix they are
 * moved to <data>/moved/accounts/<name>/msg/ (as mox does). Files left in
 * tmp/ are reported, and removed with fix.
 */
#define _DEFAULT_SOURCE /* flock, DT_DIR */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reported problems per kind before the rest are only counted. */
#define VERIFY_REPORT_MAX 50

struct vctx {
	const mox_store_verify_opts *o;
	mox_store_verify_result *r;
	const char *data;
	const char *acct;
	char accdir[MOX__STORE_PATH_MAX];
	size_t reported;
};

static void report(struct vctx *v, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct vctx *v, int level, const char *fmt, ...)
{
	if (v->o->report == NULL)
		return;
	if (level > 0 && v->reported++ >= VERIFY_REPORT_MAX) {
		if (v->reported == VERIFY_REPORT_MAX + 1)
			v->o->report(v->o->arg, level, "more problems, not reported");
		return;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->o->report(v->o->arg, level, msg);
}

static void problem(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct vctx *v, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->r->errors++;
	report(v, 2, "error: account %s: %s", v->acct, msg);
}

struct vmb {
	int64_t id;
	uint32_t uidvalidity, uidnext;
	mox_store_counts kept, counted;
	char *name;
};

static struct vmb *
find_mb(struct vmb *mbs, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (mbs[mid].id == id)
			return &mbs[mid];
		if (mbs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool
id_known(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
counts_eq(const mox_store_counts *a, const mox_store_counts *b)
{
	return a->total == b->total && a->deleted == b->deleted &&
	       a->unread == b->unread && a->unseen == b->unseen && a->size == b->size;
}

static mox_err
mkdirs_for(const char *path)
{
	char buf[MOX__STORE_PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0770) != 0 && errno != EEXIST)
			return MOX_EIO;
		*p = '/';
	}
	return MOX_OK;
}

/* Files in msg/ without a row. */
static void
check_files(struct vctx *v, const int64_t *ids, size_t nids)
{
	char msgdir[MOX__STORE_PATH_MAX], sub[MOX__STORE_PATH_MAX];
	snprintf(msgdir, sizeof(msgdir), "%s/msg", v->accdir);
	DIR *d = opendir(msgdir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", msgdir, e->d_name);
		struct stat sb;
		if (lstat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			report(v, 1,
			       "warning: %s: unrecognized file in message directory",
			       sub);
			continue;
		}
		DIR *sd = opendir(sub);
		if (sd == NULL) {
			problem(v, "reading %s: %s", sub, strerror(errno));
			continue;
		}
		struct dirent *f;
		while ((f = readdir(sd)) != NULL) {
			if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
				continue;
			char *end;
			errno = 0;
			long long id = strtoll(f->d_name, &end, 10);
			char want[32];
			bool numeric =
			    *end == '\0' && errno == 0 && id > 0 && f->d_name[0] != '0';
			if (numeric) {
				mox_store_message_path(id, want);
				numeric =
				    strncmp(want, e->d_name, strlen(e->d_name)) == 0 &&
				    want[strlen(e->d_name)] == '/';
			}
			if (numeric && id_known(ids, nids, id))
				continue;
			char path[MOX__STORE_PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
			v->r->unknown_files++;
			if (!v->o->fix) {
				report(v, 2,
				       "error: %s: file without message in the "
				       "database (use fix"
				       " to move it away)",
				       path);
				continue;
			}
			char dst[MOX__STORE_PATH_MAX];
			snprintf(dst, sizeof(dst), "%s/moved/accounts/%s/msg/%s/%s",
			         v->data, v->acct, e->d_name, f->d_name);
			if (mkdirs_for(dst) == MOX_OK && rename(path, dst) == 0) {
				v->r->fixed++;
				report(v, 1, "moved %s to %s", path, dst);
			} else {
				problem(v, "moving %s to %s: %s", path, dst,
				        strerror(errno));
			}
		}
		closedir(sd);
	}
	closedir(d);
}

static void
check_tmp(struct vctx *v)
{
	char tmp[MOX__STORE_PATH_MAX], path[MOX__STORE_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp", v->accdir);
	DIR *d = opendir(tmp);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		v->r->tmp_files++;
		if (v->o->fix && unlink(path) == 0) {
			v->r->fixed++;
			report(v, 1, "removed staged leftover %s", path);
		} else {
			report(v, 1, "warning: %s: staged file never delivered%s", path,
			       v->o->fix ? "" : " (fix removes it)");
		}
	}
	closedir(d);
}

static int
sql_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

static void
check_db(struct vctx *v, sqlite3 *db, int64_t **ids_out, size_t *nids_out)
{
	sqlite3_stmt *s = NULL;
	struct vmb *mbs = NULL;
	size_t nmbs = 0;
	int64_t *ids = NULL;
	size_t nids = 0, capids = 0;
	*ids_out = NULL;
	*nids_out = 0;

	/* SQLite's own checks. */
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(s, 0);
			if (t != NULL && strcmp(t, "ok") != 0)
				problem(v, "integrity check: %s", t);
		}
	} else {
		problem(v, "integrity check: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			problem(v, "foreign key check: row %lld of %s has no %s",
			        (long long)sqlite3_column_int64(s, 1),
			        (const char *)sqlite3_column_text(s, 0),
			        (const char *)sqlite3_column_text(s, 2));
	}
	sqlite3_finalize(s);
	s = NULL;

	int version;
	bool empty;
	if (mox__store_schema_version(db, &version, &empty) != MOX_OK) {
		problem(v, "reading schema version: %s", sqlite3_errmsg(db));
		return;
	}
	if (empty) {
		problem(v, "database is empty");
		return;
	}
	if (version > MOX_STORE_SCHEMA_VERSION || version < 1) {
		problem(v, "schema version %d unknown (this library has %d)", version,
		        MOX_STORE_SCHEMA_VERSION);
		return;
	}
	if (version < MOX_STORE_SCHEMA_VERSION)
		report(v, 1,
		       "warning: account %s: schema version %d, upgraded on next open",
		       v->acct, version);

	int64_t next_uidvalidity = 0, acc_count = 0, acc_size = 0;
	if (sql_int(db, "SELECT next_uidvalidity FROM account WHERE id = 1",
	            &next_uidvalidity) != SQLITE_OK ||
	    sql_int(db, "SELECT message_count FROM account WHERE id = 1", &acc_count) !=
	        SQLITE_OK ||
	    sql_int(db, "SELECT message_size FROM account WHERE id = 1", &acc_size) !=
	        SQLITE_OK) {
		problem(v, "reading account row: %s", sqlite3_errmsg(db));
		return;
	}

	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, name, uidvalidity, uidnext, n_total, n_deleted,"
	        " n_unread, n_unseen, n_size FROM mailbox ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	size_t capmbs = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (nmbs == capmbs) {
			capmbs = capmbs ? capmbs * 2 : 16;
			void *n = realloc(mbs, capmbs * sizeof(*mbs));
			if (n == NULL)
				goto nomem;
			mbs = n;
		}
		struct vmb *m = &mbs[nmbs];
		memset(m, 0, sizeof(*m));
		m->id = sqlite3_column_int64(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);
		m->name = strdup(name != NULL ? name : "");
		if (m->name == NULL)
			goto nomem;
		nmbs++;
		int64_t uv = sqlite3_column_int64(s, 2),
		        un = sqlite3_column_int64(s, 3);
		m->uidvalidity = (uint32_t)uv;
		m->uidnext = (uint32_t)un;
		m->kept.total = (uint64_t)sqlite3_column_int64(s, 4);
		m->kept.deleted = (uint64_t)sqlite3_column_int64(s, 5);
		m->kept.unread = (uint64_t)sqlite3_column_int64(s, 6);
		m->kept.unseen = (uint64_t)sqlite3_column_int64(s, 7);
		m->kept.size = (uint64_t)sqlite3_column_int64(s, 8);
		if (uv <= 0 || uv >= next_uidvalidity || uv > UINT32_MAX)
			problem(v,
			        "mailbox \"%s\" has uidvalidity %lld, account's next "
			        "is %lld",
			        m->name, (long long)uv, (long long)next_uidvalidity);
		if (un <= 0 || un > UINT32_MAX)
			problem(v, "mailbox \"%s\" has uidnext %lld", m->name,
			        (long long)un);
		char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
		if (mox_store_mailbox_name_check(m->name, norm) != MOX_OK ||
		    strcmp(norm, m->name) != 0)
			problem(v, "mailbox name \"%s\" is not valid", m->name);
	}
	sqlite3_finalize(s);
	s = NULL;

	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, mailbox_id, uid, modseq, createseq, size, flags,"
	        " part FROM message ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	uint64_t count = 0, size = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0),
		        mbid = sqlite3_column_int64(s, 1);
		int64_t uid = sqlite3_column_int64(s, 2),
		        modseq = sqlite3_column_int64(s, 3);
		int64_t createseq = sqlite3_column_int64(s, 4),
		        msize = sqlite3_column_int64(s, 5);
		int64_t flags = sqlite3_column_int64(s, 6);
		v->r->messages++;
		if (nids == capids) {
			capids = capids ? capids * 2 : 1024;
			void *n = realloc(ids, capids * sizeof(*ids));
			if (n == NULL)
				goto nomem;
			ids = n;
		}
		ids[nids++] = id;
		struct vmb *m = find_mb(mbs, nmbs, mbid);
		if (m == NULL) {
			problem(v, "message %lld in unknown mailbox %lld",
			        (long long)id, (long long)mbid);
			continue;
		}
		if (uid <= 0 || uid >= m->uidnext)
			problem(v, "message %lld in \"%s\" has uid %lld, uidnext is %u",
			        (long long)id, m->name, (long long)uid, m->uidnext);
		if (modseq < createseq || createseq <= 0)
			problem(v, "message %lld has modseq %lld, createseq %lld",
			        (long long)id, (long long)modseq, (long long)createseq);
		if (flags < 0 || (flags & ~(int64_t)MOX_STORE_FLAGS_ALL) != 0)
			problem(v, "message %lld has unknown flags %llx", (long long)id,
			        (unsigned long long)flags);
		mox_store_part *part = NULL;
		mox_err perr = mox_store_part_decode(sqlite3_column_blob(s, 7),
		                                     (size_t)sqlite3_column_bytes(s, 7),
		                                     NULL, &part);
		if (perr == MOX_OK && part->end_offset > (uint64_t)msize)
			problem(v,
			        "message %lld: part tree ends at %llu, past size %lld",
			        (long long)id, (unsigned long long)part->end_offset,
			        (long long)msize);
		else if (perr != MOX_OK)
			problem(v, "message %lld: part tree: %s", (long long)id,
			        mox_strerror(perr));
		mox_store_part_free(part);
		mox_store_counts c;
		mox__store_counts_of((unsigned)flags, (uint64_t)msize, &c);
		m->counted.total += c.total;
		m->counted.deleted += c.deleted;
		m->counted.unread += c.unread;
		m->counted.unseen += c.unseen;
		m->counted.size += c.size;
		count++;
		size += (uint64_t)msize;

		char rel[32], path[MOX__STORE_PATH_MAX];
		mox_store_message_path(id, rel);
		snprintf(path, sizeof(path), "%s/msg/%s", v->accdir, rel);
		struct stat sb;
		if (stat(path, &sb) != 0)
			problem(v, "message %lld (uid %lld in \"%s\"): file %s: %s",
			        (long long)id, (long long)uid, m->name, path,
			        strerror(errno));
		else if ((int64_t)sb.st_size != msize)
			problem(
			    v,
			    "message %lld: file %s has %lld bytes, database says %lld",
			    (long long)id, path, (long long)sb.st_size,
			    (long long)msize);
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(s);
	s = NULL;

	/* Tombstones: below uidnext, not a live UID. */
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT e.mailbox_id, e.uid, EXISTS (SELECT 1 FROM message m"
	        " WHERE m.mailbox_id = e.mailbox_id AND m.uid = e.uid)"
	        " FROM expunged e",
	        -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct vmb *m = find_mb(mbs, nmbs, sqlite3_column_int64(s, 0));
		int64_t uid = sqlite3_column_int64(s, 1);
		if (m != NULL && (uid <= 0 || uid >= m->uidnext))
			problem(v, "expunged uid %lld in \"%s\" not below uidnext %u",
			        (long long)uid, m->name, m->uidnext);
		if (sqlite3_column_int(s, 2) != 0)
			problem(v, "uid %lld in \"%s\" is both expunged and present",
			        (long long)uid, m != NULL ? m->name : "?");
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(s);
	s = NULL;

	for (size_t i = 0; i < nmbs; i++) {
		if (!counts_eq(&mbs[i].kept, &mbs[i].counted))
			problem(
			    v,
			    "mailbox \"%s\" counts %llu total, %llu deleted, %llu "
			    "unread,"
			    " %llu unseen, %llu bytes; messages give %llu, %llu, %llu,"
			    " %llu, %llu",
			    mbs[i].name, (unsigned long long)mbs[i].kept.total,
			    (unsigned long long)mbs[i].kept.deleted,
			    (unsigned long long)mbs[i].kept.unread,
			    (unsigned long long)mbs[i].kept.unseen,
			    (unsigned long long)mbs[i].kept.size,
			    (unsigned long long)mbs[i].counted.total,
			    (unsigned long long)mbs[i].counted.deleted,
			    (unsigned long long)mbs[i].counted.unread,
			    (unsigned long long)mbs[i].counted.unseen,
			    (unsigned long long)mbs[i].counted.size);
	}
	if ((uint64_t)acc_count != count || (uint64_t)acc_size != size)
		problem(v,
		        "account totals %lld messages, %lld bytes; messages give %llu, "
		        "%llu",
		        (long long)acc_count, (long long)acc_size,
		        (unsigned long long)count, (unsigned long long)size);
	*ids_out = ids;
	*nids_out = nids;
	ids = NULL;
	goto out;
nomem:
	problem(v, "out of memory");
	goto out;
dberr:
	problem(v, "reading database: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	for (size_t i = 0; i < nmbs; i++)
		free(mbs[i].name);
	free(mbs);
	free(ids);
}

static void
check_account(struct vctx *v)
{
	char path[MOX__STORE_PATH_MAX];
	snprintf(path, sizeof(path), "%s/index.db", v->accdir);
	int lockfd = open(path, O_RDWR | O_CLOEXEC);
	if (lockfd < 0) {
		problem(v, "opening %s: %s", path, strerror(errno));
		return;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		problem(v, "account is in use (%s)", strerror(errno));
		close(lockfd);
		return;
	}
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	int64_t *ids = NULL;
	size_t nids = 0;
	if (rc != SQLITE_OK) {
		problem(v, "opening database: %s",
		        db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	} else {
		sqlite3_busy_timeout(db, MOX__STORE_BUSY_MS);
		sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
		check_db(v, db, &ids, &nids);
	}
	sqlite3_close_v2(db);
	check_files(v, ids, nids);
	check_tmp(v);
	free(ids);

	/* Anything else in the account directory. */
	DIR *d = opendir(v->accdir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		static const char *const known[] = {
		    ".",   "..", "index.db", "index.db-wal", "index.db-shm",
		    "msg", "tmp"};
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
			ok = strcmp(e->d_name, known[i]) == 0;
		if (!ok)
			report(v, 1,
			       "warning: %s/%s: unrecognized file in account directory",
			       v->accdir, e->d_name);
	}
	if (d != NULL)
		closedir(d);
	close(lockfd);
}

mox_err
mox_store_verify(const char *data_dir, const mox_store_verify_opts *opts,
                 mox_store_verify_result *res_out)
{
	mox_store_verify_opts o = {0};
	mox_store_verify_result res = {0};
	if (res_out != NULL)
		memset(res_out, 0, sizeof(*res_out));
	if (data_dir == NULL)
		return MOX_EINVAL;
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	char accounts[MOX__STORE_PATH_MAX];
	if (snprintf(accounts, sizeof(accounts), "%s/accounts", data_dir) >=
	    (int)sizeof(accounts) - 300)
		return MOX_ELIMIT;
	DIR *d = opendir(accounts);
	if (d == NULL)
		return errno == ENOENT ? MOX_ENOTFOUND : MOX_EIO;
	struct vctx v = {.o = &o, .r = &res, .data = data_dir};
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(v.accdir, sizeof(v.accdir), "%s/%s", accounts, e->d_name);
		struct stat sb;
		if (stat(v.accdir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			report(&v, 1,
			       "warning: %s: unrecognized file in accounts directory",
			       v.accdir);
			continue;
		}
		v.acct = e->d_name;
		res.accounts++;
		check_account(&v);
	}
	closedir(d);
	report(&v, 0,
	       "verified %zu accounts, %zu messages: %zu errors, %zu unknown files, "
	       "%zu staged"
	       " leftovers, %zu fixed",
	       res.accounts, res.messages, res.errors, res.unknown_files, res.tmp_files,
	       res.fixed);
	if (res_out != NULL)
		*res_out = res;
	return MOX_OK;
}
