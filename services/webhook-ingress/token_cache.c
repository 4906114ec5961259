/*
 * token_cache.c: from a token's SHA-256 to what it grants.
 *
 * Redis first (slipway:token:<hash>, written by component-svc on issue,
 * format lib token_binding.h); on a miss, a malformed or older-format
 * entry, or when Redis is down, component-svc's tables through the
 * read-only role. The answer is not written back: a cache hit is trusted,
 * so only component-svc may write bindings (its Redis ACL user; ours reads
 * them and may only delete one, see docs/internals.md). Unknown,
 * revoked, expired and deleted-component tokens all come out as one
 * TOKEN_INVALID, so the caller cannot tell them apart (no oracle).
 *
 * Revocations: every replica consumes component.events in its own group and
 * drops the cache entry of each TokenRevoked, so a revoked token stops
 * working everywhere even if component-svc's own delete was lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hook.h"
#include "bus.h"
#include "cache.h"
#include "crypto.h"
#include "envelope.h"
#include "store.h"
#include "topics.h"

struct token_lookup {
	struct hook *h;
	char hash[65];
	token_cache_cb cb;
	void *arg;
};

/* Answers the caller once and frees the lookup. */
static void
token_cache_finish(struct token_lookup *l, enum token_result res,
    const struct token_binding *b)
{
	if (res == TOKEN_VALID && !token_binding_live(b,
	    clock_wall_ms()))
		res = TOKEN_INVALID;
	l->cb(res, res == TOKEN_VALID ? b : NULL, l->arg);
	free(l);
}

/*
 * Fills b from one row of the fallback query. The repository comes from
 * the component's image, so every binding carries one: a component whose
 * image does not parse grants nothing (no repository, no deploy).
 */
static int
token_cache_row(const struct store_result *r, struct token_binding *b)
{
	const char *box = store_result_get(r, 0, 6);

	snprintf(b->token_id, sizeof(b->token_id), "%s", store_result_get(r, 0, 0));
	snprintf(b->component_id, sizeof(b->component_id), "%s",
	    store_result_get(r, 0, 1));
	snprintf(b->org, sizeof(b->org), "%s", store_result_get(r, 0, 2));
	snprintf(b->registry_host, sizeof(b->registry_host), "%s",
	    store_result_get(r, 0, 3));
	b->expires_at_ms = strtoll(store_result_get(r, 0, 5), NULL, 10);
	if (token_binding_repository(store_result_get(r, 0, 4), b->repository,
	    sizeof(b->repository)) == -1) {
		log_warnx("component %s has an unparsable image", b->component_id);
		return 0;
	}
	b->signing = !store_result_isnull(r, 0, 6);
	if (b->signing && (box[0] == '\0' || strlen(box) >= sizeof(b->signing_box))) {
		log_warnx("token %s has a malformed signing box", b->token_id);
		return 0;
	}
	snprintf(b->signing_box, sizeof(b->signing_box), "%s", b->signing ? box : "");
	return 1;
}

/* 1 found (live), 0 no such live token, -1 Postgres unavailable. */
static int
token_cache_query(struct hook *h, const char *hash, struct token_binding *b,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { hash };
	int rc = 0;

	if (h->store == NULL &&
	    (h->store = store_new(h->cfg.pg_url, "component", err)) == NULL)
		return -1;
	if (store_exec(h->store, &r, "SELECT t.id, c.id, c.org, c.registry_host, "
	    "c.image, COALESCE(floor(extract(epoch FROM t.expires_at) * 1000)"
	    "::bigint, 0), t.signing_secret_box FROM component.tokens t "
	    "JOIN component.components c "
	    "ON c.id = t.component_id WHERE t.token_hash = $1 "
	    "AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR "
	    "t.expires_at > now()) AND c.deleted_at IS NULL", 1, vals, NULL,
	    err) == -1)
		return -1;
	if (store_result_rows(r) == 1)
		rc = token_cache_row(r, b);
	store_result_free(r);
	return rc;
}

static void
token_cache_from_store(struct token_lookup *l)
{
	struct token_binding b;
	struct error err;
	int rc;

	memset(&b, 0, sizeof(b));
	rc = token_cache_query(l->h, l->hash, &b, &err);
	if (rc == -1) {
		log_warnx("token lookup: postgres: %s", err.msg);
		token_cache_finish(l, TOKEN_UNAVAILABLE, NULL);
		return;
	}
	token_cache_finish(l, rc == 1 ? TOKEN_VALID : TOKEN_INVALID, &b);
}

static void
token_cache_on_get(enum cache_status st, const char *value, size_t len,
    void *arg)
{
	struct token_lookup *l = arg;
	struct token_binding b;

	if (l->h->stopping) {
		token_cache_finish(l, TOKEN_UNAVAILABLE, NULL);
		return;
	}
	if (st == CACHE_HIT) {
		if (token_binding_parse(value, len, &b) == 0) {
			token_cache_finish(l, TOKEN_VALID, &b);
			return;
		}
		/* Also a binding cached before repository / signing existed. */
		log_warnx("cached token binding is malformed or of an older "
		    "format: asking postgres");
	}
	token_cache_from_store(l);
}

/* Calls cb exactly once, possibly before returning. hash: 64 hex chars. */
void
token_cache_lookup(struct hook *h, const char *hash, token_cache_cb cb,
    void *arg)
{
	struct token_lookup *l = calloc(1, sizeof(*l));
	char key[TOKEN_BINDING_KEY_MAX];

	if (l == NULL) {
		cb(TOKEN_UNAVAILABLE, NULL, arg);
		return;
	}
	l->h = h;
	snprintf(l->hash, sizeof(l->hash), "%s", hash);
	l->cb = cb;
	l->arg = arg;
	token_binding_key(hash, key, sizeof(key));
	cache_get(h->cache, key, token_cache_on_get, l);
}

static int
token_cache_hash_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

/* TokenRevoked: drop the binding. Everything else on the topic is skipped. */
static enum bus_result
token_cache_on_event(const struct bus_message *m, void *arg,
    struct error *reason)
{
	struct hook *h = arg;
	const char *type = bus_message_header(m, "event-type");
	char key[TOKEN_BINDING_KEY_MAX];
	enum bus_result res = BUS_DONE;
	const void *val;
	Envelope *env;
	size_t len;

	if ((type != NULL && strcmp(type, "TokenRevoked") != 0) ||
	    (val = bus_message_value(m, &len)) == NULL)
		return BUS_DONE;
	if ((env = envelope_decode(val, len, type, reason)) == NULL)
		return BUS_REJECT;
	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_REVOKED) {
		const Slipway__V1__TokenRevoked *tr = env->token_revoked;

		if (tr == NULL || !token_cache_hash_valid(tr->token_hash)) {
			error_set(reason, "bad_message", "", "token_hash invalid");
			res = BUS_REJECT;
		} else if (!cache_up(h->cache)) {
			res = BUS_RETRY;   /* the entry must go once Redis is back */
		} else {
			token_binding_key(tr->token_hash, key, sizeof(key));
			cache_del(h->cache, key);
			log_info("token %s of component %s revoked: cache entry dropped",
			    tr->token_id, tr->component_id);
		}
	}
	envelope_free(env);
	return res;
}

/* Every replica reads every revocation: a group of its own. */
int
token_cache_revocations_start(struct hook *h, struct error *err)
{
	static const char *const topics[] = { TOPIC_COMPONENT_EVENTS, NULL };
	char uuid[37];
	struct bus_consumer_config cfg = {
		.brokers = h->cfg.brokers,
		.group = h->group,
		.topics = topics,
		.dlq = h->producer,
	};

	crypto_uuid(uuid);
	snprintf(h->group, sizeof(h->group), "%s-%s", HOOK_SERVICE, uuid);
	h->consumer = bus_consumer_new(h->base, &cfg, token_cache_on_event, h, err);
	return h->consumer == NULL ? -1 : 0;
}
