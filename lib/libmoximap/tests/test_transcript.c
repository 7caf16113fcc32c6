/* Data-driven parser transcripts: tests/transcripts/<command>.txt.
 *
 * File format, one directive per line:
 *   # comment                 ignored
 *   F: LITERALPLUS UTF8 ...   parser flags (before any C: line)
 *   L: max_line=N max_literal=N max_depth=N max_args=N
 *   C: text                   client bytes: text and CRLF
 *   B: text                   client bytes with \r \n \\ \xHH escapes, no
 *                             CRLF added
 *   E: line                   expected event, in order:
 *        "+"                  continuation request
 *        "<tag> NAME ..."     a command, as mox_imap_cmd_format gives it
 *        "S: <response>"      a refusal, as mox_imap_write_reject writes it
 *                             (CRLF between lines shown as " | ")
 *        "LINE: text"         a raw line (after AUTHENTICATE or IDLE, the
 *                             runner switches the parser to line mode, as a
 *                             server does)
 *        "DATA: i size bytes" a streamed APPEND literal (F: APPENDSTREAM),
 *                             message i of size octets; the chunks of one
 *                             literal are joined, as they differ per split
 *
 * Each transcript is run three ways: all bytes in one feed, one byte per
 * feed, and split in two at every offset. All must give exactly the
 * expected events (STYLE.md section 10: split-input tests).
 * With MOX_IMAP_TRANSCRIPT_PRINT=1 the actual events are printed. */
#include <mox/imap.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct script {
	char name[256];
	unsigned flags;
	mox_imap_limits lim;
	mox_buf input;
	char **expect;
	size_t nexpect;
} script;

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
load(script *s, const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", path);
	mox_buf_init(&s->input, NULL);
	char line[70000];
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		assert_true(n >= 2 && line[1] == ':');
		const char *v = line[2] == ' ' ? line + 3 : line + 2;
		switch (line[0]) {
		case 'F':
			if (strstr(v, "LITERALPLUS"))
				s->flags |= MOX_IMAP_LITERALPLUS;
			if (strstr(v, "LITERALMINUS"))
				s->flags |= MOX_IMAP_LITERALMINUS;
			if (strstr(v, "UTF8"))
				s->flags |= MOX_IMAP_UTF8;
			if (strstr(v, "APPENDSTREAM"))
				s->flags |= MOX_IMAP_APPEND_STREAM;
			break;
		case 'L': {
			const char *p;
			if ((p = strstr(v, "max_line=")))
				s->lim.max_line = strtoul(p + 9, NULL, 10);
			if ((p = strstr(v, "max_literal=")))
				s->lim.max_literal = strtoul(p + 12, NULL, 10);
			if ((p = strstr(v, "max_depth=")))
				s->lim.max_depth = strtoul(p + 10, NULL, 10);
			if ((p = strstr(v, "max_args=")))
				s->lim.max_args = strtoul(p + 9, NULL, 10);
			break;
		}
		case 'C':
			assert_int_equal(mox_buf_append_str(&s->input, v), MOX_OK);
			assert_int_equal(mox_buf_append_str(&s->input, "\r\n"), MOX_OK);
			break;
		case 'B':
			for (const char *p = v; *p; p++) {
				uint8_t c = (uint8_t)*p;
				if (*p == '\\') {
					p++;
					if (*p == 'r')
						c = '\r';
					else if (*p == 'n')
						c = '\n';
					else if (*p == 'x') {
						c = (uint8_t)(hexval(p[1]) * 16 + hexval(p[2]));
						p += 2;
					} else
						c = (uint8_t)*p;
				}
				assert_int_equal(mox_buf_append_byte(&s->input, c), MOX_OK);
			}
			break;
		case 'E':
			s->expect = realloc(s->expect, (s->nexpect + 1) * sizeof(*s->expect));
			assert_non_null(s->expect);
			s->expect[s->nexpect++] = strdup(v);
			break;
		default:
			fail_msg("%s: bad directive %s", path, line);
		}
	}
	fclose(f);
}

static void
script_free(script *s)
{
	for (size_t i = 0; i < s->nexpect; i++)
		free(s->expect[i]);
	free(s->expect);
	mox_buf_free(&s->input);
}

typedef struct events {
	char **ev;
	size_t n;
} events;

static void
ev_add(events *e, const char *s)
{
	e->ev = realloc(e->ev, (e->n + 1) * sizeof(*e->ev));
	assert_non_null(e->ev);
	e->ev[e->n++] = strdup(s);
}

static void
ev_free(events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->ev[i]);
	free(e->ev);
	e->ev = NULL;
	e->n = 0;
}

static void
drain(mox_imap_parser *p, events *e)
{
	for (;;) {
		mox_imap_event ev;
		mox_err err = mox_imap_parser_next(p, &ev);
		if (err == MOX_EAGAIN)
			return;
		assert_int_equal(err, MOX_OK);
		mox_buf b = MOX_BUF_INIT;
		switch (ev.type) {
		case MOX_IMAP_EV_CONTINUE:
			ev_add(e, "+");
			break;
		case MOX_IMAP_EV_COMMAND:
			assert_int_equal(mox_imap_cmd_format(ev.cmd, &b), MOX_OK);
			ev_add(e, (const char *)b.data);
			if ((ev.cmd->type == MOX_IMAP_CMD_AUTHENTICATE && !ev.cmd->has_initial) ||
			    ev.cmd->type == MOX_IMAP_CMD_IDLE)
				mox_imap_parser_expect_line(p);
			break;
		case MOX_IMAP_EV_REJECT: {
			assert_int_equal(mox_buf_append_str(&b, "S: "), MOX_OK);
			assert_int_equal(mox_imap_write_reject(&b, &ev.reject), MOX_OK);
			/* Show CRLFs between lines as " | ", drop the last. */
			mox_buf o = MOX_BUF_INIT;
			for (size_t i = 0; i < b.len; i++) {
				if (b.data[i] == '\r' && i + 1 < b.len && b.data[i + 1] == '\n') {
					if (i + 2 < b.len)
						assert_int_equal(mox_buf_append_str(&o, " | "), MOX_OK);
					i++;
				} else {
					assert_int_equal(mox_buf_append_byte(&o, b.data[i]), MOX_OK);
				}
			}
			ev_add(e, (const char *)o.data);
			mox_buf_free(&o);
			break;
		}
		case MOX_IMAP_EV_APPEND_DATA:
			if (ev.append_offset > 0) {
				/* Join with the previous chunk of this literal. */
				assert_true(e->n > 0 && strncmp(e->ev[e->n - 1], "DATA: ", 6) == 0);
				assert_int_equal(mox_buf_append_str(&b, e->ev[e->n - 1]), MOX_OK);
				free(e->ev[--e->n]);
			} else {
				assert_int_equal(mox_buf_appendf(&b, "DATA: %zu %llu ", ev.append_index,
								 (unsigned long long)ev.append_size),
						 MOX_OK);
			}
			assert_true(ev.line_len > 0);
			for (size_t i = 0; i < ev.line_len; i++) {
				uint8_t c = ev.line[i];
				if (c >= 0x20 && c < 0x7f)
					assert_int_equal(mox_buf_append_byte(&b, c), MOX_OK);
				else
					assert_int_equal(mox_buf_appendf(&b, "\\x%02x", c), MOX_OK);
			}
			ev_add(e, (const char *)b.data);
			break;
		case MOX_IMAP_EV_LINE:
			assert_int_equal(mox_buf_append_str(&b, "LINE: "), MOX_OK);
			assert_int_equal(mox_buf_append(&b, ev.line, ev.line_len), MOX_OK);
			ev_add(e, (const char *)b.data);
			break;
		}
		mox_buf_free(&b);
	}
}

/* Feed input in chunks: the first at split (0: one feed), or one byte at a
 * time when bytewise. */
static void
run(const script *s, size_t split, bool bytewise, events *e)
{
	mox_imap_parser_opts o = {.size = sizeof(o), .flags = s->flags, .limits = s->lim};
	mox_imap_parser *p = NULL;
	assert_int_equal(mox_imap_parser_new(&p, &o), MOX_OK);
	const uint8_t *d = s->input.data;
	size_t n = s->input.len;
	if (bytewise) {
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(mox_imap_parser_feed(p, d + i, 1), MOX_OK);
			drain(p, e);
		}
	} else {
		if (split > 0) {
			assert_int_equal(mox_imap_parser_feed(p, d, split), MOX_OK);
			drain(p, e);
		}
		assert_int_equal(mox_imap_parser_feed(p, d + split, n - split), MOX_OK);
		drain(p, e);
	}
	assert_int_equal(mox_imap_parser_pending(p), 0);
	mox_imap_parser_free(p);
}

static void
compare(const script *s, const events *e, const char *how)
{
	bool same = e->n == s->nexpect;
	for (size_t i = 0; same && i < e->n; i++)
		same = strcmp(e->ev[i], s->expect[i]) == 0;
	if (same)
		return;
	fprintf(stderr, "%s (%s): events differ\n", s->name, how);
	for (size_t i = 0; i < e->n || i < s->nexpect; i++)
		fprintf(stderr, "  %c want: %s\n    got:  %s\n",
			i < e->n && i < s->nexpect && strcmp(e->ev[i], s->expect[i]) == 0 ? ' ' : '!',
			i < s->nexpect ? s->expect[i] : "(none)", i < e->n ? e->ev[i] : "(none)");
	fail_msg("%s: transcript mismatch", s->name);
}

static char **files;
static size_t nfiles;

static void
test_transcripts(void **state)
{
	(void)state;
	const char *print = getenv("MOX_IMAP_TRANSCRIPT_PRINT");
	size_t nevents = 0;
	for (size_t i = 0; i < nfiles; i++) {
		script s;
		load(&s, files[i]);
		events e = {0};
		run(&s, 0, false, &e);
		if (print != NULL && *print == '1') {
			printf("== %s\n", files[i]);
			for (size_t k = 0; k < e.n; k++)
				printf("E: %s\n", e.ev[k]);
		} else {
			assert_true(s.nexpect > 0);
			compare(&s, &e, "one feed");
		}
		nevents += e.n;
		ev_free(&e);
		if (print == NULL) {
			run(&s, 0, true, &e);
			compare(&s, &e, "byte by byte");
			ev_free(&e);
			for (size_t k = 1; k < s.input.len; k++) {
				run(&s, k, false, &e);
				char how[64];
				snprintf(how, sizeof(how), "split at %zu", k);
				compare(&s, &e, how);
				ev_free(&e);
			}
		}
		script_free(&s);
	}
	printf("transcripts: %zu files, %zu events\n", nfiles, nevents);
	assert_true(nfiles >= 10);
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	const char *dir = MOX_SOURCE_DIR "/lib/libmoximap/tests/transcripts";
	DIR *d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "no %s\n", dir);
		return 1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
			continue;
		files = realloc(files, (nfiles + 1) * sizeof(*files));
		char *p = malloc(strlen(dir) + n + 2);
		if (files == NULL || p == NULL)
			return 1;
		sprintf(p, "%s/%s", dir, de->d_name);
		files[nfiles++] = p;
	}
	closedir(d);
	qsort(files, nfiles, sizeof(*files), cmp);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcripts),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return r;
}
