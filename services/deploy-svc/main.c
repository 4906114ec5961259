/*
 * deploy-svc: environments, data planes and deployments.
 *
 * Start-up order matters: the schema is migrated and the topics exist before
 * the consumer joins its group, and the HTTP server comes last so /readyz
 * never answers for a half-built process. The list of deploys parked on an
 * unknown component exists before the consumer, whose first ComponentCreated
 * may wake one, and is answered first at shutdown. The org keys are read
 * from their topic (which this service writes) before the HTTP server
 * starts, and freed after it stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "deploy.h"
#include "bus.h"
#include "bus_security.h"
#include "bus_topics.h"
#include "config.h"
#include "crypto.h"
#include "outbox.h"
#include "rewrap.h"
#include "backbone.h"
#include "service.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_SCHEMA "deploy"
#define DEPLOY_RELAY_INTERVAL_MS 500
/* Deploys parked on an unknown component (lib park.c). */
#define DEPLOY_WAIT_POLL_MS      100
#define DEPLOY_WAIT_MAX_MS       30000   /* below the HTTP timeout (30 s) */
#define DEPLOY_WAIT_MAX_PENDING  1024
#define DEPLOY_WAIT_METRICS      "slipway_deploy_component"
#define DEPLOY_KEYS_TOPIC_TIMEOUT_MS 15000

extern const struct migration deploy_svc_migrations[];
extern const unsigned long deploy_svc_migrations_count;

static struct deploy deploy;
static int deploy_pg_query_timeout_ms;

static const struct config_var deploy_config_vars[] = {
	CONFIG_VAR_HTTP_ADDR(&deploy.cfg.http_addr),
	CONFIG_VAR_HTTP_PORT("8083", &deploy.cfg.http_port),
	CONFIG_VAR_ADMIN_TOKEN(&deploy.cfg.admin_token),
	CONFIG_VAR_KAFKA_BROKERS(&deploy.cfg.brokers),
	CONFIG_VARS_KAFKA_SECURITY,
	CONFIG_VAR_PG_URL(CONFIG_PG_URL_DEFAULT, &deploy.cfg.pg_url),
	CONFIG_VAR_PG_QUERY_TIMEOUT(&deploy_pg_query_timeout_ms),
	CONFIG_VAR_LOG_DEBUG(&deploy.cfg.log_debug),
	{ "SLIPWAY_DEFAULT_DATAPLANE", CONFIG_STRING, "", 0,
	    "data plane of new orgs' environments (\"\" = earliest registered)",
	    &deploy.cfg.default_dataplane },
	{ "SLIPWAY_COMPONENT_WAIT_MS", CONFIG_INT, "3000", 0,
	    "how long a deployment request waits for a component not yet "
	    "learnt from component events (0-30000, 0 = no wait)",
	    &deploy.cfg.component_wait_ms },
	{ "SLIPWAY_DEPLOY_BATCH_MAX", CONFIG_INT, DEPLOY_BATCH_MAX_DEFAULT, 0,
	    "consumed events applied per Postgres transaction, at most (1-4096; "
	    "a batch is what is queued, nothing waits for it to fill)",
	    &deploy.cfg.batch_max },
	{ "SLIPWAY_KEK_FILE", CONFIG_KEY_FILE, NULL, 0,
	    "keyring file of key-encryption keys for secrets at rest (the one "
	    "registry-svc uses; unset: secrets are refused with 503)",
	    &deploy.cfg.kek_file },
};
#define DEPLOY_NVARS (sizeof(deploy_config_vars) / sizeof(deploy_config_vars[0]))

/* What `deploy-svc rewrap` reads: the same rows, no HTTP, Kafka or key. */
static const struct config_var rewrap_vars[] = {
	CONFIG_VAR_PG_URL(CONFIG_PG_URL_DEFAULT, &deploy.cfg.pg_url),
	{ "SLIPWAY_KEK_FILE", CONFIG_KEY_FILE, NULL, CONFIG_REQUIRED,
	    "keyring file of key-encryption keys for secrets at rest",
	    &deploy.cfg.kek_file },
	CONFIG_VAR_LOG_DEBUG(&deploy.cfg.log_debug),
};
#define REWRAP_NVARS (sizeof(rewrap_vars) / sizeof(rewrap_vars[0]))

/* `deploy-svc rewrap`: exits 0 when no secret is left under an older KEK. */
static void
deploy_main_rewrap(int argc)
{
	struct error err;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: deploy-svc rewrap\n");
		exit(2);
	}
	log_init(DEPLOY_SERVICE);
	crypto_init();
	error_clear(&err);
	if (config_load(rewrap_vars, REWRAP_NVARS, &err) < 0)
		fatal("configuration: %s", err.msg);
	log_set_debug(deploy.cfg.log_debug);
	rc = rewrap_main(DEPLOY_SERVICE, deploy.cfg.pg_url, DEPLOY_SCHEMA,
	    deploy.cfg.kek_file, &deploy_config_rewrap_ops);
	config_free(rewrap_vars, REWRAP_NVARS);
	exit(rc);
}

/*
 * Makes sure every registered data plane's topics exist (e.g. after a
 * broker reset); the creations run in the background (bus_topics.h).
 */
static void
deploy_main_dataplane_topics(struct deploy *d)
{
	struct store_result *r;
	struct error err;

	if (store_exec(d->store, &r, "SELECT name FROM dataplanes", 0, NULL, NULL,
	    &err) == -1)
		fatal("listing data planes: %s", err.msg);
	for (int i = 0; i < store_result_rows(r); i++)
		if (deploy_dataplanes_ensure_topics(d, store_result_get(r, i, 0),
		    &err) == -1)
			log_warnx("topics of data plane %s: %s",
			    store_result_get(r, i, 0), err.msg);
	store_result_free(r);
}

/*
 * The org keys topic exists before the relay may publish to it (backbone
 * creates plain topics only); then its records are read into d->keys.
 */
static void
deploy_main_keys(struct deploy *d)
{
	static const char *const topics[] = { TOPIC_ORG_KEYS, NULL };
	struct error err;

	if (bus_topic_ensure(d->cfg.brokers, topics, TOPIC_PARTITIONS, 1,
	    DEPLOY_KEYS_TOPIC_TIMEOUT_MS, &err) == -1)
		fatal("kafka topic %s: %s", TOPIC_ORG_KEYS, err.msg);
	if ((d->keys = apikeys_new()) == NULL)
		fatal("out of memory");
	if ((d->keys_consumer = apikeys_consumer_start(d->base, d->cfg.brokers,
	    DEPLOY_SERVICE, d->keys, &err)) == NULL)
		fatal("org keys consumer: %s", err.msg);
}

/*
 * The org keys topic, then Postgres, topics, producer and relay, then the
 * data planes' topics and the consumer.
 */
static void
deploy_main_backbone(struct deploy *d)
{
	const struct backbone_config bc = {
		.service = DEPLOY_SERVICE, .pg_url = d->cfg.pg_url,
		.schema = DEPLOY_SCHEMA, .migrations = deploy_svc_migrations,
		.nmigrations = deploy_svc_migrations_count,
		.brokers = d->cfg.brokers, .topics = topics_fixed,
		.relay_interval_ms = DEPLOY_RELAY_INTERVAL_MS,
	};
	struct error err;

	deploy_main_keys(d);
	backbone_start(d->base, &bc, &d->store, &d->producer, &d->relay);
	if ((d->topics = bus_topics_new(d->base, d->cfg.brokers)) == NULL)
		fatal("out of memory");
	deploy_main_dataplane_topics(d);
	if (deploy_consume_start(d, &err) == -1)
		fatal("kafka consumer: %s", err.msg);
}

/*
 * Answers the parked deploys (503) while their connections still exist;
 * http_server_free sends those replies before it closes the sockets.
 */
static void
deploy_main_stop_waits(struct deploy *d)
{
	park_free(d->parked);
	d->parked = NULL;
}

/* Frees in reverse order of creation; the consumer commits on the way out. */
static void
deploy_main_stop(void *arg)
{
	struct deploy *d = arg;

	deploy_topics_free(d);
	deploy_main_stop_waits(d);
	http_server_free(d->http);
	bus_consumer_free(d->consumer);
	bus_consumer_free(d->keys_consumer);
	apikeys_free(d->keys);
	backbone_stop(d->store, d->producer, d->relay);
	bus_topics_free(d->topics);
	if (d->sighup != NULL)
		event_free(d->sighup);
	keyring_free(d->keyring);
	config_free(deploy_config_vars, DEPLOY_NVARS);
}

int
main(int argc, char **argv)
{
	struct error err;

	if (argc >= 2 && strcmp(argv[1], "rewrap") == 0)
		deploy_main_rewrap(argc);
	config_main(argc, argv, deploy_config_vars, DEPLOY_NVARS);
	deploy.base = service_init(DEPLOY_SERVICE);
	log_set_debug(deploy.cfg.log_debug);
	if (store_set_query_timeout(deploy_pg_query_timeout_ms) == -1)
		fatal("SLIPWAY_PG_QUERY_TIMEOUT_MS must be %d-%d",
		    STORE_QUERY_TIMEOUT_MIN_MS, STORE_QUERY_TIMEOUT_MAX_MS);
	if (deploy.cfg.component_wait_ms > DEPLOY_WAIT_MAX_MS)
		fatal("SLIPWAY_COMPONENT_WAIT_MS must be at most %d",
		    DEPLOY_WAIT_MAX_MS);
	if (deploy.cfg.batch_max < 1 || deploy.cfg.batch_max > BUS_BATCH_MAX)
		fatal("SLIPWAY_DEPLOY_BATCH_MAX must be 1-%d", BUS_BATCH_MAX);
	if ((deploy.parked = park_new(deploy.base, DEPLOY_WAIT_METRICS,
	    deploy.cfg.component_wait_ms, DEPLOY_WAIT_POLL_MS,
	    DEPLOY_WAIT_MAX_PENDING, deploy_http_post_resume, &deploy)) == NULL)
		fatal("out of memory");
	if (deploy.cfg.kek_file != NULL && deploy.cfg.kek_file[0] != '\0') {
		if ((deploy.keyring = keyring_load(deploy.cfg.kek_file,
		    &err)) == NULL)
			fatal("SLIPWAY_KEK_FILE: %s", err.msg);
		log_info("keyring %s: new secrets are wrapped under KEK version %u",
		    deploy.cfg.kek_file, keyring_newest(deploy.keyring));
		if ((deploy.sighup = rewrap_keyring_on_sighup(deploy.base,
		    deploy.cfg.kek_file, &deploy.keyring)) == NULL)
			fatal("cannot install the SIGHUP handler");
	} else
		log_info("no SLIPWAY_KEK_FILE: secrets are refused");
	deploy_main_backbone(&deploy);
	if (deploy_http_start(&deploy, &err) == -1)
		fatal("http: %s", err.msg);
	log_info("deploy-svc listening on %s:%d", deploy.cfg.http_addr,
	    deploy.cfg.http_port);
	service_run(deploy.base, deploy_main_stop, &deploy);
	return 0;
}
