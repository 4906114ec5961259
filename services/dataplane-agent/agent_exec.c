/*
 * agent_exec.c: one execution of a task, as a value: its state machine,
 * its durable record (JSON under <state>/executions/<id>.json) and the
 * checks of a RunTask. agent_execs.c runs them.
 *
 *   pending -> running -> succeeded | failed | timed_out
 *      \
 *       +--> failed (never started: the pull or create failed, or it was
 *       |            replaced before it started)
 *       +--> skipped (a scheduled run that did not run)
 *
 * A final state is final: the one transition function refuses any move out
 * of it, so a late watcher tick can never turn a timed-out run into a
 * succeeded one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "agent.h"

#define EXEC_ARG_MAX 4096

static const char *const exec_state_names[] = {
	[EXEC_PENDING] = "pending", [EXEC_RUNNING] = "running",
	[EXEC_SUCCEEDED] = "succeeded", [EXEC_FAILED] = "failed",
	[EXEC_TIMED_OUT] = "timed_out", [EXEC_SKIPPED] = "skipped",
};

/* allowed[from]: a bit per state it may move to. */
#define EXEC_BIT(s) (1u << (s))
static const unsigned exec_allowed[] = {
	[EXEC_PENDING] = EXEC_BIT(EXEC_RUNNING) | EXEC_BIT(EXEC_FAILED) |
	    EXEC_BIT(EXEC_SKIPPED),
	[EXEC_RUNNING] = EXEC_BIT(EXEC_SUCCEEDED) | EXEC_BIT(EXEC_FAILED) |
	    EXEC_BIT(EXEC_TIMED_OUT),
};

const char *
agent_exec_state_name(enum agent_exec_state s)
{
	if ((unsigned)s > EXEC_SKIPPED)
		return "unknown";
	return exec_state_names[s];
}

int
agent_exec_final(enum agent_exec_state s)
{
	return s == EXEC_SUCCEEDED || s == EXEC_FAILED || s == EXEC_TIMED_OUT ||
	    s == EXEC_SKIPPED;
}

int
agent_exec_transition(struct agent_exec *x, enum agent_exec_state next)
{
	if ((unsigned)x->state > EXEC_SKIPPED || (unsigned)next > EXEC_SKIPPED ||
	    agent_exec_final(x->state) ||
	    (exec_allowed[x->state] & EXEC_BIT(next)) == 0)
		return -1;
	x->state = next;
	return 0;
}

int
agent_exec_container_name(const struct agent_exec *x, char *buf, size_t len)
{
	int n;

	if (!agent_spec_name_valid(x->component_id) ||
	    !agent_spec_name_valid(x->environment) ||
	    !agent_spec_name_valid(x->id))
		return -1;
	n = snprintf(buf, len, "slipway-%s-%s-run-%s", x->component_id,
	    x->environment, x->id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void
agent_exec_free(struct agent_exec *x)
{
	if (x == NULL)
		return;
	agent_spec_strv_free(x->args);
	agent_spec_strv_free(x->env);
	free(x);
}

/* Copies s into dst; -1 when it does not fit (never truncates). */
static int
exec_copy(char *dst, size_t cap, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n >= cap)
		return -1;
	memcpy(dst, s != NULL ? s : "", n + 1);
	return 0;
}

/* 1 when s is text JSON can carry (valid UTF-8), capped. */
static int
exec_text_valid(const char *s, size_t max)
{
	json_t *j;

	if (s == NULL || strlen(s) > max)
		return 0;
	if ((j = json_string(s)) == NULL)
		return 0;
	json_decref(j);
	return 1;
}

/* A NULL-terminated copy of n strings, each checked; NULL on failure. */
static char **
exec_strv(char *const *in, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v != NULL && i < n; i++)
		if (!exec_text_valid(in[i], EXEC_ARG_MAX) ||
		    (v[i] = strdup(in[i])) == NULL) {
			agent_spec_strv_free(v);
			return NULL;
		}
	return v;
}

/* The ids and names, checked as ApplyDeployment's are. */
static int
exec_identity(const Envelope *env, const Slipway__V1__RunTask *rt,
    struct agent_exec *x)
{
	const char *org = rt->org && rt->org[0] ? rt->org : env->org;
	const char *name = rt->component_name && rt->component_name[0] ?
	    rt->component_name : rt->component_id;
	const char *project = rt->project && rt->project[0] ? rt->project :
	    "default";

	return !agent_spec_name_valid(rt->execution_id) ||
	    !agent_spec_name_valid(rt->deployment_id) ||
	    !agent_spec_name_valid(rt->component_id) ||
	    !agent_spec_name_valid(rt->environment) ||
	    !agent_spec_name_valid(org) || !agent_spec_name_valid(name) ||
	    !agent_spec_name_valid(project) ||
	    (rt->registry_id[0] && !agent_spec_name_valid(rt->registry_id)) ||
	    exec_copy(x->id, sizeof(x->id), rt->execution_id) ||
	    exec_copy(x->deployment_id, sizeof(x->deployment_id),
	    rt->deployment_id) ||
	    exec_copy(x->component_id, sizeof(x->component_id),
	    rt->component_id) ||
	    exec_copy(x->environment, sizeof(x->environment), rt->environment) ||
	    exec_copy(x->org, sizeof(x->org), org) ||
	    exec_copy(x->project, sizeof(x->project), project) ||
	    exec_copy(x->component, sizeof(x->component), name) ||
	    exec_copy(x->registry_id, sizeof(x->registry_id), rt->registry_id) ||
	    exec_copy(x->trace_id, sizeof(x->trace_id), env->trace_id) ? -1 : 0;
}

/* The pinned image: a parseable reference and a valid digest. */
static int
exec_image(const char *image, const char *digest, struct agent_exec *x)
{
	struct image_ref ref;
	struct error err;

	if (exec_copy(x->image, sizeof(x->image), image) == -1 ||
	    image_ref_parse(x->image, &ref, &err) == -1)
		return -1;
	if (digest == NULL || digest[0] == '\0')
		digest = ref.digest;
	return image_ref_digest_valid(digest) ? exec_copy(x->digest,
	    sizeof(x->digest), digest) : -1;
}

struct agent_exec *
agent_exec_from_runtask(const Envelope *env, struct error *err)
{
	const Slipway__V1__RunTask *rt = env->run_task;
	struct agent_exec *x = calloc(1, sizeof(*x));
	const char *what = "ids or names";

	if (x == NULL) {
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	if (rt == NULL || exec_identity(env, rt, x) == -1)
		goto bad;
	what = "image or digest";
	if (exec_image(rt->image, rt->digest, x) == -1)
		goto bad;
	what = "arguments";
	if (rt->n_args > AGENT_ARGS_MAX || (rt->n_args > 0 &&
	    (x->args = exec_strv(rt->args, rt->n_args)) == NULL))
		goto bad;
	what = "environment variables";
	if (agent_spec_env_list(rt->env, rt->n_env, &x->env) == -1)
		goto bad;
	what = "resources";
	if (agent_spec_resources(rt->resources, &x->res) == -1)
		goto bad;
	what = "active_deadline_s";
	if (rt->active_deadline_s > WORKLOAD_ACTIVE_DEADLINE_MAX)
		goto bad;
	x->active_deadline_s = rt->active_deadline_s ? rt->active_deadline_s :
	    WORKLOAD_ACTIVE_DEADLINE_DEFAULT;
	snprintf(x->trigger, sizeof(x->trigger), "manual");
	x->state = EXEC_PENDING;
	return x;
bad:
	agent_exec_free(x);
	error_set(err, "invalid_command", "", "RunTask has invalid %s", what);
	return NULL;
}

/* A NULL-terminated copy of v (NULL stays NULL); -1 on no memory. */
static int
exec_strv_dup(char *const *v, char ***out)
{
	size_t n = 0;

	*out = NULL;
	if (v == NULL)
		return 0;
	while (v[n] != NULL)
		n++;
	return (*out = exec_strv(v, n)) == NULL ? -1 : 0;
}

struct agent_exec *
agent_exec_from_spec(const struct agent_spec *s, const char *digest,
    unsigned active_deadline_s)
{
	struct agent_exec *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	snprintf(x->component_id, sizeof(x->component_id), "%s", s->component_id);
	snprintf(x->environment, sizeof(x->environment), "%s", s->environment);
	snprintf(x->deployment_id, sizeof(x->deployment_id), "%s",
	    s->deployment_id);
	snprintf(x->org, sizeof(x->org), "%s", s->org);
	snprintf(x->project, sizeof(x->project), "%s", s->project);
	snprintf(x->component, sizeof(x->component), "%s", s->component);
	snprintf(x->image, sizeof(x->image), "%s", s->image);
	snprintf(x->digest, sizeof(x->digest), "%s", digest);
	snprintf(x->registry_id, sizeof(x->registry_id), "%s", s->registry_id);
	snprintf(x->trace_id, sizeof(x->trace_id), "%s", s->trace_id);
	x->res = s->res;
	x->active_deadline_s = active_deadline_s ? active_deadline_s :
	    WORKLOAD_ACTIVE_DEADLINE_DEFAULT;
	x->state = EXEC_PENDING;
	if (exec_strv_dup(s->env, &x->env) == -1) {
		agent_exec_free(x);
		return NULL;
	}
	return x;
}

/* 1 when v sets the variable named like kv ("K=..."). */
static int
exec_env_has(char *const *v, const char *kv)
{
	size_t n = strcspn(kv, "=");

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		if (strncmp(v[i], kv, n) == 0 && v[i][n] == '=')
			return 1;
	return 0;
}

int
agent_exec_add_env(struct agent_exec *x, char *const *base)
{
	size_t n = 0, k = 0, add = 0;
	char **v;

	while (x->env != NULL && x->env[n] != NULL)
		n++;
	for (size_t i = 0; base != NULL && base[i] != NULL; i++)
		add += !exec_env_has(x->env, base[i]);
	if (add == 0)
		return 0;
	if (n + add > AGENT_ENV_MAX || (v = calloc(n + add + 1, sizeof(*v))) ==
	    NULL)
		return -1;
	for (size_t i = 0; base[i] != NULL; i++)
		if (!exec_env_has(x->env, base[i]) &&
		    (v[k++] = strdup(base[i])) == NULL) {
			agent_spec_strv_free(v);
			return -1;
		}
	for (size_t i = 0; i < n; i++)
		v[k++] = x->env[i];
	free(x->env);   /* its strings moved to v */
	x->env = v;
	return 0;
}

struct agent_exec *
agent_exec_clone(const struct agent_exec *x)
{
	struct agent_exec *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *x;
	c->args = c->env = NULL;
	c->next = NULL;
	c->state = EXEC_PENDING;
	c->acked = c->busy = c->queued = c->exited = c->exit_code = 0;
	c->started_at_ms = c->finished_at_ms = 0;
	c->reason[0] = c->log_tail[0] = c->stop_reason[0] = '\0';
	if (exec_strv_dup(x->args, &c->args) == -1 ||
	    exec_strv_dup(x->env, &c->env) == -1) {
		agent_exec_free(c);
		return NULL;
	}
	return c;
}

/* --- the record --------------------------------------------------------- */

static json_t *
exec_strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/*
 * The record: the variables are sealed (they hold the deployment's opened
 * secrets), the rest is plain.
 */
char *
agent_exec_json(const struct agent_exec *x)
{
	json_t *o;
	char *s, *env;

	if ((env = agent_spec_env_seal(x->env)) == NULL)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:I, s:o*, s:s, s:{s:i, s:i, s:i, s:b}, s:I, s:s, s:s}",
	    "id", x->id, "component_id", x->component_id, "environment",
	    x->environment, "deployment_id", x->deployment_id, "org", x->org,
	    "project", x->project, "component", x->component, "image", x->image,
	    "digest", x->digest, "registry_id", x->registry_id, "trace_id",
	    x->trace_id, "trigger", x->trigger, "scheduled_for_ms",
	    (json_int_t)x->scheduled_for_ms, "args", x->args ?
	    exec_strv_json(x->args) : NULL, "env_sealed", env,
	    "resources", "memory_mb", x->res.memory_mb, "cpu_millicores",
	    x->res.cpu_millicores, "pids", x->res.pids, "read_only_rootfs",
	    x->res.read_only_rootfs, "active_deadline_s",
	    (json_int_t)x->active_deadline_s, "replaces", x->replaces,
	    "replace_reason", x->replace_reason);
	free(env);
	if (o == NULL)
		return NULL;
	json_object_update_new(o, json_pack("{s:s, s:b, s:I, s:I, s:b, s:i, s:s, "
	    "s:s}", "state", agent_exec_state_name(x->state), "acked", x->acked,
	    "started_at_ms", (json_int_t)x->started_at_ms, "finished_at_ms",
	    (json_int_t)x->finished_at_ms, "exited", x->exited, "exit_code",
	    x->exit_code, "reason", x->reason, "log_tail", x->log_tail));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Copies the string member key of o into dst; -1 when absent or too long. */
static int
exec_get(json_t *o, const char *key, char *dst, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v == NULL ? -1 : exec_copy(dst, cap, v);
}

static long long
exec_int(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* An array of strings as a NULL-terminated vector; absent = NULL. */
static int
exec_get_strv(json_t *o, const char *key, char ***out)
{
	json_t *a = json_object_get(o, key), *v;
	char **vec;
	size_t i;

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > AGENT_ARGS_MAX + AGENT_ENV_MAX
	    || (vec = calloc(json_array_size(a) + 1, sizeof(*vec))) == NULL)
		return -1;
	*out = vec;
	json_array_foreach(a, i, v)
		if (!json_is_string(v) || (vec[i] = strdup(json_string_value(v)))
		    == NULL)
			return -1;
	return 0;
}

/* The sealed variables; a record written before they were sealed has them
 * plain ("env"), read once and sealed on its next save. */
static int
exec_get_env(json_t *o, char ***out)
{
	const char *sealed = json_string_value(json_object_get(o, "env_sealed"));

	if (sealed == NULL)
		return exec_get_strv(o, "env", out);
	return agent_spec_env_unseal(sealed, out);
}

static int
exec_state_of(const char *name, enum agent_exec_state *out)
{
	for (unsigned i = 0; i <= EXEC_SKIPPED; i++)
		if (name != NULL && strcmp(name, exec_state_names[i]) == 0) {
			*out = (enum agent_exec_state)i;
			return 0;
		}
	return -1;
}

/* The identity and what to run. */
static int
exec_parse_what(json_t *o, struct agent_exec *x)
{
	json_t *r = json_object_get(o, "resources");

	if (exec_get(o, "id", x->id, sizeof(x->id)) ||
	    exec_get(o, "component_id", x->component_id,
	    sizeof(x->component_id)) ||
	    exec_get(o, "environment", x->environment, sizeof(x->environment)) ||
	    exec_get(o, "deployment_id", x->deployment_id,
	    sizeof(x->deployment_id)) ||
	    exec_get(o, "org", x->org, sizeof(x->org)) ||
	    exec_get(o, "project", x->project, sizeof(x->project)) ||
	    exec_get(o, "component", x->component, sizeof(x->component)) ||
	    exec_get(o, "image", x->image, sizeof(x->image)) ||
	    exec_get(o, "digest", x->digest, sizeof(x->digest)) ||
	    exec_get(o, "registry_id", x->registry_id, sizeof(x->registry_id)) ||
	    exec_get(o, "trace_id", x->trace_id, sizeof(x->trace_id)) ||
	    exec_get(o, "trigger", x->trigger, sizeof(x->trigger)) ||
	    exec_get(o, "replaces", x->replaces, sizeof(x->replaces)) ||
	    exec_get(o, "replace_reason", x->replace_reason,
	    sizeof(x->replace_reason)) ||
	    exec_get_strv(o, "args", &x->args) || exec_get_env(o, &x->env))
		return -1;
	x->scheduled_for_ms = exec_int(o, "scheduled_for_ms");
	x->active_deadline_s = (unsigned)exec_int(o, "active_deadline_s");
	x->res.memory_mb = (int)exec_int(r, "memory_mb");
	x->res.cpu_millicores = (int)exec_int(r, "cpu_millicores");
	x->res.pids = (int)exec_int(r, "pids");
	x->res.read_only_rootfs = json_is_true(json_object_get(r,
	    "read_only_rootfs"));
	/* The names become a container name and a file name. */
	return agent_spec_name_valid(x->id) &&
	    agent_spec_name_valid(x->component_id) &&
	    agent_spec_name_valid(x->environment) &&
	    image_ref_digest_valid(x->digest) ? 0 : -1;
}

struct agent_exec *
agent_exec_parse(const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	struct agent_exec *x = calloc(1, sizeof(*x));

	if (o == NULL || x == NULL || exec_parse_what(o, x) == -1 ||
	    exec_state_of(json_string_value(json_object_get(o, "state")),
	    &x->state) == -1 ||
	    exec_get(o, "reason", x->reason, sizeof(x->reason)) ||
	    exec_get(o, "log_tail", x->log_tail, sizeof(x->log_tail))) {
		json_decref(o);
		agent_exec_free(x);
		return NULL;
	}
	x->acked = json_is_true(json_object_get(o, "acked"));
	x->started_at_ms = exec_int(o, "started_at_ms");
	x->finished_at_ms = exec_int(o, "finished_at_ms");
	x->exited = json_is_true(json_object_get(o, "exited"));
	x->exit_code = (int)exec_int(o, "exit_code");
	json_decref(o);
	return x;
}
