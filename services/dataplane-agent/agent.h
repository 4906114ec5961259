/*
 * agent.h: the data-plane agent's private interfaces (one header per service).
 *
 * The agent reads its data plane's commands and sealed registry credentials
 * from Kafka, resolves image tags to digests through the OCI distribution
 * API, runs the pinned image through a Docker Engine API socket, health-checks
 * it and reports every step on slipway.dataplane.status. A task's deploy
 * only pins its image (ready); its executions run as containers of their
 * own (agent_execs.c), manual ones on RunTask, scheduled ones from the
 * agent's scheduler (agent_sched.c) on the agent's clock (agent_clock.c).
 */
#ifndef SLIPWAY_AGENT_H
#define SLIPWAY_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "error.h"
#include "crypto.h"
#include "imageref.h"
#include "bus.h"
#include "envelope.h"
#include "workload.h"

/* Caps on what the agent accepts from the bus and the network. */
#define AGENT_ID_MAX        64      /* ids and names (63 characters at most) */
#define AGENT_USER_MAX      512
#define AGENT_PASSWORD_MAX  16384   /* GAR passwords are service-account JSON */
#define AGENT_REASON_MAX    256
#define AGENT_DIGEST_MAX    136
/* Environment variables per container: the configuration's 200, a run's 64. */
#define AGENT_ENV_MAX       280
#define AGENT_ENDPOINTS_MAX 16
#define AGENT_NAME_MAX      300     /* container names */
#define AGENT_URL_MAX       512
#define AGENT_LOG_TAIL_MAX  4096    /* evidence: last 20 lines, capped */
#define AGENT_LOG_TAIL_LINES 20
#define AGENT_PROBE_MS      100     /* default probe period */
#define AGENT_EXEC_LOG_MAX  8192    /* an execution's log tail: 50 lines, capped */
#define AGENT_EXEC_LOG_LINES 50
#define AGENT_ARGS_MAX      64      /* arguments of one execution */

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
	const char *const *cmd;   /* NULL-terminated; NULL = the image's */
};
/* What the engine says about one container. */
struct engine_state {
	int exists;
	int running;
	int created;              /* created and never started */
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
	char execution[AGENT_ID_MAX];   /* "" for a deployment's container */
	char dataplane[AGENT_ID_MAX];   /* "" from agents before the label */
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
	/*
	 * The names among env that are configuration variables, not secrets
	 * (NULL-terminated, owned; NULL: every one is a secret, as from a
	 * deploy-svc that does not say). Kept with the journaled command,
	 * whose sealed configuration carries them.
	 */
	char **config_names;
	struct workload_task task;      /* task.set for the two task types */
	unsigned config_version;        /* the configuration it runs */
	/*
	 * Why the sealed configuration did not open ("" when it did, or there
	 * was none): the deployment then fails with it, before any pull.
	 */
	char env_error[160];
};
/* The keys sealed configurations are opened with (set once at start-up). */
void agent_spec_keys(const struct agent_keys *k);
/*
 * An environment vector sealed to this data plane's own key, as base64, for
 * records on disk (an execution's variables include opened secrets): NULL
 * on failure, "" for no variables. agent_spec_env_unseal reverses it.
 */
char *agent_spec_env_seal(char *const *env);
int agent_spec_env_unseal(const char *b64, char ***out);
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
/* 1 for scheduled-task and manual-task: pulled and pinned, never started. */
int agent_spec_is_task(const struct agent_spec *s);
/* Validates an EnvVar list into "K=V" strings (*out NULL-terminated, owned). */
int agent_spec_env_list(Slipway__V1__EnvVar *const *in, size_t n,
    char ***out);
/* 1 when entry kv ("K=V") of s->env is a secret (not a listed variable). */
int agent_spec_env_secret(const struct agent_spec *s, const char *kv);
/* How many entries of s->env are secrets (secrets = 1) or variables (0). */
size_t agent_spec_env_count(const struct agent_spec *s, int secrets);
/* Validates Resources into out (NULL: none). */
int agent_spec_resources(const Slipway__V1__Resources *r,
    struct agent_resources *out);
void agent_spec_strv_free(char **v);

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
	APPLY_FAILED, APPLY_READY
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
	/* A task's commit point: its pinned digest is what the slot runs. */
	int (*pin)(void *ctx, struct agent_apply *a, struct error *err);
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
 * Runs the machine to running (ready for a task) or failed, reporting every
 * state. Returns 0
 * when the final state was reported, -1 when a report could not be
 * delivered (the caller retries the whole, idempotent, apply).
 */
int agent_apply_run(struct agent_apply *a, const struct agent_apply_ops *ops);

/* agent_report.c: DeploymentStatus from any thread */
enum agent_report_state {
	REPORT_RESOLVING, REPORT_PULLING, REPORT_STARTING, REPORT_RUNNING,
	REPORT_FAILED, REPORT_CRASHED, REPORT_READY
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
/* What a state of the apply machine reports (every runtime alike). */
enum agent_report_state agent_report_state_of(enum agent_apply_state s);
struct agent_exec;
/* One ExecutionStatus; a final state waits for the ack (0 acknowledged). */
int agent_report_execution(struct agent_ctx *ag, const struct agent_exec *x);

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
	/* A task's settings changed by SetSchedule after its deploy. */
	int task_set;
	struct workload_task task;
};
/* Puts dep on top of rec's finished list (newest first, capped). */
void agent_record_finish(struct agent_record *rec, const char *dep, int state,
    const char *reason);
/* Saves rec and, when cmd != NULL, the serving deployment's command. */
int agent_journal_record_save(struct agent_journal *j,
    const struct agent_record *rec, const void *cmd, size_t cmdlen,
    struct error *err);
/* The serving command saved with a record (malloc'd), or NULL. */
void *agent_journal_record_command(struct agent_journal *j,
    const char *component_id, const char *environment, size_t *len);
int agent_journal_record_remove(struct agent_journal *j,
    const char *component_id, const char *environment);
typedef void (*agent_record_fn)(void *arg, const struct agent_record *rec,
    const void *cmd, size_t cmdlen);
int agent_journal_records(struct agent_journal *j, agent_record_fn fn,
    void *arg);
/*
 * Small durable files of other modules, in subdirectory sub (created at
 * open: "executions", "schedules"): written atomically and fsync'd.
 */
int agent_journal_put(struct agent_journal *j, const char *sub,
    const char *name, const void *buf, size_t len);
/* The file's bytes, NUL-terminated (malloc'd), or NULL. */
void *agent_journal_get(struct agent_journal *j, const char *sub,
    const char *name, size_t *len);
int agent_journal_exists(struct agent_journal *j, const char *sub,
    const char *name);
int agent_journal_unlink(struct agent_journal *j, const char *sub,
    const char *name);
/* The names (without .json) in sub; free each and *out. */
size_t agent_journal_names(struct agent_journal *j, const char *sub,
    char ***out);
/*
 * Takes the state directory's lock (flock on <dir>/agent.lock), waiting up
 * to wait_s for an agent that is still stopping; -1 when another holds it.
 */
int agent_journal_lock(struct agent_journal *j, int wait_s,
    struct error *err);

/* agent_slots.c: per component and environment, one job at a time */
enum agent_job_kind { JOB_APPLY, JOB_REMOVE, JOB_RESTART, JOB_SCHEDULE };
struct agent_job;
struct agent_slot;
/* An idle serving slot, as the watcher saw it before looking (agent_slots.c). */
struct agent_watch_item {
	struct agent_slot *slot;
	unsigned generation;
	char container[AGENT_NAME_MAX];   /* the engine's; kube: the Deployment */
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	char deployment_id[AGENT_ID_MAX];
	int crashed;
	int act;                          /* the runtime's answer: restart job */
};
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
/*
 * Joins t before the monotonic deadline, serving the producer's delivery
 * callbacks meanwhile; 0 joined, -1 (detached) when it did not stop.
 */
int agent_slots_join(struct agent_ctx *ag, pthread_t t, long long deadline);

/* agent_cutover.c: the real steps behind the machine and the jobs */
/*
 * Runs one job on its slot (the caller holds the slot, not the lock);
 * returns 0 when done, -1 when it must stay journaled (the agent stops).
 */
int agent_cutover_job(struct agent_ctx *ag, struct agent_slot *slot,
    enum agent_job_kind kind, const void *cmd, size_t len);
/* Rebuilds a slot's serving spec from its command; -1 when unusable. */
int agent_cutover_load_serving(struct agent_slot *slot);
/*
 * The credentials to pull an image of domain from registry_id with (waits
 * a while for ones not delivered yet); 0 with *out filled, -1 anonymous.
 */
int agent_cutover_cred(struct agent_ctx *ag, const char *registry_id,
    const char *domain, struct agent_cred *out);
/* Limits r, or the agent's defaults where r sets none, into ec. */
void agent_cutover_limits(const struct agent_ctx *ag,
    const struct agent_resources *r, struct engine_container *ec);
/* The settings a slot's ready task runs with (SetSchedule's, or its own). */
const struct workload_task *agent_cutover_task(const struct agent_slot *sl);
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
/* The engine runtime's adopt: keeps serving containers, removes the rest. */
int agent_reconcile_engine(struct agent_ctx *ag, struct error *err);

/* agent_clock.c: the one clock of executions and the scheduler */
#define AGENT_CLOCK_SCALE_MAX 3600
/*
 * SLIPWAY_TEST_CLOCK "<anchor_epoch_s>:<scale>": now = anchor + (real -
 * anchor) * scale; "" = real time. Called once, before any thread starts.
 */
int agent_clock_configure(const char *spec, struct error *err);
/* Unix milliseconds on the agent's clock. */
long long agent_clock_ms(void);
/* The pure mapping, for tests: real_ms on a clock anchored at anchor_s. */
long long agent_clock_map(long long real_ms, long long anchor_s, int scale);
/* Real milliseconds that clock_ms of the agent's clock take. */
long long agent_clock_real_ms(long long clock_ms);

/* agent_exec.c: executions of tasks, one container each */
enum agent_exec_state {
	EXEC_PENDING, EXEC_RUNNING, EXEC_SUCCEEDED, EXEC_FAILED, EXEC_TIMED_OUT,
	EXEC_SKIPPED
};
struct agent_exec {
	char id[AGENT_ID_MAX];
	char component_id[AGENT_ID_MAX];
	char environment[AGENT_ID_MAX];
	char deployment_id[AGENT_ID_MAX];
	char org[AGENT_ID_MAX];
	char project[AGENT_ID_MAX];
	char component[AGENT_ID_MAX];
	char image[IMAGE_REF_MAX + 1];      /* as deployed (tag or digest) */
	char digest[AGENT_DIGEST_MAX];      /* what runs */
	char registry_id[AGENT_ID_MAX];
	char trace_id[AGENT_ID_MAX];
	char trigger[16];                   /* schedule | manual */
	long long scheduled_for_ms;
	char **args;                        /* NULL = the image's command */
	char **env;                         /* "K=V", owned */
	struct agent_resources res;
	unsigned active_deadline_s;
	char replaces[AGENT_ID_MAX];        /* replace policy: stopped first */
	char replace_reason[AGENT_REASON_MAX];
	/* progress, as recorded */
	enum agent_exec_state state;
	int acked;                          /* final state acknowledged */
	long long started_at_ms, finished_at_ms;
	int exited, exit_code;
	char reason[AGENT_REASON_MAX];
	char log_tail[AGENT_EXEC_LOG_MAX];
	/* in memory only */
	char stop_reason[AGENT_REASON_MAX]; /* stop it: final failed with this */
	int busy;                           /* a thread works on it */
	int queued;                         /* waits for a starter */
	int recovered;                      /* from before a restart, unseen */
	struct agent_exec *next;
};
const char *agent_exec_state_name(enum agent_exec_state s);
/* Moves to next when legal (one step on, final once); -1 when not. */
int agent_exec_transition(struct agent_exec *x, enum agent_exec_state next);
int agent_exec_final(enum agent_exec_state s);
/* "slipway-<component>-<env>-run-<id>"; -1 when it does not fit. */
int agent_exec_container_name(const struct agent_exec *x, char *buf,
    size_t len);
/* Validates a RunTask into x (calloc'd, owned); err invalid_command. */
struct agent_exec *agent_exec_from_runtask(const Envelope *env,
    struct error *err);
/* An execution of ready task spec (pinned digest), for the scheduler. */
struct agent_exec *agent_exec_from_spec(const struct agent_spec *spec,
    const char *digest, unsigned active_deadline_s);
/*
 * Adds the variables of base ("K=V", the ready deployment's) that x does
 * not set itself: a run's own variables win. -1 on no memory or too many.
 */
int agent_exec_add_env(struct agent_exec *x, char *const *base);
/* A deep copy of x, progress reset to pending; NULL on no memory. */
struct agent_exec *agent_exec_clone(const struct agent_exec *x);
void agent_exec_free(struct agent_exec *x);
/* The record's JSON and back (for the journal and tests). */
char *agent_exec_json(const struct agent_exec *x);
struct agent_exec *agent_exec_parse(const char *text, size_t len);
struct agent_execs;
struct agent_execs *agent_execs_new(struct agent_ctx *ag);
/*
 * Adopts what the records say: running containers are watched again, lost
 * ones reported failed, pending ones started, unreported finals re-sent.
 */
int agent_execs_recover(struct agent_execs *xs, struct error *err);
int agent_execs_start(struct agent_execs *xs, struct error *err);
void agent_execs_stop(struct agent_execs *xs, long long deadline);
/* 1 when a thread did not stop in time (nothing may be freed under it). */
int agent_execs_busy(const struct agent_execs *xs);
void agent_execs_free(struct agent_execs *xs);
/*
 * Takes x: records it (fsync'd) and queues it to start, or, when its
 * state is already final (skipped), queues its report. 0 accepted, 1 when
 * that id is already recorded (x freed), -1 when it cannot be recorded.
 */
int agent_execs_submit(struct agent_execs *xs, struct agent_exec *x);
/* Executions of a slot not yet final; the newest one's id into id. */
int agent_execs_active(struct agent_execs *xs, const char *component_id,
    const char *environment, char *id, size_t idlen);
/*
 * Stops every unfinished execution of a slot (RemoveComponent): a pending
 * one ends failed with reason before it starts, a running one is stopped
 * by the watcher and ends failed with reason. Returns how many.
 */
int agent_execs_cancel(struct agent_execs *xs, const char *component_id,
    const char *environment, const char *reason);
/*
 * 1 once every unfinished execution recovered at start was looked at
 * (adopted, found exited or lost): until then the scheduler would take a
 * run that ended while the agent was down for one still running.
 */
int agent_execs_settled(struct agent_execs *xs);
/* 1 when any execution container (by label) is x's. */
int agent_execs_owns(const struct engine_summary *c);
/* 1 when execution id is in the list (not yet final and acknowledged). */
int agent_execs_known(struct agent_execs *xs, const char *id);
/*
 * Where executions run, one row per runtime (agent_runtime.c): the
 * engine's containers (agent_exec_engine.c) or Jobs (agent_kube_exec.c).
 */
struct agent_exec_seen {
	int exists;
	int running;
	int exited;                        /* exit_code is the process's */
	int exit_code;
	enum agent_exec_state outcome;     /* when over */
	char reason[AGENT_REASON_MAX];
	char log_tail[AGENT_EXEC_LOG_MAX];
};
struct agent_exec_ops {
	/* 0 running (started or adopted), 1 it ran already, -1 with err. */
	int (*launch)(struct agent_ctx *ag, const struct agent_exec *x,
	    struct error *err);
	/* What runs now; -1 when the runtime does not answer. */
	int (*inspect)(struct agent_ctx *ag, const struct agent_exec *x,
	    struct agent_exec_seen *seen, struct error *err);
	void (*stop)(struct agent_ctx *ag, const struct agent_exec *x);
	/* Removes what ran; absent is success. */
	int (*remove)(struct agent_ctx *ag, const struct agent_exec *x,
	    struct error *err);
	/*
	 * Now and then (every sweep_every looks of the watcher): leftovers
	 * go, and runs the runtime started itself (a CronJob's) come in.
	 */
	int (*sweep)(struct agent_ctx *ag, struct agent_execs *xs);
	int sweep_every;
};
extern const struct agent_exec_ops agent_exec_engine_ops;
extern const struct agent_exec_ops agent_kube_exec_ops;

/* agent_sched.c: the scheduler of ready scheduled tasks */
#define AGENT_SCHED_SKIP_MAX 100
#define AGENT_SCHED_SCAN_MAX (8 * 1440)   /* minutes looked back at most */
enum agent_sched_skip { SCHED_SKIP_MISSED, SCHED_SKIP_SUPERSEDED };
/* What to do with the minutes after last (exclusive) up to now. */
struct agent_sched_plan {
	long long run;                        /* minute (UTC s) to run, -1 none */
	long long skipped[AGENT_SCHED_SKIP_MAX];  /* oldest first */
	enum agent_sched_skip why[AGENT_SCHED_SKIP_MAX];
	int nskipped;
	long long dropped;                    /* skipped beyond the cap */
};
/*
 * The catch-up decision: of the due minutes after last up to now's
 * minute, the newest within starting_deadline_s of now runs, the others
 * are skipped (missed when older than the deadline, superseded otherwise).
 */
void agent_sched_plan(long long last, long long now_s,
    unsigned starting_deadline_s, int (*due)(void *arg, long long minute),
    void *arg, struct agent_sched_plan *p);
/* The execution id of a slot's scheduled minute: a UUID from SHA-256. */
void agent_sched_execution_id(const char *component_id,
    const char *environment, long long minute, char out[37]);
struct agent_sched;
struct agent_sched *agent_sched_new(struct agent_ctx *ag);
int agent_sched_start(struct agent_sched *s, struct error *err);
void agent_sched_stop(struct agent_sched *s, long long deadline);
int agent_sched_busy(const struct agent_sched *s);
void agent_sched_free(struct agent_sched *s);
/*
 * The slot now serves ready task spec (digest pinned) with settings t:
 * scheduled from its last handled minute on; a manual task, or any other
 * type, takes the slot off the schedule.
 */
void agent_sched_serve(struct agent_sched *s, const struct agent_spec *spec,
    const char *digest, const struct workload_task *t);
/* Handles every slot's minutes up to now_s (the thread's step; tests). */
void agent_sched_tick(struct agent_sched *s, long long now_s);
/* The slot is gone (RemoveComponent): its schedule and state go too. */
void agent_sched_forget(struct agent_sched *s, const char *component_id,
    const char *environment);

/* kube_routes.c: how a release is reached, by visibility (pure) */
enum kube_route_mode { KUBE_ROUTES_GATEWAY, KUBE_ROUTES_INGRESS };
struct kube_gateway_ref {
	char ns[64];
	char name[64];
};
/* [0] is the public side (Public), [1] the internal one (Organization). */
struct kube_routes {
	enum kube_route_mode mode;
	struct kube_gateway_ref gw[2];
	char host[2][254];
	char ingress_class[2][254];
	char l4_type[16];             /* ClusterIP | NodePort | LoadBalancer */
};
/* The configuration, as read (SLIPWAY_KUBE_*). */
struct kube_routes_input {
	const char *mode;             /* gateway | ingress */
	const char *public_gateway, *internal_gateway;   /* ns/name */
	const char *public_host, *internal_host;
	const char *public_class, *internal_class;       /* "" = the default */
	const char *l4_type;
};
/* Checks and copies the configuration; -1 with err naming what is wrong. */
int kube_routes_config(struct kube_routes *rt,
    const struct kube_routes_input *in, struct error *err);
/* kube_object_name with what ("public", "l4", ...) as the suffix. */
struct kube_release;
void kube_routes_name(const struct kube_release *r, const char *what,
    char out[64]);

/* kube_objects.c: the objects of one release on Kubernetes (pure) */
struct kube_release {
	const struct agent_spec *spec;
	const char *dataplane;
	const char *image;            /* host/path@digest */
	const char *ns;               /* kube_namespace_name */
	const char *name;             /* kube_object_name: Deployment, Service */
	const char *pull_secret;      /* NULL: none (vendor or anonymous) */
	const char *env_secret;       /* the release's secrets; NULL: none */
	const char *env_config;       /* its variables' ConfigMap; NULL: none */
	int health_timeout_s;         /* the agent's default */
	struct agent_resources res;   /* the component's, defaults applied */
	const struct kube_routes *routes;   /* NULL: in-cluster addresses only */
};
/* Each returns a new object (caller decrefs), NULL on no memory. */
json_t *kube_objects_namespace(const struct kube_release *r);
json_t *kube_objects_pull_secret(const struct kube_release *r,
    const char *host, const char *username, const char *password);
/*
 * A release's variables: the Secret holds the entries of spec->env that
 * are secrets, the ConfigMap those that are configuration variables.
 */
json_t *kube_objects_env_secret(const struct kube_release *r);
json_t *kube_objects_env_config(const struct kube_release *r);
json_t *kube_objects_deployment(const struct kube_release *r);
json_t *kube_objects_service(const struct kube_release *r);
/*
 * Tasks: a scheduled task's CronJob (named from the Deployment's name, cut
 * to KUBE_CRONJOB_NAME_MAX), a manual execution's Job (named from its id)
 * and the Secret of an execution's variables (labelled with the
 * execution). Each Job carries the annotations that make it an execution
 * again (kube_status_job_exec).
 */
#define KUBE_CRONJOB_NAME_MAX 52
#define KUBE_JOB_NAME_MAX     59
void kube_objects_cronjob_name(const char *name, char out[64]);
json_t *kube_objects_cronjob(const struct kube_release *r,
    const struct workload_task *t);
void kube_objects_job_name(const char *component, const char *execution_id,
    char out[64]);
json_t *kube_objects_job(const struct kube_release *r,
    const struct agent_exec *x, const char *name, const char *env_secret);
json_t *kube_objects_run_secret(const struct kube_release *r,
    const struct agent_exec *x, const char *name);
/* The health timeout: the component's, else the agent's, else 60 s. */
int kube_release_timeout(const struct kube_release *r);
/*
 * Each NULL when the release needs none (no endpoint of the kind, or
 * another route mode): which is 0 public, 1 internal.
 */
json_t *kube_routes_httproute(const struct kube_release *r, int which);
json_t *kube_routes_grpcroute(const struct kube_release *r, int which);
json_t *kube_routes_ingress(const struct kube_release *r, int which);
json_t *kube_routes_network_policy(const struct kube_release *r);
json_t *kube_routes_l4_service(const struct kube_release *r);
/* The endpoint's address: the route's host and path, else in-cluster. */
int kube_routes_address(const struct kube_release *r,
    const struct agent_endpoint *e, char *buf, size_t len);
/* The endpoint's in-cluster address (the Service's DNS name). */
int kube_objects_address(const struct kube_release *r,
    const struct agent_endpoint *e, char *buf, size_t len);

/* agent_kube.c: the Kubernetes runtime's jobs (SLIPWAY_RUNTIME=kubernetes) */
struct agent_ctx;
struct agent_watch_item;
/* The watcher's look: a release whose pods crash, or recovered since. */
int agent_kube_look(struct agent_ctx *ag, struct agent_watch_item *v,
    size_t n);
int agent_kube_job(struct agent_ctx *ag, struct agent_slot *slot,
    enum agent_job_kind kind, const void *cmd, size_t len);
/* At start: the records say what serves; what they do not is pruned. */
int agent_kube_adopt(struct agent_ctx *ag, struct error *err);
/* agent_kube_reconcile.c: deletes this data plane's unserved objects. */
void agent_kube_reconcile(struct agent_ctx *ag);
int agent_kube_ping(struct agent_ctx *ag);

/* kube_yaml.c: doc as one YAML document ("---" first); -1 on a write error. */
int kube_yaml_write(FILE *f, json_t *doc);

/* agent_render.c: `dataplane-agent render` (GitOps) */
struct agent_render_opts {
	const char *out;                 /* directory, created when absent */
	char *const *components;         /* ids to render; NULL/empty = all */
	size_t ncomponents;
	int pull_secrets;                /* reference <component>-pull-<hash> */
};
/*
 * Writes the objects this agent's state says it would apply (every
 * serving component of its records, or those listed) as YAML files, one
 * per object, named <namespace>.<kind>.<name>.yaml. Returns how many
 * components were rendered, -1 with err.
 */
int agent_render(struct agent_ctx *ag, const struct agent_render_opts *o,
    struct error *err);
/*
 * The objects of spec s at digest (agent_kube.c): what the apply steps
 * apply, in order, into the array out. The pull Secret's data (sealed
 * credentials) is never among them; with_pull references it.
 */
int agent_kube_objects(struct agent_ctx *ag, const struct agent_spec *s,
    const char *digest, int with_pull, json_t *out);

/* kube_status.c */
/* 1 when the pod's containers are all ready. */
int kube_status_pod_ready(json_t *pod);
/*
 * What a Deployment's status says of generation gen: 1 available, -1
 * failed (ProgressDeadlineExceeded, reason in err), 0 not yet.
 */
int kube_status_deployment(json_t *dep, long long gen, struct error *err);
/*
 * A pod whose container waits for a reason no wait cures (ImagePullBackOff,
 * ErrImagePull, CrashLoopBackOff, ...): -1 with "<code>: <Reason>: <the
 * container's message>" in err (code pull_failed, unhealthy or
 * start_failed), else 0. _pods: the same for every pod of a PodList.
 */
int kube_status_pod_failure(json_t *pod, struct error *err);
int kube_status_pods(json_t *list, struct error *err);
/* What a Job's status says: done 1 succeeded, -1 failed (reason), 0 not yet. */
struct kube_job_outcome {
	int done;
	int deadline;                    /* failed: activeDeadlineSeconds passed */
	char reason[AGENT_REASON_MAX];   /* failed: "<Reason>: <message>" */
};
int kube_status_job(json_t *job, struct kube_job_outcome *o);
/* 1 with the exit code of a pod's terminated "app" container, else 0. */
int kube_status_pod_exit(json_t *pod, int *code, int *oom);
/*
 * A Job the CronJob controller made from a scheduled task's CronJob, as
 * the pending execution it is (x zeroed by the caller; every field but
 * the id, which agent_sched_execution_id derives from the minute in
 * x->scheduled_for_ms). -1 when it is not one of this data plane's.
 */
int kube_status_job_exec(json_t *job, const char *dataplane,
    struct agent_exec *x);

/* agent_runtime.c: what runs the components (one row per runtime) */
struct agent_runtime {
	const char *name;
	/* Runs one job on its slot (see agent_cutover_job). */
	int (*job)(struct agent_ctx *ag, struct agent_slot *slot,
	    enum agent_job_kind kind, const void *cmd, size_t len);
	/* At start, after the records: what runs vs. what they say. */
	int (*adopt)(struct agent_ctx *ag, struct error *err);
	/* 1 when the runtime answers (/readyz). */
	int (*ping)(struct agent_ctx *ag);
	/*
	 * The slots watcher's look at n serving slots: sets act on each that
	 * needs a JOB_RESTART; -1 when the runtime does not answer.
	 */
	int (*look)(struct agent_ctx *ag, struct agent_watch_item *v, size_t n);
	/* Where executions run. */
	const struct agent_exec_ops *exec;
	/* 1: the agent's scheduler starts scheduled runs (0: a CronJob does). */
	int schedules;
};
/* The runtime called name ("podman", "kubernetes"), or NULL. */
const struct agent_runtime *agent_runtime_find(const char *name);
/* ag's runtime: the engine's when none was set (tests). */
const struct agent_runtime *agent_runtime_of(const struct agent_ctx *ag);

/* agent_commands.c */
struct gateway;
struct kube;
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
	struct agent_execs *execs;
	struct agent_sched *sched;
	const struct regauth_policy *targets;   /* SLIPWAY_ALLOW_PRIVATE_TARGETS */
	const struct agent_runtime *runtime;    /* NULL: the engine's */
	struct kube *kube;                      /* SLIPWAY_RUNTIME=kubernetes */
	struct kube_routes kube_routes;         /* its routes' configuration */
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
