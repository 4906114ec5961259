/*
 * comp_input.c: validation of a component create request: names, type,
 * image reference, endpoints.yaml, a web app's port, and the settings whose
 * rules are lib workload.h's, shared with deploy-svc and the agent: health
 * check, resources and a task's schedule, zone, policy and deadlines.
 * Nothing here touches the store; the registry check is comp_http.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "component.h"
#include "crypto.h"
#include "imageref.h"
#include "json.h"

#define COMP_NAME_MAX 63
#define COMP_DESC_MAX 500

/* [a-z0-9][a-z0-9-]{0,62}: org, project and component names. */
int
comp_input_slug_valid(const char *s)
{
	size_t i;

	if (s == NULL || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= COMP_NAME_MAX || !(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

static const char *const comp_types[] = { "service", "web-app",
	"scheduled-task", "manual-task", NULL };

/* 1 for scheduled-task and manual-task: runs to an end, never served. */
int
comp_input_is_task(const char *type)
{
	return strcmp(type, "scheduled-task") == 0 ||
	    strcmp(type, "manual-task") == 0;
}

static int
comp_input_type_valid(const char *t)
{
	size_t i;

	for (i = 0; comp_types[i] != NULL; i++)
		if (strcmp(comp_types[i], t) == 0)
			return 1;
	return 0;
}

static int
comp_input_fail(int *status, int code, struct error *err, const char *ecode,
    const char *field, const char *msg)
{
	*status = code;
	error_set(err, ecode, field, "%s", msg);
	return -1;
}

/* Required and optional strings, with their sizes. 400 on a bad shape. */
static int
comp_input_fields(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	static const char *const allowed[] = { "name", "description", "type",
		"registry_id", "image", "endpoints", "schedule", "timezone",
		"concurrency_policy", "starting_deadline_s", "active_deadline_s",
		"port", "health", "resources", NULL };

	*status = 400;
	if (json_only_keys(body, allowed, err) < 0)
		return -1;
	*status = 422;
	if ((in->name = json_get_string(body, "name", COMP_NAME_MAX, 1, err)) == NULL ||
	    (in->type = json_get_string(body, "type", 32, 1, err)) == NULL ||
	    (in->registry_id = json_get_string(body, "registry_id", 36, 1, err)) == NULL ||
	    (in->image_in = json_get_string(body, "image", IMAGE_REF_MAX, 1, err)) == NULL)
		return -1;
	error_clear(err);
	in->description = json_get_string(body, "description", COMP_DESC_MAX, 0, err);
	if (in->description == NULL && err->code[0] != '\0')
		return -1;
	return 0;
}

/* 1 when key is in the body with a value other than null. */
static int
comp_input_present(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);

	return v != NULL && !json_is_null(v);
}

/* The task fields of a body: forbidden for services and web apps. */
static const char *
comp_input_task_key(json_t *body)
{
	static const char *const keys[] = { "schedule", "timezone",
		"concurrency_policy", "starting_deadline_s", "active_deadline_s",
		NULL };

	for (size_t i = 0; keys[i] != NULL; i++)
		if (json_object_get(body, keys[i]) != NULL)
			return keys[i];
	return NULL;
}

/*
 * A task's settings (lib workload_task.c): only a scheduled task has a
 * schedule and zone, and it must have both.
 */
static int
comp_input_task(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	int scheduled = strcmp(in->type, "scheduled-task") == 0;
	const char *key = comp_input_task_key(body);

	if (!comp_input_is_task(in->type))
		return key == NULL ? 0 : comp_input_fail(status, 422, err,
		    "invalid_field", key, "schedule, timezone, concurrency_policy "
		    "and the deadlines are only for task components");
	workload_task_defaults(&in->task);
	if (workload_task_parse(body, &in->task, status, err) < 0)
		return -1;
	if (scheduled && (in->task.schedule[0] == '\0' ||
	    in->task.timezone[0] == '\0'))
		return comp_input_fail(status, 422, err, "missing_field",
		    in->task.schedule[0] == '\0' ? "schedule" : "timezone",
		    "a scheduled-task needs schedule (5-field cron) and timezone");
	if (!scheduled && (in->task.schedule[0] != '\0' ||
	    in->task.timezone[0] != '\0'))
		return comp_input_fail(status, 422, err, "invalid_field",
		    in->task.schedule[0] != '\0' ? "schedule" : "timezone",
		    "schedule and timezone are only for scheduled-task components");
	return 0;
}

/*
 * A web app is one HTTP server: "port" (default 8080) becomes its one
 * endpoint, routed Public at the component's root like a REST endpoint at
 * context "/", and health-checked with GET / unless health says otherwise.
 */
static int
comp_input_web_app(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	long long port = COMP_WEB_APP_PORT;
	struct endpoint *e = &in->endpoints.ep[0];

	if (strcmp(in->type, "web-app") != 0) {
		if (json_object_get(body, "port") == NULL)
			return 0;
		return comp_input_fail(status, 422, err, "invalid_field", "port",
		    "port is only for web-app components (a service's ports are "
		    "its endpoints)");
	}
	if (json_get_int(body, "port", 1, 65535, 0, &port, err) < 0) {
		*status = 422;
		return -1;
	}
	memset(&in->endpoints, 0, sizeof(in->endpoints));
	snprintf(in->endpoints.version, sizeof(in->endpoints.version), "0.1");
	in->endpoints.n = 1;
	snprintf(e->name, sizeof(e->name), "web");
	e->port = (unsigned)port;
	snprintf(e->type, sizeof(e->type), "REST");
	snprintf(e->visibility, sizeof(e->visibility), "Public");
	snprintf(e->context, sizeof(e->context), "/");
	return 0;
}

/* The type decides which of the task fields, endpoints and health may appear. */
static int
comp_input_by_type(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	json_t *ep = json_object_get(body, "endpoints");

	if (!comp_input_type_valid(in->type))
		return comp_input_fail(status, 422, err, "invalid_type", "type",
		    "type must be one of service, web-app, scheduled-task, manual-task");
	if (comp_input_task(body, in, status, err) < 0)
		return -1;
	if (ep != NULL && !json_is_null(ep) && strcmp(in->type, "service") != 0)
		return comp_input_fail(status, 422, err, "endpoints_not_allowed",
		    "endpoints", strcmp(in->type, "web-app") == 0 ?
		    "a web-app has one HTTP port (\"port\"), not endpoints" :
		    "only service components have endpoints");
	/* A task runs to its end: there is no "healthy" to wait for. */
	if (comp_input_present(body, "health") && comp_input_is_task(in->type))
		return comp_input_fail(status, 422, err, "health_not_allowed",
		    "health", "only service and web-app components have a health "
		    "check");
	return comp_input_web_app(body, in, status, err);
}

static int
comp_input_endpoints(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	json_t *ep = json_object_get(body, "endpoints");

	if (ep == NULL || json_is_null(ep))
		return 0;
	if (!json_is_string(ep))
		return comp_input_fail(status, 400, err, "invalid_field",
		    "endpoints", "endpoints must be the endpoints.yaml text");
	*status = json_string_length(ep) > ENDPOINTS_YAML_MAX ? 413 : 422;
	return endpoints_parse(json_string_value(ep), json_string_length(ep),
	    &in->endpoints, err);
}

/*
 * The probed port must be one the container listens on: with endpoints,
 * one of theirs. Without endpoints (a web app) any port is the caller's word.
 */
static int
comp_input_health_port(const struct comp_input *in, int *status,
    struct error *err)
{
	size_t i;

	if (in->health.port == 0 || in->endpoints.n == 0)
		return 0;
	for (i = 0; i < in->endpoints.n; i++)
		if (in->endpoints.ep[i].port == in->health.port)
			return 0;
	*status = 422;
	error_set(err, "invalid_health", "health.port", "health.port %u is not "
	    "the port of any endpoint (the first endpoint's is %u)",
	    in->health.port, in->endpoints.ep[0].port);
	return -1;
}

/* health and resources: absent or null leaves them unset. */
static int
comp_input_workload(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	if (comp_input_present(body, "health") &&
	    (workload_health_parse(json_object_get(body, "health"), &in->health,
	    status, err) < 0 || comp_input_health_port(in, status, err) < 0))
		return -1;
	if (comp_input_present(body, "resources") &&
	    workload_resources_parse(json_object_get(body, "resources"),
	    &in->resources, status, err) < 0)
		return -1;
	return 0;
}

static int
comp_input_image(struct comp_input *in, int *status, struct error *err)
{
	struct image_ref ref;

	*status = 422;
	if (image_ref_parse(in->image_in, &ref, err) < 0) {
		snprintf(err->field, sizeof(err->field), "image");
		return -1;
	}
	if (image_ref_format(&ref, in->image, sizeof(in->image)) < 0)
		return comp_input_fail(status, 422, err, "invalid_image", "image",
		    "image reference is too long");
	snprintf(in->repository, sizeof(in->repository), "%s/%s", ref.domain,
	    ref.path);
	snprintf(in->registry_host, sizeof(in->registry_host), "%s", ref.domain);
	return 0;
}

int
comp_input_parse(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	error_clear(err);
	if (comp_input_fields(body, in, status, err) < 0)
		return -1;
	if (!comp_input_slug_valid(in->name))
		return comp_input_fail(status, 422, err, "invalid_name", "name",
		    "name must be 1-63 lower-case letters, digits or '-', "
		    "starting with a letter or digit");
	if (!crypto_uuid_valid(in->registry_id))
		return comp_input_fail(status, 422, err, "unknown_registry",
		    "registry_id", "registry_id must be the id of a registry");
	if (comp_input_by_type(body, in, status, err) < 0 ||
	    comp_input_endpoints(body, in, status, err) < 0 ||
	    comp_input_workload(body, in, status, err) < 0)
		return -1;
	return comp_input_image(in, status, err);
}

/* One stored endpoint back into e; -1 when the row does not read back. */
static int
comp_input_endpoint_from_json(json_t *o, struct endpoint *e)
{
	json_t *port = json_object_get(o, "port");

	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535 ||
	    json_copy_string(o, "name", e->name, sizeof(e->name)) < 0 ||
	    json_copy_string(o, "type", e->type, sizeof(e->type)) < 0 ||
	    json_copy_string(o, "visibility", e->visibility,
	    sizeof(e->visibility)) < 0 ||
	    json_copy_string(o, "context", e->context, sizeof(e->context)) < 0 ||
	    json_copy_string(o, "schema_file_path", e->schema_file_path,
	    sizeof(e->schema_file_path)) < 0)
		return -1;
	e->port = (unsigned)json_integer_value(port);
	return 0;
}

/* A stored health / resources column (null: none) through the API parser. */
static int
comp_input_stored_object(json_t *row, const char *key,
    int (*parse)(json_t *, void *, int *, struct error *), void *out,
    struct error *err)
{
	json_t *v = json_object_get(row, key);
	int status;

	return v == NULL || json_is_null(v) ? 0 : parse(v, out, &status, err);
}

static int
comp_input_health_parse(json_t *v, void *out, int *status, struct error *err)
{
	return workload_health_parse(v, out, status, err);
}

static int
comp_input_resources_parse(json_t *v, void *out, int *status,
    struct error *err)
{
	return workload_resources_parse(v, out, status, err);
}

/* The stored task settings: the row's non-null task keys, parsed as given. */
static int
comp_input_stored_task(json_t *row, struct comp_input *in, struct error *err)
{
	static const char *const keys[] = { "schedule", "timezone",
		"concurrency_policy", "starting_deadline_s", "active_deadline_s",
		NULL };
	json_t *t, *v;
	int status, rc;

	if (!comp_input_is_task(in->type))
		return 0;
	t = json_object();
	for (size_t i = 0; keys[i] != NULL; i++)
		if ((v = json_object_get(row, keys[i])) != NULL && !json_is_null(v))
			json_object_set(t, keys[i], v);
	workload_task_defaults(&in->task);
	rc = workload_task_parse(t, &in->task, &status, err);
	json_decref(t);
	return rc;
}

int
comp_input_from_row(json_t *row, struct comp_input *in, struct error *err)
{
	json_t *eps = json_object_get(row, "endpoints"), *e;
	size_t i;

	memset(in, 0, sizeof(*in));
	in->org = json_string_value(json_object_get(row, "org"));
	in->project = json_string_value(json_object_get(row, "project"));
	in->name = json_string_value(json_object_get(row, "name"));
	in->description = json_string_value(json_object_get(row, "description"));
	in->type = json_string_value(json_object_get(row, "type"));
	in->registry_id = json_string_value(json_object_get(row, "registry_id"));
	if (in->org == NULL || in->project == NULL || in->name == NULL ||
	    in->type == NULL || in->registry_id == NULL ||
	    json_copy_string(row, "image", in->image, sizeof(in->image)) < 0 ||
	    json_copy_string(row, "registry_host", in->registry_host,
	    sizeof(in->registry_host)) < 0 || json_array_size(eps) > ENDPOINTS_MAX)
		goto bad;
	in->image_in = in->image;
	json_array_foreach(eps, i, e)
		if (comp_input_endpoint_from_json(e, &in->endpoints.ep[i]) < 0)
			goto bad;
	in->endpoints.n = json_array_size(eps);
	if (comp_input_stored_object(row, "health", comp_input_health_parse,
	    &in->health, err) < 0 ||
	    comp_input_stored_object(row, "resources", comp_input_resources_parse,
	    &in->resources, err) < 0 || comp_input_stored_task(row, in, err) < 0)
		goto bad;
	return 0;
bad:
	error_set(err, "db_error", "", "component row does not read back");
	return -1;
}

/* A PATCH's "image": another reference on the component's registry host. */
static int
comp_input_patch_image(json_t *body, struct comp_input *next,
    const struct comp_input *cur, int *status, struct error *err)
{
	if (json_object_get(body, "image") == NULL)
		return 0;
	*status = 422;
	error_clear(err);
	if ((next->image_in = json_get_string(body, "image", IMAGE_REF_MAX, 1,
	    err)) == NULL || comp_input_image(next, status, err) < 0)
		return -1;
	if (!image_ref_host_equal(next->registry_host, cur->registry_host)) {
		*status = 422;
		error_set(err, "image_registry_mismatch", "image", "the image is on "
		    "%s but the component's registry is %s", next->registry_host,
		    cur->registry_host);
		return -1;
	}
	/* The stored host stays the registry's canonical spelling. */
	snprintf(next->registry_host, sizeof(next->registry_host), "%s",
	    cur->registry_host);
	return 0;
}

/*
 * A PATCH's "health" and "resources" replace the stored objects whole
 * (null removes them: the defaults apply); "port" is a web app's one
 * endpoint. The health port is checked against the endpoints that result.
 */
static int
comp_input_patch_workload(json_t *body, struct comp_input *next, int *status,
    struct error *err)
{
	if (json_object_get(body, "port") != NULL &&
	    comp_input_web_app(body, next, status, err) < 0)
		return -1;
	if (json_object_get(body, "health") != NULL) {
		if (comp_input_present(body, "health") &&
		    comp_input_is_task(next->type))
			return comp_input_fail(status, 422, err,
			    "health_not_allowed", "health", "only service and "
			    "web-app components have a health check");
		memset(&next->health, 0, sizeof(next->health));
	}
	if (json_object_get(body, "resources") != NULL)
		memset(&next->resources, 0, sizeof(next->resources));
	if (comp_input_workload(body, next, status, err) < 0)
		return -1;
	return comp_input_health_port(next, status, err);
}

/* A PATCH's task settings, on a task only. */
static int
comp_input_patch_task(json_t *body, struct comp_input *next, int *status,
    struct error *err)
{
	const char *key = comp_input_task_key(body);
	struct workload_task *t = &next->task;

	if (key != NULL && !comp_input_is_task(next->type))
		return comp_input_fail(status, 422, err, "invalid_field", key,
		    "schedule, timezone, concurrency_policy and the deadlines are "
		    "only for task components");
	if (key != NULL && workload_task_parse(body, t, status, err) < 0)
		return -1;
	if (strcmp(next->type, "manual-task") == 0 &&
	    (t->schedule[0] != '\0' || t->timezone[0] != '\0'))
		return comp_input_fail(status, 422, err, "invalid_field",
		    t->schedule[0] != '\0' ? "schedule" : "timezone",
		    "schedule and timezone are only for scheduled-task components");
	return 0;
}

/* Everything is checked on a copy: in changes only when all of it passes. */
int
comp_input_patch(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	static const char *const allowed[] = { "description", "image", "health",
		"resources", "port", "schedule", "timezone", "concurrency_policy",
		"starting_deadline_s", "active_deadline_s", NULL };
	struct comp_input *next;
	const char *desc;
	int rc = -1;

	error_clear(err);
	*status = 400;
	if (!json_is_object(body) || json_only_keys(body, allowed, err) < 0)
		return -1;
	desc = json_get_string(body, "description", COMP_DESC_MAX, 0, err);
	if (desc == NULL && err->code[0] != '\0')
		return -1;
	if ((next = malloc(sizeof(*next))) == NULL)
		return comp_input_fail(status, 500, err, "internal", "",
		    "out of memory");
	*next = *in;
	if (comp_input_patch_image(body, next, in, status, err) == 0 &&
	    comp_input_patch_workload(body, next, status, err) == 0 &&
	    comp_input_patch_task(body, next, status, err) == 0) {
		if (desc != NULL)
			next->description = desc;
		*in = *next;
		rc = 0;
	}
	free(next);
	return rc;
}

int
comp_input_set_endpoints(struct comp_input *in, const struct endpoints *eps,
    int *status, struct error *err)
{
	struct endpoints old = in->endpoints;

	error_clear(err);
	if (strcmp(in->type, "service") != 0)
		return comp_input_fail(status, 422, err, "endpoints_not_allowed",
		    "endpoints", strcmp(in->type, "web-app") == 0 ?
		    "a web-app keeps its one generated \"web\" endpoint (change "
		    "its port with PATCH); only services have endpoints.yaml" :
		    "a task has no endpoints; only services have endpoints.yaml");
	in->endpoints = *eps;
	if (comp_input_health_port(in, status, err) < 0) {
		in->endpoints = old;
		return -1;
	}
	return 0;
}
