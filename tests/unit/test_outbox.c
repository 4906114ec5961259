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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
