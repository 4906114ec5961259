/*
 * main.c: the slipway CLI — a table of {noun, verb, handler, options, usage}
 * and the dispatch over it (STYLE.md rule 4), plus the settings every
 * command shares (SLIPWAY_API_KEY or SLIPWAY_ADMIN_TOKEN, SLIPWAY_URL with
 * the SLIPWAY_URL_* overrides).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{ .noun = "registry", .verb = "add", .run = cli_registry_add,
	  .opts = "name= host= username= password= password-stdin auth= docker-config= vendor=",
	  .min_pos = 1, .max_pos = 1,
	  .usage = "registry add ORG --name N --host H [--username U --password-stdin | --password P | --docker-config FILE | --vendor acr|gar|ecr|ghcr]" },
	{ .noun = "registry", .verb = "list", .run = cli_registry_list,
	  .min_pos = 1, .max_pos = 1, .usage = "registry list ORG" },
	{ .noun = "registry", .verb = "show", .run = cli_registry_show,
	  .min_pos = 2, .max_pos = 2, .usage = "registry show ORG ID" },
	{ .noun = "registry", .verb = "update", .run = cli_registry_update,
	  .opts = "name= username= password= password-stdin auth= docker-config= vendor=",
	  .min_pos = 2, .max_pos = 2,
	  .usage = "registry update ORG ID [--name N] [--username U --password-stdin | --password P | --docker-config FILE | --vendor V | --auth anonymous]" },
	{ .noun = "registry", .verb = "rm", .run = cli_registry_rm,
	  .min_pos = 2, .max_pos = 2, .usage = "registry rm ORG ID" },
	{ .noun = "registry", .verb = "test", .run = cli_registry_test,
	  .min_pos = 2, .max_pos = 2, .usage = "registry test ORG ID" },
	{ .noun = "component", .verb = "create", .run = cli_component_create,
	  .opts = "name= type= registry= image= endpoints= port= description= "
	      "health-path= health-timeout= memory-mb= cpu-millicores= pids= "
	      "read-only-rootfs schedule= timezone= concurrency= "
	      "starting-deadline= active-deadline=",
	  .min_pos = 2, .max_pos = 2,
	  .usage = "component create ORG PROJECT --name N --type service|web-app|scheduled-task|manual-task --registry ID --image REF\n"
	      "      [--endpoints FILE] [--port P (web-app)] [--description D]\n"
	      "      [--health-path /healthz] [--health-timeout S] [--memory-mb MB] [--cpu-millicores M] [--pids N] [--read-only-rootfs]\n"
	      "      [--schedule CRON --timezone ZONE] [--concurrency forbid|allow|replace] [--starting-deadline S] [--active-deadline S]" },
	{ .noun = "component", .verb = "update", .run = cli_component_update,
	  .opts = "description= image= port= health-path= health-timeout= "
	      "memory-mb= cpu-millicores= pids= read-only-rootfs schedule= "
	      "timezone= concurrency= starting-deadline= active-deadline=",
	  .min_pos = 1, .max_pos = 1,
	  .usage = "component update ID [--description D] [--image REF] [--port P (web-app)]\n"
	      "      [--health-path /healthz] [--health-timeout S] [--memory-mb MB] [--cpu-millicores M] [--pids N] [--read-only-rootfs]\n"
	      "      [--schedule CRON] [--timezone ZONE] [--concurrency P] [--starting-deadline S] [--active-deadline S]" },
	{ .noun = "component", .verb = "rm", .run = cli_component_rm,
	  .min_pos = 1, .max_pos = 1, .usage = "component rm ID" },
	{ .noun = "component", .verb = "list", .run = cli_component_list,
	  .min_pos = 2, .max_pos = 2, .usage = "component list ORG PROJECT" },
	{ .noun = "component", .verb = "show", .run = cli_component_show,
	  .min_pos = 1, .max_pos = 1, .usage = "component show ID" },
	{ .noun = "endpoints", .verb = "set", .run = cli_endpoints_set,
	  .min_pos = 2, .max_pos = 12,
	  .usage = "endpoints set COMPONENT_ID endpoints.yaml [SCHEMA_FILE...] (up to 10 OpenAPI / GraphQL files it names)" },
	{ .noun = "endpoints", .verb = "show", .run = cli_endpoints_show,
	  .min_pos = 1, .max_pos = 1, .usage = "endpoints show COMPONENT_ID" },
	{ .noun = "endpoints", .verb = "schema", .run = cli_endpoints_schema,
	  .min_pos = 2, .max_pos = 2,
	  .usage = "endpoints schema COMPONENT_ID FILE (prints the stored file)" },
	{ .noun = "token", .verb = "create", .run = cli_token_create,
	  .opts = "name= signing snippet=", .min_pos = 1, .max_pos = 1,
	  .usage = "token create COMPONENT_ID [--name N] [--signing] [--snippet curl|github|gitlab|none]" },
	{ .noun = "token", .verb = "snippet", .run = cli_token_snippet,
	  .opts = "signing snippet=", .min_pos = 1, .max_pos = 1,
	  .usage = "token snippet COMPONENT_ID [--signing] [--snippet curl|github|gitlab|none]" },
	{ .noun = "token", .verb = "list", .run = cli_token_list,
	  .min_pos = 1, .max_pos = 1, .usage = "token list COMPONENT_ID" },
	{ .noun = "token", .verb = "revoke", .run = cli_token_revoke,
	  .min_pos = 2, .max_pos = 2, .usage = "token revoke COMPONENT_ID TOKEN_ID" },
	{ .noun = "key", .verb = "create", .run = cli_key_create,
	  .opts = "name= role=", .min_pos = 1, .max_pos = 1,
	  .usage = "key create ORG --name N --role viewer|deployer|admin   (operator)" },
	{ .noun = "key", .verb = "list", .run = cli_key_list,
	  .min_pos = 1, .max_pos = 1, .usage = "key list ORG   (operator)" },
	{ .noun = "key", .verb = "revoke", .run = cli_key_revoke,
	  .min_pos = 2, .max_pos = 2, .usage = "key revoke ORG KEY_ID   (operator)" },
	{ .noun = "dataplane", .verb = "add", .run = cli_dataplane_add,
	  .opts = "public-key= rotate org=* shared", .min_pos = 1, .max_pos = 1,
	  .usage = "dataplane add NAME --public-key B64 ((--org ORG)... | --shared) [--rotate]" },
	{ .noun = "dataplane", .verb = "list", .run = cli_dataplane_list,
	  .usage = "dataplane list" },
	{ .noun = "deploy", .verb = "status", .run = cli_deploy_status,
	  .opts = "wait timeout=", .min_pos = 1, .max_pos = 1,
	  .usage = "deploy status DEPLOYMENT_ID [--wait] [--timeout S]" },
	{ .noun = "deploy", .verb = NULL, .run = cli_deploy_create,
	  .opts = "env= tag= image= previous= config-only wait timeout=", .min_pos = 1, .max_pos = 1,
	  .usage = "deploy COMPONENT_ID --env ENV (--tag T | --image REF | --previous DEPLOYMENT_ID | --config-only) [--wait] [--timeout S]" },
	{ .noun = "config", .verb = "set", .run = cli_config_set,
	  .opts = "env=", .min_pos = 2, .max_pos = CLI_MAX_POS,
	  .usage = "config set COMPONENT_ID --env ENV KEY=VALUE..." },
	{ .noun = "config", .verb = "unset", .run = cli_config_unset,
	  .opts = "env=", .min_pos = 2, .max_pos = CLI_MAX_POS,
	  .usage = "config unset COMPONENT_ID --env ENV KEY..." },
	{ .noun = "config", .verb = "list", .run = cli_config_list,
	  .opts = "env=", .min_pos = 1, .max_pos = 1,
	  .usage = "config list COMPONENT_ID --env ENV" },
	{ .noun = "secret", .verb = "set", .run = cli_secret_set,
	  .opts = "env= value-stdin", .min_pos = 2, .max_pos = 2,
	  .usage = "secret set COMPONENT_ID --env ENV KEY --value-stdin" },
	{ .noun = "secret", .verb = "list", .run = cli_secret_list,
	  .opts = "env=", .min_pos = 1, .max_pos = 1,
	  .usage = "secret list COMPONENT_ID --env ENV" },
	{ .noun = "secret", .verb = "rm", .run = cli_secret_rm,
	  .opts = "env=", .min_pos = 2, .max_pos = 2,
	  .usage = "secret rm COMPONENT_ID --env ENV KEY" },
	{ .noun = "deployments", .verb = NULL, .run = cli_deploy_list,
	  .min_pos = 1, .max_pos = 1, .usage = "deployments COMPONENT_ID" },
	{ .noun = "promote", .verb = NULL, .run = cli_deploy_promote,
	  .opts = "to= wait timeout=", .min_pos = 1, .max_pos = 1,
	  .usage = "promote DEPLOYMENT_ID --to ENV [--wait] [--timeout S]" },
	{ .noun = "run", .verb = NULL, .run = cli_exec_run,
	  .opts = "env= arg=* var=* wait timeout=", .min_pos = 1, .max_pos = 1,
	  .usage = "run COMPONENT_ID --env ENV [--arg A]... [--var NAME=VALUE]... [--wait] [--timeout S]" },
	{ .noun = "executions", .verb = NULL, .run = cli_exec_list,
	  .opts = "env=", .min_pos = 1, .max_pos = 1,
	  .usage = "executions COMPONENT_ID [--env ENV]" },
	{ .noun = "execution", .verb = "show", .run = cli_exec_show,
	  .min_pos = 1, .max_pos = 1, .usage = "execution show EXECUTION_ID" },
	{ .noun = "image", .verb = "parse", .run = cli_image_parse,
	  .min_pos = 1, .max_pos = 1, .offline = 1, .usage = "image parse REF" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/*
 * The platform's one address (the front door routes every /v1 path to the
 * service that owns it) and its default, `make run`'s front door.
 */
#define CLI_URL_ENV "SLIPWAY_URL"
#define CLI_URL_DEFAULT "http://127.0.0.1:8000"

/* Each service's override: a service reached on its own address. */
static const char *const service_urls[CLI_SVC_COUNT] = {
	[CLI_SVC_REGISTRY] = "SLIPWAY_URL_REGISTRY",
	[CLI_SVC_COMPONENT] = "SLIPWAY_URL_COMPONENT",
	[CLI_SVC_DEPLOY] = "SLIPWAY_URL_DEPLOY",
	[CLI_SVC_WEBHOOK] = "SLIPWAY_URL_WEBHOOK",
};

/* Prints every usage line whose noun matches (all when noun is NULL). */
static void
usage(FILE *f, const char *noun)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (noun == NULL || strcmp(noun, commands[i].noun) == 0)
			fprintf(f, "  slipway %s\n", commands[i].usage);
	if (noun == NULL)
		fprintf(f, "\nEvery command takes --json (print the API's JSON); commands that print one\n"
		    "object take --quiet (print only its id, for scripts).\n"
		    "Credentials: SLIPWAY_API_KEY (an org key, slk_..., from `key create`;\n"
		    "it acts in its org with its role) or else SLIPWAY_ADMIN_TOKEN (the operator\n"
		    "key: every org, data planes and keys).\n"
		    "Address: SLIPWAY_URL, the platform's front door (default "
		    CLI_URL_DEFAULT "), for every\n"
		    "service; SLIPWAY_URL_REGISTRY, SLIPWAY_URL_COMPONENT, SLIPWAY_URL_DEPLOY and\n"
		    "SLIPWAY_URL_WEBHOOK override it for one service reached on its own address.\n"
		    "Exit status: 0 ok, 1 the API or the network said no, 2 usage.\n"
		    "\n`deploy status` and `deployments` show each endpoint's URL once a deployment\n"
		    "is running, and the reason, exit code and log tail of a failed or crashed one.\n"
		    "--wait ends at running (0) or failed (1); a crashed deployment is being\n"
		    "restarted, so the wait goes on until it runs again or --timeout; a task's\n"
		    "deployment ends at ready. `run --wait` exits with the task's own exit code.\n");
}

/* A variable's value, NULL when unset or empty. */
static const char *
env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Copies URL v (from variable name) into out without trailing slashes;
 * -1 (printed) when it is not an http(s) URL or too long. */
static int
ctx_url(char *out, size_t len, const char *name, const char *v)
{
	size_t n = strlen(v);

	while (n > 0 && v[n - 1] == '/')
		n--;
	if (n >= len || (strncmp(v, "http://", 7) != 0 &&
	    strncmp(v, "https://", 8) != 0)) {
		fprintf(stderr, "error: config: %s must be an http(s) URL\n", name);
		return -1;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/* Fills ctx from the environment; -1 (printed) on a malformed URL. Each
 * service: its own variable, else SLIPWAY_URL, else the default. */
static int
ctx_load(struct cli_ctx *ctx)
{
	const char *v, *name;
	size_t i;

	memset(ctx, 0, sizeof(*ctx));
	ctx->token = cli_args_credential(getenv("SLIPWAY_API_KEY"),
	    getenv("SLIPWAY_ADMIN_TOKEN"));
	for (i = 0; i < CLI_SVC_COUNT; i++) {
		name = service_urls[i];
		if ((v = env_set(name)) == NULL) {
			name = CLI_URL_ENV;
			if ((v = env_set(name)) == NULL)
				v = CLI_URL_DEFAULT;
		}
		if (ctx_url(ctx->url[i], sizeof(ctx->url[i]), name, v) < 0)
			return -1;
	}
	return 0;
}

/* The message when neither key is set. */
#define NO_KEY "error: config: neither SLIPWAY_API_KEY nor SLIPWAY_ADMIN_TOKEN is set\n"

/* "<set>" or null: a key's presence, never its value. */
static const char *
check_config_secret(const char *env)
{
	const char *v = getenv(env);

	return v != NULL && v[0] != '\0' ? "\"<set>\"" : "null";
}

/* --check-config: the settings as JSON (the keys only as "<set>"). */
static int
check_config(void)
{
	struct cli_ctx ctx;
	const char *v;
	size_t i;

	if (ctx_load(&ctx) < 0)
		return CLI_FAIL;
	printf("{\"SLIPWAY_API_KEY\": %s, \"SLIPWAY_ADMIN_TOKEN\": %s",
	    check_config_secret("SLIPWAY_API_KEY"),
	    check_config_secret("SLIPWAY_ADMIN_TOKEN"));
	v = env_set(CLI_URL_ENV);
	printf(", \"%s\": \"%s\"", CLI_URL_ENV, v != NULL ? v : CLI_URL_DEFAULT);
	for (i = 0; i < CLI_SVC_COUNT; i++)
		printf(", \"%s\": \"%s\"", service_urls[i], ctx.url[i]);
	printf("}\n");
	if (ctx.token == NULL) {
		fprintf(stderr, NO_KEY);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Finds the command for argv; *used gets how many words it took (1 or 2). */
static const struct cli_command *
command_find(int argc, char **argv, int *used)
{
	size_t i;

	for (i = 0; i < NCOMMANDS && argc > 2; i++) {
		if (commands[i].verb != NULL && strcmp(commands[i].noun, argv[1]) == 0 &&
		    strcmp(commands[i].verb, argv[2]) == 0) {
			*used = 2;
			return &commands[i];
		}
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (commands[i].verb == NULL && strcmp(commands[i].noun, argv[1]) == 0) {
			*used = 1;
			return &commands[i];
		}
	}
	return NULL;
}

static int
noun_known(const char *noun)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].noun, noun) == 0)
			return 1;
	return 0;
}

/* Parses the command's arguments and runs it. */
static int
command_run(const struct cli_command *cmd, int argc, const char *const *argv)
{
	struct cli_args a;
	struct cli_ctx ctx;
	char why[160];
	int rc;

	if (cli_args_parse(argc, argv, cmd->opts ? cmd->opts : "", &a, why, sizeof(why)) < 0) {
		fprintf(stderr, "error: usage: %s\nusage: slipway %s\n", why, cmd->usage);
		return CLI_USAGE;
	}
	if (a.help) {
		printf("usage: slipway %s\n", cmd->usage);
		return CLI_OK;
	}
	if (a.npos < cmd->min_pos || a.npos > cmd->max_pos) {
		fprintf(stderr, "error: usage: wrong number of arguments\nusage: slipway %s\n",
		    cmd->usage);
		return CLI_USAGE;
	}
	if (ctx_load(&ctx) < 0)
		return CLI_USAGE;
	if (!cmd->offline && ctx.token == NULL) {
		fprintf(stderr, NO_KEY);
		return CLI_USAGE;
	}
	/* --quiet is a machine mode too: handlers skip their tables. */
	ctx.json = a.json || a.quiet;
	ctx.quiet = a.quiet;
	cli_http_init();
	rc = cmd->run(&ctx, &a);
	cli_http_cleanup();
	return rc;
}

int
main(int argc, char **argv)
{
	const struct cli_command *cmd;
	int used = 0;

	if (argc < 2) {
		usage(stderr, NULL);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout, NULL);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--check-config") == 0)
		return check_config();
	if ((cmd = command_find(argc, argv, &used)) == NULL) {
		if (noun_known(argv[1])) {
			fprintf(stderr, "error: usage: unknown %s command\n", argv[1]);
			usage(stderr, argv[1]);
		} else {
			fprintf(stderr, "error: usage: unknown command \"%s\"\n", argv[1]);
			usage(stderr, NULL);
		}
		return CLI_USAGE;
	}
	return command_run(cmd, argc - 1 - used,
	    (const char *const *)(argv + 1 + used));
}
