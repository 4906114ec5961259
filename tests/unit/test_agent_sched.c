// uses: services/dataplane-agent/agent_sched.c services/dataplane-agent/agent_exec.c services/dataplane-agent/agent_spec.c services/dataplane-agent/agent_clock.c
/*
 * test_agent_sched.c: the scheduler's pure decisions and its tick, with
 * the executions and the journal replaced by recording stubs:
 *   - agent_sched_plan on a table (last handled minute, now, deadline,
 *     schedule): what runs, what is skipped and why, the 100-report cap;
 *   - execution ids: deterministic per (component, environment, minute),
 *     distinct otherwise, UUID-shaped with version 8 and the RFC variant;
 *   - a tick: one run per due minute, the last minute persisted, nothing
 *     twice; forbid holds a run back while the previous one runs (started
 *     late, or skipped with the running run's id when the next minute or
 *     the starting deadline comes first), replace names the one it
 *     replaces, allow runs both; a catch-up after an outage;
 *   - the test clock's mapping and its setting's validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"
#include "crypto.h"

#define DIGEST "sha256:3b6c0a960beba3238c6fb9146f7c94ba093b9766cc7a3722f800030033e66960"
#define T0 1796083200LL   /* 2026-12-01T00:00:00Z, a minute boundary */

/* --- stubs of what the scheduler calls ---------------------------------- */

#define SUBMITTED_MAX 256
static struct agent_exec *submitted[SUBMITTED_MAX];
static int nsubmitted;
static int active_runs;            /* what agent_execs_active answers */
static long long stored_last = -1; /* the schedules/ file's minute */
static char stored[512];           /* and the whole file, once written */
static int puts_done;

int
agent_execs_submit(struct agent_execs *xs, struct agent_exec *x)
{
	(void)xs;
	for (int i = 0; i < nsubmitted; i++)
		if (strcmp(submitted[i]->id, x->id) == 0) {
			agent_exec_free(x);
			return 1;
		}
	assert_true(nsubmitted < SUBMITTED_MAX);
	submitted[nsubmitted++] = x;
	return 0;
}

int
agent_execs_active(struct agent_execs *xs, const char *component_id,
    const char *environment, char *id, size_t idlen)
{
	(void)xs, (void)component_id, (void)environment;
	if (active_runs > 0)
		snprintf(id, idlen, "old-run");
	return active_runs;
}

int
agent_execs_settled(struct agent_execs *xs)
{
	(void)xs;
	return 1;
}

int
agent_journal_put(struct agent_journal *j, const char *sub, const char *name,
    const void *buf, size_t len)
{
	const char *p = strstr(buf, "\"last_minute\":");

	(void)j;
	assert_string_equal(sub, "schedules");
	assert_string_equal(name, "c1@development");
	assert_non_null(p);
	stored_last = atoll(p + strlen("\"last_minute\":"));
	snprintf(stored, sizeof(stored), "%.*s", (int)len, (const char *)buf);
	puts_done++;
	return 0;
}

void *
agent_journal_get(struct agent_journal *j, const char *sub, const char *name,
    size_t *len)
{
	char buf[128];

	(void)j, (void)sub, (void)name;
	if (stored[0] != '\0') {
		*len = strlen(stored);
		return strdup(stored);
	}
	if (stored_last < 0)
		return NULL;
	*len = (size_t)snprintf(buf, sizeof(buf), "{\"last_minute\":%lld}",
	    stored_last);
	return strdup(buf);
}

int
agent_journal_unlink(struct agent_journal *j, const char *sub,
    const char *name)
{
	(void)j, (void)sub, (void)name;
	stored_last = -1;
	stored[0] = '\0';
	return 0;
}

int
agent_slots_join(struct agent_ctx *ag, pthread_t t, long long deadline)
{
	(void)ag, (void)t, (void)deadline;
	return 0;
}

static void
reset(void)
{
	for (int i = 0; i < nsubmitted; i++)
		agent_exec_free(submitted[i]);
	nsubmitted = 0;
	active_runs = 0;
	stored_last = -1;
	stored[0] = '\0';
	puts_done = 0;
}

/* --- agent_sched_plan ----------------------------------------------------- */

static int
every_minute(void *arg, long long m)
{
	(void)arg, (void)m;
	return 1;
}

static int
every_5(void *arg, long long m)
{
	(void)arg;
	return (m / 60) % 5 == 0;
}

static void
test_plan_table(void **state)
{
	static const struct {
		const char *what;
		long long last, now;
		unsigned deadline;
		int (*due)(void *, long long);
		long long run;            /* -1 none */
		int nskipped, nmissed;
		long long dropped;
	} cases[] = {
		{ "nothing new", T0, T0 + 30, 300, every_minute, -1, 0, 0, 0 },
		{ "the next minute", T0, T0 + 61, 300, every_minute, T0 + 60, 0, 0,
		  0 },
		{ "two minutes late, within the deadline", T0, T0 + 125, 300,
		  every_minute, T0 + 120, 1, 0, 0 },
		{ "an hour's outage", T0, T0 + 3605, 300, every_minute, T0 + 3600,
		  59, 55, 0 },
		{ "past the deadline even for the newest", T0, T0 + 3605, 1,
		  every_5, -1, 12, 12, 0 },
		{ "not due", T0, T0 + 65, 300, every_5, -1, 0, 0, 0 },
		{ "due every 5 after 12 min", T0, T0 + 725, 300, every_5, T0 + 600,
		  1, 1, 0 },
		{ "a day's outage: 100 reported", T0, T0 + 86400 + 1, 300,
		  every_minute, T0 + 86400, 100, 96, 1339 },
		{ "deadline 0: only at the minute itself", T0, T0 + 120, 0,
		  every_minute, T0 + 120, 1, 1, 0 },
	};
	struct agent_sched_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int missed = 0;
		agent_sched_plan(cases[i].last, cases[i].now, cases[i].deadline,
		    cases[i].due, NULL, &p);
		print_message("%s\n", cases[i].what);
		assert_int_equal(p.run, cases[i].run);
		assert_int_equal(p.nskipped, cases[i].nskipped);
		assert_int_equal(p.dropped, cases[i].dropped);
		for (int k = 0; k < p.nskipped; k++) {
			missed += p.why[k] == SCHED_SKIP_MISSED;
			assert_true(p.skipped[k] > cases[i].last);
			assert_true(p.skipped[k] != p.run);
			if (k > 0)   /* oldest first */
				assert_true(p.skipped[k] > p.skipped[k - 1]);
			/* missed exactly when older than the deadline */
			assert_int_equal(p.why[k] == SCHED_SKIP_MISSED,
			    cases[i].now - p.skipped[k] > (long long)cases[i].deadline);
		}
		assert_int_equal(missed, cases[i].nmissed);
	}
}

/* --- execution ids -------------------------------------------------------- */

static void
test_execution_id(void **state)
{
	char a[37], b[37], c[37], d[37];

	(void)state;
	agent_sched_execution_id("c1", "development", T0, a);
	agent_sched_execution_id("c1", "development", T0, b);
	agent_sched_execution_id("c1", "development", T0 + 60, c);
	agent_sched_execution_id("c1", "production", T0, d);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_true(crypto_uuid_valid(a));
	assert_int_equal(a[14], '8');
	assert_non_null(strchr("89ab", a[19]));
	assert_true(agent_spec_name_valid(a));
}

/* --- the tick ------------------------------------------------------------- */

static struct agent_ctx ctx;

static void
serve(struct agent_sched *s, const char *schedule, const char *policy,
    unsigned starting_deadline_s)
{
	struct agent_spec spec;
	struct workload_task t;

	memset(&spec, 0, sizeof(spec));
	snprintf(spec.component_id, sizeof(spec.component_id), "c1");
	snprintf(spec.environment, sizeof(spec.environment), "development");
	snprintf(spec.deployment_id, sizeof(spec.deployment_id), "d1");
	snprintf(spec.org, sizeof(spec.org), "acme");
	snprintf(spec.image, sizeof(spec.image), "127.0.0.1:5000/acme/job:v1");
	snprintf(spec.type, sizeof(spec.type), "scheduled-task");
	workload_task_defaults(&t);
	snprintf(t.schedule, sizeof(t.schedule), "%s", schedule);
	snprintf(t.timezone, sizeof(t.timezone), "UTC");
	snprintf(t.concurrency_policy, sizeof(t.concurrency_policy), "%s", policy);
	t.starting_deadline_s = starting_deadline_s;
	agent_sched_serve(s, &spec, DIGEST, &t);
}

static void
test_tick_runs_each_minute_once(void **state)
{
	struct agent_sched *s = agent_sched_new(&ctx);
	char id[37];

	(void)state;
	reset();
	stored_last = T0;
	serve(s, "* * * * *", "forbid", 300);
	agent_sched_tick(s, T0 + 30);
	assert_int_equal(nsubmitted, 0);
	agent_sched_tick(s, T0 + 60);
	assert_int_equal(nsubmitted, 1);
	agent_sched_execution_id("c1", "development", T0 + 60, id);
	assert_string_equal(submitted[0]->id, id);
	assert_string_equal(submitted[0]->trigger, "schedule");
	assert_int_equal(submitted[0]->scheduled_for_ms, (T0 + 60) * 1000);
	assert_int_equal(submitted[0]->state, EXEC_PENDING);
	assert_string_equal(submitted[0]->digest, DIGEST);
	assert_int_equal(submitted[0]->active_deadline_s, 3600);
	assert_int_equal(stored_last, T0 + 60);
	/* The same minute again, and a restart that re-reads it: nothing. */
	agent_sched_tick(s, T0 + 90);
	agent_sched_free(s);
	s = agent_sched_new(&ctx);
	serve(s, "* * * * *", "forbid", 300);
	agent_sched_tick(s, T0 + 119);
	assert_int_equal(nsubmitted, 1);
	agent_sched_tick(s, T0 + 120);
	assert_int_equal(nsubmitted, 2);
	agent_sched_free(s);
	reset();
}

static void
test_tick_policies(void **state)
{
	static const char *const policies[] = { "forbid", "allow", "replace" };
	struct agent_sched *s;

	(void)state;
	for (int i = 0; i < 3; i++) {
		reset();
		stored_last = T0;
		s = agent_sched_new(&ctx);
		serve(s, "*/1 * * * *", policies[i], 300);
		active_runs = 1;
		agent_sched_tick(s, T0 + 61);
		if (i == 0) {
			/* Held back while the previous run runs... */
			assert_int_equal(nsubmitted, 0);
			assert_int_equal(stored_last, T0 + 60);
			agent_sched_tick(s, T0 + 90);
			assert_int_equal(nsubmitted, 0);
			/* ...skipped when the next minute comes due first... */
			agent_sched_tick(s, T0 + 121);
			assert_int_equal(nsubmitted, 1);
			assert_int_equal(submitted[0]->state, EXEC_SKIPPED);
			assert_int_equal(submitted[0]->scheduled_for_ms, (T0 + 60) * 1000);
			assert_string_equal(submitted[0]->reason, "the previous run "
			    "old-run is still running (concurrency_policy forbid)");
			/* ...and started late once the previous one ended. */
			active_runs = 0;
			agent_sched_tick(s, T0 + 125);
			assert_int_equal(nsubmitted, 2);
			assert_int_equal(submitted[1]->state, EXEC_PENDING);
			assert_int_equal(submitted[1]->scheduled_for_ms,
			    (T0 + 120) * 1000);
		} else {
			assert_int_equal(nsubmitted, 1);
			assert_int_equal(submitted[0]->state, EXEC_PENDING);
			assert_string_equal(submitted[0]->replaces, i == 2 ? "old-run" :
			    "");
		}
		if (i == 2)
			assert_string_equal(submitted[0]->replace_reason, "replaced by "
			    "the run scheduled for 2026-12-01T00:01:00Z");
		agent_sched_free(s);
	}
	reset();
}

/* forbid: a held minute past starting_deadline_s is skipped. */
static void
test_tick_forbid_deadline(void **state)
{
	struct agent_sched *s;

	(void)state;
	reset();
	stored_last = T0;
	s = agent_sched_new(&ctx);
	serve(s, "0 * * * *", "forbid", 30);
	active_runs = 1;
	agent_sched_tick(s, T0 + 3601);
	assert_int_equal(nsubmitted, 0);
	agent_sched_tick(s, T0 + 3630);
	assert_int_equal(nsubmitted, 0);
	/* A restart keeps it held (it is on disk)... */
	agent_sched_free(s);
	s = agent_sched_new(&ctx);
	serve(s, "0 * * * *", "forbid", 30);
	/* ...until the deadline passes. */
	agent_sched_tick(s, T0 + 3631);
	assert_int_equal(nsubmitted, 1);
	assert_int_equal(submitted[0]->state, EXEC_SKIPPED);
	assert_int_equal(submitted[0]->scheduled_for_ms, (T0 + 3600) * 1000);
	active_runs = 0;
	agent_sched_tick(s, T0 + 3650);
	assert_int_equal(nsubmitted, 1);
	agent_sched_free(s);
	reset();
}

static void
test_tick_catch_up(void **state)
{
	struct agent_sched *s;
	int runs = 0, missed = 0, superseded = 0;

	(void)state;
	reset();
	stored_last = T0;
	s = agent_sched_new(&ctx);
	serve(s, "* * * * *", "forbid", 300);
	agent_sched_tick(s, T0 + 3605);
	for (int i = 0; i < nsubmitted; i++) {
		runs += submitted[i]->state == EXEC_PENDING;
		missed += strstr(submitted[i]->reason, "missed by more than "
		    "starting_deadline_s (300 s)") != NULL;
		superseded += strstr(submitted[i]->reason, "superseded by a later "
		    "catch-up run") != NULL;
	}
	assert_int_equal(runs, 1);
	assert_int_equal(missed, 55);
	assert_int_equal(superseded, 4);
	assert_int_equal(stored_last, T0 + 3600);
	agent_sched_free(s);
	reset();
}

/* A manual task, or a schedule taken away, is not scheduled. */
static void
test_unscheduled(void **state)
{
	struct agent_sched *s = agent_sched_new(&ctx);

	(void)state;
	reset();
	stored_last = T0;
	serve(s, "", "forbid", 300);
	agent_sched_tick(s, T0 + 600);
	assert_int_equal(nsubmitted, 0);
	serve(s, "* * * * *", "forbid", 300);
	serve(s, "", "forbid", 300);
	agent_sched_tick(s, T0 + 660);
	assert_int_equal(nsubmitted, 0);
	agent_sched_free(s);
	reset();
}

/* --- the clock ------------------------------------------------------------ */

static void
test_clock(void **state)
{
	struct error err;

	(void)state;
	assert_int_equal(agent_clock_map(5000, 1, 1), 5000);
	assert_int_equal(agent_clock_map(11000, 1, 60), 1000 + 10000 * 60);
	assert_int_equal(agent_clock_map(1000, 1, 3600), 1000);
	assert_int_equal(agent_clock_configure("", &err), 0);
	assert_int_equal(agent_clock_configure("1796083200:60", &err), 0);
	assert_int_equal(agent_clock_real_ms(60000), 1000);
	assert_int_equal(agent_clock_configure("1796083200:3601", &err), -1);
	assert_int_equal(agent_clock_configure("1796083200:0", &err), -1);
	assert_int_equal(agent_clock_configure("1796083200", &err), -1);
	assert_int_equal(agent_clock_configure("x:60", &err), -1);
	assert_int_equal(agent_clock_configure("1:60x", &err), -1);
	assert_int_equal(agent_clock_configure("", &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_table),
		cmocka_unit_test(test_execution_id),
		cmocka_unit_test(test_tick_runs_each_minute_once),
		cmocka_unit_test(test_tick_policies),
		cmocka_unit_test(test_tick_forbid_deadline),
		cmocka_unit_test(test_tick_catch_up),
		cmocka_unit_test(test_unscheduled),
		cmocka_unit_test(test_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
