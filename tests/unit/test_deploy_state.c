// uses: services/deploy-svc/deploy_state.c
/*
 * test_deploy_state.c: every (from, to) pair of the deployment state machine
 * against a hand-written table, plus the name and proto mappings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"

#define A DEPLOY_MOVE_ALLOWED
#define I DEPLOY_MOVE_IGNORED
#define X DEPLOY_MOVE_ILLEGAL

/* Rows: from; columns: to. Order: pending resolving pulling starting running failed superseded. */
static const enum deploy_move expected[DEPLOY_STATUS_COUNT][DEPLOY_STATUS_COUNT] = {
	/* pending    */ { I, A, A, A, A, A, X },
	/* resolving  */ { I, I, A, A, A, A, X },
	/* pulling    */ { I, I, I, A, A, A, X },
	/* starting   */ { I, I, I, I, A, A, X },
	/* running    */ { I, I, I, I, I, X, A },
	/* failed     */ { I, I, I, I, X, I, X },
	/* superseded */ { I, I, I, I, I, X, I },
};

static void
test_every_pair(void **state)
{
	(void)state;
	for (int f = 0; f < DEPLOY_STATUS_COUNT; f++) {
		for (int t = 0; t < DEPLOY_STATUS_COUNT; t++) {
			enum deploy_move got = deploy_state_transition(
			    (enum deploy_status)f, (enum deploy_status)t);
			if (got != expected[f][t])
				fail_msg("%s -> %s: got %d, want %d",
				    deploy_state_name((enum deploy_status)f),
				    deploy_state_name((enum deploy_status)t),
				    got, expected[f][t]);
		}
	}
}

static void
test_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(deploy_state_transition(DEPLOY_STATUS_COUNT,
	    DEPLOY_RUNNING), DEPLOY_MOVE_ILLEGAL);
	assert_int_equal(deploy_state_transition(DEPLOY_PENDING,
	    (enum deploy_status)-1), DEPLOY_MOVE_ILLEGAL);
	assert_string_equal(deploy_state_name(DEPLOY_STATUS_COUNT), "unknown");
}

static void
test_names_round_trip(void **state)
{
	(void)state;
	static const char *const names[] = { "pending", "resolving", "pulling",
	    "starting", "running", "failed", "superseded" };
	for (int i = 0; i < DEPLOY_STATUS_COUNT; i++) {
		enum deploy_status s;
		assert_string_equal(deploy_state_name((enum deploy_status)i), names[i]);
		assert_int_equal(deploy_state_parse(names[i], &s), 0);
		assert_int_equal(s, i);
	}
	enum deploy_status s;
	assert_int_equal(deploy_state_parse("Running", &s), -1);
	assert_int_equal(deploy_state_parse("", &s), -1);
	assert_int_equal(deploy_state_parse(NULL, &s), -1);
}

static void
test_proto_mapping(void **state)
{
	(void)state;
	enum deploy_status s;
	assert_int_equal(deploy_state_from_proto(0, &s), -1);   /* UNSPECIFIED */
	assert_int_equal(deploy_state_from_proto(8, &s), -1);
	assert_int_equal(deploy_state_from_proto(-3, &s), -1);
	for (int p = 1; p <= 7; p++) {
		assert_int_equal(deploy_state_from_proto(p, &s), 0);
		assert_int_equal(deploy_state_to_proto(s), p);
	}
	assert_int_equal(deploy_state_from_proto(5, &s), 0);
	assert_int_equal(s, DEPLOY_RUNNING);
}

static void
test_terminal(void **state)
{
	(void)state;
	for (int i = 0; i < DEPLOY_STATUS_COUNT; i++)
		assert_int_equal(deploy_state_terminal((enum deploy_status)i),
		    i == DEPLOY_FAILED || i == DEPLOY_SUPERSEDED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_proto_mapping),
		cmocka_unit_test(test_terminal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
