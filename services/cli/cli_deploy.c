/*
 * cli_deploy.c: `slipway deploy`, `deploy status [--wait]`, `deployments`
 * and `promote` against deploy-svc.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define POLL_INTERVAL_MS 200
#define WAIT_DEFAULT_S 300
#define WAIT_MAX_S 86400

static const struct cli_column deployment_cols[] = {
	{ "ID", "id" }, { "ENVIRONMENT", "environment" }, { "STATUS", "status" },
	{ "IMAGE", "image" }, { "SOURCE", "source" }, { "CREATED", "created_at" },
	{ "REASON", "reason" },
};

static const char *const deployment_fields[] = {
	"id", "component_id", "org", "environment", "image", "digest", "status",
	"reason", "source", "created_at", "updated_at", NULL,
};

/* How a status ends a wait: 0 keeps polling, else the exit status + 1. */
static const struct {
	const char *status;
	int exit_plus_one;
} terminal_statuses[] = {
	{ "running", CLI_OK + 1 },
	/* Only a running deployment can be superseded: it did reach running. */
	{ "superseded", CLI_OK + 1 },
	{ "failed", CLI_FAIL + 1 },
};

static int
status_terminal(const char *status)
{
	size_t i;

	for (i = 0; i < sizeof(terminal_statuses) / sizeof(terminal_statuses[0]); i++)
		if (strcmp(status, terminal_statuses[i].status) == 0)
			return terminal_statuses[i].exit_plus_one;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* 1 when the reply is deploy-svc's "not yet known" 404 (the event is in flight). */
static int
reply_not_yet_known(const struct cli_reply *r)
{
	json_t *e = json_object_get(r->json, "error");
	const char *code = json_string_value(json_object_get(e, "code"));

	return r->status == 404 && code != NULL && strcmp(code, "not_yet_known") == 0;
}

/* Prints a status change: the JSON line with --json, else "<id>: <status>". */
static void
status_print(const struct cli_ctx *ctx, const char *id, const struct cli_reply *r,
    const char *status)
{
	const char *reason = json_string_value(json_object_get(r->json, "reason"));

	if (ctx->quiet)
		return;   /* the id was printed; the exit status tells the end */
	if (ctx->json)
		printf("%s\n", r->body);
	else if (strcmp(status, "failed") == 0)
		printf("%s: failed: %s\n", id, reason && reason[0] ? reason : "(no reason given)");
	else
		printf("%s: %s\n", id, status);
	fflush(stdout);
}

/*
 * One poll. Returns 0 to keep polling, or the exit status + 1. last holds the
 * status seen before, so only changes are printed.
 */
static int
wait_poll(const struct cli_ctx *ctx, const char *path, const char *id,
    char *last, size_t lastlen)
{
	struct cli_reply r;
	const char *status;
	int done = 0;

	if (cli_http_do(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &r) < 0)
		return CLI_FAIL + 1;
	if (reply_not_yet_known(&r)) {
		cli_reply_free(&r);
		return 0;
	}
	if (r.status < 200 || r.status > 299) {
		cli_http_print_error(&r);
		cli_reply_free(&r);
		return CLI_FAIL + 1;
	}
	status = json_string_value(json_object_get(r.json, "status"));
	if (status == NULL) {
		fprintf(stderr, "error: bad_reply: deployment without a status\n");
		cli_reply_free(&r);
		return CLI_FAIL + 1;
	}
	if (strcmp(status, last) != 0) {
		status_print(ctx, id, &r, status);
		snprintf(last, lastlen, "%s", status);
	}
	done = status_terminal(status);
	cli_reply_free(&r);
	return done;
}

/* Polls GET /v1/deployments/{id} every 200 ms until a final status or the timeout. */
static int
deploy_wait(const struct cli_ctx *ctx, const char *id, long timeout_s)
{
	char path[512], last[64] = "";
	double deadline = now_s() + (double)timeout_s;
	int done;

	if (cli_http_path(path, sizeof(path), "/v1/deployments/{}", id) < 0)
		return CLI_USAGE;
	for (;;) {
		if ((done = wait_poll(ctx, path, id, last, sizeof(last))) != 0)
			return done - 1;
		if (now_s() >= deadline)
			break;
		sleep_ms(POLL_INTERVAL_MS);
	}
	fprintf(stderr, "error: timeout: deployment %s is still %s after %ld s\n",
	    id, last[0] ? last : "unknown", timeout_s);
	return CLI_FAIL;
}

/* --timeout S, checked; -1 (printed) when malformed. */
static long
wait_timeout(const struct cli_args *a)
{
	long t = cli_args_long(a, "timeout", WAIT_DEFAULT_S, WAIT_MAX_S);

	if (t < 0)
		fprintf(stderr, "error: usage: --timeout must be 1..%d seconds\n", WAIT_MAX_S);
	return t;
}

/* The deploy request body: environment plus exactly one source. */
static json_t *
deploy_body(const struct cli_args *a)
{
	static const char *const sources[][2] = {
		{ "tag", "tag" }, { "image", "image" }, { "previous", "from_deployment" },
	};
	const char *env = cli_args_get(a, "env");
	json_t *body;
	size_t i, n = 0;

	if (env == NULL) {
		fprintf(stderr, "error: usage: --env is required\n");
		return NULL;
	}
	body = json_pack("{s:s}", "environment", env);
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		const char *v = cli_args_get(a, sources[i][0]);
		if (v != NULL && body != NULL) {
			json_object_set_new(body, sources[i][1], json_string(v));
			n++;
		}
	}
	if (body == NULL || n != 1) {
		fprintf(stderr, "error: usage: give exactly one of --tag, --image, --previous\n");
		json_decref(body);
		return NULL;
	}
	return body;
}

/* Prints the 202 answer, then waits for it when asked. */
static int
deploy_accepted(const struct cli_ctx *ctx, const struct cli_args *a, json_t *dep,
    long timeout_s)
{
	const char *id = json_string_value(json_object_get(dep, "id"));

	if (!ctx->json)
		cli_out_fields(dep, deployment_fields);
	if (!cli_args_has(a, "wait"))
		return CLI_OK;
	if (id == NULL) {
		fprintf(stderr, "error: bad_reply: the answer has no deployment id\n");
		return CLI_FAIL;
	}
	return deploy_wait(ctx, id, timeout_s);
}

int
cli_deploy_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *body, *out = NULL;
	long timeout_s;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/deployments", a->pos[0]) < 0)
		return CLI_USAGE;
	if ((timeout_s = wait_timeout(a)) < 0 || (body = deploy_body(a)) == NULL)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "POST", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK)
		rc = deploy_accepted(ctx, a, out, timeout_s);
	json_decref(out);
	return rc;
}

int
cli_deploy_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/deployments", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "deployments"), deployment_cols,
		    sizeof(deployment_cols) / sizeof(deployment_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_deploy_status(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	long timeout_s;
	int rc;

	if ((timeout_s = wait_timeout(a)) < 0)
		return CLI_USAGE;
	if (cli_args_has(a, "wait"))
		return deploy_wait(ctx, a->pos[0], timeout_s);
	if (cli_http_path(path, sizeof(path), "/v1/deployments/{}", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_fields(out, deployment_fields);
	json_decref(out);
	return rc;
}

int
cli_deploy_promote(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *to = cli_args_get(a, "to");
	char path[512];
	json_t *body, *out = NULL;
	long timeout_s;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/deployments/{}/promote", a->pos[0]) < 0 ||
	    (timeout_s = wait_timeout(a)) < 0)
		return CLI_USAGE;
	if (to == NULL) {
		fprintf(stderr, "error: usage: --to ENVIRONMENT is required\n");
		return CLI_USAGE;
	}
	if ((body = json_pack("{s:s}", "to", to)) == NULL) {
		fprintf(stderr, "error: usage: --to must be UTF-8 text\n");
		return CLI_USAGE;
	}
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "POST", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK)
		rc = deploy_accepted(ctx, a, out, timeout_s);
	json_decref(out);
	return rc;
}
