/* localserve's IMAP commands on mailboxes and flags: SELECT/EXAMINE,
 * CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST/LSUB, STATUS, APPEND,
 * EXPUNGE, CLOSE, COPY/MOVE, STORE. Each runs on the libuv thread pool
 * (server/imap_session.c starts it), in one store transaction, and writes
 * its untagged responses to the session's out queue, which the loop does
 * not touch meanwhile. Changes reach the session's view through the store
 * listener (see imap_session.c), not from here. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Result for a store error. */
static void
store_error(imap_session *s, mox_store_tx *tx, mox_err err, const char *what)
{
	const char *code = NULL;
	switch (err) {
	case MOX_ENOTFOUND:
		code = "NONEXISTENT"; /* RFC 5530 section 3 */
		break;
	case MOX_EEXIST:
		code = "ALREADYEXISTS";
		break;
	case MOX_ELIMIT:
		code = "OVERQUOTA";
		break;
	case MOX_EINVAL:
		code = "CANNOT";
		break;
	case MOX_ESTATE:
		code = "INUSE";
		break;
	default:
		code = "SERVERBUG";
		break;
	}
	const char *detail = tx != NULL ? mox_store_tx_errmsg(tx) : NULL;
	imap_result(s, MOX_IMAP_NO, code, "%s: %s", what,
		    detail != NULL && detail[0] ? detail : mox_strerror(err));
}

static mox_store_tx *
tx_begin(imap_session *s, unsigned mode)
{
	mox_store_tx *tx = NULL;
	mox_err err = mox_store_tx_begin(s->store, mode, NULL, &tx);
	if (err != MOX_OK) {
		store_error(s, NULL, err, "transaction");
		return NULL;
	}
	return tx;
}

static bool
tx_commit(imap_session *s, mox_store_tx *tx)
{
	mox_err err = mox_store_tx_commit(tx);
	if (err != MOX_OK) {
		store_error(s, NULL, err, "commit");
		return false;
	}
	return true;
}

static void
write_name(imap_session *s, mox_buf *o, const char *store_name)
{
	char n[MOX_STORE_MAILBOX_NAME_MAX + 8];
	imap_name_out(store_name, n, sizeof(n));
	mox_imap_write_mailbox(o, n, imap_wflags(s));
}

/* Append a UID or sequence set, compressed: "1:3,7". */
static void
write_set(mox_buf *o, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			mox_buf_append_byte(o, ',');
		if (j > i)
			mox_buf_appendf(o, "%u:%u", v[i], v[j]);
		else
			mox_buf_appendf(o, "%u", v[i]);
		i = j + 1;
	}
}

/* ---- SELECT, EXAMINE: RFC 9051 sections 6.3.2 and 6.3.3 ---- */

typedef struct sel_ctx {
	imap_session *s;
	uint32_t first_unseen;
	bool oom;
} sel_ctx;

static mox_err
sel_msg(void *arg, const mox_store_msginfo *m)
{
	sel_ctx *x = arg;
	imap_session *s = x->s;
	if (s->nnewuids == s->capnewuids) {
		size_t nc = s->capnewuids ? s->capnewuids * 2 : 256;
		uint32_t *n = realloc(s->newuids, nc * sizeof(uint32_t));
		if (n == NULL)
			return MOX_ENOMEM;
		s->newuids = n;
		s->capnewuids = nc;
	}
	s->newuids[s->nnewuids++] = m->uid;
	if (x->first_unseen == 0 && !(m->flags & MOX_STORE_SEEN))
		x->first_unseen = (uint32_t)s->nnewuids;
	return MOX_OK;
}

static mox_err
sel_kw(void *arg, const char *kw)
{
	mox_buf *o = arg;
	mox_buf_append_byte(o, ' ');
	return mox_buf_append_str(o, kw);
}

typedef struct qr_ctx {
	imap_session *s;
	mox_buf *o;
	uint32_t *v;
	size_t n, cap;
	const mox_imap_seqset *known;
	int64_t since;
} qr_ctx;

static mox_err
qr_vanished(void *arg, uint32_t uid)
{
	qr_ctx *x = arg;
	if (x->known != NULL && x->known->n > 0 && !mox_imap_seqset_contains(x->known, uid, UINT32_MAX))
		return MOX_OK;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		uint32_t *n = realloc(x->v, nc * sizeof(uint32_t));
		if (n == NULL)
			return MOX_ENOMEM;
		x->v = n;
		x->cap = nc;
	}
	x->v[x->n++] = uid;
	return MOX_OK;
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static mox_err
qr_changed(void *arg, const mox_store_msginfo *m)
{
	qr_ctx *x = arg;
	if (m->modseq <= x->since)
		return MOX_OK;
	mox_buf_appendf(x->o, "* %u FETCH (UID %u FLAGS ", m->seq, m->uid);
	imap_write_flags(x->o, m->flags, m->keywords);
	mox_buf_appendf(x->o, " MODSEQ (%lld))\r\n", (long long)m->modseq);
	return MOX_OK;
}

void
imap_run_select(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	mox_buf *o = sout(s);
	s->nnewuids = 0;
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_READ);
	if (tx == NULL)
		return;
	mox_store_mailbox mb;
	mox_err err = mox_store_tx_mailbox_get(tx, cmd->mailbox, &mb);
	if (err != MOX_OK) {
		store_error(s, tx, err, "select");
		goto out;
	}
	sel_ctx x = {s, 0, false};
	mox_buf kw = MOX_BUF_INIT;
	err = mox_store_tx_list(tx, mb.id, NULL, 0, 0, sel_msg, &x);
	if (err == MOX_OK)
		err = mox_store_tx_mailbox_keywords(tx, mb.id, sel_kw, &kw);
	if (err != MOX_OK) {
		mox_buf_free(&kw);
		store_error(s, tx, err, "select");
		goto out;
	}
	/* RFC 9051 section 7.3.5 FLAGS, 7.1 PERMANENTFLAGS. */
	static const char sysflags[] =
		"\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk "
		"$Phishing $MDNSent";
	mox_buf_appendf(o, "* FLAGS (%s%s)\r\n", sysflags, kw.len ? (const char *)kw.data : "");
	bool ro = cmd->type == MOX_IMAP_CMD_EXAMINE;
	if (ro)
		mox_buf_append_str(o, "* OK [PERMANENTFLAGS ()] read-only\r\n");
	else
		mox_buf_appendf(o, "* OK [PERMANENTFLAGS (%s%s \\*)] flags permitted\r\n", sysflags,
				kw.len ? (const char *)kw.data : "");
	mox_buf_free(&kw);
	mox_buf_appendf(o, "* %zu EXISTS\r\n", s->nnewuids);
	if (!(s->enabled & EN_REV2)) {
		/* RFC 3501 section 6.3.1: RECENT and UNSEEN. */
		mox_buf_append_str(o, "* 0 RECENT\r\n");
		if (x.first_unseen > 0)
			mox_buf_appendf(o, "* OK [UNSEEN %u] first unseen\r\n", x.first_unseen);
	}
	mox_buf_appendf(o, "* OK [UIDVALIDITY %u] x\r\n", mb.uidvalidity);
	mox_buf_appendf(o, "* OK [UIDNEXT %u] x\r\n", mb.uidnext);
	if (s->enabled & EN_CONDSTORE)
		mox_buf_appendf(o, "* OK [HIGHESTMODSEQ %lld] x\r\n",
				(long long)(mb.highest_modseq > 0 ? mb.highest_modseq : 1));
	if (s->enabled & EN_REV2) {
		/* RFC 9051 section 6.3.2: the mailbox's LIST response. */
		mox_buf_append_str(o, "* LIST () \"/\" ");
		write_name(s, o, mb.name);
		mox_buf_append_str(o, "\r\n");
	}
	if (cmd->qresync && cmd->qresync_uidvalidity == mb.uidvalidity) {
		/* RFC 7162 section 3.2.5.2: what changed since the client's
		 * modseq: VANISHED (EARLIER), then FETCH. */
		qr_ctx q = {s, o, NULL, 0, 0, cmd->set.n > 0 ? &cmd->set : NULL,
			    (int64_t)cmd->qresync_modseq};
		err = mox_store_tx_expunged(tx, mb.id, (int64_t)cmd->qresync_modseq, qr_vanished, &q);
		if (err == MOX_OK && q.n > 0) {
			qsort(q.v, q.n, sizeof(uint32_t), u32cmp);
			mox_buf_append_str(o, "* VANISHED (EARLIER) ");
			write_set(o, q.v, q.n);
			mox_buf_append_str(o, "\r\n");
		}
		free(q.v);
		if (err == MOX_OK)
			err = mox_store_tx_list(tx, mb.id, NULL, 0, 0, qr_changed, &q);
		if (err != MOX_OK) {
			store_error(s, tx, err, "select");
			goto out;
		}
	}
	s->newmbid = mb.id;
	s->newuidvalidity = mb.uidvalidity;
	s->newreadonly = ro;
	imap_result(s, MOX_IMAP_OK, ro ? "READ-ONLY" : "READ-WRITE", "%s completed",
		    ro ? "EXAMINE" : "SELECT");
out:
	mox_store_tx_rollback(tx);
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ---- */

static unsigned
use_attr(const char *a)
{
	static const struct {
		const char *n;
		unsigned u;
	} t[] = {{"\\Archive", MOX_STORE_USE_ARCHIVE}, {"\\Drafts", MOX_STORE_USE_DRAFTS},
		 {"\\Junk", MOX_STORE_USE_JUNK},       {"\\Sent", MOX_STORE_USE_SENT},
		 {"\\Trash", MOX_STORE_USE_TRASH}};
	if (a[0] == '\\')
		a++; /* the parser gives "Archive" for \Archive */
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(a, t[i].n + 1) == 0)
			return t[i].u;
	return 0;
}

/* Mailbox name without a trailing hierarchy separator (RFC 9051 section
 * 6.3.4). */
static void
trim_name(const char *in, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", in);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
}

void
imap_run_create(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	unsigned use = 0;
	for (size_t i = 0; i < cmd->nstrs; i++) {
		unsigned u = use_attr(cmd->strs[i].s);
		if (u == 0) {
			/* RFC 6154 section 3 */
			imap_result(s, MOX_IMAP_NO, "USEATTR", "unknown special-use attribute");
			return;
		}
		use |= u;
	}
	char name[MOX_STORE_MAILBOX_NAME_MAX + 2];
	trim_name(cmd->mailbox, name, sizeof(name));
	if (strcasecmp(name, "INBOX") == 0) {
		imap_result(s, MOX_IMAP_NO, "ALREADYEXISTS", "INBOX exists");
		return;
	}
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL)
		return;
	mox_err err = mox_store_tx_mailbox_create(tx, name, use, MOX_STORE_MAILBOX_SUBSCRIBE, NULL);
	if (err != MOX_OK) {
		store_error(s, tx, err, "create");
		mox_store_tx_rollback(tx);
		return;
	}
	if (tx_commit(s, tx))
		imap_result(s, MOX_IMAP_OK, NULL, "CREATE completed");
}

void
imap_run_delete(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	if (strcasecmp(cmd->mailbox, "INBOX") == 0) {
		imap_result(s, MOX_IMAP_NO, "CANNOT", "cannot delete INBOX");
		return;
	}
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL)
		return;
	mox_err err = mox_store_tx_mailbox_delete(tx, cmd->mailbox, 0);
	if (err != MOX_OK) {
		if (err == MOX_ESTATE)
			imap_result(s, MOX_IMAP_NO, "HASCHILDREN", "mailbox has children");
		else
			store_error(s, tx, err, "delete");
		mox_store_tx_rollback(tx);
		return;
	}
	if (tx_commit(s, tx))
		imap_result(s, MOX_IMAP_OK, NULL, "DELETE completed");
}

void
imap_run_rename(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	char to[MOX_STORE_MAILBOX_NAME_MAX + 2];
	trim_name(cmd->mailbox2, to, sizeof(to));
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL)
		return;
	mox_err err = mox_store_tx_mailbox_rename(tx, cmd->mailbox, to);
	if (err != MOX_OK) {
		store_error(s, tx, err, "rename");
		mox_store_tx_rollback(tx);
		return;
	}
	if (tx_commit(s, tx))
		imap_result(s, MOX_IMAP_OK, NULL, "RENAME completed");
}

void
imap_run_subscribe(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL)
		return;
	char name[MOX_STORE_MAILBOX_NAME_MAX + 1];
	mox_err err = mox_store_mailbox_name_check(cmd->mailbox, name);
	if (err == MOX_OK)
		err = cmd->type == MOX_IMAP_CMD_SUBSCRIBE ? mox_store_tx_subscribe(tx, name)
							  : mox_store_tx_unsubscribe(tx, name);
	if (err != MOX_OK) {
		store_error(s, tx, err, cmd->name);
		mox_store_tx_rollback(tx);
		return;
	}
	if (tx_commit(s, tx))
		imap_result(s, MOX_IMAP_OK, NULL, "%s completed", cmd->name);
}

/* ---- LIST, LSUB: RFC 9051 section 6.3.9, RFC 5258, RFC 6154, RFC 5819 ---- */

typedef struct lmb {
	mox_store_mailbox mb;
	bool exists;
	bool subscribed;
} lmb;

typedef struct list_ctx {
	lmb *v;
	size_t n, cap;
	char **subs;
	size_t nsubs, capsubs;
} list_ctx;

static mox_err
list_mb(void *arg, const mox_store_mailbox *mb)
{
	list_ctx *x = arg;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 16;
		lmb *n = realloc(x->v, nc * sizeof(lmb));
		if (n == NULL)
			return MOX_ENOMEM;
		x->v = n;
		x->cap = nc;
	}
	x->v[x->n].mb = *mb;
	x->v[x->n].exists = true;
	x->v[x->n].subscribed = false;
	x->n++;
	return MOX_OK;
}

static mox_err
list_sub(void *arg, const char *name)
{
	list_ctx *x = arg;
	if (x->nsubs == x->capsubs) {
		size_t nc = x->capsubs ? x->capsubs * 2 : 16;
		char **n = realloc(x->subs, nc * sizeof(char *));
		if (n == NULL)
			return MOX_ENOMEM;
		x->subs = n;
		x->capsubs = nc;
	}
	x->subs[x->nsubs] = strdup(name);
	if (x->subs[x->nsubs] == NULL)
		return MOX_ENOMEM;
	x->nsubs++;
	return MOX_OK;
}

/* LIST wildcards, RFC 9051 section 6.3.9: "*" matches anything, "%"
 * anything but the hierarchy separator. */
static bool
wild_match(const char *p, const char *n)
{
	for (; *p; p++) {
		if (*p == '*' || *p == '%') {
			for (const char *t = n;; t++) {
				if (wild_match(p + 1, t))
					return true;
				if (*t == '\0' || (*p == '%' && *t == '/'))
					return false;
			}
		}
		if (*p != *n)
			return false;
		n++;
	}
	return *n == '\0';
}

/* The full pattern: reference and pattern joined, a leading INBOX in any
 * case written as INBOX. */
static void
full_pattern(const char *ref, const char *pat, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", ref != NULL ? ref : "", pat);
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
}

static void
write_status_items(imap_session *s, mox_buf *o, const mox_store_mailbox *mb,
		   const mox_imap_str *items, size_t n)
{
	mox_buf_append_str(o, "* STATUS ");
	write_name(s, o, mb->name);
	mox_buf_append_str(o, " (");
	for (size_t i = 0; i < n; i++) {
		const char *it = items[i].s;
		if (i > 0)
			mox_buf_append_byte(o, ' ');
		unsigned long long v = 0;
		if (strcasecmp(it, "MESSAGES") == 0)
			v = mb->counts.total + mb->counts.deleted;
		else if (strcasecmp(it, "UIDNEXT") == 0)
			v = mb->uidnext;
		else if (strcasecmp(it, "UIDVALIDITY") == 0)
			v = mb->uidvalidity;
		else if (strcasecmp(it, "UNSEEN") == 0)
			v = mb->counts.unseen;
		else if (strcasecmp(it, "DELETED") == 0)
			v = mb->counts.deleted;
		else if (strcasecmp(it, "SIZE") == 0)
			v = mb->counts.size;
		else if (strcasecmp(it, "RECENT") == 0)
			v = 0;
		else if (strcasecmp(it, "HIGHESTMODSEQ") == 0)
			v = (unsigned long long)(mb->highest_modseq > 0 ? mb->highest_modseq : 1);
		mox_buf_appendf(o, "%s %llu", it, v);
	}
	mox_buf_append_str(o, ")\r\n");
}

static bool
status_items_ok(imap_session *s, const mox_imap_str *items, size_t n)
{
	static const char *const known[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
					    "DELETED",  "SIZE",    "RECENT",      "HIGHESTMODSEQ"};
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcasecmp(items[i].s, known[k]) == 0)
				ok = true;
		if (!ok) {
			imap_result(s, MOX_IMAP_BAD, NULL, "unknown status item %s", items[i].s);
			return false;
		}
	}
	return true;
}

void
imap_run_list(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	mox_buf *o = sout(s);
	bool lsub = cmd->type == MOX_IMAP_CMD_LSUB;
	unsigned opts = cmd->list_opts;
	size_t npat = lsub ? (cmd->nstrs > 0 ? 1 : 0) : cmd->list_status_first;
	if (!lsub && opts & MOX_IMAP_LIST_RET_STATUS &&
	    !status_items_ok(s, cmd->strs + cmd->list_status_first,
			     cmd->nstrs - cmd->list_status_first))
		return;
	/* RFC 9051 section 6.3.9: an empty pattern asks for the separator. */
	if (!lsub && npat == 1 && cmd->strs[0].len == 0 && !cmd->list_extended) {
		mox_buf_append_str(o, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_result(s, MOX_IMAP_OK, NULL, "LIST completed");
		return;
	}
	list_ctx x;
	memset(&x, 0, sizeof(x));
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_READ);
	if (tx == NULL)
		return;
	mox_err err = mox_store_tx_mailbox_list(tx, list_mb, &x);
	if (err == MOX_OK)
		err = mox_store_tx_subscriptions(tx, list_sub, &x);
	mox_store_tx_rollback(tx);
	if (err != MOX_OK) {
		store_error(s, NULL, err, "list");
		goto out;
	}
	/* Subscriptions of mailboxes that do not exist are listed too with
	 * the SUBSCRIBED selection (RFC 5258 section 3.1) and by LSUB. */
	for (size_t i = 0; i < x.nsubs; i++) {
		bool found = false;
		for (size_t j = 0; j < x.n; j++) {
			if (strcmp(x.v[j].mb.name, x.subs[i]) == 0) {
				x.v[j].subscribed = true;
				found = true;
				break;
			}
		}
		if (!found && (lsub || (opts & MOX_IMAP_LIST_SUBSCRIBED))) {
			mox_store_mailbox mb;
			memset(&mb, 0, sizeof(mb));
			snprintf(mb.name, sizeof(mb.name), "%s", x.subs[i]);
			if (list_mb(&x, &mb) == MOX_OK) {
				x.v[x.n - 1].exists = false;
				x.v[x.n - 1].subscribed = true;
			}
		}
	}
	bool want_sub = lsub || (opts & (MOX_IMAP_LIST_SUBSCRIBED | MOX_IMAP_LIST_RET_SUBSCRIBED));
	for (size_t j = 0; j < x.n; j++) {
		lmb *m = &x.v[j];
		char iname[MOX_STORE_MAILBOX_NAME_MAX + 8];
		imap_name_out(m->mb.name, iname, sizeof(iname));
		bool match = false;
		for (size_t k = 0; k < npat && !match; k++) {
			char pat[2 * MOX_STORE_MAILBOX_NAME_MAX + 16];
			full_pattern(cmd->mailbox, cmd->strs[k].s, pat, sizeof(pat));
			match = wild_match(pat, iname);
		}
		if (!match)
			continue;
		if ((lsub || (opts & MOX_IMAP_LIST_SUBSCRIBED)) && !m->subscribed)
			continue;
		if ((opts & MOX_IMAP_LIST_SPECIAL_USE) && m->mb.special_use == 0)
			continue;
		bool children = false;
		size_t nl = strlen(m->mb.name);
		for (size_t k = 0; k < x.n; k++)
			if (x.v[k].exists && strncmp(x.v[k].mb.name, m->mb.name, nl) == 0 &&
			    x.v[k].mb.name[nl] == '/')
				children = true;
		mox_buf_appendf(o, "* %s (", lsub ? "LSUB" : "LIST");
		size_t start = o->len;
#define ATTR(a)                                                                        \
	do {                                                                           \
		if (o->len > start)                                                    \
			mox_buf_append_byte(o, ' ');                                   \
		mox_buf_append_str(o, a);                                              \
	} while (0)
		if (!lsub) {
			if (!m->exists)
				ATTR("\\NonExistent");
			else
				ATTR(children ? "\\HasChildren" : "\\HasNoChildren");
			if (want_sub && m->subscribed)
				ATTR("\\Subscribed");
			unsigned u = m->mb.special_use;
			if (u & MOX_STORE_USE_ARCHIVE)
				ATTR("\\Archive");
			if (u & MOX_STORE_USE_DRAFTS)
				ATTR("\\Drafts");
			if (u & MOX_STORE_USE_JUNK)
				ATTR("\\Junk");
			if (u & MOX_STORE_USE_SENT)
				ATTR("\\Sent");
			if (u & MOX_STORE_USE_TRASH)
				ATTR("\\Trash");
		} else if (!m->exists) {
			ATTR("\\Noselect");
		}
#undef ATTR
		mox_buf_append_str(o, ") \"/\" ");
		write_name(s, o, m->mb.name);
		mox_buf_append_str(o, "\r\n");
		if (!lsub && (opts & MOX_IMAP_LIST_RET_STATUS) && m->exists)
			write_status_items(s, o, &m->mb, cmd->strs + cmd->list_status_first,
					   cmd->nstrs - cmd->list_status_first);
	}
	imap_result(s, MOX_IMAP_OK, NULL, "%s completed", lsub ? "LSUB" : "LIST");
out:
	for (size_t i = 0; i < x.nsubs; i++)
		free(x.subs[i]);
	free(x.subs);
	free(x.v);
}

/* ---- STATUS: RFC 9051 section 6.3.11 ---- */

void
imap_run_status(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	if (!status_items_ok(s, cmd->strs, cmd->nstrs))
		return;
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_READ);
	if (tx == NULL)
		return;
	mox_store_mailbox mb;
	mox_err err = mox_store_tx_mailbox_get(tx, cmd->mailbox, &mb);
	mox_store_tx_rollback(tx);
	if (err != MOX_OK) {
		store_error(s, NULL, err, "status");
		return;
	}
	write_status_items(s, sout(s), &mb, cmd->strs, cmd->nstrs);
	imap_result(s, MOX_IMAP_OK, NULL, "STATUS completed");
}

/* ---- APPEND: RFC 9051 section 6.3.12, RFC 3502, RFC 4315 ---- */

/* Flags and keywords from a flag list; false (result set) if bad. */
static bool
parse_flags(imap_session *s, const char *const *flags, size_t n, unsigned *bits_out,
	    const char ***kw_out, size_t *nkw_out)
{
	*bits_out = 0;
	*kw_out = NULL;
	*nkw_out = 0;
	if (n == 0)
		return true;
	const char **kw = calloc(n, sizeof(char *));
	if (kw == NULL) {
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "out of memory");
		return false;
	}
	size_t nk = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned b = mox_store_flag_parse(flags[i]);
		if (b != 0) {
			*bits_out |= b;
		} else if (flags[i][0] == '\\') {
			if (strcasecmp(flags[i], "\\Recent") == 0)
				continue; /* RFC 3501: cannot be set; ignored */
			imap_result(s, MOX_IMAP_BAD, NULL, "unknown system flag %s", flags[i]);
			free(kw);
			return false;
		} else if (mox_store_keyword_valid(flags[i])) {
			kw[nk++] = flags[i];
		} else {
			imap_result(s, MOX_IMAP_BAD, NULL, "invalid keyword %s", flags[i]);
			free(kw);
			return false;
		}
	}
	*kw_out = kw;
	*nkw_out = nk;
	return true;
}

/* APPEND, RFC 9051 section 6.3.12, and MULTIAPPEND, RFC 3502.
 *
 * Durability (DESIGN.md "Nothing lost"): OK only after every file and its
 * directory entry are fsynced and the rows committed. The message files
 * are finished as one group (mox_store_msgfile_finish_group: writeback
 * together, one directory fsync per shard). A single message is then
 * handed to the store's group commit (mox_store_deliver), so APPENDs of
 * several sessions at once share database commits; several messages are
 * added in one transaction of their own, all or none (RFC 3502 section
 * 6.3.11). */
void
imap_run_append(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	size_t n = cmd->nmsgs;
	mox_store_msgfile **mfs = calloc(n ? n : 1, sizeof(*mfs));
	uint32_t *uids = calloc(n ? n : 1, sizeof(uint32_t));
	mox_store_add_opts *aos = calloc(n ? n : 1, sizeof(*aos));
	const char ***kws = calloc(n ? n : 1, sizeof(*kws));
	mox_store_tx *tx = NULL;
	mox_err err = MOX_OK;
	if (mfs == NULL || uids == NULL || aos == NULL || kws == NULL) {
		imap_result(s, MOX_IMAP_NO, "SERVERBUG", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const mox_imap_append_msg *m = &cmd->msgs[i];
		size_t nkw = 0;
		aos[i].size = sizeof(aos[i]);
		if (!parse_flags(s, m->flags, m->nflags, &aos[i].flags, &kws[i], &nkw))
			goto out;
		aos[i].keywords = kws[i];
		aos[i].nkeywords = nkw;
		aos[i].received = m->has_date ? (int64_t)m->date.t : 0;
	}
	/* Files first, written and synced outside the transaction. */
	for (size_t i = 0; i < n; i++) {
		const mox_imap_append_msg *m = &cmd->msgs[i];
		if (m->streamed) {
			/* Written while the literal came in (imap_session.c);
			 * ours now. */
			mfs[i] = s->apf[i].mf;
			s->apf[i].mf = NULL;
		} else {
			err = mox_store_msgfile_new(s->store, &mfs[i]);
			if (err == MOX_OK)
				err = mox_store_msgfile_write(mfs[i], m->data, m->len);
		}
		if (err == MOX_OK && mfs[i] == NULL)
			err = MOX_EINVAL;
		if (err != MOX_OK) {
			store_error(s, NULL, err, "storing message");
			goto out;
		}
	}
	err = mox_store_msgfile_finish_group(mfs, n);
	if (err != MOX_OK) {
		store_error(s, NULL, err, "storing message");
		goto out;
	}
	mox_store_mailbox mb;
	if (n == 1) {
		mox_store_deliver_opts dopts;
		memset(&dopts, 0, sizeof(dopts));
		dopts.size = sizeof(dopts);
		dopts.add = aos[0];
		mox_store_msginfo mi;
		mox_errinfo info;
		memset(&info, 0, sizeof(info));
		err = mox_store_deliver(s->store, cmd->mailbox, mfs[0], &dopts, &mi, &info);
		if (err == MOX_ENOTFOUND) {
			/* RFC 9051 section 6.3.12: TRYCREATE. */
			imap_result(s, MOX_IMAP_NO, "TRYCREATE", "mailbox does not exist");
			goto out;
		} else if (err != MOX_OK) {
			imap_result(s, MOX_IMAP_NO, err == MOX_ELIMIT ? "OVERQUOTA" : "SERVERBUG",
				    "append: %s", info.msg[0] ? info.msg : mox_strerror(err));
			goto out;
		}
		uids[0] = mi.uid;
		/* The UIDVALIDITY of the mailbox it went to, for APPENDUID. */
		tx = tx_begin(s, MOX_STORE_TX_READ);
		if (tx == NULL)
			goto out;
		err = mox_store_tx_mailbox_get_id(tx, mi.mailbox_id, &mb);
		mox_store_tx_rollback(tx);
		tx = NULL;
		if (err != MOX_OK) {
			/* Stored, but the mailbox went away since: no APPENDUID. */
			imap_result(s, MOX_IMAP_OK, NULL, "APPEND completed");
			goto out;
		}
	} else {
		tx = tx_begin(s, MOX_STORE_TX_WRITE);
		if (tx == NULL)
			goto out;
		err = mox_store_tx_mailbox_get(tx, cmd->mailbox, &mb);
		if (err == MOX_ENOTFOUND) {
			/* RFC 9051 section 6.3.12: TRYCREATE. */
			imap_result(s, MOX_IMAP_NO, "TRYCREATE", "mailbox does not exist");
			goto out;
		} else if (err != MOX_OK) {
			store_error(s, tx, err, "append");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			mox_store_msginfo mi;
			err = mox_store_tx_add(tx, mb.id, mfs[i], &aos[i], &mi);
			if (err != MOX_OK) {
				store_error(s, tx, err, "append");
				goto out;
			}
			uids[i] = mi.uid;
		}
		err = mox_store_tx_commit(tx);
		tx = NULL;
		if (err != MOX_OK) {
			store_error(s, NULL, err, "commit");
			goto out;
		}
	}
	/* RFC 4315 section 3: APPENDUID. */
	mox_buf code = MOX_BUF_INIT;
	mox_buf_appendf(&code, "APPENDUID %u ", mb.uidvalidity);
	write_set(&code, uids, n);
	imap_result(s, MOX_IMAP_OK, (const char *)code.data, "APPEND completed");
	mox_buf_free(&code);
out:
	mox_store_tx_rollback(tx);
	if (mfs != NULL)
		for (size_t i = 0; i < n; i++)
			mox_store_msgfile_free(mfs[i]);
	if (kws != NULL)
		for (size_t i = 0; i < n; i++)
			free(kws[i]);
	free(kws);
	free(aos);
	free(mfs);
	free(uids);
}

/* ---- EXPUNGE, UID EXPUNGE, CLOSE: RFC 9051 sections 6.4.3, 6.4.9, 6.4.2 ---- */

static void
expunge(imap_session *s, bool uid)
{
	mox_store_range *r = NULL;
	size_t nr = 0;
	mox_store_range all;
	if (uid) {
		if (!imap_set_ranges(s, &s->cmd->set, true, &r, &nr)) {
			imap_result(s, MOX_IMAP_NO, "SERVERBUG", "out of memory");
			return;
		}
		if (nr == 0)
			return;
	} else {
		if (s->nuids == 0)
			return;
		all.first = 1;
		all.last = s->uids[s->nuids - 1];
	}
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL) {
		free(r);
		return;
	}
	mox_err err = mox_store_tx_expunge(tx, s->mbid, uid ? r : &all, uid ? nr : 1,
					   MOX_STORE_ONLY_DELETED, NULL, NULL);
	free(r);
	if (err != MOX_OK) {
		store_error(s, tx, err, "expunge");
		mox_store_tx_rollback(tx);
		return;
	}
	tx_commit(s, tx);
}

void
imap_run_expunge(imap_session *s)
{
	expunge(s, s->cmd->uid);
}

void
imap_run_close(imap_session *s)
{
	expunge(s, false);
}

/* ---- COPY, MOVE: RFC 9051 sections 6.4.7 and 6.4.8, RFC 4315 ---- */

typedef struct uidmap {
	uint32_t *src, *dst;
	size_t n, cap;
} uidmap;

static mox_err
map_add(void *arg, uint32_t src, uint32_t dst)
{
	uidmap *m = arg;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		uint32_t *a = realloc(m->src, nc * sizeof(uint32_t));
		if (a == NULL)
			return MOX_ENOMEM;
		m->src = a;
		uint32_t *b = realloc(m->dst, nc * sizeof(uint32_t));
		if (b == NULL)
			return MOX_ENOMEM;
		m->dst = b;
		m->cap = nc;
	}
	m->src[m->n] = src;
	m->dst[m->n] = dst;
	m->n++;
	return MOX_OK;
}

void
imap_run_copy(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	bool move = cmd->type == MOX_IMAP_CMD_MOVE;
	mox_store_range *r = NULL;
	size_t nr = 0;
	uidmap m;
	memset(&m, 0, sizeof(m));
	if (!imap_set_ranges(s, &cmd->set, cmd->uid, &r, &nr)) {
		imap_result(s, MOX_IMAP_BAD, NULL, "message sequence number out of range");
		return;
	}
	mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
	if (tx == NULL) {
		free(r);
		return;
	}
	mox_store_mailbox mb;
	mox_err err = mox_store_tx_mailbox_get(tx, cmd->mailbox, &mb);
	if (err == MOX_ENOTFOUND) {
		imap_result(s, MOX_IMAP_NO, "TRYCREATE", "mailbox does not exist");
		goto out;
	} else if (err != MOX_OK) {
		store_error(s, tx, err, cmd->name);
		goto out;
	}
	if (nr > 0) {
		err = move ? mox_store_tx_move(tx, s->mbid, r, nr, 0, mb.id, map_add, &m)
			   : mox_store_tx_copy(tx, s->mbid, r, nr, 0, mb.id, map_add, &m);
		if (err != MOX_OK) {
			store_error(s, tx, err, cmd->name);
			goto out;
		}
	}
	err = mox_store_tx_commit(tx);
	tx = NULL;
	if (err != MOX_OK) {
		store_error(s, NULL, err, "commit");
		goto out;
	}
	mox_buf code = MOX_BUF_INIT;
	if (m.n > 0) {
		/* RFC 4315 section 3: COPYUID uidvalidity source-set dest-set. */
		mox_buf_appendf(&code, "COPYUID %u ", mb.uidvalidity);
		write_set(&code, m.src, m.n);
		mox_buf_append_byte(&code, ' ');
		write_set(&code, m.dst, m.n);
	}
	if (move && m.n > 0) {
		/* RFC 6851 section 4.3: COPYUID untagged, before the
		 * EXPUNGE responses. */
		mox_imap_write_status(sout(s), NULL, MOX_IMAP_OK, (const char *)code.data,
				      "moved");
		imap_result(s, MOX_IMAP_OK, NULL, "MOVE completed");
	} else {
		imap_result(s, MOX_IMAP_OK, m.n > 0 ? (const char *)code.data : NULL,
			    "%s completed", cmd->name);
	}
	mox_buf_free(&code);
out:
	mox_store_tx_rollback(tx);
	free(r);
	free(m.src);
	free(m.dst);
}

/* ---- STORE: RFC 9051 section 6.4.6, RFC 7162 section 3.1.3 ---- */

typedef struct store_ctx {
	imap_session *s;
	mox_buf resp;
	uint32_t *conflicts;
	size_t nconf, capconf;
	bool err;
} store_ctx;

static mox_err
store_msg(void *arg, const mox_store_msginfo *m)
{
	store_ctx *x = arg;
	imap_session *s = x->s;
	const mox_imap_cmd *cmd = s->cmd;
	long idx = imap_view_find(s, m->uid);
	if (idx < 0)
		return MOX_OK;
	if (m->conflict) {
		if (x->nconf == x->capconf) {
			size_t nc = x->capconf ? x->capconf * 2 : 16;
			uint32_t *n = realloc(x->conflicts, nc * sizeof(uint32_t));
			if (n == NULL)
				return MOX_ENOMEM;
			x->conflicts = n;
			x->capconf = nc;
		}
		x->conflicts[x->nconf++] = cmd->uid ? m->uid : (uint32_t)idx + 1;
		return MOX_OK;
	}
	imap_own_modseq(s, m->modseq);
	bool modseq = (s->enabled & EN_CONDSTORE) || cmd->has_unchangedsince;
	if (cmd->silent && !modseq)
		return MOX_OK;
	mox_buf_appendf(&x->resp, "* %ld FETCH (", idx + 1);
	if (cmd->uid)
		mox_buf_appendf(&x->resp, "UID %u ", m->uid);
	if (!cmd->silent) {
		mox_buf_append_str(&x->resp, "FLAGS ");
		imap_write_flags(&x->resp, m->flags, m->keywords);
		if (modseq)
			mox_buf_append_byte(&x->resp, ' ');
	}
	if (modseq)
		mox_buf_appendf(&x->resp, "MODSEQ (%lld)", (long long)m->modseq);
	return mox_buf_append_str(&x->resp, ")\r\n");
}

void
imap_run_store(imap_session *s)
{
	const mox_imap_cmd *cmd = s->cmd;
	mox_store_range *r = NULL;
	size_t nr = 0;
	const char **kw = NULL;
	size_t nkw = 0;
	unsigned bits = 0;
	store_ctx x;
	memset(&x, 0, sizeof(x));
	x.s = s;
	mox_buf_init(&x.resp, NULL);
	if (!imap_set_ranges(s, &cmd->set, cmd->uid, &r, &nr)) {
		imap_result(s, MOX_IMAP_BAD, NULL, "message sequence number out of range");
		return;
	}
	if (!parse_flags(s, cmd->flags, cmd->nflags, &bits, &kw, &nkw))
		goto out;
	if (nr > 0) {
		mox_store_tx *tx = tx_begin(s, MOX_STORE_TX_WRITE);
		if (tx == NULL)
			goto out;
		mox_store_flags_mode mode = cmd->store_mode == MOX_IMAP_STORE_ADD ? MOX_STORE_FLAGS_ADD
					    : cmd->store_mode == MOX_IMAP_STORE_REMOVE
						? MOX_STORE_FLAGS_REMOVE
						: MOX_STORE_FLAGS_SET;
		mox_err err = mox_store_tx_flags(tx, s->mbid, r, nr, 0, mode, bits, kw, nkw,
						 cmd->has_unchangedsince ? (int64_t)cmd->unchangedsince
									 : 0,
						 store_msg, &x);
		if (err != MOX_OK) {
			store_error(s, tx, err, "store");
			mox_store_tx_rollback(tx);
			goto out;
		}
		if (!tx_commit(s, tx))
			goto out;
	}
	mox_buf_append(sout(s), x.resp.data, x.resp.len);
	if (x.nconf > 0) {
		/* RFC 7162 section 3.1.3: MODIFIED with the messages not
		 * changed. */
		qsort(x.conflicts, x.nconf, sizeof(uint32_t), u32cmp);
		mox_buf code = MOX_BUF_INIT;
		mox_buf_append_str(&code, "MODIFIED ");
		write_set(&code, x.conflicts, x.nconf);
		imap_result(s, MOX_IMAP_OK, (const char *)code.data, "conditional STORE failed");
		mox_buf_free(&code);
	} else {
		imap_result(s, MOX_IMAP_OK, NULL, "STORE completed");
	}
out:
	free(kw);
	free(r);
	free(x.conflicts);
	mox_buf_free(&x.resp);
}
