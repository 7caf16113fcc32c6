/* bench_dkim: signatures/s and verifications/s of libmoxdkim next to
 * libopendkim 2.11, on the same keys and messages in the same run, plus
 * the raw RSA-2048 signing rate of our crypto backend.
 *
 * Built twice (bench_dkim_mbedtls, bench_dkim_openssl), one per backend;
 * ./dev bench runs both. Messages: 5 KB and 100 KB of text, signed with
 * relaxed/relaxed. Keys: RSA-2048 and Ed25519 made at start; we parse the
 * key once (a mox_dkim_key), libopendkim gets the PEM for every message,
 * as opendkim does. Verification: keys from memory on both sides (our
 * in-memory zone resolver; libopendkim's key lookup hook), so DNS is not
 * measured. Every loop is bounded: at most MAX_ITER iterations and
 * MAX_SECONDS seconds. Single-threaded: figures are per core.
 *
 * Usage: bench_dkim_<backend> [repo-top-dir] (the argument is unused). */
#define _DEFAULT_SOURCE
#include "dkim_int.h"

#include <opendkim/dkim.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ITER 200000
#define MAX_SECONDS 1.0

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *arg);

static double
rate(op_fn fn, void *arg)
{
	fn(arg); /* warm up */
	double start = now_s(), t = start;
	long n = 0;
	while (n < MAX_ITER && (t = now_s()) - start < MAX_SECONDS) {
		if (fn(arg) != 0) {
			fprintf(stderr, "bench: operation failed\n");
			exit(1);
		}
		n++;
	}
	return (double)n / (t - start);
}

static char *
make_message(size_t size)
{
	mox_buf b = MOX_BUF_INIT;
	mox_buf_append_str(&b, "From: Joe SixPack <joe@bench.example>\r\n"
			       "To: Suzie Q <suzie@example.net>\r\n"
			       "Subject: benchmark message\r\n"
			       "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
			       "Message-ID: <20030712040037.46341.5F8J@bench.example>\r\n"
			       "MIME-Version: 1.0\r\n"
			       "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	static const char line[] = "The quick brown fox jumps over the lazy dog,  again\t and again. ";
	unsigned seed = 1;
	while (b.len < size) {
		seed = seed * 1103515245 + 12345;
		size_t n = 40 + (seed >> 16) % 30;
		mox_buf_append(&b, line, n < sizeof(line) - 1 ? n : sizeof(line) - 1);
		mox_buf_append_str(&b, "\r\n");
	}
	return (char *)mox_buf_steal(&b, NULL);
}

/* ---- us ---- */

typedef struct mox_ctx {
	mox_dkim_signer *signer;
	mox_dkim_verifier *verifier;
	const char *msg;
	size_t len;
	mox_buf out;
} mox_ctx;

static int
mox_sign_op(void *arg)
{
	mox_ctx *c = arg;
	mox_dkim_signer_reset(c->signer);
	mox_buf_reset(&c->out);
	if (mox_dkim_signer_feed(c->signer, c->msg, c->len) != MOX_OK ||
	    mox_dkim_signer_end(c->signer, &c->out) != MOX_OK)
		return 1;
	return 0;
}

static int
mox_verify_op(void *arg)
{
	mox_ctx *c = arg;
	mox_dkim_verifier_reset(c->verifier);
	if (mox_dkim_verifier_feed(c->verifier, c->msg, c->len) != MOX_OK ||
	    mox_dkim_verifier_end(c->verifier) != MOX_OK ||
	    mox_dkim_verifier_result(c->verifier, 0)->status != MOX_DKIM_PASS)
		return 1;
	return 0;
}

typedef struct raw_ctx {
	mox__dkim_rsa_priv *k;
	mox_buf out;
} raw_ctx;

static int
raw_op(void *arg)
{
	raw_ctx *c = arg;
	static const uint8_t digest[32] = {1, 2, 3};
	mox_buf_reset(&c->out);
	return mox__dkim_rsa_sign(c->k, MOX__DKIM_SHA256, digest, 32, &c->out) != MOX_OK;
}

/* ---- libopendkim ---- */

static DKIM_LIB *odlib;
static char od_txt[2][2048]; /* key records: [0] rsa, [1] ed25519 */

static DKIM_CBSTAT
od_lookup(DKIM *d, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
	(void)d;
	const char *t = od_txt[strcmp((char *)dkim_sig_getselector(sig), "ed") == 0];
	if (strlen(t) >= buflen)
		return DKIM_CBSTAT_ERROR;
	strcpy((char *)buf, t);
	return DKIM_CBSTAT_CONTINUE;
}

typedef struct od_ctx {
	const char *pem, *sel;
	dkim_alg_t alg;
	const char *msg;
	size_t len;
} od_ctx;

static int
od_sign_op(void *arg)
{
	od_ctx *c = arg;
	DKIM_STAT st;
	DKIM *d = dkim_sign(odlib, (const unsigned char *)"bench", NULL, (dkim_sigkey_t)c->pem,
			    (const unsigned char *)c->sel, (const unsigned char *)"bench.example",
			    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, c->alg, -1, &st);
	if (d == NULL)
		return 1;
	unsigned char hdr[4096];
	int r = dkim_chunk(d, (unsigned char *)c->msg, c->len) != DKIM_STAT_OK ||
		dkim_chunk(d, NULL, 0) != DKIM_STAT_OK || dkim_eom(d, NULL) != DKIM_STAT_OK ||
		dkim_getsighdr(d, hdr, sizeof(hdr), 16) != DKIM_STAT_OK;
	dkim_free(d);
	return r;
}

static int
od_verify_op(void *arg)
{
	od_ctx *c = arg;
	DKIM_STAT st;
	DKIM *d = dkim_verify(odlib, (const unsigned char *)"bench", NULL, &st);
	if (d == NULL)
		return 1;
	dkim_chunk(d, (unsigned char *)c->msg, c->len);
	dkim_chunk(d, NULL, 0);
	st = dkim_eom(d, NULL);
	dkim_free(d);
	return st != DKIM_STAT_OK;
}

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("bench_dkim: libmoxdkim (%s backend) vs libopendkim %s, per core, "
	       "relaxed/relaxed, at most %d iterations or %.1f s per figure\n",
	       mox_dkim_crypto_backend(), "2.11", MAX_ITER, MAX_SECONDS);
	mox_dkim_key *keys[2] = {NULL, NULL};
	if (mox_dkim_key_generate(MOX_DKIM_KEY_RSA, 2048, NULL, &keys[0]) != MOX_OK ||
	    mox_dkim_key_generate(MOX_DKIM_KEY_ED25519, 0, NULL, &keys[1]) != MOX_OK) {
		fprintf(stderr, "key generation failed\n");
		return 1;
	}
	mox_buf pem[2] = {MOX_BUF_INIT, MOX_BUF_INIT}, zone = MOX_BUF_INIT;
	static const char *const sel[2] = {"rsa", "ed"};
	for (int k = 0; k < 2; k++) {
		mox_buf rec = MOX_BUF_INIT;
		mox_dkim_key_write_pem(keys[k], NULL, &pem[k]);
		mox_dkim_key_txt_record(keys[k], &rec);
		snprintf(od_txt[k], sizeof(od_txt[k]), "%s", (char *)rec.data);
		mox_buf_appendf(&zone, "%s._domainkey.bench.example. TXT", sel[k]);
		for (size_t i = 0; i < rec.len; i += 200)
			mox_buf_appendf(&zone, " \"%.*s\"", (int)(rec.len - i < 200 ? rec.len - i : 200),
					(char *)rec.data + i);
		mox_buf_append_str(&zone, "\n");
		mox_buf_free(&rec);
	}
	mox_resolver *res = NULL;
	if (mox_dns_zone_new(&res, NULL) != MOX_OK ||
	    mox_dns_zone_load(res, (char *)zone.data, zone.len, NULL) != MOX_OK)
		return 1;
	odlib = dkim_init(NULL, NULL);
	dkim_set_key_lookup(odlib, od_lookup);

	raw_ctx raw = {keys[0]->rsa, MOX_BUF_INIT};
	double raw_rate = rate(raw_op, &raw);
	printf("raw RSA-2048 PKCS#1 v1.5 signing (%s): %.0f/s\n\n", mox_dkim_crypto_backend(), raw_rate);
	printf("%-8s %-8s %-7s %12s %12s %7s   %s\n", "size", "alg", "op", "libmoxdkim", "libopendkim",
	       "ratio", "note");
	static const size_t sizes[] = {5 * 1024, 100 * 1024};
	for (size_t s = 0; s < 2; s++) {
		char *msg = make_message(sizes[s]);
		size_t len = strlen(msg);
		for (int k = 0; k < 2; k++) {
			mox_dkim_selector ms = {.size = sizeof(ms), .domain = "bench.example",
						.selector = sel[k], .key = keys[k],
						.header_canon = MOX_DKIM_RELAXED,
						.body_canon = MOX_DKIM_RELAXED};
			mox_dkim_sign_opts so = {.size = sizeof(so), .selectors = &ms, .nselectors = 1};
			mox_ctx mc = {.msg = msg, .len = len, .out = MOX_BUF_INIT};
			if (mox_dkim_signer_new(&mc.signer, &so, NULL) != MOX_OK)
				return 1;
			od_ctx oc = {(char *)pem[k].data, sel[k],
				     k ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, msg, len};
			double ms_rate = rate(mox_sign_op, &mc);
			double os_rate = rate(od_sign_op, &oc);
			char note[128] = "";
			if (k == 0)
				snprintf(note, sizeof(note), "%.0f%% of raw RSA rate", 100.0 * ms_rate / raw_rate);
			printf("%-8s %-8s %-7s %10.0f/s %10.0f/s %6.2fx   %s\n", s ? "100KB" : "5KB",
			       k ? "ed25519" : "rsa-2048", "sign", ms_rate, os_rate, ms_rate / os_rate, note);
			/* Verify our own signed message on both sides. */
			mox_buf signed_ = MOX_BUF_INIT;
			mox_sign_op(&mc);
			mox_buf_append(&signed_, mc.out.data, mc.out.len);
			mox_buf_append(&signed_, msg, len);
			mox_dkim_verify_opts vo = {.size = sizeof(vo), .resolver = res};
			mox_ctx vc = {.msg = (char *)signed_.data, .len = signed_.len, .out = MOX_BUF_INIT};
			if (mox_dkim_verifier_new(&vc.verifier, &vo) != MOX_OK)
				return 1;
			od_ctx ov = {NULL, NULL, 0, (char *)signed_.data, signed_.len};
			double mv_rate = rate(mox_verify_op, &vc);
			double ov_rate = rate(od_verify_op, &ov);
			printf("%-8s %-8s %-7s %10.0f/s %10.0f/s %6.2fx\n", s ? "100KB" : "5KB",
			       k ? "ed25519" : "rsa-2048", "verify", mv_rate, ov_rate, mv_rate / ov_rate);
			mox_dkim_verifier_free(vc.verifier);
			mox_dkim_signer_free(mc.signer);
			mox_buf_free(&mc.out);
			mox_buf_free(&signed_);
		}
		free(msg);
	}
	dkim_close(odlib);
	mox_resolver_free(res);
	mox_buf_free(&raw.out);
	mox_buf_free(&zone);
	for (int k = 0; k < 2; k++) {
		mox_buf_free(&pem[k]);
		mox_dkim_key_free(keys[k]);
	}
	return 0;
}
