// uses: services/webhook-ingress/hook_request.c
/*
 * test_hook_request.c: the webhook's pure input handling, table-driven:
 * body parsing, resolution against a token binding, the Authorization and
 * Idempotency-Key headers, and the cached binding format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "webhook-ingress/hook.h"
#include "crypto.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define E64 "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

struct parse_case {
	const char *body;
	const char *code;    /* NULL = accepted */
	const char *field;   /* checked when not NULL */
	const char *image, *tag, *digest;
};

static const struct parse_case parse_cases[] = {
	{ "{\"image\":\"ghcr.io/acme/api:1.4.2\"}", NULL, NULL,
	    "ghcr.io/acme/api:1.4.2", "", "" },
	{ "{\"tag\":\"1.4.2\"}", NULL, NULL, "", "1.4.2", "" },
	{ "{\"tag\":\"v1\",\"digest\":\"" D64 "\"}", NULL, NULL, "", "v1", D64 },
	{ " {\"image\":\"a/b\", \"digest\":\"" D64 "\"} ", NULL, NULL, "a/b", "", D64 },
	{ "{\"image\":\"a/b\",\"tag\":\"v1\"}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{\"digest\":\"" D64 "\"}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{\"image\":\"a/b\",\"force\":true}", "invalid_request", "force", NULL, NULL, NULL },
	{ "{\"image\":42}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{\"image\":\"\"}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{\"image\":null}", "invalid_request", "image", NULL, NULL, NULL },
	{ "{\"tag\":[\"v1\"]}", "invalid_request", "tag", NULL, NULL, NULL },
	{ "{\"image\":\"a\",\"image\":\"b\"}", "malformed_json", NULL, NULL, NULL, NULL },
	{ "{\"image\":\"a/b\"", "malformed_json", NULL, NULL, NULL, NULL },
	{ "", "malformed_json", NULL, NULL, NULL, NULL },
	{ "image=a/b", "malformed_json", NULL, NULL, NULL, NULL },
	{ "[\"image\"]", "invalid_request", NULL, NULL, NULL, NULL },
	{ "\"a/b\"", "malformed_json", NULL, NULL, NULL, NULL },   /* jansson refuses bare scalars */
	{ "{\"image\":\"a\\u0000b\"}", "malformed_json", NULL, NULL, NULL, NULL },
	{ "{\"tag\":\"-bad\"}", "invalid_image", "tag", NULL, NULL, NULL },
	{ "{\"tag\":\"a b\"}", "invalid_image", "tag", NULL, NULL, NULL },
	{ "{\"tag\":\"v1\",\"digest\":\"sha256:abc\"}", "invalid_image", "digest", NULL, NULL, NULL },
	{ "{\"tag\":\"v1\",\"digest\":\"md5\"}", "invalid_image", "digest", NULL, NULL, NULL },
};

static void
test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct hook_request r;
		struct error err;
		int rc;

		error_clear(&err);
		rc = hook_request_parse(c->body, strlen(c->body), &r, &err);
		if (c->code == NULL) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %s: %s", i, c->body,
				    err.code, err.msg);
			assert_string_equal(r.image, c->image);
			assert_string_equal(r.tag, c->tag);
			assert_string_equal(r.digest, c->digest);
			continue;
		}
		if (rc != -1)
			fail_msg("case %zu (%s): accepted, want %s", i, c->body, c->code);
		if (strcmp(err.code, c->code) != 0)
			fail_msg("case %zu (%s): code %s, want %s", i, c->body,
			    err.code, c->code);
		if (c->field != NULL && strcmp(err.field, c->field) != 0)
			fail_msg("case %zu (%s): field %s, want %s", i, c->body,
			    err.field, c->field);
	}
}

static void
test_parse_sizes(void **state)
{
	(void)state;
	char *big = malloc(HOOK_BODY_MAX + 64);
	struct hook_request r;
	struct error err;
	size_t n;

	/* An image one byte over the cap. */
	strcpy(big, "{\"image\":\"a/");
	n = strlen(big);
	memset(big + n, 'b', IMAGE_REF_MAX - 1);
	strcpy(big + n + IMAGE_REF_MAX - 1, "\"}");
	assert_int_equal(hook_request_parse(big, strlen(big), &r, &err), -1);
	assert_string_equal(err.code, "invalid_request");
	/* A body over 16 KiB never reaches the JSON parser. */
	memset(big, ' ', HOOK_BODY_MAX + 1);
	assert_int_equal(hook_request_parse(big, HOOK_BODY_MAX + 1, &r, &err), -1);
	assert_string_equal(err.code, "body_too_large");
	assert_int_equal(hook_request_parse(NULL, 0, &r, &err), -1);
	assert_string_equal(err.code, "malformed_json");
	free(big);
}

struct resolve_case {
	const char *host, *repository;
	const char *body;
	const char *code, *field;
	const char *image, *digest;
};

static const struct resolve_case resolve_cases[] = {
	{ "127.0.0.1:15000", "127.0.0.1:15000/demo/hello", "{\"tag\":\"v2\"}",
	    NULL, NULL, "127.0.0.1:15000/demo/hello:v2", "" },
	{ "127.0.0.1:15000", "127.0.0.1:15000/demo/hello",
	    "{\"image\":\"127.0.0.1:15000/demo/hello:v1\"}",
	    NULL, NULL, "127.0.0.1:15000/demo/hello:v1", "" },
	{ "127.0.0.1:15000", "127.0.0.1:15000/demo/hello",
	    "{\"image\":\"127.0.0.1:15000/other/app:v1\",\"digest\":\"" D64 "\"}",
	    NULL, NULL, "127.0.0.1:15000/other/app:v1", D64 },
	{ "127.0.0.1:15000", "127.0.0.1:15000/demo/hello",
	    "{\"image\":\"ghcr.io/acme/api:1\"}",
	    "image_registry_mismatch", "image", NULL, NULL },
	{ "127.0.0.1:15000", "127.0.0.1:15000/demo/hello",
	    "{\"image\":\"demo/hello:v1\"}", "image_registry_mismatch", "image", NULL, NULL },
	{ "registry.hub.docker.com", "docker.io/library/nginx",
	    "{\"image\":\"nginx:1.25\"}", NULL, NULL, "docker.io/library/nginx:1.25", "" },
	{ "docker.io", "docker.io/library/nginx", "{\"tag\":\"1.25\"}",
	    NULL, NULL, "docker.io/library/nginx:1.25", "" },
	{ "ghcr.io", "ghcr.io/acme/api", "{\"image\":\"GHCR.io/acme/API:1\"}",
	    "invalid_image", "image", NULL, NULL },
	{ "ghcr.io", "ghcr.io/acme/api", "{\"image\":\"ghcr.io/acme/api@" D64 "\"}",
	    NULL, NULL, "ghcr.io/acme/api@" D64, D64 },
	{ "ghcr.io", "ghcr.io/acme/api",
	    "{\"image\":\"ghcr.io/acme/api@" D64 "\",\"digest\":\"" E64 "\"}",
	    "invalid_image", "digest", NULL, NULL },
	{ "ghcr.io", "ghcr.io/acme/api",
	    "{\"image\":\"ghcr.io/acme/api:1@" D64 "\",\"digest\":\"" D64 "\"}",
	    NULL, NULL, "ghcr.io/acme/api:1@" D64, D64 },
	{ "ghcr.io", "", "{\"tag\":\"v1\"}", "invalid_image", "tag", NULL, NULL },
};

static void
test_resolve_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		const struct resolve_case *c = &resolve_cases[i];
		struct token_binding b;
		struct hook_request r;
		struct error err;
		char image[IMAGE_REF_MAX + 1], digest[HOOK_DIGEST_MAX + 1];
		int rc;

		memset(&b, 0, sizeof(b));
		strcpy(b.registry_host, c->host);
		strcpy(b.repository, c->repository);
		assert_int_equal(hook_request_parse(c->body, strlen(c->body), &r,
		    &err), 0);
		error_clear(&err);
		rc = hook_request_resolve(&r, &b, image, sizeof(image), digest,
		    sizeof(digest), &err);
		if (c->code == NULL) {
			if (rc != 0)
				fail_msg("case %zu (%s): refused %s: %s", i, c->body,
				    err.code, err.msg);
			assert_string_equal(image, c->image);
			assert_string_equal(digest, c->digest);
			continue;
		}
		if (rc != -1 || strcmp(err.code, c->code) != 0 ||
		    strcmp(err.field, c->field) != 0)
			fail_msg("case %zu (%s): rc %d code %s field %s, want %s %s",
			    i, c->body, rc, err.code, err.field, c->code, c->field);
	}
}

static void
test_bearer(void **state)
{
	(void)state;
	static const struct { const char *h; const char *tok; } cases[] = {
		{ "Bearer slp_abc", "slp_abc" },
		{ "bearer   slp_abc  ", "slp_abc" },
		{ "BEARER slp_abc", "slp_abc" },
		{ "Basic dXNlcjpwYXNz", NULL },
		{ "Bearer", NULL },
		{ "Bearer    ", NULL },
		{ "Bearerslp_abc", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		const char *t = hook_request_bearer(cases[i].h, &len);

		if (cases[i].tok == NULL) {
			assert_null(t);
			continue;
		}
		assert_non_null(t);
		assert_int_equal(len, strlen(cases[i].tok));
		assert_memory_equal(t, cases[i].tok, len);
	}
}

static void
test_idem_key(void **state)
{
	(void)state;
	char k[HOOK_IDEM_KEY_MAX + 2];

	assert_true(hook_request_idem_valid("build-1234"));
	assert_true(hook_request_idem_valid("a b:c/d~"));
	assert_false(hook_request_idem_valid(""));
	assert_false(hook_request_idem_valid(NULL));
	assert_false(hook_request_idem_valid("tab\there"));
	assert_false(hook_request_idem_valid("caf\xc3\xa9"));
	memset(k, 'k', HOOK_IDEM_KEY_MAX);
	k[HOOK_IDEM_KEY_MAX] = '\0';
	assert_true(hook_request_idem_valid(k));
	k[HOOK_IDEM_KEY_MAX] = 'k';
	k[HOOK_IDEM_KEY_MAX + 1] = '\0';
	assert_false(hook_request_idem_valid(k));
}

static void
test_binding_round_trip(void **state)
{
	(void)state;
	struct token_binding b, c;
	char *s;

	memset(&b, 0, sizeof(b));
	strcpy(b.token_id, "6f1c2d3e-0000-4000-8000-000000000001");
	strcpy(b.component_id, "6f1c2d3e-0000-4000-8000-000000000002");
	strcpy(b.org, "acme");
	strcpy(b.registry_host, "127.0.0.1:15000");
	strcpy(b.repository, "127.0.0.1:15000/demo/hello");
	b.expires_at_ms = 1900000000000LL;
	s = hook_request_binding_json(&b);
	assert_non_null(s);
	assert_int_equal(hook_request_binding_parse(s, strlen(s), &c), 0);
	assert_memory_equal(&b, &c, sizeof(b));
	free(s);
	assert_true(hook_request_binding_live(&b, 1800000000000LL));
	assert_false(hook_request_binding_live(&b, 1900000000000LL));
	b.expires_at_ms = 0;
	assert_true(hook_request_binding_live(&b, 1900000000000LL));
}

static void
test_binding_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"token_id\":\"t\"}",
		"{\"token_id\":\"t\",\"component_id\":\"nope\",\"org\":\"o\","
		    "\"registry_host\":\"h\",\"repository\":\"h/r\"}",
		"{\"token_id\":\"t\",\"component_id\":\"6f1c2d3e-0000-4000-8000-000000000002\","
		    "\"org\":\"o\",\"registry_host\":\"h\",\"repository\":\"h/r\","
		    "\"expires_at_ms\":-5}",
		"{\"token_id\":\"t\",\"component_id\":\"6f1c2d3e-0000-4000-8000-000000000002\","
		    "\"org\":7,\"registry_host\":\"h\",\"repository\":\"h/r\"}",
	};
	struct token_binding b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hook_request_binding_parse(bad[i], strlen(bad[i]),
		    &b), -1);
	const char *ok = "{\"token_id\":\"t\",\"component_id\":"
	    "\"6f1c2d3e-0000-4000-8000-000000000002\",\"org\":\"o\","
	    "\"registry_host\":\"h\",\"repository\":\"h/r\"}";
	assert_int_equal(hook_request_binding_parse(ok, strlen(ok), &b), 0);
	assert_int_equal(b.expires_at_ms, 0);
}

static void
test_repository(void **state)
{
	(void)state;
	char out[IMAGE_REF_MAX + 1];

	assert_int_equal(hook_request_repository("127.0.0.1:15000/demo/hello:v1",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.0.1:15000/demo/hello");
	assert_int_equal(hook_request_repository("nginx", out, sizeof(out)), 0);
	assert_string_equal(out, "docker.io/library/nginx");
	assert_int_equal(hook_request_repository("ghcr.io/a/b@" D64, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "ghcr.io/a/b");
	assert_int_equal(hook_request_repository("Bad Image", out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_idem_key),
		cmocka_unit_test(test_binding_round_trip),
		cmocka_unit_test(test_binding_malformed),
		cmocka_unit_test(test_repository),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
