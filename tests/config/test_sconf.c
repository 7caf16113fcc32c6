/* Unit tests for the sconf tree (server/sconf.c): byte-identical round
 * trips, errors at the right line, and edits that keep comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "sconf.h"

static char *
slurp(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	*len_out = (size_t)n;
	return s;
}

static void
roundtrip(const char *text, size_t len)
{
	mox_sconf_doc *doc = NULL;
	mox_sconf_error err;
	mox_err rc = mox_sconf_parse(text, len, "t", &doc, &err);
	if (rc != MOX_OK)
		fail_msg("parse: line %zu: %s", err.line, err.msg);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_sconf_write(doc, &b), MOX_OK);
	assert_int_equal(b.len, len);
	if (len > 0)
		assert_memory_equal(b.data, text, len);
	mox_buf_free(&b);
	mox_sconf_free(doc);
}

static void
test_roundtrip_inline(void **state)
{
	(void)state;
	static const char *const inputs[] = {
	    "",
	    "\n\n",
	    "# only a comment",
	    "# only a comment\n",
	    "Key: value\n",
	    "Key: value",                  /* no final newline */
	    "Key: value with  spaces  \n", /* trailing space kept */
	    "Key: \n",                     /* empty value, with space */
	    "A:\n\tB: 1\n\tC:\n\t\t- x\n\t\t-\n\t\t- y z\n",
	    "A:\n    B: 1\n    C:\n        - x\n", /* four spaces as tabs */
	    "# top\n\nA:\n\t# inner\n\n\tB: 1\n# trailer\n\n",
	    "L:\n\t-\n\t\tX: 1\n\t\tY: 2\n\t-\n\t\tX: 3\n",
	    "Key: value\r\n", /* CR stays part of the value, as sconf */
	    "  # indented comment\nK: v\n\t\t# deeper comment\n",
	    "M:\n\ta@b.example: nil\n\t@c.example:\n\t\tMailbox: x\n",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
		roundtrip(inputs[i], strlen(inputs[i]));
}

static void
test_roundtrip_files(void **state)
{
	(void)state;
	static const char *const files[] = {"mox.conf", "domains.conf",
	                                    "webhandlers.conf"};
	char path[1024];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/tests/config/data/%s", MOX_SOURCE_DIR,
		         files[i]);
		size_t len;
		char *s = slurp(path, &len);
		roundtrip(s, len);
		free(s);
	}
}

/* The describe outputs are sconf too and must parse and write back. */
static void
test_roundtrip_describe(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_config_describe_static(&b), MOX_OK);
	assert_true(b.len > 10000);
	roundtrip((const char *)b.data, b.len);
	mox_buf_reset(&b);
	assert_int_equal(mox_config_describe_domains(&b), MOX_OK);
	assert_true(b.len > 10000);
	roundtrip((const char *)b.data, b.len);
	mox_buf_free(&b);
}

static void
test_tree_shape(void **state)
{
	(void)state;
	const char *text = "# c\nA: 1\nB:\n\t- x\n\t-\n\t\tC: 2\n    D: y\n";
	mox_sconf_doc *doc = NULL;
	assert_int_equal(mox_sconf_parse(text, strlen(text), "t", &doc, NULL), MOX_OK);
	mox_sconf_node *a = mox_sconf_child(&doc->root, "A");
	assert_non_null(a);
	assert_string_equal(a->value, "1");
	assert_int_equal(a->line, 2);
	mox_sconf_node *b = mox_sconf_child(&doc->root, "B");
	assert_int_equal(mox_sconf_count(b), 3);
	assert_int_equal(b->first->kind, MOX_SCONF_ITEM);
	assert_string_equal(b->first->value, "x");
	assert_int_equal(b->first->next->kind, MOX_SCONF_ITEM);
	assert_string_equal(b->first->next->value, "");
	assert_string_equal(mox_sconf_child(b->first->next, "C")->value, "2");
	/* "    D" is one level (four spaces), so a child of B. */
	assert_string_equal(b->last->key, "D");
	assert_int_equal(b->last->line, 7);
	mox_sconf_free(doc);
}

struct badcase {
	const char *text;
	size_t line;
	const char *msg;
};

static void
test_errors(void **state)
{
	(void)state;
	static const struct badcase cases[] = {
	    {"A: 1\nB\n", 2, "missing colon"},
	    {"A: 1\n\t\tB: 2\n", 2, "unexpected indent"},
	    {"A:\n\t\tB: 2\n", 2, "unexpected indent"},
	    {"A: 1\n\tB: 2\n", 2, "already has a value"},
	    {"A:x\n", 1, "missing space after colon"},
	    {": x\n", 1, "empty key"},
	    {" A: x\n", 1, "key starting with space"},
	    {"A:\n\t\n", 2, "stray whitespace"},
	    {"A: 1\n# c\nB: 2\nA: 3\n", 4, "duplicate key \"A\""},
	    {"M:\n\tx: 1\n\ty: 2\n\tx: 3\nN:\n\tz: 1\n\tz: 2\n", 4,
	     "duplicate key \"x\""},
	    {"A: 1\nB: a\0b\n", 2, "NUL"},
	    {"L:\n\t-x\n", 2, "missing colon"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct badcase *c = &cases[i];
		size_t len = strlen(c->text);
		if (strstr(c->msg, "NUL") != NULL)
			len = 12;
		mox_sconf_doc *doc = NULL;
		mox_sconf_error err;
		mox_err rc = mox_sconf_parse(c->text, len, "t", &doc, &err);
		assert_int_equal(rc, MOX_ESYNTAX);
		assert_null(doc);
		if (err.line != c->line || strstr(err.msg, c->msg) == NULL)
			fail_msg("case %zu: got line %zu \"%s\", want line %zu \"%s\"",
			         i, err.line, err.msg, c->line, c->msg);
	}
}

static void
test_limits(void **state)
{
	(void)state;
	/* One past the depth limit. */
	mox_buf b = MOX_BUF_INIT;
	for (unsigned d = 0; d <= MOX_SCONF_DEPTH_MAX + 1; d++) {
		for (unsigned i = 0; i < d; i++)
			assert_int_equal(mox_buf_append_byte(&b, '\t'), MOX_OK);
		assert_int_equal(mox_buf_append_str(&b, "K:\n"), MOX_OK);
	}
	mox_sconf_doc *doc = NULL;
	mox_sconf_error err;
	assert_int_equal(mox_sconf_parse((const char *)b.data, b.len, "t", &doc, &err),
	                 MOX_ELIMIT);
	assert_int_equal(err.line, MOX_SCONF_DEPTH_MAX + 2);
	/* At the limit it parses. */
	const char *last = strrchr((const char *)b.data, 'K');
	size_t cut = (size_t)(last - (const char *)b.data);
	while (cut > 0 && b.data[cut - 1] == '\t')
		cut--;
	assert_int_equal(mox_sconf_parse((const char *)b.data, cut, "t", &doc, &err),
	                 MOX_OK);
	mox_sconf_free(doc);
	mox_buf_free(&b);
	/* Size limit. */
	assert_int_equal(mox_sconf_parse("", MOX_SCONF_FILE_MAX + 1, "t", &doc, &err),
	                 MOX_ELIMIT);
}

static void
test_edits(void **state)
{
	(void)state;
	const char *text = "# header\n"
	                   "Accounts:\n"
	                   "\t# about a\n"
	                   "\ta:\n"
	                   "\t\tDomain: x.example\n"
	                   "\t# about b\n"
	                   "\tb:\n"
	                   "\t\tDomain: y.example  \n"
	                   "# end\n";
	mox_sconf_doc *doc = NULL;
	assert_int_equal(mox_sconf_parse(text, strlen(text), "t", &doc, NULL), MOX_OK);
	mox_sconf_node *acc = mox_sconf_child(&doc->root, "Accounts");
	mox_sconf_node *a = mox_sconf_child(acc, "a");
	mox_sconf_node *b = mox_sconf_child(acc, "b");
	assert_int_equal(mox_sconf_set_value(mox_sconf_child(a, "Domain"), "z.example"),
	                 MOX_OK);
	mox_sconf_remove(b);
	mox_sconf_node *c = NULL, *dests = NULL;
	assert_int_equal(
	    mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "c", NULL, "added", &c), MOX_OK);
	assert_int_equal(
	    mox_sconf_add(c, NULL, MOX_SCONF_KEY, "Destinations", "", NULL, &dests),
	    MOX_OK);
	assert_int_equal(
	    mox_sconf_add(dests, NULL, MOX_SCONF_KEY, "c@z.example", "nil", NULL, NULL),
	    MOX_OK);
	/* Bad input to the edit functions. */
	assert_int_equal(mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "x:y", "", NULL, NULL),
	                 MOX_EINVAL);
	assert_int_equal(
	    mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "x", "a\nb", NULL, NULL),
	    MOX_EINVAL);
	assert_int_equal(mox_sconf_set_value(c, "a\nb"), MOX_EINVAL);

	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(mox_sconf_write(doc, &out), MOX_OK);
	const char *want = "# header\n"
	                   "Accounts:\n"
	                   "\t# about a\n"
	                   "\ta:\n"
	                   "\t\tDomain: z.example\n"
	                   "\t# added\n"
	                   "\tc:\n"
	                   "\t\tDestinations:\n"
	                   "\t\t\tc@z.example: nil\n"
	                   "# end\n";
	assert_string_equal((const char *)out.data, want);
	mox_buf_free(&out);

	/* A file without final newline gets one before an added line. */
	mox_sconf_free(doc);
	assert_int_equal(mox_sconf_parse("A: 1", 4, "t", &doc, NULL), MOX_OK);
	assert_int_equal(
	    mox_sconf_add(&doc->root, NULL, MOX_SCONF_KEY, "B", "2", NULL, NULL),
	    MOX_OK);
	assert_int_equal(mox_sconf_write(doc, &out), MOX_OK);
	assert_string_equal((const char *)out.data, "A: 1\nB: 2\n");
	mox_buf_free(&out);

	/* Copy a subtree into another document, re-indented. */
	mox_sconf_doc *src = NULL;
	const char *stext = "X:\n\tY:\n\t\t- 1\n\t\t- 2\n";
	assert_int_equal(mox_sconf_parse(stext, strlen(stext), "s", &src, NULL),
	                 MOX_OK);
	mox_sconf_node *b2 = mox_sconf_child(&doc->root, "B");
	assert_int_equal(mox_sconf_set_value(b2, ""), MOX_OK);
	assert_int_equal(mox_sconf_copy(b2, mox_sconf_child(&src->root, "X"), NULL),
	                 MOX_OK);
	assert_int_equal(mox_sconf_write(doc, &out), MOX_OK);
	assert_string_equal((const char *)out.data,
	                    "A: 1\nB:\n\tX:\n\t\tY:\n\t\t\t- 1\n\t\t\t- 2\n");
	mox_buf_free(&out);
	mox_sconf_free(src);
	mox_sconf_free(doc);
}

static void
test_parse_file(void **state)
{
	(void)state;
	mox_sconf_doc *doc = NULL;
	mox_sconf_error err;
	assert_int_equal(mox_sconf_parse_file("/nonexistent/mox.conf", &doc, &err),
	                 MOX_EIO);
	assert_null(doc);
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/config/data/mox.conf", MOX_SOURCE_DIR);
	assert_int_equal(mox_sconf_parse_file(path, &doc, &err), MOX_OK);
	assert_string_equal(mox_sconf_child(&doc->root, "Hostname")->value,
	                    "mail.mox.example");
	mox_sconf_free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_inline),
	    cmocka_unit_test(test_roundtrip_files),
	    cmocka_unit_test(test_roundtrip_describe),
	    cmocka_unit_test(test_tree_shape),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_edits),
	    cmocka_unit_test(test_parse_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
