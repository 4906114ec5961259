/*
 * config.h: configuration from environment variables, described by a table.
 *
 * Each service declares a table of struct config_var pointing into its own
 * config struct; config_load() fills it, applying defaults and validating
 * every value. config_main() also implements `--check-config`: it loads,
 * prints every variable as JSON (secrets shown as "<set>") and exits 0 when
 * the configuration is valid, 1 with the reason when it is not.
 */
#ifndef SLIPWAY_CONFIG_H
#define SLIPWAY_CONFIG_H

#include <stddef.h>
#include "error.h"

enum config_type {
	CONFIG_STRING,  /* char * (malloc'd, owned by the config) */
	CONFIG_INT,     /* int, any value >= 0 */
	CONFIG_PORT,    /* int, 1..65535 */
	CONFIG_FILE,    /* char * path that must exist and be readable */
	CONFIG_KEY_FILE, /* CONFIG_FILE that is also private (crypto_key_file_open) */
	CONFIG_TARGETS, /* struct regauth_policy: its grammar (regauth.h) */
};

#define CONFIG_REQUIRED 0x1
#define CONFIG_SECRET   0x2   /* never printed, never logged */

struct config_var {
	const char *name;        /* environment variable, e.g. "SLIPWAY_HTTP_PORT" */
	enum config_type type;
	const char *def;         /* default as text, or NULL */
	int flags;
	const char *help;
	void *dst;               /* char **, int * or struct regauth_policy * */
};

/*
 * Rows every service shares, so each variable has one name, default and help
 * text: dst points into the service's own config struct.
 */
#define CONFIG_PG_URL_DEFAULT "postgresql://slipway@127.0.0.1:15432/slipway"
#define CONFIG_VAR_HTTP_ADDR(dst) \
	{ "SLIPWAY_HTTP_ADDR", CONFIG_STRING, "127.0.0.1", 0, \
	  "address the HTTP server listens on", (dst) }
#define CONFIG_VAR_HTTP_PORT(port, dst) \
	{ "SLIPWAY_HTTP_PORT", CONFIG_PORT, (port), 0, \
	  "port the HTTP server listens on", (dst) }
#define CONFIG_VAR_ADMIN_TOKEN(dst) \
	{ "SLIPWAY_ADMIN_TOKEN", CONFIG_STRING, NULL, \
	  CONFIG_REQUIRED | CONFIG_SECRET, "bearer key of the management API", \
	  (dst) }
#define CONFIG_VAR_KAFKA_BROKERS(dst) \
	{ "SLIPWAY_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:19092", 0, \
	  "Kafka bootstrap servers", (dst) }
#define CONFIG_VAR_PG_URL(def, dst) \
	{ "SLIPWAY_PG_URL", CONFIG_STRING, (def), CONFIG_SECRET, \
	  "PostgreSQL connection URL", (dst) }
/* Also the store's own default, for programs that never set it. */
#define CONFIG_PG_QUERY_TIMEOUT_MS 5000
#define CONFIG_STR_(x) #x
#define CONFIG_STR(x) CONFIG_STR_(x)
#define CONFIG_VAR_PG_QUERY_TIMEOUT(dst) \
	{ "SLIPWAY_PG_QUERY_TIMEOUT_MS", CONFIG_INT, \
	  CONFIG_STR(CONFIG_PG_QUERY_TIMEOUT_MS), 0, \
	  "bound of each Postgres statement, in ms (10-600000): past it the " \
	  "call answers unavailable and the connection is re-made", (dst) }
#define CONFIG_VAR_REDIS_HOST(dst) \
	{ "SLIPWAY_REDIS_HOST", CONFIG_STRING, "127.0.0.1", 0, \
	  "Redis host (token cache)", (dst) }
#define CONFIG_VAR_REDIS_PORT(dst) \
	{ "SLIPWAY_REDIS_PORT", CONFIG_PORT, "16379", 0, "Redis port", (dst) }
#define CONFIG_VAR_REDIS_USER(dst) \
	{ "SLIPWAY_REDIS_USER", CONFIG_STRING, "", 0, \
	  "Redis ACL user (AUTH on connect); \"\" = no AUTH", (dst) }
#define CONFIG_VAR_REDIS_PASSWORD(dst) \
	{ "SLIPWAY_REDIS_PASSWORD", CONFIG_STRING, "", CONFIG_SECRET, \
	  "password of SLIPWAY_REDIS_USER", (dst) }
#define CONFIG_VAR_ALLOW_PRIVATE_TARGETS(dst) \
	{ "SLIPWAY_ALLOW_PRIVATE_TARGETS", CONFIG_TARGETS, "", 0, \
	  "non-public addresses registry traffic may reach: comma list of " \
	  "loopback, private, link-local, CIDRs; \"\" = public only", (dst) }
#define CONFIG_VAR_LOG_DEBUG(dst) \
	{ "SLIPWAY_LOG_DEBUG", CONFIG_INT, "0", 0, "1 = debug logging", (dst) }

int config_load(const struct config_var *vars, size_t n, struct error *err);
/*
 * Handles argv: `--check-config` (validate, print, exit) and `--help`
 * (print the table, exit). Otherwise loads the config and returns 0, or
 * logs the reason and exits 1.
 */
int config_main(int argc, char **argv, const struct config_var *vars, size_t n);
void config_free(const struct config_var *vars, size_t n);

#endif
