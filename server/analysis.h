/* Inbound message analysis, as mox does for each message that arrives
 * over plain SMTP (not authenticated submission): iprev (RFC 8601 section
 * 3 "iprev", RFC 5321 section 4.1.4 names), SPF for the MAIL FROM and the
 * HELO identity (RFC 7208 sections 2.3, 2.4), DKIM verification of every
 * signature (RFC 6376 section 6), DMARC evaluation (RFC 7489 section 6.6)
 * with the SPF and DKIM results as values, and the header fields that
 * record them: Authentication-Results (RFC 8601) and Received-SPF (RFC
 * 7208 section 9.1).
 *
 * Everything here blocks on DNS: call analysis_run on the libuv thread
 * pool, never on the loop. One analysis_env (a resolver from MOX_RESOLVER
 * or /etc/resolv.conf wrapped in the thread-safe libmoxdns cache, an SPF
 * handle, the public suffix list) is shared by all workers: every part of
 * it is immutable or locks internally (libmoxdns "Thread-safety: any
 * thread", libmoxspf "many evaluations may share one handle"). */
#ifndef MOX_SERVER_ANALYSIS_H
#define MOX_SERVER_ANALYSIS_H

#include <mox/core.h>
#include <mox/dmarc.h>
#include <mox/dns.h>
#include <mox/spf.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct analysis_env analysis_env;

/* Make the shared state. hostname is ours (Authentication-Results authserv-id,
 * Received-SPF receiver). Returns NULL with errbuf set when the resolver
 * or the public suffix list cannot be had. */
analysis_env *analysis_env_new(const char *hostname, char *errbuf, size_t errlen);
void analysis_env_free(analysis_env *env);

typedef struct analysis_in {
	const char *ip;              /* client address, text */
	const char *helo;            /* HELO/EHLO argument as given; "" none */
	const char *helo_domain;     /* its domain, ASCII; "" for an address literal */
	const char *mailfrom;        /* "local@domain", ASCII domain; "" for <> */
	const char *mailfrom_domain; /* "" for <> */
	const uint8_t *msg;          /* the message as received */
	size_t len;
	uint64_t cid;                /* for logs */
} analysis_in;

typedef struct analysis_out {
	mox_buf authres;      /* "Authentication-Results: ...\r\n" */
	mox_buf received_spf; /* "Received-SPF: ...\r\n" */
	/* iprev: "pass", "fail", "temperror", "permerror" (RFC 8601 section
	 * 2.7.3), and the reverse name for the Received header: the one that
	 * resolved back to the address, else the first PTR name, else "". */
	const char *iprev;
	char rdns[MOX_DNS_NAME_MAX + 1];
	mox_spf_result spf;      /* the identity mox records: MAIL FROM, or HELO for <> */
	mox_spf_result spf_helo; /* the HELO identity, when checked */
	bool spf_helo_checked;
	size_t dkim_total, dkim_pass;
	mox_dmarc_status dmarc;
	char from_domain[MOX_DNS_NAME_MAX + 1]; /* RFC5322.From domain, "" none */
	/* DMARC failed and the policy that applies asks to reject (after pct
	 * sampling): RFC 7489 section 6.6.4. */
	bool dmarc_reject;
} analysis_out;

/* Run the analysis for one message; fills *out (free with
 * analysis_out_free). DNS failures are results (temperror), not errors;
 * out of memory leaves the header buffers short. Blocks. */
void analysis_run(const analysis_env *env, const analysis_in *in, analysis_out *out);
void analysis_out_free(analysis_out *out);

/* "Authentication-Results: <hostname>;\r\n\tauth=pass smtp.mailfrom=<addr>\r\n"
 * for a message from an authenticated client (RFC 8601 section 2.7.4),
 * as mox adds on submission. */
mox_err analysis_authres_auth(const char *hostname, const char *mailfrom, mox_buf *out);

/* A token writer folding as mox's header writer does: tokens joined by sep,
 * a fold ("\r\n\t") before a token that would pass column 78. */
typedef struct analysis_hw {
	mox_buf *b;
	size_t linelen;
	bool nonfirst;
	mox_err err;
} analysis_hw;

void analysis_hw_add(analysis_hw *w, const char *sep, const char *text);
void analysis_hw_newline(analysis_hw *w);
/* Append the final CRLF; returns the first error seen. */
mox_err analysis_hw_end(analysis_hw *w);

#endif
