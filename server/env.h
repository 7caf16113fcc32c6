/* The environment SMTP and IMAP sessions run in: what they need from the
 * server around them, so the same session code serves `mox localserve`
 * (every address is the one account, server/localserve.c) and `mox serve`
 * (accounts, addresses and domains from domains.conf, server/serve.c).
 *
 * The functions are called from the loop thread and from worker threads
 * (deliveries run on the libuv threadpool): implementations are
 * thread-safe. Stores handed out stay open until the server ends (one
 * handle per account: libmoxstore locks an account to one handle). */
#ifndef MOX_SERVER_ENV_H
#define MOX_SERVER_ENV_H

#include "net.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct mox_store mox_store;
struct mox_smtp_limits;

/* Listener kinds. */
enum {
	ENV_SMTP,
	ENV_SUBMISSION,  /* STARTTLS */
	ENV_SUBMISSIONS, /* implicit TLS */
	ENV_IMAP,        /* STARTTLS */
	ENV_IMAPS,       /* implicit TLS */
};

/* Where mail for a recipient goes. */
typedef enum env_dest {
	ENV_DEST_OK = 0,
	ENV_DEST_UNKNOWN = 1, /* no such user, or not our domain: 550 */
	ENV_DEST_TEMP = 2,    /* could not open the account: 451 */
} env_dest;

/* An authenticated submission, for server_env.submit. */
typedef struct env_submission {
	const char *account;  /* the authenticated account */
	const char *mailfrom; /* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpt;
	bool smtputf8;
	bool ehlo;               /* EHLO, not HELO */
	bool tls;                /* the session is TLS */
	const char *tls_comment; /* "(TLS1.3 TLS_AES_...)" or "" */
	const char *local_ip;    /* the address the client connected to */
	/* Received and Authentication-Results as the session would add them
	 * (used when the server has no submission preparation of its own). */
	const uint8_t *prefix;
	size_t prefix_len;
	const uint8_t *data; /* the message as received */
	size_t len;
	uint64_t cid;
} env_submission;

typedef struct server_env server_env;
struct server_env {
	const char *hostname;  /* ours: greeting, Received, Authentication-Results */
	const char *spool_dir; /* for large messages being received */
	uv_loop_t *loop;
	tls_config *tls; /* STARTTLS and implicit TLS */
	net_limits *limits;
	const struct mox_smtp_limits *smtp_limits; /* NULL: the core's defaults */
	/* mox localserve's behaviour: special local parts, submitted mail
	 * delivered locally. */
	bool localserve;
	/* Set when the server is stopping: new connections get a "try again
	 * later" and are closed. */
	atomic_bool stopping;
	/* The account of a login name (an address or an account name): its
	 * open store and its name. 0, or -1 for an unknown login. */
	int (*login)(server_env *e, const char *login, mox_store **store_out,
	             char *account, size_t accountlen);
	/* Where mail for address goes: the account's store and the mailbox
	 * (from the destination, "Inbox" when not set). why says what went
	 * wrong otherwise. */
	env_dest (*destination)(server_env *e, const char *address,
	                        mox_store **store_out, char *mailbox, size_t mailboxlen,
	                        char *why, size_t whylen);
	/* Check, prepare and queue an authenticated submission for delivery.
	 * 0, or -1 with the SMTP reply in *code, *se (RFC 3463, as
	 * mox_smtp_se) and why. NULL: submissions are delivered locally to the
	 * recipients' destinations (localserve). Runs on a worker thread. */
	int (*submit)(server_env *e, const env_submission *sub, int *code, int *se,
	              char *why, size_t whylen);
	void *arg;
};

/* The SMTP protocol for a listener kind (ENV_SMTP, ENV_SUBMISSION,
 * ENV_SUBMISSIONS), server/smtp_session.c. One env per process. */
const proto *env_smtp_proto(server_env *e, int kind);
/* The IMAP protocol, server/imap_session.c. */
const proto *env_imap_proto(server_env *e);

/* Store prefix + data as one message in mailbox (made if missing), durably
 * (DESIGN.md "Nothing lost"). Blocks: call on a worker thread. *uid_out
 * (may be NULL) gets its UID; on error why says what went wrong.
 * server/account.c. */
mox_err env_store_message(mox_store *store, const char *mailbox, const void *prefix,
			  size_t prefixlen, const void *data, size_t len, uint32_t *uid_out,
			  char *why, size_t whylen);

#endif
