/*
 * http.h: the evhttp server every service runs.
 *
 * Routes are a table (STYLE.md rule 4): method + pattern with {name}
 * placeholders, e.g. "/v1/components/{id}/tokens". The server enforces a body
 * cap (413), a header cap (431 by evhttp), a timeout, the admin bearer key on
 * routes that ask for it (401), Content-Type application/json on JSON bodies
 * (415), and answers 404/405 with JSON errors. It serves GET /healthz,
 * GET /readyz and GET /metrics itself.
 *
 * Bodies over the route's cap (its max_body, else the server's) get a JSON
 * 413 body_too_large; bodies declared or streamed past max(4 * the largest
 * cap, 8 MiB) are refused by evhttp itself (413, HTML page, connection
 * closed) before they are read.
 *
 * Replies must be made on the event-loop thread (e.g. from a callback the
 * loop runs), never from a library thread. A deferred reply after the
 * client went away is safe: it only frees the request.
 *
 * With io_thread the connections are served by a thread and loop of the
 * server's own: accepting, reading, body caps, routing, 404/405/413, the
 * queue bound, GET /healthz, GET /metrics and sending. Everything else
 * (authorization, org_of, /readyz unless ready_on_io, the handlers) runs
 * on base, one
 * request at a time, so a service whose handlers block (synchronous libpq,
 * bounded by the query timeout) keeps accepting, refusing and answering
 * its probes meanwhile; at most queue_max requests wait for base, the
 * rest get 503 unavailable with Retry-After (slipway_http_busy_total).
 *
 * Ownership: a struct http_request is valid from the handler call until the
 * handler (or later, for deferred requests) calls one of the http_reply_*
 * functions, which frees it. A handler must reply exactly once.
 */
#ifndef SLIPWAY_HTTP_H
#define SLIPWAY_HTTP_H

#include <stddef.h>
#include <jansson.h>
#include "error.h"

struct event_base;
struct http_server;
struct http_request;
struct apikey;
struct apikeys;

enum http_method {
	HTTP_GET = 1, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_HEAD
};

/*
 * Who may call a route. The operator key ($SLIPWAY_ADMIN_TOKEN) may call
 * every route. An org key (lib apikey.h) may call the org routes of its own
 * org with at least the route's role: the route's org is its {org} path
 * parameter, or what its org_of says of the resource it addresses. Another
 * org's resource answers 404 not_found (its existence is not revealed), a
 * weaker role 403 forbidden, a missing, unknown or revoked key 401.
 */
#define HTTP_AUTH_NONE     0   /* open: webhook (checks its own tokens), probes */
#define HTTP_AUTH_ADMIN    1   /* the operator key only (platform routes) */
#define HTTP_AUTH_VIEWER   2   /* org routes, by the weakest role allowed */
#define HTTP_AUTH_DEPLOYER 3
#define HTTP_AUTH_ORG_ADMIN 4

#define HTTP_ORG_MAX 63

typedef void (*http_handler)(struct http_request *req, void *ctx);
/*
 * The org of the resource a request addresses (from its path parameters):
 * 0 with org filled, 1 when there is no such resource (for a key whose role
 * the route allows the handler then runs, answers its own 404 or waits for
 * the resource, and must check the org of what it finds against
 * http_request_key; a weaker key gets 404), -1 when it cannot be told now
 * (503).
 */
typedef int (*http_org_fn)(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1]);

struct http_route {
	enum http_method method;
	const char *pattern;
	http_handler handler;
	int auth;
	http_org_fn org_of;   /* org routes without {org} in the pattern */
	size_t max_body;      /* body cap in bytes; 0 = the server's max_body */
};

struct http_server_config {
	const char *service;       /* for logs and metrics */
	const char *addr;          /* "127.0.0.1" */
	int port;
	const char *admin_token;   /* the operator key: every route */
	const struct apikeys *keys;/* org keys (lib apikey.h); NULL: none accepted */
	size_t max_body;           /* bytes; 0 = 1 MiB */
	int timeout_s;             /* 0 = 30 */
	int io_thread;             /* 1: connections on their own thread */
	int ready_on_io;           /* io_thread: ready is thread-safe, runs there */
	size_t queue_max;          /* io_thread: requests waiting; 0 = 256 */
	/* /readyz: returns 1 when ready; otherwise 0 and a reason in why. */
	int (*ready)(void *ctx, char *why, size_t whylen);
};

struct http_server *http_server_new(struct event_base *base,
    const struct http_server_config *cfg, const struct http_route *routes,
    size_t nroutes, void *ctx, struct error *err);
void http_server_free(struct http_server *srv);
/* The port actually bound (useful when cfg->port was 0: tests). */
int http_server_port(const struct http_server *srv);

/* Request accessors. Returned strings live as long as the request. */
enum http_method http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
const char *http_request_param(const struct http_request *req, const char *name);
/* Decoded query-string value, or NULL. */
const char *http_request_query(struct http_request *req, const char *name);
const char *http_request_header(const struct http_request *req, const char *name);
const unsigned char *http_request_body(const struct http_request *req, size_t *len);
/*
 * Who called: NULL for the operator key (or an open route), else the org
 * key, valid until the reply. Handlers that list across orgs filter by it.
 */
const struct apikey *http_request_key(const struct http_request *req);
/* The request id (X-Request-Id if sane, else a fresh UUID), also set as log context. */
const char *http_request_id(const struct http_request *req);
/*
 * The address of the connection's peer ("127.0.0.1", "::1"), "" when
 * unknown. Behind a proxy that is the proxy: X-Forwarded-For is the
 * caller's to trust or not.
 */
#define HTTP_PEER_MAX 63
const char *http_request_peer(const struct http_request *req);

/* 1 when Content-Type is application/json (parameters allowed). */
int http_request_is_json(const struct http_request *req);
/*
 * The media type of Content-Type, lower-cased, without its parameters
 * ("multipart/form-data" of "multipart/form-data; boundary=x"): "" when
 * there is no Content-Type, -1 when it does not fit in len.
 */
int http_request_media_type(const struct http_request *req, char *buf,
    size_t len);

/*
 * Parses the body as a JSON object. On failure replies 415 (wrong media type)
 * or 400 (malformed, not an object) itself and returns NULL: the handler must
 * then return without replying. The returned object is owned by the request.
 */
json_t *http_request_json(struct http_request *req);

/* Replies. Each frees the request. body is stolen (json_decref'd). */
/*
 * The handler logs this request's outcome itself (the webhook: one line
 * per call, thousands a second), so the access line is debug only.
 */
void http_request_quiet(struct http_request *req);

void http_reply_json(struct http_request *req, int status, json_t *body);
void http_reply_empty(struct http_request *req, int status);
/* len bytes of data (copied) with the given Content-Type. */
void http_reply_bytes(struct http_request *req, int status,
    const char *content_type, const void *data, size_t len);
void http_reply_error(struct http_request *req, int status, const char *code,
    const char *field, const char *fmt, ...) LOG_PRINTF(5, 6);
/* Replies with err->code / err->field / err->msg. */
void http_reply_err(struct http_request *req, int status, const struct error *err);
/* Adds a response header before replying (e.g. Retry-After, Location). */
void http_add_header(struct http_request *req, const char *name, const char *value);

#endif
