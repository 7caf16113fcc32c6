/* TLS reports, RFC 8460 section 4: the JSON read with jansson into the
 * structures of mox/tlsrpt.h, and the merging a sender needs to build its
 * own reports.
 *
 * How this works: jansson parses the whole document (strict JSON: valid
 * UTF-8, no NUL in strings, no trailing garbage, nesting bounded by
 * jansson's own limit); we then walk the known fields of section 4.4 and
 * copy them with the caller's allocator. Unknown fields are ignored; a
 * known field of the wrong type stops with its path in the message
 * ("policies[1].failure-details[0].failed-session-count: expected an
 * integer"). Counts and list sizes are bounded by mox_tlsrpt_report_limits.
 * jansson allocates with libc (its allocator hook is process-wide, and we
 * keep no global state), so only our copies use the caller's allocator. */
#include "tlsrpt_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
mox__tlsrpt_limits(mox_tlsrpt_report_limits *lim,
                   const mox_tlsrpt_report_limits *limits)
{
	memset(lim, 0, sizeof(*lim));
	if (limits != NULL)
		*lim = *limits;
	if (lim->max_bytes == 0)
		lim->max_bytes = MOX_TLSRPT_REPORT_MAX;
	if (lim->max_message == 0)
		lim->max_message = MOX_TLSRPT_MESSAGE_MAX;
	if (lim->max_policies == 0)
		lim->max_policies = 100000;
	if (lim->max_failures == 0)
		lim->max_failures = 100000;
	if (lim->max_strings == 0)
		lim->max_strings = 10000;
}

bool
mox_tlsrpt_result_type_known(const char *t)
{
	static const char *const known[] = {
	    MOX_TLSRPT_STARTTLS_NOT_SUPPORTED, MOX_TLSRPT_CERTIFICATE_HOST_MISMATCH,
	    MOX_TLSRPT_CERTIFICATE_EXPIRED,    MOX_TLSRPT_CERTIFICATE_NOT_TRUSTED,
	    MOX_TLSRPT_VALIDATION_FAILURE,     MOX_TLSRPT_TLSA_INVALID,
	    MOX_TLSRPT_DNSSEC_INVALID,         MOX_TLSRPT_DANE_REQUIRED,
	    MOX_TLSRPT_STS_POLICY_FETCH_ERROR, MOX_TLSRPT_STS_POLICY_INVALID,
	    MOX_TLSRPT_STS_WEBPKI_INVALID,
	};
	for (size_t i = 0; t != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(t, known[i]) == 0)
			return true;
	return false;
}

static void
strings_free(const mox_allocator *a, char **s, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		mox_mem_free(a, s[i]);
	mox_mem_free(a, s);
}

static void
failure_clear(const mox_allocator *a, mox_tlsrpt_failure *f)
{
	mox_mem_free(a, f->result_type);
	mox_mem_free(a, f->sending_mta_ip);
	mox_mem_free(a, f->receiving_mx_hostname);
	mox_mem_free(a, f->receiving_mx_helo);
	mox_mem_free(a, f->receiving_ip);
	mox_mem_free(a, f->additional_information);
	mox_mem_free(a, f->failure_reason_code);
	memset(f, 0, sizeof(*f));
}

static void
result_clear(const mox_allocator *a, mox_tlsrpt_result *r)
{
	mox_mem_free(a, r->policy_type);
	strings_free(a, r->policy_strings, r->npolicy_strings);
	mox_mem_free(a, r->policy_domain);
	strings_free(a, r->mx_hosts, r->nmx_hosts);
	for (size_t i = 0; r->failures != NULL && i < r->nfailures; i++)
		failure_clear(a, &r->failures[i]);
	mox_mem_free(a, r->failures);
	memset(r, 0, sizeof(*r));
}

void
mox_tlsrpt_report_free(mox_tlsrpt_report *r)
{
	if (r == NULL)
		return;
	const mox_allocator *a = r->alloc;
	mox_mem_free(a, r->organization_name);
	mox_mem_free(a, r->contact_info);
	mox_mem_free(a, r->report_id);
	for (size_t i = 0; r->policies != NULL && i < r->npolicies; i++)
		result_clear(a, &r->policies[i]);
	mox_mem_free(a, r->policies);
	mox_mem_free(a, r);
}

/* ---- reading ---- */

typedef struct ctx {
	const mox_allocator *a;
	mox_tlsrpt_report_limits lim;
	mox_errinfo *info;
	char path[160]; /* "policies[3].failure-details[2]" */
} ctx;

static mox_err bad(ctx *c, mox_err code, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static mox_err
bad(ctx *c, mox_err code, const char *key, const char *fmt, ...)
{
	char what[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mox_errinfo_set(c->info, code, 0, "%s%s%s: %s", c->path,
	                       c->path[0] != '\0' && key != NULL ? "." : "",
	                       key != NULL ? key : "", what);
}

static mox_err
get_string(ctx *c, const json_t *obj, const char *key, char **out)
{
	*out = NULL;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	if (!json_is_string(v))
		return bad(c, MOX_ESYNTAX, key, "expected a string");
	*out = mox_mem_strndup(c->a, json_string_value(v), json_string_length(v));
	return *out != NULL ? MOX_OK : MOX_ENOMEM;
}

static mox_err
get_count(ctx *c, const json_t *obj, const char *key, int64_t *out)
{
	*out = 0;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	if (!json_is_integer(v))
		return bad(c, MOX_ESYNTAX, key, "expected an integer");
	json_int_t n = json_integer_value(v);
	if (n < 0)
		return bad(c, MOX_ESYNTAX, key, "negative count %lld", (long long)n);
	*out = (int64_t)n;
	return MOX_OK;
}

/* An array of strings; with single, a lone string is a list of one. */
static mox_err
get_strings(ctx *c, const json_t *obj, const char *key, bool single, char ***out,
            size_t *n)
{
	*out = NULL;
	*n = 0;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	size_t count;
	if (single && json_is_string(v))
		count = 1;
	else if (json_is_array(v))
		count = json_array_size(v);
	else
		return bad(c, MOX_ESYNTAX, key, "expected a list of strings");
	if (count > c->lim.max_strings)
		return bad(c, MOX_ELIMIT, key, "more than %zu entries",
		           c->lim.max_strings);
	if (count == 0)
		return MOX_OK;
	char **l = mox_mem_calloc(c->a, count, sizeof(char *));
	if (l == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		const char *s = "";
		size_t sl = 0;
		if (json_is_string(e)) {
			s = json_string_value(e);
			sl = json_string_length(e);
		} else if (!json_is_null(e)) {
			strings_free(c->a, l, count);
			return bad(c, MOX_ESYNTAX, key, "entry %zu is not a string", i);
		}
		if ((l[i] = mox_mem_strndup(c->a, s, sl)) == NULL) {
			strings_free(c->a, l, count);
			return MOX_ENOMEM;
		}
	}
	*out = l;
	*n = count;
	return MOX_OK;
}

static mox_err
get_time(ctx *c, const json_t *obj, const char *key, mox_tlsrpt_time *t)
{
	memset(t, 0, sizeof(*t));
	t->seconds = MOX_TLSRPT_TIME_ZERO;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	if (!json_is_string(v))
		return bad(c, MOX_ESYNTAX, key, "expected a date-time string");
	if (mox_tlsrpt_time_parse(json_string_value(v), json_string_length(v), t) !=
	    MOX_OK)
		return bad(c, MOX_ESYNTAX, key, "invalid date-time '%.40s'",
		           json_string_value(v));
	return MOX_OK;
}

/* obj[key] as an object (NULL when absent or null), or an error. */
static mox_err
get_object(ctx *c, const json_t *obj, const char *key, const json_t **out)
{
	*out = NULL;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	if (!json_is_object(v))
		return bad(c, MOX_ESYNTAX, key, "expected an object");
	*out = v;
	return MOX_OK;
}

static mox_err
get_array(ctx *c, const json_t *obj, const char *key, size_t max, const json_t **out)
{
	*out = NULL;
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return MOX_OK;
	if (!json_is_array(v))
		return bad(c, MOX_ESYNTAX, key, "expected a list");
	if (json_array_size(v) > max)
		return bad(c, MOX_ELIMIT, key, "more than %zu entries", max);
	*out = v;
	return MOX_OK;
}

/* Extend the path with ".key[i]" for the duration of a nested read. */
static size_t
path_push(ctx *c, const char *key, size_t i)
{
	size_t n = strlen(c->path);
	snprintf(c->path + n, sizeof(c->path) - n, "%s%s[%zu]", n > 0 ? "." : "", key,
	         i);
	return n;
}

static mox_err
read_failure(ctx *c, const json_t *o, mox_tlsrpt_failure *f)
{
	if (!json_is_object(o))
		return bad(c, MOX_ESYNTAX, NULL, "expected an object");
	mox_err err;
	if ((err = get_string(c, o, "result-type", &f->result_type)) != MOX_OK ||
	    (err = get_string(c, o, "sending-mta-ip", &f->sending_mta_ip)) != MOX_OK ||
	    (err = get_string(c, o, "receiving-mx-hostname",
	                      &f->receiving_mx_hostname)) != MOX_OK ||
	    (err = get_string(c, o, "receiving-mx-helo", &f->receiving_mx_helo)) !=
	        MOX_OK ||
	    (err = get_string(c, o, "receiving-ip", &f->receiving_ip)) != MOX_OK ||
	    (err = get_count(c, o, "failed-session-count", &f->failed_session_count)) !=
	        MOX_OK ||
	    (err = get_string(c, o, "additional-information",
	                      &f->additional_information)) != MOX_OK ||
	    (err = get_string(c, o, "failure-reason-code", &f->failure_reason_code)) !=
	        MOX_OK)
		return err;
	return MOX_OK;
}

static mox_err
read_result(ctx *c, const json_t *o, mox_tlsrpt_result *r)
{
	if (!json_is_object(o))
		return bad(c, MOX_ESYNTAX, NULL, "expected an object");
	const json_t *pol, *sum, *fds;
	mox_err err;
	if ((err = get_object(c, o, "policy", &pol)) != MOX_OK ||
	    (err = get_object(c, o, "summary", &sum)) != MOX_OK ||
	    (err = get_array(c, o, "failure-details", c->lim.max_failures, &fds)) !=
	        MOX_OK)
		return err;
	if (pol != NULL) {
		size_t n = strlen(c->path);
		snprintf(c->path + n, sizeof(c->path) - n, ".policy");
		/* RFC 8460 erratum 6241: mx-host is a list; the RFC's example
		 * had a single string, which is read too. */
		if ((err = get_string(c, pol, "policy-type", &r->policy_type)) !=
		        MOX_OK ||
		    (err = get_strings(c, pol, "policy-string", false,
		                       &r->policy_strings, &r->npolicy_strings)) !=
		        MOX_OK ||
		    (err = get_string(c, pol, "policy-domain", &r->policy_domain)) !=
		        MOX_OK ||
		    (err = get_strings(c, pol, "mx-host", true, &r->mx_hosts,
		                       &r->nmx_hosts)) != MOX_OK)
			return err;
		c->path[n] = '\0';
	}
	if (sum != NULL) {
		size_t n = strlen(c->path);
		snprintf(c->path + n, sizeof(c->path) - n, ".summary");
		if ((err = get_count(c, sum, "total-successful-session-count",
		                     &r->total_successful_session_count)) != MOX_OK ||
		    (err = get_count(c, sum, "total-failure-session-count",
		                     &r->total_failure_session_count)) != MOX_OK)
			return err;
		c->path[n] = '\0';
	}
	size_t nf = fds != NULL ? json_array_size(fds) : 0;
	if (nf > 0) {
		if ((r->failures = mox_mem_calloc(c->a, nf, sizeof(*r->failures))) ==
		    NULL)
			return MOX_ENOMEM;
		for (size_t i = 0; i < nf; i++) {
			size_t n = path_push(c, "failure-details", i);
			r->nfailures++;
			if ((err = read_failure(c, json_array_get(fds, i),
			                        &r->failures[i])) != MOX_OK)
				return err;
			c->path[n] = '\0';
		}
	}
	return MOX_OK;
}

static mox_err
read_report(ctx *c, const json_t *root, mox_tlsrpt_report *rep)
{
	if (!json_is_object(root))
		return bad(c, MOX_ESYNTAX, NULL, "report is not a JSON object");
	const json_t *dr, *pols;
	mox_err err;
	if ((err = get_string(c, root, "organization-name", &rep->organization_name)) !=
	        MOX_OK ||
	    (err = get_object(c, root, "date-range", &dr)) != MOX_OK ||
	    (err = get_string(c, root, "contact-info", &rep->contact_info)) != MOX_OK ||
	    (err = get_string(c, root, "report-id", &rep->report_id)) != MOX_OK ||
	    (err = get_array(c, root, "policies", c->lim.max_policies, &pols)) !=
	        MOX_OK)
		return err;
	snprintf(c->path, sizeof(c->path), "date-range");
	if ((err = get_time(c, dr, "start-datetime", &rep->start)) != MOX_OK ||
	    (err = get_time(c, dr, "end-datetime", &rep->end)) != MOX_OK)
		return err;
	c->path[0] = '\0';
	size_t np = pols != NULL ? json_array_size(pols) : 0;
	if (np > 0) {
		if ((rep->policies =
		         mox_mem_calloc(c->a, np, sizeof(*rep->policies))) == NULL)
			return MOX_ENOMEM;
		for (size_t i = 0; i < np; i++) {
			path_push(c, "policies", i);
			rep->npolicies++;
			if ((err = read_result(c, json_array_get(pols, i),
			                       &rep->policies[i])) != MOX_OK)
				return err;
			c->path[0] = '\0';
		}
	}
	return MOX_OK;
}

mox_err
mox_tlsrpt_report_parse(const void *data, size_t len,
                        const mox_tlsrpt_report_limits *limits,
                        const mox_allocator *alloc, mox_tlsrpt_report **report_out,
                        mox_errinfo *info)
{
	if (report_out == NULL)
		return MOX_EINVAL;
	*report_out = NULL;
	if (data == NULL && len > 0)
		return MOX_EINVAL;
	ctx c = {.a = alloc, .info = info};
	mox__tlsrpt_limits(&c.lim, limits);
	if (len > c.lim.max_bytes)
		return mox_errinfo_set(info, MOX_ELIMIT, c.lim.max_bytes,
		                       "report larger than %zu bytes", c.lim.max_bytes);
	json_error_t jerr;
	json_t *root = json_loadb(data != NULL ? data : "", len, 0, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return MOX_ENOMEM;
		return mox_errinfo_set(info, MOX_ESYNTAX, (size_t)jerr.position,
		                       "JSON: %s at line %d, column %d", jerr.text,
		                       jerr.line, jerr.column);
	}
	mox_err err = MOX_ENOMEM;
	mox_tlsrpt_report *rep = mox_mem_calloc(alloc, 1, sizeof(*rep));
	if (rep != NULL) {
		rep->alloc = alloc;
		err = read_report(&c, root, rep);
	}
	json_decref(root);
	if (err != MOX_OK) {
		mox_tlsrpt_report_free(rep);
		return err;
	}
	*report_out = rep;
	return MOX_OK;
}

/* ---- building ---- */

mox_err
mox_tlsrpt_report_new(mox_tlsrpt_report **out, const mox_allocator *alloc,
                      const char *org, const char *contact, const char *id,
                      mox_tlsrpt_time start, mox_tlsrpt_time end)
{
	if (out == NULL)
		return MOX_EINVAL;
	*out = NULL;
	mox_tlsrpt_report *r = mox_mem_calloc(alloc, 1, sizeof(*r));
	if (r == NULL)
		return MOX_ENOMEM;
	r->alloc = alloc;
	r->start = start;
	r->end = end;
	if ((org != NULL &&
	     (r->organization_name = mox_mem_strdup(alloc, org)) == NULL) ||
	    (contact != NULL &&
	     (r->contact_info = mox_mem_strdup(alloc, contact)) == NULL) ||
	    (id != NULL && (r->report_id = mox_mem_strdup(alloc, id)) == NULL)) {
		mox_tlsrpt_report_free(r);
		return MOX_ENOMEM;
	}
	*out = r;
	return MOX_OK;
}

static bool
str_eq(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static bool
strings_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool
policy_eq(const mox_tlsrpt_result *a, const mox_tlsrpt_result *b)
{
	return str_eq(a->policy_type, b->policy_type) &&
	       strings_eq(a->policy_strings, a->npolicy_strings, b->policy_strings,
	                  b->npolicy_strings) &&
	       str_eq(a->policy_domain, b->policy_domain) &&
	       strings_eq(a->mx_hosts, a->nmx_hosts, b->mx_hosts, b->nmx_hosts);
}

static bool
failure_key_eq(const mox_tlsrpt_failure *a, const mox_tlsrpt_failure *b)
{
	return str_eq(a->result_type, b->result_type) &&
	       str_eq(a->sending_mta_ip, b->sending_mta_ip) &&
	       str_eq(a->receiving_mx_hostname, b->receiving_mx_hostname) &&
	       str_eq(a->receiving_mx_helo, b->receiving_mx_helo) &&
	       str_eq(a->receiving_ip, b->receiving_ip) &&
	       str_eq(a->additional_information, b->additional_information) &&
	       str_eq(a->failure_reason_code, b->failure_reason_code);
}

static mox_err
dup_str(const mox_allocator *a, const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return MOX_OK;
	*out = mox_mem_strdup(a, s);
	return *out != NULL ? MOX_OK : MOX_ENOMEM;
}

static mox_err
dup_strings(const mox_allocator *a, char *const *s, size_t n, char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return MOX_OK;
	char **l = mox_mem_calloc(a, n, sizeof(char *));
	if (l == NULL)
		return MOX_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((l[i] = mox_mem_strdup(a, s[i] != NULL ? s[i] : "")) == NULL) {
			strings_free(a, l, n);
			return MOX_ENOMEM;
		}
	*out = l;
	*nout = n;
	return MOX_OK;
}

static mox_err
dup_failure(const mox_allocator *a, const mox_tlsrpt_failure *f, mox_tlsrpt_failure *o)
{
	memset(o, 0, sizeof(*o));
	o->failed_session_count =
	    f->failed_session_count < 0 ? 0 : f->failed_session_count;
	mox_err err;
	if ((err = dup_str(a, f->result_type, &o->result_type)) != MOX_OK ||
	    (err = dup_str(a, f->sending_mta_ip, &o->sending_mta_ip)) != MOX_OK ||
	    (err = dup_str(a, f->receiving_mx_hostname, &o->receiving_mx_hostname)) !=
	        MOX_OK ||
	    (err = dup_str(a, f->receiving_mx_helo, &o->receiving_mx_helo)) != MOX_OK ||
	    (err = dup_str(a, f->receiving_ip, &o->receiving_ip)) != MOX_OK ||
	    (err = dup_str(a, f->additional_information, &o->additional_information)) !=
	        MOX_OK ||
	    (err = dup_str(a, f->failure_reason_code, &o->failure_reason_code)) !=
	        MOX_OK)
		failure_clear(a, o);
	return err;
}

static int64_t
add_count(int64_t a, int64_t b)
{
	/* Saturating; never below zero (mox compensates with negative
	 * counts and clamps the same way). */
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	int64_t s = a + b;
	return s < 0 ? 0 : s;
}

/* Merge failure details fds into r (whose failures are ours). */
static mox_err
merge_failures(const mox_allocator *a, mox_tlsrpt_result *r,
               const mox_tlsrpt_failure *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k;
		for (k = 0; k < r->nfailures; k++)
			if (failure_key_eq(&r->failures[k], &fds[i]))
				break;
		if (k < r->nfailures) {
			r->failures[k].failed_session_count =
			    add_count(r->failures[k].failed_session_count,
			              fds[i].failed_session_count);
			continue;
		}
		mox_tlsrpt_failure *nf =
		    mox_mem_reallocarray(a, r->failures, r->nfailures + 1, sizeof(*nf));
		if (nf == NULL)
			return MOX_ENOMEM;
		r->failures = nf;
		mox_err err = dup_failure(a, &fds[i], &nf[r->nfailures]);
		if (err != MOX_OK)
			return err;
		r->nfailures++;
	}
	return MOX_OK;
}

mox_err
mox_tlsrpt_report_add(mox_tlsrpt_report *rep, const mox_tlsrpt_result *res)
{
	if (rep == NULL || res == NULL || (res->nfailures > 0 && res->failures == NULL))
		return MOX_EINVAL;
	const mox_allocator *a = rep->alloc;
	for (size_t i = 0; i < rep->npolicies; i++) {
		mox_tlsrpt_result *r = &rep->policies[i];
		if (!policy_eq(r, res))
			continue;
		r->total_successful_session_count =
		    add_count(r->total_successful_session_count,
		              res->total_successful_session_count);
		r->total_failure_session_count = add_count(
		    r->total_failure_session_count, res->total_failure_session_count);
		return merge_failures(a, r, res->failures, res->nfailures);
	}
	mox_tlsrpt_result *np =
	    mox_mem_reallocarray(a, rep->policies, rep->npolicies + 1, sizeof(*np));
	if (np == NULL)
		return MOX_ENOMEM;
	rep->policies = np;
	mox_tlsrpt_result *r = &np[rep->npolicies];
	memset(r, 0, sizeof(*r));
	r->total_successful_session_count =
	    add_count(0, res->total_successful_session_count);
	r->total_failure_session_count = add_count(0, res->total_failure_session_count);
	mox_err err;
	if ((err = dup_str(a, res->policy_type, &r->policy_type)) != MOX_OK ||
	    (err = dup_strings(a, res->policy_strings, res->npolicy_strings,
	                       &r->policy_strings, &r->npolicy_strings)) != MOX_OK ||
	    (err = dup_str(a, res->policy_domain, &r->policy_domain)) != MOX_OK ||
	    (err = dup_strings(a, res->mx_hosts, res->nmx_hosts, &r->mx_hosts,
	                       &r->nmx_hosts)) != MOX_OK ||
	    (err = merge_failures(a, r, res->failures, res->nfailures)) != MOX_OK) {
		result_clear(a, r);
		return err;
	}
	rep->npolicies++;
	return MOX_OK;
}
