/* A program that knows nothing of the mox-c source tree: compiled against
 * the INSTALLED libmoxspf with nothing but `pkg-config --cflags --libs
 * libmoxspf` (or find_package(mox COMPONENTS spf)). It parses a record,
 * evaluates a policy from an in-memory zone and writes the Received-SPF
 * header, and exits non-zero on any surprise. */
#include <mox/spf.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
	if (mox_spf_version() != MOX_SPF_VERSION_HEX ||
	    mox_dns_version() != MOX_DNS_VERSION_HEX) {
		fprintf(stderr, "header/library version skew\n");
		return 1;
	}
	mox_spf_record *rec = NULL;
	mox_errinfo info;
	static const char bad[] = "v=spf1 ipv4:192.0.2.1 -all";
	if (mox_spf_record_parse(bad, strlen(bad), NULL, &rec, &info) != MOX_ESYNTAX) {
		fprintf(stderr, "bad record accepted\n");
		return 1;
	}
	printf("consumer: parse error as expected: %s\n", info.msg);

	mox_resolver *zone = NULL;
	static const char text[] =
		"example.org. TXT \"v=spf1 include:_spf.example.org -all\"\n"
		"_spf.example.org. TXT \"v=spf1 ip4:192.0.2.0/24 ~all\"\n";
	if (mox_dns_zone_new(&zone, NULL) != MOX_OK ||
	    mox_dns_zone_load(zone, text, strlen(text), &info) != MOX_OK) {
		fprintf(stderr, "zone: %s\n", info.msg);
		return 1;
	}
	mox_spf_opts o = {.size = sizeof(o), .resolver = zone, .receiver = "mx.example.net"};
	mox_spf *spf = NULL;
	if (mox_spf_new(&spf, &o) != MOX_OK)
		return 1;
	mox_spf_request req = {.size = sizeof(req),
			       .ip = "192.0.2.7",
			       .mailfrom = "user@example.org",
			       .helo = "mail.example.org"};
	mox_spf_outcome *out = NULL;
	if (mox_spf_check(spf, &req, &out) != MOX_OK || out->result != MOX_SPF_PASS) {
		fprintf(stderr, "check did not pass\n");
		return 1;
	}
	mox_buf hdr = MOX_BUF_INIT;
	if (mox_spf_received_header(out, &hdr) != MOX_OK ||
	    strncmp((const char *)hdr.data, "Received-SPF: pass ", 19) != 0) {
		fprintf(stderr, "bad header\n");
		return 1;
	}
	printf("consumer: %s", (const char *)hdr.data);
	mox_buf_free(&hdr);
	mox_spf_outcome_free(out);
	mox_spf_free(spf);
	mox_resolver_free(zone);
	return 0;
}
