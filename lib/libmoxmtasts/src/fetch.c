/* Policy fetching over HTTPS, RFC 8461 section 3.3, with libcurl.
 *
 * How this works: one curl easy handle per fetch (nothing shared between
 * threads but the immutable fetcher). The request is a GET of
 * https://mta-sts.<domain>/.well-known/mta-sts.txt, HTTPS only, with
 * certificate and host name verification (curl's defaults, kept explicit),
 * no redirects followed, no connection reuse, a total time limit and
 * signals off (threads). The body goes through a write callback that
 * first checks the status (only 200 is a policy; anything else stops the
 * transfer at once, so a hostile server's body is never read) and the
 * media type (text/plain, section 3.2), then appends up to max_size bytes;
 * one byte more aborts the transfer. A declared Content-Length above the
 * limit is refused before the body (CURLOPT_MAXFILESIZE).
 *
 * With a resolver in the options, the policy host's A and AAAA records are
 * looked up through it and handed to curl (CURLOPT_RESOLVE), so the fetch
 * uses the same DNS as the rest of the mail server and a name that does
 * not exist means "no policy" as in mox. */
#include "mtasts_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct mox_mtasts_fetcher {
	const mox_allocator *alloc;
	unsigned timeout_ms;
	size_t max_size;
	const mox_resolver *resolver;
	char *ca_file;
	char *proxy; /* NULL: curl's default (environment) */
	char *user_agent;
	size_t nconnect;
	char **connect_host; /* lower case host names of the overrides */
	char **connect_to;   /* "host:443:addr:port" as curl wants them */
};

const char *
mox_mtasts_problem_name(mox_mtasts_fetch_problem p)
{
	switch (p) {
	case MOX_MTASTS_PROBLEM_NONE:
		return "none";
	case MOX_MTASTS_PROBLEM_DNS:
		return "dns";
	case MOX_MTASTS_PROBLEM_CONNECT:
		return "connect";
	case MOX_MTASTS_PROBLEM_TLS:
		return "tls";
	case MOX_MTASTS_PROBLEM_CERTIFICATE:
		return "certificate";
	case MOX_MTASTS_PROBLEM_TIMEOUT:
		return "timeout";
	case MOX_MTASTS_PROBLEM_REDIRECT:
		return "redirect";
	case MOX_MTASTS_PROBLEM_HTTP_STATUS:
		return "http-status";
	case MOX_MTASTS_PROBLEM_CONTENT_TYPE:
		return "content-type";
	case MOX_MTASTS_PROBLEM_TOO_LARGE:
		return "too-large";
	case MOX_MTASTS_PROBLEM_SYNTAX:
		return "syntax";
	case MOX_MTASTS_PROBLEM_NOT_FOUND:
		return "not-found";
	}
	return "";
}

const char *
mox_mtasts_problem_result_type(mox_mtasts_fetch_problem p)
{
	switch (p) {
	case MOX_MTASTS_PROBLEM_NONE:
		return NULL;
	/* RFC 8460 section 4.3.2.2: the policy host's certificate did not
	 * validate. */
	case MOX_MTASTS_PROBLEM_CERTIFICATE:
		return "sts-webpki-invalid";
	/* The policy was fetched but is not valid. */
	case MOX_MTASTS_PROBLEM_SYNTAX:
		return "sts-policy-invalid";
	default:
		return "sts-policy-fetch-error";
	}
}

void
mox_mtasts_fetcher_free(mox_mtasts_fetcher *f)
{
	if (f == NULL)
		return;
	const mox_allocator *a = f->alloc;
	for (size_t i = 0; i < f->nconnect; i++) {
		mox_mem_free(a, f->connect_host[i]);
		mox_mem_free(a, f->connect_to[i]);
	}
	mox_mem_free(a, f->connect_host);
	mox_mem_free(a, f->connect_to);
	mox_mem_free(a, f->ca_file);
	mox_mem_free(a, f->proxy);
	mox_mem_free(a, f->user_agent);
	mox_mem_free(a, f);
	curl_global_cleanup();
}

mox_err
mox_mtasts_fetcher_new(mox_mtasts_fetcher **out, const mox_mtasts_fetch_opts *opts,
                       mox_errinfo *info)
{
	if (out == NULL)
		return MOX_EINVAL;
	*out = NULL;
	mox_mtasts_fetch_opts o = {0};
	if (opts != NULL) {
		if (opts->size < sizeof(size_t))
			return mox_errinfo_set(info, MOX_EINVAL, 0,
			                       "opts->size not set");
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	}
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	bool https = false;
	for (size_t i = 0; vi->protocols != NULL && vi->protocols[i] != NULL; i++)
		if (strcmp(vi->protocols[i], "https") == 0)
			https = true;
	if (!https)
		return mox_errinfo_set(info, MOX_EUNSUPPORTED, 0,
		                       "libcurl has no https support");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mox_errinfo_set(info, MOX_ENOMEM, 0, "curl_global_init failed");

	mox_err err = MOX_ENOMEM;
	const mox_allocator *a = o.alloc;
	mox_mtasts_fetcher *f = mox_mem_calloc(a, 1, sizeof(*f));
	if (f == NULL) {
		curl_global_cleanup();
		return MOX_ENOMEM;
	}
	f->alloc = a;
	f->timeout_ms = o.timeout_ms ? o.timeout_ms : MOX_MTASTS_FETCH_TIMEOUT_MS;
	f->max_size = o.max_size ? o.max_size : MOX_MTASTS_POLICY_SIZE_MAX;
	f->resolver = o.resolver;
	if ((o.ca_file != NULL &&
	     (f->ca_file = mox_mem_strdup(a, o.ca_file)) == NULL) ||
	    (o.proxy != NULL && (f->proxy = mox_mem_strdup(a, o.proxy)) == NULL))
		goto out;
	if (o.user_agent != NULL)
		f->user_agent = mox_mem_strdup(a, o.user_agent);
	else {
		char ua[32];
		snprintf(ua, sizeof(ua), "mox-c/%d.%d.%d", MOX_MTASTS_VERSION_MAJOR,
		         MOX_MTASTS_VERSION_MINOR, MOX_MTASTS_VERSION_PATCH);
		f->user_agent = mox_mem_strdup(a, ua);
	}
	if (f->user_agent == NULL)
		goto out;
	if (o.nconnect_to > 0) {
		if (o.connect_to == NULL) {
			err =
			    mox_errinfo_set(info, MOX_EINVAL, 0, "connect_to is NULL");
			goto out;
		}
		f->connect_host = mox_mem_calloc(a, o.nconnect_to, sizeof(char *));
		f->connect_to = mox_mem_calloc(a, o.nconnect_to, sizeof(char *));
		if (f->connect_host == NULL || f->connect_to == NULL)
			goto out;
		for (size_t i = 0; i < o.nconnect_to; i++) {
			const mox_mtasts_connect_to *c = &o.connect_to[i];
			unsigned char tmp[16];
			bool v6 =
			    c->addr != NULL && inet_pton(AF_INET6, c->addr, tmp) == 1;
			if (c->host == NULL || c->addr == NULL || c->port == 0 ||
			    (!v6 && inet_pton(AF_INET, c->addr, tmp) != 1) ||
			    mox_dns_name_check(c->host, strlen(c->host),
			                       MOX_DNS_NAME_HOST, NULL) != MOX_OK) {
				err = mox_errinfo_set(
				    info, MOX_EINVAL, i,
				    "connect_to[%zu]: need host name, IP address "
				    "and port",
				    i);
				goto out;
			}
			size_t hl = strlen(c->host), tl = hl + strlen(c->addr) + 32;
			char *h = mox_mem_strdup(a, c->host);
			char *t = mox_mem_alloc(a, tl);
			if (h == NULL || t == NULL) {
				mox_mem_free(a, h);
				mox_mem_free(a, t);
				goto out;
			}
			for (size_t k = 0; k < hl; k++)
				h[k] = mox__mtasts_lower(h[k]);
			snprintf(t, tl, v6 ? "%s:443:[%s]:%u" : "%s:443:%s:%u", h,
			         c->addr, (unsigned)c->port);
			f->connect_host[i] = h;
			f->connect_to[i] = t;
			f->nconnect++;
		}
	}
	err = MOX_OK;
out:
	if (err != MOX_OK) {
		mox_mtasts_fetcher_free(f);
		return err;
	}
	*out = f;
	return MOX_OK;
}

void
mox_mtasts_fetch_result_clear(mox_mtasts_fetch_result *r)
{
	if (r == NULL)
		return;
	mox_mtasts_policy_free(r->policy);
	mox_mem_free(r->alloc, r->text);
	memset(r, 0, sizeof(*r));
}

typedef enum { STOP_NONE, STOP_STATUS, STOP_CTYPE, STOP_SIZE, STOP_NOMEM } stop_reason;

typedef struct wstate {
	CURL *curl;
	mox_buf body;
	size_t max;
	bool checked;
	stop_reason stop;
	char ctype[128];
	char location[256]; /* of a redirect, for the message */
} wstate;

/* Whether a Content-Type value is text/plain (RFC 8461 section 3.2:
 * parameters are ignored), case-insensitive, white space allowed. */
static bool
is_text_plain(const char *ct)
{
	static const char want[] = "text/plain";
	while (*ct == ' ' || *ct == '\t')
		ct++;
	for (size_t i = 0; i < sizeof(want) - 1; i++)
		if (mox__mtasts_lower(ct[i]) != want[i])
			return false;
	ct += sizeof(want) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Checks done once, when the first body bytes arrive. */
static stop_reason
check_response(wstate *w)
{
	long code = 0;
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return STOP_STATUS;
	char *ct = NULL;
	curl_easy_getinfo(w->curl, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(w->ctype, sizeof(w->ctype), "%s", ct != NULL ? ct : "");
	if (ct == NULL || !is_text_plain(ct))
		return STOP_CTYPE;
	return STOP_NONE;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	wstate *w = arg;
	size_t n = size * nmemb;
	if (!w->checked) {
		w->checked = true;
		if ((w->stop = check_response(w)) != STOP_NONE)
			return 0;
	}
	if (n > w->max - w->body.len) {
		w->stop = STOP_SIZE;
		return 0;
	}
	if (mox_buf_append(&w->body, data, n) != MOX_OK) {
		w->stop = STOP_NOMEM;
		return 0;
	}
	return n;
}

/* Keep the Location header of a redirect (curl fills CURLINFO_REDIRECT_URL
 * only for completed transfers, and we stop redirects early). */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	wstate *w = arg;
	size_t n = size * nmemb;
	static const char loc[] = "location:";
	if (n <= sizeof(loc) - 1)
		return n;
	for (size_t i = 0; i < sizeof(loc) - 1; i++)
		if (mox__mtasts_lower(data[i]) != loc[i])
			return n;
	size_t s = sizeof(loc) - 1, e = n;
	while (s < e && (data[s] == ' ' || data[s] == '\t'))
		s++;
	while (e > s &&
	       (data[e - 1] == '\r' || data[e - 1] == '\n' || data[e - 1] == ' '))
		e--;
	snprintf(w->location, sizeof(w->location), "%.*s", (int)(e - s), data + s);
	return n;
}

static mox_err fail(mox_mtasts_fetch_result *r, mox_mtasts_fetch_status st,
                    mox_mtasts_fetch_problem p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static mox_err
fail(mox_mtasts_fetch_result *r, mox_mtasts_fetch_status st, mox_mtasts_fetch_problem p,
     const char *fmt, ...)
{
	r->status = st;
	r->problem = p;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return MOX_OK;
}

/* Look up the policy host's addresses through the resolver and make the
 * CURLOPT_RESOLVE entry "host:443:addr,addr". Returns MOX_OK with *entry
 * set, or MOX_OK with the result's status set when there are none. */
static mox_err
resolve_host(const mox_mtasts_fetcher *f, const char *host, mox_mtasts_fetch_result *r,
             mox_buf *entry)
{
	mox_dns_answer *ans[2] = {NULL, NULL};
	const mox_dns_type types[2] = {MOX_DNS_A, MOX_DNS_AAAA};
	mox_err err = MOX_OK;
	for (int t = 0; t < 2 && err == MOX_OK; t++)
		err = mox_dns_lookup(f->resolver, host, types[t], &ans[t]);
	if (err != MOX_OK)
		goto out;
	if (ans[0]->status == MOX_DNS_NXDOMAIN) {
		fail(r, MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
		     "policy host %s does not exist", host);
		goto out;
	}
	size_t naddr = 0;
	if ((err = mox_buf_appendf(entry, "%s:443:", host)) != MOX_OK)
		goto out;
	for (int t = 0; t < 2; t++) {
		for (size_t i = 0; ans[t]->status == MOX_DNS_FOUND && i < ans[t]->nrr;
		     i++) {
			const mox_dns_rr *rr = &ans[t]->rr[i];
			char ip[INET6_ADDRSTRLEN];
			if (rr->type == MOX_DNS_A)
				inet_ntop(AF_INET, rr->u.a, ip, sizeof(ip));
			else if (rr->type == MOX_DNS_AAAA)
				inet_ntop(AF_INET6, rr->u.aaaa, ip, sizeof(ip));
			else
				continue;
			err = mox_buf_appendf(
			    entry, rr->type == MOX_DNS_AAAA ? "%s[%s]" : "%s%s",
			    naddr > 0 ? "," : "", ip);
			if (err != MOX_OK)
				goto out;
			naddr++;
		}
	}
	if (naddr == 0) {
		bool temp = ans[0]->status == MOX_DNS_TEMPFAIL ||
		            ans[0]->status == MOX_DNS_PERMFAIL ||
		            ans[1]->status == MOX_DNS_TEMPFAIL ||
		            ans[1]->status == MOX_DNS_PERMFAIL;
		if (temp) {
			const mox_dns_answer *w = ans[0]->why != NULL ? ans[0] : ans[1];
			fail(r, MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_DNS,
			     "resolving policy host %s: %s", host,
			     w->why != NULL ? w->why : mox_dns_status_name(w->status));
		} else
			fail(r, MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
			     "policy host %s has no address", host);
	}
out:
	mox_dns_answer_free(ans[0]);
	mox_dns_answer_free(ans[1]);
	return err;
}

static mox_mtasts_fetch_problem
curl_problem(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return MOX_MTASTS_PROBLEM_DNS;
	case CURLE_OPERATION_TIMEDOUT:
		return MOX_MTASTS_PROBLEM_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return MOX_MTASTS_PROBLEM_CERTIFICATE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_USE_SSL_FAILED:
		return MOX_MTASTS_PROBLEM_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return MOX_MTASTS_PROBLEM_TOO_LARGE;
	default:
		return MOX_MTASTS_PROBLEM_CONNECT;
	}
}

mox_err
mox_mtasts_fetch(const mox_mtasts_fetcher *f, const char *domain,
                 mox_mtasts_fetch_result *r)
{
	if (r == NULL)
		return MOX_EINVAL;
	memset(r, 0, sizeof(*r));
	if (f == NULL || domain == NULL)
		return MOX_EINVAL;
	r->alloc = f->alloc;
	char d[MOX_DNS_NAME_MAX + 1];
	if (!mox__mtasts_domain(domain, d, r->why, sizeof(r->why))) {
		r->status = MOX_MTASTS_FETCH_NOPOLICY;
		r->problem = MOX_MTASTS_PROBLEM_NOT_FOUND;
		return MOX_OK;
	}
	char host[MOX_DNS_NAME_MAX + 16], url[MOX_DNS_NAME_MAX + 64];
	snprintf(host, sizeof(host), "mta-sts.%s", d);
	if (strlen(host) > MOX_DNS_NAME_MAX)
		return fail(r, MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
		            "policy host name for %s is too long", d);
	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);

	mox_err err = MOX_OK;
	CURL *curl = NULL;
	struct curl_slist *resolve = NULL, *connect = NULL;
	mox_buf entry;
	mox_buf_init(&entry, f->alloc);
	wstate w = {0};
	mox_buf_init(&w.body, f->alloc);
	w.max = f->max_size;

	bool overridden = false;
	for (size_t i = 0; i < f->nconnect; i++) {
		if (strcmp(f->connect_host[i], host) != 0)
			continue;
		overridden = true;
		struct curl_slist *n = curl_slist_append(connect, f->connect_to[i]);
		if (n == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
		connect = n;
	}
	if (f->resolver != NULL && !overridden) {
		if ((err = resolve_host(f, host, r, &entry)) != MOX_OK ||
		    r->why[0] != '\0')
			goto out;
		struct curl_slist *n =
		    curl_slist_append(NULL, (const char *)entry.data);
		if (n == NULL) {
			err = MOX_ENOMEM;
			goto out;
		}
		resolve = n;
	}

	if ((curl = curl_easy_init()) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	w.curl = curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode sc = CURLE_OK;
#define SET(opt, val)                                                                  \
	do {                                                                           \
		if (sc == CURLE_OK)                                                    \
			sc = curl_easy_setopt(curl, opt, val);                         \
	} while (0)
	SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	SET(CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	SET(CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	/* RFC 8461 section 3.3: HTTP 3xx redirects must not be followed. */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* RFC 8461 section 3.3: a certificate valid for the policy host
	 * (RFC 6125), chaining to a trusted root, not expired. */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (f->ca_file != NULL)
		SET(CURLOPT_CAINFO, f->ca_file);
	/* RFC 8461 section 3.3: a time and size limit on the fetch. */
	SET(CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)f->timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_size);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_USERAGENT, f->user_agent);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, &w);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, &w);
	if (f->proxy != NULL)
		SET(CURLOPT_PROXY, f->proxy);
	if (connect != NULL)
		SET(CURLOPT_CONNECT_TO, connect);
	if (resolve != NULL)
		SET(CURLOPT_RESOLVE, resolve);
#undef SET
	if (sc != CURLE_OK) {
		err = sc == CURLE_OUT_OF_MEMORY ? MOX_ENOMEM : MOX_EINVAL;
		goto out;
	}

	CURLcode rc = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	r->http_status = code;
	if (w.stop == STOP_NOMEM || rc == CURLE_OUT_OF_MEMORY) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (w.stop == STOP_SIZE || rc == CURLE_FILESIZE_EXCEEDED) {
		fail(r, MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_TOO_LARGE,
		     "policy at %s is larger than %zu bytes, refused", url,
		     f->max_size);
		goto out;
	}
	if (rc != CURLE_OK && w.stop == STOP_NONE) {
		mox_mtasts_fetch_problem p = curl_problem(rc);
		if (p == MOX_MTASTS_PROBLEM_TIMEOUT)
			fail(r, MOX_MTASTS_FETCH_ERROR, p,
			     "fetching %s: timed out after %u ms", url, f->timeout_ms);
		else
			fail(r, MOX_MTASTS_FETCH_ERROR, p, "fetching %s: %s", url,
			     errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	/* A response came: its status decides first. */
	if (code == 404) {
		fail(r, MOX_MTASTS_FETCH_NOPOLICY, MOX_MTASTS_PROBLEM_NOT_FOUND,
		     "no policy at %s (HTTP status 404)", url);
		goto out;
	}
	if (code >= 300 && code < 400) {
		fail(r, MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_REDIRECT,
		     "%s redirects (HTTP status %ld) to %.100s: redirects are refused "
		     "for "
		     "MTA-STS policies",
		     url, code, w.location[0] != '\0' ? w.location : "(no location)");
		goto out;
	}
	if (code != 200) {
		fail(r, MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_HTTP_STATUS,
		     "fetching %s: HTTP status %ld while 200 is required", url, code);
		goto out;
	}
	if (!w.checked) /* an empty body: no callback ran */
		w.stop = check_response(&w);
	if (w.stop == STOP_CTYPE) {
		fail(r, MOX_MTASTS_FETCH_ERROR, MOX_MTASTS_PROBLEM_CONTENT_TYPE,
		     "policy at %s served as '%s', not text/plain", url,
		     w.ctype[0] != '\0' ? w.ctype : "(no content-type)");
		goto out;
	}
	mox_errinfo info = {0};
	const char *text = w.body.data != NULL ? (const char *)w.body.data : "";
	err = mox_mtasts_policy_parse(text, w.body.len, f->alloc, &r->policy, &info);
	if (err == MOX_ENOMEM)
		goto out;
	r->text_len = w.body.len;
	if ((r->text = (char *)mox_buf_steal(&w.body, NULL)) == NULL) {
		err = MOX_ENOMEM;
		goto out;
	}
	if (err != MOX_OK) {
		err = MOX_OK;
		fail(r, MOX_MTASTS_FETCH_SYNTAX, MOX_MTASTS_PROBLEM_SYNTAX,
		     "policy at %s is invalid: %s", url, info.msg);
		goto out;
	}
	r->status = MOX_MTASTS_FETCH_OK;
out:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl_slist_free_all(resolve);
	curl_slist_free_all(connect);
	mox_buf_free(&entry);
	mox_buf_free(&w.body);
	if (err != MOX_OK) {
		mox_mtasts_fetch_result_clear(r);
		r->alloc = f->alloc;
	}
	return err;
}

void
mox_mtasts_get_result_clear(mox_mtasts_get_result *r)
{
	if (r == NULL)
		return;
	mox_mtasts_lookup_result_clear(&r->lookup);
	mox_mtasts_fetch_result_clear(&r->fetch);
}

mox_err
mox_mtasts_get(const mox_resolver *resolver, const mox_mtasts_fetcher *fetcher,
               const char *domain, mox_mtasts_get_result *r)
{
	if (r == NULL)
		return MOX_EINVAL;
	memset(r, 0, sizeof(*r));
	if (resolver == NULL || fetcher == NULL || domain == NULL)
		return MOX_EINVAL;
	mox_err err = mox_mtasts_lookup(resolver, domain, fetcher->alloc, &r->lookup);
	if (err == MOX_OK && r->lookup.status == MOX_MTASTS_LOOKUP_FOUND)
		err = mox_mtasts_fetch(fetcher, domain, &r->fetch);
	if (err != MOX_OK)
		mox_mtasts_get_result_clear(r);
	return err;
}
