/* Fuzz the mbox reader: input split where the first byte says, every
 * message must come out with CRLF line endings only and within the
 * limit, and the reader must end. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(mox_store_mbox *mb)
{
	mox_store_mbox_msg m;
	while (mox_store_mbox_next(mb, &m) == MOX_OK) {
		if (m.len > 4096)
			abort();
		for (size_t i = 0; i < m.len; i++)
			if (m.data[i] == '\n' && (i == 0 || m.data[i - 1] != '\r'))
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t split = data[0] % size;
	data++;
	size--;
	if (split > size)
		split = size;
	mox_store_mbox *mb = NULL;
	if (mox_store_mbox_new(&mb, 4096, NULL) != MOX_OK)
		return 0;
	if (mox_store_mbox_feed(mb, data, split) == MOX_OK)
		drain(mb);
	if (mox_store_mbox_feed(mb, data + split, size - split) == MOX_OK)
		drain(mb);
	mox_store_mbox_end(mb);
	drain(mb);
	mox_store_mbox_free(mb);
	return 0;
}
