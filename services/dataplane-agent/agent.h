/*
 * agent.h: the data-plane agent's private interfaces (one header per service).
 *
 * The agent reads its data plane's commands and sealed registry credentials
 * from Kafka, resolves image tags to digests through the OCI distribution
 * API, runs the pinned image through a Docker Engine API socket, health-checks
 * it and reports every step on slipway.dataplane.status.
 */
#ifndef SLIPWAY_AGENT_H
#define SLIPWAY_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "crypto.h"
#include "imageref.h"
#include "bus.h"

/* Caps on what the agent accepts from the bus and the network. */
#define AGENT_ID_MAX        128     /* ids, environment names */
#define AGENT_USER_MAX      512
#define AGENT_PASSWORD_MAX  16384   /* GAR passwords are service-account JSON */
#define AGENT_REASON_MAX    256
#define AGENT_DIGEST_MAX    136
#define AGENT_ENV_MAX       64      /* environment variables per container */

/* agent_keys.c */
struct agent_keys {
	unsigned char pk[CRYPTO_PK_LEN];
	unsigned char sk[CRYPTO_SK_LEN];
};
/* Writes a fresh keypair file (mode 0600) and prints the public key. */
int agent_keys_generate(const char *path, int force, struct error *err);
int agent_keys_load(const char *path, struct agent_keys *k, struct error *err);
void agent_keys_wipe(struct agent_keys *k);

/* agent_creds.c */
/* One registry's credentials as the agent holds them in memory. */
struct agent_cred {
	char registry_id[AGENT_ID_MAX];
	char host[256];
	int auth_type;                 /* Slipway__V1__AuthType */
	char username[AGENT_USER_MAX];
	char password[AGENT_PASSWORD_MAX];
};
struct agent_creds;
struct agent_creds *agent_creds_new(const struct agent_keys *keys);
void agent_creds_free(struct agent_creds *c);
/* Bus handler for slipway.dataplane.<dp>.credentials (arg = agent_creds). */
enum bus_result agent_creds_handle(const struct bus_message *m, void *arg,
    struct error *reason);
/* Copies the entry into out (caller wipes it); 0 found, -1 unknown. */
int agent_creds_lookup(struct agent_creds *c, const char *registry_id,
    struct agent_cred *out);
size_t agent_creds_count(const struct agent_creds *c);
void agent_cred_wipe(struct agent_cred *cr);

/* oci_challenge.c: WWW-Authenticate parsing (pure, fuzzed) */
enum oci_scheme { OCI_SCHEME_NONE, OCI_SCHEME_BASIC, OCI_SCHEME_BEARER,
	OCI_SCHEME_OTHER };
struct oci_challenge {
	enum oci_scheme scheme;
	char realm[1024];
	char service[256];
	char scope[512];
};
/* Parses the first challenge of a header value; -1 when malformed/too long. */
int oci_challenge_parse(const char *hdr, size_t len, struct oci_challenge *out);
/*
 * When line is "Name: value" with Name equal to name (case-insensitive),
 * copies the trimmed value into out and returns 1; 0 otherwise, -1 when the
 * value does not fit.
 */
int oci_challenge_header(const char *line, size_t len, const char *name,
    char *out, size_t outlen);

/* oci_resolve.c: OCI distribution client (libcurl) */
struct oci_resolve_opts {
	const char *insecure;     /* comma list of host:port reached over http */
	const char *username;     /* NULL or "" = anonymous */
	const char *password;
	int timeout_s;            /* per request; 0 = 20 */
};
/*
 * Resolves ref (tag or digest) to the manifest digest the registry serves.
 * On failure err->code is unauthorized | manifest_unknown |
 * registry_unreachable and err->msg the full "<code>: ..." reason.
 */
int oci_resolve(const struct image_ref *ref, const struct oci_resolve_opts *o,
    char digest[AGENT_DIGEST_MAX], struct error *err);
/* 1 when host is listed in the comma list. */
int oci_resolve_insecure(const char *list, const char *host);

/* engine.c: Docker Engine API over a unix socket (libcurl) */
struct engine;
struct engine_container {
	const char *name;
	const char *image;        /* host/path@digest */
	const char *const *env;   /* "K=V", NULL-terminated */
	const char *const *labels;/* key, value, key, value, ..., NULL */
};
struct engine *engine_new(const char *socket_path);
void engine_free(struct engine *e);
int engine_ping(struct engine *e);
/* Pulls image (host/path@digest); err code pull_failed. */
int engine_pull(struct engine *e, const char *image, const char *username,
    const char *password, const char *server, struct error *err);
/* Force-removes a container; absent is success. */
int engine_remove(struct engine *e, const char *name, struct error *err);
int engine_create(struct engine *e, const struct engine_container *c,
    struct error *err);
int engine_start(struct engine *e, const char *name, struct error *err);
/* running = 1/0, exit_code when stopped; -1 on API failure. */
int engine_inspect(struct engine *e, const char *name, int *running,
    int *exit_code, struct error *err);

/* agent_health.c */
/*
 * Waits until port on 127.0.0.1 accepts (and, with http, answers a status
 * line to GET /) while the container keeps running; err code unhealthy.
 */
int agent_health_wait(struct engine *e, const char *name, int port, int http,
    int timeout_s, struct error *err);

/* agent_apply.c: the apply state machine */
enum agent_apply_state {
	APPLY_RESOLVING, APPLY_PULLING, APPLY_STARTING, APPLY_RUNNING,
	APPLY_FAILED
};
struct agent_apply {
	/* inputs, from ApplyDeployment (pointers owned by the caller) */
	const char *deployment_id;
	const char *component_id;
	const char *component_type;
	const char *endpoint_type;   /* first endpoint's type, or "" */
	const char *environment;
	const char *image;
	const char *pinned_digest;     /* "" when not pinned */
	int port;
	const char *const *env;        /* extra "K=V", NULL-terminated */
	const struct agent_cred *cred; /* NULL = anonymous */
	/* progress */
	enum agent_apply_state state;
	struct image_ref ref;
	char digest[AGENT_DIGEST_MAX];
	char container[300];
	char reason[AGENT_REASON_MAX];
};
/* The steps, so the machine can be driven by fakes in tests. */
struct agent_apply_ops {
	int (*resolve)(void *ctx, struct agent_apply *a, struct error *err);
	int (*pull)(void *ctx, struct agent_apply *a, struct error *err);
	int (*start)(void *ctx, struct agent_apply *a, struct error *err);
	int (*health)(void *ctx, struct agent_apply *a, struct error *err);
	/* Reports a->state; 0 once the broker acknowledged it. */
	int (*report)(void *ctx, const struct agent_apply *a);
	void *ctx;
};
/* "slipway-<component id>-<environment>"; -1 when a part is unsafe. */
int agent_apply_container_name(const char *component_id,
    const char *environment, char *buf, size_t len);
const char *agent_apply_state_name(enum agent_apply_state s);
/* Moves to next when legal; -1 (state unchanged) when not. */
int agent_apply_transition(struct agent_apply *a, enum agent_apply_state next);
/*
 * Runs the machine to running or failed, reporting every state. Returns 0
 * when the final state was reported, -1 when a report could not be
 * delivered (the caller retries the whole, idempotent, apply).
 */
int agent_apply_run(struct agent_apply *a, const struct agent_apply_ops *ops);

/* agent_ports.c */
#define AGENT_ENV_NAME_MAX    63
#define AGENT_PORT_OFFSET_MAX 60000
/*
 * Offset of environment in list ("production=1000,staging=2000"; "" = none):
 * 0 when not listed. -1 when the list is malformed.
 */
int agent_ports_offset(const char *list, const char *environment, int *offset);

/* agent_commands.c */
struct agent_ctx {
	const char *dataplane;
	const char *insecure;
	const char *port_offsets;    /* SLIPWAY_PORT_OFFSETS, validated */
	int health_timeout_s;
	struct engine *engine;
	struct agent_creds *creds;
	struct bus_producer *producer;
	/* The apply currently waiting for unknown credentials, and since when. */
	char waiting_for[AGENT_ID_MAX];
	long long waiting_since_ms;
};
/* Bus handler for slipway.dataplane.<dp>.commands (arg = agent_ctx). */
enum bus_result agent_commands_handle(const struct bus_message *m, void *arg,
    struct error *reason);

#endif
