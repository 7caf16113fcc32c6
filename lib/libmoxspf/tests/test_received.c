/* Received-SPF (RFC 7208 section 9.1) and the Authentication-Results spf
 * resinfo (RFC 8601 section 2.7.2), from hand-made outcomes and from real
 * evaluations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mox/spf.h>

static mox_spf_outcome
outcome(mox_spf_result r)
{
	mox_spf_outcome o = {
		.result = r,
		.identity = MOX_SPF_IDENTITY_MAILFROM,
		.domain = "example.com",
		.sender = "myname@example.com",
		.client_ip = "192.0.2.1",
		.helo = "foo.example.com",
		.receiver = "mybox.example.org",
		.mechanism = "ip4:192.0.2.0/24",
	};
	return o;
}

/* Unfold (remove CRLF before WSP) and check each line's length. */
static char *
unfold(const mox_buf *b)
{
	char *s = malloc(b->len + 1);
	size_t n = 0, col = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && i + 1 < b->len && b->data[i + 1] == '\n') {
			assert_true(col <= 78);
			col = 0;
			if (i + 2 < b->len)
				assert_int_equal(b->data[i + 2], ' ');
			i++;
			continue;
		}
		s[n++] = (char)b->data[i];
		col++;
	}
	s[n] = '\0';
	assert_int_equal(col, 0); /* ends in CRLF */
	return s;
}

static void
test_header(void **state)
{
	(void)state;
	mox_spf_outcome o = outcome(MOX_SPF_PASS);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_spf_received_header(&o, &b), MOX_OK);
	char *u = unfold(&b);
	/* RFC 7208 section 9.1's example, with our key order; values that
	 * are no dot-atom are quoted, as the RFC's envelope-from. */
	assert_string_equal(u, "Received-SPF: pass (mybox.example.org: domain of "
			       "myname@example.com designates 192.0.2.1 as permitted sender) "
			       "client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; "
			       "helo=foo.example.com; mechanism=\"ip4:192.0.2.0/24\"; "
			       "receiver=mybox.example.org; identity=mailfrom");
	free(u);
	assert_non_null(strstr((char *)b.data, "\r\n "));

	/* Fail with a problem, HELO identity, values that need quoting. */
	mox_buf_reset(&b);
	o = outcome(MOX_SPF_PERMERROR);
	o.identity = MOX_SPF_IDENTITY_HELO;
	o.sender = "postmaster@[odd] (x)";
	o.helo = "";
	o.mechanism = NULL;
	o.problem = "more than 10 DNS terms (RFC 7208 section 4.6.4) and a very long tail "
		    "that is cut";
	assert_int_equal(mox_spf_received_header(&o, &b), MOX_OK);
	u = unfold(&b);
	assert_string_equal(u, "Received-SPF: permerror (mybox.example.org: permanent error in "
			       "processing domain of postmaster@[odd] \\(x\\)) "
			       "client-ip=192.0.2.1; envelope-from=\"postmaster@[odd] (x)\"; "
			       "helo=\"\"; problem=\"more than 10 DNS terms (RFC 7208 section "
			       "4.6.4) and a very long tai\"; receiver=mybox.example.org; "
			       "identity=helo");
	free(u);

	const mox_spf_result all[] = {MOX_SPF_NONE,     MOX_SPF_NEUTRAL,   MOX_SPF_FAIL,
				      MOX_SPF_SOFTFAIL, MOX_SPF_TEMPERROR, MOX_SPF_PERMERROR};
	const char *words[] = {"does not designate permitted sender hosts",
			       "is neither permitted nor denied",
			       "does not designate 192.0.2.1 as permitted sender",
			       "domain of transitioning",
			       "error in processing during lookup",
			       "permanent error"};
	for (size_t i = 0; i < 6; i++) {
		mox_buf_reset(&b);
		o = outcome(all[i]);
		assert_int_equal(mox_spf_received_header(&o, &b), MOX_OK);
		u = unfold(&b);
		assert_non_null(strstr(u, words[i]));
		assert_int_equal(strncmp(u + 14, mox_spf_result_name(all[i]),
					 strlen(mox_spf_result_name(all[i]))),
				 0);
		free(u);
	}
	mox_buf_free(&b);
	assert_int_equal(mox_spf_received_header(NULL, &b), MOX_EINVAL);
}

static void
test_authres(void **state)
{
	(void)state;
	mox_spf_outcome o = outcome(MOX_SPF_SOFTFAIL);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_spf_authres(&o, &b), MOX_OK);
	assert_string_equal((char *)b.data, "spf=softfail smtp.mailfrom=example.com");
	mox_buf_reset(&b);
	o.identity = MOX_SPF_IDENTITY_HELO;
	assert_int_equal(mox_spf_authres(&o, &b), MOX_OK);
	assert_string_equal((char *)b.data, "spf=softfail smtp.helo=foo.example.com");
	mox_buf_reset(&b);
	o = outcome(MOX_SPF_NONE);
	o.domain = "";
	o.sender = "x@[1.2.3.4]";
	assert_int_equal(mox_spf_authres(&o, &b), MOX_OK);
	assert_string_equal((char *)b.data, "spf=none smtp.mailfrom=\"x@[1.2.3.4]\"");
	mox_buf_free(&b);
}

static void
test_from_check(void **state)
{
	(void)state;
	mox_resolver *z = NULL;
	static const char text[] = "example.com. TXT \"v=spf1 -ip4:192.0.2.0/24 ~all\"\n";
	assert_int_equal(mox_dns_zone_new(&z, NULL), MOX_OK);
	assert_int_equal(mox_dns_zone_load(z, text, strlen(text), NULL), MOX_OK);
	mox_spf_opts so = {.size = sizeof(so), .resolver = z, .receiver = "mx.example.net"};
	mox_spf *s = NULL;
	assert_int_equal(mox_spf_new(&s, &so), MOX_OK);
	mox_spf_request req = {.size = sizeof(req),
			       .ip = "192.0.2.9",
			       .mailfrom = "\"john smith\"@example.com",
			       .helo = "client.example.org"};
	mox_spf_outcome *o = NULL;
	assert_int_equal(mox_spf_check(s, &req, &o), MOX_OK);
	assert_int_equal(o->result, MOX_SPF_FAIL);
	mox_buf b = MOX_BUF_INIT;
	assert_int_equal(mox_spf_received_header(o, &b), MOX_OK);
	char *u = unfold(&b);
	assert_string_equal(u, "Received-SPF: fail (mx.example.net: domain of \"john "
			       "smith\"@example.com does not designate 192.0.2.9 as permitted "
			       "sender) client-ip=192.0.2.9; envelope-from=\"\\\"john "
			       "smith\\\"@example.com\"; helo=client.example.org; "
			       "mechanism=\"-ip4:192.0.2.0/24\"; receiver=mx.example.net; "
			       "identity=mailfrom");
	free(u);
	mox_buf_free(&b);
	mox_spf_outcome_free(o);
	mox_spf_free(s);
	mox_resolver_free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_authres),
		cmocka_unit_test(test_from_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
