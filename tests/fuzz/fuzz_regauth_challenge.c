/*
 * fuzz_regauth_challenge.c: libFuzzer target for the WWW-Authenticate parser
 * and the header-line matcher (services/lib/regauth.c). Any input must
 * parse or fail cleanly; a parsed challenge always has NUL-terminated fields
 * within their arrays, and a bearer challenge a realm. Never a crash or an
 * over-read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct regauth_challenge c;
	char out[256];
	/* An exact-size copy so ASan catches any read past size. */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (regauth_challenge_parse(buf, size, &c) == 0) {
		if (memchr(c.realm, '\0', sizeof(c.realm)) == NULL ||
		    memchr(c.service, '\0', sizeof(c.service)) == NULL ||
		    memchr(c.scope, '\0', sizeof(c.scope)) == NULL)
			abort();
		if (c.scheme == REGAUTH_SCHEME_BEARER && c.realm[0] == '\0')
			abort();
	}
	if (regauth_header(buf, size, "WWW-Authenticate", out,
	    sizeof(out)) == 1 && memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	free(buf);
	return 0;
}
