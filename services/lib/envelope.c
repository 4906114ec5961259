/*
 * envelope.c: the Envelope every bus message travels in. Building, packing,
 * defensive decoding, and the two ways out (outbox row, direct produce).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "envelope.h"
#include "crypto.h"
#include "outbox.h"

/* One row per payload case: the oneof member's message name is the type. */
struct envelope_kind {
	Slipway__V1__Envelope__PayloadCase payload_case;
	const char *name;
};

static const struct envelope_kind envelope_kinds[] = {
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_CREATED, "RegistryCreated" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_UPDATED, "RegistryUpdated" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_DELETED, "RegistryDeleted" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_CREDENTIALS_SEALED, "CredentialsSealed" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED, "ComponentCreated" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED, "ComponentUpdated" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED, "ComponentDeleted" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_ENDPOINTS_CHANGED, "EndpointsChanged" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_ISSUED, "TokenIssued" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_REVOKED, "TokenRevoked" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_IMAGE_PUSHED, "ImagePushed" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED, "DataPlaneRegistered" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_ENVIRONMENT_CHANGED, "EnvironmentChanged" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_REQUESTED, "DeploymentRequested" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS_CHANGED, "DeploymentStatusChanged" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT, "ApplyDeployment" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK, "RunTask" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REMOVE_COMPONENT, "RemoveComponent" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS, "DeploymentStatus" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_SET_SCHEDULE, "SetSchedule" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_EXECUTION_STATUS, "ExecutionStatus" },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_ORG_KEY, "OrgKey" },
};

#define ENVELOPE_NKINDS (sizeof(envelope_kinds) / sizeof(envelope_kinds[0]))

static char envelope_producer[64] = "unknown";

void
envelope_set_producer(const char *service)
{
	if (service == NULL)
		return;
	strncpy(envelope_producer, service, sizeof(envelope_producer) - 1);
	envelope_producer[sizeof(envelope_producer) - 1] = '\0';
}

const char *
envelope_type_name(Slipway__V1__Envelope__PayloadCase c)
{
	for (size_t i = 0; i < ENVELOPE_NKINDS; i++)
		if (envelope_kinds[i].payload_case == c)
			return envelope_kinds[i].name;
	return NULL;
}

void
envelope_init(Envelope *env, Slipway__V1__Envelope__PayloadCase payload_case,
    char event_id[37], const char *org, const char *trace_id)
{
	const char *name = envelope_type_name(payload_case);

	slipway__v1__envelope__init(env);
	crypto_uuid(event_id);
	/* protobuf-c never writes through these pointers when packing. */
	env->event_id = event_id;
	env->type = (char *)(uintptr_t)(name != NULL ? name : "");
	env->occurred_at_ms = clock_wall_ms();
	env->org = (char *)(uintptr_t)(org != NULL ? org : "");
	env->trace_id = (char *)(uintptr_t)(trace_id != NULL ? trace_id : "");
	env->producer = envelope_producer;
	env->payload_case = payload_case;
}

unsigned char *
envelope_pack(const Envelope *env, size_t *len)
{
	size_t n = slipway__v1__envelope__get_packed_size(env);
	/* An empty envelope packs to zero bytes; malloc(0) may return NULL. */
	unsigned char *buf = malloc(n > 0 ? n : 1);

	if (buf == NULL)
		return NULL;
	*len = slipway__v1__envelope__pack(env, buf);
	return buf;
}

/*
 * The payload union holds only message pointers, so the member for any case
 * lives at the oneof's offset; read it through the field descriptor rather
 * than a 19-arm switch.
 */
static const void *
envelope_payload_ptr(const Envelope *env)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field(
	    &slipway__v1__envelope__descriptor, (unsigned)env->payload_case);
	if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;
	return *(const void *const *)(const void *)((const char *)env + f->offset);
}

static int
envelope_check(const Envelope *env, const char *header_type, struct error *err)
{
	const char *name = envelope_type_name(env->payload_case);

	if (name == NULL || envelope_payload_ptr(env) == NULL) {
		error_set(err, "bad_envelope", "payload", "unknown or empty payload");
		return -1;
	}
	if (!crypto_uuid_valid(env->event_id)) {
		error_set(err, "bad_envelope", "event_id", "event id is not a UUID");
		return -1;
	}
	if (strcmp(env->type, name) != 0) {
		error_set(err, "bad_envelope", "type",
		    "type does not match the payload (%s)", name);
		return -1;
	}
	if (header_type != NULL && strcmp(header_type, name) != 0) {
		error_set(err, "bad_envelope", "event-type",
		    "event-type header does not match the payload (%s)", name);
		return -1;
	}
	return 0;
}

Envelope *
envelope_decode(const void *buf, size_t len, const char *header_type,
    struct error *err)
{
	Envelope *env;

	if (buf == NULL || len == 0) {
		error_set(err, "bad_envelope", "", "empty message");
		return NULL;
	}
	if (len > ENVELOPE_MAX) {
		error_set(err, "bad_envelope", "", "envelope of %zu bytes exceeds %d",
		    len, ENVELOPE_MAX);
		return NULL;
	}
	env = slipway__v1__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		error_set(err, "bad_envelope", "", "not a protobuf Envelope");
		return NULL;
	}
	if (envelope_check(env, header_type, err) == -1) {
		envelope_free(env);
		return NULL;
	}
	return env;
}

void
envelope_free(Envelope *env)
{
	if (env != NULL)
		slipway__v1__envelope__free_unpacked(env, NULL);
}

int
envelope_outbox(struct store *s, const char *topic, const char *key,
    const Envelope *env, struct error *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if ((buf = envelope_pack(env, &len)) == NULL) {
		error_set(err, "internal", "", "out of memory packing an envelope");
		return -1;
	}
	rc = outbox_add(s, topic, key, buf, len, env->event_id, env->type, err);
	free(buf);
	return rc;
}

int
envelope_produce(struct bus_producer *p, const char *topic, const char *key,
    const Envelope *env, bus_delivery_cb cb, void *arg, struct error *err)
{
	struct bus_header hdrs[2] = {
		{ "event-id", env->event_id },
		{ "event-type", env->type },
	};
	unsigned char *buf;
	size_t len;
	int rc;

	if ((buf = envelope_pack(env, &len)) == NULL) {
		error_set(err, "internal", "", "out of memory packing an envelope");
		return -1;
	}
	rc = bus_produce(p, topic, key, buf, len, hdrs, 2, cb, arg, err);
	free(buf);
	return rc;
}
