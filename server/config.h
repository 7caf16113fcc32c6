/* config.h -- mox.conf (static) and domains.conf (dynamic), as mox has them.
 *
 * The files are in sconf format (sconf.h). Their fields are defined once,
 * in tables in config_schema.c (name, type, optional or required, default,
 * doc comment); the same tables decode a file into the structs below and
 * print the annotated examples of "mox config describe-static" and
 * "mox config describe-domains". Semantic checks (domains, addresses,
 * references between accounts, domains and transports, key files) are in
 * config.c. Every problem found is reported as "file:line: message"; a load
 * collects all of them instead of stopping at the first.
 *
 * Strings are never NULL after a successful load (absent optional strings
 * are ""). Defaults from the tables are filled in for absent optional
 * fields and, as mox does, for zero numbers (Port 0 means the default
 * port). Maps keep the order of the file. Every struct that comes from the
 * file keeps a pointer to its sconf node, for line numbers and for the
 * comment-keeping writer.
 *
 * domains.conf can be reloaded while the server runs: a mox_config_live
 * holds the current dynamic config; readers take a reference with
 * mox_config_live_get() and drop it with mox_config_dynamic_unref(), a
 * reload swaps the pointer under a short lock, and the old config is freed
 * when its last reader is done.
 *
 * Server-internal (not a library).
 */
#ifndef MOX_SERVER_CONFIG_H
#define MOX_SERVER_CONFIG_H

#include "sconf.h"

#include <mox/core.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define MOX_CFG_LIST(T)                                                                \
	struct {                                                                       \
		T *v;                                                                  \
		size_t n;                                                              \
	}

typedef MOX_CFG_LIST(char *) mox_cfg_strings;

/* An entry of a map of strings (PackageLogLevels, HeadersRegexp, ...). */
typedef struct mox_cfg_kv {
	char *key;
	const mox_sconf_node *node;
	char *value;
} mox_cfg_kv;
typedef MOX_CFG_LIST(mox_cfg_kv) mox_cfg_kvs;

/* ---- mox.conf ---- */

typedef struct mox_cfg_acme {
	char *name; /* map key */
	const mox_sconf_node *node;
	char *directory_url;
	int64_t renew_before_ns;
	char *contact_email;
	int64_t port;
} mox_cfg_acme;

typedef struct mox_cfg_keycert {
	const mox_sconf_node *node;
	char *cert_file; /* made absolute (relative to the config dir) */
	char *key_file;
} mox_cfg_keycert;

typedef struct mox_cfg_tls {
	const mox_sconf_node *node;
	char *acme;
	MOX_CFG_LIST(mox_cfg_keycert) key_certs;
	char *min_version;
} mox_cfg_tls;

/* One service of a listener: the fields a service does not have stay
 * zero. */
typedef struct mox_cfg_service {
	const mox_sconf_node *node;
	bool enabled;
	int64_t port;
	bool no_starttls;                   /* SMTP */
	bool require_starttls;              /* SMTP */
	mox_cfg_strings dnsbls;             /* SMTP */
	int64_t first_time_sender_delay_ns; /* SMTP */
	bool no_require_starttls;           /* Submission, IMAP */
	char *path;                         /* *HTTP(S) */
	bool non_tls;                       /* AutoconfigHTTPS, MTASTSHTTPS */
} mox_cfg_service;

typedef struct mox_cfg_listener {
	char *name; /* map key */
	const mox_sconf_node *node;
	mox_cfg_strings ips;
	bool ips_nated;
	char *hostname;   /* "" means the global Hostname */
	mox_cfg_tls *tls; /* NULL: no TLS */
	int64_t smtp_max_message_size;
	mox_cfg_service smtp, submission, submissions, imap, imaps, account_http,
	    account_https, admin_http, admin_https, webmail_http, webmail_https,
	    metrics_http, pprof_http, autoconfig_https, mtasts_https, webserver_http,
	    webserver_https;
} mox_cfg_listener;

typedef struct mox_cfg_smtpauth {
	const mox_sconf_node *node;
	char *username;
	char *password;
	mox_cfg_strings mechanisms;
} mox_cfg_smtpauth;

typedef struct mox_cfg_transport_smtp {
	const mox_sconf_node *node;
	char *host;
	int64_t port;
	bool starttls_insecure_skip_verify;
	bool no_starttls;
	mox_cfg_smtpauth *auth;
} mox_cfg_transport_smtp;

typedef struct mox_cfg_transport_socks {
	const mox_sconf_node *node;
	char *address;
	mox_cfg_strings remote_ips;
	char *remote_hostname;
} mox_cfg_transport_socks;

typedef struct mox_cfg_transport {
	char *name; /* map key */
	const mox_sconf_node *node;
	mox_cfg_transport_smtp *submissions, *submission, *smtp;
	mox_cfg_transport_socks *socks;
} mox_cfg_transport;

typedef struct mox_config_static {
	const mox_sconf_node *node;
	char *data_dir; /* made absolute */
	char *log_level;
	mox_cfg_kvs package_log_levels;
	char *user;
	bool no_fix_permissions;
	char *hostname;           /* as written */
	char hostname_ascii[256]; /* A-label form */
	bool check_updates;
	bool pedantic;
	struct {
		const mox_sconf_node *node;
		struct mox_cfg_tls_ca {
			const mox_sconf_node *node;
			bool additional_to_system;
			mox_cfg_strings cert_files;
		} * ca;
	} tls;
	MOX_CFG_LIST(mox_cfg_acme) acme;
	char *admin_password_file;
	MOX_CFG_LIST(mox_cfg_listener) listeners;
	struct {
		const mox_sconf_node *node;
		char *account;
		char *mailbox;
	} postmaster;
	struct {
		const mox_sconf_node *node;
		struct {
			const mox_sconf_node *node;
			char *sent, *archive, *trash, *draft, *junk;
		} special_use;
		mox_cfg_strings regular;
	} initial_mailboxes;
	mox_cfg_strings default_mailboxes;
	MOX_CFG_LIST(mox_cfg_transport) transports;

	/* Derived. */
	uid_t uid;
	gid_t gid;
	char *config_dir; /* directory of mox.conf */
	char *path;       /* mox.conf */
	mox_sconf_doc *doc;
} mox_config_static;

/* ---- domains.conf ---- */

typedef struct mox_cfg_route {
	const mox_sconf_node *node;
	mox_cfg_strings from_domain;
	mox_cfg_strings to_domain;
	int64_t minimum_attempts;
	char *transport;
} mox_cfg_route;
typedef MOX_CFG_LIST(mox_cfg_route) mox_cfg_routes;

typedef struct mox_cfg_selector {
	char *name; /* map key */
	const mox_sconf_node *node;
	char *hash;
	struct {
		const mox_sconf_node *node;
		bool header_relaxed;
		bool body_relaxed;
	} canonicalization;
	mox_cfg_strings headers;
	bool dont_seal_headers;
	char *expiration;
	char *private_key_file;     /* made absolute */
	int64_t expiration_seconds; /* derived from expiration; 0: none */
} mox_cfg_selector;

typedef struct mox_cfg_reportaddr {
	const mox_sconf_node *node;
	char *localpart;
	char *account;
	char *mailbox;
} mox_cfg_reportaddr;

typedef struct mox_cfg_mtasts {
	const mox_sconf_node *node;
	char *policy_id;
	char *mode;
	int64_t max_age_ns;
	mox_cfg_strings mx;
} mox_cfg_mtasts;

typedef struct mox_cfg_domain {
	char *name; /* map key, as written */
	const mox_sconf_node *node;
	char *description;
	char *client_settings_domain;
	char *localpart_catchall_separator;
	bool localpart_case_sensitive;
	struct {
		const mox_sconf_node *node;
		MOX_CFG_LIST(mox_cfg_selector) selectors;
		mox_cfg_strings sign;
	} dkim;
	mox_cfg_reportaddr *dmarc;
	mox_cfg_mtasts *mtasts;
	mox_cfg_reportaddr *tlsrpt;
	mox_cfg_routes routes;
	char ascii[256]; /* derived: A-label form, lower case */
} mox_cfg_domain;

typedef struct mox_cfg_ruleset {
	const mox_sconf_node *node;
	char *smtp_mail_from_regexp;
	char *verified_domain;
	mox_cfg_kvs headers_regexp;
	bool is_forward;
	char *list_allow_domain;
	char *accept_rejects_to_mailbox;
	char *mailbox;
} mox_cfg_ruleset;

typedef struct mox_cfg_destination {
	char *name; /* map key: address, "@domain" or localpart */
	const mox_sconf_node *node;
	char *mailbox;
	MOX_CFG_LIST(mox_cfg_ruleset) rulesets;
	char *full_name;
	char *address; /* derived: normalized "localpart@domain" or "@domain" */
} mox_cfg_destination;

typedef struct mox_cfg_junkfilter {
	const mox_sconf_node *node;
	double threshold;
	struct {
		const mox_sconf_node *node;
		bool onegrams, twograms, threegrams;
		double max_power;
		int64_t top_words;
		double ignore_words;
		int64_t rare_words;
	} params;
} mox_cfg_junkfilter;

typedef struct mox_cfg_account {
	char *name; /* map key */
	const mox_sconf_node *node;
	char *domain;
	char *description;
	char *full_name;
	MOX_CFG_LIST(mox_cfg_destination) destinations;
	struct {
		const mox_sconf_node *node;
		int64_t period_ns;
	} subject_pass;
	char *rejects_mailbox;
	bool keep_rejects;
	struct {
		const mox_sconf_node *node;
		bool enabled;
		char *junk_mailbox_regexp;
		char *neutral_mailbox_regexp;
		char *not_junk_mailbox_regexp;
	} automatic_junk_flags;
	mox_cfg_junkfilter *junk_filter;
	int64_t max_outgoing_messages_per_day;
	int64_t max_first_time_recipients_per_day;
	bool no_first_time_sender_delay;
	mox_cfg_routes routes;
} mox_cfg_account;

typedef struct mox_cfg_webhandler {
	const mox_sconf_node *node;
	char *log_name;
	char *domain;
	char *path_regexp;
	bool dont_redirect_plain_http;
	struct mox_cfg_webstatic {
		const mox_sconf_node *node;
		char *strip_prefix;
		char *root;
		bool list_files;
		bool continue_not_found;
		mox_cfg_kvs response_headers;
	} * web_static;
	struct mox_cfg_webredirect {
		const mox_sconf_node *node;
		char *base_url;
		char *orig_path_regexp;
		char *replace_path;
		int64_t status_code;
	} * web_redirect;
	struct mox_cfg_webforward {
		const mox_sconf_node *node;
		bool strip_path;
		char *url;
		mox_cfg_kvs response_headers;
	} * web_forward;
} mox_cfg_webhandler;

typedef struct mox_config_dynamic {
	const mox_sconf_node *node;
	MOX_CFG_LIST(mox_cfg_domain) domains;
	MOX_CFG_LIST(mox_cfg_account) accounts;
	mox_cfg_kvs web_domain_redirects;
	MOX_CFG_LIST(mox_cfg_webhandler) web_handlers;
	mox_cfg_routes routes;

	/* Derived. */
	char *path;            /* domains.conf */
	mox_sconf_doc *doc;    /* kept for comment-preserving edits */
	struct timespec mtime; /* of the file when loaded */
	ino_t ino;
	off_t size;
	atomic_uint refs; /* see mox_config_live */
} mox_config_dynamic;

/* ---- errors ---- */

/* All problems found by a load, in file order per file. Warnings (such as
 * "ACME is not supported yet") do not make a load fail. */
typedef struct mox_config_problem {
	char *file;
	size_t line; /* 0: about the file as a whole */
	bool warning;
	char *msg;
} mox_config_problem;

typedef struct mox_config_errors {
	mox_config_problem *v;
	size_t n;
	size_t nerrors; /* problems that are not warnings */
} mox_config_errors;

void mox_config_errors_clear(mox_config_errors *errs);
/* Print each problem as "file:line: message" (warnings get "warning: "). */
void mox_config_errors_print(const mox_config_errors *errs, FILE *f);

/* ---- loading ---- */

/* Load and check mox.conf at path. Problems are appended to *errs; the
 * result is MOX_OK with *static_out set when there were no errors
 * (warnings allowed), otherwise MOX_ESYNTAX (or MOX_EIO, MOX_ENOMEM) and
 * NULL. The user named in User is looked up with getpwnam.
 * Thread-safety: any thread. */
mox_err mox_config_static_load(const char *path, mox_config_static **static_out,
                               mox_config_errors *errs);
void mox_config_static_free(mox_config_static *c);

/* Load and check domains.conf at path against the static config (for
 * transports and the postmaster account). As mox_config_static_load.
 * The result has one reference. */
mox_err mox_config_dynamic_load(const mox_config_static *st, const char *path,
                                mox_config_dynamic **dyn_out, mox_config_errors *errs);
/* As mox_config_dynamic_load, from text (path is used in messages and as
 * the file to write on edits). */
mox_err mox_config_dynamic_parse(const mox_config_static *st, const char *path,
                                 const char *text, size_t len,
                                 mox_config_dynamic **dyn_out, mox_config_errors *errs);
/* Same for mox.conf text; config_dir is where relative paths start. */
mox_err mox_config_static_parse(const char *path, const char *text, size_t len,
                                mox_config_static **static_out,
                                mox_config_errors *errs);
/* Drop a reference; the last one frees. NULL is a no-op.
 * Thread-safety: any thread. */
void mox_config_dynamic_unref(mox_config_dynamic *d);

/* Path of domains.conf for a mox.conf path: same directory. Caller frees. */
char *mox_config_domains_path(const char *static_path);
/* The mox.conf path from -config/MOXCONF or the default "config/mox.conf".
 * Not allocated. */
const char *mox_config_default_path(void);

/* ---- lookups ---- */

const mox_cfg_domain *mox_config_domain_find(const mox_config_dynamic *d,
                                             const char *name);
const mox_cfg_account *mox_config_account_find(const mox_config_dynamic *d,
                                               const char *name);
/* The account and destination for an address (exact, then catchall
 * "@domain"); localpart matching is case-insensitive unless the domain
 * says otherwise, and the catchall separator is honoured. */
const mox_cfg_account *mox_config_address_find(const mox_config_dynamic *d,
                                               const char *address,
                                               const mox_cfg_destination **dest_out);
/* Port of a service, or its default when 0. */
static inline int64_t
mox_config_port(int64_t port, int64_t fallback)
{
	return port != 0 ? port : fallback;
}

/* ---- live reload ---- */

typedef struct mox_config_live {
	pthread_mutex_t mu;
	mox_config_dynamic *cur;
	const mox_config_static *st;
} mox_config_live;

/* Takes over the reference of dyn. */
void mox_config_live_init(mox_config_live *live, const mox_config_static *st,
                          mox_config_dynamic *dyn);
void mox_config_live_destroy(mox_config_live *live);
/* The current dynamic config with one reference for the caller; release
 * it with mox_config_dynamic_unref. Thread-safety: any thread. */
mox_config_dynamic *mox_config_live_get(mox_config_live *live);
/* Install dyn (its reference is taken over); the previous config is freed
 * when its last reader drops it. Thread-safety: any thread. */
void mox_config_live_swap(mox_config_live *live, mox_config_dynamic *dyn);
/* If domains.conf changed on disk (mtime, size or inode), load it and, when
 * it is valid, swap it in. *reloaded_out tells whether it was swapped.
 * Problems of an invalid new file go to *errs and the old config stays.
 * Thread-safety: any thread (the load runs without the lock held). */
mox_err mox_config_live_reload(mox_config_live *live, bool *reloaded_out,
                               mox_config_errors *errs);

/* ---- edits (for the ctl commands) ----
 * Each edit works on a copy of the current domains.conf tree, checks the
 * result as a load does, writes it atomically (temporary file, fsync,
 * rename, fsync of the directory) keeping comments and layout, and returns
 * the new config (one reference) to swap in. The old config is unchanged.
 * Problems go to *errs. */
mox_err mox_config_account_add(const mox_config_static *st,
                               const mox_config_dynamic *cur, const char *account,
                               const char *address, mox_config_dynamic **new_out,
                               mox_config_errors *errs);
mox_err mox_config_account_remove(const mox_config_static *st,
                                  const mox_config_dynamic *cur, const char *account,
                                  mox_config_dynamic **new_out,
                                  mox_config_errors *errs);
mox_err mox_config_address_add(const mox_config_static *st,
                               const mox_config_dynamic *cur, const char *address,
                               const char *account, mox_config_dynamic **new_out,
                               mox_config_errors *errs);
mox_err mox_config_address_remove(const mox_config_static *st,
                                  const mox_config_dynamic *cur, const char *address,
                                  mox_config_dynamic **new_out,
                                  mox_config_errors *errs);
/* Adds the domain with the given account as its default (creating the
 * account with localpart@domain if it does not exist and localpart is not
 * NULL). DKIM keys are not generated here (quickstart does that). */
mox_err mox_config_domain_add(const mox_config_static *st,
                              const mox_config_dynamic *cur, const char *domain,
                              const char *account, const char *localpart,
                              mox_config_dynamic **new_out, mox_config_errors *errs);
mox_err mox_config_domain_remove(const mox_config_static *st,
                                 const mox_config_dynamic *cur, const char *domain,
                                 mox_config_dynamic **new_out, mox_config_errors *errs);

/* Write text to path atomically: temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. mode for a new file. */
mox_err mox_config_write_atomic(const char *path, const void *data, size_t len,
                                mode_t mode);

/* ---- describe ---- */

/* The annotated example of every field, as "mox config describe-static"
 * and "describe-domains" print it. */
mox_err mox_config_describe_static(mox_buf *out);
mox_err mox_config_describe_domains(mox_buf *out);

/* The DNS records a domain needs, as a zone file: host A/AAAA for the
 * given IPs (may be NULL), MX, DKIM (public keys from the selectors' key
 * files), SPF, DMARC, MTA-STS, TLSRPT, autoconfig and SRV records.
 * Defined in config_dns.c, only when built with libmoxdkim
 * (MOX_HAVE_DKIM). On failure err says why. */
mox_err mox_config_dnsrecords(const mox_cfg_domain *dom, const char *hostname,
                              const mox_cfg_strings *ips, mox_buf *out, char *err,
                              size_t errlen);

/* "mox config ..." commands; argv[0] is "config". */
int mox_config_cmd_main(int argc, char **argv);

#endif
