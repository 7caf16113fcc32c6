/* Fuzz the ldns backend's response handling: bytes ->
 * mox__dns_ldns_wire2pkt (our wire check, then ldns_wire2pkt) ->
 * mox__dns_ldns_answer_from_pkt for the question's own type and a few
 * others, then check the answer's invariants. Hostile nameservers control
 * every byte here; leaks count as failures (LeakSanitizer), including
 * ldns' own. Seeds in corpus/packet/ are real unbound responses (signed
 * zone: RRSIG/NSEC included, CNAME chain, NXDOMAIN, NODATA, SERVFAIL,
 * 2000-byte TXT over TCP, TLSA, SOA, null MX) plus hand-made hostile ones
 * (empty rdata, CNAME loop, TC=1, the several-TSIG packet on which
 * ldns_wire2pkt 1.8.3 leaks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resolver_ldns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const mox_dns_answer *a, mox_dns_type type)
{
	if (a->qtype != type || a->qname == NULL)
		abort();
	if (a->status != MOX_DNS_FOUND && a->nrr != 0)
		abort();
	if (a->status == MOX_DNS_FOUND && a->nrr == 0)
		abort();
	if ((a->status == MOX_DNS_TEMPFAIL || a->status == MOX_DNS_PERMFAIL) &&
	    (a->why == NULL || a->authentic))
		abort();
	for (size_t i = 0; i < a->nrr; i++) {
		const mox_dns_rr *rr = &a->rr[i];
		if (rr->type != type || rr->name == NULL)
			abort();
		if (rr->type == MOX_DNS_TXT) {
			size_t total = 0;
			for (size_t j = 0; j < rr->u.txt.nstrings; j++) {
				if (rr->u.txt.lens[j] > 255)
					abort();
				total += rr->u.txt.lens[j];
			}
			if (total != rr->u.txt.len || rr->u.txt.data[total] != '\0')
				abort();
		}
		if (rr->type == MOX_DNS_MX && rr->u.mx.host == NULL)
			abort();
	}
}

static void
convert(const ldns_pkt *p, const char *qname, mox_dns_type type)
{
	mox_dns_answer *a = NULL;
	if (mox__dns_ldns_answer_from_pkt(NULL, qname, type, p, &a) != MOX_OK)
		return;
	check(a, type);
	mox_dns_answer_free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ldns_pkt *p = NULL;
	if (mox__dns_ldns_wire2pkt(&p, data, size) != LDNS_STATUS_OK)
		return 0;
	/* Ask for the question's name, so the question check passes and the
	 * answer section gets read, and for a name that matches nothing. */
	char *qname = NULL;
	mox_dns_type qtype = MOX_DNS_A;
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	if (q != NULL) {
		qname = ldns_rdf2str(ldns_rr_owner(q));
		qtype = (mox_dns_type)ldns_rr_get_type(q);
	}
	static const mox_dns_type types[] = {MOX_DNS_A,     MOX_DNS_TXT,  MOX_DNS_MX,
	                                     MOX_DNS_CNAME, MOX_DNS_TLSA, MOX_DNS_SOA};
	const char *name = qname != NULL ? qname : "x.example";
	if (mox_dns_type_name(qtype) != NULL)
		convert(p, name, qtype);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i] != qtype)
			convert(p, name, types[i]);
	convert(p, "x.example", MOX_DNS_TXT);
	free(qname);
	ldns_pkt_free(p);
	return 0;
}
