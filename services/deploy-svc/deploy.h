/*
 * deploy.h: deploy-svc's private header. deploy-svc owns data planes,
 * environments, deployments and the executions of tasks; it turns
 * ImagePushed events and API calls into deployments, sends ApplyDeployment
 * commands to the data planes through the outbox, and follows
 * DeploymentStatus reports along a state machine that is monotonic but for
 * the running <-> crashed cycle (deploy_state.c). A task's deployment ends
 * ready instead of running; its runs are executions (RunTask out,
 * ExecutionStatus back, deploy_exec_state.c), and changes of its settings
 * reach the agents as SetSchedule (deploy_schedule.c). It is also the one
 * store of org keys (deploy_keys.c), which every service learns from
 * slipway.orgkeys; its routes hold org keys to their org (deploy_org.c).
 */
#ifndef SLIPWAY_DEPLOY_H
#define SLIPWAY_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "apikey.h"
#include "bus.h"
#include "error.h"
#include "imageref.h"
#include "envelope.h"
#include "http.h"
#include "park.h"
#include "workload.h"

struct event_base;
struct store;
struct store_result;
struct bus_producer;
struct bus_consumer;
struct outbox_relay;
struct http_server;
struct keyring;
struct event;
struct rewrap_ops;

/* protobuf-c string members are char *; the messages only borrow them. */
#define DEPLOY_STR(s) ((char *)(uintptr_t)(s))

#define DEPLOY_SERVICE   "deploy-svc"
#define DEPLOY_NAME_MAX  63     /* org, environment, project names */
#define DEPLOY_REASON_MAX 500
#define DEPLOY_UNKNOWN_COMPONENT_ATTEMPTS 30
/*
 * An ImagePushed off the component's repository is retried this often
 * (about 3 s of bus backoff) before it is recorded failed: a PATCH of the
 * image may have reached the webhook before its ComponentUpdated reached us.
 */
#define DEPLOY_MISMATCH_ATTEMPTS 5

struct deploy_config {
	char *http_addr;
	int http_port;
	char *admin_token;
	char *brokers;
	char *pg_url;
	int log_debug;
	char *default_dataplane;
	int component_wait_ms;   /* how long a deploy waits for an unknown component */
	char *kek_file;          /* keyring of secrets at rest ("": no secrets) */
	int batch_max;           /* consumed messages per transaction */
};

/* The whole process: everything runs on one event loop thread. */
struct deploy {
	struct event_base *base;
	struct deploy_config cfg;
	struct store *store;
	struct bus_producer *producer;
	struct outbox_relay *relay;
	struct bus_consumer *consumer;
	struct http_server *http;
	struct park *parked;    /* deploys waiting for their component (park.h) */
	struct apikeys *keys;   /* org keys, learnt from slipway.orgkeys */
	struct bus_consumer *keys_consumer;
	struct keyring *keyring; /* NULL without SLIPWAY_KEK_FILE: secrets refused */
	struct event *sighup;    /* reloads the keyring */
	struct bus_topics *topics; /* data planes' topics, created off the loop */
	struct deploy_topics_wait *topic_waits; /* answers waiting for them */
};

/* One endpoint of a component, as component.events carries it. */
struct deploy_endpoint {
	char name[WORKLOAD_ENDPOINT_NAME_MAX + 1];
	unsigned port;
	char type[8];          /* workload_endpoint_types */
	char visibility[16];   /* workload_visibilities */
	char context[WORKLOAD_ENDPOINT_CONTEXT_MAX + 1];
	char schema_file_path[WORKLOAD_ENDPOINT_PATH_MAX + 1];
};

/* A component as deploy-svc knows it (local copy of component.events). */
struct deploy_component {
	char id[37];
	char org[DEPLOY_NAME_MAX + 1];
	char project[DEPLOY_NAME_MAX + 1];
	char name[128];
	char type[32];
	char registry_id[64];
	char registry_host[256];
	char image[IMAGE_REF_MAX + 1];
	int port;                 /* first endpoint's port, 0 = none */
	char endpoint_type[16];   /* and its type (REST, TCP, ...) */
	size_t n_endpoints;       /* every endpoint (0 for rows older than 002) */
	struct deploy_endpoint endpoints[WORKLOAD_ENDPOINTS_MAX];
	struct workload_health health;        /* .set == 0: the agent's defaults */
	struct workload_resources resources;
	struct workload_task task;            /* .set only for the two task types */
};

/*
 * The parts of ApplyDeployment that come from the component, with the
 * storage the message points into (see deploy_component_to_apply).
 */
struct deploy_component_proto {
	Slipway__V1__Endpoint ep[WORKLOAD_ENDPOINTS_MAX];
	Slipway__V1__Endpoint *epp[WORKLOAD_ENDPOINTS_MAX];
	Slipway__V1__HealthCheck health;
	Slipway__V1__Resources resources;
	Slipway__V1__TaskSettings task;
	Slipway__V1__EnvVar port_var;
	Slipway__V1__EnvVar *vars[1];
	char port[16];
};

/* Caps on what an agent reports (deploy_evidence.c). */
#define DEPLOY_ADDRESSES_MAX 16
#define DEPLOY_URL_MAX       512
#define DEPLOY_LOG_TAIL_MAX  4096
#define DEPLOY_PROBE_MAX     1024

/* Where an endpoint of a running deployment is reached (EndpointAddress). */
struct deploy_address {
	char name[WORKLOAD_ENDPOINT_NAME_MAX + 1];
	char type[8];
	char visibility[16];
	char url[DEPLOY_URL_MAX + 1];
};

/*
 * What a deployment shows besides its state: why it failed or crashed (the
 * reason, the container's exit code, the tail of its log, the last probe's
 * answer) and, once running, its endpoints' addresses.
 */
struct deploy_evidence {
	char reason[DEPLOY_REASON_MAX + 1];
	int exited;               /* exit_code is meaningful */
	int exit_code;
	char log_tail[DEPLOY_LOG_TAIL_MAX + 1];
	char probe[DEPLOY_PROBE_MAX + 1];
	size_t n_addresses;
	struct deploy_address addresses[DEPLOY_ADDRESSES_MAX];
};

/* DeploymentStatusChanged's evidence, with the storage it points into. */
struct deploy_evidence_proto {
	Slipway__V1__EndpointAddress addr[DEPLOY_ADDRESSES_MAX];
	Slipway__V1__EndpointAddress *addrp[DEPLOY_ADDRESSES_MAX];
};

/* Where a deployment goes. */
struct deploy_target {
	char environment[DEPLOY_NAME_MAX + 1];
	char dataplane[48];
};

/* The configuration a deployment runs, sealed to its data plane. */
struct deploy_sealed {
	int version;
	unsigned char *blob;   /* NULL: nothing to seal */
	size_t len;
};

/* A deployment to record (see deploy_store_deployment_create). */
struct deploy_new {
	const char *id;
	const struct deploy_component *comp;  /* NULL only when failed */
	const char *component_id;
	const char *org;
	const struct deploy_target *target;
	const char *image;
	const char *digest;
	const char *source;
	const char *failed_reason;  /* non-NULL: recorded failed, no command */
	/* Opens the secrets to seal them into ApplyDeployment (NULL: none may be). */
	const struct keyring *keyring;
	/*
	 * config_pinned: the deployment runs configuration version
	 * config_version (a redeploy of an earlier one); else the
	 * environment's current version.
	 */
	int config_pinned;
	int config_version;
	/*
	 * Sealed by the caller already (deploy_store_deployments_create needs
	 * it; a reason it gave is in failed_reason); NULL: sealed when written.
	 */
	const struct deploy_sealed *sealed;
};

/* The columns of a deployment that the state machine needs. */
struct deploy_current {
	char status[16];
	char component_id[37];
	char org[DEPLOY_NAME_MAX + 1];
	char environment[DEPLOY_NAME_MAX + 1];
	char image[IMAGE_REF_MAX + 1];
	char digest[136];
	char dataplane[48];          /* where it was sent: only it may report */
	long long observed_at_ms;    /* the agent's clock at the last applied report */
	struct deploy_evidence ev;
};

/* deploy_state.c */
enum deploy_status {
	DEPLOY_PENDING,
	DEPLOY_RESOLVING,
	DEPLOY_PULLING,
	DEPLOY_STARTING,
	DEPLOY_RUNNING,
	DEPLOY_FAILED,
	DEPLOY_SUPERSEDED,
	DEPLOY_CRASHED,
	DEPLOY_READY,          /* a task: digest pinned, nothing keeps running */
	DEPLOY_STATUS_COUNT
};
enum deploy_move {
	DEPLOY_MOVE_ALLOWED,   /* apply it */
	DEPLOY_MOVE_IGNORED,   /* duplicate or stale report: drop it */
	DEPLOY_MOVE_ILLEGAL    /* no ordering of reports explains it */
};
const char *deploy_state_name(enum deploy_status s);
int deploy_state_parse(const char *name, enum deploy_status *out);
int deploy_state_from_proto(int proto_state, enum deploy_status *out);
int deploy_state_to_proto(enum deploy_status s);
int deploy_state_terminal(enum deploy_status s);
/*
 * What a report of `to` does to a deployment that is `from`. newer: the
 * report was observed after the last applied one (DeploymentStatus
 * observed_at_ms > deployments.observed_at_ms); only the running <-> crashed
 * cycle looks at it.
 */
enum deploy_move deploy_state_transition(enum deploy_status from,
    enum deploy_status to, int newer);

/* deploy_component.c: the local copy of a component, in and out. */
/* Checks a Component from the bus (caps, UTF-8, ranges); -1 bad_message. */
int deploy_component_from_proto(const Slipway__V1__Component *c,
    struct deploy_component *out, struct error *err);
/* Checks and copies endpoints (also EndpointsChanged's); sets port and endpoint_type. */
int deploy_component_endpoints_from_proto(Slipway__V1__Endpoint *const *eps,
    size_t n, struct deploy_component *out, struct error *err);
/* [{"name","port","type","visibility","context","schema_file_path"}] */
json_t *deploy_component_endpoints_json(const struct deploy_component *c);
/* The stored jsonb columns back into c; -1 (db_error) when unreadable. */
int deploy_component_columns_parse(const char *endpoints, const char *health,
    const char *resources, struct deploy_component *c, struct error *err);
/* The stored task column (NULL: none, the defaults for a task); c->type set. */
int deploy_component_task_parse(const char *task, struct deploy_component *c,
    struct error *err);
/* 1 for scheduled-task and manual-task: they run as executions. */
int deploy_component_is_task(const struct deploy_component *c);
/* Points ad's component fields into c and p: both must outlive ad. */
void deploy_component_to_apply(const struct deploy_component *c,
    struct deploy_component_proto *p, Slipway__V1__ApplyDeployment *ad);

/* deploy_evidence.c: what an agent reports besides the state. */
/* Checks and copies a report's evidence: caps, UTF-8, URLs; -1 bad_message. */
int deploy_evidence_from_report(const Slipway__V1__DeploymentStatus *ds,
    struct deploy_evidence *out, struct error *err);
/* Applies an ALLOWED move's report to the stored evidence (rules in the file). */
void deploy_evidence_merge(struct deploy_evidence *stored,
    const struct deploy_evidence *report, enum deploy_status to);
/* [{"name","type","visibility","url"}] */
json_t *deploy_evidence_addresses_json(const struct deploy_evidence *ev);
/* The stored addresses (jsonb text) back into ev; -1 (db_error) when unreadable. */
int deploy_evidence_addresses_parse(const char *text,
    struct deploy_evidence *ev, struct error *err);
/* Points sc's evidence fields into ev and p: both must outlive sc. */
void deploy_evidence_to_proto(const struct deploy_evidence *ev,
    struct deploy_evidence_proto *p, Slipway__V1__DeploymentStatusChanged *sc);

/* deploy_store.c */
/* A timestamptz column as the API shows it: RFC 3339 UTC, milliseconds. */
#define DEPLOY_TIME(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* Runs a query that returns at most one row; 1 found (*out set), 0 none, -1. */
int deploy_store_one(struct store *s, struct store_result **out,
    const char *sql, int n, const char *const *vals, struct error *err);
int deploy_store_component_get(struct store *s, const char *id,
    struct deploy_component *out, struct error *err);
int deploy_store_component_put(struct store *s,
    const struct deploy_component *c, struct error *err);
int deploy_store_component_delete(struct store *s, const char *id,
    struct error *err);
/* EndpointsChanged: c carries the id and the new endpoints. */
int deploy_store_component_endpoints(struct store *s,
    const struct deploy_component *c, struct error *err);
int deploy_store_environment_get(struct store *s, const char *org,
    const char *name, struct deploy_target *out, struct error *err);
int deploy_store_environment_first(struct store *s, const char *org,
    const char *default_dp, struct deploy_target *out, struct error *err);
int deploy_store_environment_put(struct store *s, const char *org,
    const char *name, const char *dataplane, int position, struct error *err);
int deploy_store_deployment_create(struct store *s, const struct deploy_new *d,
    struct error *err);
/*
 * The configuration d runs, sealed into cs (the caller frees cs->blob); one
 * that cannot be sealed leaves its reason in reason (the deployment then
 * fails). -1 only for a store error.
 */
int deploy_store_config(struct store *s, const struct deploy_new *d,
    struct deploy_sealed *cs, char *reason, size_t rlen, struct error *err);
/*
 * deploy_store_deployment_create for n deployments (each one's sealed set)
 * in one statement per table, rows and events in the array's order:
 * created[i] 1 when ds[i] was new, 0 when its id existed already or came
 * earlier in ds. -1 with err: *bad the deployment at fault (a payload over
 * the outbox cap), or n when the statement failed as a whole.
 */
int deploy_store_deployments_create(struct store *s, const struct deploy_new *ds,
    size_t n, int *created, size_t *bad, struct error *err);
int deploy_store_deployment_lock(struct store *s, const char *id,
    struct deploy_current *out, struct error *err);
/* The same without a lock: what a request reads before its own transaction
 * (a deployment's digest, image and component never change). */
int deploy_store_deployment_get(struct store *s, const char *id,
    struct deploy_current *out, struct error *err);
/*
 * Moves a locked deployment to st with cur's digest and evidence (already
 * merged); observed_at_ms only ever raises the stored clock.
 */
/* Moves the deployment's report clock forward to observed_at_ms. */
int deploy_store_observed_bump(struct store *s, const char *id,
    long long observed_at_ms, struct error *err);
int deploy_store_status_set(struct store *s, const char *id,
    enum deploy_status st, const struct deploy_current *cur,
    long long observed_at_ms, struct error *err);
int deploy_store_supersede(struct store *s, const char *component_id,
    const char *environment, const char *except_id, struct error *err);
/* DeploymentStatusChanged for st, with cur's digest and evidence. */
int deploy_store_emit_status(struct store *s, const char *id,
    const struct deploy_current *cur, enum deploy_status st,
    struct error *err);
json_t *deploy_store_deployment_json(struct store *s, const char *id,
    struct error *err);
json_t *deploy_store_deployments_json(struct store *s, const char *component_id,
    struct error *err);

/* deploy_config_input.c: configuration and secrets input, checked (pure). */
#define DEPLOY_CONFIG_NAME_MAX   255
#define DEPLOY_CONFIG_VALUE_MAX  (32 * 1024)      /* bytes */
#define DEPLOY_CONFIG_VARS_MAX   200              /* vars and secrets together */
/*
 * Names and values of one component+environment together: the sealed copy
 * travels inside one ApplyDeployment, which must stay below ENVELOPE_MAX.
 */
#define DEPLOY_CONFIG_TOTAL_MAX  (128 * 1024)
/* 1 when s is a POSIX environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
int deploy_config_input_name_valid(const char *s);
/* 1 for names the platform sets itself (PORT). */
int deploy_config_input_name_reserved(const char *s);
/*
 * Checks one name (and value, when not NULL): -1 with *status 422 and err
 * (invalid_name, reserved_name, value_too_large, invalid_value) when bad.
 */
int deploy_config_input_check(const char *name, const char *value,
    size_t value_len, int *status, struct error *err);
/*
 * Checks a PUT .../config body {"vars": {NAME: string}}: -1 with *status
 * 400 (malformed) or 422 (a bad name or value, too many) and err.
 */
int deploy_config_input_vars(json_t *body, int *status, struct error *err);
/*
 * The value of a PUT .../secrets/{KEY} body {"value": string}, borrowed
 * from body; NULL with *status and err when it is not one.
 */
const char *deploy_config_input_secret(json_t *body, size_t *len, int *status,
    struct error *err);
/*
 * 422 too_many_variables when n names exceed DEPLOY_CONFIG_VARS_MAX, or
 * config_too_large when their total bytes exceed DEPLOY_CONFIG_TOTAL_MAX.
 */
int deploy_config_input_count(size_t n, size_t total, int *status,
    struct error *err);
/* The bytes of every name and value of a vars or secrets object. */
size_t deploy_config_input_total(json_t *vars, json_t *secrets);

/* deploy_config_store.c: the versions of a component+environment's configuration. */
/* One version: vars {NAME: value}, secrets {NAME: {"id","ciphertext","set_at"}}. */
struct deploy_config_snap {
	int version;            /* 0: nothing set yet */
	json_t *vars;
	json_t *secrets;
};
void deploy_config_snap_clear(struct deploy_config_snap *c);
/* Version v (-1: the newest) into out; 1 found (or v <= 0: empty), 0 none, -1. */
int deploy_config_store_get(struct store *s, const char *component_id,
    const char *environment, int v, struct deploy_config_snap *out,
    struct error *err);
/* Locks the configuration of component+environment for this transaction. */
int deploy_config_store_lock(struct store *s, const char *component_id,
    const char *environment, struct error *err);
/* Inserts c as version c->version (the caller made it newest + 1). */
int deploy_config_store_put(struct store *s, const char *component_id,
    const char *environment, const struct deploy_config_snap *c,
    struct error *err);
/*
 * Version *version (-1: current, then set) of component+environment,
 * secrets opened with k, packed as SealedEnv and sealed to dataplane's
 * public key: *blob malloc'd (NULL when there is nothing to carry). -1
 * with err code "config_unavailable" (no keyring, a secret does not
 * open, no data plane key) or a store code.
 */
int deploy_config_store_seal(struct store *s, const struct keyring *k,
    const char *component_id, const char *environment, const char *dataplane,
    int *version, unsigned char **blob, size_t *len, struct error *err);

/* deploy_config_http.c: the configuration and secrets API (routes in deploy_http.c). */
void deploy_config_http_put(struct http_request *req, void *ctx);
void deploy_config_http_get(struct http_request *req, void *ctx);
void deploy_config_http_secret_put(struct http_request *req, void *ctx);
void deploy_config_http_secret_delete(struct http_request *req, void *ctx);
void deploy_config_http_secrets(struct http_request *req, void *ctx);

/* deploy_exec_state.c: one execution of a task. */
enum deploy_exec_status {
	DEPLOY_EXEC_PENDING,
	DEPLOY_EXEC_RUNNING,
	DEPLOY_EXEC_SUCCEEDED,
	DEPLOY_EXEC_FAILED,
	DEPLOY_EXEC_TIMED_OUT,
	DEPLOY_EXEC_SKIPPED,
	DEPLOY_EXEC_STATUS_COUNT
};
const char *deploy_exec_state_name(enum deploy_exec_status s);
int deploy_exec_state_parse(const char *name, enum deploy_exec_status *out);
int deploy_exec_state_from_proto(int proto_state, enum deploy_exec_status *out);
int deploy_exec_state_to_proto(enum deploy_exec_status s);
int deploy_exec_state_terminal(enum deploy_exec_status s);
/* What a report of `to` does to an execution that is `from` (no clock). */
enum deploy_move deploy_exec_state_transition(enum deploy_exec_status from,
    enum deploy_exec_status to);

/* deploy_exec_input.c: what starts an execution, and what agents report. */
#define DEPLOY_EXEC_ARGS_MAX       64
#define DEPLOY_EXEC_ARG_MAX        4096          /* bytes of one argument */
#define DEPLOY_EXEC_ENV_MAX        64
#define DEPLOY_EXEC_ENV_NAME_MAX   255
#define DEPLOY_EXEC_ENV_VALUE_MAX  (32 * 1024)
#define DEPLOY_EXEC_LOG_TAIL_MAX   (8 * 1024)
/* Milliseconds since the epoch below 10000-01-01: what timestamptz holds. */
#define DEPLOY_EXEC_MS_MAX         253402300799999LL
/*
 * A POST /v1/components/{id}/executions body. Every string is borrowed
 * from the JSON body and valid while it is.
 */
struct deploy_exec_request {
	const char *environment;
	size_t n_args;
	const char *args[DEPLOY_EXEC_ARGS_MAX];
	size_t n_env;
	const char *env_names[DEPLOY_EXEC_ENV_MAX];
	const char *env_values[DEPLOY_EXEC_ENV_MAX];
};
/*
 * Checks a body {"environment", optional "args": [string], optional
 * "env": {NAME: string}}: -1 with *status 400 and err (missing_field,
 * unknown_field, invalid_field with the field) when it is not that.
 */
int deploy_exec_input_parse(json_t *body, struct deploy_exec_request *out,
    int *status, struct error *err);
/* An ExecutionStatus, checked; its strings are borrowed from the message. */
struct deploy_exec_report {
	const Slipway__V1__ExecutionStatus *es;
	enum deploy_exec_status to;
	int manual;                 /* trigger "manual", else "schedule" */
};
/* Checks every field of a report (ids, state, trigger, caps, UTF-8); -1 bad_message. */
int deploy_exec_input_report(const Slipway__V1__ExecutionStatus *es,
    struct deploy_exec_report *out, struct error *err);

/* deploy_exec_store.c: deploy.executions and the RunTask commands. */
/* The deployment an environment's executions run: its newest ready one. */
struct deploy_exec_ready {
	char deployment_id[37];
	char image[IMAGE_REF_MAX + 1];
	char digest[136];
	char dataplane[48];
};
/* The columns of an execution that a report needs. */
struct deploy_exec_current {
	char status[16];
	char component_id[37];
	char environment[DEPLOY_NAME_MAX + 1];
	char deployment_id[37];
	char trigger[16];
	long long observed_at_ms;
};
/* Locks the newest ready deployment FOR SHARE; 1 found, 0 none, -1. */
int deploy_exec_store_ready(struct store *s, const char *component_id,
    const char *environment, struct deploy_exec_ready *out, struct error *err);
/* Records a manual execution (pending) and its RunTask in the caller's tx. */
int deploy_exec_store_create(struct store *s, const char *id,
    const struct deploy_component *comp, const struct deploy_exec_request *rq,
    const struct deploy_exec_ready *ready, struct error *err);
/* Reads an execution and locks its row; 1 found, 0 none, -1. */
int deploy_exec_store_lock(struct store *s, const char *id,
    struct deploy_exec_current *out, struct error *err);
/*
 * Records a run the agent's scheduler started, from its first report, in
 * state st; org and dataplane are its deployment's. 1 inserted, 0 exists.
 */
int deploy_exec_store_insert(struct store *s, const struct deploy_exec_report *r,
    enum deploy_exec_status st, const char *org, struct error *err);
/* Applies an ALLOWED move: status, times, exit code, evidence, clock. */
int deploy_exec_store_move(struct store *s, const struct deploy_exec_report *r,
    struct error *err);
/* Moves the execution's report clock forward. */
int deploy_exec_store_observed_bump(struct store *s, const char *id,
    long long observed_at_ms, struct error *err);
/* The execution object, or NULL with err code "not_found" / a store code. */
json_t *deploy_exec_store_json(struct store *s, const char *id,
    struct error *err);
/* A component's executions, newest first (environment NULL: all), at most 100. */
json_t *deploy_exec_store_list_json(struct store *s, const char *component_id,
    const char *environment, struct error *err);

/* deploy_exec_http.c: the executions API (routes in deploy_http.c). */
void deploy_exec_http_post(struct http_request *req, void *ctx);
void deploy_exec_http_list(struct http_request *req, void *ctx);
void deploy_exec_http_get(struct http_request *req, void *ctx);

/* deploy_exec_report.c: ExecutionStatus from an agent (deploy_consume.c). */
int deploy_exec_report_apply(struct deploy *d,
    const Slipway__V1__ExecutionStatus *es, struct error *err);

/* deploy_schedule.c: task settings changes reach the agents (SetSchedule). */
/* 1 when the settings that decide when and how runs start differ. */
int deploy_schedule_changed(const struct workload_task *old,
    const struct workload_task *now);
/* SetSchedule for every environment with a ready deployment of comp. */
int deploy_schedule_announce(struct store *s, const struct deploy_component *comp,
    struct error *err);

/* deploy_remove.c: a deleted component leaves its data planes. */
/*
 * Marks the local copy deleted and writes a RemoveComponent for every
 * (environment, data plane) with a deployment of it not failed. org: the
 * event's (the deployments' own when empty).
 */
int deploy_remove_component(struct store *s, const char *component_id,
    const char *org, struct error *err);
/* 1 when component-svc deleted the component, 0 when not (or unknown), -1. */
int deploy_remove_is_deleted(struct store *s, const char *component_id,
    struct error *err);

/* deploy_consume.c */
typedef int (*deploy_apply_fn)(struct deploy *, const Envelope *,
    const struct bus_message *, struct error *);
/* The key of the parked requests an applied event may let through, or NULL. */
typedef const char *(*deploy_wake_fn)(const Envelope *);
/*
 * Applies n events of one type at once (each deduplicated already): 0, or
 * -1 with err and *bad the first event at fault (n: the whole call
 * failed, no one event can be blamed).
 */
typedef int (*deploy_apply_many_fn)(struct deploy *, const Envelope *const *,
    const struct bus_message *const *, size_t, size_t *, struct error *);
struct deploy_consume_entry {
	Slipway__V1__Envelope__PayloadCase payload;
	deploy_apply_fn apply;            /* NULL when apply_many is set */
	deploy_wake_fn wake;   /* NULL: no parked request waits for it */
	/* Non-NULL: a batch's run of these events is applied in one call. */
	deploy_apply_many_fn apply_many;
};
int deploy_consume_start(struct deploy *d, struct error *err);
/* The table row of a payload, or NULL: not deploy-svc's business (skipped). */
const struct deploy_consume_entry *deploy_consume_lookup(
    Slipway__V1__Envelope__PayloadCase pc);
/* What the bus should do with m after its apply failed with err. */
enum bus_result deploy_consume_fail(const struct bus_message *m,
    const struct error *err, struct error *reason);

/*
 * deploy_push.c: the ImagePushed events of a batch, applied together: each
 * component, org placement and configuration looked up once, every
 * deployment and outbox row written in one statement per table.
 */
int deploy_push_apply(struct deploy *d, const Envelope *const *envs,
    const struct bus_message *const *ms, size_t n, size_t *bad,
    struct error *err);

/*
 * deploy_batch.c: a batch of consumed messages in one transaction, each
 * deduplicated and applied in order (bus.h, bus_batch_handler).
 */
#define DEPLOY_BATCH_MAX_DEFAULT "256"
void deploy_batch_handle(const struct bus_message *const *ms, size_t n,
    enum bus_result *res, struct error *reasons, void *arg);
/* Fills err as bad_message (the message goes to the dead-letter topic); -1. */
int deploy_consume_bad(struct error *err, const char *fmt, ...)
    LOG_PRINTF(2, 3);

/* deploy_grants.c: the orgs a data plane serves, as the operator gives them. */
#define DEPLOY_GRANTS_MAX 100
/* {"a","b"}: every org quoted, a comma between, the braces. */
#define DEPLOY_GRANTS_LITERAL_MAX (DEPLOY_GRANTS_MAX * (DEPLOY_NAME_MAX + 3) + 3)
struct deploy_grants {
	int given;                 /* the request named orgs or shared */
	int shared;                /* every org */
	size_t n;
	const char *orgs[DEPLOY_GRANTS_MAX];   /* borrowed from the request body */
};
/* Org names as they appear in paths: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
int deploy_grants_org_valid(const char *s);
/*
 * Reads "orgs" / "shared" of a POST /v1/dataplanes body (both absent: g->given
 * is 0, the stored grants stay); -1 with err and *status 400 when malformed.
 */
int deploy_grants_parse(json_t *body, struct deploy_grants *g, int *status,
    struct error *err);
/* A new data plane needs grants: -1 with *status 422 when none were given. */
int deploy_grants_check_new(const struct deploy_grants *g, int *status,
    struct error *err);
/* g's orgs as a quoted text[] literal; -1 when len is too small. */
int deploy_grants_literal(const struct deploy_grants *g, char *buf, size_t len);

/*
 * deploy_topics.c: the answer to a registration, sent once the data
 * plane's topics exist or after a short bound (body is taken over).
 */
void deploy_topics_reply(struct deploy *d, struct http_request *req,
    int status, json_t *body, const char *name);
/* Sends every answer still waiting (at shutdown). */
void deploy_topics_free(struct deploy *d);

/* deploy_dataplanes.c */
void deploy_dataplanes_post(struct http_request *req, void *ctx);
void deploy_dataplanes_list(struct http_request *req, void *ctx);
void deploy_dataplanes_env_post(struct http_request *req, void *ctx);
void deploy_dataplanes_env_list(struct http_request *req, void *ctx);
/* Its topics, created off the loop: 1 they exist, 0 under way, -1 bad name. */
int deploy_dataplanes_ensure_topics(struct deploy *d, const char *name,
    struct error *err);

/* deploy_keys_input.c: an org key's body and record, checked (pure). */
#define DEPLOY_KEY_NAME_MAX 63      /* characters */
/* A POST /v1/orgs/{org}/keys body; name is borrowed from the JSON body. */
struct deploy_key_request {
	const char *name;
	enum apikey_role role;
};
/* An org key as stored and published (never the key itself). */
struct deploy_key {
	char id[37];
	char org[DEPLOY_NAME_MAX + 1];
	char name[4 * DEPLOY_KEY_NAME_MAX + 1];
	enum apikey_role role;
	char hash[65];                          /* hex SHA-256 of the key */
	char prefix[APIKEY_SHOWN_PREFIX_LEN + 1];
	int revoked;
	long long created_at_ms;
	char created_at[40];                    /* RFC 3339, as the API shows it */
};
/* 1 when s is a key name: 1 to 63 characters of UTF-8, no control characters. */
int deploy_keys_input_name_valid(const char *s);
/*
 * Checks a body {"name", "role"}: -1 with *status 400 (unknown_field,
 * missing_field, invalid_field) or 422 (invalid_field "name", invalid_role)
 * and err when it is not one.
 */
int deploy_keys_input_parse(json_t *body, struct deploy_key_request *out,
    int *status, struct error *err);
/* Points ok's fields into k, which must outlive ok. */
void deploy_keys_input_to_proto(const struct deploy_key *k,
    Slipway__V1__OrgKey *ok);

/* deploy_keys.c: the org keys API (operator only; routes in deploy_http.c). */
void deploy_keys_post(struct http_request *req, void *ctx);
void deploy_keys_list(struct http_request *req, void *ctx);
void deploy_keys_delete(struct http_request *req, void *ctx);

/*
 * deploy_org.c: the org of a resource a route addresses by id (the routes'
 * http_org_fn, lib http.h), from deploy-svc's own tables: 0 with org, 1
 * when there is no such resource (or the id is malformed), -1 when the
 * database cannot tell now.
 */
int deploy_org_of_component(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1]);
int deploy_org_of_deployment(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1]);
int deploy_org_of_execution(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1]);
/* Who called, as the checks after the route's need it (a copy: it may be kept). */
struct deploy_caller {
	int is_operator;
	char org[DEPLOY_NAME_MAX + 1];
	enum apikey_role role;
};
void deploy_org_caller(const struct http_request *req, struct deploy_caller *out);
/*
 * May caller c act with role need on a resource of org? For resources a
 * handler finds after the route's check (a component that became known
 * while its deploy waited: the route saw none and checked nothing). 0 yes,
 * 404 another org's (its existence is not revealed), 403 too weak a role.
 */
int deploy_org_check(const struct deploy_caller *c, const char *org,
    enum apikey_role need);
/* deploy_org_check, replying 404 not_found (no such what) or 403; 0 / -1. */
int deploy_org_reply(struct http_request *req, const struct deploy_caller *c,
    const char *org, enum apikey_role need, const char *what);

/* deploy_config_rewrap.c: the configuration versions as lib rewrap.h
 * walks them (`deploy-svc rewrap`). */
extern const struct rewrap_ops deploy_config_rewrap_ops;

/* deploy_http.c */
int deploy_http_start(struct deploy *d, struct error *err);
int deploy_http_name_valid(const char *s);
void deploy_http_fail(struct http_request *req, const struct error *err);
/*
 * The component of the {id} path parameter; 0, or -1 when it replied (404,
 * 503) or parked the request. A component not known yet (created a moment
 * ago, its event still on its way) parks the request when rerun is given:
 * once the component arrives and is of the caller's org, rerun (the route's
 * handler) runs again; at the deadline it is 404.
 */
int deploy_http_component_load(struct http_request *req, struct deploy *d,
    struct deploy_component *comp, http_handler rerun);
/* The org's environment env into out; -1 when it replied (422, 5xx). */
int deploy_http_environment(struct http_request *req, struct deploy *d,
    const char *org, const char *env, struct deploy_target *out);
/* The park_fn of requests parked on an unknown component. */
int deploy_http_post_resume(void *ctx, struct http_request *req, void *arg,
    enum park_why why);

#endif
