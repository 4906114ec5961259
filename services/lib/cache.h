/*
 * cache.h: Redis (hiredis async on the libevent loop) behind a small
 * interface. The cache is an optimisation: when Redis is down every call
 * answers CACHE_DOWN at once and the caller falls back to its store. The
 * connection is re-established in the background with backoff.
 */
#ifndef SLIPWAY_CACHE_H
#define SLIPWAY_CACHE_H

#include <stddef.h>
#include "error.h"

struct event_base;
struct cache;

enum cache_status { CACHE_HIT, CACHE_MISS, CACHE_DOWN };

/* value is valid only during the callback. */
typedef void (*cache_get_cb)(enum cache_status st, const char *value,
    size_t len, void *arg);

/* Where Redis is and who we are there. user NULL or "": no AUTH (a Redis
 * without ACLs); otherwise AUTH user password is the first command on every
 * connection. The strings are copied. */
struct cache_config {
	const char *host;
	int port;
	const char *user;
	const char *password;
};

struct cache *cache_new(struct event_base *base, const struct cache_config *cfg,
    struct error *err);
void cache_free(struct cache *c);
/* 1 when connected (and authenticated): requests are sent. */
int cache_up(const struct cache *c);
/* Why Redis refused our credentials (for /readyz; no secret in it), or NULL
 * when it has not. Cleared once AUTH succeeds. */
const char *cache_auth_error(const struct cache *c);

/* Calls cb exactly once (possibly before returning, with CACHE_DOWN). */
void cache_get(struct cache *c, const char *key, cache_get_cb cb, void *arg);
/* Fire and forget; ttl_s 0 = no expiry. */
void cache_set(struct cache *c, const char *key, const char *value,
    size_t len, int ttl_s);
void cache_del(struct cache *c, const char *key);
/* SET NX with expiry; cb gets CACHE_HIT when the key was set by this call,
 * CACHE_MISS when it already existed (value = the existing one). */
void cache_set_nx(struct cache *c, const char *key, const char *value,
    size_t len, int ttl_s, cache_get_cb cb, void *arg);

#endif
