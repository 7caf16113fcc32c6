/* Import and export round trips with ../shared/testdata/messages:
 *   - maildir: messages (LF line endings, as maildirs have them) with
 *     flags in their names and keywords through dovecot-keywords are
 *     imported, exported as a maildir, and each exported file is byte for
 *     byte one of the originals, with the same flags and keywords;
 *   - mox's own import fixtures: every message imported, keywords kept;
 *   - mbox: imported and exported, the export equals the original byte
 *     for byte once the flag fields (Status, X-Status, X-Keywords,
 *     Content-Length, which export rewrites) and the "From " lines'
 *     sender/date are set aside; and a second import/export gives the
 *     first export back exactly.
 * Also: progress reports and summaries, skipped messages, refusal to
 * overwrite, errors.txt for messages whose file went missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"
#include "mox_testfile.h"

#include <dirent.h>

static size_t reports;

static void
rep(void *arg, int level, const char *msg)
{
	(void)arg;
	reports++;
	if (getenv("VERBOSE") != NULL)
		fprintf(stderr, "[%d] %s\n", level, msg);
}

static char *
read_file(const char *path, size_t *len)
{
	char *d = mox_test_read_file(path, len);
	if (d == NULL)
		fail_msg("reading %s", path);
	return d;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* CRLF to LF, as a maildir would hold the message. */
static size_t
to_lf(char *d, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
			continue;
		d[o++] = d[i];
	}
	return o;
}

static int
cmpw(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort space separated words in place. */
static void
sort_words(char *s)
{
	char *w[32], copy[512];
	size_t n = 0;
	snprintf(copy, sizeof(copy), "%s", s);
	for (char *t = strtok(copy, " "); t != NULL && n < 32; t = strtok(NULL, " "))
		w[n++] = t;
	qsort(w, n, sizeof(*w), cmpw);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, w[i]);
	}
}

struct file {
	char *data;
	size_t len;
	char flags[16];
	bool matched;
};

static void
test_maildir_roundtrip(void **state)
{
	(void)state;
	static const char *const srcs[] = {
	    "synthetic/malformed-bad-base64-and-cte.eml",
	    "synthetic/malformed-bare-lf.eml",
	    "synthetic/malformed-boundary-prefix.eml",
	    "synthetic/malformed-content-type-variants.eml",
	    "synthetic/malformed-empty-body-and-header-only.eml",
	    "synthetic/malformed-header-no-colon.eml",
	    "synthetic/malformed-long-header-line.eml",
	    "synthetic/malformed-missing-final-boundary.eml",
	    "synthetic/malformed-nul-and-8bit-latin1-header.eml",
	    "synthetic/message-global.eml",
	    "synthetic/nested-rfc822-alternative.eml",
	    "synthetic/rfc2047-encoded-words.eml",
	    "synthetic/rfc2231-params.eml",
	    "synthetic/smtputf8-headers.eml",
	    "mox/message/message-rfc822-multipart.eml",
	    "mox/message/message-rfc822-multipart2.eml",
	    "mox/junk/parse.eml",
	};
	/* Flags per message, cycling: maildir letters and keyword letters. */
	static const char *const flagsets[] = {"",   "S",  "RS",  "FS",
	                                       "DT", "Sa", "Sbc", "Fac"};
	enum { N = sizeof(srcs) / sizeof(srcs[0]) };
	char dir[4096], p[4096], q[4096];
	struct file orig[N];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	st_path(p, sizeof(p), "%s/src", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/src/cur", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/src/new", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(p, sizeof(p), "%s/src/dovecot-keywords", dir);
	write_file(p, "0 $Junk\n1 Work\n2 todo\n", 22);
	size_t n = 0;
	for (size_t i = 0; i < N; i++) {
		st_path(p, sizeof(p), "%s/messages/%s", MOX_TESTDATA_DIR, srcs[i]);
		size_t len;
		char *d = mox_test_read_file(p, &len);
		if (d == NULL)
			continue; /* a fixture missing from this snapshot */
		len = to_lf(d, len);
		orig[n] = (struct file){.data = d, .len = len};
		snprintf(orig[n].flags, sizeof(orig[n].flags), "%s", flagsets[n % 8]);
		st_path(q, sizeof(q), "%s/src/%s/%zu.%zu.test:2,%s", dir,
		        strchr(orig[n].flags, 'S') ? "cur" : "new", 1600000000 + n, n,
		        orig[n].flags);
		write_file(q, d, len);
		n++;
	}
	assert_true(n >= 14);

	mox_store *st = st_open(dir, "rt");
	mox_store_import_opts io = {
	    .size = sizeof(io), .report = rep, .progress_every = 5};
	mox_store_import_result ir;
	reports = 0;
	st_path(p, sizeof(p), "%s/src", dir);
	assert_int_equal(
	    mox_store_import(st, MOX_STORE_MAILDIR, "Imported/Maildir", p, &io, &ir),
	    MOX_OK);
	assert_int_equal(ir.imported, n);
	assert_int_equal(ir.skipped, 0);
	assert_true(reports >= 3); /* progress lines and the summary */

	/* Flags and keywords as the names said. */
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Imported/Maildir", &mb), MOX_OK);
	assert_int_equal(mb.counts.total + mb.counts.deleted, n);
	assert_true(mb.subscribed);
	mox_store_msginfo mi;
	/* Message 7 ("Fac", in new/ since not seen, so imported first... find
	 * it by received time). */
	bool found = false;
	for (uint32_t uid = 1; uid <= n; uid++) {
		assert_int_equal(mox_store_tx_get(tx, mb.id, uid, &mi), MOX_OK);
		if (mi.received == 1600000007) {
			assert_int_equal(mi.flags, MOX_STORE_FLAGGED | MOX_STORE_JUNK);
			assert_string_equal(mi.keywords, "todo");
			found = true;
		}
		if (mi.received == 1600000006)
			assert_string_equal(mi.keywords, "todo work");
	}
	assert_true(found);
	mox_store_tx_rollback(tx);

	/* Export and compare. */
	mox_store_export_opts eo = {.size = sizeof(eo), .report = rep};
	mox_store_export_result er;
	st_path(p, sizeof(p), "%s/out", dir);
	assert_int_equal(
	    mox_store_export(st, MOX_STORE_MAILDIR, p, "Imported/Maildir", &eo, &er),
	    MOX_OK);
	assert_int_equal(er.messages, n);
	assert_int_equal(er.errors, 0);
	/* Exporting again into the same place does not overwrite. */
	assert_int_equal(
	    mox_store_export(st, MOX_STORE_MAILDIR, p, "Imported/Maildir", &eo, &er),
	    MOX_EEXIST);
	assert_int_equal(mox_store_export(st, MOX_STORE_MAILDIR, p, "Nope", &eo, &er),
	                 MOX_ENOTFOUND);

	st_path(p, sizeof(p), "%s/out/Imported/Maildir/dovecot-keywords", dir);
	size_t kl;
	char *kwfile = read_file(p, &kl);
	char *kwmap[26];
	size_t bad;
	assert_int_equal(
	    mox_store_dovecot_keywords_parse((uint8_t *)kwfile, kl, NULL, kwmap, &bad),
	    MOX_OK);
	assert_int_equal(bad, 0);
	size_t matched = 0;
	static const char *const subs[] = {"cur", "new"};
	for (int s = 0; s < 2; s++) {
		st_path(p, sizeof(p), "%s/out/Imported/Maildir/%s", dir, subs[s]);
		DIR *d = opendir(p);
		assert_non_null(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			st_path(q, sizeof(q), "%s/%s", p, e->d_name);
			size_t len;
			char *data = read_file(q, &len);
			/* Same flags: from the exported name vs the original's. */
			long long recv = strtoll(e->d_name, NULL, 10);
			size_t idx = (size_t)(recv - 1600000000);
			assert_true(idx < n);
			assert_false(orig[idx].matched);
			if (len != orig[idx].len ||
			    memcmp(data, orig[idx].data, len) != 0)
				fail_msg("%s differs from original %zu", e->d_name,
				         idx);
			unsigned f1, f2;
			mox_buf k1 = MOX_BUF_INIT, k2 = MOX_BUF_INIT;
			const char *okw[26] = {"$junk", "work", "todo"};
			char oname[64];
			snprintf(oname, sizeof(oname), "x:2,%s", orig[idx].flags);
			assert_int_equal(
			    mox_store_maildir_flags(oname, okw, 26, &f1, &k1), MOX_OK);
			assert_int_equal(
			    mox_store_maildir_flags(
			        e->d_name, (const char *const *)kwmap, 26, &f2, &k2),
			    MOX_OK);
			assert_int_equal(f1, f2);
			mox_buf_append(&k1, "", 0);
			mox_buf_append(&k2, "", 0);
			/* Letters differ between the files; the sets must not. */
			sort_words((char *)k1.data);
			sort_words((char *)k2.data);
			assert_string_equal((char *)k1.data, (char *)k2.data);
			mox_buf_free(&k1);
			mox_buf_free(&k2);
			orig[idx].matched = true;
			matched++;
			free(data);
		}
		closedir(d);
	}
	assert_int_equal(matched, n);
	mox_store_keywords_free(NULL, kwmap);
	free(kwfile);
	for (size_t i = 0; i < n; i++)
		free(orig[i].data);

	/* mox's fixture: all messages, keywords kept. */
	st_path(p, sizeof(p), "%s/messages/mox/import/maildir", MOX_TESTDATA_DIR);
	assert_int_equal(
	    mox_store_import(st, MOX_STORE_MAILDIR, "Fixture", p, &io, &ir), MOX_OK);
	assert_int_equal(ir.imported, 2);
	/* An empty maildir (empty cur/ and new/): nothing, no error. */
	st_path(p, sizeof(p), "%s/empty", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	st_path(q, sizeof(q), "%s/empty/cur", dir);
	assert_int_equal(mkdir(q, 0700), 0);
	st_path(q, sizeof(q), "%s/empty/new", dir);
	assert_int_equal(mkdir(q, 0700), 0);
	assert_int_equal(mox_store_import(st, MOX_STORE_MAILDIR, "Empty", p, &io, &ir),
	                 MOX_OK);
	assert_int_equal(ir.imported, 0);
	/* Not a maildir. */
	st_path(p, sizeof(p), "%s/messages/synthetic", MOX_TESTDATA_DIR);
	assert_int_equal(mox_store_import(st, MOX_STORE_MAILDIR, "X", p, &io, &ir),
	                 MOX_ENOTFOUND);
	mox_store_close(st);

	mox_store_verify_result vr;
	assert_int_equal(mox_store_verify(dir, NULL, &vr), MOX_OK);
	assert_int_equal(vr.errors + vr.unknown_files + vr.tmp_files, 0);
	st_rmrf(dir);
}

/* Flag fields out of header sections, "From " lines cut to "From",
 * trailing empty lines at the end dropped. */
static size_t
normalize_mbox(char *d, size_t len)
{
	size_t o = 0, i = 0;
	bool header = false, skipping = false;
	while (i < len) {
		size_t e = i;
		while (e < len && d[e] != '\n')
			e++;
		size_t ll = e < len ? e - i + 1 : e - i;
		char *line = d + i;
		bool keep = true;
		if (ll >= 5 && memcmp(line, "From ", 5) == 0 &&
		    (o == 0 || (o >= 2 && d[o - 1] == '\n' && d[o - 2] == '\n'))) {
			memmove(d + o, "From\n", 5);
			o += 5;
			header = true;
			skipping = false;
			i += ll;
			continue;
		}
		if (header) {
			if (ll == 1 && line[0] == '\n') {
				header = false;
			} else if (skipping && (line[0] == ' ' || line[0] == '\t')) {
				keep = false;
			} else {
				skipping = false;
				static const char *const names[] = {
				    "status:", "x-status:", "x-keywords:",
				    "content-length:"};
				for (int k = 0; k < 4 && !skipping; k++) {
					size_t nl = strlen(names[k]);
					skipping = ll >= nl &&
					           strncasecmp(line, names[k], nl) == 0;
				}
				keep = !skipping;
			}
		}
		if (keep) {
			memmove(d + o, line, ll);
			o += ll;
		}
		i += ll;
	}
	while (o >= 2 && d[o - 1] == '\n' && d[o - 2] == '\n')
		o--;
	return o;
}

static void
test_mbox_roundtrip(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		size_t messages;
	} files[] = {
	    {"mox/imaptest.mbox", 48},
	    {"mox/import/importtest.mbox", 2},
	    {"mimekit/mbox/issue1189.mbox.txt", 4},
	};
	char dir[4096], p[4096], q[4096];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
		mox_store *st = st_open(dir, "a");
		mox_store_import_opts io = {.size = sizeof(io), .report = rep};
		mox_store_import_result ir;
		st_path(p, sizeof(p), "%s/messages/%s", MOX_TESTDATA_DIR,
		        files[i].file);
		assert_int_equal(
		    mox_store_import(st, MOX_STORE_MBOX, "Box", p, &io, &ir), MOX_OK);
		assert_int_equal(ir.imported, files[i].messages);
		mox_store_export_opts eo = {.size = sizeof(eo), .report = rep};
		mox_store_export_result er;
		st_path(q, sizeof(q), "%s/out1", dir);
		assert_int_equal(
		    mox_store_export(st, MOX_STORE_MBOX, q, "Box", &eo, &er), MOX_OK);
		assert_int_equal(er.messages, files[i].messages);
		assert_int_equal(er.mailboxes, 1);
		mox_store_close(st);

		size_t ol, el;
		char *o = read_file(p, &ol);
		st_path(q, sizeof(q), "%s/out1/Box.mbox", dir);
		char *e = read_file(q, &el);
		size_t on = normalize_mbox(o, ol), en = normalize_mbox(e, el);
		if (on != en || memcmp(o, e, on) != 0) {
			size_t k = 0;
			while (k < on && k < en && o[k] == e[k])
				k++;
			fail_msg(
			    "%s: export differs at byte %zu: \"%.40s\" vs \"%.40s\"",
			    files[i].file, k, o + k, e + k);
		}
		free(o);
		free(e);

		/* The export imported and exported again: the same bytes. */
		st = st_open(dir, "b");
		assert_int_equal(
		    mox_store_import(st, MOX_STORE_MBOX, "Box", q, &io, &ir), MOX_OK);
		assert_int_equal(ir.imported, files[i].messages);
		st_path(p, sizeof(p), "%s/out2", dir);
		assert_int_equal(
		    mox_store_export(st, MOX_STORE_MBOX, p, NULL, &eo, &er), MOX_OK);
		mox_store_close(st);
		e = read_file(q, &el);
		st_path(p, sizeof(p), "%s/out2/Box.mbox", dir);
		o = read_file(p, &ol);
		assert_int_equal(ol, el);
		assert_memory_equal(o, e, el);
		free(o);
		free(e);
		st_rmrf(dir);
	}
}

static void
test_flags_mbox(void **state)
{
	(void)state;
	char dir[4096], p[4096];
	assert_int_equal(st_tmpdir(dir, sizeof(dir)), 0);
	mox_store *st = st_open(dir, "f");
	st_path(p, sizeof(p), "%s/messages/mox/import/importtest.mbox",
	        MOX_TESTDATA_DIR);
	mox_store_import_result ir;
	assert_int_equal(mox_store_import(st, MOX_STORE_MBOX, "Inbox", p, NULL, &ir),
	                 MOX_OK);
	mox_store_tx *tx = NULL;
	mox_store_mailbox mb;
	mox_store_msginfo mi;
	assert_int_equal(mox_store_tx_begin(st, MOX_STORE_TX_READ, NULL, &tx), MOX_OK);
	assert_int_equal(mox_store_tx_mailbox_get(tx, "Inbox", &mb), MOX_OK);
	assert_int_equal(mox_store_tx_get(tx, mb.id, 1, &mi), MOX_OK);
	/* Status: RO, X-Status: AFTD, X-Keywords: $NotJunk,$Forwarded. */
	assert_int_equal(mi.flags, MOX_STORE_SEEN | MOX_STORE_ANSWERED |
	                               MOX_STORE_FLAGGED | MOX_STORE_DRAFT |
	                               MOX_STORE_DELETED | MOX_STORE_NOTJUNK |
	                               MOX_STORE_FORWARDED);
	assert_int_equal(mi.received, 1642970515); /* Sun Jan 23 20:41:55 2022 */
	mox_store_tx_rollback(tx);
	/* A missing file: exported without it, listed in errors.txt. */
	char rel[32];
	mox_store_message_path(mi.id, rel);
	st_path(p, sizeof(p), "%s/accounts/f/msg/%s", dir, rel);
	assert_int_equal(unlink(p), 0);
	mox_store_export_result er;
	st_path(p, sizeof(p), "%s/out", dir);
	assert_int_equal(mox_store_export(st, MOX_STORE_MBOX, p, NULL, NULL, &er),
	                 MOX_OK);
	assert_int_equal(er.errors, 1);
	assert_int_equal(er.messages, 1);
	assert_int_equal(er.mailboxes, 6);
	st_path(p, sizeof(p), "%s/out/errors.txt", dir);
	size_t len;
	char *d = read_file(p, &len);
	assert_non_null(strstr(d, "skipped"));
	free(d);
	/* Not an mbox: nothing imported. */
	st_path(p, sizeof(p), "%s/messages/synthetic/rfc2231-params.eml",
	        MOX_TESTDATA_DIR);
	assert_int_equal(mox_store_import(st, MOX_STORE_MBOX, "Inbox", p, NULL, &ir),
	                 MOX_ESYNTAX);
	assert_int_equal(ir.imported, 0);
	mox_store_close(st);
	st_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_maildir_roundtrip),
	    cmocka_unit_test(test_mbox_roundtrip),
	    cmocka_unit_test(test_flags_mbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
