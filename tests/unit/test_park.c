/*
 * test_park.c: the list of parked requests (lib park.c) on a real libevent
 * loop: refusals, poll until resolved, the deadline, notification by key,
 * the answers at shutdown, and the metrics named after the owner's prefix.
 * The module never looks inside a request, so tagged dummy pointers stand in
 * for them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include "metrics.h"
#include "park.h"

#define KEY_A "7f0c4b1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"
#define PFX   "slipway_test_things"
#define KEY_B "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

/* What a parked request does when offered: resolve after this many polls. */
struct wait_arg {
	int resolve_after_polls;   /* 0: never by poll */
	int resolve_on_notify;
	int polls;
};

struct calls {
	int by_why[PARK_SHUTDOWN + 1];
	int replied;
};

static char req_tag[4];   /* fake requests: &req_tag[i] */

static struct http_request *
fake_req(int i)
{
	return (struct http_request *)(void *)&req_tag[i];
}

static int
fake_fn(void *ctx, struct http_request *req, void *arg, enum park_why why)
{
	struct calls *c = ctx;
	struct wait_arg *a = arg;
	int reply;

	(void)req;
	c->by_why[why]++;
	if (why == PARK_POLL)
		a->polls++;
	reply = why == PARK_TIMEOUT || why == PARK_SHUTDOWN ||
	    (why == PARK_NOTIFY && a->resolve_on_notify) ||
	    (why == PARK_POLL && a->resolve_after_polls > 0 &&
	    a->polls >= a->resolve_after_polls);
	c->replied += reply;
	return reply;
}

static struct wait_arg *
new_arg(int polls, int on_notify)
{
	struct wait_arg *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	a->resolve_after_polls = polls;
	a->resolve_on_notify = on_notify;
	return a;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_refusals(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	struct park *off, *w;
	struct wait_arg *a = new_arg(0, 0);
	char longkey[PARK_KEY_MAX + 2];

	(void)state;
	off = park_new(base, PFX, 0, 10, 8, fake_fn, &c);
	assert_int_equal(park_add(off, KEY_A, fake_req(0), a), -1);
	assert_int_equal(park_add(NULL, KEY_A, fake_req(0), a), -1);
	w = park_new(base, PFX, 1000, 10, 1, fake_fn, &c);
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(park_add(w, longkey, fake_req(0), a), -1);
	assert_int_equal(park_add(w, KEY_A, fake_req(0), a), 0);
	/* Full: the caller keeps its request and argument. */
	assert_int_equal(park_add(w, KEY_B, fake_req(1), NULL), -1);
	assert_int_equal(park_count(w), 1);
	park_free(w);
	assert_int_equal(c.by_why[PARK_SHUTDOWN], 1);
	assert_int_equal(c.replied, 1);
	park_free(off);
	park_notify(NULL, KEY_A);
	assert_int_equal(park_count(NULL), 0);
	event_base_free(base);
}

static void
test_poll_until_resolved(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	struct park *w = park_new(base, PFX, 2000, 20, 8, fake_fn, &c);
	long long t0 = now_ms();

	(void)state;
	assert_int_equal(park_add(w, KEY_A, fake_req(0), new_arg(3, 0)), 0);
	/* The loop ends when no timer is left, i.e. when the wait ended. */
	event_base_dispatch(base);
	assert_int_equal(c.by_why[PARK_POLL], 3);
	assert_int_equal(c.by_why[PARK_TIMEOUT], 0);
	assert_int_equal(c.replied, 1);
	assert_int_equal(park_count(w), 0);
	assert_true(now_ms() - t0 >= 55);
	assert_true(now_ms() - t0 < 1000);
	park_free(w);
	assert_int_equal(c.by_why[PARK_SHUTDOWN], 0);
	event_base_free(base);
}

static void
test_deadline(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	struct park *w = park_new(base, PFX, 250, 100, 8, fake_fn, &c);
	long long t0 = now_ms(), took;

	(void)state;
	assert_int_equal(park_add(w, KEY_A, fake_req(0), new_arg(0, 0)), 0);
	event_base_dispatch(base);
	took = now_ms() - t0;
	/* Polls at 100 and 200 ms, then the deadline itself, not a late poll. */
	assert_int_equal(c.by_why[PARK_POLL], 2);
	assert_int_equal(c.by_why[PARK_TIMEOUT], 1);
	assert_int_equal(c.replied, 1);
	assert_true(took >= 245);
	assert_true(took < 600);
	park_free(w);
	event_base_free(base);
}

static void
test_notify_and_shutdown(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	struct park *w = park_new(base, PFX, 5000, 1000, 8, fake_fn, &c);

	(void)state;
	assert_int_equal(park_add(w, KEY_A, fake_req(0), new_arg(0, 1)), 0);
	assert_int_equal(park_add(w, KEY_B, fake_req(1), new_arg(0, 1)), 0);
	assert_int_equal(park_add(w, KEY_A, fake_req(2), new_arg(0, 1)), 0);
	assert_int_equal(park_add(w, KEY_A, fake_req(3), new_arg(0, 0)), 0);
	park_notify(w, "no-such-key");
	assert_int_equal(c.by_why[PARK_NOTIFY], 0);
	/* Both resolvable A waits end; the third keeps waiting. */
	park_notify(w, KEY_A);
	assert_int_equal(c.by_why[PARK_NOTIFY], 3);
	assert_int_equal(c.replied, 2);
	assert_int_equal(park_count(w), 2);
	/* Shutdown answers the rest at once, no loop needed. */
	park_free(w);
	assert_int_equal(c.by_why[PARK_SHUTDOWN], 2);
	assert_int_equal(c.replied, 4);
	/* Their timers are gone with them: the loop has nothing left to run. */
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
}

static void
test_prefix_refusals(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	char longpfx[PARK_PREFIX_MAX + 2];

	(void)state;
	memset(longpfx, 'p', sizeof(longpfx) - 1);
	longpfx[sizeof(longpfx) - 1] = '\0';
	assert_null(park_new(base, NULL, 1000, 10, 8, fake_fn, &c));
	assert_null(park_new(base, "", 1000, 10, 8, fake_fn, &c));
	assert_null(park_new(base, longpfx, 1000, 10, 8, fake_fn, &c));
	event_base_free(base);
}

/* 1 when the rendered metrics contain the line. */
static int
metrics_have(const char *line)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *text;
	int found;

	assert_non_null(out);
	metrics_render(out);
	len = evbuffer_get_length(out);
	text = calloc(1, len + 1);
	assert_non_null(text);
	evbuffer_remove(out, text, len);
	found = strstr(text, line) != NULL;
	free(text);
	evbuffer_free(out);
	return found;
}

/* Two owners with their own prefixes keep their own series. */
static void
test_metrics_per_prefix(void **state)
{
	struct event_base *base = event_base_new();
	struct calls c = { { 0 }, 0 };
	struct park *a = park_new(base, "slipway_test_a", 5000, 1000, 8, fake_fn,
	    &c);
	struct park *b = park_new(base, "slipway_test_b", 5000, 1000, 8, fake_fn,
	    &c);

	(void)state;
	assert_int_equal(park_add(a, KEY_A, fake_req(0), new_arg(0, 1)), 0);
	assert_int_equal(park_add(b, KEY_A, fake_req(1), new_arg(0, 0)), 0);
	assert_int_equal(park_add(b, KEY_B, fake_req(2), new_arg(0, 0)), 0);
	assert_true(metrics_have("slipway_test_a_waits_pending 1\n"));
	assert_true(metrics_have("slipway_test_b_waits_pending 2\n"));
	park_notify(a, KEY_A);
	assert_true(metrics_have(
	    "slipway_test_a_waits_total{outcome=\"resolved\"} 1\n"));
	assert_true(metrics_have("slipway_test_a_waits_pending 0\n"));
	assert_false(metrics_have("slipway_test_b_waits_total"));
	park_free(b);
	assert_true(metrics_have(
	    "slipway_test_b_waits_total{outcome=\"shutdown\"} 2\n"));
	assert_true(metrics_have("slipway_test_b_waits_pending 0\n"));
	park_free(a);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_poll_until_resolved),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_notify_and_shutdown),
		cmocka_unit_test(test_prefix_refusals),
		cmocka_unit_test(test_metrics_per_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
