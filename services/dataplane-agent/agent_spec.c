/*
 * agent_spec.c: one ApplyDeployment, validated into a struct the agent owns.
 *
 * Commands come from the bus, so every string is capped and every name that
 * ends up in a container name, a label, a file name or a gateway path is
 * checked against a safe alphabet here, once; the rest of the agent trusts
 * a struct agent_spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "crypto.h"
#include "envelope.h"

#define SPEC_SAFE "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"0123456789_.-"

/* Copies s into dst; -1 when it does not fit (never truncates). */
static int
spec_copy(char *dst, size_t cap, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n >= cap)
		return -1;
	memcpy(dst, s != NULL ? s : "", n + 1);
	return 0;
}

int
agent_spec_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < AGENT_ID_MAX && s[0] != '.' && s[0] != '-' &&
	    strspn(s, SPEC_SAFE) == n;
}

/* Printable ASCII without spaces: what a path or context may hold. */
static int
spec_path_valid(const char *s)
{
	if (s == NULL || s[0] != '/')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
agent_spec_http(const struct agent_endpoint *e)
{
	return strcmp(e->type, "REST") == 0 || strcmp(e->type, "GraphQL") == 0
	    || strcmp(e->type, "WS") == 0 || strcmp(e->type, "HTTP") == 0;
}

static int
spec_type_valid(const char *t)
{
	static const char *const types[] = { "REST", "GraphQL", "GRPC", "TCP",
	    "UDP", "WS" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return 1;
	return 0;
}

static int
spec_endpoint(const Slipway__V1__Endpoint *in, struct agent_endpoint *out)
{
	const char *vis = in->visibility && in->visibility[0] ? in->visibility :
	    "Public";

	if (in->port == 0 || in->port > 65535 || spec_copy(out->name,
	    sizeof(out->name), in->name) == -1 || out->name[0] == '\0' ||
	    spec_copy(out->type, sizeof(out->type), in->type) == -1 ||
	    !spec_type_valid(out->type) || spec_copy(out->visibility,
	    sizeof(out->visibility), vis) == -1 ||
	    spec_copy(out->context, sizeof(out->context), in->context) == -1)
		return -1;
	if (strcmp(vis, "Public") != 0 && strcmp(vis, "Organization") != 0 &&
	    strcmp(vis, "Project") != 0)
		return -1;
	if (agent_spec_http(out) && out->context[0] == '\0')
		snprintf(out->context, sizeof(out->context), "/");
	if (out->context[0] != '\0' && !spec_path_valid(out->context))
		return -1;
	out->port = (int)in->port;
	return 0;
}

/*
 * The endpoints: every one from the command, or, from an older deploy-svc
 * that only sends the first port and type, that one.
 */
static int
spec_endpoints(const Slipway__V1__ApplyDeployment *ad, struct agent_spec *s)
{
	if (ad->n_endpoints > AGENT_ENDPOINTS_MAX)
		return -1;
	for (size_t i = 0; i < ad->n_endpoints; i++)
		if (spec_endpoint(ad->endpoints[i], &s->ep[s->nep++]) == -1)
			return -1;
	if (s->nep == 0 && ad->port > 0) {
		Slipway__V1__Endpoint e = SLIPWAY__V1__ENDPOINT__INIT;
		e.name = (char *)(uintptr_t)"default";
		e.port = ad->port;
		e.type = (char *)(uintptr_t)(ad->endpoint_type &&
		    ad->endpoint_type[0] ? ad->endpoint_type : "TCP");
		e.context = (char *)(uintptr_t)"/";
		if (spec_endpoint(&e, &s->ep[s->nep++]) == -1)
			return -1;
	}
	return 0;
}

static int
spec_health(const Slipway__V1__HealthCheck *h, struct agent_health_spec *out)
{
	if (h == NULL)
		return 0;
	if (h->timeout_s > 3600 || h->period_s > 60 || h->success_threshold > 10
	    || h->port > 65535 || spec_copy(out->path, sizeof(out->path),
	    h->path) == -1 || (out->path[0] && !spec_path_valid(out->path)))
		return -1;
	out->port = (int)h->port;
	out->timeout_s = (int)h->timeout_s;
	out->period_s = (int)h->period_s;
	out->success_threshold = (int)h->success_threshold;
	return 0;
}

int
agent_spec_resources(const Slipway__V1__Resources *r,
    struct agent_resources *out)
{
	if (r == NULL)
		return 0;
	if (r->memory_mb > 1024 * 1024 || r->cpu_millicores > 1024 * 1000 ||
	    r->pids > 1 << 22)
		return -1;
	out->memory_mb = (int)r->memory_mb;
	out->cpu_millicores = (int)r->cpu_millicores;
	out->pids = (int)r->pids;
	out->read_only_rootfs = r->read_only_rootfs ? 1 : 0;
	return 0;
}

/* 1 when name is a sane environment variable name. */
static int
spec_env_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= 128 && !(s[0] >= '0' && s[0] <= '9') &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_") == n;
}

/* "K=V" strings for a command's variables; PORT stays the agent's. */
int
agent_spec_env_list(Slipway__V1__EnvVar *const *in, size_t nin, char ***out)
{
	char **v;
	size_t n = 0;

	*out = NULL;
	if (nin > AGENT_ENV_MAX || (v = calloc(nin + 1, sizeof(*v))) == NULL)
		return -1;
	*out = v;
	for (size_t i = 0; i < nin; i++) {
		const Slipway__V1__EnvVar *e = in[i];
		size_t nl, vl;
		if (!spec_env_name_valid(e->name) || e->value == NULL ||
		    (vl = strlen(e->value)) > 32768)
			return -1;
		if (strcmp(e->name, "PORT") == 0)
			continue;
		nl = strlen(e->name);
		if ((v[n] = malloc(nl + vl + 2)) == NULL)
			return -1;
		snprintf(v[n++], nl + vl + 2, "%s=%s", e->name, e->value);
	}
	return 0;
}

/* Zeroed as freed: the strings may hold secrets. */
void
agent_spec_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		crypto_free_secret(v[i], strlen(v[i]));
	free(v);
}

/* The data plane's keys, for ApplyDeployment.sealed_env. */
static const struct agent_keys *spec_keys;

void
agent_spec_keys(const struct agent_keys *k)
{
	spec_keys = k;
}

char *
agent_spec_env_seal(char *const *env)
{
	json_t *a = json_array();
	unsigned char *sealed = NULL;
	size_t slen = 0;
	char *text, *b64 = NULL;

	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		json_array_append_new(a, json_string(env[i]));
	if (json_array_size(a) == 0) {
		json_decref(a);
		return strdup("");
	}
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);   /* its strings are copies: freed, not zeroed (jansson) */
	if (text != NULL && spec_keys != NULL &&
	    crypto_seal(spec_keys->pk, text, strlen(text), &sealed, &slen) == 0)
		b64 = crypto_b64_encode(sealed, slen);
	if (text != NULL)
		crypto_free_secret(text, strlen(text));
	free(sealed);
	return b64;
}

int
agent_spec_env_unseal(const char *b64, char ***out)
{
	unsigned char *sealed, *plain = NULL;
	size_t slen, plen = 0, i;
	json_t *a, *v;
	int rc = -1;

	*out = NULL;
	if (b64[0] == '\0')
		return 0;
	if (spec_keys == NULL || (sealed = crypto_b64_decode(b64, &slen)) == NULL)
		return -1;
	if (crypto_seal_open(spec_keys->pk, spec_keys->sk, sealed, slen, &plain,
	    &plen) == 0 && (a = json_loadb((const char *)plain, plen, 0, NULL)) !=
	    NULL) {
		if (json_is_array(a) && json_array_size(a) <= AGENT_ENV_MAX &&
		    (*out = calloc(json_array_size(a) + 1, sizeof(**out))) != NULL) {
			rc = 0;
			json_array_foreach(a, i, v)
				if (!json_is_string(v) || ((*out)[i] =
				    strdup(json_string_value(v))) == NULL)
					rc = -1;
		}
		json_decref(a);
	}
	free(sealed);
	if (plain != NULL)
		crypto_free_secret(plain, plen);
	if (rc == -1) {
		agent_spec_strv_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Appends the opened variables of se to s->env; -1 when they do not fit. */
static int
spec_env_append(struct agent_spec *s, const Slipway__V1__SealedEnv *se)
{
	char **add, **v;
	size_t n = 0, m = 0;

	if (agent_spec_env_list(se->vars, se->n_vars, &add) == -1) {
		agent_spec_strv_free(add);
		return -1;
	}
	while (s->env != NULL && s->env[n] != NULL)
		n++;
	while (add[m] != NULL)
		m++;
	if (n + m > AGENT_ENV_MAX || (v = calloc(n + m + 1, sizeof(*v))) == NULL) {
		agent_spec_strv_free(add);
		return -1;
	}
	memcpy(v, s->env, n * sizeof(*v));
	memcpy(v + n, add, m * sizeof(*v));
	free(s->env);
	free(add);
	s->env = v;
	return 0;
}

/*
 * The names se says are configuration variables into s->config_names;
 * none listed leaves it NULL (every variable a secret). -1 when invalid.
 */
static int
spec_config_names(struct agent_spec *s, const Slipway__V1__SealedEnv *se)
{
	if (se->n_config_names == 0)
		return 0;
	if (se->n_config_names > AGENT_ENV_MAX || (s->config_names = calloc(
	    se->n_config_names + 1, sizeof(*s->config_names))) == NULL)
		return -1;
	for (size_t i = 0; i < se->n_config_names; i++)
		if (!spec_env_name_valid(se->config_names[i]) ||
		    (s->config_names[i] = strdup(se->config_names[i])) == NULL)
			return -1;
	return 0;
}

int
agent_spec_env_secret(const struct agent_spec *s, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t n = eq != NULL ? (size_t)(eq - kv) : strlen(kv);

	for (char **c = s->config_names; c != NULL && *c != NULL; c++)
		if (strlen(*c) == n && strncmp(*c, kv, n) == 0)
			return 0;
	return 1;
}

size_t
agent_spec_env_count(const struct agent_spec *s, int secrets)
{
	size_t n = 0;

	for (char **e = s->env; e != NULL && *e != NULL; e++)
		n += agent_spec_env_secret(s, *e) == (secrets != 0);
	return n;
}

/*
 * Opens ApplyDeployment.sealed_env into s->env (and which of them are
 * configuration variables into s->config_names). A blob that does not open
 * (sealed to another key, damaged) is not a malformed command: the
 * deployment is recorded and fails with s->env_error. Nothing of the
 * plaintext is logged, and its buffers are zeroed.
 */
static int
spec_sealed_env(const Slipway__V1__ApplyDeployment *ad, struct agent_spec *s)
{
	Slipway__V1__SealedEnv *se = NULL;
	unsigned char *plain = NULL;
	size_t plen = 0;

	s->config_version = ad->config_version;
	if (ad->sealed_env.len == 0)
		return 0;
	if (spec_keys == NULL || ad->sealed_env.len > ENVELOPE_MAX ||
	    crypto_seal_open(spec_keys->pk, spec_keys->sk, ad->sealed_env.data,
	    ad->sealed_env.len, &plain, &plen) != 0 || plain == NULL) {
		snprintf(s->env_error, sizeof(s->env_error), "config_unsealed: the "
		    "configuration (version %u) does not open with this data "
		    "plane's key", ad->config_version);
		return 0;
	}
	if ((se = slipway__v1__sealed_env__unpack(NULL, plen, plain)) == NULL ||
	    spec_env_append(s, se) == -1 || spec_config_names(s, se) == -1)
		snprintf(s->env_error, sizeof(s->env_error), "config_invalid: the "
		    "configuration (version %u) holds invalid or too many "
		    "variables", ad->config_version);
	if (se != NULL) {
		for (size_t i = 0; i < se->n_vars; i++)
			if (se->vars[i]->value != NULL)
				sodium_memzero(se->vars[i]->value,
				    strlen(se->vars[i]->value));
		slipway__v1__sealed_env__free_unpacked(se, NULL);
	}
	crypto_free_secret(plain, plen);
	return 0;
}

int
agent_spec_is_task(const struct agent_spec *s)
{
	return strcmp(s->type, "scheduled-task") == 0 ||
	    strcmp(s->type, "manual-task") == 0;
}

/*
 * A task's settings through the shared contract (lib workload_task.c);
 * a task without any gets the defaults, another type none at all.
 */
static int
spec_task(const Slipway__V1__ApplyDeployment *ad, struct agent_spec *s)
{
	struct error err;

	memset(&s->task, 0, sizeof(s->task));
	if (!agent_spec_is_task(s))
		return 0;
	if (workload_task_from_proto(ad->task, &s->task, &err) == -1)
		return -1;
	/* A manual task is never scheduled, whatever it carries. */
	if (strcmp(s->type, "manual-task") == 0)
		s->task.schedule[0] = s->task.timezone[0] = '\0';
	return 0;
}

/* The ids, names and image: what names containers, files and routes. */
static int
spec_identity(const Envelope *env, const Slipway__V1__ApplyDeployment *ad,
    struct agent_spec *s)
{
	const char *org = ad->org && ad->org[0] ? ad->org : env->org;
	const char *name = ad->component_name && ad->component_name[0] ?
	    ad->component_name : ad->component_id;

	return !agent_spec_name_valid(ad->deployment_id) ||
	    !agent_spec_name_valid(ad->component_id) ||
	    !agent_spec_name_valid(ad->environment) ||
	    !agent_spec_name_valid(org) || !agent_spec_name_valid(name) ||
	    (ad->project[0] && !agent_spec_name_valid(ad->project)) ||
	    spec_copy(s->deployment_id, AGENT_ID_MAX, ad->deployment_id) ||
	    spec_copy(s->component_id, AGENT_ID_MAX, ad->component_id) ||
	    spec_copy(s->environment, AGENT_ID_MAX, ad->environment) ||
	    spec_copy(s->org, AGENT_ID_MAX, org) ||
	    spec_copy(s->project, AGENT_ID_MAX, ad->project[0] ? ad->project :
	    "default") ||
	    spec_copy(s->component, AGENT_ID_MAX, name) ||
	    spec_copy(s->type, sizeof(s->type), ad->component_type) ||
	    spec_copy(s->image, sizeof(s->image), ad->image) ||
	    s->image[0] == '\0' ||
	    spec_copy(s->pinned_digest, sizeof(s->pinned_digest), ad->digest) ||
	    (s->pinned_digest[0] && !image_ref_digest_valid(s->pinned_digest)) ||
	    spec_copy(s->registry_id, sizeof(s->registry_id), ad->registry_id) ||
	    spec_copy(s->trace_id, sizeof(s->trace_id), env->trace_id) ? -1 : 0;
}

int
agent_spec_from_apply(const Envelope *env, struct agent_spec *s,
    struct error *err)
{
	const Slipway__V1__ApplyDeployment *ad = env->apply_deployment;
	const char *what = "ids, names or image";

	memset(s, 0, sizeof(*s));
	if (ad == NULL || spec_identity(env, ad, s) == -1)
		goto bad;
	what = "endpoints";
	if (spec_endpoints(ad, s) == -1)
		goto bad;
	what = "health";
	if (spec_health(ad->health, &s->health) == -1)
		goto bad;
	what = "resources";
	if (agent_spec_resources(ad->resources, &s->res) == -1)
		goto bad;
	what = "environment variables";
	if (agent_spec_env_list(ad->env, ad->n_env, &s->env) == -1 ||
	    spec_sealed_env(ad, s) == -1)
		goto bad;
	what = "task settings";
	if (spec_task(ad, s) == -1)
		goto bad;
	return 0;
bad:
	agent_spec_clear(s);
	error_set(err, "invalid_command", "", "ApplyDeployment has invalid %s",
	    what);
	return -1;
}

void
agent_spec_clear(struct agent_spec *s)
{
	agent_spec_strv_free(s->env);
	s->env = NULL;
	agent_spec_strv_free(s->config_names);
	s->config_names = NULL;
}

int
agent_spec_container_name(const struct agent_spec *s, char *buf, size_t len)
{
	int n;

	if (!agent_spec_name_valid(s->component_id) ||
	    !agent_spec_name_valid(s->environment) ||
	    !agent_spec_name_valid(s->deployment_id))
		return -1;
	n = snprintf(buf, len, "slipway-%s-%s-%s", s->component_id,
	    s->environment, s->deployment_id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
