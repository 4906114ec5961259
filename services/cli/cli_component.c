/*
 * cli_component.c: `slipway component create|list|show|update` against
 * component-svc, with the health check, resource and task options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ENDPOINTS_MAX (1024 * 1024)

static const struct cli_column component_cols[] = {
	{ "ID", "id" }, { "NAME", "name" }, { "TYPE", "type" },
	{ "IMAGE", "image" }, { "CREATED", "created_at" },
};

static const char *const component_fields[] = {
	"id", "org", "project", "name", "description", "type", "registry_id",
	"image", "port", "health", "resources", "schedule", "timezone",
	"concurrency_policy", "starting_deadline_s", "active_deadline_s",
	"created_at", NULL,
};

/*
 * Options that become top-level keys of the body: a web app's port, the
 * description and a task's settings. The server checks every value.
 */
static const struct {
	const char *opt, *key;
	int number;
} top_opts[] = {
	{ "description", "description", 0 }, { "port", "port", 1 },
	{ "schedule", "schedule", 0 }, { "timezone", "timezone", 0 },
	{ "concurrency", "concurrency_policy", 0 },
	{ "starting-deadline", "starting_deadline_s", 1 },
	{ "active-deadline", "active_deadline_s", 1 },
};

/*
 * Options that become keys of the "health" and "resources" objects. The
 * server checks the ranges and names the key in its error; here a number
 * only has to be a positive integer.
 */
enum workload_opt_kind { OPT_TEXT, OPT_NUMBER, OPT_FLAG };

static const struct {
	const char *opt, *object, *key;
	enum workload_opt_kind kind;
} workload_opts[] = {
	{ "health-path", "health", "path", OPT_TEXT },
	{ "health-timeout", "health", "timeout_s", OPT_NUMBER },
	{ "memory-mb", "resources", "memory_mb", OPT_NUMBER },
	{ "cpu-millicores", "resources", "cpu_millicores", OPT_NUMBER },
	{ "pids", "resources", "pids", OPT_NUMBER },
	{ "read-only-rootfs", "resources", "read_only_rootfs", OPT_FLAG },
};

#define WORKLOAD_NUMBER_MAX 2147483647L

static const struct cli_column endpoint_cols[] = {
	{ "ENDPOINT", "name" }, { "PORT", "port" }, { "TYPE", "type" },
	{ "VISIBILITY", "visibility" }, { "CONTEXT", "context" },
};

/* A whole file (at most ENDPOINTS_MAX bytes) as a JSON string; NULL (printed) on failure. */
static json_t *
read_text_file(const char *path)
{
	size_t n;
	char *buf = cli_file_read(path, ENDPOINTS_MAX, &n);
	json_t *s;

	if (buf == NULL)
		return NULL;
	s = json_stringn(buf, n);
	free(buf);
	if (s == NULL)
		fprintf(stderr, "error: usage: %s is not UTF-8 text\n", path);
	return s;
}

/* The value of one workload option, or NULL (printed) when malformed. */
static json_t *
workload_opt_value(const struct cli_args *a, size_t i)
{
	const char *opt = workload_opts[i].opt;
	json_t *v = NULL;
	long n;

	switch (workload_opts[i].kind) {
	case OPT_TEXT:
		v = json_string(cli_args_get(a, opt));
		break;
	case OPT_NUMBER:
		if ((n = cli_args_long(a, opt, 0, WORKLOAD_NUMBER_MAX)) > 0)
			v = json_integer(n);
		break;
	case OPT_FLAG:
		v = json_true();
		break;
	}
	if (v == NULL)
		fprintf(stderr, "error: usage: --%s must be %s\n", opt,
		    workload_opts[i].kind == OPT_NUMBER ? "a positive integer" :
		    "UTF-8 text");
	return v;
}

/* Adds "health" / "resources" to the body for the options given. */
static int
workload_body(const struct cli_args *a, json_t *body)
{
	json_t *obj, *v;
	size_t i;

	for (i = 0; i < sizeof(workload_opts) / sizeof(workload_opts[0]); i++) {
		if (!cli_args_has(a, workload_opts[i].opt))
			continue;
		if ((v = workload_opt_value(a, i)) == NULL)
			return -1;
		if ((obj = json_object_get(body, workload_opts[i].object)) == NULL) {
			obj = json_object();
			json_object_set_new(body, workload_opts[i].object, obj);
		}
		json_object_set_new(obj, workload_opts[i].key, v);
	}
	return 0;
}

/* Adds the top-level options given (see top_opts); -1 (printed) when malformed. */
static int
top_body(const struct cli_args *a, json_t *body)
{
	const char *opt;
	json_t *v;
	long n;

	for (size_t i = 0; i < sizeof(top_opts) / sizeof(top_opts[0]); i++) {
		opt = top_opts[i].opt;
		if (!cli_args_has(a, opt))
			continue;
		if (top_opts[i].number)
			v = (n = cli_args_long(a, opt, 0, WORKLOAD_NUMBER_MAX)) > 0 ?
			    json_integer(n) : NULL;
		else
			v = json_string(cli_args_get(a, opt));
		if (v == NULL) {
			fprintf(stderr, "error: usage: --%s must be %s\n", opt,
			    top_opts[i].number ? "a positive integer" : "UTF-8 text");
			return -1;
		}
		json_object_set_new(body, top_opts[i].key, v);
	}
	return 0;
}

/* Prints one component and its endpoints. */
static void
component_print(json_t *c)
{
	json_t *eps = json_object_get(c, "endpoints");

	cli_out_fields(c, component_fields);
	if (json_array_size(eps) > 0) {
		putchar('\n');
		cli_out_table(eps, endpoint_cols, sizeof(endpoint_cols) / sizeof(endpoint_cols[0]));
	}
}

/* Sends body (consumed) and prints the component the answer holds. */
static int
component_send(struct cli_ctx *ctx, const char *method, const char *path,
    json_t *body)
{
	json_t *out = NULL;
	int rc = cli_http_call(ctx, CLI_SVC_COMPONENT, method, path, body, &out);

	json_decref(body);
	if (rc == CLI_OK && !ctx->json)
		component_print(out);
	json_decref(out);
	return rc;
}

int
cli_component_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const required[] = { "name", "registry", "image" };
	const char *eps = cli_args_get(a, "endpoints"), *type = cli_args_get(a, "type");
	char path[512];
	json_t *body, *text;
	size_t i;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/projects/{}/components",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (cli_args_get(a, required[i]) == NULL) {
			fprintf(stderr, "error: usage: --%s is required\n", required[i]);
			return CLI_USAGE;
		}
	}
	body = json_pack("{s:s, s:s, s:s, s:s}", "name", cli_args_get(a, "name"),
	    "type", type ? type : "service", "registry_id", cli_args_get(a, "registry"),
	    "image", cli_args_get(a, "image"));
	if (body == NULL) {
		fprintf(stderr, "error: usage: arguments must be UTF-8 text\n");
		return CLI_USAGE;
	}
	if (eps != NULL) {
		if ((text = read_text_file(eps)) == NULL) {
			json_decref(body);
			return CLI_USAGE;
		}
		json_object_set_new(body, "endpoints", text);
	}
	if (workload_body(a, body) < 0 || top_body(a, body) < 0) {
		json_decref(body);
		return CLI_USAGE;
	}
	return component_send(ctx, "POST", path, body);
}

int
cli_component_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/projects/{}/components",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "components"), component_cols,
		    sizeof(component_cols) / sizeof(component_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_component_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		component_print(out);
	json_decref(out);
	return rc;
}

/*
 * The health / resources options given, merged into the stored objects: a
 * PATCH replaces each object whole, so an option changes only its own key.
 */
static int
update_workload_body(struct cli_ctx *ctx, const char *path,
    const struct cli_args *a, json_t *body)
{
	static const char *const objects[] = { "health", "resources" };
	json_t *given = json_object(), *cur = NULL, *merged, *stored;
	int rc = CLI_OK;

	if (workload_body(a, given) < 0) {
		json_decref(given);
		return CLI_USAGE;
	}
	if (json_object_size(given) > 0) {
		struct cli_ctx silent = *ctx;   /* only the PATCH's answer prints */

		silent.json = silent.quiet = 0;
		rc = cli_http_call(&silent, CLI_SVC_COMPONENT, "GET", path, NULL,
		    &cur);
	}
	for (size_t i = 0; rc == CLI_OK && i < 2; i++) {
		if (json_object_get(given, objects[i]) == NULL)
			continue;
		stored = json_object_get(cur, objects[i]);
		merged = json_is_object(stored) ? json_deep_copy(stored) :
		    json_object();
		json_object_update(merged, json_object_get(given, objects[i]));
		json_object_set_new(body, objects[i], merged);
	}
	json_decref(cur);
	json_decref(given);
	return rc;
}

/* PATCH: only the options given change; a new schedule needs no redeploy. */
int
cli_component_update(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *image = cli_args_get(a, "image");
	char path[512];
	json_t *body = json_object();
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}", a->pos[0]) < 0 ||
	    top_body(a, body) < 0 || (image != NULL && json_object_set_new(body,
	    "image", json_string(image)) < 0)) {
		fprintf(stderr, "error: usage: --image must be UTF-8 text\n");
		json_decref(body);
		return CLI_USAGE;
	}
	if ((rc = update_workload_body(ctx, path, a, body)) != CLI_OK) {
		json_decref(body);
		return rc;
	}
	if (json_object_size(body) == 0) {
		fprintf(stderr, "error: usage: give at least one option to change\n");
		json_decref(body);
		return CLI_USAGE;
	}
	return component_send(ctx, "PATCH", path, body);
}

/* DELETE: tokens revoked, containers and routes removed, history kept. */
int
cli_component_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "DELETE", path, NULL, NULL);
	if (rc == CLI_OK && !ctx->json)
		printf("component %s removed\n", a->pos[0]);
	return rc;
}
