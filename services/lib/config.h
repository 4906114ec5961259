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
};

#define CONFIG_REQUIRED 0x1
#define CONFIG_SECRET   0x2   /* never printed, never logged */

struct config_var {
	const char *name;        /* environment variable, e.g. "SLIPWAY_HTTP_PORT" */
	enum config_type type;
	const char *def;         /* default as text, or NULL */
	int flags;
	const char *help;
	void *dst;               /* char ** or int * */
};

int config_load(const struct config_var *vars, size_t n, struct error *err);
/*
 * Handles argv: `--check-config` (validate, print, exit) and `--help`
 * (print the table, exit). Otherwise loads the config and returns 0, or
 * logs the reason and exits 1.
 */
int config_main(int argc, char **argv, const struct config_var *vars, size_t n);
void config_free(const struct config_var *vars, size_t n);

#endif
