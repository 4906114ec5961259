/*
 * deploy_schedule.c: a task's settings reach the data planes without a
 * redeploy. When ComponentUpdated changes them, every environment whose
 * newest ready deployment of the component exists gets a SetSchedule on
 * that deployment's data plane, written to the outbox in the transaction
 * that stores the new local copy (deploy_consume.c), so the copy and the
 * commands commit together.
 */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "store.h"
#include "topics.h"

int
deploy_schedule_changed(const struct workload_task *old,
    const struct workload_task *now)
{
	if (!now->set)
		return 0;
	if (!old->set)
		return 1;
	return strcmp(old->schedule, now->schedule) != 0 ||
	    strcmp(old->timezone, now->timezone) != 0 ||
	    strcmp(old->concurrency_policy, now->concurrency_policy) != 0 ||
	    old->starting_deadline_s != now->starting_deadline_s ||
	    old->active_deadline_s != now->active_deadline_s;
}

/* SetSchedule for one ready deployment, key component id. */
static int
deploy_schedule_emit(struct store *s, const struct deploy_component *comp,
    const char *deployment_id, const char *environment, const char *dataplane,
    struct error *err)
{
	Slipway__V1__SetSchedule ss;
	Slipway__V1__TaskSettings task;
	Envelope env;
	char event_id[37], topic[128];

	if (topic_dataplane_commands(dataplane, topic, sizeof(topic)) == -1) {
		error_set(err, "db_error", "", "bad data plane name %.48s", dataplane);
		return -1;
	}
	slipway__v1__set_schedule__init(&ss);
	ss.component_id = DEPLOY_STR(comp->id);
	ss.environment = DEPLOY_STR(environment);
	ss.deployment_id = DEPLOY_STR(deployment_id);
	ss.task = workload_task_to_proto(&comp->task, &task);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_SET_SCHEDULE, event_id,
	    comp->org, NULL);
	env.set_schedule = &ss;
	log_info("component %s: new task settings to deployment %s in %s",
	    comp->id, deployment_id, environment);
	return envelope_outbox(s, topic, comp->id, &env, err);
}

int
deploy_schedule_announce(struct store *s, const struct deploy_component *comp,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { comp->id };
	int rc = 0;

	if (store_exec(s, &r, "SELECT DISTINCT ON (environment) id, environment, "
	    "dataplane FROM deployments WHERE component_id = $1 AND "
	    "status = 'ready' ORDER BY environment, created_at DESC, id DESC",
	    1, vals, NULL, err) == -1)
		return -1;
	for (int i = 0; i < store_result_rows(r) && rc == 0; i++)
		rc = deploy_schedule_emit(s, comp, store_result_get(r, i, 0),
		    store_result_get(r, i, 1), store_result_get(r, i, 2), err);
	store_result_free(r);
	return rc;
}
