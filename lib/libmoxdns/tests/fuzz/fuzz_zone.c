/* Fuzz the zone text parser and lookups in the loaded zone. */
#include <mox/dns.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	mox_resolver *z = NULL;
	if (mox_dns_zone_new(&z, NULL) != MOX_OK)
		return 0;
	mox_errinfo info;
	if (mox_dns_zone_load(z, (const char *)data, size, &info) == MOX_OK) {
		static const char *names[] = {"example.com", "a.example.com",
					      "x.y.example.com", "example.org"};
		static const mox_dns_type types[] = {MOX_DNS_A, MOX_DNS_MX, MOX_DNS_TXT,
						     MOX_DNS_CNAME, MOX_DNS_TLSA};
		for (size_t i = 0; i < 4; i++)
			for (size_t j = 0; j < 5; j++) {
				mox_dns_answer *a = NULL;
				if (mox_dns_lookup(z, names[i], types[j], &a) == MOX_OK) {
					mox_dns_answer *c = NULL;
					if (mox_dns_answer_copy(a, NULL, &c) == MOX_OK)
						mox_dns_answer_free(c);
				}
				mox_dns_answer_free(a);
			}
	}
	mox_resolver_free(z);
	return 0;
}
