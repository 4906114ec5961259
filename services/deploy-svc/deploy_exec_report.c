/*
 * deploy_exec_report.c: ExecutionStatus reports from agents, applied to
 * deploy.executions inside deploy_consume.c's transaction (dedup record,
 * row, commit, then the Kafka offset).
 *
 * An execution is known from its POST (manual) or learnt from the first
 * report of a run the agent's scheduler started (schedule). A manual
 * report of an unknown id is dropped: deploy-svc made every manual run, so
 * it is a leftover of a rolled-back request or another installation's.
 * Every other report goes through deploy_exec_state_transition; a report
 * that no ordering of honest ones explains is logged and dropped, since
 * retrying it can only fail again and one run's history is not worth a
 * dead letter.
 */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "store.h"

/*
 * The report's deployment must exist, be of its component and environment,
 * and have been sent to the data plane that reports (the same sanity check
 * as DeploymentStatus's). Its org fills a new row.
 */
static int
deploy_exec_report_deployment(struct deploy *d,
    const Slipway__V1__ExecutionStatus *es, struct deploy_current *dep,
    struct error *err)
{
	int rc = deploy_store_deployment_lock(d->store, es->deployment_id, dep,
	    err);

	if (rc == -1)
		return -1;
	if (rc == 0)
		return deploy_consume_bad(err, "unknown deployment %s",
		    es->deployment_id);
	if (strcmp(dep->component_id, es->component_id) != 0 ||
	    strcmp(dep->environment, es->environment) != 0)
		return deploy_consume_bad(err, "deployment %s is not of "
		    "component %s in that environment", es->deployment_id,
		    es->component_id);
	if (strcmp(dep->dataplane, es->dataplane) != 0)
		return deploy_consume_bad(err, "report from data plane "
		    "\"%.48s\" on a deployment sent to \"%s\"", es->dataplane,
		    dep->dataplane);
	return 0;
}

/* The first report of an unknown execution. */
static int
deploy_exec_report_new(struct deploy *d, const struct deploy_exec_report *r,
    const struct deploy_current *dep, struct error *err)
{
	const Slipway__V1__ExecutionStatus *es = r->es;
	int rc;

	if (r->manual) {
		log_info("execution %s: report %s of an unknown manual run "
		    "dropped", es->execution_id, deploy_exec_state_name(r->to));
		return 0;
	}
	/* A new row starts pending: the machine decides where the report puts it. */
	if (deploy_exec_state_transition(DEPLOY_EXEC_PENDING, r->to) ==
	    DEPLOY_MOVE_ILLEGAL)
		return deploy_consume_bad(err, "report %s of a new run",
		    deploy_exec_state_name(r->to));
	if ((rc = deploy_exec_store_insert(d->store, r, r->to, dep->org,
	    err)) == -1)
		return -1;
	log_info("execution %s of component %s in %s: scheduled run %s%s",
	    es->execution_id, es->component_id, es->environment,
	    deploy_exec_state_name(r->to), rc == 0 ? " (exists already)" : "");
	return 0;
}

/* A known execution: the report must be about the same run. */
static int
deploy_exec_report_same_run(const struct deploy_exec_report *r,
    const struct deploy_exec_current *cur, struct error *err)
{
	const Slipway__V1__ExecutionStatus *es = r->es;

	if (strcmp(cur->deployment_id, es->deployment_id) != 0 ||
	    strcmp(cur->component_id, es->component_id) != 0 ||
	    strcmp(cur->environment, es->environment) != 0)
		return deploy_consume_bad(err, "execution %s belongs to "
		    "deployment %s", es->execution_id, cur->deployment_id);
	if (strcmp(cur->trigger, es->trigger) != 0)
		return deploy_consume_bad(err, "execution %s has trigger %s",
		    es->execution_id, cur->trigger);
	return 0;
}

static int
deploy_exec_report_move(struct deploy *d, const struct deploy_exec_report *r,
    const struct deploy_exec_current *cur, struct error *err)
{
	const Slipway__V1__ExecutionStatus *es = r->es;
	enum deploy_exec_status from;
	int newer = es->observed_at_ms > cur->observed_at_ms;

	if (deploy_exec_state_parse(cur->status, &from) == -1)
		return deploy_consume_bad(err, "stored status %s of %s unknown",
		    cur->status, es->execution_id);
	switch (deploy_exec_state_transition(from, r->to)) {
	case DEPLOY_MOVE_ALLOWED:
		log_info("execution %s: %s -> %s%s%s", es->execution_id, cur->status,
		    deploy_exec_state_name(r->to), es->reason[0] ? ": " : "",
		    es->reason);
		return deploy_exec_store_move(d->store, r, err);
	case DEPLOY_MOVE_IGNORED:
		log_info("execution %s: stale or duplicate report %s at %s ignored",
		    es->execution_id, deploy_exec_state_name(r->to), cur->status);
		/* As for deployments: a newer report still moves the clock on. */
		return newer ? deploy_exec_store_observed_bump(d->store,
		    es->execution_id, es->observed_at_ms, err) : 0;
	case DEPLOY_MOVE_ILLEGAL:
	default:
		log_warnx("execution %s: illegal move %s -> %s dropped",
		    es->execution_id, cur->status, deploy_exec_state_name(r->to));
		return 0;
	}
}

int
deploy_exec_report_apply(struct deploy *d,
    const Slipway__V1__ExecutionStatus *es, struct error *err)
{
	struct deploy_exec_report r;
	struct deploy_exec_current cur;
	struct deploy_current dep;
	int rc;

	if (deploy_exec_input_report(es, &r, err) == -1 ||
	    deploy_exec_report_deployment(d, es, &dep, err) == -1)
		return -1;
	if ((rc = deploy_exec_store_lock(d->store, es->execution_id, &cur,
	    err)) == -1)
		return -1;
	if (rc == 0)
		return deploy_exec_report_new(d, &r, &dep, err);
	if (deploy_exec_report_same_run(&r, &cur, err) == -1)
		return -1;
	return deploy_exec_report_move(d, &r, &cur, err);
}
