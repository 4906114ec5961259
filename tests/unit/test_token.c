/*
 * test_token.c: CI token shape and checksum — generate, validate, and reject
 * every single-character corruption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
setup(void **state)
{
	(void)state;
	crypto_init();
	return 0;
}

static void
test_generate_valid(void **state)
{
	char tok[TOKEN_LEN + 1], other[TOKEN_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		token_generate(tok);
		assert_int_equal(strlen(tok), TOKEN_LEN);
		assert_memory_equal(tok, "slp_", 4);
		assert_int_equal(strspn(tok + 4, base62), TOKEN_LEN - 4);
		assert_true(token_format_valid(tok, strlen(tok)));
	}
	token_generate(other);
	assert_string_not_equal(tok, other);
}

/* Every one-character change in the random or checksum part is caught. */
static void
test_corrupt_one_char(void **state)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	size_t i, j;

	(void)state;
	token_generate(tok);
	for (i = 4; i < TOKEN_LEN; i++) {
		for (j = 0; j < sizeof(base62) - 1; j++) {
			if (base62[j] == tok[i])
				continue;
			memcpy(bad, tok, sizeof(bad));
			bad[i] = base62[j];
			if (token_format_valid(bad, TOKEN_LEN))
				fail_msg("corruption at %zu to %c accepted", i, base62[j]);
		}
	}
}

static void
test_bad_shapes(void **state)
{
	char tok[TOKEN_LEN + 2];

	(void)state;
	token_generate(tok);
	assert_false(token_format_valid(tok, TOKEN_LEN - 1));
	assert_false(token_format_valid(NULL, TOKEN_LEN));
	assert_false(token_format_valid("", 0));
	tok[0] = 'S';
	assert_false(token_format_valid(tok, TOKEN_LEN));
	token_generate(tok);
	tok[10] = '-';
	assert_false(token_format_valid(tok, TOKEN_LEN));
	token_generate(tok);
	tok[10] = '\0';
	assert_false(token_format_valid(tok, TOKEN_LEN));
	token_generate(tok);
	tok[TOKEN_LEN] = 'a';
	tok[TOKEN_LEN + 1] = '\0';
	assert_false(token_format_valid(tok, TOKEN_LEN + 1));
}

/* Pins the checksum: CRC-32/IEEE (zlib's crc32) in base62, so tools in any
 * language can check a token. zlib.crc32(b"0" * 32) gives "2wjyrI". */
static void
test_known_vector(void **state)
{
	(void)state;
	assert_true(token_format_valid("slp_000000000000000000000000000000002wjyrI", TOKEN_LEN));
	assert_false(token_format_valid("slp_000000000000000000000000000000002wjyrJ", TOKEN_LEN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_valid),
		cmocka_unit_test(test_corrupt_one_char),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_known_vector),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
