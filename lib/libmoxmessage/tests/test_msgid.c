/* Message identifiers, RFC 5322 section 3.6.4 and 4.5.4: stalwart's
 * vectors, obsolete phrases, leniency, hostile input, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <mox/message.h>
#include "mox_testalloc.h"
#include "vectors.h"

/* The field value: up to the first line break that is not a fold. */
static mox_msg_id_list *
parse_n(const void *s, size_t n, unsigned *warn)
{
	mox_msg_id_list *l = NULL;
	unsigned w = 0;
	assert_int_equal(mox_msg_id_list_parse(s, n, NULL, &l, &w), MOX_OK);
	assert_non_null(l);
	if (warn != NULL)
		*warn = w;
	return l;
}

static mox_msg_id_list *
parse(const char *s, unsigned *warn)
{
	return parse_n(s, strlen(s), warn);
}

static void
test_vectors(void **state)
{
	(void)state;
	char *text = read_file(MOX_TESTDATA_DIR
			       "/messages/stalwart-mail-parser/header-vectors/id.json");
	assert_non_null(text);
	cJSON *root = cJSON_Parse(text);
	assert_non_null(root);
	int total = cJSON_GetArraySize(root), passed = 0, failed = 0;
	for (int i = 0; i < total; i++) {
		cJSON *c = cJSON_GetArrayItem(root, i);
		const char *hdr = cJSON_GetObjectItem(c, "header")->valuestring;
		cJSON *want = cJSON_GetObjectItem(c, "expected");
		mox_msg_id_list *l = parse_n(hdr, field_len(hdr), NULL);
		/* stalwart's null (no identifier) is our empty list. */
		cJSON *got = l->n == 0 ? cJSON_CreateNull() : cJSON_CreateArray();
		for (size_t k = 0; k < l->n; k++)
			cJSON_AddItemToArray(got, cJSON_CreateString(l->ids[k]));
		if (cJSON_Compare(got, want, true)) {
			passed++;
		} else {
			char *g = cJSON_PrintUnformatted(got);
			char *w = cJSON_PrintUnformatted(want);
			printf("id vector %d: \"%s\"\n  got  %s\n  want %s\n", i, hdr, g, w);
			free(g);
			free(w);
			failed++;
		}
		cJSON_Delete(got);
		mox_msg_id_list_free(l);
	}
	printf("id.json: %d of %d passed (%d as expected, 0 documented differences), %d "
	       "failed\n",
	       passed, total, passed, failed);
	cJSON_Delete(root);
	free(text);
	assert_int_equal(failed, 0);
	assert_int_equal(total, 11);
}

static void
test_forms(void **state)
{
	(void)state;
	unsigned w;
	/* References with folding and comments; obsolete phrases between. */
	mox_msg_id_list *l = parse(" <a@b>\r\n\t(comment) <c@d> Your message of \"Tue\" <e@f>", &w);
	assert_int_equal(l->n, 3);
	assert_string_equal(l->ids[0], "a@b");
	assert_string_equal(l->ids[1], "c@d");
	assert_string_equal(l->ids[2], "e@f");
	assert_int_equal(w, 0);
	mox_msg_id_list_free(l);
	/* mox accepts text after the id, and ids without '@'. */
	l = parse("<valid@valid.example> (added by postmaster@some.example)", &w);
	assert_int_equal(l->n, 1);
	assert_int_equal(w, 0);
	mox_msg_id_list_free(l);
	l = parse("<1234>", &w);
	assert_string_equal(l->ids[0], "1234");
	mox_msg_id_list_free(l);
	/* Folded inside: line breaks dropped. RFC 6532: UTF-8 kept. */
	l = parse("<a\r\n @b> <\xc3\xbc-1@b\xc3\xbc" "cher.example>", &w);
	assert_string_equal(l->ids[0], "a @b");
	assert_string_equal(l->ids[1], "\xc3\xbc-1@b\xc3\xbc" "cher.example");
	mox_msg_id_list_free(l);
	/* Empty values: nothing, no warning. */
	l = parse("  ", &w);
	assert_int_equal(l->n, 0);
	assert_int_equal(w, 0);
	mox_msg_id_list_free(l);
	l = parse_n(NULL, 0, &w);
	assert_int_equal(l->n, 0);
	mox_msg_id_list_free(l);
}

static void
test_lenient(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t n;
		const char *first;
	} cases[] = {
		{"id@example", 1, "id@example"},
		{"<>", 0, NULL},
		{"<> <a@b>", 1, "a@b"},
		{"<a@b> <unterminated", 1, "a@b"},
		{"two words", 0, NULL},
		{"<a\0b@c>", 1, "a\xef\xbf\xbd" "b@c"},
		{"<a\xff@c>", 1, "a\xef\xbf\xbd@c"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned w;
		size_t n = strlen(cases[i].in);
		if (i == 5)
			n = 7;
		mox_msg_id_list *l = parse_n(cases[i].in, n, &w);
		if (l->n != cases[i].n)
			fail_msg("\"%s\": %zu ids", cases[i].in, l->n);
		if (cases[i].n > 0)
			assert_string_equal(l->ids[0], cases[i].first);
		assert_true(w != 0);
		mox_msg_id_list_free(l);
	}
	/* Comment nesting at the limit, and one past it (flagged; the id
	 * after it still counts). */
	for (int depth = MOX_MSG_COMMENT_DEPTH_MAX; depth <= MOX_MSG_COMMENT_DEPTH_MAX + 1;
	     depth++) {
		char buf[128];
		size_t k = 0;
		for (int i = 0; i < depth; i++)
			buf[k++] = '(';
		for (int i = 0; i < depth; i++)
			buf[k++] = ')';
		memcpy(buf + k, "<a@b>", 5);
		unsigned w;
		mox_msg_id_list *l = parse_n(buf, k + 5, &w);
		assert_int_equal(l->n, 1);
		assert_int_equal(w, depth > MOX_MSG_COMMENT_DEPTH_MAX ? MOX_MSG_WARN_BAD_FIELD : 0);
		mox_msg_id_list_free(l);
	}
	/* 1 MB of ids, 1 MB inside one id, 1 MB of '(' and of '<'. */
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	assert_non_null(big);
	size_t k = 0;
	while (k + 6 <= n) {
		memcpy(big + k, "<a@b> ", 6);
		k += 6;
	}
	mox_msg_id_list *l = parse_n(big, k, NULL);
	assert_int_equal(l->n, k / 6);
	mox_msg_id_list_free(l);
	memset(big, 'x', n);
	big[0] = '<';
	big[n - 1] = '>';
	l = parse_n(big, n, NULL);
	assert_int_equal(l->n, 1);
	assert_int_equal(strlen(l->ids[0]), n - 2);
	mox_msg_id_list_free(l);
	memset(big, '(', n);
	l = parse_n(big, n, NULL);
	assert_int_equal(l->n, 0);
	mox_msg_id_list_free(l);
	memset(big, '<', n);
	l = parse_n(big, n, NULL);
	assert_int_equal(l->n, 0);
	mox_msg_id_list_free(l);
	free(big);
}

static void
test_oom(void **state)
{
	(void)state;
	const char *in = "<a@b> (c) \"phrase\" <c@d> <e@f> <g@h> <i@j>";
	for (long fail = 0;; fail++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, fail);
		mox_msg_id_list *l = NULL;
		mox_err err = mox_msg_id_list_parse((const uint8_t *)in, strlen(in), &ta.a, &l,
						    NULL);
		if (err == MOX_OK) {
			assert_int_equal(l->n, 5);
			mox_msg_id_list_free(l);
			assert_int_equal(ta.live, 0);
			break;
		}
		assert_int_equal(err, MOX_ENOMEM);
		assert_null(l);
		assert_int_equal(ta.live, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
