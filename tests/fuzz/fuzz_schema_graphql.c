// uses: services/component-svc/schema_graphql.c
// uses: services/component-svc/schemas.c
// uses: services/component-svc/schema_openapi.c
/*
 * fuzz_schema_graphql.c: libFuzzer target for the GraphQL SDL lexer and
 * parser. Any input is accepted or refused with invalid_schema and a
 * message naming the file, line and column; never a crash, a read past
 * the input or unbounded recursion.
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

	memset(&err, 0, sizeof(err));
	if (schema_graphql_check("f.graphql", data, size, &err) < 0 &&
	    (strcmp(err.code, "invalid_schema") != 0 ||
	    strncmp(err.msg, "f.graphql line ", 15) != 0 ||
	    strstr(err.msg, ", column ") == NULL))
		abort();
	return 0;
}
