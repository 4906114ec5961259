/*
 * tokens.c: CI tokens bound to one component. Only the SHA-256 of a token is
 * stored; the value is shown once, in the 201 answer. After each commit the
 * Redis binding the webhook reads is written (issue) or dropped (revoke), and
 * a TokenIssued / TokenRevoked event goes through the outbox.
 *
 * A signing token ({"signing": true}) also gets a Standard Webhooks secret,
 * shown once beside the token and stored only sealed under a key derived
 * from the token (lib signing.h has the why and the trade-off).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "component.h"
#include "cache.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "outbox.h"
#include "signing.h"
#include "token_binding.h"

#define TOKEN_NAME_MAX      100
#define TOKEN_MAX_DAYS      3650

/* The component named by the path, or NULL after replying 404/503. */
static json_t *
tokens_component(struct http_request *req, struct comp_ctx *ctx)
{
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *c;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return NULL;
	}
	if ((c = comp_store_get(ctx->db, id, &err)) == NULL) {
		comp_http_store_error(req, &err);
		return NULL;
	}
	if (!comp_http_visible(req, json_string_value(json_object_get(c,
	    "org")))) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static const char *
tokens_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* "signing": absent, true or false. */
static int
tokens_parse_signing(json_t *body, int *signing, struct error *err)
{
	json_t *v = json_object_get(body, "signing");

	if (v != NULL && !json_is_boolean(v)) {
		error_set(err, "invalid_field", "signing",
		    "signing must be true or false");
		return -1;
	}
	*signing = json_is_true(v);
	return 0;
}

/* Optional {"name", "expires_in_days", "signing"}; an empty body: none. */
static int
tokens_parse(struct http_request *req, const char **name, long long *days,
    int *signing)
{
	static const char *const allowed[] = { "name", "expires_in_days",
		"signing", NULL };
	struct error err;
	json_t *body;
	size_t len;

	*name = NULL;
	*days = 0;
	*signing = 0;
	(void)http_request_body(req, &len);
	if (len == 0)
		return 0;
	if ((body = http_request_json(req)) == NULL)
		return -1;
	error_clear(&err);
	if (json_only_keys(body, allowed, &err) < 0) {
		http_reply_err(req, 400, &err);
		return -1;
	}
	*name = json_get_string(body, "name", TOKEN_NAME_MAX, 0, &err);
	if ((*name == NULL && err.code[0] != '\0') ||
	    json_get_int(body, "expires_in_days", 1, TOKEN_MAX_DAYS, 0, days,
	    &err) < 0 || tokens_parse_signing(body, signing, &err) < 0) {
		http_reply_err(req, 422, &err);
		return -1;
	}
	return 0;
}

struct tokens_issue {
	json_t *component;
	const char *name;
	long long days;
	int signing;
	char id[37];
	char hash[65];
	char prefix[TOKEN_PREFIX_LEN + 1];
	char box[SIGNING_BOX_MAX + 1];   /* sealed signing secret, "" for none */
	const char *trace;
	json_t *row;          /* the stored token, read back in the transaction */
};

static int
tokens_issue_tx(struct store *s, void *arg, struct error *err)
{
	struct tokens_issue *t = arg;
	const char *cid = tokens_str(t->component, "id");

	if (comp_store_token_insert(s, t->id, cid, t->name, t->hash, t->prefix,
	    t->days, t->signing ? t->box : NULL, err) < 0)
		return -1;
	if ((t->row = comp_store_token_get(s, t->id, err)) == NULL)
		return -1;
	return comp_events_token_issued(s, tokens_str(t->component, "org"), cid,
	    t->id, t->hash, t->prefix, json_integer_value(json_object_get(t->row,
	    "expires_at_ms")), t->trace, err);
}

/* The binding the webhook looks a token up by (lib token_binding.h). */
/* Seconds a binding stays in Redis: until the token expires, capped. */
static int
tokens_binding_ttl(long long expires_at_ms)
{
	long long left;

	if (expires_at_ms <= 0)
		return TOKEN_BINDING_TTL_MAX_S;
	left = (expires_at_ms - clock_wall_ms()) / 1000 + 1;
	return left < 1 ? 1 : left > TOKEN_BINDING_TTL_MAX_S ?
	    TOKEN_BINDING_TTL_MAX_S : (int)left;
}

/* Writes one token's binding for component: what the webhook trusts. */
static void
tokens_cache_write(struct comp_ctx *ctx, json_t *component,
    const char *token_id, const char *hash, long long expires_at_ms,
    const char *box)
{
	struct token_binding b;
	char key[TOKEN_BINDING_KEY_MAX], *text;

	memset(&b, 0, sizeof(b));
	snprintf(b.token_id, sizeof(b.token_id), "%s", token_id);
	snprintf(b.component_id, sizeof(b.component_id), "%s",
	    tokens_str(component, "id"));
	snprintf(b.org, sizeof(b.org), "%s", tokens_str(component, "org"));
	snprintf(b.registry_host, sizeof(b.registry_host), "%s",
	    tokens_str(component, "registry_host"));
	b.expires_at_ms = expires_at_ms;
	b.signing = box[0] != '\0';
	snprintf(b.signing_box, sizeof(b.signing_box), "%s", box);
	token_binding_key(hash, key, sizeof(key));
	/* No binding beats a wrong one: the webhook then asks Postgres. */
	if (token_binding_repository(tokens_str(component, "image"),
	    b.repository, sizeof(b.repository)) < 0 ||
	    (text = token_binding_json(&b)) == NULL) {
		cache_del(ctx->cache, key);
		return;
	}
	cache_set(ctx->cache, key, text, strlen(text),
	    tokens_binding_ttl(b.expires_at_ms));
	free(text);
}

static void
tokens_cache_binding(struct comp_ctx *ctx, const struct tokens_issue *t)
{
	tokens_cache_write(ctx, t->component, t->id, t->hash,
	    json_integer_value(json_object_get(t->row, "expires_at_ms")),
	    t->signing ? t->box : "");
}

void
tokens_rebind(struct comp_ctx *ctx, json_t *component, json_t *tokens)
{
	json_t *t;
	size_t i;

	json_array_foreach(tokens, i, t)
		tokens_cache_write(ctx, component, tokens_str(t, "id"),
		    tokens_str(t, "hash"), json_integer_value(json_object_get(t,
		    "expires_at_ms")), tokens_str(t, "signing_box"));
}

void
tokens_drop_bindings(struct comp_ctx *ctx, json_t *tokens)
{
	char key[TOKEN_BINDING_KEY_MAX];
	json_t *t;
	size_t i;

	json_array_foreach(tokens, i, t) {
		token_binding_key(tokens_str(t, "hash"), key, sizeof(key));
		cache_del(ctx->cache, key);
	}
}

/* The 201: the token, and a signing token's secret, both shown only now. */
static void
tokens_reply_issued(struct http_request *req, struct tokens_issue *t,
    const char *token, const char *secret)
{
	json_t *out = json_object();

	json_object_set_new(out, "id", json_string(t->id));
	json_object_set_new(out, "token", json_string(token));
	json_object_set_new(out, "prefix", json_string(t->prefix));
	json_object_set(out, "name", json_object_get(t->row, "name"));
	json_object_set(out, "created_at", json_object_get(t->row, "created_at"));
	json_object_set(out, "expires_at", json_object_get(t->row, "expires_at"));
	json_object_set_new(out, "signing", json_boolean(t->signing));
	if (t->signing)
		json_object_set_new(out, "signing_secret", json_string(secret));
	http_reply_json(req, 201, out);
}

/* A fresh secret for a signing token: its text, and its box in t. */
static int
tokens_signing_secret(struct tokens_issue *t, const char *token,
    char secret[SIGNING_SECRET_MAX + 1])
{
	unsigned char wrap[SIGNING_WRAP_LEN];
	struct signing_key key;
	int rc;

	signing_secret_generate(&key, secret);
	signing_wrap_key(token, TOKEN_LEN, wrap);
	rc = signing_seal(wrap, t->id, &key, t->box, sizeof(t->box));
	explicit_bzero(wrap, sizeof(wrap));
	signing_key_wipe(&key);
	return rc;
}

void
tokens_create(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	struct tokens_issue t;
	struct error err;
	char token[TOKEN_LEN + 1], secret[SIGNING_SECRET_MAX + 1] = "";

	memset(&t, 0, sizeof(t));
	if ((t.component = tokens_component(req, ctx)) == NULL)
		return;
	if (tokens_parse(req, &t.name, &t.days, &t.signing) < 0)
		goto done;
	crypto_uuid(t.id);
	token_generate(token);
	crypto_sha256_hex(token, TOKEN_LEN, t.hash);
	memcpy(t.prefix, token, TOKEN_PREFIX_LEN);
	t.trace = http_request_id(req);
	if (t.signing && tokens_signing_secret(&t, token, secret) < 0) {
		http_reply_error(req, 500, "internal", "", "cannot seal the secret");
		goto done;
	}
	if (store_tx(ctx->db, tokens_issue_tx, &t, &err) < 0) {
		comp_http_store_error(req, &err);
		goto done;
	}
	tokens_cache_binding(ctx, &t);
	outbox_relay_kick(ctx->relay);
	log_info("token %s (%s%s) issued for component %s", t.id, t.prefix,
	    t.signing ? ", signing" : "", tokens_str(t.component, "id"));
	tokens_reply_issued(req, &t, token, secret);
done:
	explicit_bzero(token, sizeof(token));
	explicit_bzero(secret, sizeof(secret));
	json_decref(t.row);
	json_decref(t.component);
}

void
tokens_list(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	struct error err;
	json_t *c, *arr;

	if ((c = tokens_component(req, ctx)) == NULL)
		return;
	arr = comp_store_token_list(ctx->db, tokens_str(c, "id"), &err);
	json_decref(c);
	if (arr == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

struct tokens_revoke {
	json_t *component;
	const char *token_id;
	char hash[65];
	char prefix[16];
	const char *trace;
};

static int
tokens_revoke_tx(struct store *s, void *arg, struct error *err)
{
	struct tokens_revoke *t = arg;
	const char *cid = tokens_str(t->component, "id");
	int rc;

	rc = comp_store_token_revoke(s, cid, t->token_id, t->hash, t->prefix, err);
	if (rc <= 0)
		return rc;   /* error, or already revoked: nothing to announce */
	return comp_events_token_revoked(s, tokens_str(t->component, "org"), cid,
	    t->token_id, t->hash, t->prefix, t->trace, err);
}

void
tokens_revoke(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	struct tokens_revoke t;
	struct error err;
	char key[TOKEN_BINDING_KEY_MAX];

	memset(&t, 0, sizeof(t));
	t.token_id = http_request_param(req, "token_id");
	if ((t.component = tokens_component(req, ctx)) == NULL)
		return;
	if (!crypto_uuid_valid(t.token_id)) {
		http_reply_error(req, 404, "not_found", "", "no such token");
	} else if (store_tx(ctx->db, tokens_revoke_tx, &t, &err) < 0) {
		comp_http_store_error(req, &err);
	} else {
		/* Deleting again on a repeated revoke is harmless. */
		token_binding_key(t.hash, key, sizeof(key));
		cache_del(ctx->cache, key);
		outbox_relay_kick(ctx->relay);
		log_info("token %s (%s) revoked", t.token_id, t.prefix);
		http_reply_empty(req, 204);
	}
	json_decref(t.component);
}
