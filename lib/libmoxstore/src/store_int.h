/* Declarations shared between the libmoxstore sources; never installed. */
#ifndef MOX_STORE_INT_H
#define MOX_STORE_INT_H

#include <mox/store.h>

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>

/* Longest path the store builds: the account directory plus
 * "/msg/<shard>/<id>" or "/tmp/<name>". */
#define MOX__STORE_PATH_MAX 4096
/* Busy timeout for SQLite, for the rare case another process (backup,
 * verify) holds a lock on the database file. */
#define MOX__STORE_BUSY_MS 10000

/* Prepared statements, one set per connection, prepared on first use. */
enum mox__store_stmt_id {
	ST_BEGIN_IMMEDIATE,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_NEXT_MODSEQ,
	ST_NEXT_UIDVALIDITY,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_ADD_USAGE,
	ST_MAILBOX_BY_NAME,
	ST_MAILBOX_BY_ID,
	ST_MAILBOX_LIST,
	ST_MAILBOX_INSERT,
	ST_MAILBOX_DELETE,
	ST_MAILBOX_RENAME,
	ST_MAILBOX_SET_USE,
	ST_MAILBOX_CHILDREN,
	ST_MAILBOX_UIDNEXT,
	ST_MAILBOX_COUNTS,
	ST_MAILBOX_ADD_MSG,
	ST_MAILBOX_KEYWORDS_GET,
	ST_MAILBOX_KEYWORDS_SET,
	ST_SUB_INSERT,
	ST_SUB_DELETE,
	ST_SUB_GET,
	ST_SUB_LIST,
	ST_SUB_RENAME,
	ST_MSG_INSERT,
	ST_MSG_RANGE,
	ST_MSG_SEQ,
	ST_MSG_COUNT_BELOW,
	ST_MSG_GET,
	ST_MSG_PART,
	ST_MSG_SET_FLAGS,
	ST_MSG_DELETE,
	ST_MSG_MOVE,
	ST_MSG_COPY,
	ST_EXPUNGED_INSERT,
	ST_EXPUNGED_SINCE,
	ST_PASSWORD_DELETE,
	ST_PASSWORD_INSERT,
	ST_PASSWORD_GET,
	ST__COUNT,
};

struct mox__store_conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	struct mox__store_conn *next; /* in the idle pool */
};

struct mox__store_delivery;

/* Test hook: make one step of adding/committing a message fail with EIO,
 * to check that a failure at each step leaves no row and no file. */
enum mox__store_fault {
	MOX__STORE_FAULT_NONE = 0,
	MOX__STORE_FAULT_WRITE,      /* msgfile_write */
	MOX__STORE_FAULT_FSYNC_FILE, /* msgfile_finish */
	MOX__STORE_FAULT_FSYNC_DIR,  /* msgfile_finish, commit of copies: fsync
	                                of msg/<shard> */
	MOX__STORE_FAULT_INSERT,     /* tx_add: the row insert */
	MOX__STORE_FAULT_LINK,       /* tx_copy: the hard link of the file */
	MOX__STORE_FAULT_COMMIT,     /* commit: the database commit */
	MOX__STORE_FAULT__COUNT,
};

struct mox_store {
	const mox_allocator *alloc;
	char *dir;  /* account directory */
	char *name; /* last element of dir */
	int lockfd; /* index.db, flock()ed */
	uint64_t quota;
	unsigned bcrypt_cost;
	unsigned scram_iterations;

	pthread_mutex_t wlock; /* held by the write transaction */
	struct mox__store_conn *writer;

	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct mox__store_conn *idle;
	unsigned nreaders, max_readers;

	/* Group commit of deliveries. */
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	struct mox__store_delivery *gc_head, *gc_tail;
	bool gc_leader;

	/* Listeners; lmu also guards their queues. */
	pthread_mutex_t lmu;
	mox_store_listener *listeners;

	/* Message ids: handed out here, not by SQLite, so that a file can be
	 * written at its final name before its row exists. Starts above every
	 * id ever committed (sqlite_sequence); we hold the account lock, so no
	 * one else hands out ids. */
	pthread_mutex_t id_mu;
	int64_t next_id;
	/* The shard directory last made sure of (created, its entry in msg/
	 * synced), under id_mu: no file goes into a shard whose directory
	 * entry might still be lost. */
	int64_t shard_ok;
	/* Coalesced fsync of shard directories (store.c, mox__store_sync_entry):
	 * generation ds_started is the last directory fsync started (of
	 * ds_shard), ds_done the last finished (of ds_done_shard, ds_done_ok
	 * whether it worked); ds_busy while one runs. Under ds_mu. */
	pthread_mutex_t ds_mu;
	pthread_cond_t ds_cv;
	uint64_t ds_started, ds_done;
	int64_t ds_shard, ds_done_shard;
	bool ds_busy, ds_done_ok;
	atomic_int fault;   /* enum mox__store_fault, fires once */
	size_t queue_max;   /* MOX_STORE_LISTENER_QUEUE_MAX; tests lower it */
	bool msgdir_synced; /* msg/ exists and its entry is durable */
};

/* ---- the change batch being built in a transaction ---- */

/* Changes keep string offsets into an arena while a transaction runs (the
 * arena may move); commit turns them into pointers without allocating. */
struct mox__store_crec {
	mox_store_change c;
	size_t keywords_off, name_off, old_name_off, uids_off;
};

struct mox_store_batch {
	atomic_int refs;
	const mox_allocator *alloc;
	mox_store_change *changes;
	size_t n;
	uint8_t *arena;
};

/* A message file at its final name msg/<shard>/<id> whose row is not
 * committed yet: removed if the transaction does not commit. */
struct mox__store_pending {
	int64_t id;
	bool sync_dir; /* a link made in the transaction: its directory is
	                  fsynced before the commit (staged files were) */
	bool msgfile;  /* from a mox_store_msgfile: a failed operation
	                  hands the file back instead of removing it */
};

struct mox_store_tx {
	mox_store *st;
	struct mox__store_conn *c;
	bool write;
	mox_store_listener *origin;

	struct mox__store_pending *adds;
	size_t nadds, capadds;
	int64_t *removes; /* message files to remove after commit */
	size_t nremoves, capremoves;

	struct mox__store_crec *crecs;
	size_t ncrecs, capcrecs;
	mox_buf arena;

	int64_t modseq; /* of the current operation */
	bool in_op;
	char kwbuf[MOX_STORE_KEYWORDS_MAX * (MOX_STORE_KEYWORD_MAX + 1) + 1];
	char errmsg[512];
};

/* Where an operation started, to undo its part on failure. */
struct mox__store_opmark {
	size_t nadds, nremoves, ncrecs, arena_len;
};

/* schema.c */
extern const char *const mox__store_schema[MOX_STORE_SCHEMA_VERSION + 1];
mox_err mox__store_schema_version(sqlite3 *db, int *version_out, bool *empty_out);
mox_err mox__store_schema_upgrade(sqlite3 *db, int target, uint32_t uidvalidity,
                                  mox_errinfo *info);

/* store.c */
mox_err mox__store_err_sqlite(mox_store_tx *tx, sqlite3 *db, int rc, const char *what);
mox_err mox__store_seterr(mox_store_tx *tx, mox_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sqlite3_stmt *mox__store_stmt(struct mox__store_conn *c, enum mox__store_stmt_id id);
mox_err mox__store_tx_commit_msg(mox_store_tx *tx, char *errmsg, size_t errsz);
mox_err mox__store_prep_err(mox_store_tx *tx, const char *what);
mox_err mox__store_step_done(mox_store_tx *tx, sqlite3_stmt *s, const char *what);
mox_err mox__store_op_begin(mox_store_tx *tx, struct mox__store_opmark *m);
mox_err mox__store_op_end(mox_store_tx *tx, const struct mox__store_opmark *m,
                          mox_err err);
mox_err mox__store_next_uidvalidity(mox_store_tx *tx, uint32_t *out);
bool mox__store_fault_hit(mox_store *st, enum mox__store_fault f);
void mox__store_fault_set(mox_store *st, enum mox__store_fault f);
mox_err mox__store_pending_add(mox_store_tx *tx, int64_t id, bool sync_dir,
                               bool msgfile);
mox_err mox__store_remove_add(mox_store_tx *tx, int64_t id);
int mox__store_path(const mox_store *st, char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
mox_err mox__store_sync_dir(const char *path);
mox_err mox__store_sync_entry(mox_store *st, int64_t id);
int64_t mox__store_alloc_id(mox_store *st);
mox_err mox__store_shard_dir(mox_store *st, int64_t id);
mox_err mox__store_link(mox_store *st, int64_t src_id, int64_t dst_id);

/* change.c */
mox_err mox__store_change_add(mox_store_tx *tx, const mox_store_change *c,
                              const char *keywords, const char *name,
                              const char *old_name, const uint32_t *uids, size_t nuids);
mox_err mox__store_change_counts(mox_store_tx *tx, int64_t mailbox_id);
mox_err mox__store_batch_build(mox_store_tx *tx, mox_store_batch **out);
void mox__store_broadcast(mox_store *st, mox_store_batch *b,
                          const mox_store_listener *origin);
void mox__store_batch_unref(mox_store_batch *b);

/* mailbox.c */
mox_err mox__store_mailbox_read(sqlite3_stmt *s, mox_store_mailbox *mb);
mox_err mox__store_mailbox_get(mox_store_tx *tx, const char *name,
                               mox_store_mailbox *mb);
mox_err mox__store_mailbox_ensure(mox_store_tx *tx, const char *name, unsigned use,
                                  bool subscribe, bool must_create,
                                  mox_store_mailbox *mb_out);
mox_err mox__store_counts_apply(mox_store_tx *tx, int64_t mailbox_id,
                                const mox_store_counts *add,
                                const mox_store_counts *sub, int64_t modseq);

/* message.c */
void mox__store_msginfo_read(sqlite3_stmt *s, mox_store_msginfo *m);
mox_err mox__store_keywords_norm(mox_store_tx *tx, const char *const *kws, size_t n,
                                 unsigned *flags_io, char *out, size_t outsz);
mox_err mox__store_mailbox_keywords_merge(mox_store_tx *tx, int64_t mailbox_id,
                                          const char *keywords);
void mox__store_counts_of(unsigned flags, uint64_t size, mox_store_counts *c);
mox_err mox__store_move(mox_store_tx *tx, int64_t src, const mox_store_range *ranges,
                        size_t nranges, unsigned flags, int64_t dst,
                        mox_store_uidmap_fn fn, void *arg);
mox_err mox__store_add(mox_store_tx *tx, int64_t mailbox_id,
                       const mox_store_mailbox *known, mox_store_msgfile *mf,
                       const mox_store_add_opts *o, mox_store_msginfo *info_out);
mox_err mox__store_remove_messages(mox_store_tx *tx, int64_t mailbox_id,
                                   bool tombstones, mox_store_msg_fn fn, void *arg,
                                   const mox_store_range *ranges, size_t nranges,
                                   unsigned flags);

/* msgfile.c */
struct mox_store_msgfile {
	mox_store *st;
	int fd;
	int64_t id; /* its message id; the file is msg/<shard>/<id> */
	char *path;
	uint64_t size;
	mox_msg_parser *parser;
	mox_buf part; /* encoded part tree, after finish */
	mox_err err;  /* sticky */
	bool finished;
	bool consumed; /* a transaction owns the file */
};

/* part.c */
mox_err mox__store_part_encode_flat(uint64_t size, unsigned warnings, mox_buf *out);

/* hash.c: MD5 (RFC 1321), SHA-1 and SHA-256 (FIPS 180-4), HMAC (RFC 2104),
 * PBKDF2 (RFC 8018 section 5.2). */
typedef struct mox__store_hash {
	uint32_t h[8];
	uint64_t total;
	uint8_t buf[64];
	size_t buflen;
	int alg; /* 0 md5, 1 sha1, 2 sha256 */
} mox__store_hash;
enum { MOX__HASH_MD5, MOX__HASH_SHA1, MOX__HASH_SHA256 };
size_t mox__store_hash_len(int alg);
void mox__store_hash_init(mox__store_hash *h, int alg);
void mox__store_hash_update(mox__store_hash *h, const void *data, size_t len);
void mox__store_hash_final(mox__store_hash *h, uint8_t *out);
void mox__store_hmac(int alg, const void *key, size_t keylen, const void *data,
                     size_t len, uint8_t *out);
void mox__store_pbkdf2(int alg, const void *pw, size_t pwlen, const uint8_t *salt,
                       size_t saltlen, uint32_t iterations, uint8_t *out,
                       size_t outlen);

/* secret.c: derive secrets with given salts (tests use the RFC's). */
mox_err mox__store_secrets_derive(const char *password, const uint8_t *salt1,
                                  size_t salt1_len, uint32_t iter1,
                                  const uint8_t *salt256, size_t salt256_len,
                                  uint32_t iter256, mox_store_secrets *out);

/* Locale-free helpers. */
static inline char
mox__store_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

#endif
