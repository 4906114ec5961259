/*
 * deploy_config_rewrap.c: `deploy-svc rewrap`: moves the secrets of every
 * configuration version under the newest KEK (lib rewrap.h runs the
 * passes). A row is a configuration version with secrets; it is stale when
 * one of its secrets is; its cursor is "<component>/<environment>/<version>"
 * (neither name holds a '/'). Versions are immutable in what they say: only
 * the wrapping of their ciphertexts changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "rewrap.h"
#include "store.h"

/* true when a secret of the row's secrets (an object) is not under $1. */
#define REWRAP_STALE "EXISTS (SELECT 1 FROM jsonb_each(secrets) e WHERE " \
	"substring(decode(e.value->>'ciphertext', 'base64') FROM 1 FOR " \
	"length($1::bytea)) IS DISTINCT FROM $1::bytea)"

static int
deploy_rewrap_census(struct store *s, const unsigned char *hdr, size_t hlen,
    long *current, long *stale, struct error *err)
{
	const char *v[] = { (const char *)hdr };
	const int lens[] = { (int)hlen };
	struct store_result *r;

	if (store_exec(s, &r, "SELECT count(*) FILTER (WHERE NOT stale), "
	    "count(*) FILTER (WHERE stale) FROM (SELECT " REWRAP_STALE " AS stale "
	    "FROM config_versions WHERE secrets <> '{}'::jsonb) t", 1, v, lens,
	    err) < 0)
		return -1;
	*current = strtol(store_result_get(r, 0, 0), NULL, 10);
	*stale = strtol(store_result_get(r, 0, 1), NULL, 10);
	store_result_free(r);
	return 0;
}

/* One secret {"id","ciphertext",...} re-wrapped in place; -1 when it does
 * not open (the row then stays as it is). */
static int
deploy_rewrap_secret(const struct keyring *k, json_t *sec, struct error *err)
{
	const char *id = json_string_value(json_object_get(sec, "id"));
	const char *ct = json_string_value(json_object_get(sec, "ciphertext"));
	unsigned char *blob, *out = NULL;
	size_t len;
	char *b64;
	int rc;

	if (id == NULL || ct == NULL || (blob = crypto_b64_decode(ct, &len)) ==
	    NULL) {
		error_set(err, "unreadable", "", "not an id and base64 ciphertext");
		return -1;
	}
	rc = secret_rewrap(k, id, blob, len, &out, err);
	free(blob);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	b64 = crypto_b64_encode(out, len);
	free(out);
	if (b64 == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	json_object_set_new(sec, "ciphertext", json_string(b64));
	free(b64);
	return 0;
}

/* Re-wraps one version's secrets and writes them back; counts a failure. */
static int
deploy_rewrap_row(struct store *s, struct rewrap_batch *b,
    struct store_result *r, int i, struct error *err)
{
	const char *comp = store_result_get(r, i, 0);
	const char *env = store_result_get(r, i, 1);
	const char *ver = store_result_get(r, i, 2);
	json_t *secrets = json_loads(store_result_get(r, i, 3), 0, NULL), *sec;
	const char *name;
	struct error why;
	char *text;
	int rc = 0;

	error_clear(&why);
	json_object_foreach(secrets, name, sec)
		if (deploy_rewrap_secret(b->k, sec, &why) == -1) {
			log_warnx("configuration %s/%s version %s: secret %s does "
			    "not open, the version keeps its old key: %s", comp,
			    env, ver, name, why.msg);
			b->failed++;
			json_decref(secrets);
			return 0;
		}
	if (secrets == NULL || (text = json_dumps(secrets, JSON_COMPACT)) ==
	    NULL) {
		json_decref(secrets);
		error_set(err, "db_error", "", "configuration %s/%s version %s: "
		    "secrets are not JSON", comp, env, ver);
		return -1;
	}
	{
		const char *v[] = { comp, env, ver, text };

		rc = store_exec(s, NULL, "UPDATE config_versions SET secrets = "
		    "$4::jsonb WHERE component_id = $1 AND environment = $2 AND "
		    "version = $3", 4, v, NULL, err);
	}
	free(text);
	json_decref(secrets);
	b->rewrapped += rc == 0;
	return rc;
}

static int
deploy_rewrap_batch(struct store *s, struct rewrap_batch *b, struct error *err)
{
	char comp[37] = "00000000-0000-0000-0000-000000000000", env[64] = "",
	    ver[16] = "0", lim[16];
	const char *v[] = { (const char *)b->hdr, comp, env, ver, lim };
	const int lens[] = { (int)sizeof(b->hdr), -1, -1, -1, -1 };
	struct store_result *r;
	int n, i, rc = 0;

	if (b->cursor[0] != '\0' && sscanf(b->cursor, "%36[^/]/%63[^/]/%15s",
	    comp, env, ver) != 3) {
		error_set(err, "internal", "", "bad rewrap cursor");
		return -1;
	}
	snprintf(lim, sizeof(lim), "%d", REWRAP_BATCH);
	if (store_exec(s, &r, "SELECT component_id, environment, version, "
	    "secrets::text FROM config_versions WHERE (component_id, "
	    "environment, version) > ($2::uuid, $3, $4::integer) AND secrets <> "
	    "'{}'::jsonb AND " REWRAP_STALE " ORDER BY component_id, "
	    "environment, version LIMIT $5 FOR UPDATE SKIP LOCKED", 5, v, lens,
	    err) < 0)
		return -1;
	n = store_result_rows(r);
	for (i = 0; i < n && rc == 0; i++)
		rc = deploy_rewrap_row(s, b, r, i, err);
	if (n > 0)
		snprintf(b->cursor, sizeof(b->cursor), "%s/%s/%s",
		    store_result_get(r, n - 1, 0), store_result_get(r, n - 1, 1),
		    store_result_get(r, n - 1, 2));
	b->seen = (size_t)n;
	store_result_free(r);
	return rc;
}

const struct rewrap_ops deploy_config_rewrap_ops = { deploy_rewrap_census,
	deploy_rewrap_batch };
