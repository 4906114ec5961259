// uses: services/component-svc/endpoints.c
/*
 * fuzz_endpoints.c: libFuzzer target for the endpoints.yaml parser. Any input
 * must either parse into at most ENDPOINTS_MAX valid endpoints or fail with
 * a line-numbered invalid_endpoints error; never crash or leak.
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
	struct endpoints e;
	struct error err;
	json_t *j;
	size_t i;

	memset(&err, 0, sizeof(err));
	if (endpoints_parse((const char *)data, size, &e, &err) < 0) {
		if (strcmp(err.code, "invalid_endpoints") != 0 ||
		    strncmp(err.msg, "endpoints.yaml line ", 20) != 0)
			abort();
		return 0;
	}
	if (e.n == 0 || e.n > ENDPOINTS_MAX)
		abort();
	for (i = 0; i < e.n; i++)
		if (e.ep[i].port == 0 || e.ep[i].port > 65535 ||
		    e.ep[i].name[0] == '\0')
			abort();
	j = endpoints_to_json(&e);
	if (j == NULL || json_array_size(j) != e.n)
		abort();
	json_decref(j);
	return 0;
}
