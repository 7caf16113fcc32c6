/* Helpers shared by the libmoxstore tests: a temporary data directory
 * (mkdtemp, removed afterwards), an open account in it, small messages,
 * and counting files. Header-only, test code only. */
#ifndef MOX_STORE_TEST_H
#define MOX_STORE_TEST_H

#include <mox/store.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
st_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf */
static inline void
st_rmrf(const char *path)
{
	nftw(path, st_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; path written to out (PATH_MAX). */
static inline int
st_tmpdir(char *out, size_t outsz)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, outsz, "%s/moxstore-test-XXXXXX", base != NULL ? base : "/tmp");
	return mkdtemp(out) != NULL ? 0 : -1;
}

static inline void
st_path(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
}

/* Files (not directories) under dir, recursively. */
static inline size_t
st_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat sb;
		if (lstat(p, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			n += st_count_files(p);
		else
			n++;
	}
	closedir(d);
	return n;
}

/* A small message with a unique Message-ID. */
static inline size_t
st_msg(char *buf, size_t bufsz, unsigned n, size_t body)
{
	int h = snprintf(buf, bufsz,
	                 "From: Alice <alice@example.org>\r\n"
	                 "To: bob@example.com\r\n"
	                 "Subject: test %u\r\n"
	                 "Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n"
	                 "Message-ID: <%u@test.example>\r\n"
	                 "\r\n",
	                 n, n);
	size_t len = (size_t)h;
	for (size_t i = 0; i < body && len + 2 < bufsz; i++) {
		buf[len++] = (i % 72 == 71) ? '\r' : (char)('a' + (i % 26));
		if (buf[len - 1] == '\r')
			buf[len++] = '\n';
	}
	return len;
}

static inline mox_store *
st_open(const char *dir, const char *name)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/accounts/%s", dir, name);
	mox_store_opts o = {.size = sizeof(o),
	                    .create = true,
	                    .bcrypt_cost = 4,
	                    .scram_iterations = 64,
	                    .initial_uidvalidity = 1000};
	mox_store *st = NULL;
	mox_errinfo info;
	if (mox_store_open(&st, p, &o, &info) != MOX_OK) {
		fprintf(stderr, "open %s: %s\n", p, info.msg);
		return NULL;
	}
	return st;
}

/* Deliver a small message; returns its uid or 0. */
static inline uint32_t
st_deliver(mox_store *st, const char *mailbox, unsigned n)
{
	char buf[2048];
	size_t len = st_msg(buf, sizeof(buf), n, 200);
	mox_store_msginfo mi;
	mox_errinfo info;
	mox_store_deliver_opts o = {.size = sizeof(o)};
	if (mox_store_deliver_mem(st, mailbox, buf, len, &o, &mi, &info) != MOX_OK) {
		fprintf(stderr, "deliver: %s\n", info.msg);
		return 0;
	}
	return mi.uid;
}

#endif
