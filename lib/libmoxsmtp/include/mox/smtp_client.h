/* mox/smtp_client.h -- the client side of SMTP (RFC 5321), sans-IO, for the
 * delivery queue and for submitting to a smarthost.
 *
 * What is here: one client connection (mox_smtp_client) as a state machine
 * over bytes. It reads the greeting (multi-line replies, 220 or a 554/4xx
 * refusal), says EHLO (HELO when EHLO gets a 5xx, RFC 5321 section
 * 3.2), learns the extensions (PIPELINING RFC 2920, SIZE RFC 1870,
 * 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, STARTTLS RFC 3207, AUTH RFC 4954,
 * CHUNKING RFC 3030, ENHANCEDSTATUSCODES RFC 2034, REQUIRETLS RFC 8689, DSN
 * RFC 3461, LIMITS RFC 9422), does STARTTLS by policy (the caller runs the
 * TLS handshake), AUTH with the best mechanism both sides have (mox/sasl.h),
 * and then mail transactions: MAIL FROM with SIZE/BODY/SMTPUTF8/REQUIRETLS
 * and DSN parameters, RCPT TO per recipient with each reply reported on its
 * own, the message as DATA (dot-stuffed, line endings made CRLF) or BDAT,
 * streamed from the caller's chunks and never held whole, PIPELINING of
 * MAIL/RCPT/DATA when offered, RSET after a failed transaction, and QUIT.
 *
 * Like the server core (mox/smtp.h), the client never touches a socket or a
 * clock. The caller feeds it what it read (mox_smtp_client_feed), asks for
 * events (mox_smtp_client_next, with the current time), writes out what
 * mox_smtp_client_output holds, and starts transactions and gives message
 * data when the events say so.
 *
 * Results. Every failure is a mox_smtp_client_result: the step that failed,
 * the reply code, enhanced status code and text when the server said
 * something, and a status telling a queue what to do with it: temporary
 * (4xx, protocol errors, time-outs, a lost connection: try again later or
 * at another host) or permanent (5xx, or a message this server cannot take
 * at all, such as 8-bit data for a server without 8BITMIME: send a DSN).
 * A recipient is delivered exactly when its EV_RCPT said ok and the
 * transaction's EV_DONE said ok; otherwise the first failure reported for
 * it (EV_RCPT, else EV_DONE, else EV_ERROR) says why.
 *
 * Out of scope: TLS itself and certificate checks (the caller's, e.g.
 * MTA-STS and DANE), MX lookups, BINARYMIME (RFC 3030 section 3), 8-bit to
 * 7-bit conversion (we refuse instead, as mox does), LMTP.
 */
#ifndef MOX_SMTP_CLIENT_H
#define MOX_SMTP_CLIENT_H

#include <mox/core.h>
#include <mox/sasl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mox_smtp_client mox_smtp_client;

/* When to use STARTTLS (RFC 3207). */
typedef enum mox_smtp_client_tls {
	/* Never; also for a connection that is TLS from the start (set
	 * tls_active). */
	MOX_SMTP_CLIENT_TLS_NONE = 0,
	/* STARTTLS when the server offers it, plain text otherwise or when
	 * the server refuses the command. A failed handshake is the caller's
	 * to handle (mox reconnects without TLS). */
	MOX_SMTP_CLIENT_TLS_OPPORTUNISTIC,
	/* STARTTLS or nothing: a server that does not offer it or refuses it
	 * ends the connection with MOX_SMTP_CLIENT_TLS_FAILED (MTA-STS
	 * enforce, DANE, REQUIRETLS, smarthost policy). */
	MOX_SMTP_CLIENT_TLS_REQUIRED,
} mox_smtp_client_tls;

/* Limits and time-outs. Zero fields take the default. */
typedef struct mox_smtp_client_limits {
	size_t size; /* sizeof(mox_smtp_client_limits) */
	/* Longest reply line, CRLF included. RFC 5321 section 4.5.3.1.5
	 * says 512, but servers send longer ones and AUTH challenges can be
	 * 12288 (RFC 4954 section 4); default 16384. */
	size_t line_max;
	/* Most lines in one reply; default 256. */
	size_t reply_lines_max;
	/* Output held: message data is taken only while there is room;
	 * default 64 KiB. */
	size_t output_max;
	/* Milliseconds to wait for a reply, RFC 5321 section 4.5.3.2:
	 * 5 minutes for the greeting, MAIL and RCPT (default). */
	int64_t command_timeout_ms;
	/* For the reply to DATA (354): RFC 5321 section 4.5.3.2.4 says 2
	 * minutes (default). */
	int64_t data_timeout_ms;
	/* For the reply after the message (final "." or BDAT LAST): RFC 5321
	 * section 4.5.3.2.6 says 10 minutes (default). */
	int64_t data_end_timeout_ms;
} mox_smtp_client_limits;

/* Fill *limits with the defaults. Thread-safety: any thread. */
MOX_API void mox_smtp_client_limits_default(mox_smtp_client_limits *limits);

typedef struct mox_smtp_client_opts {
	size_t size;                /* sizeof(mox_smtp_client_opts) */
	const mox_allocator *alloc; /* NULL: libc */
	/* Our host name in ASCII for EHLO/HELO; required. */
	const char *hostname;
	mox_smtp_client_tls tls;
	/* The connection is TLS already (implicit TLS, RFC 8314). */
	bool tls_active;
	/* AUTH (RFC 4954): NULL username: no AUTH. With a username, the
	 * connection only becomes ready after a successful AUTH. */
	const char *username;
	const uint8_t *password;
	size_t password_len;
	/* Mechanisms we may use (MOX_SASL_*); 0: all. Of those the server
	 * offers, the strongest is taken: SCRAM-SHA-256-PLUS,
	 * SCRAM-SHA-1-PLUS (only with channel binding), SCRAM-SHA-256,
	 * SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN. PLAIN and LOGIN send the
	 * password itself: only over TLS unless auth_plaintext_ok. */
	unsigned auth_mechs;
	bool auth_plaintext_ok;
	const mox_smtp_client_limits *limits; /* NULL: defaults */
	mox_sasl_random_fn random;            /* SCRAM nonces; NULL: getrandom() */
	void *random_arg;
} mox_smtp_client_opts;

/* The command a result belongs to. */
typedef enum mox_smtp_client_step {
	MOX_SMTP_CLIENT_STEP_NONE = 0,
	MOX_SMTP_CLIENT_STEP_CONNECT,  /* the connection itself */
	MOX_SMTP_CLIENT_STEP_GREETING, /* the 220 */
	MOX_SMTP_CLIENT_STEP_EHLO,
	MOX_SMTP_CLIENT_STEP_HELO,
	MOX_SMTP_CLIENT_STEP_STARTTLS,
	MOX_SMTP_CLIENT_STEP_AUTH,
	MOX_SMTP_CLIENT_STEP_MAIL,
	MOX_SMTP_CLIENT_STEP_RCPT,
	MOX_SMTP_CLIENT_STEP_DATA,     /* the DATA command (354) */
	MOX_SMTP_CLIENT_STEP_BDAT,     /* a BDAT chunk that is not the last */
	MOX_SMTP_CLIENT_STEP_DATA_END, /* after "." or BDAT LAST */
	MOX_SMTP_CLIENT_STEP_RSET,
	MOX_SMTP_CLIENT_STEP_QUIT,
} mox_smtp_client_step;

/* What a result means. */
typedef enum mox_smtp_client_status {
	MOX_SMTP_CLIENT_OK = 0,
	/* 4xx reply: try again later. */
	MOX_SMTP_CLIENT_TEMPFAIL,
	/* 5xx reply: will not work, send a DSN. */
	MOX_SMTP_CLIENT_PERMFAIL,
	/* The server broke the protocol (reply that does not parse, reply
	 * code not fitting the command, data after the STARTTLS reply):
	 * temporary. */
	MOX_SMTP_CLIENT_PROTOCOL,
	/* No reply in time: temporary. */
	MOX_SMTP_CLIENT_TIMEOUT,
	/* The connection ended before the reply (mox_smtp_client_eof):
	 * temporary. */
	MOX_SMTP_CLIENT_CONNECTION,
	/* TLS was required but the server does not offer or refuses
	 * STARTTLS: temporary here, try another host. */
	MOX_SMTP_CLIENT_TLS_FAILED,
	/* We did not send: the message needs an extension the server lacks
	 * (8BITMIME, SMTPUTF8, REQUIRETLS), is larger than its SIZE, or no
	 * AUTH mechanism fits. Permanent for this server (mox sends a DSN). */
	MOX_SMTP_CLIENT_UNSUPPORTED,
} mox_smtp_client_status;

/* Name of a status ("tempfail") or step ("rcpt"). Thread-safety: any
 * thread. */
MOX_API const char *mox_smtp_client_status_name(mox_smtp_client_status status);
MOX_API const char *mox_smtp_client_step_name(mox_smtp_client_step step);

/* A reply or a failure. */
typedef struct mox_smtp_client_result {
	mox_smtp_client_step step;
	mox_smtp_client_status status;
	/* Whether trying again (later, or at another host of the same
	 * domain) cannot help: 5xx replies and MOX_SMTP_CLIENT_UNSUPPORTED. */
	bool permanent;
	/* Reply code, 0 when the server sent none. */
	int code;
	/* Enhanced status code (RFC 3463) of the reply, "5.1.1", or one we
	 * chose for a failure of our own; "" if none. */
	char ecode[16];
	/* The reply's text without codes, lines joined by '\n' (cut after
	 * MOX_SMTP_CLIENT_TEXT_MAX bytes), or our description of a failure
	 * of our own. Never NULL. Borrowed like the event. */
	const char *text;
} mox_smtp_client_result;

/* Longest reply text kept in a result. */
#define MOX_SMTP_CLIENT_TEXT_MAX 1024

/* Extensions the server announced (after EHLO). */
enum {
	MOX_SMTP_EXT_PIPELINING = 1 << 0,          /* RFC 2920 */
	MOX_SMTP_EXT_SIZE = 1 << 1,                /* RFC 1870 */
	MOX_SMTP_EXT_8BITMIME = 1 << 2,            /* RFC 6152 */
	MOX_SMTP_EXT_SMTPUTF8 = 1 << 3,            /* RFC 6531 */
	MOX_SMTP_EXT_STARTTLS = 1 << 4,            /* RFC 3207 */
	MOX_SMTP_EXT_AUTH = 1 << 5,                /* RFC 4954 */
	MOX_SMTP_EXT_CHUNKING = 1 << 6,            /* RFC 3030 */
	MOX_SMTP_EXT_ENHANCEDSTATUSCODES = 1 << 7, /* RFC 2034 */
	MOX_SMTP_EXT_REQUIRETLS = 1 << 8,          /* RFC 8689 */
	MOX_SMTP_EXT_DSN = 1 << 9,                 /* RFC 3461 */
	MOX_SMTP_EXT_LIMITS = 1 << 10,             /* RFC 9422 */
};

/* What the server said about itself. */
typedef struct mox_smtp_client_server {
	unsigned ext;            /* MOX_SMTP_EXT_* */
	bool ehlo;               /* false: the server only took HELO */
	uint64_t size_max;       /* SIZE value; 0: none given */
	unsigned auth_mechs;     /* MOX_SASL_* offered */
	size_t rcpt_max;         /* LIMITS RCPTMAX; 0: none */
	size_t mail_max;         /* LIMITS MAILMAX; 0: none */
	bool tls;                /* the connection is TLS now */
	mox_sasl_mech auth_mech; /* mechanism we authenticated with, 0: none */
	/* The host name from the greeting's first word; borrowed. */
	const char *greeting_name;
} mox_smtp_client_server;

/* What the server supports; pointers borrowed until the next call on the
 * handle. Thread-safety: per handle. */
MOX_API void mox_smtp_client_server_info(const mox_smtp_client *client,
                                         mox_smtp_client_server *info_out);

typedef enum mox_smtp_client_event_type {
	/* Greeting, EHLO, STARTTLS and AUTH went well: start a transaction
	 * with mox_smtp_client_mail, or end with mox_smtp_client_quit. Also
	 * after each EV_DONE. */
	MOX_SMTP_CLIENT_EV_READY = 1,
	/* The server said 220 to STARTTLS: write out the output, run the TLS
	 * handshake as client on the socket, then call
	 * mox_smtp_client_starttls_done (EHLO is said again, RFC 3207
	 * section 4.2). If the handshake fails, close the connection. */
	MOX_SMTP_CLIENT_EV_STARTTLS,
	/* The reply to one RCPT TO (u.rcpt): a recipient accepted or not. */
	MOX_SMTP_CLIENT_EV_RCPT,
	/* The server waits for the message: give it with
	 * mox_smtp_client_data and end it with mox_smtp_client_data_end.
	 * Comes again when data() took nothing because a BDAT chunk's reply
	 * was awaited (no PIPELINING) and that reply is in. */
	MOX_SMTP_CLIENT_EV_DATA,
	/* The transaction ended (u.done): ok means the message was accepted
	 * for the recipients whose EV_RCPT was ok. EV_READY follows. */
	MOX_SMTP_CLIENT_EV_DONE,
	/* The connection cannot go on (u.error): greeting refused, EHLO or
	 * AUTH failed, TLS required and not had, a time-out, a protocol
	 * error, 421, a lost connection. A transaction in progress failed
	 * with it. Write out the output (QUIT, where it makes sense) and
	 * close; EV_CLOSED follows. */
	MOX_SMTP_CLIENT_EV_ERROR,
	/* Write out the output and close the connection. Every later call
	 * to next returns it again. */
	MOX_SMTP_CLIENT_EV_CLOSED,
} mox_smtp_client_event_type;

typedef struct mox_smtp_client_event {
	mox_smtp_client_event_type type;
	union {
		struct {
			size_t index; /* in the transaction's recipient list */
			bool ok;
			mox_smtp_client_result result;
		} rcpt;
		struct {
			bool ok;
			/* ok: the final reply (250); otherwise the failure:
			 * MAIL refused, no recipient accepted (the last RCPT
			 * reply), DATA or BDAT refused, the message refused,
			 * or a refusal of our own (UNSUPPORTED). */
			mox_smtp_client_result result;
			size_t rcpts_accepted;
			/* Recipients from this index on were not tried:
			 * the server's LIMITS RCPTMAX (RFC 9422 section
			 * 4.2) allows no more in one transaction. Send
			 * them in another. */
			size_t rcpts_tried;
		} done;
		struct {
			mox_smtp_client_result result;
		} error;
	} u;
} mox_smtp_client_event;

/* DSN parameters (RFC 3461): NOTIFY values for a recipient. */
enum {
	MOX_SMTP_NOTIFY_NEVER = 1 << 0,
	MOX_SMTP_NOTIFY_SUCCESS = 1 << 1,
	MOX_SMTP_NOTIFY_FAILURE = 1 << 2,
	MOX_SMTP_NOTIFY_DELAY = 1 << 3,
};

/* RET (RFC 3461 section 4.3). */
typedef enum mox_smtp_ret {
	MOX_SMTP_RET_NONE = 0,
	MOX_SMTP_RET_FULL,
	MOX_SMTP_RET_HDRS,
} mox_smtp_ret;

typedef struct mox_smtp_client_rcpt {
	/* "local@domain", UTF-8 allowed (then SMTPUTF8 is needed, unless
	 * only the domain is IDNA: it is sent as A-labels). */
	const char *addr;
	/* DSN (RFC 3461 section 4.1/4.2), sent only when the server has
	 * DSN: NOTIFY bits (0: not given) and ORCPT address (NULL: none). */
	unsigned notify;
	const char *orcpt;
} mox_smtp_client_rcpt;

/* One mail transaction. Everything is copied by mox_smtp_client_mail. */
typedef struct mox_smtp_client_tx {
	size_t size;      /* sizeof(mox_smtp_client_tx) */
	const char *from; /* "local@domain", or "" for the null reverse path */
	const mox_smtp_client_rcpt *rcpts;
	size_t nrcpts; /* at least 1 */
	/* Message size in bytes as it will be sent (CRLF line endings),
	 * for SIZE= (RFC 1870 section 4); 0: unknown, not sent. */
	uint64_t msg_size;
	/* The message has bytes >= 0x80: needs 8BITMIME (BODY=8BITMIME, RFC
	 * 6152 section 3). Without it at the server, refused. */
	bool has_8bit;
	/* The message needs SMTPUTF8 (UTF-8 headers, RFC 6532); also set by
	 * itself for UTF-8 local parts. */
	bool smtputf8;
	/* RFC 8689: REQUIRETLS on MAIL; needs TLS and the extension. */
	bool requiretls;
	/* DSN (RFC 3461 section 4.3, 4.4), only when the server has DSN. */
	mox_smtp_ret ret;
	const char *envid; /* NULL: none; printable ASCII, at most 100 */
	/* Send DATA even when the server has CHUNKING. */
	bool no_chunking;
} mox_smtp_client_tx;

/* New client connection: it waits for the server's greeting.
 * \return MOX_OK, MOX_EINVAL (no hostname, bad limits), MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_smtp_client_new(mox_smtp_client **client_out,
                                    const mox_smtp_client_opts *opts);
/* Wipe the password and free. NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_smtp_client_free(mox_smtp_client *client);

/* Give the client bytes read from the server; copied.
 * \return MOX_OK, MOX_ELIMIT (more unprocessed input than a reply can be:
 * nothing taken; call next first), MOX_ENOMEM (nothing taken).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_feed(mox_smtp_client *client, const void *data,
                                     size_t len);
/* The server closed the connection (read returned 0 or failed): a reply
 * still awaited becomes an EV_ERROR with MOX_SMTP_CLIENT_CONNECTION.
 * Thread-safety: per handle. */
MOX_API void mox_smtp_client_eof(mox_smtp_client *client);

/* Process input up to the next event. now_ms (milliseconds, any fixed
 * clock as long as it is the same in every call) drives the time-outs.
 * Pointers in *ev_out are borrowed until the next call on the handle.
 * \return MOX_OK (*ev_out filled), MOX_EAGAIN (waiting for input, for
 * the caller to call mail/data/quit, or for output to drain),
 * MOX_ENOMEM (nothing lost; call again later).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_next(mox_smtp_client *client, int64_t now_ms,
                                     mox_smtp_client_event *ev_out);
/* When to call next even if no input comes (to time out a reply), in
 * the clock of now_ms; INT64_MAX when not waiting for the server.
 * Thread-safety: per handle. */
MOX_API int64_t mox_smtp_client_deadline(const mox_smtp_client *client);

/* Bytes to write to the server; borrowed until the next call. *len_out
 * may be 0. Thread-safety: per handle. */
MOX_API const uint8_t *mox_smtp_client_output(const mox_smtp_client *client,
                                              size_t *len_out);
/* Drop the first n output bytes (written). Thread-safety: per handle. */
MOX_API void mox_smtp_client_output_consume(mox_smtp_client *client, size_t n);

/* After EV_STARTTLS: the handshake succeeded. Says EHLO again.
 * \return MOX_OK, MOX_ESTATE, MOX_ENOMEM. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_starttls_done(mox_smtp_client *client);
/* The TLS channel binding (mox/sasl.h) for SCRAM -PLUS, set after the
 * handshake, before starttls_done (or, for implicit TLS, before the
 * greeting is processed). Copied. \return MOX_OK, MOX_EINVAL.
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_set_channel_binding(mox_smtp_client *client,
                                                    mox_sasl_cb_type type,
                                                    const uint8_t *data, size_t len);

/* Start a transaction, after EV_READY. The addresses are checked and the
 * commands written (MAIL, RCPTs and DATA in one go with PIPELINING).
 * A message this server cannot take is not sent: EV_DONE then reports
 * MOX_SMTP_CLIENT_UNSUPPORTED (8-bit without 8BITMIME as RFC 6152
 * section 3 forbids it, SMTPUTF8 without the extension as RFC 6531
 * section 3.2 says, REQUIRETLS without TLS or extension as RFC 8689
 * section 4.2.1 says, or a size over the server's SIZE).
 * \return MOX_OK, MOX_EINVAL (bad address: errmsg says which; no
 * recipients), MOX_ESTATE (not ready), MOX_ELIMIT (the server's LIMITS
 * MAILMAX transactions were made: use a new connection), MOX_ENOMEM
 * (nothing changed). Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_mail(mox_smtp_client *client,
                                     const mox_smtp_client_tx *tx);

/* Message data, after EV_DATA: any chunks, bare LF or CRLF line endings
 * (made CRLF, RFC 5321 section 2.3.8), dot-stuffed for DATA (RFC 5321
 * section 4.5.2). Takes what fits in the output now (*taken_out, may be
 * 0: write out the output and try again, or, when a BDAT reply is awaited
 * without PIPELINING, wait for the next EV_DATA). Call next between
 * calls: a failed BDAT chunk ends the transaction early.
 * \return MOX_OK, MOX_ESTATE (not in the data phase, e.g. the transaction
 * failed: next gives EV_DONE), MOX_ENOMEM (nothing taken).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_data(mox_smtp_client *client, const void *data,
                                     size_t len, size_t *taken_out);
/* End of the message: the final "." (after a CRLF if the message did not
 * end with one), or BDAT 0 LAST (written once the reply to the previous
 * chunk is in, without PIPELINING). EV_DONE follows the server's reply.
 * \return MOX_OK, MOX_ESTATE, MOX_ENOMEM. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_data_end(mox_smtp_client *client);

/* Say QUIT, when ready (between transactions). EV_CLOSED follows the
 * reply (or the end of the connection).
 * \return MOX_OK, MOX_ESTATE, MOX_ENOMEM. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_client_quit(mox_smtp_client *client);

/* Detail of the last EINVAL or failure, "" if none; for logs. Borrowed.
 * Thread-safety: per handle. */
MOX_API const char *mox_smtp_client_errmsg(const mox_smtp_client *client);

/* ---- replies ---- */

/* One parsed reply (RFC 5321 section 4.2), for mox_smtp_reply_parse. */
typedef struct mox_smtp_reply {
	int code;
	/* RFC 2034 enhanced status code of the first line when it has one
	 * whose class matches the code: "5.1.1"; "" if none. */
	char ecode[16];
	size_t nlines;
	/* Bytes of the whole reply, CRLFs included. */
	size_t len;
} mox_smtp_reply;

/* Parse one complete reply from the start of data: lines "ddd-text"
 * and a last "ddd text" or "ddd", all with the same code (RFC 5321
 * section 4.2.1). The text of the lines (codes removed) is appended to
 * text (if not NULL), joined by '\n'. Lines ending in a bare LF are
 * taken, as mox does.
 * \return MOX_OK, MOX_EAGAIN (incomplete: more input needed),
 * MOX_ESYNTAX (not a reply; info says why), MOX_ELIMIT (line longer than
 * line_max or more than lines_max lines), MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_smtp_reply_parse(const uint8_t *data, size_t len, size_t line_max,
                                     size_t lines_max, mox_smtp_reply *reply_out,
                                     mox_buf *text, mox_errinfo *info);

#ifdef __cplusplus
}
#endif
#endif
