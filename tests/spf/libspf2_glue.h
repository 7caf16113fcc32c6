/* libspf2 (Debian libspf2-dev) as a peer for the cross-check and the
 * benchmark, pointed at the unbound fixture.
 *
 * libspf2 has no way to name a nameserver with a port: its resolv layer
 * calls res_ninit() per thread and reads /etc/resolv.conf. This glue
 * defines __res_ninit (the symbol glibc's res_ninit macro names) in the
 * test executable, so libspf2's call binds to it; it runs glibc's own and
 * then replaces the nameserver list with 127.0.0.1:port. libspf2's logic,
 * DNS layers and cache are otherwise untouched. Test code only. */
#ifndef MOX_TEST_LIBSPF2_GLUE_H
#define MOX_TEST_LIBSPF2_GLUE_H

#include <stdbool.h>
#include <stdint.h>

/* Nameserver port on 127.0.0.1 for every res_ninit from now on. */
void mox_test_libspf2_set_port(uint16_t port);

/* One MAIL FROM check with libspf2; returns the result word as
 * SPF_strresult gives it ("pass", "permerror", "(invalid)", ...). server
 * is an SPF_server_t. */
const char *mox_test_libspf2_check(void *server, const char *ip, const char *mailfrom,
				   const char *helo);

/* A new libspf2 server: cache true gives SPF_DNS_CACHE (its cache over
 * its resolv layer), false SPF_DNS_RESOLV. Free with
 * mox_test_libspf2_free. */
void *mox_test_libspf2_new(bool cache);
void mox_test_libspf2_free(void *server);

#endif
