/*
 * store_async.c: one libpq connection on the event loop (store_async.h).
 *
 * The connection is an explicit state machine:
 *   DOWN ──(backoff timer)──> CONNECTING ──(poll OK)──> IDLE <──> BUSY
 *   CONNECTING ──(poll failed / deadline)──> DOWN (queue refused, backoff)
 *   IDLE|BUSY ──(connection lost)──> CONNECTING at once (queue kept)
 * store_async_transition() is the only place the state changes. Queries
 * are accepted while IDLE or BUSY, and while CONNECTING after a healthy
 * connection (or at start): a CONNECTING after a failure refuses them, so
 * an outage costs each caller nothing but an immediate "unavailable".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "store_async.h"

#define SA_BACKOFF_MIN_MS 200
#define SA_BACKOFF_MAX_MS 2000

enum sa_state { SA_DOWN, SA_CONNECTING, SA_IDLE, SA_BUSY };

struct sa_job {
	struct sa_job *next;
	struct store_async *sa;
	char *sql;
	int nparams;
	char **vals;
	store_async_cb cb;
	void *arg;
	struct event *deadline;
};

struct store_async {
	struct event_base *base;
	char *conninfo;
	struct store_async_config cfg;
	PGconn *conn;
	enum sa_state state;
	int healthy;             /* the last attempt (or the start) went well */
	struct event *io;        /* on PQsocket; re-made when the socket changes */
	struct event *timer;     /* backoff (DOWN) or connect deadline */
	int backoff_ms;
	struct sa_job *head, *tail, *inflight;
	size_t queued;
	PGresult *res;           /* the in-flight query's first result */
};

struct store_async_result {
	PGresult *res;
};

static void sa_on_io(evutil_socket_t fd, short what, void *arg);
static void sa_connect(struct store_async *sa);
static void sa_next(struct store_async *sa);

static const char *const sa_state_names[] = {
	[SA_DOWN] = "down", [SA_CONNECTING] = "connecting",
	[SA_IDLE] = "idle", [SA_BUSY] = "busy",
};

/* The one place the state moves; an illegal move is a broken invariant. */
static void
store_async_transition(struct store_async *sa, enum sa_state to)
{
	static const unsigned allowed[] = {
		[SA_DOWN] = 1u << SA_CONNECTING,
		[SA_CONNECTING] = 1u << SA_DOWN | 1u << SA_IDLE,
		[SA_IDLE] = 1u << SA_BUSY | 1u << SA_CONNECTING | 1u << SA_DOWN,
		[SA_BUSY] = 1u << SA_IDLE | 1u << SA_CONNECTING | 1u << SA_DOWN,
	};

	if ((allowed[sa->state] & (1u << to)) == 0)
		fatal("store_async: illegal move %s -> %s",
		    sa_state_names[sa->state], sa_state_names[to]);
	sa->state = to;
}

static void
sa_job_free(struct sa_job *j)
{
	if (j->deadline != NULL)
		event_free(j->deadline);
	for (int i = 0; i < j->nparams; i++)
		free(j->vals[i]);
	free(j->vals);
	free(j->sql);
	free(j);
}

/* Answers a job that failed and frees it. */
static void
sa_job_fail(struct sa_job *j, const char *code, const char *msg)
{
	struct error err;

	error_set(&err, code, "", "%s", msg);
	j->cb(NULL, &err, j->arg);
	sa_job_free(j);
}

static void
sa_unqueue(struct store_async *sa, struct sa_job *j)
{
	struct sa_job **pp = &sa->head, *prev = NULL;

	while (*pp != NULL && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = j->next;
	if (sa->tail == j)
		sa->tail = prev;
	sa->queued--;
}

static void
sa_fail_queue(struct store_async *sa, const char *msg)
{
	struct sa_job *j;

	while ((j = sa->head) != NULL) {
		sa_unqueue(sa, j);
		sa_job_fail(j, "unavailable", msg);
	}
}

/* Watches the connection's socket for what (EV_READ and/or EV_WRITE). */
static void
sa_watch(struct store_async *sa, short what)
{
	if (sa->io != NULL)
		event_free(sa->io);
	sa->io = event_new(sa->base, PQsocket(sa->conn), what | EV_PERSIST,
	    sa_on_io, sa);
	if (sa->io != NULL)
		event_add(sa->io, NULL);
}

static void
sa_close(struct store_async *sa)
{
	if (sa->io != NULL)
		event_free(sa->io);
	sa->io = NULL;
	if (sa->res != NULL)
		PQclear(sa->res);
	sa->res = NULL;
	if (sa->conn != NULL)
		PQfinish(sa->conn);
	sa->conn = NULL;
	evtimer_del(sa->timer);
}

/* A connection attempt failed: refuse what waits, retry after a backoff. */
static void
sa_failed(struct store_async *sa, const char *why)
{
	struct timeval tv;

	if (sa->healthy)
		log_warnx("postgres unavailable: %s", why);
	sa->healthy = 0;
	sa_close(sa);
	store_async_transition(sa, SA_DOWN);
	sa_fail_queue(sa, "postgres unavailable");
	tv.tv_sec = sa->backoff_ms / 1000;
	tv.tv_usec = (sa->backoff_ms % 1000) * 1000;
	evtimer_add(sa->timer, &tv);
	if ((sa->backoff_ms *= 2) > SA_BACKOFF_MAX_MS)
		sa->backoff_ms = SA_BACKOFF_MAX_MS;
}

/*
 * A working connection broke (server restart, a query past its deadline):
 * the query in flight fails, the queue waits for one attempt made at once.
 */
static void
sa_lost(struct store_async *sa, const char *why)
{
	struct sa_job *j = sa->inflight;

	log_warnx("postgres connection lost: %s", why);
	sa->inflight = NULL;
	sa_close(sa);
	if (j != NULL)
		sa_job_fail(j, "unavailable", "postgres connection lost");
	store_async_transition(sa, SA_CONNECTING);
	sa_connect(sa);
}

/* Text of libpq's last error, one line. */
static const char *
sa_errmsg(struct store_async *sa, char *buf, size_t len)
{
	char *nl;

	snprintf(buf, len, "%s", sa->conn ? PQerrorMessage(sa->conn) :
	    "out of memory");
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	return buf;
}

static void
sa_connect_poll(struct store_async *sa)
{
	char msg[256];

	switch (PQconnectPoll(sa->conn)) {
	case PGRES_POLLING_READING:
		sa_watch(sa, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		sa_watch(sa, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		sa_failed(sa, sa_errmsg(sa, msg, sizeof(msg)));
		return;
	}
	evtimer_del(sa->timer);
	if (PQsetnonblocking(sa->conn, 1) == -1) {
		sa_failed(sa, sa_errmsg(sa, msg, sizeof(msg)));
		return;
	}
	if (!sa->healthy)
		log_info("postgres connected again");
	sa->healthy = 1;
	sa->backoff_ms = SA_BACKOFF_MIN_MS;
	store_async_transition(sa, SA_IDLE);
	sa_watch(sa, EV_READ);   /* notices a server that goes away while idle */
	sa_next(sa);
}

/* Notices (a server shutting down says so) are noise in a JSON log. */
static void
sa_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %.200s", message);
}

/* Starts an attempt; state is CONNECTING. */
static void
sa_connect(struct store_async *sa)
{
	struct timeval tv = { sa->cfg.connect_timeout_ms / 1000,
	    (sa->cfg.connect_timeout_ms % 1000) * 1000 };
	char msg[256];

	sa->conn = PQconnectStart(sa->conninfo);
	if (sa->conn == NULL || PQstatus(sa->conn) == CONNECTION_BAD) {
		sa_failed(sa, sa_errmsg(sa, msg, sizeof(msg)));
		return;
	}
	PQsetNoticeProcessor(sa->conn, sa_notice, NULL);
	evtimer_add(sa->timer, &tv);
	sa_watch(sa, EV_WRITE);   /* libpq: act as if polling said WRITING */
}

/* Backoff over (DOWN): try again; connect deadline (CONNECTING): give up. */
static void
sa_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct store_async *sa = arg;

	(void)fd;
	(void)what;
	if (sa->state == SA_DOWN) {
		store_async_transition(sa, SA_CONNECTING);
		sa_connect(sa);
	} else if (sa->state == SA_CONNECTING) {
		sa_failed(sa, "connection attempt timed out");
	}
}

/* The in-flight query's results are all in: answer it. */
static void
sa_complete(struct store_async *sa)
{
	struct sa_job *j = sa->inflight;
	struct store_async_result r = { sa->res };
	ExecStatusType st = sa->res ? PQresultStatus(sa->res) : PGRES_FATAL_ERROR;
	struct error err;
	char msg[256];

	sa->inflight = NULL;
	sa->res = NULL;
	store_async_transition(sa, SA_IDLE);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		j->cb(&r, NULL, j->arg);
	} else {
		error_set(&err, PQstatus(sa->conn) == CONNECTION_OK ? "db_error" :
		    "unavailable", "", "postgres: %s", r.res ?
		    PQresultErrorMessage(r.res) : sa_errmsg(sa, msg, sizeof(msg)));
		j->cb(NULL, &err, j->arg);
	}
	if (r.res != NULL)
		PQclear(r.res);
	sa_job_free(j);
	if (PQstatus(sa->conn) != CONNECTION_OK)
		sa_lost(sa, sa_errmsg(sa, msg, sizeof(msg)));
	else
		sa_next(sa);
}

/* Reads what arrived; answers the query in flight once it is complete. */
static void
sa_read(struct store_async *sa)
{
	PGresult *res;
	PGnotify *n;
	char msg[256];

	if (PQconsumeInput(sa->conn) == 0) {
		sa_lost(sa, sa_errmsg(sa, msg, sizeof(msg)));
		return;
	}
	while ((n = PQnotifies(sa->conn)) != NULL)
		PQfreemem(n);
	if (sa->state != SA_BUSY)
		return;
	while (!PQisBusy(sa->conn)) {
		if ((res = PQgetResult(sa->conn)) == NULL) {
			sa_complete(sa);
			return;
		}
		if (sa->res == NULL)
			sa->res = res;   /* one statement: keep the first result */
		else
			PQclear(res);
	}
}

static void
sa_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct store_async *sa = arg;
	char msg[256];
	int rc;

	(void)fd;
	if (sa->state == SA_CONNECTING) {
		sa_connect_poll(sa);
		return;
	}
	if (what & EV_WRITE) {
		if ((rc = PQflush(sa->conn)) == -1) {
			sa_lost(sa, sa_errmsg(sa, msg, sizeof(msg)));
			return;
		}
		if (rc == 0)
			sa_watch(sa, EV_READ);
	}
	if (what & EV_READ)
		sa_read(sa);
}

/* Sends the next queued query when the connection is free. */
static void
sa_next(struct store_async *sa)
{
	struct sa_job *j = sa->head;
	char msg[256];
	int rc;

	if (sa->state != SA_IDLE || j == NULL)
		return;
	sa_unqueue(sa, j);
	sa->inflight = j;
	store_async_transition(sa, SA_BUSY);
	if (PQsendQueryParams(sa->conn, j->sql, j->nparams, NULL,
	    (const char *const *)j->vals, NULL, NULL, 0) == 0 ||
	    (rc = PQflush(sa->conn)) == -1) {
		sa_lost(sa, sa_errmsg(sa, msg, sizeof(msg)));
		return;
	}
	sa_watch(sa, rc == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/*
 * A query's time is up. Queued: it just leaves the queue. In flight: the
 * server is not answering, so the connection is given up (a cancel request
 * would be a blocking connect) and made again.
 */
static void
sa_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sa_job *j = arg;
	struct store_async *sa = j->sa;

	(void)fd;
	(void)what;
	if (sa->inflight == j) {
		sa_lost(sa, "query timed out");
		return;
	}
	sa_unqueue(sa, j);
	sa_job_fail(j, "unavailable", "postgres did not answer in time");
}

static struct sa_job *
sa_job_new(struct store_async *sa, const char *sql, int nparams,
    const char *const *vals, store_async_cb cb, void *arg)
{
	struct sa_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->sa = sa;
	j->cb = cb;
	j->arg = arg;
	j->sql = strdup(sql);
	j->vals = calloc(nparams > 0 ? (size_t)nparams : 1, sizeof(*j->vals));
	j->deadline = evtimer_new(sa->base, sa_on_deadline, j);
	if (j->sql == NULL || j->vals == NULL || j->deadline == NULL) {
		sa_job_free(j);
		return NULL;
	}
	for (; j->nparams < nparams; j->nparams++)
		if (vals[j->nparams] != NULL &&
		    (j->vals[j->nparams] = strdup(vals[j->nparams])) == NULL) {
			sa_job_free(j);
			return NULL;
		}
	return j;
}

int
store_async_query(struct store_async *sa, const char *sql, int nparams,
    const char *const *vals, store_async_cb cb, void *arg, struct error *err)
{
	struct timeval tv = { sa->cfg.query_timeout_ms / 1000,
	    (sa->cfg.query_timeout_ms % 1000) * 1000 };
	struct sa_job *j;

	if (sa->state == SA_DOWN || (sa->state == SA_CONNECTING && !sa->healthy)) {
		error_set(err, "unavailable", "", "postgres unavailable");
		return -1;
	}
	if (sa->queued >= sa->cfg.queue_max) {
		error_set(err, "unavailable", "", "too many postgres queries waiting");
		return -1;
	}
	if ((j = sa_job_new(sa, sql, nparams, vals, cb, arg)) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	evtimer_add(j->deadline, &tv);
	if (sa->tail != NULL)
		sa->tail->next = j;
	else
		sa->head = j;
	sa->tail = j;
	sa->queued++;
	sa_next(sa);
	return 0;
}

struct store_async *
store_async_new(struct event_base *base, const struct store_async_config *cfg,
    struct error *err)
{
	struct store_async *sa = calloc(1, sizeof(*sa));

	if (sa == NULL || (sa->conninfo = strdup(cfg->conninfo)) == NULL ||
	    (sa->timer = evtimer_new(base, sa_on_timer, sa)) == NULL) {
		if (sa != NULL)
			free(sa->conninfo);
		free(sa);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	sa->base = base;
	sa->cfg = *cfg;
	sa->cfg.conninfo = sa->conninfo;
	if (sa->cfg.connect_timeout_ms <= 0)
		sa->cfg.connect_timeout_ms = 1000;
	if (sa->cfg.query_timeout_ms <= 0)
		sa->cfg.query_timeout_ms = 1000;
	if (sa->cfg.queue_max == 0)
		sa->cfg.queue_max = 64;
	sa->backoff_ms = SA_BACKOFF_MIN_MS;
	sa->healthy = 1;   /* queries may wait for the first attempt */
	sa->state = SA_CONNECTING;
	sa_connect(sa);
	return sa;
}

void
store_async_free(struct store_async *sa)
{
	struct sa_job *j;

	if (sa == NULL)
		return;
	if ((j = sa->inflight) != NULL) {
		sa->inflight = NULL;
		sa_job_fail(j, "unavailable", "shutting down");
	}
	sa_fail_queue(sa, "shutting down");
	sa_close(sa);
	event_free(sa->timer);
	free(sa->conninfo);
	free(sa);
}

int
store_async_up(const struct store_async *sa)
{
	return sa->state == SA_IDLE || sa->state == SA_BUSY;
}

int
store_async_rows(const struct store_async_result *r)
{
	return PQntuples(r->res);
}

const char *
store_async_get(const struct store_async_result *r, int row, int col)
{
	if (row >= PQntuples(r->res) || col >= PQnfields(r->res))
		return "";
	return PQgetvalue(r->res, row, col);
}

int
store_async_isnull(const struct store_async_result *r, int row, int col)
{
	if (row >= PQntuples(r->res) || col >= PQnfields(r->res))
		return 1;
	return PQgetisnull(r->res, row, col);
}
