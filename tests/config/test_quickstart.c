/* "mox quickstart" and "mox config dnsrecords" with the real binary: the
 * written config passes "mox config test", the printed password opens the
 * account, the DKIM records printed are the public halves of the written
 * keys, and a second run does not overwrite anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <mox/dkim.h>
#include <mox/store.h>

static char tmpdir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mox-quickstart-test-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run cmd, return its exit status and output (stdout+stderr). */
static int
run(const char *cmd, char *out, size_t outsize)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = 0, r;
	while (n + 1 < outsize && (r = fread(out + n, 1, outsize - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	/* Drain anything beyond the buffer so the child does not get SIGPIPE. */
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), f) > 0)
		;
	int status = pclose(f);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[65536];
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* The TXT record a key file must have in DNS, from the key itself. */
static void
expect_key_record(const char *out, const char *keyfile)
{
	size_t len;
	char *pem = slurp(keyfile, &len);
	mox_dkim_key *key = NULL;
	assert_int_equal(mox_dkim_key_parse_pem(pem, len, NULL, &key, NULL), MOX_OK);
	mox_buf rec = MOX_BUF_INIT;
	assert_int_equal(mox_dkim_key_txt_record(key, &rec), MOX_OK);
	/* The zone file splits long TXT values in 255-byte strings. */
	const char *r = (const char *)rec.data;
	size_t first = rec.len > 255 ? 255 : rec.len;
	char want[300];
	snprintf(want, sizeof(want), "\"%.*s\"", (int)first, r);
	if (strstr(out, want) == NULL)
		fail_msg("no record for %s in output", keyfile);
	if (rec.len > 255) {
		snprintf(want, sizeof(want), "\"%.*s\"",
		         (int)(rec.len - 255 > 255 ? 255 : rec.len - 255), r + 255);
		assert_non_null(strstr(out, want));
	}
	mox_buf_free(&rec);
	mox_dkim_key_free(key);
}

static void
test_quickstart(void **state)
{
	(void)state;
	static char out[131072];
	char cmd[1024], conf[512];
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && '%s' quickstart -dir qs -ip 127.0.0.1 -ip ::1 "
	         "mjl@mox.example 0 2>&1",
	         tmpdir, MOX_BINARY);
	if (run(cmd, out, sizeof(out)) != 0)
		fail_msg("quickstart failed:\n%s", out);

	/* The password is printed once, on its own indented line. */
	const char *p = strstr(out, "shown only now):\n\n\t");
	assert_non_null(p);
	p += strlen("shown only now):\n\n\t");
	char password[64];
	size_t pl = strcspn(p, "\n");
	assert_true(pl >= 12 && pl < sizeof(password));
	memcpy(password, p, pl);
	password[pl] = '\0';

	/* The config passes "mox config test". */
	snprintf(conf, sizeof(conf), "%s/qs/config/mox.conf", tmpdir);
	snprintf(cmd, sizeof(cmd), "'%s' -config '%s' config test 2>&1", MOX_BINARY,
	         conf);
	static char out2[65536];
	if (run(cmd, out2, sizeof(out2)) != 0)
		fail_msg("config test failed:\n%s", out2);

	/* The account exists and takes the password, and only it. */
	char accdir[600];
	snprintf(accdir, sizeof(accdir), "%s/qs/data/accounts/mjl", tmpdir);
	mox_store *store = NULL;
	mox_store_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	assert_int_equal(mox_store_open(&store, accdir, &o, NULL), MOX_OK);
	bool ok = false;
	assert_int_equal(mox_store_password_check(store, password, &ok), MOX_OK);
	assert_true(ok);
	assert_int_equal(mox_store_password_check(store, "moxmoxmox", &ok), MOX_OK);
	assert_false(ok);
	mox_store_close(store);

	/* DNS records in the quickstart output and from "config dnsrecords". */
	snprintf(cmd, sizeof(cmd),
	         "'%s' -config '%s' config dnsrecords mox.example 2>&1", MOX_BINARY,
	         conf);
	if (run(cmd, out2, sizeof(out2)) != 0)
		fail_msg("dnsrecords failed:\n%s", out2);
	static const char *const want[] = {
	    "mox.example.                   MX 10 mail.mox.example.",
	    "mail.mox.example.              A 127.0.0.1",
	    "mail.mox.example.              AAAA ::1",
	    "\"v=spf1 mx ~all\"",
	    "_dmarc.mox.example.            TXT "
	    "\"v=DMARC1;p=reject;rua=mailto:dmarc-reports@mox.example!10m\"",
	    "_smtp._tls.mox.example.        TXT \"v=TLSRPTv1; "
	    "rua=mailto:tls-reports@mox.example\"",
	    "_mta-sts.mox.example.          TXT \"v=STSv1; id=",
	    "_submissions._tcp.mox.example. SRV 0 1 465 mail.mox.example.",
	    "_pop3._tcp.mox.example.        SRV 0 0 0 .",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(out2, want[i]) == NULL)
			fail_msg("dnsrecords lacks \"%s\":\n%s", want[i], out2);
		assert_non_null(strstr(out, want[i]));
	}
	/* The zone file is valid for a real zone parser (dnspython). */
	char zpath[600];
	snprintf(zpath, sizeof(zpath), "%s/zone.txt", tmpdir);
	FILE *zf = fopen(zpath, "w");
	assert_non_null(zf);
	fputs(out2, zf);
	fclose(zf);
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 -c 'import sys, dns.zone; "
	         "z = dns.zone.from_file(sys.argv[1], origin=\".\", relativize=False, "
	         "check_origin=False); "
	         "print(len(z.nodes))' '%s' 2>&1",
	         zpath);
	static char pyout[4096];
	if (run(cmd, pyout, sizeof(pyout)) != 0)
		fail_msg("dnspython refused the zone:\n%s\n%s", pyout, out2);
	assert_true(atoi(pyout) >= 15);

	/* Both DKIM keys (ed25519 and RSA 2048), as published. */
	char dkimdir[600];
	snprintf(dkimdir, sizeof(dkimdir), "%s/qs/config/dkim", tmpdir);
	snprintf(cmd, sizeof(cmd), "ls '%s'", dkimdir);
	static char files[4096];
	assert_int_equal(run(cmd, files, sizeof(files)), 0);
	int nkeys = 0;
	for (char *line = strtok(files, "\n"); line != NULL;
	     line = strtok(NULL, "\n")) {
		char kf[1200];
		snprintf(kf, sizeof(kf), "%s/%s", dkimdir, line);
		struct stat sb;
		assert_int_equal(stat(kf, &sb), 0);
		assert_int_equal(sb.st_mode & 077, 0); /* private */
		expect_key_record(out2, kf);
		nkeys++;
	}
	assert_int_equal(nkeys, 2);
	assert_non_null(strstr(out2, "k=ed25519"));

	/* No overwriting on a second run. */
	size_t len;
	char before[8192];
	char dpath[600];
	snprintf(dpath, sizeof(dpath), "%s/qs/config/domains.conf", tmpdir);
	snprintf(before, sizeof(before), "%s", slurp(dpath, &len));
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && '%s' quickstart -dir qs mjl@mox.example 0 2>&1", tmpdir,
	         MOX_BINARY);
	assert_int_equal(run(cmd, out2, sizeof(out2)), 1);
	assert_non_null(strstr(out2, "not overwriting"));
	assert_string_equal(slurp(dpath, &len), before);

	/* Bad arguments. */
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && '%s' quickstart -dir qs2 notanaddress 2>&1", tmpdir,
	         MOX_BINARY);
	assert_int_equal(run(cmd, out2, sizeof(out2)), 2);
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && '%s' quickstart -dir qs2 a@-bad-.example 2>&1", tmpdir,
	         MOX_BINARY);
	assert_int_equal(run(cmd, out2, sizeof(out2)), 2);
	snprintf(cmd, sizeof(cmd),
	         "'%s' -config '%s' config dnsrecords other.example 2>&1", MOX_BINARY,
	         conf);
	assert_int_equal(run(cmd, out2, sizeof(out2)), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quickstart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
