/*
 * deploy_store.c: deploy-svc's rows in Postgres (schema "deploy") and the
 * outbox events that announce changes to them. Every function that writes
 * expects to run inside the caller's transaction, so a row and the events
 * that announce it commit together or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_TIME(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define DEPLOY_COLUMNS \
	"id, component_id, org, environment, dataplane, image, digest, status, " \
	"reason, source, " DEPLOY_TIME("created_at") ", " DEPLOY_TIME("updated_at")

static void
deploy_store_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

/* Runs a query with text parameters. */
static int
deploy_store_q(struct store *s, struct store_result **out, const char *sql,
    int n, const char *const *vals, struct error *err)
{
	return store_exec(s, out, sql, n, vals, NULL, err);
}

/* Runs a query that returns at most one row; 1 found, 0 none, -1 error. */
static int
deploy_store_one(struct store *s, struct store_result **out, const char *sql,
    int n, const char *const *vals, struct error *err)
{
	if (deploy_store_q(s, out, sql, n, vals, err) == -1)
		return -1;
	if (store_result_rows(*out) == 0) {
		store_result_free(*out);
		*out = NULL;
		return 0;
	}
	return 1;
}

/* Writes one envelope to the outbox. */
static int
deploy_store_emit(struct store *s, const char *topic, const char *key,
    Envelope *env, struct error *err)
{
	return envelope_outbox(s, topic, key, env, err);
}

int
deploy_store_component_get(struct store *s, const char *id,
    struct deploy_component *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	int rc = deploy_store_one(s, &r, "SELECT id, org, name, type, "
	    "registry_id, registry_host, image, port, endpoint_type FROM components "
	    "WHERE id = $1 AND NOT deleted", 1, vals, err);

	if (rc <= 0)
		return rc;
	deploy_store_copy(out->id, sizeof(out->id), store_result_get(r, 0, 0));
	deploy_store_copy(out->org, sizeof(out->org), store_result_get(r, 0, 1));
	deploy_store_copy(out->name, sizeof(out->name), store_result_get(r, 0, 2));
	deploy_store_copy(out->type, sizeof(out->type), store_result_get(r, 0, 3));
	deploy_store_copy(out->registry_id, sizeof(out->registry_id),
	    store_result_get(r, 0, 4));
	deploy_store_copy(out->registry_host, sizeof(out->registry_host),
	    store_result_get(r, 0, 5));
	deploy_store_copy(out->image, sizeof(out->image), store_result_get(r, 0, 6));
	out->port = atoi(store_result_get(r, 0, 7));
	deploy_store_copy(out->endpoint_type, sizeof(out->endpoint_type),
	    store_result_get(r, 0, 8));
	store_result_free(r);
	return 1;
}

/* Upserts the local copy from ComponentCreated / ComponentUpdated. */
int
deploy_store_component_put(struct store *s, const Slipway__V1__Component *c,
    struct error *err)
{
	const Slipway__V1__Endpoint *first = c->n_endpoints > 0 ?
	    c->endpoints[0] : NULL;
	char port[16];

	snprintf(port, sizeof(port), "%u", first != NULL ? first->port : 0);
	const char *vals[] = { c->component_id, c->org, c->project, c->name,
	    c->type, c->registry_id, c->registry_host, c->image, port,
	    first != NULL && first->type != NULL ? first->type : "" };
	return deploy_store_q(s, NULL, "INSERT INTO components (id, org, project, "
	    "name, type, registry_id, registry_host, image, port, endpoint_type) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	    "ON CONFLICT (id) DO UPDATE SET "
	    "org = $2, project = $3, name = $4, type = $5, registry_id = $6, "
	    "registry_host = $7, image = $8, port = $9, endpoint_type = $10, "
	    "updated_at = now()", 10, vals, err);
}

int
deploy_store_component_delete(struct store *s, const char *id,
    struct error *err)
{
	const char *vals[] = { id };
	return deploy_store_q(s, NULL, "UPDATE components SET deleted = true, "
	    "updated_at = now() WHERE id = $1", 1, vals, err);
}

int
deploy_store_component_endpoint(struct store *s, const char *id, int port,
    const char *type, struct error *err)
{
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	const char *vals[] = { id, p, type };
	return deploy_store_q(s, NULL, "UPDATE components SET port = $2, "
	    "endpoint_type = $3, updated_at = now() WHERE id = $1", 3, vals, err);
}

static void
deploy_store_target_fill(struct store_result *r, struct deploy_target *out)
{
	deploy_store_copy(out->environment, sizeof(out->environment),
	    store_result_get(r, 0, 0));
	deploy_store_copy(out->dataplane, sizeof(out->dataplane),
	    store_result_get(r, 0, 1));
	store_result_free(r);
}

int
deploy_store_environment_get(struct store *s, const char *org,
    const char *name, struct deploy_target *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { org, name };
	int rc = deploy_store_one(s, &r, "SELECT name, dataplane FROM "
	    "environments WHERE org = $1 AND name = $2", 2, vals, err);

	if (rc == 1)
		deploy_store_target_fill(r, out);
	return rc;
}

/* The default data plane: the configured one, else the earliest registered. */
static int
deploy_store_default_dataplane(struct store *s, const char *configured,
    char *out, size_t len, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { configured };
	int rc;

	if (configured != NULL && configured[0] != '\0')
		rc = deploy_store_one(s, &r, "SELECT name FROM dataplanes "
		    "WHERE name = $1", 1, vals, err);
	else
		rc = deploy_store_one(s, &r, "SELECT name FROM dataplanes "
		    "ORDER BY created_at, name LIMIT 1", 0, NULL, err);
	if (rc == 1) {
		deploy_store_copy(out, len, store_result_get(r, 0, 0));
		store_result_free(r);
	}
	return rc;
}

/*
 * The org's first environment (lowest position). An org without any gets
 * development (0) and production (1) on the default data plane. Returns 0
 * when no data plane is registered at all.
 */
int
deploy_store_environment_first(struct store *s, const char *org,
    const char *default_dp, struct deploy_target *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { org };
	char dp[48];
	int rc = deploy_store_one(s, &r, "SELECT name, dataplane FROM "
	    "environments WHERE org = $1 ORDER BY position, name LIMIT 1",
	    1, vals, err);

	if (rc != 0) {
		if (rc == 1)
			deploy_store_target_fill(r, out);
		return rc;
	}
	rc = deploy_store_default_dataplane(s, default_dp, dp, sizeof(dp), err);
	if (rc <= 0)
		return rc;
	if (deploy_store_environment_put(s, org, "development", dp, 0, err) == -1 ||
	    deploy_store_environment_put(s, org, "production", dp, 1, err) == -1)
		return -1;
	deploy_store_copy(out->environment, sizeof(out->environment), "development");
	deploy_store_copy(out->dataplane, sizeof(out->dataplane), dp);
	return 1;
}

/* Upserts an environment and announces it (EnvironmentChanged, key org). */
int
deploy_store_environment_put(struct store *s, const char *org,
    const char *name, const char *dataplane, int position, struct error *err)
{
	Slipway__V1__EnvironmentChanged ec;
	Envelope env;
	char event_id[37], pos[16];

	slipway__v1__environment_changed__init(&ec);
	snprintf(pos, sizeof(pos), "%d", position);
	const char *vals[] = { org, name, dataplane, pos };
	if (deploy_store_q(s, NULL, "INSERT INTO environments (org, name, "
	    "dataplane, position) VALUES ($1, $2, $3, $4) ON CONFLICT (org, name) "
	    "DO UPDATE SET dataplane = $3, position = $4", 4, vals, err) == -1)
		return -1;
	ec.org = DEPLOY_STR(org);
	ec.name = DEPLOY_STR(name);
	ec.dataplane = DEPLOY_STR(dataplane);
	ec.position = (uint32_t)position;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_ENVIRONMENT_CHANGED,
	    event_id, org, NULL);
	env.environment_changed = &ec;
	return deploy_store_emit(s, TOPIC_DEPLOY_EVENTS, org, &env, err);
}

static int
deploy_store_emit_requested(struct store *s, const struct deploy_new *d,
    struct error *err)
{
	Slipway__V1__DeploymentRequested dr;
	Envelope env;
	char event_id[37];

	slipway__v1__deployment_requested__init(&dr);
	dr.deployment_id = DEPLOY_STR(d->id);
	dr.component_id = DEPLOY_STR(d->component_id);
	dr.environment = DEPLOY_STR(d->target->environment);
	dr.image = DEPLOY_STR(d->image);
	dr.digest = DEPLOY_STR(d->digest);
	dr.source = DEPLOY_STR(d->source);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_REQUESTED,
	    event_id, d->org, NULL);
	env.deployment_requested = &dr;
	return deploy_store_emit(s, TOPIC_DEPLOY_EVENTS, d->id, &env, err);
}

/* ApplyDeployment on the data plane's commands topic, key component id. */
static int
deploy_store_emit_apply(struct store *s, const struct deploy_new *d,
    struct error *err)
{
	Slipway__V1__ApplyDeployment ad;
	Slipway__V1__EnvVar port_var;
	Slipway__V1__EnvVar *vars[1] = { &port_var };
	const struct deploy_component *c = d->comp;
	Envelope env;
	char event_id[37], topic[128], port[16];

	slipway__v1__apply_deployment__init(&ad);
	slipway__v1__env_var__init(&port_var);
	if (topic_dataplane_commands(d->target->dataplane, topic,
	    sizeof(topic)) == -1) {
		error_set(err, "db_error", "", "data plane name too long");
		return -1;
	}
	ad.deployment_id = DEPLOY_STR(d->id);
	ad.component_id = DEPLOY_STR(c->id);
	ad.component_name = DEPLOY_STR(c->name);
	ad.component_type = DEPLOY_STR(c->type);
	ad.environment = DEPLOY_STR(d->target->environment);
	ad.image = DEPLOY_STR(d->image);
	ad.digest = DEPLOY_STR(d->digest);
	ad.registry_id = DEPLOY_STR(c->registry_id);
	ad.registry_host = DEPLOY_STR(c->registry_host);
	ad.port = c->port > 0 ? (uint32_t)c->port : 0;
	ad.endpoint_type = DEPLOY_STR(c->endpoint_type);
	if (c->port > 0) {
		snprintf(port, sizeof(port), "%d", c->port);
		port_var.name = DEPLOY_STR("PORT");
		port_var.value = port;
		ad.n_env = 1;
		ad.env = vars;
	}
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT,
	    event_id, d->org, NULL);
	env.apply_deployment = &ad;
	return deploy_store_emit(s, topic, c->id, &env, err);
}

/*
 * Records a deployment and its events: DeploymentRequested, then either
 * ApplyDeployment (pending) or DeploymentStatusChanged (failed at once).
 * Returns 1 when created, 0 when that id exists already (a redelivery: the
 * first one did all the work), -1 on error.
 */
int
deploy_store_deployment_create(struct store *s, const struct deploy_new *d,
    struct error *err)
{
	enum deploy_status st = d->failed_reason != NULL ? DEPLOY_FAILED :
	    DEPLOY_PENDING;
	struct store_result *r;
	char rank[8];
	long n;

	snprintf(rank, sizeof(rank), "%d", (int)st);
	const char *vals[] = { d->id, d->component_id, d->org,
	    d->target->environment, d->target->dataplane, d->image, d->digest,
	    deploy_state_name(st), d->failed_reason ? d->failed_reason : "",
	    d->source, rank };
	if (deploy_store_q(s, &r, "INSERT INTO deployments (id, component_id, "
	    "org, environment, dataplane, image, digest, status, reason, source, "
	    "status_rank) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
	    "ON CONFLICT (id) DO NOTHING", 11, vals, err) == -1)
		return -1;
	n = store_result_affected(r);
	store_result_free(r);
	if (n == 0)
		return 0;
	if (deploy_store_emit_requested(s, d, err) == -1)
		return -1;
	if (d->failed_reason != NULL) {
		struct deploy_current cur;

		memset(&cur, 0, sizeof(cur));
		deploy_store_copy(cur.component_id, sizeof(cur.component_id),
		    d->component_id);
		deploy_store_copy(cur.org, sizeof(cur.org), d->org);
		deploy_store_copy(cur.environment, sizeof(cur.environment),
		    d->target->environment);
		return deploy_store_emit_status(s, d->id, &cur, DEPLOY_FAILED,
		    d->digest, d->failed_reason, err) == -1 ? -1 : 1;
	}
	return deploy_store_emit_apply(s, d, err) == -1 ? -1 : 1;
}

/* Reads a deployment and locks its row until the transaction ends. */
int
deploy_store_deployment_lock(struct store *s, const char *id,
    struct deploy_current *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	int rc = deploy_store_one(s, &r, "SELECT status, component_id, org, "
	    "environment, image, digest FROM deployments WHERE id = $1 "
	    "FOR UPDATE", 1, vals, err);

	if (rc <= 0)
		return rc;
	deploy_store_copy(out->status, sizeof(out->status), store_result_get(r, 0, 0));
	deploy_store_copy(out->component_id, sizeof(out->component_id),
	    store_result_get(r, 0, 1));
	deploy_store_copy(out->org, sizeof(out->org), store_result_get(r, 0, 2));
	deploy_store_copy(out->environment, sizeof(out->environment),
	    store_result_get(r, 0, 3));
	deploy_store_copy(out->image, sizeof(out->image), store_result_get(r, 0, 4));
	deploy_store_copy(out->digest, sizeof(out->digest), store_result_get(r, 0, 5));
	store_result_free(r);
	return 1;
}

/* Moves a deployment; an empty digest or reason keeps the stored one. */
int
deploy_store_status_set(struct store *s, const char *id, enum deploy_status st,
    const char *digest, const char *reason, struct error *err)
{
	char rank[8];

	snprintf(rank, sizeof(rank), "%d", (int)st);
	const char *vals[] = { id, deploy_state_name(st), rank,
	    digest ? digest : "", reason ? reason : "" };
	return deploy_store_q(s, NULL, "UPDATE deployments SET status = $2, "
	    "status_rank = $3, digest = CASE WHEN $4 <> '' THEN $4 ELSE digest END, "
	    "reason = CASE WHEN $5 <> '' THEN $5 ELSE reason END, "
	    "updated_at = clock_timestamp() WHERE id = $1", 5, vals, err);
}

/*
 * A deployment reached running: every other running deployment of the same
 * component and environment has been replaced on the data plane.
 */
int
deploy_store_supersede(struct store *s, const char *component_id,
    const char *environment, const char *except_id, struct error *err)
{
	struct store_result *r;
	struct deploy_current cur;
	const char *vals[] = { component_id, environment, except_id };
	int rc = 0;

	if (deploy_store_q(s, &r, "UPDATE deployments SET status = 'superseded', "
	    "status_rank = 6, updated_at = clock_timestamp() "
	    "WHERE component_id = $1 AND environment = $2 AND status = 'running' "
	    "AND id <> $3 RETURNING id, org, digest", 3, vals, err) == -1)
		return -1;
	for (int i = 0; i < store_result_rows(r) && rc == 0; i++) {
		memset(&cur, 0, sizeof(cur));
		deploy_store_copy(cur.component_id, sizeof(cur.component_id),
		    component_id);
		deploy_store_copy(cur.environment, sizeof(cur.environment),
		    environment);
		deploy_store_copy(cur.org, sizeof(cur.org), store_result_get(r, i, 1));
		rc = deploy_store_emit_status(s, store_result_get(r, i, 0), &cur,
		    DEPLOY_SUPERSEDED, store_result_get(r, i, 2), "", err);
	}
	store_result_free(r);
	return rc;
}

/* DeploymentStatusChanged on deploy.events, key deployment id. */
int
deploy_store_emit_status(struct store *s, const char *id,
    const struct deploy_current *cur, enum deploy_status st,
    const char *digest, const char *reason, struct error *err)
{
	Slipway__V1__DeploymentStatusChanged sc;
	Envelope env;
	char event_id[37];

	slipway__v1__deployment_status_changed__init(&sc);
	sc.deployment_id = DEPLOY_STR(id);
	sc.component_id = DEPLOY_STR(cur->component_id);
	sc.environment = DEPLOY_STR(cur->environment);
	sc.state = (Slipway__V1__DeploymentState)deploy_state_to_proto(st);
	sc.digest = DEPLOY_STR((digest ? digest : ""));
	sc.reason = DEPLOY_STR((reason ? reason : ""));
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS_CHANGED,
	    event_id, cur->org, NULL);
	env.deployment_status_changed = &sc;
	return deploy_store_emit(s, TOPIC_DEPLOY_EVENTS, id, &env, err);
}

/* One row of a DEPLOY_COLUMNS query as the API's deployment object. */
static json_t *
deploy_store_row_json(const struct store_result *r, int i)
{
	static const char *const keys[] = { "id", "component_id", "org",
	    "environment", "dataplane", "image", "digest", "status", "reason",
	    "source", "created_at", "updated_at" };
	json_t *o = json_object();

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		json_object_set_new(o, keys[k],
		    json_string(store_result_get(r, i, (int)k)));
	return o;
}

/* The deployment object, or NULL with err code "not_found" / a store code. */
json_t *
deploy_store_deployment_json(struct store *s, const char *id, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	json_t *o;
	int rc = deploy_store_one(s, &r, "SELECT " DEPLOY_COLUMNS
	    " FROM deployments WHERE id = $1", 1, vals, err);

	if (rc <= 0) {
		if (rc == 0)
			error_set(err, "not_found", "", "no such deployment");
		return NULL;
	}
	o = deploy_store_row_json(r, 0);
	store_result_free(r);
	return o;
}

/* A component's deployment history, newest first. */
json_t *
deploy_store_deployments_json(struct store *s, const char *component_id,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id };
	json_t *arr;

	if (deploy_store_q(s, &r, "SELECT " DEPLOY_COLUMNS " FROM deployments "
	    "WHERE component_id = $1 ORDER BY created_at DESC, id DESC LIMIT 500",
	    1, vals, err) == -1)
		return NULL;
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, deploy_store_row_json(r, i));
	store_result_free(r);
	return arr;
}
