/*
 * agent.h: the data-plane agent's private interfaces (one header per service).
 *
 * The agent reads its data plane's commands and sealed registry credentials
 * from Kafka, resolves image tags to digests through the OCI distribution
 * API, runs the pinned image through a Docker Engine API socket, health-checks
 * it and reports every step on slipway.dataplane.status.
 */
#ifndef SLIPWAY_AGENT_H
#define SLIPWAY_AGENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "crypto.h"
#include "imageref.h"
#include "bus.h"
#include "envelope.h"

/* Caps on what the agent accepts from the bus and the network. */
#define AGENT_ID_MAX        64      /* ids and names (63 characters at most) */
#define AGENT_USER_MAX      512
#define AGENT_PASSWORD_MAX  16384   /* GAR passwords are service-account JSON */
#define AGENT_REASON_MAX    256
#define AGENT_DIGEST_MAX    136
#define AGENT_ENV_MAX       64      /* environment variables per container */
#define AGENT_ENDPOINTS_MAX 16
#define AGENT_NAME_MAX      300     /* container names */
#define AGENT_URL_MAX       512
#define AGENT_LOG_TAIL_MAX  4096    /* evidence: last 20 lines, capped */
#define AGENT_LOG_TAIL_LINES 20
#define AGENT_PROBE_MS      100     /* default probe period */

/* agent_keys.c */
struct agent_keys {
	unsigned char pk[CRYPTO_PK_LEN];
	unsigned char sk[CRYPTO_SK_LEN];
};
/* Writes a fresh keypair file (mode 0600) and prints the public key. */
int agent_keys_generate(const char *path, int force, struct error *err);
int agent_keys_load(const char *path, struct agent_keys *k, struct error *err);
void agent_keys_wipe(struct agent_keys *k);

/* agent_creds.c */
/* One registry's credentials as the agent holds them in memory. */
struct agent_cred {
	char registry_id[AGENT_ID_MAX];
	char host[256];
	int auth_type;                 /* Slipway__V1__AuthType */
	char username[AGENT_USER_MAX];
	char password[AGENT_PASSWORD_MAX];
};
struct agent_creds;
struct agent_creds *agent_creds_new(const struct agent_keys *keys);
void agent_creds_free(struct agent_creds *c);
/* Bus handler for slipway.dataplane.<dp>.credentials (arg = agent_creds). */
enum bus_result agent_creds_handle(const struct bus_message *m, void *arg,
    struct error *reason);
/* Copies the entry into out (caller wipes it); 0 found, -1 unknown. */
int agent_creds_lookup(struct agent_creds *c, const char *registry_id,
    struct agent_cred *out);
void agent_cred_wipe(struct agent_cred *cr);

/*
 * oci_resolve.c: OCI distribution client (libcurl). The WWW-Authenticate
 * parser, the realm rule and the address policy it applies are the shared
 * registry-auth contract in services/lib/regauth.h.
 */
struct regauth_policy;
struct oci_resolve_opts {
	const char *insecure;     /* comma list of host:port reached over http */
	const char *username;     /* NULL or "" = anonymous */
	const char *password;
	int timeout_s;            /* per request; 0 = 20 */
	/* SLIPWAY_ALLOW_PRIVATE_TARGETS: every registry and realm connection */
	const struct regauth_policy *targets;
};
/*
 * Resolves ref (tag or digest) to the manifest digest the registry serves.
 * On failure err->code is unauthorized | manifest_unknown |
 * registry_unreachable and err->msg the full "<code>: ..." reason.
 */
int oci_resolve(const struct image_ref *ref, const struct oci_resolve_opts *o,
    char digest[AGENT_DIGEST_MAX], struct error *err);

/* engine.c: Docker Engine API over a unix socket (libcurl) */
struct engine;
/* A published port: container port (tcp or udp) -> 127.0.0.1:host_port. */
struct engine_port {
	int container_port;
	int udp;
	int host_port;            /* 0 in a create request: any free port */
};
/* What to create. Pointers are borrowed for the call. */
struct engine_container {
	const char *name;
	const char *image;        /* host/path@digest */
	const char *const *env;   /* "K=V", NULL-terminated */
	const char *const *labels;/* key, value, key, value, ..., NULL */
	const char *network;      /* "slirp4netns" (podman) or a bridge network */
	const struct engine_port *ports;
	size_t nports;
	long long memory_bytes;   /* 0 = unlimited */
	long long nano_cpus;
	long long pids;
	int read_only_rootfs;
};
/* What the engine says about one container. */
struct engine_state {
	int exists;
	int running;
	int exit_code;
	int oom_killed;
	struct engine_port ports[AGENT_ENDPOINTS_MAX];
	size_t nports;
};
/* One Slipway-labelled container, from engine_list. */
struct engine_summary {
	char name[AGENT_NAME_MAX];
	char component[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	char deployment[AGENT_ID_MAX];
	int running;
	long long created;
};
struct engine *engine_new(const char *socket_path);
void engine_free(struct engine *e);
int engine_ping(struct engine *e);
/* Makes every call in progress, and every later one, fail at once (stop). */
void engine_abort(struct engine *e);
/* Pulls image (host/path@digest); err code pull_failed. */
int engine_pull(struct engine *e, const char *image, const char *username,
    const char *password, const char *server, struct error *err);
/* 1 when the engine has image (host/path@digest) already. */
int engine_image_present(struct engine *e, const char *image);
/* Force-removes a container; absent is success. */
int engine_remove(struct engine *e, const char *name, struct error *err);
/* Stops (SIGTERM, SIGKILL after timeout_s); 0 when stopped or absent. */
int engine_stop(struct engine *e, const char *name, int timeout_s);
/* Stops, then removes; absent is success. */
int engine_retire(struct engine *e, const char *name, int timeout_s,
    struct error *err);
int engine_create(struct engine *e, const struct engine_container *c,
    struct error *err);
int engine_start(struct engine *e, const char *name, struct error *err);
/* Fills st (st->exists = 0 for no such container); -1 on API failure. */
int engine_inspect(struct engine *e, const char *name, struct engine_state *st,
    struct error *err);
/* The last `lines` lines of stdout+stderr, NUL-terminated, capped at len. */
int engine_logs_tail(struct engine *e, const char *name, int lines, char *out,
    size_t len, struct error *err);
/* Every container labelled slipway.managed=true; free *out. */
int engine_list(struct engine *e, struct engine_summary **out, size_t *n,
    struct error *err);
/* The value of label key of container name (malloc'd), or NULL. */
char *engine_label(struct engine *e, const char *name, const char *key,
    struct error *err);

/* agent_spec.c: what one ApplyDeployment asks for, validated and owned */
struct agent_endpoint {
	char name[64];
	int port;                 /* container port */
	char type[16];            /* REST GraphQL GRPC TCP UDP WS */
	char visibility[16];      /* Public Organization Project */
	char context[256];
};
struct agent_health_spec {
	char path[257];           /* "" = the endpoint's context */
	int port;                 /* 0 = the first endpoint's */
	int timeout_s;            /* 0 = the agent's default */
	int period_s;             /* 0 = probe every AGENT_PROBE_MS */
	int success_threshold;    /* 0 = 1 */
};
struct agent_resources {
	int memory_mb;            /* 0 = the agent's default */
	int cpu_millicores;
	int pids;
	int read_only_rootfs;
};
struct agent_spec {
	char deployment_id[AGENT_ID_MAX];
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	char org[AGENT_ID_MAX];
	char project[AGENT_ID_MAX];
	char component[AGENT_ID_MAX];   /* the component's name (URL path) */
	char type[32];                  /* service, web-app, ... */
	char image[IMAGE_REF_MAX + 1];
	char pinned_digest[AGENT_DIGEST_MAX];  /* "" when not pinned */
	char registry_id[AGENT_ID_MAX];
	char trace_id[AGENT_ID_MAX];
	struct agent_endpoint ep[AGENT_ENDPOINTS_MAX];
	int nep;
	struct agent_health_spec health;
	struct agent_resources res;
	char **env;                     /* "K=V", NULL-terminated, owned */
};
/* Validates env's ApplyDeployment into s; err code invalid_command. */
int agent_spec_from_apply(const Envelope *env, struct agent_spec *s,
    struct error *err);
void agent_spec_clear(struct agent_spec *s);
/* "slipway-<component>-<environment>-<deployment>"; -1 when unsafe. */
int agent_spec_container_name(const struct agent_spec *s, char *buf,
    size_t len);
/* 1 when endpoint i is reached over HTTP (REST, GraphQL, WS). */
int agent_spec_http(const struct agent_endpoint *e);
/* 1 when s is a component/environment-safe name part. */
int agent_spec_name_valid(const char *s);

/* agent_health.c: is a new container serving? */
struct agent_probe {
	int host_port;            /* published port on 127.0.0.1 */
	int http;                 /* GET path must answer a status below 500 */
	const char *path;
	int timeout_s, period_ms, threshold;
	int stable_ms;            /* with no port: must keep running this long */
};
/* Evidence of a failed or crashed container. */
struct agent_evidence {
	int exited;
	int exit_code;
	char log_tail[AGENT_LOG_TAIL_MAX];
	char probe[AGENT_REASON_MAX];
};
/*
 * Probes until healthy, the container exits, the timeout passes or
 * *stopping is set; err code unhealthy (reason) and ev->probe filled.
 */
int agent_health_wait(struct engine *e, const char *container,
    const struct agent_probe *p, const atomic_int *stopping,
    struct agent_evidence *ev, struct error *err);
/* One probe; 1 healthy. what says what it saw ("HTTP 200", "refused"). */
int agent_health_probe(const struct agent_probe *p, char *what, size_t len);
/* Fills ev with the container's exit code and log tail. */
void agent_health_evidence(struct engine *e, const char *container,
    struct agent_evidence *ev);

/* agent_apply.c: the apply state machine */
enum agent_apply_state {
	APPLY_RESOLVING, APPLY_PULLING, APPLY_STARTING, APPLY_RUNNING,
	APPLY_FAILED
};
struct agent_apply {
	const struct agent_spec *spec;   /* borrowed */
	const struct agent_cred *cred;   /* NULL = anonymous */
	/* progress */
	enum agent_apply_state state;
	struct image_ref ref;
	char digest[AGENT_DIGEST_MAX];
	char container[AGENT_NAME_MAX];
	struct engine_port ports[AGENT_ENDPOINTS_MAX];
	size_t nports;
	char reason[AGENT_REASON_MAX];
	struct agent_evidence ev;
};
/* The steps, so the machine can be driven by fakes in tests. */
struct agent_apply_ops {
	int (*resolve)(void *ctx, struct agent_apply *a, struct error *err);
	int (*pull)(void *ctx, struct agent_apply *a, struct error *err);
	int (*start)(void *ctx, struct agent_apply *a, struct error *err);
	int (*health)(void *ctx, struct agent_apply *a, struct error *err);
	/* Moves the gateway to the new version: the commit point. */
	int (*route)(void *ctx, struct agent_apply *a, struct error *err);
	/* After running was reported: drains and removes the old version. */
	void (*retire)(void *ctx, struct agent_apply *a);
	/* After a failure: removes what the apply started. */
	void (*discard)(void *ctx, struct agent_apply *a);
	/* Reports a->state; 0 once the broker acknowledged it. */
	int (*report)(void *ctx, const struct agent_apply *a);
	void *ctx;
};
const char *agent_apply_state_name(enum agent_apply_state s);
/* Moves to next when legal; -1 (state unchanged) when not. */
int agent_apply_transition(struct agent_apply *a, enum agent_apply_state next);
/*
 * Runs the machine to running or failed, reporting every state. Returns 0
 * when the final state was reported, -1 when a report could not be
 * delivered (the caller retries the whole, idempotent, apply).
 */
int agent_apply_run(struct agent_apply *a, const struct agent_apply_ops *ops);

/* agent_report.c: DeploymentStatus from any thread */
enum agent_report_state {
	REPORT_RESOLVING, REPORT_PULLING, REPORT_STARTING, REPORT_RUNNING,
	REPORT_FAILED, REPORT_CRASHED
};
struct agent_address {
	char name[64];
	char type[16];
	char visibility[16];
	char url[AGENT_URL_MAX];
};
struct agent_report {
	const struct agent_spec *spec;
	enum agent_report_state state;
	const char *digest;
	const char *reason;
	const struct agent_evidence *ev;      /* NULL = none */
	const struct agent_address *addr;
	size_t naddr;
};
struct agent_ctx;
/* Produces and waits for the broker's ack (bounded); 0 when acknowledged. */
int agent_report_send(struct agent_ctx *ag, const struct agent_report *r);

/* agent_journal.c: what the agent promised, on disk */
struct agent_journal;
struct agent_journal *agent_journal_open(const char *dir, struct error *err);
void agent_journal_free(struct agent_journal *j);
/* Writes an accepted command durably; name (for _done) into name. */
int agent_journal_add(struct agent_journal *j, const void *buf, size_t len,
    const char *deployment_id, char *name, size_t namelen, struct error *err);
int agent_journal_done(struct agent_journal *j, const char *name);
typedef void (*agent_journal_fn)(void *arg, const char *name, const void *buf,
    size_t len);
/* Calls fn for every pending command, oldest first. */
int agent_journal_replay(struct agent_journal *j, agent_journal_fn fn,
    void *arg);
/* The record of one component/environment: who serves, what finished. */
#define AGENT_FINISHED_MAX 32
struct agent_record {
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	char serving[AGENT_ID_MAX];   /* deployment id, "" none */
	char digest[AGENT_DIGEST_MAX];/* what it runs */
	struct {
		char id[AGENT_ID_MAX];
		int state;                /* enum agent_report_state */
		char reason[AGENT_REASON_MAX];
	} finished[AGENT_FINISHED_MAX];
	int nfinished;
};
/* Saves rec and, when cmd != NULL, the serving deployment's command. */
int agent_journal_record_save(struct agent_journal *j,
    const struct agent_record *rec, const void *cmd, size_t cmdlen,
    struct error *err);
int agent_journal_record_remove(struct agent_journal *j,
    const char *component_id, const char *environment);
typedef void (*agent_record_fn)(void *arg, const struct agent_record *rec,
    const void *cmd, size_t cmdlen);
int agent_journal_records(struct agent_journal *j, agent_record_fn fn,
    void *arg);

/* agent_slots.c: per component and environment, one job at a time */
enum agent_job_kind { JOB_APPLY, JOB_REMOVE, JOB_RESTART };
struct agent_job;
/*
 * One component in one environment. The serving fields are written only by
 * the worker that holds the slot (busy) and read by others only under the
 * slots lock while it is idle, so they need no lock of their own.
 */
struct agent_slot {
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	struct agent_record rec;        /* as journaled */
	void *serving_cmd;              /* the serving deployment's command */
	size_t serving_len;
	struct agent_spec serving;      /* decoded; valid when rec.serving[0] */
	char container[AGENT_NAME_MAX]; /* the serving container */
	struct engine_port ports[AGENT_ENDPOINTS_MAX];
	size_t nports;
	int crashed;                    /* reported crashed, not yet running again */
	int crash_exit_code;
	int restarts;                   /* attempts since it was last stable */
	long long next_restart_ms;      /* the watcher's backoff */
	long long recovered_ms;         /* when a restart last made it healthy */
	/* scheduling, under the slots lock */
	int busy;
	unsigned generation;            /* bumped after every job */
	char running_dep[AGENT_ID_MAX];
	struct agent_job *head, *tail;
	struct agent_slot *next;
};
struct agent_slots;
struct agent_slots *agent_slots_new(struct agent_ctx *ag);
/* Starts ag->workers worker threads and the watcher. */
int agent_slots_start(struct agent_slots *s, struct error *err);
/* Stops the threads within timeout_ms, serving delivery callbacks meanwhile. */
void agent_slots_stop(struct agent_slots *s, int timeout_ms);
/* 1 when another job waits for slot (it is held by the caller). */
int agent_slots_waiting(struct agent_slots *s, const struct agent_slot *slot);
/* 1 once the gateway was loaded and the workers take jobs. */
int agent_slots_ready(struct agent_slots *s);
/* 1 when a thread did not stop in time (nothing may be freed under it). */
int agent_slots_busy(const struct agent_slots *s);
void agent_slots_free(struct agent_slots *s);
/*
 * Queues a command (an undecoded envelope copy and its journal name);
 * returns 0, or 1 when that deployment is already queued or running.
 */
int agent_slots_submit(struct agent_slots *s, enum agent_job_kind kind,
    const char *component_id, const char *environment,
    const char *deployment_id, const void *cmd, size_t len,
    const char *journal_name);
/* The slot of component/environment, created when absent (NULL: no memory). */
struct agent_slot *agent_slots_get(struct agent_slots *s,
    const char *component_id, const char *environment);
/* Calls fn on every slot, under the lock, before the workers start. */
void agent_slots_each(struct agent_slots *s,
    void (*fn)(void *arg, struct agent_slot *slot), void *arg);

/* agent_cutover.c: the real steps behind the machine and the jobs */
/*
 * Runs one job on its slot (the caller holds the slot, not the lock);
 * returns 0 when done, -1 when it must stay journaled (the agent stops).
 */
int agent_cutover_job(struct agent_ctx *ag, struct agent_slot *slot,
    enum agent_job_kind kind, const void *cmd, size_t len);
/* Rebuilds a slot's serving spec from its command; -1 when unusable. */
int agent_cutover_load_serving(struct agent_slot *slot);
struct gateway_target;
/* The gateway target routing spec s's version published on ports. */
void agent_cutover_target(const struct agent_spec *s,
    const struct engine_port *ports, size_t nports, struct gateway_target *t);

/* agent_reconcile.c: the agent's start */
/*
 * Restores the slots from the records, removes containers no record says
 * should run (leftovers of interrupted cutovers), rebuilds the gateway and
 * queues the journaled commands again.
 */
int agent_reconcile(struct agent_ctx *ag, struct error *err);
/* Loads the gateway with every serving slot; run before any apply. */
int agent_reconcile_gateway(struct agent_ctx *ag, struct error *err);

/* agent_commands.c */
struct gateway;
struct agent_ctx {
	const char *dataplane;
	const char *insecure;
	const char *network;
	int health_timeout_s;
	int drain_s;
	int workers;
	struct agent_resources defaults;
	struct engine *engine;
	struct gateway *gateway;      /* NULL: endpoints on their published ports */
	struct agent_creds *creds;
	struct bus_producer *producer;
	struct agent_journal *journal;
	struct agent_slots *slots;
	const struct regauth_policy *targets;   /* SLIPWAY_ALLOW_PRIVATE_TARGETS */
	atomic_int stopping;
};
/*
 * Queues a decoded command (buf: its bytes, journaled as name); 0 queued or
 * already there, -1 when it is not a command this agent can carry out.
 */
int agent_commands_queue(struct agent_ctx *ag, const Envelope *env,
    const void *buf, size_t len, const char *name);
/* Bus handler for slipway.dataplane.<dp>.commands (arg = agent_ctx). */
enum bus_result agent_commands_handle(const struct bus_message *m, void *arg,
    struct error *reason);

#endif
