/* config_dns.c -- the DNS records a configured domain needs, as a zone
 * file ("mox config dnsrecords domain", and printed by "mox quickstart"):
 * MX (RFC 5321 section 5.1), SPF (RFC 7208), DKIM keys (RFC 6376 section
 * 3.6.1, RFC 8463), DMARC (RFC 7489 section 6.3), MTA-STS (RFC 8461
 * section 3.1), TLSRPT (RFC 8460 section 3), autoconfig SRV records
 * (RFC 6186, RFC 8314 section 5.1), and A/AAAA records for the host.
 * Built only with libmoxdkim (the keys' public parts come from it). */
#include "config.h"

#ifdef MOX_HAVE_DKIM
#include <mox/dkim.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A TXT value as zone-file character strings of at most 255 bytes each
 * (RFC 1035 section 3.3.14). */
static mox_err
txt(mox_buf *out, const char *name, const char *value)
{
	mox_err rc = mox_buf_appendf(out, "%-30s TXT", name);
	size_t len = strlen(value);
	for (size_t off = 0; rc == MOX_OK && (off < len || off == 0); off += 255) {
		size_t n = len - off > 255 ? 255 : len - off;
		rc = mox_buf_appendf(out, " \"%.*s\"", (int)n, value + off);
		if (len == 0)
			break;
	}
	if (rc == MOX_OK)
		rc = mox_buf_append_byte(out, '\n');
	return rc;
}

static mox_err
key_record(const mox_cfg_selector *sel, mox_buf *rec, char *err, size_t errlen)
{
	FILE *f = fopen(sel->private_key_file, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open", sel->private_key_file);
		return MOX_EIO;
	}
	char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	mox_dkim_key *key = NULL;
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	mox_err rc = mox_dkim_key_parse_pem(buf, n, NULL, &key, &info);
	mox_mem_wipe(buf, sizeof(buf));
	if (rc != MOX_OK) {
		snprintf(err, errlen, "%s: %s", sel->private_key_file, info.msg);
		return rc;
	}
	rc = mox_dkim_key_txt_record(key, rec);
	mox_dkim_key_free(key);
	return rc;
}

mox_err
mox_config_dnsrecords(const mox_cfg_domain *dom, const char *hostname,
                      const mox_cfg_strings *ips, mox_buf *out, char *err,
                      size_t errlen)
{
	const char *d = dom->ascii;
	char name[600], val[1200];
	mox_err rc = MOX_OK;
	err[0] = '\0';
#define APP(...)                                                                       \
	do {                                                                           \
		if (rc == MOX_OK)                                                      \
			rc = mox_buf_appendf(out, __VA_ARGS__);                        \
	} while (0)
#define TXT(n, v)                                                                      \
	do {                                                                           \
		if (rc == MOX_OK)                                                      \
			rc = txt(out, n, v);                                           \
	} while (0)

	APP("; DNS records for %s, mail host %s.\n", d, hostname);
	APP("; Time to live of 5 minutes while setting up; raise it later.\n$TTL "
	    "300\n\n");
	if (ips != NULL && ips->n > 0) {
		APP("; The mail host's addresses. Also set reverse DNS (PTR) of each "
		    "IP to\n"
		    "; %s. (FCrDNS, checked by many receiving servers.)\n",
		    hostname);
		for (size_t i = 0; i < ips->n; i++) {
			unsigned char b[16];
			const char *ip = ips->v[i];
			if (strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0)
				continue;
			bool v6 = inet_pton(AF_INET6, ip, b) == 1;
			snprintf(name, sizeof(name), "%s.", hostname);
			APP("%-30s %s %s\n", name, v6 ? "AAAA" : "A", ip);
		}
		APP("\n");
	}
	snprintf(name, sizeof(name), "%s.", d);
	APP("; Deliver email for the domain to the mail host (RFC 5321 section "
	    "5.1).\n");
	APP("%-30s MX 10 %s.\n\n", name, hostname);

	bool any = false;
	for (size_t i = 0; i < dom->dkim.selectors.n && rc == MOX_OK; i++) {
		const mox_cfg_selector *sel = &dom->dkim.selectors.v[i];
		mox_buf rec = MOX_BUF_INIT;
		rc = key_record(sel, &rec, err, errlen);
		if (rc == MOX_OK) {
			if (!any)
				APP("; DKIM public keys, one per selector (RFC 6376 "
				    "section 3.6.1).\n");
			any = true;
			snprintf(name, sizeof(name), "%s._domainkey.%s.", sel->name, d);
			TXT(name, (const char *)rec.data);
		}
		mox_buf_free(&rec);
	}
	if (any)
		APP("\n");

	APP("; SPF: the MX host may send for the domain, the host for itself (DSNs).\n"
	    "; ~all (softfail) rather than -all so receivers get to DKIM/DMARC.\n");
	snprintf(name, sizeof(name), "%s.", d);
	TXT(name, "v=spf1 mx ~all");
	snprintf(name, sizeof(name), "%s.", hostname);
	TXT(name, "v=spf1 a ~all");
	APP("\n");

	APP("; DMARC: reject mail that fails DKIM and SPF alignment");
	snprintf(name, sizeof(name), "_dmarc.%s.", d);
	if (dom->dmarc != NULL) {
		APP(", and ask for aggregate reports.\n");
		snprintf(val, sizeof(val), "v=DMARC1;p=reject;rua=mailto:%s@%s!10m",
		         dom->dmarc->localpart, d);
	} else {
		APP(".\n");
		snprintf(val, sizeof(val), "v=DMARC1;p=reject");
	}
	TXT(name, val);
	APP("\n");

	if (dom->mtasts != NULL) {
		APP("; MTA-STS: senders use verified TLS (policy mode %s), the policy "
		    "is\n"
		    "; served at https://mta-sts.%s/.well-known/mta-sts.txt (RFC 8461 "
		    "section 3).\n",
		    dom->mtasts->mode, d);
		snprintf(name, sizeof(name), "mta-sts.%s.", d);
		APP("%-30s CNAME %s.\n", name, hostname);
		snprintf(name, sizeof(name), "_mta-sts.%s.", d);
		snprintf(val, sizeof(val), "v=STSv1; id=%s", dom->mtasts->policy_id);
		TXT(name, val);
		APP("\n");
	}
	if (dom->tlsrpt != NULL) {
		APP("; TLSRPT: where to send reports about TLS failures (RFC 8460 "
		    "section 3).\n");
		snprintf(name, sizeof(name), "_smtp._tls.%s.", d);
		snprintf(val, sizeof(val), "v=TLSRPTv1; rua=mailto:%s@%s",
		         dom->tlsrpt->localpart, d);
		TXT(name, val);
		APP("\n");
	}
	const char *client = hostname;
	if (dom->client_settings_domain[0] != '\0') {
		client = dom->client_settings_domain;
		APP("; Clients are configured with a name under the domain, so the "
		    "mail\n"
		    "; host can change without touching every client.\n");
		snprintf(name, sizeof(name), "%s.", client);
		APP("%-30s CNAME %s.\n\n", name, hostname);
	}
	APP("; Autoconfiguration for mail clients (Thunderbird autoconfig,\n"
	    "; Microsoft autodiscover), and SRV records (RFC 6186, RFC 8314 section "
	    "5.1).\n");
	snprintf(name, sizeof(name), "autoconfig.%s.", d);
	APP("%-30s CNAME %s.\n", name, hostname);
	snprintf(name, sizeof(name), "_autodiscover._tcp.%s.", d);
	APP("%-30s SRV 0 1 443 %s.\n", name, hostname);
	snprintf(name, sizeof(name), "_imaps._tcp.%s.", d);
	APP("%-30s SRV 0 1 993 %s.\n", name, client);
	snprintf(name, sizeof(name), "_submissions._tcp.%s.", d);
	APP("%-30s SRV 0 1 465 %s.\n", name, client);
	APP("; Plain-text IMAP and submission, and POP3, are not offered.\n");
	static const char *const none[] = {"_imap._tcp", "_submission._tcp",
	                                   "_pop3._tcp", "_pop3s._tcp"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		snprintf(name, sizeof(name), "%s.%s.", none[i], d);
		APP("%-30s SRV 0 0 0 .\n", name);
	}
#undef APP
#undef TXT
	return rc;
}
#endif
