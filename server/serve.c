/* mox serve: the mail server from mox.conf and domains.conf.
 *
 *   mox [-config mox.conf] serve
 *
 * Reads mox.conf (-config, MOXCONF, or config/mox.conf) and domains.conf
 * next to it, sets the log levels (LogLevel, PackageLogLevels; MOX_LOGLEVELS
 * overrides), and listens per configured Listener on each of its IPs for
 * the enabled services with mox's default ports: SMTP 25, Submission 587
 * (STARTTLS), Submissions 465 (implicit TLS, RFC 8314), IMAP 143
 * (STARTTLS) and IMAPS 993, with the listener's TLS KeyCerts. Ports are
 * bound as root; then, when running as root, the data directory is given
 * to the configured User and privileges are dropped to it (setgroups,
 * setgid, setuid). The ctl socket <DataDir>/ctl (mode 0600, owned by that
 * user) serves the admin commands (server/ctl.c).
 *
 * domains.conf is checked for changes every second and a valid new
 * version is swapped in without dropping connections (config.h live
 * reload); sessions look accounts and addresses up in the current one.
 * Account stores are opened when first needed and kept open (libmoxstore
 * locks an account to one handle). The outgoing queue (server/queue*.c)
 * runs on the same loop; submitted mail is queued, local recipients are
 * delivered by the queue to their account.
 *
 * SIGTERM, SIGINT or "mox stop": new connections are told to come back
 * later (SMTP 421 4.3.2), connections in progress get 3 seconds, the queue
 * stops (running attempts finish), queued thread-pool work completes, the
 * stores are closed and the process exits 0. */
#define _GNU_SOURCE /* nftw, setgroups */
#include "config.h"
#include "ctl.h"
#include "env.h"
#include "log.h"
#include "net.h"
#ifdef MOX_HAVE_QUEUE
#include "queue.h"
#endif
#ifdef MOX_HAVE_SUBMIT
#include "submit.h"
#endif

#include <mox/dns.h>
#include <mox/smtp.h>
#include <mox/store.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Connections in progress get this long after a stop. */
#define STOP_GRACE_MS 3000
/* domains.conf is checked for changes this often. */
#define RELOAD_MS 1000

typedef struct account_ent {
	char *name;
	mox_store *store;
} account_ent;

struct serve {
	mox_config_static *st;
	mox_config_live live;
	server_env env;
	uv_loop_t *loop;
	net_limits limits;
	mox_smtp_limits smtp_limits;
	tls_config *tls; /* one per configured listener; NULL entries: none */
	bool *tls_ok;
	listener *ls;
	size_t nls;
	pthread_mutex_t mu; /* accounts */
	account_ent *accounts;
	size_t naccounts;
	mox_resolver *resolver;
	struct queue *q;
#ifdef MOX_HAVE_SUBMIT
	submit_keys *keys; /* DKIM keys, flushed when domains.conf changes */
#endif
#ifdef MOX_HAVE_QUEUE
	queue_settings qset;
#endif
	ctl_server *ctl;
	uv_timer_t reload_timer, stop_timer;
	uv_signal_t sigterm, sigint;
	bool stopping;
	char spool[PATH_MAX];
};

/* ---- accounts ---- */

int
serve_account_store(serve *sv, const char *account, mox_store **store_out, char *errbuf,
                    size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&sv->mu);
	for (size_t i = 0; i < sv->naccounts; i++) {
		if (strcmp(sv->accounts[i].name, account) == 0) {
			*store_out = sv->accounts[i].store;
			pthread_mutex_unlock(&sv->mu);
			return 0;
		}
	}
	/* Account names come from the config (config.c checks them); still,
	 * never let one leave the accounts directory. */
	if (account[0] == '\0' || account[0] == '.' || strchr(account, '/') != NULL) {
		snprintf(errbuf, errlen, "bad account name");
		pthread_mutex_unlock(&sv->mu);
		return -1;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/accounts/%s", sv->st->data_dir, account);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s/accounts", sv->st->data_dir);
	if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "%s: %s", parent, strerror(errno));
		pthread_mutex_unlock(&sv->mu);
		return -1;
	}
	mox_store_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.create = true;
	mox_errinfo info = {0};
	mox_store *store = NULL;
	mox_err err = mox_store_open(&store, path, &o, &info);
	account_ent *n = NULL;
	if (err == MOX_OK)
		n = realloc(sv->accounts, (sv->naccounts + 1) * sizeof(*n));
	char *name = n != NULL ? strdup(account) : NULL;
	if (err != MOX_OK || n == NULL || name == NULL) {
		snprintf(errbuf, errlen, "opening account %s: %s", account,
		         err != MOX_OK ? (info.msg[0] ? info.msg : mox_strerror(err))
		                       : "out of memory");
		if (n != NULL)
			sv->accounts = n;
		mox_store_close(store);
		rc = -1;
	} else {
		sv->accounts = n;
		n[sv->naccounts].name = name;
		n[sv->naccounts].store = store;
		sv->naccounts++;
		*store_out = store;
		mlog("info", 0, "opened account account=%s", account);
	}
	pthread_mutex_unlock(&sv->mu);
	return rc;
}

void
serve_account_forget(serve *sv, const char *account)
{
	/* The store stays open and cached until the end: sessions may still
	 * use it, and libmoxstore allows one handle per account, so an
	 * account added again under the same name gets the same handle.
	 * Its data directory is left in place (as mox: removing an account
	 * from the config keeps its messages). */
	(void)sv;
	(void)account;
}

const mox_config_static *
serve_static(serve *sv)
{
	return sv->st;
}

mox_config_live *
serve_live(serve *sv)
{
	return &sv->live;
}

struct queue *
serve_queue(serve *sv)
{
	return sv->q;
}

/* ---- the environment of the sessions (env.h) ---- */

static int
env_login(server_env *e, const char *login, mox_store **store_out, char *account,
          size_t accountlen)
{
	serve *sv = e->arg;
	mox_config_dynamic *dyn = mox_config_live_get(&sv->live);
	const mox_cfg_account *acc = strchr(login, '@') != NULL
	                                 ? mox_config_address_find(dyn, login, NULL)
	                                 : mox_config_account_find(dyn, login);
	char name[256] = "";
	if (acc != NULL)
		snprintf(name, sizeof(name), "%s", acc->name);
	mox_config_dynamic_unref(dyn);
	if (name[0] == '\0')
		return -1;
	char err[256];
	if (serve_account_store(sv, name, store_out, err, sizeof(err)) != 0) {
		mlog("error", 0, "login account=%s error=\"%s\"", name, err);
		return -1;
	}
	snprintf(account, accountlen, "%s", name);
	return 0;
}

static env_dest
env_destination(server_env *e, const char *address, mox_store **store_out,
                char *mailbox, size_t mailboxlen, char *why, size_t whylen)
{
	serve *sv = e->arg;
	mox_config_dynamic *dyn = mox_config_live_get(&sv->live);
	const mox_cfg_destination *dest = NULL;
	const mox_cfg_account *acc = mox_config_address_find(dyn, address, &dest);
	char name[256] = "";
	if (acc != NULL) {
		snprintf(name, sizeof(name), "%s", acc->name);
		snprintf(mailbox, mailboxlen, "%s",
		         dest != NULL && dest->mailbox[0] != '\0' ? dest->mailbox
		                                                  : "Inbox");
	} else {
		const char *at = strrchr(address, '@');
		bool ours = at != NULL && mox_config_domain_find(dyn, at + 1) != NULL;
		snprintf(why, whylen, "%s",
		         ours ? "no such user" : "not accepting email for domain");
	}
	mox_config_dynamic_unref(dyn);
	if (name[0] == '\0')
		return ENV_DEST_UNKNOWN;
	if (serve_account_store(sv, name, store_out, why, whylen) != 0)
		return ENV_DEST_TEMP;
	return ENV_DEST_OK;
}

#ifdef MOX_HAVE_QUEUE
#ifdef MOX_HAVE_SUBMIT
/* An RFC 3463 code "5.7.1" as mox_smtp_se (subject * 1000 + detail). */
static int
se_parse(const char *ecode)
{
	int cls, subject, detail;
	if (sscanf(ecode, "%d.%d.%d", &cls, &subject, &detail) != 3)
		return MOX_SMTP_SE_SYS_OTHER;
	return subject * 1000 + detail;
}

/* mox's submission (server/submit.h): From and MAIL FROM of the account,
 * Received, Message-Id/Date when missing, DKIM signatures of the From
 * domain, Authentication-Results; then the queue (local recipients too,
 * as mox). */
static int
env_submit(server_env *e, const env_submission *sub, int *code, int *se, char *why,
           size_t whylen)
{
	serve *sv = e->arg;
	*code = 451;
	*se = MOX_SMTP_SE_SYS_OTHER;
	if (sv->q == NULL) {
		snprintf(why, whylen, "queue not running");
		return -1;
	}
	mox_config_dynamic *dyn = mox_config_live_get(&sv->live);
	submit_reply rep;
	memset(&rep, 0, sizeof(rep));
	submit_from from;
	memset(&from, 0, sizeof(from));
	int rc = -1;
	uint8_t *prefix = NULL;
	size_t plen = 0, dkim_errors = 0;
	char err[256] = "";
	if (!submit_check_from(dyn, sub->account, sub->mailfrom, sub->data, sub->len,
	                       &from, &rep))
		goto out;
	submit_env senv;
	memset(&senv, 0, sizeof(senv));
	senv.hostname = sv->st->hostname_ascii;
	senv.local_ip = sub->local_ip;
	senv.mail_from = sub->mailfrom;
	senv.recipients = sub->rcpts;
	senv.nrecipients = sub->nrcpt;
	senv.ehlo = sub->ehlo;
	senv.tls = sub->tls;
	senv.tls_comment =
	    sub->tls_comment != NULL && sub->tls_comment[0] ? sub->tls_comment : NULL;
	senv.smtputf8 = sub->smtputf8;
	mox_err merr = submit_prepare(&senv, &from, sv->keys, sub->data, sub->len,
	                              &prefix, &plen, &dkim_errors, err, sizeof(err));
	if (merr != MOX_OK) {
		snprintf(rep.text, sizeof(rep.text), "error preparing message: %s",
		         err[0] ? err : mox_strerror(merr));
		rep.code = 451;
		snprintf(rep.ecode, sizeof(rep.ecode), "4.3.0");
		goto out;
	}
	if (dkim_errors > 0)
		mlog("error", sub->cid, "dkim signing failed errors=%zu first=\"%s\"",
		     dkim_errors, err);
	submit_enqueue_req req;
	memset(&req, 0, sizeof(req));
	req.cfg = dyn;
	req.qs = queue_get_store(sv->q);
	req.account = sub->account;
	req.mail_from = sub->mailfrom;
	req.recipients = sub->rcpts;
	req.nrecipients = sub->nrcpt;
	req.prefix = prefix;
	req.prefix_len = plen;
	req.msg = sub->data;
	req.len = sub->len;
	req.smtputf8 = sub->smtputf8;
	submit_enqueue_result res;
	memset(&res, 0, sizeof(res));
	if (submit_enqueue(&req, &res, &rep) != MOX_OK)
		goto out;
	mlog("info", sub->cid, "message queued account=%s queued=%zu", sub->account,
	     res.nqueued);
	queue_wake(sv->q);
	rc = 0;
out:
	if (rc != 0) {
		*code = rep.code != 0 ? rep.code : 451;
		*se = se_parse(rep.ecode);
		snprintf(why, whylen, "%s",
		         rep.text[0] ? rep.text : "error queueing message");
	}
	free(prefix);
	mox_config_dynamic_unref(dyn);
	return rc;
}
#else
/* Without server/submit.c: the session's Received and
 * Authentication-Results, then the queue. */
static int
env_submit(server_env *e, const env_submission *sub, int *code, int *se, char *why,
           size_t whylen)
{
	serve *sv = e->arg;
	*code = 451;
	*se = MOX_SMTP_SE_SYS_OTHER;
	if (sv->q == NULL) {
		snprintf(why, whylen, "queue not running");
		return -1;
	}
	bool has8bit = false;
	for (size_t i = 0; i < sub->len && !has8bit; i++)
		has8bit = sub->data[i] >= 0x80;
	queue_add_req r;
	memset(&r, 0, sizeof(r));
	r.sender_account = sub->account;
	r.sender = sub->mailfrom;
	r.recipients = sub->rcpts;
	r.nrecipients = sub->nrcpt;
	r.has8bit = has8bit;
	r.smtputf8 = sub->smtputf8;
	r.prefix = sub->prefix;
	r.prefix_len = sub->prefix_len;
	r.data = sub->data;
	r.data_len = sub->len;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (queue_store_add(queue_get_store(sv->q), &r, now, NULL, why, whylen) !=
	    MOX_OK)
		return -1;
	mlog("info", sub->cid, "message queued account=%s recipients=%zu", sub->account,
	     sub->nrcpt);
	queue_wake(sv->q);
	return 0;
}
#endif

/* ---- the queue's local deliveries ---- */

static bool
q_is_local(void *arg, const char *domain)
{
	serve *sv = arg;
	mox_config_dynamic *dyn = mox_config_live_get(&sv->live);
	bool ours = mox_config_domain_find(dyn, domain) != NULL;
	mox_config_dynamic_unref(dyn);
	return ours;
}

static int
q_deliver_local(void *arg, const queue_msg *m, const uint8_t *data, size_t len,
                char *why, size_t whylen)
{
	serve *sv = arg;
	mox_store *store = NULL;
	char mailbox[256];
	env_dest d = env_destination(&sv->env, m->recipient, &store, mailbox,
	                             sizeof(mailbox), why, whylen);
	if (d == ENV_DEST_UNKNOWN)
		return QUEUE_LOCAL_PERMANENT;
	if (d != ENV_DEST_OK)
		return QUEUE_LOCAL_TEMPORARY;
	if (env_store_message(store, mailbox, NULL, 0, data, len, NULL, why, whylen) != MOX_OK)
		return QUEUE_LOCAL_TEMPORARY;
	return QUEUE_LOCAL_OK;
}

static void
q_log(void *arg, const char *level, const char *line)
{
	(void)arg;
	mlog_level l = MLOG_INFO;
	mlog_level_parse(level, &l);
	mlogf(MLOG_PKG_QUEUE, l, 0, "%s", line);
}
#endif

/* ---- stopping ---- */

static void
queue_stopped(void *arg)
{
	serve *sv = arg;
	uv_stop(sv->loop);
}

static void
on_stop_timer(uv_timer_t *t)
{
	serve *sv = t->data;
	mlog("info", 0, "grace period over, stopping");
#ifdef MOX_HAVE_QUEUE
	if (sv->q != NULL) {
		queue_stop(sv->q, queue_stopped, sv);
		return;
	}
#endif
	uv_stop(sv->loop);
}

void
serve_stop(serve *sv)
{
	if (sv->stopping)
		return;
	sv->stopping = true;
	mlog("info", 0, "shutting down, connections get %d seconds",
	     STOP_GRACE_MS / 1000);
	atomic_store(&sv->env.stopping, true);
	uv_timer_stop(&sv->reload_timer);
	uv_timer_start(&sv->stop_timer, on_stop_timer, STOP_GRACE_MS, 0);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	serve *sv = s->data;
	mlog("info", 0, "signal %d", signum);
	serve_stop(sv);
}

/* ---- domains.conf reload ---- */

static void
on_reload_timer(uv_timer_t *t)
{
	serve *sv = t->data;
	bool reloaded = false;
	mox_config_errors errs = {0};
	mox_err err = mox_config_live_reload(&sv->live, &reloaded, &errs);
	if (reloaded) {
		mlog("info", 0, "domains.conf reloaded");
#ifdef MOX_HAVE_SUBMIT
		submit_keys_flush(sv->keys);
#endif
	}
	for (size_t i = 0; i < errs.n; i++)
		mlog(errs.v[i].warning ? "info" : "error", 0, "domains.conf %s:%zu: %s",
		     errs.v[i].file, errs.v[i].line, errs.v[i].msg);
	if (err != MOX_OK && errs.n == 0)
		mlog("error", 0, "reloading domains.conf: %s", mox_strerror(err));
	mox_config_errors_clear(&errs);
}

/* ---- setup ---- */

static int
set_loglevels(const mox_config_static *st)
{
	mox_buf b = MOX_BUF_INIT;
	mox_buf_appendf(&b, "%s", st->log_level[0] ? st->log_level : "info");
	for (size_t i = 0; i < st->package_log_levels.n; i++)
		mox_buf_appendf(&b, ";%s=%s", st->package_log_levels.v[i].key,
		                st->package_log_levels.v[i].value);
	char err[256];
	int rc = b.data != NULL ? mlog_configure((const char *)b.data, err, sizeof(err))
	                        : -1;
	if (rc != 0)
		fprintf(stderr, "mox serve: log levels: %s\n",
		        b.data != NULL ? err : "out of memory");
	mox_buf_free(&b);
	mlog_init_env(); /* MOX_LOGLEVELS wins */
	return rc;
}

static uid_t fix_uid;
static gid_t fix_gid;

static int
fix_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if ((sb->st_uid != fix_uid || sb->st_gid != fix_gid) &&
	    lchown(path, fix_uid, fix_gid) != 0)
		mlog("error", 0, "fixing ownership of %s: %s", path, strerror(errno));
	return 0;
}

/* The config directory stays root's, with the group of the mox user:
 * it reads everything, and writes domains.conf (the ctl commands replace
 * it with a new file in that directory). */
static int
fix_config(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	mode_t want = sb->st_mode & 07777;
	if (flag == FTW_D || flag == FTW_DP)
		want |= 0070;
	else if (flag == FTW_F)
		want |= 0040;
	const char *base = strrchr(path, '/');
	if (flag == FTW_F && base != NULL && strcmp(base + 1, "domains.conf") == 0)
		want |= 0060;
	if (flag == FTW_SL)
		return 0;
	if ((sb->st_gid != fix_gid && lchown(path, (uid_t)-1, fix_gid) != 0) ||
	    ((sb->st_mode & 07777) != want && chmod(path, want) != 0))
		mlog("error", 0, "fixing permissions of %s: %s", path, strerror(errno));
	return 0;
}

/* As mox: the data directory belongs to the mox user (NoFixPermissions
 * turns this off), then drop to that user. */
static int
drop_privileges(serve *sv)
{
	const mox_config_static *st = sv->st;
	if (getuid() != 0 || st->uid == 0)
		return 0;
	if (!st->no_fix_permissions) {
		fix_uid = st->uid;
		fix_gid = st->gid;
		if (nftw(st->data_dir, fix_one, 16, FTW_PHYS) != 0)
			mlog("error", 0, "fixing ownership of %s: %s", st->data_dir,
			     strerror(errno));
		if (nftw(st->config_dir, fix_config, 16, FTW_PHYS) != 0)
			mlog("error", 0, "fixing permissions of %s: %s", st->config_dir,
			     strerror(errno));
	}
	if (setgroups(0, NULL) != 0 || setgid(st->gid) != 0 || setuid(st->uid) != 0) {
		fprintf(stderr, "mox serve: dropping privileges to %s: %s\n", st->user,
		        strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) { /* must not be able to get root back */
		fprintf(stderr, "mox serve: still root after dropping privileges\n");
		return -1;
	}
	mlog("info", 0, "dropped privileges user=%s uid=%u", st->user,
	     (unsigned)st->uid);
	return 0;
}

typedef struct svc {
	const char *name;
	int kind;
	int64_t defport;
	size_t off; /* of the mox_cfg_service in mox_cfg_listener */
} svc;

static const svc services[] = {
    {"smtp", ENV_SMTP, 25, offsetof(mox_cfg_listener, smtp)},
    {"submission", ENV_SUBMISSION, 587, offsetof(mox_cfg_listener, submission)},
    {"submissions", ENV_SUBMISSIONS, 465, offsetof(mox_cfg_listener, submissions)},
    {"imap", ENV_IMAP, 143, offsetof(mox_cfg_listener, imap)},
    {"imaps", ENV_IMAPS, 993, offsetof(mox_cfg_listener, imaps)},
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

static int
start_listeners(serve *sv)
{
	const mox_config_static *st = sv->st;
	size_t max = 0;
	for (size_t i = 0; i < st->listeners.n; i++)
		max += st->listeners.v[i].ips.n * NSERVICES;
	sv->tls = calloc(st->listeners.n ? st->listeners.n : 1, sizeof(*sv->tls));
	sv->tls_ok = calloc(st->listeners.n ? st->listeners.n : 1, sizeof(*sv->tls_ok));
	sv->ls = calloc(max ? max : 1, sizeof(*sv->ls));
	if (sv->tls == NULL || sv->tls_ok == NULL || sv->ls == NULL) {
		fprintf(stderr, "mox serve: out of memory\n");
		return -1;
	}
	char err[512];
	for (size_t i = 0; i < st->listeners.n; i++) {
		const mox_cfg_listener *cl = &st->listeners.v[i];
		if (cl->tls != NULL && cl->tls->key_certs.n > 0) {
			const mox_cfg_keycert *kc = &cl->tls->key_certs.v[0];
			if (tls_config_init(&sv->tls[i], kc->cert_file, kc->key_file,
			                    err, sizeof(err)) != 0) {
				fprintf(stderr, "mox serve: listener %s: tls: %s\n",
				        cl->name, err);
				return -1;
			}
			sv->tls_ok[i] = true;
		} else if (cl->tls != NULL && cl->tls->acme[0] != '\0') {
			mlog("error", 0,
			     "listener %s: ACME is not supported yet, no TLS",
			     cl->name);
		}
		tls_config *tls = sv->tls_ok[i] ? &sv->tls[i] : NULL;
		for (size_t k = 0; k < NSERVICES; k++) {
			const svc *sd = &services[k];
			const mox_cfg_service *cs =
			    (const mox_cfg_service *)((const char *)cl + sd->off);
			if (!cs->enabled)
				continue;
			bool imap = sd->kind == ENV_IMAP || sd->kind == ENV_IMAPS;
			bool implicit =
			    sd->kind == ENV_SUBMISSIONS || sd->kind == ENV_IMAPS;
			if (implicit && tls == NULL) {
				fprintf(stderr,
				        "mox serve: listener %s: %s needs TLS\n",
				        cl->name, sd->name);
				return -1;
			}
			int64_t port = mox_config_port(cs->port, sd->defport);
			for (size_t j = 0; j < cl->ips.n; j++) {
				listener *l = &sv->ls[sv->nls];
				snprintf(l->name, sizeof(l->name), "%s", sd->name);
				l->proto = imap ? env_imap_proto(&sv->env)
				                : env_smtp_proto(&sv->env, sd->kind);
				l->implicit_tls = implicit ? tls : NULL;
				bool starttls = !implicit && !(sd->kind == ENV_SMTP &&
				                               cs->no_starttls);
				l->starttls = starttls ? tls : NULL;
				l->limits = &sv->limits;
				l->refuse_fmt = "421 4.7.0 %s\r\n"; /* as mox */
				l->authfail_at_connect = sd->kind != ENV_SMTP;
				l->log_pkg = MLOG_PKG_SMTPSERVER;
				l->trace_kind = NET_TRACE_SMTP;
				if (imap) {
					l->refuse_fmt = "* BYE %s\r\n";
					l->authfail_at_connect = true;
					l->log_pkg = MLOG_PKG_IMAPSERVER;
					l->trace_kind = NET_TRACE_OTHER;
				}
				const char *ip = cl->ips.v[j];
				if (listener_start(sv->loop, l, ip, (uint16_t)port, err,
				                   sizeof(err)) != 0) {
					fprintf(stderr, "mox serve: listener %s: %s\n",
					        cl->name, err);
					return -1;
				}
				sv->nls++;
				mlog("info", 0,
				     "listening listener=%s service=%s ip=%s port=%lld",
				     cl->name, sd->name, ip, (long long)port);
			}
		}
		/* HTTP services are not there yet. */
		if (cl->account_http.enabled || cl->admin_http.enabled ||
		    cl->webmail_http.enabled || cl->metrics_http.enabled ||
		    cl->autoconfig_https.enabled || cl->mtasts_https.enabled ||
		    cl->webserver_http.enabled || cl->webserver_https.enabled)
			mlog("info", 0,
			     "listener %s: HTTP services are not supported yet",
			     cl->name);
	}
	return 0;
}

static int
make_resolver(serve *sv)
{
	mox_dns_ldns_opts lo;
	memset(&lo, 0, sizeof(lo));
	lo.size = sizeof(lo); /* nameservers: MOX_RESOLVER, else /etc/resolv.conf */
	mox_errinfo info = {0};
	mox_resolver *ldns = NULL;
	mox_err err = mox_dns_ldns_new(&ldns, &lo, &info);
	if (err != MOX_OK) {
		fprintf(stderr, "mox serve: resolver: %s\n",
		        info.msg[0] ? info.msg : mox_strerror(err));
		return -1;
	}
	mox_dns_cache_opts co;
	memset(&co, 0, sizeof(co));
	co.size = sizeof(co);
	co.owns_backend = true;
	if ((err = mox_dns_cache_new(&sv->resolver, ldns, &co)) != MOX_OK) {
		mox_resolver_free(ldns);
		fprintf(stderr, "mox serve: dns cache: %s\n", mox_strerror(err));
		return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mox [-config mox.conf] serve\n");
}

int
serve_main(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		usage();
		return 2;
	}
	const char *path = mox_config_default_path();
	static serve sv; /* the signal and ctl handlers reach it until exit */
	memset(&sv, 0, sizeof(sv));
	pthread_mutex_init(&sv.mu, NULL);
	mox_config_errors errs = {0};
	char *dpath = mox_config_domains_path(path);
	mox_config_dynamic *dyn = NULL;
	if (dpath == NULL || mox_config_static_load(path, &sv.st, &errs) != MOX_OK ||
	    mox_config_dynamic_load(sv.st, dpath, &dyn, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		fprintf(stderr, "mox serve: config has errors\n");
		mox_config_errors_clear(&errs);
		mox_config_static_free(sv.st);
		free(dpath);
		return 1;
	}
	mox_config_errors_print(&errs, stderr); /* warnings */
	mox_config_errors_clear(&errs);
	free(dpath);
	mox_config_live_init(&sv.live, sv.st, dyn);
	set_loglevels(sv.st);
	if (mkdir(sv.st->data_dir, 0770) != 0 && errno != EEXIST) {
		fprintf(stderr, "mox serve: %s: %s\n", sv.st->data_dir,
		        strerror(errno));
		return 1;
	}

	sv.loop = uv_default_loop();
	char err[512];
	net_limits_default(&sv.limits);
	if (net_limits_init(&sv.limits) != 0) {
		fprintf(stderr, "mox serve: out of memory\n");
		return 1;
	}
	mox_smtp_limits_default(&sv.smtp_limits);
	snprintf(sv.spool, sizeof(sv.spool), "%s", sv.st->data_dir);
	server_env *e = &sv.env;
	e->hostname = sv.st->hostname_ascii;
	e->spool_dir = sv.spool;
	e->loop = sv.loop;
	e->limits = &sv.limits;
	e->smtp_limits = &sv.smtp_limits;
	e->localserve = false;
	atomic_store(&e->stopping, false);
	e->login = env_login;
	e->destination = env_destination;
#ifdef MOX_HAVE_QUEUE
	e->submit = env_submit;
#endif
	e->arg = &sv;

	int rc = 1;
	if (start_listeners(&sv) != 0 || drop_privileges(&sv) != 0 ||
	    make_resolver(&sv) != 0)
		goto out;
	char ctlpath[PATH_MAX];
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl", sv.st->data_dir);
	sv.ctl = ctl_listen(sv.loop, &sv, ctlpath, err, sizeof(err));
	if (sv.ctl == NULL) {
		fprintf(stderr, "mox serve: ctl socket: %s\n", err);
		goto out;
	}
#ifdef MOX_HAVE_SUBMIT
	if (submit_keys_new(&sv.keys) != MOX_OK) {
		fprintf(stderr, "mox serve: out of memory\n");
		goto out;
	}
#endif
#ifdef MOX_HAVE_QUEUE
	queue_settings *qs = &sv.qset;
	qs->data_dir = sv.st->data_dir;
	qs->hostname = sv.st->hostname_ascii;
	qs->resolver = sv.resolver;
	qs->is_local = q_is_local;
	qs->deliver_local = q_deliver_local;
	qs->local_arg = &sv;
	qs->log = q_log;
	/* For tests: deliver to this port instead of 25. */
	const char *qport = getenv("MOX_SERVE_QUEUE_SMTP_PORT");
	if (qport != NULL)
		qs->smtp_port = (uint16_t)atoi(qport);
	if (queue_start(sv.loop, qs, &sv.q, err, sizeof(err)) != MOX_OK) {
		fprintf(stderr, "mox serve: queue: %s\n", err);
		goto out;
	}
#endif
	uv_timer_init(sv.loop, &sv.reload_timer);
	uv_timer_init(sv.loop, &sv.stop_timer);
	sv.reload_timer.data = sv.stop_timer.data = &sv;
	uv_timer_start(&sv.reload_timer, on_reload_timer, RELOAD_MS, RELOAD_MS);
	uv_signal_init(sv.loop, &sv.sigint);
	uv_signal_init(sv.loop, &sv.sigterm);
	sv.sigint.data = sv.sigterm.data = &sv;
	uv_signal_start(&sv.sigint, on_signal, SIGINT);
	uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	mlog("info", 0, "mox serve started hostname=%s datadir=%s",
	     sv.st->hostname_ascii, sv.st->data_dir);
	printf("mox serve: running, ctl socket %s\n", ctlpath);
	fflush(stdout);
	uv_run(sv.loop, UV_RUN_DEFAULT);
	rc = 0;
	mlog("info", 0, "stopped");
out:
	if (sv.ctl != NULL)
		ctl_close(sv.ctl);
	/* Work queued on the thread pool completes before this returns, so
	 * no delivery uses a store being closed. */
	uv_library_shutdown();
	for (size_t i = 0; i < sv.naccounts; i++) {
		mox_store_close(sv.accounts[i].store);
		free(sv.accounts[i].name);
	}
	free(sv.accounts);
#ifdef MOX_HAVE_SUBMIT
	submit_keys_free(sv.keys);
#endif
	/* Listener and connection handles are not closed one by one: the
	 * process ends here. */
	if (sv.tls != NULL)
		for (size_t i = 0; i < sv.st->listeners.n; i++)
			if (sv.tls_ok[i])
				tls_config_free(&sv.tls[i]);
	free(sv.tls);
	free(sv.tls_ok);
	mox_config_live_destroy(&sv.live);
	mox_config_static_free(sv.st);
	return rc;
}
