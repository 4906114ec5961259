/*
 * registry.h: registry-svc's private header. registry-svc owns the container
 * registries of each org with their credentials (encrypted at rest), and
 * passes those credentials to every data plane, sealed to its public key.
 */
#ifndef SLIPWAY_REGISTRY_H
#define SLIPWAY_REGISTRY_H

#include "rewrap.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "error.h"
#include "regauth.h"
#include "store.h"

struct event_base;
struct bus_producer;
struct bus_consumer;
struct outbox_relay;
struct keyring;
struct apikeys;
struct event;
struct http_server;
struct http_request;

#define REG_SCHEMA   "registry"
#define REG_CONSUMER "registry-svc"

/* Embedded by the Makefile from the migrations folder. */
extern const struct migration registry_svc_migrations[];
extern const unsigned long registry_svc_migrations_count;

struct reg_config {
	char *http_addr;
	int http_port;
	char *admin_token;
	char *brokers;
	char *pg_url;
	char *kek_file;
	struct regauth_policy targets;   /* SLIPWAY_ALLOW_PRIVATE_TARGETS */
	int debug;
};

/* Everything the process owns; freed by main.c's on_stop. */
struct reg_ctx {
	struct reg_config cfg;
	struct event_base *base;
	struct store *db;
	struct keyring *keyring;
	struct bus_producer *producer;
	struct outbox_relay *relay;
	struct bus_consumer *consumer;
	struct apikeys *keys;    /* org keys, learnt from slipway.orgkeys */
	struct bus_consumer *keys_consumer;
	struct http_server *http;
	struct event *sighup;    /* reloads the keyring */
	struct bus_topics *topics; /* credentials topics, created off the loop */
};

/* Auth types, numbered as proto AuthType. */
enum reg_auth {
	REG_AUTH_ANONYMOUS = 1,
	REG_AUTH_BASIC = 2,
	REG_AUTH_DOCKER_CONFIG = 3,
	REG_AUTH_VENDOR = 4,
};

#define REG_NAME_MAX        100
#define REG_HOST_MAX        253
#define REG_USERNAME_MAX    256
#define REG_PASSWORD_MAX    (8 * 1024)
#define REG_DOCKER_CFG_MAX  (64 * 1024)
#define REG_GRANTS_MAX      100   /* orgs of one data plane (deploy-svc's cap) */

/* A validated create request. password is malloc'd (free: reg_input_free). */
struct reg_input {
	const char *org;
	const char *name;
	char host[REG_HOST_MAX + 1];        /* canonical */
	enum reg_auth auth;
	char username[REG_USERNAME_MAX + 1];
	char *password;
	size_t password_len;
	const char *vendor;                  /* NULL unless REG_AUTH_VENDOR */
};

/* reg_input.c: validation of the create request. */
int reg_input_org_valid(const char *org);
/* 1 when host is hostname[:port], IPv4[:port] or [IPv6][:port]. */
int reg_input_host_valid(const char *host);
const char *reg_input_auth_name(enum reg_auth a);
/* 0, or -1 with err and *status (400 shape / 422 meaning). */
int reg_input_parse(json_t *body, struct reg_input *in, int *status,
    struct error *err);
/*
 * A PATCH body against the registry's stored (canonical) host: the same
 * fields and checks as a create. in->name is NULL when not renamed, in->auth
 * 0 when the credentials stay; a host that differs is 422 host_immutable.
 * 0, or -1 with err and *status.
 */
int reg_input_patch(json_t *body, const char *host, struct reg_input *in,
    int *status, struct error *err);
void reg_input_free(struct reg_input *in);

/* reg_creds.c: docker-config parsing, the sealed plaintext. */
/*
 * Extracts the one inline credential of a Docker config JSON whose auths key
 * names `host`. username gets the user, *password a malloc'd password.
 */
int reg_creds_docker_config(const char *text, size_t len, const char *host,
    char *username, size_t userlen, char **password, size_t *passlen,
    struct error *err);
/* Packed RegistryCredentials (what is encrypted at rest and sealed). */
unsigned char *reg_creds_pack(const char *id, const char *host,
    enum reg_auth auth, const char *username, const char *password,
    size_t password_len, size_t *len);
/* Encrypts the plaintext for the row; out malloc'd. */
int reg_creds_encrypt(const struct reg_ctx *ctx, const char *id,
    const unsigned char *pt, size_t len, unsigned char **out, size_t *outlen,
    struct error *err);

/* reg_store.c: SQL on the registry schema. */
struct reg_row {
	char id[37];
	char org[64];
	char host[REG_HOST_MAX + 1];
	enum reg_auth auth;
	unsigned char *secret;   /* encrypted blob, malloc'd */
	size_t secret_len;
};
struct reg_dataplane {
	char name[48];
	unsigned char public_key[32];
};
int reg_store_insert(struct store *s, const char *id,
    const struct reg_input *in, const unsigned char *secret, size_t len,
    struct error *err);
json_t *reg_store_get(struct store *s, const char *org, const char *id,
    struct error *err);
json_t *reg_store_list(struct store *s, const char *org, struct error *err);
/* Deletes and fills *row (secret not loaded); -1 not_found. */
int reg_store_delete(struct store *s, const char *org, const char *id,
    struct reg_row *row, struct error *err);
int reg_store_dataplanes(struct store *s, struct reg_dataplane **out,
    size_t *n, struct error *err);
/*
 * PATCH: the name when in->name is set; the auth type, username, vendor and
 * secret when in->auth is set. -1 not_found.
 */
int reg_store_update(struct store *s, const char *org, const char *id,
    const struct reg_input *in, const unsigned char *secret, size_t len,
    struct error *err);
/* The live components of org that use registry id: [{"id","name","project"}]. */
json_t *reg_store_users(struct store *s, const char *org, const char *id,
    struct error *err);
/* A component as registry-svc knows it (from slipway.component.events). */
struct reg_component {
	const char *id, *org, *project, *name, *registry_id;
};
int reg_store_component_put(struct store *s, const struct reg_component *c,
    struct error *err);
int reg_store_component_delete(struct store *s, const char *id,
    struct error *err);
/* A list of names, malloc'd (free: reg_names_free). */
struct reg_names {
	char **v;
	size_t n;
};
void reg_names_free(struct reg_names *n);
/*
 * In a transaction, the advisory locks that make sealing race-free: every
 * binding change and data plane registration (bindings, taken first), and
 * one org's registries and bindings (org). Held until commit.
 */
int reg_store_lock_bindings(struct store *s, struct error *err);
int reg_store_lock_org(struct store *s, const char *org, struct error *err);
/*
 * The data planes that serve org: an environment of org binds them and they
 * are granted to it or shared. *out malloc'd.
 */
int reg_store_served_dataplanes(struct store *s, const char *org,
    struct reg_dataplane **out, size_t *n, struct error *err);
/* The orgs the data plane serves (same rule), sorted. */
int reg_store_served_orgs(struct store *s, const char *dataplane,
    struct reg_names *out, struct error *err);
/* 1 and *dp filled when the data plane is known, 0 when not. */
int reg_store_dataplane_get(struct store *s, const char *name,
    struct reg_dataplane *dp, struct error *err);
/* Stores the key and replaces the grant: shared, or exactly orgs. */
int reg_store_dataplane_grants(struct store *s, const struct reg_dataplane *dp,
    int shared, char *const *orgs, size_t n, struct error *err);
/* EnvironmentChanged: environment (org, name) now runs on dataplane. */
int reg_store_binding_put(struct store *s, const char *org,
    const char *environment, const char *dataplane, struct error *err);
/* One org's registries with their secrets, locked FOR SHARE. */
int reg_store_org_rows(struct store *s, const char *org, struct reg_row **out,
    size_t *n, struct error *err);
void reg_store_rows_free(struct reg_row *rows, size_t n);
/* How many secrets start with hdr (current) and how many do not (stale). */
int reg_store_secret_census(struct store *s, const unsigned char *hdr,
    size_t hlen, long *current, long *stale, struct error *err);
/*
 * In a transaction: up to limit registries with an id above `after` whose
 * secret does not start with hdr, in id order, locked FOR UPDATE SKIP LOCKED
 * (a row another transaction holds is left out, not waited for).
 */
int reg_store_stale_lock(struct store *s, const unsigned char *hdr,
    size_t hlen, const char *after, int limit, struct reg_row **out,
    size_t *n, struct error *err);
int reg_store_secret_set(struct store *s, const char *id,
    const unsigned char *secret, size_t len, struct error *err);

/* reg_served.c */
/*
 * The names of from that are not in minus, each once, into out (room for
 * nfrom); returns how many. Pointers into from.
 */
size_t reg_served_diff(char *const *from, size_t nfrom, char *const *minus,
    size_t nminus, const char **out);

/*
 * reg_events.c: outgoing envelopes and the consumer of deploy events (data
 * planes, bindings) and component events (which components use a registry).
 */
int reg_events_created(struct store *s, const char *id,
    const struct reg_input *in, const char *trace, struct error *err);
/* RegistryUpdated from the row as it is now (reg_store_get's JSON). */
int reg_events_updated(struct store *s, json_t *reg, const char *trace,
    struct error *err);
int reg_events_deleted(struct store *s, const struct reg_row *row,
    const char *trace, struct error *err);
/* Seals pt to the data plane and writes CredentialsSealed to its topic. */
int reg_events_sealed(struct store *s, const struct reg_dataplane *dp,
    const char *org, const char *id, const char *host, enum reg_auth auth,
    const unsigned char *pt, size_t len, const char *trace,
    struct error *err);
/* A tombstone for the registry on the data plane's credentials topic. */
int reg_events_tombstone(struct store *s, const struct reg_dataplane *dp,
    const char *id, struct error *err);
struct bus_consumer *reg_events_consumer_new(struct reg_ctx *ctx,
    struct error *err);

/* One registry with its secret; -1 not_found. Free row->secret. */
int reg_store_secret(struct store *s, const char *org, const char *id,
    struct reg_row *row, struct error *err);

/* reg_probe.c: the registry test (OCI /v2/ ping and login), deferred reply. */
void reg_probe_start(struct reg_ctx *ctx, struct http_request *req,
    const struct reg_row *row);

/* reg_rewrap.c: `registry-svc rewrap`, the data keys under the newest KEK. */
/* The registries as lib rewrap.h walks them; reg_rewrap_run runs it over
 * every stale row, batch by batch (-1 only on a database error). */
extern const struct rewrap_ops reg_rewrap_ops;
int reg_rewrap_run(struct store *s, const struct keyring *k,
    struct rewrap_stats *st, struct error *err);

/* reg_http.c: the management API. */
struct http_server *reg_http_new(struct reg_ctx *ctx, struct error *err);

#endif
