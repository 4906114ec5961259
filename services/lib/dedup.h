/*
 * dedup.h: processed-event records, so an event delivered twice is applied
 * once. Call inside the transaction that applies the event.
 *
 * Table (in each consuming service's schema):
 *   CREATE TABLE processed_events (event_id text PRIMARY KEY,
 *     consumer text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now());
 */
#ifndef SLIPWAY_DEDUP_H
#define SLIPWAY_DEDUP_H

#include "error.h"

struct store;

/* 1: first time (now recorded), 0: already processed, -1: error. */
int dedup_claim(struct store *s, const char *event_id, const char *consumer,
    struct error *err);

#endif
