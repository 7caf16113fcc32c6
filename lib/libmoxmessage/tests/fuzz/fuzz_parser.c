/* Fuzz the part parser, the header parser, Content-Type and the decoders.
 * Checks beyond "no crash": the tree's offsets are consistent, feeding the
 * input in two chunks gives the same tree, and every leaf decodes. */
#include <mox/message.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const mox_msg_part *p, size_t len)
{
	if (!(p->header_offset <= p->body_offset && p->body_offset <= p->end_offset &&
	      p->end_offset <= len))
		abort();
	size_t last = p->body_offset;
	for (size_t i = 0; i < p->nchildren; i++) {
		if (p->children[i]->header_offset < last ||
		    p->children[i]->end_offset > p->end_offset)
			abort();
		last = p->children[i]->end_offset;
		check(p->children[i], len);
	}
}

static bool
same(const mox_msg_part *a, const mox_msg_part *b)
{
	if (a->header_offset != b->header_offset || a->body_offset != b->body_offset ||
	    a->end_offset != b->end_offset || a->body_lines != b->body_lines ||
	    a->nchildren != b->nchildren || strcmp(a->type, b->type) != 0)
		return false;
	for (size_t i = 0; i < a->nchildren; i++)
		if (!same(a->children[i], b->children[i]))
			return false;
	return true;
}

static void
decode_leaves(const mox_msg_part *p, const uint8_t *data, size_t len)
{
	if (p->nchildren == 0) {
		mox_buf out = MOX_BUF_INIT;
		unsigned w;
		if (mox_msg_part_decode(p, data, len, &out, &w) != MOX_OK)
			abort();
		mox_buf_free(&out);
	}
	for (size_t i = 0; i < p->nchildren; i++)
		decode_leaves(p->children[i], data, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	mox_msg_parse_opts o = {.size = sizeof(o), .limits = {.max_depth = 20}};
	mox_msg *m = NULL;
	if (mox_msg_parse(data, size, &o, &m, NULL) == MOX_OK) {
		check(m->root, size);
		decode_leaves(m->root, data, size);
		/* Two chunks, cut in the middle. */
		mox_msg_parser *p = NULL;
		if (mox_msg_parser_new(&p, &o) == MOX_OK) {
			mox_msg *m2 = NULL;
			if (mox_msg_parser_feed(p, data, size / 2) != MOX_OK ||
			    mox_msg_parser_feed(p, data + size / 2, size - size / 2) != MOX_OK ||
			    mox_msg_parser_end(p, &m2) != MOX_OK || !same(m->root, m2->root))
				abort();
			mox_msg_free(m2);
			mox_msg_parser_free(p);
		}
		(void)mox_msg_part_find(m, "1.2.1");
		mox_msg_free(m);
	}
	mox_msg *s = NULL;
	o.flags = MOX_MSG_STRICT;
	if (mox_msg_parse(data, size, &o, &s, NULL) == MOX_OK)
		mox_msg_free(s);
	mox_msg_ctype *ct = NULL;
	if (mox_msg_ctype_parse(data, size, 0, NULL, &ct, NULL, NULL) == MOX_OK)
		mox_msg_ctype_free(ct);
	return 0;
}
