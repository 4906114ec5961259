/*
 * ratelimit.c: token buckets in integer thousandths (ratelimit.h), and a
 * table of them on top of lib lru.c.
 */
#include <stdlib.h>

#include "lru.h"
#include "ratelimit.h"

struct rate_table {
	struct lru *buckets;   /* key -> struct rate_bucket * */
	struct rate_limit lim;
};

void
rate_bucket_init(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms)
{
	b->milli = (long long)lim->burst * 1000;
	b->last_ms = now_ms;
}

/* rate tokens a second = rate thousandths a millisecond. */
static void
rate_bucket_refill(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms)
{
	long long cap = (long long)lim->burst * 1000;
	long long elapsed = now_ms - b->last_ms;

	if (elapsed <= 0)
		return;   /* a clock that stood still (or a caller out of order) */
	b->last_ms = now_ms;
	/* Compared before multiplying, so a long idle time cannot overflow. */
	if (b->milli >= cap || elapsed > (cap - b->milli) / lim->rate)
		b->milli = cap;
	else
		b->milli += elapsed * lim->rate;
}

/* Seconds, rounded up, until the bucket holds one whole token. */
static int
rate_bucket_wait_s(const struct rate_bucket *b, const struct rate_limit *lim)
{
	long long missing = 1000 - b->milli;
	long long ms = (missing + lim->rate - 1) / lim->rate;

	return ms <= 1000 ? 1 : (int)((ms + 999) / 1000);
}

int
rate_bucket_check(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms, int *retry_after_s)
{
	if (lim->rate <= 0)
		return 1;
	rate_bucket_refill(b, lim, now_ms);
	if (b->milli >= 1000)
		return 1;
	if (retry_after_s != NULL)
		*retry_after_s = rate_bucket_wait_s(b, lim);
	return 0;
}

int
rate_bucket_take(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms, int *retry_after_s)
{
	if (!rate_bucket_check(b, lim, now_ms, retry_after_s))
		return 0;
	if (lim->rate > 0)
		b->milli -= 1000;
	return 1;
}

struct rate_table *
rate_table_new(size_t capacity, const struct rate_limit *lim)
{
	struct rate_table *t;

	if (lim->rate < 0 || (lim->rate > 0 && lim->burst < 1) ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->lim = *lim;
	if ((t->buckets = lru_new(capacity, free)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
rate_table_free(struct rate_table *t)
{
	if (t == NULL)
		return;
	lru_free(t->buckets);
	free(t);
}

/*
 * key's bucket, made full when new; NULL when it cannot be stored (the key
 * is too long or memory ran out): the caller then lets the call through,
 * since refusing everyone for our own failure is worse than a missed limit.
 */
static struct rate_bucket *
rate_table_bucket(struct rate_table *t, const char *key, long long now_ms)
{
	struct rate_bucket *b = lru_get(t->buckets, key);

	if (b != NULL)
		return b;
	if ((b = malloc(sizeof(*b))) == NULL)
		return NULL;
	rate_bucket_init(b, &t->lim, now_ms);
	if (lru_put(t->buckets, key, b) == -1) {
		free(b);
		return NULL;
	}
	return b;
}

int
rate_table_take(struct rate_table *t, const char *key, long long now_ms,
    int *retry_after_s)
{
	struct rate_bucket *b;

	if (t->lim.rate <= 0 || (b = rate_table_bucket(t, key, now_ms)) == NULL)
		return 1;
	return rate_bucket_take(b, &t->lim, now_ms, retry_after_s);
}

/* An unknown key is not stored just for asking: its bucket would be full. */
int
rate_table_check(struct rate_table *t, const char *key, long long now_ms,
    int *retry_after_s)
{
	struct rate_bucket *b;

	if (t->lim.rate <= 0 || (b = lru_get(t->buckets, key)) == NULL)
		return 1;
	return rate_bucket_check(b, &t->lim, now_ms, retry_after_s);
}

size_t
rate_table_count(const struct rate_table *t)
{
	return lru_count(t->buckets);
}
