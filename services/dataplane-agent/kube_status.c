/*
 * kube_status.c: what the API server's status of an object means for a
 * release (pure; the controllers write status, the tests patch it).
 *
 * A Deployment's release is available once the controller has observed the
 * applied generation and counts every replica updated and available with
 * the Available condition true: during a roll with maxUnavailable 0 the old
 * ReplicaSet alone keeps Available true, so updatedReplicas is what says the
 * new one is there. Progressing=False with ProgressDeadlineExceeded for the
 * applied generation is a failure, with the controller's message.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

static int
kube_is(json_t *c, const char *key, const char *value)
{
	const char *v = json_string_value(json_object_get(c, key));

	return v != NULL && strcmp(v, value) == 0;
}

static long long
kube_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The condition of type in status, or NULL. */
static json_t *
kube_condition(json_t *status, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (kube_is(c, "type", type))
			return c;
	return NULL;
}

int
kube_status_deployment(json_t *dep, long long gen, struct error *err)
{
	json_t *st = json_object_get(dep, "status"), *c;
	json_t *replicas = json_object_get(json_object_get(dep, "spec"),
	    "replicas");
	long long want = replicas ? json_integer_value(replicas) : 1;
	const char *msg;

	if (kube_int(st, "observedGeneration") < gen)
		return 0;
	if ((c = kube_condition(st, "Progressing")) != NULL &&
	    kube_is(c, "status", "False") &&
	    kube_is(c, "reason", "ProgressDeadlineExceeded")) {
		msg = json_string_value(json_object_get(c, "message"));
		error_set(err, "unhealthy", "", "ProgressDeadlineExceeded: %.200s",
		    msg ? msg : "the deployment did not progress in time");
		return -1;
	}
	if (kube_int(st, "updatedReplicas") >= want &&
	    kube_int(st, "availableReplicas") >= want &&
	    kube_int(st, "unavailableReplicas") == 0 &&
	    (c = kube_condition(st, "Available")) != NULL &&
	    kube_is(c, "status", "True"))
		return 1;
	return 0;
}
