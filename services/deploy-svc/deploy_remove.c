/*
 * deploy_remove.c: a deleted component leaves its data planes. On
 * ComponentDeleted, in the transaction that marks the local copy deleted
 * (deploy_consume.c), every (environment, data plane) that has one of its
 * deployments not failed gets a RemoveComponent through the outbox, key the
 * component id, so the commands follow the applies of that component on
 * the same partition. The deployments keep their rows and their status:
 * the history stays readable, and deploy_consume.c ignores any report that
 * arrives for them afterwards, so nothing of the component comes back.
 */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "store.h"
#include "topics.h"

/* RemoveComponent for one environment on one data plane. */
static int
deploy_remove_emit(struct store *s, const char *org, const char *component_id,
    const char *environment, const char *dataplane, struct error *err)
{
	Slipway__V1__RemoveComponent rc;
	Envelope env;
	char event_id[37], topic[128];

	if (topic_dataplane_commands(dataplane, topic, sizeof(topic)) == -1) {
		error_set(err, "db_error", "", "bad data plane name %.48s", dataplane);
		return -1;
	}
	slipway__v1__remove_component__init(&rc);
	rc.component_id = DEPLOY_STR(component_id);
	rc.environment = DEPLOY_STR(environment);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_REMOVE_COMPONENT,
	    event_id, org, NULL);
	env.remove_component = &rc;
	log_info("component %s: removing it from %s on data plane %s",
	    component_id, environment, dataplane);
	return envelope_outbox(s, topic, component_id, &env, err);
}

int
deploy_remove_component(struct store *s, const char *component_id,
    const char *org, struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id };
	int rc;

	if ((rc = deploy_store_component_delete(s, component_id, err)) == -1)
		return -1;
	if (store_exec(s, &r, "SELECT DISTINCT environment, dataplane, org FROM "
	    "deployments WHERE component_id = $1 AND status <> 'failed' AND "
	    "dataplane <> '' ORDER BY environment, dataplane", 1, vals, NULL,
	    err) == -1)
		return -1;
	for (int i = 0; i < store_result_rows(r) && rc == 0; i++)
		rc = deploy_remove_emit(s, org[0] != '\0' ? org :
		    store_result_get(r, i, 2), component_id,
		    store_result_get(r, i, 0), store_result_get(r, i, 1), err);
	store_result_free(r);
	return rc;
}

int
deploy_remove_is_deleted(struct store *s, const char *component_id,
    struct error *err)
{
	struct store_result *r;
	const char *vals[] = { component_id };
	int rc = deploy_store_one(s, &r, "SELECT 1 FROM components WHERE "
	    "id = $1 AND deleted", 1, vals, err);

	if (rc == 1)
		store_result_free(r);
	return rc;
}
