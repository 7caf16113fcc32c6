/* libFuzzer target: DKIM key record parsing (mox_dkim_record_parse),
 * including the RSA public key DER through the crypto backend. A record
 * that parses is written back and must parse to the same key. */
#include <mox/dkim.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_dkim_record *a = NULL, *b = NULL;
	bool is_dkim;
	if (mox_dkim_record_parse(data, size, NULL, &a, &is_dkim, NULL) != MOX_OK)
		return 0;
	if (!is_dkim)
		abort();
	mox_buf out = MOX_BUF_INIT;
	/* n= grows when written as qp-section; past the limit it cannot be
	 * read back, which is the limit's job, not a bug. */
	if (mox_dkim_record_format(a, &out) == MOX_OK && out.len <= MOX_DKIM_RECORD_MAX) {
		if (mox_dkim_record_parse(out.data, out.len, NULL, &b, &is_dkim, NULL) != MOX_OK)
			abort();
		if (a->key_type != b->key_type || a->pubkey_len != b->pubkey_len ||
		    memcmp(a->pubkey, b->pubkey, a->pubkey_len) != 0 || a->rsa_bits != b->rsa_bits ||
		    a->testing != b->testing || a->strict != b->strict || a->nhashes != b->nhashes)
			abort();
	}
	mox_buf_free(&out);
	mox_dkim_record_free(a);
	mox_dkim_record_free(b);
	return 0;
}
