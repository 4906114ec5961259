/*
 * service.h: the start and stop of every service process: logging, the event
 * loop, and a clean shutdown on SIGINT/SIGTERM.
 */
#ifndef SLIPWAY_SERVICE_H
#define SLIPWAY_SERVICE_H

struct event_base;

/* Initialises logging, libsodium and the producer name; returns a new base. */
struct event_base *service_init(const char *name);
/*
 * Runs the loop until SIGINT or SIGTERM, then calls on_stop(arg) (which must
 * free what the service owns) and frees the base.
 */
void service_run(struct event_base *base, void (*on_stop)(void *), void *arg);
/* Stops the loop from inside (e.g. a fatal consumer error). */
void service_stop(struct event_base *base);

#endif
