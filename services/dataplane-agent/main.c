/*
 * main.c: the data-plane agent. `dataplane-agent keygen --out FILE` makes
 * the data plane's keypair; `dataplane-agent render --out DIR` writes the
 * Kubernetes objects it would apply as YAML (agent_render.c); without a subcommand it runs: it replays the
 * sealed credentials of its data plane, applies the commands sent to it and
 * reports their progress. The main loop only consumes and journals
 * commands (agent_commands.c); applies run on worker threads (agent_slots.c).
 * HTTP :8084 serves /healthz, /readyz and /metrics only, on a thread of its
 * own (lib http.h io_thread, /readyz there too), so the probes answer even
 * while the start-up reconcile or a stuck engine call holds the main thread.
 *
 * Tasks: executions run on threads of agent_execs.c, the scheduler on its
 * own (agent_sched.c). The state directory is locked (flock) at start-up:
 * a second agent on the same directory waits AGENT_LOCK_WAIT_S for it (a
 * previous agent still stopping) and then refuses to start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "agent.h"
#include "clock.h"
#include "gateway.h"
#include "kube.h"
#include "bus_security.h"
#include "config.h"
#include "crypto.h"
#include "envelope.h"
#include "http.h"
#include "regauth.h"
#include "service.h"
#include "topics.h"

#define AGENT_SERVICE "dataplane-agent"
#define AGENT_STOP_MS 8000   /* SIGTERM ends within 10 s */
#define AGENT_LOCK_WAIT_S 15

struct agent_config {
	char *http_addr;
	int http_port;
	char *brokers;
	char *dataplane;
	char *key_file;
	char *engine_socket;
	char *insecure;
	struct regauth_policy targets;
	int health_timeout_s;
	char *state_dir;
	char *network;
	int workers;
	int drain_s;
	int memory_mb, cpu_millicores, pids, read_only_rootfs;
	char *gw_dir, *gw_socket, *gw_master, *gw_listeners, *gw_tcp_ports;
	char *test_clock;
	char *runtime;
	char *kube_server, *kube_token_file, *kube_ca_file;
	char *kube_routes, *kube_public_gw, *kube_internal_gw;
	char *kube_public_host, *kube_internal_host;
	char *kube_public_class, *kube_internal_class, *kube_l4_type;
};

/* Everything the running agent owns; freed by agent_stop. */
struct agent {
	struct agent_config cfg;
	struct agent_keys keys;
	struct agent_ctx ctx;
	struct bus_consumer *creds_consumer;
	struct bus_consumer *cmd_consumer;
	struct http_server *http;   /* probes: see agent_ready */
	char cmd_topic[128];
	char creds_topic[128];
	char group[128];
};

static struct agent agent;

static const struct config_var agent_vars[] = {
	CONFIG_VAR_HTTP_ADDR(&agent.cfg.http_addr),
	CONFIG_VAR_HTTP_PORT("8084", &agent.cfg.http_port),
	CONFIG_VAR_KAFKA_BROKERS(&agent.cfg.brokers),
	CONFIG_VARS_KAFKA_SECURITY,
	{ "SLIPWAY_DATAPLANE", CONFIG_STRING, "local", 0,
	  "name of this data plane", &agent.cfg.dataplane },
	{ "SLIPWAY_DATAPLANE_KEY_FILE", CONFIG_KEY_FILE, NULL, CONFIG_REQUIRED,
	  "keypair file written by `dataplane-agent keygen`",
	  &agent.cfg.key_file },
	{ "SLIPWAY_RUNTIME", CONFIG_STRING, "podman", 0,
	  "what runs components: podman (a Docker Engine API socket) or "
	  "kubernetes (an API server)", &agent.cfg.runtime },
	{ "SLIPWAY_ENGINE_SOCKET", CONFIG_STRING, "", 0,
	  "Docker Engine API unix socket (required with SLIPWAY_RUNTIME=podman)",
	  &agent.cfg.engine_socket },
	{ "SLIPWAY_KUBE_SERVER", CONFIG_STRING, "", 0,
	  "Kubernetes API server URL (https://host:port); empty = in-cluster "
	  "service account", &agent.cfg.kube_server },
	{ "SLIPWAY_KUBE_TOKEN_FILE", CONFIG_STRING, "", 0,
	  "file holding the bearer token for the API server; empty = the "
	  "service account's", &agent.cfg.kube_token_file },
	{ "SLIPWAY_KUBE_CA_FILE", CONFIG_STRING, "", 0,
	  "CA bundle the API server's certificate is checked against; empty = "
	  "the service account's (in-cluster) or the system's",
	  &agent.cfg.kube_ca_file },
	{ "SLIPWAY_KUBE_ROUTES", CONFIG_STRING, "gateway", 0,
	  "kubernetes: Public and Organization endpoints as Gateway API routes "
	  "(gateway) or Ingresses (ingress)", &agent.cfg.kube_routes },
	{ "SLIPWAY_KUBE_PUBLIC_GATEWAY", CONFIG_STRING,
	  "slipway-system/slipway-public", 0, "kubernetes: <namespace>/<name> of "
	  "the Gateway Public endpoints' routes attach to",
	  &agent.cfg.kube_public_gw },
	{ "SLIPWAY_KUBE_INTERNAL_GATEWAY", CONFIG_STRING,
	  "slipway-system/slipway-internal", 0, "kubernetes: <namespace>/<name> "
	  "of the Gateway Organization endpoints' routes attach to",
	  &agent.cfg.kube_internal_gw },
	{ "SLIPWAY_KUBE_PUBLIC_HOST", CONFIG_STRING, "apps.slipway.example", 0,
	  "kubernetes: the hostname of Public endpoints' routes (and addresses)",
	  &agent.cfg.kube_public_host },
	{ "SLIPWAY_KUBE_INTERNAL_HOST", CONFIG_STRING,
	  "internal.slipway.example", 0, "kubernetes: the hostname of "
	  "Organization endpoints' routes (and addresses)",
	  &agent.cfg.kube_internal_host },
	{ "SLIPWAY_KUBE_INGRESS_CLASS", CONFIG_STRING, "", 0,
	  "kubernetes, ingress routes: the IngressClass of Public endpoints "
	  "(empty = the cluster's default)", &agent.cfg.kube_public_class },
	{ "SLIPWAY_KUBE_INTERNAL_INGRESS_CLASS", CONFIG_STRING, "", 0,
	  "kubernetes, ingress routes: the IngressClass of Organization "
	  "endpoints (empty = the cluster's default)",
	  &agent.cfg.kube_internal_class },
	{ "SLIPWAY_KUBE_L4_SERVICE_TYPE", CONFIG_STRING, "LoadBalancer", 0,
	  "kubernetes: the Service type of TCP and UDP endpoints (ClusterIP, "
	  "NodePort, LoadBalancer)", &agent.cfg.kube_l4_type },
	{ "SLIPWAY_INSECURE_REGISTRIES", CONFIG_STRING, "", 0,
	  "comma list of host:port registries reached over plain http",
	  &agent.cfg.insecure },
	CONFIG_VAR_ALLOW_PRIVATE_TARGETS(&agent.cfg.targets),
	{ "SLIPWAY_HEALTH_TIMEOUT_S", CONFIG_INT, "60", 0,
	  "seconds a new version has to become healthy (components may set "
	  "their own)", &agent.cfg.health_timeout_s },
	{ "SLIPWAY_AGENT_STATE_DIR", CONFIG_STRING, "agent-state", 0,
	  "directory of the agent's journal: accepted commands, what serves",
	  &agent.cfg.state_dir },
	{ "SLIPWAY_ENGINE_NETWORK", CONFIG_STRING, "slirp4netns", 0,
	  "network of every container: slirp4netns (podman) or a user-defined "
	  "bridge network (dockerd); never the host's", &agent.cfg.network },
	{ "SLIPWAY_APPLY_WORKERS", CONFIG_INT, "4", 0,
	  "applies of different components that run at once",
	  &agent.cfg.workers },
	{ "SLIPWAY_DRAIN_S", CONFIG_INT, "5", 0,
	  "seconds the old version keeps its connections after a cutover",
	  &agent.cfg.drain_s },
	{ "SLIPWAY_DEFAULT_MEMORY_MB", CONFIG_INT, "512", 0,
	  "memory limit of a container whose component sets none",
	  &agent.cfg.memory_mb },
	{ "SLIPWAY_DEFAULT_CPU_MILLICORES", CONFIG_INT, "1000", 0,
	  "CPU limit (1000 = one core) of a container whose component sets none",
	  &agent.cfg.cpu_millicores },
	{ "SLIPWAY_DEFAULT_PIDS", CONFIG_INT, "512", 0,
	  "process limit of a container whose component sets none",
	  &agent.cfg.pids },
	{ "SLIPWAY_READ_ONLY_ROOTFS", CONFIG_INT, "0", 0,
	  "1 = every container's root filesystem read-only",
	  &agent.cfg.read_only_rootfs },
	{ "SLIPWAY_GATEWAY_SOCKET", CONFIG_STRING, "", 0,
	  "HAProxy runtime API socket (level admin); empty = no gateway, "
	  "endpoints reached on their published ports", &agent.cfg.gw_socket },
	{ "SLIPWAY_GATEWAY_MASTER_SOCKET", CONFIG_STRING, "", 0,
	  "HAProxy master CLI socket (reloads)", &agent.cfg.gw_master },
	{ "SLIPWAY_GATEWAY_DIR", CONFIG_STRING, "", 0,
	  "directory of the haproxy.cfg and maps the agent writes",
	  &agent.cfg.gw_dir },
	{ "SLIPWAY_GATEWAY_LISTENERS", CONFIG_STRING,
	  "development=127.0.0.1:9080,127.0.0.1:9180;"
	  "production=127.0.0.1:9081,127.0.0.1:9181", 0,
	  "per environment: public,internal listener", &agent.cfg.gw_listeners },
	{ "SLIPWAY_GATEWAY_TCP_PORTS", CONFIG_STRING, "9300-9399", 0,
	  "ports of TCP and GRPC endpoints' listeners", &agent.cfg.gw_tcp_ports },
	{ "SLIPWAY_TEST_CLOCK", CONFIG_STRING, "", 0,
	  "TEST ONLY: \"<anchor_epoch_s>:<scale>\" runs the scheduler's and the "
	  "executions' clock at scale (1-3600) times real time from the anchor "
	  "(now = anchor + (real - anchor) * scale; keep the anchor across "
	  "restarts); empty = real time", &agent.cfg.test_clock },
};
#define AGENT_NVARS (sizeof(agent_vars) / sizeof(agent_vars[0]))

static int
agent_usage(void)
{
	fprintf(stderr, "usage: dataplane-agent keygen --out FILE [--force]\n"
	    "       dataplane-agent render --out DIR [--pull-secrets] "
	    "[component-id...]\n"
	    "       dataplane-agent [--check-config | --help]\n");
	return 2;
}

/* `keygen --out FILE [--force]`: exit status. */
static int
agent_keygen(int argc, char **argv)
{
	const char *out = NULL;
	int force = 0;
	struct error err;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else
			return agent_usage();
	}
	if (out == NULL)
		return agent_usage();
	crypto_init();
	if (agent_keys_generate(out, force, &err) == -1) {
		fprintf(stderr, "dataplane-agent keygen: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/*
 * /readyz, run on the probe (I/O) thread: both consumers have partitions
 * and the engine answers (engine_ping waits at most 2 s, so a hung engine
 * delays the probes queued behind it by that much, never more). What it
 * reads is safe there: the consumers are freed only after the probe server,
 * bus_consumer_ready() reads an atomic flag, the runtime's ping and
 * gateway_ping use a connection of their own per call, and the slots'
 * readiness is a flag under their lock.
 */
static int
agent_ready(void *arg, char *why, size_t whylen)
{
	struct agent *a = arg;

	if (!bus_consumer_ready(a->creds_consumer)) {
		snprintf(why, whylen, "credentials consumer not assigned");
		return 0;
	}
	if (!bus_consumer_ready(a->cmd_consumer)) {
		snprintf(why, whylen, "commands consumer not assigned");
		return 0;
	}
	if (!agent_runtime_of(&a->ctx)->ping(&a->ctx)) {
		snprintf(why, whylen, "%s runtime does not answer",
		    agent_runtime_of(&a->ctx)->name);
		return 0;
	}
	if (a->ctx.gateway != NULL && !gateway_ping(a->ctx.gateway)) {
		snprintf(why, whylen, "gateway (HAProxy) does not answer");
		return 0;
	}
	if (!agent_slots_ready(a->ctx.slots)) {
		snprintf(why, whylen, "gateway not loaded yet: applies wait");
		return 0;
	}
	return 1;
}

/*
 * The probe server, on the I/O thread of lib http (io_thread) with
 * agent_ready run there too: its routes are the built-in probes only.
 */
static void
agent_http_start(struct agent *a, struct event_base *base)
{
	struct http_server_config hc = { .service = AGENT_SERVICE,
	    .addr = a->cfg.http_addr, .port = a->cfg.http_port,
	    .ready = agent_ready, .io_thread = 1, .ready_on_io = 1 };
	struct error err;

	if ((a->http = http_server_new(base, &hc, NULL, 0, a, &err)) == NULL)
		fatal("http: %s", err.msg);
}

static void
agent_stop(void *arg)
{
	struct agent *a = arg;

	/* First, so nothing the probes read is freed under them. */
	http_server_free(a->http);
	a->http = NULL;
	/* A cutover in progress stops before its commit point: old serves. */
	if (a->ctx.slots != NULL)
		agent_slots_stop(a->ctx.slots, AGENT_STOP_MS);
	/* Executions keep running: the next start adopts them. */
	agent_sched_stop(a->ctx.sched, clock_mono_ms() + 1000);
	agent_execs_stop(a->ctx.execs, clock_mono_ms() + 1000);
	bus_consumer_free(a->cmd_consumer);
	bus_consumer_free(a->creds_consumer);
	if (a->ctx.producer != NULL)
		bus_producer_flush(a->ctx.producer, 2000);
	if (agent_slots_busy(a->ctx.slots) || agent_execs_busy(a->ctx.execs) ||
	    agent_sched_busy(a->ctx.sched))
		return;   /* a thread still runs: exit without freeing under it */
	bus_producer_free(a->ctx.producer);
	agent_sched_free(a->ctx.sched);
	agent_execs_free(a->ctx.execs);
	agent_slots_free(a->ctx.slots);
	gateway_free(a->ctx.gateway);
	agent_journal_free(a->ctx.journal);
	agent_creds_free(a->ctx.creds);
	engine_free(a->ctx.engine);
	kube_free(a->ctx.kube);
	agent_keys_wipe(&a->keys);
	curl_global_cleanup();
	config_free(agent_vars, AGENT_NVARS);
}

/* Topics and names derived from the data-plane name. */
static void
agent_names(struct agent *a)
{
	if (!dataplane_name_valid(a->cfg.dataplane))
		fatal("SLIPWAY_DATAPLANE %s is not a valid data-plane name",
		    a->cfg.dataplane);
	if (topic_dataplane_commands(a->cfg.dataplane, a->cmd_topic,
	    sizeof(a->cmd_topic)) == -1 || topic_dataplane_credentials(
	    a->cfg.dataplane, a->creds_topic, sizeof(a->creds_topic)) == -1)
		fatal("data-plane topic names do not fit");
	snprintf(a->group, sizeof(a->group), "dataplane-agent-%s",
	    a->cfg.dataplane);
}

/*
 * deploy-svc creates these topics when the data plane is registered; on a
 * bus without ACLs the agent makes sure of them too. With ACLs it may not
 * create topics: bus_topic_ensure logs the refusal and the consumers wait
 * for the topics to appear.
 */
static void
agent_topics(struct agent *a)
{
	char dlq[160];
	/* Rejected commands go to <commands>.dlq. */
	const char *const plain[] = { a->cmd_topic, dlq, TOPIC_DATAPLANE_STATUS,
	    NULL };
	const char *const compacted[] = { a->creds_topic, NULL };
	struct error err;

	snprintf(dlq, sizeof(dlq), "%s.dlq", a->cmd_topic);
	if (bus_topic_ensure(a->cfg.brokers, plain, TOPIC_PARTITIONS, 0, 15000,
	    &err) == -1 || bus_topic_ensure(a->cfg.brokers, compacted,
	    TOPIC_PARTITIONS, 1, 15000, &err) == -1)
		fatal("cannot ensure topics: %s", err.msg);
}

static void
agent_consumers(struct agent *a, struct event_base *base)
{
	const char *const creds_topics[] = { a->creds_topic, NULL };
	const char *const cmd_topics[] = { a->cmd_topic, NULL };
	struct bus_consumer_config cc = { a->cfg.brokers, NULL, creds_topics,
	    NULL };
	struct bus_consumer_config mc = { a->cfg.brokers, a->group, cmd_topics,
	    a->ctx.producer };
	struct error err;

	a->creds_consumer = bus_consumer_new(base, &cc, agent_creds_handle,
	    a->ctx.creds, &err);
	if (a->creds_consumer == NULL)
		fatal("credentials consumer: %s", err.msg);
	a->cmd_consumer = bus_consumer_new(base, &mc, agent_commands_handle,
	    &a->ctx, &err);
	if (a->cmd_consumer == NULL)
		fatal("commands consumer: %s", err.msg);
}

/* The gateway, when one is configured; NULL (logged) when not. */
static struct gateway *
agent_gateway(const struct agent_config *c)
{
	struct gateway_config gc = { c->gw_dir, c->gw_socket, c->gw_master,
	    c->gw_listeners, c->gw_tcp_ports };
	struct gateway *g;
	struct error err;

	if (c->gw_socket[0] == '\0') {
		log_warnx("no SLIPWAY_GATEWAY_SOCKET: endpoints are reached on "
		    "their published 127.0.0.1 ports, without a gateway");
		return NULL;
	}
	if (c->gw_dir[0] == '\0' || c->gw_master[0] == '\0')
		fatal("SLIPWAY_GATEWAY_DIR and SLIPWAY_GATEWAY_MASTER_SOCKET are "
		    "required with SLIPWAY_GATEWAY_SOCKET");
	if ((g = gateway_new(&gc, &err)) == NULL)
		fatal("gateway: %s", err.msg);
	return g;
}

/* SLIPWAY_RUNTIME: the row of agent_runtime.c, and its client. */
static void
agent_runtime_open(struct agent *a)
{
	const struct agent_config *c = &a->cfg;
	struct kube_config kc = { c->kube_server, c->kube_token_file,
	    c->kube_ca_file, 20 };
	struct error err;

	if ((a->ctx.runtime = agent_runtime_find(c->runtime)) == NULL)
		fatal("SLIPWAY_RUNTIME %s: not podman or kubernetes", c->runtime);
	if (strcmp(c->runtime, "kubernetes") != 0) {
		if (c->engine_socket[0] == '\0')
			fatal("SLIPWAY_ENGINE_SOCKET is required with SLIPWAY_RUNTIME=%s",
			    c->runtime);
		return;
	}
	struct kube_routes_input ri = { c->kube_routes, c->kube_public_gw,
	    c->kube_internal_gw, c->kube_public_host, c->kube_internal_host,
	    c->kube_public_class, c->kube_internal_class, c->kube_l4_type };

	if (kube_routes_config(&a->ctx.kube_routes, &ri, &err) == -1)
		fatal("SLIPWAY_KUBE_*: %s", err.msg);
	if ((a->ctx.kube = kube_new(&kc, &err)) == NULL)
		fatal("SLIPWAY_KUBE_*: %s", err.msg);
	log_info("runtime kubernetes: API server %s", c->kube_server[0] ?
	    c->kube_server : "in-cluster");
}

static void
agent_context(struct agent *a)
{
	const struct agent_config *c = &a->cfg;
	struct error err;

	a->ctx = (struct agent_ctx){ .dataplane = c->dataplane,
	    .insecure = c->insecure, .network = c->network,
	    .health_timeout_s = c->health_timeout_s > 0 ? c->health_timeout_s : 60,
	    .drain_s = c->drain_s, .workers = c->workers > 0 ? c->workers : 4,
	    .defaults = { c->memory_mb, c->cpu_millicores, c->pids,
	    c->read_only_rootfs },
	    .engine = engine_new(c->engine_socket),
	    .creds = agent_creds_new(&a->keys), .targets = &c->targets };
	if (a->ctx.engine == NULL || a->ctx.creds == NULL)
		fatal("out of memory");
	if ((a->ctx.journal = agent_journal_open(c->state_dir, &err)) == NULL)
		fatal("SLIPWAY_AGENT_STATE_DIR: %s", err.msg);
	if (agent_journal_lock(a->ctx.journal, AGENT_LOCK_WAIT_S, &err) == -1)
		fatal("SLIPWAY_AGENT_STATE_DIR: %s", err.msg);
	if (agent_clock_configure(c->test_clock, &err) == -1)
		fatal("%s", err.msg);
	a->ctx.gateway = agent_gateway(c);
	agent_runtime_open(a);
	if ((a->ctx.slots = agent_slots_new(&a->ctx)) == NULL ||
	    (a->ctx.execs = agent_execs_new(&a->ctx)) == NULL ||
	    (a->ctx.sched = agent_sched_new(&a->ctx)) == NULL)
		fatal("out of memory");
}

/*
 * Reconciles the engine before any command is consumed or any worker runs,
 * so the leftover removal never races an apply; the workers then wait for
 * the watcher's first gateway load (agent_slots.c).
 */
static void
agent_start(struct agent *a, struct event_base *base)
{
	struct error err;

	agent_names(a);
	if (agent_keys_load(a->cfg.key_file, &a->keys, &err) == -1)
		fatal("SLIPWAY_DATAPLANE_KEY_FILE: %s", err.msg);
	agent_spec_keys(&a->keys);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
	agent_context(a);
	agent_http_start(a, base);
	agent_topics(a);
	a->ctx.producer = bus_producer_new(base, a->cfg.brokers, a->group, &err);
	if (a->ctx.producer == NULL)
		fatal("producer: %s", err.msg);
	if (!agent_runtime_of(&a->ctx)->ping(&a->ctx))
		log_warnx("the %s runtime does not answer yet",
		    agent_runtime_of(&a->ctx)->name);
	if (agent_reconcile(&a->ctx, &err) == -1)
		log_warnx("reconcile: %s (the watcher and the next commands go on)",
		    err.msg);
	if (agent_slots_start(a->ctx.slots, &err) == -1 ||
	    agent_execs_start(a->ctx.execs, &err) == -1 ||
	    agent_sched_start(a->ctx.sched, &err) == -1)
		fatal("%s", err.msg);
	agent_consumers(a, base);
	log_info("data plane %s: commands %s, credentials %s, %d workers",
	    a->cfg.dataplane, a->cmd_topic, a->creds_topic, a->ctx.workers);
}

/*
 * `render --out DIR [--pull-secrets] [component-id...]`: the objects the
 * Kubernetes runtime would apply for what the records serve, as YAML
 * (agent_render.c), from the same configuration as the agent's; exit
 * status. Reads the state directory only, so it may run beside the agent.
 */
static int
agent_render_cmd(int argc, char **argv)
{
	struct agent_render_opts o = { 0 };
	struct agent *a = &agent;
	const struct agent_config *c = &a->cfg;
	struct kube_routes_input ri;
	struct error err;
	int n;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			o.out = argv[++i];
		else if (strcmp(argv[i], "--pull-secrets") == 0)
			o.pull_secrets = 1;
		else if (argv[i][0] == '-')
			return agent_usage();
		else if (o.components == NULL) {
			o.components = &argv[i];
			o.ncomponents = (size_t)(argc - i);
			break;
		}
	}
	if (o.out == NULL)
		return agent_usage();
	for (size_t i = 0; i < o.ncomponents; i++)
		if (!agent_spec_name_valid(o.components[i]))
			return agent_usage();
	if (config_load(agent_vars, AGENT_NVARS, &err) != 0) {
		fprintf(stderr, "dataplane-agent render: %s\n", err.msg);
		return 1;
	}
	crypto_init();
	if (agent_keys_load(c->key_file, &a->keys, &err) == -1) {
		fprintf(stderr, "dataplane-agent render: %s\n", err.msg);
		return 1;
	}
	agent_spec_keys(&a->keys);
	ri = (struct kube_routes_input){ c->kube_routes, c->kube_public_gw,
	    c->kube_internal_gw, c->kube_public_host, c->kube_internal_host,
	    c->kube_public_class, c->kube_internal_class, c->kube_l4_type };
	a->ctx = (struct agent_ctx){ .dataplane = c->dataplane,
	    .health_timeout_s = c->health_timeout_s > 0 ? c->health_timeout_s : 60,
	    .defaults = { c->memory_mb, c->cpu_millicores, c->pids,
	    c->read_only_rootfs } };
	if (kube_routes_config(&a->ctx.kube_routes, &ri, &err) == -1 ||
	    (a->ctx.journal = agent_journal_open(c->state_dir, &err)) == NULL ||
	    (n = agent_render(&a->ctx, &o, &err)) == -1) {
		fprintf(stderr, "dataplane-agent render: %s\n", err.msg);
		agent_journal_free(a->ctx.journal);
		return 1;
	}
	agent_journal_free(a->ctx.journal);
	agent_keys_wipe(&a->keys);
	fprintf(stderr, "dataplane-agent render: %d component(s) into %s\n", n,
	    o.out);
	return 0;
}

int
main(int argc, char **argv)
{
	struct event_base *base;

	if (argc > 1 && strcmp(argv[1], "keygen") == 0)
		return agent_keygen(argc, argv);
	if (argc > 1 && strcmp(argv[1], "render") == 0)
		return agent_render_cmd(argc, argv);
	if (argc > 1 && argv[1][0] != '-')
		return agent_usage();
	config_main(argc, argv, agent_vars, AGENT_NVARS);
	base = service_init(AGENT_SERVICE);
	agent_start(&agent, base);
	service_run(base, agent_stop, &agent);
	return 0;
}
