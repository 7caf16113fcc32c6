/* Leveled logging per package; see log.h.
 *
 * How this works: each package's level is an atomic int, -1 while it
 * follows the default (also atomic), so checking whether to log is two
 * relaxed loads and no lock. Writers (configure, set) take a mutex so two
 * configurations do not interleave. A line is formatted into a stack
 * buffer and written with one write(2) to stderr. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int default_level = MLOG_INFO;
static atomic_int pkg_levels[MLOG_PKG_COUNT] = {
#define MLOG__INIT(name, text) -1,
    MLOG_PKG_MAP(MLOG__INIT)
#undef MLOG__INIT
};
static pthread_mutex_t config_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
    "tracedata", "traceauth", "trace", "debug", "info", "warn", "error", "print",
};

static const char *const pkg_names[] = {
#define MLOG__NAME(name, text) text,
    MLOG_PKG_MAP(MLOG__NAME)
#undef MLOG__NAME
};

const char *
mlog_level_name(mlog_level level)
{
	return (unsigned)level <= MLOG_PRINT ? level_names[level] : NULL;
}

const char *
mlog_pkg_name(mlog_pkg pkg)
{
	return (unsigned)pkg < MLOG_PKG_COUNT ? pkg_names[pkg] : NULL;
}

static bool
name_eq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncmp(a, b, alen) == 0;
}

static bool
level_parse_n(const char *s, size_t n, mlog_level *out)
{
	for (int i = 0; i <= MLOG_PRINT; i++)
		if (name_eq(s, n, level_names[i])) {
			*out = (mlog_level)i;
			return true;
		}
	/* mox also knows "fatal"; here it is error. */
	if (name_eq(s, n, "fatal")) {
		*out = MLOG_ERROR;
		return true;
	}
	return false;
}

static bool
pkg_parse_n(const char *s, size_t n, mlog_pkg *out)
{
	for (int i = 0; i < MLOG_PKG_COUNT; i++)
		if (name_eq(s, n, pkg_names[i])) {
			*out = (mlog_pkg)i;
			return true;
		}
	return false;
}

bool
mlog_level_parse(const char *name, mlog_level *level_out)
{
	return level_parse_n(name, strlen(name), level_out);
}

bool
mlog_pkg_parse(const char *name, mlog_pkg *pkg_out)
{
	return pkg_parse_n(name, strlen(name), pkg_out);
}

static const char *
trim(const char *s, const char *e, size_t *n)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*n = (size_t)(e - s);
	return s;
}

int
mlog_configure(const char *spec, char *errbuf, size_t errlen)
{
	int deflevel = -1;
	int levels[MLOG_PKG_COUNT];
	for (int i = 0; i < MLOG_PKG_COUNT; i++)
		levels[i] = -1;
	const char *p = spec;
	while (*p != '\0') {
		const char *end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t n;
		if (eq == NULL) {
			const char *t = trim(p, end, &n);
			mlog_level lv;
			if (n > 0) {
				if (!level_parse_n(t, n, &lv)) {
					snprintf(errbuf, errlen,
					         "unknown log level \"%.*s\"", (int)n,
					         t);
					return -1;
				}
				deflevel = (int)lv;
			}
		} else {
			size_t kn, vn;
			const char *k = trim(p, eq, &kn);
			const char *v = trim(eq + 1, end, &vn);
			mlog_pkg pkg;
			mlog_level lv;
			if (!pkg_parse_n(k, kn, &pkg)) {
				snprintf(errbuf, errlen, "unknown package \"%.*s\"",
				         (int)kn, k);
				return -1;
			}
			if (!level_parse_n(v, vn, &lv)) {
				snprintf(errbuf, errlen, "unknown log level \"%.*s\"",
				         (int)vn, v);
				return -1;
			}
			levels[pkg] = (int)lv;
		}
		p = *end == ';' ? end + 1 : end;
	}
	pthread_mutex_lock(&config_mu);
	if (deflevel >= 0)
		atomic_store(&default_level, deflevel);
	for (int i = 0; i < MLOG_PKG_COUNT; i++)
		atomic_store(&pkg_levels[i], levels[i]);
	pthread_mutex_unlock(&config_mu);
	return 0;
}

void
mlog_init_env(void)
{
	const char *s = getenv("MOX_LOGLEVELS");
	char err[256];
	if (s != NULL && mlog_configure(s, err, sizeof(err)) != 0)
		mlogf(MLOG_PKG_MOX, MLOG_ERROR, 0, "ignoring MOX_LOGLEVELS err=\"%s\"",
		      err);
}

void
mlog_set_level(int pkg, mlog_level level)
{
	if ((unsigned)level > MLOG_PRINT)
		return;
	pthread_mutex_lock(&config_mu);
	if (pkg < 0)
		atomic_store(&default_level, (int)level);
	else if (pkg < MLOG_PKG_COUNT)
		atomic_store(&pkg_levels[pkg], (int)level);
	pthread_mutex_unlock(&config_mu);
}

void
mlog_unset_level(mlog_pkg pkg)
{
	if ((unsigned)pkg >= MLOG_PKG_COUNT)
		return;
	pthread_mutex_lock(&config_mu);
	atomic_store(&pkg_levels[pkg], -1);
	pthread_mutex_unlock(&config_mu);
}

void
mlog_levels_format(char *buf, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&config_mu);
	size_t o = 0;
	int n = snprintf(buf, len, "%s", level_names[atomic_load(&default_level)]);
	o = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < MLOG_PKG_COUNT && o < len; i++) {
		int lv = atomic_load(&pkg_levels[i]);
		if (lv < 0)
			continue;
		n = snprintf(buf + o, len - o, ";%s=%s", pkg_names[i], level_names[lv]);
		o += n > 0 ? (size_t)n : 0;
	}
	pthread_mutex_unlock(&config_mu);
}

mlog_level
mlog_pkg_level(mlog_pkg pkg)
{
	int lv = (unsigned)pkg < MLOG_PKG_COUNT
	             ? atomic_load_explicit(&pkg_levels[pkg], memory_order_relaxed)
	             : -1;
	if (lv < 0)
		lv = atomic_load_explicit(&default_level, memory_order_relaxed);
	return (mlog_level)lv;
}

/* As mox: a line is logged at or above the configured level; when the
 * configuration is any trace level, all trace lines are (redacted). */
static bool
match(mlog_level conf, mlog_level level)
{
	return level >= MLOG_PRINT || level >= conf ||
	       (conf <= MLOG_TRACE && level <= MLOG_TRACE);
}

bool
mlog_enabled(mlog_pkg pkg, mlog_level level)
{
	return match(mlog_pkg_level(pkg), level);
}

/* A line under construction; what does not fit is cut. */
typedef struct line {
	char b[2048];
	size_t n;
} line;

static void
put(line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->b) - 1 - l->n; /* keep one for '\n' */
	if (n > room)
		n = room;
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

static void
puts_(line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence (RFC 3629 section 4) at s, 0 if
 * there is none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t min, cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Escape control bytes, bytes that are not UTF-8, and in quoted text '"'
 * and '\', so a line from the network cannot forge log lines. */
static void
put_escaped(line *l, const char *s, size_t n, bool quoted)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];
		size_t u;
		if (c >= 0x80 &&
		    (u = utf8_len((const unsigned char *)s + i, n - i)) > 0) {
			put(l, s + i, u);
			i += u - 1;
		} else if (c >= 0x80) {
			snprintf(e, sizeof(e), "\\x%02x", c);
			puts_(l, e);
		} else if (c == '\n')
			put(l, "\\n", 2);
		else if (c == '\r')
			put(l, "\\r", 2);
		else if (c == '\t')
			put(l, "\\t", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(e, sizeof(e), "\\x%02x", c);
			puts_(l, e);
		} else if (quoted && (c == '"' || c == '\\')) {
			e[0] = '\\';
			e[1] = (char)c;
			put(l, e, 2);
		} else
			put(l, (const char *)&s[i], 1);
	}
}

static void
put_head(line *l, mlog_pkg pkg, mlog_level level, uint64_t cid, const char *msg,
         size_t msglen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[64];
	size_t tn = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + tn, sizeof(t) - tn, ".%03ldZ l=", ts.tv_nsec / 1000000);
	puts_(l, t);
	puts_(l, level_names[level]);
	puts_(l, " m=\"");
	put_escaped(l, msg, msglen, true);
	puts_(l, "\" pkg=");
	puts_(l, pkg_names[pkg]);
	if (cid != 0) {
		char c[32];
		snprintf(c, sizeof(c), " cid=%llx", (unsigned long long)cid);
		puts_(l, c);
	}
}

static void
emit(line *l)
{
	l->b[l->n++] = '\n';
	size_t o = 0;
	while (o < l->n) {
		ssize_t w = write(STDERR_FILENO, l->b + o, l->n - o);
		if (w <= 0)
			break;
		o += (size_t)w;
	}
}

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Where the attributes start: the first " key=" in s, or its end. */
static size_t
attrs_start(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != ' ')
			continue;
		size_t j = i + 1;
		while (j < n && is_key_char(s[j]))
			j++;
		if (j > i + 1 && j < n && s[j] == '=')
			return i;
	}
	return n;
}

static void
vlog(mlog_pkg pkg, mlog_level level, uint64_t cid, const char *fmt, va_list ap)
{
	char text[1536];
	int tn = vsnprintf(text, sizeof(text), fmt, ap);
	size_t n = tn < 0                      ? 0
	           : (size_t)tn < sizeof(text) ? (size_t)tn
	                                       : sizeof(text) - 1;
	size_t a = attrs_start(text, n);
	line l;
	l.n = 0;
	put_head(&l, pkg, level, cid, text, a);
	put_escaped(&l, text + a, n - a, false);
	emit(&l);
}

void
mlogf(mlog_pkg pkg, mlog_level level, uint64_t cid, const char *fmt, ...)
{
	if ((unsigned)pkg >= MLOG_PKG_COUNT || (unsigned)level > MLOG_PRINT ||
	    !mlog_enabled(pkg, level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(pkg, level, cid, fmt, ap);
	va_end(ap);
}

void
mlog_trace(mlog_pkg pkg, mlog_level level, uint64_t cid, const char *prefix,
           const uint8_t *data, size_t len)
{
	if ((unsigned)pkg >= MLOG_PKG_COUNT || level > MLOG_TRACE)
		return;
	mlog_level conf = mlog_pkg_level(pkg);
	if (!match(conf, level))
		return;
	char msg[1024];
	size_t pn = strlen(prefix);
	if (pn > 64)
		pn = 64;
	memcpy(msg, prefix, pn);
	size_t n = pn;
	/* mox: data "..." unless tracedata, auth "***" unless traceauth. */
	if (level == MLOG_TRACEDATA && conf > MLOG_TRACEDATA) {
		memcpy(msg + n, "...", 3);
		n += 3;
	} else if (level == MLOG_TRACEAUTH && conf > MLOG_TRACEAUTH) {
		memcpy(msg + n, "***", 3);
		n += 3;
	} else {
		/* The line without its end, as mox shows it. */
		if (len > 0 && data[len - 1] == '\n')
			len--;
		if (len > 0 && data[len - 1] == '\r')
			len--;
		size_t take = len < sizeof(msg) - n ? len : sizeof(msg) - n;
		memcpy(msg + n, data, take);
		n += take;
	}
	line l;
	l.n = 0;
	put_head(&l, pkg, level, cid, msg, n);
	emit(&l);
}

void
mlog(const char *level, uint64_t cid, const char *fmt, ...)
{
	mlog_level lv = MLOG_INFO;
	if (!mlog_level_parse(level, &lv))
		lv = MLOG_INFO;
	if (!mlog_enabled(MLOG_PKG_MOX, lv))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(MLOG_PKG_MOX, lv, cid, fmt, ap);
	va_end(ap);
}
