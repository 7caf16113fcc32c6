/* BODY, BODYSTRUCTURE and ENVELOPE, RFC 9051 section 7.5.2 (same grammar
 * as RFC 3501 section 7.4.2), from the libmoxmessage part tree:
 *
 *   body            = "(" (body-type-1part / body-type-mpart) ")"
 *   body-type-1part = (body-type-basic / body-type-msg / body-type-text)
 *                     [SP body-ext-1part]
 *   body-type-basic = media-basic SP body-fields
 *   body-type-msg   = media-message SP body-fields SP envelope SP body SP
 *                     body-fld-lines
 *   body-type-text  = media-text SP body-fields SP body-fld-lines
 *   body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP
 *                     body-fld-enc SP body-fld-octets
 *   body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
 *                     [SP body-fld-loc]]]
 *   body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
 *   body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang
 *                     [SP body-fld-loc]]]
 *   envelope        = "(" env-date SP env-subject SP env-from SP
 *                     env-sender SP env-reply-to SP env-to SP env-cc SP
 *                     env-bcc SP env-in-reply-to SP env-message-id ")"
 *   address         = "(" addr-name SP addr-adl SP addr-mailbox SP
 *                     addr-host ")"
 *
 * Choices: media types, subtypes, encodings, parameter names and
 * disposition types are written in upper case, as in the RFC's examples
 * (they are case-insensitive); values as they are. Text parts without a
 * charset parameter get ("CHARSET" "US-ASCII"), the RFC 2045 section 5.2
 * default. Header values in the envelope and in id/description/md5/
 * location are unfolded but not decoded (RFC 9051 section 7.5.2);
 * address display names are the parser's decoded text, written back as
 * an RFC 2047 UTF-8 word when non-ASCII and the client has no UTF8=ACCEPT.
 * The extension data (BODYSTRUCTURE) always has all four fields.
 */
#include "imap_int.h"

#include <string.h>

/* Recursion bound for prepared part trees (mox_imap_bodystructure_part):
 * libmoxmessage nests at most 50 deep, the store decodes at most 64. */
#define BS_DEPTH_MAX 128

typedef struct w {
	mox_buf *out;
	unsigned flags;
	mox_err err;
} w;

static void
raw(w *x, const char *s)
{
	if (x->err == MOX_OK)
		x->err = mox_buf_append_str(x->out, s);
}

static void
str(w *x, const char *s, size_t len)
{
	if (x->err == MOX_OK)
		x->err = mox_imap_write_string(x->out, s, len,
					       (x->flags & MOX_IMAP_BS_UTF8) ? MOX_IMAP_W_UTF8 : 0);
}

static void
cstr(w *x, const char *s)
{
	if (s == NULL)
		raw(x, "NIL");
	else
		str(x, s, strlen(s));
}

static void
upper(w *x, const char *s)
{
	if (s == NULL) {
		raw(x, "NIL");
		return;
	}
	size_t n = strlen(s);
	char tmp[128];
	if (n >= sizeof(tmp)) {
		str(x, s, n);
		return;
	}
	for (size_t i = 0; i <= n; i++)
		tmp[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
	str(x, tmp, n);
}

static void
num(w *x, uint64_t n)
{
	if (x->err == MOX_OK)
		x->err = mox_buf_appendf(x->out, "%llu", (unsigned long long)n);
}

/* The unfolded value of the first field name in header, as nstring. */
static void
field(w *x, const mox_msg_header *h, const char *name)
{
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, name, 0) : NULL;
	if (f == NULL) {
		raw(x, "NIL");
		return;
	}
	mox_buf b;
	mox_buf_init(&b, x->out->alloc);
	if (x->err == MOX_OK)
		x->err = mox_msg_field_unfold(f, &b);
	if (x->err == MOX_OK) {
		if (b.len == 0)
			raw(x, "NIL");
		else
			str(x, (const char *)b.data, b.len);
	}
	mox_buf_free(&b);
}

static void
params(w *x, const mox_msg_params *p, bool text)
{
	bool charset = false;
	for (size_t i = 0; i < p->n; i++)
		charset |= strcmp(p->p[i].name, "charset") == 0;
	if (p->n == 0 && !text) {
		raw(x, "NIL");
		return;
	}
	raw(x, "(");
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			raw(x, " ");
		upper(x, p->p[i].name);
		raw(x, " ");
		cstr(x, p->p[i].value != NULL ? p->p[i].value : "");
	}
	if (text && !charset) {
		if (p->n > 0)
			raw(x, " ");
		raw(x, "\"CHARSET\" \"US-ASCII\"");
	}
	raw(x, ")");
}

static void
disposition(w *x, const mox_msg_part *part)
{
	if (part->disposition == NULL) {
		raw(x, "NIL");
		return;
	}
	raw(x, "(");
	upper(x, part->disposition);
	raw(x, " ");
	params(x, &part->disposition_params, false);
	raw(x, ")");
}

/* body-fld-lang = nstring / "(" string *(SP string) ")", from the
 * comma-separated Content-Language value v..e (RFC 3282). */
static void
language_value(w *x, const char *v, const char *e)
{
	const char *tags[16];
	size_t lens[16], n = 0;
	while (v < e && n < 16) {
		while (v < e && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n' || *v == ','))
			v++;
		const char *st = v;
		while (v < e && *v != ',' && *v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			v++;
		if (v > st) {
			tags[n] = st;
			lens[n++] = (size_t)(v - st);
		}
	}
	if (n == 0) {
		raw(x, "NIL");
	} else if (n == 1) {
		str(x, tags[0], lens[0]);
	} else {
		raw(x, "(");
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				raw(x, " ");
			str(x, tags[i], lens[i]);
		}
		raw(x, ")");
	}
}

/* body-fld-lang from the message's Content-Language field. */
static void
language(w *x, const mox_msg_header *h)
{
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, "Content-Language", 0) : NULL;
	if (f == NULL) {
		raw(x, "NIL");
		return;
	}
	const char *v = (const char *)f->value;
	language_value(x, v, v + f->value_len);
}

static void envelope(w *x, const mox_msg_header *h);

static void
encoding(w *x, const mox_msg_part *part)
{
	if (part->cte != MOX_MSG_CTE_UNKNOWN) {
		upper(x, mox_msg_cte_name(part->cte));
		return;
	}
	/* Unknown encodings are passed on as written (token, upper case). */
	const mox_msg_field *f = part->header != NULL
		? mox_msg_header_get(part->header, "Content-Transfer-Encoding", 0)
		: NULL;
	char tok[64];
	size_t n = 0;
	if (f != NULL)
		for (size_t i = 0; i < f->value_len && n < sizeof(tok) - 1; i++) {
			char c = (char)f->value[i];
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ';')
				continue;
			if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
				continue;
			tok[n++] = c;
		}
	tok[n] = '\0';
	upper(x, n > 0 ? tok : "7bit");
}

static void
body(w *x, const mox_msg_part *part, unsigned depth)
{
	bool ext = (x->flags & MOX_IMAP_BS_EXTENDED) != 0;
	const mox_msg_header *h = part->header;
	raw(x, "(");
	if (part->type != NULL && strcmp(part->type, "multipart") == 0) {
		if (part->nchildren == 0) {
			/* The grammar needs at least one body. */
			raw(x, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
		}
		for (size_t i = 0; i < part->nchildren && x->err == MOX_OK; i++)
			body(x, part->children[i], depth + 1);
		raw(x, " ");
		upper(x, part->subtype);
		if (ext) {
			raw(x, " ");
			params(x, &part->params, false);
			raw(x, " ");
			disposition(x, part);
			raw(x, " ");
			language(x, h);
			raw(x, " ");
			field(x, h, "Content-Location");
		}
		raw(x, ")");
		return;
	}
	bool text = part->type != NULL && strcmp(part->type, "text") == 0;
	bool msg = mox_msg_part_is_message(part);
	upper(x, part->type != NULL ? part->type : "text");
	raw(x, " ");
	upper(x, part->subtype != NULL ? part->subtype : "plain");
	raw(x, " ");
	params(x, &part->params, text);
	raw(x, " ");
	field(x, h, "Content-ID");
	raw(x, " ");
	field(x, h, "Content-Description");
	raw(x, " ");
	encoding(x, part);
	raw(x, " ");
	num(x, part->end_offset - part->body_offset);
	if (msg) {
		const mox_msg_part *inner = part->children[0];
		raw(x, " ");
		envelope(x, inner->header);
		raw(x, " ");
		body(x, inner, depth + 1);
		raw(x, " ");
		num(x, part->body_lines);
	} else if (text) {
		raw(x, " ");
		num(x, part->body_lines);
	}
	if (ext) {
		raw(x, " ");
		field(x, h, "Content-MD5");
		raw(x, " ");
		disposition(x, part);
		raw(x, " ");
		language(x, h);
		raw(x, " ");
		field(x, h, "Content-Location");
	}
	raw(x, ")");
}

mox_err
mox_imap_bodystructure(const mox_msg_part *part, unsigned flags, mox_buf *out)
{
	if (part == NULL || out == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	w x = {out, flags, MOX_OK};
	body(&x, part, 0);
	if (x.err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return x.err;
}

/* ---- envelope ---- */

static bool
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* addr-name: an RFC 2047 Q word for non-ASCII without UTF8=ACCEPT. */
static void
addr_name(w *x, const char *name)
{
	if (name == NULL || *name == '\0') {
		raw(x, "NIL");
		return;
	}
	if ((x->flags & MOX_IMAP_BS_UTF8) || ascii(name)) {
		cstr(x, name);
		return;
	}
	mox_buf b;
	mox_buf_init(&b, x->out->alloc);
	mox_err err = mox_buf_append_str(&b, "=?utf-8?q?");
	for (const unsigned char *p = (const unsigned char *)name; err == MOX_OK && *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
		    c == '-' || c == '/')
			err = mox_buf_append_byte(&b, c);
		else if (c == ' ')
			err = mox_buf_append_byte(&b, '_');
		else
			err = mox_buf_appendf(&b, "=%02X", c);
	}
	if (err == MOX_OK)
		err = mox_buf_append_str(&b, "?=");
	if (err == MOX_OK)
		str(x, (const char *)b.data, b.len);
	else if (x->err == MOX_OK)
		x->err = err;
	mox_buf_free(&b);
}

/* Whether two members are in the same group. libmoxmessage gives the
 * members of one group one string (by_ptr: two adjacent groups of the
 * same name stay apart); prepared values compare by name. */
static bool
same_group(const char *a, const char *b, bool by_ptr)
{
	if (by_ptr || a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A non-empty address list, RFC 9051 section 7.5.2. */
static void
addr_list(w *x, const mox_imap_env_address *v, size_t n, bool by_ptr)
{
	raw(x, "(");
	const char *group = NULL;
	for (size_t i = 0; i < n; i++) {
		const mox_imap_env_address *a = &v[i];
		if (group != NULL && !same_group(a->group, group, by_ptr)) {
			raw(x, "(NIL NIL NIL NIL)");
			group = NULL;
		}
		if (a->group != NULL && !same_group(a->group, group, by_ptr)) {
			/* RFC 9051 section 7.5.2: group start, mailbox name
			 * is the group name and host NIL. */
			raw(x, "(NIL NIL ");
			cstr(x, a->group);
			raw(x, " NIL)");
			group = a->group;
		}
		if (a->local == NULL && a->domain == NULL && a->group != NULL)
			continue; /* an empty group */
		raw(x, "(");
		addr_name(x, a->name);
		raw(x, " NIL ");
		cstr(x, a->local != NULL ? a->local : "");
		raw(x, " ");
		/* A missing host would read as group syntax: "" instead. */
		cstr(x, a->domain != NULL ? a->domain : "");
		raw(x, ")");
	}
	if (group != NULL)
		raw(x, "(NIL NIL NIL NIL)");
	raw(x, ")");
}

/* An address list, or NIL when there is no field or it has no addresses.
 * Returns whether something other than NIL was written (for the Sender and
 * Reply-To defaults); with dry, only checks. */
static bool
addresses(w *x, const mox_msg_header *h, const char *name, bool dry)
{
	const mox_msg_field *f = h != NULL ? mox_msg_header_get(h, name, 0) : NULL;
	if (f == NULL) {
		if (!dry)
			raw(x, "NIL");
		return false;
	}
	mox_msg_addr_list *l = NULL;
	mox_err err = mox_msg_addr_list_parse(f->value, f->value_len, 0, x->out->alloc,
					      &l, NULL, NULL);
	if (err == MOX_ENOMEM) {
		if (x->err == MOX_OK)
			x->err = err;
		return false;
	}
	if (err != MOX_OK || l == NULL || l->n == 0) {
		mox_msg_addr_list_free(l);
		if (!dry)
			raw(x, "NIL");
		return false;
	}
	if (dry) {
		mox_msg_addr_list_free(l);
		return true;
	}
	mox_imap_env_address one[8], *v = one;
	if (l->n > sizeof(one) / sizeof(one[0])) {
		v = mox_mem_calloc(x->out->alloc, l->n, sizeof(*v));
		if (v == NULL) {
			mox_msg_addr_list_free(l);
			if (x->err == MOX_OK)
				x->err = MOX_ENOMEM;
			return false;
		}
	}
	for (size_t i = 0; i < l->n; i++) {
		v[i].name = l->a[i].name;
		v[i].local = l->a[i].local;
		v[i].domain = l->a[i].domain;
		v[i].group = l->a[i].group;
	}
	addr_list(x, v, l->n, true);
	if (v != one)
		mox_mem_free(x->out->alloc, v);
	mox_msg_addr_list_free(l);
	return true;
}

static void
envelope(w *x, const mox_msg_header *h)
{
	raw(x, "(");
	field(x, h, "Date");
	raw(x, " ");
	field(x, h, "Subject");
	raw(x, " ");
	addresses(x, h, "From", false);
	raw(x, " ");
	/* Sender and Reply-To default to From. */
	addresses(x, h, addresses(x, h, "Sender", true) ? "Sender" : "From", false);
	raw(x, " ");
	addresses(x, h, addresses(x, h, "Reply-To", true) ? "Reply-To" : "From", false);
	raw(x, " ");
	addresses(x, h, "To", false);
	raw(x, " ");
	addresses(x, h, "Cc", false);
	raw(x, " ");
	addresses(x, h, "Bcc", false);
	raw(x, " ");
	field(x, h, "In-Reply-To");
	raw(x, " ");
	field(x, h, "Message-ID");
	raw(x, ")");
}

mox_err
mox_imap_envelope(const mox_msg_header *header, unsigned flags, mox_buf *out)
{
	if (out == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	w x = {out, flags, MOX_OK};
	envelope(&x, header);
	if (x.err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return x.err;
}

/* ---- ENVELOPE from prepared values ---- */

static void
env_str(w *x, const char *s)
{
	if (s == NULL || *s == '\0')
		raw(x, "NIL");
	else
		cstr(x, s);
}

static void
env_addrs(w *x, const mox_imap_env_addresses *l)
{
	if (l->n == 0 || l->a == NULL)
		raw(x, "NIL");
	else
		addr_list(x, l->a, l->n, false);
}

static void
env_write(w *x, const mox_imap_env *env)
{
	if (env == NULL) {
		raw(x, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	raw(x, "(");
	env_str(x, env->date);
	raw(x, " ");
	env_str(x, env->subject);
	raw(x, " ");
	env_addrs(x, &env->from);
	raw(x, " ");
	/* Sender and Reply-To default to From. */
	env_addrs(x, env->sender.n > 0 ? &env->sender : &env->from);
	raw(x, " ");
	env_addrs(x, env->reply_to.n > 0 ? &env->reply_to : &env->from);
	raw(x, " ");
	env_addrs(x, &env->to);
	raw(x, " ");
	env_addrs(x, &env->cc);
	raw(x, " ");
	env_addrs(x, &env->bcc);
	raw(x, " ");
	env_str(x, env->in_reply_to);
	raw(x, " ");
	env_str(x, env->message_id);
	raw(x, ")");
}

mox_err
mox_imap_envelope_env(const mox_imap_env *env, unsigned flags, mox_buf *out)
{
	if (out == NULL || env == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	w x = {out, flags, MOX_OK};
	env_write(&x, env);
	if (x.err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return x.err;
}

/* ---- BODYSTRUCTURE from prepared values: as body() above ---- */

static void
p_params(w *x, const mox_imap_param *p, size_t n, bool text)
{
	bool charset = false;
	for (size_t i = 0; i < n; i++)
		charset |= p[i].name != NULL && strcmp(p[i].name, "charset") == 0;
	if (n == 0 && !text) {
		raw(x, "NIL");
		return;
	}
	raw(x, "(");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			raw(x, " ");
		upper(x, p[i].name != NULL ? p[i].name : "");
		raw(x, " ");
		cstr(x, p[i].value != NULL ? p[i].value : "");
	}
	if (text && !charset) {
		if (n > 0)
			raw(x, " ");
		raw(x, "\"CHARSET\" \"US-ASCII\"");
	}
	raw(x, ")");
}

static void
p_disposition(w *x, const mox_imap_part *part)
{
	if (part->disposition == NULL) {
		raw(x, "NIL");
		return;
	}
	raw(x, "(");
	upper(x, part->disposition);
	raw(x, " ");
	p_params(x, part->disposition_params, part->ndisposition_params, false);
	raw(x, ")");
}

/* body-fld-lang from the stored part's Content-Language value. */
static void
p_language(w *x, const char *v)
{
	if (v == NULL) {
		raw(x, "NIL");
		return;
	}
	language_value(x, v, v + strlen(v));
}

static void
p_encoding(w *x, const char *v)
{
	size_t n = v != NULL ? strlen(v) : 0;
	mox_msg_cte cte = v != NULL ? mox_msg_cte_parse((const uint8_t *)v, n) : MOX_MSG_CTE_7BIT;
	if (cte != MOX_MSG_CTE_UNKNOWN) {
		upper(x, mox_msg_cte_name(cte));
		return;
	}
	/* Unknown encodings are passed on as written (token, upper case). */
	char tok[64];
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof(tok) - 1; i++) {
		char c = v[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ';')
			continue;
		if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
			continue;
		tok[k++] = c;
	}
	tok[k] = '\0';
	upper(x, k > 0 ? tok : "7bit");
}

static void
p_body(w *x, const mox_imap_part *part, unsigned depth)
{
	bool ext = (x->flags & MOX_IMAP_BS_EXTENDED) != 0;
	if (depth > BS_DEPTH_MAX) {
		if (x->err == MOX_OK)
			x->err = MOX_ELIMIT;
		return;
	}
	raw(x, "(");
	if (part->type != NULL && strcmp(part->type, "multipart") == 0) {
		if (part->nchildren == 0)
			raw(x, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
		for (size_t i = 0; i < part->nchildren && x->err == MOX_OK; i++)
			p_body(x, &part->children[i], depth + 1);
		raw(x, " ");
		upper(x, part->subtype);
		if (ext) {
			raw(x, " ");
			p_params(x, part->params, part->nparams, false);
			raw(x, " ");
			p_disposition(x, part);
			raw(x, " ");
			p_language(x, part->content_language);
			raw(x, " ");
			env_str(x, part->content_location);
		}
		raw(x, ")");
		return;
	}
	bool text = part->type != NULL && strcmp(part->type, "text") == 0;
	bool msg = part->type != NULL && strcmp(part->type, "message") == 0 &&
		   part->nchildren == 1;
	upper(x, part->type != NULL ? part->type : "text");
	raw(x, " ");
	upper(x, part->subtype != NULL ? part->subtype : "plain");
	raw(x, " ");
	p_params(x, part->params, part->nparams, text);
	raw(x, " ");
	env_str(x, part->content_id);
	raw(x, " ");
	env_str(x, part->content_description);
	raw(x, " ");
	p_encoding(x, part->encoding);
	raw(x, " ");
	num(x, part->size);
	if (msg) {
		const mox_imap_part *inner = &part->children[0];
		raw(x, " ");
		env_write(x, inner->envelope);
		raw(x, " ");
		p_body(x, inner, depth + 1);
		raw(x, " ");
		num(x, part->lines);
	} else if (text) {
		raw(x, " ");
		num(x, part->lines);
	}
	if (ext) {
		raw(x, " ");
		env_str(x, part->content_md5);
		raw(x, " ");
		p_disposition(x, part);
		raw(x, " ");
		p_language(x, part->content_language);
		raw(x, " ");
		env_str(x, part->content_location);
	}
	raw(x, ")");
}

mox_err
mox_imap_bodystructure_part(const mox_imap_part *part, unsigned flags, mox_buf *out)
{
	if (part == NULL || out == NULL)
		return MOX_EINVAL;
	size_t orig = out->len;
	w x = {out, flags, MOX_OK};
	p_body(&x, part, 0);
	if (x.err != MOX_OK) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return x.err;
}
