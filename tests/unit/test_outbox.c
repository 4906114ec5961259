/*
 * test_outbox.c: what the outbox refuses before it touches the database: a
 * payload larger than every consumer accepts (envelope.h ENVELOPE_MAX)
 * would be published and then rejected by all of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "error.h"
#include "outbox.h"

static void
test_payload_cap(void **state)
{
	unsigned char *big = calloc(1, ENVELOPE_MAX + 1);
	struct error err;

	(void)state;
	assert_non_null(big);
	error_clear(&err);
	/* No store: the cap is checked first, so nothing is ever written. */
	assert_int_equal(outbox_add(NULL, "t", "k", big, ENVELOPE_MAX + 1,
	    "e", "Test", &err), -1);
	assert_string_equal(err.code, "too_large");
	assert_non_null(strstr(err.msg, "262145 bytes"));
	free(big);
}

/* A batch with one payload over the cap names it and writes nothing. */
static void
test_many_payload_cap(void **state)
{
	static const unsigned char small[] = "x";
	unsigned char *big = calloc(1, ENVELOPE_MAX + 1);
	struct outbox_entry rows[3] = {
		{ "t", "k", small, 1, "e1", "Test" },
		{ "t", "k", big, ENVELOPE_MAX + 1, "e2", "Test" },
		{ "t", "k", small, 1, "e3", "Test" },
	};
	struct error err;
	size_t bad = 99;

	(void)state;
	assert_non_null(big);
	error_clear(&err);
	assert_int_equal(outbox_add_many(NULL, rows, 3, &bad, &err), -1);
	assert_string_equal(err.code, "too_large");
	assert_int_equal(bad, 1);
	/* Nothing to write: no statement, no store needed. */
	assert_int_equal(outbox_add_many(NULL, rows, 0, &bad, &err), 0);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_cap),
		cmocka_unit_test(test_many_payload_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
