/*
 * token_memo.c: the webhook's in-process token cache, the first of three
 * levels (memory, Redis, Postgres; token_cache.c walks them). A hit here
 * costs no I/O at all, which is what keeps a CI call cheap and a flood of
 * repeated forged tokens harmless.
 *
 * Two bounded LRU maps (lib lru.h) keyed by the token's hex SHA-256:
 * bindings, at most capacity of them, kept ttl_ms (and never past the
 * binding's own expiry: token_cache_finish checks it on every answer), and
 * unknown hashes (Postgres said no such live token), at most capacity / 4,
 * kept neg_ttl_ms. Unknown hashes have their own map so that a flood of
 * distinct forged hashes evicts only other forged hashes, never a binding.
 *
 * Invalidation (token_memo_drop, _drop_component) is driven by
 * component.events and bumps the epoch: a lookup that started before an
 * invalidation must not store what it read, since Redis or Postgres may
 * have answered from before the change (token_cache.c checks the epoch).
 * A changed component is also remembered for TOKEN_MEMO_SETTLE_MS, during
 * which its bindings are not kept: component-svc rewrites them in Redis
 * after its commit, racing its own event, so a lookup just after the event
 * may still read the old one. Per component, so a busy platform where
 * some component changes every second still keeps everyone else's.
 *
 * A binding is kept compact: the two ids inline, the four variable strings
 * in one allocation, so 100k entries cost tens of MB, not a hundred.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "lru.h"

struct token_memo_entry {
	long long until_ms;          /* monotonic; the entry is dead after it */
	int known;                   /* 1: a binding; 0: an unknown hash */
	int signing;
	long long expires_at_ms;
	char token_id[37];
	char component_id[37];
	char *strings;               /* org, registry_host, repository, box */
};

struct token_memo {
	struct lru *known;           /* hash -> entry with a binding */
	struct lru *unknown;         /* hash -> entry without */
	struct lru *changed;         /* component id -> long long until_ms */
	long long ttl_ms, neg_ttl_ms;
	unsigned long long epoch;
};

static void
token_memo_entry_free(void *p)
{
	struct token_memo_entry *e = p;

	if (e != NULL)
		free(e->strings);
	free(e);
}

struct token_memo *
token_memo_new(size_t capacity, int ttl_ms, int neg_ttl_ms)
{
	struct token_memo *m;
	size_t neg = capacity / 4 > 0 ? capacity / 4 : 1;

	if (capacity == 0 || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->ttl_ms = ttl_ms;
	m->neg_ttl_ms = neg_ttl_ms;
	m->known = lru_new(capacity, token_memo_entry_free);
	m->unknown = lru_new(neg, token_memo_entry_free);
	m->changed = lru_new(TOKEN_MEMO_CHANGED_MAX, free);
	if (m->known == NULL || m->unknown == NULL || m->changed == NULL) {
		token_memo_free(m);
		return NULL;
	}
	return m;
}

void
token_memo_free(struct token_memo *m)
{
	if (m == NULL)
		return;
	lru_free(m->known);
	lru_free(m->unknown);
	lru_free(m->changed);
	free(m);
}

/* Copies the strings back out of the entry's one allocation. */
static void
token_memo_unpack(const struct token_memo_entry *e, struct token_binding *b)
{
	const char *s = e->strings;

	memset(b, 0, sizeof(*b));
	memcpy(b->token_id, e->token_id, sizeof(b->token_id));
	memcpy(b->component_id, e->component_id, sizeof(b->component_id));
	b->expires_at_ms = e->expires_at_ms;
	b->signing = e->signing;
	strcpy(b->org, s);
	s += strlen(s) + 1;
	strcpy(b->registry_host, s);
	s += strlen(s) + 1;
	strcpy(b->repository, s);
	s += strlen(s) + 1;
	strcpy(b->signing_box, s);
}

/* Looks hash up: TOKEN_MEMO_MISS also for an entry past its time (dropped). */
enum token_memo_hit
token_memo_get(struct token_memo *m, const char *hash, long long now_ms,
    struct token_binding *out)
{
	struct token_memo_entry *e;

	if ((e = lru_get(m->known, hash)) != NULL) {
		if (e->until_ms <= now_ms) {
			lru_del(m->known, hash);
			return TOKEN_MEMO_MISS;
		}
		token_memo_unpack(e, out);
		return TOKEN_MEMO_VALID;
	}
	if ((e = lru_get(m->unknown, hash)) != NULL) {
		if (e->until_ms <= now_ms) {
			lru_del(m->unknown, hash);
			return TOKEN_MEMO_MISS;
		}
		return TOKEN_MEMO_INVALID;
	}
	return TOKEN_MEMO_MISS;
}

/* The four variable strings, each NUL-terminated, in one allocation. */
static char *
token_memo_pack(const struct token_binding *b)
{
	const char *parts[] = { b->org, b->registry_host, b->repository,
	    b->signing_box };
	size_t len = 0, n;
	char *s, *p;

	for (size_t i = 0; i < 4; i++)
		len += strlen(parts[i]) + 1;
	if ((s = p = malloc(len)) == NULL)
		return NULL;
	for (size_t i = 0; i < 4; i++) {
		n = strlen(parts[i]) + 1;
		memcpy(p, parts[i], n);
		p += n;
	}
	return s;
}

/* 1 while component_id is within its settle time after a change. */
static int
token_memo_settling(struct token_memo *m, const char *component_id,
    long long now_ms)
{
	long long *until = lru_get(m->changed, component_id);

	if (until == NULL)
		return 0;
	if (*until > now_ms)
		return 1;
	lru_del(m->changed, component_id);
	return 0;
}

/*
 * Remembers a binding (replacing an unknown-hash entry), unless its
 * component changed a moment ago; OOM just skips it.
 */
void
token_memo_put(struct token_memo *m, const char *hash,
    const struct token_binding *b, long long now_ms)
{
	struct token_memo_entry *e;

	if (token_memo_settling(m, b->component_id, now_ms))
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->strings = token_memo_pack(b)) == NULL) {
		free(e);
		return;
	}
	e->known = 1;
	e->until_ms = now_ms + m->ttl_ms;
	e->signing = b->signing;
	e->expires_at_ms = b->expires_at_ms;
	memcpy(e->token_id, b->token_id, sizeof(e->token_id));
	memcpy(e->component_id, b->component_id, sizeof(e->component_id));
	lru_del(m->unknown, hash);
	if (lru_put(m->known, hash, e) == -1)
		token_memo_entry_free(e);
}

/* Remembers that Postgres knows no live token with this hash. */
void
token_memo_put_unknown(struct token_memo *m, const char *hash, long long now_ms)
{
	struct token_memo_entry *e;

	if (m->neg_ttl_ms <= 0 || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->until_ms = now_ms + m->neg_ttl_ms;
	lru_del(m->known, hash);
	if (lru_put(m->unknown, hash, e) == -1)
		token_memo_entry_free(e);
}

/* Forgets hash either way (revoked). */
void
token_memo_drop(struct token_memo *m, const char *hash)
{
	m->epoch++;
	lru_del(m->known, hash);
	lru_del(m->unknown, hash);
}

/*
 * Forgets that hash was unknown (its token was just issued). A binding
 * already remembered stays: CI may well have used the token before the
 * event came, and that binding is right.
 */
void
token_memo_drop_unknown(struct token_memo *m, const char *hash)
{
	m->epoch++;
	lru_del(m->unknown, hash);
}

static int
token_memo_of_component(const char *key, void *value, void *arg)
{
	const struct token_memo_entry *e = value;

	(void)key;
	return strcmp(e->component_id, arg) == 0;
}

/*
 * Forgets every binding of a component (deleted, or its image changed and
 * its bindings were rewritten) and keeps none of it for the settle time.
 * A walk over all entries: such events are rare and 100k comparisons take
 * well under a millisecond.
 */
size_t
token_memo_drop_component(struct token_memo *m, const char *component_id,
    long long now_ms)
{
	long long *until = malloc(sizeof(*until));

	m->epoch++;
	if (until != NULL) {
		*until = now_ms + TOKEN_MEMO_SETTLE_MS;
		if (lru_put(m->changed, component_id, until) == -1)
			free(until);
	}
	return lru_del_if(m->known, token_memo_of_component,
	    (void *)(uintptr_t)component_id);
}

unsigned long long
token_memo_epoch(const struct token_memo *m)
{
	return m->epoch;
}

size_t
token_memo_count(const struct token_memo *m, int known)
{
	return lru_count(known ? m->known : m->unknown);
}
