/* quickstart.c -- "mox quickstart": a working configuration for one domain
 * and one account, as mox's quickstart makes it:
 *
 *   mox quickstart [-dir DIR] [-existing-webserver] [-hostname HOST]
 *                  [-ip IP]... user@domain [user|uid]
 *
 * writes DIR/config/mox.conf and DIR/config/domains.conf (never over
 * existing files), DKIM keys for the domain (ed25519 and RSA 2048, both
 * signing, RFC 8463 and RFC 6376), a self-signed certificate for the host
 * (ACME is not supported yet: replace it with a CA-signed one), creates
 * the account in DIR/data with a generated password (printed once, stored
 * only as derived secrets by libmoxstore), checks the result as "mox
 * config test" does, and prints the DNS records and a systemd unit.
 */
#define _DEFAULT_SOURCE /* realpath */
#include "config.h"
#include "quickstart.h"
#include "commands.h"
#include "tls.h"

#include <mox/dkim.h>
#include <mox/dns.h>
#include <mox/store.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_IPS 8

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mox quickstart [-dir DIR] [-existing-webserver] [-hostname HOST]\n"
	    "                      [-ip IP]... user@domain [user|uid]\n");
}

static int
write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "mox quickstart: %s: %s\n", path, strerror(errno));
		return -1;
	}
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "mox quickstart: writing %s: %s\n", path,
			        strerror(errno));
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "mox quickstart: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* 18 characters from an alphabet without look-alikes: ~100 bits. */
static int
gen_password(char *out, size_t outlen)
{
	static const char alphabet[] =
	    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[64];
	size_t n = 18 < outlen - 1 ? 18 : outlen - 1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	size_t j = 0;
	for (size_t i = 0; i < sizeof(rnd) && j < n; i++) {
		/* Rejection sampling keeps the distribution uniform. */
		unsigned lim = 256 - 256 % (sizeof(alphabet) - 1);
		if (rnd[i] < lim)
			out[j++] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	}
	mox_mem_wipe(rnd, sizeof(rnd));
	out[j] = '\0';
	return j == n ? 0 : -1;
}

static int
gen_key(const char *path, mox_dkim_key_type type, const char *note)
{
	mox_dkim_key *key = NULL;
	mox_buf pem = MOX_BUF_INIT;
	int ret = -1;
	mox_err rc = mox_dkim_key_generate(type, 2048, NULL, &key);
	if (rc == MOX_OK)
		rc = mox_dkim_key_write_pem(key, note, &pem);
	if (rc != MOX_OK) {
		fprintf(stderr, "mox quickstart: generating DKIM key: %s\n",
		        mox_strerror(rc));
		goto out;
	}
	ret = write_new(path, pem.data, pem.len, 0600);
out:
	if (pem.data != NULL)
		mox_mem_wipe(pem.data, pem.len);
	mox_buf_free(&pem);
	mox_dkim_key_free(key);
	return ret;
}

int
mox_quickstart_main(int argc, char **argv)
{
	const char *dir = ".", *hostname = NULL;
	const char *ips[MAX_IPS];
	size_t nips = 0;
	bool existing_webserver = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (a[1] == '-')
			a++;
		if (strcmp(a, "-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(a, "-hostname") == 0 && i + 1 < argc)
			hostname = argv[++i];
		else if (strcmp(a, "-ip") == 0 && i + 1 < argc && nips < MAX_IPS)
			ips[nips++] = argv[++i];
		else if (strcmp(a, "-existing-webserver") == 0)
			existing_webserver = true;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (argc - i < 1 || argc - i > 2) {
		usage(stderr);
		return 2;
	}
	const char *address = argv[i];
	const char *user = argc - i == 2 ? argv[i + 1] : "mox";
	const char *at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0' ||
	    (size_t)(at - address) > 64) {
		fprintf(stderr, "mox quickstart: need an address: user@domain\n");
		return 2;
	}
	char localpart[65], domain[256], host[256];
	snprintf(localpart, sizeof(localpart), "%.*s", (int)(at - address), address);
	for (const char *c = localpart; *c != '\0'; c++)
		if (*c <= ' ' || *c == ':' || *c == '/' || *c == '"' || *c == '\\') {
			fprintf(
			    stderr,
			    "mox quickstart: localpart %s cannot be an account name\n",
			    localpart);
			return 2;
		}
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	if (mox_dns_name_to_ascii(at + 1, domain, sizeof(domain), &info) != MOX_OK ||
	    mox_dns_name_check(domain, strlen(domain), MOX_DNS_NAME_HOST, &info) !=
	        MOX_OK) {
		fprintf(stderr, "mox quickstart: bad domain %s: %s\n", at + 1,
		        info.msg);
		return 2;
	}
	if (hostname == NULL)
		snprintf(host, sizeof(host), "mail.%s", domain);
	else if (mox_dns_name_to_ascii(hostname, host, sizeof(host), &info) != MOX_OK ||
	         mox_dns_name_check(host, strlen(host), MOX_DNS_NAME_HOST, &info) !=
	             MOX_OK) {
		fprintf(stderr, "mox quickstart: bad hostname %s: %s\n", hostname,
		        info.msg);
		return 2;
	}
	if (nips == 0) {
		ips[nips++] = "0.0.0.0";
		ips[nips++] = "::";
	}

	char cfgdir[4096], datadir[4096], path[4200], path2[4200];
	snprintf(cfgdir, sizeof(cfgdir), "%s/config", dir);
	snprintf(datadir, sizeof(datadir), "%s/data", dir);
	snprintf(path, sizeof(path), "%s/mox.conf", cfgdir);
	snprintf(path2, sizeof(path2), "%s/domains.conf", cfgdir);
	if (access(path, F_OK) == 0 || access(path2, F_OK) == 0) {
		fprintf(stderr,
		        "mox quickstart: %s or %s already exists; not overwriting\n",
		        path, path2);
		return 1;
	}
	char dkimdir[4200];
	snprintf(dkimdir, sizeof(dkimdir), "%s/dkim", cfgdir);
	if (mkdirs(cfgdir, 0750) != 0 || mkdirs(dkimdir, 0750) != 0 ||
	    mkdirs(datadir, 0750) != 0) {
		fprintf(stderr, "mox quickstart: creating directories in %s: %s\n", dir,
		        strerror(errno));
		return 1;
	}

	/* DKIM keys: selectors <year>a (ed25519) and <year>b (RSA 2048). */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char sel_ed[16], sel_rsa[16], keyrel_ed[400], keyrel_rsa[400];
	snprintf(sel_ed, sizeof(sel_ed), "%04da", tm.tm_year + 1900);
	snprintf(sel_rsa, sizeof(sel_rsa), "%04db", tm.tm_year + 1900);
	snprintf(keyrel_ed, sizeof(keyrel_ed),
	         "dkim/%s.%s.ed25519.privatekey.pkcs8.pem", sel_ed, domain);
	snprintf(keyrel_rsa, sizeof(keyrel_rsa),
	         "dkim/%s.%s.rsa2048.privatekey.pkcs8.pem", sel_rsa, domain);
	char keypath[4700], note[400];
	snprintf(keypath, sizeof(keypath), "%s/%s", cfgdir, keyrel_ed);
	snprintf(note, sizeof(note), "ed25519 DKIM key for %s, selector %s", domain,
	         sel_ed);
	if (gen_key(keypath, MOX_DKIM_KEY_ED25519, note) != 0)
		return 1;
	snprintf(keypath, sizeof(keypath), "%s/%s", cfgdir, keyrel_rsa);
	snprintf(note, sizeof(note), "rsa2048 DKIM key for %s, selector %s", domain,
	         sel_rsa);
	if (gen_key(keypath, MOX_DKIM_KEY_RSA, note) != 0)
		return 1;

	/* TLS: a self-signed certificate until ACME is supported. */
	char certrel[600], keycrel[600], certpath[4800], keycpath[4800], err[256];
	snprintf(certrel, sizeof(certrel), "tls/%s.crt.pem", host);
	snprintf(keycrel, sizeof(keycrel), "tls/%s.key.pem", host);
	snprintf(certpath, sizeof(certpath), "%s/tls", cfgdir);
	if (mkdirs(certpath, 0750) != 0) {
		fprintf(stderr, "mox quickstart: %s: %s\n", certpath, strerror(errno));
		return 1;
	}
	snprintf(certpath, sizeof(certpath), "%s/%s", cfgdir, certrel);
	snprintf(keycpath, sizeof(keycpath), "%s/%s", cfgdir, keycrel);
	char autoconfig[300], mtasts[300];
	snprintf(autoconfig, sizeof(autoconfig), "autoconfig.%s", domain);
	snprintf(mtasts, sizeof(mtasts), "mta-sts.%s", domain);
	const char *names[] = {host, autoconfig, mtasts};
	if (tls_selfsigned_write(certpath, keycpath, names, 3, err, sizeof(err)) != 0) {
		fprintf(stderr, "mox quickstart: certificate: %s\n", err);
		return 1;
	}

	/* mox.conf */
	mox_buf s = MOX_BUF_INIT;
	mox_buf_appendf(
	    &s,
	    "# Static configuration of mox, made by \"mox quickstart\". See\n"
	    "# \"mox config describe-static\" for all fields. Changes need a restart.\n"
	    "\n"
	    "# Relative to this file's directory.\n"
	    "DataDir: ../data\n"
	    "User: %s\n"
	    "LogLevel: info\n"
	    "Hostname: %s\n"
	    "Listeners:\n"
	    "\tinternal:\n"
	    "\t\tIPs:\n"
	    "\t\t\t- 127.0.0.1\n"
	    "\t\t\t- ::1\n"
	    "\t\tHostname: localhost\n"
	    "\t\tAccountHTTP:\n"
	    "\t\t\tEnabled: true\n"
	    "\t\tAdminHTTP:\n"
	    "\t\t\tEnabled: true\n"
	    "\t\tMetricsHTTP:\n"
	    "\t\t\tEnabled: true\n"
	    "\tpublic:\n"
	    "\t\tIPs:\n",
	    user, host);
	for (size_t k = 0; k < nips; k++)
		mox_buf_appendf(&s, "\t\t\t- %s\n", ips[k]);
	mox_buf_appendf(
	    &s,
	    "\t\t# Self-signed until ACME is supported: replace with a certificate\n"
	    "\t\t# from a certificate authority for %s.\n"
	    "\t\tTLS:\n"
	    "\t\t\tKeyCerts:\n"
	    "\t\t\t\t-\n"
	    "\t\t\t\t\tCertFile: %s\n"
	    "\t\t\t\t\tKeyFile: %s\n"
	    "\t\tSMTP:\n"
	    "\t\t\tEnabled: true\n"
	    "\t\tSubmissions:\n"
	    "\t\t\tEnabled: true\n"
	    "\t\tIMAPS:\n"
	    "\t\t\tEnabled: true\n",
	    host, certrel, keycrel);
	if (!existing_webserver)
		mox_buf_appendf(&s, "\t\tAutoconfigHTTPS:\n"
		                    "\t\t\tEnabled: true\n"
		                    "\t\tMTASTSHTTPS:\n"
		                    "\t\t\tEnabled: true\n"
		                    "\t\tWebserverHTTP:\n"
		                    "\t\t\tEnabled: true\n"
		                    "\t\tWebserverHTTPS:\n"
		                    "\t\t\tEnabled: true\n");
	else
		mox_buf_appendf(
		    &s,
		    "\t\t# An existing webserver serves ports 80/443: it must\n"
		    "\t\t# forward autoconfig.%s and mta-sts.%s here.\n"
		    "\t\tAutoconfigHTTPS:\n"
		    "\t\t\tEnabled: true\n"
		    "\t\t\tPort: 81\n"
		    "\t\t\tNonTLS: true\n"
		    "\t\tMTASTSHTTPS:\n"
		    "\t\t\tEnabled: true\n"
		    "\t\t\tPort: 81\n"
		    "\t\t\tNonTLS: true\n",
		    domain, domain);
	mox_err brc = mox_buf_appendf(&s,
	                              "Postmaster:\n"
	                              "\tAccount: %s\n"
	                              "\tMailbox: Postmaster\n",
	                              localpart);

	/* domains.conf */
	mox_buf d = MOX_BUF_INIT;
	char policyid[32];
	strftime(policyid, sizeof(policyid), "%Y%m%dT%H%M%S", &tm);
	mox_buf_appendf(
	    &d,
	    "# Domains and accounts, made by \"mox quickstart\". Reloaded when it\n"
	    "# changes; \"mox config describe-domains\" lists all fields.\n"
	    "Domains:\n"
	    "\t%s:\n"
	    "\t\tLocalpartCatchallSeparator: +\n"
	    "\t\tDKIM:\n"
	    "\t\t\tSelectors:\n"
	    "\t\t\t\t%s:\n"
	    "\t\t\t\t\tExpiration: 72h\n"
	    "\t\t\t\t\tPrivateKeyFile: %s\n"
	    "\t\t\t\t%s:\n"
	    "\t\t\t\t\tExpiration: 72h\n"
	    "\t\t\t\t\tPrivateKeyFile: %s\n"
	    "\t\t\tSign:\n"
	    "\t\t\t\t- %s\n"
	    "\t\t\t\t- %s\n"
	    "\t\tDMARC:\n"
	    "\t\t\tLocalpart: dmarc-reports\n"
	    "\t\t\tAccount: %s\n"
	    "\t\t\tMailbox: DMARC\n"
	    "\t\t# Mode testing while the certificate is self-signed; set it to\n"
	    "\t\t# enforce (and change PolicyID and its DNS record) with a CA-signed "
	    "one.\n"
	    "\t\tMTASTS:\n"
	    "\t\t\tPolicyID: %s\n"
	    "\t\t\tMode: testing\n"
	    "\t\t\tMaxAge: 24h\n"
	    "\t\t\tMX:\n"
	    "\t\t\t\t- %s\n"
	    "\t\tTLSRPT:\n"
	    "\t\t\tLocalpart: tls-reports\n"
	    "\t\t\tAccount: %s\n"
	    "\t\t\tMailbox: TLSRPT\n"
	    "Accounts:\n"
	    "\t%s:\n"
	    "\t\tDomain: %s\n"
	    "\t\tDestinations:\n"
	    "\t\t\t%s@%s: nil\n"
	    "\t\tRejectsMailbox: Rejects\n"
	    "\t\tJunkFilter:\n"
	    "\t\t\tThreshold: 0.950000\n"
	    "\t\t\tParams:\n"
	    "\t\t\t\tOnegrams: true\n"
	    "\t\t\t\tMaxPower: 0.010000\n"
	    "\t\t\t\tTopWords: 10\n"
	    "\t\t\t\tIgnoreWords: 0.100000\n"
	    "\t\t\t\tRareWords: 2\n",
	    domain, sel_ed, keyrel_ed, sel_rsa, keyrel_rsa, sel_ed, sel_rsa, localpart,
	    policyid, host, localpart, localpart, domain, localpart, domain);
	if (brc != MOX_OK || s.data == NULL || d.data == NULL ||
	    write_new(path, s.data, s.len, 0640) != 0 ||
	    write_new(path2, d.data, d.len, 0640) != 0) {
		mox_buf_free(&s);
		mox_buf_free(&d);
		return 1;
	}
	mox_buf_free(&s);
	mox_buf_free(&d);

	/* Check what we wrote exactly as "mox config test" would. A user that
	 * does not exist yet is expected: say how to add it. */
	bool have_user =
	    getpwnam(user) != NULL || strspn(user, "0123456789") == strlen(user);
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_config_dynamic *dyn = NULL;
	mox_err rc = MOX_OK;
	if (have_user)
		rc = mox_config_static_load(path, &st, &errs);
	if (rc == MOX_OK)
		rc = mox_config_dynamic_load(st, path2, &dyn, &errs);
	if (rc != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		fprintf(stderr,
		        "mox quickstart: the written config has errors (a bug)\n");
		mox_config_static_free(st);
		mox_config_errors_clear(&errs);
		return 1;
	}
	mox_config_errors_clear(&errs);

	/* The account, with a generated password. */
	char accdir[4400], password[32];
	snprintf(accdir, sizeof(accdir), "%s/accounts/%s", datadir, localpart);
	if (mkdirs(datadir, 0750) != 0 ||
	    gen_password(password, sizeof(password)) != 0) {
		fprintf(stderr, "mox quickstart: %s\n", strerror(errno));
		rc = MOX_EIO;
	}
	mox_store *store = NULL;
	mox_store_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.create = true;
	memset(&info, 0, sizeof(info));
	if (rc == MOX_OK && (rc = mox_store_open(&store, accdir, &o, &info)) != MOX_OK)
		fprintf(stderr, "mox quickstart: creating account %s: %s %s\n",
		        localpart, mox_strerror(rc), info.msg);
	if (rc == MOX_OK && (rc = mox_store_password_set(store, password)) != MOX_OK)
		fprintf(stderr, "mox quickstart: setting password: %s\n",
		        mox_strerror(rc));
	mox_store_close(store);

	if (rc == MOX_OK) {
		printf(
		    "Configuration written to %s and %s.\n\n"
		    "Account %s, address %s@%s, password (shown only now):\n\n\t%s\n\n",
		    path, path2, localpart, localpart, domain, password);
		if (!have_user)
			printf("User %s does not exist yet; create it, e.g.:\n\n"
			       "\tuseradd -d %s %s\n\n",
			       user, dir, user);
		mox_buf z = MOX_BUF_INIT;
		mox_cfg_strings ipl = {(char **)ips, nips};
		rc = mox_config_dnsrecords(&dyn->domains.v[0], host, &ipl, &z, err,
		                           sizeof(err));
		if (rc == MOX_OK)
			printf("Add these DNS records (also: \"mox config dnsrecords "
			       "%s\"):\n\n%.*s\n",
			       domain, (int)z.len, (const char *)z.data);
		else
			fprintf(stderr, "mox quickstart: DNS records: %s\n", err);
		mox_buf_free(&z);
		/* The unit runs this binary in the directory given. */
		char absdir[4096], self[4096];
		if (realpath(dir, absdir) == NULL)
			snprintf(absdir, sizeof(absdir), "%s", dir);
		ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (sl <= 0)
			snprintf(self, sizeof(self), "%s/mox", absdir);
		else
			self[sl] = '\0';
		char conf[4200];
		snprintf(conf, sizeof(conf), "%s/config/mox.conf", absdir);
		mox_buf unit = MOX_BUF_INIT;
		if (mox_service_unit(&unit, absdir, self, conf) == MOX_OK)
			printf("A systemd unit, e.g. /etc/systemd/system/mox.service:\n\n"
			       "%.*s",
			       (int)unit.len, (const char *)unit.data);
		mox_buf_free(&unit);
	}
	mox_mem_wipe(password, sizeof(password));
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	return rc == MOX_OK ? 0 : 1;
}
