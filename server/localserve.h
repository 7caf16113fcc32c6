/* mox localserve: shared state of the server parts. */
#ifndef MOX_SERVER_LOCALSERVE_H
#define MOX_SERVER_LOCALSERVE_H

#include "net.h"

#include <limits.h>

enum { LOCALSERVE_SMTP, LOCALSERVE_SUBMISSION, LOCALSERVE_SUBMISSIONS };

typedef struct mox_store mox_store;

typedef struct localserve {
	char dir[PATH_MAX];
	uv_loop_t *loop;
	tls_config tls;
	mox_store *store; /* the one account */
} localserve;

int localserve_main(int argc, char **argv);
int localserve_account_open(localserve *ls, const char *path, char *errbuf, size_t errlen);
void localserve_account_close(localserve *ls);
/* The SMTP protocol for a listener kind. */
const proto *localserve_smtp_proto(localserve *ls, int kind);

#endif
