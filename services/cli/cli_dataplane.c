/*
 * cli_dataplane.c: `slipway dataplane add|list` against deploy-svc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"

static const struct cli_column dataplane_cols[] = {
	{ "NAME", "name" }, { "PUBLIC_KEY", "public_key" },
	{ "SHARED", "shared" }, { "CREATED", "created_at" },
};

static const char *const dataplane_fields[] = {
	"name", "public_key", "shared", "orgs", "created_at", NULL,
};

/* 1 when s is base64 of exactly a crypto_box public key. */
static int
public_key_valid(const char *s)
{
	size_t len = 0;
	unsigned char *k = crypto_b64_decode(s, &len);

	free(k);
	return k != NULL && len == CRYPTO_PK_LEN;
}

/*
 * The grants: every --org, or --shared; neither keeps a known data plane's
 * grants (deploy-svc refuses a new one without).
 */
static int
dataplane_grants(const struct cli_args *a, json_t *body)
{
	json_t *orgs = json_array();
	int i;

	for (i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].name, "org") == 0)
			json_array_append_new(orgs, json_string(a->opts[i].value));
	if (json_array_size(orgs) > 0 && cli_args_has(a, "shared")) {
		json_decref(orgs);
		fprintf(stderr, "error: usage: give --org ORG (repeatable) or "
		    "--shared, not both\n");
		return -1;
	}
	if (json_array_size(orgs) > 0)
		json_object_set_new(body, "orgs", orgs);
	else
		json_decref(orgs);
	if (cli_args_has(a, "shared"))
		json_object_set_new(body, "shared", json_true());
	return 0;
}

int
cli_dataplane_add(struct cli_ctx *ctx, const struct cli_args *a)
{
	const char *pk = cli_args_get(a, "public-key");
	json_t *body, *out = NULL;
	int rc;

	if (pk == NULL || !public_key_valid(pk)) {
		fprintf(stderr, "error: usage: --public-key must be base64 of %d bytes "
		    "(from `dataplane-agent keygen`)\n", CRYPTO_PK_LEN);
		return CLI_USAGE;
	}
	/* A new key for a known name is refused unless asked for: --rotate. */
	if ((body = json_pack("{s:s, s:s, s:b}", "name", a->pos[0], "public_key",
	    pk, "rotate", cli_args_has(a, "rotate"))) == NULL) {
		fprintf(stderr, "error: usage: the name must be UTF-8 text\n");
		return CLI_USAGE;
	}
	if (dataplane_grants(a, body) == -1) {
		json_decref(body);
		return CLI_USAGE;
	}
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "POST", "/v1/dataplanes", body, &out);
	json_decref(body);
	if (rc == CLI_OK && !ctx->json)
		cli_out_fields(out, dataplane_fields);
	json_decref(out);
	return rc;
}

int
cli_dataplane_list(struct cli_ctx *ctx, const struct cli_args *a)
{
	json_t *out = NULL;
	int rc;

	(void)a;
	rc = cli_http_call(ctx, CLI_SVC_DEPLOY, "GET", "/v1/dataplanes", NULL, &out);
	if (rc == CLI_OK && !ctx->json)
		cli_out_table(json_object_get(out, "dataplanes"), dataplane_cols,
		    sizeof(dataplane_cols) / sizeof(dataplane_cols[0]));
	json_decref(out);
	return rc;
}
