/*
 * backbone.c: Postgres, topics, producer and outbox relay of a service,
 * started and stopped in one order for every service; and the purge of its
 * processed-event records (dedup.h), which would otherwise grow forever.
 */
#include <event2/event.h>

#include "backbone.h"
#include "bus.h"
#include "dedup.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "topics.h"

#define BACKBONE_TOPIC_TIMEOUT_MS 15000

/* The library's own tables, in every schema, before the service's. */
static const struct migration backbone_migrations[] = {
	{ "000_outbox.sql", outbox_schema_sql },
	{ "000_processed_events.sql", dedup_schema_sql },
	{ "000_processed_events_at.sql", dedup_index_sql },
};
#define BACKBONE_FLUSH_MS         5000
/* The first purge soon after start (a restart catches up), then regularly;
 * each at most this many batches, so one never holds the loop for long. */
#define BACKBONE_PURGE_FIRST_S    5
#define BACKBONE_PURGE_EVERY_S    600
#define BACKBONE_PURGE_BATCHES    20

/* One backbone per process: the purge timer and the store it uses. */
static struct event *backbone_purge_ev;

static void
backbone_purge(evutil_socket_t fd, short what, void *arg)
{
	struct timeval next = { BACKBONE_PURGE_EVERY_S, 0 };
	struct store *db = arg;
	struct error err;
	long n, total = 0;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < BACKBONE_PURGE_BATCHES; i++) {
		if ((n = dedup_purge(db, DEDUP_RETENTION_S, &err)) == -1) {
			log_warnx("processed events purge: %s", err.msg);
			break;
		}
		total += n;
		if (n < DEDUP_PURGE_BATCH)
			break;
	}
	if (total > 0)
		log_info("forgot %ld processed event(s) older than %d days",
		    total, DEDUP_RETENTION_S / 86400);
	evtimer_add(backbone_purge_ev, &next);
}

void
backbone_start(struct event_base *base, const struct backbone_config *cfg,
    struct store **db, struct bus_producer **producer,
    struct outbox_relay **relay)
{
	struct error err;

	if ((*db = store_new(cfg->pg_url, cfg->schema, &err)) == NULL)
		fatal("postgres: %s", err.msg);
	if (store_migrate(*db, backbone_migrations, sizeof(backbone_migrations) /
	    sizeof(backbone_migrations[0]), &err) == -1 ||
	    store_migrate(*db, cfg->migrations, cfg->nmigrations, &err) == -1)
		fatal("migrations: %s", err.msg);
	if (bus_topic_ensure(cfg->brokers, cfg->topics, TOPIC_PARTITIONS, 0,
	    BACKBONE_TOPIC_TIMEOUT_MS, &err) == -1)
		fatal("kafka topics: %s", err.msg);
	if ((*producer = bus_producer_new(base, cfg->brokers, cfg->service,
	    &err)) == NULL)
		fatal("kafka producer: %s", err.msg);
	if ((*relay = outbox_relay_new(base, cfg->pg_url, cfg->schema, *producer,
	    cfg->relay_interval_ms, &err)) == NULL)
		fatal("outbox relay: %s", err.msg);
	{
		struct timeval first = { BACKBONE_PURGE_FIRST_S, 0 };

		if ((backbone_purge_ev = evtimer_new(base, backbone_purge, *db)) ==
		    NULL || evtimer_add(backbone_purge_ev, &first) != 0)
			fatal("out of memory");
	}
}

void
backbone_stop(struct store *db, struct bus_producer *producer,
    struct outbox_relay *relay)
{
	if (backbone_purge_ev != NULL) {
		event_free(backbone_purge_ev);
		backbone_purge_ev = NULL;
	}
	outbox_relay_free(relay);
	if (producer != NULL) {
		bus_producer_flush(producer, BACKBONE_FLUSH_MS);
		bus_producer_free(producer);
	}
	store_free(db);
}
