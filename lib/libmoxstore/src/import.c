/* Importing a maildir or an mbox file into a mailbox (mox import).
 *
 * Each message is staged as a file of its own (line endings made CRLF,
 * fsynced), then added in a transaction that takes up to IMPORT_BATCH
 * messages; a message that cannot be read or added is reported and
 * skipped, the others go on: each message is there whole or not at all.
 * Maildir: new/ then cur/, each in name order; flags from the ":2," part of
 * the name with Dovecot's keyword letters from dovecot-keywords; received
 * time from the leading seconds of the name, else the file's mtime. mbox:
 * see mbox.c.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Messages per transaction. */
#define IMPORT_BATCH 200
/* dovecot-keywords files are a few lines; larger is not one. */
#define IMPORT_KEYWORDS_FILE_MAX 65536

struct pending {
	mox_store_msgfile *mf;
	unsigned flags;
	char *keywords; /* space separated */
	int64_t received;
	char *source; /* for reports */
};

struct imp {
	mox_store *st;
	const mox_store_import_opts *o;
	mox_store_import_result *r;
	int64_t mailbox_id;
	struct pending p[IMPORT_BATCH];
	size_t n;
	size_t next_progress;
};

static void report(struct imp *im, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct imp *im, int level, const char *fmt, ...)
{
	if (im->o->report == NULL)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	im->o->report(im->o->arg, level, msg);
}

static void
pending_clear(struct imp *im, struct pending *p)
{
	mox_store_msgfile_free(p->mf);
	mox_mem_free(im->st->alloc, p->keywords);
	mox_mem_free(im->st->alloc, p->source);
	memset(p, 0, sizeof(*p));
}

/* Add the pending messages in one transaction. */
static mox_err
flush(struct imp *im)
{
	if (im->n == 0)
		return MOX_OK;
	mox_store_tx *tx = NULL;
	mox_err err = mox_store_tx_begin(im->st, MOX_STORE_TX_WRITE, NULL, &tx);
	size_t added = 0;
	uint64_t bytes = 0;
	const char **kws = NULL;
	if (err == MOX_OK) {
		kws =
		    mox_mem_calloc(im->st->alloc, MOX_STORE_KEYWORDS_MAX, sizeof(*kws));
		if (kws == NULL)
			err = MOX_ENOMEM;
	}
	for (size_t i = 0; i < im->n && err == MOX_OK; i++) {
		struct pending *p = &im->p[i];
		/* Split the keywords in place; they are not used afterwards. */
		size_t nk = 0;
		for (char *k = p->keywords;
		     k != NULL && *k != '\0' && nk < MOX_STORE_KEYWORDS_MAX;) {
			while (*k == ' ')
				k++;
			if (*k == '\0')
				break;
			kws[nk++] = k;
			k += strcspn(k, " ");
			if (*k == ' ')
				*k++ = '\0';
		}
		mox_store_add_opts ao = {.size = sizeof(ao),
		                         .flags = p->flags,
		                         .keywords = kws,
		                         .nkeywords = nk,
		                         .received = p->received};
		mox_err e = mox_store_tx_add(tx, im->mailbox_id, p->mf, &ao, NULL);
		if (e == MOX_OK) {
			added++;
			bytes += mox_store_msgfile_size(p->mf);
		} else if (e == MOX_ENOMEM || e == MOX_EIO) {
			err = e;
		} else {
			im->r->skipped++;
			report(im, 2, "%s: not imported: %s", p->source,
			       mox_store_tx_errmsg(tx));
		}
	}
	mox_mem_free(im->st->alloc, kws);
	if (err == MOX_OK) {
		char msg[512] = "";
		err = mox__store_tx_commit_msg(tx, msg, sizeof(msg));
		if (err != MOX_OK)
			report(im, 2, "committing imported messages: %s", msg);
	} else {
		report(im, 2, "importing: %s",
		       tx != NULL ? mox_store_tx_errmsg(tx) : "");
		mox_store_tx_rollback(tx);
	}
	if (err == MOX_OK) {
		im->r->imported += added;
		im->r->bytes += bytes;
	}
	for (size_t i = 0; i < im->n; i++)
		pending_clear(im, &im->p[i]);
	im->n = 0;
	if (err == MOX_OK && im->r->imported >= im->next_progress) {
		report(im, 0, "imported %zu messages", im->r->imported);
		im->next_progress =
		    im->r->imported +
		    (im->o->progress_every != 0 ? im->o->progress_every : 1000);
	}
	return err;
}

/* Write data to mf with bare LF made CRLF; *last carries the last byte
 * written over calls. */
static mox_err
write_crlf(mox_store_msgfile *mf, const uint8_t *p, size_t n, uint8_t *last)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		uint8_t prev = i > 0 ? p[i - 1] : *last;
		if (prev == '\r')
			continue;
		mox_err err = mox_store_msgfile_write(mf, p + start, i - start);
		if (err == MOX_OK)
			err = mox_store_msgfile_write(mf, "\r", 1);
		if (err != MOX_OK)
			return err;
		start = i;
	}
	if (n > 0)
		*last = p[n - 1];
	return mox_store_msgfile_write(mf, p + start, n - start);
}

/* Queue a staged, finished message. Takes mf and keywords. */
static mox_err
queue(struct imp *im, mox_store_msgfile *mf, unsigned flags, const char *keywords,
      int64_t received, const char *source)
{
	struct pending *p = &im->p[im->n];
	p->mf = mf;
	p->flags = flags;
	p->received = received;
	p->keywords = mox_mem_strdup(im->st->alloc, keywords != NULL ? keywords : "");
	p->source = mox_mem_strdup(im->st->alloc, source);
	if (p->keywords == NULL || p->source == NULL) {
		pending_clear(im, p);
		return MOX_ENOMEM;
	}
	im->n++;
	/* Commit at a full batch, and when a progress line is due (it says
	 * what is committed). */
	if (im->n == IMPORT_BATCH || im->r->imported + im->n >= im->next_progress)
		return flush(im);
	return MOX_OK;
}

/* ---- maildir ---- */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static mox_err
import_maildir_file(struct imp *im, const char *path, const char *name, char *kwmap[26])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		im->r->skipped++;
		report(im, 2, "%s: %s (skipped)", path, strerror(errno));
		return MOX_OK;
	}
	mox_store_msgfile *mf = NULL;
	mox_buf kw;
	mox_buf_init(&kw, im->st->alloc);
	mox_err err = mox_store_msgfile_new(im->st, &mf);
	uint8_t last = 0;
	uint8_t buf[65536];
	ssize_t n = 0;
	while (err == MOX_OK && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		err = write_crlf(mf, buf, (size_t)n, &last);
	}
	struct stat sb;
	int64_t received = 0;
	if (fstat(fd, &sb) == 0)
		received = (int64_t)sb.st_mtime;
	close(fd);
	if (err == MOX_OK && n < 0) {
		im->r->skipped++;
		report(im, 2, "%s: reading: %s (skipped)", path, strerror(errno));
		mox_store_msgfile_free(mf);
		return MOX_OK;
	}
	if (err == MOX_OK)
		err = mox_store_msgfile_finish(mf);
	if (err != MOX_OK) {
		mox_store_msgfile_free(mf);
		return err;
	}
	/* "<seconds>.<unique>..." */
	char *end;
	long long secs = strtoll(name, &end, 10);
	if (end != name && *end == '.' && secs > 0)
		received = secs;
	unsigned flags = 0;
	err =
	    mox_store_maildir_flags(name, (const char *const *)kwmap, 26, &flags, &kw);
	if (err == MOX_OK)
		err = mox_buf_append(&kw, "", 0);
	if (err == MOX_OK)
		err = queue(im, mf, flags, (const char *)kw.data, received, path);
	else
		mox_store_msgfile_free(mf);
	mox_buf_free(&kw);
	return err;
}

static mox_err
import_maildir(struct imp *im, const char *src)
{
	char path[MOX__STORE_PATH_MAX];
	char *kwmap[26] = {NULL};
	mox_err err = MOX_OK;
	snprintf(path, sizeof(path), "%s/dovecot-keywords", src);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		uint8_t *buf = mox_mem_alloc(im->st->alloc, IMPORT_KEYWORDS_FILE_MAX);
		ssize_t n = buf != NULL ? read(fd, buf, IMPORT_KEYWORDS_FILE_MAX) : -1;
		close(fd);
		size_t bad = 0;
		if (n >= 0)
			err = mox_store_dovecot_keywords_parse(
			    buf, (size_t)n, im->st->alloc, kwmap, &bad);
		mox_mem_free(im->st->alloc, buf);
		if (bad > 0)
			report(im, 1, "%s: %zu lines not understood", path, bad);
		if (err != MOX_OK)
			return err;
	}
	struct stat sb;
	snprintf(path, sizeof(path), "%s/cur", src);
	bool cur = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
	snprintf(path, sizeof(path), "%s/new", src);
	bool nw = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
	if (!cur && !nw) {
		mox_store_keywords_free(im->st->alloc, kwmap);
		report(im, 2, "%s: not a maildir (no cur/ or new/)", src);
		return MOX_ENOTFOUND;
	}
	static const char *const subs[] = {"new", "cur"};
	for (size_t s = 0; s < 2 && err == MOX_OK; s++) {
		snprintf(path, sizeof(path), "%s/%s", src, subs[s]);
		DIR *d = opendir(path);
		if (d == NULL)
			continue;
		char **names = NULL;
		size_t nn = 0, cap = 0;
		struct dirent *e;
		while (err == MOX_OK && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (nn == cap) {
				cap = cap ? cap * 2 : 256;
				void *x = mox_mem_reallocarray(im->st->alloc, names,
				                               cap, sizeof(*names));
				if (x == NULL) {
					err = MOX_ENOMEM;
					break;
				}
				names = x;
			}
			names[nn] = mox_mem_strdup(im->st->alloc, e->d_name);
			if (names[nn] == NULL)
				err = MOX_ENOMEM;
			else
				nn++;
		}
		closedir(d);
		if (err == MOX_OK && nn > 0) /* names is NULL for an empty dir */
			qsort(names, nn, sizeof(*names), cmp_names);
		for (size_t i = 0; i < nn && err == MOX_OK; i++) {
			char file[MOX__STORE_PATH_MAX];
			snprintf(file, sizeof(file), "%s/%s", path, names[i]);
			if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode))
				continue;
			err = import_maildir_file(im, file, names[i], kwmap);
		}
		for (size_t i = 0; i < nn; i++)
			mox_mem_free(im->st->alloc, names[i]);
		mox_mem_free(im->st->alloc, names);
	}
	mox_store_keywords_free(im->st->alloc, kwmap);
	return err;
}

/* ---- mbox ---- */

static mox_err
take_mbox(struct imp *im, mox_store_mbox *mb, const char *src)
{
	for (;;) {
		mox_store_mbox_msg m;
		mox_err err = mox_store_mbox_next(mb, &m);
		if (err == MOX_EAGAIN || err == MOX_ENOTFOUND)
			return err;
		if (err != MOX_OK) {
			report(im, 2, "%s: %s", src,
			       err == MOX_ESYNTAX
			           ? "does not start with a \"From \" line"
			           : mox_strerror(err));
			return err;
		}
		char source[MOX__STORE_PATH_MAX + 32];
		snprintf(source, sizeof(source), "%s:%zu", src, m.line);
		mox_store_msgfile *mf = NULL;
		err = mox_store_msgfile_new(im->st, &mf);
		if (err == MOX_OK)
			err = mox_store_msgfile_write(mf, m.data, m.len);
		if (err == MOX_OK)
			err = mox_store_msgfile_finish(mf);
		if (err != MOX_OK) {
			mox_store_msgfile_free(mf);
			return err;
		}
		err = queue(im, mf, m.flags, m.keywords, m.received, source);
		if (err != MOX_OK)
			return err;
	}
}

static mox_err
import_mbox(struct imp *im, const char *src)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report(im, 2, "%s: %s", src, strerror(errno));
		return errno == ENOENT ? MOX_ENOTFOUND : MOX_EIO;
	}
	mox_store_mbox *mb = NULL;
	mox_err err = mox_store_mbox_new(&mb, 0, im->st->alloc);
	uint8_t buf[65536];
	while (err == MOX_OK || err == MOX_EAGAIN) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report(im, 2, "%s: reading: %s", src, strerror(errno));
			err = MOX_EIO;
			break;
		}
		if (n == 0) {
			mox_store_mbox_end(mb);
			err = take_mbox(im, mb, src);
			break;
		}
		err = mox_store_mbox_feed(mb, buf, (size_t)n);
		if (err == MOX_OK)
			err = take_mbox(im, mb, src);
	}
	if (err == MOX_ENOTFOUND)
		err = MOX_OK;
	mox_store_mbox_free(mb);
	close(fd);
	return err;
}

mox_err
mox_store_import(mox_store *st, mox_store_format format, const char *mailbox,
                 const char *src, const mox_store_import_opts *opts,
                 mox_store_import_result *res_out)
{
	mox_store_import_opts o = {0};
	mox_store_import_result res = {0};
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	if (res_out != NULL)
		memset(res_out, 0, sizeof(*res_out));
	if (st == NULL || mailbox == NULL || src == NULL ||
	    (format != MOX_STORE_MAILDIR && format != MOX_STORE_MBOX))
		return MOX_EINVAL;
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	if (mox_store_mailbox_name_check(mailbox, norm) != MOX_OK)
		return MOX_EINVAL;
	struct imp *im = mox_mem_calloc(st->alloc, 1, sizeof(*im));
	if (im == NULL)
		return MOX_ENOMEM;
	im->st = st;
	im->o = &o;
	im->r = &res;
	im->next_progress = o.progress_every != 0 ? o.progress_every : 1000;

	/* The mailbox, created (and subscribed) if missing. */
	mox_store_tx *tx = NULL;
	struct mox__store_opmark m;
	mox_store_mailbox *mb = mox_mem_alloc(st->alloc, sizeof(*mb));
	mox_err err = mb != NULL ? mox_store_tx_begin(st, MOX_STORE_TX_WRITE, NULL, &tx)
	                         : MOX_ENOMEM;
	if (err == MOX_OK) {
		err = mox__store_op_begin(tx, &m);
		if (err == MOX_OK)
			err = mox__store_op_end(
			    tx, &m,
			    mox__store_mailbox_ensure(tx, norm, 0, true, false, mb));
		if (err == MOX_OK)
			err = mox_store_tx_commit(tx);
		else
			mox_store_tx_rollback(tx);
	}
	if (err == MOX_OK) {
		im->mailbox_id = mb->id;
		err = format == MOX_STORE_MAILDIR ? import_maildir(im, src)
		                                  : import_mbox(im, src);
	}
	if (err == MOX_OK)
		err = flush(im);
	for (size_t i = 0; i < im->n; i++)
		pending_clear(im, &im->p[i]);
	if (err == MOX_OK)
		report(im, 0, "imported %zu messages (%llu bytes) into %s, %zu skipped",
		       res.imported, (unsigned long long)res.bytes, norm, res.skipped);
	mox_mem_free(st->alloc, mb);
	mox_mem_free(st->alloc, im);
	if (res_out != NULL)
		*res_out = res;
	return err;
}
