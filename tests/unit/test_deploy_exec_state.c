// uses: services/deploy-svc/deploy_exec_state.c
/*
 * test_deploy_exec_state.c: every (from, to) pair of the execution state
 * machine against a hand-written table, report sequences delivered in
 * order, twice, out of order and with missed reports, and the name and
 * proto mappings.
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

#define P DEPLOY_EXEC_PENDING
#define R DEPLOY_EXEC_RUNNING
#define S DEPLOY_EXEC_SUCCEEDED
#define F DEPLOY_EXEC_FAILED
#define T DEPLOY_EXEC_TIMED_OUT
#define K DEPLOY_EXEC_SKIPPED

/*
 * Rows: from; columns: to. Order: pending running succeeded failed
 * timed_out skipped.
 */
static const enum deploy_move expected[DEPLOY_EXEC_STATUS_COUNT][DEPLOY_EXEC_STATUS_COUNT] = {
	/* pending   */ { I, A, A, A, A, A },
	/* running   */ { I, I, A, A, A, X },
	/* succeeded */ { I, I, I, X, X, X },
	/* failed    */ { I, I, X, I, X, X },
	/* timed_out */ { I, I, X, X, I, X },
	/* skipped   */ { I, X, X, X, X, I },
};

static void
test_every_pair(void **state)
{
	(void)state;
	for (int f = 0; f < DEPLOY_EXEC_STATUS_COUNT; f++) {
		for (int t = 0; t < DEPLOY_EXEC_STATUS_COUNT; t++) {
			enum deploy_move got = deploy_exec_state_transition(
			    (enum deploy_exec_status)f, (enum deploy_exec_status)t);
			if (got != expected[f][t])
				fail_msg("%s -> %s: got %d, want %d",
				    deploy_exec_state_name((enum deploy_exec_status)f),
				    deploy_exec_state_name((enum deploy_exec_status)t),
				    got, expected[f][t]);
		}
	}
}

struct report {
	enum deploy_exec_status to;
	enum deploy_move want;
	enum deploy_exec_status after;
};

/* What deploy_exec_report.c does with each report, minus the database. */
static void
run_sequence(const struct report *seq, size_t n)
{
	enum deploy_exec_status st = P;

	for (size_t i = 0; i < n; i++) {
		enum deploy_move got = deploy_exec_state_transition(st, seq[i].to);
		if (got != seq[i].want)
			fail_msg("step %zu: %s at %s: got %d, want %d", i,
			    deploy_exec_state_name(seq[i].to),
			    deploy_exec_state_name(st), got, seq[i].want);
		if (got == A)
			st = seq[i].to;
		if (st != seq[i].after)
			fail_msg("step %zu: now %s, want %s", i,
			    deploy_exec_state_name(st),
			    deploy_exec_state_name(seq[i].after));
	}
}

#define RUN(seq) run_sequence(seq, sizeof(seq) / sizeof(seq[0]))

static void
test_in_order_and_twice(void **state)
{
	static const struct report seq[] = {
		{ R, A, R }, { R, I, R }, { S, A, S }, { S, I, S }, { R, I, S },
		{ P, I, S },
	};

	(void)state;
	RUN(seq);
}

/* The running report overtaken by the final one, or lost. */
static void
test_out_of_order_and_missed(void **state)
{
	static const struct report late[] = { { F, A, F }, { R, I, F } };
	static const struct report lost[] = { { T, A, T } };
	static const struct report skipped[] = { { K, A, K }, { K, I, K } };

	(void)state;
	RUN(late);
	RUN(lost);
	RUN(skipped);
}

/* Two final answers for one run, or a skipped run that ran: no ordering explains it. */
static void
test_contradictions(void **state)
{
	static const struct report two_finals[] = {
		{ R, A, R }, { S, A, S }, { F, X, S }, { T, X, S },
	};
	static const struct report skipped_ran[] = {
		{ K, A, K }, { R, X, K }, { S, X, K },
	};
	static const struct report running_skipped[] = { { R, A, R }, { K, X, R } };

	(void)state;
	RUN(two_finals);
	RUN(skipped_ran);
	RUN(running_skipped);
}

static void
test_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(deploy_exec_state_transition(DEPLOY_EXEC_STATUS_COUNT, R),
	    X);
	assert_int_equal(deploy_exec_state_transition(P,
	    (enum deploy_exec_status)-1), X);
	assert_string_equal(deploy_exec_state_name(DEPLOY_EXEC_STATUS_COUNT),
	    "unknown");
}

static void
test_names_and_proto(void **state)
{
	static const char *const names[] = { "pending", "running", "succeeded",
	    "failed", "timed_out", "skipped" };
	enum deploy_exec_status s;

	(void)state;
	for (int i = 0; i < DEPLOY_EXEC_STATUS_COUNT; i++) {
		assert_string_equal(deploy_exec_state_name(
		    (enum deploy_exec_status)i), names[i]);
		assert_int_equal(deploy_exec_state_parse(names[i], &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(deploy_exec_state_parse("Succeeded", &s), -1);
	assert_int_equal(deploy_exec_state_parse(NULL, &s), -1);
	assert_int_equal(deploy_exec_state_from_proto(0, &s), -1);
	assert_int_equal(deploy_exec_state_from_proto(7, &s), -1);
	assert_int_equal(deploy_exec_state_from_proto(-1, &s), -1);
	for (int p = 1; p <= 6; p++) {
		assert_int_equal(deploy_exec_state_from_proto(p, &s), 0);
		assert_int_equal(deploy_exec_state_to_proto(s), p);
	}
	assert_int_equal(deploy_exec_state_from_proto(
	    SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_TIMED_OUT, &s), 0);
	assert_int_equal(s, T);
	assert_int_equal(deploy_exec_state_from_proto(
	    SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_SKIPPED, &s), 0);
	assert_int_equal(s, K);
}

static void
test_terminal(void **state)
{
	(void)state;
	for (int i = 0; i < DEPLOY_EXEC_STATUS_COUNT; i++)
		assert_int_equal(deploy_exec_state_terminal(
		    (enum deploy_exec_status)i), i != P && i != R);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_in_order_and_twice),
		cmocka_unit_test(test_out_of_order_and_missed),
		cmocka_unit_test(test_contradictions),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_names_and_proto),
		cmocka_unit_test(test_terminal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
