/* config_schema.c -- the one definition of mox.conf and domains.conf.
 *
 * Each struct of config.h has a table here: field name as written in the
 * file, type, optional or required, default, and the doc comment. The
 * generic decoder below reads an sconf tree with these tables (reporting
 * unknown keys, wrong types and missing fields with their line), and the
 * describer prints the annotated example for "mox config describe-static"
 * and "describe-domains" from the same tables, so the two cannot disagree.
 *
 * Field names, doc texts and the layout of the described output follow
 * mox's config package (github.com/mjl-/mox config/config.go, MIT
 * licensed) and sconf's Describe, so files and documentation carry over.
 */
#include "config_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_WIDTH 80 /* sconf wraps comment text at 80 columns */

/* ---- table helpers ---- */

#define F(T, fname, member, kind, flags, def, doc)                                     \
	{                                                                              \
		fname, kind, flags, offsetof(T, member), CFG_STRING, NULL, def, doc    \
	}
#define FSUB(T, fname, member, kind, flags, sub, doc)                                  \
	{                                                                              \
		fname, kind, flags, offsetof(T, member), CFG_STRUCT, &sub, NULL, doc   \
	}
#define FLIST(T, fname, member, flags, doc)                                            \
	{                                                                              \
		fname, CFG_LIST, flags, offsetof(T, member), CFG_STRING, NULL, NULL,   \
		    doc                                                                \
	}
#define FLISTS(T, fname, member, flags, sub, doc)                                      \
	{                                                                              \
		fname, CFG_LIST, flags, offsetof(T, member), CFG_STRUCT, &sub, NULL,   \
		    doc                                                                \
	}
#define FMAP(T, fname, member, flags, sub, doc)                                        \
	{                                                                              \
		fname, CFG_MAP, flags, offsetof(T, member), CFG_STRUCT, &sub, NULL,    \
		    doc                                                                \
	}
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))
#define STRUCT(T, name, fields, nodemember)                                            \
	{                                                                              \
		name, sizeof(T), -1, offsetof(T, nodemember), -1, CFG_STRING, fields,  \
		    NFIELDS(fields)                                                    \
	}
#define MAPSTRUCT(T, fields)                                                           \
	{                                                                              \
#T, sizeof(T), offsetof(T, name), offsetof(T, node), -1, CFG_STRING,   \
		    fields, NFIELDS(fields)                                            \
	}
/* A struct stored inline in T at member (anonymous struct types). */
#define INNER(T, member, inner) (offsetof(T, member.inner) - offsetof(T, member))

#define OPT CFG_OPTIONAL

/* An inline anonymous struct's fields get offsets relative to itself. */
#define FI(T, m, fname, inner, kind, flags, def, doc)                                  \
	{                                                                              \
		fname, kind, flags, INNER(T, m, inner), CFG_STRING, NULL, def, doc     \
	}

/* ---- shared: maps of strings, routes ---- */

static const cfg_field kv_fields[1] = {
    {"", CFG_STRING, 0, 0, CFG_STRING, NULL, NULL, NULL}};
static const cfg_struct kv_schema = {"kv",
                                     sizeof(mox_cfg_kv),
                                     offsetof(mox_cfg_kv, key),
                                     offsetof(mox_cfg_kv, node),
                                     offsetof(mox_cfg_kv, value),
                                     CFG_STRING,
                                     kv_fields,
                                     0};

static const cfg_field route_fields[] = {
    FLIST(mox_cfg_route, "FromDomain", from_domain, OPT,
          "Matches if the envelope from domain matches one of the configured domains, "
          "or if the list is empty. If a domain starts with a dot, prefixes of the "
          "domain also match."),
    FLIST(mox_cfg_route, "ToDomain", to_domain, OPT,
          "Like FromDomain, but matching against the envelope to domain."),
    F(mox_cfg_route, "MinimumAttempts", minimum_attempts, CFG_INT, OPT, NULL,
      "Matches if at least this many deliveries have already been attempted. This can "
      "be used to attempt sending through a smarthost when direct delivery has failed "
      "for several times."),
    F(mox_cfg_route, "Transport", transport, CFG_STRING, 0, NULL,
      "The transport used for delivering the message that matches requirements of the "
      "above fields."),
};
static const cfg_struct route_schema =
    STRUCT(mox_cfg_route, "Route", route_fields, node);

/* ---- mox.conf ---- */

static const cfg_field ca_fields[] = {
    F(struct mox_cfg_tls_ca, "AdditionalToSystem", additional_to_system, CFG_BOOL, OPT,
      NULL, NULL),
    FLIST(struct mox_cfg_tls_ca, "CertFiles", cert_files, OPT, NULL),
};
static const cfg_struct ca_schema =
    STRUCT(struct mox_cfg_tls_ca, "CA", ca_fields, node);

static const cfg_field globaltls_fields[] = {
    {"CA", CFG_PTR, OPT, INNER(mox_config_static, tls, ca), CFG_STRUCT, &ca_schema,
     NULL, NULL},
};
static const cfg_struct globaltls_schema = {"TLS",
                                            sizeof(((mox_config_static *)0)->tls),
                                            -1,
                                            INNER(mox_config_static, tls, node),
                                            -1,
                                            CFG_STRING,
                                            globaltls_fields,
                                            NFIELDS(globaltls_fields)};

static const cfg_field acme_fields[] = {
    F(mox_cfg_acme, "DirectoryURL", directory_url, CFG_STRING, 0, NULL,
      "For letsencrypt, use https://acme-v02.api.letsencrypt.org/directory."),
    F(mox_cfg_acme, "RenewBefore", renew_before_ns, CFG_DURATION, OPT, "720h",
      "How long before expiration to renew the certificate. Default is 30 days."),
    F(mox_cfg_acme, "ContactEmail", contact_email, CFG_STRING, 0, NULL,
      "Email address to register at ACME provider. The provider can email you when "
      "certificates are about to expire. If you configure an address for which email "
      "is delivered by this server, keep in mind that TLS misconfigurations could "
      "result in such notification emails not arriving."),
    F(mox_cfg_acme, "Port", port, CFG_INT, OPT, "443",
      "TLS port for ACME validation, 443 by default. You should only override this if "
      "you cannot listen on port 443 directly. ACME will make requests to port 443, so "
      "you'll have to add an external mechanism to get the connection here, e.g. by "
      "configuring port forwarding."),
};
static const cfg_struct acme_schema = MAPSTRUCT(mox_cfg_acme, acme_fields);

static const cfg_field keycert_fields[] = {
    F(mox_cfg_keycert, "CertFile", cert_file, CFG_STRING, 0, NULL,
      "Certificate including intermediate CA certificates, in PEM format."),
    F(mox_cfg_keycert, "KeyFile", key_file, CFG_STRING, 0, NULL,
      "Private key for certificate, in PEM format. PKCS8 is recommended, but PKCS1 and "
      "EC private keys are recognized as well."),
};
static const cfg_struct keycert_schema =
    STRUCT(mox_cfg_keycert, "KeyCert", keycert_fields, node);

static const cfg_field tls_fields[] = {
    F(mox_cfg_tls, "ACME", acme, CFG_STRING, OPT, NULL,
      "Name of provider from top-level configuration to use for ACME, e.g. "
      "letsencrypt."),
    FLISTS(mox_cfg_tls, "KeyCerts", key_certs, OPT, keycert_schema,
           "Key and certificate files are opened by the privileged root process and "
           "passed to the unprivileged mox process, so no special permissions are "
           "required."),
    F(mox_cfg_tls, "MinVersion", min_version, CFG_STRING, OPT, "TLSv1.2",
      "Minimum TLS version. Default: TLSv1.2."),
};
static const cfg_struct tls_schema = STRUCT(mox_cfg_tls, "TLS", tls_fields, node);

/* The services of a listener share one C struct; each has its own fields. */
#define SVC_ENABLED F(mox_cfg_service, "Enabled", enabled, CFG_BOOL, 0, NULL, NULL)
#define SVC_PORT(def, doc) F(mox_cfg_service, "Port", port, CFG_INT, OPT, def, doc)
#define SVC_PATH(def, doc) F(mox_cfg_service, "Path", path, CFG_STRING, OPT, def, doc)
#define SVC(name, fields)                                                              \
	static const cfg_struct name = STRUCT(mox_cfg_service, "Service", fields, node)

static const cfg_field smtp_fields[] = {
    SVC_ENABLED,
    SVC_PORT("25", "Default 25."),
    F(mox_cfg_service, "NoSTARTTLS", no_starttls, CFG_BOOL, OPT, NULL,
      "Do not offer STARTTLS to secure the connection. Not recommended."),
    F(mox_cfg_service, "RequireSTARTTLS", require_starttls, CFG_BOOL, OPT, NULL,
      "Do not accept incoming messages if STARTTLS is not active. Can be used in "
      "combination with a strict MTA-STS policy. A remote SMTP server may not support "
      "TLS and may not be able to deliver messages."),
    FLIST(mox_cfg_service, "DNSBLs", dnsbls, OPT,
          "Addresses of DNS block lists for incoming messages. Block lists are only "
          "consulted for connections/messages without enough reputation to make an "
          "accept/reject decision. This prevents sending IPs of all communications to "
          "the block list provider. If any of the listed DNSBLs contains a requested "
          "IP address, the message is rejected as spam. The DNSBLs are checked for "
          "healthiness before use, at most once per 4 hours. Example DNSBLs: "
          "sbl.spamhaus.org, bl.spamcop.net"),
    F(mox_cfg_service, "FirstTimeSenderDelay", first_time_sender_delay_ns, CFG_DURATION,
      OPT, "15s",
      "Delay before accepting a message from a first-time sender for the destination "
      "account. Default: 15s."),
};
SVC(smtp_schema, smtp_fields);

static const cfg_field submission_fields[] = {
    SVC_ENABLED,
    SVC_PORT("587", "Default 587."),
    F(mox_cfg_service, "NoRequireSTARTTLS", no_require_starttls, CFG_BOOL, OPT, NULL,
      "Do not require STARTTLS. Since users must login, this means password may be "
      "sent without encryption. Not recommended."),
};
SVC(submission_schema, submission_fields);

static const cfg_field submissions_fields[] = {SVC_ENABLED,
                                               SVC_PORT("465", "Default 465.")};
SVC(submissions_schema, submissions_fields);

static const cfg_field imap_fields[] = {
    SVC_ENABLED,
    SVC_PORT("143", "Default 143."),
    F(mox_cfg_service, "NoRequireSTARTTLS", no_require_starttls, CFG_BOOL, OPT, NULL,
      "Enable this only when the connection is otherwise encrypted (e.g. through a "
      "VPN)."),
};
SVC(imap_schema, imap_fields);

static const cfg_field imaps_fields[] = {SVC_ENABLED, SVC_PORT("993", "Default 993.")};
SVC(imaps_schema, imaps_fields);

#define ACCOUNT_PATH_DOC                                                               \
	"Path to serve account requests on, e.g. /mox/. Useful if domain serves "      \
	"other resources. Default is /."
#define ADMIN_PATH_DOC                                                                 \
	"Path to serve admin requests on, e.g. /moxadmin/. Useful if domain serves "   \
	"other resources. Default is /admin/."
#define WEBMAIL_PATH_DOC                                                               \
	"Path to serve account requests on. Useful if domain serves other resources. " \
	"Default is /webmail/."
static const cfg_field accounthttp_fields[] = {
    SVC_ENABLED, SVC_PORT("80", "Default 80."), SVC_PATH("/", ACCOUNT_PATH_DOC)};
SVC(accounthttp_schema, accounthttp_fields);
static const cfg_field accounthttps_fields[] = {
    SVC_ENABLED, SVC_PORT("443", "Default 443."), SVC_PATH("/", ACCOUNT_PATH_DOC)};
SVC(accounthttps_schema, accounthttps_fields);
static const cfg_field adminhttp_fields[] = {SVC_ENABLED, SVC_PORT("80", "Default 80."),
                                             SVC_PATH("/admin/", ADMIN_PATH_DOC)};
SVC(adminhttp_schema, adminhttp_fields);
static const cfg_field adminhttps_fields[] = {
    SVC_ENABLED, SVC_PORT("443", "Default 443."), SVC_PATH("/admin/", ADMIN_PATH_DOC)};
SVC(adminhttps_schema, adminhttps_fields);
static const cfg_field webmailhttp_fields[] = {SVC_ENABLED,
                                               SVC_PORT("80", "Default 80."),
                                               SVC_PATH("/webmail/", WEBMAIL_PATH_DOC)};
SVC(webmailhttp_schema, webmailhttp_fields);
static const cfg_field webmailhttps_fields[] = {
    SVC_ENABLED, SVC_PORT("443", "Default 443."),
    SVC_PATH("/webmail/", WEBMAIL_PATH_DOC)};
SVC(webmailhttps_schema, webmailhttps_fields);
static const cfg_field metrics_fields[] = {SVC_ENABLED,
                                           SVC_PORT("8010", "Default 8010.")};
SVC(metrics_schema, metrics_fields);
static const cfg_field pprof_fields[] = {SVC_ENABLED,
                                         SVC_PORT("8011", "Default 8011.")};
SVC(pprof_schema, pprof_fields);
static const cfg_field autoconfig_fields[] = {
    SVC_ENABLED,
    SVC_PORT("443", "TLS port, 443 by default. You should only override this if you "
                    "cannot listen on port 443 directly. Autoconfig requests will be "
                    "made to port 443, so you'll have to add an external mechanism to "
                    "get the connection here, e.g. by configuring port forwarding."),
    F(mox_cfg_service, "NonTLS", non_tls, CFG_BOOL, OPT, NULL,
      "If set, plain HTTP instead of HTTPS is spoken on the configured port. Can be "
      "useful when the autoconfig domain is reverse proxied."),
};
SVC(autoconfig_schema, autoconfig_fields);
static const cfg_field mtastshttps_fields[] = {
    SVC_ENABLED,
    SVC_PORT("443", "TLS port, 443 by default. You should only override this if you "
                    "cannot listen on port 443 directly. MTA-STS requests will be made "
                    "to port 443, so you'll have to add an external mechanism to get "
                    "the connection here, e.g. by configuring port forwarding."),
    F(mox_cfg_service, "NonTLS", non_tls, CFG_BOOL, OPT, NULL,
      "If set, plain HTTP instead of HTTPS is spoken on the configured port. Can be "
      "useful when the mta-sts domain is reverse proxied."),
};
SVC(mtastshttps_schema, mtastshttps_fields);
static const cfg_field webserverhttp_fields[] = {
    SVC_ENABLED, SVC_PORT("80", "Port for plain HTTP (non-TLS) webserver.")};
SVC(webserverhttp_schema, webserverhttp_fields);
static const cfg_field webserverhttps_fields[] = {
    SVC_ENABLED, SVC_PORT("443", "Port for HTTPS webserver.")};
SVC(webserverhttps_schema, webserverhttps_fields);

#define L mox_cfg_listener
static const cfg_field listener_fields[] = {
    FLIST(L, "IPs", ips, 0,
          "Use 0.0.0.0 to listen on all IPv4 and/or :: to listen on all IPv6 "
          "addresses, but it is better to explicitly specify the IPs you want to use "
          "for email, as mox will make sure outgoing connections will only be made "
          "from one of those IPs."),
    F(L, "IPsNATed", ips_nated, CFG_BOOL, OPT, NULL,
      "Set this if the specified IPs are not the public IPs, but are NATed. This makes "
      "the DNS check skip a few checks related to IPs, such as for iprev, mx, spf, "
      "autoconfig, autodiscover."),
    F(L, "Hostname", hostname, CFG_STRING, OPT, NULL,
      "If empty, the config global Hostname is used."),
    FSUB(L, "TLS", tls, CFG_PTR, OPT, tls_schema,
         "For SMTP/IMAP STARTTLS, direct TLS and HTTPS connections."),
    F(L, "SMTPMaxMessageSize", smtp_max_message_size, CFG_INT, OPT, "104857600",
      "Maximum size in bytes for incoming and outgoing messages. Default is 100MB."),
    FSUB(L, "SMTP", smtp, CFG_STRUCT, OPT, smtp_schema, NULL),
    FSUB(L, "Submission", submission, CFG_STRUCT, OPT, submission_schema,
         "SMTP for submitting email, e.g. by email applications. Starts out in plain "
         "text, can be upgraded to TLS with the STARTTLS command. Prefer using "
         "Submissions which is always a TLS connection."),
    FSUB(L, "Submissions", submissions, CFG_STRUCT, OPT, submissions_schema,
         "SMTP over TLS for submitting email, by email applications. Requires a TLS "
         "config."),
    FSUB(L, "IMAP", imap, CFG_STRUCT, OPT, imap_schema,
         "IMAP for reading email, by email applications. Starts out in plain text, can "
         "be upgraded to TLS with the STARTTLS command. Prefer using IMAPS instead "
         "which is always a TLS connection."),
    FSUB(L, "IMAPS", imaps, CFG_STRUCT, OPT, imaps_schema,
         "IMAP over TLS for reading email, by email applications. Requires a TLS "
         "config."),
    FSUB(L, "AccountHTTP", account_http, CFG_STRUCT, OPT, accounthttp_schema,
         "Account web interface, for email users wanting to change their accounts, "
         "e.g. set new password, set new delivery rulesets. Served at /."),
    FSUB(L, "AccountHTTPS", account_https, CFG_STRUCT, OPT, accounthttps_schema,
         "Account web interface listener for HTTPS. Requires a TLS config."),
    FSUB(
        L, "AdminHTTP", admin_http, CFG_STRUCT, OPT, adminhttp_schema,
        "Admin web interface, for managing domains, accounts, etc. Served at /admin/. "
        "Preferably only enable on non-public IPs. Hint: use 'ssh -L 8080:localhost:80 "
        "you@yourmachine' and open http://localhost:8080/admin/, or set up a tunnel "
        "(e.g. WireGuard) and add its IP to the mox 'internal' listener."),
    FSUB(L, "AdminHTTPS", admin_https, CFG_STRUCT, OPT, adminhttps_schema,
         "Admin web interface listener for HTTPS. Requires a TLS config. Preferably "
         "only enable on non-public IPs."),
    FSUB(L, "WebmailHTTP", webmail_http, CFG_STRUCT, OPT, webmailhttp_schema,
         "Webmail client, for reading email."),
    FSUB(L, "WebmailHTTPS", webmail_https, CFG_STRUCT, OPT, webmailhttps_schema,
         "Webmail client, for reading email."),
    FSUB(L, "MetricsHTTP", metrics_http, CFG_STRUCT, OPT, metrics_schema,
         "Serve prometheus metrics, for monitoring. You should not enable this on a "
         "public IP."),
    FSUB(L, "PprofHTTP", pprof_http, CFG_STRUCT, OPT, pprof_schema,
         "Serve /debug/pprof/ for profiling a running mox instance. Do not enable this "
         "on a public IP!"),
    FSUB(L, "AutoconfigHTTPS", autoconfig_https, CFG_STRUCT, OPT, autoconfig_schema,
         "Serve autoconfiguration/autodiscovery to simplify configuring email "
         "applications, will use port 443. Requires a TLS config."),
    FSUB(L, "MTASTSHTTPS", mtasts_https, CFG_STRUCT, OPT, mtastshttps_schema,
         "Serve MTA-STS policies describing SMTP TLS requirements. Requires a TLS "
         "config."),
    FSUB(L, "WebserverHTTP", webserver_http, CFG_STRUCT, OPT, webserverhttp_schema,
         "All configured WebHandlers will serve on an enabled listener."),
    FSUB(L, "WebserverHTTPS", webserver_https, CFG_STRUCT, OPT, webserverhttps_schema,
         "All configured WebHandlers will serve on an enabled listener. Either ACME "
         "must be configured, or for each WebHandler domain a TLS certificate must be "
         "configured."),
};
#undef L
static const cfg_struct listener_schema = MAPSTRUCT(mox_cfg_listener, listener_fields);

static const cfg_field postmaster_fields[] = {
    FI(mox_config_static, postmaster, "Account", account, CFG_STRING, 0, NULL, NULL),
    FI(mox_config_static, postmaster, "Mailbox", mailbox, CFG_STRING, 0, NULL,
       "E.g. Postmaster or Inbox."),
};
static const cfg_struct postmaster_schema = {
    "Postmaster",
    sizeof(((mox_config_static *)0)->postmaster),
    -1,
    INNER(mox_config_static, postmaster, node),
    -1,
    CFG_STRING,
    postmaster_fields,
    NFIELDS(postmaster_fields)};

#define IMB initial_mailboxes
static const cfg_field specialuse_fields[] = {
    {"Sent", CFG_STRING, OPT, INNER(mox_config_static, IMB.special_use, sent),
     CFG_STRING, NULL, NULL, NULL},
    {"Archive", CFG_STRING, OPT, INNER(mox_config_static, IMB.special_use, archive),
     CFG_STRING, NULL, NULL, NULL},
    {"Trash", CFG_STRING, OPT, INNER(mox_config_static, IMB.special_use, trash),
     CFG_STRING, NULL, NULL, NULL},
    {"Draft", CFG_STRING, OPT, INNER(mox_config_static, IMB.special_use, draft),
     CFG_STRING, NULL, NULL, NULL},
    {"Junk", CFG_STRING, OPT, INNER(mox_config_static, IMB.special_use, junk),
     CFG_STRING, NULL, NULL, NULL},
};
static const cfg_struct specialuse_schema = {
    "SpecialUse",
    sizeof(((mox_config_static *)0)->IMB.special_use),
    -1,
    INNER(mox_config_static, IMB.special_use, node),
    -1,
    CFG_STRING,
    specialuse_fields,
    NFIELDS(specialuse_fields)};
static const cfg_field initialmailboxes_fields[] = {
    {"SpecialUse", CFG_STRUCT, OPT, INNER(mox_config_static, IMB, special_use),
     CFG_STRUCT, &specialuse_schema, NULL, "Special-use roles to mailbox to create."},
    {"Regular", CFG_LIST, OPT, INNER(mox_config_static, IMB, regular), CFG_STRING, NULL,
     NULL, "Regular, non-special-use mailboxes to create."},
};
static const cfg_struct initialmailboxes_schema = {
    "InitialMailboxes",
    sizeof(((mox_config_static *)0)->IMB),
    -1,
    INNER(mox_config_static, IMB, node),
    -1,
    CFG_STRING,
    initialmailboxes_fields,
    NFIELDS(initialmailboxes_fields)};
#undef IMB

static const cfg_field smtpauth_fields[] = {
    F(mox_cfg_smtpauth, "Username", username, CFG_STRING, 0, NULL, NULL),
    F(mox_cfg_smtpauth, "Password", password, CFG_STRING, 0, NULL, NULL),
    FLIST(mox_cfg_smtpauth, "Mechanisms", mechanisms, OPT,
          "Allowed authentication mechanisms. Defaults to SCRAM-SHA-256, SCRAM-SHA-1, "
          "CRAM-MD5. Not included by default: PLAIN."),
};
static const cfg_struct smtpauth_schema =
    STRUCT(mox_cfg_smtpauth, "SMTPAuth", smtpauth_fields, node);

static const cfg_field transportsmtp_fields[] = {
    F(mox_cfg_transport_smtp, "Host", host, CFG_STRING, 0, NULL,
      "Host name to connect to and for verifying its TLS certificate."),
    F(mox_cfg_transport_smtp, "Port", port, CFG_INT, OPT, NULL,
      "If unset or 0, the default port for submission(s)/smtp is used: 25 for SMTP, "
      "465 for submissions (with TLS), 587 for submission (possibly with STARTTLS)."),
    F(mox_cfg_transport_smtp, "STARTTLSInsecureSkipVerify",
      starttls_insecure_skip_verify, CFG_BOOL, OPT, NULL,
      "If set an unverifiable remote TLS certificate during STARTTLS is accepted."),
    F(mox_cfg_transport_smtp, "NoSTARTTLS", no_starttls, CFG_BOOL, OPT, NULL,
      "If set for submission or smtp transport, do not attempt STARTTLS on the "
      "connection. Authentication credentials and messages will be transferred in "
      "clear text."),
    FSUB(mox_cfg_transport_smtp, "Auth", auth, CFG_PTR, OPT, smtpauth_schema,
         "If set, authentication credentials for the remote server."),
};
static const cfg_struct transportsmtp_schema =
    STRUCT(mox_cfg_transport_smtp, "TransportSMTP", transportsmtp_fields, node);

static const cfg_field transportsocks_fields[] = {
    F(mox_cfg_transport_socks, "Address", address, CFG_STRING, 0, NULL,
      "Address of SOCKS proxy, of the form host:port or ip:port."),
    FLIST(mox_cfg_transport_socks, "RemoteIPs", remote_ips, 0,
          "IP addresses connections from the SOCKS server will originate from. This IP "
          "addresses should be configured in the SPF record (keep in mind DNS record "
          "time to live (TTL) when adding a SOCKS proxy). Reverse DNS should be set up "
          "for these address, resolving to RemoteHostname. These are typically the "
          "IPv4 and IPv6 address for the host in the Address field."),
    F(mox_cfg_transport_socks, "RemoteHostname", remote_hostname, CFG_STRING, 0, NULL,
      "Hostname belonging to RemoteIPs. This name is used during in SMTP EHLO. This is "
      "typically the hostname of the host in the Address field."),
};
static const cfg_struct transportsocks_schema =
    STRUCT(mox_cfg_transport_socks, "TransportSocks", transportsocks_fields, node);

static const cfg_field transport_fields[] = {
    FSUB(mox_cfg_transport, "Submissions", submissions, CFG_PTR, OPT,
         transportsmtp_schema,
         "Submission SMTP over a TLS connection to submit email to a remote queue."),
    FSUB(mox_cfg_transport, "Submission", submission, CFG_PTR, OPT,
         transportsmtp_schema,
         "Submission SMTP over a plain TCP connection (possibly with STARTTLS) to "
         "submit email to a remote queue."),
    FSUB(mox_cfg_transport, "SMTP", smtp, CFG_PTR, OPT, transportsmtp_schema,
         "SMTP over a plain connection (possibly with STARTTLS), typically for "
         "old-fashioned unauthenticated relaying to a remote queue."),
    FSUB(mox_cfg_transport, "Socks", socks, CFG_PTR, OPT, transportsocks_schema,
         "Like regular direct delivery, but makes outgoing connections through a SOCKS "
         "proxy."),
};
static const cfg_struct transport_schema =
    MAPSTRUCT(mox_cfg_transport, transport_fields);

#define S mox_config_static
static const cfg_field static_fields[] = {
    F(S, "DataDir", data_dir, CFG_STRING, 0, NULL,
      "Directory where all data is stored, e.g. queue, accounts and messages, ACME TLS "
      "certs/keys. If this is a relative path, it is relative to the directory of "
      "mox.conf."),
    F(S, "LogLevel", log_level, CFG_STRING, 0, NULL,
      "Default log level, one of: error, info, debug, trace, traceauth, tracedata. "
      "Trace logs SMTP and IMAP protocol transcripts, with traceauth also messages "
      "with passwords, and tracedata on top of that also the full data exchanges (full "
      "messages), which can be a large amount of data."),
    FMAP(S, "PackageLogLevels", package_log_levels, OPT, kv_schema,
         "Overrides of log level per package (e.g. queue, smtpclient, smtpserver, "
         "imapserver, spf, dkim, dmarc, dmarcdb, autotls, junk, mtasts, tlsrpt)."),
    F(S, "User", user, CFG_STRING, OPT, "mox",
      "User to switch to after binding to all sockets as root. Default: mox. If the "
      "value is not a known user, it is parsed as integer and used as uid and gid."),
    F(S, "NoFixPermissions", no_fix_permissions, CFG_BOOL, OPT, NULL,
      "If true, do not automatically fix file permissions when starting up. By "
      "default, mox will ensure reasonable owner/permissions on the working, data and "
      "config directories (and files), and mox binary (if present)."),
    F(S, "Hostname", hostname, CFG_STRING, 0, NULL,
      "Full hostname of system, e.g. mail.<domain>"),
    F(S, "CheckUpdates", check_updates, CFG_BOOL, OPT, NULL,
      "If enabled, a single DNS TXT lookup of _updates.xmox.nl is done every 24h to "
      "check for a new release. Each time a new release is found, a changelog is "
      "fetched from https://updates.xmox.nl and delivered to the postmaster mailbox."),
    F(S, "Pedantic", pedantic, CFG_BOOL, OPT, NULL,
      "In pedantic mode protocol violations (that happen in the wild) for "
      "SMTP/IMAP/etc result in errors instead of accepting such behaviour."),
    FSUB(S, "TLS", tls, CFG_STRUCT, OPT, globaltls_schema,
         "Global TLS configuration, e.g. for additional Certificate Authorities. Used "
         "for outgoing SMTP connections, HTTPS requests."),
    FMAP(S, "ACME", acme, OPT, acme_schema,
         "Automatic TLS configuration with ACME, e.g. through Let's Encrypt. The key "
         "is a name referenced in TLS configs, e.g. letsencrypt."),
    F(S, "AdminPasswordFile", admin_password_file, CFG_STRING, OPT, NULL,
      "File containing hash of admin password, for authentication in the web admin "
      "pages (if enabled)."),
    FMAP(S, "Listeners", listeners, 0, listener_schema,
         "Listeners are groups of IP addresses and services enabled on those IP "
         "addresses, such as SMTP/IMAP or internal endpoints for administration or "
         "Prometheus metrics. All listeners with SMTP/IMAP services enabled will serve "
         "all configured domains. If the listener is named 'public', it will get a few "
         "helpful additional configuration checks, for acme automatic tls certificates "
         "and monitoring of ips in dnsbls if those are configured."),
    FSUB(S, "Postmaster", postmaster, CFG_STRUCT, 0, postmaster_schema,
         "Destination for emails delivered to postmaster addresses: a plain "
         "'postmaster' without domain, 'postmaster@<hostname>' (also for each listener "
         "with SMTP enabled), and as fallback for each domain without explicitly "
         "configured postmaster destination."),
    FSUB(S, "InitialMailboxes", initial_mailboxes, CFG_STRUCT, OPT,
         initialmailboxes_schema,
         "Mailboxes to create for new accounts. Inbox is always created. Mailboxes can "
         "be given a 'special-use' role, which are understood by most mail clients. If "
         "absent/empty, the following mailboxes are created: Sent, Archive, Trash, "
         "Drafts and Junk."),
    FLIST(
        S, "DefaultMailboxes", default_mailboxes, OPT,
        "Deprecated in favor of InitialMailboxes. Mailboxes to create when adding an "
        "account. Inbox is always created. If no mailboxes are specified, the "
        "following are automatically created: Sent, Archive, Trash, Drafts and Junk."),
    FMAP(S, "Transports", transports, OPT, transport_schema,
         "Transport are mechanisms for delivering messages. Transports can be "
         "referenced from Routes in accounts, domains and the global configuration. "
         "There is always an implicit/fallback delivery transport doing direct "
         "delivery with SMTP from the outgoing message queue. Transports are typically "
         "only configured when using smarthosts, i.e. when delivering through another "
         "SMTP server. Zero or one transport methods must be set in a transport, never "
         "multiple. When using an external party to send email for a domain, keep in "
         "mind you may have to add their IP address to your domain's SPF record, and "
         "possibly additional DKIM records."),
};
#undef S
const cfg_struct mox__cfg_static_schema =
    STRUCT(mox_config_static, "Static", static_fields, node);

/* ---- domains.conf ---- */

static const cfg_field canon_fields[] = {
    FI(mox_cfg_selector, canonicalization, "HeaderRelaxed", header_relaxed, CFG_BOOL, 0,
       NULL,
       "If set, some modifications to the headers (mostly whitespace) are allowed."),
    FI(mox_cfg_selector, canonicalization, "BodyRelaxed", body_relaxed, CFG_BOOL, 0,
       NULL, "If set, some whitespace modifications to the message body are allowed."),
};
static const cfg_struct canon_schema = {
    "Canonicalization",
    sizeof(((mox_cfg_selector *)0)->canonicalization),
    -1,
    INNER(mox_cfg_selector, canonicalization, node),
    -1,
    CFG_STRING,
    canon_fields,
    NFIELDS(canon_fields)};
static const cfg_field selector_fields[] = {
    F(mox_cfg_selector, "Hash", hash, CFG_STRING, OPT, "sha256",
      "sha256 (default) or (older, not recommended) sha1"),
    {"Canonicalization", CFG_STRUCT, OPT, offsetof(mox_cfg_selector, canonicalization),
     CFG_STRUCT, &canon_schema, NULL, NULL},
    FLIST(mox_cfg_selector, "Headers", headers, OPT,
          "Headers to sign with DKIM. If empty, a reasonable default set of headers is "
          "selected."),
    F(mox_cfg_selector, "DontSealHeaders", dont_seal_headers, CFG_BOOL, OPT, NULL,
      "If set, don't prevent duplicate headers from being added. Not recommended."),
    F(mox_cfg_selector, "Expiration", expiration, CFG_STRING, OPT, NULL,
      "Period a signature is valid after signing, as duration, e.g. 72h. The period "
      "should be enough for delivery at the final destination, potentially with "
      "several hops/relays. In the order of days at least."),
    F(mox_cfg_selector, "PrivateKeyFile", private_key_file, CFG_STRING, 0, NULL,
      "Either an RSA or ed25519 private key file in PKCS8 PEM form."),
};
static const cfg_struct selector_schema = MAPSTRUCT(mox_cfg_selector, selector_fields);

#define D mox_cfg_domain
static const cfg_field dkim_fields[] = {
    {"Selectors", CFG_MAP, 0, INNER(D, dkim, selectors), CFG_STRUCT, &selector_schema,
     NULL,
     "Emails can be DKIM signed. Config parameters are per selector. A DNS record must "
     "be created for each selector. Add the name to Sign to use the selector for "
     "signing messages."},
    {"Sign", CFG_LIST, OPT, INNER(D, dkim, sign), CFG_STRING, NULL, NULL,
     "List of selectors that emails will be signed with."},
};
static const cfg_struct dkim_schema = {
    "DKIM",      sizeof(((D *)0)->dkim), -1, INNER(D, dkim, node), -1, CFG_STRING,
    dkim_fields, NFIELDS(dkim_fields)};

static const cfg_field dmarc_fields[] = {
    F(mox_cfg_reportaddr, "Localpart", localpart, CFG_STRING, 0, NULL,
      "Address-part before the @ that accepts DMARC reports. Must be "
      "non-internationalized. Recommended value: dmarc-reports."),
    F(mox_cfg_reportaddr, "Account", account, CFG_STRING, 0, NULL,
      "Account to deliver to."),
    F(mox_cfg_reportaddr, "Mailbox", mailbox, CFG_STRING, 0, NULL,
      "Mailbox to deliver to, e.g. DMARC."),
};
static const cfg_struct dmarc_schema =
    STRUCT(mox_cfg_reportaddr, "DMARC", dmarc_fields, node);
static const cfg_field tlsrpt_fields[] = {
    F(mox_cfg_reportaddr, "Localpart", localpart, CFG_STRING, 0, NULL,
      "Address-part before the @ that accepts TLSRPT reports. Recommended value: "
      "tls-reports."),
    F(mox_cfg_reportaddr, "Account", account, CFG_STRING, 0, NULL,
      "Account to deliver to."),
    F(mox_cfg_reportaddr, "Mailbox", mailbox, CFG_STRING, 0, NULL,
      "Mailbox to deliver to, e.g. TLSRPT."),
};
static const cfg_struct tlsrpt_schema =
    STRUCT(mox_cfg_reportaddr, "TLSRPT", tlsrpt_fields, node);

static const cfg_field mtasts_fields[] = {
    F(mox_cfg_mtasts, "PolicyID", policy_id, CFG_STRING, 0, NULL,
      "Policies are versioned. The version must be specified in the DNS record. If you "
      "change a policy, first change it in mox, then update the DNS record."),
    F(mox_cfg_mtasts, "Mode", mode, CFG_STRING, 0, NULL,
      "testing, enforce or none. If set to enforce, a remote SMTP server will not "
      "deliver email to us if it cannot make a TLS connection."),
    F(mox_cfg_mtasts, "MaxAge", max_age_ns, CFG_DURATION, 0, NULL,
      "How long a remote mail server is allowed to cache a policy. Typically 1 or "
      "several weeks."),
    FLIST(mox_cfg_mtasts, "MX", mx, OPT,
          "List of server names allowed for SMTP. If empty, the configured hostname is "
          "set. Host names can contain a wildcard (*) as a leading label (matching a "
          "single label, e.g. *.example matches host.example, not sub.host.example)."),
};
static const cfg_struct mtasts_schema =
    STRUCT(mox_cfg_mtasts, "MTASTS", mtasts_fields, node);

static const cfg_field domain_fields[] = {
    F(D, "Description", description, CFG_STRING, OPT, NULL,
      "Free-form description of domain."),
    F(D, "ClientSettingsDomain", client_settings_domain, CFG_STRING, OPT, NULL,
      "Hostname for client settings instead of the mail server hostname. E.g. "
      "mail.<domain>. For future migration to another mail operator without requiring "
      "all clients to update their settings, it is convenient to have client settings "
      "that reference a subdomain of the hosted domain instead of the hostname of the "
      "server where the mail is currently hosted. If empty, the hostname of the mail "
      "server is used for client configurations. Unicode name."),
    F(D, "LocalpartCatchallSeparator", localpart_catchall_separator, CFG_STRING, OPT,
      NULL,
      "If not empty, only the string before the separator is used to for email "
      "delivery decisions. For example, if set to \"+\", you+anything@example.com will "
      "be delivered to you@example.com."),
    F(D, "LocalpartCaseSensitive", localpart_case_sensitive, CFG_BOOL, OPT, NULL,
      "If set, upper/lower case is relevant for email delivery."),
    FSUB(D, "DKIM", dkim, CFG_STRUCT, OPT, dkim_schema,
         "With DKIM signing, a domain is taking responsibility for (content of) emails "
         "it sends, letting receiving mail servers build up a (hopefully positive) "
         "reputation of the domain, which can help with mail delivery."),
    FSUB(D, "DMARC", dmarc, CFG_PTR, OPT, dmarc_schema,
         "With DMARC, a domain publishes, in DNS, a policy on how other mail servers "
         "should handle incoming messages with the From-header matching this domain "
         "and/or subdomain (depending on the configured alignment). Receiving mail "
         "servers use this to build up a reputation of this domain, which can help "
         "with mail delivery. A domain can also publish an email address to which "
         "reports about DMARC verification results can be sent by verifying mail "
         "servers, useful for monitoring. Incoming DMARC reports are automatically "
         "parsed, validated, added to metrics and stored in the reporting database for "
         "later display in the admin web pages."),
    FSUB(D, "MTASTS", mtasts, CFG_PTR, OPT, mtasts_schema,
         "With MTA-STS a domain publishes, in DNS, presence of a policy for "
         "using/requiring TLS for SMTP connections. The policy is served over HTTPS."),
    FSUB(D, "TLSRPT", tlsrpt, CFG_PTR, OPT, tlsrpt_schema,
         "With TLSRPT a domain specifies in DNS where reports about encountered SMTP "
         "TLS behaviour should be sent. Useful for monitoring. Incoming TLS reports "
         "are automatically parsed, validated, added to metrics and stored in the "
         "reporting database for later display in the admin web pages."),
    FLISTS(D, "Routes", routes, OPT, route_schema,
           "Routes for delivering outgoing messages through the queue. Each delivery "
           "attempt evaluates account routes, these domain routes and finally global "
           "routes. The transport of the first matching route is used in the delivery "
           "attempt. If no routes match, which is the default with no configured "
           "routes, messages are delivered directly from the queue."),
};
#undef D
static const cfg_struct domain_schema = MAPSTRUCT(mox_cfg_domain, domain_fields);

static const cfg_field ruleset_fields[] = {
    F(mox_cfg_ruleset, "SMTPMailFromRegexp", smtp_mail_from_regexp, CFG_STRING, OPT,
      NULL,
      "Matches if this regular expression matches (a substring of) the SMTP MAIL FROM "
      "address (not the message From-header). E.g. '^user@example\\.org$'."),
    F(mox_cfg_ruleset, "VerifiedDomain", verified_domain, CFG_STRING, OPT, NULL,
      "Matches if this domain matches an SPF- and/or DKIM-verified (sub)domain."),
    FMAP(mox_cfg_ruleset, "HeadersRegexp", headers_regexp, OPT, kv_schema,
         "Matches if these header field/value regular expressions all match "
         "(substrings of) the message headers. Header fields and valuees are converted "
         "to lower case before matching. Whitespace is trimmed from the value before "
         "matching. A header field can occur multiple times in a message, only one "
         "instance has to match. For mailing lists, you could match on ^list-id$ with "
         "the value typically the mailing list address in angled brackets with @ "
         "replaced with a dot, e.g. <name\\.lists\\.example\\.org>."),
    F(mox_cfg_ruleset, "IsForward", is_forward, CFG_BOOL, OPT, NULL,
      "Influences spam filtering only, this option does not change whether a message "
      "matches this ruleset. Can only be used together with SMTPMailFromRegexp and "
      "VerifiedDomain. SMTPMailFromRegexp must be set to the address used to deliver "
      "the forwarded message, e.g. '^user(|\\+.*)@forward\\.example$'. Changes to junk "
      "analysis: 1. Messages are not rejects for failing a DMARC policy, because a "
      "legitimate forwarded message without valid/intact/aligned DKIM signature would "
      "be rejected because any verified SPF domain will be 'unaligned', of the "
      "forwarding mail server. 2. The sending mail server IP address, and sending EHLO "
      "and MAIL FROM domains and matching DKIM domain aren't used in future "
      "reputation-based spam classifications (but other verified DKIM domains are) "
      "because the forwarding server is not a useful spam signal for future messages."),
    F(mox_cfg_ruleset, "ListAllowDomain", list_allow_domain, CFG_STRING, OPT, NULL,
      "Influences spam filtering only, this option does not change whether a message "
      "matches this ruleset. If this domain matches an SPF- and/or DKIM-verified "
      "(sub)domain, the message is accepted without further spam checks, such as a "
      "junk filter or DMARC reject evaluation. DMARC rejects should not apply for "
      "mailing lists that are not configured to rewrite the From-header of messages "
      "that don't have a passing DKIM signature of the From-domain. Otherwise, by "
      "rejecting messages, you may be automatically unsubscribed from the mailing "
      "list. The assumption is that mailing lists do their own spam "
      "filtering/moderation."),
    F(mox_cfg_ruleset, "AcceptRejectsToMailbox", accept_rejects_to_mailbox, CFG_STRING,
      OPT, NULL,
      "Influences spam filtering only, this option does not change whether a message "
      "matches this ruleset. If a message is classified as spam, it isn't rejected "
      "during the SMTP transaction (the normal behaviour), but accepted during the "
      "SMTP transaction and delivered to the specified mailbox. The specified mailbox "
      "is not automatically cleaned up like the account global Rejects mailbox, unless "
      "set to that Rejects mailbox."),
    F(mox_cfg_ruleset, "Mailbox", mailbox, CFG_STRING, 0, NULL,
      "Mailbox to deliver to if this ruleset matches."),
};
static const cfg_struct ruleset_schema =
    STRUCT(mox_cfg_ruleset, "Ruleset", ruleset_fields, node);

static const cfg_field destination_fields[] = {
    F(mox_cfg_destination, "Mailbox", mailbox, CFG_STRING, OPT, "Inbox",
      "Mailbox to deliver to if none of Rulesets match. Default: Inbox."),
    FLISTS(mox_cfg_destination, "Rulesets", rulesets, OPT, ruleset_schema,
           "Delivery rules based on message and SMTP transaction. You may want to "
           "match each mailing list by SMTP MailFrom address, VerifiedDomain and/or "
           "List-ID header (typically <listname.example.org> if the list address is "
           "listname@example.org), delivering them to their own mailbox."),
    F(mox_cfg_destination, "FullName", full_name, CFG_STRING, OPT, NULL,
      "Full name to use in message From header when composing messages coming from "
      "this address with webmail."),
};
static const cfg_struct destination_schema =
    MAPSTRUCT(mox_cfg_destination, destination_fields);

#define JF mox_cfg_junkfilter
static const cfg_field jfparams_fields[] = {
    FI(JF, params, "Onegrams", onegrams, CFG_BOOL, OPT, NULL,
       "Track ham/spam ranking for single words."),
    FI(JF, params, "Twograms", twograms, CFG_BOOL, OPT, NULL,
       "Track ham/spam ranking for each two consecutive words."),
    FI(JF, params, "Threegrams", threegrams, CFG_BOOL, OPT, NULL,
       "Track ham/spam ranking for each three consecutive words."),
    FI(JF, params, "MaxPower", max_power, CFG_FLOAT, 0, NULL,
       "Maximum power a word (combination) can have. If spaminess is 0.99, and max "
       "power is 0.1, spaminess of the word will be set to 0.9. Similar for ham "
       "words."),
    FI(JF, params, "TopWords", top_words, CFG_INT, 0, NULL,
       "Number of most spammy/hammy words to use for calculating probability. E.g. "
       "10."),
    FI(JF, params, "IgnoreWords", ignore_words, CFG_FLOAT, OPT, NULL,
       "Ignore words that are this much away from 0.5 haminess/spaminess. E.g. 0.1, "
       "causing word (combinations) of 0.4 to 0.6 to be ignored."),
    FI(JF, params, "RareWords", rare_words, CFG_INT, OPT, NULL,
       "Occurrences in word database until a word is considered rare and its influence "
       "in calculating probability reduced. E.g. 1 or 2."),
};
static const cfg_struct jfparams_schema = {"Params",
                                           sizeof(((JF *)0)->params),
                                           -1,
                                           INNER(JF, params, node),
                                           -1,
                                           CFG_STRING,
                                           jfparams_fields,
                                           NFIELDS(jfparams_fields)};
static const cfg_field junkfilter_fields[] = {
    F(JF, "Threshold", threshold, CFG_FLOAT, 0, NULL,
      "Approximate spaminess score between 0 and 1 above which emails are rejected as "
      "spam. Each delivery attempt adds a little noise to make it slightly harder for "
      "spammers to identify words that strongly indicate non-spaminess and use it to "
      "bypass the filter. E.g. 0.95."),
    FSUB(JF, "Params", params, CFG_STRUCT, 0, jfparams_schema, NULL),
};
#undef JF
static const cfg_struct junkfilter_schema =
    STRUCT(mox_cfg_junkfilter, "JunkFilter", junkfilter_fields, node);

#define A mox_cfg_account
static const cfg_field subjectpass_fields[] = {
    FI(A, subject_pass, "Period", period_ns, CFG_DURATION, 0, NULL,
       "How long unique values are accepted after generating, e.g. 12h."),
};
static const cfg_struct subjectpass_schema = {"SubjectPass",
                                              sizeof(((A *)0)->subject_pass),
                                              -1,
                                              INNER(A, subject_pass, node),
                                              -1,
                                              CFG_STRING,
                                              subjectpass_fields,
                                              NFIELDS(subjectpass_fields)};
static const cfg_field ajf_fields[] = {
    FI(A, automatic_junk_flags, "Enabled", enabled, CFG_BOOL, 0, NULL,
       "If enabled, flags will be set automatically if they match a regular expression "
       "below. When two of the three mailbox regular expressions are set, the "
       "remaining one will match all unmatched messages. Messages are matched in the "
       "order specified and the search stops on the first match. Mailboxes are "
       "lowercased before matching."),
    FI(A, automatic_junk_flags, "JunkMailboxRegexp", junk_mailbox_regexp, CFG_STRING,
       OPT, NULL, "Example: ^(junk|spam)."),
    FI(A, automatic_junk_flags, "NeutralMailboxRegexp", neutral_mailbox_regexp,
       CFG_STRING, OPT, NULL,
       "Example: ^(inbox|neutral|postmaster|dmarc|tlsrpt|rejects), and you may wish to "
       "add trash depending on how you use it, or leave this empty."),
    FI(A, automatic_junk_flags, "NotJunkMailboxRegexp", not_junk_mailbox_regexp,
       CFG_STRING, OPT, NULL, "Example: .* or an empty string."),
};
static const cfg_struct ajf_schema = {"AutomaticJunkFlags",
                                      sizeof(((A *)0)->automatic_junk_flags),
                                      -1,
                                      INNER(A, automatic_junk_flags, node),
                                      -1,
                                      CFG_STRING,
                                      ajf_fields,
                                      NFIELDS(ajf_fields)};

static const cfg_field account_fields[] = {
    F(A, "Domain", domain, CFG_STRING, 0, NULL,
      "Default domain for account. Deprecated behaviour: If a destination is not a "
      "full address but only a localpart, this domain is added to form a full "
      "address."),
    F(A, "Description", description, CFG_STRING, OPT, NULL,
      "Free form description, e.g. full name or alternative contact info."),
    F(A, "FullName", full_name, CFG_STRING, OPT, NULL,
      "Full name, to use in message From header when composing messages in webmail. "
      "Can be overridden per destination."),
    FMAP(A, "Destinations", destinations, 0, destination_schema,
         "Destinations, keys are email addresses (with IDNA domains). If the address "
         "is of the form '@domain', i.e. with localpart missing, it serves as a "
         "catchall for the domain, matching all messages that are not explicitly "
         "configured. Deprecated behaviour: If the address is not a full address but a "
         "localpart, it is combined with Domain to form a full address."),
    FSUB(A, "SubjectPass", subject_pass, CFG_STRUCT, OPT, subjectpass_schema,
         "If configured, messages classified as weakly spam are rejected with "
         "instructions to retry delivery, but this time with a signed token added to "
         "the subject. During the next delivery attempt, the signed token will bypass "
         "the spam filter. Messages with a clear spam signal, such as a known bad "
         "reputation, are rejected/delayed without a signed token."),
    F(A, "RejectsMailbox", rejects_mailbox, CFG_STRING, OPT, NULL,
      "Mail that looks like spam will be rejected, but a copy can be stored "
      "temporarily in a mailbox, e.g. Rejects. If mail isn't coming in when you "
      "expect, you can look there. The mail still isn't accepted, so the remote mail "
      "server may retry (hopefully, if legitimate), or give up (hopefully, if indeed a "
      "spammer). Messages are automatically removed from this mailbox, so do not set "
      "it to a mailbox that has messages you want to keep."),
    F(A, "KeepRejects", keep_rejects, CFG_BOOL, OPT, NULL,
      "Don't automatically delete mail in the RejectsMailbox listed above. This can be "
      "useful, e.g. for future spam training."),
    FSUB(A, "AutomaticJunkFlags", automatic_junk_flags, CFG_STRUCT, OPT, ajf_schema,
         "Automatically set $Junk and $NotJunk flags based on mailbox messages are "
         "delivered/moved/copied to. Email clients typically have too limited "
         "functionality to conveniently set these flags, especially $NonJunk, but they "
         "can all move messages to a different mailbox, so this helps them."),
    FSUB(
        A, "JunkFilter", junk_filter, CFG_PTR, OPT, junkfilter_schema,
        "Content-based filtering, using the junk-status of individual messages to rank "
        "words in such messages as spam or ham. It is recommended you always set the "
        "applicable (non)-junk status on messages, and that you do not empty your "
        "Trash because those messages contain valuable ham/spam training information."),
    F(A, "MaxOutgoingMessagesPerDay", max_outgoing_messages_per_day, CFG_INT, OPT,
      "1000",
      "Maximum number of outgoing messages for this account in a 24 hour window. This "
      "limits the damage to recipients and the reputation of this mail server in case "
      "of account compromise. Default 1000."),
    F(A, "MaxFirstTimeRecipientsPerDay", max_first_time_recipients_per_day, CFG_INT,
      OPT, "200",
      "Maximum number of first-time recipients in outgoing messages for this account "
      "in a 24 hour window. This limits the damage to recipients and the reputation of "
      "this mail server in case of account compromise. Default 200."),
    F(A, "NoFirstTimeSenderDelay", no_first_time_sender_delay, CFG_BOOL, OPT, NULL,
      "Do not apply a delay to SMTP connections before accepting an incoming message "
      "from a first-time sender. Can be useful for accounts that sends automated "
      "responses and want instant replies."),
    FLISTS(A, "Routes", routes, OPT, route_schema,
           "Routes for delivering outgoing messages through the queue. Each delivery "
           "attempt evaluates these account routes, domain routes and finally global "
           "routes. The transport of the first matching route is used in the delivery "
           "attempt. If no routes match, which is the default with no configured "
           "routes, messages are delivered directly from the queue."),
};
#undef A
static const cfg_struct account_schema = MAPSTRUCT(mox_cfg_account, account_fields);

static const cfg_field webstatic_fields[] = {
    F(struct mox_cfg_webstatic, "StripPrefix", strip_prefix, CFG_STRING, OPT, NULL,
      "Path to strip from the request URL before evaluating to a local path. If the "
      "requested URL path does not start with this prefix and ContinueNotFound it is "
      "considered non-matching and next WebHandlers are tried. If ContinueNotFound is "
      "not set, a file not found (404) is returned in that case."),
    F(struct mox_cfg_webstatic, "Root", root, CFG_STRING, 0, NULL,
      "Directory to serve files from for this handler. Keep in mind that relative "
      "paths are relative to the working directory of mox."),
    F(struct mox_cfg_webstatic, "ListFiles", list_files, CFG_BOOL, OPT, NULL,
      "If set, and a directory is requested, and no index.html is present that can be "
      "served, a file listing is returned. Results in 403 if ListFiles is not set. If "
      "a directory is requested and the URL does not end with a slash, the response is "
      "a redirect to the path with trailing slash."),
    F(struct mox_cfg_webstatic, "ContinueNotFound", continue_not_found, CFG_BOOL, OPT,
      NULL,
      "If a requested URL does not exist, don't return a file not found (404) "
      "response, but consider this handler non-matching and continue attempts to serve "
      "with later WebHandlers, which may be a reverse proxy generating dynamic "
      "content, possibly even writing a static file for a next request to serve "
      "statically. If ContinueNotFound is set, HTTP requests other than GET and HEAD "
      "do not match. This mechanism can be used to implement the equivalent of "
      "'try_files' in other webservers."),
    FMAP(struct mox_cfg_webstatic, "ResponseHeaders", response_headers, OPT, kv_schema,
         "Headers to add to the response. Useful for cache-control, content-type, etc. "
         "By default, Content-Type headers are automatically added for recognized file "
         "types, unless added explicitly through this setting. For directory listings, "
         "a content-type header is skipped."),
};
static const cfg_struct webstatic_schema =
    STRUCT(struct mox_cfg_webstatic, "WebStatic", webstatic_fields, node);
static const cfg_field webredirect_fields[] = {
    F(struct mox_cfg_webredirect, "BaseURL", base_url, CFG_STRING, OPT, NULL,
      "Base URL to redirect to. The path must be empty and will be replaced, either by "
      "the request URL path, or by OrigPathRegexp/ReplacePath. Scheme, host, port and "
      "fragment stay intact, and query strings are combined. If empty, the response "
      "redirects to a different path through OrigPathRegexp and ReplacePath, which "
      "must then be set. Use a URL without scheme to redirect without changing the "
      "protocol, e.g. //newdomain/. If a redirect would send a request to a URL with "
      "the same scheme, host and path, the WebRedirect does not match so a next "
      "WebHandler can be tried. This can be used to redirect all plain http traffic to "
      "https."),
    F(struct mox_cfg_webredirect, "OrigPathRegexp", orig_path_regexp, CFG_STRING, OPT,
      NULL,
      "Regular expression for matching path. If set and path does not match, a 404 is "
      "returned. The HTTP path used for matching always starts with a slash."),
    F(struct mox_cfg_webredirect, "ReplacePath", replace_path, CFG_STRING, OPT, NULL,
      "Replacement path for destination URL based on OrigPathRegexp. Implemented with "
      "Go's Regexp.ReplaceAllString: $1 is replaced with the text of the first "
      "submatch, etc. If both OrigPathRegexp and ReplacePath are empty, BaseURL must "
      "be set and all paths are redirected unaltered."),
    F(struct mox_cfg_webredirect, "StatusCode", status_code, CFG_INT, OPT, "308",
      "Status code to use in redirect, e.g. 307. By default, a permanent redirect "
      "(308) is returned."),
};
static const cfg_struct webredirect_schema =
    STRUCT(struct mox_cfg_webredirect, "WebRedirect", webredirect_fields, node);
static const cfg_field webforward_fields[] = {
    F(struct mox_cfg_webforward, "StripPath", strip_path, CFG_BOOL, OPT, NULL,
      "Strip the matching WebHandler path from the WebHandler before forwarding the "
      "request."),
    F(struct mox_cfg_webforward, "URL", url, CFG_STRING, 0, NULL,
      "URL to forward HTTP requests to, e.g. http://127.0.0.1:8123/base. If StripPath "
      "is false the full request path is added to the URL. Host headers are sent "
      "unmodified. New X-Forwarded-{For,Host,Proto} headers are set. Any query string "
      "in the URL is ignored."),
    FMAP(struct mox_cfg_webforward, "ResponseHeaders", response_headers, OPT, kv_schema,
         "Headers to add to the response. Useful for adding security- and "
         "cache-related headers."),
};
static const cfg_struct webforward_schema =
    STRUCT(struct mox_cfg_webforward, "WebForward", webforward_fields, node);

static const cfg_field webhandler_fields[] = {
    F(mox_cfg_webhandler, "LogName", log_name, CFG_STRING, OPT, NULL,
      "Name to use in logging and metrics."),
    F(mox_cfg_webhandler, "Domain", domain, CFG_STRING, 0, NULL,
      "Both Domain and PathRegexp must match for this WebHandler to match a request. "
      "Exactly one of WebStatic, WebRedirect, WebForward must be set."),
    F(mox_cfg_webhandler, "PathRegexp", path_regexp, CFG_STRING, 0, NULL,
      "Regular expression matched against request path, must always start with ^ to "
      "ensure matching from the start of the path. The matching prefix can optionally "
      "be stripped by WebForward. The regular expression does not have to end with $."),
    F(mox_cfg_webhandler, "DontRedirectPlainHTTP", dont_redirect_plain_http, CFG_BOOL,
      OPT, NULL,
      "If set, plain HTTP requests are not automatically permanently redirected (308) "
      "to HTTPS. If you don't have a HTTPS webserver configured, set this to true."),
    FSUB(mox_cfg_webhandler, "WebStatic", web_static, CFG_PTR, OPT, webstatic_schema,
         "Serve static files."),
    FSUB(mox_cfg_webhandler, "WebRedirect", web_redirect, CFG_PTR, OPT,
         webredirect_schema, "Redirect requests to configured URL."),
    FSUB(mox_cfg_webhandler, "WebForward", web_forward, CFG_PTR, OPT, webforward_schema,
         "Forward requests to another webserver, i.e. reverse proxy."),
};
static const cfg_struct webhandler_schema =
    STRUCT(mox_cfg_webhandler, "WebHandler", webhandler_fields, node);

static const cfg_field dynamic_fields[] = {
    FMAP(mox_config_dynamic, "Domains", domains, 0, domain_schema,
         "Domains for which email is accepted. For internationalized domains, use "
         "their IDNA names in UTF-8."),
    FMAP(mox_config_dynamic, "Accounts", accounts, 0, account_schema,
         "Accounts to which email can be delivered. An account can accept email for "
         "multiple domains, for multiple localparts, and deliver to multiple "
         "mailboxes."),
    FMAP(mox_config_dynamic, "WebDomainRedirects", web_domain_redirects, OPT, kv_schema,
         "Redirect all requests from domain (key) to domain (value). Always redirects "
         "to HTTPS. For plain HTTP redirects, use a WebHandler with a WebRedirect."),
    FLISTS(
        mox_config_dynamic, "WebHandlers", web_handlers, OPT, webhandler_schema,
        "Handle webserver requests by serving static files, redirecting or "
        "reverse-proxying HTTP(s). The first matching WebHandler will handle the "
        "request. Built-in handlers, e.g. for account, admin, autoconfig and mta-sts "
        "always run first. If no handler matches, the response status code is file not "
        "found (404). If functionality you need is missng, simply forward the requests "
        "to an application that can provide the needed functionality."),
    FLISTS(mox_config_dynamic, "Routes", routes, OPT, route_schema,
           "Routes for delivering outgoing messages through the queue. Each delivery "
           "attempt evaluates account routes, domain routes and finally these global "
           "routes. The transport of the first matching route is used in the delivery "
           "attempt. If no routes match, which is the default with no configured "
           "routes, messages are delivered directly from the queue."),
};
const cfg_struct mox__cfg_dynamic_schema =
    STRUCT(mox_config_dynamic, "Dynamic", dynamic_fields, node);

/* ---- problems ---- */

void
mox__cfg_problem(cfg_ctx *ctx, size_t line, bool warning, const char *fmt, ...)
{
	mox_config_errors *e = ctx->errs;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mox_config_problem *v = realloc(e->v, (e->n + 1) * sizeof(*v));
	if (v == NULL) {
		ctx->nomem = true;
		return;
	}
	e->v = v;
	mox_config_problem *p = &v[e->n];
	p->file = strdup(ctx->file != NULL ? ctx->file : "");
	p->msg = strdup(buf);
	p->line = line;
	p->warning = warning;
	if (p->file == NULL || p->msg == NULL) {
		free(p->file);
		free(p->msg);
		ctx->nomem = true;
		return;
	}
	e->n++;
	if (!warning)
		e->nerrors++;
}

size_t
mox__cfg_line(const mox_sconf_node *node, const char *name)
{
	const mox_sconf_node *c = name != NULL ? mox_sconf_child(node, name) : NULL;
	if (c != NULL)
		return c->line;
	for (; node != NULL; node = node->parent)
		if (node->line != 0)
			return node->line;
	return 1;
}

size_t
mox__cfg_item_line(const mox_sconf_node *node, const char *name, size_t idx)
{
	const mox_sconf_node *c = mox_sconf_child(node, name);
	if (c != NULL)
		for (const mox_sconf_node *i = c->first; i != NULL; i = i->next, idx--)
			if (idx == 0)
				return i->line;
	return mox__cfg_line(node, name);
}

/* ---- scalars ---- */

mox_err
mox__cfg_parse_duration(const char *s, int64_t *ns_out)
{
	/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0". */
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
	             {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
	*ns_out = 0;
	const char *p = s;
	bool neg = false;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0)
		return MOX_OK;
	if (*p == '\0')
		return MOX_ESYNTAX;
	double total = 0;
	while (*p != '\0') {
		const char *start = p;
		double v = 0, frac = 0, scale = 1;
		bool digits = false;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				scale /= 10;
				frac += (*p++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits || p == start)
			return MOX_ESYNTAX;
		size_t ul = 0;
		while (p[ul] != '\0' && !(p[ul] >= '0' && p[ul] <= '9') && p[ul] != '.')
			ul++;
		if (ul == 0)
			return MOX_ESYNTAX; /* missing unit */
		double mult = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ul &&
			    memcmp(p, units[i].unit, ul) == 0)
				mult = units[i].ns;
		if (mult == 0)
			return MOX_ESYNTAX;
		p += ul;
		total += (v + frac) * mult;
		if (total > 9.2e18)
			return MOX_ERANGE;
	}
	*ns_out = (int64_t)(neg ? -total : total);
	return MOX_OK;
}

static bool
parse_int(const char *s, int64_t *out)
{
	if (*s == '\0')
		return false;
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == ' ' || s[0] == '\t')
		return false;
	*out = v;
	return true;
}

static bool
parse_float(const char *s, double *out)
{
	if (*s == '\0' || s[0] == ' ' || s[0] == '\t')
		return false;
	errno = 0;
	char *end = NULL;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static const char *
kind_name(cfg_kind k)
{
	switch (k) {
	case CFG_STRING:
		return "string";
	case CFG_BOOL:
		return "boolean";
	case CFG_INT:
		return "integer";
	case CFG_FLOAT:
		return "number";
	case CFG_DURATION:
		return "duration";
	case CFG_STRUCT:
	case CFG_PTR:
		return "struct";
	case CFG_LIST:
		return "list";
	case CFG_MAP:
		return "map";
	}
	return "?";
}

static size_t
scalar_size(cfg_kind k)
{
	switch (k) {
	case CFG_STRING:
		return sizeof(char *);
	case CFG_BOOL:
		return sizeof(bool);
	case CFG_INT:
	case CFG_DURATION:
		return sizeof(int64_t);
	case CFG_FLOAT:
		return sizeof(double);
	default:
		return 0;
	}
}

/* Set a scalar at dst from text; reports a problem and leaves the zero
 * value when it does not parse. */
static void
set_scalar(cfg_ctx *ctx, cfg_kind k, void *dst, const char *text, size_t line,
           const char *what)
{
	switch (k) {
	case CFG_STRING: {
		char *s = strdup(text);
		if (s == NULL)
			ctx->nomem = true;
		char *old;
		memcpy(&old, dst, sizeof(old));
		free(old);
		memcpy(dst, &s, sizeof(s));
		break;
	}
	case CFG_BOOL: {
		bool b = false;
		if (strcmp(text, "true") == 0)
			b = true;
		else if (strcmp(text, "false") != 0)
			mox__cfg_problem(ctx, line, false,
			                 "%s: bad boolean value \"%s\" (true or false)",
			                 what, text);
		memcpy(dst, &b, sizeof(b));
		break;
	}
	case CFG_INT: {
		int64_t v = 0;
		if (!parse_int(text, &v))
			mox__cfg_problem(ctx, line, false, "%s: parsing integer \"%s\"",
			                 what, text);
		memcpy(dst, &v, sizeof(v));
		break;
	}
	case CFG_FLOAT: {
		double v = 0;
		if (!parse_float(text, &v))
			mox__cfg_problem(ctx, line, false, "%s: parsing number \"%s\"",
			                 what, text);
		memcpy(dst, &v, sizeof(v));
		break;
	}
	case CFG_DURATION: {
		int64_t v = 0;
		if (mox__cfg_parse_duration(text, &v) != MOX_OK)
			mox__cfg_problem(
			    ctx, line, false,
			    "%s: parsing duration \"%s\" (e.g. 15s, 1h30m, 72h)", what,
			    text);
		memcpy(dst, &v, sizeof(v));
		break;
	}
	default:
		break;
	}
}

static bool
scalar_is_zero(cfg_kind k, const void *dst)
{
	switch (k) {
	case CFG_STRING: {
		char *s;
		memcpy(&s, dst, sizeof(s));
		return s == NULL || s[0] == '\0';
	}
	case CFG_INT:
	case CFG_DURATION: {
		int64_t v;
		memcpy(&v, dst, sizeof(v));
		return v == 0;
	}
	case CFG_FLOAT: {
		double v;
		memcpy(&v, dst, sizeof(v));
		return v == 0;
	}
	default:
		return false;
	}
}

/* ---- decode ---- */

typedef struct rawlist {
	void *v;
	size_t n;
} rawlist;

static void init_struct(cfg_ctx *ctx, const cfg_struct *sd, void *base);

/* The value of a struct/list/map key must be on the following lines. */
static bool
need_nested(cfg_ctx *ctx, const mox_sconf_node *n, const char *what, cfg_kind k)
{
	if (n->value[0] != '\0') {
		mox__cfg_problem(
		    ctx, n->line, false,
		    "%s: expected a %s on the following, indented lines, not a value",
		    what, kind_name(k));
		return false;
	}
	if (n->first == NULL) {
		mox__cfg_problem(ctx, n->line, false,
		                 "%s: expected indent: an empty %s must be left out",
		                 what, kind_name(k));
		return false;
	}
	return true;
}

static bool
need_scalar(cfg_ctx *ctx, const mox_sconf_node *n, const char *what, cfg_kind k)
{
	if (n->first != NULL) {
		mox__cfg_problem(ctx, n->first->line, false,
		                 "%s: unexpected indented lines under a %s value", what,
		                 kind_name(k));
		return false;
	}
	return true;
}

static void
decode_field_value(cfg_ctx *ctx, const cfg_field *f, void *dst, const mox_sconf_node *n)
{
	const char *what = f->name;
	switch (f->kind) {
	case CFG_STRING:
	case CFG_BOOL:
	case CFG_INT:
	case CFG_FLOAT:
	case CFG_DURATION:
		if (need_scalar(ctx, n, what, f->kind))
			set_scalar(ctx, f->kind, dst, n->value, n->line, what);
		break;
	case CFG_STRUCT:
		if (need_nested(ctx, n, what, f->kind))
			mox__cfg_decode(ctx, f->sub, dst, n);
		else
			init_struct(ctx, f->sub, dst);
		break;
	case CFG_PTR: {
		if (!need_nested(ctx, n, what, f->kind))
			break;
		void *p = calloc(1, f->sub->size);
		if (p == NULL) {
			ctx->nomem = true;
			break;
		}
		mox__cfg_decode(ctx, f->sub, p, n);
		memcpy(dst, &p, sizeof(p));
		break;
	}
	case CFG_LIST: {
		if (!need_nested(ctx, n, what, f->kind))
			break;
		size_t esize =
		    f->elem == CFG_STRUCT ? f->sub->size : scalar_size(f->elem);
		size_t count = mox_sconf_count(n);
		rawlist l = {calloc(count, esize), 0};
		if (l.v == NULL) {
			ctx->nomem = true;
			break;
		}
		for (const mox_sconf_node *c = n->first; c != NULL; c = c->next) {
			if (c->kind != MOX_SCONF_ITEM) {
				mox__cfg_problem(ctx, c->line, false,
				                 "%s: expected a list item (\"- "
				                 "value\"), saw key \"%s\"",
				                 what, c->key);
				continue;
			}
			char *e = (char *)l.v + l.n * esize;
			l.n++;
			if (f->elem == CFG_STRUCT) {
				if (need_nested(ctx, c, what, CFG_STRUCT))
					mox__cfg_decode(ctx, f->sub, e, c);
				else
					init_struct(ctx, f->sub, e);
			} else if (need_scalar(ctx, c, what, f->elem)) {
				set_scalar(ctx, f->elem, e, c->value, c->line, what);
			} else if (f->elem == CFG_STRING) {
				set_scalar(ctx, CFG_STRING, e, "", c->line, what);
			}
		}
		memcpy(dst, &l, sizeof(l));
		break;
	}
	case CFG_MAP: {
		if (!need_nested(ctx, n, what, f->kind))
			break;
		const cfg_struct *sd = f->sub;
		size_t count = mox_sconf_count(n);
		rawlist l = {calloc(count, sd->size), 0};
		if (l.v == NULL) {
			ctx->nomem = true;
			break;
		}
		for (const mox_sconf_node *c = n->first; c != NULL; c = c->next) {
			if (c->kind != MOX_SCONF_KEY) {
				mox__cfg_problem(ctx, c->line, false,
				                 "%s: expected a \"key: value\" line, "
				                 "saw a list item",
				                 what);
				continue;
			}
			char *e = (char *)l.v + l.n * sd->size;
			l.n++;
			char *k = strdup(c->key);
			if (k == NULL)
				ctx->nomem = true;
			memcpy(e + sd->key_off, &k, sizeof(k));
			if (strcmp(c->value, "nil") == 0 && c->first == NULL) {
				/* sconf: "nil" is the zero value of the map's type. */
				init_struct(ctx, sd, e);
				memcpy(e + sd->node_off, &c, sizeof(c));
				if (sd->scalar_off >= 0)
					set_scalar(ctx, sd->scalar_kind,
					           e + sd->scalar_off, "", c->line,
					           what);
			} else if (sd->scalar_off >= 0) {
				memcpy(e + sd->node_off, &c, sizeof(c));
				if (need_scalar(ctx, c, what, sd->scalar_kind))
					set_scalar(ctx, sd->scalar_kind,
					           e + sd->scalar_off, c->value,
					           c->line, what);
				else
					set_scalar(ctx, sd->scalar_kind,
					           e + sd->scalar_off, "", c->line,
					           what);
			} else if (need_nested(ctx, c, what, CFG_STRUCT)) {
				mox__cfg_decode(ctx, sd, e, c);
			} else {
				init_struct(ctx, sd, e);
				memcpy(e + sd->node_off, &c, sizeof(c));
			}
		}
		memcpy(dst, &l, sizeof(l));
		break;
	}
	}
}

/* Defaults for a field that was absent (or zero, where that means
 * "default" as in mox). */
static void
default_field(cfg_ctx *ctx, const cfg_field *f, void *dst, bool absent)
{
	switch (f->kind) {
	case CFG_STRING:
	case CFG_INT:
	case CFG_FLOAT:
	case CFG_DURATION:
		if (scalar_is_zero(f->kind, dst)) {
			if (f->def != NULL)
				set_scalar(ctx, f->kind, dst, f->def, 0, f->name);
			else if (f->kind == CFG_STRING)
				set_scalar(ctx, f->kind, dst, "", 0, f->name);
		}
		break;
	case CFG_STRUCT:
		if (absent)
			init_struct(ctx, f->sub, dst);
		break;
	default:
		break;
	}
}

static void
init_struct(cfg_ctx *ctx, const cfg_struct *sd, void *base)
{
	for (size_t i = 0; i < sd->nfields; i++)
		default_field(ctx, &sd->fields[i], (char *)base + sd->fields[i].off,
		              true);
}

void
mox__cfg_decode(cfg_ctx *ctx, const cfg_struct *sd, void *base,
                const mox_sconf_node *node)
{
	bool seen[64] = {false};
	memcpy((char *)base + sd->node_off, &node, sizeof(node));
	if (MOX_NEVER(sd->nfields > sizeof(seen) / sizeof(seen[0])))
		return;
	for (const mox_sconf_node *c = node->first; c != NULL; c = c->next) {
		if (c->kind != MOX_SCONF_KEY) {
			mox__cfg_problem(
			    ctx, c->line, false,
			    "unexpected list item, expected a \"key: value\" line");
			continue;
		}
		size_t i;
		for (i = 0; i < sd->nfields; i++)
			if (strcmp(sd->fields[i].name, c->key) == 0)
				break;
		if (i == sd->nfields) {
			const char *more = "";
			size_t kl = strlen(c->key);
			if (kl > 0 && (c->key[kl - 1] == ' ' || c->key[kl - 1] == '\t'))
				more = " (perhaps stray whitespace in key)";
			mox__cfg_problem(ctx, c->line, false, "unknown key \"%s\"%s",
			                 c->key, more);
			continue;
		}
		seen[i] = true;
		decode_field_value(ctx, &sd->fields[i],
		                   (char *)base + sd->fields[i].off, c);
	}
	for (size_t i = 0; i < sd->nfields; i++) {
		const cfg_field *f = &sd->fields[i];
		if (!seen[i] && !(f->flags & CFG_OPTIONAL))
			mox__cfg_problem(ctx, mox__cfg_line(node, NULL), false,
			                 "missing required key \"%s\"%s%s", f->name,
			                 node->key != NULL ? " in " : "",
			                 node->key != NULL ? node->key : "");
		default_field(ctx, f, (char *)base + f->off, !seen[i]);
	}
}

static void
free_scalar(cfg_kind k, void *dst)
{
	if (k == CFG_STRING) {
		char *s;
		memcpy(&s, dst, sizeof(s));
		free(s);
		s = NULL;
		memcpy(dst, &s, sizeof(s));
	}
}

void
mox__cfg_free(const cfg_struct *sd, void *base)
{
	if (sd->key_off >= 0)
		free_scalar(CFG_STRING, (char *)base + sd->key_off);
	if (sd->scalar_off >= 0)
		free_scalar(sd->scalar_kind, (char *)base + sd->scalar_off);
	for (size_t i = 0; i < sd->nfields; i++) {
		const cfg_field *f = &sd->fields[i];
		char *dst = (char *)base + f->off;
		switch (f->kind) {
		case CFG_STRUCT:
			mox__cfg_free(f->sub, dst);
			break;
		case CFG_PTR: {
			void *p;
			memcpy(&p, dst, sizeof(p));
			if (p != NULL) {
				mox__cfg_free(f->sub, p);
				free(p);
			}
			p = NULL;
			memcpy(dst, &p, sizeof(p));
			break;
		}
		case CFG_LIST:
		case CFG_MAP: {
			rawlist l;
			memcpy(&l, dst, sizeof(l));
			bool structs = f->kind == CFG_MAP || f->elem == CFG_STRUCT;
			size_t esize = structs ? f->sub->size : scalar_size(f->elem);
			for (size_t j = 0; j < l.n; j++) {
				if (structs)
					mox__cfg_free(f->sub, (char *)l.v + j * esize);
				else
					free_scalar(f->elem, (char *)l.v + j * esize);
			}
			free(l.v);
			memset(&l, 0, sizeof(l));
			memcpy(dst, &l, sizeof(l));
			break;
		}
		default:
			free_scalar(f->kind, dst);
			break;
		}
	}
}

/* ---- describe ---- */

static mox_err
tabs(mox_buf *out, unsigned depth)
{
	mox_err rc = MOX_OK;
	for (unsigned i = 0; i < depth && rc == MOX_OK; i++)
		rc = mox_buf_append_byte(out, '\t');
	return rc;
}

/* "# doc (optional)" wrapped at DOC_WIDTH characters of text. */
static mox_err
describe_doc(mox_buf *out, unsigned depth, const char *doc, bool optional)
{
	mox_buf text = MOX_BUF_INIT;
	mox_err rc = MOX_OK;
	if (doc != NULL && doc[0] != '\0')
		rc = mox_buf_append_str(&text, doc);
	if (rc == MOX_OK && optional)
		rc = mox_buf_append_str(&text,
		                        text.len > 0 ? " (optional)" : "(optional)");
	if (rc != MOX_OK || text.len == 0)
		goto out;
	/* A blank line separates a commented field from what is above it. */
	if (out->len > 0)
		rc = mox_buf_append_byte(out, '\n');
	const char *s = (const char *)text.data;
	while (rc == MOX_OK && *s != '\0') {
		size_t len = strlen(s), cut = len;
		if (len > DOC_WIDTH) {
			cut = 0;
			for (size_t i = 0; i <= DOC_WIDTH; i++)
				if (s[i] == ' ')
					cut = i;
			if (cut == 0) {
				const char *sp = strchr(s, ' ');
				cut = sp != NULL ? (size_t)(sp - s) : len;
			}
		}
		if ((rc = tabs(out, depth)) == MOX_OK)
			rc = mox_buf_appendf(out, "# %.*s\n", (int)cut, s);
		s += cut;
		while (*s == ' ')
			s++;
	}
out:
	mox_buf_free(&text);
	return rc;
}

static mox_err describe_struct(mox_buf *out, const cfg_struct *sd, unsigned depth);

static mox_err
describe_scalar(mox_buf *out, cfg_kind k)
{
	switch (k) {
	case CFG_BOOL:
		return mox_buf_append_str(out, " false\n");
	case CFG_INT:
		return mox_buf_append_str(out, " 0\n");
	case CFG_FLOAT:
		return mox_buf_append_str(out, " 0.000000\n");
	case CFG_DURATION:
		return mox_buf_append_str(out, " 0s\n");
	default:
		return mox_buf_append_str(out, "\n");
	}
}

static mox_err
describe_value(mox_buf *out, const cfg_field *f, unsigned depth)
{
	mox_err rc;
	switch (f->kind) {
	case CFG_STRUCT:
	case CFG_PTR:
		if ((rc = mox_buf_append_byte(out, '\n')) != MOX_OK)
			return rc;
		return describe_struct(out, f->sub, depth + 1);
	case CFG_LIST:
		if ((rc = mox_buf_append_byte(out, '\n')) != MOX_OK ||
		    (rc = tabs(out, depth + 1)) != MOX_OK ||
		    (rc = mox_buf_append_str(out, "-\n")) != MOX_OK)
			return rc;
		if (f->elem == CFG_STRUCT)
			return describe_struct(out, f->sub, depth + 2);
		return MOX_OK;
	case CFG_MAP:
		if ((rc = mox_buf_append_byte(out, '\n')) != MOX_OK ||
		    (rc = tabs(out, depth + 1)) != MOX_OK ||
		    (rc = mox_buf_append_str(out, "x:")) != MOX_OK)
			return rc;
		if (f->sub->scalar_off >= 0)
			return describe_scalar(out, f->sub->scalar_kind);
		if ((rc = mox_buf_append_byte(out, '\n')) != MOX_OK)
			return rc;
		return describe_struct(out, f->sub, depth + 2);
	default:
		return describe_scalar(out, f->kind);
	}
}

static mox_err
describe_struct(mox_buf *out, const cfg_struct *sd, unsigned depth)
{
	mox_err rc = MOX_OK;
	for (size_t i = 0; i < sd->nfields && rc == MOX_OK; i++) {
		const cfg_field *f = &sd->fields[i];
		if ((rc = describe_doc(out, depth, f->doc, f->flags & CFG_OPTIONAL)) !=
		        MOX_OK ||
		    (rc = tabs(out, depth)) != MOX_OK ||
		    (rc = mox_buf_appendf(out, "%s:", f->name)) != MOX_OK)
			break;
		rc = describe_value(out, f, depth);
	}
	return rc;
}

mox_err
mox__cfg_describe(const cfg_struct *sd, mox_buf *out)
{
	return describe_struct(out, sd, 0);
}

mox_err
mox_config_describe_static(mox_buf *out)
{
	return mox__cfg_describe(&mox__cfg_static_schema, out);
}

mox_err
mox_config_describe_domains(mox_buf *out)
{
	return mox__cfg_describe(&mox__cfg_dynamic_schema, out);
}
