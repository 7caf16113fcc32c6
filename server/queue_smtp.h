/* One SMTP delivery attempt to one address, blocking: connect, drive the
 * libmoxsmtp client state machine (mox/smtp_client.h) over the socket,
 * STARTTLS with mbedTLS, certificate checks for MTA-STS (PKIX + name) and
 * DANE (RFC 7672), one transaction, QUIT. Runs on a worker thread (the
 * scheduler's threadpool job), never on the loop. */
#ifndef MOX_SERVER_QUEUE_SMTP_H
#define MOX_SERVER_QUEUE_SMTP_H

#include <mox/dns.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the TLS of the connection is decided. */
typedef enum queue_tls_mode {
	QUEUE_TLS_SKIP = 0,          /* no STARTTLS (retry after bad TLS) */
	QUEUE_TLS_OPPORTUNISTIC = 1, /* STARTTLS when offered, no checks */
	QUEUE_TLS_PKIX = 2,          /* STARTTLS required, WebPKI cert for
	                                the host name (MTA-STS enforce,
	                                RFC 8461 section 5.1) */
	QUEUE_TLS_DANE = 3,          /* STARTTLS required, cert matching a
	                                usable TLSA record (RFC 7672 2.2) */
	QUEUE_TLS_IMPLICIT = 4,      /* TLS from the first byte (smarthost
	                                on 465, RFC 8314), PKIX checked
	                                unless tls_insecure */
} queue_tls_mode;

typedef struct queue_smtp_tlsa {
	uint8_t usage, selector, matching_type;
	const uint8_t *data;
	size_t len;
} queue_smtp_tlsa;

typedef struct queue_smtp_req {
	const char *ehlo_name; /* our host name */
	const char *host;      /* the server's name: SNI and checks */
	const char *ip;        /* address to connect to */
	uint16_t port;
	queue_tls_mode tls;
	bool tls_insecure;   /* PKIX: accept any cert (tests, smarthost) */
	const char *ca_file; /* PKIX: NULL: /etc/ssl/certs/ca-certificates.crt */
	const queue_smtp_tlsa *tlsa; /* DANE: usable records */
	size_t ntlsa;
	const char *username; /* AUTH (smarthost), NULL: none */
	const char *password;
	const char *from; /* "" null sender */
	const char *rcpt;
	/* More than one recipient in one transaction (mox sendmail): when
	 * nrcpts > 0 these are used instead of rcpt/notify/orcpt, and the
	 * attempt is ok only when every one was accepted. */
	const char *const *rcpts;
	size_t nrcpts;
	const char *notify; /* RFC 3461 NOTIFY text, "" none */
	const char *orcpt;
	const char *envid;
	bool ret_full;
	bool has8bit, smtputf8, requiretls;
	const uint8_t *msg;
	size_t msg_len;
	int connect_timeout_ms; /* 0: 30 s */
	int io_timeout_ms;      /* 0: 5 minutes (RFC 5321 4.5.3.2) */
} queue_smtp_req;

typedef struct queue_smtp_res {
	bool ok;        /* accepted by the server */
	bool permanent; /* do not try again (5xx, unsupported) */
	bool connected; /* got past connect */
	bool bad_tls;   /* failed because of TLS (handshake, checks) */
	int code;
	char ecode[16];
	char text[512]; /* what happened, for last_error and DSNs */
} queue_smtp_res;

/* Make the attempt. Thread-safety: any thread. */
void queue_smtp_deliver(const queue_smtp_req *req, queue_smtp_res *res);

/* Does cert (DER) match the TLSA record (RFC 6698 section 2.1: selector
 * 0 whole certificate, 1 SubjectPublicKeyInfo; matching 0 exact, 1
 * SHA-256, 2 SHA-512)? Thread-safety: any thread. */
bool queue_tlsa_match(const queue_smtp_tlsa *t, const uint8_t *cert_der,
                      size_t cert_len, const uint8_t *spki_der, size_t spki_len);

#endif
