/*
 * token_cache.c: from a token's SHA-256 to what it grants, through three
 * levels:
 *   1. memory (token_memo.c): bindings for SLIPWAY_WEBHOOK_TOKEN_TTL_S,
 *      unknown hashes for SLIPWAY_WEBHOOK_NEGATIVE_TTL_S; no I/O;
 *   2. Redis (slipway:token:<hash>, written by component-svc on issue,
 *      format lib token_binding.h);
 *   3. component-svc's tables through the read-only role, asynchronously
 *      (lib store_async.h): on a Redis miss, a malformed or older-format
 *      entry, or Redis down. While Postgres is down the answer is
 *      TOKEN_UNAVAILABLE at once, never a connection attempt per call.
 * What Redis or Postgres answered is remembered in memory; nothing is
 * written back to Redis: a Redis hit is trusted, so only component-svc may
 * write bindings (its ACL user; ours reads them and may only delete one,
 * see docs/internals.md). Only Postgres may say "unknown": a Redis miss is
 * no proof (Redis may have restarted). Unknown, revoked, expired and
 * deleted-component tokens all come out as one TOKEN_INVALID, so the caller
 * cannot tell them apart (no oracle).
 *
 * Invalidation: every replica consumes component.events in its own group.
 * TokenRevoked drops the memory entry (and remembers the hash as unknown)
 * and the Redis entry, so a revoked token stops working everywhere even if
 * component-svc's own delete was lost; ComponentDeleted and
 * ComponentUpdated (whose bindings component-svc rewrites) drop the
 * component's entries; TokenIssued drops a stale "unknown" for its hash.
 * A lookup that was under way across an invalidation answers but does not
 * remember: what it read may predate the change. Nor are a changed
 * component's bindings remembered for TOKEN_MEMO_SETTLE_MS (token_memo.c
 * says why). A revocation needs no such wait: our own DEL goes to Redis
 * before any later GET on the same connection.
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
#include "metrics.h"
#include "store_async.h"
#include "topics.h"

static const char token_cache_sql[] =
    "SELECT t.id, c.id, c.org, c.registry_host, c.image, "
    "COALESCE(floor(extract(epoch FROM t.expires_at) * 1000)::bigint, 0), "
    "t.signing_secret_box FROM component.tokens t "
    "JOIN component.components c ON c.id = t.component_id "
    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL "
    "AND (t.expires_at IS NULL OR t.expires_at > now()) "
    "AND c.deleted_at IS NULL";

struct token_lookup {
	struct hook *h;
	char hash[65];
	int flags;                    /* TOKEN_LOOKUP_* */
	unsigned long long epoch;     /* the memo's when the lookup began */
	token_cache_cb cb;
	void *arg;
};

static const char *const token_result_names[] = {
	[TOKEN_VALID] = "valid", [TOKEN_INVALID] = "invalid",
	[TOKEN_UNAVAILABLE] = "unavailable", [TOKEN_UNCHECKED] = "unchecked",
};

/* slipway_webhook_token_lookups_total{level,result}: where answers come from. */
static void
token_cache_count(const char *level, enum token_result res)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "level=\"%s\",result=\"%s\"", level,
	    token_result_names[res]);
	metrics_inc("slipway_webhook_token_lookups_total", labels);
}

static void
token_cache_gauges(const struct hook *h)
{
	metrics_set("slipway_webhook_token_cache_entries", "kind=\"binding\"",
	    (int64_t)token_memo_count(h->memo, 1));
	metrics_set("slipway_webhook_token_cache_entries", "kind=\"unknown\"",
	    (int64_t)token_memo_count(h->memo, 0));
}

/* 1 when what this lookup read may be remembered (see the top comment). */
static int
token_cache_may_remember(const struct token_lookup *l)
{
	return l->epoch == token_memo_epoch(l->h->memo) && !l->h->stopping;
}

/* Answers the caller once and frees the lookup. */
static void
token_cache_finish(struct token_lookup *l, const char *level,
    enum token_result res, const struct token_binding *b)
{
	if (res == TOKEN_VALID && !token_binding_live(b, clock_wall_ms()))
		res = TOKEN_INVALID;
	token_cache_count(level, res);
	l->cb(res, res == TOKEN_VALID ? b : NULL, l->arg);
	free(l);
}

/*
 * Fills b from the fallback query's row. The repository comes from the
 * component's image, so every binding carries one: a component whose
 * image does not parse grants nothing (no repository, no deploy).
 */
static int
token_cache_row(const struct store_async_result *r, struct token_binding *b)
{
	const char *box = store_async_get(r, 0, 6);

	snprintf(b->token_id, sizeof(b->token_id), "%s", store_async_get(r, 0, 0));
	snprintf(b->component_id, sizeof(b->component_id), "%s",
	    store_async_get(r, 0, 1));
	snprintf(b->org, sizeof(b->org), "%s", store_async_get(r, 0, 2));
	snprintf(b->registry_host, sizeof(b->registry_host), "%s",
	    store_async_get(r, 0, 3));
	b->expires_at_ms = strtoll(store_async_get(r, 0, 5), NULL, 10);
	if (token_binding_repository(store_async_get(r, 0, 4), b->repository,
	    sizeof(b->repository)) == -1) {
		log_warnx("component %s has an unparsable image", b->component_id);
		return 0;
	}
	b->signing = !store_async_isnull(r, 0, 6);
	if (b->signing && (box[0] == '\0' || strlen(box) >= sizeof(b->signing_box))) {
		log_warnx("token %s has a malformed signing box", b->token_id);
		return 0;
	}
	snprintf(b->signing_box, sizeof(b->signing_box), "%s", b->signing ? box : "");
	return 1;
}

/* Postgres answered: it is authoritative, so "no row" is remembered too. */
static void
token_cache_on_row(const struct store_async_result *r, const struct error *err,
    void *arg)
{
	struct token_lookup *l = arg;
	struct token_binding b;

	if (r == NULL) {
		log_warnx("token lookup: %s", err->msg);
		token_cache_finish(l, "postgres", TOKEN_UNAVAILABLE, NULL);
		return;
	}
	memset(&b, 0, sizeof(b));
	if (store_async_rows(r) == 1 && token_cache_row(r, &b)) {
		if (token_cache_may_remember(l))
			token_memo_put(l->h->memo, l->hash, &b, clock_mono_ms());
		token_cache_gauges(l->h);
		token_cache_finish(l, "postgres", TOKEN_VALID, &b);
		return;
	}
	if (token_cache_may_remember(l))
		token_memo_put_unknown(l->h->memo, l->hash, clock_mono_ms());
	token_cache_gauges(l->h);
	token_cache_finish(l, "postgres", TOKEN_INVALID, NULL);
}

static void
token_cache_from_store(struct token_lookup *l)
{
	const char *vals[] = { l->hash };
	struct error err;

	if (l->flags & TOKEN_LOOKUP_CACHES_ONLY) {
		token_cache_finish(l, "redis", TOKEN_UNCHECKED, NULL);
		return;
	}
	if (store_async_query(l->h->pg, token_cache_sql, 1, vals,
	    token_cache_on_row, l, &err) == -1) {
		log_debug("token lookup: %s", err.msg);
		token_cache_finish(l, "postgres", TOKEN_UNAVAILABLE, NULL);
	}
}

static void
token_cache_on_get(enum cache_status st, const char *value, size_t len,
    void *arg)
{
	struct token_lookup *l = arg;
	struct token_binding b;

	if (l->h->stopping) {
		token_cache_finish(l, "redis", TOKEN_UNAVAILABLE, NULL);
		return;
	}
	if (st == CACHE_HIT) {
		if (token_binding_parse(value, len, &b) == 0) {
			if (token_cache_may_remember(l)) {
				token_memo_put(l->h->memo, l->hash, &b, clock_mono_ms());
				token_cache_gauges(l->h);
			}
			token_cache_finish(l, "redis", TOKEN_VALID, &b);
			return;
		}
		/* Also a binding cached before repository / signing existed. */
		log_warnx("cached token binding is malformed or of an older "
		    "format: asking postgres");
	}
	token_cache_from_store(l);
}

/* Memory first: a hit answers before this returns, with no I/O. */
static int
token_cache_from_memo(struct hook *h, const char *hash, token_cache_cb cb,
    void *arg)
{
	struct token_binding b;

	switch (token_memo_get(h->memo, hash, clock_mono_ms(), &b)) {
	case TOKEN_MEMO_VALID:
		if (token_binding_live(&b, clock_wall_ms())) {
			token_cache_count("memory", TOKEN_VALID);
			cb(TOKEN_VALID, &b, arg);
			return 1;
		}
		/* Expired: final, and the levels below would say the same. */
		token_memo_put_unknown(h->memo, hash, clock_mono_ms());
		/* FALLTHROUGH */
	case TOKEN_MEMO_INVALID:
		token_cache_count("memory", TOKEN_INVALID);
		cb(TOKEN_INVALID, NULL, arg);
		return 1;
	default:
		return 0;
	}
}

/* Calls cb exactly once, possibly before returning. hash: 64 hex chars. */
void
token_cache_lookup(struct hook *h, const char *hash, int flags,
    token_cache_cb cb, void *arg)
{
	struct token_lookup *l;
	char key[TOKEN_BINDING_KEY_MAX];

	if (token_cache_from_memo(h, hash, cb, arg))
		return;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		cb(TOKEN_UNAVAILABLE, NULL, arg);
		return;
	}
	l->h = h;
	snprintf(l->hash, sizeof(l->hash), "%s", hash);
	l->flags = flags;
	l->epoch = token_memo_epoch(h->memo);
	l->cb = cb;
	l->arg = arg;
	token_binding_key(hash, key, sizeof(key));
	cache_get(h->cache, key, token_cache_on_get, l);
}

static int
token_cache_hash_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

static enum bus_result
token_cache_on_revoked(struct hook *h, const Envelope *env,
    struct error *reason)
{
	const Slipway__V1__TokenRevoked *tr = env->token_revoked;
	char key[TOKEN_BINDING_KEY_MAX];

	if (tr == NULL || !token_cache_hash_valid(tr->token_hash)) {
		error_set(reason, "bad_message", "", "token_hash invalid");
		return BUS_REJECT;
	}
	/* Memory first and whatever Redis does: this replica refuses it now. */
	token_memo_drop(h->memo, tr->token_hash);
	token_memo_put_unknown(h->memo, tr->token_hash, clock_mono_ms());
	token_cache_gauges(h);
	if (!cache_up(h->cache))
		return BUS_RETRY;   /* the Redis entry must go once Redis is back */
	token_binding_key(tr->token_hash, key, sizeof(key));
	cache_del(h->cache, key);
	log_info("token %s of component %s revoked: cache entries dropped",
	    tr->token_id, tr->component_id);
	return BUS_DONE;
}

/* A new token's hash may sit in memory as unknown (a call made too early). */
static enum bus_result
token_cache_on_issued(struct hook *h, const Envelope *env,
    struct error *reason)
{
	const Slipway__V1__TokenIssued *ti = env->token_issued;

	if (ti == NULL || !token_cache_hash_valid(ti->token_hash)) {
		error_set(reason, "bad_message", "", "token_hash invalid");
		return BUS_REJECT;
	}
	token_memo_drop_unknown(h->memo, ti->token_hash);
	return BUS_DONE;
}

static enum bus_result
token_cache_drop_component(struct hook *h, const char *component_id,
    struct error *reason)
{
	size_t n;

	if (component_id == NULL || component_id[0] == '\0') {
		error_set(reason, "bad_message", "", "component_id missing");
		return BUS_REJECT;
	}
	n = token_memo_drop_component(h->memo, component_id, clock_mono_ms());
	token_cache_gauges(h);
	if (n > 0)
		log_info("component %s changed: %zu cached token bindings dropped",
		    component_id, n);
	return BUS_DONE;
}

static enum bus_result
token_cache_on_deleted(struct hook *h, const Envelope *env,
    struct error *reason)
{
	return token_cache_drop_component(h, env->component_deleted != NULL ?
	    env->component_deleted->component_id : NULL, reason);
}

/* Its image (hence the bindings' repository) may have changed. */
static enum bus_result
token_cache_on_updated(struct hook *h, const Envelope *env,
    struct error *reason)
{
	const Slipway__V1__ComponentUpdated *cu = env->component_updated;

	return token_cache_drop_component(h, cu != NULL && cu->component != NULL ?
	    cu->component->component_id : NULL, reason);
}

/* The events that change what a token grants; the rest are skipped. */
static const struct {
	const char *type;
	int payload;
	enum bus_result (*fn)(struct hook *, const Envelope *, struct error *);
} token_cache_events[] = {
	{ "TokenRevoked", SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_REVOKED,
	  token_cache_on_revoked },
	{ "TokenIssued", SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_ISSUED,
	  token_cache_on_issued },
	{ "ComponentDeleted", SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED,
	  token_cache_on_deleted },
	{ "ComponentUpdated", SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED,
	  token_cache_on_updated },
};
#define TOKEN_CACHE_NEVENTS \
	(sizeof(token_cache_events) / sizeof(token_cache_events[0]))

static int
token_cache_wanted(const char *type)
{
	for (size_t i = 0; i < TOKEN_CACHE_NEVENTS; i++)
		if (strcmp(token_cache_events[i].type, type) == 0)
			return 1;
	return 0;
}

static enum bus_result
token_cache_on_event(const struct bus_message *m, void *arg,
    struct error *reason)
{
	struct hook *h = arg;
	const char *type = bus_message_header(m, "event-type");
	enum bus_result res = BUS_DONE;
	const void *val;
	Envelope *env;
	size_t len;

	if ((type != NULL && !token_cache_wanted(type)) ||
	    (val = bus_message_value(m, &len)) == NULL)
		return BUS_DONE;
	if ((env = envelope_decode(val, len, type, reason)) == NULL)
		return BUS_REJECT;
	for (size_t i = 0; i < TOKEN_CACHE_NEVENTS; i++)
		if ((int)env->payload_case == token_cache_events[i].payload) {
			res = token_cache_events[i].fn(h, env, reason);
			break;
		}
	envelope_free(env);
	return res;
}

/* Memory level and the Postgres connection; before the HTTP server. */
int
token_cache_start(struct hook *h, struct error *err)
{
	const struct store_async_config pg = {
		.conninfo = h->cfg.pg_url,
		.connect_timeout_ms = h->cfg.pg_timeout_ms,
		.query_timeout_ms = h->cfg.pg_timeout_ms,
	};

	if ((h->memo = token_memo_new((size_t)h->cfg.token_cache,
	    h->cfg.token_ttl_s * 1000, h->cfg.negative_ttl_s * 1000)) == NULL) {
		error_set(err, "config", "SLIPWAY_WEBHOOK_TOKEN_CACHE",
		    "token cache: must be at least 1 (or out of memory)");
		return -1;
	}
	h->pg = store_async_new(h->base, &pg, err);
	return h->pg == NULL ? -1 : 0;
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
