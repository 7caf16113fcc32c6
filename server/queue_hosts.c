/* Where to deliver: the hosts of a recipient domain and their addresses.
 *
 * RFC 5321 section 5.1: look up MX records of the domain; deliver to them
 * in order of preference, in random order among equal preferences. No MX
 * records but an address record: the domain itself is the host (the
 * "implicit MX"). RFC 7505 section 3: a single MX record with the root as
 * host ("null MX") means the domain accepts no mail: a permanent failure.
 *
 * CNAMEs: the resolver follows a CNAME chain of the domain in the answer
 * (mox does the same by looking up the CNAME and starting over); the
 * domain at the end of the chain is the "effective domain", used for
 * MTA-STS (RFC 8461 section 4.1 looks up the policy of the recipient
 * domain; mox uses the effective domain because a name with a CNAME cannot
 * have its own _mta-sts record) and for DANE (RFC 7672 section 2.2.1:
 * only when every answer in the chain is DNSSEC-authenticated). Chains are
 * bounded by the resolver (MOX_DNS_CNAME_MAX); a loop is a permanent
 * failure.
 */
#include "queue.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s != 0 ? *s : 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int
cmp_pref(const void *a, const void *b)
{
	const queue_host *x = a, *y = b;
	return (int)x->preference - (int)y->preference;
}

/* Is host an address literal "[1.2.3.4]" or "[IPv6:2001:db8::1]"
 * (RFC 5321 section 4.1.3)? Writes the bare address to ip. */
static bool
address_literal(const char *domain, char *ip, size_t iplen)
{
	size_t n = strlen(domain);
	if (n < 3 || domain[0] != '[' || domain[n - 1] != ']')
		return false;
	const char *s = domain + 1;
	size_t len = n - 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
	}
	if (len >= iplen)
		return false;
	memcpy(ip, s, len);
	ip[len] = '\0';
	unsigned char tmp[16];
	return inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1;
}

/* Does name have an address record? OK, TEMPORARY or PERMANENT (none). */
static queue_result
host_exists(const mox_resolver *r, const char *name, bool *authentic, char *why,
            size_t whylen)
{
	static const mox_dns_type types[] = {MOX_DNS_AAAA, MOX_DNS_A};
	bool temp = false;
	*authentic = true;
	for (size_t i = 0; i < 2; i++) {
		mox_dns_answer *a = NULL;
		if (mox_dns_lookup(r, name, types[i], &a) != MOX_OK) {
			snprintf(why, whylen, "looking up %s: out of memory", name);
			return QUEUE_TEMPORARY;
		}
		*authentic = *authentic && a->authentic;
		mox_dns_status st = a->status;
		if (st == MOX_DNS_TEMPFAIL) {
			temp = true;
			snprintf(why, whylen, "looking up %s %s: %s",
			         mox_dns_type_name(types[i]), name,
			         a->why != NULL ? a->why : "temporary failure");
		}
		mox_dns_answer_free(a);
		if (st == MOX_DNS_FOUND)
			return QUEUE_OK;
	}
	if (temp)
		return QUEUE_TEMPORARY;
	snprintf(why, whylen, "recipient domain %s has no MX and no address record",
	         name);
	return QUEUE_PERMANENT;
}

queue_result
queue_hosts_gather(const mox_resolver *r, const char *domain, uint64_t rand_seed,
                   queue_hosts *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	char ip[64];
	if (address_literal(domain, ip, sizeof(ip))) {
		snprintf(out->host[0].name, sizeof(out->host[0].name), "%s", ip);
		out->host[0].is_ip = true;
		out->n = 1;
		snprintf(out->effective_domain, sizeof(out->effective_domain), "%s",
		         domain);
		return QUEUE_OK;
	}
	if (domain[0] == '[') {
		snprintf(why, whylen, "bad address literal %s", domain);
		return QUEUE_PERMANENT;
	}
	snprintf(out->effective_domain, sizeof(out->effective_domain), "%s", domain);

	mox_dns_answer *a = NULL;
	if (mox_dns_lookup(r, domain, MOX_DNS_MX, &a) != MOX_OK) {
		snprintf(why, whylen, "MX lookup for %s: out of memory", domain);
		return QUEUE_TEMPORARY;
	}
	queue_result res = QUEUE_OK;
	if (a->cname != NULL)
		snprintf(out->effective_domain, sizeof(out->effective_domain), "%s",
		         a->cname);
	out->authentic = a->authentic;
	switch (a->status) {
	case MOX_DNS_TEMPFAIL:
		snprintf(why, whylen, "MX lookup for %s: %s", domain,
		         a->why != NULL ? a->why : "temporary failure");
		res = QUEUE_TEMPORARY;
		break;
	case MOX_DNS_PERMFAIL:
		/* A CNAME loop or an invalid name: asking again will not help. */
		snprintf(why, whylen, "MX lookup for %s: %s", domain,
		         a->why != NULL ? a->why : "permanent failure");
		res = QUEUE_PERMANENT;
		break;
	case MOX_DNS_NXDOMAIN:
		snprintf(why, whylen, "recipient domain %s does not exist", domain);
		res = QUEUE_PERMANENT;
		break;
	case MOX_DNS_NODATA: {
		/* RFC 5321 section 5.1: no MX, the domain itself is the host,
		 * if it has an address. */
		bool auth = false;
		res = host_exists(r, out->effective_domain, &auth, why, whylen);
		if (res == QUEUE_OK) {
			snprintf(out->host[0].name, sizeof(out->host[0].name), "%s",
			         out->effective_domain);
			out->n = 1;
			out->implicit = true;
			out->authentic = out->authentic && auth;
		}
		break;
	}
	case MOX_DNS_FOUND:
		/* RFC 7505 section 3: one MX record with host "." */
		if (a->nrr == 1 && a->rr[0].u.mx.host[0] == '\0') {
			snprintf(why, whylen,
			         "recipient domain %s does not accept mail (null MX, "
			         "RFC 7505)",
			         domain);
			res = QUEUE_PERMANENT;
			break;
		}
		for (size_t i = 0; i < a->nrr && out->n < QUEUE_HOSTS_MAX; i++) {
			const char *h = a->rr[i].u.mx.host;
			/* RFC 7505 section 4.3: a null MX among others is
			 * a misconfiguration; skip it, use the rest. */
			if (h[0] == '\0')
				continue;
			snprintf(out->host[out->n].name, sizeof(out->host[0].name),
			         "%s", h);
			out->host[out->n].preference = a->rr[i].u.mx.preference;
			out->n++;
		}
		if (out->n == 0) {
			snprintf(why, whylen, "no usable MX host for %s", domain);
			res = QUEUE_PERMANENT;
			break;
		}
		/* Shuffle, then a stable order by preference keeps equal
		 * preferences random (RFC 5321 section 5.1). qsort is not
		 * stable, so sort by preference with the shuffled index as a
		 * tie breaker via insertion sort (n is small). */
		uint64_t seed = rand_seed;
		for (size_t i = out->n; i > 1; i--) {
			size_t j = (size_t)(xorshift(&seed) % i);
			queue_host t = out->host[i - 1];
			out->host[i - 1] = out->host[j];
			out->host[j] = t;
		}
		for (size_t i = 1; i < out->n; i++) {
			queue_host t = out->host[i];
			size_t j = i;
			while (j > 0 && cmp_pref(&out->host[j - 1], &t) > 0) {
				out->host[j] = out->host[j - 1];
				j--;
			}
			out->host[j] = t;
		}
		break;
	}
	mox_dns_answer_free(a);
	return res;
}

queue_result
queue_hosts_ips(const mox_resolver *r, const queue_host *h, const char *prev_ip,
                queue_ips *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (h->is_ip) {
		snprintf(out->ip[0].text, sizeof(out->ip[0].text), "%s", h->name);
		out->ip[0].v6 = strchr(h->name, ':') != NULL;
		out->n = 1;
		out->authentic = false;
		return QUEUE_OK;
	}
	static const mox_dns_type types[] = {MOX_DNS_AAAA, MOX_DNS_A};
	bool temp = false, have4 = false, have6 = false;
	out->authentic = true;
	for (size_t t = 0; t < 2; t++) {
		mox_dns_answer *a = NULL;
		if (mox_dns_lookup(r, h->name, types[t], &a) != MOX_OK) {
			snprintf(why, whylen, "looking up %s: out of memory", h->name);
			return QUEUE_TEMPORARY;
		}
		out->authentic = out->authentic && a->authentic;
		if (a->status == MOX_DNS_TEMPFAIL) {
			temp = true;
			snprintf(why, whylen, "looking up %s %s: %s",
			         mox_dns_type_name(types[t]), h->name,
			         a->why != NULL ? a->why : "temporary failure");
		}
		for (size_t i = 0;
		     a->status == MOX_DNS_FOUND && i < a->nrr && out->n < QUEUE_IPS_MAX;
		     i++) {
			queue_ip *ip = &out->ip[out->n];
			if (a->rr[i].type == MOX_DNS_AAAA) {
				inet_ntop(AF_INET6, a->rr[i].u.aaaa, ip->text,
				          sizeof(ip->text));
				ip->v6 = true;
				have6 = true;
			} else if (a->rr[i].type == MOX_DNS_A) {
				inet_ntop(AF_INET, a->rr[i].u.a, ip->text,
				          sizeof(ip->text));
				have4 = true;
			} else {
				continue;
			}
			out->n++;
		}
		mox_dns_answer_free(a);
	}
	out->dualstack = have4 && have6;
	if (out->n == 0) {
		if (!temp)
			snprintf(why, whylen, "host %s has no address", h->name);
		/* mox: a host without address is a temporary problem for this
		 * host; the caller tries the next MX. */
		return QUEUE_TEMPORARY;
	}
	/* mox: after an attempt over one address family, try the other one
	 * first (our address may be on a block list there). Stable. */
	if (prev_ip != NULL && prev_ip[0] != '\0' && out->dualstack) {
		bool prev6 = strchr(prev_ip, ':') != NULL;
		queue_ips sorted = *out;
		size_t k = 0;
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < out->n; i++)
				if ((out->ip[i].v6 != prev6) == (pass == 0))
					sorted.ip[k++] = out->ip[i];
		*out = sorted;
	}
	return QUEUE_OK;
}
