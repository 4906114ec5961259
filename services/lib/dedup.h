/*
 * dedup.h: processed-event records, so an event delivered twice is applied
 * once. Call inside the transaction that applies the event.
 *
 * The table lives in each consuming service's schema; dedup_schema_sql
 * creates it (backbone_start applies it before the service's migrations).
 */
#ifndef SLIPWAY_DEDUP_H
#define SLIPWAY_DEDUP_H

#include "error.h"

struct store;

/* DDL of the processed_events table, run with search_path = the schema. */
extern const char dedup_schema_sql[];

/* 1: first time (now recorded), 0: already processed, -1: error. */
int dedup_claim(struct store *s, const char *event_id, const char *consumer,
    struct error *err);

#endif
