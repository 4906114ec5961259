/*
 * cli_config.c: slipway config set|unset|list and slipway secret
 * set|list|rm. `config set` and `unset` read the environment's variables,
 * change them and put the whole set back (the API replaces the set), so
 * each makes exactly one new configuration version. A secret's value is
 * read from stdin only, never from the command line (ps, shell history),
 * and is never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_SECRET_MAX (32 * 1024)

/* ".../environments/ENV/<what>" of component id; -1 when --env is missing. */
static int
config_path(const struct cli_args *a, const char *what, const char *key,
    char *buf, size_t len)
{
	const char *env = cli_args_get(a, "env");

	if (env == NULL) {
		fprintf(stderr, "error: usage: --env is required\n");
		return -1;
	}
	if (key != NULL)
		return cli_http_path(buf, len, "/v1/components/{}/environments/{}/"
		    "secrets/{}", a->pos[0], env, key);
	return cli_http_path(buf, len, "/v1/components/{}/environments/{}/{}",
	    a->pos[0], env, what);
}

/* The environment's variables object (new reference), or NULL. */
static json_t *
config_vars(const struct cli_ctx *ctx, const char *path)
{
	struct cli_ctx quiet = *ctx;
	json_t *out = NULL, *vars;

	quiet.json = quiet.quiet = 0;
	if (cli_http_call(&quiet, CLI_SVC_DEPLOY, "GET", path, NULL, &out) !=
	    CLI_OK)
		return NULL;
	vars = json_object_get(out, "vars");
	vars = json_is_object(vars) ? json_deep_copy(vars) : json_object();
	json_decref(out);
	return vars;
}

/* PUTs vars back and prints the new version. */
static int
config_put(const struct cli_ctx *ctx, const char *path, json_t *vars)
{
	json_t *body = json_pack("{s:o}", "vars", vars), *out = NULL;
	int rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "PUT", path, body, &out);

	json_decref(body);
	if (rc == CLI_OK && !ctx->json && !ctx->quiet)
		printf("configuration version %lld\n",
		    json_integer_value(json_object_get(out, "version")));
	json_decref(out);
	return rc;
}

int
cli_config_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *vars;

	if (config_path(a, "config", NULL, path, sizeof(path)) < 0)
		return CLI_USAGE;
	for (int i = 1; i < a->npos; i++)
		if (strchr(a->pos[i], '=') == NULL || a->pos[i][0] == '=') {
			fprintf(stderr, "error: usage: %s is not KEY=VALUE\n",
			    a->pos[i]);
			return CLI_USAGE;
		}
	if ((vars = config_vars(ctx, path)) == NULL)
		return CLI_FAIL;
	for (int i = 1; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - a->pos[i]),
		    a->pos[i]);
		json_object_set_new(vars, name, json_string(eq + 1));
	}
	return config_put(ctx, path, vars);
}

int
cli_config_unset(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *vars;

	if (config_path(a, "config", NULL, path, sizeof(path)) < 0)
		return CLI_USAGE;
	if ((vars = config_vars(ctx, path)) == NULL)
		return CLI_FAIL;
	for (int i = 1; i < a->npos; i++)
		if (json_object_del(vars, a->pos[i]) == -1)
			fprintf(stderr, "warning: %s is not set\n", a->pos[i]);
	return config_put(ctx, path, vars);
}

int
cli_config_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	const char *name;
	json_t *out = NULL, *v;

	if (config_path(a, "config", NULL, path, sizeof(path)) < 0)
		return CLI_USAGE;
	if (cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out) != CLI_OK)
		return CLI_FAIL;
	if (!ctx->json && !ctx->quiet) {
		json_object_foreach(json_object_get(out, "vars"), name, v) {
			printf("%s=", name);
			cli_out_clean(stdout, json_string_value(v),
			    json_string_length(v));
			printf("\n");
		}
	}
	json_decref(out);
	return CLI_OK;
}

/* The whole of stdin, one trailing newline dropped; NULL when too long. */
static char *
secret_from_stdin(size_t *len)
{
	char *buf = malloc(CLI_SECRET_MAX + 2);

	if (buf == NULL)
		return NULL;
	*len = fread(buf, 1, CLI_SECRET_MAX + 1, stdin);
	if (*len > CLI_SECRET_MAX) {
		fprintf(stderr, "error: usage: a secret is at most %d bytes\n",
		    CLI_SECRET_MAX);
		free(buf);
		return NULL;
	}
	if (*len > 0 && buf[*len - 1] == '\n')
		(*len)--;
	if (*len > 0 && buf[*len - 1] == '\r')
		(*len)--;
	buf[*len] = '\0';
	return buf;
}

int
cli_secret_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[768], *value;
	json_t *body, *out = NULL;
	size_t len;
	int rc;

	if (!cli_args_has(a, "value-stdin")) {
		fprintf(stderr, "error: usage: --value-stdin is required (a secret "
		    "never goes on the command line)\n");
		return CLI_USAGE;
	}
	if (config_path(a, NULL, a->pos[1], path, sizeof(path)) < 0 ||
	    (value = secret_from_stdin(&len)) == NULL)
		return CLI_USAGE;
	body = json_pack("{s:s%}", "value", value, len);
	memset(value, 0, len);
	free(value);
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "PUT", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK && !ctx->json && !ctx->quiet)
		printf("secret %s set (configuration version %lld)\n", a->pos[1],
		    json_integer_value(json_object_get(out, "version")));
	json_decref(out);
	return rc;
}

int
cli_secret_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const struct cli_column cols[] = {
		{ "NAME", "name" }, { "SET AT", "set_at" },
	};
	char path[512];
	json_t *out = NULL;

	if (config_path(a, "secrets", NULL, path, sizeof(path)) < 0)
		return CLI_USAGE;
	if (cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out) != CLI_OK)
		return CLI_FAIL;
	if (!ctx->json && !ctx->quiet)
		cli_out_table(json_object_get(out, "secrets"), cols,
		    sizeof(cols) / sizeof(cols[0]));
	json_decref(out);
	return CLI_OK;
}

int
cli_secret_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[768];
	json_t *out = NULL;
	int rc;

	if (config_path(a, NULL, a->pos[1], path, sizeof(path)) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "DELETE", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json && !ctx->quiet)
		printf("secret %s removed (configuration version %lld)\n",
		    a->pos[1], json_integer_value(json_object_get(out, "version")));
	json_decref(out);
	return rc;
}
