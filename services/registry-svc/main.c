/*
 * registry-svc: container registries and their credentials.
 *
 *   registry-svc                      run the service (configuration: env)
 *   registry-svc keygen-kek --out F   write a new keyring file (mode 0600)
 *   registry-svc rewrap               re-wrap every secret under the newest
 *                                     KEK (SLIPWAY_PG_URL, SLIPWAY_KEK_FILE)
 *
 * Start-up order: config, keyring, Postgres (migrations), topics, producer,
 * outbox relay, the consumer of deploy and component events, the org keys (slipway.orgkeys,
 * read from the beginning), then HTTP. Shutdown frees in the
 * reverse order. SIGHUP reloads the keyring, so a new KEK version encrypts
 * from then on without a restart.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <event2/event.h>
#include "registry.h"
#include "apikey.h"
#include "bus.h"
#include "bus_security.h"
#include "bus_topics.h"
#include "config.h"
#include "crypto.h"
#include "http.h"
#include "outbox.h"
#include "backbone.h"
#include "service.h"
#include "store.h"
#include "topics.h"

#define REG_RELAY_INTERVAL_MS 1000

static struct reg_ctx ctx;
static int reg_pg_query_timeout_ms;

/* A key file that group or others may read is refused (crypto.h). */
#define REG_VAR_KEK_FILE \
	{ "SLIPWAY_KEK_FILE", CONFIG_KEY_FILE, NULL, CONFIG_REQUIRED, \
	  "keyring file of key-encryption keys (registry-svc keygen-kek)", \
	  &ctx.cfg.kek_file }

static const struct config_var reg_vars[] = {
	CONFIG_VAR_HTTP_ADDR(&ctx.cfg.http_addr),
	CONFIG_VAR_HTTP_PORT("8081", &ctx.cfg.http_port),
	CONFIG_VAR_ADMIN_TOKEN(&ctx.cfg.admin_token),
	CONFIG_VAR_KAFKA_BROKERS(&ctx.cfg.brokers),
	CONFIG_VARS_KAFKA_SECURITY,
	CONFIG_VAR_PG_URL(CONFIG_PG_URL_DEFAULT, &ctx.cfg.pg_url),
	CONFIG_VAR_PG_QUERY_TIMEOUT(&reg_pg_query_timeout_ms),
	REG_VAR_KEK_FILE,
	CONFIG_VAR_ALLOW_PRIVATE_TARGETS(&ctx.cfg.targets),
	CONFIG_VAR_LOG_DEBUG(&ctx.cfg.debug),
};
#define REG_NVARS (sizeof(reg_vars) / sizeof(reg_vars[0]))

/* What `registry-svc rewrap` reads: the same rows, no HTTP, Kafka or token. */
static const struct config_var rewrap_vars[] = {
	CONFIG_VAR_PG_URL(CONFIG_PG_URL_DEFAULT, &ctx.cfg.pg_url),
	REG_VAR_KEK_FILE,
	CONFIG_VAR_LOG_DEBUG(&ctx.cfg.debug),
};
#define REWRAP_NVARS (sizeof(rewrap_vars) / sizeof(rewrap_vars[0]))

/* `registry-svc keygen-kek --out FILE`: exits. */
static void
reg_keygen(int argc, char **argv)
{
	struct error err;

	if (argc != 4 || strcmp(argv[2], "--out") != 0) {
		fprintf(stderr, "usage: registry-svc keygen-kek --out FILE\n");
		exit(2);
	}
	log_init("registry-svc");
	crypto_init();
	if (keyring_generate(argv[3], &err) < 0) {
		fprintf(stderr, "registry-svc: %s\n", err.msg);
		exit(1);
	}
	fprintf(stderr, "registry-svc: wrote a new keyring to %s\n", argv[3]);
	exit(0);
}

/* `registry-svc rewrap`: exits 0 when no row is left under an older KEK. */
static void
reg_rewrap(int argc, char **argv)
{
	struct error err;
	int rc;

	(void)argv;
	if (argc != 2) {
		fprintf(stderr, "usage: registry-svc rewrap\n");
		exit(2);
	}
	log_init("registry-svc");
	crypto_init();
	error_clear(&err);
	if (config_load(rewrap_vars, REWRAP_NVARS, &err) < 0)
		fatal("configuration: %s", err.msg);
	log_set_debug(ctx.cfg.debug);
	rc = rewrap_main("registry-svc", ctx.cfg.pg_url, REG_SCHEMA,
	    ctx.cfg.kek_file, &reg_rewrap_ops);
	config_free(rewrap_vars, REWRAP_NVARS);
	exit(rc);
}

static void
reg_stop(void *arg)
{
	struct reg_ctx *c = arg;

	if (c->sighup != NULL)
		event_free(c->sighup);
	http_server_free(c->http);
	/* The consumer writes into the keys: it goes first. */
	if (c->keys_consumer != NULL)
		bus_consumer_free(c->keys_consumer);
	apikeys_free(c->keys);
	if (c->consumer != NULL)
		bus_consumer_free(c->consumer);
	backbone_stop(c->db, c->producer, c->relay);
	bus_topics_free(c->topics);
	keyring_free(c->keyring);
	config_free(reg_vars, REG_NVARS);
	curl_global_cleanup();
}

/* Keyring, then Postgres, topics, producer, relay and the consumer. */
static void
reg_start_backbone(struct reg_ctx *c)
{
	static const char *const topics[] = { TOPIC_REGISTRY_EVENTS,
		TOPIC_DEPLOY_EVENTS, TOPIC_COMPONENT_EVENTS, NULL };
	const struct backbone_config bc = {
		.service = "registry-svc", .pg_url = c->cfg.pg_url,
		.schema = REG_SCHEMA, .migrations = registry_svc_migrations,
		.nmigrations = registry_svc_migrations_count,
		.brokers = c->cfg.brokers, .topics = topics,
		.relay_interval_ms = REG_RELAY_INTERVAL_MS,
	};
	struct error err;

	if ((c->keyring = keyring_load(c->cfg.kek_file, &err)) == NULL)
		fatal("SLIPWAY_KEK_FILE: %s", err.msg);
	log_info("keyring %s: new secrets are wrapped under KEK version %u",
	    c->cfg.kek_file, keyring_newest(c->keyring));
	if ((c->sighup = rewrap_keyring_on_sighup(c->base, c->cfg.kek_file,
	    &c->keyring)) == NULL)
		fatal("cannot install the SIGHUP handler");
	backbone_start(c->base, &bc, &c->db, &c->producer, &c->relay);
	if ((c->topics = bus_topics_new(c->base, c->cfg.brokers)) == NULL)
		fatal("out of memory");
	if ((c->consumer = reg_events_consumer_new(c, &err)) == NULL)
		fatal("kafka consumer: %s", err.msg);
}

int
main(int argc, char **argv)
{
	struct error err;

	if (argc >= 2 && strcmp(argv[1], "keygen-kek") == 0)
		reg_keygen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "rewrap") == 0)
		reg_rewrap(argc, argv);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
	ctx.base = service_init("registry-svc");
	config_main(argc, argv, reg_vars, REG_NVARS);
	log_set_debug(ctx.cfg.debug);
	if (store_set_query_timeout(reg_pg_query_timeout_ms) == -1)
		fatal("SLIPWAY_PG_QUERY_TIMEOUT_MS must be %d-%d",
		    STORE_QUERY_TIMEOUT_MIN_MS, STORE_QUERY_TIMEOUT_MAX_MS);
	reg_start_backbone(&ctx);
	if ((ctx.keys = apikeys_new()) == NULL)
		fatal("out of memory");
	if ((ctx.keys_consumer = apikeys_consumer_start(ctx.base,
	    ctx.cfg.brokers, "registry-svc", ctx.keys, &err)) == NULL)
		fatal("org keys consumer: %s", err.msg);
	if ((ctx.http = reg_http_new(&ctx, &err)) == NULL)
		fatal("http: %s", err.msg);
	log_info("registry-svc listening on %s:%d", ctx.cfg.http_addr,
	    ctx.cfg.http_port);
	service_run(ctx.base, reg_stop, &ctx);
	return EXIT_SUCCESS;
}
