// uses: services/dataplane-agent/kube_status.c services/dataplane-agent/agent_spec.c
/*
 * fuzz_kube_status.c: libFuzzer target for the Deployment status mapping
 * (the API server's answer, outside input). Beyond "never crashes": a
 * verdict is one of -1, 0, 1, a failure carries the unhealthy code and the
 * ProgressDeadlineExceeded reason, and no status counts for a generation
 * the controller has not observed. The same input as a Job and a pod: the
 * Job mapping says done exactly when it returns non-zero and gives a
 * failure a reason; a pod's failure is one of the three codes, its reason
 * led by the code; a Job read back as a scheduled execution has names
 * safe as file and object names and a whole minute.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane-agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A pod's failure: one of three codes, its reason led by the code. */
static void
fuzz_pod(json_t *pod)
{
	struct error err;
	int rc;

	error_clear(&err);
	rc = kube_status_pod_failure(pod, &err);
	if (rc != 0 && (rc != -1 || (strcmp(err.code, "pull_failed") != 0 &&
	    strcmp(err.code, "unhealthy") != 0 &&
	    strcmp(err.code, "start_failed") != 0) ||
	    strncmp(err.msg, err.code, strlen(err.code)) != 0))
		abort();
	rc = kube_status_pod_ready(pod);
	if (rc != 0 && rc != 1)
		abort();
}

static void
fuzz_job(json_t *job)
{
	struct kube_job_outcome o;
	struct agent_exec *x = calloc(1, sizeof(*x));
	int rc, code = 0, oom = 0;

	rc = kube_status_job(job, &o);
	if (rc < -1 || rc > 1 || rc != o.done || (rc == -1 && o.reason[0] == '\0'))
		abort();
	rc = kube_status_pod_exit(job, &code, &oom);
	if (rc != 0 && rc != 1)
		abort();
	fuzz_pod(job);
	if (x == NULL)
		return;
	if (kube_status_job_exec(job, "kube1", x) == 0 &&
	    (!agent_spec_name_valid(x->component_id) ||
	    !agent_spec_name_valid(x->environment) ||
	    !agent_spec_name_valid(x->deployment_id) ||
	    !agent_spec_name_valid(x->org) || x->scheduled_for_ms % 60000 != 0 ||
	    strcmp(x->trigger, "schedule") != 0))
		abort();
	free(x);
}

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
	fuzz_job(dep);
	json_decref(dep);
	return 0;
}
