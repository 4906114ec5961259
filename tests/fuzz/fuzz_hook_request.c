// uses: services/webhook-ingress/hook_request.c
/*
 * fuzz_hook_request.c: libFuzzer target for everything the webhook parses
 * from outside input: the body, the resolution against a binding, the
 * Authorization and Idempotency-Key headers, and a cached binding (Redis is
 * outside input too). Nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook-ingress/hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_body(const uint8_t *data, size_t size)
{
	static const struct token_binding b = {
		.token_id = "t",
		.component_id = "6f1c2d3e-0000-4000-8000-000000000002",
		.org = "acme",
		.registry_host = "127.0.0.1:15000",
		.repository = "127.0.0.1:15000/demo/hello",
	};
	char image[IMAGE_REF_MAX + 1], digest[HOOK_DIGEST_MAX + 1];
	struct hook_request r;
	struct error err;

	if (hook_request_parse(data, size, &r, &err) == 0)
		(void)hook_request_resolve(&r, &b, image, sizeof(image), digest,
		    sizeof(digest), &err);
}

static void
fuzz_strings(const uint8_t *data, size_t size)
{
	struct token_binding b;
	char *s = malloc(size + 1);
	char *json;
	size_t len;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)hook_request_bearer(s, &len);
	(void)hook_request_idem_valid(s);
	if (hook_request_binding_parse(s, size, &b) == 0 &&
	    (json = hook_request_binding_json(&b)) != NULL)
		free(json);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_body(data, size);
	fuzz_strings(data, size);
	return 0;
}
