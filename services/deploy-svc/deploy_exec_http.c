/*
 * deploy_exec_http.c: the executions API, beside deployments (org routes:
 * deploy_http.c gives their levels and how their org is found).
 *
 * POST /v1/components/{id}/executions starts one run of a task from the
 * environment's ready deployment: the execution row (pending, trigger
 * manual) and its RunTask command commit in one transaction, and the relay
 * publishes the command to that deployment's data plane. The agent's
 * reports then move the row along deploy_exec_state.c (deploy_exec_report.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "outbox.h"
#include "store.h"

/* What one POST needs inside its transaction. */
struct deploy_exec_http_req {
	char id[37];
	struct deploy_component comp;
	struct deploy_exec_request rq;
	struct deploy_exec_ready ready;
	struct deploy_target target;
};

static int
deploy_exec_http_create_tx(struct store *s, void *arg, struct error *err)
{
	struct deploy_exec_http_req *r = arg;
	int rc = deploy_exec_store_ready(s, r->comp.id, r->rq.environment,
	    &r->ready, err);

	if (rc == 0)
		error_set(err, "nothing_ready", "environment", "no deployment of "
		    "this task is ready in %s: deploy it first", r->rq.environment);
	if (rc != 1)
		return -1;
	return deploy_exec_store_create(s, r->id, &r->comp, &r->rq, &r->ready,
	    err);
}

/* Loads the component and checks it is a task; replies on failure. */
static int
deploy_exec_http_component(struct http_request *req, struct deploy *d,
    struct deploy_component *comp)
{
	struct deploy_caller caller;

	if (deploy_http_component_load(req, d, comp, deploy_exec_http_post) == -1)
		return -1;
	/* The route checked the same row: this only makes the rule explicit. */
	deploy_org_caller(req, &caller);
	if (deploy_org_reply(req, &caller, comp->org, APIKEY_DEPLOYER,
	    "component") == -1)
		return -1;
	if (!deploy_component_is_task(comp)) {
		http_reply_error(req, 422, "not_a_task", "component", "a %s runs "
		    "by deployment; only scheduled-task and manual-task components "
		    "have executions", comp->type);
		return -1;
	}
	return 0;
}

/* Records the execution and its RunTask, answers 202. */
static void
deploy_exec_http_create(struct http_request *req, struct deploy *d,
    struct deploy_exec_http_req *r)
{
	struct error err;

	crypto_uuid(r->id);
	if (store_tx(d->store, deploy_exec_http_create_tx, r, &err) == -1) {
		if (strcmp(err.code, "nothing_ready") == 0)
			http_reply_err(req, 409, &err);
		else
			deploy_http_fail(req, &err);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("execution %s of component %s in %s requested (deployment %s)",
	    r->id, r->comp.id, r->rq.environment, r->ready.deployment_id);
	http_reply_json(req, 202, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "id", r->id, "component_id", r->comp.id, "environment",
	    r->rq.environment, "deployment_id", r->ready.deployment_id,
	    "status", deploy_exec_state_name(DEPLOY_EXEC_PENDING)));
}

/* POST /v1/components/{id}/executions {"environment", "args", "env"} */
void
deploy_exec_http_post(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_exec_http_req *r;
	struct error err;
	json_t *body;
	int status;

	if ((body = http_request_json(req)) == NULL)
		return;
	/* Big (64 env pointers and a component): not on the stack. */
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		http_reply_error(req, 500, "internal", "", "out of memory");
		return;
	}
	if (deploy_exec_input_parse(body, &r->rq, &status, &err) == -1)
		http_reply_err(req, status, &err);
	else if (deploy_exec_http_component(req, d, &r->comp) == 0 &&
	    deploy_http_environment(req, d, r->comp.org, r->rq.environment,
	    &r->target) == 0)
		deploy_exec_http_create(req, d, r);
	free(r);
}

/* GET /v1/components/{id}/executions[?environment=], newest first. */
void
deploy_exec_http_list(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	const char *env = http_request_query(req, "environment");
	struct error err;
	json_t *arr;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "id", "no such component");
		return;
	}
	if (env != NULL && !deploy_http_name_valid(env)) {
		http_reply_error(req, 400, "invalid_field", "environment",
		    "environment must be [a-z0-9][a-z0-9-]{0,62}");
		return;
	}
	if ((arr = deploy_exec_store_list_json(d->store, id, env, &err)) == NULL) {
		deploy_http_fail(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "executions", arr));
}

/* GET /v1/executions/{id} */
void
deploy_exec_http_get(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *o;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "id", "no such execution");
		return;
	}
	if ((o = deploy_exec_store_json(d->store, id, &err)) == NULL) {
		if (strcmp(err.code, "not_found") == 0)
			http_reply_error(req, 404, "not_found", "id",
			    "no such execution");
		else
			deploy_http_fail(req, &err);
		return;
	}
	http_reply_json(req, 200, o);
}
