// uses: services/webhook-ingress/hook_request.c
/*
 * fuzz_hook_request.c: libFuzzer target for everything the webhook parses
 * from outside input: the body, the resolution against a binding, the
 * Authorization and Idempotency-Key headers, a cached binding (Redis is
 * outside input too, lib token_binding.c), and a signed call's headers and
 * sealed secret (lib signing.c). Nothing may crash, leak or read out of
 * bounds.
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
	if (token_binding_parse(s, size, &b) == 0 &&
	    (json = token_binding_json(&b)) != NULL)
		free(json);
	free(s);
}

/* Cuts the next '\n'-terminated field off s (in place), or NULL. */
static char *
fuzz_field(char **s)
{
	char *f = *s, *nl;

	if (f == NULL)
		return NULL;
	if ((nl = strchr(f, '\n')) != NULL) {
		*nl = '\0';
		*s = nl + 1;
	} else {
		*s = NULL;
	}
	return f;
}

/* "id\nts\nsignature\nbody": a signed call against a fixed key. */
static void
fuzz_signature(const uint8_t *data, size_t size)
{
	static const unsigned char wrap[SIGNING_WRAP_LEN] = { 1, 2, 3 };
	struct signing_key key;
	struct signing_headers h;
	struct error err;
	char *s = malloc(size + 1), *rest;
	const char *body;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)signing_secret_decode(s, &key);
	(void)signing_open(wrap, "t", s, &key);
	(void)signing_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key);
	rest = s;
	h.id = fuzz_field(&rest);
	h.timestamp = fuzz_field(&rest);
	h.signature = fuzz_field(&rest);
	body = rest != NULL ? rest : "";
	(void)signing_verify(&key, &h, body, strlen(body), 1614265330LL, &err);
	signing_key_wipe(&key);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_body(data, size);
	fuzz_strings(data, size);
	fuzz_signature(data, size);
	return 0;
}
