/* config_int.h -- shared between config*.c: the schema tables and the
 * generic decoder/describer driven by them. Not installed, server-only. */
#ifndef MOX_SERVER_CONFIG_INT_H
#define MOX_SERVER_CONFIG_INT_H

#include "config.h"
#include "sconf.h"

#include <stddef.h>
#include <sys/types.h>

typedef enum cfg_kind {
	CFG_STRING,
	CFG_BOOL,
	CFG_INT,
	CFG_FLOAT,
	CFG_DURATION, /* Go time.Duration text ("72h", "15s"), int64 ns */
	CFG_STRUCT,   /* nested struct stored inline */
	CFG_PTR,      /* nested struct stored by pointer, NULL when absent */
	CFG_LIST,     /* MOX_CFG_LIST of elem (a scalar kind or CFG_STRUCT) */
	CFG_MAP,      /* MOX_CFG_LIST of sub structs, keyed by their key_off */
} cfg_kind;

enum {
	CFG_OPTIONAL = 1 << 0,
};

typedef struct cfg_struct cfg_struct;

typedef struct cfg_field {
	const char *name;
	cfg_kind kind;
	unsigned flags;
	size_t off;
	cfg_kind elem;         /* CFG_LIST: element kind */
	const cfg_struct *sub; /* CFG_STRUCT/CFG_PTR/CFG_MAP, CFG_LIST of structs */
	const char *def;       /* default for absent or zero values, NULL: none */
	const char *doc;
} cfg_field;

struct cfg_struct {
	const char *name;
	size_t size;
	ssize_t key_off;    /* char * map key, -1 when not a map element */
	size_t node_off;    /* const mox_sconf_node * */
	ssize_t scalar_off; /* >= 0: a map of scalars, the value lives here */
	cfg_kind scalar_kind;
	const cfg_field *fields;
	size_t nfields;
};

extern const cfg_struct mox__cfg_static_schema;
extern const cfg_struct mox__cfg_dynamic_schema;

/* Collected problems. */
typedef struct cfg_ctx {
	mox_config_errors *errs;
	const char *file;
	bool nomem;
} cfg_ctx;

void mox__cfg_problem(cfg_ctx *ctx, size_t line, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decode the children of node into base (a struct of type sd): unknown
 * keys, wrong types and missing required fields are reported; defaults
 * are filled in. Never stops early. */
void mox__cfg_decode(cfg_ctx *ctx, const cfg_struct *sd, void *base,
                     const mox_sconf_node *node);
/* Free everything decode allocated inside base (not base itself). */
void mox__cfg_free(const cfg_struct *sd, void *base);
/* Annotated example of sd at depth 0. */
mox_err mox__cfg_describe(const cfg_struct *sd, mox_buf *out);
/* Go duration syntax. */
mox_err mox__cfg_parse_duration(const char *s, int64_t *ns_out);

/* Line of field name under node, or node's own line, or 1. */
size_t mox__cfg_line(const mox_sconf_node *node, const char *name);
/* Line of item idx of the list field name under node (else as above). */
size_t mox__cfg_item_line(const mox_sconf_node *node, const char *name, size_t idx);

#endif
