// uses: services/registry-svc/reg_input.c
// uses: services/registry-svc/reg_creds.c
/*
 * test_reg_patch.c: the registry PATCH body (reg_input_patch), table-driven:
 * what it renames, what it rotates, and every refusal with its status, code
 * and field. The create path (reg_input_parse) shares these checks and has
 * its own table in test_reg_input.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "registry-svc/registry.h"

#define HOST "127.0.0.1:5000"

struct patch_case {
	const char *body;
	int status;          /* 0 = accepted */
	const char *code, *field;
	const char *name;    /* accepted: the new name, NULL = kept */
	int auth;            /* accepted: the new auth type, 0 = kept */
	const char *user, *pass;
};

static const struct patch_case cases[] = {
	/* Accepted. */
	{ "{}", 0, NULL, NULL, NULL, 0, NULL, NULL },
	{ "{\"name\":\"new name\"}", 0, NULL, NULL, "new name", 0, NULL, NULL },
	{ "{\"name\":\"n\",\"host\":\"" HOST "\"}", 0, NULL, NULL, "n", 0, NULL,
	    NULL },
	{ "{\"auth_type\":\"basic\",\"username\":\"u\",\"password\":\"p\"}", 0,
	    NULL, NULL, NULL, REG_AUTH_BASIC, "u", "p" },
	{ "{\"username\":\"u\",\"password\":\"p\"}", 0, NULL, NULL, NULL,
	    REG_AUTH_BASIC, "u", "p" },
	{ "{\"name\":\"x\",\"auth_type\":\"anonymous\"}", 0, NULL, NULL, "x",
	    REG_AUTH_ANONYMOUS, "", NULL },
	{ "{\"auth_type\":\"vendor\",\"vendor\":\"ghcr\"}", 0, NULL, NULL, NULL,
	    REG_AUTH_VENDOR, "", NULL },
	{ "{\"docker_config\":{\"auths\":{\"" HOST "\":{\"auth\":\"dXNlcjpwYXNz\"}}}}",
	    0, NULL, NULL, NULL, REG_AUTH_DOCKER_CONFIG, "user", "pass" },
	/* The host's aliases are the same host. */
	{ "{\"host\":\"127.0.0.1:5000\"}", 0, NULL, NULL, NULL, 0, NULL, NULL },

	/* Malformed: 400. */
	{ "{\"hots\":\"x\"}", 400, "unknown_field", "hots", NULL, 0, NULL, NULL },
	{ "{\"name\":\"n\",\"id\":\"x\"}", 400, "unknown_field", "id", NULL, 0,
	    NULL, NULL },

	/* Invalid: 422, as a create answers. */
	{ "{\"host\":\"ghcr.io\"}", 422, "host_immutable", "host", NULL, 0, NULL,
	    NULL },
	{ "{\"host\":\"http://" HOST "\"}", 422, "invalid_host", "host", NULL, 0,
	    NULL, NULL },
	{ "{\"name\":\"\"}", 422, NULL, "name", NULL, 0, NULL, NULL },
	{ "{\"name\":null}", 422, NULL, "name", NULL, 0, NULL, NULL },
	{ "{\"name\":\"a\\u0001b\"}", 422, "invalid_name", "name", NULL, 0, NULL,
	    NULL },
	{ "{\"auth_type\":\"basic\",\"username\":\"u\"}", 422, "missing_field",
	    "password", NULL, 0, NULL, NULL },
	{ "{\"auth_type\":\"basic\",\"password\":\"p\"}", 422, NULL, "username",
	    NULL, 0, NULL, NULL },
	{ "{\"password\":\"p\"}", 422, "field_not_allowed", "password", NULL, 0,
	    NULL, NULL },
	{ "{\"auth_type\":\"anonymous\",\"username\":\"u\"}", 422,
	    "field_not_allowed", "username", NULL, 0, NULL, NULL },
	{ "{\"auth_type\":\"ldap\"}", 422, "invalid_auth_type", "auth_type",
	    NULL, 0, NULL, NULL },
	{ "{\"auth_type\":\"vendor\",\"vendor\":\"quay\"}", 422, "invalid_vendor",
	    "vendor", NULL, 0, NULL, NULL },
	/* A docker-config entry must name the registry's own host. */
	{ "{\"docker_config\":{\"auths\":{\"ghcr.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}}",
	    422, NULL, "docker_config", NULL, 0, NULL, NULL },
};

static void
test_patch_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct patch_case *c = &cases[i];
		struct reg_input in;
		struct error err;
		json_error_t jerr;
		json_t *body = json_loads(c->body, 0, &jerr);
		int status = 0, rc;

		assert_non_null(body);
		memset(&in, 0, sizeof(in));
		in.org = "acme";
		rc = reg_input_patch(body, HOST, &in, &status, &err);
		if (c->status != 0) {
			if (rc != -1 || status != c->status)
				fail_msg("case %zu %s: rc %d status %d", i, c->body, rc,
				    status);
			if (c->code != NULL && strcmp(err.code, c->code) != 0)
				fail_msg("case %zu %s: code %s", i, c->body, err.code);
			if (strcmp(err.field, c->field) != 0)
				fail_msg("case %zu %s: field %s", i, c->body, err.field);
		} else {
			if (rc != 0)
				fail_msg("case %zu %s: refused %s: %s", i, c->body,
				    err.code, err.msg);
			assert_string_equal(in.host, HOST);
			if (c->name == NULL)
				assert_null(in.name);
			else
				assert_string_equal(in.name, c->name);
			assert_int_equal(in.auth, c->auth);
			if (c->user != NULL)
				assert_string_equal(in.username, c->user);
			if (c->pass == NULL)
				assert_null(in.password);
			else {
				assert_int_equal(in.password_len, strlen(c->pass));
				assert_memory_equal(in.password, c->pass, in.password_len);
			}
		}
		reg_input_free(&in);
		json_decref(body);
	}
}

/* The name cap is the create's: 100 bytes. */
static void
test_patch_name_size(void **state)
{
	char name[REG_NAME_MAX + 2];
	struct reg_input in;
	struct error err;
	json_t *body;
	int status;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	body = json_pack("{s:s}", "name", name);
	memset(&in, 0, sizeof(in));
	assert_int_equal(reg_input_patch(body, HOST, &in, &status, &err), -1);
	assert_int_equal(status, 422);
	name[REG_NAME_MAX] = '\0';
	json_object_set_new(body, "name", json_string(name));
	assert_int_equal(reg_input_patch(body, HOST, &in, &status, &err), 0);
	assert_int_equal(strlen(in.name), REG_NAME_MAX);
	reg_input_free(&in);
	json_decref(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patch_table),
		cmocka_unit_test(test_patch_name_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
