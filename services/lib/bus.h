/*
 * bus.h: Kafka behind a small interface (librdkafka never leaks out).
 *
 * Producer: idempotent, acks=all. Delivery callbacks run on the event loop
 * thread that owns the producer (librdkafka's queue is wired to a libevent
 * fd), so a handler can reply to an HTTP request from its callback.
 *
 * Consumer: runs on the event loop. Offsets are stored only after the
 * handler returns BUS_DONE or BUS_REJECT, i.e. after the work it did is
 * committed; auto-commit then commits stored offsets only.
 *   BUS_DONE    processed (or deliberately skipped): store the offset.
 *   BUS_REJECT  malformed / permanently unprocessable: the message goes to
 *               <topic>.dlq with error, partition, offset and attempts in
 *               headers, then the offset is stored.
 *   BUS_RETRY   transient failure (a dependency is down): the message is
 *               redelivered after a backoff (100 ms doubling to 5 s), forever,
 *               and the partition does not move past it.
 */
#ifndef SLIPWAY_BUS_H
#define SLIPWAY_BUS_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

struct event_base;
struct bus_producer;
struct bus_consumer;

struct bus_header {
	const char *name;
	const char *value;   /* NUL-terminated */
};

/* ok = 1 when the broker acknowledged (acks=all); else errstr says why. */
typedef void (*bus_delivery_cb)(int ok, const char *errstr, void *arg);

struct bus_producer *bus_producer_new(struct event_base *base,
    const char *brokers, const char *client_id, struct error *err);
/*
 * The same with a bound on each message's delivery: a message the broker has
 * not acknowledged within delivery_timeout_ms (queueing, retries and the ack
 * included) gets its callback with ok = 0. bus_producer_new uses
 * BUS_DELIVERY_TIMEOUT_MS, right for background publishers (the relay
 * republishes); a producer that keeps a caller waiting for the ack (the
 * webhook's HTTP reply) wants a shorter bound.
 */
#define BUS_DELIVERY_TIMEOUT_MS 30000
struct bus_producer *bus_producer_new_timeout(struct event_base *base,
    const char *brokers, const char *client_id, int delivery_timeout_ms,
    struct error *err);
/*
 * The same with linger.ms, how long a message waits for others to join its
 * batch (the others: BUS_LINGER_MS). 0 sends at once: a caller waiting for
 * the ack (the webhook) gets it sooner, and under load batches still form
 * from what queues while the in-flight requests (at most 5, idempotence)
 * are out.
 */
#define BUS_LINGER_MS 5
struct bus_producer *bus_producer_new_linger(struct event_base *base,
    const char *brokers, const char *client_id, int delivery_timeout_ms,
    int linger_ms, struct error *err);
/*
 * Queues one message. Key and value are copied. cb may be NULL. Returns -1
 * (err set) when the message could not even be queued; err->code is
 * "bus_unauthorized" when the broker's ACLs refuse the topic.
 */
int bus_produce(struct bus_producer *p, const char *topic, const char *key,
    const void *value, size_t len, const struct bus_header *hdrs,
    size_t nhdrs, bus_delivery_cb cb, void *arg, struct error *err);
/* Blocks until every queued message is delivered or timeout; 0 when all were. */
int bus_producer_flush(struct bus_producer *p, int timeout_ms);
/* Serves delivery callbacks now (used by blocking callers such as the relay). */
void bus_producer_poll(struct bus_producer *p, int timeout_ms);
void bus_producer_free(struct bus_producer *p);

struct bus_message;
const char *bus_message_topic(const struct bus_message *m);
int32_t bus_message_partition(const struct bus_message *m);
int64_t bus_message_offset(const struct bus_message *m);
/* Key as a NUL-terminated copy ("" when none); valid during the handler. */
const char *bus_message_key(const struct bus_message *m);
/* Value; NULL with len 0 for a tombstone. */
const void *bus_message_value(const struct bus_message *m, size_t *len);
/* Header value as a NUL-terminated copy, or NULL; valid during the handler. */
const char *bus_message_header(const struct bus_message *m, const char *name);
/* How many times this message was handed to the handler, from 1. */
int bus_message_attempt(const struct bus_message *m);

enum bus_result { BUS_DONE, BUS_RETRY, BUS_REJECT };

/* reason: for BUS_REJECT, why (goes into the DLQ headers and the log). */
typedef enum bus_result (*bus_handler)(const struct bus_message *m, void *arg,
    struct error *reason);

struct bus_consumer_config {
	const char *brokers;
	const char *group;          /* consumer group; NULL = no group, see below */
	const char *const *topics;  /* NULL-terminated */
	/*
	 * With group == NULL every partition of each topic is assigned and read
	 * from the beginning, nothing is committed: for compacted state topics
	 * (credentials) that each process replays in full.
	 */
	struct bus_producer *dlq;   /* producer for <topic>.dlq; required with a group */
};

struct bus_consumer *bus_consumer_new(struct event_base *base,
    const struct bus_consumer_config *cfg, bus_handler handler, void *arg,
    struct error *err);
/*
 * A batch consumer: the handler gets up to batch_max messages at once (what
 * is queued now: nothing waits for a batch to fill, so an idle consumer adds
 * no latency and a backlog fills whole batches), each partition's in offset
 * order, and sets res[i] (and reasons[i] for BUS_REJECT) for every one; res
 * comes in as BUS_RETRY. The verdicts apply per partition in order up to the
 * first that is not BUS_DONE: that message is held as above, and the
 * partition's later messages of the batch are delivered again after it.
 * So the handler must not let a partition's later messages take effect once
 * one of them is not done (ordering), and a message delivered again must be
 * a no-op when it did (dedup). Messages, keys and headers are valid until
 * the handler returns.
 */
#define BUS_BATCH_MAX 4096
typedef void (*bus_batch_handler)(const struct bus_message *const *ms,
    size_t n, enum bus_result *res, struct error *reasons, void *arg);
struct bus_consumer *bus_consumer_new_batch(struct event_base *base,
    const struct bus_consumer_config *cfg, bus_batch_handler handler,
    size_t batch_max, void *arg, struct error *err);
/* 1 once the consumer has partitions assigned (for /readyz); any thread. */
int bus_consumer_ready(const struct bus_consumer *c);
/*
 * Group-less: 1 once every partition was also read to its end once, so the
 * state replayed from the beginning is complete; grouped: as _ready.
 */
int bus_consumer_caught_up(const struct bus_consumer *c);
/* Leaves the group cleanly (commits stored offsets). */
void bus_consumer_free(struct bus_consumer *c);

/*
 * Creates topics that do not exist yet (existing ones are left alone).
 * compacted: cleanup.policy=compact. Blocks up to timeout_ms.
 */
int bus_topic_ensure(const char *brokers, const char *const *topics,
    int partitions, int compacted, int timeout_ms, struct error *err);

#endif
