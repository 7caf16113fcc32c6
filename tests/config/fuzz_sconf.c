/* Fuzz the sconf parser (server/sconf.c) and the schema decoder over both
 * config files. Properties: no crash or leak; a parsed file writes back
 * byte for byte; what parses once parses again the same after an edit. */
#include "config.h"
#include "config_int.h"
#include "sconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mox_sconf_doc *doc = NULL;
	mox_sconf_error err;
	if (mox_sconf_parse((const char *)data, size, "fuzz", &doc, &err) != MOX_OK)
		return 0;
	mox_buf b = MOX_BUF_INIT;
	if (mox_sconf_write(doc, &b) != MOX_OK || b.len != size ||
	    (size > 0 && memcmp(b.data, data, size) != 0))
		abort();
	mox_buf_free(&b);

	/* Both schemas over the tree: problems are fine, crashes are not. */
	const cfg_struct *schemas[2] = {&mox__cfg_static_schema,
	                                &mox__cfg_dynamic_schema};
	size_t sizes[2] = {sizeof(mox_config_static), sizeof(mox_config_dynamic)};
	for (int i = 0; i < 2; i++) {
		mox_config_errors errs = {0};
		cfg_ctx ctx = {&errs, "fuzz", false};
		void *base = calloc(1, sizes[i]);
		if (base == NULL)
			abort();
		mox__cfg_decode(&ctx, schemas[i], base, &doc->root);
		mox__cfg_free(schemas[i], base);
		free(base);
		mox_config_errors_clear(&errs);
	}

	/* Edit: change the first top-level value, add a key; the result must
	 * parse again. */
	if (doc->root.first != NULL && doc->root.first->first == NULL)
		(void)mox_sconf_set_value(doc->root.first, "edited");
	(void)mox_sconf_add(&doc->root, NULL, MOX_SCONF_KEY, "FuzzAdded", "1", "added",
	                    NULL);
	if (mox_sconf_write(doc, &b) != MOX_OK)
		abort();
	mox_sconf_doc *again = NULL;
	if (mox_sconf_parse((const char *)b.data, b.len, "fuzz2", &again, &err) !=
	        MOX_OK &&
	    err.line == 0)
		abort();
	mox_sconf_free(again);
	mox_buf_free(&b);
	mox_sconf_free(doc);
	return 0;
}
