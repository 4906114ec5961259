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

/* Well-formed UTF-8 only, and the byte cap; jansson is the referee. */
static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t max;
		int ok;
	} cases[] = {
		{ "", 0, 1 }, { "plain", 5, 1 }, { "plain", 4, 0 },
		{ "tab\tnl\nesc\x1b", 64, 1 },
		{ "\xc3\xa9", 2, 1 }, { "\xc3\xa9", 1, 0 },
		{ "\xe2\x82\xac", 3, 1 }, { "\xf0\x9f\x98\x80", 4, 1 },
		{ "\xf4\x8f\xbf\xbf", 4, 1 },           /* U+10FFFF */
		{ "\xed\x9f\xbf", 3, 1 },                /* U+D7FF */
		{ "\xee\x80\x80", 3, 1 },                /* U+E000 */
		{ "\xf4\x90\x80\x80", 8, 0 },           /* past U+10FFFF */
		{ "\xed\xa0\x80", 8, 0 },                /* surrogate */
		{ "\xed\xbf\xbf", 8, 0 },
		{ "\xc0\x80", 8, 0 }, { "\xc1\xbf", 8, 0 },   /* overlong */
		{ "\xe0\x9f\xbf", 8, 0 }, { "\xf0\x8f\xbf\xbf", 8, 0 },
		{ "\x80", 8, 0 }, { "\xbf", 8, 0 },       /* lone continuation */
		{ "\xc3", 8, 0 }, { "\xe2\x82", 8, 0 },  /* cut */
		{ "\xf0\x9f\x98", 8, 0 }, { "\xc3(", 8, 0 },
		{ "\xf5\x80\x80\x80", 8, 0 }, { "\xfe", 8, 0 }, { "\xff", 8, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_string(cases[i].s);

		if (json_utf8_valid(cases[i].s, cases[i].max) != cases[i].ok)
			fail_msg("case %zu: want %d", i, cases[i].ok);
		/* Within the cap, it agrees with jansson's own check. */
		if (strlen(cases[i].s) <= cases[i].max &&
		    (j != NULL) != cases[i].ok)
			fail_msg("case %zu: jansson disagrees", i);
		json_decref(j);
	}
	assert_false(json_utf8_valid(NULL, 8));
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
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
