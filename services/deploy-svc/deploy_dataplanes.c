/*
 * deploy_dataplanes.c: the data planes and the environments that map an
 * org's stages onto them (admin API).
 *
 * Registering a data plane creates its two topics first (the broker has
 * auto-create off), then upserts the row and announces DataPlaneRegistered
 * through the outbox with the orgs it is granted to, so registry-svc seals
 * those orgs' registries to the (possibly new) public key once an
 * environment of theirs binds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "bus.h"
#include "bus_topics.h"
#include "crypto.h"
#include "json.h"
#include "outbox.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_TOPIC_TIMEOUT_MS 10000
#define DEPLOY_POSITION_MAX 1000

struct deploy_dp_put {
	const char *name;
	const unsigned char *key;
	int rotate;          /* the operator asked to replace the key */
	const struct deploy_grants *grants;
	char literal[DEPLOY_GRANTS_LITERAL_MAX];   /* grants->orgs as text[] */
	int created;
	int refused;         /* registered with another key, no rotate */
	int ungranted;       /* new, and neither orgs nor shared given */
	int changed;         /* key or grants given: tell registry-svc */
	int key_changed;
	char created_at[40];
	int shared;          /* the grants as stored, once committed */
	json_t *orgs;        /* owned: an array of org names */
};

struct deploy_env_put {
	const char *org;
	const char *name;
	const char *dataplane;
	int position;
};

/*
 * Starts the creation of slipway.dataplane.<dp>.commands, its .dlq and the
 * compacted .credentials (on an authorized bus the agent may not create
 * topics) off the loop: a slow broker delays the topics, never the answer
 * or the record (deploy_topics.c holds the answer a little). Until they
 * exist the relay's publishes to them fail and are tried again. 1: they
 * exist; 0: under way; -1 only for a name no topic can carry.
 */
int
deploy_dataplanes_ensure_topics(struct deploy *d, const char *name,
    struct error *err)
{
	char cmd[128], dlq[160], cred[128];
	const char *cmds[] = { cmd, dlq, NULL };
	const char *creds[] = { cred, NULL };
	int rc_cmds, rc_creds;

	if (topic_dataplane_commands(name, cmd, sizeof(cmd)) == -1 ||
	    topic_dataplane_credentials(name, cred, sizeof(cred)) == -1) {
		error_set(err, "invalid_field", "name", "data plane name too long");
		return -1;
	}
	snprintf(dlq, sizeof(dlq), "%s.dlq", cmd);
	if ((rc_cmds = bus_topics_ensure(d->topics, cmds, TOPIC_PARTITIONS, 0,
	    DEPLOY_TOPIC_TIMEOUT_MS, err)) == -1 ||
	    (rc_creds = bus_topics_ensure(d->topics, creds, TOPIC_PARTITIONS, 1,
	    DEPLOY_TOPIC_TIMEOUT_MS, err)) == -1)
		return -1;
	error_clear(err);
	return rc_cmds == 1 && rc_creds == 1 ? 1 : 0;
}

/* DataPlaneRegistered with the key and the whole current grant. */
static int
deploy_dataplanes_emit(struct store *s, const struct deploy_dp_put *p,
    struct error *err)
{
	Slipway__V1__DataPlaneRegistered dr;
	const char *orgs[DEPLOY_GRANTS_MAX];
	Envelope env;
	char event_id[37];
	size_t i;

	slipway__v1__data_plane_registered__init(&dr);
	dr.name = DEPLOY_STR(p->name);
	dr.public_key.data = (uint8_t *)(uintptr_t)p->key;
	dr.public_key.len = CRYPTO_PK_LEN;
	for (i = 0; i < json_array_size(p->orgs) && i < DEPLOY_GRANTS_MAX; i++)
		orgs[i] = json_string_value(json_array_get(p->orgs, i));
	dr.n_orgs = i;
	dr.orgs = (char **)(uintptr_t)orgs;
	dr.shared = p->shared;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED,
	    event_id, "", NULL);
	env.dataplane_registered = &dr;
	return envelope_outbox(s, TOPIC_DEPLOY_EVENTS, p->name, &env, err);
}

/* The grants as stored: shared, and orgs as a sorted JSON array. */
static int
deploy_dataplanes_grants_read(struct store *s, struct deploy_dp_put *p,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { p->name };

	if (store_exec(s, &r, "SELECT shared, COALESCE((SELECT "
	    "array_to_json(array_agg(org ORDER BY org)) FROM dataplane_grants "
	    "WHERE dataplane = $1), '[]')::text FROM dataplanes WHERE name = $1",
	    1, vals, NULL, err) == -1)
		return -1;
	if (store_result_rows(r) == 1) {
		p->shared = strcmp(store_result_get(r, 0, 0), "t") == 0;
		p->orgs = json_loads(store_result_get(r, 0, 1), 0, NULL);
	}
	store_result_free(r);
	if (!json_is_array(p->orgs)) {
		error_set(err, "db_error", "", "unreadable grants of %s", p->name);
		return -1;
	}
	return 0;
}

/*
 * Replaces the grants. Narrowing them must not strand an environment: an
 * org that still binds this data plane keeps its grant (dataplane_in_use).
 */
static int
deploy_dataplanes_grants_set(struct store *s, struct deploy_dp_put *p,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { p->name, p->literal };
	const char *shared[] = { p->name, p->grants->shared ? "true" : "false" };

	if (!p->grants->shared) {
		if (store_exec(s, &r, "SELECT org FROM environments WHERE "
		    "dataplane = $1 AND NOT (org = ANY($2::text[])) ORDER BY org "
		    "LIMIT 1", 2, vals, NULL, err) == -1)
			return -1;
		if (store_result_rows(r) == 1) {
			error_set(err, "dataplane_in_use", "orgs", "org %s still has "
			    "environments on data plane %s: move them first",
			    store_result_get(r, 0, 0), p->name);
			store_result_free(r);
			return -1;
		}
		store_result_free(r);
	}
	return store_exec(s, NULL, "UPDATE dataplanes SET shared = $2 WHERE "
	    "name = $1", 2, shared, NULL, err) == -1 ||
	    store_exec(s, NULL, "DELETE FROM dataplane_grants WHERE dataplane = "
	    "$1 AND NOT (org = ANY($2::text[]))", 2, vals, NULL, err) == -1 ||
	    store_exec(s, NULL, "INSERT INTO dataplane_grants (dataplane, org) "
	    "SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", 2, vals, NULL,
	    err) == -1 ? -1 : 0;
}

/* 1 when the data plane exists (its row now locked), 0 when not, -1 error. */
static int
deploy_dataplanes_lock(struct store *s, const char *name, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { name };
	int rows;

	if (store_exec(s, &r, "SELECT 1 FROM dataplanes WHERE name = $1 "
	    "FOR UPDATE", 1, vals, NULL, err) == -1)
		return -1;
	rows = store_result_rows(r);
	store_result_free(r);
	return rows > 0;
}

/*
 * Inserts the row, or keeps it when the key is the same (an idempotent
 * retry), or replaces the key only when the operator asked for a rotation:
 * whoever can call this would otherwise receive every registry secret
 * sealed to a key of their choosing.
 */
static int
deploy_dataplanes_key_put(struct store *s, struct deploy_dp_put *p,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { p->name, (const char *)p->key,
	    p->rotate ? "true" : "false" };
	const int lens[] = { -1, CRYPTO_PK_LEN, -1 };

	if (store_exec(s, &r, "WITH old AS (SELECT public_key FROM dataplanes "
	    "WHERE name = $1 FOR UPDATE) "
	    "INSERT INTO dataplanes (name, public_key) VALUES ($1, $2) "
	    "ON CONFLICT (name) DO UPDATE SET public_key = $2 "
	    "WHERE dataplanes.public_key = $2 OR $3::boolean "
	    "RETURNING (xmax = 0), to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	    "COALESCE((SELECT public_key <> $2 FROM old), true)", 3, vals, lens,
	    err) == -1)
		return -1;
	if (store_result_rows(r) == 0) {
		store_result_free(r);
		p->refused = 1;
		return 0;
	}
	p->created = strcmp(store_result_get(r, 0, 0), "t") == 0;
	p->key_changed = strcmp(store_result_get(r, 0, 2), "t") == 0;
	snprintf(p->created_at, sizeof(p->created_at), "%s",
	    store_result_get(r, 0, 1));
	store_result_free(r);
	return 0;
}

/*
 * In the transaction, the data plane row locked first so environments
 * (which take it FOR SHARE) and other registrations wait: the key, then
 * the grants when given. The event goes out when either was given anew,
 * always with the whole grant.
 */
static int
deploy_dataplanes_put_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_dp_put *p = arg;
	int exists;

	if ((exists = deploy_dataplanes_lock(s, p->name, err)) == -1)
		return -1;
	if (!exists && !p->grants->given) {
		p->ungranted = 1;
		return 0;
	}
	if (deploy_dataplanes_key_put(s, p, err) == -1 || p->refused)
		return p->refused ? 0 : -1;
	if (p->grants->given && deploy_dataplanes_grants_set(s, p, err) == -1)
		return -1;
	p->changed = p->key_changed || p->grants->given;
	if (deploy_dataplanes_grants_read(s, p, err) == -1)
		return -1;
	return p->changed ? deploy_dataplanes_emit(s, p, err) : 0;
}

/* Reads and validates the body into p (name, key, rotate); replies on failure. */
static int
deploy_dataplanes_body(struct http_request *req, struct deploy_dp_put *p,
    struct deploy_grants *g, const char **pk)
{
	static const char *const keys[] = { "name", "public_key", "rotate",
	    "orgs", "shared", NULL };
	struct error err;
	size_t len = 0;
	int status;
	json_t *body;

	if ((body = http_request_json(req)) == NULL)
		return -1;
	error_clear(&err);
	if (json_only_keys(body, keys, &err) == -1 ||
	    (p->name = json_get_string(body, "name", 40, 1, &err)) == NULL ||
	    (*pk = json_get_string(body, "public_key", 128, 1, &err)) == NULL) {
		http_reply_err(req, 400, &err);
		return -1;
	}
	if (json_object_get(body, "rotate") != NULL &&
	    !json_is_boolean(json_object_get(body, "rotate"))) {
		http_reply_error(req, 400, "invalid_field", "rotate",
		    "rotate must be true or false");
		return -1;
	}
	if (!dataplane_name_valid(p->name)) {
		http_reply_error(req, 400, "invalid_field", "name",
		    "a data plane name is [a-z0-9][a-z0-9-]{0,39}");
		return -1;
	}
	if (deploy_grants_parse(body, g, &status, &err) == -1) {
		http_reply_err(req, status, &err);
		return -1;
	}
	p->key = crypto_b64_decode(*pk, &len);
	if (p->key == NULL || len != CRYPTO_PK_LEN) {
		free((void *)(uintptr_t)p->key);
		http_reply_error(req, 400, "invalid_field", "public_key",
		    "public_key must be base64 of 32 bytes");
		return -1;
	}
	p->rotate = json_is_true(json_object_get(body, "rotate"));
	p->grants = g;
	deploy_grants_literal(g, p->literal, sizeof(p->literal));
	return 0;
}

/* Replies to a registration the transaction refused or failed. */
static int
deploy_dataplanes_put_refused(struct http_request *req,
    const struct deploy_dp_put *p, const struct error *err, int rc)
{
	struct error e;
	int status;

	if (rc == -1 && strcmp(err->code, "dataplane_in_use") == 0)
		http_reply_err(req, 409, err);
	else if (rc == -1)
		deploy_http_fail(req, err);
	else if (p->ungranted) {
		deploy_grants_check_new(p->grants, &status, &e);
		http_reply_err(req, status, &e);
	} else if (p->refused)
		http_reply_error(req, 409, "dataplane_exists", "public_key",
		    "data plane %s is registered with another key; pass "
		    "\"rotate\": true to replace it", p->name);
	else
		return 0;
	return -1;
}

/*
 * POST /v1/dataplanes {"name","public_key", optional "rotate": true, and
 * "orgs": [...] or "shared": true (required for a new data plane)}
 */
void
deploy_dataplanes_post(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_dp_put p;
	struct deploy_grants g;
	struct error err;
	const char *pk = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	if (deploy_dataplanes_body(req, &p, &g, &pk) == -1)
		return;
	error_clear(&err);
	rc = deploy_dataplanes_ensure_topics(d, p.name, &err);
	if (rc != -1)
		rc = store_tx(d->store, deploy_dataplanes_put_tx, &p, &err);
	free((void *)(uintptr_t)p.key);
	if (deploy_dataplanes_put_refused(req, &p, &err, rc) == -1) {
		json_decref(p.orgs);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("data plane %s %s; %s", p.name, p.created ? "registered" :
	    p.key_changed ? "key ROTATED by the operator" :
	    "registered again, same key", p.shared ? "shared by every org" :
	    "granted to named orgs");
	deploy_topics_reply(d, req, p.created ? 201 : 200, json_pack("{s:s, "
	    "s:s, s:s, s:b, s:o}", "name", p.name, "public_key", pk,
	    "created_at", p.created_at, "shared", p.shared, "orgs", p.orgs),
	    p.name);
}

/* GET /v1/dataplanes */
void
deploy_dataplanes_list(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct store_result *r;
	struct error err;
	json_t *arr;

	if (store_exec(d->store, &r, "SELECT name, encode(public_key, 'base64'), "
	    "to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), shared, COALESCE((SELECT "
	    "array_to_json(array_agg(g.org ORDER BY g.org)) FROM "
	    "dataplane_grants g WHERE g.dataplane = d.name), '[]')::text "
	    "FROM dataplanes d ORDER BY created_at, name", 0, NULL, NULL,
	    &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++) {
		json_t *orgs = json_loads(store_result_get(r, i, 4), 0, NULL);

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:o}",
		    "name", store_result_get(r, i, 0),
		    "public_key", store_result_get(r, i, 1),
		    "created_at", store_result_get(r, i, 2),
		    "shared", strcmp(store_result_get(r, i, 3), "t") == 0,
		    "orgs", json_is_array(orgs) ? orgs : json_array()));
		if (!json_is_array(orgs))
			json_decref(orgs);
	}
	store_result_free(r);
	http_reply_json(req, 200, json_pack("{s:o}", "dataplanes", arr));
}

static int
deploy_dataplanes_env_tx(struct store *s, void *arg, struct error *err)
{
	const struct deploy_env_put *e = arg;

	return deploy_store_environment_put(s, e->org, e->name, e->dataplane,
	    e->position, err);
}

/* Reads and validates {"name","dataplane","position"}; replies on failure. */
static int
deploy_dataplanes_env_body(struct http_request *req, struct deploy_env_put *e)
{
	static const char *const keys[] = { "name", "dataplane", "position", NULL };
	struct error err;
	long long pos = 0;
	json_t *body;

	if ((body = http_request_json(req)) == NULL)
		return -1;
	error_clear(&err);
	if (json_only_keys(body, keys, &err) == -1 ||
	    (e->name = json_get_string(body, "name", DEPLOY_NAME_MAX, 1,
	    &err)) == NULL ||
	    (e->dataplane = json_get_string(body, "dataplane", 40, 1,
	    &err)) == NULL ||
	    json_get_int(body, "position", 0, DEPLOY_POSITION_MAX, 0, &pos,
	    &err) == -1) {
		http_reply_err(req, 400, &err);
		return -1;
	}
	if (!deploy_http_name_valid(e->name)) {
		http_reply_error(req, 400, "invalid_field", "name",
		    "an environment name is [a-z0-9][a-z0-9-]{0,62}");
		return -1;
	}
	e->position = (int)pos;
	return 0;
}

/* POST /v1/orgs/{org}/environments */
void
deploy_dataplanes_env_post(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_env_put e;
	struct error err;

	memset(&e, 0, sizeof(e));
	e.org = http_request_param(req, "org");
	if (!deploy_grants_org_valid(e.org)) {
		http_reply_error(req, 400, "invalid_field", "org", "invalid org");
		return;
	}
	if (deploy_dataplanes_env_body(req, &e) == -1)
		return;
	if (store_tx(d->store, deploy_dataplanes_env_tx, &e, &err) == -1) {
		if (strcmp(err.code, "unknown_dataplane") == 0 ||
		    strcmp(err.code, "dataplane_not_granted") == 0)
			http_reply_err(req, 422, &err);
		else
			deploy_http_fail(req, &err);
		return;
	}
	outbox_relay_kick(d->relay);
	http_reply_json(req, 201, json_pack("{s:s, s:s, s:s, s:i}", "org", e.org,
	    "name", e.name, "dataplane", e.dataplane, "position", e.position));
}

/* GET /v1/orgs/{org}/environments, first stage first. */
void
deploy_dataplanes_env_list(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *org = http_request_param(req, "org");
	const char *vals[] = { org };
	struct store_result *r;
	struct error err;
	json_t *arr;

	if (!deploy_grants_org_valid(org)) {
		http_reply_error(req, 400, "invalid_field", "org", "invalid org");
		return;
	}
	if (store_exec(d->store, &r, "SELECT name, dataplane, position FROM "
	    "environments WHERE org = $1 ORDER BY position, name", 1, vals, NULL,
	    &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i}",
		    "org", org, "name", store_result_get(r, i, 0),
		    "dataplane", store_result_get(r, i, 1),
		    "position", atoi(store_result_get(r, i, 2))));
	store_result_free(r);
	http_reply_json(req, 200, json_pack("{s:o}", "environments", arr));
}
