/*
 * comp_endpoints.c: a service's endpoints and their schema files.
 *
 *   PUT /v1/components/{id}/endpoints   application/yaml (endpoints.yaml)
 *       or multipart/form-data: part "endpoints" (the YAML) and one part
 *       "schema" per file (its filename is the name the YAML uses)
 *   GET /v1/components/{id}/endpoints
 *   GET /v1/components/{id}/endpoints/schemas/{file}
 *
 * A PUT replaces the endpoints and the whole set of schema files at once:
 * everything is checked before the transaction, which then writes the row,
 * the files and ComponentUpdated (the outbox) together, exactly as a PATCH
 * does, so deploy-svc's copy and the next deployment follow. A refused PUT
 * changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "component.h"
#include "apikey.h"
#include "crypto.h"
#include "http.h"
#include "multipart.h"
#include "outbox.h"

/* The parts of a multipart PUT: the YAML, the files, one spare to refuse. */
#define COMP_EP_PARTS (1 + SCHEMAS_MAX + 1)

/* What a PUT carries, checked; file bytes point into the request body. */
struct comp_ep_put {
	struct endpoints eps;
	struct schema_set set;
	struct multipart_part parts[COMP_EP_PARTS];
};

/* 1 for the media types endpoints.yaml may be sent as. */
static int
comp_endpoints_yaml_type(const char *type)
{
	static const char *const types[] = { "application/yaml",
		"application/x-yaml", "text/yaml", "text/x-yaml", NULL };
	size_t i;

	for (i = 0; types[i] != NULL; i++)
		if (strcmp(types[i], type) == 0)
			return 1;
	return 0;
}

/* A multipart error as the API's answer. */
static void
comp_endpoints_multipart_error(struct http_request *req,
    const struct error *err)
{
	if (strcmp(err->code, "part_too_large") == 0)
		http_reply_error(req, 413, "schema_too_large", "schemas",
		    "%s", err->msg);
	else if (strcmp(err->code, "too_many_parts") == 0)
		http_reply_error(req, 422, "too_many_schemas", "schemas",
		    "at most %d schema files may be uploaded", SCHEMAS_MAX);
	else
		http_reply_err(req, 400, err);
}

/* One part: the YAML (*yaml, *ylen) or a schema file. 0 or -1 (replied). */
static int
comp_endpoints_part(struct http_request *req, struct comp_ep_put *put,
    const struct multipart_part *p, const unsigned char **yaml, size_t *ylen)
{
	struct error err;
	int status;

	if (strcmp(p->name, "endpoints") == 0) {
		if (*yaml != NULL) {
			http_reply_error(req, 422, "invalid_part", "endpoints",
			    "the part \"endpoints\" is given twice");
			return -1;
		}
		*yaml = p->data;
		*ylen = p->len;
		return 0;
	}
	if (strcmp(p->name, "schema") != 0) {
		http_reply_error(req, 422, "invalid_part", "", "unknown part "
		    "\"%.64s\": send \"endpoints\" and one \"schema\" per file",
		    p->name);
		return -1;
	}
	if (!p->has_filename || p->filename[0] == '\0') {
		http_reply_error(req, 422, "invalid_part", "schemas", "a \"schema\" "
		    "part needs a filename: the name endpoints.yaml uses");
		return -1;
	}
	if (schemas_add(&put->set, p->filename, p->data, p->len, &status,
	    &err) < 0) {
		http_reply_err(req, status, &err);
		return -1;
	}
	return 0;
}

/* The YAML and the files of a multipart body. 0 or -1 (replied). */
static int
comp_endpoints_multipart(struct http_request *req, struct comp_ep_put *put,
    const unsigned char **yaml, size_t *ylen)
{
	const struct multipart_limits lim = { .max_parts = COMP_EP_PARTS,
		.max_part = SCHEMA_FILE_MAX };
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	const unsigned char *body;
	struct error err;
	size_t len, n, i;

	body = http_request_body(req, &len);
	if (multipart_boundary(http_request_header(req, "Content-Type"), boundary,
	    &err) < 0 || multipart_parse(body, len, boundary, &lim, put->parts, &n,
	    &err) < 0) {
		comp_endpoints_multipart_error(req, &err);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (comp_endpoints_part(req, put, &put->parts[i], yaml, ylen) < 0)
			return -1;
	if (*yaml == NULL) {
		http_reply_error(req, 422, "invalid_part", "endpoints", "the body "
		    "has no \"endpoints\" part (the endpoints.yaml)");
		return -1;
	}
	return 0;
}

/* Reads and checks the whole PUT body into put. 0 or -1 (replied). */
static int
comp_endpoints_read(struct http_request *req, struct comp_ep_put *put)
{
	const unsigned char *yaml = NULL;
	char type[64];
	size_t ylen = 0;
	struct error err;

	if (http_request_media_type(req, type, sizeof(type)) < 0)
		type[0] = '\0';
	if (comp_endpoints_yaml_type(type)) {
		yaml = http_request_body(req, &ylen);
	} else if (strcmp(type, "multipart/form-data") == 0) {
		if (comp_endpoints_multipart(req, put, &yaml, &ylen) < 0)
			return -1;
	} else {
		http_reply_error(req, 415, "unsupported_media_type", "",
		    "Content-Type must be application/yaml (endpoints.yaml) or "
		    "multipart/form-data (endpoints.yaml and its schema files)");
		return -1;
	}
	if (endpoints_parse((const char *)yaml, ylen, &put->eps, &err) < 0) {
		http_reply_err(req, ylen > ENDPOINTS_YAML_MAX ? 413 : 422, &err);
		return -1;
	}
	if (schemas_check(&put->eps, &put->set, &err) < 0) {
		http_reply_err(req, 422, &err);
		return -1;
	}
	return 0;
}

/* The PUT's transaction: row locked, endpoints set, files, event. */
struct comp_ep_tx {
	const char *id;
	const char *key_org;    /* the caller's org key's org; NULL: operator */
	const struct comp_ep_put *put;
	const char *trace;
	int status;             /* the answer when the component refuses */
	struct error input;     /* and its error */
};

static int
comp_endpoints_put_tx(struct store *s, void *arg, struct error *err)
{
	struct comp_ep_tx *tx = arg;
	struct comp_input *in;
	const char *org;
	json_t *row;
	int rc = -1;

	if ((row = comp_store_get_for_update(s, tx->id, err)) == NULL)
		return -1;
	org = json_string_value(json_object_get(row, "org"));
	in = malloc(sizeof(*in));
	if (in == NULL) {
		error_set(err, "internal", "", "out of memory");
	} else if (tx->key_org != NULL && (org == NULL ||
	    strcmp(tx->key_org, org) != 0)) {
		error_set(err, "not_found", "", "no such component");
	} else if (comp_input_from_row(row, in, err) == 0) {
		if (comp_input_set_endpoints(in, &tx->put->eps, &tx->status,
		    &tx->input) < 0)
			error_set(err, "invalid_input", "", "refused");
		else if (comp_store_update(s, tx->id, in, err) == 0 &&
		    comp_store_schemas_replace(s, tx->id, &tx->put->set, err) == 0)
			rc = comp_events_component(s, 1, tx->id, in, tx->trace, err);
	}
	free(in);
	json_decref(row);
	return rc;
}

/* {"endpoints":[...], "schemas":[...], "updated_at"} of a component row. */
static json_t *
comp_endpoints_view(struct comp_ctx *ctx, json_t *row, const char *id,
    struct error *err)
{
	json_t *o = comp_store_schemas(ctx->db, id, err);

	if (o != NULL)
		json_object_set(o, "endpoints", json_object_get(row, "endpoints"));
	return o;
}

/* The component of a {id} route, visible to the caller; NULL: replied. */
static json_t *
comp_endpoints_component(struct http_request *req, struct comp_ctx *ctx)
{
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *row;

	if (!crypto_uuid_valid(id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return NULL;
	}
	if ((row = comp_store_get(ctx->db, id, &err)) == NULL) {
		comp_http_store_error(req, &err);
		return NULL;
	}
	if (!comp_http_visible(req, json_string_value(json_object_get(row,
	    "org")))) {
		json_decref(row);
		return NULL;
	}
	return row;
}

/* Answers the endpoints view of the component at id. */
static void
comp_endpoints_reply(struct http_request *req, struct comp_ctx *ctx)
{
	const char *id = http_request_param(req, "id");
	struct error err;
	json_t *row, *o;

	if ((row = comp_endpoints_component(req, ctx)) == NULL)
		return;
	o = comp_endpoints_view(ctx, row, id, &err);
	json_decref(row);
	if (o == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_json(req, 200, o);
}

void
comp_endpoints_put(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const struct apikey *key = http_request_key(req);
	struct comp_ep_tx tx = { .id = http_request_param(req, "id"),
		.key_org = key != NULL ? key->org : NULL,
		.trace = http_request_id(req) };
	struct comp_ep_put *put;
	struct error err;

	if (!crypto_uuid_valid(tx.id)) {
		http_reply_error(req, 404, "not_found", "", "no such component");
		return;
	}
	if ((put = calloc(1, sizeof(*put))) == NULL) {
		http_reply_error(req, 500, "internal", "", "out of memory");
		return;
	}
	if (comp_endpoints_read(req, put) < 0)
		goto done;
	tx.put = put;
	if (store_tx(ctx->db, comp_endpoints_put_tx, &tx, &err) < 0) {
		if (strcmp(err.code, "invalid_input") == 0)
			http_reply_err(req, tx.status, &tx.input);
		else
			comp_http_store_error(req, &err);
		goto done;
	}
	outbox_relay_kick(ctx->relay);
	log_info("component %s: %zu endpoint(s), %zu schema file(s) set", tx.id,
	    put->eps.n, put->set.n);
	comp_endpoints_reply(req, ctx);
done:
	free(put);
}

void
comp_endpoints_get(struct http_request *req, void *arg)
{
	comp_endpoints_reply(req, arg);
}

void
comp_endpoints_schema(struct http_request *req, void *arg)
{
	struct comp_ctx *ctx = arg;
	const char *id = http_request_param(req, "id");
	const char *file = http_request_param(req, "file");
	char media_type[64];
	unsigned char *bytes;
	struct error err;
	json_t *row;
	size_t len;

	if ((row = comp_endpoints_component(req, ctx)) == NULL)
		return;
	json_decref(row);
	if (!schema_name_valid(file)) {
		http_reply_error(req, 404, "not_found", "", "no such schema file");
		return;
	}
	bytes = comp_store_schema_get(ctx->db, id, file, &len, media_type,
	    sizeof(media_type), &err);
	if (bytes == NULL) {
		comp_http_store_error(req, &err);
		return;
	}
	http_reply_bytes(req, 200, media_type, bytes, len);
	free(bytes);
}
