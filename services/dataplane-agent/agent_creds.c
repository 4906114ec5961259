/*
 * agent_creds.c: the registry credentials of this data plane, in memory only.
 *
 * Fed by slipway.dataplane.<dp>.credentials, a compacted topic that every
 * agent process replays from the beginning with no consumer group: key =
 * registry id, value = Envelope{CredentialsSealed} whose `sealed` bytes are
 * crypto_box_seal(RegistryCredentials) to this data plane's public key, NULL
 * value = the registry was deleted. Secrets are wiped when replaced, deleted
 * or freed, and never logged.
 *
 * Used only from the event-loop thread (the apply runs there too), so no lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "agent.h"
#include "envelope.h"
#include "metrics.h"
#include "regauth.h"
#include "slipway/v1/registry.pb-c.h"

#define CREDS_MAX         10000
#define CREDS_PLAIN_MAX   (64 * 1024)

/*
 * The consumer's thread writes entries, apply workers read them (copies):
 * one mutex guards the table.
 */
struct agent_creds {
	pthread_mutex_t lock;
	const struct agent_keys *keys;
	struct agent_cred **v;
	size_t n, cap;
};

struct agent_creds *
agent_creds_new(const struct agent_keys *keys)
{
	struct agent_creds *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->keys = keys;
		pthread_mutex_init(&c->lock, NULL);
	}
	return c;
}

void
agent_cred_wipe(struct agent_cred *cr)
{
	sodium_memzero(cr, sizeof(*cr));
}

static void
creds_entry_free(struct agent_cred *cr)
{
	agent_cred_wipe(cr);
	free(cr);
}

void
agent_creds_free(struct agent_creds *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		creds_entry_free(c->v[i]);
	free(c->v);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static ssize_t
creds_find(const struct agent_creds *c, const char *registry_id)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i]->registry_id, registry_id) == 0)
			return (ssize_t)i;
	return -1;
}

static void
creds_delete(struct agent_creds *c, const char *registry_id)
{
	ssize_t i = creds_find(c, registry_id);

	if (i < 0)
		return;
	creds_entry_free(c->v[i]);
	c->v[i] = c->v[--c->n];
	log_info("registry credentials removed");
}

/* Takes ownership of cr, replacing (and wiping) any previous entry. */
static int
creds_put(struct agent_creds *c, struct agent_cred *cr)
{
	ssize_t i = creds_find(c, cr->registry_id);
	struct agent_cred **nv;

	if (i >= 0) {
		creds_entry_free(c->v[i]);
		c->v[i] = cr;
		return 0;
	}
	if (c->n >= CREDS_MAX)
		return -1;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		if ((nv = realloc(c->v, ncap * sizeof(*nv))) == NULL)
			return -1;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = cr;
	return 0;
}

int
agent_creds_lookup(struct agent_creds *c, const char *registry_id,
    struct agent_cred *out)
{
	ssize_t i;

	pthread_mutex_lock(&c->lock);
	if ((i = creds_find(c, registry_id)) >= 0)
		memcpy(out, c->v[i], sizeof(*out));
	pthread_mutex_unlock(&c->lock);
	return i < 0 ? -1 : 0;
}

/* Copies s into dst when it fits; -1 otherwise. */
static int
creds_copy(char *dst, size_t cap, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n >= cap)
		return -1;
	memcpy(dst, s != NULL ? s : "", n + 1);
	return 0;
}

/*
 * The pair, or an identity token as (REGAUTH_IDENTITY_USER, token): the
 * resolver exchanges it at the realm, the engine gets it as identitytoken.
 */
static int
creds_copy_secret(struct agent_cred *cr, const Slipway__V1__RegistryCredentials *rc)
{
	if (rc->identity_token != NULL && rc->identity_token[0] != '\0')
		return creds_copy(cr->username, sizeof(cr->username),
		    REGAUTH_IDENTITY_USER) ||
		    creds_copy(cr->password, sizeof(cr->password),
		    rc->identity_token);
	return creds_copy(cr->username, sizeof(cr->username), rc->username) ||
	    creds_copy(cr->password, sizeof(cr->password), rc->password);
}

/* Validates the opened plaintext and turns it into an entry. */
static struct agent_cred *
creds_from_plain(const Slipway__V1__CredentialsSealed *cs,
    const unsigned char *plain, size_t len)
{
	Slipway__V1__RegistryCredentials *rc;
	struct agent_cred *cr;
	int bad;

	rc = slipway__v1__registry_credentials__unpack(NULL, len, plain);
	if (rc == NULL)
		return NULL;
	cr = calloc(1, sizeof(*cr));
	bad = cr == NULL || strcmp(rc->registry_id, cs->registry_id) != 0 ||
	    rc->auth_type < SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_ANONYMOUS ||
	    rc->auth_type > SLIPWAY__V1__AUTH_TYPE__AUTH_TYPE_VENDOR ||
	    creds_copy(cr->registry_id, sizeof(cr->registry_id), rc->registry_id) ||
	    creds_copy(cr->host, sizeof(cr->host), rc->host) ||
	    creds_copy_secret(cr, rc);
	if (cr != NULL)
		cr->auth_type = (int)rc->auth_type;
	if (rc->password != NULL)
		sodium_memzero(rc->password, strlen(rc->password));
	if (rc->identity_token != NULL)
		sodium_memzero(rc->identity_token, strlen(rc->identity_token));
	slipway__v1__registry_credentials__free_unpacked(rc, NULL);
	if (bad && cr != NULL) {
		creds_entry_free(cr);
		cr = NULL;
	}
	return cr;
}

/* Opens one CredentialsSealed; NULL (logged) when it cannot be used. */
static struct agent_cred *
creds_open(struct agent_creds *c, const Slipway__V1__CredentialsSealed *cs)
{
	unsigned char *plain = NULL;
	size_t plen = 0;
	struct agent_cred *cr;

	if (cs->sealed.len == 0 || cs->sealed.len > CREDS_PLAIN_MAX + 64 ||
	    crypto_seal_open(c->keys->pk, c->keys->sk, cs->sealed.data,
	    cs->sealed.len, &plain, &plen) != 0 || plain == NULL) {
		log_warnx("cannot open sealed credentials (sealed to another "
		    "data-plane key?): skipped");
		return NULL;
	}
	cr = plen <= CREDS_PLAIN_MAX ? creds_from_plain(cs, plain, plen) : NULL;
	crypto_free_secret(plain, plen);
	if (cr == NULL)
		log_warnx("malformed RegistryCredentials: skipped");
	return cr;
}

/* Handles one decoded envelope; malformed input is logged and skipped. */
static void
creds_apply(struct agent_creds *c, const char *key, const Envelope *env)
{
	const Slipway__V1__CredentialsSealed *cs = env->credentials_sealed;
	struct agent_cred *cr;

	if (env->payload_case != SLIPWAY__V1__ENVELOPE__PAYLOAD_CREDENTIALS_SEALED
	    || cs == NULL || cs->registry_id == NULL || cs->registry_id[0] == '\0'
	    || (key[0] != '\0' && strcmp(key, cs->registry_id) != 0)) {
		log_warnx("credentials topic message is not a CredentialsSealed "
		    "for its key: skipped");
		return;
	}
	if ((cr = creds_open(c, cs)) == NULL)
		return;
	if (creds_put(c, cr) == -1) {
		log_warnx("credentials store full: skipped");
		creds_entry_free(cr);
		return;
	}
	metrics_set("slipway_agent_registries", NULL, (int64_t)c->n);
	log_info("registry credentials stored (host %s, auth type %d)",
	    cr->host, cr->auth_type);
}

/*
 * Group-less consumers have no dead-letter producer, and a compacted state
 * topic is replayed by every process anyway: a bad message is logged and
 * skipped (BUS_DONE), never rejected.
 */
enum bus_result
agent_creds_handle(const struct bus_message *m, void *arg,
    struct error *reason)
{
	struct agent_creds *c = arg;
	const char *key = bus_message_key(m);
	const void *val;
	struct error err;
	Envelope *env;
	size_t len = 0;

	(void)reason;
	log_ctx_set("registry_id", key);
	val = bus_message_value(m, &len);
	pthread_mutex_lock(&c->lock);
	if (val == NULL) {
		creds_delete(c, key);
		metrics_set("slipway_agent_registries", NULL, (int64_t)c->n);
	} else if ((env = envelope_decode(val, len,
	    bus_message_header(m, "event-type"), &err)) == NULL) {
		log_warnx("undecodable credentials message: %s: skipped", err.msg);
	} else {
		creds_apply(c, key, env);
		envelope_free(env);
	}
	pthread_mutex_unlock(&c->lock);
	log_ctx_clear();
	return BUS_DONE;
}
