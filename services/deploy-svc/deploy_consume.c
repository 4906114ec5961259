/*
 * deploy_consume.c: what deploy-svc does with the events it consumes.
 *
 * One table maps each payload case to the function that applies it
 * (ImagePushed: a batch's run of them at once, deploy_push.c). Every
 * applied event runs in the transaction of its batch (deploy_batch.c)
 * together with its dedup record and the outbox rows it causes; the bus
 * stores the Kafka offset only after we return BUS_DONE, i.e. after that
 * transaction committed. A crash in between redelivers the event and the
 * dedup record turns the replay into a no-op.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "bus.h"
#include "crypto.h"
#include "dedup.h"
#include "outbox.h"
#include "store.h"
#include "topics.h"

/* Database errors that are not "down" are retried this often, then dead-lettered. */
#define DEPLOY_DB_ERROR_ATTEMPTS 10

/* A message no retry can fix: it goes to the dead-letter topic. */
int
deploy_consume_bad(struct error *err, const char *fmt, ...)
{
	va_list ap;

	error_clear(err);
	snprintf(err->code, sizeof(err->code), "bad_message");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Applies an allowed move: the report's digest and evidence merge into the
 * locked row (deploy_evidence.c has the rules), its clock becomes the
 * deployment's, and reaching running (a service) or ready (a task)
 * supersedes the previous version.
 */
static int
deploy_consume_move(struct deploy *d, const Slipway__V1__DeploymentStatus *ds,
    struct deploy_current *cur, enum deploy_status to,
    const struct deploy_evidence *report, struct error *err)
{
	const char *id = ds->deployment_id;

	if (ds->digest[0] != '\0')
		snprintf(cur->digest, sizeof(cur->digest), "%s", ds->digest);
	deploy_evidence_merge(&cur->ev, report, to);
	if (deploy_store_status_set(d->store, id, to, cur, ds->observed_at_ms,
	    err) == -1)
		return -1;
	if ((to == DEPLOY_RUNNING || to == DEPLOY_READY) &&
	    deploy_store_supersede(d->store, cur->component_id, cur->environment,
	    id, err) == -1)
		return -1;
	log_info("deployment %s: %s -> %s%s%s", id, cur->status,
	    deploy_state_name(to),
	    cur->ev.reason[0] ? ": " : "", cur->ev.reason);
	return deploy_store_emit_status(d->store, id, cur, to, err);
}

/* The parts of a DeploymentStatus we rely on, checked before any lock. */
static int
deploy_consume_status_check(const Slipway__V1__DeploymentStatus *ds,
    enum deploy_status *to, struct deploy_evidence *report, struct error *err)
{
	if (ds == NULL || !crypto_uuid_valid(ds->deployment_id))
		return deploy_consume_bad(err, "%s", "deployment_id is not a UUID");
	if (deploy_state_from_proto((int)ds->state, to) == -1)
		return deploy_consume_bad(err, "%s", "unknown deployment state");
	if (ds->digest[0] != '\0' && !image_ref_digest_valid(ds->digest))
		return deploy_consume_bad(err, "%s", "invalid digest");
	return deploy_evidence_from_report(ds, report, err);
}

/*
 * DeploymentStatus from an agent: move along the state machine. Whether
 * the report is newer than the last applied one is the agent's clock
 * against the stored one; deploy_state_transition decides what that means.
 */
static int
deploy_consume_status(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	const Slipway__V1__DeploymentStatus *ds = env->deployment_status;
	struct deploy_evidence report;
	struct deploy_current cur;
	enum deploy_status from, to;
	int rc, newer;

	(void)m;
	if (deploy_consume_status_check(ds, &to, &report, err) == -1)
		return -1;
	if ((rc = deploy_store_deployment_lock(d->store, ds->deployment_id, &cur,
	    err)) <= 0)
		return rc == 0 ? deploy_consume_bad(err, "unknown deployment %s",
		    ds->deployment_id) : -1;
	if (deploy_state_parse(cur.status, &from) == -1)
		return deploy_consume_bad(err, "stored status %s unknown", cur.status);
	/*
	 * Only the data plane a deployment went to may say how it is doing. A
	 * sanity check against mistakes, not authentication: the field is the
	 * sender's word, until the bus authenticates agents (issue 7's ACLs).
	 */
	if (strcmp(ds->dataplane, cur.dataplane) != 0)
		return deploy_consume_bad(err, "report from data plane \"%.48s\" "
		    "on a deployment sent to \"%s\"", ds->dataplane, cur.dataplane);
	/* A deleted component's history stays as it was when it was deleted. */
	if ((rc = deploy_remove_is_deleted(d->store, cur.component_id, err)) != 0) {
		if (rc == 1)
			log_info("deployment %s: report %s ignored: its component "
			    "%s was deleted", ds->deployment_id,
			    deploy_state_name(to), cur.component_id);
		return rc == 1 ? 0 : -1;
	}
	newer = ds->observed_at_ms > cur.observed_at_ms;
	switch (deploy_state_transition(from, to, newer)) {
	case DEPLOY_MOVE_ALLOWED:
		return deploy_consume_move(d, ds, &cur, to, &report, err);
	case DEPLOY_MOVE_IGNORED:
		log_info("deployment %s: stale or duplicate report %s at %s "
		    "ignored (observed %lld, last applied %lld)",
		    ds->deployment_id, deploy_state_name(to), cur.status,
		    (long long)ds->observed_at_ms, cur.observed_at_ms);
		/*
		 * A newer report of where the deployment already is still moves
		 * the clock: a late report older than it (a crashed from before a
		 * recovery) must then not win.
		 */
		return newer ? deploy_store_observed_bump(d->store,
		    ds->deployment_id, ds->observed_at_ms, err) : 0;
	case DEPLOY_MOVE_ILLEGAL:
	default:
		error_set(err, "bad_message", "", "illegal move %s -> %s",
		    cur.status, deploy_state_name(to));
		return -1;
	}
}

/* The component of a ComponentCreated / ComponentUpdated, or NULL. */
static const Slipway__V1__Component *
deploy_consume_component_of(const Envelope *env)
{
	return env->payload_case ==
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED ?
	    (env->component_created ? env->component_created->component : NULL) :
	    (env->component_updated ? env->component_updated->component : NULL);
}

/*
 * ComponentCreated / ComponentUpdated: refresh the whole local copy. When a
 * task's settings changed, its ready deployments' data planes hear of it
 * (SetSchedule) in the same transaction.
 */
static int
deploy_consume_component(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	struct deploy_component comp, old;
	int rc;

	(void)m;
	if (deploy_component_from_proto(deploy_consume_component_of(env), &comp,
	    err) == -1)
		return -1;
	if ((rc = deploy_store_component_get(d->store, comp.id, &old, err)) == -1)
		return -1;
	if (deploy_store_component_put(d->store, &comp, err) == -1)
		return -1;
	/* A new component has no ready deployment yet: nothing to tell. */
	if (rc == 0 || !deploy_schedule_changed(&old.task, &comp.task))
		return 0;
	return deploy_schedule_announce(d->store, &comp, err);
}

/* ExecutionStatus from an agent (deploy_exec_report.c). */
static int
deploy_consume_execution(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	(void)m;
	return deploy_exec_report_apply(d, env->execution_status, err);
}

/* Deploys parked on this component (deploy_http.c) can go on now. */
static const char *
deploy_consume_component_wake(const Envelope *env)
{
	const Slipway__V1__Component *c = deploy_consume_component_of(env);

	return c != NULL ? c->component_id : NULL;
}

/*
 * ComponentDeleted: the local copy is marked deleted (deploys of it are 404
 * from then on) and RemoveComponent goes to every data plane it runs on.
 */
static int
deploy_consume_component_deleted(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	const Slipway__V1__ComponentDeleted *cd = env->component_deleted;

	(void)m;
	if (cd == NULL || !crypto_uuid_valid(cd->component_id))
		return deploy_consume_bad(err, "%s", "component id is not a UUID");
	return deploy_remove_component(d->store, cd->component_id,
	    cd->org[0] != '\0' ? cd->org : env->org, err);
}

/* EndpointsChanged: every endpoint, and the first one's port and type. */
static int
deploy_consume_endpoints(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	const Slipway__V1__EndpointsChanged *ec = env->endpoints_changed;
	struct deploy_component comp;

	(void)m;
	if (ec == NULL || !crypto_uuid_valid(ec->component_id))
		return deploy_consume_bad(err, "%s", "component id is not a UUID");
	memset(&comp, 0, sizeof(comp));
	snprintf(comp.id, sizeof(comp.id), "%s", ec->component_id);
	if (deploy_component_endpoints_from_proto(ec->endpoints, ec->n_endpoints,
	    &comp, err) == -1)
		return -1;
	return deploy_store_component_endpoints(d->store, &comp, err);
}

/* Payloads not listed (registry events, tokens, our own events) are skipped. */
static const struct deploy_consume_entry deploy_consume_table[] = {
	/* The hot path: a batch's run of pushes in one go (deploy_push.c). */
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED,
	    .apply_many = deploy_push_apply },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS,
	    .apply = deploy_consume_status },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_EXECUTION_STATUS,
	    .apply = deploy_consume_execution },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED,
	    .apply = deploy_consume_component,
	    .wake = deploy_consume_component_wake },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED,
	    .apply = deploy_consume_component,
	    .wake = deploy_consume_component_wake },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED,
	    .apply = deploy_consume_component_deleted },
	{ .payload = SLIPWAY__V1__ENVELOPE__PAYLOAD_ENDPOINTS_CHANGED,
	    .apply = deploy_consume_endpoints },
};

const struct deploy_consume_entry *
deploy_consume_lookup(Slipway__V1__Envelope__PayloadCase pc)
{
	for (size_t i = 0; i < sizeof(deploy_consume_table) /
	    sizeof(deploy_consume_table[0]); i++)
		if (deploy_consume_table[i].payload == pc)
			return &deploy_consume_table[i];
	return NULL;
}

/* Maps a failed apply onto what the bus should do with the message. */
enum bus_result
deploy_consume_fail(const struct bus_message *m, const struct error *err,
    struct error *reason)
{
	if (strcmp(err->code, "bad_message") == 0) {
		*reason = *err;
		return BUS_REJECT;
	}
	if (strcmp(err->code, "retry") == 0 ||
	    strcmp(err->code, "unavailable") == 0 ||
	    bus_message_attempt(m) < DEPLOY_DB_ERROR_ATTEMPTS) {
		log_warnx("will retry (attempt %d): %s", bus_message_attempt(m),
		    err->msg);
		return BUS_RETRY;
	}
	*reason = *err;
	return BUS_REJECT;
}

/* Joins group deploy-svc on every topic deploy-svc reacts to. */
int
deploy_consume_start(struct deploy *d, struct error *err)
{
	static const char *const topics[] = { TOPIC_IMAGE_PUSHED,
	    TOPIC_COMPONENT_EVENTS, TOPIC_REGISTRY_EVENTS, TOPIC_DATAPLANE_STATUS,
	    NULL };
	struct bus_consumer_config cfg = {
		.brokers = d->cfg.brokers,
		.group = DEPLOY_SERVICE,
		.topics = topics,
		.dlq = d->producer,
	};

	d->consumer = bus_consumer_new_batch(d->base, &cfg, deploy_batch_handle,
	    (size_t)d->cfg.batch_max, d, err);
	return d->consumer == NULL ? -1 : 0;
}
