/*
 * agent_runtime.c: the runtimes an agent can run components on, one row
 * each. The rest of the agent (consumers, journal, slots, reports) is the
 * same for all of them; a runtime only says how a slot's job is carried
 * out, what it adopts at start and whether it answers.
 *
 *   podman      the Docker Engine API socket (agent_cutover.c)
 *   kubernetes  an API server, with server-side apply (agent_kube.c)
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* The engine answers (engine_ping waits at most 2 s). */
static int
runtime_engine_ping(struct agent_ctx *ag)
{
	return engine_ping(ag->engine);
}

static int
runtime_container_running(const struct engine_summary *c, size_t n,
    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return c[i].running;
	return 0;
}

/* A serving container that is not running (exited or gone) needs a restart. */
static int
runtime_engine_look(struct agent_ctx *ag, struct agent_watch_item *v,
    size_t n)
{
	struct engine_summary *c;
	struct error err;
	size_t nc;

	if (engine_list(ag->engine, &c, &nc, &err) == -1) {
		log_warnx("watch: %s", err.msg);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v[i].act = !runtime_container_running(c, nc, v[i].container);
	free(c);
	return 0;
}

static const struct agent_runtime runtimes[] = {
	{ .name = "podman", .job = agent_cutover_job,
	  .adopt = agent_reconcile_engine, .ping = runtime_engine_ping,
	  .look = runtime_engine_look, .exec = &agent_exec_engine_ops,
	  .schedules = 1 },
	{ .name = "kubernetes", .job = agent_kube_job,
	  .adopt = agent_kube_adopt, .ping = agent_kube_ping,
	  .look = agent_kube_look, .exec = &agent_kube_exec_ops,
	  .schedules = 0 },
};

const struct agent_runtime *
agent_runtime_find(const char *name)
{
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strcmp(runtimes[i].name, name) == 0)
			return &runtimes[i];
	return NULL;
}

const struct agent_runtime *
agent_runtime_of(const struct agent_ctx *ag)
{
	return ag->runtime != NULL ? ag->runtime : &runtimes[0];
}
