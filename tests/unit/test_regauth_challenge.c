/*
 * test_regauth_challenge.c: WWW-Authenticate challenges as registries send
 * them (distribution, Docker Hub, GHCR), malformed and oversized ones, and
 * the case-insensitive header-line matcher (services/lib/regauth.c, shared
 * by registry-svc's registry test and the agent's resolver).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "regauth.h"

static int
parse(const char *s, struct regauth_challenge *c)
{
	return regauth_challenge_parse(s, strlen(s), c);
}

static void
test_basic(void **state)
{
	struct regauth_challenge c;

	(void)state;
	assert_int_equal(parse("Basic realm=\"slipway-local\"", &c), 0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_BASIC);
	assert_string_equal(c.realm, "slipway-local");
	assert_int_equal(parse("basic", &c), 0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_BASIC);
}

static void
test_bearer_docker_hub(void **state)
{
	struct regauth_challenge c;

	(void)state;
	assert_int_equal(parse("Bearer realm=\"https://auth.docker.io/token\","
	    "service=\"registry.docker.io\",scope=\"repository:library/nginx:pull\"",
	    &c), 0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/nginx:pull");
}

static void
test_bearer_spacing_case_tokens(void **state)
{
	struct regauth_challenge c;

	(void)state;
	assert_int_equal(parse("  BEARER  Realm = \"https://ghcr.io/token\" , "
	    "SERVICE=ghcr.io ,scope=\"a\\\"b\"", &c), 0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://ghcr.io/token");
	assert_string_equal(c.service, "ghcr.io");
	assert_string_equal(c.scope, "a\"b");
}

static void
test_second_challenge_ignored(void **state)
{
	struct regauth_challenge c;

	(void)state;
	assert_int_equal(parse("Bearer realm=\"https://r/t\", Basic realm=x", &c),
	    0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_BEARER);
	assert_string_equal(c.realm, "https://r/t");
}

static void
test_unknown_scheme_and_params(void **state)
{
	struct regauth_challenge c;

	(void)state;
	assert_int_equal(parse("Negotiate", &c), 0);
	assert_int_equal(c.scheme, REGAUTH_SCHEME_OTHER);
	assert_int_equal(parse("Bearer realm=\"https://r\",error=\"insufficient_scope\"",
	    &c), 0);
	assert_string_equal(c.realm, "https://r");
}

static void
test_malformed(void **state)
{
	struct regauth_challenge c;
	static const char *const bad[] = {
		"", "   ", "=x", "Bearer", "Bearer service=\"x\"",
		"Bearer realm=\"unterminated", "Bearer realm=", "Bearer realm=\"a\" junk",
		"Bearer,realm=\"a\"", "Bea\"rer realm=a", "Bearer realm==a",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &c), -1);
	assert_int_equal(regauth_challenge_parse("Basic\0x", 7, &c), -1);
	assert_int_equal(regauth_challenge_parse(NULL, 0, &c), -1);
}

static void
test_oversized(void **state)
{
	char buf[4096];
	struct regauth_challenge c;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "Bearer realm=\"", 14);
	buf[sizeof(buf) - 2] = '"';
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(parse(buf, &c), -1);
	/* Not NUL-terminated: only len bytes may be read. */
	assert_int_equal(regauth_challenge_parse("Basic realm=ab", 13, &c), 0);
	assert_string_equal(c.realm, "a");
}

static void
test_header_line(void **state)
{
	char out[64];
	const char *l1 = "docker-content-digest:  sha256:abc \r\n";
	const char *l2 = "Www-Authenticate: Basic realm=\"x\"\r\n";

	(void)state;
	assert_int_equal(regauth_header(l1, strlen(l1),
	    "Docker-Content-Digest", out, sizeof(out)), 1);
	assert_string_equal(out, "sha256:abc");
	assert_int_equal(regauth_header(l2, strlen(l2), "WWW-Authenticate",
	    out, sizeof(out)), 1);
	assert_string_equal(out, "Basic realm=\"x\"");
	assert_int_equal(regauth_header(l2, strlen(l2), "Www-Auth", out,
	    sizeof(out)), 0);
	assert_int_equal(regauth_header(l2, strlen(l2), "WWW-Authenticate",
	    out, 4), -1);
	assert_int_equal(regauth_header("X", 1, "X-Long", out,
	    sizeof(out)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bearer_docker_hub),
		cmocka_unit_test(test_bearer_spacing_case_tokens),
		cmocka_unit_test(test_second_challenge_ignored),
		cmocka_unit_test(test_unknown_scheme_and_params),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_header_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
