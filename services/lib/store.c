/*
 * store.c: PostgreSQL through libpq. One blocking connection per struct
 * store; statements are always parameterised and results are text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store.h"
#include "log.h"

#define STORE_CONNECT_TIMEOUT_S "5"

/*
 * Parameterised statements are prepared once per connection and executed
 * by name after that: Postgres then parses and analyses each one once, not
 * on every call (the hot path runs the same few statements per event). The
 * cache is the connection's: a reconnect starts it afresh.
 */
#define STORE_STMTS_MAX 128

struct store_stmt {
	char *sql;
	unsigned long hash;
};

struct store {
	PGconn *conn;
	char *schema;
	int in_tx;   /* inside BEGIN: a reconnect would silently lose work */
	struct store_stmt stmts[STORE_STMTS_MAX];
	size_t nstmts;
};

static void store_stmts_clear(struct store *);

struct store_result {
	PGresult *res;
};

/* SQLSTATE → error code, as store.h promises. */
static const struct {
	const char *sqlstate;
	const char *code;
} store_sqlstates[] = {
	{ "23505", "unique_violation" },
	{ "23503", "foreign_key_violation" },
	/*
	 * Transient: the same work succeeds when tried again, so callers must
	 * retry (a consumer returns BUS_RETRY) rather than dead-letter it.
	 */
	{ "40001", "unavailable" },   /* serialization_failure */
	{ "40P01", "unavailable" },   /* deadlock_detected */
	{ "55P03", "unavailable" },   /* lock_not_available */
	{ "53300", "unavailable" },   /* too_many_connections */
	{ "57P01", "unavailable" },   /* admin_shutdown */
	{ "57P02", "unavailable" },   /* crash_shutdown */
	{ "57P03", "unavailable" },   /* cannot_connect_now */
};

static void
store_error_from_result(struct store *s, const PGresult *res,
    struct error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
	    : NULL;

	if (PQstatus(s->conn) != CONNECTION_OK ||
	    (state != NULL && strncmp(state, "08", 2) == 0)) {
		error_set(err, "unavailable", "", "database connection lost: %s",
		    msg ? msg : PQerrorMessage(s->conn));
		return;
	}
	for (size_t i = 0; state && i < sizeof(store_sqlstates) /
	    sizeof(store_sqlstates[0]); i++) {
		if (strcmp(state, store_sqlstates[i].sqlstate) == 0) {
			error_set(err, store_sqlstates[i].code, "", "%s",
			    msg ? msg : "database refused the statement");
			return;
		}
	}
	error_set(err, "db_error", "", "%s (SQLSTATE %s)",
	    msg ? msg : PQerrorMessage(s->conn), state ? state : "none");
}

/* Notices (e.g. "schema already exists") are noise in a JSON log. */
static void
store_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %.200s", message);
}

/* Sets search_path to the (quoted) schema; public stays for extensions. */
static int
store_set_path(struct store *s, struct error *err)
{
	char *id = PQescapeIdentifier(s->conn, s->schema, strlen(s->schema));
	char sql[256];
	PGresult *res;
	int ok;

	if (id == NULL) {
		error_set(err, "db_error", "", "bad schema name");
		return -1;
	}
	snprintf(sql, sizeof(sql), "SET search_path TO %s, public", id);
	PQfreemem(id);
	res = PQexec(s->conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		store_error_from_result(s, res, err);
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Connects with a bound on each attempt (libpq waits forever otherwise, and
 * a service's loop with it): STORE_CONNECT_TIMEOUT_S unless the URL sets its
 * own connect_timeout (a later parameter wins). PQreset reuses it.
 */
static PGconn *
store_connect(const char *conninfo)
{
	const char *const keys[] = { "connect_timeout", "dbname", NULL };
	const char *const vals[] = { STORE_CONNECT_TIMEOUT_S, conninfo, NULL };

	return PQconnectdbParams(keys, vals, 1);
}

struct store *
store_new(const char *conninfo, const char *schema, struct error *err)
{
	struct store *s;

	if (schema == NULL || strlen(schema) == 0 || strlen(schema) > 63) {
		error_set(err, "db_error", "schema", "schema name missing or too long");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->schema = strdup(schema)) == NULL) {
		free(s);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	s->conn = store_connect(conninfo);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		/* PQerrorMessage names host and port, never the password. */
		error_set(err, "unavailable", "", "cannot connect to postgres: %s",
		    PQerrorMessage(s->conn));
		store_free(s);
		return NULL;
	}
	PQsetNoticeProcessor(s->conn, store_notice, NULL);
	if (store_set_path(s, err) == -1) {
		store_free(s);
		return NULL;
	}
	return s;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		PQfinish(s->conn);
	store_stmts_clear(s);
	free(s->schema);
	free(s);
}

/*
 * A server that went away while the connection sat idle (a restart, a
 * terminated backend) left its FATAL notice and EOF on the socket. Reading
 * them now (PQconsumeInput never blocks) marks the connection bad, so the
 * next statement goes over a fresh connection instead of failing once after
 * every database restart. Nothing was sent yet: reconnecting cannot run a
 * statement twice. Inside a transaction the loss must surface instead. Two
 * reads: the first may stop after the notice, the second sees the EOF.
 */
static void
store_check_idle(struct store *s)
{
	for (int i = 0; i < 2 && !s->in_tx &&
	    PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) == PQTRANS_IDLE; i++)
		if (PQconsumeInput(s->conn) == 0)
			break;
}

/* Forgets the prepared statements (the connection that had them is gone). */
static void
store_stmts_clear(struct store *s)
{
	for (size_t i = 0; i < s->nstmts; i++)
		free(s->stmts[i].sql);
	s->nstmts = 0;
}

static unsigned long
store_stmt_hash(const char *sql)
{
	unsigned long h = 5381;

	for (; *sql != '\0'; sql++)
		h = h * 33 + (unsigned char)*sql;
	return h;
}

/*
 * The name sql is prepared under on this connection (written into name),
 * preparing it now if needed: 1. 0 when it is not cached (the cache is
 * full: run it unprepared). -1 when the prepare failed, *failed the
 * statement's own error (parse and analysis fail alike either way).
 */
static int
store_stmt_name(struct store *s, const char *sql, int nparams, char *name,
    size_t len, PGresult **failed)
{
	unsigned long h = store_stmt_hash(sql);
	PGresult *res;
	size_t i;

	for (i = 0; i < s->nstmts; i++)
		if (s->stmts[i].hash == h && strcmp(s->stmts[i].sql, sql) == 0)
			break;
	snprintf(name, len, "slipway_%zu", i);
	if (i < s->nstmts)
		return 1;
	if (s->nstmts == STORE_STMTS_MAX)
		return 0;
	res = PQprepare(s->conn, name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*failed = res;
		return -1;
	}
	PQclear(res);
	if ((s->stmts[i].sql = strdup(sql)) == NULL) {
		/* Prepared but not remembered: drop it so the name stays free. */
		PQclear(PQexec(s->conn, "DEALLOCATE ALL"));
		store_stmts_clear(s);
		return 0;
	}
	s->stmts[i].hash = h;
	s->nstmts++;
	return 1;
}

/* Re-establishes a broken connection, but never inside a transaction. */
static int
store_ensure(struct store *s, struct error *err)
{
	store_check_idle(s);
	if (PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->in_tx) {
		error_set(err, "unavailable", "", "connection lost in a transaction");
		return -1;
	}
	PQreset(s->conn);
	store_stmts_clear(s);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		error_set(err, "unavailable", "", "cannot reconnect to postgres: %s",
		    PQerrorMessage(s->conn));
		return -1;
	}
	log_info("postgres connection re-established");
	return store_set_path(s, err);
}

int
store_ping(struct store *s)
{
	struct error err;
	struct store_result *r = NULL;
	int ok;

	ok = store_exec(s, &r, "SELECT 1", 0, NULL, NULL, &err) == 0;
	store_result_free(r);
	return ok;
}

/* Builds libpq's parallel arrays: binary where lens[i] >= 0. */
static PGresult *
store_run(struct store *s, const char *sql, int nparams,
    const char *const *vals, const int *lens)
{
	int *plens = NULL, *fmts = NULL;
	char name[32];
	PGresult *res = NULL;
	int prepared;

	if (nparams > 0 && lens != NULL) {
		plens = calloc((size_t)nparams, sizeof(int));
		fmts = calloc((size_t)nparams, sizeof(int));
		if (plens == NULL || fmts == NULL) {
			free(plens);
			free(fmts);
			return NULL;
		}
		for (int i = 0; i < nparams; i++) {
			fmts[i] = lens[i] >= 0;
			plens[i] = lens[i] >= 0 ? lens[i] : 0;
		}
	}
	prepared = nparams > 0 ? store_stmt_name(s, sql, nparams, name,
	    sizeof(name), &res) : 0;
	if (prepared == 1)
		res = PQexecPrepared(s->conn, name, nparams, vals, plens, fmts, 0);
	else if (prepared == 0)
		res = PQexecParams(s->conn, sql, nparams, NULL, vals, plens, fmts,
		    0);
	free(plens);
	free(fmts);
	return res;
}

/*
 * 1 for a SELECT ... FOR UPDATE/SHARE outside BEGIN: in autocommit its lock
 * ends with the statement, so whatever the caller does next is unguarded
 * (a data-modifying statement that locks in a CTE is atomic and fine).
 */
static int
store_locking_read_alone(const struct store *s, const char *sql)
{
	return !s->in_tx && strncmp(sql, "SELECT", 6) == 0 &&
	    (strstr(sql, " FOR UPDATE") != NULL ||
	    strstr(sql, " FOR SHARE") != NULL ||
	    strstr(sql, " FOR NO KEY UPDATE") != NULL);
}

int
store_exec(struct store *s, struct store_result **out, const char *sql,
    int nparams, const char *const *vals, const int *lens, struct error *err)
{
	PGresult *res;
	ExecStatusType st;

	if (out != NULL)
		*out = NULL;
	if (store_locking_read_alone(s, sql)) {
		log_warnx("refused outside a transaction (its lock would end at "
		    "once): %.120s", sql);
		error_set(err, "internal", "", "a locking read outside a "
		    "transaction");
		return -1;
	}
	if (store_ensure(s, err) == -1)
		return -1;
	res = store_run(s, sql, nparams, vals, lens);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
		store_error_from_result(s, res, err);
		PQclear(res);
		return -1;
	}
	if (out == NULL) {
		PQclear(res);
		return 0;
	}
	if ((*out = malloc(sizeof(**out))) == NULL) {
		PQclear(res);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	(*out)->res = res;
	return 0;
}

/* Runs a parameterless command (BEGIN, COMMIT, migrations). */
static int
store_command(struct store *s, const char *sql, struct error *err)
{
	PGresult *res = PQexec(s->conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		store_error_from_result(s, res, err);
	PQclear(res);
	return ok ? 0 : -1;
}

int
store_begin(struct store *s, struct error *err)
{
	if (store_ensure(s, err) == -1)
		return -1;
	if (store_command(s, "BEGIN", err) == -1)
		return -1;
	s->in_tx = 1;
	return 0;
}

int
store_commit(struct store *s, struct error *err)
{
	int rc = store_command(s, "COMMIT", err);

	/*
	 * COMMIT of an aborted transaction answers ROLLBACK without an error:
	 * report it, or the caller would believe its writes landed.
	 */
	if (rc == 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		rc = -1;
	s->in_tx = 0;
	return rc;
}

void
store_rollback(struct store *s)
{
	struct error err;

	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		(void)store_command(s, "ROLLBACK", &err);
	s->in_tx = 0;
}

int
store_in_tx(const struct store *s)
{
	return s->in_tx;
}

int
store_tx(struct store *s, int (*fn)(struct store *, void *, struct error *),
    void *arg, struct error *err)
{
	if (store_begin(s, err) == -1)
		return -1;
	if (fn(s, arg, err) == -1) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s, err) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

/* --- migrations --------------------------------------------------------- */

static int
store_migration_applied(struct store *s, const char *table, const char *name,
    struct error *err)
{
	char sql[256];
	struct store_result *r;
	const char *vals[1] = { name };
	int n;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE name = $1", table);
	if (store_exec(s, &r, sql, 1, vals, NULL, err) == -1)
		return -1;
	n = store_result_rows(r);
	store_result_free(r);
	return n > 0;
}

static int
store_migration_apply(struct store *s, const char *table,
    const struct migration *m, struct error *err)
{
	char sql[256];
	const char *vals[1] = { m->name };

	if (store_begin(s, err) == -1)
		return -1;
	/* PQexec runs the whole multi-statement file in this transaction. */
	snprintf(sql, sizeof(sql), "INSERT INTO %s (name) VALUES ($1)", table);
	if (store_command(s, m->sql, err) == -1 ||
	    store_exec(s, NULL, sql, 1, vals, NULL, err) == -1 ||
	    store_commit(s, err) == -1) {
		store_rollback(s);
		return -1;
	}
	log_info("migration %s applied to schema %s", m->name, s->schema);
	return 0;
}

/* Everything migrate does once it holds the advisory lock. */
static int
store_migrate_locked(struct store *s, const char *id,
    const struct migration *m, size_t n, struct error *err)
{
	char sql[512], table[160];
	int applied;

	snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", id);
	if (store_command(s, sql, err) == -1)
		return -1;
	snprintf(table, sizeof(table), "%s.schema_migrations", id);
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s (name text "
	    "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", table);
	if (store_command(s, sql, err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		applied = store_migration_applied(s, table, m[i].name, err);
		if (applied == -1)
			return -1;
		if (!applied && store_migration_apply(s, table, &m[i], err) == -1) {
			log_warnx("migration %s failed: %s", m[i].name, err->msg);
			return -1;
		}
	}
	return 0;
}

int
store_migrate(struct store *s, const struct migration *m, size_t n,
    struct error *err)
{
	const char *vals[1] = { s->schema };
	char *id;
	int rc;

	if (store_ensure(s, err) == -1)
		return -1;
	if ((id = PQescapeIdentifier(s->conn, s->schema, strlen(s->schema))) ==
	    NULL) {
		error_set(err, "db_error", "", "bad schema name");
		return -1;
	}
	/* Replicas starting together serialise here instead of racing DDL. */
	if (store_exec(s, NULL, "SELECT pg_advisory_lock(hashtext($1))", 1, vals,
	    NULL, err) == -1) {
		PQfreemem(id);
		return -1;
	}
	rc = store_migrate_locked(s, id, m, n, err);
	PQfreemem(id);
	if (rc == -1)
		store_rollback(s);
	/* The lock is session-level: it must be released on success and failure. */
	(void)store_exec(s, NULL, "SELECT pg_advisory_unlock(hashtext($1))", 1,
	    vals, NULL, &(struct error){ 0 });
	return rc;
}

/* --- results ------------------------------------------------------------ */

int
store_result_rows(const struct store_result *r)
{
	return r ? PQntuples(r->res) : 0;
}

const char *
store_result_get(const struct store_result *r, int row, int col)
{
	if (r == NULL || row < 0 || row >= PQntuples(r->res) || col < 0 ||
	    col >= PQnfields(r->res))
		return "";
	return PQgetvalue(r->res, row, col);
}

int
store_result_isnull(const struct store_result *r, int row, int col)
{
	if (r == NULL || row < 0 || row >= PQntuples(r->res) || col < 0 ||
	    col >= PQnfields(r->res))
		return 1;
	return PQgetisnull(r->res, row, col);
}

long
store_result_affected(const struct store_result *r)
{
	const char *n = r ? PQcmdTuples(r->res) : "";

	return *n ? strtol(n, NULL, 10) : 0;
}

unsigned char *
store_result_bytes(const struct store_result *r, int row, int col, size_t *len)
{
	unsigned char *pq, *copy;
	size_t n;

	if (store_result_isnull(r, row, col))
		return NULL;
	pq = PQunescapeBytea((const unsigned char *)store_result_get(r, row, col),
	    &n);
	if (pq == NULL)
		return NULL;
	/* Callers free() it, so hand out malloc'd memory, not libpq's. */
	if ((copy = malloc(n > 0 ? n : 1)) != NULL) {
		memcpy(copy, pq, n);
		*len = n;
	}
	PQfreemem(pq);
	return copy;
}

void
store_result_free(struct store_result *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}
