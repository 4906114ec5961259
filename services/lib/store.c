/*
 * store.c: PostgreSQL through libpq. One connection per struct store;
 * statements are always parameterised and results are text.
 *
 * The calls are synchronous for the caller but never wait without a bound:
 * every statement goes out with libpq's asynchronous API and is waited for
 * with poll(2) until its deadline (store_set_query_timeout). A server that
 * stops answering (stopped, a network black hole) costs the caller that
 * long and an "unavailable" error, never the whole service.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "config.h"
#include "store.h"
#include "log.h"

/* A connection attempt's bound unless the URL sets connect_timeout. */
#define STORE_CONNECT_TIMEOUT_S "5"
/* Migrations may rewrite tables and wait for another replica's lock. */
#define STORE_MIGRATE_TIMEOUT_MS 120000
/*
 * After Postgres failed to answer, statements are refused at once for a
 * while (doubling up to the max, and never shorter than the failed attempt
 * took) instead of each waiting out its own deadline: a loop then spends
 * at most half its time waiting, and a call about one deadline at most.
 */
#define STORE_RETRY_MIN_MS 200
#define STORE_RETRY_MAX_MS 2000
/* Cancel requests that may wait for an unanswering server at once. */
#define STORE_CANCELS_MAX 4

/* Every store's deadline from its creation on (store_set_query_timeout). */
static int store_query_timeout_ms = CONFIG_PG_QUERY_TIMEOUT_MS;
static atomic_int store_cancels;
/*
 * The back-off is the process's, not the connection's: its stores all talk
 * to one Postgres, so when one finds it unanswering the others need not
 * each find out at the cost of a deadline.
 */
static _Atomic long long store_retry_at_ms;
static atomic_int store_backoff_ms;

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
	PGconn *conn;          /* NULL once a timeout dropped it */
	char *conninfo;        /* to reconnect; holds the password: never logged */
	char *schema;
	int in_tx;   /* inside BEGIN: a reconnect would silently lose work */
	int timeout_ms;        /* each statement's bound, its reconnect included */
	int connect_ms;        /* a connection attempt's bound */
	struct store_stmt stmts[STORE_STMTS_MAX];
	size_t nstmts;
};

/* How a wait for Postgres ended. */
enum store_wait {
	STORE_READY,
	STORE_LOST,      /* the connection broke */
	STORE_TIMEOUT,   /* the deadline passed first */
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
	{ "57014", "unavailable" },   /* query_canceled: our statement_timeout */
	{ "53300", "unavailable" },   /* too_many_connections */
	{ "57P01", "unavailable" },   /* admin_shutdown */
	{ "57P02", "unavailable" },   /* crash_shutdown */
	{ "57P03", "unavailable" },   /* cannot_connect_now */
};

int
store_set_query_timeout(int ms)
{
	if (ms < STORE_QUERY_TIMEOUT_MIN_MS || ms > STORE_QUERY_TIMEOUT_MAX_MS)
		return -1;
	store_query_timeout_ms = ms;
	return 0;
}

/* Milliseconds to wait for a deadline: 0 once it has passed. */
static int
store_deadline_left_ms(long long deadline_ms, long long now_ms)
{
	long long left = deadline_ms - now_ms;

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * The server's own statement_timeout: a little under the client's
 * deadline, so a statement that is merely slow (a lock wait, a big scan)
 * is ended by Postgres itself, which frees its locks at once and answers
 * 57014 over a connection that stays usable. The client deadline then
 * only fires when the server does not answer at all.
 */
static int
store_server_timeout_ms(int client_ms)
{
	int margin = client_ms / 10 < 500 ? client_ms / 10 : 500;

	return client_ms - margin > 0 ? client_ms - margin : 1;
}

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

/* --- waiting with a deadline -------------------------------------------- */

/* Waits until fd has one of events, or the deadline passes. */
static enum store_wait
store_wait_fd(int fd, short events, long long deadline, short *got)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	if (fd < 0)
		return STORE_LOST;
	for (;;) {
		n = poll(&p, 1, store_deadline_left_ms(deadline, clock_mono_ms()));
		if (n > 0) {
			*got = p.revents;
			return STORE_READY;
		}
		if (n < 0 && errno != EINTR)
			return STORE_LOST;
		if (n == 0 && clock_mono_ms() >= deadline)
			return STORE_TIMEOUT;
	}
}

/* Sends what libpq has buffered (a large bytea may not fit the socket). */
static enum store_wait
store_flush(PGconn *conn, long long deadline)
{
	enum store_wait w;
	short got;
	int rc;

	while ((rc = PQflush(conn)) == 1) {
		/* Reading too, or a server that answers early could deadlock us. */
		w = store_wait_fd(PQsocket(conn), POLLIN | POLLOUT, deadline, &got);
		if (w != STORE_READY)
			return w;
		if ((got & POLLIN) && PQconsumeInput(conn) == 0)
			return STORE_LOST;
	}
	return rc == 0 ? STORE_READY : STORE_LOST;
}

/* Reads until PQgetResult can answer without blocking. */
static enum store_wait
store_await(PGconn *conn, long long deadline)
{
	enum store_wait w;
	short got;

	while (PQisBusy(conn)) {
		w = store_wait_fd(PQsocket(conn), POLLIN, deadline, &got);
		if (w != STORE_READY)
			return w;
		if (PQconsumeInput(conn) == 0)
			return STORE_LOST;
	}
	return STORE_READY;
}

/*
 * Collects the results of what was just sent, until libpq has no more:
 * the first error if any (Postgres stops a multi-statement string there),
 * else the last result, like PQexec.
 */
static enum store_wait
store_collect(PGconn *conn, long long deadline, PGresult **out)
{
	enum store_wait w;
	PGresult *r;
	ExecStatusType st;

	*out = NULL;
	if ((w = store_flush(conn, deadline)) != STORE_READY)
		return w;
	for (;;) {
		if ((w = store_await(conn, deadline)) != STORE_READY)
			return w;
		if ((r = PQgetResult(conn)) == NULL)
			return STORE_READY;
		st = PQresultStatus(*out);
		if (*out != NULL && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			PQclear(r);   /* keep the first error */
			continue;
		}
		PQclear(*out);
		*out = r;
	}
}

/* --- cancel and back-off ------------------------------------------------ */

/* PQcancel blocks until the server answers: a thread of its own waits. */
static void *
store_cancel_run(void *arg)
{
	PGcancel *c = arg;
	char why[256];

	(void)PQcancel(c, why, sizeof(why));
	PQfreeCancel(c);
	atomic_fetch_sub(&store_cancels, 1);
	return NULL;
}

/*
 * Asks the server to stop the statement we gave up on, so it does not run
 * on (holding its locks) after we left. The caller never waits for the
 * answer; at most STORE_CANCELS_MAX requests are in flight (against a
 * stopped server they wait until it runs again), beyond that the server's
 * statement_timeout ends the statement.
 */
static void
store_cancel(PGconn *conn)
{
	pthread_attr_t attr;
	pthread_t t;
	PGcancel *c;
	int ok = 0;

	if (atomic_fetch_add(&store_cancels, 1) >= STORE_CANCELS_MAX) {
		atomic_fetch_sub(&store_cancels, 1);
		log_warnx("postgres: %d cancel requests already wait, not sending "
		    "another", STORE_CANCELS_MAX);
		return;
	}
	if ((c = PQgetCancel(conn)) != NULL && pthread_attr_init(&attr) == 0) {
		ok = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) ==
		    0 && pthread_create(&t, &attr, store_cancel_run, c) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!ok) {
		PQfreeCancel(c);
		atomic_fetch_sub(&store_cancels, 1);
	}
}

/*
 * Postgres failed to answer, after spent_ms of waiting: no statement
 * until the back-off has passed.
 */
static void
store_back_off(long long spent_ms)
{
	int b = atomic_load(&store_backoff_ms);

	b = b == 0 ? STORE_RETRY_MIN_MS : b * 2 > STORE_RETRY_MAX_MS ?
	    STORE_RETRY_MAX_MS : b * 2;
	atomic_store(&store_backoff_ms, b);
	atomic_store(&store_retry_at_ms, clock_mono_ms() +
	    (spent_ms > b ? spent_ms : b));
}

/* Postgres answered a connection attempt: no back-off any more. */
static void
store_back_on(void)
{
	atomic_store(&store_backoff_ms, 0);
	atomic_store(&store_retry_at_ms, 0);
}

/* 1 (err set) while backing off: the statement is refused unsent. */
static int
store_backing_off(struct error *err)
{
	long long left = atomic_load(&store_retry_at_ms) - clock_mono_ms();

	if (left <= 0)
		return 0;
	error_set(err, "unavailable", "", "postgres is unavailable (next "
	    "attempt in %lld ms)", left);
	return 1;
}

/*
 * The deadline passed with a statement in flight: the connection is in an
 * unknown state (a result may still come), so it is cancelled and dropped.
 * A transaction in progress dies with it; in_tx stays set, so the caller's
 * next statement fails until it rolls back (store.h).
 */
static void
store_abandon(struct store *s, const char *what, struct error *err)
{
	store_cancel(s->conn);
	PQfinish(s->conn);
	s->conn = NULL;
	store_stmts_clear(s);
	store_back_off(s->timeout_ms);
	log_warnx("postgres did not answer %s within %d ms: connection dropped%s",
	    what, s->timeout_ms, s->in_tx ? " with its transaction" : "");
	error_set(err, "unavailable", "", "postgres did not answer within %d ms",
	    s->timeout_ms);
}

/*
 * Waits for what a PQsend* call (sent: its return value) put on the wire.
 * NULL with err set when the deadline passed (the connection is then
 * dropped) or the connection broke before any result.
 */
static PGresult *
store_finish(struct store *s, int sent, long long deadline, const char *what,
    struct error *err)
{
	PGresult *res = NULL;
	enum store_wait w = sent ? store_collect(s->conn, deadline, &res) :
	    STORE_LOST;

	if (w == STORE_TIMEOUT) {
		PQclear(res);
		store_abandon(s, what, err);
		return NULL;
	}
	if (w == STORE_LOST && res == NULL) {
		error_set(err, "unavailable", "", "database connection lost: %s",
		    PQerrorMessage(s->conn));
		return NULL;
	}
	return res;
}

/* --- connecting --------------------------------------------------------- */

/* connect_timeout as the connection ended up with it (the URL may set it). */
static int
store_connect_ms(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn), *o;
	int s = 0;

	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL)
			s = atoi(o->val);
	PQconninfoFree(opts);
	return s > 0 && s <= 3600 ? s * 1000 : 5000;
}

/*
 * Starts a connection and drives it until it is up or the deadline passes
 * (libpq's own connect_timeout only holds for a blocking connect). Names
 * are resolved synchronously by libpq: name the server by address where
 * that matters.
 */
static PGconn *
store_connect(const char *conninfo, int *connect_ms, long long deadline,
    struct error *err)
{
	const char *const keys[] = { "connect_timeout", "dbname", NULL };
	const char *const vals[] = { STORE_CONNECT_TIMEOUT_S, conninfo, NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	enum store_wait w = STORE_READY;
	short got;

	if (c != NULL && PQstatus(c) != CONNECTION_BAD) {
		*connect_ms = store_connect_ms(c);
		if (clock_mono_ms() + *connect_ms < deadline)
			deadline = clock_mono_ms() + *connect_ms;
	}
	while (c != NULL && PQstatus(c) != CONNECTION_BAD &&
	    st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED &&
	    (w = store_wait_fd(PQsocket(c), st == PGRES_POLLING_READING ?
	    POLLIN : POLLOUT, deadline, &got)) == STORE_READY)
		st = PQconnectPoll(c);
	if (c != NULL && st == PGRES_POLLING_OK)
		return c;
	/* PQerrorMessage names host and port, never the password. */
	error_set(err, "unavailable", "", "cannot connect to postgres: %s",
	    c == NULL ? "out of memory" : w == STORE_TIMEOUT ?
	    "no answer in time" : PQerrorMessage(c));
	PQfinish(c);
	return NULL;
}

/*
 * The session's settings: search_path to the (quoted) schema, public kept
 * for extensions, and the server's statement_timeout. lock_timeout is left
 * alone: statement_timeout already bounds lock waits, and a second, lower
 * bound would only fail statements the deadline allows.
 */
static int
store_session_set(struct store *s, long long deadline, struct error *err)
{
	char *id = PQescapeIdentifier(s->conn, s->schema, strlen(s->schema));
	char sql[320];
	PGresult *res;
	int ok;

	if (id == NULL) {
		error_set(err, "db_error", "", "bad schema name");
		return -1;
	}
	snprintf(sql, sizeof(sql), "SET search_path TO %s, public; "
	    "SET statement_timeout = %d", id,
	    store_server_timeout_ms(s->timeout_ms));
	PQfreemem(id);
	if ((res = store_finish(s, PQsendQuery(s->conn, sql), deadline,
	    "the session set-up", err)) == NULL)
		return -1;
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		store_error_from_result(s, res, err);
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * A fresh connection with the session set up: connecting within the
 * connect bound, setting up within the statement deadline, both before
 * deadline. -1: the caller drops s->conn.
 */
static int
store_open(struct store *s, long long deadline, struct error *err)
{
	long long setup;

	if ((s->conn = store_connect(s->conninfo, &s->connect_ms, deadline,
	    err)) == NULL)
		return -1;
	if ((setup = clock_mono_ms() + s->timeout_ms) < deadline)
		deadline = setup;
	PQsetNoticeProcessor(s->conn, store_notice, NULL);
	if (PQsetnonblocking(s->conn, 1) != 0) {
		error_set(err, "unavailable", "", "postgres: %s",
		    PQerrorMessage(s->conn));
		return -1;
	}
	return store_session_set(s, deadline, err);
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
	    (s->schema = strdup(schema)) == NULL ||
	    (s->conninfo = strdup(conninfo)) == NULL) {
		store_free(s);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	s->timeout_ms = store_query_timeout_ms;
	s->connect_ms = 5000;
	if (store_open(s, LLONG_MAX, err) == -1) {
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
	free(s->conninfo);
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

/* Runs a parameterless command under the deadline; 0 or -1 with err. */
static int
store_command_by(struct store *s, const char *sql, long long deadline,
    struct error *err)
{
	PGresult *res = store_finish(s, PQsendQuery(s->conn, sql), deadline,
	    "a command", err);
	int ok;

	if (res == NULL)
		return -1;
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		store_error_from_result(s, res, err);
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * The name sql is prepared under on this connection (written into name),
 * preparing it now if needed: 1. 0 when it is not cached (the cache is
 * full: run it unprepared). -1 when the prepare failed: *failed is the
 * statement's own error (parse and analysis fail alike either way), or
 * NULL with err set when Postgres did not answer.
 */
static int
store_stmt_name(struct store *s, const char *sql, int nparams, char *name,
    size_t len, long long deadline, PGresult **failed, struct error *err)
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
	res = store_finish(s, PQsendPrepare(s->conn, name, sql, nparams, NULL),
	    deadline, "a prepare", err);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*failed = res;
		return -1;
	}
	PQclear(res);
	if ((s->stmts[i].sql = strdup(sql)) == NULL) {
		/* Prepared but not remembered: drop it so the name stays free. */
		(void)store_command_by(s, "DEALLOCATE ALL", deadline, err);
		store_stmts_clear(s);
		return 0;
	}
	s->stmts[i].hash = h;
	s->nstmts++;
	return 1;
}

/*
 * Re-establishes a broken connection, but never inside a transaction.
 * While backing off from a server that did not answer, nothing is sent,
 * not even over a connection that looks up.
 */
static int
store_ensure(struct store *s, long long deadline, struct error *err)
{
	long long start = clock_mono_ms();

	if (store_backing_off(err))
		return -1;
	store_check_idle(s);
	if (PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	if (s->in_tx) {
		error_set(err, "unavailable", "", "connection lost in a transaction");
		return -1;
	}
	PQfinish(s->conn);
	s->conn = NULL;
	store_stmts_clear(s);
	if (store_open(s, deadline, err) == -1) {
		PQfinish(s->conn);
		s->conn = NULL;
		store_back_off(clock_mono_ms() - start);
		return -1;
	}
	store_back_on();
	log_info("postgres connection re-established");
	return 0;
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

/*
 * Sends one statement (prepared when it has parameters) and waits for its
 * result under the deadline. NULL with err set when Postgres did not
 * answer; otherwise a result to check (maybe an error).
 */
static PGresult *
store_run(struct store *s, const char *sql, int nparams,
    const char *const *vals, const int *lens, long long deadline,
    struct error *err)
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
			error_set(err, "internal", "", "out of memory");
			return NULL;
		}
		for (int i = 0; i < nparams; i++) {
			fmts[i] = lens[i] >= 0;
			plens[i] = lens[i] >= 0 ? lens[i] : 0;
		}
	}
	prepared = nparams > 0 ? store_stmt_name(s, sql, nparams, name,
	    sizeof(name), deadline, &res, err) : 0;
	if (prepared == 1)
		res = store_finish(s, PQsendQueryPrepared(s->conn, name, nparams,
		    vals, plens, fmts, 0), deadline, "a statement", err);
	else if (prepared == 0)
		res = store_finish(s, PQsendQueryParams(s->conn, sql, nparams, NULL,
		    vals, plens, fmts, 0), deadline, "a statement", err);
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
	long long deadline = clock_mono_ms() + s->timeout_ms;
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
	if (store_ensure(s, deadline, err) == -1)
		return -1;
	if ((res = store_run(s, sql, nparams, vals, lens, deadline, err)) ==
	    NULL)
		return -1;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
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

/* Runs a parameterless command (BEGIN, COMMIT, migrations) in one deadline. */
static int
store_command(struct store *s, const char *sql, struct error *err)
{
	long long deadline = clock_mono_ms() + s->timeout_ms;

	if (store_ensure(s, deadline, err) == -1)
		return -1;
	return store_command_by(s, sql, deadline, err);
}

int
store_begin(struct store *s, struct error *err)
{
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
	if (rc == 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		error_set(err, "db_error", "", "the transaction was rolled back");
		rc = -1;
	}
	s->in_tx = 0;
	return rc;
}

/*
 * While backing off the server may not answer a ROLLBACK either: closing
 * the connection ends the transaction as surely, without a wait.
 */
void
store_rollback(struct store *s)
{
	struct error err;

	if (PQstatus(s->conn) == CONNECTION_OK &&
	    PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		if (store_backing_off(&err)) {
			PQfinish(s->conn);
			s->conn = NULL;
			store_stmts_clear(s);
		} else
			(void)store_command_by(s, "ROLLBACK", clock_mono_ms() +
			    s->timeout_ms, &err);
	}
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

/*
 * Changes this store's deadline and the server's statement_timeout with it
 * (a reconnect applies s->timeout_ms anyway, so a failure here is only
 * reported).
 */
static int
store_timeout_set(struct store *s, int ms, struct error *err)
{
	char sql[64];

	s->timeout_ms = ms;
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d",
	    store_server_timeout_ms(ms));
	return store_command(s, sql, err);
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
	/* One simple query runs the whole file, inside this transaction. */
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
	int normal = s->timeout_ms;
	char *id;
	int rc;

	if (store_timeout_set(s, STORE_MIGRATE_TIMEOUT_MS, err) == -1)
		return -1;
	if ((id = PQescapeIdentifier(s->conn, s->schema, strlen(s->schema))) ==
	    NULL) {
		error_set(err, "db_error", "", "bad schema name");
		(void)store_timeout_set(s, normal, &(struct error){ 0 });
		return -1;
	}
	/* Replicas starting together serialise here instead of racing DDL. */
	rc = store_exec(s, NULL, "SELECT pg_advisory_lock(hashtext($1))", 1,
	    vals, NULL, err);
	if (rc == 0) {
		rc = store_migrate_locked(s, id, m, n, err);
		if (rc == -1)
			store_rollback(s);
		/* The lock is session-level: released on success and failure. */
		(void)store_exec(s, NULL, "SELECT pg_advisory_unlock(hashtext($1))",
		    1, vals, NULL, &(struct error){ 0 });
	}
	PQfreemem(id);
	(void)store_timeout_set(s, normal, &(struct error){ 0 });
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
