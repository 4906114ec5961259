/*
 * deploy.h: deploy-svc's private header. deploy-svc owns data planes,
 * environments and deployments; it turns ImagePushed events and API calls
 * into deployments, sends ApplyDeployment commands to the data planes through
 * the outbox, and follows DeploymentStatus reports along a monotonic state
 * machine.
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

/* A component as deploy-svc knows it (local copy of component.events). */
struct deploy_component {
	char id[37];
	char org[DEPLOY_NAME_MAX + 1];
	char name[128];
	char type[32];
	char registry_id[64];
	char registry_host[256];
	char image[IMAGE_REF_MAX + 1];
	int port;                 /* first endpoint's port, 0 = none */
	char endpoint_type[16];   /* and its type (REST, TCP, ...) */
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
enum deploy_move deploy_state_transition(enum deploy_status from,
    enum deploy_status to);

/* deploy_store.c */
int deploy_store_component_get(struct store *s, const char *id,
    struct deploy_component *out, struct error *err);
int deploy_store_component_put(struct store *s,
    const Slipway__V1__Component *c, struct error *err);
int deploy_store_component_delete(struct store *s, const char *id,
    struct error *err);
int deploy_store_component_endpoint(struct store *s, const char *id, int port,
    const char *type, struct error *err);
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
int deploy_store_status_set(struct store *s, const char *id,
    enum deploy_status st, const char *digest, const char *reason,
    struct error *err);
int deploy_store_supersede(struct store *s, const char *component_id,
    const char *environment, const char *except_id, struct error *err);
int deploy_store_emit_status(struct store *s, const char *id,
    const struct deploy_current *cur, enum deploy_status st,
    const char *digest, const char *reason, struct error *err);
json_t *deploy_store_deployment_json(struct store *s, const char *id,
    struct error *err);
json_t *deploy_store_deployments_json(struct store *s, const char *component_id,
    struct error *err);

/* deploy_consume.c */
int deploy_consume_start(struct deploy *d, struct error *err);

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
int deploy_http_org_valid(const char *s);
void deploy_http_fail(struct http_request *req, const struct error *err);
/* The park_fn of deployment requests parked on an unknown component. */
int deploy_http_post_resume(void *ctx, struct http_request *req, void *arg,
    enum park_why why);

#endif
