/*
 * fuzz_json_fields.c: arbitrary bytes parsed as JSON, then every json.h
 * getter run on the result, the way handlers use them on request bodies.
 */
#include <stddef.h>
#include <stdint.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_keys[] = {
	"name", "image", "tag", "digest", "expires_in_days", "port", "", NULL,
};

static void
fuzz_getters(json_t *obj)
{
	struct error err;
	long long n = 0;
	size_t i;

	for (i = 0; fuzz_keys[i] != NULL; i++) {
		error_clear(&err);
		(void)json_get_string(obj, fuzz_keys[i], 63, 1, &err);
		(void)json_get_string(obj, fuzz_keys[i], 0, 0, &err);
		(void)json_get_string(obj, fuzz_keys[i], 1024, 0, &err);
		(void)json_get_int(obj, fuzz_keys[i], 0, 3650, 1, &n, &err);
		(void)json_get_int(obj, fuzz_keys[i], -1, 1, 0, &n, &err);
	}
	error_clear(&err);
	(void)json_only_keys(obj, fuzz_keys, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *v;

	/* Allow NUL so the getters' own embedded-NUL check is exercised. */
	v = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
	if (v == NULL)
		return 0;
	fuzz_getters(v);
	json_decref(v);
	return 0;
}
