/*
 * gateway_cfg.c: the gateway's configuration (listeners, TCP range), the
 * names it gives HAProxy proxies, and the checks a target must pass before
 * anything of it reaches a file or a socket. Pure: no I/O.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

#define GATEWAY_NAME_COMPONENT 36   /* a UUID */
#define GATEWAY_NAME_ENV       16
#define GATEWAY_NAME_ENDPOINT  24

/* The endpoint types and how the gateway carries them. */
static const struct {
	const char *type;
	enum gateway_mode mode;
} gateway_cfg_types[] = {
	{ "REST", GATEWAY_MODE_HTTP },
	{ "GraphQL", GATEWAY_MODE_HTTP },
	{ "WS", GATEWAY_MODE_HTTP },
	{ "HTTP", GATEWAY_MODE_HTTP },   /* a web app */
	/* gRPC needs h2 end to end; carried as TCP it needs nothing more. */
	{ "GRPC", GATEWAY_MODE_TCP },
	{ "TCP", GATEWAY_MODE_TCP },
	{ "UDP", GATEWAY_MODE_NONE },
};

static const char *const gateway_cfg_visibilities[] = {
	"Public", "Organization", "Project",
};

int
gateway_cfg_mode(const char *type)
{
	for (size_t i = 0; i < sizeof(gateway_cfg_types) /
	    sizeof(gateway_cfg_types[0]); i++)
		if (strcmp(type, gateway_cfg_types[i].type) == 0)
			return gateway_cfg_types[i].mode;
	return -1;
}

int
gateway_cfg_public(const struct gateway_endpoint *e)
{
	return e->visibility[0] == '\0' || strcmp(e->visibility, "Public") == 0;
}

/* 1 when s is 1..max-1 bytes of [A-Za-z0-9_-] (and extra). */
static int
gateway_cfg_token(const char *s, size_t max, const char *extra)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n == max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    (extra != NULL && strchr(extra, c) != NULL)))
			return 0;
	}
	return 1;
}

/* "a.b.c.d:port" (IPv4: HAProxy's bind and the URLs take it as is). */
static int
gateway_cfg_addr(const char *s, size_t n, struct gateway_addr *a)
{
	char buf[32], *colon, *end;
	struct in_addr in;
	long port;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((colon = strrchr(buf, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	if (strlen(buf) >= sizeof(a->host))
		return -1;
	memcpy(a->host, buf, strlen(buf) + 1);
	a->port = (int)port;
	return 0;
}

/* Parses one "env=pub,int" item into e. */
static int
gateway_cfg_listener(const char *s, size_t n, struct gateway_env *e)
{
	const char *eq = memchr(s, '=', n), *comma;

	if (eq == NULL || eq == s || (size_t)(eq - s) >= sizeof(e->name))
		return -1;
	memcpy(e->name, s, (size_t)(eq - s));
	e->name[eq - s] = '\0';
	if (!gateway_cfg_token(e->name, sizeof(e->name), NULL))
		return -1;
	eq++;
	if ((comma = memchr(eq, ',', (size_t)(s + n - eq))) == NULL)
		return -1;
	if (gateway_cfg_addr(eq, (size_t)(comma - eq), &e->pub) < 0 ||
	    gateway_cfg_addr(comma + 1, (size_t)(s + n - comma - 1),
	    &e->internal) < 0)
		return -1;
	return 0;
}

/* Two listeners on one port would fail HAProxy's bind at the first reload. */
static int
gateway_cfg_port_taken(const struct gateway_layout *l, int upto, int port)
{
	for (int i = 0; i < upto; i++)
		if (l->env[i].pub.port == port || l->env[i].internal.port == port)
			return 1;
	return 0;
}

/* Adds the parsed listener e as l->env[l->nenv] unless it clashes. */
static int
gateway_cfg_add_env(struct gateway_layout *l, const struct gateway_env *e,
    struct error *err)
{
	if (l->nenv == GATEWAY_ENVS_MAX) {
		error_set(err, "invalid_config", "listeners",
		    "gateway listeners: more than %d environments",
		    GATEWAY_ENVS_MAX);
		return -1;
	}
	if (gateway_cfg_env(l, e->name) != NULL) {
		error_set(err, "invalid_config", "listeners",
		    "gateway listeners: environment %s listed twice", e->name);
		return -1;
	}
	if (e->pub.port == e->internal.port ||
	    gateway_cfg_port_taken(l, l->nenv, e->pub.port) ||
	    gateway_cfg_port_taken(l, l->nenv, e->internal.port)) {
		error_set(err, "invalid_config", "listeners",
		    "gateway listeners: environment %s reuses a port", e->name);
		return -1;
	}
	l->env[l->nenv++] = *e;
	return 0;
}

int
gateway_cfg_listeners(const char *s, struct gateway_layout *l,
    struct error *err)
{
	const char *p = s, *end;
	struct gateway_env e;

	l->nenv = 0;
	if (s == NULL || *s == '\0') {
		error_set(err, "invalid_config", "listeners",
		    "gateway listeners: none configured");
		return -1;
	}
	for (;;) {
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		memset(&e, 0, sizeof(e));
		if (gateway_cfg_listener(p, (size_t)(end - p), &e) < 0) {
			error_set(err, "invalid_config", "listeners",
			    "gateway listeners: \"%.*s\" is not "
			    "env=a.b.c.d:port,a.b.c.d:port", (int)(end - p > 80 ?
			    80 : end - p), p);
			return -1;
		}
		if (gateway_cfg_add_env(l, &e, err) < 0)
			return -1;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

int
gateway_cfg_range(const char *s, struct gateway_layout *l, struct error *err)
{
	char *end;
	long lo, hi;

	if (s == NULL || *s < '0' || *s > '9')
		goto bad;
	lo = strtol(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		goto bad;
	hi = strtol(end + 1, &end, 10);
	if (*end != '\0' || lo < 1 || hi > 65535 || lo > hi)
		goto bad;
	if (hi - lo + 1 > GATEWAY_TCP_RANGE_MAX) {
		error_set(err, "invalid_config", "tcp_ports",
		    "gateway TCP ports: at most %d ports", GATEWAY_TCP_RANGE_MAX);
		return -1;
	}
	for (int p = (int)lo; p <= (int)hi; p++) {
		if (gateway_cfg_port_taken(l, l->nenv, p)) {
			error_set(err, "invalid_config", "tcp_ports",
			    "gateway TCP ports: %ld-%ld holds listener port %d",
			    lo, hi, p);
			return -1;
		}
	}
	l->tcp_lo = (int)lo;
	l->tcp_hi = (int)hi;
	return 0;
bad:
	error_set(err, "invalid_config", "tcp_ports",
	    "gateway TCP ports: \"%.40s\" is not lo-hi within 1-65535",
	    s != NULL ? s : "");
	return -1;
}

const struct gateway_env *
gateway_cfg_env(const struct gateway_layout *l, const char *name)
{
	for (int i = 0; i < l->nenv; i++)
		if (strcmp(l->env[i].name, name) == 0)
			return &l->env[i];
	return NULL;
}

/* Appends at most max bytes of s, anything outside [A-Za-z0-9_-] as '_'. */
static size_t
gateway_cfg_sanitize(char *dst, const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0' && n < max; n++) {
		unsigned char c = (unsigned char)s[n];
		dst[n] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') ? (char)c : '_';
	}
	dst[n] = '\0';
	return n;
}

/* FNV-1a over the three strings, each with its terminating NUL. */
static uint32_t
gateway_cfg_hash(const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	uint32_t h = 2166136261u;

	for (int i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];
		do {
			h ^= *p;
			h *= 16777619u;
		} while (*p++ != '\0');
	}
	return h;
}

void
gateway_cfg_name(const char *prefix, const char *component_id,
    const char *environment, const char *endpoint, char *buf, size_t len)
{
	char c[GATEWAY_NAME_COMPONENT + 1], e[GATEWAY_NAME_ENV + 1];
	char p[GATEWAY_NAME_ENDPOINT + 1];

	gateway_cfg_sanitize(c, component_id, GATEWAY_NAME_COMPONENT);
	gateway_cfg_sanitize(e, environment, GATEWAY_NAME_ENV);
	gateway_cfg_sanitize(p, endpoint, GATEWAY_NAME_ENDPOINT);
	snprintf(buf, len, "%s-%s-%s-%s-%08x", prefix, c, e, p,
	    (unsigned)gateway_cfg_hash(component_id, environment, endpoint));
}

/* A URL path segment Slipway names may use: no '/', no escapes, no dots alone. */
static int
gateway_cfg_segment(const char *s, size_t max)
{
	return gateway_cfg_token(s, max, ".~") && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

/* 1 for a character a context may hold: RFC 3986 pchar, '%' checked apart. */
static int
gateway_cfg_pchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

static int
gateway_cfg_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/*
 * Checks one context segment [s, s+n): non-empty, not "." or "..", pchars
 * and well-formed %XX only. Map keys are whole words, so this also keeps
 * blanks and '#' out of the map files.
 */
static int
gateway_cfg_context_segment(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n ||
			    !gateway_cfg_hex((unsigned char)s[i + 1]) ||
			    !gateway_cfg_hex((unsigned char)s[i + 2]))
				return 0;
			i += 2;
		} else if (!gateway_cfg_pchar(c)) {
			return 0;
		}
	}
	return 1;
}

/*
 * Checks a context ("" and "/" are the root; one trailing '/' is allowed
 * and trimmed later) and gives its depth in segments; -1 when malformed.
 */
static int
gateway_cfg_context_depth(const char *c, size_t max)
{
	size_t n = strnlen(c, max);
	const char *p, *end;
	int depth = 0;

	if (n == max)
		return -1;
	if (n == 0 || strcmp(c, "/") == 0)
		return 0;
	if (c[0] != '/')
		return -1;
	if (c[n - 1] == '/')
		n--;
	for (p = c + 1; p <= c + n; p = end + 1) {
		if ((end = memchr(p, '/', (size_t)(c + n - p))) == NULL)
			end = c + n;
		if (!gateway_cfg_context_segment(p, (size_t)(end - p)))
			return -1;
		if (++depth > GATEWAY_DEPTH_MAX)
			return -1;
	}
	return depth;
}

static int
gateway_cfg_visibility(const char *v)
{
	if (v[0] == '\0')
		return 1;
	for (size_t i = 0; i < sizeof(gateway_cfg_visibilities) /
	    sizeof(gateway_cfg_visibilities[0]); i++)
		if (strcmp(v, gateway_cfg_visibilities[i]) == 0)
			return 1;
	return 0;
}

/* Checks the servers of e: names safe for the runtime API, ports, states. */
static int
gateway_cfg_check_servers(const struct gateway_endpoint *e, struct error *err)
{
	if (e->nservers < 0 || e->nservers > GATEWAY_SERVERS_MAX) {
		error_set(err, GATEWAY_ERR, "servers", "gateway_failed: endpoint "
		    "%s has %d servers (at most %d)", e->name, e->nservers,
		    GATEWAY_SERVERS_MAX);
		return -1;
	}
	for (int i = 0; i < e->nservers; i++) {
		const struct gateway_server *s = &e->servers[i];
		if (!gateway_cfg_token(s->name, sizeof(s->name), NULL) ||
		    s->port < 1 || s->port > 65535 ||
		    (s->state != GATEWAY_READY && s->state != GATEWAY_DRAIN)) {
			error_set(err, GATEWAY_ERR, "servers", "gateway_failed: "
			    "endpoint %s: server %d has a bad name, port or "
			    "state", e->name, i);
			return -1;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(s->name, e->servers[j].name) == 0) {
				error_set(err, GATEWAY_ERR, "servers",
				    "gateway_failed: endpoint %s: server %s "
				    "listed twice", e->name, s->name);
				return -1;
			}
		}
	}
	return 0;
}

/* 1 when s is a NUL-terminated printable string of 1..max-1 bytes. */
static int
gateway_cfg_printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n == max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
gateway_cfg_check_endpoint(const struct gateway_endpoint *e,
    struct error *err)
{
	int mode;

	if (!gateway_cfg_printable(e->name, sizeof(e->name))) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: an "
		    "endpoint name is empty, too long or has control characters");
		return -1;
	}
	if (strnlen(e->type, sizeof(e->type)) == sizeof(e->type) ||
	    (mode = gateway_cfg_mode(e->type)) < 0) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
		    "endpoint %s: unknown type", e->name);
		return -1;
	}
	if (strnlen(e->visibility, sizeof(e->visibility)) ==
	    sizeof(e->visibility) || !gateway_cfg_visibility(e->visibility)) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
		    "endpoint %s: unknown networkVisibility", e->name);
		return -1;
	}
	if (mode == GATEWAY_MODE_HTTP &&
	    gateway_cfg_context_depth(e->context, sizeof(e->context)) < 0) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
		    "endpoint %s: context must be /segment/... (at most %d "
		    "segments of URL path characters)", e->name,
		    GATEWAY_DEPTH_MAX);
		return -1;
	}
	return gateway_cfg_check_servers(e, err);
}

void
gateway_cfg_trim_context(char *c)
{
	size_t n = strlen(c);

	if (n == 0) {
		strcpy(c, "/");
		return;
	}
	while (n > 1 && c[n - 1] == '/')
		c[--n] = '\0';
}

/* Two endpoints of one component must differ by name and by HTTP route. */
static int
gateway_cfg_check_unique(const struct gateway_target *t, struct error *err)
{
	struct gateway_target n = *t;

	gateway_cfg_normalize(&n);
	for (int i = 1; i < n.nendpoints; i++) {
		if (strcmp(n.endpoints[i].name, n.endpoints[i - 1].name) == 0) {
			error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: "
			    "endpoint %s listed twice", n.endpoints[i].name);
			return -1;
		}
	}
	for (int i = 0; i < n.nendpoints; i++) {
		const struct gateway_endpoint *a = &n.endpoints[i];
		for (int j = 0; j < i; j++) {
			const struct gateway_endpoint *b = &n.endpoints[j];
			if (gateway_cfg_mode(a->type) == GATEWAY_MODE_HTTP &&
			    gateway_cfg_mode(b->type) == GATEWAY_MODE_HTTP &&
			    strcmp(a->context, b->context) == 0) {
				error_set(err, GATEWAY_ERR, "endpoints",
				    "gateway_failed: endpoints %s and %s share "
				    "context %s", b->name, a->name, a->context);
				return -1;
			}
		}
	}
	return 0;
}

int
gateway_cfg_check(const struct gateway_layout *l,
    const struct gateway_target *t, struct error *err)
{
	if (!gateway_cfg_token(t->component_id, sizeof(t->component_id), ".") ||
	    !gateway_cfg_token(t->environment, sizeof(t->environment), NULL)) {
		error_set(err, GATEWAY_ERR, "component_id", "gateway_failed: "
		    "component id or environment is empty or not [A-Za-z0-9_.-]");
		return -1;
	}
	if (gateway_cfg_env(l, t->environment) == NULL) {
		error_set(err, GATEWAY_ERR, "environment", "gateway_failed: no "
		    "gateway listener for environment %s", t->environment);
		return -1;
	}
	if (t->nendpoints < 0 || t->nendpoints > GATEWAY_ENDPOINTS_MAX) {
		error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: %d "
		    "endpoints (at most %d)", t->nendpoints,
		    GATEWAY_ENDPOINTS_MAX);
		return -1;
	}
	if (t->nendpoints == 0)
		return 0;   /* a removal needs no names */
	if (!gateway_cfg_segment(t->org, sizeof(t->org)) ||
	    !gateway_cfg_segment(t->project, sizeof(t->project)) ||
	    !gateway_cfg_segment(t->component, sizeof(t->component))) {
		error_set(err, GATEWAY_ERR, "component", "gateway_failed: org, "
		    "project and component names must be URL path segments "
		    "([A-Za-z0-9._~-])");
		return -1;
	}
	for (int i = 0; i < t->nendpoints; i++)
		if (gateway_cfg_check_endpoint(&t->endpoints[i], err) < 0)
			return -1;
	return gateway_cfg_check_unique(t, err);
}

static int
gateway_cfg_cmp_endpoint(const void *a, const void *b)
{
	return strcmp(((const struct gateway_endpoint *)a)->name,
	    ((const struct gateway_endpoint *)b)->name);
}

static int
gateway_cfg_cmp_server(const void *a, const void *b)
{
	return strcmp(((const struct gateway_server *)a)->name,
	    ((const struct gateway_server *)b)->name);
}

/*
 * Sorting makes the rendered text depend only on what is routed, not on
 * the order the agent listed it in, so an equal model never reloads.
 */
void
gateway_cfg_normalize(struct gateway_target *t)
{
	for (int i = 0; i < t->nendpoints; i++) {
		struct gateway_endpoint *e = &t->endpoints[i];
		if (e->visibility[0] == '\0')
			strcpy(e->visibility, "Public");
		if (gateway_cfg_mode(e->type) == GATEWAY_MODE_HTTP)
			gateway_cfg_trim_context(e->context);
		else
			e->context[0] = '\0';
		qsort(e->servers, (size_t)e->nservers, sizeof(e->servers[0]),
		    gateway_cfg_cmp_server);
	}
	qsort(t->endpoints, (size_t)t->nendpoints, sizeof(t->endpoints[0]),
	    gateway_cfg_cmp_endpoint);
}
