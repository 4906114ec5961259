/*
 * tokens.c: CI tokens bound to one component. Only the SHA-256 of a token is
 * stored; the value is shown once, in the 201 answer. After each commit the
 * Redis binding the webhook reads is written (issue) or dropped (revoke), and
 * a TokenIssued / TokenRevoked event goes through the outbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "component.h"
#include "cache.h"
#include "crypto.h"
#include "http.h"
#include "imageref.h"
#include "json.h"
#include "outbox.h"

#define TOKEN_NAME_MAX      100
#define TOKEN_MAX_DAYS      3650
#define TOKEN_CACHE_TTL_S   300

static void
tokens_cache_key(const char *hash, char *buf, size_t len)
{
	snprintf(buf, len, "slipway:token:%s", hash);
}

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
	if ((c = comp_store_get(ctx->db, id, &err)) == NULL)
		comp_http_store_error(req, &err);
	return c;
}

static const char *
tokens_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* Optional {"name", "expires_in_days"}; an empty body means neither. */
static int
tokens_parse(struct http_request *req, const char **name, long long *days)
{
	static const char *const allowed[] = { "name", "expires_in_days", NULL };
	struct error err;
	json_t *body;
	size_t len;

	*name = NULL;
	*days = 0;
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
	    &err) < 0) {
		http_reply_err(req, 422, &err);
		return -1;
	}
	return 0;
}

struct tokens_issue {
	json_t *component;
	const char *name;
	long long days;
	char id[37];
	char hash[65];
	char prefix[TOKEN_PREFIX_LEN + 1];
	const char *trace;
	json_t *row;          /* the stored token, read back in the transaction */
};

static int
tokens_issue_tx(struct store *s, void *arg, struct error *err)
{
	struct tokens_issue *t = arg;
	const char *cid = tokens_str(t->component, "id");

	if (comp_store_token_insert(s, t->id, cid, t->name, t->hash, t->prefix,
	    t->days, err) < 0)
		return -1;
	if ((t->row = comp_store_token_get(s, t->id, err)) == NULL)
		return -1;
	return comp_events_token_issued(s, tokens_str(t->component, "org"), cid,
	    t->id, t->hash, t->prefix, json_integer_value(json_object_get(t->row,
	    "expires_at_ms")), t->trace, err);
}

/* The binding the webhook looks a token up by (docs/internals.md, Redis keys). */
static void
tokens_cache_binding(struct comp_ctx *ctx, const struct tokens_issue *t)
{
	struct image_ref ref;
	struct error err;
	char key[96], repo[520], *text;
	json_t *b;

	if (image_ref_parse(tokens_str(t->component, "image"), &ref, &err) < 0)
		return;
	snprintf(repo, sizeof(repo), "%s/%s", ref.domain, ref.path);
	b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "token_id", t->id,
	    "component_id", tokens_str(t->component, "id"),
	    "org", tokens_str(t->component, "org"),
	    "registry_host", tokens_str(t->component, "registry_host"),
	    "repository", repo, "expires_at_ms",
	    json_integer_value(json_object_get(t->row, "expires_at_ms")));
	text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (text == NULL)
		return;
	tokens_cache_key(t->hash, key, sizeof(key));
	cache_set(ctx->cache, key, text, strlen(text), TOKEN_CACHE_TTL_S);
	free(text);
}

static void
tokens_reply_issued(struct http_request *req, struct tokens_issue *t,
    const char *token)
{
	json_t *out = json_object();

	json_object_set_new(out, "id", json_string(t->id));
	json_object_set_new(out, "token", json_string(token));
	json_object_set_new(out, "prefix", json_string(t->prefix));
	json_object_set(out, "name", json_object_get(t->row, "name"));
	json_object_set(out, "created_at", json_object_get(t->row, "created_at"));
	json_object_set(out, "expires_at", json_object_get(t->row, "expires_at"));
	http_reply_json(req, 201, out);
}

void
tokens_create(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	struct tokens_issue t;
	struct error err;
	char token[TOKEN_LEN + 1];

	memset(&t, 0, sizeof(t));
	if ((t.component = tokens_component(req, ctx)) == NULL)
		return;
	if (tokens_parse(req, &t.name, &t.days) < 0)
		goto done;
	crypto_uuid(t.id);
	token_generate(token);
	crypto_sha256_hex(token, TOKEN_LEN, t.hash);
	memcpy(t.prefix, token, TOKEN_PREFIX_LEN);
	t.trace = http_request_id(req);
	if (store_tx(ctx->db, tokens_issue_tx, &t, &err) < 0) {
		comp_http_store_error(req, &err);
		goto done;
	}
	tokens_cache_binding(ctx, &t);
	outbox_relay_kick(ctx->relay);
	log_info("token %s (%s) issued for component %s", t.id, t.prefix,
	    tokens_str(t.component, "id"));
	tokens_reply_issued(req, &t, token);
done:
	explicit_bzero(token, sizeof(token));
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
	char key[96];

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
		tokens_cache_key(t.hash, key, sizeof(key));
		cache_del(ctx->cache, key);
		outbox_relay_kick(ctx->relay);
		log_info("token %s (%s) revoked", t.token_id, t.prefix);
		http_reply_empty(req, 204);
	}
	json_decref(t.component);
}
