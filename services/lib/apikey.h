/*
 * apikey.h: org keys, the management API's credentials below the operator
 * key. deploy-svc issues them (POST /v1/orgs/{org}/keys) and publishes each
 * as an OrgKey record on the compacted topic slipway.orgkeys; every
 * management service reads that topic from the beginning into a struct
 * apikeys and lib http.c authenticates with it, so no service asks another
 * one anything on a request's path.
 *
 * A key is "slk_" + 32 random base62 characters + 6 base62 characters of
 * the CRC32 of the rest (as CI tokens are): garbage is refused without a
 * lookup. Only its SHA-256 is stored, published and compared.
 */
#ifndef SLIPWAY_APIKEY_H
#define SLIPWAY_APIKEY_H

#include <stddef.h>
#include "bus.h"
#include "crypto.h"
#include "error.h"

#define APIKEY_PREFIX "slk_"
#define APIKEY_LEN TOKEN_LEN            /* the same shape as CI tokens */
#define APIKEY_SHOWN_PREFIX_LEN 8       /* "slk_" + 4: in listings */
#define APIKEY_ORG_MAX 63

/* Roles, weakest first: a role may do everything a weaker one may. */
enum apikey_role {
	APIKEY_NONE = 0,
	APIKEY_VIEWER,      /* reads */
	APIKEY_DEPLOYER,    /* reads, deploy, promote, run, CI tokens */
	APIKEY_ADMIN,       /* everything in its org */
};

/* A fresh key into out (NUL-terminated). */
void apikey_generate(char out[APIKEY_LEN + 1]);
/* 1 when s (len bytes) has a key's shape and checksum. */
int apikey_format_valid(const char *s, size_t len);
/* "viewer" | "deployer" | "admin" → the role; APIKEY_NONE for anything else. */
enum apikey_role apikey_role_parse(const char *s);
const char *apikey_role_name(enum apikey_role r);

/* What a valid key is. */
struct apikey {
	char id[37];
	char org[APIKEY_ORG_MAX + 1];
	enum apikey_role role;
	char hash[65];                  /* hex SHA-256 */
};

/*
 * The keys a service knows: filled by apikeys_handle on the bus thread,
 * read by the HTTP server, both on the event loop (no lock needed).
 */
struct apikeys;
struct apikeys *apikeys_new(void);
void apikeys_free(struct apikeys *k);
/*
 * Bus handler for slipway.orgkeys (arg = struct apikeys): an OrgKey record
 * adds or replaces the key of its id, a revoked one or a tombstone removes
 * it. A malformed record is rejected (dead-letter) and changes nothing,
 * except that a revoked one still removes its key (see apikeys_apply).
 */
enum bus_result apikeys_handle(const struct bus_message *m, void *arg,
    struct error *reason);
/*
 * What apikeys_handle does with one record, without the bus (tests, fuzz):
 * msg_key is the Kafka key, value NULL for a tombstone, event_type the
 * event-type header or NULL. 0 when applied (or a tombstone of an unknown
 * id), -1 with reason when malformed: nothing changes then, except that a
 * revoked record of a valid key id still removes that key (a revocation
 * fails closed).
 */
int apikeys_apply(struct apikeys *k, const char *msg_key, const void *value,
    size_t len, const char *event_type, struct error *reason);
/*
 * The key presented (its plaintext, len bytes), or NULL when it is not a
 * key, unknown or revoked. Compares hashes in constant time.
 */
const struct apikey *apikeys_find(const struct apikeys *k, const char *presented,
    size_t len);
/*
 * 1 once the consumer apikeys_consumer_start made has read slipway.orgkeys
 * to its end (or none was started): before that a valid key may be
 * unknown, so /readyz says not ready.
 */
int apikeys_complete(const struct apikeys *k);
/* How many keys are known (metrics, tests). */
size_t apikeys_count(const struct apikeys *k);
/*
 * Ensures slipway.orgkeys exists (compacted; blocks up to 15 s: start-up
 * only) and starts reading it from the beginning with no consumer group
 * into keys, on base's loop. A rejected record is logged and skipped (no
 * dead-letter producer). service names the caller in the log. NULL with err
 * on failure. Free the consumer before keys.
 */
struct bus_consumer *apikeys_consumer_start(struct event_base *base,
    const char *brokers, const char *service, struct apikeys *keys,
    struct error *err);

#endif
