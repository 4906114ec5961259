/*
 * hook_request.c: everything the webhook decides from its input alone — the
 * body, the Authorization header, the Idempotency-Key, and the body against
 * the token's binding — as pure functions, so they are unit-tested and
 * fuzzed without a network. (The binding's format is lib token_binding.c's,
 * the signature's lib signing.c's.)
 *
 * Error codes map onto statuses in hook_http.c: malformed_json and
 * invalid_request are 400, invalid_image, image_registry_mismatch and
 * image_repository_mismatch 422, body_too_large 413.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "crypto.h"
#include "hook.h"

struct hook_request_field {
	const char *name;
	size_t off;
	size_t max;
};

static const struct hook_request_field hook_request_fields[] = {
	{ "image", offsetof(struct hook_request, image), IMAGE_REF_MAX },
	{ "tag", offsetof(struct hook_request, tag), HOOK_TAG_MAX },
	{ "digest", offsetof(struct hook_request, digest), HOOK_DIGEST_MAX },
};

static const struct hook_request_field *
hook_request_field_find(const char *name)
{
	for (size_t i = 0; i < sizeof(hook_request_fields) /
	    sizeof(hook_request_fields[0]); i++)
		if (strcmp(hook_request_fields[i].name, name) == 0)
			return &hook_request_fields[i];
	return NULL;
}

/* Copies one known string member into out; refuses other types and sizes. */
static int
hook_request_field_copy(struct hook_request *out, const char *key, json_t *v,
    struct error *err)
{
	const struct hook_request_field *f = hook_request_field_find(key);
	size_t n;

	if (f == NULL) {
		error_set(err, "invalid_request", "", "unknown field in body");
		snprintf(err->field, sizeof(err->field), "%s", key);
		return -1;
	}
	if (!json_is_string(v) || (n = json_string_length(v)) == 0 ||
	    n > f->max) {
		error_set(err, "invalid_request", f->name,
		    "%s must be a non-empty string of at most %zu bytes",
		    f->name, f->max);
		return -1;
	}
	memcpy((char *)out + f->off, json_string_value(v), n + 1);
	return 0;
}

/* Checks the members against each other and their grammars. */
static int
hook_request_check(const struct hook_request *r, struct error *err)
{
	if ((r->image[0] != '\0') == (r->tag[0] != '\0')) {
		error_set(err, "invalid_request", "image",
		    "give exactly one of image and tag");
		return -1;
	}
	if (r->tag[0] != '\0' && !image_ref_tag_valid(r->tag)) {
		error_set(err, "invalid_image", "tag", "invalid tag");
		return -1;
	}
	if (r->digest[0] != '\0' && !image_ref_digest_valid(r->digest)) {
		error_set(err, "invalid_image", "digest",
		    "digest must be algorithm:hex (sha256 = 64 hex)");
		return -1;
	}
	return 0;
}

/* Parses {"image": REF} or {"tag": TAG}, optional "digest"; nothing else. */
int
hook_request_parse(const void *body, size_t len, struct hook_request *out,
    struct error *err)
{
	json_error_t jerr;
	const char *key;
	json_t *o, *v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len > HOOK_BODY_MAX) {
		error_set(err, "body_too_large", "", "body over %d bytes",
		    HOOK_BODY_MAX);
		return -1;
	}
	if (body == NULL || len == 0 ||
	    (o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		error_set(err, "malformed_json", "", "body is not valid JSON");
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		error_set(err, "invalid_request", "", "body must be a JSON object");
		return -1;
	}
	json_object_foreach(o, key, v) {
		if ((rc = hook_request_field_copy(out, key, v, err)) == -1)
			break;
	}
	json_decref(o);
	if (rc == -1)
		return -1;
	return hook_request_check(out, err);
}

/*
 * A CI token deploys its component's repository and no other: the host
 * and the path must be the component's, only the tag and digest are the
 * caller's. (Changing the repository is a component update through the
 * management API.) The host is checked first so that an image on another
 * registry keeps its own, older error code.
 */
static int
hook_request_same_repository(const struct image_ref *ref,
    const struct token_binding *b, struct error *err)
{
	struct image_ref want;
	struct error perr;

	if (!image_ref_host_equal(ref->domain, b->registry_host)) {
		error_set(err, "image_registry_mismatch", "image",
		    "the image must be in the component's registry %s",
		    b->registry_host);
		return -1;
	}
	if (image_ref_parse(b->repository, &want, &perr) == -1 ||
	    !image_ref_same_repository(ref, &want)) {
		error_set(err, "image_repository_mismatch", "image",
		    "the image must be in the component's repository %.200s; "
		    "only the tag and digest may change", b->repository);
		return -1;
	}
	return 0;
}

/*
 * Resolves the request against the token's binding: a tag goes onto the
 * component's repository; a whole image must be of that repository.
 * Writes the normalised image and the digest (from the body, else from the
 * image's @digest, else "").
 */
int
hook_request_resolve(const struct hook_request *r,
    const struct token_binding *b, char *image, size_t ilen, char *digest,
    size_t dlen, struct error *err)
{
	char ref_s[IMAGE_REF_MAX + HOOK_TAG_MAX + 2];
	struct image_ref ref;

	if (r->tag[0] != '\0')
		snprintf(ref_s, sizeof(ref_s), "%s:%s", b->repository, r->tag);
	else
		snprintf(ref_s, sizeof(ref_s), "%s", r->image);
	if (image_ref_parse(ref_s, &ref, err) == -1) {
		snprintf(err->field, sizeof(err->field), r->tag[0] ? "tag" : "image");
		return -1;
	}
	if (hook_request_same_repository(&ref, b, err) == -1)
		return -1;
	if (r->digest[0] != '\0' && ref.digest[0] != '\0' &&
	    strcmp(r->digest, ref.digest) != 0) {
		error_set(err, "invalid_image", "digest",
		    "digest differs from the image's @digest");
		return -1;
	}
	if (image_ref_format(&ref, image, ilen) == -1) {
		error_set(err, "invalid_image", "image", "image reference too long");
		return -1;
	}
	snprintf(digest, dlen, "%s", r->digest[0] ? r->digest : ref.digest);
	return 0;
}

/* The token of "Authorization: Bearer <token>", or NULL when there is none. */
const char *
hook_request_bearer(const char *header, size_t *len)
{
	size_t n;

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	n = strlen(header);
	while (n > 0 && (header[n - 1] == ' ' || header[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	*len = n;
	return header;
}

/* Idempotency-Key: 1 to 200 printable ASCII characters. */
int
hook_request_idem_valid(const char *key)
{
	size_t n;

	if (key == NULL || (n = strlen(key)) == 0 || n > HOOK_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return 0;
	return 1;
}

int
hook_request_key(const char *prefix, const char *scope, const char *raw,
    char *out, size_t len)
{
	char hash[65];
	int n;

	crypto_sha256_hex(raw, strlen(raw), hash);
	n = snprintf(out, len, "%s:%s:%s", prefix, scope, hash);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
