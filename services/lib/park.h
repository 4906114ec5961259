/*
 * park.h: HTTP requests parked (reply deferred) until something they need
 * becomes known locally, e.g. a registry or a component a service learns
 * from an event that may still be on its way when the request arrives.
 *
 * A parked request is offered again to the owner's function: at once when
 * the owner calls park_notify with its key (its consumer just stored that
 * thing), on a poll timer (another replica's consumer may have written a
 * shared table), and a last time at the deadline or at shutdown, when the
 * function must reply. Everything runs on the event loop, so a park never
 * races the consumer: the row is either already visible to the caller's
 * check or its arrival notifies the parked request.
 *
 * The module never looks inside a request: it only hands the pointer back.
 *
 * Metrics, named after the prefix given to park_new:
 *   <prefix>_waits_total{outcome="resolved|timeout|shutdown"}  (counter)
 *   <prefix>_waits_pending                                    (gauge)
 */
#ifndef SLIPWAY_PARK_H
#define SLIPWAY_PARK_H

#include <stddef.h>

struct event_base;
struct http_request;
struct park;

#define PARK_KEY_MAX    64
#define PARK_PREFIX_MAX 64   /* metric prefix length */

enum park_why {
	PARK_POLL,       /* the poll timer fired */
	PARK_NOTIFY,     /* park_notify named the key */
	PARK_TIMEOUT,    /* the deadline passed: fn must reply */
	PARK_SHUTDOWN,   /* park_free: fn must reply */
};

/*
 * Offers a parked request: returns 1 when it replied (the wait ends and arg
 * is freed), 0 to keep waiting. For TIMEOUT and SHUTDOWN it must reply.
 */
typedef int (*park_fn)(void *ctx, struct http_request *req, void *arg,
    enum park_why why);

/*
 * wait_ms 0 disables parking; poll_ms is the re-check period (<= 0: 100);
 * at most max requests wait at once. metric_prefix (copied, at most
 * PARK_PREFIX_MAX characters) names the metrics. NULL when out of memory or
 * the prefix is missing or too long.
 */
struct park *park_new(struct event_base *base, const char *metric_prefix,
    int wait_ms, int poll_ms, size_t max, park_fn fn, void *ctx);
/*
 * Parks req under key (copied) with arg (malloc'd or NULL; freed after fn
 * replied). -1 when waiting is off, the list is full, the key is too long or
 * memory ran out: the caller then still owns req and arg and must reply.
 */
int park_add(struct park *p, const char *key, struct http_request *req,
    void *arg);
/* Offers every request parked under key to fn now (NULL p: no-op). */
void park_notify(struct park *p, const char *key);
size_t park_count(const struct park *p);
/* Offers every parked request with SHUTDOWN, then frees the list. */
void park_free(struct park *p);

#endif
