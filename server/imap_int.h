/* localserve's IMAP sessions: what server/imap_session.c (connection,
 * states, authentication, IDLE, changes from other sessions) and
 * server/imap_store.c / imap_fetch.c (commands that work on the store, run
 * on the libuv thread pool) share. */
#ifndef MOX_SERVER_IMAP_INT_H
#define MOX_SERVER_IMAP_INT_H

#include "env.h"

#include <mox/imap.h>
#include <mox/sasl.h>
#include <mox/store.h>

#include <stdbool.h>
#include <stdint.h>

enum imap_state { IS_NOTAUTH, IS_AUTH, IS_SELECTED, IS_LOGOUT };

/* ENABLEd extensions, RFC 5161. */
enum {
	EN_REV2 = 1u << 0,
	EN_CONDSTORE = 1u << 1,
	EN_QRESYNC = 1u << 2,
	EN_UTF8 = 1u << 3,
};

typedef struct imap_session imap_session;
typedef struct litsrc litsrc;

/* A literal whose bytes come from a message file (and generated header
 * bytes): the argument of the out queue's read callback. */
struct litsrc {
	litsrc *prev, *next; /* in the session's list, for cleanup */
	imap_session *s;
	int64_t id; /* message id, its file */
	int fd;     /* opened at the first read */
	bool whole; /* the whole file, no segments */
	uint64_t size;
	mox_imap_section_data d;
};

struct imap_session {
	conn *c;
	server_env *env;
	mox_store *store; /* the account, from the login (env.h) */
	mox_imap_parser *p;
	mox_imap_out *out;
	uv_check_t check; /* resumes output and commands when writes drained */
	uv_async_t async; /* store listener wakeup */
	uv_timer_t timer; /* autologout, RFC 9051 section 5.4 */
	uv_work_t work;
	int handles; /* uv handles not closed yet */
	bool gone;   /* connection closed: free when idle */
	bool working;
	bool check_on;
	bool closing; /* LOGOUT or BYE: close when output is written */

	enum imap_state state;
	unsigned enabled;
	mox_store_listener *listener;

	/* Selected mailbox: the session's view, sequence number = index + 1
	 * (RFC 9051 section 2.3.1.2). Changed only on the loop thread, at
	 * the points RFC 9051 section 7.5.1 allows. */
	int64_t mbid;
	bool readonly;
	uint32_t uidvalidity;
	uint32_t *uids;
	size_t nuids, capuids;

	/* Modseqs of our own STOREs, whose flag changes we answered
	 * already: skipped when they come back through the listener. */
	int64_t own_modseq[32];
	size_t own_next;

	/* COMPRESS=DEFLATE, RFC 4978: raw deflate both ways once on.
	 * zraw_left: output bytes still to send plain (up to the tagged OK
	 * of COMPRESS), then zout starts. NULL: off (idle sessions stay
	 * small). */
	struct z_stream_s *zin, *zout;
	bool compress_next; /* COMPRESS accepted: start after its OK */
	bool zpending;      /* zraw_left counts down to the start */
	uint64_t zraw_left;

	/* SEARCHRES, RFC 5182: UIDs of the last SEARCH RETURN (SAVE),
	 * sorted; "$" refers to those still in the view. Cleared when a
	 * mailbox is selected or closed (RFC 5182 section 2.1). */
	uint32_t *saved;
	size_t nsaved;

	/* The command in progress. cmd is borrowed from the parser: valid
	 * until the next parser call, which waits until the command ends. */
	const mox_imap_cmd *cmd;
	char tag[128];
	mox_imap_status res;
	mox_buf rcode; /* response code, "" for none (COPYUID can be long) */
	char rtext[256];
	void (*run)(imap_session *s);  /* on the thread pool */
	void (*done)(imap_session *s); /* on the loop, after run */
	bool expunge_ok; /* may send EXPUNGE/EXISTS before the tagged reply */
	bool more;       /* run again when output has drained (FETCH chunks) */

	/* Results the worker hands to done(). */
	uint32_t *newuids;
	size_t nnewuids, capnewuids;
	int64_t newmbid;
	uint32_t newuidvalidity;
	bool newreadonly;

	/* FETCH and friends: the UIDs the command works on, with sequence
	 * numbers, and the position of the next chunk. */
	uint32_t *tuids;
	size_t ntuids, captuids, tpos;

	/* IDLE, RFC 2177. */
	bool idling;

	/* AUTHENTICATE, RFC 9051 section 6.2.2. */
	mox_sasl_server *sasl;
	bool cram;          /* CRAM-MD5, done here from the stored states */
	char cram_chal[128];
	bool auth_pending;  /* waiting for a response line */
	char authc[256];
	char pw[256];       /* LOGIN/PLAIN password for the worker, wiped */
	bool auth_ok;
	mox_sasl_scram_secret scram;
	bool scram_found;
	bool scram256;

	litsrc *lits;

	/* APPEND message literals streamed into staged files as they
	 * arrive (MOX_IMAP_APPEND_STREAM), by message index. */
	struct appendfile {
		mox_store_msgfile *mf;
		bool nul;    /* a NUL byte: only allowed in literal8 */
		bool failed; /* not stored (error, or not authenticated) */
	} *apf;
	size_t napf;
};

/* Output for the worker and the loop: the session's out queue buffer. */
static inline mox_buf *
sout(imap_session *s)
{
	return mox_imap_out_buf(s->out);
}

/* Writer flags for the session (UTF-8 after ENABLE). */
unsigned imap_wflags(const imap_session *s);
/* Set the tagged result of the running command. */
void imap_result(imap_session *s, mox_imap_status st, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write "(flags)" for system flags and keywords. */
void imap_write_flags(mox_buf *b, unsigned flags, const char *keywords);
/* Remember a modseq of our own change. */
void imap_own_modseq(imap_session *s, int64_t modseq);
/* Index of uid in the view, or -1. */
long imap_view_find(const imap_session *s, uint32_t uid);
/* Store mailbox name to IMAP (Inbox as INBOX). */
void imap_name_out(const char *store_name, char *out, size_t outlen);

/* Resolve a sequence set (by UID with uid) against the view into sorted,
 * merged UID ranges limited to the view. false: a sequence number out of
 * range (*bad set). */
bool imap_set_ranges(const imap_session *s, const mox_imap_seqset *set, bool uid,
		     mox_store_range **ranges_out, size_t *n_out);

/* Commands on the thread pool (imap_store.c, imap_fetch.c). Each sets the
 * result with imap_result and writes untagged responses to sout(s). */
void imap_run_select(imap_session *s);
void imap_run_create(imap_session *s);
void imap_run_delete(imap_session *s);
void imap_run_rename(imap_session *s);
void imap_run_subscribe(imap_session *s);
void imap_run_list(imap_session *s);
void imap_run_status(imap_session *s);
void imap_run_append(imap_session *s);
void imap_run_expunge(imap_session *s);
void imap_run_close(imap_session *s);
void imap_run_copy(imap_session *s);
void imap_run_store(imap_session *s);
void imap_run_search(imap_session *s);
void imap_run_fetch(imap_session *s);
/* FETCH: prepare (loop thread) the target UIDs; false with a result set. */
bool imap_fetch_prepare(imap_session *s);
/* Free staged APPEND files not handed to the store. */
void imap_append_files_free(imap_session *s);
/* Free literal sources not read yet (connection gone). */
void imap_lits_free(imap_session *s);

#endif
