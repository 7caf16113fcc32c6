/* libFuzzer target: DKIM-Signature parsing (mox_dkim_sig_parse). A field
 * that parses is written back (mox_dkim_sig_format) and parsed again; the
 * two parses must agree on every tag, as mox's fuzz_test.go checks. */
#include <mox/dkim.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_list(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_dkim_sig *a = NULL, *b = NULL;
	mox_errinfo info;
	if (mox_dkim_sig_parse(data, size, NULL, &a, &info) != MOX_OK)
		return 0;
	mox_buf out = MOX_BUF_INIT;
	if (mox_dkim_sig_format(a, false, &out) == MOX_OK) {
		if (mox_dkim_sig_parse(out.data, out.len, NULL, &b, &info) != MOX_OK)
			abort();
		if (strcmp(a->domain, b->domain) != 0 || strcmp(a->selector, b->selector) != 0 ||
		    strcmp(a->algorithm, b->algorithm) != 0 || a->length != b->length ||
		    a->sign_time != b->sign_time || a->expire_time != b->expire_time ||
		    a->header_canon != b->header_canon || a->body_canon != b->body_canon ||
		    a->signature_len != b->signature_len || a->body_hash_len != b->body_hash_len ||
		    memcmp(a->signature, b->signature, a->signature_len) != 0 ||
		    memcmp(a->body_hash, b->body_hash, a->body_hash_len) != 0 ||
		    !same_list(a->headers, a->nheaders, b->headers, b->nheaders) ||
		    (a->identity == NULL) != (b->identity == NULL) ||
		    (a->identity != NULL && strcmp(a->identity, b->identity) != 0))
			abort();
	}
	mox_buf_free(&out);
	mox_dkim_sig_free(a);
	mox_dkim_sig_free(b);
	return 0;
}
