/* Parsing DSNs (RFC 3464 section 2), to recognise them and read their
 * fields.
 *
 * The message is parsed with libmoxmessage; a DSN is a multipart/report
 * whose report-type is delivery-status (RFC 6533: global-delivery-status).
 * Its message/delivery-status part is, after transfer decoding, groups of
 * header-like fields separated by blank lines (RFC 3464 section 2.1):
 *
 *   delivery-status-content = per-message-fields
 *                             1*( CRLF per-recipient-fields )
 *
 * Each group is read with mox_msg_header_parse and the fields unfolded.
 * Unknown fields are ignored (extension fields, RFC 3464 section 2.4). */
#include "smtp_int.h"

#include <mox/dsn.h>
#include <mox/message.h>

#include <string.h>

static bool
ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool
name_is(const mox_msg_field *f, const char *name)
{
	size_t n = strlen(name);
	if (f->name_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char x = (char)f->name[i], y = name[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* The report type of a multipart/report header: 1 delivery-status, 2
 * global-delivery-status, 0 none, -1 out of memory. */
static int
report_kind(const mox_msg_header *h)
{
	const mox_msg_field *f = mox_msg_header_get(h, "Content-Type", 0);
	if (f == NULL)
		return 0;
	mox_msg_ctype *ct = NULL;
	mox_err err =
	    mox_msg_ctype_parse(f->value, f->value_len, 0, h->alloc, &ct, NULL, NULL);
	if (err != MOX_OK)
		return err == MOX_ENOMEM ? -1 : 0;
	int kind = 0;
	const char *rt = mox_msg_params_get(&ct->params, "report-type");
	if (ieq(ct->type, "multipart") && ct->subtype != NULL &&
	    ieq(ct->subtype, "report") && rt != NULL) {
		if (ieq(rt, "delivery-status"))
			kind = 1;
		else if (ieq(rt, "global-delivery-status"))
			kind = 2;
	}
	mox_msg_ctype_free(ct);
	return kind;
}

bool
mox_dsn_is_dsn(const uint8_t *msg, size_t len)
{
	if (msg == NULL)
		return false;
	mox_msg_header *h = NULL;
	if (mox_msg_header_parse(msg, len, 0, NULL, &h, NULL, NULL) != MOX_OK)
		return false;
	bool is = report_kind(h) > 0;
	mox_msg_header_free(h);
	return is;
}

/* A copy of s[0..n) with white space trimmed. */
static char *
dup_trim(const mox_allocator *a, const char *s, size_t n)
{
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return mox_mem_strndup(a, s, n);
}

/* After "type;" (RFC 3464 section 2.1.2: address-type ";" generic-address
 * and the like); the whole value if there is no ';'. */
static char *
after_semi(const mox_allocator *a, const char *v, size_t n)
{
	const char *semi = memchr(v, ';', n);
	if (semi == NULL)
		return dup_trim(a, v, n);
	return dup_trim(a, semi + 1, n - (size_t)(semi + 1 - v));
}

static char *
before_semi(const mox_allocator *a, const char *v, size_t n)
{
	const char *semi = memchr(v, ';', n);
	char *s = dup_trim(a, v, semi != NULL ? (size_t)(semi - v) : 0);
	for (char *p = s; p != NULL && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* The first word of v (up to space, '(' or ';'). */
static char *
first_word(const mox_allocator *a, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	size_t j = i;
	while (j < n && v[j] != ' ' && v[j] != '\t' && v[j] != '(' && v[j] != ';')
		j++;
	char *s = mox_mem_strndup(a, v + i, j - i);
	for (char *p = s; p != NULL && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

static mox_dsn_action
action_of(const char *s)
{
	static const mox_dsn_action all[] = {MOX_DSN_FAILED, MOX_DSN_DELAYED,
	                                     MOX_DSN_DELIVERED, MOX_DSN_RELAYED,
	                                     MOX_DSN_EXPANDED};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (ieq(s, mox_dsn_action_name(all[i])))
			return all[i];
	return 0;
}

static void
free_rcpt(const mox_allocator *a, mox_dsn_parsed_rcpt *r)
{
	mox_mem_free(a, r->final_recipient);
	mox_mem_free(a, r->final_recipient_type);
	mox_mem_free(a, r->original_recipient);
	mox_mem_free(a, r->action_text);
	mox_mem_free(a, r->status);
	mox_mem_free(a, r->remote_mta);
	mox_mem_free(a, r->diagnostic_code);
	mox_mem_free(a, r->last_attempt_date);
	mox_mem_free(a, r->will_retry_until);
}

void
mox_dsn_parsed_free(mox_dsn_parsed *d)
{
	if (d == NULL)
		return;
	const mox_allocator *a = d->alloc;
	for (size_t i = 0; i < d->nrcpts; i++)
		free_rcpt(a, &d->rcpts[i]);
	mox_mem_free(a, d->rcpts);
	mox_mem_free(a, d->reporting_mta);
	mox_mem_free(a, d->original_envelope_id);
	mox_mem_free(a, d->received_from_mta);
	mox_mem_free(a, d->arrival_date);
	mox_mem_free(a, d->original_type);
	mox_mem_free(a, d->original);
	mox_mem_free(a, d->text);
	mox_mem_free(a, d);
}

/* Set *slot to s unless already set (the first field wins); false on
 * ENOMEM. */
static bool
set(const mox_allocator *a, char **slot, char *s)
{
	if (s == NULL)
		return false;
	if (*slot != NULL) {
		mox_mem_free(a, s);
		return true;
	}
	*slot = s;
	return true;
}

/* Fill empty strings for absent fields. */
static bool
fill(const mox_allocator *a, char **slot)
{
	if (*slot == NULL)
		*slot = mox_mem_strdup(a, "");
	return *slot != NULL;
}

/* One group of fields. group 0 is per-message. */
static mox_err
group(mox_dsn_parsed *d, const uint8_t *p, size_t n, bool first, mox_errinfo *info)
{
	const mox_allocator *a = d->alloc;
	mox_msg_header *h = NULL;
	mox_buf v;
	mox_buf_init(&v, a);
	mox_err err = mox_msg_header_parse(p, n, 0, a, &h, NULL, NULL);
	if (err != MOX_OK)
		goto out;
	mox_dsn_parsed_rcpt *r = NULL;
	if (!first) {
		if (h->nfields == 0)
			goto out;
		mox_dsn_parsed_rcpt *nr =
		    mox_mem_reallocarray(a, d->rcpts, d->nrcpts + 1, sizeof(*nr));
		if (nr == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
		d->rcpts = nr;
		r = &d->rcpts[d->nrcpts++];
		memset(r, 0, sizeof(*r));
	}
	for (size_t i = 0; i < h->nfields; i++) {
		const mox_msg_field *f = &h->fields[i];
		mox_buf_reset(&v);
		err = mox_msg_field_unfold(f, &v);
		if (err != MOX_OK)
			goto out;
		const char *s = v.data != NULL ? (const char *)v.data : "";
		size_t sn = v.len;
		bool ok = true;
		if (first) {
			/* RFC 3464 section 2.2. */
			if (name_is(f, "Reporting-MTA"))
				ok = set(a, &d->reporting_mta, after_semi(a, s, sn));
			else if (name_is(f, "Original-Envelope-Id"))
				ok = set(a, &d->original_envelope_id,
				         dup_trim(a, s, sn));
			else if (name_is(f, "Received-From-MTA"))
				ok =
				    set(a, &d->received_from_mta, after_semi(a, s, sn));
			else if (name_is(f, "Arrival-Date"))
				ok = set(a, &d->arrival_date, dup_trim(a, s, sn));
		} else {
			/* RFC 3464 section 2.3. */
			if (name_is(f, "Final-Recipient")) {
				ok =
				    set(a, &r->final_recipient, after_semi(a, s, sn)) &&
				    set(a, &r->final_recipient_type,
				        before_semi(a, s, sn));
			} else if (name_is(f, "Original-Recipient"))
				ok = set(a, &r->original_recipient,
				         after_semi(a, s, sn));
			else if (name_is(f, "Action")) {
				ok = set(a, &r->action_text, first_word(a, s, sn));
				if (ok)
					r->action = action_of(r->action_text);
			} else if (name_is(f, "Status"))
				ok = set(a, &r->status, first_word(a, s, sn));
			else if (name_is(f, "Remote-MTA"))
				ok = set(a, &r->remote_mta, after_semi(a, s, sn));
			else if (name_is(f, "Diagnostic-Code"))
				ok = set(a, &r->diagnostic_code, after_semi(a, s, sn));
			else if (name_is(f, "Last-Attempt-Date"))
				ok = set(a, &r->last_attempt_date, dup_trim(a, s, sn));
			else if (name_is(f, "Will-Retry-Until"))
				ok = set(a, &r->will_retry_until, dup_trim(a, s, sn));
		}
		if (!ok) {
			err = MOX_ENOMEM;
			goto out;
		}
	}
	if (r != NULL &&
	    !(fill(a, &r->final_recipient) && fill(a, &r->final_recipient_type) &&
	      fill(a, &r->original_recipient) && fill(a, &r->action_text) &&
	      fill(a, &r->status) && fill(a, &r->remote_mta) &&
	      fill(a, &r->diagnostic_code) && fill(a, &r->last_attempt_date) &&
	      fill(a, &r->will_retry_until)))
		err = MOX_ENOMEM;
	if (err == MOX_OK && r != NULL && r->final_recipient[0] == 0)
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0,
		                      "per-recipient fields without Final-Recipient");
out:
	mox_buf_free(&v);
	mox_msg_header_free(h);
	return err;
}

/* Split the status text into groups at blank lines. */
static mox_err
status_fields(mox_dsn_parsed *d, const uint8_t *p, size_t n, mox_errinfo *info)
{
	size_t start = 0, i = 0;
	bool first = true;
	mox_err err = MOX_OK;
	/* Skip leading blank lines. */
	while (start < n && (p[start] == '\r' || p[start] == '\n'))
		start++;
	i = start;
	while (err == MOX_OK && start < n) {
		/* Find the next empty line: "\n" followed by "\r\n" or "\n". */
		size_t end = n, next = n;
		for (; i < n; i++) {
			if (p[i] != '\n')
				continue;
			size_t j = i + 1;
			if (j < n && p[j] == '\r' && j + 1 < n && p[j + 1] == '\n') {
				end = i + 1;
				next = j + 2;
				break;
			}
			if (j < n && p[j] == '\n') {
				end = i + 1;
				next = j + 1;
				break;
			}
		}
		err = group(d, p + start, end - start, first, info);
		first = false;
		start = next;
		while (start < n && (p[start] == '\r' || p[start] == '\n'))
			start++;
		i = start;
	}
	return err;
}

static bool
is_type(const mox_msg_part *p, const char *type, const char *sub)
{
	return p->type != NULL && p->subtype != NULL && ieq(p->type, type) &&
	       ieq(p->subtype, sub);
}

mox_err
mox_dsn_parse(const uint8_t *msg, size_t len, const mox_allocator *alloc,
              mox_dsn_parsed **dsn_out, mox_errinfo *info)
{
	if (dsn_out == NULL)
		return MOX_EINVAL;
	*dsn_out = NULL;
	if (msg == NULL && len > 0)
		return MOX_EINVAL;
	if (len > MOX_DSN_PARSE_MAX)
		return mox_errinfo_set(info, MOX_ELIMIT, 0,
		                       "message larger than %d bytes",
		                       MOX_DSN_PARSE_MAX);
	mox_msg_header *h = NULL;
	mox_err err = mox_msg_header_parse(msg, len, 0, alloc, &h, NULL, NULL);
	if (err != MOX_OK)
		return err == MOX_ENOMEM ? err : MOX_ENOTFOUND;
	int kind = report_kind(h);
	mox_msg_header_free(h);
	if (kind < 0)
		return MOX_ENOMEM;
	if (kind == 0)
		return MOX_ENOTFOUND;

	mox_msg *m = NULL;
	mox_buf b;
	mox_buf_init(&b, alloc);
	mox_dsn_parsed *d = mox_mem_calloc(alloc, 1, sizeof(*d));
	if (d == NULL)
		return MOX_ENOMEM;
	d->alloc = alloc;
	d->utf8 = kind == 2;
	mox_msg_parse_opts po;
	memset(&po, 0, sizeof(po));
	po.size = sizeof(po);
	po.alloc = alloc;
	po.limits.max_depth = 10;
	po.limits.max_parts = 100;
	err = mox_msg_parse(msg, len, &po, &m, info);
	if (err != MOX_OK)
		goto out;
	const mox_msg_part *root = m->root;
	const mox_msg_part *status = NULL;
	size_t status_i = 0;
	for (size_t i = 0; i < root->nchildren; i++) {
		const mox_msg_part *p = root->children[i];
		if (is_type(p, "message", "delivery-status") ||
		    is_type(p, "message", "global-delivery-status")) {
			status = p;
			status_i = i;
			break;
		}
	}
	if (status == NULL) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "no delivery-status part");
		goto out;
	}
	/* RFC 6522 section 3: the first part is for people. */
	if (status_i > 0 && root->children[0]->type != NULL &&
	    ieq(root->children[0]->type, "text")) {
		err = mox_msg_part_decode(root->children[0], msg, len, &b, NULL);
		if (err != MOX_OK)
			goto out;
		d->text = (char *)mox_buf_steal(&b, NULL);
		if (d->text == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
	}
	mox_buf_reset(&b);
	err = mox_msg_part_decode(status, msg, len, &b, NULL);
	if (err != MOX_OK)
		goto out;
	err = status_fields(d, b.data != NULL ? b.data : (const uint8_t *)"", b.len,
	                    info);
	if (err != MOX_OK)
		goto out;
	if (d->nrcpts == 0) {
		err = mox_errinfo_set(info, MOX_ESYNTAX, 0, "no per-recipient fields");
		goto out;
	}
	if (status_i + 1 < root->nchildren) {
		const mox_msg_part *o = root->children[status_i + 1];
		d->original_type =
		    mox_mem_calloc(alloc, 1,
		                   (o->type ? strlen(o->type) : 0) +
		                       (o->subtype ? strlen(o->subtype) : 0) + 2);
		if (d->original_type == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
		strcpy(d->original_type, o->type ? o->type : "");
		strcat(d->original_type, "/");
		strcat(d->original_type, o->subtype ? o->subtype : "");
		mox_buf_reset(&b);
		if (mox_msg_part_is_message(o)) {
			/* The nested message as it is. */
			err = mox_buf_append(&b, msg + o->body_offset,
			                     o->end_offset - o->body_offset);
		} else {
			err = mox_msg_part_decode(o, msg, len, &b, NULL);
		}
		if (err != MOX_OK)
			goto out;
		d->original = mox_buf_steal(&b, &d->original_len);
		if (d->original == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
	}
	if (!(fill(alloc, &d->reporting_mta) && fill(alloc, &d->original_envelope_id) &&
	      fill(alloc, &d->received_from_mta) && fill(alloc, &d->arrival_date) &&
	      fill(alloc, &d->original_type) && fill(alloc, &d->text))) {
		err = MOX_ENOMEM;
		goto out;
	}
	*dsn_out = d;
	d = NULL;
out:
	mox_buf_free(&b);
	mox_msg_free(m);
	mox_dsn_parsed_free(d);
	return err;
}
