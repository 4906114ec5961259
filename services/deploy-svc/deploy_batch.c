/*
 * deploy_batch.c: what the consumer hands over at once is applied in ONE
 * Postgres transaction: each message deduplicated (processed_events) and
 * applied in order, then one commit, then the bus stores the offsets.
 *
 * Per partition the messages stay in order: once one of them cannot be
 * applied, the partition's later messages of the batch are not applied
 * either (the bus delivers them again after it, bus.h). A message that
 * fails for a reason of its own (bad: dead-lettered; its component not
 * known yet: retried) rolls the transaction back and the batch is applied
 * again without it and its partition's later messages: each such pass
 * stops one more message, so there are at most n + 1 passes. A failure of
 * Postgres itself (down, commit refused) fails the whole batch: every
 * message is retried, none skipped.
 *
 * Events whose table row has apply_many (ImagePushed) go in runs: the
 * consecutive wanted ones of a type are deduplicated in one statement and
 * applied in one call, which names the first one at fault as the one-by-
 * one loop would. When a run fails as a whole and none can be blamed (a
 * statement of many rows refused), the pass is rolled back and the batch
 * goes again one event at a time, which blames the right one: one pass
 * more at most.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "bus.h"
#include "dedup.h"
#include "log.h"
#include "outbox.h"
#include "store.h"

#define DEPLOY_BATCH_PARTS_MAX 64   /* distinct partitions tracked per batch */

struct deploy_batch_item {
	const struct bus_message *m;
	Envelope *env;                       /* NULL: nothing to apply */
	const struct deploy_consume_entry *e;   /* NULL: nothing to apply */
	size_t part;                         /* index into the batch's partitions */
	int applied;                         /* first time seen, in the last pass */
};

struct deploy_batch {
	struct deploy *d;
	struct deploy_batch_item *items;
	size_t n;
	enum bus_result *res;
	struct error *reasons;
	/* Per distinct partition: the index it stops at (n: none yet). */
	const char *topics[DEPLOY_BATCH_PARTS_MAX];
	int32_t partitions[DEPLOY_BATCH_PARTS_MAX];
	size_t stop[DEPLOY_BATCH_PARTS_MAX];
	size_t nparts;
	int one_by_one;      /* a run failed as a whole: no more runs */
	/* A run's scratch, n entries each. */
	size_t *run, *map;
	const char **ids;
	int *fresh;
	const Envelope **envs;
	const struct bus_message **ms;
};

/* The index of m's partition; past the table's size all share the last row. */
static size_t
deploy_batch_part(struct deploy_batch *b, const struct bus_message *m)
{
	const char *topic = bus_message_topic(m);
	int32_t p = bus_message_partition(m);

	for (size_t i = 0; i < b->nparts; i++)
		if (b->partitions[i] == p && strcmp(b->topics[i], topic) == 0)
			return i;
	/*
	 * Sharing a row only stops more messages than needed (they come
	 * again), never fewer: ordering holds either way.
	 */
	if (b->nparts == DEPLOY_BATCH_PARTS_MAX)
		return DEPLOY_BATCH_PARTS_MAX - 1;
	b->topics[b->nparts] = topic;
	b->partitions[b->nparts] = p;
	b->stop[b->nparts] = b->n;
	return b->nparts++;
}

/* 1 when message i comes after its partition's stop (the bus ignores it). */
static int
deploy_batch_blocked(const struct deploy_batch *b, size_t i)
{
	return b->stop[b->items[i].part] < i;
}

/* Message i's verdict is final and not DONE: its partition stops there. */
static void
deploy_batch_stop(struct deploy_batch *b, size_t i)
{
	if (b->stop[b->items[i].part] > i)
		b->stop[b->items[i].part] = i;
}

/*
 * Decodes message i; what needs no transaction gets its verdict here
 * (tombstones and payloads that are not ours are done, undecodable ones
 * rejected).
 */
static void
deploy_batch_decode(struct deploy_batch *b, size_t i)
{
	struct deploy_batch_item *it = &b->items[i];
	const void *val;
	size_t len;

	b->res[i] = BUS_DONE;
	if ((val = bus_message_value(it->m, &len)) == NULL)
		return;   /* tombstone: nothing to apply */
	it->env = envelope_decode(val, len, bus_message_header(it->m,
	    "event-type"), &b->reasons[i]);
	if (it->env == NULL) {
		b->res[i] = BUS_REJECT;
		deploy_batch_stop(b, i);
		return;
	}
	it->e = deploy_consume_lookup(it->env->payload_case);
}

/*
 * 1 when message i is to be applied in the transaction: its partition has
 * not stopped at it (its verdict is final) or before it.
 */
static int
deploy_batch_wanted(const struct deploy_batch *b, size_t i)
{
	return b->items[i].e != NULL && b->stop[b->items[i].part] > i;
}

/*
 * Every message the transaction would apply is retried: after a rollback
 * no DONE of the pass may stand, or its offset would be stored for work
 * that was undone.
 */
static void
deploy_batch_undo(struct deploy_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (deploy_batch_wanted(b, i)) {
			b->res[i] = BUS_RETRY;
			b->items[i].applied = 0;
		}
}

/* Postgres failed the batch: every message it holds is retried. */
static void
deploy_batch_retry_all(struct deploy_batch *b, const struct error *err)
{
	log_warnx("batch of %zu rolled back, will retry: %s", b->n, err->msg);
	deploy_batch_undo(b);
}

/*
 * Dedup + apply of message i inside the transaction: 0 (done, or a
 * duplicate), -1 with err.
 */
static int
deploy_batch_apply(struct deploy_batch *b, size_t i, struct error *err)
{
	struct deploy_batch_item *it = &b->items[i];
	int rc;

	log_ctx_set("event_id", it->env->event_id);
	rc = dedup_claim(b->d->store, it->env->event_id, DEPLOY_SERVICE, err);
	if (rc == 0)
		log_debug("event already processed");
	else if (rc == 1)
		rc = it->e->apply(b->d, it->env, it->m, err);
	it->applied = rc == 0;
	log_ctx_clear();
	return rc == -1 ? -1 : 0;
}

/*
 * The run that message i starts: it and the later wanted messages of its
 * type up to one of another type (only i when one_by_one), into b->run.
 */
static size_t
deploy_batch_run_collect(struct deploy_batch *b, size_t i)
{
	size_t k = 0;

	for (size_t j = i; j < b->n; j++) {
		if (!deploy_batch_wanted(b, j))
			continue;   /* nothing to apply: it breaks no run */
		if (b->items[j].e != b->items[i].e)
			break;
		b->run[k++] = j;
		if (b->one_by_one)
			break;
	}
	return k;
}

/*
 * The message blamed for a failure at index bad of the k messages idx
 * maps: that one, the only one, or none (b->n).
 */
static size_t
deploy_batch_blame(const struct deploy_batch *b, const size_t *idx,
    size_t bad, size_t k)
{
	if (bad < k)
		return idx[bad];
	return k == 1 ? idx[0] : b->n;
}

/*
 * Dedup + apply of the run of k messages in b->run, inside the
 * transaction: 0, or -1 with err and *failed the message at fault (b->n
 * when the run failed as a whole).
 */
static int
deploy_batch_apply_run(struct deploy_batch *b, size_t k, size_t *failed,
    struct error *err)
{
	const struct deploy_consume_entry *e = b->items[b->run[0]].e;
	size_t nf = 0, bad;

	for (size_t j = 0; j < k; j++)
		b->ids[j] = b->items[b->run[j]].env->event_id;
	if (dedup_claim_many(b->d->store, b->ids, k, DEPLOY_SERVICE, b->fresh,
	    &bad, err) == -1) {
		*failed = deploy_batch_blame(b, b->run, bad, k);
		return -1;
	}
	for (size_t j = 0; j < k; j++) {
		struct deploy_batch_item *it = &b->items[b->run[j]];

		if (!b->fresh[j]) {
			log_ctx_set("event_id", it->env->event_id);
			log_debug("event already processed");
			log_ctx_clear();
			continue;
		}
		b->envs[nf] = it->env;
		b->ms[nf] = it->m;
		b->map[nf++] = b->run[j];
	}
	if (nf > 0 && e->apply_many(b->d, b->envs, b->ms, nf, &bad, err) == -1) {
		*failed = deploy_batch_blame(b, b->map, bad, nf);
		return -1;
	}
	for (size_t j = 0; j < k; j++) {
		b->items[b->run[j]].applied = 1;
		b->res[b->run[j]] = BUS_DONE;
	}
	return 0;
}

/* Applies message i, or the run it starts: 0, or -1 with err and *failed. */
static int
deploy_batch_step(struct deploy_batch *b, size_t i, size_t *failed,
    struct error *err)
{
	if (b->items[i].e->apply_many != NULL)
		return deploy_batch_apply_run(b, deploy_batch_run_collect(b, i),
		    failed, err);
	*failed = i;
	if (deploy_batch_apply(b, i, err) == -1)
		return -1;
	b->res[i] = BUS_DONE;
	return 0;
}

/*
 * One pass over the batch in one transaction. 1: committed. 0: message
 * *failed failed for a reason of its own (rolled back, its verdict set:
 * pass again without it), or a run failed as a whole (*failed = n: pass
 * again one by one). -1: Postgres failed the whole batch (every verdict
 * set to retry).
 */
static int
deploy_batch_pass(struct deploy_batch *b, size_t *failed)
{
	struct store *s = b->d->store;
	struct error err;
	size_t at;

	error_clear(&err);
	if (store_begin(s, &err) == -1) {
		deploy_batch_retry_all(b, &err);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		b->items[i].applied = 0;
	for (size_t i = 0; i < b->n; i++) {
		/* A run's later messages were applied with its first. */
		if (!deploy_batch_wanted(b, i) || b->items[i].applied)
			continue;
		if (deploy_batch_step(b, i, &at, &err) == 0)
			continue;
		store_rollback(s);
		if (strcmp(err.code, "unavailable") == 0) {
			deploy_batch_retry_all(b, &err);
			return -1;
		}
		deploy_batch_undo(b);
		*failed = at;
		if (at == b->n) {
			log_warnx("a run of the batch failed as a whole, applying "
			    "it one by one: %s", err.msg);
			b->one_by_one = 1;
			return 0;
		}
		log_ctx_set("event_id", b->items[at].env->event_id);
		b->res[at] = deploy_consume_fail(b->items[at].m, &err,
		    &b->reasons[at]);
		log_ctx_clear();
		return 0;
	}
	if (store_commit(s, &err) == -1) {
		deploy_batch_retry_all(b, &err);
		return -1;
	}
	return 1;
}

/* After the commit: the relay sends the new outbox rows, parked requests go on. */
static void
deploy_batch_committed(struct deploy_batch *b)
{
	int any = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct deploy_batch_item *it = &b->items[i];

		if (!it->applied || !deploy_batch_wanted(b, i))
			continue;
		any = 1;
		if (it->e->wake != NULL)
			park_notify(b->d->parked, it->e->wake(it->env));
	}
	if (any)
		outbox_relay_kick(b->d->relay);
}

static void
deploy_batch_run(struct deploy_batch *b)
{
	size_t failed = 0;
	int rc = 0;

	/* n + 1 passes, and one more when a run had to go one by one. */
	for (size_t pass = 0; pass <= b->n + 1 && rc == 0; pass++) {
		rc = deploy_batch_pass(b, &failed);
		if (rc == 0 && failed < b->n)
			deploy_batch_stop(b, failed);
	}
	if (rc == 1)
		deploy_batch_committed(b);
	else
		deploy_batch_undo(b);   /* nothing committed: nothing is done */
}

static void
deploy_batch_free(struct deploy_batch *b)
{
	free(b->items);
	free(b->run);
	free(b->map);
	free(b->ids);
	free(b->fresh);
	free(b->envs);
	free(b->ms);
}

/* The items and a run's scratch for n messages; -1 without memory. */
static int
deploy_batch_alloc(struct deploy_batch *b, size_t n)
{
	b->items = calloc(n, sizeof(*b->items));
	b->run = calloc(n, sizeof(*b->run));
	b->map = calloc(n, sizeof(*b->map));
	b->ids = calloc(n, sizeof(*b->ids));
	b->fresh = calloc(n, sizeof(*b->fresh));
	b->envs = calloc(n, sizeof(*b->envs));
	b->ms = calloc(n, sizeof(*b->ms));
	return b->items == NULL || b->run == NULL || b->map == NULL ||
	    b->ids == NULL || b->fresh == NULL || b->envs == NULL ||
	    b->ms == NULL ? -1 : 0;
}

void
deploy_batch_handle(const struct bus_message *const *ms, size_t n,
    enum bus_result *res, struct error *reasons, void *arg)
{
	struct deploy_batch b = { .d = arg, .n = n, .res = res,
	    .reasons = reasons };

	if (deploy_batch_alloc(&b, n) == -1) {
		log_warnx("out of memory for a batch of %zu: retrying it", n);
		deploy_batch_free(&b);
		return;   /* every result is BUS_RETRY already */
	}
	for (size_t i = 0; i < n; i++) {
		b.items[i].m = ms[i];
		b.items[i].part = deploy_batch_part(&b, ms[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (!deploy_batch_blocked(&b, i))
			deploy_batch_decode(&b, i);
	deploy_batch_run(&b);
	log_debug("batch of %zu applied", n);
	for (size_t i = 0; i < n; i++)
		envelope_free(b.items[i].env);
	deploy_batch_free(&b);
}
