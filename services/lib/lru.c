/*
 * lru.c: chained hash table plus a doubly linked recency list. Buckets are
 * a power of two at least the capacity, so chains stay short at any fill;
 * nodes are allocated on insert and freed on removal, so an idle map costs
 * only its bucket array.
 *
 * Keys come from outside (token hashes of forged tokens, client
 * addresses), so the bucket is SipHash (libsodium's crypto_shorthash)
 * under a random key per map: nobody can grind keys offline into one long
 * chain.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lru.h"

struct lru_node {
	char key[LRU_KEY_MAX + 1];
	void *value;
	struct lru_node *chain;          /* next in the bucket */
	struct lru_node *newer, *older;  /* recency list */
};

struct lru {
	struct lru_node **buckets;
	size_t nbuckets;                 /* power of two */
	size_t count, capacity;
	struct lru_node *newest, *oldest;
	void (*free_value)(void *);
	unsigned char seed[crypto_shorthash_KEYBYTES];
};

static size_t
lru_hash(const struct lru *l, const char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)key, strlen(key), l->seed);
	memcpy(&h, out, sizeof(h));
	return (size_t)h & (l->nbuckets - 1);
}

struct lru *
lru_new(size_t capacity, void (*free_value)(void *))
{
	struct lru *l;

	if (capacity == 0 || sodium_init() == -1 ||
	    (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	randombytes_buf(l->seed, sizeof(l->seed));
	l->capacity = capacity;
	l->free_value = free_value;
	l->nbuckets = 16;
	while (l->nbuckets < capacity && l->nbuckets < ((size_t)1 << 30))
		l->nbuckets <<= 1;
	if ((l->buckets = calloc(l->nbuckets, sizeof(*l->buckets))) == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

static void
lru_unlink(struct lru *l, struct lru_node *n)
{
	if (n->newer != NULL)
		n->newer->older = n->older;
	else
		l->newest = n->older;
	if (n->older != NULL)
		n->older->newer = n->newer;
	else
		l->oldest = n->newer;
	n->newer = n->older = NULL;
}

static void
lru_push_newest(struct lru *l, struct lru_node *n)
{
	n->older = l->newest;
	n->newer = NULL;
	if (l->newest != NULL)
		l->newest->newer = n;
	l->newest = n;
	if (l->oldest == NULL)
		l->oldest = n;
}

/* The slot that points at key's node (or at the NULL ending its chain). */
static struct lru_node **
lru_slot(struct lru *l, const char *key)
{
	struct lru_node **pp = &l->buckets[lru_hash(l, key)];

	while (*pp != NULL && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->chain;
	return pp;
}

/* Unlinks the node *pp points at from both structures and frees it. */
static void
lru_remove(struct lru *l, struct lru_node **pp)
{
	struct lru_node *n = *pp;

	*pp = n->chain;
	lru_unlink(l, n);
	if (l->free_value != NULL)
		l->free_value(n->value);
	free(n);
	l->count--;
}

void
lru_free(struct lru *l)
{
	struct lru_node *n, *next;

	if (l == NULL)
		return;
	for (n = l->newest; n != NULL; n = next) {
		next = n->older;
		if (l->free_value != NULL)
			l->free_value(n->value);
		free(n);
	}
	free(l->buckets);
	free(l);
}

void *
lru_get(struct lru *l, const char *key)
{
	struct lru_node *n = *lru_slot(l, key);

	if (n == NULL)
		return NULL;
	lru_unlink(l, n);
	lru_push_newest(l, n);
	return n->value;
}

int
lru_put(struct lru *l, const char *key, void *value)
{
	struct lru_node **pp, *n;

	if (strlen(key) > LRU_KEY_MAX)
		return -1;
	pp = lru_slot(l, key);
	if ((n = *pp) != NULL) {
		if (l->free_value != NULL && n->value != value)
			l->free_value(n->value);
		n->value = value;
		lru_unlink(l, n);
		lru_push_newest(l, n);
		return 0;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -1;
	if (l->count == l->capacity)
		lru_remove(l, lru_slot(l, l->oldest->key));
	strcpy(n->key, key);
	n->value = value;
	pp = &l->buckets[lru_hash(l, key)];   /* eviction may have moved it */
	n->chain = *pp;
	*pp = n;
	lru_push_newest(l, n);
	l->count++;
	return 0;
}

int
lru_del(struct lru *l, const char *key)
{
	struct lru_node **pp = lru_slot(l, key);

	if (*pp == NULL)
		return 0;
	lru_remove(l, pp);
	return 1;
}

size_t
lru_del_if(struct lru *l, int (*match)(const char *key, void *value,
    void *arg), void *arg)
{
	struct lru_node *n, *next;
	size_t gone = 0;

	for (n = l->newest; n != NULL; n = next) {
		next = n->older;
		if (match(n->key, n->value, arg)) {
			lru_remove(l, lru_slot(l, n->key));
			gone++;
		}
	}
	return gone;
}

size_t
lru_count(const struct lru *l)
{
	return l->count;
}
