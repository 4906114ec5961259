/*
 * test_dedup.c: what dedup_claim_many refuses before it touches the
 * database: an event without an id is named by its place in the batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dedup.h"
#include "error.h"

static void
test_many_empty_id(void **state)
{
	const char *ids[3] = { "a", "", "c" };
	int fresh[3] = { 7, 7, 7 };
	struct error err;
	size_t bad = 99;

	(void)state;
	error_clear(&err);
	assert_int_equal(dedup_claim_many(NULL, ids, 3, "test", fresh, &bad,
	    &err), -1);
	assert_string_equal(err.code, "bad_event");
	assert_int_equal(bad, 1);
	ids[1] = NULL;
	assert_int_equal(dedup_claim_many(NULL, ids, 3, "test", fresh, &bad,
	    &err), -1);
	assert_int_equal(bad, 1);
	assert_int_equal(dedup_claim_many(NULL, ids, 0, "test", fresh, &bad,
	    &err), 0);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_empty_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
