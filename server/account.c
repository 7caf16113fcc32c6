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
