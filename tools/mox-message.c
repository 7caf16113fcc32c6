/* mox-message: look inside messages, run as "mox message ..." or alone.
 *
 *   mox message parse [-json] FILE     the part tree: types, parameters,
 *                                      offsets, line counts, warnings
 *   mox message part FILE SECTION      a part's decoded content (text as
 *                                      UTF-8), SECTION as in IMAP ("1.2")
 *
 * FILE "-" reads standard input. Links only libmoxmessage (and core). */
#include <mox/message.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: mox message parse [-json] FILE\n"
		   "       mox message part FILE SECTION\n");
}

static void
json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
print_warnings(unsigned w, bool json)
{
	bool first = true;
	for (unsigned bit = 1; bit != 0; bit <<= 1) {
		if (!(w & bit) || mox_msg_warning_name(bit) == NULL)
			continue;
		if (json) {
			printf("%s", first ? "" : ",");
			json_str(mox_msg_warning_name(bit));
		} else {
			printf("%s%s", first ? " (" : "; ", mox_msg_warning_name(bit));
		}
		first = false;
	}
	if (!json && !first)
		putchar(')');
}

static void
print_part(const mox_msg_part *p, const char *path, int indent, bool json)
{
	if (json) {
		printf("{\"section\":");
		json_str(path);
		printf(",\"type\":");
		json_str(p->type);
		printf(",\"subtype\":");
		json_str(p->subtype);
		printf(",\"params\":{");
		for (size_t i = 0; i < p->params.n; i++) {
			printf("%s", i ? "," : "");
			json_str(p->params.p[i].name);
			putchar(':');
			json_str(p->params.p[i].value);
		}
		printf("},\"encoding\":");
		json_str(mox_msg_cte_name(p->cte));
		if (p->disposition != NULL) {
			printf(",\"disposition\":");
			json_str(p->disposition);
		}
		if (p->filename != NULL) {
			printf(",\"filename\":");
			json_str(p->filename);
		}
		printf(",\"header_offset\":%zu,\"body_offset\":%zu,\"end_offset\":%zu,"
		       "\"body_lines\":%zu,\"warnings\":[",
		       p->header_offset, p->body_offset, p->end_offset, p->body_lines);
		print_warnings(p->warnings, true);
		printf("],\"parts\":[");
	} else {
		printf("%*s%s%s%s/%s", indent * 2, "", path, path[0] ? " " : "", p->type,
		       p->subtype);
		for (size_t i = 0; i < p->params.n; i++)
			printf("; %s=\"%s\"", p->params.p[i].name, p->params.p[i].value);
		printf(" [%zu,%zu,%zu) %zu lines %s", p->header_offset, p->body_offset,
		       p->end_offset, p->body_lines, mox_msg_cte_name(p->cte));
		if (p->filename != NULL)
			printf(" file \"%s\"", p->filename);
		print_warnings(p->warnings, false);
		putchar('\n');
	}
	/* Section numbers as IMAP counts them: a nested message's parts
	 * continue its message part's number. */
	const mox_msg_part *kids = p;
	if (mox_msg_part_is_message(p)) {
		print_part(p->children[0], path, indent + 1, json);
		kids = NULL;
	}
	for (size_t i = 0; kids != NULL && i < kids->nchildren; i++) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s%s%zu", path, path[0] ? "." : "", i + 1);
		if (json && i > 0)
			putchar(',');
		print_part(kids->children[i], sub, indent + 1, json);
	}
	if (json)
		printf("]}");
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0, r;
	char *buf = malloc(cap);
	while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
			} else {
				buf = nb;
			}
		}
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	bool json = argc == 4 && strcmp(argv[1], "parse") == 0 && strcmp(argv[2], "-json") == 0;
	bool parse = (argc == 3 || json) && strcmp(argv[1], "parse") == 0;
	bool part = argc == 4 && strcmp(argv[1], "part") == 0;
	if (!parse && !part) {
		bool help = argc == 2 && strcmp(argv[1], "help") == 0;
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	const char *file = json ? argv[3] : argv[2];
	size_t len;
	char *data = read_all(file, &len);
	if (data == NULL) {
		fprintf(stderr, "mox message: cannot read %s\n", file);
		return 1;
	}
	mox_msg *m = NULL;
	mox_errinfo info;
	mox_err err = mox_msg_parse(data, len, NULL, &m, &info);
	if (err != MOX_OK) {
		fprintf(stderr, "mox message: %s: %s\n", file, info.msg);
		free(data);
		return 1;
	}
	int rc = 0;
	if (parse) {
		print_part(m->root, "", 0, json);
		if (json)
			putchar('\n');
	} else {
		const mox_msg_part *p = mox_msg_part_find(m, argv[3]);
		mox_buf out = MOX_BUF_INIT;
		unsigned w = 0;
		if (p == NULL) {
			fprintf(stderr, "mox message: no part %s\n", argv[3]);
			rc = 1;
		} else if (mox_msg_part_decode(p, (const uint8_t *)data, len, &out, &w) != MOX_OK) {
			fprintf(stderr, "mox message: cannot decode part %s\n", argv[3]);
			rc = 1;
		} else {
			fwrite(out.data, 1, out.len, stdout);
			if (w != 0) {
				fprintf(stderr, "mox message: warnings:");
				for (unsigned bit = 1; bit != 0; bit <<= 1)
					if ((w & bit) && mox_msg_warning_name(bit))
						fprintf(stderr, " %s;", mox_msg_warning_name(bit));
				fprintf(stderr, "\n");
			}
		}
		mox_buf_free(&out);
	}
	mox_msg_free(m);
	free(data);
	return rc;
}
