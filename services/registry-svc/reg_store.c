/*
 * reg_store.c: every SQL statement of registry-svc, on the registry schema.
 * Registries come back as the JSON the API answers with: never the secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "crypto.h"

/* RFC 3339 UTC with milliseconds, the format of every *_at field. */
#define TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define REG_COLS "id, org, name, host, auth_type, username, vendor, " TS("created_at")

static const char *
reg_store_nullable(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

int
reg_store_insert(struct store *s, const char *id, const struct reg_input *in,
    const unsigned char *secret, size_t len, struct error *err)
{
	const char *v[] = { id, in->org, in->name, in->host,
		reg_input_auth_name(in->auth), reg_store_nullable(in->username),
		in->vendor, (const char *)secret };
	const int lens[] = { -1, -1, -1, -1, -1, -1, -1, (int)len };

	if (store_exec(s, NULL, "INSERT INTO registry.registries (id, org, name, "
	    "host, auth_type, username, vendor, secret) VALUES ($1, $2, $3, $4, "
	    "$5, $6, $7, $8)", 8, v, lens, err) < 0) {
		if (strcmp(err->code, "unique_violation") == 0)
			error_set(err, "registry_exists", "host", "org %s already has "
			    "a registry for host %s", in->org, in->host);
		return -1;
	}
	return 0;
}

static json_t *
reg_store_row_json(const struct store_result *r, int row)
{
	static const char *const keys[] = { "id", "org", "name", "host",
		"auth_type", "username", "vendor", "created_at" };
	json_t *o = json_object();
	int c;

	for (c = 0; c < 8; c++)
		if (!store_result_isnull(r, row, c))
			json_object_set_new(o, keys[c],
			    json_string(store_result_get(r, row, c)));
	return o;
}

json_t *
reg_store_get(struct store *s, const char *org, const char *id,
    struct error *err)
{
	const char *v[] = { id, org };
	struct store_result *r;
	json_t *o = NULL;

	if (store_exec(s, &r, "SELECT " REG_COLS " FROM registry.registries "
	    "WHERE id = $1 AND org = $2", 2, v, NULL, err) < 0)
		return NULL;
	if (store_result_rows(r) == 1)
		o = reg_store_row_json(r, 0);
	else
		error_set(err, "not_found", "", "no registry %s in org %s", id, org);
	store_result_free(r);
	return o;
}

json_t *
reg_store_list(struct store *s, const char *org, struct error *err)
{
	const char *v[] = { org };
	struct store_result *r;
	json_t *arr;
	int i;

	if (store_exec(s, &r, "SELECT " REG_COLS " FROM registry.registries "
	    "WHERE org = $1 ORDER BY created_at, host", 1, v, NULL, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, reg_store_row_json(r, i));
	store_result_free(r);
	return arr;
}

static enum reg_auth
reg_store_auth(const char *name)
{
	enum reg_auth a;

	for (a = REG_AUTH_ANONYMOUS; a <= REG_AUTH_VENDOR; a++)
		if (strcmp(reg_input_auth_name(a), name) == 0)
			return a;
	return REG_AUTH_ANONYMOUS;
}

static void
reg_store_fill_row(const struct store_result *r, int row, struct reg_row *out)
{
	snprintf(out->id, sizeof(out->id), "%s", store_result_get(r, row, 0));
	snprintf(out->org, sizeof(out->org), "%s", store_result_get(r, row, 1));
	snprintf(out->host, sizeof(out->host), "%s", store_result_get(r, row, 2));
	out->auth = reg_store_auth(store_result_get(r, row, 3));
}

int
reg_store_delete(struct store *s, const char *org, const char *id,
    struct reg_row *row, struct error *err)
{
	const char *v[] = { id, org };
	struct store_result *r;
	int found;

	if (store_exec(s, &r, "DELETE FROM registry.registries WHERE id = $1 AND "
	    "org = $2 RETURNING id, org, host, auth_type", 2, v, NULL, err) < 0)
		return -1;
	found = store_result_rows(r) == 1;
	if (found)
		reg_store_fill_row(r, 0, row);
	store_result_free(r);
	if (!found)
		error_set(err, "not_found", "", "no registry %s in org %s", id, org);
	return found ? 0 : -1;
}

/*
 * PATCH: the name when in->name is set; the auth type, username, vendor and
 * secret together when in->auth is set (a rotation). -1 not_found.
 */
int
reg_store_update(struct store *s, const char *org, const char *id,
    const struct reg_input *in, const unsigned char *secret, size_t len,
    struct error *err)
{
	const int rotate = in->auth != 0;
	const char *v[] = { id, org, in->name,
		rotate ? reg_input_auth_name(in->auth) : NULL,
		rotate ? reg_store_nullable(in->username) : NULL,
		rotate ? in->vendor : NULL, (const char *)secret };
	const int lens[] = { -1, -1, -1, -1, -1, -1, (int)len };
	struct store_result *r;
	int found;

	if (store_exec(s, &r, "UPDATE registry.registries SET name = "
	    "COALESCE($3::text, name), auth_type = COALESCE($4::text, auth_type), "
	    "username = CASE WHEN $4::text IS NULL THEN username ELSE $5::text END, "
	    "vendor = CASE WHEN $4::text IS NULL THEN vendor ELSE $6::text END, "
	    "secret = COALESCE($7::bytea, secret) WHERE id = $1 AND org = $2 "
	    "RETURNING id", 7, v, lens, err) < 0)
		return -1;
	found = store_result_rows(r) == 1;
	store_result_free(r);
	if (!found)
		error_set(err, "not_found", "", "no registry %s in org %s", id, org);
	return found ? 0 : -1;
}

/*
 * The live components of org that use the registry, as
 * [{"id","name","project"}] by name (learnt from slipway.component.events).
 */
json_t *
reg_store_users(struct store *s, const char *org, const char *id,
    struct error *err)
{
	const char *v[] = { id, org };
	struct store_result *r;
	json_t *arr;
	int i;

	if (store_exec(s, &r, "SELECT id, name, project FROM registry.components "
	    "WHERE registry_id = $1 AND org = $2 ORDER BY name, id FOR SHARE", 2,
	    v, NULL, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id",
		    store_result_get(r, i, 0), "name", store_result_get(r, i, 1),
		    "project", store_result_get(r, i, 2)));
	store_result_free(r);
	return arr;
}

int
reg_store_component_put(struct store *s, const struct reg_component *c,
    struct error *err)
{
	const char *v[] = { c->id, c->org, c->project, c->name, c->registry_id };

	return store_exec(s, NULL, "INSERT INTO registry.components (id, org, "
	    "project, name, registry_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
	    "(id) DO UPDATE SET org = $2, project = $3, name = $4, registry_id = "
	    "$5, updated_at = now()", 5, v, NULL, err);
}

int
reg_store_component_delete(struct store *s, const char *id, struct error *err)
{
	const char *v[] = { id };

	return store_exec(s, NULL, "DELETE FROM registry.components WHERE id = $1",
	    1, v, NULL, err);
}

int
reg_store_dataplanes(struct store *s, struct reg_dataplane **out, size_t *n,
    struct error *err)
{
	struct store_result *r;
	unsigned char *pk;
	size_t len;
	int i, rows;

	*out = NULL;
	*n = 0;
	if (store_exec(s, &r, "SELECT name, public_key FROM registry.dataplanes "
	    "ORDER BY name", 0, NULL, NULL, err) < 0)
		return -1;
	rows = store_result_rows(r);
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		store_result_free(r);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	for (i = 0; i < rows; i++) {
		pk = store_result_bytes(r, i, 1, &len);
		if (pk == NULL || len != 32) {
			free(pk);
			continue;   /* cannot happen: the consumer checks the size */
		}
		snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s",
		    store_result_get(r, i, 0));
		memcpy((*out)[*n].public_key, pk, 32);
		free(pk);
		(*n)++;
	}
	store_result_free(r);
	return 0;
}

/* Rows of id, org, host, auth_type, secret into *out; frees r. */
static int
reg_store_rows_take(struct store_result *r, struct reg_row **out, size_t *n,
    struct error *err)
{
	int i, rows;

	rows = store_result_rows(r);
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		store_result_free(r);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	for (i = 0; i < rows; i++) {
		reg_store_fill_row(r, i, &(*out)[i]);
		(*out)[i].secret = store_result_bytes(r, i, 4, &(*out)[i].secret_len);
	}
	*n = (size_t)rows;
	store_result_free(r);
	return 0;
}

int
reg_store_secret(struct store *s, const char *org, const char *id,
    struct reg_row *row, struct error *err)
{
	const char *v[] = { id, org };
	struct store_result *r;
	int found;

	if (store_exec(s, &r, "SELECT id, org, host, auth_type, secret FROM "
	    "registry.registries WHERE id = $1 AND org = $2", 2, v, NULL, err) < 0)
		return -1;
	found = store_result_rows(r) == 1;
	if (found) {
		reg_store_fill_row(r, 0, row);
		row->secret = store_result_bytes(r, 0, 4, &row->secret_len);
	}
	store_result_free(r);
	if (!found)
		error_set(err, "not_found", "", "no registry %s in org %s", id, org);
	else if (row->secret == NULL)
		error_set(err, "internal", "", "registry %s has no secret", id);
	return found && row->secret != NULL ? 0 : -1;
}

void
reg_store_rows_free(struct reg_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(rows[i].secret);
	free(rows);
}

int
reg_store_secret_census(struct store *s, const unsigned char *hdr, size_t hlen,
    long *current, long *stale, struct error *err)
{
	const char *v[] = { (const char *)hdr };
	const int lens[] = { (int)hlen };
	struct store_result *r;

	if (store_exec(s, &r, "SELECT count(*) FILTER (WHERE substring(secret "
	    "FROM 1 FOR length($1::bytea)) = $1::bytea), count(*) FILTER (WHERE "
	    "substring(secret FROM 1 FOR length($1::bytea)) <> $1::bytea) FROM "
	    "registry.registries", 1, v, lens, err) < 0)
		return -1;
	*current = strtol(store_result_get(r, 0, 0), NULL, 10);
	*stale = strtol(store_result_get(r, 0, 1), NULL, 10);
	store_result_free(r);
	return 0;
}

int
reg_store_stale_lock(struct store *s, const unsigned char *hdr, size_t hlen,
    const char *after, int limit, struct reg_row **out, size_t *n,
    struct error *err)
{
	char lim[16];
	const char *v[] = { after, (const char *)hdr, lim };
	const int lens[] = { -1, (int)hlen, -1 };
	struct store_result *r;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%d", limit);
	if (store_exec(s, &r, "SELECT id, org, host, auth_type, secret FROM "
	    "registry.registries WHERE id > $1 AND substring(secret FROM 1 "
	    "FOR length($2::bytea)) <> $2::bytea ORDER BY id LIMIT $3 "
	    "FOR UPDATE SKIP LOCKED", 3, v, lens, err) < 0)
		return -1;
	return reg_store_rows_take(r, out, n, err);
}

int
reg_store_secret_set(struct store *s, const char *id,
    const unsigned char *secret, size_t len, struct error *err)
{
	const char *v[] = { id, (const char *)secret };
	const int lens[] = { -1, (int)len };

	return store_exec(s, NULL, "UPDATE registry.registries SET secret = $2 "
	    "WHERE id = $1", 2, v, lens, err);
}

/*
 * Serializes the sealing decisions for one org: registry creation and the
 * handlers of bindings and data planes take it before they read what the
 * other writes, so whichever commits second sees the other's row. The
 * first key (1: one org, 2: every binding) keeps these locks apart.
 */
int
reg_store_lock_org(struct store *s, const char *org, struct error *err)
{
	const char *v[] = { org };

	return store_exec(s, NULL, "SELECT pg_advisory_xact_lock(1, "
	    "hashtext($1))", 1, v, NULL, err);
}

int
reg_store_lock_bindings(struct store *s, struct error *err)
{
	return store_exec(s, NULL, "SELECT pg_advisory_xact_lock(2, 0)", 0,
	    NULL, NULL, err);
}

/* Rows of name, public_key into *out (reg_store_dataplanes' shape). */
static int
reg_store_dataplanes_take(struct store_result *r, struct reg_dataplane **out,
    size_t *n, struct error *err)
{
	unsigned char *pk;
	size_t len;
	int i, rows = store_result_rows(r);

	*out = NULL;
	*n = 0;
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		store_result_free(r);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	for (i = 0; i < rows; i++) {
		pk = store_result_bytes(r, i, 1, &len);
		if (pk != NULL && len == 32) {
			snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s",
			    store_result_get(r, i, 0));
			memcpy((*out)[*n].public_key, pk, 32);
			(*n)++;
		}
		free(pk);
	}
	store_result_free(r);
	return 0;
}

int
reg_store_served_dataplanes(struct store *s, const char *org,
    struct reg_dataplane **out, size_t *n, struct error *err)
{
	const char *v[] = { org };
	struct store_result *r;

	*out = NULL;
	*n = 0;
	if (store_exec(s, &r, "SELECT d.name, d.public_key FROM "
	    "registry.dataplanes d WHERE EXISTS (SELECT 1 FROM registry.bindings "
	    "b WHERE b.org = $1 AND b.dataplane = d.name) AND (d.shared OR "
	    "EXISTS (SELECT 1 FROM registry.dataplane_orgs g WHERE g.dataplane = "
	    "d.name AND g.org = $1)) ORDER BY d.name", 1, v, NULL, err) < 0)
		return -1;
	return reg_store_dataplanes_take(r, out, n, err);
}

int
reg_store_served_orgs(struct store *s, const char *dataplane,
    struct reg_names *out, struct error *err)
{
	const char *v[] = { dataplane };
	struct store_result *r;
	int i, rows;

	memset(out, 0, sizeof(*out));
	if (store_exec(s, &r, "SELECT DISTINCT b.org FROM registry.bindings b "
	    "JOIN registry.dataplanes d ON d.name = b.dataplane WHERE d.name = $1 "
	    "AND (d.shared OR EXISTS (SELECT 1 FROM registry.dataplane_orgs g "
	    "WHERE g.dataplane = d.name AND g.org = b.org)) ORDER BY b.org", 1, v,
	    NULL, err) < 0)
		return -1;
	rows = store_result_rows(r);
	if (rows > 0 && (out->v = calloc((size_t)rows, sizeof(*out->v))) == NULL) {
		store_result_free(r);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	for (i = 0; i < rows; i++)
		if ((out->v[out->n] = strdup(store_result_get(r, i, 0))) != NULL)
			out->n++;
	store_result_free(r);
	if (out->n != (size_t)rows) {
		reg_names_free(out);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	return 0;
}

void
reg_names_free(struct reg_names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	memset(n, 0, sizeof(*n));
}

/* 1 and *dp filled when the data plane is known, 0 when not, -1 error. */
int
reg_store_dataplane_get(struct store *s, const char *name,
    struct reg_dataplane *dp, struct error *err)
{
	const char *v[] = { name };
	struct reg_dataplane *dps;
	struct store_result *r;
	size_t n;

	if (store_exec(s, &r, "SELECT name, public_key FROM registry.dataplanes "
	    "WHERE name = $1", 1, v, NULL, err) < 0 ||
	    reg_store_dataplanes_take(r, &dps, &n, err) < 0)
		return -1;
	if (n == 1)
		*dp = dps[0];
	free(dps);
	return n == 1;
}

/* The key and the whole grant: shared, or exactly orgs. */
int
reg_store_dataplane_grants(struct store *s, const struct reg_dataplane *dp,
    int shared, char *const *orgs, size_t n, struct error *err)
{
	const char *v[] = { dp->name, (const char *)dp->public_key,
	    shared ? "true" : "false" };
	const int lens[] = { -1, 32, -1 };
	size_t i;

	if (store_exec(s, NULL, "INSERT INTO registry.dataplanes (name, "
	    "public_key, shared) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
	    "SET public_key = $2, shared = $3, updated_at = now()", 3, v, lens,
	    err) < 0 ||
	    store_exec(s, NULL, "DELETE FROM registry.dataplane_orgs WHERE "
	    "dataplane = $1", 1, v, NULL, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *g[] = { dp->name, orgs[i] };

		if (store_exec(s, NULL, "INSERT INTO registry.dataplane_orgs "
		    "(dataplane, org) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2, g,
		    NULL, err) < 0)
			return -1;
	}
	return 0;
}

int
reg_store_binding_put(struct store *s, const char *org,
    const char *environment, const char *dataplane, struct error *err)
{
	const char *v[] = { org, environment, dataplane };

	return store_exec(s, NULL, "INSERT INTO registry.bindings (org, "
	    "environment, dataplane) VALUES ($1, $2, $3) ON CONFLICT (org, "
	    "environment) DO UPDATE SET dataplane = $3", 3, v, NULL, err);
}

int
reg_store_org_rows(struct store *s, const char *org, struct reg_row **out,
    size_t *n, struct error *err)
{
	const char *v[] = { org };
	struct store_result *r;

	*out = NULL;
	*n = 0;
	if (store_exec(s, &r, "SELECT id, org, host, auth_type, secret FROM "
	    "registry.registries WHERE org = $1 ORDER BY created_at FOR SHARE",
	    1, v, NULL, err) < 0)
		return -1;
	return reg_store_rows_take(r, out, n, err);
}
