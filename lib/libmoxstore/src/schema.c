/* The database schema and its upgrades.
 *
 * PRAGMA user_version holds the schema version. Each upgrade step runs in
 * its own transaction together with the user_version it reaches, so a
 * crash during an upgrade leaves the previous version intact. Steps only
 * ever add: a database is upgraded forward, never down; one from a newer
 * library is refused.
 *
 * Version 1: account (singleton), mailbox, subscription, message, expunged
 * (UID tombstones for QRESYNC). Version 2: password secrets, and an index
 * for internal-date searches.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

const char *const mox__store_schema[MOX_STORE_SCHEMA_VERSION + 1] = {
    NULL,
    /* 1 */
    "CREATE TABLE account ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " next_uidvalidity INTEGER NOT NULL,"
    " last_modseq INTEGER NOT NULL,"
    " message_count INTEGER NOT NULL DEFAULT 0,"
    " message_size INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE mailbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL,"
    " special_use INTEGER NOT NULL DEFAULT 0,"
    " modseq INTEGER NOT NULL,"
    " n_total INTEGER NOT NULL DEFAULT 0,"
    " n_deleted INTEGER NOT NULL DEFAULT 0,"
    " n_unread INTEGER NOT NULL DEFAULT 0,"
    " n_unseen INTEGER NOT NULL DEFAULT 0,"
    " n_size INTEGER NOT NULL DEFAULT 0,"
    " keywords TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE subscription (name TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE message ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " createseq INTEGER NOT NULL,"
    " received INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " keywords TEXT NOT NULL DEFAULT '',"
    " part BLOB NOT NULL,"
    " UNIQUE (mailbox_id, uid));"
    "CREATE TABLE expunged ("
    " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;",
    /* 2 */
    "CREATE TABLE password ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " bcrypt TEXT NOT NULL,"
    " cram_md5 BLOB NOT NULL,"
    " scram_sha1_salt BLOB NOT NULL,"
    " scram_sha1_iterations INTEGER NOT NULL,"
    " scram_sha1_stored BLOB NOT NULL,"
    " scram_sha1_server BLOB NOT NULL,"
    " scram_sha256_salt BLOB NOT NULL,"
    " scram_sha256_iterations INTEGER NOT NULL,"
    " scram_sha256_stored BLOB NOT NULL,"
    " scram_sha256_server BLOB NOT NULL);"
    "CREATE INDEX message_received ON message (mailbox_id, received);",
};

static int
exec(sqlite3 *db, const char *sql, mox_errinfo *info, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		mox_errinfo_set(info, MOX_EIO, 0, "%s: %s", what,
		                msg != NULL ? msg : sqlite3_errstr(rc));
	}
	sqlite3_free(msg);
	return rc;
}

/* The account row and the initial mailboxes, as mox creates them: Inbox and
 * the special-use mailboxes, all with the same UIDVALIDITY, subscribed. */
static int
init_account(sqlite3 *db, uint32_t uidvalidity, mox_errinfo *info)
{
	static const struct {
		const char *name;
		unsigned use;
	} boxes[] = {
	    {"Inbox", 0},
	    {"Archive", MOX_STORE_USE_ARCHIVE},
	    {"Drafts", MOX_STORE_USE_DRAFTS},
	    {"Junk", MOX_STORE_USE_JUNK},
	    {"Sent", MOX_STORE_USE_SENT},
	    {"Trash", MOX_STORE_USE_TRASH},
	};
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO account (id, next_uidvalidity, last_modseq)"
	                       " VALUES (1, ?, 1)",
	                       -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)uidvalidity + 1);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db,
		    "INSERT INTO mailbox (name, uidvalidity, uidnext,"
		    " special_use, modseq) VALUES (?, ?, 1, ?, 1)",
		    -1, &s, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(boxes) / sizeof(boxes[0]);
	     i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, boxes[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, uidvalidity);
		sqlite3_bind_int(s, 3, (int)boxes[i].use);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db, "INSERT INTO subscription (name) VALUES (?)", -1, &s, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(boxes) / sizeof(boxes[0]);
	     i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, boxes[i].name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		mox_errinfo_set(info, MOX_EIO, 0, "initialising account: %s",
		                sqlite3_errmsg(db));
	return rc;
}

mox_err
mox__store_schema_version(sqlite3 *db, int *version_out, bool *empty_out)
{
	sqlite3_stmt *s = NULL;
	mox_err err = MOX_EIO;
	*version_out = 0;
	*empty_out = true;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	*version_out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &s,
	                       NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	*empty_out = sqlite3_column_int(s, 0) == 0;
	err = MOX_OK;
out:
	sqlite3_finalize(s);
	return err;
}

/* Bring the database from its version up to target (at most
 * MOX_STORE_SCHEMA_VERSION), one transaction per step. A database with no
 * tables at all is new: step 1 also creates the account row and
 * mailboxes. */
mox_err
mox__store_schema_upgrade(sqlite3 *db, int target, uint32_t uidvalidity,
                          mox_errinfo *info)
{
	int version;
	bool empty;
	if (mox__store_schema_version(db, &version, &empty) != MOX_OK)
		return mox_errinfo_set(info, MOX_EIO, 0, "reading schema version: %s",
		                       sqlite3_errmsg(db));
	if (version > MOX_STORE_SCHEMA_VERSION)
		return mox_errinfo_set(info, MOX_EUNSUPPORTED, 0,
		                       "database schema version %d is newer than %d",
		                       version, MOX_STORE_SCHEMA_VERSION);
	if (version == 0 && !empty)
		return mox_errinfo_set(info, MOX_EUNSUPPORTED, 0,
		                       "database has tables but no schema version");
	for (int v = version + 1; v <= target; v++) {
		char sql[64];
		if (exec(db, "BEGIN IMMEDIATE", info, "begin upgrade") != SQLITE_OK)
			return MOX_EIO;
		int rc = exec(db, mox__store_schema[v], info, "schema upgrade");
		if (rc == SQLITE_OK && v == 1)
			rc = init_account(db, uidvalidity, info);
		if (rc == SQLITE_OK) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
			rc = exec(db, sql, info, "setting schema version");
		}
		if (rc == SQLITE_OK)
			rc = exec(db, "COMMIT", info, "commit upgrade");
		if (rc != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return MOX_EIO;
		}
	}
	return MOX_OK;
}
