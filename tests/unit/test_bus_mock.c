/*
 * test_bus_mock.c: bus.c against librdkafka's in-process mock cluster, for
 * the faults a real broker will not produce on demand:
 *   - a produce that meets transient broker errors (and a broker that is
 *     down for a while) is retried and finally acknowledged;
 *   - a handler answering BUS_RETRY gets the same message again, later
 *     messages of the partition wait, and no offset is stored for it: a new
 *     consumer of the group starts at that message again;
 *   - BUS_REJECT sends the message to <topic>.dlq with the dlq-* headers and
 *     the original ones, then the offset moves on;
 *   - the same two in batches: a retried or rejected message stops its
 *     partition there, whatever the handler answered for the later ones;
 *   - topics created off the loop report back through it.
 * The mock cluster is for fault injection in this binary only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus.h"
#include "bus_topics.h"

#define API_PRODUCE 0    /* Kafka protocol ApiKey of Produce */

struct fixture {
	rd_kafka_t *mrk;                    /* owns the mock cluster */
	rd_kafka_mock_cluster_t *mc;
	char brokers[256];
	struct event_base *base;
	struct bus_producer *p;
};

/* --- helpers ------------------------------------------------------------ */

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *v >= want or the deadline passes. */
static int
run_until(struct event_base *base, const int *v, int want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (*v < want && now_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
	return *v >= want;
}

static void
run_for(struct event_base *base, int ms)
{
	static const int never = 0;

	(void)run_until(base, &never, 1, ms);
}

struct delivery {
	int done;
	int ok;
};

static void
on_delivery(int ok, const char *errstr, void *arg)
{
	struct delivery *d = arg;

	(void)errstr;
	d->ok = ok;
	d->done = 1;
}

static int
produce_wait(struct fixture *f, const char *topic, const char *key,
    const char *value, int timeout_ms)
{
	struct bus_header hdr = { "x-origin", "test" };
	struct delivery d = { 0, 0 };
	struct error err;

	assert_int_equal(bus_produce(f->p, topic, key, value, strlen(value),
	    &hdr, 1, on_delivery, &d, &err), 0);
	assert_true(run_until(f->base, &d.done, 1, timeout_ms));
	return d.ok;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256];
	struct error err;

	assert_non_null(f);
	rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
	f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(f->mrk);
	f->mc = rd_kafka_mock_cluster_new(f->mrk, 1);
	assert_non_null(f->mc);
	snprintf(f->brokers, sizeof(f->brokers), "%s",
	    rd_kafka_mock_cluster_bootstraps(f->mc));
	f->base = event_base_new();
	f->p = bus_producer_new(f->base, f->brokers, "test", &err);
	assert_non_null(f->p);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	bus_producer_free(f->p);
	event_base_free(f->base);
	rd_kafka_mock_cluster_destroy(f->mc);
	rd_kafka_destroy(f->mrk);
	free(f);
	return 0;
}

/* --- producer ----------------------------------------------------------- */

static void
test_produce_through_transient_errors(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.produce", 1, 1), 0);
	/* Warm up: the idempotent producer gets its PID first. */
	assert_true(produce_wait(f, "t.produce", "k", "warm", 10000));
	rd_kafka_mock_push_request_errors(f->mc, API_PRODUCE, 3,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	assert_true(produce_wait(f, "t.produce", "k", "v1", 15000));
}

static void
test_produce_while_broker_down(void **state)
{
	struct fixture *f = *state;
	struct delivery d = { 0, 0 };
	struct error err;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.down", 1, 1), 0);
	assert_true(produce_wait(f, "t.down", "k", "warm", 10000));
	rd_kafka_mock_broker_set_down(f->mc, 1);
	assert_int_equal(bus_produce(f->p, "t.down", "k", "v", 1, NULL, 0,
	    on_delivery, &d, &err), 0);
	run_for(f->base, 700);
	assert_int_equal(d.done, 0);   /* still waiting, not failed */
	rd_kafka_mock_broker_set_up(f->mc, 1);
	assert_true(run_until(f->base, &d.done, 1, 15000));
	assert_true(d.ok);
}

/* --- consumer ----------------------------------------------------------- */

struct seen {
	int n;
	char keys[16][16];
	int64_t offsets[16];
	int attempts[16];
	enum bus_result (*verdict)(const struct bus_message *, struct error *);
};

static enum bus_result
record(const struct bus_message *m, void *arg, struct error *reason)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", bus_message_key(m));
		s->offsets[s->n] = bus_message_offset(m);
		s->attempts[s->n] = bus_message_attempt(m);
	}
	s->n++;
	return s->verdict(m, reason);
}

static enum bus_result
always_retry(const struct bus_message *m, struct error *reason)
{
	(void)m;
	(void)reason;
	return BUS_RETRY;
}

/* "retry" twice, then done; "bad" rejected; everything else done. */
static enum bus_result
mixed(const struct bus_message *m, struct error *reason)
{
	const char *k = bus_message_key(m);

	if (strcmp(k, "retry") == 0 && bus_message_attempt(m) < 3)
		return BUS_RETRY;
	if (strcmp(k, "bad") == 0) {
		error_set(reason, "bad_envelope", "", "test rejects %s", k);
		return BUS_REJECT;
	}
	return BUS_DONE;
}

static enum bus_result
done(const struct bus_message *m, struct error *reason)
{
	(void)m;
	(void)reason;
	return BUS_DONE;
}

static struct bus_consumer *
consume(struct fixture *f, const char *group, const char *topic,
    struct seen *s)
{
	const char *topics[] = { topic, NULL };
	struct bus_consumer_config cfg = { .brokers = f->brokers,
	    .group = group, .topics = topics, .dlq = f->p };
	struct error err;
	struct bus_consumer *c = bus_consumer_new(f->base, &cfg, record, s, &err);

	assert_non_null(c);
	return c;
}

static int64_t
committed(struct fixture *f, const char *group, const char *topic)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l;
	char errstr[256];
	rd_kafka_t *rk;
	int64_t off;

	rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, errstr,
	    sizeof(errstr));
	rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	assert_non_null(rk);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0);
	assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
	off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return off;
}

/* Runs the loop until the group's committed offset is want (1) or timeout (0). */
static int
run_until_committed(struct fixture *f, const char *group, const char *topic,
    int64_t want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	while (committed(f, group, topic) != want) {
		if (now_ms() > end)
			return 0;
		run_for(f->base, 200);
	}
	return 1;
}

static void
test_retry_redelivers_and_stores_nothing(void **state)
{
	struct fixture *f = *state;
	struct seen a = { .verdict = always_retry }, b = { .verdict = mixed };
	struct seen dlq = { .verdict = done };
	struct bus_consumer *c;
	const char *keys[] = { "retry", "bad", "after" };

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.cons", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.cons.dlq", 1, 1), 0);
	for (int i = 0; i < 3; i++)
		assert_true(produce_wait(f, "t.cons", keys[i], "v", 10000));

	/* A: the first message is retried with backoff; nothing moves on. */
	c = consume(f, "g1", "t.cons", &a);
	assert_true(run_until(f->base, &a.n, 3, 20000));
	for (int i = 0; i < 3; i++) {
		assert_string_equal(a.keys[i], "retry");
		assert_int_equal(a.offsets[i], 0);
		assert_int_equal(a.attempts[i], i + 1);
	}
	bus_consumer_free(c);   /* commits stored offsets: there are none */
	assert_true(committed(f, "g1", "t.cons") < 0);

	/* B: the group starts at the retried message again. */
	c = consume(f, "g1", "t.cons", &b);
	/* Rejoining the group A left: see test_batch_retry_holds_partition. */
	assert_true(run_until(f->base, &b.n, 5, 60000));
	run_for(f->base, 300);
	assert_int_equal(b.n, 5);   /* retry x3, bad, after */
	assert_string_equal(b.keys[0], "retry");
	assert_int_equal(b.offsets[0], 0);
	assert_int_equal(b.attempts[2], 3);
	assert_string_equal(b.keys[3], "bad");
	assert_string_equal(b.keys[4], "after");
	assert_true(bus_consumer_ready(c));
	bus_consumer_free(c);
	assert_int_equal(committed(f, "g1", "t.cons"), 3);

	/* The rejected message is in the DLQ (read without a group). */
	c = consume(f, NULL, "t.cons.dlq", &dlq);
	assert_true(run_until(f->base, &dlq.n, 1, 10000));
	assert_string_equal(dlq.keys[0], "bad");
	bus_consumer_free(c);
}

/* The DLQ message carries the dlq-* headers and the original ones. */
static char hdr_dump[256];

static enum bus_result
dump_headers(const struct bus_message *m, struct error *reason)
{
	(void)reason;
	snprintf(hdr_dump, sizeof(hdr_dump), "%s|%s|%s|%s|%s",
	    bus_message_header(m, "dlq-error"),
	    bus_message_header(m, "dlq-partition"),
	    bus_message_header(m, "dlq-offset"),
	    bus_message_header(m, "dlq-attempts"),
	    bus_message_header(m, "x-origin"));
	return BUS_DONE;
}

static void
test_dlq_headers(void **state)
{
	struct fixture *f = *state;
	struct seen s = { .verdict = mixed }, d = { .verdict = dump_headers };
	struct bus_consumer *c;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.rej", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.rej.dlq", 1, 1), 0);
	assert_true(produce_wait(f, "t.rej", "bad", "payload", 10000));
	c = consume(f, NULL, "t.rej", &s);
	assert_true(run_until(f->base, &s.n, 1, 10000));
	bus_consumer_free(c);
	c = consume(f, NULL, "t.rej.dlq", &d);
	assert_true(run_until(f->base, &d.n, 1, 10000));
	assert_string_equal(hdr_dump, "test rejects bad|0|0|1|test");
	bus_consumer_free(c);
}

/* A grouped consumer without a dead-letter producer is refused: its
 * rejected messages would have nowhere to go but away. */
static void
test_grouped_needs_dlq(void **state)
{
	struct fixture *f = *state;
	const char *topics[] = { "t.nodlq", NULL };
	struct bus_consumer_config cfg = { .brokers = f->brokers,
	    .group = "g-nodlq", .topics = topics, .dlq = NULL };
	struct seen s = { .verdict = mixed };
	struct error err;

	error_clear(&err);
	assert_null(bus_consumer_new(f->base, &cfg, record, &s, &err));
	assert_non_null(strstr(err.msg, "no dead-letter producer"));
}

/* --- consumer in batches ------------------------------------------------- */

/* Every message a batch handler was handed, in order, with its attempt. */
struct bseen {
	int n;          /* messages seen */
	int batches;
	char keys[64][16];
	int attempts[64];
	int retry_until;   /* "retry" is BUS_RETRY below this attempt (0: forever) */
};

static void
brecord(const struct bus_message *const *ms, size_t n, enum bus_result *res,
    struct error *reasons, void *arg)
{
	struct bseen *s = arg;

	s->batches++;
	for (size_t i = 0; i < n; i++) {
		const char *k = bus_message_key(ms[i]);
		int a = bus_message_attempt(ms[i]);

		if (s->n < 64) {
			snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", k);
			s->attempts[s->n] = a;
		}
		s->n++;
		/* Answers DONE for what follows a retried message too: the bus
		 * must not store an offset past the retried one for it. */
		res[i] = BUS_DONE;
		if (strcmp(k, "retry") == 0 &&
		    (s->retry_until == 0 || a < s->retry_until))
			res[i] = BUS_RETRY;
		if (strcmp(k, "bad") == 0) {
			error_set(&reasons[i], "bad_envelope", "", "test rejects %s", k);
			res[i] = BUS_REJECT;
		}
	}
}

static struct bus_consumer *
bconsume(struct fixture *f, const char *group, const char *topic,
    struct bseen *s, size_t max)
{
	const char *topics[] = { topic, NULL };
	struct bus_consumer_config cfg = { .brokers = f->brokers,
	    .group = group, .topics = topics, .dlq = f->p };
	struct error err;
	struct bus_consumer *c = bus_consumer_new_batch(f->base, &cfg, brecord,
	    max, s, &err);

	assert_non_null(c);
	return c;
}

/* The index of the last delivery of key at attempt (-1: none). */
static int
bseen_last(const struct bseen *s, const char *key, int attempt)
{
	int last = -1;

	for (int i = 0; i < s->n && i < 64; i++)
		if (strcmp(s->keys[i], key) == 0 &&
		    (attempt == 0 || s->attempts[i] == attempt))
			last = i;
	return last;
}

/*
 * A message retried in a batch holds its partition: the DONE answered for
 * the messages after it is not stored, they come again after it, in
 * order, and the group's committed offset never passes it.
 */
static void
test_batch_retry_holds_partition(void **state)
{
	struct fixture *f = *state;
	struct bseen a = { .retry_until = 0 }, b = { .retry_until = 3 };
	const char *keys[] = { "first", "retry", "after" };
	struct bus_consumer *c;
	int done_at;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.batch", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.batch.dlq", 1, 1), 0);
	for (int i = 0; i < 3; i++)
		assert_true(produce_wait(f, "t.batch", keys[i], "v", 10000));

	/* A: "retry" never succeeds; "first" is stored, nothing after it. */
	c = bconsume(f, "gb1", "t.batch", &a, 256);
	assert_true(run_until(f->base, &a.n, 6, 20000));
	assert_true(bseen_last(&a, "retry", 2) > 0);
	bus_consumer_free(c);
	assert_int_equal(committed(f, "gb1", "t.batch"), 1);

	/*
	 * B: the group resumes at "retry"; once done, "after" follows it.
	 * Twice in clean CI runs (never in 9 local runs of this file and 32
	 * of this test alone) a member joining right after A left was
	 * assigned the partition by the mock's coordinator and then fetched
	 * nothing, for 20 s once and 60 s the other time. A member that got nothing joins again:
	 * it stored no offset, so what B must see is unchanged. Consumers
	 * restarting against a real broker are the e2e suite's.
	 */
	for (int join = 0; join < 3 && b.n == 0; join++) {
		c = bconsume(f, "gb1", "t.batch", &b, 256);
		if (run_until(f->base, &b.n, 1, 20000))
			break;
		bus_consumer_free(c);
		c = NULL;
	}
	assert_non_null(c);
	assert_true(run_until(f->base, &b.n, 6, 60000));
	run_for(f->base, 300);
	assert_string_equal(b.keys[0], "retry");
	assert_int_equal(b.attempts[0], 1);
	done_at = bseen_last(&b, "retry", 3);
	assert_true(done_at >= 0);
	assert_true(bseen_last(&b, "after", 0) > done_at);
	assert_int_equal(bseen_last(&b, "first", 0), -1);
	bus_consumer_free(c);
	assert_int_equal(committed(f, "gb1", "t.batch"), 3);
}

/*
 * A rejected message in a batch goes to the DLQ without failing the
 * others; the offset passes it only once the DLQ has it.
 */
static void
test_batch_reject_to_dlq(void **state)
{
	struct fixture *f = *state;
	struct bseen s = { .retry_until = 0 };
	struct seen dlq = { .verdict = done };
	const char *keys[] = { "ok", "bad", "later" };
	struct bus_consumer *c;

	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.brej", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.brej.dlq", 1, 1), 0);
	for (int i = 0; i < 3; i++)
		assert_true(produce_wait(f, "t.brej", keys[i], "v", 10000));
	c = bconsume(f, "gb2", "t.brej", &s, 2);   /* batches of two at most */
	assert_true(run_until(f->base, &s.n, 3, 20000));
	/*
	 * "later" is stored only once the dead-letter copy of "bad" is
	 * acknowledged, which on a loaded machine can take a while: wait for
	 * the group's auto-commit to show it rather than for a fixed time.
	 */
	assert_true(run_until_committed(f, "gb2", "t.brej", 3, 20000));
	assert_string_equal(s.keys[0], "ok");
	assert_string_equal(s.keys[1], "bad");
	assert_int_equal(bseen_last(&s, "bad", 0), 1);   /* handed over once */
	assert_true(bseen_last(&s, "later", 0) > 1);
	bus_consumer_free(c);
	assert_int_equal(committed(f, "gb2", "t.brej"), 3);
	c = consume(f, NULL, "t.brej.dlq", &dlq);
	assert_true(run_until(f->base, &dlq.n, 1, 10000));
	assert_string_equal(dlq.keys[0], "bad");
	bus_consumer_free(c);
}

/* Batch sizes outside 1..BUS_BATCH_MAX are refused. */
static void
test_batch_size_checked(void **state)
{
	struct fixture *f = *state;
	const char *topics[] = { "t.bsize", NULL };
	struct bus_consumer_config cfg = { .brokers = f->brokers,
	    .group = "g-bsize", .topics = topics, .dlq = f->p };
	struct bseen s = { .retry_until = 0 };
	struct error err;

	assert_null(bus_consumer_new_batch(f->base, &cfg, brecord, 0, &s, &err));
	assert_null(bus_consumer_new_batch(f->base, &cfg, brecord,
	    BUS_BATCH_MAX + 1, &s, &err));
}

/* --- topics created off the loop ------------------------------------------ */

/* Runs the loop until bus_topics_ensure answers other than "under way". */
static int
topics_settle(struct fixture *f, struct bus_topics *bt,
    const char *const *topics, struct error *err, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int rc;

	for (;;) {
		error_clear(err);
		rc = bus_topics_ensure(bt, topics, 1, 0, 2000, err);
		if (rc != 0 || strcmp(err->code, "pending") != 0 || now_ms() > end)
			return rc;
		run_for(f->base, 50);
	}
}

/*
 * The creation runs on a thread: the call returns at once (0, under way)
 * and the result comes back through the loop. The mock cluster has no
 * controller for CreateTopics, so the creation fails there: the failure
 * is what comes back, and the set is tried again later, never dropped.
 */
static void
test_topics_off_the_loop(void **state)
{
	struct fixture *f = *state;
	struct bus_topics *bt = bus_topics_new(f->base, f->brokers);
	const char *one[] = { "t.made", NULL };
	const char *many[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL };
	struct error err;
	int rc;

	assert_non_null(bt);
	error_clear(&err);
	assert_int_equal(bus_topics_ensure(bt, one, 1, 0, 2000, &err), 0);
	assert_string_equal(err.code, "pending");
	rc = topics_settle(f, bt, one, &err, 30000);
	/* Created (a broker that can), or the failure reported back. */
	assert_true(rc == 1 || (rc == 0 && strcmp(err.code, "pending") != 0));
	if (rc == 0)
		assert_true(strlen(err.msg) > 0);
	assert_int_equal(bus_topics_ensure(bt, many, 1, 0, 2000, &err), -1);
	bus_topics_free(bt);   /* with a retry armed or a thread in flight */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_produce_through_transient_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_produce_while_broker_down,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlq_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grouped_needs_dlq, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_redelivers_and_stores_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_batch_retry_holds_partition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_reject_to_dlq, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batch_size_checked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_topics_off_the_loop, setup,
		    teardown),
	};

	/* BUS_MOCK_ONLY=<test name> runs that one (to repeat a rare failure). */
	if (getenv("BUS_MOCK_ONLY") != NULL)
		cmocka_set_test_filter(getenv("BUS_MOCK_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
