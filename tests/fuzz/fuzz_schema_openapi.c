// uses: services/component-svc/schema_openapi.c
/*
 * fuzz_schema_openapi.c: libFuzzer target for the OpenAPI and AsyncAPI
 * shape checks (YAML and JSON through libyaml's event API; one walker, two
 * dialects: both run on every input). Any input is accepted or
 * refused with invalid_schema and a message naming the file and a line;
 * never a crash, a leak or unbounded recursion.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "component-svc/component.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;

	int (*const checks[])(const char *, const unsigned char *, size_t,
	    struct error *) = { schema_openapi_check, schema_asyncapi_check };

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (checks[i]("f.yaml", data, size, &err) < 0 &&
		    (strcmp(err.code, "invalid_schema") != 0 ||
		    strncmp(err.msg, "f.yaml line ", 12) != 0))
			abort();
	}
	return 0;
}
