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
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* --- tasks ----------------------------------------------------------------- */

/* "<Reason>: <message>" of condition c into buf. */
static void
kube_condition_reason(json_t *c, const char *fallback, char *buf, size_t len)
{
	const char *reason = json_string_value(json_object_get(c, "reason"));
	const char *msg = json_string_value(json_object_get(c, "message"));

	snprintf(buf, len, "%.60s%s%.180s", reason ? reason : fallback,
	    msg && msg[0] ? ": " : "", msg ? msg : "");
}

/*
 * A Job is over once it has a true Complete or Failed condition: the Job
 * controller sets them when its one pod succeeded, when the pod failed
 * (backoffLimit 0: BackoffLimitExceeded) or when activeDeadlineSeconds
 * passed (DeadlineExceeded).
 */
int
kube_status_job(json_t *job, struct kube_job_outcome *o)
{
	json_t *st = json_object_get(job, "status"), *c;

	memset(o, 0, sizeof(*o));
	if ((c = kube_condition(st, "Complete")) != NULL &&
	    kube_is(c, "status", "True"))
		return o->done = 1;
	if ((c = kube_condition(st, "Failed")) != NULL &&
	    kube_is(c, "status", "True")) {
		o->deadline = kube_is(c, "reason", "DeadlineExceeded");
		kube_condition_reason(c, "Failed", o->reason, sizeof(o->reason));
		return o->done = -1;
	}
	return 0;
}

int
kube_status_pod_exit(json_t *pod, int *code, int *oom)
{
	json_t *cs;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"),
	    "containerStatuses"), i, cs) {
		json_t *t = json_object_get(json_object_get(cs, "state"),
		    "terminated");
		json_t *ec = json_object_get(t, "exitCode");
		if (!kube_is(cs, "name", "app") || !json_is_integer(ec))
			continue;
		*code = (int)json_integer_value(ec);
		*oom = kube_is(t, "reason", "OOMKilled");
		return 1;
	}
	return 0;
}

/* Copies string s into dst when it is a valid name part; -1 otherwise. */
static int
kube_copy_name(char *dst, size_t cap, const char *s)
{
	if (s == NULL || strlen(s) >= cap || !agent_spec_name_valid(s))
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
kube_copy_text(char *dst, size_t cap, const char *s)
{
	if (s == NULL || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/*
 * The minute a CronJob's Job was scheduled for (UTC s): the controller's
 * annotation (RFC 3339, in the CronJob's zone), else its name's suffix
 * (minutes since the epoch). -1 when neither says.
 */
static long long
kube_job_minute(json_t *md)
{
	const char *ts = json_string_value(json_object_get(json_object_get(md,
	    "annotations"), "batch.kubernetes.io/cronjob-scheduled-timestamp"));
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *dash;
	struct tm tm = { 0 };
	int y, mo, d, h, mi, s, oh = 0, om = 0, n = 0;
	char sign = 'Z';
	long long v = 0;

	if (ts != NULL && sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
	    &mi, &s, &n) == 6 && y >= 1970 && y < 10000 && mo >= 1 && mo <= 12) {
		if (ts[n] == '+' || ts[n] == '-')
			if (sscanf(ts + n, "%c%2d:%2d", &sign, &oh, &om) != 3)
				sign = '?';
		if (sign != '?') {
			tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
			tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
			v = (long long)timegm(&tm) - (sign == '+' ? 1 : sign == '-' ?
			    -1 : 0) * (oh * 3600LL + om * 60LL);
			return v - ((v % 60) + 60) % 60;
		}
	}
	if (name == NULL || (dash = strrchr(name, '-')) == NULL || !dash[1] ||
	    strlen(dash + 1) > 12 || strspn(dash + 1, "0123456789") !=
	    strlen(dash + 1))
		return -1;
	return strtoll(dash + 1, NULL, 10) * 60;
}

int
kube_status_job_exec(json_t *job, const char *dataplane, struct agent_exec *x)
{
	json_t *md = json_object_get(job, "metadata");
	json_t *l = json_object_get(md, "labels");
	json_t *a = json_object_get(md, "annotations");
	json_t *ad = json_object_get(json_object_get(job, "spec"),
	    "activeDeadlineSeconds");
	long long minute;

	if (!kube_is(l, "slipway.managed", "true") ||
	    !kube_is(l, "slipway.trigger", "schedule") ||
	    !kube_is(l, "slipway.dataplane", dataplane) ||
	    json_object_get(l, "slipway.execution") != NULL ||
	    kube_copy_name(x->component_id, sizeof(x->component_id),
	    json_string_value(json_object_get(l, "slipway.component"))) ||
	    kube_copy_name(x->environment, sizeof(x->environment),
	    json_string_value(json_object_get(l, "slipway.environment"))) ||
	    kube_copy_name(x->deployment_id, sizeof(x->deployment_id),
	    json_string_value(json_object_get(l, "slipway.deployment"))) ||
	    kube_copy_name(x->org, sizeof(x->org),
	    json_string_value(json_object_get(a, "slipway.org"))) ||
	    kube_copy_name(x->project, sizeof(x->project),
	    json_string_value(json_object_get(a, "slipway.project"))) ||
	    kube_copy_name(x->component, sizeof(x->component),
	    json_string_value(json_object_get(a, "slipway.component-name"))) ||
	    kube_copy_text(x->image, sizeof(x->image),
	    json_string_value(json_object_get(a, "slipway.image"))) ||
	    kube_copy_text(x->digest, sizeof(x->digest),
	    json_string_value(json_object_get(a, "slipway.digest"))) ||
	    kube_copy_text(x->registry_id, sizeof(x->registry_id),
	    json_string_value(json_object_get(a, "slipway.registry"))) ||
	    (minute = kube_job_minute(md)) < 0)
		return -1;
	snprintf(x->trigger, sizeof(x->trigger), "schedule");
	x->scheduled_for_ms = minute * 1000;
	x->active_deadline_s = json_is_integer(ad) && json_integer_value(ad) > 0
	    && json_integer_value(ad) <= WORKLOAD_ACTIVE_DEADLINE_MAX ?
	    (unsigned)json_integer_value(ad) : WORKLOAD_ACTIVE_DEADLINE_DEFAULT;
	x->state = EXEC_PENDING;
	return 0;
}

/* --- pods of a release ----------------------------------------------------- */

/*
 * Waiting reasons that no wait cures: the kubelet keeps backing off, so
 * the release fails at once with the container's own words (the podman
 * runtime's pull_failed and unhealthy).
 */
static const struct {
	const char *reason;
	const char *code;
} kube_pod_failures[] = {
	{ "ImagePullBackOff", "pull_failed" },
	{ "ErrImagePull", "pull_failed" },
	{ "InvalidImageName", "pull_failed" },
	{ "CrashLoopBackOff", "unhealthy" },
	{ "CreateContainerConfigError", "start_failed" },
	{ "CreateContainerError", "start_failed" },
};

int
kube_status_pod_failure(json_t *pod, struct error *err)
{
	json_t *cs, *w;
	const char *reason, *msg;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "status"),
	    "containerStatuses"), i, cs) {
		w = json_object_get(json_object_get(cs, "state"), "waiting");
		if ((reason = json_string_value(json_object_get(w, "reason"))) ==
		    NULL)
			continue;
		msg = json_string_value(json_object_get(w, "message"));
		for (size_t k = 0; k < sizeof(kube_pod_failures) /
		    sizeof(kube_pod_failures[0]); k++)
			if (strcmp(reason, kube_pod_failures[k].reason) == 0) {
				error_set(err, kube_pod_failures[k].code, "", "%s: %s%s%.180s",
				    kube_pod_failures[k].code, reason, msg && msg[0] ?
				    ": " : "", msg ? msg : "");
				return -1;
			}
	}
	return 0;
}

int
kube_status_pods(json_t *list, struct error *err)
{
	json_t *pod;
	size_t i;

	json_array_foreach(json_object_get(list, "items"), i, pod)
		if (kube_status_pod_failure(pod, err) == -1)
			return -1;
	return 0;
}

int
kube_status_pod_ready(json_t *pod)
{
	json_t *cs, *all = json_object_get(json_object_get(pod, "status"),
	    "containerStatuses");
	size_t i;

	if (json_array_size(all) == 0)
		return 0;
	json_array_foreach(all, i, cs)
		if (!json_is_true(json_object_get(cs, "ready")))
			return 0;
	return 1;
}
