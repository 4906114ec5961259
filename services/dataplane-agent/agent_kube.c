/*
 * agent_kube.c: the Kubernetes runtime behind the apply machine, and the
 * jobs a slot runs on it (apply, remove).
 *
 * The machine's steps map onto the cluster:
 *   resolve  the tag to a digest (the agent pins what the nodes pull)
 *   pull     the namespace and the pull Secret (the nodes pull, not us)
 *   start    server-side apply of the release's ConfigMap (its
 *            configuration variables) and Secret (its secrets), the
 *            Deployment and the Service
 *   health   the Deployment's status for the applied generation, from a
 *            list + watch resumed at its resourceVersion after a
 *            disconnect (listed again on 410 Gone): available
 *            (observedGeneration, updatedReplicas, availableReplicas) is
 *            healthy; a Progressing=False ProgressDeadlineExceeded, or a
 *            pod of the new release in ImagePullBackOff (...), fails
 *   route    the commit point: the record says the new release serves
 * A Deployment rolls with maxUnavailable 0, so until the new ReplicaSet is
 * available the previous one keeps serving, and a release that never gets
 * there leaves it serving: a failure changes nothing else (no rollback of
 * the Deployment's template yet; the next deploy replaces it).
 *
 * A task's apply stops at the pin step (its commit point): a scheduled
 * task's CronJob is applied there and schedules its runs from then on
 * (never the agent's scheduler); executions are Jobs (agent_kube_exec.c).
 *
 * While it waits, the health step also looks at the new release's pods: a
 * container waiting in ImagePullBackOff, ErrImagePull, CrashLoopBackOff
 * (...) fails the release with the kubelet's reason and message at once.
 *
 * The start step also applies the release's routes (kube_routes.c):
 * HTTPRoutes / GRPCRoutes on the configured Gateways or Ingresses, a
 * NetworkPolicy for Project endpoints, a Service for TCP/UDP ones; the
 * addresses reported are the routes' hostnames and paths.
 *
 * After running, the slots watcher looks at the serving release's pods
 * (agent_kube_look): crashed and recovered are reported as on podman. At
 * start, this data plane's labelled objects of components the records do
 * not serve are deleted (agent_kube_reconcile.c).
 *
 * Not in this slice: a watch shared by every slot (each health step
 * watches its Deployment; the crash look lists pods once a second).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "agent.h"
#include "kube.h"
#include "metrics.h"

#define KUBE_POLL_MS       500    /* between rounds after a failure */
#define KUBE_WAIT_SLACK_S  30     /* past the progress deadline: give up */
#define KUBE_POD_LOOK_S    3      /* seconds between looks at the pods */

/* What the steps of one apply share. */
struct kube_apply {
	struct agent_ctx *ag;
	struct agent_slot *slot;
	const void *cmd;
	size_t len;
	struct agent_cred cred;
	int have_cred;
	char ns[KUBE_NAME_MAX];
	char name[KUBE_NAME_MAX];
	char pull[KUBE_NAME_MAX];
	char env[KUBE_NAME_MAX];   /* the release's Secret of secrets */
	char cfg[KUBE_NAME_MAX];   /* its ConfigMap of variables */
	char image[700];
	long long generation;      /* of the applied Deployment */
	struct agent_address addr[AGENT_ENDPOINTS_MAX];
	size_t naddr;
};

static int
kube_stopping(const struct agent_ctx *ag)
{
	return atomic_load(&ag->stopping) != 0;
}

/* Names every object of spec s from what never changes between releases. */
static void
kube_names(const struct agent_spec *s, struct kube_apply *k)
{
	char raw[24], suffix[KUBE_NAME_MAX];

	kube_namespace_name(s->org, s->environment, k->ns);
	kube_object_name(s->component, s->component_id, NULL, k->name);
	kube_object_name(s->component, s->component_id, "pull", k->pull);
	/* Variables are per release, so a rollback restores them. */
	snprintf(raw, sizeof(raw), "env-%.8s", s->deployment_id);
	kube_dns_label(raw, 20, suffix);
	kube_object_name(s->component, s->component_id, suffix, k->env);
	snprintf(raw, sizeof(raw), "cfg-%.8s", s->deployment_id);
	kube_dns_label(raw, 20, suffix);
	kube_object_name(s->component, s->component_id, suffix, k->cfg);
}

/* The release's description for kube_objects_*. */
static void
kube_release_of(const struct kube_apply *k, const struct agent_spec *s,
    struct kube_release *r)
{
	const struct agent_resources *d = &k->ag->defaults;

	*r = (struct kube_release){ .spec = s, .dataplane = k->ag->dataplane,
	    .image = k->image, .ns = k->ns, .name = k->name,
	    .pull_secret = k->have_cred ? k->pull : NULL,
	    .env_secret = agent_spec_env_count(s, 1) > 0 ? k->env : NULL,
	    .env_config = agent_spec_env_count(s, 0) > 0 ? k->cfg : NULL,
	    .health_timeout_s = k->ag->health_timeout_s, .res = s->res,
	    .routes = &k->ag->kube_routes };
	if (r->res.memory_mb == 0)
		r->res.memory_mb = d->memory_mb;
	if (r->res.cpu_millicores == 0)
		r->res.cpu_millicores = d->cpu_millicores;
	if (!r->res.read_only_rootfs)
		r->res.read_only_rootfs = d->read_only_rootfs;
}

/* Applies obj (taken) of kind; -1 with err. */
static int
kube_put(struct kube_apply *k, enum kube_kind kind, json_t *obj,
    json_t **out, struct error *err)
{
	int rc;

	if (obj == NULL) {
		error_set(err, "start_failed", "", "start_failed: out of memory");
		return -1;
	}
	rc = kube_apply(k->ag->kube, kind, obj, out, err);
	json_decref(obj);
	if (rc == -1 && kube_stopping(k->ag))
		error_set(err, "stopping", "", "the agent is stopping");
	return rc;
}

static int
kube_report(void *ctx, const struct agent_apply *a)
{
	struct kube_apply *k = ctx;
	struct agent_report r = { a->spec, agent_report_state_of(a->state),
	    a->digest, a->reason, NULL, NULL, 0 };

	if (a->state == APPLY_RUNNING) {
		r.addr = k->addr;
		r.naddr = k->naddr;
	}
	return agent_report_send(k->ag, &r);
}

static int
kube_resolve(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct oci_resolve_opts o = { .insecure = k->ag->insecure,
	    .timeout_s = 20, .targets = k->ag->targets };

	if (a->spec->env_error[0] != '\0') {
		error_set(err, "config_unsealed", "", "%s", a->spec->env_error);
		return -1;
	}
	/* Only usable basic/docker-config credentials for this very host. */
	k->have_cred = agent_cutover_cred(k->ag, a->spec->registry_id,
	    a->ref.domain, &k->cred) == 0;
	if (k->have_cred) {
		o.username = k->cred.username;
		o.password = k->cred.password;
	}
	if (oci_resolve(&a->ref, &o, a->digest, err) == -1)
		return -1;
	snprintf(k->image, sizeof(k->image), "%s/%s@%s", a->ref.domain,
	    a->ref.path, a->digest);
	log_info("resolved %s/%s to %s", a->ref.domain, a->ref.path, a->digest);
	return 0;
}

/* The namespace, and the pull Secret when the registry has credentials. */
static int
kube_prepare(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct kube_release r;

	kube_release_of(k, a->spec, &r);
	if (kube_put(k, KUBE_NAMESPACE, kube_objects_namespace(&r), NULL,
	    err) == -1)
		return -1;
	if (k->have_cred && kube_put(k, KUBE_SECRET, kube_objects_pull_secret(&r,
	    a->ref.domain, k->cred.username, k->cred.password), NULL, err) == -1)
		return -1;
	return 0;
}

static json_t *
kube_route_policy(const struct kube_release *r, int which)
{
	(void)which;
	return kube_routes_network_policy(r);
}

static json_t *
kube_route_l4(const struct kube_release *r, int which)
{
	(void)which;
	return kube_routes_l4_service(r);
}

/* Every object that routes to a release, by name: applied or deleted. */
static const struct kube_route_row {
	enum kube_kind kind;
	const char *what;           /* the name's suffix (kube_routes_name) */
	int which;                  /* 0 public, 1 internal */
	json_t *(*make)(const struct kube_release *, int);
} kube_route_rows[] = {
	{ KUBE_HTTPROUTE, "public", 0, kube_routes_httproute },
	{ KUBE_HTTPROUTE, "internal", 1, kube_routes_httproute },
	{ KUBE_GRPCROUTE, "grpc-public", 0, kube_routes_grpcroute },
	{ KUBE_GRPCROUTE, "grpc-internal", 1, kube_routes_grpcroute },
	{ KUBE_INGRESS, "public", 0, kube_routes_ingress },
	{ KUBE_INGRESS, "internal", 1, kube_routes_ingress },
	{ KUBE_NETWORKPOLICY, "project", 0, kube_route_policy },
	{ KUBE_SERVICE, "l4", 0, kube_route_l4 },
};

/*
 * The release's routes: what its endpoints need is applied, what they no
 * longer need (an endpoint gone, a visibility changed, the other route
 * mode) is deleted, so a re-apply converges.
 */
static int
kube_routes_apply(struct kube_apply *k, const struct kube_release *r,
    struct error *err)
{
	char name[KUBE_NAME_MAX];
	json_t *o;

	for (size_t i = 0; i < sizeof(kube_route_rows) /
	    sizeof(kube_route_rows[0]); i++) {
		const struct kube_route_row *row = &kube_route_rows[i];
		if ((o = row->make(r, row->which)) != NULL) {
			if (kube_put(k, row->kind, o, NULL, err) == -1)
				return -1;
			continue;
		}
		kube_routes_name(r, row->what, name);
		if (kube_delete(k->ag->kube, row->kind, k->ns, name, err) == -1)
			return -1;
	}
	return 0;
}

/*
 * The release's variables: a ConfigMap of its configuration variables and
 * a Secret of its secrets, each only when it has some.
 */
static int
kube_env_apply(struct kube_apply *k, const struct kube_release *r,
    struct error *err)
{
	if (r->env_config != NULL && kube_put(k, KUBE_CONFIGMAP,
	    kube_objects_env_config(r), NULL, err) == -1)
		return -1;
	if (r->env_secret != NULL && kube_put(k, KUBE_SECRET,
	    kube_objects_env_secret(r), NULL, err) == -1)
		return -1;
	return 0;
}

static int
kube_start(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct kube_release r;
	json_t *dep = NULL;

	kube_release_of(k, a->spec, &r);
	if (kube_env_apply(k, &r, err) == -1)
		return -1;
	if (kube_put(k, KUBE_DEPLOYMENT, kube_objects_deployment(&r), &dep,
	    err) == -1)
		return -1;
	k->generation = json_integer_value(json_object_get(json_object_get(dep,
	    "metadata"), "generation"));
	json_decref(dep);
	/* A component without endpoints has nothing to address. */
	if (a->spec->nep > 0 && kube_put(k, KUBE_SERVICE,
	    kube_objects_service(&r), NULL, err) == -1)
		return -1;
	if (kube_routes_apply(k, &r, err) == -1)
		return -1;
	log_info("applied deployment %s/%s (generation %lld)", k->ns, k->name,
	    k->generation);
	return 0;
}

/* What the health step's watch has seen of the applied generation. */
struct kube_verdict {
	long long generation;
	int verdict;                /* 1 available, -1 failed, 0 not yet */
	struct error err;
};

static int
kube_health_event(void *arg, const char *type, json_t *obj)
{
	struct kube_verdict *v = arg;

	if (strcmp(type, "DELETED") == 0) {
		error_set(&v->err, "start_failed", "", "start_failed: the "
		    "deployment was deleted");
		v->verdict = -1;
	} else
		v->verdict = kube_status_deployment(obj, v->generation, &v->err);
	return v->verdict != 0;
}

/*
 * The new release's pods (its template carries its deployment label, so
 * the previous ReplicaSet's are not among them): one that waits for a
 * reason no wait cures fails the release now, not at the deadline.
 */
static int
kube_health_pods(struct kube_apply *k, const struct agent_spec *s,
    struct kube_verdict *v)
{
	const char *const kv[] = { "slipway.managed", "true",
	    "slipway.component", s->component_id, "slipway.environment",
	    s->environment, "slipway.deployment", s->deployment_id, NULL };
	char sel[512];
	struct error err;
	json_t *list;

	if (kube_selector(sel, sizeof(sel), kv) == -1 ||
	    kube_list(k->ag->kube, KUBE_POD, k->ns, sel, &list, &err) == -1)
		return 0;   /* the next look tells */
	if (kube_status_pods(list, &v->err) == -1) {
		log_info("a pod of %s/%s fails: %s", k->ns, k->name, v->err.msg);
		v->verdict = -1;
	}
	json_decref(list);
	return v->verdict;
}

/*
 * One list + watch round: the Deployment as it is now, then its changes
 * from that resourceVersion on, resumed after a disconnect, until a verdict,
 * the deadline, or a failure that needs a new list (1 verdict, 0 again).
 * Pods change without the Deployment changing: each watch is short
 * (KUBE_POD_LOOK_S) and the new release's pods are looked at between.
 */
static int
kube_health_round(struct kube_apply *k, const struct agent_spec *s,
    struct kube_verdict *v, long long deadline, struct error *err)
{
	char rv[KUBE_RV_MAX] = "", field[KUBE_NAME_MAX + 20];
	const char *cur;
	json_t *dep;
	long long t0;
	int rc, len;

	if ((rc = kube_get(k->ag->kube, KUBE_DEPLOYMENT, k->ns, k->name, &dep,
	    err)) == -1)
		return -1;
	if (rc == 1) {
		error_set(&v->err, "start_failed", "", "start_failed: deployment "
		    "%s/%s was deleted", k->ns, k->name);
		v->verdict = -1;
		return 1;
	}
	v->verdict = kube_status_deployment(dep, v->generation, &v->err);
	cur = json_string_value(json_object_get(json_object_get(dep, "metadata"),
	    "resourceVersion"));
	snprintf(rv, sizeof(rv), "%s", cur && strlen(cur) < sizeof(rv) ? cur : "");
	json_decref(dep);
	snprintf(field, sizeof(field), "metadata.name=%s", k->name);
	if (v->verdict == 0 && rv[0] != '\0')
		log_info("watching deployment %s/%s from resourceVersion %s",
		    k->ns, k->name, rv);
	while (v->verdict == 0 && rv[0] != '\0' &&
	    kube_health_pods(k, s, v) == 0) {
		long long left = (deadline - clock_mono_ms()) / 1000;
		if (left <= 0)
			return 0;
		len = left < KUBE_POD_LOOK_S ? (int)left + 1 : KUBE_POD_LOOK_S;
		t0 = clock_mono_ms();
		rc = kube_watch(k->ag->kube, KUBE_DEPLOYMENT, k->ns, field, rv,
		    sizeof(rv), len, &k->ag->stopping, kube_health_event, v, err);
		if (rc == 2)
			return 0;         /* too old: list again */
		if (rc == -1)
			return -1;
		/* Ended well before its time: the server went away. */
		if (rc == 0 && v->verdict == 0 &&
		    clock_mono_ms() - t0 < (len - 1) * 1000LL) {
			log_info("watch of %s/%s ended: resuming from resourceVersion "
			    "%s", k->ns, k->name, rv);
			usleep(100 * 1000);
		}
	}
	return v->verdict != 0;
}

static int
kube_health(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct kube_verdict v = { .generation = k->generation };
	struct kube_release r;
	long long t0 = clock_mono_ms(), deadline;
	int rc;

	kube_release_of(k, a->spec, &r);
	deadline = t0 + (kube_release_timeout(&r) + KUBE_WAIT_SLACK_S) * 1000LL;
	for (;;) {
		if (kube_stopping(k->ag)) {
			error_set(err, "stopping", "", "the agent is stopping");
			return -1;
		}
		if ((rc = kube_health_round(k, a->spec, &v, deadline, err)) == 1)
			break;
		if (rc == -1 && !kube_stopping(k->ag))
			log_warnx("%s: listing again", err->msg);
		if (clock_mono_ms() >= deadline) {
			error_set(err, "unhealthy", "", "unhealthy: deployment %s/%s "
			    "not available within %d s", k->ns, k->name,
			    kube_release_timeout(&r) + KUBE_WAIT_SLACK_S);
			return -1;
		}
		usleep(KUBE_POLL_MS * 1000);
	}
	if (v.verdict == -1) {
		*err = v.err;
		return -1;
	}
	metrics_observe_ms("slipway_agent_health_ms", NULL,
	    (double)(clock_mono_ms() - t0));
	log_info("deployment %s/%s available (generation %lld)", k->ns, k->name,
	    k->generation);
	return 0;
}

/* The endpoints' addresses: the routes' hostnames and paths, else in-cluster. */
static size_t
kube_addresses(const struct kube_apply *k, const struct agent_spec *s,
    struct agent_address *out)
{
	struct kube_release r;
	size_t n = 0;

	kube_release_of(k, s, &r);
	for (int i = 0; i < s->nep; i++) {
		struct agent_address *a = &out[n++];
		snprintf(a->name, sizeof(a->name), "%s", s->ep[i].name);
		snprintf(a->type, sizeof(a->type), "%s", s->ep[i].type);
		snprintf(a->visibility, sizeof(a->visibility), "%s",
		    s->ep[i].visibility);
		if (kube_routes_address(&r, &s->ep[i], a->url, sizeof(a->url)))
			a->url[0] = '\0';
	}
	return n;
}

/* The commit point: the record says the new release serves. */
static int
kube_commit(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct agent_slot *sl = k->slot;
	struct agent_record rec = sl->rec;
	void *cmd;

	if (rec.serving[0] != '\0')
		agent_record_finish(&rec, rec.serving, REPORT_RUNNING, "superseded");
	snprintf(rec.serving, sizeof(rec.serving), "%s", a->spec->deployment_id);
	snprintf(rec.digest, sizeof(rec.digest), "%s", a->digest);
	if ((cmd = malloc(k->len)) == NULL ||
	    agent_journal_record_save(k->ag->journal, &rec, k->cmd, k->len,
	    err) == -1) {
		free(cmd);
		return -1;
	}
	memcpy(cmd, k->cmd, k->len);
	sl->rec = rec;
	free(sl->serving_cmd);
	sl->serving_cmd = cmd;
	sl->serving_len = k->len;
	if (agent_cutover_load_serving(sl) == -1)
		log_warnx("serving command does not decode again");
	/* What the slots watcher looks at: the Deployment's pods. */
	snprintf(sl->container, sizeof(sl->container), "%s", k->name);
	sl->nports = 0;
	sl->crashed = 0;
	k->naddr = kube_addresses(k, a->spec, k->addr);
	return 0;
}

/* The labels that pick a slot's objects on this data plane. */
static int
kube_slot_selector(const struct agent_ctx *ag, const char *component_id,
    const char *environment, char *buf, size_t len)
{
	const char *const kv[] = { "slipway.managed", "true",
	    "slipway.component", component_id, "slipway.environment",
	    environment, "slipway.dataplane", ag->dataplane, NULL };

	return kube_selector(buf, len, kv);
}

/*
 * Deletes the slot's objects of kind whose deployment label is not one of
 * keep (NULL-terminated; NULL = delete all). -1 when any is left.
 */
static int
kube_prune(struct agent_ctx *ag, const struct agent_slot *sl,
    enum kube_kind kind, const char *const *keep)
{
	char sel[512];
	json_t *list, *it;
	struct error err;
	size_t i;
	int rc = 0;

	if (kube_slot_selector(ag, sl->component_id, sl->environment, sel,
	    sizeof(sel)) == -1 || kube_list(ag->kube, kind, NULL, sel, &list,
	    &err) == -1) {
		log_warnx("prune: %s", kube_stopping(ag) ? "stopping" : err.msg);
		return -1;
	}
	json_array_foreach(json_object_get(list, "items"), i, it) {
		json_t *md = json_object_get(it, "metadata");
		const char *dep = json_string_value(json_object_get(json_object_get(
		    md, "labels"), "slipway.deployment"));
		/* A running execution's variables are its own: it removes them. */
		int kept = keep != NULL && json_object_get(json_object_get(md,
		    "labels"), "slipway.execution") != NULL;
		for (const char *const *p = keep; p && *p && !kept; p++)
			kept = dep != NULL && strcmp(dep, *p) == 0;
		if (kept)
			continue;
		if (kube_delete(ag->kube, kind, json_string_value(json_object_get(md,
		    "namespace")), json_string_value(json_object_get(md, "name")),
		    &err) == -1) {
			log_warnx("prune: %s", err.msg);
			rc = -1;
		} else
			log_info("deleted %s %s/%s", kube_kind_info(kind)->kind,
			    json_string_value(json_object_get(md, "namespace")),
			    json_string_value(json_object_get(md, "name")));
	}
	json_decref(list);
	return rc;
}

/* --- tasks ----------------------------------------------------------------- */

/*
 * A ready scheduled task's CronJob, with settings t: the cluster's
 * controller schedules it from here on (the agent's scheduler never sees
 * it). A manual task has none: a CronJob left from the task's scheduled
 * past goes.
 */
static int
kube_task_cronjob(struct kube_apply *k, const struct agent_spec *s,
    const struct workload_task *t, struct error *err)
{
	char cron[KUBE_NAME_MAX];
	struct kube_release r;

	kube_release_of(k, s, &r);
	if (strcmp(s->type, "scheduled-task") != 0 || t->schedule[0] == '\0') {
		kube_objects_cronjob_name(k->name, cron);
		return kube_delete(k->ag->kube, KUBE_CRONJOB, k->ns, cron, err);
	}
	if (kube_put(k, KUBE_CRONJOB, kube_objects_cronjob(&r, t), NULL,
	    err) == -1)
		return -1;
	log_info("applied cronjob for %s/%s: \"%s\" (%s, %s)", k->ns, k->name,
	    t->schedule, t->timezone[0] ? t->timezone : "Etc/UTC",
	    t->concurrency_policy);
	return 0;
}

/*
 * A task's commit point: its variables' ConfigMap and Secret and
 * (scheduled) its CronJob are applied, then the record says its
 * deployment and digest run here, which is what manual executions start
 * from.
 */
static int
kube_pin(void *ctx, struct agent_apply *a, struct error *err)
{
	struct kube_apply *k = ctx;
	struct agent_slot *sl = k->slot;
	struct agent_record rec = sl->rec;
	const char *keep[3] = { a->spec->deployment_id, NULL, NULL };
	struct kube_release r;
	void *cmd;

	kube_release_of(k, a->spec, &r);
	if (kube_env_apply(k, &r, err) == -1)
		return -1;
	if (kube_task_cronjob(k, a->spec, &a->spec->task, err) == -1)
		return -1;
	if (rec.serving[0] != '\0') {
		keep[1] = rec.serving;
		agent_record_finish(&rec, rec.serving, REPORT_RUNNING, "superseded");
	}
	snprintf(rec.serving, sizeof(rec.serving), "%s", a->spec->deployment_id);
	snprintf(rec.digest, sizeof(rec.digest), "%s", a->digest);
	rec.task_set = 0;
	if ((cmd = malloc(k->len)) == NULL ||
	    agent_journal_record_save(k->ag->journal, &rec, k->cmd, k->len,
	    err) == -1) {
		free(cmd);
		return -1;
	}
	memcpy(cmd, k->cmd, k->len);
	sl->rec = rec;
	free(sl->serving_cmd);
	sl->serving_cmd = cmd;
	sl->serving_len = k->len;
	if (agent_cutover_load_serving(sl) == -1)
		log_warnx("serving command does not decode again");
	sl->container[0] = '\0';
	/* A service or web app that served the slot before goes. */
	kube_prune(k->ag, sl, KUBE_SERVICE, NULL);
	kube_prune(k->ag, sl, KUBE_DEPLOYMENT, NULL);
	/* Variables of older releases (a run of the previous may still start). */
	kube_prune(k->ag, sl, KUBE_SECRET, keep);
	kube_prune(k->ag, sl, KUBE_CONFIGMAP, keep);
	log_info("task %s pinned to %s", a->spec->deployment_id, a->digest);
	return 0;
}

/*
 * SetSchedule: the ready task's settings change without a redeploy: in
 * its record (so they survive a restart) and in its CronJob. One for
 * another deployment than the one the slot runs is stale and ignored.
 */
static int
kube_job_schedule(struct agent_ctx *ag, struct agent_slot *sl,
    const void *cmd, size_t len)
{
	struct kube_apply k = { .ag = ag, .slot = sl };
	const Slipway__V1__SetSchedule *ss;
	struct agent_record rec = sl->rec;
	struct workload_task t;
	struct error err;
	Envelope *env;
	json_t *pull = NULL;
	int rc;

	if ((env = envelope_decode(cmd, len, NULL, &err)) == NULL ||
	    (ss = env->set_schedule) == NULL ||
	    workload_task_from_proto(ss->task, &t, &err) == -1) {
		log_warnx("SetSchedule unusable: dropped");
		envelope_free(env);
		return 0;
	}
	rc = strcmp(sl->rec.serving, ss->deployment_id) != 0 ||
	    !agent_spec_is_task(&sl->serving);
	envelope_free(env);
	if (rc) {
		log_info("SetSchedule ignored: %s is what runs here",
		    sl->rec.serving[0] ? sl->rec.serving : "nothing");
		return 0;
	}
	kube_names(&sl->serving, &k);
	snprintf(k.image, sizeof(k.image), "%s", sl->serving.image);
	{
		struct image_ref ref;
		if (image_ref_parse(sl->serving.image, &ref, &err) == 0)
			snprintf(k.image, sizeof(k.image), "%s/%s@%s", ref.domain,
			    ref.path, sl->rec.digest);
	}
	if (kube_get(ag->kube, KUBE_SECRET, k.ns, k.pull, &pull, &err) == -1) {
		log_warnx("%s", err.msg);
		return -1;
	}
	k.have_cred = pull != NULL;
	json_decref(pull);
	if (kube_task_cronjob(&k, &sl->serving, &t, &err) == -1) {
		log_warnx("%s", err.msg);
		return -1;
	}
	rec.task_set = 1;
	rec.task = t;
	if (agent_journal_record_save(ag->journal, &rec, NULL, 0, &err) == -1) {
		log_warnx("%s", err.msg);
		return -1;
	}
	sl->rec = rec;
	return 0;
}

/*
 * After running was reported: the variables' ConfigMaps and Secrets of
 * releases older than the one replaced go (the replaced one's stay while
 * its pods may still restart during the roll).
 */
static void
kube_retire(void *ctx, struct agent_apply *a)
{
	struct kube_apply *k = ctx;
	const char *keep[4] = { a->spec->deployment_id, NULL, NULL, NULL };
	int n = 1;

	for (int i = 0; i < k->slot->rec.nfinished && n < 2; i++)
		if (k->slot->rec.finished[i].state == REPORT_RUNNING)
			keep[n++] = k->slot->rec.finished[i].id;
	/* The pull Secret and the Service carry the newest release's label. */
	kube_prune(k->ag, k->slot, KUBE_SECRET, keep);
	kube_prune(k->ag, k->slot, KUBE_CONFIGMAP, keep);
}

/* A failed release changes nothing: the previous ReplicaSet serves on. */
static void
kube_discard(void *ctx, struct agent_apply *a)
{
	(void)ctx;
	log_info("release %s not available: the previous one keeps serving",
	    a->spec->deployment_id);
}

/* --- after running: crashes -------------------------------------------------- */

/* What the serving release's pods say: failing (reason in err), any ready. */
struct kube_pods_view {
	int failing;
	int ready;
	struct error err;
};

/* Adds one pod to the view: the first failure found is the reason. */
static void
kube_pods_view_add(struct kube_pods_view *pv, json_t *pod)
{
	if (!pv->failing && kube_status_pod_failure(pod, &pv->err) == -1)
		pv->failing = 1;
	pv->ready |= kube_status_pod_ready(pod);
}

/* 1 when pod carries the label key=value. */
static int
kube_pod_labelled(json_t *pod, const char *key, const char *value)
{
	const char *v = json_string_value(json_object_get(json_object_get(
	    json_object_get(pod, "metadata"), "labels"), key));

	return v != NULL && strcmp(v, value) == 0;
}

/* The pods of this data plane carrying the labels kv adds, in any namespace. */
static int
kube_dataplane_pods(struct agent_ctx *ag, const char *const *kv, json_t **list)
{
	const char *sel_kv[16] = { "slipway.managed", "true",
	    "slipway.dataplane", ag->dataplane };
	size_t n = 4;
	char sel[512];
	struct error err;

	for (; kv != NULL && *kv != NULL && n + 2 < 16; kv += 2, n += 2) {
		sel_kv[n] = kv[0];
		sel_kv[n + 1] = kv[1];
	}
	sel_kv[n] = NULL;
	if (kube_selector(sel, sizeof(sel), sel_kv) == -1 ||
	    kube_list(ag->kube, KUBE_POD, NULL, sel, list, &err) == -1)
		return -1;
	return 0;
}

static int
kube_serving_pods(struct agent_ctx *ag, const char *component_id,
    const char *environment, const char *deployment_id,
    struct kube_pods_view *pv)
{
	const char *const kv[] = { "slipway.component", component_id,
	    "slipway.environment", environment, "slipway.deployment",
	    deployment_id, NULL };
	json_t *list, *pod;
	size_t i;

	memset(pv, 0, sizeof(*pv));
	if (kube_dataplane_pods(ag, kv, &list) == -1)
		return -1;
	json_array_foreach(json_object_get(list, "items"), i, pod)
		kube_pods_view_add(pv, pod);
	json_decref(list);
	return 0;
}

/*
 * The watcher's look: a serving release whose pods crash (and was not
 * reported so), or one reported crashed whose pods are ready again. One
 * LIST of the data plane's pods serves every slot of the pass, whatever
 * the number of components.
 */
int
agent_kube_look(struct agent_ctx *ag, struct agent_watch_item *v, size_t n)
{
	struct kube_pods_view pv;
	json_t *list, *pod;
	size_t j;

	if (kube_stopping(ag) || kube_dataplane_pods(ag, NULL, &list) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memset(&pv, 0, sizeof(pv));
		json_array_foreach(json_object_get(list, "items"), j, pod)
			if (kube_pod_labelled(pod, "slipway.component",
			    v[i].component_id) && kube_pod_labelled(pod,
			    "slipway.environment", v[i].environment) &&
			    kube_pod_labelled(pod, "slipway.deployment",
			    v[i].deployment_id))
				kube_pods_view_add(&pv, pod);
		v[i].act = v[i].crashed ? !pv.failing && pv.ready : pv.failing;
	}
	json_decref(list);
	return 0;
}

/*
 * JOB_RESTART here: the kubelet restarts containers, the agent only says
 * so, as the engine runtime does: crashed once (with the kubelet's reason
 * and message), running again ("recovered") once its pods are ready.
 */
static int
kube_job_check(struct agent_ctx *ag, struct agent_slot *sl)
{
	struct kube_apply k = { .ag = ag, .slot = sl };
	struct agent_report r = { &sl->serving, REPORT_CRASHED, "", "", NULL,
	    NULL, 0 };
	struct kube_pods_view pv;
	char reason[AGENT_REASON_MAX];
	const char *why;

	sl->next_restart_ms = clock_mono_ms() + 1000;
	if (sl->rec.serving[0] == '\0' || agent_spec_is_task(&sl->serving) ||
	    kube_serving_pods(ag, sl->component_id, sl->environment,
	    sl->rec.serving, &pv) == -1)
		return 0;
	if (pv.failing && !sl->crashed) {
		/* "unhealthy: CrashLoopBackOff: ..." -> "crashed: CrashLoopBackOff: ..." */
		why = strstr(pv.err.msg, ": ");
		snprintf(reason, sizeof(reason), "crashed: %.200s", why ? why + 2 :
		    pv.err.msg);
		r.reason = reason;
		if (agent_report_send(ag, &r) == 0)
			sl->crashed = 1;
	} else if (!pv.failing && pv.ready && sl->crashed) {
		kube_names(&sl->serving, &k);
		r = (struct agent_report){ &sl->serving, REPORT_RUNNING,
		    sl->rec.digest, "recovered: its pods are ready again", NULL,
		    k.addr, kube_addresses(&k, &sl->serving, k.addr) };
		if (agent_report_send(ag, &r) == 0)
			sl->crashed = 0;
	}
	return 0;
}

/* Runs the machine for spec s; records a failure so a redelivery re-reports. */
static int
kube_apply_spec(struct agent_ctx *ag, struct agent_slot *sl,
    const struct agent_spec *s, const void *cmd, size_t len)
{
	struct kube_apply k = { .ag = ag, .slot = sl, .cmd = cmd, .len = len };
	struct agent_apply_ops ops = { kube_resolve, kube_prepare, kube_start,
	    kube_health, kube_commit, kube_pin, kube_retire, kube_discard,
	    kube_report, &k };
	struct agent_apply *a = calloc(1, sizeof(*a));
	struct error err;
	long long t0 = clock_mono_ms();
	int rc;

	if (a == NULL)
		return -1;
	kube_names(s, &k);
	a->spec = s;
	rc = agent_apply_run(a, &ops);
	agent_cred_wipe(&k.cred);
	if (rc == 0 && a->state == APPLY_FAILED) {
		struct agent_record rec = sl->rec;
		agent_record_finish(&rec, s->deployment_id, REPORT_FAILED, a->reason);
		if (agent_journal_record_save(ag->journal, &rec, NULL, 0, &err) == 0)
			sl->rec = rec;
		else
			log_warnx("%s", err.msg);
	}
	if (rc == 0) {
		metrics_inc("slipway_agent_applies_total", a->state == APPLY_RUNNING
		    ? "result=\"running\"" : "result=\"failed\"");
		metrics_observe_ms("slipway_agent_apply_ms", NULL,
		    (double)(clock_mono_ms() - t0));
	}
	free(a);
	return rc;
}

/* A redelivered command: its outcome is reported again, nothing reapplied. */
static int
kube_rereport(struct agent_ctx *ag, struct agent_slot *sl,
    const struct agent_spec *s, int *done)
{
	struct kube_apply k = { .ag = ag, .slot = sl };
	struct agent_report r = { s, REPORT_RUNNING, sl->rec.digest, "", NULL,
	    k.addr, 0 };

	*done = 1;
	if (strcmp(sl->rec.serving, s->deployment_id) == 0) {
		kube_names(s, &k);
		r.naddr = kube_addresses(&k, s, k.addr);
		return agent_report_send(ag, &r);
	}
	for (int i = 0; i < sl->rec.nfinished; i++)
		if (strcmp(sl->rec.finished[i].id, s->deployment_id) == 0) {
			if (sl->rec.finished[i].state != REPORT_FAILED)
				return 0;   /* superseded since */
			r = (struct agent_report){ s, REPORT_FAILED, "",
			    sl->rec.finished[i].reason, NULL, NULL, 0 };
			return agent_report_send(ag, &r);
		}
	*done = 0;
	return 0;
}

static int
kube_job_apply(struct agent_ctx *ag, struct agent_slot *sl, const void *cmd,
    size_t len)
{
	struct agent_spec s;
	struct error err;
	Envelope *env;
	int rc, done;

	if ((env = envelope_decode(cmd, len, NULL, &err)) == NULL ||
	    agent_spec_from_apply(env, &s, &err) == -1) {
		log_warnx("journaled command unusable: %s: dropped", err.msg);
		envelope_free(env);
		return 0;
	}
	envelope_free(env);
	rc = kube_rereport(ag, sl, &s, &done);
	if (!done)
		rc = kube_apply_spec(ag, sl, &s, cmd, len);
	agent_spec_clear(&s);
	return rc;
}

/* RemoveComponent: every object labelled with the slot goes, then the record. */
static int
kube_job_remove(struct agent_ctx *ag, struct agent_slot *sl)
{
	static const enum kube_kind kinds[] = { KUBE_HTTPROUTE, KUBE_GRPCROUTE,
	    KUBE_INGRESS, KUBE_NETWORKPOLICY, KUBE_CRONJOB, KUBE_SERVICE,
	    KUBE_DEPLOYMENT, KUBE_JOB, KUBE_SECRET, KUBE_CONFIGMAP };
	int n;

	/* No new run starts; the running ones end failed with the reason. */
	if ((n = agent_execs_cancel(ag->execs, sl->component_id, sl->environment,
	    "removed: the component was removed from this environment")) > 0)
		log_info("stopping %d execution(s) of the removed component", n);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kube_prune(ag, sl, kinds[i], NULL) == -1)
			return -1;   /* the job is retried */
	agent_journal_record_remove(ag->journal, sl->component_id,
	    sl->environment);
	memset(&sl->rec, 0, sizeof(sl->rec));
	snprintf(sl->rec.component_id, AGENT_ID_MAX, "%s", sl->component_id);
	snprintf(sl->rec.environment, AGENT_ID_MAX, "%s", sl->environment);
	free(sl->serving_cmd);
	sl->serving_cmd = NULL;
	agent_spec_clear(&sl->serving);
	sl->container[0] = '\0';
	sl->nports = 0;
	log_info("removed component %s from %s", sl->component_id,
	    sl->environment);
	return 0;
}

int
agent_kube_job(struct agent_ctx *ag, struct agent_slot *slot,
    enum agent_job_kind kind, const void *cmd, size_t len)
{
	int rc;

	for (;;) {
		switch (kind) {
		case JOB_APPLY:
			rc = kube_job_apply(ag, slot, cmd, len);
			break;
		case JOB_REMOVE:
			rc = kube_job_remove(ag, slot);
			break;
		case JOB_SCHEDULE:
			rc = kube_job_schedule(ag, slot, cmd, len);
			break;
		case JOB_RESTART:
			return kube_job_check(ag, slot);
		default:
			return 0;
		}
		if (rc == 0)
			return 0;
		for (int ms = 0; ms < 1000; ms += 50) {
			if (kube_stopping(ag))
				return rc;
			usleep(50 * 1000);
		}
		log_warnx("job did not complete: retrying");
	}
}

/*
 * A slot restored from its record names an engine's container: here what
 * serves is its Deployment (none for a task), whose pods the watcher
 * looks at.
 */
static void
kube_adopt_slot(void *arg, struct agent_slot *sl)
{
	char name[KUBE_NAME_MAX];

	(void)arg;
	sl->container[0] = '\0';
	sl->nports = 0;
	if (sl->rec.serving[0] != '\0' && sl->serving.component_id[0] != '\0' &&
	    !agent_spec_is_task(&sl->serving)) {
		kube_object_name(sl->serving.component, sl->serving.component_id,
		    NULL, name);
		snprintf(sl->container, sizeof(sl->container), "%s", name);
	}
}

int
agent_kube_adopt(struct agent_ctx *ag, struct error *err)
{
	(void)err;
	agent_slots_each(ag->slots, kube_adopt_slot, NULL);
	agent_kube_reconcile(ag);
	return 0;
}

int
agent_kube_ping(struct agent_ctx *ag)
{
	return ag->kube != NULL && kube_ping(ag->kube);
}

/* Appends obj (taken) to out when it is there; -1 on no memory. */
static int
kube_objects_add(json_t *out, json_t *obj)
{
	return obj == NULL ? -1 : json_array_append_new(out, obj);
}

int
agent_kube_objects(struct agent_ctx *ag, const struct agent_spec *s,
    const char *digest, int with_pull, json_t *out)
{
	struct kube_apply k = { .ag = ag };
	struct kube_release r;
	struct image_ref ref;
	struct error err;
	json_t *o;

	if (image_ref_parse(s->image, &ref, &err) == -1)
		return -1;
	kube_names(s, &k);
	snprintf(k.image, sizeof(k.image), "%s/%s@%s", ref.domain, ref.path,
	    digest);
	k.have_cred = with_pull;
	kube_release_of(&k, s, &r);
	if (kube_objects_add(out, kube_objects_namespace(&r)) == -1 ||
	    (r.env_config != NULL && kube_objects_add(out,
	    kube_objects_env_config(&r)) == -1) ||
	    (r.env_secret != NULL && kube_objects_add(out,
	    kube_objects_env_secret(&r)) == -1))
		return -1;
	if (agent_spec_is_task(s))
		return strcmp(s->type, "scheduled-task") == 0 && s->task.schedule[0] ?
		    kube_objects_add(out, kube_objects_cronjob(&r, &s->task)) : 0;
	if (kube_objects_add(out, kube_objects_deployment(&r)) == -1 ||
	    (s->nep > 0 && kube_objects_add(out, kube_objects_service(&r)) == -1))
		return -1;
	for (size_t i = 0; i < sizeof(kube_route_rows) /
	    sizeof(kube_route_rows[0]); i++)
		if ((o = kube_route_rows[i].make(&r, kube_route_rows[i].which)) !=
		    NULL && json_array_append_new(out, o) == -1)
			return -1;
	return 0;
}
