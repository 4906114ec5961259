/*
 * comp_store.c: every SQL statement of component-svc, on the component
 * schema. Rows come back as the JSON objects the API answers with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "component.h"

/* RFC 3339 UTC with milliseconds, the format of every *_at field. */
#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define COMP_COLS "id, org, project, name, description, type, registry_id, " \
	"registry_host, image, endpoints::text, schedule, timezone, " \
	TS("created_at") ", health::text, resources::text, task::text"

#define TOKEN_COLS "id, prefix, name, " TS("created_at") ", " TS("expires_at") \
	", " TS("revoked_at") ", signing_secret_box IS NOT NULL"

static int
comp_store_exec(struct store *s, struct store_result **out, const char *sql,
    int n, const char *const *vals, struct error *err)
{
	return store_exec(s, out, sql, n, vals, NULL, err);
}

/* Sets key to the column's text, or to null when the column is NULL. */
static void
comp_store_set(json_t *o, const char *key, const struct store_result *r,
    int row, int col)
{
	if (store_result_isnull(r, row, col))
		json_object_set_new(o, key, json_null());
	else
		json_object_set_new(o, key,
		    json_string(store_result_get(r, row, col)));
}

int
comp_store_registry_host(struct store *s, const char *org,
    const char *registry_id, char *host, size_t hostlen, struct error *err)
{
	const char *v[] = { registry_id, org };
	struct store_result *r;
	int found;

	if (comp_store_exec(s, &r, "SELECT host FROM component.registries "
	    "WHERE id = $1 AND org = $2 AND NOT deleted", 2, v, err) < 0)
		return -1;
	found = store_result_rows(r) == 1;
	if (found)
		snprintf(host, hostlen, "%s", store_result_get(r, 0, 0));
	store_result_free(r);
	if (!found)
		error_set(err, "unknown_registry", "registry_id",
		    "no registry %s in org %s", registry_id, org);
	return found ? 0 : -1;
}

/*
 * *out gets v as a jsonb parameter's text (malloc'd), or NULL (SQL NULL)
 * when v is JSON null. Takes v's reference; a NULL v is out of memory.
 */
static int
comp_store_jsonb(json_t *v, char **out, struct error *err)
{
	*out = NULL;
	if (v == NULL || (!json_is_null(v) &&
	    (*out = json_dumps(v, JSON_COMPACT)) == NULL)) {
		json_decref(v);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	json_decref(v);
	return 0;
}

/* The columns a component's settings live in, as statement parameters. */
struct comp_store_cols {
	char *eps, *health, *resources, *task;
	const char *schedule, *timezone;    /* NULL: SQL NULL */
};

/* The policy and deadlines as stored in the task column; null for non-tasks. */
static json_t *
comp_store_task_json(const struct workload_task *t)
{
	json_t *o;

	if (!t->set)
		return json_null();
	o = json_object();
	workload_task_json(t, o);
	json_object_del(o, "schedule");
	json_object_del(o, "timezone");
	return o;
}

static int
comp_store_cols_make(const struct comp_input *in, struct comp_store_cols *c,
    struct error *err)
{
	memset(c, 0, sizeof(*c));
	c->schedule = in->task.schedule[0] != '\0' ? in->task.schedule : NULL;
	c->timezone = in->task.timezone[0] != '\0' ? in->task.timezone : NULL;
	if (comp_store_jsonb(endpoints_to_json(&in->endpoints), &c->eps, err) < 0 ||
	    comp_store_jsonb(workload_health_json(&in->health), &c->health,
	    err) < 0 ||
	    comp_store_jsonb(workload_resources_json(&in->resources),
	    &c->resources, err) < 0 ||
	    comp_store_jsonb(comp_store_task_json(&in->task), &c->task, err) < 0)
		return -1;
	return 0;
}

static void
comp_store_cols_free(struct comp_store_cols *c)
{
	free(c->eps);
	free(c->health);
	free(c->resources);
	free(c->task);
}

static int
comp_store_insert_row(struct store *s, const char *id,
    const struct comp_input *in, const struct comp_store_cols *c,
    struct error *err)
{
	const char *v[] = { id, in->org, in->project, in->name,
		in->description != NULL ? in->description : "", in->type,
		in->registry_id, in->registry_host, in->image, c->eps,
		c->schedule, c->timezone, c->health, c->resources, c->task };

	if (comp_store_exec(s, NULL, "INSERT INTO component.components (id, org, "
	    "project, name, description, type, registry_id, registry_host, image, "
	    "endpoints, schedule, timezone, health, resources, task, updated_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, "
	    "$13::jsonb, $14::jsonb, $15::jsonb, now())", 15, v, err) < 0) {
		if (strcmp(err->code, "unique_violation") == 0)
			error_set(err, "component_exists", "name",
			    "a component named %s already exists in %s/%s",
			    in->name, in->org, in->project);
		return -1;
	}
	return 0;
}

int
comp_store_insert(struct store *s, const char *id, const struct comp_input *in,
    struct error *err)
{
	struct comp_store_cols c;
	int rc = -1;

	if (comp_store_cols_make(in, &c, err) == 0)
		rc = comp_store_insert_row(s, id, in, &c, err);
	comp_store_cols_free(&c);
	return rc;
}

/* Writes back what a PATCH may change: description, image and the settings. */
int
comp_store_update(struct store *s, const char *id, const struct comp_input *in,
    struct error *err)
{
	struct comp_store_cols c;
	int rc = -1;

	if (comp_store_cols_make(in, &c, err) == 0) {
		const char *v[] = { id, in->description != NULL ?
			in->description : "", c.schedule, c.timezone, c.task,
			in->image, c.eps, c.health, c.resources };
		rc = comp_store_exec(s, NULL, "UPDATE component.components SET "
		    "description = $2, schedule = $3, timezone = $4, "
		    "task = $5::jsonb, image = $6, endpoints = $7::jsonb, "
		    "health = $8::jsonb, resources = $9::jsonb, updated_at = now() "
		    "WHERE id = $1 AND deleted_at IS NULL", 9, v, err);
	}
	comp_store_cols_free(&c);
	return rc;
}

/* A jsonb column as JSON: null when NULL (or, never expected, unreadable). */
static json_t *
comp_store_json_col(const struct store_result *r, int row, int col)
{
	json_t *v = store_result_isnull(r, row, col) ? NULL :
	    json_loads(store_result_get(r, row, col), 0, NULL);

	return v != NULL ? v : json_null();
}

static json_t *
comp_store_row(const struct store_result *r, int row)
{
	static const char *const keys[] = { "id", "org", "project", "name",
		"description", "type", "registry_id", "registry_host", "image",
		NULL, "schedule", "timezone", "created_at" };
	json_t *o = json_object(), *ep, *task;
	int c;

	for (c = 0; c < 13; c++)
		if (keys[c] != NULL)
			comp_store_set(o, keys[c], r, row, c);
	ep = comp_store_json_col(r, row, 9);
	json_object_set_new(o, "endpoints", json_is_array(ep) ? ep : json_array());
	if (!json_is_array(ep))
		json_decref(ep);
	/* Columns 13 and 14 (migration 002): null when the component has none. */
	json_object_set_new(o, "health", comp_store_json_col(r, row, 13));
	json_object_set_new(o, "resources", comp_store_json_col(r, row, 14));
	/* Column 15 (migration 004): a task's policy and deadlines. */
	task = comp_store_json_col(r, row, 15);
	if (json_is_object(task))
		json_object_update_missing(o, task);
	json_decref(task);
	if (strcmp(store_result_get(r, row, 5), "web-app") == 0)
		json_object_set(o, "port", json_object_get(json_array_get(
		    json_object_get(o, "endpoints"), 0), "port"));
	return o;
}

static json_t *
comp_store_get_row(struct store *s, const char *id, const char *sql,
    struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	json_t *o = NULL;

	if (comp_store_exec(s, &r, sql, 1, v, err) < 0)
		return NULL;
	if (store_result_rows(r) == 1)
		o = comp_store_row(r, 0);
	else
		error_set(err, "not_found", "", "no component %s", id);
	store_result_free(r);
	return o;
}

json_t *
comp_store_get(struct store *s, const char *id, struct error *err)
{
	return comp_store_get_row(s, id, "SELECT " COMP_COLS " FROM "
	    "component.components WHERE id = $1 AND deleted_at IS NULL", err);
}

/* Inside a transaction: the row, locked until the transaction ends. */
json_t *
comp_store_get_for_update(struct store *s, const char *id, struct error *err)
{
	return comp_store_get_row(s, id, "SELECT " COMP_COLS " FROM "
	    "component.components WHERE id = $1 AND deleted_at IS NULL "
	    "FOR UPDATE", err);
}

json_t *
comp_store_list(struct store *s, const char *org, const char *project,
    struct error *err)
{
	const char *v[] = { org, project };
	struct store_result *r;
	json_t *arr;
	int i;

	if (comp_store_exec(s, &r, "SELECT " COMP_COLS " FROM component.components "
	    "WHERE org = $1 AND project = $2 AND deleted_at IS NULL "
	    "ORDER BY created_at, name", 2, v, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, comp_store_row(r, i));
	store_result_free(r);
	return arr;
}

/* The org a component belongs to: what the HTTP server checks keys against. */
int
comp_store_org(struct store *s, const char *id, char *org, size_t orglen,
    struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	int found;

	if (comp_store_exec(s, &r, "SELECT org FROM component.components "
	    "WHERE id = $1 AND deleted_at IS NULL", 1, v, err) < 0)
		return -1;
	found = store_result_rows(r) == 1;
	if (found)
		snprintf(org, orglen, "%s", store_result_get(r, 0, 0));
	store_result_free(r);
	return found;
}

/* signing_box: the sealed signing secret (lib signing.h), NULL for none. */
int
comp_store_token_insert(struct store *s, const char *id,
    const char *component_id, const char *name, const char *hash,
    const char *prefix, long long expires_days, const char *signing_box,
    struct error *err)
{
	char days[24];
	const char *v[] = { id, component_id, name, hash, prefix,
		expires_days > 0 ? days : NULL, signing_box };

	snprintf(days, sizeof(days), "%lld", expires_days);
	return comp_store_exec(s, NULL, "INSERT INTO component.tokens (id, "
	    "component_id, name, token_hash, prefix, expires_at, "
	    "signing_secret_box) VALUES ($1, $2, $3, $4, $5, now() + "
	    "make_interval(days => $6::int), $7)", 7, v, err);
}

static json_t *
comp_store_token_row(const struct store_result *r, int row)
{
	static const char *const keys[] = { "id", "prefix", "name",
		"created_at", "expires_at", "revoked_at" };
	json_t *o = json_object();
	int c;

	for (c = 0; c < 6; c++)
		comp_store_set(o, keys[c], r, row, c);
	json_object_set_new(o, "signing",
	    json_boolean(strcmp(store_result_get(r, row, 6), "t") == 0));
	return o;
}

json_t *
comp_store_token_get(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	json_t *o = NULL;

	if (comp_store_exec(s, &r, "SELECT " TOKEN_COLS ", (extract(epoch FROM "
	    "expires_at) * 1000)::bigint FROM component.tokens WHERE id = $1",
	    1, v, err) < 0)
		return NULL;
	if (store_result_rows(r) == 1) {
		o = comp_store_token_row(r, 0);
		json_object_set_new(o, "expires_at_ms", json_integer(
		    strtoll(store_result_get(r, 0, 7), NULL, 10)));
	} else {
		error_set(err, "not_found", "", "no token %s", id);
	}
	store_result_free(r);
	return o;
}

json_t *
comp_store_token_list(struct store *s, const char *component_id,
    struct error *err)
{
	const char *v[] = { component_id };
	struct store_result *r;
	json_t *arr;
	int i;

	if (comp_store_exec(s, &r, "SELECT " TOKEN_COLS " FROM component.tokens "
	    "WHERE component_id = $1 ORDER BY created_at DESC", 1, v, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, comp_store_token_row(r, i));
	store_result_free(r);
	return arr;
}

int
comp_store_token_revoke(struct store *s, const char *component_id,
    const char *token_id, char hash[65], char prefix[16], struct error *err)
{
	const char *v[] = { token_id, component_id };
	struct store_result *r;
	int rows, active = 0;

	if (comp_store_exec(s, &r, "SELECT token_hash, prefix, revoked_at IS NULL "
	    "FROM component.tokens WHERE id = $1 AND component_id = $2 FOR UPDATE",
	    2, v, err) < 0)
		return -1;
	rows = store_result_rows(r);
	if (rows == 1) {
		snprintf(hash, 65, "%s", store_result_get(r, 0, 0));
		snprintf(prefix, 16, "%s", store_result_get(r, 0, 1));
		active = strcmp(store_result_get(r, 0, 2), "t") == 0;
	}
	store_result_free(r);
	if (rows != 1) {
		error_set(err, "not_found", "", "no token %s on component %s",
		    token_id, component_id);
		return -1;
	}
	if (!active)
		return 0;
	if (comp_store_exec(s, NULL, "UPDATE component.tokens SET revoked_at = "
	    "now() WHERE id = $1", 1, v, err) < 0)
		return -1;
	return 1;
}

int
comp_store_registry_upsert(struct store *s, const char *id, const char *org,
    const char *host, const char *auth_type, struct error *err)
{
	const char *v[] = { id, org, host, auth_type };

	return comp_store_exec(s, NULL, "INSERT INTO component.registries (id, "
	    "org, host, auth_type) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO "
	    "UPDATE SET org = $2, host = $3, auth_type = $4, updated_at = now() "
	    "WHERE NOT component.registries.deleted", 4, v, err);
}

int
comp_store_registry_delete(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };

	return comp_store_exec(s, NULL, "UPDATE component.registries SET "
	    "deleted = true, updated_at = now() WHERE id = $1", 1, v, err);
}

/*
 * Marks a live component deleted (the unique name index skips deleted rows,
 * so the name is free again). 1 deleted now, 0 no live component.
 */
int
comp_store_delete(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	int rows;

	if (comp_store_exec(s, &r, "UPDATE component.components SET deleted_at = "
	    "now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL "
	    "RETURNING id", 1, v, err) < 0)
		return -1;
	rows = store_result_rows(r);
	store_result_free(r);
	return rows == 1;
}

/* Revokes every live token of a component: [{"id","hash","prefix"}]. */
json_t *
comp_store_token_revoke_all(struct store *s, const char *component_id,
    struct error *err)
{
	const char *v[] = { component_id };
	struct store_result *r;
	json_t *arr;
	int i;

	if (comp_store_exec(s, &r, "UPDATE component.tokens SET revoked_at = now() "
	    "WHERE component_id = $1 AND revoked_at IS NULL "
	    "RETURNING id, token_hash, prefix", 1, v, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
		    "id", store_result_get(r, i, 0),
		    "hash", store_result_get(r, i, 1),
		    "prefix", store_result_get(r, i, 2)));
	store_result_free(r);
	return arr;
}

/*
 * The live (not revoked, not expired) tokens of a component, with what
 * their Redis binding holds: [{"id","hash","expires_at_ms","signing_box"}].
 */
json_t *
comp_store_token_live(struct store *s, const char *component_id,
    struct error *err)
{
	const char *v[] = { component_id };
	struct store_result *r;
	json_t *arr;
	int i;

	if (comp_store_exec(s, &r, "SELECT id, token_hash, COALESCE(floor("
	    "extract(epoch FROM expires_at) * 1000)::bigint, 0), "
	    "COALESCE(signing_secret_box, '') FROM component.tokens WHERE "
	    "component_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL "
	    "OR expires_at > now())", 1, v, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}",
		    "id", store_result_get(r, i, 0),
		    "hash", store_result_get(r, i, 1),
		    "expires_at_ms", (json_int_t)strtoll(store_result_get(r, i, 2),
		    NULL, 10),
		    "signing_box", store_result_get(r, i, 3)));
	store_result_free(r);
	return arr;
}

/* ---- endpoint schema files (migration 005) ----------------------------- */

static int
comp_store_schema_insert(struct store *s, const char *id,
    const struct schema_file *f, struct error *err)
{
	char size[24];
	const char *v[] = { id, f->name, f->kind, f->media_type,
		(const char *)f->data, f->sha256, size };
	const int lens[] = { -1, -1, -1, -1, (int)f->len, -1, -1 };

	snprintf(size, sizeof(size), "%zu", f->len);
	return store_exec(s, NULL, "INSERT INTO component.endpoint_schemas "
	    "(component_id, file, kind, media_type, content, sha256, size, "
	    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7::int, now())", 7, v,
	    lens, err);
}

/* Inside the caller's transaction: the whole set replaced, and stamped. */
int
comp_store_schemas_replace(struct store *s, const char *id,
    const struct schema_set *set, struct error *err)
{
	const char *v[] = { id };
	size_t i;

	if (comp_store_exec(s, NULL, "DELETE FROM component.endpoint_schemas "
	    "WHERE component_id = $1", 1, v, err) < 0)
		return -1;
	for (i = 0; i < set->n; i++)
		if (comp_store_schema_insert(s, id, &set->f[i], err) < 0)
			return -1;
	return comp_store_exec(s, NULL, "UPDATE component.components SET "
	    "endpoints_updated_at = now() WHERE id = $1", 1, v, err);
}

/* The files' [{"file","type","media_type","size","sha256"}], by name. */
static json_t *
comp_store_schema_rows(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	json_t *arr;
	int i;

	if (comp_store_exec(s, &r, "SELECT file, kind, media_type, size, sha256 "
	    "FROM component.endpoint_schemas WHERE component_id = $1 ORDER BY "
	    "file", 1, v, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; arr != NULL && i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:s}",
		    "file", store_result_get(r, i, 0),
		    "type", store_result_get(r, i, 1),
		    "media_type", store_result_get(r, i, 2),
		    "size", (json_int_t)strtoll(store_result_get(r, i, 3), NULL, 10),
		    "sha256", store_result_get(r, i, 4)));
	store_result_free(r);
	return arr;
}

json_t *
comp_store_schemas(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };
	struct store_result *r;
	json_t *arr, *o = NULL;

	if (comp_store_exec(s, &r, "SELECT " TS("COALESCE(endpoints_updated_at, "
	    "created_at)") " FROM component.components WHERE id = $1 AND "
	    "deleted_at IS NULL", 1, v, err) < 0)
		return NULL;
	if (store_result_rows(r) != 1) {
		store_result_free(r);
		error_set(err, "not_found", "", "no component %s", id);
		return NULL;
	}
	if ((arr = comp_store_schema_rows(s, id, err)) != NULL)
		o = json_pack("{s:o, s:s}", "schemas", arr, "updated_at",
		    store_result_get(r, 0, 0));
	store_result_free(r);
	return o;
}

unsigned char *
comp_store_schema_get(struct store *s, const char *id, const char *file,
    size_t *len, char *media_type, size_t mtlen, struct error *err)
{
	const char *v[] = { id, file };
	struct store_result *r;
	unsigned char *bytes = NULL;

	if (comp_store_exec(s, &r, "SELECT content, media_type FROM "
	    "component.endpoint_schemas WHERE component_id = $1 AND file = $2",
	    2, v, err) < 0)
		return NULL;
	if (store_result_rows(r) != 1) {
		error_set(err, "not_found", "", "no schema file %.100s", file);
	} else if ((bytes = store_result_bytes(r, 0, 0, len)) == NULL) {
		error_set(err, "db_error", "", "schema file does not read back");
	} else {
		snprintf(media_type, mtlen, "%s", store_result_get(r, 0, 1));
	}
	store_result_free(r);
	return bytes;
}
