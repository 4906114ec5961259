/*
 * fuzz_imageref.c: libFuzzer target for the image reference parser and the
 * registry host helpers. Beyond "never crashes", it checks two properties:
 * a parsed reference formats back to text that parses to the same parts, and
 * whatever is accepted satisfies the grammar's own limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageref.h"

/* Checks what every accepted reference must satisfy; aborts otherwise. */
static void
check_parsed(const struct image_ref *r)
{
	struct image_ref again;
	struct error err;
	char buf[IMAGE_REF_MAX * 2];

	if (r->domain[0] == '\0' || r->path[0] == '\0')
		abort();
	if (r->tag[0] == '\0' && r->digest[0] == '\0')
		abort();
	if (r->tag[0] != '\0' && !image_ref_tag_valid(r->tag))
		abort();
	if (r->digest[0] != '\0' && !image_ref_digest_valid(r->digest))
		abort();
	if (strlen(r->domain) + 1 + strlen(r->path) > 255)
		abort();
	if (image_ref_format(r, buf, sizeof(buf)) != 0)
		abort();
	if (image_ref_parse(buf, &again, &err) != 0)
		abort();
	if (memcmp(r, &again, sizeof(again)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[IMAGE_REF_MAX + 64], canon[300];
	struct image_ref r;
	struct error err;

	/* A little over the cap, so the length check is exercised too. */
	if (size > sizeof(in) - 1)
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	in[size] = '\0';
	if (image_ref_parse(in, &r, &err) == 0)
		check_parsed(&r);
	else if (err.msg[0] == '\0')
		abort();
	image_ref_host_canon(in, canon, sizeof(canon));
	if (strlen(canon) >= sizeof(canon))
		abort();
	(void)image_ref_host_equal(in, canon);
	(void)image_ref_tag_valid(in);
	(void)image_ref_digest_valid(in);
	return 0;
}
