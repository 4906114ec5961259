/*
 * cli_exec.c: `slipway run` and `slipway executions` against deploy-svc: a
 * task's executions, started by hand or by its schedule. `run --wait`
 * follows one execution to its end and exits with the task's own exit code,
 * so a script can run a task as it would run a local command.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define EXEC_POLL_MS 300
#define EXEC_WAIT_DEFAULT_S 3900   /* the default active deadline, and then some */
#define EXEC_WAIT_MAX_S 604800

static const struct cli_column execution_cols[] = {
	{ "ID", "id" }, { "ENVIRONMENT", "environment" }, { "TRIGGER", "trigger" },
	{ "STATUS", "status" }, { "EXIT", "exit_code" },
	{ "SCHEDULED", "scheduled_for" }, { "STARTED", "started_at" },
	{ "FINISHED", "finished_at" }, { "REASON", "reason" },
};

static const char *const execution_fields[] = {
	"id", "component_id", "environment", "deployment_id", "digest",
	"trigger", "status", "exit_code", "scheduled_for", "started_at",
	"finished_at", "reason", NULL,
};

/* Statuses an execution never leaves. */
static const char *const final_statuses[] = { "succeeded", "failed",
	"timed_out", "skipped", NULL };

static int
exec_final(const char *status)
{
	for (size_t i = 0; final_statuses[i] != NULL; i++)
		if (strcmp(status, final_statuses[i]) == 0)
			return 1;
	return 0;
}

/* "args" from every --arg and "env" from every --var K=V; -1 (printed) when bad. */
static int
exec_body_lists(const struct cli_args *a, json_t *body)
{
	json_t *args = json_array(), *env = json_object();
	const char *eq;

	for (int i = 0; i < a->nopts; i++) {
		if (strcmp(a->opts[i].name, "arg") == 0) {
			json_array_append_new(args, json_string(a->opts[i].value));
		} else if (strcmp(a->opts[i].name, "var") == 0) {
			eq = strchr(a->opts[i].value, '=');
			if (eq == NULL || eq == a->opts[i].value) {
				fprintf(stderr, "error: usage: --var takes NAME=VALUE\n");
				json_decref(args);
				json_decref(env);
				return -1;
			}
			json_object_setn_new(env, a->opts[i].value,
			    (size_t)(eq - a->opts[i].value), json_string(eq + 1));
		}
	}
	if (json_array_size(args) > 0)
		json_object_set(body, "args", args);
	if (json_object_size(env) > 0)
		json_object_set(body, "env", env);
	json_decref(args);
	json_decref(env);
	return 0;
}

static void
exec_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The final reply of execution id, or NULL (printed) on failure or timeout. */
static json_t *
exec_wait(const struct cli_ctx *ctx, const char *id, long timeout_s)
{
	char path[512], last[32] = "";
	time_t deadline = time(NULL) + timeout_s;
	const char *status;
	json_t *out;

	if (cli_http_path(path, sizeof(path), "/v1/executions/{}", id) < 0)
		return NULL;
	for (;;) {
		struct cli_ctx quiet = *ctx;

		/* One JSON document at the end, not an id or a body per poll. */
		quiet.json = quiet.quiet = 0;
		out = NULL;
		if (cli_http_call(&quiet, CLI_SVC_DEPLOY, "GET", path, NULL,
		    &out) != CLI_OK)
			return NULL;
		status = json_string_value(json_object_get(out, "status"));
		if (status == NULL)
			status = "";
		if (strcmp(status, last) != 0 && !ctx->json && !ctx->quiet)
			fprintf(stderr, "%s: %s\n", id, status);
		snprintf(last, sizeof(last), "%s", status);
		if (exec_final(status))
			return out;
		json_decref(out);
		if (time(NULL) >= deadline) {
			fprintf(stderr, "error: timeout: execution %s still %s after "
			    "%ld s\n", id, last, timeout_s);
			return NULL;
		}
		exec_sleep_ms(EXEC_POLL_MS);
	}
}

/* The task's own exit code when it ran to an exit; 1 for anything else. */
static int
exec_exit_status(json_t *e)
{
	const char *status = json_string_value(json_object_get(e, "status"));
	json_t *code = json_object_get(e, "exit_code");

	if (status != NULL && strcmp(status, "succeeded") == 0)
		return CLI_OK;
	if (json_is_integer(code) && json_integer_value(code) != 0)
		return (int)(json_integer_value(code) & 0xff);
	return CLI_FAIL;
}

static void
exec_print(json_t *e)
{
	const char *log = json_string_value(json_object_get(e, "log_tail"));

	cli_out_fields(e, execution_fields);
	if (log != NULL && log[0] != '\0') {
		printf("log_tail:\n");
		cli_out_clean(stdout, log, strlen(log));
		if (log[strlen(log) - 1] != '\n')
			putchar('\n');
	}
}

int
cli_exec_run(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *env = cli_args_get(a, "env"), *id;
	long timeout = cli_args_long(a, "timeout", EXEC_WAIT_DEFAULT_S,
	    EXEC_WAIT_MAX_S);
	char path[512];
	json_t *body, *out = NULL, *final;
	int rc;

	if (env == NULL || timeout < 0) {
		fprintf(stderr, "error: usage: %s\n", env == NULL ?
		    "--env is required" : "--timeout must be a positive integer");
		return CLI_USAGE;
	}
	if (cli_http_path(path, sizeof(path), "/v1/components/{}/executions",
	    a->pos[0]) < 0 ||
	    (body = json_pack("{s:s}", "environment", env)) == NULL)
		return CLI_USAGE;
	if (exec_body_lists(a, body) < 0) {
		json_decref(body);
		return CLI_USAGE;
	}
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "POST", path, body, &out);
	json_decref(body);
	id = json_string_value(json_object_get(out, "id"));
	if (rc != CLI_OK || id == NULL) {
		json_decref(out);
		return rc != CLI_OK ? rc : CLI_FAIL;
	}
	if (!ctx->quiet && !ctx->json)
		printf("%s\n", id);
	if (!cli_args_has(a, "wait")) {
		json_decref(out);
		return CLI_OK;
	}
	final = exec_wait(ctx, id, timeout);
	json_decref(out);
	if (final == NULL)
		return CLI_FAIL;
	if (ctx->json) {
		json_dumpf(final, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (!ctx->quiet)
		exec_print(final);
	rc = exec_exit_status(final);
	json_decref(final);
	return rc;
}

int
cli_exec_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *env = cli_args_get(a, "env");
	char path[600];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, 512, env != NULL ?
	    "/v1/components/{}/executions?environment={}" :
	    "/v1/components/{}/executions", a->pos[0], env) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "executions"), execution_cols,
		    sizeof(execution_cols) / sizeof(execution_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_exec_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/executions/{}", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		exec_print(out);
	json_decref(out);
	return rc;
}
