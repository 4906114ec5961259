// uses: services/component-svc/comp_input.c
// uses: services/component-svc/endpoints.c
/*
 * test_comp_patch.c: comp_input_patch, table-driven: what a PATCH may
 * change (description, image on the component's registry host, health,
 * resources, a web app's port, a task's settings), what it refuses with
 * which status and code, and that a refused PATCH leaves the component
 * exactly as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "component-svc/component.h"

#define RID "6f1c2d3e-0000-4000-8000-000000000001"
#define BASE "\"name\":\"api\",\"registry_id\":\"" RID "\"," \
	"\"image\":\"ghcr.io/acme/api:1.0\",\"description\":\"old\""
#define EP "version: 0.1\\nendpoints:\\n- name: g\\n  port: 8080\\n" \
	"  context: /g\\n"
#define SVC "{" BASE ",\"type\":\"service\",\"endpoints\":\"" EP "\"," \
	"\"health\":{\"path\":\"/\"},\"resources\":{\"pids\":64}}"
#define WEB "{" BASE ",\"type\":\"web-app\",\"port\":3000}"
#define MANUAL "{" BASE ",\"type\":\"manual-task\"}"

struct patch_case {
	const char *create;
	const char *patch;
	int status;          /* 0 = accepted */
	const char *code;    /* refused: the error code */
	const char *field;   /* refused: the field, when not NULL */
};

static const struct patch_case cases[] = {
	/* Accepted. */
	{ SVC, "{\"description\":\"new\"}", 0, NULL, NULL },
	{ SVC, "{\"image\":\"ghcr.io/acme/other:2\"}", 0, NULL, NULL },
	{ SVC, "{\"image\":\"GHCR.IO/acme/other@sha256:"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
	  0, NULL, NULL },
	{ SVC, "{\"health\":{\"path\":\"/healthz\",\"port\":8080}}", 0, NULL,
	  NULL },
	{ SVC, "{\"health\":null,\"resources\":null}", 0, NULL, NULL },
	{ SVC, "{\"resources\":{\"memory_mb\":128}}", 0, NULL, NULL },
	{ WEB, "{\"port\":9000}", 0, NULL, NULL },
	{ MANUAL, "{\"resources\":{\"pids\":32},\"active_deadline_s\":60}", 0,
	  NULL, NULL },
	{ SVC, "{}", 0, NULL, NULL },
	/* Refused: the image. */
	{ SVC, "{\"image\":\"docker.io/acme/api:1\"}", 422,
	  "image_registry_mismatch", "image" },
	{ SVC, "{\"description\":\"new\",\"image\":\"quay.io/a/b:1\"}", 422,
	  "image_registry_mismatch", "image" },
	{ SVC, "{\"image\":\"ghcr.io/Acme/api:1\"}", 422, "invalid_image",
	  "image" },
	{ SVC, "{\"image\":\"\"}", 422, NULL, "image" },
	{ SVC, "{\"image\":null}", 422, NULL, "image" },
	{ SVC, "{\"image\":5}", 422, NULL, "image" },
	/* Refused: health and resources. */
	{ SVC, "{\"health\":{\"timeout_s\":0}}", 422, "invalid_health",
	  "health.timeout_s" },
	{ SVC, "{\"health\":{\"port\":9}}", 422, "invalid_health",
	  "health.port" },
	{ SVC, "{\"health\":{\"interval_s\":1}}", 400, "unknown_field",
	  "health.interval_s" },
	{ SVC, "{\"health\":\"/\"}", 400, "invalid_health", NULL },
	{ SVC, "{\"resources\":{\"memory_mb\":\"x\"}}", 400,
	  "invalid_resources", NULL },
	{ SVC, "{\"description\":\"new\",\"resources\":{\"memory_mb\":1}}", 422,
	  "invalid_resources", NULL },
	{ MANUAL, "{\"health\":{\"path\":\"/\"}}", 422, "health_not_allowed",
	  "health" },
	/* Refused: the port, task fields, unknown keys. */
	{ SVC, "{\"port\":9000}", 422, "invalid_field", "port" },
	{ WEB, "{\"port\":0}", 422, NULL, "port" },
	{ WEB, "{\"port\":\"80\"}", 422, NULL, "port" },
	{ SVC, "{\"schedule\":\"* * * * *\"}", 422, "invalid_field",
	  "schedule" },
	{ MANUAL, "{\"timezone\":\"UTC\"}", 422, "invalid_field", NULL },
	{ SVC, "{\"name\":\"x\"}", 400, "unknown_field", NULL },
	{ SVC, "{\"registry_id\":\"" RID "\"}", 400, "unknown_field", NULL },
	{ SVC, "[]", 400, NULL, NULL },
};

/* A component as component-svc holds it: parsed from its create body. */
static struct comp_input *
patch_component(const char *create, json_t **body)
{
	struct comp_input *in = calloc(1, sizeof(*in));
	struct error err;
	int status;

	assert_non_null(in);
	*body = json_loads(create, 0, NULL);
	assert_non_null(*body);
	if (comp_input_parse(*body, in, &status, &err) != 0)
		fail_msg("create %s refused: %s %s", create, err.code, err.msg);
	return in;
}

static void
check_case(size_t i, const struct patch_case *c)
{
	json_t *create, *patch = json_loads(c->patch, 0, NULL);
	struct comp_input *in = patch_component(c->create, &create);
	struct comp_input *before = malloc(sizeof(*before));
	struct error err;
	int status = 0, rc;

	assert_non_null(patch);
	assert_non_null(before);
	memcpy(before, in, sizeof(*in));
	rc = comp_input_patch(patch, in, &status, &err);
	if (c->status == 0 && rc != 0)
		fail_msg("case %zu (%s): refused %d %s: %s", i, c->patch, status,
		    err.code, err.msg);
	if (c->status != 0) {
		if (rc != -1 || status != c->status ||
		    (c->code != NULL && strcmp(err.code, c->code) != 0) ||
		    (c->field != NULL && strcmp(err.field, c->field) != 0))
			fail_msg("case %zu (%s): rc %d status %d %s field %s", i,
			    c->patch, rc, status, err.code, err.field);
		/* Refused: nothing changed, not one byte. */
		if (memcmp(before, in, sizeof(*in)) != 0)
			fail_msg("case %zu (%s): refused but changed", i, c->patch);
	}
	free(before);
	free(in);
	json_decref(patch);
	json_decref(create);
}

static void
test_patch_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(i, &cases[i]);
}

/* What an accepted PATCH changes, and what it leaves alone. */
static void
test_patch_effects(void **state)
{
	json_t *create, *patch;
	struct comp_input *in;
	struct error err;
	int status;

	(void)state;
	in = patch_component(SVC, &create);
	patch = json_loads("{\"image\":\"ghcr.io/acme/other:2\","
	    "\"health\":{\"timeout_s\":9}}", 0, NULL);
	assert_int_equal(comp_input_patch(patch, in, &status, &err), 0);
	assert_string_equal(in->image, "ghcr.io/acme/other:2");
	assert_string_equal(in->repository, "ghcr.io/acme/other");
	assert_string_equal(in->registry_host, "ghcr.io");
	assert_string_equal(in->description, "old");
	/* health replaced whole: the old path is gone; resources untouched. */
	assert_int_equal(in->health.timeout_s, 9);
	assert_string_equal(in->health.path, "");
	assert_int_equal(in->resources.pids, 64);
	assert_int_equal(in->endpoints.n, 1);
	json_decref(patch);
	patch = json_loads("{\"health\":null,\"resources\":null}", 0, NULL);
	assert_int_equal(comp_input_patch(patch, in, &status, &err), 0);
	assert_false(in->health.set);
	assert_false(in->resources.set);
	json_decref(patch);
	json_decref(create);
	free(in);

	in = patch_component(WEB, &create);
	patch = json_loads("{\"port\":9000}", 0, NULL);
	assert_int_equal(comp_input_patch(patch, in, &status, &err), 0);
	assert_int_equal(in->endpoints.n, 1);
	assert_int_equal(in->endpoints.ep[0].port, 9000);
	assert_string_equal(in->endpoints.ep[0].name, "web");
	assert_string_equal(in->endpoints.ep[0].context, "/");
	json_decref(patch);
	json_decref(create);
	free(in);
}

/* PUT .../endpoints: a service's only, and the health port must stay. */
static void
test_set_endpoints(void **state)
{
	static const char two[] = "version: 0.1\nendpoints:\n- name: a\n"
	    "  port: 8080\n  context: /a\n- name: b\n  port: 9090\n"
	    "  type: GraphQL\n  context: /b\n";
	static const char other[] = "version: 0.1\nendpoints:\n- name: a\n"
	    "  port: 7070\n  context: /a\n";
	static const char *const refused[] = { WEB, MANUAL };
	struct comp_input *in, *before = malloc(sizeof(*before));
	struct endpoints eps;
	struct error err;
	json_t *create, *patch;
	int status;

	(void)state;
	assert_non_null(before);
	in = patch_component(SVC, &create);
	assert_int_equal(endpoints_parse(two, strlen(two), &eps, &err), 0);
	assert_int_equal(comp_input_set_endpoints(in, &eps, &status, &err), 0);
	assert_int_equal(in->endpoints.n, 2);
	assert_string_equal(in->endpoints.ep[1].type, "GraphQL");
	/* health.port 8080 is not one of 7070's: refused, nothing changed. */
	patch = json_loads("{\"health\":{\"port\":8080}}", 0, NULL);
	assert_int_equal(comp_input_patch(patch, in, &status, &err), 0);
	json_decref(patch);
	memcpy(before, in, sizeof(*in));
	assert_int_equal(endpoints_parse(other, strlen(other), &eps, &err), 0);
	assert_int_equal(comp_input_set_endpoints(in, &eps, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "invalid_health");
	assert_memory_equal(before, in, sizeof(*in));
	json_decref(create);
	free(in);
	for (size_t i = 0; i < 2; i++) {
		in = patch_component(refused[i], &create);
		memcpy(before, in, sizeof(*in));
		assert_int_equal(comp_input_set_endpoints(in, &eps, &status, &err),
		    -1);
		assert_int_equal(status, 422);
		assert_string_equal(err.code, "endpoints_not_allowed");
		assert_non_null(strstr(err.msg, i == 0 ? "\"web\" endpoint" :
		    "a task has no endpoints"));
		assert_memory_equal(before, in, sizeof(*in));
		json_decref(create);
		free(in);
	}
	free(before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patch_table),
		cmocka_unit_test(test_patch_effects),
		cmocka_unit_test(test_set_endpoints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
