/*
 * cli_token.c: `slipway token create|list|revoke|snippet` — CI tokens of a
 * component, and the CI snippets that use them (cli_snippet.c).
 */
#include <stdio.h>

#include "cli.h"

static const struct cli_column token_cols[] = {
	{ "ID", "id" }, { "PREFIX", "prefix" }, { "NAME", "name" },
	{ "SIGNING", "signing" }, { "CREATED", "created_at" },
	{ "EXPIRES", "expires_at" }, { "REVOKED", "revoked_at" },
};

/*
 * The token alone on stdout's first line, so TOKEN=$(slipway token create
 * ID) works; with --signing the signing secret on the second line
 * (read -r TOKEN SECRET, or head/tail). Both are shown only this once.
 */
static void
cli_token_print_issued(json_t *out)
{
	const char *tok = json_string_value(json_object_get(out, "token"));
	const char *secret = json_string_value(json_object_get(out,
	    "signing_secret"));
	const char *prefix = json_string_value(json_object_get(out, "prefix"));

	printf("%s\n", tok ? tok : "");
	if (secret != NULL)
		printf("%s\n", secret);
	if (secret != NULL)
		fprintf(stderr, "token %s (%s): the token (first line) and its "
		    "webhook signing secret (second line) are shown only once; "
		    "store both as CI secrets now.\n",
		    cli_out_text(json_object_get(out, "id")), prefix ? prefix : "-");
	else
		fprintf(stderr, "token %s (%s): this value is shown only once; "
		    "store it as a CI secret now.\n",
		    cli_out_text(json_object_get(out, "id")), prefix ? prefix : "-");
}

int
cli_token_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *name = cli_args_get(a, "name");
	const char *which = cli_args_get(a, "snippet");
	int kinds = cli_snippet_kinds(which), signing = cli_args_has(a, "signing");
	char path[512];
	json_t *body, *out = NULL;
	int rc;

	if (kinds < 0) {
		fprintf(stderr, "error: usage: --snippet must be curl, github, gitlab or none\n");
		return CLI_USAGE;
	}
	body = json_object();
	if (cli_http_path(path, sizeof(path), "/v1/components/{}/tokens", a->pos[0]) < 0) {
		json_decref(body);
		return CLI_USAGE;
	}
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	if (signing)
		json_object_set_new(body, "signing", json_true());
	rc = cli_http_call(ctx, CLI_SVC_COMPONENT, "POST", path, body, &out);
	json_decref(body);
	if (rc == CLI_OK && !ctx->json)
		cli_token_print_issued(out);
	json_decref(out);
	/*
	 * Snippets go to stderr, so stdout stays the token (and secret) alone;
	 * in a machine mode (--json, --quiet) only when asked for by name.
	 */
	if (rc == CLI_OK && (!ctx->json || which != NULL) &&
	    cli_snippet_show(ctx, a->pos[0], signing, kinds, stderr) != CLI_OK)
		fprintf(stderr, "warning: the token was created; `slipway token "
		    "snippet %s` prints the snippets again\n", a->pos[0]);
	return rc;
}

/* The snippets again, on stdout, with no token value (it is never shown twice). */
int
cli_token_snippet(struct cli_ctx *ctx, const struct cli_args *a)
{
	int kinds = cli_snippet_kinds(cli_args_get(a, "snippet"));

	if (kinds < 0) {
		fprintf(stderr, "error: usage: --snippet must be curl, github, gitlab or none\n");
		return CLI_USAGE;
	}
	return cli_snippet_show(ctx, a->pos[0], cli_args_has(a, "signing"),
	    kinds, stdout);
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
