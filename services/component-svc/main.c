/*
 * component-svc: components, their endpoints and CI tokens.
 *
 * Start-up order: config, Postgres (migrations), the list of parked creates,
 * topics, producer, outbox relay, the registry-events consumer, Redis, the
 * org keys (slipway.orgkeys, read from the beginning), then HTTP. Shutdown
 * first answers the parked creates, then frees in the reverse order, so no
 * handler runs against a freed dependency.
 */
#include <stdlib.h>
#include <event2/event.h>
#include "component.h"
#include "apikey.h"
#include "bus.h"
#include "cache.h"
#include "bus_security.h"
#include "config.h"
#include "http.h"
#include "outbox.h"
#include "backbone.h"
#include "service.h"
#include "store.h"
#include "topics.h"

#define COMP_RELAY_INTERVAL_MS 1000
/* Parked creates (lib park.c): re-check period, bounds, metric names. */
#define COMP_WAIT_POLL_MS      100
#define COMP_WAIT_MAX_MS       30000   /* below the HTTP timeout (30 s) */
#define COMP_WAIT_MAX_PENDING  1024
#define COMP_WAIT_METRICS      "slipway_component_registry"

static struct comp_ctx ctx;
static int comp_pg_query_timeout_ms;

static const struct config_var comp_vars[] = {
	CONFIG_VAR_HTTP_ADDR(&ctx.cfg.http_addr),
	CONFIG_VAR_HTTP_PORT("8082", &ctx.cfg.http_port),
	CONFIG_VAR_ADMIN_TOKEN(&ctx.cfg.admin_token),
	CONFIG_VAR_KAFKA_BROKERS(&ctx.cfg.brokers),
	CONFIG_VARS_KAFKA_SECURITY,
	CONFIG_VAR_PG_URL(CONFIG_PG_URL_DEFAULT, &ctx.cfg.pg_url),
	CONFIG_VAR_PG_QUERY_TIMEOUT(&comp_pg_query_timeout_ms),
	CONFIG_VAR_REDIS_HOST(&ctx.cfg.redis_host),
	CONFIG_VAR_REDIS_PORT(&ctx.cfg.redis_port),
	CONFIG_VAR_REDIS_USER(&ctx.cfg.redis_user),
	CONFIG_VAR_REDIS_PASSWORD(&ctx.cfg.redis_password),
	{ "SLIPWAY_REGISTRY_WAIT_MS", CONFIG_INT, "3000", 0,
	  "how long a component create waits for a registry not yet learnt "
	  "from registry events (0-30000, 0 = no wait)",
	  &ctx.cfg.registry_wait_ms },
	CONFIG_VAR_LOG_DEBUG(&ctx.cfg.debug),
};
#define COMP_NVARS (sizeof(comp_vars) / sizeof(comp_vars[0]))

/*
 * Answers the parked creates (503) while their connections still exist;
 * http_server_free sends those replies before it closes the sockets.
 */
static void
comp_stop_waits(struct comp_ctx *c)
{
	park_free(c->waits);
	c->waits = NULL;
}

static void
comp_stop(void *arg)
{
	struct comp_ctx *c = arg;

	comp_stop_waits(c);
	http_server_free(c->http);
	/* The consumer writes into the keys: it goes first. */
	if (c->keys_consumer != NULL)
		bus_consumer_free(c->keys_consumer);
	apikeys_free(c->keys);
	if (c->consumer != NULL)
		bus_consumer_free(c->consumer);
	cache_free(c->cache);
	backbone_stop(c->db, c->producer, c->relay);
	config_free(comp_vars, COMP_NVARS);
}

/* Postgres, topics, producer and relay, then the registry-events consumer. */
static void
comp_start_backbone(struct comp_ctx *c)
{
	static const char *const topics[] = { TOPIC_REGISTRY_EVENTS,
		TOPIC_COMPONENT_EVENTS, NULL };
	const struct backbone_config bc = {
		.service = "component-svc", .pg_url = c->cfg.pg_url,
		.schema = COMP_SCHEMA, .migrations = component_svc_migrations,
		.nmigrations = component_svc_migrations_count,
		.brokers = c->cfg.brokers, .topics = topics,
		.relay_interval_ms = COMP_RELAY_INTERVAL_MS,
	};
	struct error err;

	backbone_start(c->base, &bc, &c->db, &c->producer, &c->relay);
	if ((c->consumer = comp_events_consumer_new(c, &err)) == NULL)
		fatal("kafka consumer: %s", err.msg);
}

int
main(int argc, char **argv)
{
	struct error err;

	ctx.base = service_init("component-svc");
	config_main(argc, argv, comp_vars, COMP_NVARS);
	log_set_debug(ctx.cfg.debug);
	if (store_set_query_timeout(comp_pg_query_timeout_ms) == -1)
		fatal("SLIPWAY_PG_QUERY_TIMEOUT_MS must be %d-%d",
		    STORE_QUERY_TIMEOUT_MIN_MS, STORE_QUERY_TIMEOUT_MAX_MS);
	if (ctx.cfg.registry_wait_ms > COMP_WAIT_MAX_MS)
		fatal("SLIPWAY_REGISTRY_WAIT_MS must be at most %d",
		    COMP_WAIT_MAX_MS);
	/* Before the consumer: its first registry event may wake a wait. */
	if ((ctx.waits = park_new(ctx.base, COMP_WAIT_METRICS,
	    ctx.cfg.registry_wait_ms, COMP_WAIT_POLL_MS, COMP_WAIT_MAX_PENDING,
	    comp_http_create_resume, &ctx)) == NULL)
		fatal("out of memory");
	comp_start_backbone(&ctx);
	if ((ctx.cache = cache_new(ctx.base, &(struct cache_config){
	    .host = ctx.cfg.redis_host, .port = ctx.cfg.redis_port,
	    .user = ctx.cfg.redis_user, .password = ctx.cfg.redis_password },
	    &err)) == NULL)
		fatal("redis: %s", err.msg);
	if ((ctx.keys = apikeys_new()) == NULL)
		fatal("out of memory");
	if ((ctx.keys_consumer = apikeys_consumer_start(ctx.base,
	    ctx.cfg.brokers, "component-svc", ctx.keys, &err)) == NULL)
		fatal("org keys consumer: %s", err.msg);
	if ((ctx.http = comp_http_new(&ctx, &err)) == NULL)
		fatal("http: %s", err.msg);
	log_info("component-svc listening on %s:%d", ctx.cfg.http_addr,
	    ctx.cfg.http_port);
	service_run(ctx.base, comp_stop, &ctx);
	return EXIT_SUCCESS;
}
