// uses: services/dataplane-agent/oci_resolve.c
// uses: services/dataplane-agent/oci_challenge.c
/*
 * fuzz_oci_loopback.c: libFuzzer target for the loopback-host predicate and
 * the plain-HTTP token realm rule, which take registry hosts from users and
 * realms from registries. Never a crash or an over-read; a host called
 * loopback has one of the three accepted shapes, and a plain-HTTP realm is
 * never allowed for a registry that is neither loopback nor listed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane-agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan catches any read past the NUL. */
	char *buf = malloc(size + 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (oci_resolve_loopback(buf) && strncmp(buf, "127.", 4) != 0 &&
	    buf[0] != '[' && strncasecmp(buf, "localhost", 9) != 0)
		abort();
	if (strncmp(buf, "http://", 7) == 0 &&
	    oci_resolve_realm_allowed(buf, "ghcr.io", "reg.lan:5000"))
		abort();
	(void)oci_resolve_realm_allowed(buf, "127.0.0.1:5000", buf);
	free(buf);
	return 0;
}
