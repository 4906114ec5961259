/*
 * test_token_binding.c: the token binding contract (lib token_binding.c)
 * that component-svc writes and webhook-ingress reads: the round trip, the
 * strict parser (bindings of the older format, without repository or
 * signing, are malformed so the webhook asks Postgres), expiry, and the
 * repository of an image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "token_binding.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID "6f1c2d3e-0000-4000-8000-000000000002"
#define HEAD "{\"token_id\":\"t\",\"component_id\":\"" CID "\",\"org\":\"o\"," \
	"\"registry_host\":\"h.io\","

static void
binding_fill(struct token_binding *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->token_id, "6f1c2d3e-0000-4000-8000-000000000001");
	strcpy(b->component_id, CID);
	strcpy(b->org, "acme");
	strcpy(b->registry_host, "127.0.0.1:15000");
	strcpy(b->repository, "127.0.0.1:15000/demo/hello");
	b->expires_at_ms = 1900000000000LL;
}

static void
test_round_trip(void **state)
{
	(void)state;
	struct token_binding b, c;
	char *s;

	binding_fill(&b);
	s = token_binding_json(&b);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"signing\":false"));
	assert_int_equal(token_binding_parse(s, strlen(s), &c), 0);
	assert_memory_equal(&b, &c, sizeof(b));
	free(s);

	b.signing = 1;
	strcpy(b.signing_box, "AQIDBAUG");
	s = token_binding_json(&b);
	assert_non_null(s);
	assert_int_equal(token_binding_parse(s, strlen(s), &c), 0);
	assert_memory_equal(&b, &c, sizeof(b));
	free(s);

	/* A box without signing is never written. */
	b.signing = 0;
	s = token_binding_json(&b);
	assert_non_null(strstr(s, "\"signing_box\":\"\""));
	free(s);
}

static void
test_live(void **state)
{
	(void)state;
	struct token_binding b;

	binding_fill(&b);
	assert_true(token_binding_live(&b, 1800000000000LL));
	assert_false(token_binding_live(&b, 1900000000000LL));
	b.expires_at_ms = 0;
	assert_true(token_binding_live(&b, 1900000000000LL));
}

static void
test_key(void **state)
{
	(void)state;
	char key[TOKEN_BINDING_KEY_MAX];
	char hash[65];

	memset(hash, 'a', 64);
	hash[64] = '\0';
	token_binding_key(hash, key, sizeof(key));
	assert_memory_equal(key, "slipway:token:", 14);
	assert_string_equal(key + 14, hash);
}

static const char *const good[] = {
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"expires_at_ms\":null,"
	    "\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"expires_at_ms\":5,"
	    "\"signing\":true,\"signing_box\":\"AQID\"}",
	HEAD "\"repository\":\"docker.io/library/nginx\",\"signing\":false,"
	    "\"signing_box\":\"\",\"unknown\":1}",
};

static const char *const bad[] = {
	"",
	"[]",
	"{\"token_id\":\"t\"}",
	"not json",
	/* Written before this change: no signing member. */
	HEAD "\"repository\":\"h.io/r/x\",\"expires_at_ms\":0}",
	/* Older still, or damaged: no repository, an empty or odd one. */
	HEAD "\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x:v1\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x@" D64 "\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"nginx\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"Bad Repo\",\"signing\":false,\"signing_box\":\"\"}",
	HEAD "\"repository\":7,\"signing\":false,\"signing_box\":\"\"}",
	/* signing and its box must agree; signing must be a boolean. */
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":true,\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":false,\"signing_box\":\"AQID\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":\"true\",\"signing_box\":\"AQID\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":1,\"signing_box\":\"AQID\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"signing\":true}",
	/* Expiry, ids, types, embedded NUL. */
	HEAD "\"repository\":\"h.io/r/x\",\"expires_at_ms\":-5,\"signing\":false,"
	    "\"signing_box\":\"\"}",
	HEAD "\"repository\":\"h.io/r/x\",\"expires_at_ms\":\"5\",\"signing\":false,"
	    "\"signing_box\":\"\"}",
	"{\"token_id\":\"t\",\"component_id\":\"nope\",\"org\":\"o\","
	    "\"registry_host\":\"h.io\",\"repository\":\"h.io/r/x\","
	    "\"signing\":false,\"signing_box\":\"\"}",
	"{\"token_id\":\"t\",\"component_id\":\"" CID "\",\"org\":7,"
	    "\"registry_host\":\"h.io\",\"repository\":\"h.io/r/x\","
	    "\"signing\":false,\"signing_box\":\"\"}",
	"{\"token_id\":\"t\\u0000x\",\"component_id\":\"" CID "\",\"org\":\"o\","
	    "\"registry_host\":\"h.io\",\"repository\":\"h.io/r/x\","
	    "\"signing\":false,\"signing_box\":\"\"}",
};

static void
test_parse_table(void **state)
{
	(void)state;
	struct token_binding b;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (token_binding_parse(good[i], strlen(good[i]), &b) != 0)
			fail_msg("good case %zu refused: %s", i, good[i]);
	assert_int_equal(b.signing, 0);
	assert_string_equal(b.repository, "docker.io/library/nginx");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (token_binding_parse(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("bad case %zu accepted: %s", i, bad[i]);
		/* Nothing half-parsed is left behind. */
		assert_int_equal(b.signing, 0);
		assert_string_equal(b.repository, "");
	}
	assert_int_equal(token_binding_parse(NULL, 0, &b), -1);
}

static void
test_parse_sizes(void **state)
{
	(void)state;
	char *big = malloc(TOKEN_BINDING_MAX + 2);
	struct token_binding b;

	memset(big, ' ', TOKEN_BINDING_MAX + 1);
	memcpy(big, good[0], strlen(good[0]));
	assert_int_equal(token_binding_parse(big, TOKEN_BINDING_MAX, &b), 0);
	assert_int_equal(token_binding_parse(big, TOKEN_BINDING_MAX + 1, &b), -1);
	free(big);
}

static void
test_repository(void **state)
{
	(void)state;
	char out[IMAGE_REF_MAX + 1];

	assert_int_equal(token_binding_repository("127.0.0.1:15000/demo/hello:v1",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.0.1:15000/demo/hello");
	assert_int_equal(token_binding_repository("nginx", out, sizeof(out)), 0);
	assert_string_equal(out, "docker.io/library/nginx");
	assert_int_equal(token_binding_repository("registry.hub.docker.com/acme/api:1",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "docker.io/acme/api");
	assert_int_equal(token_binding_repository("ghcr.io/a/b:1@" D64, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "ghcr.io/a/b");
	assert_int_equal(token_binding_repository("Bad Image", out, sizeof(out)), -1);
	assert_int_equal(token_binding_repository("ghcr.io/a/b", out, 5), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test(test_repository),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
