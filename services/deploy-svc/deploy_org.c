/*
 * deploy_org.c: which org a resource addressed by id belongs to, so lib
 * http.c can hold an org key to its own org on routes without {org} in the
 * path (another org's resource answers 404, as one that does not exist).
 *
 * A component's org is read from everything deploy-svc knows of it: its
 * local copy (deleted ones too: their history stays readable by their own
 * org only), else the deployments or executions recorded for it (a failed
 * deployment of a component never learnt carries the org of its event).
 * Only an id nothing here mentions is "no such resource": the handler then
 * answers its own 404 or, for a deploy, waits for the component.
 */
#include <stdio.h>
#include <string.h>

#include "deploy.h"
#include "crypto.h"
#include "store.h"

/* Runs sql with the route's {id}: 0 with org, 1 no row or bad id, -1 error. */
static int
deploy_org_lookup(struct http_request *req, void *ctx, const char *sql,
    char org[HTTP_ORG_MAX + 1])
{
	struct deploy *d = ctx;
	const char *id = http_request_param(req, "id");
	const char *vals[] = { id };
	struct store_result *r;
	struct error err;
	int rc = 1;

	if (!crypto_uuid_valid(id))
		return 1;
	if (store_exec(d->store, &r, sql, 1, vals, NULL, &err) == -1) {
		log_warnx("org of %s: %s", id, err.msg);
		return -1;
	}
	if (store_result_rows(r) > 0) {
		snprintf(org, HTTP_ORG_MAX + 1, "%s", store_result_get(r, 0, 0));
		rc = 0;
	}
	store_result_free(r);
	return rc;
}

int
deploy_org_of_component(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1])
{
	return deploy_org_lookup(req, ctx,
	    "(SELECT org FROM components WHERE id = $1) UNION ALL "
	    "(SELECT org FROM deployments WHERE component_id = $1 LIMIT 1) "
	    "UNION ALL "
	    "(SELECT org FROM executions WHERE component_id = $1 LIMIT 1) "
	    "LIMIT 1", org);
}

int
deploy_org_of_deployment(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1])
{
	return deploy_org_lookup(req, ctx,
	    "SELECT org FROM deployments WHERE id = $1", org);
}

int
deploy_org_of_execution(struct http_request *req, void *ctx,
    char org[HTTP_ORG_MAX + 1])
{
	return deploy_org_lookup(req, ctx,
	    "SELECT org FROM executions WHERE id = $1", org);
}

void
deploy_org_caller(const struct http_request *req, struct deploy_caller *out)
{
	const struct apikey *k = http_request_key(req);

	memset(out, 0, sizeof(*out));
	out->is_operator = k == NULL;
	if (k != NULL) {
		snprintf(out->org, sizeof(out->org), "%s", k->org);
		out->role = k->role;
	}
}

int
deploy_org_check(const struct deploy_caller *c, const char *org,
    enum apikey_role need)
{
	if (c->is_operator)
		return 0;
	if (org == NULL || strcmp(c->org, org) != 0)
		return 404;
	return c->role >= need ? 0 : 403;
}

int
deploy_org_reply(struct http_request *req, const struct deploy_caller *c,
    const char *org, enum apikey_role need, const char *what)
{
	int rc = deploy_org_check(c, org, need);

	if (rc == 404)
		http_reply_error(req, 404, "not_found", "", "no such %s", what);
	else if (rc == 403)
		http_reply_error(req, 403, "forbidden", "", "this needs the %s role "
		    "or higher; the key's role is %s", apikey_role_name(need),
		    apikey_role_name(c->role));
	return rc == 0 ? 0 : -1;
}
