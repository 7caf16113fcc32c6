/* mox_dns_answer: allocation, records, copy, free.
 *
 * An answer owns every string and array it points to, all allocated with
 * answer->alloc, so one mox_dns_answer_free releases it whatever backend
 * made it. Records of a TXT answer keep both the concatenated text and the
 * separate character-strings (RFC 1035 section 3.3.14). */
#include "dns_int.h"

#include <stdio.h>
#include <string.h>

unsigned
mox_dns_version(void)
{
	return MOX_DNS_VERSION_HEX;
}

static const struct {
	mox_dns_type type;
	const char *name;
} type_names[] = {
	{MOX_DNS_A, "A"},       {MOX_DNS_NS, "NS"},   {MOX_DNS_CNAME, "CNAME"},
	{MOX_DNS_SOA, "SOA"},   {MOX_DNS_PTR, "PTR"}, {MOX_DNS_MX, "MX"},
	{MOX_DNS_TXT, "TXT"},   {MOX_DNS_AAAA, "AAAA"}, {MOX_DNS_TLSA, "TLSA"},
};

const char *
mox_dns_type_name(mox_dns_type type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

mox_err
mox_dns_type_parse(const char *name, mox_dns_type *type_out)
{
	if (name == NULL || type_out == NULL)
		return MOX_EINVAL;
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		const char *a = type_names[i].name, *b = name;
		while (*a != '\0' && *a == (*b >= 'a' && *b <= 'z' ? *b - 32 : *b)) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0') {
			*type_out = type_names[i].type;
			return MOX_OK;
		}
	}
	return MOX_EUNSUPPORTED;
}

const char *
mox_dns_status_name(mox_dns_status status)
{
	switch (status) {
	case MOX_DNS_FOUND:
		return "found";
	case MOX_DNS_NXDOMAIN:
		return "nxdomain";
	case MOX_DNS_NODATA:
		return "nodata";
	case MOX_DNS_TEMPFAIL:
		return "tempfail";
	case MOX_DNS_PERMFAIL:
		return "permfail";
	}
	return "unknown";
}

mox_err
mox__dns_name_normalize(const char *name, char *out, size_t out_size)
{
	size_t n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		n--;
	if (n + 1 > out_size)
		return MOX_ERANGE;
	for (size_t i = 0; i < n; i++)
		out[i] = mox__dns_lower(name[i]);
	out[n] = '\0';
	return MOX_OK;
}

mox_err
mox__dns_rr_set_name(const mox_allocator *alloc, char **field, const char *name)
{
	size_t n = strlen(name);
	char *p = mox_mem_alloc(alloc, n + 1);
	if (p == NULL)
		return MOX_ENOMEM;
	if (mox__dns_name_normalize(name, p, n + 1) != MOX_OK) {
		mox_mem_free(alloc, p);
		return MOX_ENOMEM;
	}
	/* The root "." normalizes to "" (null MX, RFC 7505). */
	if (strcmp(p, ".") == 0)
		p[0] = '\0';
	mox_mem_free(alloc, *field);
	*field = p;
	return MOX_OK;
}

mox_dns_answer *
mox__dns_answer_new(const mox_allocator *alloc, const char *qname,
		    mox_dns_type qtype)
{
	mox_dns_answer *a = mox_mem_calloc(alloc, 1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->alloc = alloc;
	a->status = MOX_DNS_NODATA;
	a->rcode = -1;
	a->qtype = qtype;
	if (mox__dns_rr_set_name(alloc, &a->qname, qname) != MOX_OK) {
		mox_mem_free(alloc, a);
		return NULL;
	}
	return a;
}

mox_dns_rr *
mox__dns_answer_add(mox_dns_answer *a, mox_dns_type type, const char *owner,
		    uint32_t ttl)
{
	mox_dns_rr *rr = mox_mem_reallocarray(a->alloc, a->rr, a->nrr + 1,
					      sizeof(*rr));
	if (rr == NULL)
		return NULL;
	a->rr = rr;
	rr = &a->rr[a->nrr];
	memset(rr, 0, sizeof(*rr));
	rr->type = type;
	rr->ttl = ttl;
	if (mox__dns_rr_set_name(a->alloc, &rr->name, owner) != MOX_OK)
		return NULL;
	a->nrr++;
	return rr;
}

mox_err
mox__dns_answer_fail(mox_dns_answer *a, mox_dns_status status, const char *fmt,
		     ...)
{
	a->status = status;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char *why = mox_mem_strdup(a->alloc, msg);
	if (why == NULL)
		return MOX_ENOMEM;
	mox_mem_free(a->alloc, a->why);
	a->why = why;
	return MOX_OK;
}

mox_err
mox__dns_rr_set_txt(const mox_allocator *alloc, mox_dns_rr *rr, size_t nstrings,
		    const uint8_t *const *strings, const size_t *lens)
{
	size_t total = 0;
	for (size_t i = 0; i < nstrings; i++)
		total += lens[i];
	rr->u.txt.data = mox_mem_alloc(alloc, total + 1);
	rr->u.txt.strings = mox_mem_calloc(alloc, nstrings ? nstrings : 1,
					   sizeof(uint8_t *));
	rr->u.txt.lens = mox_mem_calloc(alloc, nstrings ? nstrings : 1, sizeof(size_t));
	if (rr->u.txt.data == NULL || rr->u.txt.strings == NULL || rr->u.txt.lens == NULL)
		return MOX_ENOMEM;
	rr->u.txt.nstrings = nstrings;
	size_t off = 0;
	for (size_t i = 0; i < nstrings; i++) {
		uint8_t *s = mox_mem_alloc(alloc, lens[i] + 1);
		if (s == NULL)
			return MOX_ENOMEM;
		if (lens[i] > 0) {
			memcpy(s, strings[i], lens[i]);
			memcpy(rr->u.txt.data + off, strings[i], lens[i]);
		}
		s[lens[i]] = '\0';
		rr->u.txt.strings[i] = s;
		rr->u.txt.lens[i] = lens[i];
		off += lens[i];
	}
	rr->u.txt.data[off] = '\0';
	rr->u.txt.len = off;
	return MOX_OK;
}

mox_err
mox__dns_rr_set_tlsa_data(const mox_allocator *alloc, mox_dns_rr *rr,
			  const uint8_t *data, size_t len)
{
	rr->u.tlsa.data = mox_mem_alloc(alloc, len + 1);
	if (rr->u.tlsa.data == NULL)
		return MOX_ENOMEM;
	if (len > 0)
		memcpy(rr->u.tlsa.data, data, len);
	rr->u.tlsa.len = len;
	return MOX_OK;
}

void
mox__dns_rr_free_fields(const mox_allocator *alloc, mox_dns_rr *rr)
{
	mox_mem_free(alloc, rr->name);
	switch (rr->type) {
	case MOX_DNS_MX:
		mox_mem_free(alloc, rr->u.mx.host);
		break;
	case MOX_DNS_CNAME:
	case MOX_DNS_PTR:
	case MOX_DNS_NS:
		mox_mem_free(alloc, rr->u.host);
		break;
	case MOX_DNS_TXT:
		if (rr->u.txt.strings != NULL)
			for (size_t i = 0; i < rr->u.txt.nstrings; i++)
				mox_mem_free(alloc, rr->u.txt.strings[i]);
		mox_mem_free(alloc, rr->u.txt.strings);
		mox_mem_free(alloc, rr->u.txt.lens);
		mox_mem_free(alloc, rr->u.txt.data);
		break;
	case MOX_DNS_TLSA:
		mox_mem_free(alloc, rr->u.tlsa.data);
		break;
	case MOX_DNS_SOA:
		mox_mem_free(alloc, rr->u.soa.mname);
		mox_mem_free(alloc, rr->u.soa.rname);
		break;
	case MOX_DNS_A:
	case MOX_DNS_AAAA:
		break;
	}
}

void
mox_dns_answer_free(mox_dns_answer *a)
{
	if (a == NULL)
		return;
	const mox_allocator *alloc = a->alloc;
	for (size_t i = 0; i < a->nrr; i++)
		mox__dns_rr_free_fields(alloc, &a->rr[i]);
	mox_mem_free(alloc, a->rr);
	mox_mem_free(alloc, a->qname);
	mox_mem_free(alloc, a->cname);
	mox_mem_free(alloc, a->why);
	mox_mem_free(alloc, a);
}

static mox_err
copy_str(const mox_allocator *alloc, char **dst, const char *src)
{
	if (src == NULL) {
		*dst = NULL;
		return MOX_OK;
	}
	*dst = mox_mem_strdup(alloc, src);
	return *dst == NULL ? MOX_ENOMEM : MOX_OK;
}

mox_err
mox__dns_rr_copy(const mox_allocator *alloc, mox_dns_rr *dst, const mox_dns_rr *src)
{
	dst->type = src->type;
	dst->ttl = src->ttl;
	if (copy_str(alloc, &dst->name, src->name) != MOX_OK)
		return MOX_ENOMEM;
	switch (src->type) {
	case MOX_DNS_A:
	case MOX_DNS_AAAA:
		memcpy(&dst->u, &src->u, sizeof(src->u));
		return MOX_OK;
	case MOX_DNS_MX:
		dst->u.mx.preference = src->u.mx.preference;
		return copy_str(alloc, &dst->u.mx.host, src->u.mx.host);
	case MOX_DNS_CNAME:
	case MOX_DNS_PTR:
	case MOX_DNS_NS:
		return copy_str(alloc, &dst->u.host, src->u.host);
	case MOX_DNS_TXT:
		return mox__dns_rr_set_txt(alloc, dst, src->u.txt.nstrings,
					   (const uint8_t *const *)src->u.txt.strings,
					   src->u.txt.lens);
	case MOX_DNS_TLSA:
		dst->u.tlsa.usage = src->u.tlsa.usage;
		dst->u.tlsa.selector = src->u.tlsa.selector;
		dst->u.tlsa.matching_type = src->u.tlsa.matching_type;
		return mox__dns_rr_set_tlsa_data(alloc, dst, src->u.tlsa.data,
						 src->u.tlsa.len);
	case MOX_DNS_SOA:
		dst->u.soa = src->u.soa;
		dst->u.soa.mname = dst->u.soa.rname = NULL;
		if (copy_str(alloc, &dst->u.soa.mname, src->u.soa.mname) != MOX_OK)
			return MOX_ENOMEM;
		return copy_str(alloc, &dst->u.soa.rname, src->u.soa.rname);
	}
	return MOX_OK;
}

mox_err
mox_dns_answer_copy(const mox_dns_answer *src, const mox_allocator *alloc,
		    mox_dns_answer **copy_out)
{
	if (copy_out == NULL)
		return MOX_EINVAL;
	*copy_out = NULL;
	if (src == NULL)
		return MOX_EINVAL;
	mox_dns_answer *a = mox__dns_answer_new(alloc, src->qname, src->qtype);
	if (a == NULL)
		return MOX_ENOMEM;
	a->status = src->status;
	a->authentic = src->authentic;
	a->rcode = src->rcode;
	a->neg_ttl = src->neg_ttl;
	if (copy_str(alloc, &a->cname, src->cname) != MOX_OK ||
	    copy_str(alloc, &a->why, src->why) != MOX_OK)
		goto fail;
	if (src->nrr > 0) {
		a->rr = mox_mem_calloc(alloc, src->nrr, sizeof(*a->rr));
		if (a->rr == NULL)
			goto fail;
		for (size_t i = 0; i < src->nrr; i++) {
			/* Count the record before filling it so a partial copy
			 * is freed completely. */
			a->nrr++;
			if (mox__dns_rr_copy(alloc, &a->rr[i], &src->rr[i]) != MOX_OK)
				goto fail;
		}
	}
	*copy_out = a;
	return MOX_OK;
fail:
	mox_dns_answer_free(a);
	return MOX_ENOMEM;
}
