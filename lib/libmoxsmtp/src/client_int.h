/* Declarations shared between the client source files (client*.c) of
 * libmoxsmtp; never installed. */
#ifndef MOX_SMTP_CLIENT_INT_H
#define MOX_SMTP_CLIENT_INT_H

#include "smtp_int.h"

#include <mox/smtp_client.h>

/* Connection states. */
typedef enum mox__smtpc_state {
	MOX__SMTPC_GREETING = 0, /* waiting for the 220 */
	MOX__SMTPC_HELLO,        /* EHLO/HELO sent */
	MOX__SMTPC_STARTTLS,     /* STARTTLS sent */
	MOX__SMTPC_HANDSHAKE,    /* the caller runs TLS */
	MOX__SMTPC_AUTH,         /* AUTH exchange */
	MOX__SMTPC_READY,        /* between transactions */
	MOX__SMTPC_TX,           /* commands of a transaction in flight */
	MOX__SMTPC_RSET,         /* RSET after a failed transaction */
	MOX__SMTPC_QUIT,         /* QUIT sent */
	MOX__SMTPC_CLOSED,       /* only EV_CLOSED from now on */
} mox__smtpc_state;

/* What a reply we wait for answers, in the order sent. */
typedef enum mox__smtpc_kind {
	MOX__SMTPC_K_GREETING = 0,
	MOX__SMTPC_K_EHLO,
	MOX__SMTPC_K_HELO,
	MOX__SMTPC_K_STARTTLS,
	MOX__SMTPC_K_AUTH,
	MOX__SMTPC_K_RSET,
	MOX__SMTPC_K_MAIL,
	MOX__SMTPC_K_RCPT,
	MOX__SMTPC_K_DATA,
	MOX__SMTPC_K_DOT,        /* "." after the message */
	MOX__SMTPC_K_DOT_IGNORE, /* "." after a 354 we did not want */
	MOX__SMTPC_K_BDAT,
	MOX__SMTPC_K_BDAT_LAST,
	MOX__SMTPC_K_QUIT,
} mox__smtpc_kind;

typedef struct mox__smtpc_expect {
	mox__smtpc_kind kind;
	size_t index; /* recipient index for RCPT */
} mox__smtpc_expect;

/* A command of the transaction not yet written (no PIPELINING). */
typedef struct mox__smtpc_cmd {
	mox__smtpc_kind kind;
	size_t index;
	size_t off, len; /* in cmdtext */
} mox__smtpc_cmd;

/* Where a transaction is. */
typedef enum mox__smtpc_txphase {
	MOX__SMTPC_TX_CMDS = 0,  /* MAIL/RCPT (and DATA with PIPELINING) out */
	MOX__SMTPC_TX_DATA_SENT, /* DATA written, 354 awaited */
	MOX__SMTPC_TX_STREAM,    /* the caller gives the message */
	MOX__SMTPC_TX_END_SENT,  /* "." or BDAT LAST written */
} mox__smtpc_txphase;

#define MOX__SMTPC_QUEUE_MAX 8

typedef struct mox__smtpc_qev {
	mox_smtp_client_event ev;
	char text[MOX_SMTP_CLIENT_TEXT_MAX + 1];
} mox__smtpc_qev;

struct mox_smtp_client {
	const mox_allocator *alloc;
	mox_smtp_client_limits lim;
	char hostname[MOX_SMTP_DOMAIN_MAX + 1];
	mox_smtp_client_tls tls_policy;
	bool tls;
	char *username;
	uint8_t *password;
	size_t password_len;
	unsigned auth_mechs;
	bool auth_plaintext_ok;
	mox_sasl_random_fn random;
	void *random_arg;
	mox_sasl_cb_type cb_type;
	uint8_t cb_data[MOX_SASL_CB_DATA_MAX];
	size_t cb_len;

	mox__smtpc_state state;
	bool ready_announced;
	bool eof;
	bool error_announced;

	mox_buf in;
	size_t in_off;
	size_t in_max;
	mox_buf out;
	mox_buf rtext; /* text of the reply being handled */
	int64_t now;
	int64_t wait_since; /* -1: not set */

	/* Replies awaited, in order. */
	mox__smtpc_expect *expect;
	size_t nexpect, expect_head, expect_cap;

	/* Events to return. */
	mox__smtpc_qev queue[MOX__SMTPC_QUEUE_MAX];
	size_t q_head, q_len;
	mox__smtpc_qev cur; /* the event last returned */

	/* What the server said. */
	unsigned ext;
	bool ehlo;
	uint64_t size_max;
	unsigned server_mechs;
	size_t rcpt_max, mail_max;
	char greeting_name[MOX_SMTP_DOMAIN_MAX + 1];
	size_t transactions;

	/* AUTH. */
	mox_sasl_client *sasl;
	mox_sasl_mech auth_mech;
	bool auth_cancelled;
	char auth_error[MOX__SMTP_ERRMSG_MAX];

	/* The transaction. */
	mox__smtpc_txphase phase;
	size_t nrcpts; /* recipients in the transaction */
	size_t ntried; /* RCPT commands made (RCPTMAX) */
	size_t rcpt_replies;
	size_t accepted;
	bool mail_ok;
	bool tx_failed;
	bool bdat;
	bool pending_cr;     /* a CR whose LF (or not) is still to come */
	bool bol;            /* at the beginning of a line */
	bool data_blocked;   /* data() waited for a BDAT reply: EV_DATA again */
	bool end_pending;    /* data_end() waits for a BDAT reply */
	mox__smtpc_qev fail; /* the failure, once tx_failed */
	mox__smtpc_qev last_rcpt_fail;
	mox__smtpc_cmd *cmds;
	size_t ncmds, cmds_pos, cmds_cap;
	mox_buf cmdtext;
	mox_buf chunk; /* BDAT chunk being made */

	char errmsg[MOX__SMTP_ERRMSG_MAX];
};

/* client_auth.c */
/* Start AUTH after EHLO: pick a mechanism, write the first line. false
 * after queueing an error (no mechanism fits). */
mox_err mox__smtpc_auth_start(mox_smtp_client *c, bool *ok_out);
/* A reply to an AUTH line; sets *done when authenticated. */
mox_err mox__smtpc_auth_reply(mox_smtp_client *c, const mox_smtp_reply *r, bool *done);

/* client.c */
void mox__smtpc_result(mox__smtpc_qev *q, mox_smtp_client_step step,
                       mox_smtp_client_status status, int code, const char *ecode,
                       const char *text, size_t text_len);
void mox__smtpc_push(mox_smtp_client *c, const mox__smtpc_qev *q);
/* Queue EV_ERROR with q's result, write QUIT if quit, and close. */
void mox__smtpc_fail(mox_smtp_client *c, mox__smtpc_qev *q, bool quit);
mox_err mox__smtpc_expect_push(mox_smtp_client *c, mox__smtpc_kind kind, size_t index);
/* After EHLO went well (and TLS and AUTH are settled): ready. */
void mox__smtpc_set_ready(mox_smtp_client *c);
/* Room for n more awaited replies without allocating. */
mox_err mox__smtpc_expect_reserve(mox_smtp_client *c, size_t n);

/* client_data.c */
/* Write "." or the last BDAT; room reserved. */
void mox__smtpc_write_end(mox_smtp_client *c);

#endif
