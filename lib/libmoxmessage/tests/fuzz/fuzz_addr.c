/* Fuzz the structured-field parsers on the same input: address lists,
 * dates, message identifiers, unstructured text. Where we also write the
 * format, parse -> write -> parse must give the same values:
 *   - every address with a domain that mox_msg_write_addr accepts reads
 *     back the same (name, local part, domain), alone and inside a folded
 *     To field written by mox_msg_write_field;
 *   - a date written by mox_msg_write_date reads back the same instant
 *     and zone;
 *   - decoded text written by mox_msg_write_field decodes to the same text
 *     (white space runs compared as one space, as folds unfold), unless it
 *     holds "=?" (a literal encoded word is written as it is, see
 *     message.h);
 * and no written line passes 998 octets. The input is also written as the
 * text and the binary part of a message (mox_msg_writer), which the part
 * parser must give back, with lines within 78. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mox/message.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "round trip failed: %s\n", what);
		abort();
	}
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_lines(const mox_buf *b)
{
	size_t line = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n') {
			line = 0;
			continue;
		}
		line++;
		check(line <= MOX_MSG_LINE_MAX + 1, "line over 998");
	}
}

/* White space runs as one space, trimmed. */
static void
squeeze(const char *s, mox_buf *out)
{
	int sp = 0;
	mox_buf_reset(out);
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t') {
			sp = out->len > 0;
			continue;
		}
		if (sp)
			mox_buf_append_byte(out, ' ');
		sp = 0;
		mox_buf_append_byte(out, (uint8_t)*s);
	}
	mox_buf_append(out, "", 0);
}

static void
fuzz_addr(const uint8_t *data, size_t size, unsigned flags, int smtputf8)
{
	mox_msg_addr_list *l = NULL;
	unsigned w;
	if (mox_msg_addr_list_parse(data, size, flags, NULL, &l, &w, NULL) != MOX_OK)
		return;
	mox_buf one = MOX_BUF_INIT, all = MOX_BUF_INIT, field = MOX_BUF_INIT;
	const mox_msg_addr **written = calloc(l->n + 1, sizeof(*written));
	size_t nwritten = 0;
	for (size_t i = 0; i < l->n; i++) {
		const mox_msg_addr *a = &l->a[i];
		if (a->local == NULL || a->domain == NULL)
			continue;
		mox_buf_reset(&one);
		if (mox_msg_write_addr(&one, a->name, a->local, a->domain, smtputf8) != MOX_OK)
			continue;
		mox_msg_addr_list *r = NULL;
		check(mox_msg_addr_list_parse(one.data, one.len, MOX_MSG_STRICT, NULL, &r, NULL,
					      NULL) == MOX_OK,
		      "written address does not parse strictly");
		check(r->n == 1, "written address gives one entry");
		check(same(r->a[0].name, a->name), "name");
		check(same(r->a[0].local, a->local), "local part");
		check(same(r->a[0].domain, a->domain), "domain");
		mox_msg_addr_list_free(r);
		if (nwritten > 0)
			mox_buf_append_str(&all, ", ");
		mox_buf_append(&all, one.data, one.len);
		written[nwritten++] = a;
	}
	if (nwritten > 0 && mox_msg_write_field(&field, "To", (char *)all.data, smtputf8) ==
				    MOX_OK) {
		check_lines(&field);
		mox_msg_addr_list *r = NULL;
		check(mox_msg_addr_list_parse(field.data + 3, field.len - 5, MOX_MSG_STRICT, NULL,
					      &r, NULL, NULL) == MOX_OK,
		      "folded field does not parse strictly");
		check(r->n == nwritten, "folded field count");
		for (size_t i = 0; i < nwritten; i++) {
			check(same(r->a[i].name, written[i]->name), "folded name");
			check(same(r->a[i].local, written[i]->local), "folded local part");
			check(same(r->a[i].domain, written[i]->domain), "folded domain");
		}
		mox_msg_addr_list_free(r);
	}
	free(written);
	mox_buf_free(&one);
	mox_buf_free(&all);
	mox_buf_free(&field);
	mox_msg_addr_list_free(l);
}

static void
fuzz_date(const uint8_t *data, size_t size)
{
	mox_msg_date d, d2;
	if (mox_msg_date_parse(data, size, &d, NULL) != MOX_OK)
		return;
	mox_buf b = MOX_BUF_INIT;
	if (mox_msg_write_date(&b, d.t, d.tz_offset) == MOX_OK) {
		check(mox_msg_date_parse(b.data, b.len, &d2, NULL) == MOX_OK, "written date");
		check(d2.t == d.t && d2.tz_offset == d.tz_offset, "date round trip");
	}
	mox_buf_free(&b);
}

static void
fuzz_text(const uint8_t *data, size_t size, int smtputf8)
{
	mox_buf t = MOX_BUF_INIT, f = MOX_BUF_INIT, t2 = MOX_BUF_INIT;
	mox_buf s1 = MOX_BUF_INIT, s2 = MOX_BUF_INIT;
	unsigned w;
	if (mox_msg_decode_text(data, size, &t, &w) != MOX_OK)
		goto out;
	check(t.data != NULL && strlen((char *)t.data) == t.len, "NUL in decoded text");
	if (strstr((char *)t.data, "=?") != NULL)
		goto out;
	if (mox_msg_write_field(&f, "Subject", (char *)t.data, smtputf8) != MOX_OK) {
		/* Only line breaks (decoded from encoded words) refuse. */
		check(strchr((char *)t.data, '\r') != NULL || strchr((char *)t.data, '\n') != NULL,
		      "write_field refused text");
		goto out;
	}
	check_lines(&f);
	check(mox_msg_decode_text(f.data + 8, f.len - 10, &t2, &w) == MOX_OK, "decode again");
	check(w == 0, "warnings on written text");
	squeeze((char *)t.data, &s1);
	squeeze((char *)t2.data, &s2);
	check(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0, "text round trip");
out:
	mox_buf_free(&t);
	mox_buf_free(&f);
	mox_buf_free(&t2);
	mox_buf_free(&s1);
	mox_buf_free(&s2);
}

/* The input as a text part and as a binary part of a written message:
 * every line within 78, and the part parser gives the content back (text
 * with LF made CRLF). */
static void
fuzz_writer(const uint8_t *data, size_t size)
{
	mox_msg_writer *w = NULL;
	mox_buf b = MOX_BUF_INIT, want = MOX_BUF_INIT, got = MOX_BUF_INIT;
	mox_msg *m = NULL;
	if (mox_msg_writer_new(&w, NULL) != MOX_OK)
		return;
	check(mox_msg_writer_part(w, "text/plain", data, size) == MOX_OK, "text part");
	check(mox_msg_writer_part(w, "application/octet-stream", data, size) == MOX_OK,
	      "binary part");
	check(mox_msg_writer_finish(w, "mixed", &b) == MOX_OK, "finish");
	size_t line = 0;
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '\n') {
			check(i > 0 && b.data[i - 1] == '\r', "bare LF in message");
			line = 0;
			continue;
		}
		line++;
		check(line <= MOX_MSG_LINE_SOFT + 1, "message line over 78");
	}
	mox_msg_parse_opts opts = {.size = sizeof(opts)};
	check(mox_msg_parse(b.data, b.len, &opts, &m, NULL) == MOX_OK, "parse message");
	check(m->root->nchildren == 2, "two parts");
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			mox_buf_append_byte(&want, '\r');
		mox_buf_append_byte(&want, data[i]);
	}
	for (size_t k = 0; k < 2; k++) {
		const mox_msg_part *p = m->root->children[k];
		const mox_buf *exp = &want;
		mox_buf raw = {(uint8_t *)data, size, size, 0, NULL};
		if (k == 1)
			exp = &raw;
		mox_msg_decoder *dec = NULL;
		mox_buf_reset(&got);
		check(mox_msg_decoder_new(&dec, p->cte, NULL, NULL) == MOX_OK, "decoder");
		check(mox_msg_decoder_feed(dec, b.data + p->body_offset,
					   p->end_offset - p->body_offset, &got) == MOX_OK &&
			      mox_msg_decoder_end(dec, &got) == MOX_OK,
		      "decode part");
		check(mox_msg_decoder_warnings(dec) == 0, "decoder warnings");
		mox_msg_decoder_free(dec);
		check(got.len == exp->len && (got.len == 0 || memcmp(got.data, exp->data, got.len) == 0),
		      "part content");
	}
	mox_msg_free(m);
	mox_buf_free(&b);
	mox_buf_free(&want);
	mox_buf_free(&got);
	mox_msg_writer_free(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_writer(data, size);
	fuzz_addr(data, size, 0, 1);
	fuzz_addr(data, size, 0, 0);
	fuzz_addr(data, size, MOX_MSG_STRICT, 1);
	fuzz_date(data, size);
	mox_msg_id_list *ids = NULL;
	unsigned w;
	if (mox_msg_id_list_parse(data, size, NULL, &ids, &w) == MOX_OK)
		mox_msg_id_list_free(ids);
	fuzz_text(data, size, 0);
	fuzz_text(data, size, 1);
	return 0;
}
