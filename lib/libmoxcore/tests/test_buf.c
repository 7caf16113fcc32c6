#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/core.h>
#include "mox_testalloc.h"

static void
test_append(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_buf_append_str(&b, "hello"), MOX_OK);
	assert_int_equal(mox_buf_append_byte(&b, ' '), MOX_OK);
	assert_int_equal(mox_buf_appendf(&b, "%s %d", "world", 42), MOX_OK);
	assert_int_equal(b.len, 14);
	assert_string_equal((char *)b.data, "hello world 42");
	mox_buf_consume(&b, 6);
	assert_string_equal((char *)b.data, "world 42");
	mox_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	/* Growth past several doublings keeps content. */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(mox_buf_append_byte(&b, (uint8_t)('a' + i % 26)), MOX_OK);
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[9999], 'a' + 9999 % 26);
	assert_int_equal(b.data[10000], 0);
	size_t n;
	uint8_t *p = mox_buf_steal(&b, &n);
	assert_int_equal(n, 10000);
	assert_null(b.data);
	mox_mem_free(NULL, p);
	p = mox_buf_steal(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_string_equal((char *)p, "");
	mox_mem_free(NULL, p);
	mox_buf_free(&b);
}

static void
test_limit(void **state)
{
	(void)state;
	mox_buf b;
	mox_buf_init(&b, NULL);
	b.max = 8;
	assert_int_equal(mox_buf_append_str(&b, "12345678"), MOX_OK);
	assert_int_equal(mox_buf_append_byte(&b, '9'), MOX_ELIMIT);
	assert_string_equal((char *)b.data, "12345678");
	assert_int_equal(mox_buf_appendf(&b, "x"), MOX_ELIMIT);
	mox_buf_free(&b);
	assert_int_equal(mox_buf_reserve(&b, SIZE_MAX), MOX_ENOMEM);
}

/* OOM loop: fail the n-th allocation until everything succeeds. */
static void
test_oom(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_buf b;
		mox_buf_init(&b, &ta.a);
		mox_err err = MOX_OK;
		for (int i = 0; i < 100 && err == MOX_OK; i++)
			err = mox_buf_appendf(&b, "line %d of some text\n", i);
		if (err == MOX_OK) {
			assert_true(b.len > 1000);
			mox_buf_free(&b);
			assert_int_equal(ta.live, 0);
			break;
		}
		assert_int_equal(err, MOX_ENOMEM);
		/* The buffer is still consistent after ENOMEM. */
		if (b.data != NULL)
			assert_int_equal(b.data[b.len], 0);
		mox_buf_free(&b);
		assert_int_equal(ta.live, 0);
		assert_true(n < 100);
	}
}

static void
test_mem(void **state)
{
	(void)state;
	assert_null(mox_mem_calloc(NULL, SIZE_MAX / 2, 4));
	assert_null(mox_mem_reallocarray(NULL, NULL, SIZE_MAX / 2, 4));
	char *s = mox_mem_strndup(NULL, "abcdef", 3);
	assert_string_equal(s, "abc");
	mox_mem_wipe(s, 3);
	assert_int_equal(s[0], 0);
	assert_int_equal(s[2], 0);
	mox_mem_free(NULL, s);
	mox_mem_free(NULL, NULL);
	int *z = mox_mem_calloc(NULL, 4, sizeof(int));
	assert_int_equal(z[3], 0);
	mox_mem_free(NULL, z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_mem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
