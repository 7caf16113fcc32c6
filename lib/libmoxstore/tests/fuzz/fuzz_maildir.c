/* Fuzz dovecot-keywords parsing and maildir file-name flags: the input is
 * a keywords file, a NUL, then a file name. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t klen = nul != NULL ? (size_t)(nul - data) : size;
	char *kw[26];
	size_t bad;
	if (mox_store_dovecot_keywords_parse(data, klen, NULL, kw, &bad) != MOX_OK)
		return 0;
	for (size_t i = 0; i < 26; i++)
		if (kw[i] != NULL && !mox_store_keyword_valid(kw[i]))
			abort();
	if (nul != NULL) {
		size_t nlen = size - klen - 1;
		char *name = malloc(nlen + 1);
		if (name != NULL) {
			memcpy(name, nul + 1, nlen);
			name[nlen] = '\0';
			unsigned flags;
			mox_buf out = MOX_BUF_INIT;
			if (mox_store_maildir_flags(name, (const char *const *)kw, 26,
			                            &flags, &out) == MOX_OK &&
			    (flags & ~(unsigned)MOX_STORE_FLAGS_ALL) != 0)
				abort();
			mox_buf_free(&out);
			free(name);
		}
	}
	mox_store_keywords_free(NULL, kw);
	return 0;
}
