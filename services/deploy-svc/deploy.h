/*
 * deploy.h: deploy-svc's private header. deploy-svc owns data planes,
 * environments and deployments; it turns ImagePushed events and API calls
 * into deployments, sends ApplyDeployment commands to the data planes through
 * the outbox, and follows DeploymentStatus reports along a state machine
 * that is monotonic but for the running <-> crashed cycle (deploy_state.c).
 */
#ifndef SLIPWAY_DEPLOY_H
#define SLIPWAY_DEPLOY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
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

/* protobuf-c string members are char *; the messages only borrow them. */
#define DEPLOY_STR(s) ((char *)(uintptr_t)(s))

#define DEPLOY_SERVICE   "deploy-svc"
#define DEPLOY_NAME_MAX  63     /* org, environment, project names */
#define DEPLOY_REASON_MAX 500
#define DEPLOY_UNKNOWN_COMPONENT_ATTEMPTS 30

struct deploy_config {
	char *http_addr;
	int http_port;
	char *admin_token;
	char *brokers;
	char *pg_url;
	int log_debug;
	char *default_dataplane;
	int component_wait_ms;   /* how long a deploy waits for an unknown component */
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
int deploy_store_deployment_lock(struct store *s, const char *id,
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

/* deploy_consume.c */
int deploy_consume_start(struct deploy *d, struct error *err);

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

/* deploy_dataplanes.c */
void deploy_dataplanes_post(struct http_request *req, void *ctx);
void deploy_dataplanes_list(struct http_request *req, void *ctx);
void deploy_dataplanes_env_post(struct http_request *req, void *ctx);
void deploy_dataplanes_env_list(struct http_request *req, void *ctx);
int deploy_dataplanes_ensure_topics(struct deploy *d, const char *name,
    struct error *err);

/* deploy_http.c */
int deploy_http_start(struct deploy *d, struct error *err);
int deploy_http_name_valid(const char *s);
void deploy_http_fail(struct http_request *req, const struct error *err);
/* The park_fn of deployment requests parked on an unknown component. */
int deploy_http_post_resume(void *ctx, struct http_request *req, void *arg,
    enum park_why why);

#endif
