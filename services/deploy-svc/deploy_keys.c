/*
 * deploy_keys.c: org keys (operator API). deploy-svc is their one store:
 * POST issues a key, shown once in the 201 and kept only as its SHA-256;
 * DELETE revokes it. Each change commits in one transaction with an OrgKey
 * record in the outbox (compacted slipway.orgkeys, Kafka key = key id), the
 * whole record every time, so the topic's latest value per key is all a
 * service needs to authenticate (lib apikey.h); the relay publishes it at
 * once, and every service, this one included, learns it from the topic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "outbox.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_KEYS_COLUMNS \
	"id, org, name, role, key_hash, prefix, " DEPLOY_TIME("created_at") \
	", (extract(epoch FROM created_at) * 1000)::bigint, revoked_at IS NOT NULL"

/* One change of a key, in its transaction. */
struct deploy_keys_tx {
	struct deploy_key key;
	const char *trace;
	int found;               /* DELETE: the org has a key of this id */
};

/* The org of the path, checked like the other org routes; replies 400. */
static const char *
deploy_keys_org(struct http_request *req)
{
	const char *org = http_request_param(req, "org");

	if (!deploy_grants_org_valid(org)) {
		http_reply_error(req, 400, "invalid_field", "org", "invalid org");
		return NULL;
	}
	return org;
}

/* A row of DEPLOY_KEYS_COLUMNS into k. */
static void
deploy_keys_fill(const struct store_result *r, int row, struct deploy_key *k)
{
	snprintf(k->id, sizeof(k->id), "%s", store_result_get(r, row, 0));
	snprintf(k->org, sizeof(k->org), "%s", store_result_get(r, row, 1));
	snprintf(k->name, sizeof(k->name), "%s", store_result_get(r, row, 2));
	k->role = apikey_role_parse(store_result_get(r, row, 3));
	snprintf(k->hash, sizeof(k->hash), "%s", store_result_get(r, row, 4));
	snprintf(k->prefix, sizeof(k->prefix), "%s", store_result_get(r, row, 5));
	snprintf(k->created_at, sizeof(k->created_at), "%s",
	    store_result_get(r, row, 6));
	k->created_at_ms = strtoll(store_result_get(r, row, 7), NULL, 10);
	k->revoked = strcmp(store_result_get(r, row, 8), "t") == 0;
}

/* The OrgKey record of k into the outbox, keyed by the key's id. */
static int
deploy_keys_emit(struct store *s, const struct deploy_keys_tx *t,
    struct error *err)
{
	Slipway__V1__OrgKey ok;
	Envelope env;
	char event_id[37];

	deploy_keys_input_to_proto(&t->key, &ok);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_ORG_KEY, event_id,
	    t->key.org, t->trace);
	env.org_key = &ok;
	return envelope_outbox(s, TOPIC_ORG_KEYS, t->key.id, &env, err);
}

static int
deploy_keys_insert_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_keys_tx *t = arg;
	const char *vals[] = { t->key.id, t->key.org, t->key.name,
	    apikey_role_name(t->key.role), t->key.hash, t->key.prefix };
	struct store_result *r;

	if (store_exec(s, &r, "INSERT INTO org_keys (id, org, name, role, "
	    "key_hash, prefix) VALUES ($1, $2, $3, $4, $5, $6) RETURNING "
	    DEPLOY_KEYS_COLUMNS, 6, vals, NULL, err) == -1)
		return -1;
	if (store_result_rows(r) == 1)
		deploy_keys_fill(r, 0, &t->key);
	store_result_free(r);
	return deploy_keys_emit(s, t, err);
}

/* The 201: the key itself, shown only now. */
static void
deploy_keys_reply_issued(struct http_request *req, const struct deploy_key *k,
    const char *key)
{
	http_reply_json(req, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "id", k->id, "key", key, "org", k->org, "name", k->name,
	    "role", apikey_role_name(k->role), "prefix", k->prefix,
	    "created_at", k->created_at));
}

/* POST /v1/orgs/{org}/keys {"name", "role"} */
void
deploy_keys_post(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_key_request rq;
	struct deploy_keys_tx t;
	char key[APIKEY_LEN + 1];
	const char *org;
	struct error err;
	json_t *body;
	int status;

	if ((org = deploy_keys_org(req)) == NULL ||
	    (body = http_request_json(req)) == NULL)
		return;
	if (deploy_keys_input_parse(body, &rq, &status, &err) == -1) {
		http_reply_err(req, status, &err);
		return;
	}
	memset(&t, 0, sizeof(t));
	t.trace = http_request_id(req);
	crypto_uuid(t.key.id);
	snprintf(t.key.org, sizeof(t.key.org), "%s", org);
	snprintf(t.key.name, sizeof(t.key.name), "%s", rq.name);
	t.key.role = rq.role;
	apikey_generate(key);
	crypto_sha256_hex(key, strlen(key), t.key.hash);
	snprintf(t.key.prefix, sizeof(t.key.prefix), "%.*s",
	    APIKEY_SHOWN_PREFIX_LEN, key);
	if (store_tx(d->store, deploy_keys_insert_tx, &t, &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("org key %s (%s, %s) issued for org %s", t.key.id, t.key.prefix,
	    apikey_role_name(t.key.role), org);
	deploy_keys_reply_issued(req, &t.key, key);
	memset(key, 0, sizeof(key));
}

/* One listed key: everything but the key and its hash. */
static json_t *
deploy_keys_row_json(const struct store_result *r, int row)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "id", store_result_get(r, row, 0), "org", store_result_get(r, row, 1),
	    "name", store_result_get(r, row, 2), "role", store_result_get(r, row, 3),
	    "prefix", store_result_get(r, row, 4),
	    "created_at", store_result_get(r, row, 5));

	json_object_set_new(o, "revoked_at", store_result_isnull(r, row, 6) ?
	    json_null() : json_string(store_result_get(r, row, 6)));
	return o;
}

/* GET /v1/orgs/{org}/keys, oldest first, revoked ones included. */
void
deploy_keys_list(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct store_result *r;
	struct error err;
	const char *org, *vals[1];
	json_t *arr;

	if ((org = deploy_keys_org(req)) == NULL)
		return;
	vals[0] = org;
	if (store_exec(d->store, &r, "SELECT id, org, name, role, prefix, "
	    DEPLOY_TIME("created_at") ", " DEPLOY_TIME("revoked_at")
	    " FROM org_keys WHERE org = $1 ORDER BY created_at, id", 1, vals,
	    NULL, &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, deploy_keys_row_json(r, i));
	store_result_free(r);
	http_reply_json(req, 200, json_pack("{s:o}", "keys", arr));
}

/*
 * Revokes the org's key of that id (a second revocation keeps the first
 * time) and publishes the record revoked again: idempotent on a compacted
 * topic, and it mends a topic that lost the first one.
 */
static int
deploy_keys_revoke_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_keys_tx *t = arg;
	const char *vals[] = { t->key.id, t->key.org };
	struct store_result *r;

	if (store_exec(s, &r, "UPDATE org_keys SET revoked_at = "
	    "COALESCE(revoked_at, clock_timestamp()) WHERE id = $1 AND org = $2 "
	    "RETURNING " DEPLOY_KEYS_COLUMNS, 2, vals, NULL, err) == -1)
		return -1;
	if ((t->found = store_result_rows(r) == 1))
		deploy_keys_fill(r, 0, &t->key);
	store_result_free(r);
	return t->found ? deploy_keys_emit(s, t, err) : 0;
}

/* DELETE /v1/orgs/{org}/keys/{id} */
void
deploy_keys_delete(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	struct deploy_keys_tx t;
	struct error err;
	const char *org;

	if ((org = deploy_keys_org(req)) == NULL)
		return;
	memset(&t, 0, sizeof(t));
	if (crypto_uuid_valid(id)) {
		t.trace = http_request_id(req);
		snprintf(t.key.id, sizeof(t.key.id), "%s", id);
		snprintf(t.key.org, sizeof(t.key.org), "%s", org);
		if (store_tx(d->store, deploy_keys_revoke_tx, &t, &err) == -1) {
			deploy_http_fail(req, &err);
			return;
		}
	}
	if (!t.found) {
		http_reply_error(req, 404, "not_found", "id", "no such key in org %s",
		    org);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("org key %s (%s) of org %s revoked", t.key.id, t.key.prefix, org);
	http_reply_empty(req, 204);
}
