/*
 * test_curlev.c: curl transfers on a libevent loop (lib curlev.c), against
 * an evhttp server on the same loop (127.0.0.1, ephemeral port): transfers
 * run side by side and each done function runs once; curl's own timeout
 * fires through the timer curlev keeps (a server that never answers);
 * a removed transfer is never reported; a curlev freed from inside a done
 * function reports nothing more and leaves nothing behind (ASan/LSan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "curlev.h"

static struct event_base *base;
static struct evhttp *server;
static int port;

struct xfer {
	CURL *easy;
	int calls;
	CURLcode result;
	long code;
};

static struct curlev *cv;
static int done_total, done_want, free_in_done;

/* /fast answers at once, /slow after 300 ms, /hang never. */
static void
slow_reply(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_send_reply(arg, 200, "OK", NULL);
}

static void
serve(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct timeval tv = { 0, 300 * 1000 };

	(void)arg;
	if (strcmp(uri, "/fast") == 0)
		evhttp_send_reply(req, 200, "OK", NULL);
	else if (strcmp(uri, "/slow") == 0)
		event_base_once(base, -1, EV_TIMEOUT, slow_reply, req, &tv);
	else if (strcmp(uri, "/hang") != 0)
		evhttp_send_reply(req, 404, "Not Found", NULL);
}

static void
on_done(CURL *easy, CURLcode result, void *arg)
{
	struct xfer *x = arg;

	assert_ptr_equal(easy, x->easy);
	x->calls++;
	x->result = result;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->code);
	done_total++;
	if (free_in_done) {
		curlev_free(cv);
		cv = NULL;
	}
	if (done_total == done_want)
		event_base_loopbreak(base);
}

static void
start(struct xfer *x, const char *path, long timeout_ms)
{
	char url[128];

	memset(x, 0, sizeof(*x));
	x->easy = curl_easy_init();
	assert_non_null(x->easy);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	assert_int_equal(curlev_add(cv, x->easy, on_done, x), 0);
}

static void
give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Runs the loop until done_want done calls, or at most ms. */
static void
run_for(int want, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *limit = evtimer_new(base, give_up, NULL);

	assert_non_null(limit);
	done_total = 0;
	done_want = want;
	evtimer_add(limit, &tv);
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	event_free(limit);
}

static void
test_side_by_side(void **state)
{
	struct xfer x[3];

	(void)state;
	cv = curlev_new(base);
	start(&x[0], "/slow", 5000);
	start(&x[1], "/fast", 5000);
	start(&x[2], "/nope", 5000);
	run_for(3, 5000);
	assert_int_equal(done_total, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(x[i].calls, 1);
		assert_int_equal(x[i].result, CURLE_OK);
		curl_easy_cleanup(x[i].easy);
	}
	assert_int_equal(x[0].code, 200);
	assert_int_equal(x[1].code, 200);
	assert_int_equal(x[2].code, 404);
	curlev_free(cv);
}

/* Nothing to read for curl: only its timer can end the transfer. */
static void
test_timeout(void **state)
{
	struct xfer x;

	(void)state;
	cv = curlev_new(base);
	start(&x, "/hang", 200);
	run_for(1, 5000);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.result, CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(x.easy);
	curlev_free(cv);
}

static void
test_removed_never_reported(void **state)
{
	struct xfer x, y;

	(void)state;
	cv = curlev_new(base);
	start(&x, "/slow", 5000);
	start(&y, "/fast", 5000);
	curlev_remove(cv, x.easy);
	curlev_remove(cv, x.easy);   /* twice is harmless */
	run_for(1, 5000);
	assert_int_equal(y.calls, 1);
	run_for(1, 600);             /* /slow would have answered by now */
	assert_int_equal(x.calls, 0);
	curl_easy_cleanup(x.easy);
	curl_easy_cleanup(y.easy);
	curlev_free(cv);
}

/* The first done frees everything: the running transfer is dropped. */
static void
test_free_inside_done(void **state)
{
	struct xfer x, y;

	(void)state;
	cv = curlev_new(base);
	start(&x, "/slow", 5000);
	start(&y, "/fast", 5000);
	free_in_done = 1;
	run_for(1, 5000);
	free_in_done = 0;
	assert_null(cv);
	assert_int_equal(y.calls, 1);
	run_for(1, 600);
	assert_int_equal(x.calls, 0);
	curl_easy_cleanup(x.easy);
	curl_easy_cleanup(y.easy);
}

static int
setup(void **state)
{
	struct evhttp_bound_socket *sock;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	base = event_base_new();
	server = evhttp_new(base);
	assert_non_null(server);
	evhttp_set_gencb(server, serve, NULL);
	sock = evhttp_bind_socket_with_handle(server, "127.0.0.1", 0);
	assert_non_null(sock);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(sock),
	    (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	evhttp_free(server);
	event_base_free(base);
	curl_global_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_side_by_side),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_removed_never_reported),
		cmocka_unit_test(test_free_inside_done),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
