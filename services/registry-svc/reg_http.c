/*
 * reg_http.c: registry-svc's management API. A create stores the row with
 * its encrypted credentials, RegistryCreated, and one CredentialsSealed per
 * data plane that serves its org in ONE transaction; an update (PATCH)
 * stores the change, RegistryUpdated and, when the credentials change, a
 * new CredentialsSealed per such data plane the same way; a delete, refused
 * while a live component uses the registry, stores RegistryDeleted and a
 * tombstone per data plane.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "bus.h"
#include "crypto.h"
#include "http.h"
#include "service.h"
#include "outbox.h"

/* docker_config may be 64 KiB of JSON, escaped inside a JSON string. */
#define REG_MAX_BODY (160 * 1024)

static void
reg_http_store_error(struct http_request *req, const struct error *err)
{
	if (strcmp(err->code, "unavailable") == 0)
		http_reply_error(req, 503, "unavailable", "",
		    "the database is unavailable, retry later");
	else if (strcmp(err->code, "not_found") == 0)
		http_reply_err(req, 404, err);
	else if (strcmp(err->code, "registry_exists") == 0)
		http_reply_err(req, 409, err);
	else {
		log_warnx("store error %s: %s", err->code, err->msg);
		http_reply_error(req, 500, "internal", "", "internal error");
	}
}

static const char *
reg_http_org(struct http_request *req)
{
	const char *org = http_request_param(req, "org");

	if (reg_input_org_valid(org))
		return org;
	http_reply_error(req, 400, "invalid_org", "org",
	    "org must be 1-63 lower-case letters, digits or '-'");
	return NULL;
}

/* The {id} parameter; an id that is not a UUID names no registry. */
static const char *
reg_http_id(struct http_request *req)
{
	const char *id = http_request_param(req, "id");

	if (crypto_uuid_valid(id))
		return id;
	http_reply_error(req, 404, "not_found", "", "no such registry");
	return NULL;
}

struct reg_create_tx {
	const char *id;
	const struct reg_input *in;
	const unsigned char *pt, *blob;
	size_t ptlen, bloblen;
	const char *trace;
};

/*
 * Seals plaintext credentials pt to every data plane that serves the org
 * (a CredentialsSealed outbox row each, replacing that registry's entry on
 * its compacted topic). Inside the caller's transaction, after the org lock.
 */
static int
reg_http_seal_served(struct store *s, const struct reg_input *in,
    const char *id, const unsigned char *pt, size_t ptlen, const char *trace,
    struct error *err)
{
	struct reg_dataplane *dps;
	size_t n, i;
	int rc = 0;

	if (reg_store_served_dataplanes(s, in->org, &dps, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = reg_events_sealed(s, &dps[i], in->org, id, in->host, in->auth,
		    pt, ptlen, trace, err);
	free(dps);
	return rc;
}

static int
reg_http_create_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_create_tx *t = arg;

	/*
	 * The org's lock before anything is read: a binding handler sealing
	 * this org to a data plane either committed already (its binding is
	 * seen here) or waits for this commit (and then sees this row).
	 */
	if (reg_store_lock_org(s, t->in->org, err) < 0 ||
	    reg_store_insert(s, t->id, t->in, t->blob, t->bloblen, err) < 0 ||
	    reg_events_created(s, t->id, t->in, t->trace, err) < 0)
		return -1;
	return reg_http_seal_served(s, t->in, t->id, t->pt, t->ptlen, t->trace,
	    err);
}

/* Encrypts the credentials for the new row and stores everything. */
static int
reg_http_store_new(struct reg_ctx *ctx, const char *id,
    const struct reg_input *in, const char *trace, struct error *err)
{
	struct reg_create_tx t = { .id = id, .in = in, .trace = trace };
	unsigned char *pt, *blob = NULL;
	size_t ptlen, bloblen = 0;
	int rc = -1;

	pt = reg_creds_pack(id, in->host, in->auth, in->username, in->password,
	    in->password_len, &ptlen);
	if (pt == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	if (reg_creds_encrypt(ctx, id, pt, ptlen, &blob, &bloblen, err) == 0) {
		t.pt = pt;
		t.ptlen = ptlen;
		t.blob = blob;
		t.bloblen = bloblen;
		rc = store_tx(ctx->db, reg_http_create_tx, &t, err);
	}
	crypto_free_secret(pt, ptlen);
	free(blob);
	return rc;
}

static void
reg_http_create(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	struct reg_input in;
	struct error err;
	json_t *body, *out;
	char id[37];
	int status;

	memset(&in, 0, sizeof(in));
	if ((in.org = reg_http_org(req)) == NULL ||
	    (body = http_request_json(req)) == NULL)
		return;
	if (reg_input_parse(body, &in, &status, &err) < 0) {
		http_reply_err(req, status, &err);
		goto done;
	}
	crypto_uuid(id);
	if (reg_http_store_new(ctx, id, &in, http_request_id(req), &err) < 0) {
		reg_http_store_error(req, &err);
		goto done;
	}
	outbox_relay_kick(ctx->relay);
	log_info("registry %s (%s, %s) created in org %s", id, in.host,
	    reg_input_auth_name(in.auth), in.org);
	if ((out = reg_store_get(ctx->db, in.org, id, &err)) == NULL)
		reg_http_store_error(req, &err);
	else
		http_reply_json(req, 201, out);
done:
	reg_input_free(&in);
}

static void
reg_http_list(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	const char *org;
	struct error err;
	json_t *arr;

	if ((org = reg_http_org(req)) == NULL)
		return;
	if ((arr = reg_store_list(ctx->db, org, &err)) == NULL)
		reg_http_store_error(req, &err);
	else
		http_reply_json(req, 200, json_pack("{s:o}", "registries", arr));
}

static void
reg_http_get(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	const char *org, *id;
	struct error err;
	json_t *o;

	if ((org = reg_http_org(req)) == NULL || (id = reg_http_id(req)) == NULL)
		return;
	if ((o = reg_store_get(ctx->db, org, id, &err)) == NULL)
		reg_http_store_error(req, &err);
	else
		http_reply_json(req, 200, o);
}

/*
 * PATCH: a rename keeps the credentials; new credentials (or a new auth
 * type) are encrypted for the row as a create's are, and re-sealed to every
 * data plane that serves the org, replacing the registry's entry on each
 * compacted credentials topic. Row, RegistryUpdated and the sealed copies
 * commit together.
 */
struct reg_update_tx {
	const char *id, *trace;
	const struct reg_input *in;
	const unsigned char *pt, *blob;   /* NULL unless rotating */
	size_t ptlen, bloblen;
	json_t *out;                      /* the registry after the change */
};

static int
reg_http_update_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_update_tx *t = arg;

	/* The org's lock first, as a create: see reg_http_create_tx. */
	if (reg_store_lock_org(s, t->in->org, err) < 0 ||
	    reg_store_update(s, t->in->org, t->id, t->in, t->blob, t->bloblen,
	    err) < 0 ||
	    (t->out = reg_store_get(s, t->in->org, t->id, err)) == NULL ||
	    reg_events_updated(s, t->out, t->trace, err) < 0)
		return -1;
	if (t->pt == NULL)
		return 0;
	return reg_http_seal_served(s, t->in, t->id, t->pt, t->ptlen, t->trace,
	    err);
}

/* Encrypts the new credentials (if any) and stores the change. */
static int
reg_http_store_update(struct reg_ctx *ctx, struct reg_update_tx *t,
    struct error *err)
{
	const struct reg_input *in = t->in;
	unsigned char *pt = NULL, *blob = NULL;
	size_t ptlen = 0, bloblen = 0;
	int rc = -1;

	if (in->auth != 0) {
		pt = reg_creds_pack(t->id, in->host, in->auth, in->username,
		    in->password, in->password_len, &ptlen);
		if (pt == NULL) {
			error_set(err, "internal", "", "out of memory");
			return -1;
		}
		if (reg_creds_encrypt(ctx, t->id, pt, ptlen, &blob, &bloblen,
		    err) < 0)
			goto done;
		t->pt = pt;
		t->ptlen = ptlen;
		t->blob = blob;
		t->bloblen = bloblen;
	}
	rc = store_tx(ctx->db, reg_http_update_tx, t, err);
done:
	if (pt != NULL)
		crypto_free_secret(pt, ptlen);
	free(blob);
	t->pt = t->blob = NULL;
	return rc;
}

static void
reg_http_update(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	struct reg_update_tx t;
	struct reg_input in;
	struct error err;
	json_t *body, *cur;
	const char *id;
	int status;

	memset(&in, 0, sizeof(in));
	memset(&t, 0, sizeof(t));
	if ((in.org = reg_http_org(req)) == NULL || (id = reg_http_id(req)) == NULL ||
	    (body = http_request_json(req)) == NULL)
		return;
	if ((cur = reg_store_get(ctx->db, in.org, id, &err)) == NULL) {
		reg_http_store_error(req, &err);
		return;
	}
	if (reg_input_patch(body, json_string_value(json_object_get(cur, "host")),
	    &in, &status, &err) < 0) {
		http_reply_err(req, status, &err);
		goto done;
	}
	if (in.name == NULL && in.auth == 0) {   /* nothing to change */
		http_reply_json(req, 200, json_incref(cur));
		goto done;
	}
	t.id = id;
	t.in = &in;
	t.trace = http_request_id(req);
	if (reg_http_store_update(ctx, &t, &err) < 0) {
		json_decref(t.out);
		reg_http_store_error(req, &err);
		goto done;
	}
	outbox_relay_kick(ctx->relay);
	log_info("registry %s (%s) updated in org %s:%s%s", id, in.host, in.org,
	    in.name != NULL ? " renamed" : "", in.auth != 0 ?
	    " credentials rotated" : "");
	http_reply_json(req, 200, t.out);
done:
	json_decref(cur);
	reg_input_free(&in);
}

struct reg_delete_tx {
	const char *org, *id, *trace;
	struct reg_row row;
	json_t *users;   /* registry_in_use: the components that use it */
};

static int
reg_http_delete_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_delete_tx *t = arg;
	struct reg_dataplane *dps;
	size_t n, i;
	int rc = 0;

	/* FOR SHARE: a component event for this registry waits for the answer. */
	if ((t->users = reg_store_users(s, t->org, t->id, err)) == NULL)
		return -1;
	if (json_array_size(t->users) > 0) {
		error_set(err, "registry_in_use", "", "registry %s is used by %zu "
		    "component(s); delete or move them first", t->id,
		    json_array_size(t->users));
		return -1;
	}
	if (reg_store_delete(s, t->org, t->id, &t->row, err) < 0 ||
	    reg_events_deleted(s, &t->row, t->trace, err) < 0 ||
	    reg_store_dataplanes(s, &dps, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = reg_events_tombstone(s, &dps[i], t->id, err);
	free(dps);
	return rc;
}

static void
reg_http_delete(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	struct reg_delete_tx t;
	struct error err;

	memset(&t, 0, sizeof(t));
	if ((t.org = reg_http_org(req)) == NULL || (t.id = reg_http_id(req)) == NULL)
		return;
	t.trace = http_request_id(req);
	if (store_tx(ctx->db, reg_http_delete_tx, &t, &err) < 0) {
		if (strcmp(err.code, "registry_in_use") == 0) {
			http_reply_json(req, 409, json_pack("{s:{s:s, s:s, s:s, s:O}}",
			    "error", "code", err.code, "message", err.msg, "field", "",
			    "components", t.users));
		} else
			reg_http_store_error(req, &err);
		json_decref(t.users);
		return;
	}
	json_decref(t.users);
	outbox_relay_kick(ctx->relay);
	log_info("registry %s (%s) deleted from org %s", t.id, t.row.host, t.org);
	http_reply_empty(req, 204);
}

/* Tests reachability and login; the probe replies later (reg_probe.c). */
static void
reg_http_test(struct http_request *req, void *arg)
{
	struct reg_ctx *ctx = arg;
	struct reg_row row;
	const char *org, *id;
	struct error err;

	memset(&row, 0, sizeof(row));
	if ((org = reg_http_org(req)) == NULL || (id = reg_http_id(req)) == NULL)
		return;
	if (reg_store_secret(ctx->db, org, id, &row, &err) < 0)
		reg_http_store_error(req, &err);
	else
		reg_probe_start(ctx, req, &row);
	free(row.secret);
}

/*
 * Who may call what (lib http.h): every route names its org in the path,
 * and every statement below is scoped by it, so another org's registry is
 * 404 whoever asks. Testing a registry is a deployer's (it reads nothing
 * back but whether the login works).
 */
static const struct http_route reg_routes[] = {
	{ HTTP_POST, "/v1/orgs/{org}/registries", reg_http_create,
	  HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	{ HTTP_GET, "/v1/orgs/{org}/registries", reg_http_list, HTTP_AUTH_VIEWER,
	  NULL, 0 },
	{ HTTP_GET, "/v1/orgs/{org}/registries/{id}", reg_http_get,
	  HTTP_AUTH_VIEWER, NULL, 0 },
	{ HTTP_PATCH, "/v1/orgs/{org}/registries/{id}", reg_http_update,
	  HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	{ HTTP_DELETE, "/v1/orgs/{org}/registries/{id}", reg_http_delete,
	  HTTP_AUTH_ORG_ADMIN, NULL, 0 },
	{ HTTP_POST, "/v1/orgs/{org}/registries/{id}/test", reg_http_test,
	  HTTP_AUTH_DEPLOYER, NULL, 0 },
};

/* /readyz: Postgres answers and the consumer has its partitions. */
static int
reg_http_ready(void *arg, char *why, size_t whylen)
{
	struct reg_ctx *ctx = arg;

	return service_ready(ctx->db, ctx->consumer, why, whylen);
}

struct http_server *
reg_http_new(struct reg_ctx *ctx, struct error *err)
{
	struct http_server_config cfg = {
		.service = "registry-svc",
		.addr = ctx->cfg.http_addr,
		.port = ctx->cfg.http_port,
		.admin_token = ctx->cfg.admin_token,
		.keys = ctx->keys,
		.max_body = REG_MAX_BODY,
		.ready = reg_http_ready,
		/* Handlers call libpq synchronously: never on the connections' loop. */
		.io_thread = 1,
	};

	return http_server_new(ctx->base, &cfg, reg_routes,
	    sizeof(reg_routes) / sizeof(reg_routes[0]), ctx, err);
}
