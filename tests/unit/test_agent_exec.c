// uses: services/dataplane-agent/agent_exec.c services/dataplane-agent/agent_spec.c
/*
 * test_agent_exec.c: one execution as a value: every (from, to) pair of
 * agent_exec_transition against a table (a final state is final), the
 * container name, RunTask validation (what is refused, defaults), and the
 * record's JSON surviving a round trip (what a restarted agent reads).
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

#define DIGEST "sha256:3b6c0a960beba3238c6fb9146f7c94ba093b9766cc7a3722f800030033e66960"
#define EXEC_ID "0b8f8c1e-1f7a-4f4e-9a51-2c5b8a3e9d10"

#define Y 1
#define N 0
static void
test_transitions(void **state)
{
	/* allowed[from][to]: PEN RUN SUC FAI TIM SKI */
	static const int allowed[6][6] = {
		[EXEC_PENDING]   = { N, Y, N, Y, N, Y },
		[EXEC_RUNNING]   = { N, N, Y, Y, Y, N },
		[EXEC_SUCCEEDED] = { N, N, N, N, N, N },
		[EXEC_FAILED]    = { N, N, N, N, N, N },
		[EXEC_TIMED_OUT] = { N, N, N, N, N, N },
		[EXEC_SKIPPED]   = { N, N, N, N, N, N },
	};
	struct agent_exec x;

	(void)state;
	for (int from = 0; from < 6; from++)
		for (int to = 0; to < 6; to++) {
			memset(&x, 0, sizeof(x));
			x.state = (enum agent_exec_state)from;
			assert_int_equal(agent_exec_transition(&x,
			    (enum agent_exec_state)to), allowed[from][to] ? 0 : -1);
			assert_int_equal(x.state, allowed[from][to] ? to : from);
		}
	x.state = EXEC_PENDING;
	assert_int_equal(agent_exec_transition(&x, (enum agent_exec_state)9), -1);
	assert_string_equal(agent_exec_state_name(EXEC_TIMED_OUT), "timed_out");
	assert_string_equal(agent_exec_state_name((enum agent_exec_state)9),
	    "unknown");
	assert_true(agent_exec_final(EXEC_SKIPPED));
	assert_false(agent_exec_final(EXEC_RUNNING));
}

/* A valid RunTask to start from. */
struct runtask {
	Envelope env;
	Slipway__V1__RunTask rt;
	Slipway__V1__EnvVar ev;
	Slipway__V1__EnvVar *evp[1];
	char *args[3];
};

static void
runtask_init(struct runtask *r)
{
	static char id[] = EXEC_ID, dep[] = "d1", comp[] = "c1",
	    envname[] = "development", image[] = "127.0.0.1:5000/acme/job:v1",
	    digest[] = DIGEST, org[] = "acme", name[] = "nightly",
	    a0[] = "sh", a1[] = "-c", a2[] = "echo hi; exit 3",
	    vn[] = "GREETING", vv[] = "hello", empty[] = "";

	memset(r, 0, sizeof(*r));
	slipway__v1__envelope__init(&r->env);
	slipway__v1__run_task__init(&r->rt);
	slipway__v1__env_var__init(&r->ev);
	r->env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK;
	r->env.run_task = &r->rt;
	r->env.org = org;
	r->env.trace_id = empty;
	r->rt.execution_id = id;
	r->rt.deployment_id = dep;
	r->rt.component_id = comp;
	r->rt.environment = envname;
	r->rt.image = image;
	r->rt.digest = digest;
	r->rt.component_name = name;
	r->args[0] = a0, r->args[1] = a1, r->args[2] = a2;
	r->rt.args = r->args;
	r->rt.n_args = 3;
	r->ev.name = vn;
	r->ev.value = vv;
	r->evp[0] = &r->ev;
	r->rt.env = r->evp;
	r->rt.n_env = 1;
}

static void
test_from_runtask(void **state)
{
	struct runtask r;
	struct agent_exec *x;
	struct error err;
	char name[AGENT_NAME_MAX];

	(void)state;
	runtask_init(&r);
	x = agent_exec_from_runtask(&r.env, &err);
	assert_non_null(x);
	assert_string_equal(x->id, EXEC_ID);
	assert_string_equal(x->org, "acme");          /* from the envelope */
	assert_string_equal(x->project, "default");
	assert_string_equal(x->component, "nightly");
	assert_string_equal(x->trigger, "manual");
	assert_int_equal(x->active_deadline_s, 3600); /* 0 = the default */
	assert_int_equal(x->state, EXEC_PENDING);
	assert_string_equal(x->args[2], "echo hi; exit 3");
	assert_null(x->args[3]);
	assert_string_equal(x->env[0], "GREETING=hello");
	assert_int_equal(agent_exec_container_name(x, name, sizeof(name)), 0);
	assert_string_equal(name, "slipway-c1-development-run-" EXEC_ID);
	agent_exec_free(x);

	/* No args: the image's command (NULL, not an empty list). */
	r.rt.n_args = 0;
	x = agent_exec_from_runtask(&r.env, &err);
	assert_non_null(x);
	assert_null(x->args);
	agent_exec_free(x);
}

static void
test_runtask_refused(void **state)
{
	static char bad_id[] = "../etc", no_digest[] = "", bad_digest[] = "sha256:x",
	    bad_image[] = "UPPER/Case:?", bad_utf8[] = "\xff\xfe", bad_var[] = "1X";
	struct runtask r;
	struct error err;

	(void)state;
	runtask_init(&r);
	r.rt.execution_id = bad_id;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	assert_string_equal(err.code, "invalid_command");
	runtask_init(&r);
	r.rt.digest = no_digest;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.rt.digest = bad_digest;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.rt.image = bad_image;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.args[1] = bad_utf8;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.rt.n_args = AGENT_ARGS_MAX + 1;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.ev.name = bad_var;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.rt.active_deadline_s = 604801;
	assert_null(agent_exec_from_runtask(&r.env, &err));
	runtask_init(&r);
	r.env.run_task = NULL;
	assert_null(agent_exec_from_runtask(&r.env, &err));
}

static void
test_record_round_trip(void **state)
{
	struct runtask r;
	struct agent_exec *x, *y, *c;
	struct agent_keys keys, other;
	struct error err;
	char *js;

	(void)state;
	runtask_init(&r);
	r.rt.active_deadline_s = 5;
	x = agent_exec_from_runtask(&r.env, &err);
	assert_non_null(x);
	agent_exec_transition(x, EXEC_RUNNING);
	agent_exec_transition(x, EXEC_FAILED);
	x->started_at_ms = 1000;
	x->finished_at_ms = 2000;
	x->exited = 1;
	x->exit_code = 3;
	x->acked = 1;
	x->res.memory_mb = 64;
	snprintf(x->reason, sizeof(x->reason), "exited with code 3");
	snprintf(x->log_tail, sizeof(x->log_tail), "hi\nünïcode\n");
	snprintf(x->replaces, sizeof(x->replaces), "other");
	/* The variables (opened secrets among them) go sealed to the data
	 * plane's own key: without the key there is no record. */
	agent_spec_keys(NULL);
	assert_null(agent_exec_json(x));
	crypto_box_keygen(keys.pk, keys.sk);
	agent_spec_keys(&keys);
	js = agent_exec_json(x);
	assert_non_null(js);
	assert_null(strstr(js, "GREETING"));
	y = agent_exec_parse(js, strlen(js));
	assert_non_null(y);
	assert_string_equal(y->id, x->id);
	assert_int_equal(y->state, EXEC_FAILED);
	assert_int_equal(y->acked, 1);
	assert_int_equal(y->exit_code, 3);
	assert_int_equal(y->exited, 1);
	assert_int_equal(y->started_at_ms, 1000);
	assert_int_equal(y->finished_at_ms, 2000);
	assert_int_equal(y->active_deadline_s, 5);
	assert_int_equal(y->res.memory_mb, 64);
	assert_string_equal(y->reason, "exited with code 3");
	assert_string_equal(y->log_tail, "hi\nünïcode\n");
	assert_string_equal(y->replaces, "other");
	assert_string_equal(y->args[0], "sh");
	assert_string_equal(y->env[0], "GREETING=hello");
	assert_string_equal(y->digest, DIGEST);
	/* A clone starts over: pending, nothing of the progress. */
	c = agent_exec_clone(y);
	assert_non_null(c);
	assert_int_equal(c->state, EXEC_PENDING);
	assert_int_equal(c->acked, 0);
	assert_string_equal(c->reason, "");
	assert_string_equal(c->args[2], "echo hi; exit 3");
	/* Under another data plane's key the record does not open. */
	crypto_box_keygen(other.pk, other.sk);
	agent_spec_keys(&other);
	assert_null(agent_exec_parse(js, strlen(js)));
	agent_spec_keys(&keys);
	free(js);
	agent_exec_free(x);
	agent_exec_free(y);
	agent_exec_free(c);

	/* Not a record, or one with an unsafe name: refused. */
	assert_null(agent_exec_parse("{}", 2));
	assert_null(agent_exec_parse("nonsense", 8));
}

/* The deployment's variables come under the run's own. */
static void
test_add_env(void **state)
{
	struct runtask r;
	struct agent_exec *x;
	struct error err;
	static char b0[] = "GREETING=from-config", b1[] = "DB=postgres://db";
	char *base[] = { b0, b1, NULL };

	(void)state;
	runtask_init(&r);
	x = agent_exec_from_runtask(&r.env, &err);
	assert_non_null(x);
	assert_int_equal(agent_exec_add_env(x, base), 0);
	assert_string_equal(x->env[0], "DB=postgres://db");
	assert_string_equal(x->env[1], "GREETING=hello");
	assert_null(x->env[2]);
	assert_int_equal(agent_exec_add_env(x, NULL), 0);
	agent_exec_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_from_runtask),
		cmocka_unit_test(test_runtask_refused),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_add_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
