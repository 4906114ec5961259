// uses: services/component-svc/comp_input.c
// uses: services/component-svc/endpoints.c
/*
 * fuzz_comp_input.c: libFuzzer target for component-svc's create request.
 * The bytes are tried as a whole JSON body through comp_input_parse (what
 * comp_http.c calls), as the schedule and the time zone of a scheduled-task
 * body, as any JSON value for "health" and "resources" of a service body
 * (lib workload.c), and raw through the name, cron and time-zone
 * validators. Nothing may crash or leak, whatever is accepted obeys its
 * grammar and ranges, and the JSON a reply echoes parses back to the same
 * values.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component-svc/component.h"
#include "cron.h"
#include "tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RID "6f1c2d3e-0000-4000-8000-000000000001"

/* What comp_input accepts as a task's schedule and zone (lib cron, tz). */
static int
fuzz_cron_valid(const char *s)
{
	struct cron c;
	struct error err;

	return cron_parse(s, &c, &err) == 0;
}

static int
fuzz_timezone_valid(const char *s)
{
	struct error err;
	struct tz *z = tz_load(s, &err);

	tz_free(z);
	return z != NULL;
}

/* Every accepted name, schedule and zone is made of these only. */
static void
fuzz_check_strings(const char *s)
{
	size_t n = strlen(s);

	if (comp_input_slug_valid(s) && (n == 0 || n > 63 || s[0] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n))
		abort();
	if (fuzz_cron_valid(s) && (n > 128 ||
	    strspn(s, "0123456789*/,- \t@abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n))
		abort();
	if (fuzz_timezone_valid(s) && (n == 0 || n > 64 || s[0] == '/' ||
	    strstr(s, "..") != NULL))
		abort();
}

/* v is 0 (not given) or in [lo, hi]. */
static int
fuzz_in(unsigned v, unsigned lo, unsigned hi)
{
	return v == 0 || (v >= lo && v <= hi);
}

/* An accepted health check and resources: ranges, and the echo round trip. */
static void
fuzz_check_workload(const struct comp_input *in)
{
	struct workload_health h;
	struct workload_resources r;
	struct error err;
	json_t *echo;
	int status, rc;

	if (in->health.set && (strcmp(in->type, "service") != 0 &&
	    strcmp(in->type, "web-app") != 0))
		abort();
	if (!fuzz_in(in->health.port, 1, 65535) ||
	    !fuzz_in(in->health.timeout_s, 1, 600) ||
	    !fuzz_in(in->health.period_s, 1, 60) ||
	    !fuzz_in(in->health.success_threshold, 1, 10) ||
	    (in->health.path[0] != '\0' && !workload_path_valid(in->health.path)))
		abort();
	if (!fuzz_in(in->resources.memory_mb, 16, 65536) ||
	    !fuzz_in(in->resources.cpu_millicores, 10, 64000) ||
	    !fuzz_in(in->resources.pids, 16, 32768))
		abort();
	if (in->health.set) {
		echo = workload_health_json(&in->health);
		rc = workload_health_parse(echo, &h, &status, &err);
		json_decref(echo);
		if (rc != 0 || memcmp(&h, &in->health, sizeof(h)) != 0)
			abort();
	}
	if (in->resources.set) {
		echo = workload_resources_json(&in->resources);
		rc = workload_resources_parse(echo, &r, &status, &err);
		json_decref(echo);
		if (rc != 0 || memcmp(&r, &in->resources, sizeof(r)) != 0)
			abort();
	}
}

static void
fuzz_parse(json_t *body)
{
	struct comp_input *in = calloc(1, sizeof(*in));
	struct error err;
	int status = 0;

	if (in == NULL)
		return;
	if (comp_input_parse(body, in, &status, &err) == 0) {
		if (!comp_input_slug_valid(in->name) || in->image[0] == '\0' ||
		    in->endpoints.n > ENDPOINTS_MAX)
			abort();
		if (strcmp(in->type, "scheduled-task") == 0 &&
		    (!fuzz_cron_valid(in->task.schedule) ||
		    !fuzz_timezone_valid(in->task.timezone)))
			abort();
		fuzz_check_workload(in);
	} else if (err.code[0] == '\0' || (status != 400 && status != 413 &&
	    status != 422)) {
		abort();
	}
	free(in);
	json_decref(body);
}

/* s as one field of an otherwise valid scheduled-task body. */
static void
fuzz_task_field(json_t *s, const char *key)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", "job",
	    "type", "scheduled-task", "registry_id", FUZZ_RID, "image",
	    "ghcr.io/acme/job:1", "schedule", "*/5 * * * *", "timezone", "UTC");

	if (body != NULL && json_object_set(body, key, s) == 0)
		fuzz_parse(body);
	else
		json_decref(body);
}

/* v as "health" or "resources" of an otherwise valid service body. */
static void
fuzz_service_field(json_t *v, const char *key)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "api",
	    "type", "service", "registry_id", FUZZ_RID, "image",
	    "ghcr.io/acme/api:1", "endpoints", "version: 0.1\nendpoints:\n"
	    "- name: g\n  port: 9090\n  context: /g\n");

	if (body != NULL && json_object_set(body, key, v) == 0)
		fuzz_parse(body);
	else
		json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *str = malloc(size + 1);
	json_t *body, *s;

	if (str == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	fuzz_check_strings(str);
	free(str);
	/* As http_request_json loads a body. */
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(body))
		fuzz_parse(body);
	else
		json_decref(body);
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (body != NULL) {
		fuzz_service_field(body, "health");
		fuzz_service_field(body, "resources");
		json_decref(body);
	}
	if (memchr(data, '\0', size) == NULL &&
	    (s = json_stringn((const char *)data, size)) != NULL) {
		fuzz_task_field(s, "schedule");
		fuzz_task_field(s, "timezone");
		fuzz_task_field(s, "name");
		json_decref(s);
	}
	return 0;
}
