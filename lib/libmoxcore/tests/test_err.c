#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/core.h>

static void
test_names_and_messages(void **state)
{
	(void)state;
	assert_string_equal(mox_err_name(MOX_OK), "MOX_OK");
	assert_string_equal(mox_err_name(MOX_ENOMEM), "MOX_ENOMEM");
	assert_string_equal(mox_strerror(MOX_ENOMEM), "out of memory");
	assert_string_equal(mox_strerror(MOX_ENAME), "invalid domain name");
	assert_string_equal(mox_strerror((mox_err)-9999), "unknown error");
	assert_string_equal(mox_err_name((mox_err)-9999), "MOX_EUNKNOWN");
	assert_int_equal(MOX_OK, 0);
}

/* Every code has a distinct negative value and its own message. */
static void
test_codes_distinct(void **state)
{
	(void)state;
	static const int codes[] = {
#define X(n, v, m) MOX_##n,
		MOX_ERR_MAP(X)
#undef X
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(codes[i] < 0);
		assert_string_not_equal(mox_strerror((mox_err)codes[i]), "unknown error");
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(codes[i], codes[j]);
	}
}

static void
test_errinfo(void **state)
{
	(void)state;
	mox_errinfo info;
	assert_int_equal(mox_errinfo_set(&info, MOX_ESYNTAX, 17,
					 "unknown mechanism '%s' at %d", "ipv4", 17),
			 MOX_ESYNTAX);
	assert_int_equal(info.code, MOX_ESYNTAX);
	assert_int_equal(info.offset, 17);
	assert_string_equal(info.msg, "unknown mechanism 'ipv4' at 17");
	assert_int_equal(mox_errinfo_set(NULL, MOX_EINVAL, 0, "x"), MOX_EINVAL);
	/* Overlong messages are cut, not overflowed. */
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mox_errinfo_set(&info, MOX_ELIMIT, 0, "%s", big);
	assert_int_equal(strlen(info.msg), sizeof(info.msg) - 1);
	assert_int_equal(mox_core_version(), MOX_CORE_VERSION_HEX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_messages),
		cmocka_unit_test(test_codes_distinct),
		cmocka_unit_test(test_errinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
