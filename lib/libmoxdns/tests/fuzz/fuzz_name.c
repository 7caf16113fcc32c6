/* Fuzz the name checks and IDNA conversions: no crash, and the outputs keep
 * their promises (ASCII output passes the checker; converting it again gives
 * the same). */
#include <mox/dns.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2048)
		return 0;
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	mox_errinfo info;
	(void)mox_dns_name_check(s, size, 0, &info);
	(void)mox_dns_name_check(s, size, MOX_DNS_NAME_HOST | MOX_DNS_NAME_TRAILING_DOT,
				 &info);
	char ascii[MOX_DNS_NAME_MAX + 1], again[MOX_DNS_NAME_MAX + 1], uni[2048];
	if (mox_dns_name_to_ascii(s, ascii, sizeof(ascii), &info) == MOX_OK) {
		if (mox_dns_name_check(ascii, strlen(ascii), 0, &info) != MOX_OK)
			abort();
		if (mox_dns_name_to_ascii(ascii, again, sizeof(again), &info) != MOX_OK ||
		    strcmp(ascii, again) != 0)
			abort();
		(void)mox_dns_name_to_unicode(ascii, uni, sizeof(uni), &info);
	}
	(void)mox_dns_name_to_unicode(s, uni, sizeof(uni), &info);
	(void)mox_dns_name_equal(s, "example.com");
	(void)mox_dns_name_is_subdomain(s, "example.com");
	char rev[MOX_DNS_REVERSE_MAX];
	(void)mox_dns_reverse_name(s, rev, sizeof(rev));
	free(s);
	return 0;
}
