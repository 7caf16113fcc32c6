/* Read a whole file for tests. Header-only, test code only. */
#ifndef MOX_TESTFILE_H
#define MOX_TESTFILE_H

#include <stdio.h>
#include <stdlib.h>

/* Returns a malloc'd buffer (NUL-terminated, not counted) or NULL. */
static inline char *
mox_test_read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	size_t n;
	while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf == NULL)
		return NULL;
	buf[len] = '\0';
	*len_out = len;
	return buf;
}

#endif
