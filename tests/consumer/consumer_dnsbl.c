/* Consumer of the installed libmoxdnsbl (see run.sh). */
#include <mox/dnsbl.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	mox_resolver *z = NULL;
	const char *text = "2.0.0.127.bl.example. A 127.0.0.2\n";
	if (mox_dns_zone_new(&z, NULL) != MOX_OK ||
	    mox_dns_zone_load(z, text, strlen(text), NULL) != MOX_OK)
		return 1;
	mox_dnsbl_result r;
	if (mox_dnsbl_lookup(z, "bl.example", "127.0.0.2", &r) != MOX_OK ||
	    r.status != MOX_DNSBL_FAIL)
		return 1;
	printf("consumer: 127.0.0.2 %s\n", mox_dnsbl_status_name(r.status));
	mox_resolver_free(z);
	return 0;
}
