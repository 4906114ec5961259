// uses: services/registry-svc/reg_creds.c
/*
 * test_regauth_refresh.c: the identity-token contract (services/lib/regauth.c
 * and registry-svc's reg_creds.c): the refresh-token exchange's form body
 * (distribution token spec, OAuth2 grant_type=refresh_token), its
 * percent-encoding and its bounds, and an identity token packed into
 * RegistryCredentials.identity_token with no username or password beside it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "regauth.h"
#include "registry-svc/registry.h"
#include "slipway/v1/registry.pb-c.h"

static void
test_identity_user(void **state)
{
	(void)state;
	assert_true(regauth_identity("<token>"));
	assert_false(regauth_identity("<token"));
	assert_false(regauth_identity("00000000-0000-0000-0000-000000000000"));
	assert_false(regauth_identity(""));
	assert_false(regauth_identity(NULL));
}

static void
test_form_with_scope(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(regauth_refresh_form("reg.example", "team/app", "r3fr-sh",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "grant_type=refresh_token&service=reg.example"
	    "&scope=repository%3Ateam%2Fapp%3Apull&client_id=slipway"
	    "&refresh_token=r3fr-sh");
}

static void
test_form_escapes_everything_else(void **state)
{
	char out[512];

	(void)state;
	/* A JWT-ish token with '+', '/', '=' and '&' must not end the field. */
	assert_int_equal(regauth_refresh_form("my svc&x=1", NULL,
	    "a+b/c=&d=e", out, sizeof(out)), 0);
	assert_string_equal(out, "grant_type=refresh_token&service=my%20svc%26x%3D1"
	    "&client_id=slipway&refresh_token=a%2Bb%2Fc%3D%26d%3De");
	assert_null(strstr(out, "scope="));
}

static void
test_form_bounds(void **state)
{
	char out[512], small[64];
	size_t need;

	(void)state;
	assert_int_equal(regauth_refresh_form("s", "r", "", out, sizeof(out)), -1);
	assert_int_equal(regauth_refresh_form("s", "r", NULL, out, sizeof(out)), -1);
	assert_int_equal(regauth_refresh_form("s", "", "t", out, sizeof(out)), -1);
	assert_int_equal(regauth_refresh_form("s", "r", "t", out, 0), -1);
	assert_int_equal(regauth_refresh_form("s", "r", "t", small,
	    sizeof(small)), -1);
	assert_int_equal(regauth_refresh_form("s", "r", "t", out, sizeof(out)), 0);
	need = strlen(out) + 1;
	assert_int_equal(regauth_refresh_form("s", "r", "t", out, need), 0);
	assert_int_equal(regauth_refresh_form("s", "r", "t", out, need - 1), -1);
	/* The service may be empty (a realm without one). */
	assert_int_equal(regauth_refresh_form(NULL, "r", "t", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "&service=&scope="));
}

static void
test_pack_identity_token(void **state)
{
	Slipway__V1__RegistryCredentials *rc;
	unsigned char *buf;
	size_t len;

	(void)state;
	buf = reg_creds_pack("r1", "acr.example.io", REG_AUTH_DOCKER_CONFIG,
	    REGAUTH_IDENTITY_USER, "refresh-token", 13, &len);
	assert_non_null(buf);
	rc = slipway__v1__registry_credentials__unpack(NULL, len, buf);
	assert_non_null(rc);
	assert_string_equal(rc->identity_token, "refresh-token");
	assert_string_equal(rc->username, "");
	assert_string_equal(rc->password, "");
	slipway__v1__registry_credentials__free_unpacked(rc, NULL);
	free(buf);

	buf = reg_creds_pack("r1", "acr.example.io", REG_AUTH_BASIC, "user",
	    "pass", 4, &len);
	rc = slipway__v1__registry_credentials__unpack(NULL, len, buf);
	assert_non_null(rc);
	assert_string_equal(rc->identity_token, "");
	assert_string_equal(rc->username, "user");
	slipway__v1__registry_credentials__free_unpacked(rc, NULL);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_user),
		cmocka_unit_test(test_form_with_scope),
		cmocka_unit_test(test_form_escapes_everything_else),
		cmocka_unit_test(test_form_bounds),
		cmocka_unit_test(test_pack_identity_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
