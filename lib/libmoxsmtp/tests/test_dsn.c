/* DSN composing and parsing (mox/dsn.h): compose -> parse round trips,
 * the composed message checked by Python's email package
 * (tests/dsn_check.py with /usr/bin/python3), recognising DSNs, errors,
 * and the OOM loop for both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mox/dsn.h>
#include "mox_testalloc.h"

#define CHECK_PY MOX_SOURCE_DIR "/lib/libmoxsmtp/tests/dsn_check.py"

static const char original[] = "From: <sender@example.com>\r\n"
                               "To: <a@example.org>, <b@example.org>\r\n"
                               "Subject: the message\r\n"
                               "Message-ID: <orig@example.com>\r\n"
                               "X-Long: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                               "\r\n"
                               "Hello,\r\n.\r\nthe body.\r\n";

static const mox_dsn_rcpt rcpts[] = {
    {.final_recipient = "a@example.org",
     .action = MOX_DSN_FAILED,
     .status = "5.1.1",
     .remote_mta = "mx.example.org",
     .remote_mta_ip = "192.0.2.1",
     .diagnostic_code =
         "550 5.1.1 no such user here, and a long explanation that goes on "
         "and on so the field has to be folded across lines",
     .last_attempt = 1700000000},
    {.final_recipient = "b@example.org",
     .original_recipient = "B@example.org",
     .action = MOX_DSN_DELAYED,
     .status = "4.4.1",
     .status_comment = "no answer",
     .last_attempt = 1700000000,
     .will_retry_until = 1700400000},
};

static void
base(mox_dsn *d)
{
	memset(d, 0, sizeof(*d));
	d->size = sizeof(*d);
	d->from = "postmaster@mail.example.com";
	d->to = "sender@example.com";
	d->message_id = "dsn1@mail.example.com";
	d->references = "<orig@example.com>";
	d->date = 1700000100;
	d->text = "Delivery to a@example.org failed.\nDelivery to b@example.org is "
	          "delayed.\n";
	d->reporting_mta = "mail.example.com";
	d->original_envelope_id = "env1";
	d->arrival_date = 1699999000;
	d->future_release_request = "for;3600";
	d->rcpts = rcpts;
	d->nrcpts = 2;
	d->original = (const uint8_t *)original;
	d->original_len = sizeof(original) - 1;
}

static void
python_check(const mox_buf *msg, const char *args)
{
	char path[] = "/tmp/mox-dsn-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, msg->data, msg->len), (ssize_t)msg->len);
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %s", CHECK_PY, path, args);
	int rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
}

static void
test_roundtrip(void **state)
{
	(void)state;
	mox_dsn d;
	base(&d);
	mox_buf out = MOX_BUF_INIT;
	mox_errinfo info;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_OK);
	const char *s = (const char *)out.data;
	assert_non_null(strstr(s, "From: <postmaster@mail.example.com>\r\n"));
	assert_non_null(strstr(s, "To: <sender@example.com>\r\n"));
	assert_non_null(strstr(s, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(s, "Subject: mail delivery failed\r\n"));
	assert_non_null(strstr(s, "report-type=delivery-status"));
	assert_non_null(strstr(s, "\r\nFuture-Release-Request: for;3600\r\n"));
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers"));
	assert_null(strstr(s, "the body."));
	assert_true(mox_dsn_is_dsn(out.data, out.len));

	mox_dsn_parsed *p = NULL;
	assert_int_equal(mox_dsn_parse(out.data, out.len, NULL, &p, &info), MOX_OK);
	assert_false(p->utf8);
	assert_string_equal(p->reporting_mta, "mail.example.com");
	assert_string_equal(p->original_envelope_id, "env1");
	assert_string_equal(p->arrival_date, "Tue, 14 Nov 2023 21:56:40 +0000");
	assert_int_equal(p->nrcpts, 2);
	assert_string_equal(p->rcpts[0].final_recipient, "a@example.org");
	assert_string_equal(p->rcpts[0].final_recipient_type, "rfc822");
	assert_int_equal(p->rcpts[0].action, MOX_DSN_FAILED);
	assert_string_equal(p->rcpts[0].status, "5.1.1");
	assert_string_equal(p->rcpts[0].remote_mta, "mx.example.org (192.0.2.1)");
	assert_string_equal(p->rcpts[0].diagnostic_code, rcpts[0].diagnostic_code);
	assert_string_equal(p->rcpts[0].original_recipient, "");
	assert_string_equal(p->rcpts[1].original_recipient, "B@example.org");
	assert_int_equal(p->rcpts[1].action, MOX_DSN_DELAYED);
	assert_string_equal(p->rcpts[1].status, "4.4.1");
	assert_string_equal(p->rcpts[1].will_retry_until,
	                    "Sun, 19 Nov 2023 13:20:00 +0000");
	assert_string_equal(p->original_type, "text/rfc822-headers");
	assert_non_null(strstr((const char *)p->original, "Subject: the message"));
	assert_non_null(strstr(p->text, "is delayed"));
	mox_dsn_parsed_free(p);

	python_check(&out,
	             "delivery-status text/rfc822-headers a@example.org:failed:5.1.1 "
	             "b@example.org:delayed:4.4.1");
	mox_buf_free(&out);
}

static void
test_full_original(void **state)
{
	(void)state;
	mox_dsn d;
	base(&d);
	d.full = true;
	d.nrcpts = 1;
	d.subject = "Undeliverable: the message";
	mox_buf out = MOX_BUF_INIT;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, NULL), MOX_OK);
	mox_dsn_parsed *p = NULL;
	assert_int_equal(mox_dsn_parse(out.data, out.len, NULL, &p, NULL), MOX_OK);
	assert_string_equal(p->original_type, "message/rfc822");
	assert_int_equal(p->original_len, sizeof(original) - 1);
	assert_memory_equal(p->original, original, sizeof(original) - 1);
	mox_dsn_parsed_free(p);
	python_check(&out, "delivery-status message/rfc822 a@example.org:failed:5.1.1");
	mox_buf_free(&out);

	/* A line over 998 octets: only the headers go. */
	size_t n = 3000;
	char *big = malloc(n + 64);
	assert_non_null(big);
	int k = snprintf(big, 64, "Subject: big\r\n\r\n");
	memset(big + k, 'x', n);
	memcpy(big + k + n, "\r\n", 3);
	d.original = (const uint8_t *)big;
	d.original_len = strlen(big);
	mox_buf_init(&out, NULL);
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, NULL), MOX_OK);
	assert_int_equal(mox_dsn_parse(out.data, out.len, NULL, &p, NULL), MOX_OK);
	assert_string_equal(p->original_type, "text/rfc822-headers");
	assert_string_equal((const char *)p->original, "Subject: big\r\n");
	mox_dsn_parsed_free(p);
	python_check(&out,
	             "delivery-status text/rfc822-headers a@example.org:failed:5.1.1");
	mox_buf_free(&out);
	free(big);

	/* No original at all. */
	d.original = NULL;
	d.original_len = 0;
	mox_buf_init(&out, NULL);
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, NULL), MOX_OK);
	assert_int_equal(mox_dsn_parse(out.data, out.len, NULL, &p, NULL), MOX_OK);
	assert_string_equal(p->original_type, "");
	assert_null(p->original);
	mox_dsn_parsed_free(p);
	python_check(&out, "delivery-status - a@example.org:failed:5.1.1");
	mox_buf_free(&out);
}

static void
test_utf8(void **state)
{
	(void)state;
	static const mox_dsn_rcpt ur[] = {{.final_recipient = "jösé@münchen.example",
	                                   .action = MOX_DSN_FAILED,
	                                   .diagnostic_code = "550 5.1.1 ünknown"}};
	static const char uorig[] =
	    "Subject: caf\xc3\xa9\r\nFrom: <jösé@example.com>\r\n\r\nbody\r\n";
	mox_dsn d;
	base(&d);
	d.to = "jösé@example.com";
	d.rcpts = ur;
	d.nrcpts = 1;
	d.original = (const uint8_t *)uorig;
	d.original_len = strlen(uorig);
	/* Without SMTPUTF8 a UTF-8 address cannot go in the header. */
	mox_buf out = MOX_BUF_INIT;
	mox_errinfo info;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	assert_int_equal(out.len, 0);
	d.smtputf8 = true;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_OK);
	const char *s = (const char *)out.data;
	assert_non_null(strstr(s, "To: <jösé@example.com>\r\n"));
	assert_non_null(strstr(s, "message/global-delivery-status"));
	assert_non_null(strstr(s, "Final-Recipient: utf-8; jösé@münchen.example\r\n"));
	mox_dsn_parsed *p = NULL;
	assert_int_equal(mox_dsn_parse(out.data, out.len, NULL, &p, &info), MOX_OK);
	assert_true(p->utf8);
	assert_string_equal(p->rcpts[0].final_recipient, "jösé@münchen.example");
	assert_string_equal(p->rcpts[0].final_recipient_type, "utf-8");
	assert_string_equal(p->rcpts[0].status, "5.0.0");
	assert_string_equal(p->original_type, "message/global-headers");
	mox_dsn_parsed_free(p);
	python_check(&out, "global-delivery-status message/global-headers "
	                   "jösé@münchen.example:failed:5.0.0");
	mox_buf_free(&out);
}

static void
test_errors(void **state)
{
	(void)state;
	mox_dsn d;
	mox_buf out = MOX_BUF_INIT;
	mox_errinfo info;
	base(&d);
	d.message_id = NULL;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	base(&d);
	d.nrcpts = 0;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	base(&d);
	d.to = "not an address";
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	assert_non_null(strstr(info.msg, "to address"));
	static const mox_dsn_rcpt badst[] = {{.final_recipient = "a@example.org",
	                                      .action = MOX_DSN_FAILED,
	                                      .status = "5.1"}};
	base(&d);
	d.rcpts = badst;
	d.nrcpts = 1;
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	base(&d);
	d.reporting_mta = "a\r\nInjected: yes";
	assert_int_equal(mox_dsn_compose(&d, NULL, &out, &info), MOX_EINVAL);
	assert_int_equal(out.len, 0);
	mox_buf_free(&out);

	/* Not DSNs. */
	static const char plain[] = "Subject: x\r\n\r\nbody\r\n";
	static const char other[] =
	    "Content-Type: multipart/report; report-type=disposition-notification; "
	    "boundary=x\r\n\r\n--x--\r\n";
	static const char nostatus[] =
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=x\r\n\r\n--x\r\n\r\ntext\r\n--x--\r\n";
	mox_dsn_parsed *p = NULL;
	assert_false(mox_dsn_is_dsn((const uint8_t *)plain, strlen(plain)));
	assert_int_equal(
	    mox_dsn_parse((const uint8_t *)plain, strlen(plain), NULL, &p, NULL),
	    MOX_ENOTFOUND);
	assert_false(mox_dsn_is_dsn((const uint8_t *)other, strlen(other)));
	assert_int_equal(
	    mox_dsn_parse((const uint8_t *)other, strlen(other), NULL, &p, NULL),
	    MOX_ENOTFOUND);
	assert_true(mox_dsn_is_dsn((const uint8_t *)nostatus, strlen(nostatus)));
	assert_int_equal(
	    mox_dsn_parse((const uint8_t *)nostatus, strlen(nostatus), NULL, &p, &info),
	    MOX_ESYNTAX);
	assert_null(p);
	assert_false(mox_dsn_is_dsn(NULL, 0));
}

/* A DSN as another MTA (Postfix) writes it. */
static void
test_parse_foreign(void **state)
{
	(void)state;
	static const char pf[] =
	    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "To: sender@example.com\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B1\"\r\n"
	    "\r\n"
	    "--B1\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "I'm sorry to have to inform you...\r\n"
	    "\r\n"
	    "--B1\r\n"
	    "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.example.net\r\n"
	    "X-Postfix-Queue-ID: 4F1\r\n"
	    "Arrival-Date: Mon, 13 Nov 2023 10:00:00 +0100 (CET)\r\n"
	    "\r\n"
	    "Final-Recipient: RFC822; nobody@example.net\r\n"
	    "Original-Recipient: rfc822;nobody@example.net\r\n"
	    "Action: Failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Remote-MTA: dns; in.example.net\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient "
	    "address\r\n"
	    "    rejected: User unknown\r\n"
	    "\r\n"
	    "--B1\r\n"
	    "Content-Description: Undelivered Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "--B1--\r\n";
	mox_dsn_parsed *p = NULL;
	mox_errinfo info;
	assert_int_equal(
	    mox_dsn_parse((const uint8_t *)pf, strlen(pf), NULL, &p, &info), MOX_OK);
	assert_string_equal(p->reporting_mta, "mx.example.net");
	assert_int_equal(p->nrcpts, 1);
	assert_string_equal(p->rcpts[0].final_recipient, "nobody@example.net");
	assert_string_equal(p->rcpts[0].final_recipient_type, "rfc822");
	assert_int_equal(p->rcpts[0].action, MOX_DSN_FAILED);
	assert_string_equal(
	    p->rcpts[0].diagnostic_code,
	    "550 5.1.1 <nobody@example.net>: Recipient address    rejected: User "
	    "unknown");
	assert_string_equal(p->original_type, "text/rfc822-headers");
	mox_dsn_parsed_free(p);
}

static void
test_oom(void **state)
{
	(void)state;
	mox_dsn d;
	base(&d);
	mox_buf ref = MOX_BUF_INIT;
	assert_int_equal(mox_dsn_compose(&d, NULL, &ref, NULL), MOX_OK);
	bool done_c = false, done_p = false;
	for (long n = 0; n < 5000 && !(done_c && done_p); n++) {
		mox_testalloc ta;
		if (!done_c) {
			mox_testalloc_init(&ta, n);
			mox_buf out;
			mox_buf_init(&out, &ta.a);
			mox_err err = mox_dsn_compose(&d, &ta.a, &out, NULL);
			if (err == MOX_OK) {
				assert_int_equal(out.len, ref.len);
				assert_memory_equal(out.data, ref.data, ref.len);
				done_c = true;
			} else {
				assert_int_equal(err, MOX_ENOMEM);
			}
			mox_buf_free(&out);
			assert_int_equal(ta.live, 0);
		}
		if (!done_p) {
			mox_testalloc_init(&ta, n);
			mox_dsn_parsed *p = NULL;
			mox_err err = mox_dsn_parse(ref.data, ref.len, &ta.a, &p, NULL);
			if (err == MOX_OK) {
				assert_int_equal(p->nrcpts, 2);
				done_p = true;
			} else {
				assert_int_equal(err, MOX_ENOMEM);
				assert_null(p);
			}
			mox_dsn_parsed_free(p);
			assert_int_equal(ta.live, 0);
		}
	}
	assert_true(done_c && done_p);
	mox_buf_free(&ref);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_full_original),
	    cmocka_unit_test(test_utf8),          cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_parse_foreign), cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
