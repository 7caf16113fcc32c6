/* mox localserve: shared state of the server parts. */
#ifndef MOX_SERVER_LOCALSERVE_H
#define MOX_SERVER_LOCALSERVE_H

#include "env.h"
#include "net.h"

#include <limits.h>

/* The listener kinds (env.h), by their older names. */
enum {
	LOCALSERVE_SMTP = ENV_SMTP,
	LOCALSERVE_SUBMISSION = ENV_SUBMISSION,
	LOCALSERVE_SUBMISSIONS = ENV_SUBMISSIONS,
	LOCALSERVE_IMAP = ENV_IMAP,   /* 1143, STARTTLS */
	LOCALSERVE_IMAPS = ENV_IMAPS, /* 1993, implicit TLS */
};

typedef struct localserve {
	char dir[PATH_MAX];
	uv_loop_t *loop;
	tls_config tls;
	mox_store *store; /* the one account */
	net_limits *limits;                       /* shared by the listeners */
	const struct mox_smtp_limits *smtp_limits; /* NULL: the core's defaults */
	server_env env; /* for the sessions: every address is the account */
} localserve;

int localserve_main(int argc, char **argv);
int localserve_account_open(localserve *ls, const char *path, char *errbuf, size_t errlen);
void localserve_account_close(localserve *ls);
/* Fill ls->env: every login and address is the one account. */
void localserve_env_init(localserve *ls);
/* The SMTP protocol for a listener kind. */
const proto *localserve_smtp_proto(localserve *ls, int kind);
/* The IMAP protocol (server/imap_session.c). */
const proto *localserve_imap_proto(localserve *ls);

#endif
