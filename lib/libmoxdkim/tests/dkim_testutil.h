/* Helpers for libmoxdkim's tests: test data files, keys, zones built from
 * the vectors' DNS files. Header-only, test code only. */
#ifndef MOX_DKIM_TESTUTIL_H
#define MOX_DKIM_TESTUTIL_H

#include <mox/dkim.h>

#include "mox_testfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DKIM_TESTDATA MOX_TESTDATA_DIR "/dkim"

/* Read DKIM_TESTDATA/rel; aborts the test binary on failure (test code). */
static inline char *
dkim_test_file(const char *rel, size_t *len_out)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", DKIM_TESTDATA, rel);
	size_t len = 0;
	char *d = mox_test_read_file(path, &len);
	if (d == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		abort();
	}
	if (len_out != NULL)
		*len_out = len;
	return d;
}

/* A key from keys/NAME (a *.pem.b64 file: base64 of the PEM). */
static inline mox_dkim_key *
dkim_test_key(const char *name)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "keys/%s", name);
	size_t len;
	char *b64 = dkim_test_file(rel, &len);
	mox_buf pem = MOX_BUF_INIT;
	mox_dkim_key *key = NULL;
	mox_errinfo info;
	if (mox_base64_decode(&pem, b64, len, MOX_BASE64_IGNORE_SPACE, NULL) != MOX_OK ||
	    mox_dkim_key_parse_pem(pem.data, pem.len, NULL, &key, &info) != MOX_OK) {
		fprintf(stderr, "key %s: %s\n", name, info.msg);
		abort();
	}
	mox_buf_free(&pem);
	free(b64);
	return key;
}

/* Append zone text for one "name value" TXT line: the value quoted and
 * split into 255-octet character-strings. */
static inline void
dkim_test_zone_txt(mox_buf *z, const char *name, size_t nl, const char *v, size_t vl)
{
	mox_buf_appendf(z, "%.*s TXT", (int)nl, name);
	for (size_t i = 0; i < vl || i == 0; i += 255) {
		size_t n = vl - i < 255 ? vl - i : 255;
		mox_buf_append_str(z, " \"");
		for (size_t j = 0; j < n; j++) {
			char c = v[i + j];
			if (c == '"' || c == '\\')
				mox_buf_append_byte(z, '\\');
			mox_buf_append_byte(z, (uint8_t)c);
		}
		mox_buf_append_byte(z, '"');
		if (vl == 0)
			break;
	}
	mox_buf_append_byte(z, '\n');
}

/* An in-memory zone from a vectors dns/ file ("owner. value" lines). */
static inline mox_resolver *
dkim_test_zone_file(const char *rel, const char *extra)
{
	size_t len;
	char *t = dkim_test_file(rel, &len);
	mox_buf z = MOX_BUF_INIT;
	for (char *line = t; line < t + len;) {
		char *nl = memchr(line, '\n', (size_t)(t + len - line));
		size_t ll = nl != NULL ? (size_t)(nl - line) : (size_t)(t + len - line);
		size_t l2 = ll;
		if (l2 > 0 && line[l2 - 1] == '\r')
			l2--;
		if (l2 > 0 && line[0] != '#') {
			char *sp = memchr(line, ' ', l2);
			if (sp != NULL)
				dkim_test_zone_txt(&z, line, (size_t)(sp - line), sp + 1,
						   l2 - (size_t)(sp - line) - 1);
		}
		line += ll + 1;
	}
	if (extra != NULL)
		mox_buf_append_str(&z, extra);
	mox_resolver *r = NULL;
	mox_errinfo info;
	if (mox_dns_zone_new(&r, NULL) != MOX_OK ||
	    mox_dns_zone_load(r, z.len ? (const char *)z.data : "", z.len, &info) != MOX_OK) {
		fprintf(stderr, "zone %s: %s\n%s\n", rel, info.msg, z.data ? (char *)z.data : "");
		abort();
	}
	mox_buf_free(&z);
	free(t);
	return r;
}

/* A zone from text. */
static inline mox_resolver *
dkim_test_zone(const char *text)
{
	mox_resolver *r = NULL;
	mox_errinfo info;
	if (mox_dns_zone_new(&r, NULL) != MOX_OK ||
	    mox_dns_zone_load(r, text, strlen(text), &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		abort();
	}
	return r;
}

/* Verify msg fed in chunks of chunk bytes (0: at once); the statuses
 * joined with "," go to out. Returns the verifier (caller frees). */
static inline mox_dkim_verifier *
dkim_test_verify(const mox_dkim_verify_opts *o, const void *msg, size_t len, size_t chunk,
		 char *out, size_t outsize)
{
	mox_dkim_verifier *v = NULL;
	if (mox_dkim_verifier_new(&v, o) != MOX_OK)
		abort();
	const char *p = msg;
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		if (mox_dkim_verifier_feed(v, p + i, n) != MOX_OK) {
			fprintf(stderr, "feed: %s\n", mox_dkim_verifier_errmsg(v));
			abort();
		}
	}
	if (mox_dkim_verifier_end(v) != MOX_OK) {
		fprintf(stderr, "end: %s\n", mox_dkim_verifier_errmsg(v));
		abort();
	}
	out[0] = '\0';
	for (size_t i = 0; i < mox_dkim_verifier_count(v); i++) {
		const mox_dkim_result *r = mox_dkim_verifier_result(v, i);
		size_t l = strlen(out);
		snprintf(out + l, outsize - l, "%s%s", i ? "," : "", mox_dkim_status_name(r->status));
	}
	if (mox_dkim_verifier_count(v) == 0)
		snprintf(out, outsize, "none");
	return v;
}

#endif
