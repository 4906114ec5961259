/*
 * component-svc: components, their endpoints and CI tokens.
 *
 * Start-up order: config, Postgres (migrations), topics, producer, outbox
 * relay, Redis, the registry-events consumer, then HTTP. Shutdown frees in
 * the reverse order, so no handler runs against a freed dependency.
 */
#include <stdlib.h>
#include "component.h"
#include "bus.h"
#include "cache.h"
#include "config.h"
#include "http.h"
#include "outbox.h"
#include "service.h"
#include "topics.h"

#define COMP_RELAY_INTERVAL_MS 1000
#define COMP_TOPIC_TIMEOUT_MS  15000

static struct comp_ctx ctx;

static const struct config_var comp_vars[] = {
	{ "SLIPWAY_HTTP_ADDR", CONFIG_STRING, "127.0.0.1", 0,
	  "address the management API listens on", &ctx.cfg.http_addr },
	{ "SLIPWAY_HTTP_PORT", CONFIG_PORT, "8082", 0,
	  "port of the management API", &ctx.cfg.http_port },
	{ "SLIPWAY_ADMIN_TOKEN", CONFIG_STRING, NULL,
	  CONFIG_REQUIRED | CONFIG_SECRET, "bearer key of the management API",
	  &ctx.cfg.admin_token },
	{ "SLIPWAY_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:19092", 0,
	  "Kafka bootstrap servers", &ctx.cfg.brokers },
	{ "SLIPWAY_PG_URL", CONFIG_STRING,
	  "postgresql://slipway@127.0.0.1:15432/slipway", CONFIG_SECRET,
	  "PostgreSQL connection URL", &ctx.cfg.pg_url },
	{ "SLIPWAY_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 0,
	  "Redis host (token cache)", &ctx.cfg.redis_host },
	{ "SLIPWAY_REDIS_PORT", CONFIG_PORT, "16379", 0, "Redis port",
	  &ctx.cfg.redis_port },
	{ "SLIPWAY_LOG_DEBUG", CONFIG_INT, "0", 0, "1 = debug logging",
	  &ctx.cfg.debug },
};
#define COMP_NVARS (sizeof(comp_vars) / sizeof(comp_vars[0]))

static void
comp_stop(void *arg)
{
	struct comp_ctx *c = arg;

	http_server_free(c->http);
	if (c->consumer != NULL)
		bus_consumer_free(c->consumer);
	outbox_relay_free(c->relay);
	bus_producer_flush(c->producer, 5000);
	bus_producer_free(c->producer);
	cache_free(c->cache);
	store_free(c->db);
	config_free(comp_vars, COMP_NVARS);
}

static void
comp_start_store(struct comp_ctx *c)
{
	struct error err;

	if ((c->db = store_new(c->cfg.pg_url, COMP_SCHEMA, &err)) == NULL)
		fatal("postgres: %s", err.msg);
	if (store_migrate(c->db, component_svc_migrations,
	    component_svc_migrations_count, &err) < 0)
		fatal("migrations: %s", err.msg);
}

static void
comp_start_bus(struct comp_ctx *c)
{
	static const char *const topics[] = { TOPIC_REGISTRY_EVENTS,
		TOPIC_REGISTRY_EVENTS ".dlq", TOPIC_COMPONENT_EVENTS, NULL };
	struct error err;

	if (bus_topic_ensure(c->cfg.brokers, topics, TOPIC_PARTITIONS, 0,
	    COMP_TOPIC_TIMEOUT_MS, &err) < 0)
		fatal("kafka topics: %s", err.msg);
	if ((c->producer = bus_producer_new(c->base, c->cfg.brokers,
	    "component-svc", &err)) == NULL)
		fatal("kafka producer: %s", err.msg);
	if ((c->relay = outbox_relay_new(c->base, c->cfg.pg_url, COMP_SCHEMA,
	    c->producer, COMP_RELAY_INTERVAL_MS, &err)) == NULL)
		fatal("outbox relay: %s", err.msg);
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
	comp_start_store(&ctx);
	comp_start_bus(&ctx);
	if ((ctx.cache = cache_new(ctx.base, ctx.cfg.redis_host,
	    ctx.cfg.redis_port, &err)) == NULL)
		fatal("redis: %s", err.msg);
	if ((ctx.http = comp_http_new(&ctx, &err)) == NULL)
		fatal("http: %s", err.msg);
	log_info("component-svc listening on %s:%d", ctx.cfg.http_addr,
	    ctx.cfg.http_port);
	service_run(ctx.base, comp_stop, &ctx);
	return EXIT_SUCCESS;
}
