/*
 * backbone.h: the start and stop that every service owning a schema shares —
 * its Postgres connection with the schema migrated, its Kafka topics, a
 * producer, and the outbox relay that publishes the schema's outbox.
 */
#ifndef SLIPWAY_BACKBONE_H
#define SLIPWAY_BACKBONE_H

#include <stddef.h>

struct event_base;
struct store;
struct bus_producer;
struct outbox_relay;
struct migration;

struct backbone_config {
	const char *service;                /* producer client id */
	const char *pg_url;
	const char *schema;
	const struct migration *migrations;
	size_t nmigrations;
	const char *brokers;
	const char *const *topics;          /* ensured at start; NULL-terminated */
	int relay_interval_ms;
};

/* Start-up only: any failure is fatal(), naming the part that failed. */
void backbone_start(struct event_base *base, const struct backbone_config *cfg,
    struct store **db, struct bus_producer **producer,
    struct outbox_relay **relay);
/*
 * Stops the relay, flushes the producer (up to 5 s) and frees all three.
 * Call after the consumers and the HTTP server are gone.
 */
void backbone_stop(struct store *db, struct bus_producer *producer,
    struct outbox_relay *relay);

#endif
