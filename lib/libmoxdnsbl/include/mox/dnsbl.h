/* mox/dnsbl.h -- DNS blocklists and allowlists, RFC 5782.
 *
 * A DNSBL lists IP addresses under a zone: the address's octets (IPv4) or
 * nibbles (IPv6) in reverse order, prepended to the zone name, have an A
 * record in 127.0.0.0/8 when listed (RFC 5782 section 2.1, 2.4), and
 * usually a TXT record explaining why. A zone is checked for health by
 * asking for 127.0.0.2 (must be listed) and 127.0.0.1 (must not be listed),
 * section 5.
 *
 * In scope: the lookups and their interpretation through a mox_resolver.
 * Out of scope: domain-based lists (RHSBL, section 2.2), return-code
 * meanings of individual lists, caching (wrap the resolver in the libmoxdns
 * cache).
 */
#ifndef MOX_DNSBL_H
#define MOX_DNSBL_H

#include <mox/core.h>
#include <mox/dns.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOX_DNSBL_VERSION_MAJOR 0
#define MOX_DNSBL_VERSION_MINOR 1
#define MOX_DNSBL_VERSION_PATCH 0
#define MOX_DNSBL_VERSION_HEX                                                  \
	((MOX_DNSBL_VERSION_MAJOR << 16) | (MOX_DNSBL_VERSION_MINOR << 8) |       \
	 MOX_DNSBL_VERSION_PATCH)

/* Thread-safety: any thread. */
MOX_API unsigned mox_dnsbl_version(void);

/* The outcome of a check (an outcome, not an error). */
typedef enum mox_dnsbl_status {
	MOX_DNSBL_PASS = 0, /* not listed (NXDOMAIN or no A record) */
	MOX_DNSBL_FAIL = 1, /* listed */
	MOX_DNSBL_TEMPERROR = 2, /* lookup failed: SERVFAIL, timeout */
} mox_dnsbl_status;

/* "pass", "fail", "temperror". Thread-safety: any thread. */
MOX_API const char *mox_dnsbl_status_name(mox_dnsbl_status status);

typedef struct mox_dnsbl_result {
	mox_dnsbl_status status;
	/* For FAIL: the listing's A record (e.g. 127.0.0.2) and the TXT
	 * explanation, concatenated strings, "" when the zone has none.
	 * For TEMPERROR: what went wrong. NUL-terminated. */
	uint8_t code[4];
	char explanation[512];
} mox_dnsbl_result;

/* Check ip (IPv4 dotted quad or IPv6 text) against zone ("zen.example").
 * Only answers in 127.0.0.0/8 count as listed (RFC 5782 section 2.1;
 * anything else is a misconfigured list or a hijacked name and is treated
 * as not listed). The TXT explanation is looked up only when listed.
 * \return MOX_OK with *result_out filled, MOX_EINVAL for an address or
 * zone that is not valid, MOX_ENOMEM.
 * Thread-safety: any thread (as the resolver). */
MOX_API mox_err mox_dnsbl_lookup(const mox_resolver *resolver, const char *zone,
				 const char *ip, mox_dnsbl_result *result_out);

/* Health check of a zone (RFC 5782 section 5): MOX_OK when 127.0.0.2 is
 * listed and 127.0.0.1 is not; MOX_ENOTFOUND (with why in *info) when the
 * zone does not behave, MOX_EDNS when a lookup failed.
 * Thread-safety: any thread. */
MOX_API mox_err mox_dnsbl_check_health(const mox_resolver *resolver,
				       const char *zone, mox_errinfo *info);

#ifdef __cplusplus
}
#endif
#endif
