/*
 * reg_events.c: the envelopes registry-svc writes to its outbox, and the
 * consumer of slipway.deploy.events that learns data planes and seals every
 * registry's credentials to each new one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "bus.h"
#include "crypto.h"
#include "dedup.h"
#include "envelope.h"
#include "outbox.h"
#include "topics.h"

#define REG_TOPIC_TIMEOUT_MS 10000
/* Header event-type of the tombstone that deletes a registry's credentials. */
#define REG_TOMBSTONE_TYPE "Tombstone"

/* protobuf-c wants char *; its packer never writes through it. */
static char *
reg_events_str(const char *s)
{
	return (char *)(uintptr_t)(s != NULL ? s : "");
}

int
reg_events_created(struct store *s, const char *id, const struct reg_input *in,
    const char *trace, struct error *err)
{
	Slipway__V1__Registry r;
	Slipway__V1__RegistryCreated rc;
	Envelope env;
	char evid[37];

	slipway__v1__registry__init(&r);
	slipway__v1__registry_created__init(&rc);
	r.registry_id = reg_events_str(id);
	r.org = reg_events_str(in->org);
	r.name = reg_events_str(in->name);
	r.host = reg_events_str(in->host);
	r.auth_type = (Slipway__V1__AuthType)in->auth;
	r.vendor = reg_events_str(in->vendor);
	rc.registry = &r;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_CREATED, evid,
	    in->org, trace);
	env.registry_created = &rc;
	return envelope_outbox(s, TOPIC_REGISTRY_EVENTS, id, &env, err);
}

int
reg_events_deleted(struct store *s, const struct reg_row *row,
    const char *trace, struct error *err)
{
	Slipway__V1__RegistryDeleted rd;
	Envelope env;
	char evid[37];

	slipway__v1__registry_deleted__init(&rd);
	rd.registry_id = reg_events_str(row->id);
	rd.org = reg_events_str(row->org);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_DELETED, evid,
	    row->org, trace);
	env.registry_deleted = &rd;
	return envelope_outbox(s, TOPIC_REGISTRY_EVENTS, row->id, &env, err);
}

int
reg_events_sealed(struct store *s, const struct reg_dataplane *dp,
    const char *org, const char *id, const char *host, enum reg_auth auth,
    const unsigned char *pt, size_t len, const char *trace, struct error *err)
{
	Slipway__V1__CredentialsSealed cs;
	Envelope env;
	unsigned char *sealed;
	size_t slen;
	char topic[128], evid[37];
	int rc;

	if (topic_dataplane_credentials(dp->name, topic, sizeof(topic)) < 0 ||
	    crypto_seal(dp->public_key, pt, len, &sealed, &slen) < 0) {
		error_set(err, "internal", "", "cannot seal credentials for data "
		    "plane %s", dp->name);
		return -1;
	}
	slipway__v1__credentials_sealed__init(&cs);
	cs.registry_id = reg_events_str(id);
	cs.host = reg_events_str(host);
	cs.auth_type = (Slipway__V1__AuthType)auth;
	cs.sealed.data = sealed;
	cs.sealed.len = slen;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_CREDENTIALS_SEALED,
	    evid, org, trace);
	env.credentials_sealed = &cs;
	rc = envelope_outbox(s, topic, id, &env, err);
	free(sealed);
	return rc;
}

int
reg_events_tombstone(struct store *s, const struct reg_dataplane *dp,
    const char *id, struct error *err)
{
	char topic[128], evid[37];

	if (topic_dataplane_credentials(dp->name, topic, sizeof(topic)) < 0) {
		error_set(err, "internal", "", "bad data plane name %s", dp->name);
		return -1;
	}
	crypto_uuid(evid);
	return outbox_add(s, topic, id, NULL, 0, evid, REG_TOMBSTONE_TYPE, err);
}

/* --- consumer of slipway.deploy.events ------------------------------------ */

struct reg_dp_tx {
	struct reg_ctx *ctx;
	const Envelope *env;
	struct reg_dataplane dp;
	size_t sealed;
};

/* Decrypts one at-rest secret and seals it to the data plane. */
static int
reg_events_reseal(struct store *s, struct reg_dp_tx *t,
    const struct reg_row *row, struct error *err)
{
	unsigned char *pt;
	size_t len;
	int rc;

	if (row->secret == NULL || secret_decrypt(t->ctx->keyring, row->id,
	    row->secret, row->secret_len, &pt, &len, err) < 0) {
		/* A wrong KEK must not stop every other registry from reaching the dp. */
		log_warnx("registry %s: cannot decrypt its credentials (%s); not "
		    "sealed to data plane %s", row->id, err->msg, t->dp.name);
		error_clear(err);
		return 0;
	}
	rc = reg_events_sealed(s, &t->dp, row->org, row->id, row->host, row->auth,
	    pt, len, t->env->event_id, err);
	crypto_free_secret(pt, len);
	t->sealed += rc == 0;
	return rc;
}

static int
reg_events_dataplane_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_dp_tx *t = arg;
	struct reg_row *rows;
	size_t n, i;
	int first, rc = 0;

	if ((first = dedup_claim(s, t->env->event_id, REG_CONSUMER, err)) <= 0)
		return first;
	if (reg_store_dataplane_upsert(s, t->dp.name, t->dp.public_key, err) < 0 ||
	    reg_store_rows(s, &rows, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = reg_events_reseal(s, t, &rows[i], err);
	reg_store_rows_free(rows, n);
	return rc;
}

/* Validates the payload: a data-plane name and a 32-byte public key. */
static int
reg_events_dataplane_payload(const Envelope *env, struct reg_dataplane *dp,
    struct error *reason)
{
	const Slipway__V1__DataPlaneRegistered *d = env->dataplane_registered;

	if (d == NULL || !dataplane_name_valid(d->name) ||
	    d->public_key.len != 32) {
		error_set(reason, "bad_event", "", "DataPlaneRegistered needs a "
		    "valid name and a 32-byte public key");
		return -1;
	}
	snprintf(dp->name, sizeof(dp->name), "%s", d->name);
	memcpy(dp->public_key, d->public_key.data, 32);
	return 0;
}

/* The credentials topic must exist before the relay publishes to it. */
static int
reg_events_topic(struct reg_ctx *ctx, const char *dp, struct error *err)
{
	char topic[128];
	const char *topics[] = { topic, NULL };

	if (topic_dataplane_credentials(dp, topic, sizeof(topic)) < 0)
		return -1;
	return bus_topic_ensure(ctx->cfg.brokers, topics, TOPIC_PARTITIONS, 1,
	    REG_TOPIC_TIMEOUT_MS, err);
}

static enum bus_result
reg_events_on_dataplane(struct reg_ctx *ctx, const Envelope *env,
    struct error *reason)
{
	struct reg_dp_tx t;

	memset(&t, 0, sizeof(t));
	t.ctx = ctx;
	t.env = env;
	if (reg_events_dataplane_payload(env, &t.dp, reason) < 0)
		return BUS_REJECT;
	if (reg_events_topic(ctx, t.dp.name, reason) < 0) {
		log_warnx("data plane %s: credentials topic: %s", t.dp.name,
		    reason->msg);
		return BUS_RETRY;
	}
	if (store_tx(ctx->db, reg_events_dataplane_tx, &t, reason) < 0)
		return strcmp(reason->code, "unavailable") == 0 ? BUS_RETRY :
		    BUS_REJECT;
	outbox_relay_kick(ctx->relay);
	log_info("data plane %s registered; %zu registries sealed to it",
	    t.dp.name, t.sealed);
	return BUS_DONE;
}

static enum bus_result
reg_events_handle(const struct bus_message *m, void *arg, struct error *reason)
{
	const char *type = bus_message_header(m, "event-type");
	enum bus_result res = BUS_DONE;
	const void *val;
	Envelope *env;
	size_t len;

	val = bus_message_value(m, &len);
	if (val == NULL)
		return BUS_DONE;
	if (type != NULL && strcmp(type, "DataPlaneRegistered") != 0)
		return BUS_DONE;   /* not ours: skip without decoding */
	if ((env = envelope_decode(val, len, type, reason)) == NULL)
		return BUS_REJECT;
	log_ctx_set("event_id", env->event_id);
	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED)
		res = reg_events_on_dataplane(arg, env, reason);
	envelope_free(env);
	return res;
}

struct bus_consumer *
reg_events_consumer_new(struct reg_ctx *ctx, struct error *err)
{
	static const char *const topics[] = { TOPIC_DEPLOY_EVENTS, NULL };
	struct bus_consumer_config cfg = {
		.brokers = ctx->cfg.brokers,
		.group = REG_CONSUMER,
		.topics = topics,
		.dlq = ctx->producer,
	};

	return bus_consumer_new(ctx->base, &cfg, reg_events_handle, ctx, err);
}
