/*
 * agent_exec_engine.c: executions as containers of the engine (the podman
 * runtime's exec ops, see agent_execs.c). One container per execution,
 * named from its id and labelled with it: the engine's own record of what
 * ran, so a restarted agent adopts a container rather than creating a
 * second one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define EXEC_ENGINE_STOP_S 5      /* SIGTERM -> SIGKILL for a stopped run */

/* Pulls x's pinned image when the engine lacks it (as services do). */
static int
exec_engine_pull(struct agent_ctx *ag, const struct agent_exec *x,
    const char *image, const struct image_ref *ref, struct error *err)
{
	struct agent_cred cr;
	int have, rc;

	if (engine_image_present(ag->engine, image))
		return 0;
	have = agent_cutover_cred(ag, x->registry_id, ref->domain, &cr) == 0;
	rc = engine_pull(ag->engine, image, have ? cr.username : NULL,
	    have ? cr.password : NULL, ref->domain, err);
	if (have)
		agent_cred_wipe(&cr);
	return rc;
}

/* Creates x's container: a service's isolation and limits, no ports. */
static int
exec_engine_create(struct agent_ctx *ag, const struct agent_exec *x,
    const char *name, const char *image, struct error *err)
{
	char sched[32];
	const char *labels[] = { "slipway.managed", "true", "slipway.component",
	    x->component_id, "slipway.environment", x->environment,
	    "slipway.deployment", x->deployment_id, "slipway.execution", x->id,
	    "slipway.trigger", x->trigger, "slipway.scheduled_for", sched,
	    "slipway.digest", x->digest, "slipway.dataplane",
	    ag->dataplane, NULL };
	struct engine_container ec = { name, image,
	    (const char *const *)x->env, labels, ag->network, NULL, 0, 0, 0,
	    0, 0, (const char *const *)x->args };

	snprintf(sched, sizeof(sched), "%lld", x->scheduled_for_ms);
	agent_cutover_limits(ag, &x->res, &ec);
	return engine_create(ag->engine, &ec, err);
}

/*
 * Gets x's container running: adopts one that exists (a restart after a
 * crash between create and the running record), else pulls and creates.
 * 1 when the container had exited already (it ran: the watcher reads it).
 */
static int
exec_engine_launch(struct agent_ctx *ag, const struct agent_exec *x,
    struct error *err)
{
	struct engine *e = ag->engine;
	char name[AGENT_NAME_MAX], image[700];
	struct engine_state st;
	struct image_ref ref;

	if (agent_exec_container_name(x, name, sizeof(name)) == -1) {
		error_set(err, "start_failed", "", "start_failed: invalid names");
		return -1;
	}
	if (engine_inspect(e, name, &st, err) == -1)
		return -1;
	if (st.exists && st.running)
		return 0;
	if (st.exists && !st.created)
		return 1;
	if (!st.exists) {
		if (image_ref_parse(x->image, &ref, err) == -1)
			return -1;
		snprintf(image, sizeof(image), "%s/%s@%s", ref.domain, ref.path,
		    x->digest);
		if (exec_engine_pull(ag, x, image, &ref, err) == -1 ||
		    exec_engine_create(ag, x, name, image, err) == -1)
			return -1;
	}
	return engine_start(e, name, err);
}

/* The exit, as a final state and reason. */
static enum agent_exec_state
exec_engine_outcome(const struct engine_state *st, char *reason, size_t len)
{
	if (st->exit_code == 0) {
		reason[0] = '\0';
		return EXEC_SUCCEEDED;
	}
	snprintf(reason, len, "exited with code %d%s", st->exit_code,
	    st->oom_killed ? " (out of memory)" : "");
	return EXEC_FAILED;
}

static int
exec_engine_inspect(struct agent_ctx *ag, const struct agent_exec *x,
    struct agent_exec_seen *seen, struct error *err)
{
	char name[AGENT_NAME_MAX];
	struct engine_state st;
	struct error lerr;

	memset(seen, 0, sizeof(*seen));
	if (agent_exec_container_name(x, name, sizeof(name)) == -1 ||
	    engine_inspect(ag->engine, name, &st, err) == -1)
		return -1;
	seen->exists = st.exists;
	seen->running = st.running;
	if (!st.exists || st.running)
		return 0;
	seen->exited = 1;
	seen->exit_code = st.exit_code;
	seen->outcome = exec_engine_outcome(&st, seen->reason,
	    sizeof(seen->reason));
	engine_logs_tail(ag->engine, name, AGENT_EXEC_LOG_LINES, seen->log_tail,
	    sizeof(seen->log_tail), &lerr);
	return 0;
}

static void
exec_engine_stop(struct agent_ctx *ag, const struct agent_exec *x)
{
	char name[AGENT_NAME_MAX];

	if (agent_exec_container_name(x, name, sizeof(name)) == 0)
		engine_stop(ag->engine, name, EXEC_ENGINE_STOP_S);
}

static int
exec_engine_remove(struct agent_ctx *ag, const struct agent_exec *x,
    struct error *err)
{
	char name[AGENT_NAME_MAX];

	if (agent_exec_container_name(x, name, sizeof(name)) == -1)
		return 0;
	return engine_remove(ag->engine, name, err);
}

/*
 * Removes execution containers no unfinished execution owns: leftovers of
 * a finished one whose removal failed, or of a record that is gone. An
 * execution is in the list from before its container is created until
 * after it was removed, so a live one is never taken.
 */
static int
exec_engine_sweep(struct agent_ctx *ag, struct agent_execs *xs)
{
	struct engine_summary *c;
	struct error err;
	size_t n;

	if (engine_list(ag->engine, &c, &n, &err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* Another data plane's agent may share the engine. */
		if (!agent_execs_owns(&c[i]) ||
		    strcmp(c[i].dataplane, ag->dataplane) != 0 ||
		    agent_execs_known(xs, c[i].execution))
			continue;
		log_info("removing container %s: its execution is finished",
		    c[i].name);
		if (engine_remove(ag->engine, c[i].name, &err) == -1)
			log_warnx("%s", err.msg);
	}
	free(c);
	return 0;
}

const struct agent_exec_ops agent_exec_engine_ops = {
	.launch = exec_engine_launch, .inspect = exec_engine_inspect,
	.stop = exec_engine_stop, .remove = exec_engine_remove,
	.sweep = exec_engine_sweep, .sweep_every = 240,
};
