/*
 * kube_objects.c: the Kubernetes objects one release of a service or web
 * app is made of, built as JSON from its validated spec. Pure: no I/O, so
 * the shapes are unit-tested and golden-tested against a real API server.
 *
 * Every object carries slipway.managed=true and the component, environment,
 * data plane and deployment labels; the selector of the Deployment and the
 * Service is only component + environment, which never change, so a new
 * release is a rolling update of the same Deployment rather than a new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "crypto.h"
#include "kube.h"

#define KUBE_PROBE_PERIOD_MIN_S 1    /* the API's minimum */
#define KUBE_LIVENESS_PERIOD_S  10
#define KUBE_FAILURE_THRESHOLD  3

/* The labels every object of r carries (deployment too when with_dep). */
static json_t *
kube_objects_labels(const struct kube_release *r, int with_dep)
{
	const struct agent_spec *s = r->spec;
	json_t *l = json_object();

	json_object_set_new(l, "slipway.managed", json_string("true"));
	json_object_set_new(l, "slipway.component", json_string(s->component_id));
	json_object_set_new(l, "slipway.environment", json_string(s->environment));
	json_object_set_new(l, "slipway.dataplane", json_string(r->dataplane));
	if (with_dep)
		json_object_set_new(l, "slipway.deployment",
		    json_string(s->deployment_id));
	return l;
}

/*
 * A pod template's labels: the release's, and its org and project, which
 * a Project-visibility NetworkPolicy admits by (kube_routes.c).
 */
static json_t *
kube_objects_pod_labels(const struct kube_release *r, json_t *l)
{
	json_object_set_new(l, "slipway.org", json_string(r->spec->org));
	json_object_set_new(l, "slipway.project", json_string(r->spec->project));
	return l;
}

static json_t *
kube_objects_meta(const struct kube_release *r, const char *name,
    int with_dep)
{
	return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", r->ns,
	    "labels", kube_objects_labels(r, with_dep));
}

static json_t *
kube_objects_object(const char *api_version, const char *kind, json_t *meta)
{
	return json_pack("{s:s, s:s, s:o}", "apiVersion", api_version, "kind",
	    kind, "metadata", meta);
}

json_t *
kube_objects_namespace(const struct kube_release *r)
{
	const struct agent_spec *s = r->spec;
	json_t *l = json_pack("{s:s, s:s, s:s, s:s}", "slipway.managed", "true",
	    "slipway.org", s->org, "slipway.environment", s->environment,
	    "slipway.dataplane", r->dataplane);

	return kube_objects_object("v1", "Namespace", json_pack("{s:s, s:o}",
	    "name", r->ns, "labels", l));
}

/* A Secret of type with one data entry key = value (base64'd here). */
static json_t *
kube_objects_secret(const struct kube_release *r, const char *name,
    const char *type, json_t *data)
{
	json_t *o = kube_objects_object("v1", "Secret", kube_objects_meta(r, name,
	    1));

	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "data", data);
	return o;
}

/* data[key] = base64(value), for a Secret; -1 on no memory. */
static int
kube_objects_b64(json_t *data, const char *key, const char *value)
{
	char *b = crypto_b64_encode(value, strlen(value));

	if (b == NULL)
		return -1;
	json_object_set_new(data, key, json_string(b));
	free(b);
	return 0;
}

json_t *
kube_objects_pull_secret(const struct kube_release *r, const char *host,
    const char *username, const char *password)
{
	json_t *cfg, *data = json_object();
	char *userpass, *auth, *text;
	size_t n = strlen(username) + strlen(password) + 2;

	if ((userpass = malloc(n)) == NULL) {
		json_decref(data);
		return NULL;
	}
	snprintf(userpass, n, "%s:%s", username, password);
	auth = crypto_b64_encode(userpass, strlen(userpass));
	explicit_bzero(userpass, n);
	free(userpass);
	if (auth == NULL) {
		json_decref(data);
		return NULL;
	}
	cfg = json_pack("{s:{s:{s:s, s:s, s:s}}}", "auths", host, "username",
	    username, "password", password, "auth", auth);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cfg);
	if (text == NULL || kube_objects_b64(data, ".dockerconfigjson", text)) {
		free(text);
		json_decref(data);
		return NULL;
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return kube_objects_secret(r, r->pull_secret,
	    "kubernetes.io/dockerconfigjson", data);
}

/*
 * The entries of the release's variables that are secrets (secrets = 1,
 * base64'd for a Secret) or configuration variables (0, as they are, for a
 * ConfigMap) as an object's data; NULL on no memory.
 */
static json_t *
kube_objects_env_data(const struct kube_release *r, int secrets)
{
	json_t *data = json_object();

	for (char **e = r->spec->env; e != NULL && *e != NULL; e++) {
		char key[256];
		const char *eq = strchr(*e, '=');
		size_t kl = eq ? (size_t)(eq - *e) : 0;
		if (kl == 0 || kl >= sizeof(key) ||
		    agent_spec_env_secret(r->spec, *e) != secrets)
			continue;
		memcpy(key, *e, kl);
		key[kl] = '\0';
		if (secrets ? kube_objects_b64(data, key, eq + 1) == -1 :
		    json_object_set_new(data, key, json_string(eq + 1)) == -1) {
			json_decref(data);
			return NULL;
		}
	}
	return data;
}

json_t *
kube_objects_env_secret(const struct kube_release *r)
{
	json_t *data = kube_objects_env_data(r, 1);

	return data != NULL ? kube_objects_secret(r, r->env_secret, "Opaque",
	    data) : NULL;
}

json_t *
kube_objects_env_config(const struct kube_release *r)
{
	json_t *data = kube_objects_env_data(r, 0);
	json_t *o = data != NULL ? kube_objects_object("v1", "ConfigMap",
	    kube_objects_meta(r, r->env_config, 1)) : NULL;

	if (o == NULL) {
		json_decref(data);
		return NULL;
	}
	json_object_set_new(o, "data", data);
	return o;
}

/*
 * envFrom of a container: the ConfigMap of the variables, then the Secret
 * (a later source wins a name both hold; deploy-svc never makes one).
 */
static json_t *
kube_objects_env_from(const char *env_config, const char *env_secret)
{
	json_t *a = json_array();

	if (env_config != NULL)
		json_array_append_new(a, json_pack("{s:{s:s}}", "configMapRef",
		    "name", env_config));
	if (env_secret != NULL)
		json_array_append_new(a, json_pack("{s:{s:s}}", "secretRef",
		    "name", env_secret));
	return a;
}

static int
kube_objects_udp(const struct agent_endpoint *e)
{
	return strcmp(e->type, "UDP") == 0;
}

/* 1 when an endpoint before i has the same port and protocol. */
static int
kube_objects_seen(const struct agent_spec *s, int i)
{
	for (int j = 0; j < i; j++)
		if (s->ep[j].port == s->ep[i].port &&
		    kube_objects_udp(&s->ep[j]) == kube_objects_udp(&s->ep[i]))
			return 1;
	return 0;
}

/* "p9090" / "u53": a port name (IANA_SVC_NAME: <= 15, has a letter). */
static void
kube_objects_port_name(const struct agent_endpoint *e, char *buf, size_t len)
{
	snprintf(buf, len, "%c%d", kube_objects_udp(e) ? 'u' : 'p', e->port);
}

/* The distinct ports of s, for the container (service = 0) or the Service. */
static json_t *
kube_objects_ports(const struct agent_spec *s, int service)
{
	json_t *a = json_array();
	char name[16];

	for (int i = 0; i < s->nep; i++) {
		const struct agent_endpoint *e = &s->ep[i];
		if (kube_objects_seen(s, i))
			continue;
		kube_objects_port_name(e, name, sizeof(name));
		json_array_append_new(a, service ?
		    json_pack("{s:s, s:i, s:s, s:s}", "name", name, "port", e->port,
		    "protocol", kube_objects_udp(e) ? "UDP" : "TCP", "targetPort",
		    name) :
		    json_pack("{s:s, s:i, s:s}", "name", name, "containerPort",
		    e->port, "protocol", kube_objects_udp(e) ? "UDP" : "TCP"));
	}
	return a;
}

/* The endpoint health is checked on, as the engine runtime picks it. */
static const struct agent_endpoint *
kube_objects_probe_endpoint(const struct agent_spec *s)
{
	for (int i = 0; i < s->nep; i++)
		if (!kube_objects_udp(&s->ep[i]) && (s->health.port == 0 ||
		    s->ep[i].port == s->health.port))
			return &s->ep[i];
	return NULL;
}

/* The handler part of a probe: HTTP GET for HTTP endpoints, else TCP. */
static json_t *
kube_objects_probe(const struct agent_spec *s, const struct agent_endpoint *e)
{
	const char *path = s->health.path[0] ? s->health.path : e->context[0] ?
	    e->context : "/";

	if (agent_spec_http(e))
		return json_pack("{s:{s:s, s:i}}", "httpGet", "path", path, "port",
		    e->port);
	return json_pack("{s:{s:i}}", "tcpSocket", "port", e->port);
}

/* Readiness and liveness from the component's health settings. */
static void
kube_objects_probes(const struct kube_release *r, json_t *c)
{
	const struct agent_spec *s = r->spec;
	const struct agent_endpoint *e = kube_objects_probe_endpoint(s);
	int period = s->health.period_s > KUBE_PROBE_PERIOD_MIN_S ?
	    s->health.period_s : KUBE_PROBE_PERIOD_MIN_S;
	json_t *p;

	if (e == NULL)
		return;   /* nothing to probe: ready once it runs */
	p = kube_objects_probe(s, e);
	json_object_set_new(p, "periodSeconds", json_integer(period));
	json_object_set_new(p, "timeoutSeconds", json_integer(1));
	json_object_set_new(p, "successThreshold", json_integer(
	    s->health.success_threshold > 0 ? s->health.success_threshold : 1));
	json_object_set_new(p, "failureThreshold",
	    json_integer(KUBE_FAILURE_THRESHOLD));
	json_object_set_new(c, "readinessProbe", p);
	/*
	 * Liveness starts after the start-up allowance, so a slow start is
	 * judged by readiness (and the progress deadline), not killed.
	 */
	p = kube_objects_probe(s, e);
	json_object_set_new(p, "initialDelaySeconds",
	    json_integer(kube_release_timeout(r)));
	json_object_set_new(p, "periodSeconds",
	    json_integer(KUBE_LIVENESS_PERIOD_S));
	json_object_set_new(p, "timeoutSeconds", json_integer(1));
	json_object_set_new(p, "failureThreshold",
	    json_integer(KUBE_FAILURE_THRESHOLD));
	json_object_set_new(c, "livenessProbe", p);
}

int
kube_release_timeout(const struct kube_release *r)
{
	int t = r->spec->health.timeout_s ? r->spec->health.timeout_s :
	    r->health_timeout_s;

	return t > 0 ? t : 60;
}

static json_t *
kube_objects_resources(const struct agent_resources *res)
{
	char cpu[32], mem[32];
	json_t *q = json_object();

	if (res->cpu_millicores > 0) {
		snprintf(cpu, sizeof(cpu), "%dm", res->cpu_millicores);
		json_object_set_new(q, "cpu", json_string(cpu));
	}
	if (res->memory_mb > 0) {
		snprintf(mem, sizeof(mem), "%dMi", res->memory_mb);
		json_object_set_new(q, "memory", json_string(mem));
	}
	/* Requests = limits: the scheduler reserves what the limits allow. */
	return json_pack("{s:O, s:o}", "requests", q, "limits", q);
}

/*
 * The one container of r's pods. A task's has no ports and no probes (it
 * runs to its end), runs args (NULL: the image's command) and takes its
 * variables from env_config and env_secret (either NULL: none).
 */
static json_t *
kube_objects_container(const struct kube_release *r, int task,
    const char *env_config, const char *env_secret, char *const *args)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:o, s:{s:b, s:{s:[s]}, s:b}}",
	    "name", "app", "image", r->image, "imagePullPolicy", "IfNotPresent",
	    "resources", kube_objects_resources(&r->res), "securityContext",
	    "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL",
	    "readOnlyRootFilesystem", r->res.read_only_rootfs != 0);

	if (c == NULL)
		return NULL;
	if (!task)
		json_object_set_new(c, "ports", kube_objects_ports(r->spec, 0));
	if (env_config != NULL || env_secret != NULL)
		json_object_set_new(c, "envFrom", kube_objects_env_from(env_config,
		    env_secret));
	if (args != NULL) {
		json_t *a = json_array();
		for (size_t i = 0; args[i] != NULL; i++)
			json_array_append_new(a, json_string(args[i]));
		json_object_set_new(c, "args", a);
	}
	if (!task)
		kube_objects_probes(r, c);
	return c;
}

/* The pod spec every workload of r shares: isolation and the pull Secret. */
static json_t *
kube_objects_pod(const struct kube_release *r, json_t *container,
    const char *restart)
{
	json_t *pod = json_pack("{s:b, s:b, s:[o], s:{s:{s:s}}}",
	    "automountServiceAccountToken", 0, "enableServiceLinks", 0,
	    "containers", container, "securityContext", "seccompProfile", "type",
	    "RuntimeDefault");

	if (pod == NULL)
		return NULL;
	if (restart != NULL)
		json_object_set_new(pod, "restartPolicy", json_string(restart));
	if (r->pull_secret != NULL)
		json_object_set_new(pod, "imagePullSecrets", json_pack("[{s:s}]",
		    "name", r->pull_secret));
	return pod;
}

static json_t *
kube_objects_selector(const struct kube_release *r)
{
	return json_pack("{s:s, s:s}", "slipway.component",
	    r->spec->component_id, "slipway.environment", r->spec->environment);
}

json_t *
kube_objects_deployment(const struct kube_release *r)
{
	json_t *pod = kube_objects_pod(r, kube_objects_container(r, 0,
	    r->env_config, r->env_secret, NULL), NULL);
	json_t *o = kube_objects_object("apps/v1", "Deployment",
	    kube_objects_meta(r, r->name, 1));

	if (pod == NULL || o == NULL) {
		json_decref(pod);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
	    json_pack("{s:s}", "slipway.image", r->spec->image));
	json_object_set_new(o, "spec", json_pack("{s:i, s:i, s:i, s:{s:o}, "
	    "s:{s:s, s:{s:i, s:i}}, s:{s:{s:o}, s:o}}", "replicas", 1,
	    "revisionHistoryLimit", 5, "progressDeadlineSeconds",
	    kube_release_timeout(r), "selector", "matchLabels",
	    kube_objects_selector(r), "strategy", "type", "RollingUpdate",
	    "rollingUpdate", "maxUnavailable", 0, "maxSurge", 1, "template",
	    "metadata", "labels", kube_objects_pod_labels(r,
	    kube_objects_labels(r, 1)), "spec", pod));
	return o;
}

json_t *
kube_objects_service(const struct kube_release *r)
{
	json_t *o = kube_objects_object("v1", "Service", kube_objects_meta(r,
	    r->name, 1));

	json_object_set_new(o, "spec", json_pack("{s:s, s:o, s:o}", "type",
	    "ClusterIP", "selector", kube_objects_selector(r), "ports",
	    kube_objects_ports(r->spec, 1)));
	return o;
}

int
kube_objects_address(const struct kube_release *r,
    const struct agent_endpoint *e, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s://%s.%s.svc.cluster.local:%d%s",
	    kube_objects_udp(e) ? "udp" : agent_spec_http(e) ? "http" : "tcp",
	    r->name, r->ns, e->port, agent_spec_http(e) ? e->context : "");

	return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* --- tasks ----------------------------------------------------------------- */

/*
 * What an execution's Job carries beyond its labels, so that a Job the
 * CronJob controller made can be reported as an execution with nothing
 * but the Job in hand (kube_status_job_exec): label values cannot hold a
 * digest or an image reference, annotations can.
 */
static json_t *
kube_objects_run_annotations(const struct kube_release *r)
{
	const struct agent_spec *s = r->spec;
	const char *at = strrchr(r->image, '@');

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "slipway.org", s->org,
	    "slipway.project", s->project, "slipway.component-name",
	    s->component, "slipway.image", s->image, "slipway.digest",
	    at != NULL ? at + 1 : "", "slipway.registry", s->registry_id);
}

/* The labels of an execution's Job and pod: the release's and the trigger. */
static json_t *
kube_objects_run_labels(const struct kube_release *r, const char *trigger,
    const char *execution)
{
	json_t *l = kube_objects_labels(r, 1);

	json_object_set_new(l, "slipway.trigger", json_string(trigger));
	if (execution != NULL)
		json_object_set_new(l, "slipway.execution", json_string(execution));
	return l;
}

/*
 * A Job's spec: one pod that runs once (an execution is never retried, as
 * on an engine), ended after active_deadline_s.
 */
static json_t *
kube_objects_job_spec(const struct kube_release *r, json_t *labels,
    const char *env_config, const char *env_secret, char *const *args,
    unsigned active_deadline_s)
{
	json_t *pod = kube_objects_pod(r, kube_objects_container(r, 1,
	    env_config, env_secret, args), "Never");

	if (pod == NULL) {
		json_decref(labels);
		return NULL;
	}
	return json_pack("{s:i, s:I, s:{s:{s:o}, s:o}}", "backoffLimit", 0,
	    "activeDeadlineSeconds", (json_int_t)(active_deadline_s ?
	    active_deadline_s : WORKLOAD_ACTIVE_DEADLINE_DEFAULT), "template",
	    "metadata", "labels", kube_objects_pod_labels(r, labels), "spec",
	    pod);
}

/* forbid | allow | replace -> Forbid | Allow | Replace. */
static const char *
kube_objects_policy(const char *p)
{
	static const char *const map[][2] = { { "forbid", "Forbid" },
	    { "allow", "Allow" }, { "replace", "Replace" } };

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(p, map[i][0]) == 0)
			return map[i][1];
	return "Forbid";
}

void
kube_objects_cronjob_name(const char *name, char out[KUBE_NAME_MAX])
{
	/* The controller appends "-<minutes>" (11 characters) to job names. */
	kube_dns_label(name, KUBE_CRONJOB_NAME_MAX, out);
}

json_t *
kube_objects_cronjob(const struct kube_release *r,
    const struct workload_task *t)
{
	char name[KUBE_NAME_MAX];
	json_t *o, *job;

	kube_objects_cronjob_name(r->name, name);
	o = kube_objects_object("batch/v1", "CronJob", kube_objects_meta(r, name,
	    1));
	job = kube_objects_job_spec(r, kube_objects_run_labels(r, "schedule",
	    NULL), r->env_config, r->env_secret, NULL, t->active_deadline_s);
	if (o == NULL || job == NULL) {
		json_decref(o);
		json_decref(job);
		return NULL;
	}
	json_object_set_new(o, "spec", json_pack("{s:s, s:s, s:s, s:I, s:i, "
	    "s:i, s:{s:{s:o, s:o}, s:o}}", "schedule", t->schedule, "timeZone",
	    t->timezone[0] ? t->timezone : "Etc/UTC", "concurrencyPolicy",
	    kube_objects_policy(t->concurrency_policy), "startingDeadlineSeconds",
	    (json_int_t)(t->starting_deadline_s ? t->starting_deadline_s :
	    WORKLOAD_STARTING_DEADLINE_DEFAULT), "successfulJobsHistoryLimit", 3,
	    "failedJobsHistoryLimit", 3, "jobTemplate", "metadata", "labels",
	    kube_objects_run_labels(r, "schedule", NULL), "annotations",
	    kube_objects_run_annotations(r), "spec", job));
	return o;
}

void
kube_objects_job_name(const char *component, const char *execution_id,
    char out[KUBE_NAME_MAX])
{
	char raw[2 * KUBE_NAME_MAX + 8];

	/* Room for the "-env" of its variables' Secret. */
	snprintf(raw, sizeof(raw), "%s-run-%s", component, execution_id);
	kube_dns_label(raw, KUBE_JOB_NAME_MAX, out);
}

json_t *
kube_objects_job(const struct kube_release *r, const struct agent_exec *x,
    const char *name, const char *env_secret)
{
	json_t *o = kube_objects_object("batch/v1", "Job", json_pack("{s:s, s:s, "
	    "s:o, s:o}", "name", name, "namespace", r->ns, "labels",
	    kube_objects_run_labels(r, x->trigger, x->id), "annotations",
	    kube_objects_run_annotations(r)));
	json_t *spec = kube_objects_job_spec(r, kube_objects_run_labels(r,
	    x->trigger, x->id), NULL, env_secret, x->args, x->active_deadline_s);

	if (o == NULL || spec == NULL) {
		json_decref(o);
		json_decref(spec);
		return NULL;
	}
	json_object_set_new(o, "spec", spec);
	return o;
}

json_t *
kube_objects_run_secret(const struct kube_release *r,
    const struct agent_exec *x, const char *name)
{
	struct agent_spec s = *r->spec;
	struct kube_release rr = *r;
	json_t *o;

	/*
	 * The execution's own variables (the ready deployment's with its
	 * run's), all in its Secret, labelled with it: pruned with it.
	 */
	s.env = x->env;
	s.config_names = NULL;
	rr.spec = &s;
	rr.env_secret = name;
	if ((o = kube_objects_env_secret(&rr)) != NULL)
		json_object_set_new(json_object_get(json_object_get(o, "metadata"),
		    "labels"), "slipway.execution", json_string(x->id));
	return o;
}
