#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <mox/core.h>

/* RFC 4648 section 10 test vectors. */
static const char *vectors[][2] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void
test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		mox_buf b = MOX_BUF_INIT;
		assert_int_equal(mox_base64_encode(&b, vectors[i][0], strlen(vectors[i][0])),
				 MOX_OK);
		assert_int_equal(b.len, mox_base64_encoded_len(strlen(vectors[i][0])));
		assert_string_equal(b.data ? (char *)b.data : "", vectors[i][1]);
		mox_buf_reset(&b);
		assert_int_equal(mox_base64_decode(&b, vectors[i][1], strlen(vectors[i][1]), 0,
						   NULL),
				 MOX_OK);
		assert_int_equal(b.len, strlen(vectors[i][0]));
		assert_memory_equal(b.data, vectors[i][0], b.len);
		mox_buf_free(&b);
	}
}

static void
test_roundtrip_binary(void **state)
{
	(void)state;
	uint8_t bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (uint8_t)(255 - i);
	for (size_t n = 0; n <= sizeof(bin); n++) {
		mox_buf e = MOX_BUF_INIT, d = MOX_BUF_INIT;
		assert_int_equal(mox_base64_encode(&e, bin, n), MOX_OK);
		assert_int_equal(mox_base64_decode(&d, (char *)e.data, e.len, 0, NULL), MOX_OK);
		assert_int_equal(d.len, n);
		if (n > 0)
			assert_memory_equal(d.data, bin, n);
		mox_buf_free(&e);
		mox_buf_free(&d);
	}
}

static void
test_whitespace_and_nopad(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	const char *folded = "Zm9v\r\n YmFy\t";
	assert_int_equal(mox_base64_decode(&b, folded, strlen(folded), 0, NULL), MOX_ESYNTAX);
	assert_int_equal(b.len, 0);
	assert_int_equal(mox_base64_decode(&b, folded, strlen(folded),
					   MOX_BASE64_IGNORE_SPACE, NULL),
			 MOX_OK);
	assert_string_equal((char *)b.data, "foobar");
	mox_buf_reset(&b);
	assert_int_equal(mox_base64_decode(&b, "Zm8", 3, 0, NULL), MOX_ESYNTAX);
	assert_int_equal(mox_base64_decode(&b, "Zm8", 3, MOX_BASE64_NOPAD, NULL), MOX_OK);
	assert_string_equal((char *)b.data, "fo");
	mox_buf_free(&b);
}

static void
test_bad_input(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t offset;
	} bad[] = {
		{"Zm9v!", 4},  /* character outside the alphabet */
		{"Z", 1},      /* one sextet cannot make a byte */
		{"Zg=", 3},    /* half padding */
		{"Zg===", 4},  /* too much padding */
		{"=Zg=", 0},   /* padding first */
		{"Zg==Zg==", 4}, /* data after padding */
		{"Zh==", 4},   /* non-zero trailing bits (RFC 4648 section 3.5) */
		{"Zm9=", 4},   /* non-zero trailing bits, 3-sextet group */
		{"Zm9v=", 4},  /* padding after a full group */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mox_buf b = MOX_BUF_INIT;
		assert_int_equal(mox_buf_append_str(&b, "keep"), MOX_OK);
		mox_errinfo info;
		mox_err err = mox_base64_decode(&b, bad[i].in, strlen(bad[i].in), 0, &info);
		if (err != MOX_ESYNTAX)
			fail_msg("input %s: got %s", bad[i].in, mox_err_name(err));
		assert_int_equal(info.code, MOX_ESYNTAX);
		if (info.offset != bad[i].offset)
			fail_msg("input %s: offset %zu, want %zu (%s)", bad[i].in, info.offset,
				 bad[i].offset, info.msg);
		/* Earlier content is kept, nothing half-decoded is appended. */
		assert_string_equal((char *)b.data, "keep");
		mox_buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_roundtrip_binary),
		cmocka_unit_test(test_whitespace_and_nopad),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
