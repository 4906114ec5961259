/*
 * fuzz_envelope.c: arbitrary bytes decoded as a bus Envelope, with and
 * without an event-type header, the way every consumer decodes a message.
 * A decoded envelope is packed again to walk every field it holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto.h"
#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_decode(const uint8_t *data, size_t size, const char *header_type)
{
	struct error err;
	unsigned char *buf;
	Envelope *env;
	size_t len;

	env = envelope_decode(data, size, header_type, &err);
	if (env == NULL)
		return;
	/* What decoded must be self-consistent and re-encodable. */
	if (envelope_type_name(env->payload_case) == NULL)
		abort();
	if ((buf = envelope_pack(env, &len)) != NULL)
		free(buf);
	envelope_free(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		crypto_init();
		ready = 1;
	}
	fuzz_decode(data, size, NULL);
	fuzz_decode(data, size, "ImagePushed");
	return 0;
}
