/* Unit tests for mox.conf/domains.conf (server/config*.c): the example
 * configs load, the describe outputs decode with the same schema, every
 * kind of problem is reported at its line, edits are written atomically
 * keeping comments, reloads swap safely under concurrent readers, and
 * "mox config test" lists errors and exits non-zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_int.h"

/* RFC 8410 section 10.3 example Ed25519 private key. */
static const char ed25519_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";

static char tmpdir[256];

static char *
slurp(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	if (len_out != NULL)
		*len_out = (size_t)n;
	return s;
}

static void
writefile(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *
datafile(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/config/data/%s", MOX_SOURCE_DIR, name);
	char *s = slurp(path, NULL);
	assert_non_null(s);
	return s;
}

/* A config dir with the example files, key and (placeholder) cert files. */
static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mox-config-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char path[512];
	snprintf(path, sizeof(path), "%s/dkim", tmpdir);
	mkdir(path, 0700);
	char *s = datafile("mox.conf");
	writefile("mox.conf", s);
	free(s);
	s = datafile("domains.conf");
	writefile("domains.conf", s);
	free(s);
	writefile("dkim/2024a.ed25519.privatekey.pkcs8.pem", ed25519_pem);
	writefile("cert.pem", "placeholder\n");
	writefile("key.pem", "placeholder\n");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static mox_config_static *
load_static(void)
{
	char p[512];
	path_of(p, sizeof(p), "mox.conf");
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	mox_err rc = mox_config_static_load(p, &st, &errs);
	if (rc != MOX_OK)
		mox_config_errors_print(&errs, stderr);
	assert_int_equal(rc, MOX_OK);
	assert_int_equal(errs.nerrors, 0);
	mox_config_errors_clear(&errs);
	return st;
}

static void
test_load_examples(void **state)
{
	(void)state;
	mox_config_static *st = load_static();
	assert_string_equal(st->hostname_ascii, "mail.mox.example");
	assert_string_equal(st->log_level, "info");
	assert_int_equal(st->uid, 0);
	assert_int_equal(st->listeners.n, 2);
	const mox_cfg_listener *pub = &st->listeners.v[1];
	assert_string_equal(pub->name, "public");
	assert_true(pub->smtp.enabled);
	assert_int_equal(pub->smtp.port, 1025);
	assert_int_equal(pub->submission.port, 587); /* default */
	assert_int_equal(pub->imaps.port, 1993);
	assert_int_equal(pub->smtp.first_time_sender_delay_ns, 15LL * 1000000000);
	assert_int_equal(pub->smtp_max_message_size, 100 * 1024 * 1024);
	assert_non_null(pub->tls);
	assert_int_equal(pub->tls->key_certs.n, 1);
	assert_true(pub->tls->key_certs.v[0].cert_file[0] == '/');
	assert_false(st->listeners.v[0].submission.enabled);
	assert_string_equal(st->listeners.v[0].admin_http.path, "/admin/");
	assert_int_equal(st->listeners.v[0].metrics_http.port, 8010);
	assert_string_equal(st->initial_mailboxes.special_use.draft, "Drafts");
	assert_int_equal(st->transports.n, 1);
	assert_non_null(st->transports.v[0].submissions);
	assert_string_equal(st->transports.v[0].submissions->auth->password, "secret");
	assert_true(st->data_dir[0] == '/');

	char p[512];
	path_of(p, sizeof(p), "domains.conf");
	mox_config_errors errs = {0};
	mox_config_dynamic *d = NULL;
	mox_err rc = mox_config_dynamic_load(st, p, &d, &errs);
	if (rc != MOX_OK)
		mox_config_errors_print(&errs, stderr);
	assert_int_equal(rc, MOX_OK);
	assert_int_equal(d->domains.n, 3);
	const mox_cfg_domain *dom = mox_config_domain_find(d, "Mox.Example");
	assert_non_null(dom);
	assert_int_equal(dom->dkim.selectors.n, 1);
	assert_int_equal(dom->dkim.selectors.v[0].expiration_seconds, 72 * 3600);
	assert_string_equal(dom->mtasts->mode, "enforce");
	assert_int_equal(dom->mtasts->max_age_ns, 24LL * 3600 * 1000000000);
	assert_non_null(mox_config_domain_find(d, "bücher.example"));
	assert_non_null(mox_config_domain_find(d, "other.example"));
	const mox_cfg_destination *dst = NULL;
	const mox_cfg_account *acc =
	    mox_config_address_find(d, "MJL+tag@mox.example", &dst);
	assert_non_null(acc);
	assert_string_equal(acc->name, "mjl");
	assert_string_equal(dst->mailbox, "Inbox"); /* default of a nil destination */
	acc = mox_config_address_find(d, "anyone@other.example", &dst);
	assert_non_null(acc);
	assert_string_equal(dst->mailbox, "Catchall");
	acc = mox_config_address_find(d, "other@other.example", &dst);
	assert_string_equal(acc->name, "other");
	acc = mox_config_address_find(d, "info@xn--bcher-kva.example", &dst);
	assert_non_null(acc);
	assert_int_equal(dst->rulesets.n, 1);
	assert_string_equal(dst->rulesets.v[0].headers_regexp.v[0].key, "^list-id$");
	assert_null(mox_config_address_find(d, "nobody@mox.example", NULL));
	assert_null(mox_config_address_find(d, "x@unknown.example", NULL));
	acc = mox_config_account_find(d, "mjl");
	assert_non_null(acc->junk_filter);
	assert_int_equal(acc->junk_filter->params.top_words, 10);
	assert_true(acc->junk_filter->threshold > 0.94 &&
	            acc->junk_filter->threshold < 0.96);
	assert_int_equal(acc->max_outgoing_messages_per_day, 1000);
	assert_int_equal(acc->routes.n, 1);
	mox_config_dynamic_unref(d);
	mox_config_errors_clear(&errs);
	mox_config_static_free(st);
}

/* The annotated examples decode with the same tables without a single
 * schema problem: every printed key is known, every value has its type. */
static void
test_describe_decodes(void **state)
{
	(void)state;
	const cfg_struct *schemas[2] = {&mox__cfg_static_schema,
	                                &mox__cfg_dynamic_schema};
	size_t sizes[2] = {sizeof(mox_config_static), sizeof(mox_config_dynamic)};
	for (int i = 0; i < 2; i++) {
		mox_buf b = MOX_BUF_INIT;
		assert_int_equal(mox__cfg_describe(schemas[i], &b), MOX_OK);
		mox_sconf_doc *doc = NULL;
		mox_sconf_error err;
		assert_int_equal(mox_sconf_parse((const char *)b.data, b.len,
		                                 "describe", &doc, &err),
		                 MOX_OK);
		mox_config_errors errs = {0};
		cfg_ctx ctx = {&errs, "describe", false};
		void *base = calloc(1, sizes[i]);
		mox__cfg_decode(&ctx, schemas[i], base, &doc->root);
		if (errs.n > 0)
			mox_config_errors_print(&errs, stderr);
		assert_int_equal(errs.n, 0);
		mox__cfg_free(schemas[i], base);
		free(base);
		mox_sconf_free(doc);
		mox_config_errors_clear(&errs);
		mox_buf_free(&b);
	}
	/* Our describe output contains mox's, byte for byte (wrapping,
	 * blank lines, "(optional)", zero values). */
	mox_buf desc = MOX_BUF_INIT;
	assert_int_equal(mox_config_describe_static(&desc), MOX_OK);
	static const char *const excerpts[] = {"mox-describe-static-head.txt",
	                                       "mox-describe-static-smtp.txt"};
	for (size_t i = 0; i < 2; i++) {
		char *ex = datafile(excerpts[i]);
		if (strstr((const char *)desc.data, ex) == NULL)
			fail_msg("describe-static lacks mox's %s", excerpts[i]);
		free(ex);
	}
	assert_memory_equal(desc.data, "# Directory where", 17);
	mox_buf_free(&desc);

	/* mox's own example (config/doc.go, webhandlers) decodes as well. */
	char *s = datafile("webhandlers.conf");
	mox_sconf_doc *doc = NULL;
	assert_int_equal(mox_sconf_parse(s, strlen(s), "webhandlers.conf", &doc, NULL),
	                 MOX_OK);
	mox_config_errors errs = {0};
	cfg_ctx ctx = {&errs, "webhandlers.conf", false};
	mox_config_dynamic *d = calloc(1, sizeof(*d));
	mox__cfg_decode(&ctx, &mox__cfg_dynamic_schema, d, &doc->root);
	/* Only the required Domains and Accounts are missing in the snippet. */
	assert_int_equal(errs.n, 2);
	assert_non_null(strstr(errs.v[0].msg, "missing required key \"Domains\""));
	assert_int_equal(d->web_handlers.n, 5);
	assert_int_equal(d->web_handlers.v[2].web_redirect->status_code, 307);
	assert_int_equal(d->web_handlers.v[3].web_redirect->status_code,
	                 308); /* default */
	assert_int_equal(d->web_handlers.v[4].web_forward->response_headers.n, 2);
	mox__cfg_free(&mox__cfg_dynamic_schema, d);
	free(d);
	mox_sconf_free(doc);
	mox_config_errors_clear(&errs);
	free(s);
}

/* Each expected problem: line and a piece of the message. */
struct want {
	size_t line;
	const char *msg;
};

static void
expect_problems(const mox_config_errors *errs, const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < errs->n && !found; j++)
			found = errs->v[j].line == w[i].line &&
			        strstr(errs->v[j].msg, w[i].msg) != NULL;
		if (!found) {
			mox_config_errors_print(errs, stderr);
			fail_msg("missing problem at line %zu: %s", w[i].line,
			         w[i].msg);
		}
	}
	if (errs->nerrors != n) {
		mox_config_errors_print(errs, stderr);
		fail_msg("got %zu errors, want %zu", errs->nerrors, n);
	}
}

static void
test_dynamic_errors(void **state)
{
	(void)state;
	mox_config_static *st = load_static();
	char p[512];
	path_of(p, sizeof(p), "bad-domains.conf");
	const char *text = "Domains:\n"                                   /* 1 */
	                   "\tmox.example:\n"                             /* 2 */
	                   "\t\tDKIM:\n"                                  /* 3 */
	                   "\t\t\tSelectors:\n"                           /* 4 */
	                   "\t\t\t\ts1:\n"                                /* 5 */
	                   "\t\t\t\t\tPrivateKeyFile: dkim/missing.pem\n" /* 6 */
	                   "\t\t\t\t\tHash: md5\n"                        /* 7 */
	                   "\t\t\tSign:\n"                                /* 8 */
	                   "\t\t\t\t- s2\n"                               /* 9 */
	                   "\t\tMTASTS:\n"                                /* 10 */
	                   "\t\t\tPolicyID: a-b\n"                        /* 11 */
	                   "\t\t\tMode: strict\n"                         /* 12 */
	                   "\t\t\tMaxAge: 1 week\n"                       /* 13 */
	                   "\tbad_domain!.example: nil\n"                 /* 14 */
	                   "Accounts:\n"                                  /* 15 */
	                   "\tmjl:\n"                                     /* 16 */
	                   "\t\tDomain: mox.example\n"                    /* 17 */
	                   "\t\tDestinations:\n"                          /* 18 */
	                   "\t\t\tmjl@mox.example: nil\n"                 /* 19 */
	                   "\t\t\tx@unknown.example: nil\n"               /* 20 */
	                   "\t\tKeepRejects: yes\n"                       /* 21 */
	                   "\t\tMaxOutgoingMessagesPerDay: many\n"        /* 22 */
	                   "\t\tUnknownField: 1\n"                        /* 23 */
	                   "\tother:\n"                                   /* 24 */
	                   "\t\tDomain: nowhere.example\n"                /* 25 */
	                   "\t\tDestinations:\n"                          /* 26 */
	                   "\t\t\tMJL@Mox.Example:\n"                     /* 27 */
	                   "\t\t\t\tRulesets:\n"                          /* 28 */
	                   "\t\t\t\t\t-\n"                                /* 29 */
	                   "\t\t\t\t\t\tSMTPMailFromRegexp: ^(a\n"        /* 30 */
	                   "\t\t\t\t\t\tMailbox: x\n"                     /* 31 */
	                   "\t\tRoutes:\n"                                /* 32 */
	                   "\t\t\t-\n"                                    /* 33 */
	                   "\t\t\t\tTransport: nosuch\n"                  /* 34 */
	                   "\t\tJunkFilter:\n"                            /* 35 */
	                   "\t\t\tThreshold: 0.9\n"; /* 36: Params missing */
	writefile("bad-domains.conf", text);
	mox_config_errors errs = {0};
	mox_config_dynamic *d = NULL;
	assert_int_equal(mox_config_dynamic_load(st, p, &d, &errs), MOX_ESYNTAX);
	assert_null(d);
	static const struct want w[] = {
	    {6, "PrivateKeyFile"},
	    {7, "Hash must be sha256 or sha1"},
	    {9, "unknown selector \"s2\""},
	    {11, "PolicyID"},
	    {12, "Mode must be"},
	    {13, "parsing duration"},
	    {13, "MaxAge must be positive"},
	    {14, "invalid domain"},
	    {20, "unknown domain \"unknown.example\""},
	    {21, "bad boolean value \"yes\""},
	    {22, "parsing integer \"many\""},
	    {23, "unknown key \"UnknownField\""},
	    {25, "unknown domain \"nowhere.example\""},
	    {27, "duplicate address mjl@mox.example"},
	    {30, "bad regular expression"},
	    {34, "unknown transport \"nosuch\""},
	    {35, "missing required key \"Params\""},
	};
	expect_problems(&errs, w, sizeof(w) / sizeof(w[0]));
	/* Printing sorts by line. */
	char *buf = NULL;
	size_t buflen = 0;
	FILE *f = open_memstream(&buf, &buflen);
	mox_config_errors_print(&errs, f);
	fclose(f);
	char want0[600];
	snprintf(want0, sizeof(want0), "%s:6: ", p);
	assert_memory_equal(buf, want0, strlen(want0));
	free(buf);
	mox_config_errors_clear(&errs);
	mox_config_static_free(st);
}

static void
test_static_errors(void **state)
{
	(void)state;
	const char *text = "DataDir: data\n"                           /* 1 */
	                   "LogLevel: loud\n"                          /* 2 */
	                   "User: nosuchuser-mox-test\n"               /* 3 */
	                   "Hostname: -bad-.example\n"                 /* 4 */
	                   "ACME:\n"                                   /* 5 */
	                   "\tletsencrypt:\n"                          /* 6 */
	                   "\t\tDirectoryURL: https://acme.example/\n" /* 7 */
	                   "\t\tContactEmail: admin@mox.example\n"     /* 8 */
	                   "Listeners:\n"                              /* 9 */
	                   "\tpublic:\n"                               /* 10 */
	                   "\t\tIPs:\n"                                /* 11 */
	                   "\t\t\t- 127.0.0.1\n"                       /* 12 */
	                   "\t\t\t- 300.1.1.1\n"                       /* 13 */
	                   "\t\tIMAPS:\n"                              /* 14 */
	                   "\t\t\tEnabled: true\n"                     /* 15 */
	                   "\t\tSMTP:\n"                               /* 16 */
	                   "\t\t\tEnabled: true\n"                     /* 17 */
	                   "\t\t\tPort: 70000\n"                       /* 18 */
	                   "\tacme:\n"                                 /* 19 */
	                   "\t\tIPs:\n"                                /* 20 */
	                   "\t\t\t- ::1\n"                             /* 21 */
	                   "\t\tTLS:\n"                                /* 22 */
	                   "\t\t\tACME: letsencrypt\n"                 /* 23 */
	                   "\t\t\tKeyCerts:\n"                         /* 24 */
	                   "\t\t\t\t-\n"                               /* 25 */
	                   "\t\t\t\t\tCertFile: nosuch-cert.pem\n"     /* 26 */
	                   "\t\t\t\t\tKeyFile: key.pem\n"              /* 27 */
	                   "Postmaster:\n"                             /* 28 */
	                   "\tAccount: mjl\n"                          /* 29 */
	                   "Transports:\n"                             /* 30 */
	                   "\ttwo:\n"                                  /* 31 */
	                   "\t\tSMTP:\n"                               /* 32 */
	                   "\t\t\tHost: a.example\n"                   /* 33 */
	                   "\t\tSocks:\n"                              /* 34 */
	                   "\t\t\tAddress: proxy\n"                    /* 35 */
	                   "\t\t\tRemoteIPs:\n"                        /* 36 */
	                   "\t\t\t\t- 192.0.2.1\n"                     /* 37 */
	                   "\t\t\tRemoteHostname: out.example\n";      /* 38 */
	char p[512];
	path_of(p, sizeof(p), "bad-mox.conf");
	writefile("bad-mox.conf", text);
	mox_config_errors errs = {0};
	mox_config_static *st = NULL;
	assert_int_equal(mox_config_static_load(p, &st, &errs), MOX_ESYNTAX);
	assert_null(st);
	static const struct want w[] = {
	    {2, "unknown log level \"loud\""},
	    {3, "unknown user"},
	    {4, "invalid domain"},
	    {13, "invalid IP \"300.1.1.1\""},
	    {15, "IMAPS requires a TLS config"},
	    {18, "port 70000 out of range"},
	    {26, "nosuch-cert.pem"},
	    {28, "missing required key \"Mailbox\""},
	    {31, "at most one transport method"},
	    {35, "host:port"},
	};
	expect_problems(&errs, w, sizeof(w) / sizeof(w[0]));
	/* ACME is accepted, with a warning. */
	bool warned = false;
	for (size_t i = 0; i < errs.n; i++)
		warned |= errs.v[i].warning && errs.v[i].line == 6 &&
		          strstr(errs.v[i].msg, "not supported") != NULL;
	assert_true(warned);
	mox_config_errors_clear(&errs);

	/* Shape errors stop at the first, with their line. */
	writefile("bad-mox.conf", "DataDir: data\nListeners:\n\tpublic:\n\t\t\tIPs:\n");
	assert_int_equal(mox_config_static_load(p, &st, &errs), MOX_ESYNTAX);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 4);
	mox_config_errors_clear(&errs);

	/* Wrong shapes for the schema. */
	writefile("bad-mox.conf", "DataDir:\n\tx: 1\nUser: root\nHostname: a.example\n"
	                          "Listeners: public\nPostmaster:\n\tAccount: "
	                          "a\n\tMailbox: b\nLogLevel: info\n");
	assert_int_equal(mox_config_static_load(p, &st, &errs), MOX_ESYNTAX);
	static const struct want w2[] = {
	    {2, "unexpected indented lines under a string"},
	    {1, "DataDir: must not be empty"},
	    {5, "Listeners: expected a map"},
	    {5, "at least one listener"},
	};
	expect_problems(&errs, w2, sizeof(w2) / sizeof(w2[0]));
	mox_config_errors_clear(&errs);

	/* A missing file. */
	path_of(p, sizeof(p), "nonexistent.conf");
	assert_int_equal(mox_config_static_load(p, &st, &errs), MOX_EIO);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 0);
	mox_config_errors_clear(&errs);
}

static void
test_edits(void **state)
{
	(void)state;
	mox_config_static *st = load_static();
	char p[512];
	path_of(p, sizeof(p), "domains.conf");
	mox_config_errors errs = {0};
	mox_config_dynamic *d = NULL, *n = NULL;
	assert_int_equal(mox_config_dynamic_load(st, p, &d, &errs), MOX_OK);

	assert_int_equal(
	    mox_config_account_add(st, d, "alice", "alice@mox.example", &n, &errs),
	    MOX_OK);
	assert_non_null(mox_config_account_find(n, "alice"));
	assert_string_equal(mox_config_address_find(n, "Alice@mox.example", NULL)->name,
	                    "alice");
	mox_config_dynamic_unref(d);
	d = n;
	/* Already there. */
	assert_int_equal(
	    mox_config_account_add(st, d, "alice", "a2@mox.example", &n, &errs),
	    MOX_EEXIST);
	assert_null(n);
	/* Address of another account: refused, reported. */
	assert_int_equal(
	    mox_config_account_add(st, d, "bob", "mjl@mox.example", &n, &errs),
	    MOX_ESYNTAX);
	assert_true(errs.nerrors >= 1);
	mox_config_errors_clear(&errs);
	/* Unknown domain. */
	assert_int_equal(
	    mox_config_account_add(st, d, "bob", "bob@nowhere.example", &n, &errs),
	    MOX_ESYNTAX);
	mox_config_errors_clear(&errs);

	assert_int_equal(
	    mox_config_address_add(st, d, "alice2@mox.example", "alice", &n, &errs),
	    MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;
	assert_string_equal(
	    mox_config_address_find(d, "alice2@mox.example", NULL)->name, "alice");
	assert_int_equal(
	    mox_config_address_add(st, d, "alice2@mox.example", "mjl", &n, &errs),
	    MOX_EEXIST);
	mox_config_errors_clear(&errs);
	assert_int_equal(
	    mox_config_address_remove(st, d, "alice@mox.example", &n, &errs), MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;
	assert_null(mox_config_address_find(d, "alice@mox.example", NULL));
	/* The last address of an account cannot go. */
	assert_int_equal(
	    mox_config_address_remove(st, d, "alice2@mox.example", &n, &errs),
	    MOX_EINVAL);
	mox_config_errors_clear(&errs);

	assert_int_equal(
	    mox_config_domain_add(st, d, "new.example", "carol", "carol", &n, &errs),
	    MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;
	assert_non_null(mox_config_domain_find(d, "new.example"));
	assert_string_equal(mox_config_address_find(d, "carol@new.example", NULL)->name,
	                    "carol");
	/* In use by carol. */
	assert_int_equal(mox_config_domain_remove(st, d, "new.example", &n, &errs),
	                 MOX_ESTATE);
	mox_config_errors_clear(&errs);
	assert_int_equal(mox_config_account_remove(st, d, "carol", &n, &errs), MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;
	assert_int_equal(mox_config_domain_remove(st, d, "new.example", &n, &errs),
	                 MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;
	assert_int_equal(mox_config_account_remove(st, d, "mjl", &n, &errs),
	                 MOX_EINVAL); /* postmaster */
	mox_config_errors_clear(&errs);
	assert_int_equal(mox_config_account_remove(st, d, "alice", &n, &errs), MOX_OK);
	mox_config_dynamic_unref(d);
	d = n;

	/* After adding and removing the same things, the file is the original
	 * byte for byte: comments and layout were kept throughout. */
	char *orig = datafile("domains.conf");
	char *now = slurp(p, NULL);
	assert_string_equal(now, orig);
	free(orig);
	free(now);
	/* And it loads from disk. */
	mox_config_dynamic *again = NULL;
	assert_int_equal(mox_config_dynamic_load(st, p, &again, &errs), MOX_OK);
	mox_config_dynamic_unref(again);
	/* No temporary files left behind. */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp", tmpdir);
	assert_int_not_equal(system(cmd), 0);
	mox_config_dynamic_unref(d);
	mox_config_static_free(st);
}

struct reader {
	mox_config_live *live;
	atomic_bool *stop;
	unsigned long reads;
	bool bad;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	while (!atomic_load(r->stop)) {
		mox_config_dynamic *d = mox_config_live_get(r->live);
		/* Use the config: every version has account mjl with its address. */
		if (mox_config_address_find(d, "mjl@mox.example", NULL) == NULL)
			r->bad = true;
		mox_config_dynamic_unref(d);
		r->reads++;
	}
	return NULL;
}

static void
test_live_reload(void **state)
{
	(void)state;
	mox_config_static *st = load_static();
	char p[512];
	path_of(p, sizeof(p), "domains.conf");
	mox_config_errors errs = {0};
	mox_config_dynamic *d = NULL;
	assert_int_equal(mox_config_dynamic_load(st, p, &d, &errs), MOX_OK);
	mox_config_live live;
	mox_config_live_init(&live, st, d);
	bool reloaded = true;
	assert_int_equal(mox_config_live_reload(&live, &reloaded, &errs), MOX_OK);
	assert_false(reloaded); /* unchanged */

	atomic_bool stop;
	atomic_init(&stop, false);
	struct reader readers[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		readers[i] = (struct reader){&live, &stop, 0, false};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &readers[i]),
		                 0);
	}
	char *orig = datafile("domains.conf");
	int swaps = 0;
	time_t deadline = time(NULL) + 20;
	for (int i = 0; i < 30 && time(NULL) < deadline; i++) {
		/* New content (a description that changes) through rename, as an
		 * editor or the admin commands do; every other round is invalid. */
		char text[16384];
		bool valid = i % 2 == 0;
		/* Add a domain at the start of Domains. */
		char *dom = strstr(orig, "Domains:\n");
		assert_non_null(dom);
		size_t head = (size_t)(dom - orig) + strlen("Domains:\n");
		snprintf(text, sizeof(text),
		         "%.*s\tv%d.example:\n\t\tDescription: round %d\n%s%s",
		         (int)head, orig, i, i, orig + head, valid ? "" : "Bogus: 1\n");
		assert_int_equal(mox_config_write_atomic(p, text, strlen(text), 0600),
		                 MOX_OK);
		mox_err rc = mox_config_live_reload(&live, &reloaded, &errs);
		if (valid) {
			assert_int_equal(rc, MOX_OK);
			assert_true(reloaded);
			swaps++;
			char name[32];
			snprintf(name, sizeof(name), "v%d.example", i);
			mox_config_dynamic *cur = mox_config_live_get(&live);
			assert_non_null(mox_config_domain_find(cur, name));
			mox_config_dynamic_unref(cur);
		} else {
			/* The old config stays; the problem is reported. */
			assert_int_equal(rc, MOX_ESYNTAX);
			assert_false(reloaded);
			assert_true(errs.nerrors > 0);
			mox_config_errors_clear(&errs);
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_false(readers[i].bad);
		assert_true(readers[i].reads > 0);
	}
	assert_true(swaps >= 10);
	writefile("domains.conf", orig);
	free(orig);
	mox_config_live_destroy(&live);
	mox_config_static_free(st);
}

static void
test_duration(void **state)
{
	(void)state;
	int64_t ns;
	assert_int_equal(mox__cfg_parse_duration("0", &ns), MOX_OK);
	assert_int_equal(ns, 0);
	assert_int_equal(mox__cfg_parse_duration("1h30m", &ns), MOX_OK);
	assert_int_equal(ns, 5400LL * 1000000000);
	assert_int_equal(mox__cfg_parse_duration("1.5s", &ns), MOX_OK);
	assert_int_equal(ns, 1500000000LL);
	assert_int_equal(mox__cfg_parse_duration("500ms", &ns), MOX_OK);
	assert_int_equal(ns, 500000000LL);
	assert_int_equal(mox__cfg_parse_duration("-2m", &ns), MOX_OK);
	assert_int_equal(ns, -120LL * 1000000000);
	static const char *const bad[] = {"",      "5",           "1d", "h",
	                                  "1h 2m", "9999999999h", "-"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(mox__cfg_parse_duration(bad[i], &ns), MOX_OK);
}

/* "mox config test" with the real binary: exit 0 and "config OK" for the
 * examples, exit 1 and every problem as file:line for a bad file. */
static void
test_cmd(void **state)
{
	(void)state;
	char cmd[1024], p[512];
	path_of(p, sizeof(p), "mox.conf");
	snprintf(cmd, sizeof(cmd), "'%s' -config '%s' config test 2>&1", MOX_BINARY, p);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	static char out[65536];
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	int status = pclose(f);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(out, "config OK"));

	/* Break domains.conf in two places. */
	char *orig = datafile("domains.conf");
	char *broken = malloc(strlen(orig) + 100);
	strcpy(broken, orig);
	char *k = strstr(broken, "RejectsMailbox: Rejects");
	assert_non_null(k);
	memcpy(k, "RejectsMailbix", 14);
	strcat(broken, "Routes:\n\t-\n\t\tTransport: nosuch\n");
	writefile("domains.conf", broken);
	size_t rejline = 1;
	for (const char *c = broken; c < k; c++)
		rejline += *c == '\n';
	size_t lines = 0;
	for (const char *c = broken; *c != '\0'; c++)
		lines += *c == '\n';
	f = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	status = pclose(f);
	assert_int_equal(WEXITSTATUS(status), 1);
	char want[700];
	path_of(p, sizeof(p), "domains.conf");
	snprintf(want, sizeof(want), "%s:%zu: unknown key \"RejectsMailbix\"", p,
	         rejline);
	if (strstr(out, want) == NULL)
		fail_msg("output lacks \"%s\":\n%s", want, out);
	snprintf(want, sizeof(want), "%s:%zu: route: unknown transport \"nosuch\"", p,
	         lines);
	if (strstr(out, want) == NULL)
		fail_msg("output lacks \"%s\":\n%s", want, out);
	writefile("domains.conf", orig);
	free(orig);
	free(broken);

	/* describe-static output is what the schema says. */
	snprintf(cmd, sizeof(cmd), "'%s' config describe-static", MOX_BINARY);
	f = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_config_describe_static(&b), MOX_OK);
	assert_memory_equal(out, b.data, n);
	mox_buf_free(&b);

	snprintf(cmd, sizeof(cmd), "'%s' config bogus 2>/dev/null", MOX_BINARY);
	status = system(cmd);
	assert_int_equal(WEXITSTATUS(status), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_examples),
	    cmocka_unit_test(test_describe_decodes),
	    cmocka_unit_test(test_dynamic_errors),
	    cmocka_unit_test(test_static_errors),
	    cmocka_unit_test(test_edits),
	    cmocka_unit_test(test_live_reload),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_cmd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
