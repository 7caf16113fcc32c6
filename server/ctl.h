/* The ctl socket of mox serve (<DataDir>/ctl) and the commands that use
 * it: the protocol and the server side are in server/ctl.c, which reaches
 * the running server through the functions of serve.c declared here. */
#ifndef MOX_SERVER_CTL_H
#define MOX_SERVER_CTL_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct mox_store mox_store;
typedef struct serve serve;
typedef struct ctl_server ctl_server;

/* mox serve (server/serve.c); argv[0] is "serve". */
int serve_main(int argc, char **argv);

/* ---- what serve.c gives the ctl commands (loop thread) ---- */

const mox_config_static *serve_static(serve *sv);
mox_config_live *serve_live(serve *sv);
/* The open store of an account (opened and cached when needed). 0, or
 * -1 with errbuf. */
int serve_account_store(serve *sv, const char *account, mox_store **store_out,
                        char *errbuf, size_t errlen);
/* Forget the cached store of a removed account (closed at the end). */
void serve_account_forget(serve *sv, const char *account);
/* Graceful shutdown (as on SIGTERM). */
void serve_stop(serve *sv);
/* The running queue, or NULL (built without it). */
struct queue *serve_queue(serve *sv);

/* ---- server side ---- */

/* Listen on path (mode 0600); only root and our own user may use it
 * (SO_PEERCRED). NULL with errbuf on failure. */
ctl_server *ctl_listen(uv_loop_t *loop, serve *sv, const char *path, char *errbuf,
                       size_t errlen);
/* Stop listening and remove the socket file. */
void ctl_close(ctl_server *cs);

/* ---- client side: the mox commands ---- */

/* Run a request over the ctl socket of the server whose mox.conf is the
 * default one (-config/MOXCONF): output lines to stdout, the error to
 * stderr. Returns the exit code, or -1 when no server could be reached
 * (*why says why; callers may fall back to working on the files). */
int ctl_request(const char *const *args, size_t nargs, bool wait_close, char *why,
                size_t whylen);
/* "mox stop|loglevels|setaccountpassword|config account|address|domain ...":
 * argv[0] is the command. Returns the exit code; -1 when the command could
 * not reach a server and fallback is true (the caller tries another way). */
int ctl_cmd_main(int argc, char **argv, bool fallback);

#endif
