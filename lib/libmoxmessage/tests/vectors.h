/* Helpers shared by the data-driven header field tests (test_addr.c,
 * test_date.c, test_msgid.c, test_rfc2047.c). Test code only. */
#ifndef MOX_MSG_TEST_VECTORS_H
#define MOX_MSG_TEST_VECTORS_H

#include <string.h>

#include "mox_testfile.h"

/* A whole file, NUL-terminated; NULL if it cannot be read. */
static inline char *
read_file(const char *path)
{
	size_t n;
	return mox_test_read_file(path, &n);
}

/* The vectors hold the raw text after the colon, sometimes followed by
 * more header lines: the field value ends at the first line break that is
 * not a fold, as our header parser would cut it. */
static inline size_t
field_len(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			continue;
		size_t j = i;
		if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
			j++;
		if (j + 1 >= n || (s[j + 1] != ' ' && s[j + 1] != '\t'))
			return i;
		i = j;
	}
	return n;
}

#endif
