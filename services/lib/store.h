/*
 * store.h: PostgreSQL behind a small interface (libpq never leaks out).
 *
 * One connection per struct store, used from one thread. Every statement is
 * parameterised. A lost connection is re-established on the next call; a
 * failure mid-transaction is reported and the transaction is rolled back.
 * Errors fill err with code "unique_violation" (SQLSTATE 23505),
 * "foreign_key_violation" (23503), "unavailable" (connection lost, no
 * answer in time, server shutting down, deadlock, serialization failure or
 * statement timeout: worth retrying) or "db_error".
 *
 * No call waits without a bound. Each statement (store_exec, store_begin,
 * store_commit, ...) gets the query timeout (store_set_query_timeout) for
 * everything it does, a reconnect included; the server's statement_timeout
 * is set a little below it, so a slow statement is ended by Postgres over a
 * connection that stays up. When Postgres does not answer in time the
 * statement is cancelled, the connection dropped and "unavailable"
 * returned; after that (and after a failed reconnect) every store of the
 * process fails its calls at once for a back-off of 200 ms doubling up to
 * 2 s, and at least as long as the failed attempt waited (so a loop waits
 * at most half the time); then one call tries to reconnect.
 * A transaction in progress is lost with its connection: its statements
 * and its COMMIT fail until the caller rolls back. A COMMIT that got no
 * answer has an unknown outcome (it may have landed): callers retry work
 * that is idempotent. Migrations get a longer bound (2 min).
 */
#ifndef SLIPWAY_STORE_H
#define SLIPWAY_STORE_H

#include <stddef.h>
#include "error.h"

struct store;
struct store_result;

/* The range of store_set_query_timeout (the default: config.h). */
#define STORE_QUERY_TIMEOUT_MIN_MS 10
#define STORE_QUERY_TIMEOUT_MAX_MS 600000
/*
 * Sets the query timeout of every store created after this call (call it
 * at start-up, before the first store_new). -1 when ms is out of range.
 */
int store_set_query_timeout(int ms);

/* conninfo: libpq connection string; schema: set as search_path. */
struct store *store_new(const char *conninfo, const char *schema,
    struct error *err);
void store_free(struct store *s);
int store_ping(struct store *s);   /* 1 when the connection answers */

struct migration {
	const char *name;   /* "001_init.sql": applied in array order, once */
	const char *sql;
};
/*
 * Creates the schema if needed and applies the migrations not yet recorded in
 * <schema>.schema_migrations, each in its own transaction, under an advisory
 * lock so concurrent replicas do not race.
 */
int store_migrate(struct store *s, const struct migration *m, size_t n,
    struct error *err);

/*
 * Runs one statement. vals[i] == NULL is SQL NULL. lens == NULL: all text
 * parameters; otherwise lens[i] >= 0 sends vals[i] as binary of that length
 * (bytea), lens[i] < 0 as text. out may be NULL when no rows are wanted.
 */
int store_exec(struct store *s, struct store_result **out, const char *sql,
    int nparams, const char *const *vals, const int *lens, struct error *err);

int store_begin(struct store *s, struct error *err);
int store_commit(struct store *s, struct error *err);
void store_rollback(struct store *s);

/* 1 between store_begin and its commit or rollback. */
int store_in_tx(const struct store *s);
/* Runs fn inside BEGIN/COMMIT; rolls back when fn returns -1. */
int store_tx(struct store *s, int (*fn)(struct store *, void *, struct error *),
    void *arg, struct error *err);

int store_result_rows(const struct store_result *r);
/* Text value ("" for NULL), valid until store_result_free. */
const char *store_result_get(const struct store_result *r, int row, int col);
int store_result_isnull(const struct store_result *r, int row, int col);
/* Affected rows of an INSERT/UPDATE/DELETE. */
long store_result_affected(const struct store_result *r);
/* Unescapes a bytea column; malloc'd, caller frees. NULL on error. */
unsigned char *store_result_bytes(const struct store_result *r, int row,
    int col, size_t *len);
void store_result_free(struct store_result *r);

#endif
