/*
 * reg_events.c: the envelopes registry-svc writes to its outbox, and the
 * consumer of slipway.deploy.events that learns data planes, their grants
 * and the environments bound to them, and seals each org's registries to
 * the data planes that serve it; the same consumer reads
 * slipway.component.events to learn which components use which registry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "bus.h"
#include "bus_topics.h"
#include "crypto.h"
#include "dedup.h"
#include "envelope.h"
#include "json.h"
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

/* RegistryCreated or RegistryUpdated: the registry, never a secret. */
static int
reg_events_registry(struct store *s, int updated, const char *id,
    const struct reg_input *in, const char *trace, struct error *err)
{
	Slipway__V1__Registry r;
	Slipway__V1__RegistryCreated rc;
	Slipway__V1__RegistryUpdated ru;
	Envelope env;
	char evid[37];

	slipway__v1__registry__init(&r);
	r.registry_id = reg_events_str(id);
	r.org = reg_events_str(in->org);
	r.name = reg_events_str(in->name);
	r.host = reg_events_str(in->host);
	r.auth_type = (Slipway__V1__AuthType)in->auth;
	r.vendor = reg_events_str(in->vendor);
	if (updated) {
		slipway__v1__registry_updated__init(&ru);
		ru.registry = &r;
		envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_UPDATED,
		    evid, in->org, trace);
		env.registry_updated = &ru;
	} else {
		slipway__v1__registry_created__init(&rc);
		rc.registry = &r;
		envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_CREATED,
		    evid, in->org, trace);
		env.registry_created = &rc;
	}
	return envelope_outbox(s, TOPIC_REGISTRY_EVENTS, id, &env, err);
}

int
reg_events_created(struct store *s, const char *id, const struct reg_input *in,
    const char *trace, struct error *err)
{
	return reg_events_registry(s, 0, id, in, trace, err);
}

int
reg_events_updated(struct store *s, json_t *reg, const char *trace,
    struct error *err)
{
	struct reg_input in;
	const char *auth = json_string_value(json_object_get(reg, "auth_type"));
	enum reg_auth a;

	memset(&in, 0, sizeof(in));
	in.org = json_string_value(json_object_get(reg, "org"));
	in.name = json_string_value(json_object_get(reg, "name"));
	in.vendor = json_string_value(json_object_get(reg, "vendor"));
	snprintf(in.host, sizeof(in.host), "%s",
	    reg_events_str(json_string_value(json_object_get(reg, "host"))));
	for (a = REG_AUTH_ANONYMOUS; a <= REG_AUTH_VENDOR; a++)
		if (auth != NULL && strcmp(reg_input_auth_name(a), auth) == 0)
			in.auth = a;
	return reg_events_registry(s, 1,
	    json_string_value(json_object_get(reg, "id")), &in, trace, err);
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

/*
 * A registry's credentials go to a data plane only while it serves the
 * registry's org: an environment of the org binds it and it is granted to
 * the org (or shared). EnvironmentChanged and DataPlaneRegistered change
 * which pairs (org, data plane) are served; each handler computes the pairs
 * before and after its write, seals the org's registries to the new ones
 * and tombstones them on the gone ones, in one transaction with the dedup
 * claim. Race-free across replicas: both handlers take the bindings lock
 * (one at a time), and the lock of every org they seal or tombstone before
 * reading its registries; registry creation takes its org's lock before it
 * reads the data planes that serve it (reg_http.c).
 */
struct reg_seal {
	struct reg_ctx *ctx;
	const Envelope *env;
	size_t sealed, removed;
};

/* Decrypts one at-rest secret and seals it to the data plane. */
static int
reg_events_reseal(struct store *s, struct reg_seal *t,
    const struct reg_dataplane *dp, const struct reg_row *row,
    struct error *err)
{
	unsigned char *pt;
	size_t len;
	int rc;

	if (row->secret == NULL || secret_decrypt(t->ctx->keyring, row->id,
	    row->secret, row->secret_len, &pt, &len, err) < 0) {
		/* A wrong KEK must not stop every other registry from reaching the dp. */
		log_warnx("registry %s: cannot decrypt its credentials (%s); not "
		    "sealed to data plane %s", row->id, err->msg, dp->name);
		error_clear(err);
		return 0;
	}
	rc = reg_events_sealed(s, dp, row->org, row->id, row->host, row->auth,
	    pt, len, t->env->event_id, err);
	crypto_free_secret(pt, len);
	t->sealed += rc == 0;
	return rc;
}

/* Seals (seal) or tombstones (!seal) every registry of org on dp. */
static int
reg_events_org_on(struct store *s, struct reg_seal *t,
    const struct reg_dataplane *dp, const char *org, int seal,
    struct error *err)
{
	struct reg_row *rows;
	size_t n, i;
	int rc = 0;

	if (reg_store_lock_org(s, org, err) < 0 ||
	    reg_store_org_rows(s, org, &rows, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (seal)
			rc = reg_events_reseal(s, t, dp, &rows[i], err);
		else if ((rc = reg_events_tombstone(s, dp, rows[i].id, err)) == 0)
			t->removed++;
	}
	reg_store_rows_free(rows, n);
	if (rc == 0)
		log_info("org %s: registries %s data plane %s", org, seal ?
		    "sealed to" : "withdrawn from", dp->name);
	return rc;
}

struct reg_env_tx {
	struct reg_seal seal;
	const char *org, *environment, *dataplane;
};

static int
reg_events_dp_names(const struct reg_dataplane *dps, size_t n, char ***out)
{
	*out = NULL;
	if (n > 0 && (*out = calloc(n, sizeof(**out))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = (char *)(uintptr_t)dps[i].name;
	return 0;
}

/* The data plane of dps named name (it is there: the diff came from dps). */
static const struct reg_dataplane *
reg_events_dp_find(const struct reg_dataplane *dps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(dps[i].name, name) == 0)
			return &dps[i];
	return NULL;
}

/* Seals org's registries to the data planes in `to` but not in `from`. */
static int
reg_events_env_apply(struct store *s, struct reg_env_tx *t,
    const struct reg_dataplane *to, size_t nto, const struct reg_dataplane *from,
    size_t nfrom, int seal, struct error *err)
{
	char **a = NULL, **b = NULL;
	const char **d = NULL;
	size_t n, i;
	int rc = -1;

	if (reg_events_dp_names(to, nto, &a) == 0 &&
	    reg_events_dp_names(from, nfrom, &b) == 0 &&
	    (nto == 0 || (d = calloc(nto, sizeof(*d))) != NULL)) {
		n = reg_served_diff(a, nto, b, nfrom, d);
		for (i = 0, rc = 0; i < n && rc == 0; i++)
			rc = reg_events_org_on(s, &t->seal,
			    reg_events_dp_find(to, nto, d[i]), t->org, seal, err);
	} else
		error_set(err, "internal", "", "out of memory");
	free(a);
	free(b);
	free(d);
	return rc;
}

static int
reg_events_env_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_env_tx *t = arg;
	struct reg_dataplane *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	int rc;

	if (reg_store_lock_bindings(s, err) < 0 ||
	    reg_store_lock_org(s, t->org, err) < 0)
		return -1;
	if ((rc = dedup_claim(s, t->seal.env->event_id, REG_CONSUMER, err)) <= 0)
		return rc;
	rc = -1;
	if (reg_store_served_dataplanes(s, t->org, &before, &nb, err) == 0 &&
	    reg_store_binding_put(s, t->org, t->environment, t->dataplane,
	    err) == 0 &&
	    reg_store_served_dataplanes(s, t->org, &after, &na, err) == 0 &&
	    reg_events_env_apply(s, t, after, na, before, nb, 1, err) == 0)
		rc = reg_events_env_apply(s, t, before, nb, after, na, 0, err);
	free(before);
	free(after);
	return rc;
}

/* An org or environment name from the bus: present and within the caps. */
static int
reg_events_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < 64;
}

static enum bus_result
reg_events_on_environment(struct reg_ctx *ctx, const Envelope *env,
    struct error *reason)
{
	const Slipway__V1__EnvironmentChanged *e = env->environment_changed;
	struct reg_env_tx t;

	if (e == NULL || !reg_events_name_ok(e->org) ||
	    !reg_events_name_ok(e->name) || !dataplane_name_valid(e->dataplane)) {
		error_set(reason, "bad_event", "", "EnvironmentChanged needs an "
		    "org, a name and a valid data plane name");
		return BUS_REJECT;
	}
	memset(&t, 0, sizeof(t));
	t.seal.ctx = ctx;
	t.seal.env = env;
	t.org = e->org;
	t.environment = e->name;
	t.dataplane = e->dataplane;
	if (store_tx(ctx->db, reg_events_env_tx, &t, reason) < 0)
		return strcmp(reason->code, "unavailable") == 0 ? BUS_RETRY :
		    BUS_REJECT;
	if (t.seal.sealed + t.seal.removed > 0)
		outbox_relay_kick(ctx->relay);
	return BUS_DONE;
}

struct reg_dp_tx {
	struct reg_seal seal;
	struct reg_dataplane dp;
	int shared;
	char *const *orgs;
	size_t n_orgs;
};

/* Seals (or tombstones) org by org, for the orgs of `which` (a diff). */
static int
reg_events_dp_orgs(struct store *s, struct reg_dp_tx *t, const char **which,
    size_t n, int seal, struct error *err)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = reg_events_org_on(s, &t->seal, &t->dp, which[i], seal, err);
	return rc;
}

/*
 * A new key goes to every org the data plane serves; with the same key,
 * only to the orgs a widened grant adds. Orgs it no longer serves get
 * tombstones.
 */
static int
reg_events_dp_apply(struct store *s, struct reg_dp_tx *t, int key_changed,
    const struct reg_names *before, const struct reg_names *after,
    struct error *err)
{
	const char **d = NULL;
	size_t n;
	int rc = -1;

	if (after->n + before->n > 0 &&
	    (d = calloc(after->n + before->n, sizeof(*d))) == NULL) {
		error_set(err, "internal", "", "out of memory");
		return -1;
	}
	n = key_changed ? reg_served_diff(after->v, after->n, NULL, 0, d) :
	    reg_served_diff(after->v, after->n, before->v, before->n, d);
	if (reg_events_dp_orgs(s, t, d, n, 1, err) == 0) {
		n = reg_served_diff(before->v, before->n, after->v, after->n, d);
		rc = reg_events_dp_orgs(s, t, d, n, 0, err);
	}
	free(d);
	return rc;
}

static int
reg_events_dataplane_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_dp_tx *t = arg;
	struct reg_names before, after;
	struct reg_dataplane old;
	int known, rc;

	if (reg_store_lock_bindings(s, err) < 0)
		return -1;
	if ((rc = dedup_claim(s, t->seal.env->event_id, REG_CONSUMER, err)) <= 0)
		return rc;
	memset(&after, 0, sizeof(after));
	if ((known = reg_store_dataplane_get(s, t->dp.name, &old, err)) < 0 ||
	    reg_store_served_orgs(s, t->dp.name, &before, err) < 0)
		return -1;
	rc = -1;
	if (reg_store_dataplane_grants(s, &t->dp, t->shared, t->orgs, t->n_orgs,
	    err) == 0 &&
	    reg_store_served_orgs(s, t->dp.name, &after, err) == 0)
		rc = reg_events_dp_apply(s, t, !known ||
		    memcmp(old.public_key, t->dp.public_key, 32) != 0, &before,
		    &after, err);
	reg_names_free(&before);
	reg_names_free(&after);
	return rc;
}

/*
 * Validates the payload: a data-plane name, a 32-byte public key, and the
 * grant: shared, or at most REG_GRANTS_MAX org names.
 */
static int
reg_events_dataplane_payload(const Envelope *env, struct reg_dp_tx *t,
    struct error *reason)
{
	const Slipway__V1__DataPlaneRegistered *d = env->dataplane_registered;
	size_t i;

	if (d == NULL || !dataplane_name_valid(d->name) ||
	    d->public_key.len != 32 || d->n_orgs > REG_GRANTS_MAX ||
	    (d->shared && d->n_orgs > 0)) {
		error_set(reason, "bad_event", "", "DataPlaneRegistered needs a "
		    "valid name, a 32-byte public key, and orgs or shared");
		return -1;
	}
	for (i = 0; i < d->n_orgs; i++)
		if (!reg_events_name_ok(d->orgs[i])) {
			error_set(reason, "bad_event", "", "DataPlaneRegistered: "
			    "orgs[%zu] is not an org name", i);
			return -1;
		}
	snprintf(t->dp.name, sizeof(t->dp.name), "%s", d->name);
	memcpy(t->dp.public_key, d->public_key.data, 32);
	t->shared = d->shared;
	t->orgs = d->orgs;
	t->n_orgs = d->n_orgs;
	return 0;
}

/*
 * The credentials topic must exist before the relay publishes to it. Its
 * creation runs off the loop (bus_topics.h): 1 once it exists, 0 while it
 * is being created (the event is retried), -1 for a name it cannot have.
 */
static int
reg_events_topic(struct reg_ctx *ctx, const char *dp, struct error *err)
{
	char topic[128];
	const char *topics[] = { topic, NULL };

	if (topic_dataplane_credentials(dp, topic, sizeof(topic)) < 0) {
		error_set(err, "bad_event", "", "data plane name too long");
		return -1;
	}
	return bus_topics_ensure(ctx->topics, topics, TOPIC_PARTITIONS, 1,
	    REG_TOPIC_TIMEOUT_MS, err);
}

static enum bus_result
reg_events_on_dataplane(struct reg_ctx *ctx, const Envelope *env,
    struct error *reason)
{
	struct reg_dp_tx t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.seal.ctx = ctx;
	t.seal.env = env;
	if (reg_events_dataplane_payload(env, &t, reason) < 0)
		return BUS_REJECT;
	if ((rc = reg_events_topic(ctx, t.dp.name, reason)) != 1) {
		if (rc == -1)
			return BUS_REJECT;
		log_debug("data plane %s: credentials topic: %s", t.dp.name,
		    reason->msg);
		return BUS_RETRY;
	}
	if (store_tx(ctx->db, reg_events_dataplane_tx, &t, reason) < 0)
		return strcmp(reason->code, "unavailable") == 0 ? BUS_RETRY :
		    BUS_REJECT;
	outbox_relay_kick(ctx->relay);
	log_info("data plane %s registered (%s); %zu registries sealed to it, "
	    "%zu withdrawn", t.dp.name, t.shared ? "shared" : "named orgs",
	    t.seal.sealed, t.seal.removed);
	return BUS_DONE;
}

/* --- consumer of slipway.component.events --------------------------------- */

/*
 * Which live component uses which registry, so that DELETE can refuse a
 * registry in use. Only the registry reference is kept; the rest of the
 * component is component-svc's.
 */
struct reg_comp_tx {
	const Envelope *env;
	struct reg_component c;   /* id only for a delete */
	int deleted;
};

static int
reg_events_component_tx(struct store *s, void *arg, struct error *err)
{
	struct reg_comp_tx *t = arg;
	int rc;

	if ((rc = dedup_claim(s, t->env->event_id, REG_CONSUMER, err)) <= 0)
		return rc;
	return t->deleted ? reg_store_component_delete(s, t->c.id, err) :
	    reg_store_component_put(s, &t->c, err);
}

/* A string from the bus: present, UTF-8, at most max bytes. */
static int
reg_events_text_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && json_utf8_valid(s, max);
}

/* Fills t from ComponentCreated / Updated / Deleted; -1 when malformed. */
static int
reg_events_component_payload(const Envelope *env, struct reg_comp_tx *t)
{
	const Slipway__V1__Component *c = NULL;

	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED) {
		if (env->component_deleted == NULL)
			return -1;
		t->deleted = 1;
		t->c.id = env->component_deleted->component_id;
		return reg_events_text_ok(t->c.id, 63) ? 0 : -1;
	}
	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED &&
	    env->component_created != NULL)
		c = env->component_created->component;
	else if (env->component_updated != NULL)
		c = env->component_updated->component;
	if (c == NULL || !reg_events_text_ok(c->component_id, 63) ||
	    !reg_events_name_ok(c->org) || !reg_events_text_ok(c->project, 63) ||
	    !reg_events_text_ok(c->name, 255) || !crypto_uuid_valid(c->registry_id))
		return -1;
	t->c.id = c->component_id;
	t->c.org = c->org;
	t->c.project = c->project;
	t->c.name = c->name;
	t->c.registry_id = c->registry_id;
	return 0;
}

static enum bus_result
reg_events_on_component(struct reg_ctx *ctx, const Envelope *env,
    struct error *reason)
{
	struct reg_comp_tx t;

	memset(&t, 0, sizeof(t));
	t.env = env;
	if (reg_events_component_payload(env, &t) < 0) {
		error_set(reason, "bad_event", "", "a component event needs a "
		    "component id, org, project, name and registry id");
		return BUS_REJECT;
	}
	log_ctx_set("component_id", t.c.id);
	if (store_tx(ctx->db, reg_events_component_tx, &t, reason) < 0)
		return strcmp(reason->code, "unavailable") == 0 ? BUS_RETRY :
		    BUS_REJECT;
	log_debug("component %s: %s", t.c.id, t.deleted ? "deleted" :
	    "uses its registry");
	return BUS_DONE;
}

/* The event types this consumer handles; any other is skipped undecoded. */
static const char *const reg_events_types[] = { "DataPlaneRegistered",
	"EnvironmentChanged", "ComponentCreated", "ComponentUpdated",
	"ComponentDeleted", NULL };

static int
reg_events_wanted(const char *type)
{
	for (size_t i = 0; reg_events_types[i] != NULL; i++)
		if (strcmp(type, reg_events_types[i]) == 0)
			return 1;
	return 0;
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
	if (type != NULL && !reg_events_wanted(type))
		return BUS_DONE;   /* not ours: skip without decoding */
	if ((env = envelope_decode(val, len, type, reason)) == NULL)
		return BUS_REJECT;
	log_ctx_set("event_id", env->event_id);
	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_DATAPLANE_REGISTERED)
		res = reg_events_on_dataplane(arg, env, reason);
	else if (env->payload_case ==
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_ENVIRONMENT_CHANGED)
		res = reg_events_on_environment(arg, env, reason);
	else if (env->payload_case ==
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED ||
	    env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED ||
	    env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED)
		res = reg_events_on_component(arg, env, reason);
	envelope_free(env);
	log_ctx_clear();
	return res;
}

struct bus_consumer *
reg_events_consumer_new(struct reg_ctx *ctx, struct error *err)
{
	static const char *const topics[] = { TOPIC_DEPLOY_EVENTS,
		TOPIC_COMPONENT_EVENTS, NULL };
	struct bus_consumer_config cfg = {
		.brokers = ctx->cfg.brokers,
		.group = REG_CONSUMER,
		.topics = topics,
		.dlq = ctx->producer,
	};

	return bus_consumer_new(ctx->base, &cfg, reg_events_handle, ctx, err);
}
