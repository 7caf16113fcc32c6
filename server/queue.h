/* The outgoing queue (issue #12): durable storage of messages waiting for
 * delivery, the retry schedule, the choice of hosts to deliver to, the
 * delivery attempts and the scheduler on the libuv loop.
 *
 * Layout (DESIGN.md "Data directory"):
 *   <data>/queue/index.db   SQLite, WAL: one row per recipient
 *   <data>/queue/<base>     the message file, shared by the rows of one
 *                           submission (base = id of its first row)
 *
 * Durability (DESIGN.md "Nothing lost"): queue_store_add returns success
 * only after the message file is written and fsynced, the directory is
 * fsynced and the rows are committed (WAL, synchronous=FULL). A crash
 * leaves either all of it or an unreferenced file, removed at the next open.
 *
 * The parts:
 *   queue_store.c    SQLite rows + files: add, list, kick, drop, attempts
 *   queue_backoff.c  retry schedule as mox (RFC 5321 section 4.5.4.1)
 *   queue_hosts.c    MX/CNAME/implicit MX/null MX, addresses (RFC 5321
 *                    section 5.1, RFC 7505)
 *   queue_smtp.c     a blocking SMTP client for one delivery attempt,
 *                    STARTTLS with mbedTLS, DANE (RFC 7672) checks
 *   queue_deliver.c  one delivery attempt of one row, result handling
 *   queue_dsn.c      delivery status notifications (RFC 3464)
 *   queue_run.c      the scheduler on the libuv loop
 *   queue_cli.c      mox queue list|dump|drop|kick
 *
 * Server-internal API (not a library): functions return mox_err and write a
 * message into errbuf when given. */
#ifndef MOX_SERVER_QUEUE_H
#define MOX_SERVER_QUEUE_H

#include <mox/core.h>
#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the retry schedule ---- */

/* mox: attempts at 0, 7.5m, 15m, 30m, 1h, 2h (delay DSN), 4h, 8h, 16h
 * (failure DSN): RFC 5321 section 4.5.4.1 asks for at least 30 minutes
 * between retries and 4-5 days of trying; mox gives up after about 32
 * hours, and so do we by default. */
#define QUEUE_BACKOFF_FIRST_MS (7 * 60 * 1000 + 30 * 1000)
#define QUEUE_MAX_ATTEMPTS_DEFAULT 8
#define QUEUE_DELAY_DSN_ATTEMPT 5
#define QUEUE_BACKOFF_JITTER_MS 5000

/* The wait after attempt number attempt (1 for the first) failed: first_ms
 * doubled attempt-1 times, plus jitter_ms (may be negative; callers pass a
 * random value in [-QUEUE_BACKOFF_JITTER_MS, +QUEUE_BACKOFF_JITTER_MS]).
 * Saturates instead of overflowing. Thread-safety: any thread. */
int64_t queue_backoff_ms(unsigned attempt, int64_t first_ms, int64_t jitter_ms);

/* ---- rows ---- */

/* RequireTLS of a message (RFC 8689): unset (policy of the server), the
 * REQUIRETLS MAIL parameter was given, or "TLS-Required: No" was set. */
typedef enum queue_requiretls {
	QUEUE_REQUIRETLS_DEFAULT = 0,
	QUEUE_REQUIRETLS_YES = 1,
	QUEUE_REQUIRETLS_NO = 2,
} queue_requiretls;

/* One queued recipient, as mox's queue.Msg. Strings are owned by the row
 * and released with queue_msg_clear. Times are milliseconds since the Unix
 * epoch, 0 for "never". */
typedef struct queue_msg {
	int64_t id;
	int64_t base_id; /* message file <data>/queue/<base_id> */
	int64_t queued;
	char *sender_account;   /* local account for failure DSNs; may be "" */
	char *sender;           /* MAIL FROM address; "" for the null sender */
	char *recipient;        /* RCPT TO address, localpart@domain */
	char *recipient_domain; /* lower case A-labels, or "[ip]": grouping */
	unsigned attempts;
	unsigned max_attempts; /* give up after this many; 0: default */
	int64_t next_attempt;
	int64_t last_attempt;
	char *last_error;
	char *dialed_ips; /* "host ip,host ip": mox's DialedIPs, for ordering */
	bool has8bit;     /* 8BITMIME needed (RFC 6152) */
	bool smtputf8;    /* SMTPUTF8 needed (RFC 6531) */
	bool is_dsn;      /* a DSN we made: never answered with a DSN */
	bool hold;        /* not delivered until released */
	bool delay_dsn_sent;
	queue_requiretls requiretls;
	int64_t size;    /* prefix + file */
	uint8_t *prefix; /* headers added in front of the file (Received,
	                    DKIM-Signature), may be NULL */
	size_t prefix_len;
	char *transport;    /* "" for direct delivery, else a transport name */
	char *dsn_notify;   /* RFC 3461 NOTIFY= ("" when not given) */
	char *dsn_envid;    /* RFC 3461 ENVID= */
	char *dsn_orcpt;    /* RFC 3461 ORCPT= */
	bool dsn_ret_full;  /* RFC 3461 RET=FULL */
	int64_t release_at; /* FUTURERELEASE (RFC 4865): not before; 0 */
} queue_msg;

void queue_msg_clear(queue_msg *m);
void queue_msgs_free(queue_msg *msgs, size_t n);

/* What a submission gives for queue_store_add. */
typedef struct queue_add_req {
	const char *sender_account;
	const char *sender; /* "" for the null sender */
	const char *const *recipients;
	size_t nrecipients;
	bool has8bit, smtputf8, is_dsn;
	queue_requiretls requiretls;
	const uint8_t *prefix; /* may be NULL */
	size_t prefix_len;
	const uint8_t *data; /* the message */
	size_t data_len;
	const char *transport;                          /* NULL or "" for direct */
	const char *dsn_notify, *dsn_envid, *dsn_orcpt; /* NULL: not given */
	bool dsn_ret_full;
	int64_t release_at; /* 0: now */
	bool hold;
	unsigned max_attempts; /* 0: default */
} queue_add_req;

/* Which rows an operation acts on: all set fields must match; all unset
 * (zero/NULL) means every row. */
typedef struct queue_filter {
	int64_t id;            /* 0: any */
	const char *to_domain; /* recipient_domain, case-insensitive */
	const char *recipient; /* whole address, domain case-insensitive */
	const char *transport; /* "" direct, NULL any */
} queue_filter;

typedef struct queue_store queue_store;

/* Open (creating if needed) <data_dir>/queue and its index.db, and remove
 * message files no row refers to (left by a crash between file sync and
 * commit). Thread-safety: any thread; the handle locks internally, and
 * several processes may open the same queue (SQLite locking). */
mox_err queue_store_open(const char *data_dir, queue_store **qs_out, char *errbuf,
                         size_t errlen);
void queue_store_close(queue_store *qs);
/* Path of the queue directory ("<data>/queue"). Borrowed. */
const char *queue_store_dir(const queue_store *qs);

/* Add a message for each recipient: file written, fsynced, directory
 * fsynced, rows committed, in that order, before it returns MOX_OK.
 * ids_out (may be NULL) gets nrecipients row ids. Recipient addresses must
 * be localpart@domain (domain lower-cased in recipient_domain; an address
 * literal "[1.2.3.4]" is kept as is). */
mox_err queue_store_add(queue_store *qs, const queue_add_req *req, int64_t now_ms,
                        int64_t *ids_out, char *errbuf, size_t errlen);

/* Rows matching f, ordered by next attempt then id. */
mox_err queue_store_list(queue_store *qs, const queue_filter *f, queue_msg **msgs_out,
                         size_t *n_out, char *errbuf, size_t errlen);
/* Rows due at now_ms (next_attempt <= now, not held), earliest first, at
 * most limit. */
mox_err queue_store_due(queue_store *qs, int64_t now_ms, size_t limit,
                        queue_msg **msgs_out, size_t *n_out, char *errbuf,
                        size_t errlen);
/* As queue_store_due, leaving out rows whose domain is in busy[0..nbusy)
 * (the scheduler's domains at their connection limit). */
mox_err queue_store_due_except(queue_store *qs, int64_t now_ms,
                               const char *const *busy, size_t nbusy, size_t limit,
                               queue_msg **msgs_out, size_t *n_out, char *errbuf,
                               size_t errlen);
/* Earliest next_attempt after now_ms of a row not held (an index lookup);
 * MOX_ENOTFOUND when there is none. */
mox_err queue_store_next_after(queue_store *qs, int64_t now_ms, int64_t *when_out,
                               char *errbuf, size_t errlen);
/* Earliest next_attempt of a row not held whose domain is not in
 * busy[0..nbusy); MOX_ENOTFOUND when there is none. */
mox_err queue_store_next_due(queue_store *qs, const char *const *busy, size_t nbusy,
                             int64_t *when_out, char *errbuf, size_t errlen);
mox_err queue_store_get(queue_store *qs, int64_t id, queue_msg *m_out, char *errbuf,
                        size_t errlen);
size_t queue_store_count(queue_store *qs);

/* mox queue kick: set next_attempt to now_ms for matching rows (and the
 * transport when transport is not NULL); held rows are released. */
mox_err queue_store_kick(queue_store *qs, const queue_filter *f, const char *transport,
                         int64_t now_ms, size_t *n_out, char *errbuf, size_t errlen);
/* mox queue drop: remove matching rows, and message files left without
 * rows. */
mox_err queue_store_drop(queue_store *qs, const queue_filter *f, size_t *n_out,
                         char *errbuf, size_t errlen);
/* Hold or release matching rows. */
mox_err queue_store_hold(queue_store *qs, const queue_filter *f, bool hold,
                         size_t *n_out, char *errbuf, size_t errlen);

/* Record the start of an attempt before making it, as mox does, so a crash
 * during the attempt does not make a retry storm: attempts + 1, last
 * attempt now, next attempt now + backoff. *m is updated too. */
mox_err queue_store_attempt_begin(queue_store *qs, queue_msg *m, int64_t now_ms,
                                  int64_t backoff_ms, char *errbuf, size_t errlen);
/* A failed attempt that will be retried: keep the error (and the delay-DSN
 * mark, dialed IPs). */
mox_err queue_store_attempt_fail(queue_store *qs, const queue_msg *m, char *errbuf,
                                 size_t errlen);
/* Delivered, or failed for good: remove the row, and the message file
 * when it was the last row using it. */
mox_err queue_store_remove(queue_store *qs, int64_t id, char *errbuf, size_t errlen);

/* The whole message as delivered: prefix followed by the file. Caller
 * frees *data_out with free(). */
mox_err queue_store_read_message(queue_store *qs, const queue_msg *m,
                                 uint8_t **data_out, size_t *len_out, char *errbuf,
                                 size_t errlen);

/* ---- hosts (queue_hosts.c) ---- */

#define QUEUE_CNAME_MAX 16 /* as mox: CNAME chains followed for the domain */
#define QUEUE_HOSTS_MAX 32
#define QUEUE_IPS_MAX 16

typedef struct queue_host {
	char name[MOX_DNS_NAME_MAX + 1]; /* host name, or an IP literal */
	uint16_t preference;
	bool is_ip; /* an address literal: name is the IP */
} queue_host;

typedef struct queue_hosts {
	queue_host host[QUEUE_HOSTS_MAX];
	size_t n;
	char effective_domain[MOX_DNS_NAME_MAX + 1]; /* after CNAMEs */
	bool authentic; /* MX (and CNAME) answers DNSSEC-authenticated */
	bool implicit;  /* no MX: the domain itself (RFC 5321 section 5.1) */
} queue_hosts;

/* Outcome of host selection: OK (hosts set), temporary (try later) or
 * permanent failure (null MX, NXDOMAIN, CNAME loop). */
typedef enum queue_result {
	QUEUE_OK = 0,
	QUEUE_TEMPORARY = 1,
	QUEUE_PERMANENT = 2,
} queue_result;

/* The hosts to try for domain (lower-case A-labels, or "[ip]"): MX records
 * by preference, equal preferences in random order (rand_seed picks the
 * order; pass a random value), following CNAMEs of the domain as mox does.
 * why (whylen bytes) says what went wrong for TEMPORARY/PERMANENT.
 * Thread-safety: any thread (resolver permitting). */
queue_result queue_hosts_gather(const mox_resolver *r, const char *domain,
                                uint64_t rand_seed, queue_hosts *out, char *why,
                                size_t whylen);

typedef struct queue_ip {
	char text[64]; /* "192.0.2.1" or "2001:db8::1" */
	bool v6;
} queue_ip;

typedef struct queue_ips {
	queue_ip ip[QUEUE_IPS_MAX];
	size_t n;
	bool authentic; /* all address answers DNSSEC-authenticated */
	bool dualstack;
} queue_ips;

/* Addresses of host: AAAA then A. An address literal gives itself.
 * prev_ip (may be NULL or "") is the address of the previous attempt to
 * this host: as mox, the next attempt prefers the other address family
 * (one of our addresses may be on a block list). */
queue_result queue_hosts_ips(const mox_resolver *r, const queue_host *h,
                             const char *prev_ip, queue_ips *out, char *why,
                             size_t whylen);

/* ---- settings (filled by the config later; tests fill them directly) ---- */

struct mox_mtasts_policy;

/* A transport other than direct delivery: a smarthost (mox's
 * TransportSMTP/TransportSubmission). */
typedef struct queue_smarthost {
	const char *name;       /* the transport's name, as in queue_msg.transport */
	const char *host;       /* host name or IP */
	uint16_t port;          /* 0: 587, or 465 with implicit_tls */
	bool implicit_tls;      /* TLS from the start (RFC 8314) */
	bool starttls_optional; /* false: STARTTLS required */
	bool tls_insecure;      /* do not check the certificate */
	const char *username;   /* NULL: no AUTH */
	const char *password;
} queue_smarthost;

/* Local delivery result codes for deliver_local. */
enum { QUEUE_LOCAL_OK = 0, QUEUE_LOCAL_TEMPORARY = 1, QUEUE_LOCAL_PERMANENT = 2 };

typedef struct queue_settings {
	const char *data_dir;         /* required */
	const char *hostname;         /* required: EHLO, Reporting-MTA, DSN From */
	const char *postmaster;       /* DSN From local part; NULL: "postmaster" */
	const mox_resolver *resolver; /* required */
	uint16_t smtp_port;           /* 0: 25. Tests deliver to 127.0.0.x:port */
	int64_t backoff_first_ms;     /* 0: QUEUE_BACKOFF_FIRST_MS */
	bool no_jitter;
	unsigned max_attempts;      /* 0: QUEUE_MAX_ATTEMPTS_DEFAULT */
	unsigned delay_dsn_attempt; /* 0: QUEUE_DELAY_DSN_ATTEMPT */
	size_t max_concurrent;      /* deliveries at once; 0: 10 (mox) */
	size_t max_per_domain;      /* per recipient domain at once; 0: 1 (mox) */
	int connect_timeout_ms;     /* 0: 30 s */
	int io_timeout_ms;          /* 0: 5 min */
	const char *ca_file;        /* PKIX checks; NULL: the system's */
	bool no_dane;               /* do not look up TLSA records */
	const queue_smarthost *transports;
	size_t ntransports;
	/* Recipient domains delivered to local accounts (NULL: none). */
	bool (*is_local)(void *arg, const char *domain);
	/* Deliver a whole message to the local recipient m->recipient:
	 * QUEUE_LOCAL_*. Runs on a worker thread. */
	int (*deliver_local)(void *arg, const queue_msg *m, const uint8_t *data,
	                     size_t len, char *why, size_t whylen);
	void *local_arg;
	/* MTA-STS policy of a domain (libmoxmtasts cache): 0 with *policy_out
	 * (a copy the queue frees with mox_mtasts_policy_free, NULL for
	 * none) and *fresh_out; -1 when it could not be had. NULL: no
	 * MTA-STS. Runs on a worker thread. */
	int (*mtasts_policy)(void *arg, const char *domain,
	                     struct mox_mtasts_policy **policy_out, bool *fresh_out);
	void *mtasts_arg;
	/* Log lines (NULL: stderr). */
	void (*log)(void *arg, const char *level, const char *line);
	void *log_arg;
	/* Clock in ms since the epoch (NULL: real time); tests move time. */
	int64_t (*now)(void *arg);
	void *now_arg;
} queue_settings;

int64_t queue_now(const queue_settings *s);
void queue_log(const queue_settings *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- one delivery attempt (queue_deliver.c) ---- */

typedef enum queue_outcome {
	QUEUE_DELIVERED = 0, /* row removed */
	QUEUE_RETRY = 1,     /* row kept, next attempt scheduled */
	QUEUE_FAILED = 2,    /* row removed, failure DSN queued */
	QUEUE_GONE = 3,      /* row no longer there (dropped meanwhile) */
} queue_outcome;

/* Attempt delivery of m (a row read from the store) now: registers the
 * attempt, delivers (local, smarthost or direct), and updates or removes
 * the row, queueing a DSN where one is due. Blocking: run it on a worker
 * thread. Thread-safety: any thread. */
queue_outcome queue_deliver(const queue_settings *s, queue_store *qs, queue_msg *m);

/* ---- DSNs (queue_dsn.c) ---- */

typedef enum queue_dsn_action {
	QUEUE_DSN_FAILED = 0,  /* RFC 3464 section 2.3.3 "failed" */
	QUEUE_DSN_DELAYED = 1, /* "delayed" */
} queue_dsn_action;

/* Compose a DSN for m (RFC 3464: multipart/report with a human part, a
 * message/delivery-status part, and the original headers or message) and
 * add it to the queue to m->sender with the null reverse path. Nothing is
 * sent for a DSN, for the null sender, or when NOTIFY excludes it
 * (RFC 3461 section 4.1). remote_mta may be "" or NULL; status is an
 * RFC 3463 code ("5.0.0"). Returns MOX_OK also when nothing was due. */
mox_err queue_dsn_queue(const queue_settings *s, queue_store *qs, const queue_msg *m,
                        queue_dsn_action action, const char *status,
                        const char *remote_mta, const char *diagnostic,
                        int64_t will_retry_until, char *errbuf, size_t errlen);

/* The DSN message text (exposed for tests). Caller frees *msg_out. */
mox_err queue_dsn_compose(const queue_settings *s, const queue_msg *m,
                          const uint8_t *orig, size_t orig_len, queue_dsn_action action,
                          const char *status, const char *remote_mta,
                          const char *diagnostic, int64_t will_retry_until,
                          char **msg_out, size_t *len_out);

/* ---- the scheduler on the libuv loop (queue_run.c) ---- */

typedef struct queue queue;
struct uv_loop_s;

/* Open the queue (queue_store_open) and start delivering on loop: a timer
 * wakes at the next due time; each attempt runs on the libuv threadpool;
 * at most max_concurrent at once and max_per_domain per recipient domain.
 * *s is copied (its strings and callbacks must outlive the queue). */
mox_err queue_start(struct uv_loop_s *loop, const queue_settings *s, queue **q_out,
                    char *errbuf, size_t errlen);
/* The store of a running queue, for adds from the submission path (on
 * the threadpool) and for the ctl commands. */
queue_store *queue_get_store(queue *q);
/* Look for due work now (after an add or a kick). Thread-safety: any
 * thread (uv_async). */
void queue_wake(queue *q);
/* Stop: no new attempts; attempts running finish (their rows are safe:
 * the attempt was registered before it started). done(arg) runs on the
 * loop once everything is closed and freed. Call on the loop thread. */
void queue_stop(queue *q, void (*done)(void *arg), void *arg);
/* Deliveries running now (for tests). */
size_t queue_busy(const queue *q);

/* ---- mox queue ... (queue_cli.c) ---- */

/* "mox queue list|dump|drop|kick|hold|release ..." working directly on
 * <data>/queue/index.db. argv[0] is "queue". Returns the exit code. */
int queue_cli_main(int argc, char **argv);

#endif
