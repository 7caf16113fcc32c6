/* The part tree blob: for every message of ../shared/testdata/messages,
 * parse (libmoxmessage), encode, decode, and compare the tree field by
 * field; envelopes on the root and nested messages; damaged blobs
 * (every truncation, flipped bytes, unknown version, deep nesting) are
 * refused without reading past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_int.h"
#include "store_test.h"
#include "mox_testfile.h"

static size_t nparts_checked;

static void
cmp_params(const mox_msg_params *a, const mox_store_param *b, size_t nb)
{
	assert_int_equal(a->n, nb);
	for (size_t i = 0; i < nb; i++) {
		assert_string_equal(a->p[i].name, b[i].name);
		/* Values with NUL are cut there, as C strings. */
		assert_int_equal(strncmp(a->p[i].value, b[i].value, strlen(b[i].value)),
		                 0);
	}
}

static void
cmp_part(const mox_msg_part *a, const mox_store_part *b)
{
	nparts_checked++;
	assert_int_equal(a->header_offset, b->header_offset);
	assert_int_equal(a->body_offset, b->body_offset);
	assert_int_equal(a->end_offset, b->end_offset);
	assert_int_equal(a->body_lines, b->body_lines);
	assert_int_equal(a->warnings, b->warnings);
	assert_string_equal(a->type, b->type);
	assert_string_equal(a->subtype, b->subtype);
	cmp_params(&a->params, b->params, b->nparams);
	if (a->disposition == NULL)
		assert_null(b->disposition);
	else
		assert_string_equal(a->disposition, b->disposition);
	cmp_params(&a->disposition_params, b->disposition_params,
	           b->ndisposition_params);
	bool env = a->parent == NULL || mox_msg_part_is_message(a->parent);
	assert_int_equal(env, b->envelope != NULL);
	if (env && a->header != NULL) {
		const mox_msg_field *f = mox_msg_header_get(a->header, "Subject", 0);
		assert_int_equal(f != NULL, b->envelope->subject != NULL);
		f = mox_msg_header_get(a->header, "From", 0);
		if (f == NULL)
			assert_int_equal(b->envelope->from.n, 0);
	}
	if (a->header != NULL && mox_msg_header_get(a->header, "Content-ID", 0) != NULL)
		assert_non_null(b->content_id);
	assert_int_equal(a->nchildren, b->nchildren);
	for (size_t i = 0; i < a->nchildren; i++)
		cmp_part(a->children[i], &b->children[i]);
}

static size_t files_checked;

static void
check_file(const char *path)
{
	size_t len;
	char *data = mox_test_read_file(path, &len);
	assert_non_null(data);
	mox_msg *msg = NULL;
	mox_msg_parse_opts po = {.size = sizeof(po)};
	if (mox_msg_parse(data, len, &po, &msg, NULL) != MOX_OK) {
		free(data);
		return; /* the store keeps a flat tree then: test_message */
	}
	mox_buf blob = MOX_BUF_INIT;
	assert_int_equal(mox_store_part_encode(msg, &blob), MOX_OK);
	assert_int_equal(blob.data[0], MOX_STORE_PART_FORMAT);
	mox_store_part *p = NULL;
	mox_err err = mox_store_part_decode(blob.data, blob.len, NULL, &p);
	if (err != MOX_OK)
		fail_msg("%s: decode: %s", path, mox_strerror(err));
	cmp_part(msg->root, p);
	/* Every truncation is refused. */
	for (size_t n = 0; n < blob.len; n++) {
		mox_store_part *t = NULL;
		assert_int_not_equal(mox_store_part_decode(blob.data, n, NULL, &t),
		                     MOX_OK);
		assert_null(t);
	}
	mox_store_part_free(p);
	mox_buf_free(&blob);
	mox_msg_free(msg);
	free(data);
	files_checked++;
}

static void
walk(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat sb;
		if (stat(p, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			walk(p);
			continue;
		}
		size_t l = strlen(e->d_name);
		bool msg = (l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0) ||
		           (l > 4 && strcmp(e->d_name + l - 4, ".raw") == 0) ||
		           (strstr(p, "mimekit/messages/") != NULL &&
		            strcmp(e->d_name + l - 4, ".txt") == 0);
		if (msg)
			check_file(p);
	}
	closedir(d);
}

static void
test_corpus(void **state)
{
	(void)state;
	char p[4096];
	st_path(p, sizeof(p), "%s/messages", MOX_TESTDATA_DIR);
	walk(p);
	printf("part blobs: %zu messages, %zu parts round-tripped\n", files_checked,
	       nparts_checked);
	assert_true(files_checked >= 150);
}

static void
test_envelope(void **state)
{
	(void)state;
	const char *m = "Date: Mon, 2 Jan 2006 15:04:05 +0100\r\n"
	                "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
	                "From: \"Doe, Jane\" <jane@example.org>\r\n"
	                "To: a@example.com, Group: b@example.com, c@example.com;\r\n"
	                "Cc: undisclosed-recipients:;\r\n"
	                "Message-ID: <id@example.org>\r\n"
	                "In-Reply-To: <parent@example.org>\r\n"
	                "Content-Type: multipart/mixed; boundary=x\r\n"
	                "\r\n"
	                "--x\r\n"
	                "Content-Type: message/rfc822\r\n"
	                "Content-ID: <part1>\r\n"
	                "\r\n"
	                "Subject: inner\r\n"
	                "From: inner@example.net\r\n"
	                "\r\n"
	                "inner body\r\n"
	                "--x--\r\n";
	mox_msg *msg = NULL;
	mox_msg_parse_opts po = {.size = sizeof(po)};
	assert_int_equal(mox_msg_parse(m, strlen(m), &po, &msg, NULL), MOX_OK);
	mox_buf blob = MOX_BUF_INIT;
	assert_int_equal(mox_store_part_encode(msg, &blob), MOX_OK);
	mox_store_part *p = NULL;
	assert_int_equal(mox_store_part_decode(blob.data, blob.len, NULL, &p), MOX_OK);
	const mox_store_envelope *e = p->envelope;
	assert_non_null(e);
	assert_string_equal(e->date, "Mon, 2 Jan 2006 15:04:05 +0100");
	assert_true(e->date_valid);
	assert_int_equal(e->date_time, 1136210645);
	assert_int_equal(e->date_tz, 60);
	assert_string_equal(e->subject, "=?utf-8?q?caf=C3=A9?=");
	assert_int_equal(e->from.n, 1);
	assert_string_equal(e->from.a[0].name, "Doe, Jane");
	assert_string_equal(e->from.a[0].local, "jane");
	assert_int_equal(e->to.n, 3);
	assert_null(e->to.a[0].group);
	assert_string_equal(e->to.a[1].group, "Group");
	assert_int_equal(e->cc.n, 1);
	assert_string_equal(e->cc.a[0].group, "undisclosed-recipients");
	assert_null(e->cc.a[0].local);
	assert_int_equal(e->bcc.n, 0);
	assert_string_equal(e->message_id, "<id@example.org>");
	assert_string_equal(e->in_reply_to, "<parent@example.org>");
	assert_int_equal(p->nchildren, 1);
	const mox_store_part *c = &p->children[0];
	assert_string_equal(c->type, "message");
	assert_string_equal(c->content_id, "<part1>");
	assert_null(c->envelope);
	assert_int_equal(c->nchildren, 1);
	assert_non_null(c->children[0].envelope);
	assert_string_equal(c->children[0].envelope->subject, "inner");
	assert_false(c->children[0].envelope->date_valid);
	mox_store_part_free(p);

	/* Unknown version. */
	blob.data[0] = 2;
	assert_int_equal(mox_store_part_decode(blob.data, blob.len, NULL, &p),
	                 MOX_EUNSUPPORTED);
	/* Flipped bytes: refused or decoded, never read past the end. */
	blob.data[0] = MOX_STORE_PART_FORMAT;
	for (size_t i = 1; i < blob.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			blob.data[i] ^= (uint8_t)(1 << bit);
			if (mox_store_part_decode(blob.data, blob.len, NULL, &p) ==
			    MOX_OK)
				mox_store_part_free(p);
			blob.data[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* Trailing garbage. */
	mox_buf_append_byte(&blob, 0);
	assert_int_equal(mox_store_part_decode(blob.data, blob.len, NULL, &p),
	                 MOX_ESYNTAX);
	mox_buf_free(&blob);
	mox_msg_free(msg);
	assert_int_equal(mox_store_part_decode(NULL, 0, NULL, &p), MOX_ESYNTAX);
}

static void
test_flat_and_depth(void **state)
{
	(void)state;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox__store_part_encode_flat(1234, MOX_MSG_WARN_BARE_LF, &b),
	                 MOX_OK);
	mox_store_part *p = NULL;
	assert_int_equal(mox_store_part_decode(b.data, b.len, NULL, &p), MOX_OK);
	assert_int_equal(p->end_offset, 1234);
	assert_string_equal(p->type, "text");
	assert_non_null(p->envelope);
	assert_null(p->envelope->subject);
	mox_store_part_free(p);
	mox_buf_free(&b);

	/* Nesting one past the limit is refused: a chain of parts, each with
	 * one child. */
	for (int depth = MOX_STORE_PART_DEPTH_MAX;
	     depth <= MOX_STORE_PART_DEPTH_MAX + 1; depth++) {
		mox_buf_reset(&b);
		mox_buf_append_byte(&b, MOX_STORE_PART_FORMAT);
		for (int d = 0; d < depth; d++) {
			static const uint8_t part[] = {
			    0, 0,   0, 0,   0,    /* offsets, lines, warnings */
			    1, 'a', 1, 'b',       /* type, subtype */
			    0, 0,   0, 0,         /* params, enc, disp, dparams */
			    0, 0,   0, 0,   0, 0, /* 5 fields, no envelope */
			};
			mox_buf_append(&b, part, sizeof(part));
			mox_buf_append_byte(&b, d + 1 < depth ? 1 : 0);
		}
		mox_err err = mox_store_part_decode(b.data, b.len, NULL, &p);
		if (depth <= MOX_STORE_PART_DEPTH_MAX) {
			assert_int_equal(err, MOX_OK);
			mox_store_part_free(p);
		} else {
			assert_int_equal(err, MOX_ESYNTAX);
		}
	}
	mox_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_flat_and_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
