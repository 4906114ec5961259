/*
 * cli_token.c: `slipway token create|list|revoke` — CI tokens of a component.
 */
#include <stdio.h>

#include "cli.h"

static const struct cli_column token_cols[] = {
	{ "ID", "id" }, { "PREFIX", "prefix" }, { "NAME", "name" },
	{ "CREATED", "created_at" }, { "EXPIRES", "expires_at" },
	{ "REVOKED", "revoked_at" },
};

int
cli_token_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_args_get(a, "name"), *tok;
	char path[512];
	json_t *body = json_object(), *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/tokens", a->pos[0]) < 0) {
		json_decref(body);
		return CLI_USAGE;
	}
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "POST", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK && !ctx->json) {
		tok = json_string_value(json_object_get(out, "token"));
		/* The value alone on stdout, so TOKEN=$(slipway token create ID) works. */
		printf("%s\n", tok ? tok : "");
		fprintf(stderr, "token %s (%s): this value is shown only once; "
		    "store it as a CI secret now.\n",
		    cli_out_text(json_object_get(out, "id")),
		    json_string_value(json_object_get(out, "prefix")) ?
		    json_string_value(json_object_get(out, "prefix")) : "-");
	}
	json_decref(out);
	return rc;
}

int
cli_token_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	json_t *out = NULL;
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/tokens", a->pos[0]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "GET", path, NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "tokens"), token_cols,
		    sizeof(token_cols) / sizeof(token_cols[0]));
	json_decref(out);
	return rc;
}

int
cli_token_revoke(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	int rc;

	if (cli_http_path(path, sizeof(path), "/v1/components/{}/tokens/{}",
	    a->pos[0], a->pos[1]) < 0)
		return CLI_USAGE;
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "DELETE", path, NULL, NULL);
	if (rc == CLI_OK && !ctx->json)
		printf("token %s revoked\n", a->pos[1]);
	return rc;
}
