/*
 * agent_cutover.c: the real steps behind the apply machine, and the jobs a
 * slot runs (apply, remove, restart).
 *
 * A cutover starts the new version beside the one serving, health-checks
 * it on its own published port, adds it to the gateway, drains the old one
 * and removes it. The record's `serving` moves at the commit point, right
 * after the gateway routes the new version: before it, any failure (or a
 * crash of the agent) leaves the old version serving and the new one is
 * discarded; after it, the new one serves and the old one is only retired.
 * running is reported at the commit point; the drain happens after it, so a
 * deployment's latency does not include the drain time.
 *
 * A task's apply has no container: its commit point is the pin step, where
 * the record starts saying the task's deployment (and digest) is what the
 * environment runs; the scheduler (agent_sched.c) is told at once. A
 * SetSchedule job changes a ready task's settings in the same record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "agent.h"
#include "gateway.h"
#include "metrics.h"

#define CUTOVER_CREDS_WAIT_MS 10000
#define CUTOVER_STABLE_MS     2000   /* no port to probe: must stay up this long */
#define CUTOVER_STOP_S        10     /* SIGTERM -> SIGKILL for a retired version */
#define CUTOVER_BACKOFF_MAX_MS 60000
#define CUTOVER_STABLE_RESET_MS 60000  /* up this long: backoff starts over */
#define CUTOVER_DRAIN_MIN_MS  1000   /* of the drain, even with a deploy waiting */

/* What the apply's steps share. */
struct cutover {
	struct agent_ctx *ag;
	struct agent_slot *slot;
	const void *cmd;
	size_t len;
	struct agent_cred cred;
	int have_cred;
	int routed;                         /* the gateway was touched */
	/* the version that served before, retired after the commit */
	char old_container[AGENT_NAME_MAX];
	char old_dep[AGENT_ID_MAX];
	struct engine_port old_ports[AGENT_ENDPOINTS_MAX];
	size_t old_nports;
	struct agent_address addr[AGENT_ENDPOINTS_MAX];
	size_t naddr;
};

static void cutover_tidy(struct agent_ctx *ag, const struct agent_slot *sl,
    const char *keep);

static int
cutover_stopping(const struct agent_ctx *ag)
{
	return atomic_load(&ag->stopping);
}

/* Sleeps ms unless the agent stops; 1 when it does. */
static int
cutover_sleep(const struct agent_ctx *ag, int ms)
{
	for (; ms > 0 && !cutover_stopping(ag); ms -= 50)
		usleep((useconds_t)(ms < 50 ? ms : 50) * 1000);
	return cutover_stopping(ag);
}

/*
 * A step's failure: when the agent is stopping, the engine calls were
 * aborted (engine_abort), which is no verdict on the deployment; it stays
 * journaled and runs again at the next start.
 */
static int
cutover_failed(const struct agent_ctx *ag, struct error *err)
{
	if (cutover_stopping(ag))
		error_set(err, "stopping", "", "the agent is stopping");
	return -1;
}

/* --- ports and addresses ---------------------------------------------------- */

/* The host port publishing container port (tcp/udp), or 0. */
static int
cutover_host_port(const struct engine_port *p, size_t n, int port, int udp)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].container_port == port && p[i].udp == udp)
			return p[i].host_port;
	return 0;
}

static int
cutover_udp(const struct agent_endpoint *e)
{
	return strcmp(e->type, "UDP") == 0;
}

/* 1 when (port, udp) is among the first n of p. */
static int
cutover_listed(const struct engine_port *p, size_t n, int port, int udp)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].container_port == port && p[i].udp == udp)
			return 1;
	return 0;
}

/* The distinct (port, protocol) pairs of the endpoints, to publish. */
static size_t
cutover_publish(const struct agent_spec *s, struct engine_port *out)
{
	size_t n = 0;

	for (int i = 0; i < s->nep; i++) {
		int udp = cutover_udp(&s->ep[i]);
		if (!cutover_listed(out, n, s->ep[i].port, udp))
			out[n++] = (struct engine_port){ s->ep[i].port, udp, 0 };
	}
	return n;
}

/* "d-<12 hex of the deployment>-<port>": a new port is a new server. */
static void
cutover_server_name(const char *dep, int port, char *buf, size_t len)
{
	char hex[13];
	size_t k = 0;

	for (const char *p = dep; *p && k < 12; p++)
		if (*p != '-')
			hex[k++] = *p;
	hex[k] = '\0';
	snprintf(buf, len, "d-%s-%d", hex, port);
}

static void
cutover_target_init(const struct agent_spec *s, struct gateway_target *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->component_id, sizeof(t->component_id), "%s", s->component_id);
	snprintf(t->environment, sizeof(t->environment), "%s", s->environment);
	snprintf(t->org, sizeof(t->org), "%s", s->org);
	snprintf(t->project, sizeof(t->project), "%s", s->project);
	snprintf(t->component, sizeof(t->component), "%s", s->component);
	for (int i = 0; i < s->nep && t->nendpoints < GATEWAY_ENDPOINTS_MAX; i++) {
		struct gateway_endpoint *ge;
		if (cutover_udp(&s->ep[i]))
			continue;
		ge = &t->endpoints[t->nendpoints++];
		snprintf(ge->name, sizeof(ge->name), "%s", s->ep[i].name);
		snprintf(ge->type, sizeof(ge->type), "%s", s->ep[i].type);
		snprintf(ge->visibility, sizeof(ge->visibility), "%s",
		    s->ep[i].visibility);
		snprintf(ge->context, sizeof(ge->context), "%s",
		    agent_spec_http(&s->ep[i]) ? s->ep[i].context : "");
	}
}

/* Adds one version (its ports) to every endpoint of t in state st. */
static void
cutover_target_add(struct gateway_target *t, const struct agent_spec *s,
    const char *dep, const struct engine_port *ports, size_t nports,
    enum gateway_server_state st)
{
	int k = 0;

	for (int i = 0; i < s->nep; i++) {
		struct gateway_endpoint *ge;
		int hp;
		if (cutover_udp(&s->ep[i]))
			continue;
		ge = &t->endpoints[k++];
		hp = cutover_host_port(ports, nports, s->ep[i].port, 0);
		if (hp <= 0 || ge->nservers >= GATEWAY_SERVERS_MAX)
			continue;
		cutover_server_name(dep, hp, ge->servers[ge->nservers].name,
		    sizeof(ge->servers[0].name));
		ge->servers[ge->nservers].port = hp;
		ge->servers[ge->nservers++].state = st;
	}
}

void
agent_cutover_target(const struct agent_spec *s,
    const struct engine_port *ports, size_t nports, struct gateway_target *t)
{
	cutover_target_init(s, t);
	cutover_target_add(t, s, s->deployment_id, ports, nports, GATEWAY_READY);
}

/* 1 when the slot's environment is routed through the gateway. */
static int
cutover_gatewayed(const struct agent_ctx *ag, const struct agent_spec *s)
{
	return ag->gateway != NULL &&
	    gateway_has_environment(ag->gateway, s->environment);
}

/* Routes exactly the versions given (NULL dep: none) for spec s. */
static int
cutover_route(struct agent_ctx *ag, const struct agent_spec *s,
    const char *dep_a, const struct engine_port *pa, size_t na,
    enum gateway_server_state sa, const char *dep_b,
    const struct engine_port *pb, size_t nb, struct error *err)
{
	struct gateway_target *t;
	int rc;

	if (!cutover_gatewayed(ag, s))
		return 0;
	if ((t = malloc(sizeof(*t))) == NULL) {
		error_set(err, "gateway_failed", "", "gateway_failed: out of memory");
		return -1;
	}
	cutover_target_init(s, t);
	if (dep_a != NULL)
		cutover_target_add(t, s, dep_a, pa, na, sa);
	if (dep_b != NULL)
		cutover_target_add(t, s, dep_b, pb, nb, GATEWAY_READY);
	rc = gateway_apply(ag->gateway, t, err);
	free(t);
	return rc;
}

/* Removes every route of s's component and environment (404 from then on). */
static int
cutover_unroute(struct agent_ctx *ag, const struct agent_spec *s,
    struct error *err)
{
	struct gateway_target t;

	if (!cutover_gatewayed(ag, s))
		return 0;
	cutover_target_init(s, &t);
	t.nendpoints = 0;
	return gateway_apply(ag->gateway, &t, err);
}

/* Each endpoint's address: the gateway's, or where it is published. */
static size_t
cutover_addresses(struct agent_ctx *ag, const struct agent_spec *s,
    const struct engine_port *ports, size_t nports, struct agent_address *out)
{
	struct gateway_target t;
	size_t n = 0;
	int gi = 0;

	cutover_target_init(s, &t);
	for (int i = 0; i < s->nep; i++) {
		const struct agent_endpoint *e = &s->ep[i];
		struct agent_address *a = &out[n++];
		int udp = cutover_udp(e);
		int hp = cutover_host_port(ports, nports, e->port, udp);
		snprintf(a->name, sizeof(a->name), "%s", e->name);
		snprintf(a->type, sizeof(a->type), "%s", e->type);
		snprintf(a->visibility, sizeof(a->visibility), "%s", e->visibility);
		if (!udp && cutover_gatewayed(ag, s) && gateway_url(ag->gateway, &t,
		    gi, a->url, sizeof(a->url)) == 0) {
			gi++;
			continue;
		}
		gi += !udp;
		snprintf(a->url, sizeof(a->url), "%s://127.0.0.1:%d%s", udp ? "udp" :
		    agent_spec_http(e) ? "http" : "tcp", hp,
		    agent_spec_http(e) ? e->context : "");
	}
	return n;
}

/* --- the steps -------------------------------------------------------------- */

static int
cutover_report(void *ctx, const struct agent_apply *a)
{
	struct cutover *c = ctx;
	struct agent_report r = { a->spec, agent_report_state_of(a->state),
	    a->digest, a->reason, a->state == APPLY_FAILED ? &a->ev : NULL,
	    NULL, 0 };

	if (a->state == APPLY_RUNNING) {
		r.addr = c->addr;
		r.naddr = c->naddr;
	}
	return agent_report_send(c->ag, &r);
}

/*
 * The credentials for a's registry, waiting a while for ones the
 * credentials topic has not delivered yet (just after a start, or a
 * registry created a moment ago).
 */
static int
cutover_creds(struct agent_ctx *ag, const char *registry_id,
    struct agent_cred *out)
{
	long long deadline = clock_mono_ms() + CUTOVER_CREDS_WAIT_MS;

	if (registry_id[0] == '\0')
		return -1;
	while (agent_creds_lookup(ag->creds, registry_id, out) == -1) {
		if (clock_mono_ms() >= deadline || cutover_sleep(ag, 100)) {
			log_warnx("credentials of registry %s unknown: pulling "
			    "anonymously", registry_id);
			return -1;
		}
	}
	return 0;
}

/* 1 when cr may be presented to domain (else: anonymous). */
static int
cutover_cred_usable(const struct agent_cred *cr, const char *domain)
{
	if ((cr->auth_type != SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_BASIC &&
	    cr->auth_type != SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_DOCKER_CONFIG) ||
	    cr->username[0] == '\0')
		return 0;
	/* Never hand a registry's password to another host. */
	if (!image_ref_host_equal(cr->host, domain)) {
		log_warnx("registry host %s does not match image host %s: pulling "
		    "anonymously", cr->host, domain);
		return 0;
	}
	return 1;
}

int
agent_cutover_cred(struct agent_ctx *ag, const char *registry_id,
    const char *domain, struct agent_cred *out)
{
	if (cutover_creds(ag, registry_id, out) == -1)
		return -1;
	if (!cutover_cred_usable(out, domain)) {
		agent_cred_wipe(out);
		return -1;
	}
	return 0;
}

/* The credentials to present for a's image host, or NULL for anonymous. */
static const struct agent_cred *
cutover_cred_for(const struct cutover *c, const struct agent_apply *a)
{
	return c->have_cred && cutover_cred_usable(&c->cred, a->ref.domain) ?
	    &c->cred : NULL;
}

static int
cutover_resolve(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	const struct agent_cred *cr;
	struct oci_resolve_opts o = { .insecure = c->ag->insecure,
	    .timeout_s = 20, .targets = c->ag->targets };

	/* Without its configuration a version never starts (agent_spec.c). */
	if (a->spec->env_error[0] != '\0') {
		error_set(err, "config_unsealed", "", "%s", a->spec->env_error);
		return -1;
	}
	c->have_cred = cutover_creds(c->ag, a->spec->registry_id, &c->cred) == 0;
	if ((cr = cutover_cred_for(c, a)) != NULL) {
		o.username = cr->username;
		o.password = cr->password;
	}
	if (oci_resolve(&a->ref, &o, a->digest, err) == -1)
		return cutover_failed(c->ag, err);
	log_info("resolved %s/%s to %s", a->ref.domain, a->ref.path, a->digest);
	return 0;
}

/* "domain/path@digest": what is pulled and run, so the run is pinned. */
static void
cutover_pinned(const struct agent_apply *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s@%s", a->ref.domain, a->ref.path, a->digest);
}

static int
cutover_pull(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	const struct agent_cred *cr = cutover_cred_for(c, a);
	char image[700];

	cutover_pinned(a, image, sizeof(image));
	/*
	 * Pinned by digest, an image the engine has is this very image, and the
	 * resolve step has just made the registry confirm, with this
	 * component's credentials, that it may have it.
	 */
	if (engine_image_present(c->ag->engine, image)) {
		log_info("%s is present: no pull", image);
		return 0;
	}
	if (engine_pull(c->ag->engine, image, cr ? cr->username : NULL,
	    cr ? cr->password : NULL, a->ref.domain, err) == -1)
		return cutover_failed(c->ag, err);
	return 0;
}

/* Component limits, or the agent's defaults where the component sets none. */
void
agent_cutover_limits(const struct agent_ctx *ag,
    const struct agent_resources *r, struct engine_container *ec)
{
	const struct agent_resources *d = &ag->defaults;
	long long mb = r->memory_mb ? r->memory_mb : d->memory_mb;
	long long mc = r->cpu_millicores ? r->cpu_millicores : d->cpu_millicores;

	ec->memory_bytes = mb * 1024 * 1024;
	ec->nano_cpus = mc * 1000000;
	ec->pids = r->pids ? r->pids : d->pids;
	ec->read_only_rootfs = r->read_only_rootfs || d->read_only_rootfs;
}

/*
 * Creates and starts container name for spec s from image, then reads
 * back its published ports. The same name on every run: a re-run after a
 * crash replaces what the previous run left.
 */
static int
cutover_create(struct agent_ctx *ag, const struct agent_spec *s,
    const char *name, const char *image, const char *digest,
    struct engine_port *ports, size_t *nports, struct error *err)
{
	const char *env[AGENT_ENV_MAX + 2];
	const char *labels[] = { "slipway.managed", "true", "slipway.component",
	    s->component_id, "slipway.deployment", s->deployment_id,
	    "slipway.environment", s->environment, "slipway.digest", digest,
	    "slipway.dataplane", ag->dataplane, NULL };
	struct engine_port pub[AGENT_ENDPOINTS_MAX];
	struct engine_container ec = { name, image, env, labels, ag->network, pub,
	    cutover_publish(s, pub), 0, 0, 0, 0, NULL };
	struct engine_state st;
	char port[32];
	size_t n = 0;

	agent_cutover_limits(ag, &s->res, &ec);
	if (s->nep > 0) {
		snprintf(port, sizeof(port), "PORT=%d", s->ep[0].port);
		env[n++] = port;
	}
	for (size_t i = 0; s->env != NULL && s->env[i] != NULL && n < AGENT_ENV_MAX;
	    i++)
		env[n++] = s->env[i];
	env[n] = NULL;
	if (engine_remove(ag->engine, name, err) == -1 ||
	    engine_create(ag->engine, &ec, err) == -1 ||
	    engine_start(ag->engine, name, err) == -1 ||
	    engine_inspect(ag->engine, name, &st, err) == -1)
		return -1;
	memcpy(ports, st.ports, sizeof(st.ports));
	*nports = st.nports;
	log_info("started container %s from %s", name, image);
	return 0;
}

static int
cutover_start(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	char image[700];

	cutover_pinned(a, image, sizeof(image));
	if (cutover_create(c->ag, a->spec, a->container, image, a->digest,
	    a->ports, &a->nports, err) == -1)
		return cutover_failed(c->ag, err);
	return 0;
}

/* The probe of spec s's version published on ports. */
static void
cutover_probe(const struct agent_ctx *ag, const struct agent_spec *s,
    const struct engine_port *ports, size_t nports, struct agent_probe *p)
{
	const struct agent_health_spec *h = &s->health;
	const struct agent_endpoint *e = NULL;

	for (int i = 0; i < s->nep && e == NULL; i++)
		if (!cutover_udp(&s->ep[i]) && (h->port == 0 ||
		    s->ep[i].port == h->port))
			e = &s->ep[i];
	memset(p, 0, sizeof(*p));
	p->host_port = e ? cutover_host_port(ports, nports, e->port, 0) : 0;
	p->http = e ? agent_spec_http(e) : 0;
	p->path = h->path[0] ? h->path : e && e->context[0] ? e->context : "/";
	p->timeout_s = h->timeout_s ? h->timeout_s : ag->health_timeout_s;
	p->period_ms = h->period_s ? h->period_s * 1000 : AGENT_PROBE_MS;
	p->threshold = h->success_threshold;
	p->stable_ms = CUTOVER_STABLE_MS;
}

static int
cutover_health(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	struct agent_probe p;
	long long t0 = clock_mono_ms(), ms;

	cutover_probe(c->ag, a->spec, a->ports, a->nports, &p);
	if (agent_health_wait(c->ag->engine, a->container, &p, &c->ag->stopping,
	    &a->ev, err) == 0) {
		/* Logged apart: the app's start-up is not the apply's cost. */
		ms = clock_mono_ms() - t0;
		metrics_observe_ms("slipway_agent_health_ms", NULL, (double)ms);
		log_info("healthy after %lld ms", ms);
		return 0;
	}
	if (cutover_stopping(c->ag)) {
		error_set(err, "stopping", "", "the agent is stopping");
		return -1;
	}
	agent_health_evidence(c->ag->engine, a->container, &a->ev);
	return -1;
}

/* The commit point: the record says the new version serves. */
static int
cutover_commit(struct cutover *c, struct agent_apply *a, struct error *err)
{
	struct agent_slot *sl = c->slot;
	struct agent_record rec = sl->rec;
	void *cmd;

	if (rec.serving[0] != '\0')
		agent_record_finish(&rec, rec.serving, REPORT_RUNNING, "superseded");
	snprintf(rec.serving, sizeof(rec.serving), "%s", a->spec->deployment_id);
	snprintf(rec.digest, sizeof(rec.digest), "%s", a->digest);
	/* A new deployment carries the component's current task settings. */
	rec.task_set = 0;
	memset(&rec.task, 0, sizeof(rec.task));
	if ((cmd = malloc(c->len)) == NULL ||
	    agent_journal_record_save(c->ag->journal, &rec, c->cmd, c->len,
	    err) == -1) {
		free(cmd);
		return -1;
	}
	memcpy(cmd, c->cmd, c->len);
	sl->rec = rec;
	free(sl->serving_cmd);
	sl->serving_cmd = cmd;
	sl->serving_len = c->len;
	agent_spec_clear(&sl->serving);
	if (agent_cutover_load_serving(sl) == -1)
		log_warnx("serving command does not decode again");
	/* A task has no container to watch: its executions have their own. */
	snprintf(sl->container, sizeof(sl->container), "%s",
	    agent_spec_is_task(a->spec) ? "" : a->container);
	memcpy(sl->ports, a->ports, sizeof(a->ports));
	sl->nports = agent_spec_is_task(a->spec) ? 0 : a->nports;
	sl->crashed = 0;
	sl->restarts = 0;
	sl->next_restart_ms = 0;
	sl->recovered_ms = 0;
	return 0;
}

static int
cutover_route_step(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	struct agent_slot *sl = c->slot;
	const char *dep = a->spec->deployment_id;
	int has_old = sl->rec.serving[0] != '\0' && sl->container[0] != '\0';

	/*
	 * One change: the new version in, the old one draining. The gateway
	 * adds before it drains, so there is always a server to answer.
	 */
	c->routed = 1;
	if (cutover_route(c->ag, a->spec, has_old ? sl->rec.serving : NULL,
	    sl->ports, sl->nports, GATEWAY_DRAIN, dep, a->ports, a->nports,
	    err) == -1)
		return -1;
	if (has_old) {
		snprintf(c->old_container, sizeof(c->old_container), "%s",
		    sl->container);
		snprintf(c->old_dep, sizeof(c->old_dep), "%s", sl->rec.serving);
		memcpy(c->old_ports, sl->ports, sizeof(sl->ports));
		c->old_nports = sl->nports;
	}
	if (cutover_commit(c, a, err) == -1)
		return -1;
	/* A task served here before: it is not scheduled any more. */
	agent_sched_serve(c->ag->sched, a->spec, a->digest, NULL);
	c->naddr = cutover_addresses(c->ag, a->spec, a->ports, a->nports,
	    c->addr);
	return 0;
}

const struct workload_task *
agent_cutover_task(const struct agent_slot *sl)
{
	return sl->rec.task_set ? &sl->rec.task : &sl->serving.task;
}

/*
 * A task's commit point: the record says its deployment and digest run
 * here, and the scheduler takes its settings. A service that served the
 * slot before (the component changed type) is unrouted and removed.
 */
static int
cutover_pin(void *ctx, struct agent_apply *a, struct error *err)
{
	struct cutover *c = ctx;
	struct agent_slot *sl = c->slot;
	int had_service = sl->rec.serving[0] != '\0' && sl->container[0] != '\0';
	struct error uerr;

	if (had_service && cutover_unroute(c->ag, &sl->serving, &uerr) == -1)
		log_warnx("gateway: %s", uerr.msg);
	if (cutover_commit(c, a, err) == -1)
		return -1;
	if (had_service)
		cutover_tidy(c->ag, sl, NULL);
	agent_sched_serve(c->ag->sched, &sl->serving, sl->rec.digest,
	    agent_cutover_task(sl));
	log_info("task %s pinned to %s", a->spec->deployment_id, a->digest);
	return 0;
}

/*
 * Removes every container of the slot except keep (leftovers); never a
 * task's executions: their watcher ends them (agent_execs.c).
 */
static void
cutover_tidy(struct agent_ctx *ag, const struct agent_slot *sl,
    const char *keep)
{
	struct engine_summary *v;
	struct error err;
	size_t n;

	if (engine_list(ag->engine, &v, &n, &err) == -1) {
		log_warnx("tidy: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].component, sl->component_id) == 0 &&
		    strcmp(v[i].environment, sl->environment) == 0 &&
		    v[i].execution[0] == '\0' &&
		    (v[i].dataplane[0] == '\0' ||
		    strcmp(v[i].dataplane, ag->dataplane) == 0) &&
		    (keep == NULL || strcmp(v[i].name, keep) != 0)) {
			log_info("removing container %s", v[i].name);
			if (engine_retire(ag->engine, v[i].name, CUTOVER_STOP_S,
			    &err) == -1)
				log_warnx("remove %s: %s", v[i].name, err.msg);
		}
	free(v);
}

static void
cutover_retire(void *ctx, struct agent_apply *a)
{
	struct cutover *c = ctx;
	struct error err;

	if (c->old_container[0] != '\0') {
		/*
		 * Connections to the old version finish during the drain. A
		 * next deployment of this slot waiting behind it cuts the drain
		 * short (after CUTOVER_DRAIN_MIN_MS): back-to-back deploys do
		 * not each wait the whole drain.
		 */
		for (int ms = 0; ms < c->ag->drain_s * 1000; ms += 50) {
			if (cutover_sleep(c->ag, 50))
				return;   /* the next start removes it */
			if (ms >= CUTOVER_DRAIN_MIN_MS &&
			    agent_slots_waiting(c->ag->slots, c->slot))
				break;
		}
		if (cutover_route(c->ag, a->spec, a->spec->deployment_id, a->ports,
		    a->nports, GATEWAY_READY, NULL, NULL, 0, &err) == -1)
			log_warnx("gateway: %s", err.msg);
	}
	cutover_tidy(c->ag, c->slot, a->container);
}

static void
cutover_discard(void *ctx, struct agent_apply *a)
{
	struct cutover *c = ctx;
	struct agent_slot *sl = c->slot;
	struct error err;

	if (agent_spec_is_task(a->spec))
		return;   /* nothing was started */
	if (c->routed && cutover_route(c->ag, a->spec, sl->rec.serving[0] ?
	    sl->rec.serving : NULL, sl->ports, sl->nports, GATEWAY_READY, NULL,
	    NULL, 0, &err) == -1)
		log_warnx("gateway: cannot restore the old route: %s", err.msg);
	if (engine_remove(c->ag->engine, a->container, &err) == -1)
		log_warnx("remove %s: %s", a->container, err.msg);
	else
		log_info("removed the new container %s; %s", a->container,
		    sl->rec.serving[0] ? "the running version keeps serving" :
		    "nothing was serving");
}

/* --- jobs ------------------------------------------------------------------- */

int
agent_cutover_load_serving(struct agent_slot *slot)
{
	struct error err;
	Envelope *env;
	int rc;

	agent_spec_clear(&slot->serving);
	memset(&slot->serving, 0, sizeof(slot->serving));
	if (slot->serving_cmd == NULL || (env = envelope_decode(slot->serving_cmd,
	    slot->serving_len, NULL, &err)) == NULL)
		return -1;
	rc = agent_spec_from_apply(env, &slot->serving, &err);
	envelope_free(env);
	return rc;
}

/* Reports the serving version's state again (a redelivered command). */
static int
cutover_rereport(struct agent_ctx *ag, struct agent_slot *sl,
    const struct agent_spec *s)
{
	struct agent_address addr[AGENT_ENDPOINTS_MAX];
	struct agent_report r = { s, sl->crashed ? REPORT_CRASHED :
	    REPORT_RUNNING, "", "", NULL, addr, 0 };

	log_info("deployment %s is already serving: re-reporting",
	    s->deployment_id);
	if (agent_spec_is_task(s)) {
		r = (struct agent_report){ s, REPORT_READY, sl->rec.digest, "",
		    NULL, NULL, 0 };
		return agent_report_send(ag, &r);
	}
	r.naddr = cutover_addresses(ag, s, sl->ports, sl->nports, addr);
	cutover_tidy(ag, sl, sl->container);
	return agent_report_send(ag, &r);
}

/* The index of dep in the record's finished list, or -1. */
static int
cutover_finished_index(const struct agent_slot *sl, const char *dep)
{
	for (int i = 0; i < sl->rec.nfinished; i++)
		if (strcmp(sl->rec.finished[i].id, dep) == 0)
			return i;
	return -1;
}

/* Runs the machine for spec s; records a failure so a redelivery re-reports. */
static int
cutover_apply_spec(struct agent_ctx *ag, struct agent_slot *sl,
    const struct agent_spec *s, const void *cmd, size_t len)
{
	struct cutover c = { .ag = ag, .slot = sl, .cmd = cmd, .len = len };
	struct agent_apply_ops ops = { cutover_resolve, cutover_pull,
	    cutover_start, cutover_health, cutover_route_step, cutover_pin,
	    cutover_retire, cutover_discard, cutover_report, &c };
	struct agent_apply *a = calloc(1, sizeof(*a));
	struct error err;
	long long t0 = clock_mono_ms();
	int rc;

	if (a == NULL)
		return -1;
	a->spec = s;
	rc = agent_apply_run(a, &ops);
	agent_cred_wipe(&c.cred);
	if (rc == 0 && a->state == APPLY_FAILED) {
		struct agent_record rec = sl->rec;
		agent_record_finish(&rec, s->deployment_id, REPORT_FAILED, a->reason);
		if (agent_journal_record_save(ag->journal, &rec, NULL, 0, &err) == 0)
			sl->rec = rec;
		else
			log_warnx("%s", err.msg);
	}
	if (rc == 0) {
		metrics_inc("slipway_agent_applies_total", a->state == APPLY_RUNNING
		    ? "result=\"running\"" : a->state == APPLY_READY ?
		    "result=\"ready\"" : "result=\"failed\"");
		metrics_observe_ms("slipway_agent_apply_ms", NULL,
		    (double)(clock_mono_ms() - t0));
	}
	free(a);
	return rc;
}

static int
cutover_apply(struct agent_ctx *ag, struct agent_slot *sl, const void *cmd,
    size_t len)
{
	struct agent_spec s;
	struct error err;
	Envelope *env;
	int rc, idx;

	if ((env = envelope_decode(cmd, len, NULL, &err)) == NULL ||
	    agent_spec_from_apply(env, &s, &err) == -1) {
		log_warnx("journaled command unusable: %s: dropped", err.msg);
		envelope_free(env);
		return 0;
	}
	envelope_free(env);
	if (strcmp(sl->rec.serving, s.deployment_id) == 0)
		rc = cutover_rereport(ag, sl, &s);
	else if ((idx = cutover_finished_index(sl, s.deployment_id)) >= 0) {
		struct agent_report r = { &s, sl->rec.finished[idx].state, "",
		    sl->rec.finished[idx].reason, NULL, NULL, 0 };
		log_info("deployment %s finished here already: %s", s.deployment_id,
		    r.state == REPORT_FAILED ? "re-reporting failed" : "superseded");
		rc = r.state == REPORT_FAILED ? agent_report_send(ag, &r) : 0;
	} else
		rc = cutover_apply_spec(ag, sl, &s, cmd, len);
	agent_spec_clear(&s);
	return rc;
}

/*
 * RemoveComponent: the routes go, then the schedule (no new run starts),
 * the executions (stopped by their watcher, each reported failed with the
 * reason), the containers and the record.
 */
static int
cutover_remove(struct agent_ctx *ag, struct agent_slot *sl)
{
	struct error err;
	int n;

	if (sl->rec.serving[0] != '\0' && cutover_unroute(ag, &sl->serving,
	    &err) == -1) {
		log_warnx("gateway: %s", err.msg);
		return -1;
	}
	agent_sched_forget(ag->sched, sl->component_id, sl->environment);
	if ((n = agent_execs_cancel(ag->execs, sl->component_id, sl->environment,
	    "removed: the component was removed from this environment")) > 0)
		log_info("stopping %d execution(s) of the removed component", n);
	cutover_tidy(ag, sl, NULL);
	agent_journal_record_remove(ag->journal, sl->component_id,
	    sl->environment);
	memset(&sl->rec, 0, sizeof(sl->rec));
	snprintf(sl->rec.component_id, AGENT_ID_MAX, "%s", sl->component_id);
	snprintf(sl->rec.environment, AGENT_ID_MAX, "%s", sl->environment);
	free(sl->serving_cmd);
	sl->serving_cmd = NULL;
	agent_spec_clear(&sl->serving);
	sl->container[0] = '\0';
	sl->nports = 0;
	log_info("removed component %s from %s", sl->component_id,
	    sl->environment);
	return 0;
}

/* Starts the serving container again, or recreates it when it is gone. */
static int
cutover_revive(struct agent_ctx *ag, struct agent_slot *sl,
    struct agent_evidence *ev, struct error *err)
{
	const struct agent_spec *s = &sl->serving;
	struct engine_state st;
	struct agent_probe p;
	struct image_ref ref;
	char image[700];

	if (engine_inspect(ag->engine, sl->container, &st, err) == -1)
		return -1;
	if (st.exists) {
		if (engine_start(ag->engine, sl->container, err) == -1 ||
		    engine_inspect(ag->engine, sl->container, &st, err) == -1)
			return -1;
		memcpy(sl->ports, st.ports, sizeof(st.ports));
		sl->nports = st.nports;
	} else {
		/* Removed behind our back: the same pinned image again. */
		if (image_ref_parse(s->image, &ref, err) == -1 ||
		    sl->rec.digest[0] == '\0') {
			error_set(err, "start_failed", "", "start_failed: container "
			    "%s is gone and its digest unknown", sl->container);
			return -1;
		}
		snprintf(image, sizeof(image), "%s/%s@%s", ref.domain, ref.path,
		    sl->rec.digest);
		if (cutover_create(ag, s, sl->container, image, sl->rec.digest,
		    sl->ports, &sl->nports, err) == -1)
			return -1;
	}
	cutover_probe(ag, s, sl->ports, sl->nports, &p);
	if (agent_health_wait(ag->engine, sl->container, &p, &ag->stopping, ev,
	    err) == -1)
		return -1;
	/* A restart may publish on other host ports: a new server each. */
	return cutover_route(ag, s, s->deployment_id, sl->ports, sl->nports,
	    GATEWAY_READY, NULL, NULL, 0, err);
}

/*
 * The serving container stopped: report crashed once (with its exit code
 * and log tail), restart it, and report running again when healthy. Each
 * attempt waits longer before the next (1 s doubling to a minute); a
 * version that then stays up for CUTOVER_STABLE_RESET_MS starts over at
 * an immediate restart, so a crash loop backs off and a rare crash does not.
 */
static int
cutover_restart(struct agent_ctx *ag, struct agent_slot *sl)
{
	struct agent_evidence ev;
	struct agent_address addr[AGENT_ENDPOINTS_MAX];
	struct agent_report r = { &sl->serving, REPORT_CRASHED, "", "", &ev,
	    NULL, 0 };
	struct error err;
	char reason[AGENT_REASON_MAX];
	long long now = clock_mono_ms(), wait;

	if (sl->rec.serving[0] == '\0' || sl->serving.deployment_id[0] == '\0')
		return 0;
	memset(&ev, 0, sizeof(ev));
	agent_health_evidence(ag->engine, sl->container, &ev);
	if (!sl->crashed) {
		if (now - sl->recovered_ms > CUTOVER_STABLE_RESET_MS)
			sl->restarts = 0;
		snprintf(reason, sizeof(reason), "crashed: container exited with "
		    "code %d; restarting", ev.exit_code);
		r.reason = reason;
		if (agent_report_send(ag, &r) == -1)
			return 0;   /* the watcher tries again */
		sl->crashed = 1;
		sl->crash_exit_code = ev.exit_code;
	}
	log_info("restarting %s (attempt %d)", sl->container, sl->restarts + 1);
	wait = 1000LL << (sl->restarts < 6 ? sl->restarts : 6);
	sl->next_restart_ms = now + (wait < CUTOVER_BACKOFF_MAX_MS ? wait :
	    CUTOVER_BACKOFF_MAX_MS);
	sl->restarts++;
	if (cutover_revive(ag, sl, &ev, &err) == -1) {
		/*
		 * Stopped again, so the watcher sees it down and retries after
		 * the backoff: a restarted but never healthy container must not
		 * look like one that runs.
		 */
		log_warnx("restart of %s failed: %s", sl->container, err.msg);
		engine_stop(ag->engine, sl->container, CUTOVER_STOP_S);
		return 0;
	}
	snprintf(reason, sizeof(reason), "recovered: restarted after the "
	    "container exited with code %d", sl->crash_exit_code);
	r = (struct agent_report){ &sl->serving, REPORT_RUNNING, "", reason, NULL,
	    addr, cutover_addresses(ag, &sl->serving, sl->ports, sl->nports,
	    addr) };
	if (agent_report_send(ag, &r) == 0) {
		sl->crashed = 0;
		sl->recovered_ms = clock_mono_ms();
	}
	return 0;
}

/*
 * SetSchedule: the ready task's settings change without a redeploy, in
 * its record (so they survive a restart). One for another deployment than
 * the one the slot runs is stale (or early) and ignored.
 */
static int
cutover_schedule(struct agent_ctx *ag, struct agent_slot *sl, const void *cmd,
    size_t len)
{
	const Slipway__V1__SetSchedule *ss;
	struct agent_record rec = sl->rec;
	struct workload_task t;
	struct error err;
	Envelope *env;

	if ((env = envelope_decode(cmd, len, NULL, &err)) == NULL ||
	    (ss = env->set_schedule) == NULL ||
	    workload_task_from_proto(ss->task, &t, &err) == -1) {
		log_warnx("SetSchedule unusable: dropped");
		envelope_free(env);
		return 0;
	}
	if (strcmp(sl->rec.serving, ss->deployment_id) != 0 ||
	    !agent_spec_is_task(&sl->serving)) {
		log_info("SetSchedule for %s ignored: %s is what runs here",
		    ss->deployment_id, sl->rec.serving[0] ? sl->rec.serving :
		    "nothing");
		envelope_free(env);
		return 0;
	}
	envelope_free(env);
	if (strcmp(sl->serving.type, "manual-task") == 0)
		t.schedule[0] = t.timezone[0] = '\0';
	rec.task_set = 1;
	rec.task = t;
	if (agent_journal_record_save(ag->journal, &rec, NULL, 0, &err) == -1) {
		log_warnx("%s", err.msg);
		return -1;
	}
	sl->rec = rec;
	agent_sched_serve(ag->sched, &sl->serving, sl->rec.digest, &sl->rec.task);
	log_info("schedule of %s set to \"%s\" (%s, %s)", sl->rec.serving,
	    t.schedule, t.timezone, t.concurrency_policy);
	return 0;
}

int
agent_cutover_job(struct agent_ctx *ag, struct agent_slot *slot,
    enum agent_job_kind kind, const void *cmd, size_t len)
{
	int rc;

	for (;;) {
		switch (kind) {
		case JOB_APPLY:
			rc = cutover_apply(ag, slot, cmd, len);
			break;
		case JOB_REMOVE:
			rc = cutover_remove(ag, slot);
			break;
		case JOB_SCHEDULE:
			rc = cutover_schedule(ag, slot, cmd, len);
			break;
		case JOB_RESTART:
		default:
			return cutover_restart(ag, slot);
		}
		/* A report that did not get through: the job is idempotent. */
		if (rc == 0 || cutover_sleep(ag, 1000))
			return rc;
		log_warnx("job did not complete: retrying");
	}
}
