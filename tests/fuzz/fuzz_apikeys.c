/*
 * fuzz_apikeys.c: arbitrary bytes as a slipway.orgkeys record, the way
 * apikeys_handle applies one (with and without an event-type header), then
 * as a presented key. Whatever the record, the table holds at most the one
 * key of its id, and a refused record leaves the table as it was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY_ID "0b7c1a52-3c1e-4e8a-9a57-3f8d2b1c4e01"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct apikeys *k;
	struct error err;
	int rc;

	if (!ready) {
		crypto_init();
		ready = 1;
	}
	if ((k = apikeys_new()) == NULL)
		return 0;
	rc = apikeys_apply(k, FUZZ_KEY_ID, data, size,
	    size % 2 ? "OrgKey" : NULL, &err);
	if (apikeys_count(k) > 1 || (rc != 0 && apikeys_count(k) != 0))
		abort();
	(void)apikeys_find(k, (const char *)data, size);
	/* A tombstone always empties it. */
	if (apikeys_apply(k, FUZZ_KEY_ID, NULL, 0, NULL, &err) != 0 ||
	    apikeys_count(k) != 0)
		abort();
	apikeys_free(k);
	return 0;
}
