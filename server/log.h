/* Logging for the server, as mox's mlog: a level per package, lines in a
 * logfmt-like form with a timestamp, the level, the message, the package
 * and the connection id (cid):
 *
 *   2026-11-25T02:37:38.123Z l=info m="new connection" pkg=smtpserver cid=1a listener=smtp
 *
 * Levels, most verbose first: tracedata, traceauth, trace, debug, info,
 * warn, error, print (always). At the trace levels protocol lines are
 * logged; message data is shown as "..." unless the package's level is
 * tracedata, authentication data as "***" unless traceauth or tracedata.
 *
 * Configuration: MOX_LOGLEVELS="info;smtpserver=debug;tls=trace" (the
 * first item without "=" is the default level), and at run time through
 * mlog_set_level (for `mox loglevels`); all of it thread-safe. */
#ifndef MOX_SERVER_LOG_H
#define MOX_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum mlog_level {
	MLOG_TRACEDATA = 0,
	MLOG_TRACEAUTH,
	MLOG_TRACE,
	MLOG_DEBUG,
	MLOG_INFO,
	MLOG_WARN,
	MLOG_ERROR,
	MLOG_PRINT, /* printed whatever the configuration */
} mlog_level;

/* The packages (mox's names) that have their own level. */
#define MLOG_PKG_MAP(X)                                                        \
	X(MOX, "mox")                                                          \
	X(SMTPSERVER, "smtpserver")                                            \
	X(IMAPSERVER, "imapserver")                                            \
	X(SMTPCLIENT, "smtpclient")                                            \
	X(STORE, "store")                                                      \
	X(QUEUE, "queue")                                                      \
	X(DNS, "dns")                                                          \
	X(SPF, "spf")                                                          \
	X(DKIM, "dkim")                                                        \
	X(DMARC, "dmarc")                                                      \
	X(DNSBL, "dnsbl")                                                      \
	X(MTASTS, "mtasts")                                                    \
	X(TLSRPT, "tlsrpt")                                                    \
	X(JUNK, "junk")                                                        \
	X(TLS, "tls")                                                          \
	X(NET, "net")                                                          \
	X(HTTP, "http")                                                        \
	X(CTL, "ctl")

typedef enum mlog_pkg {
#define MLOG__PKG_ENUM(name, text) MLOG_PKG_##name,
	MLOG_PKG_MAP(MLOG__PKG_ENUM)
#undef MLOG__PKG_ENUM
	MLOG_PKG_COUNT
} mlog_pkg;

/* Name of a level or package; NULL if out of range. */
const char *mlog_level_name(mlog_level level);
const char *mlog_pkg_name(mlog_pkg pkg);
/* Parse a level or package name; false if unknown. */
bool mlog_level_parse(const char *name, mlog_level *level_out);
bool mlog_pkg_parse(const char *name, mlog_pkg *pkg_out);

/* Apply a configuration "level;pkg=level;..." (e.g. from MOX_LOGLEVELS).
 * Packages not named go back to following the default. On a syntax
 * error nothing changes and errbuf says why. Thread-safety: any thread. */
int mlog_configure(const char *spec, char *errbuf, size_t errlen);
/* Read MOX_LOGLEVELS, if set; a bad value is logged and ignored. */
void mlog_init_env(void);
/* Set one package's level (for `mox loglevels pkg level`), or the
 * default with pkg < 0. Thread-safety: any thread. */
void mlog_set_level(int pkg, mlog_level level);
/* Make a package follow the default level again. Thread-safety: any thread. */
void mlog_unset_level(mlog_pkg pkg);
/* The configuration as "level;pkg=level;..." for `mox loglevels`.
 * Thread-safety: any thread. */
void mlog_levels_format(char *buf, size_t len);
/* The level in effect for pkg. Thread-safety: any thread. */
mlog_level mlog_pkg_level(mlog_pkg pkg);
/* Whether a line at level for pkg would be written. */
bool mlog_enabled(mlog_pkg pkg, mlog_level level);

/* Log a line. The formatted text is split into the message (up to the
 * first " key=") and attributes (the rest), control bytes escaped. cid 0:
 * none. Lines are written to stderr with one write each, so lines from
 * several threads do not mix. Thread-safety: any thread. */
void mlogf(mlog_pkg pkg, mlog_level level, uint64_t cid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A protocol trace line ("C: " or "S: " as prefix). level is MLOG_TRACE
 * for commands and replies, MLOG_TRACEAUTH for authentication data
 * (shown as "***" unless the package is at traceauth or tracedata) and
 * MLOG_TRACEDATA for message data ("..." unless at tracedata).
 * Thread-safety: any thread. */
void mlog_trace(mlog_pkg pkg, mlog_level level, uint64_t cid, const char *prefix,
		const uint8_t *data, size_t len);

/* The older form, kept for existing callers: level as text ("error",
 * "info", "debug", ...), package "mox". Thread-safety: any thread. */
void mlog(const char *level, uint64_t cid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
