/*
 * gateway.h: the data plane's gateway, a real HAProxy 2.6 in master-worker
 * mode (started by scripts/stack.sh, or deploy/gateway/entrypoint.sh in a
 * container), that gives every endpoint a stable address while versions
 * come and go behind it.
 *
 * The agent owns HAProxy's configuration: it keeps a model of every routed
 * component and environment, renders haproxy.cfg and the route maps from it
 * (always the whole truth, since a reload re-reads only the file), and
 * changes servers through the runtime API (stats socket) without a reload.
 * Only a change of backends or listeners reloads HAProxy (master CLI).
 *
 * Routes, as users see them:
 *   http://<listener>/<org>/<project>/<component><context>  REST GraphQL WS HTTP
 *   tcp://<host>:<port>                                      TCP GRPC
 * Public endpoints are on the environment's public and internal listeners,
 * Organization and Project ones on the internal listener only. The gateway
 * strips /<org>/<project>/<component> (the container sees its own context).
 * UDP endpoints never go through the gateway.
 *
 * A cutover, as the agent drives it (each step one gateway_apply with the
 * whole target; each a few milliseconds of runtime API, no reload):
 *   1. old READY + new READY   the new version, health-checked, takes traffic
 *   2. old DRAIN + new READY   no new requests to old; its sessions go on
 *   3. wait the drain time (longer than the slowest request)
 *   4. new READY               old deleted from HAProxy; now stop its container
 * A new component or endpoint, a changed context or visibility, a removed
 * endpoint or target reloads HAProxy (about 100-250 ms, hitless). Removing a
 * target reloads too, and the old worker keeps its sessions: drain (step 2)
 * before applying nendpoints == 0 as well.
 */
#ifndef SLIPWAY_GATEWAY_H
#define SLIPWAY_GATEWAY_H

#include <stddef.h>
#include "error.h"

#define GATEWAY_SERVERS_MAX   2
#define GATEWAY_ENDPOINTS_MAX 16

enum gateway_server_state { GATEWAY_READY, GATEWAY_DRAIN };

struct gateway_server {
	char name[64];          /* e.g. "d-" + first 12 hex of the deployment id: [A-Za-z0-9_-] */
	int port;               /* host port on 127.0.0.1 */
	enum gateway_server_state state;
};

/* One endpoint of a component in an environment, and the servers behind it. */
struct gateway_endpoint {
	char name[64];          /* as in endpoints.yaml */
	char type[16];          /* REST GraphQL WS GRPC TCP UDP, or HTTP for a web app */
	char visibility[16];    /* Public | Organization | Project ("" = Public) */
	char context[256];      /* "/..." for HTTP types, "" otherwise */
	struct gateway_server servers[GATEWAY_SERVERS_MAX];
	int nservers;
};

struct gateway_target {
	char component_id[64];
	char environment[64];
	char org[64], project[64], component[128];   /* names, for the URL path */
	struct gateway_endpoint endpoints[GATEWAY_ENDPOINTS_MAX];
	int nendpoints;        /* 0 = the component has no route here (removes it) */
};

struct gateway_config {
	const char *dir;             /* agent-owned: haproxy.cfg, maps, TCP port allocations */
	const char *runtime_socket;  /* stats socket, level admin */
	const char *master_socket;   /* master CLI: reload */
	const char *listeners;       /* "env=pub_addr,int_addr;..." (IPv4 host:port) */
	const char *tcp_ports;       /* "lo-hi" */
};

struct gateway;

/*
 * Validates the configuration (listeners, range, paths) and reads the TCP
 * port allocations kept in dir; NULL with err on a bad one. Does not talk to
 * HAProxy yet. The strings are copied.
 */
struct gateway *gateway_new(const struct gateway_config *c, struct error *err);
void gateway_free(struct gateway *g);
/* 1 when HAProxy's runtime socket answers (for /readyz). */
int gateway_ping(struct gateway *g);
/* 1 when env has listeners configured. */
int gateway_has_environment(const struct gateway *g, const char *environment);
/*
 * Replaces the whole model (agent start, after reconciling with the engine):
 * writes the config, one reload, waits until the new worker answers. TCP
 * port allocations of components not in t are released. Must not run
 * while applies are in flight.
 */
int gateway_load(struct gateway *g, const struct gateway_target *t, size_t n,
    struct error *err);
/*
 * Makes one component+environment route exactly as t says, diffing against
 * the model: runtime API for server changes, a reload only when backends or
 * listeners change; t->nendpoints == 0 removes its routes. A server that
 * disappears is put in maintenance, given GATEWAY_REMOVE_GRACE_MS to finish
 * its requests, then its sessions are shut and it is deleted: drain it
 * (GATEWAY_DRAIN) in an earlier apply and wait first. Thread-safe (applies
 * are serialised inside). On failure the model and HAProxy stay as they were
 * as far as possible, and err says what failed (code "gateway_failed").
 */
int gateway_apply(struct gateway *g, const struct gateway_target *t,
    struct error *err);
/*
 * The address of endpoint i of t ("http://127.0.0.1:9080/acme/shop/hello/greeting",
 * "tcp://127.0.0.1:9300"); -1 when the environment has no listener, for UDP,
 * for a target gateway_apply would refuse, or when no TCP port can be
 * allocated (the reason is logged; gateway_apply reports it in err).
 * Allocates and persists the TCP port if needed; needs no HAProxy.
 */
int gateway_url(struct gateway *g, const struct gateway_target *t, int i,
    char *url, size_t len);

/*
 * ---------------------------------------------------------------------------
 * Internals: the pure parts (configuration, names, rendering, the plan),
 * shared by the gateway_*.c files and tests/unit/test_gateway.c.
 * ---------------------------------------------------------------------------
 */

#define GATEWAY_ERR             "gateway_failed"   /* err->code of every run-time failure */
#define GATEWAY_ENVS_MAX        16
#define GATEWAY_TARGETS_MAX     4096
#define GATEWAY_NAME_MAX        128  /* proxy names the gateway makes */
#define GATEWAY_HOST_MAX        16   /* dotted IPv4 */
#define GATEWAY_DEPTH_MAX       8    /* path segments in a context */
#define GATEWAY_TCP_RANGE_MAX   10000
#define GATEWAY_REMOVE_GRACE_MS 2000 /* in-flight requests of a removed server */

/* gateway.c */
/* Replaces path with data: temporary file, fsync, rename, fsync of the dir. */
int gateway_write_file(const char *path, const void *data, size_t len,
    struct error *err);

/* gateway_cfg.c: configuration, names and the checks of a target */
struct gateway_addr {
	char host[GATEWAY_HOST_MAX];
	int port;
};
struct gateway_env {
	char name[64];
	struct gateway_addr pub, internal;
};
/* What the listener and range strings say. */
struct gateway_layout {
	struct gateway_env env[GATEWAY_ENVS_MAX];
	int nenv;
	int tcp_lo, tcp_hi;
};
enum gateway_mode { GATEWAY_MODE_NONE, GATEWAY_MODE_HTTP, GATEWAY_MODE_TCP };

/* The model: sorted by environment then component id, no empty target. */
struct gateway_model {
	struct gateway_target *t;
	size_t n;
};

/* A growing text; a failed allocation sticks, so callers check once. */
struct gateway_text {
	char *s;
	size_t len, cap;
	int failed;
};

struct gateway_ports;

/* What rendering needs besides the model. */
struct gateway_render {
	const struct gateway_layout *layout;
	const char *dir;
	const char *runtime_socket;
	const struct gateway_ports *ports;
};

/* Parses "env=pub,int;..." into l->env; -1 with err when malformed. */
int gateway_cfg_listeners(const char *s, struct gateway_layout *l,
    struct error *err);
/* Parses "lo-hi" into l->tcp_*, refusing overlap with the listener ports. */
int gateway_cfg_range(const char *s, struct gateway_layout *l,
    struct error *err);
const struct gateway_env *gateway_cfg_env(const struct gateway_layout *l,
    const char *name);
/* HTTP, TCP, NONE (UDP: not routed); -1 for an unknown type. */
int gateway_cfg_mode(const char *type);
/* 1 when the endpoint is on the public listener too. */
int gateway_cfg_public(const struct gateway_endpoint *e);
/*
 * "be-<component>-<environment>-<endpoint>-<hash>": sanitised, at most
 * GATEWAY_NAME_MAX - 1 bytes; the hash of the raw three makes two different
 * triples with the same sanitised text different. prefix is "be" or "ft".
 */
void gateway_cfg_name(const char *prefix, const char *component_id,
    const char *environment, const char *endpoint, char *buf, size_t len);
/* Checks one target against the layout; -1 with err (code gateway_failed). */
int gateway_cfg_check(const struct gateway_layout *l,
    const struct gateway_target *t, struct error *err);
/* The canonical context of an HTTP endpoint: "/" or "/a/b", no trailing '/'. */
void gateway_cfg_trim_context(char *context);
/* Canonical form: sorted endpoints and servers, trimmed contexts. */
void gateway_cfg_normalize(struct gateway_target *t);
/* gateway_render.c: haproxy.cfg and the route maps, from a model */
/* Checks what no single target can: unique proxy names and routes. */
int gateway_render_check(const struct gateway_render *r,
    const struct gateway_model *m, struct error *err);
/* "<env>.public.map" or "<env>.internal.map". */
void gateway_render_map_name(const char *environment, int internal,
    char *buf, size_t len);
/*
 * haproxy.cfg for the model; servers = 0 leaves the server lines out, which
 * gives the part whose change needs a reload. -1 with err when a TCP
 * endpoint has no allocated port or memory is short.
 */
int gateway_render_config(const struct gateway_render *r,
    const struct gateway_model *m, int servers, struct gateway_text *out,
    struct error *err);
/* One listener's route map: "/org/project/component[/context] backend". */
int gateway_render_map(const struct gateway_model *m,
    const char *environment, int internal, struct gateway_text *out,
    struct error *err);
/* The config without servers followed by every map: equal = no reload. */
int gateway_render_structure(const struct gateway_render *r,
    const struct gateway_model *m, struct gateway_text *out,
    struct error *err);
void gateway_render_printf(struct gateway_text *t, const char *fmt, ...)
    LOG_PRINTF(2, 3);
void gateway_render_free(struct gateway_text *t);

/* gateway_model.c: the set of routed targets */
const struct gateway_target *gateway_model_find(const struct gateway_model *m,
    const char *component_id, const char *environment);
/* dst = src with t (normalised) in place of its key, or without it. */
int gateway_model_with(struct gateway_model *dst,
    const struct gateway_model *src, const struct gateway_target *t,
    struct error *err);
/* dst = the n targets, normalised and sorted; -1 on a duplicate key. */
int gateway_model_from(struct gateway_model *dst,
    const struct gateway_target *t, size_t n, struct error *err);
void gateway_model_free(struct gateway_model *m);

/* gateway_ports.c: TCP listener ports, stable and persisted */
struct gateway_port {
	int port;
	char component_id[64];
	char environment[64];
	char endpoint[64];
};
struct gateway_ports {
	struct gateway_port *v;
	size_t n;
	int lo, hi;
	/* 1 when host:port can be bound; NULL = do not probe (tests). */
	int (*probe)(const char *host, int port);
};
/* Reads the allocations in path (absent = none), dropping out-of-range ones. */
int gateway_ports_load(struct gateway_ports *p, const char *path,
    struct error *err);
/* Writes them to path atomically (temp file, fsync, rename). */
int gateway_ports_save(const struct gateway_ports *p, const char *path,
    struct error *err);
/* The port of an endpoint, 0 when none is allocated. */
int gateway_ports_find(const struct gateway_ports *p,
    const char *component_id, const char *environment, const char *endpoint);
/* The allocated port, or the lowest free one of the range; -1 when full. */
int gateway_ports_assign(struct gateway_ports *p, const char *component_id,
    const char *environment, const char *endpoint, const char *host,
    struct error *err);
/* Drops t's component+environment allocations that t has no TCP endpoint for. */
void gateway_ports_release(struct gateway_ports *p,
    const struct gateway_target *t);
/* Drops every allocation that is not a TCP endpoint of m. */
void gateway_ports_retain(struct gateway_ports *p,
    const struct gateway_model *m);
int gateway_ports_copy(struct gateway_ports *dst,
    const struct gateway_ports *src);
void gateway_ports_free(struct gateway_ports *p);
/* Whether host:port can be bound now (the probe the gateway uses). */
int gateway_ports_bindable(const char *host, int port);

/* gateway_plan.c: what turns the running model into the next one */
enum gateway_op_kind {
	GATEWAY_OP_ADD, GATEWAY_OP_READY, GATEWAY_OP_DRAIN, GATEWAY_OP_DELETE
};
struct gateway_op {
	enum gateway_op_kind kind;
	char backend[GATEWAY_NAME_MAX];
	char server[64];
	int port;
	enum gateway_server_state state;   /* for ADD */
};
#define GATEWAY_OPS_MAX (GATEWAY_ENDPOINTS_MAX * GATEWAY_SERVERS_MAX * 2)
struct gateway_plan {
	int reload;                 /* backends or listeners change */
	struct gateway_op op[GATEWAY_OPS_MAX];
	size_t nop;                 /* runtime ops when !reload, in order */
};
/* One runtime API command and the answer that means it worked. */
struct gateway_cmd {
	char text[GATEWAY_NAME_MAX + 192];
	const char *expect;         /* "" = an empty answer */
};
#define GATEWAY_CMDS_MAX 3
/*
 * Compares the structures (gateway_render_structure) of the running and the
 * next model, and, when they are equal, lists the server changes from old
 * to next (old NULL = not routed before): additions first, then state
 * changes, deletions last, so capacity never dips.
 */
void gateway_plan_make(const char *old_structure, const char *next_structure,
    const struct gateway_target *old, const struct gateway_target *next,
    struct gateway_plan *p);
/* The commands of one op; returns their number. */
int gateway_plan_commands(const struct gateway_op *op,
    struct gateway_cmd cmd[GATEWAY_CMDS_MAX]);
/* The server line arguments, shared by haproxy.cfg and "add server". */
#define GATEWAY_SERVER_ARGS "check inter 2s fall 3 rise 2"

/* gateway_rt.c: the runtime API and master CLI client (unix sockets) */
#define GATEWAY_RT_ANSWER_MAX  (1024 * 1024)
#define GATEWAY_RT_TIMEOUT_MS  5000
#define GATEWAY_RELOAD_TIMEOUT_MS 15000
/* What "show proc" on the master CLI says. */
struct gateway_proc {
	int master_reloads;
	int master_failed;      /* failed reloads since the last good one */
	int worker_pid;         /* the current worker (fewest reloads), or 0 */
	int worker_reloads;
};
/*
 * Sends one command (non-interactive: HAProxy answers and closes) and
 * returns the whole answer in *answer (malloc'd, NUL-terminated, at most
 * GATEWAY_RT_ANSWER_MAX bytes; caller frees). Connect, write and read share
 * one deadline of timeout_ms.
 */
int gateway_rt_call(const char *socket_path, const char *cmd, int timeout_ms,
    char **answer, struct error *err);
/* Runs one command and checks its answer against cmd->expect. */
int gateway_rt_command(const char *socket_path, const struct gateway_cmd *cmd,
    struct error *err);
/* Runs the commands of op; a DELETE waits for the server's sessions. */
int gateway_rt_op(const char *socket_path, const struct gateway_op *op,
    struct error *err);
int gateway_rt_parse_proc(const char *answer, struct gateway_proc *out);
/* The "Pid:" of a "show info" answer, or -1. */
int gateway_rt_parse_pid(const char *answer);
/*
 * Reloads through the master CLI and waits (bounded) until a new worker
 * runs and answers on the runtime socket; -1 when HAProxy kept the old one
 * (a refused configuration: the old worker goes on serving).
 */
int gateway_rt_reload(const char *master_socket, const char *runtime_socket,
    struct error *err);

#endif
