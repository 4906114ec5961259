// uses: services/registry-svc/reg_served.c
/*
 * test_reg_served.c: the diff behind sealing and withdrawing credentials
 * (reg_served_diff): what a binding or a grant adds and what it takes away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "registry-svc/registry.h"

/* A modifiable string: the lists hold char *, as the store returns them. */
#define S(lit) ((char[]){ lit })
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_added_and_removed(void **state)
{
	char *before[] = { S("local"), S("edge") };
	char *after[] = { S("edge"), S("eu") };
	const char *out[2];

	(void)state;
	assert_int_equal(reg_served_diff(after, N(after), before, N(before), out),
	    1);
	assert_string_equal(out[0], "eu");
	assert_int_equal(reg_served_diff(before, N(before), after, N(after), out),
	    1);
	assert_string_equal(out[0], "local");
}

static void
test_empty_sides(void **state)
{
	char *some[] = { S("a"), S("b") };
	const char *out[2];

	(void)state;
	/* A first binding adds everything; the last one going removes all. */
	assert_int_equal(reg_served_diff(some, N(some), NULL, 0, out), 2);
	assert_string_equal(out[0], "a");
	assert_string_equal(out[1], "b");
	assert_int_equal(reg_served_diff(NULL, 0, some, N(some), out), 0);
}

static void
test_same_sets_change_nothing(void **state)
{
	char *a[] = { S("x"), S("y"), S("z") };
	char *b[] = { S("z"), S("x"), S("y") };
	const char *out[3];

	(void)state;
	/* An environment moved between two data planes the org already uses. */
	assert_int_equal(reg_served_diff(a, N(a), b, N(b), out), 0);
	assert_int_equal(reg_served_diff(b, N(b), a, N(a), out), 0);
}

static void
test_repeats_once(void **state)
{
	char *from[] = { S("d1"), S("d1"), S("d2") };
	char *minus[] = { S("d2") };
	const char *out[3];

	(void)state;
	assert_int_equal(reg_served_diff(from, N(from), minus, N(minus), out), 1);
	assert_string_equal(out[0], "d1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_added_and_removed),
		cmocka_unit_test(test_empty_sides),
		cmocka_unit_test(test_same_sets_change_nothing),
		cmocka_unit_test(test_repeats_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
