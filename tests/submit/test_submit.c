/* Submission (server/submit.c): From checks, the header prefix (Received,
 * Message-Id, Date, DKIM-Signature, Authentication-Results), DKIM
 * signatures checked by libmoxdkim (in-memory zone) and by dkimpy, the key
 * cache, and queueing (local/remote split, row contents, FUTURERELEASE
 * from the SMTP server core's MAIL parameters). A config with an RSA and
 * an Ed25519 selector is written to a temporary directory by setup. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "queue.h"
#include "submit.h"

#include <mox/dkim.h>
#include <mox/dns.h>
#include <mox/message.h>
#include <mox/smtp.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static mox_config_static *st;
static mox_config_dynamic *dyn;
static mox_resolver *zone;
static submit_keys *keys;
static queue_store *qs;
static char records[8192]; /* "name\ttxt\n" lines for dkimpy */

static const char mox_conf[] = "DataDir: data\n"
                               "User: root\n"
                               "LogLevel: info\n"
                               "Hostname: mail.mox.example\n"
                               "Listeners:\n"
                               "\tlocal:\n"
                               "\t\tIPs:\n"
                               "\t\t\t- 127.0.0.1\n"
                               "\t\tSubmission:\n"
                               "\t\t\tEnabled: true\n"
                               "\t\t\tNoRequireSTARTTLS: true\n"
                               "Postmaster:\n"
                               "\tAccount: mjl\n"
                               "\tMailbox: Postmaster\n";

static const char domains_conf[] = "Domains:\n"
                                   "\tmox.example:\n"
                                   "\t\tLocalpartCatchallSeparator: +\n"
                                   "\t\tDKIM:\n"
                                   "\t\t\tSelectors:\n"
                                   "\t\t\t\trsa1:\n"
                                   "\t\t\t\t\tHash: sha256\n"
                                   "\t\t\t\t\tCanonicalization:\n"
                                   "\t\t\t\t\t\tHeaderRelaxed: true\n"
                                   "\t\t\t\t\t\tBodyRelaxed: true\n"
                                   "\t\t\t\t\tExpiration: 72h\n"
                                   "\t\t\t\t\tPrivateKeyFile: dkim/rsa1.pem\n"
                                   "\t\t\t\ted1:\n"
                                   "\t\t\t\t\tHash: sha256\n"
                                   "\t\t\t\t\tHeaders:\n"
                                   "\t\t\t\t\t\t- From\n"
                                   "\t\t\t\t\t\t- To\n"
                                   "\t\t\t\t\t\t- Subject\n"
                                   "\t\t\t\t\t\t- Date\n"
                                   "\t\t\t\t\t\t- Message-Id\n"
                                   "\t\t\t\t\tPrivateKeyFile: dkim/ed1.pem\n"
                                   "\t\t\tSign:\n"
                                   "\t\t\t\t- rsa1\n"
                                   "\t\t\t\t- ed1\n"
                                   "\tother.example: nil\n"
                                   "\tb\xc3\xbc"
                                   "cher.example: nil\n"
                                   "Accounts:\n"
                                   "\tmjl:\n"
                                   "\t\tDomain: mox.example\n"
                                   "\t\tDestinations:\n"
                                   "\t\t\tmjl@mox.example: nil\n"
                                   "\t\t\t@other.example: nil\n"
                                   "\t\t\tinfo@b\xc3\xbc"
                                   "cher.example: nil\n"
                                   "\tother:\n"
                                   "\t\tDomain: mox.example\n"
                                   "\t\tDestinations:\n"
                                   "\t\t\tother@mox.example: nil\n";

static void
writefile(const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Generate a key, write its PEM, and publish its record in the zone (TXT
 * strings of at most 255 octets, RFC 1035 section 3.3.14). */
static void
make_key(mox_dkim_key_type type, const char *selector, const char *file)
{
	mox_dkim_key *k = NULL;
	assert_int_equal(mox_dkim_key_generate(type, 2048, NULL, &k), MOX_OK);
	mox_buf pem = MOX_BUF_INIT, txt = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_key_write_pem(k, NULL, &pem), MOX_OK);
	writefile(file, pem.data, pem.len);
	assert_int_equal(mox_dkim_key_txt_record(k, &txt), MOX_OK);
	mox_buf z = MOX_BUF_INIT;
	assert_int_equal(
	    mox_buf_appendf(&z, "%s._domainkey.mox.example. TXT", selector), MOX_OK);
	for (size_t o = 0; o < txt.len; o += 255) {
		size_t n = txt.len - o < 255 ? txt.len - o : 255;
		assert_int_equal(mox_buf_appendf(&z, " \"%.*s\"", (int)n, txt.data + o),
		                 MOX_OK);
	}
	assert_int_equal(mox_buf_append_str(&z, "\n"), MOX_OK);
	mox_errinfo info;
	memset(&info, 0, sizeof(info));
	assert_int_equal(mox_dns_zone_load(zone, (const char *)z.data, z.len, &info),
	                 MOX_OK);
	size_t rl = strlen(records);
	snprintf(records + rl, sizeof(records) - rl, "%s._domainkey.mox.example\t%s\n",
	         selector, (const char *)txt.data);
	mox_buf_free(&z);
	mox_buf_free(&txt);
	mox_buf_free(&pem);
	mox_dkim_key_free(k);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mox-submit-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char p[600];
	snprintf(p, sizeof(p), "%s/dkim", tmpdir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/data", tmpdir);
	mkdir(p, 0700);
	mox_dns_zone_opts zo = {sizeof(zo), NULL};
	if (mox_dns_zone_new(&zone, &zo) != MOX_OK)
		return -1;
	make_key(MOX_DKIM_KEY_RSA, "rsa1", "dkim/rsa1.pem");
	make_key(MOX_DKIM_KEY_ED25519, "ed1", "dkim/ed1.pem");
	writefile("mox.conf", mox_conf, strlen(mox_conf));
	writefile("domains.conf", domains_conf, strlen(domains_conf));

	mox_config_errors errs = {0};
	snprintf(p, sizeof(p), "%s/mox.conf", tmpdir);
	if (mox_config_static_load(p, &st, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		return -1;
	}
	snprintf(p, sizeof(p), "%s/domains.conf", tmpdir);
	if (mox_config_dynamic_load(st, p, &dyn, &errs) != MOX_OK) {
		mox_config_errors_print(&errs, stderr);
		return -1;
	}
	mox_config_errors_clear(&errs);
	if (submit_keys_new(&keys) != MOX_OK)
		return -1;
	char err[256];
	snprintf(p, sizeof(p), "%s/data", tmpdir);
	if (queue_store_open(p, &qs, err, sizeof(err)) != MOX_OK) {
		fprintf(stderr, "queue open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	queue_store_close(qs);
	submit_keys_free(keys);
	mox_config_dynamic_unref(dyn);
	mox_config_static_free(st);
	mox_resolver_free(zone);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- From checks ---- */

static bool
check(const char *mail_from, const char *msg, submit_reply *r, submit_from *f)
{
	return submit_check_from(dyn, "mjl", mail_from, (const uint8_t *)msg,
	                         strlen(msg), f, r);
}

static void
test_from_good(void **state)
{
	(void)state;
	submit_reply r;
	submit_from f;
	assert_true(
	    check("mjl@mox.example",
	          "From: Mjl <mjl@mox.example>\r\nTo: x@remote.example\r\n\r\nhi\r\n",
	          &r, &f));
	assert_int_equal(r.code, 0);
	assert_string_equal(f.localpart, "mjl");
	assert_string_equal(f.domain, "mox.example");
	assert_non_null(f.dom);
	/* Case, catchall separator, and the account's catchall destination. */
	assert_true(check("mjl+list@mox.example",
	                  "From: MJL+tag@Mox.Example\r\n\r\nhi\r\n", &r, &f));
	assert_string_equal(f.localpart, "MJL+tag");
	assert_string_equal(f.domain, "mox.example");
	assert_true(check("anything@other.example",
	                  "From: \"A B\" <whoever@other.example>\r\n\r\nhi\r\n", &r,
	                  &f));
	assert_string_equal(f.domain, "other.example");
	/* A Unicode domain (RFC 6532) is looked up by its A-labels. */
	assert_true(check("info@xn--bcher-kva.example",
	                  "From: info@b\xc3\xbc"
	                  "cher.example\r\n\r\nhi\r\n",
	                  &r, &f));
	assert_string_equal(f.domain, "xn--bcher-kva.example");
	/* Folded From. */
	assert_true(check("mjl@mox.example",
	                  "From: Mjl\r\n <mjl@mox.example>\r\n\r\nhi\r\n", &r, NULL));
}

static void
test_from_bad(void **state)
{
	(void)state;
	submit_reply r;
	/* Another account's address. */
	assert_false(check("mjl@mox.example", "From: other@mox.example\r\n\r\nhi\r\n",
	                   &r, NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.7.1");
	assert_string_equal(r.text,
	                    "message from address must belong to authenticated user");
	/* A domain we do not have. */
	assert_false(check("mjl@mox.example",
	                   "From: mjl@elsewhere.example\r\n\r\nhi\r\n", &r, NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.7.1");
	/* Good From, MAIL FROM of another account. */
	assert_false(check("other@mox.example", "From: mjl@mox.example\r\n\r\nhi\r\n",
	                   &r, NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.7.1");
	assert_string_equal(r.text,
	                    "mail from address must belong to authenticated user");
	/* The null reverse path. */
	assert_false(check("", "From: mjl@mox.example\r\n\r\nhi\r\n", &r, NULL));
	assert_int_equal(r.code, 550);
	/* Two From fields, two addresses in one, none at all, unparsable. */
	assert_false(check(
	    "mjl@mox.example",
	    "From: mjl@mox.example\r\nFrom: mjl@mox.example\r\n\r\nhi\r\n", &r, NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.6.0");
	assert_non_null(strstr(r.text, "cannot parse header or From address"));
	assert_false(check("mjl@mox.example",
	                   "From: mjl@mox.example, mjl+x@mox.example\r\n\r\nhi\r\n", &r,
	                   NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.6.0");
	assert_false(
	    check("mjl@mox.example", "To: mjl@mox.example\r\n\r\nhi\r\n", &r, NULL));
	assert_int_equal(r.code, 550);
	assert_string_equal(r.ecode, "5.6.0");
	assert_non_null(strstr(r.text, "missing From"));
	assert_false(check("mjl@mox.example", "From: nobody\r\n\r\nhi\r\n", &r, NULL));
	assert_int_equal(r.code, 550);
	assert_false(check("mjl@mox.example", "From: <mjl@[127.0.0.1]>\r\n\r\nhi\r\n",
	                   &r, NULL));
	assert_int_equal(r.code, 550);
	/* MAIL FROM alone. */
	assert_true(submit_check_mail_from(dyn, "mjl", "Mjl@MOX.example", &r));
	assert_false(submit_check_mail_from(dyn, "other", "mjl@mox.example", &r));
	assert_int_equal(r.code, 550);
	assert_false(submit_check_mail_from(dyn, "mjl", "nobody", &r));
}

/* ---- prefix ---- */

static uint8_t *
prepare(const char *msg, const char *const *rcpts, size_t nrcpts, size_t *len_out,
        size_t *nerr_out)
{
	submit_from f;
	submit_reply r;
	assert_true(check("mjl@mox.example", msg, &r, &f));
	submit_env env;
	memset(&env, 0, sizeof(env));
	env.hostname = "mail.mox.example";
	env.local_ip = "127.0.0.1";
	env.mail_from = "mjl@mox.example";
	env.recipients = rcpts;
	env.nrecipients = nrcpts;
	env.ehlo = true;
	env.tls = true;
	env.tls_comment = "(TLS1.3 TLS_AES_128_GCM_SHA256)";
	uint8_t *prefix = NULL;
	char err[300];
	assert_int_equal(submit_prepare(&env, &f, keys, (const uint8_t *)msg,
	                                strlen(msg), &prefix, len_out, nerr_out, err,
	                                sizeof(err)),
	                 MOX_OK);
	assert_non_null(prefix);
	return prefix;
}

static char *
joined(const uint8_t *prefix, size_t plen, const char *msg)
{
	size_t n = strlen(msg);
	char *s = malloc(plen + n + 1);
	assert_non_null(s);
	memcpy(s, prefix, plen);
	memcpy(s + plen, msg, n + 1);
	return s;
}

/* s with folds ("\r\n\t", "\r\n ") turned into single spaces. */
static char *
unfold(const char *s)
{
	char *u = strdup(s);
	assert_non_null(u);
	size_t w = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n' &&
		    (s[i + 2] == '\t' || s[i + 2] == ' ')) {
			u[w++] = ' ';
			i += 2;
			continue;
		}
		u[w++] = s[i];
	}
	u[w] = '\0';
	return u;
}

static void
test_prefix_fields(void **state)
{
	(void)state;
	const char *rcpt[] = {"x@remote.example"};
	const char *bare =
	    "From: mjl@mox.example\r\nTo: x@remote.example\r\nSubject: hi\r\n"
	    "\r\nbody\r\n";
	size_t plen, nerr;
	uint8_t *p = prepare(bare, rcpt, 1, &plen, &nerr);
	char *s = joined(p, plen, "");
	assert_int_equal(nerr, 0);
	if (getenv("MOX_TEST_VERBOSE") != NULL)
		print_message("%s", s);
	assert_true(
	    strncmp(s, "Received: from mail.mox.example by mail.mox.example", 51) == 0);
	char *u = unfold(s);
	assert_non_null(strstr(u, "with ESMTPSA id "));
	assert_non_null(
	    strstr(u, " (TLS1.3 TLS_AES_128_GCM_SHA256) for <x@remote.example>; "));
	assert_non_null(strstr(u, "by mail.mox.example ([127.0.0.1]) via tcp"));
	free(u);
	assert_non_null(strstr(s, "\r\nMessage-Id: <"));
	assert_non_null(strstr(s, "@mail.mox.example>\r\n"));
	assert_non_null(strstr(s, "\r\nDate: "));
	assert_non_null(strstr(s, "\r\nDKIM-Signature: "));
	assert_non_null(
	    strstr(s, "\r\nAuthentication-Results: mail.mox.example;\r\n\tauth=pass "
	              "smtp.mailfrom=mjl@mox.example\r\n"));
	/* Every line of the prefix ends in CRLF and stays within 998. */
	for (char *l = s; *l != '\0';) {
		char *e = strstr(l, "\r\n");
		assert_non_null(e);
		assert_true(e - l <= 998);
		assert_null(memchr(l, '\n', (size_t)(e - l)));
		l = e + 2;
	}
	/* Date parses. */
	char *d = strstr(s, "\r\nDate: ") + 8;
	char *de = strstr(d, "\r\n");
	mox_msg_date date;
	assert_int_equal(
	    mox_msg_date_parse((const uint8_t *)d, (size_t)(de - d), &date, NULL),
	    MOX_OK);
	assert_true(llabs((long long)date.t - (long long)time(NULL)) < 60);
	free(s);
	free(p);

	/* Present ones are not added again; several recipients: no "for". */
	const char *rcpts[] = {"x@remote.example", "y@remote.example"};
	const char *full =
	    "From: mjl@mox.example\r\nMessage-ID: <abc@client>\r\n"
	    "Date: 1 Jan 2024 00:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n";
	p = prepare(full, rcpts, 2, &plen, &nerr);
	s = joined(p, plen, "");
	assert_null(strstr(s, "\r\nMessage-Id: "));
	assert_null(strstr(s, "\r\nDate: "));
	u = unfold(s);
	assert_null(strstr(u, " for "));
	assert_non_null(strstr(u, "(TLS1.3 TLS_AES_128_GCM_SHA256); "));
	free(u);
	assert_non_null(strstr(s, "DKIM-Signature:"));
	free(s);
	free(p);
}

/* Verify with libmoxdkim against the zone; return the number of passes,
 * and check algorithms. */
static size_t
verify_mox(const char *m, int64_t now, bool *rsa, bool *ed, char *ident,
           size_t identlen)
{
	mox_dkim_verify_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.resolver = zone;
	o.now = now;
	mox_dkim_verifier *v = NULL;
	assert_int_equal(mox_dkim_verifier_new(&v, &o), MOX_OK);
	assert_int_equal(mox_dkim_verifier_feed(v, m, strlen(m)), MOX_OK);
	assert_int_equal(mox_dkim_verifier_end(v), MOX_OK);
	size_t pass = 0;
	for (size_t i = 0; i < mox_dkim_verifier_count(v); i++) {
		const mox_dkim_result *r = mox_dkim_verifier_result(v, i);
		if (r->status == MOX_DKIM_PASS)
			pass++;
		if (r->sig != NULL && r->sig->key_type == MOX_DKIM_KEY_RSA)
			*rsa = true;
		if (r->sig != NULL && r->sig->key_type == MOX_DKIM_KEY_ED25519)
			*ed = true;
		if (r->sig != NULL && r->sig->identity != NULL && ident != NULL)
			snprintf(ident, identlen, "%s", r->sig->identity);
	}
	mox_dkim_verifier_free(v);
	return pass;
}

static int
verify_dkimpy(const char *m)
{
	char mp[600], rp[600], cmd[2000];
	snprintf(mp, sizeof(mp), "%s/signed.eml", tmpdir);
	snprintf(rp, sizeof(rp), "%s/records.txt", tmpdir);
	FILE *f = fopen(mp, "wb");
	assert_non_null(f);
	fputs(m, f);
	fclose(f);
	f = fopen(rp, "wb");
	assert_non_null(f);
	fputs(records, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s %s/dkimpy_verify.py %s %s", MOX_PYTHON,
	         MOX_SUBMIT_TEST_DIR, mp, rp);
	int rc = system(cmd);
	assert_true(WIFEXITED(rc));
	return WEXITSTATUS(rc);
}

static void
test_dkim_signatures(void **state)
{
	(void)state;
	const char *rcpt[] = {"x@remote.example"};
	const char *msg = "From: Mjl <MJL+tag@mox.example>\r\nTo: x@remote.example\r\n"
	                  "Subject: signed\r\n\r\nHello,\r\n\r\nthis is signed.\r\n";
	size_t plen, nerr;
	uint8_t *p = prepare(msg, rcpt, 1, &plen, &nerr);
	assert_int_equal(nerr, 0);
	char *s = joined(p, plen, msg);
	/* Two signatures: RSA and Ed25519, both verify; i= is the canonical
	 * local part (separator and tag removed, lower case). */
	bool rsa = false, ed = false;
	char ident[300] = "";
	assert_int_equal(verify_mox(s, 0, &rsa, &ed, ident, sizeof(ident)), 2);
	assert_true(rsa);
	assert_true(ed);
	assert_string_equal(ident, "mjl@mox.example");
	assert_non_null(strstr(s, "a=rsa-sha256"));
	assert_non_null(strstr(s, "a=ed25519-sha256"));
	assert_non_null(strstr(s, "s=rsa1"));
	assert_non_null(strstr(s, "s=ed1"));
	assert_non_null(strstr(s, "c=relaxed/relaxed"));
	assert_non_null(strstr(s, "x=")); /* Expiration: 72h */
	/* dkimpy agrees. */
	assert_int_equal(verify_dkimpy(s), 0);

	/* A changed body fails both, in both verifiers. */
	char *t = strdup(s);
	assert_non_null(t);
	char *b = strstr(t, "this is signed");
	assert_non_null(b);
	b[0] = 'T';
	rsa = ed = false;
	assert_int_equal(verify_mox(t, 0, &rsa, &ed, NULL, 0), 0);
	assert_int_equal(verify_dkimpy(t), 1);
	free(t);
	free(s);
	free(p);

	/* Message without Message-Id/Date: the added fields are signed (both
	 * selectors list Date), so changing the added Date breaks both. */
	const char *bare = "From: mjl@mox.example\r\nSubject: x\r\n\r\nbody\r\n";
	p = prepare(bare, rcpt, 1, &plen, &nerr);
	s = joined(p, plen, bare);
	rsa = ed = false;
	assert_int_equal(verify_mox(s, 0, &rsa, &ed, NULL, 0), 2);
	assert_int_equal(verify_dkimpy(s), 0);
	char *d = strstr(s, "\r\nDate: ");
	assert_non_null(d);
	d[8] = d[8] == '1' ? '2' : '1';
	assert_int_equal(verify_mox(s, 0, &rsa, &ed, NULL, 0), 0); /* both sign Date */
	free(s);
	free(p);
}

/* ---- key cache ---- */

typedef struct kthread {
	char path[600];
	const mox_dkim_key *key;
	mox_err err;
} kthread;

static void *
kget(void *arg)
{
	kthread *k = arg;
	char err[300];
	k->err = submit_keys_get(keys, k->path, &k->key, err, sizeof(err));
	return NULL;
}

static void
test_keys(void **state)
{
	(void)state;
	submit_keys *fresh = NULL;
	assert_int_equal(submit_keys_new(&fresh), MOX_OK);
	submit_keys *save = keys;
	keys = fresh;
	kthread k[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		snprintf(k[i].path, sizeof(k[i].path), "%s/dkim/rsa1.pem", tmpdir);
		assert_int_equal(pthread_create(&th[i], NULL, kget, &k[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(k[i].err, MOX_OK);
		assert_ptr_equal(k[i].key, k[0].key); /* parsed once, shared */
	}
	assert_int_equal(mox_dkim_key_get_type(k[0].key), MOX_DKIM_KEY_RSA);
	const mox_dkim_key *again = NULL;
	char err[300];
	assert_int_equal(submit_keys_get(keys, k[0].path, &again, err, sizeof(err)),
	                 MOX_OK);
	assert_ptr_equal(again, k[0].key);
	/* After a flush the key is read again (a new pointer), the old one
	 * still valid until free. */
	submit_keys_flush(keys);
	assert_int_equal(submit_keys_get(keys, k[0].path, &again, err, sizeof(err)),
	                 MOX_OK);
	assert_ptr_not_equal(again, k[0].key);
	assert_int_equal(mox_dkim_key_bits(k[0].key), 2048);
	/* Missing and bad files. */
	char path[700];
	snprintf(path, sizeof(path), "%s/dkim/missing.pem", tmpdir);
	assert_int_equal(submit_keys_get(keys, path, &again, err, sizeof(err)),
	                 MOX_EIO);
	assert_null(again);
	writefile("dkim/bad.pem", "not a key\n", 10);
	snprintf(path, sizeof(path), "%s/dkim/bad.pem", tmpdir);
	assert_int_not_equal(submit_keys_get(keys, path, &again, err, sizeof(err)),
	                     MOX_OK);
	assert_non_null(strstr(err, "parsing dkim key"));
	keys = save;
	submit_keys_free(fresh);
}

/* A selector whose key file went away: the message goes out with the
 * other signature, and the error is counted (mox logs and goes on). */
static void
test_dkim_missing_key(void **state)
{
	(void)state;
	char from[700], to[700];
	snprintf(from, sizeof(from), "%s/dkim/ed1.pem", tmpdir);
	snprintf(to, sizeof(to), "%s/dkim/ed1.pem.away", tmpdir);
	submit_keys *fresh = NULL;
	assert_int_equal(submit_keys_new(&fresh), MOX_OK);
	submit_keys *save = keys;
	keys = fresh;
	assert_int_equal(rename(from, to), 0);
	const char *rcpt[] = {"x@remote.example"};
	const char *msg = "From: mjl@mox.example\r\nSubject: x\r\n\r\nbody\r\n";
	size_t plen, nerr;
	uint8_t *p = prepare(msg, rcpt, 1, &plen, &nerr);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(nerr, 1);
	char *s = joined(p, plen, msg);
	bool rsa = false, ed = false;
	assert_int_equal(verify_mox(s, 0, &rsa, &ed, NULL, 0), 1);
	assert_true(rsa);
	assert_false(ed);
	free(s);
	free(p);
	keys = save;
	submit_keys_free(fresh);
}

/* ---- queueing ---- */

typedef struct delivered {
	char rcpt[10][300];
	char account[10][64];
	size_t n;
	size_t total_len;
	int sent;
} delivered;

static int
deliver_cb(void *arg, const mox_cfg_account *account, const mox_cfg_destination *dest,
           const char *rcpt, const uint8_t *prefix, size_t prefix_len,
           const uint8_t *msg, size_t len, char *why, size_t whylen)
{
	(void)dest;
	(void)prefix;
	(void)msg;
	delivered *d = arg;
	if (strncmp(rcpt, "fail", 4) == 0) {
		snprintf(why, whylen, "mailbox full");
		return 1;
	}
	snprintf(d->rcpt[d->n], sizeof(d->rcpt[0]), "%s", rcpt);
	snprintf(d->account[d->n], sizeof(d->account[0]), "%s", account->name);
	d->n++;
	d->total_len = prefix_len + len;
	return 0;
}

static int
sent_cb(void *arg, const char *account, const uint8_t *prefix, size_t prefix_len,
        const uint8_t *msg, size_t len, char *why, size_t whylen)
{
	(void)prefix;
	(void)prefix_len;
	(void)msg;
	(void)len;
	(void)why;
	(void)whylen;
	delivered *d = arg;
	assert_string_equal(account, "mjl");
	d->sent++;
	return 0;
}

static void
drop_all(void)
{
	queue_filter f;
	memset(&f, 0, sizeof(f));
	size_t n = 0;
	char err[256];
	assert_int_equal(queue_store_drop(qs, &f, &n, err, sizeof(err)), MOX_OK);
}

static void
test_enqueue_split(void **state)
{
	(void)state;
	drop_all();
	const char *msg =
	    "From: mjl@mox.example\r\nTo: a@remote.example\r\nSubject: q\r\n"
	    "\r\nbody\r\n";
	const char *rcpts[] = {"a@remote.example", "other@mox.example",
	                       "b@remote2.example", "Mjl+x@Mox.Example"};
	size_t plen, nerr;
	uint8_t *p = prepare(msg, rcpts, 4, &plen, &nerr);
	delivered d;
	memset(&d, 0, sizeof(d));
	submit_enqueue_req q;
	memset(&q, 0, sizeof(q));
	q.cfg = dyn;
	q.qs = qs;
	q.account = "mjl";
	q.mail_from = "mjl@mox.example";
	q.recipients = rcpts;
	q.nrecipients = 4;
	q.prefix = p;
	q.prefix_len = plen;
	q.msg = (const uint8_t *)msg;
	q.len = strlen(msg);
	q.requiretls = true;
	q.dsn_notify = "FAILURE,DELAY";
	q.dsn_envid = "env1";
	q.dsn_ret_full = true;
	q.deliver = deliver_cb;
	q.deliver_arg = &d;
	q.save_sent = sent_cb;
	q.sent_arg = &d;
	int64_t now = (int64_t)time(NULL) * 1000;
	q.now_ms = now;
	submit_enqueue_result res;
	submit_reply r;
	assert_int_equal(submit_enqueue(&q, &res, &r), MOX_OK);
	assert_int_equal(r.code, 0);
	assert_int_equal(res.nqueued, 2);
	assert_int_equal(res.nlocal, 2);
	assert_false(res.has8bit);
	assert_true(res.sent_saved);
	assert_int_equal(d.sent, 1);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.rcpt[0], "other@mox.example");
	assert_string_equal(d.account[0], "other");
	assert_string_equal(d.rcpt[1], "Mjl+x@Mox.Example");
	assert_string_equal(d.account[1], "mjl");
	assert_int_equal(d.total_len, plen + strlen(msg));

	queue_msg *m = NULL;
	size_t n = 0;
	char err[256];
	queue_filter f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(queue_store_list(qs, &f, &m, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(m[i].sender, "mjl@mox.example");
		assert_string_equal(m[i].sender_account, "mjl");
		assert_true(strcmp(m[i].recipient, "a@remote.example") == 0 ||
		            strcmp(m[i].recipient, "b@remote2.example") == 0);
		assert_int_equal(m[i].prefix_len, plen);
		assert_memory_equal(m[i].prefix, p, plen);
		assert_false(m[i].has8bit);
		assert_false(m[i].smtputf8);
		assert_int_equal(m[i].requiretls, QUEUE_REQUIRETLS_YES);
		assert_string_equal(m[i].dsn_notify, "FAILURE,DELAY");
		assert_string_equal(m[i].dsn_envid, "env1");
		assert_true(m[i].dsn_ret_full);
		assert_int_equal(m[i].release_at, 0);
		assert_true(m[i].next_attempt <= now);
		assert_int_equal(m[i].size, (int64_t)(plen + strlen(msg)));
		/* The delivered message is prefix + message. */
		uint8_t *all = NULL;
		size_t alen = 0;
		assert_int_equal(
		    queue_store_read_message(qs, &m[i], &all, &alen, err, sizeof(err)),
		    MOX_OK);
		assert_int_equal(alen, plen + strlen(msg));
		assert_memory_equal(all + plen, msg, strlen(msg));
		free(all);
	}
	queue_msgs_free(m, n);

	/* A failing local delivery gives mox's 451. */
	const char *bad[] = {"fail@other.example"};
	q.recipients = bad;
	q.nrecipients = 1;
	q.save_sent = NULL;
	assert_int_not_equal(submit_enqueue(&q, &res, &r), MOX_OK);
	assert_int_equal(r.code, 451);
	assert_string_equal(r.ecode, "4.3.0");
	assert_string_equal(r.text, "error delivering message: mailbox full");
	free(p);
	drop_all();
}

static void
test_enqueue_all_queued_8bit(void **state)
{
	(void)state;
	drop_all();
	/* Without a deliver callback local recipients are queued too (mox:
	 * "we always deliver through the queue"); 8-bit content and
	 * SMTPUTF8 are flagged; TLS-Required: No without REQUIRETLS. */
	const char *msg =
	    "From: mjl@mox.example\r\nTLS-Required: No\r\nSubject: caf\xc3\xa9\r\n"
	    "\r\nna\xc3\xafve\r\n";
	const char *rcpts[] = {"other@mox.example", "r\xc3\xa9@remote.example"};
	size_t plen, nerr;
	uint8_t *p = prepare(msg, rcpts, 2, &plen, &nerr);
	submit_enqueue_req q;
	memset(&q, 0, sizeof(q));
	q.cfg = dyn;
	q.qs = qs;
	q.account = "mjl";
	q.mail_from = "mjl@mox.example";
	q.recipients = rcpts;
	q.nrecipients = 2;
	q.prefix = p;
	q.prefix_len = plen;
	q.msg = (const uint8_t *)msg;
	q.len = strlen(msg);
	q.smtputf8 = true;
	submit_enqueue_result res;
	submit_reply r;
	assert_int_equal(submit_enqueue(&q, &res, &r), MOX_OK);
	assert_int_equal(res.nqueued, 2);
	assert_int_equal(res.nlocal, 0);
	assert_true(res.has8bit);
	queue_msg *m = NULL;
	size_t n = 0;
	char err[256];
	queue_filter f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(queue_store_list(qs, &f, &m, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_true(m[i].has8bit);
		assert_true(m[i].smtputf8);
		assert_int_equal(m[i].requiretls, QUEUE_REQUIRETLS_NO);
		assert_string_equal(m[i].dsn_notify, "");
	}
	queue_msgs_free(m, n);
	free(p);
	drop_all();
	assert_true(submit_has8bit((const uint8_t *)"a\x80", 2));
	assert_false(submit_has8bit((const uint8_t *)"abc", 3));
}

/* FUTURERELEASE end to end: the SMTP server core parses HOLDFOR on a
 * submission MAIL (RFC 4865 section 3), its release_at goes into the
 * queue row, which is not due before then. */
static const char *
run_until_event(mox_smtp_conn *c, const char *in, int64_t now_ms, mox_smtp_event *ev)
{
	if (in != NULL)
		assert_int_equal(mox_smtp_conn_feed(c, in, strlen(in)), MOX_OK);
	for (int i = 0; i < 20; i++) {
		mox_err e = mox_smtp_conn_next(c, now_ms, ev);
		size_t olen = 0;
		const uint8_t *o = mox_smtp_conn_output(c, &olen);
		if (o != NULL && olen > 0)
			mox_smtp_conn_output_consume(c, olen);
		if (e == MOX_OK)
			return NULL;
		assert_int_equal(e, MOX_EAGAIN);
		if (olen == 0)
			return "no event";
	}
	return "no event";
}

static void
test_futurerelease(void **state)
{
	(void)state;
	drop_all();
	int64_t now_ms = (int64_t)time(NULL) * 1000;
	mox_smtp_conn_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.hostname = "mail.mox.example";
	o.flags = MOX_SMTP_CONN_SUBMISSION | MOX_SMTP_CONN_TLS;
	o.future_release_max = 86400;
	o.now_ms = now_ms;
	mox_smtp_conn *c = NULL;
	assert_int_equal(mox_smtp_conn_new(&c, &o), MOX_OK);
	mox_smtp_event ev;
	assert_null(run_until_event(c, "EHLO client.example\r\n", now_ms, &ev));
	assert_int_equal(ev.type, MOX_SMTP_EV_HELLO);
	assert_int_equal(mox_smtp_conn_accept(c), MOX_OK);
	assert_null(run_until_event(c, "AUTH PLAIN AG1qbEBtb3guZXhhbXBsZQBwYXNz\r\n",
	                            now_ms, &ev));
	assert_int_equal(ev.type, MOX_SMTP_EV_AUTH);
	assert_int_equal(mox_smtp_conn_auth_verdict(c, true), MOX_OK);
	/* The auth-result event, then MAIL. */
	assert_null(run_until_event(c, NULL, now_ms, &ev));
	assert_null(run_until_event(c, "MAIL FROM:<mjl@mox.example> HOLDFOR=3600\r\n",
	                            now_ms, &ev));
	assert_int_equal(ev.type, MOX_SMTP_EV_MAIL);
	int64_t release = ev.u.mail.params->release_at;
	assert_int_equal(release, now_ms / 1000 + 3600);
	mox_smtp_conn_free(c);

	const char *msg = "From: mjl@mox.example\r\nSubject: later\r\n\r\nbody\r\n";
	const char *rcpts[] = {"later@remote.example"};
	size_t plen, nerr;
	uint8_t *p = prepare(msg, rcpts, 1, &plen, &nerr);
	submit_enqueue_req q;
	memset(&q, 0, sizeof(q));
	q.cfg = dyn;
	q.qs = qs;
	q.account = "mjl";
	q.mail_from = "mjl@mox.example";
	q.recipients = rcpts;
	q.nrecipients = 1;
	q.prefix = p;
	q.prefix_len = plen;
	q.msg = (const uint8_t *)msg;
	q.len = strlen(msg);
	q.release_at = release;
	q.now_ms = now_ms;
	submit_enqueue_result res;
	submit_reply r;
	assert_int_equal(submit_enqueue(&q, &res, &r), MOX_OK);
	queue_msg *m = NULL;
	size_t n = 0;
	char err[256];
	queue_filter f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(queue_store_list(qs, &f, &m, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].release_at, release * 1000);
	assert_int_equal(m[0].next_attempt, release * 1000);
	queue_msgs_free(m, n);
	/* Not due now, due at the release time. */
	assert_int_equal(queue_store_due(qs, now_ms, 10, &m, &n, err, sizeof(err)),
	                 MOX_OK);
	assert_int_equal(n, 0);
	queue_msgs_free(m, n);
	assert_int_equal(
	    queue_store_due(qs, release * 1000, 10, &m, &n, err, sizeof(err)), MOX_OK);
	assert_int_equal(n, 1);
	queue_msgs_free(m, n);
	free(p);
	drop_all();
}

/* A From domain without DKIM Sign selectors: no signature, the rest as
 * usual. SMTPUTF8 makes the protocol UTF8SMTPSA (RFC 6531 section 3.7.3). */
static void
test_prefix_unsigned_utf8(void **state)
{
	(void)state;
	const char *msg = "From: someone@other.example\r\nSubject: x\r\n\r\nbody\r\n";
	submit_from f;
	submit_reply r;
	assert_true(check("mjl@mox.example", msg, &r, &f));
	const char *rcpt[] = {"r\xc3\xa9@remote.example"};
	submit_env env;
	memset(&env, 0, sizeof(env));
	env.hostname = "mail.mox.example";
	env.mail_from = "mjl@mox.example";
	env.recipients = rcpt;
	env.nrecipients = 1;
	env.ehlo = true;
	env.smtputf8 = true;
	env.received_id = "fixedid";
	env.now = 1700000000;
	uint8_t *p = NULL;
	size_t plen = 0, nerr = 9;
	char err[300];
	assert_int_equal(submit_prepare(&env, &f, keys, (const uint8_t *)msg,
	                                strlen(msg), &p, &plen, &nerr, err,
	                                sizeof(err)),
	                 MOX_OK);
	assert_int_equal(nerr, 0);
	char *s = joined(p, plen, "");
	char *u = unfold(s);
	assert_null(strstr(s, "DKIM-Signature:"));
	assert_non_null(
	    strstr(u, "by mail.mox.example via tcp with UTF8SMTPA id fixedid for "
	              "<r\xc3\xa9@remote.example>; "));
	/* The fixed time is in the Received and Date fields. */
	char *d = strstr(s, "\r\nDate: ") + 8;
	mox_msg_date date;
	assert_int_equal(mox_msg_date_parse((const uint8_t *)d,
	                                    (size_t)(strstr(d, "\r\n") - d), &date,
	                                    NULL),
	                 MOX_OK);
	assert_int_equal((int64_t)date.t, 1700000000);
	free(u);
	free(s);
	free(p);
	/* Incomplete input is refused. */
	env.hostname = NULL;
	assert_int_equal(submit_prepare(&env, &f, keys, (const uint8_t *)msg,
	                                strlen(msg), &p, &plen, &nerr, err,
	                                sizeof(err)),
	                 MOX_EINVAL);
	assert_null(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_good),
	    cmocka_unit_test(test_from_bad),
	    cmocka_unit_test(test_prefix_fields),
	    cmocka_unit_test(test_prefix_unsigned_utf8),
	    cmocka_unit_test(test_dkim_signatures),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_dkim_missing_key),
	    cmocka_unit_test(test_enqueue_split),
	    cmocka_unit_test(test_enqueue_all_queued_8bit),
	    cmocka_unit_test(test_futurerelease),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
