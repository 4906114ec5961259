/*
 * store.h: PostgreSQL behind a small interface (libpq never leaks out).
 *
 * One connection per struct store, used from one thread. Every statement is
 * parameterised. A lost connection is re-established on the next call; a
 * failure mid-transaction is reported and the transaction is rolled back.
 * Errors fill err with code "unique_violation" (SQLSTATE 23505),
 * "foreign_key_violation" (23503), "unavailable" (connection lost, server
 * shutting down, deadlock or serialization failure: worth retrying) or
 * "db_error".
 */
#ifndef SLIPWAY_STORE_H
#define SLIPWAY_STORE_H

#include <stddef.h>
#include "error.h"

struct store;
struct store_result;

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
