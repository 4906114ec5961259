// uses: services/deploy-svc/deploy_keys_input.c services/deploy-svc/deploy_org.c
/*
 * test_deploy_keys.c: org keys in deploy-svc: the POST /v1/orgs/{org}/keys
 * body (table-driven: status, code, field), key names, the OrgKey record,
 * and the org / role check of a resource a handler finds after its route.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"

struct key_case {
	const char *body;
	int status;            /* 0 = accepted */
	const char *code;
	const char *field;
	enum apikey_role role;
};

static const struct key_case cases[] = {
	{ "{\"name\": \"ci\", \"role\": \"viewer\"}", 0, NULL, NULL, APIKEY_VIEWER },
	{ "{\"name\": \"ci\", \"role\": \"deployer\"}", 0, NULL, NULL,
	    APIKEY_DEPLOYER },
	{ "{\"role\": \"admin\", \"name\": \"Ops team \\u00e9\"}", 0, NULL, NULL,
	    APIKEY_ADMIN },
	{ "{}", 400, "missing_field", "name", 0 },
	{ "{\"name\": \"ci\"}", 422, "invalid_role", "role", 0 },
	{ "{\"name\": \"ci\", \"role\": null}", 422, "invalid_role", "role", 0 },
	{ "{\"role\": \"viewer\"}", 400, "missing_field", "name", 0 },
	{ "{\"name\": null, \"role\": \"viewer\"}", 400, "missing_field", "name", 0 },
	{ "{\"name\": \"ci\", \"role\": \"viewer\", \"org\": \"acme\"}", 400,
	    "unknown_field", "org", 0 },
	{ "{\"name\": 7, \"role\": \"viewer\"}", 400, "invalid_field", "name", 0 },
	{ "{\"name\": \"ci\", \"role\": [\"viewer\"]}", 400, "invalid_field",
	    "role", 0 },
	{ "{\"name\": \"a\\u0000b\", \"role\": \"viewer\"}", 400, "invalid_field",
	    "name", 0 },
	{ "{\"name\": \"\", \"role\": \"viewer\"}", 422, "invalid_field", "name", 0 },
	{ "{\"name\": \"two\\nlines\", \"role\": \"viewer\"}", 422, "invalid_field",
	    "name", 0 },
	{ "{\"name\": \"ci\", \"role\": \"owner\"}", 422, "invalid_role", "role", 0 },
	{ "{\"name\": \"ci\", \"role\": \"Viewer\"}", 422, "invalid_role", "role",
	    0 },
	{ "{\"name\": \"ci\", \"role\": \"\"}", 422, "invalid_role", "role", 0 },
	{ "{\"name\": \"\", \"role\": \"owner\"}", 422, "invalid_field", "name", 0 },
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct key_case *c = &cases[i];
		struct deploy_key_request rq;
		struct error err;
		json_error_t jerr;
		json_t *body = json_loads(c->body, JSON_ALLOW_NUL, &jerr);
		int status = 0, rc;

		assert_non_null(body);
		rc = deploy_keys_input_parse(body, &rq, &status, &err);
		if (c->status == 0) {
			if (rc != 0)
				fail_msg("case %zu (%s): %s", i, c->body, err.msg);
			assert_int_equal(rq.role, c->role);
			assert_non_null(rq.name);
		} else {
			if (rc != -1)
				fail_msg("case %zu (%s) accepted", i, c->body);
			assert_int_equal(status, c->status);
			assert_string_equal(err.code, c->code);
			assert_string_equal(err.field, c->field);
			assert_true(err.msg[0] != '\0');
		}
		json_decref(body);
	}
}

static void
test_parse_not_object(void **state)
{
	struct deploy_key_request rq;
	struct error err;
	json_t *body = json_array();
	int status = 0;

	(void)state;
	assert_int_equal(deploy_keys_input_parse(body, &rq, &status, &err), -1);
	assert_int_equal(status, 400);
	json_decref(body);
}

/* Characters, not bytes: 63 two-byte characters pass, a 64th does not. */
static void
test_name_length(void **state)
{
	char name[4 * 64 + 1];

	(void)state;
	memset(name, 'a', 63);
	name[63] = '\0';
	assert_true(deploy_keys_input_name_valid(name));
	name[63] = 'a';
	name[64] = '\0';
	assert_false(deploy_keys_input_name_valid(name));

	for (int i = 0; i < 63; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[126] = '\0';
	assert_true(deploy_keys_input_name_valid(name));
	memcpy(name + 126, "\xc3\xa9", 3);
	assert_false(deploy_keys_input_name_valid(name));
}

static void
test_name_refused(void **state)
{
	(void)state;
	assert_false(deploy_keys_input_name_valid(NULL));
	assert_false(deploy_keys_input_name_valid(""));
	assert_false(deploy_keys_input_name_valid("tab\there"));
	assert_false(deploy_keys_input_name_valid("del\x7f"));
	assert_false(deploy_keys_input_name_valid("bad \xc3"));        /* cut */
	assert_false(deploy_keys_input_name_valid("\xc0\xaf"));        /* overlong */
	assert_false(deploy_keys_input_name_valid("\xed\xa0\x80"));    /* surrogate */
	assert_true(deploy_keys_input_name_valid("release bot (prod) #2"));
}

/* The record carries everything a service needs, and never the key. */
static void
test_to_proto(void **state)
{
	struct deploy_key k;
	Slipway__V1__OrgKey ok;
	unsigned char *buf;
	size_t len;

	(void)state;
	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "2f1c8e4a-9b7d-4c3e-8a1f-0d2e3b4c5a6f");
	snprintf(k.org, sizeof(k.org), "acme");
	snprintf(k.name, sizeof(k.name), "ci");
	k.role = APIKEY_DEPLOYER;
	memset(k.hash, 'a', 64);
	snprintf(k.prefix, sizeof(k.prefix), "slk_AbCd");
	k.revoked = 1;
	k.created_at_ms = 1764632000123LL;
	deploy_keys_input_to_proto(&k, &ok);
	assert_string_equal(ok.key_id, k.id);
	assert_string_equal(ok.org, "acme");
	assert_string_equal(ok.name, "ci");
	assert_string_equal(ok.role, "deployer");
	assert_string_equal(ok.key_hash, k.hash);
	assert_string_equal(ok.prefix, "slk_AbCd");
	assert_true(ok.revoked);
	assert_int_equal(ok.created_at_ms, 1764632000123LL);

	/* It packs and reads back whole. */
	len = slipway__v1__org_key__get_packed_size(&ok);
	assert_non_null(buf = malloc(len));
	slipway__v1__org_key__pack(&ok, buf);
	Slipway__V1__OrgKey *back = slipway__v1__org_key__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_string_equal(back->role, "deployer");
	assert_true(back->revoked);
	slipway__v1__org_key__free_unpacked(back, NULL);
	free(buf);
}

static void
test_org_check(void **state)
{
	struct deploy_caller op, viewer, deployer;

	(void)state;
	memset(&op, 0, sizeof(op));
	op.is_operator = 1;
	memset(&viewer, 0, sizeof(viewer));
	snprintf(viewer.org, sizeof(viewer.org), "acme");
	viewer.role = APIKEY_VIEWER;
	deployer = viewer;
	deployer.role = APIKEY_DEPLOYER;

	assert_int_equal(deploy_org_check(&op, "acme", APIKEY_ADMIN), 0);
	assert_int_equal(deploy_org_check(&op, NULL, APIKEY_ADMIN), 0);
	assert_int_equal(deploy_org_check(&deployer, "acme", APIKEY_DEPLOYER), 0);
	assert_int_equal(deploy_org_check(&deployer, "acme", APIKEY_VIEWER), 0);
	assert_int_equal(deploy_org_check(&viewer, "acme", APIKEY_VIEWER), 0);
	/* Too weak a role in its own org: 403. */
	assert_int_equal(deploy_org_check(&viewer, "acme", APIKEY_DEPLOYER), 403);
	assert_int_equal(deploy_org_check(&deployer, "acme", APIKEY_ADMIN), 403);
	/* Another org's: 404, whatever the role (nothing is revealed). */
	assert_int_equal(deploy_org_check(&deployer, "beta", APIKEY_DEPLOYER), 404);
	assert_int_equal(deploy_org_check(&viewer, "beta", APIKEY_DEPLOYER), 404);
	assert_int_equal(deploy_org_check(&viewer, "acme2", APIKEY_VIEWER), 404);
	assert_int_equal(deploy_org_check(&viewer, "acm", APIKEY_VIEWER), 404);
	assert_int_equal(deploy_org_check(&viewer, NULL, APIKEY_VIEWER), 404);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_not_object),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_name_refused),
		cmocka_unit_test(test_to_proto),
		cmocka_unit_test(test_org_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
