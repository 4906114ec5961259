/*
 * apikey.c: org keys (see apikey.h) — their format, their roles, and the
 * in-memory table every management service fills from slipway.orgkeys.
 *
 * The table is two chained hash tables over the same entries: one by the
 * key's hex SHA-256 (what a request presents, hashed) and one by key id
 * (what a record or a tombstone names). The bucket count is a power of two
 * that doubles with the number of keys, and the number of keys is capped,
 * so a flood of records on the topic cannot take the memory of a service.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apikey.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "topics.h"

#define APIKEYS_MAX 100000
#define APIKEYS_MIN_BUCKETS 64
#define APIKEY_NAME_MAX 255
#define APIKEY_HASH_LEN 64
#define APIKEYS_ENSURE_TIMEOUT_MS 15000

struct apikey_entry {
	struct apikey key;
	struct apikey_entry *next_hash;   /* chain in by_hash */
	struct apikey_entry *next_id;     /* chain in by_id */
};

struct apikeys {
	struct apikey_entry **by_hash;
	struct apikey_entry **by_id;
	size_t nbuckets;                  /* a power of two */
	size_t n;
	const struct bus_consumer *feed;  /* apikeys_consumer_start's, or NULL */
};

static const struct {
	enum apikey_role role;
	const char *name;
} apikey_roles[] = {
	{ APIKEY_VIEWER, "viewer" },
	{ APIKEY_DEPLOYER, "deployer" },
	{ APIKEY_ADMIN, "admin" },
};

#define APIKEY_NROLES (sizeof(apikey_roles) / sizeof(apikey_roles[0]))

/* ---- format and roles ------------------------------------------------- */

void
apikey_generate(char out[APIKEY_LEN + 1])
{
	token_generate_prefixed(APIKEY_PREFIX, out);
}

int
apikey_format_valid(const char *s, size_t len)
{
	return token_format_valid_prefixed(APIKEY_PREFIX, s, len);
}

enum apikey_role
apikey_role_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return APIKEY_NONE;
	for (i = 0; i < APIKEY_NROLES; i++)
		if (strcmp(s, apikey_roles[i].name) == 0)
			return apikey_roles[i].role;
	return APIKEY_NONE;
}

const char *
apikey_role_name(enum apikey_role r)
{
	size_t i;

	for (i = 0; i < APIKEY_NROLES; i++)
		if (apikey_roles[i].role == r)
			return apikey_roles[i].name;
	return "none";
}

/* ---- field checks ------------------------------------------------------ */

/* ASCII only: isalnum() would follow the locale. */
static int
apikey_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* An org name: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
static int
apikey_org_valid(const char *s)
{
	size_t i;

	if (s == NULL || !apikey_alnum(s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= APIKEY_ORG_MAX || !(apikey_alnum(s[i]) || s[i] == '_' ||
		    s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* Lower-case hex of a SHA-256, as crypto_sha256_hex writes it. */
static int
apikey_hash_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < APIKEY_HASH_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[APIKEY_HASH_LEN] == '\0';
}

/* "slk_" and the key's next 4 base62 characters. */
static int
apikey_prefix_valid(const char *s)
{
	size_t n = sizeof(APIKEY_PREFIX) - 1, i;

	if (s == NULL || strlen(s) != APIKEY_SHOWN_PREFIX_LEN ||
	    strncmp(s, APIKEY_PREFIX, n) != 0)
		return 0;
	for (i = n; i < APIKEY_SHOWN_PREFIX_LEN; i++)
		if (!apikey_alnum(s[i]))
			return 0;
	return 1;
}

/* protobuf-c leaves absent strings at "", but a NULL must not crash us. */
static const char *
apikey_str(const char *s)
{
	return s != NULL ? s : "";
}

/* ---- the table --------------------------------------------------------- */

/* FNV-1a: the strings are SHA-256 hex or UUIDs, already well spread. */
static size_t
apikeys_bucket(const struct apikeys *k, const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return (size_t)(h & (k->nbuckets - 1));
}

static int
apikeys_alloc_buckets(struct apikeys *k, size_t nbuckets)
{
	k->by_hash = calloc(nbuckets, sizeof(*k->by_hash));
	k->by_id = calloc(nbuckets, sizeof(*k->by_id));
	k->nbuckets = nbuckets;
	return k->by_hash != NULL && k->by_id != NULL ? 0 : -1;
}

struct apikeys *
apikeys_new(void)
{
	struct apikeys *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	if (apikeys_alloc_buckets(k, APIKEYS_MIN_BUCKETS) != 0) {
		apikeys_free(k);
		return NULL;
	}
	return k;
}

void
apikeys_free(struct apikeys *k)
{
	struct apikey_entry *e, *next;
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; k->by_id != NULL && i < k->nbuckets; i++) {
		for (e = k->by_id[i]; e != NULL; e = next) {
			next = e->next_id;
			free(e);
		}
	}
	free(k->by_hash);
	free(k->by_id);
	free(k);
}

size_t
apikeys_count(const struct apikeys *k)
{
	return k != NULL ? k->n : 0;
}

static void
apikeys_link(struct apikeys *k, struct apikey_entry *e)
{
	size_t h = apikeys_bucket(k, e->key.hash), i = apikeys_bucket(k, e->key.id);

	e->next_hash = k->by_hash[h];
	k->by_hash[h] = e;
	e->next_id = k->by_id[i];
	k->by_id[i] = e;
}

/*
 * Doubles the buckets and relinks every entry. When memory is short the
 * table keeps its old buckets: longer chains, still correct.
 */
static void
apikeys_grow(struct apikeys *k)
{
	struct apikeys old = *k;
	struct apikey_entry *e, *next;
	size_t i;

	if (apikeys_alloc_buckets(k, old.nbuckets * 2) != 0) {
		free(k->by_hash);
		free(k->by_id);
		*k = old;
		return;
	}
	for (i = 0; i < old.nbuckets; i++) {
		for (e = old.by_id[i]; e != NULL; e = next) {
			next = e->next_id;
			apikeys_link(k, e);
		}
	}
	free(old.by_hash);
	free(old.by_id);
}

/* The link that points at the entry of id (or at the NULL ending the chain). */
static struct apikey_entry **
apikeys_id_slot(struct apikeys *k, const char *id)
{
	struct apikey_entry **pp = &k->by_id[apikeys_bucket(k, id)];

	while (*pp != NULL && strcmp((*pp)->key.id, id) != 0)
		pp = &(*pp)->next_id;
	return pp;
}

static struct apikey_entry *
apikeys_by_hash(const struct apikeys *k, const char *hash)
{
	struct apikey_entry *e = k->by_hash[apikeys_bucket(k, hash)];

	while (e != NULL && strcmp(e->key.hash, hash) != 0)
		e = e->next_hash;
	return e;
}

static void
apikeys_unlink_hash(struct apikeys *k, const struct apikey_entry *e)
{
	struct apikey_entry **pp = &k->by_hash[apikeys_bucket(k, e->key.hash)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->next_hash;
	if (*pp != NULL)
		*pp = e->next_hash;
}

/* Removes the key of id; 1 when there was one. */
static int
apikeys_remove(struct apikeys *k, const char *id)
{
	struct apikey_entry **pp = apikeys_id_slot(k, id), *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next_id;
	apikeys_unlink_hash(k, e);
	free(e);
	k->n--;
	return 1;
}

/* Adds a's key or replaces the key of its id. */
static int
apikeys_put(struct apikeys *k, const struct apikey *a, struct error *reason)
{
	struct apikey_entry *e = *apikeys_id_slot(k, a->id), *same;

	same = apikeys_by_hash(k, a->hash);
	if (same != NULL && same != e) {
		error_set(reason, "bad_message", "key_hash", "key %s has the hash "
		    "of key %s", a->id, same->key.id);
		return -1;
	}
	if (e != NULL) {
		apikeys_unlink_hash(k, e);
		e->key = *a;
		e->next_hash = k->by_hash[apikeys_bucket(k, a->hash)];
		k->by_hash[apikeys_bucket(k, a->hash)] = e;
		return 0;
	}
	if (k->n >= APIKEYS_MAX) {
		error_set(reason, "too_many_keys", "", "more than %d org keys",
		    APIKEYS_MAX);
		return -1;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		error_set(reason, "internal", "", "out of memory");
		return -1;
	}
	if (k->n >= k->nbuckets)
		apikeys_grow(k);
	e->key = *a;
	apikeys_link(k, e);
	k->n++;
	return 0;
}

const struct apikey *
apikeys_find(const struct apikeys *k, const char *presented, size_t len)
{
	const struct apikey_entry *e;
	char hash[APIKEY_HASH_LEN + 1];

	/* The checksum turns garbage away before any hashing or lookup. */
	if (k == NULL || !apikey_format_valid(presented, len))
		return NULL;
	crypto_sha256_hex(presented, len, hash);
	for (e = k->by_hash[apikeys_bucket(k, hash)]; e != NULL; e = e->next_hash)
		if (crypto_equal(e->key.hash, hash, APIKEY_HASH_LEN))
			return &e->key;
	return NULL;
}

/* ---- records ------------------------------------------------------------ */

/* Every field of an OrgKey but its id (checked first, by the caller). */
static int
apikey_record_check(const Envelope *env, const Slipway__V1__OrgKey *ok,
    struct error *reason)
{
	const char *org = apikey_str(ok->org);
	const char *bad = NULL;

	if (!apikey_org_valid(org))
		bad = "org";
	else if (env->org != NULL && env->org[0] != '\0' && strcmp(env->org, org) != 0)
		bad = "org";
	else if (apikey_role_parse(ok->role) == APIKEY_NONE)
		bad = "role";
	else if (!apikey_hash_valid(ok->key_hash))
		bad = "key_hash";
	else if (!apikey_prefix_valid(ok->prefix))
		bad = "prefix";
	else if (strlen(apikey_str(ok->name)) > APIKEY_NAME_MAX)
		bad = "name";
	else if (ok->created_at_ms < 0)
		bad = "created_at_ms";
	if (bad == NULL)
		return 0;
	error_set(reason, "bad_message", bad, "OrgKey %s: invalid %s", ok->key_id,
	    bad);
	return -1;
}

/* Applies one decoded envelope whose Kafka key is msg_key. */
static int
apikeys_apply_envelope(struct apikeys *k, const char *msg_key,
    const Envelope *env, struct error *reason)
{
	const Slipway__V1__OrgKey *ok = env->org_key;
	struct apikey a;
	int rc;

	if (env->payload_case != SLIPWAY__V1__ENVELOPE__PAYLOAD_ORG_KEY ||
	    ok == NULL) {
		error_set(reason, "bad_message", "payload", "%s is not an OrgKey",
		    apikey_str(env->type));
		return -1;
	}
	if (ok->key_id == NULL || strcmp(ok->key_id, msg_key) != 0) {
		error_set(reason, "bad_message", "key_id", "the key id differs "
		    "from the message key");
		return -1;
	}
	rc = apikey_record_check(env, ok, reason);
	if (ok->revoked) {
		/* Whatever else is wrong, a revoked key stops working. */
		if (apikeys_remove(k, msg_key))
			log_info("org key revoked");
		return rc;
	}
	if (rc != 0)
		return -1;
	memset(&a, 0, sizeof(a));
	memcpy(a.id, msg_key, sizeof(a.id) - 1);
	snprintf(a.org, sizeof(a.org), "%s", ok->org);
	a.role = apikey_role_parse(ok->role);
	memcpy(a.hash, ok->key_hash, APIKEY_HASH_LEN);
	if (apikeys_put(k, &a, reason) != 0)
		return -1;
	log_debug("org key of org %s, role %s", a.org, apikey_role_name(a.role));
	return 0;
}

int
apikeys_apply(struct apikeys *k, const char *msg_key, const void *value,
    size_t len, const char *event_type, struct error *reason)
{
	Envelope *env;
	int rc;

	if (msg_key == NULL || !crypto_uuid_valid(msg_key)) {
		error_set(reason, "bad_message", "key", "the message key is not "
		    "a key id");
		return -1;
	}
	if (value == NULL) {
		if (apikeys_remove(k, msg_key))
			log_info("org key deleted (tombstone)");
		return 0;
	}
	if ((env = envelope_decode(value, len, event_type, reason)) == NULL)
		return -1;
	rc = apikeys_apply_envelope(k, msg_key, env, reason);
	envelope_free(env);
	return rc;
}

enum bus_result
apikeys_handle(const struct bus_message *m, void *arg, struct error *reason)
{
	struct apikeys *k = arg;
	const char *key = bus_message_key(m);
	const void *value;
	size_t len = 0;
	int rc;

	value = bus_message_value(m, &len);
	log_ctx_set("key_id", key);
	rc = apikeys_apply(k, key, value, len, bus_message_header(m,
	    "event-type"), reason);
	log_ctx_unset("key_id");
	metrics_set("slipway_org_keys", NULL, (int64_t)apikeys_count(k));
	return rc == 0 ? BUS_DONE : BUS_REJECT;
}

struct bus_consumer *
apikeys_consumer_start(struct event_base *base, const char *brokers,
    const char *service, struct apikeys *keys, struct error *err)
{
	static const char *const topics[] = { TOPIC_ORG_KEYS, NULL };
	/* No group: every replica replays the whole compacted topic. */
	struct bus_consumer_config cfg = {
		.brokers = brokers, .group = NULL, .topics = topics, .dlq = NULL,
	};
	struct bus_consumer *c;

	if (bus_topic_ensure(brokers, topics, TOPIC_PARTITIONS, 1,
	    APIKEYS_ENSURE_TIMEOUT_MS, err) == -1)
		return NULL;
	if ((c = bus_consumer_new(base, &cfg, apikeys_handle, keys, err)) != NULL) {
		keys->feed = c;
		log_info("%s: reading org keys from %s", service != NULL ?
		    service : "slipway", TOPIC_ORG_KEYS);
	}
	return c;
}

int
apikeys_complete(const struct apikeys *k)
{
	return k != NULL && (k->feed == NULL || bus_consumer_caught_up(k->feed));
}
