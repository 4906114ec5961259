/*
 * outbox.c: the transactional outbox and its relay.
 *
 * The relay runs on the event loop with its own connection, and never
 * blocks the loop waiting for the broker. A pass has two halves:
 *   start   in a transaction, take the schema's relay lock (one publisher
 *           at a time keeps per-key order across replicas), lock the oldest
 *           unsent rows and queue them in id order; the transaction stays
 *           open and the relay is "in flight"
 *   finish  once every delivery report is in, or OUTBOX_FLUSH_MS passed:
 *           mark the acknowledged rows sent, commit
 * Rows that were not acknowledged stay unsent and go out again on the next
 * pass; consumers dedup. A row whose topic the broker's ACLs refuse (a data
 * plane registered before its bus permissions were granted) also stays
 * unsent, but does not hold up the rows of other topics nor count as an
 * outage: it goes out once the ACL exists. Meanwhile the loop serves
 * everything else, so a broker outage never stalls the service's API or its
 * consumer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "envelope.h"
#include "outbox.h"
#include "sqlarray.h"
#include "bus.h"
#include "store.h"
#include "log.h"

#define OUTBOX_BATCH        200
#define OUTBOX_FLUSH_MS     5000  /* how long a pass waits for its reports */
#define OUTBOX_PURGE_EVERY  60    /* seconds between deletes of old rows */
#define OUTBOX_BACKOFF_MIN  1000  /* ms after a failed pass, doubling */
#define OUTBOX_BACKOFF_MAX  5000  /* ... up to this */

/* Why the last pass failed: it decides whether a kick is heeded. */
enum outbox_failure {
	OUTBOX_FAIL_NONE,
	OUTBOX_FAIL_DB,    /* Postgres: a retry costs one refused connect */
	OUTBOX_FAIL_BUS    /* the broker: a retry would queue rows in vain */
};

struct outbox_batch;

struct outbox_relay {
	struct event_base *base;
	struct store *store;
	struct bus_producer *producer;
	/* The next pass, or, in flight, the end of the wait for reports. */
	struct event *timer;
	struct outbox_batch *batch;   /* non-NULL: in flight, transaction open */
	int kicked;                   /* kicked in flight: go again at once */
	int interval_ms;
	/*
	 * After a failed pass the relay waits backoff_ms (1 s doubling to 5 s),
	 * so rows go out within 5 s of the dependency coming back. After a
	 * broker failure kicks are ignored, and a pass gives up at once while
	 * the last pass's messages still sit in the producer: queueing more
	 * would only pile up copies. After a Postgres failure a kick runs the
	 * relay at once: a kick follows a commit, so Postgres is back.
	 */
	int backoff_ms;
	enum outbox_failure failure;
	time_t last_purge;
	time_t last_refused_log;      /* refusals are logged once a minute */
};

/*
 * One pass's rows. Delivery reports point into it, and one may arrive after
 * the pass gave up waiting: the last report out frees an abandoned batch.
 */
struct outbox_row {
	struct outbox_batch *batch;
	char id[24];            /* bigserial as text */
	int delivered;
};
struct outbox_batch {
	struct outbox_relay *relay;   /* NULL once abandoned */
	int n;                  /* rows locked by the pass */
	int pending;            /* queued, no delivery report yet */
	int refused;            /* not queued: the topic is not authorized */
	struct outbox_row rows[];
};

const char outbox_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id bigserial PRIMARY KEY, topic text NOT NULL, key text NOT NULL,"
    " payload bytea, event_id text NOT NULL, event_type text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz);"
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id)"
    " WHERE sent_at IS NULL;";

/*
 * What every consumer accepts (envelope.h): a larger row would be
 * published, then refused by all of them.
 */
static int
outbox_len_check(size_t len, struct error *err)
{
	if (len <= ENVELOPE_MAX)
		return 0;
	error_set(err, "too_large", "payload", "outbox payload of %zu bytes, "
	    "more than the %d every consumer accepts", len, ENVELOPE_MAX);
	return -1;
}

int
outbox_add(struct store *s, const char *topic, const char *key,
    const void *payload, size_t len, const char *event_id,
    const char *event_type, struct error *err)
{
	const char *vals[5] = { topic, key, payload, event_id, event_type };
	int lens[5] = { -1, -1, (int)len, -1, -1 };

	if (outbox_len_check(len, err) == -1)
		return -1;
	return store_exec(s, NULL, "INSERT INTO outbox (topic, key, payload, "
	    "event_id, event_type) VALUES ($1, $2, $3, $4, $5)", 5, vals, lens,
	    err);
}

int
outbox_add_many(struct store *s, const struct outbox_entry *rows, size_t n,
    size_t *bad, struct error *err)
{
	struct sqlarray cols[5];
	const char *vals[5];
	int rc = -1;

	*bad = n;
	for (size_t i = 0; i < n; i++)
		if (outbox_len_check(rows[i].len, err) == -1) {
			*bad = i;
			return -1;
		}
	if (n == 0)
		return 0;
	for (size_t c = 0; c < 5; c++)
		sqlarray_init(&cols[c]);
	for (size_t i = 0; i < n; i++) {
		sqlarray_text(&cols[0], rows[i].topic);
		sqlarray_text(&cols[1], rows[i].key);
		sqlarray_bytes(&cols[2], rows[i].payload, rows[i].len);
		sqlarray_text(&cols[3], rows[i].event_id);
		sqlarray_text(&cols[4], rows[i].event_type);
	}
	for (size_t c = 0; c < 5; c++)
		vals[c] = sqlarray_finish(&cols[c]);
	if (vals[0] == NULL || vals[1] == NULL || vals[2] == NULL ||
	    vals[3] == NULL || vals[4] == NULL)
		error_set(err, "internal", "", "out of memory");
	else
		/* ORDER BY o: the ids (nextval per row) follow the array. */
		rc = store_exec(s, NULL, "INSERT INTO outbox (topic, key, payload, "
		    "event_id, event_type) SELECT t, k, p, e, y FROM "
		    "unnest($1::text[], $2::text[], $3::bytea[], $4::text[], "
		    "$5::text[]) WITH ORDINALITY AS u(t, k, p, e, y, o) ORDER BY o",
		    5, vals, NULL, err);
	for (size_t c = 0; c < 5; c++)
		sqlarray_free(&cols[c]);
	return rc;
}

static void
outbox_schedule(struct outbox_relay *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

/* Delivery reports run on the loop thread (bus.h). */
static void
outbox_delivered(int ok, const char *errstr, void *arg)
{
	struct outbox_row *row = arg;
	struct outbox_batch *b = row->batch;

	row->delivered = ok;
	if (!ok)
		log_warnx("outbox row %s not delivered: %s", row->id, errstr);
	if (--b->pending > 0)
		return;
	if (b->relay == NULL)
		free(b);
	else
		outbox_schedule(b->relay, 0);   /* all reports in: finish now */
}

/* A row the ACLs refuse: counted, and logged once a minute. */
static void
outbox_refused(struct outbox_relay *r, struct outbox_batch *b, const char *id,
    const struct error *err)
{
	time_t now = time(NULL);

	if (b->refused++ == 0 && now - r->last_refused_log >= 60) {
		r->last_refused_log = now;
		log_warnx("outbox row %s: %s (not authorized: it and the rows "
		    "of topics the bus's ACLs refuse stay unsent until granted)",
		    id, err->msg);
	}
}

/* The pass is over: free the batch, or leave it to its last report. */
static void
outbox_batch_release(struct outbox_batch *b)
{
	if (b->pending == 0)
		free(b);
	else
		b->relay = NULL;
}

/*
 * Produces each locked row; stops at the first that cannot be queued,
 * unless the broker refuses its topic: its rows all fail alike, so none of
 * them overtakes another, and the other topics go on.
 */
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
			free(payload);
			if (strcmp(err.code, "bus_unauthorized") == 0) {
				outbox_refused(r, b, rows[i].id, &err);
				continue;
			}
			log_warnx("outbox row %s: %s", rows[i].id, err.msg);
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
	/* One statement for the pass: "{id,id,...}", ids are digits only. */
	char *list = malloc((size_t)n * sizeof(rows[0].id) + 3), *p;
	const char *vals[1];
	int rc = 0;

	if (list == NULL) {
		error_set(err, "unavailable", "", "out of memory");
		return -1;
	}
	p = list;
	*p++ = '{';
	for (int i = 0; i < n; i++) {
		size_t len = strlen(rows[i].id);

		if (!rows[i].delivered)
			continue;
		if (p != list + 1)
			*p++ = ',';
		memcpy(p, rows[i].id, len);
		p += len;
	}
	*p++ = '}';
	*p = '\0';
	vals[0] = list;
	if (p - list > 2)
		rc = store_exec(r->store, NULL, "UPDATE outbox SET sent_at = now() "
		    "WHERE id = ANY($1::bigint[])", 1, vals, NULL, err);
	free(list);
	return rc;
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

/*
 * Locks the oldest unsent rows (the transaction is open) and queues them.
 * Returns 1 when rows are in flight, 0 when there is nothing to send or
 * another replica holds the relay lock, -1 on a database error.
 */
static int
outbox_lock_and_queue(struct outbox_relay *r, struct error *err)
{
	struct store_result *res;
	struct outbox_batch *b;
	int n;

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
	b->relay = r;
	b->n = n;
	outbox_produce_rows(r, res, b, n);
	store_result_free(res);
	r->batch = b;
	/* Nothing queued: finish at once; else when the reports are in. */
	outbox_schedule(r, b->pending == 0 ? 0 : OUTBOX_FLUSH_MS);
	return 1;
}

/*
 * Starts a pass. Returns 1 when rows are in flight (the transaction stays
 * open until outbox_finish), 0 when the pass is over with nothing sent, -1
 * when it failed, r->failure saying why.
 */
static int
outbox_start(struct outbox_relay *r)
{
	struct error err;
	int rc;

	error_clear(&err);
	/* Still failing and the producer has not drained: do not pile on. */
	if (r->backoff_ms > 0 && bus_producer_flush(r->producer, 0) != 0) {
		r->failure = OUTBOX_FAIL_BUS;
		return -1;
	}
	r->failure = OUTBOX_FAIL_DB;
	if (store_begin(r->store, &err) == -1) {
		log_warnx("outbox relay: %s", err.msg);
		return -1;
	}
	rc = outbox_lock_and_queue(r, &err);
	if (rc == 1)
		return 1;
	if (rc == -1 || store_commit(r->store, &err) == -1) {
		log_warnx("outbox relay pass failed: %s", err.msg);
		store_rollback(r->store);
		return -1;
	}
	r->failure = OUTBOX_FAIL_NONE;
	outbox_purge(r);
	return 0;
}

/*
 * Ends the pass in flight: marks the acknowledged rows sent and commits,
 * even when some rows were not acknowledged (they stay unsent; their late
 * reports land in the abandoned batch). Returns rows sent, or -1 with
 * r->failure saying why.
 */
static int
outbox_finish(struct outbox_relay *r)
{
	struct outbox_batch *b = r->batch;
	struct error err;
	int sent = 0;

	r->batch = NULL;
	error_clear(&err);
	r->failure = OUTBOX_FAIL_DB;
	if (outbox_mark_sent(r, b->rows, b->n, &err) == -1 ||
	    store_commit(r->store, &err) == -1) {
		log_warnx("outbox relay pass failed: %s", err.msg);
		store_rollback(r->store);
		outbox_batch_release(b);
		return -1;
	}
	for (int i = 0; i < b->n; i++)
		sent += b->rows[i].delivered;
	if (sent + b->refused < b->n) {
		log_warnx("outbox: %d of %d rows not acknowledged; they stay unsent",
		    b->n - sent, b->n);
		outbox_batch_release(b);
		r->failure = OUTBOX_FAIL_BUS;
		return -1;
	}
	outbox_batch_release(b);
	log_debug("outbox relay published %d rows", sent);
	r->failure = OUTBOX_FAIL_NONE;
	outbox_purge(r);
	return sent;
}

/* Schedules the next pass after one that sent rows (or -1: failed). */
static void
outbox_next(struct outbox_relay *r, int sent)
{
	int kicked = r->kicked;

	r->kicked = 0;
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
	outbox_schedule(r, sent == OUTBOX_BATCH || kicked ? 0 : r->interval_ms);
}

/* The timer: start a pass, or finish the one in flight. */
static void
outbox_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct outbox_relay *r = arg;
	int sent;

	(void)fd;
	(void)what;
	if (r->batch != NULL)
		sent = outbox_finish(r);
	else if ((sent = outbox_start(r)) == 1)
		return;   /* in flight: the reports or the deadline come back */
	outbox_next(r, sent);
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
	if (r == NULL)
		return;
	/* In flight: moving the timer would cut the wait for reports short. */
	if (r->batch != NULL) {
		r->kicked = 1;
		return;
	}
	/* Moving the one timer to now folds several kicks into one pass. */
	if (r->backoff_ms == 0 || r->failure != OUTBOX_FAIL_BUS)
		outbox_schedule(r, 0);
}

void
outbox_relay_free(struct outbox_relay *r)
{
	if (r == NULL)
		return;
	/* At shutdown a pass in flight may wait: its rows need not go twice. */
	if (r->batch != NULL) {
		bus_producer_flush(r->producer, OUTBOX_FLUSH_MS);
		(void)outbox_finish(r);
	}
	if (r->timer != NULL)
		event_free(r->timer);
	store_free(r->store);
	free(r);
}
