/* server/log.c: configuration, levels per package, line format, trace
 * redaction, escaping. Lines go to stderr; the tests point fd 2 at a
 * temporary file and read it back. */
#include "log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char captured[16384];

/* Run the logging in between with stderr captured into captured[]. */
static int saved_fd = -1;
static FILE *tmp;

static void
capture_begin(void)
{
	tmp = tmpfile();
	assert_non_null(tmp);
	saved_fd = dup(2);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
}

static const char *
capture_end(void)
{
	assert_true(dup2(saved_fd, 2) >= 0);
	close(saved_fd);
	rewind(tmp);
	size_t n = fread(captured, 1, sizeof(captured) - 1, tmp);
	captured[n] = '\0';
	fclose(tmp);
	return captured;
}

static void
reset(void)
{
	char err[128];
	assert_int_equal(mlog_configure("info", err, sizeof(err)), 0);
}

static void
test_configure(void **state)
{
	(void)state;
	char err[128], buf[256];
	reset();
	assert_int_equal(mlog_pkg_level(MLOG_PKG_SMTPSERVER), MLOG_INFO);
	assert_int_equal(
	    mlog_configure("error; smtpserver=debug ;tls=trace", err, sizeof(err)), 0);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_SMTPSERVER), MLOG_DEBUG);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_TLS), MLOG_TRACE);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_STORE), MLOG_ERROR);
	mlog_levels_format(buf, sizeof(buf));
	assert_string_equal(buf, "error;smtpserver=debug;tls=trace");
	/* Errors change nothing. */
	assert_int_equal(mlog_configure("info;smtpserver=loud", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "loud"));
	assert_int_equal(mlog_configure("info;nosuchpkg=debug", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuchpkg"));
	assert_int_equal(mlog_configure("verbose", err, sizeof(err)), -1);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_SMTPSERVER), MLOG_DEBUG);
	/* Packages not named follow the default again. */
	assert_int_equal(mlog_configure("debug", err, sizeof(err)), 0);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_TLS), MLOG_DEBUG);
	/* At run time, as `mox loglevels` will. */
	mlog_set_level(MLOG_PKG_IMAPSERVER, MLOG_TRACEAUTH);
	mlog_set_level(-1, MLOG_WARN);
	mlog_levels_format(buf, sizeof(buf));
	assert_string_equal(buf, "warn;imapserver=traceauth");
	mlog_unset_level(MLOG_PKG_IMAPSERVER);
	assert_int_equal(mlog_pkg_level(MLOG_PKG_IMAPSERVER), MLOG_WARN);
	mlog_levels_format(buf, 4); /* cut, terminated */
	assert_int_equal(strlen(buf), 3);
	assert_string_equal(mlog_level_name(MLOG_TRACEDATA), "tracedata");
	assert_null(mlog_level_name((mlog_level)99));
	assert_string_equal(mlog_pkg_name(MLOG_PKG_CTL), "ctl");
	mlog_pkg p;
	assert_true(mlog_pkg_parse("queue", &p));
	assert_int_equal(p, MLOG_PKG_QUEUE);
	reset();
}

static void
test_lines(void **state)
{
	(void)state;
	reset();
	capture_begin();
	mlogf(MLOG_PKG_SMTPSERVER, MLOG_INFO, 0x1a,
	      "new connection listener=%s remote=%s", "smtp", "127.0.0.1:1234");
	mlogf(MLOG_PKG_SMTPSERVER, MLOG_DEBUG, 1, "not shown");
	mlogf(MLOG_PKG_STORE, MLOG_ERROR, 0, "quote \" and\nnewline user=a\r\nb");
	mlog("error", 7, "old style %d", 42);
	mlog("debug", 7, "old style hidden");
	mlogf(MLOG_PKG_DNS, MLOG_PRINT, 0, "always");
	const char *out = capture_end();
	assert_non_null(strstr(out,
	                       " l=info m=\"new connection\" pkg=smtpserver cid=1a "
	                       "listener=smtp remote=127.0.0.1:1234\n"));
	assert_null(strstr(out, "not shown"));
	assert_non_null(strstr(out, " l=error m=\"quote \\\" and\\nnewline\" pkg=store "
	                            "user=a\\r\\nb\n"));
	assert_non_null(strstr(out, " l=error m=\"old style 42\" pkg=mox cid=7\n"));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, " l=print m=\"always\" pkg=dns\n"));
	/* Every line starts with a timestamp like 2026-11-25T02:37:38.123Z. */
	int lines = 0;
	for (const char *p = out; *p; p = strchr(p, '\n') + 1) {
		assert_true(strlen(p) > 25);
		assert_int_equal(p[4], '-');
		assert_int_equal(p[10], 'T');
		assert_int_equal(p[23], 'Z');
		lines++;
	}
	assert_int_equal(lines, 4);
}

/* As mox: at trace, data is "..." and auth "***"; traceauth shows auth,
 * tracedata shows all; below trace nothing. */
static void
test_trace(void **state)
{
	(void)state;
	char err[64];
	static const uint8_t cmd[] = "EHLO x\r\n", auth[] = "AHVzZXIAcGFzcw==\r\n",
	                     data[] = "Subject: hi\r\n";
	static const struct {
		const char *conf;
		bool cmd, auth_shown, auth_hidden, data_shown, data_hidden;
	} cases[] = {
	    {"info", false, false, false, false, false},
	    {"debug;imapserver=trace", false, false, false, false, false},
	    {"smtpserver=trace", true, false, true, false, true},
	    {"smtpserver=traceauth", true, true, false, false, true},
	    {"smtpserver=tracedata", true, true, false, true, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(mlog_configure(cases[i].conf, err, sizeof(err)), 0);
		capture_begin();
		mlog_trace(MLOG_PKG_SMTPSERVER, MLOG_TRACE, 3, "C: ", cmd,
		           sizeof(cmd) - 1);
		mlog_trace(MLOG_PKG_SMTPSERVER, MLOG_TRACEAUTH, 3, "C: ", auth,
		           sizeof(auth) - 1);
		mlog_trace(MLOG_PKG_SMTPSERVER, MLOG_TRACEDATA, 3, "C: ", data,
		           sizeof(data) - 1);
		const char *out = capture_end();
		assert_int_equal(strstr(out, "m=\"C: EHLO x\" pkg=smtpserver cid=3") !=
		                     NULL,
		                 cases[i].cmd);
		assert_int_equal(strstr(out, "AHVzZXIAcGFzcw==") != NULL,
		                 cases[i].auth_shown);
		assert_int_equal(strstr(out, "l=traceauth m=\"C: ***\"") != NULL,
		                 cases[i].auth_hidden);
		assert_int_equal(strstr(out, "Subject: hi") != NULL,
		                 cases[i].data_shown);
		assert_int_equal(strstr(out, "l=tracedata m=\"C: ...\"") != NULL,
		                 cases[i].data_hidden);
	}
	reset();
}

/* A long line is cut, never overflows, and still ends in a newline. */
static void
test_long(void **state)
{
	(void)state;
	reset();
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_begin();
	mlogf(MLOG_PKG_MOX, MLOG_INFO, 0, "long %s", big);
	uint8_t bin[3000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	mlog_configure("trace", NULL, 0);
	mlog_trace(MLOG_PKG_MOX, MLOG_TRACE, 0, "C: ", bin, sizeof(bin));
	const char *out = capture_end();
	const char *nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_true(nl - out < 2048);
	assert_non_null(strchr(nl + 1, '\n'));
	assert_non_null(strstr(out, "\\x00\\x01"));
	assert_non_null(strstr(out, "\\x7f\\x80\\x81")); /* not UTF-8 */
	capture_begin();
	static const uint8_t utf8[] =
	    "C\xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98\x80 \xc0\xaf";
	mlog_trace(MLOG_PKG_MOX, MLOG_TRACE, 0, "C: ", utf8, sizeof(utf8) - 1);
	out = capture_end();
	/* Valid UTF-8 as is; a surrogate and an overlong form escaped. */
	assert_non_null(strstr(
	    out, "m=\"C: C\xc3\xa9 \\xed\\xa0\\x80 \xf0\x9f\x98\x80 \\xc0\\xaf\""));
	reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_configure),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_trace),
	    cmocka_unit_test(test_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
