/*
 * cli_image.c: `slipway image parse REF` — the platform's own normalisation,
 * offline, so users can see what a reference will resolve to.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "imageref.h"

int
cli_image_parse(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct image_ref r;
	struct error err;
	json_t *out;
	char *text;

	(void)ctx;
	if (image_ref_parse(a->pos[0], &r, &err) < 0) {
		fprintf(stderr, "error: %s: %s\n", err.code, err.msg);
		return CLI_FAIL;
	}
	out = json_pack("{s:s, s:s, s:s, s:s}", "domain", r.domain, "path", r.path,
	    "tag", r.tag, "digest", r.digest);
	text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (text == NULL) {
		json_decref(out);
		fprintf(stderr, "error: internal: out of memory\n");
		return CLI_FAIL;
	}
	printf("%s\n", text);
	free(text);
	json_decref(out);
	return CLI_OK;
}
