/* Fuzz BODYSTRUCTURE, BODY and ENVELOPE generation and BODY[section]
 * resolution over arbitrary messages: whatever the message, the output
 * must have balanced parentheses outside strings and literals, and every
 * section's byte ranges must lie within the message. */
#include <mox/imap.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk the response syntax: strings, literals, parentheses. */
static void
check(const mox_buf *b)
{
	long depth = 0;
	size_t i = 0;
	while (i < b->len) {
		uint8_t c = b->data[i];
		if (c == '"') {
			i++;
			while (i < b->len && b->data[i] != '"') {
				if (b->data[i] == '\\')
					i++;
				if (i < b->len && (b->data[i] == '\r' || b->data[i] == '\n'))
					abort();
				i++;
			}
			if (i >= b->len)
				abort();
			i++;
		} else if (c == '{') {
			size_t n = 0;
			i++;
			while (i < b->len && b->data[i] >= '0' && b->data[i] <= '9')
				n = n * 10 + (size_t)(b->data[i++] - '0');
			if (i + 3 > b->len || memcmp(b->data + i, "}\r\n", 3) != 0)
				abort();
			i += 3 + n;
			if (i > b->len)
				abort();
		} else {
			if (c == '(')
				depth++;
			else if (c == ')' && --depth < 0)
				abort();
			else if (c == '\r' || c == '\n')
				abort();
			i++;
		}
	}
	if (depth != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_msg *msg = NULL;
	if (mox_msg_parse(data, size, NULL, &msg, NULL) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	for (unsigned f = 0; f < 4; f++) {
		mox_buf_reset(&b);
		if (mox_imap_bodystructure(msg->root, f, &b) != MOX_OK)
			abort();
		check(&b);
		mox_buf_reset(&b);
		if (mox_imap_envelope(msg->root->header, f, &b) != MOX_OK)
			abort();
		check(&b);
	}
	static const char *const paths[][3] = {{"1", NULL}, {"1", "1"}, {"2", NULL},
					       {"1", "2"}, {"2", "1"}};
	static const char *fields[] = {"From", "Subject"};
	for (int t = 0; t <= MOX_IMAP_SECTION_MIME; t++) {
		for (size_t k = 0; k <= sizeof(paths) / sizeof(*paths); k++) {
			uint32_t part[2];
			mox_imap_fetch_att a;
			memset(&a, 0, sizeof(a));
			a.type = MOX_IMAP_FA_BODY_SECTION;
			a.section.text = (mox_imap_section_text)t;
			a.section.fields = fields;
			a.section.nfields = 2;
			if (k > 0) {
				a.section.part = part;
				part[0] = (uint32_t)atoi(paths[k - 1][0]);
				a.section.npart = 1;
				if (paths[k - 1][1] != NULL) {
					part[1] = (uint32_t)atoi(paths[k - 1][1]);
					a.section.npart = 2;
				}
			}
			a.partial = (size & 1) != 0;
			a.partial_offset = 3;
			a.partial_count = 7;
			mox_imap_section_data d;
			mox_err err = mox_imap_section_resolve(msg, &a, &d);
			if (err == MOX_OK) {
				for (size_t i = 0; i < d.n; i++)
					if (d.seg[i].gen == NULL &&
					    d.seg[i].offset + d.seg[i].len > size)
						abort();
				uint8_t *tmp = malloc(d.size + 1);
				if (tmp == NULL)
					abort();
				mox_imap_section_copy(&d, data, 0, tmp, (size_t)d.size);
				free(tmp);
			}
			mox_imap_section_data_free(&d);
		}
	}
	mox_buf_free(&b);
	mox_msg_free(msg);
	return 0;
}
