/*
 * envelope.h: building, packing, decoding and publishing the Envelope that
 * wraps every message on the bus (proto/slipway/v1/envelope.proto).
 */
#ifndef SLIPWAY_ENVELOPE_H
#define SLIPWAY_ENVELOPE_H

#include <stddef.h>
#include "slipway/v1/envelope.pb-c.h"
#include "bus.h"
#include "error.h"

typedef Slipway__V1__Envelope Envelope;

/* Largest envelope accepted from the bus. */
#define ENVELOPE_MAX (256 * 1024)

/* Name written in every envelope's producer field; set once at start-up. */
void envelope_set_producer(const char *service);

/*
 * Initialises env with a fresh event id, now, org, trace id (may be NULL)
 * and the type name derived from payload_case. The caller then points the
 * matching payload member at its message. Strings are not copied: they must
 * outlive the envelope's use (stack buffers in the caller are the norm).
 * event_id must be a 37-byte buffer the caller owns.
 */
void envelope_init(Envelope *env, Slipway__V1__Envelope__PayloadCase payload_case,
    char event_id[37], const char *org, const char *trace_id);

/* Message name for a payload case ("ImagePushed"), or NULL if unknown. */
const char *envelope_type_name(Slipway__V1__Envelope__PayloadCase c);

/* Packs into a malloc'd buffer. */
unsigned char *envelope_pack(const Envelope *env, size_t *len);

/*
 * Decodes defensively: size cap, known payload case, event id a UUID, type
 * equal to the payload's name, and (when header_type is not NULL) equal to the
 * event-type header. Returns NULL with err code "bad_envelope" on any failure.
 * Free with envelope_free().
 */
Envelope *envelope_decode(const void *buf, size_t len, const char *header_type,
    struct error *err);
void envelope_free(Envelope *env);

/* Packs and writes to the outbox (inside the caller's transaction). */
struct store;
int envelope_outbox(struct store *s, const char *topic, const char *key,
    const Envelope *env, struct error *err);
/* Packs and produces directly, with event-id / event-type headers. */
int envelope_produce(struct bus_producer *p, const char *topic, const char *key,
    const Envelope *env, bus_delivery_cb cb, void *arg, struct error *err);

#endif
