/*
 * test_regauth_guard.c: the address policy on a real libcurl handle
 * (services/lib/regauth_guard.c). Only loopback is ever involved: a refused
 * address is refused before its socket exists (the listener below sees no
 * connection), names are pinned to 127.0.0.1 or ::1 with CURLOPT_RESOLVE so
 * no DNS query leaves the host, and the one answer that is let through comes
 * from a listener on 127.0.0.1 (ARCHITECTURE.md §9).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "regauth.h"

/* A listener on 127.0.0.1 that answers each connection with a redirect. */
struct listener {
	int fd;
	int port;
	int answered;
	pthread_t thread;
};

static const char redirect_answer[] = "HTTP/1.1 302 Found\r\n"
    "Location: http://user:secret@127.0.0.2:1/elsewhere\r\n"
    "Content-Length: 0\r\nConnection: close\r\n\r\n";

static void
listener_open(struct listener *l)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	memset(l, 0, sizeof(*l));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l->fd, 4), 0);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&a, &len), 0);
	l->port = ntohs(a.sin_port);
}

/* 1 when a connection is waiting on the listener (it is taken). */
static int
listener_was_reached(struct listener *l)
{
	int fd, flags = fcntl(l->fd, F_GETFL);

	fcntl(l->fd, F_SETFL, flags | O_NONBLOCK);
	fd = accept(l->fd, NULL, NULL);
	fcntl(l->fd, F_SETFL, flags);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static void *
listener_serve_one(void *arg)
{
	struct listener *l = arg;
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	int fd = accept(l->fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (got < sizeof(buf) - 1 &&
	    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	if (write(fd, redirect_answer, sizeof(redirect_answer) - 1) < 0)
		perror("write");
	l->answered++;
	close(fd);
	return NULL;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* A handle for url with the guard attached under the policy text. */
static CURL *
guarded(const char *url, const char *policy_text, struct regauth_policy *p,
    struct regauth_guard *g, struct curl_slist *resolve)
{
	struct error err;
	char host[96];
	CURL *h = curl_easy_init();

	assert_non_null(h);
	assert_int_equal(regauth_url_host(url, host, sizeof(host)), 0);
	assert_int_equal(regauth_policy_parse(policy_text, p, &err), 0);
	assert_int_equal(regauth_guard_attach(h, g, p, "registry host %s", host),
	    0);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (resolve != NULL)
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	return h;
}

static void
test_refused_before_connecting(void **state)
{
	struct listener l;
	struct regauth_policy p;
	struct regauth_guard g;
	char url[64], why[512], want[512];
	CURLcode rc;
	CURL *h;

	(void)state;
	listener_open(&l);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/", l.port);
	h = guarded(url, "", &p, &g, NULL);
	rc = curl_easy_perform(h);
	assert_int_equal(rc, CURLE_COULDNT_CONNECT);
	assert_int_equal(regauth_guard_refused(&g, rc, why, sizeof(why)), 1);
	snprintf(want, sizeof(want), "registry host 127.0.0.1:%d resolves "
	    "to 127.0.0.1, a loopback address; set SLIPWAY_ALLOW_PRIVATE_TARGETS="
	    "loopback to allow it", l.port);
	assert_string_equal(why, want);
	assert_false(listener_was_reached(&l));
	/* Another failure is not called a refusal. */
	assert_int_equal(regauth_guard_refused(&g, CURLE_OPERATION_TIMEDOUT, why,
	    sizeof(why)), 0);
	curl_easy_cleanup(h);
	close(l.fd);
}

/* A name is judged by what it resolves to, IPv4 and IPv6 alike. */
static void
test_names_judged_after_resolution(void **state)
{
	static const struct {
		const char *name, *pinned, *addr;
	} cases[] = {
		{ "registry.test", "127.0.0.1", "127.0.0.1" },
		{ "v6.registry.test", "[::1]", "::1" },
	};
	struct listener l;
	struct regauth_policy p;
	struct regauth_guard g;
	struct curl_slist *resolve;
	char pin[96], url[96], why[512];
	CURLcode rc;
	CURL *h;

	(void)state;
	listener_open(&l);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(pin, sizeof(pin), "%s:%d:%s", cases[i].name, l.port,
		    cases[i].pinned);
		snprintf(url, sizeof(url), "http://%s:%d/v2/", cases[i].name,
		    l.port);
		resolve = curl_slist_append(NULL, pin);
		h = guarded(url, "private,link-local,10.0.0.0/8", &p, &g, resolve);
		rc = curl_easy_perform(h);
		assert_int_equal(regauth_guard_refused(&g, rc, why, sizeof(why)), 1);
		assert_string_equal(g.addr, cases[i].addr);
		assert_int_equal(g.cls, REGAUTH_ADDR_LOOPBACK);
		assert_non_null(strstr(why, "a loopback address"));
		curl_easy_cleanup(h);
		curl_slist_free_all(resolve);
	}
	assert_false(listener_was_reached(&l));
	close(l.fd);
}

/*
 * Allowed: the request goes out (with no environment proxy), and its 302
 * is reported, never followed; the Location's user:password is not shown.
 */
static void
test_redirect_not_followed(void **state)
{
	struct listener l;
	struct regauth_policy p;
	struct regauth_guard g;
	char url[64], where[256], *effective = NULL;
	long status = 0, redirects = -1;
	CURL *h;

	(void)state;
	listener_open(&l);
	setenv("http_proxy", "http://127.0.0.3:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.3:9", 1);
	assert_int_equal(pthread_create(&l.thread, NULL, listener_serve_one, &l),
	    0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/", l.port);
	h = guarded(url, "loopback", &p, &g, NULL);
	curl_easy_setopt(h, CURLOPT_USERNAME, "user");
	curl_easy_setopt(h, CURLOPT_PASSWORD, "password");
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	pthread_join(l.thread, NULL);
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
	assert_int_equal(l.answered, 1);
	assert_false(g.refused);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects);
	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
	assert_int_equal(status, 302);
	assert_int_equal(redirects, 0);
	assert_string_equal(effective, url);
	assert_int_equal(regauth_guard_redirect(h, status, where, sizeof(where)),
	    1);
	assert_string_equal(where, "127.0.0.2:1");
	assert_int_equal(regauth_guard_redirect(h, 200, where, sizeof(where)), 0);
	assert_int_equal(regauth_guard_redirect(h, 401, where, sizeof(where)), 0);
	curl_easy_cleanup(h);
	close(l.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_before_connecting),
		cmocka_unit_test(test_names_judged_after_resolution),
		cmocka_unit_test(test_redirect_not_followed),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
