/*
 * deploy_state.c: the deployment lifecycle as an explicit state machine.
 *
 *   pending -> resolving -> pulling -> starting -> running -> superseded
 *        \__________\___________\__________\--> failed
 *
 *   running <-> crashed (a cycle), crashed -> superseded
 *
 *   pending -> resolving -> pulling -> starting -> ready -> superseded
 *
 * ready is where a task's deployment ends up instead of running: its image
 * is pulled and its digest pinned for the task's executions, and no
 * container keeps running. It is reached along the same chain (with the
 * same forward skips) and left only by being superseded, by the next ready
 * (or running) deployment of the component and environment.
 *
 * Forward skips along the chain are allowed (an agent may report running
 * without ever reporting pulling). failed and superseded are terminal.
 *
 * Reports travel through Kafka and can arrive twice or late. A report is
 * IGNORED when its state lies on some path from pending to the current
 * state: it is then a duplicate or a stale message that the machine has
 * already gone past. Any other move that is not ALLOWED is ILLEGAL: no
 * ordering of honest reports explains it (running -> failed, failed ->
 * running, starting -> superseded, crashed -> failed...).
 *
 * running <-> crashed is a cycle: a running container that exits is
 * reported crashed, restarted, and reported running again once healthy,
 * any number of times. "Already gone past" cannot order a cycle, so its
 * two moves are decided by the agent's clock instead: the caller says
 * whether the report was observed after the last applied one (newer), and
 * a cycle move is ALLOWED when it was, IGNORED (stale) when not. Everything
 * else ignores the clock, as before.
 */
#include <string.h>

#include "deploy.h"

#define BIT(s) (1u << (s))
#define CHAIN_BEFORE_RUNNING \
	(BIT(DEPLOY_PENDING) | BIT(DEPLOY_RESOLVING) | BIT(DEPLOY_PULLING) | \
	 BIT(DEPLOY_STARTING))

struct deploy_state_entry {
	const char *name;
	int proto;              /* DeploymentState value in deploy.proto */
	unsigned allowed;       /* states this one may move to */
	unsigned cycle;         /* states it may move to only on a newer report */
	unsigned passed;        /* states on some path to this one, itself included */
};

static const struct deploy_state_entry deploy_states[DEPLOY_STATUS_COUNT] = {
	[DEPLOY_PENDING] = {
		.name = "pending", .proto = 1,
		.allowed = BIT(DEPLOY_RESOLVING) | BIT(DEPLOY_PULLING) |
		    BIT(DEPLOY_STARTING) | BIT(DEPLOY_RUNNING) | BIT(DEPLOY_FAILED) |
		    BIT(DEPLOY_READY),
		.passed = BIT(DEPLOY_PENDING),
	},
	[DEPLOY_RESOLVING] = {
		.name = "resolving", .proto = 2,
		.allowed = BIT(DEPLOY_PULLING) | BIT(DEPLOY_STARTING) |
		    BIT(DEPLOY_RUNNING) | BIT(DEPLOY_FAILED) | BIT(DEPLOY_READY),
		.passed = BIT(DEPLOY_PENDING) | BIT(DEPLOY_RESOLVING),
	},
	[DEPLOY_PULLING] = {
		.name = "pulling", .proto = 3,
		.allowed = BIT(DEPLOY_STARTING) | BIT(DEPLOY_RUNNING) |
		    BIT(DEPLOY_FAILED) | BIT(DEPLOY_READY),
		.passed = BIT(DEPLOY_PENDING) | BIT(DEPLOY_RESOLVING) |
		    BIT(DEPLOY_PULLING),
	},
	[DEPLOY_STARTING] = {
		.name = "starting", .proto = 4,
		.allowed = BIT(DEPLOY_RUNNING) | BIT(DEPLOY_FAILED) |
		    BIT(DEPLOY_READY),
		.passed = CHAIN_BEFORE_RUNNING,
	},
	[DEPLOY_RUNNING] = {
		.name = "running", .proto = 5,
		.allowed = BIT(DEPLOY_SUPERSEDED),
		.cycle = BIT(DEPLOY_CRASHED),
		.passed = CHAIN_BEFORE_RUNNING | BIT(DEPLOY_RUNNING),
	},
	[DEPLOY_FAILED] = {
		.name = "failed", .proto = 6,
		.allowed = 0,
		.passed = CHAIN_BEFORE_RUNNING | BIT(DEPLOY_FAILED),
	},
	[DEPLOY_SUPERSEDED] = {
		.name = "superseded", .proto = 7,
		.allowed = 0,
		.passed = CHAIN_BEFORE_RUNNING | BIT(DEPLOY_RUNNING) |
		    BIT(DEPLOY_CRASHED) | BIT(DEPLOY_READY) | BIT(DEPLOY_SUPERSEDED),
	},
	/* A newer version reaching running supersedes a crashed one too. */
	[DEPLOY_CRASHED] = {
		.name = "crashed", .proto = 8,
		.allowed = BIT(DEPLOY_SUPERSEDED),
		.cycle = BIT(DEPLOY_RUNNING),
		.passed = CHAIN_BEFORE_RUNNING | BIT(DEPLOY_CRASHED),
	},
	/* A task's: no cycle, nothing to crash; superseded by the next one. */
	[DEPLOY_READY] = {
		.name = "ready", .proto = 9,
		.allowed = BIT(DEPLOY_SUPERSEDED),
		.passed = CHAIN_BEFORE_RUNNING | BIT(DEPLOY_READY),
	},
};

static int
deploy_state_valid(enum deploy_status s)
{
	return (int)s >= 0 && s < DEPLOY_STATUS_COUNT;
}

/* The status as stored in deploy.deployments.status and shown by the API. */
const char *
deploy_state_name(enum deploy_status s)
{
	return deploy_state_valid(s) ? deploy_states[s].name : "unknown";
}

int
deploy_state_parse(const char *name, enum deploy_status *out)
{
	for (int i = 0; i < DEPLOY_STATUS_COUNT; i++) {
		if (name != NULL && strcmp(name, deploy_states[i].name) == 0) {
			*out = (enum deploy_status)i;
			return 0;
		}
	}
	return -1;
}

/* Maps the proto's DeploymentState; UNSPECIFIED and unknown values fail. */
int
deploy_state_from_proto(int proto_state, enum deploy_status *out)
{
	for (int i = 0; i < DEPLOY_STATUS_COUNT; i++) {
		if (deploy_states[i].proto == proto_state) {
			*out = (enum deploy_status)i;
			return 0;
		}
	}
	return -1;
}

int
deploy_state_to_proto(enum deploy_status s)
{
	return deploy_state_valid(s) ? deploy_states[s].proto : 0;
}

int
deploy_state_terminal(enum deploy_status s)
{
	return deploy_state_valid(s) && deploy_states[s].allowed == 0 &&
	    deploy_states[s].cycle == 0;
}

/* Decides what a report of `to` does to a deployment that is `from`. */
enum deploy_move
deploy_state_transition(enum deploy_status from, enum deploy_status to,
    int newer)
{
	if (!deploy_state_valid(from) || !deploy_state_valid(to))
		return DEPLOY_MOVE_ILLEGAL;
	/* Before passed: crashed -> running is both "passed" and a cycle move. */
	if (deploy_states[from].cycle & BIT(to))
		return newer ? DEPLOY_MOVE_ALLOWED : DEPLOY_MOVE_IGNORED;
	if (deploy_states[from].passed & BIT(to))
		return DEPLOY_MOVE_IGNORED;
	if (deploy_states[from].allowed & BIT(to))
		return DEPLOY_MOVE_ALLOWED;
	return DEPLOY_MOVE_ILLEGAL;
}
