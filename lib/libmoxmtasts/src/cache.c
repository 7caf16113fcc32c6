/* The MTA-STS policy cache in SQLite, as mox's mtastsdb keeps it.
 *
 * How this works: one row per policy domain (ASCII, lower case) with the
 * policy text as fetched, the record id it was fetched for, and times:
 * valid_end (fetch time + max_age, capped at MOX_MTASTS_MAX_AGE_MAX),
 * last_update (fetch or refresh), last_use (read at delivery), inserted.
 * A failed fetch is stored as a back-off row (no text, mode none) that is
 * valid for MOX_MTASTS_BACKOFF_SECONDS (RFC 8461 section 3.3), so a broken
 * policy host is not hammered. Rows past valid_end are ignored as if
 * absent (RFC 8461 section 5.1: a policy is used until max_age passes).
 *
 * mox_mtasts_cache_get:
 *   1. a valid back-off row: no policy, report "back-off";
 *   2. a valid policy row: look up the record; same id: use the policy
 *      (fresh); new id: fetch the new policy, store and use it, or keep the
 *      cached one (stale) when the fetch fails; DNS trouble: keep the
 *      cached one (stale);
 *   3. nothing valid: look up and fetch now; store the policy (also mode
 *      none, so the next delivery need not fetch), or a back-off for a
 *      failed fetch; a missing record stores nothing.
 *
 * Concurrency: the database connection is used under the handle's mutex;
 * DNS lookups and HTTPS fetches run without it, so many deliveries can
 * look up policies at once. Two threads may fetch the same new policy at
 * once; the later store wins, which is harmless.
 *
 * The SQLite library allocates with its own allocator (process-wide, and
 * left alone here: no global state); the handle's allocator is used for
 * everything else. */
#include "mtasts_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 1

struct mox_mtasts_cache {
	const mox_allocator *alloc;
	sqlite3 *db;
	pthread_mutex_t mu;
	const mox_resolver *resolver;
	const mox_mtasts_fetcher *fetcher;
	mox_mtasts_fetch_fn fetch_fn;
	void *fetch_arg;
	int64_t (*now)(void *arg);
	void *now_arg;
};

/* A row as read. Strings owned (cache allocator). */
typedef struct row {
	bool found;
	bool backoff;
	int64_t valid_end, last_update;
	uint64_t max_age;
	int mode;
	char *record_id;
	char *text;
} row;

static void
row_clear(const mox_allocator *a, row *r)
{
	mox_mem_free(a, r->record_id);
	mox_mem_free(a, r->text);
	memset(r, 0, sizeof(*r));
}

static int64_t
now_of(const mox_mtasts_cache *c)
{
	return c->now != NULL ? c->now(c->now_arg) : (int64_t)time(NULL);
}

static mox_err
dberr(mox_mtasts_cache *c, mox_errinfo *info, const char *what)
{
	int code = sqlite3_errcode(c->db);
	return mox_errinfo_set(info, code == SQLITE_NOMEM ? MOX_ENOMEM : MOX_EIO, 0,
	                       "mtasts cache: %s: %s", what, sqlite3_errmsg(c->db));
}

static mox_err
exec(mox_mtasts_cache *c, const char *sql, mox_errinfo *info)
{
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return dberr(c, info, sql);
	return MOX_OK;
}

void
mox_mtasts_cache_free(mox_mtasts_cache *c)
{
	if (c == NULL)
		return;
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	mox_mem_free(c->alloc, c);
}

mox_err
mox_mtasts_cache_new(mox_mtasts_cache **out, const mox_mtasts_cache_opts *opts,
                     mox_errinfo *info)
{
	if (out == NULL)
		return MOX_EINVAL;
	*out = NULL;
	if (opts == NULL || opts->size < sizeof(size_t))
		return mox_errinfo_set(info, MOX_EINVAL, 0, "opts->size not set");
	mox_mtasts_cache_opts o = {0};
	memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	if (o.path == NULL || o.resolver == NULL ||
	    (o.fetcher == NULL && o.fetch_fn == NULL))
		return mox_errinfo_set(
		    info, MOX_EINVAL, 0,
		    "path, resolver and a fetcher or fetch_fn are required");
	mox_mtasts_cache *c = mox_mem_calloc(o.alloc, 1, sizeof(*c));
	if (c == NULL)
		return MOX_ENOMEM;
	c->alloc = o.alloc;
	c->resolver = o.resolver;
	c->fetcher = o.fetcher;
	c->fetch_fn = o.fetch_fn;
	c->fetch_arg = o.fetch_arg;
	c->now = o.now;
	c->now_arg = o.now_arg;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		mox_mem_free(c->alloc, c);
		return MOX_ENOMEM;
	}
	mox_err err = MOX_OK;
	int rc = sqlite3_open_v2(
	    o.path, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = mox_errinfo_set(info, rc == SQLITE_NOMEM ? MOX_ENOMEM : MOX_EIO,
		                      0, "cannot open mtasts cache %s: %s", o.path,
		                      c->db != NULL ? sqlite3_errmsg(c->db)
		                                    : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(c->db, 5000);
	/* WAL: readers do not wait for the writer (DESIGN.md: SQLite in WAL
	 * mode). An in-memory database answers "memory", which is fine. */
	if ((err = exec(c, "PRAGMA journal_mode=WAL", info)) != MOX_OK)
		goto out;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		err = dberr(c, info, "reading schema version");
		goto out;
	}
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (version < 0) {
		err = dberr(c, info, "reading schema version");
		goto out;
	}
	if (version > SCHEMA_VERSION) {
		err = mox_errinfo_set(
		    info, MOX_EIO, 0,
		    "mtasts cache %s has schema version %d, newer than %d", o.path,
		    version, SCHEMA_VERSION);
		goto out;
	}
	if (version == 0)
		err = exec(c,
		           "BEGIN;"
		           "CREATE TABLE IF NOT EXISTS mtasts_policy ("
		           " domain TEXT PRIMARY KEY NOT NULL,"
		           " inserted INTEGER NOT NULL,"
		           " valid_end INTEGER NOT NULL,"
		           " last_update INTEGER NOT NULL,"
		           " last_use INTEGER NOT NULL,"
		           " backoff INTEGER NOT NULL,"
		           " record_id TEXT NOT NULL,"
		           " mode INTEGER NOT NULL,"
		           " max_age INTEGER NOT NULL,"
		           " policy_text TEXT);"
		           "CREATE INDEX IF NOT EXISTS mtasts_policy_last_use"
		           " ON mtasts_policy(last_use);"
		           "CREATE INDEX IF NOT EXISTS mtasts_policy_last_update"
		           " ON mtasts_policy(last_update);"
		           "PRAGMA user_version=1;"
		           "COMMIT;",
		           info);
out:
	if (err != MOX_OK) {
		if (c->db != NULL)
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		mox_mtasts_cache_free(c);
		return err;
	}
	*out = c;
	return MOX_OK;
}

static mox_err
col_text(const mox_allocator *a, sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	*out = NULL;
	if (t == NULL)
		return sqlite3_column_type(st, col) == SQLITE_NULL ? MOX_OK
		                                                   : MOX_ENOMEM;
	*out =
	    mox_mem_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
	return *out != NULL ? MOX_OK : MOX_ENOMEM;
}

/* Read the valid row for domain and mark it used. Caller holds the lock. */
static mox_err
db_get(mox_mtasts_cache *c, const char *domain, int64_t now, row *r, mox_errinfo *info)
{
	memset(r, 0, sizeof(*r));
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_OK;
	if (sqlite3_prepare_v2(
	        c->db,
	        "SELECT backoff, valid_end, last_update, max_age, mode, record_id,"
	        " policy_text FROM mtasts_policy WHERE domain = ? AND valid_end > ?",
	        -1, &st, NULL) != SQLITE_OK)
		return dberr(c, info, "preparing lookup");
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->found = true;
		r->backoff = sqlite3_column_int(st, 0) != 0;
		r->valid_end = sqlite3_column_int64(st, 1);
		r->last_update = sqlite3_column_int64(st, 2);
		int64_t ma = sqlite3_column_int64(st, 3);
		r->max_age = ma > 0 ? (uint64_t)ma : 0;
		r->mode = sqlite3_column_int(st, 4);
		if ((err = col_text(c->alloc, st, 5, &r->record_id)) == MOX_OK)
			err = col_text(c->alloc, st, 6, &r->text);
	} else if (rc != SQLITE_DONE)
		err = dberr(c, info, "reading policy");
	sqlite3_finalize(st);
	if (err != MOX_OK || !r->found)
		return err;
	if (sqlite3_prepare_v2(c->db,
	                       "UPDATE mtasts_policy SET last_use = ? WHERE domain = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return dberr(c, info, "preparing use update");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = dberr(c, info, "marking policy used");
	sqlite3_finalize(st);
	return err;
}

static int64_t
lifetime(uint64_t max_age)
{
	return (int64_t)(max_age > MOX_MTASTS_MAX_AGE_MAX ? MOX_MTASTS_MAX_AGE_MAX
	                                                  : max_age);
}

/* Store a policy (text and parsed policy) or, with policy NULL, a
 * back-off. Caller holds the lock. */
static mox_err
db_upsert(mox_mtasts_cache *c, const char *domain, const char *record_id,
          const mox_mtasts_policy *policy, const char *text, int64_t now,
          mox_errinfo *info)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
	        c->db,
	        "INSERT INTO mtasts_policy (domain, inserted, valid_end, last_update, "
	        "last_use,"
	        " backoff, record_id, mode, max_age, policy_text)"
	        " VALUES (?1, ?2, ?3, ?2, ?2, ?4, ?5, ?6, ?7, ?8)"
	        " ON CONFLICT(domain) DO UPDATE SET valid_end = ?3, last_update = ?2,"
	        " last_use = ?2, backoff = ?4, record_id = ?5, mode = ?6, max_age = ?7,"
	        " policy_text = ?8",
	        -1, &st, NULL) != SQLITE_OK)
		return dberr(c, info, "preparing store");
	uint64_t max_age =
	    policy != NULL ? policy->max_age : MOX_MTASTS_BACKOFF_SECONDS;
	sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now + lifetime(max_age));
	sqlite3_bind_int(st, 4, policy == NULL);
	sqlite3_bind_text(st, 5, record_id != NULL ? record_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6,
	                 policy != NULL ? (int)policy->mode : MOX_MTASTS_MODE_NONE);
	sqlite3_bind_int64(st, 7, (int64_t)lifetime(max_age));
	if (policy != NULL && text != NULL)
		sqlite3_bind_text(st, 8, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	mox_err err = MOX_OK;
	if (sqlite3_step(st) != SQLITE_DONE)
		err = dberr(c, info, "storing policy");
	sqlite3_finalize(st);
	return err;
}

static mox_err
do_fetch(mox_mtasts_cache *c, const char *domain, mox_mtasts_fetch_result *fr)
{
	/* The result is only read and then cleared with its own allocator;
	 * what the answer keeps is copied with the cache's. */
	if (c->fetch_fn != NULL)
		return c->fetch_fn(c->fetch_arg, domain, fr);
	return mox_mtasts_fetch(c->fetcher, domain, fr);
}

void
mox_mtasts_cache_result_clear(mox_mtasts_cache_result *r)
{
	if (r == NULL)
		return;
	mox_mtasts_policy_free(r->policy);
	mox_mem_free(r->alloc, r->policy_text);
	mox_mem_free(r->alloc, r->record_id);
	memset(r, 0, sizeof(*r));
}

/* failure-reason-code values as mox writes them (its error texts with
 * dashes for spaces). */
static const char *
lookup_reason(mox_mtasts_lookup_status s)
{
	switch (s) {
	case MOX_MTASTS_LOOKUP_NONE:
		return "no-mta-sts-dns-txt-record";
	case MOX_MTASTS_LOOKUP_MULTIPLE:
		return "multiple-mta-sts-records";
	case MOX_MTASTS_LOOKUP_SYNTAX:
		return "record-syntax-error";
	case MOX_MTASTS_LOOKUP_TEMPERROR:
		return "dns-lookup";
	case MOX_MTASTS_LOOKUP_FOUND:
		break;
	}
	return "";
}

static void
fetch_report(mox_mtasts_report_info *ri, const mox_mtasts_fetch_result *fr,
             bool fallback)
{
	ri->policy_type = "sts";
	ri->result_type = mox_mtasts_problem_result_type(fr->problem);
	const char *reason;
	switch (fr->status) {
	case MOX_MTASTS_FETCH_NOPOLICY:
		reason = "no-policy-served";
		break;
	case MOX_MTASTS_FETCH_SYNTAX:
		reason = "policy-syntax-error";
		break;
	default:
		reason = fr->problem == MOX_MTASTS_PROBLEM_CERTIFICATE
		             ? "certificate-not-trusted"
		             : "cannot-fetch-policy";
		break;
	}
	snprintf(ri->reason, sizeof(ri->reason), "%s%s", reason,
	         fallback ? "+fallback-to-cached-policy" : "");
}

/* Fill the result from a policy we have (parsed from text). */
static mox_err
use_policy(mox_mtasts_cache_result *res, const mox_mtasts_policy *p, const char *text,
           const char *record_id)
{
	mox_err err = mox_mtasts_policy_copy(p, res->alloc, &res->policy);
	if (err != MOX_OK)
		return err;
	if ((text != NULL &&
	     (res->policy_text = mox_mem_strdup(res->alloc, text)) == NULL) ||
	    (record_id != NULL &&
	     (res->record_id = mox_mem_strdup(res->alloc, record_id)) == NULL))
		return MOX_ENOMEM;
	res->status = p->mode == MOX_MTASTS_MODE_NONE ? MOX_MTASTS_CACHE_NONE
	                                              : MOX_MTASTS_CACHE_POLICY;
	if (res->report.policy_type == NULL)
		res->report.policy_type =
		    p->mode == MOX_MTASTS_MODE_NONE ? "no-policy-found" : "sts";
	return MOX_OK;
}

/* Nothing valid cached: look up, fetch, store. */
static mox_err
get_new(mox_mtasts_cache *c, const char *domain, mox_mtasts_cache_result *res)
{
	mox_mtasts_lookup_result lr;
	mox_mtasts_fetch_result fr;
	memset(&fr, 0, sizeof(fr));
	mox_errinfo info = {0};
	mox_err err = mox_mtasts_lookup(c->resolver, domain, c->alloc, &lr);
	if (err != MOX_OK)
		return err;
	res->source = MOX_MTASTS_SOURCE_NONE;
	res->status = MOX_MTASTS_CACHE_NONE;
	if (lr.status != MOX_MTASTS_LOOKUP_FOUND) {
		snprintf(res->why, sizeof(res->why), "%s", lr.why);
		if (lr.status == MOX_MTASTS_LOOKUP_NONE) {
			res->report.policy_type = "no-policy-found";
			res->fresh = true;
		} else {
			/* RFC 8461 section 3.1: anything but one valid
			 * record is as no MTA-STS; DNS failures are to be
			 * tried again. */
			res->report.policy_type = "sts";
			res->report.result_type = "sts-policy-fetch-error";
			snprintf(res->report.reason, sizeof(res->report.reason), "%s",
			         lookup_reason(lr.status));
			if (lr.status == MOX_MTASTS_LOOKUP_TEMPERROR)
				res->status = MOX_MTASTS_CACHE_TEMPERROR;
		}
		goto out;
	}
	if ((err = do_fetch(c, domain, &fr)) != MOX_OK)
		goto out;
	int64_t now = now_of(c);
	if (fr.status != MOX_MTASTS_FETCH_OK) {
		/* RFC 8461 section 3.3: no policy could be had, deliver as
		 * without MTA-STS, and do not try again for a while. */
		snprintf(res->why, sizeof(res->why), "%s", fr.why);
		fetch_report(&res->report, &fr, false);
		res->source = MOX_MTASTS_SOURCE_FETCHED;
		pthread_mutex_lock(&c->mu);
		err = db_upsert(c, domain, lr.record->id, NULL, NULL, now, &info);
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	err = db_upsert(c, domain, lr.record->id, fr.policy, fr.text, now, &info);
	pthread_mutex_unlock(&c->mu);
	if (err != MOX_OK)
		goto out;
	res->source = MOX_MTASTS_SOURCE_FETCHED;
	res->fresh = true;
	err = use_policy(res, fr.policy, fr.text, lr.record->id);
out:
	if (err != MOX_OK && info.msg[0] != '\0')
		snprintf(res->why, sizeof(res->why), "%s", info.msg);
	mox_mtasts_lookup_result_clear(&lr);
	mox_mtasts_fetch_result_clear(&fr);
	return err;
}

mox_err
mox_mtasts_cache_get(mox_mtasts_cache *c, const char *domain,
                     mox_mtasts_cache_result *res)
{
	if (res == NULL)
		return MOX_EINVAL;
	memset(res, 0, sizeof(*res));
	if (c == NULL || domain == NULL)
		return MOX_EINVAL;
	res->alloc = c->alloc;
	char d[MOX_DNS_NAME_MAX + 1];
	if (!mox__mtasts_domain(domain, d, res->why, sizeof(res->why))) {
		res->status = MOX_MTASTS_CACHE_NONE;
		res->source = MOX_MTASTS_SOURCE_NONE;
		res->report.policy_type = "no-policy-found";
		return MOX_OK;
	}
	mox_errinfo info = {0};
	row r;
	pthread_mutex_lock(&c->mu);
	mox_err err = db_get(c, d, now_of(c), &r, &info);
	pthread_mutex_unlock(&c->mu);
	mox_mtasts_policy *cached = NULL;
	mox_mtasts_lookup_result lr;
	mox_mtasts_fetch_result fr;
	memset(&lr, 0, sizeof(lr));
	memset(&fr, 0, sizeof(fr));
	if (err != MOX_OK)
		goto out;
	if (r.found && r.backoff) {
		/* RFC 8461 section 3.3: a recent fetch failed; as if the
		 * domain had no MTA-STS until the back-off ends. */
		res->status = MOX_MTASTS_CACHE_NONE;
		res->source = MOX_MTASTS_SOURCE_BACKOFF;
		res->report.policy_type = "sts";
		res->report.result_type = "sts-policy-fetch-error";
		snprintf(res->report.reason, sizeof(res->report.reason),
		         "back-off-after-recent-fetch-error");
		snprintf(res->why, sizeof(res->why),
		         "policy fetch failed recently, backing off");
		goto out;
	}
	if (r.found && r.text != NULL) {
		mox_errinfo pi = {0};
		err = mox_mtasts_policy_parse(r.text, strlen(r.text), c->alloc, &cached,
		                              &pi);
		if (err == MOX_ENOMEM)
			goto out;
		err = MOX_OK; /* an unreadable row is treated as absent */
	}
	if (cached == NULL) {
		err = get_new(c, d, res);
		goto out;
	}

	/* A cached policy: is it still current? RFC 8461 section 3.1: a
	 * changed id means a new policy. */
	if ((err = mox_mtasts_lookup(c->resolver, d, c->alloc, &lr)) != MOX_OK)
		goto out;
	if (lr.status != MOX_MTASTS_LOOKUP_FOUND) {
		/* RFC 8461 section 5.1: a removed record does not end a
		 * cached policy before its max_age; DNS failures neither. */
		res->source = MOX_MTASTS_SOURCE_STALE;
		res->report.policy_type = "sts";
		res->report.result_type = "sts-policy-fetch-error";
		snprintf(res->report.reason, sizeof(res->report.reason), "%s%s",
		         lookup_reason(lr.status),
		         cached->mode != MOX_MTASTS_MODE_NONE
		             ? "+fallback-to-cached-policy"
		             : "");
		snprintf(res->why, sizeof(res->why), "%s; using cached policy", lr.why);
		err = use_policy(res, cached, r.text, r.record_id);
		goto out;
	}
	if (r.record_id != NULL && strcmp(lr.record->id, r.record_id) == 0) {
		res->source = MOX_MTASTS_SOURCE_CACHED;
		res->fresh = true;
		err = use_policy(res, cached, r.text, r.record_id);
		goto out;
	}
	if ((err = do_fetch(c, d, &fr)) != MOX_OK)
		goto out;
	if (fr.status != MOX_MTASTS_FETCH_OK) {
		res->source = MOX_MTASTS_SOURCE_STALE;
		fetch_report(&res->report, &fr, true);
		snprintf(res->why, sizeof(res->why),
		         "new policy for id %.40s: %.150s; using cached policy",
		         lr.record->id, fr.why);
		err = use_policy(res, cached, r.text, r.record_id);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	err = db_upsert(c, d, lr.record->id, fr.policy, fr.text, now_of(c), &info);
	pthread_mutex_unlock(&c->mu);
	if (err != MOX_OK)
		goto out;
	res->source = MOX_MTASTS_SOURCE_FETCHED;
	res->fresh = true;
	err = use_policy(res, fr.policy, fr.text, lr.record->id);
out:
	if (err != MOX_OK) {
		char why[sizeof(res->why)];
		snprintf(why, sizeof(why), "%s",
		         info.msg[0] != '\0' ? info.msg : res->why);
		mox_mtasts_cache_result_clear(res);
		res->alloc = c->alloc;
		memcpy(res->why, why, sizeof(why));
	}
	mox_mtasts_policy_free(cached);
	mox_mtasts_lookup_result_clear(&lr);
	mox_mtasts_fetch_result_clear(&fr);
	row_clear(c->alloc, &r);
	return err;
}

/* One due entry for refresh. */
typedef struct due {
	char *domain;
	char *record_id;
	int mode;
	bool backoff;
	int64_t last_update;
} due;

static void
dues_free(const mox_allocator *a, due *d, size_t n)
{
	for (size_t i = 0; d != NULL && i < n; i++) {
		mox_mem_free(a, d[i].domain);
		mox_mem_free(a, d[i].record_id);
	}
	mox_mem_free(a, d);
}

/* Refresh one entry, as mox's refreshDomain. */
static mox_err
refresh_one(mox_mtasts_cache *c, const due *d, mox_errinfo *info)
{
	mox_mtasts_lookup_result lr;
	mox_mtasts_fetch_result fr;
	memset(&fr, 0, sizeof(fr));
	mox_err err = mox_mtasts_lookup(c->resolver, d->domain, c->alloc, &lr);
	if (err != MOX_OK)
		return err;
	sqlite3_stmt *st = NULL;
	if (lr.status == MOX_MTASTS_LOOKUP_FOUND && !d->backoff &&
	    strcmp(lr.record->id, d->record_id) == 0) {
		/* Same id: the policy is still the one; extend its life.
		 * Only if no one changed the row meanwhile. */
		pthread_mutex_lock(&c->mu);
		int64_t now = now_of(c);
		if (sqlite3_prepare_v2(c->db,
		                       "UPDATE mtasts_policy SET last_update = ?1,"
		                       " valid_end = ?1 + max_age WHERE domain = ?2 AND"
		                       " last_update = ?3",
		                       -1, &st, NULL) != SQLITE_OK)
			err = dberr(c, info, "preparing refresh");
		else {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_text(st, 2, d->domain, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, d->last_update);
			if (sqlite3_step(st) != SQLITE_DONE)
				err = dberr(c, info, "refreshing policy");
		}
		sqlite3_finalize(st);
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	/* RFC 8461 section 5.1 (as mox): a domain with a none policy that
	 * lost its record is left to expire; otherwise fetch again, also
	 * when DNS fails, so a policy does not expire because of DNS. */
	if (lr.status != MOX_MTASTS_LOOKUP_FOUND && d->mode == MOX_MTASTS_MODE_NONE)
		goto out;
	if ((err = do_fetch(c, d->domain, &fr)) != MOX_OK ||
	    fr.status != MOX_MTASTS_FETCH_OK)
		goto out;
	pthread_mutex_lock(&c->mu);
	err = db_upsert(c, d->domain,
	                lr.status == MOX_MTASTS_LOOKUP_FOUND ? lr.record->id
	                                                     : d->record_id,
	                fr.policy, fr.text, now_of(c), info);
	pthread_mutex_unlock(&c->mu);
out:
	mox_mtasts_lookup_result_clear(&lr);
	mox_mtasts_fetch_result_clear(&fr);
	return err;
}

mox_err
mox_mtasts_cache_refresh(mox_mtasts_cache *c, size_t max, size_t *refreshed_out,
                         size_t *removed_out, mox_errinfo *info)
{
	if (refreshed_out != NULL)
		*refreshed_out = 0;
	if (removed_out != NULL)
		*removed_out = 0;
	if (c == NULL)
		return MOX_EINVAL;
	mox_err err = MOX_OK;
	due *dues = NULL;
	size_t ndues = 0;
	sqlite3_stmt *st = NULL;
	pthread_mutex_lock(&c->mu);
	int64_t now = now_of(c);
	if (sqlite3_prepare_v2(c->db, "DELETE FROM mtasts_policy WHERE last_use < ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		err = dberr(c, info, "preparing removal");
		goto unlock;
	}
	sqlite3_bind_int64(st, 1, now - MOX_MTASTS_CACHE_UNUSED_SECONDS);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = dberr(c, info, "removing unused policies");
		goto unlock;
	}
	if (removed_out != NULL)
		*removed_out = (size_t)sqlite3_changes(c->db);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(
	        c->db,
	        "SELECT domain, record_id, mode, backoff, last_update FROM"
	        " mtasts_policy WHERE last_update < ? ORDER BY last_update LIMIT ?",
	        -1, &st, NULL) != SQLITE_OK) {
		err = dberr(c, info, "preparing refresh query");
		goto unlock;
	}
	sqlite3_bind_int64(st, 1, now - MOX_MTASTS_CACHE_REFRESH_SECONDS);
	sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		due *nd =
		    mox_mem_reallocarray(c->alloc, dues, ndues + 1, sizeof(*dues));
		if (nd == NULL) {
			err = MOX_ENOMEM;
			goto unlock;
		}
		dues = nd;
		due *e = &dues[ndues];
		memset(e, 0, sizeof(*e));
		ndues++;
		if ((err = col_text(c->alloc, st, 0, &e->domain)) != MOX_OK ||
		    (err = col_text(c->alloc, st, 1, &e->record_id)) != MOX_OK)
			goto unlock;
		if (e->domain == NULL || e->record_id == NULL) {
			err = MOX_EIO;
			goto unlock;
		}
		e->mode = sqlite3_column_int(st, 2);
		e->backoff = sqlite3_column_int(st, 3) != 0;
		e->last_update = sqlite3_column_int64(st, 4);
	}
	if (rc != SQLITE_DONE)
		err = dberr(c, info, "querying policies to refresh");
unlock:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; err == MOX_OK && i < ndues; i++) {
		if ((err = refresh_one(c, &dues[i], info)) == MOX_OK &&
		    refreshed_out != NULL)
			(*refreshed_out)++;
	}
	dues_free(c->alloc, dues, ndues);
	return err;
}

mox_err
mox_mtasts_cache_count(mox_mtasts_cache *c, size_t *count_out, mox_errinfo *info)
{
	if (count_out == NULL)
		return MOX_EINVAL;
	*count_out = 0;
	if (c == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *st = NULL;
	mox_err err = MOX_OK;
	pthread_mutex_lock(&c->mu);
	if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM mtasts_policy", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		err = dberr(c, info, "counting policies");
	else
		*count_out = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&c->mu);
	return err;
}
