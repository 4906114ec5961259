/*
 * comp_events.c: the envelopes component-svc writes to its outbox, and the
 * consumer of slipway.registry.events that keeps component.registries (the
 * local copy a component's registry_id is checked against).
 */
#include <stdint.h>
#include <string.h>
#include "component.h"
#include "bus.h"
#include "crypto.h"
#include "dedup.h"
#include "envelope.h"
#include "topics.h"

/* protobuf-c wants char *; its packer never writes through it. */
static char *
comp_events_str(const char *s)
{
	return (char *)(uintptr_t)(s != NULL ? s : "");
}

static int
comp_events_write(struct store *s, const char *key, Envelope *env,
    struct error *err)
{
	return envelope_outbox(s, TOPIC_COMPONENT_EVENTS, key, env, err);
}

/*
 * ComponentCreated (updated == 0) or ComponentUpdated: both carry the whole
 * component, so a consumer replaces its copy.
 */
int
comp_events_component(struct store *s, int updated, const char *id,
    const struct comp_input *in, const char *trace, struct error *err)
{
	Slipway__V1__Component c;
	Slipway__V1__ComponentCreated cc;
	Slipway__V1__ComponentUpdated cu;
	Slipway__V1__Endpoint eps[ENDPOINTS_MAX], *epp[ENDPOINTS_MAX];
	Slipway__V1__HealthCheck health;
	Slipway__V1__Resources resources;
	Slipway__V1__TaskSettings task;
	Envelope env;
	char evid[37];
	size_t i;

	slipway__v1__component__init(&c);
	slipway__v1__component_created__init(&cc);
	slipway__v1__component_updated__init(&cu);
	for (i = 0; i < in->endpoints.n; i++) {
		const struct endpoint *e = &in->endpoints.ep[i];
		slipway__v1__endpoint__init(&eps[i]);
		eps[i].name = comp_events_str(e->name);
		eps[i].port = e->port;
		eps[i].type = comp_events_str(e->type);
		eps[i].visibility = comp_events_str(e->visibility);
		eps[i].context = comp_events_str(e->context);
		eps[i].schema_file_path = comp_events_str(e->schema_file_path);
		epp[i] = &eps[i];
	}
	c.component_id = comp_events_str(id);
	c.org = comp_events_str(in->org);
	c.project = comp_events_str(in->project);
	c.name = comp_events_str(in->name);
	c.type = comp_events_str(in->type);
	c.registry_id = comp_events_str(in->registry_id);
	c.registry_host = comp_events_str(in->registry_host);
	c.image = comp_events_str(in->image);
	c.n_endpoints = in->endpoints.n;
	c.endpoints = epp;
	c.schedule = comp_events_str(in->task.schedule);
	c.timezone = comp_events_str(in->task.timezone);
	c.task = workload_task_to_proto(&in->task, &task);
	/* Absent (NULL) when not given: deploy-svc then leaves the agent's defaults. */
	c.health = workload_health_to_proto(&in->health, &health);
	c.resources = workload_resources_to_proto(&in->resources, &resources);
	cc.component = cu.component = &c;
	envelope_init(&env, updated ?
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_UPDATED :
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_CREATED, evid, in->org,
	    trace);
	if (updated)
		env.component_updated = &cu;
	else
		env.component_created = &cc;
	return comp_events_write(s, id, &env, err);
}

int
comp_events_token_issued(struct store *s, const char *org,
    const char *component_id, const char *token_id, const char *hash,
    const char *prefix, long long expires_at_ms, const char *trace,
    struct error *err)
{
	Slipway__V1__TokenIssued ti;
	Envelope env;
	char evid[37];

	slipway__v1__token_issued__init(&ti);
	ti.token_id = comp_events_str(token_id);
	ti.component_id = comp_events_str(component_id);
	ti.token_hash = comp_events_str(hash);
	ti.prefix = comp_events_str(prefix);
	ti.expires_at_ms = expires_at_ms;
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_ISSUED, evid,
	    org, trace);
	env.token_issued = &ti;
	return comp_events_write(s, component_id, &env, err);
}

int
comp_events_token_revoked(struct store *s, const char *org,
    const char *component_id, const char *token_id, const char *hash,
    const char *prefix, const char *trace, struct error *err)
{
	Slipway__V1__TokenRevoked tr;
	Envelope env;
	char evid[37];

	slipway__v1__token_revoked__init(&tr);
	tr.token_id = comp_events_str(token_id);
	tr.component_id = comp_events_str(component_id);
	tr.token_hash = comp_events_str(hash);
	tr.prefix = comp_events_str(prefix);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_TOKEN_REVOKED, evid,
	    org, trace);
	env.token_revoked = &tr;
	return comp_events_write(s, component_id, &env, err);
}

/* ComponentDeleted: deploy-svc takes the component off its data planes. */
int
comp_events_component_deleted(struct store *s, const char *org,
    const char *component_id, const char *trace, struct error *err)
{
	Slipway__V1__ComponentDeleted cd;
	Envelope env;
	char evid[37];

	slipway__v1__component_deleted__init(&cd);
	cd.component_id = comp_events_str(component_id);
	cd.org = comp_events_str(org);
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_COMPONENT_DELETED, evid,
	    org, trace);
	env.component_deleted = &cd;
	return comp_events_write(s, component_id, &env, err);
}

/* --- consumer of slipway.registry.events ---------------------------------- */

static const char *
comp_events_auth_name(Slipway__V1__AuthType t)
{
	switch (t) {
	case SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_ANONYMOUS:     return "anonymous";
	case SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_BASIC:         return "basic";
	case SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_DOCKER_CONFIG: return "docker-config";
	case SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_VENDOR:        return "vendor";
	default:                                              return NULL;
	}
}

/* Created and Updated carry the whole registry: both upsert it. */
static int
comp_events_registry_upsert(struct store *s, const Envelope *env,
    const Slipway__V1__Registry *r, struct error *err)
{
	const char *auth;

	(void)env;
	if (r == NULL || !crypto_uuid_valid(r->registry_id) ||
	    r->org[0] == '\0' || r->host[0] == '\0' ||
	    (auth = comp_events_auth_name(r->auth_type)) == NULL) {
		error_set(err, "bad_event", "", "registry event without a valid "
		    "id, org, host or auth type");
		return -1;
	}
	return comp_store_registry_upsert(s, r->registry_id, r->org, r->host,
	    auth, err);
}

static int
comp_events_on_created(struct store *s, const Envelope *env, struct error *err)
{
	return comp_events_registry_upsert(s, env, env->registry_created != NULL ?
	    env->registry_created->registry : NULL, err);
}

static int
comp_events_on_updated(struct store *s, const Envelope *env, struct error *err)
{
	return comp_events_registry_upsert(s, env, env->registry_updated != NULL ?
	    env->registry_updated->registry : NULL, err);
}

static int
comp_events_on_deleted(struct store *s, const Envelope *env, struct error *err)
{
	const Slipway__V1__RegistryDeleted *d = env->registry_deleted;

	if (d == NULL || !crypto_uuid_valid(d->registry_id)) {
		error_set(err, "bad_event", "", "RegistryDeleted without a valid id");
		return -1;
	}
	return comp_store_registry_delete(s, d->registry_id, err);
}

static const struct comp_event_handler {
	Slipway__V1__Envelope__PayloadCase payload;
	int (*apply)(struct store *, const Envelope *, struct error *);
} comp_event_handlers[] = {
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_CREATED, comp_events_on_created },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_UPDATED, comp_events_on_updated },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_DELETED, comp_events_on_deleted },
};

static const struct comp_event_handler *
comp_events_find(Slipway__V1__Envelope__PayloadCase pc)
{
	size_t i;

	for (i = 0; i < sizeof(comp_event_handlers) /
	    sizeof(comp_event_handlers[0]); i++)
		if (comp_event_handlers[i].payload == pc)
			return &comp_event_handlers[i];
	return NULL;
}

/* Applies one event exactly once: the dedup claim and the change commit together. */
static int
comp_events_apply(struct store *s, const struct comp_event_handler *h,
    const Envelope *env, struct error *err)
{
	int first;

	if (store_begin(s, err) < 0)
		return -1;
	first = dedup_claim(s, env->event_id, COMP_CONSUMER, err);
	if (first < 0 || (first == 1 && h->apply(s, env, err) < 0)) {
		store_rollback(s);
		return -1;
	}
	if (store_commit(s, err) < 0)
		return -1;
	if (first == 0)
		log_debug("event already processed");
	return 0;
}

/*
 * A registry row just became visible: creates parked on its id (lib park.c)
 * need not wait for their next poll.
 */
static void
comp_events_wake(struct comp_ctx *ctx, const Envelope *env)
{
	const Slipway__V1__Registry *r = NULL;

	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_CREATED &&
	    env->registry_created != NULL)
		r = env->registry_created->registry;
	else if (env->payload_case ==
	    SLIPWAY__V1__ENVELOPE__PAYLOAD_REGISTRY_UPDATED &&
	    env->registry_updated != NULL)
		r = env->registry_updated->registry;
	if (r != NULL)
		park_notify(ctx->waits, r->registry_id);
}

static enum bus_result
comp_events_handle(const struct bus_message *m, void *arg, struct error *reason)
{
	struct comp_ctx *ctx = arg;
	const struct comp_event_handler *h;
	const char *type = bus_message_header(m, "event-type");
	const void *val;
	Envelope *env;
	size_t len;
	int rc;

	val = bus_message_value(m, &len);
	if (val == NULL)
		return BUS_DONE;
	if (type != NULL && strncmp(type, "Registry", 8) != 0)
		return BUS_DONE;   /* not ours to apply: skip without decoding */
	if ((env = envelope_decode(val, len, type, reason)) == NULL)
		return BUS_REJECT;
	log_ctx_set("event_id", env->event_id);
	if ((h = comp_events_find(env->payload_case)) == NULL) {
		envelope_free(env);
		return BUS_DONE;
	}
	rc = comp_events_apply(ctx->db, h, env, reason);
	if (rc == 0)
		comp_events_wake(ctx, env);
	envelope_free(env);
	if (rc == 0)
		return BUS_DONE;
	if (strcmp(reason->code, "unavailable") == 0)
		return BUS_RETRY;
	log_warnx("registry event refused: %s", reason->msg);
	return BUS_REJECT;
}

struct bus_consumer *
comp_events_consumer_new(struct comp_ctx *ctx, struct error *err)
{
	static const char *const topics[] = { TOPIC_REGISTRY_EVENTS, NULL };
	struct bus_consumer_config cfg = {
		.brokers = ctx->cfg.brokers,
		.group = COMP_CONSUMER,
		.topics = topics,
		.dlq = ctx->producer,
	};

	return bus_consumer_new(ctx->base, &cfg, comp_events_handle, ctx, err);
}
