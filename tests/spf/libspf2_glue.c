/* See libspf2_glue.h. */
#define _GNU_SOURCE
#include "libspf2_glue.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <spf2/spf.h>

static atomic_uint ns_port;

void
mox_test_libspf2_set_port(uint16_t port)
{
	atomic_store(&ns_port, port);
}

/* Our definition of glibc's __res_ninit; libspf2's reference binds here
 * (executable symbols come first), and we call glibc's by RTLD_NEXT. */
__attribute__((visibility("default"))) int __res_ninit(res_state statp);

int
__res_ninit(res_state statp)
{
	typedef int (*real_t)(res_state);
	real_t real = (real_t)dlsym(RTLD_NEXT, "__res_ninit");
	if (real == NULL)
		return -1;
	int rc = real(statp);
	/* Always loopback: before a port is set, a dead one (discard), so
	 * libspf2 never asks the machine's own resolver. */
	unsigned port = atomic_load(&ns_port);
	if (port == 0)
		port = 9;
	if (rc == 0) {
		statp->nscount = 1;
		memset(&statp->nsaddr_list[0], 0, sizeof(statp->nsaddr_list[0]));
		statp->nsaddr_list[0].sin_family = AF_INET;
		statp->nsaddr_list[0].sin_port = htons((uint16_t)port);
		statp->nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		statp->retrans = 2;
		statp->retry = 2;
	}
	return rc;
}

void *
mox_test_libspf2_new(bool cache)
{
	return SPF_server_new(cache ? SPF_DNS_CACHE : SPF_DNS_RESOLV, 0);
}

void
mox_test_libspf2_free(void *server)
{
	if (server != NULL)
		SPF_server_free(server);
}

const char *
mox_test_libspf2_check(void *server, const char *ip, const char *mailfrom,
		       const char *helo)
{
	SPF_request_t *req = SPF_request_new(server);
	if (req == NULL)
		return "(nomem)";
	const char *res = "(bad request)";
	SPF_response_t *resp = NULL;
	SPF_errcode_t e = strchr(ip, ':') != NULL ? SPF_request_set_ipv6_str(req, ip)
						   : SPF_request_set_ipv4_str(req, ip);
	if (e == SPF_E_SUCCESS && helo != NULL)
		e = SPF_request_set_helo_dom(req, helo);
	if (e == SPF_E_SUCCESS && SPF_request_set_env_from(req, mailfrom) != 0)
		e = SPF_E_INVALID_OPT;
	if (e == SPF_E_SUCCESS) {
		SPF_request_query_mailfrom(req, &resp);
		res = resp != NULL ? SPF_strresult(SPF_response_result(resp)) : "(noresp)";
	}
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return res;
}
