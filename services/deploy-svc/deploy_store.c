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
#include "crypto.h"
#include "outbox.h"
#include "sqlarray.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_COLUMNS \
	"id, component_id, org, environment, dataplane, image, digest, status, " \
	"reason, source, " DEPLOY_TIME("created_at") ", " DEPLOY_TIME("updated_at") \
	", endpoints::text, exit_code, log_tail, probe, restarts, config_version, " \
	"endpoints_ran_with::text"
/* What deploy_store_current_fill reads, in its order; more columns go after. */
#define DEPLOY_CURRENT_COLUMNS \
	"status, component_id, org, environment, image, digest, observed_at_ms, " \
	"reason, exit_code, log_tail, probe, endpoints::text, dataplane"
#define DEPLOY_CURRENT_NCOLUMNS 13
#define DEPLOY_COMPONENT_COLUMNS \
	"id, org, project, name, type, registry_id, registry_host, image, port, " \
	"endpoint_type, endpoints::text, health::text, resources::text, task::text"

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
int
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

/*
 * Outbox rows gathered for one statement (the deployments of a batch,
 * deploy_store_deployments_create), each owning its copies; owner is the
 * deployment that caused it.
 */
struct deploy_store_row {
	char *topic, *key;
	unsigned char *payload;
	size_t len;
	char event_id[37];
	const char *type;   /* static: envelope_type_name */
	size_t owner;
};
struct deploy_store_rows {
	struct deploy_store_row *v;
	size_t n, cap;
	size_t owner;       /* of the rows added next */
};

static void
deploy_store_rows_free(struct deploy_store_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->v[i].topic);
		free(rows->v[i].key);
		free(rows->v[i].payload);
	}
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

/* Room for one more row; -1 with err when memory is short. */
static int
deploy_store_rows_grow(struct deploy_store_rows *rows, struct error *err)
{
	size_t cap = rows->cap > 0 ? rows->cap * 2 : 64;
	struct deploy_store_row *v;

	if (rows->n < rows->cap)
		return 0;
	if ((v = realloc(rows->v, cap * sizeof(*v))) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	rows->v = v;
	rows->cap = cap;
	return 0;
}

static int
deploy_store_rows_add(struct deploy_store_rows *rows, const char *topic,
    const char *key, const Envelope *env, struct error *err)
{
	struct deploy_store_row *r;

	if (deploy_store_rows_grow(rows, err) == -1)
		return -1;
	r = &rows->v[rows->n];
	memset(r, 0, sizeof(*r));
	r->topic = strdup(topic);
	r->key = strdup(key);
	r->payload = envelope_pack(env, &r->len);
	snprintf(r->event_id, sizeof(r->event_id), "%s", env->event_id);
	r->type = env->type;
	r->owner = rows->owner;
	rows->n++;
	if (r->topic == NULL || r->key == NULL || r->payload == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Writes the gathered rows in one statement, in their order. A payload
 * over the cap sets *bad to its owner; any other failure to n.
 */
static int
deploy_store_rows_write(struct store *s, const struct deploy_store_rows *rows,
    size_t n, size_t *bad, struct error *err)
{
	struct outbox_entry *e = calloc(rows->n > 0 ? rows->n : 1, sizeof(*e));
	size_t row;
	int rc;

	*bad = n;
	if (e == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	for (size_t i = 0; i < rows->n; i++)
		e[i] = (struct outbox_entry){ rows->v[i].topic, rows->v[i].key,
		    rows->v[i].payload, rows->v[i].len, rows->v[i].event_id,
		    rows->v[i].type };
	rc = outbox_add_many(s, e, rows->n, &row, err);
	if (rc == -1 && row < rows->n)
		*bad = rows->v[row].owner;
	free(e);
	return rc;
}

/* Writes one envelope to the outbox, or to rows when gathering. */
static int
deploy_store_emit(struct store *s, struct deploy_store_rows *rows,
    const char *topic, const char *key, Envelope *env, struct error *err)
{
	if (rows != NULL)
		return deploy_store_rows_add(rows, topic, key, env, err);
	return envelope_outbox(s, topic, key, env, err);
}

/* A NULL column as a NULL string, for the optional jsonb ones. */
static const char *
deploy_store_get_or_null(const struct store_result *r, int row, int col)
{
	return store_result_isnull(r, row, col) ? NULL :
	    store_result_get(r, row, col);
}

static int
deploy_store_component_fill(const struct store_result *r,
    struct deploy_component *out, struct error *err)
{
	struct { char *dst; size_t size; } cols[] = {
		{ out->id, sizeof(out->id) }, { out->org, sizeof(out->org) },
		{ out->project, sizeof(out->project) },
		{ out->name, sizeof(out->name) }, { out->type, sizeof(out->type) },
		{ out->registry_id, sizeof(out->registry_id) },
		{ out->registry_host, sizeof(out->registry_host) },
		{ out->image, sizeof(out->image) },
	};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		deploy_store_copy(cols[i].dst, cols[i].size,
		    store_result_get(r, 0, (int)i));
	out->port = atoi(store_result_get(r, 0, 8));
	deploy_store_copy(out->endpoint_type, sizeof(out->endpoint_type),
	    store_result_get(r, 0, 9));
	if (deploy_component_columns_parse(store_result_get(r, 0, 10),
	    deploy_store_get_or_null(r, 0, 11), deploy_store_get_or_null(r, 0, 12),
	    out, err) == -1)
		return -1;
	return deploy_component_task_parse(deploy_store_get_or_null(r, 0, 13),
	    out, err);
}

int
deploy_store_component_get(struct store *s, const char *id,
    struct deploy_component *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	int rc = deploy_store_one(s, &r, "SELECT " DEPLOY_COMPONENT_COLUMNS
	    " FROM components WHERE id = $1 AND NOT deleted", 1, vals, err);

	if (rc <= 0)
		return rc;
	rc = deploy_store_component_fill(r, out, err) == -1 ? -1 : 1;
	store_result_free(r);
	return rc;
}

/* A value as jsonb text (malloc'd); NULL with err when out of memory. */
static char *
deploy_store_jsonb(json_t *v, struct error *err)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) :
	    NULL;

	json_decref(v);
	if (text == NULL)
		error_set(err, "internal", "", "out of memory");
	return text;
}

/* The jsonb texts of a component's columns, in the upsert's order. */
struct deploy_store_component_json {
	char *eps, *health, *resources, *task;
};

static int
deploy_store_component_upsert(struct store *s, const struct deploy_component *c,
    const struct deploy_store_component_json *j, struct error *err)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", c->port);
	const char *vals[] = { c->id, c->org, c->project, c->name, c->type,
	    c->registry_id, c->registry_host, c->image, port, c->endpoint_type,
	    j->eps, c->health.set ? j->health : NULL,
	    c->resources.set ? j->resources : NULL,
	    c->task.set ? j->task : NULL };
	return deploy_store_q(s, NULL, "INSERT INTO components (id, org, project, "
	    "name, type, registry_id, registry_host, image, port, endpoint_type, "
	    "endpoints, health, resources, task) VALUES ($1, $2, $3, $4, $5, $6, "
	    "$7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb) "
	    "ON CONFLICT (id) DO UPDATE SET "
	    "org = $2, project = $3, name = $4, type = $5, registry_id = $6, "
	    "registry_host = $7, image = $8, port = $9, endpoint_type = $10, "
	    "endpoints = $11::jsonb, health = $12::jsonb, resources = $13::jsonb, "
	    "task = $14::jsonb, updated_at = now()", 14, vals, err);
}

/* The task settings as a JSON object of their own (workload_task_json). */
static json_t *
deploy_store_task_json(const struct workload_task *t)
{
	json_t *o = json_object();

	if (o != NULL)
		workload_task_json(t, o);
	return o;
}

/* Upserts the local copy from ComponentCreated / ComponentUpdated. */
int
deploy_store_component_put(struct store *s, const struct deploy_component *c,
    struct error *err)
{
	struct deploy_store_component_json j = {
		.eps = deploy_store_jsonb(deploy_component_endpoints_json(c), err),
		.health = deploy_store_jsonb(workload_health_json(&c->health), err),
		.resources = deploy_store_jsonb(
		    workload_resources_json(&c->resources), err),
		.task = deploy_store_jsonb(deploy_store_task_json(&c->task), err),
	};
	int rc = -1;

	if (j.eps != NULL && j.health != NULL && j.resources != NULL &&
	    j.task != NULL)
		rc = deploy_store_component_upsert(s, c, &j, err);
	free(j.eps);
	free(j.health);
	free(j.resources);
	free(j.task);
	return rc;
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
deploy_store_component_endpoints(struct store *s,
    const struct deploy_component *c, struct error *err)
{
	char port[16], *eps;
	int rc;

	if ((eps = deploy_store_jsonb(deploy_component_endpoints_json(c),
	    err)) == NULL)
		return -1;
	snprintf(port, sizeof(port), "%d", c->port);
	const char *vals[] = { c->id, port, c->endpoint_type, eps };
	rc = deploy_store_q(s, NULL, "UPDATE components SET port = $2, "
	    "endpoint_type = $3, endpoints = $4::jsonb, updated_at = now() "
	    "WHERE id = $1", 4, vals, err);
	free(eps);
	return rc;
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
 * Whether org may bind the data plane: shared, or granted to it. The row
 * is locked FOR SHARE until the transaction ends, so a re-registration
 * that narrows the grants (FOR UPDATE) waits and then sees this binding.
 * -1 with err unknown_dataplane or dataplane_not_granted when it may not.
 */
static int
deploy_store_dataplane_granted(struct store *s, const char *org,
    const char *dataplane, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { org, dataplane };
	int rc = deploy_store_one(s, &r, "SELECT d.shared OR EXISTS (SELECT 1 "
	    "FROM dataplane_grants g WHERE g.dataplane = d.name AND g.org = $1) "
	    "FROM dataplanes d WHERE d.name = $2 FOR SHARE OF d", 2, vals, err);
	int granted;

	if (rc == -1)
		return -1;
	if (rc == 0) {
		error_set(err, "unknown_dataplane", "dataplane",
		    "no data plane %s is registered", dataplane);
		return -1;
	}
	granted = strcmp(store_result_get(r, 0, 0), "t") == 0;
	store_result_free(r);
	if (!granted) {
		error_set(err, "dataplane_not_granted", "dataplane", "data plane %s "
		    "is not granted to org %s", dataplane, org);
		return -1;
	}
	return 0;
}

struct deploy_store_defaults {
	const char *org;
	const char *dataplane;
};

/* Both default environments and their events, or neither. */
static int
deploy_store_defaults_put(struct store *s, void *arg, struct error *err)
{
	const struct deploy_store_defaults *d = arg;

	return deploy_store_environment_put(s, d->org, "development",
	    d->dataplane, 0, err) == -1 || deploy_store_environment_put(s,
	    d->org, "production", d->dataplane, 1, err) == -1 ? -1 : 0;
}

/*
 * The org's first environment (lowest position). An org without any gets
 * development (0) and production (1) on the default data plane, when that
 * one is granted to it (else -1, dataplane_not_granted), in one transaction
 * (the caller's, or its own). Returns 0 when no data plane is registered
 * at all.
 */
int
deploy_store_environment_first(struct store *s, const char *org,
    const char *default_dp, struct deploy_target *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { org };
	struct deploy_store_defaults def;
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
	def = (struct deploy_store_defaults){ org, dp };
	if ((store_in_tx(s) ? deploy_store_defaults_put(s, &def, err) :
	    store_tx(s, deploy_store_defaults_put, &def, err)) == -1)
		return -1;
	deploy_store_copy(out->environment, sizeof(out->environment), "development");
	deploy_store_copy(out->dataplane, sizeof(out->dataplane), dp);
	return 1;
}

/*
 * Upserts an environment and announces it (EnvironmentChanged, key org);
 * -1 unknown_dataplane / dataplane_not_granted when org may not bind it.
 */
int
deploy_store_environment_put(struct store *s, const char *org,
    const char *name, const char *dataplane, int position, struct error *err)
{
	Slipway__V1__EnvironmentChanged ec;
	Envelope env;
	char event_id[37], pos[16];

	if (deploy_store_dataplane_granted(s, org, dataplane, err) == -1)
		return -1;
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
	return deploy_store_emit(s, NULL, TOPIC_DEPLOY_EVENTS, org, &env, err);
}

static int
deploy_store_emit_requested(struct store *s, struct deploy_store_rows *rows,
    const struct deploy_new *d, struct error *err)
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
	return deploy_store_emit(s, rows, TOPIC_DEPLOY_EVENTS, d->id, &env, err);
}

/* ApplyDeployment on the data plane's commands topic, key component id. */
static int
deploy_store_emit_apply(struct store *s, struct deploy_store_rows *rows,
    const struct deploy_new *d, const struct deploy_sealed *cs,
    struct error *err)
{
	Slipway__V1__ApplyDeployment ad;
	struct deploy_component_proto parts;
	Envelope env;
	char event_id[37], topic[128];

	slipway__v1__apply_deployment__init(&ad);
	if (topic_dataplane_commands(d->target->dataplane, topic,
	    sizeof(topic)) == -1) {
		error_set(err, "db_error", "", "data plane name too long");
		return -1;
	}
	deploy_component_to_apply(d->comp, &parts, &ad);
	ad.deployment_id = DEPLOY_STR(d->id);
	ad.environment = DEPLOY_STR(d->target->environment);
	ad.image = DEPLOY_STR(d->image);
	ad.digest = DEPLOY_STR(d->digest);
	ad.sealed_env.data = cs->blob;
	ad.sealed_env.len = cs->len;
	ad.config_version = (uint32_t)cs->version;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT,
	    event_id, d->org, NULL);
	env.apply_deployment = &ad;
	return deploy_store_emit(s, rows, topic, d->comp->id, &env, err);
}

/* DeploymentStatusChanged of a deployment that failed before any command. */
static int deploy_store_emit_status_to(struct store *,
    struct deploy_store_rows *, const char *, const struct deploy_current *,
    enum deploy_status, struct error *);

static int
deploy_store_emit_failed(struct store *s, struct deploy_store_rows *rows,
    const struct deploy_new *d, struct error *err)
{
	struct deploy_current cur;

	memset(&cur, 0, sizeof(cur));
	deploy_store_copy(cur.component_id, sizeof(cur.component_id),
	    d->component_id);
	deploy_store_copy(cur.org, sizeof(cur.org), d->org);
	deploy_store_copy(cur.environment, sizeof(cur.environment),
	    d->target->environment);
	deploy_store_copy(cur.digest, sizeof(cur.digest), d->digest);
	deploy_store_copy(cur.ev.reason, sizeof(cur.ev.reason), d->failed_reason);
	return deploy_store_emit_status_to(s, rows, d->id, &cur, DEPLOY_FAILED,
	    err);
}

/*
 * The configuration d runs, sealed (none for a deployment failed already).
 * A configuration that cannot be sealed (no keyring, a secret that does not
 * open, a data plane without a key) fails the deployment with the reason in
 * reason; -1 only for a store error.
 */
int
deploy_store_config(struct store *s, const struct deploy_new *d,
    struct deploy_sealed *cs, char *reason, size_t rlen, struct error *err)
{
	memset(cs, 0, sizeof(*cs));
	cs->version = d->config_pinned ? d->config_version : -1;
	if (d->failed_reason != NULL || d->comp == NULL) {
		cs->version = 0;
		return 0;
	}
	if (deploy_config_store_seal(s, d->keyring, d->component_id,
	    d->target->environment, d->target->dataplane, &cs->version,
	    &cs->blob, &cs->len, err) == 0)
		return 0;
	if (strcmp(err->code, "config_unavailable") != 0)
		return -1;
	snprintf(reason, rlen, "config_unavailable: %s", err->msg);
	error_clear(err);
	if (cs->version < 0)
		cs->version = 0;
	return 0;
}

/* The row of d (status st, configuration cs); 1 inserted, 0 it exists, -1. */
static int
deploy_store_deployment_insert(struct store *s, const struct deploy_new *d,
    enum deploy_status st, const char *reason,
    const struct deploy_sealed *cs, struct error *err)
{
	struct store_result *r;
	json_t *eps = d->comp != NULL ? deploy_component_endpoints_json(d->comp) :
	    json_array();
	char rank[8], cv[16], *ran = json_dumps(eps, JSON_COMPACT);
	long n;

	json_decref(eps);
	snprintf(rank, sizeof(rank), "%d", (int)st);
	snprintf(cv, sizeof(cv), "%d", cs->version);
	const char *vals[] = { d->id, d->component_id, d->org,
	    d->target->environment, d->target->dataplane, d->image, d->digest,
	    deploy_state_name(st), reason, d->source, rank, cv,
	    ran != NULL ? ran : "[]" };
	if (deploy_store_q(s, &r, "INSERT INTO deployments (id, component_id, "
	    "org, environment, dataplane, image, digest, status, reason, source, "
	    "status_rank, config_version, endpoints_ran_with) VALUES ($1, $2, $3, "
	    "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
	    "ON CONFLICT (id) DO NOTHING", 13, vals, err) == -1) {
		free(ran);
		return -1;
	}
	free(ran);
	n = store_result_affected(r);
	store_result_free(r);
	return n == 0 ? 0 : 1;
}

/* A new deployment's events: DeploymentRequested, then Apply or failed. */
static int
deploy_store_emit_events(struct store *s, struct deploy_store_rows *rows,
    const struct deploy_new *d, const struct deploy_sealed *cs,
    struct error *err)
{
	if (deploy_store_emit_requested(s, rows, d, err) == -1)
		return -1;
	if (d->failed_reason != NULL)
		return deploy_store_emit_failed(s, rows, d, err);
	return deploy_store_emit_apply(s, rows, d, cs, err);
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
	struct deploy_sealed cs;
	struct deploy_new failed;
	char reason[DEPLOY_REASON_MAX + 1] = "";
	int rc;

	if (deploy_store_config(s, d, &cs, reason, sizeof(reason), err) == -1)
		return -1;
	if (reason[0] != '\0') {
		failed = *d;
		failed.failed_reason = reason;
		d = &failed;
	}
	rc = deploy_store_deployment_insert(s, d, d->failed_reason != NULL ?
	    DEPLOY_FAILED : DEPLOY_PENDING, d->failed_reason ? d->failed_reason :
	    "", &cs, err);
	if (rc == 1 && deploy_store_emit_events(s, NULL, d, &cs, err) == -1)
		rc = -1;
	free(cs.blob);
	return rc;
}

/* The columns of a batch's deployments, one array literal each. */
enum {
	DEPLOY_BATCH_ID, DEPLOY_BATCH_COMPONENT, DEPLOY_BATCH_ORG,
	DEPLOY_BATCH_ENV, DEPLOY_BATCH_DP, DEPLOY_BATCH_IMAGE,
	DEPLOY_BATCH_DIGEST, DEPLOY_BATCH_STATUS, DEPLOY_BATCH_REASON,
	DEPLOY_BATCH_SOURCE, DEPLOY_BATCH_RANK, DEPLOY_BATCH_CONFIG,
	DEPLOY_BATCH_RAN, DEPLOY_BATCH_NCOLS
};

/* Deployment d (its configuration sealed already) as one row of cols. */
static int
deploy_store_batch_row(struct sqlarray *cols, const struct deploy_new *d,
    struct error *err)
{
	enum deploy_status st = d->failed_reason != NULL ? DEPLOY_FAILED :
	    DEPLOY_PENDING;
	json_t *eps = d->comp != NULL ? deploy_component_endpoints_json(d->comp) :
	    json_array();
	char *ran = json_dumps(eps, JSON_COMPACT);

	json_decref(eps);
	if (ran == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	sqlarray_text(&cols[DEPLOY_BATCH_ID], d->id);
	sqlarray_text(&cols[DEPLOY_BATCH_COMPONENT], d->component_id);
	sqlarray_text(&cols[DEPLOY_BATCH_ORG], d->org);
	sqlarray_text(&cols[DEPLOY_BATCH_ENV], d->target->environment);
	sqlarray_text(&cols[DEPLOY_BATCH_DP], d->target->dataplane);
	sqlarray_text(&cols[DEPLOY_BATCH_IMAGE], d->image);
	sqlarray_text(&cols[DEPLOY_BATCH_DIGEST], d->digest);
	sqlarray_text(&cols[DEPLOY_BATCH_STATUS], deploy_state_name(st));
	sqlarray_text(&cols[DEPLOY_BATCH_REASON], d->failed_reason != NULL ?
	    d->failed_reason : "");
	sqlarray_text(&cols[DEPLOY_BATCH_SOURCE], d->source);
	sqlarray_int(&cols[DEPLOY_BATCH_RANK], (int)st);
	sqlarray_int(&cols[DEPLOY_BATCH_CONFIG], d->sealed->version);
	sqlarray_text(&cols[DEPLOY_BATCH_RAN], ran);
	free(ran);
	return 0;
}

/*
 * created[i] = 1 for the first place of each id the insert returned
 * (Postgres writes a uuid in lower case; ours are checked UUIDs of either
 * case): a later place of the same id is a duplicate of the first.
 */
static int
deploy_store_batch_created(const struct store_result *r,
    const struct deploy_new *ds, size_t n, int *created, struct error *err)
{
	const char **ids = calloc(n > 0 ? n : 1, sizeof(*ids));
	int rc;

	if (ids != NULL)
		for (size_t i = 0; i < n; i++)
			ids[i] = ds[i].id;
	rc = ids == NULL ? -1 : sqlarray_mark_returned(r, 0, ids, n, 1, created);
	free(ids);
	if (rc == -1)
		error_set(err, "internal", "", "out of memory");
	return rc;
}

/* The rows of ds in one INSERT; created[i] says which were new. */
static int
deploy_store_batch_insert(struct store *s, const struct deploy_new *ds,
    size_t n, int *created, struct error *err)
{
	struct sqlarray cols[DEPLOY_BATCH_NCOLS];
	const char *vals[DEPLOY_BATCH_NCOLS];
	struct store_result *r;
	int rc = 0;

	for (size_t c = 0; c < DEPLOY_BATCH_NCOLS; c++)
		sqlarray_init(&cols[c]);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = deploy_store_batch_row(cols, &ds[i], err);
	for (size_t c = 0; c < DEPLOY_BATCH_NCOLS && rc == 0; c++)
		if ((vals[c] = sqlarray_finish(&cols[c])) == NULL) {
			error_set(err, "internal", "", "out of memory");
			rc = -1;
		}
	/* ORDER BY o: created_at (clock_timestamp per row) follows the batch. */
	if (rc == 0 && (rc = deploy_store_q(s, &r, "INSERT INTO deployments (id, "
	    "component_id, org, environment, dataplane, image, digest, status, "
	    "reason, source, status_rank, config_version, endpoints_ran_with) "
	    "SELECT i::uuid, c::uuid, g, e, p, im, dg, st, rs, src, rk, cv, "
	    "ran::jsonb FROM unnest($1::text[], $2::text[], $3::text[], "
	    "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
	    "$9::text[], $10::text[], $11::integer[], $12::integer[], $13::text[]) "
	    "WITH ORDINALITY AS u(i, c, g, e, p, im, dg, st, rs, src, rk, cv, ran, "
	    "o) ORDER BY o ON CONFLICT (id) DO NOTHING RETURNING id",
	    DEPLOY_BATCH_NCOLS, vals, err)) == 0) {
		rc = deploy_store_batch_created(r, ds, n, created, err);
		store_result_free(r);
	}
	for (size_t c = 0; c < DEPLOY_BATCH_NCOLS; c++)
		sqlarray_free(&cols[c]);
	return rc;
}

int
deploy_store_deployments_create(struct store *s, const struct deploy_new *ds,
    size_t n, int *created, size_t *bad, struct error *err)
{
	struct deploy_store_rows rows;
	int rc;

	*bad = n;
	memset(created, 0, n * sizeof(*created));
	for (size_t i = 0; i < n; i++)
		if (ds[i].sealed == NULL) {
			error_set(err, "internal", "", "deployment %s: configuration "
			    "not sealed", ds[i].id);
			*bad = i;
			return -1;
		}
	if (n == 0)
		return 0;
	if (deploy_store_batch_insert(s, ds, n, created, err) == -1)
		return -1;
	memset(&rows, 0, sizeof(rows));
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rows.owner = i;
		if (created[i])
			rc = deploy_store_emit_events(s, &rows, &ds[i], ds[i].sealed,
			    err);
	}
	if (rc == 0)
		rc = deploy_store_rows_write(s, &rows, n, bad, err);
	deploy_store_rows_free(&rows);
	return rc;
}

/* One row of a DEPLOY_CURRENT_COLUMNS query. */
static int
deploy_store_current_fill(const struct store_result *r, int i,
    struct deploy_current *out, struct error *err)
{
	struct { char *dst; size_t size; } cols[] = {
		{ out->status, sizeof(out->status) },
		{ out->component_id, sizeof(out->component_id) },
		{ out->org, sizeof(out->org) },
		{ out->environment, sizeof(out->environment) },
		{ out->image, sizeof(out->image) },
		{ out->digest, sizeof(out->digest) },
	};

	memset(out, 0, sizeof(*out));
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
		deploy_store_copy(cols[c].dst, cols[c].size,
		    store_result_get(r, i, (int)c));
	deploy_store_copy(out->dataplane, sizeof(out->dataplane),
	    store_result_get(r, i, 12));
	out->observed_at_ms = strtoll(store_result_get(r, i, 6), NULL, 10);
	deploy_store_copy(out->ev.reason, sizeof(out->ev.reason),
	    store_result_get(r, i, 7));
	out->ev.exited = !store_result_isnull(r, i, 8);
	out->ev.exit_code = out->ev.exited ? atoi(store_result_get(r, i, 8)) : 0;
	deploy_store_copy(out->ev.log_tail, sizeof(out->ev.log_tail),
	    store_result_get(r, i, 9));
	deploy_store_copy(out->ev.probe, sizeof(out->ev.probe),
	    store_result_get(r, i, 10));
	return deploy_evidence_addresses_parse(store_result_get(r, i, 11),
	    &out->ev, err);
}

static int
deploy_store_deployment_read(struct store *s, const char *sql, const char *id,
    struct deploy_current *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	int rc = deploy_store_one(s, &r, sql, 1, vals, err);

	if (rc <= 0)
		return rc;
	rc = deploy_store_current_fill(r, 0, out, err) == -1 ? -1 : 1;
	store_result_free(r);
	return rc;
}

/* Reads a deployment and locks its row until the transaction ends. */
int
deploy_store_deployment_lock(struct store *s, const char *id,
    struct deploy_current *out, struct error *err)
{
	return deploy_store_deployment_read(s, "SELECT " DEPLOY_CURRENT_COLUMNS
	    " FROM deployments WHERE id = $1 FOR UPDATE", id, out, err);
}

int
deploy_store_deployment_get(struct store *s, const char *id,
    struct deploy_current *out, struct error *err)
{
	return deploy_store_deployment_read(s, "SELECT " DEPLOY_CURRENT_COLUMNS
	    " FROM deployments WHERE id = $1", id, out, err);
}

int
deploy_store_observed_bump(struct store *s, const char *id,
    long long observed_at_ms, struct error *err)
{
	char observed[24];

	snprintf(observed, sizeof(observed), "%lld", observed_at_ms);
	const char *vals[] = { id, observed };
	return deploy_store_q(s, NULL, "UPDATE deployments SET observed_at_ms = "
	    "GREATEST(observed_at_ms, $2::bigint) WHERE id = $1", 2, vals, err);
}

int
deploy_store_status_set(struct store *s, const char *id, enum deploy_status st,
    const struct deploy_current *cur, long long observed_at_ms,
    struct error *err)
{
	char rank[8], exit_code[16], observed[24], *eps;
	int rc;

	if ((eps = deploy_store_jsonb(deploy_evidence_addresses_json(&cur->ev),
	    err)) == NULL)
		return -1;
	snprintf(rank, sizeof(rank), "%d", (int)st);
	snprintf(exit_code, sizeof(exit_code), "%d", cur->ev.exit_code);
	snprintf(observed, sizeof(observed), "%lld", observed_at_ms);
	const char *vals[] = { id, deploy_state_name(st), rank, cur->digest,
	    cur->ev.reason, cur->ev.exited ? exit_code : NULL, cur->ev.log_tail,
	    cur->ev.probe, eps, observed };
	rc = deploy_store_q(s, NULL, "UPDATE deployments SET status = $2, "
	    "status_rank = $3, digest = $4, reason = $5, exit_code = $6, "
	    "log_tail = $7, probe = $8, endpoints = $9::jsonb, "
	    "observed_at_ms = GREATEST(observed_at_ms, $10::bigint), "
	    "restarts = restarts + CASE WHEN $2 = 'crashed' AND status <> "
	    "'crashed' THEN 1 ELSE 0 END, "
	    "updated_at = clock_timestamp() WHERE id = $1", 10, vals, err);
	free(eps);
	return rc;
}

/* Row i of a locked DEPLOY_CURRENT_COLUMNS result moves to superseded. */
static int
deploy_store_supersede_one(struct store *s, const char *id,
    const struct store_result *r, int i, struct error *err)
{
	struct deploy_current cur;
	enum deploy_status from;

	if (deploy_store_current_fill(r, i, &cur, err) == -1)
		return -1;
	/* Not a report and not a cycle move: no clock to compare. */
	if (deploy_state_parse(cur.status, &from) == -1 ||
	    deploy_state_transition(from, DEPLOY_SUPERSEDED, 0) !=
	    DEPLOY_MOVE_ALLOWED) {
		log_warnx("deployment %s: %s cannot be superseded; left as is",
		    id, cur.status);
		return 0;
	}
	if (deploy_store_status_set(s, id, DEPLOY_SUPERSEDED, &cur, 0, err) == -1)
		return -1;
	log_info("deployment %s: %s -> superseded", id, cur.status);
	return deploy_store_emit_status(s, id, &cur, DEPLOY_SUPERSEDED, err);
}

/*
 * A deployment reached running (a service) or ready (a task): every other
 * running, crashed or ready deployment of the same component and
 * environment has been replaced on the data plane (a component whose type
 * changed between a service and a task included). Each goes through the
 * state machine like any other move.
 */
int
deploy_store_supersede(struct store *s, const char *component_id,
    const char *environment, const char *except_id, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id, environment, except_id };
	int rc = 0;

	/* Locked in id order, so two supersedes never wait on each other. */
	if (deploy_store_q(s, &r, "SELECT " DEPLOY_CURRENT_COLUMNS ", id"
	    " FROM deployments WHERE component_id = $1 AND environment = $2 "
	    "AND status IN ('running', 'crashed', 'ready') AND id <> $3 "
	    "ORDER BY id FOR UPDATE", 3, vals, err) == -1)
		return -1;
	for (int i = 0; i < store_result_rows(r) && rc == 0; i++)
		rc = deploy_store_supersede_one(s, store_result_get(r, i,
		    DEPLOY_CURRENT_NCOLUMNS), r, i, err);
	store_result_free(r);
	return rc;
}

/* DeploymentStatusChanged on deploy.events, key deployment id. */
int
deploy_store_emit_status(struct store *s, const char *id,
    const struct deploy_current *cur, enum deploy_status st,
    struct error *err)
{
	return deploy_store_emit_status_to(s, NULL, id, cur, st, err);
}

/* The same, into rows when gathering. */
static int
deploy_store_emit_status_to(struct store *s, struct deploy_store_rows *rows,
    const char *id, const struct deploy_current *cur, enum deploy_status st,
    struct error *err)
{
	Slipway__V1__DeploymentStatusChanged sc;
	struct deploy_evidence_proto parts;
	Envelope env;
	char event_id[37];

	slipway__v1__deployment_status_changed__init(&sc);
	sc.deployment_id = DEPLOY_STR(id);
	sc.component_id = DEPLOY_STR(cur->component_id);
	sc.environment = DEPLOY_STR(cur->environment);
	sc.state = (Slipway__V1__DeploymentState)deploy_state_to_proto(st);
	sc.digest = DEPLOY_STR(cur->digest);
	deploy_evidence_to_proto(&cur->ev, &parts, &sc);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS_CHANGED,
	    event_id, cur->org, NULL);
	env.deployment_status_changed = &sc;
	return deploy_store_emit(s, rows, TOPIC_DEPLOY_EVENTS, id, &env, err);
}

/* One row of a DEPLOY_COLUMNS query as the API's deployment object. */
static json_t *
deploy_store_row_json(const struct store_result *r, int i)
{
	static const char *const keys[] = { "id", "component_id", "org",
	    "environment", "dataplane", "image", "digest", "status", "reason",
	    "source", "created_at", "updated_at" };
	json_t *o = json_object(), *eps;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		json_object_set_new(o, keys[k],
		    json_string(store_result_get(r, i, (int)k)));
	/* The evidence columns of migration 002 follow, in DEPLOY_COLUMNS order. */
	eps = json_loads(store_result_get(r, i, (int)k), 0, NULL);
	json_object_set_new(o, "endpoints", json_is_array(eps) ? eps : json_array());
	if (!json_is_array(eps))
		json_decref(eps);
	json_object_set_new(o, "exit_code", store_result_isnull(r, i, (int)k + 1) ?
	    json_null() : json_integer(atoi(store_result_get(r, i, (int)k + 1))));
	json_object_set_new(o, "log_tail",
	    json_string(store_result_get(r, i, (int)k + 2)));
	json_object_set_new(o, "probe",
	    json_string(store_result_get(r, i, (int)k + 3)));
	json_object_set_new(o, "restarts",
	    json_integer(atoi(store_result_get(r, i, (int)k + 4))));
	/* Migration 006: the release's configuration and endpoints. */
	json_object_set_new(o, "config_version",
	    json_integer(atoi(store_result_get(r, i, (int)k + 5))));
	eps = json_loads(store_result_get(r, i, (int)k + 6), 0, NULL);
	json_object_set_new(o, "endpoints_ran_with",
	    json_is_array(eps) ? eps : json_array());
	if (!json_is_array(eps))
		json_decref(eps);
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
