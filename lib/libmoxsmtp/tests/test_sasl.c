/* SASL mechanisms (src/sasl_server.c, sasl_client.c, scram.c): the
 * examples of RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 5802 (SCRAM-SHA-1)
 * and RFC 7677 (SCRAM-SHA-256) on both sides, client against server for
 * every mechanism with and without channel binding, the failures each side
 * must detect, and an OOM loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/sasl.h>
#include "mox_testalloc.h"
#include "smtp_int.h"

static size_t vectors;

static void
b64dec(const char *s, mox_buf *out)
{
	mox_buf_init(out, NULL);
	assert_int_equal(mox_base64_decode(out, s, strlen(s), 0, NULL), MOX_OK);
}

static void
expect_buf(const mox_buf *b, const char *want)
{
	if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
		fail_msg("have '%.*s', want '%s'", (int)b->len, (const char *)b->data, want);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(mox_sasl_mech_name(MOX_SASL_SCRAM_SHA_256_PLUS), "SCRAM-SHA-256-PLUS");
	assert_null(mox_sasl_mech_name(MOX_SASL_PLAIN | MOX_SASL_LOGIN));
	assert_int_equal(mox_sasl_mech_from_name("cram-md5", 8), MOX_SASL_CRAM_MD5);
	assert_int_equal(mox_sasl_mech_from_name("SCRAM-SHA-1", 11), MOX_SASL_SCRAM_SHA_1);
	assert_int_equal(mox_sasl_mech_from_name("SCRAM-SHA-1X", 12), 0);
	assert_int_equal(mox_sasl_mech_from_name(NULL, 0), 0);
}

/* RFC 2195 section 2, the example. */
static void
test_cram_md5_rfc2195(void **state)
{
	(void)state;
	static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
	char d[33];
	assert_int_equal(mox_sasl_cram_md5_digest((const uint8_t *)"tanstaaftanstaaf", 16,
						  (const uint8_t *)chal, strlen(chal), d),
			 MOX_OK);
	assert_string_equal(d, "b913a602c7eda7a495b4e6e7334d3890");
	vectors++;

	mox_sasl_client *c = NULL;
	mox_sasl_client_opts o = {.size = sizeof(o), .mech = MOX_SASL_CRAM_MD5, .authc = "tim",
				  .password = (const uint8_t *)"tanstaaftanstaaf", .password_len = 16};
	assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
	mox_buf out = MOX_BUF_INIT;
	bool init;
	assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
	assert_false(init);
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)chal, strlen(chal), &out), MOX_OK);
	expect_buf(&out, "tim b913a602c7eda7a495b4e6e7334d3890");
	assert_true(mox_sasl_client_done(c));
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)chal, strlen(chal), &out),
			 MOX_ESTATE);
	mox_sasl_client_free(c);
	vectors++;

	/* A challenge that is not a msg-id is refused. */
	assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
	mox_buf_reset(&out);
	assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)"hello", 5, &out), MOX_ESYNTAX);
	assert_int_equal(out.len, 0);
	mox_sasl_client_free(c);
	mox_buf_free(&out);
}

/* CRAM-MD5 checked by the caller (as from stored HMAC-MD5 states): the
 * server hands out its challenge and the client's digest, and takes a
 * verdict (RFC 2195 section 2). */
static void
test_cram_md5_caller_check(void **state)
{
	(void)state;
	for (int good = 0; good < 2; good++) {
		mox_sasl_server *s = NULL;
		mox_sasl_server_opts so = {.size = sizeof(so), .mech = MOX_SASL_CRAM_MD5,
					   .hostname = "mox.example"};
		assert_int_equal(mox_sasl_server_new(&s, &so), MOX_OK);
		const uint8_t *chal;
		size_t chal_len;
		const char *digest;
		assert_int_equal(mox_sasl_server_cram_md5(s, &chal, &chal_len, &digest), MOX_ESTATE);
		assert_null(digest);
		mox_sasl_status st;
		assert_int_equal(mox_sasl_server_step(s, NULL, 0, false, &st), MOX_OK);
		assert_int_equal(st, MOX_SASL_CONTINUE);
		size_t n;
		const uint8_t *c = mox_sasl_server_challenge(s, &n);
		char want[33], resp[64];
		assert_int_equal(mox_sasl_cram_md5_digest((const uint8_t *)(good ? "secret" : "wrong"),
							  good ? 6 : 5, c, n, want),
				 MOX_OK);
		/* Upper-case hex from the client; the server hands it out lower. */
		snprintf(resp, sizeof(resp), "tim %s", want);
		for (char *p = resp + 4; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		assert_int_equal(mox_sasl_server_step(s, (const uint8_t *)resp, strlen(resp), true,
						      &st),
				 MOX_OK);
		assert_int_equal(st, MOX_SASL_NEED_PASSWORD);
		assert_int_equal(mox_sasl_server_cram_md5(s, &chal, &chal_len, &digest), MOX_OK);
		assert_int_equal(chal_len, n);
		assert_memory_equal(chal, c, n);
		/* The caller's check with the real password "secret". */
		char check[33];
		assert_int_equal(mox_sasl_cram_md5_digest((const uint8_t *)"secret", 6, chal,
							  chal_len, check),
				 MOX_OK);
		bool ok = strcmp(check, digest) == 0;
		assert_int_equal(ok, good);
		assert_int_equal(mox_sasl_server_verdict(s, ok, &st), MOX_OK);
		assert_int_equal(st, good ? MOX_SASL_SUCCESS : MOX_SASL_FAILURE);
		if (good)
			assert_string_equal(mox_sasl_server_authc(s), "tim");
		else
			assert_int_equal(mox_sasl_server_failure(s), MOX_SASL_FAIL_BAD_CREDENTIALS);
		assert_int_equal(mox_sasl_server_cram_md5(s, &chal, &chal_len, &digest), MOX_ESTATE);
		mox_sasl_server_free(s);
	}
	assert_int_equal(mox_sasl_server_cram_md5(NULL, NULL, NULL, NULL), MOX_EINVAL);
}

/* RFC 4616 section 4, the examples. */
static void
test_plain_rfc4616(void **state)
{
	(void)state;
	mox_sasl_client *c = NULL;
	mox_sasl_client_opts o = {.size = sizeof(o), .mech = MOX_SASL_PLAIN, .authc = "tim",
				  .password = (const uint8_t *)"tanstaaftanstaaf", .password_len = 16};
	assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
	mox_buf out = MOX_BUF_INIT;
	bool init;
	assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
	assert_true(init);
	assert_int_equal(out.len, 21);
	assert_memory_equal(out.data, "\0tim\0tanstaaftanstaaf", 21);
	mox_sasl_client_free(c);
	vectors++;

	/* "Ursel" authorizes as "Kurt": we do not support other roles. */
	mox_sasl_server *s = NULL;
	mox_sasl_server_opts so = {.size = sizeof(so), .mech = MOX_SASL_PLAIN};
	assert_int_equal(mox_sasl_server_new(&s, &so), MOX_OK);
	mox_sasl_status st;
	assert_int_equal(mox_sasl_server_step(s, (const uint8_t *)"Ursel\0Kurt\0xipj3plmq", 20, true,
					      &st),
			 MOX_OK);
	assert_int_equal(st, MOX_SASL_FAILURE);
	assert_int_equal(mox_sasl_server_failure(s), MOX_SASL_FAIL_AUTHZ);
	assert_string_equal(mox_sasl_server_authc(s), "Kurt");
	assert_string_equal(mox_sasl_server_authz(s), "Ursel");
	assert_int_equal(mox_sasl_server_step(s, (const uint8_t *)"x", 1, true, &st), MOX_ESTATE);
	mox_sasl_server_free(s);
	vectors++;

	/* The first example on the server: password given for checking. */
	assert_int_equal(mox_sasl_server_new(&s, &so), MOX_OK);
	assert_int_equal(mox_sasl_server_step(s, out.data, out.len, true, &st), MOX_OK);
	assert_int_equal(st, MOX_SASL_CHECK_PASSWORD);
	size_t pl;
	const uint8_t *pw = mox_sasl_server_password(s, &pl);
	assert_int_equal(pl, 16);
	assert_memory_equal(pw, "tanstaaftanstaaf", 16);
	assert_string_equal(mox_sasl_server_authz(s), "");
	assert_int_equal(mox_sasl_server_verdict(s, true, &st), MOX_OK);
	assert_int_equal(st, MOX_SASL_SUCCESS);
	assert_null(mox_sasl_server_password(s, &pl)); /* wiped */
	mox_sasl_server_free(s);
	mox_buf_free(&out);
}

/* A SCRAM client from the RFC example: client-first, server-first given,
 * client-final and server-final compared. */
static void
scram_client_vector(mox_sasl_mech mech, const char *cnonce, const char *client_first,
		    const char *server_first, const char *client_final, const char *server_final)
{
	mox_sasl_client *c = NULL;
	mox_sasl_client_opts o = {.size = sizeof(o), .mech = mech, .authc = "user",
				  .password = (const uint8_t *)"pencil", .password_len = 6,
				  .fixed_nonce = cnonce};
	assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
	mox_buf out = MOX_BUF_INIT;
	bool init;
	assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
	assert_true(init);
	expect_buf(&out, client_first);
	mox_buf_reset(&out);
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)server_first, strlen(server_first),
					      &out),
			 MOX_OK);
	expect_buf(&out, client_final);
	assert_false(mox_sasl_client_done(c));
	mox_buf_reset(&out);
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)server_final, strlen(server_final),
					      &out),
			 MOX_OK);
	assert_int_equal(out.len, 0);
	assert_true(mox_sasl_client_done(c));
	mox_sasl_client_free(c);
	vectors++;

	/* A server that does not know the password: its signature differs. */
	assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
	mox_buf_reset(&out);
	assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)server_first, strlen(server_first),
					      &out),
			 MOX_OK);
	char bad[128];
	snprintf(bad, sizeof(bad), "%s", server_final);
	bad[2] = bad[2] == 'A' ? 'B' : 'A';
	assert_int_equal(mox_sasl_client_step(c, (const uint8_t *)bad, strlen(bad), &out),
			 MOX_EINVAL);
	assert_false(mox_sasl_client_done(c));
	mox_sasl_client_free(c);
	mox_buf_free(&out);
}

/* A SCRAM server from the RFC example: the fixed server nonce, the salted
 * password from the example's salt and iterations. */
static void
scram_server_vector(mox_sasl_mech mech, bool sha256, const char *snonce, const char *salt64,
		    const char *client_first, const char *server_first, const char *client_final,
		    const char *server_final)
{
	mox_buf salt;
	b64dec(salt64, &salt);
	mox_sasl_scram_secret sec;
	assert_int_equal(mox_sasl_scram_secret_make(sha256, "pencil", 6, salt.data, salt.len, 4096,
						    &sec),
			 MOX_OK);
	mox_buf_free(&salt);
	/* Run twice: with SaltedPassword, and with only StoredKey and
	 * ServerKey (what a store keeps): the exchange must be the same. */
	for (int form = 0; form < 2; form++) {
	if (form == 1) {
		assert_int_equal(mox__smtp_scram_keys(sha256 ? MOX__SMTP_SHA256 : MOX__SMTP_SHA1,
						      sec.salted_password, sec.salted_password_len,
						      NULL, sec.stored_key, sec.server_key),
				 MOX_OK);
		sec.keys_len = sec.salted_password_len;
		memset(sec.salted_password, 0, sizeof(sec.salted_password));
		sec.salted_password_len = 0;
	}
	mox_sasl_server *s = NULL;
	mox_sasl_server_opts so = {.size = sizeof(so), .mech = mech, .fixed_nonce = snonce};
	assert_int_equal(mox_sasl_server_new(&s, &so), MOX_OK);
	mox_sasl_status st;
	assert_int_equal(mox_sasl_server_step(s, (const uint8_t *)client_first, strlen(client_first),
					      true, &st),
			 MOX_OK);
	assert_int_equal(st, MOX_SASL_NEED_SCRAM);
	assert_string_equal(mox_sasl_server_authc(s), "user");
	assert_int_equal(mox_sasl_server_set_scram(s, &sec, &st), MOX_OK);
	assert_int_equal(st, MOX_SASL_CONTINUE);
	size_t n;
	const uint8_t *ch = mox_sasl_server_challenge(s, &n);
	assert_int_equal(n, strlen(server_first));
	assert_memory_equal(ch, server_first, n);
	assert_int_equal(mox_sasl_server_step(s, (const uint8_t *)client_final, strlen(client_final),
					      true, &st),
			 MOX_OK);
	assert_int_equal(st, MOX_SASL_CONTINUE);
	ch = mox_sasl_server_challenge(s, &n);
	assert_int_equal(n, strlen(server_final));
	assert_memory_equal(ch, server_final, n);
	assert_int_equal(mox_sasl_server_step(s, NULL, 0, true, &st), MOX_OK);
	assert_int_equal(st, MOX_SASL_SUCCESS);
	mox_sasl_server_free(s);
	}
	vectors++;
}

/* RFC 5802 section 5 */
static void
test_scram_sha1_rfc5802(void **state)
{
	(void)state;
	const char *cf = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
	const char *sf = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
	const char *cfin = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
			   "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
	const char *sfin = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
	scram_client_vector(MOX_SASL_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL", cf, sf, cfin, sfin);
	scram_server_vector(MOX_SASL_SCRAM_SHA_1, false, "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
			    cf, sf, cfin, sfin);
}

/* RFC 7677 section 3 */
static void
test_scram_sha256_rfc7677(void **state)
{
	(void)state;
	const char *cf = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	const char *sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			 "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	const char *cfin = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			   "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	const char *sfin = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
	scram_client_vector(MOX_SASL_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO", cf, sf, cfin, sfin);
	scram_server_vector(MOX_SASL_SCRAM_SHA_256, true, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			    "W22ZaJ0SNY7soEsUEjb6gQ==", cf, sf, cfin, sfin);
}

/* Run client against server until done. Returns the server's last status.
 * Credentials: user/pencil. */
typedef struct pair_opts {
	mox_sasl_mech mech;
	const char *password;
	mox_sasl_cb_type scb, ccb;
	const uint8_t *scbd, *ccbd;
	bool server_lacks_plus, plus_offered;
	const char *authz;
	bool unknown_user;
	const mox_allocator *alloc;
} pair_opts;

static mox_err
run_pair(const pair_opts *po, mox_sasl_status *final, mox_err *client_err)
{
	mox_sasl_client *c = NULL;
	mox_sasl_server *s = NULL;
	mox_buf out = MOX_BUF_INIT;
	mox_buf_init(&out, po->alloc);
	*client_err = MOX_OK;
	mox_sasl_client_opts co = {.size = sizeof(co), .alloc = po->alloc, .mech = po->mech,
				   .authc = "user", .authz = po->authz,
				   .password = (const uint8_t *)po->password,
				   .password_len = strlen(po->password), .cb_type = po->ccb,
				   .cb_data = po->ccbd, .cb_len = po->ccbd ? 32 : 0,
				   .server_lacks_plus = po->server_lacks_plus};
	mox_sasl_server_opts so = {.size = sizeof(so), .alloc = po->alloc, .mech = po->mech,
				   .hostname = "mox.example", .cb_type = po->scb,
				   .cb_data = po->scbd, .cb_len = po->scbd ? 32 : 0,
				   .plus_offered = po->plus_offered};
	mox_err err = mox_sasl_client_new(&c, &co);
	if (err == MOX_OK)
		err = mox_sasl_server_new(&s, &so);
	bool init = false;
	if (err == MOX_OK)
		err = mox_sasl_client_start(c, &out, &init);
	mox_sasl_status st = MOX_SASL_FAILURE;
	if (err == MOX_OK)
		err = mox_sasl_server_step(s, out.data, out.len, init, &st);
	for (int round = 0; err == MOX_OK && round < 10; round++) {
		if (st == MOX_SASL_CONTINUE) {
			size_t n;
			const uint8_t *ch = mox_sasl_server_challenge(s, &n);
			mox_buf_reset(&out);
			mox_err ce = mox_sasl_client_step(c, ch, n, &out);
			if (ce == MOX_ENOMEM) {
				err = ce;
				break;
			}
			if (ce != MOX_OK) {
				/* The client cancels; the server learns at the next
				 * message that the exchange failed. */
				*client_err = ce;
				mox_buf_reset(&out);
			}
			err = mox_sasl_server_step(s, out.data, out.len, true, &st);
		} else if (st == MOX_SASL_CHECK_PASSWORD) {
			size_t n;
			const uint8_t *pw = mox_sasl_server_password(s, &n);
			bool ok = n == 6 && memcmp(pw, "pencil", 6) == 0 &&
				  strcmp(mox_sasl_server_authc(s), "user") == 0;
			err = mox_sasl_server_verdict(s, ok, &st);
		} else if (st == MOX_SASL_NEED_PASSWORD) {
			if (po->unknown_user)
				err = mox_sasl_server_verdict(s, false, &st);
			else
				err = mox_sasl_server_set_password(s, (const uint8_t *)"pencil", 6, &st);
		} else if (st == MOX_SASL_NEED_SCRAM) {
			mox_sasl_scram_secret sec;
			bool sha256 = po->mech == MOX_SASL_SCRAM_SHA_256 ||
				      po->mech == MOX_SASL_SCRAM_SHA_256_PLUS;
			err = mox_sasl_scram_secret_make(sha256, "pencil", 6,
							 (const uint8_t *)"0123456789abcdef", 16, 4096,
							 &sec);
			if (err == MOX_OK)
				err = mox_sasl_server_set_scram(s, po->unknown_user ? NULL : &sec, &st);
		} else {
			break;
		}
	}
	*final = st;
	if (err == MOX_OK && st == MOX_SASL_SUCCESS && !mox_sasl_client_done(c))
		*client_err = MOX_ESTATE;
	mox_buf_free(&out);
	mox_sasl_client_free(c);
	mox_sasl_server_free(s);
	return err;
}

static const uint8_t cb1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t cb2[32] = {9, 9, 9};

static void
test_pairs(void **state)
{
	(void)state;
	static const mox_sasl_mech all[] = {MOX_SASL_PLAIN, MOX_SASL_LOGIN, MOX_SASL_CRAM_MD5,
					    MOX_SASL_SCRAM_SHA_1, MOX_SASL_SCRAM_SHA_256};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		mox_sasl_status st;
		mox_err ce;
		pair_opts po = {.mech = all[i], .password = "pencil"};
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		assert_int_equal(st, MOX_SASL_SUCCESS);
		assert_int_equal(ce, MOX_OK);
		po.password = "wrong";
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		assert_int_equal(st, MOX_SASL_FAILURE);
		po.password = "pencil";
		po.unknown_user = true;
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		if (all[i] == MOX_SASL_PLAIN || all[i] == MOX_SASL_LOGIN)
			assert_int_equal(st, MOX_SASL_SUCCESS); /* the check decides */
		else
			assert_int_equal(st, MOX_SASL_FAILURE);
	}
	/* -PLUS with matching and with different channel binding. */
	static const mox_sasl_mech plus[] = {MOX_SASL_SCRAM_SHA_1_PLUS, MOX_SASL_SCRAM_SHA_256_PLUS};
	for (size_t i = 0; i < 2; i++) {
		mox_sasl_status st;
		mox_err ce;
		pair_opts po = {.mech = plus[i], .password = "pencil",
				.scb = MOX_SASL_CB_TLS_EXPORTER, .ccb = MOX_SASL_CB_TLS_EXPORTER,
				.scbd = cb1, .ccbd = cb1, .plus_offered = true};
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		assert_int_equal(st, MOX_SASL_SUCCESS);
		po.ccbd = cb2; /* a man in the middle has another TLS connection */
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		assert_int_equal(st, MOX_SASL_FAILURE);
		assert_int_equal(ce, MOX_EINVAL); /* e=channel-bindings-dont-match */
		po.ccbd = cb1;
		po.ccb = MOX_SASL_CB_TLS_UNIQUE; /* type the server does not have */
		assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
		assert_int_equal(st, MOX_SASL_FAILURE);
	}
	/* Downgrade: the client would use -PLUS, saw none offered and says
	 * "y"; a server that offered -PLUS refuses. */
	mox_sasl_status st;
	mox_err ce;
	pair_opts po = {.mech = MOX_SASL_SCRAM_SHA_256, .password = "pencil",
			.scb = MOX_SASL_CB_TLS_EXPORTER, .scbd = cb1, .plus_offered = true,
			.server_lacks_plus = true};
	assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
	assert_int_equal(st, MOX_SASL_FAILURE);
	po.plus_offered = false;
	assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
	assert_int_equal(st, MOX_SASL_SUCCESS);
	/* authz equal to authc is fine, another is refused. */
	po = (pair_opts){.mech = MOX_SASL_SCRAM_SHA_1, .password = "pencil", .authz = "user"};
	assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
	assert_int_equal(st, MOX_SASL_SUCCESS);
	po.authz = "admin";
	assert_int_equal(run_pair(&po, &st, &ce), MOX_OK);
	assert_int_equal(st, MOX_SASL_FAILURE);
}

/* A SCRAM client refuses unsafe or wrong server-first messages. */
static void
test_scram_client_checks(void **state)
{
	(void)state;
	static const struct {
		const char *sf;
		mox_err want;
	} cases[] = {
		{"r=clientnonce12345serverpart,s=c2FsdHNhbHQ=,i=1000", MOX_ERANGE},    /* iterations */
		{"r=clientnonce12345serverpart,s=c2FsdA==,i=4096", MOX_ERANGE},        /* short salt */
		{"r=clientnonce12345abc,s=c2FsdHNhbHQ=,i=4096", MOX_ERANGE},          /* short nonce */
		{"r=othernonce12345serverpart,s=c2FsdHNhbHQ=,i=4096", MOX_EINVAL},    /* not our nonce */
		{"m=ext,r=clientnonce12345serverpart,s=c2FsdHNhbHQ=,i=4096", MOX_EUNSUPPORTED},
		{"r=clientnonce12345serverpart,s=!!!,i=4096", MOX_ESYNTAX},
		{"r=clientnonce12345serverpart,s=c2FsdHNhbHQ=,i=0", MOX_ESYNTAX},
		{"r=clientnonce12345serverpart,s=c2FsdHNhbHQ=,i=4096,", MOX_ESYNTAX},
		{"r=clientnonce12345serverpart,i=4096", MOX_ESYNTAX},
		{"e=other-error", MOX_ESYNTAX},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mox_sasl_client *c = NULL;
		mox_sasl_client_opts o = {.size = sizeof(o), .mech = MOX_SASL_SCRAM_SHA_256,
					  .authc = "user", .password = (const uint8_t *)"pencil",
					  .password_len = 6, .fixed_nonce = "clientnonce12345"};
		assert_int_equal(mox_sasl_client_new(&c, &o), MOX_OK);
		mox_buf out = MOX_BUF_INIT;
		bool init;
		assert_int_equal(mox_sasl_client_start(c, &out, &init), MOX_OK);
		mox_buf_reset(&out);
		mox_err err = mox_sasl_client_step(c, (const uint8_t *)cases[i].sf, strlen(cases[i].sf),
						   &out);
		if (err != cases[i].want)
			fail_msg("case %zu '%s': %s, want %s (%s)", i, cases[i].sf, mox_err_name(err),
				 mox_err_name(cases[i].want), mox_sasl_client_errmsg(c));
		assert_int_equal(out.len, 0);
		mox_sasl_client_free(c);
		mox_buf_free(&out);
	}
}

static void
test_args(void **state)
{
	(void)state;
	mox_sasl_server *s = (void *)1;
	mox_sasl_server_opts so = {.size = sizeof(so), .mech = MOX_SASL_SCRAM_SHA_256_PLUS};
	assert_int_equal(mox_sasl_server_new(&s, &so), MOX_EINVAL); /* no channel binding */
	assert_null(s);
	so.mech = MOX_SASL_PLAIN | MOX_SASL_LOGIN;
	assert_int_equal(mox_sasl_server_new(&s, &so), MOX_EINVAL);
	mox_sasl_client *c = (void *)1;
	mox_sasl_client_opts co = {.size = sizeof(co), .mech = MOX_SASL_PLAIN};
	assert_int_equal(mox_sasl_client_new(&c, &co), MOX_EINVAL); /* no authc */
	assert_null(c);
	mox_sasl_scram_secret sec;
	assert_int_equal(mox_sasl_scram_secret_make(true, "pw", 2, (const uint8_t *)"s", 0, 1, &sec),
			 MOX_EINVAL);
	assert_int_equal(mox_sasl_scram_secret_make(true, "\xff", 1, (const uint8_t *)"s", 1, 1, &sec),
			 MOX_EINVAL);
	mox_sasl_server_free(NULL);
	mox_sasl_client_free(NULL);
}

/* NFC: a decomposed password salts the same as its composed form. */
static void
test_nfc(void **state)
{
	(void)state;
	mox_sasl_scram_secret a, b;
	assert_int_equal(mox_sasl_scram_secret_make(true, "caf\xc3\xa9", 5,
						    (const uint8_t *)"saltsalt", 8, 4096, &a),
			 MOX_OK);
	assert_int_equal(mox_sasl_scram_secret_make(true, "cafe\xcc\x81", 6,
						    (const uint8_t *)"saltsalt", 8, 4096, &b),
			 MOX_OK);
	assert_memory_equal(a.salted_password, b.salted_password, 32);
}

/* OOM loop over a whole exchange of each mechanism. */
static void
test_oom(void **state)
{
	(void)state;
	static const mox_sasl_mech all[] = {MOX_SASL_PLAIN, MOX_SASL_LOGIN, MOX_SASL_CRAM_MD5,
					    MOX_SASL_SCRAM_SHA_1, MOX_SASL_SCRAM_SHA_256_PLUS};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		for (long n = 0;; n++) {
			mox_testalloc ta;
			mox_testalloc_init(&ta, n);
			pair_opts po = {.mech = all[i], .password = "pencil", .alloc = &ta.a,
					.scb = MOX_SASL_CB_TLS_EXPORTER, .scbd = cb1,
					.ccb = MOX_SASL_CB_TLS_EXPORTER, .ccbd = cb1,
					.plus_offered = true};
			mox_sasl_status st;
			mox_err ce;
			mox_err err = run_pair(&po, &st, &ce);
			assert_int_equal(ta.live, 0);
			if (err == MOX_OK) {
				assert_int_equal(st, MOX_SASL_SUCCESS);
				break;
			}
			assert_int_equal(err, MOX_ENOMEM);
			assert_true(n < 1000);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cram_md5_rfc2195),
		cmocka_unit_test(test_cram_md5_caller_check),
		cmocka_unit_test(test_plain_rfc4616),
		cmocka_unit_test(test_scram_sha1_rfc5802),
		cmocka_unit_test(test_scram_sha256_rfc7677),
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_scram_client_checks),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_nfc),
		cmocka_unit_test(test_oom),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	printf("sasl: %zu RFC vectors checked\n", vectors);
	return rc;
}
