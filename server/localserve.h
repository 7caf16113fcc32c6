/* mox localserve: shared state of the server parts. */
#ifndef MOX_SERVER_LOCALSERVE_H
#define MOX_SERVER_LOCALSERVE_H

#include "net.h"

#include <limits.h>

enum {
	LOCALSERVE_SMTP,
	LOCALSERVE_SUBMISSION,
	LOCALSERVE_SUBMISSIONS,
	LOCALSERVE_IMAP,  /* 1143, STARTTLS */
	LOCALSERVE_IMAPS, /* 1993, implicit TLS */
};

typedef struct mox_store mox_store;

typedef struct localserve {
	char dir[PATH_MAX];
	uv_loop_t *loop;
	tls_config tls;
	mox_store *store; /* the one account */
	net_limits *limits;                       /* shared by the listeners */
	const struct mox_smtp_limits *smtp_limits; /* NULL: the core's defaults */
} localserve;

int localserve_main(int argc, char **argv);
int localserve_account_open(localserve *ls, const char *path, char *errbuf, size_t errlen);
void localserve_account_close(localserve *ls);
/* The SMTP protocol for a listener kind. */
const proto *localserve_smtp_proto(localserve *ls, int kind);
/* The IMAP protocol (server/imap_session.c). */
const proto *localserve_imap_proto(localserve *ls);

#endif
