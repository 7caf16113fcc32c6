/* Fuzz the command parser: the input is fed in chunks whose sizes come from
 * the first byte, with flags from the second; every event must be
 * well-formed, formatting a command must work, and the parser's buffered
 * input must stay bounded by the limits. A raw line is requested after
 * AUTHENTICATE and IDLE as a server would. */
#include <mox/imap.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	unsigned flags = data[1] & 15; /* LITERAL+, LITERAL-, UTF8, APPEND_STREAM */
	data += 2;
	size -= 2;
	mox_imap_parser_opts o = {.size = sizeof(o), .flags = flags};
	o.limits.max_line = 512;
	o.limits.max_literal = 1024;
	o.limits.max_depth = 10;
	o.limits.max_args = 200;
	mox_imap_parser *p = NULL;
	if (mox_imap_parser_new(&p, &o) != MOX_OK)
		abort();
	mox_buf out = MOX_BUF_INIT;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (mox_imap_parser_feed(p, data + off, n) != MOX_OK)
			abort();
		for (;;) {
			mox_imap_event ev;
			mox_err err = mox_imap_parser_next(p, &ev);
			if (err == MOX_EAGAIN)
				break;
			if (err != MOX_OK)
				abort();
			mox_buf_reset(&out);
			switch (ev.type) {
			case MOX_IMAP_EV_COMMAND:
				if (ev.cmd->tag == NULL || ev.cmd->name == NULL ||
				    mox_imap_cmd_format(ev.cmd, &out) != MOX_OK)
					abort();
				if (ev.cmd->type == MOX_IMAP_CMD_IDLE ||
				    (ev.cmd->type == MOX_IMAP_CMD_AUTHENTICATE &&
				     !ev.cmd->has_initial))
					mox_imap_parser_expect_line(p);
				break;
			case MOX_IMAP_EV_REJECT:
				if (ev.reject.tag == NULL || ev.reject.text == NULL ||
				    mox_imap_write_reject(&out, &ev.reject) != MOX_OK)
					abort();
				break;
			case MOX_IMAP_EV_CONTINUE:
				break;
			case MOX_IMAP_EV_LINE:
				if (ev.line_len > 514)
					abort();
				break;
			case MOX_IMAP_EV_APPEND_DATA:
				if (ev.line_len == 0 || ev.append_offset + ev.line_len > ev.append_size)
					abort();
				break;
			}
		}
		if (mox_imap_parser_pending(p) != 0)
			abort(); /* next consumes everything it was given */
	}
	mox_buf_free(&out);
	mox_imap_parser_free(p);
	return 0;
}
