/*
 * token_binding.c: the token binding contract (token_binding.h), written
 * by component-svc on issue and by webhook-ingress after a Postgres
 * fallback, read by webhook-ingress on every call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "crypto.h"
#include "token_binding.h"

void
token_binding_key(const char *hash, char *out, size_t len)
{
	snprintf(out, len, "slipway:token:%s", hash);
}

char *
token_binding_json(const struct token_binding *b)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s}",
	    "token_id", b->token_id, "component_id", b->component_id,
	    "org", b->org, "registry_host", b->registry_host,
	    "repository", b->repository,
	    "expires_at_ms", (json_int_t)b->expires_at_ms,
	    "signing", b->signing != 0,
	    "signing_box", b->signing ? b->signing_box : "");
	char *s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* A string member that fits out (NUL included) and holds no NUL. */
static int
token_binding_str(json_t *o, const char *key, char *out, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= len ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A repository is only good in its canonical form: host/path, nothing else. */
static int
token_binding_repository_valid(const char *repo)
{
	char canon[IMAGE_REF_MAX + 1];

	return repo[0] != '\0' &&
	    token_binding_repository(repo, canon, sizeof(canon)) == 0 &&
	    strcmp(canon, repo) == 0;
}

/* expires_at_ms: absent, null or a non-negative integer. */
static int
token_binding_expiry(json_t *exp, long long *out)
{
	if (exp == NULL || json_is_null(exp)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(exp) || json_integer_value(exp) < 0)
		return -1;
	*out = (long long)json_integer_value(exp);
	return 0;
}

/* signing must be there (bindings without it predate it); a box with it. */
static int
token_binding_signing(json_t *o, struct token_binding *out)
{
	json_t *v = json_object_get(o, "signing");

	if (!json_is_boolean(v) || token_binding_str(o, "signing_box",
	    out->signing_box, sizeof(out->signing_box)) == -1)
		return -1;
	out->signing = json_is_true(v);
	if (out->signing != (out->signing_box[0] != '\0'))
		return -1;
	return 0;
}

static int
token_binding_members(json_t *o, struct token_binding *out)
{
	if (!json_is_object(o) ||
	    token_binding_str(o, "token_id", out->token_id,
	    sizeof(out->token_id)) == -1 ||
	    token_binding_str(o, "component_id", out->component_id,
	    sizeof(out->component_id)) == -1 ||
	    token_binding_str(o, "org", out->org, sizeof(out->org)) == -1 ||
	    token_binding_str(o, "registry_host", out->registry_host,
	    sizeof(out->registry_host)) == -1 ||
	    token_binding_str(o, "repository", out->repository,
	    sizeof(out->repository)) == -1)
		return -1;
	if (!crypto_uuid_valid(out->component_id) ||
	    !token_binding_repository_valid(out->repository) ||
	    token_binding_expiry(json_object_get(o, "expires_at_ms"),
	    &out->expires_at_ms) == -1)
		return -1;
	return token_binding_signing(o, out);
}

int
token_binding_parse(const char *json, size_t len, struct token_binding *out)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (json == NULL || len == 0 || len > TOKEN_BINDING_MAX ||
	    (o = json_loadb(json, len, 0, &jerr)) == NULL)
		return -1;
	rc = token_binding_members(o, out);
	json_decref(o);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
token_binding_live(const struct token_binding *b, long long now_ms)
{
	return b->expires_at_ms == 0 || now_ms < b->expires_at_ms;
}

int
token_binding_repository(const char *image, char *out, size_t len)
{
	struct image_ref ref;
	struct error err;

	if (image_ref_parse(image, &ref, &err) == -1)
		return -1;
	ref.tag[0] = '\0';
	ref.digest[0] = '\0';
	return image_ref_format(&ref, out, len);
}
