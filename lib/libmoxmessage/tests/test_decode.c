/* Transfer-encoding decoders and charset conversion: RFC examples, broken
 * input, and every chunking giving the same output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mox/message.h>
#include "mox_testalloc.h"

/* Decode in one call, then with every two-way split and byte by byte; all
 * must give want (want_len bytes) and the same warnings. */
static unsigned
decode_all(mox_msg_cte cte, const char *charset, const char *in, size_t inlen,
	   const char *want, size_t want_len)
{
	unsigned first = 0;
	for (size_t cut = 0; cut <= inlen + 1; cut++) {
		mox_msg_decoder *d = NULL;
		assert_int_equal(mox_msg_decoder_new(&d, cte, charset, NULL), MOX_OK);
		mox_buf out = MOX_BUF_INIT;
		if (cut <= inlen) {
			assert_int_equal(mox_msg_decoder_feed(d, in, cut, &out), MOX_OK);
			assert_int_equal(mox_msg_decoder_feed(d, in + cut, inlen - cut, &out),
					 MOX_OK);
		} else {
			for (size_t i = 0; i < inlen; i++)
				assert_int_equal(mox_msg_decoder_feed(d, in + i, 1, &out), MOX_OK);
		}
		assert_int_equal(mox_msg_decoder_end(d, &out), MOX_OK);
		if (out.len != want_len || (want_len > 0 && memcmp(out.data, want, want_len) != 0))
			fail_msg("cut %zu: got '%.*s' (%zu), want '%.*s' (%zu)", cut, (int)out.len,
				 out.data ? (char *)out.data : "", out.len, (int)want_len, want,
				 want_len);
		unsigned w = mox_msg_decoder_warnings(d);
		if (cut == 0)
			first = w;
		else
			assert_int_equal(w, first);
		mox_buf_free(&out);
		mox_msg_decoder_free(d);
	}
	return first;
}

#define DEC(cte, cs, in, want) decode_all(cte, cs, in, strlen(in), want, strlen(want))

static void
test_qp(void **state)
{
	(void)state;
	/* RFC 2045 section 6.7 rules. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "caf=C3=A9 =3D ok\r\n", "caf\xc3\xa9 = ok\r\n"),
			 0);
	/* Soft line breaks, with transport padding after the '='. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "long=\r\nline=  \r\nend", "longlineend"), 0);
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "bare=\nlf", "barelf"), 0);
	/* Rule 3: trailing white space is removed. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "a  \r\nb\t\nc ", "a\r\nb\nc"), 0);
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "a b", "a b"), 0);
	/* Lower-case hex is read (lenient). */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "=c3=a9", "\xc3\xa9"), 0);
	/* Broken sequences pass through with a warning. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "a=zz b=4", "a=zz b=4"),
			 MOX_MSG_WARN_BAD_ENCODING);
	/* "=" at the end is a soft break whose CRLF went to the delimiter. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "x=", "x"), 0);
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "x=4", "x=4"), MOX_MSG_WARN_BAD_ENCODING);
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "x= y", "x=y"), MOX_MSG_WARN_BAD_ENCODING);
	/* Bare CR kept. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, NULL, "a\rb", "a\rb"), 0);
}

static void
test_base64(void **state)
{
	(void)state;
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n",
			     "hello world"),
			 0);
	/* Garbage characters are skipped with a warning. */
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "aGVs!bG8=", "hello"),
			 MOX_MSG_WARN_BAD_ENCODING);
	/* Data after padding is ignored, with a warning. */
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "YQ==\r\nYg==", "a"),
			 MOX_MSG_WARN_BAD_ENCODING);
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "YQ==\r\n \r\n", "a"), 0);
	/* Missing padding. */
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "YWI", "ab"), 0);
	/* A lone sextet cannot be a byte. */
	assert_int_equal(DEC(MOX_MSG_CTE_BASE64, NULL, "YWJjZ", "abc"),
			 MOX_MSG_WARN_BAD_ENCODING);
	/* Pass-through encodings. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, NULL, "caf\xe9=41", "caf\xe9=41"), 0);
	assert_int_equal(DEC(MOX_MSG_CTE_UNKNOWN, NULL, "x", "x"), 0);
	assert_string_equal(mox_msg_cte_name(MOX_MSG_CTE_QP), "quoted-printable");
	assert_int_equal(mox_msg_cte_parse((const uint8_t *)" Base64 (c)", 11),
			 MOX_MSG_CTE_BASE64);
	assert_int_equal(mox_msg_cte_parse((const uint8_t *)"", 0), MOX_MSG_CTE_7BIT);
	assert_int_equal(mox_msg_cte_parse((const uint8_t *)"x-uue", 5), MOX_MSG_CTE_UNKNOWN);
}

static void
test_charsets(void **state)
{
	(void)state;
	/* ISO-8859-1 through QP. */
	assert_int_equal(DEC(MOX_MSG_CTE_QP, "iso-8859-1", "caf=E9", "caf\xc3\xa9"), 0);
	/* Latin-1 alias. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "latin1", "\xe9t\xe9", "\xc3\xa9t\xc3\xa9"), 0);
	/* UTF-8 split anywhere, invalid bytes replaced. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "utf-8", "\xe2\x82\xac \xf0\x9f\x98\x80",
			     "\xe2\x82\xac \xf0\x9f\x98\x80"),
			 0);
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "UTF-8", "a\xffz\xe2\x82", "a\xef\xbf\xbdz\xef\xbf\xbd"),
			 MOX_MSG_WARN_BAD_CHARSET);
	/* Overlong and surrogate encodings are invalid (RFC 3629). */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "utf-8", "\xc0\xaf\xed\xa0\x80",
			     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
			 MOX_MSG_WARN_BAD_CHARSET);
	/* us-ascii labelled text that is really UTF-8 is kept. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "us-ascii", "\xc3\xa9", "\xc3\xa9"), 0);
	/* Shift_JIS, a multibyte charset through iconv, split anywhere. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "shift_jis", "\x82\xa0\x82\xa2", "\xe3\x81\x82\xe3\x81\x84"),
			 0);
	/* ISO-2022-JP, stateful. */
	assert_int_equal(DEC(MOX_MSG_CTE_7BIT, "iso-2022-jp", "\x1b$B$\"\x1b(B!",
			     "\xe3\x81\x82!"),
			 0);
	/* Invalid in the charset: replaced, conversion goes on. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "shift_jis", "a\x82z", "a\xef\xbf\xbdz"),
			 MOX_MSG_WARN_BAD_CHARSET);
	/* Unknown charset: read as ISO-8859-1, flagged. */
	assert_int_equal(DEC(MOX_MSG_CTE_8BIT, "x-no-such-charset", "\xe9", "\xc3\xa9"),
			 MOX_MSG_WARN_BAD_CHARSET);

	mox_buf b = MOX_BUF_INIT;
	bool replaced;
	assert_int_equal(mox_msg_charset_to_utf8("windows-1252", "\x80", 1, &b, &replaced),
			 MOX_OK);
	assert_string_equal((char *)b.data, "\xe2\x82\xac");
	assert_false(replaced);
	mox_buf_reset(&b);
	assert_int_equal(mox_msg_charset_to_utf8("nosuch", "x", 1, &b, &replaced),
			 MOX_EUNSUPPORTED);
	assert_int_equal(b.len, 0);
	assert_int_equal(mox_msg_charset_to_utf8("ks_c_5601-1987", "\xb0\xa1", 2, &b, NULL),
			 MOX_OK);
	assert_string_equal((char *)b.data, "\xea\xb0\x80");
	mox_buf_free(&b);
}

static void
test_oom(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_msg_decoder *d = NULL;
		mox_buf out;
		mox_buf_init(&out, &ta.a);
		mox_err err = mox_msg_decoder_new(&d, MOX_MSG_CTE_QP, "iso-8859-1", &ta.a);
		if (err == MOX_OK)
			err = mox_msg_decoder_feed(d, "caf=E9 ", 7, &out);
		if (err == MOX_OK)
			err = mox_msg_decoder_end(d, &out);
		if (err == MOX_OK)
			assert_string_equal((char *)out.data, "caf\xc3\xa9");
		mox_msg_decoder_free(d);
		mox_buf_free(&out);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
