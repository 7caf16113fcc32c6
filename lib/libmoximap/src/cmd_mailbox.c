/* SELECT/EXAMINE, LIST and APPEND, the mailbox commands with options.
 *
 *   select          = "SELECT" SP mailbox [select-params]
 *   select-params   = SP "(" select-param *(SP select-param) ")"
 *   select-param    =/ "CONDSTORE"                          (RFC 7162)
 *                   /  "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
 *                      [SP known-uids] [SP seq-match-data] ")"
 *   list            = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *                     [SP list-return-opts]                  (RFC 5258)
 *   append          = "APPEND" SP mailbox 1*append-message   (RFC 3502)
 *   append-message  = [SP flag-list] [SP date-time] SP append-data
 *   append-data     = literal / literal8 / "UTF8" SP "(" literal8 ")"
 */
#include "imap_int.h"

#include <string.h>


bool
mox__imap_cmd_select(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	if (!mox__imap_sp(lx) || !mox__imap_mailbox(lx, &cmd->mailbox))
		return false;
	if (!mox__imap_eat(lx, ' '))
		return mox__imap_end(lx);
	if (!mox__imap_open(lx))
		return false;
	do {
		if (mox__imap_keyword(lx, "CONDSTORE")) {
			cmd->condstore = true;
		} else if (mox__imap_keyword(lx, "QRESYNC")) {
			cmd->qresync = true;
			if (!mox__imap_sp(lx) || !mox__imap_open(lx) ||
			    !mox__imap_number(lx, &cmd->qresync_uidvalidity, true) ||
			    !mox__imap_sp(lx) ||
			    !mox__imap_number64(lx, &cmd->qresync_modseq, true))
				return false;
			if (mox__imap_eat(lx, ' ')) {
				if (!mox__imap_peek(lx, '(') &&
				    !mox__imap_seqset(lx, &cmd->set, false))
					return false;
				if ((cmd->set.n == 0 || mox__imap_eat(lx, ' ')) &&
				    mox__imap_peek(lx, '(')) {
					if (!mox__imap_open(lx) ||
					    !mox__imap_seqset(lx, &cmd->qresync_seqmatch_seqs, false) ||
					    !mox__imap_sp(lx) ||
					    !mox__imap_seqset(lx, &cmd->qresync_seqmatch_uids, false) ||
					    !mox__imap_expect(lx, ')', "')'"))
						return false;
					mox__imap_close(lx);
				}
			}
			if (!mox__imap_expect(lx, ')', "')' ending QRESYNC parameters"))
				return false;
			mox__imap_close(lx);
		} else {
			return mox__imap_fail(lx, "unknown select parameter");
		}
	} while (mox__imap_eat(lx, ' '));
	if (!mox__imap_expect(lx, ')', "')'"))
		return false;
	mox__imap_close(lx);
	return mox__imap_end(lx);
}

static bool
pattern_push(mox__imap_lx *lx, mox_imap_cmd *cmd, size_t *cap)
{
	const char *p;
	if (!mox__imap_count(lx) || !mox__imap_list_mailbox(lx, &p))
		return false;
	cmd->strs = mox__imap_grow(lx, cmd->strs, cap, cmd->nstrs, sizeof(*cmd->strs));
	if (cmd->strs == NULL)
		return false;
	cmd->strs[cmd->nstrs].s = p;
	cmd->strs[cmd->nstrs++].len = strlen(p);
	return true;
}

bool
mox__imap_cmd_list(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx))
		return false;
	if (mox__imap_peek(lx, '(')) {
		cmd->list_extended = true;
		if (!mox__imap_open(lx))
			return false;
		if (!mox__imap_peek(lx, ')')) {
			do {
				if (mox__imap_keyword(lx, "SUBSCRIBED"))
					cmd->list_opts |= MOX_IMAP_LIST_SUBSCRIBED;
				else if (mox__imap_keyword(lx, "REMOTE"))
					cmd->list_opts |= MOX_IMAP_LIST_REMOTE;
				else if (mox__imap_keyword(lx, "RECURSIVEMATCH"))
					cmd->list_opts |= MOX_IMAP_LIST_RECURSIVEMATCH;
				else if (mox__imap_keyword(lx, "SPECIAL-USE"))
					cmd->list_opts |= MOX_IMAP_LIST_SPECIAL_USE;
				else
					return mox__imap_fail(lx, "unknown list selection option");
			} while (mox__imap_eat(lx, ' '));
		}
		if (!mox__imap_expect(lx, ')', "')'") || !mox__imap_sp(lx))
			return false;
		mox__imap_close(lx);
		/* RFC 5258 section 3.1: RECURSIVEMATCH alone is an error. */
		if ((cmd->list_opts & MOX_IMAP_LIST_RECURSIVEMATCH) &&
		    !(cmd->list_opts & (MOX_IMAP_LIST_SUBSCRIBED | MOX_IMAP_LIST_SPECIAL_USE)))
			return mox__imap_fail(lx, "RECURSIVEMATCH without another selection option");
	}
	if (!mox__imap_mailbox(lx, &cmd->mailbox) || !mox__imap_sp(lx))
		return false;
	if (mox__imap_peek(lx, '(')) {
		cmd->list_extended = true;
		if (!mox__imap_open(lx))
			return false;
		do {
			if (!pattern_push(lx, cmd, &cap))
				return false;
		} while (mox__imap_eat(lx, ' '));
		if (!mox__imap_expect(lx, ')', "')' after patterns"))
			return false;
		mox__imap_close(lx);
	} else if (!pattern_push(lx, cmd, &cap)) {
		return false;
	}
	if (mox__imap_eat(lx, ' ')) {
		cmd->list_extended = true;
		if (!mox__imap_keyword(lx, "RETURN"))
			return mox__imap_fail(lx, "expected RETURN");
		if (!mox__imap_sp(lx) || !mox__imap_open(lx))
			return false;
		if (!mox__imap_peek(lx, ')')) {
			do {
				if (mox__imap_keyword(lx, "SUBSCRIBED"))
					cmd->list_opts |= MOX_IMAP_LIST_RET_SUBSCRIBED;
				else if (mox__imap_keyword(lx, "CHILDREN"))
					cmd->list_opts |= MOX_IMAP_LIST_RET_CHILDREN;
				else if (mox__imap_keyword(lx, "SPECIAL-USE"))
					cmd->list_opts |= MOX_IMAP_LIST_RET_SPECIAL_USE;
				else if (mox__imap_keyword(lx, "STATUS")) {
					/* RFC 5819: the status items replace the
					 * patterns in strs? No: keep patterns
					 * first; status items follow them. */
					size_t npat = cmd->nstrs;
					mox_imap_str *pats = cmd->strs;
					cmd->strs = NULL;
					cmd->nstrs = 0;
					if (!mox__imap_sp(lx) || !mox__imap_status_atts(lx, cmd))
						return false;
					/* Join: patterns, then items. */
					mox_imap_str *all = mox__imap_alloc(
						lx, (npat + cmd->nstrs) * sizeof(*all));
					if (all == NULL)
						return false;
					memcpy(all, pats, npat * sizeof(*all));
					memcpy(all + npat, cmd->strs, cmd->nstrs * sizeof(*all));
					cmd->list_status_first = npat;
					cmd->strs = all;
					cmd->nstrs += npat;
					cmd->list_opts |= MOX_IMAP_LIST_RET_STATUS;
				} else
					return mox__imap_fail(lx, "unknown list return option");
			} while (mox__imap_eat(lx, ' '));
		}
		if (!mox__imap_expect(lx, ')', "')'"))
			return false;
		mox__imap_close(lx);
	}
	if (!(cmd->list_opts & MOX_IMAP_LIST_RET_STATUS))
		cmd->list_status_first = cmd->nstrs;
	return mox__imap_end(lx);
}

bool
mox__imap_cmd_append(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	size_t cap = 0;
	if (!mox__imap_sp(lx) || !mox__imap_mailbox(lx, &cmd->mailbox))
		return false;
	do {
		mox_imap_append_msg m;
		memset(&m, 0, sizeof(m));
		if (!mox__imap_count(lx) || !mox__imap_sp(lx))
			return false;
		if (mox__imap_peek(lx, '(')) {
			if (!mox__imap_flag_list(lx, &m.flags, &m.nflags) ||
			    !mox__imap_sp(lx))
				return false;
		}
		if (mox__imap_peek(lx, '"')) {
			if (!mox__imap_datetime(lx, &m.date) || !mox__imap_sp(lx))
				return false;
			m.has_date = true;
		}
		mox_imap_str data;
		if (mox__imap_keyword(lx, "UTF8")) {
			/* RFC 6855 section 4. */
			if (!mox__imap_sp(lx) || !mox__imap_open(lx) ||
			    !mox__imap_literal(lx, &data, &m.binary) ||
			    !mox__imap_expect(lx, ')', "')'"))
				return false;
			mox__imap_close(lx);
			if (!m.binary)
				return mox__imap_fail(lx, "UTF8 needs a literal8");
		} else if (mox__imap_peek(lx, '{') || mox__imap_peek(lx, '~')) {
			if (!mox__imap_literal(lx, &data, &m.binary))
				return false;
		} else {
			return mox__imap_fail(lx, "expected literal with message");
		}
		m.data = (const uint8_t *)data.s;
		m.len = data.len;
		cmd->msgs = mox__imap_grow(lx, cmd->msgs, &cap, cmd->nmsgs, sizeof(*cmd->msgs));
		if (cmd->msgs == NULL)
			return false;
		cmd->msgs[cmd->nmsgs++] = m;
	} while (!mox__imap_at_end(lx));
	return true;
}
