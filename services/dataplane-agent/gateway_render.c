/*
 * gateway_render.c: the text HAProxy reads, rendered from the model: the
 * whole haproxy.cfg (global, defaults, one HTTP frontend per listener, a
 * frontend per TCP endpoint, a backend per endpoint with its servers) and
 * one route map per listener. Pure: the caller writes the files.
 *
 * Routing an HTTP request takes a few exact map lookups (HAProxy keeps
 * map_str keys in a tree, so O(log n) each), never a scan: the key is the
 * path cut after 3 + d segments, from the deepest context d of the
 * listener's map down to 0, so the longest context wins and a match always
 * ends on a segment boundary (/a/b/c never routes /a/b/cd). map_beg would
 * not do: in 2.6 it is a longest-prefix match on bytes, blind to segments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

#define GATEWAY_TEXT_MAX (64 * 1024 * 1024)

/* One HTTP route of a listener's map. */
struct gateway_route {
	char *key;                      /* "/org/project/component[/context]" */
	char backend[GATEWAY_NAME_MAX];
	int depth;                      /* segments of the context */
};

void
gateway_render_printf(struct gateway_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; tries < 2 && !t->failed; tries++) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->s != NULL ? t->s + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
		} else if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		} else {
			size_t cap = t->cap * 2 + (size_t)n + 1024;
			char *s = cap <= GATEWAY_TEXT_MAX ? realloc(t->s, cap) :
			    NULL;
			if (s == NULL)
				t->failed = 1;
			else {
				t->s = s;
				t->cap = cap;
			}
		}
	}
}

void
gateway_render_free(struct gateway_text *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

void
gateway_render_map_name(const char *environment, int internal, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s.%s.map", environment,
	    internal ? "internal" : "public");
}

/* Segments of a canonical context: "/" 0, "/a" 1, "/a/b" 2. */
static int
gateway_render_depth(const char *context)
{
	int d = 0;

	if (strcmp(context, "/") == 0)
		return 0;
	for (const char *p = context; *p != '\0'; p++)
		d += *p == '/';
	return d;
}

/* 1 when endpoint e of an environment's target is in that listener's map. */
static int
gateway_render_on_listener(const struct gateway_endpoint *e, int internal)
{
	return gateway_cfg_mode(e->type) == GATEWAY_MODE_HTTP &&
	    (internal || gateway_cfg_public(e));
}

static int
gateway_render_cmp_route(const void *a, const void *b)
{
	return strcmp(((const struct gateway_route *)a)->key,
	    ((const struct gateway_route *)b)->key);
}

static void
gateway_render_free_routes(struct gateway_route *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

/* Fills v[*n] with the route of endpoint e of t; -1 when memory is short. */
static int
gateway_render_route(const struct gateway_target *t,
    const struct gateway_endpoint *e, struct gateway_route *r)
{
	const char *ctx = strcmp(e->context, "/") == 0 ? "" : e->context;
	size_t len = strlen(t->org) + strlen(t->project) +
	    strlen(t->component) + strlen(ctx) + 4;

	if ((r->key = malloc(len)) == NULL)
		return -1;
	snprintf(r->key, len, "/%s/%s/%s%s", t->org, t->project, t->component,
	    ctx);
	gateway_cfg_name("be", t->component_id, t->environment, e->name,
	    r->backend, sizeof(r->backend));
	r->depth = gateway_render_depth(e->context);
	return 0;
}

/* The sorted routes of one listener (caller frees); -1 when memory is short. */
static int
gateway_render_routes(const struct gateway_model *m, const char *environment,
    int internal, struct gateway_route **out, size_t *nout)
{
	struct gateway_route *v;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->t[i].environment, environment) == 0)
			cap += (size_t)m->t[i].nendpoints;
	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		const struct gateway_target *t = &m->t[i];
		if (strcmp(t->environment, environment) != 0)
			continue;
		for (int j = 0; j < t->nendpoints; j++) {
			if (!gateway_render_on_listener(&t->endpoints[j],
			    internal))
				continue;
			if (gateway_render_route(t, &t->endpoints[j],
			    &v[n]) < 0) {
				gateway_render_free_routes(v, n);
				return -1;
			}
			n++;
		}
	}
	qsort(v, n, sizeof(*v), gateway_render_cmp_route);
	*out = v;
	*nout = n;
	return 0;
}

static int
gateway_render_nomem(struct error *err)
{
	error_set(err, GATEWAY_ERR, "", "gateway_failed: out of memory "
	    "rendering the HAProxy configuration");
	return -1;
}

int
gateway_render_map(const struct gateway_model *m, const char *environment,
    int internal, struct gateway_text *out, struct error *err)
{
	struct gateway_route *v;
	size_t n;

	if (gateway_render_routes(m, environment, internal, &v, &n) < 0)
		return gateway_render_nomem(err);
	gateway_render_printf(out, "# %s %s routes, written by the Slipway "
	    "agent: path prefix, backend.\n", environment,
	    internal ? "internal" : "public");
	for (size_t i = 0; i < n; i++)
		gateway_render_printf(out, "%s %s\n", v[i].key, v[i].backend);
	gateway_render_free_routes(v, n);
	return out->failed ? gateway_render_nomem(err) : 0;
}

static int
gateway_render_cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* -1 with err when two backends of m share a name (a hash collision). */
static int
gateway_render_check_names(const struct gateway_model *m, struct error *err)
{
	size_t n = 0, cap = 0;
	char (*names)[GATEWAY_NAME_MAX];
	int rc = 0;

	for (size_t i = 0; i < m->n; i++)
		cap += (size_t)m->t[i].nendpoints;
	if ((names = calloc(cap + 1, sizeof(*names))) == NULL)
		return gateway_render_nomem(err);
	for (size_t i = 0; i < m->n; i++)
		for (int j = 0; j < m->t[i].nendpoints; j++)
			gateway_cfg_name("be", m->t[i].component_id,
			    m->t[i].environment, m->t[i].endpoints[j].name,
			    names[n++], sizeof(names[0]));
	qsort(names, n, sizeof(names[0]), gateway_render_cmp_name);
	for (size_t i = 1; i < n && rc == 0; i++) {
		if (strcmp(names[i], names[i - 1]) == 0) {
			error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
			    "two endpoints get the HAProxy name %s", names[i]);
			rc = -1;
		}
	}
	free(names);
	return rc;
}

int
gateway_render_check(const struct gateway_render *r,
    const struct gateway_model *m, struct error *err)
{
	struct gateway_route *v;
	size_t n;
	int rc = 0;

	if (gateway_render_check_names(m, err) < 0)
		return -1;
	/* The internal map holds every route, so it shows every clash. */
	for (int i = 0; i < r->layout->nenv && rc == 0; i++) {
		if (gateway_render_routes(m, r->layout->env[i].name, 1, &v,
		    &n) < 0)
			return gateway_render_nomem(err);
		for (size_t j = 1; j < n && rc == 0; j++) {
			if (strcmp(v[j].key, v[j - 1].key) == 0) {
				error_set(err, GATEWAY_ERR, "component",
				    "gateway_failed: %.100s is routed twice in "
				    "%s", v[j].key, r->layout->env[i].name);
				rc = -1;
			}
		}
		gateway_render_free_routes(v, n);
	}
	return rc;
}

static void
gateway_render_global(const struct gateway_render *r, struct gateway_text *o)
{
	gateway_render_printf(o,
	    "# haproxy.cfg: written by the Slipway dataplane-agent from its model "
	    "of what\n# runs on this data plane (gateway_render.c). The agent "
	    "rewrites it and the\n# maps beside it, then reloads HAProxy: edits "
	    "by hand are lost.\n\n"
	    "global\n"
	    "\tmaster-worker\n"
	    "\tstats socket %s mode 600 level admin expose-fd listeners\n"
	    "\tstats timeout 30s\n"
	    "\tpidfile %s/haproxy.pid\n"
	    "\t# After a reload the old worker keeps its sessions (keep-alive, "
	    "WebSocket,\n\t# TCP) at most this long.\n"
	    "\thard-stop-after 10m\n\n", r->runtime_socket, r->dir);
}

/*
 * Retries and redispatch send a request whose connection failed (a server
 * that just went away) to the other server; empty-response covers a server
 * that closed a connection before answering, for safe methods only (see
 * the frontend). idle-close-on-response keeps an old worker from closing
 * idle client connections under a client about to reuse them: it answers
 * their next request with "Connection: close" (without it, 6 of 394
 * keep-alive probes failed over 8 reloads; with it, none).
 */
static void
gateway_render_defaults(struct gateway_text *o)
{
	gateway_render_printf(o,
	    "defaults http\n"
	    "\tmode http\n"
	    "\ttimeout connect 2s\n"
	    "\ttimeout client 60s\n"
	    "\ttimeout server 60s\n"
	    "\ttimeout http-request 10s\n"
	    "\ttimeout http-keep-alive 10s\n"
	    "\ttimeout queue 5s\n"
	    "\ttimeout tunnel 1h\n"
	    "\ttimeout check 2s\n"
	    "\tretries 3\n"
	    "\toption redispatch 1\n"
	    "\tretry-on conn-failure empty-response\n"
	    "\toption idle-close-on-response\n"
	    "\toption forwardfor\n"
	    "\thttp-error status 502 content-type application/json string "
	    "'{\"error\":{\"code\":\"bad_gateway\",\"message\":\"the server of "
	    "this endpoint sent no valid answer\"}}'\n"
	    "\thttp-error status 503 content-type application/json string "
	    "'{\"error\":{\"code\":\"no_server\",\"message\":\"no server of "
	    "this endpoint is available\"}}'\n"
	    "\thttp-error status 504 content-type application/json string "
	    "'{\"error\":{\"code\":\"gateway_timeout\",\"message\":\"the server "
	    "of this endpoint did not answer in time\"}}'\n\n"
	    "defaults tcp\n"
	    "\tmode tcp\n"
	    "\ttimeout connect 2s\n"
	    "\ttimeout client 1h\n"
	    "\ttimeout server 1h\n"
	    "\ttimeout queue 5s\n"
	    "\ttimeout check 2s\n"
	    "\tretries 3\n"
	    "\toption redispatch 1\n\n");
}

/* The map lookups, deepest first; each runs only while nothing matched. */
static void
gateway_render_lookups(const char *map, int depth, struct gateway_text *o)
{
	for (int d = depth; d >= 0; d--)
		gateway_render_printf(o, "\thttp-request set-var(txn.route) "
		    "path,field(1,/,%d),map(%s)%s\n", 4 + d, map,
		    d == depth ? "" : " unless { var(txn.route) -m found }");
}

/* One listener: look the route up, 404 without one, strip the prefix. */
static int
gateway_render_frontend(const struct gateway_render *r,
    const struct gateway_model *m, const struct gateway_env *env,
    int internal, struct gateway_text *o, struct error *err)
{
	const struct gateway_addr *a = internal ? &env->internal : &env->pub;
	char name[sizeof(env->name) + 16], map[4096];
	struct gateway_route *v;
	size_t n;
	int depth = 0;

	if (gateway_render_routes(m, env->name, internal, &v, &n) < 0)
		return gateway_render_nomem(err);
	for (size_t i = 0; i < n; i++)
		depth = v[i].depth > depth ? v[i].depth : depth;
	gateway_render_free_routes(v, n);
	gateway_render_map_name(env->name, internal, name, sizeof(name));
	snprintf(map, sizeof(map), "%s/%s", r->dir, name);
	gateway_render_printf(o, "frontend fe-%s-%s from http\n\tbind %s:%d\n",
	    env->name, internal ? "internal" : "public", a->host, a->port);
	gateway_render_lookups(map, depth, o);
	/* A replayed POST could run twice: only a failed connect retries it. */
	gateway_render_printf(o, "\thttp-request disable-l7-retry unless "
	    "{ method GET HEAD OPTIONS }\n");
	gateway_render_printf(o,
	    "\thttp-request return status 404 content-type application/json "
	    "string '{\"error\":{\"code\":\"no_route\",\"message\":\"no endpoint "
	    "is routed at this path\"}}' unless { var(txn.route) -m found }\n"
	    "\thttp-request set-header X-Forwarded-Prefix %%[path,field(1,/,4)]\n"
	    "\thttp-request set-path /%%[path,field(5,/,0)]\n"
	    "\tuse_backend %%[var(txn.route)]\n\n");
	return 0;
}

/* The server lines: a draining server keeps its sessions but gets weight 0. */
static void
gateway_render_servers(const struct gateway_endpoint *e,
    struct gateway_text *o)
{
	for (int i = 0; i < e->nservers; i++)
		gateway_render_printf(o, "\tserver %s 127.0.0.1:%d "
		    GATEWAY_SERVER_ARGS " weight %d\n", e->servers[i].name,
		    e->servers[i].port,
		    e->servers[i].state == GATEWAY_DRAIN ? 0 : 1);
}

/* A TCP endpoint's own frontend, on the port allocated to it. */
static int
gateway_render_tcp_frontend(const struct gateway_render *r,
    const struct gateway_target *t, const struct gateway_endpoint *e,
    const char *backend, struct gateway_text *o, struct error *err)
{
	const struct gateway_env *env = gateway_cfg_env(r->layout,
	    t->environment);
	char name[GATEWAY_NAME_MAX];
	int port = gateway_ports_find(r->ports, t->component_id,
	    t->environment, e->name);

	if (env == NULL || port == 0) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
		    "endpoint %s of %s has no TCP port allocated", e->name,
		    t->component_id);
		return -1;
	}
	gateway_cfg_name("ft", t->component_id, t->environment, e->name, name,
	    sizeof(name));
	gateway_render_printf(o, "frontend %s from tcp\n\tbind %s:%d\n"
	    "\tdefault_backend %s\n\n", name,
	    gateway_cfg_public(e) ? env->pub.host : env->internal.host, port,
	    backend);
	return 0;
}

/* The backend of one endpoint (and its TCP frontend); UDP has none. */
static int
gateway_render_endpoint(const struct gateway_render *r,
    const struct gateway_target *t, const struct gateway_endpoint *e,
    int servers, struct gateway_text *o, struct error *err)
{
	char backend[GATEWAY_NAME_MAX];
	int mode = gateway_cfg_mode(e->type);

	if (mode != GATEWAY_MODE_HTTP && mode != GATEWAY_MODE_TCP)
		return 0;
	gateway_cfg_name("be", t->component_id, t->environment, e->name,
	    backend, sizeof(backend));
	if (mode == GATEWAY_MODE_TCP &&
	    gateway_render_tcp_frontend(r, t, e, backend, o, err) < 0)
		return -1;
	/* leastconn spreads long-lived TCP sessions; both allow add server. */
	gateway_render_printf(o, "backend %s from %s\n\tbalance %s\n", backend,
	    mode == GATEWAY_MODE_HTTP ? "http" : "tcp",
	    mode == GATEWAY_MODE_HTTP ? "roundrobin" : "leastconn");
	if (servers)
		gateway_render_servers(e, o);
	gateway_render_printf(o, "\n");
	return 0;
}

int
gateway_render_config(const struct gateway_render *r,
    const struct gateway_model *m, int servers, struct gateway_text *out,
    struct error *err)
{
	gateway_render_global(r, out);
	gateway_render_defaults(out);
	for (int i = 0; i < r->layout->nenv; i++) {
		if (gateway_render_frontend(r, m, &r->layout->env[i], 0, out,
		    err) < 0 || gateway_render_frontend(r, m,
		    &r->layout->env[i], 1, out, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < m->n; i++)
		for (int j = 0; j < m->t[i].nendpoints; j++)
			if (gateway_render_endpoint(r, &m->t[i],
			    &m->t[i].endpoints[j], servers, out, err) < 0)
				return -1;
	return out->failed ? gateway_render_nomem(err) : 0;
}

int
gateway_render_structure(const struct gateway_render *r,
    const struct gateway_model *m, struct gateway_text *out,
    struct error *err)
{
	if (gateway_render_config(r, m, 0, out, err) < 0)
		return -1;
	for (int i = 0; i < r->layout->nenv; i++)
		for (int internal = 0; internal <= 1; internal++)
			if (gateway_render_map(m, r->layout->env[i].name,
			    internal, out, err) < 0)
				return -1;
	return 0;
}
