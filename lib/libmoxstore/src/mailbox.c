/* Mailboxes and subscriptions.
 *
 * Names are hierarchical with "/" (RFC 9051 section 5.1): parents exist
 * for every mailbox (created on demand, as mox does), so a delete of a
 * mailbox with children needs MOX_STORE_MAILBOX_CHILDREN. Every mailbox
 * gets the account's next UIDVALIDITY when created, so a name that is
 * deleted and created again, or renamed over, never shows old UIDs under
 * an old UIDVALIDITY (RFC 9051 section 2.3.1.1). Counts (mox's
 * MailboxCounts) are kept in the mailbox row and updated by every change.
 */
#include "store_int.h"

#include <string.h>

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated). RFC 3629 section 4. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

mox_err
mox_store_mailbox_name_check(const char *name, char out[MOX_STORE_MAILBOX_NAME_MAX + 1])
{
	if (name == NULL || out == NULL)
		return MOX_EINVAL;
	size_t n = strlen(name);
	if (n == 0 || n > MOX_STORE_MAILBOX_NAME_MAX)
		return MOX_EINVAL;
	if (name[0] == '/' || name[n - 1] == '/' || name[0] == '#')
		return MOX_EINVAL;
	const unsigned char *p = (const unsigned char *)name;
	size_t elem = 0; /* start of the current element */
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return MOX_EINVAL;
		if (c == '/' || i + 1 == n) {
			size_t end = c == '/' ? i : n;
			size_t el = end - elem;
			if (el == 0)
				return MOX_EINVAL;
			/* Names become directory names on export. */
			if ((el == 1 && p[elem] == '.') ||
			    (el == 2 && p[elem] == '.' && p[elem + 1] == '.'))
				return MOX_EINVAL;
		}
		if (c == '/')
			elem = i + 1;
		size_t l = utf8_len(p + i, n - i);
		if (l == 0)
			return MOX_EINVAL;
		i += l;
	}
	memcpy(out, name, n + 1);
	/* RFC 9051 section 5.1: INBOX is case-insensitive; mox calls it Inbox. */
	if (n >= 5 && (n == 5 || name[5] == '/')) {
		bool inbox = true;
		for (size_t i = 0; i < 5 && inbox; i++)
			inbox = mox__store_lower(name[i]) == "inbox"[i];
		if (inbox)
			memcpy(out, "Inbox", 5);
	}
	return MOX_OK;
}

mox_err
mox__store_mailbox_read(sqlite3_stmt *s, mox_store_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->id = sqlite3_column_int64(s, 0);
	const unsigned char *name = sqlite3_column_text(s, 1);
	size_t n = (size_t)sqlite3_column_bytes(s, 1);
	if (name == NULL || n > MOX_STORE_MAILBOX_NAME_MAX)
		return MOX_EIO;
	memcpy(mb->name, name, n);
	mb->name[n] = '\0';
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(s, 2);
	mb->uidnext = (uint32_t)sqlite3_column_int64(s, 3);
	mb->special_use = (unsigned)sqlite3_column_int(s, 4);
	mb->highest_modseq = sqlite3_column_int64(s, 5);
	mb->counts.total = (uint64_t)sqlite3_column_int64(s, 6);
	mb->counts.deleted = (uint64_t)sqlite3_column_int64(s, 7);
	mb->counts.unread = (uint64_t)sqlite3_column_int64(s, 8);
	mb->counts.unseen = (uint64_t)sqlite3_column_int64(s, 9);
	mb->counts.size = (uint64_t)sqlite3_column_int64(s, 10);
	mb->subscribed = sqlite3_column_int(s, 11) != 0;
	return MOX_OK;
}

static mox_err
mailbox_query(mox_store_tx *tx, sqlite3_stmt *s, mox_store_mailbox *mb,
              const char *what)
{
	if (s == NULL)
		return mox__store_prep_err(tx, what);
	int rc = sqlite3_step(s);
	mox_err err;
	if (rc == SQLITE_ROW)
		err = mox__store_mailbox_read(s, mb);
	else if (rc == SQLITE_DONE)
		err = mox__store_seterr(tx, MOX_ENOTFOUND, "no such mailbox");
	else
		err = mox__store_err_sqlite(tx, tx->c->db, rc, what);
	sqlite3_reset(s);
	return err;
}

/* By normalised name. */
mox_err
mox__store_mailbox_get(mox_store_tx *tx, const char *name, mox_store_mailbox *mb)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_BY_NAME);
	if (s != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	mox_err err = mailbox_query(tx, s, mb, "looking up mailbox");
	if (err == MOX_ENOTFOUND)
		mox__store_seterr(tx, err, "no mailbox \"%s\"", name);
	return err;
}

mox_err
mox_store_tx_mailbox_get(mox_store_tx *tx, const char *name, mox_store_mailbox *mb_out)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	if (tx == NULL || mb_out == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(name, norm) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	return mox__store_mailbox_get(tx, norm, mb_out);
}

mox_err
mox_store_tx_mailbox_get_id(mox_store_tx *tx, int64_t id, mox_store_mailbox *mb_out)
{
	if (tx == NULL || mb_out == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_BY_ID);
	if (s != NULL)
		sqlite3_bind_int64(s, 1, id);
	return mailbox_query(tx, s, mb_out, "looking up mailbox");
}

mox_err
mox_store_tx_mailbox_list(mox_store_tx *tx, mox_store_mailbox_fn fn, void *arg)
{
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_LIST);
	if (s == NULL)
		return mox__store_prep_err(tx, "listing mailboxes");
	mox_err err = MOX_OK;
	mox_store_mailbox *mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL)
		err = MOX_ENOMEM;
	int rc;
	while (err == MOX_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = mox__store_mailbox_read(s, mb);
		if (err == MOX_OK)
			err = fn(arg, mb);
	}
	if (err == MOX_OK && rc != SQLITE_DONE)
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "listing mailboxes");
	sqlite3_reset(s);
	mox_mem_free(tx->st->alloc, mb);
	return err;
}

static mox_err
subscribe(mox_store_tx *tx, const char *name)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_SUB_INSERT);
	if (s != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	mox_err err = mox__store_step_done(tx, s, "subscribing");
	if (err != MOX_OK || sqlite3_changes(tx->c->db) == 0)
		return err;
	mox_store_change c = {.type = MOX_STORE_CHANGE_SUBSCRIBE};
	return mox__store_change_add(tx, &c, NULL, name, NULL, NULL, 0);
}

/* Create name (normalised) and missing parents. With must_create an
 * existing name is MOX_EEXIST; otherwise it is returned. */
mox_err
mox__store_mailbox_ensure(mox_store_tx *tx, const char *name, unsigned use,
                          bool do_subscribe, bool must_create,
                          mox_store_mailbox *mb_out)
{
	char prefix[MOX_STORE_MAILBOX_NAME_MAX + 1];
	mox_store_mailbox *mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL)
		return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
	size_t n = strlen(name);
	mox_err err = MOX_OK;
	for (size_t i = 0; i <= n && err == MOX_OK; i++) {
		if (name[i] != '/' && name[i] != '\0')
			continue;
		bool last = i == n;
		memcpy(prefix, name, i);
		prefix[i] = '\0';
		err = mox__store_mailbox_get(tx, prefix, mb);
		if (err == MOX_OK) {
			if (last && must_create)
				err = mox__store_seterr(
				    tx, MOX_EEXIST, "mailbox \"%s\" exists", prefix);
			continue;
		}
		if (err != MOX_ENOTFOUND)
			break;
		uint32_t uidvalidity;
		err = mox__store_next_uidvalidity(tx, &uidvalidity);
		if (err != MOX_OK)
			break;
		sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_INSERT);
		if (s != NULL) {
			sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 2, uidvalidity);
			sqlite3_bind_int(s, 3,
			                 last ? (int)(use & MOX_STORE_USE_ALL) : 0);
			sqlite3_bind_int64(s, 4, tx->modseq);
		}
		err = mox__store_step_done(tx, s, "creating mailbox");
		if (err == MOX_OK)
			err = mox__store_mailbox_get(tx, prefix, mb);
		if (err == MOX_OK) {
			mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_ADD,
			                      .mailbox_id = mb->id,
			                      .modseq = tx->modseq,
			                      .special_use = mb->special_use};
			err =
			    mox__store_change_add(tx, &c, NULL, prefix, NULL, NULL, 0);
		}
		if (err == MOX_OK && do_subscribe)
			err = subscribe(tx, prefix);
		if (err == MOX_OK && do_subscribe)
			err = mox__store_mailbox_get(tx, prefix, mb);
	}
	if (err == MOX_OK && mb_out != NULL)
		*mb_out = *mb;
	mox_mem_free(tx->st->alloc, mb);
	return err;
}

mox_err
mox_store_tx_mailbox_create(mox_store_tx *tx, const char *name, unsigned use,
                            unsigned flags, mox_store_mailbox *mb_out)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(name, norm) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	if (use & ~(unsigned)MOX_STORE_USE_ALL)
		return mox__store_seterr(tx, MOX_EINVAL, "unknown special-use bits");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = mox__store_mailbox_ensure(
	    tx, norm, use, (flags & MOX_STORE_MAILBOX_SUBSCRIBE) != 0, true, mb_out);
	return mox__store_op_end(tx, &m, err);
}

mox_err
mox__store_counts_apply(mox_store_tx *tx, int64_t mailbox_id,
                        const mox_store_counts *add, const mox_store_counts *sub,
                        int64_t modseq)
{
	static const mox_store_counts zero;
	if (add == NULL)
		add = &zero;
	if (sub == NULL)
		sub = &zero;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_COUNTS);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, (int64_t)add->total - (int64_t)sub->total);
		sqlite3_bind_int64(s, 3, (int64_t)add->deleted - (int64_t)sub->deleted);
		sqlite3_bind_int64(s, 4, (int64_t)add->unread - (int64_t)sub->unread);
		sqlite3_bind_int64(s, 5, (int64_t)add->unseen - (int64_t)sub->unseen);
		sqlite3_bind_int64(s, 6, (int64_t)add->size - (int64_t)sub->size);
		sqlite3_bind_int64(s, 7, modseq);
	}
	return mox__store_step_done(tx, s, "updating mailbox counts");
}

/* Children of name, deepest last; fn(arg, id, name). */
typedef mox_err (*child_fn)(mox_store_tx *tx, void *arg, int64_t id, const char *name);

static mox_err
children(mox_store_tx *tx, const char *name, child_fn fn, void *arg, size_t *n_out)
{
	/* Collect first: fn changes the mailbox table. */
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_CHILDREN);
	if (s == NULL)
		return mox__store_prep_err(tx, "listing child mailboxes");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	mox_buf names;
	mox_buf_init(&names, tx->st->alloc);
	mox_err err = MOX_OK;
	size_t n = 0;
	int rc;
	while (err == MOX_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		const char *cn = (const char *)sqlite3_column_text(s, 1);
		err = mox_buf_append(&names, &id, sizeof(id));
		if (err == MOX_OK)
			err = mox_buf_append(&names, cn, strlen(cn) + 1);
		n++;
	}
	if (err == MOX_OK && rc != SQLITE_DONE)
		err =
		    mox__store_err_sqlite(tx, tx->c->db, rc, "listing child mailboxes");
	sqlite3_reset(s);
	if (err == MOX_ENOMEM)
		mox__store_seterr(tx, err, "out of memory");
	if (n_out != NULL)
		*n_out = n;
	for (size_t off = 0; err == MOX_OK && fn != NULL && off < names.len;) {
		int64_t id;
		memcpy(&id, names.data + off, sizeof(id));
		const char *cn = (const char *)names.data + off + sizeof(id);
		err = fn(tx, arg, id, cn);
		off += sizeof(id) + strlen(cn) + 1;
	}
	mox_buf_free(&names);
	return err;
}

struct rename_ctx {
	const char *from, *to;
};

static mox_err
rename_one(mox_store_tx *tx, int64_t id, const char *oldname, const char *newname)
{
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_RENAME);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, newname, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, tx->modseq);
	}
	mox_err err = mox__store_step_done(tx, s, "renaming mailbox");
	/* A subscribed mailbox stays subscribed under its new name. */
	if (err == MOX_OK) {
		s = mox__store_stmt(tx->c, ST_SUB_RENAME);
		if (s != NULL) {
			sqlite3_bind_text(s, 1, oldname, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, newname, -1, SQLITE_STATIC);
		}
		err = mox__store_step_done(tx, s, "renaming subscription");
	}
	if (err == MOX_OK) {
		mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_RENAME,
		                      .mailbox_id = id,
		                      .modseq = tx->modseq};
		err = mox__store_change_add(tx, &c, NULL, newname, oldname, NULL, 0);
	}
	return err;
}

static mox_err
rename_child(mox_store_tx *tx, void *arg, int64_t id, const char *name)
{
	struct rename_ctx *r = arg;
	char newname[MOX_STORE_MAILBOX_NAME_MAX + 2];
	size_t fl = strlen(r->from);
	int n = snprintf(newname, sizeof(newname), "%s%s", r->to, name + fl);
	if (n < 0 || (size_t)n > MOX_STORE_MAILBOX_NAME_MAX)
		return mox__store_seterr(tx, MOX_EINVAL, "new name of \"%s\" too long",
		                         name);
	return rename_one(tx, id, name, newname);
}

mox_err
mox_store_tx_mailbox_rename(mox_store_tx *tx, const char *from, const char *to)
{
	char f[MOX_STORE_MAILBOX_NAME_MAX + 1], t[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	mox_store_mailbox *mb = NULL;
	if (tx == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(from, f) != MOX_OK ||
	    mox_store_mailbox_name_check(to, t) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	size_t fl = strlen(f);
	if (strcmp(f, t) == 0 || (strncmp(t, f, fl) == 0 && t[fl] == '/'))
		return mox__store_seterr(tx, MOX_EINVAL,
		                         "cannot rename \"%s\" into itself", f);
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		goto out;
	}
	err = mox__store_mailbox_get(tx, f, mb);
	if (err != MOX_OK)
		goto out;
	int64_t src_id = mb->id;
	err = mox__store_mailbox_get(tx, t, mb);
	if (err == MOX_OK) {
		err = mox__store_seterr(tx, MOX_EEXIST, "mailbox \"%s\" exists", t);
		goto out;
	}
	if (err != MOX_ENOTFOUND)
		goto out;
	if (strcmp(f, "Inbox") == 0) {
		/* RFC 9051 section 6.3.6: renaming INBOX moves its messages to a
		 * new mailbox; Inbox stays, empty, children untouched. */
		err = mox__store_mailbox_ensure(tx, t, 0, false, true, mb);
		if (err == MOX_OK)
			err =
			    mox__store_move(tx, src_id, NULL, 0, 0, mb->id, NULL, NULL);
		goto out;
	}
	/* Parents of the new name. */
	const char *sl = strrchr(t, '/');
	if (sl != NULL) {
		char parent[MOX_STORE_MAILBOX_NAME_MAX + 1];
		memcpy(parent, t, (size_t)(sl - t));
		parent[sl - t] = '\0';
		err = mox__store_mailbox_ensure(tx, parent, 0, false, false, NULL);
		if (err != MOX_OK)
			goto out;
	}
	struct rename_ctx r = {f, t};
	err = children(tx, f, rename_child, &r, NULL);
	if (err == MOX_OK)
		err = rename_one(tx, src_id, f, t);
	if (err == MOX_EEXIST)
		mox__store_seterr(tx, err, "a mailbox below \"%s\" exists", t);
out:
	mox_mem_free(tx->st->alloc, mb);
	return mox__store_op_end(tx, &m, err);
}

static mox_err
delete_one(mox_store_tx *tx, void *arg, int64_t id, const char *name)
{
	(void)arg;
	mox_err err = mox__store_remove_messages(tx, id, false, NULL, NULL, NULL, 0, 0);
	if (err != MOX_OK)
		return err;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_DELETE);
	if (s != NULL)
		sqlite3_bind_int64(s, 1, id);
	err = mox__store_step_done(tx, s, "deleting mailbox");
	if (err == MOX_OK) {
		mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_REMOVE,
		                      .mailbox_id = id,
		                      .modseq = tx->modseq};
		err = mox__store_change_add(tx, &c, NULL, name, NULL, NULL, 0);
	}
	return err;
}

mox_err
mox_store_tx_mailbox_delete(mox_store_tx *tx, const char *name, unsigned flags)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(name, norm) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	if (strcmp(norm, "Inbox") == 0)
		return mox__store_seterr(tx, MOX_EINVAL, "Inbox cannot be deleted");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	mox_store_mailbox *mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		goto out;
	}
	err = mox__store_mailbox_get(tx, norm, mb);
	if (err != MOX_OK)
		goto out;
	size_t nchildren = 0;
	err = children(tx, norm, NULL, NULL, &nchildren);
	if (err != MOX_OK)
		goto out;
	if (nchildren > 0 && !(flags & MOX_STORE_MAILBOX_CHILDREN)) {
		err = mox__store_seterr(tx, MOX_ESTATE, "mailbox \"%s\" has children",
		                        norm);
		goto out;
	}
	err = children(tx, norm, delete_one, NULL, NULL);
	if (err == MOX_OK)
		err = delete_one(tx, NULL, mb->id, norm);
out:
	mox_mem_free(tx->st->alloc, mb);
	return mox__store_op_end(tx, &m, err);
}

mox_err
mox_store_tx_mailbox_set_use(mox_store_tx *tx, int64_t mailbox_id, unsigned use)
{
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	if (use & ~(unsigned)MOX_STORE_USE_ALL)
		return mox__store_seterr(tx, MOX_EINVAL, "unknown special-use bits");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	mox_store_mailbox *mb = mox_mem_alloc(tx->st->alloc, sizeof(*mb));
	if (mb == NULL) {
		err = mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		goto out;
	}
	err = mox_store_tx_mailbox_get_id(tx, mailbox_id, mb);
	if (err != MOX_OK)
		goto out;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_SET_USE);
	if (s != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int(s, 2, (int)use);
		sqlite3_bind_int64(s, 3, tx->modseq);
	}
	err = mox__store_step_done(tx, s, "setting special-use");
	if (err == MOX_OK) {
		mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_USE,
		                      .mailbox_id = mailbox_id,
		                      .modseq = tx->modseq,
		                      .special_use = use};
		err = mox__store_change_add(tx, &c, NULL, mb->name, NULL, NULL, 0);
	}
out:
	mox_mem_free(tx->st->alloc, mb);
	return mox__store_op_end(tx, &m, err);
}

static mox_err
each_word(const char *s, mox_store_str_fn fn, void *arg)
{
	char w[MOX_STORE_KEYWORD_MAX + 1];
	while (*s != '\0') {
		while (*s == ' ')
			s++;
		size_t n = strcspn(s, " ");
		if (n == 0)
			break;
		if (n <= MOX_STORE_KEYWORD_MAX) {
			memcpy(w, s, n);
			w[n] = '\0';
			mox_err err = fn(arg, w);
			if (err != MOX_OK)
				return err;
		}
		s += n;
	}
	return MOX_OK;
}

mox_err
mox_store_tx_mailbox_keywords(mox_store_tx *tx, int64_t mailbox_id, mox_store_str_fn fn,
                              void *arg)
{
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_KEYWORDS_GET);
	if (s == NULL)
		return mox__store_prep_err(tx, "mailbox keywords");
	sqlite3_bind_int64(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	mox_err err;
	if (rc == SQLITE_ROW) {
		/* Copy: fn may run queries on tx. */
		const char *kw = (const char *)sqlite3_column_text(s, 0);
		char *copy = mox_mem_strdup(tx->st->alloc, kw != NULL ? kw : "");
		sqlite3_reset(s);
		if (copy == NULL)
			return mox__store_seterr(tx, MOX_ENOMEM, "out of memory");
		err = each_word(copy, fn, arg);
		mox_mem_free(tx->st->alloc, copy);
		return err;
	}
	err = rc == SQLITE_DONE
	          ? mox__store_seterr(tx, MOX_ENOTFOUND, "no such mailbox")
	          : mox__store_err_sqlite(tx, tx->c->db, rc, "mailbox keywords");
	sqlite3_reset(s);
	return err;
}

/* Merge keywords (sorted, space separated) into the mailbox's list. */
mox_err
mox__store_mailbox_keywords_merge(mox_store_tx *tx, int64_t mailbox_id,
                                  const char *keywords)
{
	if (keywords == NULL || keywords[0] == '\0')
		return MOX_OK;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_MAILBOX_KEYWORDS_GET);
	if (s == NULL)
		return mox__store_prep_err(tx, "mailbox keywords");
	sqlite3_bind_int64(s, 1, mailbox_id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE
		           ? mox__store_seterr(tx, MOX_ENOTFOUND, "no such mailbox")
		           : mox__store_err_sqlite(tx, tx->c->db, rc,
		                                   "mailbox keywords");
	}
	const char *cur = (const char *)sqlite3_column_text(s, 0);
	if (cur == NULL)
		cur = "";
	/* Merge two sorted word lists. */
	mox_buf out;
	mox_buf_init(&out, tx->st->alloc);
	mox_err err = MOX_OK;
	bool changed = false;
	const char *a = cur, *b = keywords;
	while (err == MOX_OK && (*a != '\0' || *b != '\0')) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		size_t al = strcspn(a, " "), bl = strcspn(b, " ");
		if (al == 0 && bl == 0)
			break;
		const char *w;
		size_t wl;
		int cmp;
		if (al == 0)
			cmp = 1;
		else if (bl == 0)
			cmp = -1;
		else {
			cmp = strncmp(a, b, al < bl ? al : bl);
			if (cmp == 0)
				cmp = al < bl ? -1 : al > bl ? 1 : 0;
		}
		if (cmp <= 0) {
			w = a;
			wl = al;
			a += al;
			if (cmp == 0)
				b += bl;
		} else {
			w = b;
			wl = bl;
			b += bl;
			changed = true;
		}
		if (out.len > 0)
			err = mox_buf_append_byte(&out, ' ');
		if (err == MOX_OK)
			err = mox_buf_append(&out, w, wl);
	}
	sqlite3_reset(s);
	if (err == MOX_OK && changed) {
		s = mox__store_stmt(tx->c, ST_MAILBOX_KEYWORDS_SET);
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, mailbox_id);
			sqlite3_bind_text(s, 2, (const char *)out.data, (int)out.len,
			                  SQLITE_STATIC);
		}
		err = mox__store_step_done(tx, s, "setting mailbox keywords");
		if (err == MOX_OK) {
			mox_store_change c = {.type = MOX_STORE_CHANGE_MAILBOX_KEYWORDS,
			                      .mailbox_id = mailbox_id,
			                      .modseq = tx->modseq,
			                      .keywords_changed = true};
			mox_store_mailbox mb;
			err = mox_store_tx_mailbox_get_id(tx, mailbox_id, &mb);
			if (err == MOX_OK)
				err = mox__store_change_add(tx, &c,
				                            (const char *)out.data,
				                            mb.name, NULL, NULL, 0);
		}
	}
	if (err == MOX_ENOMEM)
		mox__store_seterr(tx, err, "out of memory");
	mox_buf_free(&out);
	return err;
}

mox_err
mox_store_tx_subscribe(mox_store_tx *tx, const char *name)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(name, norm) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	err = subscribe(tx, norm);
	return mox__store_op_end(tx, &m, err);
}

mox_err
mox_store_tx_unsubscribe(mox_store_tx *tx, const char *name)
{
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	struct mox__store_opmark m;
	if (tx == NULL)
		return MOX_EINVAL;
	if (mox_store_mailbox_name_check(name, norm) != MOX_OK)
		return mox__store_seterr(tx, MOX_EINVAL, "invalid mailbox name");
	mox_err err = mox__store_op_begin(tx, &m);
	if (err != MOX_OK)
		return err;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_SUB_DELETE);
	if (s != NULL)
		sqlite3_bind_text(s, 1, norm, -1, SQLITE_STATIC);
	err = mox__store_step_done(tx, s, "unsubscribing");
	if (err == MOX_OK && sqlite3_changes(tx->c->db) > 0) {
		mox_store_change c = {.type = MOX_STORE_CHANGE_UNSUBSCRIBE};
		err = mox__store_change_add(tx, &c, NULL, norm, NULL, NULL, 0);
	}
	return mox__store_op_end(tx, &m, err);
}

mox_err
mox_store_tx_subscriptions(mox_store_tx *tx, mox_store_str_fn fn, void *arg)
{
	if (tx == NULL || fn == NULL)
		return MOX_EINVAL;
	sqlite3_stmt *s = mox__store_stmt(tx->c, ST_SUB_LIST);
	if (s == NULL)
		return mox__store_prep_err(tx, "listing subscriptions");
	mox_err err = MOX_OK;
	int rc;
	while (err == MOX_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		err = fn(arg, (const char *)sqlite3_column_text(s, 0));
	if (err == MOX_OK && rc != SQLITE_DONE)
		err = mox__store_err_sqlite(tx, tx->c->db, rc, "listing subscriptions");
	sqlite3_reset(s);
	return err;
}
