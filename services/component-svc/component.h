/*
 * component.h: component-svc's private header. component-svc owns the
 * components of an org/project, their endpoints and their CI tokens (hashes
 * only), and keeps a local copy of the registries it learns from
 * slipway.registry.events.
 */
#ifndef SLIPWAY_COMPONENT_H
#define SLIPWAY_COMPONENT_H

#include <stddef.h>
#include <jansson.h>
#include "error.h"
#include "park.h"
#include "store.h"
#include "workload.h"

struct event_base;
struct bus_producer;
struct bus_consumer;
struct outbox_relay;
struct cache;
struct apikeys;
struct http_server;
struct http_request;

#define COMP_SCHEMA   "component"
#define COMP_CONSUMER "component-svc"

/* Embedded by the Makefile from the migrations folder. */
extern const struct migration component_svc_migrations[];
extern const unsigned long component_svc_migrations_count;

struct comp_config {
	char *http_addr;
	int http_port;
	char *admin_token;
	char *brokers;
	char *pg_url;
	char *redis_host;
	int redis_port;
	char *redis_user;
	char *redis_password;
	int registry_wait_ms;   /* how long a create waits for an unknown registry */
	int debug;
};

/* Everything the process owns; freed by main.c's on_stop. */
struct comp_ctx {
	struct comp_config cfg;
	struct event_base *base;
	struct store *db;
	struct bus_producer *producer;
	struct outbox_relay *relay;
	struct bus_consumer *consumer;
	struct cache *cache;
	struct apikeys *keys;   /* org keys, learnt from slipway.orgkeys */
	struct bus_consumer *keys_consumer;
	struct http_server *http;
	struct park *waits;     /* creates parked on an unknown registry */
};

/*
 * endpoints.c: Choreo's endpoints.yaml, parsed with libyaml's event API. The
 * sizes and the type / visibility names are lib workload.h's, which
 * deploy-svc checks its copy against.
 */
#define ENDPOINTS_YAML_MAX   (64 * 1024)
#define ENDPOINTS_MAX        WORKLOAD_ENDPOINTS_MAX
#define ENDPOINT_NAME_MAX    WORKLOAD_ENDPOINT_NAME_MAX
#define ENDPOINT_CONTEXT_MAX WORKLOAD_ENDPOINT_CONTEXT_MAX
#define ENDPOINT_PATH_MAX    WORKLOAD_ENDPOINT_PATH_MAX

struct endpoint {
	char name[ENDPOINT_NAME_MAX + 1];
	unsigned port;
	char type[8];          /* REST | GraphQL | GRPC | TCP | UDP | WS */
	char visibility[16];   /* Public | Organization | Project */
	char context[ENDPOINT_CONTEXT_MAX + 1];          /* "" when absent */
	char schema_file_path[ENDPOINT_PATH_MAX + 1];    /* "" when absent */
	size_t schema_line;    /* its line in the YAML; 0 when not parsed */
};

struct endpoints {
	char version[8];
	size_t n;
	struct endpoint ep[ENDPOINTS_MAX];
};

/*
 * Parses endpoints.yaml text (len bytes, need not be NUL-terminated). On
 * failure returns -1 with err code "invalid_endpoints", field "endpoints" and
 * a message naming the line ("endpoints.yaml line 4: ...").
 */
int endpoints_parse(const char *text, size_t len, struct endpoints *out,
    struct error *err);
/* [{"name","port","type","visibility","context","schema_file_path"}] */
json_t *endpoints_to_json(const struct endpoints *e);

/*
 * schemas.c, schema_openapi.c, schema_graphql.c: the schema files uploaded
 * with endpoints.yaml (PUT /v1/components/{id}/endpoints). A REST
 * endpoint's schemaFilePath names an OpenAPI document (2 or 3, YAML or
 * JSON), a GraphQL endpoint's an SDL file; by file name only.
 */
#define SCHEMAS_MAX     10
#define SCHEMA_FILE_MAX (1024 * 1024)
#define SCHEMA_NAME_MAX 255

struct schema_file {
	char name[SCHEMA_NAME_MAX + 1];
	const unsigned char *data;   /* not owned: the request's bytes */
	size_t len;
	const char *kind;            /* "openapi" | "graphql" | "asyncapi", once checked */
	const char *media_type;      /* application/yaml, /json or /graphql */
	char sha256[65];
};

struct schema_set {
	size_t n;
	struct schema_file f[SCHEMAS_MAX];
};

/* 1 for [A-Za-z0-9._-]{1,255} not starting with '.': a name, never a path. */
int schema_name_valid(const char *name);
/* 1 when s is UTF-8 without NUL bytes, overlong forms or surrogates. */
int schema_utf8_valid(const unsigned char *s, size_t len);
/*
 * Adds one uploaded file (data must outlive set): -1 with *status 422
 * (invalid_schema_name, duplicate_schema, too_many_schemas) or 413
 * (schema_too_large) and err.
 */
int schemas_add(struct schema_set *set, const char *name,
    const unsigned char *data, size_t len, int *status, struct error *err);
/*
 * Every schemaFilePath of eps is a valid name of an uploaded file
 * (missing_schema names it and its YAML line), every file is named
 * (unused_schema), and each parses as its endpoint's kind (invalid_schema:
 * "file line N: ..."). Fills kind, media_type and sha256. 0, or -1 with
 * err, all of them answered 422.
 */
int schemas_check(const struct endpoints *eps, struct schema_set *set,
    struct error *err);
/*
 * The content checks: 0, or -1 with err code "invalid_schema", field
 * "schemas", and a message starting with the file name and where
 * ("openapi.yaml line 4: ...", "schema.graphql line 3, column 7: ...").
 */
int schema_openapi_check(const char *file, const unsigned char *text,
    size_t len, struct error *err);
int schema_asyncapi_check(const char *file, const unsigned char *text,
    size_t len, struct error *err);
int schema_graphql_check(const char *file, const unsigned char *text,
    size_t len, struct error *err);

/*
 * comp_input.c: validation of a component create request. health and
 * resources are lib workload.h's; health only for service and web-app, and
 * its port must be one of the endpoints' when there are endpoints.
 */
struct comp_input {
	const char *org;
	const char *project;
	const char *name;
	const char *description;
	const char *type;
	const char *registry_id;
	const char *image_in;
	struct workload_task task;    /* .set for scheduled-task, manual-task */
	struct endpoints endpoints;   /* n == 0 when none were given; a web
	                                 app's one port as endpoint "web" */
	struct workload_health health;        /* .set == 0 when not given */
	struct workload_resources resources;  /* .set == 0 when not given */
	char image[600];              /* normalised */
	char repository[520];         /* image without tag or digest */
	char registry_host[256];
};
#define COMP_WEB_APP_PORT 8080
int comp_input_slug_valid(const char *s);
int comp_input_is_task(const char *type);
/* Validates the JSON body (not the registry); 0 or -1 with err (HTTP 400/422 per *status). */
int comp_input_parse(json_t *body, struct comp_input *in, int *status,
    struct error *err);
/*
 * A stored component (comp_store_get's JSON, which must outlive in) back
 * into in; -1 (db_error) when the row does not read back.
 */
int comp_input_from_row(json_t *row, struct comp_input *in, struct error *err);
/*
 * Applies a PATCH body to in (a stored component): description, image
 * (on the same registry host), health, resources, a web app's port and,
 * for tasks, the task settings. -1 with *status 400/422 and nothing
 * changed that the caller keeps.
 */
int comp_input_patch(json_t *body, struct comp_input *in, int *status,
    struct error *err);
/*
 * The endpoints of a PUT .../endpoints replace in's: a service's only (a
 * web app keeps its one "web" endpoint, a task has none), and the health
 * check's port must stay one of theirs. -1 with *status 422 and in unchanged.
 */
int comp_input_set_endpoints(struct comp_input *in,
    const struct endpoints *eps, int *status, struct error *err);

/* comp_store.c: SQL on the component schema. */
int comp_store_registry_host(struct store *s, const char *org,
    const char *registry_id, char *host, size_t hostlen, struct error *err);
/* Inserts a validated component; endpoints, health, resources as jsonb. */
int comp_store_insert(struct store *s, const char *id,
    const struct comp_input *in, struct error *err);
/* Description, schedule, timezone and task settings of a PATCH. */
int comp_store_update(struct store *s, const char *id,
    const struct comp_input *in, struct error *err);
/* Component as JSON (NULL + err code "not_found" when absent). */
json_t *comp_store_get(struct store *s, const char *id, struct error *err);
/* The same, locked for the rest of the caller's transaction. */
json_t *comp_store_get_for_update(struct store *s, const char *id,
    struct error *err);
json_t *comp_store_list(struct store *s, const char *org, const char *project,
    struct error *err);
/* 1 with org filled when the component exists, 0 when not, -1 on error. */
int comp_store_org(struct store *s, const char *id, char *org, size_t orglen,
    struct error *err);
int comp_store_token_insert(struct store *s, const char *id,
    const char *component_id, const char *name, const char *hash,
    const char *prefix, long long expires_days, const char *signing_box,
    struct error *err);
json_t *comp_store_token_get(struct store *s, const char *id,
    struct error *err);
json_t *comp_store_token_list(struct store *s, const char *component_id,
    struct error *err);
/* 1 revoked now (hash/prefix filled), 0 already revoked, -1 error (not_found). */
int comp_store_token_revoke(struct store *s, const char *component_id,
    const char *token_id, char hash[65], char prefix[16], struct error *err);
/* 1 marked deleted now, 0 no live component, -1 error. */
int comp_store_delete(struct store *s, const char *id, struct error *err);
/* Revokes every live token: [{"id","hash","prefix"}] of those revoked now. */
json_t *comp_store_token_revoke_all(struct store *s, const char *component_id,
    struct error *err);
/* Live tokens: [{"id","hash","expires_at_ms","signing_box"}]. */
json_t *comp_store_token_live(struct store *s, const char *component_id,
    struct error *err);
int comp_store_registry_upsert(struct store *s, const char *id,
    const char *org, const char *host, const char *auth_type,
    struct error *err);
int comp_store_registry_delete(struct store *s, const char *id,
    struct error *err);
/*
 * Inside the caller's transaction: the component's schema files become
 * set (the set's bytes as given) and endpoints_updated_at now.
 */
int comp_store_schemas_replace(struct store *s, const char *id,
    const struct schema_set *set, struct error *err);
/* {"schemas":[{"file","type","media_type","size","sha256"}],"updated_at"}. */
json_t *comp_store_schemas(struct store *s, const char *id,
    struct error *err);
/* One file's bytes (malloc'd, *len) and media type; NULL + not_found. */
unsigned char *comp_store_schema_get(struct store *s, const char *id,
    const char *file, size_t *len, char *media_type, size_t mtlen,
    struct error *err);

/* comp_events.c: outgoing envelopes and the registry-events consumer. */
/* ComponentCreated, or ComponentUpdated when updated: the whole component. */
int comp_events_component(struct store *s, int updated, const char *id,
    const struct comp_input *in, const char *trace, struct error *err);
int comp_events_token_issued(struct store *s, const char *org,
    const char *component_id, const char *token_id, const char *hash,
    const char *prefix, long long expires_at_ms, const char *trace,
    struct error *err);
int comp_events_token_revoked(struct store *s, const char *org,
    const char *component_id, const char *token_id, const char *hash,
    const char *prefix, const char *trace, struct error *err);
int comp_events_component_deleted(struct store *s, const char *org,
    const char *component_id, const char *trace, struct error *err);
struct bus_consumer *comp_events_consumer_new(struct comp_ctx *ctx,
    struct error *err);

/* comp_http.c: the management API routes. */
struct http_server *comp_http_new(struct comp_ctx *ctx, struct error *err);
/* The park_fn of component creates parked on an unknown registry. */
int comp_http_create_resume(void *ctx, struct http_request *req, void *in,
    enum park_why why);
/* Shared by tokens.c: the reply for a store error (503 when the DB is down). */
void comp_http_store_error(struct http_request *req, const struct error *err);
/*
 * 1 when the caller may see a component of org (the operator, or a key of
 * that org); 0 after replying 404, as if it did not exist.
 */
int comp_http_visible(struct http_request *req, const char *org);

/*
 * comp_endpoints.c: PUT/GET /v1/components/{id}/endpoints and GET
 * .../endpoints/schemas/{file}. A PUT's body: endpoints.yaml and up to
 * SCHEMAS_MAX files of SCHEMA_FILE_MAX bytes, with room for the multipart
 * framing.
 */
#define COMP_ENDPOINTS_MAX_BODY \
	(SCHEMAS_MAX * SCHEMA_FILE_MAX + ENDPOINTS_YAML_MAX + 64 * 1024)
void comp_endpoints_put(struct http_request *req, void *arg);
void comp_endpoints_get(struct http_request *req, void *arg);
void comp_endpoints_schema(struct http_request *req, void *arg);

/* tokens.c: CI token handlers. */
void tokens_create(struct http_request *req, void *arg);
void tokens_list(struct http_request *req, void *arg);
void tokens_revoke(struct http_request *req, void *arg);
/*
 * After a commit: drops the Redis bindings of tokens ([{"hash"}]), or
 * rewrites those of live tokens ([{"id","hash","expires_at_ms",
 * "signing_box"}]) for component (comp_store_get's JSON) after its image
 * changed. With Redis down a dropped binding still goes when the webhook
 * consumes TokenRevoked.
 */
void tokens_drop_bindings(struct comp_ctx *ctx, json_t *tokens);
void tokens_rebind(struct comp_ctx *ctx, json_t *component, json_t *tokens);

#endif
