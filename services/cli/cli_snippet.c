/*
 * cli_snippet.c: ready-to-paste CI snippets for a component's webhook —
 * curl, a GitHub Actions step, a GitLab CI job — printed by `token create`
 * (on stderr, after the token) and by `token snippet` (on stdout).
 *
 * All three run one POSIX sh body, so the curl snippet the tests execute is
 * the same text the two CI wrappers embed. The token and the signing secret
 * come only from CI secrets (environment variables); no value is printed.
 * The URL is the platform's public one: SLIPWAY_URL (the front door), or
 * SLIPWAY_URL_WEBHOOK where a webhook has an address of its own.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "imageref.h"

/* Which snippets to print: --snippet curl|github|gitlab|none, default all. */
#define SNIP_CURL   0x1
#define SNIP_GITHUB 0x2
#define SNIP_GITLAB 0x4
#define SNIP_ALL    (SNIP_CURL | SNIP_GITHUB | SNIP_GITLAB)

/* What a snippet needs: where to POST, the repository, whether to sign. */
struct snippet {
	char url[600];        /* the webhook's base + /v1/hooks/deploy */
	char repo[520];       /* domain/path, the tag comes from CI */
	int signing;
};

int
cli_snippet_kinds(const char *value)
{
	if (value == NULL)
		return SNIP_ALL;
	if (strcmp(value, "curl") == 0)
		return SNIP_CURL;
	if (strcmp(value, "github") == 0)
		return SNIP_GITHUB;
	if (strcmp(value, "gitlab") == 0)
		return SNIP_GITLAB;
	if (strcmp(value, "none") == 0)
		return 0;
	return -1;
}

/*
 * The image's repository without tag or digest. Refuses a reference with a
 * quote, '$' or '\' (the grammar has none), since it is pasted into shell.
 */
static int
snippet_repo(const char *image, char *out, size_t len)
{
	struct image_ref r;
	struct error err;
	int n;

	if (image == NULL || strpbrk(image, "\"'$`\\") != NULL ||
	    image_ref_parse(image, &r, &err) < 0)
		return -1;
	n = snprintf(out, len, "%s/%s", r.domain, r.path);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* One line of the sh body, indented for the wrapper it is printed in. */
static void
snippet_line(FILE *f, const char *indent, const char *line)
{
	fprintf(f, "%s%s\n", indent, line);
}

/*
 * The sh body every snippet runs: builds the body from IMAGE_TAG, signs it
 * (Standard Webhooks, v1,base64 HMAC-SHA256 of "id.timestamp.body" under the
 * base64-decoded whsec_ key) for a signing token, and POSTs it.
 */
static void
snippet_body(FILE *f, const struct snippet *s, const char *in)
{
	snippet_line(f, in, "set -eu");
	fprintf(f, "%sBODY=\"{\\\"image\\\":\\\"%s:$IMAGE_TAG\\\"}\"\n", in,
	    s->repo);
	if (s->signing) {
		snippet_line(f, in, "WEBHOOK_ID=\"$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')\"");
		snippet_line(f, in, "WEBHOOK_TS=\"$(date +%s)\"");
		snippet_line(f, in, "KEY=\"$(printf '%s' \"${SLIPWAY_SIGNING_SECRET#whsec_}\" | base64 -d | od -An -vtx1 | tr -d ' \\n')\"");
		snippet_line(f, in, "SIG=\"$(printf '%s.%s.%s' \"$WEBHOOK_ID\" \"$WEBHOOK_TS\" \"$BODY\" |");
		snippet_line(f, in, "      openssl dgst -sha256 -mac HMAC -macopt \"hexkey:$KEY\" -binary | base64)\"");
	}
	fprintf(f, "%scurl -sS --fail-with-body -X POST '%s' \\\n", in, s->url);
	snippet_line(f, in, "     -w '\\nHTTP %{http_code}\\n' \\");
	snippet_line(f, in, "     -H \"Authorization: Bearer $SLIPWAY_TOKEN\" \\");
	snippet_line(f, in, "     -H 'Content-Type: application/json' \\");
	snippet_line(f, in, "     -H \"Idempotency-Key: $IDEMPOTENCY_KEY\" \\");
	if (s->signing) {
		snippet_line(f, in, "     -H \"webhook-id: $WEBHOOK_ID\" -H \"webhook-timestamp: $WEBHOOK_TS\" \\");
		snippet_line(f, in, "     -H \"webhook-signature: v1,$SIG\" \\");
	}
	snippet_line(f, in, "     -d \"$BODY\"");
}

static void
snippet_curl(FILE *f, const struct snippet *s)
{
	fprintf(f, "# curl (POSIX sh): SLIPWAY_TOKEN is the CI token%s, IMAGE_TAG the tag\n"
	    "# your build pushed to %s.\n", s->signing ?
	    " and SLIPWAY_SIGNING_SECRET its whsec_ secret" : "", s->repo);
	snippet_line(f, "", ": \"${SLIPWAY_TOKEN:?set SLIPWAY_TOKEN to the CI token}\"");
	if (s->signing)
		snippet_line(f, "", ": \"${SLIPWAY_SIGNING_SECRET:?set SLIPWAY_SIGNING_SECRET to the whsec_ secret}\"");
	snippet_line(f, "", ": \"${IMAGE_TAG:?set IMAGE_TAG to the tag you pushed}\"");
	snippet_line(f, "", "IDEMPOTENCY_KEY=\"${IDEMPOTENCY_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')}\"");
	snippet_body(f, s, "");
}

static void
snippet_github(FILE *f, const struct snippet *s)
{
	fprintf(f, "# GitHub Actions: a step after the one that pushes the image (repository\n"
	    "# secret SLIPWAY_TOKEN%s).\n", s->signing ?
	    ", and SLIPWAY_SIGNING_SECRET" : "");
	fprintf(f, "      - name: Deploy %s with Slipway\n", s->repo);
	fprintf(f, "        env:\n");
	fprintf(f, "          SLIPWAY_TOKEN: ${{ secrets.SLIPWAY_TOKEN }}\n");
	if (s->signing)
		fprintf(f, "          SLIPWAY_SIGNING_SECRET: ${{ secrets.SLIPWAY_SIGNING_SECRET }}\n");
	fprintf(f, "          IMAGE_TAG: ${{ inputs.tag || github.sha }}\n");
	fprintf(f, "          IDEMPOTENCY_KEY: gh-${{ github.run_id }}-${{ github.run_attempt }}\n");
	fprintf(f, "        run: |\n");
	snippet_body(f, s, "          ");
}

static void
snippet_gitlab(FILE *f, const struct snippet *s)
{
	fprintf(f, "# GitLab CI: a job after the one that pushes the image (masked CI/CD\n"
	    "# variable SLIPWAY_TOKEN%s).\n", s->signing ?
	    ", and SLIPWAY_SIGNING_SECRET" : "");
	fprintf(f, "deploy-slipway:\n");
	fprintf(f, "  stage: deploy\n");
	fprintf(f, "  image: alpine:3.20\n");
	fprintf(f, "  variables:\n");
	fprintf(f, "    IMAGE_TAG: $CI_COMMIT_SHORT_SHA\n");
	fprintf(f, "    IDEMPOTENCY_KEY: gl-$CI_PIPELINE_ID-$CI_JOB_ID\n");
	fprintf(f, "  before_script:\n");
	fprintf(f, "    - apk add --no-cache curl%s\n", s->signing ? " openssl" : "");
	fprintf(f, "  script:\n");
	fprintf(f, "    - |\n");
	snippet_body(f, s, "      ");
}

/* Prints the chosen snippets, each under a "--- name ---" rule. */
static void
snippet_print(FILE *f, const struct snippet *s, int kinds)
{
	static const struct {
		int kind;
		const char *name;
		void (*print)(FILE *, const struct snippet *);
	} table[] = {
		{ SNIP_CURL, "curl", snippet_curl },
		{ SNIP_GITHUB, "GitHub Actions", snippet_github },
		{ SNIP_GITLAB, "GitLab CI", snippet_gitlab },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if ((kinds & table[i].kind) == 0)
			continue;
		fprintf(f, "\n--- %s ---\n", table[i].name);
		table[i].print(f, s);
	}
}

int
cli_snippet_show(const struct cli_ctx *ctx, const char *component_id,
    int signing, int kinds, FILE *f)
{
	struct cli_ctx silent = *ctx;   /* the GET's answer is not printed */
	struct snippet s;
	char path[512];
	json_t *comp = NULL;
	int rc, n;

	if (kinds == 0)
		return CLI_OK;
	if (cli_http_path(path, sizeof(path), "/v1/components/{}", component_id) < 0)
		return CLI_USAGE;
	silent.json = silent.quiet = 0;
	if ((rc = cli_http_call(&silent, CLI_SVC_COMPONENT, "GET", path, NULL,
	    &comp)) != CLI_OK)
		return rc;
	memset(&s, 0, sizeof(s));
	s.signing = signing;
	n = snprintf(s.url, sizeof(s.url), "%s/v1/hooks/deploy",
	    ctx->url[CLI_SVC_WEBHOOK]);
	if (n < 0 || (size_t)n >= sizeof(s.url) || strchr(s.url, '\'') != NULL ||
	    snippet_repo(json_string_value(json_object_get(comp, "image")),
	    s.repo, sizeof(s.repo)) < 0) {
		fprintf(stderr, "error: snippet: the component's image or the webhook "
		    "URL cannot be pasted into a shell\n");
		json_decref(comp);
		return CLI_FAIL;
	}
	json_decref(comp);
	snippet_print(f, &s, kinds);
	return CLI_OK;
}
