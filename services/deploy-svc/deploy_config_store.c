/*
 * deploy_config_store.c: the versions of a component+environment's
 * configuration (table config_versions, migration 006), and the sealed copy
 * of one version that travels in ApplyDeployment. A version is never
 * changed once written: a deployment that names it can always be run again
 * with exactly those values. Secrets stay encrypted at rest (lib crypto.h
 * secret_encrypt, the secret's own id as associated data) and are opened
 * only here, to be sealed at once to the one data plane that runs them;
 * every plaintext buffer is zeroed before it is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "store.h"

void
deploy_config_snap_clear(struct deploy_config_snap *c)
{
	json_decref(c->vars);
	json_decref(c->secrets);
	memset(c, 0, sizeof(*c));
}

/* A jsonb column's text as an object; NULL when it is not one. */
static json_t *
deploy_config_store_object(const char *text)
{
	json_t *o = json_loads(text != NULL ? text : "", 0, NULL);

	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
deploy_config_store_get(struct store *s, const char *component_id,
    const char *environment, int v, struct deploy_config_snap *out,
    struct error *err)
{
	struct store_result *r;
	char vs[16];
	const char *vals[] = { component_id, environment, vs };
	int rc;

	memset(out, 0, sizeof(*out));
	if (v == 0) {
		out->vars = json_object();
		out->secrets = json_object();
		return 1;
	}
	snprintf(vs, sizeof(vs), "%d", v);
	rc = deploy_store_one(s, &r, "SELECT version, vars::text, secrets::text "
	    "FROM config_versions WHERE component_id = $1 AND environment = $2 "
	    "AND ($3::integer < 0 OR version = $3::integer) "
	    "ORDER BY version DESC LIMIT 1", 3, vals, err);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		out->vars = json_object();
		out->secrets = json_object();
		return v < 0 ? 1 : 0;
	}
	out->version = atoi(store_result_get(r, 0, 0));
	out->vars = deploy_config_store_object(store_result_get(r, 0, 1));
	out->secrets = deploy_config_store_object(store_result_get(r, 0, 2));
	store_result_free(r);
	if (out->vars == NULL || out->secrets == NULL) {
		deploy_config_snap_clear(out);
		error_set(err, "db_error", "", "configuration version unreadable");
		return -1;
	}
	return 1;
}

int
deploy_config_store_lock(struct store *s, const char *component_id,
    const char *environment, struct error *err)
{
	const char *vals[] = { component_id, environment };

	return store_exec(s, NULL, "SELECT pg_advisory_xact_lock("
	    "hashtext($1), hashtext($2))", 2, vals, NULL, err);
}

int
deploy_config_store_put(struct store *s, const char *component_id,
    const char *environment, const struct deploy_config_snap *c,
    struct error *err)
{
	char vs[16], *vars, *secrets;
	int rc;

	snprintf(vs, sizeof(vs), "%d", c->version);
	vars = json_dumps(c->vars, JSON_COMPACT);
	secrets = json_dumps(c->secrets, JSON_COMPACT);
	if (vars == NULL || secrets == NULL) {
		free(vars);
		free(secrets);
		error_set(err, "db_error", "", "out of memory");
		return -1;
	}
	const char *vals[] = { component_id, environment, vs, vars, secrets };
	rc = store_exec(s, NULL, "INSERT INTO config_versions (component_id, "
	    "environment, version, vars, secrets) VALUES ($1, $2, $3, $4, $5)",
	    5, vals, NULL, err);
	free(vars);
	free(secrets);
	return rc == -1 ? -1 : 0;
}

/* The data plane's public key; -1 config_unavailable when it has none. */
static int
deploy_config_store_dp_key(struct store *s, const char *dataplane,
    unsigned char pk[CRYPTO_PK_LEN], struct error *err)
{
	struct store_result *r;
	const char *vals[] = { dataplane };
	unsigned char *key = NULL;
	size_t len = 0;
	int rc = deploy_store_one(s, &r, "SELECT encode(public_key, 'base64') "
	    "FROM dataplanes WHERE name = $1", 1, vals, err);

	if (rc == -1)
		return -1;
	if (rc == 1)
		key = crypto_b64_decode(store_result_get(r, 0, 0), &len);
	if (rc == 1)
		store_result_free(r);
	if (key == NULL || len != CRYPTO_PK_LEN) {
		free(key);
		error_set(err, "config_unavailable", "", "data plane %s has no "
		    "public key to seal the configuration to", dataplane);
		return -1;
	}
	memcpy(pk, key, CRYPTO_PK_LEN);
	free(key);
	return 0;
}

/* One secret's plaintext (NUL-terminated, malloc'd), or NULL with err. */
static char *
deploy_config_store_open(const struct keyring *k, const char *name,
    json_t *sec, size_t *len, struct error *err)
{
	const char *id = json_string_value(json_object_get(sec, "id"));
	const char *ct = json_string_value(json_object_get(sec, "ciphertext"));
	unsigned char *blob, *pt = NULL;
	size_t blen = 0;
	char *out;

	if (k == NULL) {
		error_set(err, "config_unavailable", "", "deploy-svc has no keyring "
		    "(SLIPWAY_KEK_FILE) to open secret %s", name);
		return NULL;
	}
	if (id == NULL || ct == NULL ||
	    (blob = crypto_b64_decode(ct, &blen)) == NULL) {
		error_set(err, "config_unavailable", "", "secret %s is unreadable",
		    name);
		return NULL;
	}
	if (secret_decrypt(k, id, blob, blen, &pt, len, err) == -1) {
		free(blob);
		error_set(err, "config_unavailable", "", "secret %s does not open "
		    "with this keyring", name);
		return NULL;
	}
	free(blob);
	if ((out = malloc(*len + 1)) != NULL) {
		memcpy(out, pt, *len);
		out[*len] = '\0';
	}
	crypto_free_secret(pt, *len);
	if (out == NULL)
		error_set(err, "db_error", "", "out of memory");
	return out;
}

/*
 * Storage of a SealedEnv being packed: every value is zeroed when freed.
 * cfgp names the configuration variables (not the secrets), borrowed from
 * the snapshot: a Kubernetes data plane keeps those in a ConfigMap.
 */
struct deploy_config_pack {
	Slipway__V1__SealedEnv se;
	Slipway__V1__EnvVar ev[DEPLOY_CONFIG_VARS_MAX];
	Slipway__V1__EnvVar *evp[DEPLOY_CONFIG_VARS_MAX];
	char *cfgp[DEPLOY_CONFIG_VARS_MAX];
	char *opened[DEPLOY_CONFIG_VARS_MAX];
	size_t opened_len[DEPLOY_CONFIG_VARS_MAX];
	size_t nopened;
};

static void
deploy_config_pack_free(struct deploy_config_pack *p)
{
	for (size_t i = 0; i < p->nopened; i++)
		crypto_free_secret(p->opened[i], p->opened_len[i] + 1);
	free(p);
}

static int
deploy_config_pack_add(struct deploy_config_pack *p, const char *name,
    const char *value)
{
	if (p->se.n_vars >= DEPLOY_CONFIG_VARS_MAX)
		return -1;
	slipway__v1__env_var__init(&p->ev[p->se.n_vars]);
	p->ev[p->se.n_vars].name = DEPLOY_STR(name);
	p->ev[p->se.n_vars].value = DEPLOY_STR(value);
	p->evp[p->se.n_vars] = &p->ev[p->se.n_vars];
	p->se.n_vars++;
	return 0;
}

/*
 * Every variable and every opened secret of c into p, the variables' names
 * also in config_names: a name not there is a secret.
 */
static int
deploy_config_pack_fill(struct deploy_config_pack *p, const struct keyring *k,
    const struct deploy_config_snap *c, struct error *err)
{
	const char *name;
	json_t *v;

	json_object_foreach(c->vars, name, v) {
		if (deploy_config_pack_add(p, name, json_string_value(v)) == -1)
			goto full;
		p->cfgp[p->se.n_config_names++] = DEPLOY_STR(name);
	}
	json_object_foreach(c->secrets, name, v) {
		size_t i = p->nopened;
		if (i >= DEPLOY_CONFIG_VARS_MAX)
			goto full;
		if ((p->opened[i] = deploy_config_store_open(k, name, v,
		    &p->opened_len[i], err)) == NULL)
			return -1;
		p->nopened++;
		if (deploy_config_pack_add(p, name, p->opened[i]) == -1)
			goto full;
	}
	return 0;
full:
	error_set(err, "config_unavailable", "", "too many variables");
	return -1;
}

/* c packed and sealed to pk into *blob / *len. */
static int
deploy_config_store_seal_snap(const struct keyring *k,
    const struct deploy_config_snap *c, const unsigned char *pk,
    unsigned char **blob, size_t *len, struct error *err)
{
	struct deploy_config_pack *p = calloc(1, sizeof(*p));
	unsigned char *packed;
	size_t plen;
	int rc = -1;

	if (p == NULL) {
		error_set(err, "db_error", "", "out of memory");
		return -1;
	}
	slipway__v1__sealed_env__init(&p->se);
	p->se.vars = p->evp;
	p->se.config_names = p->cfgp;
	if (deploy_config_pack_fill(p, k, c, err) == 0) {
		plen = slipway__v1__sealed_env__get_packed_size(&p->se);
		if ((packed = malloc(plen + 1)) != NULL) {
			slipway__v1__sealed_env__pack(&p->se, packed);
			rc = crypto_seal(pk, packed, plen, blob, len) == 0 ? 0 : -1;
			crypto_free_secret(packed, plen + 1);
		}
		if (rc == -1)
			error_set(err, "db_error", "", "sealing the configuration "
			    "failed");
	}
	deploy_config_pack_free(p);
	return rc;
}

int
deploy_config_store_seal(struct store *s, const struct keyring *k,
    const char *component_id, const char *environment, const char *dataplane,
    int *version, unsigned char **blob, size_t *len, struct error *err)
{
	struct deploy_config_snap c;
	unsigned char pk[CRYPTO_PK_LEN];
	int rc;

	*blob = NULL;
	*len = 0;
	if ((rc = deploy_config_store_get(s, component_id, environment,
	    *version, &c, err)) == -1)
		return -1;
	if (rc == 0) {
		error_set(err, "config_unavailable", "", "configuration version %d "
		    "of %s does not exist", *version, environment);
		return -1;
	}
	*version = c.version;
	rc = 0;
	if (json_object_size(c.vars) + json_object_size(c.secrets) > 0)
		rc = deploy_config_store_dp_key(s, dataplane, pk, err) == -1 ||
		    deploy_config_store_seal_snap(k, &c, pk, blob, len, err) == -1 ?
		    -1 : 0;
	deploy_config_snap_clear(&c);
	return rc;
}
