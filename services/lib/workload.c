/*
 * workload.c: the health check and resource limits of a component, and the
 * endpoint vocabulary (workload.h). Each of the two objects is one table of
 * fields {key, kind, range, member, proto member}; a single parser, JSON
 * writer and proto mapping walk the table, so a new limit is one row.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

const char *const workload_endpoint_types[] = { "REST", "GraphQL", "GRPC",
	"TCP", "UDP", "WS", NULL };
const char *const workload_visibilities[] = { "Public", "Organization",
	"Project", NULL };

int
workload_choice(const char *const *list, const char *s)
{
	for (int i = 0; s != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

enum workload_kind {
	WORKLOAD_UINT,   /* unsigned member, uint32 in the proto; 0 = not given */
	WORKLOAD_BOOL,   /* int member, bool in the proto; false = not given */
	WORKLOAD_PATH,   /* char[WORKLOAD_PATH_MAX + 1], string in the proto */
};

struct workload_field {
	const char *key;
	enum workload_kind kind;
	unsigned min, max;     /* WORKLOAD_UINT only */
	size_t off;            /* member in struct workload_health / _resources */
	size_t proto_off;      /* member in the proto message */
};

struct workload_spec {
	const char *name;      /* the JSON key, and the prefix of error fields */
	const char *code;      /* error code of a bad value */
	const struct workload_field *fields;
	size_t n;
	size_t size, set_off, given_off;
};

#define HEALTH_FIELD(k, kind, lo, hi) { #k, kind, lo, hi, \
	offsetof(struct workload_health, k), offsetof(Slipway__V1__HealthCheck, k) }
#define RESOURCES_FIELD(k, kind, lo, hi) { #k, kind, lo, hi, \
	offsetof(struct workload_resources, k), offsetof(Slipway__V1__Resources, k) }

static const struct workload_field health_fields[] = {
	HEALTH_FIELD(path, WORKLOAD_PATH, 0, 0),
	HEALTH_FIELD(port, WORKLOAD_UINT, 1, 65535),
	HEALTH_FIELD(timeout_s, WORKLOAD_UINT, 1, 600),
	HEALTH_FIELD(period_s, WORKLOAD_UINT, 1, 60),
	HEALTH_FIELD(success_threshold, WORKLOAD_UINT, 1, 10),
};

static const struct workload_field resources_fields[] = {
	RESOURCES_FIELD(memory_mb, WORKLOAD_UINT, 16, 65536),
	RESOURCES_FIELD(cpu_millicores, WORKLOAD_UINT, 10, 64000),
	RESOURCES_FIELD(pids, WORKLOAD_UINT, 16, 32768),
	RESOURCES_FIELD(read_only_rootfs, WORKLOAD_BOOL, 0, 0),
};

static const struct workload_spec health_spec = {
	"health", "invalid_health", health_fields,
	sizeof(health_fields) / sizeof(health_fields[0]),
	sizeof(struct workload_health), offsetof(struct workload_health, set),
	offsetof(struct workload_health, given),
};

static const struct workload_spec resources_spec = {
	"resources", "invalid_resources", resources_fields,
	sizeof(resources_fields) / sizeof(resources_fields[0]),
	sizeof(struct workload_resources),
	offsetof(struct workload_resources, set),
	offsetof(struct workload_resources, given),
};

/* Members reached through the table's offsets. */
static void *
workload_at(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *
workload_at_const(const void *base, size_t off)
{
	return (const char *)base + off;
}

int
workload_path_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] != '/')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= WORKLOAD_PATH_MAX || s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

/* "an integer between 1 and 600": what a valid value of f looks like. */
static void
workload_describe(const struct workload_field *f, char *buf, size_t len)
{
	switch (f->kind) {
	case WORKLOAD_UINT:
		snprintf(buf, len, "an integer between %u and %u", f->min, f->max);
		break;
	case WORKLOAD_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case WORKLOAD_PATH:
		snprintf(buf, len, "a path starting with '/' of at most %d "
		    "printable ASCII characters without spaces", WORKLOAD_PATH_MAX);
		break;
	}
}

/* Fails with "<name>.<key> must be <description>" and the given status. */
static int
workload_bad_value(const struct workload_spec *sp,
    const struct workload_field *f, int code, int *status, struct error *err)
{
	char field[48], what[128];

	snprintf(field, sizeof(field), "%s.%s", sp->name, f->key);
	workload_describe(f, what, sizeof(what));
	*status = code;
	error_set(err, sp->code, field, "%s must be %s", field, what);
	return -1;
}

/* Stores one JSON value; a wrong JSON type is 400, a bad value 422. */
static int
workload_parse_value(const struct workload_spec *sp,
    const struct workload_field *f, json_t *v, void *base, int *status,
    struct error *err)
{
	json_int_t n;

	switch (f->kind) {
	case WORKLOAD_UINT:
		if (!json_is_integer(v))
			return workload_bad_value(sp, f, 400, status, err);
		n = json_integer_value(v);
		if (n < (json_int_t)f->min || n > (json_int_t)f->max)
			return workload_bad_value(sp, f, 422, status, err);
		*(unsigned *)workload_at(base, f->off) = (unsigned)n;
		return 0;
	case WORKLOAD_BOOL:
		if (!json_is_boolean(v))
			return workload_bad_value(sp, f, 400, status, err);
		*(int *)workload_at(base, f->off) = json_is_true(v);
		return 0;
	case WORKLOAD_PATH:
		if (!json_is_string(v))
			return workload_bad_value(sp, f, 400, status, err);
		/* An embedded NUL would make C see another path than JSON. */
		if (strlen(json_string_value(v)) != json_string_length(v) ||
		    !workload_path_valid(json_string_value(v)))
			return workload_bad_value(sp, f, 422, status, err);
		snprintf(workload_at(base, f->off), WORKLOAD_PATH_MAX + 1, "%s",
		    json_string_value(v));
		return 0;
	}
	return workload_bad_value(sp, f, 400, status, err);
}

/* A key that is not in the table: 400, so a typo never silently does nothing. */
static int
workload_unknown_key(const struct workload_spec *sp, json_t *obj,
    int *status, struct error *err)
{
	char field[48], keys[128] = "";
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		(void)v;
		for (i = 0; i < sp->n && strcmp(key, sp->fields[i].key) != 0; i++)
			;
		if (i < sp->n)
			continue;
		for (i = 0; i < sp->n; i++)
			snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys),
			    "%s%s", i > 0 ? ", " : "", sp->fields[i].key);
		snprintf(field, sizeof(field), "%s.%.32s", sp->name, key);
		*status = 400;
		error_set(err, "unknown_field", field, "unknown field \"%s\" "
		    "(%s takes %s)", field, sp->name, keys);
		return -1;
	}
	return 0;
}

static int
workload_parse(const struct workload_spec *sp, json_t *obj, void *base,
    int *status, struct error *err)
{
	unsigned *given = workload_at(base, sp->given_off);
	json_t *v;
	size_t i;

	memset(base, 0, sp->size);
	if (!json_is_object(obj)) {
		*status = 400;
		error_set(err, sp->code, sp->name, "%s must be a JSON object",
		    sp->name);
		return -1;
	}
	if (workload_unknown_key(sp, obj, status, err) < 0)
		return -1;
	/* In table order, so the first error reported does not depend on hashing. */
	for (i = 0; i < sp->n; i++) {
		v = json_object_get(obj, sp->fields[i].key);
		if (v == NULL || json_is_null(v))
			continue;
		if (workload_parse_value(sp, &sp->fields[i], v, base, status,
		    err) < 0)
			return -1;
		*given |= 1u << i;
	}
	*(int *)workload_at(base, sp->set_off) = 1;
	return 0;
}

static json_t *
workload_json(const struct workload_spec *sp, const void *base)
{
	unsigned given = *(const unsigned *)workload_at_const(base, sp->given_off);
	const struct workload_field *f;
	json_t *o;

	if (!*(const int *)workload_at_const(base, sp->set_off))
		return json_null();
	o = json_object();
	for (size_t i = 0; o != NULL && i < sp->n; i++) {
		f = &sp->fields[i];
		if (!(given & (1u << i)))
			continue;
		if (f->kind == WORKLOAD_UINT)
			json_object_set_new(o, f->key, json_integer(
			    *(const unsigned *)workload_at_const(base, f->off)));
		else if (f->kind == WORKLOAD_BOOL)
			json_object_set_new(o, f->key, json_boolean(
			    *(const int *)workload_at_const(base, f->off)));
		else
			json_object_set_new(o, f->key, json_string(
			    workload_at_const(base, f->off)));
	}
	return o;
}

/* One proto value into base; 0 when absent or stored, -1 when out of range. */
static int
workload_from_proto_value(const struct workload_spec *sp,
    const struct workload_field *f, const void *msg, void *base,
    unsigned bit, struct error *err)
{
	unsigned *given = workload_at(base, sp->given_off);
	const char *s;
	uint32_t n;
	int status;

	switch (f->kind) {
	case WORKLOAD_UINT:
		if ((n = *(const uint32_t *)workload_at_const(msg, f->proto_off)) == 0)
			return 0;
		if (n < f->min || n > f->max)
			return workload_bad_value(sp, f, 422, &status, err);
		*(unsigned *)workload_at(base, f->off) = n;
		break;
	case WORKLOAD_BOOL:
		if (!*(const protobuf_c_boolean *)workload_at_const(msg, f->proto_off))
			return 0;
		*(int *)workload_at(base, f->off) = 1;
		break;
	case WORKLOAD_PATH:
		s = *(char *const *)workload_at_const(msg, f->proto_off);
		if (s == NULL || s[0] == '\0')
			return 0;
		if (!workload_path_valid(s))
			return workload_bad_value(sp, f, 422, &status, err);
		snprintf(workload_at(base, f->off), WORKLOAD_PATH_MAX + 1, "%s", s);
		break;
	}
	*given |= bit;
	return 0;
}

static int
workload_from_proto(const struct workload_spec *sp, const void *msg,
    void *base, struct error *err)
{
	memset(base, 0, sp->size);
	if (msg == NULL)
		return 0;
	for (size_t i = 0; i < sp->n; i++)
		if (workload_from_proto_value(sp, &sp->fields[i], msg, base,
		    1u << i, err) < 0)
			return -1;
	*(int *)workload_at(base, sp->set_off) = 1;
	return 0;
}

/* Copies base's values into an initialised message; strings are borrowed. */
static void
workload_to_proto(const struct workload_spec *sp, const void *base, void *msg)
{
	const struct workload_field *f;

	for (size_t i = 0; i < sp->n; i++) {
		f = &sp->fields[i];
		if (f->kind == WORKLOAD_UINT)
			*(uint32_t *)workload_at(msg, f->proto_off) =
			    *(const unsigned *)workload_at_const(base, f->off);
		else if (f->kind == WORKLOAD_BOOL)
			*(protobuf_c_boolean *)workload_at(msg, f->proto_off) =
			    *(const int *)workload_at_const(base, f->off) != 0;
		else
			/* protobuf-c wants char *; its packer never writes through it. */
			*(char **)workload_at(msg, f->proto_off) = (char *)(uintptr_t)
			    workload_at_const(base, f->off);
	}
}

int
workload_health_parse(json_t *obj, struct workload_health *out, int *status,
    struct error *err)
{
	return workload_parse(&health_spec, obj, out, status, err);
}

int
workload_resources_parse(json_t *obj, struct workload_resources *out,
    int *status, struct error *err)
{
	return workload_parse(&resources_spec, obj, out, status, err);
}

json_t *
workload_health_json(const struct workload_health *h)
{
	return workload_json(&health_spec, h);
}

json_t *
workload_resources_json(const struct workload_resources *r)
{
	return workload_json(&resources_spec, r);
}

int
workload_health_from_proto(const Slipway__V1__HealthCheck *p,
    struct workload_health *out, struct error *err)
{
	return workload_from_proto(&health_spec, p, out, err);
}

int
workload_resources_from_proto(const Slipway__V1__Resources *p,
    struct workload_resources *out, struct error *err)
{
	return workload_from_proto(&resources_spec, p, out, err);
}

Slipway__V1__HealthCheck *
workload_health_to_proto(const struct workload_health *h,
    Slipway__V1__HealthCheck *p)
{
	slipway__v1__health_check__init(p);
	if (!h->set)
		return NULL;
	workload_to_proto(&health_spec, h, p);
	return p;
}

Slipway__V1__Resources *
workload_resources_to_proto(const struct workload_resources *r,
    Slipway__V1__Resources *p)
{
	slipway__v1__resources__init(p);
	if (!r->set)
		return NULL;
	workload_to_proto(&resources_spec, r, p);
	return p;
}
