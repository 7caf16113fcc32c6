/* sconf.h -- mox's configuration file format ("sconf"), as a tree that
 * keeps every byte of the file so it can be written back unchanged.
 *
 * The format (github.com/mjl-/sconf, used by mox.conf and domains.conf):
 * - One item per line. Nesting is by indentation with tabs; leading groups
 *   of four spaces count as one tab each, as sconf does.
 * - "Key: value" sets a field or map entry; "Key:" with nothing after it
 *   starts a nested struct, map or list on the following, deeper lines (or
 *   is an empty string). Exactly one space follows the colon; the value
 *   runs to the end of the line, unquoted, and may be empty.
 * - "- value" or "-" is a list item; "-" alone starts a nested struct or
 *   list below it (or is an empty string).
 * - A line whose first non-blank character is '#' is a comment; empty
 *   lines are ignored. A line cannot hold both a value and a comment.
 * Which of these a value is (string, number, struct, ...) is decided by
 * the schema that reads the tree (config_schema.c), not here: this layer
 * checks only the shape (indentation, colons, dashes, duplicate keys).
 *
 * Round trip: every node remembers its own line and the comment and blank
 * lines above it, byte for byte; mox_sconf_write() of an unchanged tree
 * gives the input back exactly. Changed or added nodes are written in the
 * canonical form ("<tabs>Key: value\n"); removing a node removes its
 * comment lines too.
 *
 * Server-internal (not a library). Thread-safety: per document.
 */
#ifndef MOX_SERVER_SCONF_H
#define MOX_SERVER_SCONF_H

#include <mox/core.h>

#include <stdbool.h>
#include <stddef.h>

/* Limits, so hostile input is bounded: the size of a file and the nesting
 * depth (mox's own files nest 7 deep). */
#define MOX_SCONF_FILE_MAX (16u * 1024 * 1024)
#define MOX_SCONF_DEPTH_MAX 32

typedef enum mox_sconf_kind {
	MOX_SCONF_ROOT = 0, /* the document itself, no line */
	MOX_SCONF_KEY,      /* "Key: value" or "Key:" */
	MOX_SCONF_ITEM,     /* "- value" or "-" */
} mox_sconf_kind;

typedef struct mox_sconf_node mox_sconf_node;
struct mox_sconf_node {
	mox_sconf_kind kind;
	char *key;      /* MOX_SCONF_KEY: the text before the colon; else NULL */
	char *value;    /* text after ": " or "- ", "" if none; never NULL */
	size_t line;    /* 1-based line number; 0 for nodes added in memory */
	unsigned depth; /* indentation in tabs; root is -1 conceptually, 0 here
	                   for top-level keys */
	mox_sconf_node *parent, *first, *last, *prev, *next;
	/* Round trip: the comment/blank lines above this node and the node's
	 * own line (with its newline, if any). raw is NULL once the node is
	 * changed, and the line is then written in canonical form. */
	char *pre;
	size_t prelen;
	char *raw;
	size_t rawlen;
};

typedef struct mox_sconf_doc {
	mox_sconf_node root;
	char *trailer; /* comment/blank lines after the last node */
	size_t trailerlen;
	char *path; /* for messages; may be NULL */
} mox_sconf_doc;

/* A parse error: "path:line: message". */
typedef struct mox_sconf_error {
	size_t line;
	char msg[256];
} mox_sconf_error;

/* Parse text (len bytes) into a tree. path is only used in messages and kept
 * in the document. On a syntax error returns MOX_ESYNTAX with *err set (the
 * parse stops at the first error: later lines cannot be interpreted when the
 * indentation is off), MOX_ELIMIT for too big or too deep input, MOX_ENOMEM.
 * \param[out] doc_out the tree, free with mox_sconf_free; NULL on error.
 * Thread-safety: any thread. */
mox_err mox_sconf_parse(const char *text, size_t len, const char *path,
                        mox_sconf_doc **doc_out, mox_sconf_error *err);
/* Read and parse a file. I/O errors give MOX_EIO with err->line 0. */
mox_err mox_sconf_parse_file(const char *path, mox_sconf_doc **doc_out,
                             mox_sconf_error *err);
/* NULL is a no-op. */
void mox_sconf_free(mox_sconf_doc *doc);

/* Append the document's text to out. */
mox_err mox_sconf_write(const mox_sconf_doc *doc, mox_buf *out);

/* Find the child of parent with the given key (KEY nodes only); NULL if none. */
mox_sconf_node *mox_sconf_child(const mox_sconf_node *parent, const char *key);
/* Number of children. */
size_t mox_sconf_count(const mox_sconf_node *parent);

/* Change a node's value; its line is then written in canonical form. The
 * value must not contain a newline (MOX_EINVAL). */
mox_err mox_sconf_set_value(mox_sconf_node *node, const char *value);
/* Add a node at the end of parent's children (after "after" if not NULL).
 * key is required for MOX_SCONF_KEY, ignored for MOX_SCONF_ITEM. comment,
 * if not NULL, is written above the new node as "# comment" lines.
 * \param[out] node_out the new node (borrowed from the tree), may be NULL. */
mox_err mox_sconf_add(mox_sconf_node *parent, mox_sconf_node *after,
                      mox_sconf_kind kind, const char *key, const char *value,
                      const char *comment, mox_sconf_node **node_out);
/* Remove a node, its children and the comment lines above it. */
void mox_sconf_remove(mox_sconf_node *node);
/* Deep copy of a node into parent (as last child), re-indented: used to
 * copy a subtree from one document into another. */
mox_err mox_sconf_copy(mox_sconf_node *parent, const mox_sconf_node *src,
                       mox_sconf_node **node_out);

#endif
