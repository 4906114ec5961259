/*
 * deploy_http.c: deploy-svc's management API: the route table with each
 * route's level (operator, or an org key's weakest role), the deployment
 * endpoints, and the helpers the other handlers share (executions are in
 * deploy_exec_http.c, org keys in deploy_keys.c, the org of a resource
 * addressed by id in deploy_org.c).
 *
 * A deployment made through the API is recorded exactly like one made from
 * ImagePushed: the row and its outbox events (DeploymentRequested,
 * ApplyDeployment) commit in one transaction, and the relay publishes them.
 *
 * deploy-svc learns components from slipway.component.events, so a deploy
 * right after the component was created can arrive before ComponentCreated.
 * Such a request is parked (lib park.c) under the component id until the
 * consumer stores that component, a poll finds it, or the deadline.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "bus.h"
#include "crypto.h"
#include "json.h"
#include "outbox.h"
#include "service.h"
#include "store.h"

/* A PUT .../config body of DEPLOY_CONFIG_TOTAL_MAX bytes, JSON-escaped. */
#define DEPLOY_HTTP_MAX_BODY (512 * 1024)

/* What a POST .../deployments or .../promote asks for, once resolved. */
struct deploy_http_req {
	struct deploy_component comp;
	struct deploy_target target;
	char image[IMAGE_REF_MAX + 1];
	char digest[136];
	char id[37];
	const char *source;
	const struct keyring *keyring;
	int config_pinned;       /* a redeploy: the earlier configuration */
	int config_version;
};

/* Environment names: [a-z0-9][a-z0-9-]{0,62}. */
int
deploy_http_name_valid(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DEPLOY_NAME_MAX ||
	    !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '-')
			return 0;
	return 1;
}

/* Replies to a store failure: 503 when Postgres is down, else 500. */
void
deploy_http_fail(struct http_request *req, const struct error *err)
{
	if (strcmp(err->code, "unavailable") == 0) {
		http_reply_error(req, 503, "unavailable", "", "database unavailable");
		return;
	}
	log_warnx("request failed: %s: %s", err->code, err->msg);
	http_reply_error(req, 500, "internal", "", "internal error");
}

/* GET /v1/deployments/{id} */
static void
deploy_http_get(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *o;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_yet_known", "id",
		    "no deployment with this id (yet)");
		return;
	}
	if ((o = deploy_store_deployment_json(d->store, id, &err)) == NULL) {
		if (strcmp(err.code, "not_found") == 0)
			http_reply_error(req, 404, "not_yet_known", "id",
			    "no deployment with this id (yet)");
		else
			deploy_http_fail(req, &err);
		return;
	}
	http_reply_json(req, 200, o);
}

/* GET /v1/components/{id}/deployments, newest first. */
static void
deploy_http_list(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *arr;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "id", "no such component");
		return;
	}
	if ((arr = deploy_store_deployments_json(d->store, id, &err)) == NULL) {
		deploy_http_fail(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "deployments", arr));
}

static int
deploy_http_create_tx(struct store *s, void *arg, struct error *err)
{
	const struct deploy_http_req *r = arg;
	struct deploy_new dn;

	memset(&dn, 0, sizeof(dn));
	dn.id = r->id;
	dn.comp = &r->comp;
	dn.component_id = r->comp.id;
	dn.org = r->comp.org;
	dn.target = &r->target;
	dn.image = r->image;
	dn.digest = r->digest;
	dn.source = r->source;
	dn.keyring = r->keyring;
	dn.config_pinned = r->config_pinned;
	dn.config_version = r->config_version;
	return deploy_store_deployment_create(s, &dn, err) == -1 ? -1 : 0;
}

/* Records the deployment, wakes the relay, answers 202 with it. */
static void
deploy_http_create(struct http_request *req, struct deploy *d,
    struct deploy_http_req *r)
{
	struct error err;
	json_t *o;

	crypto_uuid(r->id);
	r->keyring = d->keyring;
	if (store_tx(d->store, deploy_http_create_tx, r, &err) == -1 ||
	    (o = deploy_store_deployment_json(d->store, r->id, &err)) == NULL) {
		deploy_http_fail(req, &err);
		return;
	}
	outbox_relay_kick(d->relay);
	log_info("deployment %s requested for component %s in %s (%s)", r->id,
	    r->comp.id, r->target.environment, r->source);
	http_reply_json(req, 202, o);
}

/*
 * Finds the org's environment env (an org's first request creates its
 * default environments, as its first deployment always has). 0: found;
 * -1: replied (422 unknown_environment or dataplane_not_granted, 5xx).
 */
int
deploy_http_environment(struct http_request *req, struct deploy *d,
    const char *org, const char *env, struct deploy_target *out)
{
	struct error err;
	int rc = deploy_store_environment_first(d->store, org,
	    d->cfg.default_dataplane, out, &err);

	if (rc == 1)
		rc = deploy_store_environment_get(d->store, org, env, out, &err);
	if (rc == -1 && strcmp(err.code, "dataplane_not_granted") == 0) {
		http_reply_error(req, 422, "dataplane_not_granted", "environment",
		    "org %s has no environments and the default data plane is "
		    "not granted to it", org);
		return -1;
	}
	if (rc == -1) {
		deploy_http_fail(req, &err);
		return -1;
	}
	if (rc == 0) {
		http_reply_error(req, 422, "unknown_environment", "environment",
		    "org %s has no environment %s", org, env);
		return -1;
	}
	return 0;
}

/*
 * Loads the component and the named environment. 0: loaded; 1: the
 * component is not known (yet) and may_wait, nothing replied; -1: replied.
 * Every caller of this deploys: the component must be of the caller's org
 * (404 like an unknown one, otherwise) and its role at least deployer
 * (403). The route checked both only when the component was known then; a
 * deploy that waited for it is checked here.
 */
static int
deploy_http_load(struct http_request *req, struct deploy *d,
    const char *component_id, const char *env, struct deploy_http_req *r,
    int may_wait, const struct deploy_caller *caller)
{
	struct error err;
	int rc = 0;

	if (crypto_uuid_valid(component_id))
		rc = deploy_store_component_get(d->store, component_id, &r->comp,
		    &err);
	/* Deleted is final: no waiting for it to come back. */
	if (rc == 0 && crypto_uuid_valid(component_id) &&
	    (rc = deploy_remove_is_deleted(d->store, component_id, &err)) == 1) {
		http_reply_error(req, 404, "not_found", "", "no such component "
		    "(it was deleted)");
		return -1;
	}
	if (rc == 0 && may_wait && crypto_uuid_valid(component_id))
		return 1;
	if (rc == 0) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return -1;
	}
	if (rc == -1) {
		deploy_http_fail(req, &err);
		return -1;
	}
	if (deploy_org_reply(req, caller, r->comp.org, APIKEY_DEPLOYER,
	    "component") == -1)
		return -1;
	return deploy_http_environment(req, d, r->comp.org, env, &r->target);
}

/* "tag": the component's repository with a new tag. */
static int
deploy_http_from_tag(struct deploy_http_req *r, const char *tag,
    struct error *err)
{
	struct image_ref ref;

	if (!image_ref_tag_valid(tag)) {
		error_set(err, "invalid_image", "tag", "invalid tag");
		return -1;
	}
	if (image_ref_parse(r->comp.image, &ref, err) == -1)
		return -1;
	snprintf(ref.tag, sizeof(ref.tag), "%s", tag);
	ref.digest[0] = '\0';
	if (image_ref_format(&ref, r->image, sizeof(r->image)) == -1) {
		error_set(err, "invalid_image", "tag", "image reference too long");
		return -1;
	}
	return 0;
}

/* "image": a whole new reference, in the component's registry. */
static int
deploy_http_from_image(struct deploy_http_req *r, const char *image,
    struct error *err)
{
	struct image_ref ref;

	if (image_ref_parse(image, &ref, err) == -1 ||
	    image_ref_format(&ref, r->image, sizeof(r->image)) == -1) {
		error_set(err, "invalid_image", "image", "invalid image reference");
		return -1;
	}
	if (r->comp.registry_host[0] != '\0' &&
	    !image_ref_host_equal(ref.domain, r->comp.registry_host)) {
		error_set(err, "image_registry_mismatch", "image",
		    "the image must be in registry %s", r->comp.registry_host);
		return -1;
	}
	snprintf(r->digest, sizeof(r->digest), "%s", ref.digest);
	return 0;
}

/* The configuration version deployment id ran with, pinned into r. */
static int
deploy_http_config_of(struct deploy *d, const char *id,
    struct deploy_http_req *r, struct error *err)
{
	struct store_result *res;
	const char *vals[] = { id };
	int rc = deploy_store_one(d->store, &res, "SELECT config_version FROM "
	    "deployments WHERE id = $1", 1, vals, err);

	if (rc == -1)
		return -1;
	if (rc == 1) {
		r->config_pinned = 1;
		r->config_version = atoi(store_result_get(res, 0, 0));
		store_result_free(res);
	}
	return 0;
}

/*
 * What a request parked on an unknown component needs to go on: who called
 * (the route found no component to check then, so the one that arrives is
 * checked against it), and the handler to run again; NULL for a POST
 * .../deployments, which retries through deploy_http_post_try.
 */
struct deploy_parked {
	struct deploy_caller caller;
	http_handler rerun;
};

/* Parks req on component id; 0, or -1 (nothing parked: the caller replies). */
static int
deploy_http_park(struct http_request *req, struct deploy *d, const char *id,
    http_handler rerun)
{
	struct deploy_parked *p;

	if (d->cfg.component_wait_ms <= 0 || (p = malloc(sizeof(*p))) == NULL)
		return -1;
	deploy_org_caller(req, &p->caller);
	p->rerun = rerun;
	if (park_add(d->parked, id, req, p) == -1) {
		free(p);
		return -1;
	}
	log_info("component %s not known yet: waiting up to %d ms for it", id,
	    d->cfg.component_wait_ms);
	return 0;
}

int
deploy_http_component_load(struct http_request *req, struct deploy *d,
    struct deploy_component *comp, http_handler rerun)
{
	const char *id = http_request_param(req, "id");
	struct error err;
	int rc = 0;

	if (crypto_uuid_valid(id))
		rc = deploy_store_component_get(d->store, id, comp, &err);
	if (rc == -1) {
		deploy_http_fail(req, &err);
		return -1;
	}
	if (rc == 0 && (rerun == NULL || !crypto_uuid_valid(id) ||
	    deploy_http_park(req, d, id, rerun) == -1)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return -1;
	}
	return rc == 0 ? -1 : 0;
}

/*
 * A parked handler's request, offered again: 0 while its component is still
 * unknown, else it is answered (404 at the deadline or for another org's
 * component, otherwise by its handler, which now finds the component).
 */
static int
deploy_http_rerun(struct http_request *req, struct deploy *d,
    const struct deploy_parked *p, enum park_why why)
{
	struct deploy_component comp;
	struct error err;
	int rc = deploy_store_component_get(d->store,
	    http_request_param(req, "id"), &comp, &err);

	if (rc == 0 && why != PARK_TIMEOUT)
		return 0;
	if (rc == -1 && why != PARK_TIMEOUT)
		return 0;   /* the database may be back on the next poll */
	if (rc == 1 && (p->caller.is_operator ||
	    strcmp(p->caller.org, comp.org) == 0))
		p->rerun(req, d);
	else if (rc == -1)
		deploy_http_fail(req, &err);
	else
		http_reply_error(req, 404, "not_found", "", "no such component");
	return 1;
}

/* "from_deployment": redeploy an earlier image of the same component. */
static int
deploy_http_from_previous(struct deploy *d, struct deploy_http_req *r,
    const char *prev, struct error *err)
{
	struct deploy_current cur;
	int rc;

	if (!crypto_uuid_valid(prev) ||
	    (rc = deploy_store_deployment_get(d->store, prev, &cur, err)) == 0 ||
	    (rc == 1 && strcmp(cur.component_id, r->comp.id) != 0)) {
		error_set(err, "unknown_deployment", "from_deployment",
		    "no such deployment of this component");
		return -1;
	}
	if (rc == -1)
		return -1;
	snprintf(r->image, sizeof(r->image), "%s", cur.image);
	snprintf(r->digest, sizeof(r->digest), "%s", cur.digest);
	/*
	 * The release is digest and configuration: the same environment gets
	 * the very version it ran with. Versions count per environment, so a
	 * redeploy into another one takes that environment's current.
	 */
	if (strcmp(cur.environment, r->target.environment) == 0)
		return deploy_http_config_of(d, prev, r, err);
	return 0;
}

/*
 * "config_only": the environment's current image (its newest running,
 * crashed or ready deployment's digest) with its current configuration.
 */
static int
deploy_http_from_current(struct deploy *d, struct deploy_http_req *r,
    struct error *err)
{
	struct store_result *res;
	const char *vals[] = { r->comp.id, r->target.environment };
	int rc = deploy_store_one(d->store, &res, "SELECT image, digest FROM "
	    "deployments WHERE component_id = $1 AND environment = $2 AND "
	    "status IN ('running', 'crashed', 'ready') AND digest <> '' "
	    "ORDER BY created_at DESC, id DESC LIMIT 1", 2, vals, err);

	if (rc == -1)
		return -1;
	if (rc == 0) {
		error_set(err, "nothing_deployed", "config_only", "nothing runs in "
		    "%s to roll the configuration out with", r->target.environment);
		return -1;
	}
	snprintf(r->image, sizeof(r->image), "%s", store_result_get(res, 0, 0));
	snprintf(r->digest, sizeof(r->digest), "%s", store_result_get(res, 0, 1));
	store_result_free(res);
	r->source = "config";
	return 0;
}

/* Resolves the body's one image option into r->image / r->digest. */
static int
deploy_http_resolve(struct deploy *d, json_t *body, struct deploy_http_req *r,
    struct error *err)
{
	const char *tag = json_get_string(body, "tag", 128, 0, err);
	const char *image = json_get_string(body, "image", IMAGE_REF_MAX, 0, err);
	const char *prev = json_get_string(body, "from_deployment", 36, 0, err);
	json_t *co = json_object_get(body, "config_only");

	if (err->code[0] != '\0')
		return -1;
	if (co != NULL && !json_is_boolean(co)) {
		error_set(err, "invalid_field", "config_only",
		    "config_only is true or false");
		return -1;
	}
	if ((tag != NULL) + (image != NULL) + (prev != NULL) +
	    json_is_true(co) != 1) {
		error_set(err, "invalid_request", "", "give exactly one of tag, "
		    "image, from_deployment, config_only");
		return -1;
	}
	if (json_is_true(co))
		return deploy_http_from_current(d, r, err);
	if (tag != NULL)
		return deploy_http_from_tag(r, tag, err);
	if (image != NULL)
		return deploy_http_from_image(r, image, err);
	return deploy_http_from_previous(d, r, prev, err);
}

static int
deploy_http_status_of(const struct error *err)
{
	if (strcmp(err->code, "unavailable") == 0)
		return 503;
	if (strcmp(err->code, "db_error") == 0)
		return 500;
	if (strncmp(err->code, "invalid_", 8) == 0 &&
	    strcmp(err->code, "invalid_image") != 0)
		return 400;
	if (strcmp(err->code, "missing_field") == 0 ||
	    strcmp(err->code, "unknown_field") == 0)
		return 400;
	if (strcmp(err->code, "nothing_deployed") == 0)
		return 409;
	return 422;
}

/*
 * One attempt at POST /v1/components/{id}/deployments: 1 when it replied, 0
 * when the component is not known (yet) and may_wait. The body is checked
 * again on every attempt: it is cheap, and a retry then needs nothing but
 * the request and who called.
 */
static int
deploy_http_post_try(struct http_request *req, struct deploy *d, int may_wait,
    const struct deploy_caller *caller)
{
	static const char *const keys[] = { "environment", "tag", "image",
	    "from_deployment", "config_only", NULL };
	struct deploy_http_req r;
	struct error err;
	const char *env;
	json_t *body;
	int rc;

	if ((body = http_request_json(req)) == NULL)
		return 1;
	memset(&r, 0, sizeof(r));
	error_clear(&err);
	r.source = "api";
	if (json_only_keys(body, keys, &err) == -1 ||
	    (env = json_get_string(body, "environment", DEPLOY_NAME_MAX, 1,
	    &err)) == NULL) {
		http_reply_err(req, 400, &err);
		return 1;
	}
	if ((rc = deploy_http_load(req, d, http_request_param(req, "id"), env,
	    &r, may_wait, caller)) != 0)
		return rc == 1 ? 0 : 1;
	if (deploy_http_resolve(d, body, &r, &err) == -1) {
		http_reply_err(req, deploy_http_status_of(&err), &err);
		return 1;
	}
	deploy_http_create(req, d, &r);
	return 1;
}

/*
 * A request parked on a component this process has not heard of yet (it was
 * probably created a moment ago and its event is still on its way): retried
 * on every poll and notification, answered 404 not_found as before at the
 * deadline. At shutdown it is answered 503 without acting, as the client
 * might never see the answer.
 */
int
deploy_http_post_resume(void *ctx, struct http_request *req, void *arg,
    enum park_why why)
{
	const struct deploy_parked *p = arg;
	int replied;

	/* Never parked without its caller; refuse rather than act as the operator. */
	if (why == PARK_SHUTDOWN || p == NULL) {
		http_reply_error(req, 503, "unavailable", "",
		    "deploy-svc is shutting down, retry later");
		return 1;
	}
	/* A timer or the consumer runs this: log under the request's id. */
	log_ctx_set("request_id", http_request_id(req));
	if (p->rerun != NULL)
		replied = deploy_http_rerun(req, ctx, p, why);
	else
		replied = deploy_http_post_try(req, ctx, why != PARK_TIMEOUT,
		    &p->caller);
	log_ctx_unset("request_id");
	return replied;
}

/* POST /v1/components/{id}/deployments {"environment", tag|image|from_deployment} */
static void
deploy_http_post(struct http_request *req, void *ctx)
{
	struct deploy *d = ctx;
	struct deploy_caller caller;

	deploy_org_caller(req, &caller);
	if (deploy_http_post_try(req, d, d->cfg.component_wait_ms > 0, &caller))
		return;
	if (deploy_http_park(req, d, http_request_param(req, "id"), NULL) == -1)
		deploy_http_post_try(req, d, 0, &caller);
}

/* Checks the source of a promotion; replies on failure. */
static int
deploy_http_promotable(struct http_request *req, struct deploy *d,
    const char *id, struct deploy_current *cur)
{
	struct error err;
	int rc;

	if (!crypto_uuid_valid(id) ||
	    (rc = deploy_store_deployment_get(d->store, id, cur, &err)) == 0) {
		http_reply_error(req, 404, "not_found", "id", "no such deployment");
		return -1;
	}
	if (rc == -1) {
		deploy_http_fail(req, &err);
		return -1;
	}
	/*
	 * Crashed counts: it ran with that digest, and is being restarted.
	 * ready is a task's running: its digest is pinned and its runs use it.
	 */
	if ((strcmp(cur->status, "running") != 0 &&
	    strcmp(cur->status, "crashed") != 0 &&
	    strcmp(cur->status, "ready") != 0 &&
	    strcmp(cur->status, "superseded") != 0) || cur->digest[0] == '\0') {
		http_reply_error(req, 409, "not_promotable", "id",
		    "only a deployment that ran with a resolved digest can be "
		    "promoted (this one is %s)", cur->status);
		return -1;
	}
	return 0;
}

/* POST /v1/deployments/{id}/promote {"to"}: same image, pinned digest. */
static void
deploy_http_promote(struct http_request *req, void *ctx)
{
	static const char *const keys[] = { "to", NULL };
	struct deploy *d = ctx;
	struct deploy_caller caller, owner;
	struct deploy_current cur;
	struct deploy_http_req r;
	struct error err;
	const char *to;
	json_t *body;

	if ((body = http_request_json(req)) == NULL)
		return;
	memset(&r, 0, sizeof(r));
	error_clear(&err);
	if (json_only_keys(body, keys, &err) == -1 ||
	    (to = json_get_string(body, "to", DEPLOY_NAME_MAX, 1, &err)) == NULL) {
		http_reply_err(req, 400, &err);
		return;
	}
	if (deploy_http_promotable(req, d, http_request_param(req, "id"),
	    &cur) == -1)
		return;
	/*
	 * The route held the deployment to the caller's org and role; its
	 * component, and so the environment it goes to, must be of the
	 * deployment's org (they are by construction: this checks it).
	 */
	deploy_org_caller(req, &caller);
	if (deploy_org_reply(req, &caller, cur.org, APIKEY_DEPLOYER,
	    "deployment") == -1)
		return;
	memset(&owner, 0, sizeof(owner));
	snprintf(owner.org, sizeof(owner.org), "%s", cur.org);
	owner.role = APIKEY_ADMIN;
	if (deploy_http_load(req, d, cur.component_id, to, &r, 0, &owner) == -1)
		return;
	snprintf(r.image, sizeof(r.image), "%s", cur.image);
	snprintf(r.digest, sizeof(r.digest), "%s", cur.digest);
	r.source = "promote";
	deploy_http_create(req, d, &r);
}

/*
 * Every route's level (lib http.h): platform routes are the operator's;
 * org routes name the weakest role allowed and, without {org} in the
 * pattern, how to find the org of the resource they address.
 */
#define DEPLOY_ROUTE(m, p, h, a, o) \
	{ .method = (m), .pattern = (p), .handler = (h), .auth = (a), \
	  .org_of = (o) }
static const struct http_route deploy_http_routes[] = {
	DEPLOY_ROUTE(HTTP_POST, "/v1/dataplanes", deploy_dataplanes_post,
	    HTTP_AUTH_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_GET, "/v1/dataplanes", deploy_dataplanes_list,
	    HTTP_AUTH_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_POST, "/v1/orgs/{org}/environments",
	    deploy_dataplanes_env_post, HTTP_AUTH_ORG_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_GET, "/v1/orgs/{org}/environments",
	    deploy_dataplanes_env_list, HTTP_AUTH_VIEWER, NULL),
	DEPLOY_ROUTE(HTTP_POST, "/v1/orgs/{org}/keys", deploy_keys_post,
	    HTTP_AUTH_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_GET, "/v1/orgs/{org}/keys", deploy_keys_list,
	    HTTP_AUTH_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_DELETE, "/v1/orgs/{org}/keys/{id}", deploy_keys_delete,
	    HTTP_AUTH_ADMIN, NULL),
	DEPLOY_ROUTE(HTTP_GET, "/v1/deployments/{id}", deploy_http_get,
	    HTTP_AUTH_VIEWER, deploy_org_of_deployment),
	DEPLOY_ROUTE(HTTP_POST, "/v1/deployments/{id}/promote",
	    deploy_http_promote, HTTP_AUTH_DEPLOYER, deploy_org_of_deployment),
	DEPLOY_ROUTE(HTTP_GET, "/v1/components/{id}/deployments",
	    deploy_http_list, HTTP_AUTH_VIEWER, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_POST, "/v1/components/{id}/deployments",
	    deploy_http_post, HTTP_AUTH_DEPLOYER, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_GET, "/v1/components/{id}/executions",
	    deploy_exec_http_list, HTTP_AUTH_VIEWER, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_POST, "/v1/components/{id}/executions",
	    deploy_exec_http_post, HTTP_AUTH_DEPLOYER, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_GET, "/v1/executions/{id}", deploy_exec_http_get,
	    HTTP_AUTH_VIEWER, deploy_org_of_execution),
	DEPLOY_ROUTE(HTTP_GET, "/v1/components/{id}/environments/{env}/config",
	    deploy_config_http_get, HTTP_AUTH_VIEWER, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_PUT, "/v1/components/{id}/environments/{env}/config",
	    deploy_config_http_put, HTTP_AUTH_ORG_ADMIN, deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_GET, "/v1/components/{id}/environments/{env}/secrets",
	    deploy_config_http_secrets, HTTP_AUTH_VIEWER,
	    deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_PUT,
	    "/v1/components/{id}/environments/{env}/secrets/{key}",
	    deploy_config_http_secret_put, HTTP_AUTH_ORG_ADMIN,
	    deploy_org_of_component),
	DEPLOY_ROUTE(HTTP_DELETE,
	    "/v1/components/{id}/environments/{env}/secrets/{key}",
	    deploy_config_http_secret_delete, HTTP_AUTH_ORG_ADMIN,
	    deploy_org_of_component),
};

/* Ready when Postgres answers and the consumer has partitions. */
static int
deploy_http_ready(void *ctx, char *why, size_t whylen)
{
	struct deploy *d = ctx;

	return service_ready(d->store, d->consumer, why, whylen);
}

int
deploy_http_start(struct deploy *d, struct error *err)
{
	struct http_server_config cfg = {
		.service = DEPLOY_SERVICE,
		.addr = d->cfg.http_addr,
		.port = d->cfg.http_port,
		.admin_token = d->cfg.admin_token,
		.keys = d->keys,
		.max_body = DEPLOY_HTTP_MAX_BODY,
		.ready = deploy_http_ready,
		/* Handlers call libpq synchronously: never on the connections' loop. */
		.io_thread = 1,
	};

	d->http = http_server_new(d->base, &cfg, deploy_http_routes,
	    sizeof(deploy_http_routes) / sizeof(deploy_http_routes[0]), d, err);
	return d->http == NULL ? -1 : 0;
}
