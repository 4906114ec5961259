/*
 * outbox.h: the transactional outbox and its relay.
 *
 * A service writes its events with outbox_add() inside the same transaction
 * as the state change they announce; the relay publishes committed rows in
 * order, waits for the broker's acknowledgement, and marks them sent. A crash
 * between publish and mark republishes: consumers dedup by event id.
 *
 * Table (each service's migrations create it in their own schema):
 *   CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL,
 *     key text NOT NULL, payload bytea, event_id text NOT NULL,
 *     event_type text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
 *     sent_at timestamptz);
 *   CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
 */
#ifndef SLIPWAY_OUTBOX_H
#define SLIPWAY_OUTBOX_H

#include <stddef.h>
#include "error.h"

struct event_base;
struct store;
struct bus_producer;
struct outbox_relay;

/* payload == NULL writes a tombstone (compacted topics). */
int outbox_add(struct store *s, const char *topic, const char *key,
    const void *payload, size_t len, const char *event_id,
    const char *event_type, struct error *err);

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
