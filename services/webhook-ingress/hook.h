/*
 * hook.h: webhook-ingress's private header.
 *
 * webhook-ingress turns an authenticated CI call (POST /v1/hooks/deploy) into
 * an ImagePushed event and answers 202 only once the broker has it. It owns
 * nothing durable: token bindings (lib token_binding.h) come from its own
 * memory (token_memo.c), Redis, or component-svc's tables through a
 * read-only role when Redis misses or is down (token_cache.c). Calls are
 * limited per token and, for authentication failures, per client address
 * (lib ratelimit.h). A binding names one repository, and an image of another is
 * refused; a signing token's calls must carry a Standard Webhooks signature
 * (lib signing.h) whose webhook-id is accepted once (hook_replay.c).
 */
#ifndef SLIPWAY_HOOK_H
#define SLIPWAY_HOOK_H

#include <stddef.h>
#include "error.h"
#include "imageref.h"
#include "signing.h"
#include "token_binding.h"

struct event_base;
struct cache;
struct store_async;
struct rate_table;
struct bus_producer;
struct bus_consumer;
struct http_server;
struct hook_pending;
struct event;

#define HOOK_SERVICE        "webhook-ingress"
#define HOOK_BODY_MAX       (16 * 1024)
#define HOOK_IDEM_KEY_MAX   200
#define HOOK_IDEM_TTL_S     (24 * 3600)
#define HOOK_TAG_MAX        128
#define HOOK_DIGEST_MAX     135
#define HOOK_BINDING_MAX    TOKEN_BINDING_MAX
/* A webhook-id is remembered while a call carrying it could still be fresh. */
#define HOOK_REPLAY_TTL_S   (2 * SIGNING_TOLERANCE_S)

struct hook_config {
	char *http_addr;
	int http_port;
	char *brokers;
	char *pg_url;
	char *redis_host;
	int redis_port;
	char *redis_user;
	char *redis_password;
	int log_debug;
	char *public_url;             /* SLIPWAY_PUBLIC_URL, may be empty */
	char *deploy_url;
	const char *status_base;      /* one of the two, for status_url */
	int token_cache;              /* bindings kept in memory */
	int token_ttl_s;              /* how long one is kept */
	int negative_ttl_s;           /* how long an unknown hash is kept */
	int token_rate, token_burst;  /* calls per token id */
	int fail_rate, fail_burst;    /* auth failures per client address */
	int trust_forwarded;          /* client address from X-Forwarded-For */
	int pg_timeout_ms;            /* Postgres connect / query bound */
	int linger_ms;                /* producer linger.ms */
};

struct hook {
	struct event_base *base;
	struct hook_config cfg;
	struct cache *cache;
	struct token_memo *memo;      /* level 1 of the token lookup */
	struct store_async *pg;       /* read-only role; level 3, never blocks */
	struct rate_table *token_limits;     /* token id -> bucket */
	struct rate_table *fail_limits;      /* client address -> bucket */
	struct bus_producer *producer;
	struct bus_consumer *consumer;
	struct http_server *http;
	struct hook_pending *batch;   /* accepted this loop pass, to produce */
	struct hook_pending **batch_tail;
	struct event *batch_ev;       /* produces the batch when the pass ends */
	char group[64];               /* webhook-ingress-<uuid> */
	int stopping;                 /* shutting down: answer 503, touch no cache */
};

/* The webhook body, validated but not yet resolved against a binding. */
struct hook_request {
	char image[IMAGE_REF_MAX + 1];   /* "" when a tag was given */
	char tag[HOOK_TAG_MAX + 1];      /* "" when an image was given */
	char digest[HOOK_DIGEST_MAX + 1];
};

/* hook_request.c: pure functions of their input (unit-tested, fuzzed) */
int hook_request_parse(const void *body, size_t len, struct hook_request *out,
    struct error *err);
int hook_request_resolve(const struct hook_request *r,
    const struct token_binding *b, char *image, size_t ilen, char *digest,
    size_t dlen, struct error *err);
const char *hook_request_bearer(const char *header, size_t *len);
int hook_request_idem_valid(const char *key);

/* token_memo.c: bounded in-process bindings and unknown hashes */
/* How long a changed component's bindings are not kept (token_memo.c). */
#define TOKEN_MEMO_SETTLE_MS    2000
#define TOKEN_MEMO_CHANGED_MAX  4096   /* changed components remembered */
struct token_memo;
enum token_memo_hit { TOKEN_MEMO_MISS, TOKEN_MEMO_VALID, TOKEN_MEMO_INVALID };
struct token_memo *token_memo_new(size_t capacity, int ttl_ms, int neg_ttl_ms);
void token_memo_free(struct token_memo *m);
enum token_memo_hit token_memo_get(struct token_memo *m, const char *hash,
    long long now_ms, struct token_binding *out);
void token_memo_put(struct token_memo *m, const char *hash,
    const struct token_binding *b, long long now_ms);
void token_memo_put_unknown(struct token_memo *m, const char *hash,
    long long now_ms);
void token_memo_drop(struct token_memo *m, const char *hash);
void token_memo_drop_unknown(struct token_memo *m, const char *hash);
size_t token_memo_drop_component(struct token_memo *m,
    const char *component_id, long long now_ms);
unsigned long long token_memo_epoch(const struct token_memo *m);
size_t token_memo_count(const struct token_memo *m, int known);

/* token_cache.c */
enum token_result {
	TOKEN_VALID,
	TOKEN_INVALID,
	TOKEN_UNAVAILABLE,   /* Postgres had to be asked and could not answer */
	TOKEN_UNCHECKED      /* in no cache, and Postgres was not to be asked */
};
/* Only memory and Redis: for a caller over its failure limit. */
#define TOKEN_LOOKUP_CACHES_ONLY 0x1
/* b is valid only during the callback. */
typedef void (*token_cache_cb)(enum token_result res,
    const struct token_binding *b, void *arg);
void token_cache_lookup(struct hook *h, const char *hash, int flags,
    token_cache_cb cb, void *arg);
int token_cache_start(struct hook *h, struct error *err);
int token_cache_revocations_start(struct hook *h, struct error *err);

/*
 * "<prefix>:<scope>:<hex SHA-256 of raw>": a Redis key for a caller-chosen
 * value (an Idempotency-Key, a webhook-id) of any bytes and length; -1
 * when it does not fit.
 */
int hook_request_key(const char *prefix, const char *scope, const char *raw,
    char *out, size_t len);

/* hook_idempotency.c */
enum hook_idem {
	HOOK_IDEM_NEW,      /* go ahead (claimed, or Redis is down) */
	HOOK_IDEM_REPLAY,   /* an earlier answer is stored: send it again */
	HOOK_IDEM_BUSY      /* an earlier call with this key is in flight */
};
typedef void (*hook_idempotency_cb)(enum hook_idem st, const char *stored,
    size_t len, void *arg);
int hook_idempotency_key(const char *component_id, const char *key, char *out,
    size_t len);
void hook_idempotency_claim(struct hook *h, const char *cache_key,
    hook_idempotency_cb cb, void *arg);
void hook_idempotency_put(struct hook *h, const char *cache_key,
    const char *body, size_t len);
void hook_idempotency_release(struct hook *h, const char *cache_key);

/* hook_replay.c: a signed call's webhook-id is used once */
enum hook_replay {
	HOOK_REPLAY_NEW,        /* claimed: go ahead */
	HOOK_REPLAY_SEEN,       /* a call with this id came already: 409 */
	HOOK_REPLAY_UNKNOWN     /* Redis is down: we cannot tell, 503 */
};
typedef void (*hook_replay_cb)(enum hook_replay st, void *arg);
int hook_replay_key(const char *token_id, const char *webhook_id, char *out,
    size_t len);
void hook_replay_claim(struct hook *h, const char *cache_key,
    hook_replay_cb cb, void *arg);
void hook_replay_release(struct hook *h, const char *cache_key);

/* hook_http.c */
/* Keys each limiter table remembers (token ids, client addresses). */
#define HOOK_LIMIT_KEYS     65536
int hook_http_start(struct hook *h, struct error *err);
/* Hands the calls accepted so far to the producer (on stop: before flush). */
void hook_http_produce_batch(struct hook *h);
/* The limiter tables and the batch event (after http_server_free). */
void hook_http_free(struct hook *h);

#endif
