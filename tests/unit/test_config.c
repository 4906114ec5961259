/*
 * test_config.c: config_load() defaults, types, validation and secrets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"

static struct {
	char *addr;
	int port;
	int timeout;
	char *token;
	char *kek;
	char *key;
	char *opt;
} cfg;

static const struct config_var vars[] = {
	{ "T_ADDR", CONFIG_STRING, "127.0.0.1", 0, "listen address", &cfg.addr },
	{ "T_PORT", CONFIG_PORT, "8081", 0, "listen port", &cfg.port },
	{ "T_TIMEOUT", CONFIG_INT, "30", 0, "seconds", &cfg.timeout },
	{ "T_TOKEN", CONFIG_STRING, NULL, CONFIG_REQUIRED | CONFIG_SECRET, "admin", &cfg.token },
	{ "T_KEK", CONFIG_FILE, NULL, 0, "keyring", &cfg.kek },
	{ "T_OPT", CONFIG_STRING, NULL, 0, "optional", &cfg.opt },
	{ "T_KEY", CONFIG_KEY_FILE, NULL, 0, "private key", &cfg.key },
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static int
reset(void **state)
{
	(void)state;
	unsetenv("T_ADDR");
	unsetenv("T_PORT");
	unsetenv("T_TIMEOUT");
	unsetenv("T_KEK");
	unsetenv("T_OPT");
	unsetenv("T_KEY");
	setenv("T_TOKEN", "tok", 1);
	memset(&cfg, 0, sizeof(cfg));
	return 0;
}

static int
cleanup(void **state)
{
	(void)state;
	config_free(vars, NVARS);
	return 0;
}

static int
load(struct error *err)
{
	config_free(vars, NVARS);
	error_clear(err);
	return config_load(vars, NVARS, err);
}

static void
test_defaults(void **state)
{
	struct error err;

	(void)state;
	assert_int_equal(load(&err), 0);
	assert_string_equal(cfg.addr, "127.0.0.1");
	assert_int_equal(cfg.port, 8081);
	assert_int_equal(cfg.timeout, 30);
	assert_string_equal(cfg.token, "tok");
	assert_null(cfg.kek);
	assert_null(cfg.opt);
}

static void
test_env_values(void **state)
{
	struct error err;

	(void)state;
	setenv("T_ADDR", "0.0.0.0", 1);
	setenv("T_PORT", "65535", 1);
	setenv("T_TIMEOUT", "0", 1);
	setenv("T_OPT", "", 1);
	assert_int_equal(load(&err), 0);
	assert_string_equal(cfg.addr, "0.0.0.0");
	assert_int_equal(cfg.port, 65535);
	assert_int_equal(cfg.timeout, 0);
	assert_string_equal(cfg.opt, "");
}

static void
expect_invalid(const char *name, const char *value)
{
	struct error err;

	reset(NULL);
	setenv(name, value, 1);
	assert_int_equal(load(&err), -1);
	assert_string_equal(err.field, name);
	assert_string_equal(err.code, "invalid_config");
}

static void
test_invalid(void **state)
{
	(void)state;
	expect_invalid("T_PORT", "0");
	expect_invalid("T_PORT", "65536");
	expect_invalid("T_PORT", "80x");
	expect_invalid("T_PORT", "-1");
	expect_invalid("T_PORT", " 80");
	expect_invalid("T_TIMEOUT", "-5");
	expect_invalid("T_TIMEOUT", "99999999999");
	expect_invalid("T_KEK", "/nonexistent/kek");
	expect_invalid("T_KEK", "/tmp");
}

static void
test_required_and_secret(void **state)
{
	struct error err;

	(void)state;
	unsetenv("T_TOKEN");
	assert_int_equal(load(&err), -1);
	assert_string_equal(err.code, "missing_config");
	assert_string_equal(err.field, "T_TOKEN");
	setenv("T_TOKEN", "", 1);
	assert_int_equal(load(&err), -1);
	assert_string_equal(err.field, "T_TOKEN");
}

static void
test_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct error err;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	setenv("T_KEK", path, 1);
	assert_int_equal(load(&err), 0);
	assert_string_equal(cfg.kek, path);
	unlink(path);
}

/* A key file is also refused when group or others may read it. */
static void
test_key_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct error err;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	setenv("T_KEY", path, 1);
	assert_int_equal(load(&err), 0);   /* mkstemp: 0600 */
	assert_string_equal(cfg.key, path);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(load(&err), -1);
	assert_string_equal(err.code, "invalid_config");
	assert_string_equal(err.field, "T_KEY");
	assert_non_null(strstr(err.msg, "T_KEY: "));
	assert_non_null(strstr(err.msg, "has mode 0644"));
	assert_null(cfg.key);
	expect_invalid("T_KEY", "/nonexistent/key");
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_env_values, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_invalid, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_required_and_secret, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_file, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_key_file, reset, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
