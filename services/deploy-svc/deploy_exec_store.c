/*
 * deploy_exec_store.c: deploy.executions and the RunTask commands that
 * start them. Like deploy_store.c, every function that writes runs inside
 * the caller's transaction: a manual execution's row and its RunTask
 * outbox row commit together or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "store.h"
#include "topics.h"

#define DEPLOY_EXEC_COLUMNS \
	"id, component_id, environment, deployment_id, digest, trigger, " \
	DEPLOY_TIME("scheduled_for") ", " DEPLOY_TIME("started_at") ", " \
	DEPLOY_TIME("finished_at") ", exit_code, status, reason, log_tail, " \
	DEPLOY_TIME("created_at")
/* Milliseconds since the epoch as a timestamptz, exactly ($n text or NULL). */
#define DEPLOY_EXEC_MS(n) \
	"('epoch'::timestamptz + $" n "::bigint * interval '1 millisecond')"

static void
deploy_exec_store_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

int
deploy_exec_store_ready(struct store *s, const char *component_id,
    const char *environment, struct deploy_exec_ready *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id, environment };
	/* FOR SHARE: a deployment reaching ready meanwhile waits for us. */
	int rc = deploy_store_one(s, &r, "SELECT id, image, digest, dataplane "
	    "FROM deployments WHERE component_id = $1 AND environment = $2 AND "
	    "status = 'ready' ORDER BY created_at DESC, id DESC LIMIT 1 "
	    "FOR SHARE", 2, vals, err);

	if (rc != 1)
		return rc;
	deploy_exec_store_copy(out->deployment_id, sizeof(out->deployment_id),
	    store_result_get(r, 0, 0));
	deploy_exec_store_copy(out->image, sizeof(out->image),
	    store_result_get(r, 0, 1));
	deploy_exec_store_copy(out->digest, sizeof(out->digest),
	    store_result_get(r, 0, 2));
	deploy_exec_store_copy(out->dataplane, sizeof(out->dataplane),
	    store_result_get(r, 0, 3));
	store_result_free(r);
	return 1;
}

/* The request's args as jsonb text (malloc'd), NULL when out of memory. */
static char *
deploy_exec_store_args_json(const struct deploy_exec_request *rq)
{
	json_t *arr = json_array();
	char *text;

	for (size_t i = 0; arr != NULL && i < rq->n_args; i++)
		json_array_append_new(arr, json_string(rq->args[i]));
	text = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return text;
}

/* RunTask with the storage it points into (every string borrowed). */
struct deploy_exec_store_run {
	Slipway__V1__RunTask rt;
	Slipway__V1__Resources resources;
	char *args[DEPLOY_EXEC_ARGS_MAX];
	Slipway__V1__EnvVar env[DEPLOY_EXEC_ENV_MAX];
	Slipway__V1__EnvVar *envp[DEPLOY_EXEC_ENV_MAX];
};

/* The request's args and env into run->rt. */
static void
deploy_exec_store_run_inputs(struct deploy_exec_store_run *run,
    const struct deploy_exec_request *rq)
{
	for (size_t i = 0; i < rq->n_args; i++)
		run->args[i] = DEPLOY_STR(rq->args[i]);
	run->rt.n_args = rq->n_args;
	run->rt.args = rq->n_args > 0 ? run->args : NULL;
	for (size_t i = 0; i < rq->n_env; i++) {
		slipway__v1__env_var__init(&run->env[i]);
		run->env[i].name = DEPLOY_STR(rq->env_names[i]);
		run->env[i].value = DEPLOY_STR(rq->env_values[i]);
		run->envp[i] = &run->env[i];
	}
	run->rt.n_env = rq->n_env;
	run->rt.env = rq->n_env > 0 ? run->envp : NULL;
}

/* RunTask on the ready deployment's data plane, key component id. */
static int
deploy_exec_store_emit_run(struct store *s, const char *id,
    const struct deploy_component *comp, const struct deploy_exec_request *rq,
    const struct deploy_exec_ready *ready, struct error *err)
{
	struct deploy_exec_store_run run;
	Envelope env;
	char event_id[37], topic[128];

	if (topic_dataplane_commands(ready->dataplane, topic, sizeof(topic)) == -1) {
		error_set(err, "db_error", "", "data plane name too long");
		return -1;
	}
	slipway__v1__run_task__init(&run.rt);
	run.rt.execution_id = DEPLOY_STR(id);
	run.rt.deployment_id = DEPLOY_STR(ready->deployment_id);
	run.rt.component_id = DEPLOY_STR(comp->id);
	run.rt.environment = DEPLOY_STR(rq->environment);
	run.rt.image = DEPLOY_STR(ready->image);
	run.rt.digest = DEPLOY_STR(ready->digest);
	run.rt.registry_id = DEPLOY_STR(comp->registry_id);
	run.rt.registry_host = DEPLOY_STR(comp->registry_host);
	run.rt.org = DEPLOY_STR(comp->org);
	run.rt.project = DEPLOY_STR(comp->project);
	run.rt.component_name = DEPLOY_STR(comp->name);
	run.rt.resources = workload_resources_to_proto(&comp->resources,
	    &run.resources);
	run.rt.active_deadline_s = comp->task.set ?
	    comp->task.active_deadline_s : 0;
	deploy_exec_store_run_inputs(&run, rq);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK, event_id,
	    comp->org, NULL);
	env.run_task = &run.rt;
	return envelope_outbox(s, topic, comp->id, &env, err);
}

int
deploy_exec_store_create(struct store *s, const char *id,
    const struct deploy_component *comp, const struct deploy_exec_request *rq,
    const struct deploy_exec_ready *ready, struct error *err)
{
	char *args = deploy_exec_store_args_json(rq);
	int rc;

	if (args == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	const char *vals[] = { id, comp->id, comp->org, rq->environment,
	    ready->deployment_id, ready->dataplane, ready->digest, args };
	rc = store_exec(s, NULL, "INSERT INTO executions (id, component_id, org, "
	    "environment, deployment_id, dataplane, digest, trigger, status, "
	    "args) VALUES ($1, $2, $3, $4, $5, $6, $7, 'manual', 'pending', "
	    "$8::jsonb)", 8, vals, NULL, err);
	free(args);
	if (rc == -1)
		return -1;
	return deploy_exec_store_emit_run(s, id, comp, rq, ready, err);
}

int
deploy_exec_store_lock(struct store *s, const char *id,
    struct deploy_exec_current *out, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	int rc = deploy_store_one(s, &r, "SELECT status, component_id, "
	    "environment, deployment_id, trigger, observed_at_ms FROM executions "
	    "WHERE id = $1 FOR UPDATE", 1, vals, err);

	if (rc != 1)
		return rc;
	memset(out, 0, sizeof(*out));
	deploy_exec_store_copy(out->status, sizeof(out->status),
	    store_result_get(r, 0, 0));
	deploy_exec_store_copy(out->component_id, sizeof(out->component_id),
	    store_result_get(r, 0, 1));
	deploy_exec_store_copy(out->environment, sizeof(out->environment),
	    store_result_get(r, 0, 2));
	deploy_exec_store_copy(out->deployment_id, sizeof(out->deployment_id),
	    store_result_get(r, 0, 3));
	deploy_exec_store_copy(out->trigger, sizeof(out->trigger),
	    store_result_get(r, 0, 4));
	out->observed_at_ms = strtoll(store_result_get(r, 0, 5), NULL, 10);
	store_result_free(r);
	return 1;
}

/* A report's numbers as query parameters; a time of 0 is NULL (not known). */
struct deploy_exec_store_params {
	char scheduled[24], started[24], finished[24], exit_code[16], observed[24];
	const char *scheduled_p, *started_p, *finished_p, *exit_code_p;
};

static void
deploy_exec_store_params(const Slipway__V1__ExecutionStatus *es,
    struct deploy_exec_store_params *p)
{
	snprintf(p->scheduled, sizeof(p->scheduled), "%lld",
	    (long long)es->scheduled_for_ms);
	snprintf(p->started, sizeof(p->started), "%lld",
	    (long long)es->started_at_ms);
	snprintf(p->finished, sizeof(p->finished), "%lld",
	    (long long)es->finished_at_ms);
	snprintf(p->exit_code, sizeof(p->exit_code), "%d", (int)es->exit_code);
	snprintf(p->observed, sizeof(p->observed), "%lld",
	    (long long)es->observed_at_ms);
	p->scheduled_p = es->scheduled_for_ms > 0 ? p->scheduled : NULL;
	p->started_p = es->started_at_ms > 0 ? p->started : NULL;
	p->finished_p = es->finished_at_ms > 0 ? p->finished : NULL;
	p->exit_code_p = es->exited ? p->exit_code : NULL;
}

int
deploy_exec_store_insert(struct store *s, const struct deploy_exec_report *r,
    enum deploy_exec_status st, const char *org, struct error *err)
{
	const Slipway__V1__ExecutionStatus *es = r->es;
	struct deploy_exec_store_params p;
	struct store_result *res;
	long n;

	deploy_exec_store_params(es, &p);
	const char *vals[] = { es->execution_id, es->component_id, org,
	    es->environment, es->deployment_id, es->dataplane, es->digest,
	    r->manual ? "manual" : "schedule", p.scheduled_p, p.started_p,
	    p.finished_p, p.exit_code_p, deploy_exec_state_name(st), es->reason,
	    es->log_tail, p.observed };
	if (store_exec(s, &res, "INSERT INTO executions (id, component_id, org, "
	    "environment, deployment_id, dataplane, digest, trigger, "
	    "scheduled_for, started_at, finished_at, exit_code, status, reason, "
	    "log_tail, observed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	    DEPLOY_EXEC_MS("9") ", " DEPLOY_EXEC_MS("10") ", " DEPLOY_EXEC_MS("11")
	    ", $12, $13, $14, $15, $16) ON CONFLICT (id) DO NOTHING", 16, vals,
	    NULL, err) == -1)
		return -1;
	n = store_result_affected(res);
	store_result_free(res);
	return n > 0 ? 1 : 0;
}

/*
 * What a report knows replaces what was stored; what it leaves out (0
 * times, no exit, empty texts) keeps the stored value, so a final report
 * without a start time does not erase the running report's.
 */
int
deploy_exec_store_move(struct store *s, const struct deploy_exec_report *r,
    struct error *err)
{
	const Slipway__V1__ExecutionStatus *es = r->es;
	struct deploy_exec_store_params p;

	deploy_exec_store_params(es, &p);
	const char *vals[] = { es->execution_id, deploy_exec_state_name(r->to),
	    p.scheduled_p, p.started_p, p.finished_p, p.exit_code_p, es->reason,
	    es->log_tail, es->digest, p.observed };
	return store_exec(s, NULL, "UPDATE executions SET status = $2, "
	    "scheduled_for = COALESCE(" DEPLOY_EXEC_MS("3") ", scheduled_for), "
	    "started_at = COALESCE(" DEPLOY_EXEC_MS("4") ", started_at), "
	    "finished_at = COALESCE(" DEPLOY_EXEC_MS("5") ", finished_at), "
	    "exit_code = COALESCE($6::integer, exit_code), "
	    "reason = CASE WHEN $7 <> '' THEN $7 ELSE reason END, "
	    "log_tail = CASE WHEN $8 <> '' THEN $8 ELSE log_tail END, "
	    "digest = CASE WHEN $9 <> '' THEN $9 ELSE digest END, "
	    "observed_at_ms = GREATEST(observed_at_ms, $10::bigint) "
	    "WHERE id = $1", 10, vals, NULL, err);
}

int
deploy_exec_store_observed_bump(struct store *s, const char *id,
    long long observed_at_ms, struct error *err)
{
	char observed[24];

	snprintf(observed, sizeof(observed), "%lld", observed_at_ms);
	const char *vals[] = { id, observed };
	return store_exec(s, NULL, "UPDATE executions SET observed_at_ms = "
	    "GREATEST(observed_at_ms, $2::bigint) WHERE id = $1", 2, vals, NULL,
	    err);
}

/* Column c of row i as a JSON string, or null when NULL. */
static json_t *
deploy_exec_store_text_or_null(const struct store_result *r, int i, int c)
{
	return store_result_isnull(r, i, c) ? json_null() :
	    json_string(store_result_get(r, i, c));
}

/* One row of a DEPLOY_EXEC_COLUMNS query as the API's execution object. */
static json_t *
deploy_exec_store_row_json(const struct store_result *r, int i)
{
	static const char *const keys[] = { "id", "component_id", "environment",
	    "deployment_id", "digest", "trigger", "scheduled_for", "started_at",
	    "finished_at", "exit_code", "status", "reason", "log_tail",
	    "created_at" };
	json_t *o = json_object();

	for (int k = 0; k < (int)(sizeof(keys) / sizeof(keys[0])); k++) {
		/* exit_code (column 9) is the one number. */
		if (k == 9)
			json_object_set_new(o, keys[k], store_result_isnull(r, i, k) ?
			    json_null() : json_integer(atoi(store_result_get(r, i, k))));
		else
			json_object_set_new(o, keys[k],
			    deploy_exec_store_text_or_null(r, i, k));
	}
	return o;
}

json_t *
deploy_exec_store_json(struct store *s, const char *id, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { id };
	json_t *o;
	int rc = deploy_store_one(s, &r, "SELECT " DEPLOY_EXEC_COLUMNS
	    " FROM executions WHERE id = $1", 1, vals, err);

	if (rc <= 0) {
		if (rc == 0)
			error_set(err, "not_found", "", "no such execution");
		return NULL;
	}
	o = deploy_exec_store_row_json(r, 0);
	store_result_free(r);
	return o;
}

json_t *
deploy_exec_store_list_json(struct store *s, const char *component_id,
    const char *environment, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id, environment };
	json_t *arr;

	if (store_exec(s, &r, "SELECT " DEPLOY_EXEC_COLUMNS " FROM executions "
	    "WHERE component_id = $1 AND ($2::text IS NULL OR environment = $2) "
	    "ORDER BY created_at DESC, id DESC LIMIT 100", 2, vals, NULL,
	    err) == -1)
		return NULL;
	arr = json_array();
	for (int i = 0; i < store_result_rows(r); i++)
		json_array_append_new(arr, deploy_exec_store_row_json(r, i));
	store_result_free(r);
	return arr;
}
