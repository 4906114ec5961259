/*
 * outbox.h: the transactional outbox and its relay.
 *
 * A service writes its events with outbox_add() inside the same transaction
 * as the state change they announce; the relay publishes committed rows in
 * order, waits for the broker's acknowledgement, and marks them sent. A crash
 * between publish and mark republishes: consumers dedup by event id.
 *
 * The table lives in each service's schema; outbox_schema_sql creates it
 * (backbone_start applies it before the service's own migrations).
 */
#ifndef SLIPWAY_OUTBOX_H
#define SLIPWAY_OUTBOX_H

#include <stddef.h>
#include "error.h"

struct event_base;
struct store;
struct bus_producer;
struct outbox_relay;

/* DDL of the outbox table, run with search_path = the service's schema. */
extern const char outbox_schema_sql[];

/* payload == NULL writes a tombstone (compacted topics). */
int outbox_add(struct store *s, const char *topic, const char *key,
    const void *payload, size_t len, const char *event_id,
    const char *event_type, struct error *err);

/* One row for outbox_add_many; payload == NULL is a tombstone. */
struct outbox_entry {
	const char *topic;
	const char *key;
	const void *payload;
	size_t len;
	const char *event_id;
	const char *event_type;
};

/*
 * Writes n rows in one statement, their ids (the relay's order) in the
 * array's order. 0, or -1 with err; a payload over the cap (code
 * "too_large") sets *bad to its index and writes nothing, any other
 * failure sets *bad = n.
 */
int outbox_add_many(struct store *s, const struct outbox_entry *rows,
    size_t n, size_t *bad, struct error *err);

/*
 * The relay polls every interval_ms and whenever kicked. It uses its own
 * store connection (conninfo, schema) so it never interleaves with the
 * service's transactions.
 */
struct outbox_relay *outbox_relay_new(struct event_base *base,
    const char *conninfo, const char *schema, struct bus_producer *p,
    int interval_ms, struct error *err);
/* Publish soon: call after committing a transaction that added rows. */
void outbox_relay_kick(struct outbox_relay *r);
void outbox_relay_free(struct outbox_relay *r);

#endif
