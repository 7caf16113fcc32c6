/* Listeners and connections on the libuv loop. A protocol (SMTP, IMAP)
 * plugs in through struct proto and sees plaintext only: implicit TLS and
 * STARTTLS are handled here with server/tls.c. */
#ifndef MOX_SERVER_NET_H
#define MOX_SERVER_NET_H

#include "tls.h"

#include <stdint.h>
#include <uv.h>

typedef struct conn conn;

typedef struct proto {
	const char *name;
	/* A new connection: make the session (return NULL to refuse). */
	void *(*open)(conn *c, void *arg);
	/* Plaintext received. */
	void (*input)(void *session, const uint8_t *data, size_t len);
	/* The connection is gone: free the session. */
	void (*closed)(void *session);
	void *arg;
} proto;

typedef struct listener {
	uv_tcp_t tcp;
	const proto *proto;
	tls_config *implicit_tls; /* TLS from the first byte (465, 993) */
	tls_config *starttls;     /* offered by STARTTLS, or NULL */
	uint16_t port;
	char name[32];
} listener;

struct conn {
	uv_tcp_t tcp;
	listener *l;
	void *session;
	tls_conn tls;
	bool tls_on;
	bool closing;
	uint64_t id;     /* connection id for logs (cid) */
	char peer[64];   /* remote address, text */
	char local[64];  /* local address, text */
	uint16_t peer_port;
};

/* Listen on ip:port (loopback for localserve). 0 or -1 with errbuf. */
int listener_start(uv_loop_t *loop, listener *l, const char *ip, uint16_t port,
		   char *errbuf, size_t errlen);
/* Send plaintext (encrypted first when TLS is on). */
void conn_write(conn *c, const void *data, size_t len);
/* Start TLS now (after the protocol sent its "go ahead" reply). */
int conn_starttls(conn *c);
/* Start TLS with bytes the client already sent after its STARTTLS command
 * (the start of its handshake, RFC 3207 section 4.2). */
int conn_starttls_with(conn *c, const uint8_t *early, size_t len);
/* Close the connection after pending writes. */
void conn_close(conn *c);

/* Logging with the connection id (DESIGN.md: cid in every line). */
void mlog(const char *level, uint64_t cid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
