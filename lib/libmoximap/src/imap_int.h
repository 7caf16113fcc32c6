/* Internal declarations shared by the libmoximap sources. */
#ifndef MOX_IMAP_INT_H
#define MOX_IMAP_INT_H

#include <mox/imap.h>

#include <stdarg.h>

/* An arena for one command's parsed values: blocks freed together when
 * the next event is requested. */
typedef struct mox__imap_block mox__imap_block;
struct mox__imap_block {
	mox__imap_block *next;
	size_t used, cap;
	/* data follows, aligned for any type */
	max_align_t data[];
};

typedef struct mox__imap_arena {
	mox__imap_block *head;
	const mox_allocator *alloc;
} mox__imap_arena;

void *mox__imap_arena_alloc(mox__imap_arena *a, size_t size);
void mox__imap_arena_reset(mox__imap_arena *a);

/* The lexer over one complete command's bytes (line ending removed). */
typedef struct mox__imap_lx {
	const uint8_t *b;
	size_t len, pos;
	mox__imap_arena *arena;
	const mox_imap_limits *limits;
	unsigned flags;
	size_t depth, nargs;
	bool oom;
	mox_imap_status status; /* BAD, or NO for some refusals */
	const char *code;
	char err[200];
	bool failed;
} mox__imap_lx;

/* All return false on failure with lx->err set (or lx->oom). */
bool mox__imap_fail(mox__imap_lx *lx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void *mox__imap_alloc(mox__imap_lx *lx, size_t size);
void *mox__imap_grow(mox__imap_lx *lx, void *arr, size_t *cap, size_t n,
		     size_t elem);
bool mox__imap_count(mox__imap_lx *lx);
bool mox__imap_at_end(const mox__imap_lx *lx);
bool mox__imap_peek(const mox__imap_lx *lx, char c);
bool mox__imap_eat(mox__imap_lx *lx, char c);
bool mox__imap_expect(mox__imap_lx *lx, char c, const char *what);
bool mox__imap_sp(mox__imap_lx *lx);
bool mox__imap_end(mox__imap_lx *lx);
/* Case-insensitive keyword followed by a non-atom character. */
bool mox__imap_keyword(mox__imap_lx *lx, const char *kw);
bool mox__imap_atom(mox__imap_lx *lx, mox_imap_str *out);
bool mox__imap_astring(mox__imap_lx *lx, mox_imap_str *out);
bool mox__imap_string(mox__imap_lx *lx, mox_imap_str *out);
bool mox__imap_nstring(mox__imap_lx *lx, mox_imap_str *out);
bool mox__imap_literal(mox__imap_lx *lx, mox_imap_str *out, bool *binary);
bool mox__imap_number(mox__imap_lx *lx, uint32_t *out, bool nz);
bool mox__imap_number64(mox__imap_lx *lx, uint64_t *out, bool nz);
bool mox__imap_seqset(mox__imap_lx *lx, mox_imap_seqset *out, bool allow_saved);
bool mox__imap_mailbox(mox__imap_lx *lx, const char **out);
bool mox__imap_list_mailbox(mox__imap_lx *lx, const char **out);
bool mox__imap_flag(mox__imap_lx *lx, const char **out, bool allow_recent);
bool mox__imap_flag_list(mox__imap_lx *lx, const char ***out, size_t *n);
bool mox__imap_date(mox__imap_lx *lx, mox_imap_date *out);
bool mox__imap_datetime(mox__imap_lx *lx, mox_imap_datetime *out);
bool mox__imap_open(mox__imap_lx *lx);
void mox__imap_close(mox__imap_lx *lx);
char *mox__imap_strdup(mox__imap_lx *lx, const char *s, size_t len);
char *mox__imap_upper(mox__imap_lx *lx, const mox_imap_str *s);
bool mox__imap_is_atom_char(uint8_t c);
bool mox__imap_is_astring_char(uint8_t c);
bool mox__imap_valid_utf8(const uint8_t *s, size_t len);
bool mox__imap_eq_nocase(const char *a, size_t alen, const char *b);

/* Commands, one parser per file (cmd_*.c). At entry the name and the
 * space after it (if arguments follow) are consumed. */
bool mox__imap_cmd_search(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_fetch(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_store(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_append(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_list(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_select(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_status_atts(mox__imap_lx *lx, mox_imap_cmd *cmd);
bool mox__imap_cmd_parse(mox__imap_lx *lx, mox_imap_cmd *cmd);

/* Search key parsing, used by SEARCH. */
bool mox__imap_search_keys(mox__imap_lx *lx, mox_imap_skey *and);

/* Formatting helpers (format.c). */
mox_err mox__imap_format_seqset(const mox_imap_seqset *set, mox_buf *out);
mox_err mox__imap_format_skey(const mox_imap_skey *k, mox_buf *out);
mox_err mox__imap_format_str(const mox_imap_str *s, mox_buf *out);

#endif
