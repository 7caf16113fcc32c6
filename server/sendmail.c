/* mox sendmail: a drop-in /usr/sbin/sendmail for cron and other unix
 * programs, submitting each message over SMTP (RFC 6409) with AUTH (RFC
 * 4954) to the server configured in /etc/moxsubmit.conf (or the file in
 * MOXSUBMITCONF), as mox's "sendmail" command does.
 *
 * moxsubmit.conf (sconf format, as mox's):
 *   LocalHostname: host.example     for EHLO (default: gethostname)
 *   Host: mail.example              server to submit to (name or IP)
 *   Port: 465                       465 submissions, 587 submission
 *   TLS: true                       implicit TLS (RFC 8314)
 *   STARTTLS: true                  STARTTLS (RFC 3207) required
 *   Username: user@example
 *   Password: secret
 *   From: user@example              MAIL FROM and the From header
 *   DefaultDestination: root@...    for recipients without '@' (optional)
 *   RequireTLS: yes|no              RFC 8689 (optional)
 *   TLSInsecureSkipVerify: true     no certificate checks (optional; ours)
 *   CAFile: /path/cert.pem          trust these CAs/this self-signed
 *                                   certificate instead of the system's
 *                                   (optional; ours)
 *
 * Flags as sendmail's: -t (recipients from To/Cc/Bcc, Bcc removed), -f
 * ADDR / -r ADDR (envelope sender), -F NAME (full name for an added From),
 * -i and -oi (a line with a single dot does not end the message); other
 * flags are ignored, as mox does. Missing From, Date and Message-ID
 * header fields are added (RFC 5322 section 3.6; RFC 6409 section 8 lets
 * a submission agent do so).
 *
 * Exit codes are sendmail's (sysexits.h): 0 submitted, EX_USAGE bad
 * flags or no recipients, EX_DATAERR bad message, EX_NOUSER local
 * recipient without DefaultDestination, EX_CONFIG bad configuration,
 * EX_TEMPFAIL for connection failures and 4xx replies, EX_UNAVAILABLE for
 * 5xx replies (a wrong password too). A message that could not be
 * submitted is kept in ~/moxsubmit.failures/, as mox does.
 */
#define _GNU_SOURCE
#include "sendmail.h"

#include "queue_smtp.h"
#include "sconf.h"

#include <mox/core.h>
#include <mox/message.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define CONF_DEFAULT "/etc/moxsubmit.conf"
#define MSG_MAX (100u * 1024 * 1024)
#define RCPT_MAX 1000

typedef struct submitconf {
	char *local_hostname, *host, *username, *password, *from, *default_dest;
	char *requiretls, *ca_file;
	long port;
	bool tls, starttls, tls_insecure;
} submitconf;

typedef struct rcptlist {
	char *a[RCPT_MAX];
	size_t n;
} rcptlist;

static void
conf_free(submitconf *c)
{
	free(c->local_hostname);
	free(c->host);
	free(c->username);
	if (c->password != NULL)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->from);
	free(c->default_dest);
	free(c->requiretls);
	free(c->ca_file);
}

static int
parse_bool(const char *path, const mox_sconf_node *n, bool *out)
{
	if (strcmp(n->value, "true") == 0)
		*out = true;
	else if (strcmp(n->value, "false") == 0)
		*out = false;
	else {
		fprintf(stderr, "mox sendmail: %s:%zu: %s: want true or false\n", path,
		        n->line, n->key);
		return -1;
	}
	return 0;
}

/* Read moxsubmit.conf: only top-level keys. */
static int
conf_load(const char *path, submitconf *c)
{
	mox_sconf_doc *doc = NULL;
	mox_sconf_error e;
	memset(&e, 0, sizeof(e));
	mox_err err = mox_sconf_parse_file(path, &doc, &e);
	if (err != MOX_OK) {
		fprintf(stderr, "mox sendmail: reading %s: %s\n", path,
		        e.msg[0] != '\0' ? e.msg : mox_strerror(err));
		return -1;
	}
	int rc = 0;
	for (mox_sconf_node *n = doc->root.first; n != NULL && rc == 0; n = n->next) {
		if (n->kind != MOX_SCONF_KEY) {
			fprintf(stderr, "mox sendmail: %s:%zu: want Key: value\n", path,
			        n->line);
			rc = -1;
			break;
		}
		char **s = NULL;
		if (strcmp(n->key, "LocalHostname") == 0)
			s = &c->local_hostname;
		else if (strcmp(n->key, "Host") == 0)
			s = &c->host;
		else if (strcmp(n->key, "Username") == 0)
			s = &c->username;
		else if (strcmp(n->key, "Password") == 0)
			s = &c->password;
		else if (strcmp(n->key, "From") == 0)
			s = &c->from;
		else if (strcmp(n->key, "DefaultDestination") == 0)
			s = &c->default_dest;
		else if (strcmp(n->key, "RequireTLS") == 0)
			s = &c->requiretls;
		else if (strcmp(n->key, "CAFile") == 0)
			s = &c->ca_file;
		else if (strcmp(n->key, "AuthMethod") == 0)
			continue; /* the client picks the strongest mechanism */
		else if (strcmp(n->key, "TLS") == 0)
			rc = parse_bool(path, n, &c->tls);
		else if (strcmp(n->key, "STARTTLS") == 0)
			rc = parse_bool(path, n, &c->starttls);
		else if (strcmp(n->key, "TLSInsecureSkipVerify") == 0)
			rc = parse_bool(path, n, &c->tls_insecure);
		else if (strcmp(n->key, "Port") == 0) {
			char *end = NULL;
			c->port = strtol(n->value, &end, 10);
			if (end == n->value || *end != '\0' || c->port <= 0 ||
			    c->port > 65535) {
				fprintf(stderr, "mox sendmail: %s:%zu: bad Port\n",
				        path, n->line);
				rc = -1;
			}
		} else {
			fprintf(stderr, "mox sendmail: %s:%zu: unknown key %s\n", path,
			        n->line, n->key);
			rc = -1;
		}
		if (s != NULL) {
			free(*s);
			*s = strdup(n->value);
			if (*s == NULL)
				rc = -1;
		}
	}
	mox_sconf_free(doc);
	if (rc != 0)
		return -1;
	const char *missing = c->host == NULL   ? "Host"
	                      : c->port == 0    ? "Port"
	                      : c->from == NULL ? "From"
	                                        : NULL;
	if (missing != NULL) {
		fprintf(stderr, "mox sendmail: %s: %s is required\n", path, missing);
		return -1;
	}
	if (c->requiretls != NULL && strcmp(c->requiretls, "yes") != 0 &&
	    strcmp(c->requiretls, "no") != 0 && c->requiretls[0] != '\0') {
		fprintf(stderr, "mox sendmail: %s: RequireTLS: want yes or no\n", path);
		return -1;
	}
	if (c->tls && c->starttls) {
		fprintf(stderr, "mox sendmail: %s: TLS and STARTTLS both set\n", path);
		return -1;
	}
	return 0;
}

/* Add one recipient; one without '@' goes to DefaultDestination. */
static int
rcpt_add(rcptlist *l, const submitconf *c, const char *addr)
{
	if (strchr(addr, '@') == NULL) {
		if (c->default_dest == NULL || c->default_dest[0] == '\0') {
			fprintf(stderr,
			        "mox sendmail: recipient %s has no @ and no "
			        "DefaultDestination is "
			        "configured\n",
			        addr);
			return EX_NOUSER;
		}
		addr = c->default_dest;
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->a[i], addr) == 0)
			return 0;
	if (l->n >= RCPT_MAX) {
		fprintf(stderr, "mox sendmail: more than %d recipients\n", RCPT_MAX);
		return EX_USAGE;
	}
	if ((l->a[l->n] = strdup(addr)) == NULL)
		return EX_OSERR;
	l->n++;
	return 0;
}

/* Recipients of a To/Cc/Bcc value (RFC 5322 section 3.4). */
static int
rcpt_add_field(rcptlist *l, const submitconf *c, const uint8_t *v, size_t len)
{
	mox_msg_addr_list *al = NULL;
	unsigned warn = 0;
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	if (mox_msg_addr_list_parse(v, len, 0, NULL, &al, &warn, &info) != MOX_OK) {
		fprintf(stderr, "mox sendmail: cannot parse address list %.*s\n",
		        (int)len, (const char *)v);
		return EX_DATAERR;
	}
	int rc = 0;
	for (size_t i = 0; i < al->n && rc == 0; i++) {
		const mox_msg_addr *a = &al->a[i];
		if (a->local == NULL)
			continue; /* empty group */
		if (a->domain == NULL) {
			rc = rcpt_add(l, c, a->local);
			continue;
		}
		size_t n = strlen(a->local) + strlen(a->domain) + 2;
		char *s = malloc(n);
		if (s == NULL) {
			rc = EX_OSERR;
			break;
		}
		snprintf(s, n, "%s@%s", a->local, a->domain);
		rc = rcpt_add(l, c, s);
		free(s);
	}
	mox_msg_addr_list_free(al);
	return rc;
}

static bool
name_is(const uint8_t *p, size_t namelen, const char *want)
{
	return namelen == strlen(want) &&
	       strncasecmp((const char *)p, want, namelen) == 0;
}

/* Keep a message that could not be submitted, as mox does. */
static void
save_failure(const uint8_t *msg, size_t len)
{
	const char *home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		return;
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/moxsubmit.failures", home);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return;
	snprintf(path, sizeof(path), "%s/newmsg.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		return;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, msg + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (close(fd) == 0 && off == len)
		fprintf(stderr, "mox sendmail: message saved in %s\n", path);
}

static void
usage(void)
{
	fprintf(stderr, "usage: mox sendmail [-t] [-i] [-oi] [-f from] [-F name] "
	                "[ignoredflags] [recipient ...] <message\n");
}

int
sendmail_main(int argc, char **argv)
{
	bool tflag = false, dots_end = true;
	const char *env_from = NULL, *fullname = NULL;
	int i = 1;
	/* sendmail's flags; unknown ones are ignored (cron and friends pass
	 * various), as mox does. */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "-t") == 0)
			tflag = true;
		else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
			dots_end = false;
		else if (a[1] == 'f' || a[1] == 'r' || a[1] == 'F') {
			const char *v = a + 2;
			if (*v == '\0') {
				if (i + 1 >= argc) {
					usage();
					return EX_USAGE;
				}
				v = argv[++i];
			}
			if (a[1] == 'F')
				fullname = v;
			else
				env_from = v;
		} else if (a[1] == 'b' && strcmp(a, "-bm") != 0) {
			/* Other modes (-bp, -bs, -bd, ...) are not ours. */
			fprintf(stderr, "mox sendmail: mode %s not supported\n", a);
			return EX_USAGE;
		}
	}

	submitconf c;
	memset(&c, 0, sizeof(c));
	const char *confpath = getenv("MOXSUBMITCONF");
	if (confpath == NULL || confpath[0] == '\0')
		confpath = CONF_DEFAULT;
	if (conf_load(confpath, &c) != 0) {
		conf_free(&c);
		return EX_CONFIG;
	}

	int rc = 0;
	rcptlist rl;
	rl.n = 0;
	mox_buf in = MOX_BUF_INIT, out = MOX_BUF_INIT;
	for (; i < argc && rc == 0; i++)
		rc = rcpt_add(&rl, &c, argv[i]);
	if (rc != 0)
		goto done;

	/* The message from stdin. */
	for (;;) {
		if (mox_buf_reserve(&in, 65536) != MOX_OK) {
			rc = EX_OSERR;
			goto done;
		}
		ssize_t n = read(0, in.data + in.len, in.cap - in.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "mox sendmail: reading message: %s\n",
			        strerror(errno));
			rc = EX_IOERR;
			goto done;
		}
		if (n == 0)
			break;
		in.len += (size_t)n;
		if (in.len > MSG_MAX) {
			fprintf(stderr, "mox sendmail: message larger than %u bytes\n",
			        MSG_MAX);
			rc = EX_DATAERR;
			goto done;
		}
	}
	/* Without -i, a line of a single dot ends the message (sendmail). */
	if (dots_end) {
		for (size_t p = 0; p < in.len;) {
			const uint8_t *nl = memchr(in.data + p, '\n', in.len - p);
			size_t e = nl != NULL ? (size_t)(nl - in.data) : in.len;
			size_t ll = e - p;
			if ((ll == 1 || (ll == 2 && in.data[p + 1] == '\r')) &&
			    in.data[p] == '.') {
				in.len = p;
				break;
			}
			p = e + 1;
		}
	}

	/* The header (RFC 5322 section 2.2): fields with their continuation
	 * lines, up to the empty line. */
	bool have_from = false, have_date = false, have_msgid = false, smtputf8 = false;
	mox_buf hdr = MOX_BUF_INIT;
	size_t p = 0;
	while (p < in.len) {
		if (in.data[p] == '\n' ||
		    (in.data[p] == '\r' && p + 1 < in.len && in.data[p + 1] == '\n'))
			break; /* end of header */
		size_t s = p;
		/* one field: this line and lines starting with WSP */
		for (;;) {
			const uint8_t *nl = memchr(in.data + p, '\n', in.len - p);
			p = nl != NULL ? (size_t)(nl - in.data) + 1 : in.len;
			if (p >= in.len || (in.data[p] != ' ' && in.data[p] != '\t'))
				break;
		}
		const uint8_t *colon = memchr(in.data + s, ':', p - s);
		size_t namelen = colon != NULL ? (size_t)(colon - (in.data + s)) : 0;
		while (namelen > 0 && (in.data[s + namelen - 1] == ' ' ||
		                       in.data[s + namelen - 1] == '\t'))
			namelen--;
		bool bad = colon == NULL || namelen == 0;
		for (size_t k = 0; k < namelen && !bad; k++)
			bad = in.data[s + k] <= ' ' || in.data[s + k] >= 127;
		if (bad) {
			fprintf(stderr,
			        "mox sendmail: invalid message: header line without "
			        "field name and colon\n");
			mox_buf_free(&hdr);
			rc = EX_DATAERR;
			goto done;
		}
		for (size_t k = s; k < p; k++)
			smtputf8 = smtputf8 || in.data[k] >= 0x80;
		const uint8_t *name = in.data + s;
		const uint8_t *val = colon + 1;
		size_t vlen = (size_t)(in.data + p - val);
		have_from = have_from || name_is(name, namelen, "From");
		have_date = have_date || name_is(name, namelen, "Date");
		have_msgid = have_msgid || name_is(name, namelen, "Message-ID");
		bool bcc = name_is(name, namelen, "Bcc");
		if (tflag && (bcc || name_is(name, namelen, "To") ||
		              name_is(name, namelen, "Cc"))) {
			rc = rcpt_add_field(&rl, &c, val, vlen);
			if (rc != 0) {
				mox_buf_free(&hdr);
				goto done;
			}
		}
		/* -t: Bcc recipients get the message, the field goes (RFC 5322
		 * section 3.6.3, first way). Without -t it stays. */
		if (bcc && tflag)
			continue;
		if (mox_buf_append(&hdr, in.data + s, p - s) != MOX_OK) {
			mox_buf_free(&hdr);
			rc = EX_OSERR;
			goto done;
		}
	}
	if (rl.n == 0) {
		fprintf(stderr, "mox sendmail: no recipients%s\n",
		        tflag ? " in To, Cc or Bcc" : " (give addresses or -t)");
		mox_buf_free(&hdr);
		rc = EX_USAGE;
		goto done;
	}

	const char *from = env_from != NULL ? env_from : c.from;
	const char *at = strrchr(c.from, '@');
	char hostname[256] = "localhost";
	if (c.local_hostname != NULL && c.local_hostname[0] != '\0')
		snprintf(hostname, sizeof(hostname), "%s", c.local_hostname);
	else if (gethostname(hostname, sizeof(hostname) - 1) != 0 ||
	         hostname[0] == '\0')
		snprintf(hostname, sizeof(hostname), "localhost");
	hostname[sizeof(hostname) - 1] = '\0';
	mox_err e = MOX_OK;
	if (!have_from) {
		if (fullname != NULL && fullname[0] != '\0') {
			e = mox_buf_append_str(&out, "From: \"");
			for (const char *f = fullname; *f != '\0' && e == MOX_OK; f++) {
				if (*f == '"' || *f == '\\')
					e = mox_buf_append_byte(&out, '\\');
				if (e == MOX_OK && *f != '\r' && *f != '\n')
					e = mox_buf_append_byte(&out, (uint8_t)*f);
			}
			if (e == MOX_OK)
				e = mox_buf_appendf(&out, "\" <%s>\r\n", c.from);
		} else {
			e = mox_buf_appendf(&out, "From: <%s>\r\n", c.from);
		}
	}
	if (!have_date && e == MOX_OK) {
		/* RFC 5322 section 3.3 date-time. */
		char d[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S %z", &tm);
		e = mox_buf_appendf(&out, "Date: %s\r\n", d);
	}
	if (!have_msgid && e == MOX_OK) {
		/* RFC 5322 section 3.6.4: unique, right side our domain. */
		uint8_t r[12];
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			memset(r, 0, sizeof(r));
		e = mox_buf_append_str(&out, "Message-ID: <");
		for (size_t k = 0; k < sizeof(r) && e == MOX_OK; k++)
			e = mox_buf_appendf(&out, "%02x", r[k]);
		if (e == MOX_OK)
			e = mox_buf_appendf(&out, "@%s>\r\n",
			                    at != NULL ? at + 1 : hostname);
	}
	/* RFC 8689 section 5: TLS-Required: No lets delivery ignore policies. */
	if (c.requiretls != NULL && strcmp(c.requiretls, "no") == 0 && e == MOX_OK)
		e = mox_buf_append_str(&out, "TLS-Required: No\r\n");
	if (e == MOX_OK)
		e = mox_buf_append(&out, hdr.data, hdr.len);
	mox_buf_free(&hdr);
	if (e == MOX_OK && p < in.len)
		e = mox_buf_append(&out, in.data + p, in.len - p);
	else if (e == MOX_OK)
		e = mox_buf_append_str(&out, "\r\n"); /* header only */
	if (e != MOX_OK) {
		rc = EX_OSERR;
		goto done;
	}
	bool has8bit = false;
	for (size_t k = 0; k < out.len && !has8bit; k++)
		has8bit = out.data[k] >= 0x80;
	for (const char *f = from; *f != '\0'; f++)
		smtputf8 = smtputf8 || (uint8_t)*f >= 0x80;

	/* The server's addresses: a literal, or the name through the system's
	 * resolver (getaddrinfo: /etc/hosts first), tried in order below. */
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(c.host, NULL, &hints, &ai);
	if (gai != 0 || ai == NULL) {
		fprintf(stderr, "mox sendmail: looking up %s: %s\n", c.host,
		        gai_strerror(gai));
		save_failure(out.data, out.len);
		rc = EX_TEMPFAIL;
		goto done;
	}

	queue_smtp_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.ehlo_name = hostname;
	rq.host = c.host;
	rq.port = (uint16_t)c.port;
	rq.tls = c.tls        ? QUEUE_TLS_IMPLICIT
	         : c.starttls ? QUEUE_TLS_PKIX
	                      : QUEUE_TLS_SKIP;
	rq.tls_insecure = c.tls_insecure;
	rq.ca_file = c.ca_file;
	rq.username = c.username;
	rq.password = c.password != NULL ? c.password : "";
	rq.from = from;
	rq.rcpts = (const char *const *)rl.a;
	rq.nrcpts = rl.n;
	rq.rcpt = rl.a[0];
	rq.notify = "";
	rq.has8bit = has8bit;
	rq.smtputf8 = smtputf8;
	rq.requiretls = c.requiretls != NULL && strcmp(c.requiretls, "yes") == 0;
	rq.msg = out.data;
	rq.msg_len = out.len;
	rq.connect_timeout_ms = 30000;
	rq.io_timeout_ms = 120000;
	if (rq.requiretls && rq.tls == QUEUE_TLS_SKIP) {
		fprintf(stderr,
		        "mox sendmail: RequireTLS: yes needs TLS or STARTTLS\n");
		rc = EX_CONFIG;
		freeaddrinfo(ai);
		goto done;
	}
	queue_smtp_res res;
	memset(&res, 0, sizeof(res));
	snprintf(res.text, sizeof(res.text), "no address for %s", c.host);
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		char ip[INET6_ADDRSTRLEN] = "";
		if (a->ai_family == AF_INET)
			inet_ntop(AF_INET,
			          &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip,
			          sizeof(ip));
		else if (a->ai_family == AF_INET6)
			inet_ntop(AF_INET6,
			          &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, ip,
			          sizeof(ip));
		else
			continue;
		rq.ip = ip;
		queue_smtp_deliver(&rq, &res);
		if (res.connected)
			break; /* only an address we could not reach is skipped */
	}
	freeaddrinfo(ai);
	ai = NULL;
	if (res.ok) {
		rc = 0;
	} else {
		fprintf(stderr, "mox sendmail: submitting to %s port %ld failed: %s\n",
		        c.host, c.port, res.text);
		/* sysexits.h: 5xx is permanent, the rest (no connection,
		 * 4xx, time-outs) worth another try. */
		rc = res.permanent ? EX_UNAVAILABLE : EX_TEMPFAIL;
		save_failure(out.data, out.len);
	}

done:
	for (size_t k = 0; k < rl.n; k++)
		free(rl.a[k]);
	mox_buf_free(&in);
	mox_buf_free(&out);
	conf_free(&c);
	return rc;
}
