/*
 * gateway.c: the gateway module the agent drives (see gateway.h): the
 * model, the files HAProxy reads, and the order things happen in.
 *
 * Every change is computed on a copy of the model and the port table, made
 * real (files, runtime commands or a reload), and only then swapped in. A
 * reload the master refuses leaves the old worker serving, so putting the
 * old files back is the whole rollback; a runtime command that fails half
 * way is undone by reloading the old, untouched, files.
 *
 * Threads: every entry point but gateway_ping and gateway_has_environment
 * holds g->lock for its whole run, so applies of different components are
 * serialised here (they take milliseconds; a reload up to a few hundred).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"

#define GATEWAY_CFG_FILE   "haproxy.cfg"
#define GATEWAY_PORTS_FILE "tcp-ports"

struct gateway {
	char *dir;
	char *runtime_socket;
	char *master_socket;
	struct gateway_layout layout;
	pthread_mutex_t lock;
	struct gateway_model model;       /* what HAProxy runs */
	struct gateway_ports ports;       /* as in the ports file */
	struct gateway_text structure;    /* of model, to spot a reload */
	int loaded;                       /* HAProxy got the model once */
};

/* What one change will make real. */
struct gateway_next {
	struct gateway_model model;
	struct gateway_ports ports;
	struct gateway_text structure;
	struct gateway_plan plan;
};

static struct gateway_render
gateway_render_of(const struct gateway *g, const struct gateway_ports *p)
{
	struct gateway_render r = { &g->layout, g->dir, g->runtime_socket, p };

	return r;
}

int
gateway_write_file(const char *path, const void *data, size_t len,
    struct error *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char *p = data;
	int fd, dfd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	ok = len == 0 && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0)
		goto fail;
	/* The rename itself is durable once the directory is synced. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	error_set(err, GATEWAY_ERR, "", "gateway_failed: writing %.120s: %s",
	    path, strerror(errno));
	unlink(tmp);
	return -1;
}

static void
gateway_path(const struct gateway *g, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", g->dir, name);
}

/* Paths end up unquoted in haproxy.cfg: keep them to a plain alphabet. */
static int
gateway_path_ok(const char *p, size_t max)
{
	size_t n;

	if (p == NULL || p[0] != '/' || (n = strlen(p)) >= max)
		return 0;
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/._+-") == n;
}

static int
gateway_check_config(const struct gateway_config *c, struct error *err)
{
	struct stat st;

	if (!gateway_path_ok(c->dir, PATH_MAX - 64) ||
	    !gateway_path_ok(c->runtime_socket, 108) ||
	    !gateway_path_ok(c->master_socket, 108)) {
		error_set(err, "invalid_config", "gateway", "gateway: dir and "
		    "sockets must be absolute paths of [A-Za-z0-9/._+-] (sockets "
		    "under 108 bytes)");
		return -1;
	}
	if (stat(c->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		error_set(err, "invalid_config", "gateway", "gateway: %.120s is "
		    "not a directory", c->dir);
		return -1;
	}
	return 0;
}

/* Copies the strings and reads the configuration into g. */
static int
gateway_init(struct gateway *g, const struct gateway_config *c,
    struct error *err)
{
	char path[PATH_MAX];

	if ((g->dir = strdup(c->dir)) == NULL ||
	    (g->runtime_socket = strdup(c->runtime_socket)) == NULL ||
	    (g->master_socket = strdup(c->master_socket)) == NULL) {
		error_set(err, "invalid_config", "gateway", "out of memory");
		return -1;
	}
	if (gateway_cfg_listeners(c->listeners, &g->layout, err) < 0 ||
	    gateway_cfg_range(c->tcp_ports, &g->layout, err) < 0)
		return -1;
	g->ports.lo = g->layout.tcp_lo;
	g->ports.hi = g->layout.tcp_hi;
	g->ports.probe = gateway_ports_bindable;
	gateway_path(g, GATEWAY_PORTS_FILE, path, sizeof(path));
	return gateway_ports_load(&g->ports, path, err);
}

struct gateway *
gateway_new(const struct gateway_config *c, struct error *err)
{
	struct gateway *g;

	if (gateway_check_config(c, err) < 0)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		error_set(err, "invalid_config", "gateway", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	if (gateway_init(g, c, err) < 0) {
		gateway_free(g);
		return NULL;
	}
	return g;
}

void
gateway_free(struct gateway *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->lock);
	gateway_model_free(&g->model);
	gateway_ports_free(&g->ports);
	gateway_render_free(&g->structure);
	free(g->dir);
	free(g->runtime_socket);
	free(g->master_socket);
	free(g);
}

int
gateway_ping(struct gateway *g)
{
	struct error err;
	char *answer;
	int ok;

	if (gateway_rt_call(g->runtime_socket, "show version", 2000, &answer,
	    &err) < 0)
		return 0;
	ok = answer[0] >= '0' && answer[0] <= '9';
	free(answer);
	return ok;
}

int
gateway_has_environment(const struct gateway *g, const char *environment)
{
	return environment != NULL &&
	    gateway_cfg_env(&g->layout, environment) != NULL;
}

/* The host a TCP endpoint's frontend binds (by visibility). */
static const char *
gateway_tcp_host(const struct gateway *g, const struct gateway_target *t,
    const struct gateway_endpoint *e)
{
	const struct gateway_env *env = gateway_cfg_env(&g->layout,
	    t->environment);

	return gateway_cfg_public(e) ? env->pub.host : env->internal.host;
}

/* Allocates a port to every TCP endpoint of t in p. */
static int
gateway_assign(const struct gateway *g, struct gateway_ports *p,
    const struct gateway_target *t, struct error *err)
{
	for (int i = 0; i < t->nendpoints; i++) {
		const struct gateway_endpoint *e = &t->endpoints[i];
		if (gateway_cfg_mode(e->type) == GATEWAY_MODE_TCP &&
		    gateway_ports_assign(p, t->component_id, t->environment,
		    e->name, gateway_tcp_host(g, t, e), err) < 0)
			return -1;
	}
	return 0;
}

static int
gateway_ports_differ(const struct gateway_ports *a,
    const struct gateway_ports *b)
{
	return a->n != b->n ||
	    (a->n > 0 && memcmp(a->v, b->v, a->n * sizeof(a->v[0])) != 0);
}

static void
gateway_next_free(struct gateway_next *n)
{
	gateway_model_free(&n->model);
	gateway_ports_free(&n->ports);
	gateway_render_free(&n->structure);
}

/* Writes the maps and haproxy.cfg of (m, p). */
static int
gateway_write_all(const struct gateway *g, const struct gateway_model *m,
    const struct gateway_ports *p, int maps, struct error *err)
{
	struct gateway_render r = gateway_render_of(g, p);
	struct gateway_text t = { 0 };
	char name[128], path[PATH_MAX];
	int rc = 0;

	for (int i = 0; maps && rc == 0 && i < g->layout.nenv * 2; i++) {
		const char *env = g->layout.env[i / 2].name;
		t.len = 0;
		gateway_render_map_name(env, i % 2, name, sizeof(name));
		gateway_path(g, name, path, sizeof(path));
		if ((rc = gateway_render_map(m, env, i % 2, &t, err)) == 0)
			rc = gateway_write_file(path, t.s, t.len, err);
	}
	t.len = 0;
	if (rc == 0 && (rc = gateway_render_config(&r, m, 1, &t, err)) == 0) {
		gateway_path(g, GATEWAY_CFG_FILE, path, sizeof(path));
		rc = gateway_write_file(path, t.s, t.len, err);
	}
	gateway_render_free(&t);
	return rc;
}

static int
gateway_save_ports(const struct gateway *g, const struct gateway_ports *p,
    struct error *err)
{
	char path[PATH_MAX];

	gateway_path(g, GATEWAY_PORTS_FILE, path, sizeof(path));
	return gateway_ports_save(p, path, err);
}

/* Puts the running model's files back after a failed change. */
static void
gateway_restore(struct gateway *g, int reload)
{
	struct error err;

	if (gateway_write_all(g, &g->model, &g->ports, 1, &err) < 0 ||
	    gateway_save_ports(g, &g->ports, &err) < 0 ||
	    (reload && gateway_rt_reload(g->master_socket, g->runtime_socket,
	    &err) < 0)) {
		log_warnx("gateway: rolling back: %s", err.msg);
		g->loaded = 0;   /* HAProxy may disagree: the next change reloads */
	}
}

/* A reload with the next files; on failure the old ones go back. */
static int
gateway_make_reload(struct gateway *g, struct gateway_next *n,
    struct error *err)
{
	if (gateway_write_all(g, &n->model, &n->ports, 1, err) < 0 ||
	    gateway_rt_reload(g->master_socket, g->runtime_socket, err) < 0) {
		/*
		 * A refused configuration leaves the old worker serving; a reload
		 * that timed out may have taken the new files: either way the
		 * next change does a full reload of the model.
		 */
		gateway_restore(g, 0);
		g->loaded = 0;
		return -1;
	}
	return 0;
}

/* Runtime commands, then the next config (same maps) for the next reload. */
static int
gateway_make_runtime(struct gateway *g, struct gateway_next *n,
    struct error *err)
{
	for (size_t i = 0; i < n->plan.nop; i++) {
		if (gateway_rt_op(g->runtime_socket, &n->plan.op[i], err) < 0) {
			/* The files on disk are still the running model's. */
			gateway_restore(g, 1);
			return -1;
		}
	}
	if (gateway_write_all(g, &n->model, &n->ports, 0, err) < 0) {
		/* HAProxy runs next already; the model must say so. */
		log_warnx("gateway: %s; the next reload rewrites it", err->msg);
		error_clear(err);
	}
	return 0;
}

/* Makes n real and, on success, the running model. */
static int
gateway_commit(struct gateway *g, struct gateway_next *n, struct error *err)
{
	int rc;

	if (gateway_ports_differ(&n->ports, &g->ports) &&
	    gateway_save_ports(g, &n->ports, err) < 0)
		return -1;
	rc = n->plan.reload ? gateway_make_reload(g, n, err) :
	    gateway_make_runtime(g, n, err);
	if (rc < 0)
		return -1;
	gateway_model_free(&g->model);
	gateway_ports_free(&g->ports);
	gateway_render_free(&g->structure);
	g->model = n->model;
	g->ports = n->ports;
	g->structure = n->structure;
	memset(n, 0, sizeof(*n));
	g->loaded = 1;
	return 0;
}

/* Checks the next model as a whole and renders its structure. */
static int
gateway_prepare(const struct gateway *g, struct gateway_next *n,
    struct error *err)
{
	struct gateway_render r = gateway_render_of(g, &n->ports);

	if (gateway_render_check(&r, &n->model, err) < 0)
		return -1;
	return gateway_render_structure(&r, &n->model, &n->structure, err);
}

static int
gateway_load_locked(struct gateway *g, const struct gateway_target *t,
    size_t n, struct gateway_next *next, struct error *err)
{
	for (size_t i = 0; i < n; i++)
		if (gateway_cfg_check(&g->layout, &t[i], err) < 0)
			return -1;
	if (gateway_model_from(&next->model, t, n, err) < 0)
		return -1;
	if (gateway_ports_copy(&next->ports, &g->ports) < 0) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: out of memory");
		return -1;
	}
	gateway_ports_retain(&next->ports, &next->model);
	for (size_t i = 0; i < next->model.n; i++)
		if (gateway_assign(g, &next->ports, &next->model.t[i], err) < 0)
			return -1;
	if (gateway_prepare(g, next, err) < 0)
		return -1;
	next->plan.reload = 1;
	return gateway_commit(g, next, err);
}

int
gateway_load(struct gateway *g, const struct gateway_target *t, size_t n,
    struct error *err)
{
	struct gateway_next next;
	int rc;

	memset(&next, 0, sizeof(next));
	pthread_mutex_lock(&g->lock);
	rc = gateway_load_locked(g, t, n, &next, err);
	pthread_mutex_unlock(&g->lock);
	gateway_next_free(&next);
	if (rc == 0)
		log_info("gateway: loaded %zu routed components", n);
	return rc;
}

static int
gateway_apply_locked(struct gateway *g, const struct gateway_target *t,
    struct gateway_next *next, struct error *err)
{
	const struct gateway_target *old, *now;

	if (gateway_cfg_check(&g->layout, t, err) < 0)
		return -1;
	old = gateway_model_find(&g->model, t->component_id, t->environment);
	if (gateway_model_with(&next->model, &g->model, t, err) < 0)
		return -1;
	if (gateway_ports_copy(&next->ports, &g->ports) < 0) {
		error_set(err, GATEWAY_ERR, "", "gateway_failed: out of memory");
		return -1;
	}
	gateway_ports_release(&next->ports, t);
	if (gateway_assign(g, &next->ports, t, err) < 0 ||
	    gateway_prepare(g, next, err) < 0)
		return -1;
	now = gateway_model_find(&next->model, t->component_id, t->environment);
	gateway_plan_make(g->structure.s != NULL ? g->structure.s : "",
	    next->structure.s, old, now, &next->plan);
	/* Before the first load HAProxy runs stack.sh's bootstrap file. */
	if (!g->loaded)
		next->plan.reload = 1;
	log_info("gateway: %s in %s: %s", t->component_id, t->environment,
	    next->plan.reload ? "reload" : next->plan.nop > 0 ?
	    "runtime changes" : "no change");
	return gateway_commit(g, next, err);
}

int
gateway_apply(struct gateway *g, const struct gateway_target *t,
    struct error *err)
{
	struct gateway_next next;
	int rc;

	memset(&next, 0, sizeof(next));
	pthread_mutex_lock(&g->lock);
	rc = gateway_apply_locked(g, t, &next, err);
	pthread_mutex_unlock(&g->lock);
	gateway_next_free(&next);
	return rc;
}

/* "tcp://host:port", allocating (and persisting) the port when new. */
static int
gateway_tcp_url(struct gateway *g, const struct gateway_target *t,
    const struct gateway_endpoint *e, char *url, size_t len)
{
	const char *host = gateway_tcp_host(g, t, e);
	struct error err;
	size_t before;
	int port, n;

	pthread_mutex_lock(&g->lock);
	before = g->ports.n;
	port = gateway_ports_assign(&g->ports, t->component_id, t->environment,
	    e->name, host, &err);
	if (port > 0 && g->ports.n != before &&
	    gateway_save_ports(g, &g->ports, &err) < 0) {
		g->ports.n = before;   /* the new one was appended last */
		port = -1;
	}
	pthread_mutex_unlock(&g->lock);
	if (port < 0) {
		log_warnx("gateway: %s", err.msg);
		return -1;
	}
	n = snprintf(url, len, "tcp://%s:%d", host, port);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int
gateway_url(struct gateway *g, const struct gateway_target *t, int i,
    char *url, size_t len)
{
	struct gateway_endpoint e;
	const struct gateway_env *env;
	const struct gateway_addr *a;
	struct error err;
	int n;

	if (i < 0 || i >= t->nendpoints ||
	    gateway_cfg_check(&g->layout, t, &err) < 0)
		return -1;
	env = gateway_cfg_env(&g->layout, t->environment);
	e = t->endpoints[i];
	if (gateway_cfg_mode(e.type) == GATEWAY_MODE_TCP)
		return gateway_tcp_url(g, t, &e, url, len);
	if (gateway_cfg_mode(e.type) != GATEWAY_MODE_HTTP)
		return -1;
	gateway_cfg_trim_context(e.context);
	a = gateway_cfg_public(&e) ? &env->pub : &env->internal;
	n = snprintf(url, len, "http://%s:%d/%s/%s/%s%s", a->host, a->port,
	    t->org, t->project, t->component,
	    strcmp(e.context, "/") == 0 ? "/" : e.context);
	return n > 0 && (size_t)n < len ? 0 : -1;
}
