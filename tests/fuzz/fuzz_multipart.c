/*
 * fuzz_multipart.c: libFuzzer target for lib multipart.c. The input's first
 * line is a Content-Type value (its boundary, if it has a valid one, is
 * used; else a fixed one), the rest the body. Any input must either parse
 * into parts that lie inside the body within the limits, or fail with one
 * of the three documented codes; never crash, read outside or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_parts(const uint8_t *body, size_t len, const struct multipart_part *p,
    size_t n, const struct multipart_limits *lim)
{
	size_t i;

	if (n == 0 || n > lim->max_parts)
		abort();
	for (i = 0; i < n; i++) {
		if (p[i].name[0] == '\0' || p[i].len > lim->max_part ||
		    p[i].data < body || p[i].data + p[i].len > body + len)
			abort();
		if (!p[i].has_filename && p[i].filename[0] != '\0')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct multipart_limits lim = { .max_parts = 4, .max_part = 512 };
	char ct[256], boundary[MULTIPART_BOUNDARY_MAX + 1];
	struct multipart_part parts[4];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : 0, n;
	struct error err;
	const uint8_t *body;

	memset(&err, 0, sizeof(err));
	if (nl != NULL && hlen < sizeof(ct)) {
		memcpy(ct, data, hlen);
		ct[hlen] = '\0';
		body = nl + 1;
	} else {
		ct[0] = '\0';
		body = data;
		hlen = (size_t)-1;
	}
	if (multipart_boundary(ct, boundary, &err) < 0) {
		if (strcmp(err.code, "malformed_multipart") != 0)
			abort();
		memcpy(boundary, "b0undary", 9);
	}
	size -= (size_t)(body - data);
	if (multipart_parse(body, size, boundary, &lim, parts, &n, &err) < 0) {
		if (strcmp(err.code, "malformed_multipart") != 0 &&
		    strcmp(err.code, "too_many_parts") != 0 &&
		    strcmp(err.code, "part_too_large") != 0)
			abort();
		return 0;
	}
	check_parts(body, size, parts, n, &lim);
	(void)hlen;
	return 0;
}
