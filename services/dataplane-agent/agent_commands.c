/*
 * agent_commands.c: slipway.dataplane.<dp>.commands. ApplyDeployment and
 * RemoveComponent are carried out; anything else (RunTask: tasks have no
 * runtime here yet) goes to the dead-letter topic with the reason.
 *
 * Nothing here blocks on the work a command asks for. The handler checks
 * the command, writes it to the journal (fsync'd) and queues it on its
 * component's slot (agent_slots.c), then returns: the offset is committed at
 * once, so a long pull never holds the partition past max.poll.interval.ms,
 * and the journal, not the offset, is what keeps an accepted command from
 * being lost. A command redelivered while its deployment is queued or
 * running is not queued twice; one for a deployment that already serves or
 * finished re-reports its state (agent_cutover.c).
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* The slot a command belongs to and the deployment it names. */
struct cmd_target {
	enum agent_job_kind kind;
	const char *component_id;
	const char *environment;
	const char *deployment_id;
};

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

	if (cmd_target_of(env, &t, &err) == -1)
		return -1;
	return agent_slots_submit(ag->slots, t.kind, t.component_id,
	    t.environment, t.deployment_id, buf, len, name) == -1 ? -1 : 0;
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
	r = cmd_accept(ag, m, env, reason);
	envelope_free(env);
	log_ctx_clear();
	return r;
}
