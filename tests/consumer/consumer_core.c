/* Consumer of the installed libmoxcore alone (see run.sh). */
#include <mox/core.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	if (mox_core_version() != MOX_CORE_VERSION_HEX)
		return 1;
	mox_buf b = MOX_BUF_INIT;
	if (mox_base64_encode(&b, "foobar", 6) != MOX_OK ||
	    strcmp((char *)b.data, "Zm9vYmFy") != 0)
		return 1;
	printf("consumer: %s %s\n", (char *)b.data, mox_err_name(MOX_ENOMEM));
	mox_buf_free(&b);
	return 0;
}
