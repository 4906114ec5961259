/*
 * gateway_ports.c: the TCP listener port of each TCP or gRPC endpoint. A
 * port is what its clients hold, so it stays the same across redeploys and
 * agent restarts: allocations live in a file in the gateway dir (one
 * "port<TAB>component id<TAB>environment<TAB>endpoint" line each), written
 * whole to a temporary file, fsynced and renamed over the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "gateway.h"

#define GATEWAY_PORTS_FILE_MAX (4 * 1024 * 1024)

void
gateway_ports_free(struct gateway_ports *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

int
gateway_ports_copy(struct gateway_ports *dst, const struct gateway_ports *src)
{
	*dst = *src;
	if ((dst->v = calloc(src->n + 1, sizeof(src->v[0]))) == NULL) {
		dst->n = 0;
		return -1;
	}
	if (src->n > 0)
		memcpy(dst->v, src->v, src->n * sizeof(src->v[0]));
	return 0;
}

static int
gateway_ports_match(const struct gateway_port *e, const char *component_id,
    const char *environment, const char *endpoint)
{
	return strcmp(e->component_id, component_id) == 0 &&
	    strcmp(e->environment, environment) == 0 &&
	    strcmp(e->endpoint, endpoint) == 0;
}

int
gateway_ports_find(const struct gateway_ports *p, const char *component_id,
    const char *environment, const char *endpoint)
{
	for (size_t i = 0; i < p->n; i++)
		if (gateway_ports_match(&p->v[i], component_id, environment,
		    endpoint))
			return p->v[i].port;
	return 0;
}

static int
gateway_ports_used(const struct gateway_ports *p, int port)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].port == port)
			return 1;
	return 0;
}

/* Appends an allocation; -1 when memory is short. */
static int
gateway_ports_push(struct gateway_ports *p, const struct gateway_port *e)
{
	struct gateway_port *v = realloc(p->v, (p->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	p->v = v;
	p->v[p->n++] = *e;
	return 0;
}

int
gateway_ports_assign(struct gateway_ports *p, const char *component_id,
    const char *environment, const char *endpoint, const char *host,
    struct error *err)
{
	struct gateway_port e;
	int port;

	if ((port = gateway_ports_find(p, component_id, environment,
	    endpoint)) != 0)
		return port;
	memset(&e, 0, sizeof(e));
	snprintf(e.component_id, sizeof(e.component_id), "%s", component_id);
	snprintf(e.environment, sizeof(e.environment), "%s", environment);
	snprintf(e.endpoint, sizeof(e.endpoint), "%s", endpoint);
	/* A port someone else holds would fail the whole reload: skip it. */
	for (port = p->lo; port <= p->hi; port++) {
		if (gateway_ports_used(p, port) ||
		    (p->probe != NULL && !p->probe(host, port)))
			continue;
		e.port = port;
		if (gateway_ports_push(p, &e) < 0)
			break;
		return port;
	}
	error_set(err, GATEWAY_ERR, "endpoints", "gateway_failed: no free TCP "
	    "port left in %d-%d for endpoint %s (%zu allocated)", p->lo, p->hi,
	    endpoint, p->n);
	return -1;
}

/* 1 when m routes a TCP endpoint that allocation e belongs to. */
static int
gateway_ports_wanted(const struct gateway_port *e,
    const struct gateway_target *t)
{
	if (strcmp(e->component_id, t->component_id) != 0 ||
	    strcmp(e->environment, t->environment) != 0)
		return 0;
	for (int i = 0; i < t->nendpoints; i++)
		if (gateway_cfg_mode(t->endpoints[i].type) == GATEWAY_MODE_TCP &&
		    strcmp(t->endpoints[i].name, e->endpoint) == 0)
			return 1;
	return 0;
}

void
gateway_ports_release(struct gateway_ports *p, const struct gateway_target *t)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct gateway_port *e = &p->v[i];
		int mine = strcmp(e->component_id, t->component_id) == 0 &&
		    strcmp(e->environment, t->environment) == 0;
		if (!mine || gateway_ports_wanted(e, t))
			p->v[k++] = *e;
	}
	p->n = k;
}

void
gateway_ports_retain(struct gateway_ports *p, const struct gateway_model *m)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct gateway_target *t = gateway_model_find(m,
		    p->v[i].component_id, p->v[i].environment);
		if (t != NULL && gateway_ports_wanted(&p->v[i], t))
			p->v[k++] = p->v[i];
	}
	p->n = k;
}

/* Copies field [s, end) into out; -1 when empty or too long. */
static int
gateway_ports_field(const char *s, const char *end, char *out, size_t len)
{
	if (end == NULL || end == s || (size_t)(end - s) >= len)
		return -1;
	memcpy(out, s, (size_t)(end - s));
	out[end - s] = '\0';
	return 0;
}

/* Parses one line (without its newline) into e. */
static int
gateway_ports_line(const char *line, struct gateway_port *e)
{
	const char *t1 = strchr(line, '\t'), *t2, *t3;
	char num[8];

	memset(e, 0, sizeof(*e));
	if (t1 == NULL || (t2 = strchr(t1 + 1, '\t')) == NULL ||
	    (t3 = strchr(t2 + 1, '\t')) == NULL)
		return -1;
	if (gateway_ports_field(line, t1, num, sizeof(num)) < 0 ||
	    gateway_ports_field(t1 + 1, t2, e->component_id,
	    sizeof(e->component_id)) < 0 ||
	    gateway_ports_field(t2 + 1, t3, e->environment,
	    sizeof(e->environment)) < 0 ||
	    gateway_ports_field(t3 + 1, t3 + 1 + strlen(t3 + 1), e->endpoint,
	    sizeof(e->endpoint)) < 0)
		return -1;
	for (const char *c = num; *c != '\0'; c++)
		if (*c < '0' || *c > '9')
			return -1;
	e->port = atoi(num);
	return e->port >= 1 && e->port <= 65535 ? 0 : -1;
}

/* Adds a parsed line unless it is out of range; -1 on a clash. */
static int
gateway_ports_take(struct gateway_ports *p, const struct gateway_port *e)
{
	if (e->port < p->lo || e->port > p->hi) {
		log_warnx("gateway: TCP port %d of %s/%s is outside %d-%d now; "
		    "the endpoint gets a new one", e->port, e->component_id,
		    e->endpoint, p->lo, p->hi);
		return 0;
	}
	if (gateway_ports_used(p, e->port) || gateway_ports_find(p,
	    e->component_id, e->environment, e->endpoint) != 0)
		return -1;
	return gateway_ports_push(p, e);
}

/* Parses the whole file text; -1 with err naming the first bad line. */
static int
gateway_ports_parse(struct gateway_ports *p, char *text, const char *path,
    struct error *err)
{
	struct gateway_port e;
	int lineno = 0;

	for (char *line = text, *nl; *line != '\0'; line = nl + 1) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL) {
			error_set(err, GATEWAY_ERR, "", "gateway_failed: %.120s: "
			    "line %d is cut short", path, lineno);
			return -1;
		}
		*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (gateway_ports_line(line, &e) < 0 ||
		    gateway_ports_take(p, &e) < 0) {
			error_set(err, GATEWAY_ERR, "", "gateway_failed: %.120s: "
			    "line %d is malformed or reuses a port", path, lineno);
			return -1;
		}
	}
	return 0;
}

/* Reads the whole file, capped; *text NULL when it does not exist. */
static int
gateway_ports_read(const char *path, char **text, struct error *err)
{
	char chunk[8192];
	size_t len = 0;
	ssize_t n;
	int fd;

	*text = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		error_set(err, GATEWAY_ERR, "", "gateway_failed: open %.120s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (buf_append(text, &len, GATEWAY_PORTS_FILE_MAX, "", 0) < 0)
		n = -1;
	else
		while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
		    buf_append(text, &len, GATEWAY_PORTS_FILE_MAX, chunk,
		    (size_t)n) == 0)
			;
	close(fd);
	if (n != 0) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: read %.120s: "
		    "failed or larger than %d bytes", path,
		    GATEWAY_PORTS_FILE_MAX);
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

int
gateway_ports_load(struct gateway_ports *p, const char *path,
    struct error *err)
{
	char *text;
	int rc;

	p->n = 0;
	if (gateway_ports_read(path, &text, err) < 0)
		return -1;
	if (text == NULL)
		return 0;
	rc = gateway_ports_parse(p, text, path, err);
	free(text);
	return rc;
}

int
gateway_ports_save(const struct gateway_ports *p, const char *path,
    struct error *err)
{
	struct gateway_text t = { 0 };
	int rc;

	gateway_render_printf(&t, "# TCP ports of the gateway, kept by the "
	    "Slipway agent: port, component id, environment, endpoint.\n");
	for (size_t i = 0; i < p->n; i++)
		gateway_render_printf(&t, "%d\t%s\t%s\t%s\n", p->v[i].port,
		    p->v[i].component_id, p->v[i].environment,
		    p->v[i].endpoint);
	if (t.failed) {
		gateway_render_free(&t);
		error_set(err, GATEWAY_ERR, "", "gateway_failed: out of memory");
		return -1;
	}
	rc = gateway_write_file(path, t.s, t.len, err);
	gateway_render_free(&t);
	return rc;
}

int
gateway_ports_bindable(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1, ok;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return 0;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	/* As HAProxy binds: a port in TIME_WAIT is free for it too. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}
