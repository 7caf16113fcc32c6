/* sconf.c -- the sconf tree: parser and writer (see sconf.h for the format).
 *
 * How this works: the input is read line by line. Comment lines ('#' as
 * first non-blank character) and empty lines are collected in "pending"
 * and become the pre text of the next node (or the document's trailer).
 * Every other line is a node whose depth is its number of leading tabs
 * (after leading four-space groups are turned into tabs, as sconf does);
 * its parent is the last node one level up, kept on a stack indexed by
 * depth. A line may be at most one level deeper than the line before it,
 * and only under a node without a value. After the tree is built, keys are
 * checked for duplicates among siblings (sorted, so large maps stay cheap).
 * The writer emits pre + raw line per node in document order, or the
 * canonical line for nodes changed in memory.
 */
#include "sconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mox_err seterr(mox_sconf_error *err, size_t line, mox_err code, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static mox_err
seterr(mox_sconf_error *err, size_t line, mox_err code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static void
node_free_children(mox_sconf_node *n)
{
	mox_sconf_node *c = n->first;
	while (c != NULL) {
		mox_sconf_node *next = c->next;
		node_free_children(c);
		free(c->key);
		free(c->value);
		free(c->pre);
		free(c->raw);
		free(c);
		c = next;
	}
	n->first = n->last = NULL;
}

void
mox_sconf_free(mox_sconf_doc *doc)
{
	if (doc == NULL)
		return;
	node_free_children(&doc->root);
	free(doc->root.value);
	free(doc->trailer);
	free(doc->path);
	free(doc);
}

static void
link_child(mox_sconf_node *parent, mox_sconf_node *after, mox_sconf_node *n)
{
	n->parent = parent;
	if (after == NULL)
		after = parent->last;
	n->prev = after;
	n->next = after != NULL ? after->next : parent->first;
	if (n->prev != NULL)
		n->prev->next = n;
	else
		parent->first = n;
	if (n->next != NULL)
		n->next->prev = n;
	else
		parent->last = n;
}

static char *
dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Go's strings.TrimSpace set for ASCII; enough to recognise comments. */
static bool
isspace_c(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int
cmp_keyptr(const void *a, const void *b)
{
	const mox_sconf_node *x = *(const mox_sconf_node *const *)a;
	const mox_sconf_node *y = *(const mox_sconf_node *const *)b;
	int c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Duplicate keys among the children of n (recursively). Reports the
 * duplicate with the lowest line number over the whole tree through
 * *dupline, so the error does not depend on traversal order. */
static mox_err
check_dups(const mox_sconf_node *n, size_t *dupline, const char **dupkey)
{
	size_t count = 0;
	for (const mox_sconf_node *c = n->first; c != NULL; c = c->next) {
		if (c->kind == MOX_SCONF_KEY)
			count++;
		if (c->first != NULL) {
			mox_err e = check_dups(c, dupline, dupkey);
			if (e != MOX_OK)
				return e;
		}
	}
	if (count < 2)
		return MOX_OK;
	const mox_sconf_node **v = malloc(count * sizeof(*v));
	if (v == NULL)
		return MOX_ENOMEM;
	size_t i = 0;
	for (const mox_sconf_node *c = n->first; c != NULL; c = c->next)
		if (c->kind == MOX_SCONF_KEY)
			v[i++] = c;
	qsort(v, count, sizeof(*v), cmp_keyptr);
	for (i = 1; i < count; i++) {
		if (strcmp(v[i - 1]->key, v[i]->key) == 0 &&
		    (*dupline == 0 || v[i]->line < *dupline)) {
			*dupline = v[i]->line;
			*dupkey = v[i]->key;
		}
	}
	free(v);
	return MOX_OK;
}

mox_err
mox_sconf_parse(const char *text, size_t len, const char *path, mox_sconf_doc **doc_out,
                mox_sconf_error *err)
{
	mox_err rc = MOX_OK;
	mox_sconf_doc *doc = NULL;
	mox_sconf_node *stack[MOX_SCONF_DEPTH_MAX + 1];
	size_t pend_start = 0; /* offset of pending comment/blank lines */
	bool pending = false;
	size_t lineno = 0;
	int prevdepth = -1;

	*doc_out = NULL;
	if (err != NULL) {
		err->line = 0;
		err->msg[0] = '\0';
	}
	if (len > MOX_SCONF_FILE_MAX)
		return seterr(err, 0, MOX_ELIMIT, "file larger than %u bytes",
		              MOX_SCONF_FILE_MAX);
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL)
		return MOX_ENOMEM;
	doc->root.kind = MOX_SCONF_ROOT;
	doc->root.value = dupn("", 0);
	if (doc->root.value == NULL ||
	    (path != NULL && (doc->path = dupn(path, strlen(path))) == NULL)) {
		rc = MOX_ENOMEM;
		goto out;
	}

	size_t off = 0;
	while (off < len) {
		size_t start = off;
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl != NULL ? (size_t)(nl - text) : len; /* excl. \n */
		off = nl != NULL ? end + 1 : len;
		lineno++;
		const char *l = text + start;
		size_t ll = end - start;
		if (memchr(l, '\0', ll) != NULL) {
			rc = seterr(err, lineno, MOX_ESYNTAX, "NUL byte in line");
			goto out;
		}
		/* Comment or empty line. */
		size_t i = 0;
		while (i < ll && isspace_c(l[i]))
			i++;
		if (ll == 0 || (i < ll && l[i] == '#')) {
			if (!pending) {
				pending = true;
				pend_start = start;
			}
			continue;
		}
		/* Indentation: leading groups of 4 spaces are tabs, then tabs. */
		size_t p = 0;
		unsigned depth = 0;
		while (p + 4 <= ll && memcmp(l + p, "    ", 4) == 0) {
			p += 4;
			depth++;
		}
		while (p < ll && l[p] == '\t') {
			p++;
			depth++;
		}
		const char *s = l + p;
		size_t sl = ll - p;
		if (depth > MOX_SCONF_DEPTH_MAX) {
			rc = seterr(err, lineno, MOX_ELIMIT,
			            "nested more than %d levels", MOX_SCONF_DEPTH_MAX);
			goto out;
		}
		if ((int)depth > prevdepth + 1) {
			rc = seterr(err, lineno, MOX_ESYNTAX,
			            "unexpected indent: more than one level deeper "
			            "than the line above");
			goto out;
		}
		mox_sconf_node *parent = depth == 0 ? &doc->root : stack[depth - 1];
		if (parent->kind != MOX_SCONF_ROOT && parent->value[0] != '\0') {
			rc = seterr(
			    err, lineno, MOX_ESYNTAX,
			    "indented line under line %zu that already has a value",
			    parent->line);
			goto out;
		}
		if (sl == 0) {
			rc = seterr(
			    err, lineno, MOX_ESYNTAX,
			    "line with only white space (perhaps stray whitespace)");
			goto out;
		}
		mox_sconf_node *n = calloc(1, sizeof(*n));
		if (n == NULL) {
			rc = MOX_ENOMEM;
			goto out;
		}
		n->line = lineno;
		n->depth = depth;
		link_child(parent, NULL, n);
		const char *val;
		size_t vl;
		if (s[0] == '-' && (sl == 1 || s[1] == ' ')) {
			/* List item: "-" or "- value". */
			n->kind = MOX_SCONF_ITEM;
			val = sl > 1 ? s + 2 : s + 1;
			vl = sl > 1 ? sl - 2 : 0;
		} else {
			n->kind = MOX_SCONF_KEY;
			const char *colon = memchr(s, ':', sl);
			if (colon == NULL) {
				const char *more = "";
				if (s[0] == ' ')
					more = " (perhaps mixed tab/space indenting)";
				else if (s[0] == '-')
					more = " (a list item needs a space after -)";
				rc = seterr(err, lineno, MOX_ESYNTAX,
				            "missing colon for key/value on non-empty "
				            "line \"%.*s\"%s",
				            (int)(sl > 80 ? 80 : sl), s, more);
				goto out;
			}
			size_t kl = (size_t)(colon - s);
			if (kl == 0) {
				rc = seterr(err, lineno, MOX_ESYNTAX, "empty key");
				goto out;
			}
			if (s[0] == ' ') {
				rc = seterr(err, lineno, MOX_ESYNTAX,
				            "key starting with space (perhaps mixed "
				            "tab/space indenting)");
				goto out;
			}
			if (kl + 1 < sl && colon[1] != ' ') {
				rc = seterr(err, lineno, MOX_ESYNTAX,
				            "missing space after colon");
				goto out;
			}
			if ((n->key = dupn(s, kl)) == NULL) {
				rc = MOX_ENOMEM;
				goto out;
			}
			val = kl + 1 < sl ? colon + 2 : colon + 1;
			vl = kl + 1 < sl ? sl - kl - 2 : 0;
		}
		if ((n->value = dupn(val, vl)) == NULL ||
		    (n->raw = dupn(l, off - start)) == NULL) {
			rc = MOX_ENOMEM;
			goto out;
		}
		n->rawlen = off - start;
		if (pending) {
			n->prelen = start - pend_start;
			if ((n->pre = dupn(text + pend_start, n->prelen)) == NULL) {
				rc = MOX_ENOMEM;
				goto out;
			}
			pending = false;
		}
		stack[depth] = n;
		prevdepth = (int)depth;
	}
	if (pending) {
		doc->trailerlen = len - pend_start;
		if ((doc->trailer = dupn(text + pend_start, doc->trailerlen)) == NULL) {
			rc = MOX_ENOMEM;
			goto out;
		}
	}
	size_t dupline = 0;
	const char *dupkey = NULL;
	rc = check_dups(&doc->root, &dupline, &dupkey);
	if (rc == MOX_OK && dupline != 0)
		rc = seterr(err, dupline, MOX_ESYNTAX, "duplicate key \"%s\"", dupkey);
out:
	if (rc != MOX_OK) {
		if (rc == MOX_ENOMEM)
			seterr(err, lineno, rc, "out of memory");
		mox_sconf_free(doc);
		return rc;
	}
	*doc_out = doc;
	return MOX_OK;
}

mox_err
mox_sconf_parse_file(const char *path, mox_sconf_doc **doc_out, mox_sconf_error *err)
{
	*doc_out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return seterr(err, 0, MOX_EIO, "open: %s", strerror(errno));
	mox_buf b = MOX_BUF_INIT;
	mox_err rc = MOX_OK;
	for (;;) {
		if ((rc = mox_buf_reserve(&b, 65536)) != MOX_OK)
			goto out;
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = seterr(err, 0, MOX_EIO, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > MOX_SCONF_FILE_MAX) {
			rc = seterr(err, 0, MOX_ELIMIT, "file larger than %u bytes",
			            MOX_SCONF_FILE_MAX);
			goto out;
		}
	}
	rc = mox_sconf_parse(b.data != NULL ? (const char *)b.data : "", b.len, path,
	                     doc_out, err);
out:
	close(fd);
	mox_buf_free(&b);
	return rc;
}

static unsigned
node_depth(const mox_sconf_node *n)
{
	unsigned d = 0;
	for (const mox_sconf_node *p = n->parent;
	     p != NULL && p->kind != MOX_SCONF_ROOT; p = p->parent)
		d++;
	return d;
}

static mox_err
ensure_nl(mox_buf *out)
{
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		return mox_buf_append_byte(out, '\n');
	return MOX_OK;
}

static mox_err
write_node(const mox_sconf_node *n, mox_buf *out)
{
	mox_err rc = MOX_OK;
	if (n->prelen > 0) {
		if ((rc = ensure_nl(out)) != MOX_OK ||
		    (rc = mox_buf_append(out, n->pre, n->prelen)) != MOX_OK)
			return rc;
	}
	if (n->raw != NULL) {
		if ((rc = ensure_nl(out)) != MOX_OK ||
		    (rc = mox_buf_append(out, n->raw, n->rawlen)) != MOX_OK)
			return rc;
	} else {
		if ((rc = ensure_nl(out)) != MOX_OK)
			return rc;
		unsigned d = node_depth(n);
		for (unsigned i = 0; i < d && rc == MOX_OK; i++)
			rc = mox_buf_append_byte(out, '\t');
		if (rc == MOX_OK) {
			if (n->kind == MOX_SCONF_ITEM)
				rc = mox_buf_append_byte(out, '-');
			else
				rc = mox_buf_appendf(out, "%s:", n->key);
		}
		if (rc == MOX_OK && n->value[0] != '\0')
			rc = mox_buf_appendf(out, " %s", n->value);
		if (rc == MOX_OK)
			rc = mox_buf_append_byte(out, '\n');
		if (rc != MOX_OK)
			return rc;
	}
	for (const mox_sconf_node *c = n->first; c != NULL; c = c->next)
		if ((rc = write_node(c, out)) != MOX_OK)
			return rc;
	return MOX_OK;
}

mox_err
mox_sconf_write(const mox_sconf_doc *doc, mox_buf *out)
{
	mox_err rc = MOX_OK;
	for (const mox_sconf_node *c = doc->root.first; c != NULL; c = c->next)
		if ((rc = write_node(c, out)) != MOX_OK)
			return rc;
	if (doc->trailerlen > 0) {
		if ((rc = ensure_nl(out)) != MOX_OK)
			return rc;
		rc = mox_buf_append(out, doc->trailer, doc->trailerlen);
	}
	return rc;
}

mox_sconf_node *
mox_sconf_child(const mox_sconf_node *parent, const char *key)
{
	if (parent == NULL)
		return NULL;
	for (mox_sconf_node *c = parent->first; c != NULL; c = c->next)
		if (c->kind == MOX_SCONF_KEY && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

size_t
mox_sconf_count(const mox_sconf_node *parent)
{
	size_t n = 0;
	for (const mox_sconf_node *c = parent->first; c != NULL; c = c->next)
		n++;
	return n;
}

mox_err
mox_sconf_set_value(mox_sconf_node *node, const char *value)
{
	if (strchr(value, '\n') != NULL || node->kind == MOX_SCONF_ROOT)
		return MOX_EINVAL;
	char *v = dupn(value, strlen(value));
	if (v == NULL)
		return MOX_ENOMEM;
	free(node->value);
	node->value = v;
	free(node->raw);
	node->raw = NULL;
	node->rawlen = 0;
	return MOX_OK;
}

mox_err
mox_sconf_add(mox_sconf_node *parent, mox_sconf_node *after, mox_sconf_kind kind,
              const char *key, const char *value, const char *comment,
              mox_sconf_node **node_out)
{
	if (node_out != NULL)
		*node_out = NULL;
	if (value == NULL)
		value = "";
	if ((kind != MOX_SCONF_KEY && kind != MOX_SCONF_ITEM) ||
	    (kind == MOX_SCONF_KEY &&
	     (key == NULL || key[0] == '\0' || strchr(key, ':') != NULL ||
	      strchr(key, '\n') != NULL || key[0] == ' ' || key[0] == '#')) ||
	    strchr(value, '\n') != NULL || (after != NULL && after->parent != parent) ||
	    (comment != NULL && strchr(comment, '\n') != NULL))
		return MOX_EINVAL;
	mox_sconf_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return MOX_ENOMEM;
	n->kind = kind;
	n->value = dupn(value, strlen(value));
	if (kind == MOX_SCONF_KEY)
		n->key = dupn(key, strlen(key));
	if (n->value == NULL || (kind == MOX_SCONF_KEY && n->key == NULL))
		goto nomem;
	unsigned d = parent->kind == MOX_SCONF_ROOT ? 0 : node_depth(parent) + 1;
	n->depth = d;
	if (comment != NULL) {
		mox_buf b = MOX_BUF_INIT;
		mox_err rc = MOX_OK;
		for (unsigned i = 0; i < d && rc == MOX_OK; i++)
			rc = mox_buf_append_byte(&b, '\t');
		if (rc == MOX_OK)
			rc = mox_buf_appendf(&b, "# %s\n", comment);
		if (rc != MOX_OK) {
			mox_buf_free(&b);
			goto nomem;
		}
		n->pre = (char *)mox_buf_steal(&b, &n->prelen);
		if (n->pre == NULL)
			goto nomem;
	}
	link_child(parent, after, n);
	if (node_out != NULL)
		*node_out = n;
	return MOX_OK;
nomem:
	free(n->value);
	free(n->key);
	free(n);
	return MOX_ENOMEM;
}

void
mox_sconf_remove(mox_sconf_node *node)
{
	if (node == NULL || node->kind == MOX_SCONF_ROOT)
		return;
	mox_sconf_node *parent = node->parent;
	if (node->prev != NULL)
		node->prev->next = node->next;
	else
		parent->first = node->next;
	if (node->next != NULL)
		node->next->prev = node->prev;
	else
		parent->last = node->prev;
	node_free_children(node);
	free(node->key);
	free(node->value);
	free(node->pre);
	free(node->raw);
	free(node);
}

mox_err
mox_sconf_copy(mox_sconf_node *parent, const mox_sconf_node *src,
               mox_sconf_node **node_out)
{
	mox_sconf_node *n = NULL;
	if (node_out != NULL)
		*node_out = NULL;
	mox_err rc =
	    mox_sconf_add(parent, NULL, src->kind, src->key, src->value, NULL, &n);
	if (rc != MOX_OK)
		return rc;
	for (const mox_sconf_node *c = src->first; c != NULL; c = c->next) {
		if ((rc = mox_sconf_copy(n, c, NULL)) != MOX_OK) {
			mox_sconf_remove(n);
			return rc;
		}
	}
	if (node_out != NULL)
		*node_out = n;
	return MOX_OK;
}
