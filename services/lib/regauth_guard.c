/*
 * regauth_guard.c: SLIPWAY_ALLOW_PRIVATE_TARGETS applied to a libcurl easy
 * handle (regauth.h). The check runs in CURLOPT_OPENSOCKETFUNCTION, which
 * libcurl calls after name resolution with the exact address it is about to
 * connect to: the address checked is the address used, so a name that
 * resolves differently a moment later (DNS rebinding) gains nothing. With
 * several addresses (IPv4 and IPv6), each one is checked as libcurl tries it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "regauth.h"

static curl_socket_t
regauth_guard_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct regauth_guard *g = arg;
	socklen_t len = (socklen_t)a->addrlen;
	enum regauth_addr_class cls = REGAUTH_ADDR_INVALID;

	/* IPCXN is every outgoing connection; ACCEPT is FTP's, never ours. */
	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !regauth_policy_allows(g->policy, &a->addr, len, &cls)) {
		g->refused = 1;
		g->cls = cls;
		regauth_addr_text(&a->addr, len, g->addr, sizeof(g->addr));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int
regauth_guard_attach(void *easy, struct regauth_guard *g,
    const struct regauth_policy *policy, const char *what, ...)
{
	CURL *h = easy;
	va_list ap;

	memset(g, 0, sizeof(*g));
	g->policy = policy;
	va_start(ap, what);
	vsnprintf(g->what, sizeof(g->what), what, ap);
	va_end(ap);
	if (curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
	    regauth_guard_open) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK)
		return -1;
	return 0;
}

int
regauth_guard_refused(const struct regauth_guard *g, int curl_code,
    char *out, size_t len)
{
	/*
	 * libcurl reports a refused socket as "could not connect"; any other
	 * failure (a timeout on an address that was allowed) is its own.
	 */
	if (!g->refused || curl_code != CURLE_COULDNT_CONNECT)
		return 0;
	regauth_refusal(g->what, g->addr, g->cls, out, len);
	return 1;
}

int
regauth_guard_redirect(void *easy, long status, char *out, size_t len)
{
	char *location = NULL, *at;

	if (status < 300 || status > 399)
		return 0;
	if (len > 0)
		out[0] = '\0';
	/* The URL libcurl would have followed; only its host is shown. */
	if (curl_easy_getinfo((CURL *)easy, CURLINFO_REDIRECT_URL, &location) !=
	    CURLE_OK || location == NULL ||
	    regauth_url_host(location, out, len) == -1) {
		if (len > 0)
			out[0] = '\0';
		return 1;
	}
	/* Never a user:password@ the registry put in the Location. */
	if ((at = strrchr(out, '@')) != NULL)
		memmove(out, at + 1, strlen(at + 1) + 1);
	return 1;
}
