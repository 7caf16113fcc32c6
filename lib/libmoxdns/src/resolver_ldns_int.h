/* Internals of the ldns backend shared with its tests and fuzz target;
 * never installed. */
#ifndef MOX_DNS_RESOLVER_LDNS_INT_H
#define MOX_DNS_RESOLVER_LDNS_INT_H

#include "dns_int.h"

#include <ldns/ldns.h>

/* Convert a DNS response packet to an answer for qname/qtype, as the ldns
 * backend does for every response it receives.
 *
 * The packet is checked first: it must be a response (QR=1) to a QUERY,
 * not truncated, and its question (if present) must be qname/qtype/IN.
 * The RCODE then decides: NOERROR and NXDOMAIN go on; SERVFAIL and REFUSED
 * give TEMPFAIL, FORMERR, NOTIMP and every other RCODE PERMFAIL. CNAME
 * records in the answer section are followed from qname (RFC 1034 section
 * 3.6.2; at most MOX_DNS_CNAME_MAX, a loop is PERMFAIL), and the records
 * of qtype owned by the final name are kept: FOUND, or NODATA when there
 * are none. NXDOMAIN and NODATA get neg_ttl from the SOA in the authority
 * section (RFC 2308 section 5). A record of qtype whose rdata does not have
 * the shape of its type (a hostile server) makes the answer TEMPFAIL
 * "malformed answer"; nothing in the packet is trusted to be well formed.
 *
 * \param[in] alloc allocator for the answer; NULL: libc.
 * \param[in] qname the name asked for (text, trailing dot optional).
 * \param[in] qtype the type asked for.
 * \param[in] pkt the response, as ldns_wire2pkt made it.
 * \param[out] answer_out the answer (free with mox_dns_answer_free); NULL
 *             on error.
 * \return MOX_OK (check the answer's status), MOX_ENOMEM, or MOX_EINVAL
 *         for a NULL argument.
 * Thread-safety: any thread (pkt is only read). */
mox_err mox__dns_ldns_answer_from_pkt(const mox_allocator *alloc, const char *qname,
                                      mox_dns_type qtype, const ldns_pkt *pkt,
                                      mox_dns_answer **answer_out);

/* Parse a response in wire format (len bytes) into *pkt_out, as the
 * backend does with what it receives: the message is walked first and
 * refused (LDNS_STATUS_PACKET_OVERFLOW) if a record runs past its end or
 * it carries a TSIG record (which ldns_wire2pkt 1.8.3 leaks when there are
 * several), then parsed by ldns_wire2pkt.
 * \return LDNS_STATUS_OK with *pkt_out set (free with ldns_pkt_free), or
 *         an ldns error with *pkt_out NULL.
 * Thread-safety: any thread. */
ldns_status mox__dns_ldns_wire2pkt(ldns_pkt **pkt_out, const uint8_t *wire, size_t len);

#endif
