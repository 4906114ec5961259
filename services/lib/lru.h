/*
 * lru.h: a bounded map from short string keys to owned values, evicting the
 * least recently used entry when full. For in-process caches and limiter
 * tables that outside input can grow (token hashes, client addresses): the
 * bound is what keeps a flood of distinct keys from growing memory.
 *
 * Not thread-safe: one owner, one thread (the event loop).
 *
 * Ownership: lru_put takes the value; the map frees it with free_value
 * when the entry is replaced, deleted or evicted, and in lru_free. A value
 * returned by lru_get stays valid until the next call that may remove it.
 */
#ifndef SLIPWAY_LRU_H
#define SLIPWAY_LRU_H

#include <stddef.h>

#define LRU_KEY_MAX 64   /* longest key, in bytes (a hex SHA-256 fits) */

struct lru;

/* capacity >= 1; free_value may be NULL (values are not owned then). */
struct lru *lru_new(size_t capacity, void (*free_value)(void *));
void lru_free(struct lru *l);
/* The value stored under key (now the most recently used), or NULL. */
void *lru_get(struct lru *l, const char *key);
/*
 * Stores value under key, replacing (and freeing) an old one; when the map
 * is full the least recently used entry goes. -1 (value not taken) when the
 * key is longer than LRU_KEY_MAX or memory runs out.
 */
int lru_put(struct lru *l, const char *key, void *value);
/* 1 when key was there (its value freed), 0 when not. */
int lru_del(struct lru *l, const char *key);
/* Deletes every entry for which match returns 1; how many went. */
size_t lru_del_if(struct lru *l, int (*match)(const char *key, void *value,
    void *arg), void *arg);
size_t lru_count(const struct lru *l);

#endif
