/*
 * agent_reconcile.c: the agent's start. What the records say serves is
 * compared with what the engine runs (by Slipway's labels, nothing else is
 * touched) and with what the gateway routes:
 *
 *   - a container a record names as serving is kept (the watcher restarts
 *     it if it is not running);
 *   - a container labelled with another data plane (slipway.dataplane)
 *     belongs to that data plane's agent, which may share the engine;
 *   - a task's execution container (labelled slipway.execution) belongs
 *     to its execution record: agent_execs_recover adopts it;
 *   - a ready task has no container; its schedule is handed to the
 *     scheduler;
 *   - any other Slipway container is a leftover of a cutover the agent did
 *     not finish (it crashed before the commit point) or of a removed
 *     component: it is removed, and the journaled command, if any, runs
 *     again from the start;
 *   - the gateway is rebuilt from the serving containers in one load
 *     (agent_reconcile_gateway, run by the watcher until HAProxy takes it:
 *     no apply runs before, or it would reload HAProxy with its own
 *     component alone).
 *
 * HAProxy keeps routing while the agent is down, so a crash of the agent
 * interrupts nothing that was serving.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "gateway.h"

struct reconcile {
	struct agent_ctx *ag;
	struct gateway_target *targets;
	size_t ntargets, cap;
};

/* One record: the slot with its serving spec (not yet its container). */
static void
reconcile_record(void *arg, const struct agent_record *rec, const void *cmd,
    size_t cmdlen)
{
	struct agent_ctx *ag = arg;
	struct agent_slot *sl = agent_slots_get(ag->slots, rec->component_id,
	    rec->environment);

	if (sl == NULL)
		return;
	sl->rec = *rec;
	if (rec->serving[0] == '\0')
		return;
	if (cmd == NULL || (sl->serving_cmd = malloc(cmdlen)) == NULL) {
		log_warnx("record of %s in %s has no command: nothing serves there",
		    rec->component_id, rec->environment);
		sl->rec.serving[0] = '\0';
		return;
	}
	memcpy(sl->serving_cmd, cmd, cmdlen);
	sl->serving_len = cmdlen;
	if (agent_cutover_load_serving(sl) == -1 ||
	    agent_spec_container_name(&sl->serving, sl->container,
	    sizeof(sl->container)) == -1) {
		log_warnx("serving command of %s in %s unusable", rec->component_id,
		    rec->environment);
		sl->rec.serving[0] = '\0';
		sl->container[0] = '\0';
		return;
	}
	if (agent_spec_is_task(&sl->serving)) {
		sl->container[0] = '\0';
		/* On Kubernetes the task's CronJob does the scheduling. */
		if (agent_runtime_of(ag)->schedules)
			agent_sched_serve(ag->sched, &sl->serving,
			    sl->rec.digest, agent_cutover_task(sl));
	}
}

/* Keeps the serving containers (reading their ports), removes the rest. */
int
agent_reconcile_engine(struct agent_ctx *ag, struct error *err)
{
	struct engine_summary *v;
	struct engine_state st;
	size_t n;

	if (engine_list(ag->engine, &v, &n, err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct agent_slot *sl;
		if (v[i].execution[0] != '\0')
			continue;   /* an execution's: its record decides */
		if (v[i].dataplane[0] != '\0' &&
		    strcmp(v[i].dataplane, ag->dataplane) != 0)
			continue;   /* another data plane's agent shares the engine */
		sl = agent_slots_get(ag->slots, v[i].component, v[i].environment);
		if (sl != NULL && sl->container[0] != '\0' &&
		    strcmp(sl->container, v[i].name) == 0) {
			if (engine_inspect(ag->engine, v[i].name, &st, err) == 0) {
				memcpy(sl->ports, st.ports, sizeof(st.ports));
				sl->nports = st.nports;
			}
			log_info("container %s serves %s in %s%s", v[i].name,
			    v[i].component, v[i].environment, v[i].running ? "" :
			    " (not running: restarting it)");
			continue;
		}
		log_info("removing container %s: no record says it serves",
		    v[i].name);
		if (engine_remove(ag->engine, v[i].name, err) == -1)
			log_warnx("%s", err->msg);
	}
	free(v);
	return 0;
}

/* One serving slot as a gateway target (under the slots lock). */
static void
reconcile_target(void *arg, struct agent_slot *sl)
{
	struct reconcile *r = arg;
	struct gateway_target *t, *nt;

	if (sl->rec.serving[0] == '\0' || sl->nports == 0 ||
	    !gateway_has_environment(r->ag->gateway, sl->environment))
		return;
	if (r->ntargets == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		if ((nt = realloc(r->targets, ncap * sizeof(*nt))) == NULL)
			return;
		r->targets = nt;
		r->cap = ncap;
	}
	t = &r->targets[r->ntargets++];
	agent_cutover_target(&sl->serving, sl->ports, sl->nports, t);
}

static int
reconcile_gateway(struct agent_ctx *ag, struct error *err)
{
	struct reconcile r = { ag, NULL, 0, 0 };
	int rc;

	if (ag->gateway == NULL)
		return 0;
	agent_slots_each(ag->slots, reconcile_target, &r);
	rc = gateway_load(ag->gateway, r.targets, r.ntargets, err);
	if (rc == 0)
		log_info("gateway loaded with %zu route(s)", r.ntargets);
	free(r.targets);
	return rc;
}

/* One pending command: queued again, in the order it was accepted. */
static void
reconcile_pending(void *arg, const char *name, const void *buf, size_t len)
{
	struct agent_ctx *ag = arg;
	struct error err;
	Envelope *env = envelope_decode(buf, len, NULL, &err);

	if (env == NULL) {
		log_warnx("journal: %s unreadable (%s): dropped", name, err.msg);
		agent_journal_done(ag->journal, name);
		return;
	}
	if (agent_commands_queue(ag, env, buf, len, name) == -1) {
		log_warnx("journal: %s cannot be queued: dropped", name);
		agent_journal_done(ag->journal, name);
	}
	envelope_free(env);
}

int
agent_reconcile(struct agent_ctx *ag, struct error *err)
{
	/* The executions first: their records alone decide, engine or not. */
	if (agent_execs_recover(ag->execs, err) == -1 ||
	    agent_journal_records(ag->journal, reconcile_record, ag) == -1 ||
	    agent_runtime_of(ag)->adopt(ag, err) == -1)
		return -1;
	return agent_journal_replay(ag->journal, reconcile_pending, ag);
}

int
agent_reconcile_gateway(struct agent_ctx *ag, struct error *err)
{
	return reconcile_gateway(ag, err);
}
