/*
 * agent_runtime.c: the runtimes an agent can run components on, one row
 * each. The rest of the agent (consumers, journal, slots, reports) is the
 * same for all of them; a runtime only says how a slot's job is carried
 * out, what it adopts at start and whether it answers.
 *
 *   podman      the Docker Engine API socket (agent_cutover.c)
 *   kubernetes  an API server, with server-side apply (agent_kube.c)
 */
#include <string.h>

#include "agent.h"

/* The engine answers (engine_ping waits at most 2 s). */
static int
runtime_engine_ping(struct agent_ctx *ag)
{
	return engine_ping(ag->engine);
}

static const struct agent_runtime runtimes[] = {
	{ .name = "podman", .job = agent_cutover_job,
	  .adopt = agent_reconcile_engine, .ping = runtime_engine_ping },
	{ .name = "kubernetes", .job = agent_kube_job,
	  .adopt = agent_kube_adopt, .ping = agent_kube_ping },
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
