/* BODYSTRUCTURE, BODY and ENVELOPE: exact strings for the RFC 3501 section
 * 6.4.5 sample message (mimekit's rfc2060.txt) and a hand-built message
 * with every body field; and a corpus run where every message of
 * ../shared/testdata/messages gives output that a grammar checker for RFC
 * 9051 section 7.5.2 (body, envelope, address) accepts, and where the
 * functions on prepared values (mox_imap_bodystructure_part,
 * mox_imap_envelope_env, as a store's cached tree gives them) write the
 * same bytes as the ones on the parsed message. */
#include <mox/imap.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "mox_testfile.h"

/* ---- a response-side checker: RFC 9051 section 7.5.2 grammar ---- */

typedef struct chk {
	const uint8_t *b;
	size_t len, pos;
	bool ok;
} chk;

static bool
c_eat(chk *c, const char *s)
{
	size_t n = strlen(s);
	if (c->len - c->pos >= n && memcmp(c->b + c->pos, s, n) == 0) {
		c->pos += n;
		return true;
	}
	return false;
}

static void
c_need(chk *c, const char *s)
{
	if (!c_eat(c, s))
		c->ok = false;
}

/* string = quoted / literal */
static bool
c_string(chk *c)
{
	if (c_eat(c, "\"")) {
		while (c->pos < c->len && c->b[c->pos] != '"') {
			if (c->b[c->pos] == '\r' || c->b[c->pos] == '\n')
				return c->ok = false;
			if (c->b[c->pos] == '\\')
				c->pos++;
			c->pos++;
		}
		return c_eat(c, "\"") || (c->ok = false);
	}
	if (c_eat(c, "{")) {
		size_t n = 0, s = c->pos;
		while (c->pos < c->len && c->b[c->pos] >= '0' && c->b[c->pos] <= '9')
			n = n * 10 + (size_t)(c->b[c->pos++] - '0');
		if (c->pos == s || !c_eat(c, "}\r\n") || c->len - c->pos < n)
			return c->ok = false;
		c->pos += n;
		return true;
	}
	return false;
}

static void
c_nstring(chk *c)
{
	if (!c_eat(c, "NIL") && !c_string(c))
		c->ok = false;
}

static void
c_number(chk *c)
{
	size_t s = c->pos;
	while (c->pos < c->len && c->b[c->pos] >= '0' && c->b[c->pos] <= '9')
		c->pos++;
	if (c->pos == s)
		c->ok = false;
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static void
c_params(chk *c)
{
	if (c_eat(c, "NIL"))
		return;
	c_need(c, "(");
	do {
		if (!c_string(c))
			c->ok = false;
		c_need(c, " ");
		if (!c_string(c))
			c->ok = false;
	} while (c->ok && c_eat(c, " "));
	c_need(c, ")");
}

static void
c_address_list(chk *c)
{
	if (c_eat(c, "NIL"))
		return;
	c_need(c, "(");
	int n = 0;
	while (c->ok && c_eat(c, "(")) {
		c_nstring(c);
		c_need(c, " ");
		c_nstring(c);
		c_need(c, " ");
		c_nstring(c);
		c_need(c, " ");
		c_nstring(c);
		c_need(c, ")");
		n++;
	}
	if (n == 0)
		c->ok = false;
	c_need(c, ")");
}

static void
c_envelope(chk *c)
{
	c_need(c, "(");
	c_nstring(c); /* date */
	c_need(c, " ");
	c_nstring(c); /* subject */
	for (int i = 0; i < 6; i++) {
		c_need(c, " ");
		c_address_list(c);
	}
	c_need(c, " ");
	c_nstring(c);
	c_need(c, " ");
	c_nstring(c);
	c_need(c, ")");
}

static void
c_dsp(chk *c)
{
	if (c_eat(c, "NIL"))
		return;
	c_need(c, "(");
	if (!c_string(c))
		c->ok = false;
	c_need(c, " ");
	c_params(c);
	c_need(c, ")");
}

static void
c_lang(chk *c)
{
	if (c_eat(c, "(")) {
		do {
			if (!c_string(c))
				c->ok = false;
		} while (c->ok && c_eat(c, " "));
		c_need(c, ")");
		return;
	}
	c_nstring(c);
}

static void
c_ext(chk *c, bool multipart)
{
	if (multipart)
		c_params(c);
	else
		c_nstring(c); /* md5 */
	c_need(c, " ");
	c_dsp(c);
	c_need(c, " ");
	c_lang(c);
	c_need(c, " ");
	c_nstring(c); /* location */
}

static void
c_body(chk *c, bool ext, int depth)
{
	if (depth > 100)
		c->ok = false;
	c_need(c, "(");
	if (!c->ok)
		return;
	if (c->pos < c->len && c->b[c->pos] == '(') {
		while (c->ok && c->pos < c->len && c->b[c->pos] == '(')
			c_body(c, ext, depth + 1);
		c_need(c, " ");
		if (!c_string(c))
			c->ok = false; /* media-subtype */
		if (ext) {
			c_need(c, " ");
			c_ext(c, true);
		}
		c_need(c, ")");
		return;
	}
	size_t ts = c->pos;
	if (!c_string(c))
		c->ok = false;
	bool text = c->pos - ts == 6 && memcmp(c->b + ts, "\"TEXT\"", 6) == 0;
	c_need(c, " ");
	size_t ss = c->pos;
	if (!c_string(c))
		c->ok = false;
	bool msg = memcmp(c->b + ts, "\"MESSAGE\"", 9) == 0 &&
		   ((c->pos - ss == 8 && memcmp(c->b + ss, "\"RFC822\"", 8) == 0) ||
		    (c->pos - ss == 8 && memcmp(c->b + ss, "\"GLOBAL\"", 8) == 0));
	c_need(c, " ");
	c_params(c);
	c_need(c, " ");
	c_nstring(c); /* id */
	c_need(c, " ");
	c_nstring(c); /* desc */
	c_need(c, " ");
	if (!c_string(c))
		c->ok = false; /* enc */
	c_need(c, " ");
	c_number(c);
	if (msg && c->pos < c->len && c->b[c->pos] == ' ' && c->pos + 1 < c->len &&
	    c->b[c->pos + 1] == '(') {
		c_need(c, " ");
		c_envelope(c);
		c_need(c, " ");
		c_body(c, ext, depth + 1);
		c_need(c, " ");
		c_number(c);
	} else if (text) {
		c_need(c, " ");
		c_number(c);
	}
	if (ext) {
		c_need(c, " ");
		c_ext(c, false);
	}
	c_need(c, ")");
}

static bool
check_body(const mox_buf *b, bool ext)
{
	chk c = {b->data, b->len, 0, true};
	c_body(&c, ext, 0);
	return c.ok && c.pos == c.len;
}

static bool
check_envelope(const mox_buf *b)
{
	chk c = {b->data, b->len, 0, true};
	c_envelope(&c);
	return c.ok && c.pos == c.len;
}

/* ---- exact results ---- */

static const char rfc2060_bs[] =
	"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 33 1 NIL NIL NIL NIL)"
	"(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" 33 NIL NIL NIL NIL)"
	"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 302 (NIL \"This part specifier should be: 3\" ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 35 1 NIL NIL NIL NIL)"
	"(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" 35 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"3.x\") NIL NIL NIL) 17 NIL NIL NIL NIL)"
	"((\"IMAGE\" \"GIF\" NIL NIL NIL \"7BIT\" 35 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 462 (NIL \"This part specifier should be: 4.2\" ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 37 1 NIL NIL NIL NIL)"
	"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 39 1 NIL NIL NIL NIL)"
	"(\"TEXT\" \"RICHTEXT\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 39 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"4.2.2.x\") NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"4.2.x\") NIL NIL NIL) 26 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"4.x\") NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"x\") NIL NIL NIL)";

static mox_msg *
parse(const char *data, size_t len)
{
	mox_msg *m = NULL;
	assert_int_equal(mox_msg_parse(data, len, NULL, &m, NULL), MOX_OK);
	return m;
}

static void
test_rfc2060(void **state)
{
	(void)state;
	size_t len = 0;
	char *data = mox_test_read_file(
		MOX_TESTDATA_DIR "/messages/mimekit/messages/rfc2060.txt", &len);
	assert_non_null(data);
	mox_msg *m = parse(data, len);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_bodystructure(m->root, MOX_IMAP_BS_EXTENDED, &b), MOX_OK);
	assert_string_equal((const char *)b.data, rfc2060_bs);
	assert_true(check_body(&b, true));
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_bodystructure(m->root, 0, &b), MOX_OK);
	assert_true(check_body(&b, false));
	/* BODY: the same without extension data. */
	assert_non_null(strstr((const char *)b.data,
			       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 33 1)("));
	assert_non_null(strstr((const char *)b.data, "\"RICHTEXT\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 39 1) \"ALTERNATIVE\") \"MIXED\") 26) \"MIXED\") \"MIXED\")"));
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(m->root->header, 0, &b), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "(NIL \"Sample message structure for IMAP part specifiers\" "
			    "((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) "
			    "((NIL NIL \"me\" \"myself.com\")) ((NIL NIL \"me\" \"myself.com\")) "
			    "NIL NIL NIL NIL)");
	mox_buf_free(&b);
	mox_msg_free(m);
	free(data);
}

static const char full_msg[] =
	"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
	"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	"Subject: afternoon\r\n meeting\r\n"
	"To: mooch@owatagu.siam.edu.example\r\n"
	"Cc: Undisclosed: ;\r\n"
	"Bcc: Team: a@x.example, \"B \\\"q\\\"\" <b@x.example>;, c@y.example\r\n"
	"Reply-To: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n"
	"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	"In-Reply-To: <a@b>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n"
	"Content-Language: en, de\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: TEXT/PLAIN; CHARSET=ISO-8859-1; format=flowed\r\n"
	"Content-ID: <id1@x>\r\n"
	"Content-Description: the text\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Hello=\r\n"
	"World\r\n"
	"--b1\r\n"
	"Content-Type: application/pdf; name=\"a b.pdf\"\r\n"
	"Content-Disposition: attachment; filename=\"a b.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"Content-Location: http://example.org/a.pdf\r\n"
	"Content-Language: fr\r\n"
	"\r\n"
	"AAAA\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"\r\n"
	"body\r\n"
	"--b1\r\n"
	"Content-Type: multipart/alternative; boundary=b2\r\n"
	"\r\n"
	"--b2--\r\n"
	"--b1--\r\n";

static void
test_full(void **state)
{
	(void)state;
	mox_msg *m = parse(full_msg, sizeof(full_msg) - 1);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_bodystructure(m->root, MOX_IMAP_BS_EXTENDED, &b), MOX_OK);
	assert_string_equal(
		(const char *)b.data,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-8859-1\" \"FORMAT\" \"flowed\") "
		"\"<id1@x>\" \"the text\" \"QUOTED-PRINTABLE\" 13 2 NIL NIL NIL NIL)"
		"(\"APPLICATION\" \"PDF\" (\"NAME\" \"a b.pdf\") NIL NIL \"BASE64\" 4 "
		"\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" (\"FILENAME\" \"a b.pdf\")) "
		"\"fr\" \"http://example.org/a.pdf\")"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 22 "
		"(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 4 1 NIL NIL NIL NIL) "
		"3 NIL NIL NIL NIL)"
		/* libmoxmessage reads a multipart without parts as text/plain */
		"(\"TEXT\" \"PLAIN\" (\"BOUNDARY\" \"b2\" \"CHARSET\" \"US-ASCII\") "
		"NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"b1\") NIL (\"en\" \"de\") NIL)");
	assert_true(check_body(&b, true));
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(m->root->header, 0, &b), MOX_OK);
	assert_string_equal(
		(const char *)b.data,
		"(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" "
		"((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
		"((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) "
		"((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"jorg\" \"example.org\")) "
		"((NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) "
		"((NIL NIL \"Undisclosed\" NIL)(NIL NIL NIL NIL)) "
		"((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.example\")"
		"(\"B \\\"q\\\"\" NIL \"b\" \"x.example\")(NIL NIL NIL NIL)"
		"(NIL NIL \"c\" \"y.example\")) "
		"\"<a@b>\" \"<B27397-0100000@Blurdybloop.example>\")");
	assert_true(check_envelope(&b));
	/* With UTF8=ACCEPT the display name is UTF-8. */
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(m->root->header, MOX_IMAP_BS_UTF8, &b), MOX_OK);
	assert_non_null(strstr((const char *)b.data, "((\"J\xc3\xb6rg\" NIL \"jorg\" \"example.org\"))"));
	/* No header: all NIL. */
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(NULL, 0, &b), MOX_OK);
	assert_string_equal((const char *)b.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mox_buf_free(&b);
	mox_msg_free(m);
}

/* Non-ASCII without UTF8=ACCEPT goes as a literal; a single-part message
 * without Content-Type is text/plain us-ascii. */
static void
test_literal_and_defaults(void **state)
{
	(void)state;
	static const char msg[] = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nline1\r\nline2\r\n";
	mox_msg *m = parse(msg, sizeof(msg) - 1);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_imap_bodystructure(m->root, 0, &b), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)");
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(m->root->header, 0, &b), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_true(check_envelope(&b));
	mox_buf_reset(&b);
	assert_int_equal(mox_imap_envelope(m->root->header, MOX_IMAP_BS_UTF8, &b), MOX_OK);
	assert_string_equal((const char *)b.data,
			    "(NIL \"Gr\xc3\xbc\xc3\x9f" "e\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	mox_buf_free(&b);
	mox_msg_free(m);
}

/* ---- corpus ---- */

/* ---- prepared values (mox_imap_part, mox_imap_env) ---- */

/* Everything a prepared tree needs, freed together. */
typedef struct prep {
	void *p[4096];
	size_t n;
} prep;

static void *
pkeep(prep *pp, void *v)
{
	assert_non_null(v);
	assert_true(pp->n < sizeof(pp->p) / sizeof(pp->p[0]));
	pp->p[pp->n++] = v;
	return v;
}

/* The unfolded value of the first field, as a store keeps it. */
static const char *
pfield(prep *pp, const mox_msg_header *h, const char *name)
{
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, name, 0) : NULL;
	if (f == NULL)
		return NULL;
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_msg_field_unfold(f, &b), MOX_OK);
	char *v = pkeep(pp, calloc(1, b.len + 1));
	if (b.len > 0)
		memcpy(v, b.data, b.len);
	mox_buf_free(&b);
	return v;
}

static void
paddrs(prep *pp, const mox_msg_header *h, const char *name, mox_imap_env_addresses *out)
{
	memset(out, 0, sizeof(*out));
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, name, 0) : NULL;
	mox_msg_addr_list *l = NULL;
	if (f == NULL || mox_msg_addr_list_parse(f->value, f->value_len, 0, NULL, &l, NULL, NULL) != MOX_OK ||
	    l == NULL || l->n == 0) {
		mox_msg_addr_list_free(l);
		return;
	}
	mox_imap_env_address *a = pkeep(pp, calloc(l->n, sizeof(*a)));
	for (size_t i = 0; i < l->n; i++) {
		a[i].name = l->a[i].name != NULL ? pkeep(pp, strdup(l->a[i].name)) : NULL;
		a[i].local = l->a[i].local != NULL ? pkeep(pp, strdup(l->a[i].local)) : NULL;
		a[i].domain = l->a[i].domain != NULL ? pkeep(pp, strdup(l->a[i].domain)) : NULL;
		a[i].group = l->a[i].group != NULL ? pkeep(pp, strdup(l->a[i].group)) : NULL;
	}
	out->n = l->n;
	out->a = a;
	mox_msg_addr_list_free(l);
}

static const mox_imap_env *
penv(prep *pp, const mox_msg_header *h)
{
	mox_imap_env *e = pkeep(pp, calloc(1, sizeof(*e)));
	e->date = pfield(pp, h, "Date");
	e->subject = pfield(pp, h, "Subject");
	paddrs(pp, h, "From", &e->from);
	paddrs(pp, h, "Sender", &e->sender);
	paddrs(pp, h, "Reply-To", &e->reply_to);
	paddrs(pp, h, "To", &e->to);
	paddrs(pp, h, "Cc", &e->cc);
	paddrs(pp, h, "Bcc", &e->bcc);
	e->in_reply_to = pfield(pp, h, "In-Reply-To");
	e->message_id = pfield(pp, h, "Message-ID");
	return e;
}

static const mox_imap_param *
pparams(prep *pp, const mox_msg_params *mp)
{
	if (mp->n == 0)
		return NULL;
	mox_imap_param *q = pkeep(pp, calloc(mp->n, sizeof(*q)));
	for (size_t i = 0; i < mp->n; i++) {
		q[i].name = mp->p[i].name;
		q[i].value = mp->p[i].value;
	}
	return q;
}

/* A parsed part as a mail store would keep it (strings from the header). */
static void
ppart(prep *pp, const mox_msg_part *mp, mox_imap_part *dp)
{
	const mox_msg_header *h = mp->header;
	dp->type = mp->type;
	dp->subtype = mp->subtype;
	dp->params = pparams(pp, &mp->params);
	dp->nparams = mp->params.n;
	dp->encoding = pfield(pp, h, "Content-Transfer-Encoding");
	dp->disposition = mp->disposition;
	dp->disposition_params = pparams(pp, &mp->disposition_params);
	dp->ndisposition_params = mp->disposition_params.n;
	dp->content_id = pfield(pp, h, "Content-ID");
	dp->content_description = pfield(pp, h, "Content-Description");
	dp->content_md5 = pfield(pp, h, "Content-MD5");
	dp->content_language = pfield(pp, h, "Content-Language");
	dp->content_location = pfield(pp, h, "Content-Location");
	dp->size = mp->end_offset - mp->body_offset;
	dp->lines = mp->body_lines;
	if (mp->parent == NULL || mox_msg_part_is_message(mp->parent))
		dp->envelope = penv(pp, h);
	if (mp->nchildren > 0) {
		mox_imap_part *k = pkeep(pp, calloc(mp->nchildren, sizeof(*k)));
		for (size_t i = 0; i < mp->nchildren; i++)
			ppart(pp, mp->children[i], &k[i]);
		dp->children = k;
		dp->nchildren = mp->nchildren;
	}
}

/* The prepared functions give what the parsed ones give. */
static void
check_prepared(const char *path, const mox_msg *m)
{
	prep *pp = calloc(1, sizeof(*pp));
	assert_non_null(pp);
	mox_imap_part root;
	memset(&root, 0, sizeof(root));
	ppart(pp, m->root, &root);
	mox_buf a = MOX_BUF_INIT, b = MOX_BUF_INIT;
	for (unsigned f = 0; f < 4; f++) {
		mox_buf_reset(&a);
		mox_buf_reset(&b);
		assert_int_equal(mox_imap_bodystructure(m->root, f, &a), MOX_OK);
		assert_int_equal(mox_imap_bodystructure_part(&root, f, &b), MOX_OK);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fail_msg("%s: prepared BODYSTRUCTURE differs:\n%s\n%s", path, a.data, b.data);
		mox_buf_reset(&a);
		mox_buf_reset(&b);
		assert_int_equal(mox_imap_envelope(m->root->header, f, &a), MOX_OK);
		assert_int_equal(mox_imap_envelope_env(root.envelope, f, &b), MOX_OK);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fail_msg("%s: prepared ENVELOPE differs:\n%s\n%s", path, a.data, b.data);
	}
	mox_buf_free(&a);
	mox_buf_free(&b);
	for (size_t i = 0; i < pp->n; i++)
		free(pp->p[i]);
	free(pp);
}

static size_t corpus_n;

static void
walk(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path);
			continue;
		}
		const char *dot = strrchr(de->d_name, '.');
		/* Not messages: metadata, docs, mailboxes of many messages. */
		if (dot != NULL && (strcmp(dot, ".json") == 0 || strcmp(dot, ".md") == 0 ||
				    strcmp(dot, ".mbox") == 0))
			continue;
		if (strcmp(de->d_name, "COPYING") == 0 || strstr(path, "/mbox/") != NULL ||
		    strstr(path, "dovecot-") != NULL)
			continue;
		size_t len = 0;
		char *data = mox_test_read_file(path, &len);
		assert_non_null(data);
		mox_msg *m = NULL;
		mox_err err = mox_msg_parse(data, len, NULL, &m, NULL);
		if (err != MOX_OK) {
			/* Only limits may refuse a message. */
			assert_int_equal(err, MOX_ELIMIT);
			free(data);
			continue;
		}
		mox_buf b = MOX_BUF_INIT;
		for (unsigned f = 0; f < 4; f++) {
			mox_buf_reset(&b);
			assert_int_equal(mox_imap_bodystructure(m->root, f, &b), MOX_OK);
			if (!check_body(&b, (f & MOX_IMAP_BS_EXTENDED) != 0))
				fail_msg("%s: bad BODYSTRUCTURE: %s", path, b.data);
			mox_buf_reset(&b);
			assert_int_equal(mox_imap_envelope(m->root->header, f, &b), MOX_OK);
			if (!check_envelope(&b))
				fail_msg("%s: bad ENVELOPE: %s", path, b.data);
		}
		mox_buf_free(&b);
		check_prepared(path, m);
		mox_msg_free(m);
		free(data);
		corpus_n++;
	}
	closedir(d);
}

static void
test_corpus(void **state)
{
	(void)state;
	walk(MOX_TESTDATA_DIR "/messages");
	printf("corpus: %zu messages checked\n", corpus_n);
	assert_true(corpus_n >= 150);
}

/* The checker itself rejects bad structures (so the corpus run can fail). */
static void
test_checker(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3)", /* no lines */
		"(\"TEXT\" \"PLAIN\" () NIL NIL \"7BIT\" 3 1)",
		"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1))",
		"(\"APPLICATION\" \"X\" NIL NIL NIL \"7BIT\" 3",
		"(\"APPLICATION\" \"X\" NIL NIL NIL 7BIT 3)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		mox_buf b = MOX_BUF_INIT;
		assert_int_equal(mox_buf_append_str(&b, bad[i]), MOX_OK);
		assert_false(check_body(&b, false));
		mox_buf_free(&b);
	}
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_buf_append_str(&b, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)"), MOX_OK);
	assert_true(check_body(&b, false));
	mox_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker),
		cmocka_unit_test(test_rfc2060),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_literal_and_defaults),
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
