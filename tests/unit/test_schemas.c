// uses: services/component-svc/schemas.c
// uses: services/component-svc/schema_openapi.c
// uses: services/component-svc/schema_graphql.c
// uses: services/component-svc/endpoints.c
/*
 * test_schemas.c: the schema files of PUT .../endpoints: OpenAPI 2/3 and
 * AsyncAPI 2/3 in YAML and JSON, GraphQL SDL, and the rules of a set (names, every named
 * file uploaded, every upload named, kind by endpoint type). Table-driven:
 * each bad document and the message it must fail with, line (and column)
 * included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "component-svc/component.h"

struct doc_case {
	const char *text;
	const char *msg;   /* substring of err.msg; NULL: must pass */
};

static const struct doc_case openapi_cases[] = {
	{ "openapi: 3.0.3\ninfo:\n  title: Greeting\n  version: 1.0.0\n"
	  "paths:\n  /greet:\n    get:\n      responses:\n        '200':\n"
	  "          description: ok\n", NULL },
	{ "swagger: \"2.0\"\ninfo: {title: T, version: '1'}\npaths: {}\n", NULL },
	{ "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"T\",\"version\":\"1\"},"
	  "\"webhooks\":{}}", NULL },
	{ "{\n\t\"swagger\": \"2.0\",\n\t\"info\": {\"title\": \"T\", \"version\": "
	  "\"2\"},\n\t\"paths\": {\"/a\": {}, \"x-ext\": 1}\n}\n", NULL },
	{ "openapi: 3.0.0-rc1\ninfo: {title: T, version: 1}\npaths: {}\n", NULL },
	{ "", "api.yaml line 1: the file is empty" },
	{ "- a\n", "api.yaml line 1: the document must be a mapping" },
	{ "info: {title: T, version: 1}\npaths: {}\n",
	  "line 1: not an OpenAPI document" },
	{ "openapi: 2.0.0\ninfo: {title: T, version: 1}\npaths: {}\n",
	  "line 1: openapi must be a 3.x.y version" },
	{ "openapi: '3.0'\ninfo: {title: T, version: 1}\npaths: {}\n",
	  "line 1: openapi must be a 3.x.y version" },
	{ "swagger: '3.0'\n", "line 1: swagger must be \"2.0\"" },
	{ "openapi: 3.0.0\nswagger: '2.0'\n", "line 2: both swagger and openapi" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\n",
	  "line 1: paths is required" },
	{ "openapi: 3.1.0\ninfo: {title: T, version: 1}\n",
	  "needs paths, components or webhooks" },
	{ "openapi: 3.0.0\npaths: {}\n", "line 1: info (with title and version)" },
	{ "openapi: 3.0.0\ninfo:\n  version: 1\npaths: {}\n",
	  "line 2: info must have a title" },
	{ "openapi: 3.0.0\ninfo:\n  title: ''\n  version: 1\npaths: {}\n",
	  "line 3: info.title must be a non-empty string" },
	{ "openapi: 3.0.0\ninfo:\n  title: T\n  version: [1]\npaths: {}\n",
	  "line 4: info.version must be a non-empty string" },
	{ "openapi: 3.0.0\ninfo: [x]\n", "line 2: info must be a mapping" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\npaths: []\n",
	  "line 3: paths must be a mapping" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\npaths:\n  /a: {}\n"
	  "  greet: {}\n", "line 5: paths key \"greet\" must start with '/'" },
	{ "openapi: 3.0.0\nopenapi: 3.0.1\n", "line 2: duplicate key openapi" },
	{ "openapi: 3.0.0\ninfo: &i {title: T, version: 1}\npaths: {}\n",
	  "line 2: anchors and aliases are not allowed" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\npaths: {}\nx: *a\n",
	  "line 4" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\npaths: {}\n---\na: 1\n",
	  "line 4: only one YAML document" },
	{ "openapi: 3.0.0\ninfo:\n  title: T\n   version: 1\n", "api.yaml line 4" },
	{ "{\"openapi\": \"3.0.0\",\n \"info\": {\"title\": \"T\",\n"
	  " \"version\": 1},\n \"paths\": {\"/a\": {}\n}",
	  "api.yaml line 6: did not find expected ',' or '}'" },
	{ "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	  "1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  "nested deeper than 64 levels" },
};

static const struct doc_case asyncapi_cases[] = {
	{ "asyncapi: 2.6.0\ninfo:\n  title: Chat\n  version: 1.0.0\n"
	  "channels:\n  room/{id}:\n    subscribe: {message: {payload: {}}}\n",
	  NULL },
	{ "{\"asyncapi\": \"3.0.0\", \"info\": {\"title\": \"T\", \"version\": "
	  "\"1\"}}", NULL },
	{ "asyncapi: 3.0.0\ninfo: {title: T, version: 1}\nchannels: {}\n"
	  "operations: {}\n", NULL },
	{ "asyncapi: 2.6.0\ninfo: {title: T, version: 1}\n",
	  "line 1: channels is required" },
	{ "asyncapi: 1.2.0\ninfo: {title: T, version: 1}\nchannels: {}\n",
	  "line 1: asyncapi must be a 2.x.y or 3.x.y version" },
	{ "asyncapi: 2.6.0\ninfo: {title: T, version: 1}\nchannels: [a]\n",
	  "line 3: channels must be a mapping" },
	{ "asyncapi: 2.6.0\ninfo:\n  title: T\nchannels: {}\n",
	  "line 2: info must have a version" },
	{ "openapi: 3.0.0\ninfo: {title: T, version: 1}\npaths: {}\n",
	  "line 1: this is an OpenAPI document (for a REST endpoint)" },
	{ "info: {title: T, version: 1}\nchannels: {}\n",
	  "not an AsyncAPI document" },
};

static const struct doc_case graphql_cases[] = {
	{ "# the schema\n\"\"\"\nThe root.\n\"\"\"\ntype Query {\n"
	  "  \"a greeting\"\n  greet(name: String = \"you\", n: [Int!]! = [1, 2]"
	  " @deprecated(reason: \"x\")): String!\n  node(id: ID!): Node\n}\n"
	  "schema @a { query: Query mutation: Mutation }\n"
	  "scalar Date @specifiedBy(url: \"https://x\")\n"
	  "interface Node implements & Base @b { id: ID! }\n"
	  "type User implements Node & Base { id: ID!, name: String }\n"
	  "union Result = | User | Error\n"
	  "enum Colour { RED \"green\" GREEN @x BLUE }\n"
	  "input Filter { q: String = null, limit: Int = -10, f: Float = 1.5e3,"
	  " o: Obj = {a: 1, b: [true, false], c: ENUM} }\n"
	  "directive @auth(roles: [String!]) repeatable on | FIELD_DEFINITION | "
	  "OBJECT\n"
	  "extend type Query { me: User }\nextend schema @c\n"
	  "extend scalar Date @d\nextend union Result = Other\n"
	  "extend enum Colour { PINK }\nextend input Filter @e\n"
	  "\"\"\"block \\\"\"\" quote\"\"\" type Mutation { m(x: Int): Int }\n"
	  "type Empty\n", NULL },
	{ "\xef\xbb\xbftype Query { a: Int }", NULL },
	{ "", "api.graphql line 1, column 1: the file has no definitions" },
	{ "# just a comment\n", "line 2, column 1: the file has no definitions" },
	{ "type Query {\n  a: Int\n  b Int\n}\n",
	  "line 3, column 5: expected ':', found \"Int\"" },
	{ "type Query {\n  a: Int\n", "line 3, column 1: expected a field name, "
	  "found the end of the file" },
	{ "type Query { }", "line 1, column 14: expected a field name" },
	{ "query { a }", "line 1, column 1: operations and fragments are not "
	  "allowed" },
	{ "{ a }", "operations and fragments are not allowed" },
	{ "fragment F on T { a }", "operations and fragments" },
	{ "typo Query { a: Int }", "line 1, column 1: expected a definition" },
	{ "type Query { a: [Int }", "line 1, column 22: expected ']'" },
	{ "type Query { a(x: Int = $v): Int }", "column 25: variables are not "
	  "allowed" },
	{ "type Query { a: Int @d() }", "column 24: expected an argument name" },
	{ "type Query { a: Int }\n  }", "line 2, column 3: expected a new "
	  "definition" },
	{ "enum E { true }", "column 10: true, false and null cannot be enum" },
	{ "directive @d on FIELDS", "column 17: \"FIELDS\" is not a directive "
	  "location" },
	{ "directive @d(a: Int)", "expected on and the directive's locations" },
	{ "extend directive @d on FIELD", "expected a type or schema to extend" },
	{ "extend scalar Date", "expected a directive (extend scalar" },
	{ "\"desc\" extend type A { a: Int }", "column 8: expected a definition" },
	{ "type Query {\n  a: String @d(x: \"open)\n}", "line 2, column 19: "
	  "unterminated string" },
	{ "type Query { a: String @d(x: \"\\q\") }", "invalid escape sequence" },
	{ "type Query { a: String @d(x: \"\\u12\") }", "four hex digits" },
	{ "type Query { a: String @d(x: \"\\u{110000000}\") }", "\\u{...} escape" },
	{ "\"\"\"never closed\ntype Query { a: Int }", "line 1, column 1: "
	  "unterminated block string" },
	{ "type Query { a: Int @d(x: 01) }", "numbers must not start with 0" },
	{ "type Query { a: Int @d(x: 1.) }", "a digit must follow '.'" },
	{ "type Query { a: Int @d(x: 1e) }", "a digit must follow the exponent" },
	{ "type Query { a: Int @d(x: 12abc) }", "must not be followed by 'a'" },
	{ "type Query { a: Int @d(x: -) }", "'-' must be followed by a digit" },
	{ "type Query { a: Int ; }", "column 21: unexpected character ';'" },
	{ "type Qu\xc3\xa9ry { a: Int }", "line 1, column 8: unexpected character" },
	{ "type Query { a: \"\xc3\xa9\" }", "line 1, column 17: expected a type" },
	{ "type Query { a: Int } \xff", "must be UTF-8 text" },
	{ "schema { query: Query, other: X }", "expected query, mutation or "
	  "subscription" },
	{ "type Q { a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[Int"
	  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] }", "nested deeper than 64 levels" },
};

static void
run_cases(const struct doc_case *cases, size_t n, const char *file,
    int (*check)(const char *, const unsigned char *, size_t, struct error *))
{
	struct error err;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&err, 0, sizeof(err));
		int rc = check(file, (const unsigned char *)cases[i].text,
		    strlen(cases[i].text), &err);
		if (cases[i].msg == NULL) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, err.msg);
			continue;
		}
		if (rc == 0)
			fail_msg("case %zu accepted", i);
		assert_string_equal(err.code, "invalid_schema");
		if (strncmp(err.msg, file, strlen(file)) != 0 ||
		    strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg,
			    cases[i].msg);
	}
}

static void
test_openapi(void **state)
{
	(void)state;
	run_cases(openapi_cases, sizeof(openapi_cases) / sizeof(openapi_cases[0]),
	    "api.yaml", schema_openapi_check);
}

static void
test_asyncapi(void **state)
{
	static const char aa[] = "asyncapi: 2.6.0\ninfo: {title: T, version: 1}\n"
	    "channels: {}\n";
	struct error err;

	(void)state;
	run_cases(asyncapi_cases, sizeof(asyncapi_cases) /
	    sizeof(asyncapi_cases[0]), "api.yaml", schema_asyncapi_check);
	/* An OpenAPI check says where an AsyncAPI document belongs. */
	assert_int_equal(schema_openapi_check("api.yaml", (const unsigned char *)
	    aa, strlen(aa), &err), -1);
	assert_non_null(strstr(err.msg, "line 1: this is an AsyncAPI document "
	    "(for a WS endpoint)"));
}

static void
test_graphql(void **state)
{
	(void)state;
	run_cases(graphql_cases, sizeof(graphql_cases) / sizeof(graphql_cases[0]),
	    "api.graphql", schema_graphql_check);
}

static void
test_names(void **state)
{
	static const char *const good[] = { "openapi.yaml", "a", "A-b_c.1.json",
		"schema.graphql" };
	static const char *const bad[] = { "", ".", "..", ".hidden", "a/b",
		"../x", "a\\b", "a b", "a\nb", "caf\xc3\xa9.yaml", "x:y" };
	char longname[SCHEMA_NAME_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(schema_name_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (schema_name_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(schema_name_valid(longname));
	longname[SCHEMA_NAME_MAX] = '\0';
	assert_true(schema_name_valid(longname));
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(schema_utf8_valid((const unsigned char *)"a\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80", 10));
	assert_false(schema_utf8_valid((const unsigned char *)"\xc0\xaf", 2));
	assert_false(schema_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3));
	assert_false(schema_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));
	assert_false(schema_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));
	assert_false(schema_utf8_valid((const unsigned char *)"\xc3", 1));
	assert_false(schema_utf8_valid((const unsigned char *)"a\0b", 3));
}

#define EPS \
	"version: 0.1\n" \
	"endpoints:\n" \
	"- name: api\n" \
	"  port: 8080\n" \
	"  context: /api\n" \
	"  schemaFilePath: openapi.yaml\n" \
	"- name: graph\n" \
	"  port: 8081\n" \
	"  type: GraphQL\n" \
	"  context: /graphql\n" \
	"  schemaFilePath: schema.graphql\n"

static const char oa[] = "openapi: 3.0.0\ninfo: {title: T, version: 1}\n"
    "paths: {}\n";
static const char oa_json[] = " {\"swagger\": \"2.0\", \"info\": {\"title\": "
    "\"T\", \"version\": \"1\"}, \"paths\": {}}";
static const char gql[] = "type Query { a: Int }\n";

static void
parse_eps(const char *yaml, struct endpoints *e)
{
	struct error err;

	if (endpoints_parse(yaml, strlen(yaml), e, &err) < 0)
		fail_msg("%s", err.msg);
}

static int
add(struct schema_set *set, const char *name, const char *text, int *status,
    struct error *err)
{
	return schemas_add(set, name, (const unsigned char *)text, strlen(text),
	    status, err);
}

static void
test_set_good(void **state)
{
	struct endpoints e;
	struct schema_set set = { 0 };
	struct error err;
	int status;

	(void)state;
	parse_eps(EPS, &e);
	assert_int_equal(e.ep[0].schema_line, 6);
	assert_int_equal(e.ep[1].schema_line, 11);
	assert_int_equal(add(&set, "schema.graphql", gql, &status, &err), 0);
	assert_int_equal(add(&set, "openapi.yaml", oa, &status, &err), 0);
	if (schemas_check(&e, &set, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(set.f[0].kind, "graphql");
	assert_string_equal(set.f[0].media_type, "application/graphql");
	assert_string_equal(set.f[1].kind, "openapi");
	assert_string_equal(set.f[1].media_type, "application/yaml");
	assert_int_equal(strlen(set.f[1].sha256), 64);

	memset(&set, 0, sizeof(set));
	parse_eps("version: 0.1\nendpoints:\n- name: a\n  port: 1\n  context: /a\n"
	    "  schemaFilePath: api.json\n- name: b\n  port: 2\n  context: /b\n"
	    "  schemaFilePath: api.json\n", &e);
	assert_int_equal(add(&set, "api.json", oa_json, &status, &err), 0);
	assert_int_equal(schemas_check(&e, &set, &err), 0);
	assert_string_equal(set.f[0].media_type, "application/json");

	memset(&set, 0, sizeof(set));
	parse_eps("version: 0.1\nendpoints:\n- name: chat\n  port: 1\n"
	    "  type: WS\n  context: /chat\n  schemaFilePath: chat.yaml\n", &e);
	assert_int_equal(add(&set, "chat.yaml", "asyncapi: 3.0.0\ninfo: {title: "
	    "T, version: 1}\n", &status, &err), 0);
	if (schemas_check(&e, &set, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(set.f[0].kind, "asyncapi");
	assert_string_equal(set.f[0].media_type, "application/yaml");
}

struct set_case {
	const char *yaml;
	const char *files[3][2];   /* name, content */
	const char *code, *msg;
};

static const struct set_case set_cases[] = {
	{ EPS, { { "openapi.yaml", oa } }, "missing_schema",
	  "endpoints.yaml line 11: endpoint \"graph\" names schema file "
	  "schema.graphql, which was not uploaded" },
	{ EPS, { { "openapi.yaml", oa }, { "schema.graphql", gql },
	  { "extra.yaml", oa } }, "unused_schema", "extra.yaml was uploaded" },
	{ EPS, { { "openapi.yaml", gql }, { "schema.graphql", gql } },
	  "invalid_schema", "openapi.yaml line 1: not an OpenAPI document" },
	{ EPS, { { "openapi.yaml", oa }, { "schema.graphql", oa } },
	  "invalid_schema", "schema.graphql line 1, column 1: expected a "
	  "definition" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 1\n  context: /a\n"
	  "  schemaFilePath: api/openapi.yaml\n", { { "openapi.yaml", oa } },
	  "invalid_endpoints", "endpoints.yaml line 6: schemaFilePath must be a "
	  "file name" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 1\n  type: WS\n"
	  "  context: /a\n  schemaFilePath: async.yaml\n", { { "async.yaml", oa } },
	  "invalid_schema", "async.yaml line 1: this is an OpenAPI document (for "
	  "a REST endpoint); a WS endpoint's schema is an AsyncAPI document" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 1\n  context: /a\n"
	  "  schemaFilePath: s\n- name: b\n  port: 2\n  type: GraphQL\n"
	  "  context: /b\n  schemaFilePath: s\n", { { "s", oa } },
	  "invalid_endpoints", "line 11: s is named by endpoints of different "
	  "types" },
	{ "version: 0.1\nendpoints:\n- name: a\n  port: 1\n  context: /a\n",
	  { { "openapi.yaml", oa } }, "unused_schema", "no endpoint's "
	  "schemaFilePath names it" },
};

static void
test_set_bad(void **state)
{
	struct endpoints e;
	struct schema_set set;
	struct error err;
	size_t i, k;
	int status;

	(void)state;
	for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		memset(&set, 0, sizeof(set));
		memset(&err, 0, sizeof(err));
		parse_eps(c->yaml, &e);
		for (k = 0; k < 3 && c->files[k][0] != NULL; k++)
			assert_int_equal(add(&set, c->files[k][0], c->files[k][1],
			    &status, &err), 0);
		if (schemas_check(&e, &set, &err) == 0)
			fail_msg("case %zu accepted", i);
		if (strcmp(err.code, c->code) != 0 || strstr(err.msg, c->msg) == NULL)
			fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i,
			    err.code, err.msg, c->code, c->msg);
	}
}

static void
test_set_add(void **state)
{
	static unsigned char big[SCHEMA_FILE_MAX + 1];
	struct schema_set set = { 0 };
	struct error err;
	char name[32];
	int status, i;

	(void)state;
	assert_int_equal(add(&set, "../x.yaml", oa, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "invalid_schema_name");
	assert_int_equal(schemas_add(&set, "big.yaml", big, sizeof(big), &status,
	    &err), -1);
	assert_int_equal(status, 413);
	assert_string_equal(err.code, "schema_too_large");
	for (i = 0; i < SCHEMAS_MAX; i++) {
		snprintf(name, sizeof(name), "f%d.yaml", i);
		assert_int_equal(add(&set, name, oa, &status, &err), 0);
	}
	assert_int_equal(add(&set, "f0.yaml", oa, &status, &err), -1);
	assert_string_equal(err.code, "duplicate_schema");
	assert_int_equal(add(&set, "f10.yaml", oa, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "too_many_schemas");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openapi),
		cmocka_unit_test(test_asyncapi),
		cmocka_unit_test(test_graphql),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_set_good),
		cmocka_unit_test(test_set_bad),
		cmocka_unit_test(test_set_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
