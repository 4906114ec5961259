/*
 * hook_replay.c: a signed call's webhook-id is accepted once.
 *
 * A signature proves who sent a call, not that it is the first time it
 * comes: whoever sees a signed call (a proxy log, a CI log) could send it
 * again while its timestamp is fresh, e.g. to roll a component back to the
 * image of five minutes ago. So the id is claimed with Redis SET NX, kept
 * for twice the tolerance (a timestamp up to 300 s in the future stays
 * fresh for 600 s), under slipway:whid:<token id>:<sha256 of the id>: per
 * token, since the signature is per token too.
 *
 * When Redis is down the webhook cannot tell a first call from a replay,
 * and a signing token asked for exactly that guarantee: the call is
 * refused with 503 (retry later), never let through unchecked. Tokens
 * without signing do not depend on Redis at all.
 *
 * A claimed id is released when the call is refused afterwards (a body
 * error, the bus down), so a sender that retries the same message after
 * fixing the cause is not told it replays; it stays taken once accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "cache.h"
#include "crypto.h"

struct hook_replay_claim {
	hook_replay_cb cb;
	void *arg;
};

/* Writes the Redis key for (token, webhook-id); -1 if it does not fit. */
int
hook_replay_key(const char *token_id, const char *webhook_id, char *out,
    size_t len)
{
	return hook_request_key("slipway:whid", token_id, webhook_id, out, len);
}

/* CACHE_HIT: the id is ours. CACHE_MISS: it was seen. CACHE_DOWN: unknown. */
static void
hook_replay_on_claim(enum cache_status st, const char *value, size_t len,
    void *arg)
{
	struct hook_replay_claim *c = arg;
	hook_replay_cb cb = c->cb;
	void *cb_arg = c->arg;

	(void)value;
	(void)len;
	free(c);
	if (st == CACHE_HIT)
		cb(HOOK_REPLAY_NEW, cb_arg);
	else if (st == CACHE_MISS)
		cb(HOOK_REPLAY_SEEN, cb_arg);
	else
		cb(HOOK_REPLAY_UNKNOWN, cb_arg);
}

/* cb is called exactly once, possibly before this returns. */
void
hook_replay_claim(struct hook *h, const char *cache_key, hook_replay_cb cb,
    void *arg)
{
	struct hook_replay_claim *c;

	if (h->cache == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		cb(HOOK_REPLAY_UNKNOWN, arg);
		return;
	}
	c->cb = cb;
	c->arg = arg;
	cache_set_nx(h->cache, cache_key, "1", 1, HOOK_REPLAY_TTL_S,
	    hook_replay_on_claim, c);
}

/* Gives a claimed id back: the call it came with was refused. */
void
hook_replay_release(struct hook *h, const char *cache_key)
{
	if (h->cache != NULL)
		cache_del(h->cache, cache_key);
}
