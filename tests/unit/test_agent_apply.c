// uses: services/dataplane-agent/agent_apply.c services/dataplane-agent/agent_spec.c
/*
 * test_agent_apply.c: the apply state machine driven by fake steps: the
 * order of reported states on success and on a failure at every step (the
 * new version discarded, the old one never retired), a lost report stopping
 * the machine, a stop aborting without a failed report, digest pinning,
 * container naming, and every (from, to) pair of agent_apply_transition
 * against a table, for a service and for a task (resolving -> pulling ->
 * ready through the pin step, never started, routed or retired).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"

#define DIGEST_A "sha256:3b6c0a960beba3238c6fb9146f7c94ba093b9766cc7a3722f800030033e66960"
#define DIGEST_B "sha256:0000000000000000000000000000000000000000000000000000000000000000"

/* What the fakes do and what they saw. */
struct fake {
	const char *fail_step;          /* "resolve", "pull", "start", "health" */
	int fail_report_at;             /* report number that fails, 0 = none */
	enum agent_apply_state reported[8];
	char reasons[8][AGENT_REASON_MAX];
	int nreports;
	int calls;
	int retired, discarded;
	char resolved_from[AGENT_DIGEST_MAX];
};

static int
fake_step(struct fake *f, const char *name, struct error *err)
{
	f->calls++;
	if (f->fail_step != NULL && strcmp(f->fail_step, name) == 0) {
		error_set(err, "x", "", "%s_failed: fake", name);
		return -1;
	}
	return 0;
}

static int
fake_resolve(void *ctx, struct agent_apply *a, struct error *err)
{
	struct fake *f = ctx;

	snprintf(f->resolved_from, sizeof(f->resolved_from), "%s", a->ref.digest);
	snprintf(a->digest, sizeof(a->digest), "%s",
	    a->ref.digest[0] ? a->ref.digest : DIGEST_A);
	return fake_step(f, "resolve", err);
}

static int
fake_pull(void *ctx, struct agent_apply *a, struct error *err)
{
	(void)a;
	return fake_step(ctx, "pull", err);
}

static int
fake_start(void *ctx, struct agent_apply *a, struct error *err)
{
	(void)a;
	return fake_step(ctx, "start", err);
}

/* A step that fails without a reason: the machine must supply one. */
static int
fake_health(void *ctx, struct agent_apply *a, struct error *err)
{
	struct fake *f = ctx;

	(void)a;
	if (f->fail_step != NULL && strcmp(f->fail_step, "health-silent") == 0) {
		f->calls++;
		return -1;
	}
	return fake_step(f, "health", err);
}

static int
fake_route(void *ctx, struct agent_apply *a, struct error *err)
{
	struct fake *f = ctx;

	(void)a;
	if (f->fail_step != NULL && strcmp(f->fail_step, "stop") == 0) {
		f->calls++;
		error_set(err, "stopping", "", "the agent is stopping");
		return -1;
	}
	return fake_step(ctx, "route", err);
}

static int
fake_pin(void *ctx, struct agent_apply *a, struct error *err)
{
	(void)a;
	return fake_step(ctx, "pin", err);
}

static void
fake_retire(void *ctx, struct agent_apply *a)
{
	(void)a;
	((struct fake *)ctx)->retired++;
}

static void
fake_discard(void *ctx, struct agent_apply *a)
{
	(void)a;
	((struct fake *)ctx)->discarded++;
}

static int
fake_report(void *ctx, const struct agent_apply *a)
{
	struct fake *f = ctx;

	if (f->nreports >= 8)
		return -1;
	f->reported[f->nreports] = a->state;
	snprintf(f->reasons[f->nreports], AGENT_REASON_MAX, "%s", a->reason);
	f->nreports++;
	return f->nreports == f->fail_report_at ? -1 : 0;
}

static struct agent_spec spec;
static const char *spec_type = "service";

static int
run_spec(struct fake *f, struct agent_apply *a)
{
	struct agent_apply_ops ops = { fake_resolve, fake_pull, fake_start,
	    fake_health, fake_route, fake_pin, fake_retire, fake_discard,
	    fake_report, f };

	memset(a, 0, sizeof(*a));
	a->spec = &spec;
	return agent_apply_run(a, &ops);
}

static int
run(struct fake *f, struct agent_apply *a, const char *image,
    const char *pinned)
{
	memset(&spec, 0, sizeof(spec));
	snprintf(spec.deployment_id, sizeof(spec.deployment_id), "d1");
	snprintf(spec.component_id, sizeof(spec.component_id), "c1");
	snprintf(spec.environment, sizeof(spec.environment), "development");
	snprintf(spec.image, sizeof(spec.image), "%s", image);
	snprintf(spec.pinned_digest, sizeof(spec.pinned_digest), "%s", pinned);
	snprintf(spec.type, sizeof(spec.type), "%s", spec_type);
	return run_spec(f, a);
}

static void
test_success(void **state)
{
	struct fake f = { 0 };
	struct agent_apply a;
	const enum agent_apply_state want[] = { APPLY_RESOLVING, APPLY_PULLING,
	    APPLY_STARTING, APPLY_RUNNING };

	(void)state;
	assert_int_equal(run(&f, &a, "127.0.0.1:5000/team/app:v1", ""), 0);
	assert_int_equal(f.nreports, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f.reported[i], want[i]);
	assert_int_equal(a.state, APPLY_RUNNING);
	assert_string_equal(a.digest, DIGEST_A);
	assert_string_equal(a.container, "slipway-c1-development-d1");
	assert_string_equal(a.ref.domain, "127.0.0.1:5000");
	assert_string_equal(a.ref.path, "team/app");
	assert_string_equal(f.resolved_from, "");
	assert_int_equal(f.calls, 5);
	assert_int_equal(f.retired, 1);
	assert_int_equal(f.discarded, 0);
}

/* Failing at step i reports the states up to it, then failed + reason. */
static void
test_failure_at_each_step(void **state)
{
	static const struct {
		const char *step;
		int nreports;
		const char *reason;
	} cases[] = {
		{ "resolve", 2, "resolve_failed: fake" },
		{ "pull", 3, "pull_failed: fake" },
		{ "start", 4, "start_failed: fake" },
		{ "health", 4, "health_failed: fake" },
		{ "health-silent", 4, "start_failed: starting step failed" },
		{ "route", 4, "route_failed: fake" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { .fail_step = cases[i].step };
		struct agent_apply a;

		assert_int_equal(run(&f, &a, "ghcr.io/acme/api:1.0", ""), 0);
		assert_int_equal(f.nreports, cases[i].nreports);
		assert_int_equal(f.reported[f.nreports - 1], APPLY_FAILED);
		assert_string_equal(f.reasons[f.nreports - 1], cases[i].reason);
		for (int j = 0; j < f.nreports - 1; j++)
			assert_string_equal(f.reasons[j], "");
		assert_int_equal(a.state, APPLY_FAILED);
		assert_int_equal(f.discarded, 1);   /* the new version goes */
		assert_int_equal(f.retired, 0);     /* the old one stays */
	}
}

/* A stop during the cutover: the new version goes, nothing is reported. */
static void
test_stop_aborts_without_failing(void **state)
{
	struct fake f = { .fail_step = "stop" };
	struct agent_apply a;

	(void)state;
	assert_int_equal(run(&f, &a, "ghcr.io/acme/api:1.0", ""), -1);
	assert_int_equal(f.nreports, 3);
	assert_int_equal(f.reported[2], APPLY_STARTING);
	assert_int_equal(f.discarded, 1);
	assert_int_equal(f.retired, 0);
}

static void
test_lost_report_stops(void **state)
{
	struct fake f = { .fail_report_at = 2 };   /* "pulling" not delivered */
	struct agent_apply a;

	(void)state;
	assert_int_equal(run(&f, &a, "ghcr.io/acme/api:1.0", ""), -1);
	assert_int_equal(f.nreports, 2);
	assert_int_equal(f.calls, 1);              /* pull never ran */

	struct fake g = { .fail_report_at = 1 };   /* not even "resolving" */
	assert_int_equal(run(&g, &a, "ghcr.io/acme/api:1.0", ""), -1);
	assert_int_equal(g.calls, 0);
}

static void
test_pinned_digest(void **state)
{
	struct fake f = { 0 };
	struct agent_apply a;

	(void)state;
	assert_int_equal(run(&f, &a, "ghcr.io/acme/api:1.0", DIGEST_B), 0);
	assert_string_equal(f.resolved_from, DIGEST_B);
	assert_string_equal(a.digest, DIGEST_B);
	assert_int_equal(a.state, APPLY_RUNNING);
}

static void
test_bad_inputs_fail_before_resolving(void **state)
{
	struct fake f = { 0 };
	struct agent_apply a;

	(void)state;
	assert_int_equal(run(&f, &a, "UPPER/Case:?", ""), 0);
	assert_int_equal(a.state, APPLY_FAILED);
	assert_int_equal(f.calls, 0);
	assert_true(strncmp(a.reason, "manifest_unknown:", 17) == 0);

	struct fake h = { 0 };
	run(&h, &a, "ghcr.io/acme/api:1.0", "");
	snprintf(spec.component_id, sizeof(spec.component_id), "c1/../x");
	memset(&h, 0, sizeof(h));
	assert_int_equal(run_spec(&h, &a), 0);
	assert_int_equal(a.state, APPLY_FAILED);
	assert_true(strncmp(a.reason, "start_failed:", 13) == 0);
	assert_int_equal(h.calls, 0);
}

static void
test_container_name(void **state)
{
	struct agent_spec sp = { .component_id = "c-1",
	    .environment = "production", .deployment_id = "d-9" };
	char buf[64];

	(void)state;
	assert_int_equal(agent_spec_container_name(&sp, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "slipway-c-1-production-d-9");
	snprintf(sp.component_id, sizeof(sp.component_id), "a b");
	assert_int_equal(agent_spec_container_name(&sp, buf, sizeof(buf)), -1);
	snprintf(sp.component_id, sizeof(sp.component_id), ".hidden");
	assert_int_equal(agent_spec_container_name(&sp, buf, sizeof(buf)), -1);
	snprintf(sp.component_id, sizeof(sp.component_id), "c");
	snprintf(sp.environment, sizeof(sp.environment), "dev?x");
	assert_int_equal(agent_spec_container_name(&sp, buf, sizeof(buf)), -1);
	snprintf(sp.environment, sizeof(sp.environment), "%s",
	    "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	assert_int_equal(agent_spec_container_name(&sp, buf, 40), -1);
}

/* A task: resolved, pulled, pinned; ready; nothing started or retired. */
static void
test_task_ready(void **state)
{
	static const char *const types[] = { "scheduled-task", "manual-task" };
	const enum agent_apply_state want[] = { APPLY_RESOLVING, APPLY_PULLING,
	    APPLY_READY };

	(void)state;
	for (size_t t = 0; t < 2; t++) {
		struct fake f = { 0 };
		struct agent_apply a;
		spec_type = types[t];
		assert_int_equal(run(&f, &a, "127.0.0.1:5000/team/job:v1", ""), 0);
		assert_int_equal(f.nreports, 3);
		for (int i = 0; i < 3; i++)
			assert_int_equal(f.reported[i], want[i]);
		assert_int_equal(a.state, APPLY_READY);
		assert_string_equal(a.digest, DIGEST_A);
		assert_int_equal(f.calls, 3);          /* resolve, pull, pin */
		assert_int_equal(f.retired, 0);
		assert_int_equal(f.discarded, 0);
	}
	spec_type = "service";
}

/* A task failing at each of its steps: failed with the reason, no ready. */
static void
test_task_failure(void **state)
{
	static const char *const steps[] = { "resolve", "pull", "pin" };
	static const int nreports[] = { 2, 3, 3 };

	(void)state;
	spec_type = "scheduled-task";
	for (size_t i = 0; i < 3; i++) {
		struct fake f = { .fail_step = steps[i] };
		struct agent_apply a;
		assert_int_equal(run(&f, &a, "ghcr.io/acme/job:1.0", ""), 0);
		assert_int_equal(f.nreports, nreports[i]);
		assert_int_equal(f.reported[f.nreports - 1], APPLY_FAILED);
		assert_int_equal(a.state, APPLY_FAILED);
		assert_int_equal(f.retired, 0);
	}
	spec_type = "service";
}

#define Y 1
#define N 0
static void
test_transitions(void **state)
{
	/* allowed[task][from][to] */
	static const int allowed[2][6][6] = {
		{ /* a service   RES PUL STA RUN FAI RDY */
		[APPLY_RESOLVING] = { N, Y, N, N, Y, N },
		[APPLY_PULLING]   = { N, N, Y, N, Y, N },
		[APPLY_STARTING]  = { N, N, N, Y, Y, N },
		[APPLY_RUNNING]   = { N, N, N, N, N, N },
		[APPLY_FAILED]    = { N, N, N, N, N, N },
		[APPLY_READY]     = { N, N, N, N, N, N },
		}, { /* a task */
		[APPLY_RESOLVING] = { N, Y, N, N, Y, N },
		[APPLY_PULLING]   = { N, N, N, N, Y, Y },
		[APPLY_STARTING]  = { N, N, N, N, Y, N },
		[APPLY_RUNNING]   = { N, N, N, N, N, N },
		[APPLY_FAILED]    = { N, N, N, N, N, N },
		[APPLY_READY]     = { N, N, N, N, N, N },
		},
	};
	struct agent_spec task = { .type = "manual-task" };
	struct agent_apply a;

	(void)state;
	for (int t = 0; t < 2; t++)
		for (int from = 0; from < 6; from++)
			for (int to = 0; to < 6; to++) {
				memset(&a, 0, sizeof(a));
				a.spec = t ? &task : NULL;
				a.state = (enum agent_apply_state)from;
				assert_int_equal(agent_apply_transition(&a,
				    (enum agent_apply_state)to),
				    allowed[t][from][to] ? 0 : -1);
				assert_int_equal(a.state, allowed[t][from][to] ? to :
				    from);
			}
	memset(&a, 0, sizeof(a));
	a.state = APPLY_RESOLVING;
	assert_int_equal(agent_apply_transition(&a, (enum agent_apply_state)9), -1);
	assert_string_equal(agent_apply_state_name(APPLY_PULLING), "pulling");
	assert_string_equal(agent_apply_state_name((enum agent_apply_state)9),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_failure_at_each_step),
		cmocka_unit_test(test_lost_report_stops),
		cmocka_unit_test(test_stop_aborts_without_failing),
		cmocka_unit_test(test_pinned_digest),
		cmocka_unit_test(test_bad_inputs_fail_before_resolving),
		cmocka_unit_test(test_container_name),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_task_ready),
		cmocka_unit_test(test_task_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
