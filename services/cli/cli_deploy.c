/*
 * cli_deploy.c: `slipway deploy`, `deploy status [--wait]`, `deployments`
 * and `promote` against deploy-svc. Beside a deployment's fields they show
 * where it is served once running (each endpoint's URL) and, when it failed
 * or crashed, the agent's evidence: exit code, last probe, log tail.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define POLL_INTERVAL_MS 200
#define WAIT_DEFAULT_S 300
#define WAIT_MAX_S 86400
/* `deployments` shows this many log lines per deployment; `deploy status` all. */
#define LIST_LOG_LINES 3

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
	/* A task's deployment: pulled and pinned, its executions run from it. */
	{ "ready", CLI_OK + 1 },
	/* Only a running deployment can be superseded: it did reach running. */
	{ "superseded", CLI_OK + 1 },
	{ "failed", CLI_FAIL + 1 },
	/* crashed is not here: the agent restarts it, the wait goes on. */
};

/* The string member key of o, or "" when absent. */
static const char *
text_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static int
status_failed(const char *status)
{
	return strcmp(status, "failed") == 0 || strcmp(status, "crashed") == 0;
}

/* "<indent>name (type, visibility): url" for each endpoint address. */
static void
print_endpoints(json_t *dep, const char *indent)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(dep, "endpoints"), i, e) {
		fputs(indent, stdout);
		cli_out_clean(stdout, text_of(e, "name"), 256);
		printf(" (%s, %s): ", text_of(e, "type"), text_of(e, "visibility"));
		cli_out_clean(stdout, text_of(e, "url"), 1024);
		putchar('\n');
	}
}

/* The last max_lines lines of a log tail (every line when 0), each after prefix. */
static void
print_log(const char *log, size_t max_lines, const char *prefix)
{
	const char *p = log, *end = log + strlen(log);
	size_t lines = 0, skip;

	while (end > log && end[-1] == '\n')
		end--;
	for (const char *q = log; q < end; q++)
		lines += *q == '\n';
	lines += end > log;
	skip = max_lines > 0 && lines > max_lines ? lines - max_lines : 0;
	for (size_t n = 0; p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n >= skip) {
			fputs(prefix, stdout);
			cli_out_clean(stdout, p, len);
			putchar('\n');
		}
		p += len + 1;
	}
}

/* How the evidence lines look in each command's output. */
struct evidence_style {
	const char *indent;
	int width;           /* aligned "key:   value" like cli_out_fields; 0: "key: value" */
	const char *exit_code, *probe, *log_tail;   /* labels */
	size_t max_lines;    /* of the log tail; 0: all */
};

static const struct evidence_style style_status = { "", 0, "exit_code",
	"probe", "log_tail", 0 };
static const struct evidence_style style_wait = { "  ", 0, "exit code",
	"probe", "log tail", 0 };
static const struct evidence_style style_list = { "    ", 0, "exit code",
	"probe", "log tail", LIST_LOG_LINES };

static void
print_label(const struct evidence_style *st, const char *label)
{
	printf("%s%s:%*s", st->indent, label,
	    st->width > (int)strlen(label) ? st->width - (int)strlen(label) : 0, "");
}

/*
 * The evidence of a failed or crashed deployment: exit code, probe, log
 * tail. Nothing for other states.
 */
static void
print_evidence(json_t *dep, const struct evidence_style *st)
{
	json_t *code = json_object_get(dep, "exit_code");
	const char *log = text_of(dep, "log_tail"), *probe = text_of(dep, "probe");
	char prefix[32];

	if (!status_failed(text_of(dep, "status")))
		return;
	if (json_is_integer(code)) {
		print_label(st, st->exit_code);
		printf(" %" JSON_INTEGER_FORMAT "\n", json_integer_value(code));
	}
	if (probe[0] != '\0') {
		print_label(st, st->probe);
		putchar(' ');
		cli_out_clean(stdout, probe, strlen(probe));
		putchar('\n');
	}
	if (log[0] != '\0') {
		printf("%s%s:\n", st->indent, st->log_tail);
		snprintf(prefix, sizeof(prefix), "%s  | ", st->indent);
		print_log(log, st->max_lines, prefix);
	}
}

/* What a deployment shows beyond its fields: URLs when running, else evidence. */
static void
print_details(json_t *dep, const struct evidence_style *st)
{
	if (strcmp(text_of(dep, "status"), "running") == 0)
		print_endpoints(dep, st->indent);
	else
		print_evidence(dep, st);
}

/* Under each row of `deployments`: never the id, which scripts grep for. */
static void
print_row_details(json_t *dep)
{
	print_details(dep, &style_list);
}

/* `deploy status`: the fields, then the evidence or the endpoints block. */
static void
print_deployment(json_t *dep)
{
	struct evidence_style st = style_status;
	size_t i;

	for (i = 0; deployment_fields[i] != NULL; i++)
		if ((int)strlen(deployment_fields[i]) > st.width)
			st.width = (int)strlen(deployment_fields[i]);
	cli_out_fields(dep, deployment_fields);
	print_evidence(dep, &st);
	if (strcmp(text_of(dep, "status"), "running") == 0 &&
	    json_array_size(json_object_get(dep, "endpoints")) > 0) {
		printf("endpoints:\n");
		print_endpoints(dep, "  ");
	}
}

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
	const char *reason = text_of(r->json, "reason");

	if (ctx->quiet)
		return;   /* the id was printed; the exit status tells the end */
	if (ctx->json) {
		printf("%s\n", r->body);
	} else if (status_failed(status)) {
		printf("%s: %s: ", id, status);
		cli_out_clean(stdout, reason[0] ? reason : "(no reason given)",
		    strlen(reason[0] ? reason : "(no reason given)"));
		putchar('\n');
		print_details(r->json, &style_wait);
	} else {
		printf("%s: %s\n", id, status);
		print_details(r->json, &style_wait);
	}
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
	if (body != NULL && cli_args_has(a, "config-only")) {
		json_object_set_new(body, "config_only", json_true());
		n++;
	}
	if (body == NULL || n != 1) {
		fprintf(stderr, "error: usage: give exactly one of --tag, --image, --previous, --config-only\n");
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
		cli_out_table_rows(json_object_get(out, "deployments"),
		    deployment_cols, sizeof(deployment_cols) /
		    sizeof(deployment_cols[0]), print_row_details);
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
		print_deployment(out);
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
