/* DKIM-Signature parsing and writing (sig.c, taglist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dkim_int.h"

#include <stdio.h>
#include <string.h>

#define BH "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static mox_err
parse(const char *s, mox_dkim_sig **out, mox_errinfo *info)
{
	return mox_dkim_sig_parse(s, strlen(s), NULL, out, info);
}

static void
test_good(void **state)
{
	(void)state;
	mox_dkim_sig *s = NULL;
	mox_errinfo info;
	static const char f[] = "DKIM-Signature : x=1700000100; v = 1;a=RSA-SHA256; d=Example.COM;\r\n"
				"\ts=sel_1; h=From : To:\r\n subject; c=relaxed; i=\"a b\"@sub.example.com;\r\n"
				" q=dns/txt; l=12; t=1700000000; z=From:a=20b|To:c; unknown=ignored;\r\n"
				" bh=" BH "; b=AAEC\r\n AwQF;\r\n";
	assert_int_equal(parse(f, &s, &info), MOX_OK);
	assert_string_equal(s->algorithm, "rsa-sha256");
	assert_int_equal(s->key_type, MOX_DKIM_KEY_RSA);
	assert_int_equal(s->hash, MOX_DKIM_HASH_SHA256);
	assert_string_equal(s->domain, "example.com");
	assert_string_equal(s->selector, "sel_1");
	assert_int_equal(s->nheaders, 3);
	assert_string_equal(s->headers[2], "subject");
	assert_int_equal(s->header_canon, MOX_DKIM_RELAXED);
	assert_int_equal(s->body_canon, MOX_DKIM_SIMPLE);
	assert_string_equal(s->identity_domain, "sub.example.com");
	assert_int_equal(s->length, 12);
	assert_int_equal(s->sign_time, 1700000000);
	assert_int_equal(s->expire_time, 1700000100);
	assert_int_equal(s->signature_len, 6);
	assert_int_equal(s->ncopied_headers, 2);
	assert_string_equal(s->copied_headers[0], "From:a b");
	/* Format and parse again: the same. */
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_sig_format(s, false, &out), MOX_OK);
	mox_dkim_sig *t = NULL;
	assert_int_equal(mox_dkim_sig_parse(out.data, out.len, NULL, &t, &info), MOX_OK);
	assert_string_equal(t->domain, s->domain);
	assert_int_equal(t->length, 12);
	assert_string_equal(t->copied_headers[0], "From:a b");
	assert_memory_equal(t->signature, s->signature, 6);
	mox_dkim_sig_free(t);
	mox_buf_free(&out);
	mox_dkim_sig_free(s);
}

static void
test_bad(void **state)
{
	(void)state;
	static const struct {
		const char *f, *msg;
	} c[] = {
		{"DKIM-Signature: v=1; v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=" BH "; b=", "duplicate tag"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; b=", "missing required tag bh="},
		{"DKIM-Signature: v=2; a=rsa-sha256; d=e.com; s=s; h=from; bh=" BH "; b=", "unknown version"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=" BH "; b=!!", "bad base64 in b="},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AAAA; b=", "body hash is 3 bytes"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; t=5; x=5; bh=" BH "; b=", "expiration"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; i=@other.com; bh=" BH "; b=", "identity domain"},
		{"DKIM-Signature: v=1; a=rsa; d=e.com; s=s; h=from; bh=" BH "; b=", "bad algorithm"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=-e.com; s=s; h=from; bh=" BH "; b=", "bad domain"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from::to; bh=" BH "; b=", "bad header name list"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; t=1234567890123; bh=" BH "; b=", "bad timestamp"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from;; bh=" BH "; b=", "expected tag name"},
		{"DKIM-Signature: v=1; a=rsa-sha256; d=e.com; s=s; h=from; 1x=y; bh=" BH "; b=", "expected tag name"},
		{"DKIM-Signature: v=1 a=rsa-sha256", "unknown version"},
		{"X-Signature: v=1", "not a DKIM-Signature field"},
		{"DKIM-Signature v=1", "no colon"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		mox_dkim_sig *s = NULL;
		mox_errinfo info;
		assert_int_equal(parse(c[i].f, &s, &info), MOX_ESYNTAX);
		assert_null(s);
		if (strstr(info.msg, c[i].msg) == NULL)
			fprintf(stderr, "%s: %s\n", c[i].f, info.msg);
		assert_non_null(strstr(info.msg, c[i].msg));
	}
	/* Too long: limit. */
	mox_buf big = MOX_BUF_INIT;
	mox_buf_append_str(&big, "DKIM-Signature: v=1; n=");
	while (big.len <= MOX_DKIM_SIG_FIELD_MAX)
		mox_buf_append_byte(&big, 'x');
	mox_dkim_sig *s = NULL;
	assert_int_equal(mox_dkim_sig_parse(big.data, big.len, NULL, &s, NULL), MOX_ELIMIT);
	mox_buf_free(&big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
