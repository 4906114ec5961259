/*
 * deploy_config_http.c: variables and secrets per component and
 * environment. Every change writes a new configuration version in one
 * transaction, under a lock on that component+environment so two changes
 * never both become version n+1; nothing is deployed by it (a deployment,
 * or POST .../deployments {"config_only": true}, picks the newest up).
 * Secrets are write-only: no answer ever holds a value, only names and when
 * each was set. A bad name or value is 422 and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy.h"
#include "crypto.h"
#include "json.h"
#include "store.h"

/* One change, as the transaction applies it. */
struct deploy_config_change {
	struct deploy *d;
	const char *component_id;
	const char *environment;
	const char *name;          /* the secret's; NULL for PUT config */
	json_t *vars;              /* PUT config: the new set (borrowed) */
	const char *value;         /* PUT secret (borrowed) */
	size_t value_len;
	int remove;                /* DELETE secret */
	int version;               /* out: the version written */
	char set_at[32];
};

/*
 * Loads the addressed component and environment; 0, or -1 when it replied
 * or parked the request until the component is known (then self runs again).
 */
static int
deploy_config_http_target(struct http_request *req, struct deploy *d,
    struct deploy_component *comp, const char **env, http_handler self)
{
	struct deploy_target target;

	*env = http_request_param(req, "env");
	if (deploy_http_component_load(req, d, comp, self) == -1)
		return -1;
	if (!deploy_http_name_valid(*env)) {
		http_reply_error(req, 422, "unknown_environment", "environment",
		    "no such environment");
		return -1;
	}
	return deploy_http_environment(req, d, comp->org, *env, &target);
}

static void
deploy_config_http_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L % 1000));
}

/* The new secret entry {"id","ciphertext","set_at"} for c. */
static json_t *
deploy_config_http_seal_secret(struct deploy_config_change *c,
    struct error *err)
{
	unsigned char *blob;
	size_t blen;
	char id[37], *b64;
	json_t *o;

	crypto_uuid(id);
	if (secret_encrypt(c->d->keyring, id, c->value, c->value_len, &blob,
	    &blen, err) == -1)
		return NULL;
	b64 = crypto_b64_encode(blob, blen);
	free(blob);
	if (b64 == NULL) {
		error_set(err, "db_error", "", "out of memory");
		return NULL;
	}
	deploy_config_http_now(c->set_at);
	o = json_pack("{s:s,s:s,s:s}", "id", id, "ciphertext", b64, "set_at",
	    c->set_at);
	free(b64);
	return o;
}

/* Applies c to snapshot n (the newest, copied); -1 with err when refused. */
static int
deploy_config_http_apply(struct deploy_config_change *c,
    struct deploy_config_snap *n, struct error *err)
{
	json_t *sec;
	int status;

	if (c->name == NULL) {
		json_decref(n->vars);
		n->vars = json_deep_copy(c->vars);
	} else if (c->remove) {
		if (json_object_del(n->secrets, c->name) == -1) {
			error_set(err, "not_found", "name", "no secret %s", c->name);
			return -1;
		}
	} else {
		if ((sec = deploy_config_http_seal_secret(c, err)) == NULL)
			return -1;
		json_object_set_new(n->secrets, c->name, sec);
	}
	for (void *it = json_object_iter(n->secrets); it != NULL;
	    it = json_object_iter_next(n->secrets, it))
		if (json_object_get(n->vars, json_object_iter_key(it)) != NULL) {
			error_set(err, "name_in_use", json_object_iter_key(it),
			    "%s is both a variable and a secret",
			    json_object_iter_key(it));
			return -1;
		}
	return deploy_config_input_count(json_object_size(n->vars) +
	    json_object_size(n->secrets), deploy_config_input_total(n->vars,
	    n->secrets), &status, err);
}

static int
deploy_config_http_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_config_change *c = arg;
	struct deploy_config_snap n;
	int rc;

	if (deploy_config_store_lock(s, c->component_id, c->environment,
	    err) == -1 || deploy_config_store_get(s, c->component_id,
	    c->environment, -1, &n, err) == -1)
		return -1;
	n.version++;
	rc = deploy_config_http_apply(c, &n, err) == -1 ||
	    deploy_config_store_put(s, c->component_id, c->environment, &n,
	    err) == -1 ? -1 : 0;
	c->version = n.version;
	deploy_config_snap_clear(&n);
	return rc;
}

/* Runs change c; 0, or -1 when it replied with the refusal or failure. */
static int
deploy_config_http_change(struct http_request *req,
    struct deploy_config_change *c)
{
	struct error err;

	error_clear(&err);
	if (store_tx(c->d->store, deploy_config_http_tx, c, &err) == 0) {
		log_info("configuration of %s in %s is now version %d",
		    c->component_id, c->environment, c->version);
		return 0;
	}
	if (strcmp(err.code, "not_found") == 0)
		http_reply_err(req, 404, &err);
	else if (strcmp(err.code, "name_in_use") == 0 ||
	    strcmp(err.code, "too_many_variables") == 0 ||
	    strcmp(err.code, "config_too_large") == 0)
		http_reply_err(req, 422, &err);
	else
		deploy_http_fail(req, &err);
	return -1;
}

/* PUT /v1/components/{id}/environments/{env}/config {"vars": {NAME: value}} */
void
deploy_config_http_put(struct http_request *req, void *ctx)
{
	struct deploy_config_change c = { .d = ctx };
	struct deploy_component comp;
	struct error err;
	json_t *body;
	int status;

	if ((body = http_request_json(req)) == NULL)
		return;
	error_clear(&err);
	if (deploy_config_input_vars(body, &status, &err) == -1) {
		http_reply_err(req, status, &err);
		return;
	}
	if (deploy_config_http_target(req, ctx, &comp, &c.environment,
	    deploy_config_http_put) == -1)
		return;
	c.component_id = comp.id;
	c.vars = json_object_get(body, "vars");
	if (deploy_config_http_change(req, &c) == -1)
		return;
	http_reply_json(req, 200, json_pack("{s:s,s:s,s:i,s:O}", "component_id",
	    comp.id, "environment", c.environment, "version", c.version, "vars",
	    c.vars));
}

/* GET /v1/components/{id}/environments/{env}/config */
void
deploy_config_http_get(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_component comp;
	struct deploy_config_snap c;
	struct error err;
	const char *env;

	if (deploy_config_http_target(req, d, &comp, &env,
	    deploy_config_http_get) == -1)
		return;
	if (deploy_config_store_get(d->store, comp.id, env, -1, &c, &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s,s:s,s:i,s:O}", "component_id",
	    comp.id, "environment", env, "version", c.version, "vars", c.vars));
	deploy_config_snap_clear(&c);
}

/* The secret name of the path, checked; NULL when it replied. */
static const char *
deploy_config_http_secret_name(struct http_request *req, struct deploy *d)
{
	const char *name = http_request_param(req, "key");
	struct error err;
	int status;

	if (d->keyring == NULL) {
		http_reply_error(req, 503, "secrets_unavailable", "", "deploy-svc "
		    "runs without a keyring (SLIPWAY_KEK_FILE): secrets are off");
		return NULL;
	}
	if (deploy_config_input_check(name, NULL, 0, &status, &err) == -1) {
		http_reply_err(req, status, &err);
		return NULL;
	}
	return name;
}

/* PUT /v1/components/{id}/environments/{env}/secrets/{key} {"value"} */
void
deploy_config_http_secret_put(struct http_request *req, void *ctx)
{
	struct deploy_config_change c = { .d = ctx };
	struct deploy_component comp;
	struct error err;
	json_t *body;
	int status;

	if ((c.name = deploy_config_http_secret_name(req, ctx)) == NULL ||
	    (body = http_request_json(req)) == NULL)
		return;
	error_clear(&err);
	if ((c.value = deploy_config_input_secret(body, &c.value_len, &status,
	    &err)) == NULL) {
		http_reply_err(req, status, &err);
		return;
	}
	if (deploy_config_http_target(req, ctx, &comp, &c.environment,
	    deploy_config_http_secret_put) == -1)
		return;
	c.component_id = comp.id;
	if (deploy_config_http_change(req, &c) == -1)
		return;
	http_reply_json(req, 200, json_pack("{s:s,s:s,s:s,s:i}", "name", c.name,
	    "environment", c.environment, "set_at", c.set_at, "version",
	    c.version));
}

/* DELETE /v1/components/{id}/environments/{env}/secrets/{key} */
void
deploy_config_http_secret_delete(struct http_request *req, void *ctx)
{
	struct deploy_config_change c = { .d = ctx, .remove = 1 };
	struct deploy_component comp;

	if ((c.name = deploy_config_http_secret_name(req, ctx)) == NULL ||
	    deploy_config_http_target(req, ctx, &comp, &c.environment,
	    deploy_config_http_secret_delete) == -1)
		return;
	c.component_id = comp.id;
	if (deploy_config_http_change(req, &c) == -1)
		return;
	http_reply_json(req, 200, json_pack("{s:s,s:s,s:i}", "name", c.name,
	    "environment", c.environment, "version", c.version));
}

/* GET /v1/components/{id}/environments/{env}/secrets: names, never values. */
void
deploy_config_http_secrets(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_component comp;
	struct deploy_config_snap c;
	struct error err;
	const char *env, *name;
	json_t *arr, *v;

	if (deploy_config_http_target(req, d, &comp, &env,
	    deploy_config_http_secrets) == -1)
		return;
	if (deploy_config_store_get(d->store, comp.id, env, -1, &c, &err) == -1) {
		deploy_http_fail(req, &err);
		return;
	}
	arr = json_array();
	json_object_foreach(c.secrets, name, v)
		json_array_append_new(arr, json_pack("{s:s,s:O}", "name", name,
		    "set_at", json_object_get(v, "set_at")));
	http_reply_json(req, 200, json_pack("{s:s,s:s,s:i,s:o}", "component_id",
	    comp.id, "environment", env, "version", c.version, "secrets", arr));
	deploy_config_snap_clear(&c);
}
