// uses: services/dataplane-agent/kube_status.c
/*
 * fuzz_kube_status.c: libFuzzer target for the Deployment status mapping
 * (the API server's answer, outside input). Beyond "never crashes": a
 * verdict is one of -1, 0, 1, a failure carries the unhealthy code and the
 * ProgressDeadlineExceeded reason, and no status counts for a generation
 * the controller has not observed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane-agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *dep = json_loadb((const char *)data, size, 0, NULL);
	json_t *st = json_object_get(dep, "status");
	long long observed = json_integer_value(json_object_get(st,
	    "observedGeneration"));
	struct error err;
	int rc;

	if (dep == NULL)
		return 0;
	for (long long gen = 0; gen <= 3; gen++) {
		error_clear(&err);
		rc = kube_status_deployment(dep, gen, &err);
		if (rc < -1 || rc > 1)
			abort();
		if (rc == -1 && (strcmp(err.code, "unhealthy") != 0 ||
		    strncmp(err.msg, "ProgressDeadlineExceeded: ", 26) != 0))
			abort();
		if (rc != 0 && observed < gen)
			abort();
	}
	json_decref(dep);
	return 0;
}
