// uses: services/deploy-svc/deploy_config_input.c
/*
 * test_deploy_config_input.c: the checks of configuration and secrets
 * input (table-driven: each case breaks one rule, with the status and
 * error code it must give).
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

static json_t *
body_of(const char *text)
{
	json_error_t jerr;
	json_t *b = json_loads(text, JSON_ALLOW_NUL, &jerr);

	if (b == NULL)
		fail_msg("test body does not parse: %s: %s", text, jerr.text);
	return b;
}

static void
test_names(void **state)
{
	static const char *const good[] = { "A", "_", "a_b", "GREETING", "X1",
	    "_9", NULL };
	static const char *const bad[] = { "", "1A", "A-B", "A B", "A=B", "é",
	    "A.B", NULL };
	char longname[DEPLOY_CONFIG_NAME_MAX + 2];

	(void)state;
	for (int i = 0; good[i] != NULL; i++)
		assert_true(deploy_config_input_name_valid(good[i]));
	for (int i = 0; bad[i] != NULL; i++)
		assert_false(deploy_config_input_name_valid(bad[i]));
	assert_false(deploy_config_input_name_valid(NULL));
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(deploy_config_input_name_valid(longname));
	longname[DEPLOY_CONFIG_NAME_MAX] = '\0';
	assert_true(deploy_config_input_name_valid(longname));
	assert_true(deploy_config_input_name_reserved("PORT"));
	assert_false(deploy_config_input_name_reserved("PORTS"));
}

static void
test_check(void **state)
{
	struct error err;
	int status = 0;
	char *big = malloc(DEPLOY_CONFIG_VALUE_MAX + 1);

	(void)state;
	memset(big, 'x', DEPLOY_CONFIG_VALUE_MAX + 1);
	assert_int_equal(deploy_config_input_check("OK", big,
	    DEPLOY_CONFIG_VALUE_MAX, &status, &err), 0);
	assert_int_equal(deploy_config_input_check("OK", big,
	    DEPLOY_CONFIG_VALUE_MAX + 1, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "value_too_large");
	assert_int_equal(deploy_config_input_check("PORT", "1", 1, &status,
	    &err), -1);
	assert_string_equal(err.code, "reserved_name");
	assert_int_equal(deploy_config_input_check("A", "a\0b", 3, &status,
	    &err), -1);
	assert_string_equal(err.code, "invalid_value");
	assert_int_equal(deploy_config_input_check("0A", NULL, 0, &status,
	    &err), -1);
	assert_string_equal(err.code, "invalid_name");
	free(big);
}

static void
test_vars_bodies(void **state)
{
	static const struct {
		const char *body;
		int status;
		const char *code;   /* NULL: accepted */
	} cases[] = {
		{ "{\"vars\": {}}", 0, NULL },
		{ "{\"vars\": {\"A\": \"1\", \"B_2\": \"\"}}", 0, NULL },
		{ "{}", 400, "missing_field" },
		{ "{\"vars\": []}", 400, "invalid_field" },
		{ "{\"vars\": {}, \"x\": 1}", 400, "unknown_field" },
		{ "{\"vars\": {\"A\": 1}}", 422, "invalid_value" },
		{ "{\"vars\": {\"A\": null}}", 422, "invalid_value" },
		{ "{\"vars\": {\"A-B\": \"1\"}}", 422, "invalid_name" },
		{ "{\"vars\": {\"PORT\": \"80\"}}", 422, "reserved_name" },
		{ "{\"vars\": {\"A\": \"x\\u0000y\"}}", 422, "invalid_value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *b = body_of(cases[i].body);
		struct error err;
		int status = 0;
		int rc;

		error_clear(&err);
		rc = deploy_config_input_vars(b, &status, &err);
		if (cases[i].code == NULL) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(status, cases[i].status);
			assert_string_equal(err.code, cases[i].code);
		}
		json_decref(b);
	}
}

static void
test_count_and_total(void **state)
{
	json_t *vars = json_object(), *b;
	struct error err;
	int status;
	char name[16];

	(void)state;
	for (int i = 0; i < DEPLOY_CONFIG_VARS_MAX + 1; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		json_object_set_new(vars, name, json_string("x"));
	}
	b = json_pack("{s:O}", "vars", vars);
	assert_int_equal(deploy_config_input_vars(b, &status, &err), -1);
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "too_many_variables");
	json_object_del(vars, "V0");
	json_decref(b);
	b = json_pack("{s:O}", "vars", vars);
	assert_int_equal(deploy_config_input_vars(b, &status, &err), 0);
	json_decref(b);
	assert_int_equal(deploy_config_input_count(DEPLOY_CONFIG_VARS_MAX,
	    DEPLOY_CONFIG_TOTAL_MAX + 1, &status, &err), -1);
	assert_string_equal(err.code, "config_too_large");
	/* V1..V9, V10..V99, V100..V200, each "x". */
	assert_int_equal(deploy_config_input_total(vars, NULL),
	    9 * 2 + 90 * 3 + 101 * 4 + 200);
	json_decref(vars);
}

static void
test_secret_bodies(void **state)
{
	struct error err;
	size_t len = 0;
	int status = 0;
	json_t *b;
	char *big;

	(void)state;
	b = body_of("{\"value\": \"hunter2\"}");
	assert_string_equal(deploy_config_input_secret(b, &len, &status, &err),
	    "hunter2");
	assert_int_equal(len, 7);
	json_decref(b);
	b = body_of("{\"value\": 5}");
	assert_null(deploy_config_input_secret(b, &len, &status, &err));
	assert_int_equal(status, 400);
	json_decref(b);
	b = body_of("{\"val\": \"x\"}");
	assert_null(deploy_config_input_secret(b, &len, &status, &err));
	assert_string_equal(err.code, "unknown_field");
	json_decref(b);
	big = malloc(DEPLOY_CONFIG_VALUE_MAX + 2);
	memset(big, 'x', DEPLOY_CONFIG_VALUE_MAX + 1);
	big[DEPLOY_CONFIG_VALUE_MAX + 1] = '\0';
	b = json_pack("{s:s}", "value", big);
	assert_null(deploy_config_input_secret(b, &len, &status, &err));
	assert_int_equal(status, 422);
	assert_string_equal(err.code, "value_too_large");
	json_decref(b);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_vars_bodies),
		cmocka_unit_test(test_count_and_total),
		cmocka_unit_test(test_secret_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
