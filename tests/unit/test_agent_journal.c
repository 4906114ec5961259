// uses: services/dataplane-agent/agent_journal.c services/dataplane-agent/agent_spec.c
/*
 * test_agent_journal.c: the agent's journal on a real temporary directory
 * (pending commands replayed in acceptance order and removed when done,
 * records saved and read back, unreadable files skipped) and the
 * validation of ApplyDeployment into a spec (caps, names, endpoints), the
 * small durable files of executions and schedules, a SetSchedule's task
 * settings kept in a record, and the state directory's lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dataplane-agent/agent.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/slipway-journal-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	char names[8][128];
	char bodies[8][32];
	int n;
};

static void
collect(void *arg, const char *name, const void *buf, size_t len)
{
	struct seen *s = arg;

	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	snprintf(s->bodies[s->n++], sizeof(s->bodies[0]), "%.*s", (int)len,
	    (const char *)buf);
}

static void
test_pending_replay_order_and_done(void **state)
{
	struct agent_journal *j;
	struct error err;
	struct seen s = { .n = 0 };
	char a[128], b[128], c[128];

	(void)state;
	assert_non_null(j = agent_journal_open(dir, &err));
	assert_int_equal(agent_journal_add(j, "first", 5, "d1", a, sizeof(a),
	    &err), 0);
	assert_int_equal(agent_journal_add(j, "second", 6, "d2", b, sizeof(b),
	    &err), 0);
	assert_int_equal(agent_journal_add(j, "third", 5, "d3", c, sizeof(c),
	    &err), 0);
	assert_int_equal(agent_journal_done(j, b), 0);
	assert_int_equal(agent_journal_done(j, b), 0);   /* twice: fine */
	agent_journal_free(j);

	/* A new process sees what is left, oldest first. */
	assert_non_null(j = agent_journal_open(dir, &err));
	agent_journal_replay(j, collect, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], a);
	assert_string_equal(s.bodies[0], "first");
	assert_string_equal(s.bodies[1], "third");
	agent_journal_done(j, a);
	agent_journal_done(j, c);
	agent_journal_free(j);
}

struct recs {
	struct agent_record rec[4];
	char cmd[4][32];
	int n;
};

static void
collect_rec(void *arg, const struct agent_record *rec, const void *cmd,
    size_t len)
{
	struct recs *r = arg;

	r->rec[r->n] = *rec;
	snprintf(r->cmd[r->n++], sizeof(r->cmd[0]), "%.*s", (int)len,
	    cmd ? (const char *)cmd : "");
}

static void
test_records_round_trip(void **state)
{
	struct agent_journal *j;
	struct agent_record rec = { .component_id = "c1",
	    .environment = "production", .serving = "d2", .nfinished = 2 };
	struct recs r = { .n = 0 };
	struct error err;
	char path[160];
	FILE *f;

	(void)state;
	snprintf(rec.digest, sizeof(rec.digest), "sha256:%064d", 7);
	snprintf(rec.finished[0].id, AGENT_ID_MAX, "d1");
	rec.finished[0].state = REPORT_RUNNING;
	snprintf(rec.finished[1].id, AGENT_ID_MAX, "d0");
	rec.finished[1].state = REPORT_FAILED;
	snprintf(rec.finished[1].reason, AGENT_REASON_MAX, "unhealthy: \"x\"");
	assert_non_null(j = agent_journal_open(dir, &err));
	assert_int_equal(agent_journal_record_save(j, &rec, "CMD", 3, &err), 0);
	/* Junk beside it is skipped, not fatal. */
	snprintf(path, sizeof(path), "%s/records/bad@x.json", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("{\"component_id\": \"../etc\"}", f);
	fclose(f);
	agent_journal_records(j, collect_rec, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.rec[0].serving, "d2");
	assert_string_equal(r.rec[0].digest, rec.digest);
	assert_string_equal(r.cmd[0], "CMD");
	assert_int_equal(r.rec[0].nfinished, 2);
	assert_int_equal(r.rec[0].finished[1].state, REPORT_FAILED);
	assert_string_equal(r.rec[0].finished[1].reason, "unhealthy: \"x\"");

	assert_int_equal(agent_journal_record_remove(j, "c1", "production"), 0);
	r.n = 0;
	agent_journal_records(j, collect_rec, &r);
	assert_int_equal(r.n, 0);
	/* Unsafe names never become file names. */
	snprintf(rec.component_id, sizeof(rec.component_id), "../x");
	assert_int_equal(agent_journal_record_save(j, &rec, NULL, 0, &err), -1);
	agent_journal_free(j);
}

/* An ApplyDeployment with one REST endpoint; tests then spoil one field. */
struct apply_msg {
	Envelope env;
	Slipway__V1__ApplyDeployment ad;
	Slipway__V1__Endpoint ep;
	Slipway__V1__Endpoint *eps[1];
	Slipway__V1__EnvVar var;
	Slipway__V1__EnvVar *vars[1];
};

#define S(x) ((char *)(uintptr_t)(x))

static void
apply_msg_init(struct apply_msg *m)
{
	slipway__v1__envelope__init(&m->env);
	slipway__v1__apply_deployment__init(&m->ad);
	slipway__v1__endpoint__init(&m->ep);
	slipway__v1__env_var__init(&m->var);
	m->env.org = S("acme");
	m->env.payload_case = SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT;
	m->env.apply_deployment = &m->ad;
	m->ad.deployment_id = S("6f1b6c8e-0d7a-4b44-9a55-6f0e0a3f1c2d");
	m->ad.component_id = S("0b9f7f52-6a3c-4a5e-8d0e-b3a1b5b0c111");
	m->ad.component_name = S("hello");
	m->ad.project = S("shop");
	m->ad.component_type = S("service");
	m->ad.environment = S("development");
	m->ad.image = S("127.0.0.1:5000/demo/hello:v1");
	m->ep.name = S("Greeting Service");
	m->ep.port = 9090;
	m->ep.type = S("REST");
	m->ep.context = S("/greeting");
	m->eps[0] = &m->ep;
	m->ad.n_endpoints = 1;
	m->ad.endpoints = m->eps;
	m->var.name = S("GREETING");
	m->var.value = S("hi");
	m->vars[0] = &m->var;
	m->ad.n_env = 1;
	m->ad.env = m->vars;
}

static void
test_spec_from_apply(void **state)
{
	struct apply_msg m;
	struct agent_spec s;
	struct error err;

	(void)state;
	apply_msg_init(&m);
	assert_int_equal(agent_spec_from_apply(&m.env, &s, &err), 0);
	assert_string_equal(s.org, "acme");            /* from the envelope */
	assert_string_equal(s.component, "hello");
	assert_int_equal(s.nep, 1);
	assert_string_equal(s.ep[0].visibility, "Public");   /* the default */
	assert_string_equal(s.ep[0].context, "/greeting");
	assert_true(agent_spec_http(&s.ep[0]));
	assert_string_equal(s.env[0], "GREETING=hi");
	assert_null(s.env[1]);
	agent_spec_clear(&s);

	/* Each of these spoils one field: refused, nothing allocated. */
	static const char *const bad[] = { "name", "env", "port", "type",
	    "visibility", "context", "digest", "project", "varname" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		apply_msg_init(&m);
		if (strcmp(bad[i], "name") == 0)
			m.ad.component_name = S("he llo");
		else if (strcmp(bad[i], "env") == 0)
			m.ad.environment = S("dev/../x");
		else if (strcmp(bad[i], "port") == 0)
			m.ep.port = 70000;
		else if (strcmp(bad[i], "type") == 0)
			m.ep.type = S("SMTP");
		else if (strcmp(bad[i], "visibility") == 0)
			m.ep.visibility = S("World");
		else if (strcmp(bad[i], "context") == 0)
			m.ep.context = S("/a b");
		else if (strcmp(bad[i], "digest") == 0)
			m.ad.digest = S("sha256:nothex");
		else if (strcmp(bad[i], "project") == 0)
			m.ad.project = S(".hidden");
		else
			m.var.name = S("1BAD");
		assert_int_equal(agent_spec_from_apply(&m.env, &s, &err), -1);
		assert_string_equal(err.code, "invalid_command");
		assert_null(s.env);
	}

	/* An older deploy-svc sends only the first port and type. */
	apply_msg_init(&m);
	m.ad.n_endpoints = 0;
	m.ad.port = 8080;
	m.ad.endpoint_type = S("TCP");
	assert_int_equal(agent_spec_from_apply(&m.env, &s, &err), 0);
	assert_int_equal(s.nep, 1);
	assert_int_equal(s.ep[0].port, 8080);
	assert_false(agent_spec_http(&s.ep[0]));
	agent_spec_clear(&s);
}

static void
keep_record(void *arg, const struct agent_record *rec, const void *cmd,
    size_t cmdlen)
{
	struct agent_record **out = arg;

	(void)cmd, (void)cmdlen;
	if ((*out = malloc(sizeof(**out))) != NULL)
		**out = *rec;
}

static void
test_files_and_lock(void **state)
{
	struct agent_journal *a, *b;
	struct agent_record rec, *got = NULL;
	struct error err;
	char **names;
	size_t n, len;
	void *buf;

	(void)state;
	a = agent_journal_open(dir, &err);
	b = agent_journal_open(dir, &err);
	assert_non_null(a);
	assert_non_null(b);
	/* One agent per directory: a second waits, then gives up. */
	assert_int_equal(agent_journal_lock(a, 0, &err), 0);
	assert_int_equal(agent_journal_lock(b, 0, &err), -1);
	assert_non_null(strstr(err.msg, "another agent"));

	assert_int_equal(agent_journal_put(a, "executions", "x1", "{}", 2), 0);
	assert_int_equal(agent_journal_put(a, "executions", "x2", "[]", 2), 0);
	assert_int_equal(agent_journal_put(a, "nowhere", "x1", "{}", 2), -1);
	assert_int_equal(agent_journal_put(a, "executions", "../x", "{}", 2), -1);
	assert_true(agent_journal_exists(a, "executions", "x1"));
	assert_false(agent_journal_exists(a, "executions", "x3"));
	buf = agent_journal_get(a, "executions", "x2", &len);
	assert_non_null(buf);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "[]", 2);
	free(buf);
	n = agent_journal_names(a, "executions", &names);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "x1");
	assert_string_equal(names[1], "x2");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_int_equal(agent_journal_unlink(a, "executions", "x1"), 0);
	assert_false(agent_journal_exists(a, "executions", "x1"));

	/* A SetSchedule's settings survive in the record. */
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.component_id, sizeof(rec.component_id), "c1");
	snprintf(rec.environment, sizeof(rec.environment), "development");
	rec.task_set = 1;
	workload_task_defaults(&rec.task);
	snprintf(rec.task.schedule, sizeof(rec.task.schedule), "*/5 * * * *");
	snprintf(rec.task.timezone, sizeof(rec.task.timezone), "Europe/Berlin");
	snprintf(rec.task.concurrency_policy, sizeof(rec.task.concurrency_policy),
	    "replace");
	rec.task.starting_deadline_s = 60;
	assert_int_equal(agent_journal_record_save(a, &rec, "cmd", 3, &err), 0);
	assert_int_equal(agent_journal_records(a, keep_record, &got), 0);
	assert_non_null(got);
	assert_int_equal(got->task_set, 1);
	assert_string_equal(got->task.schedule, "*/5 * * * *");
	assert_string_equal(got->task.timezone, "Europe/Berlin");
	assert_string_equal(got->task.concurrency_policy, "replace");
	assert_int_equal(got->task.starting_deadline_s, 60);
	assert_int_equal(got->task.active_deadline_s, 3600);
	free(got);
	buf = agent_journal_record_command(a, "c1", "development", &len);
	assert_non_null(buf);
	assert_memory_equal(buf, "cmd", 3);
	free(buf);

	agent_journal_free(a);   /* the lock goes with it */
	assert_int_equal(agent_journal_lock(b, 0, &err), 0);
	agent_journal_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending_replay_order_and_done,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_round_trip, setup,
		    teardown),
		cmocka_unit_test(test_spec_from_apply),
		cmocka_unit_test_setup_teardown(test_files_and_lock, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
