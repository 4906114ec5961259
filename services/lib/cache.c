/*
 * cache.c: Redis through hiredis' async API on the libevent loop.
 *
 * Connection lifecycle (explicit, because hiredis frees its context behind
 * our back on failure):
 *   CACHE_CONN_IDLE → connect() → CACHE_CONN_CONNECTING
 *   CONNECTING → connect cb OK → CACHE_CONN_AUTH (AUTH sent first)
 *     (no user configured: straight to CACHE_CONN_UP)
 *   AUTH → AUTH answered OK → CACHE_CONN_UP
 *   AUTH → AUTH refused → disconnect, the reason kept for /readyz
 *   any → failure / disconnect → IDLE + reconnect timer
 *     (100 ms doubling to 5 s, reset once a connection succeeds)
 * No request is sent before AUTH has succeeded: cache_up() is false until
 * then, so every call answers CACHE_DOWN. The password is never logged.
 * Requests answer exactly once: from the reply, from a per-request timeout
 * (CACHE_DOWN; the late reply is then ignored), or with CACHE_DOWN at once
 * when the connection is not up. Needs Redis >= 7.0 for SET NX GET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "cache.h"
#include "log.h"

#define CACHE_BACKOFF_MIN_MS   100
#define CACHE_BACKOFF_MAX_MS   5000
#define CACHE_REQ_TIMEOUT_MS   1000
#define CACHE_CONNECT_TIMEOUT_MS 2000
#define CACHE_KEY_MAX          1024

enum cache_conn {
	CACHE_CONN_IDLE, CACHE_CONN_CONNECTING, CACHE_CONN_AUTH, CACHE_CONN_UP
};

struct cache {
	struct event_base *base;
	char *host;
	int port;
	char *user;                  /* NULL: no AUTH (Redis without ACLs) */
	char *password;
	char auth_error[256];        /* last AUTH refusal, "" once accepted */
	redisAsyncContext *ctx;      /* NULL in IDLE */
	enum cache_conn state;
	int backoff_ms;
	int closing;                 /* cache_free in progress: no reconnect */
	struct event *reconnect;
	struct event *connect_timeout;   /* hiredis async connect has none */
};

/* A request waiting for its reply; freed by the reply callback only. */
struct cache_req {
	struct cache *c;
	cache_get_cb cb;             /* NULL once answered */
	void *arg;
	struct event *timeout;
	int set_nx;                  /* nil means "was set" rather than "miss" */
};

static void cache_connect(struct cache *c);

static void
cache_schedule_reconnect(struct cache *c)
{
	struct timeval tv;

	c->state = CACHE_CONN_IDLE;
	c->ctx = NULL;
	if (c->closing)
		return;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	evtimer_add(c->reconnect, &tv);
	c->backoff_ms *= 2;
	if (c->backoff_ms > CACHE_BACKOFF_MAX_MS)
		c->backoff_ms = CACHE_BACKOFF_MAX_MS;
}

/* The connection is usable: requests may be sent from now on. */
static void
cache_ready(struct cache *c)
{
	evtimer_del(c->connect_timeout);
	c->state = CACHE_CONN_UP;
	c->backoff_ms = CACHE_BACKOFF_MIN_MS;
}

/*
 * AUTH's answer. A refusal is a configuration error, not an outage: it is
 * kept for /readyz and logged once (Redis's reason, never the password),
 * and the connection is dropped so the reconnect timer tries again.
 */
static void
cache_on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache *c = privdata;
	redisReply *reply = r;

	if (reply == NULL || c->state != CACHE_CONN_AUTH)
		return;   /* disconnected meanwhile: the disconnect cb reschedules */
	if (reply->type == REDIS_REPLY_STATUS) {
		if (c->auth_error[0] != '\0')
			log_info("redis %s:%d: user %s accepted again", c->host,
			    c->port, c->user);
		c->auth_error[0] = '\0';
		log_info("redis %s:%d connected as %s", c->host, c->port, c->user);
		cache_ready(c);
		return;
	}
	if (c->auth_error[0] == '\0')
		log_warnx("redis %s:%d: AUTH as user %s refused: %.120s "
		    "(check SLIPWAY_REDIS_USER / SLIPWAY_REDIS_PASSWORD)",
		    c->host, c->port, c->user,
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
	snprintf(c->auth_error, sizeof(c->auth_error),
	    "redis: AUTH as user %s refused: %.120s", c->user,
	    reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
	redisAsyncDisconnect(ac);
}

/* Sends AUTH before anything else on a fresh connection. */
static void
cache_auth(struct cache *c, redisAsyncContext *ac)
{
	const char *argv[3] = { "AUTH", c->user, c->password };
	size_t lens[3] = { 4, strlen(c->user), strlen(c->password) };

	c->state = CACHE_CONN_AUTH;
	if (redisAsyncCommandArgv(ac, cache_on_auth, c, 3, argv, lens) !=
	    REDIS_OK)
		redisAsyncDisconnect(ac);
}

static void
cache_on_connect(const redisAsyncContext *ac, int status)
{
	struct cache *c = ac->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback returns. */
		log_debug("redis %s:%d connect failed: %s", c->host, c->port,
		    ac->errstr);
		cache_schedule_reconnect(c);
		return;
	}
	if (c->user != NULL) {
		cache_auth(c, c->ctx);
		return;
	}
	log_info("redis %s:%d connected", c->host, c->port);
	cache_ready(c);
}

static void
cache_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct cache *c = ac->data;

	if (status != REDIS_OK && !c->closing)
		log_warnx("redis %s:%d disconnected: %s", c->host, c->port,
		    ac->errstr);
	cache_schedule_reconnect(c);
}

static void
cache_connect(struct cache *c)
{
	struct timeval tv = { CACHE_CONNECT_TIMEOUT_MS / 1000,
	    (CACHE_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);

	if (ac == NULL || ac->err) {
		log_debug("redis %s:%d: %s", c->host, c->port,
		    ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		cache_schedule_reconnect(c);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		cache_schedule_reconnect(c);
		return;
	}
	redisAsyncSetConnectCallback(ac, cache_on_connect);
	redisAsyncSetDisconnectCallback(ac, cache_on_disconnect);
	c->ctx = ac;
	c->state = CACHE_CONN_CONNECTING;
	evtimer_add(c->connect_timeout, &tv);
}

/* A connect that neither succeeds nor fails (packets dropped) is abandoned. */
static void
cache_on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cache *c = arg;

	(void)fd;
	(void)what;
	if ((c->state != CACHE_CONN_CONNECTING && c->state != CACHE_CONN_AUTH) ||
	    c->ctx == NULL)
		return;
	log_debug("redis %s:%d connect timed out", c->host, c->port);
	if (c->state == CACHE_CONN_AUTH) {
		/* Connected but AUTH unanswered: a disconnect would wait for the
		 * reply, so free; that runs the disconnect callback, which
		 * reschedules, unless hiredis skipped it. */
		redisAsyncContext *ac = c->ctx;

		redisAsyncFree(ac);
		if (c->ctx == ac)
			cache_schedule_reconnect(c);
		return;
	}
	/* Not connected yet, so no disconnect callback: reschedule here. */
	redisAsyncFree(c->ctx);
	cache_schedule_reconnect(c);
}

static void
cache_on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cache_connect(arg);
}

/* Frees what cache_new copied; the password is wiped first. */
static void
cache_free_strings(struct cache *c)
{
	if (c->password != NULL)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->user);
	free(c->host);
}

struct cache *
cache_new(struct event_base *base, const struct cache_config *cfg,
    struct error *err)
{
	struct cache *c;
	int has_pw = cfg->password != NULL && cfg->password[0] != '\0';
	/*
	 * A password alone is a Redis with requirepass: that is the password
	 * of its "default" user (Redis 6+ ACLs), so it is sent as such.
	 */
	const char *user = cfg->user != NULL && cfg->user[0] != '\0' ?
	    cfg->user : has_pw ? "default" : NULL;
	int auth = user != NULL;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->host = strdup(cfg->host)) == NULL ||
	    (auth && ((c->user = strdup(user)) == NULL ||
	    (c->password = strdup(cfg->password ? cfg->password : "")) ==
	    NULL))) {
		if (c != NULL)
			cache_free_strings(c);
		free(c);
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	c->base = base;
	c->port = cfg->port;
	c->backoff_ms = CACHE_BACKOFF_MIN_MS;
	c->reconnect = evtimer_new(base, cache_on_reconnect, c);
	c->connect_timeout = evtimer_new(base, cache_on_connect_timeout, c);
	if (c->reconnect == NULL || c->connect_timeout == NULL) {
		if (c->reconnect != NULL)
			event_free(c->reconnect);
		if (c->connect_timeout != NULL)
			event_free(c->connect_timeout);
		cache_free_strings(c);
		free(c);
		error_set(err, "internal", "", "cannot create timer");
		return NULL;
	}
	/* Redis being down at start is fine: the cache is an optimisation. */
	cache_connect(c);
	return c;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	c->closing = 1;
	/* Pending replies are answered (CACHE_DOWN) inside redisAsyncFree. */
	if (c->ctx != NULL)
		redisAsyncFree(c->ctx);
	event_free(c->reconnect);
	event_free(c->connect_timeout);
	cache_free_strings(c);
	free(c);
}

int
cache_up(const struct cache *c)
{
	return c != NULL && c->state == CACHE_CONN_UP;
}

const char *
cache_auth_error(const struct cache *c)
{
	return c != NULL && c->auth_error[0] != '\0' ? c->auth_error : NULL;
}

/* Answers once: later answers (late reply after a timeout) are dropped. */
static void
cache_req_answer(struct cache_req *req, enum cache_status st,
    const char *value, size_t len)
{
	cache_get_cb cb = req->cb;

	if (cb == NULL)
		return;
	req->cb = NULL;
	evtimer_del(req->timeout);
	cb(st, value, len, req->arg);
}

/*
 * A Redis that accepts but does not answer (stopped, overloaded) would cost
 * every caller the full timeout: drop the connection so later calls answer
 * CACHE_DOWN at once until a reconnect succeeds. Freeing the context answers
 * (and frees) every pending request, this one included.
 */
static void
cache_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cache_req *req = arg;
	struct cache *c = req->c;
	redisAsyncContext *ac = c->ctx;

	(void)fd;
	(void)what;
	cache_req_answer(req, CACHE_DOWN, NULL, 0);
	log_warnx("redis %s:%d request timed out; reconnecting", c->host,
	    c->port);
	if (ac == NULL)
		return;
	redisAsyncFree(ac);
	if (c->ctx == ac)
		cache_schedule_reconnect(c);
}

static void
cache_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct cache_req *req = privdata;
	redisReply *reply = r;

	(void)ac;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		cache_req_answer(req, CACHE_DOWN, NULL, 0);
	else if (reply->type == REDIS_REPLY_STRING)
		cache_req_answer(req, req->set_nx ? CACHE_MISS : CACHE_HIT,
		    reply->str, reply->len);
	else if (reply->type == REDIS_REPLY_NIL)
		cache_req_answer(req, req->set_nx ? CACHE_HIT : CACHE_MISS, NULL, 0);
	else
		cache_req_answer(req, CACHE_DOWN, NULL, 0);
	event_free(req->timeout);
	free(req);
}

/* Sends argv with a reply-awaiting request; answers CACHE_DOWN on failure. */
static void
cache_request(struct cache *c, int argc, const char **argv,
    const size_t *lens, int set_nx, cache_get_cb cb, void *arg)
{
	struct timeval tv = { CACHE_REQ_TIMEOUT_MS / 1000,
	    (CACHE_REQ_TIMEOUT_MS % 1000) * 1000 };
	struct cache_req *req;

	if (!cache_up(c) || lens[1] > CACHE_KEY_MAX ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		cb(CACHE_DOWN, NULL, 0, arg);
		return;
	}
	req->c = c;
	req->cb = cb;
	req->arg = arg;
	req->set_nx = set_nx;
	if ((req->timeout = evtimer_new(c->base, cache_on_timeout, req)) == NULL ||
	    redisAsyncCommandArgv(c->ctx, cache_on_reply, req, argc, argv,
	    lens) != REDIS_OK) {
		if (req->timeout != NULL)
			event_free(req->timeout);
		free(req);
		cb(CACHE_DOWN, NULL, 0, arg);
		return;
	}
	evtimer_add(req->timeout, &tv);
}

/* Sends argv without waiting for the reply. */
static void
cache_send(struct cache *c, int argc, const char **argv, const size_t *lens)
{
	if (!cache_up(c) || lens[1] > CACHE_KEY_MAX) {
		log_debug("redis down: %s dropped", argv[0]);
		return;
	}
	if (redisAsyncCommandArgv(c->ctx, NULL, NULL, argc, argv, lens) !=
	    REDIS_OK)
		log_debug("redis: %s not sent", argv[0]);
}

void
cache_get(struct cache *c, const char *key, cache_get_cb cb, void *arg)
{
	const char *argv[2] = { "GET", key };
	size_t lens[2] = { 3, strlen(key) };

	cache_request(c, 2, argv, lens, 0, cb, arg);
}

void
cache_set(struct cache *c, const char *key, const char *value, size_t len,
    int ttl_s)
{
	char ttl[16];
	const char *argv[5] = { "SET", key, value, "EX", ttl };
	size_t lens[5] = { 3, strlen(key), len, 2, 0 };

	lens[4] = (size_t)snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	cache_send(c, ttl_s > 0 ? 5 : 3, argv, lens);
}

void
cache_del(struct cache *c, const char *key)
{
	const char *argv[2] = { "DEL", key };
	size_t lens[2] = { 3, strlen(key) };

	cache_send(c, 2, argv, lens);
}

void
cache_set_nx(struct cache *c, const char *key, const char *value,
    size_t len, int ttl_s, cache_get_cb cb, void *arg)
{
	char ttl[16];
	/* SET NX GET (Redis 7): one atomic round trip that also returns the
	 * existing value when the key was already there. */
	const char *argv[7] = { "SET", key, value, "NX", "GET", "EX", ttl };
	size_t lens[7] = { 3, strlen(key), len, 2, 3, 2, 0 };

	lens[6] = (size_t)snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	cache_request(c, ttl_s > 0 ? 7 : 5, argv, lens, 1, cb, arg);
}
