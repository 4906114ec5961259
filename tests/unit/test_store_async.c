/*
 * test_store_async.c: the non-blocking Postgres client (lib store_async.c)
 * where no Postgres is needed to see it behave: a refused port fails the
 * queued query and then refuses new ones at once (no attempt per query);
 * a server that accepts and never answers fails the query within its
 * bound, with the loop free all along; free answers what is pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <event2/event.h>

#include "clock.h"
#include "store_async.h"

struct answer {
	int calls;
	char code[64];
	long long at_ms;
};

static void
on_answer(const struct store_async_result *r, const struct error *err,
    void *arg)
{
	struct answer *a = arg;

	a->calls++;
	a->at_ms = clock_mono_ms();
	snprintf(a->code, sizeof(a->code), "%s", r == NULL ? err->code : "ok");
}

/* A listening socket on a free port; accept() is never called. */
static int
silent_listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port nobody listens on: bound, then closed again. */
static int
closed_port(void)
{
	int port, fd = silent_listener(&port);

	close(fd);
	return port;
}

static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static const char *const one[] = { "x" };

static void
test_refused_port(void **state)
{
	struct event_base *base = event_base_new();
	char conninfo[128];
	struct answer a = { 0 }, b = { 0 };
	struct store_async *sa;
	struct error err;

	(void)state;
	snprintf(conninfo, sizeof(conninfo),
	    "hostaddr=127.0.0.1 port=%d dbname=x user=x", closed_port());
	sa = store_async_new(base, &(struct store_async_config){
	    .conninfo = conninfo, .connect_timeout_ms = 500,
	    .query_timeout_ms = 500 }, &err);
	assert_non_null(sa);
	/* Refused at once: the first attempt fails inside store_async_new or
	 * on the first loop turn; either way the query never hangs. */
	if (store_async_query(sa, "SELECT $1", 1, one, on_answer, &a, &err) == 0) {
		run_for(base, 200);
		assert_int_equal(a.calls, 1);
		assert_string_equal(a.code, "unavailable");
	}
	assert_false(store_async_up(sa));
	/* Down: refused before returning, the callback never called. */
	assert_int_equal(store_async_query(sa, "SELECT $1", 1, one, on_answer,
	    &b, &err), -1);
	assert_string_equal(err.code, "unavailable");
	assert_int_equal(b.calls, 0);
	store_async_free(sa);
	event_base_free(base);
}

static void
test_silent_server(void **state)
{
	struct event_base *base = event_base_new();
	char conninfo[128];
	struct answer a = { 0 }, c = { 0 };
	struct store_async *sa;
	struct error err;
	long long t0;
	int port, fd = silent_listener(&port);

	(void)state;
	snprintf(conninfo, sizeof(conninfo),
	    "hostaddr=127.0.0.1 port=%d dbname=x user=x", port);
	sa = store_async_new(base, &(struct store_async_config){
	    .conninfo = conninfo, .connect_timeout_ms = 300,
	    .query_timeout_ms = 200 }, &err);
	assert_non_null(sa);
	t0 = clock_mono_ms();
	/* The first attempt may be waited for; the answer comes in bound. */
	assert_int_equal(store_async_query(sa, "SELECT $1", 1, one, on_answer,
	    &a, &err), 0);
	run_for(base, 600);
	assert_int_equal(a.calls, 1);
	assert_string_equal(a.code, "unavailable");
	assert_true(a.at_ms - t0 < 400);
	/* The attempt timed out: down now, refused at once. */
	assert_int_equal(store_async_query(sa, "SELECT $1", 1, one, on_answer,
	    &c, &err), -1);
	assert_int_equal(c.calls, 0);
	store_async_free(sa);
	event_base_free(base);
	close(fd);
}

static void
test_free_answers_pending(void **state)
{
	struct event_base *base = event_base_new();
	char conninfo[128];
	struct answer a = { 0 };
	struct store_async *sa;
	struct error err;
	int port, fd = silent_listener(&port);

	(void)state;
	snprintf(conninfo, sizeof(conninfo),
	    "hostaddr=127.0.0.1 port=%d dbname=x user=x", port);
	sa = store_async_new(base, &(struct store_async_config){
	    .conninfo = conninfo }, &err);
	assert_int_equal(store_async_query(sa, "SELECT $1", 1, one, on_answer,
	    &a, &err), 0);
	assert_int_equal(a.calls, 0);   /* never before returning */
	store_async_free(sa);
	assert_int_equal(a.calls, 1);
	assert_string_equal(a.code, "unavailable");
	event_base_free(base);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_port),
		cmocka_unit_test(test_silent_server),
		cmocka_unit_test(test_free_answers_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
