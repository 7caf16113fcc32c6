/* Message parsing throughput: ours (libmoxmessage) beside GMime 3 (the
 * peer), measured in the same run on the same bytes.
 *
 *   1. a mixed corpus: every message of ../shared/testdata/messages listed
 *      in structure-python-email.json, parsed over and over;
 *   2. one large message: a 40 MB multipart with a base64 attachment and a
 *      quoted-printable text part.
 *
 * Each measurement runs for about 3 seconds or 2000 rounds, whichever
 * comes first. Both parsers build a tree of parts with their parsed
 * headers from a memory buffer; neither decodes bodies. Usage:
 * bench_message TOPDIR (the repository; testdata is TOPDIR/../shared). */
#include <mox/message.h>

#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct msgbuf {
	char *data;
	size_t len;
} msgbuf;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
ours(const msgbuf *m)
{
	mox_msg *msg = NULL;
	if (mox_msg_parse(m->data, m->len, NULL, &msg, NULL) != MOX_OK)
		return 1;
	mox_msg_free(msg);
	return 0;
}

static int
gmime(const msgbuf *m)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(m->data, m->len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
	int rc = msg == NULL;
	if (msg != NULL)
		g_object_unref(msg);
	g_object_unref(parser);
	g_object_unref(stream);
	return rc;
}

/* MB/s of fn over all messages, repeated for ~3 s. */
static double
measure(int (*fn)(const msgbuf *), const msgbuf *msgs, size_t n, int *failures)
{
	size_t bytes = 0;
	double start = now(), elapsed = 0;
	*failures = 0;
	for (int round = 0; round < 2000 && elapsed < 3.0; round++) {
		for (size_t i = 0; i < n; i++) {
			*failures += fn(&msgs[i]);
			bytes += msgs[i].len;
		}
		elapsed = now() - start;
	}
	return (double)bytes / elapsed / 1e6;
}

static void
report(const char *what, const msgbuf *msgs, size_t n)
{
	/* One pass to count what each parser refuses, then measure. */
	int fo = 0, fg = 0, dummy;
	for (size_t i = 0; i < n; i++) {
		fo += ours(&msgs[i]);
		fg += gmime(&msgs[i]);
	}
	double o = measure(ours, msgs, n, &dummy);
	double g = measure(gmime, msgs, n, &dummy);
	printf("%-34s %10.1f MB/s %10.1f MB/s %8.2fx", what, o, g, o / g);
	if (fo || fg)
		printf("  (messages refused: ours %d, gmime %d)", fo, fg);
	printf("\n");
}

int
main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	char dir[4096], path[8192];
	snprintf(dir, sizeof(dir), "%s/../shared/testdata/messages", top);
	g_mime_init();

	/* The corpus: file names are the keys of the structure JSON. */
	snprintf(path, sizeof(path), "%s/structure-python-email.json", dir);
	size_t jlen;
	char *json = read_file(path, &jlen);
	if (json == NULL) {
		fprintf(stderr, "bench_message: cannot read %s\n", path);
		return 1;
	}
	msgbuf *msgs = NULL;
	size_t n = 0, total = 0;
	/* Keys are at nesting depth 1: "name": { ... */
	int depth = 0;
	for (char *p = json; *p; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}')
			depth--;
		else if (*p == '"' && depth == 1) {
			char *end = strchr(p + 1, '"');
			if (end == NULL)
				break;
			*end = '\0';
			snprintf(path, sizeof(path), "%s/%s", dir, p + 1);
			size_t len;
			char *data = read_file(path, &len);
			if (data != NULL) {
				msgs = realloc(msgs, (n + 1) * sizeof(*msgs));
				msgs[n].data = data;
				msgs[n].len = len;
				total += len;
				n++;
			}
			p = end;
		}
	}
	free(json);

	/* The large message. */
	mox_buf big = MOX_BUF_INIT;
	mox_buf_append_str(&big, "From: a@example.org\r\nTo: b@example.org\r\n"
				 "Subject: large\r\nMIME-Version: 1.0\r\n"
				 "Content-Type: multipart/mixed; boundary=\"big-boundary\"\r\n\r\n"
				 "--big-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n"
				 "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	for (int i = 0; i < 20000; i++)
		mox_buf_append_str(&big, "Gr=C3=BC=C3=9Fe, this is a quoted-printable line of "
					 "text in the large message=\r\n");
	mox_buf_append_str(&big, "\r\n--big-boundary\r\nContent-Type: application/octet-stream\r\n"
				 "Content-Transfer-Encoding: base64\r\n"
				 "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n");
	while (big.len < 40u << 20)
		mox_buf_append_str(&big, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"
					 "cXJzdHV2d3h5ejAxMjM0\r\n");
	mox_buf_append_str(&big, "--big-boundary--\r\n");
	msgbuf large = {(char *)big.data, big.len};

	printf("message parsing, ours (libmoxmessage %u.%u.%u) vs GMime %u.%u.%u\n",
	       mox_message_version() >> 16, (mox_message_version() >> 8) & 0xff,
	       mox_message_version() & 0xff, gmime_major_version, gmime_minor_version,
	       gmime_micro_version);
	printf("%-34s %15s %15s %9s\n", "input", "ours", "gmime", "ratio");
	char what[128];
	snprintf(what, sizeof(what), "mixed corpus (%zu msgs, %.1f MB)", n, (double)total / 1e6);
	report(what, msgs, n);
	snprintf(what, sizeof(what), "one large message (%.0f MB)", (double)large.len / 1e6);
	report(what, &large, 1);

	for (size_t i = 0; i < n; i++)
		free(msgs[i].data);
	free(msgs);
	mox_buf_free(&big);
	g_mime_shutdown();
	return 0;
}
