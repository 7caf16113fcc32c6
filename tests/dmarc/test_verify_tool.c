/* End to end: `mox dmarc verify` (tools/mox-dmarc) against unbound on
 * loopback publishing SPF, DKIM and DMARC records for a sender domain.
 * The test makes an ed25519 key, signs a message with libmoxdkim, writes
 * the zone with the key's record, starts unbound, and runs the tool with
 * MOX_RESOLVER pointing at it: an aligned DKIM pass gives dmarc=pass, a
 * tampered body with an unaligned SPF domain gives dmarc=fail and the
 * reject policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <mox/dkim.h>
#include "unbound_fixture.h"

static mox_test_unbound ub;
static char dir[] = "/tmp/mox-dmarc-verify-XXXXXX";
static char signed_msg[8192];

static const char message[] = "From: Alice <alice@sender.test>\r\n"
			      "To: bob@example.org\r\n"
			      "Subject: verify me\r\n"
			      "Date: Mon, 2 Jan 2023 10:00:00 +0000\r\n"
			      "Message-ID: <verify@sender.test>\r\n"
			      "\r\n"
			      "Hello Bob.\r\n";

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	mox_dkim_key *key = NULL;
	if (mox_dkim_key_generate(MOX_DKIM_KEY_ED25519, 0, NULL, &key) != MOX_OK)
		return -1;
	mox_buf txt = MOX_BUF_INIT, sig = MOX_BUF_INIT;
	if (mox_dkim_key_txt_record(key, &txt) != MOX_OK)
		return -1;
	mox_dkim_selector sel = {.size = sizeof(sel),
				 .domain = "sender.test",
				 .selector = "s1",
				 .key = key,
				 .header_canon = MOX_DKIM_RELAXED,
				 .body_canon = MOX_DKIM_RELAXED};
	mox_dkim_sign_opts so = {.size = sizeof(so), .selectors = &sel, .nselectors = 1};
	mox_dkim_signer *s = NULL;
	mox_errinfo info;
	if (mox_dkim_signer_new(&s, &so, &info) != MOX_OK ||
	    mox_dkim_signer_feed(s, message, strlen(message)) != MOX_OK ||
	    mox_dkim_signer_end(s, &sig) != MOX_OK)
		return -1;
	snprintf(signed_msg, sizeof(signed_msg), "%s%s", (char *)sig.data, message);
	mox_dkim_signer_free(s);
	mox_dkim_key_free(key);

	/* The zone: the TXT record value split into 255-octet strings. */
	char zpath[256];
	snprintf(zpath, sizeof(zpath), "%s/sender.zone", dir);
	FILE *f = fopen(zpath, "w");
	fprintf(f, "$ORIGIN sender.test.\n"
		   "@ 300 IN SOA ns.sender.test. hm.sender.test. 1 3600 600 86400 60\n"
		   "@ 300 IN NS ns.sender.test.\n"
		   "ns 300 IN A 127.0.0.1\n"
		   "@ 300 IN TXT \"v=spf1 ip4:192.0.2.10 -all\"\n"
		   "_dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n"
		   "s1._domainkey 300 IN TXT");
	for (size_t o = 0; o < txt.len; o += 255)
		fprintf(f, " \"%.*s\"", (int)(txt.len - o < 255 ? txt.len - o : 255),
			(char *)txt.data + o);
	fprintf(f, "\n");
	fclose(f);
	mox_buf_free(&txt);
	mox_buf_free(&sig);
	char err[512];
	if (mox_test_unbound_start(&ub, zpath, "sender.test.", err, sizeof(err)) != 0) {
		fprintf(stderr, "unbound: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mox_test_unbound_stop(&ub);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run the tool on msg, return its output. */
static char *
run(const char *ip, const char *mailfrom, const char *helo, const char *msg)
{
	char mpath[300], cmd[1024];
	snprintf(mpath, sizeof(mpath), "%s/msg.eml", dir);
	FILE *f = fopen(mpath, "w");
	fputs(msg, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "MOX_RESOLVER=%s %s verify %s '%s' '%s' < %s 2>&1", ub.addr,
		 MOX_DMARC_TOOL, ip, mailfrom, helo, mpath);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char out[8192];
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	if (getenv("MOX_DEBUG"))
		print_message("%s", out);
	return out;
}

static void
test_pass_and_fail(void **state)
{
	(void)state;
	char *out = run("192.0.2.10", "alice@sender.test", "mail.sender.test", signed_msg);
	if (strstr(out, "spf: pass") == NULL || strstr(out, "dkim: pass") == NULL ||
	    strstr(out, "dmarc=pass (p=reject dis=none) header.from=sender.test") == NULL)
		fail_msg("aligned pass expected:\n%s", out);

	/* DKIM alone carries it: SPF fails for another IP. */
	out = run("198.51.100.1", "alice@sender.test", "mail.sender.test", signed_msg);
	if (strstr(out, "spf: fail") == NULL || strstr(out, "dmarc=pass") == NULL)
		fail_msg("dkim-only pass expected:\n%s", out);

	/* Tampered body and SPF for another domain: fail, reject. */
	char tampered[sizeof(signed_msg)];
	snprintf(tampered, sizeof(tampered), "%s", signed_msg);
	char *body = strstr(tampered, "Hello Bob.");
	assert_non_null(body);
	body[0] = 'J';
	out = run("198.51.100.1", "someone@elsewhere.test", "elsewhere.test", tampered);
	if (strstr(out, "dkim: fail") == NULL ||
	    strstr(out, "dmarc=fail (p=reject dis=reject) header.from=sender.test") == NULL)
		fail_msg("fail/reject expected:\n%s", out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_and_fail),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
