/* Small blocking file-descriptor helpers shared by the server's parts. */
#ifndef MOX_SERVER_FDIO_H
#define MOX_SERVER_FDIO_H

#include <stddef.h>

/* Write all n bytes of p to fd, retrying on EINTR and short writes.
 * 0, or -1 with errno set (a 0-byte write counts as an error). */
int fdio_write_all(int fd, const void *p, size_t n);

#endif
