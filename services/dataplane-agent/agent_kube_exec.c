/*
 * agent_kube_exec.c: executions as Jobs (the Kubernetes runtime's exec
 * ops, see agent_execs.c). The execution record, its states and its
 * reports are the engine runtime's; only where it runs differs:
 *
 *   manual     a Job per execution, named from its id
 *              (<component>-run-<id>), beside a Secret of its variables;
 *   schedule   the task's CronJob (agent_kube.c) makes the Jobs; the
 *              sweep finds them by label and submits each as the
 *              execution of its scheduled minute, with the id the agent's
 *              own scheduler would give that minute, so a Job is one
 *              execution however often it is seen;
 *
 * and a look at a run is a look at its Job's conditions (Complete,
 * Failed: BackoffLimitExceeded, DeadlineExceeded), with the exit code from
 * its pod's terminated container. The Job goes once the outcome is
 * recorded, as the engine's container does. No log tail: that is the
 * kubelet's, which the agent does not reach.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "kube.h"

#define KUBE_EXEC_SWEEP_LOOKS 4   /* watcher looks (250 ms) between sweeps */

/* Where x's Job lives and what it is called. */
struct kube_exec_names {
	char ns[KUBE_NAME_MAX];
	char job[KUBE_NAME_MAX];
	char secret[KUBE_NAME_MAX];
	char pull[KUBE_NAME_MAX];
};

static void
kube_exec_names(const struct agent_exec *x, struct kube_exec_names *n)
{
	char base[KUBE_NAME_MAX], cron[KUBE_NAME_MAX], job[2 * KUBE_NAME_MAX];

	kube_namespace_name(x->org, x->environment, n->ns);
	kube_object_name(x->component, x->component_id, "pull", n->pull);
	if (strcmp(x->trigger, "schedule") == 0) {
		/* The CronJob controller's name: <cronjob>-<minutes>. */
		kube_object_name(x->component, x->component_id, NULL, base);
		kube_objects_cronjob_name(base, cron);
		snprintf(job, sizeof(job), "%s-%lld", cron,
		    x->scheduled_for_ms / 60000);
		snprintf(n->job, sizeof(n->job), "%.63s", job);
	} else
		kube_objects_job_name(x->component, x->id, n->job);
	snprintf(n->secret, sizeof(n->secret), "%.58s-env", n->job);
}

/* x's Job's release: its spec rebuilt from the execution's record. */
static void
kube_exec_release(struct agent_ctx *ag, const struct agent_exec *x,
    const struct kube_exec_names *n, struct agent_spec *s, const char *image,
    struct kube_release *r)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->deployment_id, sizeof(s->deployment_id), "%s",
	    x->deployment_id);
	snprintf(s->component_id, sizeof(s->component_id), "%s", x->component_id);
	snprintf(s->environment, sizeof(s->environment), "%s", x->environment);
	snprintf(s->org, sizeof(s->org), "%s", x->org);
	snprintf(s->project, sizeof(s->project), "%s", x->project);
	snprintf(s->component, sizeof(s->component), "%s", x->component);
	snprintf(s->image, sizeof(s->image), "%s", x->image);
	snprintf(s->registry_id, sizeof(s->registry_id), "%s", x->registry_id);
	*r = (struct kube_release){ .spec = s, .dataplane = ag->dataplane,
	    .image = image, .ns = n->ns, .name = n->job, .res = x->res,
	    .health_timeout_s = ag->health_timeout_s };
	if (r->res.memory_mb == 0)
		r->res.memory_mb = ag->defaults.memory_mb;
	if (r->res.cpu_millicores == 0)
		r->res.cpu_millicores = ag->defaults.cpu_millicores;
	if (!r->res.read_only_rootfs)
		r->res.read_only_rootfs = ag->defaults.read_only_rootfs;
}

/* Applies obj (taken); -1 with err. */
static int
kube_exec_put(struct agent_ctx *ag, enum kube_kind kind, json_t *obj,
    struct error *err)
{
	int rc;

	if (obj == NULL) {
		error_set(err, "start_failed", "", "start_failed: out of memory");
		return -1;
	}
	rc = kube_apply(ag->kube, kind, obj, NULL, err);
	json_decref(obj);
	return rc == -1 ? -1 : 0;
}

/* Creates a manual execution's Secret and Job (the task's pull Secret too). */
static int
kube_exec_create(struct agent_ctx *ag, const struct agent_exec *x,
    const struct kube_exec_names *n, struct error *err)
{
	struct agent_spec *s = calloc(1, sizeof(*s));
	struct kube_release r;
	struct image_ref ref;
	char image[700];
	json_t *pull = NULL;
	int rc = -1, has_env = x->env != NULL && x->env[0] != NULL;

	if (s == NULL) {
		error_set(err, "start_failed", "", "start_failed: out of memory");
		return -1;
	}
	if (image_ref_parse(x->image, &ref, err) == -1)
		goto out;
	snprintf(image, sizeof(image), "%s/%s@%s", ref.domain, ref.path,
	    x->digest);
	kube_exec_release(ag, x, n, s, image, &r);
	/* The task's deploy made the pull Secret when its registry has one. */
	if (kube_get(ag->kube, KUBE_SECRET, n->ns, n->pull, &pull, err) == -1)
		goto out;
	r.pull_secret = pull != NULL ? n->pull : NULL;
	if (has_env && kube_exec_put(ag, KUBE_SECRET, kube_objects_run_secret(&r,
	    x, n->secret), err) == -1)
		goto out;
	rc = kube_exec_put(ag, KUBE_JOB, kube_objects_job(&r, x, n->job,
	    has_env ? n->secret : NULL), err);
	if (rc == 0)
		log_info("applied job %s/%s for execution %s", n->ns, n->job, x->id);
out:
	json_decref(pull);
	free(s);
	return rc;
}

static int
kube_exec_launch(struct agent_ctx *ag, const struct agent_exec *x,
    struct error *err)
{
	struct kube_exec_names n;
	struct kube_job_outcome o;
	json_t *job = NULL;
	int rc;

	kube_exec_names(x, &n);
	if ((rc = kube_get(ag->kube, KUBE_JOB, n.ns, n.job, &job, err)) == -1)
		return -1;
	if (rc == 0) {
		/* Adopted: made before a restart, or by the CronJob. */
		rc = kube_status_job(job, &o) != 0;
		json_decref(job);
		return rc;
	}
	if (strcmp(x->trigger, "schedule") == 0) {
		error_set(err, "start_failed", "", "start_failed: job %s/%s of "
		    "the task's CronJob is gone", n.ns, n.job);
		return -1;
	}
	return kube_exec_create(ag, x, &n, err);
}

/* The exit code of the Job's pod, when one terminated: 1 found. */
static int
kube_exec_pod_exit(struct agent_ctx *ag, const struct kube_exec_names *n,
    int *code, int *oom)
{
	char sel[KUBE_NAME_MAX + 16];
	struct error err;
	json_t *list, *pod;
	size_t i;
	int found = 0;

	snprintf(sel, sizeof(sel), "job-name=%s", n->job);
	if (kube_list(ag->kube, KUBE_POD, n->ns, sel, &list, &err) == -1)
		return 0;
	json_array_foreach(json_object_get(list, "items"), i, pod)
		if (!found)
			found = kube_status_pod_exit(pod, code, oom);
	json_decref(list);
	return found;
}

/* A finished Job's outcome, reported as the engine runtime reports it. */
static void
kube_exec_outcome(struct agent_ctx *ag, const struct agent_exec *x,
    const struct kube_exec_names *n, const struct kube_job_outcome *o,
    struct agent_exec_seen *seen)
{
	int oom = 0;

	seen->exited = kube_exec_pod_exit(ag, n, &seen->exit_code, &oom);
	if (o->done == 1) {
		seen->outcome = EXEC_SUCCEEDED;
		seen->exit_code = 0;
		seen->exited = 1;
	} else if (o->deadline) {
		seen->outcome = EXEC_TIMED_OUT;
		snprintf(seen->reason, sizeof(seen->reason), "timed out: ran "
		    "longer than its active_deadline_s of %u s",
		    x->active_deadline_s);
	} else {
		seen->outcome = EXEC_FAILED;
		if (seen->exited && seen->exit_code != 0)
			snprintf(seen->reason, sizeof(seen->reason), "exited with "
			    "code %d%s", seen->exit_code, oom ? " (out of memory)" :
			    "");
		else
			snprintf(seen->reason, sizeof(seen->reason), "%s", o->reason);
	}
}

static int
kube_exec_inspect(struct agent_ctx *ag, const struct agent_exec *x,
    struct agent_exec_seen *seen, struct error *err)
{
	struct kube_exec_names n;
	struct kube_job_outcome o;
	json_t *job = NULL;
	int rc;

	memset(seen, 0, sizeof(*seen));
	kube_exec_names(x, &n);
	if ((rc = kube_get(ag->kube, KUBE_JOB, n.ns, n.job, &job, err)) == -1)
		return -1;
	if (rc == 1)
		return 0;   /* gone */
	seen->exists = 1;
	if (kube_status_job(job, &o) == 0)
		seen->running = 1;
	else
		kube_exec_outcome(ag, x, &n, &o, seen);
	json_decref(job);
	return 0;
}

static int
kube_exec_remove(struct agent_ctx *ag, const struct agent_exec *x,
    struct error *err)
{
	struct kube_exec_names n;

	kube_exec_names(x, &n);
	/* Background propagation: the garbage collector takes its pod. */
	if (kube_delete(ag->kube, KUBE_JOB, n.ns, n.job, err) == -1)
		return -1;
	return kube_delete(ag->kube, KUBE_SECRET, n.ns, n.secret, err);
}

/* A stopped run: its Job (and so its pod) goes; the outcome is the agent's. */
static void
kube_exec_stop(struct agent_ctx *ag, const struct agent_exec *x)
{
	struct error err;

	if (kube_exec_remove(ag, x, &err) == -1)
		log_warnx("execution %s: %s", x->id, err.msg);
}

/* A Job of the task's CronJob: submitted as its minute's execution. */
static void
kube_exec_adopt_scheduled(struct agent_ctx *ag, struct agent_execs *xs,
    json_t *job)
{
	struct agent_exec *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return;
	if (kube_status_job_exec(job, ag->dataplane, x) == -1) {
		agent_exec_free(x);
		return;
	}
	agent_sched_execution_id(x->component_id, x->environment,
	    x->scheduled_for_ms / 1000, x->id);
	if (agent_execs_known(xs, x->id)) {
		agent_exec_free(x);
		return;
	}
	log_ctx_set("execution_id", x->id);
	if (agent_execs_submit(xs, x) == 0)
		log_info("execution %s: job %s of the task's CronJob",
		    x->id, json_string_value(json_object_get(json_object_get(job,
		    "metadata"), "name")));
	log_ctx_clear();
}

/* A manual execution's Job no execution owns any more: a leftover. */
static void
kube_exec_leftover(struct agent_ctx *ag, struct agent_execs *xs, json_t *job)
{
	json_t *md = json_object_get(job, "metadata");
	const char *id = json_string_value(json_object_get(json_object_get(md,
	    "labels"), "slipway.execution"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	char secret[KUBE_NAME_MAX];
	struct error err;

	if (id == NULL || ns == NULL || name == NULL ||
	    agent_execs_known(xs, id))
		return;
	log_info("deleting job %s/%s: its execution is finished", ns, name);
	snprintf(secret, sizeof(secret), "%.58s-env", name);
	if (kube_delete(ag->kube, KUBE_JOB, ns, name, &err) == -1 ||
	    kube_delete(ag->kube, KUBE_SECRET, ns, secret, &err) == -1)
		log_warnx("%s", err.msg);
}

static int
kube_exec_sweep(struct agent_ctx *ag, struct agent_execs *xs)
{
	const char *const kv[] = { "slipway.managed", "true",
	    "slipway.dataplane", ag->dataplane, NULL };
	char sel[256];
	struct error err;
	json_t *list, *job, *l;
	size_t i;

	if (ag->kube == NULL || kube_selector(sel, sizeof(sel), kv) == -1 ||
	    kube_list(ag->kube, KUBE_JOB, NULL, sel, &list, &err) == -1)
		return -1;
	json_array_foreach(json_object_get(list, "items"), i, job) {
		l = json_object_get(json_object_get(job, "metadata"), "labels");
		if (json_object_get(l, "slipway.execution") != NULL)
			kube_exec_leftover(ag, xs, job);
		else
			kube_exec_adopt_scheduled(ag, xs, job);
	}
	json_decref(list);
	return 0;
}

const struct agent_exec_ops agent_kube_exec_ops = {
	.launch = kube_exec_launch, .inspect = kube_exec_inspect,
	.stop = kube_exec_stop, .remove = kube_exec_remove,
	.sweep = kube_exec_sweep, .sweep_every = KUBE_EXEC_SWEEP_LOOKS,
};
