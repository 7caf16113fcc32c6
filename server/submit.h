/* submit.h -- message submission (RFC 6409) after DATA/BDAT: the checks,
 * header additions and DKIM signing mox does for mail from its own
 * authenticated users, and handing the result to the outgoing queue.
 *
 * The order, as mox's smtpserver does it:
 *   1. at MAIL: submit_check_mail_from (the reverse path must be an address
 *      of the authenticated account);
 *   2. after DATA: submit_check_from (exactly one From address, RFC 5322
 *      section 3.6.2, of the account; MAIL FROM checked again);
 *   3. submit_prepare: header prefix Received, Message-Id (if missing),
 *      Date (if missing), DKIM-Signature(s) of the From domain's Sign
 *      selectors, Authentication-Results "auth=pass";
 *   4. submit_enqueue: one queue_store_add for the remote recipients with
 *      the prefix, has8bit detected, SMTPUTF8/REQUIRETLS/DSN/FUTURERELEASE
 *      from the MAIL parameters; local recipients either through the
 *      callback or, as mox does, through the queue too.
 *
 * Every function here is pure computation plus, for submit_enqueue, the
 * queue's own SQLite and file writes: no libuv, no sockets. Call them from
 * a threadpool job. Replies are filled in as mox words them, for the
 * session to send as they are.
 *
 * mox does not put a copy of submitted mail in the Sent mailbox for SMTP
 * submission (mail clients APPEND it over IMAP; only mox's webmail saves
 * to Sent). The optional save_sent callback of submit_enqueue_req lets a
 * caller do it anyway ("when asked").
 *
 * Server-internal (not a library).
 */
#ifndef MOX_SERVER_SUBMIT_H
#define MOX_SERVER_SUBMIT_H

#include "config.h"
#include "queue.h"

#include <mox/core.h>
#include <mox/dkim.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An SMTP reply for the session to send: code, enhanced code (RFC 3463)
 * and text, as mox words them. code 0 means "no reply set" (success). */
typedef struct submit_reply {
	int code;       /* 250, 451, 550, 554 */
	char ecode[16]; /* "5.7.1" */
	char text[256];
} submit_reply;

/* The message From address, as found by submit_check_from. */
typedef struct submit_from {
	char localpart[256];       /* as written, unquoted */
	char domain[256];          /* lower-case A-labels as in domains.conf */
	const mox_cfg_domain *dom; /* config domain, borrowed from the config */
} submit_from;

/* Is mail_from (MAIL FROM, "localpart@domain") an address of account
 * (exact, catchall-separator stripped, or the domain's catchall "@domain",
 * as mox's LookupAddress)? The null reverse path "" is refused too.
 * false: *reply is 550 5.7.1 "mail from address must belong to
 * authenticated user". Thread-safety: any thread (cfg is not modified). */
bool submit_check_mail_from(const mox_config_dynamic *cfg, const char *account,
                            const char *mail_from, submit_reply *reply);

/* Check the message header: exactly one From field holding exactly one
 * address (RFC 5322 section 3.6.2), belonging to account; and mail_from as
 * submit_check_mail_from. On success *from_out (may be NULL) is filled.
 * false: *reply says why, as mox:
 *   550 5.6.0 "cannot parse header or From address: ..." (no From, two
 *             From fields, more than one address, unparsable);
 *   550 5.7.1 "message from address must belong to authenticated user";
 *   550 5.7.1 "mail from address must belong to authenticated user".
 * Thread-safety: any thread. */
bool submit_check_from(const mox_config_dynamic *cfg, const char *account,
                       const char *mail_from, const uint8_t *msg, size_t len,
                       submit_from *from_out, submit_reply *reply);

/* ---- DKIM key cache ---- */

/* Parsed DKIM private keys by file name, loaded on first use and kept.
 * Thread-safety: any thread (internal mutex); keys are immutable once
 * parsed and used by many signers at once. */
typedef struct submit_keys submit_keys;

mox_err submit_keys_new(submit_keys **keys_out);
/* NULL is a no-op. No signing may be running. */
void submit_keys_free(submit_keys *keys);
/* Forget all keys (after a config reload changed key files). Keys in use by
 * a running submit_prepare stay valid: they are freed with the cache. */
void submit_keys_flush(submit_keys *keys);
/* The key in path (parsed once). Borrowed until submit_keys_free.
 * MOX_EIO (cannot read), MOX_ESYNTAX/MOX_ERANGE (not a usable key). */
mox_err submit_keys_get(submit_keys *keys, const char *path,
                        const mox_dkim_key **key_out, char *errbuf, size_t errlen);

/* ---- preparing the prefix ---- */

typedef struct submit_env {
	const char *hostname;  /* our host name, ASCII (Received, Message-Id) */
	const char *local_ip;  /* address we accepted on, "127.0.0.1"; NULL: none */
	const char *mail_from; /* MAIL FROM address */
	const char *const *recipients; /* RCPT TO addresses */
	size_t nrecipients;
	bool ehlo;               /* EHLO (not HELO) */
	bool tls;                /* the session is TLS */
	const char *tls_comment; /* e.g. "(TLS1.3 TLS_AES_128_GCM_SHA256)", NULL */
	bool smtputf8;           /* SMTPUTF8 given at MAIL */
	const char *received_id; /* Received "id"; NULL: a random one */
	int64_t now;             /* seconds since the epoch; 0: the clock */
} submit_env;

/* Build the header prefix for the message msg (as received, CRLF):
 *   Received: from <hostname> by <hostname> (<[local_ip]>) via tcp with
 *     ESMTPSA id <id> <tls_comment> [for <rcpt> when one recipient]; <date>
 *   Message-Id: <random@hostname>     only when the message has none
 *   Date: <now>                       only when the message has none
 *   DKIM-Signature: ...               one per Sign selector of from->dom
 *   Authentication-Results: <hostname>; auth=pass smtp.mailfrom=<mail_from>
 * The signatures are made over Message-Id/Date + msg, i.e. the message as
 * it will be delivered (Received and Authentication-Results are not in
 * any signed header list by default). A selector whose key cannot be
 * loaded or whose signing fails is left out (mox logs it and sends
 * unsigned); *dkim_errors_out (may be NULL) counts those, and the first
 * error is in errbuf.
 * \param[out] prefix_out the prefix; free with free(); *prefix_len_out.
 * \return MOX_OK, MOX_EINVAL (env incomplete), MOX_ENOMEM.
 * Thread-safety: any thread. */
mox_err submit_prepare(const submit_env *env, const submit_from *from,
                       submit_keys *keys, const uint8_t *msg, size_t len,
                       uint8_t **prefix_out, size_t *prefix_len_out,
                       size_t *dkim_errors_out, char *errbuf, size_t errlen);

/* ---- queueing ---- */

/* Local delivery callback: deliver the whole message (prefix + msg) for
 * recipient rcpt to account/dest. 0: delivered; else failure (why says
 * what). Runs on the caller's thread. */
typedef int (*submit_deliver_fn)(void *arg, const mox_cfg_account *account,
                                 const mox_cfg_destination *dest, const char *rcpt,
                                 const uint8_t *prefix, size_t prefix_len,
                                 const uint8_t *msg, size_t len, char *why,
                                 size_t whylen);
/* Store a copy in the sender's Sent mailbox (prefix + msg). 0: done. */
typedef int (*submit_sent_fn)(void *arg, const char *account, const uint8_t *prefix,
                              size_t prefix_len, const uint8_t *msg, size_t len,
                              char *why, size_t whylen);

typedef struct submit_enqueue_req {
	const mox_config_dynamic *cfg;
	queue_store *qs;
	const char *account;   /* authenticated account */
	const char *mail_from; /* MAIL FROM address */
	const char *const *recipients;
	size_t nrecipients;
	const uint8_t *prefix; /* from submit_prepare */
	size_t prefix_len;
	const uint8_t *msg;
	size_t len;
	bool smtputf8;   /* SMTPUTF8 at MAIL (RFC 6531) */
	bool requiretls; /* REQUIRETLS at MAIL (RFC 8689 section 4.1); without it a
	                   "TLS-Required: No" field makes rows QUEUE_REQUIRETLS_NO
	                   (section 5), else QUEUE_REQUIRETLS_DEFAULT */
	const char *dsn_notify; /* RFC 3461, NULL: not given */
	const char *dsn_envid;
	const char *dsn_orcpt;
	bool dsn_ret_full;
	/* FUTURERELEASE (RFC 4865): mox_smtp_mail_params.release_at, in
	 * seconds since the epoch; 0 for none. Queued rows get next attempt
	 * (release_at) at this time. */
	int64_t release_at;
	const char *transport; /* NULL/"" direct */
	/* Local recipients (an address of an account in cfg): with deliver set
	 * they are delivered through it, else queued like remote ones (as mox:
	 * "we always deliver through the queue"). */
	submit_deliver_fn deliver;
	void *deliver_arg;
	/* With save_sent set, a copy goes to the account's Sent mailbox. */
	submit_sent_fn save_sent;
	void *sent_arg;
	int64_t now_ms; /* 0: the clock */
} submit_enqueue_req;

typedef struct submit_enqueue_result {
	size_t nqueued; /* rows added to the queue */
	size_t nlocal;  /* delivered through deliver */
	bool has8bit;   /* bytes >= 0x80 in prefix or message */
	bool sent_saved;
} submit_enqueue_result;

/* Queue (and locally deliver) the submitted message. On failure *reply is
 * 451 4.3.0 "error delivering message: ..." (mox's words) and nothing is
 * known to be queued (a local delivery done before a failing queue add
 * stays done: local recipients are delivered after the queue add).
 * Thread-safety: any thread (queue_store locks internally). */
mox_err submit_enqueue(const submit_enqueue_req *req, submit_enqueue_result *res_out,
                       submit_reply *reply);

/* bytes >= 0x80 anywhere (8BITMIME needed, RFC 6152). Thread-safety: any. */
bool submit_has8bit(const uint8_t *data, size_t len);

#endif
