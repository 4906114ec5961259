/*
 * hook_idempotency.c: a CI retry with the same Idempotency-Key gets the same
 * 202 answer (same request id) instead of a second deployment. The answer is
 * kept in Redis for 24 h under slipway:idem:<component>:<sha256 of the key>;
 * the key itself is hashed so any printable header value makes a safe
 * Redis key. Without Redis the webhook still works, only without replays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "cache.h"
#include "crypto.h"

struct hook_idem_get {
	hook_idempotency_cb cb;
	void *arg;
};

/* Writes the Redis key for (component, Idempotency-Key); -1 if it does not fit. */
int
hook_idempotency_key(const char *component_id, const char *key, char *out,
    size_t len)
{
	char hash[65];
	int n;

	crypto_sha256_hex(key, strlen(key), hash);
	n = snprintf(out, len, "slipway:idem:%s:%s", component_id, hash);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
hook_idempotency_on_get(enum cache_status st, const char *value, size_t len,
    void *arg)
{
	struct hook_idem_get *g = arg;
	hook_idempotency_cb cb = g->cb;
	void *cb_arg = g->arg;

	free(g);
	if (st == CACHE_HIT && len > 0 && len <= HOOK_BINDING_MAX)
		cb(value, len, cb_arg);
	else
		cb(NULL, 0, cb_arg);
}

/* cb gets the stored answer (valid during the call) or NULL; exactly once. */
void
hook_idempotency_get(struct hook *h, const char *cache_key,
    hook_idempotency_cb cb, void *arg)
{
	struct hook_idem_get *g;

	if (h->cache == NULL || (g = calloc(1, sizeof(*g))) == NULL) {
		cb(NULL, 0, arg);
		return;
	}
	g->cb = cb;
	g->arg = arg;
	cache_get(h->cache, cache_key, hook_idempotency_on_get, g);
}

void
hook_idempotency_put(struct hook *h, const char *cache_key, const char *body,
    size_t len)
{
	if (h->cache != NULL)
		cache_set(h->cache, cache_key, body, len, HOOK_IDEM_TTL_S);
}
