// uses: services/deploy-svc/deploy_state.c
/*
 * test_deploy_state.c: every (from, to, newer) triple of the deployment
 * state machine against two hand-written tables, report sequences through
 * the running <-> crashed cycle delivered in order, twice and out of order,
 * and the name and proto mappings.
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

/*
 * Rows: from; columns: to. Order: pending resolving pulling starting
 * running failed superseded crashed ready. The two tables differ only in
 * the cycle cells (running -> crashed, crashed -> running).
 */
static const enum deploy_move expected[2][DEPLOY_STATUS_COUNT][DEPLOY_STATUS_COUNT] = {
	/* newer == 0: the report is not newer than the last applied one. */
	{
	/* pending    */ { I, A, A, A, A, A, X, X, A },
	/* resolving  */ { I, I, A, A, A, A, X, X, A },
	/* pulling    */ { I, I, I, A, A, A, X, X, A },
	/* starting   */ { I, I, I, I, A, A, X, X, A },
	/* running    */ { I, I, I, I, I, X, A, I, X },
	/* failed     */ { I, I, I, I, X, I, X, X, X },
	/* superseded */ { I, I, I, I, I, X, I, I, I },
	/* crashed    */ { I, I, I, I, I, X, A, I, X },
	/* ready      */ { I, I, I, I, X, X, A, X, I },
	},
	/* newer == 1 */
	{
	/* pending    */ { I, A, A, A, A, A, X, X, A },
	/* resolving  */ { I, I, A, A, A, A, X, X, A },
	/* pulling    */ { I, I, I, A, A, A, X, X, A },
	/* starting   */ { I, I, I, I, A, A, X, X, A },
	/* running    */ { I, I, I, I, I, X, A, A, X },
	/* failed     */ { I, I, I, I, X, I, X, X, X },
	/* superseded */ { I, I, I, I, I, X, I, I, I },
	/* crashed    */ { I, I, I, I, A, X, A, I, X },
	/* ready      */ { I, I, I, I, X, X, A, X, I },
	},
};

static void
test_every_triple(void **state)
{
	(void)state;
	for (int n = 0; n < 2; n++) {
		for (int f = 0; f < DEPLOY_STATUS_COUNT; f++) {
			for (int t = 0; t < DEPLOY_STATUS_COUNT; t++) {
				enum deploy_move got = deploy_state_transition(
				    (enum deploy_status)f, (enum deploy_status)t, n);
				if (got != expected[n][f][t])
					fail_msg("%s -> %s (newer %d): got %d, want %d",
					    deploy_state_name((enum deploy_status)f),
					    deploy_state_name((enum deploy_status)t),
					    n, got, expected[n][f][t]);
			}
		}
	}
}

/* Only the two cycle moves look at the clock; any non-zero newer is "newer". */
static void
test_clock_only_for_the_cycle(void **state)
{
	(void)state;
	for (int f = 0; f < DEPLOY_STATUS_COUNT; f++) {
		for (int t = 0; t < DEPLOY_STATUS_COUNT; t++) {
			int cycle = (f == DEPLOY_RUNNING && t == DEPLOY_CRASHED) ||
			    (f == DEPLOY_CRASHED && t == DEPLOY_RUNNING);
			enum deploy_move old = deploy_state_transition(
			    (enum deploy_status)f, (enum deploy_status)t, 0);
			enum deploy_move now = deploy_state_transition(
			    (enum deploy_status)f, (enum deploy_status)t, 1);
			if ((old != now) != cycle)
				fail_msg("%s -> %s: the clock %s matter",
				    deploy_state_name((enum deploy_status)f),
				    deploy_state_name((enum deploy_status)t),
				    cycle ? "must" : "must not");
			assert_int_equal(deploy_state_transition(
			    (enum deploy_status)f, (enum deploy_status)t, 7), now);
		}
	}
}

/*
 * What deploy_consume.c does with one report, minus the database: the
 * stored state and the clock of the last applied report.
 */
struct sim {
	enum deploy_status st;
	long long last_ms;
};

struct report {
	enum deploy_status to;
	long long observed_ms;
	enum deploy_move want;
	enum deploy_status after;
};

static void
sim_apply(struct sim *s, const struct report *r, size_t step)
{
	enum deploy_move got = deploy_state_transition(s->st, r->to,
	    r->observed_ms > s->last_ms);

	if (got != r->want)
		fail_msg("step %zu: %s at %s (t=%lld, last %lld): got %d, want %d",
		    step, deploy_state_name(r->to), deploy_state_name(s->st),
		    r->observed_ms, s->last_ms, got, r->want);
	if (got == DEPLOY_MOVE_ALLOWED) {
		s->st = r->to;
		if (r->observed_ms > s->last_ms)
			s->last_ms = r->observed_ms;
	}
	if (s->st != r->after)
		fail_msg("step %zu: now %s, want %s", step, deploy_state_name(s->st),
		    deploy_state_name(r->after));
}

static void
run_sequence(const struct report *seq, size_t n)
{
	struct sim s = { DEPLOY_PENDING, 0 };

	for (size_t i = 0; i < n; i++)
		sim_apply(&s, &seq[i], i);
}

#define RUN(seq) run_sequence(seq, sizeof(seq) / sizeof(seq[0]))

/* In order: deploy, crash, recover, crash, recover, superseded. */
static void
test_cycle_in_order(void **state)
{
	static const struct report seq[] = {
		{ DEPLOY_PULLING, 10, A, DEPLOY_PULLING },
		{ DEPLOY_STARTING, 20, A, DEPLOY_STARTING },
		{ DEPLOY_RUNNING, 30, A, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 40, A, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 50, A, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 60, A, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 70, A, DEPLOY_RUNNING },
		{ DEPLOY_SUPERSEDED, 0, A, DEPLOY_SUPERSEDED },
	};

	(void)state;
	RUN(seq);
}

/* Every report delivered twice: the copies change nothing. */
static void
test_cycle_duplicates(void **state)
{
	static const struct report seq[] = {
		{ DEPLOY_RUNNING, 30, A, DEPLOY_RUNNING },
		{ DEPLOY_RUNNING, 30, I, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 40, A, DEPLOY_CRASHED },
		{ DEPLOY_CRASHED, 40, I, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 50, A, DEPLOY_RUNNING },
		{ DEPLOY_RUNNING, 50, I, DEPLOY_RUNNING },
		/* An old crash report again, after the recovery: stale. */
		{ DEPLOY_CRASHED, 40, I, DEPLOY_RUNNING },
	};

	(void)state;
	RUN(seq);
}

/* Late reports never undo newer ones, whichever way round the cycle. */
static void
test_cycle_out_of_order(void **state)
{
	static const struct report seq[] = {
		{ DEPLOY_RUNNING, 30, A, DEPLOY_RUNNING },
		/* crashed at 60 overtakes running at 50 and crashed at 40. */
		{ DEPLOY_CRASHED, 60, A, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 50, I, DEPLOY_CRASHED },
		{ DEPLOY_CRASHED, 40, I, DEPLOY_CRASHED },
		/* A report as old as the last applied one is not newer. */
		{ DEPLOY_RUNNING, 60, I, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 70, A, DEPLOY_RUNNING },
		/* Stale chain reports are ignored whatever their clock says. */
		{ DEPLOY_STARTING, 80, I, DEPLOY_RUNNING },
		{ DEPLOY_PULLING, 5, I, DEPLOY_RUNNING },
	};

	(void)state;
	RUN(seq);
}

/* An agent without a clock (0) cannot move the cycle: it is not ordered. */
static void
test_cycle_without_clock(void **state)
{
	static const struct report seq[] = {
		{ DEPLOY_RUNNING, 0, A, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 0, I, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 1, A, DEPLOY_CRASHED },
		{ DEPLOY_RUNNING, 0, I, DEPLOY_CRASHED },
	};

	(void)state;
	RUN(seq);
}

/* crashed ends only by being superseded; failed is not a way out. */
static void
test_crashed_exits(void **state)
{
	static const struct report superseded[] = {
		{ DEPLOY_RUNNING, 30, A, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 40, A, DEPLOY_CRASHED },
		{ DEPLOY_SUPERSEDED, 0, A, DEPLOY_SUPERSEDED },
		/* Anything late about it afterwards is stale. */
		{ DEPLOY_RUNNING, 50, I, DEPLOY_SUPERSEDED },
		{ DEPLOY_CRASHED, 60, I, DEPLOY_SUPERSEDED },
	};
	static const struct report failed[] = {
		{ DEPLOY_RUNNING, 30, A, DEPLOY_RUNNING },
		{ DEPLOY_CRASHED, 40, A, DEPLOY_CRASHED },
		{ DEPLOY_FAILED, 50, X, DEPLOY_CRASHED },
	};
	static const struct report early[] = {
		/* Before running there is nothing to crash: an agent bug. */
		{ DEPLOY_STARTING, 20, A, DEPLOY_STARTING },
		{ DEPLOY_CRASHED, 30, X, DEPLOY_STARTING },
		{ DEPLOY_FAILED, 40, A, DEPLOY_FAILED },
		{ DEPLOY_CRASHED, 50, X, DEPLOY_FAILED },
	};

	(void)state;
	RUN(superseded);
	RUN(failed);
	RUN(early);
}

static void
test_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(deploy_state_transition(DEPLOY_STATUS_COUNT,
	    DEPLOY_RUNNING, 1), DEPLOY_MOVE_ILLEGAL);
	assert_int_equal(deploy_state_transition(DEPLOY_PENDING,
	    (enum deploy_status)-1, 1), DEPLOY_MOVE_ILLEGAL);
	assert_int_equal(deploy_state_transition(DEPLOY_CRASHED,
	    DEPLOY_STATUS_COUNT, 1), DEPLOY_MOVE_ILLEGAL);
	assert_string_equal(deploy_state_name(DEPLOY_STATUS_COUNT), "unknown");
}

static void
test_names_round_trip(void **state)
{
	(void)state;
	static const char *const names[] = { "pending", "resolving", "pulling",
	    "starting", "running", "failed", "superseded", "crashed", "ready" };
	for (int i = 0; i < DEPLOY_STATUS_COUNT; i++) {
		enum deploy_status s;
		assert_string_equal(deploy_state_name((enum deploy_status)i), names[i]);
		assert_int_equal(deploy_state_parse(names[i], &s), 0);
		assert_int_equal(s, i);
	}
	enum deploy_status s;
	assert_int_equal(deploy_state_parse("Running", &s), -1);
	assert_int_equal(deploy_state_parse("Crashed", &s), -1);
	assert_int_equal(deploy_state_parse("", &s), -1);
	assert_int_equal(deploy_state_parse(NULL, &s), -1);
}

static void
test_proto_mapping(void **state)
{
	(void)state;
	enum deploy_status s;
	assert_int_equal(deploy_state_from_proto(0, &s), -1);   /* UNSPECIFIED */
	assert_int_equal(deploy_state_from_proto(10, &s), -1);
	assert_int_equal(deploy_state_from_proto(-3, &s), -1);
	for (int p = 1; p <= 9; p++) {
		assert_int_equal(deploy_state_from_proto(p, &s), 0);
		assert_int_equal(deploy_state_to_proto(s), p);
	}
	assert_int_equal(deploy_state_from_proto(5, &s), 0);
	assert_int_equal(s, DEPLOY_RUNNING);
	assert_int_equal(deploy_state_from_proto(
	    SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_CRASHED, &s), 0);
	assert_int_equal(s, DEPLOY_CRASHED);
	assert_int_equal(deploy_state_from_proto(
	    SLIPWAY__V1__DEPLOYMENT_STATE__DEPLOYMENT_STATE_READY, &s), 0);
	assert_int_equal(s, DEPLOY_READY);
}

/*
 * A task's deployment: the chain to ready with skips, late chain reports
 * ignored, superseded by the next one, and nothing of a service's cycle.
 */
static void
test_task_ready(void **state)
{
	static const struct report seq[] = {
		{ DEPLOY_PULLING, 10, A, DEPLOY_PULLING },
		{ DEPLOY_READY, 20, A, DEPLOY_READY },
		{ DEPLOY_READY, 20, I, DEPLOY_READY },
		{ DEPLOY_STARTING, 15, I, DEPLOY_READY },
		{ DEPLOY_RESOLVING, 30, I, DEPLOY_READY },
		{ DEPLOY_CRASHED, 40, X, DEPLOY_READY },
		{ DEPLOY_RUNNING, 50, X, DEPLOY_READY },
		{ DEPLOY_FAILED, 60, X, DEPLOY_READY },
		{ DEPLOY_SUPERSEDED, 0, A, DEPLOY_SUPERSEDED },
		{ DEPLOY_READY, 70, I, DEPLOY_SUPERSEDED },
	};
	static const struct report direct[] = {
		{ DEPLOY_READY, 5, A, DEPLOY_READY },
	};
	static const struct report failed[] = {
		{ DEPLOY_PULLING, 10, A, DEPLOY_PULLING },
		{ DEPLOY_FAILED, 20, A, DEPLOY_FAILED },
		{ DEPLOY_READY, 30, X, DEPLOY_FAILED },
	};

	(void)state;
	RUN(seq);
	RUN(direct);
	RUN(failed);
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
		cmocka_unit_test(test_every_triple),
		cmocka_unit_test(test_clock_only_for_the_cycle),
		cmocka_unit_test(test_cycle_in_order),
		cmocka_unit_test(test_cycle_duplicates),
		cmocka_unit_test(test_cycle_out_of_order),
		cmocka_unit_test(test_cycle_without_clock),
		cmocka_unit_test(test_crashed_exits),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_proto_mapping),
		cmocka_unit_test(test_terminal),
		cmocka_unit_test(test_task_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
