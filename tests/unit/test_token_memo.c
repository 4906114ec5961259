// uses: services/webhook-ingress/token_memo.c
/*
 * test_token_memo.c: the webhook's in-process token cache (token_memo.c)
 * and the LRU map under it (lib lru.c), on an injected clock: eviction by
 * recency, the binding and unknown-hash TTLs, unknown hashes that cannot
 * push bindings out, invalidation by hash and by component, and the epoch
 * that tells an in-flight lookup it must not remember what it read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lru.h"
#include "webhook-ingress/hook.h"

#define COMP_A "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define COMP_B "7f0c4b1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"

/* A distinct 64-hex "hash" per n. */
static const char *
hash_of(int n)
{
	static char buf[8][65];
	static int slot;
	char *h = buf[slot++ % 8];

	snprintf(h, 65, "%064x", n);
	return h;
}

static struct token_binding
binding(const char *component, int n)
{
	struct token_binding b;

	memset(&b, 0, sizeof(b));
	snprintf(b.token_id, sizeof(b.token_id),
	    "00000000-0000-4000-8000-%012d", n);
	snprintf(b.component_id, sizeof(b.component_id), "%s", component);
	snprintf(b.org, sizeof(b.org), "acme");
	snprintf(b.registry_host, sizeof(b.registry_host), "ghcr.io");
	snprintf(b.repository, sizeof(b.repository), "ghcr.io/acme/api%d", n);
	b.expires_at_ms = 1700000000000LL + n;
	b.signing = n % 2;
	snprintf(b.signing_box, sizeof(b.signing_box), "%s",
	    b.signing ? "AQIDBAUG" : "");
	return b;
}

static void
test_lru_evicts_least_recent(void **state)
{
	struct lru *l = lru_new(3, free);

	(void)state;
	assert_int_equal(lru_put(l, "a", strdup("1")), 0);
	assert_int_equal(lru_put(l, "b", strdup("2")), 0);
	assert_int_equal(lru_put(l, "c", strdup("3")), 0);
	assert_string_equal(lru_get(l, "a"), "1");    /* a is now the newest */
	assert_int_equal(lru_put(l, "d", strdup("4")), 0);
	assert_null(lru_get(l, "b"));                  /* b was the oldest */
	assert_non_null(lru_get(l, "a"));
	assert_non_null(lru_get(l, "c"));
	assert_non_null(lru_get(l, "d"));
	assert_int_equal(lru_count(l), 3);
	assert_int_equal(lru_put(l, "c", strdup("33")), 0);   /* replace */
	assert_string_equal(lru_get(l, "c"), "33");
	assert_int_equal(lru_count(l), 3);
	assert_int_equal(lru_del(l, "c"), 1);
	assert_int_equal(lru_del(l, "c"), 0);
	assert_int_equal(lru_count(l), 2);
	/* A key longer than LRU_KEY_MAX is refused, not cut. */
	assert_int_equal(lru_put(l, "0123456789012345678901234567890123456789"
	    "01234567890123456789012345", NULL), -1);
	lru_free(l);
}

static void
test_lru_many_keys(void **state)
{
	struct lru *l = lru_new(1000, NULL);
	char key[16];

	(void)state;
	for (intptr_t i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", (int)i);
		assert_int_equal(lru_put(l, key, (void *)(i + 1)), 0);
	}
	assert_int_equal(lru_count(l), 1000);
	assert_null(lru_get(l, "k3999"));
	assert_ptr_equal(lru_get(l, "k4000"), (void *)4001);
	assert_ptr_equal(lru_get(l, "k4999"), (void *)5000);
	lru_free(l);
}

static void
test_binding_roundtrip_and_ttl(void **state)
{
	struct token_memo *m = token_memo_new(10, 60000, 5000);
	struct token_binding b = binding(COMP_A, 1), got;

	(void)state;
	assert_int_equal(token_memo_get(m, hash_of(1), 0, &got), TOKEN_MEMO_MISS);
	token_memo_put(m, hash_of(1), &b, 1000);
	assert_int_equal(token_memo_get(m, hash_of(1), 1000, &got),
	    TOKEN_MEMO_VALID);
	assert_memory_equal(&got, &b, sizeof(b));
	assert_int_equal(token_memo_get(m, hash_of(1), 60999, &got),
	    TOKEN_MEMO_VALID);
	/* Past its TTL it is a miss, and gone. */
	assert_int_equal(token_memo_get(m, hash_of(1), 61000, &got),
	    TOKEN_MEMO_MISS);
	assert_int_equal(token_memo_count(m, 1), 0);
	token_memo_free(m);
}

static void
test_unknown_ttl(void **state)
{
	struct token_memo *m = token_memo_new(10, 60000, 5000);
	struct token_binding got, b = binding(COMP_A, 2);

	(void)state;
	token_memo_put_unknown(m, hash_of(2), 0);
	assert_int_equal(token_memo_get(m, hash_of(2), 4999, &got),
	    TOKEN_MEMO_INVALID);
	assert_int_equal(token_memo_get(m, hash_of(2), 5000, &got),
	    TOKEN_MEMO_MISS);
	/* A binding replaces an unknown entry, and the other way round. */
	token_memo_put_unknown(m, hash_of(2), 0);
	token_memo_put(m, hash_of(2), &b, 10);
	assert_int_equal(token_memo_get(m, hash_of(2), 20, &got),
	    TOKEN_MEMO_VALID);
	token_memo_put_unknown(m, hash_of(2), 30);
	assert_int_equal(token_memo_get(m, hash_of(2), 40, &got),
	    TOKEN_MEMO_INVALID);
	assert_int_equal(token_memo_count(m, 1), 0);
	token_memo_free(m);
	/* A negative TTL of 0 keeps nothing. */
	m = token_memo_new(10, 60000, 0);
	token_memo_put_unknown(m, hash_of(2), 0);
	assert_int_equal(token_memo_get(m, hash_of(2), 0, &got), TOKEN_MEMO_MISS);
	token_memo_free(m);
}

static void
test_binding_eviction(void **state)
{
	struct token_memo *m = token_memo_new(4, 60000, 5000);
	struct token_binding b, got;

	(void)state;
	for (int i = 0; i < 4; i++) {
		b = binding(COMP_A, i);
		token_memo_put(m, hash_of(i), &b, 0);
	}
	assert_int_equal(token_memo_get(m, hash_of(0), 1, &got),
	    TOKEN_MEMO_VALID);   /* 0 used: 1 is now the oldest */
	b = binding(COMP_A, 4);
	token_memo_put(m, hash_of(4), &b, 2);
	assert_int_equal(token_memo_count(m, 1), 4);
	assert_int_equal(token_memo_get(m, hash_of(1), 3, &got), TOKEN_MEMO_MISS);
	assert_int_equal(token_memo_get(m, hash_of(0), 3, &got),
	    TOKEN_MEMO_VALID);
	token_memo_free(m);
}

/* A flood of distinct unknown hashes only evicts other unknown hashes. */
static void
test_unknown_cannot_evict_bindings(void **state)
{
	struct token_memo *m = token_memo_new(8, 60000, 5000);
	struct token_binding b, got;

	(void)state;
	for (int i = 0; i < 8; i++) {
		b = binding(COMP_A, i);
		token_memo_put(m, hash_of(i), &b, 0);
	}
	for (int i = 1000; i < 11000; i++)
		token_memo_put_unknown(m, hash_of(i), 0);
	assert_int_equal(token_memo_count(m, 0), 2);   /* capacity / 4 */
	assert_int_equal(token_memo_count(m, 1), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(token_memo_get(m, hash_of(i), 1, &got),
		    TOKEN_MEMO_VALID);
	assert_int_equal(token_memo_get(m, hash_of(10999), 1, &got),
	    TOKEN_MEMO_INVALID);
	assert_int_equal(token_memo_get(m, hash_of(1000), 1, &got),
	    TOKEN_MEMO_MISS);
	token_memo_free(m);
}

static void
test_invalidation(void **state)
{
	struct token_memo *m = token_memo_new(10, 60000, 5000);
	struct token_binding b, got;
	unsigned long long e0 = token_memo_epoch(m);

	(void)state;
	for (int i = 0; i < 6; i++) {
		b = binding(i < 4 ? COMP_A : COMP_B, i);
		token_memo_put(m, hash_of(i), &b, 0);
	}
	token_memo_put_unknown(m, hash_of(99), 0);
	/* By hash (TokenRevoked, TokenIssued): either kind of entry goes. */
	token_memo_drop(m, hash_of(5));
	token_memo_drop(m, hash_of(99));
	assert_int_equal(token_memo_get(m, hash_of(5), 1, &got), TOKEN_MEMO_MISS);
	assert_int_equal(token_memo_get(m, hash_of(99), 1, &got), TOKEN_MEMO_MISS);
	assert_true(token_memo_epoch(m) > e0);
	/* TokenIssued forgets only "unknown": a binding already there stays. */
	token_memo_put_unknown(m, hash_of(98), 0);
	e0 = token_memo_epoch(m);
	token_memo_drop_unknown(m, hash_of(98));
	token_memo_drop_unknown(m, hash_of(4));
	assert_int_equal(token_memo_get(m, hash_of(98), 1, &got), TOKEN_MEMO_MISS);
	assert_int_equal(token_memo_get(m, hash_of(4), 1, &got), TOKEN_MEMO_VALID);
	assert_true(token_memo_epoch(m) > e0);
	/* By component (ComponentDeleted, ComponentUpdated). */
	e0 = token_memo_epoch(m);
	assert_int_equal(token_memo_drop_component(m, COMP_A, 0), 4);
	assert_true(token_memo_epoch(m) > e0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(token_memo_get(m, hash_of(i), 1, &got),
		    TOKEN_MEMO_MISS);
	assert_int_equal(token_memo_get(m, hash_of(4), 1, &got),
	    TOKEN_MEMO_VALID);
	assert_string_equal(got.component_id, COMP_B);
	assert_int_equal(token_memo_drop_component(m, COMP_A, 0), 0);
	/*
	 * A changed component's bindings are not kept for the settle time
	 * (its Redis bindings are being rewritten); other components' are.
	 */
	b = binding(COMP_A, 6);
	token_memo_put(m, hash_of(6), &b, TOKEN_MEMO_SETTLE_MS - 1);
	assert_int_equal(token_memo_get(m, hash_of(6), TOKEN_MEMO_SETTLE_MS - 1,
	    &got), TOKEN_MEMO_MISS);
	b = binding(COMP_B, 9);
	token_memo_put(m, hash_of(9), &b, 1);
	assert_int_equal(token_memo_get(m, hash_of(9), 2, &got),
	    TOKEN_MEMO_VALID);
	/* Puts and gets leave the epoch alone: only invalidation moves it. */
	e0 = token_memo_epoch(m);
	b = binding(COMP_A, 7);
	token_memo_put(m, hash_of(7), &b, TOKEN_MEMO_SETTLE_MS);
	token_memo_put_unknown(m, hash_of(8), 2);
	assert_int_equal(token_memo_get(m, hash_of(7), TOKEN_MEMO_SETTLE_MS + 1,
	    &got), TOKEN_MEMO_VALID);   /* settled: kept again */
	assert_true(token_memo_epoch(m) == e0);
	token_memo_free(m);
}

static void
test_bad_capacity(void **state)
{
	(void)state;
	assert_null(token_memo_new(0, 60000, 5000));
	assert_null(lru_new(0, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_evicts_least_recent),
		cmocka_unit_test(test_lru_many_keys),
		cmocka_unit_test(test_binding_roundtrip_and_ttl),
		cmocka_unit_test(test_unknown_ttl),
		cmocka_unit_test(test_binding_eviction),
		cmocka_unit_test(test_unknown_cannot_evict_bindings),
		cmocka_unit_test(test_invalidation),
		cmocka_unit_test(test_bad_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
