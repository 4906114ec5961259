// uses: services/deploy-svc/deploy_exec_input.c
// uses: services/deploy-svc/deploy_exec_state.c
/*
 * test_deploy_exec_input.c: the body of POST .../executions (table-driven:
 * each case breaks one rule, with the error code and field it must give)
 * and the checks of an agent's ExecutionStatus report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deploy-svc/deploy.h"

#define EID "6f1c2d3e-0000-4000-8000-000000000001"
#define CID "6f1c2d3e-0000-4000-8000-000000000002"
#define DID "6f1c2d3e-0000-4000-8000-000000000003"

static json_t *
body_of(const char *text)
{
	json_error_t jerr;
	json_t *b = json_loads(text, JSON_ALLOW_NUL, &jerr);

	if (b == NULL)
		fail_msg("test body does not parse: %s: %s", text, jerr.text);
	return b;
}

static void
test_valid_bodies(void **state)
{
	struct deploy_exec_request rq;
	struct error err;
	json_t *b;
	int status;

	(void)state;
	b = body_of("{\"environment\":\"development\"}");
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), 0);
	assert_string_equal(rq.environment, "development");
	assert_int_equal(rq.n_args, 0);
	assert_int_equal(rq.n_env, 0);
	json_decref(b);

	b = body_of("{\"environment\":\"prod\",\"args\":[\"--once\",\"\",\"\u00e9\"],"
	    "\"env\":{\"MODE\":\"fast\",\"_x1\":\"\"}}");
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), 0);
	assert_int_equal(rq.n_args, 3);
	assert_string_equal(rq.args[0], "--once");
	assert_string_equal(rq.args[1], "");
	assert_int_equal(rq.n_env, 2);
	json_decref(b);
}

/* Exactly at the caps is fine. */
static void
test_caps_exact(void **state)
{
	struct deploy_exec_request rq;
	struct error err;
	json_t *b = json_pack("{s:s}", "environment", "development");
	json_t *args = json_array(), *env = json_object();
	char *big = malloc(DEPLOY_EXEC_ENV_VALUE_MAX + 1);
	char name[16];
	int status;

	(void)state;
	memset(big, 'v', DEPLOY_EXEC_ENV_VALUE_MAX);
	big[DEPLOY_EXEC_ENV_VALUE_MAX] = '\0';
	for (int i = 0; i < DEPLOY_EXEC_ARGS_MAX; i++)
		json_array_append_new(args, json_stringn(big, DEPLOY_EXEC_ARG_MAX));
	for (int i = 0; i < DEPLOY_EXEC_ENV_MAX; i++) {
		snprintf(name, sizeof(name), "V%d", i);
		json_object_set_new(env, name, json_string(big));
	}
	json_object_set_new(b, "args", args);
	json_object_set_new(b, "env", env);
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), 0);
	assert_int_equal(rq.n_args, DEPLOY_EXEC_ARGS_MAX);
	assert_int_equal(rq.n_env, DEPLOY_EXEC_ENV_MAX);
	/* One more of each is refused. */
	json_array_append_new(args, json_string("x"));
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), -1);
	assert_string_equal(err.field, "args");
	json_array_remove(args, 0);
	json_object_set_new(env, "ONE_MORE", json_string("x"));
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), -1);
	assert_string_equal(err.field, "env");
	json_decref(b);
	free(big);
}

struct bad_case {
	const char *body;
	const char *code;
	const char *field;
};

static void
test_bad_bodies(void **state)
{
	static const struct bad_case cases[] = {
		{ "{}", "missing_field", "environment" },
		{ "{\"environment\":\"\"}", "invalid_field", "environment" },
		{ "{\"environment\":7}", "invalid_field", "environment" },
		{ "{\"environment\":\"development\",\"tag\":\"v1\"}", "unknown_field",
		    "tag" },
		{ "{\"environment\":\"development\",\"args\":\"--once\"}",
		    "invalid_field", "args" },
		{ "{\"environment\":\"development\",\"args\":[1]}", "invalid_field",
		    "args" },
		{ "{\"environment\":\"development\",\"args\":[null]}",
		    "invalid_field", "args" },
		{ "{\"environment\":\"development\",\"args\":[\"a\\u0000b\"]}",
		    "invalid_field", "args" },
		{ "{\"environment\":\"development\",\"env\":[\"A=1\"]}",
		    "invalid_field", "env" },
		{ "{\"environment\":\"development\",\"env\":{\"A\":1}}",
		    "invalid_field", "env" },
		{ "{\"environment\":\"development\",\"env\":{\"1A\":\"x\"}}",
		    "invalid_field", "env" },
		{ "{\"environment\":\"development\",\"env\":{\"A-B\":\"x\"}}",
		    "invalid_field", "env" },
		{ "{\"environment\":\"development\",\"env\":{\"\":\"x\"}}",
		    "invalid_field", "env" },
		{ "{\"environment\":\"development\",\"env\":{\"A\":\"a\\u0000\"}}",
		    "invalid_field", "env" },
	};
	struct deploy_exec_request rq;
	struct error err;
	int status;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *b = body_of(cases[i].body);
		status = 0;
		if (deploy_exec_input_parse(b, &rq, &status, &err) != -1)
			fail_msg("case %zu accepted: %s", i, cases[i].body);
		if (status != 400 || strcmp(err.code, cases[i].code) != 0 ||
		    strcmp(err.field, cases[i].field) != 0)
			fail_msg("case %zu %s: %d %s/%s, want 400 %s/%s", i,
			    cases[i].body, status, err.code, err.field,
			    cases[i].code, cases[i].field);
		json_decref(b);
	}
}

static void
test_too_long(void **state)
{
	struct deploy_exec_request rq;
	struct error err;
	char *big = malloc(DEPLOY_EXEC_ENV_VALUE_MAX + 2);
	json_t *b;
	int status;

	(void)state;
	memset(big, 'v', DEPLOY_EXEC_ENV_VALUE_MAX + 1);
	big[DEPLOY_EXEC_ENV_VALUE_MAX + 1] = '\0';
	b = json_pack("{s:s, s:[s%]}", "environment", "development", "args", big,
	    (size_t)DEPLOY_EXEC_ARG_MAX + 1);
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), -1);
	assert_string_equal(err.field, "args");
	json_decref(b);
	b = json_pack("{s:s, s:{s:s}}", "environment", "development", "env", "V",
	    big);
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), -1);
	assert_string_equal(err.field, "env");
	json_decref(b);
	/* jansson's decoder refuses NUL in keys; an object built in code may not. */
	b = json_pack("{s:s, s:{}}", "environment", "development", "env");
	json_object_setn_new(json_object_get(b, "env"), "A\0B", 3,
	    json_string("x"));
	assert_int_equal(deploy_exec_input_parse(b, &rq, &status, &err), -1);
	assert_string_equal(err.field, "env");
	json_decref(b);
	free(big);
}

/* A valid report, for each case to break one field of. */
static void
report_init(Slipway__V1__ExecutionStatus *es)
{
	slipway__v1__execution_status__init(es);
	es->execution_id = (char *)(uintptr_t)EID;
	es->component_id = (char *)(uintptr_t)CID;
	es->deployment_id = (char *)(uintptr_t)DID;
	es->environment = (char *)(uintptr_t)"development";
	es->dataplane = (char *)(uintptr_t)"local";
	es->state = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_SUCCEEDED;
	es->trigger = (char *)(uintptr_t)"schedule";
	es->scheduled_for_ms = 1764633600000LL;
	es->started_at_ms = 1764633600100LL;
	es->finished_at_ms = 1764633601100LL;
	es->exited = 1;
	es->observed_at_ms = 1764633601200LL;
}

static void
test_report_valid(void **state)
{
	Slipway__V1__ExecutionStatus es;
	struct deploy_exec_report r;
	struct error err;

	(void)state;
	report_init(&es);
	assert_int_equal(deploy_exec_input_report(&es, &r, &err), 0);
	assert_int_equal(r.to, DEPLOY_EXEC_SUCCEEDED);
	assert_int_equal(r.manual, 0);
	es.trigger = (char *)(uintptr_t)"manual";
	es.digest = (char *)(uintptr_t)"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(deploy_exec_input_report(&es, &r, &err), 0);
	assert_int_equal(r.manual, 1);
}

static void
test_report_bad(void **state)
{
	Slipway__V1__ExecutionStatus es;
	struct deploy_exec_report r;
	struct error err;
	char *big = malloc(DEPLOY_EXEC_LOG_TAIL_MAX + 2);
	char bad_utf8[] = { 'a', (char)0xc3, '\0' };

	(void)state;
	memset(big, 'l', DEPLOY_EXEC_LOG_TAIL_MAX + 1);
	big[DEPLOY_EXEC_LOG_TAIL_MAX + 1] = '\0';
	for (int c = 0; c < 14; c++) {
		report_init(&es);
		switch (c) {
		case 0: es.execution_id = (char *)(uintptr_t)"nope"; break;
		case 1: es.component_id = (char *)(uintptr_t)""; break;
		case 2: es.deployment_id = (char *)(uintptr_t)"x"; break;
		case 3: es.environment = (char *)(uintptr_t)""; break;
		case 4: es.dataplane = (char *)(uintptr_t)"bad name!"; break;
		case 5: es.state = SLIPWAY__V1__EXECUTION_STATE__EXECUTION_STATE_UNSPECIFIED; break;
		case 6: es.state = (Slipway__V1__ExecutionState)42; break;
		case 7: es.trigger = (char *)(uintptr_t)"cron"; break;
		case 8: es.log_tail = big; break;
		case 9: es.reason = bad_utf8; break;
		case 10: big[DEPLOY_REASON_MAX + 1] = '\0'; es.reason = big; break;
		case 11: es.digest = (char *)(uintptr_t)"sha256:short"; break;
		case 12: es.started_at_ms = -5; break;
		case 13: es.observed_at_ms = DEPLOY_EXEC_MS_MAX + 1; break;
		}
		if (deploy_exec_input_report(&es, &r, &err) != -1)
			fail_msg("bad report %d accepted", c);
		assert_string_equal(err.code, "bad_message");
	}
	assert_int_equal(deploy_exec_input_report(NULL, &r, &err), -1);
	free(big);
}

/* The cap is inclusive: exactly 8 KiB of log tail is accepted. */
static void
test_report_log_tail_cap(void **state)
{
	Slipway__V1__ExecutionStatus es;
	struct deploy_exec_report r;
	struct error err;
	char *tail = malloc(DEPLOY_EXEC_LOG_TAIL_MAX + 1);

	(void)state;
	memset(tail, 'l', DEPLOY_EXEC_LOG_TAIL_MAX);
	tail[DEPLOY_EXEC_LOG_TAIL_MAX] = '\0';
	report_init(&es);
	es.log_tail = tail;
	assert_int_equal(deploy_exec_input_report(&es, &r, &err), 0);
	free(tail);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_bodies),
		cmocka_unit_test(test_caps_exact),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_report_valid),
		cmocka_unit_test(test_report_bad),
		cmocka_unit_test(test_report_log_tail_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
