// uses: services/deploy-svc/deploy_component.c
/*
 * test_deploy_component.c: deploy-svc's local copy of a component: what it
 * accepts from ComponentCreated (table-driven: each case breaks one part of
 * a valid component), the jsonb columns' round trip, and the parts of
 * ApplyDeployment it fills.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"

#define CID "6f1c2d3e-0000-4000-8000-000000000007"

struct component {
	Slipway__V1__Component c;
	Slipway__V1__Endpoint ep[24];
	Slipway__V1__Endpoint *epp[24];
	Slipway__V1__HealthCheck health;
	Slipway__V1__Resources resources;
};

/* A valid service: two endpoints, a health check, resources. */
static void
component_init(struct component *m)
{
	static const unsigned ports[] = { 8080, 9090 };

	slipway__v1__component__init(&m->c);
	m->c.component_id = DEPLOY_STR(CID);
	m->c.org = DEPLOY_STR("acme");
	m->c.project = DEPLOY_STR("shop");
	m->c.name = DEPLOY_STR("api");
	m->c.type = DEPLOY_STR("service");
	m->c.registry_id = DEPLOY_STR("6f1c2d3e-0000-4000-8000-000000000001");
	m->c.registry_host = DEPLOY_STR("ghcr.io");
	m->c.image = DEPLOY_STR("ghcr.io/acme/api:1.0");
	for (size_t i = 0; i < 24; i++) {
		slipway__v1__endpoint__init(&m->ep[i]);
		m->ep[i].name = DEPLOY_STR("greeting");
		m->ep[i].port = ports[i % 2];
		m->ep[i].type = DEPLOY_STR(i == 0 ? "REST" : "TCP");
		m->ep[i].visibility = DEPLOY_STR("Public");
		m->ep[i].context = DEPLOY_STR(i == 0 ? "/greeting" : "");
		m->ep[i].schema_file_path = DEPLOY_STR("");
		m->epp[i] = &m->ep[i];
	}
	m->c.n_endpoints = 2;
	m->c.endpoints = m->epp;
	slipway__v1__health_check__init(&m->health);
	m->health.path = DEPLOY_STR("/healthz");
	m->health.port = 9090;
	m->health.timeout_s = 60;
	m->c.health = &m->health;
	slipway__v1__resources__init(&m->resources);
	m->resources.memory_mb = 256;
	m->resources.read_only_rootfs = 1;
	m->c.resources = &m->resources;
}

typedef void (*breaker)(struct component *);

static void no_change(struct component *m) { (void)m; }
static void bad_id(struct component *m) { m->c.component_id = DEPLOY_STR("c-1"); }
static void no_org(struct component *m) { m->c.org = DEPLOY_STR(""); }
static void long_org(struct component *m) { m->c.org = DEPLOY_STR(
    "a234567890123456789012345678901234567890123456789012345678901234"); }
static void bad_name(struct component *m) { m->c.name = DEPLOY_STR("\xff"); }
static void no_name(struct component *m) { m->c.name = DEPLOY_STR(""); }
static void bad_image(struct component *m) { m->c.image = DEPLOY_STR("a\xc0\xaf" "b"); }
static void no_project(struct component *m) { m->c.project = DEPLOY_STR(""); }
static void no_endpoints(struct component *m) { m->c.n_endpoints = 0; }
static void max_endpoints(struct component *m) { m->c.n_endpoints = 20; }
static void many_endpoints(struct component *m) { m->c.n_endpoints = 21; }
static void port_zero(struct component *m) { m->ep[1].port = 0; }
static void port_high(struct component *m) { m->ep[1].port = 65536; }
static void type_unknown(struct component *m) { m->ep[1].type = DEPLOY_STR("HTTP"); }
static void type_lower(struct component *m) { m->ep[0].type = DEPLOY_STR("rest"); }
static void vis_unknown(struct component *m) { m->ep[0].visibility = DEPLOY_STR("Private"); }
static void ep_no_name(struct component *m) { m->ep[0].name = DEPLOY_STR(""); }
static void ep_bad_context(struct component *m) { m->ep[0].context = DEPLOY_STR("/\xff"); }
static void no_health(struct component *m) { m->c.health = NULL; }
static void empty_health(struct component *m) { slipway__v1__health_check__init(&m->health); }
static void health_timeout(struct component *m) { m->health.timeout_s = 601; }
static void health_period(struct component *m) { m->health.period_s = 61; }
static void health_threshold(struct component *m) { m->health.success_threshold = 11; }
static void health_path(struct component *m) { m->health.path = DEPLOY_STR("healthz"); }
static void health_path_space(struct component *m) { m->health.path = DEPLOY_STR("/a b"); }
static void no_resources(struct component *m) { m->c.resources = NULL; }
static void memory_low(struct component *m) { m->resources.memory_mb = 15; }
static void cpu_high(struct component *m) { m->resources.cpu_millicores = 64001; }
static void pids_low(struct component *m) { m->resources.pids = 8; }

static const struct {
	const char *what;
	breaker change;
	int ok;
} from_proto_cases[] = {
	{ "valid", no_change, 1 },
	{ "component id not a UUID", bad_id, 0 },
	{ "no org", no_org, 0 },
	{ "org of 64 bytes", long_org, 0 },
	{ "name not UTF-8", bad_name, 0 },
	{ "no name", no_name, 0 },
	{ "image not UTF-8", bad_image, 0 },
	{ "no project (older producers)", no_project, 1 },
	{ "no endpoints", no_endpoints, 1 },
	{ "20 endpoints", max_endpoints, 1 },
	{ "21 endpoints", many_endpoints, 0 },
	{ "endpoint port 0", port_zero, 0 },
	{ "endpoint port 65536", port_high, 0 },
	{ "endpoint type HTTP", type_unknown, 0 },
	{ "endpoint type rest", type_lower, 0 },
	{ "endpoint visibility Private", vis_unknown, 0 },
	{ "endpoint without name", ep_no_name, 0 },
	{ "endpoint context not UTF-8", ep_bad_context, 0 },
	{ "no health", no_health, 1 },
	{ "empty health", empty_health, 1 },
	{ "health timeout 601", health_timeout, 0 },
	{ "health period 61", health_period, 0 },
	{ "health threshold 11", health_threshold, 0 },
	{ "health path without /", health_path, 0 },
	{ "health path with a space", health_path_space, 0 },
	{ "no resources", no_resources, 1 },
	{ "memory 15", memory_low, 0 },
	{ "cpu 64001", cpu_high, 0 },
	{ "pids 8", pids_low, 0 },
};

static void
test_from_proto_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(from_proto_cases) /
	    sizeof(from_proto_cases[0]); i++) {
		struct deploy_component *out = calloc(1, sizeof(*out));
		struct component m;
		struct error err;
		int rc;

		assert_non_null(out);
		component_init(&m);
		from_proto_cases[i].change(&m);
		rc = deploy_component_from_proto(&m.c, out, &err);
		if (from_proto_cases[i].ok && rc != 0)
			fail_msg("%s: refused: %s", from_proto_cases[i].what, err.msg);
		if (!from_proto_cases[i].ok &&
		    (rc != -1 || strcmp(err.code, "bad_message") != 0))
			fail_msg("%s: accepted", from_proto_cases[i].what);
		free(out);
	}
	assert_int_equal(deploy_component_from_proto(NULL,
	    &(struct deploy_component){ 0 }, &(struct error){ 0 }), -1);
}

static void
test_from_proto_values(void **state)
{
	struct deploy_component *out = calloc(1, sizeof(*out));
	struct component m;
	struct error err;

	(void)state;
	assert_non_null(out);
	component_init(&m);
	assert_int_equal(deploy_component_from_proto(&m.c, out, &err), 0);
	assert_string_equal(out->project, "shop");
	assert_int_equal(out->n_endpoints, 2);
	assert_int_equal(out->port, 8080);
	assert_string_equal(out->endpoint_type, "REST");
	assert_string_equal(out->endpoints[1].type, "TCP");
	assert_int_equal(out->endpoints[1].port, 9090);
	assert_true(out->health.set);
	assert_string_equal(out->health.path, "/healthz");
	assert_int_equal(out->health.timeout_s, 60);
	assert_int_equal(out->health.period_s, 0);
	assert_true(out->resources.set);
	assert_int_equal(out->resources.memory_mb, 256);
	assert_true(out->resources.read_only_rootfs);
	m.c.health = NULL;
	m.c.n_endpoints = 0;
	assert_int_equal(deploy_component_from_proto(&m.c, out, &err), 0);
	assert_false(out->health.set);
	assert_int_equal(out->port, 0);
	assert_string_equal(out->endpoint_type, "");
	free(out);
}

static char *
dump(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(v);
	assert_non_null(s);
	return s;
}

/* What deploy_store.c writes to the jsonb columns reads back the same. */
static void
test_columns_round_trip(void **state)
{
	struct deploy_component *a = calloc(1, sizeof(*a));
	struct deploy_component *b = calloc(1, sizeof(*b));
	struct component m;
	struct error err;
	char *eps, *health, *res;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	component_init(&m);
	m.c.n_endpoints = 20;
	assert_int_equal(deploy_component_from_proto(&m.c, a, &err), 0);
	eps = dump(deploy_component_endpoints_json(a));
	health = dump(workload_health_json(&a->health));
	res = dump(workload_resources_json(&a->resources));
	assert_string_equal(health, "{\"path\":\"/healthz\",\"port\":9090,"
	    "\"timeout_s\":60}");
	assert_string_equal(res, "{\"memory_mb\":256,\"read_only_rootfs\":true}");
	assert_int_equal(deploy_component_columns_parse(eps, health, res, b,
	    &err), 0);
	assert_int_equal(b->n_endpoints, 20);
	assert_memory_equal(b->endpoints, a->endpoints, sizeof(a->endpoints));
	assert_int_equal(b->port, 8080);
	assert_memory_equal(&b->health, &a->health, sizeof(a->health));
	assert_memory_equal(&b->resources, &a->resources, sizeof(a->resources));
	/* NULL columns: none; an old row's '[]' keeps its port columns. */
	memset(b, 0, sizeof(*b));
	b->port = 8080;
	snprintf(b->endpoint_type, sizeof(b->endpoint_type), "REST");
	assert_int_equal(deploy_component_columns_parse("[]", NULL, NULL, b,
	    &err), 0);
	assert_false(b->health.set);
	assert_false(b->resources.set);
	assert_int_equal(b->port, 8080);
	assert_int_equal(deploy_component_columns_parse("{", NULL, NULL, b, &err),
	    -1);
	assert_int_equal(deploy_component_columns_parse("[]", "{\"port\":0}",
	    NULL, b, &err), -1);
	assert_string_equal(err.code, "db_error");
	free(eps);
	free(health);
	free(res);
	free(a);
	free(b);
}

static void
test_to_apply(void **state)
{
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct deploy_component_proto *p = calloc(1, sizeof(*p));
	Slipway__V1__ApplyDeployment ad;
	struct component m;
	struct error err;

	(void)state;
	assert_non_null(c);
	assert_non_null(p);
	component_init(&m);
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	slipway__v1__apply_deployment__init(&ad);
	deploy_component_to_apply(c, p, &ad);
	assert_string_equal(ad.org, "acme");
	assert_string_equal(ad.project, "shop");
	assert_string_equal(ad.component_name, "api");
	assert_int_equal(ad.n_endpoints, 2);
	assert_string_equal(ad.endpoints[0]->context, "/greeting");
	assert_int_equal(ad.endpoints[1]->port, 9090);
	assert_int_equal(ad.port, 8080);
	assert_string_equal(ad.endpoint_type, "REST");
	assert_int_equal(ad.n_env, 1);
	assert_string_equal(ad.env[0]->name, "PORT");
	assert_string_equal(ad.env[0]->value, "8080");
	assert_non_null(ad.health);
	assert_string_equal(ad.health->path, "/healthz");
	assert_int_equal(ad.health->timeout_s, 60);
	assert_non_null(ad.resources);
	assert_int_equal(ad.resources->memory_mb, 256);
	assert_true(ad.resources->read_only_rootfs);
	/* No endpoints, health or resources: the fields stay absent. */
	m.c.n_endpoints = 0;
	m.c.health = NULL;
	m.c.resources = NULL;
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	slipway__v1__apply_deployment__init(&ad);
	deploy_component_to_apply(c, p, &ad);
	assert_int_equal(ad.n_endpoints, 0);
	assert_int_equal(ad.n_env, 0);
	assert_int_equal(ad.port, 0);
	assert_null(ad.health);
	assert_null(ad.resources);
	free(c);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_proto_table),
		cmocka_unit_test(test_from_proto_values),
		cmocka_unit_test(test_columns_round_trip),
		cmocka_unit_test(test_to_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
