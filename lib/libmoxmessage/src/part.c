/* Walking the part tree: IMAP section paths (RFC 9051 section 6.4.5). */
#include "msg_int.h"

#include <string.h>

bool
mox_msg_part_is_multipart(const mox_msg_part *part)
{
	return part != NULL && part->type != NULL && strcmp(part->type, "multipart") == 0 &&
	       part->nchildren > 0;
}

bool
mox_msg_part_is_message(const mox_msg_part *part)
{
	return part != NULL && part->type != NULL && strcmp(part->type, "message") == 0 &&
	       part->nchildren == 1;
}

const mox_msg_part *
mox_msg_part_find(const mox_msg *msg, const char *path)
{
	if (msg == NULL || msg->root == NULL)
		return NULL;
	const mox_msg_part *part = msg->root;
	if (path == NULL || path[0] == '\0')
		return part;
	const char *s = path;
	/* Part 1 of a message that is not multipart is its body (RFC 9051
	 * section 6.4.5); that holds for the top message and for nested
	 * messages, not for leaf parts inside a multipart. */
	bool self_ok = true;
	while (*s != '\0') {
		size_t n = 0;
		if (*s < '1' || *s > '9')
			return NULL; /* section numbers start at 1, no zeros */
		while (*s >= '0' && *s <= '9') {
			if (n > 100000)
				return NULL;
			n = n * 10 + (size_t)(*s - '0');
			s++;
		}
		if (*s == '.') {
			s++;
			if (*s == '\0')
				return NULL; /* trailing dot */
		} else if (*s != '\0') {
			return NULL;
		}
		/* Entering a message/rfc822 part goes to its body: the
		 * nested message's parts, or the nested message itself when it
		 * is not multipart (part 1 of a single-part message is its
		 * body). */
		if (mox_msg_part_is_message(part)) {
			part = part->children[0];
			self_ok = true;
		}
		if (mox_msg_part_is_multipart(part)) {
			if (n > part->nchildren)
				return NULL;
			part = part->children[n - 1];
			self_ok = false;
		} else if (n != 1 || !self_ok) {
			return NULL;
		} else {
			self_ok = false;
		}
	}
	return part;
}
