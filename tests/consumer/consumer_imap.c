/* A program that knows nothing of the mox-c source tree: compiled against
 * the INSTALLED libmoximap with nothing but `pkg-config --cflags --libs
 * libmoximap` (or find_package(mox COMPONENTS imap)). It parses a command
 * with a literal, writes the BODYSTRUCTURE of a small message and streams
 * a literal through the output queue, and exits non-zero on any surprise. */
#include <mox/imap.h>

#include <stdio.h>
#include <string.h>

static long
read_hello(void *arg, uint64_t off, uint8_t *dst, size_t len)
{
	const char *s = arg;
	size_t n = strlen(s) - (size_t)off;
	if (n > len)
		n = len;
	memcpy(dst, s + off, n);
	return (long)n;
}

int
main(void)
{
	if (mox_imap_version() != MOX_IMAP_VERSION_HEX ||
	    mox_message_version() != MOX_MESSAGE_VERSION_HEX) {
		fprintf(stderr, "header/library version skew\n");
		return 1;
	}
	mox_imap_parser *p = NULL;
	if (mox_imap_parser_new(&p, NULL) != MOX_OK)
		return 1;
	static const char in[] = "a1 LOGIN {3}\r\nmjl secret\r\n";
	mox_imap_event ev;
	if (mox_imap_parser_feed(p, in, strlen(in)) != MOX_OK ||
	    mox_imap_parser_next(p, &ev) != MOX_OK || ev.type != MOX_IMAP_EV_CONTINUE ||
	    mox_imap_parser_next(p, &ev) != MOX_OK || ev.type != MOX_IMAP_EV_COMMAND ||
	    ev.cmd->type != MOX_IMAP_CMD_LOGIN || strcmp(ev.cmd->str1.s, "mjl") != 0) {
		fprintf(stderr, "parse failed\n");
		return 1;
	}
	mox_imap_parser_free(p);

	static const char m[] = "Subject: hi\r\n\r\nbody\r\n";
	mox_msg *msg = NULL;
	mox_buf b = MOX_BUF_INIT;
	if (mox_msg_parse(m, strlen(m), NULL, &msg, NULL) != MOX_OK ||
	    mox_imap_bodystructure(msg->root, 0, &b) != MOX_OK ||
	    strcmp((const char *)b.data,
		   "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1)") != 0) {
		fprintf(stderr, "bodystructure: %s\n", b.data != NULL ? (char *)b.data : "");
		return 1;
	}
	printf("consumer: BODY %s\n", b.data);
	mox_buf_free(&b);
	mox_msg_free(msg);

	mox_imap_out *o = NULL;
	char out[64];
	size_t n;
	if (mox_imap_out_new(&o, NULL) != MOX_OK ||
	    mox_imap_out_literal(o, 5, false, read_hello, "hello") != MOX_OK ||
	    mox_imap_out_pull(o, (uint8_t *)out, sizeof(out) - 1, &n) != MOX_OK) {
		fprintf(stderr, "out queue failed\n");
		return 1;
	}
	out[n] = '\0';
	mox_imap_out_free(o);
	if (strcmp(out, "{5}\r\nhello") != 0) {
		fprintf(stderr, "out: %s\n", out);
		return 1;
	}
	return 0;
}
