/*
 * store_async.h: PostgreSQL queries that never block the event loop.
 *
 * One connection, driven with libpq's asynchronous API on the libevent
 * loop (PQconnectStart/PQconnectPoll, PQsendQueryParams, PQconsumeInput).
 * Queries queue (bounded) behind the one in flight. Every query gets its
 * answer, or an "unavailable" error, within query_timeout_ms of being
 * asked; a connection attempt that takes longer than connect_timeout_ms
 * fails.
 *
 * While Postgres is down there is no connection attempt per query: the
 * connection is retried in the background with backoff (200 ms doubling
 * to 2 s), and a query asked meanwhile is refused at once (-1). A healthy
 * connection that drops is re-established at once, and queries queue for
 * that attempt.
 *
 * For a non-blocking start, name the server by address (hostaddr or an IP
 * host): libpq resolves host names synchronously.
 */
#ifndef SLIPWAY_STORE_ASYNC_H
#define SLIPWAY_STORE_ASYNC_H

#include <stddef.h>
#include "error.h"

struct event_base;
struct store_async;
struct store_async_result;

struct store_async_config {
	const char *conninfo;       /* libpq connection string (copied) */
	int connect_timeout_ms;     /* 0 = 1000 */
	int query_timeout_ms;       /* 0 = 1000 */
	size_t queue_max;           /* queries waiting; 0 = 64 */
};

/*
 * r is NULL on failure (err says why: code "unavailable" for anything
 * worth retrying, "db_error" for a statement Postgres refused). r is valid
 * only during the callback.
 */
typedef void (*store_async_cb)(const struct store_async_result *r,
    const struct error *err, void *arg);

/* Starts connecting in the background; NULL only on bad config / OOM. */
struct store_async *store_async_new(struct event_base *base,
    const struct store_async_config *cfg, struct error *err);
/* Every pending query gets its callback (unavailable) before this returns. */
void store_async_free(struct store_async *sa);
/* 1 while connected. */
int store_async_up(const struct store_async *sa);
/*
 * Queues one parameterised statement (text parameters and results). On 0
 * cb is called exactly once, never before this returns; on -1 (Postgres is
 * down, or too many queries wait) err says why and cb is never called.
 */
int store_async_query(struct store_async *sa, const char *sql, int nparams,
    const char *const *vals, store_async_cb cb, void *arg, struct error *err);

int store_async_rows(const struct store_async_result *r);
/* Text value ("" for NULL), valid during the callback. */
const char *store_async_get(const struct store_async_result *r, int row,
    int col);
int store_async_isnull(const struct store_async_result *r, int row, int col);

#endif
