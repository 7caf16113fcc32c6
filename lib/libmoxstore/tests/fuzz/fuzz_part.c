/* Fuzz the part tree blob decoder (blobs come from the database, which a
 * damaged disk or a hostile backup can change), and the encoder through
 * the message parser: parse, encode, decode must always succeed and give
 * the same offsets. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cmp(const mox_msg_part *a, const mox_store_part *b)
{
	if (a->header_offset != b->header_offset || a->end_offset != b->end_offset ||
	    a->nchildren != b->nchildren || strcmp(a->type, b->type) != 0)
		abort();
	for (size_t i = 0; i < a->nchildren; i++)
		cmp(a->children[i], &b->children[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_store_part *p = NULL;
	if (mox_store_part_decode(data, size, NULL, &p) == MOX_OK)
		mox_store_part_free(p);
	mox_msg *msg = NULL;
	mox_msg_parse_opts po = {.size = sizeof(po)};
	if (mox_msg_parse(data, size, &po, &msg, NULL) == MOX_OK) {
		mox_buf b = MOX_BUF_INIT;
		if (mox_store_part_encode(msg, &b) != MOX_OK)
			abort();
		p = NULL;
		if (mox_store_part_decode(b.data, b.len, NULL, &p) != MOX_OK)
			abort();
		cmp(msg->root, p);
		mox_store_part_free(p);
		mox_buf_free(&b);
		mox_msg_free(msg);
	}
	return 0;
}
