/* mox/store.h -- where mail lives: accounts, mailboxes, messages.
 *
 * One account is a directory (as mox lays it out):
 *
 *	<data>/accounts/<name>/index.db       SQLite, WAL: mailboxes, messages,
 *	                                       flags, UIDs, secrets
 *	<data>/accounts/<name>/msg/<shard>/<id> message files, written once
 *	<data>/accounts/<name>/tmp/            scratch space, emptied at open
 *
 * The IMAP data model (RFC 9051 section 2.3): mailboxes with UIDVALIDITY,
 * UIDNEXT and special-use attributes (RFC 6154), subscriptions; messages
 * with UID, size, internal date, system flags, the well-known $-keywords
 * as flags and other keywords, and a modification sequence per change for
 * CONDSTORE/QRESYNC (RFC 7162; expunged UIDs are kept as tombstones). Each
 * message's MIME structure and envelope are parsed once at delivery (with
 * libmoxmessage) and cached as a compact blob, so IMAP FETCH BODYSTRUCTURE
 * and ENVELOPE need no re-parse (mox_store_part_decode).
 *
 * Durability: a message gets its id first and is written at its final
 * name msg/<shard>/<id>; the file and then its directory are fsynced;
 * only then is its row inserted and the transaction committed, and only
 * after the commit does delivery report success. A crash at any point
 * leaves the whole message or nothing, and never a row without its file;
 * what it can leave is a file without a row, which the next open removes
 * (where new ids go) and mox_store_verify reports (and moves away with
 * fix). Concurrent deliveries write and sync their files in parallel and
 * are committed in groups (one SQLite commit for many messages).
 *
 * Transactions: every change goes through a write transaction
 * (mox_store_tx_begin), one at a time per account; reads run in read
 * transactions on their own connections, concurrently, each seeing a
 * consistent snapshot. Every committed change is broadcast to the
 * account's listeners (mox_store_listener) for IMAP IDLE and NOTIFY.
 *
 * Also here: password secrets (bcrypt through libcrypt, SCRAM-SHA-1 and
 * SCRAM-SHA-256 keys per RFC 5802 and RFC 7677, CRAM-MD5 HMAC states per
 * RFC 2195 and RFC 2104; never the password), schema versioning with
 * forward upgrades, and the maintenance work behind "mox import", "mox
 * export", "mox backup" and "mox verifydata".
 *
 * Out of scope: the junk filter (libmoxjunk), delivery rulesets and
 * configuration (the server), threading (RFC 5256), full-text indexes.
 *
 * One process opens an account at a time: mox_store_open takes an
 * exclusive lock on index.db and fails with MOX_ESTATE if another handle
 * (in this or another process) has it.
 */
#ifndef MOX_STORE_H
#define MOX_STORE_H

#include <mox/core.h>
#include <mox/message.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_STORE_VERSION_MAJOR 0
#define MOX_STORE_VERSION_MINOR 1
#define MOX_STORE_VERSION_PATCH 0
#define MOX_STORE_VERSION_HEX                                                          \
	((MOX_STORE_VERSION_MAJOR << 16) | (MOX_STORE_VERSION_MINOR << 8) |            \
	 MOX_STORE_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_STORE_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_store_version(void);

/* Schema version this library writes; older databases are upgraded on
 * open, newer ones are refused (MOX_EUNSUPPORTED). */
#define MOX_STORE_SCHEMA_VERSION 2

/* Limits. None of these comes from an RFC; they bound memory and keep
 * names usable in file systems and IMAP. */
#define MOX_STORE_MAILBOX_NAME_MAX 1024 /* bytes, whole hierarchical name */
#define MOX_STORE_KEYWORD_MAX 128       /* bytes of one keyword */
#define MOX_STORE_KEYWORDS_MAX 256      /* keywords on one message */
#define MOX_STORE_ACCOUNT_NAME_MAX 255  /* one path element */
/* Committed batches waiting in one listener before it is dropped: a session
 * that does not read its changes must resynchronise (MOX_ELIMIT). */
#define MOX_STORE_LISTENER_QUEUE_MAX 10000
/* Deliveries committed together in one group commit. */
#define MOX_STORE_GROUP_COMMIT_MAX 256

/* ---- flags ---- */

/* System flags (RFC 9051 section 2.3.2) and the well-known keywords mox
 * keeps as flags ($Forwarded RFC 5550, $Junk/$NotJunk/$Phishing from the
 * IANA IMAP keywords registry, $MDNSent RFC 3503). */
enum {
	MOX_STORE_SEEN = 1u << 0,
	MOX_STORE_ANSWERED = 1u << 1,
	MOX_STORE_FLAGGED = 1u << 2,
	MOX_STORE_DELETED = 1u << 3,
	MOX_STORE_DRAFT = 1u << 4,
	MOX_STORE_FORWARDED = 1u << 5,
	MOX_STORE_JUNK = 1u << 6,
	MOX_STORE_NOTJUNK = 1u << 7,
	MOX_STORE_PHISHING = 1u << 8,
	MOX_STORE_MDNSENT = 1u << 9,
	MOX_STORE_FLAGS_ALL = (1u << 10) - 1,
};

/* The IMAP name of one flag bit ("\\Seen", "$Junk"), NULL for others.
 * Thread-safety: any thread. */
MOX_API const char *mox_store_flag_name(unsigned flag);
/* The bit for an IMAP flag or well-known keyword name (case-insensitive),
 * 0 if name is neither. Thread-safety: any thread. */
MOX_API unsigned mox_store_flag_parse(const char *name);
/* Whether kw is a valid keyword: an IMAP atom (RFC 9051 section 9,
 * flag-keyword) of at most MOX_STORE_KEYWORD_MAX bytes, not a system flag.
 * Keywords are stored in lower case. Thread-safety: any thread. */
MOX_API bool mox_store_keyword_valid(const char *kw);

/* Special-use attributes of a mailbox, RFC 6154 section 2. The Inbox is
 * not special-use: it is the mailbox named "Inbox". */
enum {
	MOX_STORE_USE_ARCHIVE = 1u << 0,
	MOX_STORE_USE_DRAFTS = 1u << 1,
	MOX_STORE_USE_JUNK = 1u << 2,
	MOX_STORE_USE_SENT = 1u << 3,
	MOX_STORE_USE_TRASH = 1u << 4,
	MOX_STORE_USE_ALL = (1u << 5) - 1,
};

/* ---- opening an account ---- */

typedef struct mox_store mox_store;

/* A problem or progress line from long operations (verify, import,
 * export, backup). level: 0 info, 1 warning, 2 error. */
typedef void (*mox_store_report_fn)(void *arg, int level, const char *msg);

typedef struct mox_store_opts {
	size_t size;                /* sizeof(mox_store_opts) */
	const mox_allocator *alloc; /* NULL: libc (SQLite allocates on its own) */
	/* Create the account (directory, database, default mailboxes Inbox,
	 * Archive, Drafts, Junk, Sent, Trash, all subscribed) if missing. */
	bool create;
	/* Bytes all messages together may take; 0: no quota. Adding past it
	 * fails with MOX_ELIMIT. */
	uint64_t quota_bytes;
	/* Read connections kept open at most; 0: 8. */
	unsigned max_readers;
	/* bcrypt cost for mox_store_password_set, 4..31; 0: 10 (mox's). */
	unsigned bcrypt_cost;
	/* SCRAM iterations; 0: mox's (8192 for SHA-1, 4096 for SHA-256). */
	unsigned scram_iterations;
	/* First UIDVALIDITY for a new account; 0: from the clock, as mox. */
	uint32_t initial_uidvalidity;
} mox_store_opts;

/* Open the account in directory account_dir (<data>/accounts/<name>),
 * creating it if opts->create, upgrading an older schema, and removing
 * staged files a crash left in tmp/. Errors: MOX_ENOTFOUND (no account and
 * not create), MOX_ESTATE (opened elsewhere), MOX_EUNSUPPORTED (database
 * of a newer version), MOX_EIO, MOX_ENOMEM. *store_out is NULL on error;
 * info (if not NULL) gets the detail.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_open(mox_store **store_out, const char *account_dir,
                               const mox_store_opts *opts, mox_errinfo *info);
/* Close the account. Every transaction and listener must have ended;
 * staged files not handed to a transaction must have been freed.
 * NULL is a no-op. Thread-safety: not thread-safe: no other call on store
 * may run or follow. */
MOX_API void mox_store_close(mox_store *store);
/* The account name (last element of account_dir), borrowed.
 * Thread-safety: any thread. */
MOX_API const char *mox_store_name(const mox_store *store);
/* ---- staged message files ---- */

/* A message being written, before it is added to a mailbox. Bytes are kept
 * exactly (CRLF as given; importers convert bare LF). The MIME structure
 * is parsed while writing. The file is written at its final name (its
 * message id is taken when it is created) and removed when the msgfile is
 * freed unless a committed transaction took it. */
typedef struct mox_store_msgfile mox_store_msgfile;

/* Create a staged file. Thread-safety: any thread. */
MOX_API mox_err mox_store_msgfile_new(mox_store *store, mox_store_msgfile **mf_out);
/* Append len bytes. Thread-safety: per handle. */
MOX_API mox_err mox_store_msgfile_write(mox_store_msgfile *mf, const void *data,
                                        size_t len);
/* Finish: end the parse, fsync the file and its directory. After this
 * the file can be added (mox_store_tx_add, mox_store_deliver).
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_msgfile_finish(mox_store_msgfile *mf);
/* Finish n staged files as one group (IMAP MULTIAPPEND, RFC 3502): as
 * mox_store_msgfile_finish on each, but the files are written back
 * together and each message directory is fsynced once for the group
 * instead of once per file. MOX_OK: all are finished and durable; an
 * error: the files must not be added (free them). n may be 0.
 * Thread-safety: per handle (each of mfs). */
MOX_API mox_err mox_store_msgfile_finish_group(mox_store_msgfile *const *mfs, size_t n);
/* Bytes written so far. Thread-safety: per handle. */
MOX_API uint64_t mox_store_msgfile_size(const mox_store_msgfile *mf);
/* Free the handle; the staged file is removed unless a transaction took
 * it. NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_store_msgfile_free(mox_store_msgfile *mf);

/* ---- transactions ---- */

typedef struct mox_store_tx mox_store_tx;
typedef struct mox_store_listener mox_store_listener;

enum {
	MOX_STORE_TX_READ = 0,
	MOX_STORE_TX_WRITE = 1,
};

/* Begin a transaction. Write transactions run one at a time per account
 * (this blocks until the current one ends); read transactions run
 * concurrently and see the state as of their start. Changes committed by
 * a write transaction are broadcast to every listener except origin (the
 * session that made them; may be NULL). Do not begin a second transaction
 * or call mox_store_deliver from a thread that holds a write transaction.
 * Keep read transactions short: a snapshot held open keeps the WAL from
 * being checkpointed.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_tx_begin(mox_store *store, unsigned mode,
                                   mox_store_listener *origin, mox_store_tx **tx_out);
/* Make the changes durable (files renamed and synced, then the database
 * commit) and broadcast them; frees tx. On error nothing was changed.
 * Thread-safety: per handle (the thread that began it, or one following
 * it; never two at once). */
MOX_API mox_err mox_store_tx_commit(mox_store_tx *tx);
/* Undo everything done in tx and free it. NULL is a no-op.
 * Thread-safety: per handle. */
MOX_API void mox_store_tx_rollback(mox_store_tx *tx);
/* Detail of the last failed operation on tx ("mailbox \"a\" exists"),
 * borrowed until the next call on tx. Thread-safety: per handle. */
MOX_API const char *mox_store_tx_errmsg(const mox_store_tx *tx);

/* Each operation below changes nothing when it fails (it is undone to its
 * start; the transaction stays usable). Write operations on a read
 * transaction fail with MOX_ESTATE. Each write operation takes a new
 * modification sequence (RFC 7162 section 3.1), shared by everything it
 * changes. */

/* ---- mailboxes ---- */

/* Counts kept up to date for each mailbox (mox's MailboxCounts). */
typedef struct mox_store_counts {
	uint64_t total;   /* messages without \Deleted */
	uint64_t deleted; /* messages with \Deleted */
	uint64_t unread;  /* without \Seen, without \Deleted */
	uint64_t unseen;  /* without \Seen, with or without \Deleted */
	uint64_t size;    /* bytes of all messages */
} mox_store_counts;

typedef struct mox_store_mailbox {
	int64_t id;
	char name[MOX_STORE_MAILBOX_NAME_MAX + 1]; /* "Inbox", "a/b" */
	uint32_t uidvalidity;
	uint32_t uidnext;
	unsigned special_use; /* MOX_STORE_USE_* */
	bool subscribed;
	int64_t highest_modseq; /* of any change in the mailbox (RFC 7162) */
	mox_store_counts counts;
} mox_store_mailbox;

/* Check and normalise a mailbox name: "/" separates levels; any casing of
 * "inbox" as first element becomes "Inbox"; empty elements, control
 * characters, invalid UTF-8, "*" and "%" (IMAP LIST wildcards) and names
 * longer than MOX_STORE_MAILBOX_NAME_MAX are MOX_EINVAL. out gets the
 * normalised name. Thread-safety: any thread. */
MOX_API mox_err mox_store_mailbox_name_check(const char *name,
                                             char out[MOX_STORE_MAILBOX_NAME_MAX + 1]);

enum {
	/* mailbox_create: subscribe to the mailbox (and parents created). */
	MOX_STORE_MAILBOX_SUBSCRIBE = 1u << 0,
	/* mailbox_delete: also delete the mailboxes below it. */
	MOX_STORE_MAILBOX_CHILDREN = 1u << 1,
};

/* Create mailbox name with special-use attributes use, creating missing
 * parents (as mox's MailboxEnsure) with fresh UIDVALIDITYs. MOX_EEXIST if
 * it exists. *mb_out (if not NULL) gets the new mailbox.
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_mailbox_create(mox_store_tx *tx, const char *name,
                                            unsigned use, unsigned flags,
                                            mox_store_mailbox *mb_out);
/* Rename a mailbox and every mailbox below it; UIDVALIDITY and UIDs stay,
 * and so do subscriptions (under the new names). Missing parents of the
 * new name are created. Renaming "Inbox" moves its
 * messages to a new mailbox and leaves Inbox empty (RFC 9051 section
 * 6.3.6). MOX_ENOTFOUND, MOX_EEXIST, MOX_EINVAL (into itself).
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_mailbox_rename(mox_store_tx *tx, const char *from,
                                            const char *to);
/* Delete a mailbox with its messages (their files go after the commit).
 * A mailbox with children is MOX_ESTATE unless MOX_STORE_MAILBOX_CHILDREN.
 * Inbox cannot be deleted (MOX_EINVAL). Subscriptions stay (RFC 9051
 * section 6.3.9). Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_mailbox_delete(mox_store_tx *tx, const char *name,
                                            unsigned flags);
/* Set the special-use attributes of a mailbox (RFC 6154 section 5.3).
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_mailbox_set_use(mox_store_tx *tx, int64_t mailbox_id,
                                             unsigned use);
/* Look a mailbox up by name (normalised first) or by id. MOX_ENOTFOUND.
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_mailbox_get(mox_store_tx *tx, const char *name,
                                         mox_store_mailbox *mb_out);
MOX_API mox_err mox_store_tx_mailbox_get_id(mox_store_tx *tx, int64_t id,
                                            mox_store_mailbox *mb_out);
/* Call fn for each mailbox, in name order. fn returning an error stops the
 * walk and is returned. Thread-safety: per handle. */
typedef mox_err (*mox_store_mailbox_fn)(void *arg, const mox_store_mailbox *mb);
MOX_API mox_err mox_store_tx_mailbox_list(mox_store_tx *tx, mox_store_mailbox_fn fn,
                                          void *arg);
/* Keywords used on messages in the mailbox, sorted, for the IMAP FLAGS
 * response: fn gets each. Thread-safety: per handle. */
typedef mox_err (*mox_store_str_fn)(void *arg, const char *s);
MOX_API mox_err mox_store_tx_mailbox_keywords(mox_store_tx *tx, int64_t mailbox_id,
                                              mox_store_str_fn fn, void *arg);

/* Subscriptions are names; the mailbox need not exist (RFC 9051 section
 * 6.3.7). subscribe of a subscribed name and unsubscribe of one that is
 * not are no-ops. Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_subscribe(mox_store_tx *tx, const char *name);
MOX_API mox_err mox_store_tx_unsubscribe(mox_store_tx *tx, const char *name);
MOX_API mox_err mox_store_tx_subscriptions(mox_store_tx *tx, mox_store_str_fn fn,
                                           void *arg);

/* ---- messages ---- */

/* A range of UIDs (or of sequence numbers where a function says so),
 * inclusive; first > last is read as last..first. UINT32_MAX as last
 * means "to the end" (the IMAP layer resolves "*"). */
typedef struct mox_store_range {
	uint32_t first;
	uint32_t last;
} mox_store_range;

/* One message as listed. Strings are borrowed: valid during the callback. */
typedef struct mox_store_msginfo {
	int64_t id; /* for the life of the message (move keeps it); names its file */
	int64_t mailbox_id;
	uint32_t uid;
	uint32_t seq;      /* sequence number when listed in UID order from
	                      the start, else 0 */
	int64_t modseq;    /* last change */
	int64_t createseq; /* when added */
	int64_t received;  /* internal date, seconds since the epoch */
	uint64_t size;
	unsigned flags;       /* MOX_STORE_* */
	const char *keywords; /* sorted, lower case, space separated; "" if none */
	bool conflict;        /* flags: not changed, modseq > unchangedsince
	                         (RFC 7162 section 3.1.3) */
} mox_store_msginfo;

/* Callback for message lists; an error return stops and is returned. It
 * may read through the same transaction (tx_get, tx_part) but not start a
 * list, search or change on it. */
typedef mox_err (*mox_store_msg_fn)(void *arg, const mox_store_msginfo *m);

typedef struct mox_store_add_opts {
	size_t size;                 /* sizeof(mox_store_add_opts) */
	unsigned flags;              /* MOX_STORE_* */
	const char *const *keywords; /* any case; $-keywords become flags */
	size_t nkeywords;
	int64_t received; /* internal date; 0: now */
} mox_store_add_opts;

/* Add the finished staged file mf as a new message in mailbox_id (IMAP
 * APPEND, RFC 9051 section 6.3.12). The file belongs to tx from here on:
 * kept at commit, removed on rollback; mf must still be freed. *info_out (if not NULL)
 * gets id, uid, modseq; its keywords pointer is NULL. Errors: MOX_ENOTFOUND (mailbox),
 * MOX_ELIMIT (quota), MOX_EINVAL (bad keyword; mf not finished). Thread-safety: per
 * handle. */
MOX_API mox_err mox_store_tx_add(mox_store_tx *tx, int64_t mailbox_id,
                                 mox_store_msgfile *mf, const mox_store_add_opts *opts,
                                 mox_store_msginfo *info_out);

/* Message lists: ranges of UIDs, or of sequence numbers with
 * MOX_STORE_BY_SEQ (numbered over the mailbox as it is in tx); NULL/0
 * ranges: all messages. Always in UID order. */
enum {
	MOX_STORE_BY_SEQ = 1u << 0,
	/* expunge: only messages with \Deleted (IMAP EXPUNGE, UID EXPUNGE). */
	MOX_STORE_ONLY_DELETED = 1u << 1,
};

/* Call fn for each message in the ranges. Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_list(mox_store_tx *tx, int64_t mailbox_id,
                                  const mox_store_range *ranges, size_t nranges,
                                  unsigned flags, mox_store_msg_fn fn, void *arg);
/* One message by UID; MOX_ENOTFOUND. keywords is borrowed until the next
 * call on tx. Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_get(mox_store_tx *tx, int64_t mailbox_id, uint32_t uid,
                                 mox_store_msginfo *info_out);

/* How flags change. */
typedef enum mox_store_flags_mode {
	MOX_STORE_FLAGS_SET,    /* FLAGS: replace */
	MOX_STORE_FLAGS_ADD,    /* +FLAGS */
	MOX_STORE_FLAGS_REMOVE, /* -FLAGS */
} mox_store_flags_mode;

/* Change flags and keywords of the messages in the ranges (IMAP STORE,
 * RFC 9051 section 6.4.6). Messages whose modseq is above unchangedsince
 * (if > 0, RFC 7162 section 3.1.3) are not changed: fn gets them with
 * conflict set. fn also gets each changed message with its new flags
 * and modseq. Unchanged messages are not reported.
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_flags(mox_store_tx *tx, int64_t mailbox_id,
                                   const mox_store_range *ranges, size_t nranges,
                                   unsigned flags, mox_store_flags_mode mode,
                                   unsigned msgflags, const char *const *keywords,
                                   size_t nkeywords, int64_t unchangedsince,
                                   mox_store_msg_fn fn, void *arg);

/* For COPY and MOVE: source and destination UIDs of each message. */
typedef mox_err (*mox_store_uidmap_fn)(void *arg, uint32_t src_uid, uint32_t dst_uid);

/* Copy messages to another mailbox (RFC 9051 section 6.4.7): new rows with
 * new UIDs (in source UID order), flags and keywords kept, files hard
 * linked (or copied where linking is not possible). fn gets each mapping (COPYUID, RFC
 * 4315). Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_copy(mox_store_tx *tx, int64_t src_mailbox_id,
                                  const mox_store_range *ranges, size_t nranges,
                                  unsigned flags, int64_t dst_mailbox_id,
                                  mox_store_uidmap_fn fn, void *arg);
/* Move messages (RFC 6851): they keep their id and file, get new UIDs in
 * the destination and are expunged from the source.
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_move(mox_store_tx *tx, int64_t src_mailbox_id,
                                  const mox_store_range *ranges, size_t nranges,
                                  unsigned flags, int64_t dst_mailbox_id,
                                  mox_store_uidmap_fn fn, void *arg);
/* Remove messages (with MOX_STORE_ONLY_DELETED only those with \Deleted);
 * fn gets each removed message. Their UIDs stay as tombstones with the
 * modseq of the expunge (QRESYNC VANISHED, RFC 7162 section 3.2.10); the
 * files are removed after the commit. Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_expunge(mox_store_tx *tx, int64_t mailbox_id,
                                     const mox_store_range *ranges, size_t nranges,
                                     unsigned flags, mox_store_msg_fn fn, void *arg);
/* UIDs expunged from the mailbox with modseq > since (QRESYNC).
 * Thread-safety: per handle. */
typedef mox_err (*mox_store_uid_fn)(void *arg, uint32_t uid);
MOX_API mox_err mox_store_tx_expunged(mox_store_tx *tx, int64_t mailbox_id,
                                      int64_t since, mox_store_uid_fn fn, void *arg);

/* Search support: the criteria the database can evaluate, as a filter in
 * front of the IMAP engine's own evaluation (headers, text), which fn does
 * with the part tree and the file. Zero fields do not filter. */
typedef struct mox_store_search {
	size_t size;                 /* sizeof(mox_store_search) */
	const mox_store_range *uids; /* NULL: all */
	size_t nuids;
	unsigned flags_set;              /* all these flags set */
	unsigned flags_clear;            /* all these flags clear */
	const char *const *keywords_set; /* all present */
	size_t nkeywords_set;
	const char *const *keywords_clear; /* all absent */
	size_t nkeywords_clear;
	uint64_t larger;         /* size > larger (RFC 9051 LARGER) */
	uint64_t smaller;        /* size < smaller */
	int64_t received_since;  /* received >= */
	int64_t received_before; /* received < */
	int64_t modseq_min;      /* modseq >= (RFC 7162 MODSEQ) */
} mox_store_search;

/* Call fn for each message in mailbox_id matching q, in UID order, with
 * seq set. Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_search(mox_store_tx *tx, int64_t mailbox_id,
                                    const mox_store_search *q, mox_store_msg_fn fn,
                                    void *arg);

/* Quota usage of the account (RFC 9208 STORAGE and MESSAGE resources):
 * bytes and count of all messages; *limit_out is the quota (0: none).
 * Thread-safety: per handle. */
MOX_API mox_err mox_store_tx_quota(mox_store_tx *tx, uint64_t *bytes_out,
                                   uint64_t *messages_out, uint64_t *limit_out);

/* The cached MIME structure of message id (see mox_store_part_decode);
 * free with mox_store_part_free. Thread-safety: per handle. */
typedef struct mox_store_part mox_store_part;
MOX_API mox_err mox_store_tx_part(mox_store_tx *tx, int64_t id,
                                  mox_store_part **part_out);

/* Open message id's file for reading (O_RDONLY, close-on-exec); the caller
 * closes the descriptor. A message's file never changes, and stays
 * readable through an open descriptor after an expunge.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_message_open(mox_store *store, int64_t id, int *fd_out);

/* ---- delivery ---- */

typedef struct mox_store_deliver_opts {
	size_t size;            /* sizeof(mox_store_deliver_opts) */
	mox_store_add_opts add; /* add.size may be 0 here */
	bool create_mailbox;    /* create the mailbox if missing */
} mox_store_deliver_opts;

/* Deliver the finished staged file mf to the mailbox named mailbox: as a
 * write transaction with one tx_add, except that deliveries from several
 * threads at once are committed together (group commit). Returns only
 * after the commit: MOX_OK means durable. *info_out as for tx_add; info
 * (if not NULL) gets the detail of an error.
 * Thread-safety: any thread (not one holding a write transaction). */
MOX_API mox_err mox_store_deliver(mox_store *store, const char *mailbox,
                                  mox_store_msgfile *mf,
                                  const mox_store_deliver_opts *opts,
                                  mox_store_msginfo *info_out, mox_errinfo *info);
/* Stage data and deliver it. Thread-safety: as mox_store_deliver. */
MOX_API mox_err mox_store_deliver_mem(mox_store *store, const char *mailbox,
                                      const void *data, size_t len,
                                      const mox_store_deliver_opts *opts,
                                      mox_store_msginfo *info_out, mox_errinfo *info);

/* ---- change notifications ---- */

typedef enum mox_store_change_type {
	MOX_STORE_CHANGE_ADD = 1,          /* new message: mailbox_id, uid, modseq,
	                                      flags, keywords */
	MOX_STORE_CHANGE_EXPUNGE,          /* mailbox_id, uids/nuids, modseq */
	MOX_STORE_CHANGE_FLAGS,            /* mailbox_id, uid, modseq, flags,
	                                      flags_mask (what changed), keywords */
	MOX_STORE_CHANGE_MAILBOX_ADD,      /* mailbox_id, name, special_use */
	MOX_STORE_CHANGE_MAILBOX_REMOVE,   /* mailbox_id, name */
	MOX_STORE_CHANGE_MAILBOX_RENAME,   /* mailbox_id, old_name, name */
	MOX_STORE_CHANGE_MAILBOX_COUNTS,   /* mailbox_id, name, counts */
	MOX_STORE_CHANGE_MAILBOX_USE,      /* mailbox_id, name, special_use */
	MOX_STORE_CHANGE_MAILBOX_KEYWORDS, /* mailbox_id, name, keywords */
	MOX_STORE_CHANGE_SUBSCRIBE,        /* name */
	MOX_STORE_CHANGE_UNSUBSCRIBE,      /* name */
} mox_store_change_type;

typedef struct mox_store_change {
	mox_store_change_type type;
	int64_t mailbox_id;
	uint32_t uid;
	int64_t modseq;
	unsigned flags;
	unsigned flags_mask;
	bool keywords_changed;
	const char *keywords; /* space separated, sorted; never NULL */
	const uint32_t *uids;
	size_t nuids;
	const char *name;     /* never NULL ("" where not applicable) */
	const char *old_name; /* never NULL */
	unsigned special_use;
	mox_store_counts counts;
} mox_store_change;

/* The changes of one committed transaction, in order. Immutable and
 * shared between listeners. */
typedef struct mox_store_batch mox_store_batch;

/* Called (from the committing thread, with store locks held: do nothing
 * but wake your own loop, e.g. uv_async_send) when a batch is queued. */
typedef void (*mox_store_wakeup_fn)(void *arg);

/* Register a listener (one per IMAP session). wakeup may be NULL (use
 * mox_store_listener_next with a timeout). Thread-safety: any thread. */
MOX_API mox_err mox_store_listener_new(mox_store *store, mox_store_wakeup_fn wakeup,
                                       void *arg, mox_store_listener **l_out);
/* Take the oldest queued batch. timeout_ms: 0 do not wait, < 0 wait for
 * ever. MOX_OK with *batch_out set; MOX_ETIMEDOUT when none came;
 * MOX_ELIMIT once when batches were dropped because the queue was full
 * (the session must resynchronise), after which queuing starts again.
 * Thread-safety: per handle (one reader per listener; committers on any
 * thread). */
MOX_API mox_err mox_store_listener_next(mox_store_listener *l, int timeout_ms,
                                        mox_store_batch **batch_out);
/* Unregister and free; queued batches are released. NULL is a no-op.
 * Thread-safety: per handle. */
MOX_API void mox_store_listener_free(mox_store_listener *l);
/* The changes in a batch, borrowed from it. Thread-safety: any thread. */
MOX_API const mox_store_change *mox_store_batch_changes(const mox_store_batch *b,
                                                        size_t *n_out);
/* Release a batch taken with mox_store_listener_next. NULL is a no-op.
 * Thread-safety: any thread. */
MOX_API void mox_store_batch_free(mox_store_batch *b);

/* ---- the cached part tree ---- */

typedef struct mox_store_param {
	const char *name; /* lower case */
	const char *value;
} mox_store_param;

typedef struct mox_store_address {
	const char *name;   /* display name, decoded UTF-8, or NULL */
	const char *local;  /* NULL for an empty group marker */
	const char *domain; /* NULL when the address had none */
	const char *group;  /* group this address belongs to, or NULL */
} mox_store_address;

typedef struct mox_store_addresses {
	size_t n;
	const mox_store_address *a;
} mox_store_addresses;

/* RFC 9051 section 7.5.2 ENVELOPE, of a message or nested message. */
typedef struct mox_store_envelope {
	const char *date;    /* Date value, unfolded; NULL if absent */
	bool date_valid;     /* date parsed: */
	int64_t date_time;   /*   seconds since the epoch */
	int date_tz;         /*   minutes east of UTC */
	const char *subject; /* unfolded, RFC 2047 words not decoded */
	mox_store_addresses from, sender, reply_to, to, cc, bcc;
	const char *in_reply_to; /* unfolded */
	const char *message_id;  /* unfolded */
} mox_store_envelope;

/* A MIME part, with what BODYSTRUCTURE needs (RFC 9051 section 7.5.2).
 * Offsets are from the start of the message file. Children of a multipart
 * are its parts; a message/rfc822 or message/global part has one child, the
 * nested message, which carries an envelope (as does the root). */
struct mox_store_part {
	uint64_t header_offset;
	uint64_t body_offset;
	uint64_t end_offset;
	uint64_t body_lines;
	const char *type;    /* lower case, "text" */
	const char *subtype; /* lower case, "plain" */
	const mox_store_param *params;
	size_t nparams;
	const char *encoding;    /* Content-Transfer-Encoding as written, or NULL */
	const char *disposition; /* lower case, or NULL */
	const mox_store_param *disposition_params;
	size_t ndisposition_params;
	const char *content_id, *content_description, *content_md5, *content_language,
	    *content_location;              /* unfolded, or NULL */
	const mox_store_envelope *envelope; /* root and nested messages */
	const mox_store_part *children;
	size_t nchildren;
	unsigned warnings; /* MOX_MSG_WARN_* of this part */
};

/* Current version of the blob format (first byte). */
#define MOX_STORE_PART_FORMAT 1
/* Deepest nesting the blob decoder accepts (libmoxmessage's default limit
 * is 50; a little room above it). */
#define MOX_STORE_PART_DEPTH_MAX 64

/* Serialise a parsed message's part tree (with envelopes and the header
 * fields BODYSTRUCTURE needs) as a blob, appended to out.
 * Thread-safety: per out. */
MOX_API mox_err mox_store_part_encode(const mox_msg *msg, mox_buf *out);
/* Rebuild the tree from a blob, in one allocation. MOX_ESYNTAX for a
 * damaged blob (never reads past len), MOX_EUNSUPPORTED for an unknown
 * format version. Thread-safety: any thread. */
MOX_API mox_err mox_store_part_decode(const uint8_t *blob, size_t len,
                                      const mox_allocator *alloc,
                                      mox_store_part **part_out);
/* NULL is a no-op. Thread-safety: per part. */
MOX_API void mox_store_part_free(mox_store_part *part);

/* ---- passwords ---- */

/* SCRAM credentials as the server keeps them, RFC 5802 section 3:
 * StoredKey = H(ClientKey), ServerKey; never the salted password. */
typedef struct mox_store_scram {
	uint8_t salt[16];
	size_t salt_len;
	uint32_t iterations;
	uint8_t stored_key[32]; /* 20 bytes used for SHA-1 */
	uint8_t server_key[32];
	size_t key_len; /* 20 or 32 */
} mox_store_scram;

typedef struct mox_store_secrets {
	bool set;             /* false: no password set */
	char bcrypt[64];      /* "$2b$10$...", for LOGIN/PLAIN */
	uint8_t cram_md5[32]; /* MD5 states after the ipad and opad blocks
	                         (RFC 2104 section 4), for CRAM-MD5 */
	mox_store_scram scram_sha1;
	mox_store_scram scram_sha256;
} mox_store_secrets;

typedef enum mox_store_scram_alg {
	MOX_STORE_SCRAM_SHA1,   /* RFC 5802 */
	MOX_STORE_SCRAM_SHA256, /* RFC 7677 */
} mox_store_scram_alg;

/* Set the account password: derive and store the secrets, in one
 * transaction, replacing the old ones. The password itself is not kept.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_password_set(mox_store *store, const char *password);
/* Check a password against the bcrypt hash (constant time compare).
 * *ok_out false also when no password is set. Thread-safety: any thread. */
MOX_API mox_err mox_store_password_check(mox_store *store, const char *password,
                                         bool *ok_out);
/* Read the secrets (wipe them with mox_mem_wipe when done).
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_secrets_get(mox_store *store, mox_store_secrets *out);
/* CRAM-MD5 (RFC 2195): whether response_hex (32 hex digits) is
 * HMAC-MD5(password, challenge), from the stored states.
 * Thread-safety: any thread. */
MOX_API bool mox_store_cram_md5_verify(const mox_store_secrets *s,
                                       const void *challenge, size_t len,
                                       const char *response_hex);
/* SCRAM (RFC 5802 section 3): check the client's proof over auth_message
 * (client-first-bare "," server-first "," client-final-without-proof) and
 * compute the ServerSignature for the server-final message.
 * *ok_out says whether the proof is right. sig_out holds 32 bytes; *sig_len_out
 * gets 20 or 32. Thread-safety: any thread. */
MOX_API mox_err mox_store_scram_verify(const mox_store_secrets *s,
                                       mox_store_scram_alg alg,
                                       const void *auth_message, size_t len,
                                       const uint8_t *proof, size_t proof_len,
                                       bool *ok_out, uint8_t sig_out[32],
                                       size_t *sig_len_out);

/* ---- maintenance: verify, backup, import, export ---- */

typedef struct mox_store_verify_opts {
	size_t size;                /* sizeof(mox_store_verify_opts) */
	bool fix;                   /* move unknown message files to
	                               <data>/moved/, remove staged leftovers */
	mox_store_report_fn report; /* each problem and fix; may be NULL */
	void *arg;
} mox_store_verify_opts;

typedef struct mox_store_verify_result {
	size_t accounts;
	size_t messages;      /* rows checked */
	size_t errors;        /* database problems: bad rows, missing files,
	                         wrong sizes, counts, UIDs, integrity */
	size_t unknown_files; /* files in msg/ without a row */
	size_t tmp_files;     /* staged leftovers in tmp/ */
	size_t fixed;         /* files moved or removed */
} mox_store_verify_result;

/* Check every account under data_dir/accounts (mox verifydata): database
 * integrity (PRAGMA integrity_check, foreign keys), schema version, each
 * message row has its file with the right size, no unknown files, UIDs
 * below UIDNEXT, UIDVALIDITY below the account's next, counts and quota
 * totals right. Accounts must not be open (the lock is taken; MOX_ESTATE).
 * Returns MOX_OK when it could check (see the result for problems).
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_verify(const char *data_dir,
                                 const mox_store_verify_opts *opts,
                                 mox_store_verify_result *res_out);

typedef struct mox_store_backup_opts {
	size_t size;                /* sizeof(mox_store_backup_opts) */
	mox_store_report_fn report; /* may be NULL */
	void *arg;
} mox_store_backup_opts;

/* Back the open account up into dest_account_dir (which must not exist):
 * a consistent copy of the database with SQLite's backup API, then every
 * message file it lists hard linked (copied across file systems), all
 * synced. Writes wait meanwhile (linking is quick). *files_out (if not
 * NULL) gets the number of message files. Thread-safety: any thread. */
MOX_API mox_err mox_store_backup_account(mox_store *store, const char *dest_account_dir,
                                         const mox_store_backup_opts *opts,
                                         size_t *files_out);
/* Back up every account of data_dir into dest_dir/accounts/ (mox backup);
 * accounts must not be open elsewhere. Thread-safety: any thread. */
MOX_API mox_err mox_store_backup(const char *data_dir, const char *dest_dir,
                                 const mox_store_backup_opts *opts);

typedef enum mox_store_format {
	MOX_STORE_MAILDIR, /* cur/ new/ tmp/, flags in names, dovecot-keywords */
	MOX_STORE_MBOX,    /* mboxrd, RFC 4155 */
} mox_store_format;

typedef struct mox_store_import_opts {
	size_t size;                /* sizeof(mox_store_import_opts) */
	mox_store_report_fn report; /* progress and skipped messages */
	void *arg;
	size_t progress_every; /* progress line every n messages; 0: 1000 */
} mox_store_import_opts;

typedef struct mox_store_import_result {
	size_t imported;
	size_t skipped; /* messages that could not be read or stored */
	uint64_t bytes;
} mox_store_import_result;

/* Import a maildir (cur/ and new/; flags from ":2," names, keywords via
 * dovecot-keywords) or an mbox file into mailbox (created if missing).
 * Line endings become CRLF. Each message is added whole or not at all (a
 * failed one is reported and skipped); messages are committed in groups.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_import(mox_store *store, mox_store_format format,
                                 const char *mailbox, const char *src,
                                 const mox_store_import_opts *opts,
                                 mox_store_import_result *res_out);

typedef struct mox_store_export_opts {
	size_t size; /* sizeof(mox_store_export_opts) */
	mox_store_report_fn report;
	void *arg;
} mox_store_export_opts;

typedef struct mox_store_export_result {
	size_t mailboxes;
	size_t messages;
	size_t errors; /* messages skipped (unreadable); also in errors.txt */
} mox_store_export_result;

/* Export mailbox (NULL: all) to dst_dir as mox does: per mailbox a
 * maildir "<name>/" (flags in file names, dovecot-keywords) or an mbox
 * "<name>.mbox" with Status/X-Status/X-Keywords headers, in both cases
 * with LF line endings; mbox lines matching ">*From " get one more ">"
 * (mboxrd). Existing files are not overwritten (MOX_EEXIST).
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_export(mox_store *store, mox_store_format format,
                                 const char *dst_dir, const char *mailbox,
                                 const mox_store_export_opts *opts,
                                 mox_store_export_result *res_out);

/* ---- formats, exposed for tools and tests ---- */

/* Flags from a maildir file name's info part (":2,FRS..."); letters a-z
 * index keywords, which are looked up in keywords (from dovecot-keywords,
 * index = letter - 'a'; NULL entries skipped). Well-known keywords become
 * flags; others are appended (lower case) to kw_out as space separated
 * text. Thread-safety: per kw_out. */
MOX_API mox_err mox_store_maildir_flags(const char *filename,
                                        const char *const *keywords, size_t nkeywords,
                                        unsigned *flags_out, mox_buf *kw_out);

/* Parse a dovecot-keywords file ("<index> <keyword>" lines, index 0..25):
 * out[index] = lower-cased keyword (allocated with alloc) or NULL. Bad
 * lines are skipped and counted in *bad_out. Free with
 * mox_store_keywords_free. Thread-safety: any thread. */
MOX_API mox_err mox_store_dovecot_keywords_parse(const uint8_t *data, size_t len,
                                                 const mox_allocator *alloc,
                                                 char *out[26], size_t *bad_out);
MOX_API void mox_store_keywords_free(const mox_allocator *alloc, char *kw[26]);

/* mbox reader (mboxrd, RFC 4155): feed bytes, take messages. Each message
 * comes with CRLF line endings, one level of ">From " quoting undone, and
 * flags from Status, X-Status and X-Keywords. */
typedef struct mox_store_mbox mox_store_mbox;

typedef struct mox_store_mbox_msg {
	const uint8_t *data; /* borrowed until the next call */
	size_t len;
	unsigned flags;
	const char *keywords; /* space separated */
	int64_t received;     /* from the "From " line; 0 if unreadable */
	size_t line;          /* line number of the "From " line */
} mox_store_mbox_msg;

/* max_message: largest message accepted (0: 1 GiB); larger is MOX_ELIMIT.
 * Thread-safety: any thread. */
MOX_API mox_err mox_store_mbox_new(mox_store_mbox **mb_out, size_t max_message,
                                   const mox_allocator *alloc);
/* Copy len bytes in. Thread-safety: per handle. */
MOX_API mox_err mox_store_mbox_feed(mox_store_mbox *mb, const void *data, size_t len);
/* Input ended (further next() calls flush the last message).
 * Thread-safety: per handle. */
MOX_API void mox_store_mbox_end(mox_store_mbox *mb);
/* MOX_OK with a message, MOX_EAGAIN when more input is needed, MOX_ENOTFOUND
 * after the last message, MOX_ESYNTAX if the data does not start with
 * "From ", MOX_ELIMIT. Thread-safety: per handle. */
MOX_API mox_err mox_store_mbox_next(mox_store_mbox *mb, mox_store_mbox_msg *msg_out);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_store_mbox_free(mox_store_mbox *mb);

/* Relative path of message id's file in msg/, as mox names it: "<shard>/<id>"
 * with 8192 ids per shard directory. Thread-safety: any thread. */
MOX_API void mox_store_message_path(int64_t id, char out[32]);

#ifdef __cplusplus
}
#endif
#endif
