/*
 * cli_endpoints.c: `slipway endpoints set|show|schema`: a service's
 * endpoints.yaml and the schema files it names.
 *
 * `set` sends the YAML alone as application/yaml, or, with schema files,
 * a multipart/form-data body built here: part "endpoints" and one part
 * "schema" per file, named by the file's base name (the name the YAML's
 * schemaFilePath uses). The server checks everything; a PUT replaces the
 * whole set, so every file the YAML names is given each time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "crypto.h"

#define CLI_EP_YAML_MAX   (64 * 1024)     /* component-svc's ENDPOINTS_YAML_MAX */
#define CLI_EP_SCHEMA_MAX (1024 * 1024)   /* its SCHEMA_FILE_MAX */
#define CLI_EP_BODY_MAX   (12u * 1024 * 1024)

static const struct cli_column ep_cols[] = {
	{ "ENDPOINT", "name" }, { "PORT", "port" }, { "TYPE", "type" },
	{ "VISIBILITY", "visibility" }, { "CONTEXT", "context" },
	{ "SCHEMA", "schema_file_path" },
};

static const struct cli_column schema_cols[] = {
	{ "FILE", "file" }, { "TYPE", "type" }, { "SIZE", "size" },
	{ "SHA256", "sha256" },
};

/* The endpoints view: both tables, then when it was set. */
static void
endpoints_print(json_t *o)
{
	cli_out_table(json_object_get(o, "endpoints"), ep_cols,
	    sizeof(ep_cols) / sizeof(ep_cols[0]));
	if (json_array_size(json_object_get(o, "schemas")) > 0) {
		printf("\n");
		cli_out_table(json_object_get(o, "schemas"), schema_cols,
		    sizeof(schema_cols) / sizeof(schema_cols[0]));
	}
	printf("\nupdated_at: %s\n", cli_out_text(json_object_get(o,
	    "updated_at")));
}

/* A file's name without its directories. */
static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* One part: its headers, then the content. -1 when the body is too large. */
static int
part_append(char **body, size_t *len, const char *boundary, const char *name,
    const char *filename, const char *data, size_t dlen)
{
	char head[512], quoted[2 * 255 + 1];
	size_t i, q = 0;
	int n;

	for (i = 0; filename != NULL && filename[i] != '\0' && q + 2 < sizeof(quoted);
	    i++) {
		if (filename[i] == '"' || filename[i] == '\\')
			quoted[q++] = '\\';
		quoted[q++] = filename[i];
	}
	quoted[q] = '\0';
	n = snprintf(head, sizeof(head), "--%s\r\nContent-Disposition: form-data; "
	    "name=\"%s\"%s%s%s\r\nContent-Type: application/octet-stream\r\n\r\n",
	    boundary, name, filename != NULL ? "; filename=\"" : "", quoted,
	    filename != NULL ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    buf_append(body, len, CLI_EP_BODY_MAX, head, (size_t)n) != 0 ||
	    buf_append(body, len, CLI_EP_BODY_MAX, data, dlen) != 0 ||
	    buf_append(body, len, CLI_EP_BODY_MAX, "\r\n", 2) != 0)
		return -1;
	return 0;
}

/* The files, read whole; each must fit the server's cap. */
struct ep_files {
	char *data[CLI_MAX_POS];
	size_t len[CLI_MAX_POS];
	int n;
};

static void
ep_files_free(struct ep_files *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->data[i]);
}

/* A boundary that no file holds (a random one practically never does). */
static void
make_boundary(char out[64], const struct ep_files *f)
{
	char id[37];
	int i, clash;

	crypto_init();
	do {
		crypto_uuid(id);
		snprintf(out, 64, "slipway-%s", id);
		clash = 0;
		for (i = 0; i < f->n && !clash; i++)
			clash = memmem(f->data[i], f->len[i], out, strlen(out)) != NULL;
	} while (clash);
}

/* The multipart body of the files: pos[1] is the YAML, the rest schemas. */
static char *
multipart_body(const struct cli_args *a, const struct ep_files *f,
    char boundary[64], size_t *len)
{
	char *body = NULL;
	int i, rc = 0;

	*len = 0;
	make_boundary(boundary, f);
	rc = part_append(&body, len, boundary, "endpoints", "endpoints.yaml",
	    f->data[0], f->len[0]);
	for (i = 1; rc == 0 && i < f->n; i++)
		rc = part_append(&body, len, boundary, "schema",
		    base_name(a->pos[i + 1]), f->data[i], f->len[i]);
	if (rc == 0)
		rc = buf_append(&body, len, CLI_EP_BODY_MAX, "--", 2) |
		    buf_append(&body, len, CLI_EP_BODY_MAX, boundary,
		    strlen(boundary)) |
		    buf_append(&body, len, CLI_EP_BODY_MAX, "--\r\n", 4);
	if (rc != 0) {
		fprintf(stderr, "error: usage: the files are larger than %u bytes "
		    "together\n", CLI_EP_BODY_MAX);
		free(body);
		return NULL;
	}
	return body;
}

/* Sends body and prints the answer as `show` would. */
static int
endpoints_send(struct cli_ctx *ctx, const char *path, const char *type,
    const char *body, size_t len)
{
	struct cli_reply r;
	int rc = CLI_FAIL;

	if (cli_http_send(ctx, CLI_SVC_COMPONENT, "PUT", path, type, body, len,
	    &r) < 0)
		return CLI_FAIL;
	if (r.status < 200 || r.status > 299) {
		cli_http_print_error(&r);
	} else if (r.json == NULL) {
		fprintf(stderr, "error: bad_reply: component-svc answered %ld with "
		    "a body that is not JSON\n", r.status);
	} else {
		if (ctx->json)
			printf("%s\n", r.body);
		else if (!ctx->quiet)
			endpoints_print(r.json);
		rc = CLI_OK;
	}
	cli_reply_free(&r);
	return rc;
}

int
cli_endpoints_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512], boundary[64], type[128], *body;
	struct ep_files f = { .n = 0 };
	size_t len;
	int i, rc = CLI_FAIL;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/endpoints",
	    a->pos[0]) < 0)
		return CLI_USAGE;
	for (i = 1; i < a->npos; i++, f.n++)
		if ((f.data[f.n] = cli_file_read(a->pos[i], i == 1 ?
		    CLI_EP_YAML_MAX : CLI_EP_SCHEMA_MAX, &f.len[f.n])) == NULL) {
			ep_files_free(&f);
			return CLI_USAGE;
		}
	if (f.n == 1) {
		rc = endpoints_send(ctx, path, "application/yaml", f.data[0],
		    f.len[0]);
	} else if ((body = multipart_body(a, &f, boundary, &len)) != NULL) {
		snprintf(type, sizeof(type), "multipart/form-data; boundary=%s",
		    boundary);
		rc = endpoints_send(ctx, path, type, body, len);
		free(body);
	}
	ep_files_free(&f);
	return rc;
}

int
cli_endpoints_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/endpoints",
	    a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json && !ctx->quiet)
		endpoints_print(out);
	json_decref(out);
	return rc;
}

/* The stored file, byte for byte, on stdout. */
int
cli_endpoints_schema(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[768];
	struct cli_reply r;
	int rc = CLI_OK;

	if (cli_http_path(path, sizeof(path),
	    "/v1/components/{}/endpoints/schemas/{}", a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	if (cli_http_do(ctx, CLI_SVC_COMPONENT, "GET", path, NULL, &r) < 0)
		return CLI_FAIL;
	if (r.status < 200 || r.status > 299) {
		cli_http_print_error(&r);
		rc = CLI_FAIL;
	} else if (r.len > 0 && fwrite(r.body, 1, r.len, stdout) != r.len) {
		fprintf(stderr, "error: cannot write the file to stdout\n");
		rc = CLI_FAIL;
	}
	cli_reply_free(&r);
	return rc;
}
