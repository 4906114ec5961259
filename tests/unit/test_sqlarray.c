/*
 * test_sqlarray.c: the array literals a batch's columns travel in
 * (sqlarray.h): every element quoted and escaped, so no value can end its
 * element or the array early; NULL as SQL NULL; bytea in hex form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sqlarray.h"

static void
test_empty(void **state)
{
	struct sqlarray a;

	(void)state;
	sqlarray_init(&a);
	assert_string_equal(sqlarray_finish(&a), "{}");
	sqlarray_free(&a);
}

static void
test_text_escaped(void **state)
{
	struct sqlarray a;

	(void)state;
	sqlarray_init(&a);
	sqlarray_text(&a, "plain");
	sqlarray_text(&a, "");
	sqlarray_text(&a, NULL);
	sqlarray_text(&a, "NULL");
	sqlarray_text(&a, "a\"b\\c,{d}");
	assert_int_equal(a.n, 5);
	assert_string_equal(sqlarray_finish(&a),
	    "{\"plain\",\"\",NULL,\"NULL\",\"a\\\"b\\\\c,{d}\"}");
	sqlarray_free(&a);
}

static void
test_bytes_and_ints(void **state)
{
	static const unsigned char b[] = { 0x00, 0x0a, 0xff, '"' };
	struct sqlarray bytes, ints;

	(void)state;
	sqlarray_init(&bytes);
	sqlarray_bytes(&bytes, b, sizeof(b));
	sqlarray_bytes(&bytes, NULL, 0);
	sqlarray_bytes(&bytes, b, 0);
	/* Inside the quotes "\\\\x" is the two characters \x bytea expects. */
	assert_string_equal(sqlarray_finish(&bytes),
	    "{\"\\\\x000aff22\",NULL,\"\\\\x\"}");
	sqlarray_init(&ints);
	sqlarray_int(&ints, 0);
	sqlarray_int(&ints, -7);
	sqlarray_int(&ints, 4294967296LL);
	assert_string_equal(sqlarray_finish(&ints), "{0,-7,4294967296}");
	sqlarray_free(&bytes);
	sqlarray_free(&ints);
}

/* Growth past the first allocation keeps every element. */
static void
test_large(void **state)
{
	struct sqlarray a;
	const char *s;
	size_t commas = 0;

	(void)state;
	sqlarray_init(&a);
	for (int i = 0; i < 5000; i++)
		sqlarray_text(&a, "0123456789abcdef0123456789abcdef0123");
	s = sqlarray_finish(&a);
	assert_non_null(s);
	for (const char *p = s; *p != '\0'; p++)
		commas += *p == ',';
	assert_int_equal(commas, 4999);
	assert_int_equal(strlen(s), 2 + 5000 * 38 + 4999);
	sqlarray_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_text_escaped),
		cmocka_unit_test(test_bytes_and_ints),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
