/*
 * backbone.c: Postgres, topics, producer and outbox relay of a service,
 * started and stopped in one order for every service.
 */
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
};
#define BACKBONE_FLUSH_MS         5000

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
}

void
backbone_stop(struct store *db, struct bus_producer *producer,
    struct outbox_relay *relay)
{
	outbox_relay_free(relay);
	if (producer != NULL) {
		bus_producer_flush(producer, BACKBONE_FLUSH_MS);
		bus_producer_free(producer);
	}
	store_free(db);
}
