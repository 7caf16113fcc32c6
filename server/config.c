/* config.c -- loading, checking, reloading and editing mox.conf and
 * domains.conf (see config.h).
 *
 * A load is: sconf parse (shape errors stop it, with their line), schema
 * decode (config_schema.c: unknown keys, types, missing fields), then the
 * semantic checks here, which mirror mox's: domain names (IDNA), IPs,
 * referenced accounts/domains/transports/selectors/ACME providers, key and
 * certificate files, regular expressions, services that need TLS, and
 * addresses configured twice. Every check reports with the line of the
 * field concerned and the load goes on, so "mox config test" lists all
 * problems at once.
 *
 * Regular expressions are checked with POSIX regcomp (extended). mox uses
 * Go's RE2 syntax; patterns with RE2-only constructs ("(?", \d, \w, \s, \b)
 * are not checked here rather than refused.
 */
#include "config.h"
#include "config_int.h"

#include <mox/dns.h>
#ifdef MOX_HAVE_DKIM
#include <mox/dkim.h>
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define P(ctx, line, ...) mox__cfg_problem(ctx, line, false, __VA_ARGS__)
#define W(ctx, line, ...) mox__cfg_problem(ctx, line, true, __VA_ARGS__)
#define LINE(node, name) mox__cfg_line(node, name)
#define ITEM(node, name, i) mox__cfg_item_line(node, name, i)

/* ---- errors ---- */

void
mox_config_errors_clear(mox_config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = errs->nerrors = 0;
}

/* Order for printing: files in order of first appearance, then by line;
 * stable, so problems on one line keep the order they were found in. */
static bool
problem_before(const mox_config_errors *errs, size_t a, size_t b)
{
	const mox_config_problem *x = &errs->v[a], *y = &errs->v[b];
	if (strcmp(x->file, y->file) != 0) {
		for (size_t i = 0; i < errs->n; i++) {
			if (strcmp(errs->v[i].file, x->file) == 0)
				return true;
			if (strcmp(errs->v[i].file, y->file) == 0)
				return false;
		}
	}
	return x->line < y->line;
}

void
mox_config_errors_print(const mox_config_errors *errs, FILE *f)
{
	size_t *order = malloc((errs->n + 1) * sizeof(*order));
	if (order == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		size_t j = i;
		while (j > 0 && problem_before(errs, i, order[j - 1])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < errs->n; i++) {
		const mox_config_problem *p = &errs->v[order[i]];
		if (p->line > 0)
			fprintf(f, "%s:%zu: %s%s\n", p->file, p->line,
			        p->warning ? "warning: " : "", p->msg);
		else
			fprintf(f, "%s: %s%s\n", p->file, p->warning ? "warning: " : "",
			        p->msg);
	}
	free(order);
}

/* ---- helpers ---- */

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Make *p absolute relative to dir (if relative and not empty). */
static void
make_abs(cfg_ctx *ctx, const char *dir, char **p)
{
	if (*p == NULL || (*p)[0] == '\0' || (*p)[0] == '/')
		return;
	size_t n = strlen(dir) + strlen(*p) + 2;
	char *s = malloc(n);
	if (s == NULL) {
		ctx->nomem = true;
		return;
	}
	snprintf(s, n, "%s/%s", dir, *p);
	free(*p);
	*p = s;
}

/* Domain name (U-labels or A-labels) to lower-case ASCII; reports. */
static bool
check_domain(cfg_ctx *ctx, size_t line, const char *what, const char *name, char *ascii,
             size_t asciisize)
{
	mox_errinfo info;
	char buf[256];
	if (ascii == NULL) {
		ascii = buf;
		asciisize = sizeof(buf);
	}
	if (name[0] == '\0') {
		P(ctx, line, "%s: empty domain name", what);
		return false;
	}
	memset(&info, 0, sizeof(info));
	if (mox_dns_name_to_ascii(name, ascii, asciisize, &info) != MOX_OK ||
	    mox_dns_name_check(ascii, strlen(ascii), MOX_DNS_NAME_HOST, &info) !=
	        MOX_OK) {
		P(ctx, line, "%s: invalid domain \"%s\": %s", what, name,
		  info.msg[0] != '\0' ? info.msg : "invalid");
		return false;
	}
	return true;
}

static bool
check_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void
check_file(cfg_ctx *ctx, size_t line, const char *what, const char *path)
{
	struct stat st;
	if (path[0] == '\0')
		P(ctx, line, "%s: empty file name", what);
	else if (stat(path, &st) != 0)
		P(ctx, line, "%s: %s: %s", what, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		P(ctx, line, "%s: %s: not a regular file", what, path);
}

static bool
re2_only(const char *re)
{
	return strstr(re, "(?") != NULL || strstr(re, "\\d") != NULL ||
	       strstr(re, "\\w") != NULL || strstr(re, "\\s") != NULL ||
	       strstr(re, "\\b") != NULL || strstr(re, "\\D") != NULL ||
	       strstr(re, "\\W") != NULL || strstr(re, "\\S") != NULL;
}

static void
check_regexp(cfg_ctx *ctx, size_t line, const char *what, const char *re)
{
	if (re[0] == '\0' || re2_only(re))
		return;
	regex_t r;
	int rc = regcomp(&r, re, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &r, msg, sizeof(msg));
		P(ctx, line, "%s: bad regular expression \"%s\": %s", what, re, msg);
		return;
	}
	regfree(&r);
}

static bool
oneof(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const log_levels[] = {"error",     "info",      "debug", "trace",
                                         "traceauth", "tracedata", "print", NULL};

/* ---- mox.conf ---- */

static void
check_service_tls(cfg_ctx *ctx, const mox_cfg_listener *l, const mox_cfg_service *s,
                  const char *name, bool needs_tls)
{
	if (!s->enabled)
		return;
	if (s->port < 1 || s->port > 65535)
		P(ctx, LINE(s->node, "Port"), "listener %s: %s: port %lld out of range",
		  l->name, name, (long long)s->port);
	if (needs_tls && l->tls == NULL)
		P(ctx, LINE(s->node, "Enabled"),
		  "listener %s: %s requires a TLS config", l->name, name);
}

static void
check_transport_smtp(cfg_ctx *ctx, const char *tname, const char *method,
                     const mox_cfg_transport_smtp *t)
{
	char what[160];
	snprintf(what, sizeof(what), "transport %s: %s", tname, method);
	check_domain(ctx, LINE(t->node, "Host"), what, t->host, NULL, 0);
	if (t->port < 0 || t->port > 65535)
		P(ctx, LINE(t->node, "Port"), "%s: port %lld out of range", what,
		  (long long)t->port);
	if (t->auth != NULL) {
		static const char *const mechs[] = {"SCRAM-SHA-256-PLUS",
		                                    "SCRAM-SHA-256",
		                                    "SCRAM-SHA-1-PLUS",
		                                    "SCRAM-SHA-1",
		                                    "CRAM-MD5",
		                                    "PLAIN",
		                                    NULL};
		for (size_t i = 0; i < t->auth->mechanisms.n; i++)
			if (!oneof(t->auth->mechanisms.v[i], mechs))
				P(ctx, ITEM(t->auth->node, "Mechanisms", i),
				  "%s: unknown authentication mechanism \"%s\"", what,
				  t->auth->mechanisms.v[i]);
	}
}

static void
check_static(cfg_ctx *ctx, mox_config_static *c)
{
	const mox_sconf_node *n = c->node;

	if (c->data_dir[0] == '\0' && mox_sconf_child(n, "DataDir") != NULL)
		P(ctx, LINE(n, "DataDir"), "DataDir: must not be empty");
	make_abs(ctx, c->config_dir, &c->data_dir);
	if (!oneof(c->log_level, log_levels))
		P(ctx, LINE(n, "LogLevel"), "LogLevel: unknown log level \"%s\"",
		  c->log_level);
	for (size_t i = 0; i < c->package_log_levels.n; i++) {
		const mox_cfg_kv *kv = &c->package_log_levels.v[i];
		if (!oneof(kv->value, log_levels))
			P(ctx, kv->node->line,
			  "PackageLogLevels: unknown log level \"%s\"", kv->value);
	}
	check_domain(ctx, LINE(n, "Hostname"), "Hostname", c->hostname,
	             c->hostname_ascii, sizeof(c->hostname_ascii));

	/* RFC-less, as mox: a user name, or else a numeric uid (also gid). */
	struct passwd *pw = getpwnam(c->user);
	if (pw != NULL) {
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	} else {
		char *end = NULL;
		errno = 0;
		unsigned long v = strtoul(c->user, &end, 10);
		if (c->user[0] == '\0' || *end != '\0' || errno != 0 ||
		    v > 0x7fffffffUL)
			P(ctx, LINE(n, "User"),
			  "User: unknown user \"%s\" (not in the user database, not a "
			  "number)",
			  c->user);
		else
			c->uid = c->gid = (uid_t)v;
	}

	if (c->tls.ca != NULL)
		for (size_t i = 0; i < c->tls.ca->cert_files.n; i++) {
			make_abs(ctx, c->config_dir, &c->tls.ca->cert_files.v[i]);
			check_file(ctx, ITEM(c->tls.ca->node, "CertFiles", i),
			           "TLS.CA.CertFiles", c->tls.ca->cert_files.v[i]);
		}

	for (size_t i = 0; i < c->acme.n; i++) {
		const mox_cfg_acme *a = &c->acme.v[i];
		W(ctx, a->node->line,
		  "ACME provider %s: ACME is not supported yet by mox-c; listeners "
		  "need KeyCerts",
		  a->name);
		if (strncmp(a->directory_url, "https://", 8) != 0)
			P(ctx, LINE(a->node, "DirectoryURL"),
			  "ACME %s: DirectoryURL must be an https URL", a->name);
		if (strchr(a->contact_email, '@') == NULL)
			P(ctx, LINE(a->node, "ContactEmail"),
			  "ACME %s: ContactEmail must be an email address", a->name);
	}

	if (c->listeners.n == 0)
		P(ctx, LINE(n, "Listeners"),
		  "Listeners: at least one listener is needed");
	for (size_t i = 0; i < c->listeners.n; i++) {
		mox_cfg_listener *l = &c->listeners.v[i];
		if (l->ips.n == 0)
			P(ctx, LINE(l->node, "IPs"), "listener %s: no IPs", l->name);
		for (size_t j = 0; j < l->ips.n; j++)
			if (!check_ip(l->ips.v[j]))
				P(ctx, ITEM(l->node, "IPs", j),
				  "listener %s: invalid IP \"%s\"", l->name,
				  l->ips.v[j]);
		if (l->hostname[0] != '\0')
			check_domain(ctx, LINE(l->node, "Hostname"),
			             "listener Hostname", l->hostname, NULL, 0);
		if (l->tls != NULL) {
			mox_cfg_tls *t = l->tls;
			if (t->acme[0] != '\0') {
				bool found = false;
				for (size_t j = 0; j < c->acme.n; j++)
					found |=
					    strcmp(c->acme.v[j].name, t->acme) == 0;
				if (!found)
					P(ctx, LINE(t->node, "ACME"),
					  "listener %s: unknown ACME provider \"%s\"",
					  l->name, t->acme);
			} else if (t->key_certs.n == 0) {
				P(ctx, t->node->line,
				  "listener %s: TLS config needs ACME or KeyCerts",
				  l->name);
			}
			for (size_t j = 0; j < t->key_certs.n; j++) {
				mox_cfg_keycert *kc = &t->key_certs.v[j];
				make_abs(ctx, c->config_dir, &kc->cert_file);
				make_abs(ctx, c->config_dir, &kc->key_file);
				check_file(ctx, LINE(kc->node, "CertFile"), "CertFile",
				           kc->cert_file);
				check_file(ctx, LINE(kc->node, "KeyFile"), "KeyFile",
				           kc->key_file);
			}
			static const char *const versions[] = {
			    "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};
			if (!oneof(t->min_version, versions))
				P(ctx, LINE(t->node, "MinVersion"),
				  "listener %s: unknown MinVersion \"%s\"", l->name,
				  t->min_version);
		}
		if (l->smtp_max_message_size < 0)
			P(ctx, LINE(l->node, "SMTPMaxMessageSize"),
			  "listener %s: negative SMTPMaxMessageSize", l->name);
		check_service_tls(ctx, l, &l->smtp, "SMTP", false);
		for (size_t j = 0; j < l->smtp.dnsbls.n; j++)
			check_domain(ctx, ITEM(l->smtp.node, "DNSBLs", j), "DNSBL",
			             l->smtp.dnsbls.v[j], NULL, 0);
		check_service_tls(ctx, l, &l->submission, "Submission", false);
		check_service_tls(ctx, l, &l->submissions, "Submissions", true);
		check_service_tls(ctx, l, &l->imap, "IMAP", false);
		check_service_tls(ctx, l, &l->imaps, "IMAPS", true);
		check_service_tls(ctx, l, &l->account_http, "AccountHTTP", false);
		check_service_tls(ctx, l, &l->account_https, "AccountHTTPS", true);
		check_service_tls(ctx, l, &l->admin_http, "AdminHTTP", false);
		check_service_tls(ctx, l, &l->admin_https, "AdminHTTPS", true);
		check_service_tls(ctx, l, &l->webmail_http, "WebmailHTTP", false);
		check_service_tls(ctx, l, &l->webmail_https, "WebmailHTTPS", true);
		check_service_tls(ctx, l, &l->metrics_http, "MetricsHTTP", false);
		check_service_tls(ctx, l, &l->pprof_http, "PprofHTTP", false);
		check_service_tls(ctx, l, &l->autoconfig_https, "AutoconfigHTTPS",
		                  !l->autoconfig_https.non_tls);
		check_service_tls(ctx, l, &l->mtasts_https, "MTASTSHTTPS",
		                  !l->mtasts_https.non_tls);
		check_service_tls(ctx, l, &l->webserver_http, "WebserverHTTP", false);
		check_service_tls(ctx, l, &l->webserver_https, "WebserverHTTPS", true);
	}

	if (c->postmaster.account[0] == '\0' &&
	    mox_sconf_child(c->postmaster.node, "Account") != NULL)
		P(ctx, LINE(c->postmaster.node, "Account"),
		  "Postmaster: Account must not be empty");
	if (c->postmaster.mailbox[0] == '\0' &&
	    mox_sconf_child(c->postmaster.node, "Mailbox") != NULL)
		P(ctx, LINE(c->postmaster.node, "Mailbox"),
		  "Postmaster: Mailbox must not be empty");
	if (c->default_mailboxes.n > 0 &&
	    mox_sconf_child(n, "InitialMailboxes") != NULL)
		P(ctx, LINE(n, "DefaultMailboxes"),
		  "cannot have both DefaultMailboxes and InitialMailboxes");

	for (size_t i = 0; i < c->transports.n; i++) {
		const mox_cfg_transport *t = &c->transports.v[i];
		int methods = (t->submissions != NULL) + (t->submission != NULL) +
		              (t->smtp != NULL) + (t->socks != NULL);
		if (methods > 1)
			P(ctx, t->node->line,
			  "transport %s: at most one transport method can be set",
			  t->name);
		if (t->submissions != NULL)
			check_transport_smtp(ctx, t->name, "Submissions",
			                     t->submissions);
		if (t->submission != NULL)
			check_transport_smtp(ctx, t->name, "Submission", t->submission);
		if (t->smtp != NULL)
			check_transport_smtp(ctx, t->name, "SMTP", t->smtp);
		if (t->socks != NULL) {
			const mox_cfg_transport_socks *s = t->socks;
			const char *colon = strrchr(s->address, ':');
			if (colon == NULL || colon == s->address || colon[1] == '\0')
				P(ctx, LINE(s->node, "Address"),
				  "transport %s: Socks Address must be host:port",
				  t->name);
			for (size_t j = 0; j < s->remote_ips.n; j++)
				if (!check_ip(s->remote_ips.v[j]))
					P(ctx, ITEM(s->node, "RemoteIPs", j),
					  "transport %s: invalid IP \"%s\"", t->name,
					  s->remote_ips.v[j]);
			check_domain(ctx, LINE(s->node, "RemoteHostname"),
			             "RemoteHostname", s->remote_hostname, NULL, 0);
		}
	}
}

static void
static_free(mox_config_static *c)
{
	if (c == NULL)
		return;
	mox__cfg_free(&mox__cfg_static_schema, c);
	free(c->config_dir);
	free(c->path);
	mox_sconf_free(c->doc);
	free(c);
}

void
mox_config_static_free(mox_config_static *c)
{
	static_free(c);
}

static mox_sconf_doc *
parse_doc(cfg_ctx *ctx, const char *path, const char *text, size_t len, mox_err *rc)
{
	mox_sconf_doc *doc = NULL;
	mox_sconf_error e;
	*rc = mox_sconf_parse(text, len, path, &doc, &e);
	if (*rc != MOX_OK && *rc != MOX_ENOMEM)
		P(ctx, e.line, "%s", e.msg);
	return doc;
}

mox_err
mox_config_static_parse(const char *path, const char *text, size_t len,
                        mox_config_static **static_out, mox_config_errors *errs)
{
	cfg_ctx ctx = {errs, path, false};
	size_t before = errs->nerrors;
	mox_err rc;
	*static_out = NULL;
	mox_sconf_doc *doc = parse_doc(&ctx, path, text, len, &rc);
	if (doc == NULL)
		return rc;
	mox_config_static *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		mox_sconf_free(doc);
		return MOX_ENOMEM;
	}
	c->doc = doc;
	c->path = strdup(path);
	c->config_dir = dir_of(path);
	if (c->path == NULL || c->config_dir == NULL) {
		static_free(c);
		return MOX_ENOMEM;
	}
	mox__cfg_decode(&ctx, &mox__cfg_static_schema, c, &doc->root);
	if (!ctx.nomem)
		check_static(&ctx, c);
	if (ctx.nomem || errs->nerrors > before) {
		static_free(c);
		return ctx.nomem ? MOX_ENOMEM : MOX_ESYNTAX;
	}
	*static_out = c;
	return MOX_OK;
}

static mox_err
read_file(cfg_ctx *ctx, const char *path, mox_buf *b, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		P(ctx, 0, "open: %s", strerror(errno));
		return MOX_EIO;
	}
	mox_err rc = MOX_OK;
	if (st != NULL && fstat(fd, st) != 0) {
		P(ctx, 0, "stat: %s", strerror(errno));
		rc = MOX_EIO;
		goto out;
	}
	for (;;) {
		if ((rc = mox_buf_reserve(b, 65536)) != MOX_OK)
			goto out;
		ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			P(ctx, 0, "read: %s", strerror(errno));
			rc = MOX_EIO;
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len > MOX_SCONF_FILE_MAX) {
			P(ctx, 0, "file larger than %u bytes", MOX_SCONF_FILE_MAX);
			rc = MOX_ELIMIT;
			goto out;
		}
	}
	if ((rc = mox_buf_reserve(b, 1)) == MOX_OK)
		b->data[b->len] = '\0';
out:
	close(fd);
	return rc;
}

mox_err
mox_config_static_load(const char *path, mox_config_static **static_out,
                       mox_config_errors *errs)
{
	cfg_ctx ctx = {errs, path, false};
	mox_buf b = MOX_BUF_INIT;
	*static_out = NULL;
	mox_err rc = read_file(&ctx, path, &b, NULL);
	if (rc == MOX_OK)
		rc = mox_config_static_parse(path, (const char *)b.data, b.len,
		                             static_out, errs);
	mox_buf_free(&b);
	return rc;
}

/* ---- domains.conf ---- */

typedef struct addrent {
	char *addr; /* normalized */
	size_t line;
	const char *account;
} addrent;

typedef struct addrset {
	addrent *v;
	size_t n;
} addrset;

static void
addrset_add(cfg_ctx *ctx, addrset *s, const char *addr, size_t line,
            const char *account)
{
	addrent *v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (v == NULL) {
		ctx->nomem = true;
		return;
	}
	s->v = v;
	v[s->n].addr = strdup(addr);
	if (v[s->n].addr == NULL) {
		ctx->nomem = true;
		return;
	}
	v[s->n].line = line;
	v[s->n].account = account;
	s->n++;
}

static int
cmp_addrent(const void *a, const void *b)
{
	const addrent *x = a, *y = b;
	int c = strcmp(x->addr, y->addr);
	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void
addrset_check(cfg_ctx *ctx, addrset *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_addrent);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->v[i].addr, s->v[i - 1].addr) == 0) {
			size_t first = i - 1;
			while (first > 0 &&
			       strcmp(s->v[first - 1].addr, s->v[i].addr) == 0)
				first--;
			P(ctx, s->v[i].line,
			  "duplicate address %s (account %s; also at line %zu, account "
			  "%s)",
			  s->v[i].addr, s->v[i].account, s->v[first].line,
			  s->v[first].account);
		}
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].addr);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void
lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static const mox_cfg_domain *
find_domain_ascii(const mox_config_dynamic *d, const char *ascii)
{
	for (size_t i = 0; i < d->domains.n; i++)
		if (strcmp(d->domains.v[i].ascii, ascii) == 0)
			return &d->domains.v[i];
	return NULL;
}

const mox_cfg_domain *
mox_config_domain_find(const mox_config_dynamic *d, const char *name)
{
	char ascii[256];
	if (mox_dns_name_to_ascii(name, ascii, sizeof(ascii), NULL) != MOX_OK)
		return NULL;
	return find_domain_ascii(d, ascii);
}

const mox_cfg_account *
mox_config_account_find(const mox_config_dynamic *d, const char *name)
{
	for (size_t i = 0; i < d->accounts.n; i++)
		if (strcmp(d->accounts.v[i].name, name) == 0)
			return &d->accounts.v[i];
	return NULL;
}

/* Normalized address for a localpart and (configured) domain: the
 * localpart lower-cased unless the domain is case-sensitive. */
static char *
norm_address(const mox_cfg_domain *dom, const char *localpart)
{
	size_t n = strlen(localpart) + strlen(dom->ascii) + 2;
	char *s = malloc(n);
	if (s == NULL)
		return NULL;
	snprintf(s, n, "%s@%s", localpart, dom->ascii);
	if (!dom->localpart_case_sensitive)
		lower_ascii(s);
	else
		lower_ascii(strrchr(s, '@'));
	return s;
}

static bool
check_localpart(const char *lp)
{
	/* RFC 5321 section 4.1.2 Local-part, dot-atom or quoted; mox also
	 * allows UTF-8 (RFC 6531). Refuse only what cannot be an address. */
	if (lp[0] == '\0' || strlen(lp) > 64)
		return false;
	for (const unsigned char *p = (const unsigned char *)lp; *p != '\0'; p++)
		if (*p <= ' ' || *p == '@' || *p == '<' || *p == '>' || *p == 0x7f)
			return false;
	return true;
}

static void
check_routes(cfg_ctx *ctx, const mox_config_static *st, const mox_cfg_routes *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const mox_cfg_route *rt = &r->v[i];
		const mox_cfg_strings *lists[2] = {&rt->from_domain, &rt->to_domain};
		const char *names[2] = {"FromDomain", "ToDomain"};
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; j < lists[k]->n; j++) {
				const char *dname = lists[k]->v[j];
				check_domain(ctx, ITEM(rt->node, names[k], j), names[k],
				             dname[0] == '.' ? dname + 1 : dname, NULL,
				             0);
			}
		bool found = false;
		for (size_t j = 0; st != NULL && j < st->transports.n; j++)
			found |= strcmp(st->transports.v[j].name, rt->transport) == 0;
		if (st != NULL && !found)
			P(ctx, LINE(rt->node, "Transport"),
			  "route: unknown transport \"%s\"", rt->transport);
		if (rt->minimum_attempts < 0)
			P(ctx, LINE(rt->node, "MinimumAttempts"),
			  "route: negative MinimumAttempts");
	}
}

static void
check_key_file(cfg_ctx *ctx, size_t line, const char *what, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		P(ctx, line, "%s: %s: %s", what, path, strerror(errno));
		return;
	}
	cfg_ctx sub = *ctx;
	mox_buf b = MOX_BUF_INIT;
	mox_config_errors tmp = {0};
	sub.errs = &tmp;
	if (read_file(&sub, path, &b, NULL) != MOX_OK) {
		P(ctx, line, "%s: %s: %s", what, path,
		  tmp.n > 0 ? tmp.v[0].msg : "cannot read");
		goto out;
	}
#ifdef MOX_HAVE_DKIM
	mox_dkim_key *key = NULL;
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	if (mox_dkim_key_parse_pem(b.data, b.len, NULL, &key, &info) != MOX_OK)
		P(ctx, line, "%s: %s: %s", what, path,
		  info.msg[0] != '\0' ? info.msg : "not an RSA or ed25519 private key");
	mox_dkim_key_free(key);
#else
	if (b.data == NULL || strstr((const char *)b.data, "-----BEGIN ") == NULL ||
	    strstr((const char *)b.data, "PRIVATE KEY-----") == NULL)
		P(ctx, line, "%s: %s: no PEM private key", what, path);
#endif
out:
	mox_buf_free(&b);
	mox_config_errors_clear(&tmp);
}

static void
check_reportaddr(cfg_ctx *ctx, mox_config_dynamic *d, const mox_cfg_domain *dom,
                 const mox_cfg_reportaddr *r, const char *kind, addrset *addrs)
{
	if (!check_localpart(r->localpart)) {
		P(ctx, LINE(r->node, "Localpart"), "%s: invalid Localpart \"%s\"", kind,
		  r->localpart);
	} else {
		char *a = norm_address(dom, r->localpart);
		if (a == NULL)
			ctx->nomem = true;
		else
			addrset_add(ctx, addrs, a, LINE(r->node, "Localpart"),
			            r->account);
		free(a);
	}
	if (mox_config_account_find(d, r->account) == NULL)
		P(ctx, LINE(r->node, "Account"), "%s: unknown account \"%s\"", kind,
		  r->account);
	if (r->mailbox[0] == '\0')
		P(ctx, LINE(r->node, "Mailbox"), "%s: Mailbox must not be empty", kind);
}

static void
check_dynamic(cfg_ctx *ctx, const mox_config_static *st, mox_config_dynamic *d,
              const char *dir)
{
	addrset addrs = {NULL, 0};

	/* Domains first: accounts refer to them. */
	for (size_t i = 0; i < d->domains.n; i++) {
		mox_cfg_domain *dom = &d->domains.v[i];
		if (!check_domain(ctx, dom->node->line, "domain", dom->name, dom->ascii,
		                  sizeof(dom->ascii)))
			continue;
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->domains.v[j].ascii, dom->ascii) == 0)
				P(ctx, dom->node->line,
				  "duplicate domain %s (also at line %zu)", dom->ascii,
				  d->domains.v[j].node->line);
	}
	for (size_t i = 0; i < d->domains.n; i++) {
		mox_cfg_domain *dom = &d->domains.v[i];
		const mox_sconf_node *n = dom->node;
		if (dom->client_settings_domain[0] != '\0')
			check_domain(ctx, LINE(n, "ClientSettingsDomain"),
			             "ClientSettingsDomain",
			             dom->client_settings_domain, NULL, 0);
		for (size_t j = 0; j < dom->dkim.selectors.n; j++) {
			mox_cfg_selector *sel = &dom->dkim.selectors.v[j];
			mox_errinfo info;
			memset(&info, 0, sizeof(info));
			if (mox_dns_name_check(sel->name, strlen(sel->name), 0,
			                       &info) != MOX_OK ||
			    strchr(sel->name, '.') != NULL)
				P(ctx, sel->node->line,
				  "DKIM selector \"%s\": invalid selector name",
				  sel->name);
			if (strcmp(sel->hash, "sha256") != 0 &&
			    strcmp(sel->hash, "sha1") != 0)
				P(ctx, LINE(sel->node, "Hash"),
				  "DKIM selector %s: Hash must be sha256 or sha1",
				  sel->name);
			if (sel->expiration[0] != '\0') {
				int64_t ns = 0;
				if (mox__cfg_parse_duration(sel->expiration, &ns) !=
				        MOX_OK ||
				    ns <= 0)
					P(ctx, LINE(sel->node, "Expiration"),
					  "DKIM selector %s: bad Expiration \"%s\" (a "
					  "duration such as 72h)",
					  sel->name, sel->expiration);
				sel->expiration_seconds = ns / 1000000000;
			}
			if (sel->headers.n > 0) {
				bool from = false;
				for (size_t k = 0; k < sel->headers.n; k++)
					from |=
					    strcasecmp(sel->headers.v[k], "From") == 0;
				if (!from)
					P(ctx, LINE(sel->node, "Headers"),
					  "DKIM selector %s: Headers must include From "
					  "(RFC 6376 section 5.4)",
					  sel->name);
			}
			make_abs(ctx, dir, &sel->private_key_file);
			check_key_file(ctx, LINE(sel->node, "PrivateKeyFile"),
			               "PrivateKeyFile", sel->private_key_file);
		}
		for (size_t j = 0; j < dom->dkim.sign.n; j++) {
			bool found = false;
			for (size_t k = 0; k < dom->dkim.selectors.n; k++)
				found |= strcmp(dom->dkim.selectors.v[k].name,
				                dom->dkim.sign.v[j]) == 0;
			if (!found)
				P(ctx, ITEM(dom->dkim.node, "Sign", j),
				  "DKIM Sign: unknown selector \"%s\"",
				  dom->dkim.sign.v[j]);
		}
		if (dom->dmarc != NULL)
			check_reportaddr(ctx, d, dom, dom->dmarc, "DMARC", &addrs);
		if (dom->tlsrpt != NULL)
			check_reportaddr(ctx, d, dom, dom->tlsrpt, "TLSRPT", &addrs);
		if (dom->mtasts != NULL) {
			const mox_cfg_mtasts *m = dom->mtasts;
			bool ok = m->policy_id[0] != '\0' && strlen(m->policy_id) <= 32;
			for (const char *p = m->policy_id; *p != '\0'; p++)
				ok &= (*p >= 'a' && *p <= 'z') ||
				      (*p >= 'A' && *p <= 'Z') ||
				      (*p >= '0' && *p <= '9');
			if (!ok) /* RFC 8461 section 3.1: id is 1*32(ALPHA / DIGIT) */
				P(ctx, LINE(m->node, "PolicyID"),
				  "MTASTS: PolicyID must be 1 to 32 letters and digits "
				  "(RFC 8461 section 3.1)");
			static const char *const modes[] = {"testing", "enforce",
			                                    "none", NULL};
			if (!oneof(m->mode, modes))
				P(ctx, LINE(m->node, "Mode"),
				  "MTASTS: Mode must be testing, enforce or none");
			if (m->max_age_ns <= 0)
				P(ctx, LINE(m->node, "MaxAge"),
				  "MTASTS: MaxAge must be positive");
			for (size_t k = 0; k < m->mx.n; k++) {
				const char *mx = m->mx.v[k];
				check_domain(ctx, ITEM(m->node, "MX", k), "MTASTS MX",
				             strncmp(mx, "*.", 2) == 0 ? mx + 2 : mx,
				             NULL, 0);
			}
		}
		check_routes(ctx, st, &dom->routes);
	}

	for (size_t i = 0; i < d->accounts.n; i++) {
		mox_cfg_account *acc = &d->accounts.v[i];
		const mox_sconf_node *n = acc->node;
		/* The name becomes a directory under <data>/accounts. */
		if (acc->name[0] == '\0' || strchr(acc->name, '/') != NULL ||
		    strcmp(acc->name, ".") == 0 || strcmp(acc->name, "..") == 0 ||
		    strchr(acc->name, '\\') != NULL)
			P(ctx, n->line, "account \"%s\": invalid account name",
			  acc->name);
		char domascii[256] = "";
		const mox_cfg_domain *adom = NULL;
		if (check_domain(ctx, LINE(n, "Domain"), "account Domain", acc->domain,
		                 domascii, sizeof(domascii))) {
			adom = find_domain_ascii(d, domascii);
			if (adom == NULL)
				P(ctx, LINE(n, "Domain"),
				  "account %s: unknown domain \"%s\"", acc->name,
				  acc->domain);
		}
		for (size_t j = 0; j < acc->destinations.n; j++) {
			mox_cfg_destination *dst = &acc->destinations.v[j];
			size_t line = dst->node->line;
			const char *at = strrchr(dst->name, '@');
			const mox_cfg_domain *dom = NULL;
			char lp[256];
			if (at == NULL) {
				/* Deprecated: a localpart with the account's domain. */
				dom = adom;
				snprintf(lp, sizeof(lp), "%s", dst->name);
				if (dom == NULL)
					continue;
			} else {
				char ascii[256];
				if (!check_domain(ctx, line, "destination", at + 1,
				                  ascii, sizeof(ascii)))
					continue;
				dom = find_domain_ascii(d, ascii);
				if (dom == NULL) {
					P(ctx, line,
					  "destination %s: unknown domain \"%s\"",
					  dst->name, at + 1);
					continue;
				}
				snprintf(lp, sizeof(lp), "%.*s", (int)(at - dst->name),
				         dst->name);
			}
			if (lp[0] == '\0') {
				/* "@domain": catchall for the domain. */
				size_t an = strlen(dom->ascii) + 2;
				dst->address = malloc(an);
				if (dst->address == NULL) {
					ctx->nomem = true;
					continue;
				}
				snprintf(dst->address, an, "@%s", dom->ascii);
			} else {
				if (!check_localpart(lp)) {
					P(ctx, line,
					  "destination %s: invalid localpart",
					  dst->name);
					continue;
				}
				if (dom->localpart_catchall_separator[0] != '\0' &&
				    strstr(lp, dom->localpart_catchall_separator) !=
				        NULL) {
					P(ctx, line,
					  "destination %s: localpart contains the "
					  "domain's catchall separator \"%s\"",
					  dst->name, dom->localpart_catchall_separator);
					continue;
				}
				dst->address = norm_address(dom, lp);
				if (dst->address == NULL) {
					ctx->nomem = true;
					continue;
				}
			}
			addrset_add(ctx, &addrs, dst->address, line, acc->name);
			for (size_t k = 0; k < dst->rulesets.n; k++) {
				const mox_cfg_ruleset *rs = &dst->rulesets.v[k];
				const mox_sconf_node *rn = rs->node;
				check_regexp(ctx, LINE(rn, "SMTPMailFromRegexp"),
				             "SMTPMailFromRegexp",
				             rs->smtp_mail_from_regexp);
				if (rs->verified_domain[0] != '\0')
					check_domain(ctx, LINE(rn, "VerifiedDomain"),
					             "VerifiedDomain",
					             rs->verified_domain, NULL, 0);
				if (rs->list_allow_domain[0] != '\0')
					check_domain(ctx, LINE(rn, "ListAllowDomain"),
					             "ListAllowDomain",
					             rs->list_allow_domain, NULL, 0);
				for (size_t h = 0; h < rs->headers_regexp.n; h++) {
					const mox_cfg_kv *kv = &rs->headers_regexp.v[h];
					check_regexp(ctx, kv->node->line,
					             "HeadersRegexp key", kv->key);
					check_regexp(ctx, kv->node->line,
					             "HeadersRegexp value", kv->value);
				}
				if (rs->is_forward &&
				    (rs->smtp_mail_from_regexp[0] == '\0' ||
				     rs->verified_domain[0] == '\0' ||
				     rs->list_allow_domain[0] != '\0'))
					P(ctx, LINE(rn, "IsForward"),
					  "IsForward needs SMTPMailFromRegexp and "
					  "VerifiedDomain, and no ListAllowDomain");
				if (rs->smtp_mail_from_regexp[0] == '\0' &&
				    rs->verified_domain[0] == '\0' &&
				    rs->headers_regexp.n == 0)
					P(ctx, rn->line,
					  "ruleset matches nothing: set "
					  "SMTPMailFromRegexp, VerifiedDomain or "
					  "HeadersRegexp");
				if (rs->mailbox[0] == '\0')
					P(ctx, LINE(rn, "Mailbox"),
					  "ruleset: Mailbox must not be empty");
			}
		}
		if (acc->subject_pass.node != NULL && acc->subject_pass.period_ns <= 0)
			P(ctx, LINE(acc->subject_pass.node, "Period"),
			  "SubjectPass: Period must be positive");
		if (acc->automatic_junk_flags.node != NULL) {
			const mox_sconf_node *an = acc->automatic_junk_flags.node;
			check_regexp(ctx, LINE(an, "JunkMailboxRegexp"),
			             "JunkMailboxRegexp",
			             acc->automatic_junk_flags.junk_mailbox_regexp);
			check_regexp(ctx, LINE(an, "NeutralMailboxRegexp"),
			             "NeutralMailboxRegexp",
			             acc->automatic_junk_flags.neutral_mailbox_regexp);
			check_regexp(ctx, LINE(an, "NotJunkMailboxRegexp"),
			             "NotJunkMailboxRegexp",
			             acc->automatic_junk_flags.not_junk_mailbox_regexp);
		}
		if (acc->junk_filter != NULL) {
			const mox_cfg_junkfilter *jf = acc->junk_filter;
			if (jf->threshold <= 0 || jf->threshold > 1)
				P(ctx, LINE(jf->node, "Threshold"),
				  "JunkFilter: Threshold must be between 0 and 1");
			if (jf->params.node != NULL && jf->params.top_words <= 0)
				P(ctx, LINE(jf->params.node, "TopWords"),
				  "JunkFilter: TopWords must be positive");
		}
		check_routes(ctx, st, &acc->routes);
	}

	/* The postmaster account is named in mox.conf. */
	if (st != NULL && mox_config_account_find(d, st->postmaster.account) == NULL) {
		cfg_ctx sctx = *ctx;
		sctx.file = st->path;
		P(&sctx, LINE(st->postmaster.node, "Account"),
		  "Postmaster: unknown account \"%s\"", st->postmaster.account);
		ctx->nomem |= sctx.nomem;
	}

	for (size_t i = 0; i < d->web_domain_redirects.n; i++) {
		const mox_cfg_kv *kv = &d->web_domain_redirects.v[i];
		check_domain(ctx, kv->node->line, "WebDomainRedirects", kv->key, NULL,
		             0);
		check_domain(ctx, kv->node->line, "WebDomainRedirects", kv->value, NULL,
		             0);
	}
	for (size_t i = 0; i < d->web_handlers.n; i++) {
		const mox_cfg_webhandler *wh = &d->web_handlers.v[i];
		const mox_sconf_node *n = wh->node;
		check_domain(ctx, LINE(n, "Domain"), "WebHandler Domain", wh->domain,
		             NULL, 0);
		if (wh->path_regexp[0] != '^')
			P(ctx, LINE(n, "PathRegexp"),
			  "WebHandler: PathRegexp must start with ^");
		check_regexp(ctx, LINE(n, "PathRegexp"), "PathRegexp", wh->path_regexp);
		int kinds = (wh->web_static != NULL) + (wh->web_redirect != NULL) +
		            (wh->web_forward != NULL);
		if (kinds != 1)
			P(ctx, n->line,
			  "WebHandler: exactly one of WebStatic, WebRedirect, "
			  "WebForward must be set");
		if (wh->web_forward != NULL &&
		    strncmp(wh->web_forward->url, "http://", 7) != 0 &&
		    strncmp(wh->web_forward->url, "https://", 8) != 0)
			P(ctx, LINE(wh->web_forward->node, "URL"),
			  "WebForward: URL must be http:// or https://");
		if (wh->web_redirect != NULL) {
			const struct mox_cfg_webredirect *r = wh->web_redirect;
			if (r->base_url[0] == '\0' && (r->orig_path_regexp[0] == '\0' ||
			                               r->replace_path[0] == '\0'))
				P(ctx, r->node->line,
				  "WebRedirect: BaseURL, or OrigPathRegexp and "
				  "ReplacePath, must be set");
			check_regexp(ctx, LINE(r->node, "OrigPathRegexp"),
			             "OrigPathRegexp", r->orig_path_regexp);
			if (r->status_code < 300 || r->status_code > 399)
				P(ctx, LINE(r->node, "StatusCode"),
				  "WebRedirect: StatusCode must be 3xx");
		}
	}
	check_routes(ctx, st, &d->routes);
	addrset_check(ctx, &addrs);
}

static void
dynamic_free(mox_config_dynamic *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->accounts.n; i++)
		for (size_t j = 0; j < d->accounts.v[i].destinations.n; j++)
			free(d->accounts.v[i].destinations.v[j].address);
	mox__cfg_free(&mox__cfg_dynamic_schema, d);
	free(d->path);
	mox_sconf_free(d->doc);
	free(d);
}

void
mox_config_dynamic_unref(mox_config_dynamic *d)
{
	if (d == NULL)
		return;
	if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
		dynamic_free(d);
}

mox_err
mox_config_dynamic_parse(const mox_config_static *st, const char *path,
                         const char *text, size_t len, mox_config_dynamic **dyn_out,
                         mox_config_errors *errs)
{
	cfg_ctx ctx = {errs, path, false};
	size_t before = errs->nerrors;
	mox_err rc;
	*dyn_out = NULL;
	mox_sconf_doc *doc = parse_doc(&ctx, path, text, len, &rc);
	if (doc == NULL)
		return rc;
	mox_config_dynamic *d = calloc(1, sizeof(*d));
	char *dir = dir_of(path);
	if (d == NULL || dir == NULL || (d->path = strdup(path)) == NULL) {
		free(dir);
		if (d != NULL)
			d->doc = doc;
		else
			mox_sconf_free(doc);
		dynamic_free(d);
		return MOX_ENOMEM;
	}
	d->doc = doc;
	atomic_init(&d->refs, 1);
	mox__cfg_decode(&ctx, &mox__cfg_dynamic_schema, d, &doc->root);
	if (!ctx.nomem)
		check_dynamic(&ctx, st, d, dir);
	free(dir);
	if (ctx.nomem || errs->nerrors > before) {
		dynamic_free(d);
		return ctx.nomem ? MOX_ENOMEM : MOX_ESYNTAX;
	}
	*dyn_out = d;
	return MOX_OK;
}

mox_err
mox_config_dynamic_load(const mox_config_static *st, const char *path,
                        mox_config_dynamic **dyn_out, mox_config_errors *errs)
{
	cfg_ctx ctx = {errs, path, false};
	mox_buf b = MOX_BUF_INIT;
	struct stat sb;
	*dyn_out = NULL;
	mox_err rc = read_file(&ctx, path, &b, &sb);
	if (rc == MOX_OK)
		rc = mox_config_dynamic_parse(st, path, (const char *)b.data, b.len,
		                              dyn_out, errs);
	if (rc == MOX_OK) {
		(*dyn_out)->mtime = sb.st_mtim;
		(*dyn_out)->ino = sb.st_ino;
		(*dyn_out)->size = sb.st_size;
	}
	mox_buf_free(&b);
	return rc;
}

char *
mox_config_domains_path(const char *static_path)
{
	char *dir = dir_of(static_path);
	if (dir == NULL)
		return NULL;
	size_t n = strlen(dir) + sizeof("/domains.conf");
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/domains.conf", dir);
	free(dir);
	return p;
}

const char *
mox_config_default_path(void)
{
	const char *e = getenv("MOXCONF");
	return e != NULL && e[0] != '\0' ? e : "config/mox.conf";
}

const mox_cfg_account *
mox_config_address_find(const mox_config_dynamic *d, const char *address,
                        const mox_cfg_destination **dest_out)
{
	if (dest_out != NULL)
		*dest_out = NULL;
	const char *at = strrchr(address, '@');
	if (at == NULL)
		return NULL;
	const mox_cfg_domain *dom = mox_config_domain_find(d, at + 1);
	if (dom == NULL)
		return NULL;
	char lp[256];
	snprintf(lp, sizeof(lp), "%.*s", (int)(at - address), address);
	if (dom->localpart_catchall_separator[0] != '\0') {
		char *sep = strstr(lp, dom->localpart_catchall_separator);
		if (sep != NULL)
			*sep = '\0';
	}
	char *want = lp[0] != '\0' ? norm_address(dom, lp) : NULL;
	char catchall[258];
	snprintf(catchall, sizeof(catchall), "@%s", dom->ascii);
	const mox_cfg_account *found = NULL;
	for (int pass = 0; pass < 2 && found == NULL; pass++) {
		const char *target = pass == 0 ? want : catchall;
		if (target == NULL)
			continue;
		for (size_t i = 0; i < d->accounts.n && found == NULL; i++)
			for (size_t j = 0; j < d->accounts.v[i].destinations.n; j++) {
				const mox_cfg_destination *dst =
				    &d->accounts.v[i].destinations.v[j];
				if (dst->address != NULL &&
				    strcmp(dst->address, target) == 0) {
					found = &d->accounts.v[i];
					if (dest_out != NULL)
						*dest_out = dst;
					break;
				}
			}
	}
	free(want);
	return found;
}

/* ---- live reload ---- */

void
mox_config_live_init(mox_config_live *live, const mox_config_static *st,
                     mox_config_dynamic *dyn)
{
	pthread_mutex_init(&live->mu, NULL);
	live->cur = dyn;
	live->st = st;
}

void
mox_config_live_destroy(mox_config_live *live)
{
	mox_config_dynamic_unref(live->cur);
	live->cur = NULL;
	pthread_mutex_destroy(&live->mu);
}

mox_config_dynamic *
mox_config_live_get(mox_config_live *live)
{
	pthread_mutex_lock(&live->mu);
	mox_config_dynamic *d = live->cur;
	if (d != NULL)
		atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&live->mu);
	return d;
}

void
mox_config_live_swap(mox_config_live *live, mox_config_dynamic *dyn)
{
	pthread_mutex_lock(&live->mu);
	mox_config_dynamic *old = live->cur;
	live->cur = dyn;
	pthread_mutex_unlock(&live->mu);
	mox_config_dynamic_unref(old);
}

mox_err
mox_config_live_reload(mox_config_live *live, bool *reloaded_out,
                       mox_config_errors *errs)
{
	*reloaded_out = false;
	mox_config_dynamic *cur = mox_config_live_get(live);
	if (cur == NULL)
		return MOX_ESTATE;
	struct stat sb;
	mox_err rc = MOX_OK;
	if (stat(cur->path, &sb) != 0) {
		cfg_ctx ctx = {errs, cur->path, false};
		P(&ctx, 0, "stat: %s", strerror(errno));
		rc = MOX_EIO;
		goto out;
	}
	if (sb.st_mtim.tv_sec == cur->mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == cur->mtime.tv_nsec && sb.st_ino == cur->ino &&
	    sb.st_size == cur->size)
		goto out;
	mox_config_dynamic *d = NULL;
	rc = mox_config_dynamic_load(live->st, cur->path, &d, errs);
	if (rc != MOX_OK)
		goto out;
	mox_config_live_swap(live, d);
	*reloaded_out = true;
out:
	mox_config_dynamic_unref(cur);
	return rc;
}

/* ---- atomic write and edits ---- */

mox_err
mox_config_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	size_t n = strlen(path) + 48;
	char *tmp = malloc(n);
	if (tmp == NULL)
		return MOX_ENOMEM;
	/* Unique per process and call: edits may run on several threads. */
	static atomic_uint seq;
	snprintf(tmp, n, "%s.tmp%ld.%u", path, (long)getpid(),
	         atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed));
	mox_err rc = MOX_EIO;
	struct stat sb;
	if (stat(path, &sb) == 0)
		mode = sb.st_mode & 07777;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto out;
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	char *dir = dir_of(path);
	if (dir == NULL) {
		rc = MOX_ENOMEM;
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd >= 0) {
		int fr = fsync(dfd);
		close(dfd);
		if (fr != 0)
			goto out;
	}
	rc = MOX_OK;
out:
	free(tmp);
	return rc;
}

/* A fresh copy of cur's tree to edit. */
static mox_err
edit_begin(const mox_config_dynamic *cur, mox_sconf_doc **doc_out)
{
	mox_buf b = MOX_BUF_INIT;
	mox_err rc = mox_sconf_write(cur->doc, &b);
	if (rc == MOX_OK)
		rc = mox_sconf_parse(b.data != NULL ? (const char *)b.data : "", b.len,
		                     cur->path, doc_out, NULL);
	mox_buf_free(&b);
	return rc;
}

/* Check the edited tree as a load does, write it and return the config. */
static mox_err
edit_finish(const mox_config_static *st, const mox_config_dynamic *cur,
            mox_sconf_doc *doc, mox_config_dynamic **new_out, mox_config_errors *errs)
{
	mox_buf b = MOX_BUF_INIT;
	mox_err rc = mox_sconf_write(doc, &b);
	mox_sconf_free(doc);
	if (rc != MOX_OK)
		goto out;
	const char *text = b.data != NULL ? (const char *)b.data : "";
	rc = mox_config_dynamic_parse(st, cur->path, text, b.len, new_out, errs);
	if (rc != MOX_OK)
		goto out;
	rc = mox_config_write_atomic(cur->path, text, b.len, 0600);
	if (rc != MOX_OK) {
		cfg_ctx ctx = {errs, cur->path, false};
		P(&ctx, 0, "writing: %s", strerror(errno));
		mox_config_dynamic_unref(*new_out);
		*new_out = NULL;
		goto out;
	}
	struct stat sb;
	if (stat(cur->path, &sb) == 0) {
		(*new_out)->mtime = sb.st_mtim;
		(*new_out)->ino = sb.st_ino;
		(*new_out)->size = sb.st_size;
	}
out:
	mox_buf_free(&b);
	return rc;
}

static mox_err edit_fail(mox_sconf_doc *doc, mox_config_errors *errs, const char *path,
                         mox_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static mox_err
edit_fail(mox_sconf_doc *doc, mox_config_errors *errs, const char *path, mox_err code,
          const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cfg_ctx ctx = {errs, path, false};
	P(&ctx, 0, "%s", buf);
	mox_sconf_free(doc);
	return code;
}

/* The node of a top-level map ("Accounts", "Domains"), created if absent. */
static mox_err
top_map(mox_sconf_doc *doc, const char *name, mox_sconf_node **out)
{
	*out = mox_sconf_child(&doc->root, name);
	if (*out != NULL)
		return MOX_OK;
	return mox_sconf_add(&doc->root, NULL, MOX_SCONF_KEY, name, "", NULL, out);
}

static bool
valid_key_text(const char *s)
{
	if (s[0] == '\0' || s[0] == ' ' || s[0] == '#' || s[0] == '-')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < ' ' || *p == ':' || *p == 0x7f)
			return false;
	return true;
}

mox_err
mox_config_account_add(const mox_config_static *st, const mox_config_dynamic *cur,
                       const char *account, const char *address,
                       mox_config_dynamic **new_out, mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	if (!valid_key_text(account) || !valid_key_text(address))
		return edit_fail(doc, errs, cur->path, MOX_EINVAL,
		                 "invalid account name or address");
	if (mox_config_account_find(cur, account) != NULL)
		return edit_fail(doc, errs, cur->path, MOX_EEXIST,
		                 "account %s already exists", account);
	const char *at = strrchr(address, '@');
	if (at == NULL || at == address)
		return edit_fail(doc, errs, cur->path, MOX_EINVAL,
		                 "address %s: need localpart@domain", address);
	mox_sconf_node *accounts = NULL, *acc = NULL, *dests = NULL, *n = NULL;
	if ((rc = top_map(doc, "Accounts", &accounts)) != MOX_OK ||
	    (rc = mox_sconf_add(accounts, NULL, MOX_SCONF_KEY, account, "", NULL,
	                        &acc)) != MOX_OK ||
	    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "Domain", at + 1, NULL,
	                        NULL)) != MOX_OK ||
	    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "Destinations", "", NULL,
	                        &dests)) != MOX_OK ||
	    (rc = mox_sconf_add(dests, NULL, MOX_SCONF_KEY, address, "nil", NULL,
	                        &n)) != MOX_OK ||
	    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "RejectsMailbox", "Rejects",
	                        NULL, NULL)) != MOX_OK) {
		mox_sconf_free(doc);
		return rc;
	}
	return edit_finish(st, cur, doc, new_out, errs);
}

mox_err
mox_config_account_remove(const mox_config_static *st, const mox_config_dynamic *cur,
                          const char *account, mox_config_dynamic **new_out,
                          mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	mox_sconf_node *acc =
	    mox_sconf_child(mox_sconf_child(&doc->root, "Accounts"), account);
	if (acc == NULL)
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND, "no account %s",
		                 account);
	if (st != NULL && strcmp(st->postmaster.account, account) == 0)
		return edit_fail(doc, errs, cur->path, MOX_EINVAL,
		                 "account %s is the postmaster account in mox.conf",
		                 account);
	mox_sconf_remove(acc);
	return edit_finish(st, cur, doc, new_out, errs);
}

mox_err
mox_config_address_add(const mox_config_static *st, const mox_config_dynamic *cur,
                       const char *address, const char *account,
                       mox_config_dynamic **new_out, mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	if (!valid_key_text(address) || strchr(address, '@') == NULL)
		return edit_fail(doc, errs, cur->path, MOX_EINVAL,
		                 "address %s: need localpart@domain or @domain",
		                 address);
	mox_sconf_node *acc =
	    mox_sconf_child(mox_sconf_child(&doc->root, "Accounts"), account);
	if (acc == NULL)
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND, "no account %s",
		                 account);
	mox_sconf_node *dests = mox_sconf_child(acc, "Destinations");
	if (dests == NULL &&
	    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "Destinations", "", NULL,
	                        &dests)) != MOX_OK) {
		mox_sconf_free(doc);
		return rc;
	}
	/* The load after the edit reports a duplicate, with its line; say it
	 * plainly here first. */
	if (mox_config_address_find(cur, address, NULL) != NULL && address[0] != '@') {
		const mox_cfg_destination *dst = NULL;
		mox_config_address_find(cur, address, &dst);
		if (dst != NULL && dst->address != NULL && dst->address[0] != '@')
			return edit_fail(doc, errs, cur->path, MOX_EEXIST,
			                 "address %s already configured", address);
	}
	if ((rc = mox_sconf_add(dests, NULL, MOX_SCONF_KEY, address, "nil", NULL,
	                        NULL)) != MOX_OK) {
		mox_sconf_free(doc);
		return rc;
	}
	return edit_finish(st, cur, doc, new_out, errs);
}

mox_err
mox_config_address_remove(const mox_config_static *st, const mox_config_dynamic *cur,
                          const char *address, mox_config_dynamic **new_out,
                          mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	/* Find the account and destination key as written (the key may differ
	 * from the given address in case or IDNA form). */
	const mox_cfg_account *acc = NULL;
	const mox_cfg_destination *dst = NULL;
	for (size_t i = 0; i < cur->accounts.n && dst == NULL; i++)
		for (size_t j = 0; j < cur->accounts.v[i].destinations.n; j++) {
			const mox_cfg_destination *dd =
			    &cur->accounts.v[i].destinations.v[j];
			if (strcmp(dd->name, address) == 0) {
				acc = &cur->accounts.v[i];
				dst = dd;
				break;
			}
		}
	if (dst == NULL)
		acc = mox_config_address_find(cur, address, &dst);
	if (dst == NULL ||
	    (address[0] != '@' && dst->address != NULL && dst->address[0] == '@'))
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND,
		                 "address %s not configured", address);
	if (acc->destinations.n == 1)
		return edit_fail(
		    doc, errs, cur->path, MOX_EINVAL,
		    "address %s is the last of account %s; remove the account instead",
		    address, acc->name);
	mox_sconf_node *an =
	    mox_sconf_child(mox_sconf_child(&doc->root, "Accounts"), acc->name);
	mox_sconf_node *dn =
	    mox_sconf_child(mox_sconf_child(an, "Destinations"), dst->name);
	if (dn == NULL)
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND,
		                 "address %s not configured", address);
	mox_sconf_remove(dn);
	return edit_finish(st, cur, doc, new_out, errs);
}

mox_err
mox_config_domain_add(const mox_config_static *st, const mox_config_dynamic *cur,
                      const char *domain, const char *account, const char *localpart,
                      mox_config_dynamic **new_out, mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	if (!valid_key_text(domain) || !valid_key_text(account))
		return edit_fail(doc, errs, cur->path, MOX_EINVAL,
		                 "invalid domain or account name");
	if (mox_config_domain_find(cur, domain) != NULL)
		return edit_fail(doc, errs, cur->path, MOX_EEXIST,
		                 "domain %s already exists", domain);
	bool newacc = mox_config_account_find(cur, account) == NULL;
	if (newacc && localpart == NULL)
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND,
		                 "no account %s (give a localpart to create it)",
		                 account);
	mox_sconf_node *domains = NULL;
	if ((rc = top_map(doc, "Domains", &domains)) != MOX_OK ||
	    (rc = mox_sconf_add(domains, NULL, MOX_SCONF_KEY, domain, "nil", NULL,
	                        NULL)) != MOX_OK) {
		mox_sconf_free(doc);
		return rc;
	}
	if (newacc) {
		char addr[512];
		snprintf(addr, sizeof(addr), "%s@%s", localpart, domain);
		mox_sconf_node *accounts = NULL, *acc = NULL, *dests = NULL;
		if ((rc = top_map(doc, "Accounts", &accounts)) != MOX_OK ||
		    (rc = mox_sconf_add(accounts, NULL, MOX_SCONF_KEY, account, "",
		                        NULL, &acc)) != MOX_OK ||
		    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "Domain", domain,
		                        NULL, NULL)) != MOX_OK ||
		    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "Destinations", "",
		                        NULL, &dests)) != MOX_OK ||
		    (rc = mox_sconf_add(dests, NULL, MOX_SCONF_KEY, addr, "nil", NULL,
		                        NULL)) != MOX_OK ||
		    (rc = mox_sconf_add(acc, NULL, MOX_SCONF_KEY, "RejectsMailbox",
		                        "Rejects", NULL, NULL)) != MOX_OK) {
			mox_sconf_free(doc);
			return rc;
		}
	}
	return edit_finish(st, cur, doc, new_out, errs);
}

mox_err
mox_config_domain_remove(const mox_config_static *st, const mox_config_dynamic *cur,
                         const char *domain, mox_config_dynamic **new_out,
                         mox_config_errors *errs)
{
	*new_out = NULL;
	mox_sconf_doc *doc = NULL;
	mox_err rc = edit_begin(cur, &doc);
	if (rc != MOX_OK)
		return rc;
	const mox_cfg_domain *dom = mox_config_domain_find(cur, domain);
	if (dom == NULL)
		return edit_fail(doc, errs, cur->path, MOX_ENOTFOUND, "no domain %s",
		                 domain);
	/* As mox: refuse while accounts still use the domain. */
	for (size_t i = 0; i < cur->accounts.n; i++) {
		const mox_cfg_account *acc = &cur->accounts.v[i];
		const mox_cfg_domain *ad = mox_config_domain_find(cur, acc->domain);
		bool uses = ad == dom;
		for (size_t j = 0; j < acc->destinations.n && !uses; j++) {
			const char *a = acc->destinations.v[j].address;
			const char *at = a != NULL ? strrchr(a, '@') : NULL;
			uses = at != NULL && strcmp(at + 1, dom->ascii) == 0;
		}
		if (uses)
			return edit_fail(doc, errs, cur->path, MOX_ESTATE,
			                 "domain %s is still used by account %s",
			                 domain, acc->name);
	}
	mox_sconf_remove(
	    mox_sconf_child(mox_sconf_child(&doc->root, "Domains"), dom->name));
	return edit_finish(st, cur, doc, new_out, errs);
}
