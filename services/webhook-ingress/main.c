/*
 * webhook-ingress: the CI webhook. Stateless: Redis for token bindings and
 * idempotency answers, Postgres (read-only) as the token fallback, Kafka for
 * ImagePushed out and token revocations in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "bus.h"
#include "cache.h"
#include "bus_security.h"
#include "config.h"
#include "http.h"
#include "service.h"
#include "store_async.h"
#include "topics.h"

#define HOOK_TOPIC_TIMEOUT_MS 15000
/*
 * CI waits for the broker's ack before it hears 202; with the broker down it
 * must hear 503 (and retry) within a bounded time, not after the library's
 * 30 s. 10 s covers a leader election or a broker restart's first seconds.
 */
#define HOOK_DELIVERY_TIMEOUT_MS 10000

static struct hook hook;

static const struct config_var hook_config_vars[] = {
	CONFIG_VAR_HTTP_ADDR(&hook.cfg.http_addr),
	CONFIG_VAR_HTTP_PORT("8080", &hook.cfg.http_port),
	CONFIG_VAR_KAFKA_BROKERS(&hook.cfg.brokers),
	CONFIG_VARS_KAFKA_SECURITY,
	CONFIG_VAR_PG_URL("postgresql://slipway_webhook@127.0.0.1:15432/slipway",
	    &hook.cfg.pg_url),
	CONFIG_VAR_REDIS_HOST(&hook.cfg.redis_host),
	CONFIG_VAR_REDIS_PORT(&hook.cfg.redis_port),
	CONFIG_VAR_REDIS_USER(&hook.cfg.redis_user),
	CONFIG_VAR_REDIS_PASSWORD(&hook.cfg.redis_password),
	CONFIG_VAR_LOG_DEBUG(&hook.cfg.log_debug),
	{ "SLIPWAY_PUBLIC_URL", CONFIG_STRING, "", 0,
	    "the platform's public base URL (the front door, e.g. "
	    "http://127.0.0.1:8000), for status_url; empty = SLIPWAY_DEPLOY_URL",
	    &hook.cfg.public_url },
	{ "SLIPWAY_DEPLOY_URL", CONFIG_STRING, "http://127.0.0.1:8083", 0,
	    "deploy-svc base URL, for status_url when SLIPWAY_PUBLIC_URL is "
	    "empty", &hook.cfg.deploy_url },
	{ "SLIPWAY_WEBHOOK_TOKEN_CACHE", CONFIG_INT, "100000", 0,
	    "token bindings kept in memory (plus a quarter as many unknown "
	    "hashes); at least 1", &hook.cfg.token_cache },
	{ "SLIPWAY_WEBHOOK_TOKEN_TTL_S", CONFIG_INT, "60", 0,
	    "seconds a binding stays in memory (revocation drops it at once)",
	    &hook.cfg.token_ttl_s },
	{ "SLIPWAY_WEBHOOK_NEGATIVE_TTL_S", CONFIG_INT, "5", 0,
	    "seconds an unknown token hash stays in memory; 0 = not kept",
	    &hook.cfg.negative_ttl_s },
	{ "SLIPWAY_WEBHOOK_TOKEN_RATE", CONFIG_INT, "10", 0,
	    "calls per second per token (429 beyond); 0 = no limit",
	    &hook.cfg.token_rate },
	{ "SLIPWAY_WEBHOOK_TOKEN_BURST", CONFIG_INT, "50", 0,
	    "calls a token may make at once above its rate", &hook.cfg.token_burst },
	{ "SLIPWAY_WEBHOOK_AUTH_FAIL_RATE", CONFIG_INT, "20", 0,
	    "authentication failures per second per client address (429 "
	    "beyond); 0 = no limit", &hook.cfg.fail_rate },
	{ "SLIPWAY_WEBHOOK_AUTH_FAIL_BURST", CONFIG_INT, "40", 0,
	    "authentication failures an address may make at once",
	    &hook.cfg.fail_burst },
	{ "SLIPWAY_WEBHOOK_TRUST_FORWARDED", CONFIG_INT, "0", 0,
	    "1 = the client address is X-Forwarded-For's last hop (only behind "
	    "a proxy that sets it)", &hook.cfg.trust_forwarded },
	{ "SLIPWAY_WEBHOOK_LINGER_MS", CONFIG_INT, "0", 0,
	    "ms an ImagePushed waits to share a batch (the ack, hence the 202, "
	    "waits for it); under load batches form anyway", &hook.cfg.linger_ms },
	{ "SLIPWAY_WEBHOOK_PG_TIMEOUT_MS", CONFIG_INT, "800", 0,
	    "bound on a Postgres token lookup and on a connection attempt",
	    &hook.cfg.pg_timeout_ms },
};
#define HOOK_NVARS (sizeof(hook_config_vars) / sizeof(hook_config_vars[0]))

static void
hook_main_stop(void *arg)
{
	struct hook *h = arg;

	/*
	 * Requests in flight are answered while the server still exists:
	 * freeing the cache answers pending lookups (503), flushing the
	 * producer delivers the ImagePushed already queued (202).
	 */
	h->stopping = 1;
	cache_free(h->cache);
	h->cache = NULL;
	store_async_free(h->pg);
	h->pg = NULL;
	hook_http_produce_batch(h);
	bus_producer_flush(h->producer, 5000);
	http_server_free(h->http);
	bus_consumer_free(h->consumer);
	bus_producer_free(h->producer);
	hook_http_free(h);
	token_memo_free(h->memo);
	config_free(hook_config_vars, HOOK_NVARS);
}

/*
 * status_url's base: the platform's public address (the front door, which
 * routes /v1/deployments to deploy-svc) when set, else deploy-svc's own
 * URL; without a trailing slash.
 */
static void
hook_main_status_base(struct hook *h)
{
	char *base = h->cfg.public_url[0] != '\0' ? h->cfg.public_url :
	    h->cfg.deploy_url;
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		fatal("status_url base '%s' is not an http(s) URL "
		    "(SLIPWAY_PUBLIC_URL or SLIPWAY_DEPLOY_URL)", base);
	h->cfg.status_base = base;
}

/* The webhook must start with Postgres down: the store connects in the
 * background (lib store_async.h). */
static void
hook_main_start(struct hook *h)
{
	static const char *const topics[] = { TOPIC_IMAGE_PUSHED,
	    TOPIC_COMPONENT_EVENTS, NULL };
	struct error err;

	hook_main_status_base(h);
	if (bus_topic_ensure(h->cfg.brokers, topics, TOPIC_PARTITIONS, 0,
	    HOOK_TOPIC_TIMEOUT_MS, &err) == -1)
		fatal("topics: %s", err.msg);
	if ((h->cache = cache_new(h->base, &(struct cache_config){
	    .host = h->cfg.redis_host, .port = h->cfg.redis_port,
	    .user = h->cfg.redis_user, .password = h->cfg.redis_password },
	    &err)) == NULL)
		fatal("redis: %s", err.msg);
	if (token_cache_start(h, &err) == -1)
		fatal("token cache: %s", err.msg);
	if ((h->producer = bus_producer_new_linger(h->base, h->cfg.brokers,
	    HOOK_SERVICE, HOOK_DELIVERY_TIMEOUT_MS, h->cfg.linger_ms,
	    &err)) == NULL)
		fatal("kafka producer: %s", err.msg);
	if (token_cache_revocations_start(h, &err) == -1)
		fatal("kafka consumer: %s", err.msg);
	if (hook_http_start(h, &err) == -1)
		fatal("http: %s", err.msg);
}

int
main(int argc, char **argv)
{
	config_main(argc, argv, hook_config_vars, HOOK_NVARS);
	hook.base = service_init(HOOK_SERVICE);
	log_set_debug(hook.cfg.log_debug);
	hook_main_start(&hook);
	log_info("webhook-ingress listening on %s:%d", hook.cfg.http_addr,
	    hook.cfg.http_port);
	service_run(hook.base, hook_main_stop, &hook);
	return 0;
}
