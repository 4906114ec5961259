/*
 * agent_commands.c: slipway.dataplane.<dp>.commands, dispatched by payload
 * type through a table, and the real steps behind the apply state machine.
 *
 * Threading, and why it is this simple: the apply runs synchronously inside
 * the bus handler, on the main event-loop thread, and blocks that loop for
 * the seconds to minutes a resolve + pull + start + health check takes.
 * Commands are applied one at a time anyway, so nothing else on this loop
 * needs to flow meanwhile except the credentials consumer, and it only
 * matters while an apply WAITS for credentials it has not seen yet. That
 * wait is therefore not a blocking loop: the handler returns BUS_RETRY, the
 * loop runs (serving the credentials consumer) during the bus's redelivery
 * backoff, and after CMD_CREDS_WAIT_MS the apply proceeds anonymously.
 * Everything the blocking part needs (credentials, producer) is owned by
 * this thread, so there are no locks and no thread hand-offs. Status reports
 * are waited for with bus_producer_poll(), which serves delivery callbacks
 * without the loop.
 *
 * The one thing that must not wait for an apply is the HTTP server: a
 * liveness probe that goes unanswered through a long pull would get the
 * agent killed mid-apply. It therefore runs on a thread and event_base of
 * its own (main.c, struct agent_http) and only reads what is safe from
 * there: atomic consumer-ready flags, an engine ping with its own curl
 * handle, and the thread-safe metrics. The cost: a hung engine stalls the
 * main loop without /healthz noticing, which the apply's own timeouts (pull,
 * health wait, report) bound instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "envelope.h"
#include "metrics.h"
#include "topics.h"

/* How long an apply waits for credentials it has not seen, and a backstop. */
#define CMD_CREDS_WAIT_MS    10000
#define CMD_CREDS_ATTEMPTS   200
#define CMD_REPORT_TIMEOUT_MS 15000

/* What one ApplyDeployment's steps need besides the agent_apply itself. */
struct cmd_apply {
	struct agent_ctx *ag;
	const Envelope *cmd;
	const Slipway__V1__ApplyDeployment *ad;
};

/* Delivery outcome of one status report. */
struct cmd_delivery {
	int done;
	int ok;
};

typedef enum bus_result (*cmd_handler)(struct agent_ctx *ag,
    const struct bus_message *m, const Envelope *env, struct error *reason);

static long long
cmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const Slipway__V1__DeploymentState cmd_states[] = {
	[APPLY_RESOLVING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RESOLVING,
	[APPLY_PULLING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_PULLING,
	[APPLY_STARTING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_STARTING,
	[APPLY_RUNNING] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_RUNNING,
	[APPLY_FAILED] = SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_FAILED,
};

/*
 * protobuf-c messages hold char * even when only read while packing: this
 * is the one place const is dropped for them.
 */
static char *
cmd_str(const char *s)
{
	return (char *)(uintptr_t)(s != NULL ? s : "");
}

static void
cmd_delivered(int ok, const char *errstr, void *arg)
{
	struct cmd_delivery *d = arg;

	d->done = 1;
	d->ok = ok;
	if (!ok)
		log_warnx("status report not delivered: %s", errstr ? errstr : "?");
}

/*
 * Produces one DeploymentStatus (key = deployment id) and waits for the
 * broker's acknowledgement, so reports are ordered and never lost.
 */
static int
cmd_report_status(struct agent_ctx *ag, const Envelope *cmd,
    const char *deployment_id, const char *component_id, const char *env_name,
    enum agent_apply_state state, const char *digest, const char *reason)
{
	Slipway__V1__DeploymentStatus st;
	Envelope env;
	struct cmd_delivery d = { 0, 0 };
	struct error err;
	char eid[37];
	long long deadline = cmd_now_ms() + CMD_REPORT_TIMEOUT_MS;

	slipway__v1__deployment_status__init(&st);
	slipway__v1__envelope__init(&env);
	st.deployment_id = cmd_str(deployment_id);
	st.component_id = cmd_str(component_id);
	st.environment = cmd_str(env_name);
	st.dataplane = cmd_str(ag->dataplane);
	st.state = cmd_states[state];
	st.digest = cmd_str(digest);
	st.reason = cmd_str(reason);
	st.observed_at_ms = cmd_now_ms();
	envelope_init(&env, SLIPWAY__V1__ENVELOPE__PAYLOAD_DEPLOYMENT_STATUS, eid,
	    cmd->org, cmd->trace_id);
	env.deployment_status = &st;
	if (envelope_produce(ag->producer, TOPIC_DATAPLANE_STATUS, deployment_id,
	    &env, cmd_delivered, &d, &err) == -1) {
		log_warnx("status report not queued: %s", err.msg);
		return -1;
	}
	while (!d.done && cmd_now_ms() < deadline)
		bus_producer_poll(ag->producer, 100);
	if (!d.done)
		log_warnx("status report not acknowledged within %d ms",
		    CMD_REPORT_TIMEOUT_MS);
	log_info("reported %s%s%s", agent_apply_state_name(state),
	    reason && reason[0] ? ": " : "", reason ? reason : "");
	return d.done && d.ok ? 0 : -1;
}

static int
cmd_op_report(void *ctx, const struct agent_apply *a)
{
	struct cmd_apply *c = ctx;

	return cmd_report_status(c->ag, c->cmd, a->deployment_id,
	    a->component_id, a->environment, a->state, a->digest, a->reason);
}

/* The credentials to present for a's registry, or NULL for anonymous. */
static const struct agent_cred *
cmd_cred_for(const struct agent_apply *a)
{
	const struct agent_cred *cr = a->cred;

	if (cr == NULL || (cr->auth_type !=
	    SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_BASIC && cr->auth_type !=
	    SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_DOCKER_CONFIG) ||
	    cr->username[0] == '\0')
		return NULL;
	/* Never hand a registry's password to another host. */
	if (!image_ref_host_equal(cr->host, a->ref.domain)) {
		log_warnx("registry host %s does not match image host %s: pulling "
		    "anonymously", cr->host, a->ref.domain);
		return NULL;
	}
	return cr;
}

static int
cmd_op_resolve(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cmd_apply *c = ctx;
	const struct agent_cred *cr = cmd_cred_for(a);
	struct oci_resolve_opts o = { c->ag->insecure,
	    cr ? cr->username : NULL, cr ? cr->password : NULL, 20 };

	if (oci_resolve(&a->ref, &o, a->digest, err) == -1)
		return -1;
	log_info("resolved %s/%s to %s", a->ref.domain, a->ref.path, a->digest);
	return 0;
}

/* "domain/path@digest": what is pulled and run, so the run is pinned. */
static void
cmd_pinned_image(const struct agent_apply *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s@%s", a->ref.domain, a->ref.path, a->digest);
}

static int
cmd_op_pull(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cmd_apply *c = ctx;
	const struct agent_cred *cr = cmd_cred_for(a);
	char image[700];

	cmd_pinned_image(a, image, sizeof(image));
	return engine_pull(c->ag->engine, image, cr ? cr->username : NULL,
	    cr ? cr->password : NULL, a->ref.domain, err);
}

/* 1 when name is a sane environment variable name. */
static int
cmd_env_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
		    || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
cmd_op_start(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cmd_apply *c = ctx;
	char image[700], port[32];
	const char *env[AGENT_ENV_MAX + 2];
	const char *labels[] = { "slipway.managed", "true", "slipway.component",
	    a->component_id, "slipway.deployment", a->deployment_id,
	    "slipway.environment", a->environment, NULL };
	struct engine_container ec = { a->container, image, env, labels };
	size_t n = 0;

	cmd_pinned_image(a, image, sizeof(image));
	if (a->port > 0) {
		snprintf(port, sizeof(port), "PORT=%d", a->port);
		env[n++] = port;
	}
	for (size_t i = 0; a->env != NULL && a->env[i] != NULL && n <
	    AGENT_ENV_MAX; i++)
		env[n++] = a->env[i];
	env[n] = NULL;
	/* Same name on every run: a re-delivered command replaces, not duplicates. */
	if (engine_remove(c->ag->engine, a->container, err) == -1 ||
	    engine_create(c->ag->engine, &ec, err) == -1 ||
	    engine_start(c->ag->engine, a->container, err) == -1)
		return -1;
	log_info("started container %s from %s", a->container, image);
	return 0;
}

/*
 * Web apps and HTTP-shaped endpoints (REST, GraphQL, WS) must answer an HTTP
 * request; for TCP, UDP and gRPC endpoints an accepted connection suffices.
 */
static int
cmd_speaks_http(const struct agent_apply *a)
{
	static const char *const http_types[] = { "REST", "GraphQL", "WS" };

	if (a->component_type != NULL && strcmp(a->component_type, "web-app") == 0)
		return 1;
	for (size_t i = 0; a->endpoint_type != NULL &&
	    i < sizeof(http_types) / sizeof(http_types[0]); i++)
		if (strcmp(a->endpoint_type, http_types[i]) == 0)
			return 1;
	return 0;
}

static int
cmd_op_health(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cmd_apply *c = ctx;
	int http = cmd_speaks_http(a);

	return agent_health_wait(c->ag->engine, a->container, a->port, http,
	    c->ag->health_timeout_s, err);
}

/* Builds "K=V" strings for the command's env (PORT stays ours). */
static char **
cmd_env_list(const Slipway__V1__ApplyDeployment *ad)
{
	char **v = calloc(AGENT_ENV_MAX + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < ad->n_env && n < AGENT_ENV_MAX; i++) {
		const Slipway__V1__EnvVar *e = ad->env[i];
		size_t nl = e->name ? strlen(e->name) : 0;
		size_t vl = e->value ? strlen(e->value) : 0;
		if (!cmd_env_name_valid(e->name, nl) || vl > 32768 ||
		    strcmp(e->name, "PORT") == 0 ||
		    (v[n] = malloc(nl + vl + 2)) == NULL)
			continue;
		snprintf(v[n++], nl + vl + 2, "%s=%s", e->name, e->value);
	}
	return v;
}

static void
cmd_env_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* 1 when the command names what we need, within the caps. */
static int
cmd_apply_valid(const Slipway__V1__ApplyDeployment *ad)
{
	return ad != NULL && ad->deployment_id && ad->deployment_id[0] &&
	    strlen(ad->deployment_id) < AGENT_ID_MAX && ad->component_id &&
	    ad->component_id[0] && ad->environment && ad->environment[0] &&
	    ad->image && strlen(ad->image) < IMAGE_REF_MAX && ad->port <= 65535;
}

/*
 * Finds the registry credentials; while they are unknown and attempts
 * remain, asks for a redelivery so the loop can read the credentials topic.
 */
static int
cmd_apply_creds(struct agent_ctx *ag, const struct bus_message *m,
    const Slipway__V1__ApplyDeployment *ad, struct agent_cred *cr, int *have)
{
	*have = 0;
	if (ad->registry_id == NULL || ad->registry_id[0] == '\0')
		return 0;
	if (agent_creds_lookup(ag->creds, ad->registry_id, cr) == 0) {
		*have = 1;
		return 0;
	}
	/* Redeliveries of the same command share one wait window. */
	if (bus_message_attempt(m) == 1 ||
	    strcmp(ag->waiting_for, ad->deployment_id) != 0) {
		snprintf(ag->waiting_for, sizeof(ag->waiting_for), "%s",
		    ad->deployment_id);
		ag->waiting_since_ms = cmd_now_ms();
	}
	if (cmd_now_ms() - ag->waiting_since_ms < CMD_CREDS_WAIT_MS &&
	    bus_message_attempt(m) < CMD_CREDS_ATTEMPTS) {
		log_info("credentials of registry %s not known yet: waiting",
		    ad->registry_id);
		return -1;
	}
	log_warnx("credentials of registry %s still unknown: pulling "
	    "anonymously", ad->registry_id);
	return 0;
}

/*
 * The host port the container listens on ($PORT) and is health-checked at:
 * the first endpoint's port, moved by the environment's offset when several
 * environments share this host (agent_ports.c).
 */
static int
cmd_host_port(const struct agent_ctx *ag, const Slipway__V1__ApplyDeployment *ad)
{
	int offset = 0;

	if (ad->port == 0 || agent_ports_offset(ag->port_offsets,
	    ad->environment, &offset) == -1 || offset == 0)
		return (int)ad->port;
	if ((int)ad->port + offset > 65535) {
		log_warnx("port %u + offset %d of %s is past 65535: using %u",
		    ad->port, offset, ad->environment, ad->port);
		return (int)ad->port;
	}
	log_info("environment %s serves on port %d (endpoint port %u + %d)",
	    ad->environment, (int)ad->port + offset, ad->port, offset);
	return (int)ad->port + offset;
}

static enum bus_result
cmd_apply(struct agent_ctx *ag, const struct bus_message *m,
    const Envelope *env, struct error *reason)
{
	const Slipway__V1__ApplyDeployment *ad = env->apply_deployment;
	struct cmd_apply c = { ag, env, ad };
	struct agent_apply_ops ops = { cmd_op_resolve, cmd_op_pull, cmd_op_start,
	    cmd_op_health, cmd_op_report, &c };
	struct agent_apply *a;
	struct agent_cred *cr;
	char **envv;
	int have, rc, port;
	long long t0 = cmd_now_ms();

	if (!cmd_apply_valid(ad)) {
		error_set(reason, "invalid_command", "", "ApplyDeployment misses "
		    "ids or image, or exceeds a cap");
		return BUS_REJECT;
	}
	log_ctx_set("deployment_id", ad->deployment_id);
	if ((cr = calloc(1, sizeof(*cr))) == NULL ||
	    (a = calloc(1, sizeof(*a))) == NULL) {
		free(cr);
		return BUS_RETRY;
	}
	if (cmd_apply_creds(ag, m, ad, cr, &have) == -1) {
		free(a);
		free(cr);
		return BUS_RETRY;
	}
	envv = cmd_env_list(ad);
	port = cmd_host_port(ag, ad);
	*a = (struct agent_apply){ .deployment_id = ad->deployment_id,
	    .component_id = ad->component_id, .component_type =
	    ad->component_type, .endpoint_type = ad->endpoint_type,
	    .environment = ad->environment, .image = ad->image,
	    .pinned_digest = ad->digest, .port = port,
	    .env = (const char *const *)envv, .cred = have ? cr : NULL };
	rc = agent_apply_run(a, &ops);
	if (rc == 0) {
		metrics_inc("slipway_agent_applies_total", a->state == APPLY_RUNNING
		    ? "result=\"running\"" : "result=\"failed\"");
		metrics_observe_ms("slipway_agent_apply_ms", NULL,
		    (double)(cmd_now_ms() - t0));
	}
	cmd_env_free(envv);
	agent_cred_wipe(cr);
	free(cr);
	free(a);
	/* A lost report re-runs the whole apply: it is idempotent. */
	return rc == 0 ? BUS_DONE : BUS_RETRY;
}

static enum bus_result
cmd_remove(struct agent_ctx *ag, const struct bus_message *m,
    const Envelope *env, struct error *reason)
{
	const Slipway__V1__RemoveComponent *rc = env->remove_component;
	char name[300];
	struct error err;

	(void)m;
	if (rc == NULL || agent_apply_container_name(rc->component_id,
	    rc->environment, name, sizeof(name)) == -1) {
		error_set(reason, "invalid_command", "", "RemoveComponent with an "
		    "invalid component id or environment");
		return BUS_REJECT;
	}
	if (engine_remove(ag->engine, name, &err) == -1) {
		log_warnx("remove %s: %s", name, err.msg);
		return BUS_RETRY;
	}
	log_info("removed container %s", name);
	return BUS_DONE;
}

/* Tasks need a run-to-completion runtime this agent does not have yet. */
static enum bus_result
cmd_run_task(struct agent_ctx *ag, const struct bus_message *m,
    const Envelope *env, struct error *reason)
{
	const Slipway__V1__RunTask *rt = env->run_task;

	(void)m;
	if (rt == NULL || rt->deployment_id == NULL || rt->deployment_id[0] == '\0') {
		error_set(reason, "invalid_command", "", "RunTask without ids");
		return BUS_REJECT;
	}
	log_ctx_set("deployment_id", rt->deployment_id);
	return cmd_report_status(ag, env, rt->deployment_id, rt->component_id,
	    rt->environment, APPLY_FAILED, "", "start_failed: scheduled and "
	    "manual tasks are not supported by this agent yet") == 0 ?
	    BUS_DONE : BUS_RETRY;
}

static const struct {
	Slipway__V1__Envelope__PayloadCase type;
	cmd_handler handler;
} cmd_table[] = {
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT, cmd_apply },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_REMOVE_COMPONENT, cmd_remove },
	{ SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK, cmd_run_task },
};

enum bus_result
agent_commands_handle(const struct bus_message *m, void *arg,
    struct error *reason)
{
	struct agent_ctx *ag = arg;
	enum bus_result r = BUS_DONE;
	const void *val;
	size_t len = 0, i;
	Envelope *env;

	if ((val = bus_message_value(m, &len)) == NULL)
		return BUS_DONE;     /* tombstones mean nothing on this topic */
	env = envelope_decode(val, len, bus_message_header(m, "event-type"),
	    reason);
	if (env == NULL)
		return BUS_REJECT;
	log_ctx_set("event_id", env->event_id);
	for (i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		if (cmd_table[i].type == env->payload_case)
			break;
	if (i < sizeof(cmd_table) / sizeof(cmd_table[0]))
		r = cmd_table[i].handler(ag, m, env, reason);
	else
		log_info("ignoring %s on the commands topic", env->type);
	envelope_free(env);
	log_ctx_clear();
	return r;
}
