/* STORE, RFC 9051 section 6.4.6, with UNCHANGEDSINCE (RFC 7162 section
 * 3.1.3).
 *
 *   store           = "STORE" SP sequence-set [store-modifiers] SP
 *                     store-att-flags
 *   store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
 *   store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
 *                     (flag-list / (flag *(SP flag)))
 */
#include "imap_int.h"

bool
mox__imap_cmd_store(mox__imap_lx *lx, mox_imap_cmd *cmd)
{
	if (!mox__imap_sp(lx) || !mox__imap_seqset(lx, &cmd->set, true) ||
	    !mox__imap_sp(lx))
		return false;
	if (mox__imap_peek(lx, '(')) {
		if (!mox__imap_open(lx))
			return false;
		if (!mox__imap_keyword(lx, "UNCHANGEDSINCE"))
			return mox__imap_fail(lx, "unknown store modifier");
		cmd->has_unchangedsince = true;
		if (!mox__imap_sp(lx) ||
		    !mox__imap_number64(lx, &cmd->unchangedsince, false) ||
		    !mox__imap_expect(lx, ')', "')'") || !mox__imap_sp(lx))
			return false;
		mox__imap_close(lx);
	}
	if (mox__imap_eat(lx, '+'))
		cmd->store_mode = MOX_IMAP_STORE_ADD;
	else if (mox__imap_eat(lx, '-'))
		cmd->store_mode = MOX_IMAP_STORE_REMOVE;
	else
		cmd->store_mode = MOX_IMAP_STORE_REPLACE;
	if (mox__imap_keyword(lx, "FLAGS.SILENT"))
		cmd->silent = true;
	else if (!mox__imap_keyword(lx, "FLAGS"))
		return mox__imap_fail(lx, "expected FLAGS, +FLAGS or -FLAGS");
	if (!mox__imap_sp(lx))
		return false;
	if (mox__imap_peek(lx, '('))
		return mox__imap_flag_list(lx, &cmd->flags, &cmd->nflags) &&
		       mox__imap_end(lx);
	size_t cap = 0;
	do {
		const char *f;
		if (!mox__imap_count(lx) || !mox__imap_flag(lx, &f, false))
			return false;
		cmd->flags = mox__imap_grow(lx, cmd->flags, &cap, cmd->nflags,
					    sizeof(*cmd->flags));
		if (cmd->flags == NULL)
			return false;
		cmd->flags[cmd->nflags++] = f;
	} while (mox__imap_eat(lx, ' '));
	return mox__imap_end(lx);
}
