/* Fuzz the macro-string checker and expander (RFC 7208 section 7). The
 * first byte picks the mode (domain-spec, explain-string, unknown
 * modifier value) and a client address family; the rest is the string.
 * Syntax check and expansion must agree, and expansion output stays
 * within MOX_SPF_EXPAND_MAX (a domain within 253 characters). */
#include "spf_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mox_err
ptr_name(void *arg, const char *domain, const char **name)
{
	(void)arg;
	(void)domain;
	*name = "mx.example.org";
	return MOX_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	static const unsigned modes[] = {0, MOX__SPF_MACRO_EXP, MOX__SPF_MACRO_ANYLETTER};
	unsigned flags = modes[data[0] % 3];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	mox__spf_macro_ctx ctx = {
		.local = "strong-bad+x.y",
		.sender_domain = "email.example.com",
		.domain = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.example.com",
		.helo = "mail.example.org",
		.receiver = "receiver.example",
		.family = (data[0] & 0x10) ? 6 : 4,
		.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01},
		.now = 1700000000,
		.ptr_name = ptr_name,
	};
	mox_errinfo info;
	mox_err chk = mox__spf_macro_check(s, n, flags, 0, NULL, &info);
	mox_buf out = MOX_BUF_INIT;
	mox_err err = mox__spf_macro_expand(s, n, flags, &ctx, &out, &info);
	if (chk != MOX_OK && err == MOX_OK)
		abort(); /* expansion accepted what the checker refused */
	if (chk == MOX_OK && err != MOX_OK && err != MOX_ELIMIT)
		abort();
	if (err == MOX_OK && out.len > MOX_SPF_EXPAND_MAX)
		abort();
	if (err == MOX_OK && !(flags & MOX__SPF_MACRO_EXP) && out.len > MOX_DNS_NAME_MAX)
		abort();
	mox_buf_free(&out);
	return 0;
}
