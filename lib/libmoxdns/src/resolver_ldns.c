/* The ldns backend: queries to recursive nameservers over UDP and TCP.
 *
 * How this works:
 *   - Nameservers come from opts, else MOX_RESOLVER, else resolv.conf, and
 *     are parsed once in mox_dns_ldns_new into socket addresses. After
 *     that the resolver is immutable: a lookup keeps all its state in
 *     locals, so any number of threads may look up at once, unlocked.
 *   - We use ldns for packets (building the query, parsing the response)
 *     and for its TCP helper (ldns_tcp_send: one fresh socket per try,
 *     waits bounded by timeout_ms with poll(2)), but not
 *     ldns_resolver/ldns_send. Those share mutable state (RTT marks, the
 *     usevc switch) between calls, and ldns_send parses whatever arrives
 *     with ldns_wire2pkt before we can look at it: ldns 1.8.3 leaks memory
 *     on some hostile packets (every TSIG record after the first in the
 *     additional section is dropped without being freed; found by
 *     fuzz_packet), so every response first passes wire_check below.
 *   - The query: RD set, an ID from getrandom(2) (ldns' own reseeds
 *     random() from the clock), and EDNS0 with the DO bit (RFC 3225
 *     section 3) and a 1232-byte UDP size unless no_edns, so a validating
 *     resolver sets AD (RFC 4035 section 3.2.3).
 *   - UDP is our own udp_exchange: a fresh connected socket per try, so
 *     only the nameserver's datagrams are read, and an ICMP port
 *     unreachable (nothing listening, ECONNREFUSED) ends the try at once
 *     instead of after the timeout.
 *   - Each nameserver is asked in order with `tries` UDP tries of
 *     timeout_ms each, until one answers with something other than
 *     SERVFAIL or REFUSED (those may be that server's problem; the last
 *     one is used if all fail). A datagram with another ID is not ours
 *     and counts as a failed try.
 *   - TCP on truncation (RFC 1035 section 4.2.1, RFC 7766 section 5): a
 *     TC=1 response is asked again over TCP, with the same query (ldns'
 *     own fallback would first re-send over UDP with EDNS0 added, which
 *     no_edns forbids). With no_tcp_fallback a TC=1 response is a TEMPFAIL
 *     ("truncated response"), never a silently short answer.
 *   - The conversion of the response into a mox_dns_answer
 *     (mox__dns_ldns_answer_from_pkt) checks the question and reads the
 *     records defensively: rdata of the wrong shape is TEMPFAIL "malformed
 *     answer", never a crash.
 *
 * Limits: NS_MAX nameservers, MOX_DNS_CNAME_MAX CNAME hops, tries <= 255,
 * timeout_ms <= TIMEOUT_MS_MAX.
 */
#include "resolver_ldns_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Nameservers per resolver: resolv.conf allows 3 (MAXNS); leave room. */
#define NS_MAX 16
/* EDNS0 UDP payload size we advertise: DNS Flag Day 2020's value, which
 * avoids IP fragmentation. */
#define EDNS_UDP_SIZE 1232
#define TIMEOUT_MS_DEFAULT 2000
/* ldns waits with poll(2), whose timeout is an int of milliseconds. */
#define TIMEOUT_MS_MAX 600000
#define TRIES_DEFAULT 2
#define TRIES_MAX 255
#define RESOLV_CONF_DEFAULT "/etc/resolv.conf"
/* Longest presentation form of a wire name: 255 octets, each possibly
 * escaped as \DDD (4 characters), plus NUL. */
#define NAME_TEXT_MAX 1024

typedef struct ns_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	char text[64]; /* "192.0.2.1:53" or "[2001:db8::1]:53" */
	struct sockaddr_storage sa;
	socklen_t salen;
} ns_addr;

/* Immutable once made. */
typedef struct ldns_ctx {
	const mox_allocator *alloc;
	size_t nns;
	ns_addr ns[NS_MAX];
	unsigned timeout_ms;
	unsigned tries;
	bool tcp_fallback;
	bool edns;
} ldns_ctx;

/* ---- nameserver text ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
parse_port(const char *s, size_t len, uint16_t *port_out)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port_out = (uint16_t)v;
	return true;
}

/* Fill in the text form and the socket address of a parsed nameserver. */
static void
ns_finish(ns_addr *ns)
{
	char ip[INET6_ADDRSTRLEN];
	if (inet_ntop(ns->family, ns->addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	memset(&ns->sa, 0, sizeof(ns->sa));
	if (ns->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ns->sa;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ns->port);
		memcpy(&sin6->sin6_addr, ns->addr, 16);
		ns->salen = sizeof(*sin6);
		snprintf(ns->text, sizeof(ns->text), "[%s]:%u", ip, (unsigned)ns->port);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ns->sa;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ns->port);
		memcpy(&sin->sin_addr, ns->addr, 4);
		ns->salen = sizeof(*sin);
		snprintf(ns->text, sizeof(ns->text), "%s:%u", ip, (unsigned)ns->port);
	}
}

/* Parse one address: "ip", "ip:port", "[ipv6]:port", "[ipv6]" or a bare
 * IPv6 address, len bytes of s. */
static bool
parse_one_ns(const char *s, size_t len, ns_addr *ns)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *host = s, *port = NULL;
	size_t hostlen = len, portlen = 0, colons = 0;

	memset(ns, 0, sizeof(*ns));
	ns->port = 53;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colons++;
	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (end == NULL)
			return false;
		host = s + 1;
		hostlen = (size_t)(end - host);
		size_t rest = len - (size_t)(end - s) - 1;
		if (rest > 0) {
			if (end[1] != ':')
				return false;
			port = end + 2;
			portlen = rest - 1;
		}
	} else if (colons == 1) {
		const char *c = memchr(s, ':', len);
		hostlen = (size_t)(c - s);
		port = c + 1;
		portlen = len - hostlen - 1;
	}
	if (hostlen == 0 || hostlen >= sizeof(ip))
		return false;
	memcpy(ip, host, hostlen);
	ip[hostlen] = '\0';
	if (port != NULL && !parse_port(port, portlen, &ns->port))
		return false;
	if (inet_pton(AF_INET, ip, ns->addr) == 1) {
		/* "[192.0.2.1]" is not an IPv6 literal. */
		if (host != s)
			return false;
		ns->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, ns->addr) == 1) {
		/* A bare IPv6 address takes no port: "::1:53" is an address. */
		ns->family = AF_INET6;
	} else {
		return false;
	}
	ns_finish(ns);
	return true;
}

/* Parse a comma-separated list into c->ns. what names the source for
 * messages ("nameservers", "MOX_RESOLVER"). */
static mox_err
parse_ns_list(ldns_ctx *c, const char *text, const char *what, mox_errinfo *info)
{
	size_t off = 0, n = strlen(text);
	while (off <= n) {
		size_t start = off, end;
		const char *comma = memchr(text + off, ',', n - off);
		end = comma != NULL ? (size_t)(comma - text) : n;
		off = end + 1;
		while (start < end && is_space(text[start]))
			start++;
		while (end > start && is_space(text[end - 1]))
			end--;
		if (start == end)
			return mox_errinfo_set(info, MOX_EINVAL, start,
			                       "%s: empty entry at %zu", what, start);
		if (c->nns == NS_MAX)
			return mox_errinfo_set(info, MOX_EINVAL, start,
			                       "%s: more than %d nameservers", what,
			                       NS_MAX);
		if (!parse_one_ns(text + start, end - start, &c->ns[c->nns]))
			return mox_errinfo_set(
			    info, MOX_EINVAL, start,
			    "%s: bad nameserver '%.*s' at %zu "
			    "(want ip, ip:port or [ipv6]:port)",
			    what, (int)(end - start > 64 ? 64 : end - start),
			    text + start, start);
		c->nns++;
	}
	return MOX_OK;
}

/* resolv.conf(5): "nameserver ADDR" lines; port 53. Other keywords,
 * comments and addresses we cannot use (a scoped IPv6 address, which
 * ldns cannot carry) are skipped, as the libc resolver skips bad lines. */
static mox_err
parse_resolv_conf(ldns_ctx *c, const char *path, mox_errinfo *info)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		char msg[128];
		if (strerror_r(e, msg, sizeof(msg)) != 0)
			snprintf(msg, sizeof(msg), "errno %d", e);
		return mox_errinfo_set(info, MOX_EINVAL, 0, "cannot read %s: %s", path,
		                       msg);
	}
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
			/* Skip the rest of an overlong line. */
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		char *p = line;
		while (is_space(*p))
			p++;
		if (strncmp(p, "nameserver", 10) != 0 || !is_space(p[10]))
			continue;
		p += 10;
		while (is_space(*p))
			p++;
		size_t alen = 0;
		while (p[alen] != '\0' && !is_space(p[alen]) && p[alen] != '#' &&
		       p[alen] != ';')
			alen++;
		if (alen == 0 || c->nns == NS_MAX)
			continue;
		/* resolv.conf addresses take no port; a colon means IPv6. */
		char addr[INET6_ADDRSTRLEN + 1];
		if (alen >= sizeof(addr))
			continue;
		memcpy(addr, p, alen);
		addr[alen] = '\0';
		ns_addr *ns = &c->ns[c->nns];
		memset(ns, 0, sizeof(*ns));
		ns->port = 53;
		if (inet_pton(AF_INET, addr, ns->addr) == 1)
			ns->family = AF_INET;
		else if (inet_pton(AF_INET6, addr, ns->addr) == 1)
			ns->family = AF_INET6;
		else
			continue;
		ns_finish(ns);
		c->nns++;
	}
	fclose(f);
	if (c->nns == 0)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "no nameserver in %s",
		                       path);
	return MOX_OK;
}

/* ---- reading responses ---- */

static char
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c;
}

/* Whether two wire-format names are equal, ASCII case-insensitive. Length
 * octets are below 64, so folding every byte is safe. */
static bool
dname_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	if (a == NULL || b == NULL || ldns_rdf_get_type(a) != LDNS_RDF_TYPE_DNAME ||
	    ldns_rdf_get_type(b) != LDNS_RDF_TYPE_DNAME)
		return false;
	size_t n = ldns_rdf_size(a);
	if (n != ldns_rdf_size(b))
		return false;
	const uint8_t *x = ldns_rdf_data(a), *y = ldns_rdf_data(b);
	for (size_t i = 0; i < n; i++)
		if (lower(x[i]) != lower(y[i]))
			return false;
	return true;
}

/* Write a wire-format name as text: lower case, labels joined by '.', no
 * trailing dot, the root as ".". Bytes outside printable ASCII, and '.'
 * and '\' inside labels, are written \DDD (RFC 1035 section 5.1), so the
 * text never ends in a bare '.' that normalizing would strip. Returns
 * false for a rdf that is not a well-formed name. */
static bool
dname_text(const ldns_rdf *rdf, char *out, size_t out_size)
{
	if (rdf == NULL || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return false;
	const uint8_t *d = ldns_rdf_data(rdf);
	size_t n = ldns_rdf_size(rdf), pos = 0, o = 0;
	if (d == NULL || n == 0 || n > 255 || out_size < 2)
		return false;
	while (pos < n) {
		size_t len = d[pos++];
		if (len == 0)
			break;
		if (len > 63 || len > n - pos)
			return false;
		if (o > 0)
			out[o++] = '.';
		for (size_t i = 0; i < len; i++) {
			uint8_t ch = d[pos + i];
			if (o + 5 >= out_size)
				return false;
			if (ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\') {
				out[o++] = lower(ch);
			} else {
				snprintf(out + o, out_size - o, "\\%03u", ch);
				o += 4;
			}
		}
		pos += len;
	}
	/* The name must end exactly at the root label. */
	if (pos != n || d[n - 1] != 0)
		return false;
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return true;
}

static bool
rdf_is(const ldns_rdf *rdf, ldns_rdf_type type, size_t size)
{
	return rdf != NULL && ldns_rdf_get_type(rdf) == type &&
	       (size == 0 || ldns_rdf_size(rdf) == size) && ldns_rdf_data(rdf) != NULL;
}

enum { RR_OK, RR_MALFORMED, RR_NOMEM };

/* Set field to the normalized text of a name rdf. */
static int
set_host(const mox_allocator *alloc, char **field, const ldns_rdf *rdf)
{
	char text[NAME_TEXT_MAX];
	if (!dname_text(rdf, text, sizeof(text)))
		return RR_MALFORMED;
	return mox__dns_rr_set_name(alloc, field, text) == MOX_OK ? RR_OK : RR_NOMEM;
}

static int
set_txt(const mox_allocator *alloc, mox_dns_rr *rr, const ldns_rr *src)
{
	size_t n = ldns_rr_rd_count(src);
	const uint8_t **strings = NULL;
	size_t *lens = NULL;
	int rc = RR_NOMEM;

	for (size_t i = 0; i < n; i++) {
		const ldns_rdf *f = ldns_rr_rdf(src, i);
		/* A character-string is a length octet and that many bytes
		 * (RFC 1035 section 3.3). */
		if (!rdf_is(f, LDNS_RDF_TYPE_STR, 0) || ldns_rdf_size(f) < 1 ||
		    ldns_rdf_data(f)[0] != ldns_rdf_size(f) - 1)
			return RR_MALFORMED;
	}
	if (n > 0) {
		strings = mox_mem_calloc(alloc, n, sizeof(*strings));
		lens = mox_mem_calloc(alloc, n, sizeof(*lens));
		if (strings == NULL || lens == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			const ldns_rdf *f = ldns_rr_rdf(src, i);
			strings[i] = ldns_rdf_data(f) + 1;
			lens[i] = ldns_rdf_size(f) - 1;
		}
	}
	rc = mox__dns_rr_set_txt(alloc, rr, n, (const uint8_t *const *)strings, lens) ==
	             MOX_OK
	         ? RR_OK
	         : RR_NOMEM;
out:
	mox_mem_free(alloc, strings);
	mox_mem_free(alloc, lens);
	return rc;
}

/* Fill rr (already added to the answer, so freed with it whatever
 * happens) from the rdata of src. */
static int
set_rdata(const mox_allocator *alloc, mox_dns_rr *rr, const ldns_rr *src)
{
	size_t n = ldns_rr_rd_count(src);
	const ldns_rdf *f0 = ldns_rr_rdf(src, 0), *f1 = ldns_rr_rdf(src, 1);

	switch (rr->type) {
	case MOX_DNS_A:
		if (n != 1 || !rdf_is(f0, LDNS_RDF_TYPE_A, 4))
			return RR_MALFORMED;
		memcpy(rr->u.a, ldns_rdf_data(f0), 4);
		return RR_OK;
	case MOX_DNS_AAAA:
		if (n != 1 || !rdf_is(f0, LDNS_RDF_TYPE_AAAA, 16))
			return RR_MALFORMED;
		memcpy(rr->u.aaaa, ldns_rdf_data(f0), 16);
		return RR_OK;
	case MOX_DNS_MX:
		/* RFC 1035 section 3.3.9; "." is the null MX (RFC 7505). */
		if (n != 2 || !rdf_is(f0, LDNS_RDF_TYPE_INT16, 2))
			return RR_MALFORMED;
		rr->u.mx.preference = ldns_rdf2native_int16(f0);
		return set_host(alloc, &rr->u.mx.host, f1);
	case MOX_DNS_CNAME:
	case MOX_DNS_PTR:
	case MOX_DNS_NS:
		if (n != 1)
			return RR_MALFORMED;
		return set_host(alloc, &rr->u.host, f0);
	case MOX_DNS_TXT:
		return set_txt(alloc, rr, src);
	case MOX_DNS_TLSA: {
		/* RFC 6698 section 2.1: three octets, then the association
		 * data (which may be empty, so ldns may have no fourth rdf). */
		const ldns_rdf *f2 = ldns_rr_rdf(src, 2), *f3 = ldns_rr_rdf(src, 3);
		if ((n != 3 && n != 4) || f0 == NULL || f1 == NULL || f2 == NULL ||
		    ldns_rdf_size(f0) != 1 || ldns_rdf_size(f1) != 1 ||
		    ldns_rdf_size(f2) != 1 || ldns_rdf_data(f0) == NULL ||
		    ldns_rdf_data(f1) == NULL || ldns_rdf_data(f2) == NULL)
			return RR_MALFORMED;
		if (n == 4 && (f3 == NULL ||
		               (ldns_rdf_size(f3) > 0 && ldns_rdf_data(f3) == NULL)))
			return RR_MALFORMED;
		rr->u.tlsa.usage = ldns_rdf_data(f0)[0];
		rr->u.tlsa.selector = ldns_rdf_data(f1)[0];
		rr->u.tlsa.matching_type = ldns_rdf_data(f2)[0];
		return mox__dns_rr_set_tlsa_data(
		           alloc, rr, n == 4 ? ldns_rdf_data(f3) : NULL,
		           n == 4 ? ldns_rdf_size(f3) : 0) == MOX_OK
		           ? RR_OK
		           : RR_NOMEM;
	}
	case MOX_DNS_SOA: {
		/* RFC 1035 section 3.3.13: two names, five 32-bit numbers. */
		if (n != 7)
			return RR_MALFORMED;
		uint32_t v[5];
		for (size_t i = 0; i < 5; i++) {
			const ldns_rdf *f = ldns_rr_rdf(src, 2 + i);
			if (f == NULL || ldns_rdf_size(f) != 4 ||
			    ldns_rdf_data(f) == NULL)
				return RR_MALFORMED;
			v[i] = ldns_read_uint32(ldns_rdf_data(f));
		}
		rr->u.soa.serial = v[0];
		rr->u.soa.refresh = v[1];
		rr->u.soa.retry = v[2];
		rr->u.soa.expire = v[3];
		rr->u.soa.minimum = v[4];
		int rc = set_host(alloc, &rr->u.soa.mname, f0);
		if (rc != RR_OK)
			return rc;
		return set_host(alloc, &rr->u.soa.rname, f1);
	}
	}
	return RR_MALFORMED;
}

static bool
type_known(mox_dns_type t)
{
	return mox_dns_type_name(t) != NULL;
}

static const char *
rcode_name(unsigned rcode)
{
	/* RFC 1035 section 4.1.1, RFC 6895 section 2.3. */
	static const char *const names[] = {
	    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	return NULL;
}

/* Negative caching TTL from the SOA in the authority section: the smaller
 * of the SOA record's TTL and its MINIMUM field (RFC 2308 section 5). A
 * malformed SOA is ignored (it only shortens caching). */
static uint32_t
neg_ttl(const ldns_pkt *pkt, bool *has_soa)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);
	*has_soa = false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (rr == NULL || ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		*has_soa = true;
		const ldns_rdf *min = ldns_rr_rdf(rr, 6);
		if (ldns_rr_rd_count(rr) != 7 || min == NULL ||
		    ldns_rdf_size(min) != 4 || ldns_rdf_data(min) == NULL)
			continue;
		uint32_t m = ldns_read_uint32(ldns_rdf_data(min));
		uint32_t t = ldns_rr_ttl(rr);
		return t < m ? t : m;
	}
	return 0;
}

static bool
authority_has(const ldns_pkt *pkt, ldns_rr_type type)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (rr != NULL && ldns_rr_get_type(rr) == type)
			return true;
	}
	return false;
}

/* The first record in list of type/IN owned by owner, or NULL. */
static const ldns_rr *
find_rr(const ldns_rr_list *list, const ldns_rdf *owner, ldns_rr_type type)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (rr != NULL && ldns_rr_get_type(rr) == type &&
		    ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    dname_equal(ldns_rr_owner(rr), owner))
			return rr;
	}
	return NULL;
}

/* Whether the question section is qname/qtype/IN. */
static bool
question_matches(const ldns_pkt *pkt, const ldns_rdf *qd, mox_dns_type qtype)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	if (ldns_rr_list_rr_count(q) != 1)
		return false;
	const ldns_rr *rr = ldns_rr_list_rr(q, 0);
	return rr != NULL && ldns_rr_get_type(rr) == (ldns_rr_type)qtype &&
	       ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	       dname_equal(ldns_rr_owner(rr), qd);
}

/* Replace *a by an empty answer for the same question, keeping the rcode,
 * so a failure found while records were being added carries none. */
static bool
answer_reset(mox_dns_answer **a, const mox_allocator *alloc, const char *qname,
             mox_dns_type qtype)
{
	mox_dns_answer *b = mox__dns_answer_new(alloc, qname, qtype);
	if (b == NULL)
		return false;
	b->rcode = (*a)->rcode;
	mox_dns_answer_free(*a);
	*a = b;
	return true;
}

/* The conversion; server (may be NULL) names the nameserver in messages. */
static mox_err
answer_from_pkt(const mox_allocator *alloc, const char *qname, mox_dns_type qtype,
                const ldns_pkt *pkt, const char *server, mox_dns_answer **answer_out)
{
	mox_dns_answer *a = NULL;
	ldns_rdf *qd = NULL;
	mox_err err = MOX_ENOMEM;
	const char *from = server != NULL ? " from " : "";
	char text[NAME_TEXT_MAX];

	if (server == NULL)
		server = "";
	a = mox__dns_answer_new(alloc, qname, qtype);
	if (a == NULL)
		goto out;
	if (!type_known(qtype)) {
		err = mox__dns_answer_fail(a, MOX_DNS_PERMFAIL,
		                           "unsupported record type %d", (int)qtype);
		goto out;
	}
	ldns_status st = ldns_str2rdf_dname(&qd, qname);
	if (st == LDNS_STATUS_MEM_ERR)
		goto out;
	if (st != LDNS_STATUS_OK) {
		err = mox__dns_answer_fail(a, MOX_DNS_PERMFAIL, "invalid name: %s",
		                           ldns_get_errorstr_by_id(st));
		goto out;
	}

	unsigned rcode = ldns_pkt_get_rcode(pkt);
	/* RFC 6891 section 6.1.3: the OPT record holds the upper 8 bits. */
	if (ldns_pkt_edns(pkt))
		rcode |= (unsigned)ldns_pkt_edns_extended_rcode(pkt) << 4;
	a->rcode = (int)rcode;

	if (!ldns_pkt_qr(pkt) || ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY) {
		err = mox__dns_answer_fail(
		    a, MOX_DNS_TEMPFAIL, "not a response to a query%s%s", from, server);
		goto out;
	}
	if (ldns_pkt_tc(pkt)) {
		err = mox__dns_answer_fail(
		    a, MOX_DNS_TEMPFAIL, "truncated response (TC=1)%s%s", from, server);
		goto out;
	}
	/* Servers may leave the question out of error responses. */
	bool answerable = rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN;
	if ((ldns_pkt_qdcount(pkt) != 0 || answerable) &&
	    !question_matches(pkt, qd, qtype)) {
		err = mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
		                           "response does not match the query%s%s",
		                           from, server);
		goto out;
	}
	if (!answerable) {
		const char *name = rcode_name(rcode);
		char num[32];
		if (name == NULL) {
			snprintf(num, sizeof(num), "RCODE %u", rcode);
			name = num;
		}
		/* SERVFAIL and REFUSED may pass (RFC 7208 section 5 treats
		 * them as temporary); FORMERR, NOTIMP and the rest will not
		 * change by asking again. */
		err = mox__dns_answer_fail(a,
		                           rcode == LDNS_RCODE_SERVFAIL ||
		                                   rcode == LDNS_RCODE_REFUSED
		                               ? MOX_DNS_TEMPFAIL
		                               : MOX_DNS_PERMFAIL,
		                           "%s%s%s", name, from, server);
		goto out;
	}

	/* Follow CNAMEs from qname (RFC 1034 section 3.6.2, RFC 2181
	 * section 10.1), unless CNAME itself is asked for. */
	const ldns_rr_list *ans = ldns_pkt_answer(pkt);
	const ldns_rdf *cur = qd;
	const ldns_rdf *seen[MOX_DNS_CNAME_MAX];
	size_t hops = 0;
	while (qtype != MOX_DNS_CNAME) {
		const ldns_rr *cn = find_rr(ans, cur, LDNS_RR_TYPE_CNAME);
		if (cn == NULL)
			break;
		const ldns_rdf *target = ldns_rr_rdf(cn, 0);
		if (ldns_rr_rd_count(cn) != 1 ||
		    !dname_text(target, text, sizeof(text))) {
			err = mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
			                           "malformed answer: bad CNAME "
			                           "record%s%s",
			                           from, server);
			goto out;
		}
		bool loop = dname_equal(target, qd);
		for (size_t i = 0; i < hops && !loop; i++)
			loop = dname_equal(target, seen[i]);
		if (loop) {
			err = mox__dns_answer_fail(a, MOX_DNS_PERMFAIL,
			                           "CNAME loop at %s", text);
			goto out;
		}
		if (hops == MOX_DNS_CNAME_MAX) {
			err = mox__dns_answer_fail(a, MOX_DNS_PERMFAIL,
			                           "CNAME chain longer than %d",
			                           MOX_DNS_CNAME_MAX);
			goto out;
		}
		seen[hops++] = target;
		cur = target;
	}
	/* text still holds the last target's name. */
	if (hops > 0 && mox__dns_rr_set_name(alloc, &a->cname, text) != MOX_OK)
		goto out;

	if (rcode == LDNS_RCODE_NOERROR) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
			const ldns_rr *src = ldns_rr_list_rr(ans, i);
			if (src == NULL ||
			    ldns_rr_get_type(src) != (ldns_rr_type)qtype ||
			    ldns_rr_get_class(src) != LDNS_RR_CLASS_IN ||
			    !dname_equal(ldns_rr_owner(src), cur))
				continue;
			if (!dname_text(ldns_rr_owner(src), text, sizeof(text))) {
				if (!answer_reset(&a, alloc, qname, qtype))
					goto out;
				err = mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
				                           "malformed answer: bad "
				                           "owner name%s%s",
				                           from, server);
				goto out;
			}
			mox_dns_rr *rr =
			    mox__dns_answer_add(a, qtype, text, ldns_rr_ttl(src));
			if (rr == NULL)
				goto out;
			int rc = set_rdata(alloc, rr, src);
			if (rc == RR_NOMEM)
				goto out;
			if (rc == RR_MALFORMED) {
				if (!answer_reset(&a, alloc, qname, qtype))
					goto out;
				err = mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
				                           "malformed answer: bad "
				                           "%s record for %s%s%s",
				                           mox_dns_type_name(qtype),
				                           text, from, server);
				goto out;
			}
		}
	}

	bool has_soa;
	if (a->nrr > 0) {
		a->status = MOX_DNS_FOUND;
	} else if (rcode == LDNS_RCODE_NXDOMAIN) {
		a->status = MOX_DNS_NXDOMAIN;
		a->neg_ttl = neg_ttl(pkt, &has_soa);
	} else {
		a->neg_ttl = neg_ttl(pkt, &has_soa);
		/* A referral instead of an answer: the server does not
		 * recurse for us (it is authoritative elsewhere or lame). */
		if (ldns_rr_list_rr_count(ans) == 0 && !has_soa && !ldns_pkt_aa(pkt) &&
		    !ldns_pkt_ra(pkt) && authority_has(pkt, LDNS_RR_TYPE_NS)) {
			err = mox__dns_answer_fail(a, MOX_DNS_TEMPFAIL,
			                           "referral instead of an answer "
			                           "(nameserver does not recurse)%s%s",
			                           from, server);
			goto out;
		}
		a->status = MOX_DNS_NODATA;
	}
	/* RFC 4035 section 3.2.3: AD means the resolver validated the data
	 * (and, for NXDOMAIN/NODATA, the denial). */
	a->authentic = ldns_pkt_ad(pkt);
	err = MOX_OK;
out:
	if (err == MOX_OK && a != NULL && a->status != MOX_DNS_FOUND &&
	    a->status != MOX_DNS_NXDOMAIN && a->status != MOX_DNS_NODATA) {
		/* Failures carry no records and are never authentic. */
		a->authentic = false;
		a->neg_ttl = 0;
	}
	if (err != MOX_OK) {
		mox_dns_answer_free(a);
		a = NULL;
	}
	ldns_rdf_deep_free(qd);
	*answer_out = a;
	return err;
}

mox_err
mox__dns_ldns_answer_from_pkt(const mox_allocator *alloc, const char *qname,
                              mox_dns_type qtype, const ldns_pkt *pkt,
                              mox_dns_answer **answer_out)
{
	if (answer_out == NULL)
		return MOX_EINVAL;
	*answer_out = NULL;
	if (qname == NULL || pkt == NULL)
		return MOX_EINVAL;
	return answer_from_pkt(alloc, qname, qtype, pkt, NULL, answer_out);
}

/* ---- wire format ---- */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Skip a possibly compressed name at *pos (RFC 1035 section 4.1.4). */
static bool
skip_name(const uint8_t *w, size_t n, size_t *pos)
{
	size_t p = *pos;
	for (;;) {
		if (p >= n)
			return false;
		uint8_t len = w[p];
		if ((len & 0xc0) == 0xc0) {
			if (n - p < 2)
				return false;
			*pos = p + 2;
			return true;
		}
		if ((len & 0xc0) != 0)
			return false; /* RFC 6891 section 5: no extended labels */
		p++;
		if (len == 0) {
			*pos = p;
			return true;
		}
		if (len > n - p)
			return false;
		p += len;
	}
}

/* Walk the sections of a response before ldns_wire2pkt sees it: every
 * record must lie inside the message, and it may carry no TSIG record
 * (RFC 8945 section 5.3: we never sign our queries, so a signed response
 * is not for us; and ldns 1.8.3 leaks all but the last of several).
 * Returns false for a message to throw away. */
static bool
wire_check(const uint8_t *w, size_t n)
{
	if (n < 12)
		return false;
	size_t pos = 12;
	for (unsigned i = 0; i < rd16(w + 4); i++) {
		if (!skip_name(w, n, &pos) || n - pos < 4)
			return false;
		pos += 4;
	}
	unsigned rrs = (unsigned)rd16(w + 6) + rd16(w + 8) + rd16(w + 10);
	for (unsigned i = 0; i < rrs; i++) {
		if (!skip_name(w, n, &pos) || n - pos < 10)
			return false;
		if (rd16(w + pos) == LDNS_RR_TYPE_TSIG)
			return false;
		size_t rdlen = rd16(w + pos + 8);
		pos += 10;
		if (rdlen > n - pos)
			return false;
		pos += rdlen;
	}
	return true;
}

ldns_status
mox__dns_ldns_wire2pkt(ldns_pkt **pkt_out, const uint8_t *wire, size_t len)
{
	*pkt_out = NULL;
	if (wire == NULL || !wire_check(wire, len))
		return LDNS_STATUS_PACKET_OVERFLOW;
	ldns_status st = ldns_wire2pkt(pkt_out, wire, len);
	if (st != LDNS_STATUS_OK) {
		ldns_pkt_free(*pkt_out);
		*pkt_out = NULL;
	}
	return st;
}

/* ---- lookups ---- */

static uint16_t
query_id(void)
{
	uint16_t id;
	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id))
		return id;
	return ldns_get_random();
}

/* An answer with a failure status and message, for outcomes without a
 * usable response. */
static mox_err
fail_answer(const ldns_ctx *c, const char *name, mox_dns_type type,
            mox_dns_status status, const char *msg, mox_dns_answer **answer_out)
{
	mox_dns_answer *a = mox__dns_answer_new(c->alloc, name, type);
	if (a == NULL)
		return MOX_ENOMEM;
	if (mox__dns_answer_fail(a, status, "%s", msg) != MOX_OK) {
		mox_dns_answer_free(a);
		return MOX_ENOMEM;
	}
	*answer_out = a;
	return MOX_OK;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One UDP try: send q to ns from a fresh connected socket and wait up to
 * timeout_ms for a datagram with our ID (others are skipped). Returns the
 * response (free with free()) or NULL with *st and *problem set. */
static uint8_t *
udp_exchange(const ns_addr *ns, ldns_buffer *q, uint16_t id, unsigned timeout_ms,
	     size_t *len_out, ldns_status *st, const char **problem)
{
	*st = LDNS_STATUS_NETWORK_ERR;
	int fd = socket(ns->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*st = LDNS_STATUS_SOCKET_ERROR;
		*problem = "cannot make a UDP socket";
		return NULL;
	}
	uint8_t *buf = NULL;
	if (connect(fd, (const struct sockaddr *)&ns->sa, ns->salen) != 0 ||
	    send(fd, ldns_buffer_begin(q), ldns_buffer_position(q), 0) < 0) {
		*problem = errno == ECONNREFUSED ? "connection refused" : "cannot send";
		goto out;
	}
	buf = malloc(65536);
	if (buf == NULL) {
		*st = LDNS_STATUS_MEM_ERR;
		goto out;
	}
	int64_t deadline = mono_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			*problem = "timeout";
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			*problem = rc == 0 ? "timeout" : "poll failed";
			break;
		}
		ssize_t n = recv(fd, buf, 65536, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* RFC 1122 section 4.1.3.3: ICMP errors reach a
			 * connected UDP socket; nothing listens there. */
			*problem = errno == ECONNREFUSED ? "connection refused" : "receive failed";
			break;
		}
		if (n >= 12 && rd16(buf) == id) {
			close(fd);
			*st = LDNS_STATUS_OK;
			*len_out = (size_t)n;
			return buf;
		}
		/* Not our ID: a late answer to an earlier try; keep waiting. */
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

/* Up to c->tries sends of query q (ID id) to ns over UDP or TCP. Returns
 * the first response with our ID (free with free()) and its length, or
 * NULL with *st and *problem saying why. */
static uint8_t *
exchange(const ldns_ctx *c, const ns_addr *ns, ldns_buffer *q, uint16_t id, bool tcp,
         size_t *len_out, ldns_status *st, const char **problem)
{
	struct timeval tv = {
	    .tv_sec = (time_t)(c->timeout_ms / 1000),
	    .tv_usec = (suseconds_t)((c->timeout_ms % 1000) * 1000),
	};
	for (unsigned i = 0; i < c->tries; i++) {
		uint8_t *bytes = NULL;
		size_t n = 0;
		if (!tcp) {
			bytes = udp_exchange(ns, q, id, c->timeout_ms, &n, st, problem);
			if (bytes != NULL) {
				*len_out = n;
				return bytes;
			}
			if (*st == LDNS_STATUS_MEM_ERR)
				break;
			continue;
		}
		*st = ldns_tcp_send(&bytes, q, &ns->sa, ns->salen, tv, &n);
		if (*st == LDNS_STATUS_OK && bytes != NULL && n >= 12 &&
		    rd16(bytes) == id) {
			*len_out = n;
			return bytes;
		}
		if (*st == LDNS_STATUS_OK) {
			/* Someone else's datagram, or a runt. */
			*st = LDNS_STATUS_ERR;
			*problem = "response ID does not match the query";
		} else if (*st != LDNS_STATUS_MEM_ERR) {
			*problem = NULL;
		}
		free(bytes);
		if (*st == LDNS_STATUS_MEM_ERR)
			break;
	}
	return NULL;
}

static mox_err
ldns_lookup(void *arg, const char *name, mox_dns_type type, mox_dns_answer **answer_out)
{
	ldns_ctx *c = arg;
	ldns_rdf *qd = NULL;
	ldns_pkt *query = NULL, *resp = NULL, *held = NULL;
	ldns_buffer *qb = NULL;
	mox_err err = MOX_ENOMEM;
	const char *server = NULL, *problem = NULL, *held_server = NULL;
	char msg[512];

	if (answer_out == NULL)
		return MOX_EINVAL;
	*answer_out = NULL;
	if (c == NULL || name == NULL)
		return MOX_EINVAL;

	if (!type_known(type)) {
		snprintf(msg, sizeof(msg), "unsupported record type %d", (int)type);
		return fail_answer(c, name, type, MOX_DNS_PERMFAIL, msg, answer_out);
	}
	ldns_status st = ldns_str2rdf_dname(&qd, name);
	if (st == LDNS_STATUS_MEM_ERR)
		return MOX_ENOMEM;
	if (st != LDNS_STATUS_OK) {
		snprintf(msg, sizeof(msg), "invalid name: %s",
		         ldns_get_errorstr_by_id(st));
		return fail_answer(c, name, type, MOX_DNS_PERMFAIL, msg, answer_out);
	}
	query = ldns_pkt_query_new(qd, (ldns_rr_type)type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (query == NULL) {
		/* ldns_pkt_query_new takes qd only when it succeeds. */
		ldns_rdf_deep_free(qd);
		return MOX_ENOMEM;
	}
	uint16_t id = query_id();
	ldns_pkt_set_id(query, id);
	if (c->edns) {
		ldns_pkt_set_edns_udp_size(query, EDNS_UDP_SIZE);
		ldns_pkt_set_edns_do(query, true);
	}
	qb = ldns_buffer_new(LDNS_MIN_BUFLEN);
	if (qb == NULL || ldns_pkt2buffer_wire(qb, query) != LDNS_STATUS_OK)
		goto out;

	for (size_t i = 0; i < c->nns && resp == NULL; i++) {
		const ns_addr *ns = &c->ns[i];
		size_t n = 0;
		server = ns->text;
		problem = NULL;
		uint8_t *bytes = exchange(c, ns, qb, id, false, &n, &st, &problem);
		if (bytes != NULL && (bytes[2] & 0x02) != 0 && c->tcp_fallback) {
			/* TC=1 (RFC 1035 section 4.1.1): ask again over TCP. */
			free(bytes);
			bytes = exchange(c, ns, qb, id, true, &n, &st, &problem);
			if (bytes == NULL && problem == NULL)
				problem = "TCP after a truncated UDP response failed";
		}
		if (st == LDNS_STATUS_MEM_ERR)
			goto out;
		if (bytes == NULL)
			continue;
		st = mox__dns_ldns_wire2pkt(&resp, bytes, n);
		free(bytes);
		if (st == LDNS_STATUS_MEM_ERR)
			goto out;
		if (st != LDNS_STATUS_OK) {
			problem = "malformed response";
			continue;
		}
		/* A server that fails or refuses may be alone in that: ask
		 * the next one, and keep this answer in case all fail. */
		if (i + 1 < c->nns &&
		    (ldns_pkt_get_rcode(resp) == LDNS_RCODE_SERVFAIL ||
		     ldns_pkt_get_rcode(resp) == LDNS_RCODE_REFUSED)) {
			ldns_pkt_free(held);
			held = resp;
			held_server = server;
			resp = NULL;
		}
	}
	if (resp == NULL && held != NULL) {
		resp = held;
		held = NULL;
		server = held_server;
	}

	if (resp == NULL) {
		const char *why =
		    problem != NULL ? problem : ldns_get_errorstr_by_id(st);
		if (c->nns == 1)
			snprintf(msg, sizeof(msg),
			         "no response from %s after %u tries: %s", server,
			         c->tries, why);
		else
			snprintf(msg, sizeof(msg),
			         "no response from %zu nameservers (%s and others) "
			         "after %u tries each: %s",
			         c->nns, c->ns[0].text, c->tries, why);
		err = fail_answer(c, name, type, MOX_DNS_TEMPFAIL, msg, answer_out);
		goto out;
	}
	err = answer_from_pkt(c->alloc, name, type, resp, server, answer_out);
out:
	ldns_buffer_free(qb);
	ldns_pkt_free(held);
	ldns_pkt_free(resp);
	ldns_pkt_free(query);
	return err;
}

static void
ldns_resolver_free_cb(mox_resolver *resolver)
{
	if (resolver == NULL)
		return;
	ldns_ctx *c = resolver->ctx;
	const mox_allocator *alloc = c != NULL ? c->alloc : NULL;
	mox_mem_free(alloc, c);
	mox_mem_free(alloc, resolver);
}

mox_err
mox_dns_ldns_new(mox_resolver **resolver_out, const mox_dns_ldns_opts *opts,
                 mox_errinfo *info)
{
	mox_dns_ldns_opts o;
	ldns_ctx *c = NULL;
	mox_resolver *res = NULL;
	mox_err err;

	if (resolver_out == NULL)
		return mox_errinfo_set(info, MOX_EINVAL, 0, "resolver_out is NULL");
	*resolver_out = NULL;
	/* Callers built against an older, shorter opts pass its size; the
	 * fields they do not know stay zero (defaults). */
	memset(&o, 0, sizeof(o));
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return mox_errinfo_set(info, MOX_EINVAL, 0,
			                       "opts->size not set");
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	if (o.timeout_ms > TIMEOUT_MS_MAX)
		return mox_errinfo_set(info, MOX_EINVAL, 0,
		                       "timeout_ms %u out of range (at most %d)",
		                       o.timeout_ms, TIMEOUT_MS_MAX);
	if (o.tries > TRIES_MAX)
		return mox_errinfo_set(info, MOX_EINVAL, 0,
		                       "tries %u out of range (at most %d)", o.tries,
		                       TRIES_MAX);

	c = mox_mem_calloc(o.alloc, 1, sizeof(*c));
	if (c == NULL)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
	c->alloc = o.alloc;
	c->timeout_ms = o.timeout_ms != 0 ? o.timeout_ms : TIMEOUT_MS_DEFAULT;
	c->tries = o.tries != 0 ? o.tries : TRIES_DEFAULT;
	c->tcp_fallback = !o.no_tcp_fallback;
	c->edns = !o.no_edns;

	const char *env = getenv("MOX_RESOLVER");
	if (o.nameservers != NULL)
		err = parse_ns_list(c, o.nameservers, "nameservers", info);
	else if (env != NULL && env[0] != '\0')
		err = parse_ns_list(c, env, "MOX_RESOLVER", info);
	else
		err = parse_resolv_conf(
		    c, o.resolv_conf != NULL ? o.resolv_conf : RESOLV_CONF_DEFAULT,
		    info);
	if (err != MOX_OK)
		goto out;

	res = mox_mem_calloc(c->alloc, 1, sizeof(*res));
	if (res == NULL) {
		err = mox_errinfo_set(info, MOX_ENOMEM, 0, "out of memory");
		goto out;
	}
	res->ctx = c;
	res->lookup = ldns_lookup;
	res->free = ldns_resolver_free_cb;
	*resolver_out = res;
	c = NULL;
	err = MOX_OK;
out:
	if (c != NULL)
		mox_mem_free(c->alloc, c);
	return err;
}
