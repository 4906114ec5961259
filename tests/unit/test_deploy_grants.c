// uses: services/deploy-svc/deploy_grants.c
/*
 * test_deploy_grants.c: the grants of POST /v1/dataplanes (orgs or shared,
 * table-driven) and the text[] literal they become.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"

struct grant_case {
	const char *body;
	int status;          /* 0 = accepted */
	const char *field;
	int given, shared;
	size_t n;
};

static const struct grant_case cases[] = {
	{ "{}", 0, NULL, 0, 0, 0 },
	{ "{\"shared\": true}", 0, NULL, 1, 1, 0 },
	{ "{\"orgs\": [\"acme\", \"Beta.co\"]}", 0, NULL, 1, 0, 2 },
	{ "{\"orgs\": [\"acme\"], \"shared\": false}", 0, NULL, 1, 0, 1 },
	{ "{\"orgs\": [\"acme\"], \"shared\": true}", 400, "orgs", 0, 0, 0 },
	{ "{\"shared\": false}", 400, "shared", 0, 0, 0 },
	{ "{\"shared\": 1}", 400, "shared", 0, 0, 0 },
	{ "{\"orgs\": []}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": \"acme\"}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": [\"acme\", \"acme\"]}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": [\"no way\"]}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": [\"-lead\"]}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": [7]}", 400, "orgs", 0, 0, 0 },
	{ "{\"orgs\": [\"\"]}", 400, "orgs", 0, 0, 0 },
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct grant_case *c = &cases[i];
		json_t *body = json_loads(c->body, 0, NULL);
		struct deploy_grants g;
		struct error err;
		int status = 0, rc;

		assert_non_null(body);
		error_clear(&err);
		rc = deploy_grants_parse(body, &g, &status, &err);
		if (c->status == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(g.given, c->given);
			assert_int_equal(g.shared, c->shared);
			assert_int_equal(g.n, c->n);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(status, c->status);
			assert_string_equal(err.field, c->field);
		}
		json_decref(body);
	}
}

static void
test_too_many_orgs(void **state)
{
	json_t *body = json_object(), *orgs = json_array();
	struct deploy_grants g;
	struct error err;
	char name[16];
	int status = 0;

	(void)state;
	for (int i = 0; i <= DEPLOY_GRANTS_MAX; i++) {
		snprintf(name, sizeof(name), "org%d", i);
		json_array_append_new(orgs, json_string(name));
	}
	json_object_set_new(body, "orgs", orgs);
	assert_int_equal(deploy_grants_parse(body, &g, &status, &err), -1);
	assert_int_equal(status, 400);
	/* Exactly the cap is fine. */
	json_array_remove(orgs, 0);
	assert_int_equal(deploy_grants_parse(body, &g, &status, &err), 0);
	assert_int_equal(g.n, DEPLOY_GRANTS_MAX);
	json_decref(body);
}

static void
test_new_needs_grants(void **state)
{
	struct deploy_grants g;
	struct error err;
	int status = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(deploy_grants_check_new(&g, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "dataplane_grant_required");
	g.given = 1;
	assert_int_equal(deploy_grants_check_new(&g, &status, &err), 0);
}

static void
test_literal(void **state)
{
	struct deploy_grants g;
	char buf[DEPLOY_GRANTS_LITERAL_MAX], small[8];

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(deploy_grants_literal(&g, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "{}");
	g.orgs[0] = "acme";
	g.orgs[1] = "null";   /* quoted: not the NULL element */
	g.n = 2;
	assert_int_equal(deploy_grants_literal(&g, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "{\"acme\",\"null\"}");
	assert_int_equal(deploy_grants_literal(&g, small, sizeof(small)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_too_many_orgs),
		cmocka_unit_test(test_new_needs_grants),
		cmocka_unit_test(test_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
