/*
 * comp_http.c: component-svc's management API: the route table and the
 * component handlers (tokens.c has the token ones, comp_endpoints.c the
 * endpoints and schema files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "component.h"
#include "apikey.h"
#include "cache.h"
#include "bus.h"
#include "crypto.h"
#include "http.h"
#include "service.h"
#include "imageref.h"
#include "outbox.h"

#define COMP_MAX_BODY (256 * 1024)

/* Maps a store-layer error to its HTTP answer; never leaks SQL text. */
void
comp_http_store_error(struct http_request *req, const struct error *err)
{
	static const struct { const char *code; int status; } map[] = {
		{ "unavailable", 503 }, { "not_found", 404 },
		{ "component_exists", 409 }, { "unknown_registry", 422 },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(err->code, map[i].code) == 0) {
			if (map[i].status == 503)
				http_reply_error(req, 503, "unavailable", "",
				    "the database is unavailable, retry later");
			else
				http_reply_err(req, map[i].status, err);
			return;
		}
	log_warnx("store error %s: %s", err->code, err->msg);
	http_reply_error(req, 500, "internal", "", "internal error");
}

int
comp_http_visible(struct http_request *req, const char *org)
{
	const struct apikey *key = http_request_key(req);

	/*
	 * The server already resolved the path's component to its org and
	 * checked the key against it; this re-checks on the row the handler
	 * acts on, so no later lookup can ever hand a key another org's data.
	 */
	if (key == NULL || (org != NULL && strcmp(key->org, org) == 0))
		return 1;
	http_reply_error(req, 404, "not_found", "", "no such component");
	return 0;
}

/*
 * The http_org_fn of /v1/components/{id}...: the component's org. A
 * malformed id or no row is 1 (the handler answers 404 itself).
 */
static int
comp_http_org_of(struct http_request *req, void *arg,
    char org[HTTP_ORG_MAX + 1])
{
	struct comp_ctx *ctx = arg;
	const char *id = http_request_param(req, "id");
	struct error err;
	int rc;

	if (!crypto_uuid_valid(id))
		return 1;
	if ((rc = comp_store_org(ctx->db, id, org, HTTP_ORG_MAX + 1, &err)) < 0) {
		log_warnx("component %s: cannot read its org: %s", id, err.msg);
		return -1;
	}
	return rc == 1 ? 0 : 1;
}

/* org and project path parameters: slugs, else 400. */
static int
comp_http_scope(struct http_request *req, const char **org,
    const char **project)
{
	*org = http_request_param(req, "org");
	*project = http_request_param(req, "project");
	if (!comp_input_slug_valid(*org)) {
		http_reply_error(req, 400, "invalid_org", "org",
		    "org must be 1-63 lower-case letters, digits or '-'");
		return -1;
	}
	if (!comp_input_slug_valid(*project)) {
		http_reply_error(req, 400, "invalid_project", "project",
		    "project must be 1-63 lower-case letters, digits or '-'");
		return -1;
	}
	return 0;
}

struct comp_create_tx {
	const char *id;
	const struct comp_input *in;
	const char *trace;
};

static int
comp_http_create_tx(struct store *s, void *arg, struct error *err)
{
	struct comp_create_tx *tx = arg;

	if (comp_store_insert(s, tx->id, tx->in, err) < 0)
		return -1;
	return comp_events_component(s, 0, tx->id, tx->in, tx->trace, err);
}

/*
 * The registry must be a live one of the org, and the image must live on it.
 * 0: known (host filled in); 1: not known (yet) and may_wait, nothing
 * replied; -1: replied. The org is the path's, which the server matched to
 * the caller's key, so a create resumed later (parked) still finds only a
 * registry of the caller's own org.
 */
static int
comp_http_check_registry(struct http_request *req, struct comp_ctx *ctx,
    struct comp_input *in, int may_wait)
{
	struct error err;
	char host[256];

	if (comp_store_registry_host(ctx->db, in->org, in->registry_id, host,
	    sizeof(host), &err) < 0) {
		if (may_wait && strcmp(err.code, "unknown_registry") == 0)
			return 1;
		comp_http_store_error(req, &err);
		return -1;
	}
	if (!image_ref_host_equal(in->registry_host, host)) {
		http_reply_error(req, 422, "image_registry_mismatch", "image",
		    "the image is on %s but the registry is %s",
		    in->registry_host, host);
		return -1;
	}
	snprintf(in->registry_host, sizeof(in->registry_host), "%s", host);
	return 0;
}

static void
comp_http_store_and_reply(struct http_request *req, struct comp_ctx *ctx,
    const struct comp_input *in)
{
	struct comp_create_tx tx;
	struct error err;
	json_t *out;
	char id[37];

	crypto_uuid(id);
	tx = (struct comp_create_tx){ .id = id, .in = in,
		.trace = http_request_id(req) };
	if (store_tx(ctx->db, comp_http_create_tx, &tx, &err) < 0) {
		comp_http_store_error(req, &err);
		return;
	}
	outbox_relay_kick(ctx->relay);
	log_info("component %s created in %s/%s", id, in->org, in->project);
	if ((out = comp_store_get(ctx->db, id, &err)) == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_json(req, 201, out);
}

/* One attempt at a create: 1 when it replied, 0 when it may wait on. */
static int
comp_http_create_try(struct http_request *req, struct comp_ctx *ctx,
    struct comp_input *in, int may_wait)
{
	int rc = comp_http_check_registry(req, ctx, in, may_wait);

	if (rc == 1)
		return 0;
	if (rc == 0)
		comp_http_store_and_reply(req, ctx, in);
	return 1;
}

/*
 * A create parked on a registry this process has not heard of yet (it was
 * probably added a moment ago and its event is still on its way): retried
 * on every poll and notification, answered 422 unknown_registry as before at
 * the deadline. At shutdown it is answered 503 without creating anything, as
 * the client might never see the 201.
 */
int
comp_http_create_resume(void *arg, struct http_request *req, void *in,
    enum park_why why)
{
	if (why == PARK_SHUTDOWN) {
		http_reply_error(req, 503, "unavailable", "",
		    "component-svc is shutting down, retry later");
		return 1;
	}
	return comp_http_create_try(req, arg, in, why != PARK_TIMEOUT);
}

static void
comp_http_create(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	struct comp_input *in;
	struct error err;
	json_t *body;
	int status;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		http_reply_error(req, 500, "internal", "", "out of memory");
		return;
	}
	if (comp_http_scope(req, &in->org, &in->project) < 0 ||
	    (body = http_request_json(req)) == NULL)
		goto done;
	if (comp_input_parse(body, in, &status, &err) < 0) {
		http_reply_err(req, status, &err);
		goto done;
	}
	if (comp_http_create_try(req, ctx, in, ctx->cfg.registry_wait_ms > 0))
		goto done;
	/* in points into the request's body, which lives until the reply. */
	if (park_add(ctx->waits, in->registry_id, req, in) == 0) {
		log_info("registry %s not known yet: waiting up to %d ms for it",
		    in->registry_id, ctx->cfg.registry_wait_ms);
		return;   /* in now belongs to the wait */
	}
	comp_http_create_try(req, ctx, in, 0);
done:
	free(in);
}

static void
comp_http_list(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const char *org, *project;
	struct error err;
	json_t *arr;

	if (comp_http_scope(req, &org, &project) < 0)
		return;
	if ((arr = comp_store_list(ctx->db, org, project, &err)) == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "components", arr));
}

static void
comp_http_get(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *o;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return;
	}
	if ((o = comp_store_get(ctx->db, id, &err)) == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	if (!comp_http_visible(req, json_string_value(json_object_get(o,
	    "org")))) {
		json_decref(o);
		return;
	}
	http_reply_json(req, 200, o);
}

/* A PATCH inside one transaction: the row locked, merged, written, announced. */
struct comp_patch_tx {
	const char *id;
	const char *key_org;    /* the caller's org key's org; NULL: operator */
	json_t *body;
	const char *trace;
	int status;             /* the answer when the body is refused */
	struct error input;     /* and its error */
	json_t *live;           /* live tokens when the image changed, else NULL */
};

static int
comp_http_patch_tx(struct store *s, void *arg, struct error *err)
{
	struct comp_patch_tx *tx = arg;
	struct comp_input in;
	char old_image[sizeof(in.image)];
	const char *org;
	json_t *row;
	int rc = -1;

	if ((row = comp_store_get_for_update(s, tx->id, err)) == NULL)
		return -1;
	org = json_string_value(json_object_get(row, "org"));
	if (tx->key_org != NULL && (org == NULL || strcmp(tx->key_org, org) != 0)) {
		error_set(err, "not_found", "", "no such component");
		goto done;
	}
	if (comp_input_from_row(row, &in, err) < 0)
		goto done;
	snprintf(old_image, sizeof(old_image), "%s", in.image);
	if (comp_input_patch(tx->body, &in, &tx->status, &tx->input) < 0) {
		error_set(err, "invalid_input", "", "refused");
		goto done;
	}
	/* The tokens' Redis bindings carry the repository: rewritten after. */
	if (strcmp(old_image, in.image) != 0 &&
	    (tx->live = comp_store_token_live(s, tx->id, err)) == NULL)
		goto done;
	if (comp_store_update(s, tx->id, &in, err) == 0)
		rc = comp_events_component(s, 1, tx->id, &in, tx->trace, err);
done:
	json_decref(row);
	return rc;
}

/*
 * PATCH /v1/components/{id}: description, image (same registry host: the
 * default of tag-only deploys and webhooks from then on), health,
 * resources, a web app's port and a task's settings. A changed schedule
 * reaches the data plane through ComponentUpdated, no redeploy; the rest
 * applies from the next deployment.
 */
static void
comp_http_patch(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const struct apikey *key = http_request_key(req);
	struct comp_patch_tx tx = { .id = http_request_param(req, "id"),
		.key_org = key != NULL ? key->org : NULL,
		.trace = http_request_id(req) };
	struct error err;
	json_t *o;

	if (!crypto_uuid_valid(tx.id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return;
	}
	if ((tx.body = http_request_json(req)) == NULL)
		return;
	if (store_tx(ctx->db, comp_http_patch_tx, &tx, &err) < 0) {
		json_decref(tx.live);
		if (strcmp(err.code, "invalid_input") == 0)
			http_reply_err(req, tx.status, &tx.input);
		else
			comp_http_store_error(req, &err);
		return;
	}
	outbox_relay_kick(ctx->relay);
	log_info("component %s updated", tx.id);
	o = comp_store_get(ctx->db, tx.id, &err);
	if (o != NULL && tx.live != NULL)
		tokens_rebind(ctx, o, tx.live);
	else if (tx.live != NULL)
		tokens_drop_bindings(ctx, tx.live);   /* the webhook asks Postgres */
	json_decref(tx.live);
	if (o == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_json(req, 200, o);
}

/* A DELETE inside one transaction: marked deleted, tokens revoked, announced. */
struct comp_delete_tx {
	const char *id;
	const char *key_org;    /* the caller's org key's org; NULL: operator */
	const char *trace;
	json_t *revoked;        /* [{"id","hash","prefix"}], for Redis after it */
};

static int
comp_http_delete_tx(struct store *s, void *arg, struct error *err)
{
	struct comp_delete_tx *tx = arg;
	const char *org;
	json_t *row, *t;
	size_t i;
	int rc = -1;

	if ((row = comp_store_get_for_update(s, tx->id, err)) == NULL)
		return -1;
	org = json_string_value(json_object_get(row, "org"));
	if (org == NULL || (tx->key_org != NULL && strcmp(tx->key_org, org) != 0)) {
		error_set(err, "not_found", "", "no such component");
		goto done;
	}
	if ((rc = comp_store_delete(s, tx->id, err)) != 1) {
		if (rc == 0)   /* never expected: the row is locked and live */
			error_set(err, "not_found", "", "no such component");
		rc = -1;
		goto done;
	}
	rc = -1;
	if ((tx->revoked = comp_store_token_revoke_all(s, tx->id, err)) == NULL)
		goto done;
	json_array_foreach(tx->revoked, i, t)
		if (comp_events_token_revoked(s, org, tx->id,
		    json_string_value(json_object_get(t, "id")),
		    json_string_value(json_object_get(t, "hash")),
		    json_string_value(json_object_get(t, "prefix")), tx->trace,
		    err) < 0)
			goto done;
	rc = comp_events_component_deleted(s, org, tx->id, tx->trace, err);
done:
	json_decref(row);
	return rc;
}

/*
 * DELETE /v1/components/{id}: the row is kept, marked deleted (its name is
 * free again), its CI tokens are revoked (TokenRevoked each, and their Redis
 * bindings dropped at once), and ComponentDeleted tells deploy-svc to take
 * it off every data plane. 204; a deleted component is 404 from then on.
 */
static void
comp_http_delete(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const struct apikey *key = http_request_key(req);
	struct comp_delete_tx tx = { .id = http_request_param(req, "id"),
		.key_org = key != NULL ? key->org : NULL,
		.trace = http_request_id(req) };
	struct error err;

	if (!crypto_uuid_valid(tx.id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return;
	}
	if (store_tx(ctx->db, comp_http_delete_tx, &tx, &err) < 0) {
		json_decref(tx.revoked);
		comp_http_store_error(req, &err);
		return;
	}
	tokens_drop_bindings(ctx, tx.revoked);
	outbox_relay_kick(ctx->relay);
	log_info("component %s deleted, %zu token(s) revoked", tx.id,
	    json_array_size(tx.revoked));
	json_decref(tx.revoked);
	http_reply_empty(req, 204);
}

/*
 * Who may call what (lib http.h): routes by id name their org through
 * comp_http_org_of. CI tokens are a deployer's: they deploy, nothing more.
 */
static const struct http_route comp_routes[] = {
	{ HTTP_POST, "/v1/orgs/{org}/projects/{project}/components",
	  comp_http_create, HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	{ HTTP_GET, "/v1/orgs/{org}/projects/{project}/components",
	  comp_http_list, HTTP_AUTH_VIEWER, NULL, 0 },
	{ HTTP_GET, "/v1/components/{id}", comp_http_get, HTTP_AUTH_VIEWER,
	  comp_http_org_of, 0 },
	{ HTTP_PATCH, "/v1/components/{id}", comp_http_patch,
	  HTTP_AUTH_ORG_ADMIN, comp_http_org_of, 0 },
	{ HTTP_DELETE, "/v1/components/{id}", comp_http_delete,
	  HTTP_AUTH_ORG_ADMIN, comp_http_org_of, 0 },
	{ HTTP_PUT, "/v1/components/{id}/endpoints", comp_endpoints_put,
	  HTTP_AUTH_ORG_ADMIN, comp_http_org_of, COMP_ENDPOINTS_MAX_BODY },
	{ HTTP_GET, "/v1/components/{id}/endpoints", comp_endpoints_get,
	  HTTP_AUTH_VIEWER, comp_http_org_of, 0 },
	{ HTTP_GET, "/v1/components/{id}/endpoints/schemas/{file}",
	  comp_endpoints_schema, HTTP_AUTH_VIEWER, comp_http_org_of, 0 },
	{ HTTP_POST, "/v1/components/{id}/tokens", tokens_create,
	  HTTP_AUTH_DEPLOYER, comp_http_org_of, 0 },
	{ HTTP_GET, "/v1/components/{id}/tokens", tokens_list, HTTP_AUTH_VIEWER,
	  comp_http_org_of, 0 },
	{ HTTP_DELETE, "/v1/components/{id}/tokens/{token_id}", tokens_revoke,
	  HTTP_AUTH_DEPLOYER, comp_http_org_of, 0 },
};

/* /readyz: Postgres answers, the consumer has its partitions and Redis has
 * not refused our credentials (Redis merely down is fine: a cache). */
static int
comp_http_ready(void *arg, char *why, size_t whylen)
{
	struct comp_ctx *ctx = arg;
	const char *auth = cache_auth_error(ctx->cache);

	if (auth != NULL) {
		snprintf(why, whylen, "%s", auth);
		return 0;
	}
	return service_ready(ctx->db, ctx->consumer, why, whylen);
}

struct http_server *
comp_http_new(struct comp_ctx *ctx, struct error *err)
{
	struct http_server_config cfg = {
		.service = "component-svc",
		.addr = ctx->cfg.http_addr,
		.port = ctx->cfg.http_port,
		.admin_token = ctx->cfg.admin_token,
		.keys = ctx->keys,
		.max_body = COMP_MAX_BODY,
		.ready = comp_http_ready,
		/* Handlers call libpq synchronously: never on the connections' loop. */
		.io_thread = 1,
	};

	return http_server_new(ctx->base, &cfg, comp_routes,
	    sizeof(comp_routes) / sizeof(comp_routes[0]), ctx, err);
}
