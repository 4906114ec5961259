// uses: services/deploy-svc/deploy_component.c
// uses: services/deploy-svc/deploy_schedule.c
/*
 * test_deploy_task.c: a task's settings in deploy-svc's local copy of a
 * component: read from ComponentCreated (with TaskSettings, without them,
 * from the older schedule / timezone fields, broken), the jsonb column's
 * round trip, ApplyDeployment.task for tasks only, and which changes of
 * the settings deploy_schedule_changed reports.
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

#define CID "6f1c2d3e-0000-4000-8000-000000000009"

struct component {
	Slipway__V1__Component c;
	Slipway__V1__TaskSettings task;
};

static void
component_init(struct component *m, const char *type)
{
	slipway__v1__component__init(&m->c);
	m->c.component_id = DEPLOY_STR(CID);
	m->c.org = DEPLOY_STR("acme");
	m->c.project = DEPLOY_STR("shop");
	m->c.name = DEPLOY_STR("nightly");
	m->c.type = DEPLOY_STR(type);
	m->c.image = DEPLOY_STR("ghcr.io/acme/job:1.0");
	slipway__v1__task_settings__init(&m->task);
	m->task.schedule = DEPLOY_STR("*/5 * * * *");
	m->task.timezone = DEPLOY_STR("Europe/Berlin");
	m->task.concurrency_policy = DEPLOY_STR("replace");
	m->task.starting_deadline_s = 60;
	m->task.active_deadline_s = 120;
}

static void
test_scheduled_task(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct error err;

	(void)state;
	component_init(&m, "scheduled-task");
	m.c.task = &m.task;
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	assert_true(deploy_component_is_task(c));
	assert_true(c->task.set);
	assert_string_equal(c->task.schedule, "*/5 * * * *");
	assert_string_equal(c->task.timezone, "Europe/Berlin");
	assert_string_equal(c->task.concurrency_policy, "replace");
	assert_int_equal(c->task.starting_deadline_s, 60);
	assert_int_equal(c->task.active_deadline_s, 120);
	free(c);
}

/* A manual task without TaskSettings runs with the defaults. */
static void
test_manual_task_defaults(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct error err;

	(void)state;
	component_init(&m, "manual-task");
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	assert_true(c->task.set);
	assert_string_equal(c->task.schedule, "");
	assert_string_equal(c->task.concurrency_policy, "forbid");
	assert_int_equal(c->task.starting_deadline_s,
	    WORKLOAD_STARTING_DEADLINE_DEFAULT);
	assert_int_equal(c->task.active_deadline_s,
	    WORKLOAD_ACTIVE_DEADLINE_DEFAULT);
	free(c);
}

/* An older component-svc: the schedule in Component's fields 10 and 11. */
static void
test_legacy_schedule_fields(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct error err;

	(void)state;
	component_init(&m, "scheduled-task");
	m.c.schedule = DEPLOY_STR("0 3 * * MON");
	m.c.timezone = DEPLOY_STR("America/New_York");
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	assert_string_equal(c->task.schedule, "0 3 * * MON");
	assert_string_equal(c->task.timezone, "America/New_York");
	m.c.schedule = DEPLOY_STR("61 * * * *");
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), -1);
	assert_string_equal(err.code, "bad_message");
	free(c);
}

/* Services and web apps have no task settings, whatever the event says. */
static void
test_service_has_no_task(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct error err;

	(void)state;
	component_init(&m, "service");
	m.c.task = &m.task;
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	assert_false(deploy_component_is_task(c));
	assert_false(c->task.set);
	free(c);
}

static void
test_bad_task_settings(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct error err;

	(void)state;
	for (int i = 0; i < 4; i++) {
		component_init(&m, "scheduled-task");
		m.c.task = &m.task;
		switch (i) {
		case 0: m.task.schedule = DEPLOY_STR("* * *"); break;
		case 1: m.task.timezone = DEPLOY_STR("../etc/passwd"); break;
		case 2: m.task.concurrency_policy = DEPLOY_STR("sometimes"); break;
		case 3: m.task.active_deadline_s = WORKLOAD_ACTIVE_DEADLINE_MAX + 1; break;
		}
		if (deploy_component_from_proto(&m.c, c, &err) != -1)
			fail_msg("bad task settings %d accepted", i);
		assert_string_equal(err.code, "bad_message");
	}
	free(c);
}

/* What deploy_store.c writes to components.task reads back the same. */
static void
test_column_round_trip(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct deploy_component *back = calloc(1, sizeof(*back));
	struct error err;
	json_t *o = json_object();
	char *text;

	(void)state;
	component_init(&m, "scheduled-task");
	m.c.task = &m.task;
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	workload_task_json(&c->task, o);
	text = json_dumps(o, JSON_COMPACT);
	snprintf(back->id, sizeof(back->id), "%s", CID);
	snprintf(back->type, sizeof(back->type), "scheduled-task");
	assert_int_equal(deploy_component_task_parse(text, back, &err), 0);
	assert_false(deploy_schedule_changed(&c->task, &back->task));
	assert_string_equal(back->task.schedule, c->task.schedule);
	/* A row from before migration 004: the defaults. */
	assert_int_equal(deploy_component_task_parse(NULL, back, &err), 0);
	assert_true(back->task.set);
	assert_string_equal(back->task.concurrency_policy, "forbid");
	assert_int_equal(deploy_component_task_parse("{\"schedule\":\"x\"}", back,
	    &err), -1);
	assert_string_equal(err.code, "db_error");
	/* A service's column is ignored. */
	snprintf(back->type, sizeof(back->type), "service");
	assert_int_equal(deploy_component_task_parse(text, back, &err), 0);
	assert_false(back->task.set);
	free(text);
	json_decref(o);
	free(c);
	free(back);
}

static void
test_apply_carries_task(void **state)
{
	struct component m;
	struct deploy_component *c = calloc(1, sizeof(*c));
	struct deploy_component_proto *p = calloc(1, sizeof(*p));
	Slipway__V1__ApplyDeployment ad;
	struct error err;

	(void)state;
	component_init(&m, "scheduled-task");
	m.c.task = &m.task;
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	slipway__v1__apply_deployment__init(&ad);
	deploy_component_to_apply(c, p, &ad);
	assert_non_null(ad.task);
	assert_string_equal(ad.task->schedule, "*/5 * * * *");
	assert_string_equal(ad.task->concurrency_policy, "replace");
	assert_int_equal(ad.task->active_deadline_s, 120);
	component_init(&m, "service");
	assert_int_equal(deploy_component_from_proto(&m.c, c, &err), 0);
	slipway__v1__apply_deployment__init(&ad);
	deploy_component_to_apply(c, p, &ad);
	assert_null(ad.task);
	free(c);
	free(p);
}

static void
test_schedule_changed(void **state)
{
	struct workload_task a, b, none;

	(void)state;
	memset(&none, 0, sizeof(none));
	workload_task_defaults(&a);
	snprintf(a.schedule, sizeof(a.schedule), "0 * * * *");
	snprintf(a.timezone, sizeof(a.timezone), "UTC");
	b = a;
	b.given = 7;   /* what was given in the API is no change */
	assert_false(deploy_schedule_changed(&a, &b));
	assert_true(deploy_schedule_changed(&none, &b));   /* became a task */
	assert_false(deploy_schedule_changed(&a, &none));  /* no longer one */
	snprintf(b.schedule, sizeof(b.schedule), "5 * * * *");
	assert_true(deploy_schedule_changed(&a, &b));
	b = a;
	snprintf(b.timezone, sizeof(b.timezone), "Europe/Berlin");
	assert_true(deploy_schedule_changed(&a, &b));
	b = a;
	snprintf(b.concurrency_policy, sizeof(b.concurrency_policy), "allow");
	assert_true(deploy_schedule_changed(&a, &b));
	b = a;
	b.starting_deadline_s = 10;
	assert_true(deploy_schedule_changed(&a, &b));
	b = a;
	b.active_deadline_s = 10;
	assert_true(deploy_schedule_changed(&a, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheduled_task),
		cmocka_unit_test(test_manual_task_defaults),
		cmocka_unit_test(test_legacy_schedule_fields),
		cmocka_unit_test(test_service_has_no_task),
		cmocka_unit_test(test_bad_task_settings),
		cmocka_unit_test(test_column_round_trip),
		cmocka_unit_test(test_apply_carries_task),
		cmocka_unit_test(test_schedule_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
