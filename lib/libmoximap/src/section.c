/* BODY[section]<partial> as bytes, RFC 9051 section 6.4.5, from the part
 * tree's offsets: no parsing again.
 *
 *   []             the whole message
 *   [HEADER]       the header of the message, with the blank line
 *   [TEXT]         the body of the message
 *   [N...]         the body of part N (of a message/rfc822 part: the whole
 *                  nested message; part 1 of a single-part message: its body)
 *   [N...MIME]     the MIME header of part N, with the blank line
 *   [N...HEADER], [N...TEXT], [N...HEADER.FIELDS (...)]
 *                  of the nested message in message/rfc822 part N
 *   HEADER.FIELDS and .NOT generate the matching fields in the order of
 *   the message, each with its own line ending as written, and a blank
 *   line ("the blank line is included in all header fetches").
 * A partial <o.n> keeps bytes o to o+n-1 of that; an origin past the end
 * gives the empty string (RFC 9051 section 6.4.5).
 */
#include "imap_int.h"

#include <stdio.h>
#include <string.h>

static bool
name_in(const mox_msg_field *f, const mox_imap_section *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (mox__imap_eq_nocase((const char *)f->name, f->name_len, s->fields[i]))
			return true;
	return false;
}

static void
add(mox_imap_section_data *d, const uint8_t *gen, uint64_t off, uint64_t len)
{
	if (len == 0 || d->n >= sizeof(d->seg) / sizeof(*d->seg))
		return;
	d->seg[d->n].gen = gen;
	d->seg[d->n].offset = off;
	d->seg[d->n].len = len;
	d->n++;
	d->size += len;
}

mox_err
mox_imap_section_resolve(const mox_msg *msg, const mox_imap_fetch_att *att,
			 mox_imap_section_data *d)
{
	if (d == NULL)
		return MOX_EINVAL;
	memset(d, 0, sizeof(*d));
	if (msg == NULL || msg->root == NULL || att == NULL)
		return MOX_EINVAL;
	d->alloc = msg->alloc;
	const mox_imap_section *s = &att->section;
	const mox_msg_part *root = msg->root;
	uint64_t a = 0, b = 0; /* a range of the message */
	bool gen = false;

	switch (att->type) {
	case MOX_IMAP_FA_RFC822:
		a = 0;
		b = msg->size;
		break;
	case MOX_IMAP_FA_RFC822_HEADER:
		a = root->header_offset;
		b = root->body_offset;
		break;
	case MOX_IMAP_FA_RFC822_TEXT:
		a = root->body_offset;
		b = root->end_offset;
		break;
	case MOX_IMAP_FA_BODY_SECTION: {
		const mox_msg_part *part = root;
		if (s->npart > 0) {
			char path[256];
			size_t pl = 0;
			for (size_t i = 0; i < s->npart; i++) {
				int k = snprintf(path + pl, sizeof(path) - pl, "%s%u",
						 i > 0 ? "." : "", (unsigned)s->part[i]);
				if (k < 0 || (size_t)k >= sizeof(path) - pl)
					return MOX_ENOTFOUND;
				pl += (size_t)k;
			}
			part = mox_msg_part_find(msg, path);
			if (part == NULL)
				return MOX_ENOTFOUND;
		}
		const mox_msg_part *target = part; /* the message for HEADER/TEXT */
		if (s->npart > 0 && s->text != MOX_IMAP_SECTION_NONE &&
		    s->text != MOX_IMAP_SECTION_MIME) {
			if (!mox_msg_part_is_message(part))
				return MOX_EINVAL;
			target = part->children[0];
		}
		switch (s->text) {
		case MOX_IMAP_SECTION_NONE:
			if (s->npart == 0) {
				a = 0;
				b = msg->size;
			} else {
				a = part->body_offset;
				b = part->end_offset;
			}
			break;
		case MOX_IMAP_SECTION_MIME:
			if (s->npart == 0)
				return MOX_EINVAL;
			a = part->header_offset;
			b = part->body_offset;
			break;
		case MOX_IMAP_SECTION_HEADER:
			a = target->header_offset;
			b = target->body_offset;
			break;
		case MOX_IMAP_SECTION_TEXT:
			a = target->body_offset;
			b = target->end_offset;
			break;
		case MOX_IMAP_SECTION_HEADER_FIELDS:
		case MOX_IMAP_SECTION_HEADER_FIELDS_NOT: {
			bool want = s->text == MOX_IMAP_SECTION_HEADER_FIELDS;
			const mox_msg_header *h = target->header;
			size_t total = 2;
			for (size_t i = 0; h != NULL && i < h->nfields; i++)
				if (name_in(&h->fields[i], s) == want)
					total += h->fields[i].raw_len + 2; /* room for a
									      missing line end */
			d->genbuf = mox_mem_alloc(d->alloc, total);
			if (d->genbuf == NULL)
				return MOX_ENOMEM;
			size_t n = 0;
			for (size_t i = 0; h != NULL && i < h->nfields; i++) {
				const mox_msg_field *f = &h->fields[i];
				if (name_in(f, s) != want)
					continue;
				memcpy(d->genbuf + n, f->raw, f->raw_len);
				n += f->raw_len;
				/* A last field without line ending (a message
				 * that is all header) still ends its line. */
				if (f->raw_len == 0 || f->raw[f->raw_len - 1] != '\n') {
					memcpy(d->genbuf + n, "\r\n", 2);
					n += 2;
				}
			}
			memcpy(d->genbuf + n, "\r\n", 2);
			n += 2;
			a = 0;
			b = n;
			gen = true;
			break;
		}
		}
		break;
	}
	default:
		return MOX_EUNSUPPORTED;
	}
	if (b < a)
		b = a;
	uint64_t len = b - a;
	if (att->partial) {
		d->origin = att->partial_offset;
		if (att->partial_offset >= len) {
			a = b;
			len = 0;
		} else {
			a += att->partial_offset;
			len -= att->partial_offset;
			if (len > att->partial_count)
				len = att->partial_count;
		}
	}
	if (gen)
		add(d, d->genbuf + a, 0, len);
	else
		add(d, NULL, a, len);
	return MOX_OK;
}

void
mox_imap_section_copy(const mox_imap_section_data *d, const uint8_t *msg_data,
		      uint64_t offset, uint8_t *dst, size_t len)
{
	for (size_t i = 0; i < d->n && len > 0; i++) {
		const mox_imap_seg *s = &d->seg[i];
		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		uint64_t take = s->len - offset;
		if (take > len)
			take = len;
		const uint8_t *src = s->gen != NULL ? s->gen + offset
						    : msg_data + s->offset + offset;
		memcpy(dst, src, (size_t)take);
		dst += take;
		len -= (size_t)take;
		offset = 0;
	}
}

void
mox_imap_section_data_free(mox_imap_section_data *d)
{
	if (d == NULL)
		return;
	mox_mem_free(d->alloc, d->genbuf);
	d->genbuf = NULL;
	d->n = 0;
	d->size = 0;
}
