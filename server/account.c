/* localserve's one account, on libmoxstore: created with its default
 * mailboxes on first start, password "moxmoxmox" (mox's). */
#include "localserve.h"

#include <mox/store.h>

#include <stdio.h>
#include <string.h>

int
localserve_account_open(localserve *ls, const char *path, char *errbuf, size_t errlen)
{
	mox_store_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.create = true;
	mox_errinfo info = {0};
	mox_err err = mox_store_open(&ls->store, path, &o, &info);
	if (err != MOX_OK) {
		snprintf(errbuf, errlen, "%s: %s", path, info.msg[0] ? info.msg : mox_strerror(err));
		return -1;
	}
	mox_store_secrets s;
	memset(&s, 0, sizeof(s));
	err = mox_store_secrets_get(ls->store, &s);
	bool have = err == MOX_OK && s.set;
	mox_mem_wipe(&s, sizeof(s));
	if (!have && (err = mox_store_password_set(ls->store, "moxmoxmox")) != MOX_OK) {
		snprintf(errbuf, errlen, "setting password: %s", mox_strerror(err));
		return -1;
	}
	return 0;
}

void
localserve_account_close(localserve *ls)
{
	mox_store_close(ls->store);
	ls->store = NULL;
}

/* ---- the environment of the sessions (env.h) ---- */

static int
ls_login(server_env *e, const char *login, mox_store **store_out, char *account,
	 size_t accountlen)
{
	/* mox localserve accepts any login with the account's password. */
	(void)login;
	localserve *ls = e->arg;
	*store_out = ls->store;
	snprintf(account, accountlen, "mox");
	return 0;
}

static env_dest
ls_destination(server_env *e, const char *address, mox_store **store_out, char *mailbox,
	       size_t mailboxlen, char *why, size_t whylen)
{
	(void)address;
	localserve *ls = e->arg;
	*store_out = ls->store;
	snprintf(mailbox, mailboxlen, "Inbox");
	if (whylen > 0)
		why[0] = '\0';
	return ENV_DEST_OK;
}

void
localserve_env_init(localserve *ls)
{
	server_env *e = &ls->env;
	e->hostname = "localhost";
	e->spool_dir = ls->dir;
	e->loop = ls->loop;
	e->tls = &ls->tls;
	e->limits = ls->limits;
	e->smtp_limits = ls->smtp_limits;
	e->localserve = true;
	atomic_store(&e->stopping, false);
	e->login = ls_login;
	e->destination = ls_destination;
	e->submit = NULL;
	e->arg = ls;
}

const proto *
localserve_smtp_proto(localserve *ls, int kind)
{
	return env_smtp_proto(&ls->env, kind);
}

const proto *
localserve_imap_proto(localserve *ls)
{
	return env_imap_proto(&ls->env);
}

mox_err
env_store_message(mox_store *store, const char *mailbox, const void *prefix, size_t prefixlen,
		  const void *data, size_t len, uint32_t *uid_out, char *why, size_t whylen)
{
	mox_store_msgfile *mf = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_store_msgfile_new(store, &mf);
	if (err == MOX_OK && prefixlen > 0)
		err = mox_store_msgfile_write(mf, prefix, prefixlen);
	if (err == MOX_OK && len > 0)
		err = mox_store_msgfile_write(mf, data, len);
	if (err == MOX_OK)
		err = mox_store_msgfile_finish(mf);
	mox_store_msginfo mi;
	memset(&mi, 0, sizeof(mi));
	if (err == MOX_OK) {
		mox_store_deliver_opts o;
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.create_mailbox = true;
		err = mox_store_deliver(store, mailbox, mf, &o, &mi, &info);
	}
	mox_store_msgfile_free(mf);
	if (uid_out != NULL)
		*uid_out = mi.uid;
	snprintf(why, whylen, "%s", info.msg[0] ? info.msg : mox_strerror(err));
	return err;
}
