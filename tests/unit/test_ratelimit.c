/*
 * test_ratelimit.c: token buckets and their table (lib ratelimit.c) on an
 * injected clock: the burst, refill at the rate and never past the burst,
 * Retry-After rounded up to whole seconds, "no limit", the table's bound
 * (a forgotten key starts full) and check that takes nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "ratelimit.h"

static void
test_burst_then_refill(void **state)
{
	const struct rate_limit lim = { 10, 50 };
	struct rate_bucket b;
	int retry = 0;

	(void)state;
	rate_bucket_init(&b, &lim, 1000);
	for (int i = 0; i < 50; i++)
		assert_true(rate_bucket_take(&b, &lim, 1000, &retry));
	assert_false(rate_bucket_take(&b, &lim, 1000, &retry));
	assert_int_equal(retry, 1);
	/* 10/s: one token every 100 ms, not before. */
	assert_false(rate_bucket_take(&b, &lim, 1099, NULL));
	assert_true(rate_bucket_take(&b, &lim, 1100, NULL));
	assert_false(rate_bucket_take(&b, &lim, 1100, NULL));
	/* 1 s later: 10 more, exactly. */
	for (int i = 0; i < 10; i++)
		assert_true(rate_bucket_take(&b, &lim, 2100, NULL));
	assert_false(rate_bucket_take(&b, &lim, 2100, NULL));
	/* Never more than the burst, however long idle (no overflow either). */
	for (int i = 0; i < 50; i++)
		assert_true(rate_bucket_take(&b, &lim, 1000LL * 1000 * 1000 * 1000,
		    NULL));
	assert_false(rate_bucket_take(&b, &lim, 1000LL * 1000 * 1000 * 1000,
	    NULL));
}

static void
test_retry_after_rounding(void **state)
{
	const struct rate_limit slow = { 1, 1 };
	struct rate_bucket b;
	int retry = 0;

	(void)state;
	rate_bucket_init(&b, &slow, 0);
	assert_true(rate_bucket_take(&b, &slow, 0, &retry));
	assert_false(rate_bucket_take(&b, &slow, 0, &retry));
	assert_int_equal(retry, 1);          /* exactly 1 s */
	assert_false(rate_bucket_take(&b, &slow, 1, &retry));
	assert_int_equal(retry, 1);          /* 0.999 s rounds up to 1 */
	assert_true(rate_bucket_take(&b, &slow, 1000, &retry));
	/*
	 * Rates are whole tokens a second, so the next token is never more
	 * than a second away: Retry-After is 1 at any rate, never 0.
	 */
	const struct rate_limit r3 = { 3, 2 };
	rate_bucket_init(&b, &r3, 0);
	assert_true(rate_bucket_take(&b, &r3, 0, NULL));
	assert_true(rate_bucket_take(&b, &r3, 0, NULL));
	assert_false(rate_bucket_take(&b, &r3, 0, &retry));
	assert_int_equal(retry, 1);          /* 334 ms -> 1 s */
	assert_false(rate_bucket_take(&b, &r3, 100, &retry));
	assert_int_equal(retry, 1);
}

static void
test_unlimited(void **state)
{
	const struct rate_limit off = { 0, 0 };
	struct rate_table *t = rate_table_new(4, &off);

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 1000; i++)
		assert_true(rate_table_take(t, "k", 0, NULL));
	assert_int_equal(rate_table_count(t), 0);
	rate_table_free(t);
	/* A rate without a burst is a configuration error. */
	assert_null(rate_table_new(4, &(struct rate_limit){ 5, 0 }));
	assert_null(rate_table_new(4, &(struct rate_limit){ -1, 5 }));
}

static void
test_table_keys_and_bound(void **state)
{
	const struct rate_limit lim = { 20, 2 };
	struct rate_table *t = rate_table_new(3, &lim);
	char key[16];
	int retry = 0;

	(void)state;
	/* check takes nothing and stores nothing for an unknown key. */
	assert_true(rate_table_check(t, "10.0.0.1", 0, &retry));
	assert_int_equal(rate_table_count(t), 0);
	assert_true(rate_table_take(t, "10.0.0.1", 0, NULL));
	assert_true(rate_table_take(t, "10.0.0.1", 0, NULL));
	assert_false(rate_table_check(t, "10.0.0.1", 0, &retry));
	assert_int_equal(retry, 1);
	assert_false(rate_table_take(t, "10.0.0.1", 0, NULL));
	/* Another key has its own bucket. */
	assert_true(rate_table_take(t, "10.0.0.2", 0, NULL));
	/* 50 ms at 20/s is one token back. */
	assert_true(rate_table_check(t, "10.0.0.1", 50, NULL));
	assert_true(rate_table_take(t, "10.0.0.1", 50, NULL));
	assert_false(rate_table_take(t, "10.0.0.1", 50, NULL));
	/* Bounded: more keys than capacity forget the least recent. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(rate_table_take(t, key, 60, NULL));
	}
	assert_int_equal(rate_table_count(t), 3);
	assert_true(rate_table_take(t, "10.0.0.1", 60, NULL));  /* full again */
	rate_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_retry_after_rounding),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_table_keys_and_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
