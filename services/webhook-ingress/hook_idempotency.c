/*
 * hook_idempotency.c: a CI retry with the same Idempotency-Key gets the same
 * 202 answer (same request id) instead of a second deployment.
 *
 * The key is CLAIMED atomically (Redis SET NX with a short expiry and a
 * "pending" marker) before ImagePushed is produced, so two concurrent calls
 * with one key cannot both deploy: the second sees the marker and gets 409
 * until the first one's answer replaces the marker (kept 24 h). A failed
 * first call releases the claim so a retry can go through. The Redis key is
 * slipway:idem:<component>:<sha256 of the header>, so any printable header
 * value is a safe key. Without Redis the webhook still works, only without
 * replays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "cache.h"
#include "crypto.h"

#define HOOK_IDEM_PENDING       "pending"
#define HOOK_IDEM_PENDING_TTL_S 60

struct hook_idem_claim {
	hook_idempotency_cb cb;
	void *arg;
};

/* Writes the Redis key for (component, Idempotency-Key); -1 if it does not fit. */
int
hook_idempotency_key(const char *component_id, const char *key, char *out,
    size_t len)
{
	return hook_request_key("slipway:idem", component_id, key, out, len);
}

/* CACHE_HIT: the claim is ours. CACHE_MISS: someone's value is there. */
static void
hook_idempotency_on_claim(enum cache_status st, const char *value, size_t len,
    void *arg)
{
	struct hook_idem_claim *c = arg;
	hook_idempotency_cb cb = c->cb;
	void *cb_arg = c->arg;

	free(c);
	if (st == CACHE_MISS && value != NULL && len == strlen(HOOK_IDEM_PENDING) &&
	    memcmp(value, HOOK_IDEM_PENDING, len) == 0)
		cb(HOOK_IDEM_BUSY, NULL, 0, cb_arg);
	else if (st == CACHE_MISS && value != NULL && len > 0 &&
	    len <= HOOK_BINDING_MAX)
		cb(HOOK_IDEM_REPLAY, value, len, cb_arg);
	else
		cb(HOOK_IDEM_NEW, NULL, 0, cb_arg);
}

/* cb is called exactly once; a stored answer is valid during the call. */
void
hook_idempotency_claim(struct hook *h, const char *cache_key,
    hook_idempotency_cb cb, void *arg)
{
	struct hook_idem_claim *c;

	if (h->cache == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		cb(HOOK_IDEM_NEW, NULL, 0, arg);
		return;
	}
	c->cb = cb;
	c->arg = arg;
	cache_set_nx(h->cache, cache_key, HOOK_IDEM_PENDING,
	    strlen(HOOK_IDEM_PENDING), HOOK_IDEM_PENDING_TTL_S,
	    hook_idempotency_on_claim, c);
}

/* Stores the answer in place of the claim. */
void
hook_idempotency_put(struct hook *h, const char *cache_key, const char *body,
    size_t len)
{
	if (h->cache != NULL)
		cache_set(h->cache, cache_key, body, len, HOOK_IDEM_TTL_S);
}

/* Drops a claim whose request failed, so a retry is not refused. */
void
hook_idempotency_release(struct hook *h, const char *cache_key)
{
	if (h->cache != NULL)
		cache_del(h->cache, cache_key);
}
