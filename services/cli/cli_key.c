/*
 * cli_key.c: `slipway key create|list|revoke` — an org's API keys, issued
 * by the operator through deploy-svc (/v1/orgs/{org}/keys).
 */
#include <stdio.h>

#include "cli.h"

#define KEY_ROLES "viewer deployer admin"

static const struct cli_column key_cols[] = {
	{ "ID", "id" }, { "NAME", "name" }, { "ROLE", "role" },
	{ "PREFIX", "prefix" }, { "CREATED", "created_at" },
	{ "REVOKED", "revoked_at" },
};

/*
 * The key alone on stdout, so KEY=$(slipway key create ...) works, as with
 * `token create`; the reminder that it is shown only once on stderr.
 */
static const char *
cli_key_str(json_t *out, const char *name)
{
	const char *s = json_string_value(json_object_get(out, name));

	return s != NULL ? s : "-";
}

static void
cli_key_print_issued(json_t *out)
{
	const char *key = json_string_value(json_object_get(out, "key"));

	printf("%s\n", key != NULL ? key : "");
	fprintf(stderr, "key %s (%s, role %s, org %s): this value is shown only "
	    "once; store it now (it is a SLIPWAY_API_KEY).\n",
	    cli_key_str(out, "id"), cli_key_str(out, "prefix"),
	    cli_key_str(out, "role"), cli_key_str(out, "org"));
}

int
cli_key_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_args_get(a, "name"), *role = cli_args_get(a, "role");
	char path[512];
	json_t *body, *out = NULL;
	int rc;

	if (name == NULL || name[0] == '\0') {
		fprintf(stderr, "error: usage: --name is required\n");
		return CLI_USAGE;
	}
	if (role == NULL || !cli_args_word(role, KEY_ROLES)) {
		fprintf(stderr, "error: usage: --role must be viewer, deployer or "
		    "admin\n");
		return CLI_USAGE;
	}
	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/keys", a->pos[0]) < 0)
		return CLI_USAGE;
	if ((body = json_pack("{s:s, s:s}", "name", name, "role", role)) == NULL) {
		fprintf(stderr, "error: usage: the name must be UTF-8 text\n");
		return CLI_USAGE;
	}
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "POST", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK && !ctx->json)
		cli_key_print_issued(out);
	json_decref(out);
	return rc;
}

int
cli_key_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/keys", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "keys"), key_cols,
		    sizeof(key_cols) / sizeof(key_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_key_revoke(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/orgs/{}/keys/{}", a->pos[0],
	    a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "DELETE", path, NULL, NULL);
	if (rc == CLI_OK && !ctx->json)
		printf("key %s revoked\n", a->pos[1]);
	return rc;
}
