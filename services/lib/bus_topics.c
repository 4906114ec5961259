/*
 * bus_topics.c: topic creation on worker threads, results on the loop.
 *
 * Each attempt is a job: a detached thread runs bus_topic_ensure on copies
 * of everything it needs, then sends the job's pointer back over a
 * datagram socket pair whose other end is an event on the loop. The
 * channel is shared with the workers under a mutex and a reference count,
 * so bus_topics_free never waits for a thread: a job that finishes after
 * the channel was closed frees itself.
 *
 * A set of topics moves RUNNING -> READY, or RUNNING -> FAILED -> (timer)
 * RUNNING; READY is final.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "bus.h"
#include "bus_topics.h"
#include "log.h"

#define BUS_TOPICS_MAX          8
#define BUS_TOPICS_BACKOFF_MIN  1000
#define BUS_TOPICS_BACKOFF_MAX  30000

enum bus_topics_state { BUS_TOPICS_RUNNING, BUS_TOPICS_READY, BUS_TOPICS_FAILED };

/* The loop's end and the workers' end, alive while anyone holds a ref. */
struct bus_topics_chan {
	pthread_mutex_t mu;
	int fds[2];     /* [0] the loop reads, [1] workers send */
	int refs;
	int closed;
};

struct bus_topics_set {
	struct bus_topics_set *next;
	struct bus_topics *bt;
	char *names[BUS_TOPICS_MAX + 1];
	int partitions;
	int compacted;
	int timeout_ms;
	int backoff_ms;
	enum bus_topics_state state;
	struct error last;      /* the last failure, code "" when none */
	struct event *retry;
};

/* One attempt; the worker owns it until it is sent back. */
struct bus_topics_job {
	struct bus_topics_set *set;   /* read on the loop only */
	struct bus_topics_chan *chan;
	char *brokers;
	char *names[BUS_TOPICS_MAX + 1];
	int partitions, compacted, timeout_ms;
	int rc;
	struct error err;
};

struct bus_topics {
	struct event_base *base;
	char *brokers;
	struct bus_topics_chan *chan;
	struct event *io;
	struct bus_topics_set *sets;
};

static void
bus_topics_chan_unref(struct bus_topics_chan *ch)
{
	int last;

	pthread_mutex_lock(&ch->mu);
	last = --ch->refs == 0;
	pthread_mutex_unlock(&ch->mu);
	if (!last)
		return;
	if (ch->fds[1] != -1)
		close(ch->fds[1]);
	pthread_mutex_destroy(&ch->mu);
	free(ch);
}

static void
bus_topics_job_free(struct bus_topics_job *j)
{
	free(j->brokers);
	for (size_t i = 0; j->names[i] != NULL; i++)
		free(j->names[i]);
	free(j);
}

static void *
bus_topics_worker(void *arg)
{
	struct bus_topics_job *j = arg;
	struct bus_topics_chan *ch = j->chan;
	int sent = 0;

	error_clear(&j->err);
	j->rc = bus_topic_ensure(j->brokers, (const char *const *)j->names,
	    j->partitions, j->compacted, j->timeout_ms, &j->err);
	pthread_mutex_lock(&ch->mu);
	if (!ch->closed)
		sent = send(ch->fds[1], &j, sizeof(j), MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(j);
	pthread_mutex_unlock(&ch->mu);
	if (!sent)
		bus_topics_job_free(j);
	bus_topics_chan_unref(ch);
	return NULL;
}

static int
bus_topics_copy(char **dst, char *const *src)
{
	size_t i = 0;

	for (; src[i] != NULL; i++)
		if ((dst[i] = strdup(src[i])) == NULL)
			return -1;
	dst[i] = NULL;
	return 0;
}

/* Starts one attempt for set on a new thread; -1 when none could start. */
static int
bus_topics_start(struct bus_topics_set *set)
{
	struct bus_topics *bt = set->bt;
	struct bus_topics_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (j == NULL)
		return -1;
	j->set = set;
	j->chan = bt->chan;
	j->partitions = set->partitions;
	j->compacted = set->compacted;
	j->timeout_ms = set->timeout_ms;
	if ((j->brokers = strdup(bt->brokers)) == NULL ||
	    bus_topics_copy(j->names, set->names) == -1) {
		bus_topics_job_free(j);
		return -1;
	}
	pthread_mutex_lock(&bt->chan->mu);
	bt->chan->refs++;
	pthread_mutex_unlock(&bt->chan->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, bus_topics_worker, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		bus_topics_job_free(j);
		bus_topics_chan_unref(bt->chan);
		return -1;
	}
	set->state = BUS_TOPICS_RUNNING;
	return 0;
}

/* After a failure: try again once the backoff has passed. */
static void
bus_topics_backoff(struct bus_topics_set *set)
{
	struct timeval tv = { set->backoff_ms / 1000,
	    (set->backoff_ms % 1000) * 1000 };

	set->state = BUS_TOPICS_FAILED;
	evtimer_add(set->retry, &tv);
	set->backoff_ms *= 2;
	if (set->backoff_ms > BUS_TOPICS_BACKOFF_MAX)
		set->backoff_ms = BUS_TOPICS_BACKOFF_MAX;
}

static void
bus_topics_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct bus_topics_set *set = arg;

	(void)fd;
	(void)what;
	if (bus_topics_start(set) == -1) {
		error_set(&set->last, "internal", "", "cannot start a thread");
		bus_topics_backoff(set);
	}
}

/* A job came back: its set is ready, or tried again later. */
static void
bus_topics_done(struct bus_topics_job *j)
{
	struct bus_topics_set *set = j->set;

	if (j->rc == 0) {
		set->state = BUS_TOPICS_READY;
		error_clear(&set->last);
		log_info("kafka topics %s%s ready", set->names[0],
		    set->names[1] != NULL ? " and others" : "");
	} else {
		set->last = j->err;
		log_warnx("kafka topics %s: %s; trying again in %d ms",
		    set->names[0], j->err.msg, set->backoff_ms);
		bus_topics_backoff(set);
	}
	bus_topics_job_free(j);
}

static void
bus_topics_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct bus_topics_job *j;

	(void)what;
	(void)arg;
	while (recv(fd, &j, sizeof(j), 0) == (ssize_t)sizeof(j))
		bus_topics_done(j);
}

struct bus_topics *
bus_topics_new(struct event_base *base, const char *brokers)
{
	struct bus_topics *bt = calloc(1, sizeof(*bt));
	struct bus_topics_chan *ch = calloc(1, sizeof(*ch));

	if (bt == NULL || ch == NULL || (bt->brokers = strdup(brokers)) == NULL)
		goto fail;
	ch->fds[0] = ch->fds[1] = -1;
	ch->refs = 1;
	pthread_mutex_init(&ch->mu, NULL);
	bt->chan = ch;
	ch = NULL;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    bt->chan->fds) == -1)
		goto fail;
	bt->base = base;
	bt->io = event_new(base, bt->chan->fds[0], EV_READ | EV_PERSIST,
	    bus_topics_on_read, bt);
	if (bt->io == NULL || event_add(bt->io, NULL) == -1)
		goto fail;
	return bt;
fail:
	free(ch);
	bus_topics_free(bt);
	return NULL;
}

static struct bus_topics_set *
bus_topics_find(struct bus_topics *bt, const char *first)
{
	for (struct bus_topics_set *s = bt->sets; s != NULL; s = s->next)
		if (strcmp(s->names[0], first) == 0)
			return s;
	return NULL;
}

static void
bus_topics_set_free(struct bus_topics_set *s)
{
	for (size_t i = 0; s->names[i] != NULL; i++)
		free(s->names[i]);
	if (s->retry != NULL)
		event_free(s->retry);
	free(s);
}

/* A new set for topics, its first attempt started; NULL with err. */
static struct bus_topics_set *
bus_topics_add(struct bus_topics *bt, const char *const *topics,
    int partitions, int compacted, int timeout_ms, struct error *err)
{
	struct bus_topics_set *s = calloc(1, sizeof(*s));

	if (s == NULL || bus_topics_copy(s->names, (char *const *)(uintptr_t)
	    topics) == -1 || (s->retry = evtimer_new(bt->base,
	    bus_topics_on_retry, s)) == NULL) {
		if (s != NULL)
			bus_topics_set_free(s);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	s->bt = bt;
	s->partitions = partitions;
	s->compacted = compacted;
	s->timeout_ms = timeout_ms;
	s->backoff_ms = BUS_TOPICS_BACKOFF_MIN;
	if (bus_topics_start(s) == -1) {
		bus_topics_set_free(s);
		error_set(err, "internal", "", "cannot start a thread");
		return NULL;
	}
	s->next = bt->sets;
	bt->sets = s;
	return s;
}

int
bus_topics_ensure(struct bus_topics *bt, const char *const *topics,
    int partitions, int compacted, int timeout_ms, struct error *err)
{
	struct bus_topics_set *s;
	size_t n = 0;

	while (topics[n] != NULL)
		n++;
	if (n == 0 || n > BUS_TOPICS_MAX) {
		error_set(err, "bus_config", "topics", "1-%d topics per set",
		    BUS_TOPICS_MAX);
		return -1;
	}
	if ((s = bus_topics_find(bt, topics[0])) == NULL) {
		if (bus_topics_add(bt, topics, partitions, compacted, timeout_ms,
		    err) == NULL)
			return -1;
		error_set(err, "pending", "", "creating topics %s", topics[0]);
		return 0;
	}
	if (s->state == BUS_TOPICS_READY)
		return 1;
	if (s->last.code[0] != '\0')
		*err = s->last;
	else
		error_set(err, "pending", "", "creating topics %s", topics[0]);
	return 0;
}

void
bus_topics_free(struct bus_topics *bt)
{
	struct bus_topics_job *j;

	if (bt == NULL)
		return;
	while (bt->sets != NULL) {
		struct bus_topics_set *s = bt->sets;

		bt->sets = s->next;
		bus_topics_set_free(s);
	}
	if (bt->io != NULL)
		event_free(bt->io);
	if (bt->chan != NULL) {
		pthread_mutex_lock(&bt->chan->mu);
		bt->chan->closed = 1;
		pthread_mutex_unlock(&bt->chan->mu);
		/* Jobs sent before the close are ours to free. */
		if (bt->chan->fds[0] != -1) {
			while (recv(bt->chan->fds[0], &j, sizeof(j), 0) ==
			    (ssize_t)sizeof(j))
				bus_topics_job_free(j);
			close(bt->chan->fds[0]);
		}
		bus_topics_chan_unref(bt->chan);
	}
	free(bt->brokers);
	free(bt);
}
