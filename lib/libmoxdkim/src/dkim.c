/* Version, names of statuses and reasons, small shared helpers. */
#include "dkim_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

unsigned
mox_dkim_version(void)
{
	return MOX_DKIM_VERSION_HEX;
}

const char *
mox_dkim_crypto_backend(void)
{
	return mox__dkim_crypto_backend();
}

const char *
mox_dkim_status_name(mox_dkim_status status)
{
	switch (status) {
	case MOX_DKIM_NONE:
		return "none";
	case MOX_DKIM_PASS:
		return "pass";
	case MOX_DKIM_FAIL:
		return "fail";
	case MOX_DKIM_POLICY:
		return "policy";
	case MOX_DKIM_NEUTRAL:
		return "neutral";
	case MOX_DKIM_TEMPERROR:
		return "temperror";
	case MOX_DKIM_PERMERROR:
		return "permerror";
	}
	return "unknown";
}

const char *
mox_dkim_reason_text(mox_dkim_reason reason)
{
	switch (reason) {
	case MOX_DKIM_R_OK:
		return "ok";
	case MOX_DKIM_R_SIG_SYNTAX:
		return "malformed DKIM-Signature";
	case MOX_DKIM_R_FROM_NOT_SIGNED:
		return "From not signed";
	case MOX_DKIM_R_EXPIRED:
		return "signature expired";
	case MOX_DKIM_R_TLD:
		return "signing domain is a public suffix";
	case MOX_DKIM_R_ALGORITHM:
		return "unknown algorithm";
	case MOX_DKIM_R_CANONICALIZATION:
		return "unknown canonicalization";
	case MOX_DKIM_R_QUERY_METHOD:
		return "no known query method";
	case MOX_DKIM_R_POLICY:
		return "refused by policy";
	case MOX_DKIM_R_NO_RECORD:
		return "no key record";
	case MOX_DKIM_R_DNS:
		return "DNS lookup of key record failed";
	case MOX_DKIM_R_RECORD_SYNTAX:
		return "malformed key record";
	case MOX_DKIM_R_NOT_DKIM_RECORD:
		return "no DKIM key record among TXT records";
	case MOX_DKIM_R_MULTIPLE_RECORDS:
		return "multiple key records";
	case MOX_DKIM_R_HASH_NOT_ALLOWED:
		return "hash algorithm not allowed by key record";
	case MOX_DKIM_R_KEY_TYPE:
		return "key type does not match signature algorithm";
	case MOX_DKIM_R_KEY_REVOKED:
		return "key revoked";
	case MOX_DKIM_R_WEAK_KEY:
		return "RSA key shorter than 1024 bits";
	case MOX_DKIM_R_NOT_FOR_EMAIL:
		return "key not for email";
	case MOX_DKIM_R_IDENTITY:
		return "identity domain must equal signing domain";
	case MOX_DKIM_R_BODY_LENGTH:
		return "body shorter than l=";
	case MOX_DKIM_R_SIGNATURE:
		return "signature did not verify";
	case MOX_DKIM_R_BODY_HASH:
		return "body hash does not match";
	case MOX_DKIM_R_TOO_MANY:
		return "too many signatures";
	case MOX_DKIM_R_HEADER:
		return "malformed message header";
	}
	return "unknown";
}

bool
mox__dkim_eq_nocase(const void *a, size_t alen, const char *b)
{
	const uint8_t *p = a;
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (mox__dkim_lower(p[i]) != mox__dkim_lower((uint8_t)b[i]))
			return false;
	return true;
}

void
mox__dkim_setmsg(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
}
