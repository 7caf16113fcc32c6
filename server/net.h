/* Listeners and connections on the libuv loop. A protocol (SMTP, IMAP)
 * plugs in through struct proto and sees plaintext only: implicit TLS and
 * STARTTLS are handled here with server/tls.c.
 *
 * Limits against abuse (net_limits, shared by the listeners of a server
 * as mox shares its limiters): open connections in total and per client
 * address class, new connections per minute per class, failed
 * authentications per class (see ratelimit.h), a time limit on the TLS
 * handshake, a bound on what a peer that does not read can make us queue,
 * and a time limit on closing. A refused connection gets one line made
 * from the listener's refuse_fmt ("421 4.7.0 %s" for SMTP, "* BYE %s" for
 * IMAP), over TLS on an implicit-TLS listener, and is closed. */
#ifndef MOX_SERVER_NET_H
#define MOX_SERVER_NET_H

#include "log.h"
#include "ratelimit.h"
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

/* Limits, with mox's values as defaults (net_limits_default). */
typedef struct net_limits {
	/* Open connections in total over the listeners sharing this; 0: no
	 * limit. mox has none; default 1000. */
	size_t conns_max;
	/* Open connections per address, /26 (IPv6 /48), /21 (/32): mox 30,
	 * 90, 270. */
	int64_t conns_ip[3];
	/* New connections a minute per class: mox 300, 900, 2700. */
	int64_t rate_ip[3];
	/* Failed authentications per class a minute (mox 10, 30, 90) and a
	 * day (mox 50, 150, 450). */
	int64_t authfail_minute[3];
	int64_t authfail_day[3];
	/* Milliseconds for a TLS handshake to complete; default 30 s. */
	int64_t tls_timeout_ms;
	/* Milliseconds for a closing connection's last writes; default 10 s. */
	int64_t close_timeout_ms;
	/* Bytes queued to a peer that does not read before we close;
	 * default 4 MiB. */
	size_t write_queue_max;
	/* For the protocols: command and data timeouts in milliseconds; 0:
	 * the protocol's default (SMTP: 5 and 30 minutes). */
	int64_t command_timeout_ms;
	int64_t data_timeout_ms;

	/* State, made by net_limits_init. */
	size_t nconns;    /* open (not refused) connections */
	size_t nrefusing; /* refused connections being told so */
	ratelimit *open;
	ratelimit *rate;
	ratelimit *failed_auth;
} net_limits;

/* Fill in mox's defaults. */
void net_limits_default(net_limits *nl);
/* Change limits from a spec "key=value,..." with keys conns, conns_ip,
 * rate_ip, authfail_ip (a number for the address; its networks get 3x
 * and 9x, as mox) and timeouts command, data, tls, close (milliseconds;
 * a suffix "s" for seconds). 0, or -1 with errbuf. */
int net_limits_parse(net_limits *nl, const char *spec, char *errbuf, size_t errlen);
/* Make the limiters. 0, or -1 (out of memory). */
int net_limits_init(net_limits *nl);
void net_limits_free(net_limits *nl);

typedef struct listener {
	uv_tcp_t tcp;
	const proto *proto;
	tls_config *implicit_tls; /* TLS from the first byte (465, 993) */
	tls_config *starttls;     /* offered by STARTTLS, or NULL */
	uint16_t port;
	char name[32];
	net_limits *limits; /* NULL: no limits */
	/* The refusal line, with one %s for the reason and ending in CRLF;
	 * NULL: refused connections are closed without a word. */
	const char *refuse_fmt;
	/* Refuse at connect when the address has too many failed
	 * authentications (mox does for submission and IMAP). */
	bool authfail_at_connect;
	/* Logs and protocol traces go to this package. */
	mlog_pkg log_pkg;
	/* How to trace: NET_TRACE_SMTP knows AUTH, DATA and BDAT; other
	 * protocols have all client input traced as authentication data
	 * (redacted unless traceauth), which is safe but terse. */
	int trace_kind;
} listener;

enum { NET_TRACE_OTHER = 0, NET_TRACE_SMTP = 1 };

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* TLS handshake, then closing */
	listener *l;
	void *session;
	tls_conn tls;
	bool tls_on;
	bool closing;
	bool counted;  /* holds a place in the limits */
	bool refusing; /* telling the client it is refused */
	bool timer_on;
	bool paused;    /* not reading: the client does not read our output */
	int handles;    /* libuv handles not yet closed */
	uint64_t id;    /* connection id for logs (cid) */
	char peer[64];  /* remote address, text */
	char local[64]; /* local address, text */
	uint16_t peer_port;
	ratelimit_ip ip;        /* remote address */
	struct {                /* protocol trace state (NET_TRACE_SMTP) */
		bool auth;      /* client lines are SASL data */
		bool data;      /* client lines are message data */
		bool data_ok;   /* the 354 was seen */
		uint64_t bdat;  /* bytes of BDAT chunk data still to come */
		bool bol_in;    /* at the start of a client line */
		size_t linelen; /* bytes of the current line so far */
	} tr;
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

/* Failed-authentication rate limit (mox: 421 4.7.0 "too many auth
 * failures"): whether this client may try to authenticate now, and the
 * outcome of an attempt (a success clears the address's count, an
 * aborted exchange does not count). */
bool conn_auth_allowed(conn *c);
void conn_auth_result(conn *c, bool ok, bool aborted);

#endif
