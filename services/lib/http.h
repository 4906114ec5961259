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
 * Bodies over max_body get a JSON 413 body_too_large; bodies declared or
 * streamed past max(4 * max_body, 8 MiB) are refused by evhttp itself (413,
 * HTML page, connection closed) before they are read.
 *
 * Replies must be made on the event-loop thread (e.g. from a callback the
 * loop runs), never from a library thread. A deferred reply after the
 * client went away is safe: it only frees the request.
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

enum http_method {
	HTTP_GET = 1, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_HEAD
};

#define HTTP_AUTH_NONE  0   /* open: webhook (checks its own tokens), probes */
#define HTTP_AUTH_ADMIN 1   /* Authorization: Bearer $SLIPWAY_ADMIN_TOKEN */

typedef void (*http_handler)(struct http_request *req, void *ctx);

struct http_route {
	enum http_method method;
	const char *pattern;
	http_handler handler;
	int auth;
};

struct http_server_config {
	const char *service;       /* for logs and metrics */
	const char *addr;          /* "127.0.0.1" */
	int port;
	const char *admin_token;   /* required for HTTP_AUTH_ADMIN routes */
	size_t max_body;           /* bytes; 0 = 1 MiB */
	int timeout_s;             /* 0 = 30 */
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
/* The request id (X-Request-Id if sane, else a fresh UUID), also set as log context. */
const char *http_request_id(const struct http_request *req);

/* 1 when Content-Type is application/json (parameters allowed). */
int http_request_is_json(const struct http_request *req);

/*
 * Parses the body as a JSON object. On failure replies 415 (wrong media type)
 * or 400 (malformed, not an object) itself and returns NULL: the handler must
 * then return without replying. The returned object is owned by the request.
 */
json_t *http_request_json(struct http_request *req);

/* Replies. Each frees the request. body is stolen (json_decref'd). */
void http_reply_json(struct http_request *req, int status, json_t *body);
void http_reply_empty(struct http_request *req, int status);
void http_reply_error(struct http_request *req, int status, const char *code,
    const char *field, const char *fmt, ...) LOG_PRINTF(5, 6);
/* Replies with err->code / err->field / err->msg. */
void http_reply_err(struct http_request *req, int status, const struct error *err);
/* Adds a response header before replying (e.g. Retry-After, Location). */
void http_add_header(struct http_request *req, const char *name, const char *value);

#endif
