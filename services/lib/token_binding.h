/*
 * token_binding.h: what a CI token grants, as component-svc writes it and
 * webhook-ingress reads it. ONE module for both sides, so the Redis JSON
 * cannot drift between its writer and its reader.
 *
 * Redis key slipway:token:<sha256 hex of the token>, value (compact JSON):
 *   {"token_id","component_id","org","registry_host","repository",
 *    "expires_at_ms","signing","signing_box"}
 * repository is the component's image without tag or digest, canonical
 * ("127.0.0.1:15000/demo/hello"); signing is a boolean; signing_box is the
 * token's sealed signing secret (signing.h), "" unless signing.
 *
 * The parser is strict: a value without one of these members (a binding
 * written before repository or signing existed), with an empty or
 * non-canonical repository, or with signing true and no box, is malformed.
 * The webhook then asks Postgres, which is authoritative, and caches the
 * full answer: an old entry costs one query, never a weaker check.
 */
#ifndef SLIPWAY_TOKEN_BINDING_H
#define SLIPWAY_TOKEN_BINDING_H

#include <stddef.h>
#include "imageref.h"
#include "signing.h"

#define TOKEN_BINDING_MAX     4096   /* largest cached binding we accept */
/*
 * Redis expiry of a binding: the token's own expiry, at most this. The
 * webhook may not write bindings back (its Redis user is read-only there),
 * so a short expiry would send every call of an older token to Postgres.
 * Revocation deletes the binding at once, whatever its expiry.
 */
#define TOKEN_BINDING_TTL_MAX_S (7 * 24 * 3600)
#define TOKEN_BINDING_KEY_MAX 96
#define TOKEN_BINDING_ORG_MAX 63

struct token_binding {
	char token_id[37];
	char component_id[37];
	char org[TOKEN_BINDING_ORG_MAX + 1];
	char registry_host[256];
	char repository[IMAGE_REF_MAX + 1];   /* image without tag or digest */
	long long expires_at_ms;              /* 0 = never */
	int signing;                          /* 1: calls must be signed */
	char signing_box[SIGNING_BOX_MAX + 1];   /* "" unless signing */
};

/* "slipway:token:<hash>" into out (TOKEN_BINDING_KEY_MAX bytes suffice). */
void token_binding_key(const char *hash, char *out, size_t len);
/* The binding as cached: compact JSON, malloc'd; NULL on failure. */
char *token_binding_json(const struct token_binding *b);
/* Parses a cached binding (Redis is outside input); -1 when malformed. */
int token_binding_parse(const char *json, size_t len, struct token_binding *out);
/* 1 while the binding has not expired. */
int token_binding_live(const struct token_binding *b, long long now_ms);
/* "host/path" of an image reference, without tag or digest; -1 if invalid. */
int token_binding_repository(const char *image, char *out, size_t len);

#endif
