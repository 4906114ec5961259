/*
 * test_bus_security.c: the Kafka client security settings from the
 * SLIPWAY_KAFKA_* rows: the combinations refused, the librdkafka settings
 * made, the password file read once and its trailing newline dropped.
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

#include "lib/bus_security.h"

static const struct config_var vars[] = { CONFIG_VARS_KAFKA_SECURITY };
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static const char *const names[] = { "SLIPWAY_KAFKA_SECURITY_PROTOCOL",
	"SLIPWAY_KAFKA_SASL_MECHANISM", "SLIPWAY_KAFKA_USERNAME",
	"SLIPWAY_KAFKA_PASSWORD", "SLIPWAY_KAFKA_PASSWORD_FILE",
	"SLIPWAY_KAFKA_CA_FILE" };

static int
reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
	bus_security_reset();
	return 0;
}

static int
cleanup(void **state)
{
	(void)state;
	config_free(vars, NVARS);
	bus_security_reset();
	return 0;
}

/* Loads the rows and asks for the settings; returns their result. */
static int
settings(const char **kv, struct error *err)
{
	error_clear(err);
	assert_int_equal(config_load(vars, NVARS, err), 0);
	return bus_security_settings(kv, BUS_SECURITY_KV_MAX, err);
}

static const char *
value_of(const char **kv, const char *name)
{
	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void
test_plaintext_default(void **state)
{
	const char *kv[BUS_SECURITY_KV_MAX];
	struct error err;

	(void)state;
	assert_int_equal(settings(kv, &err), 0);
	assert_string_equal(value_of(kv, "security.protocol"), "plaintext");
	assert_null(value_of(kv, "sasl.username"));
}

static void
test_sasl_with_password(void **state)
{
	const char *kv[BUS_SECURITY_KV_MAX];
	struct error err;

	(void)state;
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("SLIPWAY_KAFKA_USERNAME", "deploy-svc", 1);
	setenv("SLIPWAY_KAFKA_PASSWORD", "s3cret-pw", 1);
	assert_int_equal(settings(kv, &err), 0);
	assert_string_equal(value_of(kv, "security.protocol"), "sasl_plaintext");
	assert_string_equal(value_of(kv, "sasl.mechanisms"), "SCRAM-SHA-256");
	assert_string_equal(value_of(kv, "sasl.username"), "deploy-svc");
	assert_string_equal(value_of(kv, "sasl.password"), "s3cret-pw");
	assert_null(value_of(kv, "ssl.ca.location"));
}

static void
test_password_file(void **state)
{
	const char *kv[BUS_SECURITY_KV_MAX];
	char path[] = "/tmp/test_bus_security_XXXXXX";
	struct error err;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from-file\n", 10), 10);
	close(fd);
	chmod(path, 0600);
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_ssl", 1);
	setenv("SLIPWAY_KAFKA_USERNAME", "agent-a", 1);
	setenv("SLIPWAY_KAFKA_PASSWORD_FILE", path, 1);
	setenv("SLIPWAY_KAFKA_CA_FILE", path, 1);   /* any readable file */
	assert_int_equal(settings(kv, &err), 0);
	assert_string_equal(value_of(kv, "sasl.password"), "from-file");
	assert_string_equal(value_of(kv, "ssl.ca.location"), path);
	/* Read once: the file going away changes nothing. */
	unlink(path);
	assert_int_equal(bus_security_settings(kv, BUS_SECURITY_KV_MAX, &err), 0);
	assert_string_equal(value_of(kv, "sasl.password"), "from-file");
}

/* The settings are refused with field and a message containing want. */
static void
expect_refused(const char *field, const char *want)
{
	const char *kv[BUS_SECURITY_KV_MAX];
	struct error err;

	assert_int_equal(settings(kv, &err), -1);
	assert_string_equal(err.field, field);
	assert_non_null(strstr(err.msg, want));
	assert_null(strstr(err.msg, "s3cret"));
	/* The failure is remembered. */
	assert_int_equal(bus_security_settings(kv, BUS_SECURITY_KV_MAX, &err), -1);
	config_free(vars, NVARS);
	reset(NULL);
}

static void
test_refused(void **state)
{
	(void)state;
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "ssl", 1);
	expect_refused("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "must be plaintext");
	setenv("SLIPWAY_KAFKA_USERNAME", "x", 1);
	expect_refused("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "need");
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("SLIPWAY_KAFKA_PASSWORD", "s3cret", 1);
	expect_refused("SLIPWAY_KAFKA_USERNAME", "required");
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("SLIPWAY_KAFKA_USERNAME", "x", 1);
	expect_refused("SLIPWAY_KAFKA_PASSWORD", "exactly one");
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("SLIPWAY_KAFKA_USERNAME", "x", 1);
	setenv("SLIPWAY_KAFKA_PASSWORD", "s3cret", 1);
	setenv("SLIPWAY_KAFKA_SASL_MECHANISM", "GSSAPI", 1);
	expect_refused("SLIPWAY_KAFKA_SASL_MECHANISM", "must be SCRAM-SHA-256");
	setenv("SLIPWAY_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
	setenv("SLIPWAY_KAFKA_USERNAME", "x", 1);
	setenv("SLIPWAY_KAFKA_PASSWORD", "s3cret", 1);
	setenv("SLIPWAY_KAFKA_CA_FILE", "/etc/hostname", 1);
	expect_refused("SLIPWAY_KAFKA_CA_FILE", "sasl_ssl");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plaintext_default, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_sasl_with_password, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_password_file, reset, cleanup),
		cmocka_unit_test_setup_teardown(test_refused, reset, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
