/*
 * comp_wait.c: requests parked until something they need becomes known.
 *
 * component-svc learns of registries from slipway.registry.events, so a
 * component create that names a registry added a moment ago can arrive
 * before the RegistryCreated event. Such a request is parked here (its HTTP
 * reply deferred) under the registry id and offered again to the caller's
 * function: at once when the consumer stored a registry with that id
 * (comp_waits_notify), on a poll timer (another replica's consumer may have
 * written the shared table), and a last time at the deadline or at shutdown,
 * when the function must reply. Everything runs on the event loop, so a
 * park never races the consumer: the row is either already visible to the
 * caller's check or its arrival notifies the parked request.
 *
 * The module never touches the request itself: it only hands the pointer
 * back to the function, which is what makes it testable without a server.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "component.h"
#include "metrics.h"

#define COMP_WAIT_METRIC "slipway_component_registry_waits_total"
#define COMP_WAIT_GAUGE  "slipway_component_registry_waits_pending"

struct comp_wait {
	TAILQ_ENTRY(comp_wait) link;
	struct comp_waits *owner;
	struct event *timer;
	struct timespec deadline;          /* CLOCK_MONOTONIC */
	struct http_request *req;
	void *arg;                         /* malloc'd, freed when done */
	char key[COMP_WAIT_KEY_MAX + 1];
};

TAILQ_HEAD(comp_wait_list, comp_wait);

struct comp_waits {
	struct event_base *base;
	int wait_ms;
	int poll_ms;
	size_t max;
	size_t n;
	comp_wait_fn fn;
	void *ctx;
	struct comp_wait_list list;
};

static const char *const comp_wait_outcome[] = {
	[COMP_WAIT_POLL] = "outcome=\"resolved\"",
	[COMP_WAIT_NOTIFY] = "outcome=\"resolved\"",
	[COMP_WAIT_TIMEOUT] = "outcome=\"timeout\"",
	[COMP_WAIT_SHUTDOWN] = "outcome=\"shutdown\"",
};

struct comp_waits *
comp_waits_new(struct event_base *base, int wait_ms, int poll_ms, size_t max,
    comp_wait_fn fn, void *ctx)
{
	struct comp_waits *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->base = base;
	w->wait_ms = wait_ms > 0 ? wait_ms : 0;
	w->poll_ms = poll_ms > 0 ? poll_ms : 100;
	w->max = max;
	w->fn = fn;
	w->ctx = ctx;
	TAILQ_INIT(&w->list);
	return w;
}

size_t
comp_waits_count(const struct comp_waits *w)
{
	return w != NULL ? w->n : 0;
}

/* Milliseconds from now until ts (negative once it has passed). */
static long long
comp_wait_ms_until(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(ts->tv_sec - now.tv_sec) * 1000 +
	    (ts->tv_nsec - now.tv_nsec) / 1000000;
}

/* Unlinks and frees one wait; its request was answered by fn. */
static void
comp_wait_done(struct comp_wait *e, enum comp_wait_why why)
{
	struct comp_waits *w = e->owner;

	TAILQ_REMOVE(&w->list, e, link);
	w->n--;
	metrics_inc(COMP_WAIT_METRIC, comp_wait_outcome[why]);
	metrics_set(COMP_WAIT_GAUGE, NULL, (int64_t)w->n);
	event_free(e->timer);
	free(e->arg);
	free(e);
}

/* Offers the request to fn; for TIMEOUT and SHUTDOWN fn must reply. */
static int
comp_wait_offer(struct comp_wait *e, enum comp_wait_why why)
{
	struct comp_waits *w = e->owner;
	int final = why == COMP_WAIT_TIMEOUT || why == COMP_WAIT_SHUTDOWN;

	if (w->fn(w->ctx, e->req, e->arg, why) == 1 || final) {
		comp_wait_done(e, why);
		return 1;
	}
	return 0;
}

/* The next tick: a poll, or the deadline when that comes first. */
static void
comp_wait_schedule(struct comp_wait *e)
{
	long long left = comp_wait_ms_until(&e->deadline);
	struct timeval tv;

	if (left > e->owner->poll_ms)
		left = e->owner->poll_ms;
	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(e->timer, &tv);
}

static void
comp_wait_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct comp_wait *e = arg;
	enum comp_wait_why why;

	(void)fd;
	(void)what;
	why = comp_wait_ms_until(&e->deadline) <= 0 ? COMP_WAIT_TIMEOUT :
	    COMP_WAIT_POLL;
	if (comp_wait_offer(e, why) == 0)
		comp_wait_schedule(e);
}

int
comp_waits_park(struct comp_waits *w, const char *key,
    struct http_request *req, void *arg)
{
	struct comp_wait *e;

	if (w == NULL || w->wait_ms == 0 || w->n >= w->max || key == NULL ||
	    strlen(key) > COMP_WAIT_KEY_MAX || (e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	if ((e->timer = evtimer_new(w->base, comp_wait_on_timer, e)) == NULL) {
		free(e);
		return -1;
	}
	e->owner = w;
	e->req = req;
	e->arg = arg;
	strcpy(e->key, key);
	clock_gettime(CLOCK_MONOTONIC, &e->deadline);
	e->deadline.tv_sec += w->wait_ms / 1000;
	e->deadline.tv_nsec += (long)(w->wait_ms % 1000) * 1000000;
	if (e->deadline.tv_nsec >= 1000000000) {
		e->deadline.tv_sec++;
		e->deadline.tv_nsec -= 1000000000;
	}
	TAILQ_INSERT_TAIL(&w->list, e, link);
	w->n++;
	metrics_set(COMP_WAIT_GAUGE, NULL, (int64_t)w->n);
	comp_wait_schedule(e);
	return 0;
}

void
comp_waits_notify(struct comp_waits *w, const char *key)
{
	struct comp_wait *e, *next;

	if (w == NULL || key == NULL)
		return;
	for (e = TAILQ_FIRST(&w->list); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (strcmp(e->key, key) == 0)
			comp_wait_offer(e, COMP_WAIT_NOTIFY);
	}
}

void
comp_waits_free(struct comp_waits *w)
{
	struct comp_wait *e;

	if (w == NULL)
		return;
	while ((e = TAILQ_FIRST(&w->list)) != NULL)
		comp_wait_offer(e, COMP_WAIT_SHUTDOWN);
	free(w);
}
