/*
 * comp_input.c: validation of a component create request: names, type,
 * schedule, time zone, image reference, endpoints.yaml, health check and
 * resources (the ranges of the last two are lib workload.c's, shared with
 * deploy-svc). Nothing here touches the store; the registry check is
 * comp_http.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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

/* Cron field ranges: minute, hour, day of month, month, day of week. */
static const struct cron_range {
	int min, max;
	const char *const *names;   /* 3-letter names for min.. or NULL */
} cron_ranges[5] = {
	{ 0, 59, NULL }, { 0, 23, NULL }, { 1, 31, NULL },
	{ 1, 12, (const char *const[]){ "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL } },
	{ 0, 7, (const char *const[]){ "sun", "mon", "tue", "wed", "thu",
	    "fri", "sat", NULL } },
};

/* One number or name of a field; advances *p. -1 when invalid. */
static int
cron_value(const char **p, const struct cron_range *r)
{
	const char *s = *p;
	int v = 0, i;

	if (isdigit((unsigned char)*s)) {
		for (i = 0; isdigit((unsigned char)s[i]) && i < 3; i++)
			v = v * 10 + (s[i] - '0');
		if (isdigit((unsigned char)s[i]) || v < r->min || v > r->max)
			return -1;
		*p = s + i;
		return v;
	}
	for (i = 0; r->names != NULL && r->names[i] != NULL; i++) {
		if (strncasecmp(s, r->names[i], 3) == 0) {
			*p = s + 3;
			return r->min + i;
		}
	}
	return -1;
}

/* One list element: "*", "a", "a-b", each optionally "/step". */
static int
cron_element(const char **p, const struct cron_range *r)
{
	int lo, hi, step;

	if (**p == '*') {
		(*p)++;
	} else {
		if ((lo = cron_value(p, r)) < 0)
			return -1;
		if (**p == '-') {
			(*p)++;
			if ((hi = cron_value(p, r)) < 0 || hi < lo)
				return -1;
		}
	}
	if (**p == '/') {
		(*p)++;
		if (!isdigit((unsigned char)**p))
			return -1;
		for (step = 0; isdigit((unsigned char)**p) && step <= 999; (*p)++)
			step = step * 10 + (**p - '0');
		if (step < 1 || step > r->max)
			return -1;
	}
	return 0;
}

/* A standard 5-field cron expression (numbers, names, *, ranges, steps, lists). */
int
comp_input_cron_valid(const char *expr)
{
	const char *p = expr;
	int f;

	if (expr == NULL || strlen(expr) > 128)
		return 0;
	for (f = 0; f < 5; f++) {
		while (*p == ' ' || *p == '\t')
			p++;
		/* A comma only ever follows an element: ",5" is refused. */
		if (cron_element(&p, &cron_ranges[f]) < 0)
			return 0;
		while (*p == ',') {
			p++;
			if (cron_element(&p, &cron_ranges[f]) < 0)
				return 0;
		}
		if (*p != '\0' && *p != ' ' && *p != '\t')
			return 0;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

/*
 * 1 when path is a compiled zone: the folder also holds text files
 * ("leapseconds") that no zone loader accepts.
 */
static int
comp_input_tzif(const char *path)
{
	char magic[4];
	FILE *f;
	int ok;

	if ((f = fopen(path, "rb")) == NULL)
		return 0;
	ok = fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
	    memcmp(magic, "TZif", sizeof(magic)) == 0;
	fclose(f);
	return ok;
}

/*
 * An IANA zone name ("UTC", "Europe/Berlin"). When the tz database is
 * installed the zone must exist in it.
 */
int
comp_input_timezone_valid(const char *tz)
{
	char path[160];
	struct stat st;
	size_t i, n = tz != NULL ? strlen(tz) : 0;

	if (n == 0 || n > 64 || tz[0] == '/' || strstr(tz, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)tz[i]) && strchr("/_+-", tz[i]) == NULL)
			return 0;
	if (stat("/usr/share/zoneinfo/UTC", &st) != 0)
		return 1;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    comp_input_tzif(path);
}

static const char *const comp_types[] = { "service", "web-app",
	"scheduled-task", "manual-task", NULL };

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
		"health", "resources", NULL };

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
	in->schedule = json_get_string(body, "schedule", 128, 0, err);
	if (in->schedule == NULL && err->code[0] != '\0')
		return -1;
	in->timezone = json_get_string(body, "timezone", 64, 0, err);
	if (in->timezone == NULL && err->code[0] != '\0')
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

/* The type decides which of schedule, timezone, endpoints and health may appear. */
static int
comp_input_by_type(json_t *body, struct comp_input *in, int *status,
    struct error *err)
{
	int scheduled = strcmp(in->type, "scheduled-task") == 0;
	json_t *ep = json_object_get(body, "endpoints");

	if (!comp_input_type_valid(in->type))
		return comp_input_fail(status, 422, err, "invalid_type", "type",
		    "type must be one of service, web-app, scheduled-task, manual-task");
	if (scheduled && (in->schedule == NULL || in->timezone == NULL))
		return comp_input_fail(status, 422, err, "missing_field",
		    in->schedule == NULL ? "schedule" : "timezone",
		    "a scheduled-task needs schedule (5-field cron) and timezone");
	if (!scheduled && (in->schedule != NULL || in->timezone != NULL))
		return comp_input_fail(status, 422, err, "invalid_field",
		    in->schedule != NULL ? "schedule" : "timezone",
		    "schedule and timezone are only for scheduled-task components");
	if (scheduled && !comp_input_cron_valid(in->schedule))
		return comp_input_fail(status, 422, err, "invalid_schedule",
		    "schedule", "schedule must be a 5-field cron expression "
		    "(minute hour day-of-month month day-of-week)");
	if (scheduled && !comp_input_timezone_valid(in->timezone))
		return comp_input_fail(status, 422, err, "invalid_timezone",
		    "timezone", "timezone must be an IANA time zone such as "
		    "UTC or Europe/Berlin");
	if (ep != NULL && !json_is_null(ep) && strcmp(in->type, "service") != 0)
		return comp_input_fail(status, 422, err, "endpoints_not_allowed",
		    "endpoints", "only service components have endpoints");
	/* A task runs to its end: there is no "healthy" to wait for. */
	if (comp_input_present(body, "health") &&
	    strcmp(in->type, "service") != 0 && strcmp(in->type, "web-app") != 0)
		return comp_input_fail(status, 422, err, "health_not_allowed",
		    "health", "only service and web-app components have a health "
		    "check");
	return 0;
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
