/* mox/smtp.h -- SMTP, RFC 5321, as sans-IO state machines.
 *
 * What is here:
 *   - reply codes (RFC 5321 section 4.2, RFC 4954, RFC 7504) and enhanced
 *     status codes (RFC 3463, with the later registrations of RFC 4954,
 *     5248, 6531, 7372, 7505, 8617, 8689) as tables with their texts;
 *     writing replies (multi-line, wrapped at the line limit) and parsing
 *     them;
 *   - SMTP paths and addresses (RFC 5321 section 4.1.2): dot-atom and
 *     quoted local parts, domains with IDNA (RFC 5890) and address
 *     literals, UTF-8 with SMTPUTF8 (RFC 6531);
 *   - the server side of one connection (mox_smtp_conn): bytes in, bytes
 *     out and events for the caller, for EHLO/HELO, MAIL, RCPT, DATA with
 *     dot-unstuffing, RSET, NOOP, QUIT, HELP, VRFY/EXPN (refused politely
 *     with 252), and the extensions PIPELINING (RFC 2920), SIZE (RFC 1870),
 *     8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC
 *     2034), STARTTLS (RFC 3207), AUTH (RFC 4954, mechanisms in mox/sasl.h),
 *     CHUNKING/BDAT (RFC 3030), REQUIRETLS (RFC 8689), LIMITS (RFC 9422) and
 *     FUTURERELEASE (RFC 4865) on submission (RFC 6409).
 *
 * The server core never touches a socket, a clock or a file. The caller
 * feeds it what it read (mox_smtp_conn_feed), asks for events
 * (mox_smtp_conn_next, with the current time), answers those that need an
 * answer (accept, reply, auth_*), and writes out what
 * mox_smtp_conn_output holds. Commands are handled strictly in order: while
 * an event waits for its answer, later pipelined commands stay buffered, so
 * replies always go out in order. Policy (which users exist, SPF, DNSBL,
 * storing the message) is the caller's; protocol (sequence, syntax, limits,
 * codes) is the core's.
 *
 * Out of scope here: BINARYMIME (RFC 3030 section 3), ETRN, LMTP,
 * relaying decisions. The client state machine is in mox/smtp_client.h,
 * DSN composing and parsing in mox/dsn.h.
 */
#ifndef MOX_SMTP_H
#define MOX_SMTP_H

#include <mox/core.h>
#include <mox/sasl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_SMTP_VERSION_MAJOR 0
#define MOX_SMTP_VERSION_MINOR 1
#define MOX_SMTP_VERSION_PATCH 0
#define MOX_SMTP_VERSION_HEX                                                   \
	((MOX_SMTP_VERSION_MAJOR << 16) | (MOX_SMTP_VERSION_MINOR << 8) |         \
	 MOX_SMTP_VERSION_PATCH)

/* Version of the library linked at run time, as MOX_SMTP_VERSION_HEX.
 * Thread-safety: any thread. */
MOX_API unsigned mox_smtp_version(void);

/* ---- reply codes and enhanced status codes ---- */

/* Reply codes: X(code, text). RFC 5321 section 4.2.2 and 4.2.3 unless noted. */
#define MOX_SMTP_CODE_MAP(X)                                                   \
	X(211, "System status, or system help reply")                          \
	X(214, "Help message")                                                 \
	X(220, "Service ready")                                                \
	X(221, "Service closing transmission channel")                         \
	X(235, "Authentication successful") /* RFC 4954 section 6 */            \
	X(250, "Requested mail action okay, completed")                        \
	X(251, "User not local; will forward")                                 \
	X(252, "Cannot VRFY user, but will accept message and attempt delivery") \
	X(334, "Server challenge") /* RFC 4954 section 4 */                     \
	X(354, "Start mail input; end with <CRLF>.<CRLF>")                     \
	X(421, "Service not available, closing transmission channel")          \
	X(432, "A password transition is needed") /* RFC 4954 section 6 */     \
	X(450, "Requested mail action not taken: mailbox unavailable")         \
	X(451, "Requested action aborted: local error in processing")          \
	X(452, "Requested action not taken: insufficient system storage")      \
	X(454, "Temporary authentication failure") /* RFC 4954 section 6 */    \
	X(455, "Server unable to accommodate parameters")                      \
	X(500, "Syntax error, command unrecognized")                           \
	X(501, "Syntax error in parameters or arguments")                      \
	X(502, "Command not implemented")                                      \
	X(503, "Bad sequence of commands")                                     \
	X(504, "Command parameter not implemented")                            \
	X(521, "Host does not accept mail") /* RFC 7504 section 3 */            \
	X(530, "Authentication required") /* RFC 4954 section 6 */             \
	X(534, "Authentication mechanism is too weak") /* RFC 4954 */          \
	X(535, "Authentication credentials invalid") /* RFC 4954 */            \
	X(538, "Encryption required for requested authentication mechanism")   \
	X(550, "Requested action not taken: mailbox unavailable")              \
	X(551, "User not local; please try <forward-path>")                    \
	X(552, "Requested mail action aborted: exceeded storage allocation")   \
	X(553, "Requested action not taken: mailbox name not allowed")         \
	X(554, "Transaction failed")                                           \
	X(555, "MAIL FROM/RCPT TO parameters not recognized or not implemented") \
	X(556, "Domain does not accept mail") /* RFC 7504 section 3 */

/* The RFC's text for a reply code; NULL if the code is not in the table.
 * Thread-safety: any thread. */
MOX_API const char *mox_smtp_code_text(int code);

/* Enhanced status codes (RFC 3463) without their class digit, which comes
 * from the reply code (2, 4 or 5): X(NAME, subject, detail, text). The
 * value of MOX_SMTP_SE_<NAME> is subject * 1000 + detail. */
#define MOX_SMTP_SE_MAP(X)                                                     \
	/* RFC 3463 section 3.1 */                                              \
	X(OTHER, 0, 0, "Other undefined status")                               \
	/* RFC 3463 section 3.2: addressing */                                  \
	X(ADDR_OTHER, 1, 0, "Other address status")                            \
	X(ADDR_BAD_MAILBOX, 1, 1, "Bad destination mailbox address")           \
	X(ADDR_BAD_SYSTEM, 1, 2, "Bad destination system address")             \
	X(ADDR_BAD_MAILBOX_SYNTAX, 1, 3, "Bad destination mailbox address syntax") \
	X(ADDR_AMBIGUOUS, 1, 4, "Destination mailbox address ambiguous")       \
	X(ADDR_VALID, 1, 5, "Destination address valid")                       \
	X(ADDR_MOVED, 1, 6, "Destination mailbox has moved, no forwarding address") \
	X(ADDR_BAD_SENDER_SYNTAX, 1, 7, "Bad sender's mailbox address syntax") \
	X(ADDR_BAD_SENDER_SYSTEM, 1, 8, "Bad sender's system address")        \
	X(ADDR_NON_COMPLIANT, 1, 9, "Message relayed to non-compliant mailer") /* RFC 3886 */ \
	X(ADDR_NULL_MX, 1, 10, "Recipient address has null MX") /* RFC 7505 */ \
	/* RFC 3463 section 3.3: mailbox */                                     \
	X(MAILBOX_OTHER, 2, 0, "Other or undefined mailbox status")            \
	X(MAILBOX_DISABLED, 2, 1, "Mailbox disabled, not accepting messages")  \
	X(MAILBOX_FULL, 2, 2, "Mailbox full")                                  \
	X(MAILBOX_TOO_BIG, 2, 3, "Message length exceeds administrative limit") \
	X(MAILBOX_LIST_EXPANSION, 2, 4, "Mailing list expansion problem")      \
	/* RFC 3463 section 3.4: mail system */                                 \
	X(SYS_OTHER, 3, 0, "Other or undefined mail system status")            \
	X(SYS_FULL, 3, 1, "Mail system full")                                  \
	X(SYS_NOT_ACCEPTING, 3, 2, "System not accepting network messages")    \
	X(SYS_NOT_CAPABLE, 3, 3, "System not capable of selected features")    \
	X(SYS_TOO_BIG, 3, 4, "Message too big for system")                     \
	X(SYS_MISCONFIGURED, 3, 5, "System incorrectly configured")            \
	X(SYS_PRIORITY_CHANGED, 3, 6, "Requested priority was changed") /* RFC 6710 */ \
	/* RFC 3463 section 3.5: network and routing */                         \
	X(NET_OTHER, 4, 0, "Other or undefined network or routing status")     \
	X(NET_NO_ANSWER, 4, 1, "No answer from host")                          \
	X(NET_BAD_CONNECTION, 4, 2, "Bad connection")                          \
	X(NET_DIRECTORY, 4, 3, "Directory server failure")                     \
	X(NET_UNROUTABLE, 4, 4, "Unable to route")                             \
	X(NET_CONGESTION, 4, 5, "Mail system congestion")                      \
	X(NET_LOOP, 4, 6, "Routing loop detected")                             \
	X(NET_EXPIRED, 4, 7, "Delivery time expired")                          \
	/* RFC 3463 section 3.6: mail delivery protocol */                      \
	X(PROTO_OTHER, 5, 0, "Other or undefined protocol status")             \
	X(PROTO_INVALID_COMMAND, 5, 1, "Invalid command")                      \
	X(PROTO_SYNTAX, 5, 2, "Syntax error")                                  \
	X(PROTO_TOO_MANY_RCPTS, 5, 3, "Too many recipients")                   \
	X(PROTO_INVALID_ARGS, 5, 4, "Invalid command arguments")               \
	X(PROTO_WRONG_VERSION, 5, 5, "Wrong protocol version")                 \
	X(PROTO_AUTH_TOO_LONG, 5, 6, "Authentication exchange line is too long") /* RFC 4954 */ \
	/* RFC 3463 section 3.7: message content or media */                    \
	X(MEDIA_OTHER, 6, 0, "Other or undefined media error")                 \
	X(MEDIA_UNSUPPORTED, 6, 1, "Media not supported")                      \
	X(MEDIA_CONVERSION_PROHIBITED, 6, 2, "Conversion required and prohibited") \
	X(MEDIA_CONVERSION_UNSUPPORTED, 6, 3, "Conversion required but not supported") \
	X(MEDIA_CONVERSION_LOSS, 6, 4, "Conversion with loss performed")       \
	X(MEDIA_CONVERSION_FAILED, 6, 5, "Conversion failed")                  \
	X(MEDIA_CONTENT_UNAVAILABLE, 6, 6, "Message content not available") /* RFC 4468 */ \
	X(MEDIA_NON_ASCII_ADDR, 6, 7, "Non-ASCII addresses not permitted for that sender/recipient") /* RFC 6531 */ \
	X(MEDIA_UTF8_REPLY_REQUIRED, 6, 8, "UTF-8 string reply is required, but not permitted by the SMTP client") /* RFC 6531 */ \
	X(MEDIA_UTF8_CANNOT_TRANSFER, 6, 9, "UTF-8 header message cannot be transferred to one or more recipients") /* RFC 6531 */ \
	/* RFC 3463 section 3.8: security or policy */                          \
	X(POL_OTHER, 7, 0, "Other or undefined security status")               \
	X(POL_NOT_AUTHORIZED, 7, 1, "Delivery not authorized, message refused") \
	X(POL_EXPANSION_PROHIBITED, 7, 2, "Mailing list expansion prohibited") \
	X(POL_CONVERSION_IMPOSSIBLE, 7, 3, "Security conversion required but not possible") \
	X(POL_UNSUPPORTED, 7, 4, "Security features not supported")            \
	X(POL_CRYPTO_FAILURE, 7, 5, "Cryptographic failure")                   \
	X(POL_CRYPTO_UNSUPPORTED, 7, 6, "Cryptographic algorithm not supported") \
	X(POL_INTEGRITY, 7, 7, "Message integrity failure")                    \
	X(POL_BAD_CREDENTIALS, 7, 8, "Authentication credentials invalid") /* RFC 4954 */ \
	X(POL_MECH_TOO_WEAK, 7, 9, "Authentication mechanism is too weak") /* RFC 4954 */ \
	X(POL_ENCRYPTION_NEEDED, 7, 10, "Encryption needed") /* RFC 5248 */   \
	X(POL_ENCRYPTION_FOR_AUTH, 7, 11, "Encryption required for requested authentication mechanism") /* RFC 4954 */ \
	X(POL_PASSWORD_TRANSITION, 7, 12, "A password transition is needed") /* RFC 4954 */ \
	X(POL_ACCOUNT_DISABLED, 7, 13, "User account disabled") /* RFC 5248 */ \
	X(POL_TRUST_REQUIRED, 7, 14, "Trust relationship required") /* RFC 5248 */ \
	X(POL_PRIORITY_TOO_LOW, 7, 15, "Priority level is too low") /* RFC 6710 */ \
	X(POL_TOO_BIG_FOR_PRIORITY, 7, 16, "Message is too big for the specified priority") /* RFC 6710 */ \
	X(POL_MAILBOX_OWNER_CHANGED, 7, 17, "Mailbox owner has changed") /* RFC 7293 */ \
	X(POL_DOMAIN_OWNER_CHANGED, 7, 18, "Domain owner has changed") /* RFC 7293 */ \
	X(POL_RRVS_INCOMPLETE, 7, 19, "RRVS test cannot be completed") /* RFC 7293 */ \
	X(POL_NO_DKIM_PASS, 7, 20, "No passing DKIM signature found") /* RFC 7372 */ \
	X(POL_NO_DKIM_ACCEPTABLE, 7, 21, "No acceptable DKIM signature found") /* RFC 7372 */ \
	X(POL_NO_DKIM_AUTHOR, 7, 22, "No valid author-matched DKIM signature found") /* RFC 7372 */ \
	X(POL_SPF_FAIL, 7, 23, "SPF validation failed") /* RFC 7372 */        \
	X(POL_SPF_ERROR, 7, 24, "SPF validation error") /* RFC 7372 */        \
	X(POL_REVERSE_DNS, 7, 25, "Reverse DNS validation failed") /* RFC 7372 */ \
	X(POL_MULTIPLE_AUTH, 7, 26, "Multiple authentication checks failed") /* RFC 7372 */ \
	X(POL_SENDER_NULL_MX, 7, 27, "Sender address has null MX") /* RFC 7505 */ \
	X(POL_ARC_FAIL, 7, 29, "ARC validation failure") /* RFC 8617 */       \
	X(POL_REQUIRETLS, 7, 30, "REQUIRETLS support required") /* RFC 8689 */

typedef enum mox_smtp_se {
	MOX_SMTP_SE_NONE = -1, /* no enhanced status code on the reply */
#define MOX__SMTP_SE_ENUM(name, subject, detail, text)                         \
	MOX_SMTP_SE_##name = (subject) * 1000 + (detail),
	MOX_SMTP_SE_MAP(MOX__SMTP_SE_ENUM)
#undef MOX__SMTP_SE_ENUM
} mox_smtp_se;

/* The registered text of an enhanced status code (subject * 1000 + detail);
 * NULL if it is not in the table. Thread-safety: any thread. */
MOX_API const char *mox_smtp_se_text(int se);
/* Write the enhanced status code of reply code `code` ("5.7.8") into out
 * (16 bytes). \return MOX_OK, MOX_EINVAL (code not 2xx/4xx/5xx, se out of
 * range). Thread-safety: any thread. */
MOX_API mox_err mox_smtp_se_format(int code, int se, char out[16]);

/* Longest reply line we write, CRLF included (RFC 5321 section
 * 4.5.3.1.5: 512). */
#define MOX_SMTP_REPLY_LINE_MAX 512

/* Append a reply: one line per '\n'-separated line of text, all but the
 * last with "-" after the code, lines longer than the limit wrapped at a
 * space, each with the enhanced code when se is not MOX_SMTP_SE_NONE
 * (RFC 2034 section 4). code must be 200..599.
 * \return MOX_OK, MOX_EINVAL, MOX_ENOMEM (out unchanged).
 * Thread-safety: per buffer. */
MOX_API mox_err mox_smtp_reply_write(mox_buf *out, int code, int se, const char *text);

/* ---- paths and addresses ---- */

/* Longest local part we take, in octets (decoded). RFC 5321 section
 * 4.5.3.1.1 says 64; like mox we take 128, since generated bounce
 * addresses in the wild are longer. */
#define MOX_SMTP_LOCALPART_MAX 128
/* Longest path, "<" and ">" included (RFC 5321 section 4.5.3.1.3). */
#define MOX_SMTP_PATH_MAX 256
/* Longest domain in a path (RFC 5321 section 4.5.3.1.2). */
#define MOX_SMTP_DOMAIN_MAX 255
/* Room for the Unicode form of a domain. */
#define MOX_SMTP_DOMAIN_UNICODE_MAX 1023

/* A forward or reverse path (RFC 5321 section 4.1.2), or an address. Source
 * routes are parsed and dropped (RFC 5321 section 4.1.1.3). A value struct:
 * copy it freely. */
typedef struct mox_smtp_path {
	bool null;       /* the null reverse path "<>" */
	bool postmaster; /* "<Postmaster>" without domain (RFC 5321 section 4.5.1) */
	/* Decoded local part (no quotes or escapes), UTF-8 only with
	 * SMTPUTF8; "postmaster" for a bare postmaster, "" for null. */
	char localpart[MOX_SMTP_LOCALPART_MAX + 1];
	/* Domain in ASCII (A-labels), lower case; "" for null, bare
	 * postmaster and address literals. */
	char domain[MOX_SMTP_DOMAIN_MAX + 1];
	/* Domain with U-labels if it has IDNA labels, else "". */
	char domain_unicode[MOX_SMTP_DOMAIN_UNICODE_MAX + 1];
	/* IP address of an address literal in its canonical text form
	 * (inet_ntop), "" if none. */
	char ip[48];
	bool ipv6;
} mox_smtp_path;

enum {
	/* SMTPUTF8 (RFC 6531 section 3.3): UTF-8 in local parts and
	 * domains. Without it they are refused. */
	MOX_SMTP_PATH_UTF8 = 1 << 0,
	/* Accept the null path "<>" (reverse paths). */
	MOX_SMTP_PATH_NULL = 1 << 1,
	/* Accept "<Postmaster>" without domain (forward paths). */
	MOX_SMTP_PATH_POSTMASTER = 1 << 2,
};

/* Parse a path with its angle brackets ("<a@example.org>", "<>",
 * "<@relay:a@example.org>", "<\"a b\"@[IPv6:2001:db8::1]>"). The whole
 * input must be the path.
 * \return MOX_OK, MOX_ESYNTAX (info says what and where), MOX_ERANGE (too
 * long), MOX_EIDNA (bad internationalized domain), MOX_EUNSUPPORTED
 * (UTF-8 without MOX_SMTP_PATH_UTF8).
 * Thread-safety: any thread. */
MOX_API mox_err mox_smtp_path_parse(const char *s, size_t len, unsigned flags,
				    mox_smtp_path *path_out, mox_errinfo *info);
/* Parse a bare address "local@domain" (no brackets, no source route),
 * same rules and errors as mox_smtp_path_parse. Thread-safety: any thread. */
MOX_API mox_err mox_smtp_address_parse(const char *s, size_t len, unsigned flags,
				       mox_smtp_path *path_out, mox_errinfo *info);
/* Append the path as it goes in MAIL FROM or RCPT TO, with brackets: the
 * local part as dot-string if it can be, else quoted (RFC 5321 section
 * 4.1.2); the domain in Unicode if utf8 and it has one, else ASCII.
 * Thread-safety: per buffer. */
MOX_API mox_err mox_smtp_path_format(const mox_smtp_path *path, bool utf8, mox_buf *out);
/* Whether two paths name the same mailbox: local parts equal byte for
 * byte (RFC 5321 section 2.4: case-sensitive), domains ignoring case.
 * Thread-safety: any thread. */
MOX_API bool mox_smtp_path_equal(const mox_smtp_path *a, const mox_smtp_path *b);

/* ---- server connection ---- */

typedef struct mox_smtp_conn mox_smtp_conn;

/* Limits of one connection. Zero fields take the default. */
typedef struct mox_smtp_limits {
	size_t size; /* sizeof(mox_smtp_limits) */
	/* Longest command line, CRLF included; longer lines are discarded
	 * and answered 500. Default 2048: RFC 5321 section 4.5.3.1.4 says
	 * 512, extensions add (RFC 4954 section 5: +500 for AUTH=). */
	size_t line_max;
	/* Longest AUTH response line, RFC 4954 section 4: 12288. */
	size_t auth_line_max;
	/* Unprocessed input buffered at most (feed refuses beyond); default
	 * 64 KiB; at least auth_line_max + 2. */
	size_t input_max;
	/* Output held before commands stop being processed until the caller
	 * drains it; default 64 KiB. */
	size_t output_max;
	/* Bytes per EV_DATA event; default 32 KiB. */
	size_t chunk_max;
	/* Largest message (SIZE, RFC 1870); default 100 MiB. */
	uint64_t message_max;
	/* Recipients per transaction (LIMITS RCPTMAX, RFC 9422); default
	 * 1000. RFC 5321 section 4.5.3.1.8 asks for at least 100. */
	size_t rcpt_max;
	/* Transactions per connection (LIMITS MAILMAX); 0: no limit. */
	size_t mail_max;
	/* Longest message line, CRLF included (RFC 5321 section 4.5.3.1.6
	 * says 1000); 0: no limit, as mox, since real mail breaks it. */
	size_t data_line_max;
	/* Error replies before the connection is closed with 421; default 20. */
	unsigned errors_max;
	/* Failed authentications before the connection is closed with 421;
	 * default 5. */
	unsigned auth_failures_max;
	/* Milliseconds to receive a complete command after the previous
	 * reply, RFC 5321 section 4.5.3.2.7: 5 minutes (default). */
	int64_t command_timeout_ms;
	/* Milliseconds for a whole DATA body or BDAT chunk; default 30
	 * minutes, as mox. */
	int64_t data_timeout_ms;
} mox_smtp_limits;

/* Fill *limits with the defaults. Thread-safety: any thread. */
MOX_API void mox_smtp_limits_default(mox_smtp_limits *limits);

enum {
	/* Message submission (RFC 6409): AUTH is offered and required before
	 * MAIL, FUTURERELEASE is offered, MAIL/RCPT tolerate a space after
	 * the colon (Outlook sends one), commands must not have trailing
	 * white space. */
	MOX_SMTP_CONN_SUBMISSION = 1 << 0,
	/* The connection is TLS already (implicit TLS, RFC 8314). */
	MOX_SMTP_CONN_TLS = 1 << 1,
	/* STARTTLS can be offered (the caller has a certificate). */
	MOX_SMTP_CONN_STARTTLS = 1 << 2,
	/* AUTH only over TLS (RFC 4954 section 4: 538). */
	MOX_SMTP_CONN_REQUIRE_TLS_AUTH = 1 << 3,
	/* Mail transactions only over TLS (RFC 3207 section 4: 530). */
	MOX_SMTP_CONN_REQUIRE_TLS_MAIL = 1 << 4,
	/* Do not offer or accept BDAT. */
	MOX_SMTP_CONN_NO_CHUNKING = 1 << 5,
	/* Strict: no space after "FROM:"/"TO:" even on submission. */
	MOX_SMTP_CONN_PEDANTIC = 1 << 6,
};

typedef struct mox_smtp_conn_opts {
	size_t size;                /* sizeof(mox_smtp_conn_opts) */
	const mox_allocator *alloc; /* NULL: libc */
	/* Our host name in ASCII, in the greeting and EHLO reply; required. */
	const char *hostname;
	/* Text after the host name in the greeting; NULL: "ESMTP". */
	const char *greeting;
	unsigned flags;             /* MOX_SMTP_CONN_* */
	/* SASL mechanisms offered (MOX_SASL_*); 0: all. The -PLUS ones only
	 * once channel binding data is set. Only on submission. */
	unsigned auth_mechs;
	const mox_smtp_limits *limits; /* NULL: defaults */
	/* FUTURERELEASE (RFC 4865) on submission: longest hold in seconds;
	 * 0: not offered. mox uses 60 days. */
	int64_t future_release_max;
	/* Time of the connection's start, milliseconds since the Unix epoch:
	 * the first command deadline counts from here. */
	int64_t now_ms;
	/* Do not write the 220 greeting: the caller refuses the connection
	 * with mox_smtp_conn_close (421) instead. */
	bool no_greeting;
	mox_sasl_random_fn random; /* for SASL nonces; NULL: getrandom() */
	void *random_arg;
} mox_smtp_conn_opts;

typedef enum mox_smtp_event_type {
	/* EHLO or HELO with a valid name. Answer: accept (the core writes the
	 * greeting reply with the extensions) or reply (e.g. 550 for a HELO
	 * name that does not resolve). */
	MOX_SMTP_EV_HELLO = 1,
	/* STARTTLS accepted: "220" is in the output. Write it out, start TLS
	 * on the socket (the bytes from mox_smtp_conn_starttls_leftover are
	 * the start of the client's handshake), then call
	 * mox_smtp_conn_starttls_done. If the handshake fails, close. */
	MOX_SMTP_EV_STARTTLS,
	/* AUTH needs the caller: see u.auth.need. Answer with
	 * mox_smtp_conn_auth_verdict, _auth_password, _auth_scram, or reply
	 * with a non-2xx code (454 for a temporary failure). */
	MOX_SMTP_EV_AUTH,
	/* Information: an AUTH exchange ended (u.auth_result); the core has
	 * replied. For logging and failed-auth rate limits. */
	MOX_SMTP_EV_AUTH_RESULT,
	/* MAIL FROM, syntax and sequence checked (u.mail). Answer: accept
	 * (250) or reply. A 2xx reply starts the transaction. */
	MOX_SMTP_EV_MAIL,
	/* RCPT TO (u.rcpt). Answer: accept or reply; a 2xx reply adds the
	 * recipient. */
	MOX_SMTP_EV_RCPT,
	/* Information: message data starts (u.data_begin); for DATA the core
	 * has written 354. */
	MOX_SMTP_EV_DATA_BEGIN,
	/* Information: message bytes (u.data), dot-unstuffed for DATA, with
	 * bare LF line endings turned into CRLF; raw for BDAT. */
	MOX_SMTP_EV_DATA,
	/* The message is complete (u.data_end). Answer: accept (250) once it
	 * is stored durably, or reply. The transaction ends either way. */
	MOX_SMTP_EV_DATA_END,
	/* Information: the message failed in the core (too large, bare CR,
	 * line too long, time out) and the core replied; drop what was
	 * stored. The transaction has ended. */
	MOX_SMTP_EV_DATA_ABORT,
	/* Information: the transaction was dropped (RSET, EHLO/HELO,
	 * STARTTLS) before it completed; forget its sender and recipients. */
	MOX_SMTP_EV_RESET,
	/* Write out the output and close the connection: after QUIT (221),
	 * a timeout or too many errors (421), or mox_smtp_conn_close. Every
	 * later call to next returns it again. */
	MOX_SMTP_EV_CLOSE,
} mox_smtp_event_type;

/* BODY= of MAIL (RFC 6152). */
typedef enum mox_smtp_body {
	MOX_SMTP_BODY_NONE = 0, /* not given */
	MOX_SMTP_BODY_7BIT,
	MOX_SMTP_BODY_8BITMIME,
} mox_smtp_body;

/* Parameters of MAIL FROM. */
typedef struct mox_smtp_mail_params {
	int64_t size;         /* SIZE= (RFC 1870), -1 if not given */
	mox_smtp_body body;   /* BODY= */
	bool smtputf8;        /* SMTPUTF8 (RFC 6531 section 3.4) */
	bool requiretls;      /* REQUIRETLS (RFC 8689 section 4.1) */
	/* AUTH= (RFC 4954 section 5) decoded from xtext; NULL if not given,
	 * "<>" for the empty identity. We do not trust it. */
	const char *auth;
	/* FUTURERELEASE (RFC 4865): HOLDFOR seconds or -1; HOLDUNTIL as
	 * Unix seconds or -1; release_at is when to release in Unix seconds
	 * (from either), 0 for no hold. */
	int64_t hold_for;
	int64_t hold_until;
	int64_t release_at;
} mox_smtp_mail_params;

typedef struct mox_smtp_event {
	mox_smtp_event_type type;
	union {
		struct {
			bool ehlo;
			/* The name as given (domain in ASCII, or "[ip]"). */
			const char *name;
			/* Parsed: domain (ASCII, lower case) or ip ("" each
			 * if not that kind). */
			const char *domain;
			const char *domain_unicode;
			const char *ip;
		} hello;
		struct {
			mox_sasl_mech mech;
			/* MOX_SASL_CHECK_PASSWORD: check authc/password,
			 * answer mox_smtp_conn_auth_verdict.
			 * MOX_SASL_NEED_PASSWORD (CRAM-MD5): answer
			 * mox_smtp_conn_auth_password, or verdict(false).
			 * MOX_SASL_NEED_SCRAM: answer mox_smtp_conn_auth_scram. */
			mox_sasl_status need;
			const char *authc;
			const char *authz; /* "" if none */
			/* PLAIN and LOGIN only; wiped after the answer. */
			const uint8_t *password;
			size_t password_len;
		} auth;
		struct {
			mox_sasl_mech mech;
			bool ok;
			const char *authc; /* NULL if the exchange failed before it was known */
			mox_sasl_failure failure;
		} auth_result;
		struct {
			const mox_smtp_path *path;
			const mox_smtp_mail_params *params;
		} mail;
		struct {
			const mox_smtp_path *path;
			size_t index; /* recipients accepted before this one */
		} rcpt;
		struct {
			bool bdat;
		} data_begin;
		struct {
			const uint8_t *data;
			size_t len;
		} data;
		struct {
			uint64_t size;  /* bytes given in EV_DATA events */
			bool bdat;
			bool has_8bit;  /* a byte >= 0x80 was seen */
			size_t rcpts;   /* recipients accepted */
		} data_end;
		struct {
			int code;       /* the reply the core sent */
			const char *reason;
		} data_abort;
		struct {
			int code;       /* the last reply: 221, 421, ... */
			const char *reason;
		} close;
	} u;
} mox_smtp_event;

/* New connection; writes the greeting "220 <hostname> <greeting>" to the
 * output unless opts->no_greeting.
 * \return MOX_OK, MOX_EINVAL (no hostname, inconsistent limits), MOX_ENOMEM.
 * Thread-safety: any thread. */
MOX_API mox_err mox_smtp_conn_new(mox_smtp_conn **conn_out, const mox_smtp_conn_opts *opts);
/* Wipe secrets and free. NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_smtp_conn_free(mox_smtp_conn *conn);

/* Give the core bytes read from the client; they are copied.
 * \return MOX_OK, MOX_ELIMIT (more than mox_smtp_conn_input_room: nothing
 * was taken; call next and drain output first), MOX_ENOMEM (nothing taken).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_feed(mox_smtp_conn *conn, const void *data, size_t len);
/* How many bytes feed takes now: read at most this much from the socket.
 * 0 while the core waits for output to drain or an answer.
 * Thread-safety: per handle. */
MOX_API size_t mox_smtp_conn_input_room(const mox_smtp_conn *conn);

/* Process buffered input up to the next event. now_ms is the current time
 * in milliseconds since the Unix epoch (CLOCK_REALTIME); it drives the
 * timeouts and FUTURERELEASE. Pointers in *ev_out are borrowed until the
 * next call on the handle.
 * \return MOX_OK (*ev_out filled), MOX_EAGAIN (needs more input, or output
 * to be drained), MOX_ESTATE (an event waits for its answer), MOX_ENOMEM
 * (nothing consumed; call again later).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_next(mox_smtp_conn *conn, int64_t now_ms,
				   mox_smtp_event *ev_out);
/* When to call next even if no input comes (to time out), in the same
 * clock as now_ms; INT64_MAX if there is no deadline (an event waits).
 * Thread-safety: per handle. */
MOX_API int64_t mox_smtp_conn_deadline(const mox_smtp_conn *conn);

/* Bytes to write to the client; borrowed until the next call. *len_out may
 * be 0. Thread-safety: per handle. */
MOX_API const uint8_t *mox_smtp_conn_output(const mox_smtp_conn *conn, size_t *len_out);
/* Drop the first n output bytes (written). Thread-safety: per handle. */
MOX_API void mox_smtp_conn_output_consume(mox_smtp_conn *conn, size_t n);

/* Answer HELLO, MAIL, RCPT or DATA_END with the usual success reply.
 * \return MOX_OK, MOX_ESTATE (no such event waits), MOX_ENOMEM (nothing
 * changed). Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_accept(mox_smtp_conn *conn);
/* Answer the waiting event (HELLO, AUTH, MAIL, RCPT, DATA_END) with a reply
 * of our own. For HELLO and AUTH the code must not be 2xx. A 421 reply also
 * closes the connection. text may have '\n' for several lines.
 * \return MOX_OK, MOX_EINVAL, MOX_ESTATE, MOX_ENOMEM (nothing changed).
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_reply(mox_smtp_conn *conn, int code, int se,
				    const char *text);
/* Answer AUTH with need MOX_SASL_CHECK_PASSWORD, or MOX_SASL_NEED_PASSWORD
 * (false for an unknown user, or the result of checking the digest from
 * mox_smtp_conn_auth_cram_md5): whether the credentials are good.
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_auth_verdict(mox_smtp_conn *conn, bool ok);
/* Answer AUTH with need MOX_SASL_NEED_PASSWORD (CRAM-MD5): the user's
 * cleartext password. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_auth_password(mox_smtp_conn *conn, const uint8_t *password,
					    size_t len);
/* For AUTH with need MOX_SASL_NEED_PASSWORD (CRAM-MD5): the challenge we
 * sent and the client's digest (32 lower-case hex digits), both borrowed
 * until the answer, so the caller can check the digest against stored
 * HMAC-MD5 states (RFC 2195 section 2, RFC 2104 section 4) and answer
 * with mox_smtp_conn_auth_verdict instead of giving the password.
 * \return MOX_OK, MOX_ESTATE (no CRAM-MD5 answer waits), MOX_EINVAL.
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_auth_cram_md5(const mox_smtp_conn *conn,
					    const uint8_t **challenge_out,
					    size_t *challenge_len_out,
					    const char **digest_out);
/* Answer AUTH with need MOX_SASL_NEED_SCRAM: the user's secret for the
 * mechanism's hash, NULL for an unknown user. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_auth_scram(mox_smtp_conn *conn,
					 const mox_sasl_scram_secret *secret);

/* Bytes the client sent after the STARTTLS line, before our 220: the start
 * of its TLS handshake, to hand to the TLS library (RFC 3207 section 4.2:
 * never to be taken as commands). Borrowed until starttls_done.
 * Thread-safety: per handle. */
MOX_API const uint8_t *mox_smtp_conn_starttls_leftover(const mox_smtp_conn *conn,
						       size_t *len_out);
/* The TLS handshake after EV_STARTTLS succeeded: forget everything learned
 * before (RFC 3207 section 4.2: EHLO, AUTH, transaction), drop the
 * leftover, and go on reading commands, now over TLS.
 * \return MOX_OK, MOX_ESTATE. Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_starttls_done(mox_smtp_conn *conn);
/* The TLS channel binding for SCRAM -PLUS: set after the handshake (or
 * with implicit TLS before the first command). Copied.
 * \return MOX_OK, MOX_EINVAL (too long, no type). Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_set_channel_binding(mox_smtp_conn *conn,
						  mox_sasl_cb_type type,
						  const uint8_t *data, size_t len);

/* Close from our side: write the reply (421 for shutdown or refusal, with
 * se and text) and make every next return EV_CLOSE. Works in any state.
 * Thread-safety: per handle. */
MOX_API mox_err mox_smtp_conn_close(mox_smtp_conn *conn, int code, int se,
				    const char *text);

/* Whether the connection is TLS (implicit or after STARTTLS).
 * Thread-safety: per handle. */
MOX_API bool mox_smtp_conn_tls(const mox_smtp_conn *conn);
/* The authenticated user, NULL if none. Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_smtp_conn_username(const mox_smtp_conn *conn);
/* Detail of the last error reply or failure, "" if none; for logs.
 * Borrowed. Thread-safety: per handle. */
MOX_API const char *mox_smtp_conn_errmsg(const mox_smtp_conn *conn);

#ifdef __cplusplus
}
#endif
#endif
