/*
 * bus.c: Kafka through librdkafka, driven by the libevent loop.
 *
 * Both producer and consumer wire their librdkafka queue to a pipe
 * (rd_kafka_queue_io_event_enable): librdkafka writes a byte when the queue
 * becomes non-empty, the loop wakes up and serves the queue on its own
 * thread. A short timer serves the queue too, in case a wake-up was missed.
 * librdkafka's own log lines go through the same queue (log.queue) so that
 * log_* is only ever called from the loop thread.
 *
 * The consumer stops a partition at a message that must be retried or sent
 * to the dead-letter topic (a "hold"):
 *   HOLD_BACKOFF  partition paused, timer armed (100 ms doubling to 5 s)
 *   HOLD_DLQ      partition paused, waiting for the DLQ delivery report
 *   HOLD_REPLAY   resumed and rewound to the held offset: the next message
 *                 of the partition is the held one, delivered again
 * Pausing bumps librdkafka's fetch version, so messages fetched after the
 * held one are dropped and fetched again after the seek: nothing is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "bus_security.h"
#include "log.h"

#define BUS_BACKOFF_MIN_MS  100
#define BUS_BACKOFF_MAX_MS  5000
#define BUS_POLL_MS         100     /* safety-net poll interval */
#define BUS_DRAIN_MAX       500     /* messages per loop turn */
#define BUS_HEADER_MAX      4096    /* header values we copy out */
#define BUS_META_RETRY_MS   2000    /* group-less: topics not there yet */

/* --- shared plumbing ---------------------------------------------------- */

/* A librdkafka queue wired to the loop through a non-blocking pipe. */
struct bus_wake {
	int fds[2];
	struct event *io;
	struct event *tick;
};

static int
bus_conf(rd_kafka_conf_t *conf, const char *name, const char *value,
    struct error *err)
{
	char errstr[256];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		error_set(err, "bus_config", name, "%s", errstr);
		return -1;
	}
	return 0;
}

/* Applies a NULL-terminated list of name/value pairs. */
static int
bus_conf_all(rd_kafka_conf_t *conf, const char *const *kv, struct error *err)
{
	for (; kv[0] != NULL; kv += 2)
		if (bus_conf(conf, kv[0], kv[1], err) == -1)
			return -1;
	return 0;
}

/* librdkafka levels are syslog levels. */
static void
bus_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 4)
		log_warnx("kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
	else if (level <= 6)
		log_info("kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
	else
		log_debug("kafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Broker errors are transient by design: log them and carry on. */
static void
bus_on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
	char fatal[256];

	(void)opaque;
	if (code == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		log_warnx("kafka %s fatal error: %s", rd_kafka_name(rk), fatal);
		return;
	}
	log_warnx("kafka %s: %s: %s", rd_kafka_name(rk),
	    rd_kafka_err2name((rd_kafka_resp_err_t)code), reason);
}

static rd_kafka_conf_t *
bus_conf_base(const char *brokers, struct error *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/*
	 * librdkafka backs off reconnects up to 10 s: a broker back from a
	 * restart would sit unused that long, and a bounded delivery (the
	 * webhook's) would time out against a broker that is up again.
	 * Nagle off: our messages are small and a 202 waits for its ack, so a
	 * request must never sit behind an unacknowledged one (TCP_NODELAY).
	 */
	const char *kv[] = { "bootstrap.servers", brokers, "log.queue", "true",
	    "reconnect.backoff.max.ms", "1000", "socket.nagle.disable", "true",
	    NULL };
	const char *sec[BUS_SECURITY_KV_MAX];   /* SASL / TLS, bus_security.h */

	if (bus_conf_all(conf, kv, err) == -1 || bus_security_settings(sec,
	    BUS_SECURITY_KV_MAX, err) == -1 || bus_conf_all(conf, sec, err) == -1) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, bus_on_log);
	rd_kafka_conf_set_error_cb(conf, bus_on_error);
	return conf;
}

static void
bus_wake_drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Wires q to the loop; serve(arg) runs on every wake-up and tick. */
static int
bus_wake_init(struct bus_wake *w, struct event_base *base, rd_kafka_queue_t *q,
    event_callback_fn serve, void *arg, struct error *err)
{
	struct timeval tv = { 0, BUS_POLL_MS * 1000 };

	w->fds[0] = w->fds[1] = -1;
	if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		error_set(err, "internal", "", "pipe: %s", strerror(errno));
		return -1;
	}
	w->io = event_new(base, w->fds[0], EV_READ | EV_PERSIST, serve, arg);
	w->tick = event_new(base, -1, EV_PERSIST, serve, arg);
	if (w->io == NULL || w->tick == NULL) {
		error_set(err, "internal", "", "cannot create bus events");
		return -1;
	}
	event_add(w->io, NULL);
	event_add(w->tick, &tv);
	rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
	return 0;
}

static void
bus_wake_free(struct bus_wake *w, rd_kafka_queue_t *q)
{
	if (q != NULL)
		rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
	if (w->io != NULL)
		event_free(w->io);
	if (w->tick != NULL)
		event_free(w->tick);
	for (int i = 0; i < 2; i++)
		if (w->fds[i] != -1)
			close(w->fds[i]);
	w->io = w->tick = NULL;
	w->fds[0] = w->fds[1] = -1;
}

/* --- producer ----------------------------------------------------------- */

struct bus_producer {
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	struct bus_wake wake;
};

/* Per-message opaque: who to tell about the delivery. */
struct bus_delivery {
	bus_delivery_cb cb;
	void *arg;
};

static void
bus_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct bus_delivery *d = rkm->_private;

	(void)rk;
	(void)opaque;
	if (d == NULL)
		return;
	if (d->cb != NULL)
		d->cb(rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR,
		    rd_kafka_err2str(rkm->err), d->arg);
	free(d);
}

static void
bus_producer_serve(evutil_socket_t fd, short what, void *arg)
{
	struct bus_producer *p = arg;

	(void)what;
	if (fd != -1)
		bus_wake_drain(fd);
	rd_kafka_poll(p->rk, 0);
}

struct bus_producer *
bus_producer_new(struct event_base *base, const char *brokers,
    const char *client_id, struct error *err)
{
	return bus_producer_new_timeout(base, brokers, client_id,
	    BUS_DELIVERY_TIMEOUT_MS, err);
}

struct bus_producer *
bus_producer_new_timeout(struct event_base *base, const char *brokers,
    const char *client_id, int delivery_timeout_ms, struct error *err)
{
	return bus_producer_new_linger(base, brokers, client_id,
	    delivery_timeout_ms, BUS_LINGER_MS, err);
}

struct bus_producer *
bus_producer_new_linger(struct event_base *base, const char *brokers,
    const char *client_id, int delivery_timeout_ms, int linger_ms,
    struct error *err)
{
	char timeout[16], linger[16];
	/*
	 * murmur2_random matches the Java client's partitioner, so a producer
	 * outside Slipway puts the same key on the same partition.
	 */
	const char *kv[] = { "client.id", client_id ? client_id : "slipway",
	    "enable.idempotence", "true", "acks", "all", "linger.ms", linger,
	    "partitioner", "murmur2_random", "message.timeout.ms", timeout,
	    NULL };
	struct bus_producer *p;
	rd_kafka_conf_t *conf;
	char errstr[256];

	if (delivery_timeout_ms <= 0) {
		error_set(err, "bus_config", "message.timeout.ms",
		    "delivery timeout must be positive");
		return NULL;
	}
	snprintf(timeout, sizeof(timeout), "%d", delivery_timeout_ms);
	snprintf(linger, sizeof(linger), "%d", linger_ms < 0 ? 0 : linger_ms);
	if ((conf = bus_conf_base(brokers, err)) == NULL)
		return NULL;
	if (bus_conf_all(conf, kv, err) == -1) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, bus_on_delivery);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rd_kafka_conf_destroy(conf);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	p->wake.fds[0] = p->wake.fds[1] = -1;
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (p->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		error_set(err, "bus_config", "", "kafka producer: %s", errstr);
		free(p);
		return NULL;
	}
	rd_kafka_set_log_queue(p->rk, NULL);
	p->mainq = rd_kafka_queue_get_main(p->rk);
	if (bus_wake_init(&p->wake, base, p->mainq, bus_producer_serve, p,
	    err) == -1) {
		bus_producer_free(p);
		return NULL;
	}
	return p;
}

/* Queues one message; takes ownership of hdrs (may be NULL). */
static int
bus_produce_raw(struct bus_producer *p, const char *topic, const void *key,
    size_t keylen, const void *value, size_t len, rd_kafka_headers_t *hdrs,
    bus_delivery_cb cb, void *arg, struct error *err)
{
	struct bus_delivery *d = calloc(1, sizeof(*d));
	rd_kafka_resp_err_t rc;

	if (d == NULL) {
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	d->cb = cb;
	d->arg = arg;
	/* RD_KAFKA_V_KEY casts away const itself; MSG_F_COPY never writes. */
	rc = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
	    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value ? len : 0),
	    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Headers are only taken over on success. */
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		free(d);
		/* The ACLs refuse this topic: permanent until an operator acts. */
		error_set(err, rc == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ?
		    "bus_unauthorized" : "bus_error", "", "cannot queue to %s: %s",
		    topic, rd_kafka_err2str(rc));
		return -1;
	}
	return 0;
}

int
bus_produce(struct bus_producer *p, const char *topic, const char *key,
    const void *value, size_t len, const struct bus_header *hdrs,
    size_t nhdrs, bus_delivery_cb cb, void *arg, struct error *err)
{
	rd_kafka_headers_t *h = NULL;

	if (nhdrs > 0) {
		h = rd_kafka_headers_new(nhdrs);
		for (size_t i = 0; i < nhdrs; i++)
			rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, -1);
	}
	return bus_produce_raw(p, topic, key, key ? strlen(key) : 0, value, len,
	    h, cb, arg, err);
}

int
bus_producer_flush(struct bus_producer *p, int timeout_ms)
{
	return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ?
	    0 : -1;
}

void
bus_producer_poll(struct bus_producer *p, int timeout_ms)
{
	rd_kafka_poll(p->rk, timeout_ms);
}

void
bus_producer_free(struct bus_producer *p)
{
	if (p == NULL)
		return;
	if (p->rk != NULL) {
		if (rd_kafka_flush(p->rk, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka producer closing with undelivered messages");
		/* Every callback fires exactly once, purged ones with an error. */
		rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE |
		    RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(p->rk, 100);
	}
	bus_wake_free(&p->wake, p->mainq);
	if (p->mainq != NULL)
		rd_kafka_queue_destroy(p->mainq);
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	free(p);
}

/* --- consumer: messages ------------------------------------------------- */

/* Copies handed out during one handler call, freed after it returns. */
struct bus_strings {
	char *v[16];
	size_t n;
};

struct bus_message {
	const rd_kafka_message_t *rkm;
	int attempt;
	char *key;
	struct bus_strings *strs;
};

const char *
bus_message_topic(const struct bus_message *m)
{
	return rd_kafka_topic_name(m->rkm->rkt);
}

int32_t
bus_message_partition(const struct bus_message *m)
{
	return m->rkm->partition;
}

int64_t
bus_message_offset(const struct bus_message *m)
{
	return m->rkm->offset;
}

const char *
bus_message_key(const struct bus_message *m)
{
	return m->key != NULL ? m->key : "";
}

const void *
bus_message_value(const struct bus_message *m, size_t *len)
{
	*len = m->rkm->payload != NULL ? m->rkm->len : 0;
	return m->rkm->payload;
}

int
bus_message_attempt(const struct bus_message *m)
{
	return m->attempt;
}

const char *
bus_message_header(const struct bus_message *m, const char *name)
{
	rd_kafka_headers_t *hdrs;
	const void *val;
	size_t size;
	char *copy;

	if (rd_kafka_message_headers(m->rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(hdrs, name, &val, &size) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR || val == NULL)
		return NULL;
	if (size > BUS_HEADER_MAX || m->strs->n == 16)
		return NULL;
	if ((copy = strndup(val, size)) == NULL)
		return NULL;
	m->strs->v[m->strs->n++] = copy;
	return copy;
}

/* --- consumer ----------------------------------------------------------- */

enum bus_hold_state { HOLD_BACKOFF, HOLD_DLQ, HOLD_REPLAY };

struct bus_consumer;

/* A partition stopped at one message (see the file comment). */
struct bus_hold {
	struct bus_hold *next;
	struct bus_consumer *c;
	char *topic;
	int32_t partition;
	int64_t offset;
	int attempts;           /* handler calls so far for this message */
	int backoff_ms;
	enum bus_hold_state state;
	struct event *timer;
};

/* A DLQ produce in flight; outlives the consumer if it must. */
struct bus_dlq_wait {
	struct bus_dlq_wait *next;
	struct bus_consumer *c;     /* NULL once the consumer is gone */
	char *topic;
	int32_t partition;
	int64_t offset;
};

struct bus_consumer {
	struct event_base *base;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	struct bus_wake wake;
	struct event *more;         /* drain again after a full batch */
	struct event *meta;         /* group-less: assign topics that appear */
	bus_handler handler;
	void *arg;
	struct bus_producer *dlq;
	int grouped;
	/* Atomic: /readyz may read it from a probe thread (dataplane-agent). */
	_Atomic int ready;
	int closing;
	char **topics;
	int *assigned;              /* group-less: per topic */
	int *partitions;            /* group-less: per topic, once assigned */
	uint64_t *eof;              /* group-less: per topic, partitions read to their end */
	_Atomic int caught_up;      /* group-less: every partition read to its end once */
	size_t ntopics;
	struct bus_hold *holds;
	struct bus_dlq_wait *waits;
	struct bus_batch *batch;    /* NULL: one message per handler call */
};

static rd_kafka_topic_partition_list_t *
bus_one_partition(const char *topic, int32_t partition, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
	return l;
}

static void
bus_pause(struct bus_consumer *c, const char *topic, int32_t partition)
{
	rd_kafka_topic_partition_list_t *l = bus_one_partition(topic, partition,
	    RD_KAFKA_OFFSET_INVALID);

	rd_kafka_pause_partitions(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Resumes the partition and makes its next fetch start at offset. */
static void
bus_resume_at(struct bus_consumer *c, const char *topic, int32_t partition,
    int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = bus_one_partition(topic, partition,
	    offset);
	rd_kafka_error_t *e;

	rd_kafka_resume_partitions(c->rk, l);
	if ((e = rd_kafka_seek_partitions(c->rk, l, 0)) != NULL) {
		log_warnx("kafka seek %s[%d] to %lld: %s", topic, (int)partition,
		    (long long)offset, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

static void
bus_store_offset(struct bus_consumer *c, const char *topic, int32_t partition,
    int64_t next)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t rc;

	if (!c->grouped)
		return;
	l = bus_one_partition(topic, partition, next);
	if ((rc = rd_kafka_offsets_store(c->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warnx("kafka offset store %s[%d]@%lld: %s", topic,
		    (int)partition, (long long)next, rd_kafka_err2str(rc));
	rd_kafka_topic_partition_list_destroy(l);
}

static struct bus_hold *
bus_hold_find(struct bus_consumer *c, const char *topic, int32_t partition)
{
	for (struct bus_hold *h = c->holds; h != NULL; h = h->next)
		if (h->partition == partition && strcmp(h->topic, topic) == 0)
			return h;
	return NULL;
}

static void
bus_hold_free(struct bus_hold *h)
{
	struct bus_hold **pp;

	for (pp = &h->c->holds; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	event_free(h->timer);
	free(h->topic);
	free(h);
}

static void bus_hold_on_timer(evutil_socket_t, short, void *);

static struct bus_hold *
bus_hold_new(struct bus_consumer *c, const char *topic, int32_t partition,
    int64_t offset)
{
	struct bus_hold *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->topic = strdup(topic)) == NULL ||
	    (h->timer = evtimer_new(c->base, bus_hold_on_timer, h)) == NULL) {
		if (h != NULL)
			free(h->topic);
		free(h);
		return NULL;
	}
	h->c = c;
	h->partition = partition;
	h->offset = offset;
	h->backoff_ms = BUS_BACKOFF_MIN_MS;
	h->next = c->holds;
	c->holds = h;
	return h;
}

/* Stops the partition and replays the held message after the backoff. */
static void
bus_hold_backoff(struct bus_hold *h)
{
	struct timeval tv = { h->backoff_ms / 1000,
	    (h->backoff_ms % 1000) * 1000 };

	h->state = HOLD_BACKOFF;
	evtimer_add(h->timer, &tv);
	h->backoff_ms *= 2;
	if (h->backoff_ms > BUS_BACKOFF_MAX_MS)
		h->backoff_ms = BUS_BACKOFF_MAX_MS;
}

static void
bus_hold_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct bus_hold *h = arg;

	(void)fd;
	(void)what;
	h->state = HOLD_REPLAY;
	bus_resume_at(h->c, h->topic, h->partition, h->offset);
}

static void
bus_dlq_on_delivery(int ok, const char *errstr, void *arg)
{
	struct bus_dlq_wait *w = arg, **pp;
	struct bus_consumer *c = w->c;
	struct bus_hold *h;

	if (c != NULL) {
		for (pp = &c->waits; *pp != NULL; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
		h = bus_hold_find(c, w->topic, w->partition);
		/* The partition may have been revoked meanwhile: then let go. */
		if (h != NULL && h->state == HOLD_DLQ && h->offset == w->offset) {
			if (ok) {
				bus_store_offset(c, w->topic, w->partition, w->offset + 1);
				bus_resume_at(c, w->topic, w->partition, w->offset + 1);
				bus_hold_free(h);
			} else {
				log_warnx("dead-letter produce for %s[%d]@%lld failed: %s;"
				    " retrying", w->topic, (int)w->partition,
				    (long long)w->offset, errstr);
				bus_hold_backoff(h);
			}
		}
	}
	free(w->topic);
	free(w);
}

static void
bus_dlq_headers(rd_kafka_headers_t *h, const char *reason, int32_t partition,
    int64_t offset, int attempts)
{
	char buf[32];

	rd_kafka_header_add(h, "dlq-error", -1, reason, -1);
	snprintf(buf, sizeof(buf), "%d", (int)partition);
	rd_kafka_header_add(h, "dlq-partition", -1, buf, -1);
	snprintf(buf, sizeof(buf), "%lld", (long long)offset);
	rd_kafka_header_add(h, "dlq-offset", -1, buf, -1);
	snprintf(buf, sizeof(buf), "%d", attempts);
	rd_kafka_header_add(h, "dlq-attempts", -1, buf, -1);
}

/* Produces the message to <topic>.dlq; the hold waits for the report. */
static int
bus_dlq_send(struct bus_consumer *c, const rd_kafka_message_t *rkm,
    const char *reason, int attempts)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	rd_kafka_headers_t *orig, *h;
	struct bus_dlq_wait *w;
	char dlq[300];
	struct error err;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->topic = strdup(topic)) == NULL) {
		free(w);
		return -1;
	}
	w->c = c;
	w->partition = rkm->partition;
	w->offset = rkm->offset;
	h = rd_kafka_message_headers(rkm, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR ?
	    rd_kafka_headers_copy(orig) : rd_kafka_headers_new(4);
	bus_dlq_headers(h, reason, rkm->partition, rkm->offset, attempts);
	snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
	if (bus_produce_raw(c->dlq, dlq, rkm->key, rkm->key_len, rkm->payload,
	    rkm->len, h, bus_dlq_on_delivery, w, &err) == -1) {
		log_warnx("dead-letter %s: %s", dlq, err.msg);
		free(w->topic);
		free(w);
		return -1;
	}
	w->next = c->waits;
	c->waits = w;
	return 0;
}

/* Applies the handler's verdict for rkm (hold may be NULL). */
static void
bus_verdict(struct bus_consumer *c, const rd_kafka_message_t *rkm,
    struct bus_hold *h, int attempt, enum bus_result res,
    const struct error *reason)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);

	/*
	 * Only a group-less consumer has no dead-letter producer (creation
	 * refuses a grouped one without): it replays a state topic from the
	 * beginning and stores no offsets, so a record it cannot use is
	 * skipped, loudly, rather than holding every later record back.
	 */
	if (res == BUS_REJECT && c->dlq == NULL) {
		log_warnx("%s[%d]@%lld rejected, skipped (a state topic replayed "
		    "without a group): %s", topic, (int)rkm->partition,
		    (long long)rkm->offset, reason->msg);
		res = BUS_DONE;
	}
	if (res == BUS_DONE) {
		bus_store_offset(c, topic, rkm->partition, rkm->offset + 1);
		if (h != NULL)
			bus_hold_free(h);
		return;
	}
	/*
	 * Without its hold the partition would flow on and the next DONE would
	 * store an offset past this message: exit instead, and the restarted
	 * service reads again from the last stored offset.
	 */
	if (h == NULL &&
	    (h = bus_hold_new(c, topic, rkm->partition, rkm->offset)) == NULL)
		fatal("out of memory holding %s[%d]@%lld: stopping rather than "
		    "skipping it", topic, (int)rkm->partition,
		    (long long)rkm->offset);
	h->attempts = attempt;
	bus_pause(c, topic, rkm->partition);
	if (res == BUS_REJECT) {
		log_warnx("%s[%d]@%lld rejected: %s", topic, (int)rkm->partition,
		    (long long)rkm->offset, reason->msg);
		if (bus_dlq_send(c, rkm, reason->msg, attempt) == 0) {
			h->state = HOLD_DLQ;
			return;
		}
	}
	bus_hold_backoff(h);
}

static void
bus_dispatch(struct bus_consumer *c, const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	struct bus_hold *h = bus_hold_find(c, topic, rkm->partition);
	struct bus_strings strs = { .n = 0 };
	struct bus_message m = { .rkm = rkm, .attempt = 1, .strs = &strs };
	struct error reason;
	enum bus_result res;

	if (h != NULL && h->state != HOLD_REPLAY)
		return;   /* paused partition: a message fetched before the pause */
	if (h != NULL && h->offset == rkm->offset)
		m.attempt = h->attempts + 1;
	else if (h != NULL) {
		/* The held offset is gone (retention, compaction): start afresh. */
		bus_hold_free(h);
		h = NULL;
	}
	if (rkm->key != NULL)
		m.key = strndup(rkm->key, rkm->key_len);
	error_clear(&reason);
	res = c->handler(&m, c->arg, &reason);
	if (res == BUS_RETRY)
		log_debug("%s[%d]@%lld retry (attempt %d)", topic,
		    (int)rkm->partition, (long long)rkm->offset, m.attempt);
	bus_verdict(c, rkm, h, m.attempt, res, &reason);
	/* The ids the handler logged under are its message's alone: the loop's
	 * next line (a timer, another consumer) must not carry them. */
	log_ctx_clear();
	free(m.key);
	for (size_t i = 0; i < strs.n; i++)
		free(strs.v[i]);
}

/*
 * Group-less: partition p of a topic was read to its end (librdkafka's
 * PARTITION_EOF, also for an empty one). Once every partition of every
 * topic was, the state the consumer replays is complete: a process that
 * answers from it (org keys) is ready only then.
 */
static void
bus_note_eof(struct bus_consumer *c, const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	int all = 1, need;

	for (size_t i = 0; i < c->ntopics; i++) {
		if (strcmp(c->topics[i], topic) == 0 && rkm->partition >= 0 &&
		    rkm->partition < 64)
			c->eof[i] |= (uint64_t)1 << rkm->partition;
		/* More than 64 partitions: the first 64 stand for the topic. */
		need = c->partitions[i] < 64 ? c->partitions[i] : 64;
		if (!c->assigned[i] || __builtin_popcountll(c->eof[i]) < need)
			all = 0;
	}
	if (all && !c->caught_up)
		log_info("kafka: read every partition of its topics to the end");
	c->caught_up = all;
}

static void
bus_consumer_drain(struct bus_consumer *c)
{
	rd_kafka_message_t *rkm;

	for (int i = 0; i < BUS_DRAIN_MAX && !c->closing; i++) {
		if ((rkm = rd_kafka_consumer_poll(c->rk, 0)) == NULL)
			return;
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bus_note_eof(c, rkm);
		else if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka consumer: %s", rd_kafka_message_errstr(rkm));
		else
			bus_dispatch(c, rkm);
		rd_kafka_message_destroy(rkm);
	}
	/* More may be queued: let other events run, then come back. */
	event_active(c->more, 0, 0);
}

/* --- consumer: batches --------------------------------------------------- */

/* One batch's messages and verdicts; allocated once, for batch_max. */
struct bus_batch {
	bus_batch_handler handler;
	size_t max;
	size_t n;
	rd_kafka_message_t **rkms;
	struct bus_message *msgs;
	const struct bus_message **ptrs;
	struct bus_strings *strs;
	struct bus_hold **holds;     /* the hold a message replays, or NULL */
	enum bus_result *res;
	struct error *reasons;
};

static void
bus_batch_free(struct bus_batch *b)
{
	if (b == NULL)
		return;
	free(b->rkms);
	free(b->msgs);
	free(b->ptrs);
	free(b->strs);
	free(b->holds);
	free(b->res);
	free(b->reasons);
	free(b);
}

static struct bus_batch *
bus_batch_new(bus_batch_handler handler, size_t max)
{
	struct bus_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->handler = handler;
	b->max = max;
	b->rkms = calloc(max, sizeof(*b->rkms));
	b->msgs = calloc(max, sizeof(*b->msgs));
	b->ptrs = calloc(max, sizeof(*b->ptrs));
	b->strs = calloc(max, sizeof(*b->strs));
	b->holds = calloc(max, sizeof(*b->holds));
	b->res = calloc(max, sizeof(*b->res));
	b->reasons = calloc(max, sizeof(*b->reasons));
	if (b->rkms == NULL || b->msgs == NULL || b->ptrs == NULL ||
	    b->strs == NULL || b->holds == NULL || b->res == NULL ||
	    b->reasons == NULL) {
		bus_batch_free(b);
		return NULL;
	}
	return b;
}

/* 1 when an earlier message of the batch already replays hold h. */
static int
bus_batch_replays(const struct bus_batch *b, const struct bus_hold *h)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->holds[i] == h)
			return 1;
	return 0;
}

/*
 * Takes rkm into the batch, or destroys it when its partition is held: the
 * same rules as bus_dispatch, except that a held partition's replayed
 * message may be followed by later ones of the same partition in the batch.
 */
static void
bus_batch_add(struct bus_consumer *c, rd_kafka_message_t *rkm)
{
	struct bus_batch *b = c->batch;
	struct bus_hold *h = bus_hold_find(c, rd_kafka_topic_name(rkm->rkt),
	    rkm->partition);
	size_t i = b->n;

	if (h != NULL && h->state != HOLD_REPLAY) {
		rd_kafka_message_destroy(rkm);
		return;
	}
	b->msgs[i] = (struct bus_message){ .rkm = rkm, .attempt = 1,
	    .strs = &b->strs[i] };
	b->strs[i].n = 0;
	if (h != NULL && bus_batch_replays(b, h))
		h = NULL;
	else if (h != NULL && h->offset == rkm->offset)
		b->msgs[i].attempt = h->attempts + 1;
	else if (h != NULL) {
		bus_hold_free(h);   /* the held offset is gone: start afresh */
		h = NULL;
	}
	if (rkm->key != NULL)
		b->msgs[i].key = strndup(rkm->key, rkm->key_len);
	b->holds[i] = h;
	b->rkms[i] = rkm;
	b->ptrs[i] = &b->msgs[i];
	b->res[i] = BUS_RETRY;
	error_clear(&b->reasons[i]);
	b->n++;
}

/*
 * Hands the batch to the handler, then applies the verdicts in order. Once
 * a partition is held by one of them, its later messages in the batch get
 * no verdict: the hold's seek delivers them again after the held one, so
 * no offset passes a message that was not done.
 */
static void
bus_batch_run(struct bus_consumer *c)
{
	struct bus_batch *b = c->batch;

	b->handler(b->ptrs, b->n, b->res, b->reasons, c->arg);
	log_ctx_clear();
	for (size_t i = 0; i < b->n; i++) {
		const rd_kafka_message_t *rkm = b->rkms[i];
		struct bus_hold *h = bus_hold_find(c,
		    rd_kafka_topic_name(rkm->rkt), rkm->partition);

		if (h == NULL || h->state == HOLD_REPLAY)
			bus_verdict(c, rkm, b->holds[i], b->msgs[i].attempt,
			    b->res[i], &b->reasons[i]);
	}
	for (size_t i = 0; i < b->n; i++) {
		free(b->msgs[i].key);
		for (size_t j = 0; j < b->strs[i].n; j++)
			free(b->strs[i].v[j]);
		rd_kafka_message_destroy(b->rkms[i]);
	}
	b->n = 0;
}

/* Gathers what is queued now (up to the batch size, no waiting) and runs it. */
static void
bus_consumer_drain_batch(struct bus_consumer *c)
{
	struct bus_batch *b = c->batch;
	rd_kafka_message_t *rkm;
	int polled = 0, empty = 0;

	while (b->n < b->max && polled++ < BUS_DRAIN_MAX && !c->closing) {
		if ((rkm = rd_kafka_consumer_poll(c->rk, 0)) == NULL) {
			empty = 1;
			break;
		}
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bus_note_eof(c, rkm);
		else if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka consumer: %s", rd_kafka_message_errstr(rkm));
		else {
			bus_batch_add(c, rkm);
			continue;
		}
		rd_kafka_message_destroy(rkm);
	}
	if (b->n > 0)
		bus_batch_run(c);
	/* A full batch: more may be queued; let other events run first. */
	if (!empty && !c->closing)
		event_active(c->more, 0, 0);
}

static void
bus_consumer_serve(evutil_socket_t fd, short what, void *arg)
{
	struct bus_consumer *c = arg;

	(void)what;
	if (fd != -1)
		bus_wake_drain(fd);
	if (c->batch != NULL)
		bus_consumer_drain_batch(c);
	else
		bus_consumer_drain(c);
}

/* Drops the holds of partitions this consumer no longer owns. */
static void
bus_holds_revoke(struct bus_consumer *c,
    const rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++) {
		struct bus_hold *h = bus_hold_find(c, parts->elems[i].topic,
		    parts->elems[i].partition);

		if (h == NULL)
			continue;
		/* Do not leave an app-level pause behind for a later owner. */
		if (h->state != HOLD_REPLAY)
			bus_resume_at(c, h->topic, h->partition, h->offset);
		bus_hold_free(h);
	}
}

static void
bus_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct bus_consumer *c = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *e = NULL;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_info("kafka %s: %d partitions assigned", rd_kafka_name(rk),
		    parts->cnt);
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		c->ready = 1;
	} else {
		if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			log_warnx("kafka rebalance: %s", rd_kafka_err2str(err));
		bus_holds_revoke(c, parts);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else {
			rd_kafka_assign(rk, NULL);
			c->ready = 0;
		}
	}
	if (e != NULL) {
		log_warnx("kafka assign: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
}

/* Group-less: assigns every partition of one topic from the beginning; n or -1. */
static int
bus_assign_topic(struct bus_consumer *c, const char *topic)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t *e;
	int n = 0;

	if (rkt == NULL)
		return -1;
	if (rd_kafka_metadata(c->rk, 0, rkt, &md, 1000) ==
	    RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
	    md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
		n = md->topics[0].partition_cnt;
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	if (n <= 0)
		return -1;
	l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	e = rd_kafka_incremental_assign(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e != NULL) {
		log_warnx("kafka assign %s: %s", topic, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return -1;
	}
	log_info("kafka: reading all %d partitions of %s from the beginning", n,
	    topic);
	return n;
}


/* Assigns the topics not assigned yet; retries later if some are missing. */
static void
bus_assign_all(struct bus_consumer *c)
{
	struct timeval tv = { BUS_META_RETRY_MS / 1000, 0 };
	int missing = 0;

	for (size_t i = 0; i < c->ntopics; i++) {
		int n = c->assigned[i] ? 0 : bus_assign_topic(c, c->topics[i]);

		if (n > 0) {
			c->partitions[i] = n;
			c->assigned[i] = 1;
		}
		missing += !c->assigned[i];
	}
	c->ready = missing == 0;
	if (missing > 0) {
		log_info("kafka: %d topics not there yet; retrying", missing);
		evtimer_add(c->meta, &tv);
	}
}

static void
bus_on_meta_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bus_assign_all(arg);
}

static rd_kafka_conf_t *
bus_consumer_conf(struct bus_consumer *c, const struct bus_consumer_config
    *cfg, struct error *err)
{
	char group[64];
	rd_kafka_conf_t *conf;
	/*
	 * Without a group, librdkafka still wants a group.id for its poll
	 * path; nothing is committed under this throwaway one. A 6 s session
	 * (the broker's minimum) lets a crashed replica's partitions move on
	 * quickly; heartbeats come from librdkafka's thread, not the loop.
	 */
	const char *kv[] = { "group.id", group, "enable.auto.commit",
	    cfg->group ? "true" : "false", "enable.auto.offset.store", "false",
	    "auto.offset.reset", "earliest", "session.timeout.ms", "6000",
	    "heartbeat.interval.ms", "2000",
	    "topic.metadata.refresh.interval.ms", "10000",
	    /* Group-less: tells when the replay has reached the end. */
	    "enable.partition.eof", cfg->group ? "false" : "true", NULL };

	if (cfg->group != NULL)
		snprintf(group, sizeof(group), "%s", cfg->group);
	else
		snprintf(group, sizeof(group), "slipway-nogroup-%ld-%ld",
		    (long)getpid(), (long)time(NULL));
	if ((conf = bus_conf_base(cfg->brokers, err)) == NULL)
		return NULL;
	if (bus_conf_all(conf, kv, err) == -1) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (cfg->group != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, bus_on_rebalance);
	rd_kafka_conf_set_opaque(conf, c);
	return conf;
}

static int
bus_consumer_topics(struct bus_consumer *c, const char *const *topics,
    struct error *err)
{
	size_t n = 0;

	while (topics != NULL && topics[n] != NULL)
		n++;
	if (n == 0) {
		error_set(err, "bus_config", "topics", "no topics to consume");
		return -1;
	}
	c->topics = calloc(n, sizeof(char *));
	c->assigned = calloc(n, sizeof(int));
	c->partitions = calloc(n, sizeof(int));
	c->eof = calloc(n, sizeof(uint64_t));
	if (c->topics == NULL || c->assigned == NULL || c->partitions == NULL ||
	    c->eof == NULL)
		goto oom;
	for (c->ntopics = 0; c->ntopics < n; c->ntopics++)
		if ((c->topics[c->ntopics] = strdup(topics[c->ntopics])) == NULL)
			goto oom;
	return 0;
oom:
	error_set(err, "internal", "", "out of memory");
	return -1;
}

static int
bus_subscribe(struct bus_consumer *c, struct error *err)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t rc;

	l = rd_kafka_topic_partition_list_new((int)c->ntopics);
	for (size_t i = 0; i < c->ntopics; i++)
		rd_kafka_topic_partition_list_add(l, c->topics[i],
		    RD_KAFKA_PARTITION_UA);
	rc = rd_kafka_subscribe(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
		error_set(err, "bus_error", "", "subscribe: %s", rd_kafka_err2str(rc));
		return -1;
	}
	return 0;
}

/* Creates the rd_kafka_t and wires its consumer queue to the loop. */
static int
bus_consumer_start(struct bus_consumer *c, const struct bus_consumer_config
    *cfg, struct error *err)
{
	rd_kafka_conf_t *conf;
	char errstr[256];

	if ((conf = bus_consumer_conf(c, cfg, err)) == NULL)
		return -1;
	if ((c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		rd_kafka_conf_destroy(conf);
		error_set(err, "bus_config", "", "kafka consumer: %s", errstr);
		return -1;
	}
	rd_kafka_set_log_queue(c->rk, NULL);
	rd_kafka_poll_set_consumer(c->rk);
	c->q = rd_kafka_queue_get_consumer(c->rk);
	c->more = event_new(c->base, -1, 0, bus_consumer_serve, c);
	c->meta = evtimer_new(c->base, bus_on_meta_timer, c);
	if (c->q == NULL || c->more == NULL || c->meta == NULL) {
		error_set(err, "internal", "", "cannot set up the consumer queue");
		return -1;
	}
	return bus_wake_init(&c->wake, c->base, c->q, bus_consumer_serve, c, err);
}

/*
 * A rejected message must have somewhere to go, or its partition stalls
 * behind it: make sure every consumed topic has its <topic>.dlq. A failure
 * here is only logged; the dead-letter produce retries later.
 */
static void
bus_ensure_dlq(const struct bus_consumer_config *cfg)
{
	char names[16][256];
	const char *list[17];
	struct error err;
	size_t n = 0;

	for (; n < 16 && cfg->topics[n] != NULL; n++) {
		snprintf(names[n], sizeof(names[n]), "%s.dlq", cfg->topics[n]);
		list[n] = names[n];
	}
	list[n] = NULL;
	if (bus_topic_ensure(cfg->brokers, list, 1, 0, 10000, &err) == -1)
		log_warnx("cannot create dead-letter topics: %s", err.msg);
}

static struct bus_consumer *
bus_consumer_create(struct event_base *base,
    const struct bus_consumer_config *cfg, bus_handler handler,
    struct bus_batch *batch, void *arg, struct error *err)
{
	struct bus_consumer *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		bus_batch_free(batch);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	c->base = base;
	c->handler = handler;
	c->batch = batch;
	c->arg = arg;
	c->dlq = cfg->dlq;
	c->grouped = cfg->group != NULL;
	c->wake.fds[0] = c->wake.fds[1] = -1;
	if (c->grouped && c->dlq == NULL) {
		/* Its rejected messages would have nowhere to go but away. */
		error_set(err, "internal", "", "kafka consumer %s has no "
		    "dead-letter producer", cfg->group);
		bus_consumer_free(c);
		return NULL;
	}
	if (c->grouped)
		bus_ensure_dlq(cfg);
	if (bus_consumer_topics(c, cfg->topics, err) == -1 ||
	    bus_consumer_start(c, cfg, err) == -1 ||
	    (c->grouped && bus_subscribe(c, err) == -1)) {
		bus_consumer_free(c);
		return NULL;
	}
	if (!c->grouped)
		bus_assign_all(c);
	return c;
}

struct bus_consumer *
bus_consumer_new(struct event_base *base, const struct bus_consumer_config *cfg,
    bus_handler handler, void *arg, struct error *err)
{
	return bus_consumer_create(base, cfg, handler, NULL, arg, err);
}

struct bus_consumer *
bus_consumer_new_batch(struct event_base *base,
    const struct bus_consumer_config *cfg, bus_batch_handler handler,
    size_t batch_max, void *arg, struct error *err)
{
	struct bus_batch *b;

	if (batch_max == 0 || batch_max > BUS_BATCH_MAX) {
		error_set(err, "bus_config", "batch_max", "batch size %zu is not "
		    "1-%d", batch_max, BUS_BATCH_MAX);
		return NULL;
	}
	if ((b = bus_batch_new(handler, batch_max)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	return bus_consumer_create(base, cfg, NULL, b, arg, err);
}

int
bus_consumer_ready(const struct bus_consumer *c)
{
	return c != NULL && c->ready;
}

int
bus_consumer_caught_up(const struct bus_consumer *c)
{
	if (c == NULL)
		return 0;
	return c->grouped ? c->ready : c->ready && c->caught_up;
}

void
bus_consumer_free(struct bus_consumer *c)
{
	rd_kafka_resp_err_t rc;

	if (c == NULL)
		return;
	c->closing = 1;
	while (c->holds != NULL)
		bus_hold_free(c->holds);
	/* DLQ reports still in flight must not find a freed consumer. */
	for (struct bus_dlq_wait *w = c->waits; w != NULL; w = w->next)
		w->c = NULL;
	if (c->rk != NULL) {
		/* Leaves the group and commits the stored offsets. */
		if ((rc = rd_kafka_consumer_close(c->rk)) != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_warnx("kafka consumer close: %s", rd_kafka_err2str(rc));
	}
	bus_wake_free(&c->wake, c->q);
	if (c->more != NULL)
		event_free(c->more);
	if (c->meta != NULL)
		event_free(c->meta);
	if (c->q != NULL)
		rd_kafka_queue_destroy(c->q);
	if (c->rk != NULL)
		rd_kafka_destroy(c->rk);
	for (size_t i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	free(c->assigned);
	free(c->partitions);
	free(c->eof);
	bus_batch_free(c->batch);
	free(c);
}

/* --- admin -------------------------------------------------------------- */

static rd_kafka_NewTopic_t *
bus_new_topic(const char *name, int partitions, int compacted,
    struct error *err)
{
	char errstr[256];
	rd_kafka_NewTopic_t *t;

	/* -1: the broker's default.replication.factor. */
	t = rd_kafka_NewTopic_new(name, partitions, -1, errstr, sizeof(errstr));
	if (t == NULL) {
		error_set(err, "bus_error", "", "topic %s: %s", name, errstr);
		return NULL;
	}
	if (compacted)
		rd_kafka_NewTopic_set_config(t, "cleanup.policy", "compact");
	return t;
}

/* Reads the CreateTopics result; existing topics are fine. */
static int
bus_topic_results(rd_kafka_event_t *ev, struct error *err)
{
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	size_t n;

	if (ev == NULL) {
		error_set(err, "unavailable", "", "kafka did not answer CreateTopics");
		return -1;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		error_set(err, "unavailable", "", "CreateTopics: %s",
		    rd_kafka_event_error_string(ev));
		return -1;
	}
	res = rd_kafka_event_CreateTopics_result(ev);
	tr = rd_kafka_CreateTopics_result_topics(res, &n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);

		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			log_info("kafka topic %s created",
			    rd_kafka_topic_result_name(tr[i]));
		} else if (e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
			/*
			 * On an authorized bus a principal without Create (an
			 * agent) leaves its topics to whoever has it (deploy-svc
			 * registering the data plane): it reads them once there.
			 */
			log_info("kafka topic %s: not authorized to create it; "
			    "it is created by another principal",
			    rd_kafka_topic_result_name(tr[i]));
		} else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			error_set(err, "bus_error", "", "topic %s: %s",
			    rd_kafka_topic_result_name(tr[i]),
			    rd_kafka_topic_result_error_string(tr[i]));
			return -1;
		}
	}
	return 0;
}

static int
bus_create_topics(rd_kafka_t *rk, rd_kafka_NewTopic_t **nt, size_t n,
    int timeout_ms, struct error *err)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_event_t *ev;
	char errstr[256];
	int rc;

	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
	    sizeof(errstr));
	rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr,
	    sizeof(errstr));
	rd_kafka_CreateTopics(rk, nt, n, opts, q);
	/* A little slack: the request itself times out at timeout_ms. */
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	rc = bus_topic_results(ev, err);
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

int
bus_topic_ensure(const char *brokers, const char *const *topics,
    int partitions, int compacted, int timeout_ms, struct error *err)
{
	rd_kafka_NewTopic_t *nt[64];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[256];
	size_t n = 0;
	int rc = -1;

	if ((conf = bus_conf_base(brokers, err)) == NULL)
		return -1;
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		rd_kafka_conf_destroy(conf);
		error_set(err, "bus_config", "", "kafka admin: %s", errstr);
		return -1;
	}
	rd_kafka_set_log_queue(rk, NULL);
	for (; topics[n] != NULL; n++) {
		if (n == 64) {
			error_set(err, "bus_config", "topics", "too many topics");
			goto out;
		}
		if ((nt[n] = bus_new_topic(topics[n], partitions, compacted,
		    err)) == NULL)
			goto out;
	}
	rc = n > 0 ? bus_create_topics(rk, nt, n, timeout_ms, err) : 0;
out:
	rd_kafka_NewTopic_destroy_array(nt, n);
	rd_kafka_poll(rk, 0);   /* log lines queued meanwhile, on this thread */
	rd_kafka_destroy(rk);
	return rc;
}
