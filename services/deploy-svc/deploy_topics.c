/*
 * deploy_topics.c: the answer to a data plane's registration waits a
 * little for its topics, without blocking the loop.
 *
 * The topics are created off the loop (lib bus_topics.h). An agent started
 * right after its registration reads them at once, so the answer is held
 * (a timer checks every DEPLOY_TOPICS_POLL_MS) until they exist, but never
 * longer than DEPLOY_TOPICS_WAIT_MS: the registration is committed already,
 * and with a slow broker the answer goes out without them (they follow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "deploy.h"
#include "clock.h"
#include "http.h"
#include "log.h"

#define DEPLOY_TOPICS_POLL_MS 50
#define DEPLOY_TOPICS_WAIT_MS 5000

/* A registration's answer, waiting for its topics. */
struct deploy_topics_wait {
	struct deploy_topics_wait *next;
	struct deploy *d;
	struct http_request *req;
	json_t *body;            /* the answer, owned */
	int status;
	char name[128];          /* the data plane */
	long long deadline_ms;
	struct event *timer;
};

/* 1 when every topic of the data plane exists. */
static int
deploy_topics_ready(struct deploy *d, const char *name)
{
	struct error err;

	error_clear(&err);
	return deploy_dataplanes_ensure_topics(d, name, &err) == 1;
}

static void
deploy_topics_unlink(struct deploy_topics_wait *w)
{
	struct deploy_topics_wait **pp;

	for (pp = &w->d->topic_waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

/* Sends the answer (the registration stands either way) and frees w. */
static void
deploy_topics_answer(struct deploy_topics_wait *w)
{
	deploy_topics_unlink(w);
	event_free(w->timer);
	http_reply_json(w->req, w->status, w->body);
	free(w);
}

static void
deploy_topics_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deploy_topics_wait *w = arg;
	struct timeval tv = { 0, DEPLOY_TOPICS_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (deploy_topics_ready(w->d, w->name)) {
		deploy_topics_answer(w);
		return;
	}
	if (clock_mono_ms() >= w->deadline_ms) {
		log_warnx("data plane %s: its topics are not there yet (the "
		    "broker is slow); answered without them, they follow", w->name);
		deploy_topics_answer(w);
		return;
	}
	evtimer_add(w->timer, &tv);
}

void
deploy_topics_reply(struct deploy *d, struct http_request *req, int status,
    json_t *body, const char *name)
{
	struct timeval tv = { 0, DEPLOY_TOPICS_POLL_MS * 1000 };
	struct deploy_topics_wait *w;

	if (deploy_topics_ready(d, name) ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		http_reply_json(req, status, body);
		return;
	}
	if ((w->timer = evtimer_new(d->base, deploy_topics_on_timer, w)) ==
	    NULL) {
		free(w);
		http_reply_json(req, status, body);
		return;
	}
	w->d = d;
	w->req = req;
	w->body = body;
	w->status = status;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->deadline_ms = clock_mono_ms() + DEPLOY_TOPICS_WAIT_MS;
	w->next = d->topic_waits;
	d->topic_waits = w;
	evtimer_add(w->timer, &tv);
}

void
deploy_topics_free(struct deploy *d)
{
	while (d->topic_waits != NULL)
		deploy_topics_answer(d->topic_waits);
}
