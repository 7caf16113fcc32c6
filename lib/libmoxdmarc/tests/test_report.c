/* Aggregate reports: the stalwart XML samples against their expected JSON,
 * report messages with gzip and zip attachments (mox's, stalwart's,
 * parsedmarc's samples), the broken inputs, and hostile XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include <mox/dmarc.h>
#include "mox_testalloc.h"
#include "mox_testfile.h"

#define RDIR MOX_TESTDATA_DIR "/dmarc/aggregate-reports"

static mox_dmarc_report *
parse_file(const char *path, bool message, mox_err want)
{
	size_t len;
	char *data = mox_test_read_file(path, &len);
	if (data == NULL)
		fail_msg("cannot read %s", path);
	mox_dmarc_report *r = NULL;
	mox_errinfo info = {0};
	mox_err err = message ? mox_dmarc_report_parse_message(data, len, NULL, NULL, &r, &info)
			      : mox_dmarc_report_parse(data, len, NULL, NULL, &r, &info);
	free(data);
	if (err != want)
		fail_msg("%s: got %s (%s), want %s", path, mox_err_name(err), info.msg,
			 mox_err_name(want));
	if (err != MOX_OK)
		assert_true(info.msg[0] != '\0');
	return r;
}

/* Compare a field with the JSON value: case-insensitively, as stalwart
 * capitalises enum values ("Pass", "Quarantine"). */
static bool
same(const char *got, const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v))
		return got == NULL || got[0] == '\0';
	if (cJSON_IsNumber(v))
		return got != NULL && strtod(got, NULL) == v->valuedouble;
	return got != NULL && cJSON_IsString(v) && strcasecmp(got, v->valuestring) == 0;
}

static const cJSON *
jpath(const cJSON *o, const char *a, const char *b)
{
	o = cJSON_GetObjectItem(o, a);
	return b != NULL ? cJSON_GetObjectItem(o, b) : o;
}

/* The stalwart samples: their JSON is stalwart's parse of the XML. */
static void
test_stalwart(void **state)
{
	(void)state;
	int checked = 0;
	static const char *ids[] = {"001", "002", "003", "004", "005",
				    "100", "101", "102", "103", "104"};
	for (size_t k = 0; k < 10; k++) {
		bool msg = ids[k][0] == '1';
		char path[512], jfile[512];
		snprintf(path, sizeof(path), RDIR "/stalwart/%s.%s", ids[k], msg ? "eml" : "xml");
		snprintf(jfile, sizeof(jfile), RDIR "/stalwart/%s.json", ids[k]);
		mox_dmarc_report *r = parse_file(path, msg, MOX_OK);
		size_t jl;
		char *text = mox_test_read_file(jfile, &jl);
		assert_non_null(text);
		cJSON *j = cJSON_Parse(text);
		assert_non_null(j);
		static const struct {
			const char *a, *b;
			size_t off;
		} top[] = {
			{"report_metadata", "org_name", offsetof(mox_dmarc_report, org_name)},
			{"report_metadata", "email", offsetof(mox_dmarc_report, email)},
			{"report_metadata", "report_id", offsetof(mox_dmarc_report, report_id)},
			{"policy_published", "domain", offsetof(mox_dmarc_report, domain)},
			{"policy_published", "p", offsetof(mox_dmarc_report, p)},
		};
		for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
			const char *got = *(char **)((char *)r + top[i].off);
			const cJSON *v = jpath(j, top[i].a, top[i].b);
			if (!same(got, v))
				fail_msg("%s: %s = %s, want %s", path, top[i].b, got ? got : "(null)",
					 cJSON_IsString(v) ? v->valuestring : "?");
			checked++;
		}
		const cJSON *dr = jpath(j, "report_metadata", "date_range");
		assert_int_equal(r->date_begin, (uint64_t)cJSON_GetObjectItem(dr, "begin")->valuedouble);
		assert_int_equal(r->date_end, (uint64_t)cJSON_GetObjectItem(dr, "end")->valuedouble);
		checked += 2;
		const cJSON *recs = cJSON_GetObjectItem(j, "record");
		if ((size_t)cJSON_GetArraySize(recs) != r->nrecords)
			fail_msg("%s: %zu records, want %d", path, r->nrecords,
				 cJSON_GetArraySize(recs));
		for (size_t i = 0; i < r->nrecords; i++) {
			const cJSON *rec = cJSON_GetArrayItem(recs, (int)i);
			const cJSON *row = cJSON_GetObjectItem(rec, "row");
			const mox_dmarc_report_record *x = &r->records[i];
			assert_true(same(x->source_ip, cJSON_GetObjectItem(row, "source_ip")));
			assert_int_equal(x->count,
					 (uint64_t)cJSON_GetObjectItem(row, "count")->valuedouble);
			const cJSON *pe = cJSON_GetObjectItem(row, "policy_evaluated");
			const cJSON *disp = cJSON_GetObjectItem(pe, "disposition");
			/* stalwart says "Unspecified" for an absent value. */
			if (!(cJSON_IsString(disp) && strcmp(disp->valuestring, "Unspecified") == 0))
				assert_true(same(x->disposition, disp));
			const cJSON *ids_ = cJSON_GetObjectItem(rec, "identifiers");
			assert_true(same(x->header_from, cJSON_GetObjectItem(ids_, "header_from")));
			const cJSON *ar = cJSON_GetObjectItem(rec, "auth_results");
			const cJSON *dk = cJSON_GetObjectItem(ar, "dkim");
			assert_int_equal(x->ndkim, (size_t)cJSON_GetArraySize(dk));
			for (size_t d = 0; d < x->ndkim; d++)
				assert_true(same(x->dkim_results[d].domain,
						 cJSON_GetObjectItem(cJSON_GetArrayItem(dk, (int)d),
								     "domain")));
			assert_int_equal(x->nspf,
					 (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(ar, "spf")));
			checked += 6;
		}
		cJSON_Delete(j);
		free(text);
		mox_dmarc_report_free(r);
	}
	print_message("stalwart reports: 10 files, %d fields checked\n", checked);
	assert_true(checked > 80);
}

static void
test_messages(void **state)
{
	(void)state;
	static const char *mox_msgs[] = {"google", "mailru", "outlook", "xs4all", "yahoo"};
	for (size_t i = 0; i < 5; i++) {
		char path[256];
		snprintf(path, sizeof(path), RDIR "/mox/%s.eml", mox_msgs[i]);
		mox_dmarc_report *r = parse_file(path, true, MOX_OK);
		assert_non_null(r->org_name);
		assert_non_null(r->domain);
		assert_true(r->nrecords > 0);
		assert_non_null(r->records[0].source_ip);
		mox_dmarc_report_free(r);
	}
	/* Google's report in detail. */
	mox_dmarc_report *r = parse_file(RDIR "/mox/google.eml", true, MOX_OK);
	assert_string_equal(r->org_name, "google.com");
	mox_dmarc_report_free(r);

	/* parsedmarc's compressed files and messages. */
	static const struct {
		const char *file;
		bool msg;
	} ok[] = {
		{"nice-input.xml", false},
		{"old_draft_from_wiki.xml", false},
		{"rfc9990-sample.xml", false},
		{"rfc9990-example.net-example.com.xml", false},
		{"large-example.com-1711897200.xml", false},
		{"empty_reason.xml", false},
		{"google-report-borschow.eml", true},
		{"twilight.eml", true},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), RDIR "/parsedmarc/%s", ok[i].file);
		r = parse_file(path, ok[i].msg, MOX_OK);
		assert_true(r->nrecords > 0);
		if (strstr(ok[i].file, "large") != NULL)
			assert_int_equal(r->nrecords, 2286);
		mox_dmarc_report_free(r);
	}
}

/* gzip and zip attachments built from nice-input.xml's compressed forms. */
static void
wrap_and_parse(const char *file, const char *ctype, const char *name)
{
	size_t len;
	char path[256];
	snprintf(path, sizeof(path), RDIR "/parsedmarc/%s", file);
	char *data = mox_test_read_file(path, &len);
	assert_non_null(data);
	mox_buf m = MOX_BUF_INIT;
	mox_buf_appendf(&m, "From: r@example.org\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
			    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
			    "Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
			    "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
			    "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
			ctype, name);
	mox_base64_encode(&m, data, len);
	mox_buf_append_str(&m, "\r\n--b--\r\n");
	mox_dmarc_report *r = NULL;
	mox_errinfo info = {0};
	mox_err err = mox_dmarc_report_parse_message(m.data, m.len, NULL, NULL, &r, &info);
	if (err != MOX_OK)
		fail_msg("%s: %s", file, info.msg);
	assert_true(r->nrecords > 0);
	mox_dmarc_report_free(r);
	/* Truncated compressed data fails cleanly. */
	mox_buf t = MOX_BUF_INIT;
	mox_buf_appendf(&t, "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", ctype);
	mox_base64_encode(&t, data, len / 2);
	assert_int_not_equal(mox_dmarc_report_parse_message(t.data, t.len, NULL, NULL, &r, &info),
			     MOX_OK);
	assert_null(r);
	mox_buf_free(&t);
	mox_buf_free(&m);
	free(data);
}

static void
test_compressed(void **state)
{
	(void)state;
	wrap_and_parse("nice-input.xml.gz", "application/gzip", "report.xml.gz");
	wrap_and_parse("nice-input.xml.zip", "application/zip", "report.zip");
	wrap_and_parse("fastmail.com-example.com.xml.gz", "application/octet-stream", "r.xml.gz");
	wrap_and_parse("infonacot-example.com.xml.zip", "application/x-zip-compressed", "r.zip");
	/* A message without a report. */
	const char *m = "From: a@b\r\n\r\nhello\r\n";
	mox_dmarc_report *r = NULL;
	assert_int_equal(mox_dmarc_report_parse_message(m, strlen(m), NULL, NULL, &r, NULL),
			 MOX_ENOTFOUND);
}

static void
test_broken(void **state)
{
	(void)state;
	parse_file(RDIR "/parsedmarc/invalid-empty.xml", false, MOX_ESYNTAX);
	parse_file(RDIR "/parsedmarc/invalid_xml.xml", false, MOX_ESYNTAX);
	parse_file(RDIR "/parsedmarc/invalid_utf_8.xml", false, MOX_ESYNTAX);
	parse_file(RDIR "/parsedmarc/ikea.com-example.de.xml", false, MOX_ESYNTAX);
	/* Well-formed with "Pass" in upper case: parsed, values as written. */
	mox_dmarc_report *r =
		parse_file(RDIR "/parsedmarc/invalid-report_with_upper_cased_pass.xml", false,
			   MOX_OK);
	mox_dmarc_report_free(r);

	/* Billion laughs: refused at the DTD, nothing expanded. */
	const char *bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
			   "<!ENTITY lol \"lol\">\n"
			   "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
			   "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
			   "]>\n<feedback><report_metadata><org_name>&lol3;</org_name>"
			   "</report_metadata></feedback>";
	mox_errinfo info = {0};
	assert_int_equal(mox_dmarc_report_parse(bomb, strlen(bomb), NULL, NULL, &r, &info),
			 MOX_ESYNTAX);
	assert_non_null(strstr(info.msg, "document type"));
	/* Deep nesting and long text hit the limits. */
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(&b, "<feedback>");
	for (int i = 0; i < 100; i++)
		mox_buf_append_str(&b, "<x>");
	assert_int_equal(mox_dmarc_report_parse(b.data, b.len, NULL, NULL, &r, &info), MOX_ELIMIT);
	mox_buf_reset(&b);
	mox_buf_append_str(&b, "<feedback><report_metadata><org_name>");
	for (int i = 0; i < 70000; i++)
		mox_buf_append_byte(&b, 'a');
	mox_buf_append_str(&b, "</org_name></report_metadata></feedback>");
	assert_int_equal(mox_dmarc_report_parse(b.data, b.len, NULL, NULL, &r, &info), MOX_ELIMIT);
	/* Record count limit, exactly at and one past. */
	mox_buf_reset(&b);
	mox_buf_append_str(&b, "<feedback>");
	for (int i = 0; i < 11; i++)
		mox_buf_append_str(&b, "<record><row><count>1</count></row></record>");
	mox_buf_append_str(&b, "</feedback>");
	mox_dmarc_report_limits lim = {.max_records = 11};
	assert_int_equal(mox_dmarc_report_parse(b.data, b.len, &lim, NULL, &r, &info), MOX_OK);
	assert_int_equal(r->nrecords, 11);
	mox_dmarc_report_free(r);
	lim.max_records = 10;
	assert_int_equal(mox_dmarc_report_parse(b.data, b.len, &lim, NULL, &r, &info), MOX_ELIMIT);
	/* Huge numbers are an error, not a wrap-around. */
	const char *huge = "<feedback><record><row><count>99999999999999999999999</count></row>"
			   "</record></feedback>";
	assert_int_equal(mox_dmarc_report_parse(huge, strlen(huge), NULL, NULL, &r, &info),
			 MOX_ESYNTAX);
	const char *other = "<html></html>";
	assert_int_equal(mox_dmarc_report_parse(other, strlen(other), NULL, NULL, &r, &info),
			 MOX_ESYNTAX);
	mox_buf_free(&b);
}

static void
test_oom(void **state)
{
	(void)state;
	size_t len;
	char *data = mox_test_read_file(RDIR "/stalwart/001.xml", &len);
	assert_non_null(data);
	for (long n = 0;; n++) {
		mox_testalloc ta;
		mox_testalloc_init(&ta, n);
		mox_dmarc_report *r = NULL;
		mox_err err = mox_dmarc_report_parse(data, len, NULL, &ta.a, &r, NULL);
		mox_dmarc_report_free(r);
		assert_int_equal(ta.live, 0);
		if (err == MOX_OK)
			break;
		assert_int_equal(err, MOX_ENOMEM);
	}
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalwart),   cmocka_unit_test(test_messages),
		cmocka_unit_test(test_compressed), cmocka_unit_test(test_broken),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
