/* Zone and cases shared by the unit test (in-memory zone) and the
 * integration test (unbound). Zone text is an RFC 1035 master file that
 * both the zone backend and unbound read. */
#ifndef DNSBL_CASES_H
#define DNSBL_CASES_H

#include <mox/dnsbl.h>

static const char dnsbl_zone[] =
	"$ORIGIN bl.test.\n"
	"$TTL 300\n"
	"@ IN SOA ns.bl.test. hostmaster.bl.test. 1 3600 600 86400 60\n"
	"@ IN NS ns.bl.test.\n"
	"ns IN A 127.0.0.1\n"
	/* RFC 5782 section 5: the test entries. */
	"2.0.0.127 IN A 127.0.0.2\n"
	"2.0.0.127 IN TXT \"test entry\"\n"
	/* 192.0.2.1 listed with two reasons. */
	"1.2.0.192 IN A 127.0.0.4\n"
	"1.2.0.192 IN TXT \"listed: see https://bl.test/192.0.2.1\"\n"
	"1.2.0.192 IN TXT \"second reason\"\n"
	/* 192.0.2.2 listed without TXT. */
	"2.2.0.192 IN A 127.0.0.2\n"
	/* 192.0.2.3 answers outside 127/8: not a listing. */
	"3.2.0.192 IN A 192.0.2.99\n"
	/* 2001:db8::1 listed (nibbles, section 2.4). */
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.2\n"
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN TXT \"v6\"\n";

/* A zone that lists everything (broken), and one that lists nothing. */
static const char dnsbl_zone_all[] = "$ORIGIN all.test.\n"
				     "@ 300 IN SOA ns.bl.test. h.bl.test. 1 3600 600 86400 60\n"
				     "* 300 IN A 127.0.0.2\n";

static const struct {
	const char *ip;
	mox_dnsbl_status status;
	const char *explanation;
	uint8_t code;
} dnsbl_cases[] = {
	{"127.0.0.2", MOX_DNSBL_FAIL, "test entry", 2},
	{"127.0.0.1", MOX_DNSBL_PASS, "", 0},
	{"192.0.2.1", MOX_DNSBL_FAIL, "listed: see https://bl.test/192.0.2.1; second reason", 4},
	{"192.0.2.2", MOX_DNSBL_FAIL, "", 2},
	{"192.0.2.3", MOX_DNSBL_PASS, "", 0},
	{"198.51.100.7", MOX_DNSBL_PASS, "", 0},
	{"2001:db8::1", MOX_DNSBL_FAIL, "v6", 2},
	{"2001:db8::2", MOX_DNSBL_PASS, "", 0},
};

#endif
