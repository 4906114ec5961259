/*
 * outbox.c: the transactional outbox and its relay.
 *
 * The relay runs on the event loop with its own connection. One pass: in a
 * transaction, take the schema's relay lock (one publisher at a time keeps
 * per-key order across replicas), lock the oldest unsent rows, produce them
 * in id order, flush, mark the acknowledged ones sent, commit. Rows that
 * were not acknowledged stay unsent and go out again on the next pass;
 * consumers dedup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "outbox.h"
#include "bus.h"
#include "store.h"
#include "log.h"

#define OUTBOX_BATCH        200
#define OUTBOX_FLUSH_MS     5000
#define OUTBOX_PURGE_EVERY  60    /* seconds between deletes of old rows */
#define OUTBOX_BACKOFF_MIN  1000  /* ms after a failed pass, doubling */
#define OUTBOX_BACKOFF_MAX  30000

struct outbox_relay {
	struct event_base *base;
	struct store *store;
	struct bus_producer *producer;
	struct event *timer;    /* the next pass */
	int interval_ms;
	/*
	 * A pass blocks the loop for up to the flush timeout while Kafka or
	 * Postgres is down; after a failure the relay waits backoff_ms (and
	 * ignores kicks) so the rest of the service keeps answering.
	 */
	int backoff_ms;
	time_t last_purge;
};

/*
 * One pass's rows. Delivery reports point into it, and one may arrive after
 * the flush gave up waiting: the last report out frees an abandoned batch.
 */
struct outbox_batch;
struct outbox_row {
	struct outbox_batch *batch;
	char id[24];            /* bigserial as text */
	int delivered;
};
struct outbox_batch {
	int pending;            /* queued, no delivery report yet */
	int abandoned;          /* the pass is over: the last report frees */
	struct outbox_row rows[];
};

const char outbox_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id bigserial PRIMARY KEY, topic text NOT NULL, key text NOT NULL,"
    " payload bytea, event_id text NOT NULL, event_type text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz);"
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id)"
    " WHERE sent_at IS NULL;";

int
outbox_add(struct store *s, const char *topic, const char *key,
    const void *payload, size_t len, const char *event_id,
    const char *event_type, struct error *err)
{
	const char *vals[5] = { topic, key, payload, event_id, event_type };
	int lens[5] = { -1, -1, (int)len, -1, -1 };

	if (len > 64 * 1024 * 1024) {
		error_set(err, "too_large", "payload", "outbox payload too large");
		return -1;
	}
	return store_exec(s, NULL, "INSERT INTO outbox (topic, key, payload, "
	    "event_id, event_type) VALUES ($1, $2, $3, $4, $5)", 5, vals, lens,
	    err);
}

static void
outbox_delivered(int ok, const char *errstr, void *arg)
{
	struct outbox_row *row = arg;
	struct outbox_batch *b = row->batch;

	row->delivered = ok;
	if (!ok)
		log_warnx("outbox row %s not delivered: %s", row->id, errstr);
	if (--b->pending == 0 && b->abandoned)
		free(b);
}

static void
outbox_batch_release(struct outbox_batch *b)
{
	if (b->pending == 0)
		free(b);
	else
		b->abandoned = 1;
}

/* Produces each locked row; stops at the first that cannot be queued. */
static void
outbox_produce_rows(struct outbox_relay *r, const struct store_result *res,
    struct outbox_batch *b, int n)
{
	struct outbox_row *rows = b->rows;
	struct error err;

	for (int i = 0; i < n; i++) {
		struct bus_header hdrs[2] = {
			{ "event-id", store_result_get(res, i, 4) },
			{ "event-type", store_result_get(res, i, 5) },
		};
		unsigned char *payload = NULL;
		size_t len = 0;

		rows[i].batch = b;
		snprintf(rows[i].id, sizeof(rows[i].id), "%s",
		    store_result_get(res, i, 0));
		if (!store_result_isnull(res, i, 3) &&
		    (payload = store_result_bytes(res, i, 3, &len)) == NULL) {
			log_warnx("outbox row %s: bad payload", rows[i].id);
			break;
		}
		if (bus_produce(r->producer, store_result_get(res, i, 1),
		    store_result_get(res, i, 2), payload, len, hdrs, 2,
		    outbox_delivered, &rows[i], &err) == -1) {
			log_warnx("outbox row %s: %s", rows[i].id, err.msg);
			free(payload);
			/* Later rows of the same key must not overtake this one. */
			break;
		}
		b->pending++;
		free(payload);
	}
}

/*
 * Marks the acknowledged rows. Undelivered rows stay unsent: the relay
 * republishes them, and the idempotent producer keeps per-partition order.
 */
static int
outbox_mark_sent(struct outbox_relay *r, struct outbox_row *rows, int n,
    struct error *err)
{
	const char *vals[1];

	for (int i = 0; i < n; i++) {
		if (!rows[i].delivered)
			continue;
		vals[0] = rows[i].id;
		if (store_exec(r->store, NULL, "UPDATE outbox SET sent_at = now() "
		    "WHERE id = $1", 1, vals, NULL, err) == -1)
			return -1;
	}
	return 0;
}

/* One publish pass inside a transaction; returns rows sent or -1. */
static int
outbox_pass(struct outbox_relay *r, struct error *err)
{
	struct store_result *res;
	struct outbox_batch *b;
	int n, sent = 0;

	/*
	 * One relay at a time per schema: with SKIP LOCKED alone, two replicas
	 * could publish rows of the same key out of order. The others skip
	 * this pass; the lock ends with the transaction.
	 */
	if (store_exec(r->store, &res, "SELECT pg_try_advisory_xact_lock("
	    "hashtext(current_schema() || '.outbox'))", 0, NULL, NULL, err) == -1)
		return -1;
	n = strcmp(store_result_get(res, 0, 0), "t") == 0;
	store_result_free(res);
	if (!n)
		return 0;
	if (store_exec(r->store, &res, "SELECT id, topic, key, payload, "
	    "event_id, event_type FROM outbox WHERE sent_at IS NULL ORDER BY id "
	    "LIMIT 200 FOR UPDATE SKIP LOCKED", 0, NULL, NULL, err) == -1)
		return -1;
	if ((n = store_result_rows(res)) == 0) {
		store_result_free(res);
		return 0;
	}
	b = calloc(1, sizeof(*b) + (size_t)n * sizeof(b->rows[0]));
	if (b == NULL) {
		store_result_free(res);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	outbox_produce_rows(r, res, b, n);
	store_result_free(res);
	if (bus_producer_flush(r->producer, OUTBOX_FLUSH_MS) != 0)
		log_warnx("outbox: flush timed out; unacknowledged rows stay unsent");
	if (outbox_mark_sent(r, b->rows, n, err) == 0)
		for (int i = 0; i < n; i++)
			sent += b->rows[i].delivered;
	outbox_batch_release(b);
	if (err->code[0] == '\0' && sent < n)
		error_set(err, "unavailable", "", "%d of %d rows not delivered",
		    n - sent, n);
	/* Commit what was delivered even when some rows were not. */
	return err->code[0] && strcmp(err->code, "unavailable") != 0 ? -1 : sent;
}

/* Deletes rows sent more than an hour ago, at most once a minute. */
static void
outbox_purge(struct outbox_relay *r)
{
	struct error err;
	time_t now = time(NULL);

	if (now - r->last_purge < OUTBOX_PURGE_EVERY)
		return;
	r->last_purge = now;
	if (store_exec(r->store, NULL, "DELETE FROM outbox WHERE sent_at < "
	    "now() - interval '1 hour'", 0, NULL, NULL, &err) == -1)
		log_warnx("outbox purge failed: %s", err.msg);
}

/* One pass; returns rows sent, or -1 when the relay should back off. */
static int
outbox_run(struct outbox_relay *r)
{
	struct error err;
	int sent;

	error_clear(&err);
	/* Still failing and the producer has not drained: do not pile on. */
	if (r->backoff_ms > 0 && bus_producer_flush(r->producer, 0) != 0)
		return -1;
	if (store_begin(r->store, &err) == -1) {
		log_warnx("outbox relay: %s", err.msg);
		return -1;
	}
	sent = outbox_pass(r, &err);
	if (sent == -1 || store_commit(r->store, &err) == -1) {
		log_warnx("outbox relay pass failed: %s", err.msg);
		store_rollback(r->store);
		return -1;
	}
	if (sent > 0)
		log_debug("outbox relay published %d rows", sent);
	outbox_purge(r);
	return err.code[0] ? -1 : sent;
}

static void
outbox_schedule(struct outbox_relay *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

static void
outbox_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct outbox_relay *r = arg;
	int sent;

	(void)fd;
	(void)what;
	sent = outbox_run(r);
	if (sent == -1) {
		r->backoff_ms = r->backoff_ms == 0 ? OUTBOX_BACKOFF_MIN :
		    r->backoff_ms * 2;
		if (r->backoff_ms > OUTBOX_BACKOFF_MAX)
			r->backoff_ms = OUTBOX_BACKOFF_MAX;
		outbox_schedule(r, r->backoff_ms);
		return;
	}
	if (r->backoff_ms > 0)
		log_info("outbox relay recovered");
	r->backoff_ms = 0;
	/* A full batch suggests more are waiting: go again at once. */
	outbox_schedule(r, sent == OUTBOX_BATCH ? 0 : r->interval_ms);
}

struct outbox_relay *
outbox_relay_new(struct event_base *base, const char *conninfo,
    const char *schema, struct bus_producer *p, int interval_ms,
    struct error *err)
{
	struct outbox_relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	r->base = base;
	r->producer = p;
	r->interval_ms = interval_ms > 0 ? interval_ms : 1000;
	if ((r->store = store_new(conninfo, schema, err)) == NULL) {
		free(r);
		return NULL;
	}
	if ((r->timer = evtimer_new(base, outbox_on_event, r)) == NULL) {
		error_set(err, "internal", "", "cannot create relay events");
		outbox_relay_free(r);
		return NULL;
	}
	outbox_schedule(r, 0);
	return r;
}

void
outbox_relay_kick(struct outbox_relay *r)
{
	/* Moving the one timer to now folds several kicks into one pass. */
	if (r != NULL && r->backoff_ms == 0)
		outbox_schedule(r, 0);
}

void
outbox_relay_free(struct outbox_relay *r)
{
	if (r == NULL)
		return;
	if (r->timer != NULL)
		event_free(r->timer);
	store_free(r->store);
	free(r);
}
