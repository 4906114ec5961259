/*
 * http.c: the evhttp server every service runs (see http.h).
 *
 * Each evhttp request is wrapped in a struct http_request that copies what
 * the handler reads (path, query, headers, body), so a handler that replies
 * later (deferred) still reads valid data after the client went away. The
 * connection's close callback tells the wrapper the client is gone; the
 * reply then only frees the wrapper.
 *
 * With io_thread the evhttp side (accept, read, route, refusals, probes,
 * sending) runs on a thread and loop of its own, and only the wrapper
 * crosses to the service's loop and back (lib mailbox.h). The evhttp
 * request is then touched by the I/O thread alone: a reply made on the
 * service's loop only records status, headers and body in the wrapper and
 * posts it back, and the I/O thread sends it.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "crypto.h"
#include "http.h"
#include "topics.h"
#include "apikey.h"
#include "log.h"
#include "mailbox.h"
#include "metrics.h"
#include "service.h"

#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT  30
#define HTTP_MAX_HEADERS      (16 * 1024)
#define HTTP_MAX_PARAMS       8
#define HTTP_PARAM_MAX        512
#define HTTP_REQUEST_ID_MAX   64
/*
 * evhttp answers a body above its own limit with an HTML 413 before we see
 * the request. Its limit is therefore set well above max_body, so that any
 * body up to that hard limit gets our JSON 413, while memory stays bounded.
 */
#define HTTP_HARD_BODY_MIN    (8 * 1024 * 1024)
#define HTTP_DEFAULT_QUEUE    256

struct http_server {
	struct event_base *base;
	struct evhttp *evh;
	struct evhttp_bound_socket *sock;
	struct http_server_config cfg;   /* strings below are our copies */
	char *service, *addr, *admin_token;
	struct http_route *routes;
	size_t nroutes;
	void *ctx;
	/*
	 * io_thread: evhttp runs on io (its own loop and thread); handlers on
	 * base. NULL io: evhttp runs on base and handlers inline.
	 */
	struct event_base *io;
	pthread_t thread;
	int threaded;                    /* the I/O thread runs: post replies */
	struct mailbox *inbox;           /* io -> base: requests to handle */
	struct mailbox *outbox;          /* base -> io: replies to send */
	struct mailbox_link stop;        /* posted to outbox: the thread ends */
	atomic_size_t handed;            /* in inbox, not yet taken by base */
};

struct http_param {
	const char *name;   /* points into the route pattern */
	size_t namelen;
	char *value;        /* decoded */
};

struct http_request {
	struct mailbox_link link;        /* first: inbox, then outbox */
	struct http_server *srv;
	struct evhttp_request *evreq;    /* NULL once the client is gone */
	enum http_method method;
	const char *method_name;
	char *path;                      /* raw path, no query */
	char *query;                     /* raw query string or NULL */
	struct evkeyvalq query_kv;
	int query_parsed;
	struct evkeyvalq headers;        /* copy of the request headers */
	unsigned char *body;
	size_t body_len;
	json_t *json;
	const char *route;               /* pattern, for metrics */
	const struct http_route *r;      /* what base runs (io_thread) */
	int handed;                      /* counted in srv->handed (inbox) */
	struct evkeyvalq out;            /* reply headers, applied at send */
	int status;                      /* the reply, once made */
	struct evbuffer *reply;
	int quiet;                       /* http_request_quiet: access line debug */
	struct http_param params[HTTP_MAX_PARAMS];
	size_t nparams;
	char id[HTTP_REQUEST_ID_MAX + 1];
	char peer[HTTP_PEER_MAX + 1];    /* client address, "" when unknown */
	struct timespec start;
	/*
	 * The org key that called, copied: a revocation frees the table's
	 * entry, and a deferred handler may still read this one.
	 */
	struct apikey key;
	int has_key;
};

/* Set while this thread is inside http_dispatch (a synchronous reply). */
static _Thread_local int http_in_dispatch;
/* The server whose I/O thread this is (NULL on every other thread). */
static _Thread_local const struct http_server *http_io_of;

static const struct {
	enum evhttp_cmd_type ev;
	enum http_method method;
	const char *name;
} http_methods[] = {
	{ EVHTTP_REQ_GET, HTTP_GET, "GET" },
	{ EVHTTP_REQ_POST, HTTP_POST, "POST" },
	{ EVHTTP_REQ_PUT, HTTP_PUT, "PUT" },
	{ EVHTTP_REQ_PATCH, HTTP_PATCH, "PATCH" },
	{ EVHTTP_REQ_DELETE, HTTP_DELETE, "DELETE" },
	{ EVHTTP_REQ_HEAD, HTTP_HEAD, "HEAD" },
	{ EVHTTP_REQ_OPTIONS, 0, "OPTIONS" },
};

/* ---- replies -------------------------------------------------------- */

static void
http_request_free(struct http_request *req)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		free(req->params[i].value);
	if (req->query_parsed)
		evhttp_clear_headers(&req->query_kv);
	evhttp_clear_headers(&req->headers);
	evhttp_clear_headers(&req->out);
	if (req->reply != NULL)
		evbuffer_free(req->reply);
	if (req->handed)
		atomic_fetch_sub(&req->srv->handed, 1);
	json_decref(req->json);
	free(req->path);
	free(req->query);
	free(req->body);
	free(req);
}

static double
http_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1000.0 +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Per-route request counter, latency histogram and the access log line. */
static void
http_record(struct http_request *req, int status)
{
	char labels[384];
	double ms = http_elapsed_ms(&req->start);

	snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",code=\"%d\"",
	    req->route, req->method_name, status);
	metrics_inc("slipway_http_requests_total", labels);
	snprintf(labels, sizeof(labels), "route=\"%s\"", req->route);
	metrics_observe_ms("slipway_http_request_duration_ms", labels, ms);
	log_ctx_set("request_id", req->id);
	/* With io_thread the handler's context is another thread's. */
	if (req->has_key)
		log_ctx_set("key_id", req->key.id);
	if (req->quiet)
		log_debug("%s %.256s %d %.1fms%s", req->method_name, req->path,
		    status, ms, req->evreq == NULL ? " (client gone)" : "");
	else
		log_info("%s %.256s %d %.1fms%s", req->method_name, req->path,
		    status, ms, req->evreq == NULL ? " (client gone)" : "");
	/* A deferred reply runs in someone else's callback: leave its context. */
	if (!http_in_dispatch) {
		log_ctx_unset("request_id");
		log_ctx_unset("key_id");
	}
}

/* HEAD gets the headers of the GET answer, Content-Length included. */
static void
http_strip_body(struct http_request *req, struct evbuffer *buf)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->evreq);
	char len[32];

	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(buf));
	evhttp_remove_header(out, "Content-Length");
	evhttp_add_header(out, "Content-Length", len);
	evbuffer_drain(buf, evbuffer_get_length(buf));
}

/* Sends the reply the wrapper holds (on evhttp's thread) and frees it. */
static void
http_send(struct http_request *req)
{
	struct evhttp_connection *evcon;
	struct evkeyvalq *out;
	struct evkeyval *h;

	http_record(req, req->status);
	if (req->evreq != NULL) {
		evcon = evhttp_request_get_connection(req->evreq);
		if (evcon != NULL)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		out = evhttp_request_get_output_headers(req->evreq);
		TAILQ_FOREACH(h, &req->out, next)
			evhttp_add_header(out, h->key, h->value);
		evhttp_add_header(out, "X-Request-Id", req->id);
		if (req->method == HTTP_HEAD && req->reply != NULL)
			http_strip_body(req, req->reply);
		evhttp_send_reply(req->evreq, req->status, NULL, req->reply);
	}
	http_request_free(req);
}

/*
 * Replies status + buf (may be NULL; stolen) and frees the request: at
 * once on evhttp's thread, else by posting it to the I/O thread.
 */
static void
http_finish(struct http_request *req, int status, struct evbuffer *buf)
{
	req->status = status;
	req->reply = buf;
	if (req->srv->threaded && http_io_of != req->srv) {
		mailbox_post(req->srv->outbox, &req->link);
		return;
	}
	http_send(req);
}

static void
http_content_type(struct http_request *req, const char *type)
{
	evhttp_remove_header(&req->out, "Content-Type");
	evhttp_add_header(&req->out, "Content-Type", type);
}

void
http_request_quiet(struct http_request *req)
{
	req->quiet = 1;
}

void
http_reply_json(struct http_request *req, int status, json_t *body)
{
	struct evbuffer *buf;
	char *s;

	if (body == NULL) {
		http_reply_empty(req, status);
		return;
	}
	s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	buf = evbuffer_new();
	if (s == NULL || buf == NULL) {
		free(s);
		if (buf != NULL)
			evbuffer_free(buf);
		log_warnx("http: cannot encode reply");
		http_finish(req, 500, NULL);
		return;
	}
	evbuffer_add(buf, s, strlen(s));
	evbuffer_add(buf, "\n", 1);
	free(s);
	http_content_type(req, "application/json");
	http_finish(req, status, buf);
}

void
http_reply_empty(struct http_request *req, int status)
{
	http_finish(req, status, NULL);
}

void
http_reply_bytes(struct http_request *req, int status,
    const char *content_type, const void *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL || evbuffer_add(buf, data, len) != 0) {
		if (buf != NULL)
			evbuffer_free(buf);
		log_warnx("http: cannot buffer a %zu-byte reply", len);
		http_finish(req, 500, NULL);
		return;
	}
	http_content_type(req, content_type);
	http_finish(req, status, buf);
}

static void
http_reply_verror(struct http_request *req, int status, const char *code,
    const char *field, const char *fmt, va_list ap)
{
	char msg[512];
	json_t *err;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err == NULL)  /* msg was not UTF-8 (it quoted outside input) */
		err = json_pack("{s:s, s:s}", "code", code, "message", code);
	if (field != NULL && field[0] != '\0' && err != NULL)
		json_object_set_new(err, "field", json_string(field));
	http_reply_json(req, status, json_pack("{s:o}", "error", err));
}

void
http_reply_error(struct http_request *req, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_verror(req, status, code, field, fmt, ap);
	va_end(ap);
}

void
http_reply_err(struct http_request *req, int status, const struct error *err)
{
	http_reply_error(req, status, err->code[0] ? err->code : "error",
	    err->field, "%s", err->msg);
}

void
http_add_header(struct http_request *req, const char *name, const char *value)
{
	/* evhttp refuses CR/LF in values, so no header injection here. */
	evhttp_add_header(&req->out, name, value);
}

/* ---- accessors ------------------------------------------------------ */

enum http_method
http_request_method(const struct http_request *req)
{
	return req->method;
}

const char *
http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *
http_request_param(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		if (strlen(name) == req->params[i].namelen &&
		    strncmp(name, req->params[i].name, req->params[i].namelen) == 0)
			return req->params[i].value;
	return NULL;
}

const char *
http_request_query(struct http_request *req, const char *name)
{
	if (!req->query_parsed) {
		TAILQ_INIT(&req->query_kv);
		req->query_parsed = 1;
		if (req->query != NULL &&
		    evhttp_parse_query_str(req->query, &req->query_kv) != 0) {
			evhttp_clear_headers(&req->query_kv);
			TAILQ_INIT(&req->query_kv);
		}
	}
	return evhttp_find_header(&req->query_kv, name);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	return evhttp_find_header(&req->headers, name);
}

const unsigned char *
http_request_body(const struct http_request *req, size_t *len)
{
	if (len != NULL)
		*len = req->body_len;
	return req->body;
}

const struct apikey *
http_request_key(const struct http_request *req)
{
	return req->has_key ? &req->key : NULL;
}

const char *
http_request_id(const struct http_request *req)
{
	return req->id;
}

const char *
http_request_peer(const struct http_request *req)
{
	return req->peer;
}

/* "application/json", optionally followed by parameters (charset...). */
static int
http_is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

int
http_request_is_json(const struct http_request *req)
{
	return http_is_json_type(http_request_header(req, "Content-Type"));
}

int
http_request_media_type(const struct http_request *req, char *buf,
    size_t len)
{
	const char *ct = http_request_header(req, "Content-Type");
	size_t n, i;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	n = strcspn(ct, "; \t");
	if (n >= len)
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)ct[i]);
	buf[n] = '\0';
	return 0;
}

json_t *
http_request_json(struct http_request *req)
{
	json_error_t jerr;
	json_t *v;

	if (req->json != NULL)
		return req->json;
	if (!http_is_json_type(http_request_header(req, "Content-Type"))) {
		http_reply_error(req, 415, "unsupported_media_type", NULL,
		    "Content-Type must be application/json");
		return NULL;
	}
	v = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		/*
		 * jansson appends "near '<input>'" to its message: that echo
		 * of the body could carry a password, so only the reason and
		 * the position go back.
		 */
		char *near = strstr(jerr.text, " near ");
		if (near != NULL)
			*near = '\0';
		http_reply_error(req, 400, "malformed_json", NULL,
		    "malformed JSON: %s (line %d, column %d, position %d)",
		    jerr.text, jerr.line, jerr.column, jerr.position);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		http_reply_error(req, 400, "malformed_json", NULL,
		    "the request body must be a JSON object");
		return NULL;
	}
	req->json = v;
	return v;
}

/* ---- routing -------------------------------------------------------- */

static int
http_add_param(struct http_request *req, const char *name, size_t namelen,
    const char *seg, size_t seglen)
{
	char raw[HTTP_PARAM_MAX + 1];
	size_t dlen;
	char *v;

	if (req->nparams >= HTTP_MAX_PARAMS || seglen > HTTP_PARAM_MAX)
		return -1;
	memcpy(raw, seg, seglen);
	raw[seglen] = '\0';
	v = evhttp_uridecode(raw, 0, &dlen);
	if (v == NULL)
		return -1;
	/* A decoded NUL or slash would make the value mean something else. */
	if (strlen(v) != dlen || strchr(v, '/') != NULL || dlen == 0) {
		free(v);
		return -1;
	}
	req->params[req->nparams].name = name;
	req->params[req->nparams].namelen = namelen;
	req->params[req->nparams].value = v;
	req->nparams++;
	return 0;
}

static void
http_clear_params(struct http_request *req)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		free(req->params[i].value);
	req->nparams = 0;
}

/*
 * Matches path against pattern segment by segment; "{name}" matches one
 * non-empty segment. With req, the placeholders are stored as params.
 * Returns 1 on a match.
 */
static int
http_route_match(const char *pattern, const char *path, struct http_request *req)
{
	const char *p = pattern, *s = path;

	while (*p != '\0' && *s != '\0') {
		size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");

		if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (slen == 0)
				return 0;
			if (req != NULL &&
			    http_add_param(req, p + 1, plen - 2, s, slen) != 0)
				return 0;
		} else if (plen != slen || strncmp(p, s, plen) != 0) {
			return 0;
		}
		p += plen;
		s += slen;
		if (*p == '/' && *s == '/') {
			p++;
			s++;
		} else if (*p != *s) {
			return 0;
		}
	}
	return *p == '\0' && *s == '\0';
}

static int
http_method_matches(enum http_method route, enum http_method req)
{
	return route == req || (route == HTTP_GET && req == HTTP_HEAD);
}

/* Finds the route for req; sets *path_known when only the method is wrong. */
static const struct http_route *
http_route_find(struct http_server *srv, struct http_request *req,
    int *path_known)
{
	size_t i;

	*path_known = 0;
	for (i = 0; i < srv->nroutes; i++) {
		const struct http_route *r = &srv->routes[i];

		if (!http_route_match(r->pattern, req->path, NULL))
			continue;
		*path_known = 1;
		if (req->method == 0 || !http_method_matches(r->method, req->method))
			continue;
		http_clear_params(req);
		if (http_route_match(r->pattern, req->path, req))
			return r;
		http_clear_params(req);
	}
	return NULL;
}

/* ---- authentication and authorization ------------------------------- */

/* The bearer value of an Authorization header, or NULL. */
static const char *
http_bearer(const char *authz)
{
	const char *tok;

	if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
		return NULL;
	tok = authz + 7;
	while (*tok == ' ')
		tok++;
	return tok;
}

/*
 * Compares the bearer token with the admin token in constant time. Both are
 * hashed first so neither the content nor the length leaks through timing.
 */
static int
http_admin_ok(const struct http_server *srv, const char *tok)
{
	unsigned char a[32], b[32];

	if (srv->admin_token == NULL || srv->admin_token[0] == '\0' ||
	    tok == NULL)
		return 0;
	crypto_generichash(a, sizeof(a), (const unsigned char *)tok, strlen(tok),
	    NULL, 0);
	crypto_generichash(b, sizeof(b), (const unsigned char *)srv->admin_token,
	    strlen(srv->admin_token), NULL, 0);
	return sodium_memcmp(a, b, sizeof(a)) == 0;
}

/* The role an org route needs, by its auth level. */
static enum apikey_role
http_role_needed(int auth)
{
	switch (auth) {
	case HTTP_AUTH_VIEWER:
		return APIKEY_VIEWER;
	case HTTP_AUTH_DEPLOYER:
		return APIKEY_DEPLOYER;
	case HTTP_AUTH_ORG_ADMIN:
		return APIKEY_ADMIN;
	default:
		return APIKEY_NONE;
	}
}

/* 1 when one whole segment of the pattern is "{org}". */
static int
http_pattern_has_org(const char *pattern)
{
	const char *p = pattern;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 5 && strncmp(p, "{org}", 5) == 0)
			return 1;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

static void
http_unauthorized(struct http_request *req)
{
	http_add_header(req, "WWW-Authenticate", "Bearer");
	http_reply_error(req, 401, "unauthorized", NULL,
	    "a valid operator key or org key is required");
}

/*
 * The org the request addresses: 0 with org set, 1 when org_of says the
 * resource does not exist, -1 when its org cannot be told now. An {org}
 * too long for an org name becomes "", which no key's org is: truncated,
 * it could equal one while the handler acts on the whole value.
 */
static int
http_route_org(struct http_server *srv, struct http_request *req,
    const struct http_route *r, char org[HTTP_ORG_MAX + 1])
{
	const char *p;

	memset(org, 0, HTTP_ORG_MAX + 1);
	if (http_pattern_has_org(r->pattern)) {
		p = http_request_param(req, "org");
		if (p != NULL && strlen(p) <= HTTP_ORG_MAX)
			memcpy(org, p, strlen(p));
		return 0;
	}
	return r->org_of(req, srv->ctx, org);
}

/*
 * An org key on an org route: its own org's resources only, with a role at
 * least the route's. Another org's resource answers exactly as a missing
 * one would, so a key learns nothing of other orgs. Returns 0 when the
 * handler may run; otherwise it has replied.
 */
static int
http_org_allowed(struct http_server *srv, struct http_request *req,
    const struct http_route *r)
{
	enum apikey_role need = http_role_needed(r->auth);
	char org[HTTP_ORG_MAX + 1];
	int rc = http_route_org(srv, req, r, org);

	if (rc == -1) {
		http_add_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "unavailable", NULL,
		    "cannot tell the resource's org now; retry");
		return -1;
	}
	/*
	 * No such resource (yet): with a role the route allows, the handler
	 * answers its own 404 (or waits for the resource, as a deploy does for
	 * a component it has not heard of), so it must then check the org of
	 * what it finds (http_request_key). With a weaker role the answer is
	 * the 404 of another org's resource: a 403 here would tell a missing
	 * resource from another org's, and the handler must never act for it.
	 */
	if (rc == 1 && req->key.role < need) {
		http_reply_error(req, 404, "not_found", NULL, "no such resource");
		return -1;
	}
	if (rc == 1)
		return 0;
	/* org_of may have filled all of org: unterminated means no match. */
	if (rc != 0 || org[HTTP_ORG_MAX] != '\0' || strcmp(org, req->key.org) != 0) {
		http_reply_error(req, 404, "not_found", NULL, "no such resource");
		return -1;
	}
	if (req->key.role < need) {
		http_reply_error(req, 403, "forbidden", NULL, "this route needs the "
		    "%s role or higher; the key's role is %s", apikey_role_name(need),
		    apikey_role_name(req->key.role));
		return -1;
	}
	return 0;
}

/*
 * Who may call route r: the operator key everywhere, an org key on the org
 * routes of its org. Returns 0 when the handler may run; otherwise it has
 * replied. The key itself is never logged: only its id, as context.
 */
static int
http_authorize(struct http_server *srv, struct http_request *req,
    const struct http_route *r)
{
	const char *tok = http_bearer(http_request_header(req, "Authorization"));
	const struct apikey *k;

	req->route = r->pattern;
	if (http_admin_ok(srv, tok))
		return 0;
	k = tok != NULL ? apikeys_find(srv->cfg.keys, tok, strlen(tok)) : NULL;
	if (k == NULL) {
		http_unauthorized(req);
		return -1;
	}
	req->key = *k;
	req->has_key = 1;
	log_ctx_set("key_id", req->key.id);
	if (r->auth == HTTP_AUTH_ADMIN) {
		http_reply_error(req, 403, "forbidden", NULL,
		    "this route needs the operator key");
		return -1;
	}
	return http_org_allowed(srv, req, r);
}

/* ---- built-in endpoints --------------------------------------------- */

static void
http_healthz(struct http_request *req, void *ctx)
{
	(void)ctx;
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void
http_readyz(struct http_request *req, void *ctx)
{
	char why[256] = "";

	/* Until the org keys are all read, a valid key would be refused. */
	if (req->srv->cfg.keys != NULL && !apikeys_complete(req->srv->cfg.keys))
		snprintf(why, sizeof(why), "org keys (%s) not read to the end yet",
		    TOPIC_ORG_KEYS);
	else if (req->srv->cfg.ready == NULL ||
	    req->srv->cfg.ready(ctx, why, sizeof(why))) {
		http_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
		return;
	}
	why[sizeof(why) - 1] = '\0';
	http_reply_json(req, 503, json_pack("{s:s, s:s}", "status", "not_ready",
	    "reason", why[0] != '\0' ? why : "not ready"));
}

static void
http_metrics(struct http_request *req, void *ctx)
{
	struct evbuffer *buf = evbuffer_new();

	(void)ctx;
	if (buf == NULL) {
		http_finish(req, 500, NULL);
		return;
	}
	metrics_render(buf);
	http_content_type(req, "text/plain; version=0.0.4");
	http_finish(req, 200, buf);
}

static const struct http_route http_builtin_routes[] = {
	{ .method = HTTP_GET, .pattern = "/healthz", .handler = http_healthz },
	{ .method = HTTP_GET, .pattern = "/readyz", .handler = http_readyz },
	{ .method = HTTP_GET, .pattern = "/metrics", .handler = http_metrics },
};

/* ---- dispatch ------------------------------------------------------- */

static int
http_request_id_sane(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTP_REQUEST_ID_MAX)
			return 0;
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

static void
http_copy_headers(struct http_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req->evreq);
	struct evkeyval *h;

	TAILQ_INIT(&req->headers);
	TAILQ_FOREACH(h, in, next)
		evhttp_add_header(&req->headers, h->key, h->value);
}

static void
http_set_method(struct http_request *req)
{
	enum evhttp_cmd_type t = evhttp_request_get_command(req->evreq);
	size_t i;

	req->method = 0;
	req->method_name = "OTHER";
	for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
		if (http_methods[i].ev == t) {
			req->method = http_methods[i].method;
			req->method_name = http_methods[i].name;
		}
	}
}

/* The connection's peer address, kept: the client may be gone by the reply. */
static void
http_copy_peer(struct http_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req->evreq);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (conn != NULL)
		evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(req->peer, sizeof(req->peer), "%s", addr != NULL ? addr : "");
}

/* Builds the wrapper: everything a handler may read is copied here. */
static struct http_request *
http_request_new(struct http_server *srv, struct evhttp_request *evreq)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
	struct http_request *req = calloc(1, sizeof(*req));
	const char *p, *q, *rid;

	if (req == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->srv = srv;
	req->evreq = evreq;
	req->route = "unmatched";
	TAILQ_INIT(&req->out);
	http_copy_peer(req);
	http_set_method(req);
	http_copy_headers(req);
	p = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	req->path = strdup(p != NULL && p[0] != '\0' ? p : "/");
	req->query = q != NULL ? strdup(q) : NULL;
	rid = http_request_header(req, "X-Request-Id");
	if (http_request_id_sane(rid))
		snprintf(req->id, sizeof(req->id), "%s", rid);
	else
		crypto_uuid(req->id);
	if (req->path == NULL || (q != NULL && req->query == NULL)) {
		http_request_free(req);
		return NULL;
	}
	return req;
}

/* The body cap of a request for r (NULL: no route): its own, else the server's. */
static size_t
http_body_cap(const struct http_server *srv, const struct http_route *r)
{
	return r != NULL && r->max_body > 0 ? r->max_body : srv->cfg.max_body;
}

/* Copies the body when within cap; returns -1 when too large. */
static int
http_take_body(struct http_request *req, size_t cap)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->evreq);
	size_t len = evbuffer_get_length(in);

	if (len > cap)
		return -1;
	req->body = malloc(len + 1);
	if (req->body == NULL)
		return -1;
	evbuffer_copyout(in, req->body, len);
	req->body[len] = '\0';
	req->body_len = len;
	return 0;
}

/*
 * The client went away before the reply. evhttp frees a request still on
 * the connection right after this callback, but a request it detached (the
 * handler had not replied) is ours to free.
 */
static void
http_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_request *req = arg;
	struct evhttp_request *evreq = req->evreq;

	(void)evcon;
	req->evreq = NULL;
	if (evreq != NULL && evhttp_request_get_connection(evreq) == NULL)
		evhttp_request_free(evreq);
	log_ctx_set("request_id", req->id);
	log_info("client closed the connection before the reply");
	log_ctx_unset("request_id");
}

/* Runs route r on this thread: authorization, then the handler. */
static void
http_handle(struct http_server *srv, struct http_request *req,
    const struct http_route *r)
{
	if (r->auth != HTTP_AUTH_NONE && http_authorize(srv, req, r) != 0)
		return;
	r->handler(req, srv->ctx);
	/* req may be freed now: only touch it through the handler's reply. */
}

/* On the service's loop: a request the I/O thread handed over. */
static void
http_on_handed(struct mailbox_link *l, void *arg)
{
	struct http_request *req = (struct http_request *)(void *)l;

	atomic_fetch_sub(&req->srv->handed, 1);
	req->handed = 0;
	log_ctx_clear();
	log_ctx_set("request_id", req->id);
	http_handle(arg, req, req->r);
	log_ctx_clear();
}

/*
 * What never waits for the service: the liveness probe and the metrics.
 * /readyz asks the service (its Postgres, its consumer), so it does,
 * unless the service's ready function is safe on the I/O thread.
 */
static int
http_runs_on_io(const struct http_server *srv, const struct http_route *r)
{
	return r->handler == http_healthz || r->handler == http_metrics ||
	    (r->handler == http_readyz && srv->cfg.ready_on_io);
}

/*
 * Watches for the client going away, then runs the route here or, with
 * an I/O thread, hands it to the service's loop: at most queue_max
 * requests wait for that loop to take them, the rest get 503.
 */
static void
http_run(struct http_server *srv, struct http_request *req,
    const struct http_route *r)
{
	struct evhttp_connection *evcon;

	req->route = r->pattern;
	evcon = evhttp_request_get_connection(req->evreq);
	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, http_on_close, req);
	if (!srv->threaded || http_runs_on_io(srv, r)) {
		http_handle(srv, req, r);
		return;
	}
	if (atomic_load(&srv->handed) >= srv->cfg.queue_max) {
		metrics_inc("slipway_http_busy_total", NULL);
		http_add_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "unavailable", NULL, "the service is "
		    "busy: %zu requests are waiting for it; retry",
		    srv->cfg.queue_max);
		return;
	}
	atomic_fetch_add(&srv->handed, 1);
	req->handed = 1;
	req->r = r;
	mailbox_post(srv->inbox, &req->link);
}

/* Picks the built-in or table route, applies auth, and runs the handler. */
static void
http_route_request(struct http_server *srv, struct http_request *req)
{
	const struct http_route *r = NULL;
	int known = 0;
	size_t i;

	for (i = 0; i < sizeof(http_builtin_routes) / sizeof(http_builtin_routes[0]); i++) {
		if (strcmp(req->path, http_builtin_routes[i].pattern) != 0)
			continue;
		if (http_method_matches(HTTP_GET, req->method))
			r = &http_builtin_routes[i];
		else
			known = 1;
	}
	if (r == NULL && !known)
		r = http_route_find(srv, req, &known);
	/* A body too large is refused first, whatever the path, uncopied. */
	if (http_take_body(req, http_body_cap(srv, r)) != 0) {
		http_reply_error(req, 413, "body_too_large", NULL,
		    "the request body exceeds %zu bytes", http_body_cap(srv, r));
		return;
	}
	if (r == NULL && known) {
		http_reply_error(req, 405, "method_not_allowed", NULL,
		    "method %s is not allowed on %.200s", req->method_name, req->path);
		return;
	}
	if (r == NULL) {
		http_reply_error(req, 404, "not_found", NULL, "no such endpoint");
		return;
	}
	http_run(srv, req, r);
}

static void
http_dispatch(struct evhttp_request *evreq, void *arg)
{
	struct http_server *srv = arg;
	struct http_request *req;

	log_ctx_clear();
	http_in_dispatch = 1;
	req = http_request_new(srv, evreq);
	if (req == NULL) {
		http_in_dispatch = 0;
		evhttp_send_error(evreq, 500, NULL);
		return;
	}
	log_ctx_set("request_id", req->id);
	http_route_request(srv, req);
	http_in_dispatch = 0;
	log_ctx_clear();
}

/* ---- server --------------------------------------------------------- */

static int
http_server_copy(struct http_server *srv, const struct http_server_config *cfg,
    const struct http_route *routes, size_t nroutes)
{
	srv->cfg = *cfg;
	srv->service = strdup(cfg->service != NULL ? cfg->service : "slipway");
	srv->addr = strdup(cfg->addr != NULL ? cfg->addr : "127.0.0.1");
	srv->admin_token = cfg->admin_token != NULL ? strdup(cfg->admin_token) : NULL;
	srv->routes = calloc(nroutes + 1, sizeof(*routes));
	if (srv->service == NULL || srv->addr == NULL || srv->routes == NULL ||
	    (cfg->admin_token != NULL && srv->admin_token == NULL))
		return -1;
	if (nroutes > 0)
		memcpy(srv->routes, routes, nroutes * sizeof(*routes));
	srv->nroutes = nroutes;
	srv->cfg.service = srv->service;
	srv->cfg.addr = srv->addr;
	srv->cfg.admin_token = srv->admin_token;
	if (srv->cfg.max_body == 0)
		srv->cfg.max_body = HTTP_DEFAULT_MAX_BODY;
	if (srv->cfg.timeout_s <= 0)
		srv->cfg.timeout_s = HTTP_DEFAULT_TIMEOUT;
	if (srv->cfg.queue_max == 0)
		srv->cfg.queue_max = HTTP_DEFAULT_QUEUE;
	return 0;
}

/*
 * A route table the server can enforce: known auth levels, and every org
 * route able to tell its org ({org} in the pattern, or org_of). A mistake
 * here would open a route to every org, so it stops the start instead.
 */
static int
http_routes_check(const struct http_route *routes, size_t nroutes,
    struct error *err)
{
	size_t i;

	for (i = 0; i < nroutes; i++) {
		const struct http_route *r = &routes[i];

		if (r->auth < HTTP_AUTH_NONE || r->auth > HTTP_AUTH_ORG_ADMIN) {
			error_set(err, "http_routes", "", "route %s: unknown auth "
			    "level %d", r->pattern, r->auth);
			return -1;
		}
		if (r->auth >= HTTP_AUTH_VIEWER && r->org_of == NULL &&
		    !http_pattern_has_org(r->pattern)) {
			error_set(err, "http_routes", "", "org route %s has neither "
			    "{org} in its pattern nor an org_of", r->pattern);
			return -1;
		}
	}
	return 0;
}

static void
http_configure(struct http_server *srv)
{
	size_t hard = srv->cfg.max_body, i;

	/* evhttp has one limit per server: the largest route's decides it. */
	for (i = 0; i < srv->nroutes; i++)
		if (srv->routes[i].max_body > hard)
			hard = srv->routes[i].max_body;
	hard *= 4;
	if (hard < HTTP_HARD_BODY_MIN)
		hard = HTTP_HARD_BODY_MIN;
	evhttp_set_max_headers_size(srv->evh, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(srv->evh, (ev_ssize_t)hard);
	evhttp_set_timeout(srv->evh, srv->cfg.timeout_s);
	evhttp_set_allowed_methods(srv->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(srv->evh, "application/json");
	evhttp_set_gencb(srv->evh, http_dispatch, srv);
}

/* On the I/O thread: replies made on the service's loop, and the stop. */
static void
http_on_reply(struct mailbox_link *l, void *arg)
{
	struct http_server *srv = arg;

	if (l == &srv->stop)
		event_base_loopbreak(srv->io);
	else
		http_send((struct http_request *)(void *)l);
}

static void *
http_io_main(void *arg)
{
	struct http_server *srv = arg;

	http_io_of = srv;
	event_base_loop(srv->io, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* The I/O thread's loop and the two mailboxes between it and base. */
static int
http_io_new(struct http_server *srv, struct event_base *base)
{
	srv->io = service_base_new();
	if (srv->io == NULL)
		return -1;
	srv->inbox = mailbox_new(base, http_on_handed, srv);
	srv->outbox = mailbox_new(srv->io, http_on_reply, srv);
	return srv->inbox != NULL && srv->outbox != NULL ? 0 : -1;
}

/* Starts the I/O thread; SIGINT and SIGTERM stay with the service's. */
static int
http_io_start(struct http_server *srv, struct error *err)
{
	sigset_t block, old;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&srv->thread, NULL, http_io_main, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		error_set(err, "http_init", "", "cannot start the I/O thread: %s",
		    strerror(rc));
		return -1;
	}
	srv->threaded = 1;
	return 0;
}

/*
 * Ends the I/O thread. This thread alone then sends the replies it left,
 * answers 503 what the service's loop never took, and writes them out.
 */
static void
http_io_stop(struct http_server *srv)
{
	struct mailbox_link *l, *next;

	if (srv->threaded) {
		mailbox_post(srv->outbox, &srv->stop);
		pthread_join(srv->thread, NULL);
		srv->threaded = 0;
	}
	for (l = mailbox_take(srv->outbox); l != NULL; l = next) {
		next = l->next;
		if (l != &srv->stop)
			http_send((struct http_request *)(void *)l);
	}
	for (l = mailbox_take(srv->inbox); l != NULL; l = next) {
		next = l->next;
		http_add_header((struct http_request *)(void *)l, "Retry-After", "1");
		http_reply_error((struct http_request *)(void *)l, 503,
		    "unavailable", NULL, "the service is stopping; retry");
	}
	event_base_loop(srv->io, EVLOOP_NONBLOCK);
}

struct http_server *
http_server_new(struct event_base *base, const struct http_server_config *cfg,
    const struct http_route *routes, size_t nroutes, void *ctx,
    struct error *err)
{
	struct http_server *srv;

	if (http_routes_check(routes, nroutes, err) != 0)
		return NULL;
	srv = calloc(1, sizeof(*srv));
	if (sodium_init() < 0 || srv == NULL ||
	    http_server_copy(srv, cfg, routes, nroutes) != 0) {
		error_set(err, "http_init", "", "cannot allocate the HTTP server");
		http_server_free(srv);
		return NULL;
	}
	srv->base = base;
	srv->ctx = ctx;
	if (cfg->io_thread && http_io_new(srv, base) != 0) {
		error_set(err, "http_init", "", "cannot set up the I/O thread's "
		    "loop");
		http_server_free(srv);
		return NULL;
	}
	srv->evh = evhttp_new(srv->io != NULL ? srv->io : base);
	if (srv->evh == NULL) {
		error_set(err, "http_init", "", "evhttp_new failed");
		http_server_free(srv);
		return NULL;
	}
	http_configure(srv);
	srv->sock = evhttp_bind_socket_with_handle(srv->evh, srv->addr,
	    (ev_uint16_t)cfg->port);
	if (srv->sock == NULL) {
		error_set(err, "bind_failed", "", "cannot listen on %s:%d: %s",
		    srv->addr, cfg->port, strerror(errno));
		http_server_free(srv);
		return NULL;
	}
	if (srv->io != NULL && http_io_start(srv, err) != 0) {
		http_server_free(srv);
		return NULL;
	}
	log_info("http: listening on %s:%d%s", srv->addr, http_server_port(srv),
	    srv->io != NULL ? " (connections on their own thread)" : "");
	return srv;
}

int
http_server_port(const struct http_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd;

	if (srv == NULL || srv->sock == NULL)
		return -1;
	fd = evhttp_bound_socket_get_fd(srv->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void
http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->io != NULL && srv->inbox != NULL && srv->outbox != NULL)
		http_io_stop(srv);
	if (srv->evh != NULL)
		evhttp_free(srv->evh);
	mailbox_free(srv->outbox);
	mailbox_free(srv->inbox);
	if (srv->io != NULL)
		event_base_free(srv->io);
	free(srv->service);
	free(srv->addr);
	if (srv->admin_token != NULL)
		sodium_memzero(srv->admin_token, strlen(srv->admin_token));
	free(srv->admin_token);
	free(srv->routes);
	free(srv);
}
