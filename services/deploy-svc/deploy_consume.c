/*
 * deploy_consume.c: what deploy-svc does with the events it consumes.
 *
 * One table maps each payload case to the function that applies it. Every
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

/* Validates the parts of ImagePushed we rely on; fills the normalised image. */
static int
deploy_consume_image_check(const Slipway__V1__ImagePushed *ip,
    const char *id, struct image_ref *ref, char *image, size_t len,
    struct error *err)
{
	struct error perr;

	if (ip == NULL || !crypto_uuid_valid(ip->component_id))
		return deploy_consume_bad(err, "%s", "component_id is not a UUID");
	if (!crypto_uuid_valid(id))
		return deploy_consume_bad(err, "%s", "request_id is not a UUID");
	if (image_ref_parse(ip->image, ref, &perr) == -1 ||
	    image_ref_format(ref, image, len) == -1)
		return deploy_consume_bad(err, "invalid image: %s", perr.msg);
	if (ip->digest[0] != '\0' && !image_ref_digest_valid(ip->digest))
		return deploy_consume_bad(err, "%s", "invalid digest");
	return 0;
}

/*
 * ImagePushed keeps the component's repository: only the tag and digest
 * are the producer's, as at the webhook (hook_request.c). Internal
 * producers skip the webhook, so the check is repeated here; a component
 * whose image is unknown or unparsable can check nothing and deploys
 * nothing this way (the management API's deploy by image stays the way to
 * move to another repository of the same registry).
 */
static const char *
deploy_consume_repository(const struct deploy_component *comp,
    const struct image_ref *ref)
{
	struct image_ref own;
	struct error perr;

	if (comp->registry_host[0] != '\0' &&
	    !image_ref_host_equal(ref->domain, comp->registry_host))
		return "image_registry_mismatch: the image is not in the "
		    "component's registry";
	if (image_ref_parse(comp->image, &own, &perr) == -1 ||
	    !image_ref_same_repository(ref, &own))
		return "image_repository_mismatch: the image is not in the "
		    "component's repository (only the tag and digest may change)";
	return NULL;
}

/* Picks where the deployment goes, or says why it cannot go anywhere. */
static int
deploy_consume_place(struct deploy *d, const struct deploy_component *comp,
    const struct image_ref *ref, struct deploy_target *target,
    const char **failed, struct error *err)
{
	int rc = deploy_store_environment_first(d->store, comp->org,
	    d->cfg.default_dataplane, target, err);

	if (rc == -1 && strcmp(err->code, "dataplane_not_granted") == 0) {
		/* Nothing was written: the check comes before the rows. */
		error_clear(err);
		snprintf(target->environment, sizeof(target->environment),
		    "development");
		target->dataplane[0] = '\0';
		*failed = "dataplane_not_granted: the default data plane is not "
		    "granted to this org; the operator grants one (slipway "
		    "dataplane add --org) and binds an environment to it";
		return 0;
	}
	if (rc == -1)
		return -1;
	if (rc == 0) {
		snprintf(target->environment, sizeof(target->environment),
		    "development");
		target->dataplane[0] = '\0';
		*failed = d->cfg.default_dataplane[0] != '\0' ?
		    "no data plane registered (SLIPWAY_DEFAULT_DATAPLANE names "
		    "an unregistered one)" : "no data plane registered";
	} else {
		*failed = deploy_consume_repository(comp, ref);
	}
	return 0;
}

/*
 * ImagePushed: record a pending deployment in the org's first environment
 * and send ApplyDeployment to its data plane. The request id becomes the
 * deployment id, so a second ImagePushed with the same request id (say, a
 * producer retry with a new event id) is a duplicate and does nothing.
 */
static int
deploy_consume_image_pushed(struct deploy *d, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	const Slipway__V1__ImagePushed *ip = env->image_pushed;
	const char *id = ip != NULL && ip->request_id[0] != '\0' ?
	    ip->request_id : env->event_id;
	struct deploy_component comp;
	struct deploy_target target;
	struct deploy_new dn;
	struct image_ref ref;
	char image[IMAGE_REF_MAX + 1];
	int rc;

	if (deploy_consume_image_check(ip, id, &ref, image, sizeof(image), err) == -1)
		return -1;
	memset(&dn, 0, sizeof(dn));
	memset(&target, 0, sizeof(target));
	dn.id = id;
	dn.component_id = ip->component_id;
	dn.image = image;
	dn.digest = ip->digest[0] != '\0' ? ip->digest : ref.digest;
	dn.source = ip->source[0] != '\0' ? ip->source : "event";
	dn.target = &target;
	dn.keyring = d->keyring;
	if ((rc = deploy_store_component_get(d->store, ip->component_id, &comp,
	    err)) == -1)
		return -1;
	if (rc == 0 && (rc = deploy_remove_is_deleted(d->store,
	    ip->component_id, err)) != 0) {
		if (rc == -1)
			return -1;
		dn.org = env->org;
		dn.failed_reason = "component_deleted: the component was deleted";
	} else if (rc == 0) {
		/* component.events may lag behind image.pushed: wait a while. */
		if (bus_message_attempt(m) < DEPLOY_UNKNOWN_COMPONENT_ATTEMPTS) {
			error_set(err, "retry", "", "component %s not known yet",
			    ip->component_id);
			return -1;
		}
		dn.org = env->org;
		dn.failed_reason = "unknown component";
	} else {
		dn.comp = &comp;
		dn.org = comp.org;
		if (deploy_consume_place(d, &comp, &ref, &target, &dn.failed_reason,
		    err) == -1)
			return -1;
		if (dn.failed_reason != NULL &&
		    strncmp(dn.failed_reason, "image_", 6) == 0 &&
		    bus_message_attempt(m) < DEPLOY_MISMATCH_ATTEMPTS) {
			error_set(err, "retry", "", "component %s: %.60s (its "
			    "ComponentUpdated may be on its way)", ip->component_id,
			    dn.failed_reason);
			return -1;
		}
	}
	rc = deploy_store_deployment_create(d->store, &dn, err);
	if (rc == 1)
		log_info("deployment %s %s for component %s in %s: %s", id,
		    dn.failed_reason ? "failed" : "requested", ip->component_id,
		    target.environment, dn.failed_reason ? dn.failed_reason : image);
	else if (rc == 0)
		log_info("deployment %s exists already: duplicate ignored", id);
	return rc == -1 ? -1 : 0;
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
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, deploy_consume_image_pushed,
	    NULL },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS, deploy_consume_status,
	    NULL },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_EXECUTION_STATUS,
	    deploy_consume_execution, NULL },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED, deploy_consume_component,
	    deploy_consume_component_wake },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED, deploy_consume_component,
	    deploy_consume_component_wake },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED,
	    deploy_consume_component_deleted, NULL },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_ENDPOINTS_CHANGED, deploy_consume_endpoints,
	    NULL },
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
