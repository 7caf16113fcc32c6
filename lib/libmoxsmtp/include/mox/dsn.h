/* mox/dsn.h -- Delivery Status Notifications: composing and parsing
 * RFC 3464 messages (multipart/report, RFC 6522, with a
 * message/delivery-status part), with the RFC 6533 variants for SMTPUTF8
 * (message/global-delivery-status, message/global-headers). Part of
 * libmoxsmtp.
 *
 * Composing is in mox's style: From the postmaster of the reporting host,
 * To the original envelope sender, a human-readable text part, the
 * machine-readable status with per-message fields (Reporting-MTA,
 * Original-Envelope-ID, Received-From-MTA, Arrival-Date) and per-recipient
 * fields (Original-Recipient, Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date, Final-Log-ID, Will-Retry-Until), and
 * the original message's header section (text/rfc822-headers) or, when
 * asked and possible, the whole message (message/rfc822). A DSN must be
 * sent with the null reverse path (RFC 3464 section 2, RFC 5321 section
 * 4.5.5) so no DSN is ever sent about it.
 *
 * Parsing takes a whole message and, if it is a DSN, gives its fields:
 * for recognising DSNs (never answer one with another) and for tests.
 *
 * Out of scope: MDNs (RFC 8098), address types other than rfc822 and
 * utf-8 (kept as given), ARF reports.
 */
#ifndef MOX_DSN_H
#define MOX_DSN_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Action field, RFC 3464 section 2.3.3. */
typedef enum mox_dsn_action {
	MOX_DSN_FAILED = 1,
	MOX_DSN_DELAYED,
	MOX_DSN_DELIVERED,
	MOX_DSN_RELAYED,
	MOX_DSN_EXPANDED,
} mox_dsn_action;

/* "failed", ...; NULL for an unknown value. Thread-safety: any thread. */
MOX_API const char *mox_dsn_action_name(mox_dsn_action action);

/* Per-recipient fields for composing (RFC 3464 section 2.3). */
typedef struct mox_dsn_rcpt {
	/* Final-Recipient address ("local@domain", UTF-8 allowed), required. */
	const char *final_recipient;
	/* Original-Recipient (from ORCPT, RFC 3461 section 4.2), NULL: none. */
	const char *original_recipient;
	mox_dsn_action action; /* required */
	/* Status, an RFC 3463 code "5.1.1"; NULL: 5.0.0, 4.0.0 or 2.0.0 by
	 * action. status_comment (NULL: none) goes after it in "( )". */
	const char *status;
	const char *status_comment;
	/* Remote-MTA host name and IP (NULL: not given). */
	const char *remote_mta;
	const char *remote_mta_ip;
	/* Diagnostic-Code: the server's reply, e.g. "550 5.1.1 no such user"
	 * (lines joined by spaces); written as "smtp; ..."; NULL: none. */
	const char *diagnostic_code;
	int64_t last_attempt;     /* Unix seconds; 0: not given */
	int64_t will_retry_until; /* Unix seconds; 0: not given (delayed only) */
	const char *final_log_id; /* NULL: none */
} mox_dsn_rcpt;

typedef struct mox_dsn {
	size_t size; /* sizeof(mox_dsn) */
	/* From address, e.g. "postmaster@mail.example.org" (ASCII). */
	const char *from;
	/* To address: the original message's envelope sender. */
	const char *to;
	/* Subject; NULL: mox's "mail delivery failed", "mail delivery
	 * delayed" or "mail delivered", by the first recipient's action. */
	const char *subject;
	/* Message-ID without angle brackets; required. */
	const char *message_id;
	/* References header (the original Message-ID with brackets); NULL:
	 * none. */
	const char *references;
	/* Date header, Unix seconds (the library reads no clock). */
	int64_t date;
	/* Human-readable explanation; '\n' line endings. */
	const char *text;
	/* Per-message fields. reporting_mta (our host name) is required. */
	const char *reporting_mta;
	const char *original_envelope_id; /* ENVID, RFC 3461 section 4.4 */
	const char *received_from_mta;    /* host name; NULL: none */
	int64_t arrival_date;             /* Unix seconds; 0: not given */
	/* FUTURERELEASE of the original (RFC 4865 section 6), "for;SECONDS"
	 * or "until;DATE-TIME"; NULL: none. */
	const char *future_release_request;
	const mox_dsn_rcpt *rcpts;
	size_t nrcpts; /* at least 1 */
	/* The original message (or only its header section); NULL: not
	 * attached. Only the header section is attached unless full is set
	 * and the message can go as message/rfc822 (no NUL, bare CR or line
	 * over 998 octets). */
	const uint8_t *original;
	size_t original_len;
	bool full;
	/* The original was sent with SMTPUTF8 and the DSN can be too: the
	 * RFC 6533 media types and "utf-8" address types are used. */
	bool smtputf8;
} mox_dsn;

/* Compose a DSN into out (CRLF line endings), appended.
 * \return MOX_OK, MOX_EINVAL (required field missing, an address or text
 * that does not fit in a header; info says which), MOX_ENOMEM. On error
 * out is as it was. Thread-safety: any thread (per out). */
MOX_API mox_err mox_dsn_compose(const mox_dsn *dsn, const mox_allocator *alloc,
                                mox_buf *out, mox_errinfo *info);

/* Per-recipient fields of a parsed DSN; strings are NUL-terminated,
 * unfolded, "" when absent. Addresses are without their type ("rfc822;"),
 * which is in *_type. */
typedef struct mox_dsn_parsed_rcpt {
	char *final_recipient;
	char *final_recipient_type;
	char *original_recipient;
	mox_dsn_action action; /* 0 if missing or unknown */
	char *action_text;
	char *status;          /* "5.1.1", without comment */
	char *remote_mta;      /* without "dns;" */
	char *diagnostic_code; /* without "smtp;" */
	char *last_attempt_date;
	char *will_retry_until;
} mox_dsn_parsed_rcpt;

typedef struct mox_dsn_parsed {
	bool utf8; /* message/global-delivery-status */
	char *reporting_mta;
	char *original_envelope_id;
	char *received_from_mta;
	char *arrival_date;
	mox_dsn_parsed_rcpt *rcpts;
	size_t nrcpts;
	/* The third part, if any: "text/rfc822-headers", "message/rfc822",
	 * ...; "" if none. Its decoded bytes in original. */
	char *original_type;
	uint8_t *original;
	size_t original_len;
	/* Human-readable part (first part, decoded to UTF-8). */
	char *text;
	const mox_allocator *alloc;
} mox_dsn_parsed;

/* Largest message parse takes (a DSN is small; the original is cut). */
#define MOX_DSN_PARSE_MAX (16 * 1024 * 1024)

/* Whether a message is a DSN: its top-level Content-Type is
 * multipart/report with report-type delivery-status or
 * global-delivery-status (RFC 3464 section 2, RFC 6533 section 6).
 * Looks only at the header section. Thread-safety: any thread. */
MOX_API bool mox_dsn_is_dsn(const uint8_t *msg, size_t len);

/* Parse a DSN. \return MOX_OK (*dsn_out to free with mox_dsn_parsed_free),
 * MOX_ENOTFOUND (not a DSN), MOX_ESYNTAX (a DSN without a status part, or
 * a status part without per-recipient fields; info says what),
 * MOX_ELIMIT (too large), MOX_ENOMEM. Thread-safety: any thread. */
MOX_API mox_err mox_dsn_parse(const uint8_t *msg, size_t len,
                              const mox_allocator *alloc, mox_dsn_parsed **dsn_out,
                              mox_errinfo *info);
/* NULL is a no-op. Thread-safety: per object. */
MOX_API void mox_dsn_parsed_free(mox_dsn_parsed *dsn);

#ifdef __cplusplus
}
#endif
#endif
