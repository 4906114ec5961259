/*
 * deploy_dataplanes.c: the data planes and the environments that map an
 * org's stages onto them (admin API).
 *
 * Registering a data plane creates its two topics first (the broker has
 * auto-create off), then upserts the row and announces DataPlaneRegistered
 * through the outbox, so registry-svc seals every registry's credentials to
 * the (possibly new) public key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "bus.h"
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
	int created;
	int refused;         /* registered with another key, no rotate */
	int changed;         /* the key is new: tell registry-svc */
	char created_at[40];
};

struct deploy_env_put {
	const char *org;
	const char *name;
	const char *dataplane;
	int position;
};

/* Creates slipway.dataplane.<dp>.commands and the compacted .credentials. */
int
deploy_dataplanes_ensure_topics(struct deploy *d, const char *name,
    struct error *err)
{
	char cmd[128], cred[128];
	const char *cmds[] = { cmd, NULL };
	const char *creds[] = { cred, NULL };

	if (topic_dataplane_commands(name, cmd, sizeof(cmd)) == -1 ||
	    topic_dataplane_credentials(name, cred, sizeof(cred)) == -1) {
		error_set(err, "invalid_field", "name", "data plane name too long");
		return -1;
	}
	if (bus_topic_ensure(d->cfg.brokers, cmds, TOPIC_PARTITIONS, 0,
	    DEPLOY_TOPIC_TIMEOUT_MS, err) == -1 ||
	    bus_topic_ensure(d->cfg.brokers, creds, TOPIC_PARTITIONS, 1,
	    DEPLOY_TOPIC_TIMEOUT_MS, err) == -1)
		return -1;
	return 0;
}

static int
deploy_dataplanes_emit(struct store *s, const char *name,
    const unsigned char *key, struct error *err)
{
	Slipway__V1__DataPlaneRegistered dr;
	Envelope env;
	char event_id[37];

	slipway__v1__data_plane_registered__init(&dr);
	dr.name = DEPLOY_STR(name);
	dr.public_key.data = (uint8_t *)(uintptr_t)key;
	dr.public_key.len = CRYPTO_PK_LEN;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED,
	    event_id, "", NULL);
	env.dataplane_registered = &dr;
	return envelope_outbox(s, TOPIC_DEPLOY_EVENTS, name, &env, err);
}

/*
 * In the transaction: insert the row, or keep it when the key is the same
 * (an idempotent retry), or replace the key only when the operator asked
 * for a rotation; whoever can call this would otherwise receive every
 * registry secret sealed to a key of their choosing. The event goes out
 * only when the key is new.
 */
static int
deploy_dataplanes_put_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_dp_put *p = arg;
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
	p->changed = strcmp(store_result_get(r, 0, 2), "t") == 0;
	snprintf(p->created_at, sizeof(p->created_at), "%s",
	    store_result_get(r, 0, 1));
	store_result_free(r);
	return p->changed ? deploy_dataplanes_emit(s, p->name, p->key, err) : 0;
}

/* POST /v1/dataplanes {"name","public_key", optional "rotate": true} */
void
deploy_dataplanes_post(struct http_request *req, void *ctx)
{
	static const char *const keys[] = { "name", "public_key", "rotate",
	    NULL };
	struct deploy *d = ctx;
	struct deploy_dp_put p;
	struct error err;
	const char *name, *pk;
	unsigned char *key;
	size_t len = 0;
	json_t *body;

	if ((body = http_request_json(req)) == NULL)
		return;
	error_clear(&err);
	if (json_only_keys(body, keys, &err) == -1 ||
	    (name = json_get_string(body, "name", 40, 1, &err)) == NULL ||
	    (pk = json_get_string(body, "public_key", 128, 1, &err)) == NULL) {
		http_reply_err(req, 400, &err);
		return;
	}
	if (json_object_get(body, "rotate") != NULL &&
	    !json_is_boolean(json_object_get(body, "rotate"))) {
		http_reply_error(req, 400, "invalid_field", "rotate",
		    "rotate must be true or false");
		return;
	}
	if (!dataplane_name_valid(name)) {
		http_reply_error(req, 400, "invalid_field", "name",
		    "a data plane name is [a-z0-9][a-z0-9-]{0,39}");
		return;
	}
	key = crypto_b64_decode(pk, &len);
	if (key == NULL || len != CRYPTO_PK_LEN) {
		free(key);
		http_reply_error(req, 400, "invalid_field", "public_key",
		    "public_key must be base64 of 32 bytes");
		return;
	}
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.key = key;
	p.rotate = json_is_true(json_object_get(body, "rotate"));
	if (deploy_dataplanes_ensure_topics(d, name, &err) == -1 ||
	    store_tx(d->store, deploy_dataplanes_put_tx, &p, &err) == -1) {
		free(key);
		deploy_http_fail(req, &err);
		return;
	}
	free(key);
	if (p.refused) {
		http_reply_error(req, 409, "dataplane_exists", "public_key",
		    "data plane %s is registered with another key; pass "
		    "\"rotate\": true to replace it", name);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("data plane %s %s", name, p.created ? "registered" :
	    p.changed ? "key ROTATED by the operator" : "registered again, same key");
	http_reply_json(req, p.created ? 201 : 200, json_pack("{s:s, s:s, s:s}",
	    "name", name, "public_key", pk, "created_at", p.created_at));
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
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM dataplanes "
	    "ORDER BY created_at, name", 0, NULL, NULL, &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
		    "name", store_result_get(r, i, 0),
		    "public_key", store_result_get(r, i, 1),
		    "created_at", store_result_get(r, i, 2)));
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
	if (!deploy_http_org_valid(e.org)) {
		http_reply_error(req, 400, "invalid_field", "org", "invalid org");
		return;
	}
	if (deploy_dataplanes_env_body(req, &e) == -1)
		return;
	if (store_tx(d->store, deploy_dataplanes_env_tx, &e, &err) == -1) {
		if (strcmp(err.code, "foreign_key_violation") == 0)
			http_reply_error(req, 422, "unknown_dataplane", "dataplane",
			    "no data plane %s is registered", e.dataplane);
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

	if (!deploy_http_org_valid(org)) {
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
