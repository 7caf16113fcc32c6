/* Declarations shared between the source files of libmoxsmtp; never
 * installed. Internal non-static functions are named mox__smtp_*. */
#ifndef MOX_SMTP_INT_H
#define MOX_SMTP_INT_H

#include <mox/smtp.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- crypto.c: hashes through mbedTLS, randomness, NFC ---- */

typedef enum mox__smtp_hash_alg {
	MOX__SMTP_MD5,
	MOX__SMTP_SHA1,
	MOX__SMTP_SHA256,
} mox__smtp_hash_alg;

#define MOX__SMTP_HASH_MAX 32

size_t mox__smtp_hash_len(mox__smtp_hash_alg alg);
mox_err mox__smtp_hash(mox__smtp_hash_alg alg, const uint8_t *data, size_t len,
		       uint8_t *out);
mox_err mox__smtp_hmac(mox__smtp_hash_alg alg, const uint8_t *key, size_t key_len,
		       const uint8_t *msg, size_t msg_len, uint8_t *out);
mox_err mox__smtp_pbkdf2(mox__smtp_hash_alg alg, const uint8_t *pw, size_t pw_len,
			 const uint8_t *salt, size_t salt_len, uint32_t iterations,
			 uint8_t *out, size_t out_len);
/* Random bytes from fn, or getrandom() when fn is NULL. */
mox_err mox__smtp_random(mox_sasl_random_fn fn, void *arg, uint8_t *buf, size_t n);
/* Constant-time comparison of n bytes. */
bool mox__smtp_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);
/* s (UTF-8) in Unicode NFC, as a new NUL-terminated string from alloc.
 * MOX_ESYNTAX for invalid UTF-8. */
mox_err mox__smtp_nfc(const mox_allocator *alloc, const uint8_t *s, size_t len,
		      uint8_t **out, size_t *out_len);
/* Whether s is valid UTF-8 (RFC 3629: shortest form, no surrogates). */
bool mox__smtp_utf8_valid(const uint8_t *s, size_t len);

/* ---- scram.c: message pieces shared by server and client ---- */

/* Append saslname-encoded s ("," as "=2C", "=" as "=3D"), RFC 5802
 * section 5.1. */
mox_err mox__smtp_saslname_encode(mox_buf *out, const char *s, size_t len);
/* Decode a saslname into a new string; NULL-free, MOX_ESYNTAX on a bad
 * escape or empty name. */
mox_err mox__smtp_saslname_decode(const mox_allocator *alloc, const char *s,
				  size_t len, char **out);
/* One "a=value" attribute of a comma-separated SCRAM message. */
typedef struct mox__smtp_scram_attr {
	char name;
	const char *value;
	size_t len;
} mox__smtp_scram_attr;
/* Split at the next ',' from *pos (an attribute "x=..."). false at the end
 * or on a malformed attribute (sets *bad). */
bool mox__smtp_scram_next_attr(const char *s, size_t len, size_t *pos,
			       mox__smtp_scram_attr *attr, bool *bad);
/* Whether a nonce is printable ASCII without ',' (RFC 5802 section 7). */
bool mox__smtp_scram_nonce_valid(const char *s, size_t len);
/* Keys from SaltedPassword: ClientKey, StoredKey, ServerKey (any may be
 * NULL). */
mox_err mox__smtp_scram_keys(mox__smtp_hash_alg alg, const uint8_t *salted, size_t hlen,
			     uint8_t *client_key, uint8_t *stored_key,
			     uint8_t *server_key);
/* Base64-encode random bytes for a nonce into out (NUL-terminated). */
mox_err mox__smtp_scram_nonce(mox_sasl_random_fn fn, void *arg, char *out,
			      size_t out_size);
const char *mox__smtp_cb_name(mox_sasl_cb_type type);

/* ---- codes.c / reply.c ---- */

/* Format "d.s.d" for code/se into out; "" when se is NONE. */
void mox__smtp_se_string(int code, int se, char out[16]);

/* ---- path.c: path parsing for the command parser ---- */

typedef enum mox__smtp_path_err {
	MOX__SMTP_PATH_OK = 0,
	MOX__SMTP_PATH_SYNTAX,  /* 501 */
	MOX__SMTP_PATH_UTF8,    /* UTF-8 without SMTPUTF8: 550/553 5.6.7 */
	MOX__SMTP_PATH_TOOLONG, /* 501 */
	MOX__SMTP_PATH_IDNA,    /* 501 */
} mox__smtp_path_err;

/* Parse a path (with brackets when brackets is true) from s[*pos..len),
 * advancing *pos past it; the rest of s is left. msg gets the detail. */
mox__smtp_path_err mox__smtp_path_scan(const char *s, size_t len, size_t *pos,
				       unsigned flags, bool brackets,
				       mox_smtp_path *out, char *msg, size_t msg_size);
/* Parse a domain or address literal (for EHLO/HELO) from s[*pos..),
 * stopping at a space or the end. allow_literal: "[ip]" accepted. */
mox__smtp_path_err mox__smtp_ipdomain_scan(const char *s, size_t len, size_t *pos,
					   bool utf8, bool allow_literal,
					   mox_smtp_path *out, char *msg,
					   size_t msg_size);

/* ---- datetime.c: RFC 3339 date-time ---- */

/* Parse an RFC 3339 date-time (section 5.6) into Unix seconds. */
bool mox__smtp_datetime_parse(const char *s, size_t len, int64_t *unix_out);
/* Format Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL). */
void mox__smtp_datetime_format(int64_t unix_secs, char out[32]);

/* ---- sasl_server.c ---- */

/* Whether a SCRAM server told the client of a failure ("e=...") and waits
 * for its last message to fail. */
bool mox__smtp_sasl_told_failure(const mox_sasl_server *server);

/* ---- conn.c: the connection and what the command files share ---- */

typedef enum mox__smtp_state {
	MOX__SMTP_ST_CMD = 0,   /* reading a command line */
	MOX__SMTP_ST_DISCARD,   /* skipping the rest of a too long line */
	MOX__SMTP_ST_AUTH,      /* reading an AUTH response line */
	MOX__SMTP_ST_DATA,      /* reading DATA content */
	MOX__SMTP_ST_BDAT,      /* reading a BDAT chunk */
	MOX__SMTP_ST_WAIT,      /* an event waits for its answer */
	MOX__SMTP_ST_STARTTLS,  /* waiting for starttls_done */
	MOX__SMTP_ST_CLOSED,
} mox__smtp_state;

/* The DATA dot-unstuffing states, see cmd_data.c. */
typedef enum mox__smtp_dstate {
	MOX__SMTP_D_BOL = 0, /* line start after CRLF */
	MOX__SMTP_D_DOT,     /* "." at line start */
	MOX__SMTP_D_DOTCR,   /* ".\r" at line start */
	MOX__SMTP_D_TEXT,    /* inside a line */
	MOX__SMTP_D_CR,      /* "\r" inside a line */
	MOX__SMTP_D_LF_BOL,  /* line start after a bare LF */
	MOX__SMTP_D_LF_DOT,  /* "." after a bare LF */
} mox__smtp_dstate;

/* Which event waits for its answer. */
typedef enum mox__smtp_wait {
	MOX__SMTP_W_NONE = 0,
	MOX__SMTP_W_HELLO,
	MOX__SMTP_W_AUTH,
	MOX__SMTP_W_MAIL,
	MOX__SMTP_W_RCPT,
	MOX__SMTP_W_DATA_END,
} mox__smtp_wait;

#define MOX__SMTP_ERRMSG_MAX 256
#define MOX__SMTP_QUEUE_MAX 8
/* Output room reserved before a command is taken: every reply the core
 * writes for one command fits. */
#define MOX__SMTP_OUT_RESERVE 4096

struct mox_smtp_conn {
	const mox_allocator *alloc;
	mox_smtp_limits lim;
	unsigned flags;
	unsigned auth_mechs;
	int64_t future_release_max;
	char hostname[MOX_SMTP_DOMAIN_MAX + 1];
	mox_sasl_random_fn random;
	void *random_arg;

	mox__smtp_state state;
	mox__smtp_wait wait;
	bool resume_auth; /* ST_DISCARD came from ST_AUTH */

	mox_buf in; /* unprocessed input starts at in_off */
	size_t in_off;
	mox_buf out;
	mox_buf chunk; /* EV_DATA bytes */
	int64_t now;
	int64_t wait_since; /* start of the current wait for the client, -1: unset */
	int64_t data_deadline;

	/* Events to return, in order. */
	mox_smtp_event queue[MOX__SMTP_QUEUE_MAX];
	size_t q_head, q_len;
	int close_code;
	char close_reason[MOX__SMTP_ERRMSG_MAX];

	/* Session. */
	bool tls;
	bool ehlo;
	bool hello_done;
	size_t ncmds; /* commands seen */
	unsigned errors;
	unsigned auth_failures;
	size_t transactions;
	bool authenticated;
	char username[MOX_SASL_NAME_MAX + 1];
	char auth_failed_user[MOX_SASL_NAME_MAX + 1]; /* for EV_AUTH_RESULT */
	mox_smtp_path hello;    /* parsed EHLO/HELO name, waiting or accepted */
	bool hello_ehlo;        /* the waiting HELLO was EHLO */
	char hello_name[MOX_SMTP_DOMAIN_UNICODE_MAX + 3];
	mox_sasl_cb_type cb_type;
	uint8_t cb_data[MOX_SASL_CB_DATA_MAX];
	size_t cb_len;

	/* AUTH in progress. */
	mox_sasl_server *sasl;
	mox_sasl_mech sasl_mech;

	/* Transaction. */
	bool have_mail;
	mox_smtp_path mail_from;
	mox_smtp_mail_params params;
	char auth_param[MOX_SMTP_PATH_MAX + 1];
	size_t rcpts;
	mox_smtp_path rcpt; /* the RCPT waiting for its answer */

	/* Message data. */
	bool in_data; /* DATA or BDAT content started in this transaction */
	bool bdat;
	bool bdat_last;
	bool bdat_discard; /* read and drop this chunk, then reply the error */
	bool bdat_abort;   /* and end the transaction with DATA_ABORT */
	int bdat_code;
	int bdat_se;
	char bdat_text[MOX__SMTP_ERRMSG_MAX];
	uint64_t bdat_remaining;
	mox__smtp_dstate dstate;
	uint64_t msg_size;
	uint64_t line_len;
	bool has_8bit;
	bool bad_crlf;
	bool too_big;
	bool line_too_long;

	char errmsg[MOX__SMTP_ERRMSG_MAX];
};

/* a + b without overflow. */
int64_t mox__smtp_add_time(int64_t a, int64_t b);

/* Append a reply to the output (room was reserved before the command). */
void mox__smtp_reply(mox_smtp_conn *c, int code, int se, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error reply caused by the client: counted towards errors_max, which
 * closes the connection when reached. */
void mox__smtp_error(mox_smtp_conn *c, int code, int se, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write a reply (code 0: none) and close; EV_CLOSE follows the queued
 * events. */
void mox__smtp_close(mox_smtp_conn *c, int code, int se, const char *text);
/* Queue an event for next. */
void mox__smtp_push(mox_smtp_conn *c, const mox_smtp_event *ev);
/* Drop the transaction; queue EV_RESET when one had started and
 * emit_reset. */
void mox__smtp_rset(mox_smtp_conn *c, bool emit_reset);
/* Queue ev and wait for the caller's answer to it. */
void mox__smtp_wait_for(mox_smtp_conn *c, mox__smtp_wait w, const mox_smtp_event *ev);

/* The command argument cursor, over the text after the verb. */
typedef struct mox__smtp_args {
	const char *s;
	size_t len;
	size_t pos;
} mox__smtp_args;

bool mox__smtp_args_take(mox__smtp_args *a, const char *lit); /* case-insensitive */
bool mox__smtp_args_space(mox__smtp_args *a);
/* End of command: trailing white space allowed except on submission (RFC
 * 5321 section 4.1.1 allows none; mox accepts it for SMTP). */
bool mox__smtp_args_end(mox_smtp_conn *c, mox__smtp_args *a);
/* RFC 5321 section 4.1.2 String = Atom / Quoted-string. */
bool mox__smtp_args_string(mox__smtp_args *a);
/* esmtp-keyword (RFC 5321 section 4.1.2), upper-cased into out. */
bool mox__smtp_args_keyword(mox__smtp_args *a, char *out, size_t out_size);
/* esmtp-value (RFC 5321 section 4.1.2, RFC 6531 section 3.3 with utf8). */
bool mox__smtp_args_value(mox__smtp_args *a, bool utf8, const char **v, size_t *n);
/* Decimal number of 1 to max_digits digits. */
bool mox__smtp_args_number(mox__smtp_args *a, size_t max_digits, uint64_t *out);
/* Decode xtext (RFC 3461 section 4) into out (NUL-terminated). */
bool mox__smtp_xtext_decode(const char *s, size_t n, char *out, size_t out_size);

/* Command handlers, one file each. They run with the command line taken
 * and output room reserved; MOX_ENOMEM only before they changed anything,
 * so the line can be taken again. */
mox_err mox__smtp_cmd_hello(mox_smtp_conn *c, mox__smtp_args *a, bool ehlo);
/* Write the EHLO/HELO reply with the extensions. */
void mox__smtp_hello_reply(mox_smtp_conn *c);
mox_err mox__smtp_cmd_starttls(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_auth(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_auth_line(mox_smtp_conn *c, const char *line, size_t len);
/* Act on a SASL status: challenge, event, success or failure. */
void mox__smtp_auth_continue(mox_smtp_conn *c, mox_sasl_status st);
/* End the AUTH exchange (free the SASL server). */
void mox__smtp_auth_end(mox_smtp_conn *c);
mox_err mox__smtp_cmd_mail(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_rcpt(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_data(mox_smtp_conn *c, mox__smtp_args *a);
/* Take DATA content from the input: MOX_OK, MOX_EAGAIN (no input),
 * MOX_ENOMEM (no room for the reply; nothing taken). */
mox_err mox__smtp_data_input(mox_smtp_conn *c);
mox_err mox__smtp_cmd_bdat(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_bdat_input(mox_smtp_conn *c);
/* Give the bytes gathered in chunk as an EV_DATA event. */
void mox__smtp_flush_chunk(mox_smtp_conn *c);
/* The end of a message (DATA or BDAT LAST): DATA_END or DATA_ABORT. */
void mox__smtp_message_end(mox_smtp_conn *c);
/* Checks shared by MAIL, RCPT, DATA, BDAT: hello, auth on submission,
 * TLS when required; false after replying. */
bool mox__smtp_check_mail_allowed(mox_smtp_conn *c);
mox_err mox__smtp_cmd_rset(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_noop(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_help(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_quit(mox_smtp_conn *c, mox__smtp_args *a);
mox_err mox__smtp_cmd_vrfy(mox_smtp_conn *c, mox__smtp_args *a, bool expn);

#endif
