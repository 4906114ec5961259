// uses: services/dataplane-agent/kube.c services/dataplane-agent/kube_objects.c services/dataplane-agent/kube_status.c services/dataplane-agent/agent_spec.c services/dataplane-agent/kube_routes.c services/dataplane-agent/kube_yaml.c
/*
 * test_kube.c: the pure parts of the agent's Kubernetes runtime:
 *   - DNS-1123 names: folding, the 63-character cap with a stable hashed
 *     suffix, namespaces per org and environment, object names per
 *     component (distinct for two components of the same name);
 *   - API paths of every kind, cluster-wide lists, refused segments;
 *   - label selectors;
 *   - the objects of a release: labels, the pinned image, probes from the
 *     health settings, resources, the security context, the rolling
 *     update, the pull Secret's docker config, the Service's ports, the
 *     ConfigMap of its configuration variables and the Secret of its
 *     secrets, both in the pod template's envFrom; which variables are
 *     secrets, from a sealed configuration's config_names (none: all);
 *   - the Deployment status mapping: available only for the applied
 *     generation with the updated replicas, ProgressDeadlineExceeded;
 *   - the watch stream: events split across reads, bookmarks moving the
 *     resourceVersion, 410 Gone, a stop, a stream that is not one;
 *   - tasks: the CronJob (schedule, zone, policy, deadlines, a task's
 *     container), a manual execution's Job and Secret, the Job status
 *     mapping and the pod's exit code, and a CronJob's Job read back as
 *     the execution of its minute;
 *   - routes: the configuration's checks, HTTPRoutes / GRPCRoutes per
 *     visibility on their Gateways, Ingresses, the Project NetworkPolicy,
 *     the L4 Service, the addresses; the YAML writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"
#include "dataplane-agent/kube.h"
#include "crypto.h"

static void
test_dns_label(void **state)
{
	char out[KUBE_NAME_MAX], out2[KUBE_NAME_MAX];
	char longer[200];

	(void)state;
	kube_dns_label("My_Service..v2", 63, out);
	assert_string_equal(out, "my-service-v2");
	kube_dns_label("--a--", 63, out);
	assert_string_equal(out, "a");
	kube_dns_label("___", 63, out);
	assert_string_equal(out, "x");
	memset(longer, 'a', 100);
	longer[100] = '\0';
	kube_dns_label(longer, 63, out);
	assert_int_equal(strlen(out), 63);
	assert_true(kube_dns_label_valid(out));
	longer[99] = 'b';
	kube_dns_label(longer, 63, out2);
	assert_int_equal(strlen(out2), 63);
	assert_string_not_equal(out, out2);   /* the hash tells them apart */
	assert_memory_equal(out, out2, 54);
	/* Stable: the same input, the same name. */
	kube_dns_label(longer, 63, out);
	assert_string_equal(out, out2);
	/* A cut right after a dash leaves no double dash. */
	kube_dns_label("abcdefgh-abcdefgh-abcdefgh", 20, out);
	assert_true(kube_dns_label_valid(out));
	assert_true(strlen(out) <= 20);
	assert_null(strstr(out, "--"));
}

static void
test_names(void **state)
{
	char ns[KUBE_NAME_MAX], a[KUBE_NAME_MAX], b[KUBE_NAME_MAX];
	char big[120];

	(void)state;
	kube_namespace_name("acme", "production", ns);
	assert_string_equal(ns, "slipway-acme-production");
	memset(big, 'o', 80);
	big[80] = '\0';
	kube_namespace_name(big, "development", ns);
	assert_int_equal(strlen(ns), 63);
	assert_true(kube_dns_label_valid(ns));
	kube_object_name("Greeter", "11111111-1111-4111-8111-111111111111", NULL,
	    a);
	kube_object_name("Greeter", "22222222-2222-4222-8222-222222222222", NULL,
	    b);
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "greeter-", 8), 0);
	assert_int_equal(strlen(a), strlen("greeter-") + 8);
	kube_object_name("Greeter", "11111111-1111-4111-8111-111111111111",
	    "pull", b);
	assert_int_equal(strncmp(b, "greeter-pull-", 13), 0);
	assert_string_equal(b + 13, a + 8);
	memset(big, 'c', 100);
	big[100] = '\0';
	kube_object_name(big, "x", "env-1234abcd", a);
	assert_true(kube_dns_label_valid(a));
	assert_int_equal(strlen(a), 63);
	assert_non_null(strstr(a, "-env-1234abcd-"));
}

static void
test_paths(void **state)
{
	char p[KUBE_PATH_MAX];

	(void)state;
	assert_int_equal(kube_path(p, sizeof(p), KUBE_DEPLOYMENT, "ns1", "web",
	    "fieldManager=slipway&force=true"), 0);
	assert_string_equal(p, "/apis/apps/v1/namespaces/ns1/deployments/web"
	    "?fieldManager=slipway&force=true");
	assert_int_equal(kube_path(p, sizeof(p), KUBE_SERVICE, "ns1", NULL,
	    NULL), 0);
	assert_string_equal(p, "/api/v1/namespaces/ns1/services");
	assert_int_equal(kube_path(p, sizeof(p), KUBE_NAMESPACE, "ignored",
	    "slipway-acme-dev", NULL), 0);
	assert_string_equal(p, "/api/v1/namespaces/slipway-acme-dev");
	/* A list across namespaces (prune by label). */
	assert_int_equal(kube_path(p, sizeof(p), KUBE_SECRET, NULL, NULL,
	    "labelSelector=a%3Db"), 0);
	assert_string_equal(p, "/api/v1/secrets?labelSelector=a%3Db");
	/* Never a name that would change the path. */
	assert_int_equal(kube_path(p, sizeof(p), KUBE_SECRET, "ns", "../x",
	    NULL), -1);
	assert_int_equal(kube_path(p, sizeof(p), KUBE_SECRET, "ns", "A", NULL),
	    -1);
	assert_int_equal(kube_path(p, sizeof(p), KUBE_SECRET, NULL, "x", NULL),
	    -1);
	assert_int_equal(kube_path(p, 10, KUBE_DEPLOYMENT, "ns", "x", NULL), -1);
	assert_int_equal(kube_path(p, sizeof(p), KUBE_KIND_MAX, "ns", "x", NULL),
	    -1);
}

static void
test_selector(void **state)
{
	const char *const kv[] = { "slipway.managed", "true", "slipway.component",
	    "c1", NULL };
	char buf[64];

	(void)state;
	assert_int_equal(kube_selector(buf, sizeof(buf), kv), 0);
	assert_string_equal(buf, "slipway.managed=true,slipway.component=c1");
	assert_int_equal(kube_selector(buf, 20, kv), -1);
}

/* A web service with one REST endpoint and a health path. */
static void
spec_fill(struct agent_spec *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->deployment_id, "d0d0d0d0-0000-4000-8000-000000000001");
	strcpy(s->component_id, "c0c0c0c0-0000-4000-8000-000000000001");
	strcpy(s->environment, "development");
	strcpy(s->org, "acme");
	strcpy(s->project, "shop");
	strcpy(s->component, "greeter");
	strcpy(s->type, "service");
	strcpy(s->image, "127.0.0.1:5000/team/app:v1");
	s->nep = 2;
	strcpy(s->ep[0].name, "api");
	s->ep[0].port = 8080;
	strcpy(s->ep[0].type, "REST");
	strcpy(s->ep[0].context, "/greeting");
	strcpy(s->ep[1].name, "dns");
	s->ep[1].port = 53;
	strcpy(s->ep[1].type, "UDP");
	strcpy(s->health.path, "/healthz");
	s->health.timeout_s = 45;
	s->health.success_threshold = 2;
}

static void
release_fill(struct kube_release *r, const struct agent_spec *s)
{
	*r = (struct kube_release){ .spec = s, .dataplane = "kube1",
	    .image = "127.0.0.1:5000/team/app@sha256:abc", .ns =
	    "slipway-acme-development", .name = "greeter-12345678",
	    .pull_secret = "greeter-pull-12345678", .env_secret = NULL,
	    .health_timeout_s = 60, .res = { 256, 500, 0, 1 } };
}

#define GET(o, ...) json_path(o, __VA_ARGS__, NULL)
static json_t *
json_path(json_t *o, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, o);
	while (o != NULL && (k = va_arg(ap, const char *)) != NULL)
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(k)) :
		    json_object_get(o, k);
	va_end(ap);
	return o;
}

static const char *
str(json_t *o)
{
	return json_string_value(o) ? json_string_value(o) : "(null)";
}

static void
test_deployment(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	json_t *d, *c, *t;

	(void)state;
	spec_fill(&s);
	release_fill(&r, &s);
	assert_non_null(d = kube_objects_deployment(&r));
	assert_string_equal(str(GET(d, "apiVersion")), "apps/v1");
	assert_string_equal(str(GET(d, "metadata", "labels", "slipway.managed")),
	    "true");
	assert_string_equal(str(GET(d, "metadata", "labels",
	    "slipway.deployment")), s.deployment_id);
	assert_int_equal(json_integer_value(GET(d, "spec",
	    "progressDeadlineSeconds")), 45);
	assert_int_equal(json_integer_value(GET(d, "spec", "strategy",
	    "rollingUpdate", "maxUnavailable")), 0);
	/* The selector never changes between releases. */
	assert_int_equal(json_object_size(GET(d, "spec", "selector",
	    "matchLabels")), 2);
	assert_null(GET(d, "spec", "selector", "matchLabels",
	    "slipway.deployment"));
	t = GET(d, "spec", "template", "spec");
	assert_true(json_is_false(GET(t, "automountServiceAccountToken")));
	assert_string_equal(str(GET(t, "imagePullSecrets", "0", "name")),
	    "greeter-pull-12345678");
	c = GET(t, "containers", "0");
	assert_string_equal(str(GET(c, "image")), r.image);
	assert_true(json_is_false(GET(c, "securityContext",
	    "allowPrivilegeEscalation")));
	assert_string_equal(str(GET(c, "securityContext", "capabilities", "drop",
	    "0")), "ALL");
	assert_true(json_is_true(GET(c, "securityContext",
	    "readOnlyRootFilesystem")));
	assert_string_equal(str(GET(c, "resources", "limits", "memory")),
	    "256Mi");
	assert_string_equal(str(GET(c, "resources", "requests", "cpu")), "500m");
	assert_string_equal(str(GET(c, "readinessProbe", "httpGet", "path")),
	    "/healthz");
	assert_int_equal(json_integer_value(GET(c, "readinessProbe", "httpGet",
	    "port")), 8080);
	assert_int_equal(json_integer_value(GET(c, "readinessProbe",
	    "successThreshold")), 2);
	assert_int_equal(json_integer_value(GET(c, "livenessProbe",
	    "initialDelaySeconds")), 45);
	assert_null(GET(c, "livenessProbe", "successThreshold"));
	assert_string_equal(str(GET(c, "ports", "1", "protocol")), "UDP");
	assert_null(GET(c, "envFrom"));
	json_decref(d);

	/* No health path: the endpoint's context; a TCP endpoint: tcpSocket. */
	s.health.path[0] = '\0';
	r.pull_secret = NULL;
	assert_non_null(d = kube_objects_deployment(&r));
	c = GET(d, "spec", "template", "spec", "containers", "0");
	assert_string_equal(str(GET(c, "readinessProbe", "httpGet", "path")),
	    "/greeting");
	assert_null(GET(d, "spec", "template", "spec", "imagePullSecrets"));
	json_decref(d);
	strcpy(s.ep[0].type, "TCP");
	assert_non_null(d = kube_objects_deployment(&r));
	c = GET(d, "spec", "template", "spec", "containers", "0");
	assert_int_equal(json_integer_value(GET(c, "readinessProbe", "tcpSocket",
	    "port")), 8080);
	json_decref(d);
}

static void
test_service_and_secrets(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	json_t *o;
	unsigned char *raw;
	size_t n;
	char e1[] = "A=1", e2[] = "B=x=y";
	char *env[] = { e1, e2, NULL };

	(void)state;
	spec_fill(&s);
	release_fill(&r, &s);
	assert_non_null(o = kube_objects_service(&r));
	assert_string_equal(str(GET(o, "spec", "ports", "0", "name")), "p8080");
	assert_string_equal(str(GET(o, "spec", "ports", "1", "name")), "u53");
	assert_string_equal(str(GET(o, "spec", "ports", "1", "protocol")), "UDP");
	assert_null(GET(o, "spec", "selector", "slipway.deployment"));
	json_decref(o);

	assert_non_null(o = kube_objects_pull_secret(&r, "127.0.0.1:5000", "u",
	    "p:w"));
	assert_string_equal(str(GET(o, "type")), "kubernetes.io/dockerconfigjson");
	raw = crypto_b64_decode(str(GET(o, "data", ".dockerconfigjson")), &n);
	assert_non_null(raw);
	assert_non_null(strstr((char *)raw, "\"auths\":{\"127.0.0.1:5000\":"));
	assert_non_null(strstr((char *)raw, "\"auth\":\"dTpwOnc=\""));
	free(raw);
	json_decref(o);

	/* No names said to be configuration: every variable is a secret. */
	s.env = env;
	r.env_secret = "greeter-env-d0d0d0d0-12345678";
	assert_int_equal(agent_spec_env_count(&s, 1), 2);
	assert_int_equal(agent_spec_env_count(&s, 0), 0);
	assert_non_null(o = kube_objects_env_secret(&r));
	assert_string_equal(str(GET(o, "data", "B")), "eD15");
	assert_string_equal(str(GET(o, "data", "A")), "MQ==");
	json_decref(o);
	assert_non_null(o = kube_objects_deployment(&r));
	assert_string_equal(str(GET(o, "spec", "template", "spec", "containers",
	    "0", "envFrom", "0", "secretRef", "name")), r.env_secret);
	assert_int_equal(json_array_size(GET(o, "spec", "template", "spec",
	    "containers", "0", "envFrom")), 1);
	json_decref(o);
	s.env = NULL;
}

/* A release's variables in a ConfigMap, its secrets in a Secret. */
static void
test_config_and_secrets(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	json_t *o, *from;
	char e1[] = "LOG_LEVEL=debug", e2[] = "DB_PASSWORD=s3cr=t";
	char e3[] = "LOG=x";
	char n1[] = "LOG_LEVEL", n2[] = "NOT_SET";
	char *env[] = { e1, e2, e3, NULL }, *names[] = { n1, n2, NULL };

	(void)state;
	spec_fill(&s);
	release_fill(&r, &s);
	s.env = env;
	s.config_names = names;
	/* A name that only starts like a variable's is a secret. */
	assert_int_equal(agent_spec_env_secret(&s, e1), 0);
	assert_int_equal(agent_spec_env_secret(&s, e2), 1);
	assert_int_equal(agent_spec_env_secret(&s, e3), 1);
	assert_int_equal(agent_spec_env_count(&s, 0), 1);
	assert_int_equal(agent_spec_env_count(&s, 1), 2);
	r.env_config = "greeter-cfg-d0d0d0d0-12345678";
	r.env_secret = "greeter-env-d0d0d0d0-12345678";
	assert_non_null(o = kube_objects_env_config(&r));
	assert_string_equal(str(GET(o, "apiVersion")), "v1");
	assert_string_equal(str(GET(o, "kind")), "ConfigMap");
	assert_string_equal(str(GET(o, "metadata", "name")), r.env_config);
	assert_string_equal(str(GET(o, "metadata", "labels",
	    "slipway.deployment")), s.deployment_id);
	assert_string_equal(str(GET(o, "metadata", "labels", "slipway.managed")),
	    "true");
	assert_int_equal(json_object_size(GET(o, "data")), 1);
	assert_string_equal(str(GET(o, "data", "LOG_LEVEL")), "debug");
	json_decref(o);
	assert_non_null(o = kube_objects_env_secret(&r));
	assert_int_equal(json_object_size(GET(o, "data")), 2);
	assert_null(GET(o, "data", "LOG_LEVEL"));
	assert_string_equal(str(GET(o, "data", "DB_PASSWORD")), "czNjcj10");
	json_decref(o);
	/* The pod template takes both: the ConfigMap first, the Secret after. */
	assert_non_null(o = kube_objects_deployment(&r));
	from = GET(o, "spec", "template", "spec", "containers", "0", "envFrom");
	assert_int_equal(json_array_size(from), 2);
	assert_string_equal(str(GET(from, "0", "configMapRef", "name")),
	    r.env_config);
	assert_string_equal(str(GET(from, "1", "secretRef", "name")),
	    r.env_secret);
	json_decref(o);
	/* Only variables: no Secret is referenced. */
	r.env_secret = NULL;
	assert_non_null(o = kube_objects_deployment(&r));
	from = GET(o, "spec", "template", "spec", "containers", "0", "envFrom");
	assert_int_equal(json_array_size(from), 1);
	assert_string_equal(str(GET(from, "0", "configMapRef", "name")),
	    r.env_config);
	json_decref(o);
	s.env = NULL;
	s.config_names = NULL;
}

#define S(x) ((char *)(uintptr_t)(x))

/*
 * s from an ApplyDeployment whose sealed configuration holds A=1 and
 * B=2, with config_names names (n of them); 0, or -1 when refused.
 */
static int
spec_sealed(struct agent_spec *s, char **names, size_t n)
{
	static struct agent_keys keys;
	Slipway__V1__SealedEnv se = SLIPWAY__V1__SEALED_ENV__INIT;
	Slipway__V1__EnvVar a = SLIPWAY__V1__ENV_VAR__INIT;
	Slipway__V1__EnvVar b = SLIPWAY__V1__ENV_VAR__INIT;
	Slipway__V1__EnvVar *vars[] = { &a, &b };
	Slipway__V1__ApplyDeployment ad = SLIPWAY__V1__APPLY_DEPLOYMENT__INIT;
	Envelope env = SLIPWAY__V1__ENVELOPE__INIT;
	unsigned char packed[256], *sealed = NULL;
	size_t plen, slen = 0;
	struct error err;
	int rc;

	crypto_box_keygen(keys.pk, keys.sk);
	agent_spec_keys(&keys);
	a.name = S("A");
	a.value = S("1");
	b.name = S("B");
	b.value = S("2");
	se.n_vars = 2;
	se.vars = vars;
	se.n_config_names = n;
	se.config_names = names;
	assert_true((plen = slipway__v1__sealed_env__get_packed_size(&se)) <=
	    sizeof(packed));
	slipway__v1__sealed_env__pack(&se, packed);
	assert_int_equal(crypto_seal(keys.pk, packed, plen, &sealed, &slen), 0);
	env.org = S("acme");
	env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT;
	env.apply_deployment = &ad;
	ad.deployment_id = S("d0d0d0d0-0000-4000-8000-000000000001");
	ad.component_id = S("c0c0c0c0-0000-4000-8000-000000000001");
	ad.component_name = S("greeter");
	ad.component_type = S("service");
	ad.environment = S("development");
	ad.image = S("127.0.0.1:5000/team/app:v1");
	ad.sealed_env.data = sealed;
	ad.sealed_env.len = slen;
	rc = agent_spec_from_apply(&env, s, &err);
	free(sealed);
	return rc;
}

/* Which of a release's variables are secrets: what the sealed list says. */
static void
test_spec_config_names(void **state)
{
	struct agent_spec s;
	char a[] = "A", bad[] = "not a name";
	char *names[] = { a }, *invalid[] = { bad };

	(void)state;
	assert_int_equal(spec_sealed(&s, names, 1), 0);
	assert_string_equal(s.env_error, "");
	assert_string_equal(s.config_names[0], "A");
	assert_null(s.config_names[1]);
	assert_int_equal(agent_spec_env_count(&s, 0), 1);
	assert_int_equal(agent_spec_env_count(&s, 1), 1);
	assert_int_equal(agent_spec_env_secret(&s, "A=1"), 0);
	assert_int_equal(agent_spec_env_secret(&s, "B=2"), 1);
	agent_spec_clear(&s);
	assert_null(s.config_names);
	/* A deploy-svc that does not say: every variable is a secret. */
	assert_int_equal(spec_sealed(&s, NULL, 0), 0);
	assert_null(s.config_names);
	assert_int_equal(agent_spec_env_count(&s, 1), 2);
	assert_int_equal(agent_spec_env_count(&s, 0), 0);
	agent_spec_clear(&s);
	/* A name no variable could have: the configuration is refused. */
	assert_int_equal(spec_sealed(&s, invalid, 1), 0);
	assert_non_null(strstr(s.env_error, "config_invalid"));
	agent_spec_clear(&s);
	agent_spec_keys(NULL);
}

static json_t *
status_doc(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);

	assert_non_null(o);
	return o;
}

static void
test_status(void **state)
{
	struct error err;
	json_t *d;

	(void)state;
	/* Nothing observed yet. */
	d = status_doc("{\"spec\":{\"replicas\":1},\"status\":{}}");
	assert_int_equal(kube_status_deployment(d, 1, &err), 0);
	json_decref(d);
	/* Available, but for the previous generation (the old ReplicaSet). */
	d = status_doc("{\"spec\":{\"replicas\":1},\"status\":{"
	    "\"observedGeneration\":2,\"replicas\":1,\"availableReplicas\":1,"
	    "\"updatedReplicas\":0,\"conditions\":[{\"type\":\"Available\","
	    "\"status\":\"True\"}]}}");
	assert_int_equal(kube_status_deployment(d, 2, &err), 0);
	json_decref(d);
	d = status_doc("{\"spec\":{\"replicas\":1},\"status\":{"
	    "\"observedGeneration\":2,\"replicas\":1,\"availableReplicas\":1,"
	    "\"updatedReplicas\":1,\"conditions\":[{\"type\":\"Available\","
	    "\"status\":\"True\"}]}}");
	assert_int_equal(kube_status_deployment(d, 2, &err), 1);
	assert_int_equal(kube_status_deployment(d, 3, &err), 0);
	json_decref(d);
	d = status_doc("{\"spec\":{\"replicas\":1},\"status\":{"
	    "\"observedGeneration\":3,\"conditions\":[{\"type\":\"Progressing\","
	    "\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\","
	    "\"message\":\"ReplicaSet \\\"x\\\" has timed out progressing.\"}]}}");
	assert_int_equal(kube_status_deployment(d, 3, &err), -1);
	assert_non_null(strstr(err.msg, "ProgressDeadlineExceeded: ReplicaSet"));
	/* A deadline of an older generation is not this release's failure. */
	assert_int_equal(kube_status_deployment(d, 4, &err), 0);
	json_decref(d);
}

struct seen {
	char types[8][16];
	int n;
	int stop_at;          /* stop on this event (1-based), 0 never */
};

static int
watch_fn(void *arg, const char *type, json_t *obj)
{
	struct seen *s = arg;

	(void)obj;
	if (s->n < 8)
		snprintf(s->types[s->n], sizeof(s->types[0]), "%s", type);
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at;
}

static void
test_watch_stream(void **state)
{
	char rv[KUBE_RV_MAX] = "10";
	struct seen seen = { .n = 0 };
	struct kube_watch_stream w = { .rv = rv, .rvlen = sizeof(rv),
	    .fn = watch_fn, .arg = &seen };
	const char *ev1 = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":"
	    "{\"resourceVersion\":\"11\"}}}\n";
	const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
	    "{\"resourceVersion\":\"15\"}}}\n";
	const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":"
	    "\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

	(void)state;
	/* An event split across two reads is one event. */
	assert_int_equal(kube_watch_feed(&w, ev1, 20), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(kube_watch_feed(&w, ev1 + 20, strlen(ev1) - 20), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.types[0], "MODIFIED");
	assert_string_equal(rv, "11");
	/* A bookmark moves the resourceVersion on and is not an event. */
	assert_int_equal(kube_watch_feed(&w, bm, strlen(bm)), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(rv, "15");
	/* 410 Gone: list again. */
	assert_int_equal(kube_watch_feed(&w, gone, strlen(gone)), -1);
	assert_true(w.gone);
	assert_false(w.bad);
	kube_watch_stream_clear(&w);

	/* fn says stop: the stream ends there. */
	memset(&w, 0, sizeof(w));
	w = (struct kube_watch_stream){ .rv = rv, .rvlen = sizeof(rv),
	    .fn = watch_fn, .arg = &seen };
	seen.n = 0;
	seen.stop_at = 1;
	assert_int_equal(kube_watch_feed(&w, ev1, strlen(ev1)), -1);
	assert_true(w.stopped);
	kube_watch_stream_clear(&w);

	/* Not an event stream. */
	w = (struct kube_watch_stream){ .rv = rv, .rvlen = sizeof(rv),
	    .fn = watch_fn, .arg = &seen };
	assert_int_equal(kube_watch_feed(&w, "<html>\n", 7), -1);
	assert_true(w.bad);
	kube_watch_stream_clear(&w);
}

static void
test_cronjob(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	struct workload_task t;
	char name[KUBE_NAME_MAX], longer[KUBE_NAME_MAX];
	json_t *o, *pod;

	(void)state;
	spec_fill(&s);
	release_fill(&r, &s);
	workload_task_defaults(&t);
	snprintf(t.schedule, sizeof(t.schedule), "*/5 * * * *");
	snprintf(t.concurrency_policy, sizeof(t.concurrency_policy), "allow");
	t.starting_deadline_s = 90;
	t.active_deadline_s = 600;
	assert_non_null(o = kube_objects_cronjob(&r, &t));
	assert_string_equal(str(GET(o, "kind")), "CronJob");
	assert_string_equal(str(GET(o, "apiVersion")), "batch/v1");
	assert_string_equal(str(GET(o, "metadata", "name")), "greeter-12345678");
	assert_string_equal(str(GET(o, "spec", "schedule")), "*/5 * * * *");
	/* No zone: UTC, said explicitly (the controller's would be its own). */
	assert_string_equal(str(GET(o, "spec", "timeZone")), "Etc/UTC");
	assert_string_equal(str(GET(o, "spec", "concurrencyPolicy")), "Allow");
	assert_int_equal(json_integer_value(GET(o, "spec",
	    "startingDeadlineSeconds")), 90);
	assert_int_equal(json_integer_value(GET(o, "spec", "jobTemplate", "spec",
	    "activeDeadlineSeconds")), 600);
	assert_int_equal(json_integer_value(GET(o, "spec", "jobTemplate", "spec",
	    "backoffLimit")), 0);
	assert_string_equal(str(GET(o, "spec", "jobTemplate", "metadata",
	    "labels", "slipway.trigger")), "schedule");
	assert_string_equal(str(GET(o, "spec", "jobTemplate", "metadata",
	    "annotations", "slipway.digest")), "sha256:abc");
	pod = GET(o, "spec", "jobTemplate", "spec", "template", "spec");
	assert_string_equal(str(GET(pod, "restartPolicy")), "Never");
	assert_string_equal(str(GET(pod, "imagePullSecrets", "0", "name")),
	    "greeter-pull-12345678");
	/* A task's container: no ports, no probes, the same isolation. */
	assert_null(GET(pod, "containers", "0", "ports"));
	assert_null(GET(pod, "containers", "0", "readinessProbe"));
	assert_true(json_is_false(GET(pod, "containers", "0", "securityContext",
	    "allowPrivilegeEscalation")));
	assert_string_equal(str(GET(pod, "containers", "0", "resources",
	    "limits", "memory")), "256Mi");
	json_decref(o);
	snprintf(t.concurrency_policy, sizeof(t.concurrency_policy), "replace");
	snprintf(t.timezone, sizeof(t.timezone), "Europe/Berlin");
	assert_non_null(o = kube_objects_cronjob(&r, &t));
	assert_string_equal(str(GET(o, "spec", "concurrencyPolicy")), "Replace");
	assert_string_equal(str(GET(o, "spec", "timeZone")), "Europe/Berlin");
	json_decref(o);
	/* The controller adds "-<minutes>" to a CronJob's name: 52 at most. */
	kube_object_name("a-very-long-component-name-that-goes-on-and-on-and-on",
	    "id-1", NULL, longer);
	kube_objects_cronjob_name(longer, name);
	assert_true(strlen(name) <= KUBE_CRONJOB_NAME_MAX);
	assert_true(kube_dns_label_valid(name));
}

static void
test_job(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	struct agent_exec x = { .id = "0b5e0000-0000-4000-8000-000000000001",
	    .trigger = "manual", .active_deadline_s = 30 };
	char a0[] = "/bin/sh", a1[] = "-c", a2[] = "exit 3";
	char *args[] = { a0, a1, a2, NULL };
	char e1[] = "X=1";
	char *env[] = { e1, NULL };
	char name[KUBE_NAME_MAX], long_comp[100];
	json_t *o;

	(void)state;
	spec_fill(&s);
	release_fill(&r, &s);
	x.args = args;
	x.env = env;
	kube_objects_job_name("greeter", x.id, name);
	assert_string_equal(name, "greeter-run-0b5e0000-0000-4000-8000-000000000001");
	memset(long_comp, 'c', sizeof(long_comp) - 1);
	long_comp[sizeof(long_comp) - 1] = '\0';
	kube_objects_job_name(long_comp, x.id, name);
	assert_true(strlen(name) <= KUBE_JOB_NAME_MAX && kube_dns_label_valid(name));
	assert_non_null(o = kube_objects_job(&r, &x, "greeter-run-1",
	    "greeter-run-1-env"));
	assert_string_equal(str(GET(o, "kind")), "Job");
	assert_string_equal(str(GET(o, "metadata", "labels",
	    "slipway.execution")), x.id);
	assert_string_equal(str(GET(o, "metadata", "labels", "slipway.trigger")),
	    "manual");
	assert_int_equal(json_integer_value(GET(o, "spec",
	    "activeDeadlineSeconds")), 30);
	assert_string_equal(str(GET(o, "spec", "template", "spec", "containers",
	    "0", "args", "2")), "exit 3");
	assert_string_equal(str(GET(o, "spec", "template", "spec", "containers",
	    "0", "envFrom", "0", "secretRef", "name")), "greeter-run-1-env");
	json_decref(o);
	assert_non_null(o = kube_objects_run_secret(&r, &x, "greeter-run-1-env"));
	assert_string_equal(str(GET(o, "metadata", "name")), "greeter-run-1-env");
	assert_string_equal(str(GET(o, "metadata", "labels",
	    "slipway.execution")), x.id);
	assert_string_equal(str(GET(o, "data", "X")), "MQ==");
	json_decref(o);
	/* A run's variables are all in its Secret, whatever the release says. */
	{
		char n1[] = "X";
		char *names[] = { n1, NULL };
		s.config_names = names;
		assert_non_null(o = kube_objects_run_secret(&r, &x,
		    "greeter-run-1-env"));
		assert_string_equal(str(GET(o, "data", "X")), "MQ==");
		json_decref(o);
		s.config_names = NULL;
	}
}

static json_t *
parse(const char *text)
{
	json_t *o = json_loads(text, 0, NULL);

	assert_non_null(o);
	return o;
}

static void
test_job_status(void **state)
{
	struct kube_job_outcome out;
	json_t *o;
	int code = -1, oom = -1;

	(void)state;
	o = parse("{\"status\":{\"active\":1}}");
	assert_int_equal(kube_status_job(o, &out), 0);
	json_decref(o);
	o = parse("{\"status\":{\"conditions\":[{\"type\":\"SuccessCriteriaMet\","
	    "\"status\":\"True\"},{\"type\":\"Complete\",\"status\":\"True\"}]}}");
	assert_int_equal(kube_status_job(o, &out), 1);
	json_decref(o);
	o = parse("{\"status\":{\"conditions\":[{\"type\":\"Complete\","
	    "\"status\":\"False\"}]}}");
	assert_int_equal(kube_status_job(o, &out), 0);
	json_decref(o);
	o = parse("{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":"
	    "\"True\",\"reason\":\"BackoffLimitExceeded\",\"message\":\"Job has "
	    "reached the specified backoff limit\"}]}}");
	assert_int_equal(kube_status_job(o, &out), -1);
	assert_false(out.deadline);
	assert_string_equal(out.reason, "BackoffLimitExceeded: Job has reached "
	    "the specified backoff limit");
	json_decref(o);
	o = parse("{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":"
	    "\"True\",\"reason\":\"DeadlineExceeded\"}]}}");
	assert_int_equal(kube_status_job(o, &out), -1);
	assert_true(out.deadline);
	assert_string_equal(out.reason, "DeadlineExceeded");
	json_decref(o);

	o = parse("{\"status\":{\"containerStatuses\":[{\"name\":\"app\","
	    "\"state\":{\"running\":{}}}]}}");
	assert_int_equal(kube_status_pod_exit(o, &code, &oom), 0);
	json_decref(o);
	o = parse("{\"status\":{\"containerStatuses\":[{\"name\":\"other\","
	    "\"state\":{\"terminated\":{\"exitCode\":1}}},{\"name\":\"app\","
	    "\"state\":{\"terminated\":{\"exitCode\":137,\"reason\":"
	    "\"OOMKilled\"}}}]}}");
	assert_int_equal(kube_status_pod_exit(o, &code, &oom), 1);
	assert_int_equal(code, 137);
	assert_int_equal(oom, 1);
	json_decref(o);
}

#define JOB_META(labels, ann, name) "{\"metadata\":{\"name\":\"" name "\"," \
	"\"labels\":{" labels "},\"annotations\":{" ann "}},\"spec\":" \
	"{\"activeDeadlineSeconds\":120}}"
#define JOB_LABELS "\"slipway.managed\":\"true\",\"slipway.trigger\":" \
	"\"schedule\",\"slipway.dataplane\":\"kube1\",\"slipway.component\":" \
	"\"c1\",\"slipway.environment\":\"development\",\"slipway.deployment\":" \
	"\"d1\""
#define JOB_ANN "\"slipway.org\":\"acme\",\"slipway.project\":\"p\"," \
	"\"slipway.component-name\":\"greeter\",\"slipway.image\":" \
	"\"127.0.0.1:5000/team/app:v1\",\"slipway.digest\":\"sha256:abc\"," \
	"\"slipway.registry\":\"r1\""

static void
test_job_exec(void **state)
{
	struct agent_exec x;
	json_t *o;

	(void)state;
	/* The controller's annotation, in the CronJob's zone. */
	memset(&x, 0, sizeof(x));
	o = parse(JOB_META(JOB_LABELS, JOB_ANN ",\"batch.kubernetes.io/cronjob-"
	    "scheduled-timestamp\":\"2026-12-02T06:05:00+01:00\"", "g-29936460"));
	assert_int_equal(kube_status_job_exec(o, "kube1", &x), 0);
	assert_int_equal(x.scheduled_for_ms, 1796187900000LL);
	assert_string_equal(x.component_id, "c1");
	assert_string_equal(x.deployment_id, "d1");
	assert_string_equal(x.org, "acme");
	assert_string_equal(x.digest, "sha256:abc");
	assert_string_equal(x.trigger, "schedule");
	assert_int_equal(x.active_deadline_s, 120);
	assert_int_equal(x.state, EXEC_PENDING);
	json_decref(o);
	/* Without it: the name's minutes. */
	memset(&x, 0, sizeof(x));
	o = parse(JOB_META(JOB_LABELS, JOB_ANN, "g-29936460"));
	assert_int_equal(kube_status_job_exec(o, "kube1", &x), 0);
	assert_int_equal(x.scheduled_for_ms, 29936460LL * 60000);
	json_decref(o);
	/* Another data plane's, a manual one, one without a minute: none. */
	memset(&x, 0, sizeof(x));
	o = parse(JOB_META(JOB_LABELS, JOB_ANN, "g-29936460"));
	assert_int_equal(kube_status_job_exec(o, "kube2", &x), -1);
	json_decref(o);
	o = parse(JOB_META(JOB_LABELS ",\"slipway.execution\":\"e1\"", JOB_ANN,
	    "g-29936460"));
	assert_int_equal(kube_status_job_exec(o, "kube1", &x), -1);
	json_decref(o);
	o = parse(JOB_META(JOB_LABELS, JOB_ANN, "g-manual"));
	assert_int_equal(kube_status_job_exec(o, "kube1", &x), -1);
	json_decref(o);
	/* Names that would become paths are refused. */
	o = parse(JOB_META("\"slipway.managed\":\"true\",\"slipway.trigger\":"
	    "\"schedule\",\"slipway.dataplane\":\"kube1\",\"slipway.component\":"
	    "\"../x\",\"slipway.environment\":\"development\","
	    "\"slipway.deployment\":\"d1\"", JOB_ANN, "g-29936460"));
	assert_int_equal(kube_status_job_exec(o, "kube1", &x), -1);
	json_decref(o);
}

static void
routes_fill(struct kube_routes *rt, const char *mode)
{
	struct kube_routes_input in = { mode, "edge/pub", "edge/int",
	    "apps.example.com", "int.example.com", "nginx", "", "NodePort" };
	struct error err;

	assert_int_equal(kube_routes_config(rt, &in, &err), 0);
}

static void
test_routes_config(void **state)
{
	struct kube_routes rt;
	struct error err;
	struct kube_routes_input in = { "gateway", "edge/pub", "edge/int",
	    "apps.example.com", "int.example.com", "", "", "LoadBalancer" };

	(void)state;
	assert_int_equal(kube_routes_config(&rt, &in, &err), 0);
	assert_string_equal(rt.gw[0].ns, "edge");
	assert_string_equal(rt.gw[1].name, "int");
	in.mode = "istio";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
	in.mode = "ingress";
	in.public_gateway = "no-slash";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
	in.public_gateway = "edge/Bad_Name";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
	in.public_gateway = "edge/pub";
	in.public_host = "apps.example.com:443";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
	in.public_host = "apps..example";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
	in.public_host = "apps.example.com";
	in.l4_type = "ExternalName";
	assert_int_equal(kube_routes_config(&rt, &in, &err), -1);
}

/* Endpoints: Public REST /api, Organization GraphQL, Project, GRPC, TCP. */
static void
routes_spec(struct agent_spec *s)
{
	static const struct { const char *name, *type, *vis, *ctx; int port; }
	    eps[] = { { "api", "REST", "Public", "/api/", 8080 },
	    { "graph", "GraphQL", "Organization", "/graphql", 8081 },
	    { "admin", "REST", "Project", "/", 9090 },
	    { "rpc", "GRPC", "Organization", "/", 50051 },
	    { "db", "TCP", "Public", "/", 5432 } };

	spec_fill(s);
	s->nep = 5;
	for (int i = 0; i < 5; i++) {
		snprintf(s->ep[i].name, sizeof(s->ep[i].name), "%s", eps[i].name);
		snprintf(s->ep[i].type, sizeof(s->ep[i].type), "%s", eps[i].type);
		snprintf(s->ep[i].visibility, sizeof(s->ep[i].visibility), "%s",
		    eps[i].vis);
		snprintf(s->ep[i].context, sizeof(s->ep[i].context), "%s",
		    eps[i].ctx);
		s->ep[i].port = eps[i].port;
	}
}

static void
test_routes_gateway(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	struct kube_routes rt;
	char url[AGENT_URL_MAX], want[AGENT_URL_MAX];
	json_t *o;

	(void)state;
	routes_spec(&s);
	release_fill(&r, &s);
	routes_fill(&rt, "gateway");
	r.routes = &rt;
	assert_non_null(o = kube_routes_httproute(&r, 0));
	assert_string_equal(str(GET(o, "spec", "parentRefs", "0", "namespace")),
	    "edge");
	assert_string_equal(str(GET(o, "spec", "hostnames", "0")),
	    "apps.example.com");
	snprintf(want, sizeof(want), "/%s/%s/%s/api", s.org, s.project,
	    s.component);
	assert_string_equal(str(GET(o, "spec", "rules", "0", "matches", "0",
	    "path", "value")), want);
	assert_string_equal(str(GET(o, "spec", "rules", "0", "filters", "0",
	    "urlRewrite", "path", "replacePrefixMatch")), "/api");
	assert_null(GET(o, "spec", "rules", "1"));
	json_decref(o);
	assert_non_null(o = kube_routes_httproute(&r, 1));
	assert_int_equal(json_integer_value(GET(o, "spec", "rules", "0",
	    "backendRefs", "0", "port")), 8081);
	json_decref(o);
	assert_non_null(o = kube_routes_grpcroute(&r, 1));
	assert_null(kube_routes_grpcroute(&r, 0));
	json_decref(o);
	assert_null(kube_routes_ingress(&r, 0));
	assert_non_null(o = kube_routes_network_policy(&r));
	assert_int_equal(json_integer_value(GET(o, "spec", "ingress", "0",
	    "ports", "0", "port")), 9090);
	assert_string_equal(str(GET(o, "spec", "ingress", "0", "from", "0",
	    "podSelector", "matchLabels", "slipway.project")), s.project);
	/* Every other port stays reachable (the Gateways' pods among them). */
	assert_null(GET(o, "spec", "ingress", "1", "from"));
	assert_non_null(GET(o, "spec", "ingress", "1", "ports", "3"));
	json_decref(o);
	assert_non_null(o = kube_routes_l4_service(&r));
	assert_string_equal(str(GET(o, "spec", "type")), "NodePort");
	assert_int_equal(json_integer_value(GET(o, "spec", "ports", "0", "port")),
	    5432);
	assert_null(GET(o, "spec", "ports", "1"));
	json_decref(o);

	assert_int_equal(kube_routes_address(&r, &s.ep[0], url, sizeof(url)), 0);
	snprintf(want, sizeof(want), "http://apps.example.com/%s/%s/%s/api",
	    s.org, s.project, s.component);
	assert_string_equal(url, want);
	assert_int_equal(kube_routes_address(&r, &s.ep[3], url, sizeof(url)), 0);
	assert_string_equal(url, "grpc://int.example.com");
	assert_int_equal(kube_routes_address(&r, &s.ep[2], url, sizeof(url)), 0);
	assert_string_equal(url, "http://greeter-12345678.slipway-acme-"
	    "development.svc.cluster.local:9090/");
	assert_int_equal(kube_routes_address(&r, &s.ep[4], url, sizeof(url)), 0);
	assert_non_null(strstr(url, "tcp://"));
	assert_non_null(strstr(url, ":5432"));
}

static void
test_routes_ingress(void **state)
{
	struct agent_spec s;
	struct kube_release r;
	struct kube_routes rt;
	json_t *o;

	(void)state;
	routes_spec(&s);
	release_fill(&r, &s);
	routes_fill(&rt, "ingress");
	r.routes = &rt;
	assert_null(kube_routes_httproute(&r, 0));
	assert_null(kube_routes_grpcroute(&r, 1));
	assert_non_null(o = kube_routes_ingress(&r, 0));
	assert_string_equal(str(GET(o, "spec", "ingressClassName")), "nginx");
	assert_string_equal(str(GET(o, "spec", "rules", "0", "http", "paths", "0",
	    "pathType")), "Prefix");
	json_decref(o);
	/* No class configured for the internal side: the cluster's default. */
	assert_non_null(o = kube_routes_ingress(&r, 1));
	assert_null(GET(o, "spec", "ingressClassName"));
	json_decref(o);
	/* gRPC has no Ingress route: it joins TCP on the L4 Service. */
	assert_non_null(o = kube_routes_l4_service(&r));
	assert_int_equal(json_integer_value(GET(o, "spec", "ports", "0", "port")),
	    50051);
	assert_int_equal(json_integer_value(GET(o, "spec", "ports", "1", "port")),
	    5432);
	json_decref(o);
	/* No routes configured at all: nothing but in-cluster names. */
	r.routes = NULL;
	assert_null(kube_routes_ingress(&r, 0));
	assert_null(kube_routes_l4_service(&r));
}

static void
test_yaml(void **state)
{
	json_t *o = json_loads("{\"b\":[1,{\"x\":\"true\"},[]],\"a\":{},"
	    "\"c\":\"line\\nbreak: \\\"q\\\"\",\"d\":null,\"e\":false}", 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(o);
	assert_non_null(f);
	assert_int_equal(kube_yaml_write(f, o), 0);
	fclose(f);
	assert_string_equal(buf, "---\n\"a\": {}\n\"b\":\n  - 1\n  -\n"
	    "    \"x\": \"true\"\n  - []\n\"c\": \"line\\nbreak: \\\"q\\\"\"\n"
	    "\"d\": null\n\"e\": false\n");
	free(buf);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_label),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_service_and_secrets),
		cmocka_unit_test(test_config_and_secrets),
		cmocka_unit_test(test_spec_config_names),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_watch_stream),
		cmocka_unit_test(test_cronjob),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_job_status),
		cmocka_unit_test(test_job_exec),
		cmocka_unit_test(test_routes_config),
		cmocka_unit_test(test_routes_gateway),
		cmocka_unit_test(test_routes_ingress),
		cmocka_unit_test(test_yaml),
	};

	crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
