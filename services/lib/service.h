/*
 * service.h: the start and stop of every service process: logging, the event
 * loop, and a clean shutdown on SIGINT/SIGTERM.
 */
#ifndef SLIPWAY_SERVICE_H
#define SLIPWAY_SERVICE_H

struct event_base;

/* A libevent base with the settings every Slipway loop runs with. */
struct event_base *service_base_new(void);
/*
 * Initialises logging, libsodium and the producer name, and keeps Cyrus SASL's
 * plugins from loading (SASL_PATH, unless set); returns a new base.
 */
struct event_base *service_init(const char *name);
/*
 * Runs the loop until SIGINT or SIGTERM, then calls on_stop(arg) (which must
 * free what the service owns) and frees the base.
 */
void service_run(struct event_base *base, void (*on_stop)(void *), void *arg);
/* Stops the loop from inside (e.g. a fatal consumer error). */
void service_stop(struct event_base *base);

struct store;
struct bus_consumer;
/*
 * The /readyz check of a service that owns a schema and consumes events:
 * Postgres answers and the consumer has its partitions (c may be NULL while
 * starting). Returns 1 when ready, else 0 with the reason in why.
 */
int service_ready(struct store *db, const struct bus_consumer *c, char *why,
    size_t whylen);

#endif
