/*
 * agent_commands.c: slipway.dataplane.<dp>.commands. ApplyDeployment,
 * RemoveComponent and SetSchedule are jobs of their component's slot;
 * RunTask starts an execution (agent_exec.c); anything else goes to the
 * dead-letter topic with the reason.
 *
 * Nothing here blocks on the work a command asks for. The handler checks
 * the command, writes it to the journal (fsync'd) and queues it on its
 * component's slot (agent_slots.c), then returns: the offset is committed at
 * once, so a long pull never holds the partition past max.poll.interval.ms,
 * and the journal, not the offset, is what keeps an accepted command from
 * being lost. A command redelivered while its deployment is queued or
 * running is not queued twice; one for a deployment that already serves or
 * finished re-reports its state (agent_cutover.c).
 *
 * A RunTask is journaled the same way, then recorded as its execution
 * (fsync'd, agent_execs_submit): from then on that record, not the journal,
 * keeps it, so its journal entry goes at once. An execution id recorded
 * already (a redelivery, a replay after a crash) is never run again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* The slot a command belongs to and the deployment it names. */
struct cmd_target {
	enum agent_job_kind kind;
	const char *component_id;
	const char *environment;
	const char *deployment_id;
};

/*
 * SetSchedule: a job of its slot, so it runs after the apply queued before
 * it. Not keyed by its deployment: an apply of that very deployment still
 * queued must not make it look like a duplicate.
 */
static int
cmd_schedule_target(const Envelope *env, struct cmd_target *t,
    struct error *reason)
{
	const Slipway__V1__SetSchedule *ss = env->set_schedule;
	struct workload_task task;

	if (ss == NULL || !agent_spec_name_valid(ss->component_id) ||
	    !agent_spec_name_valid(ss->environment) ||
	    !agent_spec_name_valid(ss->deployment_id)) {
		error_set(reason, "invalid_command", "", "SetSchedule with an "
		    "invalid component id, environment or deployment id");
		return -1;
	}
	if (workload_task_from_proto(ss->task, &task, reason) == -1)
		return -1;
	*t = (struct cmd_target){ JOB_SCHEDULE, ss->component_id,
	    ss->environment, "" };
	return 0;
}

/*
 * A manual run gets the variables of the deployment it runs from (the
 * environment's configuration), under its own: read from the slot's
 * record, which names that deployment once it is ready.
 */
static void
cmd_run_env(struct agent_ctx *ag, struct agent_exec *x)
{
	struct agent_spec s;
	struct error err;
	Envelope *env;
	size_t len;
	void *cmd = agent_journal_record_command(ag->journal, x->component_id,
	    x->environment, &len);

	if (cmd == NULL)
		return;
	if ((env = envelope_decode(cmd, len, NULL, &err)) != NULL &&
	    agent_spec_from_apply(env, &s, &err) == 0) {
		if (strcmp(s.deployment_id, x->deployment_id) == 0 &&
		    agent_exec_add_env(x, s.env) == -1)
			log_warnx("execution %s: the deployment's variables do not "
			    "fit", x->id);
		agent_spec_clear(&s);
	}
	envelope_free(env);
	free(cmd);
}

/* Records and queues a RunTask's execution; 0 accepted or known, -1 not. */
static int
cmd_run(struct agent_ctx *ag, const Envelope *env, struct error *reason)
{
	struct agent_exec *x = agent_exec_from_runtask(env, reason);
	int rc;

	if (x == NULL)
		return -1;
	log_ctx_set("execution_id", x->id);
	cmd_run_env(ag, x);
	if ((rc = agent_execs_submit(ag->execs, x)) == 1)
		log_info("execution %s is recorded already: not run again",
		    env->run_task->execution_id);
	if (rc == -1)
		error_set(reason, "journal", "", "cannot record the execution");
	return rc == -1 ? -1 : 0;
}

/* Checks a command and says where it goes; -1 with reason when unusable. */
static int
cmd_target_of(const Envelope *env, struct cmd_target *t, struct error *reason)
{
	struct agent_spec s;

	switch (env->payload_case) {
	case SLIPWAY__V1__ENVELOPE__PAYLOAD_APPLY_DEPLOYMENT:
		if (agent_spec_from_apply(env, &s, reason) == -1)
			return -1;
		agent_spec_clear(&s);
		*t = (struct cmd_target){ JOB_APPLY,
		    env->apply_deployment->component_id,
		    env->apply_deployment->environment,
		    env->apply_deployment->deployment_id };
		return 0;
	case SLIPWAY__V1__ENVELOPE__PAYLOAD_REMOVE_COMPONENT:
		if (env->remove_component == NULL ||
		    !agent_spec_name_valid(env->remove_component->component_id) ||
		    !agent_spec_name_valid(env->remove_component->environment)) {
			error_set(reason, "invalid_command", "", "RemoveComponent with "
			    "an invalid component id or environment");
			return -1;
		}
		*t = (struct cmd_target){ JOB_REMOVE,
		    env->remove_component->component_id,
		    env->remove_component->environment, "" };
		return 0;
	case SLIPWAY__V1__ENVELOPE__PAYLOAD_SET_SCHEDULE:
		return cmd_schedule_target(env, t, reason);
	default:
		error_set(reason, "invalid_command", "", "%s is not supported by "
		    "this agent", env->type);
		return -1;
	}
}

int
agent_commands_queue(struct agent_ctx *ag, const Envelope *env,
    const void *buf, size_t len, const char *name)
{
	struct cmd_target t;
	struct error err;

	if (env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK) {
		if (cmd_run(ag, env, &err) == -1)
			return -1;
		agent_journal_done(ag->journal, name);
		return 0;
	}
	if (cmd_target_of(env, &t, &err) == -1)
		return -1;
	return agent_slots_submit(ag->slots, t.kind, t.component_id,
	    t.environment, t.deployment_id, buf, len, name) == -1 ? -1 : 0;
}

/*
 * A RunTask: journaled, then recorded as its execution, then the journal
 * entry goes (the record keeps it from here on).
 */
static enum bus_result
cmd_accept_run(struct agent_ctx *ag, const struct bus_message *m,
    const Envelope *env, struct error *reason)
{
	struct agent_exec *x;
	struct error err;
	const void *val;
	char name[128];
	size_t len;

	if ((x = agent_exec_from_runtask(env, reason)) == NULL)
		return BUS_REJECT;
	agent_exec_free(x);   /* checked; cmd_run decodes it again */
	val = bus_message_value(m, &len);
	if (agent_journal_add(ag->journal, val, len, env->run_task->execution_id,
	    name, sizeof(name), &err) == -1) {
		log_warnx("%s", err.msg);
		return BUS_RETRY;
	}
	if (cmd_run(ag, env, &err) == -1) {
		log_warnx("%s", err.msg);
		return BUS_RETRY;   /* stays journaled: replayed at the next start */
	}
	agent_journal_done(ag->journal, name);
	return BUS_DONE;
}

/* Journals and queues one command. */
static enum bus_result
cmd_accept(struct agent_ctx *ag, const struct bus_message *m,
    const Envelope *env, struct error *reason)
{
	struct cmd_target t;
	struct error err;
	const void *val;
	char name[128];
	size_t len;
	int rc;

	if (cmd_target_of(env, &t, reason) == -1)
		return BUS_REJECT;
	if (t.deployment_id[0])
		log_ctx_set("deployment_id", t.deployment_id);
	val = bus_message_value(m, &len);
	if (agent_journal_add(ag->journal, val, len, t.deployment_id[0] ?
	    t.deployment_id : t.component_id, name, sizeof(name), &err) == -1) {
		log_warnx("%s", err.msg);
		return BUS_RETRY;
	}
	rc = agent_slots_submit(ag->slots, t.kind, t.component_id,
	    t.environment, t.deployment_id, val, len, name);
	if (rc != 0) {
		/* Already queued (a redelivery), or no memory: not twice. */
		agent_journal_done(ag->journal, name);
		if (rc == -1)
			return BUS_RETRY;
		log_info("deployment %s is already queued or running",
		    t.deployment_id);
	} else {
		log_info("queued %s for %s in %s", env->type, t.component_id,
		    t.environment);
	}
	return BUS_DONE;
}

enum bus_result
agent_commands_handle(const struct bus_message *m, void *arg,
    struct error *reason)
{
	struct agent_ctx *ag = arg;
	enum bus_result r;
	const void *val;
	size_t len = 0;
	Envelope *env;

	if ((val = bus_message_value(m, &len)) == NULL)
		return BUS_DONE;     /* tombstones mean nothing on this topic */
	env = envelope_decode(val, len, bus_message_header(m, "event-type"),
	    reason);
	if (env == NULL)
		return BUS_REJECT;
	log_ctx_set("event_id", env->event_id);
	r = env->payload_case == SLIPWAY__V1__ENVELOPE__PAYLOAD_RUN_TASK ?
	    cmd_accept_run(ag, m, env, reason) : cmd_accept(ag, m, env, reason);
	envelope_free(env);
	log_ctx_clear();
	return r;
}
