/*
 * deploy_push.c: ImagePushed, the hot path of a backlog. A batch's run of
 * them (deploy_batch.c, already deduplicated) is applied in one go: each
 * event is checked and placed in order, with every component, org
 * placement and sealed configuration looked up once per run and reused,
 * then every deployment and its outbox rows are written in one statement
 * per table (deploy_store_deployments_create). Per event that leaves no
 * round trip at all: a run of 256 pushes for one component costs about
 * five statements instead of 1,800.
 *
 * The lookups are cached for one run only: the run lies inside one
 * transaction, and nothing between its first event and its last (all
 * ImagePushed) changes a component, an environment or a configuration.
 * A run's first failing event is the one reported, as if applied one by
 * one: a later one's failure is found first only when an earlier one
 * would have failed in a later step, so that step still runs for the
 * earlier ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deploy.h"
#include "bus.h"
#include "crypto.h"
#include "log.h"
#include "store.h"

/* A component of the run: found (with its row), deleted, or unknown. */
struct deploy_push_comp {
	char id[37];
	int found;
	int deleted;                   /* when not found */
	struct deploy_component *comp;
};

/* Where an org's deployments go (deploy_store_environment_first). */
struct deploy_push_place {
	char org[DEPLOY_NAME_MAX + 1];
	int rc;                        /* 1 placed, 0 no data plane at all */
	int not_granted;
	struct deploy_target target;
};

/* A component + environment's configuration, sealed to the data plane. */
struct deploy_push_seal {
	char component_id[37];
	struct deploy_target target;
	struct deploy_sealed cs;
	char reason[DEPLOY_REASON_MAX + 1];
};

/* One event of the run and what is written of it. */
struct deploy_push_item {
	struct deploy_target target;
	char image[IMAGE_REF_MAX + 1];
	struct image_ref ref;
	char reason[DEPLOY_REASON_MAX + 1];
};

struct deploy_push {
	struct deploy *d;
	size_t n;
	struct deploy_push_item *items;
	struct deploy_new *dns;
	int *created;
	/* The lookups, at most one entry per event of the run each. */
	struct deploy_push_comp *comps;
	size_t ncomps;
	struct deploy_push_place *places;
	size_t nplaces;
	struct deploy_push_seal *seals;
	size_t nseals;
	struct deploy_sealed nothing;  /* version 0, for failed deployments */
};

static void
deploy_push_free(struct deploy_push *p)
{
	for (size_t i = 0; i < p->ncomps; i++)
		free(p->comps[i].comp);
	for (size_t i = 0; i < p->nseals; i++)
		free(p->seals[i].cs.blob);
	free(p->comps);
	free(p->places);
	free(p->seals);
	free(p->items);
	free(p->dns);
	free(p->created);
}

static int
deploy_push_init(struct deploy_push *p, struct deploy *d, size_t n,
    struct error *err)
{
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->n = n;
	p->items = calloc(n, sizeof(*p->items));
	p->dns = calloc(n, sizeof(*p->dns));
	p->created = calloc(n, sizeof(*p->created));
	p->comps = calloc(n, sizeof(*p->comps));
	p->places = calloc(n, sizeof(*p->places));
	p->seals = calloc(n, sizeof(*p->seals));
	if (p->items == NULL || p->dns == NULL || p->created == NULL ||
	    p->comps == NULL || p->places == NULL || p->seals == NULL) {
		deploy_push_free(p);
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	return 0;
}

/* The component id, looked up once per run (and whether it was deleted). */
static const struct deploy_push_comp *
deploy_push_component(struct deploy_push *p, const char *id,
    struct error *err)
{
	struct deploy_push_comp *c;
	int rc;

	for (size_t i = 0; i < p->ncomps; i++)
		if (strcasecmp(p->comps[i].id, id) == 0)
			return &p->comps[i];
	c = &p->comps[p->ncomps];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	if ((c->comp = malloc(sizeof(*c->comp))) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return NULL;
	}
	if ((rc = deploy_store_component_get(p->d->store, id, c->comp,
	    err)) == -1 || (rc == 0 && (c->deleted =
	    deploy_remove_is_deleted(p->d->store, id, err)) == -1)) {
		free(c->comp);
		return NULL;
	}
	c->found = rc;
	p->ncomps++;
	return c;
}

/* The org's first environment, looked up (or made) once per run. */
static const struct deploy_push_place *
deploy_push_placement(struct deploy_push *p, const char *org,
    struct error *err)
{
	struct deploy_push_place *pl;

	for (size_t i = 0; i < p->nplaces; i++)
		if (strcmp(p->places[i].org, org) == 0)
			return &p->places[i];
	pl = &p->places[p->nplaces];
	memset(pl, 0, sizeof(*pl));
	snprintf(pl->org, sizeof(pl->org), "%s", org);
	pl->rc = deploy_store_environment_first(p->d->store, org,
	    p->d->cfg.default_dataplane, &pl->target, err);
	if (pl->rc == -1 && strcmp(err->code, "dataplane_not_granted") == 0) {
		/* Nothing was written: the check comes before the rows. */
		error_clear(err);
		pl->rc = 0;
		pl->not_granted = 1;
	}
	if (pl->rc == -1)
		return NULL;
	p->nplaces++;
	return pl;
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
deploy_push_repository(const struct deploy_component *comp,
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
deploy_push_place(struct deploy_push *p, struct deploy_push_item *it,
    struct deploy_new *dn, struct error *err)
{
	const struct deploy_push_place *pl = deploy_push_placement(p,
	    dn->comp->org, err);

	if (pl == NULL)
		return -1;
	if (pl->rc == 1) {
		it->target = pl->target;
		dn->failed_reason = deploy_push_repository(dn->comp, &it->ref);
		return 0;
	}
	snprintf(it->target.environment, sizeof(it->target.environment),
	    "development");
	it->target.dataplane[0] = '\0';
	if (pl->not_granted)
		dn->failed_reason = "dataplane_not_granted: the default data "
		    "plane is not granted to this org; the operator grants one "
		    "(slipway dataplane add --org) and binds an environment to it";
	else
		dn->failed_reason = p->d->cfg.default_dataplane[0] != '\0' ?
		    "no data plane registered (SLIPWAY_DEFAULT_DATAPLANE names "
		    "an unregistered one)" : "no data plane registered";
	return 0;
}

/* dn's configuration, sealed once per component, environment, data plane. */
static const struct deploy_push_seal *
deploy_push_sealed(struct deploy_push *p, const struct deploy_new *dn,
    struct error *err)
{
	struct deploy_push_seal *se;

	for (size_t i = 0; i < p->nseals; i++) {
		se = &p->seals[i];
		if (strcasecmp(se->component_id, dn->component_id) == 0 &&
		    strcmp(se->target.environment, dn->target->environment) == 0 &&
		    strcmp(se->target.dataplane, dn->target->dataplane) == 0)
			return se;
	}
	se = &p->seals[p->nseals];
	memset(se, 0, sizeof(*se));
	snprintf(se->component_id, sizeof(se->component_id), "%s",
	    dn->component_id);
	se->target = *dn->target;
	if (deploy_store_config(p->d->store, dn, &se->cs, se->reason,
	    sizeof(se->reason), err) == -1)
		return NULL;
	p->nseals++;
	return se;
}

/* The parts of ImagePushed we rely on; fills the normalised image. */
static int
deploy_push_check(const Slipway__V1__ImagePushed *ip, const char *id,
    struct deploy_push_item *it, struct error *err)
{
	struct error perr;

	if (ip == NULL || !crypto_uuid_valid(ip->component_id))
		return deploy_consume_bad(err, "%s", "component_id is not a UUID");
	if (!crypto_uuid_valid(id))
		return deploy_consume_bad(err, "%s", "request_id is not a UUID");
	if (image_ref_parse(ip->image, &it->ref, &perr) == -1 ||
	    image_ref_format(&it->ref, it->image, sizeof(it->image)) == -1)
		return deploy_consume_bad(err, "invalid image: %s", perr.msg);
	if (ip->digest[0] != '\0' && !image_ref_digest_valid(ip->digest))
		return deploy_consume_bad(err, "%s", "invalid digest");
	return 0;
}

/*
 * What becomes of a component not found: the deployment fails (deleted,
 * or still unknown after a while), or the event waits for its
 * ComponentCreated (component.events may lag behind image.pushed).
 */
static int
deploy_push_unknown(const struct deploy_push_comp *c, const Envelope *env,
    const struct bus_message *m, struct deploy_new *dn, struct error *err)
{
	dn->org = env->org;
	if (c->deleted) {
		dn->failed_reason = "component_deleted: the component was deleted";
		return 0;
	}
	if (bus_message_attempt(m) < DEPLOY_UNKNOWN_COMPONENT_ATTEMPTS) {
		error_set(err, "retry", "", "component %s not known yet", c->id);
		return -1;
	}
	dn->failed_reason = "unknown component";
	return 0;
}

/*
 * Event i checked and placed into p->dns[i], its configuration sealed:
 * the deployment is recorded pending in the org's first environment (the
 * request id becomes its id, so a producer's retry under a new event id is
 * a duplicate), or failed with the reason. -1 with err: i cannot be
 * applied now.
 */
static int
deploy_push_prepare(struct deploy_push *p, size_t i, const Envelope *env,
    const struct bus_message *m, struct error *err)
{
	const Slipway__V1__ImagePushed *ip = env->image_pushed;
	const char *id = ip != NULL && ip->request_id[0] != '\0' ?
	    ip->request_id : env->event_id;
	struct deploy_push_item *it = &p->items[i];
	struct deploy_new *dn = &p->dns[i];
	const struct deploy_push_comp *c;
	const struct deploy_push_seal *se;

	if (deploy_push_check(ip, id, it, err) == -1)
		return -1;
	dn->id = id;
	dn->component_id = ip->component_id;
	dn->image = it->image;
	dn->digest = ip->digest[0] != '\0' ? ip->digest : it->ref.digest;
	dn->source = ip->source[0] != '\0' ? ip->source : "event";
	dn->target = &it->target;
	dn->keyring = p->d->keyring;
	if ((c = deploy_push_component(p, ip->component_id, err)) == NULL)
		return -1;
	if (!c->found) {
		if (deploy_push_unknown(c, env, m, dn, err) == -1)
			return -1;
	} else {
		dn->comp = c->comp;
		dn->org = c->comp->org;
		if (deploy_push_place(p, it, dn, err) == -1)
			return -1;
		if (dn->failed_reason != NULL &&
		    strncmp(dn->failed_reason, "image_", 6) == 0 &&
		    bus_message_attempt(m) < DEPLOY_MISMATCH_ATTEMPTS) {
			error_set(err, "retry", "", "component %s: %.60s (its "
			    "ComponentUpdated may be on its way)", ip->component_id,
			    dn->failed_reason);
			return -1;
		}
	}
	/* A deployment failed already runs nothing: no configuration. */
	if (dn->failed_reason != NULL || dn->comp == NULL) {
		dn->sealed = &p->nothing;
		return 0;
	}
	if ((se = deploy_push_sealed(p, dn, err)) == NULL)
		return -1;
	dn->sealed = &se->cs;
	if (se->reason[0] != '\0') {
		snprintf(it->reason, sizeof(it->reason), "%s", se->reason);
		dn->failed_reason = it->reason;
	}
	return 0;
}

/* What became of each recorded deployment, in the event's log context. */
static void
deploy_push_log(const struct deploy_push *p, const Envelope *const *envs,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct deploy_new *dn = &p->dns[i];

		log_ctx_set("event_id", envs[i]->event_id);
		if (p->created[i])
			log_info("deployment %s %s for component %s in %s: %s",
			    dn->id, dn->failed_reason ? "failed" : "requested",
			    dn->component_id, dn->target->environment,
			    dn->failed_reason ? dn->failed_reason : dn->image);
		else
			log_info("deployment %s exists already: duplicate ignored",
			    dn->id);
		log_ctx_clear();
	}
}

/*
 * Events 0..ok-1 prepared, written in one go. When event ok failed to
 * prepare (ok < n, its error in *err), an earlier event's failure to be
 * written is the one to report (first at fault), so they are written all
 * the same: the caller rolls back either way.
 */
static int
deploy_push_write(struct deploy_push *p, const Envelope *const *envs,
    size_t ok, size_t *bad, struct error *err)
{
	struct error werr;
	size_t wbad;

	error_clear(&werr);
	if (deploy_store_deployments_create(p->d->store, p->dns, ok, p->created,
	    &wbad, &werr) == -1) {
		*bad = wbad < ok ? wbad : p->n;
		*err = werr;
		return -1;
	}
	if (ok < p->n) {
		*bad = ok;
		return -1;
	}
	deploy_push_log(p, envs, ok);
	return 0;
}

int
deploy_push_apply(struct deploy *d, const Envelope *const *envs,
    const struct bus_message *const *ms, size_t n, size_t *bad,
    struct error *err)
{
	struct deploy_push p;
	size_t ok;
	int rc;

	*bad = n;
	if (deploy_push_init(&p, d, n, err) == -1)
		return -1;
	for (ok = 0; ok < n; ok++) {
		log_ctx_set("event_id", envs[ok]->event_id);
		rc = deploy_push_prepare(&p, ok, envs[ok], ms[ok], err);
		log_ctx_clear();
		if (rc == -1)
			break;
	}
	/*
	 * A store error while preparing aborted the transaction: the earlier
	 * events cannot be written to see whether one of them is at fault
	 * first, so no one is blamed (the caller then goes one by one).
	 */
	if (ok < n && strcmp(err->code, "bad_message") != 0 &&
	    strcmp(err->code, "retry") != 0)
		rc = -1;
	else
		rc = deploy_push_write(&p, envs, ok, bad, err);
	deploy_push_free(&p);
	return rc;
}
