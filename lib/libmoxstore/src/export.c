/* Exporting mailboxes as maildirs or mbox files (mox export).
 *
 * As mox writes them, with two additions: custom keywords are exported
 * too (mox only exports the $-flags), and mailboxes are written in UID
 * order (mox sorts by received time), which keeps an import/export round
 * trip in order. Messages get LF line endings.
 *
 * Maildir: "<mailbox>/{new,cur,tmp}/", seen messages in cur/, named
 * "<received>.<id>.mox:2,<flags>" with the maildir letters (D F R S T, in
 * ASCII order) and Dovecot keyword letters (a-z, listed in the mailbox's
 * dovecot-keywords; more than 26 keywords in one mailbox are dropped and
 * reported).
 *
 * mbox (mboxrd, RFC 4155): "<mailbox>.mbox", each message as a "From mox
 * <asctime in UTC>" line, "Status: R" if seen, "X-Status:" with A F T D,
 * "X-Keywords:", then the message without its own Status, X-Status,
 * X-Keywords and Content-Length fields, lines matching ">*From " quoted
 * with one more ">", and an empty line after it.
 *
 * The message list is read in one read transaction, which then ends;
 * messages expunged meanwhile are reported in errors.txt and skipped.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct xmsg {
	int64_t id;
	int64_t received;
	unsigned flags;
	size_t kw_off;
};

struct xmb {
	char *name;
	int64_t id;
	struct xmsg *m;
	size_t n, cap;
};

struct exp {
	mox_store *st;
	const mox_store_export_opts *o;
	mox_store_export_result *r;
	struct xmb *mbs;
	size_t nmbs, capmbs;
	mox_buf kw;
	mox_buf errors;
	const char *only;
};

static void report(struct exp *x, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct exp *x, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == 2) {
		mox_buf_append_str(&x->errors, msg);
		mox_buf_append_byte(&x->errors, '\n');
	}
	if (x->o->report != NULL)
		x->o->report(x->o->arg, level, msg);
}

static mox_err
add_mb(void *arg, const mox_store_mailbox *mb)
{
	struct exp *x = arg;
	if (x->only != NULL && strcmp(x->only, mb->name) != 0)
		return MOX_OK;
	if (x->nmbs == x->capmbs) {
		size_t cap = x->capmbs ? x->capmbs * 2 : 16;
		void *n =
		    mox_mem_reallocarray(x->st->alloc, x->mbs, cap, sizeof(*x->mbs));
		if (n == NULL)
			return MOX_ENOMEM;
		x->mbs = n;
		x->capmbs = cap;
	}
	struct xmb *m = &x->mbs[x->nmbs];
	memset(m, 0, sizeof(*m));
	m->name = mox_mem_strdup(x->st->alloc, mb->name);
	if (m->name == NULL)
		return MOX_ENOMEM;
	m->id = mb->id;
	x->nmbs++;
	return MOX_OK;
}

struct addctx {
	struct exp *x;
	struct xmb *mb;
};

static mox_err
add_msg(void *arg, const mox_store_msginfo *mi)
{
	struct addctx *a = arg;
	struct xmb *m = a->mb;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		void *n =
		    mox_mem_reallocarray(a->x->st->alloc, m->m, cap, sizeof(*m->m));
		if (n == NULL)
			return MOX_ENOMEM;
		m->m = n;
		m->cap = cap;
	}
	struct xmsg *e = &m->m[m->n];
	e->id = mi->id;
	e->received = mi->received;
	e->flags = mi->flags;
	e->kw_off = a->x->kw.len;
	mox_err err = mox_buf_append(&a->x->kw, mi->keywords, strlen(mi->keywords) + 1);
	if (err == MOX_OK)
		m->n++;
	return err;
}

static mox_err
mkdir_p(const char *path)
{
	char buf[MOX__STORE_PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return MOX_ELIMIT;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0770) != 0 && errno != EEXIST)
			return MOX_EIO;
		buf[i] = c;
	}
	return MOX_OK;
}

static FILE *
create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	if (f == NULL)
		close(fd);
	return f;
}

static FILE *
open_msg(struct exp *x, int64_t id)
{
	int fd = -1;
	mox_err err = mox_store_message_open(x->st, id, &fd);
	if (err != MOX_OK) {
		x->r->errors++;
		report(x, 2, "message %lld: opening file: %s (skipped)", (long long)id,
		       mox_strerror(err));
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL)
		close(fd);
	return f;
}

/* Line with CRLF made LF. */
static void
put_line_lf(FILE *out, char *line, ssize_t n)
{
	if (n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n') {
		line[n - 2] = '\n';
		n--;
	}
	fwrite(line, 1, (size_t)n, out);
}

/* ---- maildir ---- */

static const char *const flag_kw[] = {"$Forwarded", "$Junk", "$NotJunk", "$Phishing",
                                      "$MDNSent"};
static const unsigned flag_kw_bits[] = {MOX_STORE_FORWARDED, MOX_STORE_JUNK,
                                        MOX_STORE_NOTJUNK, MOX_STORE_PHISHING,
                                        MOX_STORE_MDNSENT};

struct letters {
	char kw[26][MOX_STORE_KEYWORD_MAX + 1];
	size_t n;
};

static char
letter_for(struct letters *l, const char *kw)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kw[i], kw) == 0)
			return (char)('a' + i);
	if (l->n >= 26)
		return 0;
	snprintf(l->kw[l->n], sizeof(l->kw[0]), "%s", kw);
	return (char)('a' + l->n++);
}

static mox_err
export_maildir(struct exp *x, const char *dst, struct xmb *mb)
{
	char base[MOX__STORE_PATH_MAX], path[MOX__STORE_PATH_MAX];
	snprintf(base, sizeof(base), "%s/%s", dst, mb->name);
	static const char *const subs[] = {"new", "cur", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", base, subs[i]);
		if (mkdir_p(path) != MOX_OK) {
			report(x, 2, "creating %s: %s", path, strerror(errno));
			return MOX_EIO;
		}
	}
	struct letters *l = mox_mem_calloc(x->st->alloc, 1, sizeof(*l));
	if (l == NULL)
		return MOX_ENOMEM;
	mox_err err = MOX_OK;
	char *line = NULL;
	size_t linecap = 0;
	for (size_t i = 0; i < mb->n && err == MOX_OK; i++) {
		struct xmsg *m = &mb->m[i];
		char name[512];
		int n = snprintf(name, sizeof(name), "%lld.%lld.mox:2,",
		                 (long long)m->received, (long long)m->id);
		static const struct {
			unsigned bit;
			char c;
		} letters[] = {{MOX_STORE_DRAFT, 'D'},
		               {MOX_STORE_FLAGGED, 'F'},
		               {MOX_STORE_ANSWERED, 'R'},
		               {MOX_STORE_SEEN, 'S'},
		               {MOX_STORE_DELETED, 'T'}};
		for (size_t k = 0; k < 5; k++)
			if (m->flags & letters[k].bit)
				name[n++] = letters[k].c;
		char kwl[32];
		size_t nkwl = 0;
		for (size_t k = 0; k < 5; k++) {
			if (!(m->flags & flag_kw_bits[k]))
				continue;
			char c = letter_for(l, flag_kw[k]);
			if (c != 0 && nkwl < sizeof(kwl))
				kwl[nkwl++] = c;
		}
		const char *kws = (const char *)x->kw.data + m->kw_off;
		for (const char *p = kws; *p != '\0';) {
			size_t wl = strcspn(p, " ");
			char w[MOX_STORE_KEYWORD_MAX + 1];
			snprintf(w, sizeof(w), "%.*s", (int)wl, p);
			char c = letter_for(l, w);
			if (c == 0)
				report(x, 1,
				       "%s: more than 26 keywords, \"%s\" not exported",
				       mb->name, w);
			else if (nkwl < sizeof(kwl))
				kwl[nkwl++] = c;
			p += wl;
			while (*p == ' ')
				p++;
		}
		/* Letters in ASCII order, as maildir wants. */
		for (size_t a = 1; a < nkwl; a++)
			for (size_t b = a; b > 0 && kwl[b - 1] > kwl[b]; b--) {
				char t = kwl[b];
				kwl[b] = kwl[b - 1];
				kwl[b - 1] = t;
			}
		memcpy(name + n, kwl, nkwl);
		name[n + (int)nkwl] = '\0';
		snprintf(path, sizeof(path), "%s/%s/%s", base,
		         (m->flags & MOX_STORE_SEEN) ? "cur" : "new", name);
		FILE *in = open_msg(x, m->id);
		if (in == NULL)
			continue;
		FILE *out = create_file(path);
		if (out == NULL) {
			report(x, 2, "creating %s: %s", path, strerror(errno));
			err = errno == EEXIST ? MOX_EEXIST : MOX_EIO;
			fclose(in);
			break;
		}
		ssize_t ln;
		while ((ln = getline(&line, &linecap, in)) > 0)
			put_line_lf(out, line, ln);
		if (ferror(in) || ferror(out) || fclose(out) != 0) {
			report(x, 2, "writing %s failed", path);
			err = MOX_EIO;
		}
		fclose(in);
		x->r->messages++;
	}
	free(line);
	if (err == MOX_OK && l->n > 0) {
		snprintf(path, sizeof(path), "%s/dovecot-keywords", base);
		FILE *f = create_file(path);
		if (f == NULL) {
			report(x, 2, "creating %s: %s", path, strerror(errno));
			err = errno == EEXIST ? MOX_EEXIST : MOX_EIO;
		} else {
			for (size_t i = 0; i < l->n; i++)
				fprintf(f, "%zu %s\n", i, l->kw[i]);
			if (fclose(f) != 0)
				err = MOX_EIO;
		}
	}
	mox_mem_free(x->st->alloc, l);
	return err;
}

/* ---- mbox ---- */

static bool
header_skipped(const char *line)
{
	static const char *const names[] = {
	    "status:", "x-status:", "x-keywords:", "content-length:"};
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(names[i]);
		size_t j = 0;
		while (j < n && line[j] != '\0' &&
		       mox__store_lower(line[j]) == names[i][j])
			j++;
		if (j == n)
			return true;
	}
	return false;
}

/* asctime in UTC, without the locale: "Mon Jan  2 15:04:05 2006". */
static void
asctime_utc(int64_t t, char out[32])
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, 32, "%.3s %.3s %2d %02d:%02d:%02d %d",
	         days + 3 * (tm.tm_wday % 7), months + 3 * (tm.tm_mon % 12), tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

static mox_err
export_mbox(struct exp *x, const char *dst, struct xmb *mb)
{
	char path[MOX__STORE_PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.mbox", dst, mb->name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir_p(path) != MOX_OK) {
		report(x, 2, "creating %s: %s", path, strerror(errno));
		return MOX_EIO;
	}
	*slash = '/';
	FILE *out = create_file(path);
	if (out == NULL) {
		report(x, 2, "creating %s: %s", path, strerror(errno));
		return errno == EEXIST ? MOX_EEXIST : MOX_EIO;
	}
	char *line = NULL;
	size_t linecap = 0;
	for (size_t i = 0; i < mb->n; i++) {
		struct xmsg *m = &mb->m[i];
		FILE *in = open_msg(x, m->id);
		if (in == NULL)
			continue;
		char date[32];
		asctime_utc(m->received, date);
		fprintf(out, "From mox %s\n", date);
		if (m->flags & MOX_STORE_SEEN)
			fputs("Status: R\n", out);
		char xs[8];
		size_t nxs = 0;
		if (m->flags & MOX_STORE_ANSWERED)
			xs[nxs++] = 'A';
		if (m->flags & MOX_STORE_FLAGGED)
			xs[nxs++] = 'F';
		if (m->flags & MOX_STORE_DRAFT)
			xs[nxs++] = 'T';
		if (m->flags & MOX_STORE_DELETED)
			xs[nxs++] = 'D';
		if (nxs > 0)
			fprintf(out, "X-Status: %.*s\n", (int)nxs, xs);
		bool first = true;
		for (size_t k = 0; k < 5; k++) {
			if (!(m->flags & flag_kw_bits[k]))
				continue;
			/* mox writes $Junk and $NotJunk only when not both. */
			if ((flag_kw_bits[k] == MOX_STORE_JUNK ||
			     flag_kw_bits[k] == MOX_STORE_NOTJUNK) &&
			    (m->flags & MOX_STORE_JUNK) &&
			    (m->flags & MOX_STORE_NOTJUNK))
				continue;
			fprintf(out, "%s%s", first ? "X-Keywords: " : ",", flag_kw[k]);
			first = false;
		}
		const char *kws = (const char *)x->kw.data + m->kw_off;
		for (const char *p = kws; *p != '\0';) {
			size_t wl = strcspn(p, " ");
			fprintf(out, "%s%.*s", first ? "X-Keywords: " : ",", (int)wl,
			        p);
			first = false;
			p += wl;
			while (*p == ' ')
				p++;
		}
		if (!first)
			fputc('\n', out);
		bool header = true, skipping = false, lf = true;
		ssize_t ln;
		while ((ln = getline(&line, &linecap, in)) > 0) {
			if (header) {
				bool empty =
				    (ln == 1 && line[0] == '\n') ||
				    (ln == 2 && line[0] == '\r' && line[1] == '\n');
				if (empty) {
					header = false;
				} else if (skipping &&
				           (line[0] == ' ' || line[0] == '\t')) {
					continue;
				} else {
					skipping = header_skipped(line);
					if (skipping)
						continue;
				}
			}
			/* mboxrd: one more ">" before ">*From ". */
			size_t k = 0;
			while (k < (size_t)ln && line[k] == '>')
				k++;
			if ((size_t)ln - k >= 5 && memcmp(line + k, "From ", 5) == 0)
				fputc('>', out);
			put_line_lf(out, line, ln);
			lf = line[ln - 1] == '\n';
		}
		if (ferror(in)) {
			x->r->errors++;
			report(x, 2, "message %lld: read error, exported partially",
			       (long long)m->id);
		}
		/* A last line without line ending still gets one, then the
		 * separating empty line (RFC 4155 section 2). */
		if (!lf)
			fputc('\n', out);
		fputc('\n', out);
		fclose(in);
		x->r->messages++;
	}
	free(line);
	mox_err err = MOX_OK;
	if (ferror(out))
		err = MOX_EIO;
	if (fclose(out) != 0)
		err = MOX_EIO;
	if (err != MOX_OK)
		report(x, 2, "writing %s failed", path);
	return err;
}

mox_err
mox_store_export(mox_store *st, mox_store_format format, const char *dst_dir,
                 const char *mailbox, const mox_store_export_opts *opts,
                 mox_store_export_result *res_out)
{
	mox_store_export_opts o = {0};
	mox_store_export_result res = {0};
	char norm[MOX_STORE_MAILBOX_NAME_MAX + 1];
	if (res_out != NULL)
		memset(res_out, 0, sizeof(*res_out));
	if (st == NULL || dst_dir == NULL ||
	    (format != MOX_STORE_MAILDIR && format != MOX_STORE_MBOX))
		return MOX_EINVAL;
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return MOX_EINVAL;
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	if (mailbox != NULL && mox_store_mailbox_name_check(mailbox, norm) != MOX_OK)
		return MOX_EINVAL;
	struct exp x = {
	    .st = st, .o = &o, .r = &res, .only = mailbox != NULL ? norm : NULL};
	mox_buf_init(&x.kw, st->alloc);
	mox_buf_init(&x.errors, st->alloc);
	mox_store_tx *tx = NULL;
	mox_err err = mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx);
	if (err == MOX_OK)
		err = mox_store_tx_mailbox_list(tx, add_mb, &x);
	for (size_t i = 0; i < x.nmbs && err == MOX_OK; i++) {
		struct addctx a = {&x, &x.mbs[i]};
		err = mox_store_tx_list(tx, x.mbs[i].id, NULL, 0, 0, add_msg, &a);
	}
	mox_store_tx_rollback(tx);
	if (err == MOX_OK && mailbox != NULL && x.nmbs == 0)
		err = MOX_ENOTFOUND;
	if (err == MOX_OK && mkdir_p(dst_dir) != MOX_OK) {
		report(&x, 2, "creating %s: %s", dst_dir, strerror(errno));
		err = MOX_EIO;
	}
	for (size_t i = 0; i < x.nmbs && err == MOX_OK; i++) {
		err = format == MOX_STORE_MAILDIR
		          ? export_maildir(&x, dst_dir, &x.mbs[i])
		          : export_mbox(&x, dst_dir, &x.mbs[i]);
		res.mailboxes++;
	}
	if (err == MOX_OK && x.errors.len > 0) {
		char path[MOX__STORE_PATH_MAX];
		snprintf(path, sizeof(path), "%s/errors.txt", dst_dir);
		FILE *f = create_file(path);
		if (f != NULL) {
			fwrite(x.errors.data, 1, x.errors.len, f);
			fclose(f);
		}
	}
	for (size_t i = 0; i < x.nmbs; i++) {
		mox_mem_free(st->alloc, x.mbs[i].name);
		mox_mem_free(st->alloc, x.mbs[i].m);
	}
	mox_mem_free(st->alloc, x.mbs);
	mox_buf_free(&x.kw);
	mox_buf_free(&x.errors);
	if (res_out != NULL)
		*res_out = res;
	return err;
}
