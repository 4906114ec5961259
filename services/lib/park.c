/*
 * park.c: requests parked until something they need becomes known.
 *
 * A service that learns of things from events (component-svc its
 * registries, deploy-svc its components) can get a request naming one a
 * moment before the event that announces it. Such a request is parked here
 * (its HTTP reply deferred) under that thing's id and offered again to the
 * owner's function: at once when the consumer stored it (park_notify), on a
 * poll timer (another replica's consumer may have written the shared table),
 * and a last time at the deadline or at shutdown, when the function must
 * reply. Everything runs on the event loop, so a park never races the
 * consumer: the row is either already visible to the caller's check or its
 * arrival notifies the parked request.
 *
 * The module never touches the request itself: it only hands the pointer
 * back to the function, which is what makes it testable without a server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "metrics.h"
#include "park.h"

struct park_entry {
	TAILQ_ENTRY(park_entry) link;
	struct park *owner;
	struct event *timer;
	struct timespec deadline;          /* CLOCK_MONOTONIC */
	struct http_request *req;
	void *arg;                         /* malloc'd, freed when done */
	char key[PARK_KEY_MAX + 1];
};

TAILQ_HEAD(park_list, park_entry);

struct park {
	struct event_base *base;
	int wait_ms;
	int poll_ms;
	size_t max;
	size_t n;
	park_fn fn;
	void *ctx;
	struct park_list list;
	char metric_total[PARK_PREFIX_MAX + 16];     /* <prefix>_waits_total */
	char metric_pending[PARK_PREFIX_MAX + 16];   /* <prefix>_waits_pending */
};

static const char *const park_outcome[] = {
	[PARK_POLL] = "outcome=\"resolved\"",
	[PARK_NOTIFY] = "outcome=\"resolved\"",
	[PARK_TIMEOUT] = "outcome=\"timeout\"",
	[PARK_SHUTDOWN] = "outcome=\"shutdown\"",
};

struct park *
park_new(struct event_base *base, const char *metric_prefix, int wait_ms,
    int poll_ms, size_t max, park_fn fn, void *ctx)
{
	struct park *p;

	if (metric_prefix == NULL || metric_prefix[0] == '\0' ||
	    strlen(metric_prefix) > PARK_PREFIX_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	p->wait_ms = wait_ms > 0 ? wait_ms : 0;
	p->poll_ms = poll_ms > 0 ? poll_ms : 100;
	p->max = max;
	p->fn = fn;
	p->ctx = ctx;
	TAILQ_INIT(&p->list);
	snprintf(p->metric_total, sizeof(p->metric_total), "%s_waits_total",
	    metric_prefix);
	snprintf(p->metric_pending, sizeof(p->metric_pending),
	    "%s_waits_pending", metric_prefix);
	return p;
}

size_t
park_count(const struct park *p)
{
	return p != NULL ? p->n : 0;
}

/* Milliseconds from now until ts (negative once it has passed). */
static long long
park_ms_until(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(ts->tv_sec - now.tv_sec) * 1000 +
	    (ts->tv_nsec - now.tv_nsec) / 1000000;
}

/* Unlinks and frees one wait; its request was answered by fn. */
static void
park_done(struct park_entry *e, enum park_why why)
{
	struct park *p = e->owner;

	TAILQ_REMOVE(&p->list, e, link);
	p->n--;
	metrics_inc(p->metric_total, park_outcome[why]);
	metrics_set(p->metric_pending, NULL, (int64_t)p->n);
	event_free(e->timer);
	free(e->arg);
	free(e);
}

/* Offers the request to fn; for TIMEOUT and SHUTDOWN fn must reply. */
static int
park_offer(struct park_entry *e, enum park_why why)
{
	struct park *p = e->owner;
	int final = why == PARK_TIMEOUT || why == PARK_SHUTDOWN;

	if (p->fn(p->ctx, e->req, e->arg, why) == 1 || final) {
		park_done(e, why);
		return 1;
	}
	return 0;
}

/* The next tick: a poll, or the deadline when that comes first. */
static void
park_schedule(struct park_entry *e)
{
	long long left = park_ms_until(&e->deadline);
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
park_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct park_entry *e = arg;
	enum park_why why;

	(void)fd;
	(void)what;
	why = park_ms_until(&e->deadline) <= 0 ? PARK_TIMEOUT : PARK_POLL;
	if (park_offer(e, why) == 0)
		park_schedule(e);
}

int
park_add(struct park *p, const char *key, struct http_request *req,
    void *arg)
{
	struct park_entry *e;

	if (p == NULL || p->wait_ms == 0 || p->n >= p->max || key == NULL ||
	    strlen(key) > PARK_KEY_MAX || (e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	if ((e->timer = evtimer_new(p->base, park_on_timer, e)) == NULL) {
		free(e);
		return -1;
	}
	e->owner = p;
	e->req = req;
	e->arg = arg;
	strcpy(e->key, key);
	clock_gettime(CLOCK_MONOTONIC, &e->deadline);
	e->deadline.tv_sec += p->wait_ms / 1000;
	e->deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000;
	if (e->deadline.tv_nsec >= 1000000000) {
		e->deadline.tv_sec++;
		e->deadline.tv_nsec -= 1000000000;
	}
	TAILQ_INSERT_TAIL(&p->list, e, link);
	p->n++;
	metrics_set(p->metric_pending, NULL, (int64_t)p->n);
	park_schedule(e);
	return 0;
}

void
park_notify(struct park *p, const char *key)
{
	struct park_entry *e, *next;

	if (p == NULL || key == NULL)
		return;
	for (e = TAILQ_FIRST(&p->list); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (strcmp(e->key, key) == 0)
			park_offer(e, PARK_NOTIFY);
	}
}

void
park_free(struct park *p)
{
	struct park_entry *e;

	if (p == NULL)
		return;
	while ((e = TAILQ_FIRST(&p->list)) != NULL)
		park_offer(e, PARK_SHUTDOWN);
	free(p);
}
