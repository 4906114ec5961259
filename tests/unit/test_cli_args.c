/*
 * test_cli_args.c: the CLI's argument parser — options with and without
 * values, "--opt=value", "--", --json/--help anywhere, and every refusal —
 * plus `key create`'s --role check and which key the CLI sends.
 */
// uses: services/cli/cli_args.c
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

#define SPEC "name= org=* host= password-stdin wait timeout="

static int
parse(struct cli_args *a, char *why, const char *const *argv, int argc)
{
	return cli_args_parse(argc, argv, SPEC, a, why, 128);
}

static void
test_options_and_positionals(void **state)
{
	const char *argv[] = { "acme", "--name", "local", "--host=127.0.0.1:5000",
	    "--password-stdin", "--json", "extra" };
	struct cli_args a;
	char why[128];

	(void)state;
	assert_int_equal(parse(&a, why, argv, 7), 0);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "acme");
	assert_string_equal(a.pos[1], "extra");
	assert_string_equal(cli_args_get(&a, "name"), "local");
	assert_string_equal(cli_args_get(&a, "host"), "127.0.0.1:5000");
	assert_true(cli_args_has(&a, "password-stdin"));
	assert_null(cli_args_get(&a, "password-stdin"));
	assert_false(cli_args_has(&a, "wait"));
	assert_true(a.json);
	assert_false(a.help);
}

static void
test_double_dash_and_help(void **state)
{
	const char *argv[] = { "-h", "--", "--name", "-x" };
	struct cli_args a;
	char why[128];

	(void)state;
	assert_int_equal(parse(&a, why, argv, 4), 0);
	assert_true(a.help);
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "--name");
	assert_string_equal(a.pos[1], "-x");
}

static void
test_refusals(void **state)
{
	static const struct {
		int argc;
		const char *argv[6];
		const char *want;
	} cases[] = {
		{ 1, { "--bogus" }, "unknown option --bogus" },
		{ 1, { "--nam" }, "unknown option --nam" },
		{ 1, { "--name" }, "option --name needs a value" },
		{ 1, { "--wait=1" }, "option --wait takes no value" },
		{ 4, { "--name", "a", "--name", "b" }, "option --name given twice" },
		{ 1, { "--a-very-long-option-name-that-is-not-in-the-spec" }, "unknown option" },
	};
	struct cli_args a;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(&a, why, cases[i].argv, cases[i].argc), -1);
		if (strstr(why, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, why, cases[i].want);
	}
	/* CLI_MAX_POS positionals fit (a component and 200 variables), one more
	 * does not. */
	{
		const char *many[CLI_MAX_POS + 1];

		for (i = 0; i < CLI_MAX_POS + 1; i++)
			many[i] = "KEY=VALUE";
		assert_int_equal(parse(&a, why, many, CLI_MAX_POS), 0);
		assert_int_equal(a.npos, CLI_MAX_POS);
		assert_int_equal(parse(&a, why, many, CLI_MAX_POS + 1), -1);
		assert_non_null(strstr(why, "too many arguments"));
	}
}

/* "org=*": the option may repeat, each value kept in order. */
static void
test_repeatable(void **state)
{
	const char *argv[] = { "--org", "acme", "local", "--org=beta", "--wait" };
	const char *once[] = { "--org", "acme" };
	struct cli_args a;
	char why[128];
	int i, n = 0;

	(void)state;
	assert_int_equal(parse(&a, why, argv, 5), 0);
	assert_int_equal(a.npos, 1);
	for (i = 0; i < a.nopts; i++)
		if (strcmp(a.opts[i].name, "org") == 0)
			assert_string_equal(a.opts[i].value, n++ ? "beta" : "acme");
	assert_int_equal(n, 2);
	assert_true(cli_args_has(&a, "wait"));
	assert_int_equal(parse(&a, why, once, 2), 0);
	assert_string_equal(cli_args_get(&a, "org"), "acme");
}

static void
test_long_values(void **state)
{
	const char *argv[] = { "--timeout", "30" };
	const char *bad[] = { "--timeout=0" };
	const char *junk[] = { "--timeout", "12s" };
	struct cli_args a;
	char why[128];

	(void)state;
	assert_int_equal(parse(&a, why, argv, 2), 0);
	assert_int_equal(cli_args_long(&a, "timeout", 300, 86400), 30);
	assert_int_equal(cli_args_long(&a, "missing", 300, 86400), 300);
	assert_int_equal(cli_args_long(&a, "timeout", 300, 10), -1);
	assert_int_equal(parse(&a, why, bad, 1), 0);
	assert_int_equal(cli_args_long(&a, "timeout", 300, 86400), -1);
	assert_int_equal(parse(&a, why, junk, 2), 0);
	assert_int_equal(cli_args_long(&a, "timeout", 300, 86400), -1);
}

/* `key create --role`: exactly one of the words, nothing near it. */
static void
test_role_words(void **state)
{
	static const char *const good[] = { "viewer", "deployer", "admin" };
	static const char *const bad[] = { "", "owner", "Admin", "admi",
	    "admins", "viewer ", " viewer", "deployer admin", "view" };
	const char *argv[] = { "acme", "--name", "ci", "--role", "deployer" };
	struct cli_args a;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(cli_args_word(good[i], "viewer deployer admin"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_args_word(bad[i], "viewer deployer admin"))
			fail_msg("\"%s\" taken for a role", bad[i]);
	assert_int_equal(cli_args_parse(5, argv, "name= role=", &a, why,
	    sizeof(why)), 0);
	assert_string_equal(a.pos[0], "acme");
	assert_string_equal(cli_args_get(&a, "role"), "deployer");
}

/* SLIPWAY_API_KEY wins over SLIPWAY_ADMIN_TOKEN; an empty one is unset. */
static void
test_credential(void **state)
{
	(void)state;
	assert_string_equal(cli_args_credential("slk_a", "op"), "slk_a");
	assert_string_equal(cli_args_credential(NULL, "op"), "op");
	assert_string_equal(cli_args_credential("", "op"), "op");
	assert_string_equal(cli_args_credential("slk_a", NULL), "slk_a");
	assert_string_equal(cli_args_credential("slk_a", ""), "slk_a");
	assert_null(cli_args_credential(NULL, NULL));
	assert_null(cli_args_credential("", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_positionals),
		cmocka_unit_test(test_double_dash_and_help),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_repeatable),
		cmocka_unit_test(test_role_words),
		cmocka_unit_test(test_credential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
