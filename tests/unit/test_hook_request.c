// uses: services/webhook-ingress/hook_request.c
/*
 * test_hook_request.c: the webhook's pure input handling, table-driven:
 * body parsing, resolution against a token binding (the repository check),
 * and the Authorization and Idempotency-Key headers. The binding's format
 * is tested in test_token_binding.c, signatures in test_signing.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "webhook-ingress/hook.h"

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

#define LOCAL "127.0.0.1:15000"
#define HELLO LOCAL "/demo/hello"

/*
 * The repository check: only tag and digest are the caller's; another
 * host is image_registry_mismatch, another path on the right host
 * image_repository_mismatch, both on field "image".
 */
static const struct resolve_case resolve_cases[] = {
	{ LOCAL, HELLO, "{\"tag\":\"v2\"}", NULL, NULL, HELLO ":v2", "" },
	{ LOCAL, HELLO, "{\"image\":\"" HELLO ":v1\"}", NULL, NULL, HELLO ":v1", "" },
	{ LOCAL, HELLO, "{\"image\":\"" HELLO "\"}", NULL, NULL, HELLO ":latest", "" },
	{ LOCAL, HELLO, "{\"image\":\"" HELLO "@" D64 "\"}", NULL, NULL,
	    HELLO "@" D64, D64 },
	{ LOCAL, HELLO, "{\"image\":\"" HELLO ":v1\",\"digest\":\"" D64 "\"}",
	    NULL, NULL, HELLO ":v1", D64 },
	/* Another repository on the right host: the leaked-token case. */
	{ LOCAL, HELLO, "{\"image\":\"" LOCAL "/other/app:v1\",\"digest\":\"" D64 "\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"" LOCAL "/demo/hello2:v1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"" LOCAL "/demo:v1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"" LOCAL "/demo/hello/sub:v1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"" LOCAL "/attacker/hello:v1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ "docker.io", "docker.io/acme/api", "{\"image\":\"docker.io/attacker/anything:1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ "docker.io", "docker.io/acme/api", "{\"image\":\"acme/api:1\"}",
	    NULL, NULL, "docker.io/acme/api:1", "" },
	{ "docker.io", "docker.io/library/nginx", "{\"image\":\"nginx:1.25\"}",
	    NULL, NULL, "docker.io/library/nginx:1.25", "" },
	{ "docker.io", "docker.io/library/nginx", "{\"image\":\"library/redis:7\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	/* Another host: the older code, whatever the path. */
	{ LOCAL, HELLO, "{\"image\":\"ghcr.io/acme/api:1\"}",
	    "image_registry_mismatch", "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"demo/hello:v1\"}", "image_registry_mismatch",
	    "image", NULL, NULL },
	{ LOCAL, HELLO, "{\"image\":\"localhost:15000/demo/hello:v1\"}",
	    "image_registry_mismatch", "image", NULL, NULL },
	/* Host aliases and case are the same registry. */
	{ "registry.hub.docker.com", "docker.io/library/nginx",
	    "{\"image\":\"nginx:1.25\"}", NULL, NULL, "docker.io/library/nginx:1.25", "" },
	{ "docker.io", "docker.io/library/nginx",
	    "{\"image\":\"index.docker.io/library/nginx:1\"}",
	    NULL, NULL, "docker.io/library/nginx:1", "" },
	{ "docker.io", "docker.io/library/nginx", "{\"tag\":\"1.25\"}",
	    NULL, NULL, "docker.io/library/nginx:1.25", "" },
	{ "ghcr.io", "ghcr.io/acme/api", "{\"image\":\"GHCR.io/acme/api:1\"}",
	    NULL, NULL, "GHCR.io/acme/api:1", "" },
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
	/* A binding without a usable repository refuses, it never waves through. */
	{ "ghcr.io", "", "{\"tag\":\"v1\"}", "invalid_image", "tag", NULL, NULL },
	{ "ghcr.io", "", "{\"image\":\"ghcr.io/acme/api:1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
	{ "ghcr.io", "not a repo", "{\"image\":\"ghcr.io/acme/api:1\"}",
	    "image_repository_mismatch", "image", NULL, NULL },
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

/* The refusal says which repository the token may deploy, precisely. */
static void
test_repository_message(void **state)
{
	(void)state;
	const char *body = "{\"image\":\"" LOCAL "/attacker/anything:1\"}";
	struct token_binding b;
	struct hook_request r;
	struct error err;
	char image[IMAGE_REF_MAX + 1], digest[HOOK_DIGEST_MAX + 1];

	memset(&b, 0, sizeof(b));
	strcpy(b.registry_host, LOCAL);
	strcpy(b.repository, HELLO);
	assert_int_equal(hook_request_parse(body, strlen(body), &r, &err), 0);
	assert_int_equal(hook_request_resolve(&r, &b, image, sizeof(image),
	    digest, sizeof(digest), &err), -1);
	assert_string_equal(err.code, "image_repository_mismatch");
	assert_string_equal(err.field, "image");
	assert_non_null(strstr(err.msg, "repository " HELLO ";"));
	assert_non_null(strstr(err.msg, "only the tag and digest may change"));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_repository_message),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_idem_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
