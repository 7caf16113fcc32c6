/* A program that knows nothing of the mox-c source tree: it is compiled
 * against the INSTALLED headers and libraries, with nothing but what
 * `pkg-config --cflags --libs libmoxdns` (or find_package(mox)) gives. It
 * uses the public API end to end and exits non-zero on any surprise. */
#include <mox/dns.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	if (mox_dns_version() != MOX_DNS_VERSION_HEX ||
	    mox_core_version() != MOX_CORE_VERSION_HEX) {
		fprintf(stderr, "header/library version skew\n");
		return 1;
	}
	char ascii[MOX_DNS_NAME_MAX + 1];
	mox_errinfo info;
	if (mox_dns_name_to_ascii("Bücher.example", ascii, sizeof(ascii), &info) != MOX_OK ||
	    strcmp(ascii, "xn--bcher-kva.example") != 0) {
		fprintf(stderr, "idna: %s\n", info.msg);
		return 1;
	}
	mox_resolver *zone = NULL, *cache = NULL;
	static const char text[] = "xn--bcher-kva.example. 300 MX 10 mail.example.\n";
	if (mox_dns_zone_new(&zone, NULL) != MOX_OK ||
	    mox_dns_zone_load(zone, text, strlen(text), &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		return 1;
	}
	mox_dns_cache_opts co = {.size = sizeof(co), .owns_backend = true};
	if (mox_dns_cache_new(&cache, zone, &co) != MOX_OK)
		return 1;
	mox_dns_answer *a = NULL;
	if (mox_dns_lookup(cache, ascii, MOX_DNS_MX, &a) != MOX_OK ||
	    a->status != MOX_DNS_FOUND || a->nrr != 1 ||
	    strcmp(a->rr[0].u.mx.host, "mail.example") != 0) {
		fprintf(stderr, "lookup failed\n");
		return 1;
	}
	printf("consumer: %s MX %u %s (%s)\n", a->qname, a->rr[0].u.mx.preference,
	       a->rr[0].u.mx.host, mox_strerror(MOX_OK));
	mox_dns_answer_free(a);
	mox_resolver_free(cache);
	return 0;
}
