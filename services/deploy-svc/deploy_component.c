/*
 * deploy_component.c: deploy-svc's local copy of a component. It is checked
 * as it arrives from slipway.component.events (every size capped, every
 * string UTF-8, the endpoint vocabulary and the health / resources ranges
 * of lib workload.h, so a bad event goes to the dead-letter topic instead
 * of half into Postgres), kept in deploy.components with its endpoints,
 * health, resources and (tasks) task settings as jsonb, and put into every
 * ApplyDeployment.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "json.h"

/* One string member of Component and where it goes. */
struct deploy_component_text {
	const char *what;
	size_t src;        /* char * in Slipway__V1__Component */
	size_t dst;        /* char[] in struct deploy_component */
	size_t size;       /* of dst, the NUL included */
	int required;
};

#define DEPLOY_COMPONENT_TEXT(f, req) { #f, \
	offsetof(Slipway__V1__Component, f), offsetof(struct deploy_component, f), \
	sizeof(((struct deploy_component *)0)->f), req }

static const struct deploy_component_text deploy_component_texts[] = {
	DEPLOY_COMPONENT_TEXT(org, 1),
	DEPLOY_COMPONENT_TEXT(project, 0),
	DEPLOY_COMPONENT_TEXT(name, 1),
	DEPLOY_COMPONENT_TEXT(type, 1),
	DEPLOY_COMPONENT_TEXT(registry_id, 0),
	DEPLOY_COMPONENT_TEXT(registry_host, 0),
	DEPLOY_COMPONENT_TEXT(image, 0),
};

/* A message no retry can fix (deploy_consume.c sends it to the DLQ). */
static int
deploy_component_bad(struct error *err, const char *what, size_t i)
{
	if (i == (size_t)-1)
		error_set(err, "bad_message", "", "component %s invalid", what);
	else
		error_set(err, "bad_message", "", "component endpoint %zu: %s "
		    "invalid", i, what);
	return -1;
}

/* UTF-8 that fits a buffer of size bytes (and is not empty, if required). */
static int
deploy_component_text_ok(const char *s, size_t size, int required)
{
	return s != NULL && (!required || s[0] != '\0') &&
	    json_utf8_valid(s, size - 1);
}

static int
deploy_component_texts_from_proto(const Slipway__V1__Component *c,
    struct deploy_component *out, struct error *err)
{
	const struct deploy_component_text *t;
	const char *s;

	for (size_t i = 0; i < sizeof(deploy_component_texts) /
	    sizeof(deploy_component_texts[0]); i++) {
		t = &deploy_component_texts[i];
		s = *(char *const *)(const void *)((const char *)c + t->src);
		if (!deploy_component_text_ok(s, t->size, t->required))
			return deploy_component_bad(err, t->what, (size_t)-1);
		snprintf((char *)out + t->dst, t->size, "%s", s);
	}
	return 0;
}

/* One endpoint: the vocabulary and sizes component-svc enforces. */
static int
deploy_component_endpoint(const Slipway__V1__Endpoint *e, size_t i,
    struct deploy_endpoint *out, struct error *err)
{
	if (e == NULL || !deploy_component_text_ok(e->name, sizeof(out->name), 1))
		return deploy_component_bad(err, "name", i);
	if (e->port < 1 || e->port > 65535)
		return deploy_component_bad(err, "port", i);
	if (workload_choice(workload_endpoint_types, e->type) < 0)
		return deploy_component_bad(err, "type", i);
	if (workload_choice(workload_visibilities, e->visibility) < 0)
		return deploy_component_bad(err, "visibility", i);
	if (!deploy_component_text_ok(e->context, sizeof(out->context), 0) ||
	    !deploy_component_text_ok(e->schema_file_path,
	    sizeof(out->schema_file_path), 0))
		return deploy_component_bad(err, "context or schema_file_path", i);
	snprintf(out->name, sizeof(out->name), "%s", e->name);
	out->port = e->port;
	snprintf(out->type, sizeof(out->type), "%s", e->type);
	snprintf(out->visibility, sizeof(out->visibility), "%s", e->visibility);
	snprintf(out->context, sizeof(out->context), "%s", e->context);
	snprintf(out->schema_file_path, sizeof(out->schema_file_path), "%s",
	    e->schema_file_path);
	return 0;
}

/* port and endpoint_type: the first endpoint's, as ApplyDeployment always had. */
static void
deploy_component_first(struct deploy_component *c)
{
	c->port = c->n_endpoints > 0 ? (int)c->endpoints[0].port : 0;
	snprintf(c->endpoint_type, sizeof(c->endpoint_type), "%s",
	    c->n_endpoints > 0 ? c->endpoints[0].type : "");
}

int
deploy_component_endpoints_from_proto(Slipway__V1__Endpoint *const *eps,
    size_t n, struct deploy_component *out, struct error *err)
{
	if (n > WORKLOAD_ENDPOINTS_MAX) {
		error_set(err, "bad_message", "", "component with %zu endpoints "
		    "(at most %d)", n, WORKLOAD_ENDPOINTS_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (deploy_component_endpoint(eps[i], i, &out->endpoints[i],
		    err) < 0)
			return -1;
	out->n_endpoints = n;
	deploy_component_first(out);
	return 0;
}

int
deploy_component_is_task(const struct deploy_component *c)
{
	return strcmp(c->type, "scheduled-task") == 0 ||
	    strcmp(c->type, "manual-task") == 0;
}

/*
 * A task's settings (lib workload_task.c checks them). A task whose event
 * has none (a component-svc from before TaskSettings) gets the defaults,
 * with the schedule and zone of Component's older fields 10 and 11 when it
 * has them, checked the same way. Other types have no task settings.
 */
static int
deploy_component_task_from_proto(const Slipway__V1__Component *c,
    struct deploy_component *out, struct error *err)
{
	Slipway__V1__TaskSettings legacy;

	memset(&out->task, 0, sizeof(out->task));
	if (!deploy_component_is_task(out))
		return 0;
	if (c->task != NULL)
		return workload_task_from_proto(c->task, &out->task, err);
	slipway__v1__task_settings__init(&legacy);
	legacy.schedule = c->schedule;
	legacy.timezone = c->timezone;
	return workload_task_from_proto(&legacy, &out->task, err);
}

int
deploy_component_from_proto(const Slipway__V1__Component *c,
    struct deploy_component *out, struct error *err)
{
	struct error werr;

	memset(out, 0, sizeof(*out));
	if (c == NULL || !crypto_uuid_valid(c->component_id))
		return deploy_component_bad(err, "id", (size_t)-1);
	snprintf(out->id, sizeof(out->id), "%s", c->component_id);
	if (deploy_component_texts_from_proto(c, out, err) < 0 ||
	    deploy_component_endpoints_from_proto(c->endpoints, c->n_endpoints,
	    out, err) < 0)
		return -1;
	if (workload_health_from_proto(c->health, &out->health, &werr) < 0 ||
	    workload_resources_from_proto(c->resources, &out->resources,
	    &werr) < 0 || deploy_component_task_from_proto(c, out, &werr) < 0) {
		error_set(err, "bad_message", "", "component %s", werr.msg);
		return -1;
	}
	return 0;
}

json_t *
deploy_component_endpoints_json(const struct deploy_component *c)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < c->n_endpoints; i++) {
		const struct deploy_endpoint *e = &c->endpoints[i];
		json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}",
		    "name", e->name, "port", (int)e->port, "type", e->type,
		    "visibility", e->visibility, "context", e->context,
		    "schema_file_path", e->schema_file_path));
	}
	return arr;
}

/* Our own writes, read back defensively all the same. */
static int
deploy_component_stored_endpoint(json_t *o, struct deploy_endpoint *e)
{
	json_int_t port = json_integer_value(json_object_get(o, "port"));

	if (port < 1 || port > 65535 ||
	    json_copy_string(o, "name", e->name, sizeof(e->name)) < 0 ||
	    json_copy_string(o, "type", e->type, sizeof(e->type)) < 0 ||
	    json_copy_string(o, "visibility", e->visibility,
	    sizeof(e->visibility)) < 0 ||
	    json_copy_string(o, "context", e->context,
	    sizeof(e->context)) < 0 ||
	    json_copy_string(o, "schema_file_path",
	    e->schema_file_path, sizeof(e->schema_file_path)) < 0)
		return -1;
	e->port = (unsigned)port;
	return 0;
}

static int
deploy_component_stored_endpoints(const char *text, struct deploy_component *c)
{
	json_t *arr = json_loads(text, 0, NULL), *o;
	size_t i;
	int rc = json_is_array(arr) &&
	    json_array_size(arr) <= WORKLOAD_ENDPOINTS_MAX ? 0 : -1;

	json_array_foreach(arr, i, o) {
		if (rc == 0)
			rc = deploy_component_stored_endpoint(o, &c->endpoints[i]);
	}
	c->n_endpoints = rc == 0 ? json_array_size(arr) : 0;
	json_decref(arr);
	return rc;
}

/* A stored health / resources column (NULL: none) through lib workload.c. */
static int
deploy_component_stored_workload(const char *text, void *out,
    int (*parse)(json_t *, void *, int *, struct error *))
{
	struct error werr;
	json_t *o;
	int status, rc;

	if (text == NULL)
		return 0;
	o = json_loads(text, 0, NULL);
	rc = o != NULL ? parse(o, out, &status, &werr) : -1;
	json_decref(o);
	return rc;
}

static int
deploy_component_health_parse(json_t *o, void *out, int *status,
    struct error *err)
{
	return workload_health_parse(o, out, status, err);
}

static int
deploy_component_resources_parse(json_t *o, void *out, int *status,
    struct error *err)
{
	return workload_resources_parse(o, out, status, err);
}

int
deploy_component_columns_parse(const char *endpoints, const char *health,
    const char *resources, struct deploy_component *c, struct error *err)
{
	if (deploy_component_stored_endpoints(endpoints, c) < 0 ||
	    deploy_component_stored_workload(health, &c->health,
	    deploy_component_health_parse) < 0 ||
	    deploy_component_stored_workload(resources, &c->resources,
	    deploy_component_resources_parse) < 0) {
		error_set(err, "db_error", "", "stored component %s unreadable",
		    c->id);
		return -1;
	}
	/* Rows from before migration 002 have no endpoints list: keep their columns. */
	if (c->n_endpoints > 0)
		deploy_component_first(c);
	return 0;
}

static int
deploy_component_task_json_parse(json_t *o, void *out, int *status,
    struct error *err)
{
	/* Our own writes hold every field; anything missing keeps its default. */
	return json_is_object(o) ? workload_task_parse(o, out, status, err) : -1;
}

int
deploy_component_task_parse(const char *task, struct deploy_component *c,
    struct error *err)
{
	memset(&c->task, 0, sizeof(c->task));
	if (!deploy_component_is_task(c))
		return 0;
	/* Rows from before migration 004 (NULL) run with the defaults. */
	workload_task_defaults(&c->task);
	if (deploy_component_stored_workload(task, &c->task,
	    deploy_component_task_json_parse) < 0) {
		error_set(err, "db_error", "", "stored task settings of %s "
		    "unreadable", c->id);
		return -1;
	}
	return 0;
}

static void
deploy_component_endpoints_to_apply(const struct deploy_component *c,
    struct deploy_component_proto *p, Slipway__V1__ApplyDeployment *ad)
{
	for (size_t i = 0; i < c->n_endpoints; i++) {
		const struct deploy_endpoint *e = &c->endpoints[i];
		slipway__v1__endpoint__init(&p->ep[i]);
		p->ep[i].name = DEPLOY_STR(e->name);
		p->ep[i].port = e->port;
		p->ep[i].type = DEPLOY_STR(e->type);
		p->ep[i].visibility = DEPLOY_STR(e->visibility);
		p->ep[i].context = DEPLOY_STR(e->context);
		p->ep[i].schema_file_path = DEPLOY_STR(e->schema_file_path);
		p->epp[i] = &p->ep[i];
	}
	ad->n_endpoints = c->n_endpoints;
	ad->endpoints = c->n_endpoints > 0 ? p->epp : NULL;
}

void
deploy_component_to_apply(const struct deploy_component *c,
    struct deploy_component_proto *p, Slipway__V1__ApplyDeployment *ad)
{
	ad->component_id = DEPLOY_STR(c->id);
	ad->component_name = DEPLOY_STR(c->name);
	ad->component_type = DEPLOY_STR(c->type);
	ad->org = DEPLOY_STR(c->org);
	ad->project = DEPLOY_STR(c->project);
	ad->registry_id = DEPLOY_STR(c->registry_id);
	ad->registry_host = DEPLOY_STR(c->registry_host);
	deploy_component_endpoints_to_apply(c, p, ad);
	ad->health = workload_health_to_proto(&c->health, &p->health);
	ad->resources = workload_resources_to_proto(&c->resources, &p->resources);
	/* Set for the two task types only: the agent pins, and starts nothing. */
	ad->task = workload_task_to_proto(&c->task, &p->task);
	/* For agents that predate the endpoints list: the first one, and PORT. */
	ad->port = c->port > 0 ? (uint32_t)c->port : 0;
	ad->endpoint_type = DEPLOY_STR(c->endpoint_type);
	slipway__v1__env_var__init(&p->port_var);
	if (c->port > 0) {
		snprintf(p->port, sizeof(p->port), "%d", c->port);
		p->port_var.name = DEPLOY_STR("PORT");
		p->port_var.value = p->port;
		p->vars[0] = &p->port_var;
		ad->n_env = 1;
		ad->env = p->vars;
	}
}
