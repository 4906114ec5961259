/*
 * bus_topics.h: Kafka topics created off the event loop (ARCHITECTURE.md
 * §9: no admin call in a request or event handler). A creation runs
 * bus_topic_ensure on a worker thread; its result comes back to the loop
 * through a pipe. A failed creation is tried again on the loop's timer
 * (1 s doubling to 30 s) until the topics exist, so a caller that cannot
 * wait (an HTTP answer) only starts it, and a caller that must not go on
 * before the topics exist (a consumer that publishes to them) asks again
 * later, e.g. by answering BUS_RETRY.
 *
 * Everything but the worker runs on the loop thread that owns the struct.
 */
#ifndef SLIPWAY_BUS_TOPICS_H
#define SLIPWAY_BUS_TOPICS_H

#include "error.h"

struct event_base;
struct bus_topics;

/* brokers is copied. NULL when out of memory. */
struct bus_topics *bus_topics_new(struct event_base *base, const char *brokers);

/*
 * Makes sure topics (NULL-terminated, at most 8, copied) exist, created
 * with partitions and (compacted) cleanup.policy=compact when not. A set
 * is known by its first topic's name. 1: they exist (created by an
 * earlier call); 0: not yet, the creation is under way (started now or
 * before; err says why the last attempt failed, if one did); -1: err (the
 * set is invalid, or nothing could be started).
 */
int bus_topics_ensure(struct bus_topics *bt, const char *const *topics,
    int partitions, int compacted, int timeout_ms, struct error *err);

/* Creations still in flight finish on their threads and are dropped. */
void bus_topics_free(struct bus_topics *bt);

#endif
