/* mox/imap.h -- IMAP protocol core: RFC 9051 (IMAP4rev2) and RFC 3501
 * (IMAP4rev1) with extensions, sans-IO.
 *
 * What is here:
 *   - an incremental command parser: bytes in, events out (a parsed
 *     command, "send a continuation request", a rejected command with the
 *     tagged response to give, a raw line for AUTHENTICATE and IDLE). Tags,
 *     atoms, quoted strings, literals (synchronizing, and non-synchronizing
 *     per RFC 7888 LITERAL+ / LITERAL-), literal8 (RFC 3516), sequence sets
 *     with '*' and '$' (RFC 5182), mailbox names in modified UTF-7 (RFC 3501
 *     section 5.1.3) or UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855), every
 *     search key of RFC 9051 section 6.4.4 and RFC 3501 section 6.4.4 plus
 *     MODSEQ (RFC 7162) and OLDER/YOUNGER (RFC 5032), fetch attributes with
 *     section specs and partials (RFC 9051 section 6.4.5), STORE (with
 *     UNCHANGEDSINCE), APPEND/MULTIAPPEND, SELECT with CONDSTORE/QRESYNC,
 *     LIST-EXTENDED, STATUS, ENABLE, ID, and the other commands the server
 *     implements. Memory is bounded by mox_imap_limits; a literal over the
 *     limit is refused before the client sends it.
 *   - a response writer: strings as atoms, quoted strings or literals as
 *     needed, mailbox names, status responses, and an output queue that
 *     takes large literals (message files) through a read callback, so the
 *     bytes are pulled in chunks as the socket can take them;
 *   - BODY, BODYSTRUCTURE and ENVELOPE (RFC 9051 section 7.5.2) from the
 *     libmoxmessage part tree;
 *   - BODY[section]<partial> as byte ranges of the message plus generated
 *     bytes (HEADER.FIELDS), without parsing the message again;
 *   - evaluation of a parsed search program against one message, with the
 *     message's data supplied through callbacks.
 *
 * Out of scope: sockets, TLS, the mailbox store, sequence number
 * bookkeeping, SASL mechanisms (see the server): the server drives this.
 */
#ifndef MOX_IMAP_H
#define MOX_IMAP_H

#include <mox/core.h>
#include <mox/message.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_IMAP_VERSION_MAJOR 0
#define MOX_IMAP_VERSION_MINOR 1
#define MOX_IMAP_VERSION_PATCH 0
#define MOX_IMAP_VERSION_HEX                                                   \
	((MOX_IMAP_VERSION_MAJOR << 16) | (MOX_IMAP_VERSION_MINOR << 8) |         \
	 MOX_IMAP_VERSION_PATCH)

/* Thread-safety: any thread. */
MOX_API unsigned mox_imap_version(void);

/* RFC 7888 section 5: with LITERAL- a non-synchronizing literal may be at
 * most 4096 octets. */
#define MOX_IMAP_LITERALMINUS_MAX 4096

/* ---- limits and options ---- */

typedef struct mox_imap_limits {
	size_t max_line;    /* one line (up to CRLF or a literal); 0: 65536 */
	size_t max_literal; /* one literal, octets; 0: 64 MiB */
	size_t max_command; /* a whole command, lines and literals; 0:
			       max_literal + 1 MiB */
	size_t max_depth;   /* nesting of parentheses and search keys; 0: 32 */
	size_t max_args;    /* items in one command (list elements, search
			       keys, fetch items, set ranges); 0: 10000 */
} mox_imap_limits;

/* Parser flags, given at creation and changed with
 * mox_imap_parser_set_flags as the session advertises or enables. */
enum {
	MOX_IMAP_LITERALPLUS = 1u << 0,  /* LITERAL+ advertised, RFC 7888 */
	MOX_IMAP_LITERALMINUS = 1u << 1, /* LITERAL- advertised, RFC 7888 */
	MOX_IMAP_UTF8 = 1u << 2, /* UTF8=ACCEPT enabled: mailbox names are
				    UTF-8, not modified UTF-7 (RFC 6855) */
	/* Stream APPEND message literals instead of keeping them: their
	 * bytes come as MOX_IMAP_EV_APPEND_DATA events as they arrive (for a
	 * server writing them to a file), and the command's message has
	 * streamed set and no data. Literals of 0 octets are not streamed.
	 * max_literal still bounds each literal; max_command does not count
	 * streamed ones. */
	MOX_IMAP_APPEND_STREAM = 1u << 3,
};

typedef struct mox_imap_parser_opts {
	size_t size; /* sizeof(mox_imap_parser_opts) */
	const mox_allocator *alloc;
	mox_imap_limits limits;
	unsigned flags;
} mox_imap_parser_opts;

/* ---- parsed values ---- */

/* A string argument: atom, quoted string or literal. s is NUL-terminated
 * (not counted); a literal may also hold NUL bytes, so use len. */
typedef struct mox_imap_str {
	const char *s;
	size_t len;
} mox_imap_str;

/* One range of a sequence set; 0 stands for '*' (RFC 9051 section 9,
 * seq-number). first and last are as written: "5:2" is 5..2, the same as
 * 2:5. */
typedef struct mox_imap_range {
	uint32_t first, last;
} mox_imap_range;

typedef struct mox_imap_seqset {
	size_t n;
	mox_imap_range *r;
	bool saved; /* "$": the saved search result (RFC 5182); n is 0 */
} mox_imap_seqset;

/* Whether num is in set, with '*' meaning max (the highest sequence number
 * or UID in the mailbox). A saved set ("$") contains nothing here: the
 * server substitutes it (mox_imap_search_match uses m->saved). Thread-safety: any thread. */
MOX_API bool mox_imap_seqset_contains(const mox_imap_seqset *set, uint32_t num,
				      uint32_t max);

/* A date (search keys): day 1-31, month 1-12. */
typedef struct mox_imap_date {
	int year, month, day;
} mox_imap_date;

/* date-time (APPEND): "dd-Mon-yyyy hh:mm:ss +zzzz". */
typedef struct mox_imap_datetime {
	time_t t;      /* the instant */
	int tz_offset; /* minutes east of UTC */
} mox_imap_datetime;

/* ---- search keys, RFC 9051 section 6.4.4 ---- */

typedef enum mox_imap_skey_type {
	MOX_IMAP_SK_AND = 0, /* parenthesized list or the top level: sub[] */
	MOX_IMAP_SK_ALL,
	MOX_IMAP_SK_ANSWERED,
	MOX_IMAP_SK_BCC,     /* str */
	MOX_IMAP_SK_BEFORE,  /* date: internal date */
	MOX_IMAP_SK_BODY,    /* str */
	MOX_IMAP_SK_CC,      /* str */
	MOX_IMAP_SK_DELETED,
	MOX_IMAP_SK_DRAFT,
	MOX_IMAP_SK_FLAGGED,
	MOX_IMAP_SK_FROM,    /* str */
	MOX_IMAP_SK_HEADER,  /* field, str */
	MOX_IMAP_SK_KEYWORD, /* str: the flag */
	MOX_IMAP_SK_LARGER,  /* number */
	MOX_IMAP_SK_NEW,     /* RFC 3501: RECENT UNSEEN */
	MOX_IMAP_SK_NOT,     /* sub[0] */
	MOX_IMAP_SK_OLD,     /* RFC 3501: NOT RECENT */
	MOX_IMAP_SK_ON,      /* date */
	MOX_IMAP_SK_OR,      /* sub[0], sub[1] */
	MOX_IMAP_SK_RECENT,  /* RFC 3501 */
	MOX_IMAP_SK_SEEN,
	MOX_IMAP_SK_SENTBEFORE, /* date: Date header */
	MOX_IMAP_SK_SENTON,
	MOX_IMAP_SK_SENTSINCE,
	MOX_IMAP_SK_SINCE,
	MOX_IMAP_SK_SMALLER, /* number */
	MOX_IMAP_SK_SUBJECT, /* str */
	MOX_IMAP_SK_TEXT,    /* str */
	MOX_IMAP_SK_TO,      /* str */
	MOX_IMAP_SK_UID,     /* set */
	MOX_IMAP_SK_UNANSWERED,
	MOX_IMAP_SK_UNDELETED,
	MOX_IMAP_SK_UNDRAFT,
	MOX_IMAP_SK_UNFLAGGED,
	MOX_IMAP_SK_UNKEYWORD, /* str */
	MOX_IMAP_SK_UNSEEN,
	MOX_IMAP_SK_SEQSET,  /* set: message sequence numbers */
	MOX_IMAP_SK_MODSEQ,  /* number; RFC 7162 section 3.1.5 */
	MOX_IMAP_SK_OLDER,   /* number: seconds; RFC 5032 */
	MOX_IMAP_SK_YOUNGER, /* number: seconds; RFC 5032 */
} mox_imap_skey_type;

typedef struct mox_imap_skey mox_imap_skey;
struct mox_imap_skey {
	mox_imap_skey_type type;
	mox_imap_str str;    /* search text, flag, header value */
	const char *field;   /* HEADER field name */
	uint64_t number;     /* LARGER, SMALLER, MODSEQ, OLDER, YOUNGER */
	mox_imap_date date;  /* date keys */
	mox_imap_seqset set; /* UID, SEQSET */
	mox_imap_skey **sub;
	size_t nsub;
};

/* ---- fetch, RFC 9051 section 6.4.5 ---- */

typedef enum mox_imap_section_text {
	MOX_IMAP_SECTION_NONE = 0, /* the whole part (or message) */
	MOX_IMAP_SECTION_HEADER,
	MOX_IMAP_SECTION_HEADER_FIELDS,
	MOX_IMAP_SECTION_HEADER_FIELDS_NOT,
	MOX_IMAP_SECTION_TEXT,
	MOX_IMAP_SECTION_MIME,
} mox_imap_section_text;

typedef struct mox_imap_section {
	uint32_t *part; /* part numbers, "1.2.3"; npart 0 for the message */
	size_t npart;
	mox_imap_section_text text;
	const char **fields; /* HEADER.FIELDS (...) names, as given */
	size_t nfields;
} mox_imap_section;

typedef enum mox_imap_fetch_type {
	MOX_IMAP_FA_ENVELOPE = 0,
	MOX_IMAP_FA_FLAGS,
	MOX_IMAP_FA_INTERNALDATE,
	MOX_IMAP_FA_RFC822_SIZE,
	MOX_IMAP_FA_RFC822,        /* RFC 3501: BODY[] */
	MOX_IMAP_FA_RFC822_HEADER, /* RFC 3501: BODY.PEEK[HEADER] */
	MOX_IMAP_FA_RFC822_TEXT,   /* RFC 3501: BODY[TEXT] */
	MOX_IMAP_FA_BODY,          /* BODY without section: structure */
	MOX_IMAP_FA_BODYSTRUCTURE,
	MOX_IMAP_FA_UID,
	MOX_IMAP_FA_BODY_SECTION,  /* BODY[...] or BODY.PEEK[...] */
	MOX_IMAP_FA_BINARY,        /* BINARY[...] or BINARY.PEEK[...], RFC 3516 */
	MOX_IMAP_FA_BINARY_SIZE,
	MOX_IMAP_FA_MODSEQ,        /* RFC 7162 */
	MOX_IMAP_FA_SAVEDATE,      /* RFC 8514 */
	MOX_IMAP_FA_EMAILID,       /* RFC 8474 */
	MOX_IMAP_FA_THREADID,
	MOX_IMAP_FA_PREVIEW,       /* RFC 8970 */
} mox_imap_fetch_type;

typedef struct mox_imap_fetch_att {
	mox_imap_fetch_type type;
	bool peek;
	mox_imap_section section; /* BODY_SECTION, BINARY, BINARY_SIZE */
	bool partial;             /* <offset.count> given */
	uint32_t partial_offset;
	uint32_t partial_count;
} mox_imap_fetch_att;

/* ---- commands ---- */

typedef enum mox_imap_cmd_type {
	MOX_IMAP_CMD_CAPABILITY = 1,
	MOX_IMAP_CMD_NOOP,
	MOX_IMAP_CMD_LOGOUT,
	MOX_IMAP_CMD_STARTTLS,
	MOX_IMAP_CMD_AUTHENTICATE,
	MOX_IMAP_CMD_LOGIN,
	MOX_IMAP_CMD_ENABLE,
	MOX_IMAP_CMD_SELECT,
	MOX_IMAP_CMD_EXAMINE,
	MOX_IMAP_CMD_CREATE,
	MOX_IMAP_CMD_DELETE,
	MOX_IMAP_CMD_RENAME,
	MOX_IMAP_CMD_SUBSCRIBE,
	MOX_IMAP_CMD_UNSUBSCRIBE,
	MOX_IMAP_CMD_LIST,
	MOX_IMAP_CMD_LSUB,
	MOX_IMAP_CMD_NAMESPACE,
	MOX_IMAP_CMD_STATUS,
	MOX_IMAP_CMD_APPEND,
	MOX_IMAP_CMD_IDLE,
	MOX_IMAP_CMD_CHECK,
	MOX_IMAP_CMD_CLOSE,
	MOX_IMAP_CMD_UNSELECT,
	MOX_IMAP_CMD_EXPUNGE, /* uid: UID EXPUNGE with set */
	MOX_IMAP_CMD_SEARCH,
	MOX_IMAP_CMD_FETCH,
	MOX_IMAP_CMD_STORE,
	MOX_IMAP_CMD_COPY,
	MOX_IMAP_CMD_MOVE,
	MOX_IMAP_CMD_ID,
	MOX_IMAP_CMD_COMPRESS,
} mox_imap_cmd_type;

/* SEARCH RETURN options, RFC 9051 section 6.4.4 and RFC 5182. */
enum {
	MOX_IMAP_SEARCH_RET_MIN = 1u << 0,
	MOX_IMAP_SEARCH_RET_MAX = 1u << 1,
	MOX_IMAP_SEARCH_RET_ALL = 1u << 2,
	MOX_IMAP_SEARCH_RET_COUNT = 1u << 3,
	MOX_IMAP_SEARCH_RET_SAVE = 1u << 4,
};

/* LIST selection and return options, RFC 5258, RFC 6154, RFC 5819. */
enum {
	MOX_IMAP_LIST_SUBSCRIBED = 1u << 0,
	MOX_IMAP_LIST_REMOTE = 1u << 1,
	MOX_IMAP_LIST_RECURSIVEMATCH = 1u << 2,
	MOX_IMAP_LIST_SPECIAL_USE = 1u << 3,
	MOX_IMAP_LIST_RET_SUBSCRIBED = 1u << 8,
	MOX_IMAP_LIST_RET_CHILDREN = 1u << 9,
	MOX_IMAP_LIST_RET_SPECIAL_USE = 1u << 10,
	MOX_IMAP_LIST_RET_STATUS = 1u << 11,
};

typedef enum mox_imap_store_mode {
	MOX_IMAP_STORE_REPLACE = 0, /* FLAGS */
	MOX_IMAP_STORE_ADD,         /* +FLAGS */
	MOX_IMAP_STORE_REMOVE,      /* -FLAGS */
} mox_imap_store_mode;

/* One message of APPEND (several with MULTIAPPEND, RFC 3502). */
typedef struct mox_imap_append_msg {
	const char **flags;
	size_t nflags;
	bool has_date;
	mox_imap_datetime date;
	const uint8_t *data; /* the literal */
	size_t len;
	bool binary; /* literal8, RFC 3516 */
	/* With MOX_IMAP_APPEND_STREAM: the bytes (len of them) came in
	 * MOX_IMAP_EV_APPEND_DATA events; data is NULL. */
	bool streamed;
} mox_imap_append_msg;

/* A parsed command. Which members are set depends on type, as noted.
 * Mailbox names are UTF-8 (decoded from modified UTF-7 unless
 * MOX_IMAP_UTF8), and "INBOX" in any case is "INBOX" (RFC 9051 section
 * 5.1). Flags: system flags are given in canonical case ("\Seen"),
 * keywords as written. */
typedef struct mox_imap_cmd {
	const char *tag;
	mox_imap_cmd_type type;
	const char *name; /* upper case command name, "FETCH" */
	bool uid;         /* UID FETCH, UID SEARCH, ... */

	/* SELECT EXAMINE CREATE DELETE RENAME(from) SUBSCRIBE UNSUBSCRIBE
	 * STATUS APPEND COPY MOVE; LIST/LSUB reference */
	const char *mailbox;
	const char *mailbox2; /* RENAME to */

	/* FETCH STORE COPY MOVE, UID EXPUNGE, SELECT QRESYNC known UIDs */
	mox_imap_seqset set;

	/* LOGIN user, password; AUTHENTICATE mechanism (upper case) in
	 * str1 and initial response in str2 (str2.s NULL: none; "=" is given
	 * as the empty string, RFC 4959); COMPRESS mechanism in str1. */
	mox_imap_str str1, str2;
	bool has_initial;

	/* ENABLE capabilities; LIST patterns; STATUS items (upper case);
	 * LIST RETURN STATUS items; CREATE USE attributes; ID key/value
	 * pairs (value s NULL for NIL; nstrs 0 and id_nil for "ID NIL") */
	mox_imap_str *strs;
	size_t nstrs;
	bool id_nil;

	/* SELECT/EXAMINE, RFC 7162 */
	bool condstore;
	bool qresync;
	uint32_t qresync_uidvalidity;
	uint64_t qresync_modseq;
	mox_imap_seqset qresync_seqmatch_seqs, qresync_seqmatch_uids;

	/* LIST */
	unsigned list_opts;
	size_t list_status_first; /* strs[list_status_first..nstrs) are the
				     RETURN (STATUS (...)) items; before it
				     the patterns */
	bool list_extended; /* selection/return options or several patterns */

	/* APPEND */
	mox_imap_append_msg *msgs;
	size_t nmsgs;

	/* SEARCH: program is an AND of the top-level keys */
	mox_imap_skey *search;
	const char *charset; /* NULL if not given */
	bool search_return;  /* RETURN (...) given: ESEARCH (RFC 4731) */
	unsigned search_ret;

	/* FETCH */
	mox_imap_fetch_att *atts;
	size_t natts;
	bool fetch_macro;     /* ALL, FAST or FULL */
	bool has_changedsince; /* CHANGEDSINCE, RFC 7162 */
	uint64_t changedsince;
	bool vanished;

	/* STORE */
	mox_imap_store_mode store_mode;
	bool silent;
	bool has_unchangedsince;
	uint64_t unchangedsince;
	const char **flags;
	size_t nflags;
} mox_imap_cmd;

/* ---- the parser ---- */

typedef enum mox_imap_ev_type {
	/* A complete, valid command in cmd. Validate the state and act. */
	MOX_IMAP_EV_COMMAND = 1,
	/* A synchronizing literal was announced and is within the limits:
	 * write a continuation request ("+ ...\r\n", see
	 * mox_imap_write_continue) and read on. */
	MOX_IMAP_EV_CONTINUE,
	/* A command was refused: write the response in reject (tag, BAD or
	 * NO, code, text; mox_imap_write_reject formats it). When fatal,
	 * the stream cannot go on: write "* BYE" and close. */
	MOX_IMAP_EV_REJECT,
	/* In line mode (mox_imap_parser_expect_line): one line, without the
	 * line ending, in line/line_len. The parser is back in command mode
	 * afterwards. */
	MOX_IMAP_EV_LINE,
	/* With MOX_IMAP_APPEND_STREAM: bytes of an APPEND message literal in
	 * line/line_len, at append_offset of a literal of append_size octets
	 * (offset 0: a new message starts), the append_index-th message of
	 * the command (0-based). The bytes point into the parser's input
	 * buffer: use them before any other call on the parser, feed
	 * included. The command itself follows as MOX_IMAP_EV_COMMAND (or a
	 * refusal: then drop what was written). */
	MOX_IMAP_EV_APPEND_DATA,
} mox_imap_ev_type;

typedef enum mox_imap_status {
	MOX_IMAP_OK = 0,
	MOX_IMAP_NO,
	MOX_IMAP_BAD,
	MOX_IMAP_BYE,
} mox_imap_status;

typedef struct mox_imap_reject {
	const char *tag;  /* "*" when the tag was not readable */
	mox_imap_status status;
	const char *code; /* response code ("TOOBIG", "BADCHARSET") or NULL */
	const char *text;
	bool fatal;
} mox_imap_reject;

typedef struct mox_imap_event {
	mox_imap_ev_type type;
	const mox_imap_cmd *cmd; /* COMMAND */
	mox_imap_reject reject;  /* REJECT */
	const uint8_t *line;     /* LINE */
	size_t line_len;
	uint64_t append_size;   /* APPEND_DATA */
	uint64_t append_offset;
	size_t append_index;
} mox_imap_event;

typedef struct mox_imap_parser mox_imap_parser;

/* Create a parser. opts may be NULL (defaults).
 * Thread-safety: any thread. */
MOX_API mox_err mox_imap_parser_new(mox_imap_parser **p_out,
				    const mox_imap_parser_opts *opts);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_imap_parser_free(mox_imap_parser *p);
/* Replace the flags (after ENABLE UTF8=ACCEPT, say). Takes effect for the
 * next command. Thread-safety: per handle. */
MOX_API void mox_imap_parser_set_flags(mox_imap_parser *p, unsigned flags);

/* Take len bytes from the client; they are copied (the caller may reuse
 * data at once). Call mox_imap_parser_next until MOX_EAGAIN after each
 * feed: input is only consumed there, so buffered input is bounded by what
 * one read gives. Errors: MOX_ENOMEM (nothing taken).
 * Thread-safety: per handle. */
MOX_API mox_err mox_imap_parser_feed(mox_imap_parser *p, const void *data,
				     size_t len);
/* The next event: MOX_OK with *ev_out filled, MOX_EAGAIN when more input
 * is needed, MOX_ENOMEM (call again later: nothing is lost). Everything
 * the event points to is borrowed, valid until the next call of
 * mox_imap_parser_next, _expect_line, _reset or _free.
 * Thread-safety: per handle. */
MOX_API mox_err mox_imap_parser_next(mox_imap_parser *p, mox_imap_event *ev_out);
/* Read the next line raw (an AUTHENTICATE response, RFC 9051 section
 * 6.2.2, or "DONE" ending IDLE, RFC 2177): the next event is
 * MOX_IMAP_EV_LINE (or a fatal REJECT for a line over max_line).
 * Thread-safety: per handle. */
MOX_API void mox_imap_parser_expect_line(mox_imap_parser *p);
/* Bytes fed but not consumed yet. After STARTTLS the server must drop
 * them (RFC 9051 section 6.2.1: no plaintext command injection) with
 * mox_imap_parser_reset. Thread-safety: per handle. */
MOX_API size_t mox_imap_parser_pending(const mox_imap_parser *p);
/* Drop all input and state (not the flags). Thread-safety: per handle. */
MOX_API void mox_imap_parser_reset(mox_imap_parser *p);

/* Describe a command as a canonical, human-readable one-line form for logs
 * and tests ("A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM)]<0.10>)").
 * Literals are written as quoted strings with their length when printable,
 * else as {n}. Thread-safety: per out. */
MOX_API mox_err mox_imap_cmd_format(const mox_imap_cmd *cmd, mox_buf *out);

/* ---- modified UTF-7, RFC 3501 section 5.1.3 ---- */

/* Decode a modified UTF-7 mailbox name to UTF-8, appended to out.
 * MOX_ESYNTAX for invalid encodings (non-ASCII bytes, unterminated or
 * non-canonical base64 such as "&AGE-" for "a", bad padding bits, unpaired
 * surrogates, "&" not written as "&-"). Thread-safety: per out. */
MOX_API mox_err mox_imap_utf7_decode(const char *s, size_t len, mox_buf *out);
/* Encode UTF-8 to modified UTF-7. MOX_ESYNTAX for invalid UTF-8.
 * Thread-safety: per out. */
MOX_API mox_err mox_imap_utf7_encode(const char *s, size_t len, mox_buf *out);

/* ---- the response writer ---- */

enum {
	/* The client enabled UTF8=ACCEPT (RFC 6855, or IMAP4rev2): UTF-8 may
	 * go in quoted strings. */
	MOX_IMAP_W_UTF8 = 1u << 0,
};

/* Append s as an astring: an atom when it is one (and not "NIL"), else a
 * quoted string, else a literal ("{n}\r\n" and the bytes) for CR, LF,
 * NUL, long strings or (without MOX_IMAP_W_UTF8) non-ASCII.
 * Thread-safety: per out. */
MOX_API mox_err mox_imap_write_astring(mox_buf *out, const char *s, size_t len,
				       unsigned wflags);
/* As astring but never an atom (RFC 9051 "string"). */
MOX_API mox_err mox_imap_write_string(mox_buf *out, const char *s, size_t len,
				      unsigned wflags);
/* s NULL: "NIL"; else a string. */
MOX_API mox_err mox_imap_write_nstring(mox_buf *out, const char *s, size_t len,
				       unsigned wflags);
/* A mailbox name from UTF-8: modified UTF-7 unless MOX_IMAP_W_UTF8, then
 * as astring. MOX_ESYNTAX for invalid UTF-8. Thread-safety: per out. */
MOX_API mox_err mox_imap_write_mailbox(mox_buf *out, const char *name,
				       unsigned wflags);
/* "tag OK [code] text\r\n" (tag NULL: "*"; status BYE is untagged).
 * code and text are written as given (text must not hold CR or LF: they
 * are replaced by spaces). Thread-safety: per out. */
MOX_API mox_err mox_imap_write_status(mox_buf *out, const char *tag,
				      mox_imap_status status, const char *code,
				      const char *text);
/* The response for a MOX_IMAP_EV_REJECT event (and "* BYE" after a fatal
 * one). Thread-safety: per out. */
MOX_API mox_err mox_imap_write_reject(mox_buf *out, const mox_imap_reject *r);
/* "+ text\r\n". Thread-safety: per out. */
MOX_API mox_err mox_imap_write_continue(mox_buf *out, const char *text);
/* An IMAP date-time, "\"dd-Mon-yyyy hh:mm:ss +zzzz\"" (quotes included).
 * Thread-safety: per out. */
MOX_API mox_err mox_imap_write_datetime(mox_buf *out, time_t t, int tz_offset);

/* Source of literal data: copy up to len bytes at offset (from the start of
 * the literal) to dst and return how many (> 0), or a negative mox_err
 * (MOX_EIO). Called only for offsets below the announced size. */
typedef long (*mox_imap_read_fn)(void *arg, uint64_t offset, uint8_t *dst,
				 size_t len);

/* An output queue: bytes written by the server (mox_imap_out_buf gives a
 * buffer to append to) and literals whose data is read through a
 * callback when the bytes are pulled, in order. The queue holds the
 * announcement "{n}\r\n" but never the literal bytes beyond one chunk. */
typedef struct mox_imap_out mox_imap_out;

/* Thread-safety: any thread. */
MOX_API mox_err mox_imap_out_new(mox_imap_out **out_out,
				 const mox_allocator *alloc);
/* NULL is a no-op. Thread-safety: per handle. */
MOX_API void mox_imap_out_free(mox_imap_out *o);
/* The buffer to append response bytes to (with the mox_imap_write_*
 * functions); its bytes go out after everything queued before. Borrowed.
 * Thread-safety: per handle. */
MOX_API mox_buf *mox_imap_out_buf(mox_imap_out *o);
/* Queue a literal of size bytes: "{size}\r\n" (or "~{size}\r\n" with
 * binary, RFC 3516) now, then the bytes from read(arg, ...) as pulled.
 * Thread-safety: per handle. */
MOX_API mox_err mox_imap_out_literal(mox_imap_out *o, uint64_t size, bool binary,
				     mox_imap_read_fn read, void *arg);
/* Copy up to cap bytes of output to dst; *n_out gets the count (0 when
 * nothing is queued). Errors from a read callback are returned (the queue
 * is then unusable: close the connection; a short literal would corrupt
 * the stream). Thread-safety: per handle. */
MOX_API mox_err mox_imap_out_pull(mox_imap_out *o, uint8_t *dst, size_t cap,
				  size_t *n_out);
/* Bytes queued, counting literals not yet read. Thread-safety: per handle. */
MOX_API uint64_t mox_imap_out_pending(const mox_imap_out *o);

/* ---- BODY, BODYSTRUCTURE, ENVELOPE, RFC 9051 section 7.5.2 ---- */

enum {
	/* Extension data: BODYSTRUCTURE rather than BODY. */
	MOX_IMAP_BS_EXTENDED = 1u << 0,
	/* The client enabled UTF8=ACCEPT: UTF-8 in quoted strings; without
	 * it, non-ASCII text goes as literals and non-ASCII display names in
	 * addresses are RFC 2047 encoded. */
	MOX_IMAP_BS_UTF8 = 1u << 1,
};

/* Append the BODY (or, with MOX_IMAP_BS_EXTENDED, BODYSTRUCTURE) value of
 * part, which is usually msg->root, a parenthesized list. A multipart
 * without parts gets one empty text/plain part (the grammar requires one).
 * Thread-safety: per out. */
MOX_API mox_err mox_imap_bodystructure(const mox_msg_part *part, unsigned flags,
				       mox_buf *out);
/* Append the ENVELOPE of the message whose header is header (the root
 * part's, or a nested message's). header NULL gives all NIL. Addresses:
 * (name adl mailbox host); groups as (NIL NIL "group" NIL) ... (NIL NIL
 * NIL NIL). Sender and Reply-To default to From (RFC 9051 section
 * 7.5.2). Thread-safety: per out. */
MOX_API mox_err mox_imap_envelope(const mox_msg_header *header, unsigned flags,
				  mox_buf *out);

/* An ENVELOPE from values prepared earlier (a mail store's cached part
 * tree), so that FETCH ENVELOPE need not read the message: header values
 * unfolded, NULL or "" when absent; addresses as libmoxmessage's address
 * list parser gives them (name decoded, group set on each member of a
 * group, local NULL for an empty group's marker). All borrowed. */
typedef struct mox_imap_env_address {
	const char *name;
	const char *local;
	const char *domain;
	const char *group;
} mox_imap_env_address;

typedef struct mox_imap_env_addresses {
	size_t n;
	const mox_imap_env_address *a;
} mox_imap_env_addresses;

typedef struct mox_imap_env mox_imap_env;
struct mox_imap_env {
	const char *date;
	const char *subject;
	mox_imap_env_addresses from, sender, reply_to, to, cc, bcc;
	const char *in_reply_to;
	const char *message_id;
};

/* A MIME part prepared earlier (a mail store's cached part tree), for
 * BODY and BODYSTRUCTURE without reading the message. Header values
 * unfolded, NULL or "" when absent; type, subtype and parameter names in
 * lower case. A message/rfc822 or message/global part has one child, the
 * nested message, whose envelope is set (as is the root's). All
 * borrowed. */
typedef struct mox_imap_param {
	const char *name;
	const char *value;
} mox_imap_param;

typedef struct mox_imap_part mox_imap_part;
struct mox_imap_part {
	const char *type;    /* NULL: text */
	const char *subtype; /* NULL: plain */
	const mox_imap_param *params;
	size_t nparams;
	const char *encoding; /* Content-Transfer-Encoding value, or NULL */
	const char *disposition;
	const mox_imap_param *disposition_params;
	size_t ndisposition_params;
	const char *content_id, *content_description, *content_md5, *content_language,
	    *content_location;
	uint64_t size;  /* body octets */
	uint64_t lines; /* body lines */
	const struct mox_imap_env *envelope;
	const mox_imap_part *children;
	size_t nchildren;
};

/* Append the BODY (or, with MOX_IMAP_BS_EXTENDED, BODYSTRUCTURE) of part,
 * byte for byte what mox_imap_bodystructure gives for the parsed part it
 * was made from. Thread-safety: per out. */
MOX_API mox_err mox_imap_bodystructure_part(const mox_imap_part *part, unsigned flags,
					    mox_buf *out);

/* Append the ENVELOPE of env, byte for byte what mox_imap_envelope gives
 * for the header env was made from (Sender and Reply-To default to From).
 * Thread-safety: per out. */
MOX_API mox_err mox_imap_envelope_env(const mox_imap_env *env, unsigned flags,
				      mox_buf *out);

/* ---- BODY[section] data, RFC 9051 section 6.4.5 ---- */

/* The bytes of a section: segments, each either a range of the message
 * (gen NULL: bytes [offset, offset+len) of the message) or generated
 * bytes (gen, len), in order; size is the sum. Partial already applied. */
typedef struct mox_imap_seg {
	const uint8_t *gen;
	uint64_t offset;
	uint64_t len;
} mox_imap_seg;

typedef struct mox_imap_section_data {
	size_t n;
	mox_imap_seg seg[3];
	uint64_t size;
	uint64_t origin; /* for the response "<origin>" of a partial fetch */
	uint8_t *genbuf; /* owned generated bytes; free with
			    mox_imap_section_data_free */
	const mox_allocator *alloc;
} mox_imap_section_data;

/* Compute the bytes of section (with partial from att when att->partial)
 * for the message msg. MOX_ENOTFOUND: no such part (the server answers
 * NIL); MOX_EINVAL: HEADER/TEXT on a part that is not a message, or MIME
 * without a part number. Thread-safety: any thread. */
MOX_API mox_err mox_imap_section_resolve(const mox_msg *msg,
					 const mox_imap_fetch_att *att,
					 mox_imap_section_data *data_out);
/* Copy len bytes at offset of the section's bytes into dst, reading message
 * bytes from msg_data. For callers with the message in memory.
 * Thread-safety: any thread. */
MOX_API void mox_imap_section_copy(const mox_imap_section_data *d,
				   const uint8_t *msg_data, uint64_t offset,
				   uint8_t *dst, size_t len);
/* Release the generated bytes. Thread-safety: per data. */
MOX_API void mox_imap_section_data_free(mox_imap_section_data *d);
/* Append the fetch item name as it goes in the response, "BODY[1.MIME]<0>"
 * or "BINARY[2]" (peek and the partial count removed, RFC 9051 section
 * 7.5.2). Thread-safety: per out. */
MOX_API mox_err mox_imap_fetch_att_name(const mox_imap_fetch_att *att,
					mox_buf *out);

/* ---- search evaluation ---- */

/* The data of one message, for mox_imap_search_match. Each callback may be
 * NULL when no key needs it; a key that needs a missing callback does not
 * match. */
typedef struct mox_imap_search_msg {
	uint32_t seq;     /* sequence number */
	uint32_t uid;
	uint32_t max_seq; /* for '*' */
	uint32_t max_uid;
	uint64_t size;
	time_t internal_date; /* with internal_tz: the server's zone offset */
	int internal_tz;      /* minutes east of UTC for "on date" */
	uint64_t modseq;
	time_t now;           /* for OLDER, YOUNGER */
	bool recent;
	/* Has the flag (system flag in canonical case, or keyword). */
	bool (*has_flag)(void *arg, const char *flag);
	/* The header of the message; for FROM, TO, CC, BCC, SUBJECT,
	 * HEADER, SENTBEFORE/ON/SINCE. */
	const mox_msg_header *header;
	/* Whether the text (UTF-8, to compare case-insensitively) occurs in
	 * the decoded body (body_only) or in header and body (TEXT). */
	bool (*text_contains)(void *arg, const char *text, size_t len,
			      bool body_only);
	void *arg;
	/* In the saved search result: what "$" matches (RFC 5182). */
	bool saved;
} mox_imap_search_msg;

/* Whether text (UTF-8) occurs in hay, case-insensitively, as SEARCH
 * compares strings (RFC 9051 section 6.4.4 leaves the comparator to the
 * server): ASCII case folding when text is ASCII, else Unicode full case
 * folding with NFC of both (libunistring; its temporaries use malloc).
 * hay that is not valid UTF-8 is compared as bytes. Thread-safety: any
 * thread. */
MOX_API bool mox_imap_text_contains(const uint8_t *hay, size_t hl, const char *text,
				    size_t tl);

/* Whether the message matches key (usually cmd->search). Substring
 * matches on headers are case-insensitive over the decoded (RFC 2047)
 * value (RFC 9051 section 6.4.4). Thread-safety: any thread. */
MOX_API bool mox_imap_search_match(const mox_imap_skey *key,
				   const mox_imap_search_msg *m);

#ifdef __cplusplus
}
#endif
#endif
