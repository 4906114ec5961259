/*
 * test_json.c: the validated getters of json.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/json.h"

static json_t *
load(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_ALLOW_NUL, &e);

	assert_non_null(v);
	return v;
}

static void
test_string_ok(void **state)
{
	json_t *o = load("{\"name\":\"web\",\"empty\":\"\",\"nul\":null}");
	struct error err;

	(void)state;
	error_clear(&err);
	assert_string_equal(json_get_string(o, "name", 63, 1, &err), "web");
	assert_string_equal(json_get_string(o, "empty", 63, 0, &err), "");
	assert_null(json_get_string(o, "absent", 63, 0, &err));
	assert_null(json_get_string(o, "nul", 63, 0, &err));
	assert_string_equal(err.code, "");
	json_decref(o);
}

static void
test_string_errors(void **state)
{
	json_t *o = load("{\"n\":5,\"long\":\"abcdefgh\",\"e\":\"\",\"z\":\"a\\u0000b\"}");
	struct error err;

	(void)state;
	error_clear(&err);
	assert_null(json_get_string(o, "missing", 10, 1, &err));
	assert_string_equal(err.code, "missing_field");
	assert_string_equal(err.field, "missing");
	assert_null(json_get_string(o, "n", 10, 1, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_string_equal(err.field, "n");
	assert_string_equal(err.msg, "n must be a string of at most 10 bytes");
	assert_null(json_get_string(o, "long", 7, 0, &err));
	assert_string_equal(err.field, "long");
	assert_non_null(json_get_string(o, "long", 8, 0, &err));
	assert_null(json_get_string(o, "e", 8, 1, &err));
	assert_string_equal(err.code, "invalid_field");
	error_clear(&err);
	assert_null(json_get_string(o, "z", 8, 0, &err));
	assert_string_equal(err.code, "invalid_field");
	assert_string_equal(err.field, "z");
	json_decref(o);
}

static void
test_int(void **state)
{
	json_t *o = load("{\"d\":30,\"neg\":-1,\"f\":1.5,\"s\":\"3\",\"big\":99999999999}");
	struct error err;
	long long v = 7;

	(void)state;
	error_clear(&err);
	assert_int_equal(json_get_int(o, "d", 1, 365, 1, &v, &err), 0);
	assert_int_equal(v, 30);
	v = 7;
	assert_int_equal(json_get_int(o, "absent", 1, 365, 0, &v, &err), 0);
	assert_int_equal(v, 7);
	assert_int_equal(json_get_int(o, "absent", 1, 365, 1, &v, &err), -1);
	assert_string_equal(err.code, "missing_field");
	assert_int_equal(json_get_int(o, "neg", 0, 365, 1, &v, &err), -1);
	assert_string_equal(err.code, "invalid_field");
	assert_string_equal(err.msg, "neg must be an integer between 0 and 365");
	assert_int_equal(json_get_int(o, "f", 0, 365, 1, &v, &err), -1);
	assert_int_equal(json_get_int(o, "s", 0, 365, 1, &v, &err), -1);
	assert_int_equal(json_get_int(o, "big", 0, 365, 1, &v, &err), -1);
	assert_string_equal(err.field, "big");
	assert_int_equal(v, 7);
	json_decref(o);
}

static void
test_only_keys(void **state)
{
	static const char *const allowed[] = { "name", "image", NULL };
	json_t *o = load("{\"name\":\"a\",\"image\":\"b\"}");
	json_t *bad = load("{\"name\":\"a\",\"imgae\":\"b\"}");
	json_t *arr = load("[1]");
	struct error err;

	(void)state;
	error_clear(&err);
	assert_int_equal(json_only_keys(o, allowed, &err), 0);
	assert_int_equal(json_only_keys(bad, allowed, &err), -1);
	assert_string_equal(err.code, "unknown_field");
	assert_string_equal(err.field, "imgae");
	assert_int_equal(json_only_keys(arr, allowed, &err), -1);
	assert_int_equal(json_only_keys(NULL, allowed, &err), -1);
	json_decref(o);
	json_decref(bad);
	json_decref(arr);
}

static void
test_error_truncation(void **state)
{
	struct error err;
	char key[200];

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	error_set(&err, "missing_field", key, "%s is required", key);
	assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
	assert_true(strlen(err.msg) < sizeof(err.msg));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_ok),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_only_keys),
		cmocka_unit_test(test_error_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
