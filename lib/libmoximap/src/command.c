/* The command grammar's top level, RFC 9051 section 9:
 *
 *   command         = tag SP (command-any / command-auth /
 *                     command-nonauth / command-select) CRLF
 *   tag             = 1*<any ASTRING-CHAR except "+">
 *
 * and the commands with short grammars. SELECT, LIST, APPEND, SEARCH,
 * FETCH and STORE have their own files. Whether a command is allowed in
 * the session's state is the server's check (validate, then act).
 */
#include "imap_int.h"

#include <string.h>

static bool
no_args(mox__imap_lx *lx)
{
	if (mox__imap_at_end(lx))
		return true;
	return mox__imap_fail(lx, "%s", "command takes no arguments");
}

static bool
str_push(mox__imap_lx *lx, mox_imap_cmd *cmd, size_t *cap, mox_imap_str s)
{
	if (!mox__imap_count(lx))
		return false;
	cmd->strs = mox__imap_grow(lx, cmd->strs, cap, cmd->nstrs, sizeof(*cmd->strs));
	if (cmd->strs == NULL)
		return false;
	cmd->strs[cmd->nstrs++] = s;
	return true;
}

/* AUTHENTICATE SP auth-type [SP initial-resp]; initial-resp = base64 / "="
 * (RFC 4959). */
static bool
cmd_authenticate(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	mox_imap_str m;
	if (!mox__imap_sp(lx) || !mox__imap_atom(lx, &m))
		return false;
	cmd->str1.s = mox__imap_upper(lx, &m);
	cmd->str1.len = m.len;
	if (cmd->str1.s == NULL)
		return false;
	if (mox__imap_eat(lx, ' ')) {
		size_t s = lx->pos;
		if (mox__imap_eat(lx, '=')) {
			cmd->str2.s = "";
			cmd->str2.len = 0;
		} else {
			while (lx->pos < lx->len) {
				uint8_t c = lx->b[lx->pos];
				if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
				      c == '='))
					break;
				lx->pos++;
			}
			if (lx->pos == s)
				return mox__imap_fail(lx, "expected base64 initial response");
			cmd->str2.s = mox__imap_strdup(lx, (const char *)lx->b + s, lx->pos - s);
			cmd->str2.len = lx->pos - s;
			if (cmd->str2.s == NULL)
				return false;
		}
		cmd->has_initial = true;
	}
	return mox__imap_end(lx);
}

static bool
cmd_login(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	return mox__imap_sp(lx) && mox__imap_astring(lx, &cmd->str1) &&
	       mox__imap_sp(lx) && mox__imap_astring(lx, &cmd->str2) &&
	       mox__imap_end(lx);
}

/* enable = "ENABLE" 1*(SP capability) */
static bool
cmd_enable(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx))
		return false;
	do {
		mox_imap_str a;
		if (!mox__imap_atom(lx, &a))
			return false;
		a.s = mox__imap_upper(lx, &a);
		if (a.s == NULL || !str_push(lx, cmd, &cap, a))
			return false;
	} while (mox__imap_eat(lx, ' '));
	return mox__imap_end(lx);
}

/* create = "CREATE" SP mailbox [create-params]; RFC 6154 section 3:
 * create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")" */
static bool
cmd_create(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	if (!mox__imap_sp(lx) || !mox__imap_mailbox(lx, &cmd->mailbox))
		return false;
	if (mox__imap_eat(lx, ' ')) {
		size_t cap = 0;
		if (!mox__imap_open(lx))
			return false;
		if (!mox__imap_keyword(lx, "USE"))
			return mox__imap_fail(lx, "unknown CREATE parameter");
		if (!mox__imap_sp(lx) || !mox__imap_open(lx))
			return false;
		if (!mox__imap_peek(lx, ')')) {
			do {
				mox_imap_str a;
				if (!mox__imap_expect(lx, '\\', "'\\' starting use-attr") ||
				    !mox__imap_atom(lx, &a) || !str_push(lx, cmd, &cap, a))
					return false;
			} while (mox__imap_eat(lx, ' '));
		}
		if (!mox__imap_expect(lx, ')', "')'") || !mox__imap_expect(lx, ')', "')'"))
			return false;
		lx->depth -= 2;
	}
	return mox__imap_end(lx);
}

static bool
cmd_mailbox_only(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	return mox__imap_sp(lx) && mox__imap_mailbox(lx, &cmd->mailbox) &&
	       mox__imap_end(lx);
}

static bool
cmd_rename(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	return mox__imap_sp(lx) && mox__imap_mailbox(lx, &cmd->mailbox) &&
	       mox__imap_sp(lx) && mox__imap_mailbox(lx, &cmd->mailbox2) &&
	       mox__imap_end(lx);
}

/* lsub = "LSUB" SP mailbox SP list-mailbox */
static bool
cmd_lsub(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	mox_imap_str s;
	size_t cap = 0;
	if (!mox__imap_sp(lx) || !mox__imap_mailbox(lx, &cmd->mailbox) ||
	    !mox__imap_sp(lx) || !mox__imap_list_mailbox(lx, &s.s))
		return false;
	s.len = strlen(s.s);
	return str_push(lx, cmd, &cap, s) && mox__imap_end(lx);
}

static const char *const status_atts[] = {
	"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
	"RECENT", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID", "DELETED-STORAGE",
};

/* "(" status-att *(SP status-att) ")", shared with LIST RETURN STATUS. */
bool
mox__imap_status_atts(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_open(lx))
		return false;
	do {
		mox_imap_str a;
		if (!mox__imap_atom(lx, &a))
			return false;
		bool known = false;
		for (size_t i = 0; i < sizeof(status_atts) / sizeof(*status_atts); i++)
			known |= mox__imap_eq_nocase(a.s, a.len, status_atts[i]);
		if (!known)
			return mox__imap_fail(lx, "unknown status attribute %s", a.s);
		a.s = mox__imap_upper(lx, &a);
		if (a.s == NULL || !str_push(lx, cmd, &cap, a))
			return false;
	} while (mox__imap_eat(lx, ' '));
	if (!mox__imap_expect(lx, ')', "')' or space after status attribute"))
		return false;
	mox__imap_close(lx);
	return true;
}

static bool
cmd_status(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	return mox__imap_sp(lx) && mox__imap_mailbox(lx, &cmd->mailbox) &&
	       mox__imap_sp(lx) && mox__imap_status_atts(lx, cmd) &&
	       mox__imap_end(lx);
}

static bool
cmd_copy(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	return mox__imap_sp(lx) && mox__imap_seqset(lx, &cmd->set, true) &&
	       mox__imap_sp(lx) && mox__imap_mailbox(lx, &cmd->mailbox) &&
	       mox__imap_end(lx);
}

/* id = "ID" SP id-params-list; RFC 2971:
 * id-params-list = "(" *(string SP nstring) ")" / nil */
static bool
cmd_id(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx))
		return false;
	if (mox__imap_keyword(lx, "NIL")) {
		cmd->id_nil = true;
		return mox__imap_end(lx);
	}
	if (!mox__imap_open(lx))
		return false;
	if (!mox__imap_peek(lx, ')')) {
		do {
			mox_imap_str k, v;
			if (!mox__imap_string(lx, &k) || !mox__imap_sp(lx) ||
			    !mox__imap_nstring(lx, &v) || !str_push(lx, cmd, &cap, k) ||
			    !str_push(lx, cmd, &cap, v))
				return false;
		} while (mox__imap_eat(lx, ' '));
	}
	if (!mox__imap_expect(lx, ')', "')'"))
		return false;
	mox__imap_close(lx);
	return mox__imap_end(lx);
}

static bool
cmd_compress(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	mox_imap_str a;
	if (!mox__imap_sp(lx) || !mox__imap_atom(lx, &a))
		return false;
	cmd->str1.s = mox__imap_upper(lx, &a);
	cmd->str1.len = a.len;
	return cmd->str1.s != NULL && mox__imap_end(lx);
}

typedef struct cmd_def {
	const char *name;
	mox_imap_cmd_type type;
	bool (*parse)(mox__imap_lx *lx, mox_imap_cmd *cmd);
	bool uid; /* may follow UID */
} cmd_def;

static bool
cmd_expunge(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	if (!cmd->uid)
		return no_args(lx);
	/* RFC 4315 section 2.1: uid-expunge = "UID" SP "EXPUNGE" SP
	 * sequence-set */
	return mox__imap_sp(lx) && mox__imap_seqset(lx, &cmd->set, true) &&
	       mox__imap_end(lx);
}

static bool
noargs(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	(void)cmd;
	return no_args(lx);
}

static const cmd_def cmds[] = {
	{"CAPABILITY", MOX_IMAP_CMD_CAPABILITY, noargs, false},
	{"NOOP", MOX_IMAP_CMD_NOOP, noargs, false},
	{"LOGOUT", MOX_IMAP_CMD_LOGOUT, noargs, false},
	{"STARTTLS", MOX_IMAP_CMD_STARTTLS, noargs, false},
	{"AUTHENTICATE", MOX_IMAP_CMD_AUTHENTICATE, cmd_authenticate, false},
	{"LOGIN", MOX_IMAP_CMD_LOGIN, cmd_login, false},
	{"ENABLE", MOX_IMAP_CMD_ENABLE, cmd_enable, false},
	{"SELECT", MOX_IMAP_CMD_SELECT, mox__imap_cmd_select, false},
	{"EXAMINE", MOX_IMAP_CMD_EXAMINE, mox__imap_cmd_select, false},
	{"CREATE", MOX_IMAP_CMD_CREATE, cmd_create, false},
	{"DELETE", MOX_IMAP_CMD_DELETE, cmd_mailbox_only, false},
	{"RENAME", MOX_IMAP_CMD_RENAME, cmd_rename, false},
	{"SUBSCRIBE", MOX_IMAP_CMD_SUBSCRIBE, cmd_mailbox_only, false},
	{"UNSUBSCRIBE", MOX_IMAP_CMD_UNSUBSCRIBE, cmd_mailbox_only, false},
	{"LIST", MOX_IMAP_CMD_LIST, mox__imap_cmd_list, false},
	{"LSUB", MOX_IMAP_CMD_LSUB, cmd_lsub, false},
	{"NAMESPACE", MOX_IMAP_CMD_NAMESPACE, noargs, false},
	{"STATUS", MOX_IMAP_CMD_STATUS, cmd_status, false},
	{"APPEND", MOX_IMAP_CMD_APPEND, mox__imap_cmd_append, false},
	{"IDLE", MOX_IMAP_CMD_IDLE, noargs, false},
	{"CHECK", MOX_IMAP_CMD_CHECK, noargs, false},
	{"CLOSE", MOX_IMAP_CMD_CLOSE, noargs, false},
	{"UNSELECT", MOX_IMAP_CMD_UNSELECT, noargs, false},
	{"EXPUNGE", MOX_IMAP_CMD_EXPUNGE, cmd_expunge, true},
	{"SEARCH", MOX_IMAP_CMD_SEARCH, mox__imap_cmd_search, true},
	{"FETCH", MOX_IMAP_CMD_FETCH, mox__imap_cmd_fetch, true},
	{"STORE", MOX_IMAP_CMD_STORE, mox__imap_cmd_store, true},
	{"COPY", MOX_IMAP_CMD_COPY, cmd_copy, true},
	{"MOVE", MOX_IMAP_CMD_MOVE, cmd_copy, true},
	{"ID", MOX_IMAP_CMD_ID, cmd_id, false},
	{"COMPRESS", MOX_IMAP_CMD_COMPRESS, cmd_compress, false},
};

bool
mox__imap_cmd_parse(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t s = lx->pos;
	while (lx->pos < lx->len && mox__imap_is_astring_char(lx->b[lx->pos]) &&
	       lx->b[lx->pos] != '+')
		lx->pos++;
	if (lx->pos == s)
		return mox__imap_fail(lx, "missing or invalid tag");
	cmd->tag = mox__imap_strdup(lx, (const char *)lx->b + s, lx->pos - s);
	if (cmd->tag == NULL)
		return false;
	if (mox__imap_at_end(lx))
		return mox__imap_fail(lx, "missing command");
	if (!mox__imap_peek(lx, ' ')) {
		cmd->tag = NULL; /* "*" in the refusal: no usable tag */
		return mox__imap_fail(lx, "invalid tag");
	}
	lx->pos++;
	mox_imap_str name;
	if (!mox__imap_atom(lx, &name))
		return mox__imap_fail(lx, "expected command name");
	if (mox__imap_eq_nocase(name.s, name.len, "UID")) {
		cmd->uid = true;
		if (!mox__imap_sp(lx) || !mox__imap_atom(lx, &name))
			return mox__imap_fail(lx, "expected command after UID");
	}
	const cmd_def *def = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (mox__imap_eq_nocase(name.s, name.len, cmds[i].name))
			def = &cmds[i];
	if (def == NULL)
		return mox__imap_fail(lx, "unknown command %.40s%s", name.s,
				      cmd->uid ? " after UID" : "");
	if (cmd->uid && !def->uid)
		return mox__imap_fail(lx, "UID %s is not a command", def->name);
	cmd->type = def->type;
	cmd->name = def->name;
	return def->parse(lx, cmd);
}
