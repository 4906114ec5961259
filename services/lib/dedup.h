/*
 * dedup.h: processed-event records, so an event delivered twice is applied
 * once. Call inside the transaction that applies the event.
 *
 * The table lives in each consuming service's schema; dedup_schema_sql
 * creates it (backbone_start applies it before the service's migrations).
 */
#ifndef SLIPWAY_DEDUP_H
#define SLIPWAY_DEDUP_H

#include <stddef.h>

#include "error.h"

struct store;

/* DDL of the processed_events table, run with search_path = the schema. */
extern const char dedup_schema_sql[];

/* Its index on processed_at, for dedup_purge (a later migration). */
extern const char dedup_index_sql[];

/* 1: first time (now recorded), 0: already processed, -1: error. */
int dedup_claim(struct store *s, const char *event_id, const char *consumer,
    struct error *err);

/*
 * The same for n events in one statement (a consumer's batch): fresh[i] 1
 * when events[i] is seen for the first time (now recorded), 0 when it was
 * processed before or appears earlier in events. 0, or -1 with err (an
 * empty id: code "bad_event", *bad its index; a store error: *bad = n).
 */
int dedup_claim_many(struct store *s, const char *const *event_ids, size_t n,
    const char *consumer, int *fresh, size_t *bad, struct error *err);

/*
 * How long a processed event is remembered: longer than any redelivery can
 * come. The oldest event a consumer can be handed again is as old as the
 * topic's retention (Kafka's default, 7 days, for every topic Slipway
 * creates: a group whose offsets expired re-reads from the earliest), so a
 * day more.
 */
#define DEDUP_RETENTION_S (8 * 24 * 3600)
#define DEDUP_PURGE_BATCH 5000

/*
 * Forgets up to DEDUP_PURGE_BATCH events processed more than retention_s
 * ago; the number forgotten, or -1 with err.
 */
long dedup_purge(struct store *s, long retention_s, struct error *err);

#endif
