// uses: services/component-svc/endpoints.c
/*
 * test_endpoints.c: endpoints.yaml parser, table-driven: each case is a
 * document and either the endpoints it yields or the message it must fail
 * with (line number included).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "component-svc/component.h"

struct bad_case {
	const char *yaml;
	const char *msg;   /* substring of err.msg */
};

static const struct bad_case bad_cases[] = {
	{ "", "line 1: the document is empty" },
	{ "# only a comment\n", "the document is empty" },
	{ "- a\n- b\n", "line 1: the document must be a mapping" },
	{ "just text\n", "the document must be a mapping" },
	{ "version: 0.1\n", "endpoints is required" },
	{ "endpoints:\n- name: a\n  port: 80\n  context: /\n",
	  "version is required" },
	{ "version: 0.2\nendpoints: []\n", "line 1: version must be 0.1" },
	{ "version: '1.0'\nendpoints: []\n", "version must be 0.1" },
	{ "version: 0.1\nendpoints: []\n", "line 2: endpoints must list at least one" },
	{ "version: 0.1\nendpoints: {}\n", "line 2: endpoints must be a list" },
	{ "version: 0.1\nendpoints:\n- 42\n", "line 3: each endpoint must be a mapping" },
	{ "version: 0.1\nfoo: bar\n", "line 2: unknown key \"foo\"" },
	{ "version: 0.1\nversion: 0.1\n", "line 2: duplicate key version" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 80\n  context: /\n  colour: red\n",
	  "line 6: unknown key \"colour\" in endpoint" },
	{ "version: 0.1\nendpoints:\n- port: 80\n  context: /x\n",
	  "line 3: endpoint is missing name" },
	{ "version: 0.1\nendpoints:\n- name: a\n  context: /x\n",
	  "line 3: endpoint \"a\" is missing port" },
	{ "version: 0.1\nendpoints:\n- name: Greeting\n  port: 0\n  context: /g\n",
	  "line 4: port must be an integer between 1 and 65535" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 65536\n  context: /g\n",
	  "line 4: port must be an integer between 1 and 65535" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: -1\n  context: /g\n",
	  "port must be an integer" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80.5\n  context: /g\n",
	  "port must be an integer" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 0x50\n  context: /g\n",
	  "port must be an integer" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 080\n  context: /g\n",
	  "port must be an integer" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 99999999999999999999\n  context: /g\n",
	  "port must be an integer" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: [80]\n  context: /g\n",
	  "line 4: port must be a single value" },
	{ "version: 0.1\nendpoints:\n- name:\n  port: 80\n  context: /g\n",
	  "name must not be empty" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  type: SOAP\n  context: /g\n",
	  "line 5: type must be one of REST, GraphQL, GRPC, TCP, UDP, WS" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  networkVisibility: World\n  context: /g\n",
	  "line 5: networkVisibility must be one of" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n",
	  "line 3: context is required for REST endpoints" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  type: GraphQL\n",
	  "context is required for GraphQL endpoints" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  type: WS\n",
	  "context is required for WS endpoints" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: greeting\n",
	  "line 5: context must be a path starting with '/'" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /a b\n",
	  "context must be a URL path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /a?b\n",
	  "context must be a URL path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  type: GRPC\n  schemaFilePath: a.proto\n",
	  "line 3: schemaFilePath is only allowed for REST, GraphQL and WS" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /g\n  schemaFilePath: /etc/passwd\n",
	  "line 6: schemaFilePath must be a relative path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /g\n  schemaFilePath: ../x.yaml\n",
	  "schemaFilePath must be a relative path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /g\n  schemaFilePath: a/../../x.yaml\n",
	  "schemaFilePath must be a relative path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /g\n  schemaFilePath: a/..\n",
	  "schemaFilePath must be a relative path" },
	{ "version: 0.1\nendpoints:\n- name: g\n  port: 80\n  context: /g\n  port: 81\n",
	  "line 6: duplicate key port" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 80\n  context: /a\n- name: A\n  port: 81\n  context: /b\n",
	  "line 6: duplicate endpoint name \"A\"" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 80\n  context: /a\n- name: b\n  port: 80\n  context: /b\n",
	  "line 6: port 80 is used by two endpoints" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 80\n  context: /api\n- name: b\n  port: 81\n  type: GraphQL\n  context: /api/\n",
	  "line 6: context /api/ is used by two HTTP endpoints" },
	{ "version: 0.1\nendpoints:\n- &e\n  name: a\n  port: 80\n  context: /a\n",
	  "line 3: anchors are not allowed" },
	{ "version: 0.1\nendpoints: &a [1]\n", "line 2: anchors are not allowed" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 80\n  context: /a\n- *e\n",
	  "line 6: aliases are not allowed" },
	{ "endpoints: [&a [lol,lol], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], [*b,*b,*b]]\n",
	  "line 1: anchors are not allowed" },
	{ "version: 0.1\nendpoints:\n- name: !!str a\n  port: 80\n  context: /a\n",
	  "line 3: explicit tags are not allowed" },
	{ "version: 0.1\nendpoints: [\n", "endpoints.yaml line" },
	{ "endpoints:\n- name: a\n   port: 80\n", "endpoints.yaml line 3" },
	{ "version: 0.1\nendpoints:\n- {name: a, port: 80, context: /a}\n---\nversion: 0.1\n",
	  "line 4: only one YAML document is allowed" },
	{ "version: 0.1\n? [a]\n: b\n", "keys must be plain names" },
	{ "version: 0.1\nendpoints:\n- ? [a]\n  : b\n", "endpoint keys must be plain names" },
	{ "version: 0.1\nendpoints:\n- name: \"a\\tb\"\n  port: 80\n  context: /a\n",
	  "name must not contain control characters" },
	{ "version: 0.1\nendpoints:\n- name: \"\"\n  port: 80\n  context: /a\n",
	  "name must not be empty" },
	{ "version: 0.1\n\"\\x01key\": 1\n", "unknown key \"?key\"" },
	{ "\xff\xfe\xfd", "endpoints.yaml line 1" },
};

static void
test_bad_documents(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct endpoints e;
		struct error err;
		int rc;

		memset(&err, 0, sizeof(err));
		rc = endpoints_parse(bad_cases[i].yaml, strlen(bad_cases[i].yaml),
		    &e, &err);
		if (rc != -1 || strstr(err.msg, bad_cases[i].msg) == NULL ||
		    strncmp(err.msg, "endpoints.yaml line ", 20) != 0 ||
		    strcmp(err.code, "invalid_endpoints") != 0 ||
		    strcmp(err.field, "endpoints") != 0)
			fail_msg("case %zu: rc=%d msg=\"%s\" want \"%s\"", i, rc,
			    err.msg, bad_cases[i].msg);
		assert_int_equal(e.n, 0);
	}
}

static const char choreo_sample[] =
    "version: 0.1\n"
    "endpoints:\n"
    "- name: Greeting Service          # required\n"
    "  port: 9090                      # required\n"
    "  type: REST\n"
    "  networkVisibility: Public\n"
    "  context: /greeting\n"
    "  schemaFilePath: openapi.yaml\n";

static void
test_choreo_sample(void **state)
{
	struct endpoints e;
	struct error err;

	(void)state;
	assert_int_equal(endpoints_parse(choreo_sample, strlen(choreo_sample),
	    &e, &err), 0);
	assert_string_equal(e.version, "0.1");
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ep[0].name, "Greeting Service");
	assert_int_equal(e.ep[0].port, 9090);
	assert_string_equal(e.ep[0].type, "REST");
	assert_string_equal(e.ep[0].visibility, "Public");
	assert_string_equal(e.ep[0].context, "/greeting");
	assert_string_equal(e.ep[0].schema_file_path, "openapi.yaml");
}

struct good_case {
	const char *yaml;
	size_t n;
	const char *type0, *vis0, *ctx0;
	unsigned port_last;
};

static const struct good_case good_cases[] = {
	/* defaults: REST, Public */
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 1\n  context: /\n",
	  1, "REST", "Public", "/", 1 },
	{ "version: \"0.1\"\nendpoints:\n- name: a\n  port: \"65535\"\n  type: grpc\n",
	  1, "GRPC", "Public", "", 65535 },
	{ "endpoints:\n- {name: t, port: 7000, type: TCP, networkVisibility: Project}\n"
	  "- {name: u, port: 7001, type: UDP, networkVisibility: organization}\n"
	  "version: 0.1\n", 2, "TCP", "Project", "", 7001 },
	{ "---\nversion: 0.1\nendpoints:\n- name: g\n  port: 8080\n  type: GraphQL\n"
	  "  context: /graphql\n...\n", 1, "GraphQL", "Public", "/graphql", 8080 },
	{ "version: 0.1\nendpoints:\n- name: w\n  port: 80\n  type: WS\n  context: /ws\n"
	  "  schemaFilePath: api/async.yaml\n", 1, "WS", "Public", "/ws", 80 },
	{ "version: 0.1\nendpoints:\n- name: \"Ünïcode nämé\"\n  port: 80\n  context: /a\n",
	  1, "REST", "Public", "/a", 80 },
};

static void
test_good_documents(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *c = &good_cases[i];
		struct endpoints e;
		struct error err;

		memset(&err, 0, sizeof(err));
		if (endpoints_parse(c->yaml, strlen(c->yaml), &e, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_int_equal(e.n, c->n);
		assert_string_equal(e.ep[0].type, c->type0);
		assert_string_equal(e.ep[0].visibility, c->vis0);
		assert_string_equal(e.ep[0].context, c->ctx0);
		assert_int_equal(e.ep[e.n - 1].port, c->port_last);
	}
}

/* Builds a document with n endpoints. */
static char *
many_endpoints(size_t n)
{
	size_t cap = 64 + n * 64, off = 0, i;
	char *buf = malloc(cap);

	assert_non_null(buf);
	off += (size_t)snprintf(buf, cap, "version: 0.1\nendpoints:\n");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off,
		    "- {name: e%zu, port: %zu, type: TCP}\n", i, 1000 + i);
	return buf;
}

static void
test_limits(void **state)
{
	struct endpoints e;
	struct error err;
	char *doc, *big;
	size_t len;

	(void)state;
	doc = many_endpoints(ENDPOINTS_MAX);
	assert_int_equal(endpoints_parse(doc, strlen(doc), &e, &err), 0);
	assert_int_equal(e.n, ENDPOINTS_MAX);
	free(doc);

	doc = many_endpoints(ENDPOINTS_MAX + 1);
	assert_int_equal(endpoints_parse(doc, strlen(doc), &e, &err), -1);
	assert_non_null(strstr(err.msg, "line 23: at most 20 endpoints"));
	free(doc);

	/* A name of exactly 100 bytes passes, 101 fails. */
	big = malloc(300);
	assert_non_null(big);
	len = (size_t)snprintf(big, 300, "version: 0.1\nendpoints:\n- name: %0100d\n"
	    "  port: 80\n  context: /a\n", 0);
	assert_int_equal(endpoints_parse(big, len, &e, &err), 0);
	len = (size_t)snprintf(big, 300, "version: 0.1\nendpoints:\n- name: %0101d\n"
	    "  port: 80\n  context: /a\n", 0);
	assert_int_equal(endpoints_parse(big, len, &e, &err), -1);
	assert_non_null(strstr(err.msg, "name must be at most 100 bytes"));
	free(big);

	/* Over 64 KiB is refused before parsing. */
	big = malloc(ENDPOINTS_YAML_MAX + 2);
	assert_non_null(big);
	memset(big, '#', ENDPOINTS_YAML_MAX + 1);
	assert_int_equal(endpoints_parse(big, ENDPOINTS_YAML_MAX + 1, &e, &err), -1);
	assert_non_null(strstr(err.msg, "larger than"));
	free(big);

	/* Embedded NUL. */
	assert_int_equal(endpoints_parse("version: 0.1\0x", 14, &e, &err), -1);
}

static void
test_to_json(void **state)
{
	struct endpoints e;
	struct error err;
	json_t *j;
	char *s;

	(void)state;
	assert_int_equal(endpoints_parse(choreo_sample, strlen(choreo_sample),
	    &e, &err), 0);
	j = endpoints_to_json(&e);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "[{\"context\":\"/greeting\",\"name\":\"Greeting Service\","
	    "\"port\":9090,\"schema_file_path\":\"openapi.yaml\",\"type\":\"REST\","
	    "\"visibility\":\"Public\"}]");
	free(s);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_choreo_sample),
		cmocka_unit_test(test_good_documents),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_to_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
