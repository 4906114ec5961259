/*
 * test_envelope.c: envelope building and defensive decoding. Garbage, a
 * wrong type, a bad event id, an empty payload or an oversize buffer must
 * all be refused with "bad_envelope"; a good envelope survives a round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "envelope.h"

/* Builds a packed ImagePushed envelope, letting a test spoil one field. */
static unsigned char *
pack_image_pushed(const char *event_id, const char *type, size_t *len)
{
	Slipway__V1__ImagePushed ip;
	Envelope env;
	char id[37];

	/* The init function, not the INIT macro: its casts trip -Wcast-qual. */
	slipway__v1__image_pushed__init(&ip);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, id,
	    "acme", "trace-1");
	env.image_pushed = &ip;
	if (event_id != NULL)
		env.event_id = (char *)(uintptr_t)event_id;
	if (type != NULL)
		env.type = (char *)(uintptr_t)type;
	return envelope_pack(&env, len);
}

static void
expect_bad(const void *buf, size_t len, const char *header_type)
{
	struct error err;
	Envelope *env;

	error_clear(&err);
	env = envelope_decode(buf, len, header_type, &err);
	assert_null(env);
	assert_string_equal(err.code, "bad_envelope");
}

static void
test_round_trip(void **state)
{
	Slipway__V1__ImagePushed ip;
	struct error err;
	Envelope env, *got;
	unsigned char *buf;
	char id[37];
	size_t len;

	(void)state;
	envelope_set_producer("test-svc");
	slipway__v1__image_pushed__init(&ip);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, id,
	    "acme", NULL);
	env.image_pushed = &ip;
	assert_true(crypto_uuid_valid(id));
	assert_string_equal(env.type, "ImagePushed");
	assert_true(env.occurred_at_ms > 1600000000000LL);

	buf = envelope_pack(&env, &len);
	assert_non_null(buf);
	got = envelope_decode(buf, len, "ImagePushed", &err);
	assert_non_null(got);
	assert_string_equal(got->event_id, id);
	assert_string_equal(got->type, "ImagePushed");
	assert_string_equal(got->org, "acme");
	assert_string_equal(got->trace_id, "");
	assert_string_equal(got->producer, "test-svc");
	assert_int_equal(got->occurred_at_ms, env.occurred_at_ms);
	assert_int_equal(got->payload_case,
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED);
	assert_non_null(got->image_pushed);
	envelope_free(got);

	/* No header to compare against is fine too. */
	got = envelope_decode(buf, len, NULL, &err);
	assert_non_null(got);
	envelope_free(got);
	free(buf);
}

static void
test_garbage(void **state)
{
	static const unsigned char junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f,
	    0x12, 0x80 };
	static const unsigned char truncated_string[] = { 0x0a, 0x40, 'a' };

	(void)state;
	expect_bad(junk, sizeof(junk), NULL);
	expect_bad(truncated_string, sizeof(truncated_string), NULL);
	expect_bad("", 0, NULL);
	expect_bad(NULL, 0, NULL);
	expect_bad("hello world", 11, NULL);
}

static void
test_wrong_type(void **state)
{
	unsigned char *buf;
	size_t len;

	(void)state;
	/* The type field disagrees with the payload. */
	buf = pack_image_pushed(NULL, "ApplyDeployment", &len);
	expect_bad(buf, len, NULL);
	free(buf);
	/* The type field agrees, the event-type header does not. */
	buf = pack_image_pushed(NULL, NULL, &len);
	expect_bad(buf, len, "RegistryCreated");
	expect_bad(buf, len, "");
	free(buf);
}

static void
test_bad_uuid(void **state)
{
	static const char *const bad[] = { "", "not-a-uuid",
	    "123e4567-e89b-12d3-a456-42661417400",     /* one short */
	    "123e4567-e89b-12d3-a456-4266141740000",   /* one long */
	    "123e4567xe89b-12d3-a456-426614174000",
	    "123e4567-e89b-12d3-a456-42661417400g", NULL };
	unsigned char *buf;
	size_t len;

	(void)state;
	for (size_t i = 0; bad[i] != NULL; i++) {
		buf = pack_image_pushed(bad[i], NULL, &len);
		expect_bad(buf, len, NULL);
		free(buf);
	}
}

static void
test_no_payload(void **state)
{
	Envelope env;
	unsigned char *buf;
	char id[37];
	size_t len;

	(void)state;
	/* A type name but no payload member set at all. */
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, id,
	    "acme", NULL);
	env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD__NOT_SET;
	buf = envelope_pack(&env, &len);
	assert_non_null(buf);
	expect_bad(buf, len, NULL);
	free(buf);
}

static void
test_oversize(void **state)
{
	Slipway__V1__ImagePushed ip;
	unsigned char *buf, *big;
	Envelope env;
	char id[37];
	size_t len;

	(void)state;
	slipway__v1__image_pushed__init(&ip);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, id,
	    "acme", NULL);
	env.image_pushed = &ip;
	buf = envelope_pack(&env, &len);
	/* A valid envelope followed by padding is still refused on size alone. */
	big = calloc(1, ENVELOPE_MAX + 1);
	assert_non_null(big);
	memcpy(big, buf, len);
	expect_bad(big, ENVELOPE_MAX + 1, NULL);
	free(big);
	free(buf);
}

/* Every oneof member has a name, and it is the member's message name. */
static void
test_type_names(void **state)
{
	const ProtobufCMessageDescriptor *d = &slipway__v1__envelope__descriptor;
	unsigned n = 0;

	(void)state;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const ProtobufCMessageDescriptor *m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		m = f->descriptor;
		assert_non_null(envelope_type_name(
		    (Slipway__V1__Envelope__PayloadCase)f->id));
		assert_string_equal(envelope_type_name(
		    (Slipway__V1__Envelope__PayloadCase)f->id), m->short_name);
		n++;
	}
	assert_true(n >= 19);
	assert_null(envelope_type_name(SLIPWAY__V1__ENVELOPE__PAYLOAD__NOT_SET));
	assert_null(envelope_type_name((Slipway__V1__Envelope__PayloadCase)999));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_uuid),
		cmocka_unit_test(test_no_payload),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_type_names),
	};

	crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
