/*
 * ratelimit.h: token buckets, alone or in a bounded table keyed by a short
 * string (a token id, a client address).
 *
 * A bucket holds up to burst tokens and gains rate tokens a second; every
 * call that is let through takes one. Counting is in thousandths of a
 * token and milliseconds, in integers, so refill and Retry-After are exact.
 * rate 0 means no limit (everything passes, nothing is stored).
 *
 * The table forgets the least recently used key when full: a forgotten key
 * starts again with a full bucket, so the bound costs at most one burst per
 * eviction and an idle key costs nothing. Not thread-safe (one loop).
 */
#ifndef SLIPWAY_RATELIMIT_H
#define SLIPWAY_RATELIMIT_H

#include <stddef.h>

struct rate_limit {
	int rate;    /* tokens per second; 0 = unlimited */
	int burst;   /* bucket size, >= 1 when rate > 0 */
};

struct rate_bucket {
	long long milli;     /* thousandths of a token */
	long long last_ms;   /* monotonic time of the last refill */
};

/* A full bucket at now_ms. */
void rate_bucket_init(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms);
/*
 * Takes one token: 1 when there was one; 0 when not, with *retry_after_s
 * the whole seconds (rounded up, at least 1) until there is (may be NULL).
 */
int rate_bucket_take(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms, int *retry_after_s);
/* The same question without taking anything. */
int rate_bucket_check(struct rate_bucket *b, const struct rate_limit *lim,
    long long now_ms, int *retry_after_s);

struct rate_table;

/* capacity: most keys remembered at once (>= 1). NULL on bad input / OOM. */
struct rate_table *rate_table_new(size_t capacity,
    const struct rate_limit *lim);
void rate_table_free(struct rate_table *t);
/* rate_bucket_take / _check on key's bucket; an unknown key's is full. */
int rate_table_take(struct rate_table *t, const char *key, long long now_ms,
    int *retry_after_s);
int rate_table_check(struct rate_table *t, const char *key, long long now_ms,
    int *retry_after_s);
size_t rate_table_count(const struct rate_table *t);

#endif
